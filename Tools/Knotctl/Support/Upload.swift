import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// `files put`: the files service's resumable upload protocol (tus core,
/// Services/Files/ResumableUploads.swift). knotctl opens an upload, remembers
/// its id in a small state file beside the configuration (keyed by the
/// address, the local file with its size and modification time, and the
/// target), then sends the bytes in chunks with `PATCH` + `Upload-Offset`.
/// If the upload is interrupted, `put --resume` asks the server how much it
/// has (`HEAD` → `Upload-Offset`) and sends only the rest. A local file that
/// changed since (size or time) is a different key, so stale bytes are never
/// completed with new ones.
struct Uploader {
    let api: APIClient
    let stateFolder: String
    var chunkSize: Int64 = 8 << 20
    /// Bytes per second, nil for no limit (`--limit-rate`).
    var rate: Int64?

    struct State: Codable {
        var id: String
        var location: String
        var length: Int64
        var target: String
    }

    struct Outcome {
        var bytes: Int64
        var resumedFrom: Int64?
    }

    func upload(local: String, to target: RemotePath, overwrite: Bool, resume: Bool) async throws -> Outcome {
        var info = stat()
        guard stat(local, &info) == 0 else { throw KnotctlError("cannot read \(local): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw KnotctlError("\(local) is not a regular file") }
        let length = Int64(info.st_size)
        let absolute = local.hasPrefix("/") ? local : FileManager.default.currentDirectoryPath + "/" + local
        let key = Self.key(url: api.baseURL, local: absolute, size: length, modified: Int64(info.st_mtim.tv_sec), target: target.display)
        let statePath = stateFolder + "/" + key + ".json"

        var state = Self.load(statePath)
        var offset: Int64 = 0
        var resumedFrom: Int64?
        if resume, let saved = state {
            do {
                offset = try await currentOffset(saved)
                resumedFrom = offset
            } catch let error as KnotctlError where error.status == .notFound {
                // Completed, abandoned or swept meanwhile: start again.
                Output.error("knotctl: the earlier upload is gone on the server; starting again")
                state = nil
                try? FileManager.default.removeItem(atPath: statePath)
            }
        } else if let saved = state {
            // A new upload replaces an unfinished one of the same file; its bytes on the server go too.
            _ = try? await api.send(api.request(.DELETE, saved.location))
            try? FileManager.default.removeItem(atPath: statePath)
            state = nil
        }
        if resume && state == nil && resumedFrom == nil {
            Output.error("knotctl: no interrupted upload of \(local) to \(target.display) to resume; starting a new one")
        }
        if state == nil {
            let answer = try await api.post(
                "/api/v1/files/uploads",
                ["domain": target.domain, "path": target.path, "length": length, "overwrite": overwrite] as [String: Any])
            let object = try answer.object()
            guard let id = object["id"] as? String, let location = object["location"] as? String, location.hasPrefix("/api/v1/files/uploads/")
            else { throw KnotctlError("the files service did not open an upload") }
            state = State(id: id, location: location, length: length, target: target.display)
            try Self.save(state!, to: statePath, folder: stateFolder)
            if length == 0 {
                try? FileManager.default.removeItem(atPath: statePath)
                return Outcome(bytes: 0, resumedFrom: nil)
            }
        }
        let progress = ProgressBar(label: (local as NSString).lastPathComponent, total: length, done: offset)
        var failures = 0
        while offset < length {
            let count = min(chunkSize, length - offset)
            var request = api.request(.PATCH, state!.location)
            request.headers.add(name: "Tus-Resumable", value: "1.0.0")
            request.headers.add(name: "Upload-Offset", value: String(offset))
            request.headers.add(name: "Content-Type", value: "application/offset+octet-stream")
            request.body = .stream(FilePieces(path: local, start: offset, count: count, rate: rate, progress: progress), length: .known(count))
            do {
                let answer = try await api.send(request, timeout: .seconds(600))
                guard let next = answer.headers.first(name: "Upload-Offset").flatMap(Int64.init), next > offset, next <= length else {
                    throw KnotctlError("the files service did not confirm the bytes sent")
                }
                offset = next
                failures = 0
            } catch let error as KnotctlError where error.status == .conflict || error.httpStatus == nil || (error.httpStatus ?? 0) >= 500 {
                // Offset mismatch, a writer still busy, a dropped connection or an unavailable service:
                // ask the server where it stands and carry on from there, a few times.
                failures += 1
                guard failures <= 5 else { throw error }
                try await Task.sleep(for: .seconds(Double(failures)))
                offset = try await currentOffset(state!)
            }
            progress.set(offset)
        }
        progress.finish()
        try? FileManager.default.removeItem(atPath: statePath)
        return Outcome(bytes: length, resumedFrom: resumedFrom)
    }

    func currentOffset(_ state: State) async throws -> Int64 {
        var request = api.request(.HEAD, state.location)
        request.headers.add(name: "Tus-Resumable", value: "1.0.0")
        let answer = try await api.send(request)
        guard let offset = answer.headers.first(name: "Upload-Offset").flatMap(Int64.init), offset >= 0, offset <= state.length else {
            throw KnotctlError("the files service did not say how much of the upload it has")
        }
        return offset
    }

    static func key(url: String, local: String, size: Int64, modified: Int64, target: String) -> String {
        let text = [url, local, String(size), String(modified), target].joined(separator: "\u{0}")
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined().prefix(32).description
    }

    static func load(_ path: String) -> State? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    static func save(_ state: State, to path: String, folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(state)
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw KnotctlError("cannot write the upload's state to \(path)")
        }
    }
}

/// A byte range of a local file as a stream of buffers, read as the request
/// body is sent (so memory stays small and the transfer is paced by the
/// network, or by `rate`).
struct FilePieces: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let start: Int64
    let count: Int64
    let rate: Int64?
    let progress: ProgressBar?

    static let pieceSize = 64 << 10

    func makeAsyncIterator() -> Iterator {
        Iterator(pieces: self, fd: open(path, O_RDONLY | O_CLOEXEC), offset: start, remaining: count)
    }

    struct Iterator: AsyncIteratorProtocol {
        let pieces: FilePieces
        var fd: Int32
        var offset: Int64
        var remaining: Int64
        let began = ContinuousClock.now
        var sent: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard remaining > 0 else {
                if fd >= 0 { close(fd); fd = -1 }
                return nil
            }
            guard fd >= 0 else { throw KnotctlError("cannot read \(pieces.path): \(String(cString: strerror(errno)))") }
            if let rate = pieces.rate, rate > 0 {
                // Pace to the limit: wait until the bytes sent so far are due.
                let due = began + .milliseconds(Int64(Double(sent) / Double(rate) * 1000))
                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
            }
            let size = Int(Swift.min(Int64(FilePieces.pieceSize), remaining, pieces.rate.map { Swift.max(1024, $0 / 10) } ?? Int64.max))
            var buffer = ByteBufferAllocator().buffer(capacity: size)
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pointer in
                Swift.max(0, pread(fd, pointer.baseAddress, size, off_t(offset)))
            }
            guard read > 0 else {
                close(fd)
                fd = -1
                throw KnotctlError("\(pieces.path) became shorter while it was being sent")
            }
            offset += Int64(read)
            remaining -= Int64(read)
            sent += Int64(read)
            pieces.progress?.advance(read)
            return buffer
        }
    }
}
