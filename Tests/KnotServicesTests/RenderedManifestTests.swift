import Foundation
import KnotKubernetes
import KnotRuntime
import XCTest

@testable import KnotLauncher

/// Every Karvdash template, rendered and prepared exactly as the Kubernetes
/// runtime would apply it, plus a user's space: all must be objects the
/// cluster accepts. With `KNOT_MANIFEST_DIR` set, they are also written there
/// for the end-to-end suite to check against the official Kubernetes schemas
/// (kubernetes-validate), which Swift has no copy of.
final class RenderedManifestTests: XCTestCase {
    func testEveryFixtureTemplatePreparesIntoValidLookingObjects() async throws {
        let owner = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/data/private/ada", sharedDirectory: "/data/shared")
        let renderer = TemplateRenderer(domain: "knot.localhost", registry: "registry.local")
        let files = try FileManager.default.contentsOfDirectory(atPath: TemplateTests.fixtures.path).filter { $0.hasSuffix(".template.yaml") }.sorted()
        var written: [String: [UnstructuredObject]] = [:]
        for file in files {
            let text = try String(contentsOf: TemplateTests.fixtures.appendingPathComponent(file), encoding: .utf8)
            let template = try Template.parse(id: String(file.dropLast(".template.yaml".count)), yaml: text)
            let rendered = try await renderer.render(template, values: [:], owner: owner)
            let spec = WorkloadSpec(id: "0f0f0f0f-0000-4000-8000-000000000000", name: rendered.name, owner: owner, process: nil, manifests: rendered.manifests)
            let prepared = try WorkloadManifests.prepare(rendered.manifests, spec: spec, settings: KubernetesRuntimeSettings())
            XCTAssertFalse(prepared.objects.isEmpty, file)
            XCTAssertFalse(prepared.objects.contains { $0.kind == "Ingress" }, "\(file): Ingresses become edge routes")
            for object in prepared.objects {
                XCTAssertEqual(object.namespace, "knot-ada", "\(file): \(object.reference)")
                XCTAssertFalse(object.apiVersion.contains("beta"), "\(file): \(object.reference) is still \(object.apiVersion)")
            }
            if text.contains("kind: Ingress") {
                XCTAssertNotNil(prepared.exposure, "\(file): its Ingress names what the edge exposes")
            }
            written[template.id] = prepared.objects
        }
        written["user-space"] = try UserSpace(settings: KubernetesRuntimeSettings(), user: owner).objects()
        written["user-space-nfs"] = try UserSpace(
            settings: KubernetesRuntimeSettings(storage: .nfs(server: "nfs.example", root: "/exports/knot")), user: owner
        ).objects()

        guard let directory = ProcessInfo.processInfo.environment["KNOT_MANIFEST_DIR"], !directory.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, objects) in written {
            let documents = try objects.map { String(decoding: try $0.raw.jsonData(), as: UTF8.self) }
            // JSON documents are YAML documents; one file per template.
            try ("---\n" + documents.joined(separator: "\n---\n") + "\n").write(toFile: "\(directory)/\(name).yaml", atomically: true, encoding: .utf8)
        }
    }
}
