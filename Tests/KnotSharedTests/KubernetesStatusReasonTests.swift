import Foundation
import KnotKubernetes
import Logging
import XCTest

@testable import KnotRuntime

/// Each failure the API double simulates gives a service a clear status: a
/// short reason code, a sentence, and the replica and restart counts the
/// launcher records.
final class KubernetesStatusReasonTests: KubeDoubleTestCase {
    let ada = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/f/private/ada", sharedDirectory: "/f/shared")

    func runtime(quota: [String: String] = [:]) throws -> KubernetesRuntime {
        let client = try self.client()
        var settings = KubernetesRuntimeSettings()
        settings.pollInterval = .milliseconds(100)
        if !quota.isEmpty { settings.quota = quota }
        return KubernetesRuntime(client: client, settings: settings, logger: Logger(label: "runtime"))
    }

    func deployment(image: String, behaviour: String? = nil, replicas: Int = 1) -> String {
        let annotations = behaviour.map { "\n      annotations: {kube-double.knot.test/behaviour: \($0)}" } ?? ""
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: app}
            spec:
              replicas: \(replicas)
              selector: {matchLabels: {app: app}}
              template:
                metadata:
                  labels: {app: app}\(annotations)
                spec:
                  containers: [{name: app, image: "\(image)"}]
            """
    }

    func spec(_ manifests: String, id: String) -> WorkloadSpec {
        WorkloadSpec(id: id, name: "app", owner: ada, process: nil, manifests: manifests, template: "app", templateVersion: "1")
    }

    /// Deploys without waiting, then polls the status until `done` holds.
    func settle(_ runtime: KubernetesRuntime, _ spec: WorkloadSpec, until done: (WorkloadStatus) -> Bool) async throws -> WorkloadStatus {
        try await runtime.deploy(spec)
        let deadline = ContinuousClock.now + .seconds(20)
        var last: WorkloadStatus?
        while ContinuousClock.now < deadline {
            last = try await runtime.status(spec.ref)
            if let last, done(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("no settled status: \(String(describing: last))")
        return try XCTUnwrap(last)
    }

    func testEachSimulatedFailureHasAReason() async throws {
        let runtime = try runtime(quota: ["pods": "2"])
        try await runtime.provision(ada)

        let pull = try await settle(runtime, spec(deployment(image: "registry.example/nonexistent:1"), id: "b1")) { $0.reason == WorkloadReason.imagePull }
        XCTAssertEqual(pull.phase, .failed)
        XCTAssertTrue(pull.message.contains("image cannot be pulled"), pull.message)
        XCTAssertEqual(pull.readyReplicas, 0)
        XCTAssertEqual(pull.desiredReplicas, 1)
        try await runtime.remove(WorkloadRef(id: "b1", namespace: "knot-ada"))

        let crash = try await settle(runtime, spec(deployment(image: "busybox", behaviour: "crash-loop"), id: "b2")) {
            $0.reason == WorkloadReason.crashLoop
        }
        XCTAssertEqual(crash.phase, .failed)
        XCTAssertTrue(crash.message.contains("keeps crashing"), crash.message)
        XCTAssertGreaterThanOrEqual(crash.restarts ?? 0, 1)
        try await runtime.remove(WorkloadRef(id: "b2", namespace: "knot-ada"))

        let pending = try await settle(runtime, spec(deployment(image: "busybox", behaviour: "pending"), id: "b3")) {
            $0.reason == WorkloadReason.unschedulable
        }
        XCTAssertEqual(pending.phase, .starting)
        XCTAssertTrue(pending.message.contains("no node can run it yet"), pending.message)
        try await runtime.remove(WorkloadRef(id: "b3", namespace: "knot-ada"))

        let quota = try await settle(runtime, spec(deployment(image: "busybox", replicas: 3), id: "b4")) { $0.reason == WorkloadReason.quota }
        XCTAssertEqual(quota.phase, .starting)
        XCTAssertTrue(quota.message.contains("quota"), quota.message)
        XCTAssertEqual(quota.desiredReplicas, 3)
        try await runtime.remove(WorkloadRef(id: "b4", namespace: "knot-ada"))

        let fine = try await settle(runtime, spec(deployment(image: "busybox"), id: "b5")) { $0.phase == .running }
        XCTAssertNil(fine.reason)
        XCTAssertEqual(fine.readyReplicas, 1)
        try await runtime.stop(WorkloadRef(id: "b5", namespace: "knot-ada"))
        let stopped = try await runtime.status(WorkloadRef(id: "b5", namespace: "knot-ada"))
        XCTAssertEqual(stopped?.phase, .stopped)
        XCTAssertEqual(stopped?.desiredReplicas, 0)
    }

    func testATimedOutStartKeepsTheReasonItWaitedFor() async throws {
        let runtime = try runtime()
        try await runtime.provision(ada)
        let status = try await runtime.start(spec(deployment(image: "busybox", behaviour: "pending"), id: "c1"), readinessTimeout: .seconds(2))
        XCTAssertEqual(status.phase, .failed)
        XCTAssertEqual(status.reason, WorkloadReason.unschedulable)
        XCTAssertTrue(status.message.hasPrefix("not ready after"), status.message)
    }
}
