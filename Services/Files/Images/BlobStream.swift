import Crypto
import Foundation
import KnotErrors
import NIOCore

/// One blob read from the archive in chunks for an upload's body, hashed as
/// it goes. Should the bytes on disk no longer match the digest (the file
/// changed after `verify`), the last chunk is withheld and the stream fails,
/// so the registry never completes the upload.
struct BlobStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let file: FileDescriptorBox
    let member: TarIndex.Member
    let digest: String
    var size: Int64 { member.size }
    /// Called with the bytes sent so far of this blob.
    let progress: @Sendable (Int64) -> Void

    func makeAsyncIterator() -> Iterator { Iterator(stream: self) }

    struct Iterator: AsyncIteratorProtocol {
        let stream: BlobStream
        var sent: Int64 = 0
        var hasher = SHA256()

        mutating func next() async throws -> ByteBuffer? {
            guard sent < stream.size else { return nil }
            try Task.checkCancellation()
            let count = Int(Swift.min(Int64(ImageArchive.chunk), stream.size - sent))
            let buffer = try await ImageArchive.readChunk(stream.file, at: stream.member.offset + sent, count: count)
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            sent += Int64(buffer.readableBytes)
            if sent >= stream.size {
                let actual = "sha256:" + ImageArchive.hex(hasher.finalize())
                guard actual == stream.digest else {
                    throw KnotError.conflict("the archive changed while it was pushed (\(stream.digest) now hashes to \(actual))", code: "digest_mismatch")
                }
            }
            stream.progress(sent)
            return buffer
        }
    }
}
