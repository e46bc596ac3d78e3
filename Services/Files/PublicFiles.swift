import Foundation
import KnotAuth
import HTTPTypes
import Hummingbird
import KnotDatabase
import KnotErrors
import KnotModels
import KnotServiceKit
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Files anyone may read without signing in, which the edge forwards from
/// the dashboard's address: each person's `public` folder at
/// `/~<user>/…` and share links at `/s/<token>/…`. Read-only; folders are
/// plain HTML indexes (or JSON when asked); files are served like private
/// downloads, and HTML, SVG and scripts only ever as attachments in a sandbox.
struct PublicFiles: Sendable {
    let app: FilesApp
    var database: Database { app.host.database }

    // MARK: share links (the owner's API)

    struct NewShare: Decodable {
        var domain: String
        var path: String
        var expiresInHours: Int?
        enum CodingKeys: String, CodingKey {
            case domain, path
            case expiresInHours = "expires_in_hours"
        }
    }

    struct Share: Encodable {
        var id: UUID
        var domain: String
        var path: String
        var kind: String
        var createdAt: Date
        var expiresAt: Date
        /// Only in the answer that makes it.
        var url: String?
        enum CodingKeys: String, CodingKey {
            case id, domain, path, kind, url
            case createdAt = "created_at"
            case expiresAt = "expires_at"
        }
    }

    func registerShares(on api: RouterGroup<KnotRequestContext>) {
        api.post("shares") { request, context in
            let identity = try context.requireEditor()
            let body = try await request.decodeJSON(NewShare.self, limit: 4096)
            let domain = try app.domain(body.domain, for: identity)
            let path = try SafePath.parse(body.path)
            guard let name = path.name else { throw KnotError.badRequest("a whole domain cannot be shared", code: "invalid_path") }
            let hours = body.expiresInHours ?? 168
            guard (1...24 * 90).contains(hours) else {
                throw KnotError.badRequest("expires_in_hours must be between 1 and 2160", code: "invalid_expiry")
            }
            let root = app.root(of: domain, for: identity)
            let kind: String = try await FileOperations.blocking {
                let parent = try DirectoryHandle.open(root: root, path: path.parent, create: false)
                switch FileOperations.kind(in: parent, name: name) {
                case .file: return "file"
                case .folder: return "folder"
                case .other: throw KnotError.forbidden("\(path.display) is a link or special file; it cannot be shared")
                case nil: throw KnotError.notFound("\(path.display) does not exist")
                }
            }
            let token = SecretToken.make()
            let id = UUID()
            let now = Date()
            let expires = now.addingTimeInterval(TimeInterval(hours) * 3600)
            try await database.client.query(
                """
                INSERT INTO files.shares (id, token_hash, owner, domain, path, kind, created_at, expires_at)
                VALUES (\(id), \(SecretToken.digest(token)), \(identity.username), \(domain.rawValue), \(path.components), \(kind), \(now), \(expires))
                """, logger: database.logger)
            let url = app.host.settings.publicURL + "/s/" + token + (kind == "folder" ? "/" : "")
            return JSONResponse(
                .created, Share(id: id, domain: domain.rawValue, path: path.display, kind: kind, createdAt: now, expiresAt: expires, url: url))
        }
        api.get("shares") { _, context in
            let identity = try context.requireIdentity()
            let rows = try await database.client.query(
                """
                SELECT id, domain, path, kind, created_at, expires_at FROM files.shares
                WHERE owner = \(identity.username) AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC
                """, logger: database.logger)
            var shares: [Share] = []
            for try await (id, domain, path, kind, created, expires) in rows.decode((UUID, String, [String], String, Date, Date).self) {
                shares.append(
                    Share(id: id, domain: domain, path: "/" + path.joined(separator: "/"), kind: kind, createdAt: created, expiresAt: expires))
            }
            return JSONResponse(.ok, ["shares": shares])
        }
        api.delete("shares/:id") { _, context in
            let identity = try context.requireEditor()
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { throw KnotError.notFound("no such share") }
            let rows = try await database.client.query(
                """
                UPDATE files.shares SET revoked_at = now() WHERE id = \(id) AND owner = \(identity.username) AND revoked_at IS NULL
                RETURNING id
                """, logger: database.logger)
            var revoked = false
            for try await _ in rows.decode(UUID.self) { revoked = true }
            guard revoked else { throw KnotError.notFound("no such share") }
            return JSONResponse(.ok, ["status": "revoked"])
        }
    }

    // MARK: serving

    func register(on router: Router<KnotRequestContext>) {
        let group = router.group("/public/v1").add(middleware: ReadyGateMiddleware(readiness: app.host.readiness))
        group.get("**") { request, context in try await serve(request, on: context.eventLoop) }
        group.head("**") { request, context in try await serve(request, on: context.eventLoop) }
    }

    func serve(_ request: Request, on eventLoop: any EventLoop) async throws -> Response {
        let raw = request.uri.path
        let prefix = "/public/v1/"
        guard raw.hasPrefix(prefix) else { throw KnotError.notFound("no such file") }
        let parts = raw.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first else { throw KnotError.notFound("no such file") }
        let browse: String
        let root: String
        let base: SafePath
        var rest = try SafePath.parse(encoded: parts.dropFirst().filter { !$0.isEmpty })
        if first.hasPrefix("~") {
            let owner = String(first.dropFirst())
            // Only an active person's folder, and never a name that could not be one.
            guard (2...32).contains(owner.count), owner.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }),
                let user = try? await app.host.client(for: "users").get("/internal/v1/users/by-name/\(owner)", as: UserRecord.self),
                user.active
            else { throw KnotError.notFound("nothing is published here") }
            root = app.root(of: .private, owner: owner)
            // `public` is reached like any other folder: a link there leads nowhere.
            base = SafePath(components: ["public"])
            browse = "/~\(owner)"
        } else if first == "s", let token = parts.dropFirst().first {
            rest = try SafePath.parse(encoded: parts.dropFirst(2).filter { !$0.isEmpty })
            guard let share = try await share(String(token)) else { throw KnotError.notFound("this link has expired or does not exist") }
            guard share.kind == "folder" || rest.components.isEmpty else { throw KnotError.notFound("no such file") }
            root = app.root(of: share.domain, owner: share.owner)
            base = share.path
            browse = "/s/\(token)"
        } else {
            throw KnotError.notFound("no such file")
        }
        let path = SafePath(components: base.components + rest.components)
        guard FileManager.default.fileExists(atPath: root) else { throw KnotError.notFound("nothing is published here") }
        let parent = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path.parent, create: false) }
        switch path.name.flatMap({ FileOperations.kind(in: parent, name: $0) }) {
        case .folder:
            let folder = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path, create: false) }
            let entries = try await FileOperations.blocking { try FileOperations.list(folder) }.filter { $0.kind == "file" || $0.kind == "folder" }
            let here = browse + (rest.components.isEmpty ? "" : rest.display)
            if request.headers[.accept]?.contains("application/json") == true {
                return try JSONResponse(.ok, ["entries": entries]).makeResponse()
            }
            return Self.index(entries, at: here)
        case .file:
            let download = try await FileOperations.blocking { try Download.open(in: parent, name: path.name!, path: path) }
            var response = download.response(for: request, on: eventLoop)
            if MediaTypes.inlineSafe(download.name) {
                response.headers[.contentDisposition] = FilesApp.attachment(download.name).replacingOccurrences(of: "attachment", with: "inline")
            }
            return response
        default:
            throw KnotError.notFound("no such file")
        }
    }

    struct ShareTarget {
        var owner: String
        var domain: FilesApp.Domain
        var path: SafePath
        var kind: String
    }

    func share(_ token: String) async throws -> ShareTarget? {
        guard token.utf8.count == 43 else { return nil }
        let rows = try await database.client.query(
            """
            SELECT owner, domain, path, kind FROM files.shares
            WHERE token_hash = \(SecretToken.digest(token)) AND revoked_at IS NULL AND expires_at > now()
            """, logger: database.logger)
        for try await (owner, domain, path, kind) in rows.decode((String, String, [String], String).self) {
            guard let domain = FilesApp.Domain(rawValue: domain), let path = try? SafePath.parse(plain: path) else { return nil }
            return ShareTarget(owner: owner, domain: domain, path: path, kind: kind)
        }
        return nil
    }

    /// A plain, script-free listing of a public folder.
    static func index(_ entries: [FileEntry], at here: String) -> Response {
        let base = here.hasSuffix("/") ? here : here + "/"
        let rows = entries.map { entry in
            let link = base + entry.name.percentEncodedComponent + (entry.kind == "folder" ? "/" : "")
            let size = entry.kind == "folder" ? "folder" : ByteCountFormatter.string(fromByteCount: entry.size, countStyle: .file)
            return "<tr><td><a href=\"\(link.htmlEscaped)\">\(entry.name.htmlEscaped)\(entry.kind == "folder" ? "/" : "")</a></td><td>\(size)</td></tr>"
        }.joined()
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(here.htmlEscaped)</title>
            <style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2430}td{padding:.25rem 1rem .25rem 0}</style></head>
            <body><h1>\(here.htmlEscaped)</h1><table>\(rows.isEmpty ? "<tr><td>Nothing here yet.</td></tr>" : rows)</table></body></html>
            """
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-cache",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

extension MediaTypes {
    /// Types a browser may show in place without running anything.
    static func inlineSafe(_ name: String) -> Bool {
        let type = self.type(of: name)
        return ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"].contains(type) || type.hasPrefix("text/plain")
            || type.hasPrefix("text/csv") || type.hasPrefix("text/markdown")
    }
}
