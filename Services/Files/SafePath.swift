import HTTPTypes
import Foundation
import KnotErrors

#if canImport(Glibc)
import Glibc
#endif

/// A path inside a file domain, checked component by component: no empty,
/// `.` or `..` parts, no NUL or slash inside a name, no absolute paths, and
/// bounded lengths. Built only from the URL's percent-encoded components.
struct SafePath: Sendable, Equatable {
    var components: [String]

    static let maxDepth = 64
    static let maxNameBytes = 255

    static func parse(encoded raw: some Sequence<Substring>) throws -> SafePath {
        var components: [String] = []
        for part in raw where !part.isEmpty {
            guard let name = String(part).removingPercentEncoding else {
                throw KnotError.badRequest("the path has invalid percent-encoding", code: "invalid_path")
            }
            try check(name)
            components.append(name)
        }
        guard components.count <= maxDepth else {
            throw KnotError.badRequest("the path is deeper than \(maxDepth) folders", code: "invalid_path")
        }
        return SafePath(components: components)
    }

    static func parse(_ path: String) throws -> SafePath {
        guard !path.hasPrefix("/") else {
            throw KnotError.badRequest("paths are relative to the domain; \"/\" at the start is not allowed", code: "invalid_path")
        }
        return try parse(plain: path.split(separator: "/", omittingEmptySubsequences: true).map(String.init))
    }

    static func parse(plain names: [String]) throws -> SafePath {
        for name in names { try check(name) }
        guard names.count <= maxDepth else {
            throw KnotError.badRequest("the path is deeper than \(maxDepth) folders", code: "invalid_path")
        }
        return SafePath(components: names)
    }

    static func check(_ name: String) throws {
        if name == "." || name == ".." {
            throw KnotError.badRequest("\"..\" and \".\" are not allowed in paths", code: "invalid_path")
        }
        if name.isEmpty || name.utf8.contains(0) || name.contains("/") || name.contains("\\") {
            throw KnotError.badRequest("a name in the path is empty or contains NUL, \"/\" or \"\\\"", code: "invalid_path")
        }
        if name.utf8.count > maxNameBytes {
            throw KnotError.badRequest("a name in the path is longer than \(maxNameBytes) bytes", code: "invalid_path")
        }
        if name.hasPrefix(UploadNames.prefix) {
            throw KnotError.badRequest("names starting with \(UploadNames.prefix) are reserved", code: "invalid_path")
        }
    }

    var parent: SafePath { SafePath(components: Array(components.dropLast())) }
    var name: String? { components.last }
    var display: String { "/" + components.joined(separator: "/") }
}

enum UploadNames {
    /// Uploads in progress are written under this prefix and never listed.
    static let prefix = ".knot-upload-"
}

/// An open directory file descriptor, reached from a domain root one
/// component at a time with `O_NOFOLLOW`, so neither `..` nor a symlink
/// planted by a user's service can lead outside the domain, even racing.
final class DirectoryHandle: @unchecked Sendable {
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// Takes ownership of a directory descriptor opened with `O_NOFOLLOW`.
    static func adopt(_ fd: Int32) -> DirectoryHandle { DirectoryHandle(fd: fd) }

    /// Opens `path` under `root`. With `create`, missing folders are made.
    static func open(root: String, path: SafePath, create: Bool) throws -> DirectoryHandle {
        if create || !FileManager.default.fileExists(atPath: root) {
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        var fd = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw KnotError.unavailable("the file domain is not available") }
        for (index, name) in path.components.enumerated() {
            if create && mkdirat(fd, name, 0o755) == 0 {
                FileOwnership.adopt(name, in: fd)
            } else if create && errno != EEXIST {
                let error = errno
                close(fd)
                throw FileErrors.from(errno: error, path: SafePath(components: Array(path.components[...index])))
            }
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            var error = errno
            if next < 0 && (error == ENOTDIR || error == ELOOP) {
                // Linux says ENOTDIR for a symlink opened with O_DIRECTORY|O_NOFOLLOW; tell the two apart.
                var info = stat()
                if fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFLNK { error = ELOOP }
            }
            close(fd)
            guard next >= 0 else {
                throw FileErrors.from(errno: error, path: SafePath(components: Array(path.components[...index])))
            }
            fd = next
        }
        return DirectoryHandle(fd: fd)
    }
}

enum FileErrors {
    static func from(errno code: Int32, path: SafePath) -> KnotError {
        switch code {
        case ENOENT: return KnotError.notFound("\(path.display) does not exist")
        case ENOTDIR: return KnotError.conflict("\(path.display) is not a folder", code: "not_a_folder")
        case ELOOP: return KnotError.forbidden("\(path.display) is a link; links are not followed")
        case EEXIST: return KnotError.conflict("\(path.display) already exists", code: "exists")
        case ENOTEMPTY: return KnotError.conflict("\(path.display) is not empty; delete it recursively", code: "not_empty")
        case EISDIR: return KnotError.conflict("\(path.display) is a folder", code: "is_a_folder")
        case ENOSPC, EDQUOT: return KnotError(HTTPResponse.Status(code: 507), code: "no_space", message: "no space left for \(path.display)")
        case EACCES, EPERM: return KnotError.forbidden("\(path.display) cannot be accessed")
        case ENAMETOOLONG: return KnotError.badRequest("\(path.display) is too long", code: "invalid_path")
        // A socket, FIFO or device where a file was: never opened.
        case ENXIO, ENODEV, EOPNOTSUPP, ETXTBSY:
            return KnotError.conflict("\(path.display) is not a regular file", code: "not_a_file")
        // rename(2): a folder cannot go inside itself (it may have moved there meanwhile).
        case EINVAL: return KnotError.conflict("\(path.display) cannot go inside itself", code: "into_itself")
        case EXDEV: return KnotError.conflict("\(path.display) is on another file system; copy it instead", code: "cross_device")
        case EBUSY: return KnotError.conflict("\(path.display) is in use", code: "busy")
        case EROFS: return KnotError.forbidden("\(path.display) is on a read-only file system")
        case EFBIG: return KnotError.tooLarge("\(path.display) would be too large")
        case EMLINK: return KnotError.conflict("\(path.display) has too many links", code: "too_many_links")
        default: return KnotError.internalError("file operation failed on \(path.display) (errno \(code))")
        }
    }
}
