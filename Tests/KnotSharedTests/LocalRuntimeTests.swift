import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import XCTest

@testable import KnotRuntime

final class LocalRuntimeTests: XCTestCase {
    func owner() throws -> RuntimeUser {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("knot-rt-\(UUID().uuidString)").path
        return RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: root + "/private/ada", sharedDirectory: root + "/shared")
    }

    func testRunsAServiceUntilStoppedAndServesTheUsersFolder() async throws {
        let user = try owner()
        let runtime = LocalRuntime(logDirectory: user.privateDirectory + "/../../logs", logger: Logger(label: "t"))
        try await runtime.provision(user)
        try "served".write(toFile: user.privateDirectory + "/index.txt", atomically: true, encoding: .utf8)
        let spec = WorkloadSpec(
            id: "svc1", name: "web", owner: user,
            process: ProcessSpec(command: "python3", arguments: ["-m", "http.server", "$PORT", "--bind", "127.0.0.1", "--directory", user.privateDirectory]),
            manifests: nil)
        let status = try await runtime.start(spec, readinessTimeout: .seconds(20))
        XCTAssertEqual(status.phase, .running, status.message)
        let upstream = try XCTUnwrap(status.upstream)
        let (data, _) = try await URLSession.shared.data(from: URL(string: upstream + "/index.txt")!)
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "served")
        let ref = WorkloadRef(id: "svc1", namespace: user.namespace)
        try await runtime.stop(ref)
        let stopped = try await runtime.status(ref)
        XCTAssertEqual(stopped?.phase, .stopped)
        XCTAssertFalse(LocalRuntime.acceptsConnections(port: Int(URL(string: upstream)!.port!)))
        let workloads = try await runtime.workloads(in: user.namespace)
        XCTAssertEqual(workloads, [ref])

        let resumed = try await runtime.resume(ref, readinessTimeout: .seconds(20))
        XCTAssertEqual(resumed.phase, .running, resumed.message)
        _ = try await URLSession.shared.data(from: URL(string: resumed.upstream! + "/index.txt")!)
        var logLines: [String] = []
        for try await line in try await runtime.logs(ref, follow: false, tailLines: nil) { logLines.append(line) }
        XCTAssertTrue(logLines.contains { $0.contains("GET /index.txt") }, "\(logLines)")

        try await runtime.remove(ref)
        let removed = try await runtime.status(ref)
        XCTAssertNil(removed)
        XCTAssertFalse(LocalRuntime.acceptsConnections(port: Int(URL(string: resumed.upstream!)!.port!)))
        try await runtime.remove(ref)
    }

    func testAProgramThatExitsOrIsMissingFailsWithAReason() async throws {
        let user = try owner()
        let runtime = LocalRuntime(logDirectory: user.privateDirectory + "/../../logs", logger: Logger(label: "t"))
        let crash = WorkloadSpec(
            id: "svc2", name: "crash", owner: user,
            process: ProcessSpec(command: "sh", arguments: ["-c", "echo broken config >&2; exit 3"]), manifests: nil)
        let failed = try await runtime.start(crash, readinessTimeout: .seconds(10))
        XCTAssertEqual(failed.phase, .failed)
        XCTAssertTrue(failed.message.contains("3"), failed.message)
        XCTAssertTrue(failed.message.contains("broken config"), failed.message)

        let missing = WorkloadSpec(
            id: "svc3", name: "missing", owner: user, process: ProcessSpec(command: "no-such-program-knot", arguments: []), manifests: nil)
        let status = try await runtime.start(missing, readinessTimeout: .seconds(5))
        XCTAssertEqual(status.phase, .failed)
        XCTAssertTrue(status.message.contains("not installed"))
        XCTAssertNotNil(runtime.unsupportedReason(WorkloadSpec(id: "x", name: "k8s", owner: user, process: nil, manifests: "kind: Pod")))
        await runtime.shutdown()
    }
}
