import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, in its own process group, with
/// every signal back at its default. Foundation's `Process` cannot do the
/// latter: a server that handles SIGTERM itself (as ServiceLifecycle does)
/// leaves it ignored, children inherit that across exec, and then nothing
/// short of SIGKILL stops them.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?
    private var onExit: (@Sendable (Int32) -> Void)?

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `executable` with `arguments`, standard output and error appended to `logPath`.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String], directory: String, logPath: String
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard let addChdir = Self.addChdir else {
            throw RuntimeError("this C library cannot start a child in a folder (posix_spawn_file_actions_addchdir_np)")
        }
        _ = addChdir(&actions, directory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var spawned = pid_t()
        let result = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw RuntimeError("could not start \(executable): \(String(cString: strerror(result)))")
        }
        let pid = spawned
        let child = ChildProcess(pid: pid)
        // One reaper thread per child: it blocks in waitpid and records how the child ended.
        Thread.detachNewThread {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
            child.exited(raw)
        }
        return child
    }

    /// glibc has it since 2.29, but Swift's Glibc module does not import the `_np` declarations.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    private func exited(_ raw: Int32) {
        // WIFEXITED: low 7 bits zero; exit code in the next byte. Otherwise 128 + signal, as shells report it.
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        let callback: (@Sendable (Int32) -> Void)? = lock.withLock {
            status = code
            return onExit
        }
        callback?(code)
    }

    /// Called once when the child ends (at once if it already has).
    func whenExited(_ callback: @escaping @Sendable (Int32) -> Void) {
        let done: Int32? = lock.withLock {
            if status == nil { onExit = callback }
            return status
        }
        if let done { callback(done) }
    }

    var exitStatus: Int32? { lock.withLock { status } }
    var isRunning: Bool { exitStatus == nil }

    /// Signals the child's whole process group, so helpers it started stop too.
    func signal(_ signal: Int32) {
        if isRunning { kill(-pid, signal) }
    }

    /// Waits up to `timeout` for the child to end; true if it did.
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !isRunning
    }
}
