import HTTPTypes
import Foundation
import Hummingbird
import KnotAuth
import KnotErrors
import KnotServiceKit
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The files service: each user's private folder, the shared folder, and the
/// admins' folder, under one root that the runtime mounts into services too.
struct FilesApp: Sendable {
    let host: ServiceHost
    let operations: FileOperations
    var quotas = Quotas(maxBytes: 0, maxFiles: 0)
    /// The image registry (`KNOT_REGISTRY_API_URL`), when one is configured: Images/ImagesAPI.
    var registry: RegistryClient?
    static let prefix = "/api/v1/files/"

    enum Domain: String, CaseIterable {
        case `private`, shared, admin
    }

    struct FolderRequest: Decodable {
        var domain: String
        var path: String
    }

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let router = host.makeRouter()
        let api = host.userAPI(router, "/api/v1/files")
        let limit = host.settings.maxJSONBody

        CatalogueFiles(app: self).register(on: router)
        ImagesAPI(app: self, client: registry).register(on: router)
        ResumableUploads(app: self).register(on: api)
        ThemeFiles(app: self).register(on: api)
        PublicFiles(app: self).registerShares(on: api)
        FilesOpenAPI.document.register(on: api)
        PublicFiles(app: self).register(on: router)
        api.get("usage") { _, context in
            let identity = try context.requireIdentity()
            let usage = try await quotas.usage(of: identity.username, root: root(of: .private, for: identity))
            return JSONResponse(
                .ok,
                UsageAnswer(
                    bytes: usage.bytes, files: usage.files, quotaBytes: quotas.maxBytes > 0 ? quotas.maxBytes : nil,
                    quotaFiles: quotas.maxFiles > 0 ? quotas.maxFiles : nil))
        }
        api.post("folders") { request, context in
            let identity = try context.requireEditor()
            let body = try await request.decodeJSON(FolderRequest.self, limit: limit)
            let domain = try domain(body.domain, for: identity)
            let path = try SafePath.parse(body.path)
            guard !path.components.isEmpty else { throw KnotError.badRequest("give the folder's path", code: "invalid_path") }
            let root = root(of: domain, for: identity)
            try await FileOperations.blocking {
                let parent = try DirectoryHandle.open(root: root, path: path.parent, create: true)
                guard mkdirat(parent.fd, path.name!, 0o755) == 0 else { throw FileErrors.from(errno: errno, path: path) }
                FileOwnership.adopt(path.name!, in: parent.fd)
            }
            return JSONResponse(.created, ["domain": domain.rawValue, "path": path.display])
        }
        api.post("move") { request, context in try await transfer(request, context, copy: false) }
        api.post("copy") { request, context in try await transfer(request, context, copy: true) }
        api.get("**") { request, context in try await get(request, context) }
        api.head("**") { request, context in try await get(request, context) }
        api.put("**") { request, context in
            let identity = try context.requireEditor()
            let (domain, path) = try locate(request, identity)
            guard let name = path.name else { throw KnotError.badRequest("give the file's path", code: "invalid_path") }
            if let length = request.headers[.contentLength].flatMap(Int64.init), length > operations.maxUploadBytes {
                throw KnotError.tooLarge("uploads are limited to \(operations.maxUploadBytes) bytes")
            }
            let root = root(of: domain, for: identity)
            let directory = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path.parent, create: true) }
            let overwrite = request.uri.queryParameters["overwrite"] == "true"
            // The private domain counts against the person's quota.
            var allowance: Int64?
            let replaced: Int64? = { if case .file(let size, _) = FileOperations.kind(in: directory, name: name) { return size } else { return nil } }()
            if domain == .private {
                allowance = try await quotas.allowance(
                    for: identity.username, root: root, adding: request.headers[.contentLength].flatMap(Int64.init).map { $0 - (replaced ?? 0) },
                    newFile: replaced == nil)
                allowance = allowance.map { $0 + (replaced ?? 0) }
            }
            let size = try await operations.upload(
                into: directory, name: name, path: path, overwrite: overwrite, body: request.body, allowance: allowance)
            if domain == .private {
                quotas.record(identity.username, bytes: size - (replaced ?? 0), files: replaced == nil ? 1 : 0)
                await warnIfNearQuota(identity.username, root: root, added: size - (replaced ?? 0))
            }
            context.logger.info("uploaded", metadata: ["domain": "\(domain.rawValue)", "path": "\(path.display)", "bytes": "\(size)"])
            return JSONResponse(.created, FileEntry(name: name, kind: "file", size: size, modified: Date()))
        }
        api.delete("**") { request, context in
            let identity = try context.requireEditor()
            let (domain, path) = try locate(request, identity)
            guard let name = path.name else { throw KnotError.badRequest("the domain's root cannot be deleted", code: "invalid_path") }
            let recursive = request.uri.queryParameters["recursive"] == "true"
            let root = root(of: domain, for: identity)
            try await FileOperations.blocking {
                let parent = try DirectoryHandle.open(root: root, path: path.parent, create: false)
                try FileOperations.remove(in: parent, name: name, path: path, recursive: recursive)
            }
            if domain == .private { quotas.forget(identity.username) }
            return JSONResponse(.ok, ["status": "deleted"])
        }
        return router
    }

    func domain(_ raw: String, for identity: IdentityAssertion) throws -> Domain {
        guard let domain = Domain(rawValue: raw) else {
            throw KnotError.badRequest("the domain must be private, shared or admin", code: "invalid_domain")
        }
        if domain == .admin && !identity.admin { throw KnotError.forbidden("the admin domain is for administrators") }
        return domain
    }

    func root(of domain: Domain, for identity: IdentityAssertion) -> String {
        root(of: domain, owner: identity.username)
    }

    func root(of domain: Domain, owner: String) -> String {
        switch domain {
        case .private: host.settings.privateDirectory(of: owner)
        case .shared: host.settings.sharedDirectory
        case .admin: host.settings.filesRoot + "/admin"
        }
    }

    /// `/api/v1/files/<domain>/<path…>` from the raw (percent-encoded) URL path.
    func locate(_ request: Request, _ identity: IdentityAssertion) throws -> (Domain, SafePath) {
        let raw = request.uri.path
        guard raw.hasPrefix(Self.prefix) else { throw KnotError.notFound("no such endpoint") }
        let parts = raw.dropFirst(Self.prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else {
            throw KnotError.badRequest("the path must start with a domain: private, shared or admin", code: "invalid_domain")
        }
        return (try domain(String(first), for: identity), try SafePath.parse(encoded: parts.dropFirst()))
    }

    /// A folder: its listing (`?limit=&after=` pages it, `?archive=tar`
    /// streams it whole); a file: its content (ranges, validators), or with
    /// `?stat` its entry.
    func get(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let (domain, path) = try locate(request, identity)
        let root = root(of: domain, for: identity)
        let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { first, _ in first })
        if path.components.isEmpty {
            let folder = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path, create: true) }
            return try await folderAnswer(folder, domain: domain, path: path, name: domain.rawValue, query: query, on: context.eventLoop)
        }
        let parent = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path.parent, create: false) }
        switch FileOperations.kind(in: parent, name: path.name!) {
        case nil:
            throw KnotError.notFound("\(path.display) does not exist")
        case .folder:
            let folder = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path, create: false) }
            return try await folderAnswer(folder, domain: domain, path: path, name: path.name!, query: query, on: context.eventLoop)
        case .other:
            throw KnotError.forbidden("\(path.display) is a link or special file; it cannot be downloaded")
        case .file:
            let download = try await FileOperations.blocking { try Download.open(in: parent, name: path.name!, path: path) }
            if query["stat"] != nil {
                download.fd.close()
                return try JSONResponse(
                    .ok, Stat(name: path.name!, kind: "file", size: download.size, modified: download.modified, etag: download.etag)
                ).makeResponse()
            }
            return download.response(for: request, on: context.eventLoop)
        }
    }

    func folderAnswer(
        _ folder: DirectoryHandle, domain: Domain, path: SafePath, name: String, query: [String: String], on eventLoop: any EventLoop
    ) async throws -> Response {
        if let format = query["archive"] {
            guard format == "tar" || format == "zip" else { throw KnotError.badRequest("archive must be zip or tar", code: "invalid_archive") }
            return Response(
                status: .ok,
                headers: [
                    .contentType: format == "zip" ? "application/zip" : "application/x-tar",
                    .contentDisposition: Self.attachment(name + "." + format), .cacheControl: "no-store",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ],
                body: format == "zip" ? FolderArchive.zip(folder, top: name, path: path, on: eventLoop)
                    : FolderArchive.tar(folder, top: name, path: path, on: eventLoop))
        }
        if query["stat"] != nil {
            return try JSONResponse(.ok, Stat(name: name, kind: "folder", size: 0, modified: Date(), etag: nil)).makeResponse()
        }
        var limit = 1000
        if let text = query["limit"] {
            guard let value = Int(text), (1...10000).contains(value) else {
                throw KnotError.badRequest("limit must be between 1 and 10000", code: "invalid_limit")
            }
            limit = value
        }
        let after = query["after"]
        let all = try await FileOperations.blocking { try FileOperations.list(folder) }
        // Pages follow the listing's own order (folders first, then by name), resumed after a name.
        let start = after.flatMap { cursor in all.firstIndex { $0.name == cursor }.map { $0 + 1 } } ?? 0
        let page = Array(all[min(start, all.count)...].prefix(limit))
        let next = start + page.count < all.count ? page.last?.name : nil
        return try JSONResponse(
            .ok, Listing(domain: domain.rawValue, path: path.display, entries: page, total: all.count, next: next)
        ).makeResponse()
    }

    struct Listing: Encodable, Sendable {
        var domain: String
        var path: String
        var entries: [FileEntry]
        var total: Int
        /// Give as `after` for the next page; absent on the last one.
        var next: String?
    }

    struct UsageAnswer: Encodable, Sendable {
        var bytes: Int64
        var files: Int64
        var quotaBytes: Int64?
        var quotaFiles: Int64?
        enum CodingKeys: String, CodingKey {
            case bytes, files
            case quotaBytes = "quota_bytes"
            case quotaFiles = "quota_files"
        }
    }

    /// When a write takes usage past 90% of the byte quota, the person gets a message (best effort).
    func warnIfNearQuota(_ owner: String, root: String, added: Int64) async {
        guard quotas.maxBytes > 0, added > 0, let usage = try? await quotas.usage(of: owner, root: root) else { return }
        let threshold = quotas.maxBytes * 9 / 10
        guard usage.bytes >= threshold, usage.bytes - added < threshold else { return }
        let before = usage.bytes
        struct Message: Encodable { var username, kind, text: String }
        let percent = Int(before * 100 / quotas.maxBytes)
        _ = try? await host.client(for: "users").post(
            "/internal/v1/messages",
            body: Message(username: owner, kind: "quota.near", text: "Your private files use \(percent)% of your quota"),
            as: [String: String].self)
    }

    struct Stat: Encodable, Sendable {
        var name: String
        var kind: String
        var size: Int64
        var modified: Date
        var etag: String?
    }

    /// `POST /api/v1/files/move` and `/copy`: `{from: {domain, path}, to: {domain, path}, overwrite}`.
    func transfer(_ request: Request, _ context: KnotRequestContext, copy: Bool) async throws -> Response {
        let identity = try context.requireEditor()
        let body = try await request.decodeJSON(Transfers.Request.self, limit: host.settings.maxJSONBody)
        let fromDomain = try domain(body.from.domain, for: identity)
        let toDomain = try domain(body.to.domain, for: identity)
        let from = try SafePath.parse(body.from.path)
        let to = try SafePath.parse(body.to.path)
        guard let fromName = from.name, let toName = to.name else {
            throw KnotError.badRequest("a domain's root cannot be moved or copied, nor replaced", code: "invalid_path")
        }
        let fromRoot = root(of: fromDomain, for: identity)
        let toRoot = root(of: toDomain, for: identity)
        if fromRoot == toRoot && to.components.starts(with: from.components) {
            throw KnotError.conflict("\(from.display) cannot go inside itself", code: "into_itself")
        }
        let overwrite = body.overwrite ?? false
        try await FileOperations.blocking {
            let source = try DirectoryHandle.open(root: fromRoot, path: from.parent, create: false)
            let target = try DirectoryHandle.open(root: toRoot, path: to.parent, create: true)
            if copy {
                try Transfers.copy(from: source, fromName, to: target, toName, overwrite: overwrite, path: to)
            } else {
                try Transfers.move(from: source, fromName, to: target, toName, overwrite: overwrite, path: to)
            }
        }
        if fromDomain == .private || toDomain == .private { quotas.forget(identity.username) }
        context.logger.info(copy ? "copied" : "moved", metadata: ["from": "\(fromDomain.rawValue)\(from.display)", "to": "\(toDomain.rawValue)\(to.display)"])
        return try JSONResponse(.created, ["domain": toDomain.rawValue, "path": to.display]).makeResponse()
    }

    /// `attachment; filename="…"; filename*=UTF-8''…` with the name made safe for a header.
    static func attachment(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" ? Character($0) : "_" })
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}

final class FileDescriptorBox: @unchecked Sendable {
    let fd: Int32
    private var open = true
    init(_ fd: Int32) { self.fd = fd }
    func close() {
        if open { _ = Glibc.close(fd) }
        open = false
    }
    deinit { close() }
}
