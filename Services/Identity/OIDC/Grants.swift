import Crypto
import Foundation
import KnotAuth
import KnotDatabase
import Logging
import PostgresNIO

/// One authorization: the root every refresh and access token descends from.
struct TokenFamily: Sendable {
    var id: UUID
    var clientID: String
    var userID: UUID?
    var sessionID: UUID?
    var scope: String
    var offline: Bool
    var authTime: Date
    /// The `claims` request parameter's ID-token part, as JSON (or empty).
    var claims: String
}

/// An authorization code as stored: only its hash, bound to everything the
/// token request must repeat.
struct AuthorizationCode: Sendable {
    var clientID: String
    var userID: UUID
    var sessionID: UUID
    var redirectURI: String
    var scope: String
    var nonce: String?
    var codeChallenge: String?
    var authTime: Date
    var claims: String
    var familyID: UUID
}

/// Codes, token families and refresh tokens in PostgreSQL.
struct GrantStore: Sendable {
    let database: Database
    let codeLifetime: TimeInterval
    let offlineLifetime: TimeInterval

    func storeCode(_ code: AuthorizationCode) async throws -> String {
        let token = SecretToken.make()
        let expires = Date().addingTimeInterval(codeLifetime)
        try await database.client.query(
            """
            INSERT INTO identity.codes (code_hash, client_id, user_id, session_id, redirect_uri, scope, nonce,
                code_challenge, auth_time, claims, family_id, expires_at)
            VALUES (\(SecretToken.digest(token)), \(code.clientID), \(code.userID), \(code.sessionID), \(code.redirectURI), \(code.scope),
                \(code.nonce), \(code.codeChallenge), \(code.authTime), \(code.claims), \(code.familyID), \(expires))
            """, logger: database.logger)
        return token
    }

    enum Redemption: Sendable {
        case redeemed(AuthorizationCode)
        /// The code was used before: the family it started is revoked.
        case replayed(family: UUID)
        case expired
        /// Issued to another client: refused, and left for its rightful client.
        case otherClient
        case unknown
    }

    /// Marks a code used, once. A second use revokes everything it issued.
    func redeem(_ token: String, clientID: String) async throws -> Redemption {
        guard token.utf8.count == 43 else { return .unknown }
        let hash = SecretToken.digest(token)
        let rows = try await database.client.query(
            """
            UPDATE identity.codes SET used_at = now() WHERE code_hash = \(hash) AND used_at IS NULL AND client_id = \(clientID)
            RETURNING client_id, user_id, session_id, redirect_uri, scope, nonce, code_challenge, auth_time, claims, family_id,
                expires_at > now()
            """, logger: database.logger)
        for try await row in rows.decode((String, UUID, UUID, String, String, String?, String?, Date, String, UUID, Bool).self) {
            guard row.10 else { return .expired }
            return .redeemed(
                AuthorizationCode(
                    clientID: row.0, userID: row.1, sessionID: row.2, redirectURI: row.3, scope: row.4, nonce: row.5,
                    codeChallenge: row.6, authTime: row.7, claims: row.8, familyID: row.9))
        }
        let known = try await database.client.query(
            "SELECT family_id, client_id, used_at IS NOT NULL FROM identity.codes WHERE code_hash = \(hash)", logger: database.logger)
        for try await (family, owner, used) in known.decode((UUID, String, Bool).self) {
            guard owner == clientID else { return .otherClient }
            guard used else { return .unknown }
            _ = try await revokeFamily(family)
            return .replayed(family: family)
        }
        return .unknown
    }

    /// Starts a family; `sessionExpiry` bounds a family that lives only as long as its browser session.
    func createFamily(_ family: TokenFamily, sessionExpiry: Date?) async throws {
        let expires = family.offline || sessionExpiry == nil ? Date().addingTimeInterval(offlineLifetime) : sessionExpiry!
        try await database.client.query(
            """
            INSERT INTO identity.token_families (id, client_id, user_id, session_id, scope, offline, auth_time, claims, expires_at)
            VALUES (\(family.id), \(family.clientID), \(family.userID), \(family.sessionID), \(family.scope), \(family.offline),
                \(family.authTime), \(family.claims), \(expires))
            """, logger: database.logger)
    }

    func issueRefreshToken(family: UUID) async throws -> String {
        let token = "knot_rt_" + SecretToken.make()
        try await database.client.query(
            "INSERT INTO identity.refresh_tokens (token_hash, family_id) VALUES (\(SecretToken.digest(token)), \(family))",
            logger: database.logger)
        return token
    }

    enum Rotation: Sendable {
        case rotated(TokenFamily, newToken: String)
        /// Presented after it was already rotated: the family is now revoked.
        case reused(family: UUID)
        case invalid
    }

    /// Exchanges a refresh token for its successor in one statement: the old
    /// one is spent and the new one stored, or nothing happens.
    func rotate(_ token: String, clientID: String) async throws -> Rotation {
        guard token.hasPrefix("knot_rt_"), token.utf8.count == 51 else { return .invalid }
        let hash = SecretToken.digest(token)
        let next = "knot_rt_" + SecretToken.make()
        let rows = try await database.client.query(
            """
            WITH spent AS (
                UPDATE identity.refresh_tokens r SET used_at = now()
                FROM identity.token_families f
                WHERE r.token_hash = \(hash) AND r.used_at IS NULL AND f.id = r.family_id AND f.client_id = \(clientID)
                  AND f.revoked_at IS NULL AND f.expires_at > now()
                RETURNING f.id, f.client_id, f.user_id, f.session_id, f.scope, f.offline, f.auth_time, f.claims),
            issued AS (INSERT INTO identity.refresh_tokens (token_hash, family_id) SELECT \(SecretToken.digest(next)), id FROM spent)
            SELECT id, client_id, user_id, session_id, scope, offline, auth_time, claims FROM spent
            """, logger: database.logger)
        for try await row in rows.decode((UUID, String, UUID?, UUID?, String, Bool, Date, String).self) {
            return .rotated(
                TokenFamily(
                    id: row.0, clientID: row.1, userID: row.2, sessionID: row.3, scope: row.4, offline: row.5, authTime: row.6,
                    claims: row.7), newToken: next)
        }
        // Spent before, by this client: a replay, so the family is compromised.
        let spent = try await database.client.query(
            """
            SELECT r.family_id FROM identity.refresh_tokens r JOIN identity.token_families f ON f.id = r.family_id
            WHERE r.token_hash = \(hash) AND r.used_at IS NOT NULL AND f.client_id = \(clientID)
            """, logger: database.logger)
        for try await family in spent.decode(UUID.self) {
            _ = try await revokeFamily(family)
            return .reused(family: family)
        }
        return .invalid
    }

    /// The family a refresh token belongs to, when it is issued to `clientID` (for revocation).
    func family(ofRefreshToken token: String, clientID: String) async throws -> UUID? {
        let rows = try await database.client.query(
            """
            SELECT r.family_id FROM identity.refresh_tokens r JOIN identity.token_families f ON f.id = r.family_id
            WHERE r.token_hash = \(SecretToken.digest(token)) AND f.client_id = \(clientID)
            """, logger: database.logger)
        for try await family in rows.decode(UUID.self) { return family }
        return nil
    }

    func revokeFamily(_ id: UUID) async throws -> [UUID] {
        try await database.client.withConnection { connection in
            try await SessionStore.revokeFamilies(connection, logger: database.logger, where: "id = ANY($1)", [id])
        }
    }

    /// Whether a user agreed to a client reading these scopes.
    func hasConsent(user: UUID, client: String, scopes: [String]) async throws -> Bool {
        let rows = try await database.client.query(
            "SELECT scopes FROM identity.consents WHERE user_id = \(user) AND client_id = \(client)", logger: database.logger)
        for try await granted in rows.decode([String].self) { return Set(scopes).isSubset(of: Set(granted)) }
        return false
    }

    func recordConsent(user: UUID, client: String, scopes: [String]) async throws {
        try await database.client.query(
            """
            INSERT INTO identity.consents (user_id, client_id, scopes) VALUES (\(user), \(client), \(scopes))
            ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = (
                SELECT array_agg(DISTINCT s) FROM unnest(identity.consents.scopes || EXCLUDED.scopes) s), granted_at = now()
            """, logger: database.logger)
    }

    /// Drops what can no longer matter: used or expired codes, dead families.
    func sweep() async throws {
        try await database.client.query(
            "DELETE FROM identity.codes WHERE expires_at < now() - interval '1 hour'", logger: database.logger)
        try await database.client.query(
            "DELETE FROM identity.token_families WHERE expires_at < now() - interval '1 day'", logger: database.logger)
        try await database.client.query(
            "DELETE FROM identity.revoked_access_tokens WHERE expires_at < now()", logger: database.logger)
    }
}

extension GrantStore {
    /// The family of a refresh token that can still be used, for introspection.
    func liveRefreshFamily(_ token: String) async throws -> TokenFamily? {
        let rows = try await database.client.query(
            """
            SELECT f.id, f.client_id, f.user_id, f.session_id, f.scope, f.offline, f.auth_time, f.claims
            FROM identity.refresh_tokens r JOIN identity.token_families f ON f.id = r.family_id
            WHERE r.token_hash = \(SecretToken.digest(token)) AND r.used_at IS NULL AND f.revoked_at IS NULL AND f.expires_at > now()
            """, logger: database.logger)
        for try await row in rows.decode((UUID, String, UUID?, UUID?, String, Bool, Date, String).self) {
            return TokenFamily(
                id: row.0, clientID: row.1, userID: row.2, sessionID: row.3, scope: row.4, offline: row.5, authTime: row.6, claims: row.7)
        }
        return nil
    }
}
