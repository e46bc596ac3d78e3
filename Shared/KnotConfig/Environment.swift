import Foundation

/// Reads `KNOT_*` settings with local defaults, and fails loudly (naming the
/// variable) on a value that is present but malformed, rather than silently
/// running with a default the operator did not ask for.
public struct KnotEnvironment: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public func string(_ key: String, default fallback: String) -> String {
        guard let value = values[key], !value.isEmpty else { return fallback }
        return value
    }

    public func optionalString(_ key: String) -> String? {
        guard let value = values[key], !value.isEmpty else { return nil }
        return value
    }

    public func int(_ key: String, default fallback: Int) throws -> Int {
        guard let raw = optionalString(key) else { return fallback }
        guard let value = Int(raw) else {
            throw ConfigurationError(key: key, problem: "expected a whole number, got \"\(raw)\"")
        }
        return value
    }

    public func port(_ key: String, default fallback: Int) throws -> Int {
        let value = try int(key, default: fallback)
        guard (1...65535).contains(value) else {
            throw ConfigurationError(key: key, problem: "expected a port between 1 and 65535, got \(value)")
        }
        return value
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let raw = optionalString(key)?.lowercased() else { return fallback }
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(key: key, problem: "expected true or false, got \"\(raw)\"")
        }
    }

    /// A secret given either inline (`KEY`) or as a file (`KEY_FILE`, as
    /// container orchestrators mount them). Required: there is no safe default.
    public func secret(_ key: String) throws -> String {
        if let inline = optionalString(key) { return inline }
        if let path = optionalString(key + "_FILE") {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(key: key + "_FILE", problem: "cannot read \(path)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else {
                throw ConfigurationError(key: key + "_FILE", problem: "\(path) is empty")
            }
            return trimmed
        }
        throw ConfigurationError(key: key, problem: "is required (set \(key) or \(key)_FILE)")
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let key: String
    public let problem: String
    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String { "configuration \(key): \(problem)" }
}
