/* Unit tests of node/plan.c: what the orchestrator's planner decides for
 * failed and risky hosts, within which limits, where it places workloads
 * and shadows, and how it drives a workflow's steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/plan.h"
#include "store/store.h"

#define NOW 1000000000
#define MAX_HOSTS 16
#define MAX_WL 32
#define MAX_WF 32
#define MAX_SH 16
#define MAX_CO 4

struct fleet
{
    struct plan_input in;
    struct plan_host hosts[MAX_HOSTS];
    struct plan_workload wl[MAX_WL];
    struct plan_workflow wf[MAX_WF];
    struct plan_shadow sh[MAX_SH];
    struct plan_cohort co[MAX_CO];
    struct plan_output out;
};

static void fleet_init(struct fleet *f)
{
    struct store_policy pol;

    memset(f, 0, sizeof *f);
    f->in.now_ms = NOW;
    store_policy_defaults(&pol);
    plan_policy_from_store(&pol, &f->in.policy);
    f->in.hosts = f->hosts;
    f->in.workloads = f->wl;
    f->in.workflows = f->wf;
    f->in.shadows = f->sh;
    f->in.cohorts = f->co;
    plan_output_init(&f->out);
}

static struct plan_host *host_add(struct fleet *f, const char *id, double p)
{
    struct plan_host *h = &f->hosts[f->in.n_hosts++];
    snprintf(h->id, sizeof h->id, "%s", id);
    h->is_host = true;
    h->state = PLAN_HOST_ACTIVE;
    h->capacity.cpu = 16;
    h->capacity.mem_mb = 16384;
    h->p = p;
    snprintf(h->domain[PLAN_SPREAD_HOST], PLAN_ID_SIZE, "%s", id);
    return h;
}

static struct plan_workload *wl_add(struct fleet *f,
                                    const char *id,
                                    const char *host,
                                    int64_t priority)
{
    struct plan_workload *w = &f->wl[f->in.n_workloads++];
    snprintf(w->id, sizeof w->id, "%s", id);
    w->demand.cpu = 1;
    w->demand.mem_mb = 256;
    w->priority = priority;
    w->strategy = PLAN_STRATEGY_LIVE;
    w->claimed = true;
    snprintf(w->host, sizeof w->host, "%s", host);
    w->epoch = 1;
    w->cohort = -1;
    for (size_t i = 0; i < f->in.n_hosts; i++) {
        if (strcmp(f->hosts[i].id, host) == 0) {
            f->hosts[i].used.cpu += w->demand.cpu;
            f->hosts[i].used.mem_mb += w->demand.mem_mb;
        }
    }
    return w;
}

/* A workflow of @wl from @from to @to, with @names as steps (all pending). */
static struct plan_workflow *wf_add(struct fleet *f,
                                    uint64_t id,
                                    const char *wl,
                                    const char *from,
                                    const char *to,
                                    const char *const *names)
{
    struct plan_workflow *w = &f->wf[f->in.n_workflows++];
    w->id = id;
    snprintf(w->workload, sizeof w->workload, "%s", wl);
    snprintf(w->from, sizeof w->from, "%s", from);
    snprintf(w->to, sizeof w->to, "%s", to);
    w->state = PLAN_WF_PENDING;
    w->reason = PLAN_REASON_PREDICTED;
    w->approved = true;
    w->cur_epoch = 2;
    w->created_at = NOW - 1000;
    for (unsigned i = 0; names[i] != NULL; i++) {
        snprintf(w->steps[i].name, sizeof w->steps[i].name, "%s", names[i]);
        w->steps[i].attempt = 1; /* as the store creates them */
        w->n_steps++;
    }
    return w;
}

/* A fresh @f with idle hosts h1 and h2, w on h1, and workflow @id moving w
 * to h2 through @names, running. */
static struct plan_workflow *running_move(struct fleet *f,
                                          uint64_t id,
                                          const char *const *names)
{
    struct plan_workflow *w;
    fleet_init(f);
    host_add(f, "h1", 0.0);
    host_add(f, "h2", 0.0);
    wl_add(f, "w", "h1", 1);
    w = wf_add(f, id, "w", "h1", "h2", names);
    w->state = PLAN_WF_RUNNING;
    return w;
}

static struct plan_shadow *sh_add(struct fleet *f,
                                  const char *wl,
                                  const char *host,
                                  int state)
{
    struct plan_shadow *s = &f->sh[f->in.n_shadows++];
    snprintf(s->workload, sizeof s->workload, "%s", wl);
    snprintf(s->host, sizeof s->host, "%s", host);
    s->epoch = 1;
    s->state = state;
    s->demand.cpu = 1;
    s->demand.mem_mb = 256;
    return s;
}

static void run(struct fleet *f)
{
    assert_int_equal(plan_run(&f->in, &f->out), 0);
}

static size_t count(const struct fleet *f, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->out.n; i++) {
        n += f->out.decisions[i].kind == kind;
    }
    return n;
}

/* The @nth decision of @kind, or fail. */
static const struct plan_decision *nth(const struct fleet *f,
                                       int kind,
                                       size_t nth)
{
    for (size_t i = 0; i < f->out.n; i++) {
        if (f->out.decisions[i].kind == kind && nth-- == 0) {
            return &f->out.decisions[i];
        }
    }
    fail_msg("no decision %d", kind);
    return NULL;
}

static const struct plan_decision *create_of(const struct fleet *f,
                                             const char *wl)
{
    for (size_t i = 0; i < f->out.n; i++) {
        if (f->out.decisions[i].kind == PLAN_WORKFLOW_CREATE &&
            strcmp(f->out.decisions[i].workload, wl) == 0) {
            return &f->out.decisions[i];
        }
    }
    return NULL;
}

static void fleet_close(struct fleet *f)
{
    plan_output_close(&f->out);
}

/* ---- reactive --------------------------------------------------------- */

/* Every workload of an unreachable host fails over in the same round, to
 * the best host, whatever the limits on proactive moves say. */
static void failover_is_immediate_and_exempt_from_limits(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0)->state = PLAN_HOST_UNREACHABLE;
    host_add(&f, "h2", 0.2);
    host_add(&f, "h3", 0.1);
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i);
        wl_add(&f, id, "h1", i)->last_move_ms = NOW - 1000; /* cooldown */
    }
    f.in.policy.max_concurrent = 0;
    f.in.policy.rate_per_min = 0;
    f.in.policy.automatic = false;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 5);
    for (size_t i = 0; i < 5; i++) {
        const struct plan_decision *d = nth(&f, PLAN_WORKFLOW_CREATE, i);
        assert_int_equal(d->reason, PLAN_REASON_FAILED);
        assert_int_equal(d->strategy, PLAN_STRATEGY_LIVE);
        assert_true(d->approved);
        assert_string_equal(d->from, "h1");
        assert_string_not_equal(d->to, "h1");
    }
    /* Lowest p first: h3 takes them while it has room. */
    assert_string_equal(create_of(&f, "w0")->to, "h3");
    /* The host holds claims still: not marked failed yet. */
    assert_int_equal(count(&f, PLAN_HOST_FAIL), 0);
    fleet_close(&f);
}

/* The failovers of one round reserve what they place: when the best host
 * is full, the next ones go to the next host. */
static void failovers_of_one_round_spread_by_capacity(void **state)
{
    struct fleet f;
    size_t on_h2 = 0, on_h3 = 0;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0)->state = PLAN_HOST_UNREACHABLE;
    host_add(&f, "h2", 0.0)->capacity.cpu = 2;
    host_add(&f, "h3", 0.1)->capacity.cpu = 8;
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i);
        wl_add(&f, id, "h1", 0);
    }
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 4);
    for (size_t i = 0; i < 4; i++) {
        const char *to = nth(&f, PLAN_WORKFLOW_CREATE, i)->to;
        on_h2 += strcmp(to, "h2") == 0;
        on_h3 += strcmp(to, "h3") == 0;
    }
    assert_int_equal(on_h2, 2);
    assert_int_equal(on_h3, 2);
    fleet_close(&f);
}

/* A failover activates a warm shadow on a healthy host. */
static void failover_prefers_a_warm_shadow(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0)->state = PLAN_HOST_FAILED;
    host_add(&f, "h2", 0.0);
    host_add(&f, "h3", 0.3);
    wl_add(&f, "w", "h1", 1);
    sh_add(&f, "w", "h3", PLAN_SHADOW_WARM);
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 1);
    assert_string_equal(create_of(&f, "w")->to, "h3");
    assert_int_equal(create_of(&f, "w")->strategy, PLAN_STRATEGY_STANDBY);
    /* A shadow still provisioning is no use: live to the best host. */
    f.sh[0].state = PLAN_SHADOW_PROVISIONING;
    run(&f);
    assert_string_equal(create_of(&f, "w")->to, "h2");
    assert_int_equal(create_of(&f, "w")->strategy, PLAN_STRATEGY_LIVE);
    fleet_close(&f);
}

static bool remediated_h1(void *arg, const char *host)
{
    (void)arg;
    return strcmp(host, "h1") == 0;
}

/* An unreachable host whose claims were failed over is marked failed and
 * handed to remediation, once per leader, after PLAN_FAIL_AFTER_MS; an
 * idle one is left unreachable. */
static void empty_unreachable_host_is_failed_and_remediated_once(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0)->state = PLAN_HOST_UNREACHABLE;
    host_add(&f, "h2", 0);
    wl_add(&f, "w", "h2", 1);
    /* An idle host whose agent stopped: left unreachable. */
    f.hosts[0].down_since_ms = NOW - 60000;
    run(&f);
    assert_int_equal(count(&f, PLAN_HOST_FAIL), 0);
    /* Its claims were failed over: failed, but not at once (its agent may
     * be back after a blip). */
    f.hosts[0].held_claims = true;
    f.hosts[0].down_since_ms = NOW - 1000;
    run(&f);
    assert_int_equal(count(&f, PLAN_HOST_FAIL), 0);
    assert_int_equal(f.out.next_due_ms, NOW - 1000 + PLAN_FAIL_AFTER_MS);
    f.hosts[0].down_since_ms = NOW - PLAN_FAIL_AFTER_MS;
    run(&f);
    assert_int_equal(count(&f, PLAN_HOST_FAIL), 1);
    assert_string_equal(nth(&f, PLAN_HOST_FAIL, 0)->host, "h1");
    assert_int_equal(count(&f, PLAN_REMEDIATE), 1);
    f.in.remediated = remediated_h1;
    run(&f);
    assert_int_equal(count(&f, PLAN_REMEDIATE), 0);
    /* Once failed, nothing more is proposed for it. */
    f.hosts[0].state = PLAN_HOST_FAILED;
    f.in.remediated = NULL;
    run(&f);
    assert_int_equal(count(&f, PLAN_HOST_FAIL), 0);
    assert_int_equal(count(&f, PLAN_REMEDIATE), 0);
    assert_int_equal(f.out.n, 0);
    fleet_close(&f);
}

/* A proactive workflow waiting for approval on a host that then dies is
 * cancelled so that the failover can start. */
static void unapproved_workflow_on_a_dead_host_is_cancelled(void **state)
{
    static const char *const steps[] = {"prepare", "transfer", "activate",
                                        "release", NULL};
    struct fleet f;
    struct plan_workflow *wf;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9)->state = PLAN_HOST_UNREACHABLE;
    host_add(&f, "h2", 0);
    wl_add(&f, "w", "h1", 1);
    wf = wf_add(&f, 7, "w", "h1", "h2", steps);
    wf->approved = false;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CANCEL), 1);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_CANCEL, 0)->workflow, 7);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 0);
    /* Once it ended, the failover follows. */
    wf->state = PLAN_WF_CANCELLED;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 1);
    assert_int_equal(create_of(&f, "w")->reason, PLAN_REASON_FAILED);
    fleet_close(&f);
}

/* ---- proactive -------------------------------------------------------- */

/* A host past the migrate threshold is evacuated highest priority first;
 * the global cap holds back the rest. */
static void proactive_moves_by_priority_within_the_cap(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.85);
    host_add(&f, "h2", 0.1);
    wl_add(&f, "low", "h1", 1);
    wl_add(&f, "high", "h1", 9);
    wl_add(&f, "mid", "h1", 5);
    f.in.policy.max_concurrent = 2;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 2);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->workload, "high");
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 1)->workload, "mid");
    assert_int_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->reason,
                     PLAN_REASON_PREDICTED);
    assert_true(nth(&f, PLAN_WORKFLOW_CREATE, 0)->approved);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->to, "h2");
    assert_int_equal(f.out.deferred, 1);
    /* Below the threshold: nothing. */
    f.hosts[0].p = 0.79;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 0);
    fleet_close(&f);
}

/* Workflows in flight count against the caps, global and per cohort. */
static void concurrency_caps_count_workflows_in_flight(void **state)
{
    static const char *const steps[] = {"prepare", "transfer", "activate",
                                        "release", NULL};
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "h2", 0.0);
    host_add(&f, "h3", 0.0);
    wl_add(&f, "a", "h1", 3)->cohort = 0;
    wl_add(&f, "b", "h1", 2)->cohort = 0;
    wl_add(&f, "c", "h1", 1);
    snprintf(f.co[0].name, sizeof f.co[0].name, "web");
    f.co[0].spread = PLAN_SPREAD_NONE;
    f.in.n_cohorts = 1;
    wf_add(&f, 1, "a", "h1", "h2", steps)->state = PLAN_WF_RUNNING;
    run(&f);
    /* b waits for a (cohort cap 1); c goes. */
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 1);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->workload, "c");
    f.in.policy.max_concurrent = 1;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 0);
    assert_int_equal(f.out.deferred, 2);
    fleet_close(&f);
}

/* The rate limit counts the workflows the store shows created in the last
 * minute, ended or not, so a new leader counts the same. */
static void rate_limit_counts_the_last_minute_from_the_store(void **state)
{
    static const char *const steps[] = {"transfer", NULL};
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "h2", 0.0);
    wl_add(&f, "a", "h1", 3);
    wl_add(&f, "b", "h1", 2);
    wl_add(&f, "x", "h2", 1);
    f.in.policy.rate_per_min = 2;
    wf_add(&f, 1, "x", "h9", "h2", steps)->state = PLAN_WF_DONE;
    f.wf[0].created_at = NOW - 30000;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 1);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->workload, "a");
    /* Due again when the old one leaves the window. */
    assert_int_equal(f.out.next_due_ms, NOW + 30000);
    /* A failover created then does not count. */
    f.wf[0].reason = PLAN_REASON_FAILED;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 2);
    /* Nor does one older than a minute. */
    f.wf[0].reason = PLAN_REASON_PREDICTED;
    f.wf[0].created_at = NOW - 60000;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 2);
    fleet_close(&f);
}

/* A workload that moved is not moved again proactively within the
 * cooldown: a score flapping around the threshold on its new host starts
 * no second migration. */
static void flapping_score_moves_a_workload_once_per_cooldown(void **state)
{
    struct fleet f;
    int moves = 0;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.0);
    host_add(&f, "h2", 0.0);
    wl_add(&f, "w", "h1", 1);
    for (int t = 0; t < 20; t++) {
        const struct plan_decision *d;
        size_t h = strcmp(f.wl[0].host, "h1") == 0 ? 0 : 1;

        f.in.now_ms = NOW + t * 10000;
        /* The score of whichever host runs it flaps around 0.8. */
        f.hosts[h].p = (t % 2 == 0) ? 0.82 : 0.78;
        f.hosts[1 - h].p = 0.0;
        run(&f);
        d = create_of(&f, "w");
        if (d == NULL) {
            continue;
        }
        /* The move happens: the store records it as ended now. */
        moves++;
        snprintf(f.wl[0].host, sizeof f.wl[0].host, "%s", d->to);
        f.wl[0].last_move_ms = f.in.now_ms;
    }
    /* 200 s of flapping, cooldown 300 s: one move. */
    assert_int_equal(moves, 1);
    /* After the cooldown it may move again. */
    f.in.now_ms = f.wl[0].last_move_ms + 300000;
    f.hosts[0].p = f.hosts[1].p = 0.0;
    f.hosts[strcmp(f.wl[0].host, "h1") == 0 ? 0 : 1].p = 0.9;
    run(&f);
    assert_non_null(create_of(&f, "w"));
    fleet_close(&f);
}

/* A host back from unreachable takes no new workloads within its host
 * cooldown; one whose return this leader did not see is not held. */
static void host_cooldown_keeps_a_returned_host_out(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "back", 0.0)->back_at_ms = NOW - 1000;
    host_add(&f, "h3", 0.2);
    wl_add(&f, "w", "h1", 1);
    run(&f);
    assert_string_equal(create_of(&f, "w")->to, "h3");
    f.hosts[1].back_at_ms = NOW - 600000;
    run(&f);
    assert_string_equal(create_of(&f, "w")->to, "back");
    f.hosts[1].back_at_ms = 0;
    run(&f);
    assert_string_equal(create_of(&f, "w")->to, "back");
    fleet_close(&f);
}

/* The target keeps the cohort's spread before it looks at p: a low-p
 * host in the rack of another member loses to a riskier one elsewhere. */
static void target_keeps_the_cohort_spread(void **state)
{
    struct fleet f;
    static const char *const racks[] = {"r1", "r1", "r2", "r3"};

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "h2", 0.0);
    host_add(&f, "h3", 0.2);
    host_add(&f, "h4", 0.3);
    for (int i = 0; i < 4; i++) {
        snprintf(f.hosts[i].domain[PLAN_SPREAD_RACK], PLAN_ID_SIZE, "%s",
                 racks[i]);
    }
    snprintf(f.co[0].name, sizeof f.co[0].name, "db");
    f.co[0].spread = PLAN_SPREAD_RACK;
    f.in.n_cohorts = 1;
    wl_add(&f, "a", "h1", 2)->cohort = 0;
    wl_add(&f, "b", "h3", 1)->cohort = 0;
    /* h2 is in r1 with h1, but a leaves h1; h3 holds b (r2). */
    run(&f);
    assert_string_equal(create_of(&f, "a")->to, "h2");
    /* A third member on h2's rack: r1 is taken, r2 too: h4 (r3). */
    wl_add(&f, "c", "h2", 0)->cohort = 0;
    f.in.policy.max_concurrent_cohort = 4;
    run(&f);
    assert_string_equal(create_of(&f, "a")->to, "h4");
    /* plan_best_host says the same. */
    assert_int_equal(plan_best_host(&f.in, 0, NULL), 3);
    fleet_close(&f);
}

/* Full hosts and risky hosts are no targets; none left: unplaced. */
static void target_must_fit_and_be_clear(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "full", 0.0)->used.cpu = 16;
    host_add(&f, "risky", 0.71); /* >= 0.8 - 0.1 */
    host_add(&f, "draining", 0.0)->state = PLAN_HOST_DRAINING;
    wl_add(&f, "w", "h1", 1);
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 0);
    assert_int_equal(f.out.unplaced, 1);
    f.hosts[2].p = 0.69;
    run(&f);
    assert_string_equal(create_of(&f, "w")->to, "risky");
    fleet_close(&f);
}

/* automatic=false: proactive workflows are created unapproved. */
static void manual_policy_creates_unapproved_workflows(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "h2", 0.0);
    wl_add(&f, "w", "h1", 1);
    f.in.policy.automatic = false;
    run(&f);
    assert_false(create_of(&f, "w")->approved);
    fleet_close(&f);
}

/* A draining host's workloads move with a shutdown notice, reason manual,
 * whatever their cooldown. */
static void draining_host_moves_with_notice(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.0)->state = PLAN_HOST_DRAINING;
    host_add(&f, "h2", 0.0);
    wl_add(&f, "w", "h1", 1)->last_move_ms = NOW - 1;
    f.in.policy.rate_per_min = 0;
    run(&f);
    assert_non_null(create_of(&f, "w"));
    assert_true(create_of(&f, "w")->notify);
    assert_int_equal(create_of(&f, "w")->reason, PLAN_REASON_MANUAL);
    fleet_close(&f);
}

/* Proactive moves prefer a warm shadow. */
static void proactive_prefers_a_warm_shadow(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.9);
    host_add(&f, "h2", 0.0);
    host_add(&f, "h3", 0.4);
    wl_add(&f, "w", "h1", 1);
    sh_add(&f, "w", "h3", PLAN_SHADOW_WARM);
    run(&f);
    assert_string_equal(create_of(&f, "w")->to, "h3");
    assert_int_equal(create_of(&f, "w")->strategy, PLAN_STRATEGY_STANDBY);
    fleet_close(&f);
}

/* ---- rebalance -------------------------------------------------------- */

/* Two members of a host-spread cohort on one host (after a failover):
 * when another host is available, one moves away. */
static void broken_spread_is_rebalanced(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.0);
    host_add(&f, "h2", 0.0)->state = PLAN_HOST_FAILED;
    snprintf(f.co[0].name, sizeof f.co[0].name, "web");
    f.co[0].spread = PLAN_SPREAD_HOST;
    f.in.n_cohorts = 1;
    wl_add(&f, "a", "h1", 5)->cohort = 0;
    wl_add(&f, "b", "h1", 1)->cohort = 0;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 0);
    /* The operator sets h2 active again: the least important goes. */
    f.hosts[1].state = PLAN_HOST_ACTIVE;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 1);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->workload, "b");
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->to, "h2");
    assert_int_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->reason,
                     PLAN_REASON_REBALANCE);
    fleet_close(&f);
}

static double what_if_h3(void *arg,
                         const char *cohort,
                         const char *workload,
                         const char *host)
{
    (void)arg;
    (void)cohort;
    (void)workload;
    return strcmp(host, "h3") == 0 ? 0.99 : 0.5;
}

/* Two members behind one risky PSU: the cohort is weak though both hosts'
 * own scores are 0.  The store's what-if finds the move that restores it,
 * to a host behind another PSU (the risk of what a host depends on ranks
 * targets too). */
static void weak_cohort_is_rebalanced_by_what_if(void **state)
{
    struct fleet f;
    const struct plan_decision *d;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.0)->risk = 0.5;
    host_add(&f, "h2", 0.0)->risk = 0.5;
    host_add(&f, "h3", 0.1);
    snprintf(f.co[0].name, sizeof f.co[0].name, "db");
    f.co[0].spread = PLAN_SPREAD_HOST;
    f.co[0].min_resilience = 0.9;
    f.co[0].has_eval = true;
    f.co[0].resilience = 0.5;
    f.in.n_cohorts = 1;
    wl_add(&f, "a", "h1", 2)->cohort = 0;
    wl_add(&f, "b", "h2", 1)->cohort = 0;
    f.in.what_if = what_if_h3;
    f.in.policy.shadow_budget_cpu = 0; /* no shadows in the way */
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 1);
    d = nth(&f, PLAN_WORKFLOW_CREATE, 0);
    assert_string_equal(d->workload, "a");
    assert_string_equal(d->to, "h3");
    assert_int_equal(d->reason, PLAN_REASON_REBALANCE);
    /* No move helps enough: nothing. */
    f.co[0].resilience = 0.985;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_CREATE), 0);
    /* A member that moved within its cooldown stays. */
    f.co[0].resilience = 0.5;
    f.wl[0].last_move_ms = NOW - 1000;
    run(&f);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_CREATE, 0)->workload, "b");
    fleet_close(&f);
}

/* ---- shadows ---------------------------------------------------------- */

/* Risky hosts' workloads get shadows in another domain, highest priority
 * first, within the budget. */
static void shadows_are_provisioned_within_budget(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.6);
    host_add(&f, "h2", 0.0);
    wl_add(&f, "a", "h1", 1)->demand.cpu = 4;
    wl_add(&f, "b", "h1", 2)->demand.cpu = 4;
    wl_add(&f, "c", "h2", 3)->demand.cpu = 4; /* safe host: none */
    f.in.policy.shadow_budget_cpu = 6;
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_PROVISION), 1);
    assert_string_equal(nth(&f, PLAN_SHADOW_PROVISION, 0)->workload, "b");
    assert_string_equal(nth(&f, PLAN_SHADOW_PROVISION, 0)->host, "h2");
    /* With b's shadow held, a does not fit the budget either. */
    sh_add(&f, "b", "h2", PLAN_SHADOW_PROVISIONING)->demand.cpu = 4;
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_PROVISION), 0);
    /* The held one is driven: its provision call. */
    assert_int_equal(count(&f, PLAN_CALL), 1);
    assert_int_equal(nth(&f, PLAN_CALL, 0)->action, PLAN_ACTION_PROVISION);
    assert_true(nth(&f, PLAN_CALL, 0)->is_shadow);
    fleet_close(&f);
}

/* A shadow goes where it shares the fewest failure domains with its
 * workload's host, before lower p or more room. */
static void shadow_avoids_the_hosts_rack(void **state)
{
    struct fleet f;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.6);
    host_add(&f, "same-rack", 0.0);
    host_add(&f, "other-rack", 0.2)->used.cpu = 8;
    snprintf(f.hosts[0].domain[PLAN_SPREAD_RACK], PLAN_ID_SIZE, "r1");
    snprintf(f.hosts[1].domain[PLAN_SPREAD_RACK], PLAN_ID_SIZE, "r1");
    snprintf(f.hosts[2].domain[PLAN_SPREAD_RACK], PLAN_ID_SIZE, "r2");
    snprintf(f.hosts[0].domain[PLAN_SPREAD_PSU], PLAN_ID_SIZE, "psu1");
    snprintf(f.hosts[1].domain[PLAN_SPREAD_PSU], PLAN_ID_SIZE, "psu1");
    snprintf(f.hosts[2].domain[PLAN_SPREAD_PSU], PLAN_ID_SIZE, "psu2");
    wl_add(&f, "a", "h1", 1);
    run(&f);
    assert_string_equal(nth(&f, PLAN_SHADOW_PROVISION, 0)->host, "other-rack");
    fleet_close(&f);
}

/* Provisioned: warm with what the actuator reported; probes report only
 * changes that matter. */
static void shadow_turns_warm_and_is_probed(void **state)
{
    struct fleet f;
    struct plan_shadow *s;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.6);
    host_add(&f, "h2", 0.0);
    wl_add(&f, "a", "h1", 1);
    s = sh_add(&f, "a", "h2", PLAN_SHADOW_PROVISIONING);
    s->call.status = PLAN_CALL_DONE;
    s->call.action = PLAN_ACTION_PROVISION;
    s->call.outcome = PLAN_OUTCOME_OK;
    s->call.has_lag = true;
    s->call.lag_ms = 40;
    s->call.done_at = NOW;
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_UPDATE), 1);
    assert_int_equal(nth(&f, PLAN_SHADOW_UPDATE, 0)->shadow_state,
                     PLAN_SHADOW_WARM);
    assert_int_equal(nth(&f, PLAN_SHADOW_UPDATE, 0)->lag_ms, 40);
    /* Warm: the next probe is due PLAN_PROBE_MS later. */
    s->state = PLAN_SHADOW_WARM;
    s->lag_ms = 40;
    run(&f);
    assert_int_equal(f.out.n, 0);
    assert_int_equal(f.out.next_due_ms, NOW + PLAN_PROBE_MS);
    f.in.now_ms = NOW + PLAN_PROBE_MS;
    run(&f);
    assert_int_equal(nth(&f, PLAN_CALL, 0)->action, PLAN_ACTION_PROBE);
    /* A probe with lag moved by under a second: no update. */
    s->call.action = PLAN_ACTION_PROBE;
    s->call.lag_ms = 900;
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_UPDATE), 0);
    s->call.lag_ms = 1100;
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_UPDATE), 1);
    s->call.lag_ms = 40;
    snprintf(s->call.drift, sizeof s->call.drift, "config v2");
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_UPDATE), 1);
    fleet_close(&f);
}

/* A shadow whose reason has gone (below provision - hysteresis) is
 * deprovisioned, then released; inside the band it stays. */
static void shadow_is_released_when_its_reason_goes(void **state)
{
    struct fleet f;
    struct plan_shadow *s;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.45); /* 0.5 - 0.1 < 0.45: inside the band */
    host_add(&f, "h2", 0.0);
    wl_add(&f, "a", "h1", 1);
    s = sh_add(&f, "a", "h2", PLAN_SHADOW_WARM);
    s->call.status = PLAN_CALL_INFLIGHT;
    s->call.action = PLAN_ACTION_PROBE;
    run(&f);
    assert_int_equal(f.out.n, 0);
    f.hosts[0].p = 0.3;
    s->call.status = PLAN_CALL_NONE;
    run(&f);
    assert_int_equal(count(&f, PLAN_CALL), 1);
    assert_int_equal(nth(&f, PLAN_CALL, 0)->action, PLAN_ACTION_DEPROVISION);
    s->call.status = PLAN_CALL_DONE;
    s->call.action = PLAN_ACTION_DEPROVISION;
    run(&f);
    assert_int_equal(count(&f, PLAN_SHADOW_RELEASE), 1);
    assert_int_equal(count(&f, PLAN_SHADOW_PROVISION), 0);
    fleet_close(&f);
}

/* ---- driving workflows ------------------------------------------------ */

static const char *const live_steps[] = {"prepare", "transfer", "activate",
                                         "release", NULL};

static struct plan_workflow *driving_fleet(struct fleet *f)
{
    fleet_init(f);
    host_add(f, "h1", 0.0);
    host_add(f, "h2", 0.0);
    wl_add(f, "w", "h1", 1);
    return wf_add(f, 5, "w", "h1", "h2", live_steps);
}

/* A pending, approved workflow's first step is started (attempt 1); an
 * unapproved one waits. */
static void pending_step_is_started(void **state)
{
    struct fleet f;
    struct plan_workflow *wf = driving_fleet(&f);
    const struct plan_decision *d;

    (void)state;
    run(&f);
    assert_int_equal(count(&f, PLAN_WORKFLOW_ADVANCE), 1);
    d = nth(&f, PLAN_WORKFLOW_ADVANCE, 0);
    assert_int_equal(d->workflow, 5);
    assert_int_equal(d->step, 0);
    assert_int_equal(d->event, PLAN_EVENT_START);
    assert_int_equal(d->next_attempt, 1);
    wf->approved = false;
    run(&f);
    assert_int_equal(f.out.n, 0);
    fleet_close(&f);
}

/* This leader's own attempt is called on the right host with the
 * workflow's current epoch; its OK ends the step with the detail. */
static void owned_step_is_called_and_its_ok_advances(void **state)
{
    struct fleet f;
    struct plan_workflow *wf = driving_fleet(&f);
    const struct plan_decision *d;

    (void)state;
    wf->state = PLAN_WF_RUNNING;
    wf->step = 2; /* activate */
    wf->steps[0].state = wf->steps[1].state = PLAN_STEP_DONE;
    wf->steps[2].state = PLAN_STEP_RUNNING;
    wf->steps[2].attempt = 1;
    wf->cur_epoch = 7;
    wf->call.status = PLAN_CALL_OWNED;
    run(&f);
    d = nth(&f, PLAN_CALL, 0);
    assert_int_equal(d->action, PLAN_ACTION_ACTIVATE);
    assert_string_equal(d->host, "h2");
    assert_int_equal(d->epoch, 7);
    assert_int_equal(d->attempt, 1);
    assert_int_equal(d->step, 2);
    wf->call.status = PLAN_CALL_INFLIGHT;
    run(&f);
    assert_int_equal(f.out.n, 0);
    wf->call.status = PLAN_CALL_DONE;
    wf->call.outcome = PLAN_OUTCOME_OK;
    snprintf(wf->call.detail, sizeof wf->call.detail, "running port 9001");
    run(&f);
    d = nth(&f, PLAN_WORKFLOW_ADVANCE, 0);
    assert_int_equal(d->event, PLAN_EVENT_OK);
    assert_string_equal(d->detail, "running port 9001");
    /* release stops the old instance on from. */
    wf->step = 3;
    wf->steps[3].state = PLAN_STEP_RUNNING;
    wf->steps[3].attempt = 1;
    wf->call.status = PLAN_CALL_OWNED;
    run(&f);
    d = nth(&f, PLAN_CALL, 0);
    assert_int_equal(d->action, PLAN_ACTION_STOP);
    assert_string_equal(d->host, "h1");
    fleet_close(&f);
}

/* A running step this leader did not start (a new leader) is retried
 * under a new attempt: its outcome is unknown. */
static void resumed_step_is_retried(void **state)
{
    struct fleet f;
    struct plan_workflow *wf = driving_fleet(&f);
    const struct plan_decision *d;

    (void)state;
    wf->state = PLAN_WF_RUNNING;
    wf->steps[0].state = PLAN_STEP_RUNNING;
    wf->steps[0].attempt = 1;
    run(&f);
    d = nth(&f, PLAN_WORKFLOW_ADVANCE, 0);
    assert_int_equal(d->event, PLAN_EVENT_RETRY);
    assert_int_equal(d->attempt, 1);
    assert_int_equal(d->next_attempt, 2);
    fleet_close(&f);
}

/* RETRY answers are retried after a backoff until max_attempts; then the
 * step fails.  A refusal fails at once; a failing release is skipped. */
static void retries_run_out_refusals_fail_releases_skip(void **state)
{
    struct fleet f;
    struct plan_workflow *wf = driving_fleet(&f);

    (void)state;
    wf->state = PLAN_WF_RUNNING;
    wf->steps[0].state = PLAN_STEP_RUNNING;
    wf->steps[0].attempt = 1;
    wf->call.status = PLAN_CALL_DONE;
    wf->call.outcome = PLAN_OUTCOME_RETRY;
    wf->call.done_at = NOW;
    run(&f);
    assert_int_equal(f.out.n, 0);
    assert_int_equal(f.out.next_due_ms, NOW + PLAN_RETRY_BACKOFF_MS);
    f.in.now_ms = NOW + PLAN_RETRY_BACKOFF_MS;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event,
                     PLAN_EVENT_RETRY);
    wf->steps[0].attempt = 3; /* max_attempts */
    f.in.now_ms = NOW + 10000;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event, PLAN_EVENT_FAIL);
    wf->steps[0].attempt = 1;
    wf->call.outcome = PLAN_OUTCOME_REFUSED;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event, PLAN_EVENT_FAIL);
    wf->step = 3;
    wf->steps[3].state = PLAN_STEP_RUNNING;
    wf->steps[3].attempt = 1;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event, PLAN_EVENT_SKIP);
    fleet_close(&f);
}

/* notify waits for the ack or the deadline; keep_warm for its time. */
static void waits_end_on_ack_deadline_or_time(void **state)
{
    static const char *const steps[] = {"notify",   "prepare",   "transfer",
                                        "activate", "keep_warm", "release",
                                        NULL};
    struct fleet f;
    struct plan_workflow *wf;

    (void)state;
    wf = running_move(&f, 9, steps);
    wf->steps[0].state = PLAN_STEP_RUNNING;
    wf->steps[0].attempt = 1;
    wf->steps[0].started_at = NOW;
    run(&f);
    assert_int_equal(count(&f, PLAN_NOTICE), 1);
    assert_string_equal(nth(&f, PLAN_NOTICE, 0)->host, "h1");
    assert_int_equal(nth(&f, PLAN_NOTICE, 0)->deadline_ms, NOW + 5000);
    assert_int_equal(count(&f, PLAN_WORKFLOW_ADVANCE), 0);
    wf->notice_set = true;
    run(&f);
    assert_int_equal(f.out.n, 0);
    assert_int_equal(f.out.next_due_ms, NOW + 5000);
    wf->notice_acked = true;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event, PLAN_EVENT_OK);
    wf->notice_acked = false;
    f.in.now_ms = NOW + 5000;
    run(&f);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->detail,
                        "deadline passed");
    wf->step = 4;
    wf->steps[4].state = PLAN_STEP_RUNNING;
    wf->steps[4].started_at = NOW;
    run(&f);
    assert_int_equal(f.out.n, 0);
    assert_int_equal(f.out.next_due_ms, NOW + 60000);
    f.in.now_ms = NOW + 60000;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event, PLAN_EVENT_OK);
    fleet_close(&f);
}

/* Traffic steps are calls on the target for the load-balancer driver:
 * mirror, each shift_<pct>, unshift; a KPI refusal fails the step with
 * the verdict (the store rolls back); a resumed shift is measured again
 * under a new attempt. */
static void traffic_steps_are_calls_and_a_refusal_fails(void **state)
{
    static const char *const steps[] = {"prepare",  "mirror",    "shift_1",
                                        "shift_50", "shift_100", "transfer",
                                        "activate", "release",   NULL};
    static const struct
    {
        unsigned step;
        int action;
    } rows[] = {{1, PLAN_ACTION_MIRROR},
                {2, PLAN_ACTION_SHIFT},
                {3, PLAN_ACTION_SHIFT},
                {4, PLAN_ACTION_SHIFT}};
    struct fleet f;
    struct plan_workflow *wf;
    bool on_to;

    (void)state;
    wf = running_move(&f, 11, steps);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct plan_decision *d;
        wf->step = rows[i].step;
        wf->steps[wf->step].state = PLAN_STEP_RUNNING;
        wf->call.status = PLAN_CALL_OWNED;
        run(&f);
        d = nth(&f, PLAN_CALL, 0);
        assert_int_equal(d->action, rows[i].action);
        assert_true(PLAN_ACTION_IS_TRAFFIC(d->action));
        assert_string_equal(d->host, "h2");
        assert_string_equal(d->from, "h1");
        assert_string_equal(d->to, "h2");
        assert_string_equal(d->step_name, steps[rows[i].step]);
    }
    assert_int_equal(plan_step_action("unshift", &on_to), PLAN_ACTION_UNSHIFT);
    assert_true(on_to);
    assert_int_equal(plan_step_action("shift_25", &on_to), PLAN_ACTION_SHIFT);
    assert_int_equal(plan_step_action("transfer", &on_to), PLAN_ACTION_NONE);
    assert_false(PLAN_ACTION_IS_TRAFFIC(PLAN_ACTION_PROBE));
    assert_string_equal(plan_action_name(PLAN_ACTION_SHIFT), "shift");
    /* A KPI breach: the driver refuses, the step fails with the verdict. */
    wf->call.status = PLAN_CALL_DONE;
    wf->call.outcome = PLAN_OUTCOME_REFUSED;
    snprintf(wf->call.detail, sizeof wf->call.detail,
             "error_rate 0.500 > 0.010 (old 0.000, 40 requests)");
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event, PLAN_EVENT_FAIL);
    assert_string_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->detail,
                        "error_rate 0.500 > 0.010 (old 0.000, 40 requests)");
    /* A new leader: the shift is run again under a new attempt. */
    wf->call.status = PLAN_CALL_NONE;
    run(&f);
    assert_int_equal(nth(&f, PLAN_WORKFLOW_ADVANCE, 0)->event,
                     PLAN_EVENT_RETRY);
    fleet_close(&f);
}

/* A host a traffic step's validation failed on takes no new workload
 * until its target cooldown ends. */
static void target_cooldown_keeps_a_failed_target_out(void **state)
{
    struct fleet f;
    const struct plan_decision *d;

    (void)state;
    fleet_init(&f);
    host_add(&f, "h1", 0.95);
    host_add(&f, "h2", 0.0)->target_cooldown_until_ms = NOW + 1;
    host_add(&f, "h3", 0.1);
    wl_add(&f, "w", "h1", 1);
    run(&f);
    d = create_of(&f, "w");
    assert_non_null(d);
    assert_string_equal(d->to, "h3");
    f.in.n_workflows = 0;
    f.hosts[1].target_cooldown_until_ms = NOW;
    run(&f);
    d = create_of(&f, "w");
    assert_non_null(d);
    assert_string_equal(d->to, "h2");
    fleet_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failover_is_immediate_and_exempt_from_limits),
        cmocka_unit_test(failovers_of_one_round_spread_by_capacity),
        cmocka_unit_test(failover_prefers_a_warm_shadow),
        cmocka_unit_test(empty_unreachable_host_is_failed_and_remediated_once),
        cmocka_unit_test(unapproved_workflow_on_a_dead_host_is_cancelled),
        cmocka_unit_test(proactive_moves_by_priority_within_the_cap),
        cmocka_unit_test(concurrency_caps_count_workflows_in_flight),
        cmocka_unit_test(rate_limit_counts_the_last_minute_from_the_store),
        cmocka_unit_test(flapping_score_moves_a_workload_once_per_cooldown),
        cmocka_unit_test(host_cooldown_keeps_a_returned_host_out),
        cmocka_unit_test(target_keeps_the_cohort_spread),
        cmocka_unit_test(target_must_fit_and_be_clear),
        cmocka_unit_test(manual_policy_creates_unapproved_workflows),
        cmocka_unit_test(draining_host_moves_with_notice),
        cmocka_unit_test(proactive_prefers_a_warm_shadow),
        cmocka_unit_test(broken_spread_is_rebalanced),
        cmocka_unit_test(weak_cohort_is_rebalanced_by_what_if),
        cmocka_unit_test(shadows_are_provisioned_within_budget),
        cmocka_unit_test(shadow_avoids_the_hosts_rack),
        cmocka_unit_test(shadow_turns_warm_and_is_probed),
        cmocka_unit_test(shadow_is_released_when_its_reason_goes),
        cmocka_unit_test(pending_step_is_started),
        cmocka_unit_test(owned_step_is_called_and_its_ok_advances),
        cmocka_unit_test(resumed_step_is_retried),
        cmocka_unit_test(retries_run_out_refusals_fail_releases_skip),
        cmocka_unit_test(waits_end_on_ack_deadline_or_time),
        cmocka_unit_test(traffic_steps_are_calls_and_a_refusal_fails),
        cmocka_unit_test(target_cooldown_keeps_a_failed_target_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
