import Foundation
import Yams

/// Substitutes `$NAME`/`${NAME}` inside the parsed YAML of a template's
/// Kubernetes documents, never in its text: each document is composed into
/// nodes, values are put into scalars (values and keys), and the nodes are
/// serialized again. Whatever a value holds (newlines, `: `, quotes, `{`,
/// `#`, `---`, `&anchors`, `*aliases`, `!!tags`) it ends up inside one scalar,
/// quoted as needed; the document's structure is the template author's alone.
///
/// Types follow the text the author wrote, as Karvdash's text substitution
/// did: a plain (unquoted) scalar is resolved again after substitution, so
/// `replicas: $REPLICAS` stays an integer; a quoted or block scalar stays a string.
/// Unknown `$NAMES` (shell code in a ConfigMap) are left as they are.
enum StructuredSubstitution {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func render(_ yaml: String, values: [String: String]) throws -> String {
        var sequence: YamlSequence<Node>
        do {
            sequence = try Yams.compose_all(yaml: yaml)
        } catch {
            throw Failure(description: "the template's objects are not valid YAML: \(summary(error))")
        }
        var documents: [Node] = []
        var index = 0
        while let node = sequence.next() {
            index += 1
            documents.append(try substitute(node, values, document: index))
        }
        if let error = sequence.error {
            throw Failure(description: "the template's objects are not valid YAML: \(summary(error))")
        }
        guard !documents.isEmpty else { return "" }
        do {
            return try Yams.serialize(nodes: documents, width: -1, allowUnicode: true, explicitStart: true)
        } catch {
            throw Failure(description: "the rendered objects cannot be written as YAML: \(summary(error))")
        }
    }

    /// Yams's messages echo the offending lines; keep where and what only.
    static func summary(_ error: Error) -> String {
        let lines = "\(error)".split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var text = lines.prefix(2).joined(separator: " ")
        if text.hasSuffix(":") { text.removeLast() }
        return text
    }

    static func substitute(_ node: Node, _ values: [String: String], document: Int) throws -> Node {
        switch node {
        case .scalar(let scalar):
            return .scalar(substitute(scalar, values))
        case .alias:
            // Yams composes aliases into the nodes they name; none remain.
            throw Failure(description: "document \(document) holds an unresolved alias")
        case .sequence(let sequence):
            return .sequence(
                Node.Sequence(
                    try sequence.map { try substitute($0, values, document: document) }, sequence.tag, sequence.style, sequence.mark))
        case .mapping(let mapping):
            var pairs: [(Node, Node)] = []
            var keys = Set<Node>()
            for (key, value) in mapping {
                let newKey = try substitute(key, values, document: document)
                guard keys.insert(newKey).inserted else {
                    throw Failure(
                        description: "document \(document): the key \"\(newKey.string ?? "?")\" appears twice once values are put in")
                }
                pairs.append((newKey, try substitute(value, values, document: document)))
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        }
    }

    static func substitute(_ scalar: Node.Scalar, _ values: [String: String]) -> Node.Scalar {
        let text = TemplateRenderer.substitute(scalar.string, values)
        let wasPlain = scalar.style == .plain || scalar.style == .any
        var result: Node.Scalar
        if text == scalar.string {
            result = scalar
        } else if wasPlain && scalar.tag.rawValue == "" {
            // Resolved again from the new text: `$REPLICAS` → 3 is an integer.
            result = Node.Scalar(text, .implicit, .any, scalar.mark)
        } else {
            result = Node.Scalar(text, scalar.tag.rawValue == "" ? Tag(.str) : scalar.tag, scalar.style, scalar.mark)
        }
        result.anchor = nil
        return quotedIfNeeded(result)
    }

    /// A string scalar that would read back as something else when written
    /// plain ("3", "true", "null") is written quoted; the emitter itself
    /// quotes anything that would change the structure.
    static func quotedIfNeeded(_ scalar: Node.Scalar) -> Node.Scalar {
        guard scalar.tag.rawValue == Tag.Name.str.rawValue, scalar.style == .plain || scalar.style == .any else { return scalar }
        let plain = Node.scalar(Node.Scalar(scalar.string))
        guard Resolver.default.resolveTag(of: plain) != .str else { return scalar }
        var quoted = scalar
        quoted.style = .doubleQuoted
        return quoted
    }
}
