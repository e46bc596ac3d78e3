import Foundation
import XCTest

@testable import Knotctl

/// knotctl's pure logic: KEY=value arguments, configuration precedence,
/// remote paths, sizes and exit codes. The client against a running Knot is
/// tested end to end in Tests/EndToEnd/test_knotctl.py.
final class KnotctlTests: XCTestCase {
    func testAssignmentsSplitAtTheFirstEquals() throws {
        let values = try Assignments.parse(["NAME=lab", "ARGS=--x=1 --y=2", "EMPTY="])
        XCTAssertEqual(values, ["NAME": "lab", "ARGS": "--x=1 --y=2", "EMPTY": ""])
    }

    func testAssignmentsRefuseBadKeysAndRepeats() {
        for bad in [["novalue"], ["=x"], ["1X=2"], ["A-B=1"], ["A=1", "A=2"], ["É=1"]] {
            XCTAssertThrowsError(try Assignments.parse(bad), "\(bad)") { error in
                XCTAssertEqual((error as? KnotctlError)?.status, .usage)
            }
        }
    }

    func testFlagsBeatEnvironmentBeatFile() {
        let file = ConfigFile(url: "https://file.example", token: "file-token", caFile: "/file/ca.pem")
        let environment = ["KNOT_URL": "https://env.example/", "KNOT_TOKEN": "env-token"]
        var settings = Settings.resolve(flags: .init(), environment: environment, file: file)
        XCTAssertEqual(settings.url, "https://env.example")
        XCTAssertEqual(settings.token, "env-token")
        XCTAssertEqual(settings.caFile, "/file/ca.pem")
        XCTAssertEqual(settings.sources["ca_file"], "configuration file")

        settings = Settings.resolve(flags: .init(url: "https://flag.example", token: "flag-token"), environment: environment, file: file)
        XCTAssertEqual(settings.url, "https://flag.example")
        XCTAssertEqual(settings.token, "flag-token")

        settings = Settings.resolve(flags: .init(), environment: ["KNOT_TOKEN": ""], file: file)
        XCTAssertEqual(settings.token, "file-token", "an empty variable does not hide the file")

        settings = Settings.resolve(flags: .init(), environment: [:], file: nil)
        XCTAssertNil(settings.url)
        XCTAssertThrowsError(try settings.requireToken()) { XCTAssertEqual(($0 as? KnotctlError)?.status, .unauthorised) }
    }

    func testURLIsChecked() {
        for bad in ["ftp://x", "knot.example", "https://", "https://x/?a=1"] {
            XCTAssertThrowsError(try Settings(url: bad).requireURL(), bad)
        }
        XCTAssertEqual(try Settings(url: "https://knot.localhost:8443").requireURL(), "https://knot.localhost:8443")
    }

    func testConfigPathAndFileMode() throws {
        XCTAssertEqual(ConfigFile.path(environment: ["KNOT_CONFIG": "/x/c.json", "HOME": "/h"]), "/x/c.json")
        XCTAssertEqual(ConfigFile.path(environment: ["HOME": "/h"]), "/h/.config/knot/config.json")
        XCTAssertEqual(ConfigFile.path(environment: ["HOME": "/h", "XDG_CONFIG_HOME": "/xdg"]), "/xdg/knot/config.json")

        let folder = NSTemporaryDirectory() + "knotctl-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/knot/config.json"
        let file = ConfigFile(url: "https://k", token: "secret", caFile: nil)
        try file.save(to: path)
        XCTAssertEqual(try ConfigFile.load(from: path), file)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ConfigFile.load(from: path))
        XCTAssertNil(try ConfigFile.load(from: folder + "/missing.json"))
    }

    func testRemotePaths() throws {
        let path = try RemotePath(parsing: "/shared/a b/c#d.txt")
        XCTAssertEqual(path.domain, "shared")
        XCTAssertEqual(path.path, "a b/c#d.txt")
        XCTAssertEqual(path.apiPath, "/api/v1/files/shared/a%20b/c%23d.txt")
        XCTAssertEqual(try RemotePath(parsing: "private").segments, [])
        for bad in ["home/x", "", "private/../x", "shared/./x"] {
            XCTAssertThrowsError(try RemotePath(parsing: bad), bad)
        }
    }

    func testSizes() {
        XCTAssertEqual(Assignments.byteCount("512"), 512)
        XCTAssertEqual(Assignments.byteCount("64K"), 65536)
        XCTAssertEqual(Assignments.byteCount("8MiB"), 8 << 20)
        XCTAssertEqual(Assignments.byteCount("1g"), 1 << 30)
        XCTAssertNil(Assignments.byteCount("-1"))
        XCTAssertNil(Assignments.byteCount("lots"))
        XCTAssertNil(Assignments.byteCount("99999999999999999999G"))
    }

    func testExitCodesFollowHTTPStatus() {
        XCTAssertEqual(ExitStatus.forHTTPStatus(401), .unauthorised)
        XCTAssertEqual(ExitStatus.forHTTPStatus(403), .unauthorised)
        XCTAssertEqual(ExitStatus.forHTTPStatus(404), .notFound)
        XCTAssertEqual(ExitStatus.forHTTPStatus(409), .conflict)
        XCTAssertEqual(ExitStatus.forHTTPStatus(400), .failure)
        XCTAssertEqual(ExitStatus.forHTTPStatus(500), .failure)
        let error = KnotctlError.fromAPI(status: 404, body: Data(#"{"error":{"code":"not_found","message":"no service x"}}"#.utf8))
        XCTAssertEqual(error.message, "no service x")
        XCTAssertEqual(error.code, "not_found")
        XCTAssertEqual(KnotctlError.fromAPI(status: 502, body: Data("<html>".utf8)).status, .failure)
    }

    func testTableCellsShowBooleansAndHideControlCharacters() throws {
        let object = try JSONSerialization.jsonObject(with: Data(#"{"a":true,"b":1,"c":"x\u001b[2Jy"}"#.utf8)) as! [String: Any]
        XCTAssertEqual(Output.cell(object["a"]), "yes")
        XCTAssertEqual(Output.cell(object["b"]), "1")
        XCTAssertEqual(Output.sanitise(Output.cell(object["c"])), "x?[2Jy")
    }

    func testUploadKeysChangeWithTheFile() {
        let a = Uploader.key(url: "https://k", local: "/f", size: 10, modified: 1, target: "private/f")
        XCTAssertEqual(a, Uploader.key(url: "https://k", local: "/f", size: 10, modified: 1, target: "private/f"))
        XCTAssertNotEqual(a, Uploader.key(url: "https://k", local: "/f", size: 11, modified: 1, target: "private/f"))
        XCTAssertNotEqual(a, Uploader.key(url: "https://k", local: "/f", size: 10, modified: 2, target: "private/f"))
    }
}
