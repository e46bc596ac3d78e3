import Foundation
import Yams

/// Where a chart template's chart is: a folder or a packaged `.tgz`.
struct ChartReference: Sendable, Equatable {
    var path: String
}

/// Knot 5's template format: a Helm chart whose `values.yaml` has a `knot:`
/// block. Knot fills `knot.*` (hostname, username, namespace, file folders
/// and volumes, registry) when it renders; the chart's other top-level scalar
/// values are offered as variables, with help from their inline `# comments`
/// and `knot.metadata` (per value: `title`, `help`, `hidden`, `choices`,
/// `type`). The chart is rendered by `helm template` (`Helm`), and what helm
/// prints goes the same way as a rendered YAML template. The template's
/// version is the chart's.
enum ChartTemplate {
    /// Chart values never offered: they rename objects, which Knot names itself.
    static let reserved: Set<String> = ["knot", "nameOverride", "fullnameOverride"]

    /// Reads a chart (folder or `.tgz`). Never throws: a chart that cannot be
    /// read, or needs a helm that is not there, comes back with `problem` set.
    static func load(id: String, path: String, helm: String? = Helm.locate()) async -> Template {
        var template: Template
        do {
            let (chartYAML, valuesYAML) = try await files(of: path)
            template = try parse(id: id, chartYAML: chartYAML, valuesYAML: valuesYAML, path: path)
        } catch {
            template = Template(id: id, name: id, description: "", singleton: false, variables: [], local: nil, manifests: "")
            template.chart = ChartReference(path: path)
            template.problem = "the chart cannot be read: \(error)"
            return template
        }
        if helm == nil { template.problem = Helm.missing }
        return template
    }

    /// Every chart in a folder: subfolders with a `Chart.yaml`, and `*.tgz`
    /// files (the id is the file name without `.tgz`), sorted.
    static func charts(in folder: String) throws -> [(id: String, path: String)] {
        var found: [(id: String, path: String)] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where !entry.hasPrefix(".") {
            let path = folder + "/" + entry
            if entry.hasSuffix(".tgz") {
                found.append((String(entry.dropLast(4)), path))
            } else if FileManager.default.fileExists(atPath: path + "/Chart.yaml") {
                found.append((entry, path))
            }
        }
        return found
    }

    /// `Chart.yaml` and `values.yaml` of a chart folder or package.
    static func files(of path: String) async throws -> (chart: String, values: String) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw Template.ParseError(description: "\(path) does not exist")
        }
        if isFolder.boolValue {
            let chart = try String(contentsOfFile: path + "/Chart.yaml", encoding: .utf8)
            let values = (try? String(contentsOfFile: path + "/values.yaml", encoding: .utf8)) ?? ""
            return (chart, values)
        }
        // A packaged chart: only its top-level Chart.yaml and values.yaml are read, into a private folder.
        guard let tar = Helm.executable("tar") else { throw Template.ParseError(description: "tar is not installed") }
        let work = try Helm.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let into = work + "/chart"
        try FileManager.default.createDirectory(atPath: into, withIntermediateDirectories: true)
        let result = try await Helm.run(
            tar, ["-xzf", path, "-C", into, "--no-same-owner", "--no-same-permissions", "--wildcards", "*/Chart.yaml", "*/values.yaml"],
            in: work, timeout: .seconds(20))
        guard result.status == 0 else {
            throw Template.ParseError(description: "not a packaged chart: \(Helm.lastLines(result.error))")
        }
        let top = try FileManager.default.contentsOfDirectory(atPath: into).sorted()
        guard let folder = top.first(where: { FileManager.default.fileExists(atPath: "\(into)/\($0)/Chart.yaml") }) else {
            throw Template.ParseError(description: "the package has no Chart.yaml")
        }
        let chart = try String(contentsOfFile: "\(into)/\(folder)/Chart.yaml", encoding: .utf8)
        let values = (try? String(contentsOfFile: "\(into)/\(folder)/values.yaml", encoding: .utf8)) ?? ""
        return (chart, values)
    }

    static func parse(id: String, chartYAML: String, valuesYAML: String, path: String) throws -> Template {
        guard let chart = try? Yams.load(yaml: chartYAML) as? [String: Any] else {
            throw Template.ParseError(description: "\(id): Chart.yaml is not a YAML mapping")
        }
        guard let name = chart["name"] as? String, !name.isEmpty else {
            throw Template.ParseError(description: "\(id): Chart.yaml has no name")
        }
        let values: [String: Any]
        do {
            values = try (Yams.load(yaml: valuesYAML) as? [String: Any]) ?? [:]
        } catch {
            throw Template.ParseError(description: "\(id): values.yaml is not valid YAML")
        }
        guard let knot = values["knot"] as? [String: Any] else {
            throw Template.ParseError(description: "\(id): values.yaml has no `knot:` block, so this is not a Knot chart")
        }
        let comments = inlineComments(valuesYAML)
        let metadata = Self.metadata(knot["metadata"])
        var variables = [TemplateVariable(name: "NAME", defaultValue: name, title: "Name", help: "The service's name")]
        for key in topLevelKeys(valuesYAML, parsed: values) where !reserved.contains(key) {
            guard let value = values[key], isScalar(value) else { continue }
            let meta = metadata[key] ?? [:]
            let choices = (meta["choices"] as? [Any])?.map(Template.scalarString)
            var type = VariableType.inferred(default: value, choices: choices)
            if let given = meta["type"].map(Template.scalarString) {
                guard let parsed = VariableType(rawValue: given.lowercased()) else {
                    throw Template.ParseError(description: "\(id): knot.metadata gives \(key) the unknown type \"\(given.prefix(32))\"")
                }
                type = parsed
            }
            variables.append(
                TemplateVariable(
                    name: key, defaultValue: value is NSNull ? "" : Template.scalarString(value),
                    title: meta["title"] as? String, help: (meta["help"] as? String) ?? comments[key],
                    hidden: meta["hidden"].flatMap(Template.yamlBool) ?? false, choices: choices, type: type))
        }
        var template = Template(
            id: id, name: name, description: chart["description"] as? String ?? "",
            singleton: knot["singleton"].flatMap(Template.yamlBool) ?? false, variables: variables, local: nil, manifests: "")
        template.version = chart["version"].map(Template.scalarString) ?? ""
        template.chart = ChartReference(path: path)
        return template
    }

    static func isScalar(_ value: Any) -> Bool {
        value is String || value is Int || value is Bool || value is Double || value is NSNull
    }

    /// `knot.metadata`: a mapping from value name to its metadata, or a list of entries with `name`.
    static func metadata(_ raw: Any?) -> [String: [String: Any]] {
        if let map = raw as? [String: Any] {
            return map.compactMapValues { $0 as? [String: Any] }
        }
        var result: [String: [String: Any]] = [:]
        for entry in (raw as? [Any]) ?? [] {
            if let entry = entry as? [String: Any], let name = entry["name"] as? String { result[name] = entry }
        }
        return result
    }

    /// Top-level keys in the order values.yaml lists them.
    static func topLevelKeys(_ text: String, parsed: [String: Any]) -> [String] {
        var keys: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first != " ", first != "\t", first != "#", first != "-" else { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            var key = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            if key.count >= 2, let quote = key.first, quote == "\"" || quote == "'", key.last == quote {
                key = String(key.dropFirst().dropLast())
            }
            if parsed[key] != nil, !keys.contains(key) { keys.append(key) }
        }
        for key in parsed.keys.sorted() where !keys.contains(key) { keys.append(key) }
        return keys
    }

    /// The `# comment` at the end of each top-level `key: value` line: the help Knot 5 showed.
    static func inlineComments(_ text: String) -> [String: String] {
        var comments: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let first = line.first, first != " ", first != "\t", first != "#" else { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let rest = line[line.index(after: colon)...]
            var quote: Character?
            var previous: Character = " "
            for index in rest.indices {
                let character = rest[index]
                if let open = quote {
                    if character == open { quote = nil }
                } else if character == "\"" || character == "'" {
                    quote = character
                } else if character == "#" && (previous == " " || previous == "\t") {
                    let comment = rest[rest.index(after: index)...].trimmingCharacters(in: .whitespaces)
                    if !comment.isEmpty { comments[key] = comment }
                    break
                }
                previous = character
            }
        }
        return comments
    }
}

extension Template {
    /// A Knot 5 chart template, for the catalogue; never throws (see `ChartTemplate.load`).
    static func loadChart(id: String, path: String) async -> Template {
        await ChartTemplate.load(id: id, path: path)
    }
}
