/* Traffic-shift arithmetic: a step's HAProxy weights (percent to
 * weights) and the KPI decisions of a shift step and of a mirror run.
 * Pure functions: no loop, no I/O, no clock; unit-tested alone. */
#ifndef AUGUR_NODE_KPI_H
#define AUGUR_NODE_KPI_H

#include <stddef.h>
#include <stdint.h>

/* HAProxy's weight scale: 0..256. */
#define NODE_KPI_WEIGHT_MAX 256
/* A decision's reason fits a workflow step's detail (120 bytes). */
#define NODE_KPI_REASON_SIZE 120

/* Weights of the old and the new server for @pct percent of the traffic on
 * the new one (@pct is clamped to 0..100): new = round(256 * pct / 100),
 * old = 256 - new; at 100 the old server gets 0. */
void node_kpi_weights(unsigned pct, unsigned *old_w, unsigned *new_w);

/* One server's counters from HAProxy's `show stat` at one instant. */
struct node_kpi_counters
{
    uint64_t stot;     /* sessions (requests on an HTTP backend) */
    uint64_t hrsp_5xx; /* 5xx answers */
    uint64_t eresp;    /* response errors */
    uint64_t econ;     /* connection errors */
    uint64_t rtime_ms; /* average response time of the last 1024 requests */
};

/* The policy's thresholds; node_kpi_thresholds_default gives the defaults
 * (0.01, 0.005, 2.0, 5, 20). */
struct node_kpi_thresholds
{
    double max_error_rate;          /* the new side's absolute ceiling */
    double max_error_rate_over_old; /* margin over the old side's rate */
    double max_latency_ratio;       /* new <= ratio * old + slack */
    uint64_t latency_slack_ms;
    uint64_t min_requests; /* on the new side, before deciding at all */
};

void node_kpi_thresholds_default(struct node_kpi_thresholds *t);

enum node_kpi_outcome
{
    NODE_KPI_PASS = 0,
    NODE_KPI_FAIL = 1,
    NODE_KPI_WAIT = 2, /* not enough requests (or counters reset): wait */
};

/* One side of a step: what happened between the two snapshots. */
struct node_kpi_side
{
    uint64_t requests;
    uint64_t errors; /* 5xx + eresp + econ */
    double error_rate;
    uint64_t latency_ms;
};

struct node_kpi_decision
{
    enum node_kpi_outcome outcome;
    struct node_kpi_side old_side, new_side;
    /* One line naming the KPI and its values, NUL-terminated. */
    char reason[NODE_KPI_REASON_SIZE];
};

/* Decide a step from the snapshots of the old and the new server at its
 * start and end.  NODE_KPI_WAIT when the new side served fewer than
 * min_requests or a counter went backwards (a server re-added, HAProxy
 * restarted: the step must be measured again).  NODE_KPI_FAIL when the new
 * side's error rate exceeds max_error_rate and the old side's by more than
 * max_error_rate_over_old, or its latency exceeds ratio * old + slack (the
 * latency check needs an old latency above 0).  Otherwise NODE_KPI_PASS. */
void node_kpi_decide(const struct node_kpi_counters *old_start,
                     const struct node_kpi_counters *old_end,
                     const struct node_kpi_counters *new_start,
                     const struct node_kpi_counters *new_end,
                     const struct node_kpi_thresholds *t,
                     struct node_kpi_decision *out);

/* The mirror's counters (deploy/haproxy/augur-mirror.lua, `augur mirror
 * show`). */
struct node_kpi_mirror
{
    uint64_t compared;        /* copies answered or failed, compared */
    uint64_t status_mismatch; /* the mirror's status class differed */
    uint64_t new_errors;      /* the mirror failed: 5xx or no answer */
    uint64_t old_p50_ms, old_p99_ms, new_p50_ms, new_p99_ms;
};

/* Decide a mirror run: NODE_KPI_WAIT below min_requests compared;
 * NODE_KPI_FAIL when new_errors / compared or status_mismatch / compared
 * exceeds max_error_rate, or new p99 > ratio * old p99 + slack; else
 * NODE_KPI_PASS.  @out's sides carry compared and the mirror's error rate
 * (new) and 0 errors (old), with the p99s as latencies. */
void node_kpi_mirror_decide(const struct node_kpi_mirror *m,
                            const struct node_kpi_thresholds *t,
                            struct node_kpi_decision *out);

const char *node_kpi_outcome_name(enum node_kpi_outcome o);

#endif
