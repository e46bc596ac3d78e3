import Foundation

/// Where a template in the catalogue comes from. Later sources override
/// earlier ones by id: built-in, `KNOT_TEMPLATE_DIRS` folders, the admin
/// domain's `services/`, the shared domain's `services/`, the person's own
/// private `services/`.
enum TemplateSource: String, Codable, Sendable, CaseIterable, Comparable {
    case builtIn = "built-in"
    case folder
    case admin
    case shared
    case `private`

    var rank: Int { Self.allCases.firstIndex(of: self)! }
    static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// One template as the catalogue holds it: the parsed template (possibly
/// broken: `template.problem`), where it came from, its source text for
/// download, and what it replaced.
struct CatalogueEntry: Sendable {
    var template: Template
    var source: TemplateSource
    /// The YAML it was read from (nil for a source that has none, such as a chart).
    var yaml: String?
    var modified: Date? = nil
    /// The source of the template with the same id that this one overrides.
    var replaces: TemplateSource? = nil

    var id: String { template.id }
}

/// Template ids: the file name without `.template.yaml`, used in URLs and as
/// the file name in `services/`; lowercase letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit, at most 63 characters.
enum TemplateID {
    static let maxLength = 63

    static func isValid(_ id: String) -> Bool {
        guard (1...maxLength).contains(id.count), let first = id.unicodeScalars.first, let last = id.unicodeScalars.last else {
            return false
        }
        func alphanumeric(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        return alphanumeric(first) && alphanumeric(last)
            && id.unicodeScalars.allSatisfy { alphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }
            && !id.contains("..")
    }

    /// A valid id made from a descriptive name ("Jupyter (GPU) 2" → "jupyter-gpu-2"); nil when nothing is left.
    static func from(name: String) -> String? {
        var id = ""
        for scalar in name.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                id.unicodeScalars.append(scalar)
            } else if !id.isEmpty && !id.hasSuffix("-") {
                id += "-"
            }
        }
        while id.hasSuffix("-") { id.removeLast() }
        if id.count > maxLength {
            id = String(id.prefix(maxLength))
            while id.hasSuffix("-") { id.removeLast() }
        }
        return isValid(id) ? id : nil
    }

    static func problem(_ id: String) -> String {
        "\"\(id.prefix(80))\" is not a valid template id: use 1 to \(maxLength) lowercase letters, digits, \"-\", \"_\" and \".\", starting and ending with a letter or digit"
    }
}
