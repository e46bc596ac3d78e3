import Foundation

/// Runs a real `helm` (v3) to render chart templates: `helm template` with
/// the values in a file, no shell, release name and namespace given, a
/// private HOME so nothing of the launcher's leaks in, and a deadline.
enum Helm {
    static let missing = "needs helm, which is not installed here"
    static let timeout: Duration = .seconds(30)
    /// More rendered YAML than this is refused rather than read.
    static let maxOutput = 8 << 20

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `KNOT_HELM` when set (nil if it is not an executable file), else the first `helm` on PATH.
    static func locate(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let given = environment["KNOT_HELM"]?.trimmingCharacters(in: .whitespaces), !given.isEmpty {
            return FileManager.default.isExecutableFile(atPath: given) ? given : nil
        }
        return executable("helm", environment)
    }

    static func executable(_ name: String, _ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where folder.hasPrefix("/") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Renders `chart` (a folder or a packaged `.tgz`) as release `release` in `namespace`.
    static func template(
        helm: String, chart: String, release: String, namespace: String, values: [String: Any], timeout: Duration = timeout
    ) async throws -> String {
        let work = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let valuesFile = work + "/values.json"
        // JSON is YAML, and JSONSerialization writes every value as one scalar.
        let data = try JSONSerialization.data(withJSONObject: values, options: [.sortedKeys, .withoutEscapingSlashes])
        try data.write(to: URL(fileURLWithPath: valuesFile))
        let result = try await run(
            helm, ["template", release, chart, "--namespace", namespace, "--values", valuesFile], in: work, timeout: timeout)
        guard result.status == 0 else {
            throw Failure(description: "helm template failed: \(lastLines(result.error))")
        }
        return result.output
    }

    static func temporaryFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knot-helm-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder
    }

    static func lastLines(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let summary = lines.suffix(3).joined(separator: " ")
        return summary.isEmpty ? "no message" : String(summary.prefix(600))
    }

    struct Result: Sendable {
        var status: Int32
        var output: String
        var error: String
    }

    /// The process and whether the deadline ended it, shared with the timer.
    private final class Running: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var expired = false
        var timedOut: Bool { lock.withLock { expired } }
        func expire() {
            lock.withLock { expired = true }
            guard process.isRunning else { return }
            process.terminate()
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [process] in
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
    }

    /// Runs `executable` with `arguments` (no shell), output to files in `folder`;
    /// ended (TERM, then KILL) once `timeout` has passed.
    static func run(_ executable: String, _ arguments: [String], in folder: String, timeout: Duration) async throws -> Result {
        let outPath = folder + "/stdout", errPath = folder + "/stderr"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        let running = Running()
        let process = running.process
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        process.environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": folder, "HELM_CACHE_HOME": folder + "/cache",
            "HELM_CONFIG_HOME": folder + "/config", "HELM_DATA_HOME": folder + "/data", "KUBECONFIG": folder + "/no-kubeconfig",
        ]
        let timer = Task.detached {
            try await Task.sleep(for: timeout)
            running.expire()
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: Failure(description: "\(executable) cannot be started: \(error.localizedDescription)"))
            }
        }
        if running.timedOut {
            throw Failure(description: "\((executable as NSString).lastPathComponent) took longer than \(timeout) and was stopped")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: outPath)[.size] as? Int) ?? 0
        guard size <= maxOutput else { throw Failure(description: "the rendered chart is larger than \(maxOutput >> 20) MiB") }
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let error = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: process.terminationStatus, output: output, error: error)
    }
}
