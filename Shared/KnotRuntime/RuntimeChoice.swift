import Foundation
import KnotKubernetes
import Logging

/// Picks the runtime from `KNOT_RUNTIME`: `local` (the default, one machine)
/// or `kubernetes`. A configuration that cannot work is refused here, at
/// start-up, with one sentence that says what to fix.
public enum RuntimeChoice {
    public static func make(
        environment: [String: String], dataDirectory: String, filesRoot: String, logger: Logger
    ) throws -> any ServiceRuntime {
        switch environment["KNOT_RUNTIME"]?.lowercased() ?? "local" {
        case "", "local":
            return LocalRuntime(logDirectory: dataDirectory + "/runtime", logger: logger)
        case "kubernetes":
            let configuration = try KubernetesConfiguration.fromEnvironment(environment)
            let settings = try KubernetesRuntimeSettings.fromEnvironment(environment, filesRoot: filesRoot)
            let client = try KubernetesClient(configuration: configuration, logger: logger)
            logger.info("Kubernetes runtime", metadata: ["server": "\(configuration.server)", "from": "\(configuration.source)"])
            return KubernetesRuntime(client: client, settings: settings, logger: logger)
        case let other:
            throw KubernetesConfigError("KNOT_RUNTIME must be local or kubernetes, not \"\(other)\"")
        }
    }

    /// For a service's `main`: the runtime, or one line on standard error and exit status 2.
    public static func makeOrExit(
        program: String, environment: [String: String] = ProcessInfo.processInfo.environment, dataDirectory: String,
        filesRoot: String, logger: Logger
    ) -> any ServiceRuntime {
        do {
            return try make(environment: environment, dataDirectory: dataDirectory, filesRoot: filesRoot, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            exit(2)
        }
    }
}
