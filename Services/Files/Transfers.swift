import Foundation
import KnotErrors

#if canImport(Glibc)
import Glibc
#endif

/// Moving and copying within and across a person's domains. Both ends are
/// reached through directory handles (never a path string), and the result
/// appears whole: a copy is made under a hidden name beside its target and
/// renamed into place, and nothing is replaced unless asked.
enum Transfers {
    struct Place: Decodable, Sendable {
        var domain: String
        var path: String
    }

    struct Request: Decodable, Sendable {
        var from: Place
        var to: Place
        var overwrite: Bool?
    }

    /// Renames `fromName` in `from` to `toName` in `to`; also how a finished
    /// upload (under its hidden name) takes its real one.
    static func move(from: DirectoryHandle, _ fromName: String, to: DirectoryHandle, _ toName: String, overwrite: Bool, path: SafePath) throws {
        guard FileOperations.kind(in: from, name: fromName) != nil else { throw KnotError.notFound("\(path.display) does not exist") }
        if overwrite {
            guard renameat(from.fd, fromName, to.fd, toName) == 0 else { throw FileErrors.from(errno: errno, path: path) }
            return
        }
        // The target name is claimed atomically first, so a racing writer is never overwritten
        // (renameat2's RENAME_NOREPLACE is not in Swift's Glibc).
        switch FileOperations.kind(in: from, name: fromName) {
        case .folder:
            // An empty folder holds the name; rename may replace an empty folder, and only that.
            guard mkdirat(to.fd, toName, 0o700) == 0 else { throw FileErrors.from(errno: errno, path: path) }
            guard renameat(from.fd, fromName, to.fd, toName) == 0 else {
                let error = errno
                unlinkat(to.fd, toName, AT_REMOVEDIR)
                throw FileErrors.from(errno: error, path: path)
            }
        default:
            // A hard link fails if the name exists; then the old name goes.
            guard linkat(from.fd, fromName, to.fd, toName, 0) == 0 else { throw FileErrors.from(errno: errno, path: path) }
            guard unlinkat(from.fd, fromName, 0) == 0 else { throw FileErrors.from(errno: errno, path: path) }
        }
    }

    /// Copies a file or a whole folder, then renames the copy into place.
    static func copy(from: DirectoryHandle, _ fromName: String, to: DirectoryHandle, _ toName: String, overwrite: Bool, path: SafePath) throws {
        let temporary = UploadNames.prefix + UUID().uuidString.lowercased()
        do {
            switch FileOperations.kind(in: from, name: fromName) {
            case nil: throw KnotError.notFound("\(path.display) does not exist")
            case .other: throw KnotError.forbidden("\(path.display) is a link or special file; it is not copied")
            case .file: try copyFile(from: from, fromName, to: to, temporary, path: path)
            case .folder:
                guard mkdirat(to.fd, temporary, 0o755) == 0 else { throw FileErrors.from(errno: errno, path: path) }
                FileOwnership.adopt(temporary, in: to.fd)
                try copyFolder(from: try open(from, fromName, path: path), to: try open(to, temporary, path: path), path: path)
            }
            try move(from: to, temporary, to: to, toName, overwrite: overwrite, path: path)
        } catch {
            try? FileOperations.remove(in: to, name: temporary, path: path, recursive: true)
            throw error
        }
    }

    static func open(_ directory: DirectoryHandle, _ name: String, path: SafePath) throws -> DirectoryHandle {
        let fd = openat(directory.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileErrors.from(errno: errno, path: path) }
        return DirectoryHandle.adopt(fd)
    }

    static func copyFile(from: DirectoryHandle, _ fromName: String, to: DirectoryHandle, _ toName: String, path: SafePath) throws {
        // Non-blocking (a FIFO swapped in must not hang the copy) and only a regular file.
        let source = openat(from.fd, fromName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard source >= 0 else { throw FileErrors.from(errno: errno, path: path) }
        defer { close(source) }
        var info = stat()
        guard fstat(source, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw KnotError.forbidden("\(path.display) is a link or special file; it is not copied")
        }
        let target = openat(to.fd, toName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard target >= 0 else { throw FileErrors.from(errno: errno, path: path) }
        FileOwnership.adopt(target)
        defer { close(target) }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let count = read(source, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileErrors.from(errno: errno, path: path)
            }
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { write(target, $0.baseAddress! + offset, count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileErrors.from(errno: errno, path: path)
                }
                offset += written
            }
        }
    }

    /// Copies a folder's contents (files and folders; links and special files are left out).
    static func copyFolder(from: DirectoryHandle, to: DirectoryHandle, path: SafePath) throws {
        for name in try FileOperations.names(in: from) where !name.hasPrefix(UploadNames.prefix) {
            switch FileOperations.kind(in: from, name: name) {
            case .file: try copyFile(from: from, name, to: to, name, path: path)
            case .folder:
                guard mkdirat(to.fd, name, 0o755) == 0 else { throw FileErrors.from(errno: errno, path: path) }
                FileOwnership.adopt(name, in: to.fd)
                try copyFolder(from: try open(from, name, path: path), to: try open(to, name, path: path), path: path)
            default: continue
            }
        }
    }
}
