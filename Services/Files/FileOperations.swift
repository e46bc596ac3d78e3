import Foundation
import KnotErrors
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

struct FileEntry: Codable, Sendable {
    var name: String
    var kind: String
    var size: Int64
    var modified: Date
}

/// The file operations themselves, on directory handles. Blocking system
/// calls run on NIO's thread pool, never on an event loop.
struct FileOperations: Sendable {
    let maxUploadBytes: Int64
    /// Whether uploads may bypass the page cache (see `UploadWriter`).
    var directUploads = true

    static func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    enum Kind { case file(size: Int64, modified: Date), folder, other }

    static func kind(in directory: DirectoryHandle, name: String) -> Kind? {
        var info = stat()
        guard fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file(size: Int64(info.st_size), modified: Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)))
        case S_IFDIR: return .folder
        default: return .other
        }
    }

    /// A file opened for reading directly inside `directory`, only when it is a
    /// regular file: never through a symbolic link (`O_NOFOLLOW`, so a link a
    /// container planted is refused) and never blocking on a FIFO (`O_NONBLOCK`).
    /// For the small files Knot itself reads: the template catalogue and the theme.
    enum RegularFile {
        /// The caller closes `fd`.
        case opened(fd: Int32, info: stat)
        case missing
        case refused(String)
    }

    static func openRegularFile(in directory: DirectoryHandle, name: String) -> RegularFile {
        let fd = openat(directory.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .missing : .refused("cannot be opened (is it a link?)") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return .refused("is not a regular file")
        }
        return .opened(fd: fd, info: info)
    }

    /// At most `limit` bytes; nil on an error or when the file has grown past the limit.
    static func readAll(_ fd: Int32, limit: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return nil }
        }
    }

    /// The names in a folder, without `.` and `..` (the handle itself stays open and unmoved).
    static func names(in directory: DirectoryHandle) throws -> [String] {
        let copy = dup(directory.fd)
        guard copy >= 0, let stream = fdopendir(copy) else { throw KnotError.internalError("cannot read the folder") }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func list(_ directory: DirectoryHandle) throws -> [FileEntry] {
        var entries: [FileEntry] = []
        for name in try names(in: directory) where !name.hasPrefix(UploadNames.prefix) {
            var info = stat()
            guard fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            let kind = type == S_IFDIR ? "folder" : type == S_IFREG ? "file" : type == S_IFLNK ? "link" : "other"
            entries.append(
                FileEntry(
                    name: name, kind: kind, size: type == S_IFREG ? Int64(info.st_size) : 0,
                    modified: Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))))
        }
        return entries.sorted { ($0.kind == "folder" ? 0 : 1, $0.name) < ($1.kind == "folder" ? 0 : 1, $1.name) }
    }

    /// Streams the body into a temporary file beside the target and renames it
    /// into place only when complete, so nobody ever sees half a file.
    func upload(
        into directory: DirectoryHandle, name: String, path: SafePath, overwrite: Bool,
        body: some AsyncSequence<ByteBuffer, any Error>, allowance: Int64? = nil
    ) async throws -> Int64 {
        switch Self.kind(in: directory, name: name) {
        case .folder: throw KnotError.conflict("\(path.display) is a folder", code: "is_a_folder")
        case .file where !overwrite, .other where !overwrite:
            throw KnotError.conflict("\(path.display) already exists; ask for overwrite=true to replace it", code: "exists")
        default: break
        }
        let temporary = UploadNames.prefix + UUID().uuidString.lowercased()
        let fd = openat(directory.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileErrors.from(errno: errno, path: path) }
        FileOwnership.adopt(fd)
        var written: Int64 = 0
        var closed = false
        var writer = UploadWriter(fd: fd, path: path, startingAt: 0, direct: directUploads)
        do {
            for try await var chunk in body {
                written += Int64(chunk.readableBytes)
                guard written <= maxUploadBytes else {
                    throw KnotError.tooLarge("uploads are limited to \(maxUploadBytes) bytes")
                }
                if let allowance, written > allowance {
                    throw Quotas.exceeded("the upload went over your quota (\(allowance) bytes were left); nothing was kept")
                }
                try await writer.add(&chunk)
            }
            try await writer.flush()
            try await Self.blocking {
                guard fsync(fd) == 0 else { throw FileErrors.from(errno: errno, path: path) }
            }
            close(fd)
            closed = true
            try Transfers.move(from: directory, temporary, to: directory, name, overwrite: overwrite, path: path)
            return written
        } catch {
            if !closed {
                await writer.abandon()
                close(fd)
            }
            unlinkat(directory.fd, temporary, 0)
            throw error
        }
    }

    static func writeAll(fd: Int32, _ buffer: ByteBuffer, path: SafePath) throws {
        try buffer.withUnsafeReadableBytes { try writeAll(fd: fd, $0, path: path) }
    }

    /// Writes every byte, through short writes and interruptions. On any other
    /// error `retry` may change the descriptor and ask for the rest to be tried
    /// again (the upload writer leaves direct I/O that way); otherwise it throws.
    static func writeAll(
        fd: Int32, _ raw: UnsafeRawBufferPointer, path: SafePath, retry: (Int32) -> Bool = { _ in false }
    ) throws {
        var offset = 0
        while offset < raw.count {
            let count = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if count < 0 {
                let error = errno
                if error == EINTR || retry(error) { continue }
                throw FileErrors.from(errno: error, path: path)
            }
            offset += count
        }
    }

    static func remove(in directory: DirectoryHandle, name: String, path: SafePath, recursive: Bool) throws {
        guard let kind = kind(in: directory, name: name) else { throw KnotError.notFound("\(path.display) does not exist") }
        switch kind {
        case .folder:
            if recursive {
                let fd = openat(directory.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw FileErrors.from(errno: errno, path: path) }
                try removeContents(of: DirectoryHandle.adopt(fd), path: path)
            }
            guard unlinkat(directory.fd, name, AT_REMOVEDIR) == 0 else { throw FileErrors.from(errno: errno, path: path) }
        case .file, .other:
            guard unlinkat(directory.fd, name, 0) == 0 else { throw FileErrors.from(errno: errno, path: path) }
        }
    }

    /// Empties a folder without following links (a link is removed, not its target).
    static func removeContents(of directory: DirectoryHandle, path: SafePath) throws {
        for name in try names(in: directory) {
            let childPath = SafePath(components: path.components + [name])
            if case .folder = kind(in: directory, name: name) {
                let fd = openat(directory.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw FileErrors.from(errno: errno, path: childPath) }
                let child = DirectoryHandle.adopt(fd)
                try removeContents(of: child, path: childPath)
                guard unlinkat(directory.fd, name, AT_REMOVEDIR) == 0 else { throw FileErrors.from(errno: errno, path: childPath) }
            } else {
                guard unlinkat(directory.fd, name, 0) == 0 else { throw FileErrors.from(errno: errno, path: childPath) }
            }
        }
    }
}
