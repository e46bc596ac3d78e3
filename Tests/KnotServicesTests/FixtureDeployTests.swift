import Foundation
import KnotKubernetes
import KnotRuntime
import Logging
import XCTest

@testable import KnotLauncher

/// Every fixture template, unchanged, all the way: Karvdash's YAML templates
/// and Knot 5's charts (rendered by a real helm), parsed, rendered, checked
/// by the policy, applied on the Kubernetes API double, watched until running,
/// labelled and annotated as the template's, and removed.
///
/// `KubeDouble.swift` here is a link to the one in KnotSharedTests (one file,
/// compiled into both test targets). Under `scripts/test`, which installs helm,
/// `KNOT_REQUIRE_HELM=1` makes a missing helm a failure instead of a skip.
final class FixtureDeployTests: KubeDoubleTestCase {
    let owner = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/f/private/ada", sharedDirectory: "/f/shared")
    let renderer = TemplateRenderer(domain: "knot.localhost", registry: "registry.local")

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    func runtime(_ change: (inout KubernetesRuntimeSettings) -> Void = { _ in }) throws -> KubernetesRuntime {
        var settings = KubernetesRuntimeSettings()
        settings.pollInterval = .milliseconds(100)
        settings.serviceDomain = "knot.localhost"
        change(&settings)
        let client = try self.client()
        return KubernetesRuntime(client: client, settings: settings, logger: Logger(label: "fixtures"))
    }

    /// helm, or a skip; a failure when `KNOT_REQUIRE_HELM=1` (scripts/test installs it).
    static func requireHelm() throws -> String {
        if let helm = Helm.locate() { return helm }
        if ProcessInfo.processInfo.environment["KNOT_REQUIRE_HELM"] == "1" {
            XCTFail("helm is not installed, and KNOT_REQUIRE_HELM=1: run scripts/lib/helm.sh's ensure_helm")
            throw Helm.Failure(description: "helm is missing")
        }
        throw XCTSkip("helm is not installed (scripts/test installs it)")
    }

    /// Every Karvdash template and every Knot chart (a folder, and one packaged as a .tgz).
    func fixtureTemplates() async throws -> [Template] {
        var templates: [Template] = []
        let karvdash = Self.fixtures.appendingPathComponent("karvdash-templates").path
        for (id, path) in try Template.files(in: karvdash) {
            templates.append(try Template.load(id: id, path: path))
        }
        XCTAssertGreaterThanOrEqual(templates.count, 9)
        let helm = try Self.requireHelm()
        let charts = Self.fixtures.appendingPathComponent("knot-charts").path
        let found = try ChartTemplate.charts(in: charts)
        XCTAssertEqual(found.map(\.id), ["filebrowser", "hello-kubernetes", "nginx", "postgresql", "redis"])
        for (id, path) in found {
            templates.append(await Template.loadChart(id: id, path: path))
        }
        // A packaged chart, as `helm package` makes it.
        let packages = try Helm.temporaryFolder()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: packages) }
        let packaged = try await Helm.run(helm, ["package", charts + "/redis", "--destination", packages], in: packages, timeout: .seconds(30))
        XCTAssertEqual(packaged.status, 0, packaged.error)
        let package = try XCTUnwrap(try ChartTemplate.charts(in: packages).first)
        var fromPackage = await Template.loadChart(id: "redis-packaged", path: package.path)
        XCTAssertEqual(fromPackage.name, "redis")
        fromPackage.id = "redis-packaged"
        templates.append(fromPackage)
        for template in templates {
            XCTAssertNil(template.problem, template.id)
        }
        return templates
    }

    func testEveryFixtureTemplateRendersPassesThePolicyRunsAndIsRemoved() async throws {
        let templates = try await fixtureTemplates()
        let runtime = try runtime()
        try await runtime.provision(owner)
        for (index, template) in templates.enumerated() {
            let rendered = try await renderer.render(template, values: [:], owner: owner)
            let spec = WorkloadSpec(
                id: String(format: "f1c70000-0000-4000-8000-%012d", index), name: rendered.name, owner: owner, process: nil,
                manifests: rendered.manifests, template: template.id, templateVersion: template.version, values: rendered.values)
            let prepared = try WorkloadManifests.prepare(rendered.manifests, spec: spec, settings: runtime.settings)
            XCTAssertFalse(prepared.objects.isEmpty, template.id)
            XCTAssertFalse(prepared.objects.contains { $0.kind == "Ingress" }, "\(template.id): without an ingress class, Ingresses are edge routes")

            let status = try await runtime.start(spec, readinessTimeout: .seconds(30))
            XCTAssertEqual(status.phase, .running, "\(template.id): \(status.message)")
            if prepared.objects.contains(where: { $0.kind == "Service" }) {
                XCTAssertNotNil(prepared.exposure, "\(template.id): the edge knows where to send its traffic")
            }
            for object in prepared.objects {
                let resource = try await runtime.client.resource(apiVersion: object.apiVersion, kind: object.kind)
                let live = try await runtime.client.get(resource, object.name ?? "", namespace: "knot-ada")
                XCTAssertEqual(live.labels[KnotLabels.template], WorkloadManifests.labelValue(template.id), "\(template.id): \(object.reference)")
                XCTAssertEqual(live.labels[KnotLabels.serviceID], spec.id, "\(template.id): \(object.reference)")
                XCTAssertEqual(live.annotations[KnotLabels.templateVersion], template.version.isEmpty ? nil : template.version)
                let values = try JSONSerialization.jsonObject(with: Data((live.annotations[KnotLabels.values] ?? "{}").utf8)) as? [String: String]
                XCTAssertEqual(values, rendered.values, "\(template.id): \(object.reference)")
            }

            try await runtime.remove(spec.ref)
            let removed = try await runtime.status(spec.ref)
            XCTAssertNil(removed, "\(template.id) is gone")
            for object in prepared.objects {
                let resource = try await runtime.client.resource(apiVersion: object.apiVersion, kind: object.kind)
                let left = try? await runtime.client.get(resource, object.name ?? "", namespace: "knot-ada")
                XCTAssertNil(left, "\(template.id): \(object.reference) is removed")
            }
        }
    }

    func testWithAnIngressClassTheIngressIsCreatedForTheServiceHost() async throws {
        let runtime = try runtime { $0.ingressClass = "nginx" }
        try await runtime.provision(owner)
        let karvdash = Self.fixtures.appendingPathComponent("karvdash-templates").path
        // Karvdash's templates carry networking.k8s.io/v1beta1 Ingresses: upgraded, then created as v1.
        let template = try Template.load(id: "hello-kubernetes", path: karvdash + "/hello-kubernetes.template.yaml")
        let rendered = try await renderer.render(template, values: ["NAME": "hello"], owner: owner)
        let spec = WorkloadSpec(
            id: "1a9e5500-0000-4000-8000-000000000001", name: rendered.name, owner: owner, process: nil, manifests: rendered.manifests,
            template: template.id)
        let status = try await runtime.start(spec, readinessTimeout: .seconds(30))
        XCTAssertEqual(status.phase, .running, status.message)
        let resource = try await runtime.client.resource(apiVersion: "networking.k8s.io/v1", kind: "Ingress")
        let ingresses = try await runtime.client.list(resource, namespace: "knot-ada", labelSelector: "\(KnotLabels.serviceID)=\(spec.id)")
        XCTAssertEqual(ingresses.count, 1)
        let ingress = try XCTUnwrap(ingresses.first)
        XCTAssertEqual(ingress["spec", "ingressClassName"], "nginx")
        XCTAssertEqual(ingress["spec", "rules"]?.arrayValue?.map { $0["host"]?.stringValue }, ["hello-ada.knot.localhost"])
        XCTAssertNotNil(ingress["spec", "rules"]?.arrayValue?.first?.value(at: ["http", "paths"])?.arrayValue?.first?.value(at: ["backend", "service", "name"]))
        try await runtime.remove(spec.ref)
        let left = try await runtime.client.list(resource, namespace: "knot-ada", labelSelector: "\(KnotLabels.serviceID)=\(spec.id)")
        XCTAssertEqual(left.count, 0)
    }
}
