import Foundation
import Hummingbird
import HummingbirdTesting
import KnotKubernetes
import Logging
import XCTest

/// The client against a scripted HTTP server: each test says exactly what the
/// "API server" answers, and checks what the client made of it and what it sent.
final class KubernetesClientTests: XCTestCase {
    /// Records requests and hands out scripted answers in order, per path.
    actor Script {
        var answers: [String: [(status: HTTPResponse.Status, headers: HTTPFields, body: String)]] = [:]
        var seen: [String] = []

        func add(_ path: String, _ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) {
            answers[path, default: []].append((status, headers, body))
        }

        func next(_ request: Request) -> Response {
            let path = request.uri.path
            seen.append(request.uri.description)
            guard var queue = answers[path], !queue.isEmpty else {
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: Self.status(404, "NotFound", "no script for \(path)"))))
            }
            let answer = queue.count > 1 ? queue.removeFirst() : queue[0]
            answers[path] = queue
            var headers = answer.headers
            headers[.contentType] = "application/json"
            return Response(status: answer.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }

        static func status(_ code: Int, _ reason: String, _ message: String, causes: String = "") -> String {
            #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"\#(reason)","details":{\#(causes)},"code":\#(code)}"#
        }
    }

    func withServer(_ script: Script, retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(10)), _ body: @escaping @Sendable (KubernetesClient) async throws -> Void) async throws {
        let router = Router()
        router.on("**", method: .get) { request, _ in await script.next(request) }
        router.on("**", method: .post) { request, _ in await script.next(request) }
        router.on("**", method: .patch) { request, _ in await script.next(request) }
        router.on("**", method: .delete) { request, _ in await script.next(request) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let configuration = KubernetesConfiguration(server: "http://127.0.0.1:\(client.port!)", credentials: .token("t"))
            let kube = try KubernetesClient(configuration: configuration, retry: retry, logger: Logger(label: "test"))
            do {
                try await body(kube)
            } catch {
                try? await kube.shutdown()
                throw error
            }
            try await kube.shutdown()
        }
    }

    func testDecodesTypedObjectsAndListsWithNullItems() async throws {
        let script = Script()
        await script.add(
            "/apis/apps/v1/namespaces/knot-ada/deployments/web", .ok,
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"knot-ada","resourceVersion":"7","labels":{"a":"b"}},"spec":{"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}},"status":{"replicas":2,"readyReplicas":1,"conditions":[{"type":"Available","status":"False"}]}}"#
        )
        await script.add("/api/v1/namespaces/knot-ada/pods", .ok, #"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":null}"#)
        try await withServer(script) { kube in
            let deployment = try await kube.get(Deployment.self, "web", namespace: "knot-ada")
            XCTAssertEqual(deployment.spec?.replicas, 2)
            XCTAssertEqual(deployment.status?.readyReplicas, 1)
            XCTAssertEqual(deployment.metadata.labels, ["a": "b"])
            XCTAssertEqual(deployment.spec?.template?.spec?["containers"]?.arrayValue?.first?["image"], "nginx")
            let pods = try await kube.list(Pod.self, namespace: "knot-ada")
            XCTAssertEqual(pods.items.count, 0)
            XCTAssertEqual(pods.metadata.resourceVersion, "9")
        }
    }

    func testStatusObjectsBecomeTypedErrorsAndFourHundredsAreNotRetried() async throws {
        let script = Script()
        await script.add("/api/v1/namespaces/x/configmaps/gone", .notFound, Script.status(404, "NotFound", #"configmaps \"gone\" not found"#))
        await script.add(
            "/api/v1/namespaces/x/configmaps", .conflict, Script.status(409, "AlreadyExists", #"configmaps \"c\" already exists"#))
        await script.add(
            "/api/v1/namespaces/x/configmaps/bad", .init(code: 422),
            Script.status(422, "Invalid", "ConfigMap is invalid", causes: #""causes":[{"field":"metadata.name","message":"a lowercase RFC 1123 subdomain"}]"#))
        await script.add("/api/v1/namespaces/x/secrets/s", .forbidden, Script.status(403, "Forbidden", "secrets is forbidden"))
        await script.add("/api/v1/namespaces/x/secrets/u", .unauthorized, "")
        await script.add("/api/v1/namespaces/x/secrets/c", .conflict, Script.status(409, "Conflict", "the object has been modified"))
        try await withServer(script) { kube in
            func reason(_ operation: () async throws -> Void) async -> KubernetesAPIError? {
                do {
                    try await operation()
                    return nil
                } catch {
                    return error as? KubernetesAPIError
                }
            }
            let notFound = await reason { _ = try await kube.get(ConfigMap.self, "gone", namespace: "x") }
            XCTAssertEqual(notFound?.reason, .notFound)
            XCTAssertEqual(notFound?.message, #"configmaps "gone" not found"#)
            let missing = try await kube.getIfPresent(ConfigMap.self, "gone", namespace: "x")
            XCTAssertNil(missing)
            let exists = await reason { _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "c", namespace: "x"))) }
            XCTAssertEqual(exists?.reason, .alreadyExists)
            let invalid = await reason { _ = try await kube.get(ConfigMap.self, "bad", namespace: "x") }
            XCTAssertEqual(invalid?.reason, .invalid)
            XCTAssertEqual(invalid?.causes, ["metadata.name: a lowercase RFC 1123 subdomain"])
            let forbidden = await reason { _ = try await kube.get(Secret.self, "s", namespace: "x") }
            XCTAssertEqual(forbidden?.reason, .forbidden)
            let unauthorized = await reason { _ = try await kube.get(Secret.self, "u", namespace: "x") }
            XCTAssertEqual(unauthorized?.reason, .unauthorized)
            XCTAssertTrue(unauthorized?.message.contains("credentials") ?? false)
            let conflict = await reason { _ = try await kube.get(Secret.self, "c", namespace: "x") }
            XCTAssertEqual(conflict?.reason, .conflict)
        }
        let seen = await script.seen
        XCTAssertEqual(seen.filter { $0.hasPrefix("/api/v1/namespaces/x/configmaps/gone") }.count, 2, "a 404 is asked once per call")
        XCTAssertEqual(seen.filter { $0.hasPrefix("/api/v1/namespaces/x/configmaps/bad") }.count, 1)
    }

    func testRetriesTooManyRequestsAndServerErrorsHonouringRetryAfter() async throws {
        let script = Script()
        let path = "/api/v1/namespaces/busy"
        await script.add(path, .serviceUnavailable, Script.status(503, "ServiceUnavailable", "etcd is away"))
        await script.add(path, .tooManyRequests, Script.status(429, "TooManyRequests", "slow down"), headers: [.retryAfter: "1"])
        await script.add(path, .ok, #"{"metadata":{"name":"busy"},"status":{"phase":"Active"}}"#)
        await script.add("/api/v1/namespaces/down", .internalServerError, Script.status(500, "InternalError", "broken"))
        try await withServer(script) { kube in
            let started = ContinuousClock.now
            let namespace = try await kube.get(Namespace.self, "busy")
            XCTAssertEqual(namespace.status?.phase, "Active")
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(950), "Retry-After: 1 was honoured")
            do {
                _ = try await kube.get(Namespace.self, "down")
                XCTFail("a server that keeps failing is an error in the end")
            } catch let error as KubernetesAPIError {
                XCTAssertEqual(error.reason, .internalError)
            }
        }
        let seen = await script.seen
        XCTAssertEqual(seen.filter { $0 == path }.count, 3)
        XCTAssertEqual(seen.filter { $0 == "/api/v1/namespaces/down" }.count, RetryPolicy.standard.maxAttempts)
    }

    func testUnreachableServerIsOneClearError() async throws {
        let configuration = KubernetesConfiguration(server: "http://127.0.0.1:1", credentials: .token("t"))
        let kube = try KubernetesClient(configuration: configuration, retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10)))
        let started = ContinuousClock.now
        do {
            try await kube.checkAccess()
            XCTFail("nothing listens on port 1")
        } catch let error as KubernetesTransportError {
            XCTAssertTrue(error.description.contains("cannot reach the Kubernetes API at http://127.0.0.1:1"), error.description)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "a readiness probe answers within its own deadline")
        try await kube.shutdown()
    }

    func testWatchResumesFromTheLastVersionAndListsAgainWhenGone() async throws {
        let script = Script()
        let path = "/api/v1/namespaces/w/configmaps"
        func item(_ name: String, _ version: Int) -> String {
            #"{"metadata":{"name":"\#(name)","namespace":"w","resourceVersion":"\#(version)"}}"#
        }
        // First list, first watch (ends after one event), second watch (gone), second list, third watch.
        await script.add(path, .ok, #"{"metadata":{"resourceVersion":"10"},"items":[\#(item("a", 5))]}"#)
        await script.add(path, .ok, #"{"type":"ADDED","object":\#(item("b", 11))}"# + "\n")
        await script.add(path, .ok, #"{"type":"ERROR","object":\#(Script.status(410, "Expired", "too old resource version: 11 (15)"))}"# + "\n")
        await script.add(path, .ok, #"{"metadata":{"resourceVersion":"20"},"items":[\#(item("a", 5)),\#(item("b", 11)),\#(item("c", 19))]}"#)
        await script.add(
            path, .ok,
            #"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"25"}}}"# + "\n" + #"{"type":"MODIFIED","object":\#(item("c", 26))}"#
                + "\n" + #"{"type":"DELETED","object":\#(item("a", 27))}"# + "\n")
        try await withServer(script) { kube in
            var events: [String] = []
            for try await event in kube.watch(ConfigMap.self, namespace: "w") {
                switch event {
                case .listed(let items, let version): events.append("listed \(items.map(\.name).joined(separator: ",")) @\(version)")
                case .added(let map): events.append("added \(map.name)")
                case .modified(let map): events.append("modified \(map.name)")
                case .deleted(let map): events.append("deleted \(map.name)")
                case .bookmark(let version): events.append("bookmark \(version)")
                }
                if events.count == 6 { break }
            }
            XCTAssertEqual(events, ["listed a @10", "added b", "listed a,b,c @20", "bookmark 25", "modified c", "deleted a"])
        }
        let watches = await script.seen.filter { $0.contains("watch=true") }
        XCTAssertTrue(watches[0].contains("resourceVersion=10"), watches[0])
        XCTAssertTrue(watches[1].contains("resourceVersion=11"), "resumed after the last event: \(watches[1])")
        XCTAssertTrue(watches[2].contains("resourceVersion=20"), "after 410, from the new list: \(watches[2])")
        XCTAssertTrue(watches.allSatisfy { $0.contains("allowWatchBookmarks=true") })
    }

    func testPathsAreEncodedSoNoNameEscapesItsCollection() {
        XCTAssertEqual(
            ResourceKind.configMap.path(namespace: "a", name: "../../secrets/x"), "/api/v1/namespaces/a/configmaps/..%2F..%2Fsecrets%2Fx")
        XCTAssertEqual(ResourceKind.deployment.path(namespace: "n", name: "web", subresource: "scale"), "/apis/apps/v1/namespaces/n/deployments/web/scale")
        XCTAssertEqual(ResourceKind.namespace.path(namespace: "ignored", name: "n"), "/api/v1/namespaces/n")
    }
}

final class ManifestAndConfigurationTests: XCTestCase {
    func testYAMLReadsAsKubernetesDoes() throws {
        let documents = try JSONValue.documents(
            fromYAML: """
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: a}
                data:
                  flag: yes
                  quoted: "yes"
                  when: 2024-01-01
                  port: 8080
                  ratio: 0.5
                ---
                # only a comment
                ---
                apiVersion: v1
                kind: Service
                """)
        XCTAssertEqual(documents.count, 2)
        XCTAssertEqual(documents[0]["data"]?["flag"], .bool(true))
        XCTAssertEqual(documents[0]["data"]?["quoted"], "yes")
        XCTAssertEqual(documents[0]["data"]?["when"], "2024-01-01")
        XCTAssertEqual(documents[0]["data"]?["port"], .int(8080))
        XCTAssertEqual(documents[0]["data"]?["ratio"], .double(0.5))
        XCTAssertThrowsError(try JSONValue.documents(fromYAML: "a: [unclosed"))
        XCTAssertThrowsError(try UnstructuredObject.objects(fromYAML: "kind: Pod\nmetadata: {name: x}")) { error in
            XCTAssertTrue("\(error)".contains("no apiVersion"), "\(error)")
        }
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("knot-kube-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    func testKubeconfigWithTokenAndRelativeCAFile() throws {
        let directory = try temporaryDirectory()
        try Self.pem.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: c
          cluster: {server: "https://10.0.0.1:6443/", certificate-authority: ca.crt}
        users:
        - name: u
          user: {token: abc}
        contexts:
        - name: dev
          context: {cluster: c, user: u, namespace: team}
        """.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
        let configuration = try KubernetesConfiguration.kubeconfig(paths: [directory + "/config"])
        XCTAssertEqual(configuration.server, "https://10.0.0.1:6443")
        XCTAssertEqual(configuration.credentials, .token("abc"))
        XCTAssertEqual(configuration.namespace, "team")
        XCTAssertEqual(configuration.certificateAuthorityPEM, Array(Self.pem.utf8))
    }

    func testKubeconfigProblemsAreOneClearSentenceEach() throws {
        let directory = try temporaryDirectory()
        func problem(_ text: String?, file: String = "config") -> String {
            let path = directory + "/" + file
            if let text { try? text.write(toFile: path, atomically: true, encoding: .utf8) }
            do {
                _ = try KubernetesConfiguration.kubeconfig(paths: [path])
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(problem(nil, file: "absent").contains("no such file"))
        XCTAssertTrue(problem("clusters: [unclosed").contains("not valid YAML"))
        let leaky = problem("users: [{name: u, user: {token: secret-abc}}]\nclusters: [unclosed")
        XCTAssertFalse(leaky.contains("secret-abc"), "the file's content is not echoed: \(leaky)")
        XCTAssertFalse(leaky.contains("\n"), "one line: \(leaky)")
        XCTAssertTrue(problem("- just\n- a list").contains("not a kubeconfig"))
        XCTAssertTrue(problem("").contains("empty"))
        let base = "clusters:\n- name: c\n  cluster: {server: https://k:6443}\nusers:\n- name: u\n  user: {token: t}\n"
        XCTAssertTrue(problem(base + "contexts:\n- name: a\n  context: {cluster: c, user: u}\n- name: b\n  context: {cluster: c, user: u}\n").contains("no current-context"))
        XCTAssertTrue(problem(base + "current-context: x\ncontexts: []").contains("context \"x\" is not defined"))
        XCTAssertTrue(problem(base + "current-context: a\ncontexts:\n- name: a\n  context: {cluster: nope, user: u}").contains("cluster \"nope\""))
        XCTAssertTrue(
            problem(
                "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: e}\nclusters:\n- name: c\n  cluster: {server: https://k}\nusers:\n- name: e\n  user:\n    exec: {command: aws}\n"
            ).contains("exec credential plugin"))
        XCTAssertTrue(
            problem("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: https://k, certificate-authority-data: \"%%%\"}\n")
                .contains("not valid base64"))
        XCTAssertTrue(
            problem("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: \"ftp://k\"}\n")
                .contains("not an http(s) URL"))
        // A directory where the file should be cannot be read, even by root.
        try FileManager.default.createDirectory(atPath: directory + "/dir", withIntermediateDirectories: true)
        XCTAssertTrue(problem(nil, file: "dir").contains("cannot be read"), problem(nil, file: "dir"))
    }

    func testInClusterReadsTheMountedAccountAndRereadsARotatedToken() throws {
        let directory = try temporaryDirectory()
        XCTAssertThrowsError(try KubernetesConfiguration.inCluster(environment: [:], directory: directory))
        XCTAssertThrowsError(try KubernetesConfiguration.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"], directory: directory)) {
            XCTAssertTrue("\($0)".contains("token"), "\($0)")
        }
        try "first".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        try Self.pem.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try "knot".write(toFile: directory + "/namespace", atomically: true, encoding: .utf8)
        let configuration = try KubernetesConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], directory: directory)
        XCTAssertEqual(configuration.server, "https://10.96.0.1:443")
        XCTAssertEqual(configuration.credentials, .tokenFile(directory + "/token"))
        XCTAssertEqual(configuration.namespace, "knot")
    }
}
