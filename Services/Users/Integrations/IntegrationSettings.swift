import Foundation
import KnotConfig

/// Which integrated tools this installation has (JupyterHub, Argo Workflows,
/// Harbor, Grafana, Gitea), read once from the environment. A tool is
/// configured when its URL is set; everything else has a default that matches
/// the chart's client registration (`charts/knot/templates/_helpers.tpl`).
/// A value that cannot work stops start-up with one sentence naming the key.
struct IntegrationSettings: Sendable, Equatable {
    /// One tool: where people open it and how it is registered at Knot's provider.
    struct Tool: Sendable, Equatable {
        /// Absolute, no query or fragment, always ending in `/`.
        var url: String
        var clientID: String
        /// The path of the file holding the client secret, as the tool's own
        /// container sees it; the secret itself never appears in generated configuration.
        var clientSecretFile: String
    }

    struct Harbor: Sendable, Equatable {
        var tool: Tool
        var adminUsername: String
        /// Read from `KNOT_HARBOR_ADMIN_PASSWORD_FILE` when Harbor is configured.
        var adminPassword: String
        /// Read by the users service to hand Harbor its OIDC client secret
        /// (Harbor takes the secret through its API, not from a file).
        var clientSecret: String
        /// The registry host pods pull from (`harbor.example.org`), from the URL unless given.
        var registryHost: String
    }

    /// Knot's issuer, `https://<domain>[:port]` (the provider's discovery is below it).
    var issuer: String
    var jupyterhub: Tool?
    var argo: Tool?
    var harbor: Harbor?
    var grafana: Tool?
    var gitea: Tool?
    /// Idle culling and maximum lifetime, the launcher's own limits (`CullingLimits`); 0 is off.
    var cullIdleSeconds = 0
    var maxLifetimeSeconds = 0
    /// The image JupyterHub's KubeSpawner starts for each person.
    var notebookImage = "quay.io/jupyter/scipy-notebook:latest"
    /// A CA bundle the tools must trust to reach Knot's issuer (only for a
    /// self-signed or private CA; the path as the tools see it).
    var issuerCAFile: String?

    static let none = IntegrationSettings(issuer: "https://knot.localhost")

    var isEmpty: Bool { jupyterhub == nil && argo == nil && harbor == nil && grafana == nil && gitea == nil }

    /// The notebook folder inside each person's private folder (and the path a notebook server sees).
    static let notebookFolder = "notebooks"
    static let notebookDirectory = "/files/private/notebooks"

    static func from(_ environment: [String: String], issuer: String) throws -> IntegrationSettings {
        let env = KnotEnvironment(environment)
        var settings = IntegrationSettings(issuer: issuer)
        func tool(_ prefix: String, defaultClient: String) throws -> Tool? {
            guard let raw = env.optionalString("KNOT_\(prefix)_URL") else { return nil }
            let url = try checkedURL(raw, key: "KNOT_\(prefix)_URL")
            let clientID = env.string("KNOT_\(prefix)_CLIENT_ID", default: defaultClient)
            guard !clientID.isEmpty, clientID.count <= 128, clientID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            else {
                throw ConfigurationError(key: "KNOT_\(prefix)_CLIENT_ID", problem: "must be 1 to 128 letters, digits, '-', '_' or '.'")
            }
            let secretFile = env.string("KNOT_\(prefix)_CLIENT_SECRET_FILE", default: "/run/secrets/knot-oidc/\(defaultClient)")
            guard secretFile.hasPrefix("/"), !secretFile.contains("\n"), !secretFile.contains("\"") else {
                throw ConfigurationError(key: "KNOT_\(prefix)_CLIENT_SECRET_FILE", problem: "must be an absolute path")
            }
            return Tool(url: url, clientID: clientID, clientSecretFile: secretFile)
        }
        settings.jupyterhub = try tool("JUPYTERHUB", defaultClient: "jupyterhub")
        settings.argo = try tool("ARGO", defaultClient: "argo-workflows")
        settings.grafana = try tool("GRAFANA", defaultClient: "grafana")
        settings.gitea = try tool("GITEA", defaultClient: "gitea")
        if let harbor = try tool("HARBOR", defaultClient: "harbor") {
            guard let username = env.optionalString("KNOT_HARBOR_ADMIN_USERNAME") else {
                throw ConfigurationError(key: "KNOT_HARBOR_ADMIN_USERNAME", problem: "is required with KNOT_HARBOR_URL (Knot configures Harbor as this admin)")
            }
            let password = try env.secret("KNOT_HARBOR_ADMIN_PASSWORD")
            let secret = try env.secret("KNOT_HARBOR_CLIENT_SECRET")
            let host = env.optionalString("KNOT_HARBOR_REGISTRY") ?? URLComponents(string: harbor.url).map { parts in
                parts.port.map { "\(parts.host ?? ""):\($0)" } ?? (parts.host ?? "")
            } ?? ""
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:".contains($0)) }) else {
                throw ConfigurationError(key: "KNOT_HARBOR_REGISTRY", problem: "must be a host name (and port), like harbor.example.org")
            }
            settings.harbor = Harbor(tool: harbor, adminUsername: username, adminPassword: password, clientSecret: secret, registryHost: host)
        }
        let culling = try CullingLimits.from(environment)
        settings.cullIdleSeconds = culling.idleSeconds
        settings.maxLifetimeSeconds = culling.lifetimeSeconds
        if let image = env.optionalString("KNOT_JUPYTERHUB_IMAGE") {
            guard !image.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "\\" }) else {
                throw ConfigurationError(key: "KNOT_JUPYTERHUB_IMAGE", problem: "must be an image reference without spaces or quotes")
            }
            settings.notebookImage = image
        }
        if let ca = env.optionalString("KNOT_INTEGRATIONS_CA_FILE") {
            guard ca.hasPrefix("/"), !ca.contains("\n"), !ca.contains("\"") else {
                throw ConfigurationError(key: "KNOT_INTEGRATIONS_CA_FILE", problem: "must be an absolute path")
            }
            settings.issuerCAFile = ca
        }
        return settings
    }

    /// An absolute https URL (http only for a loopback host: a tool on the
    /// same machine in development), without credentials, query or fragment;
    /// returned with a trailing `/` so that paths are appended uniformly.
    static func checkedURL(_ raw: String, key: String) throws -> String {
        guard raw.count <= 2048, !raw.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "'" || $0 == "\\" }),
            let parts = URLComponents(string: raw), let scheme = parts.scheme?.lowercased(), let host = parts.host, !host.isEmpty
        else {
            throw ConfigurationError(key: key, problem: "must be an absolute URL such as https://tool.example.org/, not \"\(raw.prefix(80))\"")
        }
        guard parts.user == nil, parts.password == nil, parts.query == nil, parts.fragment == nil else {
            throw ConfigurationError(key: key, problem: "must not carry credentials, a query or a fragment")
        }
        let loopback = ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host.lowercased())
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw ConfigurationError(key: key, problem: "must use https (http only for a loopback address), not \(scheme)")
        }
        return raw.hasSuffix("/") ? raw : raw + "/"
    }
}
