import HTTPTypes
import Foundation
import Hummingbird
import KnotErrors
import KnotInternalClient
import KnotModels
import KnotRuntime
import KnotServiceKit

/// The users service: who exists and what they may do. Public routes are
/// under `/api/v1/users` (through the edge, with an identity assertion);
/// identity creates and looks up accounts over `/internal/v1/users`.
struct UsersApp: Sendable {
    let host: ServiceHost
    let runtime: any ServiceRuntime
    var store: UserStore { UserStore(database: host.database) }
    var audit: AuditLog { AuditLog(database: host.database) }

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let runtime = self.runtime
        let router = host.makeRouter(extraReadiness: [("runtime", { await runtime.readinessProblem() })])
        let limit = host.settings.maxJSONBody

        let api = host.userAPI(router, "/api/v1/users")
        api.get("me") { _, context in
            let identity = try context.requireIdentity()
            guard let user = try await store.find(username: identity.username) else {
                throw KnotError.notFound("your account no longer exists")
            }
            return JSONResponse(.ok, user)
        }
        api.get("") { _, context in
            _ = try context.requireAdmin()
            return JSONResponse(.ok, ["users": try await store.list()])
        }
        api.get("audit") { request, context in
            let identity = try context.requireIdentity()
            let limit = min(max(Int(request.uri.queryParameters["limit"].map(String.init) ?? "") ?? 100, 1), 1000)
            let query = request.uri.queryParameters["q"].map(String.init).flatMap { $0.isEmpty ? nil : String($0.prefix(100)) }
            // Admins see everything (or one person's entries); everyone else only entries about themselves.
            let about = identity.admin ? request.uri.queryParameters["user"].map(String.init) : identity.username
            return JSONResponse(.ok, ["entries": try await audit.search(about: about, query: query, limit: limit)])
        }
        api.post(":username/activate") { _, context in
            try await setActive(context: context, active: true)
        }
        api.post(":username/deactivate") { _, context in
            try await setActive(context: context, active: false)
        }

        host.internalAPI(router, "/internal/v1/audit").post("") { request, context in
            let entry = try await request.decodeJSON(AuditLog.Entry.self, limit: limit)
            try await audit.record(entry)
            return JSONResponse(.created, ["status": "recorded"])
        }

        let internalAPI = host.internalAPI(router, "/internal/v1/users")
        internalAPI.post("") { request, context in
            guard context.caller == "identity" else { throw KnotError.forbidden("only identity creates accounts, not \(context.caller ?? "nobody")") }
            let body = try await request.decodeJSON(NewAccount.self, limit: limit)
            let username = body.username
            let email = body.email.trimmingCharacters(in: .whitespaces)
            let fullName = (body.fullName ?? "").trimmingCharacters(in: .whitespaces)
            try UserValidation.checkUsername(username)
            try UserValidation.checkEmail(email)
            try UserValidation.checkFullName(fullName)
            let user = try await store.create(
                username: username, email: email, fullName: fullName, active: body.active ?? false, admin: body.admin ?? false)
            if user.active { try await provision(user) }
            context.logger.info("account created", metadata: ["username": "\(username)", "active": "\(user.active)"])
            return JSONResponse(.created, user)
        }
        internalAPI.get("by-name/:username") { _, context in
            let username = try context.parameters.require("username")
            guard let user = try await store.find(username: username) else {
                throw KnotError.notFound("no user \"\(username.prefix(64))\"")
            }
            return JSONResponse(.ok, user)
        }
        internalAPI.get("by-email/:email") { _, context in
            let email = try context.parameters.require("email")
            guard let user = try await store.find(email: email) else { throw KnotError.notFound("no user with that e-mail address") }
            return JSONResponse(.ok, user)
        }
        internalAPI.get(":id") { _, context in
            guard let user = try await store.find(id: try userID(context)) else { throw KnotError.notFound("no such user") }
            return JSONResponse(.ok, user)
        }
        internalAPI.post(":id/login") { _, context in
            try await store.recordLogin(id: try userID(context))
            return JSONResponse(.ok, ["status": "recorded"])
        }
        internalAPI.delete(":id") { _, context in
            guard context.caller == "identity" else { throw KnotError.forbidden("only identity removes unfinished sign-ups") }
            guard try await store.delete(id: try userID(context)) else { throw KnotError.notFound("no such user") }
            return JSONResponse(.ok, ["status": "deleted"])
        }
        return router
    }

    func userID(_ context: KnotRequestContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            throw KnotError.badRequest("the user id must be a UUID")
        }
        return id
    }

    func setActive(context: KnotRequestContext, active: Bool) async throws -> JSONResponse<UserRecord> {
        let admin = try context.requireAdmin()
        let username = try context.parameters.require("username")
        if !active && username == admin.username {
            throw KnotError.conflict("you cannot deactivate your own account")
        }
        guard let user = try await store.setActive(username: username, active: active) else {
            throw KnotError.notFound("no user \"\(username.prefix(64))\"")
        }
        if active {
            try await provision(user)
        } else {
            // Sessions and tokens end now. Should identity be unreachable, its
            // own check of the active flag still ends them within seconds.
            do {
                _ = try await host.client(for: "identity").post(
                    "/internal/v1/users/\(user.id.uuidString.lowercased())/revoke", body: Empty(), as: [String: String].self)
            } catch {
                context.logger.error("could not end the sessions of a deactivated account", metadata: ["username": "\(user.username)", "error": "\(error)"])
            }
        }
        try? await audit.record(
            .init(actor: admin.username, action: active ? "user.activate" : "user.deactivate", subject: user.username))
        context.logger.info(
            active ? "account activated" : "account deactivated",
            metadata: ["subject": "\(username)", "actor": "\(admin.username)"])
        return JSONResponse(.ok, user)
    }

    /// Gives an active user their space in the runtime (namespace, folders).
    func provision(_ user: UserRecord) async throws {
        let settings = host.settings
        do {
            try await runtime.provision(
                RuntimeUser(
                    username: user.username, namespace: user.namespace,
                    privateDirectory: settings.privateDirectory(of: user.username),
                    sharedDirectory: settings.sharedDirectory))
        } catch {
            host.logger.error("provisioning failed", metadata: ["username": "\(user.username)", "error": "\(error)"])
            throw KnotError.unavailable("the account is active but its space could not be prepared yet: \(error)")
        }
    }
}
