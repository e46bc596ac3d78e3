import Foundation

/// Any object, of any `apiVersion` and `kind`: what templates contain. The
/// kind is resolved to a resource through API discovery before use.
public struct UnstructuredObject: Sendable, Equatable {
    public private(set) var raw: JSONValue

    public init(_ raw: JSONValue) throws {
        guard raw.objectValue != nil else { throw ManifestError("a Kubernetes object must be a mapping") }
        guard let apiVersion = raw["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw ManifestError("an object has no apiVersion")
        }
        guard let kind = raw["kind"]?.stringValue, !kind.isEmpty else {
            throw ManifestError("an object of \(apiVersion) has no kind")
        }
        if let metadata = raw["metadata"], metadata.objectValue == nil {
            throw ManifestError("the \(kind)'s metadata is not a mapping")
        }
        self.raw = raw
    }

    public var apiVersion: String { raw["apiVersion"]?.stringValue ?? "" }
    public var kind: String { raw["kind"]?.stringValue ?? "" }

    public var name: String? {
        get { raw.value(at: ["metadata", "name"])?.stringValue }
        set { raw.set(newValue.map(JSONValue.string), at: ["metadata", "name"]) }
    }

    public var namespace: String? {
        get { raw.value(at: ["metadata", "namespace"])?.stringValue }
        set { raw.set(newValue.map(JSONValue.string), at: ["metadata", "namespace"]) }
    }

    public var resourceVersion: String? { raw.value(at: ["metadata", "resourceVersion"])?.stringValue }

    public var labels: [String: String] {
        get { Self.strings(raw.value(at: ["metadata", "labels"])) }
        set { raw.set(.object(newValue.mapValues(JSONValue.string)), at: ["metadata", "labels"]) }
    }

    public var annotations: [String: String] {
        get { Self.strings(raw.value(at: ["metadata", "annotations"])) }
        set { raw.set(.object(newValue.mapValues(JSONValue.string)), at: ["metadata", "annotations"]) }
    }

    public subscript(path: String...) -> JSONValue? {
        get { raw.value(at: path) }
        set { raw.set(newValue, at: path) }
    }

    public mutating func set(_ value: JSONValue?, at path: [String]) { raw.set(value, at: path) }

    /// "Deployment/web", for messages.
    public var reference: String { "\(kind)/\(name ?? "?")" }

    /// The object as a typed value (for a built-in kind).
    public func decode<T: KubernetesObject>(as type: T.Type) throws -> T { try raw.decode(as: T.self) }

    static func strings(_ value: JSONValue?) -> [String: String] {
        guard let fields = value?.objectValue else { return [:] }
        return fields.compactMapValues(\.stringValue)
    }
}

extension UnstructuredObject: Codable {
    public init(from decoder: Decoder) throws {
        try self.init(try JSONValue(from: decoder))
    }

    public func encode(to encoder: Encoder) throws { try raw.encode(to: encoder) }
}

extension UnstructuredObject {
    /// Reads every object in a multi-document YAML stream (a rendered template).
    public static func objects(fromYAML text: String) throws -> [UnstructuredObject] {
        try JSONValue.documents(fromYAML: text).enumerated().map { index, document in
            do {
                return try UnstructuredObject(document)
            } catch let error as ManifestError {
                throw ManifestError("document \(index + 1): \(error.description)")
            }
        }
    }
}
