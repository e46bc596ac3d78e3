import Crypto
import Foundation
import KnotAuth
import HTTPTypes
import Hummingbird
import JWTKit
import KnotInternalClient
import KnotModels
import Logging

/// The token endpoint (RFC 6749 section 3.2) and the client authentication it shares
/// with revocation and introspection.
extension OIDCProvider {
    struct TokenAnswer: Encodable {
        var access_token: String
        var token_type = "Bearer"
        var expires_in: Int
        var scope: String
        var refresh_token: String?
        var id_token: String?
    }

    /// Who is calling: `client_secret_basic`, `client_secret_post`, or a public
    /// client naming itself. Exactly one method per request.
    func authenticateClient(_ request: Request, _ form: FormParameters, allowPublic: Bool) throws -> OAuthClient {
        var basic: (id: String, secret: String)?
        if let header = request.headers[.authorization] {
            // The id and secret are form-encoded before joining (RFC 6749 2.3.1).
            guard header.utf8.count > 6, header.prefix(6).lowercased() == "basic ",
                let decoded = Data(base64Encoded: String(header.dropFirst(6).drop { $0 == " " })),
                let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":"),
                let id = FormParameters.decode(text[..<colon]),
                let secret = FormParameters.decode(text[text.index(after: colon)...])
            else {
                throw OAuthError.invalidClient("the Authorization header is not valid HTTP Basic client authentication", basic: true)
            }
            basic = (id, secret)
        }
        if basic != nil && form["client_secret"] != nil {
            throw OAuthError.invalidRequest("use one client authentication method, not two")
        }
        if let basic, let named = form["client_id"], named != basic.id {
            throw OAuthError.invalidRequest("client_id differs from the authenticated client")
        }
        let id = basic?.id ?? form["client_id"]
        let secret = basic?.secret ?? form["client_secret"]
        guard let id else { throw OAuthError.invalidClient("client authentication is required", basic: false) }
        guard let client = clients.client(id) else { throw OAuthError.invalidClient("unknown client or wrong secret", basic: basic != nil) }
        if client.isPublic {
            guard secret == nil else { throw OAuthError.invalidClient("a public client has no secret", basic: basic != nil) }
            guard allowPublic else { throw OAuthError.invalidClient("this endpoint needs a confidential client", basic: false) }
            return client
        }
        guard let secret, client.secretMatches(secret) else {
            throw OAuthError.invalidClient("unknown client or wrong secret", basic: basic != nil)
        }
        return client
    }

    func token(_ request: Request, logger: Logger) async throws -> Response {
        let form = try await FormParameters.body(of: request)
        let client = try authenticateClient(request, form, allowPublic: true)
        let answer: TokenAnswer
        switch form["grant_type"] {
        case "authorization_code"?: answer = try await codeGrant(form, client: client, logger: logger)
        case "refresh_token"?: answer = try await refreshGrant(form, client: client, logger: logger)
        case "client_credentials"?: answer = try await clientCredentialsGrant(form, client: client)
        case nil: throw OAuthError.invalidRequest("grant_type is missing")
        case let other?: throw OAuthError("unsupported_grant_type", "grant_type \(other.prefix(40)) is not supported")
        }
        return try json(answer)
    }

    func codeGrant(_ form: FormParameters, client: OAuthClient, logger: Logger) async throws -> TokenAnswer {
        guard client.allows(grant: "authorization_code") else { throw OAuthError.unauthorizedClient("this client may not use codes") }
        guard let codeText = form["code"] else { throw OAuthError.invalidRequest("code is missing") }
        let code: AuthorizationCode
        switch try await grants.redeem(codeText, clientID: client.clientID) {
        case .redeemed(let redeemed): code = redeemed
        case .replayed(let family):
            revocations.add(families: [family])
            logger.warning("authorization code replayed; its tokens are revoked", metadata: ["client": "\(client.clientID)"])
            throw OAuthError.invalidGrant("the code was already used")
        case .expired: throw OAuthError.invalidGrant("the code has expired")
        case .otherClient: throw OAuthError.invalidGrant("the code was issued to another client")
        case .unknown: throw OAuthError.invalidGrant("the code is not valid")
        }
        guard form["redirect_uri"] == code.redirectURI else {
            throw OAuthError.invalidGrant("redirect_uri differs from the authorization request's")
        }
        let verifier = form["code_verifier"]
        if let challenge = code.codeChallenge {
            guard let verifier else { throw OAuthError.invalidGrant("code_verifier is missing") }
            guard AuthorizationRequest.isPKCEValue(verifier, length: 43...128),
                Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8)))) == challenge
            else { throw OAuthError.invalidGrant("code_verifier does not match the code_challenge") }
        } else if verifier != nil {
            // A verifier for a code issued without a challenge is a downgrade attempt.
            throw OAuthError.invalidGrant("this code was issued without a code_challenge")
        }
        guard let user = try await directory.activeUser(code.userID) else { throw OAuthError.invalidGrant("the account is not active") }
        let scopes = code.scope.split(separator: " ").map(String.init)
        let offline = scopes.contains("offline_access")
        let family = TokenFamily(
            id: code.familyID, clientID: client.clientID, userID: user.id, sessionID: code.sessionID, scope: code.scope,
            offline: offline, authTime: code.authTime, claims: code.claims)
        // A family that lives only as long as its session ends with it.
        try await grants.createFamily(family, sessionExpiry: offline ? nil : Date().addingTimeInterval(sessions.lifetime))
        return try await answer(family: family, client: client, user: user, nonce: code.nonce, withRefresh: true)
    }

    func refreshGrant(_ form: FormParameters, client: OAuthClient, logger: Logger) async throws -> TokenAnswer {
        guard client.allows(grant: "refresh_token") else { throw OAuthError.unauthorizedClient("this client may not refresh tokens") }
        guard let token = form["refresh_token"] else { throw OAuthError.invalidRequest("refresh_token is missing") }
        // A wider scope is refused before the token is spent, so the client can still use it.
        if let requested = form["scope"] {
            guard let narrower = Scope.parse(requested) else { throw OAuthError.invalidScope("the scope names an unknown or repeated value") }
            if let family = try await grants.liveRefreshFamily(token), family.clientID == client.clientID,
                !Set(narrower).isSubset(of: Set(family.scope.split(separator: " ").map(String.init)))
            {
                throw OAuthError.invalidScope("a refresh may only narrow the scope")
            }
        }
        switch try await grants.rotate(token, clientID: client.clientID) {
        case .invalid:
            throw OAuthError.invalidGrant("the refresh token is not valid")
        case .reused(let family):
            revocations.add(families: [family])
            logger.warning("refresh token reused; its family is revoked", metadata: ["client": "\(client.clientID)"])
            throw OAuthError.invalidGrant("the refresh token was already used")
        case .rotated(var family, let newToken):
            guard let userID = family.userID, let user = try await directory.activeUser(userID) else {
                revocations.add(families: try await grants.revokeFamily(family.id))
                throw OAuthError.invalidGrant("the account is not active")
            }
            if let requested = form["scope"] {
                guard let narrower = Scope.parse(requested), Set(narrower).isSubset(of: Set(family.scope.split(separator: " ").map(String.init)))
                else { throw OAuthError.invalidScope("a refresh may only narrow the scope") }
                family.scope = narrower.joined(separator: " ")
            }
            var answer = try await answer(family: family, client: client, user: user, nonce: nil, withRefresh: false)
            answer.refresh_token = newToken
            return answer
        }
    }

    func clientCredentialsGrant(_ form: FormParameters, client: OAuthClient) async throws -> TokenAnswer {
        guard client.allows(grant: "client_credentials") else {
            throw OAuthError.unauthorizedClient("this client may not use client_credentials")
        }
        guard let scopes = Scope.parse(form["scope"]) else { throw OAuthError.invalidScope("the scope names an unknown or repeated value") }
        let allowed = client.scopes.filter { $0 != "openid" && $0 != "offline_access" }
        guard scopes.allSatisfy(allowed.contains) else { throw OAuthError.invalidScope("this client may not ask for that scope") }
        let family = TokenFamily(
            id: UUID(), clientID: client.clientID, userID: nil, sessionID: nil, scope: scopes.joined(separator: " "), offline: false,
            authTime: Date(), claims: "")
        try await grants.createFamily(family, sessionExpiry: Date().addingTimeInterval(accessLifetime(for: client)))
        let access = try await accessToken(family: family, subject: client.clientID, client: client)
        return TokenAnswer(access_token: access, expires_in: Int(accessLifetime(for: client)), scope: family.scope)
    }

    func accessLifetime(for client: OAuthClient) -> TimeInterval {
        client.accessTokenSeconds.map(TimeInterval.init) ?? lifetimes.accessToken
    }

    /// Access token, ID token (with `openid`) and a first refresh token (when the client may refresh).
    func answer(family: TokenFamily, client: OAuthClient, user: UserRecord, nonce: String?, withRefresh: Bool) async throws -> TokenAnswer {
        let subject = user.id.uuidString.lowercased()
        let access = try await accessToken(family: family, subject: subject, client: client)
        let scopes = Set(family.scope.split(separator: " ").map(String.init))
        var answer = TokenAnswer(access_token: access, expires_in: Int(accessLifetime(for: client)), scope: family.scope)
        if withRefresh && client.allows(grant: "refresh_token") {
            answer.refresh_token = try await grants.issueRefreshToken(family: family.id)
        }
        if scopes.contains("openid") {
            // Whole seconds: JWT NumericDates are integers to most libraries.
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            let knot = scopes.contains("knot") && (client.knotClaimsInIDToken || !family.claims.isEmpty)
            let claims = IDTokenClaims(
                iss: issuer, sub: subject, aud: client.clientID, exp: now.addingTimeInterval(lifetimes.idToken), iat: now,
                authTime: family.authTime, nonce: nonce, atHash: IDTokenClaims.hashHalf(access),
                sid: family.sessionID?.uuidString.lowercased(),
                user: UserClaims(
                    user: user, teams: scopes.contains("groups") ? try await directory.memberships(user.id).map(\.team) : [],
                    scopes: scopes, includeKnot: knot || !family.claims.isEmpty, settings: settings))
            let algorithm = SigningKeys.Algorithm(rawValue: client.idTokenAlgorithm) ?? .rs256
            answer.id_token = try await keys.ring().sign(claims, with: algorithm)
        }
        return answer
    }

    func accessToken(family: TokenFamily, subject: String, client: OAuthClient) async throws -> String {
        // Whole seconds: JWT NumericDates are integers to most libraries.
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let claims = AccessTokenClaims(
            iss: IssuerClaim(value: issuer), sub: SubjectClaim(value: subject), aud: AudienceClaim(value: [client.clientID]),
            exp: ExpirationClaim(value: now.addingTimeInterval(accessLifetime(for: client))), iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString.lowercased()), clientID: client.clientID, scope: family.scope,
            authTime: family.userID == nil ? nil : Int(family.authTime.timeIntervalSince1970), fid: family.id.uuidString.lowercased(),
            sid: family.sessionID?.uuidString.lowercased())
        return try await keys.ring().sign(claims, with: .es256, type: "at+jwt")
    }

    /// A JSON answer that no cache keeps (tokens must not be stored, RFC 6749 5.1).
    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder.knot.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
