import Foundation
import KnotModels

/// A validated authorization request (OpenID Connect Core 3.1.2.1).
struct AuthorizationRequest: Sendable {
    var client: OAuthClient
    var redirectURI: String
    var state: String?
    var nonce: String?
    var scopes: [String]
    var codeChallenge: String?
    var prompt: Set<String>
    var maxAge: Int?
    /// Knot claims asked for in the ID token through the `claims` parameter.
    var idTokenClaims: [String]
    /// Set by identity itself when it sends the browser to log in again: the
    /// session must have been authenticated at or after this time.
    var authAfter: Date?
    /// Every parameter as received, to send the browser back here after login or consent.
    var parameters: FormParameters

    /// Why a request cannot go on.
    enum Failure: Error {
        /// The client or redirect URI cannot be trusted: show a page, never redirect.
        case page(String)
        /// Tell the client, at its verified redirect URI.
        case redirect(OAuthError, redirectURI: String, state: String?)
    }

    static func parse(_ parameters: FormParameters, clients: ClientRegistry) throws(Failure) -> AuthorizationRequest {
        guard let clientID = parameters["client_id"] else { throw .page("The request names no client (client_id).") }
        guard let client = clients.client(clientID) else { throw .page("The application asking you to sign in is not registered with Knot.") }
        guard let redirectURI = parameters["redirect_uri"] else { throw .page("The request has no redirect_uri.") }
        // Exact, byte-for-byte: no prefix, case or normalisation games.
        guard client.redirectURIs.contains(redirectURI) else {
            throw .page("The address this application wants to return to is not one it registered.")
        }
        let state = parameters["state"]
        func fail(_ error: OAuthError) -> Failure { .redirect(error, redirectURI: redirectURI, state: state) }

        if parameters["request"] != nil { throw fail(OAuthError("request_not_supported", "request objects are not supported")) }
        if parameters["request_uri"] != nil { throw fail(OAuthError("request_uri_not_supported", "request_uri is not supported")) }
        guard let responseType = parameters["response_type"] else { throw fail(.invalidRequest("response_type is missing")) }
        guard responseType == "code" else {
            throw fail(OAuthError("unsupported_response_type", "only response_type=code is supported"))
        }
        if let mode = parameters["response_mode"], mode != "query" {
            throw fail(.invalidRequest("only response_mode=query is supported"))
        }
        guard client.allows(grant: "authorization_code") else {
            throw fail(.unauthorizedClient("this client may not use the authorization code flow"))
        }
        guard let scopes = Scope.parse(parameters["scope"]) else { throw fail(.invalidScope("the scope names an unknown or repeated value")) }
        guard !scopes.isEmpty else { throw fail(.invalidScope("the request asks for no scope; openid is expected")) }
        guard scopes.allSatisfy(client.scopes.contains) else {
            throw fail(.invalidScope("this client may not ask for \(scopes.filter { !client.scopes.contains($0) }.joined(separator: " "))"))
        }

        let challenge = parameters["code_challenge"]
        let method = parameters["code_challenge_method"]
        switch (challenge, method) {
        case (nil, nil):
            if client.isPublic { throw fail(.invalidRequest("a public client must use PKCE (code_challenge with S256)")) }
        case (nil, _?):
            throw fail(.invalidRequest("code_challenge_method without code_challenge"))
        case (_?, "S256"?):
            break
        case (_?, _):
            throw fail(.invalidRequest("code_challenge_method must be S256; plain is not accepted"))
        }
        if let challenge, !Self.isPKCEValue(challenge, length: 43...43) {
            throw fail(.invalidRequest("code_challenge must be the 43-character base64url of a SHA-256"))
        }

        let prompt = Set((parameters["prompt"] ?? "").split(separator: " ").map(String.init))
        guard prompt.isSubset(of: ["none", "login", "consent", "select_account"]) else {
            throw fail(.invalidRequest("prompt must be some of none, login, consent"))
        }
        if prompt.contains("none") && prompt.count > 1 { throw fail(.invalidRequest("prompt=none cannot be combined")) }
        var maxAge: Int?
        if let text = parameters["max_age"] {
            guard let value = Int(text), value >= 0 else { throw fail(.invalidRequest("max_age must be a non-negative integer")) }
            maxAge = value
        }
        var claims: [String] = []
        if let text = parameters["claims"] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw fail(.invalidRequest("claims must be a JSON object"))
            }
            if let idToken = object["id_token"] as? [String: Any] {
                claims = idToken.keys.filter(UserClaims.knotNames.contains).sorted()
            }
        }
        var authAfter: Date?
        if let text = parameters["knot_auth_after"], let seconds = Double(text) { authAfter = Date(timeIntervalSince1970: seconds) }
        if let nonce = parameters["nonce"], nonce.count > 512 { throw fail(.invalidRequest("nonce is longer than 512 characters")) }
        if let state, state.count > 2048 { throw fail(.invalidRequest("state is longer than 2048 characters")) }

        return AuthorizationRequest(
            client: client, redirectURI: redirectURI, state: state, nonce: parameters["nonce"], scopes: scopes,
            codeChallenge: challenge, prompt: prompt, maxAge: maxAge, idTokenClaims: claims, authAfter: authAfter,
            parameters: parameters)
    }

    /// RFC 7636's unreserved characters, in the given length range.
    static func isPKCEValue(_ text: String, length: ClosedRange<Int>) -> Bool {
        length.contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
                    || byte == 0x2d || byte == 0x2e || byte == 0x5f || byte == 0x7e
            }
    }

    /// The parameters again as a query string, with some changed.
    func query(replacing changes: [String: String?] = [:]) -> String {
        var values = parameters.values
        for (name, value) in changes { values[name] = value }
        return Self.encode(values)
    }

    static func encode(_ values: [String: String]) -> String {
        values.sorted { $0.key < $1.key }.map { "\($0.key.percentEncodedComponent)=\($0.value.percentEncodedComponent)" }
            .joined(separator: "&")
    }

    /// The redirect URI with response parameters appended (keeping any query it has).
    static func redirect(_ uri: String, _ values: [String: String]) -> String {
        uri + (uri.contains("?") ? "&" : "?") + encode(values)
    }
}
