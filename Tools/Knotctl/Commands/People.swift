import ArgumentParser
import Foundation

/// `knotctl users`: the administrators' commands (the API refuses others: exit 3).
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "People (administrators only).",
        subcommands: [List.self, Activate.self, Deactivate.self, Promote.self, Demote.self])

    static let columns = [
        Column("USERNAME", "username"), Column("NAME", "full_name"), Column("EMAIL", "email"), Column("KIND", "kind"),
        Column("ACTIVE", "active"), Column("ADMIN", "admin"),
    ]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List people and teams.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only those whose name or email contains this.") var search: String?

        func run() async throws {
            let answer = try await global.withAPI { api in
                try await api.get("/api/v1/users", query: search.map { [("q", $0)] } ?? [])
            }
            try global.show(answer) { Output.table(list($0, "users"), UsersCommand.columns) }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activate an account.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The username.") var username: String
        func run() async throws { try await UsersCommand.action(global, username, "activate") }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deactivate an account (ends its sessions and tokens, stops its services).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The username.") var username: String
        func run() async throws { try await UsersCommand.action(global, username, "deactivate") }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make someone an administrator.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The username.") var username: String
        func run() async throws { try await UsersCommand.action(global, username, "promote") }
    }

    struct Demote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take administrator rights away.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The username.") var username: String
        func run() async throws { try await UsersCommand.action(global, username, "demote") }
    }

    static func action(_ global: GlobalOptions, _ username: String, _ verb: String) async throws {
        let answer = try await global.withAPI { api in try await api.post("/api/v1/users/" + segment(username) + "/" + verb) }
        try global.show(answer) { Output.table([$0], columns) }
    }
}

struct TeamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teams", abstract: "Teams you belong to (administrators: all teams).",
        subcommands: [List.self, Create.self, AddMember.self, RemoveMember.self])

    static let base = "/api/v1/users/teams"

    static func showTeam(_ view: [String: Any]) {
        let team = view["team"] as? [String: Any] ?? [:]
        Output.line("team: \(Output.cell(team["username"]))")
        Output.table(list(view, "members"), [Column("MEMBER", "username"), Column("ROLE", "role")])
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List teams.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.get(TeamsCommand.base) }
            try global.show(answer) { Output.table(list($0, "teams"), [Column("TEAM", "team"), Column("ROLE", "role")]) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a team, with you as its owner.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The team's name (a username: it gets its own space).") var name: String
        @Option(name: .customLong("full-name"), help: "A longer name.") var fullName: String?

        func run() async throws {
            let answer = try await global.withAPI { api in
                try await api.post(TeamsCommand.base, ["name": name, "full_name": fullName ?? ""])
            }
            try global.show(answer) { TeamsCommand.showTeam($0) }
        }
    }

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case owner, editor, viewer
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Add someone to a team, or change their role.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The team.") var team: String
        @Argument(help: "The person's username.") var username: String
        @Option(help: "owner, editor or viewer.") var role: Role = .editor

        func run() async throws {
            let answer = try await global.withAPI { api in
                try await api.post(TeamsCommand.base + "/" + segment(team) + "/members", ["username": username, "role": role.rawValue])
            }
            try global.show(answer) { TeamsCommand.showTeam($0) }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Remove someone from a team.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The team.") var team: String
        @Argument(help: "The person's username.") var username: String

        func run() async throws {
            let answer = try await global.withAPI { api in
                try await api.delete(TeamsCommand.base + "/" + segment(team) + "/members/" + segment(username))
            }
            try global.show(answer) { TeamsCommand.showTeam($0) }
        }
    }
}
