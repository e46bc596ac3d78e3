import Foundation
import KnotConfig
import KnotServiceKit
import ServiceLifecycle

@main
struct FilesMain {
    static func main() async { await ServiceHost.exitOnFailure(service: "files", start) }

    static func start() async throws {
        let host = try await ServiceHost.bootstrap(service: "files")
        let maxUpload = try KnotEnvironment().int("KNOT_MAX_UPLOAD_BYTES", default: 10 * 1024 * 1024 * 1024)
        var operations = FileOperations(maxUploadBytes: Int64(maxUpload))
        operations.directUploads = try KnotEnvironment().bool("KNOT_FILES_DIRECT_UPLOADS", default: true)
        var app = FilesApp(host: host, operations: operations)
        app.quotas = Quotas(
            maxBytes: Int64(try KnotEnvironment().int("KNOT_QUOTA_BYTES", default: 0)),
            maxFiles: Int64(try KnotEnvironment().int("KNOT_QUOTA_FILES", default: 0)))
        app.registry = try RegistrySettings.fromEnvironment().map { try RegistryClient(settings: $0) }
        let maxAge = TimeInterval(try KnotEnvironment().int("KNOT_UPLOAD_MAX_AGE_HOURS", default: 24)) * 3600
        let readiness = host.readiness
        try await host.run(
            app.makeApplication(),
            background: [
                host.migrationService(FilesSchema.migrations),
                UploadSweeper(uploads: ResumableUploads(app: app), maxAge: maxAge, ready: { await readiness.isMigrated }),
            ] + (app.registry.map { [RegistryClientService(client: $0)] } ?? []))
    }
}

/// Every ten minutes: abandoned resumable uploads go (see `KNOT_UPLOAD_MAX_AGE_HOURS`).
struct UploadSweeper: Service {
    let uploads: ResumableUploads
    let maxAge: TimeInterval
    let ready: @Sendable () async -> Bool

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if await ready() { try? await uploads.sweep(maxAge: maxAge) }
                try? await Task.sleep(for: .seconds(600))
            }
        }
    }
}
