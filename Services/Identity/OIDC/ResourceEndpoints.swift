import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import KnotModels
import Logging
import NIOConcurrencyHelpers

/// Userinfo, introspection, revocation and RP-initiated logout.
extension OIDCProvider {
    /// A live access token issued by this provider, or nil: the signature, the
    /// issuer, the expiry and the revocation list must all agree.
    func verifyAccessToken(_ token: String) async -> AccessTokenClaims? {
        guard token.utf8.count <= 8192 else { return nil }
        let claims: AccessTokenClaims
        if let known = verifiedTokens.claims(for: token) {
            claims = known
        } else {
            guard let verified = try? await keys.ring().verify(token, as: AccessTokenClaims.self), verified.iss.value == issuer else {
                return nil
            }
            verifiedTokens.remember(token, verified)
            claims = verified
        }
        // Revocation is checked every time, cached signature or not.
        guard claims.exp.value > Date(), !revocations.isRevoked(family: claims.familyID, token: claims.jti.value) else { return nil }
        return claims
    }

    // MARK: userinfo

    func userinfo(_ request: Request) async throws -> Response {
        var token: String?
        if let header = request.headers[.authorization] {
            guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
                throw OAuthError.invalidToken("use Authorization: Bearer <access token>")
            }
            token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        if request.method == .post {
            let form = try await FormParameters.body(of: request)
            if let fromForm = form["access_token"] {
                guard token == nil else { throw OAuthError.invalidRequest("send the access token once, not twice") }
                token = fromForm
            }
        }
        guard let token else {
            var error = OAuthError("invalid_request", "an access token is required", status: .unauthorized)
            error.headers[.wwwAuthenticate] = "Bearer realm=\"knot\""
            throw error
        }
        guard let claims = await verifyAccessToken(token) else { throw OAuthError.invalidToken("the access token is not valid") }
        guard claims.scopes.contains("openid"), let userID = UUID(uuidString: claims.sub.value) else {
            var error = OAuthError("insufficient_scope", "userinfo needs a token with the openid scope", status: .forbidden)
            error.headers[.wwwAuthenticate] = "Bearer error=\"insufficient_scope\", scope=\"openid\""
            throw error
        }
        guard let user = try await directory.activeUser(userID) else { throw OAuthError.invalidToken("the account is not active") }
        struct Answer: Encodable {
            var sub: String
            var user: UserClaims
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: DynamicKey.self)
                try container.encode(sub, forKey: DynamicKey("sub"))
                try user.encode(to: encoder)
            }
        }
        let scopes = claims.scopes
        let teams = scopes.contains("groups") ? try await directory.memberships(user.id).map(\.team) : []
        return try json(
            Answer(
                sub: claims.sub.value,
                user: UserClaims(user: user, teams: teams, scopes: scopes, includeKnot: scopes.contains("knot"), settings: settings)))
    }

    // MARK: introspection (RFC 7662)

    struct Introspection: Encodable {
        var active: Bool
        var scope: String?
        var client_id: String?
        var username: String?
        var token_type: String?
        var exp: Int?
        var iat: Int?
        var sub: String?
        var aud: [String]?
        var iss: String?
        var jti: String?

        static let inactive = Introspection(active: false)
    }

    func introspect(_ request: Request) async throws -> Response {
        let form = try await FormParameters.body(of: request)
        let caller = try authenticateClient(request, form, allowPublic: false)
        guard let token = form["token"] else { throw OAuthError.invalidRequest("token is missing") }
        if let claims = await verifyAccessToken(token) {
            guard caller.introspectAny || claims.clientID == caller.clientID else { return try json(Introspection.inactive) }
            var username: String?
            if let id = UUID(uuidString: claims.sub.value) {
                guard let user = try await directory.activeUser(id) else { return try json(Introspection.inactive) }
                username = user.username
            }
            return try json(
                Introspection(
                    active: true, scope: claims.scope, client_id: claims.clientID, username: username, token_type: "Bearer",
                    exp: Int(claims.exp.value.timeIntervalSince1970), iat: Int(claims.iat.value.timeIntervalSince1970),
                    sub: claims.sub.value, aud: claims.aud.value, iss: issuer, jti: claims.jti.value))
        }
        if token.hasPrefix("knot_rt_"), let family = try await grants.liveRefreshFamily(token) {
            guard caller.introspectAny || family.clientID == caller.clientID else { return try json(Introspection.inactive) }
            var username: String?
            if let id = family.userID {
                guard let user = try await directory.activeUser(id) else { return try json(Introspection.inactive) }
                username = user.username
            }
            return try json(
                Introspection(
                    active: true, scope: family.scope, client_id: family.clientID, username: username, token_type: "refresh_token",
                    sub: family.userID?.uuidString.lowercased(), aud: [family.clientID], iss: issuer))
        }
        return try json(Introspection.inactive)
    }

    // MARK: revocation (RFC 7009)

    func revoke(_ request: Request, logger: Logger) async throws -> Response {
        let form = try await FormParameters.body(of: request)
        let caller = try authenticateClient(request, form, allowPublic: true)
        guard let token = form["token"] else { throw OAuthError.invalidRequest("token is missing") }
        if token.hasPrefix("knot_rt_") {
            if let family = try await grants.family(ofRefreshToken: token, clientID: caller.clientID) {
                revocations.add(families: try await grants.revokeFamily(family))
                revocations.add(families: [family])
                logger.info("refresh token revoked", metadata: ["client": "\(caller.clientID)"])
            }
        } else if let claims = await verifyAccessToken(token), claims.clientID == caller.clientID {
            try await revocations.add(token: claims.jti.value, expires: claims.exp.value)
            logger.info("access token revoked", metadata: ["client": "\(caller.clientID)"])
        }
        // Unknown, foreign or already dead tokens answer the same (RFC 7009 2.2).
        return Response(status: .ok, headers: [.cacheControl: "no-store"])
    }

    // MARK: RP-initiated logout

    func endSession(_ request: Request, logger: Logger) async throws -> Response {
        let parameters: FormParameters
        do {
            parameters = try await FormParameters.query(andBodyOf: request)
        } catch let error as OAuthError {
            return errorPage(error.errorDescription)
        }
        // The confirmation form posts the original request back in one field.
        var original = parameters
        if request.method == .post, let embedded = parameters["request"] {
            guard csrf.isValid(parameters[CSRF.fieldName], request: request) else {
                return pages.message(title: "Form expired", heading: "This form has expired", error: "Please sign out again.", status: .forbidden)
            }
            do { original = try FormParameters(encoded: Substring(embedded)) } catch { return errorPage(error.errorDescription) }
        }
        var hint: IDTokenClaims?
        if let text = original["id_token_hint"] {
            guard let claims = try? await keys.ring().verify(text, as: IDTokenClaims.self), claims.iss.value == issuer else {
                return errorPage("The id_token_hint is not an ID token issued by Knot.")
            }
            hint = claims
        }
        var client: OAuthClient?
        if let id = original["client_id"] ?? hint?.aud.value.first {
            if let hint, let named = original["client_id"], !hint.aud.value.contains(named) {
                return errorPage("client_id does not match the id_token_hint.")
            }
            client = clients.client(id)
            if client == nil { return errorPage("The application asking to sign you out is not registered with Knot.") }
        }
        var target: String?
        if let uri = original["post_logout_redirect_uri"] {
            guard let client, client.postLogoutRedirectURIs.contains(uri) else {
                return errorPage("post_logout_redirect_uri is not one the application registered.")
            }
            var values: [String: String] = [:]
            if let state = original["state"] { values["state"] = state }
            target = values.isEmpty ? uri : AuthorizationRequest.redirect(uri, values)
        }

        let cookie = request.cookies[SessionCookie.name]?.value
        let current = try await signedIn(request)
        // The browser's own relying party, naming this very session, need not ask again.
        let confirmed =
            (request.method == .post && parameters["decision"] == "logout")
            || (current != nil && hint != nil && hint!.sub.value == current!.user.id.uuidString.lowercased()
                && (hint!.sid == nil || hint!.sid == current!.session.id.uuidString.lowercased()))
        if current != nil && !confirmed {
            if request.method == .post && parameters["decision"] == "stay" {
                return Response(status: .found, headers: [.location: target ?? "/", .cacheControl: "no-store"])
            }
            let token = csrf.issue(for: request)
            return pages.render(
                "logout", title: "Sign out",
                ["client": client?.name ?? false, "csrf": token.field, "request": AuthorizationRequest.encode(original.values)],
                cookies: token.setCookie.map { [$0] } ?? [], formTargets: target.flatMap(Pages.origin).map { [$0] } ?? [])
        }
        if let cookie, current != nil {
            revocations.add(families: try await sessions.revoke(cookie))
            logger.info("signed out by relying party", metadata: ["client": "\(client?.clientID ?? "-")"])
        }
        let cleared = IdentityCookies.cleared(domain: settings.domain)
        if let target {
            return Response(status: .found, headers: [.location: target, .cacheControl: "no-store", .setCookie: cleared])
        }
        var page = pages.message(
            title: "Signed out", heading: "You are signed out", info: "You have signed out of \(pages.brand).",
            link: ("/auth/login", "Sign in again"), status: .ok)
        page.headers.append(HTTPField(name: .setCookie, value: cleared))
        return page
    }
}

/// Access tokens whose signature has been checked, until they expire: a
/// resource server introspects the same token for every request it serves,
/// and checking a signature (and decoding its JSON) again each time is most
/// of the cost. Bounded; cleared when full.
final class VerifiedTokenCache: Sendable {
    private let entries = NIOLockedValueBox<[String: AccessTokenClaims]>([:])
    let capacity: Int

    init(capacity: Int = 20_000) { self.capacity = capacity }

    func claims(for token: String) -> AccessTokenClaims? { entries.withLockedValue { $0[token] } }

    func remember(_ token: String, _ claims: AccessTokenClaims) {
        entries.withLockedValue { entries in
            if entries.count >= capacity {
                let now = Date()
                entries = entries.filter { $0.value.exp.value > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = claims
        }
    }
}

/// A coding key made from any string, for flattening nested claims.
struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The session cookie's shapes, in one place.
enum IdentityCookies {
    static func session(_ token: String, domain: String, maxAge: Int) -> String {
        "\(SessionCookie.name)=\(token); Domain=\(domain); Path=/; Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Lax"
    }

    static func cleared(domain: String) -> String {
        "\(SessionCookie.name)=; Domain=\(domain); Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
    }
}
