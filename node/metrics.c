/* The Prometheus text exposition format (0.0.4) of a node's metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node/metrics.h"

/* A growing text buffer; the first failed allocation sticks in @err. */
struct metrics_text
{
    char *buf;
    size_t len, cap;
    int err;
};

static void text_add(struct metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_add(struct metrics_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->err != 0) {
        return;
    }
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->err = AUGUR_EINTERNAL;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 > t->len + (size_t)n + 1
                         ? t->cap * 2
                         : t->len + (size_t)n + 1;
        char *p = realloc(t->buf, cap);
        if (p == NULL) {
            t->err = AUGUR_ENOMEM;
            return;
        }
        t->buf = p;
        t->cap = cap;
    }
}

size_t node_metrics_escape(char *dst, size_t size, const char *s)
{
    size_t need = 0;

    for (; *s != '\0'; s++) {
        const char *rep = NULL;
        char one[2] = {*s, '\0'};
        if (*s == '\\') {
            rep = "\\\\";
        } else if (*s == '"') {
            rep = "\\\"";
        } else if (*s == '\n') {
            rep = "\\n";
        } else {
            rep = one;
        }
        for (const char *r = rep; *r != '\0'; r++) {
            if (need + 1 < size) {
                dst[need] = *r;
            }
            need++;
        }
    }
    if (size > 0) {
        dst[need < size ? need : size - 1] = '\0';
    }
    return need;
}

/* HELP and TYPE of a family.  HELP text is ours: no escaping needed. */
static void family(struct metrics_text *t,
                   const char *name,
                   const char *type,
                   const char *help)
{
    text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The families of one unlabelled sample each: one row a family, read from
 * the struct by offset and type. */
enum scalar_type
{
    SCALAR_U64,
    SCALAR_UNSIGNED,
    SCALAR_BOOL,
    SCALAR_DOUBLE
};

struct scalar_family
{
    const char *name;
    const char *type; /* "gauge" or "counter" */
    const char *help;
    size_t offset;
    enum scalar_type value;
};

#define FIELD(F, T) offsetof(struct node_metrics, F), SCALAR_##T

static const struct scalar_family scalars[] = {
    {"augur_raft_term", "gauge", "The node's current Raft term.",
     FIELD(term, U64)},
    {"augur_raft_is_leader", "gauge",
     "1 when this node is the Raft leader, else 0.", FIELD(is_leader, BOOL)},
    {"augur_raft_leader_id", "gauge",
     "The id of the leader this node knows, 0 when none.",
     FIELD(leader_id, U64)},
    {"augur_raft_commit_index", "gauge",
     "The highest log index this node knows to be committed.",
     FIELD(commit_index, U64)},
    {"augur_raft_applied_index", "gauge",
     "The highest log index this node applied to its store.",
     FIELD(applied_index, U64)},
    {"augur_raft_last_index", "gauge",
     "The last index of this node's Raft log.", FIELD(last_index, U64)},
    {"augur_serving", "gauge",
     "1 once the node caught up with the cluster and serves clients.",
     FIELD(serving, BOOL)},
    {"augur_client_connections", "gauge",
     "Open connections on the client port (binary protocol).",
     FIELD(client_connections, UNSIGNED)},
    {"augur_http_connections", "gauge", "Open HTTP connections.",
     FIELD(http_connections, UNSIGNED)},
    {"augur_policy_migrate_threshold", "gauge",
     "The policy's migrate_threshold: a host whose committed failure score "
     "reaches it is evacuated.",
     FIELD(migrate_threshold, DOUBLE)},
    {"augur_policy_provision_threshold", "gauge",
     "The policy's provision_threshold: a host whose committed failure score "
     "reaches it gets shadows.",
     FIELD(provision_threshold, DOUBLE)},
    {"augur_orchestrator_rounds_total", "counter",
     "Orchestrator rounds run (leader, since it became leader).",
     FIELD(orch_rounds, U64)},
    {"augur_orchestrator_workflows_started_total", "counter",
     "Workflows the orchestrator started (leader).",
     FIELD(orch_workflows_started, U64)},
    {"augur_orchestrator_failovers_total", "counter",
     "Failovers of workloads off failed hosts (leader).",
     FIELD(orch_failovers, U64)},
    {"augur_orchestrator_proactive_total", "counter",
     "Proactive migrations off hosts predicted to fail (leader).",
     FIELD(orch_proactive, U64)},
    {"augur_orchestrator_rebalances_total", "counter",
     "Rebalances of weak cohorts (leader).", FIELD(orch_rebalances, U64)},
    {"augur_orchestrator_shadows_provisioned_total", "counter",
     "Shadows provisioned (leader).", FIELD(orch_shadows_provisioned, U64)},
    {"augur_traffic_steps_total", "counter", "Traffic steps passed (leader).",
     FIELD(traffic_steps, U64)},
    {"augur_traffic_rollbacks_total", "counter",
     "Traffic steps that failed validation (leader).",
     FIELD(traffic_rollbacks, U64)},
    {"augur_traffic_repairs_total", "counter",
     "Load balancer backends put back on their claims (leader).",
     FIELD(traffic_repairs, U64)},
    {"augur_telemetry_batches_total", "counter",
     "Telemetry batches accepted (leader).", FIELD(telemetry_batches, U64)},
    {"augur_telemetry_samples_total", "counter",
     "Telemetry samples ingested in accepted batches (leader).",
     FIELD(telemetry_samples, U64)},
    {"augur_telemetry_refused_total", "counter",
     "Telemetry batches refused: malformed, out of the time window or out of "
     "scope (leader).",
     FIELD(telemetry_refused, U64)},
    {"augur_telemetry_dropped_total", "counter",
     "Well-formed telemetry batches dropped over a bound (leader).",
     FIELD(telemetry_dropped, U64)},
    {"augur_telemetry_agent_dropped_samples_total", "counter",
     "Samples agents reported they lost before sending (leader).",
     FIELD(telemetry_agent_dropped, U64)},
    {"augur_scoring_dropped_samples_total", "counter",
     "Telemetry samples scoring dropped: metrics of a resource past the "
     "per-resource cap (leader).",
     FIELD(scoring_dropped_samples, U64)},
    {"augur_scoring_uncovered_total", "counter",
     "Model scorings that fell back to the anomaly score: the resource "
     "reported too few of the model's features (leader).",
     FIELD(scoring_uncovered, U64)},
    {"augur_lease_expiries_total", "counter",
     "Host leases that expired: unreachable declarations proposed (leader).",
     FIELD(lease_expiries, U64)},
    {"augur_actuator_calls_total", "counter",
     "Actuator calls answered by this node.", FIELD(actuator_calls, U64)},
    {"augur_actuator_failures_total", "counter",
     "Actuator calls answered with a failure.", FIELD(actuator_failures, U64)},
    {"augur_actuator_inflight", "gauge", "Actuator calls running or queued.",
     FIELD(actuator_inflight, UNSIGNED)},
};

#undef FIELD

static void scalar(struct metrics_text *t,
                   const struct node_metrics *m,
                   const struct scalar_family *f)
{
    const char *p = (const char *)m + f->offset;

    family(t, f->name, f->type, f->help);
    switch (f->value) {
        case SCALAR_U64:
            text_add(t, "%s %llu\n", f->name,
                     (unsigned long long)*(const uint64_t *)(const void *)p);
            break;
        case SCALAR_UNSIGNED:
            text_add(t, "%s %u\n", f->name, *(const unsigned *)(const void *)p);
            break;
        case SCALAR_BOOL:
            text_add(t, "%s %d\n", f->name,
                     *(const bool *)(const void *)p ? 1 : 0);
            break;
        case SCALAR_DOUBLE:
            text_add(t, "%s %.9g\n", f->name, *(const double *)(const void *)p);
            break;
    }
}

/* The samples of histogram @name (its family written already): buckets
 * cumulative up to +Inf, then _sum and _count; with the label kind="@kind"
 * unless @kind is NULL. */
static void histogram(struct metrics_text *t,
                      const char *name,
                      const char *kind,
                      const struct augur_histogram *h)
{
    char before_le[48] = "";
    char only[48] = "";
    uint64_t below = 0;

    if (kind != NULL) {
        snprintf(before_le, sizeof before_le, "kind=\"%s\",", kind);
        snprintf(only, sizeof only, "{kind=\"%s\"}", kind);
    }
    for (int i = 0; i <= AUGUR_HISTOGRAM_BOUNDS; i++) {
        below += h->buckets[i];
        if (i < AUGUR_HISTOGRAM_BOUNDS) {
            text_add(t, "%s_bucket{%sle=\"%g\"} %llu\n", name, before_le,
                     augur_histogram_bounds[i], (unsigned long long)below);
        } else {
            text_add(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, before_le,
                     (unsigned long long)below);
        }
    }
    text_add(t, "%s_sum%s %.9g\n", name, only, h->sum);
    text_add(t, "%s_count%s %llu\n", name, only, (unsigned long long)h->count);
}

static const char *const snapshot_kind[NODE_METRICS_SNAPSHOT_KINDS] = {
    [NODE_METRICS_SNAPSHOT_TAKE] = "take",
    [NODE_METRICS_SNAPSHOT_INSTALL] = "install",
};

/* The snapshot families: the durations' histogram, then one sample per
 * kind of each counted field. */
static void snapshots(struct metrics_text *t, const struct node_metrics *m)
{
    static const struct
    {
        const char *name;
        const char *type;
        const char *help;
        size_t offset; /* of a uint64_t in struct node_metrics_snapshot */
    } fields[] = {
        {"augur_snapshot_failures_total", "counter",
         "Snapshots that failed: taking one, or installing one (refused).",
         offsetof(struct node_metrics_snapshot, failures)},
        {"augur_snapshot_last_size_bytes", "gauge",
         "The size of the last snapshot taken or installed.",
         offsetof(struct node_metrics_snapshot, last_bytes)},
        {"augur_snapshot_bytes_total", "counter",
         "The sizes of all the snapshots taken or installed.",
         offsetof(struct node_metrics_snapshot, bytes)},
    };

    family(t, "augur_snapshot_duration_seconds", "histogram",
           "Snapshots that succeeded, by how long they took: take, from "
           "pinning the state to libraft having stored it; install, "
           "restoring one into the store (at start, or one the leader "
           "sent).");
    for (int k = 0; k < NODE_METRICS_SNAPSHOT_KINDS; k++) {
        histogram(t, "augur_snapshot_duration_seconds", snapshot_kind[k],
                  &m->snapshots[k].seconds);
    }
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        family(t, fields[f].name, fields[f].type, fields[f].help);
        for (int k = 0; k < NODE_METRICS_SNAPSHOT_KINDS; k++) {
            const char *s = (const char *)&m->snapshots[k];
            uint64_t v =
                *(const uint64_t *)(const void *)(s + fields[f].offset);
            text_add(t, "%s{kind=\"%s\"} %llu\n", fields[f].name,
                     snapshot_kind[k], (unsigned long long)v);
        }
    }
}

int node_metrics_format(const struct node_metrics *m, char **out, size_t *len)
{
    struct metrics_text t = {0};
    char id[2 * STORE_ID_SIZE + 1];
    char kind[2 * STORE_KIND_SIZE + 1];
    char op[128];

    t.cap = 8192;
    t.buf = malloc(t.cap);
    if (t.buf == NULL) {
        return AUGUR_ENOMEM;
    }
    t.buf[0] = '\0';

    family(&t, "augur_node_info", "gauge",
           "Always 1; the label node is this node's id.");
    text_add(&t, "augur_node_info{node=\"%llu\"} 1\n",
             (unsigned long long)m->node_id);
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        scalar(&t, m, &scalars[i]);
    }

    family(&t, "augur_resource_failure_score", "gauge",
           "A resource's committed failure probability (p_fail), for the "
           "resources that have one.");
    for (size_t i = 0; i < m->n_scores; i++) {
        node_metrics_escape(id, sizeof id, m->scores[i].id);
        node_metrics_escape(kind, sizeof kind, m->scores[i].kind);
        text_add(&t,
                 "augur_resource_failure_score{resource=\"%s\",kind=\"%s\"} "
                 "%.9g\n",
                 id, kind, m->scores[i].p);
    }

    family(&t, "augur_workflows", "gauge",
           "Migration workflows kept in the store, by state.");
    for (int s = 0; s < STORE_WF_STATE_COUNT; s++) {
        text_add(&t, "augur_workflows{state=\"%s\"} %llu\n",
                 store_wf_state_name(s), (unsigned long long)m->workflows[s]);
    }

    family(&t, "augur_client_requests_total", "counter",
           "Client requests this node answered (binary protocol and HTTP), "
           "by op and result: ok or the error code.");
    for (size_t i = 0; i < m->n_requests; i++) {
        node_metrics_escape(op, sizeof op, m->requests[i].op);
        node_metrics_escape(kind, sizeof kind, m->requests[i].result);
        text_add(&t,
                 "augur_client_requests_total{op=\"%s\",result=\"%s\"} "
                 "%llu\n",
                 op, kind, (unsigned long long)m->requests[i].count);
    }

    family(&t, "augur_apply_latency_seconds", "histogram",
           "Writes from their proposal on this node as the leader to their "
           "apply answer.");
    histogram(&t, "augur_apply_latency_seconds", NULL, &m->apply_latency);
    snapshots(&t, m);

    if (t.err != 0) {
        free(t.buf);
        return t.err;
    }
    *out = t.buf;
    *len = t.len;
    return 0;
}
