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
    private let restartPolicy: RestartPolicy
    private var running: [String: RunningProcess] = [:]
    /// What was started, kept after a stop so that `resume` can start it again.
    private var specs: [String: WorkloadSpec] = [:]
    private var changeHandler: (@Sendable (WorkloadRef) async -> Void)?

    /// How a process that dies after it was serving is started again: after
    /// `initialDelay`, doubling up to `maximumDelay`; a process that ran for
    /// `resetAfter` before it died starts the count again.
    public struct RestartPolicy: Sendable {
        public var initialDelay: Duration
        public var maximumDelay: Duration
        public var resetAfter: Duration

        public init(initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(60), resetAfter: Duration = .seconds(60)) {
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
            self.resetAfter = resetAfter
        }

        /// The wait before restart number `attempt` (1, 2, …).
        public func delay(attempt: Int) -> Duration {
            var delay = initialDelay
            for _ in 1..<max(1, attempt) {
                delay = delay * 2
                if delay >= maximumDelay { return maximumDelay }
            }
            return min(delay, maximumDelay)
        }
    }

    final class RunningProcess: @unchecked Sendable {
        var process: ChildProcess
        let spec: WorkloadSpec
        let processSpec: ProcessSpec
        let executable: String
        var port: Int
        let logPath: String
        var status: WorkloadStatus
        var startedAt = ContinuousClock.now
        /// It accepted connections once: a later exit is restarted, not final.
        var served = false
        /// Restarts so far, and failures in a row (what the backoff counts).
        var restarts = 0
        var attempt = 0
        var restartTask: Task<Void, Never>?
        var events: [WorkloadDetails.EventSummary] = []

        init(process: ChildProcess, spec: WorkloadSpec, processSpec: ProcessSpec, executable: String, port: Int, logPath: String, status: WorkloadStatus) {
            self.process = process
            self.spec = spec
            self.processSpec = processSpec
            self.executable = executable
            self.port = port
            self.logPath = logPath
            self.status = status
        }

        func record(_ type: String, _ reason: String, _ message: String) {
            let now = ISO8601DateFormatter().string(from: Date())
            events.insert(
                WorkloadDetails.EventSummary(type: type, reason: reason, message: message, object: "Process/\(spec.name)", count: 1, lastSeen: now),
                at: 0)
            if events.count > 20 { events.removeLast(events.count - 20) }
        }

        var details: WorkloadDetails {
            let ready = status.phase == .running
            return WorkloadDetails(
                parts: [WorkloadDetails.Part(kind: "Process", name: spec.name, ready: ready ? 1 : 0, desired: status.phase == .stopped ? 0 : 1)],
                pods: [
                    WorkloadDetails.PodState(
                        name: "\(spec.name) (pid \(process.pid))", phase: process.isRunning ? "Running" : "Exited", ready: ready,
                        restarts: restarts, reason: status.reason, message: ready ? nil : status.message)
                ],
                events: events)
        }

        /// The status as callers see it, with the details filled in.
        var current: WorkloadStatus {
            var status = self.status
            status.details = details
            return status
        }
    }

    public init(logDirectory: String, logger: Logger, restartPolicy: RestartPolicy = RestartPolicy()) {
        self.logDirectory = logDirectory
        self.logger = logger
        self.restartPolicy = restartPolicy
    }

    public func onStatusChange(_ handler: @escaping @Sendable (WorkloadRef) async -> Void) async {
        changeHandler = handler
    }

    private func changed(_ spec: WorkloadSpec) {
        guard let handler = changeHandler else { return }
        let ref = spec.ref
        Task { await handler(ref) }
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
        guard let executable = Self.resolveExecutable(processSpec.command) else {
            return WorkloadStatus(
                phase: .failed, message: "the program \"\(processSpec.command)\" is not installed on this machine", reason: WorkloadReason.error)
        }
        let logPath = "\(logDirectory)/\(spec.id).log"
        let process: ChildProcess
        do {
            process = try Self.spawn(spec: spec, processSpec: processSpec, executable: executable, port: port, logPath: logPath)
        } catch {
            return WorkloadStatus(phase: .failed, message: "\(error)", reason: WorkloadReason.error)
        }
        let entry = RunningProcess(
            process: process, spec: spec, processSpec: processSpec, executable: executable, port: port, logPath: logPath,
            status: WorkloadStatus(phase: .starting, message: "starting \(processSpec.command)", reason: WorkloadReason.pending))
        entry.record("Normal", "Started", "started \(processSpec.command) (pid \(process.pid)) on port \(port)")
        watch(entry, process)
        running[spec.id] = entry
        logger.info("started local service", metadata: ["name": "\(spec.name)", "pid": "\(process.pid)", "port": "\(port)"])

        let deadline = ContinuousClock.now + readinessTimeout
        while ContinuousClock.now < deadline {
            if entry.status.phase != .starting { return entry.current }
            if Self.acceptsConnections(port: port) {
                becameReady(entry)
                return entry.current
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Stopping marks the entry stopped; the caller is told why it was stopped.
        await stopIfRunning(spec.id)
        entry.status = WorkloadStatus(
            phase: .failed, message: "did not start listening within \(readinessTimeout)", reason: WorkloadReason.timeout)
        return entry.current
    }

    static func spawn(spec: WorkloadSpec, processSpec: ProcessSpec, executable: String, port: Int, logPath: String) throws -> ChildProcess {
        let substitute: (String) -> String = {
            $0.replacingOccurrences(of: "${PORT}", with: "\(port)").replacingOccurrences(of: "$PORT", with: "\(port)")
        }
        var environment: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": spec.owner.privateDirectory,
            "PORT": "\(port)",
            "PYTHONUNBUFFERED": "1",
            "KNOT_USERNAME": spec.owner.username,
            "KNOT_PRIVATE_DIR": spec.owner.privateDirectory,
            "KNOT_SHARED_DIR": spec.owner.sharedDirectory,
        ]
        for (key, value) in spec.environment { environment[key] = value }
        for (key, value) in spec.secretEnvironment { environment[key] = value }
        for (key, value) in processSpec.environment { environment[key] = substitute(value) }
        return try ChildProcess.spawn(
            executable: executable, arguments: processSpec.arguments.map(substitute), environment: environment,
            directory: spec.owner.privateDirectory, logPath: logPath)
    }

    private func watch(_ entry: RunningProcess, _ process: ChildProcess) {
        let id = entry.spec.id
        process.whenExited { [weak self] code in
            Task { await self?.exited(id: id, entry: entry, process: process, code: code) }
        }
    }

    private func becameReady(_ entry: RunningProcess) {
        entry.served = true
        entry.status = WorkloadStatus(phase: .running, message: "running", upstream: "http://127.0.0.1:\(entry.port)")
        entry.record("Normal", "Ready", "accepting connections on port \(entry.port)")
        changed(entry.spec)
    }

    private func exited(id: String, entry: RunningProcess, process: ChildProcess, code: Int32) {
        // A process replaced by a restart, or one stopped on purpose, is no news.
        guard entry.process === process, entry.status.phase != .stopped, running[id] === entry else { return }
        let tail = Self.lastLines(of: entry.logPath, count: 3)
        entry.record("Warning", "Exited", "exited with status \(code)" + (tail.isEmpty ? "" : ": \(tail)"))
        logger.warning("local service exited", metadata: ["id": "\(id)", "status": "\(code)"])
        guard entry.served else {
            // It never served: a broken program or configuration, which restarting will not mend.
            entry.status = WorkloadStatus(
                phase: .failed, message: "exited with status \(code)" + (tail.isEmpty ? "" : ": \(tail)"), reason: WorkloadReason.exited)
            changed(entry.spec)
            return
        }
        if ContinuousClock.now - entry.startedAt >= restartPolicy.resetAfter { entry.attempt = 0 }
        entry.attempt += 1
        let attempt = entry.attempt
        let delay = restartPolicy.delay(attempt: attempt)
        entry.status = WorkloadStatus(
            phase: .starting, message: "restarting after exit code \(code) (attempt \(attempt))", reason: WorkloadReason.restarting)
        entry.record("Warning", "BackOff", "restarting in \(delay) (attempt \(attempt))")
        changed(entry.spec)
        entry.restartTask = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.restart(id: id, entry: entry, code: code, attempt: attempt)
        }
    }

    private func restart(id: String, entry: RunningProcess, code: Int32, attempt: Int) async {
        guard running[id] === entry, entry.status.phase == .starting else { return }
        // The same port when it is free, so the route need not change.
        if !Self.portIsFree(entry.port), let port = try? Self.freeLoopbackPort() { entry.port = port }
        let process: ChildProcess
        do {
            process = try Self.spawn(
                spec: entry.spec, processSpec: entry.processSpec, executable: entry.executable, port: entry.port, logPath: entry.logPath)
        } catch {
            entry.status = WorkloadStatus(phase: .failed, message: "could not restart: \(error)", reason: WorkloadReason.error)
            changed(entry.spec)
            return
        }
        entry.process = process
        entry.restarts += 1
        entry.startedAt = ContinuousClock.now
        entry.record("Normal", "Started", "restarted (pid \(process.pid), attempt \(attempt)) on port \(entry.port)")
        watch(entry, process)
        logger.info("restarted local service", metadata: ["id": "\(id)", "pid": "\(process.pid)", "attempt": "\(attempt)"])
        // Serving again once the port accepts; an exit meanwhile schedules the next attempt.
        while running[id] === entry, entry.process === process, process.isRunning, entry.status.phase == .starting {
            if Self.acceptsConnections(port: entry.port) {
                becameReady(entry)
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
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
        try? FileManager.default.removeItem(atPath: "\(logDirectory)/\(ref.id).log")
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
                        // A removed service has no more to say.
                        if !FileManager.default.fileExists(atPath: path) { break }
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
        entry.restartTask?.cancel()
        entry.restartTask = nil
        if entry.status.phase != .stopped { entry.record("Normal", "Stopped", "stopped") }
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
        running[ref.id]?.current
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

    /// True when nothing listens on the loopback port (it can be bound).
    static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
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
