import KnotRuntime
import KnotServiceKit

@main
struct UsersMain {
    static func main() async throws {
        let host = try await ServiceHost.bootstrap(service: "users")
        let runtime = LocalRuntime(logDirectory: host.settings.dataDirectory + "/runtime", logger: host.logger)
        let app = UsersApp(host: host, runtime: runtime)
        try await host.run(app.makeApplication(), background: [host.migrationService(UsersSchema.migrations)])
    }
}
