import Foundation
import JWTKit
import XCTest

@testable import KnotAuth

final class ServiceTokenTests: XCTestCase {
    let secret = String(repeating: "s", count: 40)

    func testATokenNamesItsService() async throws {
        let edge = await ServiceTokens(secret: secret, service: "edge")
        let launcher = await ServiceTokens(secret: secret, service: "launcher")
        let caller = try await launcher.verify(try await edge.token())
        XCTAssertEqual(caller, "edge")
    }

    func testAnotherSecretAnExpiredTokenOrAStrangerAreRefused() async throws {
        let launcher = await ServiceTokens(secret: secret, service: "launcher")
        let intruder = await ServiceTokens(secret: String(repeating: "t", count: 40), service: "edge")
        await XCTAssertThrowsAsync(try await launcher.verify(try await intruder.token()))
        let old = await ServiceTokens(secret: secret, service: "edge")
        await XCTAssertThrowsAsync(try await launcher.verify(try await old.token(now: Date().addingTimeInterval(-120))))
        let stranger = await ServiceTokens(secret: secret, service: "mallory")
        await XCTAssertThrowsAsync(try await launcher.verify(try await stranger.token()))
    }
}

final class AssertionTests: XCTestCase {
    func makeAssertion(lifetime: TimeInterval = 60) -> IdentityAssertion {
        IdentityAssertion(user: UUID(), username: "ada", namespace: "knot-ada", admin: false, lifetime: lifetime)
    }

    func testVerifiesAgainstThePublishedKeys() async throws {
        let signer = await AssertionSigner(privateKey: ES256PrivateKey(), kid: "k1")
        let verifier = AssertionVerifier { JWKS(keys: [signer.publicJWK]) }
        let original = makeAssertion()
        let verified = try await verifier.verify(try await signer.sign(original))
        XCTAssertEqual(verified.username, "ada")
        XCTAssertEqual(verified.namespace, "knot-ada")
        XCTAssertEqual(verified.sub, original.sub)
    }

    func testRefusesAnotherKeyAnExpiredAssertionAndHMAC() async throws {
        let signer = await AssertionSigner(privateKey: ES256PrivateKey(), kid: "k1")
        let forger = await AssertionSigner(privateKey: ES256PrivateKey(), kid: "k1")
        let verifier = AssertionVerifier(refetchInterval: .zero) { JWKS(keys: [signer.publicJWK]) }
        await XCTAssertThrowsAsync(try await verifier.verify(try await forger.sign(self.makeAssertion())))
        await XCTAssertThrowsAsync(try await verifier.verify(try await signer.sign(self.makeAssertion(lifetime: -10))))
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: String(repeating: "k", count: 40)), digestAlgorithm: .sha256, kid: "k1")
        await XCTAssertThrowsAsync(try await verifier.verify(try await hmac.sign(self.makeAssertion(), kid: "k1")))
    }

    func testAnUnknownKeyIdFetchesTheKeysAgain() async throws {
        let first = await AssertionSigner(privateKey: ES256PrivateKey(), kid: "old")
        let second = await AssertionSigner(privateKey: ES256PrivateKey(), kid: "new")
        let published = LockedKeys([first.publicJWK])
        let verifier = AssertionVerifier(refetchInterval: .zero) { JWKS(keys: published.keys) }
        _ = try await verifier.verify(try await first.sign(makeAssertion()))
        published.keys = [first.publicJWK, second.publicJWK]  // rotation: the new key is published
        let verified = try await verifier.verify(try await second.sign(makeAssertion()))
        XCTAssertEqual(verified.username, "ada")
    }
}

final class LockedKeys: @unchecked Sendable {
    private let lock = NSLock()
    private var _keys: [JWK]
    init(_ keys: [JWK]) { _keys = keys }
    var keys: [JWK] {
        get { lock.withLock { _keys } }
        set { lock.withLock { _keys = newValue } }
    }
}

func XCTAssertThrowsAsync<T>(
    _ expression: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        _ = try await expression()
        XCTFail("expected an error", file: file, line: line)
    } catch {}
}
