import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import KnotAuth
import KnotErrors
import KnotModels
import KnotDatabase
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Sign-in at another OpenID Connect provider (authorization code with PKCE,
/// `client_secret_basic`). The person is found by an earlier link of the
/// upstream subject, or by a *verified* e-mail address; otherwise a new
/// inactive account is made for an administrator to activate. Built around
/// `UpstreamIdentity`, so another kind of connector (LDAP) only has to
/// produce one of those.
struct UpstreamLogin: Sendable {
    struct Settings: Sendable {
        var issuer: String
        var clientID: String
        var clientSecret: String
        var displayName: String
    }

    /// Who the upstream says signed in.
    struct UpstreamIdentity: Sendable {
        var issuer: String
        var subject: String
        var email: String?
        var emailVerified: Bool
        var preferredUsername: String?
        var name: String?
    }

    let settings: Settings
    let redirectURI: String
    let sealingKey: SymmetricKey
    let metadata: UpstreamMetadata
    var displayName: String { settings.displayName }

    static let cookieName = "knot_upstream"
    static let cookiePath = "/auth/upstream"

    init(settings: Settings, publicURL: String, secret: String) throws {
        try ClientRegistration.checkRedirect(settings.issuer)
        self.settings = settings
        self.redirectURI = publicURL + "/auth/upstream/callback"
        self.sealingKey = SymmetricKey(data: SHA256.hash(data: Data("knot-identity-upstream:\(secret)".utf8)))
        self.metadata = UpstreamMetadata(issuer: settings.issuer)
    }

    /// What the browser carries between start and callback, sealed so it can
    /// be neither read nor forged.
    struct Pending: Codable {
        var state: String
        var nonce: String
        var verifier: String
        var next: String
        var expires: Date
    }

    // MARK: start

    func start(_ request: Request, next: String) async throws -> Response {
        let discovery = try await metadata.discovery()
        let pending = Pending(
            state: SecretToken.make(), nonce: SecretToken.make(), verifier: SecretToken.make() + SecretToken.make(),
            next: next, expires: Date().addingTimeInterval(600))
        let challenge = Base64URL.encode(Data(SHA256.hash(data: Data(pending.verifier.utf8))))
        let location = AuthorizationRequest.redirect(
            discovery.authorizationEndpoint,
            [
                "response_type": "code", "client_id": settings.clientID, "redirect_uri": redirectURI, "scope": "openid profile email",
                "state": pending.state, "nonce": pending.nonce, "code_challenge": challenge, "code_challenge_method": "S256",
            ])
        let sealed = try AES.GCM.seal(try JSONEncoder().encode(pending), using: sealingKey).combined!
        return Response(
            status: .found,
            headers: [
                .location: location, .cacheControl: "no-store",
                .setCookie: "\(Self.cookieName)=\(Base64URL.encode(sealed)); Path=\(Self.cookiePath); Max-Age=600; HttpOnly; Secure; SameSite=Lax",
            ])
    }

    // MARK: callback

    enum Outcome {
        case signedIn(UserRecord, next: String)
        case waiting(UserRecord)
    }

    /// Checks everything the callback brings and finds (or makes) the account.
    func complete(_ request: Request, app: IdentityApp, logger: Logger) async throws -> Outcome {
        guard let sealed = request.cookies[Self.cookieName]?.value, let data = Data(base64URL: sealed),
            let box = try? AES.GCM.SealedBox(combined: data), let opened = try? AES.GCM.open(box, using: sealingKey),
            let pending = try? JSONDecoder().decode(Pending.self, from: opened), pending.expires > Date()
        else {
            throw KnotError.badRequest("this sign-in was not started in this browser, or it took too long; start again", code: "upstream_state")
        }
        let query = try FormParameters.query(of: request)
        guard let state = query["state"], SecretToken.equal(state.utf8, pending.state.utf8) else {
            throw KnotError.badRequest("the answer from \(displayName) does not belong to this sign-in", code: "upstream_state")
        }
        if let error = query["error"] {
            throw KnotError(.forbidden, code: "upstream_refused", message: "\(displayName) did not sign you in (\(error.prefix(60)))")
        }
        guard let code = query["code"] else { throw KnotError.badRequest("\(displayName) sent no code", code: "upstream_code") }
        let identity = try await exchange(code: code, pending: pending)
        return try await account(for: identity, next: pending.next, app: app, logger: logger)
    }

    /// The token request and the ID token's checks: signature against the
    /// upstream's keys, issuer, audience, expiry, nonce.
    func exchange(code: String, pending: Pending) async throws -> UpstreamIdentity {
        let discovery = try await metadata.discovery()
        var request = HTTPClientRequest(url: discovery.tokenEndpoint)
        request.method = .POST
        let credentials = "\(settings.clientID.percentEncodedComponent):\(settings.clientSecret.percentEncodedComponent)"
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(
            ByteBuffer(
                string: AuthorizationRequest.encode([
                    "grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI, "code_verifier": pending.verifier,
                ])))
        struct TokenAnswer: Decodable { var id_token: String? }
        let answer: TokenAnswer
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 256 * 1024)
            guard response.status == .ok else {
                throw KnotError(.badGateway, code: "upstream_token", message: "\(displayName) refused the sign-in code (\(response.status.code))")
            }
            answer = try JSONDecoder().decode(TokenAnswer.self, from: Data(buffer: body))
        } catch let error as KnotError {
            throw error
        } catch {
            throw KnotError(.badGateway, code: "upstream_unreachable", message: "\(displayName) could not be reached to finish the sign-in")
        }
        guard let idToken = answer.id_token else {
            throw KnotError(.badGateway, code: "upstream_token", message: "\(displayName) sent no ID token")
        }
        let claims = try await metadata.verify(idToken)
        guard claims.iss.value == settings.issuer, claims.aud.value.contains(settings.clientID), claims.nonce == pending.nonce else {
            throw KnotError(.badGateway, code: "upstream_token", message: "the ID token from \(displayName) is not for this sign-in")
        }
        return UpstreamIdentity(
            issuer: settings.issuer, subject: claims.sub.value, email: claims.email, emailVerified: claims.emailVerified ?? false,
            preferredUsername: claims.preferredUsername, name: claims.name)
    }

    /// Finds the Knot account of an upstream identity, or makes a pending one.
    func account(for identity: UpstreamIdentity, next: String, app: IdentityApp, logger: Logger) async throws -> Outcome {
        let links = UpstreamLinks(database: app.host.database)
        if let linked = try await links.user(issuer: identity.issuer, subject: identity.subject),
            let user = try await app.directory.user(linked, fresh: true)
        {
            return user.active ? .signedIn(user, next: next) : .waiting(user)
        }
        guard let email = identity.email, !email.isEmpty else {
            throw KnotError.badRequest("\(displayName) did not share an e-mail address, which Knot needs", code: "upstream_email")
        }
        if let existing = try await app.directory.byEmail(email) {
            guard identity.emailVerified else {
                throw KnotError.conflict(
                    "an account with the address \(email) exists; sign in with its password (\(displayName) has not verified that address)",
                    code: "upstream_unverified")
            }
            try await links.link(issuer: identity.issuer, subject: identity.subject, user: existing.id)
            await app.audit(actor: existing.username, action: "upstream.link", subject: existing.username, detail: identity.issuer)
            return existing.active ? .signedIn(existing, next: next) : .waiting(existing)
        }
        let user = try await createAccount(for: identity, email: email, app: app)
        try await links.link(issuer: identity.issuer, subject: identity.subject, user: user.id)
        await app.audit(actor: user.username, action: "upstream.signup", subject: user.username, detail: identity.issuer)
        logger.info("account made from an upstream sign-in", metadata: ["username": "\(user.username)"])
        return .waiting(user)
    }

    func createAccount(for identity: UpstreamIdentity, email: String, app: IdentityApp) async throws -> UserRecord {
        let base = Self.username(from: identity.preferredUsername ?? String(email.split(separator: "@").first ?? "user"))
        for attempt in 1...20 {
            let candidate = attempt == 1 ? base : "\(base.prefix(28))-\(attempt)"
            do {
                return try await app.users.post(
                    "/internal/v1/users",
                    body: NewAccount(username: candidate, email: email, fullName: identity.name ?? "", active: false, admin: false),
                    as: UserRecord.self)
            } catch let error as KnotError where error.code == "username_taken" || error.code == "invalid_username" {
                continue
            }
        }
        throw KnotError.conflict("no free username could be made for \(email)", code: "username_taken")
    }

    /// A DNS-label-safe username from whatever the upstream calls the person.
    static func username(from raw: String) -> String {
        var name = ""
        for scalar in raw.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                name.unicodeScalars.append(scalar)
            } else if !name.isEmpty && !name.hasSuffix("-") {
                name += "-"
            }
        }
        while let first = name.first, !first.isLetter { name.removeFirst() }
        name = String(name.prefix(28))
        while name.hasSuffix("-") { name.removeLast() }
        return name.count >= 2 ? name : "user-" + name
    }

    static func clearedCookie() -> String {
        "\(cookieName)=; Path=\(cookiePath); Max-Age=0; HttpOnly; Secure; SameSite=Lax"
    }
}

/// The upstream's discovery document and keys, fetched when first needed and
/// again every few minutes (keys also when an unknown `kid` appears).
final class UpstreamMetadata: Sendable {
    struct Discovery: Decodable, Sendable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String
        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
        }
    }

    let issuer: String
    private let state = NIOLockedValueBox<(discovery: Discovery?, keys: JWTKeyCollection?, fetched: Date)>((nil, nil, .distantPast))

    init(issuer: String) { self.issuer = issuer }

    func discovery() async throws -> Discovery {
        let cached = state.withLockedValue { $0 }
        if let discovery = cached.discovery, Date().timeIntervalSince(cached.fetched) < 300 { return discovery }
        try await refresh()
        guard let discovery = state.withLockedValue({ $0.discovery }) else { throw Self.unreachable }
        return discovery
    }

    func verify(_ token: String) async throws -> UpstreamIDToken {
        if state.withLockedValue({ $0.keys }) == nil { try await refresh() }
        do {
            return try await state.withLockedValue({ $0.keys })!.verify(token, as: UpstreamIDToken.self)
        } catch {
            // Perhaps the upstream rotated its keys: fetch them once more and try again.
            try await refresh()
            do {
                return try await state.withLockedValue({ $0.keys })!.verify(token, as: UpstreamIDToken.self)
            } catch {
                throw KnotError(.badGateway, code: "upstream_token", message: "the ID token from the upstream provider is not valid")
            }
        }
    }

    static let unreachable = KnotError(.badGateway, code: "upstream_unreachable", message: "the upstream provider could not be reached")

    private func refresh() async throws {
        let discoveryURL = issuer.hasSuffix("/") ? issuer + ".well-known/openid-configuration" : issuer + "/.well-known/openid-configuration"
        let discovery = try JSONDecoder().decode(Discovery.self, from: try await Self.fetch(discoveryURL))
        // OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
        guard discovery.issuer == issuer else {
            throw KnotError(.badGateway, code: "upstream_issuer", message: "the upstream provider names another issuer")
        }
        for endpoint in [discovery.authorizationEndpoint, discovery.tokenEndpoint, discovery.jwksURI] {
            do { try ClientRegistration.checkRedirect(endpoint) } catch { throw Self.unreachable }
        }
        let jwks = try JSONDecoder().decode(JWKS.self, from: try await Self.fetch(discovery.jwksURI))
        let keys = JWTKeyCollection()
        for key in jwks.keys where key.algorithm == .rs256 || key.algorithm == .es256 || key.algorithm == nil {
            _ = try? await keys.add(jwk: key)
        }
        state.withLockedValue { $0 = (discovery, keys, Date()) }
    }

    static func fetch(_ url: String) async throws -> Data {
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw unreachable }
            return Data(buffer: try await response.body.collect(upTo: 512 * 1024))
        } catch {
            throw unreachable
        }
    }
}

/// The upstream's ID token, as much of it as Knot reads.
struct UpstreamIDToken: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nonce: String?
    var email: String?
    var emailVerified: Bool?
    var preferredUsername: String?
    var name: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, nonce, email, name
        case emailVerified = "email_verified"
        case preferredUsername = "preferred_username"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Which Knot account an upstream subject is.
struct UpstreamLinks: Sendable {
    let database: KnotDatabase.Database

    func user(issuer: String, subject: String) async throws -> UUID? {
        let rows = try await database.client.query(
            "SELECT user_id FROM identity.upstream_links WHERE issuer = \(issuer) AND subject = \(subject)", logger: database.logger)
        for try await id in rows.decode(UUID.self) { return id }
        return nil
    }

    func link(issuer: String, subject: String, user: UUID) async throws {
        try await database.client.query(
            """
            INSERT INTO identity.upstream_links (issuer, subject, user_id) VALUES (\(issuer), \(subject), \(user))
            ON CONFLICT (issuer, subject) DO NOTHING
            """, logger: database.logger)
    }
}
