import Foundation
import KnotErrors
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Per-person limits on the private domain (bytes and files, from
/// `KNOT_QUOTA_BYTES` / `KNOT_QUOTA_FILES`; 0 means none). Usage is measured
/// by walking the folder, remembered for a short while and adjusted by this
/// service's own writes in between, so a burst of uploads does not walk the
/// tree each time. An upload whose size is known is refused before it starts;
/// one whose size is not is stopped as soon as it would go over.
final class Quotas: Sendable {
    struct Usage: Codable, Sendable, Equatable {
        var bytes: Int64
        var files: Int64
    }

    let maxBytes: Int64
    let maxFiles: Int64
    let freshness: TimeInterval
    private let cache = NIOLockedValueBox<[String: (Usage, Date)]>([:])

    init(maxBytes: Int64, maxFiles: Int64, freshness: TimeInterval = 30) {
        self.maxBytes = maxBytes
        self.maxFiles = maxFiles
        self.freshness = freshness
    }

    var limited: Bool { maxBytes > 0 || maxFiles > 0 }

    func usage(of owner: String, root: String) async throws -> Usage {
        if let (usage, measured) = cache.withLockedValue({ $0[owner] }), Date().timeIntervalSince(measured) < freshness { return usage }
        let usage = try await FileOperations.blocking { () -> Usage in
            let top = try DirectoryHandle.open(root: root, path: SafePath(components: []), create: true)
            return Self.measure(top)
        }
        cache.withLockedValue { $0[owner] = (usage, Date()) }
        return usage
    }

    /// Files and bytes under a folder, links not followed, uploads in progress counted (they take space).
    static func measure(_ directory: DirectoryHandle) -> Usage {
        var usage = Usage(bytes: 0, files: 0)
        guard let names = try? FileOperations.names(in: directory) else { return usage }
        for name in names {
            var info = stat()
            guard fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                usage.bytes += Int64(info.st_size)
                usage.files += 1
            case S_IFDIR:
                let fd = openat(directory.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { continue }
                let inner = measure(DirectoryHandle.adopt(fd))
                usage.bytes += inner.bytes
                usage.files += inner.files
            default:
                continue
            }
        }
        return usage
    }

    /// How many more bytes may be written (nil: no limit); refuses at once when a new file or `adding` bytes would not fit.
    func allowance(for owner: String, root: String, adding: Int64?, newFile: Bool) async throws -> Int64? {
        guard limited else { return nil }
        let usage = try await usage(of: owner, root: root)
        if maxFiles > 0 && newFile && usage.files + 1 > maxFiles {
            throw Self.exceeded("your files are limited to \(maxFiles); delete some first")
        }
        guard maxBytes > 0 else { return nil }
        let left = max(0, maxBytes - usage.bytes)
        if let adding, adding > left {
            throw Self.exceeded("this needs \(adding) bytes and your quota has \(left) left of \(maxBytes)")
        }
        return left
    }

    /// This service's own change to someone's usage, until the next measurement.
    func record(_ owner: String, bytes: Int64, files: Int64) {
        cache.withLockedValue { cache in
            guard let (usage, measured) = cache[owner] else { return }
            cache[owner] = (Usage(bytes: max(0, usage.bytes + bytes), files: max(0, usage.files + files)), measured)
        }
    }

    func forget(_ owner: String) { _ = cache.withLockedValue { $0.removeValue(forKey: owner) } }

    static func exceeded(_ message: String) -> KnotError {
        KnotError(.contentTooLarge, code: "quota_exceeded", message: message)
    }
}
