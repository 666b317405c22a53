/* The leader's orchestrator: when the store moved or a timer is due, it
 * reads the store's views into the planner's input (node/plan.h), runs
 * the planner, proposes its decisions as the cluster's own commands and
 * drives the actuator calls of workflow steps and shadows.  It remembers
 * only what it proposed and called; losing leadership cancels its calls
 * and forgets it all, and a new leader resumes from the store.  See
 * docs/ORCHESTRATOR.md, "The orchestrator". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "node/node.h"

/* The planner's sizes and enums are the store's. */
_Static_assert(PLAN_ID_SIZE == STORE_ID_SIZE, "id size");
_Static_assert(PLAN_STEP_NAME_SIZE == STORE_STEP_NAME_SIZE, "step name");
_Static_assert(PLAN_DETAIL_SIZE == STORE_DETAIL_SIZE, "detail size");
_Static_assert(PLAN_DRIFT_SIZE == STORE_DRIFT_SIZE, "drift size");
_Static_assert(PLAN_STEPS_MAX == STORE_WF_STEPS_MAX, "steps");
_Static_assert((int)PLAN_SPREAD_SWITCH == (int)STORE_SPREAD_SWITCH, "spread");
_Static_assert((int)PLAN_STRATEGY_BLUE_GREEN == (int)STORE_STRATEGY_BLUE_GREEN,
               "strategy");
_Static_assert((int)PLAN_REASON_REBALANCE == (int)STORE_REASON_REBALANCE,
               "reason");
_Static_assert((int)PLAN_WF_CANCELLED == (int)STORE_WF_CANCELLED, "state");
_Static_assert((int)PLAN_STEP_SKIPPED == (int)STORE_STEP_SKIPPED, "step");
_Static_assert((int)PLAN_SHADOW_RELEASED == (int)STORE_SHADOW_RELEASED,
               "shadow");
_Static_assert((int)PLAN_EVENT_SKIP == (int)STORE_WF_EVENT_SKIP, "event");

/* An owned attempt the store does not show after this long was lost. */
#define ORCH_OWNED_TTL_MS 5000

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void copy(char *dst, const char *src, size_t size)
{
    snprintf(dst, size, "%s", src);
}

/* Grow *@arr (of @elem bytes each) to hold @need; false when out of
 * memory. */
bool node__orch_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap == 0 ? 64 : *cap;
    void *more;

    if (need <= *cap) {
        return true;
    }
    while (c < need) {
        c *= 2;
    }
    more = realloc(*arr, c * elem);
    if (more == NULL) {
        return false;
    }
    *arr = more;
    *cap = c;
    return true;
}

/* ---- memory: calls, proposals, notices -------------------------------- */

static void calls_free(struct node_orch *o)
{
    for (size_t i = 0; i < o->n_calls; i++) {
        free(o->calls[i]);
    }
    o->n_calls = 0;
}

struct node_orch_call *node__orch_call_of_workflow(struct node_orch *o,
                                                   uint64_t id)
{
    for (size_t i = 0; i < o->n_calls; i++) {
        struct node_orch_call *c = o->calls[i];
        if (!c->shadow && c->workflow == id) {
            return c;
        }
    }
    return NULL;
}

struct node_orch_call *node__orch_call_of_shadow(struct node_orch *o,
                                                 const char *workload,
                                                 const char *host,
                                                 uint64_t epoch)
{
    for (size_t i = 0; i < o->n_calls; i++) {
        struct node_orch_call *c = o->calls[i];
        if (c->shadow && c->epoch == epoch &&
            strcmp(c->workload, workload) == 0 && strcmp(c->host, host) == 0) {
            return c;
        }
    }
    return NULL;
}

void node__orch_cooldown_set(struct node_orch *o,
                             const char *host,
                             int64_t until_ms)
{
    for (size_t i = 0; i < o->n_cooldowns; i++) {
        if (strcmp(o->cooldowns[i].host, host) == 0) {
            if (until_ms > o->cooldowns[i].until_ms) {
                o->cooldowns[i].until_ms = until_ms;
            }
            return;
        }
    }
    if (!node__orch_grow((void **)&o->cooldowns, &o->cap_cooldowns,
                         o->n_cooldowns + 1, sizeof *o->cooldowns)) {
        return;
    }
    copy(o->cooldowns[o->n_cooldowns].host, host,
         sizeof o->cooldowns[o->n_cooldowns].host);
    o->cooldowns[o->n_cooldowns].until_ms = until_ms;
    o->n_cooldowns++;
}

static struct node_orch_call *call_add(struct node *n)
{
    struct node_orch *o = &n->orch;
    struct node_orch_call *c;

    if (o->n_calls == NODE_ORCH_CALLS_MAX) {
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->n = n;
    o->calls[o->n_calls++] = c;
    return c;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h | 1; /* never 0: 0 marks an empty slot */
}

/* Whether @key was proposed within NODE_ORCH_RESEND_MS; if not, it is
 * recorded as proposed now. */
static bool seen(struct node_orch *o, const char *key, int64_t now)
{
    uint64_t h = fnv(key);
    size_t slot = (size_t)(h % NODE_ORCH_SEEN_SLOTS);

    if (o->seen_key[slot] == h &&
        now < o->seen_at[slot] + NODE_ORCH_RESEND_MS) {
        return true;
    }
    /* Proposed before and still not applied (say, refused): proposed
     * again, but logged at debug, not once a second at info. */
    o->repeat =
        o->seen_key[slot] == h && now < o->seen_at[slot] + NODE_ORCH_REPEAT_MS;
    o->seen_key[slot] = h;
    o->seen_at[slot] = now;
    return false;
}

struct node_orch_notice *node__orch_notice_find(struct node_orch *o,
                                                uint64_t id)
{
    for (size_t i = 0; i < o->n_notices; i++) {
        if (o->notices[i].workflow == id) {
            return &o->notices[i];
        }
    }
    return NULL;
}

/* ---- init, close, leadership ------------------------------------------ */

static void on_kick(uv_timer_t *t);

int node__orch_init(struct node *n)
{
    struct node_orch *o = &n->orch;

    memset(o, 0, sizeof *o);
    o->calls = calloc(NODE_ORCH_CALLS_MAX, sizeof *o->calls);
    o->recent = calloc(NODE_ORCH_RECENT_MAX, sizeof *o->recent);
    o->seen_key = calloc(NODE_ORCH_SEEN_SLOTS, sizeof *o->seen_key);
    o->seen_at = calloc(NODE_ORCH_SEEN_SLOTS, sizeof *o->seen_at);
    if (o->calls == NULL || o->recent == NULL || o->seen_key == NULL ||
        o->seen_at == NULL) {
        node__orch_close(n);
        return AUGUR_ENOMEM;
    }
    plan_output_init(&o->out);
    return 0;
}

void node__orch_start(struct node *n)
{
    struct node_orch *o = &n->orch;

    uv_timer_init(&n->loop, &o->kick);
    o->kick.data = n;
    o->kick_init = true;
}

/* Forget everything this leader knew.  The actuator's calls are cancelled
 * first: their callbacks run inside actuator_cancel_all, while the
 * records they point at still exist. */
static void orch_forget(struct node *n)
{
    struct node_orch *o = &n->orch;

    if (n->actuator != NULL) {
        actuator_cancel_all(n->actuator);
    }
    node_traffic_cancel_all(n->traffic);
    for (size_t i = 0; i < o->n_notices; i++) {
        node__shutdown_notice_clear(n, o->notices[i].host);
    }
    o->n_notices = 0;
    calls_free(o);
    o->n_hosts = 0;
    o->n_recent = 0;
    o->n_cooldowns = 0;
    o->next_sync_ms = 0;
    o->sync_cursor = 0;
    o->recent_seeded = false;
    if (o->seen_key != NULL) {
        memset(o->seen_key, 0, NODE_ORCH_SEEN_SLOTS * sizeof *o->seen_key);
    }
    o->last_version = 0;
    o->next_round_ms = 0;
    o->not_before_ms = 0;
    o->inflight = 0;
}

void node__orch_stop(struct node *n)
{
    struct node_orch *o = &n->orch;

    if (o->kick_init) {
        uv_timer_stop(&o->kick);
        uv_close((uv_handle_t *)&o->kick, NULL);
        o->kick_init = false;
    }
}

void node__orch_close(struct node *n)
{
    struct node_orch *o = &n->orch;

    /* The actuator is closed already (node_stop): no callback is due. */
    calls_free(o);
    free(o->calls);
    free(o->hosts);
    free(o->recent);
    free(o->notices);
    free(o->cooldowns);
    free(o->seen_key);
    free(o->seen_at);
    free(o->in_hosts);
    free(o->in_wl);
    free(o->in_wf);
    free(o->in_sh);
    free(o->in_co);
    plan_output_close(&o->out);
    o->calls = NULL;
    o->hosts = NULL;
    o->recent = NULL;
    o->notices = NULL;
    o->cooldowns = NULL;
    o->seen_key = NULL;
    o->seen_at = NULL;
    o->in_hosts = NULL;
    o->in_wl = NULL;
    o->in_wf = NULL;
    o->in_sh = NULL;
    o->in_co = NULL;
}

/* ---- actuator calls --------------------------------------------------- */

static void kick(struct node *n)
{
    struct node_orch *o = &n->orch;

    o->kicked = true;
    if (o->kick_init && !uv_is_active((uv_handle_t *)&o->kick)) {
        uv_timer_start(&o->kick, on_kick, NODE_ORCH_KICK_MS, 0);
    }
}

/* The load balancer follows the instances a workflow's actuator steps
 * start and stop: an activated instance takes the full weight and the
 * other side none; a released or undone one leaves its backend. */
static void traffic_follow(struct node *n,
                           const struct node_orch_call *c,
                           const struct actuator_result *res)
{
    struct node_traffic *t = n->traffic;
    bool ok = res->outcome == ACTUATOR_OK;
    const char *step = c->step_name;

    if (t == NULL || c->shadow || c->remediate) {
        return;
    }
    if (ok &&
        (strcmp(step, "activate") == 0 || strcmp(step, "reactivate") == 0)) {
        bool back = step[0] == 'r';
        const char *on = back ? c->from : c->to;
        const char *off = back ? c->to : c->from;
        if (res->port > 0) {
            node_traffic_server_put(t, c->workload, on, NULL, res->port,
                                    NODE_TRAFFIC_FULL_WEIGHT);
        } else {
            LOG(LOG_LEVEL_WARN,
                "orchestrator: %s %s on %s: the actuator named no port, "
                "haproxy not updated",
                step, c->workload, on);
        }
        if (strcmp(off, on) != 0) {
            node_traffic_server_weight(t, c->workload, off, 0);
        }
        return;
    }
    if (res->outcome != ACTUATOR_OK && strcmp(res->message, "cancelled") == 0) {
        return; /* this leader is going: the next one calls again */
    }
    if (strcmp(step, "release") == 0) {
        node_traffic_server_delete(t, c->workload, c->from);
    } else if (strcmp(step, "undo_prepare") == 0 ||
               strcmp(step, "undo_activate") == 0) {
        node_traffic_server_delete(t, c->workload, c->to);
    }
}

static void on_answer(void *data, const struct actuator_result *res)
{
    struct node_orch_call *c = data;
    struct node *n = c->n;
    struct node_orch *o = &n->orch;

    if (o->inflight > 0) {
        o->inflight--;
    }
    if (c->remediate) {
        LOG(res->outcome == ACTUATOR_OK ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
            "orchestrator: remediate %s: %s%s%s", c->host,
            res->outcome == ACTUATOR_OK ? "ok" : "failed",
            res->message[0] != '\0' ? ": " : "", res->message);
        free(c);
        return;
    }
    traffic_follow(n, c, res);
    c->status = PLAN_CALL_DONE;
    c->outcome = res->outcome == ACTUATOR_OK        ? PLAN_OUTCOME_OK
                 : res->outcome == ACTUATOR_REFUSED ? PLAN_OUTCOME_REFUSED
                                                    : PLAN_OUTCOME_RETRY;
    c->done_at = (int64_t)node__now_ms();
    copy(c->state, res->state, sizeof c->state);
    c->has_lag = res->lag_ms >= 0;
    c->lag_ms = res->lag_ms >= 0 ? (uint64_t)res->lag_ms : 0;
    copy(c->drift, res->drift, sizeof c->drift);
    if (res->outcome == ACTUATOR_OK) {
        if (res->port > 0) {
            snprintf(c->detail, sizeof c->detail, "%s port %d",
                     res->state[0] != '\0' ? res->state : "ok", res->port);
        } else {
            copy(c->detail, res->state, sizeof c->detail);
        }
    } else {
        copy(c->detail, res->message, sizeof c->detail);
        if (c->detail[0] == '\0') {
            snprintf(c->detail, sizeof c->detail, "exit status %d",
                     res->exit_status);
        }
        LOG(LOG_LEVEL_INFO, "orchestrator: %s %s on %s%s: %s (%s)",
            plan_action_name(c->action), c->workload, c->host,
            c->shadow ? " (shadow)" : "",
            res->outcome == ACTUATOR_REFUSED ? "refused" : "to retry",
            c->detail);
    }
    kick(n);
}

static void request_fill(struct actuator_request *r,
                         const struct plan_decision *d)
{
    memset(r, 0, sizeof *r);
    copy(r->action, plan_action_name(d->action), sizeof r->action);
    copy(r->workload, d->workload, sizeof r->workload);
    copy(r->host, d->host, sizeof r->host);
    copy(r->from, d->from, sizeof r->from);
    copy(r->to, d->to, sizeof r->to);
    r->epoch = d->epoch;
    r->workflow = d->workflow;
    copy(r->step, d->step_name, sizeof r->step);
    r->attempt = d->attempt;
    copy(r->strategy, plan_strategy_name(d->strategy), sizeof r->strategy);
}

/* Send @d's call; @c is its record.  No actuator configured: the action
 * counts as done, so that a cluster without one still moves claims. */
static void call_send(struct node *n,
                      struct node_orch_call *c,
                      const struct plan_decision *d,
                      uint64_t timeout_ms)
{
    struct actuator_request req;
    int rv;

    request_fill(&req, d);
    rv = actuator_call(n->actuator, &req, timeout_ms, on_answer, c);
    if (rv == 0) {
        c->status = PLAN_CALL_INFLIGHT;
        n->orch.inflight++;
        return;
    }
    if (rv == AUGUR_EUNAVAILABLE) {
        c->status = PLAN_CALL_DONE;
        c->outcome = PLAN_OUTCOME_OK;
        c->done_at = (int64_t)node__now_ms();
        copy(c->detail, "no actuator", sizeof c->detail);
        kick(n);
        return;
    }
    /* Busy: tried again next round. */
    LOG(LOG_LEVEL_DEBUG, "orchestrator: %s %s on %s: %s",
        plan_action_name(d->action), d->workload, d->host, augur_strerror(rv));
}

/* ---- traffic steps (node/traffic.h) ------------------------------------ */

static void traffic_done(struct node_orch_call *c,
                         int outcome,
                         const char *detail)
{
    struct node *n = c->n;
    struct node_orch *o = &n->orch;

    if (o->inflight > 0) {
        o->inflight--;
    }
    c->status = PLAN_CALL_DONE;
    c->outcome = outcome;
    c->done_at = (int64_t)node__now_ms();
    copy(c->detail, detail, sizeof c->detail);
    if (outcome == PLAN_OUTCOME_OK) {
        o->traffic_steps++;
        LOG(LOG_LEVEL_INFO, "orchestrator: workflow %" PRIu64 " (%s) %s: %s",
            c->workflow, c->workload, c->step_name,
            detail[0] != '\0' ? detail : "ok");
    } else if (outcome == PLAN_OUTCOME_REFUSED) {
        o->traffic_rollbacks++;
        node__orch_cooldown_set(o, c->to, c->done_at + (int64_t)c->cooldown_ms);
        LOG(LOG_LEVEL_WARN,
            "orchestrator: workflow %" PRIu64
            " (%s) %s failed validation on %s: %s; rolling back, %s on "
            "target cooldown",
            c->workflow, c->workload, c->step_name, c->to, detail, c->to);
    } else if (strcmp(detail, "cancelled") != 0) {
        LOG(LOG_LEVEL_INFO, "orchestrator: workflow %" PRIu64 " (%s) %s: %s",
            c->workflow, c->workload, c->step_name, detail);
    }
    kick(n);
}

static void on_traffic_done(void *data, int outcome, const char *detail)
{
    traffic_done(data, outcome, detail);
}

/* The actuator's probe said where the new instance listens. */
static void on_traffic_probe(void *data, const struct actuator_result *res)
{
    struct node_orch_call *c = data;
    struct node *n = c->n;
    char why[PLAN_DETAIL_SIZE];
    int rv;

    if (c->stale) {
        traffic_done(c, PLAN_OUTCOME_RETRY, "cancelled");
        return;
    }
    if (res->outcome != ACTUATOR_OK) {
        snprintf(why, sizeof why, "probe of the new instance: %.90s",
                 res->message[0] != '\0' ? res->message : "failed");
        traffic_done(c, PLAN_OUTCOME_RETRY, why);
        return;
    }
    if (res->port <= 0) {
        snprintf(why, sizeof why, "no instance of %.40s on %.40s (%s)",
                 c->workload, c->to, res->state[0] ? res->state : "no port");
        traffic_done(c, PLAN_OUTCOME_RETRY, why);
        return;
    }
    c->traffic.port = res->port;
    rv = node_traffic_step(n->traffic, &c->traffic, on_traffic_done, c);
    if (rv != 0) {
        snprintf(why, sizeof why, "traffic step: %s", augur_strerror(rv));
        traffic_done(c, PLAN_OUTCOME_RETRY, why);
    }
}

/* Run a traffic step: probe the new instance for its port (the actuator
 * knows where it started it), then let the load-balancer driver run the
 * step.  No load balancer configured: the step passes at once, as an
 * action with no actuator does. */
static void traffic_send(struct node *n,
                         struct node_orch_call *c,
                         const struct plan_decision *d,
                         const struct store_policy *pol)
{
    struct node_traffic_req *r = &c->traffic;
    struct actuator_request req;
    struct plan_decision probe;
    int rv;

    memset(r, 0, sizeof *r);
    r->action = d->action;
    copy(r->workload, d->workload, sizeof r->workload);
    copy(r->from, d->from, sizeof r->from);
    copy(r->to, d->to, sizeof r->to);
    r->dwell_ms =
        d->action == PLAN_ACTION_MIRROR ? pol->mirror_ms : pol->shift_dwell_ms;
    node_kpi_thresholds_default(&r->kpi);
    r->kpi.max_error_rate = pol->kpi_max_error_rate;
    r->kpi.max_latency_ratio = pol->kpi_max_latency_ratio;
    c->cooldown_ms = pol->target_cooldown_s * 1000;
    copy(c->step_name, d->step_name, sizeof c->step_name);
    c->status = PLAN_CALL_INFLIGHT;
    n->orch.inflight++;
    if (n->traffic == NULL) {
        traffic_done(c, PLAN_OUTCOME_OK, "no load balancer");
        return;
    }
    if (d->action == PLAN_ACTION_SHIFT &&
        node_traffic_shift_pct(d->step_name, &r->pct) != 0) {
        traffic_done(c, PLAN_OUTCOME_REFUSED, "not a shift step name");
        return;
    }
    if (d->action == PLAN_ACTION_UNSHIFT) {
        rv = node_traffic_step(n->traffic, r, on_traffic_done, c);
        if (rv != 0) {
            traffic_done(c, PLAN_OUTCOME_RETRY, augur_strerror(rv));
        }
        return;
    }
    probe = *d;
    probe.action = PLAN_ACTION_PROBE;
    request_fill(&req, &probe);
    rv = actuator_call(n->actuator, &req, pol->step_timeout_ms,
                       on_traffic_probe, c);
    if (rv == AUGUR_EUNAVAILABLE) {
        traffic_done(c, PLAN_OUTCOME_RETRY,
                     "no actuator to say where the new instance listens");
    } else if (rv != 0) {
        /* Busy: tried again next round. */
        c->status = PLAN_CALL_OWNED;
        n->orch.inflight--;
    }
}

/* ---- backends against claims ------------------------------------------ */

struct sync_ctx
{
    struct node *n;
    char workload[PLAN_ID_SIZE];
    char host[PLAN_ID_SIZE];
    uint64_t epoch;
};

static bool wf_in_flight(const struct node_orch *o, const char *workload)
{
    for (size_t i = 0; i < o->n_in_wf; i++) {
        const struct plan_workflow *w = &o->in_wf[i];
        if (w->state <= PLAN_WF_RUNNING && strcmp(w->workload, workload) == 0) {
            return true;
        }
    }
    return false;
}

static void on_sync_probe(void *data, const struct actuator_result *res)
{
    struct sync_ctx *x = data;
    struct node *n = x->n;

    if (n->orch.leader && n->traffic != NULL && res->outcome == ACTUATOR_OK &&
        res->port > 0 && !wf_in_flight(&n->orch, x->workload)) {
        node_traffic_server_put(n->traffic, x->workload, x->host, NULL,
                                res->port, NODE_TRAFFIC_FULL_WEIGHT);
        n->orch.traffic_repairs++;
        LOG(LOG_LEVEL_WARN,
            "orchestrator: haproxy: %s's claim is on %s but its server "
            "there was missing or out of rotation: put back (port %d)",
            x->workload, x->host, res->port);
    }
    free(x);
}

/* One backend as HAProxy has it: the claim's host must serve (weight > 0,
 * not in maintenance) and nobody else. */
static void on_sync_stat(void *data,
                         int status,
                         const struct haproxy_server_stat *servers,
                         size_t n_servers)
{
    struct sync_ctx *x = data;
    struct node *n = x->n;
    struct node_orch *o = &n->orch;
    struct actuator_request req;
    bool claim_ok = false;

    if (status != 0 || !o->leader || n->traffic == NULL ||
        wf_in_flight(o, x->workload)) {
        free(x);
        return;
    }
    for (size_t i = 0; i < n_servers; i++) {
        const struct haproxy_server_stat *s = &servers[i];
        bool serving = s->weight > 0 && strstr(s->status, "MAINT") == NULL;
        if (strcmp(s->name, x->host) == 0) {
            claim_ok = serving;
        } else if (serving) {
            node_traffic_server_weight(n->traffic, x->workload, s->name, 0);
            o->traffic_repairs++;
            LOG(LOG_LEVEL_WARN,
                "orchestrator: haproxy: %s's server on %s had weight %" PRIu64
                " while the claim is on %s: set to 0",
                x->workload, s->name, s->weight, x->host);
        }
    }
    if (claim_ok) {
        free(x);
        return;
    }
    memset(&req, 0, sizeof req);
    copy(req.action, "probe", sizeof req.action);
    copy(req.workload, x->workload, sizeof req.workload);
    copy(req.host, x->host, sizeof req.host);
    copy(req.step, "sync", sizeof req.step);
    req.epoch = x->epoch;
    if (actuator_call(n->actuator, &req, 5000, on_sync_probe, x) != 0) {
        free(x);
    }
}

/* Compare the next batch of claimed workloads' backends with their claims
 * (the last round's view), outside any workflow in flight. */
static void traffic_sync(struct node *n)
{
    struct node_orch *o = &n->orch;
    size_t total = o->n_in_wl;
    size_t k;

    if (total == 0) {
        return;
    }
    for (k = 0; k < NODE_ORCH_TRAFFIC_SYNC_BATCH && k < total; k++) {
        const struct plan_workload *w = &o->in_wl[(o->sync_cursor + k) % total];
        struct sync_ctx *x;

        if (!w->claimed || wf_in_flight(o, w->id)) {
            continue;
        }
        x = calloc(1, sizeof *x);
        if (x == NULL) {
            return;
        }
        x->n = n;
        copy(x->workload, w->id, sizeof x->workload);
        copy(x->host, w->host, sizeof x->host);
        x->epoch = w->epoch;
        if (node_traffic_query(n->traffic, w->id, on_sync_stat, x) != 0) {
            free(x);
        }
    }
    o->sync_cursor = (o->sync_cursor + k) % total;
}

/* ---- executing decisions ---------------------------------------------- */

static void log_create(const struct plan_decision *d, bool repeat)
{
    LOG(repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
        "orchestrator: %s %s: %s -> %s, reason %s, strategy %s, p %.2f%s%s",
        d->reason == PLAN_REASON_FAILED ? "failover of" : "workflow for",
        d->workload, d->from, d->to, plan_reason_name(d->reason),
        plan_strategy_name(d->strategy), d->p,
        d->approved ? "" : ", awaiting approval",
        d->notify ? ", after a shutdown notice" : "");
}

static void execute(struct node *n,
                    const struct plan_decision *d,
                    const struct store_policy *pol,
                    int64_t now)
{
    struct node_orch *o = &n->orch;
    struct store_cmd *cmd = &n->cmd;
    char key[3 * STORE_ID_SIZE + 160];

    switch (d->kind) {
        case PLAN_WORKFLOW_CREATE:
            snprintf(key, sizeof key, "create|%s|%s|%d", d->workload, d->to,
                     d->reason);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_WORKFLOW_CREATE;
            copy(cmd->u.workflow.workload, d->workload,
                 sizeof cmd->u.workflow.workload);
            copy(cmd->u.workflow.to, d->to, sizeof cmd->u.workflow.to);
            cmd->u.workflow.has_strategy = true;
            cmd->u.workflow.strategy = d->strategy;
            cmd->u.workflow.has_reason = true;
            cmd->u.workflow.reason = d->reason;
            cmd->u.workflow.notify = d->notify;
            cmd->u.workflow.hold = !d->approved;
            node__propose_own(n);
            log_create(d, o->repeat);
            if (o->repeat) {
                return;
            }
            o->workflows_started++;
            o->failovers += d->reason == PLAN_REASON_FAILED;
            o->proactive += d->reason == PLAN_REASON_PREDICTED ||
                            d->reason == PLAN_REASON_MANUAL;
            o->rebalances += d->reason == PLAN_REASON_REBALANCE;
            return;
        case PLAN_WORKFLOW_ADVANCE: {
            struct node_orch_call *c;
            snprintf(key, sizeof key, "advance|%" PRIu64 "|%u|%" PRIu64 "|%d",
                     d->workflow, d->step, d->attempt, d->event);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_WORKFLOW_ADVANCE;
            cmd->u.workflow.id = d->workflow;
            cmd->u.workflow.step = d->step;
            cmd->u.workflow.attempt = d->attempt;
            cmd->u.workflow.event = d->event;
            snprintf(cmd->u.workflow.detail, sizeof cmd->u.workflow.detail,
                     "%.*s", STORE_WF_DETAIL_MAX, d->detail);
            node__propose_own(n);
            LOG(d->event == PLAN_EVENT_FAIL ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG,
                "orchestrator: workflow %" PRIu64 " (%s) step %s %s%s%s",
                d->workflow, d->workload, d->step_name,
                plan_event_name(d->event), d->detail[0] != '\0' ? ": " : "",
                d->detail);
            if (d->event != PLAN_EVENT_START && d->event != PLAN_EVENT_RETRY) {
                return;
            }
            /* This leader makes the attempt: once the store shows it, it
             * calls the actuator for it. */
            c = node__orch_call_of_workflow(o, d->workflow);
            if (c == NULL) {
                c = call_add(n);
            } else if (c->status == PLAN_CALL_INFLIGHT) {
                return; /* its answer is still due */
            }
            if (c == NULL) {
                return;
            }
            c->shadow = false;
            c->workflow = d->workflow;
            c->step = d->step;
            c->attempt = d->next_attempt;
            c->status = PLAN_CALL_OWNED;
            c->owned_at = now;
            c->detail[0] = '\0';
            copy(c->step_name, d->step_name, sizeof c->step_name);
            copy(c->from, d->from, sizeof c->from);
            copy(c->to, d->to, sizeof c->to);
            c->stale = false;
            return;
        }
        case PLAN_WORKFLOW_CANCEL:
            snprintf(key, sizeof key, "cancel|%" PRIu64, d->workflow);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_WORKFLOW_CANCEL;
            cmd->u.workflow.id = d->workflow;
            node__propose_own(n);
            LOG(o->repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
                "orchestrator: cancel workflow %" PRIu64
                " of %s: its host is down, a failover replaces it",
                d->workflow, d->workload);
            return;
        case PLAN_CALL: {
            struct node_orch_call *c;
            if (d->is_shadow) {
                c = node__orch_call_of_shadow(o, d->workload, d->host,
                                              d->epoch);
                if (c == NULL) {
                    c = call_add(n);
                    if (c == NULL) {
                        return;
                    }
                    c->shadow = true;
                    copy(c->workload, d->workload, sizeof c->workload);
                    copy(c->host, d->host, sizeof c->host);
                    c->epoch = d->epoch;
                }
                if (c->status == PLAN_CALL_INFLIGHT) {
                    return;
                }
                c->attempts = c->action == d->action ? c->attempts + 1 : 1;
            } else {
                c = node__orch_call_of_workflow(o, d->workflow);
                if (c == NULL || c->status != PLAN_CALL_OWNED) {
                    return;
                }
                copy(c->workload, d->workload, sizeof c->workload);
                copy(c->host, d->host, sizeof c->host);
                c->epoch = d->epoch;
            }
            c->action = d->action;
            c->detail[0] = '\0';
            if (PLAN_ACTION_IS_TRAFFIC(d->action)) {
                traffic_send(n, c, d, pol);
            } else {
                call_send(n, c, d, pol->step_timeout_ms);
            }
            return;
        }
        case PLAN_NOTICE: {
            struct node_orch_notice *no =
                node__orch_notice_find(o, d->workflow);
            uint64_t shared = 0;
            if (no != NULL) {
                return;
            }
            for (size_t i = 0; i < o->n_notices && shared == 0; i++) {
                if (strcmp(o->notices[i].host, d->host) == 0) {
                    shared = o->notices[i].notice_wf;
                }
            }
            if (!node__orch_grow((void **)&o->notices, &o->cap_notices,
                                 o->n_notices + 1, sizeof *o->notices)) {
                return;
            }
            no = &o->notices[o->n_notices++];
            no->workflow = d->workflow;
            no->notice_wf = shared != 0 ? shared : d->workflow;
            copy(no->host, d->host, sizeof no->host);
            if (shared != 0) {
                return; /* the host has its notice already */
            }
            node__shutdown_notice_set(n, d->host, d->workflow,
                                      (uint64_t)d->deadline_ms);
            LOG(LOG_LEVEL_INFO,
                "orchestrator: shutdown notice to %s for workflow %" PRIu64
                " (%s)",
                d->host, d->workflow, d->workload);
            return;
        }
        case PLAN_HOST_FAIL:
            snprintf(key, sizeof key, "fail|%s", d->host);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_RESOURCE_LEASE;
            copy(cmd->u.lease.id, d->host, sizeof cmd->u.lease.id);
            cmd->u.lease.expect = STORE_STATE_UNREACHABLE;
            cmd->u.lease.state = STORE_STATE_FAILED;
            node__propose_own(n);
            LOG(o->repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
                "orchestrator: host %s marked failed: unreachable and "
                "holding no claims",
                d->host);
            return;
        case PLAN_REMEDIATE: {
            struct node_orch_host *m = node__orch_host_find(o, d->host);
            struct node_orch_call *c;
            struct actuator_request req;

            if (m == NULL || m->remediated) {
                return;
            }
            m->remediated = true;
            c = calloc(1, sizeof *c);
            if (c == NULL) {
                return;
            }
            c->n = n;
            c->remediate = true;
            copy(c->host, d->host, sizeof c->host);
            request_fill(&req, d);
            if (actuator_call(n->actuator, &req, pol->step_timeout_ms,
                              on_answer, c) != 0) {
                free(c);
                return;
            }
            o->inflight++;
            LOG(LOG_LEVEL_INFO, "orchestrator: host %s handed to remediation",
                d->host);
            return;
        }
        case PLAN_SHADOW_PROVISION:
            snprintf(key, sizeof key, "provision|%s|%s", d->workload, d->host);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_SHADOW_PROVISION;
            copy(cmd->u.shadow.workload, d->workload,
                 sizeof cmd->u.shadow.workload);
            copy(cmd->u.shadow.host, d->host, sizeof cmd->u.shadow.host);
            node__propose_own(n);
            o->shadows_provisioned += !o->repeat;
            LOG(o->repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
                "orchestrator: shadow of %s provisioned on %s (it runs on "
                "%s)",
                d->workload, d->host, d->from);
            return;
        case PLAN_SHADOW_UPDATE:
            snprintf(key, sizeof key,
                     "update|%s|%s|%" PRIu64 "|%d|%" PRIu64 "|%s", d->workload,
                     d->host, d->epoch, d->shadow_state, d->lag_ms, d->drift);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_SHADOW_UPDATE;
            copy(cmd->u.shadow.workload, d->workload,
                 sizeof cmd->u.shadow.workload);
            copy(cmd->u.shadow.host, d->host, sizeof cmd->u.shadow.host);
            cmd->u.shadow.epoch = d->epoch;
            cmd->u.shadow.state = d->shadow_state;
            cmd->u.shadow.lag_ms = d->has_lag ? d->lag_ms : 0;
            copy(cmd->u.shadow.drift, d->drift, sizeof cmd->u.shadow.drift);
            node__propose_own(n);
            LOG(LOG_LEVEL_DEBUG, "orchestrator: shadow of %s on %s: %s",
                d->workload, d->host, store_shadow_state_name(d->shadow_state));
            return;
        case PLAN_SHADOW_RELEASE:
            snprintf(key, sizeof key, "release|%s|%s|%" PRIu64, d->workload,
                     d->host, d->epoch);
            if (seen(o, key, now)) {
                return;
            }
            memset(cmd, 0, sizeof *cmd);
            cmd->op = STORE_OP_SHADOW_RELEASE;
            copy(cmd->u.shadow.workload, d->workload,
                 sizeof cmd->u.shadow.workload);
            copy(cmd->u.shadow.host, d->host, sizeof cmd->u.shadow.host);
            cmd->u.shadow.epoch = d->epoch;
            node__propose_own(n);
            LOG(o->repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
                "orchestrator: shadow of %s on %s released", d->workload,
                d->host);
            return;
        default:
            return;
    }
}

static bool notice_flying(const struct node_orch *o,
                          const struct node_orch_notice *no)
{
    for (size_t j = 0; j < o->n_in_wf; j++) {
        if (o->in_wf[j].id == no->workflow) {
            return o->in_wf[j].state <= PLAN_WF_RUNNING;
        }
    }
    return false;
}

/* Drop the records the store has moved past (answered calls of steps
 * that ended, owned attempts never applied, shadows gone), and the
 * notices of workflows that ended. */
static void gc(struct node *n, int64_t now)
{
    struct node_orch *o = &n->orch;
    size_t k = 0;

    for (size_t i = 0; i < o->n_calls; i++) {
        struct node_orch_call *c = o->calls[i];
        bool keep = c->status == PLAN_CALL_INFLIGHT;

        if (!keep && c->shadow) {
            for (size_t j = 0; j < o->n_in_sh && !keep; j++) {
                const struct plan_shadow *s = &o->in_sh[j];
                keep = s->epoch == c->epoch &&
                       strcmp(s->workload, c->workload) == 0 &&
                       strcmp(s->host, c->host) == 0;
            }
        } else if (!keep) {
            for (size_t j = 0; j < o->n_in_wf && !keep; j++) {
                const struct plan_workflow *w = &o->in_wf[j];
                if (w->id != c->workflow || w->state > PLAN_WF_RUNNING) {
                    continue;
                }
                keep = w->step == c->step && w->step < w->n_steps &&
                       c->attempt >= w->steps[w->step].attempt;
            }
            if (!keep && c->status == PLAN_CALL_OWNED &&
                now < c->owned_at + ORCH_OWNED_TTL_MS) {
                keep = true; /* its proposal may not have applied yet */
            }
        }
        if (keep) {
            o->calls[k++] = c;
        } else {
            free(c);
        }
    }
    o->n_calls = k;
    /* A host's notice ends with the last workflow waiting on it. */
    for (size_t i = 0; i < o->n_notices; i++) {
        bool still = false;
        if (notice_flying(o, &o->notices[i])) {
            continue;
        }
        for (size_t j = 0; j < o->n_notices && !still; j++) {
            still = strcmp(o->notices[j].host, o->notices[i].host) == 0 &&
                    notice_flying(o, &o->notices[j]);
        }
        if (!still) {
            node__shutdown_notice_clear(n, o->notices[i].host);
        }
    }
    k = 0;
    for (size_t i = 0; i < o->n_notices; i++) {
        if (notice_flying(o, &o->notices[i])) {
            o->notices[k++] = o->notices[i];
        }
    }
    o->n_notices = k;
}

/* Whether the round's input holds work that timers drive. */
static bool orch_busy(const struct plan_input *in)
{
    if (in->n_workflows > 0 || in->n_shadows > 0 || in->n_cohorts > 0) {
        return true;
    }
    for (size_t i = 0; i < in->n_hosts; i++) {
        const struct plan_host *h = &in->hosts[i];
        if (h->is_host &&
            (h->state == PLAN_HOST_UNREACHABLE ||
             h->state == PLAN_HOST_FAILED || h->state == PLAN_HOST_DRAINING)) {
            return true;
        }
    }
    return false;
}

static void orch_round(struct node *n, int64_t now)
{
    struct node_orch *o = &n->orch;
    struct store_policy pol;
    struct plan_input in;
    uint64_t t0 = mono_us();
    int rv;

    o->kicked = false;
    o->last_version = store_orch_version(n->store);
    rv = node__orch_read(n, now, &pol, &in);
    if (rv != 0) {
        if (rv != o->store_err) {
            LOG(LOG_LEVEL_ERROR, "orchestrator: cannot read the store: %s",
                augur_strerror(rv));
        }
        o->store_err = rv;
        o->next_round_ms = now + NODE_ORCH_IDLE_MS;
        return;
    }
    o->store_err = 0;
    rv = plan_run(&in, &o->out);
    if (rv != 0) {
        LOG(LOG_LEVEL_WARN, "orchestrator: planning: %s", augur_strerror(rv));
    }
    for (size_t i = 0; i < o->out.n; i++) {
        execute(n, &o->out.decisions[i], &pol, now);
    }
    gc(n, now);
    if (n->traffic != NULL && now >= o->next_sync_ms) {
        traffic_sync(n);
        o->next_sync_ms = now + NODE_ORCH_TRAFFIC_SYNC_MS;
    }
    /* With work in hand (workflows or shadows to drive, cohorts to keep,
     * hosts down), a round at least every NODE_ORCH_IDLE_MS; with none,
     * only when the store says something relevant changed
     * (store_orch_version) or the planner asked for a time: a fleet at
     * rest costs its leader nothing, however large. */
    o->next_round_ms = orch_busy(&in) ? now + NODE_ORCH_IDLE_MS : INT64_MAX;
    if (o->out.next_due_ms > 0 && o->out.next_due_ms < o->next_round_ms) {
        o->next_round_ms = o->out.next_due_ms;
    }
    o->rounds++;
    o->last_round_us = mono_us() - t0;
    /* The next round the store's changes ask for waits four times as
     * long as this one took: on a large fleet under a stream of relevant
     * writes the rounds keep to a fifth of the loop or less.  Timers
     * (next_round_ms) are not held back. */
    o->not_before_ms =
        (int64_t)node__now_ms() + (int64_t)(4 * o->last_round_us / 1000);
}

/* ---- the loop's entry points ------------------------------------------ */

void node__orch_tick(struct node *n, uint64_t now_ms, bool leader)
{
    struct node_orch *o = &n->orch;
    int64_t now = (int64_t)now_ms;

    if (!leader || !n->config.orchestrator) {
        if (o->leader) {
            LOG(LOG_LEVEL_INFO,
                "orchestrator: no longer the leader: actuator calls "
                "cancelled, memory dropped");
            orch_forget(n);
            o->leader = false;
        }
        return;
    }
    if (!o->leader) {
        o->leader = true;
        o->kicked = true;
        o->next_round_ms = now + NODE_ORCH_LEADING_GRACE_MS;
        o->not_before_ms = now + NODE_ORCH_LEADING_GRACE_MS;
        LOG(LOG_LEVEL_INFO,
            "orchestrator: leading: resuming every workflow in flight "
            "from the store in %d ms",
            NODE_ORCH_LEADING_GRACE_MS);
    }
    if (!node__serving(n)) {
        return; /* not caught up: the store is not the cluster's yet */
    }
    if (now >= o->next_round_ms ||
        (n->traffic != NULL && now >= o->next_sync_ms) ||
        ((o->kicked || store_orch_version(n->store) != o->last_version) &&
         now >= o->not_before_ms)) {
        orch_round(n, now);
    }
}

static void on_kick(uv_timer_t *t)
{
    struct node *n = t->data;

    if (n->stopping) {
        return;
    }
    node__orch_tick(n, node__now_ms(), replica_is_leader(&n->replica));
}

void node__orch_applied(struct node *n)
{
    /* Only what the orchestrator must look at (store_orch_version): a
     * leader under ordinary claim traffic does not re-read its fleet
     * after every write. */
    if (n->orch.leader && !n->stopping &&
        store_orch_version(n->store) != n->orch.last_version) {
        kick(n);
    }
}

static void pack_bool(msgpack_packer *pk, bool b)
{
    if (b) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
}

void node__orch_status_pack(struct node *n, msgpack_packer *pk)
{
    const struct node_orch *o = &n->orch;

    node__pack_str(pk, "orchestrator");
    msgpack_pack_map(pk, 13);
    node__pack_str(pk, "leader");
    pack_bool(pk, o->leader);
    node__pack_str(pk, "rounds");
    msgpack_pack_uint64(pk, o->rounds);
    node__pack_str(pk, "workflows_started");
    msgpack_pack_uint64(pk, o->workflows_started);
    node__pack_str(pk, "failovers");
    msgpack_pack_uint64(pk, o->failovers);
    node__pack_str(pk, "proactive");
    msgpack_pack_uint64(pk, o->proactive);
    node__pack_str(pk, "rebalances");
    msgpack_pack_uint64(pk, o->rebalances);
    node__pack_str(pk, "shadows_provisioned");
    msgpack_pack_uint64(pk, o->shadows_provisioned);
    node__pack_str(pk, "actuator_calls_inflight");
    msgpack_pack_uint64(pk, o->inflight);
    node__pack_str(pk, "last_round_us");
    msgpack_pack_uint64(pk, o->last_round_us);
    node__pack_str(pk, "haproxy");
    pack_bool(pk, n->traffic != NULL);
    node__pack_str(pk, "traffic_steps");
    msgpack_pack_uint64(pk, o->traffic_steps);
    node__pack_str(pk, "traffic_rollbacks");
    msgpack_pack_uint64(pk, o->traffic_rollbacks);
    node__pack_str(pk, "traffic_repairs");
    msgpack_pack_uint64(pk, o->traffic_repairs);
}
