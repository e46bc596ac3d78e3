import Foundation
import Logging
import PostgresNIO
import XCTest

@testable import KnotConfig
@testable import KnotDatabase

/// Against the real PostgreSQL that scripts/test starts (KNOT_TEST_DB_PORT).
final class DatabaseTests: DatabaseTestCase {
    func schemaName() -> String { "test_" + UUID().uuidString.lowercased().filter(\.isLetter).prefix(12) }

    func testRacingReplicasApplyEachMigrationOnce() async throws {
        let schema = schemaName()
        let runner = MigrationRunner(
            schema: schema,
            migrations: [
                Migration(1, "table", ["CREATE TABLE \(schema).things (id int PRIMARY KEY)"]),
                Migration(2, "row", ["INSERT INTO \(schema).things VALUES (1)"]),
            ])
        let database = self.database!
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 { group.addTask { try await runner.run(on: database) } }
            var all: [[Int]] = []
            for try await applied in group { all.append(applied) }
            return all
        }
        XCTAssertEqual(results.flatMap { $0 }.sorted(), [1, 2])
        let again = try await runner.run(on: database)
        XCTAssertEqual(again, [])
        let rows = try await database.client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(schema).things"))
        for try await count in rows.decode(Int.self) { XCTAssertEqual(count, 1) }
    }

    func testAFailingMigrationLeavesNothingBehind() async throws {
        let schema = schemaName()
        let good = Migration(1, "table", ["CREATE TABLE \(schema).things (id int PRIMARY KEY)"])
        let bad = Migration(2, "half", ["CREATE TABLE \(schema).other (id int)", "INSERT INTO \(schema).nope VALUES (1)"])
        do {
            try await MigrationRunner(schema: schema, migrations: [good, bad]).run(on: database)
            XCTFail("the broken migration should fail")
        } catch {}
        let rows = try await database.client.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = \(schema) AND table_name = 'other'")
        for try await count in rows.decode(Int.self) { XCTAssertEqual(count, 0, "half a migration was left behind") }
        let fixed = Migration(2, "fixed", ["CREATE TABLE \(schema).other (id int)"])
        let applied = try await MigrationRunner(schema: schema, migrations: [good, fixed]).run(on: database)
        XCTAssertEqual(applied, [2])
    }

    func testListenerResyncsThenHearsNotifications() async throws {
        let channel = "knot_test_" + UUID().uuidString.lowercased().filter(\.isLetter).prefix(8)
        let events = Events()
        let listener = ChannelListener(
            database: database, channel: channel, resync: { await events.add("resync") }, onNotify: { await events.add($0) })
        let task = Task { try await listener.run() }
        defer { task.cancel() }
        try await events.wait(for: "resync")
        // Keep notifying until the LISTEN is established (resync runs just before).
        for _ in 0..<50 {
            try await database.notify(channel, payload: "hello")
            if await events.contains("hello") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let heard = await events.contains("hello")
        XCTAssertTrue(heard)
    }

    func testReachability() async throws {
        let reachable = await database.isReachable()
        XCTAssertTrue(reachable)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let nowhere = Database(settings: .init(host: "127.0.0.1", port: 1, user: "knot", password: nil, name: "knot"), logger: logger)
        let client = nowhere.client
        let pool = Task { await client.run() }
        defer { pool.cancel() }
        let unreachable = await nowhere.isReachable()
        XCTAssertFalse(unreachable)
    }
}

actor Events {
    var seen: [String] = []
    func add(_ event: String) { seen.append(event) }
    func contains(_ event: String) -> Bool { seen.contains(event) }
    func wait(for event: String) async throws {
        for _ in 0..<100 {
            if seen.contains(event) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("never saw \(event)")
    }
}
