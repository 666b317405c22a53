/* The raft_fsm over store/: apply committed entries, asynchronous
 * snapshots, restore; and when to take a snapshot, by the bytes of log
 * against the size of the state. */
#include "raft/replica.h"
#include "raft/replica_int.h"
#include "raft/entry.h"
#include "raft/rollback.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- the FSM ---------------------------------------------------------- */

/* When to take a snapshot: when the log applied since the last one holds
 * more bytes than the state itself (and at least REPLICA_LOG_BYTES_MIN), or
 * --snapshot-threshold entries, whichever comes first.  A snapshot copies
 * the whole state, so sizing the log to the state keeps its cost per write
 * the same at any size: with a fixed 16 MiB of log, a million claims (a
 * 100 MB snapshot) were copied and written every few seconds of writes, and
 * write throughput halved.  The log in between is bounded too: a lagging
 * follower gets it in bounded messages (append_bound.c), and a restart
 * replays at most about one state's worth.
 *
 * libraft counts its threshold in entries, so the replica counts the bytes
 * and moves the threshold: the configured count while under the budget, one
 * entry (now) once over it.  The entries kept after a snapshot for followers
 * a little behind (libraft's trailing) are about a quarter of the budget's
 * worth at the mean entry size, never above the configured count. */
static void log_bytes_track(struct replica *r, size_t len)
{
    uint64_t budget = r->state_bytes > REPLICA_LOG_BYTES_MIN
                          ? r->state_bytes
                          : REPLICA_LOG_BYTES_MIN;
    unsigned threshold, trailing;
    double entries;

    if (r->max_threshold == 0) {
        return;
    }
    r->log_bytes += len;
    r->mean_entry = r->mean_entry == 0
                        ? (double)len
                        : r->mean_entry + ((double)len - r->mean_entry) / 64;
    threshold = r->log_bytes >= budget ? 1 : r->max_threshold;
    if (threshold != r->threshold) {
        r->threshold = threshold;
        raft_set_snapshot_threshold(&r->raft, threshold);
    }
    entries = (double)budget / 4 / (r->mean_entry > 1 ? r->mean_entry : 1);
    trailing = entries < REPLICA_THRESHOLD_MIN / 4 ? REPLICA_THRESHOLD_MIN / 4
               : entries >= r->max_trailing        ? r->max_trailing
                                                   : (unsigned)entries;
    if (trailing > r->max_trailing) {
        trailing = r->max_trailing;
    }
    /* Move only on a real change: a few percent is noise. */
    if (trailing * 8 < r->trailing * 7 || trailing * 7 > r->trailing * 8) {
        r->trailing = trailing;
        raft_set_snapshot_trailing(&r->raft, trailing);
    }
}

static int fsm_apply(struct raft_fsm *fsm,
                     const struct raft_buffer *buf,
                     void **result)
{
    struct replica *r = fsm->data;
    int rv;

    rv = replica__entry_apply(r->store, buf->base, buf->len, &r->answer,
                              r->ends, &r->n_ends);
    log_bytes_track(r, buf->len);
    if (rv != 0) {
        /* The store failed below the state machine (disk full, LMDB
         * error).  Going on would let this node's state diverge from its
         * peers': stop, and let a restart replay the log. */
        LOG(LOG_LEVEL_ERROR, "apply failed: %s; stopping this node",
            augur_strerror(rv));
        abort();
    }
    /* libraft 0.15 calls the raft_apply callback synchronously right after
     * this returns, so the answers may be reused by the next entry. */
    *result = r;
    if (r->applied_cb != NULL) {
        r->applied_cb(r);
    }
    return 0;
}

/* Snapshots are asynchronous (FSM version 3): fsm_snapshot, on the loop
 * thread, only pins the state as of the last applied entry (an LMDB read
 * transaction); fsm_snapshot_async copies it out on libuv's thread pool
 * while entries keep being applied; fsm_snapshot_finalize, back on the loop
 * thread, frees the copy and the pin.  A large state is never copied on the
 * thread that answers heartbeats. */
static int fsm_snapshot(struct raft_fsm *fsm,
                        struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct replica *r = fsm->data;
    int rv;

    *bufs = NULL;
    *n_bufs = 0;
    if (r->snap != NULL) {
        return RAFT_BUSY;
    }
    /* libraft stores its current configuration in the snapshot as if it
     * were committed: wait until it is (see rollback.c).  An uncommitted
     * change holds back every later entry's commit too, so this never
     * delays a snapshot for long. */
    if (!replica__conf_settled(r)) {
        return RAFT_BUSY;
    }
    rv = store_snapshot_begin(r->store, &r->snap);
    if (rv != 0) {
        LOG(LOG_LEVEL_ERROR, "snapshot: %s", augur_strerror(rv));
        return rv == AUGUR_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
    }
    r->snap_index = r->raft.last_applied;
    r->log_bytes = 0; /* what follows snap_index counts for the next one */
    r->snap_started = uv_now(r->loop);
    r->snap_started_ns = uv_hrtime();
    return 0;
}

/* On a thread-pool thread: no logging, no loop state. */
static int fsm_snapshot_async(struct raft_fsm *fsm,
                              struct raft_buffer *bufs[],
                              unsigned *n_bufs)
{
    struct replica *r = fsm->data;
    struct raft_buffer *b;
    int rv;

    b = raft_malloc(sizeof *b);
    if (b == NULL) {
        return RAFT_NOMEM;
    }
    rv =
        store_snapshot_take(r->snap, raft_malloc, raft_free, &b->base, &b->len);
    if (rv != 0) {
        r->snap_err = rv;
        raft_free(b);
        return rv == AUGUR_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
    }
    *bufs = b;
    *n_bufs = 1;
    return 0;
}

/* Count one snapshot of @len bytes that began at @start_ns (uv_hrtime). */
static void snapshot_count(struct replica_snapshot_stats *st,
                           uint64_t start_ns,
                           size_t len)
{
    augur_histogram_observe(&st->seconds,
                            (double)(uv_hrtime() - start_ns) / 1e9);
    st->last_bytes = len;
    st->bytes += len;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm,
                                 struct raft_buffer *bufs[],
                                 unsigned *n_bufs)
{
    struct replica *r = fsm->data;
    size_t len = 0;

    for (unsigned i = 0; i < *n_bufs; i++) {
        len += (*bufs)[i].len;
        raft_free((*bufs)[i].base);
    }
    raft_free(*bufs);
    if (r->snap_err != 0) {
        r->snap_taken.failures++;
        LOG(LOG_LEVEL_ERROR, "snapshot at applied index %llu failed: %s: %s",
            (unsigned long long)r->snap_index, augur_strerror(r->snap_err),
            store_snapshot_errmsg(r->snap));
    } else if (*n_bufs > 0) {
        snapshot_count(&r->snap_taken, r->snap_started_ns, len);
        r->state_bytes = len;
        LOG(LOG_LEVEL_INFO,
            "took snapshot at applied index %llu (%zu bytes, %llu ms)",
            (unsigned long long)r->snap_index, len,
            (unsigned long long)(uv_now(r->loop) - r->snap_started));
    }
    *bufs = NULL;
    *n_bufs = 0;
    store_snapshot_end(r->snap);
    r->snap = NULL;
    r->snap_err = 0;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct replica *r = fsm->data;
    uint64_t start_ns = uv_hrtime();
    int rv = store_restore(r->store, buf->base, buf->len);
    if (rv != 0) {
        r->snap_installed.failures++;
        LOG(LOG_LEVEL_ERROR, "restore: snapshot refused: %s",
            augur_strerror(rv));
        return rv == AUGUR_ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
    }
    snapshot_count(&r->snap_installed, start_ns, buf->len);
    r->state_bytes = buf->len;
    r->log_bytes = 0;
    LOG(LOG_LEVEL_INFO, "restored snapshot (%zu bytes, rev %" PRIu64 ")",
        buf->len, store_revision(r->store));
    /* On success the FSM owns the buffer. */
    raft_free(buf->base);
    if (r->applied_cb != NULL) {
        r->applied_cb(r);
    }
    return 0;
}

void replica__fsm_init(struct replica *r)
{
    r->fsm.version = 3;
    r->fsm.data = r;
    r->fsm.apply = fsm_apply;
    r->fsm.snapshot = fsm_snapshot;
    r->fsm.snapshot_finalize = fsm_snapshot_finalize;
    r->fsm.snapshot_async = fsm_snapshot_async;
    r->fsm.restore = fsm_restore;
}
