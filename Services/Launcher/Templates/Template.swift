import Foundation
import Logging
import Yams

/// One variable a template asks for.
struct TemplateVariable: Codable, Sendable, Equatable {
    var name: String
    var defaultValue: String
    var title: String?
    var help: String?
    var hidden: Bool
    var choices: [String]?
    /// What values it takes; given as `type`, else inferred from `choices` or the default.
    var type: VariableType = .string

    enum CodingKeys: String, CodingKey {
        case name, title, help, hidden, choices, type
        case defaultValue = "default"
    }

    init(
        name: String, defaultValue: String, title: String? = nil, help: String? = nil, hidden: Bool = false,
        choices: [String]? = nil, type: VariableType = .string
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.title = title
        self.help = help
        self.hidden = hidden
        self.choices = choices
        self.type = type
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        defaultValue = try container.decodeIfPresent(String.self, forKey: .defaultValue) ?? ""
        title = try container.decodeIfPresent(String.self, forKey: .title)
        help = try container.decodeIfPresent(String.self, forKey: .help)
        hidden = try container.decodeIfPresent(Bool.self, forKey: .hidden) ?? false
        choices = try container.decodeIfPresent([String].self, forKey: .choices)
        type = try container.decodeIfPresent(VariableType.self, forKey: .type) ?? .string
    }
}

/// How the local runtime runs a template: a program and its arguments, with
/// `$VARIABLES` (and `$PORT`, the port the runtime picks) substituted.
struct LocalBlock: Codable, Sendable, Equatable {
    var command: String
    var args: [String]
    var env: [String: String]
}

/// A service template in Karvdash's format: multi-document YAML whose
/// `kind: Template` document describes it and whose other documents are the
/// Kubernetes objects to create. Knot adds variable metadata and `local`.
/// Karvdash's `auth: no` makes a service public: the edge puts no sign-on in front.
struct Template: Sendable {
    /// The file name without `.template.yaml`; what the API names it by.
    var id: String
    var name: String
    var description: String
    var singleton: Bool
    var variables: [TemplateVariable]
    var local: LocalBlock?
    /// The YAML of the Kubernetes documents, unrendered.
    var manifests: String
    /// `auth: no` in the descriptor: anyone may open the service, signed in or not.
    var isPublic: Bool = false
    /// Where the template came from: `built-in`, or `folder` (one of `KNOT_TEMPLATE_DIRS`;
    /// the API does not show which, to keep the server's paths to itself).
    var source: String = "built-in"
    /// The template's own version (`version` in the descriptor, a chart's
    /// `version`); a service launched from an older one can be upgraded.
    var version: String = ""
    /// Why the template cannot be launched at all, whatever the runtime (its
    /// file does not parse, helm is missing…). Such a template is still listed.
    var problem: String? = nil
    /// Culling for this template's services, overriding the launcher's
    /// settings: stopped after this many idle minutes (no traffic through the
    /// edge), or this many hours after launch. Nil: the global setting.
    var idleMinutes: Int? = nil
    var lifetimeHours: Int? = nil
    /// Set for a Knot 5 chart template: rendered by `helm template`, not by substitution.
    var chart: ChartReference? = nil

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(id: String, yaml: String) throws -> Template {
        var descriptor: [String: Any]?
        var objects: [String] = []
        // Split on document markers ourselves so that the object documents stay
        // text (Karvdash rendered text), and parse each to find the descriptor.
        for document in splitDocuments(yaml) {
            guard let parsed = try? Yams.load(yaml: document) else {
                throw ParseError(description: "\(id): a document is not valid YAML")
            }
            guard let object = parsed as? [String: Any] else { continue }
            if object["kind"] as? String == "Template" && object["apiVersion"] == nil {
                guard descriptor == nil else { throw ParseError(description: "\(id): more than one Template document") }
                descriptor = object
            } else {
                objects.append(document)
            }
        }
        guard let descriptor else { throw ParseError(description: "\(id): no `kind: Template` document") }
        guard let name = descriptor["name"] as? String, !name.isEmpty else {
            throw ParseError(description: "\(id): the Template document has no name")
        }
        var variables: [TemplateVariable] = []
        for (index, raw) in ((descriptor["variables"] as? [Any]) ?? []).enumerated() {
            guard let entry = raw as? [String: Any], let variableName = entry["name"] as? String,
                variableName.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil
            else { throw ParseError(description: "\(id): variable \(index + 1) has no valid name") }
            let choices = (entry["choices"] as? [Any])?.map(scalarString)
            let type: VariableType
            if let given = entry["type"] {
                guard let parsed = VariableType(rawValue: scalarString(given).lowercased()) else {
                    throw ParseError(
                        description: "\(id): variable \(variableName) has type \"\(scalarString(given).prefix(32))\"; types are string, integer, boolean and choice")
                }
                type = parsed
            } else {
                type = VariableType.inferred(default: entry["default"], choices: choices)
            }
            if type == .choice && (choices ?? []).isEmpty {
                throw ParseError(description: "\(id): variable \(variableName) is a choice but has no choices")
            }
            let variable = TemplateVariable(
                name: variableName, defaultValue: entry["default"].map(scalarString) ?? "",
                title: entry["title"] as? String, help: entry["help"] as? String,
                hidden: entry["hidden"] as? Bool ?? false, choices: choices, type: type)
            if entry["default"] != nil, let problem = variable.problem(with: variable.defaultValue) {
                throw ParseError(description: "\(id): the default of \(problem)")
            }
            variables.append(variable)
        }
        var local: LocalBlock?
        if let block = descriptor["local"] as? [String: Any] {
            guard let command = block["command"] as? String, !command.isEmpty else {
                throw ParseError(description: "\(id): the local block has no command")
            }
            local = LocalBlock(
                command: command, args: ((block["args"] as? [Any]) ?? []).map(scalarString),
                env: ((block["env"] as? [String: Any]) ?? [:]).mapValues(scalarString))
        }
        var requiresAuth = true
        if let auth = descriptor["auth"] {
            guard let value = yamlBool(auth) else {
                throw ParseError(description: "\(id): `auth` is yes, no, true or false, not \"\(scalarString(auth).prefix(32))\"")
            }
            requiresAuth = value
        }
        var template = Template(
            id: id, name: name, description: descriptor["description"] as? String ?? "",
            singleton: descriptor["singleton"] as? Bool ?? false, variables: variables, local: local,
            manifests: objects.joined(separator: "\n---\n"), isPublic: !requiresAuth)
        template.version = descriptor["version"].map(scalarString) ?? ""
        template.idleMinutes = try positiveInt(descriptor["idle_minutes"], "idle_minutes", id)
        template.lifetimeHours = try positiveInt(descriptor["lifetime_hours"], "lifetime_hours", id)
        return template
    }

    private static func positiveInt(_ value: Any?, _ key: String, _ id: String) throws -> Int? {
        guard let value else { return nil }
        guard let number = value as? Int, number > 0 else {
            throw ParseError(description: "\(id): `\(key)` is a whole number above zero")
        }
        return number
    }

    /// A YAML boolean: Yams already turns bare yes/no/true/false/on/off into
    /// `Bool`; quoted ones arrive as text and are read the same way.
    static func yamlBool(_ value: Any) -> Bool? {
        if let bool = value as? Bool { return bool }
        guard let text = value as? String else { return nil }
        switch text.lowercased() {
        case "yes", "true", "on": return true
        case "no", "false", "off": return false
        default: return nil
        }
    }

    static func splitDocuments(_ yaml: String) -> [String] {
        var documents: [String] = []
        var current: [Substring] = []
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "---" || line.hasPrefix("--- ") {
                documents.append(current.joined(separator: "\n"))
                current = []
            } else {
                current.append(line)
            }
        }
        documents.append(current.joined(separator: "\n"))
        return documents.filter { doc in
            doc.split(separator: "\n").contains { line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return !trimmed.isEmpty && !trimmed.hasPrefix("#")
            }
        }
    }

    static func scalarString(_ value: Any) -> String {
        switch value {
        case let string as String: return string
        case let bool as Bool: return bool ? "true" : "false"
        case let int as Int: return String(int)
        case let double as Double: return String(double)
        default: return "\(value)"
        }
    }
}

extension Template {
    static let fileSuffix = ".template.yaml"

    /// The template files of a folder, sorted, each with the id its name gives.
    static func files(in folder: String) throws -> [(id: String, path: String)] {
        try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(fileSuffix) && $0 != fileSuffix }
            .sorted()
            .map { (String($0.dropLast(fileSuffix.count)), folder + "/" + $0) }
    }

    static func load(id: String, path: String) throws -> Template {
        try parse(id: id, yaml: try String(contentsOfFile: path, encoding: .utf8))
    }
}
