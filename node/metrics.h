/* The Prometheus text format of what a node knows (GET /metrics): a pure
 * function from a filled struct to text, so that it is tested without a
 * node, a loop or a socket. */
#ifndef AUGUR_NODE_METRICS_H
#define AUGUR_NODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One resource's committed failure score. */
struct node_metrics_score
{
    char id[STORE_ID_SIZE];
    char kind[STORE_KIND_SIZE];
    double p;
};

/* Everything /metrics shows, gathered by node/http_api.c on the loop.
 * Counters marked "leader" count since this node last became the leader
 * (0 on a follower; Prometheus treats the drop as a counter reset). */
struct node_metrics
{
    uint64_t node_id;
    /* Raft */
    uint64_t term;
    bool is_leader;
    uint64_t leader_id; /* 0: none known */
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_index;
    bool serving; /* node__serving */
    /* Connections */
    unsigned client_connections; /* binary protocol */
    unsigned http_connections;
    /* Policy thresholds (for alert rules that compare scores with them) */
    double migrate_threshold;
    double provision_threshold;
    /* Scores (committed, every node) */
    size_t n_scores;
    const struct node_metrics_score *scores;
    /* Workflows kept in the store, by enum store_wf_state */
    uint64_t workflows[STORE_WF_STATE_COUNT];
    /* Orchestrator (leader) */
    uint64_t orch_rounds;
    uint64_t orch_workflows_started;
    uint64_t orch_failovers;
    uint64_t orch_proactive;
    uint64_t orch_rebalances;
    uint64_t orch_shadows_provisioned;
    uint64_t traffic_steps;
    uint64_t traffic_rollbacks;
    uint64_t traffic_repairs;
    /* Telemetry (leader) */
    uint64_t telemetry_batches;
    uint64_t telemetry_samples;
    uint64_t telemetry_refused;
    uint64_t telemetry_dropped;
    uint64_t telemetry_agent_dropped;
    uint64_t lease_expiries;
    /* Actuator (this process) */
    uint64_t actuator_calls;
    uint64_t actuator_failures;
    unsigned actuator_inflight;
};

/* Format @m as the Prometheus text exposition format 0.0.4: every family
 * with its HELP and TYPE lines, label values escaped (\\, \" and \n).
 * Returns 0 with *@out a NUL-terminated malloc'd buffer of *@len bytes
 * (the caller frees it), or AUGUR_ENOMEM. */
int node_metrics_format(const struct node_metrics *m,
                        char **out,
                        size_t *len) STORE_WARN_UNUSED;

/* Append @s to @dst (@size bytes) as a label value: \ " and newline
 * escaped.  Returns the bytes the escaped value needs (without the NUL),
 * like snprintf; truncated output is still NUL-terminated. */
size_t node_metrics_escape(char *dst, size_t size, const char *s);

#endif
