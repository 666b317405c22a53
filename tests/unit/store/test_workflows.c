/* Unit tests of store/'s migration workflows: create (target, EBUSY, the
 * concurrency limit, approval), every strategy's steps, the compare-and-set
 * of advance, transfer fencing, rollback before and after the transfer,
 * cancel, approve, trimming, the codec and snapshots of the new tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

/* ---- builders --------------------------------------------------------- */

/* workflow.create for @workload; @to NULL: the store picks; @strategy -1:
 * the workload's.  @client: a client's (principal-less here, but with the
 * has_principal rules tested separately) or the cluster's own. */
static void cmd_create(struct store_cmd *c,
                       const char *workload,
                       const char *to,
                       int strategy)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_WORKFLOW_CREATE;
    snprintf(c->u.workflow.workload, sizeof c->u.workflow.workload, "%s",
             workload);
    if (to != NULL) {
        snprintf(c->u.workflow.to, sizeof c->u.workflow.to, "%s", to);
    }
    if (strategy >= 0) {
        c->u.workflow.has_strategy = true;
        c->u.workflow.strategy = strategy;
    }
}

static int create(struct fx *f, const char *workload, const char *to, int st)
{
    struct store_cmd c;
    cmd_create(&c, workload, to, st);
    return fx_apply(f, &c);
}

static int advance(struct fx *f,
                   uint64_t id,
                   uint64_t step,
                   uint64_t attempt,
                   int event,
                   const char *detail)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_WORKFLOW_ADVANCE;
    c.u.workflow.id = id;
    c.u.workflow.step = step;
    c.u.workflow.attempt = attempt;
    c.u.workflow.event = event;
    if (detail != NULL) {
        snprintf(c.u.workflow.detail, sizeof c.u.workflow.detail, "%s", detail);
    }
    return fx_apply(f, &c);
}

static int by_id(struct fx *f, enum store_op op, uint64_t id)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = op;
    c.u.workflow.id = id;
    return op == STORE_OP_WORKFLOW_GET ? fx_read(f, &c) : fx_apply(f, &c);
}

static int provision(struct fx *f, const char *workload, const char *host)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SHADOW_PROVISION;
    snprintf(c.u.shadow.workload, sizeof c.u.shadow.workload, "%s", workload);
    snprintf(c.u.shadow.host, sizeof c.u.shadow.host, "%s", host);
    return fx_apply(f, &c);
}

static uint64_t used_cpu(struct fx *f, const char *host)
{
    assert_int_equal(get_resource(f, host), 0);
    return obj_u64(obj_get(ans_result(f), "used"), "cpu");
}

/* The step @i of the last answer's workflow. */
static const msgpack_object *step_of(struct fx *f, unsigned i)
{
    const msgpack_object *steps = obj_get(ans_result(f), "steps");
    assert_non_null(steps);
    assert_true(i < steps->via.array.size);
    return &steps->via.array.ptr[i];
}

/* Assert the last answer's workflow has the steps named in @names. */
static void assert_steps(struct fx *f, const char *const *names, unsigned n)
{
    const msgpack_object *steps = obj_get(ans_result(f), "steps");

    assert_non_null(steps);
    assert_int_equal(steps->via.array.size, n);
    for (unsigned i = 0; i < n; i++) {
        assert_obj_str(&steps->via.array.ptr[i], "name", names[i]);
    }
}

/* Three hosts, w1 (2 cpu) on h1. */
static void fleet(struct fx *f)
{
    assert_int_equal(add_host(f, "h1", 8, 1024), 0);
    assert_int_equal(add_host(f, "h2", 8, 1024), 0);
    assert_int_equal(add_host(f, "h3", 8, 1024), 0);
    assert_int_equal(add_workload(f, "w1", 2, 100), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
}

/* Run every remaining step of workflow @id to ok, from step @from. */
static void run_to_end(struct fx *f, uint64_t id, unsigned from)
{
    for (;;) {
        const msgpack_object *state;
        const msgpack_object *name;
        char step_name[STORE_STEP_NAME_SIZE];
        uint64_t attempt;
        unsigned step;

        assert_int_equal(by_id(f, STORE_OP_WORKFLOW_GET, id), 0);
        state = obj_get(ans_result(f), "state");
        if (state->via.str.size != 7 ||
            (memcmp(state->via.str.ptr, "pending", 7) != 0 &&
             memcmp(state->via.str.ptr, "running", 7) != 0)) {
            return;
        }
        step = (unsigned)obj_u64(ans_result(f), "step");
        assert_true(step >= from);
        name = obj_get(step_of(f, step), "name");
        snprintf(step_name, sizeof step_name, "%.*s", (int)name->via.str.size,
                 name->via.str.ptr);
        attempt = obj_u64(step_of(f, step), "attempt");
        assert_int_equal(
            advance(f, id, step, attempt, STORE_WF_EVENT_START, NULL), 0);
        if (strcmp(step_name, "transfer") == 0 ||
            strcmp(step_name, "transfer_back") == 0) {
            continue; /* a store step: done at once */
        }
        assert_int_equal(
            advance(f, id, step, attempt, STORE_WF_EVENT_OK, "fine"), 0);
    }
}

/* ---- create ----------------------------------------------------------- */

static void workflow_create_records_a_pending_live_workflow(void **state)
{
    static const char *const live[] = {"prepare", "transfer", "activate",
                                       "release"};
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    f->time_ms = 1000;
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(obj_u64(ans_result(f), "id"), id);
    assert_obj_str(ans_result(f), "workload", "w1");
    assert_obj_str(ans_result(f), "from", "h1");
    assert_obj_str(ans_result(f), "to", "h2");
    assert_obj_str(ans_result(f), "strategy", "live");
    assert_obj_str(ans_result(f), "reason", "manual");
    assert_obj_str(ans_result(f), "state", "pending");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 1);
    assert_int_equal(obj_u64(ans_result(f), "created_at"), 1000);
    assert_steps(f, live, 4);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_GET, id), 0);
    assert_obj_str(ans_result(f), "state", "pending");
}

static void workflow_create_picks_a_target_other_than_the_current_host(
    void **state)
{
    struct fx *f = *state;

    fleet(f);
    assert_int_equal(create(f, "w1", NULL, -1), 0);
    assert_true(strncmp(obj_get(ans_result(f), "to")->via.str.ptr, "h1", 2) !=
                0);
}

static void workflow_create_refuses_bad_targets(void **state)
{
    struct fx *f = *state;
    uint64_t rev;

    fleet(f);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(add_workload(f, "big", 100, 1), 0);
    assert_int_equal(acquire(f, "big", NULL), AUGUR_ENOCAPACITY);
    rev = store_revision(f->s);
    assert_int_equal(create(f, "nope", "h2", -1), AUGUR_ENOTFOUND);
    assert_int_equal(create(f, "w2", "h2", -1), AUGUR_ENOTFOUND); /* no claim */
    assert_int_equal(create(f, "w1", "h1", -1), AUGUR_EINVAL);
    assert_int_equal(create(f, "w1", "h9", -1), AUGUR_ENOTFOUND);
    assert_int_equal(set_state(f, "h2", STORE_STATE_FAILED), 0);
    rev++;
    assert_int_equal(create(f, "w1", "h2", -1), AUGUR_EUNAVAILABLE);
    /* standby without a standby claim */
    assert_int_equal(create(f, "w1", "h3", STORE_STRATEGY_STANDBY),
                     AUGUR_EINVAL);
    assert_int_equal(create(f, "w1", NULL, STORE_STRATEGY_STANDBY),
                     AUGUR_ENOTFOUND);
    assert_int_equal(store_revision(f->s), rev);
}

static void workflow_create_refuses_a_second_workflow_with_the_first(
    void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(create(f, "w1", "h3", -1), AUGUR_EBUSY);
    assert_int_equal(obj_u64(ans_result(f), "id"), id);
    assert_obj_str(ans_result(f), "to", "h2");
    assert_int_equal(store_revision(f->s), id);
}

static void workflow_create_keeps_to_the_concurrency_limit(void **state)
{
    struct fx *f = *state;
    char name[16];
    struct store_cmd c;

    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(add_host(f, name, 100, 10000), 0);
    }
    for (int i = 0; i < 17; i++) {
        snprintf(name, sizeof name, "w%d", i);
        assert_int_equal(add_workload(f, name, 1, 1), 0);
        assert_int_equal(acquire(f, name, "h0"), 0);
    }
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof name, "w%d", i);
        assert_int_equal(create(f, name, "h1", -1), 0);
    }
    assert_int_equal(create(f, "w16", "h1", -1), AUGUR_EBUSY);
    /* A failover is exempt. */
    cmd_create(&c, "w16", "h1", -1);
    c.u.workflow.has_reason = true;
    c.u.workflow.reason = STORE_REASON_FAILED;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "reason", "failed");
}

static int set_policy(struct fx *f, const char *key, const char *value)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_SET;
    snprintf(c.u.policy.key, sizeof c.u.policy.key, "%s", key);
    snprintf(c.u.policy.value, sizeof c.u.policy.value, "%s", value);
    return fx_apply(f, &c);
}

/* The limits come from the replicated policy: max_concurrent, and
 * max_concurrent_cohort (1 by default) per cohort; failovers are exempt
 * from both. */
static void workflow_create_keeps_to_the_policy_limits(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(add_host(f, name, 100, 10000), 0);
    }
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        assert_int_equal(add_workload(f, name, 1, 1), 0);
        assert_int_equal(acquire(f, name, "h0"), 0);
    }
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_CREATE;
    snprintf(c.u.cohort.name, sizeof c.u.cohort.name, "web");
    c.u.cohort.n_workloads = 2;
    snprintf(c.u.cohort.workloads[0], STORE_ID_SIZE, "w0");
    snprintf(c.u.cohort.workloads[1], STORE_ID_SIZE, "w1");
    c.u.cohort.spread = STORE_SPREAD_HOST;
    c.u.cohort.min_resilience = 0.5;
    assert_int_equal(fx_apply(f, &c), 0);

    assert_int_equal(create(f, "w0", "h1", -1), 0);
    assert_int_equal(create(f, "w1", "h2", -1), AUGUR_EBUSY);
    cmd_create(&c, "w1", "h2", -1);
    c.u.workflow.has_reason = true;
    c.u.workflow.reason = STORE_REASON_FAILED;
    assert_int_equal(fx_apply(f, &c), 0);

    assert_int_equal(set_policy(f, "max_concurrent", "2"), 0);
    assert_int_equal(create(f, "w2", "h1", -1), 0);
    assert_int_equal(create(f, "w3", "h1", -1), AUGUR_EBUSY);
    assert_int_equal(set_policy(f, "max_concurrent", "3"), 0);
    assert_int_equal(create(f, "w3", "h1", -1), 0);
}

/* store_orch_version moves for what the orchestrator must look at, and
 * not for ordinary claim traffic on healthy hosts. */
static void orch_version_moves_only_for_what_the_orchestrator_acts_on(
    void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t v;

    v = store_orch_version(f->s);
    assert_int_equal(add_host(f, "h1", 100, 10000), 0);
    assert_int_equal(add_host(f, "h2", 100, 10000), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(store_orch_version(f->s), v);

    cmd_score(&c, "h2", 0.6);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_true(store_orch_version(f->s) > v);
    v = store_orch_version(f->s);
    /* A claim onto a host at risk (p >= provision_threshold) counts. */
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w2", "h2"), 0);
    assert_true(store_orch_version(f->s) > v);
    v = store_orch_version(f->s);
    /* A refused command changes nothing. */
    assert_int_equal(acquire(f, "w2", "h1"), AUGUR_ECONFLICT);
    assert_int_equal(store_orch_version(f->s), v);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    assert_true(store_orch_version(f->s) > v);
}

static void workflow_create_by_the_cluster_may_wait_for_approval(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t id;

    fleet(f);
    cmd_create(&c, "w1", "h2", -1);
    c.u.workflow.has_reason = true;
    c.u.workflow.reason = STORE_REASON_PREDICTED;
    c.u.workflow.hold = true;
    assert_int_equal(fx_apply(f, &c), 0);
    id = ans_rev(f);
    assert_obj_str(ans_result(f), "reason", "predicted");
    assert_false(obj_get(ans_result(f), "approved")->via.boolean);
    /* Not started before approval. */
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL),
                     AUGUR_ECONFLICT);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_APPROVE, id), 0);
    assert_true(obj_get(ans_result(f), "approved")->via.boolean);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_APPROVE, id), 0); /* again */
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
}

/* ---- strategies ------------------------------------------------------- */

static void workflow_live_runs_every_step_and_moves_the_claim(void **state)
{
    struct fx *f = *state;
    uint64_t id;
    int64_t ended;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    f->time_ms = 5000;
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_obj_str(ans_result(f), "state", "running");
    assert_obj_str(step_of(f, 0), "state", "running");
    assert_int_equal(obj_u64(step_of(f, 0), "started_at"), 5000);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, "prepared"), 0);
    assert_obj_str(step_of(f, 0), "detail", "prepared");
    assert_int_equal(obj_u64(ans_result(f), "step"), 1);
    /* The transfer runs inside the apply. */
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_obj_str(step_of(f, 1), "state", "done");
    assert_int_equal(obj_u64(ans_result(f), "cur_epoch"), 2);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h2");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 2);
    assert_int_equal(used_cpu(f, "h1"), 0);
    assert_int_equal(used_cpu(f, "h2"), 2);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_START, NULL), 0);
    f->time_ms = 9000;
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_obj_str(ans_result(f), "state", "done");
    /* It left the in-flight index: a new one may start. */
    assert_int_equal(store_workload_last_move(f->s, "w1", NULL, &ended), 0);
    assert_int_equal(ended, 9000);
    assert_int_equal(create(f, "w1", "h1", -1), 0);
}

static void workflow_blue_green_keeps_the_old_instance_warm(void **state)
{
    static const char *const bg[] = {"prepare", "transfer", "activate",
                                     "keep_warm", "release"};
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", STORE_STRATEGY_BLUE_GREEN), 0);
    id = ans_rev(f);
    assert_steps(f, bg, 5);
    run_to_end(f, id, 0);
    assert_obj_str(ans_result(f), "state", "done");
}

static void workflow_failover_has_no_prepare(void **state)
{
    static const char *const failed[] = {"transfer", "activate", "release"};
    static const char *const notified[] = {"notify", "prepare", "transfer",
                                           "activate", "release"};
    struct fx *f = *state;
    struct store_cmd c;

    fleet(f);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w2", "h1"), 0);
    cmd_create(&c, "w1", "h2", STORE_STRATEGY_BLUE_GREEN);
    c.u.workflow.has_reason = true;
    c.u.workflow.reason = STORE_REASON_FAILED;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_steps(f, failed, 3);
    cmd_create(&c, "w2", "h2", -1);
    c.u.workflow.notify = true;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_steps(f, notified, 5);
}

static void workflow_standby_consumes_the_standby_claim(void **state)
{
    static const char *const sb[] = {"transfer", "activate", "release"};
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(provision(f, "w1", "h3"), 0);
    assert_int_equal(used_cpu(f, "h3"), 2);
    assert_int_equal(create(f, "w1", NULL, STORE_STRATEGY_STANDBY), 0);
    id = ans_rev(f);
    assert_obj_str(ans_result(f), "to", "h3");
    assert_steps(f, sb, 3);
    run_to_end(f, id, 0);
    assert_obj_str(ans_result(f), "state", "done");
    /* The standby's charge became the claim's: charged once. */
    assert_int_equal(used_cpu(f, "h3"), 2);
    assert_int_equal(used_cpu(f, "h1"), 0);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h3");
    assert_int_equal(provision(f, "w1", "h1"), 0); /* h3's was consumed */
}

/* ---- compare-and-set -------------------------------------------------- */

static void workflow_advance_refuses_duplicates_and_stale_attempts(void **state)
{
    struct fx *f = *state;
    uint64_t id;
    uint64_t rev;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    rev = store_revision(f->s);
    /* A duplicate start. */
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL),
                     AUGUR_ECONFLICT);
    assert_int_equal(obj_u64(ans_result(f), "id"), id);
    /* The wrong step, an attempt not yet made. */
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL),
                     AUGUR_ECONFLICT);
    assert_int_equal(advance(f, id, 0, 2, STORE_WF_EVENT_OK, NULL),
                     AUGUR_ECONFLICT);
    assert_int_equal(store_revision(f->s), rev);
    /* A retry bumps the attempt; the old attempt's answer is stale. */
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_RETRY, "timeout"), 0);
    assert_int_equal(obj_u64(step_of(f, 0), "attempt"), 2);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL),
                     AUGUR_ECONFLICT);
    assert_int_equal(advance(f, id, 0, 2, STORE_WF_EVENT_OK, NULL), 0);
    /* A duplicate ok. */
    assert_int_equal(advance(f, id, 0, 2, STORE_WF_EVENT_OK, NULL),
                     AUGUR_ECONFLICT);
    assert_int_equal(advance(f, 999, 0, 1, STORE_WF_EVENT_OK, NULL),
                     AUGUR_ENOTFOUND);
}

static void workflow_advance_refuses_a_finished_workflow(void **state)
{
    struct fx *f = *state;
    uint64_t id;
    uint64_t rev;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    run_to_end(f, id, 0);
    rev = store_revision(f->s);
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_OK, NULL),
                     AUGUR_ECONFLICT);
    assert_obj_str(ans_result(f), "state", "done");
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), AUGUR_ECONFLICT);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_APPROVE, id), AUGUR_ECONFLICT);
    assert_int_equal(store_revision(f->s), rev);
}

static void workflow_retries_run_out_into_a_rollback(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_RETRY, NULL), 0);
    assert_int_equal(advance(f, id, 0, 2, STORE_WF_EVENT_RETRY, NULL), 0);
    assert_int_equal(advance(f, id, 0, 3, STORE_WF_EVENT_RETRY, NULL), 0);
    assert_obj_str(step_of(f, 0), "state", "failed");
    assert_obj_str(step_of(f, 4), "name", "undo_prepare");
}

/* ---- fencing and rollback --------------------------------------------- */

static void workflow_transfer_fails_when_the_claim_moved_under_it(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL), 0);
    /* Someone moved the claim meanwhile. */
    assert_int_equal(transfer(f, "w1", "h3", 1), 0);
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_obj_str(step_of(f, 1), "state", "failed");
    assert_true(obj_get(ans_result(f), "error")->via.str.size > 0);
    /* Before the transfer: undo the prepare, then rolled back. */
    assert_int_equal(obj_u64(ans_result(f), "step"), 4);
    assert_obj_str(step_of(f, 4), "name", "undo_prepare");
    assert_obj_str(step_of(f, 2), "state", "skipped");
    assert_int_equal(advance(f, id, 4, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 4, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_obj_str(ans_result(f), "state", "rolled_back");
    /* The claim stayed where the other mover put it. */
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h3");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 2);
}

static void workflow_rolls_back_before_the_transfer(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_FAIL, "no image"), 0);
    assert_obj_str(ans_result(f), "state", "running");
    assert_obj_str(step_of(f, 4), "name", "undo_prepare");
    run_to_end(f, id, 4);
    assert_obj_str(ans_result(f), "state", "rolled_back");
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h1");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 1);
}

static void workflow_rolls_back_after_the_transfer(void **state)
{
    static const char *const back[] = {
        "prepare",       "transfer",   "activate",     "release",
        "transfer_back", "reactivate", "undo_activate"};
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    run_to_end(f, id, 0);
    assert_int_equal(create(f, "w1", "h3", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_FAIL, "crashed"), 0);
    assert_steps(f, back, 7);
    assert_obj_str(step_of(f, 3), "state", "skipped");
    run_to_end(f, id, 4);
    assert_obj_str(ans_result(f), "state", "rolled_back");
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h2");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 4);
    assert_int_equal(used_cpu(f, "h3"), 0);
    assert_int_equal(used_cpu(f, "h2"), 2);
}

static void workflow_fails_after_the_transfer_when_the_old_host_is_gone(
    void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(set_state(f, "h1", STORE_STATE_FAILED), 0);
    /* activate fails, and there is no old host to go back to. */
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_FAIL, "down"), 0);
    assert_obj_str(ans_result(f), "state", "failed");
    assert_int_equal(obj_get(ans_result(f), "steps")->via.array.size, 4);
}

static void workflow_release_failing_after_the_transfer_is_a_skip(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_FAIL, "gone"), 0);
    assert_obj_str(step_of(f, 3), "state", "skipped");
    assert_obj_str(ans_result(f), "state", "done");
}

/* ---- cancel ----------------------------------------------------------- */

static void workflow_cancel_before_the_transfer_undoes_the_prepare(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), 0);
    assert_obj_str(ans_result(f), "state", "cancelled");
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), 0);
    assert_obj_str(ans_result(f), "state", "running");
    assert_obj_str(step_of(f, 4), "name", "undo_prepare");
    /* The prepare's late answer is stale now. */
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL),
                     AUGUR_ECONFLICT);
    run_to_end(f, id, 4);
    assert_obj_str(ans_result(f), "state", "cancelled");
}

static void workflow_cancel_after_the_transfer_is_refused(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(create(f, "w1", "h2", STORE_STRATEGY_LIVE), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_OK, NULL), 0);
    assert_int_equal(advance(f, id, 1, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), AUGUR_ECONFLICT);
    assert_non_null(strstr(ans_error(f), "migrate it back instead"));
}

/* ---- traffic steps (policy traffic=true) ------------------------------ */

/* With traffic on, each strategy gets its mirror and shift steps; a
 * failover gets none. */
static void workflow_traffic_steps_per_strategy(void **state)
{
    static const char *const live[] = {
        "prepare",  "mirror",    "shift_1",  "shift_5",  "shift_25",
        "shift_50", "shift_100", "transfer", "activate", "release"};
    static const char *const bg[] = {"prepare",  "mirror",   "shift_100",
                                     "transfer", "activate", "keep_warm",
                                     "release"};
    static const char *const sb[] = {"mirror",   "shift_50", "shift_100",
                                     "transfer", "activate", "release"};
    static const char *const failed[] = {"transfer", "activate", "release"};
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t id;

    fleet(f);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w2", "h1"), 0);
    assert_int_equal(add_workload(f, "w3", 1, 1), 0);
    assert_int_equal(acquire(f, "w3", "h1"), 0);
    assert_int_equal(add_workload(f, "w4", 1, 1), 0);
    assert_int_equal(acquire(f, "w4", "h1"), 0);
    assert_int_equal(set_policy(f, "traffic", "true"), 0);

    assert_int_equal(create(f, "w1", "h2", STORE_STRATEGY_LIVE), 0);
    id = ans_rev(f);
    assert_steps(f, live, 10);
    run_to_end(f, id, 0);
    assert_obj_str(ans_result(f), "state", "done");
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h2");

    assert_int_equal(create(f, "w2", "h2", STORE_STRATEGY_BLUE_GREEN), 0);
    id = ans_rev(f);
    assert_steps(f, bg, 7);
    run_to_end(f, id, 0);
    assert_obj_str(ans_result(f), "state", "done");

    /* The steps follow shift_steps as it is when the workflow is made. */
    assert_int_equal(set_policy(f, "shift_steps", "50,100"), 0);
    assert_int_equal(provision(f, "w3", "h3"), 0);
    assert_int_equal(create(f, "w3", NULL, STORE_STRATEGY_STANDBY), 0);
    id = ans_rev(f);
    assert_obj_str(ans_result(f), "to", "h3");
    assert_steps(f, sb, 6);
    run_to_end(f, id, 0);
    assert_obj_str(ans_result(f), "state", "done");

    cmd_create(&c, "w4", "h2", STORE_STRATEGY_LIVE);
    c.u.workflow.has_reason = true;
    c.u.workflow.reason = STORE_REASON_FAILED;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_steps(f, failed, 3);
}

/* A shift failing rolls back through unshift then undo_prepare, and the
 * workflow ends rolled_back with the KPI verdict as its error. */
static void workflow_traffic_rolls_back_from_a_shift(void **state)
{
    static const char *const back[] = {"prepare",   "mirror",   "shift_1",
                                       "shift_5",   "shift_25", "shift_50",
                                       "shift_100", "transfer", "activate",
                                       "release",   "unshift",  "undo_prepare"};
    static const char *const verdict =
        "error_rate 0.120 > 0.010 (old 0.000, 200 requests)";
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(set_policy(f, "traffic", "true"), 0);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    for (unsigned i = 0; i < 3; i++) { /* prepare, mirror, shift_1 */
        assert_int_equal(advance(f, id, i, 1, STORE_WF_EVENT_START, NULL), 0);
        assert_int_equal(advance(f, id, i, 1, STORE_WF_EVENT_OK, NULL), 0);
    }
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 3, 1, STORE_WF_EVENT_FAIL, verdict), 0);
    assert_obj_str(ans_result(f), "state", "running");
    assert_steps(f, back, 12);
    assert_int_equal(obj_u64(ans_result(f), "step"), 10);
    assert_obj_str(step_of(f, 3), "state", "failed");
    assert_obj_str(step_of(f, 3), "detail", verdict);
    assert_obj_str(step_of(f, 4), "state", "skipped");
    assert_obj_str(step_of(f, 9), "state", "skipped");
    run_to_end(f, id, 10);
    assert_obj_str(ans_result(f), "state", "rolled_back");
    assert_obj_str(ans_result(f), "error", verdict);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h1");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 1);
}

/* A mirror failing on a standby (no prepare) appends only unshift; a
 * prepare failing before the mirror started appends no unshift. */
static void workflow_traffic_rollback_undoes_only_what_ran(void **state)
{
    static const char *const sb[] = {
        "mirror",    "shift_1",  "shift_5",  "shift_25", "shift_50",
        "shift_100", "transfer", "activate", "release",  "unshift"};
    static const char *const live[] = {"prepare",   "mirror",      "shift_1",
                                       "shift_5",   "shift_25",    "shift_50",
                                       "shift_100", "transfer",    "activate",
                                       "release",   "undo_prepare"};
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(set_policy(f, "traffic", "true"), 0);
    assert_int_equal(provision(f, "w1", "h3"), 0);
    assert_int_equal(create(f, "w1", "h3", STORE_STRATEGY_STANDBY), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(
        advance(f, id, 0, 1, STORE_WF_EVENT_FAIL, "mirror: 3 of 40 differ"), 0);
    assert_steps(f, sb, 10);
    run_to_end(f, id, 9);
    assert_obj_str(ans_result(f), "state", "rolled_back");
    assert_obj_str(ans_result(f), "error", "mirror: 3 of 40 differ");

    assert_int_equal(create(f, "w1", "h2", STORE_STRATEGY_LIVE), 0);
    id = ans_rev(f);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 0, 1, STORE_WF_EVENT_FAIL, "no image"), 0);
    assert_steps(f, live, 11);
    run_to_end(f, id, 10);
    assert_obj_str(ans_result(f), "state", "rolled_back");
    assert_obj_str(ans_result(f), "error", "step prepare failed: no image");
}

/* A cancel during a shift restores the weights and undoes the prepare. */
static void workflow_traffic_cancel_during_a_shift_unshifts(void **state)
{
    struct fx *f = *state;
    uint64_t id;

    fleet(f);
    assert_int_equal(set_policy(f, "traffic", "true"), 0);
    assert_int_equal(set_policy(f, "shift_steps", "50,100"), 0);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    for (unsigned i = 0; i < 2; i++) { /* prepare, mirror */
        assert_int_equal(advance(f, id, i, 1, STORE_WF_EVENT_START, NULL), 0);
        assert_int_equal(advance(f, id, i, 1, STORE_WF_EVENT_OK, NULL), 0);
    }
    assert_int_equal(advance(f, id, 2, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), 0);
    assert_obj_str(ans_result(f), "state", "running");
    assert_obj_str(step_of(f, 7), "name", "unshift");
    assert_obj_str(step_of(f, 8), "name", "undo_prepare");
    run_to_end(f, id, 7);
    assert_obj_str(ans_result(f), "state", "cancelled");
}

/* The longest workflow (notify, 16 shifts, a rollback after the transfer)
 * fits, and survives a snapshot. */
static void workflow_traffic_longest_fits_and_snapshots(void **state)
{
    struct fx *f = *state;
    struct store_workflow w;
    unsigned char d1[32];
    unsigned char d2[32];
    struct store_cmd c;
    struct fx g;
    void *buf;
    size_t len;
    uint64_t id;
    unsigned i;

    fleet(f);
    assert_int_equal(set_policy(f, "traffic", "true"), 0);
    assert_int_equal(
        set_policy(f, "shift_steps", "1,2,3,4,5,6,7,8,9,10,20,30,40,50,60,100"),
        0);
    cmd_create(&c, "w1", "h2", STORE_STRATEGY_BLUE_GREEN);
    c.u.workflow.notify = true;
    assert_int_equal(fx_apply(f, &c), 0);
    id = ans_rev(f);
    /* blue-green shifts all at once whatever the list */
    assert_int_equal(store_workflow_load(f->s, id, &w), 0);
    assert_int_equal(w.n_steps, 8);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), 0);

    cmd_create(&c, "w1", "h2", STORE_STRATEGY_LIVE);
    c.u.workflow.notify = true;
    assert_int_equal(fx_apply(f, &c), 0);
    id = ans_rev(f);
    assert_int_equal(store_workflow_load(f->s, id, &w), 0);
    assert_int_equal(w.n_steps, 22);
    assert_string_equal(w.steps[18].name, "shift_100");
    /* Every step through the transfer, then the activate fails: the
     * rollback runs after the transfer, the longest there is. */
    for (i = 0; i < 19; i++) {
        assert_int_equal(advance(f, id, i, 1, STORE_WF_EVENT_START, NULL), 0);
        assert_int_equal(advance(f, id, i, 1, STORE_WF_EVENT_OK, NULL), 0);
    }
    assert_int_equal(advance(f, id, 19, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 20, 1, STORE_WF_EVENT_START, NULL), 0);
    assert_int_equal(advance(f, id, 20, 1, STORE_WF_EVENT_FAIL, "crash"), 0);
    assert_int_equal(store_workflow_load(f->s, id, &w), 0);
    assert_int_equal(w.n_steps, 25);
    assert_string_equal(w.steps[24].name, "undo_activate");

    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_digest(f->s, d1), 0);
    assert_int_equal(store_digest(g.s, d2), 0);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(store_workflow_load(g.s, id, &w), 0);
    assert_int_equal(w.n_steps, 25);
    assert_string_equal(w.steps[2].name, "mirror");
    fx_close(&g);
    free(buf);
    run_to_end(f, id, 22);
    assert_obj_str(ans_result(f), "state", "rolled_back");
}

/* ---- list, trim, snapshot --------------------------------------------- */

static void workflow_list_filters_and_pages(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t first;

    fleet(f);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w2", "h1"), 0);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    first = ans_rev(f);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, first), 0);
    assert_int_equal(create(f, "w2", "h2", -1), 0);
    cmd_list(&c, STORE_OP_WORKFLOW_LIST, NULL, NULL, 1);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 1);
    assert_false(obj_is_nil(ans_result(f), "next"));
    cmd_list(&c, STORE_OP_WORKFLOW_LIST, NULL, "active", 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 1);
    assert_obj_str(&obj_get(ans_result(f), "items")->via.array.ptr[0],
                   "workload", "w2");
}

static void workflow_trim_keeps_the_newest_finished(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t first = 0;
    uint64_t id = 0;

    fleet(f);
    for (int i = 0; i < STORE_WORKFLOWS_KEPT + 1; i++) {
        assert_int_equal(create(f, "w1", "h2", -1), 0);
        id = ans_rev(f);
        if (first == 0) {
            first = id;
        }
        assert_int_equal(by_id(f, STORE_OP_WORKFLOW_CANCEL, id), 0);
    }
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_GET, first), AUGUR_ENOTFOUND);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_GET, first + 2), 0);
    assert_int_equal(by_id(f, STORE_OP_WORKFLOW_GET, id), 0);
    (void)c;
}

static int count_each(void *arg, const struct store_workflow *w)
{
    (void)w;
    (*(int *)arg)++;
    return 0;
}

static void workflow_views_and_snapshot_round_trip(void **state)
{
    struct fx *f = *state;
    unsigned char d1[32];
    unsigned char d2[32];
    struct store_workflow w;
    struct fx g;
    void *buf;
    size_t len;
    int n = 0;
    uint64_t id;

    fleet(f);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w2", "h1"), 0);
    assert_int_equal(provision(f, "w2", "h3"), 0);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    id = ans_rev(f);
    run_to_end(f, id, 0);
    assert_int_equal(create(f, "w1", "h3", -1), 0);
    id = ans_rev(f);
    assert_int_equal(store_workflows_each(f->s, true, count_each, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_workflows_each(f->s, false, count_each, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_workflow_load(f->s, id, &w), 0);
    assert_string_equal(w.to, "h3");
    assert_int_equal(w.n_steps, 4);

    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_digest(f->s, d1), 0);
    assert_int_equal(store_digest(g.s, d2), 0);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(store_workflow_load(g.s, id, &w), 0);
    assert_string_equal(w.workload, "w1");
    fx_close(&g);
    free(buf);
}

/* A snapshot holding a corrupt entry of any of the new tables is refused,
 * and the state it was to replace stays. */
static void restore_refuses_corrupt_workflow_and_standby_entries(void **state)
{
    static const unsigned char id1[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char zero[8] = {0};
    static const unsigned char nil = 0xc0;
    static const unsigned char str1[2] = {0xa1, 'x'};
    static const struct
    {
        const char *db;
        const void *key;
        size_t klen;
        const void *val;
        size_t vlen;
    } bad[] = {
        {"workflows", id1, 8, &nil, 1},         /* not a record */
        {"workflows", "w1", 2, &nil, 1},        /* not an id key */
        {"workflow_of", "w1", 2, zero, 8},      /* workflow 0 */
        {"workflow_of", "w1", 2, zero, 4},      /* short */
        {"workload_moves", "w1", 2, &nil, 1},   /* not [id, time] */
        {"standby", "w1\0h2", 5, str1, 2},      /* not a record */
        {"host_standby", "h2\0w1", 5, str1, 2}, /* not an epoch */
        {"host_standby", "h2", 2, zero, 1},     /* not a pair */
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fx *f = *state;
        unsigned char before[32];
        unsigned char after[32];
        struct fx g;
        void *buf;
        size_t len;

        fx_raw_put(f, bad[i].db, bad[i].key, bad[i].klen, bad[i].val,
                   bad[i].vlen);
        assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
        fx_open(&g);
        assert_int_equal(add_host(&g, "keep", 1, 1), 0);
        assert_int_equal(store_digest(g.s, before), 0);
        assert_int_equal(store_restore(g.s, buf, len), AUGUR_EMALFORMED);
        assert_int_equal(store_digest(g.s, after), 0);
        assert_memory_equal(before, after, 32);
        fx_close(&g);
        free(buf);
        /* Start the next case from a clean store. */
        fx_close(f);
        fx_open(f);
    }
}

/* ---- codec ------------------------------------------------------------ */

static void workflow_commands_round_trip_through_the_codec(void **state)
{
    struct store_cmd c;
    struct store_cmd back;
    char errmsg[STORE_ERRMSG_SIZE];
    msgpack_sbuffer sb;

    (void)state;
    cmd_create(&c, "w1", "h2", STORE_STRATEGY_BLUE_GREEN);
    c.u.workflow.has_reason = true;
    c.u.workflow.reason = STORE_REASON_REBALANCE;
    c.u.workflow.notify = true;
    c.u.workflow.hold = true;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_true(back.u.workflow.has_strategy);
    assert_int_equal(back.u.workflow.strategy, STORE_STRATEGY_BLUE_GREEN);
    assert_int_equal(back.u.workflow.reason, STORE_REASON_REBALANCE);
    assert_true(back.u.workflow.notify);
    assert_true(back.u.workflow.hold);
    assert_string_equal(back.u.workflow.to, "h2");

    /* Left out: the workload's strategy, manual, approved. */
    sb.size = 0;
    cmd_create(&c, "w1", NULL, -1);
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_false(back.u.workflow.has_strategy);
    assert_false(back.u.workflow.has_reason);
    assert_false(back.u.workflow.hold);

    sb.size = 0;
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_WORKFLOW_ADVANCE;
    c.u.workflow.id = 7;
    c.u.workflow.step = 2;
    c.u.workflow.attempt = 1;
    c.u.workflow.event = STORE_WF_EVENT_FAIL;
    snprintf(c.u.workflow.detail, sizeof c.u.workflow.detail, "exit 3");
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_int_equal(back.u.workflow.event, STORE_WF_EVENT_FAIL);
    assert_string_equal(back.u.workflow.detail, "exit 3");
    /* A detail over 120 bytes is refused. */
    memset(c.u.workflow.detail, 'x', sizeof c.u.workflow.detail);
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_ETOOBIG);

    sb.size = 0;
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SHADOW_UPDATE;
    snprintf(c.u.shadow.workload, sizeof c.u.shadow.workload, "w1");
    snprintf(c.u.shadow.host, sizeof c.u.shadow.host, "h2");
    c.u.shadow.epoch = 3;
    c.u.shadow.state = STORE_SHADOW_WARM;
    c.u.shadow.lag_ms = 12;
    snprintf(c.u.shadow.drift, sizeof c.u.shadow.drift, "config v2");
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_int_equal(back.u.shadow.state, STORE_SHADOW_WARM);
    assert_int_equal(back.u.shadow.lag_ms, 12);
    assert_string_equal(back.u.shadow.drift, "config v2");

    sb.size = 0;
    cmd_workload_add(&c, "w9", 1, 1);
    c.u.workload_add.strategy = STORE_STRATEGY_STANDBY;
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_int_equal(back.u.workload_add.strategy, STORE_STRATEGY_STANDBY);
    msgpack_sbuffer_destroy(&sb);
}

static void workload_strategy_is_stored_and_shown(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    cmd_workload_add(&c, "w1", 1, 1);
    c.u.workload_add.strategy = STORE_STRATEGY_BLUE_GREEN;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "strategy", "blue-green");
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_obj_str(ans_result(f), "strategy", "live");
    cmd_get(&c, STORE_OP_WORKLOAD_GET, "w1");
    assert_int_equal(fx_read(f, &c), 0);
    assert_obj_str(ans_result(f), "strategy", "blue-green");
    assert_int_equal(add_host(f, "h1", 8, 8), 0);
    assert_int_equal(add_host(f, "h2", 8, 8), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(create(f, "w1", "h2", -1), 0);
    assert_obj_str(ans_result(f), "strategy", "blue-green");
}

/* A workload record of before strategies (four fields) reads as live and
 * is written back the same; a fifth field naming live is not a record the
 * store writes, so a snapshot holding one is refused. */
static void workload_records_of_before_strategies_read_as_live(void **state)
{
    static const unsigned char old[] = {0x94, 0x02, 0x03, 0x00, 0x00};
    static const unsigned char live5[] = {0x95, 0x02, 0x03, 0x00, 0x00, 0x00};
    struct fx *f = *state;
    unsigned char d1[32];
    unsigned char d2[32];
    struct store_cmd c;
    struct fx g;
    void *buf;
    size_t len;

    fx_raw_put(f, "workloads", "w1", 2, old, sizeof old);
    cmd_get(&c, STORE_OP_WORKLOAD_GET, "w1");
    assert_int_equal(fx_read(f, &c), 0);
    assert_obj_str(ans_result(f), "strategy", "live");
    assert_int_equal(obj_u64(obj_get(ans_result(f), "demand"), "cpu"), 2);
    /* workload.add of a live workload writes those very bytes: putting
     * them over its record changes no digest. */
    fx_open(&g);
    assert_int_equal(add_workload(&g, "w1", 2, 3), 0);
    assert_int_equal(store_digest(g.s, d1), 0);
    fx_raw_put(&g, "workloads", "w1", 2, old, sizeof old);
    assert_int_equal(store_digest(g.s, d2), 0);
    assert_memory_equal(d1, d2, 32);
    fx_close(&g);

    fx_raw_put(f, "workloads", "w2", 2, live5, sizeof live5);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), AUGUR_EMALFORMED);
    fx_close(&g);
    free(buf);
}

static void claim_acquire_takes_a_standby_over(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    fleet(f);
    assert_int_equal(provision(f, "w1", "h2"), 0);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_int_equal(release(f, "w1", 1), 0);
    assert_int_equal(used_cpu(f, "h2"), 2);
    assert_int_equal(acquire(f, "w1", "h2"), 0);
    assert_int_equal(used_cpu(f, "h2"), 2);
    cmd_list(&c, STORE_OP_SHADOW_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(workflow_create_records_a_pending_live_workflow),
        T(workflow_create_picks_a_target_other_than_the_current_host),
        T(workflow_create_refuses_bad_targets),
        T(workflow_create_refuses_a_second_workflow_with_the_first),
        T(workflow_create_keeps_to_the_concurrency_limit),
        T(workflow_create_keeps_to_the_policy_limits),
        T(orch_version_moves_only_for_what_the_orchestrator_acts_on),
        T(workflow_create_by_the_cluster_may_wait_for_approval),
        T(workflow_live_runs_every_step_and_moves_the_claim),
        T(workflow_blue_green_keeps_the_old_instance_warm),
        T(workflow_failover_has_no_prepare),
        T(workflow_standby_consumes_the_standby_claim),
        T(workflow_advance_refuses_duplicates_and_stale_attempts),
        T(workflow_advance_refuses_a_finished_workflow),
        T(workflow_retries_run_out_into_a_rollback),
        T(workflow_transfer_fails_when_the_claim_moved_under_it),
        T(workflow_rolls_back_before_the_transfer),
        T(workflow_rolls_back_after_the_transfer),
        T(workflow_fails_after_the_transfer_when_the_old_host_is_gone),
        T(workflow_release_failing_after_the_transfer_is_a_skip),
        T(workflow_cancel_before_the_transfer_undoes_the_prepare),
        T(workflow_cancel_after_the_transfer_is_refused),
        T(workflow_traffic_steps_per_strategy),
        T(workflow_traffic_rolls_back_from_a_shift),
        T(workflow_traffic_rollback_undoes_only_what_ran),
        T(workflow_traffic_cancel_during_a_shift_unshifts),
        T(workflow_traffic_longest_fits_and_snapshots),
        T(workflow_list_filters_and_pages),
        T(workflow_trim_keeps_the_newest_finished),
        T(workflow_views_and_snapshot_round_trip),
        T(restore_refuses_corrupt_workflow_and_standby_entries),
        T(workflow_commands_round_trip_through_the_codec),
        T(workload_strategy_is_stored_and_shown),
        T(workload_records_of_before_strategies_read_as_live),
        T(claim_acquire_takes_a_standby_over),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
