import Foundation
import KnotKubernetes
@testable import KnotRuntime
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
        // Knot 5's charts, rendered by helm, go the same way.
        if let helm = Helm.locate() {
            let charts = TemplateTests.charts.path
            for (id, path) in try ChartTemplate.charts(in: charts) {
                var renderer = renderer
                renderer.helm = helm
                let template = await Template.loadChart(id: id, path: path)
                XCTAssertNil(template.problem, id)
                let rendered = try await renderer.render(template, values: [:], owner: owner)
                let spec = WorkloadSpec(
                    id: "0f0f0f0f-0000-4000-8000-000000000001", name: rendered.name, owner: owner, process: nil, manifests: rendered.manifests,
                    template: id, templateVersion: template.version, values: rendered.values)
                let prepared = try WorkloadManifests.prepare(rendered.manifests, spec: spec, settings: KubernetesRuntimeSettings())
                XCTAssertFalse(prepared.objects.isEmpty, id)
                written["chart-\(id)"] = prepared.objects
            }
        } else {
            XCTAssertNotEqual(ProcessInfo.processInfo.environment["KNOT_REQUIRE_HELM"], "1", "helm is required here")
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

    // MARK: Policy details

    let ada = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/data/private/ada", sharedDirectory: "/data/shared")

    func spec(_ manifests: String, template: String = "web", version: String = "", values: [String: String] = [:]) -> WorkloadSpec {
        WorkloadSpec(
            id: "0b7c0000-0000-4000-8000-000000000000", name: "web", owner: ada, process: nil, manifests: manifests, template: template,
            templateVersion: version, values: values)
    }

    static let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{name: http, port: 8080}]\n  selector: {app: web}\n"

    func testOldIngressVersionsAreUpgradedToV1() throws {
        let extensions = """
            apiVersion: extensions/v1beta1
            kind: Ingress
            metadata: {name: web}
            spec:
              backend: {serviceName: web, servicePort: 8080}
              rules:
              - host: web-ada.knot.localhost
                http:
                  paths:
                  - path: /
                    backend: {serviceName: web, servicePort: "8080"}
            """
        let upgraded = WorkloadManifests.upgraded(try XCTUnwrap(UnstructuredObject.objects(fromYAML: extensions).first))
        XCTAssertEqual(upgraded.apiVersion, "networking.k8s.io/v1")
        XCTAssertNil(upgraded["spec", "backend"])
        XCTAssertEqual(upgraded["spec", "defaultBackend"], ["service": ["name": "web", "port": ["number": 8080]]])
        let path = upgraded["spec", "rules"]?.arrayValue?.first?.value(at: ["http", "paths"])?.arrayValue?.first
        XCTAssertEqual(path?["backend"], ["service": ["name": "web", "port": ["number": 8080]]])
        XCTAssertEqual(path?["pathType"], "ImplementationSpecific")

        let named = extensions.replacingOccurrences(of: "extensions/v1beta1", with: "networking.k8s.io/v1beta1")
            .replacingOccurrences(of: "servicePort: \"8080\"", with: "servicePort: http")
        let prepared = try WorkloadManifests.prepare(named + "\n---\n" + Self.service, spec: spec(named), settings: KubernetesRuntimeSettings())
        XCTAssertEqual(prepared.objects.map(\.reference), ["Service/web"])
        XCTAssertEqual(prepared.exposure, Exposure(service: "web", port: 8080), "the default backend comes first")
    }

    func testWithAnIngressClassTheIngressIsKeptForTheServiceHost() throws {
        var settings = KubernetesRuntimeSettings()
        settings.ingressClass = "traefik"
        settings.serviceDomain = "knot.localhost"
        let ingress = """
            apiVersion: networking.k8s.io/v1beta1
            kind: Ingress
            metadata:
              name: web
              annotations: {kubernetes.io/ingress.class: nginx}
            spec:
              tls: [{hosts: [WEB-ADA.knot.localhost], secretName: web-tls}]
              rules:
              - host: web-ada.knot.localhost
                http:
                  paths:
                  - path: /
                    backend: {serviceName: web, servicePort: http}
            """
        let prepared = try WorkloadManifests.prepare(ingress + "\n---\n" + Self.service, spec: spec(ingress), settings: settings)
        XCTAssertEqual(prepared.objects.map(\.reference), ["Service/web", "Ingress/web"])
        let created = prepared.objects[1]
        XCTAssertEqual(created.apiVersion, "networking.k8s.io/v1")
        XCTAssertEqual(created["spec", "ingressClassName"], "traefik")
        XCTAssertNil(created.annotations["kubernetes.io/ingress.class"])
        XCTAssertEqual(created["spec", "rules"]?.arrayValue?.first?["host"], "web-ada.knot.localhost")
        XCTAssertEqual(created["spec", "tls"]?.arrayValue?.first?["hosts"], ["web-ada.knot.localhost"])
        XCTAssertEqual(created.namespace, "knot-ada")
        XCTAssertEqual(prepared.exposure, Exposure(service: "web", port: 8080), "the edge still routes it")
        // Without a class, the same template gives the edge route only.
        settings.ingressClass = nil
        XCTAssertEqual(try WorkloadManifests.prepare(ingress + "\n---\n" + Self.service, spec: spec(ingress), settings: settings).objects.count, 1)
    }

    func testObjectsCarryTheTemplateItsVersionAndTheValues() throws {
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, labels: {app.kubernetes.io/managed-by: Helm}, annotations: {note: kept}}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web, image: nginx}]}
            """
        let prepared = try WorkloadManifests.prepare(
            deployment, spec: spec(deployment, template: "My Jupyter_Notebook!", version: "1.2.0", values: ["NAME": "web", "SIZE": "large"]),
            settings: KubernetesRuntimeSettings())
        let object = try XCTUnwrap(prepared.objects.first)
        XCTAssertEqual(object.labels[KnotLabels.template], "My-Jupyter_Notebook")
        XCTAssertEqual(object.labels[KnotLabels.managedBy], "knot")
        XCTAssertEqual(object["spec", "template", "metadata", "labels", KnotLabels.template], "My-Jupyter_Notebook")
        XCTAssertEqual(object.annotations[KnotLabels.templateVersion], "1.2.0")
        XCTAssertEqual(object.annotations[KnotLabels.values], #"{"NAME":"web","SIZE":"large"}"#)
        XCTAssertEqual(object.annotations["note"], "kept")
        XCTAssertEqual(WorkloadManifests.labelValue("-" + String(repeating: "a", count: 70) + "."), String(repeating: "a", count: 63))
        XCTAssertEqual(WorkloadManifests.labelValue("日本"), "")
    }

    func testThePolicyIsConfigurable() throws {
        let settings = try KubernetesRuntimeSettings.fromEnvironment(
            [
                "KNOT_TEMPLATE_ALLOWED_KINDS": "Deployment, Service, apps/DaemonSet, example.com/Notebook",
                "KNOT_TEMPLATE_ALLOW_PRIVILEGED": "1", "KNOT_INGRESS_CLASS": "nginx", "KNOT_DOMAIN": "Knot.Example.org",
            ], filesRoot: "/data")
        XCTAssertEqual(settings.allowedKinds, ["Deployment", "Service", "apps/DaemonSet", "example.com/Notebook"])
        XCTAssertTrue(settings.allowPrivileged)
        XCTAssertEqual(settings.ingressClass, "nginx")
        XCTAssertEqual(settings.serviceDomain, "knot.example.org")
        XCTAssertEqual(try KubernetesRuntimeSettings.fromEnvironment([:], filesRoot: "/data").allowedKinds, KubernetesRuntimeSettings.defaultAllowedKinds)
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_TEMPLATE_ALLOWED_KINDS": "deployment"], filesRoot: "/data"))
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_TEMPLATE_ALLOW_PRIVILEGED": "perhaps"], filesRoot: "/data"))
        XCTAssertThrowsError(try KubernetesRuntimeSettings.fromEnvironment(["KNOT_INGRESS_CLASS": "Not Valid"], filesRoot: "/data"))

        let daemonSet = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      hostNetwork: true\n      containers: [{name: c, image: x, securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}, ports: [{containerPort: 1, hostPort: 1}]}]\n"
        XCTAssertThrowsError(try WorkloadManifests.prepare(daemonSet, spec: spec(daemonSet), settings: KubernetesRuntimeSettings())) { error in
            XCTAssertEqual((error as? WorkloadManifests.PolicyError)?.rule, "allowed kinds")
        }
        XCTAssertEqual(try WorkloadManifests.prepare(daemonSet, spec: spec(daemonSet), settings: settings).objects.count, 1, "allowed by the operator")
        let notebook = "apiVersion: example.com/v1\nkind: Notebook\nmetadata: {name: n}\n"
        XCTAssertEqual(try WorkloadManifests.prepare(notebook, spec: spec(notebook), settings: settings).objects.count, 1)
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"
        var permissive = settings
        permissive.allowedKinds.append("Role")
        XCTAssertThrowsError(try WorkloadManifests.prepare(role, spec: spec(role), settings: permissive), "RBAC is never a template's")
        let hostPath = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: h, hostPath: {path: /etc}}]\n"
        var privileged = KubernetesRuntimeSettings()
        privileged.allowPrivileged = true
        XCTAssertThrowsError(try WorkloadManifests.prepare(hostPath, spec: spec(hostPath), settings: privileged), "host paths stay refused")
    }

    func testAKarvdashHostPathOfPrivateBecomesThePrivateClaim() async throws {
        let template = try Template.parse(
            id: "files",
            yaml: """
                kind: Template
                name: Files
                variables: [{name: NAME, default: web}]
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: $NAME}
                spec:
                  selector: {matchLabels: {app: $NAME}}
                  template:
                    metadata: {labels: {app: $NAME}}
                    spec:
                      containers:
                      - name: nginx
                        image: nginx
                        volumeMounts: [{name: private, mountPath: /usr/share/nginx/html, readOnly: true}]
                      volumes:
                      - name: private
                        hostPath:
                          path: $PRIVATE
                """)
        let rendered = try await TemplateRenderer(domain: "knot.localhost", registry: "r").render(template, values: [:], owner: ada)
        let prepared = try WorkloadManifests.prepare(rendered.manifests, spec: spec(rendered.manifests), settings: KubernetesRuntimeSettings())
        let deployment = try XCTUnwrap(prepared.objects.first { $0.kind == "Deployment" })
        let volume = deployment["spec", "template", "spec", "volumes"]?.arrayValue?.first { $0["name"] == "private" }
        XCTAssertEqual(volume, ["name": "private", "persistentVolumeClaim": ["claimName": "knot-private"]])
    }
}
