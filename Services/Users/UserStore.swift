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

    private static let columns = "id, username, email, full_name, active, admin, created_at, last_login"

    func create(username: String, email: String, fullName: String, active: Bool, admin: Bool) async throws -> UserRecord {
        let id = UUID()
        do {
            let rows = try await database.client.query(
                """
                INSERT INTO users.users (id, username, email, full_name, active, admin)
                VALUES (\(id), \(username), \(email), \(fullName), \(active), \(admin))
                RETURNING id, username, email, full_name, active, admin, created_at, last_login
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
            "SELECT \(unescaped: Self.columns) FROM users.users ORDER BY username", logger: logger)
        return try await Self.decode(rows)
    }

    func setActive(username: String, active: Bool) async throws -> UserRecord? {
        let rows = try await database.client.query(
            """
            UPDATE users.users SET active = \(active) WHERE username = \(username)
            RETURNING id, username, email, full_name, active, admin, created_at, last_login
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
        for try await (id, username, email, fullName, active, admin, created, lastLogin) in rows.decode(
            (UUID, String, String, String, Bool, Bool, Date, Date?).self)
        {
            users.append(
                UserRecord(
                    id: id, username: username, email: email, fullName: fullName, active: active, admin: admin,
                    namespace: UserRecord.namespace(for: username), createdAt: created, lastLogin: lastLogin))
        }
        return users
    }
}
