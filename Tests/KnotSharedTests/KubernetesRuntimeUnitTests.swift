import Foundation
import KnotKubernetes
import XCTest

@testable import KnotRuntime

/// The Kubernetes runtime's decisions, without a server: what a user's space
/// holds, what Knot makes of a template's objects, and how a status reads.
final class KubernetesRuntimeUnitTests: XCTestCase {
    let user = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/srv/files/private/ada", sharedDirectory: "/srv/files/shared")

    func spec(_ manifests: String) -> WorkloadSpec {
        WorkloadSpec(id: "0b7c", name: "web", owner: user, process: nil, manifests: manifests)
    }

    func testAUserSpaceIsIsolatedLimitedAndHasBothFileDomains() throws {
        let settings = KubernetesRuntimeSettings(storage: .nfs(server: "nfs.example", root: "/exports/knot"))
        let objects = try UserSpace(settings: settings, user: user).objects()
        XCTAssertEqual(
            objects.map(\.reference),
            [
                "Namespace/knot-ada", "ServiceAccount/knot-user", "RoleBinding/knot-user-admin", "Role/knot-launcher-impersonation",
                "RoleBinding/knot-launcher-impersonation", "ResourceQuota/knot-quota", "LimitRange/knot-limits", "NetworkPolicy/knot-isolation",
                "PersistentVolume/knot-ada-private", "PersistentVolumeClaim/knot-private", "PersistentVolume/knot-ada-shared",
                "PersistentVolumeClaim/knot-shared",
            ])
        let binding = objects[2]
        XCTAssertEqual(binding["roleRef", "name"], "admin")
        XCTAssertEqual(binding["roleRef", "kind"], "ClusterRole", "the namespaced admin role, bound in the namespace: not cluster-admin")
        let policy = objects[7]
        let peers = policy["spec", "ingress"]?.arrayValue?.first?["from"]?.arrayValue ?? []
        XCTAssertEqual(peers.count, 2)
        XCTAssertEqual(peers[1]["namespaceSelector"]?["matchLabels"]?["kubernetes.io/metadata.name"], "knot")
        let privateVolume = objects[8]
        XCTAssertEqual(privateVolume["spec", "nfs", "path"], "/exports/knot/private/ada")
        XCTAssertEqual(privateVolume["spec", "claimRef", "namespace"], "knot-ada")
        XCTAssertNil(privateVolume.namespace, "volumes are cluster-wide")
        XCTAssertTrue(objects.allSatisfy { $0.labels["app.kubernetes.io/managed-by"] == "knot" })

        var noImpersonation = KubernetesRuntimeSettings()
        noImpersonation.launcherAccount = nil
        XCTAssertFalse(try UserSpace(settings: noImpersonation, user: user).objects().contains { $0.kind == "Role" })
    }

    func testSettingsFromTheEnvironmentRefuseWhatCannotWork() throws {
        let settings = try KubernetesRuntimeSettings.fromEnvironment(
            ["KNOT_K8S_QUOTA": "pods=3, requests.cpu=1", "KNOT_K8S_LAUNCHER_ACCOUNT": "none"], filesRoot: "/data/files")
        XCTAssertEqual(settings.quota, ["pods": "3", "requests.cpu": "1"])
        XCTAssertNil(settings.launcherAccount)
        XCTAssertEqual(settings.storage, .hostPath(root: "/data/files"))
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_K8S_QUOTA": "pods"], filesRoot: "/f"))
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_K8S_STORAGE": "nfs"], filesRoot: "/f"))
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_K8S_STORAGE": "ceph"], filesRoot: "/f"))
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_K8S_LAUNCHER_ACCOUNT": "knot"], filesRoot: "/f"))
    }

    static let karvdashStyle = """
        kind: Service
        apiVersion: v1
        metadata:
          name: web
        spec:
          selector: {app: web}
          ports:
          - name: http
            port: 80
            targetPort: 8080
        ---
        apiVersion: extensions/v1beta1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: nginx:1.25
                volumeMounts:
                - {name: cache, mountPath: /private}
              volumes:
              - {name: cache, emptyDir: {}}
        ---
        apiVersion: networking.k8s.io/v1beta1
        kind: Ingress
        metadata:
          name: web
        spec:
          rules:
          - host: web-ada.knot.example
            http:
              paths:
              - path: /
                backend:
                  serviceName: web
                  servicePort: http
        """

    func testTemplatesAreUpgradedLabelledMountedAndExposedThroughTheEdge() throws {
        let prepared = try WorkloadManifests.prepare(Self.karvdashStyle, spec: spec(Self.karvdashStyle), settings: KubernetesRuntimeSettings())
        XCTAssertEqual(prepared.objects.map(\.reference), ["Service/web", "Deployment/web"], "the Ingress becomes an edge route, not an object")
        XCTAssertEqual(prepared.exposure, Exposure(service: "web", port: 80))
        XCTAssertEqual(prepared.exposure?.upstream(namespace: "knot-ada"), "http://web.knot-ada.svc.cluster.local:80")
        let deployment = prepared.objects[1]
        XCTAssertEqual(deployment.apiVersion, "apps/v1")
        XCTAssertEqual(deployment["spec", "selector", "matchLabels", "app"], "web", "apps/v1 needs the selector the old version implied")
        XCTAssertEqual(deployment.namespace, "knot-ada")
        XCTAssertEqual(deployment.labels[KnotLabels.serviceID], "0b7c")
        XCTAssertEqual(deployment["spec", "template", "metadata", "labels", KnotLabels.serviceID], "0b7c")
        let container = try XCTUnwrap(deployment["spec", "template", "spec", "containers"]?.arrayValue?.first)
        let mounts = (container["volumeMounts"]?.arrayValue ?? []).compactMap { mount in
            mount["mountPath"]?.stringValue.map { "\($0)=\(mount["name"]?.stringValue ?? "")" }
        }
        XCTAssertEqual(
            mounts.sorted(), ["/files/private=knot-private", "/files/shared=knot-shared", "/private=cache", "/shared=knot-shared"],
            "the template's own mount wins where it names the path")
        let volumes = (deployment["spec", "template", "spec", "volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        XCTAssertEqual(volumes, ["cache", "knot-private", "knot-shared"])
    }

    func testPolicyRefusesWhatWouldLeaveTheNamespaceOrReachTheHost() {
        func refusal(_ yaml: String) -> String {
            do {
                _ = try WorkloadManifests.prepare(yaml, spec: spec(yaml), settings: KubernetesRuntimeSettings())
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox}]\n"
        XCTAssertEqual(refusal(pod), "accepted")
        XCTAssertTrue(refusal("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system}\nspec: {containers: [{name: c, image: x}]}").contains("only in knot-ada"))
        XCTAssertTrue(refusal("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\n").contains("may not create"))
        XCTAssertTrue(refusal("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n").contains("may not create"))
        XCTAssertTrue(refusal("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: x}]").contains("hostNetwork"))
        XCTAssertTrue(
            refusal("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: h, hostPath: {path: /etc}}]")
                .contains("host path"))
        XCTAssertTrue(
            refusal("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x, securityContext: {privileged: true}}]")
                .contains("privileged"))
        XCTAssertTrue(refusal("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").contains("no metadata.name"))
        XCTAssertTrue(refusal(pod + "---\n" + pod).contains("twice"))
        XCTAssertTrue(refusal("a: [").contains("cannot be read"))
        XCTAssertTrue(refusal("# nothing\n").contains("no Kubernetes objects"))
    }

    // MARK: Status

    func pod(_ name: String, phase: String, ready: Bool, waiting: String? = nil, restarts: Int = 0, owned: Bool = true, unschedulable: String? = nil) throws -> Pod {
        var status: JSONValue = ["phase": .string(phase)]
        var container: JSONValue = ["name": "c", "ready": .bool(ready), "restartCount": .int(Int64(restarts))]
        if let waiting { container["state"] = ["waiting": ["reason": .string(waiting), "message": "m"]] }
        if waiting == "CrashLoopBackOff" { container["lastState"] = ["terminated": ["exitCode": 1, "reason": "Error"]] }
        status["containerStatuses"] = [container]
        if let unschedulable {
            status["conditions"] = [["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(unschedulable)]]
        }
        var metadata: JSONValue = ["name": .string(name)]
        if owned { metadata["ownerReferences"] = [["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u"]] }
        return try JSONValue.object(["metadata": metadata, "status": status]).decode(as: Pod.self)
    }

    func testStatusSaysWhyAServiceIsNotRunning() throws {
        let web = WorkloadInspector.Workload(kind: "Deployment", name: "web", desired: 1, ready: 0)
        let running = WorkloadInspector.summarize(
            workloads: [WorkloadInspector.Workload(kind: "Deployment", name: "web", desired: 1, ready: 1)],
            pods: [try pod("web-1-a", phase: "Running", ready: true)], events: [], upstream: "http://web")
        XCTAssertEqual(running.phase, .running)
        XCTAssertEqual(running.upstream, "http://web")

        let pull = WorkloadInspector.summarize(
            workloads: [web], pods: [try pod("web-1-a", phase: "Pending", ready: false, waiting: "ImagePullBackOff")], events: [], upstream: nil)
        XCTAssertEqual(pull.phase, .failed)
        XCTAssertTrue(pull.message.contains("image cannot be pulled"), pull.message)

        let crash = WorkloadInspector.summarize(
            workloads: [web], pods: [try pod("web-1-a", phase: "Running", ready: false, waiting: "CrashLoopBackOff", restarts: 4)], events: [],
            upstream: nil)
        XCTAssertEqual(crash.phase, .failed)
        XCTAssertTrue(crash.message.contains("keeps crashing (restarted 4 times)"), crash.message)
        XCTAssertTrue(crash.message.contains("exited with code 1"), crash.message)
        XCTAssertEqual(crash.details?.pods.first?.restarts, 4)

        let pending = WorkloadInspector.summarize(
            workloads: [web], pods: [try pod("web-1-a", phase: "Pending", ready: false, unschedulable: "0/1 nodes are available: 1 Insufficient cpu.")],
            events: [], upstream: nil)
        XCTAssertEqual(pending.phase, .starting)
        XCTAssertTrue(pending.message.contains("Insufficient cpu"), pending.message)

        let quotaEvent = try JSONValue.object([
            "metadata": ["name": "e1"], "involvedObject": ["kind": "ReplicaSet", "name": "web-1"], "reason": "FailedCreate", "type": "Warning",
            "message": "Error creating: pods \"web-1-x\" is forbidden: exceeded quota: knot-quota", "lastTimestamp": "2026-01-01T00:00:00Z",
        ]).decode(as: Event.self)
        let quota = WorkloadInspector.summarize(workloads: [web], pods: [], events: [quotaEvent], upstream: nil)
        XCTAssertEqual(quota.phase, .starting)
        XCTAssertTrue(quota.message.contains("over your quota"), quota.message)
        XCTAssertEqual(quota.details?.events.first?.reason, "FailedCreate")

        let stopped = WorkloadInspector.summarize(
            workloads: [WorkloadInspector.Workload(kind: "Deployment", name: "web", desired: 0, ready: 0)], pods: [], events: [], upstream: "http://web")
        XCTAssertEqual(stopped.phase, .stopped)
        XCTAssertNil(stopped.upstream, "a stopped service has nowhere to send traffic")

        let barePod = WorkloadInspector.summarize(workloads: [], pods: [try pod("solo", phase: "Running", ready: true, owned: false)], events: [], upstream: nil)
        XCTAssertEqual(barePod.phase, .running)
        XCTAssertEqual(barePod.details?.parts.map(\.kind), ["Pod"])
    }
}
