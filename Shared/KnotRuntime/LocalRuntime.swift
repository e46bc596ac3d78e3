import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Runs each service as a child process on this machine, with the user's
/// folders and variables in its environment, listening on a loopback port the
/// edge routes to. For one machine and one developer: there is no isolation
/// between users beyond Knot's own checks, and the UI says so.
public actor LocalRuntime: ServiceRuntime {
    public nonisolated let kind = "local"
    private let logDirectory: String
    private let logger: Logger
    private var running: [String: RunningProcess] = [:]
    /// What was started, kept after a stop so that `resume` can start it again.
    private var specs: [String: WorkloadSpec] = [:]

    final class RunningProcess: @unchecked Sendable {
        let process: ChildProcess
        let port: Int
        let logPath: String
        var status: WorkloadStatus

        init(process: ChildProcess, port: Int, logPath: String, status: WorkloadStatus) {
            self.process = process
            self.port = port
            self.logPath = logPath
            self.status = status
        }
    }

    public init(logDirectory: String, logger: Logger) {
        self.logDirectory = logDirectory
        self.logger = logger
    }

    public func provision(_ user: RuntimeUser) async throws {
        for directory in [user.privateDirectory, user.sharedDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    public nonisolated func unsupportedReason(_ spec: WorkloadSpec) -> String? {
        spec.process == nil ? "needs Kubernetes: the template has no local block" : nil
    }

    public func start(_ spec: WorkloadSpec, readinessTimeout: Duration) async throws -> WorkloadStatus {
        guard let processSpec = spec.process else {
            throw RuntimeError(unsupportedReason(spec) ?? "nothing to run")
        }
        await stopIfRunning(spec.id)
        specs[spec.id] = spec
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: spec.owner.privateDirectory, withIntermediateDirectories: true)

        let port = try Self.freeLoopbackPort()
        let substitute: (String) -> String = {
            $0.replacingOccurrences(of: "${PORT}", with: "\(port)").replacingOccurrences(of: "$PORT", with: "\(port)")
        }
        guard let executable = Self.resolveExecutable(processSpec.command) else {
            return WorkloadStatus(phase: .failed, message: "the program \"\(processSpec.command)\" is not installed on this machine")
        }

        var environment: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": spec.owner.privateDirectory,
            "PORT": "\(port)",
            "PYTHONUNBUFFERED": "1",
        ]
        for (key, value) in processSpec.environment { environment[key] = substitute(value) }

        let logPath = "\(logDirectory)/\(spec.id).log"
        let process: ChildProcess
        do {
            process = try ChildProcess.spawn(
                executable: executable, arguments: processSpec.arguments.map(substitute), environment: environment,
                directory: spec.owner.privateDirectory, logPath: logPath)
        } catch {
            return WorkloadStatus(phase: .failed, message: "\(error)")
        }
        let entry = RunningProcess(
            process: process, port: port, logPath: logPath,
            status: WorkloadStatus(phase: .starting, message: "starting \(processSpec.command)"))
        let id = spec.id
        process.whenExited { [weak self] code in
            Task { await self?.exited(id: id, entry: entry, code: code) }
        }
        running[id] = entry
        logger.info("started local service", metadata: ["name": "\(spec.name)", "pid": "\(process.pid)", "port": "\(port)"])

        let deadline = ContinuousClock.now + readinessTimeout
        while ContinuousClock.now < deadline {
            if entry.status.phase != .starting { return entry.status }
            if Self.acceptsConnections(port: port) {
                entry.status = WorkloadStatus(phase: .running, message: "running", upstream: "http://127.0.0.1:\(port)")
                return entry.status
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Stopping marks the entry stopped; the caller is told why it was stopped.
        await stopIfRunning(id)
        entry.status = WorkloadStatus(phase: .failed, message: "did not start listening within \(readinessTimeout)")
        return entry.status
    }

    private func exited(id: String, entry: RunningProcess, code: Int32) {
        if entry.status.phase == .stopped { return }
        let tail = Self.lastLines(of: entry.logPath, count: 3)
        entry.status = WorkloadStatus(
            phase: .failed, message: "exited with status \(code)" + (tail.isEmpty ? "" : ": \(tail)"))
        logger.warning("local service exited", metadata: ["id": "\(id)", "status": "\(code)"])
    }

    public func stop(_ ref: WorkloadRef) async throws {
        await stopIfRunning(ref.id)
    }

    public func resume(_ ref: WorkloadRef, readinessTimeout: Duration) async throws -> WorkloadStatus {
        guard let spec = specs[ref.id] else {
            throw RuntimeError("this machine has no record of the service; launch it again")
        }
        return try await start(spec, readinessTimeout: readinessTimeout)
    }

    public func remove(_ ref: WorkloadRef) async throws {
        await stopIfRunning(ref.id)
        running[ref.id] = nil
        specs[ref.id] = nil
    }

    /// Stops the user's services. Their folders belong to the files service and stay.
    public func reconcile(_ user: RuntimeUser) async throws -> [String] {
        let missing = [user.privateDirectory, user.sharedDirectory].filter { !FileManager.default.fileExists(atPath: $0) }
        try await provision(user)
        return missing.map { "created folder \($0)" }
    }

    public func deprovision(_ user: RuntimeUser) async throws {
        for ref in try await workloads(in: user.namespace) { try await remove(ref) }
    }

    public func workloads(in namespace: String) async throws -> [WorkloadRef] {
        specs.values.filter { $0.owner.namespace == namespace }.map(\.ref).sorted { $0.id < $1.id }
    }

    public func readinessProblem() async -> String? { nil }

    /// The service's output file; followed by polling, which is plenty for one machine.
    public func logs(_ ref: WorkloadRef, follow: Bool, tailLines: Int?) async throws -> AsyncThrowingStream<String, Error> {
        guard specs[ref.id] != nil else { throw RuntimeError("no such service") }
        let path = "\(logDirectory)/\(ref.id).log"
        return AsyncThrowingStream { continuation in
            let task = Task {
                guard let handle = FileHandle(forReadingAtPath: path) else {
                    continuation.finish()
                    return
                }
                defer { try? handle.close() }
                let existing = (try? handle.readToEnd()) ?? Data()
                var lines = String(decoding: existing, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                if lines.last == "" { lines.removeLast() }
                for line in tailLines.map({ lines.suffix(max(0, $0)) }) ?? lines[...] { continuation.yield(String(line)) }
                var pending = ""
                while follow && !Task.isCancelled {
                    let more = handle.availableData
                    if more.isEmpty {
                        try? await Task.sleep(for: .milliseconds(200))
                        continue
                    }
                    pending += String(decoding: more, as: UTF8.self)
                    while let newline = pending.firstIndex(of: "\n") {
                        continuation.yield(String(pending[..<newline]))
                        pending.removeSubrange(...newline)
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func stopIfRunning(_ id: String) async {
        guard let entry = running[id] else { return }
        entry.status = WorkloadStatus(phase: .stopped, message: "stopped")
        let process = entry.process
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        if await process.waitForExit(timeout: .seconds(5)) { return }
        logger.warning("local service ignored SIGTERM; killing it", metadata: ["id": "\(id)"])
        process.signal(SIGKILL)
        _ = await process.waitForExit(timeout: .seconds(5))
    }

    public func status(_ ref: WorkloadRef) async throws -> WorkloadStatus? {
        running[ref.id]?.status
    }

    public func shutdown() async {
        for id in Array(running.keys) { await stopIfRunning(id) }
        running.removeAll()
    }

    // MARK: helpers

    static func resolveExecutable(_ command: String) -> String? {
        if command.contains("/") {
            return FileManager.default.isExecutableFile(atPath: command) ? command : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Asks the kernel for a free port by binding to port 0; the child binds it a moment later.
    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RuntimeError("cannot open a socket") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw RuntimeError("cannot bind a loopback port") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    static func lastLines(of path: String, count: Int) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(count).joined(separator: " | ")
    }
}
