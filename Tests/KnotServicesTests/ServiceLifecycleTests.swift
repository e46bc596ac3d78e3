import Foundation
@testable import KnotConfig
import KnotDatabase
import KnotRuntime
import Logging
import PostgresNIO
import XCTest

@testable import KnotLauncher

/// The launcher's lifecycle pieces that need no running services: version
/// comparison, culling arithmetic, names, event framing and routing.
final class ServiceLifecycleTests: XCTestCase {
    func testVersionsCompareNumericallyByPartsElseAsStrings() {
        XCTAssertTrue(TemplateVersion.isNewer("1.10", than: "1.9"))
        XCTAssertTrue(TemplateVersion.isNewer("2", than: "1.9.9"))
        XCTAssertTrue(TemplateVersion.isNewer("1.0.1", than: "1"))
        XCTAssertFalse(TemplateVersion.isNewer("1.0", than: "1"), "1.0 is 1")
        XCTAssertFalse(TemplateVersion.isNewer("1.9", than: "1.10"))
        XCTAssertFalse(TemplateVersion.isNewer("", than: "1"), "no version is never newer")
        XCTAssertTrue(TemplateVersion.isNewer("1", than: ""), "any version beats none")
        XCTAssertTrue(TemplateVersion.isNewer("2024-06b", than: "2024-06a"))
        XCTAssertFalse(TemplateVersion.isNewer("3", than: "3"))
    }

    func record(started: Date, activity: Date? = nil, idle: Int? = nil, lifetime: Int? = nil, status: String = "ready") -> ServiceRecord {
        ServiceRecord(
            id: UUID(), owner: "ada", name: "web", template: "t", templateVersion: "1", host: "web-ada.knot.localhost", url: "", values: [:],
            status: status, reason: "", message: "", readyReplicas: 1, desiredReplicas: 1, restarts: 0, isPublic: false, createdAt: started,
            updatedAt: started, startedAt: started, lastActivity: activity, idleLimitSeconds: idle, lifetimeLimitSeconds: lifetime)
    }

    func testCullingCountsFromTheLastRequestOrTheStartAndTemplatesOverride() throws {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let settings = CullingSettings(idleSeconds: 600, lifetimeSeconds: 0)
        let quiet = record(started: start)
        XCTAssertEqual(settings.cullAfter(quiet), start.addingTimeInterval(600))
        XCTAssertNil(settings.expiresAt(quiet))
        XCTAssertNil(settings.verdict(quiet, now: start.addingTimeInterval(599)))
        XCTAssertEqual(settings.verdict(quiet, now: start.addingTimeInterval(600)), .idle(seconds: 600))
        let used = record(started: start, activity: start.addingTimeInterval(500))
        XCTAssertNil(settings.verdict(used, now: start.addingTimeInterval(1000)))
        XCTAssertEqual(settings.verdict(used, now: start.addingTimeInterval(1100)), .idle(seconds: 600))
        // A template's limits win; lifetime counts from the start whatever the traffic.
        let own = record(started: start, activity: start.addingTimeInterval(7100), idle: 60, lifetime: 7200)
        XCTAssertEqual(settings.verdict(own, now: start.addingTimeInterval(7150)), nil)
        XCTAssertEqual(settings.verdict(own, now: start.addingTimeInterval(7200)), .lifetime(seconds: 7200))
        // Stopped services are not culled, and culling is off by default.
        XCTAssertNil(settings.cullAfter(record(started: start, status: "stopped")))
        XCTAssertNil(CullingSettings().verdict(quiet, now: start.addingTimeInterval(1e9)))

        XCTAssertEqual(try CullingSettings.from(["KNOT_CULL_IDLE_MINUTES": "30", "KNOT_MAX_LIFETIME_HOURS": "8"]), CullingSettings(idleSeconds: 1800, lifetimeSeconds: 28800))
        XCTAssertEqual(try CullingSettings.from(["KNOT_CULL_IDLE_MINUTES": "30", "KNOT_CULL_IDLE_SECONDS": "5"]).idleSeconds, 5)
        XCTAssertThrowsError(try CullingSettings.from(["KNOT_CULL_IDLE_MINUTES": "soon"]))
        XCTAssertEqual(CullingSettings.words(1800), "30 minutes")
        XCTAssertEqual(CullingSettings.words(3600), "1 hour")
        XCTAssertEqual(CullingSettings.words(45), "45 seconds")
    }

    func testSuffixedNamesStayValidAndFitTheAddress() throws {
        for _ in 0..<50 {
            let name = LauncherApp.suffixed("jupyter", owner: "ada")
            XCTAssertNotNil(name.range(of: "^jupyter-[a-z0-9]{4}$", options: .regularExpression), name)
            try TemplateRenderer.checkServiceName(name, owner: "ada")
        }
        let long = LauncherApp.suffixed(String(repeating: "a", count: 40), owner: String(repeating: "u", count: 30))
        try TemplateRenderer.checkServiceName(long, owner: String(repeating: "u", count: 30))
        let hyphen = LauncherApp.suffixed("ab-" + String(repeating: "c", count: 40), owner: String(repeating: "u", count: 54))
        XCTAssertFalse(hyphen.contains("--"), hyphen)
        XCTAssertEqual(hyphen.count, 7, hyphen)
        try TemplateRenderer.checkServiceName(hyphen, owner: String(repeating: "u", count: 54))
    }

    func testServerSentEventsFraming() {
        XCTAssertEqual(ServerSentEvents.event("snapshot", data: "{\"a\":1}"), "event: snapshot\ndata: {\"a\":1}\n\n")
        XCTAssertEqual(ServerSentEvents.event("x", data: "one\ntwo"), "event: x\ndata: one\ndata: two\n\n")
        XCTAssertEqual(ServerSentEvents.comment("keep-alive"), ": keep-alive\n\n")
    }

    func testTheHubGivesEachPersonOnlyTheirChanges() async throws {
        let hub = ServiceEventHub()
        let (_, ada) = await hub.subscribe(owner: "ada")
        let (bobID, bob) = await hub.subscribe(owner: "bob")
        await hub.publish(#"{"owner":"bob","name":"web","op":"update"}"#)
        await hub.publish(#"{"owner":"ada","name":"lab","op":"insert"}"#)
        await hub.publish("not json")
        await hub.resyncAll()
        var adaIterator = ada.makeAsyncIterator()
        let first = await adaIterator.next()
        XCTAssertEqual(first, .service(name: "lab", op: "insert"))
        let second = await adaIterator.next()
        XCTAssertEqual(second, .resync)
        var bobIterator = bob.makeAsyncIterator()
        let bobs = await bobIterator.next()
        XCTAssertEqual(bobs, .service(name: "web", op: "update"))
        await hub.unsubscribe(bobID)
        let count = await hub.count
        XCTAssertEqual(count, 1)
        await hub.finishAll()
        _ = await adaIterator.next()
        let ended = await adaIterator.next()
        XCTAssertNil(ended)
    }

    func testRuntimeStatusesMapToRecordedOnesAndRoutes() {
        XCTAssertEqual(Supervisor.recorded(WorkloadStatus(phase: .running, message: "", upstream: "http://x")).status, "ready")
        XCTAssertEqual(Supervisor.recorded(WorkloadStatus(phase: .running, message: "", upstream: "http://x")).route, .serve("http://x"))
        XCTAssertEqual(Supervisor.recorded(WorkloadStatus(phase: .starting, message: "")).route, .keep)
        XCTAssertEqual(Supervisor.recorded(WorkloadStatus(phase: .failed, message: "")).route, .withdraw)
        XCTAssertEqual(Supervisor.recorded(WorkloadStatus(phase: .stopped, message: "")).route, .stopped)
    }
}

/// The store against the real PostgreSQL that scripts/test starts: the
/// migration, change-only updates, routes marked stopped, activity, the
/// notification trigger, and listing 500 services.
final class ServiceStoreDatabaseTests: DatabaseTestCase {
    var owner = ""

    override func setUp() async throws {
        try await super.setUp()
        _ = try await LauncherSchema.migrations.run(on: database)
        owner = "t" + UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)
    }

    override func tearDown() async throws {
        if let database {
            try? await database.client.query("DELETE FROM launcher.services WHERE owner = \(owner)", logger: database.logger)
        }
        try await super.tearDown()
    }

    func testUpdatesRoutesActivityAndNotifications() async throws {
        let store = ServiceStore(database: database, publicURL: { "https://\($0)" }, culling: CullingSettings(idleSeconds: 60))
        let hub = ServiceEventHub()
        let (_, changes) = await hub.subscribe(owner: owner)
        let listener = hub.listener(database: database!)
        let listening = Task { try? await listener.run() }
        defer { listening.cancel() }
        var iterator = changes.makeAsyncIterator()
        let resynced = await iterator.next()
        XCTAssertEqual(resynced, .resync, "the listener resyncs when it connects")

        let record = try await store.insert(
            owner: owner, name: "web", template: "t", templateVersion: "1", host: "web-\(owner).knot.localhost", values: ["NAME": "web"],
            spec: StoredSpec(process: ProcessSpec(command: "true", arguments: []), manifests: nil))
        let inserted = await iterator.next()
        XCTAssertEqual(inserted, .service(name: "web", op: "insert"))
        XCTAssertEqual(record.status, "starting")
        XCTAssertEqual(record.spec?.process?.command, "true")

        let changed = try await store.update(
            id: record.id, status: "ready", message: "running", ready: 1, desired: 1, restarts: 0, route: .serve("http://127.0.0.1:1"))
        XCTAssertTrue(changed)
        let updated = await iterator.next()
        XCTAssertEqual(updated, .service(name: "web", op: "update"))
        let again = try await store.update(
            id: record.id, status: "ready", message: "running", ready: 1, desired: 1, restarts: 0, route: .serve("http://127.0.0.1:1"))
        XCTAssertFalse(again, "the same status writes nothing")
        let stale = try await store.update(id: record.id, status: "failed", message: "x", route: .withdraw, expecting: "starting")
        XCTAssertFalse(stale, "a poll does not undo a change made meanwhile")
        var route = try await store.routes().first { $0.host == record.host }
        XCTAssertEqual(route?.stopped, false)

        try await store.update(id: record.id, status: "stopped", message: "stopped", ready: 0, desired: 0, route: .stopped)
        route = try await store.routes().first { $0.host == record.host }
        XCTAssertEqual(route?.stopped, true, "a stopped service keeps its route, marked")
        _ = await iterator.next()

        // Activity moves only forward and notifies nobody (it would flood the streams).
        // A few seconds ahead, so the restart below (which resets started_at to the
        // database's now) stays earlier than the activity whatever way it rounds.
        let now = (Date().timeIntervalSince1970 + 5).rounded()
        let touched = try await store.recordActivity([record.host: now, "nobody.knot.localhost": now])
        XCTAssertEqual(touched, 1)
        let older = try await store.recordActivity([record.host: now - 100])
        XCTAssertEqual(older, 0)
        try await store.update(id: record.id, status: "ready", message: "running", ready: 1, desired: 1, route: .serve("http://127.0.0.1:1"))
        let next = await iterator.next()
        XCTAssertEqual(next, .service(name: "web", op: "update"), "the activity made no event of its own")
        let fresh = try await store.find(id: record.id)
        XCTAssertEqual(fresh?.lastActivity?.timeIntervalSince1970, now)
        XCTAssertEqual(fresh?.cullAfter?.timeIntervalSince1970, now + 60)

        try await store.delete(id: record.id, host: record.host)
        let deleted = await iterator.next()
        XCTAssertEqual(deleted, .service(name: "web", op: "delete"))
    }

    func testListingFiveHundredServicesIsFast() async throws {
        let store = ServiceStore(database: database, publicURL: { "https://\($0)" })
        let owner = self.owner
        try await database.client.query(
            """
            INSERT INTO launcher.services (id, owner, name, template, host, values, status, message)
            SELECT gen_random_uuid(), \(owner), 's' || n, 't', 's' || n || '-' || \(owner) || '.knot.localhost', '{"NAME":"x"}', 'ready', 'running'
            FROM generate_series(1, 500) AS n
            """, logger: database.logger)
        _ = try await store.list(owner: owner)
        let started = ContinuousClock.now
        let listed = try await store.list(owner: owner)
        let took = ContinuousClock.now - started
        XCTAssertEqual(listed.count, 500)
        XCTAssertLessThan(took, .milliseconds(500), "listing 500 services took \(took)")
        let encoded = try ServiceStore.json(["services": listed])
        XCTAssertTrue(encoded.contains("\"ready_replicas\""))
    }
}
