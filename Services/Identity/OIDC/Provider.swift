import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import KnotConfig
import KnotErrors
import KnotModels
import Logging

/// The OpenID Connect provider: authorization, tokens, userinfo,
/// introspection, revocation and logout, on top of the stores.
struct OIDCProvider: Sendable {
    struct Lifetimes: Sendable {
        var accessToken: TimeInterval
        var idToken: TimeInterval
    }

    let settings: KnotSettings
    let issuer: String
    let keys: SigningKeys
    let clients: ClientRegistry
    let grants: GrantStore
    let revocations: RevocationList
    let sessions: SessionStore
    let directory: UserDirectory
    let pages: Pages
    let csrf: CSRF
    let lifetimes: Lifetimes
    let verifiedTokens = VerifiedTokenCache()

    // MARK: discovery

    struct Discovery: Encodable {
        var issuer: String
        var authorization_endpoint: String
        var token_endpoint: String
        var userinfo_endpoint: String
        var jwks_uri: String
        var revocation_endpoint: String
        var introspection_endpoint: String
        var end_session_endpoint: String
        var scopes_supported = Scope.all
        var response_types_supported = ["code"]
        var response_modes_supported = ["query"]
        var grant_types_supported = ["authorization_code", "refresh_token", "client_credentials"]
        var subject_types_supported = ["public"]
        var id_token_signing_alg_values_supported = ["RS256", "ES256"]
        var token_endpoint_auth_methods_supported = ["client_secret_basic", "client_secret_post", "none"]
        var revocation_endpoint_auth_methods_supported = ["client_secret_basic", "client_secret_post", "none"]
        var introspection_endpoint_auth_methods_supported = ["client_secret_basic", "client_secret_post"]
        var code_challenge_methods_supported = ["S256"]
        var claims_parameter_supported = true
        var request_parameter_supported = false
        var request_uri_parameter_supported = false
        var authorization_response_iss_parameter_supported = true
        var claims_supported = [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "preferred_username", "name",
            "email", "email_verified", "groups",
        ] + UserClaims.knotNames
        var prompt_values_supported = ["none", "login", "consent"]
    }

    func discovery() -> Discovery {
        Discovery(
            issuer: issuer, authorization_endpoint: issuer + "/auth/oidc/authorize", token_endpoint: issuer + "/auth/oidc/token",
            userinfo_endpoint: issuer + "/auth/oidc/userinfo", jwks_uri: issuer + "/.well-known/jwks.json",
            revocation_endpoint: issuer + "/auth/oidc/revoke", introspection_endpoint: issuer + "/auth/oidc/introspect",
            end_session_endpoint: issuer + "/auth/oidc/logout")
    }

    // MARK: the browser's session

    /// The signed-in person behind a request's cookie, if any, with the
    /// session: the effective user is the impersonated one when an admin acts as someone.
    func signedIn(_ request: Request) async throws -> (session: BrowserSession, user: UserRecord)? {
        guard let token = request.cookies[SessionCookie.name]?.value, let session = try await sessions.session(for: token),
            let user = try await directory.activeUser(session.actingAs ?? session.userID)
        else { return nil }
        // An admin who lost their rights while impersonating is no longer anyone else.
        if session.actingAs != nil, try await directory.activeUser(session.userID)?.admin != true { return nil }
        return (session, user)
    }

    // MARK: authorization endpoint

    func authorize(_ request: Request, logger: Logger) async throws -> Response {
        let parameters: FormParameters
        do {
            parameters = try await FormParameters.query(andBodyOf: request)
        } catch let error as OAuthError {
            return errorPage(error.errorDescription)
        }
        let authorization: AuthorizationRequest
        do {
            authorization = try AuthorizationRequest.parse(parameters, clients: clients)
        } catch {
            return failure(error)
        }
        let prompt = authorization.prompt
        let signedIn = try await signedIn(request)

        // Does the session satisfy the request's demands on how recent the login is?
        var needsLogin = signedIn == nil
        if let (session, _) = signedIn {
            if prompt.contains("login") && authorization.authAfter == nil { needsLogin = true }
            if let after = authorization.authAfter, session.authTime < after.addingTimeInterval(-1) { needsLogin = true }
            if let maxAge = authorization.maxAge, Date().timeIntervalSince(session.authTime) > Double(maxAge),
                authorization.authAfter.map({ session.authTime < $0.addingTimeInterval(-1) }) ?? true
            {
                needsLogin = true
            }
        }
        if needsLogin {
            if prompt.contains("none") {
                return failure(.redirect(OAuthError("login_required", "the user is not signed in"), redirectURI: authorization.redirectURI, state: authorization.state))
            }
            var changes: [String: String?] = [:]
            if signedIn != nil || prompt.contains("login") || authorization.maxAge != nil {
                // Come back demanding a login at least this recent, so the loop ends.
                changes["knot_auth_after"] = String(Int(Date().timeIntervalSince1970))
                let rest = prompt.subtracting(["login"]).sorted().joined(separator: " ")
                changes["prompt"] = rest.isEmpty ? nil : rest
            }
            let next = "/auth/oidc/authorize?" + authorization.query(replacing: changes)
            let location = "/auth/login?next=" + next.percentEncodedComponent
            return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
        }
        let (session, user) = signedIn!
        let client = authorization.client
        if !client.firstParty {
            let granted = try await grants.hasConsent(user: user.id, client: client.clientID, scopes: authorization.scopes)
            if !granted || prompt.contains("consent") {
                if prompt.contains("none") {
                    return failure(
                        .redirect(OAuthError("consent_required", "the user has not allowed this client"), redirectURI: authorization.redirectURI,
                            state: authorization.state))
                }
                return consentPage(request, authorization: authorization, user: user)
            }
        }
        return try await issueCode(authorization, session: session, user: user, logger: logger)
    }

    func consentPage(_ request: Request, authorization: AuthorizationRequest, user: UserRecord) -> Response {
        let token = csrf.issue(for: request)
        let described: [String: String] = [
            "openid": "who you are (your Knot account id)", "profile": "your username and name", "email": "your e-mail address",
            "groups": "your groups (admin, teams)", "knot": "your Knot namespace and file folders",
            "offline_access": "access while you are signed out",
        ]
        return pages.render(
            "consent", title: "Allow access",
            [
                "client": authorization.client.name, "username": user.username,
                "scopes": authorization.scopes.map { described[$0] ?? $0 }, "csrf": token.field,
                "request": authorization.query(),
            ], cookies: token.setCookie.map { [$0] } ?? [],
            formTargets: Pages.origin(of: authorization.redirectURI).map { [$0] } ?? [])
    }

    /// The consent form's answer: re-checks the whole request, then allows or denies.
    func consent(_ request: Request, logger: Logger) async throws -> Response {
        let form: FormParameters
        do {
            form = try await FormParameters.body(of: request)
        } catch let error as OAuthError {
            return errorPage(error.errorDescription)
        }
        guard csrf.isValid(form[CSRF.fieldName], request: request) else {
            return pages.message(
                title: "Form expired", heading: "This form has expired", error: "Please start again from the application.",
                status: .forbidden)
        }
        let authorization: AuthorizationRequest
        do {
            authorization = try AuthorizationRequest.parse(try FormParameters(encoded: Substring(form["request"] ?? "")), clients: clients)
        } catch let error as AuthorizationRequest.Failure {
            return failure(error)
        } catch let error as OAuthError {
            return errorPage(error.errorDescription)
        }
        guard let (session, user) = try await signedIn(request) else {
            return pages.message(title: "Signed out", heading: "You are signed out", error: "Sign in and try again.", status: .unauthorized)
        }
        guard form["decision"] == "allow" else {
            return failure(
                .redirect(OAuthError("access_denied", "the user denied the request"), redirectURI: authorization.redirectURI,
                    state: authorization.state))
        }
        try await grants.recordConsent(user: user.id, client: authorization.client.clientID, scopes: authorization.scopes)
        logger.info("consent given", metadata: ["client": "\(authorization.client.clientID)", "user": "\(user.username)"])
        return try await issueCode(authorization, session: session, user: user, logger: logger)
    }

    func issueCode(_ authorization: AuthorizationRequest, session: BrowserSession, user: UserRecord, logger: Logger) async throws -> Response {
        let claims = authorization.idTokenClaims.joined(separator: " ")
        let code = try await grants.storeCode(
            AuthorizationCode(
                clientID: authorization.client.clientID, userID: user.id, sessionID: session.id, redirectURI: authorization.redirectURI,
                scope: authorization.scopes.joined(separator: " "), nonce: authorization.nonce, codeChallenge: authorization.codeChallenge,
                authTime: session.authTime, claims: claims, familyID: UUID()))
        var values = ["code": code, "iss": issuer]
        if let state = authorization.state { values["state"] = state }
        logger.info("authorization code issued", metadata: ["client": "\(authorization.client.clientID)", "user": "\(user.username)"])
        return Response(
            status: .found, headers: [.location: AuthorizationRequest.redirect(authorization.redirectURI, values), .cacheControl: "no-store"])
    }

    func failure(_ failure: AuthorizationRequest.Failure) -> Response {
        switch failure {
        case .page(let message):
            return errorPage(message)
        case .redirect(let error, let uri, let state):
            var values = ["error": error.error, "error_description": error.errorDescription, "iss": issuer]
            if let state { values["state"] = state }
            return Response(status: .found, headers: [.location: AuthorizationRequest.redirect(uri, values), .cacheControl: "no-store"])
        }
    }

    func errorPage(_ message: String) -> Response {
        pages.message(title: "Cannot sign in", heading: "This sign-in request cannot be used", error: message, status: .badRequest)
    }
}
