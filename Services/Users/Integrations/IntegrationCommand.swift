import Foundation
import KnotConfig

/// `knot-users integration-config <tool>`: prints the configuration Knot
/// generates for a tool (what the admin endpoint returns), for the chart's or
/// compose's start-up to write to a file. Needs only the environment, not the
/// database. Exit status 2 with one line on standard error otherwise.
enum IntegrationCommand {
    static func runIfAsked(_ arguments: [String] = CommandLine.arguments) {
        guard arguments.count >= 2, arguments[1] == "integration-config" else { return }
        func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("knot-users integration-config: \(message)\n".utf8))
            exit(2)
        }
        guard arguments.count == 3 else { fail("usage: knot-users integration-config <\(IntegrationsAPI.generated.joined(separator: "|"))>") }
        let environment = ProcessInfo.processInfo.environment
        do {
            let settings = try IntegrationSettings.from(environment, issuer: try issuer(environment))
            guard IntegrationsAPI.generated.contains(arguments[2]) else { fail("unknown tool \"\(arguments[2])\"") }
            guard let text = IntegrationsAPI.config(settings, tool: arguments[2]) else { fail("\(arguments[2]) is not configured") }
            FileHandle.standardOutput.write(Data(text.utf8))
            exit(0)
        } catch {
            fail("\(error)")
        }
    }

    /// Knot's issuer from `KNOT_DOMAIN` and `KNOT_PUBLIC_PORT`, as identity derives it.
    static func issuer(_ environment: [String: String]) throws -> String {
        let env = KnotEnvironment(environment)
        let domain = env.string("KNOT_DOMAIN", default: "knot.localhost").lowercased()
        let port = try env.port("KNOT_PUBLIC_PORT", default: 8443)
        return port == 443 ? "https://\(domain)" : "https://\(domain):\(port)"
    }
}
