import Foundation
import KnotErrors
import KnotKubernetes
import KnotModels
import KnotRuntime
import Logging
import XCTest

@testable import KnotFiles
@testable import KnotLauncher

/// The template catalogue: the built-in templates (each parses, renders,
/// passes the Kubernetes runtime's policy, runs non-root with requests,
/// limits and a readiness probe), the merge of sources by id, broken files
/// listed with their problem, the per-person cache, ids, and the files
/// service's reading of `services/` folders (links and oversized files).
final class CatalogueTests: XCTestCase {
    let owner = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/files/private", sharedDirectory: "/files/shared")

    static let required: Set<String> = ["jupyter", "filebrowser", "file-server", "postgresql", "redis", "minio", "tensorboard", "hello"]

    func builtins() async -> [CatalogueEntry] {
        await TemplateCatalogue.loadBase(builtinFolder: BuiltinTemplates.folder, folders: nil, logger: Logger(label: "test"))
    }

    func testEveryBuiltinTemplateIsCompleteAndPassesPolicy() async throws {
        let entries = await builtins()
        XCTAssertEqual(entries.count, try BuiltinTemplates.load().count, "every built-in parses")
        XCTAssertTrue(Self.required.isSubset(of: Set(entries.map(\.id))), "\(entries.map(\.id))")
        let renderer = TemplateRenderer(domain: "knot.localhost", registry: "registry.local")
        var written: [String: [UnstructuredObject]] = [:]
        for entry in entries {
            let template = entry.template
            XCTAssertEqual(entry.source, .builtIn)
            XCTAssertNotNil(entry.yaml)
            XCTAssertFalse(template.version.isEmpty, "\(template.id) has a version")
            XCTAssertFalse(template.description.isEmpty, "\(template.id) has a description")
            for variable in template.variables {
                XCTAssertNotNil(variable.title, "\(template.id): \(variable.name) has a title")
                XCTAssertNotNil(variable.help, "\(template.id): \(variable.name) has help")
                if let choices = variable.choices { XCTAssertTrue(choices.contains(variable.defaultValue), "\(template.id): \(variable.name)") }
            }
            let rendered = try await renderer.render(template, values: [:], owner: owner)
            let spec = WorkloadSpec(
                id: "0f0f0f0f-0000-4000-8000-000000000000", name: rendered.name, owner: owner, process: rendered.process,
                manifests: rendered.manifests)
            let prepared = try WorkloadManifests.prepare(rendered.manifests, spec: spec, settings: KubernetesRuntimeSettings())
            if entry.yaml!.contains("kind: Ingress") {
                XCTAssertNotNil(prepared.exposure, "\(template.id): its Ingress names what the edge exposes")
            }
            var workloads = 0
            for object in prepared.objects where object.kind == "Deployment" {
                workloads += 1
                let pod = try XCTUnwrap(object["spec", "template", "spec"]).json
                XCTAssertTrue(pod.contains("\"runAsNonRoot\":true"), "\(template.id) runs as non-root")
                for container in try XCTUnwrap(object["spec", "template", "spec", "containers"]?.arrayValue) {
                    let text = container.json
                    for key in ["\"requests\"", "\"limits\"", "\"readinessProbe\"", "\"allowPrivilegeEscalation\":false"] {
                        XCTAssertTrue(text.contains(key), "\(template.id): a container lacks \(key)")
                    }
                    XCTAssertFalse(text.contains(":latest\""), "\(template.id): images are pinned")
                }
            }
            XCTAssertEqual(workloads, 1, template.id)
            written["builtin-\(template.id)"] = prepared.objects
            if let process = rendered.process {
                XCTAssertFalse(process.command.contains("$"), template.id)
                XCTAssertTrue(process.arguments.contains { $0.contains("$PORT") } || process.arguments.contains { $0.contains("PORT") }
                    || template.local!.args.joined().contains("$PORT"), "\(template.id): the local block listens on $PORT")
            }
        }
        // The local runtime runs these with what is usually installed.
        for id in ["file-server", "hello"] {
            XCTAssertEqual(entries.first { $0.id == id }?.template.local?.command, "python3", id)
        }
        XCTAssertNil(entries.first { $0.id == "postgresql" }?.template.local, "PostgreSQL needs Kubernetes")

        // Written beside the other rendered objects for the schema check (test_manifest_schemas).
        guard let directory = ProcessInfo.processInfo.environment["KNOT_MANIFEST_DIR"], !directory.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, objects) in written {
            let documents = try objects.map { String(decoding: try $0.raw.jsonData(), as: UTF8.self) }
            try ("---\n" + documents.joined(separator: "\n---\n") + "\n").write(toFile: "\(directory)/\(name).yaml", atomically: true, encoding: .utf8)
        }
    }

    func testHelloRunsLocallyWithPython() async throws {
        let entries = await builtins()
        let hello = try XCTUnwrap(entries.first { $0.id == "hello" }?.template)
        let renderer = TemplateRenderer(domain: "knot.localhost", registry: "")
        let rendered = try await renderer.render(hello, values: ["MESSAGE": "<hi & bye>"], owner: owner)
        let process = try XCTUnwrap(rendered.process)
        XCTAssertEqual(process.command, "python3")
        XCTAssertEqual(process.arguments.first, "-c")
        XCTAssertEqual(process.arguments.last, "<hi & bye>", "the message is one argument, never code")
    }

    struct StubFiles: CatalogueFileSource {
        let answer: @Sendable (String) throws -> [CatalogueFile]
        let calls = Counter()

        final class Counter: @unchecked Sendable {
            private let lock = NSLock()
            private var value = 0
            func next() { lock.lock(); value += 1; lock.unlock() }
            var count: Int { lock.lock(); defer { lock.unlock() }; return value }
        }

        func files(of user: String) async throws -> [CatalogueFile] {
            calls.next()
            return try answer(user)
        }
        func save(_ content: String, name: String, of user: String, overwrite: Bool) async throws {}
        func remove(name: String, of user: String) async throws {}
    }

    static func file(_ domain: String, _ name: String, _ content: String?, problem: String? = nil) -> CatalogueFile {
        CatalogueFile(domain: domain, name: name, content: content, size: Int64(content?.utf8.count ?? 0), modified: Date(), problem: problem)
    }

    func testSourcesOverrideByIdAndBrokenFilesAreListed() async throws {
        let files = StubFiles { user in
            guard user == "ada" else { return [Self.file("admin", "hello.template.yaml", "kind: Template\nname: Admins' hello\n")] }
            return [
                Self.file("admin", "hello.template.yaml", "kind: Template\nname: Admins' hello\n"),
                Self.file("admin", "team.template.yaml", "kind: Template\nname: Team tool\nversion: 3\n"),
                Self.file("shared", "team.template.yaml", "kind: Template\nname: Shared team tool\n"),
                Self.file("shared", "broken.template.yaml", "kind: Template\nname: [not closed\n"),
                Self.file("private", "team.template.yaml", "kind: Template\nname: My team tool\n"),
                Self.file("private", "Bad Name.template.yaml", "kind: Template\nname: Bad\n"),
                Self.file("private", "huge.template.yaml", nil, problem: "the file is larger than 256 KiB"),
                Self.file("elsewhere", "x.template.yaml", "kind: Template\nname: X\n"),
            ]
        }
        let catalogue = TemplateCatalogue(base: await builtins(), files: files, cacheLifetime: .seconds(60), logger: Logger(label: "test"))
        let entries = try await catalogue.entries(for: "ada")
        let byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(entries.count, byID.count, "every id once")
        XCTAssertEqual(byID["hello"]?.source, .admin)
        XCTAssertEqual(byID["hello"]?.replaces, .builtIn)
        XCTAssertEqual(byID["hello"]?.template.name, "Admins' hello")
        XCTAssertEqual(byID["team"]?.source, .private)
        XCTAssertEqual(byID["team"]?.template.name, "My team tool")
        XCTAssertEqual(byID["team"]?.template.source, "private")
        XCTAssertNotNil(byID["broken"]?.template.problem)
        XCTAssertEqual(byID["broken"]?.source, .shared)
        XCTAssertTrue(byID["Bad Name"]?.template.problem?.contains("not a valid template id") ?? false)
        XCTAssertEqual(byID["huge"]?.template.problem, "the file is larger than 256 KiB")
        XCTAssertNil(byID["x"], "only the three file domains count")
        XCTAssertNotNil(byID["jupyter"], "the built-ins stay")

        // Another person sees none of ada's private templates.
        let other = try await catalogue.entries(for: "bob")
        XCTAssertNil(other.first { $0.id == "team" })
        XCTAssertEqual(other.first { $0.id == "hello" }?.source, .admin)

        // Remembered, until invalidated.
        let calls = files.calls.count
        _ = try await catalogue.entries(for: "ada")
        XCTAssertEqual(files.calls.count, calls)
        await catalogue.invalidate("ada")
        _ = try await catalogue.entries(for: "ada")
        XCTAssertEqual(files.calls.count, calls + 1)
    }

    func testAnUnreachableFilesServiceFallsBackToWhatWasRemembered() async throws {
        let failing = StubFiles.Counter()
        let files = StubFiles { _ in
            failing.next()
            if failing.count > 1 { throw KnotError.unavailable("the files service is unreachable") }
            return [Self.file("private", "mine.template.yaml", "kind: Template\nname: Mine\n")]
        }
        let catalogue = TemplateCatalogue(base: await builtins(), files: files, cacheLifetime: .milliseconds(1), logger: Logger(label: "test"))
        let first = try await catalogue.entry("mine", for: "ada")
        XCTAssertNotNil(first)
        try await Task.sleep(for: .milliseconds(5))
        let again = try await catalogue.entry("mine", for: "ada")
        XCTAssertNotNil(again, "stale beats nothing")
        do {
            _ = try await catalogue.entries(for: "bob")
            XCTFail("nothing remembered for bob")
        } catch let error as KnotError {
            XCTAssertEqual(error.status, .serviceUnavailable)
        }
    }

    func testTemplateIDs() {
        for id in ["jupyter", "file-server", "a", "x1.2_b", "0day"] { XCTAssertTrue(TemplateID.isValid(id), id) }
        for id in ["", "../x", "..", "a/b", "A", "-a", "a-", "a..b", ".hidden", "a b", String(repeating: "a", count: 64), "é"] {
            XCTAssertFalse(TemplateID.isValid(id), id)
        }
        XCTAssertEqual(TemplateID.from(name: "Jupyter (GPU) 2"), "jupyter-gpu-2")
        XCTAssertEqual(TemplateID.from(name: "  My  tool!! "), "my-tool")
        XCTAssertNil(TemplateID.from(name: "ééé"))
        XCTAssertEqual(TemplateID.from(name: String(repeating: "ab ", count: 40))?.count, 62)
    }

    func testLocalProgramsAreLookedUpOnPath() throws {
        var template = try Template.parse(id: "t", yaml: "kind: Template\nname: T\nlocal:\n  command: knot-surely-not-installed\n")
        XCTAssertEqual(LocalPrograms.missing(template, path: "/usr/bin:/bin"), "the program \"knot-surely-not-installed\" is not installed on this machine")
        template.local?.command = "sh"
        XCTAssertNil(LocalPrograms.missing(template, path: "/usr/bin:/bin"))
        template.local?.command = "/bin/sh"
        XCTAssertNil(LocalPrograms.missing(template, path: ""))
        template.local = nil
        XCTAssertNil(LocalPrograms.missing(template), "no local block is the runtime's to say")
    }

    func testTheFilesServiceReadsOnlyTemplateFilesAndNeverFollowsLinks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("knot-catalogue-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let services = root + "/services"
        try FileManager.default.createDirectory(atPath: services, withIntermediateDirectories: true)
        try "kind: Template\nname: A\n".write(toFile: services + "/a.template.yaml", atomically: true, encoding: .utf8)
        try "secret".write(toFile: root + "/secret.template.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: services + "/link.template.yaml", withDestinationPath: root + "/secret.template.yaml")
        try FileManager.default.createDirectory(atPath: services + "/folder.template.yaml", withIntermediateDirectories: true)
        try "notes".write(toFile: services + "/notes.txt", atomically: true, encoding: .utf8)
        try Data(repeating: 0x61, count: CatalogueFiles.maxFileBytes + 1).write(to: URL(fileURLWithPath: services + "/big.template.yaml"))
        try Data([0xff, 0xfe, 0x00]).write(to: URL(fileURLWithPath: services + "/binary.template.yaml"))
        XCTAssertEqual(mkfifo(services + "/fifo.template.yaml", 0o644), 0)
        var budget = CatalogueFiles.maxTotalBytes
        let files = CatalogueFiles.read(domain: "shared", root: root, budget: &budget)
        XCTAssertEqual(files.map(\.name), ["a.template.yaml", "big.template.yaml", "binary.template.yaml"])
        XCTAssertEqual(files[0].content, "kind: Template\nname: A\n")
        XCTAssertNil(files[1].content)
        XCTAssertNotNil(files[1].problem)
        XCTAssertEqual(files[2].problem, "the file is not UTF-8 text")

        // A `services` that is a link is not followed; a missing domain is not created.
        let other = root + "-linked"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.createSymbolicLink(atPath: other + "/services", withDestinationPath: services)
        XCTAssertTrue(CatalogueFiles.read(domain: "private", root: other, budget: &budget).isEmpty)
        XCTAssertTrue(CatalogueFiles.read(domain: "private", root: root + "-missing", budget: &budget).isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "-missing"))

        XCTAssertThrowsError(try CatalogueFiles.checkName("../a.template.yaml"))
        XCTAssertThrowsError(try CatalogueFiles.checkName("a.yaml"))
        XCTAssertThrowsError(try CatalogueFiles.checkName(".template.yaml"))
        XCTAssertThrowsError(try CatalogueFiles.checkUser(".."))
        XCTAssertEqual(try CatalogueFiles.checkName("a.template.yaml"), "a.template.yaml")
    }
}

extension JSONValue {
    fileprivate var json: String { (try? String(decoding: jsonData(), as: UTF8.self)) ?? "" }
}
