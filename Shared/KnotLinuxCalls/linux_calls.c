#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/uio.h>
#include <sys/vfs.h>

#include "KnotLinuxCalls.h"

int knot_start_write_back(int fd) {
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int knot_set_direct_io(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    int wanted = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
    return wanted == flags ? 0 : fcntl(fd, F_SETFL, wanted);
}

long knot_filesystem_type(int fd) {
    struct statfs info;
    return fstatfs(fd, &info) == 0 ? (long)info.f_type : -1;
}

int knot_is_remote_filesystem(int fd) {
    switch ((unsigned long)knot_filesystem_type(fd)) {
    case 0x6969:      // NFS
    case 0x517B:      // SMB
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x00C36400:  // Ceph
    case 0x65735546:  // FUSE
        return 1;
    default:
        return 0;
    }
}

long knot_read_cached(int fd, void *buffer, unsigned long count, long offset) {
    struct iovec part = {.iov_base = buffer, .iov_len = count};
    return preadv2(fd, &part, 1, offset, RWF_NOWAIT);
}
