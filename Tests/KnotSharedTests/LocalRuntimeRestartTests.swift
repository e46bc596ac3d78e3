import Foundation
import Logging
import XCTest

@testable import KnotRuntime

/// The local runtime restarts a process that dies after it served, with
/// exponential backoff, and says so in its status; stopping cancels a pending
/// restart and leaves no process behind.
final class LocalRuntimeRestartTests: XCTestCase {
    func owner() -> RuntimeUser {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("knot-rr-\(UUID().uuidString)").path
        return RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: root + "/private/ada", sharedDirectory: root + "/shared")
    }

    func testBackoffDoublesUpToTheMaximum() {
        let policy = LocalRuntime.RestartPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60), resetAfter: .seconds(60))
        XCTAssertEqual((1...8).map { policy.delay(attempt: $0) }, [1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
    }

    /// Serves, then exits with 7 after `life` seconds for the first `crashes` runs (counted in a file in HOME).
    func crashing(_ user: RuntimeUser, id: String, crashes: Int, life: Double = 0.4) -> WorkloadSpec {
        let script = """
            import http.server, os, sys, threading
            marker = os.path.join(os.environ["HOME"], "runs")
            runs = int(open(marker).read()) if os.path.exists(marker) else 0
            open(marker, "w").write(str(runs + 1))
            if runs < \(crashes):
                threading.Timer(\(life), lambda: os._exit(7)).start()
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
            """
        return WorkloadSpec(
            id: id, name: "crashy", owner: user, process: ProcessSpec(command: "python3", arguments: ["-c", script, "$PORT"]), manifests: nil)
    }

    func waitFor(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("timed out waiting until \(what)")
    }

    func testAProcessThatDiesAfterServingIsRestartedWithBackoff() async throws {
        let user = owner()
        let runtime = LocalRuntime(
            logDirectory: user.privateDirectory + "/../../logs", logger: Logger(label: "t"),
            restartPolicy: .init(initialDelay: .milliseconds(300), maximumDelay: .seconds(5), resetAfter: .seconds(30)))
        let changes = ChangeLog()
        await runtime.onStatusChange { ref in await changes.add(ref.id) }
        let spec = crashing(user, id: "r1", crashes: 2)
        let first = try await runtime.start(spec, readinessTimeout: .seconds(20))
        XCTAssertEqual(first.phase, .running, first.message)
        let upstream = try XCTUnwrap(first.upstream)

        var messages: [String] = []
        try await waitFor("it restarted twice and serves") {
            let status = try await runtime.status(spec.ref)
            if let status, status.phase == .starting { messages.append(status.message) }
            return status?.phase == .running && status?.restarts == 2
        }
        XCTAssertTrue(messages.contains("restarting after exit code 7 (attempt 1)"), "\(Set(messages))")
        XCTAssertTrue(messages.contains("restarting after exit code 7 (attempt 2)"), "\(Set(messages))")
        let status = try await runtime.status(spec.ref)
        XCTAssertEqual(status?.upstream, upstream, "restarted on the same port: the route stays right")
        XCTAssertEqual(status?.readyReplicas, 1)
        let reasons = status?.details?.events.map(\.reason) ?? []
        XCTAssertEqual(reasons.filter { $0 == "BackOff" }.count, 2, "\(reasons)")
        let heard = await changes.ids
        XCTAssertGreaterThanOrEqual(heard.filter { $0 == "r1" }.count, 4, "the runtime told of each change")
        try await runtime.remove(spec.ref)
        XCTAssertFalse(LocalRuntime.acceptsConnections(port: Int(URL(string: upstream)!.port!)))
    }

    func testStoppingDuringBackoffCancelsTheRestart() async throws {
        let user = owner()
        let runtime = LocalRuntime(
            logDirectory: user.privateDirectory + "/../../logs", logger: Logger(label: "t"),
            restartPolicy: .init(initialDelay: .seconds(2), maximumDelay: .seconds(5), resetAfter: .seconds(30)))
        let spec = crashing(user, id: "r2", crashes: 5, life: 0.2)
        let first = try await runtime.start(spec, readinessTimeout: .seconds(20))
        XCTAssertEqual(first.phase, .running, first.message)
        try await waitFor("it waits to restart") { try await runtime.status(spec.ref)?.reason == WorkloadReason.restarting }
        try await runtime.stop(spec.ref)
        try await Task.sleep(for: .seconds(3))
        let stopped = try await runtime.status(spec.ref)
        XCTAssertEqual(stopped?.phase, .stopped)
        XCTAssertEqual(stopped?.restarts, 0, "no restart after a stop")
        let runs = try String(contentsOfFile: user.privateDirectory + "/runs", encoding: .utf8)
        XCTAssertEqual(runs, "1")
        await runtime.shutdown()
    }

    func testAProcessThatNeverServedIsNotRestarted() async throws {
        let user = owner()
        let runtime = LocalRuntime(
            logDirectory: user.privateDirectory + "/../../logs", logger: Logger(label: "t"),
            restartPolicy: .init(initialDelay: .milliseconds(50)))
        let spec = WorkloadSpec(
            id: "r3", name: "broken", owner: user, process: ProcessSpec(command: "sh", arguments: ["-c", "exit 4"]), manifests: nil)
        let status = try await runtime.start(spec, readinessTimeout: .seconds(10))
        XCTAssertEqual(status.phase, .failed)
        XCTAssertEqual(status.reason, WorkloadReason.exited)
        try await Task.sleep(for: .milliseconds(300))
        let later = try await runtime.status(spec.ref)
        XCTAssertEqual(later?.phase, .failed)
        XCTAssertEqual(later?.restarts, 0)
        await runtime.shutdown()
    }
}

actor ChangeLog {
    var ids: [String] = []
    func add(_ id: String) { ids.append(id) }
}
