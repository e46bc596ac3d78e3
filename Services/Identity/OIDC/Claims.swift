import Crypto
import Foundation
import JWTKit
import KnotAuth
import KnotConfig
import KnotModels

/// The scopes the provider knows and what each lets a client read.
enum Scope {
    static let all = ["openid", "profile", "email", "groups", "knot", "offline_access"]

    /// Splits a space-separated scope string, refusing unknown or repeated entries.
    static func parse(_ text: String?) -> [String]? {
        guard let text else { return [] }
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.allSatisfy(all.contains), Set(parts).count == parts.count else { return nil }
        return parts
    }
}

/// What the provider says about a person, chosen by scope.
struct UserClaims: Codable, Sendable, Equatable {
    var preferredUsername: String?
    var name: String?
    var email: String?
    var emailVerified: Bool?
    var groups: [String]?
    var knotUsername: String?
    var knotNamespace: String?
    var knotPrivateDir: String?
    var knotSharedDir: String?
    var knotIngressURL: String?

    enum CodingKeys: String, CodingKey {
        case name, email, groups
        case preferredUsername = "preferred_username"
        case emailVerified = "email_verified"
        case knotUsername = "knot_username"
        case knotNamespace = "knot_namespace"
        case knotPrivateDir = "knot_private_dir"
        case knotSharedDir = "knot_shared_dir"
        case knotIngressURL = "knot_ingress_url"
    }

    static let knotNames = ["knot_username", "knot_namespace", "knot_private_dir", "knot_shared_dir", "knot_ingress_url"]

    init(user: UserRecord, teams: [String] = [], scopes: Set<String>, includeKnot: Bool, settings: KnotSettings) {
        if scopes.contains("profile") {
            preferredUsername = user.username
            name = user.fullName.isEmpty ? user.username : user.fullName
        }
        if scopes.contains("email") {
            email = user.email
            // Knot does not verify addresses by mail; only an upstream provider's word counts (none yet).
            emailVerified = false
        }
        if scopes.contains("groups") { groups = (user.admin ? ["admin"] : []) + teams }
        if includeKnot {
            knotUsername = user.username
            knotNamespace = user.namespace
            knotPrivateDir = settings.privateDirectory(of: user.username)
            knotSharedDir = settings.sharedDirectory
            knotIngressURL = settings.publicURL
        }
    }
}

/// An access token (RFC 9068 profile): what userinfo and introspection read back.
struct AccessTokenClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    var clientID: String
    var scope: String
    var authTime: Int?
    /// The token family: revoking it revokes this token.
    var fid: String
    var sid: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, jti, scope, fid, sid
        case clientID = "client_id"
        case authTime = "auth_time"
    }

    /// Checked against the issuer by the caller; here only what every token needs.
    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }

    var scopes: Set<String> { Set(scope.split(separator: " ").map(String.init)) }
    var familyID: UUID? { UUID(uuidString: fid) }
}

/// An ID token: always signed, never read back except as an `id_token_hint`.
struct IDTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var azp: String
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var authTime: Int
    var nonce: String?
    var atHash: String?
    var sid: String?
    var user: UserClaims?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, azp, exp, iat, nonce, sid
        case authTime = "auth_time"
        case atHash = "at_hash"
    }

    init(
        iss: String, sub: String, aud: String, exp: Date, iat: Date, authTime: Date, nonce: String?, atHash: String?,
        sid: String?, user: UserClaims?
    ) {
        self.iss = IssuerClaim(value: iss)
        self.sub = SubjectClaim(value: sub)
        self.aud = AudienceClaim(value: [aud])
        self.azp = aud
        self.exp = ExpirationClaim(value: exp)
        self.iat = IssuedAtClaim(value: iat)
        self.authTime = Int(authTime.timeIntervalSince1970)
        self.nonce = nonce
        self.atHash = atHash
        self.sid = sid
        self.user = user
    }

    // The user's claims sit at the top level beside the token's own.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(iss, forKey: .iss)
        try container.encode(sub, forKey: .sub)
        try container.encode(aud, forKey: .aud)
        try container.encode(azp, forKey: .azp)
        try container.encode(exp, forKey: .exp)
        try container.encode(iat, forKey: .iat)
        try container.encode(authTime, forKey: .authTime)
        try container.encodeIfPresent(nonce, forKey: .nonce)
        try container.encodeIfPresent(atHash, forKey: .atHash)
        try container.encodeIfPresent(sid, forKey: .sid)
        try user?.encode(to: encoder)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        iss = try container.decode(IssuerClaim.self, forKey: .iss)
        sub = try container.decode(SubjectClaim.self, forKey: .sub)
        aud = try container.decode(AudienceClaim.self, forKey: .aud)
        azp = try container.decodeIfPresent(String.self, forKey: .azp) ?? aud.value.first ?? ""
        exp = try container.decode(ExpirationClaim.self, forKey: .exp)
        iat = try container.decode(IssuedAtClaim.self, forKey: .iat)
        authTime = try container.decodeIfPresent(Int.self, forKey: .authTime) ?? 0
        nonce = try container.decodeIfPresent(String.self, forKey: .nonce)
        atHash = try container.decodeIfPresent(String.self, forKey: .atHash)
        sid = try container.decodeIfPresent(String.self, forKey: .sid)
        user = nil
    }

    /// Signature and issuer are what matter for a hint; an expired hint still names who logs out.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// `at_hash`: the left half of the SHA-256 of the access token (both RS256 and ES256 use SHA-256).
    static func hashHalf(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).withUnsafeBytes { Base64URL.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
    }
}
