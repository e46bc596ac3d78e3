import Foundation
import HTTPTypes
import Hummingbird
import KnotAuth
import KnotErrors
import KnotInternalClient
import KnotModels
import KnotServiceKit
import Logging

/// The identity service: credentials, sign-up, sign-in, browser sessions,
/// personal API tokens, the identity assertions every other service trusts,
/// and the OpenID Connect provider the integrated tools log in through.
struct IdentityApp: Sendable {
    let host: ServiceHost
    let keys: SigningKeys
    let passwords: Passwords
    let sessions: SessionStore
    let throttle: LoginThrottle
    let provider: OIDCProvider
    /// How long the edge may cache a session verdict: the bound on how late a logout or deactivation bites.
    let verdictCacheSeconds: Int
    let assertionLifetime: TimeInterval = 300
    /// Sign-in at another OpenID Connect provider, when configured.
    let upstream: UpstreamLogin?

    var users: InternalClient { host.client(for: "users") }
    var directory: UserDirectory { provider.directory }
    var credentials: CredentialStore { CredentialStore(database: host.database) }
    var apiTokens: APITokenStore { APITokenStore(database: host.database) }
    var pages: Pages { provider.pages }
    var csrf: CSRF { provider.csrf }
    var redirects: RedirectPolicy {
        RedirectPolicy(domain: host.settings.domain, publicPort: host.settings.publicPort, home: host.settings.publicURL + "/")
    }

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let router = host.makeRouter()
        let gate = ReadyGateMiddleware<KnotRequestContext>(readiness: host.readiness)
        let provider = self.provider

        let wellKnown = router.group("/.well-known").add(middleware: gate)
        wellKnown.get("openid-configuration") { _, _ in
            try provider.json(provider.discovery())
        }
        wellKnown.get("jwks.json") { _, _ in
            var response = try provider.json(try provider.keys.ring().jwks)
            // Relying parties may cache the keys briefly; a new key is published well before it signs.
            response.headers[.cacheControl] = "public, max-age=300"
            return response
        }

        let auth = router.group("/auth").add(middleware: gate)
        auth.get("login") { request, _ in loginPage(request, next: redirects.safeTarget(request.uri.queryParameters["next"].map(String.init))) }
        auth.post("login") { request, context in try await login(request, context) }
        auth.get("signup") { request, _ in signupPage(request) }
        auth.post("signup") { request, context in try await signup(request, context) }
        auth.post("logout") { request, context in try await logout(request, context) }
        auth.get("password") { request, _ in try await passwordPage(request) }
        auth.post("password") { request, context in try await changePassword(request, context) }
        auth.post("impersonate") { request, context in try await impersonate(request, context) }
        auth.delete("impersonate") { request, context in try await stopImpersonating(request, context) }
        auth.post("profile") { request, context in try await switchProfile(request, context) }
        auth.delete("profile") { request, context in try await stopImpersonating(request, context) }

        let oidc = auth.group("oidc")
        oidc.get("authorize") { request, context in try await provider.authorize(request, logger: context.logger) }
        oidc.post("authorize") { request, context in try await provider.authorize(request, logger: context.logger) }
        oidc.post("consent") { request, context in try await provider.consent(request, logger: context.logger) }
        oidc.post("token") { request, context in try await provider.token(request, logger: context.logger) }
        oidc.get("userinfo") { request, _ in try await provider.userinfo(request) }
        oidc.post("userinfo") { request, _ in try await provider.userinfo(request) }
        oidc.post("introspect") { request, _ in try await provider.introspect(request) }
        oidc.post("revoke") { request, context in try await provider.revoke(request, logger: context.logger) }
        oidc.get("logout") { request, context in try await provider.endSession(request, logger: context.logger) }
        oidc.post("logout") { request, context in try await provider.endSession(request, logger: context.logger) }
        for path in ["token", "introspect", "revoke"] {
            oidc.get(RouterPath(stringLiteral: path)) { _, _ -> Response in
                var error = OAuthError("invalid_request", "use POST", status: .methodNotAllowed)
                error.headers[.allow] = "POST"
                throw error
            }
        }

        if let upstream {
            auth.get("upstream/start") { request, _ in
                try await upstream.start(request, next: redirects.safeTarget(request.uri.queryParameters["next"].map(String.init)))
            }
            auth.get("upstream/callback") { request, context in try await upstreamCallback(request, upstream, context) }
        }

        let api = host.userAPI(router, "/api/v1/identity")
        IdentityAPI(app: self).register(on: api)
        IdentityOpenAPI.document.register(on: api)

        let internalAPI = host.internalAPI(router, "/internal/v1")
        ServiceAPITokens(app: self).register(on: internalAPI)
        internalAPI.get("jwks") { _, _ in try provider.json(try provider.keys.ring().jwks) }
        internalAPI.post("sessions/verify") { request, context in
            guard context.caller == "edge" else { throw KnotError.forbidden("only the edge verifies sessions") }
            struct Body: Decodable { var token: String }
            let body = try await request.decodeJSON(Body.self, limit: 4096)
            return JSONResponse(.ok, try await verify(sessionToken: body.token))
        }
        internalAPI.post("tokens/verify") { request, context in
            guard context.caller == "edge" else { throw KnotError.forbidden("only the edge verifies API tokens") }
            struct Body: Decodable { var token: String }
            let body = try await request.decodeJSON(Body.self, limit: 4096)
            return JSONResponse(.ok, try await verify(apiToken: body.token))
        }
        internalAPI.post("users/:id/revoke") { _, context in
            guard context.caller == "users" else { throw KnotError.forbidden("only the users service ends accounts' sessions") }
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
                throw KnotError.badRequest("the user id must be a UUID")
            }
            try await endEverything(of: id)
            return JSONResponse(.ok, ["status": "revoked"])
        }
        return router
    }

    /// Deactivation: every session, refresh token family and API token of the account, at once.
    func endEverything(of id: UUID) async throws {
        provider.revocations.add(families: try await sessions.revokeAll(userID: id, everything: true))
        try await apiTokens.revokeAll(userID: id)
        directory.forget(id)
    }

    // MARK: pages

    /// The login page; when it leads on to a relying party, that party's
    /// origin may receive the form's final redirect.
    func loginPage(
        _ request: Request, next: String, username: String = "", error: String? = nil, info: String? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let token = csrf.issue(for: request)
        var values: [String: Any] = ["csrf": token.field, "next": next, "username": username]
        if let error { values["error"] = error }
        if let info { values["info"] = info }
        var targets = relyingPartyOrigin(next).map { [$0] } ?? []
        if let upstream {
            values["upstream"] = upstream.displayName
            // The upstream button's form answers with a redirect to the upstream provider.
            if let origin = Pages.origin(of: upstream.settings.issuer) { targets.append(origin) }
        }
        return pages.render(
            "login", title: "Sign in", values, status: status, cookies: token.setCookie.map { [$0] } ?? [], formTargets: targets)
    }

    /// The redirect URI origin of an authorization request that `next` continues, if it is a valid one.
    func relyingPartyOrigin(_ next: String) -> String? {
        guard let url = URLComponents(string: next), url.path == "/auth/oidc/authorize",
            let query = url.percentEncodedQuery, let parameters = try? FormParameters(encoded: Substring(query)),
            let client = parameters["client_id"].flatMap(provider.clients.client), let uri = parameters["redirect_uri"],
            client.redirectURIs.contains(uri)
        else { return nil }
        return Pages.origin(of: uri)
    }

    func signupPage(_ request: Request, values: [String: Any] = [:], status: HTTPResponse.Status = .ok) -> Response {
        let token = csrf.issue(for: request)
        var values = values
        values["csrf"] = token.field
        return pages.render("signup", title: "Sign up", values, status: status, cookies: token.setCookie.map { [$0] } ?? [])
    }

    func passwordPage(_ request: Request, error: String? = nil, info: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard try await provider.signedIn(request) != nil else {
            return Response(status: .found, headers: [.location: "/auth/login?next=%2Fauth%2Fpassword"])
        }
        let token = csrf.issue(for: request)
        var values: [String: Any] = ["csrf": token.field]
        if let error { values["error"] = error }
        if let info { values["info"] = info }
        return pages.render("password", title: "Change password", values, status: status, cookies: token.setCookie.map { [$0] } ?? [])
    }

    // MARK: sign-in

    struct LoginForm: Decodable {
        var username: String
        var password: String
        var next: String?
        var csrf: String?
    }

    struct LoginAnswer: Encodable, Sendable {
        var username: String
        var next: String
    }

    func login(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let html = FormInput.isForm(request)
        let form: LoginForm
        do {
            form = try await FormInput.decode(LoginForm.self, request, limit: host.settings.maxJSONBody)
        } catch let error as KnotError where html {
            return loginPage(request, next: redirects.home, error: error.message, status: error.status)
        }
        let next = redirects.safeTarget(form.next)
        func refuse(_ error: KnotError) throws -> Response {
            if html { return loginPage(request, next: next, username: form.username, error: error.message, status: error.status) }
            throw error
        }
        if html && !csrf.isValid(form.csrf, request: request) {
            return try refuse(KnotError(.forbidden, code: "csrf", message: "the form has expired; please sign in again"))
        }
        let address = FormInput.clientAddress(request)
        if let wait = try await throttle.retryAfter(username: form.username, address: address) {
            context.logger.notice("sign-in throttled", metadata: ["username": "\(form.username.prefix(64))"])
            var error = KnotError(
                .tooManyRequests, code: "too_many_attempts",
                message: "too many failed sign-ins; try again in \(wait) seconds")
            error.headers[.retryAfter] = String(wait)
            if html {
                var page = loginPage(request, next: next, username: form.username, error: error.message, status: .tooManyRequests)
                page.headers[.retryAfter] = String(wait)
                return page
            }
            throw error
        }
        let user = try await directory.byName(form.username)
        let hash = try await user.asyncMap { try await credentials.hash(for: $0.id) } ?? nil
        let matches = try await passwords.verify(form.password, hash: hash ?? Passwords.decoyHash)
        guard let user, hash != nil, matches else {
            try await throttle.recordFailure(username: form.username, address: address)
            context.logger.notice("sign-in refused", metadata: ["username": "\(form.username.prefix(64))"])
            return try refuse(KnotError(.unauthorized, code: "invalid_credentials", message: "wrong username or password"))
        }
        try await throttle.recordSuccess(username: form.username)
        guard user.active else {
            return try refuse(
                KnotError(.forbidden, code: "inactive", message: "your account is waiting for an administrator to activate it"))
        }
        return try await startSession(for: user, next: next, html: html, request: request, logger: context.logger)
    }

    /// Signs a person in: a new session (ending the one this browser had), its cookie, and where to go.
    func startSession(for user: UserRecord, next: String, html: Bool, request: Request, logger: Logger) async throws -> Response {
        if let old = request.cookies[SessionCookie.name]?.value {
            provider.revocations.add(families: try await sessions.revoke(old))
        }
        let (token, _) = try await sessions.create(userID: user.id)
        try? await users.post("/internal/v1/users/\(user.id.uuidString.lowercased())/login", body: Empty(), as: [String: String].self)
        logger.info("signed in", metadata: ["username": "\(user.username)"])
        var response =
            html
            ? Response(status: .seeOther, headers: [.location: next, .cacheControl: "no-store"])
            : try JSONResponse(.ok, LoginAnswer(username: user.username, next: next)).makeResponse()
        response.headers.append(HTTPField(name: .setCookie, value: sessionCookie(token)))
        return response
    }

    /// The upstream provider's answer: signed in, waiting for activation, or a page saying what went wrong.
    func upstreamCallback(_ request: Request, _ upstream: UpstreamLogin, _ context: KnotRequestContext) async throws -> Response {
        var response: Response
        do {
            switch try await upstream.complete(request, app: self, logger: context.logger) {
            case .signedIn(let user, let next):
                response = try await startSession(for: user, next: next, html: true, request: request, logger: context.logger)
            case .waiting(let user):
                response = pages.message(
                    title: "Waiting for activation", heading: "Thanks, \(user.username)",
                    info: "Your account is waiting for an administrator to activate it. You can sign in once it is active.",
                    link: ("/auth/login", "Back to sign in"), status: .created)
            }
        } catch let error as KnotError {
            context.logger.notice("upstream sign-in refused", metadata: ["code": "\(error.code)"])
            response = pages.message(
                title: "Cannot sign in", heading: "Sign-in with \(upstream.displayName) failed", error: error.message,
                link: ("/auth/login", "Back to sign in"), status: error.status)
        }
        // One attempt per start: the sealed state is spent either way.
        response.headers.append(HTTPField(name: .setCookie, value: UpstreamLogin.clearedCookie()))
        return response
    }

    // MARK: sign-up

    struct SignupForm: Decodable {
        var username: String
        var email: String
        var password: String
        var fullName: String?
        var csrf: String?
        enum CodingKeys: String, CodingKey {
            case username, email, password, csrf
            case fullName = "full_name"
        }
    }

    func signup(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let html = FormInput.isForm(request)
        var echo: [String: Any] = [:]
        do {
            let form = try await FormInput.decode(SignupForm.self, request, limit: host.settings.maxJSONBody)
            echo = ["username": form.username, "email": form.email, "fullName": form.fullName ?? ""]
            if html && !csrf.isValid(form.csrf, request: request) {
                throw KnotError(.forbidden, code: "csrf", message: "the form has expired; please try again")
            }
            try Passwords.check(form.password)
            let hash = try await passwords.hash(form.password)
            let user = try await users.post(
                "/internal/v1/users",
                body: NewAccount(username: form.username, email: form.email, fullName: form.fullName ?? "", active: false, admin: false),
                as: UserRecord.self)
            do {
                try await credentials.set(userID: user.id, hash: hash)
            } catch {
                // Undo the account so that a failed sign-up leaves nothing behind.
                try? await users.delete("/internal/v1/users/\(user.id.uuidString.lowercased())")
                throw error
            }
            context.logger.info("signed up", metadata: ["username": "\(user.username)"])
            if html {
                return pages.message(
                    title: "Waiting for activation", heading: "Thanks, \(user.username)",
                    info: "Your account is waiting for an administrator to activate it. You can sign in once it is active.",
                    link: ("/auth/login", "Back to sign in"), status: .created)
            }
            return try JSONResponse(.created, user).makeResponse()
        } catch let error as KnotError where html {
            echo["error"] = error.message
            return signupPage(request, values: echo, status: error.status)
        }
    }

    // MARK: sign-out, password, impersonation

    func logout(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let html = FormInput.isForm(request)
        if html {
            let form = try await FormInput.decode([String: String].self, request, limit: 4096)
            guard csrf.isValid(form["csrf"], request: request) else {
                throw KnotError(.forbidden, code: "csrf", message: "the form has expired; please sign out again")
            }
        } else {
            try FormInput.requireJSONOrNothing(request)
        }
        if let token = request.cookies[SessionCookie.name]?.value {
            provider.revocations.add(families: try await sessions.revoke(token))
        }
        var response =
            html || (request.headers[.accept]?.contains("text/html") ?? false)
            ? Response(status: .seeOther, headers: [.location: "/auth/login"])
            : try JSONResponse(.ok, ["status": "signed out"]).makeResponse()
        response.headers.append(HTTPField(name: .setCookie, value: IdentityCookies.cleared(domain: host.settings.domain)))
        return response
    }

    struct PasswordChange: Decodable {
        var currentPassword: String
        var newPassword: String
        var csrf: String?
        enum CodingKeys: String, CodingKey {
            case csrf
            case currentPassword = "current_password"
            case newPassword = "new_password"
        }
    }

    /// Changes one's own password and ends one's other sessions (from the page, or JSON with the cookie).
    func changePassword(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let html = FormInput.isForm(request)
        do {
            let form = try await FormInput.decode(PasswordChange.self, request, limit: 8192)
            if html && !csrf.isValid(form.csrf, request: request) {
                throw KnotError(.forbidden, code: "csrf", message: "the form has expired; please try again")
            }
            guard let (session, user) = try await provider.signedIn(request) else { throw KnotError.unauthorized("sign in first") }
            guard session.actingAs == nil else { throw KnotError.forbidden("stop impersonating before changing a password") }
            try await changePassword(of: user, form, keeping: session.id, address: FormInput.clientAddress(request))
            if html { return try await passwordPage(request, info: "Your password has been changed.") }
            return try JSONResponse(.ok, ["status": "changed"]).makeResponse()
        } catch let error as KnotError where html {
            return try await passwordPage(request, error: error.message, status: error.status)
        }
    }

    /// Checks the current password (throttled like a login), sets the new one,
    /// and ends every other session of the person.
    func changePassword(of user: UserRecord, _ change: PasswordChange, keeping session: UUID?, address: String?) async throws {
        if let wait = try await throttle.retryAfter(username: user.username, address: address) {
            var error = KnotError(.tooManyRequests, code: "too_many_attempts", message: "too many failed attempts; try again in \(wait) seconds")
            error.headers[.retryAfter] = String(wait)
            throw error
        }
        let hash = try await credentials.hash(for: user.id)
        guard let hash, try await passwords.verify(change.currentPassword, hash: hash) else {
            try await throttle.recordFailure(username: user.username, address: address)
            throw KnotError(.forbidden, code: "invalid_credentials", message: "the current password is wrong")
        }
        try Passwords.check(change.newPassword)
        try await credentials.set(userID: user.id, hash: try await passwords.hash(change.newPassword))
        provider.revocations.add(families: try await sessions.revokeAll(userID: user.id, except: session, everything: false))
        await audit(actor: user.username, action: "password.change", subject: user.username)
    }

    struct ImpersonationRequest: Decodable { var username: String }

    /// An admin acts as another user. The session is replaced (so every cached
    /// verdict of the old one is void at once) and the act is audited.
    func impersonate(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        try FormInput.requireJSON(request)
        let body = try await request.decodeJSON(ImpersonationRequest.self, limit: 4096)
        guard let token = request.cookies[SessionCookie.name]?.value, let (session, _) = try await provider.signedIn(request) else {
            throw KnotError.unauthorized("sign in first")
        }
        guard let admin = try await directory.activeUser(session.userID), admin.admin else {
            throw KnotError.forbidden("only administrators impersonate")
        }
        guard let target = try await directory.byName(body.username), target.active else {
            throw KnotError.notFound("no active user \"\(body.username.prefix(64))\"")
        }
        guard target.id != admin.id else { throw KnotError.badRequest("you are yourself already", code: "self") }
        guard !target.isTeam else { throw KnotError.badRequest("\(target.username) is a team: switch profile to it instead", code: "team") }
        let replacement = try await sessions.replace(token, actingAs: target.id)
        provider.revocations.add(families: replacement.revokedFamilies)
        await audit(actor: admin.username, action: "user.impersonate", subject: target.username)
        context.logger.notice("impersonation started", metadata: ["actor": "\(admin.username)", "subject": "\(target.username)"])
        var response = try JSONResponse(.ok, ["acting_as": target.username, "actor": admin.username]).makeResponse()
        response.headers.append(HTTPField(name: .setCookie, value: sessionCookie(replacement.token)))
        return response
    }

    struct ProfileRequest: Decodable { var team: String }

    /// A member acts as one of their teams: the session is replaced, as for impersonation.
    func switchProfile(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        try FormInput.requireJSON(request)
        let body = try await request.decodeJSON(ProfileRequest.self, limit: 4096)
        guard let token = request.cookies[SessionCookie.name]?.value, let session = try await sessions.session(for: token),
            let person = try await directory.activeUser(session.userID)
        else { throw KnotError.unauthorized("sign in first") }
        guard let membership = try await directory.memberships(person.id, fresh: true).first(where: { $0.team == body.team }) else {
            throw KnotError.notFound("you are not in a team \"\(body.team.prefix(64))\"")
        }
        let replacement = try await sessions.replace(token, actingAs: membership.teamID)
        provider.revocations.add(families: replacement.revokedFamilies)
        await audit(actor: person.username, action: "profile.switch", subject: membership.team, detail: membership.role)
        var response = try JSONResponse(.ok, ["profile": membership.team, "role": membership.role, "member": person.username]).makeResponse()
        response.headers.append(HTTPField(name: .setCookie, value: sessionCookie(replacement.token)))
        return response
    }

    func stopImpersonating(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        try FormInput.requireJSONOrNothing(request)
        guard let token = request.cookies[SessionCookie.name]?.value, let session = try await sessions.session(for: token) else {
            throw KnotError.unauthorized("sign in first")
        }
        guard let acting = session.actingAs else { throw KnotError.conflict("you are not impersonating anyone", code: "not_impersonating") }
        let replacement = try await sessions.replace(token, actingAs: nil)
        provider.revocations.add(families: replacement.revokedFamilies)
        let admin = try await directory.user(session.userID)
        let subject = try await directory.user(acting)
        await audit(
            actor: admin?.username ?? "?", action: subject?.isTeam == true ? "profile.switch.back" : "user.impersonate.stop",
            subject: subject?.username ?? "?")
        var response = try JSONResponse(.ok, ["status": "back"]).makeResponse()
        response.headers.append(HTTPField(name: .setCookie, value: sessionCookie(replacement.token)))
        return response
    }

    // MARK: verification for the edge

    func verify(sessionToken: String) async throws -> SessionVerdict {
        guard let session = try await sessions.session(for: sessionToken) else { throw KnotError.unauthorized("the session has ended") }
        guard let actor = try await directory.activeUser(session.userID) else { throw KnotError.unauthorized("the account is not active") }
        var user = actor
        var act: IdentityAssertion.Actor?
        var role: String?
        let memberships = try await directory.memberships(actor.id)
        if let acting = session.actingAs {
            if let membership = memberships.first(where: { $0.teamID == acting }) {
                // A member acting as their team, with their role in it.
                guard let team = try await directory.activeUser(acting) else { throw KnotError.unauthorized("the team no longer exists") }
                user = team
                role = membership.role
            } else {
                guard actor.admin, let target = try await directory.activeUser(acting), !target.isTeam else {
                    throw KnotError.unauthorized("the impersonation has ended")
                }
                user = target
            }
            act = .init(sub: actor.id.uuidString.lowercased(), username: actor.username)
        }
        var verdict = try await verdict(for: user, actor: act, readOnly: false, sessionID: session.id, role: role)
        verdict.teams = session.actingAs == nil ? memberships.map(\.team) : []
        return verdict
    }

    func verify(apiToken: String) async throws -> SessionVerdict {
        guard let (userID, scope) = try await apiTokens.verify(apiToken), let user = try await directory.activeUser(userID) else {
            throw KnotError.unauthorized("the API token is not valid")
        }
        return try await verdict(for: user, actor: nil, readOnly: scope == "read", sessionID: nil)
    }

    func verdict(for user: UserRecord, actor: IdentityAssertion.Actor?, readOnly: Bool, sessionID: UUID?, role: String? = nil) async throws
        -> SessionVerdict
    {
        let assertion = IdentityAssertion(
            user: user.id, username: user.username, namespace: user.namespace, admin: user.admin, actor: actor,
            sessionID: sessionID, role: role, lifetime: assertionLifetime)
        let token = try await keys.ring().sign(assertion, with: .es256)
        var verdict = SessionVerdict(
            userID: user.id, username: user.username, admin: user.admin, namespace: user.namespace,
            assertion: token, cacheSeconds: verdictCacheSeconds)
        verdict.actor = actor?.username
        verdict.readOnly = readOnly
        verdict.email = user.email.isEmpty ? nil : user.email
        return verdict
    }

    // MARK: helpers

    func sessionCookie(_ token: String) -> String {
        IdentityCookies.session(token, domain: host.settings.domain, maxAge: Int(sessions.lifetime))
    }

    /// Records in the users service's audit log; a failure is logged, never fatal to the action.
    func audit(actor: String, action: String, subject: String, outcome: String = "ok", detail: String = "") async {
        struct Entry: Encodable { var actor, action, subject, outcome, detail: String }
        do {
            _ = try await users.post(
                "/internal/v1/audit", body: Entry(actor: actor, action: action, subject: subject, outcome: outcome, detail: detail),
                as: [String: String].self)
        } catch {
            host.logger.error("audit entry lost", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }

    /// Creates the first administrator with a generated password (see `create-admin`).
    func createAdmin(username: String, email: String) async throws -> String {
        let existing = try await directory.byName(username)
        if let existing, try await credentials.hash(for: existing.id) != nil {
            throw KnotError.conflict("the account \"\(username)\" already exists", code: "exists")
        }
        let password = Passwords.generate()
        let hash = try await passwords.hash(password)
        // An account without a credential is what an interrupted earlier run leaves: finish it.
        let user: UserRecord
        if let existing {
            user = existing
        } else {
            user = try await users.post(
                "/internal/v1/users",
                body: NewAccount(username: username, email: email, fullName: "Administrator", active: true, admin: true),
                as: UserRecord.self)
        }
        try await credentials.set(userID: user.id, hash: hash)
        return password
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        switch self {
        case .some(let value): return try await transform(value)
        case .none: return nil
        }
    }
}
