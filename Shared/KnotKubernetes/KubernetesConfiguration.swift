import Foundation
import Yams

/// How to reach and authenticate to an API server: from inside a cluster
/// (service-account token and CA) or from a kubeconfig.
public struct KubernetesConfiguration: Sendable, Equatable {
    public enum Credentials: Sendable, Equatable {
        case none
        case token(String)
        /// Read again whenever the file changes: Kubernetes rotates projected tokens.
        case tokenFile(String)
        case clientCertificate(certificatePEM: [UInt8], keyPEM: [UInt8])
    }

    public var server: String
    public var certificateAuthorityPEM: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    public var credentials: Credentials
    /// The namespace the configuration names (context or service account), if any.
    public var namespace: String?
    /// Where this came from, for messages: "in-cluster" or "kubeconfig /path (context x)".
    public var source: String

    public init(
        server: String, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
        credentials: Credentials = .none, namespace: String? = nil, source: String = "explicit"
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.credentials = credentials
        self.namespace = namespace
        self.source = source
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The configuration a process finds in its environment: an explicit
    /// kubeconfig (`KNOT_KUBECONFIG`, then `KUBECONFIG`), in-cluster when
    /// `KUBERNETES_SERVICE_HOST` is set, else `~/.kube/config`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> KubernetesConfiguration
    {
        if let path = environment["KNOT_KUBECONFIG"], !path.isEmpty {
            return try kubeconfig(paths: path.split(separator: ":").map(String.init), context: environment["KNOT_KUBE_CONTEXT"])
        }
        if let paths = environment["KUBECONFIG"], !paths.isEmpty {
            return try kubeconfig(paths: paths.split(separator: ":").map(String.init), context: environment["KNOT_KUBE_CONTEXT"])
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return try kubeconfig(paths: ["\(home)/.kube/config"], context: environment["KNOT_KUBE_CONTEXT"])
    }

    /// Inside a pod: the API's address from the environment, the token and CA from the mounted service account.
    public static func inCluster(
        environment: [String: String], directory: String = serviceAccountDirectory
    ) throws -> KubernetesConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw KubernetesConfigError("in-cluster: KUBERNETES_SERVICE_HOST is not set (is this running in a pod?)")
        }
        let port = environment["KUBERNETES_SERVICE_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "443"
        guard let portNumber = Int(port), (1...65535).contains(portNumber) else {
            throw KubernetesConfigError("in-cluster: KUBERNETES_SERVICE_PORT \"\(port)\" is not a port")
        }
        let tokenPath = "\(directory)/token"
        _ = try readFile(tokenPath, what: "in-cluster service-account token")
        let ca = try readFile("\(directory)/ca.crt", what: "in-cluster CA bundle")
        try checkPEM(ca, what: "in-cluster CA bundle \(directory)/ca.crt")
        let namespace = (try? String(contentsOfFile: "\(directory)/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubernetesConfiguration(
            server: "https://\(hostPart):\(portNumber)", certificateAuthorityPEM: ca, credentials: .tokenFile(tokenPath),
            namespace: namespace, source: "in-cluster")
    }

    /// A kubeconfig file (or several, merged as kubectl does: the first file that names something wins).
    public static func kubeconfig(paths: [String], context wantedContext: String? = nil) throws -> KubernetesConfiguration {
        var merged = Kubeconfig()
        var firstPath: String?
        for path in paths {
            guard FileManager.default.fileExists(atPath: path) else {
                if paths.count == 1 { throw KubernetesConfigError("kubeconfig \(path): no such file") }
                continue
            }
            let bytes = try readFile(path, what: "kubeconfig")
            let parsed = try Kubeconfig.parse(bytes, path: path)
            merged.merge(parsed)
            if firstPath == nil { firstPath = path }
        }
        guard let firstPath else {
            throw KubernetesConfigError("kubeconfig: none of \(paths.joined(separator: ", ")) exists")
        }
        return try merged.resolve(context: wantedContext, source: firstPath)
    }

    static func readFile(_ path: String, what: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KubernetesConfigError("\(what) \(path): no such file")
        }
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            throw KubernetesConfigError("\(what) \(path): cannot be read (permission denied?)")
        }
        return Array(data)
    }

    static func checkPEM(_ bytes: [UInt8], what: String) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN ") else {
            throw KubernetesConfigError("\(what) is not PEM (no -----BEGIN line)")
        }
    }
}

/// The parts of kubectl's configuration file Knot uses.
struct Kubeconfig {
    struct Cluster {
        var server: String?
        var certificateAuthorityPEM: [UInt8]?
        var insecure = false
    }

    struct User {
        var credentials: KubernetesConfiguration.Credentials = .none
        var unsupported: String?
    }

    struct Context {
        var cluster: String?
        var user: String?
        var namespace: String?
    }

    var clusters: [String: Cluster] = [:]
    var users: [String: User] = [:]
    var contexts: [String: Context] = [:]
    var currentContext: String?

    mutating func merge(_ other: Kubeconfig) {
        clusters.merge(other.clusters) { mine, _ in mine }
        users.merge(other.users) { mine, _ in mine }
        contexts.merge(other.contexts) { mine, _ in mine }
        if currentContext == nil { currentContext = other.currentContext }
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Kubeconfig {
        let text = String(decoding: bytes, as: UTF8.self)
        let document: JSONValue
        do {
            guard let first = try JSONValue.documents(fromYAML: text).first else {
                throw KubernetesConfigError("kubeconfig \(path): the file is empty")
            }
            document = first
        } catch let error as ManifestError {
            throw KubernetesConfigError("kubeconfig \(path): \(error.description)")
        }
        guard document.objectValue != nil else {
            throw KubernetesConfigError("kubeconfig \(path): not a kubeconfig (the top level is not a mapping)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolvePath(_ file: String) -> String {
            file.hasPrefix("/") ? file : (directory as NSString).appendingPathComponent(file)
        }
        func pem(_ fields: JSONValue, data dataKey: String, file fileKey: String, what: String) throws -> [UInt8]? {
            if let encoded = fields[dataKey]?.stringValue {
                guard let decoded = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw KubernetesConfigError("kubeconfig \(path): \(dataKey) of \(what) is not valid base64")
                }
                try KubernetesConfiguration.checkPEM(Array(decoded), what: "kubeconfig \(path): \(dataKey) of \(what)")
                return Array(decoded)
            }
            if let file = fields[fileKey]?.stringValue {
                let bytes = try KubernetesConfiguration.readFile(resolvePath(file), what: "\(fileKey) of \(what)")
                try KubernetesConfiguration.checkPEM(bytes, what: "\(fileKey) \(file) of \(what)")
                return bytes
            }
            return nil
        }
        func named(_ key: String, _ inner: String) throws -> [(String, JSONValue)] {
            guard let list = document[key] else { return [] }
            guard let items = list.arrayValue else {
                throw KubernetesConfigError("kubeconfig \(path): \(key) is not a list")
            }
            return try items.map { item in
                guard let name = item["name"]?.stringValue else {
                    throw KubernetesConfigError("kubeconfig \(path): an entry of \(key) has no name")
                }
                return (name, item[inner] ?? .object([:]))
            }
        }

        var config = Kubeconfig()
        for (name, fields) in try named("clusters", "cluster") {
            var cluster = Cluster()
            cluster.server = fields["server"]?.stringValue
            cluster.insecure = fields["insecure-skip-tls-verify"]?.boolValue ?? false
            cluster.certificateAuthorityPEM = try pem(
                fields, data: "certificate-authority-data", file: "certificate-authority", what: "cluster \"\(name)\"")
            config.clusters[name] = config.clusters[name] ?? cluster
        }
        for (name, fields) in try named("users", "user") {
            var user = User()
            let what = "user \"\(name)\""
            if let token = fields["token"]?.stringValue, !token.isEmpty {
                user.credentials = .token(token)
            } else if let file = fields["tokenFile"]?.stringValue {
                _ = try KubernetesConfiguration.readFile(resolvePath(file), what: "tokenFile of \(what)")
                user.credentials = .tokenFile(resolvePath(file))
            } else if let certificate = try pem(fields, data: "client-certificate-data", file: "client-certificate", what: what) {
                guard let key = try pem(fields, data: "client-key-data", file: "client-key", what: what) else {
                    throw KubernetesConfigError("kubeconfig \(path): \(what) has a client certificate but no client key")
                }
                user.credentials = .clientCertificate(certificatePEM: certificate, keyPEM: key)
            } else if fields["exec"] != nil {
                user.unsupported = "uses an exec credential plugin, which Knot does not run; give it a token or a client certificate"
            } else if fields["auth-provider"] != nil {
                user.unsupported = "uses an auth-provider, which Knot does not support; give it a token or a client certificate"
            } else if fields["username"] != nil {
                user.unsupported = "uses basic authentication, which Kubernetes no longer supports"
            }
            config.users[name] = config.users[name] ?? user
        }
        for (name, fields) in try named("contexts", "context") {
            config.contexts[name] =
                config.contexts[name]
                ?? Context(
                    cluster: fields["cluster"]?.stringValue, user: fields["user"]?.stringValue,
                    namespace: fields["namespace"]?.stringValue)
        }
        config.currentContext = document["current-context"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        return config
    }

    func resolve(context wanted: String?, source path: String) throws -> KubernetesConfiguration {
        guard let contextName = wanted ?? currentContext ?? (contexts.count == 1 ? contexts.keys.first : nil) else {
            throw KubernetesConfigError("kubeconfig \(path): no current-context is set and no context was chosen")
        }
        guard let context = contexts[contextName] else {
            throw KubernetesConfigError("kubeconfig \(path): the context \"\(contextName)\" is not defined")
        }
        guard let clusterName = context.cluster, let cluster = clusters[clusterName] else {
            throw KubernetesConfigError(
                "kubeconfig \(path): context \"\(contextName)\" names cluster \"\(context.cluster ?? "")\", which is not defined")
        }
        guard let server = cluster.server, !server.isEmpty else {
            throw KubernetesConfigError("kubeconfig \(path): cluster \"\(clusterName)\" has no server")
        }
        guard let url = URL(string: server), let scheme = url.scheme, ["https", "http"].contains(scheme), url.host != nil else {
            throw KubernetesConfigError("kubeconfig \(path): cluster \"\(clusterName)\" has a server that is not an http(s) URL: \(server)")
        }
        var credentials = KubernetesConfiguration.Credentials.none
        if let userName = context.user {
            guard let user = users[userName] else {
                throw KubernetesConfigError("kubeconfig \(path): context \"\(contextName)\" names user \"\(userName)\", which is not defined")
            }
            if let unsupported = user.unsupported {
                throw KubernetesConfigError("kubeconfig \(path): user \"\(userName)\" \(unsupported)")
            }
            credentials = user.credentials
        }
        return KubernetesConfiguration(
            server: server.hasSuffix("/") ? String(server.dropLast()) : server,
            certificateAuthorityPEM: cluster.certificateAuthorityPEM, insecureSkipTLSVerify: cluster.insecure,
            credentials: credentials, namespace: context.namespace, source: "kubeconfig \(path) (context \(contextName))")
    }
}
