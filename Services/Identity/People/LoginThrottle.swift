import Foundation
import KnotDatabase
import PostgresNIO

/// Slows down password guessing, per account and per client address, in the
/// database so that every replica counts together. After `limit` failures
/// within `window`, each further attempt must wait a growing delay after the
/// last failure (15 s, 30 s, 60 s … at most 15 minutes). Unknown accounts are
/// counted exactly like known ones, so the answers reveal nothing.
struct LoginThrottle: Sendable {
    let database: Database
    let accountLimit: Int
    let addressLimit: Int
    let window: TimeInterval = 15 * 60
    let maxDelay: TimeInterval = 15 * 60

    /// The delay owed after `failures`, or zero.
    static func delay(failures: Int, limit: Int, maxDelay: TimeInterval) -> TimeInterval {
        guard failures >= limit else { return 0 }
        let exponent = min(failures - limit, 16)
        return min(15 * pow(2, Double(exponent)), maxDelay)
    }

    static func keys(username: String, address: String?) -> (account: String, address: String?) {
        ("account:" + username.lowercased().prefix(64), address.map { "address:" + $0.prefix(64) })
    }

    /// Seconds to wait before another attempt is allowed; nil when one is allowed now.
    func retryAfter(username: String, address: String?, now: Date = Date()) async throws -> Int? {
        let keys = Self.keys(username: username, address: address)
        let rows = try await database.client.query(
            "SELECT key, failures, last_failure FROM identity.login_failures WHERE key = \(keys.account) OR key = \(keys.address)",
            logger: database.logger)
        var wait: TimeInterval = 0
        for try await (key, failures, last) in rows.decode((String, Int, Date).self) {
            let limit = key == keys.account ? accountLimit : addressLimit
            let owed = Self.delay(failures: failures, limit: limit, maxDelay: maxDelay) - now.timeIntervalSince(last)
            wait = max(wait, owed)
        }
        return wait > 0 ? Int(wait.rounded(.up)) : nil
    }

    func recordFailure(username: String, address: String?) async throws {
        let keys = Self.keys(username: username, address: address)
        let horizon = Date().addingTimeInterval(-window)
        for key in [keys.account, keys.address].compactMap({ $0 }) {
            // A streak older than the window starts again from one.
            try await database.client.query(
                """
                INSERT INTO identity.login_failures (key, failures, last_failure) VALUES (\(key), 1, now())
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN identity.login_failures.last_failure < \(horizon) THEN 1
                                    ELSE identity.login_failures.failures + 1 END,
                    last_failure = now()
                """, logger: database.logger)
        }
    }

    /// A correct password clears the account's streak (not the address's: one
    /// valid account must not let an attacker reset the count for others).
    func recordSuccess(username: String) async throws {
        let key = Self.keys(username: username, address: nil).account
        try await database.client.query("DELETE FROM identity.login_failures WHERE key = \(key)", logger: database.logger)
    }
}
