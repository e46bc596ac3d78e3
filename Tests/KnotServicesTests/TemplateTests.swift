import Foundation
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

    func testTemplateFoldersAddToTheBuiltInsAndSkipBrokenFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knot-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "kind: Template\nname: Mine\nauth: no\n".write(to: folder.appendingPathComponent("mine.template.yaml"), atomically: true, encoding: .utf8)
        try "kind: Template\nname: My file server\n".write(
            to: folder.appendingPathComponent("file-server.template.yaml"), atomically: true, encoding: .utf8)
        try "name: [not closed\n".write(to: folder.appendingPathComponent("broken.template.yaml"), atomically: true, encoding: .utf8)
        try "kind: Template\nname: Ignored\n".write(to: folder.appendingPathComponent("notes.yaml"), atomically: true, encoding: .utf8)
        let builtins = try BuiltinTemplates.load()
        let catalogue = TemplateCatalogue.load(
            builtins: builtins, folders: "\(folder.path):/nonexistent-knot-folder:relative", logger: Logger(label: "test"))
        XCTAssertEqual(Set(catalogue.map(\.id)), Set(builtins.map(\.id)).union(["mine"]))
        XCTAssertEqual(catalogue.first { $0.id == "file-server" }?.name, "My file server", "the same id replaces the built-in")
        XCTAssertEqual(catalogue.first { $0.id == "mine" }?.source, "folder")
        XCTAssertEqual(catalogue.first { $0.id == "mine" }?.isPublic, true)
        XCTAssertEqual(TemplateCatalogue.load(builtins: builtins, folders: nil, logger: Logger(label: "test")).map(\.id), builtins.map(\.id))
    }

    func testATemplateWithoutDescriptorOrWithTwoIsRefused() {
        XCTAssertThrowsError(try Template.parse(id: "x", yaml: "apiVersion: v1\nkind: Service\n"))
        XCTAssertThrowsError(try Template.parse(id: "x", yaml: "kind: Template\nname: a\n---\nkind: Template\nname: b\n"))
    }

    /// `XCTAssertThrowsError` for async calls.
    func assertRefused<T>(_ call: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await call()
            XCTFail("accepted", file: file, line: line)
        } catch {}
    }
}
