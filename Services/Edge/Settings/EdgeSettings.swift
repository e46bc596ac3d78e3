import Foundation
import KnotConfig

/// What only the edge needs to know, beyond the shared settings.
struct EdgeSettings: Sendable {
    var httpsPort: Int
    var httpPort: Int
    var webRoot: String
    var certificatePath: String?
    var privateKeyPath: String?
    var limits: EdgeLimits
    /// Where access-log lines go: a file path, or nil for standard output.
    var accessLogPath: String?
    var accessLog: Bool
    /// How often the edge tells the launcher which services had traffic (for idle culling).
    var activityReportSeconds: Int

    init(environment env: KnotEnvironment = KnotEnvironment()) throws {
        httpsPort = try env.port("KNOT_EDGE_HTTPS_PORT", default: 8443)
        httpPort = try env.port("KNOT_EDGE_HTTP_PORT", default: 8080)
        webRoot = env.string("KNOT_WEB_ROOT", default: FileManager.default.currentDirectoryPath + "/Web")
        certificatePath = env.optionalString("KNOT_TLS_CERT")
        privateKeyPath = env.optionalString("KNOT_TLS_KEY")
        if (certificatePath == nil) != (privateKeyPath == nil) {
            throw ConfigurationError(key: "KNOT_TLS_CERT", problem: "set both KNOT_TLS_CERT and KNOT_TLS_KEY, or neither")
        }
        limits = try EdgeLimits(environment: env)
        accessLogPath = env.optionalString("KNOT_EDGE_ACCESS_LOG_FILE")
        accessLog = try env.bool("KNOT_EDGE_ACCESS_LOG", default: true)
        activityReportSeconds = try env.int("KNOT_EDGE_ACTIVITY_SECONDS", default: 30)
        guard activityReportSeconds >= 1 else {
            throw ConfigurationError(key: "KNOT_EDGE_ACTIVITY_SECONDS", problem: "must be at least 1")
        }
    }
}

/// The edge's limits and timeouts. Every one is refused with its own status:
/// a head too slow 408, a target too long 414, headers too large or many 431,
/// a body too large 413, an upstream too slow 504.
struct EdgeLimits: Sendable {
    /// A request head must arrive whole within this long of its first byte (slowloris), and a TLS handshake too.
    var headTimeout: TimeInterval = 10
    /// A keep-alive connection with no request in flight is closed after this long.
    var idleTimeout: TimeInterval = 75
    /// A request body that stops arriving for this long ends its connection.
    var bodyTimeout: TimeInterval = 60
    /// The longest wait for an upstream's answer to begin; API areas and user services.
    var apiTimeout: TimeInterval = 60
    var serviceTimeout: TimeInterval = 300
    /// Bytes of a request target, and of the whole header block; header fields.
    var maxTargetBytes = 8192
    var maxHeadBytes = 32 * 1024
    var maxHeaderFields = 100
    /// Largest request body to the identity, users and launcher areas (files and user services are unlimited by default).
    var maxAPIBodyBytes: Int64 = 16 * 1024 * 1024
    var maxServiceBodyBytes: Int64 = .max
    var maxConnections = 20_000

    init() {}

    init(environment env: KnotEnvironment) throws {
        headTimeout = TimeInterval(try env.int("KNOT_EDGE_HEAD_TIMEOUT_SECONDS", default: Int(headTimeout)))
        idleTimeout = TimeInterval(try env.int("KNOT_EDGE_IDLE_TIMEOUT_SECONDS", default: Int(idleTimeout)))
        bodyTimeout = TimeInterval(try env.int("KNOT_EDGE_BODY_TIMEOUT_SECONDS", default: Int(bodyTimeout)))
        apiTimeout = TimeInterval(try env.int("KNOT_EDGE_API_TIMEOUT_SECONDS", default: Int(apiTimeout)))
        serviceTimeout = TimeInterval(try env.int("KNOT_EDGE_UPSTREAM_TIMEOUT_SECONDS", default: Int(serviceTimeout)))
        maxAPIBodyBytes = Int64(try env.int("KNOT_EDGE_MAX_API_BODY_BYTES", default: Int(maxAPIBodyBytes)))
        let serviceBody = try env.int("KNOT_EDGE_MAX_SERVICE_BODY_BYTES", default: 0)
        maxServiceBodyBytes = serviceBody > 0 ? Int64(serviceBody) : .max
        maxConnections = try env.int("KNOT_EDGE_MAX_CONNECTIONS", default: maxConnections)
        for (key, value) in [
            ("KNOT_EDGE_HEAD_TIMEOUT_SECONDS", headTimeout), ("KNOT_EDGE_IDLE_TIMEOUT_SECONDS", idleTimeout),
            ("KNOT_EDGE_BODY_TIMEOUT_SECONDS", bodyTimeout), ("KNOT_EDGE_API_TIMEOUT_SECONDS", apiTimeout),
            ("KNOT_EDGE_UPSTREAM_TIMEOUT_SECONDS", serviceTimeout), ("KNOT_EDGE_MAX_CONNECTIONS", Double(maxConnections)),
        ] where value < 1 {
            throw ConfigurationError(key: key, problem: "must be at least 1")
        }
    }
}
