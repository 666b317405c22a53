/* libraft glue: setup, the FSM over store/, writes, batched read barriers,
 * membership and leadership transfer. */
#include "raft/replica.h"
#include "raft/entry.h"
#include "raft/rollback.h"
#include "raft/transport.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Translate a libraft code once, at the module edge. */
static int replica__err(int rv)
{
    switch (rv) {
        case 0:
            return 0;
        case RAFT_NOMEM:
            return AUGUR_ENOMEM;
        case RAFT_NOTLEADER:
            return AUGUR_ENOTLEADER;
        case RAFT_LEADERSHIPLOST:
            return AUGUR_EINDETERMINATE;
        case RAFT_SHUTDOWN:
        case RAFT_CANCELED:
            return AUGUR_ESHUTDOWN;
        case RAFT_CANTCHANGE:
        case RAFT_BUSY:
            return AUGUR_EBUSY;
        case RAFT_DUPLICATEID:
        case RAFT_DUPLICATEADDRESS:
            return AUGUR_EEXIST;
        case RAFT_BADID:
        case RAFT_NOTFOUND:
            return AUGUR_ENOTFOUND;
        case RAFT_BADROLE:
        case RAFT_INVALID:
        case RAFT_NAMETOOLONG:
            return AUGUR_EINVAL;
        case RAFT_NOCONNECTION:
            return AUGUR_ETIMEOUT;
        default:
            return AUGUR_EIO;
    }
}

int replica_bootstrap_parse(struct replica_config *cfg,
                            const char *text,
                            char *errmsg)
{
    const char *p = text;
    cfg->n_bootstrap = 0;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        char idtext[24];
        char *stop;
        unsigned long long id;
        struct replica_peer *peer;

        if (cfg->n_bootstrap == REPLICA_BOOTSTRAP_MAX) {
            snprintf(errmsg, REPLICA_ERRMSG_SIZE,
                     "bootstrap: more than %d nodes", REPLICA_BOOTSTRAP_MAX);
            return AUGUR_EINVAL;
        }
        if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof idtext ||
            (size_t)(p + n - eq - 1) == 0 ||
            (size_t)(p + n - eq - 1) >= STORE_ADDR_SIZE) {
            snprintf(errmsg, REPLICA_ERRMSG_SIZE,
                     "bootstrap: expected ID=HOST:PORT, got '%.*s'", (int)n, p);
            return AUGUR_EINVAL;
        }
        memcpy(idtext, p, (size_t)(eq - p));
        idtext[eq - p] = '\0';
        id = strtoull(idtext, &stop, 10);
        if (*stop != '\0' || id == 0 || idtext[0] == '-') {
            snprintf(errmsg, REPLICA_ERRMSG_SIZE, "bootstrap: bad node id '%s'",
                     idtext);
            return AUGUR_EINVAL;
        }
        for (unsigned i = 0; i < cfg->n_bootstrap; i++) {
            if (cfg->bootstrap[i].id == id) {
                snprintf(errmsg, REPLICA_ERRMSG_SIZE,
                         "bootstrap: node id %llu listed twice", id);
                return AUGUR_EINVAL;
            }
        }
        peer = &cfg->bootstrap[cfg->n_bootstrap++];
        peer->id = id;
        snprintf(peer->address, sizeof peer->address, "%.*s",
                 (int)(p + n - eq - 1), eq + 1);
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    if (cfg->n_bootstrap == 0) {
        snprintf(errmsg, REPLICA_ERRMSG_SIZE, "bootstrap: empty node list");
        return AUGUR_EINVAL;
    }
    return 0;
}

/* ---- log entries ------------------------------------------------------ */

/* The log entry format is raft/entry.h's.  The writer's bounds: a batch is
 * flushed early when it grows past either, and it always fits format
 * version 2, whose limits apply checks. */
#define BATCH_BYTES_MAX (256u << 10)
#define BATCH_COUNT_MAX ((unsigned)REPLICA_BATCH_MAX)
_Static_assert(REPLICA_BATCH_MAX <= REPLICA__ENTRY_BATCH_COUNT_MAX,
               "a batch must be an entry format version 2 accepts");

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- async work ------------------------------------------------------- */

/* Debian's libraft 0.15 has asynchronous snapshots (FSM version 3) but its
 * uv backend is raft_io version 1, without the async_work method they run
 * on, and raft_init refuses the combination.  This supplies the method on
 * libuv's thread pool.  While one is in flight replica_close waits for it:
 * libraft's completion callback must run before raft_close. */
struct async_work
{
    uv_work_t work;
    struct replica *replica;
    struct raft_io_async_work *req;
    int status;
};

static void async_work_run(uv_work_t *w)
{
    struct async_work *a = w->data;
    a->status = a->req->work(a->req);
}

static void async_work_done(uv_work_t *w, int status)
{
    struct async_work *a = w->data;
    struct replica *r = a->replica;
    struct raft_io_async_work *req = a->req;
    int rv = status == UV_ECANCELED ? RAFT_CANCELED : a->status;

    free(a);
    req->cb(req, rv);
    r->async_pending--;
    if (r->close_deferred && r->async_pending == 0) {
        r->close_deferred = false;
        raft_close(&r->raft, r->raft_closed_cb);
    }
}

static int io_async_work(struct raft_io *io,
                         struct raft_io_async_work *req,
                         raft_io_async_work_cb cb)
{
    /* io->data belongs to libraft: find the replica around its io. */
    struct replica *r =
        (struct replica *)((char *)io - offsetof(struct replica, io));
    struct async_work *a;
    int rv;

    a = malloc(sizeof *a);
    if (a == NULL) {
        return RAFT_NOMEM;
    }
    a->work.data = a;
    a->replica = r;
    a->req = req;
    a->status = 0;
    req->cb = cb;
    rv = uv_queue_work(r->loop, &a->work, async_work_run, async_work_done);
    if (rv != 0) {
        free(a);
        return RAFT_IOERR;
    }
    r->async_pending++;
    return 0;
}

/* ---- the FSM ---------------------------------------------------------- */

/* libraft counts its snapshot threshold in entries, but what a lagging
 * follower costs is bytes: in probe mode libraft 0.15 resends every entry
 * from the follower's next index to the end of the log once per heartbeat,
 * without a size bound, and a follower that needs seconds to take in one such
 * message receives several copies of it.  With batched entries of tens of
 * kilobytes, 16384 entries after a snapshot is hundreds of megabytes: a
 * follower that had just installed a snapshot fell further behind with every
 * copy.  So the threshold follows the mean entry size, keeping the log after
 * a snapshot near REPLICA_LOG_BYTES, and never above the configured count. */
static void log_bytes_track(struct replica *r, size_t len)
{
    unsigned threshold;

    if (r->max_threshold == 0) {
        return;
    }
    r->mean_entry = r->mean_entry == 0
                        ? (double)len
                        : r->mean_entry + ((double)len - r->mean_entry) / 64;
    threshold = (unsigned)((double)REPLICA_LOG_BYTES / r->mean_entry);
    if (threshold < REPLICA_THRESHOLD_MIN) {
        threshold = REPLICA_THRESHOLD_MIN;
    }
    if (threshold > r->max_threshold) {
        threshold = r->max_threshold;
    }
    /* Move only on a real change: a few percent is noise. */
    if (threshold * 8 < r->threshold * 7 || threshold * 7 > r->threshold * 8) {
        unsigned trailing = threshold / 4;
        if (trailing > r->max_trailing) {
            trailing = r->max_trailing;
        }
        r->threshold = threshold;
        raft_set_snapshot_threshold(&r->raft, threshold);
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
        LOG(LOG_ERROR, "apply failed: %s; stopping this node",
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
        LOG(LOG_ERROR, "snapshot: %s", augur_strerror(rv));
        return rv == AUGUR_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
    }
    r->snap_index = r->raft.last_applied;
    r->snap_started = uv_now(r->loop);
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
        LOG(LOG_ERROR, "snapshot at applied index %llu failed: %s: %s",
            (unsigned long long)r->snap_index, augur_strerror(r->snap_err),
            store_snapshot_errmsg(r->snap));
    } else if (*n_bufs > 0) {
        LOG(LOG_INFO,
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
    int rv = store_restore(r->store, buf->base, buf->len);
    if (rv != 0) {
        LOG(LOG_ERROR, "restore: snapshot refused: %s", augur_strerror(rv));
        return rv == AUGUR_ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
    }
    LOG(LOG_INFO, "restored snapshot (%zu bytes, rev %" PRIu64 ")", buf->len,
        store_revision(r->store));
    /* On success the FSM owns the buffer. */
    raft_free(buf->base);
    if (r->applied_cb != NULL) {
        r->applied_cb(r);
    }
    return 0;
}

static void tracer_emit(struct raft_tracer *t,
                        const char *file,
                        int line,
                        const char *message)
{
    (void)t;
    if (LOG_TRACE <= log_threshold) {
        log_emit(LOG_TRACE, file, line, "libraft: %s", message);
    }
}

/* ---- lifecycle -------------------------------------------------------- */

int replica_init(struct replica *r,
                 uv_loop_t *loop,
                 struct store *store,
                 const struct replica_config *cfg,
                 replica_applied_cb applied_cb)
{
    struct raft_configuration conf;
    bool self_listed = false;
    int rv;

    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->store = store;
    r->applied_cb = applied_cb;
    msgpack_sbuffer_init(&r->answer);

    r->fsm.version = 3;
    r->fsm.data = r;
    r->fsm.apply = fsm_apply;
    r->fsm.snapshot = fsm_snapshot;
    r->fsm.snapshot_finalize = fsm_snapshot_finalize;
    r->fsm.snapshot_async = fsm_snapshot_async;
    r->fsm.restore = fsm_restore;
    r->tracer.impl = r;
    r->tracer.enabled = LOG_TRACE <= log_threshold;
    r->tracer.emit = tracer_emit;

    /* Peers prove the cluster key to each other and seal everything:
     * see raft/transport.c. */
    rv = replica__transport_init(&r->transport, loop, cfg->key);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "peer transport: %s",
                 raft_strerror(rv));
        goto err;
    }
    rv = raft_uv_init(&r->io, loop, cfg->raft_dir, &r->transport);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_uv_init(%.100s): %.120s",
                 cfg->raft_dir, r->io.errmsg);
        goto err_after_transport_init;
    }
    raft_uv_set_tracer(&r->io, &r->tracer);
    if (r->io.version < 2 || r->io.async_work == NULL) {
        r->io.version = 2;
        r->io.async_work = io_async_work;
    }
    rv = raft_init(&r->raft, &r->io, &r->fsm, cfg->id, cfg->raft_address);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_init: %s",
                 raft_errmsg(&r->raft));
        goto err_after_io_init;
    }
    r->raft.data = r;
    r->raft.tracer = &r->tracer;

    if (cfg->n_bootstrap > 0) {
        raft_configuration_init(&conf);
        for (unsigned i = 0; i < cfg->n_bootstrap; i++) {
            const struct replica_peer *p = &cfg->bootstrap[i];
            if (p->id == cfg->id) {
                if (strcmp(p->address, cfg->raft_address) != 0) {
                    snprintf(r->errmsg, sizeof r->errmsg,
                             "bootstrap lists node %" PRIu64
                             " at %s but --raft-address is %s",
                             p->id, p->address, cfg->raft_address);
                    raft_configuration_close(&conf);
                    rv = RAFT_INVALID;
                    goto err_after_raft_init;
                }
                self_listed = true;
            }
            rv = raft_configuration_add(&conf, p->id, p->address, RAFT_VOTER);
            if (rv != 0) {
                snprintf(r->errmsg, sizeof r->errmsg,
                         "bootstrap node %" PRIu64 " (%s): %s", p->id,
                         p->address, raft_strerror(rv));
                raft_configuration_close(&conf);
                goto err_after_raft_init;
            }
        }
        if (!self_listed) {
            snprintf(r->errmsg, sizeof r->errmsg,
                     "bootstrap list does not include this node (id %" PRIu64
                     ")",
                     cfg->id);
            raft_configuration_close(&conf);
            rv = RAFT_INVALID;
            goto err_after_raft_init;
        }
        rv = raft_bootstrap(&r->raft, &conf);
        raft_configuration_close(&conf);
        if (rv == RAFT_CANTBOOTSTRAP) {
            LOG(LOG_INFO,
                "data dir already holds Raft state: not bootstrapping");
        } else if (rv != 0) {
            snprintf(r->errmsg, sizeof r->errmsg, "raft_bootstrap: %s",
                     raft_errmsg(&r->raft));
            goto err_after_raft_init;
        } else {
            LOG(LOG_INFO, "bootstrapped a %u-node cluster", cfg->n_bootstrap);
        }
    }
    if (cfg->election_timeout_ms > 0) {
        raft_set_election_timeout(&r->raft, cfg->election_timeout_ms);
    }
    if (cfg->heartbeat_timeout_ms > 0) {
        raft_set_heartbeat_timeout(&r->raft, cfg->heartbeat_timeout_ms);
    }
    if (cfg->snapshot_threshold > 0) {
        raft_set_snapshot_threshold(&r->raft, cfg->snapshot_threshold);
    }
    if (cfg->snapshot_trailing > 0) {
        raft_set_snapshot_trailing(&r->raft, cfg->snapshot_trailing);
    }
    r->max_threshold = r->threshold = r->raft.snapshot.threshold;
    r->max_trailing = r->raft.snapshot.trailing;
    raft_set_pre_vote(&r->raft, cfg->pre_vote);
    /* Promoting a new voter gives up when one catch-up round takes longer
     * than this (libraft's default, 5 s): the first round is the snapshot
     * install, which for a large state (73 MB at a million claims) takes
     * longer than that on its own. */
    raft_set_max_catch_up_round_duration(&r->raft, 120000);
    uv_prepare_init(loop, &r->batch_prepare);
    r->batch_prepare.data = r;
    replica__conf_init(r);
    return 0;

err_after_raft_init:
    /* raft_close is asynchronous; run the loop until it completes so that the
     * caller has nothing to close. */
    r->closing = true;
    raft_close(&r->raft, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
err_after_io_init:
    raft_uv_close(&r->io);
err_after_transport_init:
    replica__transport_free(&r->transport);
err:
    msgpack_sbuffer_destroy(&r->answer);
    return replica__err(rv) == 0 ? AUGUR_EIO : replica__err(rv);
}

int replica_start(struct replica *r)
{
    int rv = raft_start(&r->raft);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_start: %s",
                 raft_errmsg(&r->raft));
        return AUGUR_EIO;
    }
    replica__conf_start(r);
    return 0;
}

static void reads_fail(struct replica_read *head, int status)
{
    while (head != NULL) {
        struct replica_read *next = head->next;
        head->next = NULL;
        head->cb(head, status);
        head = next;
    }
}

/* The replica is closed once libraft and its two handles are. */
static void close_step(struct replica *r)
{
    if (--r->closes_pending > 0) {
        return;
    }
    msgpack_sbuffer_destroy(&r->answer);
    replica__conf_close(r);
    if (r->close_cb != NULL) {
        r->close_cb(r);
    }
}

static void raft_closed(struct raft *raft)
{
    struct replica *r = raft->data;
    raft_uv_close(&r->io);
    replica__transport_free(&r->transport);
    close_step(r);
}

static void handle_closed(uv_handle_t *h)
{
    close_step(h->data);
}

static void batch_fail(struct replica_batch *b, int status);

void replica_close(struct replica *r, replica_close_cb cb)
{
    struct replica_read *waiting = r->waiting_head;
    r->closing = true;
    r->close_cb = cb;
    r->waiting_head = r->waiting_tail = NULL;
    reads_fail(waiting, AUGUR_ESHUTDOWN);
    if (r->batch != NULL) {
        struct replica_batch *b = r->batch;
        r->batch = NULL;
        batch_fail(b, AUGUR_ESHUTDOWN);
    }
    r->closes_pending = 3;
    uv_close((uv_handle_t *)&r->batch_prepare, handle_closed);
    uv_close((uv_handle_t *)&r->conf_check, handle_closed);
    r->raft_closed_cb = raft_closed;
    if (r->async_pending > 0) {
        r->close_deferred = true; /* async_work_done closes */
        return;
    }
    raft_close(&r->raft, raft_closed);
}

/* ---- state ------------------------------------------------------------ */

bool replica_is_leader(struct replica *r)
{
    return !r->closing && raft_state(&r->raft) == RAFT_LEADER;
}

const char *replica_state_name(struct replica *r)
{
    switch (raft_state(&r->raft)) {
        case RAFT_LEADER:
            return "leader";
        case RAFT_FOLLOWER:
            return "follower";
        case RAFT_CANDIDATE:
            return "candidate";
        default:
            return "unavailable";
    }
}

uint64_t replica_leader_id(struct replica *r)
{
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&r->raft, &id, &address);
    return id;
}

int replica_role_parse(const char *name)
{
    if (strcmp(name, "voter") == 0) {
        return RAFT_VOTER;
    }
    if (strcmp(name, "standby") == 0) {
        return RAFT_STANDBY;
    }
    if (strcmp(name, "spare") == 0) {
        return RAFT_SPARE;
    }
    return -1;
}

const char *replica_role_name(int role)
{
    switch (role) {
        case RAFT_VOTER:
            return "voter";
        case RAFT_STANDBY:
            return "standby";
        case RAFT_SPARE:
            return "spare";
        default:
            return NULL;
    }
}

/* ---- writes ----------------------------------------------------------- */

/* Writes proposed during one loop turn go into one batch, proposed as one
 * log entry by the prepare handle just before the loop waits for I/O: one
 * append, one fsync and one replication message for all of them, and no
 * added latency for a lone write. */
struct replica_batch
{
    struct raft_apply apply;
    struct replica *replica;
    uint8_t *buf; /* header, count, then [len][command]... */
    size_t len, cap;
    unsigned n, n_cap;
    struct replica_write **reqs;
};

static void batch_free(struct replica_batch *b)
{
    free(b->buf);
    free(b->reqs);
    free(b);
}

static void batch_fail(struct replica_batch *b, int status)
{
    for (unsigned i = 0; i < b->n; i++) {
        b->reqs[i]->cb(b->reqs[i], status, NULL, 0);
    }
    batch_free(b);
}

static void batch_done(struct raft_apply *apply, int status, void *result)
{
    struct replica_batch *b = apply->data;
    struct replica *r = result;
    size_t start = 0;

    if (status != 0) {
        batch_fail(b, replica__err(status));
        return;
    }
    if (r->n_ends != b->n) {
        /* Cannot happen for an entry this node encoded; answer each write
         * with what the entry said as a whole rather than guess. */
        LOG(LOG_ERROR, "batch of %u writes got %u answers", b->n, r->n_ends);
        for (unsigned i = 0; i < b->n; i++) {
            b->reqs[i]->cb(b->reqs[i], 0, r->answer.data, r->ends[0]);
        }
        batch_free(b);
        return;
    }
    for (unsigned i = 0; i < b->n; i++) {
        b->reqs[i]->cb(b->reqs[i], 0, r->answer.data + start,
                       r->ends[i] - start);
        start = r->ends[i];
    }
    batch_free(b);
}

/* Propose the open batch, if any. */
static void batch_flush(struct replica *r)
{
    struct replica_batch *b = r->batch;
    struct raft_buffer buf;
    size_t total;
    int rv;

    if (b == NULL) {
        return;
    }
    r->batch = NULL;
    if (!replica_is_leader(r)) {
        batch_fail(b, r->closing ? AUGUR_ESHUTDOWN : AUGUR_ENOTLEADER);
        return;
    }
    total = (b->len + 7) & ~(size_t)7;
    buf.base = raft_malloc(total);
    if (buf.base == NULL) {
        batch_fail(b, AUGUR_ENOMEM);
        return;
    }
    be32_put(b->buf, (uint32_t)(b->len - REPLICA__ENTRY_HEADER));
    b->buf[4] = REPLICA__ENTRY_BATCH;
    be32_put(b->buf + REPLICA__ENTRY_HEADER, b->n);
    memcpy(buf.base, b->buf, b->len);
    memset((uint8_t *)buf.base + b->len, 0, total - b->len);
    buf.len = total;
    b->apply.data = b;
    rv = raft_apply(&r->raft, &b->apply, &buf, 1, batch_done);
    if (rv != 0) {
        raft_free(buf.base);
        LOG(LOG_DEBUG, "raft_apply: %s", raft_errmsg(&r->raft));
        rv = replica__err(rv);
        /* Nothing was appended: the writes are not indeterminate. */
        batch_fail(b, rv == AUGUR_EINDETERMINATE ? AUGUR_ENOTLEADER : rv);
    }
}

static void reads_flush(struct replica *r);

/* Once per loop turn with work queued, just before the loop polls: propose
 * the turn's writes as one entry, then one barrier for the reads waiting. */
static void batch_prepare_cb(uv_prepare_t *h)
{
    struct replica *r = h->data;
    uv_prepare_stop(h);
    batch_flush(r);
    reads_flush(r);
}

static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
    void **p = pp;
    size_t n = *cap > 0 ? *cap : 16;
    void *q;
    while (n < need) {
        n *= 2;
    }
    if (n == *cap) {
        return 0;
    }
    q = realloc(*p, n * size);
    if (q == NULL) {
        return AUGUR_ENOMEM;
    }
    *p = q;
    *cap = n;
    return 0;
}

int replica_write(struct replica *r,
                  struct replica_write *req,
                  const void *cmd,
                  size_t len,
                  replica_write_cb cb)
{
    struct replica_batch *b = r->batch;
    size_t n_cap;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    if (len > BATCH_BYTES_MAX) {
        return AUGUR_ETOOBIG;
    }
    if (b != NULL &&
        (b->len + 4 + len > BATCH_BYTES_MAX || b->n == BATCH_COUNT_MAX)) {
        batch_flush(r);
        b = NULL;
    }
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        if (b == NULL) {
            return AUGUR_ENOMEM;
        }
        b->replica = r;
        b->len = REPLICA__ENTRY_HEADER + 4;
    }
    n_cap = b->n_cap;
    if (grow(&b->buf, &b->cap, b->len + 4 + len, 1) != 0 ||
        grow(&b->reqs, &n_cap, b->n + 1, sizeof *b->reqs) != 0) {
        if (b != r->batch) {
            batch_free(b);
        }
        return AUGUR_ENOMEM;
    }
    b->n_cap = (unsigned)n_cap;
    be32_put(b->buf + b->len, (uint32_t)len);
    memcpy(b->buf + b->len + 4, cmd, len);
    b->len += 4 + len;
    req->cb = cb;
    b->reqs[b->n++] = req;
    if (r->batch == NULL) {
        r->batch = b;
        uv_prepare_start(&r->batch_prepare, batch_prepare_cb);
    }
    return 0;
}

/* ---- linearizable reads ---------------------------------------------- */

static void barrier_start(struct replica *r);

static void barrier_done(struct raft_barrier *barrier, int status)
{
    struct replica *r = barrier->data;
    struct replica_read *batch = r->inflight;
    struct replica_read *waiting = NULL;
    int rv = replica__err(status);

    r->inflight = NULL;
    r->barrier_busy = false;
    if (rv != 0) {
        /* Leadership was lost (or the node is closing): neither these reads
         * nor the ones waiting can be served here, and no new barrier may
         * be proposed from inside libraft's step-down, which fails pending
         * requests while its leader state is already gone (a barrier
         * proposed then read freed memory).  Clients retry at the new
         * leader. */
        if (rv == AUGUR_EINDETERMINATE) {
            rv = AUGUR_ENOTLEADER;
        }
        waiting = r->waiting_head;
        r->waiting_head = r->waiting_tail = NULL;
    }
    reads_fail(batch, rv);
    reads_fail(waiting, rv);
    /* Reads still waiting get the next barrier from the prepare handle, on
     * this loop turn, outside any libraft callback. */
    if (r->waiting_head != NULL && !r->closing) {
        uv_prepare_start(&r->batch_prepare, batch_prepare_cb);
    }
}

static void barrier_start(struct replica *r)
{
    int rv;

    r->inflight = r->waiting_head;
    r->waiting_head = r->waiting_tail = NULL;
    r->barrier.data = r;
    r->barrier_busy = true;
    rv = raft_barrier(&r->raft, &r->barrier, barrier_done);
    if (rv != 0) {
        struct replica_read *batch = r->inflight;
        r->inflight = NULL;
        r->barrier_busy = false;
        rv = replica__err(rv);
        reads_fail(batch, rv == AUGUR_EINDETERMINATE ? AUGUR_ENOTLEADER : rv);
    }
}

/* From the prepare handle: propose a barrier for the reads waiting, or
 * refuse them when this node is no longer the leader. */
static void reads_flush(struct replica *r)
{
    if (r->waiting_head == NULL || r->barrier_busy || r->closing) {
        return;
    }
    if (!replica_is_leader(r)) {
        struct replica_read *waiting = r->waiting_head;
        r->waiting_head = r->waiting_tail = NULL;
        reads_fail(waiting, AUGUR_ENOTLEADER);
        return;
    }
    barrier_start(r);
}

int replica_read(struct replica *r,
                 struct replica_read *req,
                 replica_read_cb cb)
{
    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    req->cb = cb;
    req->next = NULL;
    if (r->waiting_tail != NULL) {
        r->waiting_tail->next = req;
    } else {
        r->waiting_head = req;
    }
    r->waiting_tail = req;
    /* Reads that arrive while a barrier is in flight wait for the next one:
     * the one in flight was proposed before they arrived, so its commit
     * does not prove that no newer leader existed when they did.  The
     * barrier is proposed by the prepare handle, after this loop turn's
     * writes and never from inside a libraft callback. */
    if (!r->barrier_busy) {
        uv_prepare_start(&r->batch_prepare, batch_prepare_cb);
    }
    return 0;
}

/* ---- membership ------------------------------------------------------- */

static void change_done(struct raft_change *change, int status)
{
    struct replica_change *req = change->data;
    struct replica *r = req->replica;
    int rv;

    if (status == 0 && req->step == 0 && req->role != RAFT_SPARE) {
        req->step = 1;
        rv = raft_assign(&r->raft, &req->change, req->id, req->role,
                         change_done);
        if (rv == 0) {
            return;
        }
        LOG(LOG_WARN, "raft_assign(%" PRIu64 "): %s", req->id,
            raft_errmsg(&r->raft));
        status = rv;
    }
    req->cb(req, replica__err(status));
}

int replica_member_add(struct replica *r,
                       struct replica_change *req,
                       uint64_t id,
                       const char *address,
                       int role,
                       replica_change_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    if (id == 0 || replica_role_name(role) == NULL) {
        return AUGUR_EINVAL;
    }
    req->replica = r;
    req->id = id;
    req->role = role;
    req->step = 0;
    req->cb = cb;
    req->change.data = req;
    rv = raft_add(&r->raft, &req->change, id, address, change_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_add: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}

int replica_member_remove(struct replica *r,
                          struct replica_change *req,
                          uint64_t id,
                          replica_change_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    req->replica = r;
    req->id = id;
    req->role = RAFT_SPARE;
    req->step = 1;
    req->cb = cb;
    req->change.data = req;
    rv = raft_remove(&r->raft, &req->change, id, change_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_remove: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}

int replica_member_assign(struct replica *r,
                          struct replica_change *req,
                          uint64_t id,
                          int role,
                          replica_change_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    if (replica_role_name(role) == NULL) {
        return AUGUR_EINVAL;
    }
    req->replica = r;
    req->id = id;
    req->role = role;
    req->step = 1;
    req->cb = cb;
    req->change.data = req;
    rv = raft_assign(&r->raft, &req->change, id, role, change_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_assign: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}

/* How far behind the leader's last entry a voter may be and still count as
 * caught up: a few batches in flight, not a snapshot to install. */
#define CAUGHT_UP_SLACK 128

void replica_voters_caught_up(struct replica *r,
                              uint64_t without,
                              unsigned *voters,
                              unsigned *caught_up)
{
    const struct raft_configuration *c = &r->raft.configuration;
    raft_index last = raft_last_index(&r->raft);

    *voters = 0;
    *caught_up = 0;
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        if (srv->role != RAFT_VOTER || srv->id == without) {
            continue;
        }
        (*voters)++;
        if (srv->id == r->raft.id) {
            (*caught_up)++;
        } else if (replica_is_leader(r) &&
                   r->raft.leader_state.progress[i].match_index +
                           CAUGHT_UP_SLACK >=
                       last) {
            (*caught_up)++;
        }
    }
}

bool replica_member_changing(struct replica *r)
{
    return r->raft.configuration_uncommitted_index != 0 ||
           (raft_state(&r->raft) == RAFT_LEADER &&
            (r->raft.leader_state.change != NULL ||
             r->raft.leader_state.promotee_id != 0));
}

/* ---- leadership transfer (Raft dissertation §3.10) -------------------- */

static void transfer_done(struct raft_transfer *transfer)
{
    struct replica_transfer *req = transfer->data;
    req->cb(req, replica_leader_id(req->replica));
}

int replica_leader_transfer(struct replica *r,
                            struct replica_transfer *req,
                            uint64_t id,
                            replica_transfer_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    req->replica = r;
    req->cb = cb;
    req->transfer.data = req;
    rv = raft_transfer(&r->raft, &req->transfer, id, transfer_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_transfer: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}
