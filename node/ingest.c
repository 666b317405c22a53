/* Telemetry ingest on the leader: the telemetry.report, .heartbeat and .get
 * ops, host leases (renewed by reports and heartbeats, swept on every
 * tick) and the status figures.  Telemetry is not replicated; only the
 * leases' verdicts are, as resource.lease commands.  A follower checks a
 * report's scope itself, answers the agent at once and forwards the report
 * to the leader over its uplink (node/uplink.c) as telemetry.forward, which
 * the leader takes from a node's uplink only. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "node/node.h"

/* Sample memory the leader keeps at most: 4 batches of 100 samples for
 * 20,000 hosts take about 100 MB; a flood of larger batches is dropped
 * beyond this. */
#define INGEST_BYTES_MAX ((size_t)512 << 20)
/* What a new leader adds to the full lease it gives every host: the time
 * an agent may take to find it (libaugur retries a node without a leader
 * with a backoff that doubles from 20 ms, about a second over an
 * election).  Without it a healthy host whose agent found the new leader
 * late would be declared unreachable. */
#define INGEST_FIND_LEADER_MS 1000
/* Lease lines (declared, back) written per second at most. */
#define LEASE_LOG_BURST 20

static void uplink_leader_gone(void *data, uint64_t leader)
{
    struct node *n = data;
    replica_leader_gone(&n->replica, leader);
}

int node__ingest_init(struct node *n)
{
    int rv;

    node_notices_init(&n->notices);
    rv = node_telemetry_init(&n->telemetry, n->config.telemetry_ring,
                             n->config.telemetry_resources, INGEST_BYTES_MAX);
    if (rv != 0) {
        return rv;
    }
    rv = node_uplink_init(&n->uplink, &n->loop, n->config.id, &n->identity,
                          n->cluster_pk);
    if (rv != 0) {
        node_telemetry_close(&n->telemetry);
        return rv;
    }
    /* The uplink is the follower's one connection to the leader's process:
     * when that hangs up, the replica need not wait out the election
     * timeout (replica_leader_gone). */
    n->uplink.leader_gone = uplink_leader_gone;
    n->uplink.leader_gone_data = n;
    return 0;
}

void node__shutdown_notice_set(struct node *n,
                               const char *host,
                               uint64_t workflow,
                               uint64_t deadline_ms)
{
    int rv = node_notices_set(&n->notices, host, workflow, deadline_ms);
    if (rv != 0) {
        LOG(LOG_LEVEL_WARN,
            "prepare-shutdown notice for %.64s (workflow %" PRIu64
            ") not kept: %s",
            host, workflow, augur_strerror(rv));
    }
}

void node__shutdown_notice_clear(struct node *n, const char *host)
{
    node_notices_clear(&n->notices, host);
}

bool node__shutdown_acked(struct node *n, const char *host, uint64_t workflow)
{
    return node_notices_acked(&n->notices, host, workflow);
}

/* Pack {"prepare_shutdown": {...}} for @host when it has a notice; returns
 * the entries packed (0 or 1). */
static size_t notice_count(struct node *n, const char *host)
{
    return node_notices_find(&n->notices, host) != NULL;
}

static void notice_pack(struct node *n, msgpack_packer *pk, const char *host)
{
    const struct node_notice *s = node_notices_find(&n->notices, host);
    if (s == NULL) {
        return;
    }
    node__pack_str(pk, "prepare_shutdown");
    msgpack_pack_map(pk, 2);
    node__pack_str(pk, "workflow");
    msgpack_pack_uint64(pk, s->workflow);
    node__pack_str(pk, "deadline_ms");
    msgpack_pack_uint64(pk, s->deadline_ms);
}

void node__ingest_close(struct node *n)
{
    node_uplink_close(&n->uplink);
    node_telemetry_close(&n->telemetry);
}

const struct node_telemetry_resource *node__telemetry_find(struct node *n,
                                                           const char *resource)
{
    return node_telemetry_find(&n->telemetry, resource);
}

/* Count and answer a refused report or heartbeat, with a log line at most
 * once a second: a flood of bad reports must not flood the log. */
static void refuse(struct node *n,
                   struct api_call *call,
                   int rv,
                   bool scope,
                   const char *errmsg)
{
    struct node_telemetry *t = &n->telemetry;
    uint64_t skipped;

    t->c.refused++;
    t->c.refused_scope += scope;
    if (node_telemetry_log_ok(&t->log_refused, node__now_ms(), &skipped)) {
        LOG(LOG_LEVEL_WARN,
            "telemetry from %s refused: %s: %s (%" PRIu64
            " more refused since the last line)",
            call->principal, augur_errname(rv), errmsg, skipped);
    }
    api_call_reply_error(call, rv, NULL, "%s", errmsg);
}

static void drop(struct node *n,
                 struct api_call *call,
                 int rv,
                 const char *resource)
{
    struct node_telemetry *t = &n->telemetry;
    uint64_t skipped;

    if (node_telemetry_log_ok(&t->log_dropped, node__now_ms(), &skipped)) {
        LOG(LOG_LEVEL_WARN,
            "telemetry for %s dropped: %s (%zu resources tracked, %zu bytes "
            "held; %" PRIu64 " more dropped since the last line)",
            resource, augur_strerror(rv), t->n, t->bytes, skipped);
    }
    api_call_reply_error(call, rv == AUGUR_ETOOBIG ? AUGUR_EBUSY : rv, NULL,
                         "the leader dropped the report for %s: it tracks "
                         "as much telemetry as it may "
                         "(--telemetry-resources)",
                         resource);
}

/* The principal a report comes from: the caller itself, or, for a
 * forwarded report, the agent a follower names. */
struct reporter
{
    const char *name;
    char hex[SECURE_HEX_SIZE]; /* its public key */
    int role;
};

static void reporter_of_call(const struct api_call *call, struct reporter *w)
{
    w->name = call->principal;
    secure_key_hex(call->key, w->hex);
    w->role = call->role;
}

/* Whether principal @w may report for @resource: an agent only for the
 * resources it was added with (the replicated principal record), a reader
 * never (the op's row admits every role from agent up), an admin or
 * operator for any.  Followers and the leader check alike, each against
 * its own applied state. */
static int scope_check(struct node *n,
                       const struct reporter *w,
                       const char *resource,
                       char *errmsg,
                       size_t size)
{
    int rv;

    if (w->role == STORE_ROLE_READER) {
        snprintf(errmsg, size,
                 "principal %s (role reader) may not report telemetry: "
                 "readers only read",
                 w->name);
        return AUGUR_EPERM;
    }
    if (w->role != STORE_ROLE_AGENT) {
        return 0;
    }
    rv = store_principal_scope(n->store, w->hex, resource);
    if (rv == AUGUR_EPERM) {
        snprintf(errmsg, size,
                 "principal %s (role agent) may not report for resource "
                 "%s: it is not one of its resources (augur principal list)",
                 w->name, resource);
    } else if (rv != 0) {
        snprintf(errmsg, size, "cannot look up principal %s: %s", w->name,
                 augur_strerror(rv));
        rv = rv == AUGUR_ENOTFOUND ? AUGUR_EAUTH : rv;
    }
    return rv;
}

/* The host lease in force (node.lease_ms). */
static unsigned ingest_lease_ms(const struct node *n)
{
    return n->lease_ms != 0 ? n->lease_ms : n->config.lease_ms;
}

/* Read the policy's lease_timeout_ms: once a tick. */
static void lease_ms_refresh(struct node *n)
{
    uint64_t ms = 0;
    bool set = false;

    if (store_policy_lease_timeout(n->store, &set, &ms) != 0 || !set) {
        n->lease_ms = n->config.lease_ms;
    } else {
        n->lease_ms = ms > UINT_MAX ? UINT_MAX : (unsigned)ms;
    }
}

/* Propose the lease verdict for @r: @state is unreachable (expired) or
 * anything else (back).  The command carries the state it expects, so a
 * verdict reached on a view that changed since (another leader's, an
 * operator's set-state) applies nothing. */
static void lease_propose(struct node *n, const char *id, int expect, int state)
{
    memset(&n->cmd, 0, sizeof n->cmd);
    n->cmd.op = STORE_OP_RESOURCE_LEASE;
    snprintf(n->cmd.u.lease.id, sizeof n->cmd.u.lease.id, "%s", id);
    n->cmd.u.lease.expect = expect;
    n->cmd.u.lease.state = state;
    node__propose_own(n);
}

/* A report or heartbeat renewed @r's lease.  On the first renewal under
 * this leader, after a declared expiry, and until the store shows what was
 * proposed, compare with the store: a host still unreachable (declared by
 * this leader or an earlier one) is committed back, and a host reporting
 * for the first time is recorded as leased, so that a later leader gives
 * it a lease before its agent reports again (and declares it if it never
 * does). */
static void lease_renew(struct node *n,
                        struct node_telemetry_resource *r,
                        uint64_t now)
{
    bool leased;
    int state;

    if (!node_lease_renew(&r->lease, now, ingest_lease_ms(n)) && !r->recheck) {
        return;
    }
    r->recheck = false;
    if (store_resource_state(n->store, r->id, &state, &leased) != 0) {
        return; /* not a resource of the store (yet): no lease to record */
    }
    if (state == STORE_STATE_UNREACHABLE) {
        uint64_t skipped;
        if (node_telemetry_log_burst(&n->telemetry.log_leases, now,
                                     LEASE_LOG_BURST, &skipped)) {
            LOG(LOG_LEVEL_INFO,
                "host %s reports again: committing it back (%" PRIu64
                " lease lines skipped before)",
                r->id, skipped);
        }
        r->recheck = true;
        lease_propose(n, r->id, STORE_STATE_UNREACHABLE, STORE_STATE_ACTIVE);
    } else if (!leased) {
        r->recheck = true;
        lease_propose(n, r->id, state, state);
    }
}

/* Forward what @w reported (@args: a batch when @batch, else a heartbeat's
 * resource) to the leader over the uplink: {"principal", "key", "batch" or
 * "resource"}.  0, or the uplink's error (the report is dropped and
 * counted there). */
static int forward(struct node *n,
                   const struct reporter *w,
                   const msgpack_object *args,
                   const char *resource)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rv;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    node__pack_str(&pk, "principal");
    node__pack_str(&pk, w->name);
    node__pack_str(&pk, "key");
    node__pack_str(&pk, w->hex);
    if (args != NULL) {
        node__pack_str(&pk, "batch");
        msgpack_pack_object(&pk, *args);
    } else {
        node__pack_str(&pk, "resource");
        node__pack_str(&pk, resource);
    }
    rv = node_uplink_send(&n->uplink, augur_op_wire(AUGUR_OP_TELEMETRY_FORWARD),
                          sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

/* The answer a follower gives an agent whose report it forwarded (or
 * dropped with its uplink's queue full: the agent must not wait on the
 * leader either way; status shows the drops). */
static void reply_forwarded(struct node *n,
                            struct api_call *call,
                            size_t samples)
{
    msgpack_packer pk;

    node__result_begin(n, &pk, samples != (size_t)-1 ? 3 : 2);
    if (samples != (size_t)-1) {
        node__pack_str(&pk, "samples");
        msgpack_pack_uint64(&pk, samples);
    }
    node__pack_str(&pk, "lease_ms");
    msgpack_pack_unsigned_int(&pk, ingest_lease_ms(n));
    node__pack_str(&pk, "forwarded");
    msgpack_pack_true(&pk);
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

/* A report from @w, on the leader (kept and scored) or on a follower
 * (checked, then forwarded when @may_forward; a forwarded report that
 * reaches a node no longer the leader is redirected, never forwarded
 * again). */
static void report(struct node *n,
                   struct api_call *call,
                   const msgpack_object *args,
                   const struct reporter *w,
                   bool may_forward)
{
    struct node_telemetry *t = &n->telemetry;
    char errmsg[TELEMETRY_ERRMSG_SIZE + 128];
    struct node_telemetry_resource *r;
    uint64_t now = node__now_ms();
    bool leader = replica_is_leader(&n->replica);
    msgpack_packer pk;
    size_t samples;
    int rv;

    if (!leader && !may_forward) {
        node__reply_not_leader(n, call);
        return;
    }
    if (args == NULL) {
        refuse(n, call, AUGUR_EMALFORMED, false,
               "telemetry.report: the args must be a telemetry batch");
        return;
    }
    rv = telemetry_decode(args, (int64_t)now, TELEMETRY_PAST_MS,
                          TELEMETRY_FUTURE_MS, &t->scratch, errmsg);
    if (rv != 0) {
        char msg[sizeof errmsg + 32];
        snprintf(msg, sizeof msg, "telemetry.report: %s", errmsg);
        refuse(n, call, rv, false, msg);
        return;
    }
    rv = scope_check(n, w, t->scratch.resource, errmsg, sizeof errmsg);
    if (rv != 0) {
        telemetry_batch_reset(&t->scratch);
        refuse(n, call, rv, rv == AUGUR_EPERM, errmsg);
        return;
    }
    if (!leader) {
        samples = t->scratch.n;
        telemetry_batch_reset(&t->scratch);
        (void)forward(n, w, args, NULL);
        reply_forwarded(n, call, samples);
        return;
    }
    rv = node_telemetry_keep(t, now, &r);
    if (rv != 0) {
        drop(n, call, rv, t->scratch.resource);
        telemetry_batch_reset(&t->scratch);
        return;
    }
    lease_renew(n, r, now);
    node__scoring_observe(n, node_telemetry_batch(t, r, 0));
    node__result_begin(n, &pk, 2 + notice_count(n, r->id));
    node__pack_str(&pk, "samples");
    msgpack_pack_uint64(&pk, node_telemetry_batch(t, r, 0)->n);
    node__pack_str(&pk, "lease_ms");
    msgpack_pack_unsigned_int(&pk, ingest_lease_ms(n));
    notice_pack(n, &pk, r->id);
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

static void heartbeat(struct node *n,
                      struct api_call *call,
                      const char *resource,
                      const struct reporter *w,
                      bool may_forward,
                      uint64_t ack)
{
    struct node_telemetry *t = &n->telemetry;
    char errmsg[TELEMETRY_ERRMSG_SIZE + 128];
    struct node_telemetry_resource *r;
    uint64_t now = node__now_ms();
    bool leader = replica_is_leader(&n->replica);
    msgpack_packer pk;
    int rv;

    if (!leader && !may_forward) {
        node__reply_not_leader(n, call);
        return;
    }
    if (!telemetry_resource_valid(resource, strlen(resource))) {
        refuse(n, call, AUGUR_EINVAL, false,
               "telemetry.heartbeat: 'resource' must be a resource id");
        return;
    }
    rv = scope_check(n, w, resource, errmsg, sizeof errmsg);
    if (rv != 0) {
        refuse(n, call, rv, rv == AUGUR_EPERM, errmsg);
        return;
    }
    if (!leader) {
        (void)forward(n, w, NULL, resource);
        reply_forwarded(n, call, (size_t)-1);
        return;
    }
    rv = node_telemetry_track(t, resource, &r);
    if (rv != 0) {
        drop(n, call, rv, resource);
        return;
    }
    r->heartbeats++;
    r->last_seen_ms = now;
    t->c.heartbeats++;
    lease_renew(n, r, now);
    if (ack != 0 && node_notices_ack(&n->notices, resource, ack)) {
        LOG(LOG_LEVEL_INFO,
            "host %s acknowledged the prepare-shutdown notice of workflow "
            "%" PRIu64,
            resource, ack);
    }
    node__result_begin(n, &pk, 1 + notice_count(n, resource));
    node__pack_str(&pk, "lease_ms");
    msgpack_pack_unsigned_int(&pk, ingest_lease_ms(n));
    notice_pack(n, &pk, resource);
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

void node__telemetry_report(struct node *n, struct api_call *call)
{
    struct reporter w;

    reporter_of_call(call, &w);
    report(n, call, call->req.args, &w, true);
}

void node__telemetry_heartbeat(struct node *n, struct api_call *call)
{
    char resource[TELEMETRY_RESOURCE_MAX + 1];
    struct reporter w;
    uint64_t ack = 0;

    if (node__arg_str(call->req.args, "resource", resource, sizeof resource) !=
        0) {
        refuse(n, call, AUGUR_EINVAL, false,
               "telemetry.heartbeat: 'resource' must be a resource id");
        return;
    }

    /* The agent's acknowledgement of a prepare-shutdown notice; optional,
     * and on the leader only (a follower does not forward it). */
    if (node__arg_u64(call->req.args, "shutdown_ack", &ack) == AUGUR_EINVAL) {
        refuse(n, call, AUGUR_EINVAL, false,
               "telemetry.heartbeat: 'shutdown_ack' must be a workflow id");
        return;
    }
    reporter_of_call(call, &w);
    heartbeat(n, call, resource, &w, true, ack);
}

/* The args map's value for @key, or NULL. */
static const msgpack_object *arg_get(const msgpack_object *args,
                                     const char *key)
{
    size_t len = strlen(key);

    if (args == NULL || args->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < args->via.map.size; i++) {
        const msgpack_object *k = &args->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp(k->via.str.ptr, key, len) == 0) {
            return &args->via.map.ptr[i].val;
        }
    }
    return NULL;
}

/* telemetry.forward, from a follower's uplink (the op's row admits nodes
 * only): {"principal", "key", "batch"} or {"principal", "key",
 * "resource"}.  The agent is looked up again here by its key, and its
 * scope checked again, against this leader's applied state: a follower
 * vouches for nothing. */
void node__telemetry_forward(struct node *n, struct api_call *call)
{
    char resource[TELEMETRY_RESOURCE_MAX + 1];
    char name[STORE_ID_SIZE];
    const msgpack_object *batch = arg_get(call->req.args, "batch");
    struct reporter w;
    int rv;

    if (node__arg_str(call->req.args, "key", w.hex, sizeof w.hex) != 0 ||
        strlen(w.hex) != SECURE_HEX_SIZE - 1) {
        refuse(n, call, AUGUR_EINVAL, false,
               "telemetry.forward: 'key' must be the agent's public key in "
               "hex");
        return;
    }
    rv = store_principal_find(n->store, w.hex, name, &w.role);
    if (rv != 0) {
        refuse(n, call, rv == AUGUR_ENOTFOUND ? AUGUR_EAUTH : rv, false,
               "telemetry.forward: the reporting key is no principal of "
               "this cluster (removed since?)");
        return;
    }
    w.name = name;
    if (batch != NULL) {
        report(n, call, batch, &w, false);
        return;
    }
    if (node__arg_str(call->req.args, "resource", resource, sizeof resource) !=
        0) {
        refuse(n, call, AUGUR_EINVAL, false,
               "telemetry.forward: 'batch' or 'resource' is required");
        return;
    }
    heartbeat(n, call, resource, &w, false, 0);
}

static const char *lease_state(const struct node_lease *l, uint64_t now)
{
    if (!l->held) {
        return "none";
    }
    return node_lease_remaining(l, now) > 0 ? "live" : "expired";
}

static void pack_batch(msgpack_packer *pk, const struct telemetry_batch *b)
{
    msgpack_pack_map(pk, 3);
    node__pack_str(pk, "t_ms");
    msgpack_pack_int64(pk, b->t_ms);
    node__pack_str(pk, "dropped");
    msgpack_pack_uint64(pk, b->dropped);
    node__pack_str(pk, "samples");
    msgpack_pack_map(pk, b->n);
    for (size_t i = 0; i < b->n; i++) {
        node__pack_str(pk, telemetry_sample_name(b, i));
        msgpack_pack_double(pk, b->s[i].value);
    }
}

void node__telemetry_get(struct node *n, struct api_call *call)
{
    struct node_telemetry *t = &n->telemetry;
    char resource[TELEMETRY_RESOURCE_MAX + 1];
    const struct node_telemetry_resource *r;
    uint64_t now = node__now_ms();
    uint64_t last = 1;
    msgpack_packer pk;
    unsigned count;
    int rv;

    if (!replica_is_leader(&n->replica)) {
        node__reply_not_leader(n, call);
        return;
    }
    rv = node__arg_str(call->req.args, "resource", resource, sizeof resource);
    if (rv != 0) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "telemetry.get: 'resource' must be a resource "
                             "id");
        return;
    }
    rv = node__arg_u64(call->req.args, "last", &last);
    if (rv == AUGUR_EINVAL || last == 0) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "telemetry.get: 'last' must be a number of "
                             "batches from 1");
        return;
    }
    r = node_telemetry_find(t, resource);
    if (r == NULL) {
        api_call_reply_error(call, AUGUR_ENOTFOUND, NULL,
                             "the leader (node %" PRIu64
                             ") holds no telemetry for %s: its agent has not "
                             "reported to this leader",
                             n->config.id, resource);
        return;
    }
    count = last < r->count ? (unsigned)last : r->count;
    node__result_begin(n, &pk, 9);
    node__pack_str(&pk, "resource");
    node__pack_str(&pk, r->id);
    node__pack_str(&pk, "leader");
    msgpack_pack_uint64(&pk, n->config.id);
    node__pack_str(&pk, "last_report_ms");
    msgpack_pack_uint64(&pk, r->last_report_ms);
    node__pack_str(&pk, "last_seen_age_ms");
    msgpack_pack_uint64(&pk, now > r->last_seen_ms ? now - r->last_seen_ms : 0);
    node__pack_str(&pk, "lease");
    msgpack_pack_map(&pk, 3);
    node__pack_str(&pk, "state");
    node__pack_str(&pk, lease_state(&r->lease, now));
    node__pack_str(&pk, "remaining_ms");
    msgpack_pack_uint64(&pk, node_lease_remaining(&r->lease, now));
    node__pack_str(&pk, "lease_ms");
    msgpack_pack_unsigned_int(&pk, ingest_lease_ms(n));
    node__pack_str(&pk, "reports");
    msgpack_pack_uint64(&pk, r->reports);
    node__pack_str(&pk, "heartbeats");
    msgpack_pack_uint64(&pk, r->heartbeats);
    node__pack_str(&pk, "agent_dropped");
    msgpack_pack_uint64(&pk, r->agent_dropped);
    node__pack_str(&pk, "batches");
    msgpack_pack_array(&pk, count);
    for (unsigned i = 0; i < count; i++) {
        pack_batch(&pk, node_telemetry_batch(t, r, i));
    }
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

struct seed_ctx
{
    struct node *node;
    uint64_t now;
    size_t seeded;
    size_t dropped;
};

/* A leased host found by a new leader: give it a full lease now, so that
 * it is declared unreachable if its agent does not report within one. */
static void seed_one(void *arg, const char *id, int state)
{
    struct seed_ctx *ctx = arg;
    struct node *n = ctx->node;
    struct node_telemetry_resource *r;

    if (state == STORE_STATE_UNREACHABLE) {
        return; /* declared already: it has no lease until it reports */
    }
    if (node_telemetry_track(&n->telemetry, id, &r) != 0) {
        ctx->dropped++;
        return;
    }
    if (r->lease.held) {
        return; /* it reported to this leader already */
    }
    (void)node_lease_renew(&r->lease, ctx->now,
                           ingest_lease_ms(n) + INGEST_FIND_LEADER_MS);
    ctx->seeded++;
}

void node__ingest_tick(struct node *n, uint64_t now, bool leader, bool became)
{
    struct node_telemetry *t = &n->telemetry;
    struct node_telemetry_resource *r;
    size_t cursor = 0;
    uint64_t skipped;
    bool leased;
    int state;

    {
        uint64_t id = replica_leader_id(&n->replica);
        char address[STORE_ADDR_SIZE] = "";
        if (id != 0 && id != n->config.id &&
            store_node_client_address(n->store, id, address) != 0) {
            address[0] = '\0';
        }
        node_uplink_tick(&n->uplink, id, address);
    }
    lease_ms_refresh(n);
    if (!leader) {
        node_notices_clear_all(&n->notices); /* the next leader sets its own */
        if (t->n > 0) {
            /* A follower holds no telemetry: the leader it forwards to
             * does, and if it leads again it starts from fresh reports. */
            node_telemetry_clear(t);
        }
        return;
    }
    if (became) {
        /* Nothing is declared before the leased hosts are known: that
         * needs everything committed before this term applied, which is
         * the case once the log's last entry now is. */
        node_telemetry_clear(t);
        n->lease_seed_index = raft_last_index(&n->replica.raft);
        n->lease_seed_pending = true;
        n->lease_grace_until_ms = UINT64_MAX;
    }
    if (n->lease_seed_pending &&
        n->replica.raft.last_applied >= n->lease_seed_index) {
        struct seed_ctx ctx = {.node = n, .now = now};
        int rv;

        n->lease_seed_pending = false;
        n->lease_grace_until_ms =
            now + ingest_lease_ms(n) + INGEST_FIND_LEADER_MS;
        rv = store_resources_leased(n->store, seed_one, &ctx);
        LOG(rv == 0 && ctx.dropped == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
            "telemetry: a full lease (%u ms, and %d ms to find this "
            "leader) for each of %zu leased hosts%s%s",
            ingest_lease_ms(n), INGEST_FIND_LEADER_MS, ctx.seeded,
            ctx.dropped > 0 ? "; some were over --telemetry-resources" : "",
            rv != 0 ? "; the store could not list them all" : "");
    }
    while ((r = node_telemetry_next(t, &cursor)) != NULL) {
        if (!node_lease_due(&r->lease, now, n->lease_grace_until_ms)) {
            continue;
        }
        node_lease_declare(&r->lease);
        if (store_resource_state(n->store, r->id, &state, &leased) != 0 ||
            state == STORE_STATE_UNREACHABLE || state == STORE_STATE_FAILED) {
            /* Not a resource of the store (telemetry may come before it
             * is added), already declared by an earlier leader, or failed:
             * out of service already (the orchestrator marks a host it
             * evacuated so), it stays failed until an operator says
             * otherwise. */
            continue;
        }
        t->c.leases_expired++;
        /* A leader cut off from every agent declares them all at once:
         * a few lines a second name hosts, the count says the rest (every
         * verdict is in the event log). */
        if (!node_telemetry_log_burst(&t->log_leases, now, LEASE_LOG_BURST,
                                      &skipped)) {
            /* counted in skipped */
        } else if (r->last_seen_ms == 0) {
            LOG(LOG_LEVEL_WARN,
                "host %s: no report or heartbeat within the full lease (%u "
                "ms) this leader gave it: marking it unreachable (%" PRIu64
                " lease lines skipped before)",
                r->id, ingest_lease_ms(n), skipped);
        } else {
            LOG(LOG_LEVEL_WARN,
                "host %s: no report or heartbeat for %" PRIu64
                " ms (lease %u ms): marking it unreachable (%" PRIu64
                " lease lines skipped before)",
                r->id, now - r->last_seen_ms, ingest_lease_ms(n), skipped);
        }
        lease_propose(n, r->id, state, STORE_STATE_UNREACHABLE);
    }
}

void node__ingest_status_pack(struct node *n, msgpack_packer *pk)
{
    struct node_telemetry *t = &n->telemetry;
    const struct node_telemetry_resource *r;
    uint64_t now = node__now_ms();
    uint64_t live = 0;
    uint64_t expired = 0;
    size_t cursor = 0;

    while ((r = node_telemetry_next(t, &cursor)) != NULL) {
        if (r->lease.held) {
            live += node_lease_remaining(&r->lease, now) > 0;
            expired += node_lease_remaining(&r->lease, now) == 0;
        }
    }
    node__pack_str(pk, "telemetry");
    msgpack_pack_map(pk, 13);
    node__pack_str(pk, "resources");
    msgpack_pack_uint64(pk, t->n);
    node__pack_str(pk, "accepted");
    msgpack_pack_uint64(pk, t->c.accepted);
    node__pack_str(pk, "samples");
    msgpack_pack_uint64(pk, t->c.samples);
    node__pack_str(pk, "heartbeats");
    msgpack_pack_uint64(pk, t->c.heartbeats);
    node__pack_str(pk, "refused");
    msgpack_pack_uint64(pk, t->c.refused);
    node__pack_str(pk, "refused_scope");
    msgpack_pack_uint64(pk, t->c.refused_scope);
    node__pack_str(pk, "dropped");
    msgpack_pack_uint64(pk, t->c.dropped);
    node__pack_str(pk, "agent_dropped");
    msgpack_pack_uint64(pk, t->c.agent_dropped);
    node__pack_str(pk, "leases_live");
    msgpack_pack_uint64(pk, live);
    node__pack_str(pk, "leases_expired");
    msgpack_pack_uint64(pk, expired);
    node__pack_str(pk, "unreachable_declared");
    msgpack_pack_uint64(pk, t->c.leases_expired);
    node__pack_str(pk, "lease_ms");
    msgpack_pack_unsigned_int(pk, ingest_lease_ms(n));
    node__pack_str(pk, "uplink");
    msgpack_pack_map(pk, 4);
    node__pack_str(pk, "forwarded");
    msgpack_pack_uint64(pk, n->uplink.forwarded);
    node__pack_str(pk, "dropped");
    msgpack_pack_uint64(pk, n->uplink.dropped);
    node__pack_str(pk, "refused");
    msgpack_pack_uint64(pk, n->uplink.refused);
    node__pack_str(pk, "connects");
    msgpack_pack_uint64(pk, n->uplink.connects);
}
