import Foundation
import Hummingbird
import KnotErrors
import KnotInternalClient
import KnotModels
import KnotServiceKit

/// `/api/v1/users`: one's own account, messages and audit view; for admins,
/// everyone's accounts and what can be done to them.
struct PeopleAPI: Sendable {
    let app: UsersApp
    var store: UserStore { app.store }

    struct Profile: Encodable {
        var user: UserRecord
        var teams: [TeamMembership]
        var space: Space
    }

    struct Space: Encodable {
        var state: String
        var detail: String
        var checkedAt: Date?
        enum CodingKeys: String, CodingKey {
            case state, detail
            case checkedAt = "checked_at"
        }
    }

    func profile(_ user: UserRecord) async throws -> Profile {
        let space = try await store.space(id: user.id)
        return Profile(
            user: user, teams: try await app.teams.memberships(of: user.id),
            space: Space(state: space.state, detail: space.detail, checkedAt: space.checked))
    }

    func register(on api: RouterGroup<KnotRequestContext>) {
        let limit = app.host.settings.maxJSONBody

        api.get("me") { _, context in
            let identity = try context.requireIdentity()
            guard let user = try await store.find(username: identity.username) else {
                throw KnotError.notFound("your account no longer exists")
            }
            return JSONResponse(.ok, user)
        }
        api.get("me/profile") { _, context in
            let identity = try context.requireIdentity()
            guard let user = try await store.find(username: identity.username) else {
                throw KnotError.notFound("your account no longer exists")
            }
            return JSONResponse(.ok, try await profile(user))
        }
        api.get("") { request, context in
            _ = try context.requireAdmin()
            let query = request.uri.queryParameters
            let status = query["status"].map(String.init)
            guard status == nil || ["active", "inactive", "admin"].contains(status!) else {
                throw KnotError.badRequest("status must be active, inactive or admin")
            }
            let sort = query["sort"].map(String.init) ?? "username"
            guard ["username", "email", "created", "last_login", "name"].contains(sort) else {
                throw KnotError.badRequest("sort must be username, email, name, created or last_login")
            }
            let users = try await store.search(
                kind: "person", query: try Self.searchTerm(query["q"], name: "q"),
                status: status, sort: sort, descending: query["order"] == "desc",
                limit: min(max(Int(query["limit"].map(String.init) ?? "") ?? 500, 1), 1000),
                offset: max(Int(query["offset"].map(String.init) ?? "") ?? 0, 0))
            return JSONResponse(.ok, ["users": users])
        }
        api.get("audit") { request, context in
            let identity = try context.requireIdentity()
            let query = request.uri.queryParameters
            let limit = min(max(Int(query["limit"].map(String.init) ?? "") ?? 100, 1), 1000)
            let search = try Self.searchTerm(query["q"], name: "q")
            // Admins see everything (or one person's entries); everyone else only entries about themselves.
            let about = identity.admin ? try Self.searchTerm(query["user"], name: "user", limit: 64) : identity.username
            return JSONResponse(.ok, ["entries": try await app.audit.search(about: about, query: search, limit: limit)])
        }

        // Messages.
        api.get("messages") { _, context in
            let user = try await me(context)
            let (messages, unread) = try await app.messages.list(user: user.id, limit: 200)
            return JSONResponse(.ok, MessageList(messages: messages, unread: unread))
        }
        api.post("messages/read") { _, context in
            let user = try await me(context)
            _ = try await app.messages.markRead(user: user.id, id: nil)
            return JSONResponse(.ok, ["status": "read"])
        }
        api.post("messages/:id/read") { _, context in
            let user = try await me(context)
            guard let id = context.parameters.get("id").flatMap(Int64.init) else { throw KnotError.badRequest("the message id is a number") }
            guard try await app.messages.markRead(user: user.id, id: id) else { throw KnotError.notFound("no such message") }
            return JSONResponse(.ok, ["status": "read"])
        }

        // One account.
        api.get(":username") { _, context in
            let identity = try context.requireIdentity()
            let username = try context.parameters.require("username")
            guard identity.admin || identity.username == username else { throw KnotError.forbidden("you may read only your own account") }
            return JSONResponse(.ok, try await profile(try person(username)))
        }
        api.patch(":username") { request, context in
            let admin = try context.requireAdmin()
            let username = try context.parameters.require("username")
            struct Change: Decodable {
                var email: String?
                var fullName: String?
                enum CodingKeys: String, CodingKey {
                    case email
                    case fullName = "full_name"
                }
            }
            let change = try await request.decodeJSON(Change.self, limit: limit)
            let email = change.email?.trimmingCharacters(in: .whitespaces)
            let fullName = change.fullName?.trimmingCharacters(in: .whitespaces)
            if let email { try UserValidation.checkEmail(email) }
            if let fullName { try UserValidation.checkFullName(fullName) }
            _ = try await person(username)
            guard let user = try await store.update(username: username, email: email, fullName: fullName) else {
                throw KnotError.notFound("no user \"\(username.prefix(64))\"")
            }
            await app.record(admin.username, "user.edit", username, detail: [email.map { _ in "email" }, fullName.map { _ in "name" }].compactMap { $0 }.joined(separator: ", "))
            return JSONResponse(.ok, user)
        }
        api.post(":username/activate") { _, context in try await setActive(context, true) }
        api.post(":username/deactivate") { _, context in try await setActive(context, false) }
        api.post(":username/promote") { _, context in try await setAdmin(context, true) }
        api.post(":username/demote") { _, context in try await setAdmin(context, false) }
        api.post(":username/reconcile") { _, context in
            let admin = try context.requireAdmin()
            let user = try await person(try context.parameters.require("username"))
            guard user.active else { throw KnotError.conflict("the account is not active; it has no space to reconcile", code: "inactive") }
            let (state, changes) = await app.spaces.reconcile(user)
            await app.record(admin.username, "space.reconcile", user.username, detail: changes.joined(separator: "; "))
            return JSONResponse(.ok, Reconciled(state: state, changes: changes))
        }
        api.delete(":username") { request, context in
            let admin = try context.requireAdmin()
            let username = try context.parameters.require("username")
            // Deleting is for good: the request must name the account twice.
            guard request.uri.queryParameters["confirm"].map(String.init) == username else {
                throw KnotError.badRequest(
                    "deleting \(username.prefix(64)) removes its services and space; repeat the name as ?confirm=\(username.prefix(64))",
                    code: "confirmation_required")
            }
            guard username != admin.username else { throw KnotError.conflict("you cannot delete your own account") }
            let user = try await person(username)
            try await delete(user, context: context)
            await app.record(admin.username, "user.delete", username)
            return JSONResponse(.ok, ["status": "deleted"])
        }
    }

    /// A search term from the query string, cut to `limit` characters. Control
    /// characters are refused with 400: PostgreSQL rejects NUL in text, which
    /// was a 500 (found by the OpenAPI fuzz test).
    static func searchTerm(_ raw: Substring?, name: String, limit: Int = 100) throws -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        let term = String(raw.prefix(limit))
        guard !term.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw KnotError.badRequest("\(name) must not contain control characters", code: "invalid_query")
        }
        return term
    }

    struct MessageList: Encodable {
        var messages: [MessageStore.Message]
        var unread: Int
    }

    struct Reconciled: Encodable {
        var state: String
        var changes: [String]
    }

    func me(_ context: KnotRequestContext) async throws -> UserRecord {
        let identity = try context.requireIdentity()
        guard let user = try await store.find(username: identity.username) else { throw KnotError.notFound("your account no longer exists") }
        return user
    }

    func person(_ username: String) async throws -> UserRecord {
        guard let user = try await store.find(username: username), !user.isTeam else {
            throw KnotError.notFound("no user \"\(username.prefix(64))\"")
        }
        return user
    }

    func setActive(_ context: KnotRequestContext, _ active: Bool) async throws -> JSONResponse<UserRecord> {
        let admin = try context.requireAdmin()
        let username = try context.parameters.require("username")
        if !active && username == admin.username { throw KnotError.conflict("you cannot deactivate your own account") }
        let before = try await person(username)
        guard let user = try await store.setActive(username: username, active: active) else {
            throw KnotError.notFound("no user \"\(username.prefix(64))\"")
        }
        if active {
            // The account is active even if its space has to wait for the runtime: the state says so.
            await app.spaces.reconcile(user, report: false)
            if !before.active {
                try? await app.messages.post(user: user.id, kind: "account.activated", text: "Your account is active. Welcome to Knot.")
                await app.services(of: username, "resume", context: context)
            }
        } else if before.active {
            await app.endSessions(of: user, context: context)
            await app.services(of: username, "stop", context: context)
        }
        await app.record(admin.username, active ? "user.activate" : "user.deactivate", username)
        context.logger.info(active ? "account activated" : "account deactivated", metadata: ["subject": "\(username)", "actor": "\(admin.username)"])
        return JSONResponse(.ok, user)
    }

    func setAdmin(_ context: KnotRequestContext, _ admin: Bool) async throws -> JSONResponse<UserRecord> {
        let actor = try context.requireAdmin()
        let username = try context.parameters.require("username")
        if !admin && username == actor.username { throw KnotError.conflict("you cannot demote yourself; ask another administrator") }
        _ = try await person(username)
        guard let user = try await store.setAdmin(username: username, admin: admin) else {
            throw KnotError.notFound("no user \"\(username.prefix(64))\"")
        }
        // The admin file domain follows the role at once (claim added, or withdrawn).
        if user.active { await app.spaces.reconcile(user, report: false) }
        await app.record(actor.username, admin ? "user.promote" : "user.demote", username)
        return JSONResponse(.ok, user)
    }

    /// Services, space and sessions go; the files are archived or kept as configured; then the account.
    func delete(_ user: UserRecord, context: KnotRequestContext) async throws {
        for membership in try await app.teams.memberships(of: user.id) where membership.role == "owner" {
            let owners = try await app.teams.members(of: membership.teamID).filter { $0.role == "owner" }
            if owners.count == 1 {
                throw KnotError.conflict(
                    "\(user.username) is the only owner of the team \(membership.team); make someone else owner first", code: "last_owner")
            }
        }
        await app.services(of: user.username, "remove", context: context)
        await app.endSessions(of: user, context: context)
        do {
            try await app.spaces.remove(user)
        } catch {
            throw KnotError.unavailable("the account's space could not be removed yet (\(error)); nothing was deleted, try again")
        }
        if app.archiveFilesOnDelete { archiveFiles(of: user, context: context) }
        _ = try await store.delete(id: user.id)
    }

    func archiveFiles(of user: UserRecord, context: KnotRequestContext) {
        let settings = app.host.settings
        let source = settings.privateDirectory(of: user.username)
        guard FileManager.default.fileExists(atPath: source) else { return }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let archive = "\(settings.filesRoot)/archive"
        do {
            try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: source, toPath: "\(archive)/\(user.username)-\(stamp)")
        } catch {
            context.logger.error("could not archive a deleted account's files; they stay in place", metadata: ["error": "\(error)"])
        }
    }
}
