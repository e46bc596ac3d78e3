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

        api.post("folders") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeJSON(FolderRequest.self, limit: limit)
            let domain = try domain(body.domain, for: identity)
            let path = try SafePath.parse(body.path)
            guard !path.components.isEmpty else { throw KnotError.badRequest("give the folder's path", code: "invalid_path") }
            let root = root(of: domain, for: identity)
            try await FileOperations.blocking {
                let parent = try DirectoryHandle.open(root: root, path: path.parent, create: true)
                guard mkdirat(parent.fd, path.name!, 0o755) == 0 else { throw FileErrors.from(errno: errno, path: path) }
            }
            return JSONResponse(.created, ["domain": domain.rawValue, "path": path.display])
        }
        api.get("**") { request, context in try await get(request, context) }
        api.head("**") { request, context in try await get(request, context) }
        api.put("**") { request, context in
            let identity = try context.requireIdentity()
            let (domain, path) = try locate(request, identity)
            guard let name = path.name else { throw KnotError.badRequest("give the file's path", code: "invalid_path") }
            if let length = request.headers[.contentLength].flatMap(Int64.init), length > operations.maxUploadBytes {
                throw KnotError.tooLarge("uploads are limited to \(operations.maxUploadBytes) bytes")
            }
            let root = root(of: domain, for: identity)
            let directory = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path.parent, create: true) }
            let overwrite = request.uri.queryParameters["overwrite"] == "true"
            let size = try await operations.upload(into: directory, name: name, path: path, overwrite: overwrite, body: request.body)
            context.logger.info("uploaded", metadata: ["domain": "\(domain.rawValue)", "path": "\(path.display)", "bytes": "\(size)"])
            return JSONResponse(.created, FileEntry(name: name, kind: "file", size: size, modified: Date()))
        }
        api.delete("**") { request, context in
            let identity = try context.requireIdentity()
            let (domain, path) = try locate(request, identity)
            guard let name = path.name else { throw KnotError.badRequest("the domain's root cannot be deleted", code: "invalid_path") }
            let recursive = request.uri.queryParameters["recursive"] == "true"
            let root = root(of: domain, for: identity)
            try await FileOperations.blocking {
                let parent = try DirectoryHandle.open(root: root, path: path.parent, create: false)
                try FileOperations.remove(in: parent, name: name, path: path, recursive: recursive)
            }
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
        switch domain {
        case .private: host.settings.privateDirectory(of: identity.username)
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

    func get(_ request: Request, _ context: KnotRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let (domain, path) = try locate(request, identity)
        let root = root(of: domain, for: identity)
        if path.components.isEmpty {
            let entries = try await FileOperations.blocking {
                try FileOperations.list(DirectoryHandle.open(root: root, path: path, create: true))
            }
            return try JSONResponse(.ok, Listing(domain: domain.rawValue, path: "/", entries: entries)).makeResponse()
        }
        let parent = try await FileOperations.blocking { try DirectoryHandle.open(root: root, path: path.parent, create: false) }
        switch FileOperations.kind(in: parent, name: path.name!) {
        case nil:
            throw KnotError.notFound("\(path.display) does not exist")
        case .folder:
            let entries = try await FileOperations.blocking {
                try FileOperations.list(DirectoryHandle.open(root: root, path: path, create: false))
            }
            return try JSONResponse(.ok, Listing(domain: domain.rawValue, path: path.display, entries: entries)).makeResponse()
        case .other:
            throw KnotError.forbidden("\(path.display) is a link or special file; it cannot be downloaded")
        case .file:
            return try await download(parent: parent, path: path, headOnly: request.method == .head)
        }
    }

    struct Listing: Encodable, Sendable {
        var domain: String
        var path: String
        var entries: [FileEntry]
    }

    func download(parent: DirectoryHandle, path: SafePath, headOnly: Bool) async throws -> Response {
        let (fd, size) = try FileOperations.openForReading(in: parent, name: path.name!, path: path)
        var headers: HTTPFields = [
            .contentType: "application/octet-stream",
            .contentLength: "\(size)",
            .contentDisposition: Self.attachment(path.name!),
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            .contentSecurityPolicy: "sandbox; default-src 'none'",
            .cacheControl: "private, no-cache",
        ]
        headers[.acceptRanges] = "none"
        if headOnly {
            close(fd)
            return Response(status: .ok, headers: headers, body: .init())
        }
        let handle = FileDescriptorBox(fd)
        let body = ResponseBody(contentLength: Int(size)) { writer in
            defer { handle.close() }
            while true {
                let chunk = try await FileOperations.blocking { () -> ByteBuffer in
                    var buffer = ByteBufferAllocator().buffer(capacity: 64 * 1024)
                    let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 * 1024) { raw in
                        read(handle.fd, raw.baseAddress!, raw.count)
                    }
                    guard count >= 0 else { throw FileErrors.from(errno: errno, path: path) }
                    return buffer
                }
                if chunk.readableBytes == 0 { break }
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
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
