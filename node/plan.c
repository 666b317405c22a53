/* The orchestrator's planner: one round's decisions from the store's
 * state and the leader's memory of its actuator calls (node/plan.h).
 * Deterministic: the same input gives the same decisions in the same
 * order, whatever the order of the arrays it is given. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node/plan.h"

void plan_policy_defaults(struct plan_policy *p)
{
    memset(p, 0, sizeof *p);
    p->migrate_threshold = 0.8;
    p->provision_threshold = 0.5;
    p->hysteresis = 0.1;
    p->cooldown_s = 300;
    p->host_cooldown_s = 600;
    p->max_concurrent = 16;
    p->max_concurrent_cohort = 1;
    p->rate_per_min = 30;
    p->shadow_budget_cpu = 64;
    p->shadow_budget_mem_mb = 65536;
    p->automatic = true;
    p->max_attempts = 3;
    p->keep_warm_s = 60;
    p->shutdown_deadline_ms = 5000;
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
    static const char *const names[] = {"none",  "prepare",   "activate",
                                        "stop",  "provision", "deprovision",
                                        "probe", "remediate"};
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
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (strcmp(rows[i].step, step) == 0) {
            *on_to = rows[i].on_to;
            return rows[i].action;
        }
    }
    *on_to = false;
    return PLAN_ACTION_NONE;
}

/* ---- the round's context ---------------------------------------------- */

struct plan_key
{
    const char *id;
    size_t idx;
};

struct ctx
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

static int key_cmp(const void *a, const void *b)
{
    const struct plan_key *x = a;
    const struct plan_key *y = b;
    return strcmp(x->id, y->id);
}

static int find(const struct plan_key *keys, size_t n, const char *id)
{
    struct plan_key k = {id, 0};
    const struct plan_key *hit;

    if (n == 0 || id == NULL || id[0] == '\0') {
        return -1;
    }
    hit = bsearch(&k, keys, n, sizeof *keys, key_cmp);
    return hit == NULL ? -1 : (int)hit->idx;
}

static int host_find(const struct ctx *c, const char *id)
{
    return find(c->hosts_by_id, c->in->n_hosts, id);
}

static int workload_find(const struct ctx *c, const char *id)
{
    return find(c->wl_by_id, c->in->n_workloads, id);
}

static void due(struct ctx *c, int64_t at)
{
    if (at > 0 && (c->out->next_due_ms == 0 || at < c->out->next_due_ms)) {
        c->out->next_due_ms = at;
    }
}

static struct plan_decision *emit(struct ctx *c, int kind)
{
    struct plan_output *o = c->out;
    struct plan_decision *d;

    if (o->n == o->cap) {
        size_t cap = o->cap == 0 ? 64 : o->cap * 2;
        struct plan_decision *more = realloc(o->decisions, cap * sizeof *more);
        if (more == NULL) {
            c->err = AUGUR_ENOMEM;
            d = &c->sink;
            memset(d, 0, sizeof *d);
            return d;
        }
        o->decisions = more;
        o->cap = cap;
    }
    d = &o->decisions[o->n++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    return d;
}

static void copy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (len >= size) {
        len = size - 1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool wf_in_flight(const struct plan_workflow *wf)
{
    return wf->state == PLAN_WF_PENDING || wf->state == PLAN_WF_RUNNING;
}

static bool host_down(const struct plan_host *h)
{
    return h->state == PLAN_HOST_UNREACHABLE || h->state == PLAN_HOST_FAILED;
}

static uint64_t sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static struct plan_capacity host_free(const struct ctx *c, size_t h)
{
    const struct plan_host *ho = &c->in->hosts[h];
    struct plan_capacity f;

    f.cpu = sub(sub(sub(ho->capacity.cpu, ho->used.cpu), c->reserved[h].cpu),
                c->standby[h].cpu);
    f.mem_mb = sub(
        sub(sub(ho->capacity.mem_mb, ho->used.mem_mb), c->reserved[h].mem_mb),
        c->standby[h].mem_mb);
    return f;
}

static bool fits(struct plan_capacity free, struct plan_capacity demand)
{
    return free.cpu >= demand.cpu && free.mem_mb >= demand.mem_mb;
}

static bool in_host_cooldown(const struct ctx *c, const struct plan_host *h)
{
    const struct plan_input *in = c->in;
    return h->back_at_ms != 0 &&
           in->now_ms <
               h->back_at_ms + (int64_t)(in->policy.host_cooldown_s * 1000);
}

static double risk(const struct plan_host *h)
{
    return h->risk > h->p ? h->risk : h->p;
}

/* A host new work may be placed on. */
static bool host_usable(const struct ctx *c, const struct plan_host *h)
{
    const struct plan_policy *p = &c->in->policy;
    return h->is_host && h->state == PLAN_HOST_ACTIVE &&
           risk(h) < p->migrate_threshold - p->hysteresis &&
           !in_host_cooldown(c, h);
}

/* A host whose warm shadow may take a workload over. */
static bool shadow_host_usable(const struct ctx *c, const struct plan_host *h)
{
    return host_usable(c, h);
}

static void reserve(struct ctx *c, int h, struct plan_capacity d)
{
    if (h >= 0) {
        c->reserved[h].cpu += d.cpu;
        c->reserved[h].mem_mb += d.mem_mb;
    }
}

/* Where member @j of a cohort will run: its move's target this round, its
 * workflow's target, else its host. */
static int member_host(const struct ctx *c, size_t j)
{
    if (c->w_target[j] >= 0) {
        return c->w_target[j];
    }
    if (c->w_flight[j] >= 0) {
        int t = host_find(c, c->in->workflows[c->w_flight[j]].to);
        if (t >= 0) {
            return t;
        }
    }
    return c->w_host[j];
}

/* Whether @h's domain for @w's cohort spread is free of @w's other
 * members.  A host without a domain of that kind conflicts with nothing. */
static bool keeps_spread(const struct ctx *c, size_t w, int h)
{
    const struct plan_input *in = c->in;
    int co = in->workloads[w].cohort;
    int spread;
    const char *dom;

    if (co < 0 || (size_t)co >= in->n_cohorts) {
        return true;
    }
    spread = in->cohorts[co].spread;
    if (spread <= PLAN_SPREAD_NONE || spread >= PLAN_SPREAD_COUNT) {
        return true;
    }
    dom = in->hosts[h].domain[spread];
    if (dom[0] == '\0') {
        return true;
    }
    for (size_t j = 0; j < in->n_workloads; j++) {
        int mh;
        if (j == w || in->workloads[j].cohort != co ||
            !in->workloads[j].claimed) {
            continue;
        }
        mh = member_host(c, j);
        if (mh >= 0 && strcmp(in->hosts[mh].domain[spread], dom) == 0) {
            return false;
        }
    }
    return true;
}

/* -1, 0, 1: whether host @a ranks before @b as a target (spread first). */
static int rank(const struct ctx *c, int a, bool sa, int b, bool sb)
{
    const struct plan_host *ha = &c->in->hosts[a];
    const struct plan_host *hb = &c->in->hosts[b];
    struct plan_capacity fa = host_free(c, (size_t)a);
    struct plan_capacity fb = host_free(c, (size_t)b);

    if (sa != sb) {
        return sa ? -1 : 1;
    }
    if (risk(ha) != risk(hb)) {
        return risk(ha) < risk(hb) ? -1 : 1;
    }
    if (fa.cpu != fb.cpu) {
        return fa.cpu > fb.cpu ? -1 : 1;
    }
    if (fa.mem_mb != fb.mem_mb) {
        return fa.mem_mb > fb.mem_mb ? -1 : 1;
    }
    return strcmp(ha->id, hb->id);
}

static int best_host(const struct ctx *c, size_t w, bool *spread_kept)
{
    const struct plan_input *in = c->in;
    const struct plan_workload *wl = &in->workloads[w];
    int best = -1;
    bool best_spread = false;

    for (size_t h = 0; h < in->n_hosts; h++) {
        bool s;
        if (!host_usable(c, &in->hosts[h]) || (int)h == c->w_host[w] ||
            !fits(host_free(c, h), wl->demand)) {
            continue;
        }
        s = keeps_spread(c, w, (int)h);
        if (best < 0 || rank(c, (int)h, s, best, best_spread) < 0) {
            best = (int)h;
            best_spread = s;
        }
    }
    if (spread_kept != NULL) {
        *spread_kept = best_spread;
    }
    return best;
}

/* The host of @w's warm shadow when it may take @w over, else -1. */
static int warm_shadow_host(const struct ctx *c, size_t w)
{
    const struct plan_shadow *sh;
    int h;

    if (c->w_shadow[w] < 0) {
        return -1;
    }
    sh = &c->in->shadows[c->w_shadow[w]];
    if (sh->state != PLAN_SHADOW_WARM) {
        return -1;
    }
    h = host_find(c, sh->host);
    if (h < 0 || h == c->w_host[w] ||
        !shadow_host_usable(c, &c->in->hosts[h])) {
        return -1;
    }
    return h;
}

static void ctx_close(struct ctx *c)
{
    free(c->hosts_by_id);
    free(c->wl_by_id);
    free(c->w_host);
    free(c->w_flight);
    free(c->w_shadow);
    free(c->w_target);
    free(c->reserved);
    free(c->standby);
    free(c->cohort_flight);
}

static int ctx_init(struct ctx *c,
                    const struct plan_input *in,
                    struct plan_output *out)
{
    size_t nh = in->n_hosts;
    size_t nw = in->n_workloads;

    memset(c, 0, sizeof *c);
    c->in = in;
    c->out = out;
    c->hosts_by_id = calloc(nh + 1, sizeof *c->hosts_by_id);
    c->wl_by_id = calloc(nw + 1, sizeof *c->wl_by_id);
    c->w_host = calloc(nw + 1, sizeof *c->w_host);
    c->w_flight = calloc(nw + 1, sizeof *c->w_flight);
    c->w_shadow = calloc(nw + 1, sizeof *c->w_shadow);
    c->w_target = calloc(nw + 1, sizeof *c->w_target);
    c->reserved = calloc(nh + 1, sizeof *c->reserved);
    c->standby = calloc(nh + 1, sizeof *c->standby);
    c->cohort_flight = calloc(in->n_cohorts + 1, sizeof *c->cohort_flight);
    if (c->hosts_by_id == NULL || c->wl_by_id == NULL || c->w_host == NULL ||
        c->w_flight == NULL || c->w_shadow == NULL || c->w_target == NULL ||
        c->reserved == NULL || c->standby == NULL || c->cohort_flight == NULL) {
        ctx_close(c);
        return AUGUR_ENOMEM;
    }
    for (size_t h = 0; h < nh; h++) {
        c->hosts_by_id[h].id = in->hosts[h].id;
        c->hosts_by_id[h].idx = h;
    }
    qsort(c->hosts_by_id, nh, sizeof *c->hosts_by_id, key_cmp);
    for (size_t w = 0; w < nw; w++) {
        c->wl_by_id[w].id = in->workloads[w].id;
        c->wl_by_id[w].idx = w;
    }
    qsort(c->wl_by_id, nw, sizeof *c->wl_by_id, key_cmp);
    for (size_t w = 0; w < nw; w++) {
        const struct plan_workload *wl = &in->workloads[w];
        c->w_host[w] = wl->claimed ? host_find(c, wl->host) : -1;
        c->w_flight[w] = -1;
        c->w_shadow[w] = -1;
        c->w_target[w] = -1;
    }
    for (size_t i = 0; i < in->n_workflows; i++) {
        const struct plan_workflow *wf = &in->workflows[i];
        int w = workload_find(c, wf->workload);
        bool limited = wf->reason == PLAN_REASON_PREDICTED ||
                       wf->reason == PLAN_REASON_REBALANCE;

        if (limited && wf->created_at > in->now_ms - 60000) {
            c->created_last_min++;
            if (c->oldest_created == 0 || wf->created_at < c->oldest_created) {
                c->oldest_created = wf->created_at;
            }
        }
        if (!wf_in_flight(wf)) {
            continue;
        }
        c->in_flight++;
        if (w < 0) {
            continue;
        }
        c->w_flight[w] = (int)i;
        if (in->workloads[w].cohort >= 0 &&
            (size_t)in->workloads[w].cohort < in->n_cohorts) {
            c->cohort_flight[in->workloads[w].cohort]++;
        }
        /* Until the transfer, the target does not count the demand. */
        if (strcmp(in->workloads[w].host, wf->to) != 0) {
            reserve(c, host_find(c, wf->to), in->workloads[w].demand);
        }
    }
    for (size_t i = 0; i < in->n_shadows; i++) {
        const struct plan_shadow *sh = &in->shadows[i];
        int w, h;

        if (sh->state != PLAN_SHADOW_PROVISIONING &&
            sh->state != PLAN_SHADOW_WARM) {
            continue;
        }
        w = workload_find(c, sh->workload);
        h = host_find(c, sh->host);
        if (w >= 0 && c->w_shadow[w] < 0) {
            c->w_shadow[w] = (int)i;
        }
        if (h >= 0) {
            c->standby[h].cpu += sh->demand.cpu;
            c->standby[h].mem_mb += sh->demand.mem_mb;
        }
        c->shadow_cpu += sh->demand.cpu;
        c->shadow_mem += sh->demand.mem_mb;
    }
    return 0;
}

int plan_best_host(const struct plan_input *in,
                   size_t w,
                   const struct plan_capacity *reserved)
{
    struct plan_output out;
    struct ctx c;
    int h;

    if (w >= in->n_workloads) {
        return -1;
    }
    plan_output_init(&out);
    if (ctx_init(&c, in, &out) != 0) {
        return -1;
    }
    if (reserved != NULL) {
        for (size_t i = 0; i < in->n_hosts; i++) {
            c.reserved[i].cpu += reserved[i].cpu;
            c.reserved[i].mem_mb += reserved[i].mem_mb;
        }
    }
    h = best_host(&c, w, NULL);
    ctx_close(&c);
    return h;
}

/* ---- creating workflows ----------------------------------------------- */

static void create(struct ctx *c,
                   size_t w,
                   int to,
                   int strategy,
                   int reason,
                   bool notify,
                   bool approved)
{
    const struct plan_input *in = c->in;
    const struct plan_workload *wl = &in->workloads[w];
    struct plan_decision *d = emit(c, PLAN_WORKFLOW_CREATE);
    int from = c->w_host[w];

    copy(d->workload, wl->id, sizeof d->workload);
    copy(d->from, wl->host, sizeof d->from);
    copy(d->to, in->hosts[to].id, sizeof d->to);
    d->strategy = strategy;
    d->reason = reason;
    d->notify = notify;
    d->approved = approved;
    d->epoch = wl->epoch;
    d->p = from >= 0 ? in->hosts[from].p : 0;
    c->w_target[w] = to;
    /* A standby target already holds the demand as its shadow's. */
    if (strategy != PLAN_STRATEGY_STANDBY) {
        reserve(c, to, wl->demand);
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

static void reactive(struct ctx *c)
{
    const struct plan_input *in = c->in;

    for (size_t k = 0; k < in->n_hosts; k++) {
        size_t h = c->hosts_by_id[k].idx; /* in id order */
        const struct plan_host *ho = &in->hosts[h];
        bool holds = false;

        if (!host_down(ho)) {
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
                    struct plan_decision *d = emit(c, PLAN_WORKFLOW_CANCEL);
                    d->workflow = wf->id;
                    copy(d->workload, wf->workload, sizeof d->workload);
                }
                continue;
            }
            sh = warm_shadow_host(c, w);
            if (sh >= 0) {
                create(c, w, sh, PLAN_STRATEGY_STANDBY, PLAN_REASON_FAILED,
                       false, true);
                continue;
            }
            to = best_host(c, w, NULL);
            if (to < 0) {
                c->out->unplaced++;
                continue;
            }
            create(c, w, to, PLAN_STRATEGY_LIVE, PLAN_REASON_FAILED, false,
                   true);
        }
        if (!holds && ho->state == PLAN_HOST_UNREACHABLE) {
            struct plan_decision *d;
            int64_t at = ho->down_since_ms + PLAN_FAIL_AFTER_MS;
            if (in->now_ms < at) {
                due(c, at);
                continue;
            }
            d = emit(c, PLAN_HOST_FAIL);
            copy(d->host, ho->id, sizeof d->host);
            if (in->remediated == NULL || !in->remediated(in->arg, ho->id)) {
                d = emit(c, PLAN_REMEDIATE);
                d->action = PLAN_ACTION_REMEDIATE;
                copy(d->host, ho->id, sizeof d->host);
            }
        }
    }
}

/* ---- driving workflows ------------------------------------------------ */

static struct plan_decision *advance(struct ctx *c,
                                     const struct plan_workflow *wf,
                                     int event,
                                     const char *detail)
{
    const struct plan_step *s = &wf->steps[wf->step];
    struct plan_decision *d = emit(c, PLAN_WORKFLOW_ADVANCE);

    d->workflow = wf->id;
    d->step = wf->step;
    d->attempt = s->attempt;
    d->event = event;
    if (event == PLAN_EVENT_RETRY) {
        d->next_attempt = s->attempt + 1;
    } else {
        d->next_attempt = s->attempt;
    }
    copy(d->workload, wf->workload, sizeof d->workload);
    copy(d->from, wf->from, sizeof d->from);
    copy(d->to, wf->to, sizeof d->to);
    copy(d->step_name, s->name, sizeof d->step_name);
    if (detail != NULL) {
        copy(d->detail, detail, sizeof d->detail);
    }
    return d;
}

static void drive_wait(struct ctx *c, const struct plan_workflow *wf)
{
    const struct plan_input *in = c->in;
    const struct plan_step *s = &wf->steps[wf->step];

    if (strcmp(s->name, "keep_warm") == 0) {
        int64_t end = s->started_at + (int64_t)(in->policy.keep_warm_s * 1000);
        if (in->now_ms >= end) {
            advance(c, wf, PLAN_EVENT_OK, NULL);
        } else {
            due(c, end);
        }
        return;
    }
    if (strcmp(s->name, "notify") == 0) {
        int64_t end = s->started_at + (int64_t)in->policy.shutdown_deadline_ms;
        int h = host_find(c, wf->from);

        if (h < 0 || host_down(&in->hosts[h])) {
            advance(c, wf, PLAN_EVENT_OK, "host down");
        } else if (wf->notice_acked) {
            advance(c, wf, PLAN_EVENT_OK, "acknowledged");
        } else if (in->now_ms >= end) {
            advance(c, wf, PLAN_EVENT_OK, "deadline passed");
        } else {
            if (!wf->notice_set) {
                struct plan_decision *d = emit(c, PLAN_NOTICE);
                d->workflow = wf->id;
                copy(d->host, wf->from, sizeof d->host);
                copy(d->workload, wf->workload, sizeof d->workload);
                d->deadline_ms = end;
            }
            due(c, end);
        }
    }
}

static void drive(struct ctx *c, const struct plan_workflow *wf)
{
    const struct plan_input *in = c->in;
    const struct plan_step *s;
    const struct plan_call *call = &wf->call;
    bool on_to;
    bool is_release;
    int action;

    if (!wf_in_flight(wf) || wf->step >= wf->n_steps ||
        wf->step >= PLAN_STEPS_MAX) {
        return;
    }
    if (wf->state == PLAN_WF_PENDING && !wf->approved) {
        return;
    }
    s = &wf->steps[wf->step];
    if (s->state == PLAN_STEP_PENDING) {
        advance(c, wf, PLAN_EVENT_START, NULL);
        return;
    }
    if (s->state != PLAN_STEP_RUNNING) {
        return;
    }
    action = plan_step_action(s->name, &on_to);
    if (action == PLAN_ACTION_NONE) {
        drive_wait(c, wf);
        return;
    }
    is_release = strcmp(s->name, "release") == 0;
    switch (call->status) {
        case PLAN_CALL_NONE:
            /* Started by an earlier leader, or the call was lost: its outcome
             * is unknown, so the step is tried again under a new attempt (the
             * store fails it once the attempts are spent). */
            advance(c, wf, PLAN_EVENT_RETRY, NULL);
            return;
        case PLAN_CALL_OWNED: {
            struct plan_decision *d = emit(c, PLAN_CALL);
            d->workflow = wf->id;
            d->step = wf->step;
            d->attempt = s->attempt;
            d->action = action;
            d->strategy = wf->strategy;
            d->epoch = wf->cur_epoch;
            copy(d->workload, wf->workload, sizeof d->workload);
            copy(d->host, on_to ? wf->to : wf->from, sizeof d->host);
            copy(d->from, wf->from, sizeof d->from);
            copy(d->to, wf->to, sizeof d->to);
            copy(d->step_name, s->name, sizeof d->step_name);
            return;
        }
        case PLAN_CALL_INFLIGHT:
            return;
        default:
            break;
    }
    if (call->outcome == PLAN_OUTCOME_OK) {
        advance(c, wf, PLAN_EVENT_OK, call->detail);
    } else if (call->outcome == PLAN_OUTCOME_RETRY &&
               s->attempt < in->policy.max_attempts) {
        int64_t at = call->done_at + (int64_t)(PLAN_RETRY_BACKOFF_MS *
                                               (s->attempt ? s->attempt : 1));
        if (in->now_ms >= at) {
            advance(c, wf, PLAN_EVENT_RETRY, call->detail);
        } else {
            due(c, at);
        }
    } else {
        /* Refused, or out of attempts.  A release that cannot reach the
         * old host is skipped: that host is gone. */
        advance(c, wf, is_release ? PLAN_EVENT_SKIP : PLAN_EVENT_FAIL,
                call->detail[0] != '\0'                 ? call->detail
                : call->outcome == PLAN_OUTCOME_REFUSED ? "refused"
                                                        : "out of attempts");
    }
}

static int wf_id_cmp(const void *a, const void *b)
{
    const struct plan_workflow *const *x = a;
    const struct plan_workflow *const *y = b;
    if ((*x)->id != (*y)->id) {
        return (*x)->id < (*y)->id ? -1 : 1;
    }
    return 0;
}

static void drive_all(struct ctx *c)
{
    const struct plan_input *in = c->in;
    const struct plan_workflow **order;
    size_t n = 0;

    order = calloc(in->n_workflows + 1, sizeof *order);
    if (order == NULL) {
        c->err = AUGUR_ENOMEM;
        return;
    }
    for (size_t i = 0; i < in->n_workflows; i++) {
        if (wf_in_flight(&in->workflows[i])) {
            order[n++] = &in->workflows[i];
        }
    }
    qsort(order, n, sizeof *order, wf_id_cmp);
    for (size_t i = 0; i < n; i++) {
        drive(c, order[i]);
    }
    free(order);
}

/* ---- proactive: hosts at risk, hosts drained -------------------------- */

struct cand
{
    size_t w;
    int64_t priority;
    double p;
    const char *id;
    bool drain;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a;
    const struct cand *y = b;
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
static bool limits_allow(struct ctx *c, size_t w, bool rate, bool cooldown)
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
            due(c, until);
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
        due(c, c->oldest_created + 60000);
        c->out->deferred++;
        return false;
    }
    return true;
}

static void proactive(struct ctx *c)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    struct cand *cands;
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
    qsort(cands, n, sizeof *cands, cand_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t w = cands[i].w;
        const struct plan_workload *wl = &in->workloads[w];
        bool drain = cands[i].drain;
        int to;

        if (!limits_allow(c, w, !drain, !drain)) {
            continue;
        }
        to = warm_shadow_host(c, w);
        if (to >= 0) {
            create(c, w, to, PLAN_STRATEGY_STANDBY,
                   drain ? PLAN_REASON_MANUAL : PLAN_REASON_PREDICTED, drain,
                   drain || p->automatic);
            continue;
        }
        to = best_host(c, w, NULL);
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

static bool shares_domain(const struct ctx *c, size_t w)
{
    int h = member_host(c, w);
    return h >= 0 && !keeps_spread(c, w, h);
}

/* Whether @w moved within its cooldown. */
static bool cooling(const struct ctx *c, size_t w)
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
static int weak_pick_what_if(struct ctx *c, int co, int *to)
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
        t = best_host(c, w, &kept);
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

static void rebalance_cohort(struct ctx *c, int co)
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
             risk(&in->hosts[c->w_host[w]]) >
                 risk(&in->hosts[c->w_host[pick]]))) {
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
            if (pick < 0 || risk(&in->hosts[c->w_host[w]]) >
                                risk(&in->hosts[c->w_host[pick]])) {
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
    to = best_host(c, (size_t)pick, &kept);
    if (to < 0 || !kept) {
        return;
    }
    if (!broken && risk(&in->hosts[to]) + p->hysteresis >
                       risk(&in->hosts[c->w_host[pick]])) {
        return; /* no better host: moving would not help */
    }
    if (!limits_allow(c, (size_t)pick, true, true)) {
        return;
    }
    create(c, (size_t)pick, to, own_strategy(&in->workloads[pick]),
           PLAN_REASON_REBALANCE, false, p->automatic);
}

static void rebalance(struct ctx *c)
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
    qsort(order, n, sizeof *order, key_cmp);
    for (size_t i = 0; i < n; i++) {
        rebalance_cohort(c, (int)order[i].idx);
    }
    free(order);
}

/* ---- shadows ---------------------------------------------------------- */

static void shadow_call(struct ctx *c, const struct plan_shadow *sh, int action)
{
    const struct plan_input *in = c->in;
    struct plan_decision *d = emit(c, PLAN_CALL);
    int w = workload_find(c, sh->workload);

    d->is_shadow = true;
    d->action = action;
    d->epoch = sh->epoch;
    d->attempt = sh->call.action == action ? sh->call.attempts + 1 : 1;
    copy(d->workload, sh->workload, sizeof d->workload);
    copy(d->host, sh->host, sizeof d->host);
    copy(d->to, sh->host, sizeof d->to);
    if (w >= 0 && in->workloads[w].claimed) {
        copy(d->from, in->workloads[w].host, sizeof d->from);
    }
}

static void shadow_release(struct ctx *c, const struct plan_shadow *sh)
{
    struct plan_decision *d = emit(c, PLAN_SHADOW_RELEASE);
    copy(d->workload, sh->workload, sizeof d->workload);
    copy(d->host, sh->host, sizeof d->host);
    d->epoch = sh->epoch;
}

/* Whether @sh's reason has gone. */
static bool shadow_unneeded(const struct ctx *c,
                            const struct plan_shadow *sh,
                            int w,
                            bool *host_gone)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    int h = host_find(c, sh->host);
    int wh;
    const struct plan_workload *wl;

    *host_gone = h < 0 || host_down(&in->hosts[h]);
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
    if (wh < 0 || host_down(&in->hosts[wh])) {
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

static void shadow_update(struct ctx *c, const struct plan_shadow *sh)
{
    struct plan_decision *d = emit(c, PLAN_SHADOW_UPDATE);
    const struct plan_call *r = &sh->call;

    copy(d->workload, sh->workload, sizeof d->workload);
    copy(d->host, sh->host, sizeof d->host);
    d->epoch = sh->epoch;
    d->shadow_state = PLAN_SHADOW_WARM;
    if (r->state[0] != '\0' && strcmp(r->state, "provisioning") == 0) {
        d->shadow_state = PLAN_SHADOW_PROVISIONING;
    }
    d->has_lag = r->has_lag;
    d->lag_ms = r->lag_ms;
    copy(d->drift, r->drift, sizeof d->drift);
}

static void shadow_drive(struct ctx *c, const struct plan_shadow *sh)
{
    const struct plan_input *in = c->in;
    const struct plan_call *r = &sh->call;
    int w = workload_find(c, sh->workload);
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
                due(c, at);
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
            due(c, next);
        }
    }
}

/* How many failure domains (rack, zone, psu, switch) hosts @a and @b
 * share. */
static int shared_domains(const struct ctx *c, int a, int b)
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
static int shadow_target(const struct ctx *c, size_t w)
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
        if ((int)h == wh || !host_usable(c, &in->hosts[h]) ||
            !fits(host_free(c, h), wl->demand)) {
            continue;
        }
        if (spread != PLAN_SPREAD_HOST && dom[0] != '\0' &&
            strcmp(dom, in->hosts[wh].domain[spread]) == 0) {
            continue;
        }
        shared = shared_domains(c, (int)h, wh);
        if (best < 0 || shared < best_shared ||
            (shared == best_shared && rank(c, (int)h, true, best, true) < 0)) {
            best = (int)h;
            best_shared = shared;
        }
    }
    return best;
}

static void shadows(struct ctx *c)
{
    const struct plan_input *in = c->in;
    const struct plan_policy *p = &in->policy;
    struct cand *cands;
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
    qsort(cands, n, sizeof *cands, cand_cmp);
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
        d = emit(c, PLAN_SHADOW_PROVISION);
        copy(d->workload, wl->id, sizeof d->workload);
        copy(d->host, in->hosts[to].id, sizeof d->host);
        copy(d->from, wl->host, sizeof d->from);
        c->shadow_cpu += wl->demand.cpu;
        c->shadow_mem += wl->demand.mem_mb;
        c->standby[to].cpu += wl->demand.cpu;
        c->standby[to].mem_mb += wl->demand.mem_mb;
    }
    free(cands);
}

/* ---- the round -------------------------------------------------------- */

int plan_run(const struct plan_input *in, struct plan_output *out)
{
    struct ctx c;
    int rv;

    out->n = 0;
    out->next_due_ms = 0;
    out->unplaced = 0;
    out->deferred = 0;
    rv = ctx_init(&c, in, out);
    if (rv != 0) {
        return rv;
    }
    reactive(&c);
    drive_all(&c);
    proactive(&c);
    rebalance(&c);
    shadows(&c);
    rv = c.err;
    ctx_close(&c);
    return rv;
}
