/* The planner's shadows: which standby claims to provision, drive,
 * probe and release, within the shadow budget (docs/ORCHESTRATOR.md, "The
 * planner", 5). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node/plan_int.h"

/* ---- shadows ---------------------------------------------------------- */

static void shadow_call(struct plan__ctx *c,
                        const struct plan_shadow *sh,
                        int action)
{
    const struct plan_input *in = c->in;
    struct plan_decision *d = plan__emit(c, PLAN_CALL);
    int w = plan__workload_find(c, sh->workload);

    d->is_shadow = true;
    d->action = action;
    d->epoch = sh->epoch;
    d->attempt = sh->call.action == action ? sh->call.attempts + 1 : 1;
    plan__copy(d->workload, sh->workload, sizeof d->workload);
    plan__copy(d->host, sh->host, sizeof d->host);
    plan__copy(d->to, sh->host, sizeof d->to);
    if (w >= 0 && in->workloads[w].claimed) {
        plan__copy(d->from, in->workloads[w].host, sizeof d->from);
    }
}

static void shadow_release(struct plan__ctx *c, const struct plan_shadow *sh)
{
    struct plan_decision *d = plan__emit(c, PLAN_SHADOW_RELEASE);
    plan__copy(d->workload, sh->workload, sizeof d->workload);
    plan__copy(d->host, sh->host, sizeof d->host);
    d->epoch = sh->epoch;
}

/* Whether @sh's reason has gone. */
static bool shadow_unneeded(const struct plan__ctx *c,
                            const struct plan_shadow *sh,
                            int w,
                            bool *host_gone)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    int h = plan__host_find(c, sh->host);
    int wh;
    const struct plan_workload *wl;

    *host_gone = h < 0 || plan__host_down(&in->hosts[h]);
    if (*host_gone || w < 0 || !in->workloads[w].claimed) {
        return true;
    }
    wl = &in->workloads[w];
    if (strcmp(wl->host, sh->host) == 0) {
        return true;
    }
    if (c->w_flight[w] >= 0 || c->w_target[w] >= 0) {
        return false; /* a standby move may be consuming it */
    }
    wh = c->w_host[w];
    if (wh < 0 || plan__host_down(&in->hosts[wh])) {
        return false;
    }
    if (in->hosts[wh].p >= p->provision_threshold - p->hysteresis) {
        return false;
    }
    if (wl->cohort >= 0 && (size_t)wl->cohort < in->n_cohorts) {
        const struct plan_cohort *ch = &in->cohorts[wl->cohort];
        if (ch->has_eval && ch->resilience < ch->min_resilience) {
            return false;
        }
    }
    return true;
}

static bool probe_changed(const struct plan_shadow *sh)
{
    const struct plan_call *r = &sh->call;
    uint64_t d;

    if (r->state[0] != '\0' && strcmp(r->state, "warm") != 0) {
        return true;
    }
    if (strcmp(r->drift, sh->drift) != 0) {
        return true;
    }
    if (!r->has_lag) {
        return false;
    }
    d = r->lag_ms > sh->lag_ms ? r->lag_ms - sh->lag_ms
                               : sh->lag_ms - r->lag_ms;
    return d > PLAN_LAG_DELTA_MS;
}

static void shadow_update(struct plan__ctx *c, const struct plan_shadow *sh)
{
    struct plan_decision *d = plan__emit(c, PLAN_SHADOW_UPDATE);
    const struct plan_call *r = &sh->call;

    plan__copy(d->workload, sh->workload, sizeof d->workload);
    plan__copy(d->host, sh->host, sizeof d->host);
    d->epoch = sh->epoch;
    d->shadow_state = PLAN_SHADOW_WARM;
    if (r->state[0] != '\0' && strcmp(r->state, "provisioning") == 0) {
        d->shadow_state = PLAN_SHADOW_PROVISIONING;
    }
    d->has_lag = r->has_lag;
    d->lag_ms = r->lag_ms;
    plan__copy(d->drift, r->drift, sizeof d->drift);
}

static void shadow_drive(struct plan__ctx *c, const struct plan_shadow *sh)
{
    const struct plan_input *in = c->in;
    const struct plan_call *r = &sh->call;
    int w = plan__workload_find(c, sh->workload);
    bool gone;

    if (r->status == PLAN_CALL_INFLIGHT) {
        return;
    }
    if (shadow_unneeded(c, sh, w, &gone)) {
        /* Deprovision first, release after: a leader lost in between
         * leaves a shadow the next one deprovisions again. */
        if (gone || (r->status == PLAN_CALL_DONE &&
                     r->action == PLAN_ACTION_DEPROVISION)) {
            shadow_release(c, sh);
        } else {
            shadow_call(c, sh, PLAN_ACTION_DEPROVISION);
        }
        return;
    }
    if (sh->state == PLAN_SHADOW_PROVISIONING) {
        if (r->status != PLAN_CALL_DONE || r->action != PLAN_ACTION_PROVISION) {
            shadow_call(c, sh, PLAN_ACTION_PROVISION);
        } else if (r->outcome == PLAN_OUTCOME_OK) {
            shadow_update(c, sh);
        } else if (r->outcome == PLAN_OUTCOME_RETRY &&
                   r->attempts < in->policy.max_attempts) {
            int64_t at =
                r->done_at + (int64_t)(PLAN_RETRY_BACKOFF_MS * r->attempts);
            if (in->now_ms >= at) {
                shadow_call(c, sh, PLAN_ACTION_PROVISION);
            } else {
                plan__due(c, at);
            }
        } else {
            shadow_release(c, sh);
        }
        return;
    }
    if (sh->state == PLAN_SHADOW_WARM) {
        int64_t next;
        if (r->status == PLAN_CALL_DONE && r->action == PLAN_ACTION_PROBE &&
            r->outcome == PLAN_OUTCOME_OK && probe_changed(sh)) {
            shadow_update(c, sh);
        }
        next = r->status == PLAN_CALL_DONE ? r->done_at + PLAN_PROBE_MS
                                           : in->now_ms;
        if (in->now_ms >= next) {
            shadow_call(c, sh, PLAN_ACTION_PROBE);
        } else {
            plan__due(c, next);
        }
    }
}

/* How many failure domains (rack, zone, psu, switch) hosts @a and @b
 * share. */
static int shared_domains(const struct plan__ctx *c, int a, int b)
{
    int n = 0;

    for (int s = PLAN_SPREAD_RACK; s < PLAN_SPREAD_COUNT; s++) {
        const char *da = c->in->hosts[a].domain[s];
        n += da[0] != '\0' && strcmp(da, c->in->hosts[b].domain[s]) == 0;
    }
    return n;
}

/* A shadow's host: not in the workload's host's domain of its cohort's
 * spread kind (else not its host); then sharing as few failure domains
 * with it as there are; then as any target. */
static int shadow_target(const struct plan__ctx *c, size_t w)
{
    const struct plan_input *in = c->in;
    const struct plan_workload *wl = &in->workloads[w];
    int wh = c->w_host[w];
    int spread = PLAN_SPREAD_HOST;
    int best = -1;
    int best_shared = 0;

    if (wl->cohort >= 0 && (size_t)wl->cohort < in->n_cohorts &&
        in->cohorts[wl->cohort].spread > PLAN_SPREAD_HOST &&
        in->cohorts[wl->cohort].spread < PLAN_SPREAD_COUNT) {
        spread = in->cohorts[wl->cohort].spread;
    }
    for (size_t h = 0; h < in->n_hosts; h++) {
        const char *dom = in->hosts[h].domain[spread];
        int shared;
        if ((int)h == wh || !plan__host_usable(c, &in->hosts[h]) ||
            !plan__fits(plan__host_free(c, h), wl->demand)) {
            continue;
        }
        if (spread != PLAN_SPREAD_HOST && dom[0] != '\0' &&
            strcmp(dom, in->hosts[wh].domain[spread]) == 0) {
            continue;
        }
        shared = shared_domains(c, (int)h, wh);
        if (best < 0 || shared < best_shared ||
            (shared == best_shared &&
             plan__rank(c, (int)h, true, best, true) < 0)) {
            best = (int)h;
            best_shared = shared;
        }
    }
    return best;
}

void plan__shadows(struct plan__ctx *c)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    struct plan__cand *cands;
    size_t n = 0;

    for (size_t i = 0; i < in->n_shadows; i++) {
        const struct plan_shadow *sh = &in->shadows[i];
        if (sh->state == PLAN_SHADOW_PROVISIONING ||
            sh->state == PLAN_SHADOW_WARM) {
            shadow_drive(c, sh);
        }
    }
    cands = calloc(in->n_workloads + 1, sizeof *cands);
    if (cands == NULL) {
        c->err = AUGUR_ENOMEM;
        return;
    }
    for (size_t w = 0; w < in->n_workloads; w++) {
        const struct plan_workload *wl = &in->workloads[w];
        const struct plan_host *h;
        bool risky, weak = false;

        if (c->w_host[w] < 0 || c->w_shadow[w] >= 0 || c->w_flight[w] >= 0 ||
            c->w_target[w] >= 0) {
            continue;
        }
        h = &in->hosts[c->w_host[w]];
        if (h->state != PLAN_HOST_ACTIVE && h->state != PLAN_HOST_DEGRADED) {
            continue;
        }
        risky = h->p >= p->provision_threshold;
        if (wl->cohort >= 0 && (size_t)wl->cohort < in->n_cohorts) {
            const struct plan_cohort *ch = &in->cohorts[wl->cohort];
            /* A cohort with a move under way waits for its effect. */
            weak = ch->has_eval && ch->resilience < ch->min_resilience &&
                   c->cohort_flight[wl->cohort] == 0;
        }
        if (!risky && !weak) {
            continue;
        }
        cands[n].w = w;
        cands[n].priority = wl->priority;
        cands[n].p = h->p;
        cands[n].id = wl->id;
        n++;
    }
    qsort(cands, n, sizeof *cands, plan__cand_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct plan_workload *wl = &in->workloads[cands[i].w];
        struct plan_decision *d;
        int to;

        if (c->shadow_cpu + wl->demand.cpu > p->shadow_budget_cpu ||
            c->shadow_mem + wl->demand.mem_mb > p->shadow_budget_mem_mb) {
            c->out->deferred++;
            continue;
        }
        to = shadow_target(c, cands[i].w);
        if (to < 0) {
            continue;
        }
        d = plan__emit(c, PLAN_SHADOW_PROVISION);
        plan__copy(d->workload, wl->id, sizeof d->workload);
        plan__copy(d->host, in->hosts[to].id, sizeof d->host);
        plan__copy(d->from, wl->host, sizeof d->from);
        c->shadow_cpu += wl->demand.cpu;
        c->shadow_mem += wl->demand.mem_mb;
        c->standby[to].cpu += wl->demand.cpu;
        c->standby[to].mem_mb += wl->demand.mem_mb;
    }
    free(cands);
}
