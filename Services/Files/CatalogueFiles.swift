import Foundation
import Hummingbird
import KnotErrors
import KnotModels
import KnotServiceKit
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// What the launcher reads of the file domains for its template catalogue:
/// the `*.template.yaml` files directly in the `services/` folder of the admin
/// domain, the shared domain and one person's private domain, and writes of
/// one file in that person's `services/`. Only for the launcher.
///
/// - `GET /internal/v1/catalogue/<user>` → `{"files": [{domain, name, content,
///   size, modified, problem}]}`, admin first, then shared, then private, each
///   sorted by name. Links, folders and special files are never opened (each
///   file is opened with `O_NOFOLLOW | O_NONBLOCK` and must be a regular
///   file); a file over `maxFileBytes`, or not UTF-8, comes without content
///   and with a `problem`; at most `maxFiles` per domain and `maxTotalBytes` in all.
/// - `PUT /internal/v1/catalogue/<user>/<name>` `{"content": "…", "overwrite": bool}`:
///   written beside the target under a hidden name, `fsync`ed and renamed into
///   place (claimed atomically when not overwriting: 409 when it exists), owned
///   per `FileOwnership`, counted against the person's quota.
/// - `DELETE /internal/v1/catalogue/<user>/<name>`: 404 when absent.
struct CatalogueFiles: Sendable {
    let app: FilesApp

    static let folder = "services"
    static let suffix = ".template.yaml"
    static let maxFileBytes = 256 * 1024
    static let maxFiles = 200
    static let maxTotalBytes = 8 * 1024 * 1024

    func register(on router: Router<KnotRequestContext>) {
        let api = app.host.internalAPI(router, "/internal/v1/catalogue", allowed: ["launcher"])
        api.get(":user") { _, context in
            let user = try Self.checkUser(context.parameters.require("user"))
            let roots: [(FilesApp.Domain, String)] = [
                (.admin, app.root(of: .admin, owner: user)), (.shared, app.root(of: .shared, owner: user)),
                (.private, app.root(of: .private, owner: user)),
            ]
            let files = try await FileOperations.blocking {
                var budget = Self.maxTotalBytes
                return roots.flatMap { domain, root in Self.read(domain: domain.rawValue, root: root, budget: &budget) }
            }
            return JSONResponse(.ok, ["files": files])
        }
        api.put(":user/:name") { request, context in
            let user = try Self.checkUser(context.parameters.require("user"))
            let name = try Self.checkName(context.parameters.require("name"))
            // JSON escaping can at most double text of this size (\u escapes are rarer still).
            let body = try await request.decodeJSON(CatalogueWrite.self, limit: 2 * Self.maxFileBytes + 1024)
            let data = Array(body.content.utf8)
            guard data.count <= Self.maxFileBytes else {
                throw KnotError.tooLarge("a template is at most \(Self.maxFileBytes / 1024) KiB")
            }
            let root = app.root(of: .private, owner: user)
            let path = SafePath(components: [Self.folder, name])
            let directory = try await FileOperations.blocking {
                try DirectoryHandle.open(root: root, path: SafePath(components: [Self.folder]), create: true)
            }
            let replaced: Int64? = {
                if case .file(let size, _) = FileOperations.kind(in: directory, name: name) { return size } else { return nil }
            }()
            if replaced != nil && body.overwrite != true {
                throw KnotError.conflict("\(path.display) already exists", code: "exists")
            }
            _ = try await app.quotas.allowance(
                for: user, root: root, adding: Int64(data.count) - (replaced ?? 0), newFile: replaced == nil)
            try await FileOperations.blocking {
                try Self.writeAtomically(data, into: directory, name: name, path: path, overwrite: body.overwrite == true)
            }
            app.quotas.forget(user)
            context.logger.info("template saved", metadata: ["owner": "\(user)", "name": "\(name)", "bytes": "\(data.count)"])
            return JSONResponse(
                .created, CatalogueFile(domain: "private", name: name, content: nil, size: Int64(data.count), modified: Date(), problem: nil))
        }
        api.delete(":user/:name") { _, context in
            let user = try Self.checkUser(context.parameters.require("user"))
            let name = try Self.checkName(context.parameters.require("name"))
            let root = app.root(of: .private, owner: user)
            let path = SafePath(components: [Self.folder, name])
            try await FileOperations.blocking {
                guard FileManager.default.fileExists(atPath: root) else { throw KnotError.notFound("\(path.display) does not exist") }
                let directory = try DirectoryHandle.open(root: root, path: SafePath(components: [Self.folder]), create: false)
                switch FileOperations.kind(in: directory, name: name) {
                case nil: throw KnotError.notFound("\(path.display) does not exist")
                case .folder: throw KnotError.conflict("\(path.display) is a folder", code: "is_a_folder")
                case .file, .other:
                    guard unlinkat(directory.fd, name, 0) == 0 else { throw FileErrors.from(errno: errno, path: path) }
                }
            }
            app.quotas.forget(user)
            context.logger.info("template deleted", metadata: ["owner": "\(user)", "name": "\(name)"])
            return JSONResponse(.ok, ["status": "deleted"])
        }
    }

    static func checkUser(_ user: String) throws -> String {
        try SafePath.check(user)
        guard user.count <= 64, user.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" })
        else { throw KnotError.badRequest("not a username", code: "invalid_user") }
        return user
    }

    static func checkName(_ name: String) throws -> String {
        try SafePath.check(name)
        guard name.hasSuffix(suffix), name.count > suffix.count, !name.hasPrefix(".") else {
            throw KnotError.badRequest("a template file's name ends with \(suffix)", code: "invalid_name")
        }
        return name
    }

    /// The template files of one domain's `services/` folder; none when it or the domain is missing or is a link.
    static func read(domain: String, root: String, budget: inout Int) -> [CatalogueFile] {
        // Never create a domain root by reading it.
        guard FileManager.default.fileExists(atPath: root),
            let directory = try? DirectoryHandle.open(root: root, path: SafePath(components: [folder]), create: false),
            let names = try? FileOperations.names(in: directory)
        else { return [] }
        var files: [CatalogueFile] = []
        for name in names.sorted()
        where name.hasSuffix(suffix) && name.count > suffix.count && !name.hasPrefix(".") && !name.hasPrefix(UploadNames.prefix) {
            guard files.count < maxFiles else { break }
            // A link, something other than a file, or gone meanwhile: not part of the catalogue.
            guard case .opened(let fd, let info) = FileOperations.openRegularFile(in: directory, name: name) else { continue }
            defer { close(fd) }
            let size = Int64(info.st_size)
            var file = CatalogueFile(
                domain: domain, name: name, content: nil, size: size,
                modified: Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)), problem: nil)
            if size > Int64(maxFileBytes) {
                file.problem = "the file is larger than \(maxFileBytes / 1024) KiB"
            } else if size > Int64(budget) {
                file.problem = "the catalogue's files are larger than \(maxTotalBytes / (1024 * 1024)) MiB in all; this one was not read"
            } else if let bytes = FileOperations.readAll(fd, limit: maxFileBytes) {
                if let text = String(validatingUTF8Bytes: bytes) {
                    file.content = text
                    file.size = Int64(bytes.count)
                    budget -= bytes.count
                } else {
                    file.problem = "the file is not UTF-8 text"
                }
            } else {
                file.problem = "the file could not be read"
            }
            files.append(file)
        }
        return files
    }

    static func writeAtomically(_ data: [UInt8], into directory: DirectoryHandle, name: String, path: SafePath, overwrite: Bool) throws {
        let temporary = UploadNames.prefix + UUID().uuidString.lowercased()
        let fd = openat(directory.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileErrors.from(errno: errno, path: path) }
        FileOwnership.adopt(fd)
        var closed = false
        do {
            try FileOperations.writeAll(fd: fd, ByteBuffer(bytes: data), path: path)
            guard fsync(fd) == 0 else { throw FileErrors.from(errno: errno, path: path) }
            close(fd)
            closed = true
            try Transfers.move(from: directory, temporary, to: directory, name, overwrite: overwrite, path: path)
        } catch {
            if !closed { close(fd) }
            unlinkat(directory.fd, temporary, 0)
            throw error
        }
    }
}

extension String {
    /// The text of UTF-8 bytes, or nil when they are not valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        guard let text = String(bytes: bytes, encoding: .utf8) else { return nil }
        self = text
    }
}
