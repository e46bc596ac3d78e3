import Foundation
import XCTest

@testable import KnotUsers

/// The integrated tools' settings and the configuration Knot generates for
/// them (Services/Users/Integrations): pure functions, no processes but a
/// `python3` that checks the generated jupyterhub_config.py compiles.
final class IntegrationConfigTests: XCTestCase {
    let issuer = "https://knot.example.org"

    func settings(_ environment: [String: String]) throws -> IntegrationSettings {
        try IntegrationSettings.from(environment, issuer: issuer)
    }

    func testNothingIsConfiguredWithoutURLs() throws {
        let none = try settings([:])
        XCTAssertTrue(none.isEmpty)
        XCTAssertEqual(IntegrationsAPI.links(none, namespace: "knot-ada"), [])
        for tool in IntegrationsAPI.generated { XCTAssertNil(IntegrationsAPI.config(none, tool: tool), tool) }
    }

    func testBadValuesStopStartUpNamingTheKey() {
        let cases: [([String: String], String)] = [
            (["KNOT_JUPYTERHUB_URL": "jupyter.example.org"], "KNOT_JUPYTERHUB_URL"),
            (["KNOT_ARGO_URL": "http://argo.example.org/"], "KNOT_ARGO_URL"),
            (["KNOT_GRAFANA_URL": "ftp://grafana.example.org/"], "KNOT_GRAFANA_URL"),
            (["KNOT_GITEA_URL": "https://user:pw@gitea.example.org/"], "KNOT_GITEA_URL"),
            (["KNOT_GITEA_URL": "https://gitea.example.org/?x=1"], "KNOT_GITEA_URL"),
            (["KNOT_JUPYTERHUB_URL": "https://j.example.org/\"+__import__('os')"], "KNOT_JUPYTERHUB_URL"),
            (["KNOT_JUPYTERHUB_URL": "https://j.example.org/", "KNOT_JUPYTERHUB_CLIENT_ID": "a b"], "KNOT_JUPYTERHUB_CLIENT_ID"),
            (["KNOT_JUPYTERHUB_URL": "https://j.example.org/", "KNOT_JUPYTERHUB_CLIENT_SECRET_FILE": "relative"], "KNOT_JUPYTERHUB_CLIENT_SECRET_FILE"),
            (["KNOT_HARBOR_URL": "https://harbor.example.org/"], "KNOT_HARBOR_ADMIN_USERNAME"),
            (["KNOT_HARBOR_URL": "https://harbor.example.org/", "KNOT_HARBOR_ADMIN_USERNAME": "admin"], "KNOT_HARBOR_ADMIN_PASSWORD"),
            (["KNOT_CULL_IDLE_MINUTES": "-1"], "KNOT_CULL_IDLE_MINUTES"),
            (["KNOT_JUPYTERHUB_IMAGE": "x\" y"], "KNOT_JUPYTERHUB_IMAGE"),
        ]
        for (environment, key) in cases {
            XCTAssertThrowsError(try settings(environment), "\(environment)") { error in
                XCTAssertTrue("\(error)".contains(key), "\(error) should name \(key)")
            }
        }
        // http is fine on loopback only (a tool on the same machine).
        XCTAssertEqual(try settings(["KNOT_JUPYTERHUB_URL": "http://127.0.0.1:8000"]).jupyterhub?.url, "http://127.0.0.1:8000/")
    }

    func testTheMenuListsConfiguredToolsPersonalised() throws {
        let all = try settings([
            "KNOT_JUPYTERHUB_URL": "https://jupyter.example/", "KNOT_ARGO_URL": "https://argo.example",
            "KNOT_HARBOR_URL": "https://harbor.example/", "KNOT_HARBOR_ADMIN_USERNAME": "admin", "KNOT_HARBOR_ADMIN_PASSWORD": "pw",
            "KNOT_HARBOR_CLIENT_SECRET": "s", "KNOT_GITEA_URL": "https://gitea.example/", "KNOT_GRAFANA_URL": "https://grafana.example/",
        ])
        let links = IntegrationsAPI.links(all, namespace: "knot-alice")
        XCTAssertEqual(links.map(\.id), ["notebooks", "workflows", "images", "code", "metrics"])
        XCTAssertEqual(links[0].url, "https://jupyter.example/hub/")
        XCTAssertEqual(links[1].url, "https://argo.example/workflows/knot-alice")
        XCTAssertEqual(all.harbor?.registryHost, "harbor.example")
        let some = try settings(["KNOT_GRAFANA_URL": "https://grafana.example/"])
        XCTAssertEqual(IntegrationsAPI.links(some, namespace: "knot-alice").map(\.tool), ["grafana"])
    }

    func testJupyterHubConfiguration() throws {
        let settings = try settings([
            "KNOT_JUPYTERHUB_URL": "https://jupyter.example.org", "KNOT_JUPYTERHUB_CLIENT_SECRET_FILE": "/run/secrets/hub",
            "KNOT_CULL_IDLE_MINUTES": "90", "KNOT_MAX_LIFETIME_HOURS": "24", "KNOT_INTEGRATIONS_CA_FILE": "/etc/knot/ca.pem",
        ])
        let text = try XCTUnwrap(IntegrationsAPI.config(settings, tool: "jupyterhub"))
        for line in [
            "c.JupyterHub.authenticator_class = \"generic-oauth\"",
            "c.GenericOAuthenticator.client_id = \"jupyterhub\"",
            "with open(\"/run/secrets/hub\") as _secret:",
            "c.GenericOAuthenticator.oauth_callback_url = \"https://jupyter.example.org/hub/oauth_callback\"",
            "c.GenericOAuthenticator.authorize_url = \"https://knot.example.org/auth/oidc/authorize\"",
            "c.GenericOAuthenticator.token_url = \"https://knot.example.org/auth/oidc/token\"",
            "c.GenericOAuthenticator.userdata_url = \"https://knot.example.org/auth/oidc/userinfo\"",
            "c.GenericOAuthenticator.enable_pkce = True",
            "c.GenericOAuthenticator.username_claim = \"preferred_username\"",
            "c.GenericOAuthenticator.claim_groups_key = \"groups\"",
            "c.GenericOAuthenticator.admin_groups = {\"admin\"}",
            "c.GenericOAuthenticator.manage_groups = True",
            "c.GenericOAuthenticator.http_request_kwargs = {\"ca_certs\": \"/etc/knot/ca.pem\"}",
            "c.JupyterHub.spawner_class = \"kubespawner.KubeSpawner\"",
            "c.KubeSpawner.namespace = \"knot-{username}\"",
            "c.KubeSpawner.user_namespace_template = \"knot-{username}\"",
            "c.KubeSpawner.notebook_dir = \"/files/private/notebooks\"",
            "\"command\": [sys.executable, \"-m\", \"jupyterhub_idle_culler\", \"--timeout=5400\", \"--max-age=86400\", \"--cull-every=600\"]",
        ] {
            XCTAssertTrue(text.contains(line), "missing: \(line)\n\(text)")
        }
        XCTAssertFalse(text.contains("client_secret = \""), "the secret is read from its file, never written")
        try assertPythonCompiles(text)

        // Culling off: no culler service.
        let quiet = try self.settings(["KNOT_JUPYTERHUB_URL": "https://jupyter.example.org"])
        XCTAssertFalse(try XCTUnwrap(IntegrationsAPI.config(quiet, tool: "jupyterhub")).contains("idle_culler"))
    }

    func testPythonLiteralsCannotCarryCode() throws {
        let hostile = "x\"; import os; os.system('id') #\n\\"
        let literal = python(hostile)
        // Run, not only compiled: the value read back is the text, and nothing else ran.
        try assertPythonCompiles("value = \(literal)\nassert value == \(python(hostile)), value\n", run: true)
        XCTAssertFalse(literal.contains("\n"))
    }

    func testGrafanaConfiguration() throws {
        let settings = try settings(["KNOT_GRAFANA_URL": "https://grafana.example.org/", "KNOT_GRAFANA_CLIENT_SECRET_FILE": "/s/grafana"])
        let text = try XCTUnwrap(IntegrationsAPI.config(settings, tool: "grafana"))
        for line in [
            "[auth.generic_oauth]", "enabled = true", "client_id = grafana", "client_secret = $__file{/s/grafana}",
            "scopes = openid profile email groups", "auth_url = https://knot.example.org/auth/oidc/authorize",
            "api_url = https://knot.example.org/auth/oidc/userinfo", "use_pkce = true", "login_attribute_path = preferred_username",
            "groups_attribute_path = groups", "role_attribute_path = contains(groups[*], 'admin') && 'GrafanaAdmin' || 'Editor'",
            "root_url = https://grafana.example.org/",
        ] {
            XCTAssertTrue(text.contains(line + "\n"), "missing: \(line)\n\(text)")
        }
    }

    func testGiteaConfiguration() throws {
        let settings = try settings(["KNOT_GITEA_URL": "https://gitea.example.org/"])
        let ini = try XCTUnwrap(IntegrationsAPI.config(settings, tool: "gitea"))
        XCTAssertTrue(ini.contains("[oauth2_client]\nENABLE_AUTO_REGISTRATION = true\n"), ini)
        XCTAssertTrue(ini.contains("OPENID_CONNECT_SCOPES = openid profile email groups\n"))
        let script = try XCTUnwrap(IntegrationsAPI.config(settings, tool: "gitea-setup"))
        XCTAssertTrue(script.contains("gitea admin auth add-oauth '--name' 'knot' '--provider' 'openidConnect' '--key' 'gitea'"), script)
        XCTAssertTrue(script.contains("'--auto-discover-url' 'https://knot.example.org/.well-known/openid-configuration'"))
        XCTAssertTrue(script.contains("'--admin-group' 'admin'"))
        XCTAssertTrue(script.contains("secret=\"$(cat '/run/secrets/knot-oidc/gitea')\""))
        // The script is valid shell.
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/sh")
        check.arguments = ["-n", "-c", script]
        try check.run()
        check.waitUntilExit()
        XCTAssertEqual(check.terminationStatus, 0)
    }

    func assertPythonCompiles(_ source: String, run: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("knot-\(UUID().uuidString).py").path
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = run ? ["python3", path] : ["python3", "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python3 cannot compile:\n\(source)", file: file, line: line)
    }
}
