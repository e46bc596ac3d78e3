#ifndef KNOT_LINUX_CALLS_H
#define KNOT_LINUX_CALLS_H

// Linux calls and constants that Swift's Glibc module leaves out because glibc
// declares them only under _GNU_SOURCE; they are defined in a C file compiled
// with it.

/// Starts writing a file's dirty pages to disk without waiting for them
/// (sync_file_range with SYNC_FILE_RANGE_WRITE over the whole file). Returns 0
/// or -1 with errno set.
int knot_start_write_back(int fd);

/// Turns direct I/O (O_DIRECT: writes go to the disk, not through the page
/// cache) on or off for an open file. Returns 0, or -1 with errno set (EINVAL
/// where the filesystem does not support it).
int knot_set_direct_io(int fd, int on);

/// The magic number of the filesystem a file lives on (statfs's f_type), or -1.
long knot_filesystem_type(int fd);

/// Whether the file lives on a network or user-space filesystem (NFS, SMB,
/// Ceph, FUSE), where direct I/O makes every write wait for a round trip.
int knot_is_remote_filesystem(int fd);

/// Reads up to `count` bytes at `offset` only if the page cache already holds
/// them (preadv2 with RWF_NOWAIT), so the caller never waits for the disk.
/// Returns the bytes read (fewer when only part is cached, 0 at the end of the
/// file), or -1 with errno EAGAIN when nothing is cached, or EOPNOTSUPP/ENOSYS
/// where the kernel or filesystem cannot promise not to wait.
long knot_read_cached(int fd, void *buffer, unsigned long count, long offset);

#endif
