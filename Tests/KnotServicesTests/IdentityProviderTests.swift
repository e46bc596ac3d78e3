import Foundation
import KnotAuth
import XCTest

@testable import KnotIdentity

/// The provider's pure parts: parsing, validation and the arithmetic of
/// throttling. The flows themselves are driven end to end by authlib,
/// JupyterHub and the negative suite (Tests/EndToEnd/test_oidc_*.py).
final class IdentityProviderTests: XCTestCase {
    func testFormParametersRefuseRepeatsAndBadEncoding() throws {
        let parsed = try FormParameters(encoded: "a=1&b=x+y%21&c=caf%C3%A9&empty=")
        XCTAssertEqual(parsed["a"], "1")
        XCTAssertEqual(parsed["b"], "x y!")
        XCTAssertEqual(parsed["c"], "café")
        XCTAssertNil(parsed["empty"], "empty values count as absent")
        for bad: Substring in ["a=1&a=2", "a=%zz", "a=%C3", "a=%", Substring("a=" + String(repeating: "x", count: 5000))] {
            XCTAssertThrowsError(try FormParameters(encoded: bad), String(bad.prefix(40)))
        }
        let many = (0..<100).map { "p\($0)=1" }.joined(separator: "&")
        XCTAssertThrowsError(try FormParameters(encoded: Substring(many)))
    }

    func testRedirectURIsMustBePlainHTTPSOrLoopback() {
        for good in ["https://app.example.org/cb", "https://app.example.org:8443/cb?x=1", "http://127.0.0.1:8000/hub/oauth_callback",
            "http://localhost/cb", "http://[::1]:9000/cb"]
        {
            XCTAssertNoThrow(try ClientRegistration.checkRedirect(good), good)
        }
        for bad in ["http://app.example.org/cb", "https://app.example.org/cb#frag", "https://user:pw@app.example.org/cb",
            "javascript:alert(1)", "https://*.example.org/cb", "/relative", "https://app.example.org/a b",
            "https://app.example.org/\\evil", "https://" + String(repeating: "a", count: 2100) + ".org/"]
        {
            XCTAssertThrowsError(try ClientRegistration.checkRedirect(bad), bad)
        }
    }

    func testRegistrationDefaultsAndRefusals() throws {
        let client = try ClientRegistration(clientID: "hub", redirectURIs: ["https://hub.example.org/cb"]).validated(configured: false)
        XCTAssertFalse(client.isPublic)
        XCTAssertEqual(client.grantTypes, ["authorization_code", "refresh_token"])
        XCTAssertEqual(client.idTokenAlgorithm, "RS256")
        XCTAssertEqual(client.scopes, Scope.all)
        XCTAssertThrowsError(try ClientRegistration(clientID: "x y").validated(configured: false))
        XCTAssertThrowsError(try ClientRegistration(clientID: "hub").validated(configured: false), "a code client needs a redirect URI")
        XCTAssertThrowsError(
            try ClientRegistration(clientID: "svc", isPublic: true, grantTypes: ["client_credentials"]).validated(configured: false))
        XCTAssertThrowsError(
            try ClientRegistration(clientID: "hub", redirectURIs: ["https://h/cb"], scopes: ["openid", "admin"]).validated(configured: false))
        XCTAssertThrowsError(
            try ClientRegistration(clientID: "hub", redirectURIs: ["https://h/cb"], idTokenAlgorithm: "HS256").validated(configured: false))
        XCTAssertThrowsError(
            try ClientRegistration(clientID: "hub", redirectURIs: ["https://h/cb"], accessTokenSeconds: 0).validated(configured: false))
    }

    func testSecretsCompareOnlyByDigest() {
        var client = try! ClientRegistration(clientID: "hub", redirectURIs: ["https://h/cb"]).validated(configured: false)
        client.secretHash = OAuthClient.digest("correct-secret-value")
        XCTAssertTrue(client.secretMatches("correct-secret-value"))
        XCTAssertFalse(client.secretMatches("correct-secret-valuE"))
        XCTAssertFalse(client.secretMatches(""))
    }

    func testThrottleDelaysGrowAndAreCapped() {
        XCTAssertEqual(LoginThrottle.delay(failures: 4, limit: 5, maxDelay: 900), 0)
        XCTAssertEqual(LoginThrottle.delay(failures: 5, limit: 5, maxDelay: 900), 15)
        XCTAssertEqual(LoginThrottle.delay(failures: 6, limit: 5, maxDelay: 900), 30)
        XCTAssertEqual(LoginThrottle.delay(failures: 8, limit: 5, maxDelay: 900), 120)
        XCTAssertEqual(LoginThrottle.delay(failures: 500, limit: 5, maxDelay: 900), 900)
        // Unknown names and real ones share one key space: the answer cannot tell them apart.
        XCTAssertEqual(LoginThrottle.keys(username: "Alice", address: "10.0.0.1").account, "account:alice")
        XCTAssertEqual(LoginThrottle.keys(username: "Alice", address: "10.0.0.1").address, "address:10.0.0.1")
    }

    func testPKCEValuesFollowRFC7636() {
        XCTAssertTrue(AuthorizationRequest.isPKCEValue(String(repeating: "a", count: 43), length: 43...128))
        XCTAssertTrue(AuthorizationRequest.isPKCEValue("abc-._~XYZ019" + String(repeating: "q", count: 30), length: 43...128))
        XCTAssertFalse(AuthorizationRequest.isPKCEValue(String(repeating: "a", count: 42), length: 43...128))
        XCTAssertFalse(AuthorizationRequest.isPKCEValue(String(repeating: "a", count: 129), length: 43...128))
        XCTAssertFalse(AuthorizationRequest.isPKCEValue(String(repeating: "a", count: 42) + "+", length: 43...128))
    }

    func testScopesParse() {
        XCTAssertEqual(Scope.parse("openid  profile"), ["openid", "profile"])
        XCTAssertNil(Scope.parse("openid openid"))
        XCTAssertNil(Scope.parse("openid admin"))
        XCTAssertEqual(Scope.parse(nil), [])
    }

    func testBase64URLMatchesFoundation() {
        for length in 0..<70 {
            let bytes = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
            let expected = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            XCTAssertEqual(Base64URL.encode(bytes), expected, "length \(length)")
        }
        XCTAssertEqual(SecretToken.make().utf8.count, 43)
        XCTAssertNotEqual(SecretToken.make(), SecretToken.make())
    }

    func testClientsFileIsValidatedWhole() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knot-clients-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("secret").path
        try "a-secret-from-a-file-0123\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let good = directory.appendingPathComponent("good.yaml").path
        try """
            clients:
              - client_id: jupyterhub
                secret_file: \(secretFile)
                redirect_uris: [https://jupyter.example.org/hub/oauth_callback]
                first_party: true
              - client_id: cli
                public: true
                redirect_uris: [http://127.0.0.1:8765/callback]
            """.write(toFile: good, atomically: true, encoding: .utf8)
        let clients = try ClientsFile(path: good).load()
        XCTAssertEqual(clients.map(\.clientID), ["jupyterhub", "cli"])
        XCTAssertTrue(clients[0].secretMatches("a-secret-from-a-file-0123"))
        XCTAssertTrue(clients.allSatisfy(\.configured))

        for (name, text) in [
            ("short", "clients:\n  - client_id: a1\n    secret: short\n    redirect_uris: [https://a/cb]\n"),
            ("both", "clients:\n  - client_id: a1\n    secret: long-enough-secret-1\n    secret_file: /x\n    redirect_uris: [https://a/cb]\n"),
            ("twice", "clients:\n  - {client_id: a1, public: true, redirect_uris: [https://a/cb]}\n  - {client_id: a1, public: true, redirect_uris: [https://a/cb]}\n"),
            ("public-secret", "clients:\n  - {client_id: a1, public: true, secret: long-enough-secret-1, redirect_uris: [https://a/cb]}\n"),
        ] {
            let path = directory.appendingPathComponent("\(name).yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ClientsFile(path: path).load(), name)
        }
    }
}

extension ClientRegistration {
    init(
        clientID: String, isPublic: Bool? = nil, redirectURIs: [String]? = nil, grantTypes: [String]? = nil, scopes: [String]? = nil,
        idTokenAlgorithm: String? = nil, accessTokenSeconds: Int? = nil
    ) {
        self.init(
            clientID: clientID, name: nil, isPublic: isPublic, firstParty: nil, redirectURIs: redirectURIs, postLogoutRedirectURIs: nil,
            grantTypes: grantTypes, scopes: scopes, accessTokenSeconds: accessTokenSeconds, idTokenAlgorithm: idTokenAlgorithm,
            introspectAny: nil, knotClaimsInIDToken: nil, secret: nil, secretFile: nil)
    }
}

final class ExampleClientsFileTests: XCTestCase {
    /// The example the docs point to must load as it stands (with its secret files present).
    func testTheDocumentedClientsFileLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try String(contentsOf: root.appendingPathComponent("docs/examples/oidc-clients.yaml"), encoding: .utf8)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knot-example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let rewritten = example.replacingOccurrences(of: "/run/secrets/knot-oidc/", with: directory.path + "/")
        for name in ["jupyterhub", "argo-workflows", "harbor", "grafana", "gitea", "oauth2-proxy"] {
            try "secret-for-\(name)-0123456789".write(toFile: directory.appendingPathComponent(name).path, atomically: true, encoding: .utf8)
        }
        let path = directory.appendingPathComponent("clients.yaml").path
        try rewritten.write(toFile: path, atomically: true, encoding: .utf8)
        let clients = try ClientsFile(path: path).load()
        XCTAssertEqual(clients.count, 7)
        XCTAssertEqual(clients.first { $0.clientID == "harbor" }?.redirectURIs, ["https://harbor.knot.example.org/c/oidc/callback"])
        XCTAssertTrue(clients.first { $0.clientID == "knotctl" }!.isPublic)
    }
}
