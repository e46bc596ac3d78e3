import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `knotctl login`: takes a personal API token (flag, standard input, or
/// pasted after opening the dashboard's token page), checks it against the
/// API, and stores address, token and CA file in the configuration file (0600).
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store Knot's address and a personal API token, after checking them.",
        discussion: """
            The token comes from --token, KNOT_TOKEN, or standard input (a pipe: the first line; \
            a terminal: knotctl prints the dashboard's token page to open, then reads the token you paste).
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let environment = global.environment
        let stored = try ConfigFile.load(from: global.configPath)
        guard let rawURL = global.url ?? environment["KNOT_URL"] ?? stored?.url else {
            throw KnotctlError.usage("give Knot's address with --url")
        }
        let url = Settings.normalisedURL(rawURL)
        var token = global.token ?? environment["KNOT_TOKEN"]
        if token == nil {
            if isatty(STDIN_FILENO) == 1 {
                Output.error("Open \(url)/#/tokens in your browser, create a token, and paste it here:")
            }
            token = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces)
        }
        guard let token, !token.isEmpty else { throw KnotctlError.usage("no token given (use --token, KNOT_TOKEN or standard input)") }
        let caFile = (global.caFile ?? environment["KNOT_CA_FILE"] ?? stored?.caFile).map { path in
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
        let settings = Settings(url: url, token: token, caFile: caFile)
        let answer = try await APIClient.with(settings) { api in try await api.get("/api/v1/identity/session") }
        let session = try answer.object()
        try ConfigFile(url: url, token: token, caFile: caFile).save(to: global.configPath)
        if global.json {
            Output.json(answer.body)
        } else {
            let who = Output.cell(session["username"])
            Output.line("Logged in to \(url) as \(who)\(session["admin"] as? Bool == true ? " (admin)" : ""); saved in \(global.configPath)")
        }
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget the stored token (the token itself stays valid; revoke it with knotctl tokens revoke).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard var stored = try ConfigFile.load(from: global.configPath) else { return }
        stored.token = nil
        try stored.save(to: global.configPath)
        if !global.json { Output.line("Token removed from \(global.configPath)") }
    }
}

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Who the token belongs to.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let answer = try await global.withAPI { api in try await api.get("/api/v1/identity/session") }
        try global.show(answer) { session in
            Output.details(session, [("user", "username"), ("admin", "admin"), ("acting for", "actor"), ("role", "role")])
        }
    }
}

/// `knotctl config`: what the settings resolve to and where each came from (never the token itself).
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Show the settings in effect and where each comes from.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let settings = try global.settings()
        var object: [String: Any] = ["config_file": global.configPath, "token_set": settings.token != nil]
        object["url"] = settings.url
        object["ca_file"] = settings.caFile
        object["sources"] = settings.sources
        if global.json {
            Output.json(object: object)
        } else {
            Output.line("url:         \(settings.url ?? "(none)")  [\(settings.sources["url"] ?? "-")]")
            Output.line("token:       \(settings.token == nil ? "(none)" : "set")  [\(settings.sources["token"] ?? "-")]")
            Output.line("ca file:     \(settings.caFile ?? "(none)")  [\(settings.sources["ca_file"] ?? "-")]")
            Output.line("config file: \(global.configPath)")
        }
    }
}
