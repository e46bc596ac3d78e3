import Crypto
import Foundation
import JWTKit
import KnotAuth
import KnotDatabase
import KnotErrors
import Logging
import PostgresNIO

/// The ES256 keys identity signs assertions with. Private keys are stored in
/// the database sealed with AES-GCM under a key derived from the deployment
/// secret, so a database dump alone does not let anyone mint assertions.
/// Every replica uses the same current key; the first replica creates it.
actor SigningKeys {
    private let database: Database
    private let sealingKey: SymmetricKey
    private var signer: AssertionSigner?
    private var published: [JWK] = []

    init(database: Database, secret: String) {
        self.database = database
        self.sealingKey = SymmetricKey(data: SHA256.hash(data: Data("knot-identity-signing-keys:\(secret)".utf8)))
    }

    func current() throws -> AssertionSigner {
        guard let signer else { throw KnotError(.serviceUnavailable, code: "starting", message: "signing keys are not loaded yet") }
        return signer
    }

    func jwks() -> JWKS { JWKS(keys: published) }

    /// Loads the newest unretired key, creating one if none exists.
    func load() async throws {
        let logger = database.logger
        let sealingKey = self.sealingKey
        let rows: [(String, Data)] = try await database.client.withTransaction(logger: logger) { tx in
            // Serialises replicas creating the first key.
            try await tx.query("SELECT pg_advisory_xact_lock(7041203311)", logger: logger)
            var found = try await Self.activeKeys(tx, logger: logger)
            if found.isEmpty {
                let key = ES256PrivateKey()
                let kid = "es256-" + UUID().uuidString.lowercased().prefix(8)
                let sealed = try AES.GCM.seal(Data(key.pemRepresentation.utf8), using: sealingKey).combined!
                try await tx.query(
                    "INSERT INTO identity.signing_keys (kid, algorithm, sealed_private_key) VALUES (\(String(kid)), 'ES256', \(sealed))",
                    logger: logger)
                found = [(String(kid), sealed)]
            }
            return found
        }
        var keys: [JWK] = []
        var newest: AssertionSigner?
        for (kid, sealed) in rows {
            let pem = try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: sealingKey)
            let signer = await AssertionSigner(privateKey: try ES256PrivateKey(pem: String(decoding: pem, as: UTF8.self)), kid: kid)
            keys.append(signer.publicJWK)
            if newest == nil { newest = signer }
        }
        signer = newest
        published = keys
    }

    private static func activeKeys(_ connection: PostgresConnection, logger: Logger) async throws -> [(String, Data)] {
        let rows = try await connection.query(
            "SELECT kid, sealed_private_key FROM identity.signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC",
            logger: logger)
        var result: [(String, Data)] = []
        for try await (kid, sealed) in rows.decode((String, Data).self) { result.append((kid, sealed)) }
        return result
    }
}
