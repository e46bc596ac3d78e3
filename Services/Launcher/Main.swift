import Foundation
import KnotErrors
import KnotRuntime
import KnotServiceKit

@main
struct LauncherMain {
    static func main() async throws {
        let host = try await ServiceHost.bootstrap(service: "launcher")
        let runtime = RuntimeChoice.makeOrExit(
            program: "knot-\(host.settings.serviceName)", dataDirectory: host.settings.dataDirectory,
            filesRoot: host.settings.filesRoot, logger: host.logger)
        let environment = ProcessInfo.processInfo.environment
        let templates = TemplateCatalogue(
            base: await TemplateCatalogue.loadBase(
                builtinFolder: BuiltinTemplates.folder, folders: environment[TemplateCatalogue.variable], logger: host.logger),
            files: FilesServiceCatalogue(client: host.client(for: "files")),
            cacheLifetime: .milliseconds(Int(environment["KNOT_CATALOGUE_CACHE_SECONDS"].flatMap(Double.init).map { $0 * 1000 } ?? 3000)),
            logger: host.logger)
        let culling: CullingSettings
        do {
            culling = try CullingSettings.from(environment)
        } catch let error as KnotError {
            host.logger.critical("\(error.message)")
            exit(2)
        }
        let app = LauncherApp(host: host, runtime: runtime, templates: templates, culling: culling)
        try await host.run(
            app.makeApplication(),
            background: [
                host.migrationService(LauncherSchema.migrations) { try await app.resume() },
                SupervisorService(supervisor: app.supervisor, interval: runtime is KubernetesRuntime ? .seconds(5) : .seconds(2)),
                app.events.listener(database: host.database),
            ])
    }
}
