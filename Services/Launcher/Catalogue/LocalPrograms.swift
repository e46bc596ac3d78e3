import Foundation

/// Whether the program of a template's `local` block is installed here: the
/// local runtime marks a template without a local block unavailable itself;
/// this adds the case where the block names a program not on `PATH` (or not
/// executable at its absolute path), so the catalogue says so before launch.
enum LocalPrograms {
    /// Why `template` cannot run on this machine, or nil when its program is found.
    static func missing(_ template: Template, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        guard let command = template.local?.command, !command.contains("$") else { return nil }
        return find(command, path: path) == nil ? "the program \"\(command)\" is not installed on this machine" : nil
    }

    static func find(_ command: String, path: String?) -> String? {
        if command.contains("/") {
            return FileManager.default.isExecutableFile(atPath: command) ? command : nil
        }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
