import Foundation
import KnotDatabase
import KnotErrors
import KnotInternalClient
import KnotModels
import Logging
import PostgresNIO

/// A service a person launched, as the API shows it.
struct ServiceRecord: Codable, Sendable {
    var id: UUID
    var owner: String
    var name: String
    var template: String
    var host: String
    var url: String
    var values: [String: String]
    var status: String
    var message: String
    /// Launched from an `auth: no` template: opened without signing in.
    var isPublic: Bool
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, owner, name, template, host, url, values, status, message
        case isPublic = "public"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// Reads and writes `launcher.services` and `launcher.routes`. Every change to
/// a route notifies `knot_routes` in the same transaction, so an edge never
/// hears of a route that was rolled back.
struct ServiceStore: Sendable {
    let database: Database
    let publicURL: @Sendable (String) -> String
    var logger: Logger { database.logger }

    private static let columns = "id, owner, name, template, host, values::text, status, message, public, created_at, updated_at"

    func insert(
        owner: String, name: String, template: String, host: String, values: [String: String], isPublic: Bool = false
    ) async throws -> ServiceRecord {
        let id = UUID()
        let json = String(decoding: try JSONEncoder.knot.encode(values), as: UTF8.self)
        do {
            let rows = try await database.client.query(
                """
                INSERT INTO launcher.services (id, owner, name, template, host, values, status, message, public)
                VALUES (\(id), \(owner), \(name), \(template), \(host), \(json)::jsonb, 'starting', 'starting', \(isPublic))
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            guard let record = try await decode(rows).first else { throw KnotError.internalError() }
            return record
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw KnotError.conflict("a service at \(host) already exists", code: "service_exists")
        }
    }

    func find(owner: String, name: String) async throws -> ServiceRecord? {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE owner = \(owner) AND name = \(name)", logger: logger)
        return try await decode(rows).first
    }

    func list(owner: String) async throws -> [ServiceRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE owner = \(owner) ORDER BY created_at", logger: logger)
        return try await decode(rows)
    }

    /// Services that should be running (after a restart of the launcher, say).
    func wanted() async throws -> [ServiceRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE status IN ('starting', 'running') ORDER BY created_at",
            logger: logger)
        return try await decode(rows)
    }

    /// Records a status; with an upstream the route is added (public if the
    /// service is), without one it is removed.
    func setStatus(id: UUID, status: String, message: String, upstream: String?) async throws {
        let logger = self.logger
        try await database.transaction { tx in
            let rows = try await tx.query(
                """
                UPDATE launcher.services SET status = \(status), message = \(message), updated_at = now()
                WHERE id = \(id) RETURNING owner, host, public
                """, logger: logger)
            var found: (String, String, Bool)?
            for try await row in rows.decode((String, String, Bool).self) { found = row }
            guard let (owner, host, isPublic) = found else { return }
            if let upstream {
                try await tx.query(
                    """
                    INSERT INTO launcher.routes (host, service_id, owner, upstream, public)
                    VALUES (\(host), \(id), \(owner), \(upstream), \(isPublic))
                    ON CONFLICT (host) DO UPDATE SET upstream = EXCLUDED.upstream, public = EXCLUDED.public
                    """, logger: logger)
            } else {
                try await tx.query("DELETE FROM launcher.routes WHERE service_id = \(id)", logger: logger)
            }
            try await Database.notify(LauncherSchema.routesChannel, payload: host, on: tx, logger: logger)
        }
    }

    func delete(id: UUID, host: String) async throws {
        let logger = self.logger
        try await database.transaction { tx in
            try await tx.query("DELETE FROM launcher.services WHERE id = \(id)", logger: logger)
            try await Database.notify(LauncherSchema.routesChannel, payload: host, on: tx, logger: logger)
        }
    }

    func routes() async throws -> [RouteEntry] {
        let rows = try await database.client.query(
            """
            SELECT r.host, r.owner, r.upstream, s.name, r.public FROM launcher.routes r
            JOIN launcher.services s ON s.id = r.service_id ORDER BY r.host
            """, logger: logger)
        var routes: [RouteEntry] = []
        for try await (host, owner, upstream, name, isPublic) in rows.decode((String, String, String, String, Bool).self) {
            routes.append(RouteEntry(host: host, owner: owner, upstream: upstream, service: name, isPublic: isPublic))
        }
        return routes
    }

    private func decode(_ rows: PostgresRowSequence) async throws -> [ServiceRecord] {
        var records: [ServiceRecord] = []
        for try await (id, owner, name, template, host, valuesJSON, status, message, isPublic, created, updated) in rows.decode(
            (UUID, String, String, String, String, String, String, String, Bool, Date, Date).self)
        {
            let values = (try? JSONDecoder().decode([String: String].self, from: Data(valuesJSON.utf8))) ?? [:]
            records.append(
                ServiceRecord(
                    id: id, owner: owner, name: name, template: template, host: host, url: publicURL(host) + "/",
                    values: values, status: status, message: message, isPublic: isPublic, createdAt: created, updatedAt: updated))
        }
        return records
    }
}
