import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Who owns what the files service creates (`KNOT_FILES_UID`, `KNOT_FILES_GID`):
/// the user a notebook runs as, so that files uploaded here are writable in
/// there. Unset, files belong to the service's own user.
enum FileOwnership {
    static let ids: (uid: uid_t, gid: gid_t)? = {
        let environment = ProcessInfo.processInfo.environment
        guard let uid = environment["KNOT_FILES_UID"].flatMap(UInt32.init) else { return nil }
        let gid = environment["KNOT_FILES_GID"].flatMap(UInt32.init) ?? uid
        return (uid, gid)
    }()

    /// For a descriptor just created.
    static func adopt(_ fd: Int32) {
        guard let ids else { return }
        _ = fchown(fd, ids.uid, ids.gid)
    }

    /// For a name just created in a folder (never following a link).
    static func adopt(_ name: String, in directory: Int32) {
        guard let ids else { return }
        _ = fchownat(directory, name, ids.uid, ids.gid, AT_SYMLINK_NOFOLLOW)
    }
}
