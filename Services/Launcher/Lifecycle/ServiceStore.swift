import Foundation
import KnotConfig
import KnotDatabase
import KnotErrors
import KnotInternalClient
import KnotModels
import KnotRuntime
import Logging
import PostgresNIO

/// A service a person launched, as the API shows it.
struct ServiceRecord: Encodable, Sendable {
    var id: UUID
    var owner: String
    var name: String
    var template: String
    /// The template's version when the service was launched (or last upgraded).
    var templateVersion: String
    var host: String
    var url: String
    var values: [String: String]
    /// `starting`, `ready`, `failed`, `stopping` or `stopped`.
    var status: String
    /// Why it waits, failed or stopped, as a short code (`WorkloadReason`,
    /// or `idle`, `lifetime`, `deactivated`); empty when there is nothing to say.
    var reason: String
    var message: String
    var readyReplicas: Int
    var desiredReplicas: Int
    var restarts: Int
    /// Launched from an `auth: no` template: opened without signing in.
    var isPublic: Bool
    var createdAt: Date
    var updatedAt: Date
    /// When it was last started (launched, started, upgraded): what its lifetime counts from.
    var startedAt: Date
    /// The last request the edge forwarded to it, as the edge reported.
    var lastActivity: Date?
    /// When it will be stopped for want of use, and when for its age, while it runs and culling applies.
    var cullAfter: Date?
    var expiresAt: Date?
    /// The catalogue holds a newer version of its template (filled in by the API).
    var upgradeAvailable = false
    var latestVersion: String?
    /// Live parts, pods and events (only `GET /services/<name>`).
    var details: WorkloadDetails?

    // Kept, not shown.
    var spec: StoredSpec?
    var idleLimitSeconds: Int?
    var lifetimeLimitSeconds: Int?

    enum CodingKeys: String, CodingKey {
        case id, owner, name, template, host, url, values, status, reason, message, restarts, details
        case templateVersion = "template_version"
        case readyReplicas = "ready_replicas"
        case desiredReplicas = "desired_replicas"
        case isPublic = "public"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case lastActivity = "last_activity"
        case cullAfter = "cull_after"
        case expiresAt = "expires_at"
        case upgradeAvailable = "upgrade_available"
        case latestVersion = "latest_version"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(owner, forKey: .owner)
        try container.encode(name, forKey: .name)
        try container.encode(template, forKey: .template)
        try container.encode(templateVersion, forKey: .templateVersion)
        try container.encode(host, forKey: .host)
        try container.encode(url, forKey: .url)
        try container.encode(values, forKey: .values)
        try container.encode(status, forKey: .status)
        try container.encode(reason, forKey: .reason)
        try container.encode(message, forKey: .message)
        try container.encode(readyReplicas, forKey: .readyReplicas)
        try container.encode(desiredReplicas, forKey: .desiredReplicas)
        try container.encode(restarts, forKey: .restarts)
        try container.encode(isPublic, forKey: .isPublic)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(lastActivity, forKey: .lastActivity)
        try container.encode(cullAfter, forKey: .cullAfter)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(upgradeAvailable, forKey: .upgradeAvailable)
        try container.encode(latestVersion, forKey: .latestVersion)
        try container.encodeIfPresent(details, forKey: .details)
    }

    var ref: WorkloadRef { Supervisor.ref(id, owner: owner) }
    /// The person wants it running (it may be starting, restarting or failing).
    var isWanted: Bool { ["starting", "ready"].contains(status) }
}

/// What was rendered for a service, kept so that starting it again (after a
/// stop, or a restart of the launcher) runs what was launched even when the
/// catalogue now has a newer template.
struct StoredSpec: Codable, Sendable, Equatable {
    var process: ProcessSpec?
    var manifests: String?
}

/// Culling, off when zero: a service is stopped `idleSeconds` after its last
/// request (or its start), and `lifetimeSeconds` after its start. A template's
/// own limits, recorded on the service, win.
struct CullingSettings: Sendable, Equatable {
    var idleSeconds = 0
    var lifetimeSeconds = 0

    /// The installation's limits (`CullingLimits`, from the environment).
    static func from(_ environment: [String: String]) throws -> CullingSettings {
        let limits = try CullingLimits.from(environment)
        return CullingSettings(idleSeconds: limits.idleSeconds, lifetimeSeconds: limits.lifetimeSeconds)
    }

    func idleLimit(_ record: ServiceRecord) -> Int { record.idleLimitSeconds ?? idleSeconds }
    func lifetimeLimit(_ record: ServiceRecord) -> Int { record.lifetimeLimitSeconds ?? lifetimeSeconds }

    /// When the service will be stopped for want of use (nil: never, or it is not running).
    func cullAfter(_ record: ServiceRecord) -> Date? {
        let limit = idleLimit(record)
        guard limit > 0, record.isWanted else { return nil }
        return max(record.startedAt, record.lastActivity ?? record.startedAt).addingTimeInterval(TimeInterval(limit))
    }

    func expiresAt(_ record: ServiceRecord) -> Date? {
        let limit = lifetimeLimit(record)
        guard limit > 0, record.isWanted else { return nil }
        return record.startedAt.addingTimeInterval(TimeInterval(limit))
    }

    enum Verdict: Equatable { case idle(seconds: Int), lifetime(seconds: Int) }

    /// Whether the service is due to be stopped at `now`, and why.
    func verdict(_ record: ServiceRecord, now: Date) -> Verdict? {
        if let expires = expiresAt(record), expires <= now { return .lifetime(seconds: lifetimeLimit(record)) }
        if let cull = cullAfter(record), cull <= now { return .idle(seconds: idleLimit(record)) }
        return nil
    }

    /// "30 minutes", "2 hours", "5 seconds": how long a limit is, in words.
    static func words(_ seconds: Int) -> String {
        func unit(_ n: Int, _ name: String) -> String { "\(n) \(name)\(n == 1 ? "" : "s")" }
        if seconds % 3600 == 0 { return unit(seconds / 3600, "hour") }
        if seconds % 60 == 0 { return unit(seconds / 60, "minute") }
        return unit(seconds, "second")
    }
}

/// What a status change does to the service's route.
enum RouteChange: Sendable, Equatable {
    /// Leave it as it is.
    case keep
    /// Send traffic to this upstream.
    case serve(String)
    /// Keep it, marked stopped: the edge says the service is stopped.
    case stopped
    /// Take it away.
    case withdraw
}

/// Reads and writes `launcher.services` and `launcher.routes`. Every change to
/// a route notifies `knot_routes` in the same transaction, so an edge never
/// hears of a route that was rolled back; every change to a service notifies
/// `knot_services` (a trigger) for the event streams.
struct ServiceStore: Sendable {
    let database: Database
    let publicURL: @Sendable (String) -> String
    var culling = CullingSettings()
    var logger: Logger { database.logger }

    private static let columns = """
        id, owner, name, template, template_version, host, values::text, status, reason, message, ready_replicas, \
        desired_replicas, restarts, public, created_at, updated_at, started_at, last_activity, spec::text, \
        idle_limit_seconds, lifetime_limit_seconds
        """

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder.knot.encode(value), as: UTF8.self)
    }

    func insert(
        owner: String, name: String, template: String, templateVersion: String = "", host: String, values: [String: String],
        isPublic: Bool = false, spec: StoredSpec? = nil, idleLimitSeconds: Int? = nil, lifetimeLimitSeconds: Int? = nil
    ) async throws -> ServiceRecord {
        let id = UUID()
        let valuesJSON = try Self.json(values)
        let specJSON = try spec.map(Self.json)
        do {
            let rows = try await database.client.query(
                """
                INSERT INTO launcher.services (id, owner, name, template, template_version, host, values, status, reason, message, public,
                    spec, idle_limit_seconds, lifetime_limit_seconds, desired_replicas)
                VALUES (\(id), \(owner), \(name), \(template), \(templateVersion), \(host), \(valuesJSON)::jsonb, 'starting', 'pending',
                    'starting', \(isPublic), \(specJSON)::jsonb, \(idleLimitSeconds), \(lifetimeLimitSeconds), 1)
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

    func find(id: UUID) async throws -> ServiceRecord? {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE id = \(id)", logger: logger)
        return try await decode(rows).first
    }

    func list(owner: String) async throws -> [ServiceRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE owner = \(owner) ORDER BY created_at, name", logger: logger)
        return try await decode(rows)
    }

    /// Services that should be running (after a restart of the launcher, say).
    func wanted() async throws -> [ServiceRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE status IN ('starting', 'ready') ORDER BY created_at",
            logger: logger)
        return try await decode(rows)
    }

    /// Services whose live status the supervisor keeps: wanted, or failed (which Kubernetes may yet mend).
    func watched() async throws -> [ServiceRecord] {
        let rows = try await database.client.query(
            "SELECT \(unescaped: Self.columns) FROM launcher.services WHERE status IN ('starting', 'ready', 'failed') ORDER BY created_at",
            logger: logger)
        return try await decode(rows)
    }

    /// Running services that culling may concern (any limit set anywhere).
    func cullable() async throws -> [ServiceRecord] {
        let anyGlobal = culling.idleSeconds > 0 || culling.lifetimeSeconds > 0
        let rows = try await database.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM launcher.services WHERE status IN ('starting', 'ready')
            AND (\(anyGlobal) OR idle_limit_seconds IS NOT NULL OR lifetime_limit_seconds IS NOT NULL)
            """, logger: logger)
        return try await decode(rows)
    }

    /// Records a status (only what differs: no write, no notification when
    /// nothing changed) and changes the route as asked. `restarted` moves the
    /// start time (what lifetime and idleness count from) to now. Nil
    /// replicas and restarts leave the recorded ones. With `expecting`, nothing
    /// happens unless the recorded status is that one. True when anything changed.
    @discardableResult
    func update(
        id: UUID, status: String, message: String, reason: String = "", ready: Int? = nil, desired: Int? = nil, restarts: Int? = nil,
        route: RouteChange, restarted: Bool = false, expecting: String? = nil
    ) async throws -> Bool {
        let logger = self.logger
        return try await database.transaction { tx in
            let current = try await tx.query("SELECT status FROM launcher.services WHERE id = \(id) FOR UPDATE", logger: logger)
            var recorded: String?
            for try await status in current.decode(String.self) { recorded = status }
            guard let recorded, expecting == nil || expecting == recorded else { return false }
            let rows = try await tx.query(
                """
                UPDATE launcher.services SET status = \(status), message = \(message), reason = \(reason),
                    ready_replicas = COALESCE(\(ready), ready_replicas), desired_replicas = COALESCE(\(desired), desired_replicas),
                    restarts = COALESCE(\(restarts), restarts), updated_at = now(),
                    started_at = CASE WHEN \(restarted) THEN now() ELSE started_at END
                WHERE id = \(id) AND (\(restarted) OR (status, message, reason, ready_replicas, desired_replicas, restarts)
                    IS DISTINCT FROM (\(status), \(message), \(reason), COALESCE(\(ready), ready_replicas),
                        COALESCE(\(desired), desired_replicas), COALESCE(\(restarts), restarts)))
                RETURNING owner, host, public
                """, logger: logger)
            var found: (String, String, Bool)?
            for try await row in rows.decode((String, String, Bool).self) { found = row }
            let routeChanged = try await Self.changeRoute(route, id: id, on: tx, logger: logger)
            return found != nil || routeChanged
        }
    }

    /// Applies a route change; true (and `knot_routes` notified) when the table changed.
    static func changeRoute(_ change: RouteChange, id: UUID, on tx: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows: PostgresRowSequence
        switch change {
        case .keep:
            return false
        case .serve(let upstream):
            rows = try await tx.query(
                """
                INSERT INTO launcher.routes (host, service_id, owner, upstream, public, stopped)
                SELECT host, id, owner, \(upstream), public, false FROM launcher.services WHERE id = \(id)
                ON CONFLICT (host) DO UPDATE SET upstream = EXCLUDED.upstream, public = EXCLUDED.public, stopped = false
                WHERE routes.upstream IS DISTINCT FROM EXCLUDED.upstream OR routes.public IS DISTINCT FROM EXCLUDED.public OR routes.stopped
                RETURNING host
                """, logger: logger)
        case .stopped:
            rows = try await tx.query(
                "UPDATE launcher.routes SET stopped = true WHERE service_id = \(id) AND NOT stopped RETURNING host", logger: logger)
        case .withdraw:
            rows = try await tx.query("DELETE FROM launcher.routes WHERE service_id = \(id) RETURNING host", logger: logger)
        }
        var hosts: [String] = []
        for try await host in rows.decode(String.self) { hosts.append(host) }
        for host in hosts { try await Database.notify(LauncherSchema.routesChannel, payload: host, on: tx, logger: logger) }
        return !hosts.isEmpty
    }

    /// Before an upgrade: the new version, values and spec, and the template's limits.
    func upgrade(
        id: UUID, templateVersion: String, values: [String: String], spec: StoredSpec, idleLimitSeconds: Int?, lifetimeLimitSeconds: Int?
    ) async throws {
        let valuesJSON = try Self.json(values)
        let specJSON = try Self.json(spec)
        try await database.client.query(
            """
            UPDATE launcher.services SET template_version = \(templateVersion), values = \(valuesJSON)::jsonb, spec = \(specJSON)::jsonb,
                idle_limit_seconds = \(idleLimitSeconds), lifetime_limit_seconds = \(lifetimeLimitSeconds), updated_at = now()
            WHERE id = \(id)
            """, logger: logger)
    }

    /// Keeps the spec rendered for an old service (one launched before specs were kept).
    func keepSpec(id: UUID, spec: StoredSpec) async throws {
        let specJSON = try Self.json(spec)
        try await database.client.query(
            "UPDATE launcher.services SET spec = \(specJSON)::jsonb WHERE id = \(id) AND spec IS NULL", logger: logger)
    }

    func delete(id: UUID, host: String) async throws {
        let logger = self.logger
        try await database.transaction { tx in
            try await tx.query("DELETE FROM launcher.services WHERE id = \(id)", logger: logger)
            try await Database.notify(LauncherSchema.routesChannel, payload: host, on: tx, logger: logger)
        }
    }

    /// The edge's report of traffic: the last request per host, in Unix seconds.
    /// Only moves forward; unknown hosts are ignored. Returns how many services it touched.
    func recordActivity(_ hosts: [String: Double]) async throws -> Int {
        guard !hosts.isEmpty else { return 0 }
        let names = Array(hosts.keys)
        let times = names.map { hosts[$0]! }
        let rows = try await database.client.query(
            """
            UPDATE launcher.services s SET last_activity = to_timestamp(a.seen)
            FROM unnest(\(names)::text[], \(times)::float8[]) AS a(host, seen)
            WHERE s.host = a.host AND (s.last_activity IS NULL OR s.last_activity < to_timestamp(a.seen))
            RETURNING s.id
            """, logger: logger)
        var count = 0
        for try await _ in rows.decode(UUID.self) { count += 1 }
        return count
    }

    func routes() async throws -> [RouteEntry] {
        let rows = try await database.client.query(
            """
            SELECT r.host, r.owner, r.upstream, s.name, r.public, r.stopped FROM launcher.routes r
            JOIN launcher.services s ON s.id = r.service_id ORDER BY r.host
            """, logger: logger)
        var routes: [RouteEntry] = []
        for try await (host, owner, upstream, name, isPublic, stopped) in rows.decode((String, String, String, String, Bool, Bool).self) {
            routes.append(RouteEntry(host: host, owner: owner, upstream: upstream, service: name, isPublic: isPublic, stopped: stopped))
        }
        return routes
    }

    private func decode(_ rows: PostgresRowSequence) async throws -> [ServiceRecord] {
        var records: [ServiceRecord] = []
        for try await row in rows {
            let c = row.makeRandomAccess()
            let valuesJSON = try c[6].decode(String.self)
            let values = (try? JSONDecoder().decode([String: String].self, from: Data(valuesJSON.utf8))) ?? [:]
            let specJSON = try c[18].decode(String?.self)
            let spec = specJSON.flatMap { try? JSONDecoder().decode(StoredSpec.self, from: Data($0.utf8)) }
            let host = try c[5].decode(String.self)
            var record = ServiceRecord(
                id: try c[0].decode(UUID.self), owner: try c[1].decode(String.self), name: try c[2].decode(String.self),
                template: try c[3].decode(String.self), templateVersion: try c[4].decode(String.self), host: host,
                url: publicURL(host) + "/", values: values, status: try c[7].decode(String.self), reason: try c[8].decode(String.self),
                message: try c[9].decode(String.self), readyReplicas: try c[10].decode(Int.self), desiredReplicas: try c[11].decode(Int.self),
                restarts: try c[12].decode(Int.self), isPublic: try c[13].decode(Bool.self), createdAt: try c[14].decode(Date.self),
                updatedAt: try c[15].decode(Date.self), startedAt: try c[16].decode(Date.self), lastActivity: try c[17].decode(Date?.self),
                spec: spec, idleLimitSeconds: try c[19].decode(Int?.self), lifetimeLimitSeconds: try c[20].decode(Int?.self))
            record.cullAfter = culling.cullAfter(record)
            record.expiresAt = culling.expiresAt(record)
            records.append(record)
        }
        return records
    }
}
