import Crypto
import Foundation
import KnotErrors
import KnotInternalClient
import KnotModels
import NIOConcurrencyHelpers

/// Asks identity what a session cookie or API token is worth and remembers
/// the answer for the few seconds identity allows, so that most requests
/// cost no extra hop while a logout or deactivation still bites within that
/// bound. Keys are hashes of the credential, never the credential itself.
/// A hit is answered synchronously, on the connection's event loop.
final class SessionCache: Sendable {
    enum Credential: Sendable {
        case session(String)
        case apiToken(String)

        var endpoint: String {
            switch self {
            case .session: "/internal/v1/sessions/verify"
            case .apiToken: "/internal/v1/tokens/verify"
            }
        }

        var token: String {
            switch self {
            case .session(let token), .apiToken(let token): token
            }
        }

        /// Session and API tokens never collide: they are hashed under different names.
        var key: SHA256Digest {
            var hasher = SHA256()
            switch self {
            case .session(let token): hasher.update(data: Array(("s:" + token).utf8))
            case .apiToken(let token): hasher.update(data: Array(("t:" + token).utf8))
            }
            return hasher.finalize()
        }
    }

    enum Lookup {
        case hit(SessionVerdict?)
        case miss
    }

    private struct Entry {
        var verdict: SessionVerdict?
        /// Monotonic nanoseconds (`now()`).
        var expires: UInt64
    }

    private let entries = NIOLockedValueBox<[SHA256Digest: Entry]>([:])
    private let identity: InternalClient
    private let maxEntries = 50_000
    /// Negative answers are cached briefly too, so a flood of bad cookies does not flood identity.
    private let negativeSeconds: UInt64 = 2

    init(identity: InternalClient) {
        self.identity = identity
    }

    /// Nanoseconds of a monotonic clock; cheaper to compare than `ContinuousClock.Instant`.
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The cached verdict, if it is still fresh.
    func cached(_ credential: Credential) -> Lookup {
        guard Self.plausible(credential.token) else { return .hit(nil) }
        let key = credential.key
        let now = Self.now()
        guard let entry = entries.withLockedValue({ $0[key] }), entry.expires > now else { return .miss }
        return .hit(entry.verdict)
    }

    /// Asks identity, and remembers the answer.
    func fetch(_ credential: Credential) async throws -> SessionVerdict? {
        guard Self.plausible(credential.token) else { return nil }
        struct VerifyRequest: Encodable { var token: String }
        var verdict: SessionVerdict?
        do {
            verdict = try await identity.post(credential.endpoint, body: VerifyRequest(token: credential.token), as: SessionVerdict.self)
        } catch let error as KnotError where error.status == .unauthorized {
            verdict = nil
        }
        let seconds = verdict.map { UInt64(max(0, min($0.cacheSeconds, 30))) } ?? negativeSeconds
        let now = Self.now()
        let key = credential.key
        entries.withLockedValue { entries in
            if entries.count >= maxEntries {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= maxEntries { entries.removeAll() }
            }
            entries[key] = Entry(verdict: verdict, expires: now + seconds * 1_000_000_000)
        }
        return verdict
    }

    /// The verdict, from the cache or from identity.
    func verdict(for credential: Credential) async throws -> SessionVerdict? {
        if case .hit(let verdict) = cached(credential) { return verdict }
        return try await fetch(credential)
    }

    private static func plausible(_ token: String) -> Bool { !token.isEmpty && token.utf8.count <= 256 }
}
