import Foundation
import XCTest

@testable import KnotEdge
@testable import KnotFiles
@testable import KnotIdentity
@testable import KnotUsers

final class SafePathTests: XCTestCase {
    func testPlainPathsAreAccepted() throws {
        XCTAssertEqual(try SafePath.parse("a/b c/d.txt").components, ["a", "b c", "d.txt"])
        XCTAssertEqual(try SafePath.parse(encoded: ["caf%C3%A9", "x%20y"]).components, ["café", "x y"])
        XCTAssertEqual(try SafePath.parse("..hidden/x..y").components, ["..hidden", "x..y"])
    }

    func testEscapesAreRefused() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "a/./b", "a\u{0}b", "a\\..\\b", ".knot-upload-123", String(repeating: "n", count: 256)] {
            XCTAssertThrowsError(try SafePath.parse(bad), bad)
        }
        for encoded: [Substring] in [["%2e%2e"], ["a%2fb"], ["%00"], ["%zz"], ["."]] {
            XCTAssertThrowsError(try SafePath.parse(encoded: encoded), "\(encoded)")
        }
        XCTAssertThrowsError(try SafePath.parse(String(repeating: "a/", count: 70)))
    }
}

final class RedirectPolicyTests: XCTestCase {
    let policy = RedirectPolicy(domain: "knot.localhost", publicPort: 8443, home: "https://knot.localhost:8443/")

    func testOwnAddressesAreKept() {
        XCTAssertEqual(policy.safeTarget("https://web-ada.knot.localhost:8443/a?b=c"), "https://web-ada.knot.localhost:8443/a?b=c")
        XCTAssertEqual(policy.safeTarget("/files"), "https://knot.localhost:8443/files")
    }

    func testEverythingElseGoesHome() {
        for bad in [
            "https://evil.example/", "//evil.example", "/\\evil.example", "http://knot.localhost:8443/", "https://knot.localhost/",
            "https://evil.knot.localhost.example:8443/", "https://u:p@knot.localhost:8443/", "javascript:alert(1)", "/a\nb", nil,
        ] {
            XCTAssertEqual(policy.safeTarget(bad), "https://knot.localhost:8443/", bad ?? "nil")
        }
    }
}

final class UserValidationTests: XCTestCase {
    func testUsernames() {
        for good in ["ada", "ada-lovelace", "a1"] { XCTAssertNoThrow(try UserValidation.checkUsername(good), good) }
        for bad in ["a", "Ada", "1ada", "ada-", "ad--a", "ada_l", "root", "api", String(repeating: "a", count: 33), "adä"] {
            XCTAssertThrowsError(try UserValidation.checkUsername(bad), bad)
        }
    }

    func testEmails() {
        XCTAssertNoThrow(try UserValidation.checkEmail("ada@example.org"))
        for bad in ["ada", "@example.org", "ada@example", "ada@.org", "a da@example.org", "a@b@c.org"] {
            XCTAssertThrowsError(try UserValidation.checkEmail(bad), bad)
        }
    }
}

final class EdgeTests: XCTestCase {
    func testTheSessionCookieNeverReachesAUserService() {
        XCTAssertEqual(Credentials.sessionToken(inCookieHeader: "a=1; knot_session=abc; b=2"), "abc")
        XCTAssertEqual(Credentials.sessionToken(inCookieHeader: "knot_session = abc "), "abc")
        XCTAssertNil(Credentials.sessionToken(inCookieHeader: "knot_session_x=1; xknot_session=2; flag; knot_session="))
        XCTAssertEqual(Credentials.sessionToken(inCookieHeader: ";;knot_session=x=y"), "x=y")
        XCTAssertEqual(HeaderPolicy.withoutSessionCookie("a=1; knot_session=secret; b=2"), "a=1; b=2")
        XCTAssertNil(HeaderPolicy.withoutSessionCookie("knot_session=secret"))
        XCTAssertEqual(HeaderPolicy.withoutSessionCookie("knot_session_x=1"), "knot_session_x=1")
        // The pairs kept are trimmed and joined with "; ", empty ones dropped; names compare exactly.
        XCTAssertEqual(HeaderPolicy.withoutSessionCookie(" a=1;;\tknot_session =s ; b=2 ;"), "a=1; b=2")
        XCTAssertEqual(HeaderPolicy.withoutSessionCookie("=x; Knot_Session=1; knot_csrf=2"), "=x; Knot_Session=1; knot_csrf=2")
        XCTAssertEqual(HeaderPolicy.withoutCookies("knot_csrf=2; é=ü; knot_session=1", hidden: HeaderPolicy.serviceHiddenCookies), "é=ü")
        XCTAssertNil(HeaderPolicy.withoutCookies(" ; ;", hidden: HeaderPolicy.serviceHiddenCookies))
    }

    func testTheHostIsOneLowercaseDNSName() throws {
        XCTAssertEqual(try RequestCheck.host(ofAuthority: "Hello-Admin.Knot.Localhost."), "hello-admin.knot.localhost")
        XCTAssertEqual(try RequestCheck.host(ofAuthority: "knot.localhost:8443"), "knot.localhost")
        XCTAssertEqual(try RequestCheck.host(ofAuthority: "knot.localhost.:443"), "knot.localhost")
        for bad in ["", ":443", "knot.localhost:", "knot.localhost:44a3", "knot.localhost:123456", "knot.localhost:٤٤٣", "kn\u{f6}t.localhost",
            "[::1]:443", "evil.com/x", ".", "user@knot.localhost"] {
            XCTAssertThrowsError(try RequestCheck.host(ofAuthority: bad), bad)
        }
        XCTAssertEqual(try RequestCheck.target("/a/b?c=d#e", maxBytes: 100).query, "c=d#e")
        XCTAssertThrowsError(try RequestCheck.target("/a#b", maxBytes: 100))
        XCTAssertThrowsError(try RequestCheck.target("/a/%2E./b?x", maxBytes: 100))
    }

    func testClientsCannotSetKnotsOwnHeaders() {
        for name in ["knot-assertion", "knot-service-token", "x-knot-user", "x-forwarded-for", "forwarded", "x-request-id", "traceparent"] {
            XCTAssertTrue(HeaderPolicy.isKnotHeader(name), name)
        }
        XCTAssertFalse(HeaderPolicy.isKnotHeader("accept"))
    }

    func testDotSegmentsAreSpottedHoweverWritten() {
        for bad in ["/api/v1/files/../users", "/a/./b", "/a/%2e%2E/b", "/.."] { XCTAssertTrue(RequestCheck.hasDotSegment(bad), bad) }
        for good in ["/api/v1/files/..hidden", "/a/b.c", "/"] { XCTAssertFalse(RequestCheck.hasDotSegment(good), good) }
    }

    func testTheLocalCertificateCoversTheDomainAndIsKept() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knot-tls-\(UUID().uuidString)").path
        let paths = try LocalCertificates.ensure(folder: folder, domain: "knot.localhost")
        let first = try String(contentsOfFile: paths.certificate, encoding: .utf8)
        XCTAssertTrue(first.contains("BEGIN CERTIFICATE"))
        let attributes = try FileManager.default.attributesOfItem(atPath: paths.privateKey)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        _ = try LocalCertificates.ensure(folder: folder, domain: "knot.localhost")
        XCTAssertEqual(try String(contentsOfFile: paths.certificate, encoding: .utf8), first, "the certificate was made again")
        _ = try LocalCertificates.ensure(folder: folder, domain: "other.localhost")
        XCTAssertNotEqual(try String(contentsOfFile: paths.certificate, encoding: .utf8), first, "a new domain needs a new certificate")
    }
}

final class PasswordTests: XCTestCase {
    func testPasswordRules() async throws {
        XCTAssertThrowsError(try Passwords.check("short"))
        XCTAssertThrowsError(try Passwords.check(String(repeating: "é", count: 40)))  // 80 bytes > bcrypt's 72
        XCTAssertNoThrow(try Passwords.check("long enough password"))
        let passwords = Passwords(cost: 4)
        let hash = try await passwords.hash("long enough password")
        let right = try await passwords.verify("long enough password", hash: hash)
        let wrong = try await passwords.verify("long enough passwore", hash: hash)
        XCTAssertTrue(right)
        XCTAssertFalse(wrong)
        XCTAssertEqual(Passwords.generate().count, 23)
    }
}
