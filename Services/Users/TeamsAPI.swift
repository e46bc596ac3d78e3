import Foundation
import Hummingbird
import KnotErrors
import KnotModels
import KnotServiceKit

/// `/api/v1/users/teams`: a team is its own profile (namespace, folder,
/// services). Owners manage members, editors launch and stop the team's
/// services, viewers open them; a member switches to the team's profile at
/// identity (`POST /auth/profile`).
struct TeamsAPI: Sendable {
    let app: UsersApp
    var teams: TeamStore { app.teams }

    struct TeamView: Encodable {
        var team: UserRecord
        var members: [TeamStore.Member]
    }

    func register(on api: RouterGroup<KnotRequestContext>) {
        let limit = app.host.settings.maxJSONBody

        api.get("") { request, context in
            let identity = try context.requireIdentity()
            if identity.admin && request.uri.queryParameters["all"] == "1" {
                return JSONResponse(.ok, TeamList(teams: try await teams.all().map { TeamMembership(team: $0.username, teamID: $0.id, role: "admin") }))
            }
            let person = try await self.person(context)
            return JSONResponse(.ok, TeamList(teams: try await teams.memberships(of: person.id)))
        }
        api.post("") { request, context in
            let identity = try context.requireIdentity()
            guard identity.role == nil else { throw KnotError.forbidden("switch back to your own profile to create a team") }
            let person = try await self.person(context)
            struct NewTeam: Decodable {
                var name: String
                var fullName: String?
                enum CodingKeys: String, CodingKey {
                    case name
                    case fullName = "full_name"
                }
            }
            let body = try await request.decodeJSON(NewTeam.self, limit: limit)
            try UserValidation.checkUsername(body.name)
            // Team names become `groups` in tokens, where "admin" means administrator to every integrated tool.
            guard body.name != "admin" else { throw KnotError.badRequest("a team cannot be called admin", code: "invalid_username") }
            let fullName = (body.fullName ?? "").trimmingCharacters(in: .whitespaces)
            try UserValidation.checkFullName(fullName)
            let team = try await teams.create(name: body.name, fullName: fullName, owner: person.id)
            await app.spaces.reconcile(team, report: false)
            await app.record(person.username, "team.create", team.username)
            return JSONResponse(.created, TeamView(team: team, members: try await teams.members(of: team.id)))
        }
        api.get(":team") { _, context in
            let (team, _) = try await access(context, needs: nil)
            return JSONResponse(.ok, TeamView(team: team, members: try await teams.members(of: team.id)))
        }
        api.post(":team/members") { request, context in
            let (team, actor) = try await access(context, needs: "owner")
            struct Member: Decodable { var username: String; var role: String }
            let body = try await request.decodeJSON(Member.self, limit: limit)
            guard TeamMembership.roles.contains(body.role) else { throw KnotError.badRequest("role must be owner, editor or viewer") }
            guard let member = try await app.store.find(username: body.username), !member.isTeam, member.active else {
                throw KnotError.notFound("no active user \"\(body.username.prefix(64))\"")
            }
            let before = try await teams.role(of: member.id, in: team.id)
            try await teams.setRole(team: team.id, user: member.id, role: body.role)
            if before == nil {
                try? await app.messages.post(user: member.id, kind: "team.added", text: "\(actor) added you to the team \(team.username) as \(body.role)")
            }
            await app.record(actor, before == nil ? "team.member.add" : "team.member.role", team.username, detail: "\(member.username) as \(body.role)")
            return JSONResponse(.ok, TeamView(team: team, members: try await teams.members(of: team.id)))
        }
        api.delete(":team/members/:username") { _, context in
            let username = try context.parameters.require("username")
            let person = try await self.person(context)
            // Anyone may leave; removing someone else is for owners (and admins).
            let (team, actor) = try await access(context, needs: person.username == username ? nil : "owner")
            guard let member = try await app.store.find(username: username), try await teams.remove(team: team.id, user: member.id) else {
                throw KnotError.notFound("\(username.prefix(64)) is not in \(team.username)")
            }
            await app.record(actor, "team.member.remove", team.username, detail: username)
            return JSONResponse(.ok, TeamView(team: team, members: try await teams.members(of: team.id)))
        }
        api.delete(":team") { request, context in
            let (team, actor) = try await access(context, needs: "owner")
            guard request.uri.queryParameters["confirm"].map(String.init) == team.username else {
                throw KnotError.badRequest(
                    "deleting \(team.username) removes its services and space; repeat the name as ?confirm=\(team.username)",
                    code: "confirmation_required")
            }
            await app.services(of: team.username, "remove", context: context)
            do {
                try await app.spaces.remove(team)
            } catch {
                throw KnotError.unavailable("the team's space could not be removed yet (\(error)); nothing was deleted, try again")
            }
            _ = try await app.store.delete(id: team.id)
            await app.record(actor, "team.delete", team.username)
            return JSONResponse(.ok, ["status": "deleted"])
        }
    }

    struct TeamList: Encodable { var teams: [TeamMembership] }

    /// The human behind the request: acting as a team, that is the member (`act`).
    func person(_ context: KnotRequestContext) async throws -> UserRecord {
        let identity = try context.requireIdentity()
        let name = identity.role != nil ? (identity.act?.username ?? identity.username) : identity.username
        guard let user = try await app.store.find(username: name), !user.isTeam else { throw KnotError.unauthorized() }
        return user
    }

    /// The team named in the path, if the person may see it (any member, or an
    /// admin) and, with `needs`, holds that role. Returns the actor's name.
    func access(_ context: KnotRequestContext, needs role: String?) async throws -> (UserRecord, String) {
        let identity = try context.requireIdentity()
        let name = try context.parameters.require("team")
        let person = try await self.person(context)
        guard let team = try await teams.team(named: name) else { throw KnotError.notFound("no team \"\(name.prefix(64))\"") }
        // Admin rights count only for an admin acting as themselves.
        let isAdmin = identity.admin && identity.role == nil && identity.act == nil
        let held = try await teams.role(of: person.id, in: team.id)
        guard isAdmin || held != nil else { throw KnotError.notFound("no team \"\(name.prefix(64))\"") }
        if let role, !isAdmin, held != role {
            throw KnotError.forbidden("only the team's \(role)s may do this; you are \(held ?? "not a member")")
        }
        return (team, person.username)
    }
}
