import Crypto
import Foundation
import KnotAuth
import KnotDatabase
import KnotErrors
import Logging
import NIOConcurrencyHelpers
import PostgresNIO

/// A relying party registered with the provider.
struct OAuthClient: Encodable, Sendable, Equatable {
    var clientID: String
    var name: String
    var isPublic: Bool
    var firstParty: Bool
    var redirectURIs: [String]
    var postLogoutRedirectURIs: [String]
    var grantTypes: [String]
    var scopes: [String]
    var accessTokenSeconds: Int?
    var idTokenAlgorithm: String
    var introspectAny: Bool
    var knotClaimsInIDToken: Bool
    var configured: Bool
    /// SHA-256 of the secret; never leaves the service.
    var secretHash: Data?

    /// What would register this client again (never its secret).
    var registration: ClientRegistration {
        ClientRegistration(
            clientID: clientID, name: name, isPublic: isPublic, firstParty: firstParty, redirectURIs: redirectURIs,
            postLogoutRedirectURIs: postLogoutRedirectURIs, grantTypes: grantTypes, scopes: scopes,
            accessTokenSeconds: accessTokenSeconds, idTokenAlgorithm: idTokenAlgorithm, introspectAny: introspectAny,
            knotClaimsInIDToken: knotClaimsInIDToken, secret: nil, secretFile: nil)
    }

    /// Shown as its registration (the same field names), and whether the clients file owns it.
    func encode(to encoder: any Encoder) throws {
        try registration.encode(to: encoder)
        var container = encoder.container(keyedBy: DynamicKey.self)
        try container.encode(configured, forKey: DynamicKey("configured"))
    }

    /// Secrets are random and long, so a plain SHA-256 is the right store (as
    /// for API tokens); a slow password hash would only slow every token request.
    static func digest(_ secret: String) -> Data { Data(SHA256.hash(data: Data("knot-client-secret:\(secret)".utf8))) }

    func secretMatches(_ candidate: String) -> Bool {
        guard let secretHash else { return false }
        // Constant-time comparison: the digest is secret too.
        return SecretToken.equal(Self.digest(candidate), secretHash)
    }

    func allows(grant: String) -> Bool { grantTypes.contains(grant) }
}

/// What an administrator (or the clients file) says about a client.
struct ClientRegistration: Codable, Sendable {
    var clientID: String
    var name: String?
    var isPublic: Bool?
    var firstParty: Bool?
    var redirectURIs: [String]?
    var postLogoutRedirectURIs: [String]?
    var grantTypes: [String]?
    var scopes: [String]?
    var accessTokenSeconds: Int?
    var idTokenAlgorithm: String?
    var introspectAny: Bool?
    var knotClaimsInIDToken: Bool?
    /// Only in the clients file: the secret itself or a file holding it.
    var secret: String?
    var secretFile: String?

    enum CodingKeys: String, CodingKey {
        case name, scopes, secret
        case clientID = "client_id"
        case isPublic = "public"
        case firstParty = "first_party"
        case redirectURIs = "redirect_uris"
        case postLogoutRedirectURIs = "post_logout_redirect_uris"
        case grantTypes = "grant_types"
        case accessTokenSeconds = "access_token_seconds"
        case idTokenAlgorithm = "id_token_signed_response_alg"
        case introspectAny = "introspect_any"
        case knotClaimsInIDToken = "knot_claims_in_id_token"
        case secretFile = "secret_file"
    }

    static let supportedGrants: Set<String> = ["authorization_code", "refresh_token", "client_credentials"]

    /// Checks every field and builds the client; `existing` keeps what a partial update leaves out.
    func validated(existing: OAuthClient? = nil, configured: Bool) throws -> OAuthClient {
        guard clientID.count >= 2, clientID.count <= 64,
            clientID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else {
            throw KnotError.badRequest("client_id must be 2 to 64 letters, digits, '-', '_' or '.'", code: "invalid_client_metadata")
        }
        let name = (self.name ?? existing?.name ?? clientID).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 100, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw KnotError.badRequest("name must be 1 to 100 printable characters", code: "invalid_client_metadata")
        }
        let isPublic = self.isPublic ?? existing?.isPublic ?? false
        let grants = grantTypes ?? existing?.grantTypes ?? ["authorization_code", "refresh_token"]
        guard !grants.isEmpty, grants.allSatisfy(Self.supportedGrants.contains), Set(grants).count == grants.count else {
            throw KnotError.badRequest(
                "grant_types must be some of authorization_code, refresh_token, client_credentials", code: "invalid_client_metadata")
        }
        if isPublic && grants.contains("client_credentials") {
            throw KnotError.badRequest("a public client cannot use client_credentials", code: "invalid_client_metadata")
        }
        let redirects = redirectURIs ?? existing?.redirectURIs ?? []
        if grants.contains("authorization_code") && redirects.isEmpty {
            throw KnotError.badRequest("redirect_uris must list at least one address", code: "invalid_redirect_uri")
        }
        guard redirects.count <= 20 else { throw KnotError.badRequest("at most 20 redirect_uris", code: "invalid_redirect_uri") }
        for uri in redirects { try Self.checkRedirect(uri) }
        let postLogout = postLogoutRedirectURIs ?? existing?.postLogoutRedirectURIs ?? []
        guard postLogout.count <= 20 else { throw KnotError.badRequest("at most 20 post_logout_redirect_uris", code: "invalid_redirect_uri") }
        for uri in postLogout { try Self.checkRedirect(uri) }
        let scopes = self.scopes ?? existing?.scopes ?? Scope.all
        guard scopes.allSatisfy(Scope.all.contains) else {
            throw KnotError.badRequest("scopes must be some of \(Scope.all.joined(separator: " "))", code: "invalid_client_metadata")
        }
        let lifetime = accessTokenSeconds ?? existing?.accessTokenSeconds
        if let lifetime, !(1...3600).contains(lifetime) {
            throw KnotError.badRequest("access_token_seconds must be between 1 and 3600", code: "invalid_client_metadata")
        }
        let algorithm = idTokenAlgorithm ?? existing?.idTokenAlgorithm ?? "RS256"
        guard SigningKeys.Algorithm(rawValue: algorithm) != nil else {
            throw KnotError.badRequest("id_token_signed_response_alg must be RS256 or ES256", code: "invalid_client_metadata")
        }
        return OAuthClient(
            clientID: clientID, name: name, isPublic: isPublic, firstParty: firstParty ?? existing?.firstParty ?? false,
            redirectURIs: redirects, postLogoutRedirectURIs: postLogout, grantTypes: grants, scopes: scopes,
            accessTokenSeconds: lifetime, idTokenAlgorithm: algorithm,
            introspectAny: introspectAny ?? existing?.introspectAny ?? false,
            knotClaimsInIDToken: knotClaimsInIDToken ?? existing?.knotClaimsInIDToken ?? false,
            configured: configured, secretHash: isPublic ? nil : existing?.secretHash)
    }

    /// Absolute, without fragment or credentials, HTTPS — or HTTP on a loopback
    /// address for native and local tools (RFC 8252 7.3).
    static func checkRedirect(_ uri: String) throws {
        func refuse(_ why: String) -> KnotError {
            KnotError.badRequest("redirect URI \(uri.prefix(200)): \(why)", code: "invalid_redirect_uri")
        }
        guard uri.utf8.count <= 2048 else { throw refuse("longer than 2048 characters") }
        guard !uri.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value > 0x7e || $0 == "\\" }) else {
            throw refuse("must be plain ASCII without spaces or backslashes")
        }
        guard let url = URLComponents(string: uri), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw refuse("must be an absolute URL")
        }
        guard url.fragment == nil else { throw refuse("must not have a fragment") }
        // A plain host name or IP literal: no wildcards, no percent-encoding games.
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]".contains($0)) }) else {
            throw refuse("the host must be a plain name or address")
        }
        guard url.user == nil, url.password == nil else { throw refuse("must not carry credentials") }
        switch scheme {
        case "https": break
        case "http":
            guard ["127.0.0.1", "localhost", "[::1]", "::1"].contains(host.lowercased()) else {
                throw refuse("http is allowed only on a loopback address; use https")
            }
        default: throw refuse("must be https")
        }
    }
}

/// The registered clients, read from the database and kept in memory (they
/// are consulted on every token request), reloaded when any replica changes one.
final class ClientRegistry: Sendable {
    let database: Database
    private let cache = NIOLockedValueBox<[String: OAuthClient]>([:])

    init(database: Database) { self.database = database }

    func client(_ id: String) -> OAuthClient? { cache.withLockedValue { $0[id] } }
    func all() -> [OAuthClient] { cache.withLockedValue { Array($0.values) }.sorted { $0.clientID < $1.clientID } }

    func reload() async throws {
        let rows = try await database.client.query(
            """
            SELECT client_id, name, secret_hash, public, first_party, redirect_uris, post_logout_redirect_uris,
                   grant_types, scopes, access_token_seconds, id_token_alg, introspect_any, knot_claims_in_id_token, configured
            FROM identity.clients
            """, logger: database.logger)
        var loaded: [String: OAuthClient] = [:]
        for try await row in rows.decode(
            (String, String, Data?, Bool, Bool, [String], [String], [String], [String], Int?, String, Bool, Bool, Bool).self)
        {
            loaded[row.0] = OAuthClient(
                clientID: row.0, name: row.1, isPublic: row.3, firstParty: row.4, redirectURIs: row.5,
                postLogoutRedirectURIs: row.6, grantTypes: row.7, scopes: row.8, accessTokenSeconds: row.9,
                idTokenAlgorithm: row.10, introspectAny: row.11, knotClaimsInIDToken: row.12, configured: row.13,
                secretHash: row.2)
        }
        cache.withLockedValue { $0 = loaded }
    }

    /// Inserts or replaces a client and tells every replica.
    func save(_ client: OAuthClient, insertOnly: Bool) async throws {
        let logger = database.logger
        let accessSeconds = client.accessTokenSeconds
        do {
            try await database.transaction { tx in
                let rows = try await tx.query(
                    """
                    INSERT INTO identity.clients (client_id, name, secret_hash, public, first_party, redirect_uris,
                        post_logout_redirect_uris, grant_types, scopes, access_token_seconds, id_token_alg, introspect_any,
                        knot_claims_in_id_token, configured)
                    VALUES (\(client.clientID), \(client.name), \(client.secretHash), \(client.isPublic), \(client.firstParty),
                        \(client.redirectURIs), \(client.postLogoutRedirectURIs), \(client.grantTypes), \(client.scopes),
                        \(accessSeconds), \(client.idTokenAlgorithm), \(client.introspectAny), \(client.knotClaimsInIDToken),
                        \(client.configured))
                    ON CONFLICT (client_id) DO UPDATE SET name = EXCLUDED.name, secret_hash = EXCLUDED.secret_hash,
                        public = EXCLUDED.public, first_party = EXCLUDED.first_party, redirect_uris = EXCLUDED.redirect_uris,
                        post_logout_redirect_uris = EXCLUDED.post_logout_redirect_uris, grant_types = EXCLUDED.grant_types,
                        scopes = EXCLUDED.scopes, access_token_seconds = EXCLUDED.access_token_seconds,
                        id_token_alg = EXCLUDED.id_token_alg, introspect_any = EXCLUDED.introspect_any,
                        knot_claims_in_id_token = EXCLUDED.knot_claims_in_id_token, configured = EXCLUDED.configured,
                        updated_at = now()
                    WHERE NOT \(insertOnly)
                    RETURNING client_id
                    """, logger: logger)
                var written = false
                for try await _ in rows.decode(String.self) { written = true }
                guard written else { throw KnotError.conflict("a client named \"\(client.clientID)\" exists already", code: "client_exists") }
                try await tx.query("SELECT pg_notify('knot_identity', 'clients')", logger: logger)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw KnotError.conflict("a client named \"\(client.clientID)\" exists already", code: "client_exists")
        }
        try await reload()
    }

    func delete(_ id: String) async throws {
        let logger = database.logger
        try await database.transaction { tx in
            try await tx.query("DELETE FROM identity.clients WHERE client_id = \(id)", logger: logger)
            // Its tokens die with it.
            try await tx.query(
                "UPDATE identity.token_families SET revoked_at = now() WHERE client_id = \(id) AND revoked_at IS NULL", logger: logger)
            try await tx.query("SELECT pg_notify('knot_identity', 'clients')", logger: logger)
            try await tx.query("SELECT pg_notify('knot_identity', 'revocations')", logger: logger)
        }
        try await reload()
    }

    static func newSecret() -> String { SecretToken.make() }
}

extension ClientRegistry {
    /// Makes the database match the clients file: each listed client saved,
    /// clients the file once listed and no longer does removed.
    func apply(configured: [OAuthClient]) async throws {
        try await reload()
        for client in configured where self.client(client.clientID) != client {
            try await save(client, insertOnly: false)
        }
        let listed = Set(configured.map(\.clientID))
        for client in all() where client.configured && !listed.contains(client.clientID) {
            try await delete(client.clientID)
        }
        try await reload()
    }
}
