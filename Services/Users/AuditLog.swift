import Foundation
import KnotDatabase
import KnotErrors
import PostgresNIO

/// Who did what to whom, and how it went: admin actions, impersonation,
/// activation, token creation. Admins read all of it; everyone reads the
/// entries about themselves (as actor or subject), so impersonation is never
/// hidden from the person impersonated.
struct AuditLog: Sendable {
    let database: Database

    struct Entry: Codable, Sendable {
        var id: Int64?
        var at: Date?
        var actor: String
        var action: String
        var subject: String?
        var outcome: String?
        var detail: String?
    }

    func record(_ entry: Entry) async throws {
        for (name, value, limit) in [("actor", entry.actor, 64), ("action", entry.action, 64)] {
            guard !value.isEmpty, value.count <= limit else { throw KnotError.badRequest("\(name) must be 1 to \(limit) characters") }
        }
        try await database.client.query(
            """
            INSERT INTO users.audit (actor, action, subject, outcome, detail)
            VALUES (\(entry.actor), \(entry.action), \(String((entry.subject ?? "").prefix(64))), \(String((entry.outcome ?? "ok").prefix(32))),
                \(String((entry.detail ?? "").prefix(1000))))
            """, logger: database.logger)
    }

    /// Newest first; `about` limits to entries naming that user; `query` searches action and detail.
    func search(about username: String?, query: String?, limit: Int) async throws -> [Entry] {
        let pattern = query.map { "%" + $0.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%" }
        let rows = try await database.client.query(
            """
            SELECT id, at, actor, action, subject, outcome, detail FROM users.audit
            WHERE (\(username)::text IS NULL OR actor = \(username) OR subject = \(username))
              AND (\(pattern)::text IS NULL OR action ILIKE \(pattern) OR detail ILIKE \(pattern) OR actor ILIKE \(pattern) OR subject ILIKE \(pattern))
            ORDER BY at DESC, id DESC LIMIT \(limit)
            """, logger: database.logger)
        var entries: [Entry] = []
        for try await (id, at, actor, action, subject, outcome, detail) in rows.decode((Int64, Date, String, String, String, String, String).self) {
            entries.append(Entry(id: id, at: at, actor: actor, action: action, subject: subject, outcome: outcome, detail: detail))
        }
        return entries
    }
}
