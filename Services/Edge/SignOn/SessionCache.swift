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
            if case .session = self { hasher.update(data: Self.sessionPrefix) } else { hasher.update(data: Self.apiTokenPrefix) }
            // Hashed where the bytes lie, without a joined copy: this runs on every signed-in request.
            var token = token
            token.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
            return hasher.finalize()
        }

        private static let sessionPrefix = Array("s:".utf8)
        private static let apiTokenPrefix = Array("t:".utf8)
    }

    enum Lookup {
        case hit(SessionVerdict?)
        case miss
    }

    private struct Entry {
        var verdict: SessionVerdict?
        /// Monotonic nanoseconds (`now()`).
        var expires: UInt64
        /// From here on, a hit also starts a fresh verdict in the background.
        var refreshAfter: UInt64
    }

    private struct State {
        var entries: [SHA256Digest: Entry] = [:]
        /// Identity's answers on their way, one per credential however many requests wait for it.
        var asking: [SHA256Digest: Task<SessionVerdict?, Error>] = [:]
    }

    /// Asks identity about one credential: nil when it is not valid.
    typealias Ask = @Sendable (Credential) async throws -> SessionVerdict?

    private let state = NIOLockedValueBox(State())
    private let ask: Ask
    private let maxEntries = 50_000
    /// Negative answers are cached briefly too, so a flood of bad cookies does not flood identity.
    private let negativeSeconds: UInt64 = 2

    convenience init(identity: InternalClient) {
        self.init { credential in
            struct VerifyRequest: Encodable { var token: String }
            do {
                return try await identity.post(credential.endpoint, body: VerifyRequest(token: credential.token), as: SessionVerdict.self)
            } catch let error as KnotError where error.status == .unauthorized {
                return nil
            }
        }
    }

    init(ask: @escaping Ask) {
        self.ask = ask
    }

    /// Nanoseconds of a monotonic clock; cheaper to compare than `ContinuousClock.Instant`.
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The verdict if one is cached and still valid, else `.miss` (then `fetch`).
    /// A valid verdict in the last quarter of its time is also asked for again
    /// in the background: a credential in steady use keeps a fresh verdict and
    /// its requests never wait for identity, while no verdict is ever used past
    /// the time identity gave it.
    func cached(_ credential: Credential) -> Lookup {
        guard Self.plausible(credential.token) else { return .hit(nil) }
        let key = credential.key
        let now = Self.now()
        let (lookup, refresh): (Lookup, Bool) = state.withLockedValue { state in
            guard let entry = state.entries[key], entry.expires > now else { return (.miss, false) }
            return (.hit(entry.verdict), now >= entry.refreshAfter && state.asking[key] == nil)
        }
        if refresh {
            Task { _ = try? await self.fetch(credential) }
        }
        return lookup
    }

    /// Asks identity and caches the answer. Requests that miss together share
    /// one question, so a popular verdict expiring costs identity one request,
    /// not one per request in flight (64 at once under `scripts/bench edge`).
    func fetch(_ credential: Credential) async throws -> SessionVerdict? {
        guard Self.plausible(credential.token) else { return nil }
        let key = credential.key
        let task = state.withLockedValue { state in
            if let asking = state.asking[key] { return asking }
            let task = Task { try await self.askAndRemember(credential, key: key) }
            state.asking[key] = task
            return task
        }
        return try await task.value
    }

    private func askAndRemember(_ credential: Credential, key: SHA256Digest) async throws -> SessionVerdict? {
        let verdict: SessionVerdict?
        do {
            verdict = try await ask(credential)
        } catch {
            state.withLockedValue { _ = $0.asking.removeValue(forKey: key) }
            throw error
        }
        let seconds = verdict.map { UInt64(max(0, min($0.cacheSeconds, 30))) } ?? negativeSeconds
        let now = Self.now()
        let lifetime = seconds * 1_000_000_000
        // Refused credentials are not asked again early: nobody is kept waiting by them.
        let refreshAfter = verdict == nil ? UInt64.max : now + lifetime / 4 * 3
        state.withLockedValue { state in
            state.asking.removeValue(forKey: key)
            if state.entries.count >= maxEntries {
                state.entries = state.entries.filter { $0.value.expires > now }
                if state.entries.count >= maxEntries { state.entries.removeAll() }
            }
            state.entries[key] = Entry(verdict: verdict, expires: now + lifetime, refreshAfter: refreshAfter)
        }
        return verdict
    }

    private static func plausible(_ token: String) -> Bool { !token.isEmpty && token.utf8.count <= 256 }
}
