import Foundation
import KnotRuntime
import KnotServiceKit

@main
struct LauncherMain {
    static func main() async throws {
        let host = try await ServiceHost.bootstrap(service: "launcher")
        let runtime = RuntimeChoice.makeOrExit(
            program: "knot-\(host.settings.serviceName)", dataDirectory: host.settings.dataDirectory,
            filesRoot: host.settings.filesRoot, logger: host.logger)
        let templates = TemplateCatalogue.load(
            builtins: try BuiltinTemplates.load(), folders: ProcessInfo.processInfo.environment[TemplateCatalogue.variable],
            logger: host.logger)
        let app = LauncherApp(host: host, runtime: runtime, templates: templates)
        try await host.run(
            app.makeApplication(),
            background: [
                host.migrationService(LauncherSchema.migrations) { try await app.resume() },
                SupervisorService(supervisor: app.supervisor, interval: .seconds(2)),
            ])
    }
}
