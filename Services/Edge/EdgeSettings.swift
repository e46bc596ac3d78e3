import Foundation
import KnotConfig

/// What only the edge needs to know, beyond the shared settings.
struct EdgeSettings: Sendable {
    var httpsPort: Int
    var httpPort: Int
    var webRoot: String
    var certificatePath: String?
    var privateKeyPath: String?
    var upstreamTimeout: Int

    init(environment env: KnotEnvironment = KnotEnvironment()) throws {
        httpsPort = try env.port("KNOT_EDGE_HTTPS_PORT", default: 8443)
        httpPort = try env.port("KNOT_EDGE_HTTP_PORT", default: 8080)
        webRoot = env.string("KNOT_WEB_ROOT", default: FileManager.default.currentDirectoryPath + "/Web")
        certificatePath = env.optionalString("KNOT_TLS_CERT")
        privateKeyPath = env.optionalString("KNOT_TLS_KEY")
        upstreamTimeout = try env.int("KNOT_EDGE_UPSTREAM_TIMEOUT_SECONDS", default: 300)
        if (certificatePath == nil) != (privateKeyPath == nil) {
            throw ConfigurationError(key: "KNOT_TLS_CERT", problem: "set both KNOT_TLS_CERT and KNOT_TLS_KEY, or neither")
        }
    }
}
