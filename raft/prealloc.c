/* libraft's open segments, allocated so that every write into them is an
 * overwrite.
 *
 * libraft 0.15 makes each open segment (8 MiB) ahead of time: it opens the
 * file with O_DSYNC and posix_fallocate()s it, then writes entries into it
 * with O_DIRECT, through Linux AIO with RWF_NOWAIT.  On ext4 and xfs a
 * fallocated range is "unwritten": the first write into each block must
 * convert the extent and commit that to the journal before O_DSYNC lets
 * the write complete.  RWF_NOWAIT refuses such a write (EAGAIN), so every
 * append was retried from libuv's thread pool, and each then waited for a
 * journal commit: 2 ms for a 16 KiB append where an overwrite takes
 * 0.2 ms (strace of a leader under write_64).
 *
 * The build's copy of libraft.a calls augur__raft_posix_fallocate instead
 * of posix_fallocate (CMakeLists.txt); this allocates the range and then
 * writes zeros over it, in 1 MiB writes, so the extents are written ones
 * before libraft uses the file.  That costs the segment's size in extra
 * sequential writes, on libraft's preparing thread, off the write path.
 * A reader cannot tell the zeros from the unwritten extents' zeros, and
 * libraft already treats a block of zeros as the end of an open segment. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "raft/prealloc.h"

#define ZERO_CHUNK ((size_t)1 << 20)

/* Aligned for O_DIRECT, should the descriptor have it. */
static _Alignas(4096) unsigned char zeros[ZERO_CHUNK];

int augur__raft_posix_fallocate(int fd, off_t offset, off_t len)
{
    off_t end = offset + len;
    int rv;

    rv = posix_fallocate(fd, offset, len);
    if (rv != 0) {
        return rv;
    }
    while (offset < end) {
        size_t n = (size_t)(end - offset) < ZERO_CHUNK ? (size_t)(end - offset)
                                                       : ZERO_CHUNK;
        ssize_t w = pwrite(fd, zeros, n, offset);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        if (w == 0) {
            return EIO;
        }
        offset += w;
    }
    return 0;
}
