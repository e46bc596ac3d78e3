import Foundation
import KnotRuntime
import KnotServiceKit

@main
struct LauncherMain {
    static func main() async { await ServiceHost.exitOnFailure(service: "launcher", start) }

    static func start() async throws {
        let host = try await ServiceHost.bootstrap(service: "launcher")
        let runtime = RuntimeChoice.makeOrExit(
            program: "knot-\(host.settings.serviceName)", dataDirectory: host.settings.dataDirectory,
            filesRoot: host.settings.filesRoot, logger: host.logger)
        let environment = ProcessInfo.processInfo.environment
        let settings = try LauncherSettings(environment: environment)
        let templates = TemplateCatalogue(
            base: await TemplateCatalogue.loadBase(
                builtinFolder: BuiltinTemplates.folder, folders: environment[TemplateCatalogue.variable], logger: host.logger),
            files: FilesServiceCatalogue(client: host.client(for: "files")),
            cacheLifetime: .seconds(settings.catalogueCacheSeconds), logger: host.logger)
        let app = LauncherApp(host: host, runtime: runtime, templates: templates, settings: settings)
        try await host.run(
            app.makeApplication(),
            background: [
                host.migrationService(LauncherSchema.migrations) { try await app.resume() },
                SupervisorService(supervisor: app.supervisor, interval: runtime is KubernetesRuntime ? .seconds(5) : .seconds(2)),
                app.events.listener(database: host.database),
            ])
    }
}
