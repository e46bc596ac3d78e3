import Foundation

// The kinds Knot touches, with the fields it reads or writes. Everything a
// template may carry beyond them rides along as `JSONValue`.

// MARK: Namespaces and access

public struct Namespace: KubernetesObject, Equatable {
    public static let resource = ResourceKind.namespace
    public var metadata: ObjectMeta
    public var status: Status?

    public struct Status: Codable, Sendable, Equatable { public var phase: String? }

    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct ServiceAccount: KubernetesObject, Equatable {
    public static let resource = ResourceKind.serviceAccount
    public var metadata: ObjectMeta
    public var automountServiceAccountToken: Bool?

    public init(metadata: ObjectMeta, automountServiceAccountToken: Bool? = nil) {
        self.metadata = metadata
        self.automountServiceAccountToken = automountServiceAccountToken
    }
}

public struct Secret: KubernetesObject, Equatable {
    public static let resource = ResourceKind.secret
    public var metadata: ObjectMeta
    public var type: String?
    /// Base64, as the API keeps it.
    public var data: [String: String]?
    public var stringData: [String: String]?

    public init(metadata: ObjectMeta, type: String? = nil, stringData: [String: String]? = nil) {
        self.metadata = metadata
        self.type = type
        self.stringData = stringData
    }

    public func decodedValue(_ key: String) -> String? {
        guard let encoded = data?[key], let bytes = Data(base64Encoded: encoded) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

public struct ConfigMap: KubernetesObject, Equatable {
    public static let resource = ResourceKind.configMap
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}

public struct PolicyRule: Codable, Sendable, Equatable {
    public var apiGroups: [String]?
    public var resources: [String]?
    public var verbs: [String]
    public var resourceNames: [String]?

    public init(apiGroups: [String]?, resources: [String]?, verbs: [String], resourceNames: [String]? = nil) {
        self.apiGroups = apiGroups
        self.resources = resources
        self.verbs = verbs
        self.resourceNames = resourceNames
    }
}

public struct Role: KubernetesObject, Equatable {
    public static let resource = ResourceKind.role
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?

    public init(metadata: ObjectMeta, rules: [PolicyRule]) {
        self.metadata = metadata
        self.rules = rules
    }
}

public struct RoleRef: Codable, Sendable, Equatable {
    public var apiGroup: String
    public var kind: String
    public var name: String

    public init(apiGroup: String = "rbac.authorization.k8s.io", kind: String, name: String) {
        self.apiGroup = apiGroup
        self.kind = kind
        self.name = name
    }
}

public struct RBACSubject: Codable, Sendable, Equatable {
    public var kind: String
    public var name: String
    public var namespace: String?
    public var apiGroup: String?

    public init(kind: String, name: String, namespace: String? = nil, apiGroup: String? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.apiGroup = apiGroup
    }
}

public struct RoleBinding: KubernetesObject, Equatable {
    public static let resource = ResourceKind.roleBinding
    public var metadata: ObjectMeta
    public var roleRef: RoleRef
    public var subjects: [RBACSubject]?

    public init(metadata: ObjectMeta, roleRef: RoleRef, subjects: [RBACSubject]) {
        self.metadata = metadata
        self.roleRef = roleRef
        self.subjects = subjects
    }
}

// MARK: Limits and isolation

public struct ResourceQuota: KubernetesObject, Equatable {
    public static let resource = ResourceKind.resourceQuota
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Sendable, Equatable {
        public var hard: [String: String]?
        public init(hard: [String: String]?) { self.hard = hard }
    }

    public struct Status: Codable, Sendable, Equatable {
        public var hard: [String: String]?
        public var used: [String: String]?
    }

    public init(metadata: ObjectMeta, hard: [String: String]) {
        self.metadata = metadata
        self.spec = Spec(hard: hard)
    }
}

public struct LimitRange: KubernetesObject, Equatable {
    public static let resource = ResourceKind.limitRange
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Equatable {
        public var limits: [Item]
        public init(limits: [Item]) { self.limits = limits }
    }

    public struct Item: Codable, Sendable, Equatable {
        public var type: String
        public var `default`: [String: String]?
        public var defaultRequest: [String: String]?
        public var max: [String: String]?
        public var min: [String: String]?

        public init(
            type: String, default: [String: String]? = nil, defaultRequest: [String: String]? = nil,
            max: [String: String]? = nil, min: [String: String]? = nil
        ) {
            self.type = type
            self.default = `default`
            self.defaultRequest = defaultRequest
            self.max = max
            self.min = min
        }
    }

    public init(metadata: ObjectMeta, limits: [Item]) {
        self.metadata = metadata
        self.spec = Spec(limits: limits)
    }
}

public struct NetworkPolicy: KubernetesObject, Equatable {
    public static let resource = ResourceKind.networkPolicy
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Equatable {
        public var podSelector: LabelSelector
        public var policyTypes: [String]?
        public var ingress: [IngressRule]?

        public init(podSelector: LabelSelector, policyTypes: [String]?, ingress: [IngressRule]?) {
            self.podSelector = podSelector
            self.policyTypes = policyTypes
            self.ingress = ingress
        }
    }

    public struct IngressRule: Codable, Sendable, Equatable {
        public var from: [Peer]?
        public init(from: [Peer]?) { self.from = from }
    }

    public struct Peer: Codable, Sendable, Equatable {
        public var podSelector: LabelSelector?
        public var namespaceSelector: LabelSelector?

        public init(podSelector: LabelSelector? = nil, namespaceSelector: LabelSelector? = nil) {
            self.podSelector = podSelector
            self.namespaceSelector = namespaceSelector
        }
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }
}

// MARK: Storage

public struct PersistentVolume: KubernetesObject, Equatable {
    public static let resource = ResourceKind.persistentVolume
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable, Equatable {
        public var capacity: [String: String]
        public var accessModes: [String]
        public var persistentVolumeReclaimPolicy: String?
        public var storageClassName: String?
        public var hostPath: HostPath?
        public var nfs: NFS?
        public var claimRef: ObjectReference?
        public var mountOptions: [String]?

        public init(
            capacity: [String: String], accessModes: [String], persistentVolumeReclaimPolicy: String?,
            storageClassName: String?, hostPath: HostPath? = nil, nfs: NFS? = nil, claimRef: ObjectReference? = nil,
            mountOptions: [String]? = nil
        ) {
            self.capacity = capacity
            self.accessModes = accessModes
            self.persistentVolumeReclaimPolicy = persistentVolumeReclaimPolicy
            self.storageClassName = storageClassName
            self.hostPath = hostPath
            self.nfs = nfs
            self.claimRef = claimRef
            self.mountOptions = mountOptions
        }
    }

    public struct HostPath: Codable, Sendable, Equatable {
        public var path: String
        public var type: String?
        public init(path: String, type: String? = nil) {
            self.path = path
            self.type = type
        }
    }

    public struct NFS: Codable, Sendable, Equatable {
        public var server: String
        public var path: String
        public var readOnly: Bool?
        public init(server: String, path: String, readOnly: Bool? = nil) {
            self.server = server
            self.path = path
            self.readOnly = readOnly
        }
    }

    public struct Status: Codable, Sendable, Equatable { public var phase: String? }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct PersistentVolumeClaim: KubernetesObject, Equatable {
    public static let resource = ResourceKind.persistentVolumeClaim
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable, Equatable {
        public var accessModes: [String]
        public var resources: Resources
        public var storageClassName: String?
        public var volumeName: String?

        public init(accessModes: [String], requests: [String: String], storageClassName: String?, volumeName: String?) {
            self.accessModes = accessModes
            self.resources = Resources(requests: requests)
            self.storageClassName = storageClassName
            self.volumeName = volumeName
        }
    }

    public struct Resources: Codable, Sendable, Equatable { public var requests: [String: String]? }
    public struct Status: Codable, Sendable, Equatable { public var phase: String? }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }
}

// MARK: Workloads

public struct PodTemplate: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta?
    public var spec: JSONValue?
}

public struct WorkloadStatusFields: Codable, Sendable, Equatable {
    public var replicas: Int?
    public var readyReplicas: Int?
    public var availableReplicas: Int?
    public var updatedReplicas: Int?
    public var unavailableReplicas: Int?
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
}

/// The spec fields the replicated workloads share (`serviceName` is a StatefulSet's).
public struct ReplicatedSpec: Codable, Sendable, Equatable {
    public var replicas: Int?
    public var serviceName: String?
    public var selector: LabelSelector?
    public var template: PodTemplate?
}

/// A workload that runs a number of identical pods: read the same way whatever its kind.
public protocol ReplicatedWorkload: KubernetesObject {
    var spec: ReplicatedSpec? { get }
    var status: WorkloadStatusFields? { get }
}

public struct Deployment: ReplicatedWorkload, Equatable {
    public static let resource = ResourceKind.deployment
    public var metadata: ObjectMeta
    public var spec: ReplicatedSpec?
    public var status: WorkloadStatusFields?
}

public struct StatefulSet: ReplicatedWorkload, Equatable {
    public static let resource = ResourceKind.statefulSet
    public var metadata: ObjectMeta
    public var spec: ReplicatedSpec?
    public var status: WorkloadStatusFields?
}

public struct ReplicaSet: ReplicatedWorkload, Equatable {
    public static let resource = ResourceKind.replicaSet
    public var metadata: ObjectMeta
    public var spec: ReplicatedSpec?
    public var status: WorkloadStatusFields?
}

public struct Job: KubernetesObject, Equatable {
    public static let resource = ResourceKind.job
    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: Status?

    public struct Status: Codable, Sendable, Equatable {
        public var active: Int?
        public var succeeded: Int?
        public var failed: Int?
        public var conditions: [Condition]?
    }
}

public struct Pod: KubernetesObject, Equatable {
    public static let resource = ResourceKind.pod
    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: Status?

    public struct Status: Codable, Sendable, Equatable {
        public var phase: String?
        public var reason: String?
        public var message: String?
        public var podIP: String?
        public var conditions: [Condition]?
        public var containerStatuses: [ContainerStatus]?
        public var initContainerStatuses: [ContainerStatus]?
    }

    public struct ContainerStatus: Codable, Sendable, Equatable {
        public var name: String
        public var ready: Bool?
        public var restartCount: Int?
        public var image: String?
        public var state: ContainerState?
        public var lastState: ContainerState?
    }

    public struct ContainerState: Codable, Sendable, Equatable {
        public var waiting: Waiting?
        public var running: Running?
        public var terminated: Terminated?
    }

    public struct Waiting: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?
    }

    public struct Running: Codable, Sendable, Equatable { public var startedAt: String? }

    public struct Terminated: Codable, Sendable, Equatable {
        public var exitCode: Int?
        public var reason: String?
        public var message: String?
    }

    /// The names of the pod's containers, from its spec.
    public var containerNames: [String] {
        (spec?["containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }
}

// MARK: Networking and events

public struct KubeService: KubernetesObject, Equatable {
    public static let resource = ResourceKind.service
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Equatable {
        public var type: String?
        public var clusterIP: String?
        public var selector: [String: String]?
        public var ports: [Port]?
    }

    public struct Port: Codable, Sendable, Equatable {
        public var name: String?
        public var port: Int
        public var targetPort: JSONValue?
        public var `protocol`: String?
    }
}

public struct Ingress: KubernetesObject, Equatable {
    public static let resource = ResourceKind.ingress
    public var metadata: ObjectMeta
    public var spec: JSONValue?
}

public struct Event: KubernetesObject, Equatable {
    public static let resource = ResourceKind.event
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    public var type: String?
    public var count: Int?
    public var firstTimestamp: String?
    public var lastTimestamp: String?
    public var eventTime: String?

    /// When it last happened, whichever field the reporter filled.
    public var lastSeen: String { lastTimestamp ?? eventTime ?? firstTimestamp ?? metadata.creationTimestamp ?? "" }
}
