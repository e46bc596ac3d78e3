import Foundation
import Yams

/// Any JSON document. Kubernetes objects are mostly open-ended (a pod spec has
/// hundreds of fields), so Knot keeps what it does not model as `JSONValue`
/// and loses nothing on a round trip.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let fields) = self { return fields[key] }
            return nil
        }
        set {
            guard case .object(var fields) = self else { return }
            fields[key] = newValue
            self = .object(fields)
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value: return Int64(exactly: value)
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// The value at a path of object keys, or nil where any step is missing.
    public func value(at path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path { current = current?[key] }
        return current
    }

    /// Sets the value at a path, creating the objects on the way.
    public mutating func set(_ value: JSONValue?, at path: [String]) {
        guard let first = path.first else {
            if let value { self = value }
            return
        }
        guard case .object(var fields) = self else { return }
        if path.count == 1 {
            fields[first] = value
        } else {
            var child = fields[first] ?? .object([:])
            if child.objectValue == nil { child = .object([:]) }
            child.set(value, at: Array(path.dropFirst()))
            fields[first] = child
        }
        self = .object(fields)
    }
}

extension JSONValue: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Most common first: every failed attempt is a thrown error, and a
        // list of objects has thousands of values (this order took a quarter
        // off the client's CPU time in scripts/bench).
        if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else {
            self = .double(try container.decode(Double.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue {
    /// Encodes any Codable value into a `JSONValue` (through JSON, so the result is what the API would see).
    public init<T: Encodable>(encoding value: T) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(self))
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

// MARK: YAML

/// Why a YAML manifest could not be read, with the document it was in.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension JSONValue {
    /// Reads a multi-document YAML stream the way Kubernetes tooling does
    /// (YAML 1.1 scalars: `yes`/`no` are booleans; timestamps stay strings),
    /// skipping empty documents.
    public static func documents(fromYAML text: String) throws -> [JSONValue] {
        var result: [JSONValue] = []
        do {
            var index = 0
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                index += 1
                let value = try JSONValue(yamlNode: node, path: "document \(index)")
                if value != .null { result.append(value) }
            }
            if let error = sequence.error { throw error }
        } catch let error as ManifestError {
            throw error
        } catch {
            // Yams's description echoes the offending lines, which could hold a
            // secret (a token in a kubeconfig): keep only where and what.
            let lines = "\(error)".split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            var summary = lines.prefix(2).joined(separator: " ")
            if summary.hasSuffix(":") { summary.removeLast() }
            throw ManifestError("not valid YAML: \(summary)")
        }
        return result
    }

    init(yamlNode node: Node, path: String) throws {
        switch node {
        case .scalar(let scalar):
            self = Self.scalar(scalar, tag: node.tag)
        case .mapping(let mapping):
            var fields: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw ManifestError("\(path): a mapping key is not a plain value")
                }
                if keyScalar.string == "<<" { continue }
                fields[keyScalar.string] = try JSONValue(yamlNode: value, path: "\(path).\(keyScalar.string)")
            }
            self = .object(fields)
        case .sequence(let sequence):
            self = .array(try sequence.enumerated().map { try JSONValue(yamlNode: $1, path: "\(path)[\($0)]") })
        case .alias:
            throw ManifestError("\(path): YAML aliases are not supported in manifests")
        }
    }

    private static func scalar(_ scalar: Node.Scalar, tag: Tag) -> JSONValue {
        let text = scalar.string
        switch Tag.Name(rawValue: tag.description) {
        case .null: return .null
        case .bool: return .bool(["true", "yes", "on", "y"].contains(text.lowercased()))
        case .int:
            if let value = Int64(text.replacingOccurrences(of: "_", with: "")) { return .int(value) }
            if text.hasPrefix("0x"), let value = Int64(text.dropFirst(2), radix: 16) { return .int(value) }
            if text.hasPrefix("0o"), let value = Int64(text.dropFirst(2), radix: 8) { return .int(value) }
            return .string(text)
        case .float:
            switch text.lowercased() {
            case ".inf", "+.inf": return .double(.infinity)
            case "-.inf": return .double(-.infinity)
            case ".nan": return .double(.nan)
            default: return Double(text.replacingOccurrences(of: "_", with: "")).map(JSONValue.double) ?? .string(text)
            }
        default:
            return .string(text)
        }
    }
}
