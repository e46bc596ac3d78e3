import KnotRuntime
import KnotServiceKit

@main
struct UsersMain {
    static func main() async throws {
        let host = try await ServiceHost.bootstrap(service: "users")
        let runtime = RuntimeChoice.makeOrExit(
            program: "knot-\(host.settings.serviceName)", dataDirectory: host.settings.dataDirectory,
            filesRoot: host.settings.filesRoot, logger: host.logger)
        let app = UsersApp(host: host, runtime: runtime)
        try await host.run(app.makeApplication(), background: [host.migrationService(UsersSchema.migrations)])
    }
}
