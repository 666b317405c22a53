/* Unit tests of store/'s standby claims: provision (where, how often, the
 * shadow budget), update and release under their epoch, capacity
 * accounting, and how claim reads show them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

static void cmd_shadow(struct store_cmd *c,
                       enum store_op op,
                       const char *workload,
                       const char *host,
                       uint64_t epoch)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    snprintf(c->u.shadow.workload, sizeof c->u.shadow.workload, "%s", workload);
    snprintf(c->u.shadow.host, sizeof c->u.shadow.host, "%s", host);
    c->u.shadow.epoch = epoch;
}

static int provision(struct fx *f, const char *workload, const char *host)
{
    struct store_cmd c;
    cmd_shadow(&c, STORE_OP_SHADOW_PROVISION, workload, host, 0);
    return fx_apply(f, &c);
}

static int update(struct fx *f,
                  const char *workload,
                  const char *host,
                  uint64_t epoch,
                  int st,
                  uint64_t lag)
{
    struct store_cmd c;
    cmd_shadow(&c, STORE_OP_SHADOW_UPDATE, workload, host, epoch);
    c.u.shadow.state = st;
    c.u.shadow.lag_ms = lag;
    return fx_apply(f, &c);
}

static int release_standby(struct fx *f,
                           const char *workload,
                           const char *host,
                           uint64_t epoch)
{
    struct store_cmd c;
    cmd_shadow(&c, STORE_OP_SHADOW_RELEASE, workload, host, epoch);
    return fx_apply(f, &c);
}

static uint64_t used_cpu(struct fx *f, const char *host)
{
    assert_int_equal(get_resource(f, host), 0);
    return obj_u64(obj_get(ans_result(f), "used"), "cpu");
}

static const msgpack_object *shadows(struct fx *f)
{
    struct store_cmd c;
    cmd_list(&c, STORE_OP_SHADOW_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    return obj_get(ans_result(f), "items");
}

static void fleet(struct fx *f)
{
    assert_int_equal(add_host(f, "h1", 100, 100000), 0);
    assert_int_equal(add_host(f, "h2", 100, 100000), 0);
    assert_int_equal(add_host(f, "h3", 100, 100000), 0);
    assert_int_equal(add_workload(f, "w1", 4, 1000), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
}

static void shadow_provision_charges_the_host_at_the_claim_epoch(void **state)
{
    struct fx *f = *state;
    const msgpack_object *items;

    fleet(f);
    f->time_ms = 777;
    assert_int_equal(provision(f, "w1", "h2"), 0);
    assert_obj_str(ans_result(f), "state", "provisioning");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 1);
    assert_int_equal(used_cpu(f, "h2"), 4);
    items = shadows(f);
    assert_int_equal(items->via.array.size, 1);
    assert_obj_str(&items->via.array.ptr[0], "workload", "w1");
    assert_obj_str(&items->via.array.ptr[0], "host", "h2");
    assert_int_equal(obj_u64(&items->via.array.ptr[0], "created_at"), 777);
    assert_int_equal(
        obj_u64(obj_get(&items->via.array.ptr[0], "demand"), "cpu"), 4);
}

static void shadow_provision_refuses_what_it_may_not_hold(void **state)
{
    struct fx *f = *state;
    uint64_t rev;

    fleet(f);
    assert_int_equal(add_workload(f, "idle", 1, 1), 0);
    assert_int_equal(add_resource(f, "psu1", "psu", 10, 10), 0);
    assert_int_equal(provision(f, "w1", "h2"), 0);
    rev = store_revision(f->s);
    assert_int_equal(provision(f, "w1", "h2"), AUGUR_EEXIST); /* twice */
    assert_int_equal(provision(f, "w1", "h1"), AUGUR_EINVAL); /* active */
    assert_int_equal(provision(f, "idle", "h2"), AUGUR_ENOTFOUND);
    assert_int_equal(provision(f, "nope", "h2"), AUGUR_ENOTFOUND);
    assert_int_equal(provision(f, "w1", "h9"), AUGUR_ENOTFOUND);
    assert_int_equal(provision(f, "w1", "psu1"), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), rev);
}

static void shadow_provision_keeps_to_the_budget(void **state)
{
    struct fx *f = *state;
    char name[16];
    uint64_t rev;

    assert_int_equal(add_host(f, "h1", 1000, 1000000), 0);
    assert_int_equal(add_host(f, "h2", 1000, 1000000), 0);
    /* 64 cpu: four standbys of 16, then no more. */
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "w%d", i);
        assert_int_equal(add_workload(f, name, 16, 10), 0);
        assert_int_equal(acquire(f, name, "h1"), 0);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "w%d", i);
        assert_int_equal(provision(f, name, "h2"), 0);
    }
    rev = store_revision(f->s);
    assert_int_equal(provision(f, "w4", "h2"), AUGUR_ENOCAPACITY);
    assert_non_null(strstr(ans_error(f), "shadow budget"));
    assert_int_equal(store_revision(f->s), rev);
    /* Releasing one makes room. */
    assert_int_equal(release_standby(f, "w0", "h2", 1), 0);
    assert_int_equal(provision(f, "w4", "h2"), 0);
}

static void shadow_update_and_release_are_fenced_by_the_epoch(void **state)
{
    struct fx *f = *state;
    const msgpack_object *items;
    uint64_t rev;

    fleet(f);
    assert_int_equal(provision(f, "w1", "h2"), 0);
    rev = store_revision(f->s);
    assert_int_equal(update(f, "w1", "h2", 9, STORE_SHADOW_WARM, 5),
                     AUGUR_ECONFLICT);
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 1);
    assert_int_equal(release_standby(f, "w1", "h2", 9), AUGUR_ECONFLICT);
    assert_int_equal(update(f, "w1", "h3", 1, STORE_SHADOW_WARM, 5),
                     AUGUR_ENOTFOUND);
    assert_int_equal(store_revision(f->s), rev);
    assert_int_equal(update(f, "w1", "h2", 1, STORE_SHADOW_WARM, 5), 0);
    items = shadows(f);
    assert_obj_str(&items->via.array.ptr[0], "state", "warm");
    assert_int_equal(obj_u64(&items->via.array.ptr[0], "lag_ms"), 5);
    assert_int_equal(release_standby(f, "w1", "h2", 1), 0);
    assert_obj_str(ans_result(f), "state", "released");
    assert_int_equal(used_cpu(f, "h2"), 0);
    assert_int_equal(shadows(f)->via.array.size, 0);
}

static void claim_list_of_a_host_shows_both_kinds(void **state)
{
    struct fx *f = *state;
    const msgpack_object *items;
    struct store_cmd c;

    fleet(f);
    assert_int_equal(add_workload(f, "w0", 1, 1), 0);
    assert_int_equal(acquire(f, "w0", "h2"), 0);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w2", "h2"), 0);
    assert_int_equal(provision(f, "w1", "h2"), 0);
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, "h2", 0);
    assert_int_equal(fx_read(f, &c), 0);
    items = obj_get(ans_result(f), "items");
    assert_int_equal(items->via.array.size, 3);
    assert_obj_str(&items->via.array.ptr[0], "workload", "w0");
    assert_obj_str(&items->via.array.ptr[0], "kind", "active");
    assert_obj_str(&items->via.array.ptr[1], "workload", "w1");
    assert_obj_str(&items->via.array.ptr[1], "kind", "standby");
    assert_obj_str(&items->via.array.ptr[2], "workload", "w2");
    /* Paged one at a time, the same three. */
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, "h2", 1);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 1);
    cmd_list(&c, STORE_OP_CLAIM_LIST, "w0", "h2", 1);
    assert_int_equal(fx_read(f, &c), 0);
    assert_obj_str(&obj_get(ans_result(f), "items")->via.array.ptr[0], "kind",
                   "standby");
    cmd_list(&c, STORE_OP_CLAIM_LIST, "w1", "h2", 1);
    assert_int_equal(fx_read(f, &c), 0);
    assert_obj_str(&obj_get(ans_result(f), "items")->via.array.ptr[0],
                   "workload", "w2");
    assert_true(obj_is_nil(ans_result(f), "next"));
}

static void a_transfer_to_the_standby_host_takes_its_charge_over(void **state)
{
    struct fx *f = *state;

    fleet(f);
    assert_int_equal(provision(f, "w1", "h2"), 0);
    assert_int_equal(transfer(f, "w1", "h2", 1), 0);
    assert_int_equal(used_cpu(f, "h2"), 4);
    assert_int_equal(used_cpu(f, "h1"), 0);
    assert_int_equal(shadows(f)->via.array.size, 0);
}

static int count_each(void *arg, const struct store_standby *b)
{
    (void)b;
    (*(int *)arg)++;
    return 0;
}

static void standbys_survive_a_snapshot(void **state)
{
    struct fx *f = *state;
    unsigned char d1[32];
    unsigned char d2[32];
    struct fx g;
    void *buf;
    size_t len;
    int n = 0;

    fleet(f);
    assert_int_equal(provision(f, "w1", "h2"), 0);
    assert_int_equal(provision(f, "w1", "h3"), 0);
    assert_int_equal(store_standbys_each(f->s, count_each, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_digest(f->s, d1), 0);
    assert_int_equal(store_digest(g.s, d2), 0);
    assert_memory_equal(d1, d2, 32);
    n = 0;
    assert_int_equal(store_standbys_each(g.s, count_each, &n), 0);
    assert_int_equal(n, 2);
    fx_close(&g);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(shadow_provision_charges_the_host_at_the_claim_epoch),
        T(shadow_provision_refuses_what_it_may_not_hold),
        T(shadow_provision_keeps_to_the_budget),
        T(shadow_update_and_release_are_fenced_by_the_epoch),
        T(claim_list_of_a_host_shows_both_kinds),
        T(a_transfer_to_the_standby_host_takes_its_charge_over),
        T(standbys_survive_a_snapshot),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
