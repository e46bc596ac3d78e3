import Crypto
import Foundation

/// Random bearer secrets (sessions, codes, refresh, API and share tokens,
/// client secrets) and how they are kept: only a SHA-256 of each is stored,
/// and secrets are compared in constant time.
public enum SecretToken {
    /// 256 random bits as 43 base64url characters, from BoringSSL's CSPRNG in
    /// one call (no system call per byte: tokens are made on every grant).
    public static func make() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256))
    }

    /// What is stored instead of the token.
    public static func digest(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    /// Equal bytes, taking as long whichever byte differs.
    public static func equal(_ a: some Sequence<UInt8>, _ b: some Sequence<UInt8>) -> Bool {
        let x = Array(a), y = Array(b)
        return x.count == y.count && zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
