import Foundation

/// What values a template variable takes. Templates may say (`type:`);
/// otherwise it is inferred: `choices` make a choice, an integer default an
/// integer, a boolean default a boolean, anything else a string.
enum VariableType: String, Codable, Sendable, Equatable, CaseIterable {
    case string, integer, boolean, choice

    /// The type a variable without `type:` has, from its parsed default and choices.
    static func inferred(default value: Any?, choices: [String]?) -> VariableType {
        if let choices, !choices.isEmpty { return .choice }
        switch value {
        case is Bool: return .boolean
        case is Int: return .integer
        default: return .string
        }
    }
}

extension TemplateVariable {
    /// Why `value` does not fit this variable's type and choices, as a
    /// sentence starting with the variable's name; nil when it fits.
    func problem(with value: String) -> String? {
        switch type {
        case .integer:
            guard Int(value) != nil else { return "\(name) must be a whole number" }
        case .boolean:
            guard value == "true" || value == "false" else { return "\(name) must be true or false" }
        case .string, .choice:
            break
        }
        if let choices, !choices.isEmpty, !choices.contains(value) {
            return "\(name) must be one of: \(choices.joined(separator: ", "))"
        }
        return nil
    }

    /// The value as the type says, for a chart's values file (JSON).
    func typedValue(_ value: String) -> Any {
        switch type {
        case .integer: return Int(value) ?? value
        case .boolean: return value == "true"
        case .string, .choice: return value
        }
    }
}
