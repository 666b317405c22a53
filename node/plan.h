/* The orchestrator's planner: pure functions from what the store holds
 * (hosts, workloads, workflows, shadows, cohorts, policy) and what this
 * leader remembers of its actuator calls to the decisions of one round.
 * No store, no loop, no clock: the time is an argument, so every rule
 * tests without a cluster (tests/unit/node/test_plan.c). */
#ifndef AUGUR_NODE_PLAN_H
#define AUGUR_NODE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The same sizes as the store's (node/orchestrator.c checks). */
#define PLAN_ID_SIZE 128
#define PLAN_STEP_NAME_SIZE 16
#define PLAN_DETAIL_SIZE 128
#define PLAN_DRIFT_SIZE 64
#define PLAN_STEPS_MAX 32

/* Timings of the planner's own (not policy): the backoff before an
 * actuator step is retried (times the attempt), the cadence of probes of
 * warm shadows, and the lag change that is worth a shadow.update. */
#define PLAN_RETRY_BACKOFF_MS 200
#define PLAN_PROBE_MS 3000
#define PLAN_LAG_DELTA_MS 1000
/* An unreachable host whose claims were failed over is marked failed only
 * after it has been unreachable this long: an agent's blip of a lease or
 * two must not take a host out of service for good. */
#define PLAN_FAIL_AFTER_MS 3000
/* A rebalance must raise its cohort's resilience by this much at least. */
#define PLAN_WHAT_IF_GAIN 0.01

/* Host states, as far as the planner tells them apart. */
enum plan_host_state
{
    PLAN_HOST_ACTIVE,
    PLAN_HOST_DEGRADED,
    PLAN_HOST_DRAINING,
    PLAN_HOST_UNREACHABLE,
    PLAN_HOST_FAILED,
    PLAN_HOST_OTHER /* standby, quarantined: neither source nor target */
};

/* Failure domains, the same order as enum store_spread. */
enum plan_spread
{
    PLAN_SPREAD_NONE,
    PLAN_SPREAD_HOST,
    PLAN_SPREAD_RACK,
    PLAN_SPREAD_ZONE,
    PLAN_SPREAD_PSU,
    PLAN_SPREAD_SWITCH,
    PLAN_SPREAD_COUNT
};

/* The same values as enum store_strategy, store_reason, store_wf_state,
 * store_step_state and store_shadow_state. */
enum plan_strategy
{
    PLAN_STRATEGY_LIVE,
    PLAN_STRATEGY_STANDBY,
    PLAN_STRATEGY_BLUE_GREEN
};
enum plan_reason
{
    PLAN_REASON_PREDICTED,
    PLAN_REASON_FAILED,
    PLAN_REASON_MANUAL,
    PLAN_REASON_REBALANCE
};
enum plan_wf_state
{
    PLAN_WF_PENDING,
    PLAN_WF_RUNNING,
    PLAN_WF_DONE,
    PLAN_WF_ROLLED_BACK,
    PLAN_WF_FAILED,
    PLAN_WF_CANCELLED
};
enum plan_step_state
{
    PLAN_STEP_PENDING,
    PLAN_STEP_RUNNING,
    PLAN_STEP_DONE,
    PLAN_STEP_FAILED,
    PLAN_STEP_SKIPPED
};
enum plan_shadow_state
{
    PLAN_SHADOW_PROVISIONING,
    PLAN_SHADOW_WARM,
    PLAN_SHADOW_ACTIVE,
    PLAN_SHADOW_RELEASED
};

/* workflow.advance events, in the order of the wire names. */
enum plan_event
{
    PLAN_EVENT_START,
    PLAN_EVENT_OK,
    PLAN_EVENT_RETRY,
    PLAN_EVENT_FAIL,
    PLAN_EVENT_SKIP
};

/* Actuator actions (docs/ORCHESTRATOR.md, "Actuator protocol"). */
enum plan_action
{
    PLAN_ACTION_NONE,
    PLAN_ACTION_PREPARE,
    PLAN_ACTION_ACTIVATE,
    PLAN_ACTION_STOP,
    PLAN_ACTION_PROVISION,
    PLAN_ACTION_DEPROVISION,
    PLAN_ACTION_PROBE,
    PLAN_ACTION_REMEDIATE,
    /* Traffic steps, run by the leader's load-balancer driver
     * (node/traffic.h), not by the actuator. */
    PLAN_ACTION_MIRROR,
    PLAN_ACTION_SHIFT,
    PLAN_ACTION_UNSHIFT
};

/* Whether @action is a traffic step's. */
#define PLAN_ACTION_IS_TRAFFIC(action)                                  \
    ((action) == PLAN_ACTION_MIRROR || (action) == PLAN_ACTION_SHIFT || \
     (action) == PLAN_ACTION_UNSHIFT)

/* Outcomes of an actuator call, as node/actuator.h reports them. */
enum plan_outcome
{
    PLAN_OUTCOME_OK,
    PLAN_OUTCOME_RETRY,
    PLAN_OUTCOME_REFUSED
};

struct plan_capacity
{
    uint64_t cpu;
    uint64_t mem_mb;
};

struct plan_policy
{
    double migrate_threshold;
    double provision_threshold;
    double hysteresis;
    uint64_t cooldown_s;
    uint64_t host_cooldown_s;
    uint64_t max_concurrent;
    uint64_t max_concurrent_cohort;
    uint64_t rate_per_min;
    uint64_t shadow_budget_cpu;
    uint64_t shadow_budget_mem_mb;
    bool automatic;
    uint64_t max_attempts;
    uint64_t keep_warm_s;
    uint64_t shutdown_deadline_ms;
    /* Traffic steps (issue 15). */
    uint64_t shift_dwell_ms;
    uint64_t mirror_ms;
    double kpi_max_error_rate;
    double kpi_max_latency_ratio;
    uint64_t target_cooldown_s;
};

/* The planner's policy from the store's (one source of the defaults:
 * store_policy_defaults). */
struct store_policy;
void plan_policy_from_store(const struct store_policy *s,
                            struct plan_policy *p);

/* A resource.  Only resources of kind host are candidates (@is_host); the
 * others may still hold claims. */
struct plan_host
{
    char id[PLAN_ID_SIZE];
    bool is_host;
    int state; /* enum plan_host_state */
    struct plan_capacity capacity;
    struct plan_capacity used; /* by active claims */
    double p;                  /* committed p_fail; 0 when none */
    /* Its risk as a target: p combined with the committed p of what it
     * depends on (its PSU, its switch); below @p it counts as @p. */
    double risk;
    /* When the host last came back from unreachable or failed (this
     * leader's memory); 0 when unknown, which is not a cooldown. */
    int64_t back_at_ms;
    /* Since when this leader has seen it unreachable (0: not). */
    int64_t down_since_ms;
    /* This leader saw it down while it held active claims: once they are
     * failed over it is marked failed.  A host that held nothing (an idle
     * host whose agent stopped) stays unreachable until its agent is back
     * or an operator decides. */
    bool held_claims;
    /* Its failure domain per spread kind ("" when it has none). */
    char domain[PLAN_SPREAD_COUNT][PLAN_ID_SIZE];
    /* A traffic step's validation failed on it as a target: no workflow
     * is planned onto it before this time (policy target_cooldown_s;
     * this leader's memory, seeded from the kept workflows). */
    int64_t target_cooldown_until_ms;
};

struct plan_workload
{
    char id[PLAN_ID_SIZE];
    struct plan_capacity demand;
    int64_t priority;
    int strategy; /* enum plan_strategy */
    bool claimed;
    char host[PLAN_ID_SIZE]; /* its active claim's host */
    uint64_t epoch;
    int cohort;           /* index into plan_input.cohorts; -1: none */
    int64_t last_move_ms; /* when its last workflow ended; 0: never */
};

struct plan_cohort
{
    char name[PLAN_ID_SIZE];
    int spread; /* enum plan_spread */
    double min_resilience;
    bool has_eval; /* @resilience was evaluated */
    double resilience;
};

/* What this leader knows of the actuator call for a workflow's current
 * step or for a shadow; the orchestrator fills it from its memory. */
enum plan_call_status
{
    PLAN_CALL_NONE,     /* no call: this leader did not start the attempt */
    PLAN_CALL_OWNED,    /* this leader's start/retry made the attempt: call */
    PLAN_CALL_INFLIGHT, /* called, no answer yet */
    PLAN_CALL_DONE      /* answered: @outcome */
};

struct plan_call
{
    int status; /* enum plan_call_status */
    int action; /* enum plan_action: what was called (shadows) */
    int outcome;
    uint64_t attempts; /* shadows: calls of @action so far */
    int64_t done_at;
    char detail[PLAN_DETAIL_SIZE];
    /* A shadow's probe or provision answer. */
    char state[32];
    bool has_lag;
    uint64_t lag_ms;
    char drift[PLAN_DRIFT_SIZE];
};

struct plan_step
{
    char name[PLAN_STEP_NAME_SIZE];
    int state; /* enum plan_step_state */
    uint64_t attempt;
    int64_t started_at;
};

struct plan_workflow
{
    uint64_t id;
    char workload[PLAN_ID_SIZE];
    char from[PLAN_ID_SIZE];
    char to[PLAN_ID_SIZE];
    int strategy, reason, state;
    unsigned step, n_steps;
    struct plan_step steps[PLAN_STEPS_MAX];
    uint64_t cur_epoch;
    bool approved;
    int64_t created_at;
    /* This leader's memory. */
    struct plan_call call;
    bool notice_set;   /* the prepare-shutdown notice was sent to @from */
    bool notice_acked; /* @from's agent acknowledged it */
};

struct plan_shadow
{
    char workload[PLAN_ID_SIZE];
    char host[PLAN_ID_SIZE];
    uint64_t epoch;
    int state; /* enum plan_shadow_state */
    uint64_t lag_ms;
    char drift[PLAN_DRIFT_SIZE];
    struct plan_capacity demand;
    struct plan_call call; /* this leader's memory */
};

struct plan_input
{
    int64_t now_ms;
    struct plan_policy policy;
    const struct plan_host *hosts;
    size_t n_hosts;
    const struct plan_workload *workloads;
    size_t n_workloads;
    /* Every workflow in flight, and those created in the last minute
     * (for the rate limit); others are ignored. */
    const struct plan_workflow *workflows;
    size_t n_workflows;
    const struct plan_shadow *shadows; /* released ones are ignored */
    size_t n_shadows;
    const struct plan_cohort *cohorts;
    size_t n_cohorts;
    /* Hosts already marked failed and handed to remediation by this
     * leader are not returned again: @remediated(@arg, host). */
    bool (*remediated)(void *arg, const char *host);
    /* When set, when workload @w last moved is asked of it (only for the
     * workloads a limit is checked for) instead of read from
     * plan_workload.last_move_ms. */
    int64_t (*last_move)(void *arg, const char *workload);
    /* When set, a cohort below min_resilience is rebalanced by what-ifs:
     * the resilience @cohort would have were @workload on @host (< 0:
     * unknown).  Unset: by the hosts' risk alone. */
    double (*what_if)(void *arg,
                      const char *cohort,
                      const char *workload,
                      const char *host);
    void *arg;
};

enum plan_kind
{
    PLAN_WORKFLOW_CREATE,  /* workload, to, strategy, reason, notify */
    PLAN_WORKFLOW_ADVANCE, /* workflow, step, attempt, event, detail */
    PLAN_WORKFLOW_CANCEL,  /* workflow: unstarted, blocks a failover */
    PLAN_CALL,             /* action on host, for workflow/step/attempt or
                              the shadow (workload, host, epoch) */
    PLAN_NOTICE,           /* prepare-shutdown to host, until deadline */
    PLAN_HOST_FAIL,        /* resource.lease expect unreachable -> failed */
    PLAN_REMEDIATE,        /* the actuator's remediate for host, once */
    PLAN_SHADOW_PROVISION, /* workload, host */
    PLAN_SHADOW_UPDATE,    /* workload, host, epoch, state, lag, drift */
    PLAN_SHADOW_RELEASE    /* workload, host, epoch */
};

struct plan_decision
{
    int kind; /* enum plan_kind */
    uint64_t workflow;
    unsigned step;
    uint64_t attempt;      /* advance: the compare-and-set's; call: the key's */
    uint64_t next_attempt; /* advance: the attempt the step has after it */
    int event;             /* enum plan_event */
    int action;            /* enum plan_action */
    int strategy, reason;
    bool notify;
    bool approved;    /* create: false when the operator must approve */
    bool is_shadow;   /* call: for a shadow, not a workflow step */
    int shadow_state; /* update: enum plan_shadow_state */
    bool has_lag;
    uint64_t lag_ms;
    uint64_t epoch;
    int64_t deadline_ms; /* notice */
    double p;            /* create: the p of @from, for the log */
    char workload[PLAN_ID_SIZE];
    char host[PLAN_ID_SIZE]; /* where a call acts */
    char from[PLAN_ID_SIZE];
    char to[PLAN_ID_SIZE];
    char step_name[PLAN_STEP_NAME_SIZE];
    char detail[PLAN_DETAIL_SIZE];
    char drift[PLAN_DRIFT_SIZE];
};

/* A round's decisions, in the order they should be proposed: reactive
 * first, then the driving of workflows, shadows, proactive, rebalance. */
struct plan_output
{
    struct plan_decision *decisions;
    size_t n, cap;
    int64_t next_due_ms; /* the earliest timer to run again for; 0: none */
    unsigned unplaced;   /* workloads that needed a host and found none */
    unsigned deferred;   /* proactive moves held back by a limit */
};

void plan_output_init(struct plan_output *out);
/* Frees the decisions; @out may be reused after plan_output_init. */
void plan_output_close(struct plan_output *out);

/* Decide one round.  @in's arrays are read only; @out (initialized, may
 * hold a previous round's decisions, which are dropped) receives the
 * decisions, owned by @out.  Returns 0, or AUGUR_ENOMEM (then @out holds
 * what fitted). */
__attribute__((warn_unused_result)) int plan_run(const struct plan_input *in,
                                                 struct plan_output *out);

/* The best target for @w (index into @in->workloads) other than its own
 * host, by docs/ORCHESTRATOR.md's order: an active host that fits,
 * p < migrate_threshold - hysteresis, out of its host cooldown; then the
 * one keeping @w's cohort spread, lowest p, most free capacity, id.
 * @reserved: per host (same index as @in->hosts) demand already placed
 * this round, or NULL.  Returns the host's index, or -1 when none fits. */
int plan_best_host(const struct plan_input *in,
                   size_t w,
                   const struct plan_capacity *reserved);

/* The actuator action of a workflow step by name, and whether it acts on
 * the workflow's "to" (else "from"); PLAN_ACTION_NONE for store steps
 * (transfer, transfer_back) and waits (notify, keep_warm). */
int plan_step_action(const char *step, bool *on_to);

const char *plan_event_name(int event);
const char *plan_action_name(int action);
const char *plan_reason_name(int reason);
const char *plan_strategy_name(int strategy);

#endif
