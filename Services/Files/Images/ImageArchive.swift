import Crypto
import Foundation
import KnotErrors
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One image inside a tar on disk: an OCI image layout (`oci-layout`,
/// `index.json`, `blobs/sha256/…`) or a `docker save` archive
/// (`manifest.json`, a config JSON, layer tars), turned into what a registry
/// push needs: the manifest's exact bytes and the blobs it names, each with
/// its digest, size and place in the tar. Nothing here loads a layer into
/// memory; `verify` hashes every blob from disk in chunks before any byte
/// goes to a registry, so a bad archive leaves nothing behind anywhere.
struct ImageArchive: Sendable {
    struct Blob: Sendable, Equatable {
        var digest: String
        var size: Int64
        var mediaType: String
        var member: TarIndex.Member
    }

    /// The manifest to PUT, byte for byte (its digest is what the registry will answer).
    var manifest: Data
    var manifestMediaType: String
    var manifestDigest: String
    /// The config first, then the layers in order.
    var blobs: [Blob]
    /// What the archive itself calls the image (an OCI ref name or a docker RepoTag), if anything.
    var suggestedTag: String?
    var format: String

    let file: FileDescriptorBox

    static let maxJSONBytes: Int64 = 4 * 1024 * 1024

    enum MediaType {
        static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
        static let ociIndex = "application/vnd.oci.image.index.v1+json"
        static let ociConfig = "application/vnd.oci.image.config.v1+json"
        static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
        static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
        static let dockerConfig = "application/vnd.docker.container.image.v1+json"
        static let dockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar"
        static let manifests: Set<String> = [ociManifest, dockerManifest]
        static let configs: Set<String> = [ociConfig, dockerConfig]
        /// Layers a registry and a container runtime both understand.
        static let layers: Set<String> = [
            "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip",
            dockerLayerTar,
        ]
    }

    static func refused(_ message: String, code: String) -> KnotError { KnotError.badRequest(message, code: code) }

    /// Reads the archive's structure (headers and the small JSON files only).
    static func open(_ file: FileDescriptorBox, size: Int64, tag wanted: String?) throws -> ImageArchive {
        let index: TarIndex
        do {
            index = try TarIndex.read(fd: file.fd, fileSize: size)
        } catch .compressed {
            throw KnotError.unsupportedMediaType("the archive is compressed (gzip); give the plain .tar that docker save or an OCI layout produces")
        } catch .corrupt(let why) {
            throw refused("the archive is not a valid tar file: \(why)", code: "corrupt_archive")
        } catch .truncated(let why) {
            throw refused("the archive is truncated: \(why)", code: "truncated_archive")
        }
        if index.member("oci-layout") != nil && index.member("index.json") != nil {
            return try oci(file, index, wanted: wanted)
        }
        if index.member("manifest.json") != nil { return try dockerSave(file, index) }
        throw refused(
            "the tar is not an image archive: it has neither an OCI image layout (oci-layout, index.json) nor docker save's manifest.json",
            code: "not_an_image")
    }

    // MARK: OCI image layout

    struct Descriptor: Codable, Sendable {
        var mediaType: String?
        var digest: String
        var size: Int64
        var annotations: [String: String]?
    }

    struct IndexDocument: Decodable { var manifests: [Descriptor] }
    struct ManifestDocument: Decodable {
        var schemaVersion: Int?
        var mediaType: String?
        var config: Descriptor
        var layers: [Descriptor]
    }

    static let refName = "org.opencontainers.image.ref.name"

    static func oci(_ file: FileDescriptorBox, _ index: TarIndex, wanted: String?) throws -> ImageArchive {
        struct Layout: Decodable { var imageLayoutVersion: String }
        let layout: Layout = try json(file, index, "oci-layout")
        guard layout.imageLayoutVersion.hasPrefix("1.") else {
            throw KnotError.unsupportedMediaType("OCI image layout version \(layout.imageLayoutVersion) is not supported (1.x is)")
        }
        let document: IndexDocument = try json(file, index, "index.json")
        guard !document.manifests.isEmpty else { throw refused("index.json names no image", code: "not_an_image") }
        // Several images: the one whose ref name is the wanted tag, else the archive must hold exactly one.
        var chosen = document.manifests[0]
        if document.manifests.count > 1 {
            guard let wanted, let match = document.manifests.first(where: { $0.annotations?[refName] == wanted }) else {
                throw refused("index.json names \(document.manifests.count) images; give the tag of one of them (its \(refName))", code: "ambiguous_image")
            }
            chosen = match
        }
        let mediaType = chosen.mediaType ?? MediaType.ociManifest
        if mediaType == MediaType.ociIndex || mediaType == MediaType.dockerList {
            throw KnotError.unsupportedMediaType("multi-platform image indexes are not supported; export a single platform")
        }
        guard MediaType.manifests.contains(mediaType) else {
            throw KnotError.unsupportedMediaType("the manifest's media type \(mediaType) is not supported")
        }
        let manifestMember = try blobMember(index, chosen, what: "the manifest")
        let manifest = try read(file, manifestMember, limit: maxJSONBytes, what: "the manifest")
        let actual = "sha256:" + hex(SHA256.hash(data: manifest))
        guard actual == chosen.digest else {
            throw refused("the manifest's digest is \(actual), but index.json says \(chosen.digest)", code: "digest_mismatch")
        }
        let parsed: ManifestDocument = try decode(manifest, what: "the manifest")
        if let inner = parsed.mediaType, inner != mediaType {
            throw refused("the manifest says its media type is \(inner), but index.json says \(mediaType)", code: "invalid_manifest")
        }
        guard parsed.schemaVersion == 2 else { throw refused("the manifest's schemaVersion must be 2", code: "invalid_manifest") }
        var blobs: [Blob] = []
        let configType = parsed.config.mediaType ?? ""
        guard MediaType.configs.contains(configType) else {
            throw KnotError.unsupportedMediaType("the config's media type \(configType) is not an image config")
        }
        blobs.append(Blob(digest: parsed.config.digest, size: parsed.config.size, mediaType: configType,
                          member: try blobMember(index, parsed.config, what: "the config")))
        for (number, layer) in parsed.layers.enumerated() {
            let type = layer.mediaType ?? ""
            guard MediaType.layers.contains(type) else {
                throw KnotError.unsupportedMediaType("layer \(number + 1)'s media type \(type.isEmpty ? "(none)" : type) is not supported")
            }
            blobs.append(Blob(digest: layer.digest, size: layer.size, mediaType: type,
                              member: try blobMember(index, layer, what: "layer \(number + 1)")))
        }
        return ImageArchive(
            manifest: manifest, manifestMediaType: mediaType, manifestDigest: actual, blobs: blobs,
            suggestedTag: chosen.annotations?[refName], format: "oci", file: file)
    }

    /// `blobs/<algorithm>/<hex>` for a descriptor, present and of the size it claims.
    static func blobMember(_ index: TarIndex, _ descriptor: Descriptor, what: String) throws -> TarIndex.Member {
        let parts = descriptor.digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "sha256", parts[1].count == 64, parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw refused("\(what) has the digest \"\(descriptor.digest.prefix(80))\"; only sha256:<64 lowercase hex> is supported", code: "invalid_digest")
        }
        guard descriptor.size >= 0 else { throw refused("\(what) has a negative size", code: "invalid_manifest") }
        guard let member = index.member("blobs/sha256/\(parts[1])") else {
            throw refused("\(what) (\(descriptor.digest)) is missing from the archive", code: "missing_blob")
        }
        guard member.size == descriptor.size else {
            throw refused("\(what) (\(descriptor.digest)) is \(member.size) bytes in the archive, but \(descriptor.size) in the manifest", code: "size_mismatch")
        }
        return member
    }

    // MARK: docker save

    struct SaveEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    struct ConfigRootFS: Decodable {
        struct RootFS: Decodable { var diff_ids: [String]? }
        var rootfs: RootFS?
    }

    /// docker save's layers are uncompressed tars named by path, not digest: the
    /// manifest is built here (Docker v2 schema 2) from digests computed from
    /// the bytes, and each layer's digest is later checked against the config's
    /// `rootfs.diff_ids`, the only digests such an archive carries.
    static func dockerSave(_ file: FileDescriptorBox, _ index: TarIndex) throws -> ImageArchive {
        let entries: [SaveEntry] = try json(file, index, "manifest.json")
        guard entries.count == 1, let entry = entries.first else {
            throw refused("manifest.json names \(entries.count) images; save one image per archive", code: entries.isEmpty ? "not_an_image" : "ambiguous_image")
        }
        guard let configMember = index.member(entry.Config) else {
            throw refused("the config \(entry.Config.prefix(200)) is missing from the archive", code: "missing_blob")
        }
        let config = try read(file, configMember, limit: maxJSONBytes, what: "the config")
        let rootfs: ConfigRootFS = try decode(config, what: "the config")
        let configDigest = "sha256:" + hex(SHA256.hash(data: config))
        var blobs = [Blob(digest: configDigest, size: configMember.size, mediaType: MediaType.dockerConfig, member: configMember)]
        let diffIDs = rootfs.rootfs?.diff_ids ?? []
        guard diffIDs.count == entry.Layers.count else {
            throw refused("the config lists \(diffIDs.count) layers but manifest.json \(entry.Layers.count)", code: "invalid_manifest")
        }
        for (number, name) in entry.Layers.enumerated() {
            guard let member = index.member(name) else {
                throw refused("layer \(number + 1) (\(name.prefix(200))) is missing from the archive", code: "missing_blob")
            }
            // The digest is the config's diff_id; `verify` proves the bytes hash to it.
            let digest = diffIDs[number]
            guard digest.hasPrefix("sha256:"), digest.count == 71 else {
                throw refused("layer \(number + 1)'s diff_id \(digest.prefix(80)) is not a sha256 digest", code: "invalid_digest")
            }
            blobs.append(Blob(digest: digest, size: member.size, mediaType: MediaType.dockerLayerTar, member: member))
        }
        struct Manifest: Encodable {
            var schemaVersion = 2
            var mediaType = MediaType.dockerManifest
            var config: Descriptor
            var layers: [Descriptor]
        }
        let descriptor = { (blob: Blob) in Descriptor(mediaType: blob.mediaType, digest: blob.digest, size: blob.size) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let manifest = try encoder.encode(Manifest(config: descriptor(blobs[0]), layers: blobs.dropFirst().map(descriptor)))
        let tag = entry.RepoTags?.first.flatMap { $0.split(separator: ":").last.map(String.init) }
        return ImageArchive(
            manifest: manifest, manifestMediaType: MediaType.dockerManifest, manifestDigest: "sha256:" + hex(SHA256.hash(data: manifest)),
            blobs: blobs, suggestedTag: tag, format: "docker-save", file: file)
    }

    // MARK: reading and hashing

    static func json<T: Decodable>(_ file: FileDescriptorBox, _ index: TarIndex, _ name: String) throws -> T {
        guard let member = index.member(name) else { throw refused("\(name) is missing from the archive", code: "not_an_image") }
        return try decode(try read(file, member, limit: maxJSONBytes, what: name), what: name)
    }

    static func decode<T: Decodable>(_ data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw refused("\(what) is not what an image archive holds: \(describe(error))", code: "invalid_manifest")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "unreadable"
        }
    }

    static func read(_ file: FileDescriptorBox, _ member: TarIndex.Member, limit: Int64, what: String) throws -> Data {
        guard member.size <= limit else { throw refused("\(what) is larger than \(limit) bytes", code: "invalid_manifest") }
        var data = Data(count: Int(member.size))
        let count = data.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, Int(member.size), off_t(member.offset)) }
        guard count == Int(member.size) else { throw refused("\(what) could not be read", code: "truncated_archive") }
        return data
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static let chunk = 1024 * 1024

    /// Hashes every blob from disk and compares with its digest: the check
    /// that runs before anything is sent, so a mismatch leaves no trace.
    func verify() async throws {
        for blob in blobs {
            var hasher = SHA256()
            var offset: Int64 = 0
            while offset < blob.size {
                let buffer = try await Self.readChunk(file, at: blob.member.offset + offset, count: Int(min(Int64(Self.chunk), blob.size - offset)))
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                offset += Int64(buffer.readableBytes)
            }
            let actual = "sha256:" + Self.hex(hasher.finalize())
            guard actual == blob.digest else {
                throw Self.refused("a blob's content hashes to \(actual), but the image says \(blob.digest)", code: "digest_mismatch")
            }
        }
    }

    static func readChunk(_ file: FileDescriptorBox, at offset: Int64, count: Int) async throws -> ByteBuffer {
        try await FileOperations.blocking {
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            var failed = false
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                let read = pread(file.fd, raw.baseAddress!, count, off_t(offset))
                failed = read <= 0
                return max(read, 0)
            }
            guard !failed else { throw KnotError.badRequest("the archive could not be read (did it shrink?)", code: "truncated_archive") }
            return buffer
        }
    }

    var totalBytes: Int64 { blobs.reduce(0) { $0 + $1.size } }
}
