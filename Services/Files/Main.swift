import Foundation
import KnotConfig
import KnotServiceKit

@main
struct FilesMain {
    static func main() async throws {
        let host = try await ServiceHost.bootstrap(service: "files")
        let maxUpload = try KnotEnvironment().int("KNOT_MAX_UPLOAD_BYTES", default: 10 * 1024 * 1024 * 1024)
        let app = FilesApp(host: host, operations: FileOperations(maxUploadBytes: Int64(maxUpload)))
        try await host.run(app.makeApplication(), background: [host.migrationService(FilesSchema.migrations)])
    }
}
