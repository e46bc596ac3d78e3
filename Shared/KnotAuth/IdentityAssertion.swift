import Foundation
import JWTKit
import KnotModels

/// The short-lived statement, signed by identity, that the edge attaches to
/// every request it forwards: who the user is, their namespace, whether they
/// are an admin, and (when an admin impersonates) who is really acting.
public struct IdentityAssertion: JWTPayload, Equatable {
    public static let issuer = "knot-identity"
    public static let audience = "knot-internal"

    public struct Actor: Codable, Sendable, Equatable {
        public var sub: String
        public var username: String

        public init(sub: String, username: String) {
            self.sub = sub
            self.username = username
        }
    }

    public var iss: IssuerClaim
    public var aud: AudienceClaim
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var username: String
    public var namespace: String
    public var admin: Bool
    public var act: Actor?
    /// The browser session behind the request, when there is one (not for API tokens).
    public var sid: String?
    /// When a member acts as a team: their role in it (`owner`, `editor`, `viewer`).
    public var role: String?

    public init(
        user: UUID, username: String, namespace: String, admin: Bool, actor: Actor? = nil, sessionID: UUID? = nil, role: String? = nil,
        lifetime: TimeInterval, now: Date = Date()
    ) {
        sid = sessionID?.uuidString.lowercased()
        self.role = role
        iss = IssuerClaim(value: Self.issuer)
        aud = AudienceClaim(value: [Self.audience])
        sub = SubjectClaim(value: user.uuidString.lowercased())
        exp = ExpirationClaim(value: now.addingTimeInterval(lifetime))
        iat = IssuedAtClaim(value: now)
        self.username = username
        self.namespace = namespace
        self.admin = admin
        self.act = actor
    }

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, exp, iat, admin, act, sid, role
        case username = "preferred_username"
        case namespace = "knot_namespace"
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try aud.verifyIntendedAudience(includes: Self.audience)
        guard iss.value == Self.issuer else {
            throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "unexpected issuer")
        }
    }

    public var userID: UUID? { UUID(uuidString: sub.value) }
}
