import Foundation
@testable import KnotConfig
import KnotDatabase
import KnotModels
import KnotRuntime
import Logging
import NIOConcurrencyHelpers
import XCTest

@testable import KnotUsers

/// The users service's keeping of spaces, against the real PostgreSQL that
/// scripts/test starts: with the runtime unreachable an activation still
/// stands, the profile is recorded `pending`, and the next round makes it ready.
final class SpaceKeeperTests: DatabaseTestCase {
    override func setUp() async throws {
        try await super.setUp()
        try await UsersSchema.migrations.run(on: database)
    }

    func testAnUnreachableRuntimeLeavesThePendingStateAndTheNextRoundRepairs() async throws {
        let store = UserStore(database: database)
        let name = "pend" + UUID().uuidString.lowercased().filter(\.isLetter).prefix(8)
        let user = try await store.create(username: name, email: "\(name)@example.org", fullName: "", active: true, admin: false)
        defer { Task { [store] in _ = try? await store.delete(id: user.id) } }
        let runtime = OutageRuntime()
        let settings = try KnotSettings(service: "users", environment: KnotEnvironment(["KNOT_INTERNAL_SECRET": String(repeating: "s", count: 40)]))
        let keeper = SpaceKeeper(runtime: runtime, store: store, settings: settings, logger: Logger(label: "test"))

        runtime.down.withLockedValue { $0 = true }
        let outage = await keeper.reconcile(user)
        XCTAssertEqual(outage.state, "pending")
        let recorded = try await store.space(id: user.id)
        XCTAssertEqual(recorded.state, "pending")
        XCTAssertTrue(recorded.detail.contains("connection refused"), recorded.detail)
        let stored = try await store.find(id: user.id)
        XCTAssertEqual(stored?.active, true, "the activation stands")

        runtime.down.withLockedValue { $0 = false }
        let report = await keeper.reconcileAll()
        XCTAssertEqual(report[name], ["created Namespace/knot-\(name)"])
        let ready = try await store.space(id: user.id)
        XCTAssertEqual(ready.state, "ready")
        XCTAssertNotNil(ready.checked)
        // Nothing left to do: the next round reports nothing for this profile.
        let again = await keeper.reconcileAll()
        XCTAssertNil(again[name])
    }
}

/// A stand-in runtime whose API can be "down": only provisioning matters here.
/// (The real Kubernetes runtime's reconcile is tested against the API double
/// in KubernetesIntegrationTests.)
final class OutageRuntime: ServiceRuntime {
    let down = NIOLockedValueBox(false)
    let made = NIOLockedValueBox<Set<String>>([])
    struct Refused: Error, CustomStringConvertible { var description: String { "connection refused by the API server" } }

    var kind: String { "test" }
    func provision(_ user: RuntimeUser) async throws { _ = try await reconcile(user) }
    func reconcile(_ user: RuntimeUser) async throws -> [String] {
        if down.withLockedValue({ $0 }) { throw Refused() }
        return made.withLockedValue { $0.insert(user.namespace).inserted } ? ["created Namespace/\(user.namespace)"] : []
    }
    func deprovision(_ user: RuntimeUser) async throws {}
    func unsupportedReason(_ spec: WorkloadSpec) -> String? { "test runtime" }
    func start(_ spec: WorkloadSpec, readinessTimeout: Duration) async throws -> WorkloadStatus { throw Refused() }
    func stop(_ ref: WorkloadRef) async throws {}
    func resume(_ ref: WorkloadRef, readinessTimeout: Duration) async throws -> WorkloadStatus { throw Refused() }
    func remove(_ ref: WorkloadRef) async throws {}
    func status(_ ref: WorkloadRef) async throws -> WorkloadStatus? { nil }
    func workloads(in namespace: String) async throws -> [WorkloadRef] { [] }
    func logs(_ ref: WorkloadRef, follow: Bool, tailLines: Int?) async throws -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { $0.finish() }
    }
    func readinessProblem() async -> String? { nil }
    func shutdown() async {}
}
