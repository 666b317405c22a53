/* The orchestrator's planner: one round's decisions from the store's
 * state and the leader's memory of its actuator calls (node/plan.h).
 * Deterministic: the same input gives the same decisions in the same
 * order, whatever the order of the arrays it is given. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node/plan_int.h"
#include "store/store.h"

void plan_policy_from_store(const struct store_policy *s, struct plan_policy *p)
{
    memset(p, 0, sizeof *p);
    p->migrate_threshold = s->migrate_threshold;
    p->provision_threshold = s->provision_threshold;
    p->hysteresis = s->hysteresis;
    p->cooldown_s = s->cooldown_s;
    p->host_cooldown_s = s->host_cooldown_s;
    p->max_concurrent = s->max_concurrent;
    p->max_concurrent_cohort = s->max_concurrent_cohort;
    p->rate_per_min = s->rate_per_min;
    p->shadow_budget_cpu = s->shadow_budget_cpu;
    p->shadow_budget_mem_mb = s->shadow_budget_mem_mb;
    p->automatic = s->automatic;
    p->max_attempts = s->max_attempts;
    p->keep_warm_s = s->keep_warm_s;
    p->shutdown_deadline_ms = s->shutdown_deadline_ms;
    p->shift_dwell_ms = s->shift_dwell_ms;
    p->mirror_ms = s->mirror_ms;
    p->kpi_max_error_rate = s->kpi_max_error_rate;
    p->kpi_max_latency_ratio = s->kpi_max_latency_ratio;
    p->target_cooldown_s = s->target_cooldown_s;
}

void plan_output_init(struct plan_output *out)
{
    memset(out, 0, sizeof *out);
}

void plan_output_close(struct plan_output *out)
{
    free(out->decisions);
    memset(out, 0, sizeof *out);
}

/* ---- names ------------------------------------------------------------ */

const char *plan_event_name(int event)
{
    static const char *const names[] = {"start", "ok", "retry", "fail", "skip"};
    if (event < 0 || event >= (int)(sizeof names / sizeof names[0])) {
        return "?";
    }
    return names[event];
}

const char *plan_action_name(int action)
{
    static const char *const names[] = {
        "none",  "prepare",   "activate", "stop",  "provision", "deprovision",
        "probe", "remediate", "mirror",   "shift", "unshift"};
    if (action < 0 || action >= (int)(sizeof names / sizeof names[0])) {
        return "?";
    }
    return names[action];
}

const char *plan_reason_name(int reason)
{
    static const char *const names[] = {"predicted", "failed", "manual",
                                        "rebalance"};
    if (reason < 0 || reason >= (int)(sizeof names / sizeof names[0])) {
        return "?";
    }
    return names[reason];
}

const char *plan_strategy_name(int strategy)
{
    static const char *const names[] = {"live", "standby", "blue-green"};
    if (strategy < 0 || strategy >= (int)(sizeof names / sizeof names[0])) {
        return "?";
    }
    return names[strategy];
}

int plan_step_action(const char *step, bool *on_to)
{
    static const struct
    {
        const char *step;
        int action;
        bool on_to;
    } rows[] = {
        {"prepare", PLAN_ACTION_PREPARE, true},
        {"activate", PLAN_ACTION_ACTIVATE, true},
        {"release", PLAN_ACTION_STOP, false},
        {"undo_prepare", PLAN_ACTION_STOP, true},
        {"reactivate", PLAN_ACTION_ACTIVATE, false},
        {"undo_activate", PLAN_ACTION_STOP, true},
        {"mirror", PLAN_ACTION_MIRROR, true},
        {"unshift", PLAN_ACTION_UNSHIFT, true},
    };
    if (strncmp(step, "shift_", 6) == 0) {
        *on_to = true;
        return PLAN_ACTION_SHIFT;
    }
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (strcmp(rows[i].step, step) == 0) {
            *on_to = rows[i].on_to;
            return rows[i].action;
        }
    }
    *on_to = false;
    return PLAN_ACTION_NONE;
}

/* ---- creating workflows ----------------------------------------------- */

static void create(struct plan__ctx *c,
                   size_t w,
                   int to,
                   int strategy,
                   int reason,
                   bool notify,
                   bool approved)
{
    const struct plan_input *in = c->in;
    const struct plan_workload *wl = &in->workloads[w];
    struct plan_decision *d = plan__emit(c, PLAN_WORKFLOW_CREATE);
    int from = c->w_host[w];

    plan__copy(d->workload, wl->id, sizeof d->workload);
    plan__copy(d->from, wl->host, sizeof d->from);
    plan__copy(d->to, in->hosts[to].id, sizeof d->to);
    d->strategy = strategy;
    d->reason = reason;
    d->notify = notify;
    d->approved = approved;
    d->epoch = wl->epoch;
    d->p = from >= 0 ? in->hosts[from].p : 0;
    c->w_target[w] = to;
    /* A standby target already holds the demand as its shadow's. */
    if (strategy != PLAN_STRATEGY_STANDBY) {
        plan__reserve(c, to, wl->demand);
    }
    c->in_flight++;
    if (wl->cohort >= 0 && (size_t)wl->cohort < in->n_cohorts) {
        c->cohort_flight[wl->cohort]++;
    }
    if (reason == PLAN_REASON_PREDICTED || reason == PLAN_REASON_REBALANCE) {
        c->created_last_min++;
        if (c->oldest_created == 0) {
            c->oldest_created = in->now_ms;
        }
    }
}

static int own_strategy(const struct plan_workload *wl)
{
    /* A standby move needs a warm shadow; without one, move it live. */
    return wl->strategy == PLAN_STRATEGY_STANDBY ? PLAN_STRATEGY_LIVE
                                                 : wl->strategy;
}

/* ---- reactive: hosts that are gone ------------------------------------ */

/* Whether a failover from @host is in flight (a new leader's sign that the
 * host held claims when it went down). */
static bool failover_from(const struct plan__ctx *c, const char *host)
{
    for (size_t i = 0; i < c->in->n_workflows; i++) {
        const struct plan_workflow *wf = &c->in->workflows[i];
        if (plan__wf_in_flight(wf) && wf->reason == PLAN_REASON_FAILED &&
            strcmp(wf->from, host) == 0) {
            return true;
        }
    }
    return false;
}

static void reactive(struct plan__ctx *c)
{
    const struct plan_input *in = c->in;

    for (size_t k = 0; k < in->n_hosts; k++) {
        size_t h = c->hosts_by_id[k].idx; /* in id order */
        const struct plan_host *ho = &in->hosts[h];
        bool holds = false;

        if (!plan__host_down(ho)) {
            continue;
        }
        for (size_t kw = 0; kw < in->n_workloads; kw++) {
            size_t w = c->wl_by_id[kw].idx;
            int sh;
            int to;

            if (c->w_host[w] != (int)h) {
                continue;
            }
            holds = true;
            if (c->w_flight[w] >= 0) {
                const struct plan_workflow *wf = &in->workflows[c->w_flight[w]];
                /* One not yet started (say, waiting for an operator's
                 * approval) would hold the failover back. */
                if (wf->state == PLAN_WF_PENDING &&
                    wf->reason != PLAN_REASON_FAILED) {
                    struct plan_decision *d =
                        plan__emit(c, PLAN_WORKFLOW_CANCEL);
                    d->workflow = wf->id;
                    plan__copy(d->workload, wf->workload, sizeof d->workload);
                }
                continue;
            }
            sh = plan__warm_shadow_host(c, w);
            if (sh >= 0) {
                create(c, w, sh, PLAN_STRATEGY_STANDBY, PLAN_REASON_FAILED,
                       false, true);
                continue;
            }
            to = plan__best_host(c, w, NULL);
            if (to < 0) {
                c->out->unplaced++;
                continue;
            }
            create(c, w, to, PLAN_STRATEGY_LIVE, PLAN_REASON_FAILED, false,
                   true);
        }
        if (!holds && ho->state == PLAN_HOST_UNREACHABLE &&
            (ho->held_claims || failover_from(c, ho->id))) {
            struct plan_decision *d;
            int64_t at = ho->down_since_ms + PLAN_FAIL_AFTER_MS;
            if (in->now_ms < at) {
                plan__due(c, at);
                continue;
            }
            d = plan__emit(c, PLAN_HOST_FAIL);
            plan__copy(d->host, ho->id, sizeof d->host);
            if (in->remediated == NULL || !in->remediated(in->arg, ho->id)) {
                d = plan__emit(c, PLAN_REMEDIATE);
                d->action = PLAN_ACTION_REMEDIATE;
                plan__copy(d->host, ho->id, sizeof d->host);
            }
        }
    }
}

/* ---- proactive: hosts at plan__risk, hosts drained --------------------------
 */

int plan__cand_cmp(const void *a, const void *b)
{
    const struct plan__cand *x = a;
    const struct plan__cand *y = b;
    if (x->drain != y->drain) {
        return x->drain ? -1 : 1;
    }
    if (x->priority != y->priority) {
        return x->priority > y->priority ? -1 : 1;
    }
    if (x->p != y->p) {
        return x->p > y->p ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

/* Whether a limited (proactive or rebalance) move of @w may start now;
 * counts what holds it back. */
static bool limits_allow(struct plan__ctx *c,
                         size_t w,
                         bool rate,
                         bool cooldown)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    const struct plan_workload *wl = &in->workloads[w];
    int64_t moved = wl->last_move_ms;

    if (cooldown && in->last_move != NULL) {
        moved = in->last_move(in->arg, wl->id);
    }
    if (cooldown && moved != 0) {
        int64_t until = moved + (int64_t)(p->cooldown_s * 1000);
        if (in->now_ms < until) {
            plan__due(c, until);
            c->out->deferred++;
            return false;
        }
    }
    if (c->in_flight >= p->max_concurrent) {
        c->out->deferred++;
        return false;
    }
    if (wl->cohort >= 0 && (size_t)wl->cohort < in->n_cohorts &&
        c->cohort_flight[wl->cohort] >= p->max_concurrent_cohort) {
        c->out->deferred++;
        return false;
    }
    if (rate && c->created_last_min >= p->rate_per_min) {
        plan__due(c, c->oldest_created + 60000);
        c->out->deferred++;
        return false;
    }
    return true;
}

static void proactive(struct plan__ctx *c)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    struct plan__cand *cands;
    size_t n = 0;

    cands = calloc(in->n_workloads + 1, sizeof *cands);
    if (cands == NULL) {
        c->err = AUGUR_ENOMEM;
        return;
    }
    for (size_t w = 0; w < in->n_workloads; w++) {
        const struct plan_host *h;
        bool drain;

        if (c->w_host[w] < 0 || c->w_flight[w] >= 0 || c->w_target[w] >= 0) {
            continue;
        }
        h = &in->hosts[c->w_host[w]];
        drain = h->state == PLAN_HOST_DRAINING;
        if (!drain && !((h->state == PLAN_HOST_ACTIVE ||
                         h->state == PLAN_HOST_DEGRADED) &&
                        h->p >= p->migrate_threshold)) {
            continue;
        }
        cands[n].w = w;
        cands[n].priority = in->workloads[w].priority;
        cands[n].p = h->p;
        cands[n].id = in->workloads[w].id;
        cands[n].drain = drain;
        n++;
    }
    qsort(cands, n, sizeof *cands, plan__cand_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t w = cands[i].w;
        const struct plan_workload *wl = &in->workloads[w];
        bool drain = cands[i].drain;
        int to;

        if (!limits_allow(c, w, !drain, !drain)) {
            continue;
        }
        to = plan__warm_shadow_host(c, w);
        if (to >= 0) {
            create(c, w, to, PLAN_STRATEGY_STANDBY,
                   drain ? PLAN_REASON_MANUAL : PLAN_REASON_PREDICTED, drain,
                   drain || p->automatic);
            continue;
        }
        to = plan__best_host(c, w, NULL);
        if (to < 0) {
            c->out->unplaced++;
            continue;
        }
        create(c, w, to, own_strategy(wl),
               drain ? PLAN_REASON_MANUAL : PLAN_REASON_PREDICTED, drain,
               drain || p->automatic);
    }
    free(cands);
}

/* ---- rebalance: cohorts out of spread or resilience ------------------- */

static bool shares_domain(const struct plan__ctx *c, size_t w)
{
    int h = plan__member_host(c, w);
    return h >= 0 && !plan__keeps_spread(c, w, h);
}

/* Whether @w moved within its cooldown. */
static bool cooling(const struct plan__ctx *c, size_t w)
{
    const struct plan_input *in = c->in;
    int64_t moved = in->workloads[w].last_move_ms;

    if (in->last_move != NULL) {
        moved = in->last_move(in->arg, in->workloads[w].id);
    }
    return moved != 0 &&
           in->now_ms < moved + (int64_t)(in->policy.cooldown_s * 1000);
}

/* A weak cohort's member to move, by what-ifs: the move (each member to
 * its best host, which keeps the spread) that raises the cohort's
 * resilience most, by PLAN_WHAT_IF_GAIN at least; -1 when none does. */
static int weak_pick_what_if(struct plan__ctx *c, int co, int *to)
{
    const struct plan_input *in = c->in;
    const struct plan_cohort *ch = &in->cohorts[co];
    double need = ch->resilience + PLAN_WHAT_IF_GAIN;
    double best = 0;
    int pick = -1;

    for (size_t k = 0; k < in->n_workloads; k++) {
        size_t w = c->wl_by_id[k].idx;
        bool kept;
        double r;
        int t;

        if (in->workloads[w].cohort != co || c->w_host[w] < 0 ||
            c->w_target[w] >= 0 || cooling(c, w)) {
            continue;
        }
        t = plan__best_host(c, w, &kept);
        if (t < 0 || !kept) {
            continue;
        }
        r = in->what_if(in->arg, ch->name, in->workloads[w].id,
                        in->hosts[t].id);
        if (r >= need && (pick < 0 || r > best)) {
            best = r;
            pick = (int)w;
            *to = t;
        }
    }
    return pick;
}

static void rebalance_cohort(struct plan__ctx *c, int co)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    const struct plan_cohort *ch = &in->cohorts[co];
    int pick = -1;
    bool broken = false;
    bool weak;
    bool kept;
    int to = -1;

    if (c->cohort_flight[co] > 0) {
        return;
    }
    /* Spread: of the members sharing a domain, move the least important
     * (then the one on the riskier host, then by id). */
    for (size_t k = 0; k < in->n_workloads; k++) {
        size_t w = c->wl_by_id[k].idx;
        const struct plan_workload *wl = &in->workloads[w];
        if (wl->cohort != co || c->w_host[w] < 0 || !shares_domain(c, w)) {
            continue;
        }
        broken = true;
        if (pick < 0 || wl->priority < in->workloads[pick].priority ||
            (wl->priority == in->workloads[pick].priority &&
             plan__risk(&in->hosts[c->w_host[w]]) >
                 plan__risk(&in->hosts[c->w_host[pick]]))) {
            pick = (int)w;
        }
    }
    weak = ch->has_eval && ch->resilience < ch->min_resilience;
    if (!broken && !weak) {
        return;
    }
    if (!broken && in->what_if != NULL) {
        /* Resilience, by the store's what-ifs: they see what the hosts
         * share (a PSU, a switch), which the hosts' risk alone does not
         * tell apart. */
        pick = weak_pick_what_if(c, co, &to);
        if (pick < 0 || !limits_allow(c, (size_t)pick, true, false)) {
            return;
        }
        create(c, (size_t)pick, to, own_strategy(&in->workloads[pick]),
               PLAN_REASON_REBALANCE, false, p->automatic);
        return;
    }
    if (!broken) {
        /* Resilience, by risk alone: the member on the riskiest host,
         * unless a shadow already covers it. */
        for (size_t k = 0; k < in->n_workloads; k++) {
            size_t w = c->wl_by_id[k].idx;
            const struct plan_workload *wl = &in->workloads[w];
            if (wl->cohort != co || c->w_host[w] < 0) {
                continue;
            }
            if (pick < 0 || plan__risk(&in->hosts[c->w_host[w]]) >
                                plan__risk(&in->hosts[c->w_host[pick]])) {
                pick = (int)w;
            }
        }
        if (pick >= 0 && c->w_shadow[pick] >= 0) {
            return;
        }
    }
    if (pick < 0 || c->w_flight[pick] >= 0 || c->w_target[pick] >= 0) {
        return;
    }
    to = plan__best_host(c, (size_t)pick, &kept);
    if (to < 0 || !kept) {
        return;
    }
    if (!broken && plan__risk(&in->hosts[to]) + p->hysteresis >
                       plan__risk(&in->hosts[c->w_host[pick]])) {
        return; /* no better host: moving would not help */
    }
    if (!limits_allow(c, (size_t)pick, true, true)) {
        return;
    }
    create(c, (size_t)pick, to, own_strategy(&in->workloads[pick]),
           PLAN_REASON_REBALANCE, false, p->automatic);
}

static void rebalance(struct plan__ctx *c)
{
    struct plan_key *order;
    size_t n = c->in->n_cohorts;

    order = calloc(n + 1, sizeof *order);
    if (order == NULL) {
        c->err = AUGUR_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        order[i].id = c->in->cohorts[i].name;
        order[i].idx = i;
    }
    qsort(order, n, sizeof *order, plan__key_cmp);
    for (size_t i = 0; i < n; i++) {
        rebalance_cohort(c, (int)order[i].idx);
    }
    free(order);
}

/* ---- the round -------------------------------------------------------- */

int plan_run(const struct plan_input *in, struct plan_output *out)
{
    struct plan__ctx c;
    int rv;

    out->n = 0;
    out->next_due_ms = 0;
    out->unplaced = 0;
    out->deferred = 0;
    rv = plan__ctx_init(&c, in, out);
    if (rv != 0) {
        return rv;
    }
    reactive(&c);
    plan__drive_all(&c);
    proactive(&c);
    rebalance(&c);
    plan__shadows(&c);
    rv = c.err;
    plan__ctx_close(&c);
    return rv;
}
