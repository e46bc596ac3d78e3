import Foundation
import KnotDatabase
import NIOConcurrencyHelpers

/// Which access tokens are revoked before their expiry: whole families and
/// single tokens. Access tokens are self-contained JWTs, so this is the only
/// state introspection and userinfo consult; it is held in memory, updated at
/// once in the replica that revokes, and reloaded by every replica when told
/// (`NOTIFY knot_identity 'revocations'`) and every 30 s as a backstop.
final class RevocationList: Sendable {
    let database: Database
    /// No access token lives longer than this, so older revocations need not be remembered.
    let horizon: TimeInterval
    private let state = NIOLockedValueBox<(families: Set<UUID>, tokens: Set<String>)>(([], []))

    init(database: Database, horizon: TimeInterval) {
        self.database = database
        self.horizon = horizon
    }

    func isRevoked(family: UUID?, token jti: String) -> Bool {
        state.withLockedValue { state in
            (family.map(state.families.contains) ?? false) || state.tokens.contains(jti)
        }
    }

    func add(families: [UUID]) {
        guard !families.isEmpty else { return }
        state.withLockedValue { $0.families.formUnion(families) }
    }

    func add(token jti: String, expires: Date) async throws {
        state.withLockedValue { _ = $0.tokens.insert(jti) }
        try await database.client.query(
            """
            INSERT INTO identity.revoked_access_tokens (jti, expires_at) VALUES (\(jti), \(expires)) ON CONFLICT DO NOTHING;
            """, logger: database.logger)
        try await database.client.query("SELECT pg_notify('knot_identity', 'revocations')", logger: database.logger)
    }

    func reload() async throws {
        let since = Date().addingTimeInterval(-horizon)
        let familyRows = try await database.client.query(
            "SELECT id FROM identity.token_families WHERE revoked_at > \(since)", logger: database.logger)
        var families: Set<UUID> = []
        for try await id in familyRows.decode(UUID.self) { families.insert(id) }
        let tokenRows = try await database.client.query(
            "SELECT jti FROM identity.revoked_access_tokens WHERE expires_at > now()", logger: database.logger)
        var tokens: Set<String> = []
        for try await jti in tokenRows.decode(String.self) { tokens.insert(jti) }
        state.withLockedValue { $0 = (families, tokens) }
    }
}
