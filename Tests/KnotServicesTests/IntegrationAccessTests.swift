import Foundation
import KnotKubernetes
import KnotModels
import KnotRuntime
import Logging
import XCTest

@testable import KnotUsers

/// Argo's and Harbor's per-person objects, against the Kubernetes API double
/// (Tests/KubeAPIDouble) and the Harbor API double (Tests/HarborDouble),
/// both test-only stand-ins with their real counterparts' semantics.
final class IntegrationAccessTests: KubeDoubleTestCase {
    var harbor: HarborDoubleProcess!

    override func setUp() async throws {
        try await super.setUp()
        harbor = try HarborDoubleProcess()
    }

    override func tearDown() async throws {
        harbor?.stop()
        try await super.tearDown()
    }

    func runtime() throws -> KubernetesRuntime {
        KubernetesRuntime(client: try client(), settings: KubernetesRuntimeSettings(), logger: Logger(label: "integrations"))
    }

    func provision(_ username: String, on runtime: KubernetesRuntime) async throws {
        try await runtime.provision(RuntimeUser(username: username, namespace: "knot-\(username)", privateDirectory: "/f/private/\(username)", sharedDirectory: "/f/shared"))
        // The namespace controller adds `default` a moment later, as a cluster does.
        for _ in 0..<100 {
            if try await runtime.client.getIfPresent(ServiceAccount.self, "default", namespace: "knot-\(username)") != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("no default ServiceAccount in knot-\(username)")
    }

    // MARK: Argo

    func testArgoAccessIsOneNamespacesAccountRoleAndBinding() async throws {
        let runtime = try runtime()
        try await provision("ada", on: runtime)
        let client = runtime.client
        let access = ArgoAccess(username: "ada", namespace: "knot-ada")
        let made = try await IntegrationKeeper.apply(try access.objects(), with: client)
        XCTAssertEqual(made, [
            "created ServiceAccount/argo-ada", "created Secret/argo-ada.service-account-token", "created Role/knot-argo",
            "created RoleBinding/knot-argo",
        ])

        let account = try await client.get(.serviceAccount, "argo-ada", namespace: "knot-ada")
        XCTAssertEqual(account.annotations["workflows.argoproj.io/rbac-rule"], "preferred_username == 'ada'")
        XCTAssertEqual(account.annotations["workflows.argoproj.io/rbac-rule-precedence"], "10")
        let token = try await client.get(Secret.self, "argo-ada.service-account-token", namespace: "knot-ada")
        XCTAssertEqual(token.type, "kubernetes.io/service-account-token")
        XCTAssertEqual(token.metadata.annotations?["kubernetes.io/service-account.name"], "argo-ada")
        let role = try await client.get(Role.self, "knot-argo", namespace: "knot-ada")
        let rules = role.rules ?? []
        XCTAssertEqual(Set(rules.flatMap { $0.apiGroups ?? [] }), ["argoproj.io", ""])
        XCTAssertTrue(rules.contains { ($0.resources ?? []).contains("workflows") && $0.verbs.contains("create") })
        XCTAssertTrue(rules.contains { ($0.resources ?? []).contains("pods/log") && $0.verbs == ["get", "list", "watch"] })
        XCTAssertFalse(rules.contains { ($0.resources ?? []).contains("*") || $0.verbs.contains("*") || ($0.resources ?? []).contains("secrets") })
        let binding = try await client.get(RoleBinding.self, "knot-argo", namespace: "knot-ada")
        XCTAssertEqual(binding.roleRef.kind, "Role", "never a ClusterRole, never cluster-admin")
        XCTAssertEqual(binding.roleRef.name, "knot-argo")
        XCTAssertEqual(binding.subjects?.first?.name, "argo-ada")
        XCTAssertEqual(binding.subjects?.first?.namespace, "knot-ada")

        // Converged: a second round changes nothing; drift is repaired.
        let again = try await IntegrationKeeper.apply(try access.objects(), with: client)
        XCTAssertEqual(again, [])
        _ = try await client.mergePatch(
            ServiceAccount.self, "argo-ada", namespace: "knot-ada",
            patch: .object(["metadata": .object(["annotations": .object(["workflows.argoproj.io/rbac-rule": .string("true")])])]))
        let repaired = try await IntegrationKeeper.apply(try access.objects(), with: client)
        XCTAssertEqual(repaired, ["repaired ServiceAccount/argo-ada"])
        let fixed = try await client.get(.serviceAccount, "argo-ada", namespace: "knot-ada")
        XCTAssertEqual(fixed.annotations["workflows.argoproj.io/rbac-rule"], "preferred_username == 'ada'")

        // A team's namespace is for its members: the rule reads the groups claim.
        XCTAssertEqual(ArgoAccess(username: "lab", namespace: "knot-lab", team: true).rule, "'lab' in groups")

        // Deleting the person deletes the namespace, and everything above with it.
        try await runtime.deprovision(RuntimeUser(username: "ada", namespace: "knot-ada", privateDirectory: "/f/private/ada", sharedDirectory: "/f/shared"))
        let namespace = try await client.getIfPresent(Namespace.self, "knot-ada")
        XCTAssertTrue(namespace == nil || namespace?.metadata.deletionTimestamp != nil)
    }

    // MARK: Harbor

    func harborAccess(password: String = HarborDoubleProcess.password) -> HarborAccess {
        let tool = IntegrationSettings.Tool(url: harbor.url + "/", clientID: "harbor", clientSecretFile: "/unused")
        let settings = IntegrationSettings.Harbor(
            tool: tool, adminUsername: "admin", adminPassword: password, clientSecret: "harbor-client-secret", registryHost: "harbor.example.org")
        return HarborAccess(settings: settings, issuer: "https://knot.example.org")
    }

    func testHarborOIDCIsConfiguredThroughItsAPI() async throws {
        try await harborAccess().configureOIDC()
        let state = try harbor.json("/_double/state")
        let config = try XCTUnwrap((state["config"] as? [String: Any]))
        XCTAssertEqual(config["auth_mode"] as? String, "oidc_auth")
        XCTAssertEqual(config["oidc_endpoint"] as? String, "https://knot.example.org")
        XCTAssertEqual(config["oidc_client_id"] as? String, "harbor")
        XCTAssertEqual(config["oidc_client_secret"] as? String, "harbor-client-secret")
        XCTAssertEqual(config["oidc_scope"] as? String, "openid,profile,email,groups,offline_access")
        XCTAssertEqual(config["oidc_groups_claim"] as? String, "groups")
        XCTAssertEqual(config["oidc_admin_group"] as? String, "admin")
        XCTAssertEqual(config["oidc_user_claim"] as? String, "preferred_username")
        XCTAssertEqual(config["oidc_auto_onboard"] as? Bool, true)
        let requests = try harbor.requests()
        XCTAssertEqual(requests.map { "\($0["method"]!) \($0["path"]!)" }, ["PUT /api/v2.0/configurations"])

        // Wrong credentials: a clear failure, nothing changed.
        do {
            try await harborAccess(password: "wrong").configureOIDC()
            XCTFail("accepted a wrong password")
        } catch let failure as HarborClient.Failure {
            XCTAssertEqual(failure.status, 401)
        }
    }

    func testHarborProjectMembershipAndPullSecret() async throws {
        let runtime = try runtime()
        try await provision("bea", on: runtime)
        let client = runtime.client
        let access = harborAccess()

        // Before the first sign-in to Harbor: the project is made, and the rest waits.
        let first = try await access.reconcile(username: "bea", namespace: "knot-bea", kubernetes: client)
        XCTAssertEqual(first, .waitingForFirstLogin)
        let noSecret = try await client.getIfPresent(Secret.self, HarborAccess.pullSecretName, namespace: "knot-bea")
        XCTAssertNil(noSecret)

        try harbor.control("/_double/oidc-login", ["username": "bea"])
        let second = try await access.reconcile(username: "bea", namespace: "knot-bea", kubernetes: client)
        XCTAssertEqual(second, .ready(changes: [
            "made bea admin of Harbor project bea", "made bea developer of Harbor project library", "created Secret/knot-harbor",
            "added knot-harbor to ServiceAccount/knot-user", "added knot-harbor to ServiceAccount/default",
        ]))
        let state = try harbor.json("/_double/state")
        let projects = try XCTUnwrap(state["projects"] as? [String: [String: Any]])
        XCTAssertEqual(projects["bea"]?["public"] as? String, "false")
        XCTAssertEqual((projects["bea"]?["members"] as? [String: Int])?["bea"], 1)
        XCTAssertEqual((projects["library"]?["members"] as? [String: Int])?["bea"], 2)
        let users = try XCTUnwrap(state["users"] as? [String: [String: Any]])
        let cliSecret = try XCTUnwrap(users["bea"]?["secret"] as? String)

        let secret = try await client.get(Secret.self, HarborAccess.pullSecretName, namespace: "knot-bea")
        XCTAssertEqual(secret.type, "kubernetes.io/dockerconfigjson")
        let config = try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(secret.decodedValue(".dockerconfigjson")).utf8)) as? [String: Any]
        let auth = try XCTUnwrap((config?["auths"] as? [String: [String: String]])?["harbor.example.org"])
        XCTAssertEqual(auth["username"], "bea")
        XCTAssertEqual(auth["password"], cliSecret)
        XCTAssertEqual(auth["auth"], Data("bea:\(cliSecret)".utf8).base64EncodedString())
        for account in HarborAccess.pullingAccounts {
            let object = try await client.get(.serviceAccount, account, namespace: "knot-bea")
            XCTAssertEqual(object["imagePullSecrets"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["knot-harbor"], account)
        }

        // The space's own round (field manager knot) leaves the pull secret reference alone.
        _ = try await runtime.reconcile(RuntimeUser(username: "bea", namespace: "knot-bea", privateDirectory: "/f/private/bea", sharedDirectory: "/f/shared"))
        let kept = try await client.get(.serviceAccount, KubernetesRuntimeSettings.userAccount, namespace: "knot-bea")
        XCTAssertEqual(kept["imagePullSecrets"]?.arrayValue?.count, 1)

        // Nothing changed: nothing is written.
        let version = try await client.get(Secret.self, HarborAccess.pullSecretName, namespace: "knot-bea").metadata.resourceVersion
        let third = try await access.reconcile(username: "bea", namespace: "knot-bea", kubernetes: client)
        XCTAssertEqual(third, .ready(changes: []))
        let unchanged = try await client.get(Secret.self, HarborAccess.pullSecretName, namespace: "knot-bea").metadata.resourceVersion
        XCTAssertEqual(version, unchanged)

        // A new CLI secret: the Secret follows.
        try harbor.control("/_double/rotate-secret", ["username": "bea"])
        let fourth = try await access.reconcile(username: "bea", namespace: "knot-bea", kubernetes: client)
        XCTAssertEqual(fourth, .ready(changes: ["updated Secret/knot-harbor"]))
        let rotated = try await client.get(Secret.self, HarborAccess.pullSecretName, namespace: "knot-bea")
        XCTAssertFalse(try XCTUnwrap(rotated.decodedValue(".dockerconfigjson")).contains(cliSecret))

        // Every call Knot made is one Harbor has, with the admin's credentials.
        let requests = try harbor.requests()
        XCTAssertTrue(requests.allSatisfy { $0["user"] as? String == "admin" })
        let calls = Set(requests.map { "\($0["method"]!) \($0["path"]!)" })
        XCTAssertEqual(calls, [
            "POST /api/v2.0/projects", "GET /api/v2.0/users/search", "POST /api/v2.0/projects/bea/members",
            "POST /api/v2.0/projects/library/members", "GET /api/v2.0/users/2",
        ])
        let member = try XCTUnwrap(requests.first { $0["path"] as? String == "/api/v2.0/projects/library/members" })
        XCTAssertEqual(member["body"] as? NSDictionary, ["role_id": 2, "member_user": ["username": "bea"]] as NSDictionary)
    }

    func testAnUnreachableHarborIsAnErrorNotACrash() async throws {
        let tool = IntegrationSettings.Tool(url: "http://127.0.0.1:9/", clientID: "harbor", clientSecretFile: "/unused")
        let access = HarborAccess(
            settings: .init(tool: tool, adminUsername: "admin", adminPassword: "x", clientSecret: "s", registryHost: "h"), issuer: "https://k")
        do {
            _ = try await access.reconcile(username: "cy", namespace: "knot-cy", kubernetes: nil)
            XCTFail("no error")
        } catch let failure as HarborClient.Failure {
            XCTAssertEqual(failure.status, 0)
            XCTAssertTrue(failure.description.contains("cannot be reached"))
        }
    }
}

/// Starts Tests/HarborDouble/harbor_double.py (test only) and talks to its control endpoints.
final class HarborDoubleProcess: @unchecked Sendable {
    static let password = "Harbor12345"
    let url: String
    private let process = Process()

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", KubeDouble.repositoryRoot + "/Tests/HarborDouble/harbor_double.py", "--quiet", "--password", Self.password]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY ") else { throw KubeDouble.RuntimeFailure("the Harbor double did not start: \(text)") }
        url = String(text.dropFirst("READY ".count))
    }

    func stop() {
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        // The test process may block SIGTERM, and children inherit the mask.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    private func curl(_ arguments: [String]) throws -> Data {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sS", "--fail-with-body"] + arguments
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        guard curl.terminationStatus == 0 else { throw KubeDouble.RuntimeFailure("curl \(arguments): \(String(decoding: data, as: UTF8.self))") }
        return data
    }

    func control(_ path: String, _ body: [String: String]) throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        _ = try curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", json, url + path])
    }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try curl([url + path])) as? [String: Any] ?? [:]
    }

    func requests() throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: try curl([url + "/_double/requests"])) as? [[String: Any]] ?? []
    }
}
