import Foundation
import KnotRuntime
import KnotServiceKit

@main
struct UsersMain {
    static func main() async throws {
        let host = try await ServiceHost.bootstrap(service: "users")
        let runtime: any ServiceRuntime
        do {
            runtime = try RuntimeChoice.make(
                environment: ProcessInfo.processInfo.environment, dataDirectory: host.settings.dataDirectory,
                filesRoot: host.settings.filesRoot, logger: host.logger)
        } catch {
            host.logger.critical("cannot start: \(error)")
            FileHandle.standardError.write(Data("knot-\(host.settings.serviceName): \(error)\n".utf8))
            exit(2)
        }
        let app = UsersApp(host: host, runtime: runtime)
        try await host.run(app.makeApplication(), background: [host.migrationService(UsersSchema.migrations)])
    }
}
