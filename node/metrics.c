/* The Prometheus text exposition format (0.0.4) of a node's metrics. */
#include <stdarg.h>
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

static void one_u64(struct metrics_text *t,
                    const char *name,
                    const char *type,
                    const char *help,
                    uint64_t v)
{
    family(t, name, type, help);
    text_add(t, "%s %llu\n", name, (unsigned long long)v);
}

static void one_double(struct metrics_text *t,
                       const char *name,
                       const char *type,
                       const char *help,
                       double v)
{
    family(t, name, type, help);
    text_add(t, "%s %.9g\n", name, v);
}

int node_metrics_format(const struct node_metrics *m, char **out, size_t *len)
{
    struct metrics_text t = {0};
    char id[2 * STORE_ID_SIZE + 1];
    char kind[2 * STORE_KIND_SIZE + 1];

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
    one_u64(&t, "augur_raft_term", "gauge", "The node's current Raft term.",
            m->term);
    one_u64(&t, "augur_raft_is_leader", "gauge",
            "1 when this node is the Raft leader, else 0.", m->is_leader);
    one_u64(&t, "augur_raft_leader_id", "gauge",
            "The id of the leader this node knows, 0 when none.", m->leader_id);
    one_u64(&t, "augur_raft_commit_index", "gauge",
            "The highest log index this node knows to be committed.",
            m->commit_index);
    one_u64(&t, "augur_raft_applied_index", "gauge",
            "The highest log index this node applied to its store.",
            m->applied_index);
    one_u64(&t, "augur_raft_last_index", "gauge",
            "The last index of this node's Raft log.", m->last_index);
    one_u64(&t, "augur_serving", "gauge",
            "1 once the node caught up with the cluster and serves clients.",
            m->serving);
    one_u64(&t, "augur_client_connections", "gauge",
            "Open connections on the client port (binary protocol).",
            m->client_connections);
    one_u64(&t, "augur_http_connections", "gauge", "Open HTTP connections.",
            m->http_connections);
    one_double(&t, "augur_policy_migrate_threshold", "gauge",
               "The policy's migrate_threshold: a host whose committed "
               "failure score reaches it is evacuated.",
               m->migrate_threshold);
    one_double(&t, "augur_policy_provision_threshold", "gauge",
               "The policy's provision_threshold: a host whose committed "
               "failure score reaches it gets shadows.",
               m->provision_threshold);

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

    one_u64(&t, "augur_orchestrator_rounds_total", "counter",
            "Orchestrator rounds run (leader, since it became leader).",
            m->orch_rounds);
    one_u64(&t, "augur_orchestrator_workflows_started_total", "counter",
            "Workflows the orchestrator started (leader).",
            m->orch_workflows_started);
    one_u64(&t, "augur_orchestrator_failovers_total", "counter",
            "Failovers of workloads off failed hosts (leader).",
            m->orch_failovers);
    one_u64(&t, "augur_orchestrator_proactive_total", "counter",
            "Proactive migrations off hosts predicted to fail (leader).",
            m->orch_proactive);
    one_u64(&t, "augur_orchestrator_rebalances_total", "counter",
            "Rebalances of weak cohorts (leader).", m->orch_rebalances);
    one_u64(&t, "augur_orchestrator_shadows_provisioned_total", "counter",
            "Shadows provisioned (leader).", m->orch_shadows_provisioned);
    one_u64(&t, "augur_traffic_steps_total", "counter",
            "Traffic steps passed (leader).", m->traffic_steps);
    one_u64(&t, "augur_traffic_rollbacks_total", "counter",
            "Traffic steps that failed validation (leader).",
            m->traffic_rollbacks);
    one_u64(&t, "augur_traffic_repairs_total", "counter",
            "Load balancer backends put back on their claims (leader).",
            m->traffic_repairs);

    one_u64(&t, "augur_telemetry_batches_total", "counter",
            "Telemetry batches accepted (leader).", m->telemetry_batches);
    one_u64(&t, "augur_telemetry_samples_total", "counter",
            "Telemetry samples ingested in accepted batches (leader).",
            m->telemetry_samples);
    one_u64(&t, "augur_telemetry_refused_total", "counter",
            "Telemetry batches refused: malformed, out of the time window or "
            "out of scope (leader).",
            m->telemetry_refused);
    one_u64(&t, "augur_telemetry_dropped_total", "counter",
            "Well-formed telemetry batches dropped over a bound (leader).",
            m->telemetry_dropped);
    one_u64(&t, "augur_telemetry_agent_dropped_samples_total", "counter",
            "Samples agents reported they lost before sending (leader).",
            m->telemetry_agent_dropped);
    one_u64(&t, "augur_lease_expiries_total", "counter",
            "Host leases that expired: unreachable declarations proposed "
            "(leader).",
            m->lease_expiries);

    one_u64(&t, "augur_actuator_calls_total", "counter",
            "Actuator calls answered by this node.", m->actuator_calls);
    one_u64(&t, "augur_actuator_failures_total", "counter",
            "Actuator calls answered with a failure.", m->actuator_failures);
    one_u64(&t, "augur_actuator_inflight", "gauge",
            "Actuator calls running or queued.", m->actuator_inflight);

    if (t.err != 0) {
        free(t.buf);
        return t.err;
    }
    *out = t.buf;
    *len = t.len;
    return 0;
}
