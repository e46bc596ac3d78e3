import HTTPTypes
import Foundation
import Hummingbird
import KnotAuth
import KnotErrors
import KnotInternalClient
import KnotModels
import KnotServiceKit

/// The identity service: credentials, sign-up, sign-in, browser sessions and
/// the identity assertions every other service trusts.
struct IdentityApp: Sendable {
    let host: ServiceHost
    let keys: SigningKeys
    let passwords: Passwords
    let sessionLifetime: TimeInterval
    /// How long the edge may cache a session verdict: the bound on how late a logout or deactivation bites.
    let verdictCacheSeconds: Int
    let assertionLifetime: TimeInterval = 300

    var users: InternalClient { host.client(for: "users") }
    var sessions: SessionStore { SessionStore(database: host.database, lifetime: sessionLifetime) }
    var credentials: CredentialStore { CredentialStore(database: host.database) }
    var pages: Pages { Pages(settings: host.settings) }
    var redirects: RedirectPolicy {
        RedirectPolicy(domain: host.settings.domain, publicPort: host.settings.publicPort, home: host.settings.publicURL + "/")
    }

    struct LoginForm: Decodable {
        var username: String
        var password: String
        var next: String?
    }

    struct SignupForm: Decodable {
        var username: String
        var email: String
        var password: String
        var fullName: String?
        enum CodingKeys: String, CodingKey {
            case username, email, password
            case fullName = "full_name"
        }
    }

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let router = host.makeRouter()
        let auth = router.group("/auth").add(middleware: ReadyGateMiddleware(readiness: host.readiness))

        auth.get("login") { request, _ in
            pages.login(next: redirects.safeTarget(request.uri.queryParameters["next"].map(String.init)))
        }
        auth.post("login") { request, context in try await login(request, context) }
        auth.get("signup") { _, _ in pages.signup() }
        auth.post("signup") { request, context in try await signup(request, context) }
        auth.post("logout") { request, _ in
            if let token = request.cookies[SessionCookie.name]?.value { try await sessions.revoke(token) }
            var response =
                wantsHTML(request)
                ? Response(status: .seeOther, headers: [.location: "/auth/login"])
                : try JSONResponse(.ok, ["status": "signed out"]).makeResponse()
            response.headers.append(HTTPField(name: .setCookie, value: clearedCookie()))
            return response
        }

        let internalAPI = host.internalAPI(router, "/internal/v1")
        internalAPI.get("jwks") { _, _ in JSONResponse(.ok, await keys.jwks()) }
        internalAPI.post("sessions/verify") { request, context in
            guard context.caller == "edge" else { throw KnotError.forbidden("only the edge verifies sessions") }
            struct Body: Decodable { var token: String }
            let body = try await request.decodeJSON(Body.self, limit: 4096)
            return JSONResponse(.ok, try await verify(sessionToken: body.token))
        }
        return router
    }

    // MARK: sign-in

    func login(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let html = isForm(request)
        let form: LoginForm
        do {
            form = try await decodeForm(LoginForm.self, request)
        } catch let error as KnotError where html {
            return pages.login(next: redirects.home, message: error.message, status: error.status)
        }
        let next = redirects.safeTarget(form.next)
        func refuse(_ error: KnotError) throws -> Response {
            if html { return pages.login(next: next, message: error.message, status: error.status) }
            throw error
        }

        let user: UserRecord? = try await lookup(username: form.username)
        let hash = try await user.asyncMap { try await credentials.hash(for: $0.id) } ?? nil
        let matches = try await passwords.verify(form.password, hash: hash ?? Passwords.decoyHash)
        guard let user, hash != nil, matches else {
            context.logger.notice("sign-in refused", metadata: ["username": "\(form.username.prefix(64))"])
            return try refuse(KnotError(.unauthorized, code: "invalid_credentials", message: "wrong username or password"))
        }
        guard user.active else {
            return try refuse(
                KnotError(.forbidden, code: "inactive", message: "your account is waiting for an administrator to activate it"))
        }
        let token = try await sessions.create(userID: user.id)
        try? await users.post("/internal/v1/users/\(user.id.uuidString.lowercased())/login", body: Empty(), as: [String: String].self)
        context.logger.info("signed in", metadata: ["username": "\(user.username)"])

        var response =
            html
            ? Response(status: .seeOther, headers: [.location: next])
            : try JSONResponse(.ok, LoginAnswer(username: user.username, next: next)).makeResponse()
        response.headers.append(HTTPField(name: .setCookie, value: sessionCookie(token)))
        return response
    }

    struct LoginAnswer: Encodable, Sendable {
        var username: String
        var next: String
    }

    func lookup(username: String) async throws -> UserRecord? {
        guard !username.isEmpty, username.count <= 64, username.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            return nil
        }
        do {
            return try await users.get("/internal/v1/users/by-name/\(username)", as: UserRecord.self)
        } catch let error as KnotError where error.status == .notFound {
            return nil
        }
    }

    // MARK: sign-up

    func signup(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let html = isForm(request)
        do {
            let form = try await decodeForm(SignupForm.self, request)
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
            if html { return pages.waitingForActivation(username: user.username) }
            return try JSONResponse(.created, user).makeResponse()
        } catch let error as KnotError where html {
            return pages.signup(message: error.message, status: error.status)
        }
    }

    /// Creates the first administrator with a generated password (see `create-admin`).
    func createAdmin(username: String, email: String) async throws -> String {
        let existing = try await lookup(username: username)
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

    // MARK: verification

    func verify(sessionToken: String) async throws -> SessionVerdict {
        guard let userID = try await sessions.user(for: sessionToken) else {
            throw KnotError.unauthorized("the session has ended")
        }
        let user: UserRecord
        do {
            user = try await users.get("/internal/v1/users/\(userID.uuidString.lowercased())", as: UserRecord.self)
        } catch let error as KnotError where error.status == .notFound {
            throw KnotError.unauthorized("the account no longer exists")
        }
        guard user.active else { throw KnotError.unauthorized("the account is not active") }
        let assertion = IdentityAssertion(
            user: user.id, username: user.username, namespace: user.namespace, admin: user.admin, lifetime: assertionLifetime)
        let token = try await keys.current().sign(assertion)
        return SessionVerdict(
            userID: user.id, username: user.username, admin: user.admin, namespace: user.namespace,
            assertion: token, cacheSeconds: verdictCacheSeconds)
    }

    // MARK: helpers

    func sessionCookie(_ token: String) -> String {
        "\(SessionCookie.name)=\(token); Domain=\(host.settings.domain); Path=/; Max-Age=\(Int(sessionLifetime)); HttpOnly; Secure; SameSite=Lax"
    }

    func clearedCookie() -> String {
        "\(SessionCookie.name)=; Domain=\(host.settings.domain); Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
    }

    func isForm(_ request: Request) -> Bool {
        request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
    }

    func wantsHTML(_ request: Request) -> Bool {
        isForm(request) || (request.headers[.accept]?.contains("text/html") ?? false)
    }

    /// A form post from the pages, or JSON from a script: the same fields either way.
    func decodeForm<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        guard isForm(request) else { return try await request.decodeJSON(T.self, limit: host.settings.maxJSONBody) }
        let collected = try await request.collectBody(limit: host.settings.maxJSONBody)
        do {
            return try URLEncodedFormDecoder().decode(T.self, from: String(buffer: collected))
        } catch let error as DecodingError {
            throw KnotError.badRequest(Request.describeDecodingError(error), code: "invalid_form")
        } catch {
            throw KnotError.badRequest("the form could not be read", code: "invalid_form")
        }
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

