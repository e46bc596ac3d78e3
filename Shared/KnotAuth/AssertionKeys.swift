import Crypto
import Foundation
import JWTKit

/// Identity's signing side: one ES256 key (with its `kid`) that signs assertions.
public struct AssertionSigner: Sendable {
    public let kid: String
    private let keys: JWTKeyCollection
    public let publicJWK: JWK

    public init(privateKey: ES256PrivateKey, kid: String) async {
        self.kid = kid
        self.keys = JWTKeyCollection()
        await keys.add(ecdsa: privateKey, kid: JWKIdentifier(string: kid))
        let parameters = privateKey.publicKey.parameters
        self.publicJWK = JWK.ecdsa(
            .es256, identifier: JWKIdentifier(string: kid), x: parameters?.x, y: parameters?.y, curve: .p256)
    }

    public func sign(_ assertion: IdentityAssertion) async throws -> String {
        try await keys.sign(assertion, kid: JWKIdentifier(string: kid))
    }
}

/// Every other service's side: checks assertions against identity's JWKS,
/// fetching it again (at most every few seconds) when an unknown key appears,
/// so that key rotation needs no restart.
public actor AssertionVerifier {
    public typealias JWKSFetcher = @Sendable () async throws -> JWKS

    private var keys = JWTKeyCollection()
    private var knownKids: Set<String> = []
    private var lastFetch: ContinuousClock.Instant?
    private let fetch: JWKSFetcher
    private let refetchInterval: Duration

    public init(refetchInterval: Duration = .seconds(5), fetch: @escaping JWKSFetcher) {
        self.fetch = fetch
        self.refetchInterval = refetchInterval
    }

    public func verify(_ token: String) async throws -> IdentityAssertion {
        let kid = Self.kid(of: token)
        if knownKids.isEmpty || (kid.map { !knownKids.contains($0) } ?? false) {
            try await refresh()
        }
        return try await keys.verify(token, as: IdentityAssertion.self)
    }

    /// Fetches the JWKS now unless that was done very recently.
    public func refresh() async throws {
        let now = ContinuousClock.now
        if let last = lastFetch, now - last < refetchInterval, !knownKids.isEmpty { return }
        lastFetch = now
        let jwks = try await fetch()
        let collection = JWTKeyCollection()
        var kids: Set<String> = []
        // Only ES256 keys are accepted: an assertion signed any other way is forged.
        for key in jwks.keys where key.algorithm == .es256 {
            try await collection.add(jwk: key)
            if let kid = key.keyIdentifier?.string { kids.insert(kid) }
        }
        keys = collection
        knownKids = kids
    }

    static func kid(of token: String) -> String? {
        guard let headerPart = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Data(base64URL: String(headerPart)),
            let header = try? JSONDecoder().decode([String: String?].self, from: data)
        else { return nil }
        return header["kid"] ?? nil
    }
}

extension Data {
    /// Decodes base64url without padding, as JWTs carry it.
    public init?(base64URL: String) {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        self.init(base64Encoded: text)
    }
}
