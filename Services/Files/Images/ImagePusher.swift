import Foundation
import KnotErrors

/// Pushes a verified archive: each blob the registry lacks is uploaded
/// (those it has are skipped), and only when every blob is in does the
/// manifest go up, under the tag. A failure before that leaves no image and
/// no tag; the blobs already uploaded are unreferenced, and the registry's
/// garbage collection (`registry garbage-collect`, Harbor's GC job) removes them.
struct ImagePusher: Sendable {
    let client: RegistryClient

    struct Progress: Encodable, Sendable {
        var event = "progress"
        var digest: String
        var done: Int64
        var total: Int64
    }

    struct Result: Encodable, Sendable {
        var repository: String
        var tag: String
        var digest: String
        var mediaType: String
        var size: Int64
        var format: String
        var blobsUploaded: Int
        var blobsPresent: Int
        enum CodingKeys: String, CodingKey {
            case repository, tag, digest, size, format
            case mediaType = "media_type"
            case blobsUploaded = "blobs_uploaded"
            case blobsPresent = "blobs_present"
        }
    }

    func push(
        _ archive: ImageArchive, repository: String, tag: String, report: @escaping @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Result {
        let total = archive.totalBytes
        var done: Int64 = 0
        var uploaded = 0
        var present = 0
        for blob in archive.blobs {
            try Task.checkCancellation()
            if try await client.blobExists(repository, blob.digest) {
                present += 1
            } else {
                let base = done
                let stream = BlobStream(file: archive.file, member: blob.member, digest: blob.digest) { sent in
                    report(Progress(digest: blob.digest, done: base + sent, total: total))
                }
                try await client.uploadBlob(repository, stream)
                uploaded += 1
            }
            done += blob.size
            report(Progress(digest: blob.digest, done: done, total: total))
        }
        let answered = try await client.putManifest(repository, tag: tag, archive.manifest, mediaType: archive.manifestMediaType)
        if let answered, answered != archive.manifestDigest {
            throw KnotError(.badGateway, code: "registry_error", message: "the registry stored the manifest as \(answered), not \(archive.manifestDigest)")
        }
        return Result(
            repository: repository, tag: tag, digest: archive.manifestDigest, mediaType: archive.manifestMediaType,
            size: total, format: archive.format, blobsUploaded: uploaded, blobsPresent: present)
    }
}
