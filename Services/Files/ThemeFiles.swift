import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotServiceKit
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The dashboard's theme, kept as files in the admin domain's `theme/` folder
/// (as Knot keeps its theme in a volume admins can change): `theme.json` and
/// the logo it names. Admins manage it on the Files screen or through the API.
///
/// - `GET /api/v1/files/theme` (anyone signed in): the validated theme,
///   `{title, colours, menu, logo, source}`; admins also get `warnings`, the
///   problems found in the files in plain words. A missing folder is the
///   default theme; a broken file is the default for what is broken, never a 500.
/// - `GET /api/v1/files/theme/logo`: the logo with its real type (the bytes
///   must match the extension), an ETag, and a CSP that sandboxes it: an SVG
///   can carry script, which must not run even when opened on its own.
///
/// Only signed-in people see it: the edge admits no anonymous `/api/`
/// request, and the login pages are identity's own.
struct ThemeFiles: Sendable {
    let app: FilesApp

    static let folder = "theme"
    static let settingsName = "theme.json"
    static let maxSettingsBytes = 64 * 1024
    static let maxLogoBytes = 512 * 1024

    struct Answer: Encodable, Sendable {
        var title: String
        var colours: [String: String]
        var menu: [Theme.MenuEntry]
        /// Where to fetch the logo (changes with its content, so caches never show an old one), or nil.
        var logo: String?
        /// `default` when there is no theme file, else `admin`.
        var source: String
        /// Only for admins.
        var warnings: [String]?
    }

    struct Logo: Sendable {
        var bytes: [UInt8]
        var type: String
        var etag: String
    }

    struct Reading: Sendable {
        var theme: Theme
        var logo: Logo?
        var source: String
        var warnings: [String]
    }

    func register(on api: RouterGroup<KnotRequestContext>) {
        api.get("theme") { _, context in
            let identity = try context.requireIdentity()
            let reading = try await read()
            let answer = Answer(
                title: reading.theme.title, colours: reading.theme.colours, menu: reading.theme.menu,
                logo: reading.logo.map { "/api/v1/files/theme/logo?v=\($0.etag.trimmingCharacters(in: ["\""]))" },
                source: reading.source, warnings: identity.admin ? reading.warnings : nil)
            var response = try JSONResponse(.ok, answer).makeResponse()
            response.headers[.cacheControl] = "private, no-cache"
            return response
        }
        api.get("theme/logo") { request, context in
            _ = try context.requireIdentity()
            guard let logo = try await read().logo else { throw KnotError.notFound("the theme has no logo") }
            var headers: HTTPFields = [
                .contentType: logo.type,
                .eTag: logo.etag,
                .cacheControl: "private, no-cache",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                // Shown only as an <img>; opened on its own, an SVG's script must still not run.
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                HTTPField.Name("Cross-Origin-Resource-Policy")!: "same-origin",
            ]
            if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == logo.etag }) {
                headers[.contentType] = nil
                return Response(status: .notModified, headers: headers)
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: logo.bytes)))
        }
    }

    /// The theme as the files are now (they are small and read per request, so a change shows at once).
    func read() async throws -> Reading {
        let root = app.root(of: .admin, owner: "")
        return try await FileOperations.blocking { Self.read(adminRoot: root) }
    }

    static func read(adminRoot: String) -> Reading {
        var reading = Reading(theme: .standard, logo: nil, source: "default", warnings: [])
        // Reading never creates the admin domain or the theme folder.
        guard FileManager.default.fileExists(atPath: adminRoot) else { return reading }
        let directory: DirectoryHandle
        do {
            directory = try DirectoryHandle.open(root: adminRoot, path: SafePath(components: [folder]), create: false)
        } catch let error as KnotError where error.status == .notFound {
            return reading
        } catch {
            reading.warnings.append("admin/theme is not a folder Knot can read (a link or a file?), so the default theme is used")
            return reading
        }
        switch readFile(in: directory, name: settingsName, limit: maxSettingsBytes) {
        case .missing:
            return reading
        case .problem(let problem):
            reading.warnings.append("theme/\(settingsName) \(problem), so the default theme is used")
            return reading
        case .bytes(let bytes):
            guard let theme = Theme.parse(bytes, warnings: &reading.warnings) else { return reading }
            reading.source = "admin"
            reading.theme = theme
        }
        if let name = reading.theme.logoName {
            switch readFile(in: directory, name: name, limit: maxLogoBytes) {
            case .missing:
                reading.warnings.append("the logo theme/\(name) does not exist; no logo is shown")
            case .problem(let problem):
                reading.warnings.append("the logo theme/\(name) \(problem); no logo is shown")
            case .bytes(let bytes):
                if let type = logoType(name: name, bytes: bytes) {
                    reading.logo = Logo(bytes: bytes, type: type, etag: etag(of: bytes))
                } else {
                    reading.warnings.append("the logo theme/\(name) is not a real \(name.split(separator: ".").last!.uppercased()) image; no logo is shown")
                }
            }
        }
        return reading
    }

    enum FileRead {
        case missing
        case problem(String)
        case bytes([UInt8])
    }

    /// One regular file of the theme folder, whole, if it is within `limit`.
    static func readFile(in directory: DirectoryHandle, name: String, limit: Int) -> FileRead {
        let fd: Int32, info: stat
        switch FileOperations.openRegularFile(in: directory, name: name) {
        case .missing: return .missing
        case .refused(let problem): return .problem(problem)
        case .opened(let opened, let status): (fd, info) = (opened, status)
        }
        defer { close(fd) }
        guard info.st_size <= limit, let bytes = FileOperations.readAll(fd, limit: limit) else {
            return .problem("is larger than \(limit / 1024) KiB")
        }
        return .bytes(bytes)
    }

    /// The logo's media type, only when its bytes are what its extension says.
    static func logoType(name: String, bytes: [UInt8]) -> String? {
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch ext {
        case "png":
            return bytes.starts(with: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ? "image/png" : nil
        case "webp":
            return bytes.count >= 12 && bytes[0..<4].elementsEqual("RIFF".utf8) && bytes[8..<12].elementsEqual("WEBP".utf8) ? "image/webp" : nil
        case "svg":
            guard let text = String(validatingUTF8Bytes: bytes), text.lowercased().contains("<svg") else { return nil }
            return "image/svg+xml"
        default:
            return nil
        }
    }

    /// A validator from the content (FNV-1a, 64 bits): equal bytes, equal tag, on every replica.
    static func etag(of bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "\"\(String(hash, radix: 16))-\(bytes.count)\""
    }
}
