import Crypto
import Foundation
import KnotErrors
import KnotInternalClient
import KnotModels
import NIOConcurrencyHelpers

/// Asks identity what a session cookie is worth and remembers the answer for
/// the few seconds identity allows, so that most requests cost no extra hop
/// while a logout or deactivation still bites within that bound. Keys are
/// hashes of the cookie, never the cookie itself.
final class SessionCache: Sendable {
    private struct Entry {
        var verdict: SessionVerdict?
        var expires: ContinuousClock.Instant
    }

    private let entries = NIOLockedValueBox<[Data: Entry]>([:])
    private let identity: InternalClient
    private let maxEntries = 50_000
    /// Negative answers are cached briefly too, so a flood of bad cookies does not flood identity.
    private let negativeSeconds = 2

    init(identity: InternalClient) {
        self.identity = identity
    }

    struct VerifyRequest: Encodable { var token: String }

    /// The verdict for a session token, or nil when the session is not valid.
    func verdict(for token: String) async throws -> SessionVerdict? {
        try await verdict(for: token, endpoint: "/internal/v1/sessions/verify")
    }

    /// The verdict for a personal API token, or nil when it is not valid.
    func verdict(forAPIToken token: String) async throws -> SessionVerdict? {
        try await verdict(for: token, endpoint: "/internal/v1/tokens/verify")
    }

    private func verdict(for token: String, endpoint: String) async throws -> SessionVerdict? {
        guard !token.isEmpty, token.utf8.count <= 256 else { return nil }
        // Session and API tokens never collide: they are hashed under different names.
        let key = Data(SHA256.hash(data: Data((endpoint + ":" + token).utf8)))
        let now = ContinuousClock.now
        if let entry = entries.withLockedValue({ $0[key] }), entry.expires > now {
            return entry.verdict
        }
        var verdict: SessionVerdict?
        do {
            verdict = try await identity.post(endpoint, body: VerifyRequest(token: token), as: SessionVerdict.self)
        } catch let error as KnotError where error.status == .unauthorized {
            verdict = nil
        }
        let seconds = verdict.map { max(0, min($0.cacheSeconds, 30)) } ?? negativeSeconds
        entries.withLockedValue { entries in
            if entries.count >= maxEntries {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= maxEntries { entries.removeAll() }
            }
            entries[key] = Entry(verdict: verdict, expires: now + .seconds(seconds))
        }
        return verdict
    }
}
