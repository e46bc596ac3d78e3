import Foundation
import HTTPTypes
import Hummingbird
import KnotDatabase
import KnotErrors
import KnotServiceKit
import NIOCore
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// Large uploads that survive a dropped connection: the core of the tus
/// protocol (1.0.0). `POST /api/v1/files/uploads` `{domain, path, length,
/// overwrite}` opens one; `HEAD …/uploads/<id>` says how much the server has
/// (`Upload-Offset`); `PATCH …/uploads/<id>` with `Upload-Offset` and
/// `Content-Type: application/offset+octet-stream` appends from there; the
/// last byte makes the file appear, whole and at once; `DELETE` abandons it.
/// The bytes are kept in a hidden file beside the target (so the final rename
/// never crosses filesystems), and that file's size *is* the offset: nothing
/// else can disagree with it after a crash.
struct ResumableUploads: Sendable {
    let app: FilesApp
    var database: Database { app.host.database }

    struct Opening: Decodable {
        var domain: String
        var path: String
        var length: Int64
        var overwrite: Bool?
    }

    struct Session: Encodable {
        var id: UUID
        var offset: Int64
        var length: Int64
        var location: String
    }

    struct Record: Sendable {
        var id: UUID
        var owner: String
        var domain: FilesApp.Domain
        var folder: SafePath
        var name: String
        var length: Int64
        var overwrite: Bool
        var temporary: String { UploadNames.prefix + id.uuidString.lowercased() }
        var path: SafePath { SafePath(components: folder.components + [name]) }
    }

    static let tusHeaders: HTTPFields = [HTTPField.Name("Tus-Resumable")!: "1.0.0", .cacheControl: "no-store"]

    func register(on api: RouterGroup<KnotRequestContext>) {
        api.post("uploads") { request, context in try await open(request, context) }
        api.head("uploads/:id") { _, context in try await offset(context) }
        api.get("uploads/:id") { _, context in try await offset(context) }
        api.patch("uploads/:id") { request, context in try await append(request, context) }
        api.delete("uploads/:id") { _, context in try await abandon(context) }
    }

    func open(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let identity = try context.requireEditor()
        let body = try await request.decodeJSON(Opening.self, limit: app.host.settings.maxJSONBody)
        let domain = try app.domain(body.domain, for: identity)
        let path = try SafePath.parse(body.path)
        guard let name = path.name else { throw KnotError.badRequest("give the file's path", code: "invalid_path") }
        guard body.length >= 0 else { throw KnotError.badRequest("length must not be negative", code: "invalid_length") }
        guard body.length <= app.operations.maxUploadBytes else {
            throw KnotError.tooLarge("uploads are limited to \(app.operations.maxUploadBytes) bytes")
        }
        let overwrite = body.overwrite ?? false
        let root = app.root(of: domain, for: identity)
        if domain == .private {
            _ = try await app.quotas.allowance(for: identity.username, root: root, adding: body.length, newFile: true)
            // Reserved at once, so uploads opened together (or before the cached usage is measured again) count each other.
            app.quotas.record(identity.username, bytes: body.length, files: 1)
        }
        let id = UUID()
        let record = Record(id: id, owner: identity.username, domain: domain, folder: path.parent, name: name, length: body.length, overwrite: overwrite)
        try await FileOperations.blocking {
            let folder = try DirectoryHandle.open(root: root, path: path.parent, create: true)
            switch FileOperations.kind(in: folder, name: name) {
            case .folder: throw KnotError.conflict("\(path.display) is a folder", code: "is_a_folder")
            case .file where !overwrite, .other where !overwrite:
                throw KnotError.conflict("\(path.display) already exists; ask for overwrite to replace it", code: "exists")
            default: break
            }
            let fd = openat(folder.fd, record.temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileErrors.from(errno: errno, path: path) }
            FileOwnership.adopt(fd)
            close(fd)
        }
        try await database.client.query(
            """
            INSERT INTO files.uploads (id, owner, domain, folder, name, length, overwrite)
            VALUES (\(id), \(identity.username), \(domain.rawValue), \(path.parent.components), \(name), \(body.length), \(overwrite))
            """, logger: database.logger)
        let location = "/api/v1/files/uploads/\(id.uuidString.lowercased())"
        var headers = Self.tusHeaders
        headers[.location] = location
        headers[HTTPField.Name("Upload-Offset")!] = "0"
        let data = try JSONEncoder.knot.encode(Session(id: id, offset: 0, length: body.length, location: location))
        if body.length == 0 { try await complete(record, root: root) }
        return Response(status: .created, headers: headers + [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    func offset(_ context: KnotRequestContext) async throws -> Response {
        let (record, root) = try await find(context)
        let offset = try await currentOffset(record, root: root)
        var headers = Self.tusHeaders
        headers[HTTPField.Name("Upload-Offset")!] = String(offset)
        headers[HTTPField.Name("Upload-Length")!] = String(record.length)
        return Response(status: .ok, headers: headers)
    }

    func append(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let (record, root) = try await find(context)
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/offset+octet-stream") == true else {
            throw KnotError.unsupportedMediaType("PATCH needs Content-Type application/offset+octet-stream")
        }
        guard let claimed = request.headers[HTTPField.Name("Upload-Offset")!].flatMap(Int64.init) else {
            throw KnotError.badRequest("Upload-Offset is missing", code: "invalid_offset")
        }
        let path = record.path
        // Opened off the event loops, without blocking (a FIFO put in its place would wait forever),
        // and only if it is still a regular file.
        let fd: Int32 = try await FileOperations.blocking {
            let folder = try DirectoryHandle.open(root: root, path: record.folder, create: false)
            let fd = openat(folder.fd, record.temporary, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { throw KnotError.notFound("this upload no longer exists") }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw KnotError.conflict("this upload's data is no longer a regular file", code: "not_a_file")
            }
            return fd
        }
        defer { close(fd) }
        // One writer at a time per upload (a lock on the file itself, so replicas sharing the storage agree).
        var info = stat()
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            // Typically the request that just dropped, until the server notices: ask again shortly.
            fstat(fd, &info)
            var error = KnotError.conflict("another request is still writing this upload; ask for the offset again", code: "upload_busy")
            error.headers[HTTPField.Name("Upload-Offset")!] = String(info.st_size)
            error.headers[.retryAfter] = "1"
            throw error
        }
        fstat(fd, &info)
        var offset = Int64(info.st_size)
        guard claimed == offset else {
            var error = KnotError.conflict("the server has \(offset) bytes; continue from there", code: "offset_mismatch")
            error.headers[HTTPField.Name("Upload-Offset")!] = String(offset)
            throw error
        }
        // Whatever arrives is kept, even if the connection drops: the next HEAD resumes after it.
        // Chunks are gathered as for any upload, and what is gathered is written however the body ends.
        var writer = UploadWriter(fd: fd, path: path, startingAt: offset, direct: app.operations.directUploads)
        var refusal: KnotError?
        do {
            for try await var chunk in request.body {
                guard offset + writer.written + Int64(writer.gathered + chunk.readableBytes) <= record.length else {
                    throw KnotError.tooLarge("the upload is \(record.length) bytes; more was sent")
                }
                try await writer.add(&chunk)
            }
        } catch let error as KnotError {
            refusal = error
        } catch {
            // The client went away; what was written (and gathered, below) stays for the next attempt.
            context.logger.info("resumable upload interrupted", metadata: ["path": "\(path.display)", "offset": "\(offset + writer.written)"])
        }
        try await writer.flush()
        offset += writer.written
        if let refusal { throw refusal }
        _ = fsync(fd)
        try await database.client.query("UPDATE files.uploads SET touched_at = now() WHERE id = \(record.id)", logger: database.logger)
        var headers = Self.tusHeaders
        headers[HTTPField.Name("Upload-Offset")!] = String(offset)
        if offset == record.length {
            try await complete(record, root: root)
            headers[HTTPField.Name("Knot-Upload-Complete")!] = "true"
            context.logger.info("resumable upload complete", metadata: ["path": "\(path.display)", "bytes": "\(offset)"])
        }
        return Response(status: .noContent, headers: headers)
    }

    func abandon(_ context: KnotRequestContext) async throws -> Response {
        let (record, root) = try await find(context)
        try await remove(record, root: root)
        return Response(status: .noContent, headers: Self.tusHeaders)
    }

    /// The finished bytes take the target's name (never replacing one unless asked) and the session ends.
    func complete(_ record: Record, root: String) async throws {
        let path = record.path
        try await FileOperations.blocking {
            let folder = try DirectoryHandle.open(root: root, path: record.folder, create: false)
            try Transfers.move(from: folder, record.temporary, to: folder, record.name, overwrite: record.overwrite, path: path)
        }
        // The reservation made at opening gives way to a fresh measurement (an overwrite freed the old file's bytes).
        if record.domain == .private { app.quotas.forget(record.owner) }
        try await database.client.query("DELETE FROM files.uploads WHERE id = \(record.id)", logger: database.logger)
    }

    func remove(_ record: Record, root: String) async throws {
        try? await FileOperations.blocking {
            let folder = try DirectoryHandle.open(root: root, path: record.folder, create: false)
            unlinkat(folder.fd, record.temporary, 0)
        }
        try await database.client.query("DELETE FROM files.uploads WHERE id = \(record.id)", logger: database.logger)
    }

    func currentOffset(_ record: Record, root: String) async throws -> Int64 {
        try await FileOperations.blocking {
            let folder = try DirectoryHandle.open(root: root, path: record.folder, create: false)
            var info = stat()
            guard fstatat(folder.fd, record.temporary, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw KnotError.notFound("this upload no longer exists")
            }
            return Int64(info.st_size)
        }
    }

    /// The upload named in the path, if it is the caller's.
    func find(_ context: KnotRequestContext) async throws -> (Record, String) {
        let identity = try context.requireEditor()
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            throw KnotError.notFound("no such upload")
        }
        let rows = try await database.client.query(
            "SELECT owner, domain, folder, name, length, overwrite FROM files.uploads WHERE id = \(id)", logger: database.logger)
        for try await (owner, domain, folder, name, length, overwrite) in rows.decode((String, String, [String], String, Int64, Bool).self) {
            guard owner == identity.username, let domain = FilesApp.Domain(rawValue: domain) else { break }
            let record = Record(
                id: id, owner: owner, domain: domain, folder: try SafePath.parse(plain: folder), name: name, length: length, overwrite: overwrite)
            return (record, app.root(of: try app.domain(domain.rawValue, for: identity), for: identity))
        }
        throw KnotError.notFound("no such upload")
    }

    /// Abandoned uploads (untouched for `maxAge`) go, bytes and all.
    func sweep(maxAge: TimeInterval) async throws {
        let horizon = Date().addingTimeInterval(-maxAge)
        let rows = try await database.client.query(
            "SELECT id, owner, domain, folder, name FROM files.uploads WHERE touched_at < \(horizon)", logger: database.logger)
        var stale: [(UUID, String, String, [String], String)] = []
        for try await row in rows.decode((UUID, String, String, [String], String).self) { stale.append(row) }
        for (id, owner, domain, folder, name) in stale {
            guard let domain = FilesApp.Domain(rawValue: domain), let parent = try? SafePath.parse(plain: folder) else { continue }
            let root = app.root(of: domain, owner: owner)
            let record = Record(id: id, owner: owner, domain: domain, folder: parent, name: name, length: 0, overwrite: false)
            try? await remove(record, root: root)
        }
    }
}
