import Foundation
import Logging
import PostgresNIO

/// One numbered step of a service's schema. Statements run one by one (the
/// extended protocol takes one statement a query) inside one transaction.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var statements: [String]

    public init(_ version: Int, _ name: String, _ statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Brings a service's own schema up to date at start-up. Replicas starting at
/// once serialise on a PostgreSQL advisory lock keyed by the schema name, so
/// exactly one applies each migration and the others see it done.
public struct MigrationRunner: Sendable {
    public let schema: String
    public let migrations: [Migration]

    public init(schema: String, migrations: [Migration]) {
        precondition(schema.allSatisfy { $0.isLetter || $0 == "_" }, "schema names are plain identifiers")
        precondition(Set(migrations.map(\.version)).count == migrations.count, "migration versions are unique")
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// A stable 63-bit key for `pg_advisory_lock`, derived from the schema name (FNV-1a).
    public var lockKey: Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "knot-migrations:\(schema)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int64(bitPattern: hash & 0x7FFF_FFFF_FFFF_FFFF)
    }

    /// Applies what is missing; returns the versions it applied.
    @discardableResult
    public func run(on database: Database) async throws -> [Int] {
        let logger = database.logger
        let key = lockKey
        return try await database.client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(key))", logger: logger)
            do {
                let applied = try await apply(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                throw error
            }
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TABLE IF NOT EXISTS \(schema).schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())
                    """), logger: logger)
        var done: Set<Int> = []
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT version FROM \(schema).schema_migrations"), logger: logger)
        for try await version in rows.decode(Int.self) { done.insert(version) }

        var applied: [Int] = []
        for migration in migrations where !done.contains(migration.version) {
            try await connection.withTransaction(logger: logger) { tx in
                for statement in migration.statements {
                    try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                var record = PostgresQuery(
                    unsafeSQL: "INSERT INTO \(schema).schema_migrations (version, name) VALUES ($1, $2)")
                record.binds.append(migration.version)
                record.binds.append(migration.name)
                try await tx.query(record, logger: logger)
            }
            logger.info("applied migration", metadata: ["schema": "\(schema)", "version": "\(migration.version)", "name": "\(migration.name)"])
            applied.append(migration.version)
        }
        return applied
    }
}
