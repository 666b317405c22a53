/* Membership: the member.* operations, the members as status and member.list
 * show them, and the leader's reconciler.
 *
 * The membership operators ask for is recorded in the store first (node.set
 * with a role, a Raft command), then libraft's configuration is changed to
 * match.  libraft's configuration is the one that counts for quorums, but it
 * can drift from the record: a change whose libraft step failed after its
 * record committed (leadership lost, another change under way), or a libraft
 * defect (issue 10: 0.15 lost a voter under churn).  The leader compares the
 * two every second; a difference that persists is logged, shown by status
 * and member list, and, unless --member-reconcile off, repaired through an
 * ordinary membership change, one server at a time (Raft dissertation
 * §4.2.1).  Nothing is ever changed silently. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "node/node.h"

#define CHECK_EVERY_MS 1000
/* A difference must be seen by this many checks in a row before the leader
 * repairs it: a change in flight shows one for a moment. */
#define DIVERGED_CHECKS 3

/* ---- the record against the configuration ----------------------------- */

enum repair_kind
{
    REPAIR_NONE,
    REPAIR_ADOPT,  /* a configured server has no role on record: record it */
    REPAIR_ADD,    /* recorded as a member, absent from the configuration */
    REPAIR_ASSIGN, /* present with another role than the one recorded */
    REPAIR_REMOVE, /* recorded as removed, still in the configuration */
};

struct repair
{
    enum repair_kind kind;
    uint64_t id;
    int role; /* RAFT_VOTER... for ADD, ASSIGN and ADOPT */
    char address[STORE_ADDR_SIZE];
    char client_address[STORE_ADDR_SIZE];
};

static const struct raft_server *conf_find(const struct raft_configuration *c,
                                           uint64_t id)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            return &c->servers[i];
        }
    }
    return NULL;
}

static int records_load(struct node *n, struct store_node *recs, size_t *nrec)
{
    int rv = store_node_records(n->store, recs, NODE_MEMBERS_MAX, nrec);
    if (rv != 0) {
        LOG(LOG_LEVEL_ERROR, "membership: cannot read the node records: %s",
            augur_strerror(rv));
    }
    return rv;
}

static const struct store_node *record_find(const struct store_node *recs,
                                            size_t nrec,
                                            uint64_t id)
{
    for (size_t i = 0; i < nrec; i++) {
        if (recs[i].id == id) {
            return &recs[i];
        }
    }
    return NULL;
}

/* The first difference between the records and libraft's configuration, in
 * @out, with a sentence for operators in @text. */
static void membership_diff(struct node *n,
                            const struct store_node *recs,
                            size_t nrec,
                            struct repair *out,
                            char *text,
                            size_t size)
{
    const struct raft_configuration *c = &n->replica.raft.configuration;

    memset(out, 0, sizeof *out);
    text[0] = '\0';
    for (size_t i = 0; i < nrec; i++) {
        const struct store_node *rec = &recs[i];
        const struct raft_server *srv = conf_find(c, rec->id);
        int want = replica_role_parse(rec->role);

        out->id = rec->id;
        snprintf(out->address, sizeof out->address, "%s", rec->raft_address);
        snprintf(out->client_address, sizeof out->client_address, "%s",
                 rec->client_address);
        if (strcmp(rec->role, "removed") == 0 && srv != NULL) {
            out->kind = REPAIR_REMOVE;
            snprintf(text, size,
                     "node %" PRIu64
                     " is recorded as removed but is a %s in the Raft "
                     "configuration",
                     rec->id, replica_role_name(srv->role));
            return;
        }
        if (want >= 0 && srv == NULL) {
            out->kind = REPAIR_ADD;
            out->role = want;
            snprintf(text, size,
                     "node %" PRIu64
                     " is recorded as a %s but is not in the Raft "
                     "configuration",
                     rec->id, rec->role);
            return;
        }
        if (want >= 0 && srv->role != want) {
            out->kind = REPAIR_ASSIGN;
            out->role = want;
            snprintf(text, size,
                     "node %" PRIu64
                     " is recorded as a %s but is a %s in the Raft "
                     "configuration",
                     rec->id, rec->role, replica_role_name(srv->role));
            return;
        }
    }
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        const struct store_node *rec = record_find(recs, nrec, srv->id);
        if (rec == NULL || rec->role[0] == '\0') {
            out->kind = REPAIR_ADOPT;
            out->id = srv->id;
            out->role = srv->role;
            snprintf(out->address, sizeof out->address, "%s", srv->address);
            snprintf(out->client_address, sizeof out->client_address, "%s",
                     rec != NULL ? rec->client_address : "");
            snprintf(text, size,
                     "node %" PRIu64 " (a %s) has no role on record",
                     (uint64_t)srv->id, replica_role_name(srv->role));
            return;
        }
    }
    memset(out, 0, sizeof *out);
}

/* ---- what status and member list show ---------------------------------- */

static void pack_member(struct node *n,
                        msgpack_packer *pk,
                        uint64_t id,
                        const char *address,
                        const char *role,
                        const struct store_node *rec)
{
    char client[STORE_ADDR_SIZE];

    msgpack_pack_map(pk, 6);
    node__pack_str(pk, "id");
    msgpack_pack_uint64(pk, id);
    node__pack_str(pk, "address");
    node__pack_str(pk, address);
    node__pack_str(pk, "client_address");
    if (store_node_client_address(n->store, id, client) == 0) {
        node__pack_str(pk, client);
    } else if (id == n->config.id) {
        node__pack_str(pk, n->config.client_address);
    } else {
        msgpack_pack_nil(pk);
    }
    node__pack_str(pk, "role");
    node__pack_str(pk, role);
    /* What the cluster's record asks for: the same as role when in sync. */
    node__pack_str(pk, "recorded");
    if (rec != NULL && rec->role[0] != '\0') {
        node__pack_str(pk, rec->role);
    } else {
        msgpack_pack_nil(pk);
    }
    /* Keys of this node id that node.revoke revoked: its peers refuse
     * them (the key it runs on now may be a new one). */
    node__pack_str(pk, "revoked_keys");
    msgpack_pack_uint64(pk, store_node_revoked_count(n->store, id));
}

/* libraft's configuration as this node sees it, then every server recorded
 * as a member that the configuration lacks (role "absent"). */
static void members_pack(struct node *n,
                         msgpack_packer *pk,
                         const struct store_node *recs,
                         size_t nrec)
{
    const struct raft_configuration *c = &n->replica.raft.configuration;
    unsigned absent = 0;

    for (size_t i = 0; i < nrec; i++) {
        if (replica_role_parse(recs[i].role) >= 0 &&
            conf_find(c, recs[i].id) == NULL) {
            absent++;
        }
    }
    msgpack_pack_array(pk, c->n + absent);
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        const char *role = replica_role_name(srv->role);
        pack_member(n, pk, srv->id, srv->address,
                    role != NULL ? role : "unknown",
                    record_find(recs, nrec, srv->id));
    }
    for (size_t i = 0; i < nrec; i++) {
        if (replica_role_parse(recs[i].role) >= 0 &&
            conf_find(c, recs[i].id) == NULL) {
            pack_member(n, pk, recs[i].id, recs[i].raft_address, "absent",
                        &recs[i]);
        }
    }
}

/* {"in_sync", "difference", "reconcile", "repairs"}: this node's own
 * comparison (a follower's configuration may lag for a moment). */
static void membership_pack(struct node *n,
                            msgpack_packer *pk,
                            const struct store_node *recs,
                            size_t nrec,
                            bool loaded)
{
    struct repair rep;
    char text[256] = "";

    if (loaded) {
        membership_diff(n, recs, nrec, &rep, text, sizeof text);
    } else {
        rep.kind = REPAIR_NONE;
        snprintf(text, sizeof text, "the node records cannot be read");
    }
    msgpack_pack_map(pk, 4);
    node__pack_str(pk, "in_sync");
    /* A server that is configured but not yet on record is not a
     * difference: the leader records it. */
    if (rep.kind == REPAIR_NONE || rep.kind == REPAIR_ADOPT) {
        msgpack_pack_true(pk);
        node__pack_str(pk, "difference");
        msgpack_pack_nil(pk);
    } else {
        msgpack_pack_false(pk);
        node__pack_str(pk, "difference");
        node__pack_str(pk, text);
    }
    node__pack_str(pk, "reconcile");
    if (n->config.member_reconcile) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
    node__pack_str(pk, "repairs");
    msgpack_pack_uint64(pk, n->membership.repairs);
}

void node__members_fields_pack(struct node *n,
                               msgpack_packer *pk,
                               const char *members_key)
{
    struct store_node recs[NODE_MEMBERS_MAX];
    size_t nrec = 0;
    bool loaded = records_load(n, recs, &nrec) == 0;

    if (!loaded) {
        nrec = 0;
    }
    node__pack_str(pk, members_key);
    members_pack(n, pk, recs, nrec);
    node__pack_str(pk, "membership");
    membership_pack(n, pk, recs, nrec, loaded);
}

void node__member_list(struct node *n, struct api_call *call)
{
    msgpack_packer pk;

    node__result_begin(n, &pk, 2);
    node__members_fields_pack(n, &pk, "items");
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

/* ---- recording a change, then making it -------------------------------- */

/* One member.add or member.remove: the record (a Raft command), then, after
 * the failpoint if set, the libraft change. */
struct member_ctx
{
    struct replica_write write;
    struct replica_change change;
    uv_timer_t failpoint;
    struct node *node;
    struct api_call *call;
    uint64_t id;
    int role; /* RAFT_VOTER...; -1 for a removal */
    char address[STORE_ADDR_SIZE];
};

/* Whether a libraft step that failed after its record committed is left to
 * the reconciler: only when it runs, and not for refusals. */
static bool step_pending(struct node *n, int status)
{
    return n->config.member_reconcile &&
           (status == AUGUR_EBUSY || status == AUGUR_ENOTLEADER ||
            status == AUGUR_EINDETERMINATE || status == AUGUR_ETIMEOUT ||
            status == AUGUR_ESHUTDOWN);
}

static void member_reply(struct member_ctx *ctx, int status, bool recorded)
{
    struct api_call *call = ctx->call;
    struct node *n = ctx->node;
    const char *what = ctx->role < 0 ? "remove" : "add";
    char config[200];
    msgpack_packer pk;

    n->membership.busy--;
    if (status != 0 && !(recorded && step_pending(n, status))) {
        if (status == AUGUR_ENOTLEADER) {
            node__reply_not_leader(n, call);
        } else {
            api_call_reply_error(
                call, status, NULL, "member %s %" PRIu64 ": %s", what, ctx->id,
                status == AUGUR_EBUSY ? "another membership change is under way"
                                      : augur_strerror(status));
        }
        free(ctx);
        return;
    }
    if (status == 0) {
        snprintf(config, sizeof config, "done");
    } else {
        /* The record committed: the leader makes the change. */
        snprintf(config, sizeof config,
                 "recorded; the leader completes the change (%s)",
                 status == AUGUR_EBUSY
                     ? "another membership change is under way"
                     : augur_strerror(status));
        LOG(LOG_LEVEL_INFO, "membership: %s of node %" PRIu64 ": %s", what,
            ctx->id, config);
    }
    node__result_begin(n, &pk, ctx->role >= 0 ? 4 : 2);
    node__pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, ctx->id);
    if (ctx->role >= 0) {
        node__pack_str(&pk, "address");
        node__pack_str(&pk, ctx->address);
        node__pack_str(&pk, "role");
        node__pack_str(&pk, replica_role_name(ctx->role));
    }
    node__pack_str(&pk, "configuration");
    node__pack_str(&pk, config);
    api_call_reply(call, n->scratch.data, n->scratch.size);
    free(ctx);
}

static void member_changed(struct replica_change *change, int status)
{
    struct member_ctx *ctx = change->data;
    if (status == 0) {
        LOG(LOG_LEVEL_INFO, "membership: node %" PRIu64 " %s", ctx->id,
            ctx->role < 0 ? "removed" : replica_role_name(ctx->role));
    } else if (status == AUGUR_ENOTFOUND && ctx->role < 0) {
        status = 0; /* not in the configuration: removed already */
    }
    member_reply(ctx, status, true);
}

static void member_step(struct member_ctx *ctx)
{
    struct node *n = ctx->node;
    const struct raft_server *srv;
    int rv;

    ctx->change.data = ctx;
    srv = conf_find(&n->replica.raft.configuration, ctx->id);
    /* Already as asked (a retry, or the reconciler was first). */
    if (ctx->role < 0 ? srv == NULL : srv != NULL && srv->role == ctx->role) {
        member_reply(ctx, 0, true);
        return;
    }
    if (ctx->role < 0) {
        rv = replica_member_remove(&n->replica, &ctx->change, ctx->id,
                                   member_changed);
    } else if (srv != NULL) {
        rv = replica_member_assign(&n->replica, &ctx->change, ctx->id,
                                   ctx->role, member_changed);
    } else {
        rv = replica_member_add(&n->replica, &ctx->change, ctx->id,
                                ctx->address, ctx->role, member_changed);
    }
    if (rv != 0) {
        member_reply(ctx, rv, true);
    }
}

static void failpoint_closed(uv_handle_t *h)
{
    member_step(h->data);
}

static void failpoint_done(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, failpoint_closed);
}

static void member_recorded(struct replica_write *w,
                            int status,
                            const void *answer,
                            size_t len)
{
    struct member_ctx *ctx = w->data;
    struct node *n = ctx->node;
    (void)answer;
    (void)len;

    if (status != 0) {
        /* The record may still commit (EINDETERMINATE); the client's retry
         * is harmless either way: both steps are idempotent. */
        member_reply(ctx,
                     status == AUGUR_EINDETERMINATE ? AUGUR_ENOTLEADER : status,
                     false);
        return;
    }
    if (n->membership.pause_ms > 0) {
        LOG(LOG_LEVEL_WARN,
            "failpoint: membership change of node %" PRIu64
            " recorded; holding the libraft step %u ms",
            ctx->id, n->membership.pause_ms);
        uv_timer_init(&n->loop, &ctx->failpoint);
        ctx->failpoint.data = ctx;
        uv_timer_start(&ctx->failpoint, failpoint_done, n->membership.pause_ms,
                       0);
        return;
    }
    member_step(ctx);
}

/* Record ctx's change: node.set with its role ("removed" for a removal). */
static void member_record(struct member_ctx *ctx, const char *client_address)
{
    struct node *n = ctx->node;
    int rv;

    memset(&n->cmd, 0, sizeof n->cmd);
    n->cmd.op = STORE_OP_NODE_SET;
    n->cmd.u.node.id = ctx->id;
    snprintf(n->cmd.u.node.raft_address, sizeof n->cmd.u.node.raft_address,
             "%s", ctx->address);
    snprintf(n->cmd.u.node.client_address, sizeof n->cmd.u.node.client_address,
             "%s", client_address);
    snprintf(n->cmd.u.node.role, sizeof n->cmd.u.node.role, "%s",
             ctx->role < 0 ? "removed" : replica_role_name(ctx->role));
    n->cmd.client = 0;
    n->cmd.time_ms = (int64_t)node__now_ms();
    n->scratch.size = 0;
    rv = store_cmd_encode(&n->cmd, &n->scratch);
    if (rv == 0) {
        ctx->write.data = ctx;
        rv = replica_write(&n->replica, &ctx->write, n->scratch.data,
                           n->scratch.size, member_recorded);
    }
    if (rv != 0) {
        member_reply(ctx, rv, false);
    }
}

static struct member_ctx *member_ctx_new(struct node *n, struct api_call *call)
{
    struct member_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        api_call_reply_error(call, AUGUR_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    ctx->node = n;
    ctx->call = call;
    n->membership.busy++;
    return ctx;
}

void node__member_add(struct node *n, struct api_call *call)
{
    const msgpack_object *args = call->req.args;
    const struct raft_configuration *c = &n->replica.raft.configuration;
    char role[16] = "voter";
    char address[STORE_ADDR_SIZE], client[STORE_ADDR_SIZE];
    struct member_ctx *ctx;
    uint64_t id = 0;
    int rv;

    if (!replica_is_leader(&n->replica)) {
        node__reply_not_leader(n, call);
        return;
    }
    if (node__arg_u64(args, "id", &id) != 0 || id == 0 || id > INT64_MAX) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "member.add: 'id' must be a positive integer");
        return;
    }
    rv = node__arg_str(args, "role", role, sizeof role);
    if ((rv != 0 && rv != AUGUR_ENOTFOUND) || replica_role_parse(role) < 0) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "member.add: 'role' must be voter, standby or "
                             "spare");
        return;
    }
    if (node__arg_str(args, "address", address, sizeof address) != 0 ||
        node__arg_str(args, "client_address", client, sizeof client) != 0) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "member.add: 'address' and 'client_address' "
                             "(HOST:PORT) are required");
        return;
    }
    /* Adding a member again with the same address is a retry, not a
     * conflict: it records the role and makes sure libraft has it. */
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        if ((srv->id == id) != (strcmp(srv->address, address) == 0)) {
            api_call_reply_error(call, AUGUR_EEXIST, NULL,
                                 "member.add: node %llu"
                                 " at %s is already a member",
                                 (unsigned long long)srv->id, srv->address);
            return;
        }
    }
    ctx = member_ctx_new(n, call);
    if (ctx == NULL) {
        return;
    }
    ctx->id = id;
    ctx->role = replica_role_parse(role);
    snprintf(ctx->address, sizeof ctx->address, "%s", address);
    member_record(ctx, client);
}

/* etcd's strict reconfiguration check: removing node @id must leave a
 * majority of the remaining voters caught up, or the cluster could commit
 * nothing (a removal included) until the others catch up; a chaos run saw
 * 30 s without a write that way.  0, or AUGUR_EBUSY with a reason. */
static int remove_keeps_quorum(struct node *n,
                               uint64_t id,
                               char *why,
                               size_t size)
{
    unsigned voters, caught_up;

    replica_voters_caught_up(&n->replica, id, &voters, &caught_up);
    if (voters == 0 || caught_up * 2 > voters) {
        return 0;
    }
    snprintf(why, size,
             "removing node %" PRIu64
             " would leave %u of %u voters caught up, no majority: wait "
             "until the others catch up",
             id, caught_up, voters);
    return AUGUR_EBUSY;
}

void node__member_remove(struct node *n, struct api_call *call)
{
    const struct raft_server *srv;
    struct store_node recs[NODE_MEMBERS_MAX];
    const struct store_node *rec = NULL;
    struct member_ctx *ctx;
    size_t nrec = 0;
    uint64_t id = 0;

    if (!replica_is_leader(&n->replica)) {
        node__reply_not_leader(n, call);
        return;
    }
    if (node__arg_u64(call->req.args, "id", &id) != 0 || id == 0) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "member.remove: 'id' must be a positive integer");
        return;
    }
    if (id == n->config.id) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "node %" PRIu64
                             " is the leader: transfer "
                             "leadership first (augur leader transfer)",
                             id);
        return;
    }
    if (records_load(n, recs, &nrec) == 0) {
        rec = record_find(recs, nrec, id);
    }
    srv = conf_find(&n->replica.raft.configuration, id);
    if (srv == NULL && (rec == NULL || strcmp(rec->role, "removed") == 0)) {
        api_call_reply_error(call, AUGUR_ENOTFOUND, NULL,
                             "member.remove: node %" PRIu64 " is not a member",
                             id);
        return;
    }
    if (srv != NULL && srv->role == RAFT_VOTER) {
        char why[200];
        if (remove_keeps_quorum(n, id, why, sizeof why) != 0) {
            api_call_reply_error(call, AUGUR_EBUSY, NULL, "member.remove: %s",
                                 why);
            return;
        }
    }
    ctx = member_ctx_new(n, call);
    if (ctx == NULL) {
        return;
    }
    ctx->id = id;
    ctx->role = -1;
    snprintf(ctx->address, sizeof ctx->address, "%s",
             srv != NULL ? srv->address : rec->raft_address);
    member_record(ctx, "");
}

/* ---- the reconciler ----------------------------------------------------- */

struct repair_ctx
{
    struct replica_change change;
    struct replica_transfer transfer;
    struct node *node;
    struct repair rep;
};

static void repair_done(struct replica_change *change, int status)
{
    struct repair_ctx *ctx = change->data;
    struct node *n = ctx->node;

    n->membership.busy--;
    if (status == 0) {
        n->membership.repairs++;
        LOG(LOG_LEVEL_WARN, "membership: repaired: node %" PRIu64 " is now %s",
            ctx->rep.id,
            ctx->rep.kind == REPAIR_REMOVE ? "removed"
                                           : replica_role_name(ctx->rep.role));
    } else {
        LOG(LOG_LEVEL_WARN, "membership: repair of node %" PRIu64 " failed: %s",
            ctx->rep.id, augur_strerror(status));
    }
    free(ctx);
}

static void repair_transferred(struct replica_transfer *t, uint64_t leader)
{
    struct repair_ctx *ctx = t->data;
    ctx->node->membership.busy--;
    LOG(LOG_LEVEL_INFO, "membership: handed leadership to node %" PRIu64,
        leader);
    free(ctx);
}

static void repair_start(struct node *n, const struct repair *rep)
{
    struct repair_ctx *ctx = calloc(1, sizeof *ctx);
    char why[200];
    int rv;

    if (rep->kind == REPAIR_REMOVE &&
        remove_keeps_quorum(n, rep->id, why, sizeof why) != 0) {
        LOG(LOG_LEVEL_WARN, "membership: not repairing yet: %s", why);
        free(ctx);
        return;
    }
    if (ctx == NULL) {
        return;
    }
    ctx->node = n;
    ctx->rep = *rep;
    ctx->change.data = ctx;
    ctx->transfer.data = ctx;
    switch (rep->kind) {
        case REPAIR_ADD:
            rv = replica_member_add(&n->replica, &ctx->change, rep->id,
                                    rep->address, rep->role, repair_done);
            break;
        case REPAIR_ASSIGN:
            rv = replica_member_assign(&n->replica, &ctx->change, rep->id,
                                       rep->role, repair_done);
            break;
        case REPAIR_REMOVE:
            if (rep->id == n->config.id) {
                /* A leader does not remove itself: hand over first; the
                 * next leader removes this node. */
                rv = replica_leader_transfer(&n->replica, &ctx->transfer, 0,
                                             repair_transferred);
                break;
            }
            rv = replica_member_remove(&n->replica, &ctx->change, rep->id,
                                       repair_done);
            break;
        default:
            rv = AUGUR_EINVAL;
            break;
    }
    if (rv != 0) {
        LOG(LOG_LEVEL_WARN,
            "membership: cannot start the repair of node %" PRIu64 ": %s",
            rep->id, augur_strerror(rv));
        free(ctx);
        return;
    }
    n->membership.busy++;
}

/* Record every server of the (committed) configuration that has no role on
 * record with the role it has: the bootstrap voters, and members added
 * before roles were recorded. */
static void adopt_all(struct node *n,
                      const struct store_node *recs,
                      size_t nrec)
{
    const struct raft_configuration *c = &n->replica.raft.configuration;

    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        const struct store_node *rec = record_find(recs, nrec, srv->id);
        if (rec != NULL && rec->role[0] != '\0') {
            continue;
        }
        LOG(LOG_LEVEL_INFO, "membership: recording node %" PRIu64 " (%s at %s)",
            (uint64_t)srv->id, replica_role_name(srv->role), srv->address);
        memset(&n->cmd, 0, sizeof n->cmd);
        n->cmd.op = STORE_OP_NODE_SET;
        n->cmd.u.node.id = srv->id;
        snprintf(n->cmd.u.node.raft_address, sizeof n->cmd.u.node.raft_address,
                 "%s", srv->address);
        snprintf(n->cmd.u.node.client_address,
                 sizeof n->cmd.u.node.client_address, "%s",
                 rec != NULL ? rec->client_address : "");
        snprintf(n->cmd.u.node.role, sizeof n->cmd.u.node.role, "%s",
                 replica_role_name(srv->role));
        node__propose_own(n);
    }
}

void node__membership_tick(struct node *n, uint64_t now)
{
    struct node_membership *m = &n->membership;
    struct store_node recs[NODE_MEMBERS_MAX];
    struct repair rep;
    char text[sizeof m->diff];
    size_t nrec;
    unsigned grace;

    if (!replica_is_leader(&n->replica)) {
        m->leader_since_ms = 0;
        m->diverged = 0;
        return;
    }
    if (m->leader_since_ms == 0) {
        /* A new leader lets the changes of its predecessor settle first,
         * but records at once the servers of a committed configuration
         * that have no role on record (the bootstrap voters, after the
         * first election), all in this loop turn. */
        grace = 2 * (n->config.election_timeout_ms > 0
                         ? n->config.election_timeout_ms
                         : 1000);
        m->leader_since_ms = now;
        m->next_check_ms = now + grace;
        if (!replica_member_changing(&n->replica) &&
            records_load(n, recs, &nrec) == 0) {
            adopt_all(n, recs, nrec);
        }
    }
    if (now < m->next_check_ms) {
        return;
    }
    m->next_check_ms = now + CHECK_EVERY_MS;
    if (m->busy > 0 || replica_member_changing(&n->replica) ||
        records_load(n, recs, &nrec) != 0) {
        return;
    }
    membership_diff(n, recs, nrec, &rep, text, sizeof text);
    if (rep.kind == REPAIR_NONE) {
        if (!m->in_sync && m->diff[0] != '\0') {
            LOG(LOG_LEVEL_INFO,
                "membership: the Raft configuration matches the "
                "record again");
        }
        m->in_sync = true;
        m->diff[0] = '\0';
        m->diverged = 0;
        return;
    }
    if (rep.kind == REPAIR_ADOPT) {
        adopt_all(n, recs, nrec);
        return;
    }
    m->in_sync = false;
    if (strcmp(text, m->diff) != 0) {
        memcpy(m->diff, text, sizeof m->diff);
        LOG(LOG_LEVEL_WARN, "membership: %s%s", text,
            n->config.member_reconcile
                ? ""
                : " (--member-reconcile off: not repairing)");
        m->diverged = 0;
    }
    if (++m->diverged < DIVERGED_CHECKS || !n->config.member_reconcile) {
        return;
    }
    LOG(LOG_LEVEL_WARN, "membership: repairing: %s", text);
    m->diverged = 0;
    repair_start(n, &rep);
}

void node__membership_init(struct node *n)
{
    const char *pause = getenv("AUGUR_FAILPOINT_MEMBER_PAUSE_MS");
    memset(&n->membership, 0, sizeof n->membership);
    n->membership.in_sync = true;
    if (pause != NULL && *pause != '\0') {
        char *end;
        unsigned long ms = strtoul(pause, &end, 10);
        if (*end == '\0' && ms <= 60000) {
            n->membership.pause_ms = (unsigned)ms;
            LOG(LOG_LEVEL_WARN,
                "failpoint AUGUR_FAILPOINT_MEMBER_PAUSE_MS=%lu: membership "
                "changes wait between their record and libraft (tests only)",
                ms);
        }
    }
}
