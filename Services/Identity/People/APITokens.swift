import Crypto
import Foundation
import KnotAuth
import KnotDatabase
import KnotErrors
import PostgresNIO

/// Personal API tokens: `knot_pat_<random>`, shown once, stored as SHA-256,
/// named, `read` (GET/HEAD only) or `full`, expiring.
struct APITokenStore: Sendable {
    let database: Database

    struct Token: Codable, Sendable {
        var id: UUID
        var name: String
        var scope: String
        var createdAt: Date
        var expiresAt: Date
        var lastUsedAt: Date?
        /// Only in the answer that creates it.
        var token: String?

        enum CodingKeys: String, CodingKey {
            case id, name, scope, token
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case lastUsedAt = "last_used_at"
        }
    }

    struct NewToken: Decodable {
        var name: String
        var scope: String?
        var expiresInDays: Int?
        enum CodingKeys: String, CodingKey {
            case name, scope
            case expiresInDays = "expires_in_days"
        }
    }

    static let prefix = "knot_pat_"
    static let perUserLimit = 50

    func create(userID: UUID, _ request: NewToken) async throws -> Token {
        let name = request.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 80, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw KnotError.badRequest("name must be 1 to 80 printable characters", code: "invalid_name")
        }
        let scope = request.scope ?? "full"
        guard scope == "read" || scope == "full" else { throw KnotError.badRequest("scope must be read or full", code: "invalid_scope") }
        let days = request.expiresInDays ?? 90
        guard (1...365).contains(days) else { throw KnotError.badRequest("expires_in_days must be between 1 and 365", code: "invalid_expiry") }
        let secret = Self.prefix + SecretToken.make()
        let id = UUID()
        let now = Date()
        let expires = now.addingTimeInterval(TimeInterval(days) * 86400)
        let inserted = try await database.client.query(
            """
            INSERT INTO identity.api_tokens (id, user_id, name, scope, token_hash, created_at, expires_at)
            SELECT \(id), \(userID), \(name), \(scope), \(SecretToken.digest(secret)), \(now), \(expires)
            WHERE (SELECT count(*) FROM identity.api_tokens WHERE user_id = \(userID) AND revoked_at IS NULL AND expires_at > now())
                  < \(Self.perUserLimit)
            RETURNING id
            """, logger: database.logger)
        var created = false
        for try await _ in inserted.decode(UUID.self) { created = true }
        guard created else { throw KnotError.conflict("at most \(Self.perUserLimit) live tokens per person; revoke one first", code: "too_many_tokens") }
        return Token(id: id, name: name, scope: scope, createdAt: now, expiresAt: expires, lastUsedAt: nil, token: secret)
    }

    func list(userID: UUID) async throws -> [Token] {
        let rows = try await database.client.query(
            """
            SELECT id, name, scope, created_at, expires_at, last_used_at FROM identity.api_tokens
            WHERE user_id = \(userID) AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC
            """, logger: database.logger)
        var tokens: [Token] = []
        for try await (id, name, scope, created, expires, used) in rows.decode((UUID, String, String, Date, Date, Date?).self) {
            tokens.append(Token(id: id, name: name, scope: scope, createdAt: created, expiresAt: expires, lastUsedAt: used))
        }
        return tokens
    }

    func revoke(userID: UUID, id: UUID) async throws -> Bool {
        let rows = try await database.client.query(
            "UPDATE identity.api_tokens SET revoked_at = now() WHERE id = \(id) AND user_id = \(userID) AND revoked_at IS NULL RETURNING id",
            logger: database.logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Revokes the person's live tokens with this exact name (a service's token
    /// when it starts again or is deleted); returns how many.
    @discardableResult
    func revoke(userID: UUID, named name: String) async throws -> Int {
        let rows = try await database.client.query(
            "UPDATE identity.api_tokens SET revoked_at = now() WHERE user_id = \(userID) AND name = \(name) AND revoked_at IS NULL RETURNING id",
            logger: database.logger)
        var count = 0
        for try await _ in rows.decode(UUID.self) { count += 1 }
        return count
    }

    func revokeAll(userID: UUID) async throws {
        try await database.client.query(
            "UPDATE identity.api_tokens SET revoked_at = now() WHERE user_id = \(userID) AND revoked_at IS NULL", logger: database.logger)
    }

    /// The owner and scope of a live token, marking it used (at most once a minute).
    func verify(_ secret: String) async throws -> (userID: UUID, scope: String)? {
        guard secret.hasPrefix(Self.prefix), secret.utf8.count == Self.prefix.utf8.count + 43 else { return nil }
        let rows = try await database.client.query(
            """
            UPDATE identity.api_tokens SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < now() - interval '60 seconds'
                THEN now() ELSE last_used_at END
            WHERE token_hash = \(SecretToken.digest(secret)) AND revoked_at IS NULL AND expires_at > now()
            RETURNING user_id, scope
            """, logger: database.logger)
        for try await (user, scope) in rows.decode((UUID, String).self) { return (user, scope) }
        return nil
    }
}
