import Crypto
import Foundation
import KnotAuth
import KnotDatabase
import KnotErrors
import Logging
import PostgresNIO

/// A signed-in browser.
struct BrowserSession: Sendable {
    /// Names the session in tokens (`sid`) without revealing the cookie.
    var id: UUID
    var userID: UUID
    /// When an admin impersonates, the person the session acts as.
    var actingAs: UUID?
    /// When the password was last entered: `auth_time`.
    var authTime: Date
    var expiresAt: Date
}

/// Browser sessions, kept server-side so that logout and deactivation take
/// effect at once. Only a SHA-256 of each token is stored: a database dump
/// does not hand out live sessions. A session ends at its absolute expiry or
/// after `idle` without use, whichever comes first.
struct SessionStore: Sendable {
    let database: Database
    let lifetime: TimeInterval
    let idle: TimeInterval


    func create(userID: UUID) async throws -> (token: String, session: BrowserSession) {
        let token = SecretToken.make()
        let id = UUID()
        let now = Date()
        let expires = now.addingTimeInterval(lifetime)
        try await database.client.query(
            """
            INSERT INTO identity.sessions (token_hash, id, user_id, created_at, expires_at, last_seen_at)
            VALUES (\(SecretToken.digest(token)), \(id), \(userID), \(now), \(expires), \(now))
            """, logger: database.logger)
        return (token, BrowserSession(id: id, userID: userID, actingAs: nil, authTime: now, expiresAt: expires))
    }

    /// The live session a cookie names, or nil; marks it used (at most once a minute).
    func session(for token: String) async throws -> BrowserSession? {
        guard token.utf8.count == 43 else { return nil }
        let idleHorizon = Date().addingTimeInterval(-idle)
        let rows = try await database.client.query(
            """
            UPDATE identity.sessions SET last_seen_at = CASE WHEN last_seen_at < now() - interval '60 seconds'
                THEN now() ELSE last_seen_at END
            WHERE token_hash = \(SecretToken.digest(token)) AND revoked_at IS NULL AND expires_at > now()
              AND last_seen_at > \(idleHorizon)
            RETURNING id, user_id, acting_as, created_at, expires_at
            """, logger: database.logger)
        for try await (id, user, acting, created, expires) in rows.decode((UUID, UUID, UUID?, Date, Date).self) {
            return BrowserSession(id: id, userID: user, actingAs: acting, authTime: created, expiresAt: expires)
        }
        return nil
    }

    /// Ends one session and the refresh tokens that live only as long as it.
    func revoke(_ token: String) async throws -> [UUID] {
        try await database.transaction { tx in
            let rows = try await tx.query(
                "UPDATE identity.sessions SET revoked_at = now() WHERE token_hash = \(SecretToken.digest(token)) AND revoked_at IS NULL RETURNING id",
                logger: database.logger)
            var ids: [UUID] = []
            for try await id in rows.decode(UUID.self) { ids.append(id) }
            return try await Self.revokeFamilies(tx, logger: database.logger, where: "session_id = ANY($1) AND NOT offline", ids)
        }
    }

    /// Ends every session of a user, except `keep` (after a password change,
    /// the session that changed it). With `everything`, every token family too.
    func revokeAll(userID: UUID, except keep: UUID? = nil, everything: Bool) async throws -> [UUID] {
        try await database.transaction { tx in
            let rows = try await tx.query(
                """
                UPDATE identity.sessions SET revoked_at = now()
                WHERE (user_id = \(userID) OR acting_as = \(userID)) AND revoked_at IS NULL AND id IS DISTINCT FROM \(keep)
                RETURNING id
                """, logger: database.logger)
            var ids: [UUID] = []
            for try await id in rows.decode(UUID.self) { ids.append(id) }
            var families = try await Self.revokeFamilies(tx, logger: database.logger, where: "session_id = ANY($1) AND NOT offline", ids)
            if everything {
                families += try await Self.revokeFamilies(tx, logger: database.logger, where: "user_id = ANY($1)", [userID])
            }
            return families
        }
    }

    /// Swaps a session for a new one acting as `actingAs` (or as itself): the
    /// old cookie dies at once, so no cache anywhere keeps the old identity.
    /// Keeps the login time and expiry; ends the refresh tokens bound to the old session.
    func replace(_ token: String, actingAs: UUID?) async throws -> (token: String, revokedFamilies: [UUID]) {
        let fresh = SecretToken.make()
        let families: [UUID] = try await database.transaction { tx in
            let rows = try await tx.query(
                """
                UPDATE identity.sessions SET revoked_at = now()
                WHERE token_hash = \(SecretToken.digest(token)) AND revoked_at IS NULL AND expires_at > now()
                RETURNING id, user_id, created_at, expires_at
                """, logger: database.logger)
            var old: (UUID, UUID, Date, Date)?
            for try await row in rows.decode((UUID, UUID, Date, Date).self) { old = row }
            guard let old else { throw KnotError.unauthorized("the session has ended") }
            try await tx.query(
                """
                INSERT INTO identity.sessions (token_hash, id, user_id, acting_as, created_at, expires_at, last_seen_at)
                VALUES (\(SecretToken.digest(fresh)), \(UUID()), \(old.1), \(actingAs), \(old.2), \(old.3), now())
                """, logger: database.logger)
            return try await Self.revokeFamilies(tx, logger: database.logger, where: "session_id = ANY($1) AND NOT offline", [old.0])
        }
        return (fresh, families)
    }

    /// Revokes the families a condition on `$1` selects, tells every replica, and returns their ids.
    static func revokeFamilies(_ connection: PostgresConnection, logger: Logger, where condition: String, _ ids: [UUID]) async throws
        -> [UUID]
    {
        guard !ids.isEmpty else { return [] }
        var bindings = PostgresBindings()
        bindings.append(ids)
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: "UPDATE identity.token_families SET revoked_at = now() WHERE revoked_at IS NULL AND \(condition) RETURNING id",
                binds: bindings), logger: logger)
        var families: [UUID] = []
        for try await id in rows.decode(UUID.self) { families.append(id) }
        if !families.isEmpty { try await connection.query("SELECT pg_notify('knot_identity', 'revocations')", logger: logger) }
        return families
    }
}

/// Password hashes by user id.
struct CredentialStore: Sendable {
    let database: Database

    func hash(for userID: UUID) async throws -> String? {
        let rows = try await database.client.query(
            "SELECT password_hash FROM identity.credentials WHERE user_id = \(userID)", logger: database.logger)
        for try await hash in rows.decode(String.self) { return hash }
        return nil
    }

    func set(userID: UUID, hash: String) async throws {
        try await database.client.query(
            """
            INSERT INTO identity.credentials (user_id, password_hash) VALUES (\(userID), \(hash))
            ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()
            """, logger: database.logger)
    }
}
