import Foundation
import KnotModels
import NIOConcurrencyHelpers
import XCTest

@testable import KnotEdge

/// The edge's sign-on cache against a stand-in for identity that counts its questions.
final class SessionCacheTests: XCTestCase {
    /// Identity, as far as the cache sees it: answers after `delay`, or fails while `down`.
    final class Identity: Sendable {
        let questions = NIOLockedValueBox(0)
        let down = NIOLockedValueBox(false)
        let cacheSeconds: Int
        let delay: Duration

        init(cacheSeconds: Int, delay: Duration = .milliseconds(50)) {
            self.cacheSeconds = cacheSeconds
            self.delay = delay
        }

        func ask(_ credential: SessionCache.Credential) async throws -> SessionVerdict? {
            questions.withLockedValue { $0 += 1 }
            try await Task.sleep(for: delay)
            if down.withLockedValue({ $0 }) { throw CancellationError() }
            guard credential.token == "good" else { return nil }
            return SessionVerdict(
                userID: UUID(), username: "ada", admin: false, namespace: "knot-ada", assertion: "a", cacheSeconds: cacheSeconds)
        }

        var asked: Int { questions.withLockedValue { $0 } }
    }

    private func isHit(_ lookup: SessionCache.Lookup) -> Bool {
        if case .hit(let verdict) = lookup { return verdict != nil }
        return false
    }

    func testRequestsThatMissTogetherShareOneQuestion() async throws {
        let identity = Identity(cacheSeconds: 5)
        let cache = SessionCache(ask: identity.ask)
        let names = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<40 { group.addTask { try await cache.fetch(.session("good"))?.username } }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        XCTAssertEqual(names, Array(repeating: "ada", count: 40))
        XCTAssertEqual(identity.asked, 1, "40 requests missing at once asked identity \(identity.asked) times")
        XCTAssertTrue(isHit(cache.cached(.session("good"))))
        // Another credential is its own question.
        _ = try await cache.fetch(.session("other"))
        XCTAssertEqual(identity.asked, 2)
    }

    func testAVerdictInUseIsRenewedBeforeItExpires() async throws {
        // Four seconds a verdict: renewed from the third on. The margins are wide for a busy machine.
        let identity = Identity(cacheSeconds: 4, delay: .milliseconds(10))
        let cache = SessionCache(ask: identity.ask)
        _ = try await cache.fetch(.session("good"))
        XCTAssertEqual(identity.asked, 1)
        try await Task.sleep(for: .seconds(1))
        XCTAssertTrue(isHit(cache.cached(.session("good"))))
        XCTAssertEqual(identity.asked, 1, "a fresh verdict was asked for again")
        // In the last quarter of its time: still answered from the cache, and renewed behind it.
        try await Task.sleep(for: .milliseconds(2300))
        XCTAssertTrue(isHit(cache.cached(.session("good"))))
        XCTAssertTrue(isHit(cache.cached(.session("good"))))
        try await Task.sleep(for: .milliseconds(1200))
        XCTAssertEqual(identity.asked, 2, "two hits near the end asked \(identity.asked - 1) times, not once")
        // Past the first verdict's time, the renewed one answers.
        XCTAssertTrue(isHit(cache.cached(.session("good"))))
    }

    func testAnExpiredVerdictIsNeverUsedEvenWhenIdentityIsDown() async throws {
        let identity = Identity(cacheSeconds: 4, delay: .milliseconds(10))
        let cache = SessionCache(ask: identity.ask)
        _ = try await cache.fetch(.session("good"))
        identity.down.withLockedValue { $0 = true }
        try await Task.sleep(for: .milliseconds(3300))
        XCTAssertTrue(isHit(cache.cached(.session("good"))))  // starts a renewal, which fails
        try await Task.sleep(for: .milliseconds(1000))
        guard case .miss = cache.cached(.session("good")) else {
            return XCTFail("a verdict was used past the second identity gave it")
        }
        do {
            _ = try await cache.fetch(.session("good"))
            XCTFail("identity is down, yet a verdict came back")
        } catch {}
        // A failure is not remembered: once identity answers again, so does the cache.
        identity.down.withLockedValue { $0 = false }
        let verdict = try await cache.fetch(.session("good"))
        XCTAssertEqual(verdict?.username, "ada")
    }

    func testARefusedCredentialIsRememberedBrieflyAndNotRenewed() async throws {
        let identity = Identity(cacheSeconds: 5, delay: .milliseconds(10))
        let cache = SessionCache(ask: identity.ask)
        let verdict = try await cache.fetch(.session("forged"))
        XCTAssertNil(verdict)
        guard case .hit(nil) = cache.cached(.session("forged")) else { return XCTFail("a refusal was not remembered") }
        try await Task.sleep(for: .seconds(1))
        guard case .hit(nil) = cache.cached(.session("forged")) else { return XCTFail("a refusal was forgotten early") }
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(identity.asked, 1, "a refused credential was asked about again before its 2 s were up")
        try await Task.sleep(for: .milliseconds(1100))
        guard case .miss = cache.cached(.session("forged")) else { return XCTFail("a refusal was kept past its 2 s") }
        // Nothing plausible is never asked about at all.
        guard case .hit(nil) = cache.cached(.session(String(repeating: "x", count: 300))) else { return XCTFail("an implausible token missed") }
        XCTAssertEqual(identity.asked, 1)
    }
}
