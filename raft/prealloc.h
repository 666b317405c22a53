/* libraft's segment preallocation (raft/prealloc.c). */
#ifndef AUGUR_RAFT_PREALLOC_H
#define AUGUR_RAFT_PREALLOC_H

#include <sys/types.h>

/* posix_fallocate(@fd, @offset, @len), then zeros written over the range:
 * libraft's posix_fallocate, renamed in the build's copy of libraft.a.
 * Returns 0 or an errno value, as posix_fallocate does. */
int augur__raft_posix_fallocate(int fd, off_t offset, off_t len);

#endif /* AUGUR_RAFT_PREALLOC_H */
