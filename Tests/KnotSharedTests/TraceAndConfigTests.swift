import Foundation
import XCTest

@testable import KnotConfig
@testable import KnotLogging

final class RequestTraceTests: XCTestCase {
    func testContinuesAWellFormedTraceWithANewSpan() {
        let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let trace = RequestTrace.continuing(requestID: "abc-123", traceparent: parent)
        XCTAssertEqual(trace.requestID, "abc-123")
        let parts = trace.traceparent.split(separator: "-")
        XCTAssertEqual(parts[1], "0af7651916cd43dd8448eb211c80319c")
        XCTAssertNotEqual(parts[2], "b7ad6b7169203331")
    }

    func testStartsAFreshTraceWhenTheHeadersAreMalformed() {
        let trace = RequestTrace.continuing(requestID: "bad id\nwith newline", traceparent: "00-zz-yy-01")
        XCTAssertNotEqual(trace.requestID, "bad id\nwith newline")
        XCTAssertEqual(trace.requestID.count, 36)
        XCTAssertTrue(trace.traceparent.hasPrefix("00-"))
        XCTAssertEqual(trace.traceparent.count, 55)
    }
}

final class EnvironmentTests: XCTestCase {
    func testMalformedValuesNameTheVariable() {
        let env = KnotEnvironment(["KNOT_PORT": "eighty", "KNOT_FLAG": "maybe"])
        XCTAssertThrowsError(try env.int("KNOT_PORT", default: 1)) { error in
            XCTAssertTrue("\(error)".contains("KNOT_PORT"))
        }
        XCTAssertThrowsError(try env.bool("KNOT_FLAG", default: false))
        XCTAssertThrowsError(try KnotEnvironment(["KNOT_PORT": "70000"]).port("KNOT_PORT", default: 1))
        XCTAssertEqual(try env.int("KNOT_MISSING", default: 7), 7)
    }

    func testSecretsComeInlineOrFromAFileAndAreRequired() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try "from-a-file\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertEqual(try KnotEnvironment(["S_FILE": file.path]).secret("S"), "from-a-file")
        XCTAssertEqual(try KnotEnvironment(["S": "inline"]).secret("S"), "inline")
        XCTAssertThrowsError(try KnotEnvironment([:]).secret("S"))
    }

    func testSettingsRefuseAShortInternalSecret() {
        XCTAssertThrowsError(try KnotSettings(service: "users", environment: KnotEnvironment(["KNOT_INTERNAL_SECRET": "short"])))
        let settings = try? KnotSettings(
            service: "users", environment: KnotEnvironment(["KNOT_INTERNAL_SECRET": String(repeating: "x", count: 40)]))
        XCTAssertEqual(settings?.listenPort, 9102)
        XCTAssertEqual(settings?.publicURL(forHost: "a-b.knot.localhost"), "https://a-b.knot.localhost:8443")
    }
}
