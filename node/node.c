/* One node: start-up (data dir, lock, store, Raft, client port, signals,
 * the tick) and clean shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "node/node.h"

#define TICK_MS 50

static int make_dir(const char *path, char *errmsg)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        snprintf(errmsg, NODE_ERRMSG_SIZE, "mkdir %.300s: %s", path,
                 strerror(errno));
        return AUGUR_EIO;
    }
    return 0;
}

/* Hold an exclusive lock on DIR/LOCK for the life of the process: two
 * augurd on one data dir would corrupt the Raft log. */
static int lock_data_dir(struct node *n)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/LOCK", n->config.data_dir);
    n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (n->lock_fd < 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "open %.300s: %s", path,
                 strerror(errno));
        return AUGUR_EIO;
    }
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(n->errmsg, sizeof n->errmsg,
                 "data dir %.300s is in use by another augurd (%s)",
                 n->config.data_dir, strerror(errno));
        close(n->lock_fd);
        n->lock_fd = -1;
        return AUGUR_EIO;
    }
    return 0;
}

/* How many client connections this node can hold: the descriptor limit
 * (raised to the hard limit) less the reserve for peers, Raft's and LMDB's
 * files and the log, less what the Raft port's unauthenticated connections
 * may take.  Beyond it the client port accepts and closes at once, so a
 * flood of connections cannot take the descriptors Raft needs. */
static unsigned node_client_budget(const struct node_config *cfg)
{
    struct rlimit rl;
    rlim_t keep = (rlim_t)cfg->fd_reserve + cfg->peer_unauth_max;
    unsigned budget;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 0; /* unknown: no budget beyond the other caps */
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {.rlim_cur = rl.rlim_max,
                                .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur - keep > (1u << 20)) {
        budget = 1u << 20;
    } else if (rl.rlim_cur > keep + 16) {
        budget = (unsigned)(rl.rlim_cur - keep);
    } else {
        budget = 16;
        LOG(LOG_LEVEL_WARN,
            "descriptor limit %llu leaves almost nothing for clients after "
            "the reserve (%u) and the Raft port (%u): raise it (ulimit -n)",
            (unsigned long long)rl.rlim_cur, cfg->fd_reserve,
            cfg->peer_unauth_max);
    }
    LOG(LOG_LEVEL_INFO,
        "descriptor limit %llu: at most %u client connections, %u kept in "
        "reserve",
        (unsigned long long)rl.rlim_cur, budget, (unsigned)keep);
    return budget;
}

static void on_tick(uv_timer_t *t)
{
    node__tick(t->data);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct node *n = sig->data;
    LOG(LOG_LEVEL_INFO, "received %s: shutting down", strsignal(signum));
    node_stop(n);
}

int node_start(struct node *n, const struct node_config *cfg)
{
    char raft_dir[PATH_MAX + 8];
    char state_dir[PATH_MAX + 8];
    char store_err[STORE_ERRMSG_SIZE];
    struct replica_config rc;
    struct api_server_config sc;
    int rv;

    memset(n, 0, sizeof *n);
    n->config = *cfg;
    n->lock_fd = -1;
    msgpack_sbuffer_init(&n->scratch);
    uv_loop_init(&n->loop);

    {
        char err[SECURE_ERRMSG_SIZE];
        uint8_t admin[SECURE_PK_SIZE];
        rv = secure_init();
        if (rv == 0) {
            rv = secure_key_load_secret(cfg->cluster_key, &n->cluster_key, err);
        }
        if (rv != 0) {
            snprintf(n->errmsg, sizeof n->errmsg, "cluster key: %s",
                     rv == AUGUR_EINTERNAL ? "libsodium failed to start" : err);
            goto err;
        }
        if (cfg->admin_key[0] != '\0') {
            rv = secure_key_load_public(cfg->admin_key, admin, err);
            if (rv != 0) {
                snprintf(n->errmsg, sizeof n->errmsg, "admin key: %s", err);
                goto err;
            }
            secure_key_hex(admin, n->admin_key_hex);
        }
    }
    memset(&rc, 0, sizeof rc);
    if (cfg->bootstrap[0] != '\0') {
        char err[REPLICA_ERRMSG_SIZE];
        rv = replica_bootstrap_parse(&rc, cfg->bootstrap, err);
        if (rv != 0) {
            snprintf(n->errmsg, sizeof n->errmsg, "%s", err);
            goto err;
        }
    }
    snprintf(raft_dir, sizeof raft_dir, "%s/raft", cfg->data_dir);
    snprintf(state_dir, sizeof state_dir, "%s/state", cfg->data_dir);
    if ((rv = make_dir(cfg->data_dir, n->errmsg)) != 0 ||
        (rv = make_dir(raft_dir, n->errmsg)) != 0 ||
        (rv = make_dir(state_dir, n->errmsg)) != 0) {
        goto err;
    }
    rv = lock_data_dir(n);
    if (rv != 0) {
        goto err;
    }
    /* The state is rebuilt from the last snapshot and the log at every
     * start, so the LMDB file from the last run is discarded. */
    rv = store_open(state_dir, STORE_OPEN_RESET, &n->store, store_err);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "store: %s", store_err);
        goto err_after_lock;
    }

    rc.id = cfg->id;
    rc.raft_dir = raft_dir;
    rc.raft_address = cfg->raft_address;
    rc.election_timeout_ms = cfg->election_timeout_ms;
    rc.heartbeat_timeout_ms = cfg->heartbeat_timeout_ms;
    rc.snapshot_threshold = cfg->snapshot_threshold;
    rc.snapshot_trailing = cfg->snapshot_trailing;
    rc.pre_vote = cfg->pre_vote;
    rc.key = &n->cluster_key;
    rc.peer_unauth_max = cfg->peer_unauth_max;
    rc.peer_unauth_per_source = cfg->peer_unauth_per_source;
    rc.peer_buffer_max = cfg->peer_buffer_max;
    rv = replica_init(&n->replica, &n->loop, n->store, &rc, node__on_applied);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "raft: %s", n->replica.errmsg);
        goto err_after_store_open;
    }
    n->replica.data = n;
    node__membership_init(n);
    rv = replica_start(&n->replica);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "raft: %s", n->replica.errmsg);
        goto err_after_replica_init;
    }

    memset(&sc, 0, sizeof sc);
    sc.address = cfg->client_address;
    sc.node_id = cfg->id;
    sc.identity = &n->cluster_key;
    sc.auth_cb = node__auth;
    sc.max_conns = node_client_budget(cfg);
    sc.max_unauth = cfg->client_unauth_max;
    if (sc.max_unauth > sc.max_conns / 2) {
        /* Half the budget at least stays for clients that proved a key. */
        sc.max_unauth = sc.max_conns / 2 > 0 ? sc.max_conns / 2 : 1;
    }
    sc.max_unauth_per_source = cfg->client_unauth_per_source;
    sc.pending_high = cfg->conn_pending_high;
    sc.max_calls = cfg->conn_calls_max;
    rv = api_server_start(&n->server, &n->loop, &sc, node__on_request);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "clients: %s", n->server.errmsg);
        goto err_after_replica_init;
    }
    n->server.data = n;

    uv_timer_init(&n->loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(&n->loop, &n->sigterm);
    uv_signal_init(&n->loop, &n->sigint);
    n->sigterm.data = n;
    n->sigint.data = n;
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    uv_signal_start(&n->sigint, on_signal, SIGINT);

    LOG(LOG_LEVEL_INFO,
        "node %" PRIu64
        " serving clients on %s, peers on %s, data in %s "
        "(applied %llu, rev %" PRIu64 ")",
        cfg->id, cfg->client_address, cfg->raft_address, cfg->data_dir,
        (unsigned long long)n->replica.raft.last_applied,
        store_revision(n->store));
    return 0;

err_after_replica_init:
    replica_close(&n->replica, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
err_after_store_open:
    store_close(n->store);
    n->store = NULL;
err_after_lock:
    close(n->lock_fd);
    n->lock_fd = -1;
err:
    secure_key_wipe(&n->cluster_key);
    uv_loop_close(&n->loop);
    msgpack_sbuffer_destroy(&n->scratch);
    return rv != 0 ? rv : AUGUR_EINTERNAL;
}

static void replica_closed(struct replica *r)
{
    struct node *n = r->data;
    store_close(n->store);
    n->store = NULL;
    secure_key_wipe(&n->cluster_key);
    LOG(LOG_LEVEL_INFO, "node %" PRIu64 " stopped", n->config.id);
}

static void server_closed(struct api_server *s)
{
    struct node *n = s->data;
    replica_close(&n->replica, replica_closed);
}

void node_stop(struct node *n)
{
    if (n->stopping) {
        return;
    }
    n->stopping = true;
    uv_timer_stop(&n->tick);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    node__fail_waiters(n);
    /* Clients first, so nothing new arrives; then Raft, which fails what
     * is still pending; the store last. */
    api_server_close(&n->server, server_closed);
}
