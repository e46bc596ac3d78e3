import Foundation

/// The settings every Knot service shares: where it listens, where the
/// database and the other services are, and the deployment's public address.
public struct KnotSettings: Sendable {
    public struct Database: Sendable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var name: String
    }

    public var serviceName: String
    public var listenHost: String
    public var listenPort: Int
    public var logLevel: String
    public var database: Database
    /// The deployment secret that service-to-service tokens are signed with.
    public var internalSecret: String
    /// The DNS domain users reach Knot at; user services live at `<svc>-<user>.<domain>`.
    public var domain: String
    /// The public HTTPS port the edge serves on (443 in production).
    public var publicPort: Int
    public var dataDirectory: String
    public var identityURL: String
    public var usersURL: String
    public var launcherURL: String
    public var filesURL: String
    /// The largest JSON body any public endpoint accepts.
    public var maxJSONBody: Int
    /// The root of the file domains (`private/<user>`, `shared`, `admin`); the runtime mounts the same folders.
    public var filesRoot: String

    public static let defaultPorts: [String: Int] = [
        "identity": 9101, "users": 9102, "launcher": 9103, "files": 9104, "edge": 9105,
    ]

    public init(service: String, environment env: KnotEnvironment = KnotEnvironment()) throws {
        serviceName = service
        listenHost = env.string("KNOT_LISTEN_HOST", default: "127.0.0.1")
        listenPort = try env.port("KNOT_PORT", default: Self.defaultPorts[service] ?? 9100)
        logLevel = env.string("KNOT_LOG_LEVEL", default: "info")
        database = Database(
            host: env.string("KNOT_DB_HOST", default: "127.0.0.1"),
            port: try env.port("KNOT_DB_PORT", default: 5432),
            user: env.string("KNOT_DB_USER", default: "knot"),
            password: env.optionalString("KNOT_DB_PASSWORD"),
            name: env.string("KNOT_DB_NAME", default: "knot")
        )
        internalSecret = try env.secret("KNOT_INTERNAL_SECRET")
        guard internalSecret.utf8.count >= 32 else {
            throw ConfigurationError(key: "KNOT_INTERNAL_SECRET", problem: "must be at least 32 characters")
        }
        domain = env.string("KNOT_DOMAIN", default: "knot.localhost").lowercased()
        publicPort = try env.port("KNOT_PUBLIC_PORT", default: 8443)
        dataDirectory = env.string("KNOT_DATA_DIR", default: FileManager.default.currentDirectoryPath + "/.data")
        identityURL = env.string("KNOT_IDENTITY_URL", default: "http://127.0.0.1:9101")
        usersURL = env.string("KNOT_USERS_URL", default: "http://127.0.0.1:9102")
        launcherURL = env.string("KNOT_LAUNCHER_URL", default: "http://127.0.0.1:9103")
        filesURL = env.string("KNOT_FILES_URL", default: "http://127.0.0.1:9104")
        maxJSONBody = try env.int("KNOT_MAX_JSON_BODY", default: 64 * 1024)
        filesRoot = env.string("KNOT_FILES_ROOT", default: dataDirectory + "/files")
    }

    /// `https://<domain>[:port]`: the dashboard's address as browsers see it.
    public var publicURL: String { publicURL(forHost: domain) }

    public func privateDirectory(of username: String) -> String { "\(filesRoot)/private/\(username)" }
    public var sharedDirectory: String { "\(filesRoot)/shared" }

    /// The address of a user service, `https://<host>[:port]`.
    public func publicURL(forHost host: String) -> String {
        publicPort == 443 ? "https://\(host)" : "https://\(host):\(publicPort)"
    }
}
