/* raft/'s private interface to the Raft log entry format: its framing, its
 * versions, the limits each version defines, and the apply of one entry. */
#ifndef AUGUR_RAFT_ENTRY_H
#define AUGUR_RAFT_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "store/store.h"

/* A log entry is an 8-byte header, a body, and zero padding to a multiple of
 * 8 bytes:
 *
 *   0..3  body length, big-endian
 *   4     entry format version
 *   5..7  zero
 *
 * Version 1: the body is one command.  Version 2 (written now): the body is
 * a batch, every command proposed during one loop turn:
 *
 *   [4 bytes: count, big-endian] then count times
 *   [4 bytes: command length, big-endian][command]
 *
 * The padding is not decoration: libraft 0.15's uv backend assumes every
 * entry's length is a multiple of 8 when it batches and reads entries back
 * (canonical/raft #189), and followers otherwise read past the end of the
 * received buffer.  The header gives the true length back to the FSM. */
#define REPLICA__ENTRY_HEADER 8
#define REPLICA__ENTRY_SINGLE 1
#define REPLICA__ENTRY_BATCH 2

/* The limits of a version are part of the format, as much as its framing:
 * whether an entry is well formed is decided from the entry and its version
 * alone, never from a setting of the build that reads it, so that every
 * node applies a logged entry alike whatever it was built with.  They never
 * change; a format with other limits is a new version.  Version 2 holds 1
 * to 4096 commands (what the writer puts in one is its own choice, within
 * that: REPLICA_BATCH_MAX). */
#define REPLICA__ENTRY_BATCH_COUNT_MAX 4096u

/* Apply the commands of the entry @buf (@len bytes, padding included) to
 * @store in order, replacing what @answer held with one answer per command:
 * answer i ends at ends[i], and *@n_ends is their number.  @ends has room
 * for REPLICA_ENTRY_COUNT_MAX (replica.h), the most commands an entry of any
 * version holds.  An entry whose framing is bad (an unknown version, a
 * length past the entry, a count outside its version's limits) changes
 * nothing and is answered once with AUGUR_EMALFORMED, identically on every
 * node.  Returns 0, or the store's failure (AUGUR_EIO, AUGUR_ENOMEM), after
 * which the node cannot go on. */
int replica__entry_apply(struct store *store,
                         const void *buf,
                         size_t len,
                         msgpack_sbuffer *answer,
                         size_t *ends,
                         unsigned *n_ends);

#endif
