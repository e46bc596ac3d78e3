import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `knotctl`: Knot's command-line client. It talks only to the public API
/// through the edge (`/api/v1/...`) with a personal API token, exactly as any
/// other client does; see docs/knotctl.md.
@main
struct Knotctl: AsyncParsableCommand {
    static let version = "1.0.0"

    static let configuration = CommandConfiguration(
        commandName: "knotctl",
        abstract: "Knot's command-line client: services, templates, files, tokens, users and teams.",
        discussion: """
            Configuration, first found wins: the flags --url/--token/--ca-file; the environment \
            KNOT_URL, KNOT_TOKEN, KNOT_CA_FILE (Knot sets the first two in every service it starts, so a \
            notebook needs no setup); the file written by `knotctl login` ($KNOT_CONFIG, default \
            ~/.config/knot/config.json, mode 0600).

            Output: --output table (default) or --output json (the API's JSON, stable for scripts). \
            Errors go to standard error with the API's message.

            Exit codes:
              0  success
              1  any other error (API error, network, local file)
              2  usage: the command line is wrong
              3  not logged in, or not allowed (HTTP 401/403)
              4  not found (HTTP 404)
              5  conflict (HTTP 409), e.g. a name already taken

            Shell completion: knotctl --generate-completion-script bash|zsh|fish
            """,
        version: version,
        subcommands: [
            Login.self, Logout.self, WhoAmI.self, ConfigCommand.self,
            ServicesCommand.self, TemplatesCommand.self, FilesCommand.self,
            TokensCommand.self, UsersCommand.self, TeamsCommand.self,
        ]
    )

    /// Runs the command with knotctl's own exit codes: the argument parser's
    /// usage errors exit 2 (it would say 64), API errors by their HTTP status.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let error as KnotctlError {
            Output.error("knotctl: " + Output.sanitise(error.message))
            if error.status == .usage { Output.error("Run knotctl help for usage.") }
            Foundation.exit(error.status.rawValue)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version, completion scripts: the parser prints them.
                exit(withError: error)
            }
            if code == .validationFailure {
                Output.error(fullMessage(for: error))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            Output.error("knotctl: \(error)")
            Foundation.exit(ExitStatus.failure.rawValue)
        }
    }
}
