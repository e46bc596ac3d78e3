import Foundation
import KnotErrors
import KnotKubernetes
import KnotRuntime
import Logging
import XCTest

@testable import KnotLauncher

final class TemplateTests: XCTestCase {
    let owner = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/data/private/ada", sharedDirectory: "/data/shared")
    let renderer = TemplateRenderer(domain: "knot.localhost", registry: "registry.local")

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/karvdash-templates")
    }

    func testEveryKarvdashTemplateParsesUnchanged() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".template.yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 9)
        for file in files {
            let text = try String(contentsOf: Self.fixtures.appendingPathComponent(file), encoding: .utf8)
            let template = try Template.parse(id: String(file.dropLast(".template.yaml".count)), yaml: text)
            XCTAssertFalse(template.name.isEmpty, file)
            XCTAssertTrue(template.variables.contains { $0.name == "NAME" }, file)
            XCTAssertFalse(template.manifests.isEmpty, file)
            XCTAssertNil(template.local, file)
            let rendered = try await renderer.render(template, values: [:], owner: owner)
            XCTAssertTrue(rendered.manifests.contains(rendered.host) || !text.contains("$HOSTNAME"), file)
        }
    }

    func testSubstitutionLeavesUnknownDollarsAlone() {
        let values = ["NAME": "web", "PRIVATE": "/p"]
        XCTAssertEqual(TemplateRenderer.substitute("$NAME ${NAME} $PRIVATE/x", values), "web web /p/x")
        XCTAssertEqual(TemplateRenderer.substitute("echo $HOME ${PATH} $1 $$ $", values), "echo $HOME ${PATH} $1 $$ $")
        XCTAssertEqual(TemplateRenderer.substitute("${NAME", values), "${NAME")
        XCTAssertEqual(TemplateRenderer.substitute("$NAMES", values), "$NAMES")
    }

    func testTheBuiltInFileServerRendersForTheLocalRuntime() async throws {
        let template = try XCTUnwrap(BuiltinTemplates.load().first { $0.id == "file-server" })
        let rendered = try await renderer.render(template, values: ["NAME": "web"], owner: owner)
        XCTAssertEqual(rendered.host, "web-ada.knot.localhost")
        XCTAssertEqual(rendered.process?.command, "python3")
        XCTAssertEqual(rendered.process?.arguments, ["-m", "http.server", "$PORT", "--bind", "127.0.0.1", "--directory", "/data/private/ada"])
        XCTAssertTrue(rendered.manifests.contains("host: web-ada.knot.localhost"))
    }

    func testValuesAreChecked() async throws {
        let template = try Template.parse(
            id: "t",
            yaml: """
                kind: Template
                name: T
                variables:
                - name: NAME
                  default: t
                - name: SIZE
                  default: small
                  choices: [small, large]
                """)
        await assertRefused(try await renderer.render(template, values: ["HOSTNAME": "evil.example"], owner: owner))
        await assertRefused(try await renderer.render(template, values: ["OTHER": "x"], owner: owner))
        await assertRefused(try await renderer.render(template, values: ["SIZE": "huge"], owner: owner))
        await assertRefused(try await renderer.render(template, values: ["SIZE": "small\nkind: Secret"], owner: owner))
        await assertRefused(try await renderer.render(template, values: ["NAME": "-bad"], owner: owner))
        await assertRefused(try await renderer.render(template, values: ["NAME": String(repeating: "a", count: 41)], owner: owner))
        let large = try await renderer.render(template, values: ["SIZE": "large"], owner: owner)
        XCTAssertEqual(large.values["SIZE"], "large")
    }

    func testAuthNoMakesATemplatePublic() throws {
        for (auth, isPublic) in [("no", true), ("No", true), ("false", true), ("\"no\"", true), ("yes", false), ("true", false)] {
            let template = try Template.parse(id: "t", yaml: "kind: Template\nname: T\nauth: \(auth)\n")
            XCTAssertEqual(template.isPublic, isPublic, auth)
        }
        XCTAssertFalse(try Template.parse(id: "t", yaml: "kind: Template\nname: T\n").isPublic, "sign-on unless a template says otherwise")
        XCTAssertThrowsError(try Template.parse(id: "t", yaml: "kind: Template\nname: T\nauth: perhaps\n"))
        let minio = try String(contentsOf: Self.fixtures.appendingPathComponent("minio.template.yaml"), encoding: .utf8)
        XCTAssertTrue(try Template.parse(id: "minio", yaml: minio).isPublic)
    }

    func testTemplateFoldersAddToTheBuiltInsAndSkipBrokenFiles() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knot-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "kind: Template\nname: Mine\nauth: no\n".write(to: folder.appendingPathComponent("mine.template.yaml"), atomically: true, encoding: .utf8)
        try "kind: Template\nname: My file server\n".write(
            to: folder.appendingPathComponent("file-server.template.yaml"), atomically: true, encoding: .utf8)
        try "name: [not closed\n".write(to: folder.appendingPathComponent("broken.template.yaml"), atomically: true, encoding: .utf8)
        try "kind: Template\nname: Ignored\n".write(to: folder.appendingPathComponent("notes.yaml"), atomically: true, encoding: .utf8)
        let builtins = try BuiltinTemplates.load()
        let catalogue = await TemplateCatalogue.load(
            builtins: builtins, folders: "\(folder.path):/nonexistent-knot-folder:relative", logger: Logger(label: "test"))
        XCTAssertEqual(Set(catalogue.map(\.id)), Set(builtins.map(\.id)).union(["mine"]))
        XCTAssertEqual(catalogue.first { $0.id == "file-server" }?.name, "My file server", "the same id replaces the built-in")
        XCTAssertEqual(catalogue.first { $0.id == "mine" }?.source, "folder")
        XCTAssertEqual(catalogue.first { $0.id == "mine" }?.isPublic, true)
        let unchanged = await TemplateCatalogue.load(builtins: builtins, folders: nil, logger: Logger(label: "test"))
        XCTAssertEqual(unchanged.map(\.id), builtins.map(\.id))
    }

    func testATemplateWithoutDescriptorOrWithTwoIsRefused() {
        XCTAssertThrowsError(try Template.parse(id: "x", yaml: "apiVersion: v1\nkind: Service\n"))
        XCTAssertThrowsError(try Template.parse(id: "x", yaml: "kind: Template\nname: a\n---\nkind: Template\nname: b\n"))
    }

    // MARK: Structured substitution

    /// The values Karvdash's text substitution saw: the launch values and the automatic ones.
    func allValues(_ rendered: TemplateRenderer.Rendered) -> [String: String] {
        rendered.values.merging([
            "HOSTNAME": rendered.host, "NAMESPACE": owner.namespace, "REGISTRY": "registry.local",
            "PRIVATE": owner.privateDirectory, "SHARED": owner.sharedDirectory, "USERNAME": owner.username,
        ]) { _, knot in knot }
    }

    func testStructuredSubstitutionGivesTheObjectsTextSubstitutionGaveForEveryFixture() async throws {
        var templates = try Template.files(in: Self.fixtures.path).map { try Template.load(id: $0.id, path: $0.path) }
        templates += try BuiltinTemplates.load()
        XCTAssertGreaterThanOrEqual(templates.count, 10)
        for template in templates {
            for values in [[:], ["NAME": "other"]] {
                let rendered = try await renderer.render(template, values: values, owner: owner)
                let old = try JSONValue.documents(fromYAML: TemplateRenderer.substitute(template.manifests, allValues(rendered)))
                let new = try JSONValue.documents(fromYAML: rendered.manifests)
                XCTAssertFalse(new.isEmpty, template.id)
                XCTAssertEqual(old, new, "\(template.id) with \(values)")
            }
        }
    }

    func testAPlainVariableIsResolvedAgainAndAQuotedOneStaysAString() throws {
        let yaml = """
            a: $N
            b: "$N"
            c: x-$N
            d: '${N}'
            e: [$N, "$N"]
            f: |
              $N $HOME
            $K: 1
            "$K-2": 2
            """
        let text = try StructuredSubstitution.render(yaml, values: ["N": "42", "K": "key"])
        let document = try XCTUnwrap(JSONValue.documents(fromYAML: text).first)
        XCTAssertEqual(document["a"], 42)
        XCTAssertEqual(document["b"], "42")
        XCTAssertEqual(document["c"], "x-42")
        XCTAssertEqual(document["d"], "42")
        XCTAssertEqual(document["e"], [42, "42"])
        XCTAssertEqual(document["f"], "42 $HOME\n", "unknown names stay as they are")
        XCTAssertEqual(document["key"], 1)
        XCTAssertEqual(document["key-2"], 2)
        let hostile = try StructuredSubstitution.render("a: $N\nb: \"$N\"\n", values: ["N": "x\n---\nkind: Secret\nmetadata: {namespace: kube-system}"])
        let documents = try JSONValue.documents(fromYAML: hostile)
        XCTAssertEqual(documents.count, 1)
        XCTAssertEqual(documents.first?["a"], "x\n---\nkind: Secret\nmetadata: {namespace: kube-system}")
        XCTAssertThrowsError(try StructuredSubstitution.render("$A: 1\n$B: 2\n", values: ["A": "same", "B": "same"])) { error in
            XCTAssertTrue("\(error)".contains("appears twice"), "\(error)")
        }
        XCTAssertThrowsError(try StructuredSubstitution.render("a: [\n", values: [:]))
    }

    // MARK: Variable types

    func testVariableTypesAreInferredAndChecked() async throws {
        let template = try Template.parse(
            id: "t",
            yaml: """
                kind: Template
                name: T
                variables:
                - name: NAME
                  default: t
                - name: REPLICAS
                  default: 2
                - name: GPU
                  default: no
                - name: SIZE
                  default: small
                  choices: [small, large]
                - name: PORT
                  type: integer
                  default: "8080"
                - name: LABEL
                  default: "3"
                """)
        XCTAssertEqual(template.variables.map(\.type), [.string, .integer, .boolean, .choice, .integer, .string])
        XCTAssertEqual(template.variables[2].defaultValue, "false")
        for (values, message) in [
            (["REPLICAS": "two"], "REPLICAS must be a whole number"), (["REPLICAS": "2\nkind: Secret"], "REPLICAS contains control characters"),
            (["GPU": "maybe"], "GPU must be true or false"), (["SIZE": "huge"], "SIZE must be one of: small, large"),
            (["PORT": "80.5"], "PORT must be a whole number"),
        ] {
            do {
                _ = try await renderer.render(template, values: values, owner: owner)
                XCTFail("\(values) accepted")
            } catch let error as KnotError {
                XCTAssertEqual(error.message, message)
            }
        }
        let rendered = try await renderer.render(template, values: ["REPLICAS": "3", "GPU": "true", "LABEL": "007"], owner: owner)
        XCTAssertEqual(rendered.values["REPLICAS"], "3")
        let encoded = try JSONEncoder().encode(template.variables[1])
        XCTAssertTrue(String(decoding: encoded, as: UTF8.self).contains("\"type\":\"integer\""))
        let decoded = try JSONDecoder().decode(TemplateVariable.self, from: Data(#"{"name":"X","default":"1","hidden":false}"#.utf8))
        XCTAssertEqual(decoded.type, .string)
        XCTAssertThrowsError(try Template.parse(id: "t", yaml: "kind: Template\nname: T\nvariables:\n- {name: A, type: float}\n"))
        XCTAssertThrowsError(try Template.parse(id: "t", yaml: "kind: Template\nname: T\nvariables:\n- {name: A, type: integer, default: x}\n"))
        XCTAssertThrowsError(try Template.parse(id: "t", yaml: "kind: Template\nname: T\nvariables:\n- {name: A, default: c, choices: [a, b]}\n"))
    }

    // MARK: Charts

    static var charts: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/knot-charts")
    }

    func testChartsOfferTheirValuesAsVariables() async throws {
        let postgresql = await ChartTemplate.load(id: "postgresql", path: Self.charts.path + "/postgresql", helm: "/bin/true")
        XCTAssertNil(postgresql.problem)
        XCTAssertEqual(postgresql.name, "postgresql")
        XCTAssertEqual(postgresql.description, "Database server")
        XCTAssertEqual(postgresql.version, "1.0.0")
        XCTAssertEqual(postgresql.chart?.path, Self.charts.path + "/postgresql")
        XCTAssertEqual(postgresql.variables.map(\.name), ["NAME", "version", "password"])
        XCTAssertEqual(postgresql.variables.map(\.defaultValue), ["postgresql", "12.10", "postgres"])
        XCTAssertEqual(postgresql.variables.map(\.help), ["The service's name", "PostgreSQL version", "Password for postgres user"])
        XCTAssertEqual(postgresql.variables.map(\.type), [.string, .string, .string])

        let withMetadata = try ChartTemplate.parse(
            id: "m",
            chartYAML: "apiVersion: v2\nname: m\nversion: 2.1.0\n",
            valuesYAML: """
                replicas: 1 # How many
                debug: false
                size: small # Size
                url: "http://x#y" # The URL
                nested: {a: b}
                knot:
                  enabled: true
                  metadata:
                    size: {title: Size, choices: [small, large], help: Pick one}
                    debug: {hidden: true}
                """, path: "/charts/m")
        XCTAssertEqual(withMetadata.version, "2.1.0")
        XCTAssertEqual(withMetadata.variables.map(\.name), ["NAME", "replicas", "debug", "size", "url"])
        XCTAssertEqual(withMetadata.variables.map(\.type), [.string, .integer, .boolean, .choice, .string])
        XCTAssertEqual(withMetadata.variables.map(\.help), ["The service's name", "How many", nil, "Pick one", "The URL"])
        XCTAssertEqual(withMetadata.variables[2].hidden, true)
        XCTAssertEqual(withMetadata.variables[3].title, "Size")
        XCTAssertThrowsError(try ChartTemplate.parse(id: "x", chartYAML: "name: x\n", valuesYAML: "a: 1\n", path: "/x"), "no knot block")

        let noHelm = await ChartTemplate.load(id: "redis", path: Self.charts.path + "/redis", helm: nil)
        XCTAssertEqual(noHelm.problem, Helm.missing)
        XCTAssertEqual(noHelm.name, "redis")
        let broken = await ChartTemplate.load(id: "nothing", path: "/nonexistent-knot-chart", helm: "/bin/true")
        XCTAssertNotNil(broken.problem)
        XCTAssertNil(Helm.locate(["KNOT_HELM": "/nonexistent/helm"]))
        var renderer = self.renderer
        renderer.helm = nil
        do {
            _ = try await renderer.render(noHelm, values: [:], owner: owner)
            XCTFail("rendered without helm")
        } catch let error as KnotError {
            XCTAssertTrue(error.message.contains(Helm.missing), error.message)
        }
    }

    func testChartsAreRenderedByHelmWithKnotsValues() async throws {
        _ = try FixtureDeployTests.requireHelm()
        let filebrowser = await Template.loadChart(id: "filebrowser", path: Self.charts.path + "/filebrowser")
        XCTAssertNil(filebrowser.problem)
        let rendered = try await renderer.render(filebrowser, values: ["NAME": "files", "folder": "/files/shared/x: y"], owner: owner)
        XCTAssertEqual(rendered.host, "files-ada.knot.localhost")
        let objects = try UnstructuredObject.objects(fromYAML: rendered.manifests)
        XCTAssertEqual(Set(objects.map(\.reference)), ["ConfigMap/files-filebrowser-config", "Service/files-filebrowser", "Deployment/files-filebrowser", "Ingress/files-filebrowser"])
        let ingress = try XCTUnwrap(objects.first { $0.kind == "Ingress" })
        XCTAssertEqual(ingress["spec", "rules"]?.arrayValue?.first?["host"], "files-ada.knot.localhost")
        let config = try XCTUnwrap(objects.first { $0.kind == "ConfigMap" })
        XCTAssertTrue(config["data", "filebrowser.json"]?.stringValue?.contains("\"root\": \"/files/shared/x: y\"") ?? false)

        let postgresql = await Template.loadChart(id: "postgresql", path: Self.charts.path + "/postgresql")
        let database = try await renderer.render(postgresql, values: [:], owner: owner)
        let deployment = try XCTUnwrap(try UnstructuredObject.objects(fromYAML: database.manifests).first { $0.kind == "Deployment" })
        let env = deployment["spec", "template", "spec", "containers"]?.arrayValue?.first?["env"]?.arrayValue ?? []
        XCTAssertEqual(env.first { $0["name"] == "PGDATA" }?["value"], "/files/private/.postgresql/postgresql/data")
        XCTAssertEqual(deployment["spec", "template", "spec", "containers"]?.arrayValue?.first?["image"], "postgres:12.10")
    }

    func testHelmIsStoppedAtItsDeadline() async throws {
        let folder = try Helm.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let slow = folder + "/slow-helm"
        try "#!/bin/sh\nexec sleep 30\n".write(toFile: slow, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: slow)
        let started = Date()
        do {
            _ = try await Helm.template(helm: slow, chart: "/x", release: "r", namespace: "n", values: [:], timeout: .seconds(1))
            XCTFail("a helm that never ends was waited for")
        } catch let failure as Helm.Failure {
            XCTAssertTrue(failure.description.contains("took longer"), failure.description)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testChartsInATemplateFolderAreListedWithTheirVersions() async throws {
        let folder = FixtureDeployTests.fixtures.appendingPathComponent("knot-charts").path
        let entries = await TemplateCatalogue.loadFolder(folder, source: .folder, logger: Logger(label: "test"))
        XCTAssertEqual(Set(entries.map(\.template.id)), ["filebrowser", "hello-kubernetes", "nginx", "postgresql", "redis"])
        for entry in entries {
            XCTAssertNotNil(entry.template.chart, entry.template.id)
            XCTAssertFalse(entry.template.version.isEmpty, entry.template.id)
            XCTAssertEqual(entry.template.source, "folder")
        }
    }

    /// `XCTAssertThrowsError` for async calls.
    func assertRefused<T>(_ call: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await call()
            XCTFail("accepted", file: file, line: line)
        } catch {}
    }
}
