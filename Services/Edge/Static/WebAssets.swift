import CompressNIO
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The dashboard's static files, served from memory: read once, compressed
/// once, revalidated by ETag, and looked at again on disk at most every two
/// seconds so an edited file shows without a restart.
final class WebAssets: Sendable {
    struct Asset: Sendable {
        var body: ByteBuffer
        var gzipped: ByteBuffer?
        var contentType: String
        var etag: String
        var stamp: FileStamp
        var checked: UInt64
    }

    let root: String
    private let cache = NIOLockedValueBox<[String: Asset]>([:])
    private static let recheckNanoseconds: UInt64 = 2_000_000_000
    private static let maxAssetBytes = 8 * 1024 * 1024

    init(root: String) {
        self.root = (root as NSString).standardizingPath
    }

    /// The headers every dashboard answer carries.
    static let securityHeaders: [(String, String)] = [
        ("Strict-Transport-Security", "max-age=31536000"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ]

    /// The answer for a path: the file, a 304, or nil when there is no such file.
    func answer(path: Substring, headers: HTTPHeaders, head: Bool) -> (HTTPResponseStatus, HTTPHeaders, ByteBuffer?)? {
        guard let asset = asset(for: path) else { return nil }
        var out = HTTPHeaders(Self.securityHeaders)
        out.add(name: "Content-Type", value: asset.contentType)
        out.add(name: "ETag", value: asset.etag)
        out.add(name: "Cache-Control", value: "no-cache")
        out.add(name: "Vary", value: "Accept-Encoding")
        if headers["if-none-match"].contains(where: { $0.split(separator: ",").contains { $0.trimmingSpaces == asset.etag || $0.trimmingSpaces == "*" } }) {
            return (.notModified, out, nil)
        }
        var body = asset.body
        if let gzipped = asset.gzipped, headers["accept-encoding"].contains(where: { $0.contains("gzip") }) {
            out.add(name: "Content-Encoding", value: "gzip")
            body = gzipped
        }
        out.add(name: "Content-Length", value: String(body.readableBytes))
        return (.ok, out, head ? nil : body)
    }

    private func asset(for path: Substring) -> Asset? {
        var relative = String(path.dropFirst())
        if let decoded = relative.removingPercentEncoding { relative = decoded }
        if relative.isEmpty || relative.hasSuffix("/") { relative += "index.html" }
        // RequestCheck already refused dot segments; hidden files are never assets either.
        guard !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }), !relative.contains("\0") else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        if let cached = cache.withLockedValue({ $0[relative] }), now - cached.checked < Self.recheckNanoseconds {
            return cached
        }
        let full = root + "/" + relative
        guard var stamp = FileStamp(path: full) else {
            cache.withLockedValue { $0[relative] = nil }
            if !relative.hasSuffix("index.html"), Self.isDirectory(full) {
                return asset(for: Substring("/" + relative + "/index.html"))
            }
            return nil
        }
        if var cached = cache.withLockedValue({ $0[relative] }), cached.stamp == stamp {
            cached.checked = now
            cache.withLockedValue { $0[relative] = cached }
            return cached
        }
        guard let data = FileManager.default.contents(atPath: full), data.count <= Self.maxAssetBytes else { return nil }
        stamp = FileStamp(path: full) ?? stamp
        let body = ByteBuffer(bytes: data)
        let contentType = Self.contentType(of: relative)
        var gzipped: ByteBuffer?
        if Self.compressible(contentType), body.readableBytes > 512 {
            var input = body
            if let compressed = try? input.compress(with: .gzip()), compressed.readableBytes < body.readableBytes { gzipped = compressed }
        }
        let digest = SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined()
        let asset = Asset(body: body, gzipped: gzipped, contentType: contentType, etag: "\"\(digest)\"", stamp: stamp, checked: now)
        cache.withLockedValue { $0[relative] = asset }
        return asset
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    static func contentType(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "html", "htm": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "json": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "ico": "image/x-icon"
        case "webp": "image/webp"
        case "woff2": "font/woff2"
        case "woff": "font/woff"
        case "txt": "text/plain; charset=utf-8"
        case "webmanifest": "application/manifest+json"
        default: "application/octet-stream"
        }
    }

    static func compressible(_ contentType: String) -> Bool {
        contentType.hasPrefix("text/") || contentType.hasPrefix("application/json") || contentType.hasPrefix("image/svg")
            || contentType.hasPrefix("application/manifest")
    }
}
