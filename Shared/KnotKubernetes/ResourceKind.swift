import Foundation
import KnotModels

/// Where a kind of object lives in the API: its group, version, plural
/// resource name and whether it belongs to a namespace. Built-in kinds are
/// known up front; anything else is resolved through API discovery.
public struct ResourceKind: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// "deployments.apps", as the API names a resource in its messages.
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The URL path of a collection or one object; every segment is percent-encoded
    /// so that no name can step into another path.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(namespace.percentEncodedComponent)" }
        path += "/\(plural)"
        if let name { path += "/\(name.percentEncodedComponent)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }


    /// Splits "apps/v1" into ("apps", "v1") and "v1" into ("", "v1").
    public static func groupVersion(of apiVersion: String) -> (group: String, version: String) {
        guard let slash = apiVersion.lastIndex(of: "/") else { return ("", apiVersion) }
        return (String(apiVersion[..<slash]), String(apiVersion[apiVersion.index(after: slash)...]))
    }
}

extension ResourceKind {
    public static let namespace = ResourceKind(group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false)
    public static let serviceAccount = ResourceKind(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true)
    public static let secret = ResourceKind(group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true)
    public static let configMap = ResourceKind(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true)
    public static let resourceQuota = ResourceKind(group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", namespaced: true)
    public static let limitRange = ResourceKind(group: "", version: "v1", kind: "LimitRange", plural: "limitranges", namespaced: true)
    public static let persistentVolume = ResourceKind(group: "", version: "v1", kind: "PersistentVolume", plural: "persistentvolumes", namespaced: false)
    public static let persistentVolumeClaim = ResourceKind(
        group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true)
    public static let pod = ResourceKind(group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true)
    public static let service = ResourceKind(group: "", version: "v1", kind: "Service", plural: "services", namespaced: true)
    public static let event = ResourceKind(group: "", version: "v1", kind: "Event", plural: "events", namespaced: true)
    public static let role = ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true)
    public static let roleBinding = ResourceKind(
        group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true)
    public static let networkPolicy = ResourceKind(
        group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true)
    public static let ingress = ResourceKind(group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true)
    public static let deployment = ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true)
    public static let statefulSet = ResourceKind(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true)
    public static let replicaSet = ResourceKind(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true)
    public static let job = ResourceKind(group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true)

    /// Every kind Knot has a Swift type for; discovery is not needed for these.
    public static let builtIn: [ResourceKind] = [
        .namespace, .serviceAccount, .secret, .configMap, .resourceQuota, .limitRange, .persistentVolume,
        .persistentVolumeClaim, .pod, .service, .event, .role, .roleBinding, .networkPolicy, .ingress,
        .deployment, .statefulSet, .replicaSet, .job,
    ]
}
