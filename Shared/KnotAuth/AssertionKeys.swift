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

/// base64url without padding (RFC 4648 section 5), as JWTs and OAuth tokens
/// use it. Written on bytes: it runs several times for every token issued,
/// and going through Foundation's base64 and three string replacements cost more than the hashing.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
            out.append(alphabet[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(value >> 6 & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }
}
