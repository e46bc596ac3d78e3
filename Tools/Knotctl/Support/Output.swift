import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json
}

/// One column of a table: its heading and how a JSON object gives its cell.
struct Column: Sendable {
    var title: String
    var value: @Sendable ([String: Any]) -> String

    /// A column showing one key of the object.
    init(_ title: String, _ key: String) {
        self.title = title
        self.value = { Output.cell($0[key]) }
    }

    init(_ title: String, value: @escaping @Sendable ([String: Any]) -> String) {
        self.title = title
        self.value = value
    }
}

enum Output {
    /// `--output json`: the API's JSON exactly as it came (the contract scripts rely on).
    static func json(_ data: Data) {
        var data = data
        if data.last != UInt8(ascii: "\n") { data.append(UInt8(ascii: "\n")) }
        FileHandle.standardOutput.write(data)
    }

    /// JSON that knotctl makes itself (for commands whose answer is not one API document).
    static func json(object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        json(data)
    }

    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// An aligned table with a header row; control characters in cells are
    /// shown as `?` so a name cannot move the cursor or forge rows.
    static func table(_ rows: [[String: Any]], _ columns: [Column]) {
        let cells = rows.map { row in columns.map { sanitise($0.value(row)) } }
        var widths = columns.map { $0.title.count }
        for row in cells {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func render(_ values: [String]) -> String {
            values.enumerated().map { index, value in
                index == values.count - 1 ? value : value + String(repeating: " ", count: widths[index] - value.count)
            }.joined(separator: "  ")
        }
        line(render(columns.map(\.title)))
        for row in cells { line(render(row)) }
    }

    /// Key: value lines for one object.
    static func details(_ object: [String: Any], _ fields: [(String, String)]) {
        let width = fields.map(\.0.count).max() ?? 0
        for (title, key) in fields {
            guard let value = object[key], !(value is NSNull) else { continue }
            line(title + ":" + String(repeating: " ", count: width - title.count + 1) + sanitise(cell(value)))
        }
    }

    static func cell(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return ""
        case let string as String: return string
        case let number as NSNumber:
            // JSON's true and false arrive as NSNumbers of type char, which JSON numbers never are.
            if String(cString: number.objCType) == "c" { return number.boolValue ? "yes" : "no" }
            return number.stringValue
        case let array as [Any]: return array.map { cell($0) }.joined(separator: ",")
        default: return "\(value!)"
        }
    }

    static func sanitise(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
    }

    /// Sizes for people: 1536 → "1.5 KiB".
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
}

/// The objects under `key` of an answer (`{"services": [...]}`).
func list(_ object: [String: Any], _ key: String) -> [[String: Any]] {
    (object[key] as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
}
