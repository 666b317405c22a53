/* Request dispatch: writes go through Raft, reads through a shared barrier
 * (or straight to the local store when stale), node operations to libraft;
 * a follower answers with a redirect to the leader's client address. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "node/node.h"

/* How often the leader proposes session.expire: a quarter of the TTL, so
 * that a session is gone at most 1.25 TTLs after its last write, and at
 * most once a minute (the default TTL of 600 s sweeps every 60 s). */
#define SESSION_EXPIRE_EVERY_MAX_MS 60000
static uint64_t session_expire_every_ms(const struct node *n)
{
    uint64_t every = (uint64_t)n->config.session_ttl_s * 1000 / 4;
    return every < SESSION_EXPIRE_EVERY_MAX_MS ? every
                                               : SESSION_EXPIRE_EVERY_MAX_MS;
}

uint64_t node__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- small msgpack helpers for node-level ops ------------------------- */

const msgpack_object *node__arg_get(const msgpack_object *args, const char *key)
{
    size_t klen = strlen(key);
    if (args == NULL || args->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < args->via.map.size; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR &&
            kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0) {
            return &kv->val;
        }
    }
    return NULL;
}

/* Read an optional unsigned field; AUGUR_EINVAL when present but not one. */
int node__arg_u64(const msgpack_object *args, const char *key, uint64_t *out)
{
    const msgpack_object *o = node__arg_get(args, key);
    if (o == NULL) {
        return AUGUR_ENOTFOUND;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return AUGUR_EINVAL;
    }
    *out = o->via.u64;
    return 0;
}

int node__arg_str(const msgpack_object *args,
                  const char *key,
                  char *out,
                  size_t size)
{
    const msgpack_object *o = node__arg_get(args, key);
    if (o == NULL) {
        return AUGUR_ENOTFOUND;
    }
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
        o->via.str.size >= size) {
        return AUGUR_EINVAL;
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return 0;
}

void node__result_begin(struct node *n, msgpack_packer *pk, size_t n_fields)
{
    n->scratch.size = 0;
    msgpack_packer_init(pk, &n->scratch, msgpack_sbuffer_write);
    msgpack_pack_map(pk, 2);
    node__pack_str(pk, "status");
    msgpack_pack_int(pk, 0);
    node__pack_str(pk, "result");
    msgpack_pack_map(pk, n_fields);
}

void node__pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* The args of a request, or an empty map for a request without any. */
static const msgpack_object *req_args(const struct api_call *call)
{
    static const msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
    return call->req.args != NULL ? call->req.args : &empty;
}

/* ---- redirects -------------------------------------------------------- */

/* Answer a request this node cannot serve because it is not the leader:
 * ENOTLEADER with the leader's client address when known, so that libaugur
 * reconnects there; otherwise it tries its other endpoints. */
void node__reply_not_leader(struct node *n, struct api_call *call)
{
    uint64_t leader = replica_leader_id(&n->replica);
    char hint[STORE_ADDR_SIZE];

    if (n->stopping) {
        api_call_reply_error(call, AUGUR_ESHUTDOWN, NULL,
                             "node %" PRIu64 " is shutting down", n->config.id);
        return;
    }
    if (leader == 0 || leader == n->config.id) {
        api_call_reply_error(call, AUGUR_ENOLEADER, NULL,
                             "node %" PRIu64 " knows no leader right now",
                             n->config.id);
        return;
    }
    if (store_node_client_address(n->store, leader, hint) != 0) {
        api_call_reply_error(call, AUGUR_ENOTLEADER, NULL,
                             "node %" PRIu64 " is not the leader; node %" PRIu64
                             " is, at an address not known yet",
                             n->config.id, leader);
        return;
    }
    api_call_reply_error(call, AUGUR_ENOTLEADER, hint,
                         "node %" PRIu64 " is not the leader; node %" PRIu64
                         " at %s is",
                         n->config.id, leader, hint);
}

/* ---- writes ----------------------------------------------------------- */

struct write_ctx
{
    struct replica_write write;
    struct node *node;
    struct api_call *call; /* NULL for the node's own commands */
    uint64_t proposed_ns;  /* uv_hrtime, for the apply latency */
};

static void write_done(struct replica_write *w,
                       int status,
                       const void *answer,
                       size_t len)
{
    struct write_ctx *ctx = w->data;
    struct node *n = ctx->node;
    struct api_call *call = ctx->call;

    if (status == 0) {
        augur_histogram_observe(&n->apply_latency,
                                (double)(uv_hrtime() - ctx->proposed_ns) / 1e9);
    }
    free(ctx);
    if (call == NULL) {
        if (status != 0) {
            LOG(LOG_LEVEL_DEBUG, "own command failed: %s",
                augur_strerror(status));
        }
        return;
    }
    switch (status) {
        case 0:
            api_call_reply(call, answer, len);
            break;
        case AUGUR_ENOTLEADER:
            node__reply_not_leader(n, call);
            break;
        case AUGUR_EINDETERMINATE:
            api_call_reply_error(call, status, NULL,
                                 "leadership lost before the write committed; "
                                 "it may still apply: retry with the same "
                                 "sequence");
            break;
        case AUGUR_ESHUTDOWN:
            api_call_reply_error(call, status, NULL,
                                 "node %" PRIu64
                                 " shut down before the write "
                                 "committed; it may still apply",
                                 n->config.id);
            break;
        default:
            api_call_reply_error(call, status, NULL, "write failed: %s",
                                 augur_strerror(status));
            break;
    }
}

/* Encode n->cmd and propose it.  Returns 0 or an error (the caller answers;
 * on error nothing was proposed). */
static int propose(struct node *n, struct api_call *call)
{
    struct write_ctx *ctx;
    int rv;

    n->cmd.time_ms = (int64_t)node__now_ms();
    n->scratch.size = 0;
    rv = store_cmd_encode(&n->cmd, &n->scratch);
    if (rv != 0) {
        return rv;
    }
    ctx = malloc(sizeof *ctx);
    if (ctx == NULL) {
        return AUGUR_ENOMEM;
    }
    ctx->node = n;
    ctx->call = call;
    ctx->proposed_ns = uv_hrtime();
    ctx->write.data = ctx;
    rv = replica_write(&n->replica, &ctx->write, n->scratch.data,
                       n->scratch.size, write_done);
    if (rv != 0) {
        free(ctx);
    }
    return rv;
}

static void handle_write(struct node *n,
                         struct api_call *call,
                         enum store_op op,
                         enum augur_op aop)
{
    char errmsg[STORE_ERRMSG_SIZE];
    bool bootstrapped = false;
    int rv;

    if (augur_op_role(aop) == AUGUR_ROLE_INTERNAL) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "'%s' is proposed by the cluster itself",
                             store_op_name(op));
        return;
    }
    if (!replica_is_leader(&n->replica)) {
        node__reply_not_leader(n, call);
        return;
    }
    /* A write needs a session to apply at most once: a client id, and a
     * sequence from 1 (session.open alone may go without one). */
    if (call->client == 0 ||
        (call->req.seq == 0 && op != STORE_OP_SESSION_OPEN)) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "'%s' is a write: it needs a client id and a "
                             "sequence number from 1",
                             store_op_name(op));
        return;
    }
    /* Apply checks every command's principal against the replicated
     * principals, where the first admin exists only once principal.bootstrap
     * has applied: until then its key (admitted here from --admin-key) could
     * not write, so it is asked to retry rather than refused. */
    rv = store_principals_bootstrapped(n->store, &bootstrapped);
    if (rv != 0 || !bootstrapped) {
        api_call_reply_error(call, AUGUR_ENOLEADER, NULL,
                             "node %" PRIu64
                             " has not recorded the first "
                             "admin yet: retry",
                             n->config.id);
        return;
    }
    /* Validate before anything reaches the log: bad input changes nothing. */
    rv = store_cmd_decode_args(op, req_args(call), &n->cmd, errmsg);
    if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "%s", errmsg);
        return;
    }
    if (op == STORE_OP_SESSION_OPEN) {
        /* The lifetime the client's retries must stay within. */
        n->cmd.u.expire.ttl_ms = (uint64_t)n->config.session_ttl_s * 1000;
    }
    n->cmd.client = call->client;
    n->cmd.seq = call->req.seq;
    n->cmd.ack = call->req.ack;
    /* Who sent it: apply keys the session by it and checks it again. */
    n->cmd.has_principal = true;
    memcpy(n->cmd.principal, call->key, sizeof n->cmd.principal);
    rv = propose(n, call);
    if (rv == 0) {
        /* The command's bytes are in the log's batch now, and the answer
         * needs only the request's id: the call holds itself until then,
         * not its frame and decoded request (8 KiB and more), so that a
         * pipelining client's connection keeps --conn-calls-max writes in
         * flight under --conn-pending-high rather than about 30. */
        api_call_shed(call);
    } else if (rv == AUGUR_ENOTLEADER) {
        node__reply_not_leader(n, call);
    } else if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "cannot propose: %s",
                             augur_strerror(rv));
    }
}

/* The leader's own commands: no session (client 0). */
void node__propose_own(struct node *n)
{
    int rv;
    n->cmd.client = 0;
    n->cmd.seq = 0;
    n->cmd.ack = 0;
    n->cmd.has_principal = false;
    rv = propose(n, NULL);
    if (rv != 0) {
        LOG(LOG_LEVEL_DEBUG, "cannot propose %s: %s", store_op_name(n->cmd.op),
            augur_strerror(rv));
    }
}

/* ---- reads ------------------------------------------------------------ */

static void serve_read(struct node *n, struct api_call *call);

struct read_ctx
{
    struct replica_read read;
    struct node *node;
    struct api_call *call;
};

static void read_done(struct replica_read *r, int status)
{
    struct read_ctx *ctx = r->data;
    struct node *n = ctx->node;
    struct api_call *call = ctx->call;

    free(ctx);
    if (status == 0) {
        serve_read(n, call);
    } else if (status == AUGUR_ENOTLEADER) {
        node__reply_not_leader(n, call);
    } else {
        api_call_reply_error(call, status, NULL, "read barrier failed: %s",
                             augur_strerror(status));
    }
}

/* Answer @call with the read n->cmd names, from the local store. */
static void read_answer(struct node *n, struct api_call *call)
{
    int rv;

    n->scratch.size = 0;
    rv = store_read(n->store, &n->cmd, &n->scratch);
    if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "read failed: %s",
                             augur_strerror(rv));
        return;
    }
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

/* Count the waiters parked on @call's connection and by its principal,
 * stopping as soon as either reaches its cap: new waiters go first in the
 * list, so a connection that floods polls over its cap finds its own
 * within the first few, and a refusal costs little. */
static void waiters_count(const struct node *n,
                          const struct api_call *call,
                          unsigned *on_conn,
                          unsigned *by_principal)
{
    const struct node_config *cfg = &n->config;

    *on_conn = 0;
    *by_principal = 0;
    for (const struct node_waiter *w = n->waiters;
         w != NULL && *on_conn < cfg->waiters_per_conn &&
         *by_principal < cfg->waiters_per_principal;
         w = w->next) {
        if (w->call->conn == call->conn) {
            (*on_conn)++;
        }
        if (strcmp(w->call->principal, call->principal) == 0) {
            (*by_principal)++;
        }
    }
}

/* Park an "events" long poll for the next revision (n->cmd): every waiter
 * has a bound, per connection, per principal and in all, and keeps only
 * its page and its deadline, not its request (invariant 9). */
static void events_park(struct node *n, struct api_call *call)
{
    const struct node_config *cfg = &n->config;
    unsigned wait_ms = call->req.wait_ms;
    unsigned on_conn;
    unsigned by_principal;
    struct node_waiter *w;

    if (n->n_waiters >= cfg->waiters_max) {
        api_call_reply_error(call, AUGUR_EBUSY, NULL,
                             "node %" PRIu64
                             " already holds %u parked long polls, its "
                             "limit (--waiters-max); retry later",
                             cfg->id, cfg->waiters_max);
        return;
    }
    waiters_count(n, call, &on_conn, &by_principal);
    if (on_conn >= cfg->waiters_per_conn) {
        api_call_reply_error(call, AUGUR_EBUSY, NULL,
                             "%u long polls already parked on this "
                             "connection, the limit (--waiters-per-conn)",
                             cfg->waiters_per_conn);
        return;
    }
    if (by_principal >= cfg->waiters_per_principal) {
        api_call_reply_error(
            call, AUGUR_EBUSY, NULL,
            "principal %s already has %u long polls parked "
            "on node %" PRIu64 ", the limit (--waiters-per-principal)",
            call->principal, cfg->waiters_per_principal, cfg->id);
        return;
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        api_call_reply_error(call, AUGUR_ENOMEM, NULL, "out of memory");
        return;
    }
    /* A longer wait is cut, not refused: the client hears "nothing yet"
     * when it ends and asks again, as after any long poll. */
    if (wait_ms > cfg->wait_max_ms) {
        wait_ms = cfg->wait_max_ms;
    }
    w->call = call;
    w->from = n->cmd.u.events.from;
    w->limit = n->cmd.u.events.limit;
    w->deadline_ms = node__now_ms() + wait_ms;
    api_call_shed(call);
    w->next = n->waiters;
    n->waiters = w;
    n->n_waiters++;
}

/* Read the store now and answer. */
static void serve_read(struct node *n, struct api_call *call)
{
    enum store_op op = store_op_from_name(call->req.op, call->req.op_len);
    char errmsg[STORE_ERRMSG_SIZE];
    int rv;

    rv = store_cmd_decode_args(op, req_args(call), &n->cmd, errmsg);
    if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "%s", errmsg);
        return;
    }
    /* Only the next revision is waited for; a "from" further ahead is
     * refused by the store. */
    if (op == STORE_OP_EVENTS && call->req.wait_ms > 0 &&
        n->cmd.u.events.from == store_revision(n->store) + 1) {
        events_park(n, call);
        return;
    }
    read_answer(n, call);
}

static void handle_read(struct node *n, struct api_call *call, enum store_op op)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct read_ctx *ctx;
    int rv;

    rv = store_cmd_decode_args(op, req_args(call), &n->cmd, errmsg);
    if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "%s", errmsg);
        return;
    }
    if (call->req.stale) {
        serve_read(n, call);
        return;
    }
    if (!replica_is_leader(&n->replica)) {
        node__reply_not_leader(n, call);
        return;
    }
    ctx = malloc(sizeof *ctx);
    if (ctx == NULL) {
        api_call_reply_error(call, AUGUR_ENOMEM, NULL, "out of memory");
        return;
    }
    ctx->node = n;
    ctx->call = call;
    ctx->read.data = ctx;
    rv = replica_read(&n->replica, &ctx->read, read_done);
    if (rv != 0) {
        free(ctx);
        node__reply_not_leader(n, call);
    }
}

/* Serve every parked long poll whose revision has arrived or whose time is
 * up; with @all, every one (shutdown). */
static void waiters_sweep(struct node *n, bool all)
{
    struct node_waiter **pp = &n->waiters;
    uint64_t rev = store_revision(n->store);
    uint64_t now = node__now_ms();

    while (*pp != NULL) {
        struct node_waiter *w = *pp;
        if (all || rev >= w->from || now >= w->deadline_ms) {
            *pp = w->next;
            n->n_waiters--;
            if (all) {
                api_call_reply_error(w->call, AUGUR_ESHUTDOWN, NULL,
                                     "node %" PRIu64 " is shutting down",
                                     n->config.id);
            } else {
                memset(&n->cmd, 0, sizeof n->cmd);
                n->cmd.op = STORE_OP_EVENTS;
                n->cmd.u.events.from = w->from;
                n->cmd.u.events.limit = w->limit;
                read_answer(n, w->call);
            }
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void node__on_answered(struct api_server *s,
                       const struct api_call *call,
                       int status)
{
    struct node *n = s->data;
    /* Only the table's ops: a client's made-up op names count as one
     * ("unknown"), so that they cannot grow the metrics. */
    enum augur_op op = augur_op_find(call->op, strlen(call->op));
    int result =
        status >= 0 && status < AUGUR_ERR_COUNT ? status : AUGUR_ERR_COUNT;

    n->requests[op][result]++;
}

void node__on_conn_closed(struct api_server *s, const struct api_conn *conn)
{
    struct node *n = s->data;
    struct node_waiter **pp = &n->waiters;

    while (*pp != NULL) {
        struct node_waiter *w = *pp;
        if (w->call->conn == conn) {
            *pp = w->next;
            n->n_waiters--;
            api_call_drop(w->call);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void node__fail_waiters(struct node *n)
{
    waiters_sweep(n, true);
}

void node__on_applied(struct replica *r)
{
    struct node *n = r->data;
    uint64_t version = store_principals_version(n->store);

    if (version != n->principals_version) {
        /* A principal was added or removed (or a snapshot restored): a
         * removed key's connections end here, on every node. */
        n->principals_version = version;
        api_server_revalidate(&n->server);
    }
    version = store_revoked_version(n->store);
    if (version != n->revoked_version) {
        /* A node key was revoked (or a snapshot restored): its peer links
         * end here, on every node that applies it. */
        char hex[SECURE_HEX_SIZE];
        n->revoked_version = version;
        replica_peers_drop_revoked(&n->replica);
        api_server_revalidate(&n->server); /* and its uplinks */
        secure_key_hex(n->identity.key.pk, hex);
        if (store_node_key_revoked(n->store, hex)) {
            LOG(LOG_LEVEL_ERROR,
                "this node's own key (%.16s...) was revoked: its peers "
                "refuse it; restart it with a new key and certificate",
                hex);
        }
    }
    if (n->waiters != NULL) {
        waiters_sweep(n, false);
    }
    node__http_events_applied(n);
    node__orch_applied(n);
}

/* ---- authentication and roles ----------------------------------------- */

/* A node's uplink (node/uplink.c) on the client port: its certificate was
 * checked against the cluster key; the node must be a member of the
 * current configuration and its key unrevoked.  It gets the node role,
 * which admits the NODE ops only (op_allowed). */
static int auth_node(struct node *n,
                     const char *hex,
                     const struct secure_cert *cert,
                     char *name,
                     int *role,
                     char *errmsg)
{
    const struct raft_configuration *conf = &n->replica.raft.configuration;
    bool member = false;

    for (unsigned i = 0; i < conf->n; i++) {
        member = member || conf->servers[i].id == cert->node;
    }
    if (!member) {
        snprintf(errmsg, API_ERRMSG_SIZE,
                 "node %" PRIu64 " is not a member of this cluster",
                 cert->node);
        return AUGUR_EAUTH;
    }
    if (store_node_key_revoked(n->store, hex)) {
        snprintf(errmsg, API_ERRMSG_SIZE,
                 "the key of node %" PRIu64 " (%.16s...) was revoked",
                 cert->node, hex);
        return AUGUR_EAUTH;
    }
    snprintf(name, API_NAME_SIZE, "node-%" PRIu64, cert->node);
    *role = NODE_ROLE_PEER;
    return 0;
}

int node__auth(struct api_server *s,
               const uint8_t key[SECURE_PK_SIZE],
               const struct secure_cert *cert,
               char *name,
               int *role,
               char *errmsg)
{
    struct node *n = s->data;
    char hex[SECURE_HEX_SIZE];
    int rv;

    secure_key_hex(key, hex);
    if (cert != NULL) {
        return auth_node(n, hex, cert, name, role, errmsg);
    }
    rv = store_principal_find(n->store, hex, name, role);
    if (rv == 0) {
        return 0;
    }
    /* Until the first admin is recorded, its key (--admin-key, given with
     * --bootstrap) is admin: that is how the first 'augur status' of a new
     * cluster gets in.  Its writes wait for principal.bootstrap to apply
     * (handle_write).  A store that cannot tell admits no one. */
    if (rv == AUGUR_ENOTFOUND && n->admin_key_hex[0] != '\0' &&
        sodium_memcmp(hex, n->admin_key_hex, SECURE_HEX_SIZE - 1) == 0) {
        bool bootstrapped = true;
        rv = store_principals_bootstrapped(n->store, &bootstrapped);
        if (rv == 0 && !bootstrapped) {
            snprintf(name, API_NAME_SIZE, "admin");
            *role = STORE_ROLE_ADMIN;
            return 0;
        }
        if (rv == 0) {
            rv = AUGUR_ENOTFOUND;
        }
    }
    if (rv == AUGUR_ENOTFOUND) {
        snprintf(errmsg, API_ERRMSG_SIZE,
                 "unknown key %.16s...: not a principal of this cluster "
                 "(an admin adds it: augur principal add NAME --key "
                 "FILE.pub --role ROLE)",
                 hex);
    } else {
        snprintf(errmsg, API_ERRMSG_SIZE, "cannot look up the key: %s",
                 augur_strerror(rv));
    }
    return AUGUR_EAUTH;
}

/* Whether a principal of @role may call @op: its rank against the op's
 * row in common/ops.h.  Rows only the cluster proposes (INTERNAL) pass for
 * an admin here and are refused by handle_write with a clearer reason.  A
 * node's uplink may call the NODE rows and nothing else; no principal may
 * call those. */
static bool op_allowed(int role, enum augur_op op)
{
    enum augur_role_rank need = augur_op_role(op);

    if (role == NODE_ROLE_PEER || need == AUGUR_ROLE_NODE) {
        return role == NODE_ROLE_PEER && need == AUGUR_ROLE_NODE;
    }

    if (need == AUGUR_ROLE_INTERNAL) {
        need = AUGUR_ROLE_ADMIN;
    }
    return store_role_rank(role) >= need;
}

static void reply_forbidden(struct api_call *call, const char *op, size_t len)
{
    api_call_reply_error(
        call, AUGUR_EPERM, NULL, "principal %s (role %s) may not call '%.*s'",
        call->principal,
        call->role == NODE_ROLE_PEER ? "node" : store_role_name(call->role),
        (int)(len > 64 ? 64 : len), op);
}

/* ---- node operations -------------------------------------------------- */

void node__status(struct node *n, struct api_call *call)
{
    struct raft *raft = &n->replica.raft;
    const msgpack_object *want = NULL;
    char digest[65] = "";
    msgpack_packer pk;

    /* {"digest": true}: the digest of the whole store at last_applied (the
     * same on every node that applied the same index).  It reads the whole
     * state on the loop, so it is only computed when asked for. */
    if (call->req.args != NULL && call->req.args->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < call->req.args->via.map.size; i++) {
            const msgpack_object_kv *kv = &call->req.args->via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR &&
                kv->key.via.str.size == 6 &&
                memcmp(kv->key.via.str.ptr, "digest", 6) == 0) {
                want = &kv->val;
            }
        }
    }
    if (want != NULL && want->type == MSGPACK_OBJECT_BOOLEAN &&
        want->via.boolean) {
        unsigned char d[32];
        int rv = store_digest(n->store, d);
        if (rv != 0) {
            api_call_reply_error(call, rv, NULL, "status: digest: %s",
                                 augur_strerror(rv));
            return;
        }
        sodium_bin2hex(digest, sizeof digest, d, sizeof d);
    }

    node__result_begin(n, &pk, digest[0] != '\0' ? 16 : 15);
    node__pack_str(&pk, "node");
    msgpack_pack_uint64(&pk, n->config.id);
    node__pack_str(&pk, "state");
    node__pack_str(&pk, replica_state_name(&n->replica));
    node__pack_str(&pk, "leader");
    msgpack_pack_uint64(&pk, replica_leader_id(&n->replica));
    node__pack_str(&pk, "term");
    msgpack_pack_uint64(&pk, raft->current_term);
    node__pack_str(&pk, "commit_index");
    msgpack_pack_uint64(&pk, raft->commit_index);
    node__pack_str(&pk, "last_applied");
    msgpack_pack_uint64(&pk, raft->last_applied);
    node__pack_str(&pk, "last_index");
    msgpack_pack_uint64(&pk, raft_last_index(raft));
    node__pack_str(&pk, "rev");
    msgpack_pack_uint64(&pk, store_revision(n->store));
    node__pack_str(&pk, "waiters");
    msgpack_pack_unsigned_int(&pk, n->n_waiters);
    node__members_fields_pack(n, &pk, "members");
    node__ingest_status_pack(n, &pk);
    node__scoring_status_pack(n, &pk);
    node__orch_status_pack(n, &pk);
    {
        struct actuator_stats st;
        actuator_stats_get(n->actuator, &st);
        node__pack_str(&pk, "actuator");
        msgpack_pack_map(&pk, 4);
        node__pack_str(&pk, "kind");
        node__pack_str(&pk, st.kind);
        node__pack_str(&pk, "calls");
        msgpack_pack_uint64(&pk, st.calls);
        node__pack_str(&pk, "failures");
        msgpack_pack_uint64(&pk, st.failures);
        node__pack_str(&pk, "inflight");
        msgpack_pack_unsigned_int(&pk, st.inflight);
    }
    if (digest[0] != '\0') {
        node__pack_str(&pk, "digest");
        node__pack_str(&pk, digest);
    }
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

struct transfer_ctx
{
    struct replica_transfer transfer;
    struct node *node;
    struct api_call *call;
    uint64_t target;
};

static void transfer_done(struct replica_transfer *t, uint64_t leader)
{
    struct transfer_ctx *ctx = t->data;
    struct node *n = ctx->node;
    struct api_call *call = ctx->call;
    uint64_t target = ctx->target;

    free(ctx);
    if (leader == 0 || leader == n->config.id ||
        (target != 0 && leader != target)) {
        api_call_reply_error(call, AUGUR_ETIMEOUT, NULL,
                             "leadership transfer did not complete; the "
                             "leader is %" PRIu64,
                             leader);
        return;
    }
    LOG(LOG_LEVEL_INFO, "leadership transferred to node %" PRIu64, leader);
    msgpack_packer pk;
    node__result_begin(n, &pk, 1);
    node__pack_str(&pk, "leader");
    msgpack_pack_uint64(&pk, leader);
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

void node__leader_transfer(struct node *n, struct api_call *call)
{
    struct transfer_ctx *ctx;
    uint64_t id = 0;
    int rv;

    if (!replica_is_leader(&n->replica)) {
        node__reply_not_leader(n, call);
        return;
    }
    rv = node__arg_u64(call->req.args, "id", &id);
    if (rv == AUGUR_EINVAL) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "leader.transfer: 'id' must be a node id");
        return;
    }
    if (id == n->config.id) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "node %" PRIu64 " is already the leader", id);
        return;
    }
    ctx = malloc(sizeof *ctx);
    if (ctx == NULL) {
        api_call_reply_error(call, AUGUR_ENOMEM, NULL, "out of memory");
        return;
    }
    ctx->node = n;
    ctx->call = call;
    ctx->target = id;
    ctx->transfer.data = ctx;
    rv =
        replica_leader_transfer(&n->replica, &ctx->transfer, id, transfer_done);
    if (rv != 0) {
        free(ctx);
        if (rv == AUGUR_ENOTLEADER) {
            node__reply_not_leader(n, call);
        } else {
            api_call_reply_error(
                call, rv, NULL, "leader.transfer to %" PRIu64 ": %s", id,
                rv == AUGUR_ENOTFOUND ? "no such voter" : augur_strerror(rv));
        }
    }
}

/* The node's own ops: one case per row of common/ops.h's AUGUR_NODE_OPS. */
static bool node_op_serve(struct node *n,
                          struct api_call *call,
                          enum augur_op op)
{
    switch (op) {
#define NODE_OP__CASE(ID, WIRE, ACCESS, ROLE, HANDLER) \
    case AUGUR_OP_##ID:                                \
        HANDLER(n, call);                              \
        return true;
        AUGUR_NODE_OPS(NODE_OP__CASE)
#undef NODE_OP__CASE
        default:
            return false;
    }
}

/* The serving gate.  A node serves clients (status aside) only once it has
 * heard from a leader since it started and has applied everything it knows
 * to be committed, up to at least the last log index it found at start.
 * Before that its state may be older than what clients have seen: a node
 * restarted from an older snapshot, which replays its log only as a leader
 * tells it what is committed, would answer stale reads and admit keys whose
 * removal it has not applied yet.  Limits: a follower learns the commit
 * index from a leader's AppendEntries, bounded by its own log, so one far
 * behind may open when it has applied what it holds rather than everything
 * the leader committed (later removals still reach it, and every write is
 * checked again at apply); the gate stays open once open. */
bool node__serving(struct node *n)
{
    struct raft *raft = &n->replica.raft;

    if (n->serving) {
        return true;
    }
    if (!n->gate_index_set) {
        n->gate_index = raft_last_index(raft);
        n->gate_index_set = true;
    }
    if (replica_leader_id(&n->replica) == 0 ||
        raft->commit_index < n->gate_index ||
        raft->last_applied < raft->commit_index) {
        return false;
    }
    n->serving = true;
    LOG(LOG_LEVEL_INFO, "caught up at index %llu: serving clients",
        (unsigned long long)raft->last_applied);
    return true;
}

void node__on_request(struct api_server *s, struct api_call *call)
{
    struct node *n = s->data;
    const struct proto_request *req = &call->req;
    enum augur_op aop;
    enum store_op op;

    if (n->stopping) {
        api_call_reply_error(call, AUGUR_ESHUTDOWN, NULL,
                             "node %" PRIu64 " is shutting down", n->config.id);
        return;
    }
    aop = augur_op_find(req->op, req->op_len);
    if (aop != AUGUR_OP_STATUS && !node__serving(n)) {
        api_call_reply_error(call, AUGUR_ENOLEADER, NULL,
                             "node %" PRIu64
                             " is catching up with the "
                             "cluster: try another node",
                             n->config.id);
        return;
    }
    if (aop == AUGUR_OP_NONE) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL, "unknown op '%.*s'",
                             (int)(req->op_len > 64 ? 64 : req->op_len),
                             req->op);
        return;
    }
    if (!op_allowed(call->role, aop)) {
        reply_forbidden(call, req->op, req->op_len);
        return;
    }
    op = store_op_from_name(req->op, req->op_len);
    if (op == STORE_OP_NONE) {
        if (!node_op_serve(n, call, aop)) {
            api_call_reply_error(
                call, AUGUR_EINVAL, NULL, "op '%.*s' has no handler",
                (int)(req->op_len > 64 ? 64 : req->op_len), req->op);
        }
        return;
    }
    if (store_op_is_write(op)) {
        handle_write(n, call, op, aop);
    } else {
        handle_read(n, call, op);
    }
}

/* ---- the leader's own duties ------------------------------------------ */

void node__tick(struct node *n)
{
    bool leader = replica_is_leader(&n->replica);
    uint64_t now = node__now_ms();
    bool bootstrapped = true;
    bool became = leader && !n->was_leader;

    replica_timing_check(&n->replica);

    if (leader && !n->was_leader) {
        /* Announce this node's client address so followers can redirect
         * clients here; it also commits an entry of the new term. */
        LOG(LOG_LEVEL_INFO, "became leader in term %llu",
            (unsigned long long)n->replica.raft.current_term);
        memset(&n->cmd, 0, sizeof n->cmd);
        n->cmd.op = STORE_OP_NODE_SET;
        n->cmd.u.node.id = n->config.id;
        snprintf(n->cmd.u.node.raft_address, sizeof n->cmd.u.node.raft_address,
                 "%s", n->config.raft_address);
        snprintf(n->cmd.u.node.client_address,
                 sizeof n->cmd.u.node.client_address, "%s",
                 n->config.client_address);
        node__propose_own(n);
        n->next_expire_ms = now + session_expire_every_ms(n);
    } else if (!leader && n->was_leader) {
        LOG(LOG_LEVEL_INFO, "no longer the leader");
    }
    n->was_leader = leader;
    node__ingest_tick(n, now, leader, became);
    node__cert_check(n, now);
    /* Record the first admin (--admin-key) once; retried until applied. */
    if (leader && n->admin_key_hex[0] != '\0' && now >= n->next_bootstrap_ms &&
        store_principals_bootstrapped(n->store, &bootstrapped) == 0 &&
        !bootstrapped) {
        memset(&n->cmd, 0, sizeof n->cmd);
        n->cmd.op = STORE_OP_PRINCIPAL_BOOTSTRAP;
        snprintf(n->cmd.u.principal.name, sizeof n->cmd.u.principal.name,
                 "admin");
        memcpy(n->cmd.u.principal.key, n->admin_key_hex,
               sizeof n->cmd.u.principal.key);
        node__propose_own(n);
        n->next_bootstrap_ms = now + 1000;
    }
    if (leader && now >= n->next_expire_ms) {
        memset(&n->cmd, 0, sizeof n->cmd);
        n->cmd.op = STORE_OP_SESSION_EXPIRE;
        n->cmd.u.expire.ttl_ms = (uint64_t)n->config.session_ttl_s * 1000;
        node__propose_own(n);
        n->next_expire_ms = now + session_expire_every_ms(n);
    }
    (void)node__serving(n);
    node__membership_tick(n, now);
    node__scoring_tick(n, now, leader);
    node__orch_tick(n, now, leader);
    if (n->waiters != NULL) {
        waiters_sweep(n, false);
    }
    node__http_v1_tick(n, now);
    node__http_events_tick(n, now);
    api_server_sweep(&n->server);
}
