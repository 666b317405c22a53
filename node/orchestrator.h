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
#include "node/traffic.h"

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
/* A new leader's first round waits this long: the clients cut off by the
 * leader change come back at once, and a round reads the store's views on
 * the loop (70 ms at 80,000 resources on 2 busy cores), which held their
 * first requests back by as much in leader-loss trials. */
#define NODE_ORCH_LEADING_GRACE_MS 100
/* Rebalances of weak cohorts by the store's what-ifs, this often. */
#define NODE_ORCH_WHAT_IF_MS 1000
/* Failure domains are read again this often (edges and labels change
 * rarely, and a round must stay cheap). */
#define NODE_ORCH_DOMAINS_MS 5000
/* With a load balancer: every so often a round also compares this many
 * workloads' backends with their claims (node/traffic.h's query) and
 * repairs them; a new leader's first round starts at once (membership
 * changes of a leader that died are lost with it). */
#define NODE_ORCH_TRAFFIC_SYNC_MS 2000
#define NODE_ORCH_TRAFFIC_SYNC_BATCH 64
/* Failure domains read per round at most (each is a walk of the dependency
 * graph): a large fleet's are read over several rounds, never in one long
 * stall of the loop. */
#define NODE_ORCH_DOMAINS_PER_ROUND 256

/* One actuator call of this leader: for a workflow's step (keyed by the
 * workflow; one at a time) or a shadow (keyed by workload, host, epoch),
 * or a remediation (not kept: freed when answered). */
struct node_orch_call
{
    struct node *n;
    bool shadow;
    bool remediate;
    uint64_t workflow;
    unsigned step;
    uint64_t attempt;
    char workload[PLAN_ID_SIZE];
    char host[PLAN_ID_SIZE];
    uint64_t epoch;
    int action;
    int status; /* enum plan_call_status */
    int outcome;
    uint64_t attempts;
    int64_t done_at;
    int64_t owned_at;
    char detail[PLAN_DETAIL_SIZE];
    char state[32];
    bool has_lag;
    uint64_t lag_ms;
    char drift[PLAN_DRIFT_SIZE];
    /* Workflow steps: which step, between which hosts (for the load
     * balancer's part of activate, release and the undo steps). */
    char step_name[PLAN_STEP_NAME_SIZE];
    char from[PLAN_ID_SIZE];
    char to[PLAN_ID_SIZE];
    /* A traffic step: what the load-balancer driver runs once the
     * actuator's probe said where the new instance listens. */
    struct node_traffic_req traffic;
    uint64_t cooldown_ms; /* the policy's target_cooldown_s, for a fail */
    bool stale;           /* its workflow moved past its step while it ran */
};

/* A target a traffic step's validation failed on: no workflow is planned
 * onto it until @until_ms (policy target_cooldown_s). */
struct node_orch_cooldown
{
    char host[PLAN_ID_SIZE];
    int64_t until_ms;
};

struct node_orch_host
{
    char id[PLAN_ID_SIZE];
    int state;             /* enum store_state, as last seen */
    int64_t back_at_ms;    /* when it left unreachable or failed; 0 unknown */
    int64_t down_since_ms; /* when this leader saw it unreachable; 0: not */
    bool held_claims;      /* seen down while holding active claims */
    bool remediated;       /* handed to the remediation hook */
    bool domains_read;
    int64_t domains_at; /* when they were read */
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
    uint64_t last_version; /* store_orch_version at the last round */
    int64_t next_round_ms;
    int64_t not_before_ms; /* the next store-triggered round, at the
                              earliest (the rounds' own pace) */
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
    struct node_orch_cooldown *cooldowns;
    size_t n_cooldowns, cap_cooldowns;
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
    unsigned inflight;          /* actuator calls running */
    uint64_t traffic_steps;     /* traffic steps passed */
    uint64_t traffic_rollbacks; /* traffic steps failed validation */
    uint64_t traffic_repairs;   /* backends put back on their claims */
    int64_t next_sync_ms;       /* the next backends' check */
    size_t sync_cursor;         /* where in the workloads it goes on */
};

/* Shared by node/orchestrator.c and node/orchestrator_read.c. */
struct node;
struct store_policy;
/* Read a round's input at @now: @pol and @in from the store and this
 * leader's memory (@in's arrays are the orchestrator's, valid until the
 * next read).  0, AUGUR_ENOMEM or the store's error (AUGUR_EIO). */
int node__orch_read(struct node *n,
                    int64_t now,
                    struct store_policy *pol,
                    struct plan_input *in);
/* This leader's records: the call of workflow @id's current step, of a
 * shadow, the notice workflow @id waits on, the memory of host @id; NULL
 * when none. */
struct node_orch_call *node__orch_call_of_workflow(struct node_orch *o,
                                                   uint64_t id);
struct node_orch_call *node__orch_call_of_shadow(struct node_orch *o,
                                                 const char *workload,
                                                 const char *host,
                                                 uint64_t epoch);
struct node_orch_notice *node__orch_notice_find(struct node_orch *o,
                                                uint64_t id);
struct node_orch_host *node__orch_host_find(struct node_orch *o,
                                            const char *id);
/* Put @host on target cooldown until @until_ms (kept the later of two). */
void node__orch_cooldown_set(struct node_orch *o,
                             const char *host,
                             int64_t until_ms);
/* Grow *@arr (of @elem bytes each) to hold @need; false when out of
 * memory. */
bool node__orch_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
