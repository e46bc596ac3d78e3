import Foundation
import KnotKubernetes

/// What an operator decides about users' spaces on Kubernetes. Every field
/// has a default that suits a small cluster; `KNOT_K8S_*` variables change them.
public struct KubernetesRuntimeSettings: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        /// The file domains are a folder on every node (a single node, or a shared mount).
        case hostPath(root: String)
        case nfs(server: String, root: String)
    }

    /// ResourceQuota `hard` for each user's namespace.
    public var quota: [String: String]
    /// LimitRange defaults for containers that state none.
    public var defaultRequest: [String: String]
    public var defaultLimit: [String: String]
    /// Where the edge runs, so the NetworkPolicy lets it (and only it, from outside) in.
    public var edgeNamespace: String
    public var edgePodLabels: [String: String]
    /// The launcher's own service account ("namespace/name"); nil turns impersonation off.
    public var launcherAccount: (namespace: String, name: String)?
    public var storage: Storage
    public var storageSize: String
    /// Where the file domains appear inside containers. Karvdash used the second pair; both are mounted.
    public var mountPaths: (private: [String], shared: [String]) = (["/files/private", "/private"], ["/files/shared", "/shared"])
    /// How often start-up waits check readiness.
    public var pollInterval: Duration = .milliseconds(250)

    // MARK: Template policy

    /// The kinds a template may create (`KNOT_TEMPLATE_ALLOWED_KINDS`, comma-separated;
    /// `Kind` or `group/Kind`). A built-in kind named alone must be in its own API group.
    /// RBAC, namespaces, volumes, quotas and cluster-scoped kinds are refused whatever this says.
    public var allowedKinds: [String] = Self.defaultAllowedKinds
    /// `KNOT_TEMPLATE_ALLOW_PRIVILEGED=1`: privileged containers, host namespaces,
    /// added capabilities and host ports are let through.
    public var allowPrivileged = false
    /// `KNOT_INGRESS_CLASS`: an ingress controller the cluster runs; a template's Ingress
    /// is then created (class set, host the service's) as well as routed by the edge.
    public var ingressClass: String? = nil
    /// `KNOT_DOMAIN`: services are `<name>-<user>.<domain>`; an Ingress may name no other host.
    public var serviceDomain: String? = nil

    public static let defaultAllowedKinds = [
        "Deployment", "StatefulSet", "Job", "CronJob", "Pod", "Service", "ConfigMap", "Secret",
        "PersistentVolumeClaim", "ServiceAccount", "Ingress",
    ]

    public static let userAccount = "knot-user"
    public static let privateClaim = "knot-private"
    public static let sharedClaim = "knot-shared"
    /// Only in administrators' namespaces: the admin file domain.
    public static let adminClaim = "knot-admin"

    public init(
        quota: [String: String] = [
            "requests.cpu": "4", "requests.memory": "16Gi", "limits.cpu": "8", "limits.memory": "32Gi", "pods": "20",
            "services": "20", "persistentvolumeclaims": "10",
        ],
        defaultRequest: [String: String] = ["cpu": "100m", "memory": "128Mi"],
        defaultLimit: [String: String] = ["cpu": "2", "memory": "4Gi"],
        edgeNamespace: String = "knot", edgePodLabels: [String: String] = ["app.kubernetes.io/name": "knot-edge"],
        launcherAccount: (namespace: String, name: String)? = ("knot", "knot-launcher"),
        storage: Storage = .hostPath(root: "/var/lib/knot/files"), storageSize: String = "100Gi"
    ) {
        self.quota = quota
        self.defaultRequest = defaultRequest
        self.defaultLimit = defaultLimit
        self.edgeNamespace = edgeNamespace
        self.edgePodLabels = edgePodLabels
        self.launcherAccount = launcherAccount
        self.storage = storage
        self.storageSize = storageSize
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.quota == b.quota && a.defaultRequest == b.defaultRequest && a.defaultLimit == b.defaultLimit
            && a.edgeNamespace == b.edgeNamespace && a.edgePodLabels == b.edgePodLabels
            && a.launcherAccount?.namespace == b.launcherAccount?.namespace && a.launcherAccount?.name == b.launcherAccount?.name
            && a.storage == b.storage && a.storageSize == b.storageSize
            && a.allowedKinds == b.allowedKinds && a.allowPrivileged == b.allowPrivileged
            && a.ingressClass == b.ingressClass && a.serviceDomain == b.serviceDomain
    }

    /// Reads `KNOT_K8S_*`; a malformed value is an error at start-up, not a surprise later.
    public static func fromEnvironment(_ environment: [String: String], filesRoot: String) throws -> KubernetesRuntimeSettings {
        var settings = KubernetesRuntimeSettings(storage: .hostPath(root: filesRoot))
        func value(_ key: String) -> String? {
            guard let value = environment[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        if let text = value("KNOT_K8S_QUOTA") { settings.quota = try pairs(text, key: "KNOT_K8S_QUOTA") }
        if let text = value("KNOT_K8S_DEFAULT_REQUEST") { settings.defaultRequest = try pairs(text, key: "KNOT_K8S_DEFAULT_REQUEST") }
        if let text = value("KNOT_K8S_DEFAULT_LIMIT") { settings.defaultLimit = try pairs(text, key: "KNOT_K8S_DEFAULT_LIMIT") }
        if let text = value("KNOT_K8S_EDGE_NAMESPACE") { settings.edgeNamespace = text }
        if let text = value("KNOT_K8S_EDGE_POD_LABELS") { settings.edgePodLabels = try pairs(text, key: "KNOT_K8S_EDGE_POD_LABELS") }
        if let text = value("KNOT_K8S_LAUNCHER_ACCOUNT") {
            if text == "none" {
                settings.launcherAccount = nil
            } else {
                let parts = text.split(separator: "/").map(String.init)
                guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty }) else {
                    throw KubernetesConfigError("KNOT_K8S_LAUNCHER_ACCOUNT must be \"namespace/name\" or \"none\", not \"\(text)\"")
                }
                settings.launcherAccount = (parts[0], parts[1])
            }
        }
        if let size = value("KNOT_K8S_STORAGE_SIZE") { settings.storageSize = size }
        if let text = value("KNOT_TEMPLATE_ALLOWED_KINDS") {
            let kinds = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for kind in kinds where kind.range(of: "^([a-z0-9.-]+/)?[A-Z][A-Za-z0-9]*$", options: .regularExpression) == nil {
                throw KubernetesConfigError("KNOT_TEMPLATE_ALLOWED_KINDS lists kinds (\"Deployment\" or \"apps/Deployment\"); \"\(kind)\" is not one")
            }
            settings.allowedKinds = kinds
        }
        if let text = value("KNOT_TEMPLATE_ALLOW_PRIVILEGED") {
            switch text.lowercased() {
            case "1", "true", "yes", "on": settings.allowPrivileged = true
            case "0", "false", "no", "off": settings.allowPrivileged = false
            default: throw KubernetesConfigError("KNOT_TEMPLATE_ALLOW_PRIVILEGED must be 1 or 0, not \"\(text)\"")
            }
        }
        if let text = value("KNOT_INGRESS_CLASS") {
            guard text.range(of: "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", options: .regularExpression) != nil, text.count <= 253 else {
                throw KubernetesConfigError("KNOT_INGRESS_CLASS must be the name of an IngressClass, not \"\(text)\"")
            }
            settings.ingressClass = text
        }
        if let text = value("KNOT_DOMAIN") { settings.serviceDomain = text.lowercased() }
        let root = value("KNOT_K8S_STORAGE_ROOT") ?? filesRoot
        guard root.hasPrefix("/") else { throw KubernetesConfigError("KNOT_K8S_STORAGE_ROOT must be an absolute path") }
        switch value("KNOT_K8S_STORAGE")?.lowercased() ?? "hostpath" {
        case "hostpath": settings.storage = .hostPath(root: root)
        case "nfs":
            guard let server = value("KNOT_K8S_NFS_SERVER") else {
                throw KubernetesConfigError("KNOT_K8S_STORAGE=nfs needs KNOT_K8S_NFS_SERVER")
            }
            settings.storage = .nfs(server: server, root: root)
        case let other:
            throw KubernetesConfigError("KNOT_K8S_STORAGE must be hostpath or nfs, not \"\(other)\"")
        }
        return settings
    }

    /// "cpu=1,memory=2Gi" into a dictionary.
    static func pairs(_ text: String, key: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw KubernetesConfigError("\(key) must look like \"name=value,name=value\"; \"\(item)\" does not")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }

    /// The account Knot impersonates to act inside a user's namespace.
    public func userAccountName(namespace: String) -> String { "system:serviceaccount:\(namespace):\(Self.userAccount)" }
}
