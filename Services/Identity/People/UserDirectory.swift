import Foundation
import KnotErrors
import KnotInternalClient
import KnotModels
import NIOConcurrencyHelpers

/// People as the users service knows them, remembered for a few seconds:
/// token requests read names and e-mails for claims, and asking the users
/// service every time would double their cost. Deactivation does not wait for
/// the cache: it revokes sessions and tokens here directly (see
/// `/internal/v1/users/{id}/revoke`), which also forgets the entry.
final class UserDirectory: Sendable {
    let users: InternalClient
    let ttl: Duration
    private let cache = NIOLockedValueBox<[UUID: (UserRecord, ContinuousClock.Instant)]>([:])
    private let teamCache = NIOLockedValueBox<[UUID: ([TeamMembership], ContinuousClock.Instant)]>([:])

    init(users: InternalClient, ttl: Duration = .seconds(5)) {
        self.users = users
        self.ttl = ttl
    }

    /// The user, or nil when there is no such account. `fresh` skips the cache
    /// (signing in right after an activation must not see the old record).
    func user(_ id: UUID, fresh: Bool = false) async throws -> UserRecord? {
        let now = ContinuousClock.now
        if !fresh, let (record, fetched) = cache.withLockedValue({ $0[id] }), now - fetched < ttl { return record }
        let record: UserRecord
        do {
            record = try await users.get("/internal/v1/users/\(id.uuidString.lowercased())", as: UserRecord.self)
        } catch let error as KnotError where error.status == .notFound {
            forget(id)
            return nil
        }
        cache.withLockedValue { cache in
            if cache.count > 20_000 { cache.removeAll() }
            cache[id] = (record, now)
        }
        return record
    }

    /// The user when the account exists and is active.
    func activeUser(_ id: UUID) async throws -> UserRecord? {
        guard let user = try await user(id), user.active else { return nil }
        return user
    }

    func byName(_ username: String) async throws -> UserRecord? {
        guard !username.isEmpty, username.count <= 64, username.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else { return nil }
        do {
            return try await users.get("/internal/v1/users/by-name/\(username)", as: UserRecord.self)
        } catch let error as KnotError where error.status == .notFound {
            return nil
        }
    }

    func byEmail(_ email: String) async throws -> UserRecord? {
        guard !email.isEmpty, email.count <= 254, !email.contains("/") else { return nil }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~@+")
        guard let encoded = email.addingPercentEncoding(withAllowedCharacters: allowed) else { return nil }
        do {
            return try await users.get("/internal/v1/users/by-email/\(encoded)", as: UserRecord.self)
        } catch let error as KnotError where error.status == .notFound {
            return nil
        }
    }

    /// The teams a person is in, with their roles (remembered as briefly as records).
    func memberships(_ id: UUID, fresh: Bool = false) async throws -> [TeamMembership] {
        let now = ContinuousClock.now
        if !fresh, let (teams, fetched) = teamCache.withLockedValue({ $0[id] }), now - fetched < ttl { return teams }
        struct Answer: Decodable { var teams: [TeamMembership] }
        let teams = try await users.get("/internal/v1/users/\(id.uuidString.lowercased())/teams", as: Answer.self).teams
        teamCache.withLockedValue { cache in
            if cache.count > 20_000 { cache.removeAll() }
            cache[id] = (teams, now)
        }
        return teams
    }

    func forget(_ id: UUID) {
        _ = cache.withLockedValue { $0.removeValue(forKey: id) }
        _ = teamCache.withLockedValue { $0.removeValue(forKey: id) }
    }
}
