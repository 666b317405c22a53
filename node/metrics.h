/* The Prometheus text format of what a node knows (GET /metrics): a pure
 * function from a filled struct to text, so that it is tested without a
 * node, a loop or a socket. */
#ifndef AUGUR_NODE_METRICS_H
#define AUGUR_NODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"
#include "store/store.h"

/* One resource's committed failure score. */
struct node_metrics_score
{
    char id[STORE_ID_SIZE];
    char kind[STORE_KIND_SIZE];
    double p;
};

/* Client requests answered with one result: @op is an op's wire name (or
 * "unknown"), @result "ok" or an error code's name ("ENOTFOUND").  Both
 * point to static storage. */
struct node_metrics_request
{
    const char *op;
    const char *result;
    uint64_t count;
};

/* The snapshots this node took or installed (raft/replica.h's
 * replica_snapshot_stats, copied). */
enum node_metrics_snapshot_kind
{
    NODE_METRICS_SNAPSHOT_TAKE,
    NODE_METRICS_SNAPSHOT_INSTALL,
    NODE_METRICS_SNAPSHOT_KINDS
};
struct node_metrics_snapshot
{
    struct augur_histogram seconds; /* each one that succeeded */
    uint64_t failures;
    uint64_t last_bytes;
    uint64_t bytes;
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
    /* Scoring (leader) */
    uint64_t scoring_dropped_samples;
    uint64_t scoring_uncovered;
    /* Actuator (this process) */
    uint64_t actuator_calls;
    uint64_t actuator_failures;
    unsigned actuator_inflight;
    /* Client requests answered by this node (binary protocol and HTTP),
     * by op and result, since it started: only the pairs counted. */
    size_t n_requests;
    const struct node_metrics_request *requests;
    /* Writes from their proposal on this node (as the leader) to their
     * apply answer, since it started. */
    struct augur_histogram apply_latency;
    /* Snapshots since the node started, by enum
     * node_metrics_snapshot_kind. */
    struct node_metrics_snapshot snapshots[NODE_METRICS_SNAPSHOT_KINDS];
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
