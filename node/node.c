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
#include <time.h>
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

/* A certificate this close to its end is worth a warning at start. */
#define CERT_WARN_S (7 * 86400)

/* Load this node's identity and the cluster's public key (n->identity,
 * n->cluster_pk) and check that they fit: the certificate is the cluster's,
 * unexpired, for this node's id and key.  With no node key (the older
 * set-up) the cluster's private key serves as the node key, and the node
 * certifies itself.  0 or an error with one line in @errmsg
 * (NODE_ERRMSG_SIZE bytes). */
static int identity_load(struct node *n, char *errmsg)
{
    const struct node_config *cfg = &n->config;
    char err[SECURE_ERRMSG_SIZE];
    struct secure_key cluster;
    uint64_t now = (uint64_t)time(NULL);
    int rv;

    memset(&cluster, 0, sizeof cluster);
    if (cfg->node_key[0] == '\0') {
        rv = secure_key_load_secret(cfg->cluster_key, &cluster, err);
        if (rv != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "cluster key: %.200s", err);
            return rv;
        }
        memcpy(n->cluster_pk, cluster.pk, SECURE_PK_SIZE);
        n->identity.key = cluster;
        rv = secure_cert_sign(&n->identity.cert, &cluster, cfg->id, cluster.pk,
                              0);
        secure_key_wipe(&cluster);
        if (rv != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "cluster key: cannot sign");
            return rv;
        }
        LOG(LOG_LEVEL_WARN,
            "no --node-key: this node proves the cluster's private key "
            "itself; whoever steals its key file can impersonate every "
            "node.  Give each node its own key (augur keygen, augur node "
            "certify, --node-key, --node-cert) and keep the cluster key "
            "offline");
    } else {
        /* Nodes need only the public half; a private key file is accepted
         * but not kept. */
        rv = secure_key_load_public(cfg->cluster_key, n->cluster_pk, err);
        if (rv == AUGUR_EMALFORMED &&
            secure_key_load_secret(cfg->cluster_key, &cluster, err) == 0) {
            memcpy(n->cluster_pk, cluster.pk, SECURE_PK_SIZE);
            secure_key_wipe(&cluster);
            LOG(LOG_LEVEL_WARN,
                "--cluster-key %s is the cluster's private key: a node with "
                "its own key needs only the public one (%s.pub); keep the "
                "private key off the nodes",
                cfg->cluster_key, cfg->cluster_key);
            rv = 0;
        }
        if (rv != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "cluster key: %.200s", err);
            return rv;
        }
        rv = secure_key_load_secret(cfg->node_key, &n->identity.key, err);
        if (rv != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "node key: %.200s", err);
            return rv;
        }
        rv = secure_cert_load(cfg->node_cert, &n->identity.cert, err);
        if (rv != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "node cert: %.200s", err);
            return rv;
        }
    }
    rv = secure_identity_check(&n->identity, n->cluster_pk, cfg->id, now, err);
    if (rv != 0) {
        snprintf(errmsg, NODE_ERRMSG_SIZE, "node cert %.100s: %.200s",
                 cfg->node_cert[0] != '\0' ? cfg->node_cert : "(self)", err);
        return rv;
    }
    node__cert_check(n, now * 1000);
    return 0;
}

void node__cert_check(struct node *n, uint64_t now_ms)
{
    uint64_t now = now_ms / 1000;
    uint64_t end = n->identity.cert.not_after;

    if (end == 0 || now_ms < n->next_cert_check_ms) {
        return;
    }
    n->next_cert_check_ms = now_ms + 3600 * 1000;
    if (now > end) {
        LOG(LOG_LEVEL_ERROR,
            "the certificate of node %" PRIu64
            " expired %llu s ago: peers and clients refuse new connections "
            "to it; certify its key again (augur node certify) and restart "
            "it",
            n->config.id, (unsigned long long)(now - end));
    } else if (end - now < CERT_WARN_S) {
        LOG(LOG_LEVEL_WARN,
            "the certificate of node %" PRIu64
            " expires in %llu s: certify its key again (augur node certify) "
            "and restart it",
            n->config.id, (unsigned long long)(end - now));
    }
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
        if (rv != 0) {
            snprintf(n->errmsg, sizeof n->errmsg, "libsodium failed to start");
            goto err;
        }
        rv = identity_load(n, n->errmsg);
        if (rv != 0) {
            goto err;
        }
        if (cfg->admin_key[0] != '\0' && cfg->bootstrap[0] == '\0') {
            /* The first admin is only ever recorded by a node that creates
             * the cluster: elsewhere the key would admit its holder as
             * admin on a node that has not applied principal.bootstrap
             * (or its later removal) yet. */
            LOG(LOG_LEVEL_WARN,
                "--admin-key counts only together with "
                "--bootstrap: ignored");
        } else if (cfg->admin_key[0] != '\0') {
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
    store_page_bytes_set(n->store, cfg->page_bytes);
    rv = node__scoring_init(n);
    if (rv != 0) {
        goto err_after_store_open;
    }
    rv = node__orch_init(n);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "orchestrator: %s",
                 augur_strerror(rv));
        goto err_after_scoring_init;
    }

    rc.id = cfg->id;
    rc.raft_dir = raft_dir;
    rc.raft_address = cfg->raft_address;
    rc.election_timeout_ms = cfg->election_timeout_ms;
    rc.heartbeat_timeout_ms = cfg->heartbeat_timeout_ms;
    rc.snapshot_threshold = cfg->snapshot_threshold;
    rc.snapshot_trailing = cfg->snapshot_trailing;
    rc.pre_vote = cfg->pre_vote;
    rc.identity = &n->identity;
    memcpy(rc.cluster_pk, n->cluster_pk, SECURE_PK_SIZE);
    rc.peer_unauth_max = cfg->peer_unauth_max;
    rc.peer_unauth_per_source = cfg->peer_unauth_per_source;
    rc.peer_buffer_max = cfg->peer_buffer_max;
    rv = replica_init(&n->replica, &n->loop, n->store, &rc, node__on_applied);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "raft: %s", n->replica.errmsg);
        goto err_after_scoring_init;
    }
    n->replica.data = n;
    node__membership_init(n);
    rv = replica_start(&n->replica);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "raft: %s", n->replica.errmsg);
        goto err_after_replica_init;
    }

    rv = node__ingest_init(n);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "telemetry: %s",
                 augur_strerror(rv));
        goto err_after_replica_init;
    }
    {
        char err[ACTUATOR_ERRMSG_SIZE];
        rv = actuator_new(&n->loop, cfg->actuator, cfg->actuator_max,
                          &n->actuator, err);
        if (rv != 0) {
            snprintf(n->errmsg, sizeof n->errmsg, "%s", err);
            goto err_after_ingest_init;
        }
    }
    if (cfg->haproxy_socket[0] != '\0') {
        char err[256];
        rv = node_traffic_new(&n->loop, cfg->haproxy_socket,
                              cfg->haproxy_prefix, &n->traffic, err);
        if (rv != 0) {
            snprintf(n->errmsg, sizeof n->errmsg, "haproxy: %s", err);
            goto err_after_actuator_new;
        }
    }

    if (cfg->http_cert[0] != '\0') {
        /* Checked with the configuration; read again here, and kept for
         * as long as the server runs. */
        char err[NODE_HTTP_TLS_ERRMSG_SIZE];
        rv = node_http_tls_load(&n->http_tls, cfg->http_cert, cfg->http_key,
                                err);
        if (rv != 0) {
            snprintf(n->errmsg, sizeof n->errmsg, "%s", err);
            goto err_after_actuator_new;
        }
    }
    rv = node__http_start(n);
    if (rv != 0) {
        goto err_after_http_tls_load;
    }

    memset(&sc, 0, sizeof sc);
    sc.address = cfg->client_address;
    sc.node_id = cfg->id;
    sc.identity = &n->identity;
    sc.cluster_pk = n->cluster_pk;
    sc.auth_cb = node__auth;
    sc.conn_closed_cb = node__on_conn_closed;
    sc.answered_cb = node__on_answered;
    sc.session_ttl_ms = (uint64_t)cfg->session_ttl_s * 1000;
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
        goto err_after_http_start;
    }
    n->server.data = n;

    uv_timer_init(&n->loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, on_tick, TICK_MS, TICK_MS);
    node__orch_start(n);
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

err_after_http_start:
    node__http_close(n);
err_after_http_tls_load:
    node_http_tls_close(&n->http_tls);
err_after_actuator_new:
    node_traffic_close(n->traffic);
    n->traffic = NULL;
    actuator_close(n->actuator);
    n->actuator = NULL;
err_after_ingest_init:
    node__ingest_close(n);
err_after_replica_init:
    replica_close(&n->replica, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
err_after_scoring_init:
    node__orch_close(n);
    node__scoring_close(n);
err_after_store_open:
    store_close(n->store);
    n->store = NULL;
err_after_lock:
    close(n->lock_fd);
    n->lock_fd = -1;
err:
    secure_identity_wipe(&n->identity);
    uv_loop_close(&n->loop);
    msgpack_sbuffer_destroy(&n->scratch);
    return rv != 0 ? rv : AUGUR_EINTERNAL;
}

static void replica_closed(struct replica *r)
{
    struct node *n = r->data;
    node__orch_close(n);
    node__scoring_close(n);
    node__ingest_close(n);
    store_close(n->store);
    n->store = NULL;
    secure_identity_wipe(&n->identity);
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
    /* HTTP first: its handlers read the state closed below. */
    node__http_close(n);
    node_http_tls_close(&n->http_tls);
    node__fail_waiters(n);
    node_uplink_close(&n->uplink);
    /* The orchestrator's handle first: the actuator's last callbacks find
     * it closed and ask for no round. */
    node__orch_stop(n);
    /* Calls in flight end "cancelled"; their programs are killed. */
    actuator_close(n->actuator);
    n->actuator = NULL;
    /* Traffic steps end "cancelled" too; membership changes in flight
     * are dropped (a new leader puts the servers right). */
    node_traffic_close(n->traffic);
    n->traffic = NULL;
    /* Clients first, so nothing new arrives; then Raft, which fails what
     * is still pending; the store last. */
    api_server_close(&n->server, server_closed);
}
