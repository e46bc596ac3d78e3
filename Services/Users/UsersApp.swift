import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotInternalClient
import KnotModels
import KnotRuntime
import KnotServiceKit

/// The users service: who exists, what they may do, their teams, messages and
/// audit trail, and their space in the runtime. Public routes are under
/// `/api/v1/users` (through the edge, with an identity assertion); identity and
/// the launcher use `/internal/v1/…`.
struct UsersApp: Sendable {
    let host: ServiceHost
    let runtime: any ServiceRuntime
    var store: UserStore { UserStore(database: host.database) }
    var teams: TeamStore { TeamStore(database: host.database) }
    var messages: MessageStore { MessageStore(database: host.database, retention: messageRetention) }
    var audit: AuditLog { AuditLog(database: host.database) }
    var spaces: SpaceKeeper {
        SpaceKeeper(runtime: runtime, store: store, settings: host.settings, logger: host.logger, integrations: integrationKeeper)
    }
    /// The integrated tools (Integrations/): which are configured, and what each profile needs of them.
    var integrations = IntegrationSettings.none
    var integrationKeeper: IntegrationKeeper?
    var identity: InternalClient { host.client(for: "identity") }
    var launcher: InternalClient { host.client(for: "launcher") }
    var messageRetention: TimeInterval = 30 * 86400
    /// On deletion, a person's private folder is moved to `<files>/archive/` (true) or left where it is.
    var archiveFilesOnDelete = true

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let runtime = self.runtime
        let router = host.makeRouter(extraReadiness: [("runtime", { await runtime.readinessProblem() })])
        let api = host.userAPI(router, "/api/v1/users")
        IntegrationsAPI(settings: integrations).register(on: api)
        PeopleAPI(app: self).register(on: api)
        TeamsAPI(app: self).register(on: api.group("teams"))
        UsersOpenAPI.document.register(on: api)
        registerInternal(router)
        return router
    }

    func registerInternal(_ router: Router<KnotRequestContext>) {
        let limit = host.settings.maxJSONBody
        host.internalAPI(router, "/internal/v1/audit").post("") { request, _ in
            let entry = try await request.decodeJSON(AuditLog.Entry.self, limit: limit)
            try await audit.record(entry)
            return JSONResponse(.created, ["status": "recorded"])
        }
        host.internalAPI(router, "/internal/v1/messages", allowed: ["launcher", "files", "identity"]).post("") { request, _ in
            struct Body: Decodable { var username, kind, text: String }
            let body = try await request.decodeJSON(Body.self, limit: limit)
            guard let user = try await store.find(username: body.username) else { throw KnotError.notFound("no such user") }
            // A message to a team goes to each of its members.
            if user.isTeam {
                for member in try await teams.members(of: user.id) {
                    if let person = try await store.find(username: member.username) {
                        try await messages.post(user: person.id, kind: body.kind, text: "\(user.username): \(body.text)")
                    }
                }
            } else {
                try await messages.post(user: user.id, kind: body.kind, text: body.text)
            }
            return JSONResponse(.created, ["status": "posted"])
        }

        let internalAPI = host.internalAPI(router, "/internal/v1/users")
        internalAPI.post("") { request, context in
            guard context.caller == "identity" else { throw KnotError.forbidden("only identity creates accounts") }
            let body = try await request.decodeJSON(NewAccount.self, limit: limit)
            let username = body.username
            let email = body.email.trimmingCharacters(in: .whitespaces)
            let fullName = (body.fullName ?? "").trimmingCharacters(in: .whitespaces)
            try UserValidation.checkUsername(username)
            try UserValidation.checkEmail(email)
            try UserValidation.checkFullName(fullName)
            let user = try await store.create(
                username: username, email: email, fullName: fullName, active: body.active ?? false, admin: body.admin ?? false)
            if user.active { await spaces.reconcile(user, report: false) }
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
        internalAPI.get(":id/teams") { _, context in
            JSONResponse(.ok, ["teams": try await teams.memberships(of: try userID(context))])
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
    }

    func userID(_ context: KnotRequestContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            throw KnotError.badRequest("the user id must be a UUID")
        }
        return id
    }

    /// Tells the launcher to act on everything a profile runs. A launcher that
    /// cannot be reached is logged, not fatal: the account change stands.
    func services(of owner: String, _ action: String, context: KnotRequestContext) async {
        do {
            switch action {
            case "remove": try await launcher.delete("/internal/v1/owners/\(owner)")
            default: _ = try await launcher.post("/internal/v1/owners/\(owner)/\(action)", body: Empty(), as: [String: Int].self)
            }
        } catch {
            context.logger.error("the launcher did not act on a profile's services", metadata: ["owner": "\(owner)", "action": "\(action)", "error": "\(error)"])
        }
    }

    /// Sessions, refresh tokens and API tokens end now. Should identity be
    /// unreachable, its own check of the active flag ends them within seconds.
    func endSessions(of user: UserRecord, context: KnotRequestContext) async {
        do {
            _ = try await identity.post(
                "/internal/v1/users/\(user.id.uuidString.lowercased())/revoke", body: Empty(), as: [String: String].self)
        } catch {
            context.logger.error("could not end an account's sessions", metadata: ["username": "\(user.username)", "error": "\(error)"])
        }
    }

    func record(_ actor: String, _ action: String, _ subject: String, detail: String = "") async {
        try? await audit.record(.init(actor: actor, action: action, subject: subject, detail: detail))
    }
}
