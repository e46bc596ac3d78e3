import Foundation
import JWTKit

/// Service-to-service authentication. Each caller signs a one-minute token
/// with the deployment secret naming itself; the secret never crosses the
/// wire and the callee learns who is calling. HS256 lives in its own key
/// collection so an assertion can never be passed off as a service token.
public actor ServiceTokens {
    public struct Claims: JWTPayload {
        public var iss: IssuerClaim
        public var aud: AudienceClaim
        public var exp: ExpirationClaim
        public var iat: IssuedAtClaim

        public func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            try aud.verifyIntendedAudience(includes: ServiceTokens.audience)
        }
    }

    public static let audience = "knot-services"
    /// The services allowed to call internal endpoints.
    public static let knownServices: Set<String> = ["identity", "users", "launcher", "files", "edge"]

    private let keys = JWTKeyCollection()
    private let service: String
    private var cached: (token: String, renewAt: Date)?
    private let lifetime: TimeInterval = 60

    public init(secret: String, service: String) async {
        self.service = service
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    }

    /// A token naming this service, reused until half its life has passed.
    public func token(now: Date = Date()) async throws -> String {
        if let cached, cached.renewAt > now { return cached.token }
        let claims = Claims(
            iss: IssuerClaim(value: service), aud: AudienceClaim(value: [Self.audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(lifetime)), iat: IssuedAtClaim(value: now))
        let token = try await keys.sign(claims)
        cached = (token, now.addingTimeInterval(lifetime / 2))
        return token
    }

    /// The calling service's name, or an error if the token is not genuine.
    public func verify(_ token: String) async throws -> String {
        let claims = try await keys.verify(token, as: Claims.self)
        guard Self.knownServices.contains(claims.iss.value) else {
            throw JWTError.claimVerificationFailure(failedClaim: claims.iss, reason: "unknown service")
        }
        return claims.iss.value
    }
}
