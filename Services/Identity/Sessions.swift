import Crypto
import Foundation
import KnotDatabase
import Logging
import PostgresNIO

/// Browser sessions, kept server-side so that logout and deactivation take
/// effect at once. Only a SHA-256 of each token is stored: a database dump
/// does not hand out live sessions.
struct SessionStore: Sendable {
    let database: Database
    let lifetime: TimeInterval

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    func create(userID: UUID) async throws -> String {
        let token = Self.newToken()
        let expires = Date().addingTimeInterval(lifetime)
        try await database.client.query(
            "INSERT INTO identity.sessions (token_hash, user_id, expires_at) VALUES (\(Self.digest(token)), \(userID), \(expires))",
            logger: database.logger)
        return token
    }

    /// The user a live session belongs to, or nil.
    func user(for token: String) async throws -> UUID? {
        guard token.utf8.count == 43 else { return nil }
        let rows = try await database.client.query(
            """
            SELECT user_id FROM identity.sessions
            WHERE token_hash = \(Self.digest(token)) AND revoked_at IS NULL AND expires_at > now()
            """, logger: database.logger)
        for try await id in rows.decode(UUID.self) { return id }
        return nil
    }

    func revoke(_ token: String) async throws {
        try await database.client.query(
            "UPDATE identity.sessions SET revoked_at = now() WHERE token_hash = \(Self.digest(token)) AND revoked_at IS NULL",
            logger: database.logger)
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
