import ArgumentParser
import Foundation

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Your personal API tokens.", subcommands: [List.self, Create.self, Revoke.self])

    static let base = "/api/v1/identity/tokens"

    enum Scope: String, ExpressibleByArgument, CaseIterable {
        case full, read
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your live tokens (never their secrets).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.get(TokensCommand.base) }
            try global.show(answer) { object in
                Output.table(list(object, "tokens"), [
                    Column("ID", "id"), Column("NAME", "name"), Column("SCOPE", "scope"), Column("EXPIRES", "expires_at"),
                    Column("LAST USED", "last_used_at"),
                ])
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is shown once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A name to recognise it by.") var name: String
        @Option(help: "full, or read (GET and HEAD only).") var scope: Scope = .full
        @Option(name: .customLong("expires-days"), help: "Days until it expires (1 to 365).") var expiresDays: Int = 90

        func run() async throws {
            let answer = try await global.withAPI { api in
                try await api.post(TokensCommand.base, ["name": name, "scope": scope.rawValue, "expires_in_days": expiresDays] as [String: Any])
            }
            try global.show(answer) { object in
                Output.details(object, [("id", "id"), ("name", "name"), ("scope", "scope"), ("expires", "expires_at")])
                Output.line("token: \(Output.cell(object["token"]))")
                Output.error("Keep the token now: it is not shown again.")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's id (see knotctl tokens list).") var id: String

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.delete(TokensCommand.base + "/" + segment(id)) }
            try global.show(answer) { _ in Output.line("Revoked \(id)") }
        }
    }
}
