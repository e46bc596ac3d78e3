import Foundation
import HTTPTypes
import Hummingbird
import KnotAuth
import KnotErrors
import KnotServiceKit
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `/api/v1/images/…`: the image registry as a person sees it.
///
/// - `GET  /api/v1/images/status`: whether a registry is configured, and where
/// - `GET  /api/v1/images`: the repositories the caller may see
/// - `GET  /api/v1/images/<repository>/tags`: tags with digest, size and date
/// - `GET  /api/v1/images/<repository>/manifests/<reference>`: the manifest itself
/// - `DELETE /api/v1/images/<repository>/manifests/<reference>`: admins only
/// - `POST /api/v1/images/push`: a tar from the caller's files (JSON
///   `{domain, path, repository, tag}`) or the tar itself as the body
///   (`Content-Type: application/x-tar`, `?repository=&tag=`); with
///   `Accept: application/x-ndjson` the answer streams progress lines.
///
/// The repository may be percent-encoded as one segment (`alice%2Fapp`) or
/// given with its slashes. Without `KNOT_REGISTRY_API_URL` the whole area
/// answers 404 `not_configured`.
struct ImagesAPI: Sendable {
    let app: FilesApp
    let client: RegistryClient?
    static let prefix = "/api/v1/images/"

    func register(on router: Router<KnotRequestContext>) {
        let api = app.host.userAPI(router, "/api/v1/images")
        ImagesOpenAPI.document.register(on: api)
        // The same routes whether or not a registry is configured (the OpenAPI document lists them);
        // without one, each answers 404 not_configured.
        api.get("status") { _, context in
            let identity = try context.requireIdentity()
            let client = try configured()
            return JSONResponse(
                .ok,
                ["configured": "true", "registry": client.settings.displayHost, "push_prefix": identity.admin ? "" : identity.username + "/"])
        }
        api.get("") { _, context in
            let identity = try context.requireIdentity()
            let client = try configured()
            let visible = try await client.catalog().filter { ImageNames.mayRead($0, identity) }.sorted()
            return JSONResponse(.ok, RepositoryList(registry: client.settings.displayHost, repositories: visible.map { Repository(name: $0) }))
        }
        api.post("push") { request, context in try await push(request, context, try configured()) }
        api.get("**") { request, context in
            let identity = try context.requireIdentity()
            let client = try configured()
            switch try locate(request) {
            case .tags(let repository):
                try guardRead(repository, identity)
                return try await JSONResponse(.ok, TagListing(repository: repository, tags: ImageTags(client: client).details(repository)))
                    .makeResponse()
            case .manifest(let repository, let reference):
                try guardRead(repository, identity)
                let manifest = try await client.manifest(repository, reference)
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: manifest.mediaType, HTTPField.Name("Docker-Content-Digest")!: manifest.digest,
                        .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                    ],
                    body: .init(byteBuffer: ByteBuffer(data: manifest.body)))
            }
        }
        api.delete("**") { request, context in
            let identity = try context.requireAdmin()
            let client = try configured()
            guard case .manifest(let repository, let reference) = try locate(request) else {
                throw KnotError(.methodNotAllowed, code: "method_not_allowed", message: "delete an image at <repository>/manifests/<tag or digest>")
            }
            // Registries delete by digest; a tag is resolved first (every tag on that digest goes with it).
            let digest = ImageNames.isDigest(reference)
                ? reference : try await client.manifestDigest(repository, reference, scope: RegistryClient.deleteScope(repository))
            try await client.deleteManifest(repository, digest: digest)
            context.logger.info("image deleted", metadata: ["repository": "\(repository)", "digest": "\(digest)", "by": "\(identity.username)"])
            return try JSONResponse(.ok, ["status": "deleted", "repository": repository, "digest": digest]).makeResponse()
        }
    }

    func configured() throws -> RegistryClient {
        guard let client else { throw KnotError(.notFound, code: "not_configured", message: "no image registry is configured") }
        return client
    }

    func guardRead(_ repository: String, _ identity: IdentityAssertion) throws {
        // Not 403: whether someone else's repository exists is not the caller's business.
        guard ImageNames.mayRead(repository, identity) else { throw KnotError.notFound("the repository \(repository) does not exist") }
    }

    enum Target: Equatable {
        case tags(String)
        case manifest(String, String)
    }

    /// `<repository>/tags` or `<repository>/manifests/<reference>`, from the raw path.
    func locate(_ request: Request) throws -> Target {
        let raw = request.uri.path
        guard raw.hasPrefix(Self.prefix) else { throw KnotError.notFound("no such endpoint") }
        var parts: [String] = []
        for piece in raw.dropFirst(Self.prefix.count).split(separator: "/", omittingEmptySubsequences: false) {
            guard let decoded = String(piece).removingPercentEncoding else {
                throw KnotError.badRequest("the path has invalid percent-encoding", code: "invalid_path")
            }
            parts.append(decoded)
        }
        if parts.count >= 3, parts[parts.count - 2] == "manifests" {
            let repository = parts.dropLast(2).joined(separator: "/")
            try ImageNames.checkRepository(repository)
            try ImageNames.checkReference(parts[parts.count - 1])
            return .manifest(repository, parts[parts.count - 1])
        }
        if parts.count >= 2, parts.last == "tags" {
            let repository = parts.dropLast().joined(separator: "/")
            try ImageNames.checkRepository(repository)
            return .tags(repository)
        }
        throw KnotError.notFound("no such endpoint: use <repository>/tags or <repository>/manifests/<reference>")
    }

    struct Repository: Encodable, Sendable { var name: String }
    struct RepositoryList: Encodable, Sendable {
        var registry: String
        var repositories: [Repository]
    }
    struct TagListing: Encodable, Sendable {
        var repository: String
        var tags: [ImageTags.Tag]
    }

    struct PushRequest: Decodable {
        var domain: String
        var path: String
        var repository: String
        var tag: String?
    }

    // MARK: push

    func push(_ request: Request, _ context: KnotRequestContext, _ client: RegistryClient) async throws -> Response {
        let identity = try context.requireEditor()
        let media = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let file: FileDescriptorBox
        let size: Int64
        let repository: String
        var tag: String?
        switch media {
        case "application/json":
            let body = try await request.decodeJSON(PushRequest.self, limit: app.host.settings.maxJSONBody)
            repository = body.repository
            tag = body.tag
            try checkTarget(repository, tag, identity)
            let domain = try app.domain(body.domain, for: identity)
            let path = try SafePath.parse(body.path)
            guard let name = path.name else { throw KnotError.badRequest("give the path of a .tar file", code: "invalid_path") }
            let root = app.root(of: domain, for: identity)
            let opened = try await FileOperations.blocking {
                let parent = try DirectoryHandle.open(root: root, path: path.parent, create: false)
                switch FileOperations.kind(in: parent, name: name) {
                case nil: throw KnotError.notFound("\(path.display) does not exist")
                case .folder: throw KnotError.conflict("\(path.display) is a folder; give a .tar file", code: "is_a_folder")
                case .other: throw KnotError.forbidden("\(path.display) is a link or special file; links are not followed")
                case .file: return try Download.open(in: parent, name: name, path: path)
                }
            }
            file = opened.fd
            size = opened.size
        case "application/x-tar", "application/octet-stream":
            repository = request.uri.queryParameters["repository"].map(String.init) ?? ""
            tag = request.uri.queryParameters["tag"].map(String.init)
            guard !repository.isEmpty else { throw KnotError.badRequest("give ?repository= (and ?tag=) with an uploaded tar", code: "invalid_repository") }
            try checkTarget(repository, tag, identity)
            (file, size) = try await spool(request)
        default:
            throw KnotError.unsupportedMediaType(
                "push a tar from your files as application/json {domain, path, repository, tag}, or the tar itself as application/x-tar")
        }
        // Everything that can be wrong with the archive is found here, before any byte goes to the registry.
        let wanted = tag
        let archive = try await FileOperations.blocking { try ImageArchive.open(file, size: size, tag: wanted) }
        let chosen = tag ?? archive.suggestedTag ?? "latest"
        try ImageNames.checkTag(chosen)
        try await archive.verify()
        let pusher = ImagePusher(client: client)
        context.logger.info("pushing image", metadata: ["repository": "\(repository)", "tag": "\(chosen)", "bytes": "\(archive.totalBytes)"])
        if (request.headers[.accept] ?? "").contains("application/x-ndjson") {
            return streamed(archive, repository: repository, tag: chosen, pusher: pusher, logger: context.logger)
        }
        let result = try await pusher.push(archive, repository: repository, tag: chosen)
        return try JSONResponse(.created, result).makeResponse()
    }

    func checkTarget(_ repository: String, _ tag: String?, _ identity: IdentityAssertion) throws {
        try ImageNames.checkRepository(repository)
        if let tag { try ImageNames.checkTag(tag) }
        guard ImageNames.mayPush(repository, identity) else {
            throw KnotError.forbidden("you may push only to repositories under \(identity.username)/")
        }
    }

    /// Progress as newline-delimited JSON: `{"event":"verified"}`, then
    /// `{"event":"progress","done":…,"total":…}` per MiB, then `{"event":"done",…}`
    /// or `{"event":"error","error":{code,message}}`. The archive is already verified,
    /// so only the registry itself can fail from here on.
    func streamed(_ archive: ImageArchive, repository: String, tag: String, pusher: ImagePusher, logger: Logger) -> Response {
        let (events, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        @Sendable func line(_ value: some Encodable) -> ByteBuffer {
            var data = (try? JSONEncoder.knot.encode(value)) ?? Data("{}".utf8)
            data.append(0x0a)
            return ByteBuffer(data: data)
        }
        struct Verified: Encodable { var event = "verified"; var total: Int64; var blobs: Int; var digest: String }
        struct Done: Encodable { var event = "done"; var result: ImagePusher.Result }
        struct Detail: Encodable { var code: String; var message: String }
        struct Failed: Encodable { var event = "error"; var error: Detail }
        let body = ResponseBody { writer in
            let task = Task {
                continuation.yield(line(Verified(total: archive.totalBytes, blobs: archive.blobs.count, digest: archive.manifestDigest)))
                do {
                    let result = try await pusher.push(archive, repository: repository, tag: tag) { continuation.yield(line($0)) }
                    continuation.yield(line(Done(result: result)))
                } catch {
                    let known = error as? KnotError ?? KnotError.internalError("the push failed")
                    logger.warning("push failed", metadata: ["repository": "\(repository)", "error": "\(known)"])
                    continuation.yield(line(Failed(error: Detail(code: known.code, message: known.message))))
                }
                continuation.finish()
            }
            do {
                for await chunk in events { try await writer.write(chunk) }
            } catch {
                // The client went away: stop pushing (no manifest is PUT).
                task.cancel()
                throw error
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
            body: body)
    }

    /// How a spooled upload is named in errors (it has no path of its own).
    static let spoolPath = SafePath(components: ["image upload"])

    /// A direct upload lands in an already-unlinked temporary file beside the
    /// domains, so it takes no one's quota and leaves nothing on disk whatever happens.
    func spool(_ request: Request) async throws -> (FileDescriptorBox, Int64) {
        let limit = app.operations.maxUploadBytes
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > limit {
            throw KnotError.tooLarge("uploads are limited to \(limit) bytes")
        }
        let folder = app.host.settings.filesRoot + "/.knot-images"
        let file = try await FileOperations.blocking { () -> FileDescriptorBox in
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let path = folder + "/" + UploadNames.prefix + UUID().uuidString.lowercased()
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw KnotError.unavailable("there is no room for the upload (errno \(errno))") }
            unlink(path)
            return FileDescriptorBox(fd)
        }
        var written: Int64 = 0
        for try await chunk in request.body {
            guard written + Int64(chunk.readableBytes) <= limit else { throw KnotError.tooLarge("uploads are limited to \(limit) bytes") }
            // Written in order from the start, so the file's own offset is the upload's.
            try await FileOperations.blocking { try FileOperations.writeAll(fd: file.fd, chunk, path: Self.spoolPath) }
            written += Int64(chunk.readableBytes)
        }
        return (file, written)
    }
}
