import Foundation
import KnotKubernetes
import Logging
import XCTest

@testable import KnotRuntime

/// The client and the Kubernetes runtime against the API double, over real
/// HTTPS with the double's own CA.
final class KubernetesIntegrationTests: KubeDoubleTestCase {
    func runtime(_ settings: KubernetesRuntimeSettings = KubernetesRuntimeSettings()) throws -> KubernetesRuntime {
        var settings = settings
        settings.pollInterval = .milliseconds(100)
        return KubernetesRuntime(client: try client(), settings: settings, logger: Logger(label: "runtime"))
    }

    let ada = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/f/private/ada", sharedDirectory: "/f/shared")

    // MARK: Client

    func testObjectsRoundTripWithTheAPIsSemantics() async throws {
        let kube = try client()
        _ = try await kube.apply(Namespace(metadata: ObjectMeta(name: "t1")))
        let created = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "one", namespace: "t1", labels: ["set": "a"]), data: ["k": "v"]))
        XCTAssertNotNil(created.metadata.uid)
        XCTAssertNotNil(created.metadata.resourceVersion)
        do {
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "one", namespace: "t1")))
            XCTFail("a second create of the same name must fail")
        } catch let error as KubernetesAPIError {
            XCTAssertEqual(error.reason, .alreadyExists)
        }
        do {
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "Not_Valid", namespace: "t1")))
            XCTFail("an invalid name must fail")
        } catch let error as KubernetesAPIError {
            XCTAssertEqual(error.reason, .invalid)
            XCTAssertEqual(error.code, 422)
        }

        // Server-side apply: the same intent twice changes nothing the second time.
        let intent = ConfigMap(metadata: ObjectMeta(name: "applied", namespace: "t1", labels: ["set": "a"]), data: ["a": "1", "b": "2"])
        let first = try await kube.apply(intent)
        let second = try await kube.apply(intent)
        XCTAssertEqual(first.metadata.resourceVersion, second.metadata.resourceVersion)
        XCTAssertEqual(second.metadata.managedFields?.first?.manager, "knot")
        // A field Knot no longer states is removed.
        let narrower = ConfigMap(metadata: ObjectMeta(name: "applied", namespace: "t1", labels: ["set": "a"]), data: ["a": "1"])
        let third = try await kube.apply(narrower)
        XCTAssertEqual(third.data, ["a": "1"])

        let patched = try await kube.mergePatch(ConfigMap.self, "one", namespace: "t1", patch: ["data": ["k": .null, "n": "2"]])
        XCTAssertEqual(patched.data, ["n": "2"])

        for index in 0..<5 { _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "page-\(index)", namespace: "t1", labels: ["set": "b"]))) }
        let firstPage = try await kube.list(ConfigMap.self, namespace: "t1", labelSelector: "set=b", limit: 2)
        XCTAssertEqual(firstPage.items.count, 2)
        XCTAssertNotNil(firstPage.metadata.continue)
        let all = try await kube.listAll(ConfigMap.self, namespace: "t1", labelSelector: "set=b", pageSize: 2)
        XCTAssertEqual(all.items.map(\.name).sorted(), (0..<5).map { "page-\($0)" })
        let byField = try await kube.listAll(ConfigMap.self, namespace: "t1", fieldSelector: "metadata.name=page-3")
        XCTAssertEqual(byField.items.map(\.name), ["page-3"])

        let dry = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "dry", namespace: "t1")), dryRun: true)
        XCTAssertEqual(dry.name, "dry")
        let dryStored = try await kube.getIfPresent(ConfigMap.self, "dry", namespace: "t1")
        XCTAssertNil(dryStored, "a dry run stores nothing")

        try await kube.delete(ConfigMap.self, "one", namespace: "t1")
        let gone = try await kube.getIfPresent(ConfigMap.self, "one", namespace: "t1")
        XCTAssertNil(gone)
    }

    func testEveryKubeconfigFormWorksAndBadCredentialsAreClear() async throws {
        for file in ["kubeconfig", "kubeconfig-cert", "kubeconfig-files"] {
            let kube = try client(try double.configuration(file))
            try await kube.checkAccess()
        }
        var wrong = try double.configuration()
        wrong.credentials = .token("not-a-token")
        let runtime = KubernetesRuntime(client: try client(wrong), settings: KubernetesRuntimeSettings(), logger: Logger(label: "t"))
        let problem = await runtime.readinessProblem()
        XCTAssertTrue(problem?.contains("rejected Knot's credentials") ?? false, problem ?? "no problem reported")

        // An expired token, read from a token file as in a pod.
        let tokenFile = double.directory + "/my-token"
        try "expired-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try "expired-token\n".write(toFile: double.directory + "/expired-tokens", atomically: true, encoding: .utf8)
        var fromFile = try double.configuration()
        fromFile.credentials = .tokenFile(tokenFile)
        let expired = KubernetesRuntime(client: try client(fromFile), settings: KubernetesRuntimeSettings(), logger: Logger(label: "t"))
        let expiredProblem = await expired.readinessProblem()
        XCTAssertTrue(expiredProblem?.contains("rejected") ?? false, expiredProblem ?? "no problem reported")
        // The token is rotated under the running process: the next call uses the new one.
        try "rotated-token\n".write(toFile: double.directory + "/tokens", atomically: true, encoding: .utf8)
        try "rotated-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let rotatedProblem = await expired.readinessProblem()
        XCTAssertNil(rotatedProblem)

        var badCA = try double.configuration()
        badCA.certificateAuthorityPEM = nil
        let untrusted = try client(badCA, retry: .once)
        do {
            try await untrusted.checkAccess()
            XCTFail("a server whose CA is not trusted must be refused")
        } catch let error as KubernetesTransportError {
            XCTAssertTrue(error.description.contains("cannot reach"), error.description)
        }
    }

    func testRetriesThroughThrottlingAndDroppedConnections() async throws {
        let kube = try client()
        _ = try await kube.apply(Namespace(metadata: ObjectMeta(name: "flaky")))
        try double.control("/_double/faults", #"{"status": 429, "count": 2, "retryAfter": 1, "pathPrefix": "/api/v1/namespaces/flaky"}"#)
        let started = ContinuousClock.now
        let namespace = try await kube.get(Namespace.self, "flaky")
        XCTAssertEqual(namespace.name, "flaky")
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .seconds(2), "two Retry-After: 1 answers were waited out")
        try double.control("/_double/faults", #"{"drop": true, "count": 2, "pathPrefix": "/api/v1/namespaces/flaky"}"#)
        let again = try await kube.get(Namespace.self, "flaky")
        XCTAssertEqual(again.name, "flaky")
        try double.control("/_double/faults", #"{"status": 500, "count": 10, "pathPrefix": "/api/v1/namespaces/flaky"}"#)
        do {
            _ = try await kube.get(Namespace.self, "flaky")
            XCTFail("five 500s in a row are an error")
        } catch let error as KubernetesAPIError {
            XCTAssertEqual(error.code, 500)
        }
    }

    func testWatchSeesChangesAndSurvivesCompaction() async throws {
        let kube = try client()
        _ = try await kube.apply(Namespace(metadata: ObjectMeta(name: "watched")))
        _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "before", namespace: "watched", labels: ["w": "1"])))
        let double = self.double!
        let writer = Task {
            try await Task.sleep(for: .milliseconds(500))
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "during", namespace: "watched", labels: ["w": "1"])))
            try await Task.sleep(for: .milliseconds(300))
            try double.control("/_double/compact")
            try await Task.sleep(for: .milliseconds(300))
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "after", namespace: "watched", labels: ["w": "1"])))
        }
        var log: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        for try await event in kube.watch(ConfigMap.self, namespace: "watched", labelSelector: "w=1") {
            switch event {
            case .listed(let items, _): log.append("listed:" + items.map(\.name).sorted().joined(separator: ","))
            case .added(let map): log.append("added:\(map.name)")
            case .modified(let map): log.append("modified:\(map.name)")
            case .deleted(let map): log.append("deleted:\(map.name)")
            case .bookmark: break
            }
            if log.contains(where: { $0.hasSuffix("after") }) || ContinuousClock.now > deadline { break }
        }
        try await writer.value
        XCTAssertEqual(log.first, "listed:before")
        XCTAssertTrue(log.contains("added:during"), "\(log)")
        XCTAssertTrue(log.contains("listed:before,during"), "after compaction the client listed again: \(log)")
        XCTAssertTrue(log.contains { $0.hasSuffix(":after") }, "and then went on watching: \(log)")
    }

    // MARK: Runtime

    func testProvisioningConvergesAndDeprovisioningRemovesTheSpace() async throws {
        let runtime = try runtime()
        try await runtime.provision(ada)
        let quota = try await runtime.client.get(ResourceQuota.self, "knot-quota", namespace: "knot-ada")
        try await runtime.provision(ada)
        let again = try await runtime.client.get(ResourceQuota.self, "knot-quota", namespace: "knot-ada")
        // The double's quota controller writes the quota's status (what is used) on its
        // own schedule, as Kubernetes does, which moves resourceVersion; what Knot
        // writes is the spec (generation moves only with it) and the metadata.
        XCTAssertEqual(quota.metadata.generation, again.metadata.generation, "provisioning twice changes nothing")
        XCTAssertEqual(quota.metadata.labels, again.metadata.labels, "provisioning twice changes nothing")
        XCTAssertEqual(quota.metadata.annotations, again.metadata.annotations, "provisioning twice changes nothing")
        let claim = try await runtime.client.get(PersistentVolumeClaim.self, "knot-private", namespace: "knot-ada")
        XCTAssertEqual(claim.spec.volumeName, "knot-ada-private")
        let namespace = try await runtime.client.get(Namespace.self, "knot-ada")
        XCTAssertEqual(namespace.metadata.labels?["knot.io/user"], "ada")

        try await runtime.deprovision(ada)
        try await runtime.deprovision(ada)
        try await waitUntil("the namespace is gone") { try await runtime.client.getIfPresent(Namespace.self, "knot-ada") == nil }
        let volume = try await runtime.client.getIfPresent(PersistentVolume.self, "knot-ada-private")
        XCTAssertNil(volume)
    }

    /// The per-user space as the users service reconciles it: the exact objects
    /// on first run, nothing changed on the second, and drift repaired and reported.
    func testReconcileCreatesTheExactSpaceChangesNothingTwiceAndReportsRepairs() async throws {
        var settings = KubernetesRuntimeSettings()
        settings.quota = ["pods": "7", "requests.cpu": "3"]
        let runtime = try runtime(settings)
        let first = try await runtime.reconcile(ada)
        XCTAssertEqual(
            first,
            [
                "created Namespace/knot-ada", "created ServiceAccount/knot-user", "created RoleBinding/knot-user-admin",
                "created Role/knot-launcher-impersonation", "created RoleBinding/knot-launcher-impersonation",
                "created ResourceQuota/knot-quota", "created LimitRange/knot-limits", "created NetworkPolicy/knot-isolation",
                "created PersistentVolume/knot-ada-private", "created PersistentVolumeClaim/knot-private",
                "created PersistentVolume/knot-ada-shared", "created PersistentVolumeClaim/knot-shared",
            ])
        let kube = runtime.client
        let namespace = try await kube.get(Namespace.self, "knot-ada")
        XCTAssertEqual(namespace.metadata.labels?["app.kubernetes.io/managed-by"], "knot")
        XCTAssertEqual(namespace.metadata.labels?["knot.io/user"], "ada")
        let binding = try await kube.get(RoleBinding.self, "knot-user-admin", namespace: "knot-ada")
        XCTAssertEqual(binding.roleRef.kind, "ClusterRole")
        XCTAssertEqual(binding.roleRef.name, "admin", "the namespaced admin role, never cluster-admin")
        XCTAssertEqual(binding.subjects?.map(\.name), ["knot-user"])
        XCTAssertEqual(binding.subjects?.map(\.namespace), ["knot-ada"])
        let quota = try await kube.get(ResourceQuota.self, "knot-quota", namespace: "knot-ada")
        XCTAssertEqual(quota.spec?.hard, ["pods": "7", "requests.cpu": "3"])
        let policy = try await kube.get(NetworkPolicy.self, "knot-isolation", namespace: "knot-ada")
        XCTAssertEqual(policy.spec.policyTypes, ["Ingress"])
        XCTAssertEqual(policy.spec.podSelector, LabelSelector(), "every pod of the namespace")
        let peers = policy.spec.ingress?.first?.from ?? []
        XCTAssertEqual(peers.count, 2)
        XCTAssertEqual(peers[0].podSelector, LabelSelector(), "pods of the same namespace")
        XCTAssertEqual(peers[1].namespaceSelector?.matchLabels, ["kubernetes.io/metadata.name": settings.edgeNamespace])
        let claim = try await kube.get(PersistentVolumeClaim.self, "knot-private", namespace: "knot-ada")
        XCTAssertEqual(claim.spec.volumeName, "knot-ada-private")
        XCTAssertEqual(claim.spec.accessModes, ["ReadWriteMany"])

        let second = try await runtime.reconcile(ada)
        XCTAssertEqual(second, [], "a second reconcile changes nothing")

        // Someone deletes the quota and edits the limits: the next round puts both back and says so.
        try await kube.deleteIfPresent(.resourceQuota, "knot-quota", namespace: "knot-ada")
        _ = try await kube.mergePatch(LimitRange.self, "knot-limits", namespace: "knot-ada", patch: ["spec": ["limits": [["type": "Container", "default": ["cpu": "64"]]]]])
        let third = try await runtime.reconcile(ada)
        XCTAssertEqual(third, ["created ResourceQuota/knot-quota", "repaired LimitRange/knot-limits"])
        let restored = try await kube.get(LimitRange.self, "knot-limits", namespace: "knot-ada")
        XCTAssertEqual(restored.spec.limits.first?.default, settings.defaultLimit)
        let fourth = try await runtime.reconcile(ada)
        XCTAssertEqual(fourth, [])
    }

    /// The admin file domain exists only while the person is an administrator.
    func testTheAdminDomainFollowsTheRole() async throws {
        let runtime = try runtime()
        var grace = RuntimeUser(username: "grace", namespace: "knot-grace", privateDirectory: "/f/private/grace", sharedDirectory: "/f/shared", admin: true)
        let made = try await runtime.reconcile(grace)
        XCTAssertTrue(made.contains("created PersistentVolumeClaim/knot-admin"), "\(made)")
        let volume = try await runtime.client.get(PersistentVolume.self, "knot-grace-admin")
        XCTAssertEqual(volume.spec.claimRef?.name, "knot-admin")
        grace.admin = false
        let withdrawn = try await runtime.reconcile(grace)
        XCTAssertEqual(withdrawn, ["removed PersistentVolumeClaim/knot-admin", "removed PersistentVolume/knot-grace-admin"])
        let again = try await runtime.reconcile(grace)
        XCTAssertEqual(again, [])
    }

    static let webTemplate = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: web-config}
        data: {greeting: hello}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 8080}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: "nginx:1.25"}]
        """

    func spec(_ manifests: String, id: String = "11111111-2222-3333-4444-555555555555", name: String = "web") -> WorkloadSpec {
        WorkloadSpec(id: id, name: name, owner: ada, process: nil, manifests: manifests)
    }

    func testAServiceRunsStopsResumesUpdatesAndIsRemoved() async throws {
        let runtime = try runtime()
        try await runtime.provision(ada)
        let web = spec(Self.webTemplate)
        let status = try await runtime.start(web, readinessTimeout: .seconds(20))
        XCTAssertEqual(status.phase, .running, status.message)
        XCTAssertEqual(status.upstream, "http://web.knot-ada.svc.cluster.local:80")
        XCTAssertEqual(status.details?.parts.first?.ready, 2)
        XCTAssertEqual(status.details?.pods.count, 2)
        let refs = try await runtime.workloads(in: "knot-ada")
        XCTAssertEqual(refs, [web.ref])

        // Starting the same spec again converges: nothing changes.
        let before = try await runtime.client.get(Deployment.self, "web", namespace: "knot-ada")
        _ = try await runtime.start(web, readinessTimeout: .seconds(20))
        let after = try await runtime.client.get(Deployment.self, "web", namespace: "knot-ada")
        XCTAssertEqual(before.metadata.generation, after.metadata.generation)

        try await runtime.stop(web.ref)
        try await runtime.stop(web.ref)
        let stopped = try await runtime.status(web.ref)
        XCTAssertEqual(stopped?.phase, .stopped)
        let scaled = try await runtime.client.get(Deployment.self, "web", namespace: "knot-ada")
        XCTAssertEqual(scaled.spec?.replicas, 0)
        XCTAssertEqual(scaled.metadata.annotations?[KnotLabels.stoppedReplicas], "2", "stopping twice keeps the replicas it had")
        try await waitUntil("the pods are gone") {
            try await runtime.client.listAll(Pod.self, namespace: "knot-ada", labelSelector: "knot.io/service-id=\(web.id)").items.isEmpty
        }

        let resumed = try await runtime.resume(web.ref, readinessTimeout: .seconds(20))
        XCTAssertEqual(resumed.phase, .running, resumed.message)
        let restored = try await runtime.client.get(Deployment.self, "web", namespace: "knot-ada")
        XCTAssertEqual(restored.spec?.replicas, 2)
        XCTAssertNil(restored.metadata.annotations?[KnotLabels.stoppedReplicas])

        var lines: [String] = []
        for try await line in try await runtime.logs(web.ref, follow: false, tailLines: nil) { lines.append(line) }
        XCTAssertTrue(lines.contains { $0.contains("started") }, "\(lines)")
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("[web-") }, "two pods: each line says which: \(lines)")

        // An update without the ConfigMap removes it; the rest stays.
        let withoutConfig = Self.webTemplate.components(separatedBy: "---\n").dropFirst().joined(separator: "---\n")
        let updated = try await runtime.start(spec(withoutConfig), readinessTimeout: .seconds(20))
        XCTAssertEqual(updated.phase, .running, updated.message)
        let config = try await runtime.client.getIfPresent(ConfigMap.self, "web-config", namespace: "knot-ada")
        XCTAssertNil(config, "what the template no longer has is pruned")

        try await runtime.remove(web.ref)
        try await runtime.remove(web.ref)
        let removed = try await runtime.status(web.ref)
        XCTAssertNil(removed)
        let service = try await runtime.client.getIfPresent(KubeService.self, "web", namespace: "knot-ada")
        XCTAssertNil(service)
        let left = try await runtime.workloads(in: "knot-ada")
        XCTAssertEqual(left, [])
    }

    func deployment(image: String, annotation: String? = nil, replicas: Int = 1) -> String {
        let annotations = annotation.map { "\n      annotations: {kube-double.knot.test/behaviour: \($0)}" } ?? ""
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

    func testFailuresSayWhyAndAHalfValidTemplateChangesNothing() async throws {
        var settings = KubernetesRuntimeSettings()
        settings.quota = ["pods": "2"]
        let runtime = try runtime(settings)
        try await runtime.provision(ada)

        let pull = try await runtime.start(spec(deployment(image: "registry.example/nonexistent:1"), id: "a1"), readinessTimeout: .seconds(20))
        XCTAssertEqual(pull.phase, .failed)
        XCTAssertTrue(pull.message.contains("image cannot be pulled"), pull.message)
        try await runtime.remove(WorkloadRef(id: "a1", namespace: "knot-ada"))

        let crash = try await runtime.start(spec(deployment(image: "busybox", annotation: "crash-loop"), id: "a2"), readinessTimeout: .seconds(20))
        XCTAssertEqual(crash.phase, .failed)
        XCTAssertTrue(crash.message.contains("keeps crashing"), crash.message)
        try await runtime.remove(WorkloadRef(id: "a2", namespace: "knot-ada"))

        let pending = try await runtime.start(spec(deployment(image: "busybox", annotation: "pending"), id: "a3"), readinessTimeout: .seconds(2))
        XCTAssertEqual(pending.phase, .failed)
        XCTAssertTrue(pending.message.contains("not ready after"), pending.message)
        XCTAssertTrue(pending.message.contains("Insufficient cpu"), pending.message)
        try await runtime.remove(WorkloadRef(id: "a3", namespace: "knot-ada"))

        let overQuota = try await runtime.start(spec(deployment(image: "busybox", replicas: 3), id: "a4"), readinessTimeout: .seconds(3))
        XCTAssertTrue(overQuota.message.contains("quota"), overQuota.message)
        try await runtime.remove(WorkloadRef(id: "a4", namespace: "knot-ada"))

        // The second object is invalid: the dry run refuses it and the first is never created.
        let halfValid = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n"
        do {
            _ = try await runtime.start(spec(halfValid, id: "a5"), readinessTimeout: .seconds(5))
            XCTFail("an invalid object must be refused")
        } catch let error as RuntimeError {
            XCTAssertTrue(error.message.contains("Kubernetes refused ConfigMap/Not_Valid"), error.message)
        }
        let fine = try await runtime.client.getIfPresent(ConfigMap.self, "fine", namespace: "knot-ada")
        XCTAssertNil(fine, "nothing of a refused template is applied")
        let inventories = try await runtime.workloads(in: "knot-ada")
        XCTAssertEqual(inventories, [])
    }

    func testImpersonationKeepsAUserInsideTheirNamespace() async throws {
        let runtime = try runtime()
        try await runtime.provision(ada)
        let bob = RuntimeUser(username: "bob", namespace: "knot-bob", privateDirectory: "/f/private/bob", sharedDirectory: "/f/shared")
        try await runtime.provision(bob)
        let asAda = runtime.userClient("knot-ada")
        _ = try await asAda.apply(ConfigMap(metadata: ObjectMeta(name: "mine", namespace: "knot-ada")))
        do {
            _ = try await asAda.apply(ConfigMap(metadata: ObjectMeta(name: "theirs", namespace: "knot-bob")))
            XCTFail("ada's account must not write into bob's namespace")
        } catch let error as KubernetesAPIError {
            XCTAssertEqual(error.reason, .forbidden)
        }
    }

    func testFollowedLogsKeepComing() async throws {
        let runtime = try runtime()
        try await runtime.provision(ada)
        let web = spec(deployment(image: "busybox"), id: "f1")
        let status = try await runtime.start(web, readinessTimeout: .seconds(20))
        XCTAssertEqual(status.phase, .running, status.message)
        var lines: [String] = []
        let started = ContinuousClock.now
        for try await line in try await runtime.logs(web.ref, follow: true, tailLines: nil) {
            lines.append(line)
            if lines.filter({ $0.contains("tick") }).count >= 2 || ContinuousClock.now - started > .seconds(15) { break }
        }
        XCTAssertGreaterThanOrEqual(lines.filter { $0.contains("tick") }.count, 2, "\(lines)")
    }

    func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("timed out waiting until \(what)")
    }
}
