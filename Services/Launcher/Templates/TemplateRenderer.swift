import Foundation
import KnotErrors
import KnotRuntime

/// Turns a template and a user's values into something a runtime can run.
/// Every value is checked before use; `$NAMES` the template does not define
/// (shell code in commands, for example) are left as they are, as Karvdash did.
struct TemplateRenderer: Sendable {
    /// Variables Knot always sets; users cannot override them.
    static let automatic: Set<String> = ["HOSTNAME", "NAMESPACE", "REGISTRY", "PRIVATE", "SHARED", "USERNAME"]
    static let maxValueLength = 1024

    let domain: String
    let registry: String

    struct Rendered: Sendable {
        var name: String
        var host: String
        var values: [String: String]
        var process: ProcessSpec?
        var manifests: String
    }

    func render(_ template: Template, values given: [String: String], owner: RuntimeUser) async throws -> Rendered {
        let declared = Dictionary(template.variables.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for key in given.keys.sorted() {
            if Self.automatic.contains(key) {
                throw KnotError.badRequest("\(key) is set by Knot and cannot be given", code: "invalid_value")
            }
            guard key == "NAME" || declared[key] != nil else {
                throw KnotError.badRequest("the template \"\(template.id)\" has no variable \(key)", code: "invalid_value")
            }
        }
        let name = given["NAME"] ?? declared["NAME"]?.defaultValue ?? template.id
        try Self.checkServiceName(name, owner: owner.username)
        let host = "\(name)-\(owner.username).\(domain)"

        var values: [String: String] = [:]
        for variable in template.variables where !Self.automatic.contains(variable.name) {
            let value = given[variable.name] ?? variable.defaultValue
            try Self.checkValue(value, of: variable)
            values[variable.name] = value
        }
        values["NAME"] = name
        let automatic: [String: String] = [
            "HOSTNAME": host, "NAMESPACE": owner.namespace, "REGISTRY": registry,
            "PRIVATE": owner.privateDirectory, "SHARED": owner.sharedDirectory, "USERNAME": owner.username,
        ]
        let all = values.merging(automatic) { _, knot in knot }
        let process = template.local.map { local in
            ProcessSpec(
                command: Self.substitute(local.command, all), arguments: local.args.map { Self.substitute($0, all) },
                environment: local.env.mapValues { Self.substitute($0, all) })
        }
        return Rendered(name: name, host: host, values: values, process: process, manifests: Self.substitute(template.manifests, all))
    }

    static func checkServiceName(_ name: String, owner: String) throws {
        let valid =
            (1...40).contains(name.count) && name.first!.isLetter && name.last != "-"
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard valid else {
            throw KnotError.badRequest(
                "a service name is 1 to 40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
                code: "invalid_name")
        }
        guard name.count + 1 + owner.count <= 63 else {
            throw KnotError.badRequest("the name \"\(name)\" is too long to make an address with your username", code: "invalid_name")
        }
    }

    static func checkValue(_ value: String, of variable: TemplateVariable) throws {
        guard value.count <= maxValueLength else {
            throw KnotError.badRequest("\(variable.name) is longer than \(maxValueLength) characters", code: "invalid_value")
        }
        guard !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw KnotError.badRequest("\(variable.name) contains control characters", code: "invalid_value")
        }
        if let choices = variable.choices, !choices.isEmpty, !choices.contains(value) {
            throw KnotError.badRequest(
                "\(variable.name) must be one of: \(choices.joined(separator: ", "))", code: "invalid_value")
        }
    }

    /// Replaces `$NAME` and `${NAME}` for the names given; leaves every other `$` alone.
    static func substitute(_ text: String, _ values: [String: String]) -> String {
        guard text.contains("$") else { return text }
        var output = ""
        var index = text.startIndex
        func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
        func isNameChar(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
        while index < text.endIndex {
            let ch = text[index]
            guard ch == "$" else {
                output.append(ch)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            if next < text.endIndex, text[next] == "{", let close = text[next...].firstIndex(of: "}") {
                let name = String(text[text.index(after: next)..<close])
                if let value = values[name] {
                    output += value
                    index = text.index(after: close)
                    continue
                }
            } else if next < text.endIndex, isNameStart(text[next]) {
                var end = next
                while end < text.endIndex, isNameChar(text[end]) { end = text.index(after: end) }
                if let value = values[String(text[next..<end])] {
                    output += value
                    index = end
                    continue
                }
            }
            output.append(ch)
            index = next
        }
        return output
    }
}
