import Foundation
import KnotErrors
import KnotRuntime

/// Turns a template and a user's values into something a runtime can run.
/// Every value is checked before use (length, control characters, type,
/// choices). A Karvdash template's objects get their values inside the parsed
/// YAML (`StructuredSubstitution`), so no value can change their structure;
/// `$NAMES` the template does not define (shell code in commands, for
/// example) are left as they are, as Karvdash did. A chart template is
/// rendered by `helm template` with the values in a file (`Helm`).
struct TemplateRenderer: Sendable {
    /// Variables Knot always sets; users cannot override them.
    static let automatic: Set<String> = ["HOSTNAME", "NAMESPACE", "REGISTRY", "PRIVATE", "SHARED", "USERNAME"]
    static let maxValueLength = 1024

    let domain: String
    let registry: String
    /// The helm binary chart templates are rendered with (`KNOT_HELM`, else `helm` on PATH).
    var helm: String? = Helm.locate()

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
        let manifests: String
        if let chart = template.chart {
            manifests = try await renderChart(chart, template: template, name: name, host: host, values: values, owner: owner)
        } else {
            do {
                manifests = try StructuredSubstitution.render(template.manifests, values: all)
            } catch let failure as StructuredSubstitution.Failure {
                throw KnotError.badRequest("the template \"\(template.id)\" cannot be rendered: \(failure.description)", code: "invalid_template")
            }
        }
        return Rendered(name: name, host: host, values: values, process: process, manifests: manifests)
    }

    /// The `knot.*` values Knot 5 charts read, filled for this service.
    func knotValues(host: String, owner: RuntimeUser) -> [String: Any] {
        [
            "enabled": true, "hostname": host, "username": owner.username, "namespace": owner.namespace,
            "privateDir": "/files/private", "sharedDir": "/files/shared",
            "privateVolume": "knot-private", "sharedVolume": "knot-shared",
            "registry": registry, "localRegistryURL": registry, "registryURL": registry,
        ]
    }

    func renderChart(
        _ chart: ChartReference, template: Template, name: String, host: String, values: [String: String], owner: RuntimeUser
    ) async throws -> String {
        guard let helm else {
            throw KnotError.unavailable("the template \"\(template.id)\" \(Helm.missing)")
        }
        var chartValues: [String: Any] = [:]
        for variable in template.variables where variable.name != "NAME" {
            if let value = values[variable.name] { chartValues[variable.name] = variable.typedValue(value) }
        }
        chartValues["knot"] = knotValues(host: host, owner: owner)
        do {
            return try await Helm.template(
                helm: helm, chart: chart.path, release: name, namespace: owner.namespace, values: chartValues)
        } catch let failure as Helm.Failure {
            throw KnotError.badRequest("the chart \"\(template.id)\" cannot be rendered: \(failure.description)", code: "invalid_template")
        }
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
        // Line and paragraph separators end lines for some readers; a value is one line.
        guard !value.unicodeScalars.contains(where: { $0 == "\u{2028}" || $0 == "\u{2029}" }) else {
            throw KnotError.badRequest("\(variable.name) contains a line separator", code: "invalid_value")
        }
        if let problem = variable.problem(with: value) {
            throw KnotError.badRequest(problem, code: "invalid_value")
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
