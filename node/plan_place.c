/* The planner's round context and placement: lookups, the capacity a
 * host has left, which hosts may take work, the cohort spread, and the
 * ranking that picks the best host (docs/ORCHESTRATOR.md, "The best
 * host"). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node/plan_int.h"

/* ---- the round's context ---------------------------------------------- */

int plan__key_cmp(const void *a, const void *b)
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
    hit = bsearch(&k, keys, n, sizeof *keys, plan__key_cmp);
    return hit == NULL ? -1 : (int)hit->idx;
}

int plan__host_find(const struct plan__ctx *c, const char *id)
{
    return find(c->hosts_by_id, c->in->n_hosts, id);
}

int plan__workload_find(const struct plan__ctx *c, const char *id)
{
    return find(c->wl_by_id, c->in->n_workloads, id);
}

void plan__due(struct plan__ctx *c, int64_t at)
{
    if (at > 0 && (c->out->next_due_ms == 0 || at < c->out->next_due_ms)) {
        c->out->next_due_ms = at;
    }
}

struct plan_decision *plan__emit(struct plan__ctx *c, int kind)
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

void plan__copy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (len >= size) {
        len = size - 1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

bool plan__wf_in_flight(const struct plan_workflow *wf)
{
    return wf->state == PLAN_WF_PENDING || wf->state == PLAN_WF_RUNNING;
}

bool plan__host_down(const struct plan_host *h)
{
    return h->state == PLAN_HOST_UNREACHABLE || h->state == PLAN_HOST_FAILED;
}

static uint64_t sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

struct plan_capacity plan__host_free(const struct plan__ctx *c, size_t h)
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

bool plan__fits(struct plan_capacity free, struct plan_capacity demand)
{
    return free.cpu >= demand.cpu && free.mem_mb >= demand.mem_mb;
}

static bool in_host_cooldown(const struct plan__ctx *c,
                             const struct plan_host *h)
{
    const struct plan_input *in = c->in;
    return h->back_at_ms != 0 &&
           in->now_ms <
               h->back_at_ms + (int64_t)(in->policy.host_cooldown_s * 1000);
}

double plan__risk(const struct plan_host *h)
{
    return h->risk > h->p ? h->risk : h->p;
}

/* A host new work may be placed on. */
bool plan__host_usable(const struct plan__ctx *c, const struct plan_host *h)
{
    const struct plan_policy *p = &c->in->policy;
    return h->is_host && h->state == PLAN_HOST_ACTIVE &&
           plan__risk(h) < p->migrate_threshold - p->hysteresis &&
           !in_host_cooldown(c, h) &&
           c->in->now_ms >= h->target_cooldown_until_ms;
}

/* A host whose warm shadow may take a workload over. */
static bool shadow_host_usable(const struct plan__ctx *c,
                               const struct plan_host *h)
{
    return plan__host_usable(c, h);
}

void plan__reserve(struct plan__ctx *c, int h, struct plan_capacity d)
{
    if (h >= 0) {
        c->reserved[h].cpu += d.cpu;
        c->reserved[h].mem_mb += d.mem_mb;
    }
}

/* Where member @j of a cohort will run: its move's target this round, its
 * workflow's target, else its host. */
int plan__member_host(const struct plan__ctx *c, size_t j)
{
    if (c->w_target[j] >= 0) {
        return c->w_target[j];
    }
    if (c->w_flight[j] >= 0) {
        int t = plan__host_find(c, c->in->workflows[c->w_flight[j]].to);
        if (t >= 0) {
            return t;
        }
    }
    return c->w_host[j];
}

/* Whether @h's domain for @w's cohort spread is free of @w's other
 * members.  A host without a domain of that kind conflicts with nothing. */
bool plan__keeps_spread(const struct plan__ctx *c, size_t w, int h)
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
        mh = plan__member_host(c, j);
        if (mh >= 0 && strcmp(in->hosts[mh].domain[spread], dom) == 0) {
            return false;
        }
    }
    return true;
}

/* -1, 0, 1: whether host @a ranks before @b as a target (spread first). */
int plan__rank(const struct plan__ctx *c, int a, bool sa, int b, bool sb)
{
    const struct plan_host *ha = &c->in->hosts[a];
    const struct plan_host *hb = &c->in->hosts[b];
    struct plan_capacity fa = plan__host_free(c, (size_t)a);
    struct plan_capacity fb = plan__host_free(c, (size_t)b);

    if (sa != sb) {
        return sa ? -1 : 1;
    }
    if (plan__risk(ha) != plan__risk(hb)) {
        return plan__risk(ha) < plan__risk(hb) ? -1 : 1;
    }
    if (fa.cpu != fb.cpu) {
        return fa.cpu > fb.cpu ? -1 : 1;
    }
    if (fa.mem_mb != fb.mem_mb) {
        return fa.mem_mb > fb.mem_mb ? -1 : 1;
    }
    return strcmp(ha->id, hb->id);
}

int plan__best_host(const struct plan__ctx *c, size_t w, bool *spread_kept)
{
    const struct plan_input *in = c->in;
    const struct plan_workload *wl = &in->workloads[w];
    int best = -1;
    bool best_spread = false;

    for (size_t h = 0; h < in->n_hosts; h++) {
        bool s;
        if (!plan__host_usable(c, &in->hosts[h]) || (int)h == c->w_host[w] ||
            !plan__fits(plan__host_free(c, h), wl->demand)) {
            continue;
        }
        s = plan__keeps_spread(c, w, (int)h);
        if (best < 0 || plan__rank(c, (int)h, s, best, best_spread) < 0) {
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
int plan__warm_shadow_host(const struct plan__ctx *c, size_t w)
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
    h = plan__host_find(c, sh->host);
    if (h < 0 || h == c->w_host[w] ||
        !shadow_host_usable(c, &c->in->hosts[h])) {
        return -1;
    }
    return h;
}

void plan__ctx_close(struct plan__ctx *c)
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

int plan__ctx_init(struct plan__ctx *c,
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
        plan__ctx_close(c);
        return AUGUR_ENOMEM;
    }
    for (size_t h = 0; h < nh; h++) {
        c->hosts_by_id[h].id = in->hosts[h].id;
        c->hosts_by_id[h].idx = h;
    }
    qsort(c->hosts_by_id, nh, sizeof *c->hosts_by_id, plan__key_cmp);
    for (size_t w = 0; w < nw; w++) {
        c->wl_by_id[w].id = in->workloads[w].id;
        c->wl_by_id[w].idx = w;
    }
    qsort(c->wl_by_id, nw, sizeof *c->wl_by_id, plan__key_cmp);
    for (size_t w = 0; w < nw; w++) {
        const struct plan_workload *wl = &in->workloads[w];
        c->w_host[w] = wl->claimed ? plan__host_find(c, wl->host) : -1;
        c->w_flight[w] = -1;
        c->w_shadow[w] = -1;
        c->w_target[w] = -1;
    }
    for (size_t i = 0; i < in->n_workflows; i++) {
        const struct plan_workflow *wf = &in->workflows[i];
        int w = plan__workload_find(c, wf->workload);
        bool limited = wf->reason == PLAN_REASON_PREDICTED ||
                       wf->reason == PLAN_REASON_REBALANCE;

        if (limited && wf->created_at > in->now_ms - 60000) {
            c->created_last_min++;
            if (c->oldest_created == 0 || wf->created_at < c->oldest_created) {
                c->oldest_created = wf->created_at;
            }
        }
        if (!plan__wf_in_flight(wf)) {
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
            plan__reserve(c, plan__host_find(c, wf->to),
                          in->workloads[w].demand);
        }
    }
    for (size_t i = 0; i < in->n_shadows; i++) {
        const struct plan_shadow *sh = &in->shadows[i];
        int w, h;

        if (sh->state != PLAN_SHADOW_PROVISIONING &&
            sh->state != PLAN_SHADOW_WARM) {
            continue;
        }
        w = plan__workload_find(c, sh->workload);
        h = plan__host_find(c, sh->host);
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
    struct plan__ctx c;
    int h;

    if (w >= in->n_workloads) {
        return -1;
    }
    plan_output_init(&out);
    if (plan__ctx_init(&c, in, &out) != 0) {
        return -1;
    }
    if (reserved != NULL) {
        for (size_t i = 0; i < in->n_hosts; i++) {
            c.reserved[i].cpu += reserved[i].cpu;
            c.reserved[i].mem_mb += reserved[i].mem_mb;
        }
    }
    h = plan__best_host(&c, w, NULL);
    plan__ctx_close(&c);
    return h;
}
