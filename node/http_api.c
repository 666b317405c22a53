/* augurd's HTTP endpoints (docs/HTTP.md): /healthz, /readyz and /metrics,
 * answered on the loop from what the node holds.  The server itself is
 * node/http.c; the metrics text is node/metrics.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/error.h"
#include "common/log.h"
#include "node/http_ui.h"
#include "node/assets.h"
#include "node/metrics.h"
#include "node/node.h"

/* A node is ready while its applied index trails its commit index by at
 * most this many entries (a follower applying a burst stays ready). */
#define NODE_HTTP_READY_LAG 64

static void reply_status_ok(struct node_http_reply *reply, const char *status)
{
    json_t *j = json_pack("{s:s}", "status", status);
    if (j == NULL) {
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    node_http_json(reply, MHD_HTTP_OK, j);
    json_decref(j);
}

static void readyz(struct node *n, struct node_http_reply *reply)
{
    struct raft *raft = &n->replica.raft;
    uint64_t leader = replica_leader_id(&n->replica);
    json_t *j;

    if (n->stopping) {
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "ESHUTDOWN",
                        "node %" PRIu64 " is shutting down", n->config.id);
        return;
    }
    if (leader == 0) {
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "ENOLEADER",
                        "node %" PRIu64 " knows no leader", n->config.id);
        return;
    }
    if (raft->commit_index > raft->last_applied + NODE_HTTP_READY_LAG) {
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "ENOLEADER",
                        "node %" PRIu64
                        " applied %llu of %llu committed "
                        "entries",
                        n->config.id, (unsigned long long)raft->last_applied,
                        (unsigned long long)raft->commit_index);
        return;
    }
    if (!node__serving(n)) {
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "ENOLEADER",
                        "node %" PRIu64 " is catching up with the cluster",
                        n->config.id);
        return;
    }
    j = json_pack("{s:s,s:I,s:I,s:I}", "status", "ready", "leader",
                  (json_int_t)leader, "commit_index",
                  (json_int_t)raft->commit_index, "applied_index",
                  (json_int_t)raft->last_applied);
    if (j == NULL) {
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    node_http_json(reply, MHD_HTTP_OK, j);
    json_decref(j);
}

/* Scores collected from the store's resource view. */
struct score_list
{
    struct node_metrics_score *v;
    size_t n, cap;
};

static int collect_score(void *arg, const struct store_resource_view *r)
{
    struct score_list *l = arg;

    if (!r->has_score) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 64 : l->cap * 2;
        struct node_metrics_score *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            return AUGUR_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].id, sizeof l->v[l->n].id, "%s", r->id);
    snprintf(l->v[l->n].kind, sizeof l->v[l->n].kind, "%s", r->kind);
    l->v[l->n].p = r->p;
    l->n++;
    return 0;
}

static int count_workflow(void *arg, const struct store_workflow *w)
{
    uint64_t *by_state = arg;
    if (w->state >= 0 && w->state < STORE_WF_STATE_COUNT) {
        by_state[w->state]++;
    }
    return 0;
}

static void metrics(struct node *n, struct node_http_reply *reply)
{
    struct raft *raft = &n->replica.raft;
    const struct replica_snapshot_stats *snap[NODE_METRICS_SNAPSHOT_KINDS] = {
        [NODE_METRICS_SNAPSHOT_TAKE] = &n->replica.snap_taken,
        [NODE_METRICS_SNAPSHOT_INSTALL] = &n->replica.snap_installed,
    };
    struct node_metrics_request *reqs;
    size_t n_reqs = 0;
    struct node_metrics m;
    struct score_list scores = {0};
    struct store_policy policy;
    struct actuator_stats st;
    int rv;

    memset(&m, 0, sizeof m);
    m.node_id = n->config.id;
    m.term = raft->current_term;
    m.is_leader = replica_is_leader(&n->replica);
    m.leader_id = replica_leader_id(&n->replica);
    m.commit_index = raft->commit_index;
    m.applied_index = raft->last_applied;
    m.last_index = raft_last_index(raft);
    m.serving = n->serving;
    m.client_connections = n->server.n_conns;
    m.http_connections = node_http_connections(n->http);

    rv = store_policy_get(n->store, &policy);
    if (rv != 0) {
        store_policy_defaults(&policy);
    }
    m.migrate_threshold = policy.migrate_threshold;
    m.provision_threshold = policy.provision_threshold;
    rv = store_resources_each(n->store, collect_score, &scores);
    if (rv == 0) {
        rv = store_workflows_each(n->store, false, count_workflow, m.workflows);
    }
    if (rv != 0) {
        free(scores.v);
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, augur_errname(rv),
                        "reading the store: %s", augur_strerror(rv));
        return;
    }
    m.scores = scores.v;
    m.n_scores = scores.n;

    m.orch_rounds = n->orch.rounds;
    m.orch_workflows_started = n->orch.workflows_started;
    m.orch_failovers = n->orch.failovers;
    m.orch_proactive = n->orch.proactive;
    m.orch_rebalances = n->orch.rebalances;
    m.orch_shadows_provisioned = n->orch.shadows_provisioned;
    m.traffic_steps = n->orch.traffic_steps;
    m.traffic_rollbacks = n->orch.traffic_rollbacks;
    m.traffic_repairs = n->orch.traffic_repairs;

    m.telemetry_batches = n->telemetry.c.accepted;
    m.telemetry_samples = n->telemetry.c.samples;
    m.telemetry_refused = n->telemetry.c.refused;
    m.telemetry_dropped = n->telemetry.c.dropped;
    m.telemetry_agent_dropped = n->telemetry.c.agent_dropped;
    m.scoring_dropped_samples = n->scoring.live.stats.dropped_metrics;
    m.scoring_uncovered = n->scoring.live.stats.uncovered;
    m.lease_expiries = n->telemetry.c.leases_expired;

    actuator_stats_get(n->actuator, &st);
    m.actuator_calls = st.calls;
    m.actuator_failures = st.failures;
    m.actuator_inflight = st.inflight;

    /* The (op, result) pairs counted so far: a few dozen in practice. */
    reqs = malloc(sizeof n->requests / sizeof n->requests[0][0] * sizeof *reqs);
    if (reqs == NULL) {
        free(scores.v);
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    for (int op = 0; op < AUGUR_OP_COUNT; op++) {
        for (int r = 0; r <= AUGUR_ERR_COUNT; r++) {
            if (n->requests[op][r] == 0) {
                continue;
            }
            reqs[n_reqs].op =
                op == AUGUR_OP_NONE ? "unknown" : augur_op_wire(op);
            reqs[n_reqs].result = r == 0 ? "ok" : augur_errname(r);
            reqs[n_reqs].count = n->requests[op][r];
            n_reqs++;
        }
    }
    m.requests = reqs;
    m.n_requests = n_reqs;
    m.apply_latency = n->apply_latency;
    for (int k = 0; k < NODE_METRICS_SNAPSHOT_KINDS; k++) {
        m.snapshots[k].seconds = snap[k]->seconds;
        m.snapshots[k].failures = snap[k]->failures;
        m.snapshots[k].last_bytes = snap[k]->last_bytes;
        m.snapshots[k].bytes = snap[k]->bytes;
    }

    rv = node_metrics_format(&m, &reply->body, &reply->len);
    free(reqs);
    free(scores.v);
    if (rv != 0) {
        reply->body = NULL;
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    reply->status = MHD_HTTP_OK;
    reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* /metrics: public with --metrics-public, else for a reader's token. */
static void metrics_authorized(struct node *n,
                               const struct node_http_request *req,
                               struct node_http_reply *reply)
{
    struct node_token t;

    if (!n->config.metrics_public) {
        if (!node__http_authorize(n, req, reply, &t)) {
            return;
        }
        if (store_role_rank(t.store_role) < AUGUR_ROLE_READER) {
            node_http_error(reply, MHD_HTTP_FORBIDDEN, "EPERM",
                            "principal %s (role %s) may not read /metrics: "
                            "a reader's token or more is needed",
                            t.principal, store_role_name(t.store_role));
            return;
        }
    }
    metrics(n, reply);
}

/* GET /v1/openapi.json: docs/openapi.json, embedded at build time. */
static void openapi(const struct node_http_request *req,
                    struct node_http_reply *reply)
{
    const struct node_asset *a = node_asset_find("v1/openapi.json");

    if (strcmp(req->method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(req->method, MHD_HTTP_METHOD_HEAD) != 0) {
        node_http_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED, "EINVAL",
                        "%.200s takes GET only, not %.20s", req->path,
                        req->method);
        reply->allow = "GET, HEAD";
        return;
    }
    if (a == NULL) {
        node_http_error(reply, MHD_HTTP_NOT_FOUND, "ENOTFOUND",
                        "this augurd was built without its OpenAPI document");
        return;
    }
    reply->body = malloc(a->len > 0 ? a->len : 1);
    if (reply->body == NULL) {
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    memcpy(reply->body, a->data, a->len);
    reply->len = a->len;
    reply->status = MHD_HTTP_OK;
    reply->content_type = a->content_type;
}

static void on_http_request(void *data,
                            const struct node_http_request *req,
                            struct node_http_reply *reply)
{
    struct node *n = data;
    bool get = strcmp(req->method, MHD_HTTP_METHOD_GET) == 0 ||
               strcmp(req->method, MHD_HTTP_METHOD_HEAD) == 0;
    static const char *const known[] = {"/healthz", "/readyz", "/metrics"};
    bool found = false;

    if (strcmp(req->path, "/v1/events") == 0) {
        node__http_events(n, req, reply);
        return;
    }
    if (strcmp(req->path, "/v1/openapi.json") == 0) {
        openapi(req, reply); /* no token: it describes, it reveals nothing */
        return;
    }
    if (strncmp(req->path, "/v1/", 4) == 0) {
        node__http_v1(n, req, reply);
        return;
    }
    if (node__http_ui(req, reply)) {
        return; /* the web UI's files: no token (node/http_ui.c) */
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        found = found || strcmp(req->path, known[i]) == 0;
    }
    if (!found) {
        node_http_error(reply, MHD_HTTP_NOT_FOUND, "ENOTFOUND",
                        "no such endpoint: %.200s", req->path);
        return;
    }
    if (!get) {
        node_http_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED, "EINVAL",
                        "%.200s takes GET only, not %.20s", req->path,
                        req->method);
        reply->allow = "GET, HEAD";
        return;
    }
    if (strcmp(req->path, "/healthz") == 0) {
        reply_status_ok(reply, "ok");
    } else if (strcmp(req->path, "/readyz") == 0) {
        readyz(n, reply);
    } else {
        metrics_authorized(n, req, reply);
    }
}

int node__http_start(struct node *n)
{
    struct node_http_config hc;
    char err[NODE_HTTP_ERRMSG_SIZE];
    int rv;

    if (n->config.http_address[0] == '\0') {
        return 0;
    }
    memset(&hc, 0, sizeof hc);
    hc.address = n->config.http_address;
    hc.max_conns = n->config.http_max_conns;
    hc.header_bytes = n->config.http_header_bytes;
    hc.body_max = n->config.http_body_max;
    hc.timeout_s = n->config.http_timeout_s;
    hc.tls_cert = n->http_tls.cert; /* NULL: plain HTTP */
    hc.tls_key = n->http_tls.key;
    rv = node__http_v1_init(n);
    if (rv == 0) {
        rv = node__http_events_init(n);
    }
    if (rv != 0) {
        node__http_v1_close(n);
        snprintf(n->errmsg, sizeof n->errmsg, "http: out of memory");
        return rv;
    }
    rv = node_http_start(&n->loop, &hc, on_http_request, n, &n->http, err);
    if (rv != 0) {
        node__http_v1_close(n);
        node__http_events_close(n);
        snprintf(n->errmsg, sizeof n->errmsg, "%s", err);
        return rv;
    }
    LOG(LOG_LEVEL_INFO, "serving %s on %s (metrics %s)",
        hc.tls_cert != NULL ? "HTTPS" : "HTTP", n->config.http_address,
        n->config.metrics_public ? "public" : "with a token");
    return 0;
}

void node__http_close(struct node *n)
{
    node__http_v1_close(n);
    node__http_events_close(n);
    node_http_close(n->http);
    n->http = NULL;
}
