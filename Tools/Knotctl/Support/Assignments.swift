/// `KEY=value` arguments: template variables for `services create`.
enum Assignments {
    /// Splits each argument at its first `=` (values may hold `=`); keys are
    /// variable names (letters, digits, `_`, not starting with a digit), each given once.
    static func parse(_ arguments: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "=") else {
                throw KnotctlError.usage("\"\(argument.prefix(80))\" is not KEY=value")
            }
            let key = String(argument[..<equals])
            let value = String(argument[argument.index(after: equals)...])
            guard isVariableName(key) else {
                throw KnotctlError.usage("\"\(key.prefix(80))\" is not a variable name (letters, digits and _, not starting with a digit)")
            }
            guard values[key] == nil else { throw KnotctlError.usage("\(key) is given twice") }
            values[key] = value
        }
        return values
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Sizes like `512`, `64K`, `8M`, `1G` (binary multiples), for `--chunk-size` and `--limit-rate`.
    static func byteCount(_ text: String) -> Int64? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        var multiplier: Int64 = 1
        switch digits.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        default: break
        }
        if multiplier > 1 { digits.removeLast() }
        guard let value = Int64(digits), value > 0, value <= Int64.max / multiplier else { return nil }
        return value * multiplier
    }
}

import Foundation
