#if canImport(Glibc)
import Glibc
#endif

/// What the edge watches a file by: size, modification time and inode, read
/// with `stat(2)`, which follows symbolic links, so a certificate mounted
/// from a Kubernetes Secret (a link swapped on renewal) counts as changed.
/// Used for the TLS certificate and key and for the dashboard's files.
struct FileStamp: Equatable, Sendable {
    var size: Int64
    var modifiedNanoseconds: Int64
    var inode: UInt64

    /// The stamp of a regular file, or nil when there is none at `path`.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        size = Int64(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        inode = UInt64(info.st_ino)
    }
}
