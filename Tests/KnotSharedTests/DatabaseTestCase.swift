import Foundation
import Logging
import XCTest

@testable import KnotConfig
@testable import KnotDatabase

/// A test case against the real PostgreSQL that scripts/test starts
/// (`KNOT_TEST_DB_PORT`, `KNOT_TEST_DB_PASSWORD`); skipped without it. One
/// file, linked into both test targets.
class DatabaseTestCase: XCTestCase {
    var database: Database!
    var pool: Task<Void, Never>!

    override func setUp() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let port = env["KNOT_TEST_DB_PORT"].flatMap(Int.init) else {
            throw XCTSkip("no test database: run through scripts/test")
        }
        var logger = Logger(label: "test")
        logger.logLevel = .error
        database = Database(
            settings: .init(host: "127.0.0.1", port: port, user: "knot", password: env["KNOT_TEST_DB_PASSWORD"], name: "knot"),
            logger: logger)
        let client = database.client
        pool = Task { await client.run() }
    }

    override func tearDown() async throws {
        pool?.cancel()
    }
}
