/* Unit tests of cohorts (store/cohorts.c), their resilience (the pure
 * arithmetic of store/resilience.c and its evaluation over the store in
 * views.c), the orchestrator's views, hand-set scores (manual_until) and a
 * lease that ends failed after unreachable. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "store/ops.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

/* ---- the arithmetic, without a store ---------------------------------- */

static struct store__resil_member member(bool up, unsigned n, ...)
{
    struct store__resil_member m;
    va_list ap;

    memset(&m, 0, sizeof m);
    m.up_possible = up;
    va_start(ap, n);
    for (unsigned i = 0; i < n; i++) {
        m.units[m.n_units++] = va_arg(ap, unsigned);
    }
    va_end(ap);
    return m;
}

static double resilience_of(const double *p,
                            unsigned n_units,
                            const struct store__resil_member *m,
                            unsigned n_members,
                            unsigned k,
                            struct store__resil_out *out)
{
    struct store__resil r = {n_units, p, n_members, m, k};
    struct store__resil_out local;

    if (out == NULL) {
        out = &local;
    }
    assert_int_equal(store__resilience(&r, out), 0);
    return out->resilience;
}

/* Two members on hosts of their own: by hand, 0.9 * 0.8 for both, 1 -
 * 0.1 * 0.2 for at least one. */
static void independent_members_multiply(void **state)
{
    const double p[] = {0.1, 0.2};
    struct store__resil_member m[2];

    (void)state;
    m[0] = member(true, 1, 0u);
    m[1] = member(true, 1, 1u);
    NEAR(resilience_of(p, 2, m, 2, 2, NULL), 0.72);
    NEAR(resilience_of(p, 2, m, 2, 1, NULL), 0.98);
    NEAR(resilience_of(p, 2, m, 2, 0, NULL), 1.0);
}

/* Two replicas behind one risky PSU are not independent: at least one of
 * them survives with 0.5 (the PSU), not 0.75 as behind two PSUs. */
static void two_replicas_behind_one_psu_are_less_resilient(void **state)
{
    /* units: h1, h2, psu-a, psu-b */
    const double p[] = {0.0, 0.0, 0.5, 0.5};
    struct store__resil_member shared[2];
    struct store__resil_member apart[2];
    struct store__resil_out out;
    double one;
    double two;

    (void)state;
    shared[0] = member(true, 2, 0u, 2u);
    shared[1] = member(true, 2, 1u, 2u);
    apart[0] = member(true, 2, 0u, 2u);
    apart[1] = member(true, 2, 1u, 3u);
    one = resilience_of(p, 4, shared, 2, 1, &out);
    two = resilience_of(p, 4, apart, 2, 1, NULL);
    NEAR(one, 0.5);
    NEAR(two, 0.75);
    assert_true(one < two - 0.2);
    /* What lowers it most: the PSU, whose p at 0 would make it certain. */
    assert_int_equal(out.n_weakest, 1);
    assert_int_equal(out.weakest[0].unit, 2);
    NEAR(out.weakest[0].p, 0.5);
    NEAR(out.weakest[0].gain, 0.5);
}

/* A shared host and a shared PSU, three members, two needed; by hand:
 * m0 on h0, m1 and m2 on h1, all behind psu (0.2); h0 0.1, h1 0.3.
 * PSU up (0.8): need 2 of {m0: 0.9, m1 & m2 together: 0.7}: up iff h1 up
 * (then m1, m2 give 2) -> 0.7; so 0.8 * 0.7 = 0.56. */
static void shared_host_and_psu_by_hand(void **state)
{
    const double p[] = {0.1, 0.3, 0.2};
    struct store__resil_member m[3];

    (void)state;
    m[0] = member(true, 2, 0u, 2u);
    m[1] = member(true, 2, 1u, 2u);
    m[2] = member(true, 2, 1u, 2u);
    NEAR(resilience_of(p, 3, m, 3, 2, NULL), 0.56);
    /* One needed: PSU up and not both hosts down: 0.8 * (1 - 0.03). */
    NEAR(resilience_of(p, 3, m, 3, 1, NULL), 0.8 * 0.97);
}

/* A member without a claim, or on a host that does not run, is down. */
static void a_member_that_cannot_run_counts_as_down(void **state)
{
    const double p[] = {0.2};
    struct store__resil_member m[2];

    (void)state;
    m[0] = member(false, 0);
    m[1] = member(true, 1, 0u);
    NEAR(resilience_of(p, 1, m, 2, 1, NULL), 0.8);
    NEAR(resilience_of(p, 1, m, 2, 2, NULL), 0.0);
}

/* Past STORE__RESIL_SHARED_MAX shared units, the least risky are folded
 * into each member as if independent: two members behind 14 shared units
 * of 0.01 each, one needed.  Exactly 0.99^14; with 12 enumerated and 2
 * folded, 0.99^12 * (1 - (1 - 0.99^2)^2), a little more. */
static void shared_units_past_the_limit_are_folded_in(void **state)
{
    double p[16];
    struct store__resil_member m[2];
    double got;
    double folded = pow(0.99, 12) * (1.0 - pow(1.0 - 0.99 * 0.99, 2));

    (void)state;
    memset(m, 0, sizeof m);
    for (unsigned u = 0; u < 14; u++) {
        p[u] = 0.01;
        for (unsigned i = 0; i < 2; i++) {
            m[i].units[m[i].n_units++] = u;
        }
    }
    m[0].up_possible = m[1].up_possible = true;
    got = resilience_of(p, 14, m, 2, 1, NULL);
    NEAR(got, folded);
    assert_true(got >= pow(0.99, 14));
    assert_true(got - pow(0.99, 14) < 0.02); /* 0.886 for 0.869 */
}

/* The host's committed score holds its PSU's risk (noisy-OR, power 0.9):
 * only its own part is counted again. */
static void host_own_part_removes_the_upstream_risk(void **state)
{
    const double dep_p[] = {0.5};
    const int dep_kind[] = {STORE_EDGE_POWER};
    double committed = 1.0 - (1.0 - 0.2) * (1.0 - 0.9 * 0.5);

    (void)state;
    NEAR(store__p_own(committed, dep_p, dep_kind, 1), 0.2);
    NEAR(store__p_own(0.3, NULL, NULL, 0), 0.3);
    /* Committed below what the PSU alone explains: clamped to 0. */
    NEAR(store__p_own(0.0, dep_p, dep_kind, 1), 0.0);
}

/* ---- cohorts in the store --------------------------------------------- */

static int cohort_create(struct fx *f,
                         const char *name,
                         const char *w1,
                         const char *w2,
                         int spread,
                         uint64_t min_available)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_CREATE;
    snprintf(c.u.cohort.name, STORE_ID_SIZE, "%s", name);
    snprintf(c.u.cohort.workloads[c.u.cohort.n_workloads++], STORE_ID_SIZE,
             "%s", w1);
    if (w2 != NULL) {
        snprintf(c.u.cohort.workloads[c.u.cohort.n_workloads++], STORE_ID_SIZE,
                 "%s", w2);
    }
    c.u.cohort.spread = spread;
    c.u.cohort.min_available = min_available;
    c.u.cohort.min_resilience = STORE_MIN_RESILIENCE_DEFAULT;
    return fx_apply(f, &c);
}

static int cohort_member(struct fx *f,
                         enum store_op op,
                         const char *name,
                         const char *workload)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = op;
    snprintf(c.u.cohort.name, STORE_ID_SIZE, "%s", name);
    snprintf(c.u.cohort.workload, STORE_ID_SIZE, "%s", workload);
    return fx_apply(f, &c);
}

static int cohort_get(struct fx *f, const char *name)
{
    struct store_cmd c;

    cmd_get(&c, STORE_OP_COHORT_GET, name);
    return fx_read(f, &c);
}

static double obj_double(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = obj_get(map, key);

    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_FLOAT64);
    return o->via.f64;
}

static bool obj_bool(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = obj_get(map, key);

    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_BOOLEAN);
    return o->via.boolean;
}

/* h1 and h2 behind psu-1, h3 behind psu-2; w1 on h1, w2 on h2, w3
 * unclaimed. */
static void fleet(struct fx *f)
{
    struct store_cmd c;

    cmd_resource_add(&c, "h1", "host", 16, 4096);
    c.u.resource_add.n_labels = 1;
    snprintf(c.u.resource_add.labels[0].key, STORE_LABEL_KEY_SIZE, "rack");
    snprintf(c.u.resource_add.labels[0].value, STORE_LABEL_VALUE_SIZE, "r1");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(add_host(f, "h2", 16, 4096), 0);
    assert_int_equal(add_host(f, "h3", 16, 4096), 0);
    assert_int_equal(add_resource(f, "psu-1", "psu", 0, 0), 0);
    assert_int_equal(add_resource(f, "psu-2", "psu", 0, 0), 0);
    assert_int_equal(add_edge(f, "h1", "psu-1"), 0);
    assert_int_equal(add_edge(f, "h2", "psu-1"), 0);
    assert_int_equal(add_edge(f, "h3", "psu-2"), 0);
    assert_int_equal(add_workload(f, "w1", 1, 10), 0);
    assert_int_equal(add_workload(f, "w2", 1, 10), 0);
    assert_int_equal(add_workload(f, "w3", 1, 10), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(acquire(f, "w2", "h2"), 0);
}

static void cohort_create_checks_its_workloads(void **state)
{
    struct fx *f = *state;
    uint64_t rev;

    fleet(f);
    rev = store_revision(f->s);
    assert_int_equal(cohort_create(f, "c1", "w1", "nope", STORE_SPREAD_HOST, 0),
                     AUGUR_ENOTFOUND);
    assert_non_null(strstr(ans_error(f), "nope"));
    assert_int_equal(cohort_create(f, "c1", "w1", "w2", STORE_SPREAD_HOST, 3),
                     AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), rev);
    assert_int_equal(cohort_get(f, "c1"), AUGUR_ENOTFOUND);

    assert_int_equal(cohort_create(f, "c1", "w1", "w2", STORE_SPREAD_HOST, 0),
                     0);
    /* min_available defaults to every member. */
    assert_int_equal(obj_u64(ans_result(f), "min_available"), 2);
    assert_obj_str(ans_result(f), "spread", "host");
    assert_int_equal(cohort_create(f, "c1", "w3", NULL, STORE_SPREAD_HOST, 0),
                     AUGUR_EEXIST);
    /* A workload belongs to one cohort at most. */
    assert_int_equal(cohort_create(f, "c2", "w3", "w2", STORE_SPREAD_HOST, 0),
                     AUGUR_ECONFLICT);
    assert_non_null(strstr(ans_error(f), "w2"));
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_ADD, "c1", "w1"),
                     AUGUR_EEXIST);
    assert_int_equal(cohort_create(f, "c2", "w3", NULL, STORE_SPREAD_NONE, 0),
                     0);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_ADD, "c2", "w1"),
                     AUGUR_ECONFLICT);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_ADD, "zz", "w1"),
                     AUGUR_ENOTFOUND);
}

static void cohort_add_remove_and_delete(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    fleet(f);
    assert_int_equal(cohort_create(f, "c1", "w1", "w2", STORE_SPREAD_HOST, 0),
                     0);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_ADD, "c1", "w3"), 0);
    assert_int_equal(obj_len(ans_result(f), "workloads"), 3);
    assert_int_equal(obj_u64(ans_result(f), "min_available"), 2);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_REMOVE, "c1", "w1"), 0);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_REMOVE, "c1", "w2"), 0);
    /* min_available follows the members down. */
    assert_int_equal(obj_u64(ans_result(f), "min_available"), 1);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_REMOVE, "c1", "w1"),
                     AUGUR_ENOTFOUND);
    assert_int_equal(cohort_member(f, STORE_OP_COHORT_REMOVE, "c1", "w3"),
                     AUGUR_EINVAL);
    /* w1 is free again. */
    assert_int_equal(cohort_create(f, "c2", "w1", NULL, STORE_SPREAD_HOST, 0),
                     0);

    /* Delete frees the members. */
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_DELETE;
    snprintf(c.u.cohort.name, STORE_ID_SIZE, "c2");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(fx_apply(f, &c), AUGUR_ENOTFOUND);
    assert_int_equal(cohort_create(f, "c3", "w1", "w2", STORE_SPREAD_HOST, 0),
                     0);
    cmd_list(&c, STORE_OP_COHORT_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 2);
}

/* The acceptance case of issue 14: resilience drops when two members
 * share a risky PSU and recovers when one moves behind another. */
static void resilience_drops_behind_a_shared_risky_psu(void **state)
{
    struct fx *f = *state;
    struct store_cohort_eval e;
    const msgpack_object *r;
    const msgpack_object *weak;

    fleet(f);
    assert_int_equal(cohort_create(f, "c1", "w1", "w2", STORE_SPREAD_PSU, 1),
                     0);
    /* A write answers the record; the evaluation is a read's. */
    assert_null(obj_get(ans_result(f), "resilience"));
    assert_int_equal(cohort_get(f, "c1"), 0);
    r = ans_result(f);
    NEAR(obj_double(r, "resilience"), 1.0);
    assert_false(obj_bool(r, "spread_ok")); /* both behind psu-1 */
    assert_int_equal(obj_u64(r, "running"), 2);

    assert_int_equal(set_score(f, "psu-1", 0.9), 0);
    assert_int_equal(cohort_get(f, "c1"), 0);
    r = ans_result(f);
    NEAR(obj_double(r, "resilience"), 0.1);
    weak = obj_get(r, "weakest");
    assert_non_null(weak);
    assert_int_equal(weak->via.array.size, 1);
    assert_obj_str(&weak->via.array.ptr[0], "resource", "psu-1");
    NEAR(obj_double(&weak->via.array.ptr[0], "gain"), 0.9);

    /* What if w2 ran on h3 (behind psu-2)? */
    assert_int_equal(store_cohort_evaluate(f->s, "c1", "w2", "h3", &e), 0);
    NEAR(e.resilience, 1.0);
    assert_true(e.spread_ok);
    assert_int_equal(e.n_running, 2);
    assert_int_equal(store_cohort_evaluate(f->s, "c1", NULL, NULL, &e), 0);
    NEAR(e.resilience, 0.1);
    assert_int_equal(store_cohort_evaluate(f->s, "zz", NULL, NULL, &e),
                     AUGUR_ENOTFOUND);

    /* It moves: the cohort recovers. */
    assert_int_equal(transfer(f, "w2", "h3", 1), 0);
    assert_int_equal(cohort_get(f, "c1"), 0);
    r = ans_result(f);
    NEAR(obj_double(r, "resilience"), 1.0);
    assert_true(obj_bool(r, "spread_ok"));

    /* A member on a failed host is down. */
    assert_int_equal(set_state(f, "h3", STORE_STATE_FAILED), 0);
    assert_int_equal(cohort_get(f, "c1"), 0);
    assert_int_equal(obj_u64(ans_result(f), "running"), 1);
    NEAR(obj_double(ans_result(f), "resilience"), 0.1);
}

static void host_domains_follow_labels_and_edges(void **state)
{
    struct fx *f = *state;
    char out[STORE_ID_SIZE];
    struct store_cmd c;

    fleet(f);
    assert_int_equal(add_resource(f, "pdu-1", "pdu", 0, 0), 0);
    assert_int_equal(add_resource(f, "sw-1", "switch", 0, 0), 0);
    assert_int_equal(add_edge(f, "h3", "pdu-1"), 0);
    cmd_edge(&c, STORE_OP_EDGE_ADD, "pdu-1", "psu-1", STORE_EDGE_POWER);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_edge(&c, STORE_OP_EDGE_ADD, "h1", "sw-1", STORE_EDGE_NETWORK);
    assert_int_equal(fx_apply(f, &c), 0);

    assert_int_equal(store_host_domain(f->s, "h1", STORE_SPREAD_HOST, out), 0);
    assert_string_equal(out, "h1");
    assert_int_equal(store_host_domain(f->s, "h1", STORE_SPREAD_RACK, out), 0);
    assert_string_equal(out, "r1");
    assert_int_equal(store_host_domain(f->s, "h2", STORE_SPREAD_RACK, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(store_host_domain(f->s, "h1", STORE_SPREAD_PSU, out), 0);
    assert_string_equal(out, "psu-1");
    assert_int_equal(store_host_domain(f->s, "h1", STORE_SPREAD_SWITCH, out),
                     0);
    assert_string_equal(out, "sw-1");
    assert_int_equal(store_host_domain(f->s, "h2", STORE_SPREAD_SWITCH, out),
                     0);
    assert_string_equal(out, "");
    /* The nearest PSU: h3 -> psu-2 (one edge), not h3 -> pdu-1 -> psu-1. */
    assert_int_equal(store_host_domain(f->s, "h3", STORE_SPREAD_PSU, out), 0);
    assert_string_equal(out, "psu-2");
    assert_int_equal(store_host_domain(f->s, "h1", STORE_SPREAD_NONE, out), 0);
    assert_string_equal(out, "");
}

struct seen
{
    unsigned n;
    char cohort[4][STORE_ID_SIZE];
    char host[4][STORE_ID_SIZE];
    bool claimed[4];
    int64_t manual[8];
    unsigned n_res;
};

static int workload_seen(void *arg, const struct store_workload_view *w)
{
    struct seen *s = arg;

    if (s->n < 4) {
        snprintf(s->cohort[s->n], STORE_ID_SIZE, "%s", w->cohort);
        snprintf(s->host[s->n], STORE_ID_SIZE, "%s", w->host);
        s->claimed[s->n] = w->claimed;
        assert_int_equal(w->strategy, 0);
    }
    s->n++;
    return 0;
}

static int cohort_seen(void *arg, const struct store_cohort *c)
{
    struct seen *s = arg;

    assert_string_equal(c->name, "c1");
    assert_int_equal(c->n_workloads, 2);
    assert_int_equal(c->spread, STORE_SPREAD_PSU);
    s->n++;
    return 0;
}

static int resource_seen(void *arg, const struct store_resource_view *r)
{
    struct seen *s = arg;

    if (s->n_res < 8) {
        s->manual[s->n_res] = r->manual_until_ms;
    }
    s->n_res++;
    return 0;
}

static void views_show_workloads_cohorts_and_resources(void **state)
{
    struct fx *f = *state;
    struct seen s;

    fleet(f);
    assert_int_equal(cohort_create(f, "c1", "w1", "w2", STORE_SPREAD_PSU, 1),
                     0);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_workloads_each(f->s, workload_seen, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.cohort[0], "c1");
    assert_string_equal(s.host[0], "h1");
    assert_true(s.claimed[1]);
    assert_string_equal(s.cohort[2], "");
    assert_false(s.claimed[2]);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_cohorts_each(f->s, cohort_seen, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(store_resources_each(f->s, resource_seen, &s), 0);
    assert_int_equal(s.n_res, 5);
}

/* ---- scores set by hand ----------------------------------------------- */

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void a_score_set_by_hand_holds_its_window(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    int64_t until = -1;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    /* The leader's own score: not by hand. */
    assert_int_equal(set_score(f, "h1", 0.2), 0);
    assert_int_equal(store_resource_manual_until(f->s, "h1", &until), 0);
    assert_int_equal(until, 0);
    assert_null(obj_get(ans_result(f), "manual_until"));

    /* An operator's, through a session. */
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_PRINCIPAL_ADD;
    snprintf(c.u.principal.name, STORE_ID_SIZE, "alice");
    snprintf(c.u.principal.key, STORE_KEY_HEX_SIZE, "%s", KEY_A);
    c.u.principal.role = STORE_ROLE_OPERATOR;
    assert_int_equal(fx_apply(f, &c), 0);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_OPEN;
    c.u.expire.ttl_ms = 60000;
    c.client = 9;
    c.has_principal = true;
    memset(c.principal, 0xaa, sizeof c.principal);
    c.time_ms = 1000000;
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_score(&c, "h1", 0.95);
    c.u.score.window_s = 600;
    c.client = 9;
    c.seq = 1;
    c.ack = 1;
    c.has_principal = true;
    memset(c.principal, 0xaa, sizeof c.principal);
    c.time_ms = 1000000;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(obj_u64(ans_result(f), "manual_until"), 1000000 + 600000);
    assert_int_equal(store_resource_manual_until(f->s, "h1", &until), 0);
    assert_int_equal(until, 1000000 + 600000);

    /* The leader's next score.set does not clear it. */
    assert_int_equal(set_score(f, "h1", 0.1), 0);
    assert_int_equal(store_resource_manual_until(f->s, "h1", &until), 0);
    assert_int_equal(until, 1000000 + 600000);
    assert_int_equal(get_resource(f, "h1"), 0);
    assert_int_equal(obj_u64(ans_result(f), "manual_until"), 1600000);
    assert_int_equal(store_resource_manual_until(f->s, "nope", &until),
                     AUGUR_ENOTFOUND);
}

/* ---- failed after unreachable ----------------------------------------- */

static int lease(struct fx *f, const char *id, int expect, int state_)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_RESOURCE_LEASE;
    snprintf(c.u.lease.id, STORE_ID_SIZE, "%s", id);
    c.u.lease.expect = expect;
    c.u.lease.state = state_;
    return fx_apply(f, &c);
}

static void a_lease_ends_failed_after_unreachable(void **state)
{
    struct fx *f = *state;
    bool leased;
    int st;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(lease(f, "h1", STORE_STATE_ACTIVE, STORE_STATE_ACTIVE), 0);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_ACTIVE, STORE_STATE_UNREACHABLE), 0);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_UNREACHABLE, STORE_STATE_FAILED), 0);
    assert_int_equal(store_resource_state(f->s, "h1", &st, &leased), 0);
    assert_int_equal(st, STORE_STATE_FAILED);
    assert_true(leased);
    /* A report afterwards (the restore ingest would propose) changes
     * nothing: it expects unreachable. */
    assert_int_equal(
        lease(f, "h1", STORE_STATE_UNREACHABLE, STORE_STATE_ACTIVE),
        AUGUR_ECONFLICT);
    assert_int_equal(store_resource_state(f->s, "h1", &st, &leased), 0);
    assert_int_equal(st, STORE_STATE_FAILED);
}

/* ---- snapshots refuse corrupt cohort and policy entries ---------------- */

/* A store holding @key -> @val in @db, below the store's own checks: its
 * snapshot must not restore. */
static void restore_refuses(const char *db,
                            const char *key,
                            const void *val,
                            size_t vlen)
{
    struct fx f;
    struct fx g;
    void *buf;
    size_t len;

    memset(&f, 0, sizeof f);
    memset(&g, 0, sizeof g);
    fx_open(&f);
    assert_int_equal(add_workload(&f, "w1", 1, 1), 0);
    fx_raw_put(&f, db, key, strlen(key), val, vlen);
    assert_int_equal(store_snapshot(f.s, malloc, &buf, &len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), AUGUR_EMALFORMED);
    fx_close(&g);
    fx_close(&f);
    free(buf);
}

static void snapshot_refuses_corrupt_cohort_tables(void **state)
{
    /* [1, 3, 0.9, ["w1"]]: min_available above the members. */
    static const unsigned char bad_cohort[] = {
        0x94, 0x01, 0x03, 0xcb, 0x3f, 0xec, 0xcc, 0xcc,
        0xcc, 0xcc, 0xcc, 0xcd, 0x91, 0xa2, 'w',  '1'};
    /* The same with min_available 1: it restores. */
    static const unsigned char good_cohort[] = {
        0x94, 0x01, 0x01, 0xcb, 0x3f, 0xec, 0xcc, 0xcc,
        0xcc, 0xcc, 0xcc, 0xcd, 0x91, 0xa2, 'w',  '1'};
    static const unsigned char half[] = {0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0};
    struct fx f;
    struct fx g;
    void *buf;
    size_t len;

    (void)state;
    restore_refuses("cohorts", "c9", bad_cohort, sizeof bad_cohort);
    restore_refuses("cohorts", "c9", "\xc0", 1);
    restore_refuses("cohort_of", "w1", "bad name!", 9);
    /* A key the policy does not have, and a known key of the wrong type. */
    restore_refuses("policy", "bogus", half, sizeof half);
    restore_refuses("policy", "max_attempts", half, sizeof half);

    memset(&f, 0, sizeof f);
    memset(&g, 0, sizeof g);
    fx_open(&f);
    fx_raw_put(&f, "cohorts", "c9", 2, good_cohort, sizeof good_cohort);
    fx_raw_put(&f, "policy", "hysteresis", 10, half, sizeof half);
    assert_int_equal(store_snapshot(f.s, malloc, &buf, &len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    fx_close(&g);
    fx_close(&f);
    free(buf);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(independent_members_multiply),
        cmocka_unit_test(two_replicas_behind_one_psu_are_less_resilient),
        cmocka_unit_test(shared_host_and_psu_by_hand),
        cmocka_unit_test(a_member_that_cannot_run_counts_as_down),
        cmocka_unit_test(host_own_part_removes_the_upstream_risk),
        cmocka_unit_test(shared_units_past_the_limit_are_folded_in),
        T(cohort_create_checks_its_workloads),
        T(cohort_add_remove_and_delete),
        T(resilience_drops_behind_a_shared_risky_psu),
        T(host_domains_follow_labels_and_edges),
        T(views_show_workloads_cohorts_and_resources),
        T(a_score_set_by_hand_holds_its_window),
        T(a_lease_ends_failed_after_unreachable),
        T(snapshot_refuses_corrupt_cohort_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
