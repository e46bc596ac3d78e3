import Foundation
import KnotDatabase
import KnotErrors
import KnotModels
import Logging
import PostgresNIO

/// Reads and writes `users.users`. Uniqueness is the database's job (unique
/// indexes), so two sign-ups racing for one name cannot both win.
struct UserStore: Sendable {
    let database: Database
    var logger: Logger { database.logger }

    static let columns = "id, username, email, full_name, active, admin, created_at, last_login, kind"

    func create(username: String, email: String, fullName: String, active: Bool, admin: Bool, kind: String = "person") async throws
        -> UserRecord
    {
        let id = UUID()
        do {
            let rows = try await database.client.query(
                """
                INSERT INTO users.users (id, username, email, full_name, active, admin, kind)
                VALUES (\(id), \(username), \(email), \(fullName), \(active), \(admin), \(kind))
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            guard let user = try await Self.decode(rows).first else { throw KnotError.internalError() }
            return user
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            let constraint = error.serverInfo?[.constraintName] ?? ""
            if constraint.contains("email") {
                throw KnotError.conflict("that email address is already registered", code: "email_taken")
            }
            throw KnotError.conflict("the username \"\(username)\" is taken", code: "username_taken")
        }
    }

    func find(username: String) async throws -> UserRecord? {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM users.users WHERE username = \(username)", logger: logger)
        return try await Self.decode(rows).first
    }

    /// By e-mail, compared without case (addresses are unique that way).
    func find(email: String) async throws -> UserRecord? {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM users.users WHERE lower(email) = lower(\(email))", logger: logger)
        return try await Self.decode(rows).first
    }

    func find(id: UUID) async throws -> UserRecord? {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM users.users WHERE id = \(id)", logger: logger)
        return try await Self.decode(rows).first
    }

    func list() async throws -> [UserRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM users.users WHERE kind = 'person' ORDER BY username", logger: logger)
        return try await Self.decode(rows)
    }

    /// People (or teams), searched in name, e-mail and full name, filtered by status, sorted.
    func search(kind: String, query: String?, status: String?, sort: String, descending: Bool, limit: Int, offset: Int) async throws
        -> [UserRecord]
    {
        // Sort keys come from a fixed list, never from the request as written.
        let column = ["username": "username", "email": "lower(email)", "created": "created_at", "last_login": "last_login",
            "name": "lower(full_name)"][sort] ?? "username"
        let pattern = query.map { "%" + $0.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%" }
        let rows = try await database.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM users.users
            WHERE kind = \(kind)
              AND (\(pattern)::text IS NULL OR username ILIKE \(pattern) OR email ILIKE \(pattern) OR full_name ILIKE \(pattern))
              AND (\(status)::text IS NULL OR (\(status) = 'active' AND active) OR (\(status) = 'inactive' AND NOT active)
                   OR (\(status) = 'admin' AND admin))
            ORDER BY \(unescaped: column) \(unescaped: descending ? "DESC NULLS LAST" : "ASC NULLS LAST"), username
            LIMIT \(limit) OFFSET \(offset)
            """, logger: logger)
        return try await Self.decode(rows)
    }

    /// Every active profile, people and teams: what the runtime must provide for.
    func activeProfiles() async throws -> [UserRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM users.users WHERE active ORDER BY username", logger: logger)
        return try await Self.decode(rows)
    }

    func setAdmin(username: String, admin: Bool) async throws -> UserRecord? {
        let rows = try await database.client.query(
            """
            UPDATE users.users SET admin = \(admin) WHERE username = \(username) AND kind = 'person'
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        return try await Self.decode(rows).first
    }

    func update(username: String, email: String?, fullName: String?) async throws -> UserRecord? {
        do {
            let rows = try await database.client.query(
                """
                UPDATE users.users SET email = coalesce(\(email), email), full_name = coalesce(\(fullName), full_name)
                WHERE username = \(username) RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            return try await Self.decode(rows).first
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw KnotError.conflict("that email address is already registered", code: "email_taken")
        }
    }

    /// Records how the profile's space in the runtime stands: `ready`, `pending` (will be retried) or `failed`.
    func setSpace(id: UUID, state: String, detail: String) async throws {
        try await database.client.query(
            """
            UPDATE users.users SET space_state = \(state), space_detail = \(String(detail.prefix(1000))), space_checked_at = now()
            WHERE id = \(id)
            """, logger: logger)
    }

    func space(id: UUID) async throws -> (state: String, detail: String, checked: Date?) {
        let rows = try await database.client.query(
            "SELECT space_state, space_detail, space_checked_at FROM users.users WHERE id = \(id)", logger: logger)
        for try await row in rows.decode((String, String, Date?).self) { return row }
        return ("none", "", nil)
    }

    func setActive(username: String, active: Bool) async throws -> UserRecord? {
        let rows = try await database.client.query(
            """
            UPDATE users.users SET active = \(active) WHERE username = \(username) AND kind = 'person'
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        return try await Self.decode(rows).first
    }

    func recordLogin(id: UUID) async throws {
        try await database.client.query("UPDATE users.users SET last_login = now() WHERE id = \(id)", logger: logger)
    }

    func delete(id: UUID) async throws -> Bool {
        let rows = try await database.client.query("DELETE FROM users.users WHERE id = \(id) RETURNING id", logger: logger)
        var deleted = false
        for try await _ in rows { deleted = true }
        return deleted
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [UserRecord] {
        var users: [UserRecord] = []
        for try await (id, username, email, fullName, active, admin, created, lastLogin, kind) in rows.decode(
            (UUID, String, String, String, Bool, Bool, Date, Date?, String).self)
        {
            users.append(
                UserRecord(
                    id: id, username: username, email: email, fullName: fullName, active: active, admin: admin,
                    namespace: UserRecord.namespace(for: username), createdAt: created, lastLogin: lastLogin, kind: kind))
        }
        return users
    }
}
