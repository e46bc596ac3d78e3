import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import KnotKubernetes
import KnotModels
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import XCTest

@testable import KnotEdge
@testable import KnotUsers

/// The users service's admission webhook, fed real AdmissionReview v1
/// documents (`Tests/Fixtures/admission/*.review.json`): each patch it answers
/// with is applied to the original pod by the RFC 6902 applier below and the
/// result compared with the pod expected (`*.expected.json`).
final class AdmissionWebhookTests: XCTestCase {
    static let publicURL = "https://knot.example.org"

    static let users: [String: UserRecord] = [
        "ada": user("ada", admin: false),
        "grace": user("grace", admin: true),
    ]

    static func user(_ name: String, admin: Bool) -> UserRecord {
        UserRecord(
            id: UUID(), username: name, email: "\(name)@example.org", fullName: name.capitalized, active: true, admin: admin,
            namespace: UserRecord.namespace(for: name), createdAt: Date(), lastLogin: nil)
    }

    static let strictPolicy = PodPolicy(
        allowedHostPaths: [["data", "datasets"]],
        allowedNFS: [PodPolicy.NFSExport(server: "nfs.example.org", path: ["exports", "datasets"])],
        allowPrivileged: false)

    func webhook(policy: PodPolicy = AdmissionWebhookTests.strictPolicy, lookups: LookupLog? = nil, failing: Bool = false) -> AdmissionWebhook {
        AdmissionWebhook(
            policy: policy, publicURL: Self.publicURL,
            lookup: { name in
                await lookups?.record(name)
                if failing { throw CancellationError() }
                return Self.users[name]
            },
            logger: Logger(label: "test.admission"))
    }

    // MARK: Mutation

    func testPodOfADeploymentGetsItsFileDomainsAndVariables() async throws {
        let answer = try await review("deployment-pod", .mutate)
        XCTAssertTrue(answer.allowed)
        // The pod had volumes, mounts and env: everything is appended with "-".
        XCTAssertEqual(
            answer.patch.map(\.path),
            [
                "/spec/volumes/-", "/spec/volumes/-",
                "/spec/containers/0/volumeMounts/-", "/spec/containers/0/volumeMounts/-",
            ] + Array(repeating: "/spec/containers/0/env/-", count: 6))
        try assertPatched("deployment-pod", answer)
    }

    func testBarePodGetsWholeArrays() async throws {
        let answer = try await review("bare-pod", .mutate)
        XCTAssertTrue(answer.allowed)
        XCTAssertEqual(answer.patch.map(\.path), ["/spec/volumes", "/spec/containers/0/volumeMounts", "/spec/containers/0/env"])
        XCTAssertEqual(Set(answer.patch.map(\.op)), ["add"])
        try assertPatched("bare-pod", answer)
    }

    func testAVolumeWithKnotsNameIsKeptAndStillMounted() async throws {
        let answer = try await review("existing-volume", .mutate)
        XCTAssertTrue(answer.allowed)
        let addedVolumes = answer.patch.filter { $0.path.hasPrefix("/spec/volumes") }.compactMap { $0.value?["name"]?.stringValue }
        XCTAssertEqual(addedVolumes, ["knot-shared"], "the pod's own knot-private is not duplicated")
        try assertPatched("existing-volume", answer)
    }

    func testAnAdminsPodAlsoGetsTheAdminDomain() async throws {
        let answer = try await review("admin-pod", .mutate)
        XCTAssertTrue(answer.allowed)
        try assertPatched("admin-pod", answer)
    }

    func testWhatAContainerSetsItselfWins() async throws {
        let answer = try await review("env-set", .mutate)
        XCTAssertTrue(answer.allowed)
        XCTAssertFalse(answer.patch.contains { $0.value?["name"] == "KNOT_URL" })
        try assertPatched("env-set", answer)
    }

    func testInitContainersAreMountedToo() async throws {
        let answer = try await review("init-containers", .mutate)
        XCTAssertTrue(answer.allowed)
        XCTAssertTrue(answer.patch.contains { $0.path == "/spec/initContainers/1/volumeMounts" })
        XCTAssertTrue(answer.patch.contains { $0.path == "/spec/initContainers/0/env/-" })
        try assertPatched("init-containers", answer)
    }

    /// `reinvocationPolicy: IfNeeded` may call the hook again on its own result: it must add nothing twice.
    func testMutationIsIdempotent() async throws {
        for name in ["deployment-pod", "bare-pod", "existing-volume", "admin-pod", "env-set", "init-containers"] {
            let first = try await review(name, .mutate)
            var document = try Self.fixture("\(name).review.json")
            let mutated = try JSONPatch.apply(first.patch, to: document["request"]!["object"]!)
            document.set(mutated, at: ["request", "object"])
            let second = try await review(document, .mutate)
            XCTAssertTrue(second.allowed, name)
            XCTAssertEqual(second.patch, [], name)
            XCTAssertNil(second.raw["response"]?["patch"], name)
        }
    }

    func testAPodInAnotherNamespaceIsLeftAlone() async throws {
        let lookups = LookupLog()
        for hook in [AdmissionWebhook.Hook.mutate, .validate] {
            // hostNetwork, hostPID, privileged and / from the host: none of Knot's business in "default".
            let answer = try await review("other-namespace", hook, webhook: webhook(lookups: lookups))
            XCTAssertTrue(answer.allowed, hook.rawValue)
            XCTAssertNil(answer.raw["response"]?["patch"], hook.rawValue)
            XCTAssertNil(answer.raw["response"]?["patchType"], hook.rawValue)
        }
        let asked = await lookups.names
        XCTAssertEqual(asked, [], "no user is looked up for a namespace that is not Knot's")
    }

    // MARK: Validation

    func testAForbiddenHostPathIsRefused() async throws {
        let answer = try await review("forbidden-hostpath", .validate)
        XCTAssertFalse(answer.allowed)
        XCTAssertEqual(answer.code, 403)
        let message = try XCTUnwrap(answer.message)
        XCTAssertTrue(message.hasPrefix("Knot does not admit pod \"builder\" in namespace knot-ada: "), message)
        for refused in ["/var/run/docker.sock", "/data/datasets-private", "/data/datasets/../../etc", "nfs.example.org:/exports/homes"] {
            XCTAssertTrue(message.contains(refused), "\(refused) in: \(message)")
        }
        for allowed in ["imagenet", "corpora"] {
            XCTAssertFalse(message.contains(allowed), "\(allowed) in: \(message)")
        }
        XCTAssertTrue(message.contains("/files/private"), message)

        // The same pod with only the allowed volumes goes through.
        var document = try Self.fixture("forbidden-hostpath.review.json")
        let kept = ["imagenet", "corpora"]
        let volumes = document.value(at: ["request", "object", "spec", "volumes"])!.arrayValue!.filter { kept.contains($0["name"]!.stringValue!) }
        document.set(.array(volumes), at: ["request", "object", "spec", "volumes"])
        var container = document.value(at: ["request", "object", "spec", "containers"])!.arrayValue![0]
        container["volumeMounts"] = .array(container["volumeMounts"]!.arrayValue!.filter { kept.contains($0["name"]!.stringValue!) })
        document.set([container], at: ["request", "object", "spec", "containers"])
        let allowed = try await review(document, .validate)
        XCTAssertTrue(allowed.allowed, allowed.message ?? "")

        // With no allowed lists at all, even those are refused.
        let bare = try await review(document, .validate, webhook: webhook(policy: PodPolicy()))
        XCTAssertFalse(bare.allowed)
    }

    func testAPrivilegedPodIsRefusedUnlessTheOperatorAllowsIt() async throws {
        let answer = try await review("privileged-pod", .validate)
        XCTAssertFalse(answer.allowed)
        XCTAssertEqual(answer.code, 403)
        let message = try XCTUnwrap(answer.message)
        XCTAssertTrue(message.contains("pod \"dind-5f7b9c8d4-…\" (of ReplicaSet dind-5f7b9c8d4)"), message)
        for problem in ["hostNetwork", "container \"dind\" is privileged", "init container \"setup\" is privileged"] {
            XCTAssertTrue(message.contains(problem), "\(problem) in: \(message)")
        }
        XCTAssertFalse(message.contains("\"client\""), message)
        XCTAssertFalse(message.contains("/files/private"), "no advice about files for a pod that mounts nothing: \(message)")

        var lenient = Self.strictPolicy
        lenient.allowPrivileged = true
        let allowed = try await review("privileged-pod", .validate, webhook: webhook(policy: lenient))
        XCTAssertTrue(allowed.allowed, allowed.message ?? "")
    }

    func testANamespaceWithoutAUserGetsNoPods() async throws {
        var document = try Self.fixture("bare-pod.review.json")
        document.set("knot-zoe", at: ["request", "namespace"])
        for hook in [AdmissionWebhook.Hook.mutate, .validate] {
            let answer = try await review(document, hook)
            XCTAssertFalse(answer.allowed, hook.rawValue)
            XCTAssertEqual(answer.code, 403)
            XCTAssertEqual(answer.message, "namespace knot-zoe belongs to no Knot account, so Knot admits no pods in it")
        }
        // A users store that cannot be read admits nothing either (a pod is never created unmutated).
        for hook in [AdmissionWebhook.Hook.mutate, .validate] {
            let answer = try await review("bare-pod", hook, webhook: webhook(failing: true))
            XCTAssertFalse(answer.allowed, hook.rawValue)
            XCTAssertEqual(answer.code, 503)
        }
    }

    func testOnlyCreationIsMutatedAndChecked() async throws {
        let forbidden = try Self.fixture("forbidden-hostpath.review.json")
        let pod = forbidden.value(at: ["request", "object"])!
        for operation in ["UPDATE", "DELETE", "CONNECT"] {
            var document = forbidden
            document.set(.string(operation), at: ["request", "operation"])
            if operation == "DELETE" {
                document.set(.null, at: ["request", "object"])
                document.set(pod, at: ["request", "oldObject"])
            } else if operation == "UPDATE" {
                document.set(pod, at: ["request", "oldObject"])
            }
            for hook in [AdmissionWebhook.Hook.mutate, .validate] {
                let answer = try await review(document, hook)
                XCTAssertTrue(answer.allowed, "\(operation) \(hook.rawValue): \(answer.message ?? "")")
                XCTAssertEqual(answer.patch, [], "\(operation) \(hook.rawValue)")
            }
        }

        // `kubectl debug` adds an ephemeral container with an UPDATE of a subresource: a privileged one is refused.
        var debug = try Self.fixture("bare-pod.review.json")
        debug.set("UPDATE", at: ["request", "operation"])
        debug.set("ephemeralcontainers", at: ["request", "subResource"])
        var debugged = debug.value(at: ["request", "object"])!
        debug.set(debugged, at: ["request", "oldObject"])
        debugged.set([["name": "debugger-x2k4", "image": "busybox", "securityContext": ["privileged": true]]], at: ["spec", "ephemeralContainers"])
        debug.set(debugged, at: ["request", "object"])
        let refused = try await review(debug, .validate)
        XCTAssertFalse(refused.allowed)
        XCTAssertTrue(refused.message?.contains("ephemeral container \"debugger-x2k4\" is privileged") == true, refused.message ?? "")
        let mutated = try await review(debug, .mutate)
        XCTAssertTrue(mutated.allowed)
        XCTAssertEqual(mutated.patch, [])

        // Other kinds are not Knot's concern even in a user's namespace.
        var service = try Self.fixture("bare-pod.review.json")
        service.set(["group": "", "version": "v1", "kind": "Service"], at: ["request", "kind"])
        let other = try await review(service, .mutate)
        XCTAssertTrue(other.allowed)
        XCTAssertEqual(other.patch, [])
    }

    func testMalformedReviewsAreRefused() async throws {
        let hook = webhook()
        let valid = try Self.fixture("bare-pod.review.json")
        var wrongVersion = valid
        wrongVersion["apiVersion"] = "admission.k8s.io/v1beta1"
        var noUID = valid
        noUID.set(nil, at: ["request", "uid"])
        var noRequest = valid
        noRequest["request"] = nil
        var badObject = valid
        badObject.set("a pod", at: ["request", "object"])
        let bodies: [Data] = [
            Data("not json".utf8), Data("[1, 2]".utf8), try wrongVersion.jsonData(), try noUID.jsonData(), try noRequest.jsonData(),
            try badObject.jsonData(),
        ]
        for body in bodies {
            do {
                _ = try await hook.respond(to: body, hook: .mutate)
                XCTFail("accepted \(String(decoding: body, as: UTF8.self).prefix(80))")
            } catch is MalformedReview {
            }
        }
        // A pod the API server could never have sent is refused in the review, not with a crash.
        var garbled = valid
        garbled.set("everything", at: ["request", "object", "spec", "containers"])
        let answer = try await review(garbled, .mutate)
        XCTAssertFalse(answer.allowed)
        XCTAssertEqual(answer.code, 400)
    }

    // MARK: Pieces

    func testNamespacesAreRecognisedByName() {
        XCTAssertEqual(AdmissionWebhook.username(ofNamespace: "knot-ada"), "ada")
        XCTAssertEqual(AdmissionWebhook.username(ofNamespace: "knot-ada-lovelace"), "ada-lovelace")
        for other in ["default", "kube-system", "knot", "knot-", "knot-system", "knot-kube", "knot-Ada", "knot-ad--a", "xknot-ada", "knot-1ada"] {
            XCTAssertNil(AdmissionWebhook.username(ofNamespace: other), other)
        }
    }

    func testPathsAreComparedByComponents() throws {
        let policy = try PodPolicy.fromEnvironment([
            "KNOT_WEBHOOK_ALLOWED_HOST_PATHS": " /data/datasets/ , /scratch",
            "KNOT_WEBHOOK_ALLOWED_NFS": "NFS.example.org:/exports/datasets,[fd00::1]:/srv",
            "KNOT_WEBHOOK_ALLOW_PRIVILEGED": "1",
        ])
        XCTAssertEqual(policy.allowedHostPaths, [["data", "datasets"], ["scratch"]])
        XCTAssertEqual(policy.allowedNFS, [.init(server: "nfs.example.org", path: ["exports", "datasets"]), .init(server: "[fd00::1]", path: ["srv"])])
        XCTAssertTrue(policy.allowPrivileged)
        for good in ["/data/datasets", "/data/datasets/", "/data//datasets/./x", "/scratch/ada"] {
            XCTAssertTrue(policy.allowsHostPath(good), good)
        }
        for bad in ["/data/datasets-private", "/data", "/", "", "data/datasets", "/data/datasets/../../etc", "/scratchpad"] {
            XCTAssertFalse(policy.allowsHostPath(bad), bad)
        }
        XCTAssertTrue(policy.allowsNFS(server: "nfs.example.org", path: "/exports/datasets/corpora"))
        XCTAssertTrue(policy.allowsNFS(server: "[fd00::1]", path: "/srv"))
        XCTAssertFalse(policy.allowsNFS(server: "nfs.example.org", path: "/exports/datasets2"))
        XCTAssertFalse(policy.allowsNFS(server: "other.example.org", path: "/exports/datasets"))

        XCTAssertEqual(try PodPolicy.fromEnvironment([:]), PodPolicy())
        for (key, value) in [
            ("KNOT_WEBHOOK_ALLOWED_HOST_PATHS", "data"), ("KNOT_WEBHOOK_ALLOWED_HOST_PATHS", "/a/../b"),
            ("KNOT_WEBHOOK_ALLOWED_NFS", "server"), ("KNOT_WEBHOOK_ALLOWED_NFS", ":/path"), ("KNOT_WEBHOOK_ALLOWED_NFS", "server:relative"),
            ("KNOT_WEBHOOK_ALLOW_PRIVILEGED", "maybe"),
        ] {
            XCTAssertThrowsError(try PodPolicy.fromEnvironment([key: value]), "\(key)=\(value)")
        }
    }

    func testSettings() throws {
        let none = try AdmissionSettings.fromEnvironment([:])
        XCTAssertNil(none.certificatePath)
        XCTAssertNil(try none.tlsConfiguration())
        XCTAssertEqual(none.port, 9443)
        XCTAssertThrowsError(try AdmissionSettings.fromEnvironment(["KNOT_WEBHOOK_TLS_CERT": "/tmp/cert.pem"]))
        XCTAssertThrowsError(try AdmissionSettings.fromEnvironment(["KNOT_WEBHOOK_TLS_KEY": "/tmp/key.pem"]))
        XCTAssertThrowsError(try AdmissionSettings.fromEnvironment(["KNOT_WEBHOOK_PORT": "70000"]))
        let missing = try AdmissionSettings.fromEnvironment(["KNOT_WEBHOOK_TLS_CERT": "/nonexistent/c.pem", "KNOT_WEBHOOK_TLS_KEY": "/nonexistent/k.pem"])
        XCTAssertThrowsError(try missing.tlsConfiguration())
    }

    func testPointersAreEscaped() throws {
        XCTAssertEqual(JSONPointer.escape("knot.io/user~1"), "knot.io~1user~01")
        XCTAssertEqual(JSONPointer.path(["metadata", "annotations", "a/b"]), "/metadata/annotations/a~1b")
        let patched = try JSONPatch.apply(
            [.add(["metadata", "annotations", "knot.io/user~1"], "ada")], to: ["metadata": ["annotations": [:]]])
        XCTAssertEqual(patched, ["metadata": ["annotations": ["knot.io/user~1": "ada"]]])
    }

    // MARK: Over HTTPS

    /// The listener itself: TLS with a certificate made here, trusted by the client through its CA.
    func testTheWebhookAnswersOverHTTPS() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knot-admission-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let certificates = try LocalCertificates.ensure(folder: folder, domain: "localhost")
        var settings = try AdmissionSettings.fromEnvironment([
            "KNOT_WEBHOOK_TLS_CERT": certificates.certificate, "KNOT_WEBHOOK_TLS_KEY": certificates.privateKey,
            "KNOT_WEBHOOK_HOST": "127.0.0.1",
        ])
        settings.port = 0
        let port = PortBox()
        let app = try AdmissionServer.application(
            settings: settings, webhook: webhook(), logger: Logger(label: "test.admission"),
            onServerRunning: { channel in await port.set(channel.localAddress?.port ?? 0) })

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificates.caCertificate)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))

        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test.admission")))
        do {
            try await exercise(group: group, client: client, port: port, certificates: certificates)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func exercise(group: ServiceGroup, client: HTTPClient, port: PortBox, certificates: LocalCertificates.Paths) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await requests(client: client, port: try await port.wait())
            } catch {
                tasks.cancelAll()
                throw error
            }
            // Closing the client's kept-alive connections first lets the server stop at once.
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func requests(client: HTTPClient, port bound: Int) async throws {
        func post(_ path: String, _ body: Data, contentType: String = "application/json") async throws -> (Int, String?, Data) {
            var request = HTTPClientRequest(url: "https://localhost:\(bound)\(path)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(data: body))
            let response = try await client.execute(request, timeout: .seconds(10))
            let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            return (Int(response.status.code), response.headers.first(name: "Content-Type"), data)
        }

        let review = try Data(contentsOf: Self.fixtureURL("bare-pod.review.json"))
        let (status, type, body) = try await post(AdmissionServer.mutatePath, review)
        XCTAssertEqual(status, 200)
        XCTAssertEqual(type, "application/json")
        let answer = try Answer(try JSONDecoder().decode(JSONValue.self, from: body))
        XCTAssertEqual(answer.raw["response"]?["uid"], "5e0b7c1a-3d2f-4e6b-8a9c-0d1e2f3a4b5c")
        XCTAssertEqual(answer.raw["response"]?["patchType"], "JSONPatch")
        try assertPatched("bare-pod", answer)

        let (checked, _, checkedBody) = try await post(
            AdmissionServer.validatePath, try Data(contentsOf: Self.fixtureURL("forbidden-hostpath.review.json")))
        XCTAssertEqual(checked, 200)
        let refusal = try Answer(try JSONDecoder().decode(JSONValue.self, from: checkedBody))
        XCTAssertFalse(refusal.allowed)
        XCTAssertEqual(refusal.raw["response"]?["status"]?["code"], 403)
        XCTAssertNil(refusal.raw["response"]?["patch"])

        let (malformed, _, _) = try await post(AdmissionServer.validatePath, Data("{\"kind\": \"AdmissionReview\"}".utf8))
        XCTAssertEqual(malformed, 400)
        let (wrongType, _, _) = try await post(AdmissionServer.mutatePath, review, contentType: "text/plain")
        XCTAssertEqual(wrongType, 415)
    }

    /// Oversized bodies, through the router alone (over TLS, a connection
    /// answered before its upload ends takes the TLS shutdown timeout to close).
    func testBodiesOverTheLimitAreRefused() async throws {
        let app = Application(router: AdmissionServer.router(webhook()))
        try await app.test(.router) { client in
            try await client.execute(
                uri: AdmissionServer.mutatePath, method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: AdmissionWebhook.bodyLimit + 1)
            ) { response in
                XCTAssertEqual(response.status, .contentTooLarge)
            }
            // Just under the limit is read (and, being no review, refused as such).
            try await client.execute(
                uri: AdmissionServer.validatePath, method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: AdmissionWebhook.bodyLimit)
            ) { response in
                XCTAssertEqual(response.status, .badRequest)
            }
        }
    }

    // MARK: Helpers

    /// The parts of an answered AdmissionReview the tests look at, checked for the envelope every answer must have.
    struct Answer {
        var raw: JSONValue
        var allowed: Bool
        var patch: [PatchOperation]
        var code: Int64?
        var message: String?

        init(_ raw: JSONValue, uid: String? = nil) throws {
            self.raw = raw
            XCTAssertEqual(raw["apiVersion"], "admission.k8s.io/v1")
            XCTAssertEqual(raw["kind"], "AdmissionReview")
            let response = try XCTUnwrap(raw["response"])
            if let uid { XCTAssertEqual(response["uid"]?.stringValue, uid) }
            allowed = try XCTUnwrap(response["allowed"]?.boolValue)
            code = response["status"]?["code"]?.intValue
            message = response["status"]?["message"]?.stringValue
            if let encoded = response["patch"]?.stringValue {
                XCTAssertEqual(response["patchType"], "JSONPatch")
                let data = try XCTUnwrap(Data(base64Encoded: encoded))
                patch = try JSONDecoder().decode([PatchOperation].self, from: data)
                XCTAssertFalse(patch.isEmpty, "an empty patch is left out")
            } else {
                XCTAssertNil(response["patchType"])
                patch = []
            }
            if !allowed { XCTAssertNotNil(message, "a refusal says why") }
        }
    }

    func review(_ name: String, _ hook: AdmissionWebhook.Hook, webhook: AdmissionWebhook? = nil) async throws -> Answer {
        try await review(try Self.fixture("\(name).review.json"), hook, webhook: webhook)
    }

    func review(_ document: JSONValue, _ hook: AdmissionWebhook.Hook, webhook: AdmissionWebhook? = nil) async throws -> Answer {
        let data = try await (webhook ?? self.webhook()).respond(to: try document.jsonData(), hook: hook)
        return try Answer(try JSONDecoder().decode(JSONValue.self, from: data), uid: document["request"]?["uid"]?.stringValue)
    }

    /// The patch applied to the review's pod gives exactly the expected pod.
    func assertPatched(_ name: String, _ answer: Answer, file: StaticString = #filePath, line: UInt = #line) throws {
        let original = try XCTUnwrap(try Self.fixture("\(name).review.json").value(at: ["request", "object"]))
        let expected = try Self.fixture("\(name).expected.json")
        let patched = try JSONPatch.apply(answer.patch, to: original)
        if patched != expected {
            XCTFail(
                "\(name): the patched pod differs from the expected one\npatched:  \(String(decoding: try patched.jsonData(), as: UTF8.self))\nexpected: \(String(decoding: try expected.jsonData(), as: UTF8.self))",
                file: file, line: line)
        }
    }

    static func fixtureURL(_ file: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/admission").appendingPathComponent(file)
    }

    static func fixture(_ file: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: fixtureURL(file)))
    }
}

/// Which usernames the webhook asked the store about.
actor LookupLog {
    private(set) var names: [String] = []
    func record(_ name: String) { names.append(name) }
}

/// The port the server bound (it is started on port 0).
actor PortBox {
    private var port: Int?
    func set(_ value: Int) { port = value }
    func wait() async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        while port == nil {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
        return port!
    }
}

/// A small RFC 6902 applier, independent of the webhook's code: `add`,
/// `remove`, `replace` and `test`, with RFC 6901 pointers.
enum JSONPatch {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func apply(_ operations: [PatchOperation], to document: JSONValue) throws -> JSONValue {
        var document = document
        for operation in operations {
            let tokens = try pointer(operation.path)
            switch operation.op {
            case "add":
                document = try add(operation.value ?? .null, at: tokens[...], in: document, replacing: false)
            case "replace":
                _ = try value(at: tokens[...], in: document)
                document = try add(operation.value ?? .null, at: tokens[...], in: document, replacing: true)
            case "remove":
                document = try remove(at: tokens[...], in: document)
            case "test":
                guard try value(at: tokens[...], in: document) == operation.value else {
                    throw Failure(description: "test failed at \(operation.path)")
                }
            default:
                throw Failure(description: "operation \(operation.op) is not supported here")
            }
        }
        return document
    }

    static func pointer(_ path: String) throws -> [String] {
        guard !path.isEmpty else { return [] }
        guard path.hasPrefix("/") else { throw Failure(description: "\(path) does not start with /") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func value(at tokens: ArraySlice<String>, in document: JSONValue) throws -> JSONValue {
        guard let token = tokens.first else { return document }
        switch document {
        case .object(let fields):
            guard let child = fields[token] else { throw Failure(description: "no member \(token)") }
            return try value(at: tokens.dropFirst(), in: child)
        case .array(let items):
            guard let index = Int(token), items.indices.contains(index) else { throw Failure(description: "no item \(token)") }
            return try value(at: tokens.dropFirst(), in: items[index])
        default:
            throw Failure(description: "\(token) is inside a scalar")
        }
    }

    static func add(_ value: JSONValue, at tokens: ArraySlice<String>, in document: JSONValue, replacing: Bool) throws -> JSONValue {
        guard let token = tokens.first else { return value }
        let last = tokens.count == 1
        switch document {
        case .object(var fields):
            if last {
                fields[token] = value
            } else {
                guard let child = fields[token] else { throw Failure(description: "no member \(token) on the way") }
                fields[token] = try add(value, at: tokens.dropFirst(), in: child, replacing: replacing)
            }
            return .object(fields)
        case .array(var items):
            if last && token == "-" && !replacing {
                items.append(value)
            } else {
                guard let index = Int(token), index >= 0, index <= items.count, !(index == items.count && (replacing || !last)) else {
                    throw Failure(description: "array index \(token) is out of range")
                }
                if !last {
                    items[index] = try add(value, at: tokens.dropFirst(), in: items[index], replacing: replacing)
                } else if replacing {
                    items[index] = value
                } else {
                    items.insert(value, at: index)
                }
            }
            return .array(items)
        default:
            throw Failure(description: "\(token) is inside a scalar")
        }
    }

    static func remove(at tokens: ArraySlice<String>, in document: JSONValue) throws -> JSONValue {
        guard let token = tokens.first else { throw Failure(description: "cannot remove the whole document") }
        switch document {
        case .object(var fields):
            guard let child = fields[token] else { throw Failure(description: "no member \(token)") }
            fields[token] = tokens.count == 1 ? nil : try remove(at: tokens.dropFirst(), in: child)
            return .object(fields)
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else { throw Failure(description: "no item \(token)") }
            if tokens.count == 1 { items.remove(at: index) } else { items[index] = try remove(at: tokens.dropFirst(), in: items[index]) }
            return .array(items)
        default:
            throw Failure(description: "\(token) is inside a scalar")
        }
    }
}
