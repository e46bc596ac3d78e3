import KnotKubernetes
import KnotRuntime
import XCTest

/// What Knot gives a service on Kubernetes so knotctl inside needs no setup:
/// `KNOT_URL` as a plain variable in every container, `KNOT_TOKEN` only as a
/// reference to a Secret of the service's own (never inlined in a manifest).
final class ServiceEnvironmentTests: XCTestCase {
    static let template = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: lab
        spec:
          selector: {matchLabels: {app: lab}}
          template:
            metadata:
              labels: {app: lab}
            spec:
              initContainers:
              - name: setup
                image: busybox:1.36
              containers:
              - name: lab
                image: jupyter/base-notebook:latest
                env:
                - {name: KNOT_URL, value: https://mine.example}
        """

    func spec(token: String?) -> WorkloadSpec {
        var spec = WorkloadSpec(
            id: "4f2a", name: "lab", owner: RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/p", sharedDirectory: "/s"),
            process: nil, manifests: Self.template, environment: ["KNOT_URL": "https://knot.example"])
        if let token { spec.secretEnvironment = ["KNOT_TOKEN": token] }
        return spec
    }

    func testTheTokenIsASecretReferenceAndTheURLAPlainVariable() throws {
        let secretValue = "knot_pat_" + String(repeating: "s", count: 43)
        let prepared = try WorkloadManifests.prepare(Self.template, spec: spec(token: secretValue), settings: KubernetesRuntimeSettings())
        XCTAssertEqual(prepared.objects.map(\.reference), ["Secret/knot-env-4f2a", "Deployment/lab"])

        let secret = prepared.objects[0]
        XCTAssertEqual(secret.namespace, "knot-ada")
        XCTAssertEqual(secret.labels[KnotLabels.serviceID], "4f2a", "labelled like the service, so it goes with it")
        XCTAssertEqual(secret["data", "KNOT_TOKEN"]?.stringValue, Data(secretValue.utf8).base64EncodedString())

        let deployment = prepared.objects[1]
        XCTAssertFalse("\(deployment.raw)".contains(secretValue), "the token never appears in a workload")
        let pod = try XCTUnwrap(deployment["spec", "template", "spec"])
        for key in ["containers", "initContainers"] {
            let env = try XCTUnwrap(pod[key]?.arrayValue?.first?["env"]?.arrayValue)
            let byName = Dictionary(uniqueKeysWithValues: env.compactMap { item in item["name"]?.stringValue.map { ($0, item) } })
            XCTAssertEqual(byName["KNOT_TOKEN"]?["valueFrom"]?["secretKeyRef"]?["name"]?.stringValue, "knot-env-4f2a", key)
            XCTAssertEqual(byName["KNOT_TOKEN"]?["valueFrom"]?["secretKeyRef"]?["key"]?.stringValue, "KNOT_TOKEN", key)
            XCTAssertNil(byName["KNOT_TOKEN"]?["value"], key)
            let expectedURL = key == "containers" ? "https://mine.example" : "https://knot.example"
            XCTAssertEqual(byName["KNOT_URL"]?["value"]?.stringValue, expectedURL, "a container's own value wins (\(key))")
            XCTAssertEqual(env.filter { $0["name"]?.stringValue == "KNOT_URL" }.count, 1, key)
        }
    }

    func testWithoutATokenThereIsNoSecret() throws {
        let prepared = try WorkloadManifests.prepare(Self.template, spec: spec(token: nil), settings: KubernetesRuntimeSettings())
        XCTAssertEqual(prepared.objects.map(\.reference), ["Deployment/lab"])
        XCTAssertFalse("\(prepared.objects[0].raw)".contains("KNOT_TOKEN"))
    }
}
