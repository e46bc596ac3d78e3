import Foundation
import XCTest

@testable import KnotFiles

/// The theme's validation (Services/Files/Theme.swift) and the folder reader
/// (ThemeFiles) against real files in a temporary admin domain.
final class ThemeTests: XCTestCase {
    func parse(_ json: String) -> (Theme?, [String]) {
        var warnings: [String] = []
        let theme = Theme.parse(Array(json.utf8), warnings: &warnings)
        return (theme, warnings)
    }

    func testColoursAreHexOnlyAndNormalised() {
        XCTAssertEqual(Theme.hexColour("#ABC"), "#aabbcc")
        XCTAssertEqual(Theme.hexColour("#0b6E4f"), "#0b6e4f")
        for bad in ["red", "#abcd", "#12345g", "#fff;", "#fff }", " #fff", "rgb(1,2,3)", "#ｆｆｆ", "", "#", "var(--x)"] {
            XCTAssertNil(Theme.hexColour(bad), bad)
        }
    }

    func testMenuAddressesAreHTTPOrSameSiteOnly() {
        XCTAssertEqual(Theme.safeURL("https://docs.example.org/a?b=c"), "https://docs.example.org/a?b=c")
        XCTAssertEqual(Theme.safeURL("HTTP://example.org"), "HTTP://example.org")
        XCTAssertEqual(Theme.safeURL("/status"), "/status")
        for bad in ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example", "/\\evil.example",
                    "https://", "https:///path", "java\tscript:x", "https://a.example/<script>", "vbscript:x", "ftp://x.example", "relative/path"] {
            XCTAssertNil(Theme.safeURL(bad), bad)
        }
    }

    func testAMaliciousThemeKeepsOnlyWhatIsSafe() {
        let (theme, warnings) = parse("""
            {"title": "Lab", "colours": {"primary": "red;}", "text": "#222", "bogus": "#000"},
             "menu": [{"title": "x", "url": "javascript:alert(1)"}, {"title": "Docs", "url": "https://d.example"}, {"url": "/a"}],
             "logo": "../../etc/passwd", "script": "alert(1)"}
            """)
        XCTAssertEqual(theme?.colours, ["text": "#222222"])
        XCTAssertEqual(theme?.menu, [Theme.MenuEntry(title: "Docs", url: "https://d.example")])
        XCTAssertNil(theme?.logoName)
        XCTAssertEqual(theme?.title, "Lab")
        let text = warnings.joined(separator: "\n")
        for expected in ["\"script\"", "colours.primary", "colours.bogus", "menu entry 1", "menu entry 3", "logo must be"] {
            XCTAssertTrue(text.contains(expected), expected)
        }
    }

    func testNotJSONMeansTheDefault() {
        for broken in ["{", "[]", "\"text\"", "", "{\"title\": 5}"] {
            let (theme, warnings) = parse(broken)
            XCTAssertFalse(warnings.isEmpty, broken)
            XCTAssertEqual(theme?.title ?? Theme.defaultTitle, Theme.defaultTitle, broken)
        }
    }

    func testContrastBelowAAIsReported() {
        XCTAssertEqual(Theme.contrast("#000000", "#ffffff"), 21, accuracy: 0.01)
        XCTAssertEqual(Theme.contrast("#777777", "#ffffff"), 4.48, accuracy: 0.01)
        XCTAssertTrue(Theme.contrastWarnings(Theme.defaultColours).isEmpty, "the default theme passes AA")
        let warnings = Theme.contrastWarnings(["text": "#999999", "background": "#aaaaaa"])
        XCTAssertTrue(warnings.contains { $0.contains("#999999 on #aaaaaa") && $0.contains("4.5:1") }, "\(warnings)")
    }

    func testTheFolderReaderRefusesLinksAndImpostorLogos() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("knot-theme-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        XCTAssertEqual(ThemeFiles.read(adminRoot: root).source, "default")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root), "reading never creates the admin domain")

        let folder = root + "/theme"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(##"{"logo": "logo.png", "colours": {"primary": "#123"}}"##.utf8).write(to: URL(fileURLWithPath: folder + "/theme.json"))
        try Data("<html>not a png</html>".utf8).write(to: URL(fileURLWithPath: folder + "/logo.png"))
        var reading = ThemeFiles.read(adminRoot: root)
        XCTAssertEqual(reading.source, "admin")
        XCTAssertEqual(reading.theme.colours, ["primary": "#112233"])
        XCTAssertNil(reading.logo)
        XCTAssertTrue(reading.warnings.contains { $0.contains("not a real PNG") }, "\(reading.warnings)")

        try Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/logo.png"))
        reading = ThemeFiles.read(adminRoot: root)
        XCTAssertEqual(reading.logo?.type, "image/png")
        XCTAssertEqual(reading.logo?.etag, ThemeFiles.read(adminRoot: root).logo?.etag, "the same bytes, the same ETag")

        // A link where the settings were is never followed.
        try FileManager.default.removeItem(atPath: folder + "/theme.json")
        try FileManager.default.createSymbolicLink(atPath: folder + "/theme.json", withDestinationPath: "/etc/hostname")
        reading = ThemeFiles.read(adminRoot: root)
        XCTAssertEqual(reading.source, "default")
        XCTAssertTrue(reading.warnings.contains { $0.contains("cannot be opened") }, "\(reading.warnings)")

        // Nor is a linked folder.
        try FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createSymbolicLink(atPath: folder, withDestinationPath: "/etc")
        reading = ThemeFiles.read(adminRoot: root)
        XCTAssertEqual(reading.source, "default")
        XCTAssertFalse(reading.warnings.isEmpty)
    }
}
