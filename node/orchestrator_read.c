/* The orchestrator's reading of a round's input: the store's views (policy,
 * resources with their failure domains and risk, cohorts with their
 * resilience, workloads, workflows in flight and those under the rate
 * limit, standby claims) into the planner's structs, with this leader's
 * memory of its calls, notices and hosts (docs/ORCHESTRATOR.md, "The
 * orchestrator"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "node/node.h"

static void copy(char *dst, const char *src, size_t size)
{
    snprintf(dst, size, "%s", src);
}

/* ---- the round's input ------------------------------------------------ */

static int host_state(int s)
{
    switch (s) {
        case STORE_STATE_ACTIVE:
            return PLAN_HOST_ACTIVE;
        case STORE_STATE_DEGRADED:
            return PLAN_HOST_DEGRADED;
        case STORE_STATE_DRAINING:
            return PLAN_HOST_DRAINING;
        case STORE_STATE_UNREACHABLE:
            return PLAN_HOST_UNREACHABLE;
        case STORE_STATE_FAILED:
            return PLAN_HOST_FAILED;
        default:
            return PLAN_HOST_OTHER;
    }
}

static bool state_down(int s)
{
    return s == STORE_STATE_UNREACHABLE || s == STORE_STATE_FAILED;
}

static int collect_host(void *arg, const struct store_resource_view *r)
{
    struct node_orch *o = arg;
    struct plan_host *h;

    if (!node__orch_grow((void **)&o->in_hosts, &o->cap_in_hosts,
                         o->n_in_hosts + 1, sizeof *o->in_hosts)) {
        return AUGUR_ENOMEM;
    }
    h = &o->in_hosts[o->n_in_hosts++];
    memset(h, 0, sizeof *h);
    copy(h->id, r->id, sizeof h->id);
    h->is_host = strcmp(r->kind, "host") == 0;
    h->state = r->state; /* the store's, mapped after the walk */
    h->capacity.cpu = r->capacity.cpu;
    h->capacity.mem_mb = r->capacity.mem_mb;
    h->used.cpu = r->used.cpu;
    h->used.mem_mb = r->used.mem_mb;
    h->p = r->has_score ? r->p : 0.0;
    return 0;
}

static int host_mem_cmp(const void *a, const void *b)
{
    const struct node_orch_host *x = a;
    const struct node_orch_host *y = b;
    return strcmp(x->id, y->id);
}

struct node_orch_host *node__orch_host_find(struct node_orch *o, const char *id)
{
    struct node_orch_host k;

    if (o->n_hosts == 0) {
        return NULL;
    }
    copy(k.id, id, sizeof k.id);
    return bsearch(&k, o->hosts, o->n_hosts, sizeof *o->hosts, host_mem_cmp);
}

static int in_host_cmp(const void *key, const void *elem)
{
    const struct plan_host *h = elem;
    return strcmp(key, h->id);
}

/* A resource of this round by id (the store walks them in id order). */
static struct plan_host *in_host_find(struct node_orch *o, const char *id)
{
    if (id[0] == '\0' || o->n_in_hosts == 0) {
        return NULL;
    }
    return bsearch(id, o->in_hosts, o->n_in_hosts, sizeof *o->in_hosts,
                   in_host_cmp);
}

/* The hosts as the store has them, with this leader's memory of when
 * each came back and its failure domains. */
static int read_hosts(struct node *n, int64_t now)
{
    struct node_orch *o = &n->orch;
    struct node_orch_host *mem;
    unsigned budget = NODE_ORCH_DOMAINS_PER_ROUND;
    int rv;

    o->n_in_hosts = 0;
    rv = store_resources_each(n->store, collect_host, o);
    if (rv != 0) {
        return rv;
    }
    mem = calloc(o->n_in_hosts + 1, sizeof *mem);
    if (mem == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < o->n_in_hosts; i++) {
        struct plan_host *h = &o->in_hosts[i];
        struct node_orch_host *old = node__orch_host_find(o, h->id);
        struct node_orch_host *m = &mem[i];

        if (old != NULL) {
            *m = *old;
            if (state_down(old->state) && !state_down(h->state)) {
                /* Back by itself (its agent reports again): it may flap,
                 * so it waits out the host cooldown.  Back from failed:
                 * an operator repaired it and said so, which clears the
                 * cooldown (as a resource cleanup clears Pacemaker's
                 * fail count), and rebalancing may use it at once. */
                bool by_itself = old->state == STORE_STATE_UNREACHABLE;
                m->back_at_ms = by_itself ? now : 0;
                m->remediated = false;
                LOG(LOG_LEVEL_INFO, "orchestrator: host %s is back (%s)%s",
                    h->id, store_state_name(h->state),
                    by_itself ? ": no new workloads for its host cooldown"
                              : " after an operator's repair");
            }
        } else {
            copy(m->id, h->id, sizeof m->id);
        }
        m->state = h->state;
        if (h->state != STORE_STATE_UNREACHABLE) {
            m->down_since_ms = 0;
        } else if (m->down_since_ms == 0) {
            m->down_since_ms = now; /* a new leader counts from now */
        }
        if (!state_down(h->state)) {
            m->held_claims = false;
        }
        if (h->is_host && budget > 0 &&
            (!m->domains_read || now >= m->domains_at + NODE_ORCH_DOMAINS_MS)) {
            budget--;
            m->domains_at = now;
            for (int s = PLAN_SPREAD_RACK; s < PLAN_SPREAD_COUNT; s++) {
                if (store_host_domain(n->store, h->id, s, m->domain[s]) != 0) {
                    m->domain[s][0] = '\0';
                }
            }
            m->domains_read = true;
        }
        copy(m->domain[PLAN_SPREAD_HOST], h->id, PLAN_ID_SIZE);
        m->domain[PLAN_SPREAD_NONE][0] = '\0';
        memcpy(h->domain, m->domain, sizeof h->domain);
        h->back_at_ms = m->back_at_ms;
        h->down_since_ms = m->down_since_ms;
        h->state = host_state(h->state);
    }
    /* A host's risk as a target: its own p with that of the PSU and the
     * switch it depends on (the resources named by those domains). */
    for (size_t i = 0; i < o->n_in_hosts; i++) {
        struct plan_host *h = &o->in_hosts[i];
        double keep = 1.0 - h->p;
        if (!h->is_host) {
            continue;
        }
        for (int sp = PLAN_SPREAD_PSU; sp <= PLAN_SPREAD_SWITCH; sp++) {
            const struct plan_host *up = in_host_find(o, h->domain[sp]);
            if (up != NULL && up != h) {
                keep *= 1.0 - up->p;
            }
        }
        h->risk = 1.0 - keep;
    }
    /* The store walks resources in id order: @mem is sorted. */
    qsort(mem, o->n_in_hosts, sizeof *mem, host_mem_cmp);
    free(o->hosts);
    o->hosts = mem;
    o->n_hosts = o->n_in_hosts;
    o->cap_hosts = o->n_in_hosts + 1;
    return 0;
}

static int collect_cohort(void *arg, const struct store_cohort *c)
{
    struct node_orch *o = arg;
    struct plan_cohort *pc;

    if (!node__orch_grow((void **)&o->in_co, &o->cap_in_co, o->n_in_co + 1,
                         sizeof *o->in_co)) {
        return AUGUR_ENOMEM;
    }
    pc = &o->in_co[o->n_in_co++];
    memset(pc, 0, sizeof *pc);
    copy(pc->name, c->name, sizeof pc->name);
    pc->spread = c->spread;
    pc->min_resilience = c->min_resilience;
    return 0;
}

static int cohort_cmp(const void *a, const void *b)
{
    const struct plan_cohort *x = a;
    const struct plan_cohort *y = b;
    return strcmp(x->name, y->name);
}

static int read_cohorts(struct node *n)
{
    struct node_orch *o = &n->orch;
    int rv;

    o->n_in_co = 0;
    rv = store_cohorts_each(n->store, collect_cohort, o);
    if (rv != 0) {
        return rv;
    }
    if (o->n_in_co > 1) {
        qsort(o->in_co, o->n_in_co, sizeof *o->in_co, cohort_cmp);
    }
    for (size_t i = 0; i < o->n_in_co; i++) {
        struct store_cohort_eval ev;
        if (store_cohort_evaluate(n->store, o->in_co[i].name, NULL, NULL,
                                  &ev) == 0) {
            o->in_co[i].has_eval = true;
            o->in_co[i].resilience = ev.resilience;
        }
    }
    return 0;
}

static int collect_workload(void *arg, const struct store_workload_view *w)
{
    struct node_orch *o = arg;
    struct plan_workload *pw;

    if (!node__orch_grow((void **)&o->in_wl, &o->cap_in_wl, o->n_in_wl + 1,
                         sizeof *o->in_wl)) {
        return AUGUR_ENOMEM;
    }
    pw = &o->in_wl[o->n_in_wl++];
    memset(pw, 0, sizeof *pw);
    copy(pw->id, w->id, sizeof pw->id);
    pw->demand.cpu = w->demand.cpu;
    pw->demand.mem_mb = w->demand.mem_mb;
    pw->priority = w->priority;
    pw->strategy = w->strategy;
    pw->claimed = w->claimed;
    copy(pw->host, w->host, sizeof pw->host);
    pw->epoch = w->epoch;
    pw->cohort = -1;
    if (w->cohort[0] != '\0') {
        struct plan_cohort k;
        const struct plan_cohort *hit;
        copy(k.name, w->cohort, sizeof k.name);
        hit = o->n_in_co == 0 ? NULL
                              : bsearch(&k, o->in_co, o->n_in_co,
                                        sizeof *o->in_co, cohort_cmp);
        if (hit != NULL) {
            pw->cohort = (int)(hit - o->in_co);
        }
    }
    return 0;
}

static void workflow_to_plan(const struct store_workflow *w,
                             struct plan_workflow *p)
{
    memset(p, 0, sizeof *p);
    p->id = w->id;
    copy(p->workload, w->workload, sizeof p->workload);
    copy(p->from, w->from, sizeof p->from);
    copy(p->to, w->to, sizeof p->to);
    p->strategy = w->strategy;
    p->reason = w->reason;
    p->state = w->state;
    p->step = w->step;
    p->n_steps = w->n_steps > PLAN_STEPS_MAX ? PLAN_STEPS_MAX : w->n_steps;
    for (unsigned i = 0; i < p->n_steps; i++) {
        copy(p->steps[i].name, w->steps[i].name, sizeof p->steps[i].name);
        p->steps[i].state = w->steps[i].state;
        p->steps[i].attempt = w->steps[i].attempt;
        p->steps[i].started_at = w->steps[i].started_at;
    }
    p->cur_epoch = w->cur_epoch;
    p->approved = w->approved;
    p->created_at = w->created_at;
}

static int collect_workflow(void *arg, const struct store_workflow *w)
{
    struct node_orch *o = arg;

    if (!node__orch_grow((void **)&o->in_wf, &o->cap_in_wf, o->n_in_wf + 1,
                         sizeof *o->in_wf)) {
        return AUGUR_ENOMEM;
    }
    workflow_to_plan(w, &o->in_wf[o->n_in_wf++]);
    return 0;
}

static bool limited(int reason)
{
    return reason == STORE_REASON_PREDICTED || reason == STORE_REASON_REBALANCE;
}

static void recent_add(struct node_orch *o, uint64_t id, int reason, int64_t at)
{
    for (size_t i = 0; i < o->n_recent; i++) {
        if (o->recent[i].id == id) {
            return;
        }
    }
    if (o->n_recent < NODE_ORCH_RECENT_MAX) {
        o->recent[o->n_recent].id = id;
        o->recent[o->n_recent].reason = reason;
        o->recent[o->n_recent].created_at = at;
        o->n_recent++;
    }
}

struct seed_ctx
{
    struct node_orch *o;
    int64_t since;
    uint64_t cooldown_ms; /* policy target_cooldown_s */
};

/* A workflow rolled back because a traffic step failed its validation
 * (not because HAProxy could not be reached, nor a cancel): its target
 * is on cooldown from the step's end. */
static void seed_cooldown(struct seed_ctx *ctx, const struct store_workflow *w)
{
    if (w->state != STORE_WF_ROLLED_BACK) {
        return;
    }
    for (unsigned i = 0; i < w->n_steps && i < STORE_WF_STEPS_MAX; i++) {
        const struct store_wf_step *st = &w->steps[i];
        bool traffic = strcmp(st->name, "mirror") == 0 ||
                       strncmp(st->name, "shift_", 6) == 0;
        if (traffic && st->state == STORE_STEP_FAILED &&
            strncmp(st->detail, "haproxy", 7) != 0 &&
            strncmp(st->detail, "probe", 5) != 0 &&
            strncmp(st->detail, "no instance", 11) != 0) {
            node__orch_cooldown_set(ctx->o, w->to,
                                    st->ended_at + (int64_t)ctx->cooldown_ms);
        }
    }
}

static int seed_recent(void *arg, const struct store_workflow *w)
{
    struct seed_ctx *ctx = arg;
    if (limited(w->reason) && w->created_at > ctx->since) {
        recent_add(ctx->o, w->id, w->reason, w->created_at);
    }
    seed_cooldown(ctx, w);
    return 0;
}

/* The workflows in flight, then those under the rate limit created in
 * the last minute: seeded from every kept workflow once per leadership,
 * then from what this leader sees in flight. */
static int read_workflows(struct node *n,
                          int64_t now,
                          const struct store_policy *pol)
{
    struct node_orch *o = &n->orch;
    size_t n_flight;
    size_t k = 0;
    int rv;

    if (!o->recent_seeded) {
        struct seed_ctx ctx = {o, now - 60000, pol->target_cooldown_s * 1000};
        o->n_recent = 0;
        rv = store_workflows_each(n->store, false, seed_recent, &ctx);
        if (rv != 0) {
            return rv;
        }
        o->recent_seeded = true;
    }
    o->n_in_wf = 0;
    rv = store_workflows_each(n->store, true, collect_workflow, o);
    if (rv != 0) {
        return rv;
    }
    n_flight = o->n_in_wf;
    for (size_t i = 0; i < n_flight; i++) {
        const struct plan_workflow *w = &o->in_wf[i];
        if (limited(w->reason) && w->created_at > now - 60000) {
            recent_add(o, w->id, w->reason, w->created_at);
        }
    }
    for (size_t i = 0; i < o->n_recent; i++) {
        struct node_orch_recent *r = &o->recent[i];
        bool flying = false;
        if (r->created_at <= now - 60000) {
            continue; /* out of the window: dropped */
        }
        o->recent[k++] = *r;
        for (size_t j = 0; j < n_flight && !flying; j++) {
            flying = o->in_wf[j].id == r->id;
        }
        if (flying) {
            continue;
        }
        if (!node__orch_grow((void **)&o->in_wf, &o->cap_in_wf, o->n_in_wf + 1,
                             sizeof *o->in_wf)) {
            return AUGUR_ENOMEM;
        }
        memset(&o->in_wf[o->n_in_wf], 0, sizeof o->in_wf[0]);
        o->in_wf[o->n_in_wf].id = r->id;
        o->in_wf[o->n_in_wf].reason = r->reason;
        o->in_wf[o->n_in_wf].created_at = r->created_at;
        o->in_wf[o->n_in_wf].state = PLAN_WF_DONE;
        o->n_in_wf++;
    }
    o->n_recent = k;
    /* This leader's memory of each workflow in flight. */
    for (size_t i = 0; i < n_flight; i++) {
        struct plan_workflow *w = &o->in_wf[i];
        struct node_orch_call *c = node__orch_call_of_workflow(o, w->id);
        struct node_orch_notice *no = node__orch_notice_find(o, w->id);

        if (no != NULL) {
            w->notice_set = true;
            w->notice_acked = node__shutdown_acked(n, no->host, no->notice_wf);
        }
        if (c != NULL && c->status == PLAN_CALL_INFLIGHT &&
            w->step < w->n_steps &&
            (c->step != w->step || c->attempt != w->steps[w->step].attempt)) {
            /* The workflow moved past the step of a call still running (a
             * cancel, a failure's rollback).  A traffic step is stopped:
             * its measuring is moot, and nothing it does may land after
             * the rollback's unshift (one still probing for its port ends
             * when the probe answers, without starting).  An actuator's
             * call is waited for:
             * the slot is busy, and a step started meanwhile must wait
             * rather than spend its attempts at once. */
            c->stale = true;
            if (PLAN_ACTION_IS_TRAFFIC(c->action)) {
                node_traffic_cancel_data(n->traffic, c);
            }
            if (c->status == PLAN_CALL_INFLIGHT) {
                w->call.status = PLAN_CALL_INFLIGHT;
                continue;
            }
        }
        if (c == NULL || w->step >= w->n_steps || c->step != w->step ||
            c->attempt != w->steps[w->step].attempt) {
            continue;
        }
        w->call.status = c->status;
        w->call.action = c->action;
        w->call.outcome = c->outcome;
        w->call.done_at = c->done_at;
        copy(w->call.detail, c->detail, sizeof w->call.detail);
    }
    return 0;
}

static int collect_shadow(void *arg, const struct store_standby *b)
{
    struct node_orch *o = arg;
    struct plan_shadow *s;

    if (b->state == STORE_SHADOW_RELEASED) {
        return 0;
    }
    if (!node__orch_grow((void **)&o->in_sh, &o->cap_in_sh, o->n_in_sh + 1,
                         sizeof *o->in_sh)) {
        return AUGUR_ENOMEM;
    }
    s = &o->in_sh[o->n_in_sh++];
    memset(s, 0, sizeof *s);
    copy(s->workload, b->workload, sizeof s->workload);
    copy(s->host, b->host, sizeof s->host);
    s->epoch = b->epoch;
    s->state = b->state;
    s->lag_ms = b->lag_ms;
    copy(s->drift, b->drift, sizeof s->drift);
    s->demand.cpu = b->demand.cpu;
    s->demand.mem_mb = b->demand.mem_mb;
    return 0;
}

static int read_shadows(struct node *n)
{
    struct node_orch *o = &n->orch;
    int rv;

    o->n_in_sh = 0;
    rv = store_standbys_each(n->store, collect_shadow, o);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < o->n_in_sh; i++) {
        struct plan_shadow *s = &o->in_sh[i];
        struct node_orch_call *c =
            node__orch_call_of_shadow(o, s->workload, s->host, s->epoch);
        if (c == NULL) {
            continue;
        }
        s->call.status = c->status;
        s->call.action = c->action;
        s->call.outcome = c->outcome;
        s->call.attempts = c->attempts;
        s->call.done_at = c->done_at;
        copy(s->call.detail, c->detail, sizeof s->call.detail);
        copy(s->call.state, c->state, sizeof s->call.state);
        s->call.has_lag = c->has_lag;
        s->call.lag_ms = c->lag_ms;
        copy(s->call.drift, c->drift, sizeof s->call.drift);
    }
    return 0;
}

static bool remediated(void *arg, const char *host)
{
    struct node *n = arg;
    struct node_orch_host *m = node__orch_host_find(&n->orch, host);
    return m != NULL && m->remediated;
}

/* When @workload last moved, for the cooldown against flapping scores: a
 * failover does not count.  It was forced by a dead host, not chosen on a
 * score, and a workload that failed over onto a host predicted to fail
 * next must be free to leave it at once (a replayed PdM run lost it so:
 * the failover's cooldown held its evacuation until the host died).
 * Scored moves (predicted, rebalance) and manual ones still count. */
static int64_t last_move(void *arg, const char *workload)
{
    struct node *n = arg;
    struct store_workflow w;
    uint64_t id = 0;
    int64_t at = 0;

    if (store_workload_last_move(n->store, workload, &id, &at) != 0) {
        return 0;
    }
    if (id != 0 && store_workflow_load(n->store, id, &w) == 0 &&
        w.reason == STORE_REASON_FAILED) {
        return 0;
    }
    return at;
}

static double what_if(void *arg,
                      const char *cohort,
                      const char *workload,
                      const char *host)
{
    struct node *n = arg;
    struct store_cohort_eval ev;

    if (store_cohort_evaluate(n->store, cohort, workload, host, &ev) != 0) {
        return -1.0;
    }
    return ev.resilience;
}

/* Remember the down hosts that hold active claims: once those are failed
 * over, such a host is marked failed (an idle one is not). */
static void note_held_claims(struct node_orch *o)
{
    for (size_t i = 0; i < o->n_in_hosts; i++) {
        struct plan_host *h = &o->in_hosts[i];
        struct node_orch_host *m = node__orch_host_find(o, h->id);
        if (m != NULL) {
            h->held_claims = m->held_claims;
        }
    }
    for (size_t i = 0; i < o->n_in_wl; i++) {
        const struct plan_workload *w = &o->in_wl[i];
        struct plan_host *h;
        struct node_orch_host *m;

        if (!w->claimed) {
            continue;
        }
        h = in_host_find(o, w->host);
        if (h == NULL || (h->state != PLAN_HOST_UNREACHABLE &&
                          h->state != PLAN_HOST_FAILED)) {
            continue;
        }
        h->held_claims = true;
        m = node__orch_host_find(o, h->id);
        if (m != NULL) {
            m->held_claims = true;
        }
    }
}

/* Targets on cooldown: expired ones are forgotten, the others marked on
 * the round's hosts. */
static void apply_cooldowns(struct node_orch *o, int64_t now)
{
    size_t k = 0;

    for (size_t i = 0; i < o->n_cooldowns; i++) {
        if (o->cooldowns[i].until_ms > now) {
            o->cooldowns[k++] = o->cooldowns[i];
        }
    }
    o->n_cooldowns = k;
    for (size_t i = 0; i < o->n_in_hosts; i++) {
        o->in_hosts[i].target_cooldown_until_ms = 0;
        for (size_t j = 0; j < o->n_cooldowns; j++) {
            if (strcmp(o->cooldowns[j].host, o->in_hosts[i].id) == 0) {
                o->in_hosts[i].target_cooldown_until_ms =
                    o->cooldowns[j].until_ms;
            }
        }
    }
}

/* ---- the round's input, in one ----------------------------------------- */

int node__orch_read(struct node *n,
                    int64_t now,
                    struct store_policy *pol,
                    struct plan_input *in)
{
    struct node_orch *o = &n->orch;
    int rv;

    rv = store_policy_get(n->store, pol);
    if (rv == 0) {
        rv = read_hosts(n, now);
    }
    if (rv == 0) {
        rv = read_cohorts(n);
    }
    if (rv == 0) {
        o->n_in_wl = 0;
        rv = store_workloads_each(n->store, collect_workload, o);
    }
    if (rv == 0) {
        note_held_claims(o);
    }
    if (rv == 0) {
        rv = read_workflows(n, now, pol);
    }
    if (rv == 0) {
        rv = read_shadows(n);
    }
    if (rv != 0) {
        return rv;
    }
    apply_cooldowns(o, now);
    memset(in, 0, sizeof *in);
    in->now_ms = now;
    plan_policy_from_store(pol, &in->policy);
    in->hosts = o->in_hosts;
    in->n_hosts = o->n_in_hosts;
    in->workloads = o->in_wl;
    in->n_workloads = o->n_in_wl;
    in->workflows = o->in_wf;
    in->n_workflows = o->n_in_wf;
    in->shadows = o->in_sh;
    in->n_shadows = o->n_in_sh;
    in->cohorts = o->in_co;
    in->n_cohorts = o->n_in_co;
    in->remediated = remediated;
    in->last_move = last_move;
    /* What-ifs cost a resilience evaluation each: once a second. */
    if (now >= o->next_what_if_ms) {
        in->what_if = what_if;
        o->next_what_if_ms = now + NODE_ORCH_WHAT_IF_MS;
    }
    in->arg = n;
    return 0;
}
