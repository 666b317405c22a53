/* The planner's private interface between its files: the round's context
 * (plan_place.c makes it) and the helpers that look hosts and workloads
 * up, record decisions and place work.  Not for use outside node/plan*.c. */
#ifndef AUGUR_NODE_PLAN_INT_H
#define AUGUR_NODE_PLAN_INT_H

#include "node/plan.h"

struct plan_key
{
    const char *id;
    size_t idx;
};

/* One round: the input, the output, lookups by id, and what the round has
 * decided so far (targets, reservations, counts under the limits). */
struct plan__ctx
{
    const struct plan_input *in;
    struct plan_output *out;
    struct plan_key *hosts_by_id;
    struct plan_key *wl_by_id;
    int *w_host;   /* per workload: its host's index, -1 */
    int *w_flight; /* per workload: its workflow in flight, -1 */
    int *w_shadow; /* per workload: its live shadow, -1 */
    int *w_target; /* per workload: the host it moves to this round, -1 */
    struct plan_capacity *reserved; /* per host: incoming this round */
    struct plan_capacity *standby;  /* per host: shadows' demand */
    uint64_t *cohort_flight;        /* per cohort: workflows in flight */
    uint64_t in_flight;
    uint64_t created_last_min; /* proactive and rebalance ones */
    int64_t oldest_created;    /* of those, the oldest; 0: none */
    uint64_t shadow_cpu, shadow_mem;
    struct plan_decision sink; /* where decisions go when memory ran out */
    int err;
};

/* A workload that needs a move or a shadow, in the order of plan__cand_cmp
 * (drained first, then by priority, then the host's p, then the id). */
struct plan__cand
{
    size_t w;
    int64_t priority;
    double p;
    const char *id;
    bool drain;
};
int plan__cand_cmp(const void *a, const void *b);

/* The context (plan_place.c): 0 or AUGUR_ENOMEM; close frees it. */
int plan__ctx_init(struct plan__ctx *c,
                   const struct plan_input *in,
                   struct plan_output *out);
void plan__ctx_close(struct plan__ctx *c);
int plan__key_cmp(const void *a, const void *b);
/* An index into in->hosts / in->workloads, or -1. */
int plan__host_find(const struct plan__ctx *c, const char *id);
int plan__workload_find(const struct plan__ctx *c, const char *id);
/* Ask for a round at @at (the earliest asked wins). */
void plan__due(struct plan__ctx *c, int64_t at);
/* A new zeroed decision of @kind (a scratch one, with c->err set, when
 * out of memory): never NULL. */
struct plan_decision *plan__emit(struct plan__ctx *c, int kind);
void plan__copy(char *dst, const char *src, size_t size);
bool plan__wf_in_flight(const struct plan_workflow *wf);
bool plan__host_down(const struct plan_host *h);
double plan__risk(const struct plan_host *h);

/* Placement (plan_place.c). */
struct plan_capacity plan__host_free(const struct plan__ctx *c, size_t h);
bool plan__fits(struct plan_capacity free, struct plan_capacity demand);
bool plan__host_usable(const struct plan__ctx *c, const struct plan_host *h);
void plan__reserve(struct plan__ctx *c, int h, struct plan_capacity d);
int plan__member_host(const struct plan__ctx *c, size_t j);
bool plan__keeps_spread(const struct plan__ctx *c, size_t w, int h);
int plan__rank(const struct plan__ctx *c, int a, bool sa, int b, bool sb);
int plan__best_host(const struct plan__ctx *c, size_t w, bool *spread_kept);
int plan__warm_shadow_host(const struct plan__ctx *c, size_t w);

/* Driving the workflows in flight (plan_steps.c) and the shadows
 * (plan_shadows.c): they add their decisions to the round. */
void plan__drive_all(struct plan__ctx *c);
void plan__shadows(struct plan__ctx *c);

#endif
