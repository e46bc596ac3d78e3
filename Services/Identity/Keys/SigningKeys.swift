import Crypto
import CryptoExtras
import Foundation
import JWTKit
import KnotAuth
import KnotDatabase
import KnotErrors
import Logging
import NIOConcurrencyHelpers
import PostgresNIO

/// Identity's signing keys: an ES256 key (identity assertions, access
/// tokens, ES256 ID tokens) and an RS256 key (ID tokens, which every
/// integrated tool accepts). Private keys are stored sealed with AES-GCM under
/// a key derived from the deployment secret, so a database dump alone cannot
/// mint tokens.
///
/// Rotation publishes a new key pair at once but signs with it only after
/// `publishLead`, so relying parties that cache the JWKS see it before any
/// token needs it; the retired pair stays published for `retention` (the
/// longest lifetime of a token it signed).
actor SigningKeys {
    enum Algorithm: String, Sendable, CaseIterable {
        case es256 = "ES256"
        case rs256 = "RS256"
    }

    struct Settings: Sendable {
        var publishLead: TimeInterval
        var retention: TimeInterval
        /// Automatic rotation when the signing key is older than this; nil never.
        var rotateAfter: TimeInterval?
    }

    private let database: Database
    private let sealingKey: SymmetricKey
    let settings: Settings
    private let current = NIOLockedValueBox<KeyRing?>(nil)

    init(database: Database, secret: String, settings: Settings) {
        self.database = database
        self.sealingKey = SymmetricKey(data: SHA256.hash(data: Data("knot-identity-signing-keys:\(secret)".utf8)))
        self.settings = settings
    }

    /// The keys in use now, swapped whole when they change.
    nonisolated func ring() throws -> KeyRing {
        guard let ring = current.withLockedValue({ $0 }) else {
            throw KnotError(.serviceUnavailable, code: "starting", message: "signing keys are not loaded yet")
        }
        return ring
    }

    /// Loads every published key, creating the first pair if there is none.
    func load() async throws {
        let logger = database.logger
        let rows: [StoredKey] = try await database.transaction { tx in
            // Serialises replicas creating the first keys.
            try await tx.query("SELECT pg_advisory_xact_lock(7041203311)", logger: logger)
            var found = try await Self.publishedKeys(tx, retention: settings.retention, logger: logger)
            for algorithm in Algorithm.allCases where !found.contains(where: { $0.algorithm == algorithm }) {
                found.append(try await insertKey(algorithm, useAfter: Date(), tx, logger: logger))
            }
            return found
        }
        try await install(rows)
    }

    /// Publishes a new pair that starts signing after the publish lead, and
    /// marks the current pair as retiring then. Returns the new key ids.
    func rotate() async throws -> [String] {
        let logger = database.logger
        let useAfter = Date().addingTimeInterval(settings.publishLead)
        let kids: [String] = try await database.transaction { tx in
            try await tx.query("SELECT pg_advisory_xact_lock(7041203311)", logger: logger)
            try await tx.query(
                "UPDATE identity.signing_keys SET retired_at = \(useAfter) WHERE retired_at IS NULL", logger: logger)
            var kids: [String] = []
            for algorithm in Algorithm.allCases {
                kids.append(try await insertKey(algorithm, useAfter: useAfter, tx, logger: logger).kid)
            }
            return kids
        }
        try await load()
        logger.notice("signing keys rotated", metadata: ["kids": "\(kids)", "use_after": "\(useAfter)"])
        return kids
    }

    /// Reloads (another replica may have rotated) and rotates when the keys are due.
    func maintain() async throws {
        try await load()
        guard let rotateAfter = settings.rotateAfter, let ring = current.withLockedValue({ $0 }) else { return }
        let pending = ring.keys.contains { $0.useAfter > Date() }
        let oldest = ring.signing.values.map(\.createdAt).min() ?? Date()
        if !pending, Date().timeIntervalSince(oldest) > rotateAfter { _ = try await rotate() }
    }

    // MARK: storage

    struct StoredKey: Sendable {
        var kid: String
        var algorithm: Algorithm
        var sealed: Data
        var createdAt: Date
        var useAfter: Date
        var retiredAt: Date?
    }

    private func insertKey(_ algorithm: Algorithm, useAfter: Date, _ tx: PostgresConnection, logger: Logger) async throws -> StoredKey {
        let kid = algorithm.rawValue.lowercased() + "-" + UUID().uuidString.lowercased().prefix(12)
        let pem: String
        switch algorithm {
        case .es256: pem = ES256PrivateKey().pemRepresentation
        case .rs256: pem = try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation
        }
        let sealed = try AES.GCM.seal(Data(pem.utf8), using: sealingKey).combined!
        let now = Date()
        try await tx.query(
            """
            INSERT INTO identity.signing_keys (kid, algorithm, sealed_private_key, created_at, use_after)
            VALUES (\(kid), \(algorithm.rawValue), \(sealed), \(now), \(useAfter))
            """, logger: logger)
        return StoredKey(kid: kid, algorithm: algorithm, sealed: sealed, createdAt: now, useAfter: useAfter, retiredAt: nil)
    }

    private static func publishedKeys(_ connection: PostgresConnection, retention: TimeInterval, logger: Logger) async throws -> [StoredKey] {
        let horizon = Date().addingTimeInterval(-retention)
        let rows = try await connection.query(
            """
            SELECT kid, algorithm, sealed_private_key, created_at, use_after, retired_at FROM identity.signing_keys
            WHERE retired_at IS NULL OR retired_at > \(horizon) ORDER BY use_after DESC, created_at DESC
            """, logger: logger)
        var result: [StoredKey] = []
        for try await (kid, algorithm, sealed, created, useAfter, retired) in rows.decode((String, String, Data, Date, Date, Date?).self) {
            guard let algorithm = Algorithm(rawValue: algorithm) else { continue }
            result.append(StoredKey(kid: kid, algorithm: algorithm, sealed: sealed, createdAt: created, useAfter: useAfter, retiredAt: retired))
        }
        return result
    }

    private func install(_ rows: [StoredKey]) async throws {
        var keys: [KeyRing.Key] = []
        for row in rows {
            let pem = String(decoding: try AES.GCM.open(try AES.GCM.SealedBox(combined: row.sealed), using: sealingKey), as: UTF8.self)
            switch row.algorithm {
            case .es256:
                keys.append(.init(kid: row.kid, algorithm: .es256, createdAt: row.createdAt, useAfter: row.useAfter, material: .ecdsa(try ES256PrivateKey(pem: pem))))
            case .rs256:
                keys.append(.init(kid: row.kid, algorithm: .rs256, createdAt: row.createdAt, useAfter: row.useAfter, material: .rsa(try JWTKit.Insecure.RSA.PrivateKey(pem: pem))))
            }
        }
        let ring = await KeyRing(keys: keys)
        current.withLockedValue { $0 = ring }
    }
}

/// An immutable snapshot of the published keys with the signer chosen for
/// each algorithm. jwt-kit's key collection is an actor, so signing and
/// verifying through one would use one core; the ring holds one collection
/// per core and spreads the work.
final class KeyRing: Sendable {
    enum Material: Sendable {
        case ecdsa(ES256PrivateKey)
        case rsa(JWTKit.Insecure.RSA.PrivateKey)
    }

    struct Key: Sendable {
        var kid: String
        var algorithm: SigningKeys.Algorithm
        var createdAt: Date
        var useAfter: Date
        var material: Material
    }

    let keys: [Key]
    /// The newest key of each algorithm whose `use_after` has come.
    let signing: [SigningKeys.Algorithm: Key]
    let jwks: PublishedJWKS
    private let collections: [JWTKeyCollection]
    private let next = NIOLockedValueBox(0)

    init(keys: [Key], now: Date = Date()) async {
        self.keys = keys
        var signing: [SigningKeys.Algorithm: Key] = [:]
        for key in keys.sorted(by: { $0.useAfter > $1.useAfter }) where key.useAfter <= now && signing[key.algorithm] == nil {
            signing[key.algorithm] = key
        }
        // Before the first pair's use_after (never, in practice) fall back to the newest.
        for key in keys where signing[key.algorithm] == nil { signing[key.algorithm] = key }
        self.signing = signing
        self.jwks = PublishedJWKS(keys: keys.map { PublishedJWKS.Key($0) })
        var collections: [JWTKeyCollection] = []
        for _ in 0..<max(ProcessInfo.processInfo.activeProcessorCount, 1) {
            let collection = JWTKeyCollection()
            for key in keys {
                switch key.material {
                case .ecdsa(let privateKey): await collection.add(ecdsa: privateKey, kid: JWKIdentifier(string: key.kid))
                case .rsa(let privateKey): await collection.add(rsa: privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
                }
            }
            collections.append(collection)
        }
        self.collections = collections
    }

    private func collection() -> JWTKeyCollection {
        let index = next.withLockedValue { value in
            value = (value + 1) % collections.count
            return value
        }
        return collections[index]
    }

    func kid(for algorithm: SigningKeys.Algorithm) -> String { signing[algorithm]!.kid }

    func sign<Payload: JWTPayload>(_ payload: Payload, with algorithm: SigningKeys.Algorithm, type: String = "JWT") async throws -> String {
        var header = JWTHeader()
        header.typ = type
        return try await collection().sign(payload, kid: JWKIdentifier(string: kid(for: algorithm)), header: header)
    }

    /// Verifies a token signed by one of the published keys, with the key
    /// its `kid` names and that key's own algorithm (never `none`, never an
    /// HMAC keyed with a public key).
    func verify<Payload: JWTPayload>(_ token: String, as type: Payload.Type) async throws -> Payload {
        try await collection().verify(token, as: type)
    }
}

/// The JWKS as identity publishes it (RFC 7517, with `use: sig`).
struct PublishedJWKS: Codable, Sendable {
    struct Key: Codable, Sendable {
        var kty: String
        var use = "sig"
        var alg: String
        var kid: String
        var crv: String?
        var x: String?
        var y: String?
        var n: String?
        var e: String?

        init(_ key: KeyRing.Key) {
            alg = key.algorithm.rawValue
            kid = key.kid
            switch key.material {
            case .ecdsa(let privateKey):
                kty = "EC"
                crv = "P-256"
                x = privateKey.publicKey.parameters?.x
                y = privateKey.publicKey.parameters?.y
            case .rsa(let privateKey):
                kty = "RSA"
                let primitives = try? privateKey.publicKey.getKeyPrimitives()
                n = primitives.map { Base64URL.encode($0.modulus) }
                e = primitives.map { Base64URL.encode($0.publicExponent) }
            }
        }

    }

    var keys: [Key]
}
