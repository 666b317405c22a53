/* Configuration rollback done right on top of Debian's libraft 0.15, which
 * predates the upstream fix (canonical/raft #250, fixed by #354):
 *
 *  1. At start, libraft loads the last configuration entry of the log as if
 *     it were committed (src/start.c).  If it was not, and a new leader
 *     truncates it, no rollback happens: the node keeps a configuration that
 *     the cluster never agreed on, and once it leads it stops replicating to
 *     a member that configuration lacks, and its next membership change makes
 *     the loss permanent (issue 10).  Fixed here by replica__conf_start: the
 *     loaded configuration is marked uncommitted, with the one before it as
 *     the committed one, exactly what upstream does since #354.
 *
 *  2. membershipRollback fetches the committed configuration from the log;
 *     when a snapshot has compacted that entry away it dereferences NULL
 *     (assertions are compiled out in Debian's build): the follower dies with
 *     SIGSEGV.  Fixed by wrapping it at link time (ld --wrap, see
 *     raft/CMakeLists.txt): when the entry is gone, the copy of the committed
 *     configuration this file keeps is used instead.
 *
 *  3. A snapshot stores the current configuration, committed or not, as of
 *     the committed index.  fsm_snapshot (replica.c) declines to take one
 *     while a configuration change is uncommitted (replica__conf_settled).
 *
 * The copy of the committed configuration follows r->configuration_index on
 * every loop iteration (a uv_check handle): from the log entry while it is
 * there, from r->configuration when nothing is uncommitted, and at start
 * from the snapshot that libraft loaded (the io->load method is wrapped to see
 * it). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "raft/replica.h"
#include "raft/rollback.h"

/* ---- libraft's log and configuration encoding --------------------------- */

/* The entry at @index of libraft's in-memory log, or NULL: the circular
 * buffer of struct raft_log (raft.h), as src/log.c reads it. */
const struct raft_entry *replica__log_entry(const struct raft_log *l,
                                            raft_index index)
{
    size_t n;

    if (l->size == 0) {
        return NULL;
    }
    n = l->back >= l->front ? l->back - l->front : l->size - l->front + l->back;
    if (n == 0 || index <= l->offset || index > l->offset + n) {
        return NULL;
    }
    return &l->entries[(l->front + (index - l->offset - 1)) % l->size];
}

static uint64_t le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* libraft's configuration encoding (raft_configuration_encode): a version
 * byte (1), the server count (64-bit little-endian), then per server its id
 * (64-bit little-endian), its address (NUL-terminated) and its role (one
 * byte); zero padding to a multiple of 8.  libraft 0.15 exports no decoder. */
int replica__conf_decode(const struct raft_buffer *buf,
                         struct raft_configuration *conf)
{
    const uint8_t *p = buf->base;
    size_t len = buf->len, off = 9;
    uint64_t n;
    int rv;

    raft_configuration_init(conf);
    if (len < 9 || p[0] != 1) {
        return RAFT_MALFORMED;
    }
    n = le64_get(p + 1);
    if (n > len) {
        return RAFT_MALFORMED;
    }
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *nul;
        uint64_t id;
        int role;

        if (len - off < 8) {
            goto malformed;
        }
        id = le64_get(p + off);
        off += 8;
        nul = memchr(p + off, '\0', len - off);
        if (nul == NULL || (size_t)(nul - p) + 1 >= len) {
            goto malformed;
        }
        role = nul[1];
        rv = raft_configuration_add(conf, id, (const char *)(p + off), role);
        if (rv != 0) {
            raft_configuration_close(conf);
            return rv;
        }
        off = (size_t)(nul - p) + 2;
    }
    return 0;

malformed:
    raft_configuration_close(conf);
    raft_configuration_init(conf);
    return RAFT_MALFORMED;
}

static int conf_copy(const struct raft_configuration *src,
                     struct raft_configuration *dst)
{
    int rv;

    raft_configuration_init(dst);
    for (unsigned i = 0; i < src->n; i++) {
        const struct raft_server *s = &src->servers[i];
        rv = raft_configuration_add(dst, s->id, s->address, s->role);
        if (rv != 0) {
            raft_configuration_close(dst);
            raft_configuration_init(dst);
            return rv;
        }
    }
    return 0;
}

/* Replace the replica's copy of the committed configuration. */
static void committed_set(struct replica *r,
                          struct raft_configuration *conf,
                          raft_index index)
{
    raft_configuration_close(&r->committed);
    r->committed = *conf;
    r->committed_index = index;
}

/* ---- the copy of the committed configuration ---------------------------- */

void replica__conf_track(struct replica *r)
{
    struct raft *raft = &r->raft;
    struct raft_configuration conf;
    const struct raft_entry *e;
    raft_index index = raft->configuration_index;

    if (index == 0 || index == r->committed_index) {
        return;
    }
    if (raft->configuration_uncommitted_index == 0) {
        /* raft.h: the current configuration is the one at index. */
        if (conf_copy(&raft->configuration, &conf) == 0) {
            committed_set(r, &conf, index);
        }
        return;
    }
    e = replica__log_entry(&raft->log, index);
    if (e != NULL && e->type == RAFT_CHANGE &&
        replica__conf_decode(&e->buf, &conf) == 0) {
        committed_set(r, &conf, index);
        return;
    }
    if (r->committed_missing != index) {
        r->committed_missing = index;
        LOG(LOG_LEVEL_WARN,
            "membership: the committed configuration (index %llu) is "
            "neither current nor in the log; a rollback now would keep the "
            "uncommitted one",
            (unsigned long long)index);
    }
}

static void conf_check_cb(uv_check_t *h)
{
    replica__conf_track(h->data);
}

/* ---- load: see the snapshot libraft starts from ------------------------- */

static int io_load(struct raft_io *io,
                   raft_term *term,
                   raft_id *voted_for,
                   struct raft_snapshot **snapshot,
                   raft_index *start_index,
                   struct raft_entry *entries[],
                   size_t *n_entries)
{
    struct replica *r =
        (struct replica *)((char *)io - offsetof(struct replica, io));
    struct raft_configuration conf;
    int rv;

    rv = r->io_load(io, term, voted_for, snapshot, start_index, entries,
                    n_entries);
    if (rv == 0 && *snapshot != NULL &&
        conf_copy(&(*snapshot)->configuration, &conf) == 0) {
        committed_set(r, &conf, (*snapshot)->configuration_index);
    }
    return rv;
}

void replica__conf_init(struct replica *r)
{
    raft_configuration_init(&r->committed);
    r->committed_index = 0;
    r->committed_missing = 0;
    r->io_load = r->io.load;
    r->io.load = io_load;
    uv_check_init(r->loop, &r->conf_check);
    r->conf_check.data = r;
}

void replica__conf_close(struct replica *r)
{
    raft_configuration_close(&r->committed);
    raft_configuration_init(&r->committed);
}

/* ---- start: the loaded configuration may not be committed --------------- */

void replica__conf_start(struct replica *r)
{
    struct raft *raft = &r->raft;
    raft_index last = raft->configuration_index;
    raft_index prev = 0;
    struct raft_configuration conf;

    uv_check_start(&r->conf_check, conf_check_cb);
    /* Only a configuration libraft took from the log past what is known to
     * be committed is in doubt; index 1 is the bootstrap configuration,
     * committed by definition.  A node that elected itself during
     * raft_start (a single voter) has nothing to roll back. */
    if (last <= 1 || last <= raft->commit_index ||
        raft->configuration_uncommitted_index != 0 ||
        raft_state(raft) != RAFT_FOLLOWER) {
        replica__conf_track(r);
        return;
    }
    for (raft_index i = last - 1; i > raft->log.offset && prev == 0; i--) {
        const struct raft_entry *e = replica__log_entry(&raft->log, i);
        if (e != NULL && e->type == RAFT_CHANGE) {
            prev = i;
        }
    }
    if (prev != 0) {
        const struct raft_entry *e = replica__log_entry(&raft->log, prev);
        if (replica__conf_decode(&e->buf, &conf) != 0) {
            LOG(LOG_LEVEL_ERROR,
                "membership: the configuration entry at index %llu does not "
                "decode; keeping libraft's view",
                (unsigned long long)prev);
            return;
        }
        committed_set(r, &conf, prev);
    } else if (r->committed_index == 0) {
        /* No earlier configuration in the log and no snapshot: the one
         * loaded is the only one ever seen. */
        return;
    } else {
        prev = r->committed_index; /* the snapshot's, from io_load */
    }
    raft->configuration_index = prev;
    raft->configuration_uncommitted_index = last;
    LOG(LOG_LEVEL_INFO,
        "membership: the configuration at index %llu (last in the log) may "
        "not be committed; it counts as uncommitted until it is, with the "
        "one at index %llu as the last committed",
        (unsigned long long)last, (unsigned long long)prev);
}

bool replica__conf_settled(const struct replica *r)
{
    return r->raft.configuration_uncommitted_index == 0;
}

/* ---- the wrapped rollback ------------------------------------------------ */

/* The real libraft function, reached through the linker's --wrap. */
int __real_membershipRollback(struct raft *r);
int __wrap_membershipRollback(struct raft *r);

int __wrap_membershipRollback(struct raft *r)
{
    struct replica *rep = r->data;
    const struct raft_entry *e;
    struct raft_configuration conf;
    raft_index uncommitted = r->configuration_uncommitted_index;

    e = replica__log_entry(&r->log, r->configuration_index);
    if (e != NULL && e->type == RAFT_CHANGE) {
        int rv = __real_membershipRollback(r);
        if (rv == 0) {
            LOG(LOG_LEVEL_INFO,
                "membership: rolled back the uncommitted configuration at "
                "index %llu to the one at %llu",
                (unsigned long long)uncommitted,
                (unsigned long long)r->configuration_index);
        }
        return rv;
    }
    if (rep != NULL && rep->committed_index == r->configuration_index &&
        rep->committed.n > 0 && conf_copy(&rep->committed, &conf) == 0) {
        raft_configuration_close(&r->configuration);
        r->configuration = conf;
        r->configuration_uncommitted_index = 0;
        LOG(LOG_LEVEL_WARN,
            "membership: rolled back the uncommitted configuration at index "
            "%llu to the committed one at %llu, which the log no longer "
            "holds (libraft 0.15 would have crashed here)",
            (unsigned long long)uncommitted,
            (unsigned long long)r->configuration_index);
        return 0;
    }
    /* Nothing to roll back to: keeping the configuration is what 0.15 does
     * when it does not crash, and the leader's reconciler (node/) repairs
     * what the cluster's record says the membership should be. */
    LOG(LOG_LEVEL_ERROR,
        "membership: cannot roll back the uncommitted configuration at index "
        "%llu: the committed one (index %llu) is unknown; keeping it",
        (unsigned long long)uncommitted,
        (unsigned long long)r->configuration_index);
    r->configuration_uncommitted_index = 0;
    return 0;
}
