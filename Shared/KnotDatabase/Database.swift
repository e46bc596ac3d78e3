import Foundation
import KnotConfig
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// A service's handle on the shared PostgreSQL database: a connection pool
/// (which must be run as a lifecycle service) and a way to open dedicated
/// connections for LISTEN.
public struct Database: Sendable {
    public let client: PostgresClient
    public let settings: KnotSettings.Database
    public let logger: Logger

    public init(settings: KnotSettings.Database, logger: Logger) {
        self.settings = settings
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user,
            password: settings.password, database: settings.name, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 20
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// True when a trivial query succeeds within two seconds: what `/readyz` asks.
    public func isReachable() async -> Bool {
        do {
            return try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await client.query("SELECT 1", logger: logger)
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(2))
                    return false
                }
                let first = try await group.next() ?? false
                group.cancelAll()
                return first
            }
        } catch {
            return false
        }
    }

    /// Sends a NOTIFY (inside or outside a transaction; inside, it fires on commit).
    public static func notify(_ channel: String, payload: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
    }

    public func notify(_ channel: String, payload: String = "") async throws {
        try await client.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
    }

    /// A connection outside the pool, for long-lived LISTEN sessions.
    func dedicatedConnection() async throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user,
            password: settings.password, database: settings.name, tls: .disable)
        return try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
            id: Int.random(in: 1...Int(Int32.max)), logger: logger
        ).get()
    }
}

extension Database {
    /// Runs `body` in one transaction. An error thrown inside comes out as
    /// itself (PostgresNIO wraps it in `PostgresTransactionError`), so callers
    /// catch a `KnotError` or a unique violation as if there were no transaction.
    public func transaction<Result>(
        file: String = #fileID, line: Int = #line, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        do {
            return try await client.withTransaction(logger: logger, file: file, line: line, isolation: isolation, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }
}
