/* The leader's orchestrator (node/orchestrator.c): reads the store, asks
 * the planner (node/plan.h), proposes what it decides and drives the
 * actuator calls of workflow steps and shadows.  Everything it holds is
 * this leader's memory of its own proposals and calls: a new leader
 * starts empty and rebuilds from the store. */
#ifndef AUGUR_NODE_ORCHESTRATOR_H
#define AUGUR_NODE_ORCHESTRATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "node/plan.h"

/* Proposals remembered so that one is not repeated until the store shows
 * its result or NODE_ORCH_RESEND_MS passed (a direct-mapped cache: a
 * collision costs one duplicate proposal, which the store's
 * compare-and-set makes harmless). */
#define NODE_ORCH_SEEN_SLOTS 4096
#define NODE_ORCH_RESEND_MS 1000
/* A proposal made again within this long of the last one is logged at
 * debug: it was refused or lost, the first one said it at info. */
#define NODE_ORCH_REPEAT_MS 60000
/* Actuator calls remembered (running or answered) at most. */
#define NODE_ORCH_CALLS_MAX 4096
/* Workflows under the rate limit remembered from the last minute. */
#define NODE_ORCH_RECENT_MAX 4096
/* After an apply, a round runs this much later: the applies of one burst
 * share it. */
#define NODE_ORCH_KICK_MS 5
/* A round runs at least this often while leader, whatever the store. */
#define NODE_ORCH_IDLE_MS 500
/* Rebalances of weak cohorts by the store's what-ifs, this often. */
#define NODE_ORCH_WHAT_IF_MS 1000
/* Failure domains are read again this often (edges and labels change
 * rarely, and a round must stay cheap). */
#define NODE_ORCH_DOMAINS_MS 5000

struct node_orch_call;

struct node_orch_host
{
    char id[PLAN_ID_SIZE];
    int state;             /* enum store_state, as last seen */
    int64_t back_at_ms;    /* when it left unreachable or failed; 0 unknown */
    int64_t down_since_ms; /* when this leader saw it unreachable; 0: not */
    bool remediated;       /* handed to the remediation hook */
    bool domains_read;
    char domain[PLAN_SPREAD_COUNT][PLAN_ID_SIZE];
};

struct node_orch_recent
{
    uint64_t id;
    int reason;
    int64_t created_at;
};

/* A workflow waiting on a prepare-shutdown notice to @host.  One notice
 * per host: the workflows of one draining host share the first one's
 * (@notice_wf) and the agent's one acknowledgement. */
struct node_orch_notice
{
    uint64_t workflow;
    uint64_t notice_wf;
    char host[PLAN_ID_SIZE];
};

struct node_orch
{
    bool leader;
    bool kicked;     /* the store moved: run a round soon */
    uv_timer_t kick; /* a round right after applies, coalesced */
    bool kick_init;
    uint64_t last_rev;
    int64_t next_round_ms;
    int64_t next_domains_ms;
    int64_t next_what_if_ms;
    /* This leader's memory. */
    struct node_orch_call **calls;
    size_t n_calls;
    struct node_orch_host *hosts; /* sorted by id */
    size_t n_hosts, cap_hosts;
    struct node_orch_recent *recent;
    size_t n_recent;
    bool recent_seeded;
    struct node_orch_notice *notices;
    size_t n_notices, cap_notices;
    uint64_t *seen_key;
    int64_t *seen_at;
    bool repeat; /* the last key seen() let through was proposed before */
    /* A round's input, kept between rounds to reuse the memory. */
    struct plan_host *in_hosts;
    size_t n_in_hosts, cap_in_hosts;
    struct plan_workload *in_wl;
    size_t n_in_wl, cap_in_wl;
    struct plan_workflow *in_wf;
    size_t n_in_wf, cap_in_wf;
    struct plan_shadow *in_sh;
    size_t n_in_sh, cap_in_sh;
    struct plan_cohort *in_co;
    size_t n_in_co, cap_in_co;
    struct plan_output out;
    int store_err; /* the last round's store error, logged once */
    /* status's "orchestrator" counters. */
    uint64_t rounds;
    uint64_t workflows_started;
    uint64_t failovers;
    uint64_t proactive;
    uint64_t rebalances;
    uint64_t shadows_provisioned;
    uint64_t last_round_us;
    unsigned inflight; /* actuator calls running */
};

#endif
