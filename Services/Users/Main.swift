import Foundation
import KnotRuntime
import KnotServiceKit
import ServiceLifecycle

@main
struct UsersMain {
    static func main() async { await ServiceHost.exitOnFailure(service: "users", start) }

    static func start() async throws {
        IntegrationCommand.runIfAsked()  // `knot-users integration-config <tool>` prints and exits
        let host = try await ServiceHost.bootstrap(service: "users")
        let runtime = RuntimeChoice.makeOrExit(
            program: "knot-\(host.settings.serviceName)", dataDirectory: host.settings.dataDirectory,
            filesRoot: host.settings.filesRoot, logger: host.logger)
        let environment = ProcessInfo.processInfo.environment
        var app = UsersApp(host: host, runtime: runtime)
        app.messageRetention = TimeInterval(environment["KNOT_MESSAGES_DAYS"].flatMap(Int.init).map { max($0, 1) } ?? 30) * 86400
        app.archiveFilesOnDelete = environment["KNOT_DELETED_FILES"] != "keep"
        do {
            app.integrations = try IntegrationSettings.from(environment, issuer: host.settings.publicURL)
        } catch {
            FileHandle.standardError.write(Data("knot-users: \(error)\n".utf8))
            exit(2)
        }
        let integrationKeeper = IntegrationKeeper(settings: app.integrations, logger: host.logger)
        app.integrationKeeper = integrationKeeper
        let harborSetup: [any Service] = integrationKeeper.harbor.map { [HarborConfigurationService(access: $0, logger: host.logger)] } ?? []
        let seconds = environment["KNOT_RECONCILE_SECONDS"].flatMap(Int.init).map { max($0, 5) } ?? 300
        let readiness = host.readiness
        let messages = app.messages
        let admission = try AdmissionServer.make(host: host, store: app.store, environment: environment).map { [$0] } ?? []
        try await host.run(
            app.makeApplication(),
            background: [
                host.migrationService(UsersSchema.migrations),
                SpaceReconcileService(
                    keeper: app.spaces, interval: .seconds(seconds),
                    ready: {
                        guard await readiness.isMigrated else { return false }
                        try? await messages.sweep()
                        return true
                    }),
            ] + admission + harborSetup)
    }
}
