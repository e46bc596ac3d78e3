import ArgumentParser
import Foundation

/// The options every command takes (after the command's name: `knotctl services list --output json`).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Knot's address, e.g. https://knot.example.org (else KNOT_URL, else the configuration file).")
    var url: String?

    @Option(name: .long, help: "A personal API token (else KNOT_TOKEN, else the configuration file). Prefer KNOT_TOKEN: flags show in ps.")
    var token: String?

    @Option(name: .customLong("ca-file"), help: "A PEM file with the CA that signed Knot's certificate, for a private CA (else KNOT_CA_FILE).")
    var caFile: String?

    @Option(name: [.short, .long], help: "table (for people) or json (the API's JSON, for scripts).")
    var output: OutputFormat = .table

    var environment: [String: String] { ProcessInfo.processInfo.environment }
    var configPath: String { ConfigFile.path(environment: environment) }

    /// Flags, then environment, then the configuration file.
    func settings() throws -> Settings {
        Settings.resolve(
            flags: .init(url: url, token: token, caFile: caFile), environment: environment, file: try ConfigFile.load(from: configPath))
    }

    func withAPI<T>(requireToken: Bool = true, _ body: (APIClient) async throws -> T) async throws -> T {
        try await APIClient.with(try settings(), requireToken: requireToken, body)
    }

    var json: Bool { output == .json }

    /// Prints an answer: its JSON as is, or what `table` makes of it.
    func show(_ answer: APIClient.Answer, table: ([String: Any]) -> Void) throws {
        if json {
            Output.json(answer.body)
        } else {
            table(try answer.object())
        }
    }
}
