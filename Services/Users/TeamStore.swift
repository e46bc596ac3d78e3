import Foundation
import KnotDatabase
import KnotErrors
import KnotModels
import PostgresNIO

/// Teams and who is in them. A team is a row of `users.users` of kind `team`
/// (so it has a namespace and a folder like a person); memberships give
/// people a role in it.
struct TeamStore: Sendable {
    let database: Database

    struct Member: Codable, Sendable {
        var username: String
        var fullName: String
        var role: String
        enum CodingKeys: String, CodingKey {
            case username, role
            case fullName = "full_name"
        }
    }

    /// Creates the team with its first owner, in one transaction.
    func create(name: String, fullName: String, owner: UUID) async throws -> UserRecord {
        let logger = database.logger
        do {
            return try await database.transaction { tx in
                let id = UUID()
                let rows = try await tx.query(
                    """
                    INSERT INTO users.users (id, username, email, full_name, active, admin, kind)
                    VALUES (\(id), \(name), '', \(fullName), true, false, 'team')
                    RETURNING \(unescaped: UserStore.columns)
                    """, logger: logger)
                guard let team = try await UserStore.decode(rows).first else { throw KnotError.internalError() }
                try await tx.query(
                    "INSERT INTO users.memberships (team_id, user_id, role) VALUES (\(id), \(owner), 'owner')", logger: logger)
                return team
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw KnotError.conflict("the name \"\(name)\" is taken", code: "username_taken")
        }
    }

    func team(named name: String) async throws -> UserRecord? {
        let rows = try await database.client.query(
            "SELECT \(unescaped: UserStore.columns) FROM users.users WHERE username = \(name) AND kind = 'team'", logger: database.logger)
        return try await UserStore.decode(rows).first
    }

    func all() async throws -> [UserRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: UserStore.columns) FROM users.users WHERE kind = 'team' ORDER BY username", logger: database.logger)
        return try await UserStore.decode(rows)
    }

    func role(of user: UUID, in team: UUID) async throws -> String? {
        let rows = try await database.client.query(
            "SELECT role FROM users.memberships WHERE team_id = \(team) AND user_id = \(user)", logger: database.logger)
        for try await role in rows.decode(String.self) { return role }
        return nil
    }

    /// The teams a person is in, with their role in each.
    func memberships(of user: UUID) async throws -> [TeamMembership] {
        let rows = try await database.client.query(
            """
            SELECT t.username, t.id, m.role FROM users.memberships m JOIN users.users t ON t.id = m.team_id
            WHERE m.user_id = \(user) AND t.active ORDER BY t.username
            """, logger: database.logger)
        var result: [TeamMembership] = []
        for try await (name, id, role) in rows.decode((String, UUID, String).self) {
            result.append(TeamMembership(team: name, teamID: id, role: role))
        }
        return result
    }

    func members(of team: UUID) async throws -> [Member] {
        let rows = try await database.client.query(
            """
            SELECT u.username, u.full_name, m.role FROM users.memberships m JOIN users.users u ON u.id = m.user_id
            WHERE m.team_id = \(team) ORDER BY u.username
            """, logger: database.logger)
        var result: [Member] = []
        for try await (name, fullName, role) in rows.decode((String, String, String).self) {
            result.append(Member(username: name, fullName: fullName, role: role))
        }
        return result
    }

    /// Adds or changes a member. A team never loses its last owner.
    func setRole(team: UUID, user: UUID, role: String) async throws {
        let logger = database.logger
        try await database.transaction { tx in
            // Serialises changes to one team's owners.
            try await tx.query("SELECT id FROM users.users WHERE id = \(team) FOR UPDATE", logger: logger)
            try await tx.query(
                """
                INSERT INTO users.memberships (team_id, user_id, role) VALUES (\(team), \(user), \(role))
                ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role
                """, logger: logger)
            try await Self.requireAnOwner(team, tx, logger: logger)
        }
    }

    func remove(team: UUID, user: UUID) async throws -> Bool {
        let logger = database.logger
        return try await database.transaction { tx in
            try await tx.query("SELECT id FROM users.users WHERE id = \(team) FOR UPDATE", logger: logger)
            let rows = try await tx.query(
                "DELETE FROM users.memberships WHERE team_id = \(team) AND user_id = \(user) RETURNING user_id", logger: logger)
            var removed = false
            for try await _ in rows.decode(UUID.self) { removed = true }
            try await Self.requireAnOwner(team, tx, logger: logger)
            return removed
        }
    }

    private static func requireAnOwner(_ team: UUID, _ tx: PostgresConnection, logger: Logger) async throws {
        let rows = try await tx.query(
            "SELECT count(*) FROM users.memberships WHERE team_id = \(team) AND role = 'owner'", logger: logger)
        for try await count in rows.decode(Int.self) where count == 0 {
            throw KnotError.conflict("a team needs at least one owner; make someone else owner first", code: "last_owner")
        }
    }
}

/// Notifications kept per person: listed newest first with read or unread,
/// dropped after `retention`.
struct MessageStore: Sendable {
    let database: Database
    let retention: TimeInterval

    struct Message: Codable, Sendable {
        var id: Int64
        var kind: String
        var text: String
        var createdAt: Date
        var read: Bool
        enum CodingKeys: String, CodingKey {
            case id, kind, text, read
            case createdAt = "created_at"
        }
    }

    static let kinds: Set<String> = ["service.ready", "service.failed", "service.stopped", "account.activated", "quota.near", "team.added", "notice"]

    func post(user: UUID, kind: String, text: String) async throws {
        guard Self.kinds.contains(kind) else { throw KnotError.badRequest("unknown message kind \(kind.prefix(40))") }
        guard !text.isEmpty, text.count <= 1000 else { throw KnotError.badRequest("a message has 1 to 1000 characters") }
        try await database.client.query(
            "INSERT INTO users.messages (user_id, kind, text) VALUES (\(user), \(kind), \(text))", logger: database.logger)
    }

    func list(user: UUID, limit: Int) async throws -> (messages: [Message], unread: Int) {
        let horizon = Date().addingTimeInterval(-retention)
        let rows = try await database.client.query(
            """
            SELECT id, kind, text, created_at, read_at IS NOT NULL FROM users.messages
            WHERE user_id = \(user) AND created_at > \(horizon) ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """, logger: database.logger)
        var messages: [Message] = []
        for try await (id, kind, text, created, read) in rows.decode((Int64, String, String, Date, Bool).self) {
            messages.append(Message(id: id, kind: kind, text: text, createdAt: created, read: read))
        }
        let counted = try await database.client.query(
            "SELECT count(*) FROM users.messages WHERE user_id = \(user) AND read_at IS NULL AND created_at > \(horizon)",
            logger: database.logger)
        var unread = 0
        for try await count in counted.decode(Int.self) { unread = count }
        return (messages, unread)
    }

    /// Marks one message (or, with nil, all) read; false when there is no such message of this person.
    func markRead(user: UUID, id: Int64?) async throws -> Bool {
        let rows = try await database.client.query(
            """
            UPDATE users.messages SET read_at = now()
            WHERE user_id = \(user) AND read_at IS NULL AND (\(id)::bigint IS NULL OR id = \(id)) RETURNING id
            """, logger: database.logger)
        var changed = false
        for try await _ in rows.decode(Int64.self) { changed = true }
        if changed || id == nil { return true }
        let exists = try await database.client.query(
            "SELECT 1 FROM users.messages WHERE user_id = \(user) AND id = \(id)", logger: database.logger)
        for try await _ in exists.decode(Int.self) { return true }
        return false
    }

    func sweep() async throws {
        let horizon = Date().addingTimeInterval(-retention)
        try await database.client.query("DELETE FROM users.messages WHERE created_at < \(horizon)", logger: database.logger)
    }
}
