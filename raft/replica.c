/* libraft glue: setup, start and close of the replica, its state, and the
 * pieces libraft 0.15 lacks (an async_work method for its uv backend).  The
 * FSM is in fsm.c, writes in write.c, reads in barrier.c, membership and
 * leadership in membership.c (one concept per file, as libraft's src/). */
#include "raft/replica.h"
#include "raft/replica_int.h"
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
int replica__err(int rv)
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

/* ---- life ------------------------------------------------------------- */

/* life_moves[from][to]: the transitions allowed (dqlite's sm.h).  A failed
 * replica_init closes libraft itself and never leaves INIT for the caller. */
static const unsigned char life_moves[REPLICA_LIFE_COUNT][REPLICA_LIFE_COUNT] =
    {
        [REPLICA_INIT] = {[REPLICA_STARTED] = 1,
                          [REPLICA_DRAINING] = 1,
                          [REPLICA_CLOSING] = 1},
        [REPLICA_STARTED] = {[REPLICA_DRAINING] = 1, [REPLICA_CLOSING] = 1},
        [REPLICA_DRAINING] = {[REPLICA_CLOSING] = 1},
        [REPLICA_CLOSING] = {[REPLICA_CLOSED] = 1},
};

static void life_move(struct replica *r, enum replica_life to)
{
    static const char *const names[REPLICA_LIFE_COUNT] = {
        [REPLICA_INIT] = "init",         [REPLICA_STARTED] = "started",
        [REPLICA_DRAINING] = "draining", [REPLICA_CLOSING] = "closing",
        [REPLICA_CLOSED] = "closed",
    };
    if (!life_moves[r->life][to]) {
        LOG(LOG_LEVEL_ERROR, "bug: replica moved %s -> %s", names[r->life],
            names[to]);
        abort();
    }
    r->life = to;
}

bool replica_closing(const struct replica *r)
{
    return r->life >= REPLICA_DRAINING;
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
    /* The only async work libraft 0.15 asks for is a snapshot's copy: it
     * is made, so the state need not stay pinned while libraft writes it
     * (store_snapshot_release). */
    store_snapshot_release(r->snap);
    req->cb(req, rv);
    r->async_pending--;
    if (r->life == REPLICA_DRAINING && r->async_pending == 0) {
        life_move(r, REPLICA_CLOSING);
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

static void tracer_emit(struct raft_tracer *t,
                        const char *file,
                        int line,
                        const char *message)
{
    (void)t;
    if (LOG_LEVEL_TRACE <= log_threshold) {
        log_emit(LOG_LEVEL_TRACE, file, line, "libraft: %s", message);
    }
}

/* ---- lifecycle -------------------------------------------------------- */

/* The transport's question at every peer handshake: was this node key
 * revoked (node.revoke, as applied here)? */
static bool key_revoked(void *data, const uint8_t pk[SECURE_PK_SIZE])
{
    struct replica *r = data;
    char hex[SECURE_HEX_SIZE];

    secure_key_hex(pk, hex);
    return store_node_key_revoked(r->store, hex) != 0;
}

unsigned replica_peers_drop_revoked(struct replica *r)
{
    return replica__transport_drop_revoked(&r->transport);
}

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

    replica__fsm_init(r);
    r->tracer.impl = r;
    r->tracer.enabled = LOG_LEVEL_TRACE <= log_threshold;
    r->tracer.emit = tracer_emit;

    /* Peers prove their certified node keys to each other and seal
     * everything: see raft/transport.c. */
    rv = replica__transport_init(
        &r->transport, loop, cfg->identity, cfg->cluster_pk, key_revoked, r,
        cfg->peer_unauth_max, cfg->peer_unauth_per_source,
        cfg->peer_buffer_max);
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
    replica__append_bound_install(r, &r->io, REPLICA_APPEND_BYTES_MAX);

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
            LOG(LOG_LEVEL_INFO,
                "data dir already holds Raft state: not bootstrapping");
        } else if (rv != 0) {
            snprintf(r->errmsg, sizeof r->errmsg, "raft_bootstrap: %s",
                     raft_errmsg(&r->raft));
            goto err_after_raft_init;
        } else {
            LOG(LOG_LEVEL_INFO, "bootstrapped a %u-node cluster",
                cfg->n_bootstrap);
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
    r->max_trailing = r->trailing = r->raft.snapshot.trailing;
    raft_set_pre_vote(&r->raft, cfg->pre_vote);
    r->election_timeout_ms = r->raft.election_timeout;
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
    r->life = REPLICA_CLOSING;
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
    life_move(r, REPLICA_STARTED);
    replica__conf_start(r);
    return 0;
}

/* The replica is closed once libraft and its two handles are. */
static void close_step(struct replica *r)
{
    if (--r->closes_pending > 0) {
        return;
    }
    msgpack_sbuffer_destroy(&r->answer);
    replica__conf_close(r);
    life_move(r, REPLICA_CLOSED);
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

void replica_close(struct replica *r, replica_close_cb cb)
{
    struct replica_read *waiting = r->waiting_head;
    life_move(r, r->async_pending > 0 ? REPLICA_DRAINING : REPLICA_CLOSING);
    r->close_cb = cb;
    r->waiting_head = r->waiting_tail = NULL;
    replica__reads_fail(waiting, AUGUR_ESHUTDOWN);
    replica__batch_fail_open(r, AUGUR_ESHUTDOWN);
    r->closes_pending = 3;
    uv_close((uv_handle_t *)&r->batch_prepare, handle_closed);
    uv_close((uv_handle_t *)&r->conf_check, handle_closed);
    r->raft_closed_cb = raft_closed;
    if (r->life == REPLICA_DRAINING) {
        return; /* async_work_done closes */
    }
    raft_close(&r->raft, raft_closed);
}

/* ---- state ------------------------------------------------------------ */

bool replica_is_leader(struct replica *r)
{
    return !replica_closing(r) && raft_state(&r->raft) == RAFT_LEADER;
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

/* ---- failover timing -------------------------------------------------- */

/* A follower's election timeout once its leader is known to be gone.
 * libraft checks the timer once per heartbeat (50 ms by default) and
 * randomizes it in [T, 2T]: 100 ms spreads the followers' candidacies over
 * two or three ticks, so that one usually asks for votes before another
 * does (a split vote costs one more round). */
#define REPLICA_FAST_ELECTION_MS 100

/* libraft 0.15 draws a follower's random timeout in [T, 2T] only when its
 * timer restarts (a heartbeat), not when T changes: draw it again from the
 * current T, still counted from the leader's last heartbeat.  The
 * nanosecond clock's low digits differ from node to node. */
static void follower_timer_redraw(struct replica *r)
{
    unsigned t = r->raft.election_timeout;

    if (raft_state(&r->raft) == RAFT_FOLLOWER && t > 0) {
        r->raft.follower_state.randomized_election_timeout =
            t + (unsigned)((uv_hrtime() / 1000) % t);
    }
}

void replica_leader_gone(struct replica *r, uint64_t leader_id)
{
    if (replica_closing(r) || leader_id == 0 || r->fast_election_leader != 0 ||
        r->election_timeout_ms <= REPLICA_FAST_ELECTION_MS ||
        raft_state(&r->raft) != RAFT_FOLLOWER ||
        replica_leader_id(r) != leader_id) {
        return;
    }
    LOG(LOG_LEVEL_INFO,
        "the leader (node %" PRIu64
        ") hung up: election timeout %u ms until another leader is known",
        leader_id, REPLICA_FAST_ELECTION_MS);
    r->fast_election_leader = leader_id;
    r->fast_election_since = uv_now(r->loop);
    raft_set_election_timeout(&r->raft, REPLICA_FAST_ELECTION_MS);
    follower_timer_redraw(r);
}

void replica_timing_check(struct replica *r)
{
    uint64_t leader;

    if (r->fast_election_leader == 0) {
        return;
    }
    leader = replica_leader_id(r);
    if (!replica_closing(r) &&
        (leader == 0 || leader == r->fast_election_leader) &&
        uv_now(r->loop) - r->fast_election_since <
            2 * (uint64_t)r->election_timeout_ms) {
        return;
    }
    LOG(LOG_LEVEL_INFO,
        "election timeout back to %u ms (leader: node %" PRIu64 ")",
        r->election_timeout_ms, leader);
    r->fast_election_leader = 0;
    raft_set_election_timeout(&r->raft, r->election_timeout_ms);
    follower_timer_redraw(r);
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
