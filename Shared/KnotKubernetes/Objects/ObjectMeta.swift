import Foundation

/// A Kubernetes object with a Swift type. The type carries the fields Knot
/// reads and writes; deep structures it only passes through (pod specs, for
/// one) stay `JSONValue`, so nothing is lost. `apiVersion` and `kind` are not
/// stored: they follow from the type, and list items arrive without them.
public protocol KubernetesObject: Codable, Sendable {
    static var resource: ResourceKind { get }
    var metadata: ObjectMeta { get set }
}

extension KubernetesObject {
    public var name: String { metadata.name ?? "" }
    public var namespace: String? { metadata.namespace }

    /// The object as the API expects it in a request body: with `apiVersion` and `kind`.
    public func unstructured() throws -> UnstructuredObject {
        var raw = try JSONValue(encoding: self)
        raw["apiVersion"] = .string(Self.resource.apiVersion)
        raw["kind"] = .string(Self.resource.kind)
        return try UnstructuredObject(raw)
    }
}

public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    public var managedFields: [ManagedFieldsEntry]?

    public init(
        name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

public struct OwnerReference: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
}

public struct ManagedFieldsEntry: Codable, Sendable, Equatable {
    public var manager: String?
    public var operation: String?
    public var apiVersion: String?
    public var time: String?
    public var fieldsType: String?
    public var fieldsV1: JSONValue?
    public var subresource: String?
}

public struct ListMeta: Codable, Sendable, Equatable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?
}

/// One page of a list.
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Item]

    enum CodingKeys: String, CodingKey { case metadata, items }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        // The API sends `"items": null` for an empty list of some kinds.
        items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
    }

    init(metadata: ListMeta, items: [Item]) {
        self.metadata = metadata
        self.items = items
    }
}

/// `matchLabels` and `matchExpressions`, as workloads and policies select pods.
public struct LabelSelector: Codable, Sendable, Equatable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [LabelSelectorRequirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [LabelSelectorRequirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }
}

public struct LabelSelectorRequirement: Codable, Sendable, Equatable {
    public var key: String
    public var `operator`: String
    public var values: [String]?

    public init(key: String, operator: String, values: [String]? = nil) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}

public struct ObjectReference: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?

    public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil, uid: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

public struct Condition: Codable, Sendable, Equatable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    public var lastTransitionTime: String?
}
