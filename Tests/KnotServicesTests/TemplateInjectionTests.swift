import Foundation
import KnotErrors
import KnotKubernetes
import KnotRuntime
import XCTest

@testable import KnotLauncher

/// The template-value injection and policy corpus
/// (`Tests/Fixtures/template-corpus/cases.json`, written by `generate.py`
/// beside it). Each case says what must happen: a value stays one scalar with
/// exactly its text (or is refused, with the message), a hostile template is
/// refused by the named rule, a tolerated one is accepted and rewritten.
final class TemplateInjectionTests: XCTestCase {
    let owner = RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/data/private/ada", sharedDirectory: "/data/shared")
    let renderer = TemplateRenderer(domain: "knot.localhost", registry: "registry.local")
    var settings: KubernetesRuntimeSettings {
        var settings = KubernetesRuntimeSettings()
        settings.serviceDomain = "knot.localhost"
        return settings
    }

    static var corpusFile: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/template-corpus/cases.json")
    }

    static let valueTemplate = """
        kind: Template
        name: Injection
        variables:
        - name: NAME
          default: web
        - name: VALUE
          default: x
        - name: REPLICAS
          default: 1
        - name: DEBUG
          default: false
        - name: SIZE
          default: small
          choices: [small, large]
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: $NAME
          labels:
            app: web
        data:
          plain: $VALUE
          braced: ${VALUE}
          quoted: "$VALUE"
          single: '$VALUE'
          mixed: prefix-$VALUE-suffix
          block: |
            line $VALUE
          "k-$VALUE": key
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: $NAME
        spec:
          replicas: $REPLICAS
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: c
                image: busybox
                args: [$VALUE, "$VALUE"]
                env:
                - name: DEBUG
                  value: "$DEBUG"
                - name: V
                  value: $VALUE
        """

    /// A corpus "plain" expectation, "type:text", as the `JSONValue` YAML parsing gives.
    static func typed(_ text: String) -> JSONValue {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let value = parts.count > 1 ? parts[1] : ""
        switch parts[0] {
        case "int": return .int(Int64(value)!)
        case "double": return .double(Double(value)!)
        case "bool": return .bool(value == "true")
        case "null": return .null
        default: return .string(value)
        }
    }

    func refusalMessage(_ call: () async throws -> Void) async -> String? {
        do {
            try await call()
            return nil
        } catch let error as KnotError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    func testTheCorpusIsRefusedOrKeptAsOneScalar() async throws {
        let corpus = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.corpusFile)) as? [String: Any])
        let template = try Template.parse(id: "injection", yaml: Self.valueTemplate)
        var cases = 0
        var wronglyAccepted: [String] = []
        var failures: [String] = []

        for raw in corpus["values"] as? [[String: Any]] ?? [] {
            cases += 1
            let name = raw["name"] as? String ?? "?"
            let value = try XCTUnwrap(raw["value"] as? String)
            if raw["expect"] as? String == "refused" {
                let message = await refusalMessage { _ = try await self.renderer.render(template, values: ["VALUE": value], owner: self.owner) }
                if let message {
                    if !message.contains(raw["message"] as? String ?? "") { failures.append("\(name): refused with \"\(message)\"") }
                } else {
                    wronglyAccepted.append(name)
                }
                continue
            }
            let plain: JSONValue = (raw["plain"] as? String).map(Self.typed) ?? .string(value)
            do {
                let rendered = try await renderer.render(template, values: ["VALUE": value], owner: owner)
                let documents = try JSONValue.documents(fromYAML: rendered.manifests)
                let problems = check(documents, value: value, plain: plain)
                if !problems.isEmpty { failures.append("\(name): \(problems.joined(separator: "; "))") }
                let spec = WorkloadSpec(id: "c0ffee00-0000-4000-8000-000000000000", name: rendered.name, owner: owner, process: nil, manifests: rendered.manifests)
                let prepared = try WorkloadManifests.prepare(rendered.manifests, spec: spec, settings: settings)
                if prepared.objects.map(\.reference) != ["ConfigMap/web", "Deployment/web"] || prepared.objects.contains(where: { $0.namespace != "knot-ada" }) {
                    failures.append("\(name): the objects changed: \(prepared.objects.map(\.reference))")
                }
            } catch {
                failures.append("\(name): refused although it can be one scalar: \(error)")
            }
        }

        for raw in corpus["otherValues"] as? [[String: Any]] ?? [] {
            cases += 1
            let name = raw["name"] as? String ?? "?"
            let values = try XCTUnwrap(raw["values"] as? [String: String])
            let message = await refusalMessage { _ = try await self.renderer.render(template, values: values, owner: self.owner) }
            guard let message else {
                wronglyAccepted.append(name)
                continue
            }
            if !message.contains(raw["message"] as? String ?? "") { failures.append("\(name): refused with \"\(message)\"") }
        }

        for raw in corpus["templates"] as? [[String: Any]] ?? [] {
            cases += 1
            let name = raw["name"] as? String ?? "?"
            let rule = try XCTUnwrap(raw["rule"] as? String)
            do {
                let prepared = try await prepare(try XCTUnwrap(raw["yaml"] as? String))
                wronglyAccepted.append("\(name) (became \(prepared.objects.map(\.reference)))")
            } catch let error as WorkloadManifests.PolicyError {
                if error.rule != rule || !error.description.contains("(rule: \(rule))") {
                    failures.append("\(name): refused by another rule: \(error.description)")
                }
            } catch {
                failures.append("\(name): refused before the policy: \(error)")
            }
        }

        for raw in corpus["accepted"] as? [[String: Any]] ?? [] {
            cases += 1
            let name = raw["name"] as? String ?? "?"
            do {
                let prepared = try await prepare(try XCTUnwrap(raw["yaml"] as? String))
                if let claim = raw["claim"] as? String {
                    let pod = try XCTUnwrap(prepared.objects.first { $0.kind == "Pod" })
                    let volume = pod["spec", "volumes"]?.arrayValue?.first { $0["name"]?.stringValue == "h" }
                    XCTAssertEqual(volume?.value(at: ["persistentVolumeClaim", "claimName"])?.stringValue, claim, name)
                    XCTAssertNil(volume?["hostPath"], name)
                    let mount = pod["spec", "containers"]?.arrayValue?.first?["volumeMounts"]?.arrayValue?.first { $0["name"]?.stringValue == "h" }
                    XCTAssertEqual(mount?["subPath"]?.stringValue ?? "", raw["subPath"] as? String ?? "", name)
                }
            } catch {
                failures.append("\(name): refused: \(error)")
            }
        }

        XCTAssertGreaterThanOrEqual(cases, 100, "the corpus has \(cases) cases")
        XCTAssertEqual(wronglyAccepted, [], "accepted although they must be refused")
        XCTAssertEqual(failures, [])
    }

    func prepare(_ objects: String) async throws -> WorkloadManifests {
        let text = "kind: Template\nname: Case\nvariables:\n- name: NAME\n  default: web\n---\n" + objects
        let template = try Template.parse(id: "case", yaml: text)
        let rendered = try await renderer.render(template, values: [:], owner: owner)
        let spec = WorkloadSpec(id: "c0ffee00-0000-4000-8000-000000000001", name: rendered.name, owner: owner, process: nil, manifests: rendered.manifests)
        return try WorkloadManifests.prepare(rendered.manifests, spec: spec, settings: settings)
    }

    /// What must hold of the value template's two documents, whatever VALUE was.
    func check(_ documents: [JSONValue], value: String, plain: JSONValue) -> [String] {
        var problems: [String] = []
        func expect(_ actual: JSONValue?, _ expected: JSONValue, _ what: String) {
            if actual != expected { problems.append("\(what) is \(actual.map { "\($0)" } ?? "missing"), not \(expected)") }
        }
        guard documents.count == 2 else { return ["\(documents.count) documents"] }
        let map = documents[0], deployment = documents[1]
        if Set(map.objectValue?.keys.map { $0 } ?? []) != ["apiVersion", "kind", "metadata", "data"] { problems.append("the ConfigMap's fields changed") }
        expect(map["kind"], "ConfigMap", "kind")
        expect(map["metadata"], ["name": "web", "labels": ["app": "web"]], "metadata")
        let expectedData: [String: JSONValue] = [
            "plain": plain, "braced": plain, "quoted": .string(value), "single": .string(value),
            "mixed": .string("prefix-\(value)-suffix"), "block": .string("line \(value)\n"), "k-\(value)": "key",
        ]
        expect(map["data"], .object(expectedData), "data")
        if Set(deployment.objectValue?.keys.map { $0 } ?? []) != ["apiVersion", "kind", "metadata", "spec"] { problems.append("the Deployment's fields changed") }
        expect(deployment.value(at: ["spec", "replicas"]), 1, "replicas")
        let container = deployment.value(at: ["spec", "template", "spec", "containers"])?.arrayValue?.first
        expect(container?["args"], .array([plain, .string(value)]), "args")
        expect(container?["env"], [["name": "DEBUG", "value": "false"], ["name": "V", "value": plain]], "env")
        expect(container?["image"], "busybox", "image")
        return problems
    }

    func testTypedVariablesKeepTheirType() async throws {
        let template = try Template.parse(id: "injection", yaml: Self.valueTemplate)
        XCTAssertEqual(template.variables.map(\.type), [.string, .string, .integer, .boolean, .choice])
        let rendered = try await renderer.render(template, values: ["REPLICAS": "3", "DEBUG": "true"], owner: owner)
        let deployment = try JSONValue.documents(fromYAML: rendered.manifests)[1]
        XCTAssertEqual(deployment.value(at: ["spec", "replicas"]), 3, "a plain scalar that was a variable is resolved again")
        XCTAssertEqual(deployment.value(at: ["spec", "template", "spec", "containers"])?.arrayValue?.first?["env"]?.arrayValue?.first?["value"], "true", "a quoted one stays a string")
    }
}
