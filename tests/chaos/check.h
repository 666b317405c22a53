/* The chaos checker: reads a history of claim operations, nemesis events and
 * the cluster's final state, and decides whether it is valid: linearizable
 * per workload against a register-with-compare-and-set model of the claim,
 * no acknowledged write lost, none applied twice, epochs strictly
 * increasing, every node's final state identical.
 *
 * The history is JSON lines (see tests/chaos/README section of README.md):
 *   {"type":"invoke","process":P,"time":NS,"op":"transfer","workload":W,
 *    "host":H,"epoch":E}
 *   {"type":"ok"|"fail"|"info","process":P,"time":NS,"op":...,
 *    "host":H?,"epoch":E?,"held":bool?,"error":"ECONFLICT"?}
 *   {"type":"nemesis","time":NS,"kind":"kill","phase":"start","node":N,...}
 *   {"type":"final","node":N,"rev":R,"digest":"hex"}
 *   {"type":"event","rev":R,"op":"claim.transfer","workload":W,"host":H,
 *    "epoch":E}
 * Times are CLOCK_MONOTONIC nanoseconds.  Each process runs one operation at
 * a time: a completion belongs to the process's open invocation. */
#ifndef AUGUR_TESTS_CHAOS_CHECK_H
#define AUGUR_TESTS_CHAOS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHAOS_WARN_UNUSED __attribute__((warn_unused_result))
#define CHAOS_NAME_SIZE 64
#define CHAOS_ERRMSG_SIZE 256
#define CHAOS_TIME_INF INT64_MAX

enum chaos_kind
{
    CHAOS_ACQUIRE = 0,
    CHAOS_TRANSFER = 1,
    CHAOS_RELEASE = 2,
    CHAOS_GET = 3,
    CHAOS_KIND_COUNT
};

enum chaos_outcome
{
    CHAOS_OK = 0,   /* answered with success */
    CHAOS_FAIL = 1, /* answered with a refusal: known not to have applied */
    CHAOS_INFO = 2, /* unknown outcome: may or may not have applied */
    CHAOS_OUTCOME_COUNT
};

/* One operation: its invocation and its completion. */
/* arg_host of an acquire that let the cluster choose the host (the request
 * named none); in the model, a holder not known yet. */
#define CHAOS_HOST_ANY 0xffffffffu

struct chaos_op
{
    int process;
    enum chaos_kind kind;
    enum chaos_outcome outcome;
    unsigned workload; /* index into chaos_history.names */
    unsigned arg_host; /* acquire/transfer target; index into names */
    uint64_t arg_epoch;
    int64_t invoke_ns;
    int64_t complete_ns; /* CHAOS_TIME_INF for info */
    int status;          /* 0 or the refusal's augur_err code */
    bool has_claim;      /* the answer carried a claim (host, epoch) */
    unsigned res_host;
    uint64_t res_epoch;
    char error[32]; /* error name of a fail or info, "" for ok */
    size_t line;    /* line of the invocation in the file, from 1 */
};

struct chaos_nemesis
{
    int64_t time_ns;
    char kind[32];
    char phase[16];
    int node;
    char detail[96];
};

struct chaos_final
{
    int node;
    uint64_t rev;
    char digest[80];
    /* The store's own digest (status "digest") at store_applied; "" in
     * histories recorded before it was. */
    char store_digest[80];
    uint64_t store_applied;
};

struct chaos_event
{
    uint64_t rev;
    enum chaos_kind kind; /* acquire, transfer or release */
    unsigned workload;
    unsigned host;
    uint64_t epoch;
};

struct chaos_history
{
    struct chaos_op *ops;
    size_t n_ops, cap_ops;
    struct chaos_nemesis *nemesis;
    size_t n_nemesis, cap_nemesis;
    struct chaos_final *finals;
    size_t n_finals, cap_finals;
    struct chaos_event *events;
    size_t n_events, cap_events;
    bool have_events; /* an "events_end" line closed a complete event log */
    char **names;     /* interned workload and host names */
    size_t n_names, cap_names;
    int64_t first_ns, last_ns;
    /* Open invocations by process (index into ops, or -1). */
    long *open;
    size_t n_open;
    char errmsg[CHAOS_ERRMSG_SIZE];
};

void chaos_history_init(struct chaos_history *h);
void chaos_history_close(struct chaos_history *h);

/* Add one JSON line (@lineno for messages).  Blank lines are skipped.
 * Returns 0, or -1 with a reason in h->errmsg (bad JSON, unknown type or op,
 * a completion without an invocation). */
int chaos_history_add_line(struct chaos_history *h,
                           const char *line,
                           size_t lineno) CHAOS_WARN_UNUSED;

/* Read a whole file of JSON lines.  Returns 0 or -1 (h->errmsg). */
int chaos_history_load(struct chaos_history *h,
                       const char *path) CHAOS_WARN_UNUSED;

/* Turn invocations still open into info operations (the client was cut off
 * before it heard the answer).  Called once, after the last line. */
void chaos_history_finish(struct chaos_history *h);

/* The name behind an interned index. */
const char *chaos_history_name(const struct chaos_history *h, unsigned idx);

/* Result of the linearizability search for one workload. */
enum chaos_lin
{
    CHAOS_LIN_OK = 0,
    CHAOS_LIN_FAIL = 1,
    CHAOS_LIN_UNKNOWN = 2 /* the search gave up (step budget) */
};

/* Decide whether the operations @idx[0..n) of @h (all on one workload) are
 * linearizable against the claim model.  @max_steps bounds the search (0:
 * no bound).  On CHAOS_LIN_FAIL, *@culprit (if not NULL) is the index into
 * @h->ops of the operation the deepest search could not linearize. */
enum chaos_lin chaos_linearizable(const struct chaos_history *h,
                                  const size_t *idx,
                                  size_t n,
                                  uint64_t max_steps,
                                  size_t *culprit);

struct chaos_options
{
    uint64_t max_steps;   /* per workload; 0 = no bound */
    unsigned witness_max; /* operations printed of a failing sub-history */
};

void chaos_options_init(struct chaos_options *o);

/* Run every check over @h and print the summary to @out.  Returns true when
 * the history is valid. */
bool chaos_check(const struct chaos_history *h,
                 const struct chaos_options *opt,
                 FILE *out);

#endif
