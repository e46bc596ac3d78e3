import Foundation
import KnotKubernetes

/// The labels by which Knot finds its own objects again.
public enum KnotLabels {
    public static let managedBy = "app.kubernetes.io/managed-by"
    public static let user = "knot.io/user"
    public static let serviceID = "knot.io/service-id"
    public static let serviceName = "knot.io/service"
    public static let inventory = "knot.io/inventory"
    public static let template = "knot.io/template"
    /// Annotation: the template's version a service was launched or upgraded from.
    public static let templateVersion = "knot.io/template-version"
    /// Annotation: the launch values as JSON, so the cluster alone can say how a service was made.
    public static let values = "knot.io/values"
    /// On a scaled-down workload: how many replicas it had, for `resume`.
    public static let stoppedReplicas = "knot.io/stopped-replicas"
}

/// Everything a user's namespace holds before they launch anything, built
/// from the settings. Pure: the runtime applies what this returns.
public struct UserSpace: Sendable {
    public let settings: KubernetesRuntimeSettings
    public let user: RuntimeUser

    public init(settings: KubernetesRuntimeSettings, user: RuntimeUser) {
        self.settings = settings
        self.user = user
    }

    var labels: [String: String] { [KnotLabels.managedBy: "knot", KnotLabels.user: user.username] }
    var namespace: String { user.namespace }

    public var privateVolumeName: String { "knot-\(user.username)-private" }
    public var sharedVolumeName: String { "knot-\(user.username)-shared" }
    public var adminVolumeName: String { "knot-\(user.username)-admin" }

    /// In the order they must be applied: the namespace first, claims after their volumes.
    public func objects() throws -> [UnstructuredObject] {
        var objects: [any KubernetesObject] = [
            Namespace(metadata: ObjectMeta(name: namespace, labels: labels.merging(["knot.io/space": "user"]) { a, _ in a })),
            ServiceAccount(metadata: meta(KubernetesRuntimeSettings.userAccount)),
            RoleBinding(
                metadata: meta("knot-user-admin"), roleRef: RoleRef(kind: "ClusterRole", name: "admin"),
                subjects: [RBACSubject(kind: "ServiceAccount", name: KubernetesRuntimeSettings.userAccount, namespace: namespace)]),
        ]
        if let launcher = settings.launcherAccount {
            // Lets the launcher act as the user's account here and nowhere else.
            objects.append(
                Role(
                    metadata: meta("knot-launcher-impersonation"),
                    rules: [
                        PolicyRule(
                            apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"],
                            resourceNames: [KubernetesRuntimeSettings.userAccount])
                    ]))
            objects.append(
                RoleBinding(
                    metadata: meta("knot-launcher-impersonation"),
                    roleRef: RoleRef(kind: "Role", name: "knot-launcher-impersonation"),
                    subjects: [RBACSubject(kind: "ServiceAccount", name: launcher.name, namespace: launcher.namespace)]))
        }
        objects += [
            ResourceQuota(metadata: meta("knot-quota"), hard: settings.quota),
            LimitRange(
                metadata: meta("knot-limits"),
                limits: [LimitRange.Item(type: "Container", default: settings.defaultLimit, defaultRequest: settings.defaultRequest)]),
            NetworkPolicy(
                metadata: meta("knot-isolation"),
                spec: NetworkPolicy.Spec(
                    podSelector: LabelSelector(), policyTypes: ["Ingress"],
                    ingress: [
                        NetworkPolicy.IngressRule(from: [
                            NetworkPolicy.Peer(podSelector: LabelSelector()),
                            NetworkPolicy.Peer(
                                podSelector: LabelSelector(matchLabels: settings.edgePodLabels),
                                namespaceSelector: LabelSelector(matchLabels: ["kubernetes.io/metadata.name": settings.edgeNamespace])),
                        ])
                    ])),
            volume(privateVolumeName, relativePath: "private/\(user.username)", claim: KubernetesRuntimeSettings.privateClaim),
            claim(KubernetesRuntimeSettings.privateClaim, volume: privateVolumeName),
            volume(sharedVolumeName, relativePath: "shared", claim: KubernetesRuntimeSettings.sharedClaim),
            claim(KubernetesRuntimeSettings.sharedClaim, volume: sharedVolumeName),
        ]
        if user.admin {
            objects += [
                volume(adminVolumeName, relativePath: "admin", claim: KubernetesRuntimeSettings.adminClaim),
                claim(KubernetesRuntimeSettings.adminClaim, volume: adminVolumeName),
            ]
        }
        return try objects.map { try $0.unstructured() }
    }

    func meta(_ name: String) -> ObjectMeta { ObjectMeta(name: name, namespace: namespace, labels: labels) }

    /// A volume bound ahead to its claim, so no other namespace can take it.
    func volume(_ name: String, relativePath: String, claim: String) -> PersistentVolume {
        var spec = PersistentVolume.Spec(
            capacity: ["storage": settings.storageSize], accessModes: ["ReadWriteMany"], persistentVolumeReclaimPolicy: "Retain",
            storageClassName: "", claimRef: ObjectReference(apiVersion: "v1", kind: "PersistentVolumeClaim", name: claim, namespace: namespace))
        switch settings.storage {
        case .hostPath(let root): spec.hostPath = PersistentVolume.HostPath(path: "\(root)/\(relativePath)", type: "DirectoryOrCreate")
        case .nfs(let server, let root): spec.nfs = PersistentVolume.NFS(server: server, path: "\(root)/\(relativePath)")
        }
        return PersistentVolume(metadata: ObjectMeta(name: name, labels: labels), spec: spec)
    }

    func claim(_ name: String, volume: String) -> PersistentVolumeClaim {
        PersistentVolumeClaim(
            metadata: meta(name),
            spec: PersistentVolumeClaim.Spec(
                accessModes: ["ReadWriteMany"], requests: ["storage": settings.storageSize], storageClassName: "", volumeName: volume))
    }
}
