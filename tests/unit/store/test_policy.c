/* Unit tests of the replicated policy (store/policy.c): defaults, every
 * key's checks, the checks across keys, policy.get and the accessors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

static int policy_set(struct fx *f, const char *key, const char *value)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_SET;
    snprintf(c.u.policy.key, sizeof c.u.policy.key, "%s", key);
    snprintf(c.u.policy.value, sizeof c.u.policy.value, "%s", value);
    return fx_apply(f, &c);
}

/* The item of policy.get's answer for @key. */
static const msgpack_object *policy_item(struct fx *f, const char *key)
{
    struct store_cmd c;
    const msgpack_object *keys;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_GET;
    assert_int_equal(fx_read(f, &c), 0);
    keys = obj_get(ans_result(f), "keys");
    assert_non_null(keys);
    assert_int_equal(keys->via.array.size, 23);
    for (uint32_t i = 0; i < keys->via.array.size; i++) {
        const msgpack_object *k = obj_get(&keys->via.array.ptr[i], "key");
        if (k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0) {
            return &keys->via.array.ptr[i];
        }
    }
    fail_msg("policy.get has no key %s", key);
    return NULL;
}

static bool item_default(struct fx *f, const char *key)
{
    const msgpack_object *d = obj_get(policy_item(f, key), "default");

    assert_int_equal(d->type, MSGPACK_OBJECT_BOOLEAN);
    return d->via.boolean;
}

static void defaults_are_those_of_the_contract(void **state)
{
    struct fx *f = *state;
    struct store_policy p;

    assert_int_equal(store_policy_get(f->s, &p), 0);
    assert_true(p.migrate_threshold == 0.8);
    assert_true(p.provision_threshold == 0.5);
    assert_true(p.hysteresis == 0.1);
    assert_int_equal(p.cooldown_s, 300);
    assert_int_equal(p.host_cooldown_s, 600);
    assert_int_equal(p.max_concurrent, 16);
    assert_int_equal(p.max_concurrent_cohort, 1);
    assert_int_equal(p.rate_per_min, 30);
    assert_int_equal(p.shadow_budget_cpu, 64);
    assert_int_equal(p.shadow_budget_mem_mb, 65536);
    assert_int_equal(p.lease_timeout_ms, 1000);
    assert_true(p.automatic);
    assert_int_equal(p.step_timeout_ms, 10000);
    assert_int_equal(p.max_attempts, 3);
    assert_int_equal(p.keep_warm_s, 60);
    assert_int_equal(p.shutdown_deadline_ms, 5000);
    assert_false(p.traffic);
    assert_string_equal(p.shift_steps, "1,5,25,50,100");
    assert_int_equal(p.shift_dwell_ms, 3000);
    assert_int_equal(p.mirror_ms, 3000);
    assert_true(p.kpi_max_error_rate == 0.01);
    assert_true(p.kpi_max_latency_ratio == 2.0);
    assert_int_equal(p.target_cooldown_s, 600);
    assert_true(item_default(f, "migrate_threshold"));
    assert_true(
        obj_get(policy_item(f, "migrate_threshold"), "value")->via.f64 == 0.8);
}

static void policy_set_records_and_get_says_so(void **state)
{
    struct fx *f = *state;
    struct store_policy p;
    uint64_t ms = 0;
    bool set = true;

    assert_int_equal(store_policy_lease_timeout(f->s, &set, &ms), 0);
    assert_false(set);
    assert_int_equal(policy_set(f, "migrate_threshold", "0.9"), 0);
    assert_int_equal(policy_set(f, "automatic", "false"), 0);
    assert_int_equal(policy_set(f, "lease_timeout_ms", "2500"), 0);
    assert_int_equal(policy_set(f, "cooldown_s", "0"), 0);
    assert_int_equal(obj_u64(ans_result(f), "value"), 0);
    assert_int_equal(store_policy_get(f->s, &p), 0);
    assert_true(p.migrate_threshold == 0.9);
    assert_false(p.automatic);
    assert_int_equal(p.lease_timeout_ms, 2500);
    assert_int_equal(p.cooldown_s, 0);
    assert_false(item_default(f, "migrate_threshold"));
    assert_false(item_default(f, "automatic"));
    assert_true(item_default(f, "hysteresis"));
    assert_int_equal(store_policy_lease_timeout(f->s, &set, &ms), 0);
    assert_true(set);
    assert_int_equal(ms, 2500);
}

static void bad_values_are_refused_and_change_nothing(void **state)
{
    static const char *const bad[][2] = {
        {"migrate_threshold", "1.5"},
        {"migrate_threshold", "-0.1"},
        {"migrate_threshold", "nan"},
        {"migrate_threshold", "high"},
        {"hysteresis", "0.8"},          /* not below migrate_threshold */
        {"provision_threshold", "0.9"}, /* above migrate_threshold */
        {"max_attempts", "0"},
        {"max_concurrent", "-1"},
        {"rate_per_min", "3x"},
        {"lease_timeout_ms", ""},
        {"automatic", "yes"},
        {"cooldown_s", "99999999999999999999"},
        {"lease_timeout_ms", "99"},
        {"lease_timeout_ms", "600001"},
        {"traffic", "1"},
        {"shift_steps", ""},
        {"shift_steps", "5,1,100"},
        {"shift_steps", "1,5,50"},
        {"shift_steps", "0,100"},
        {"shift_steps", "1,,100"},
        {"shift_steps", "1;100"},
        {"shift_steps", "101"},
        {"shift_steps", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,100"},
        {"shift_dwell_ms", "0"},
        {"mirror_ms", "0"},
        {"kpi_max_error_rate", "1.1"},
        {"kpi_max_latency_ratio", "0.5"},
        {"kpi_max_latency_ratio", "x"},
        {"target_cooldown_s", "-5"},
    };
    struct fx *f = *state;
    unsigned char before[32];
    unsigned char after[32];
    uint64_t rev = store_revision(f->s);

    assert_int_equal(store_digest(f->s, before), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = policy_set(f, bad[i][0], bad[i][1]);
        if (rv != AUGUR_EINVAL) {
            fail_msg("%s=%s: %d, not EINVAL", bad[i][0], bad[i][1], rv);
        }
    }
    assert_int_equal(store_revision(f->s), rev);
    assert_int_equal(store_digest(f->s, after), 0);
    assert_memory_equal(before, after, sizeof before);

    /* Lowering migrate_threshold below provision_threshold is refused
     * too: the checks read the whole policy. */
    assert_int_equal(policy_set(f, "migrate_threshold", "0.4"), AUGUR_EINVAL);
    assert_int_equal(policy_set(f, "provision_threshold", "0.3"), 0);
    assert_int_equal(policy_set(f, "migrate_threshold", "0.4"), 0);
}

static void traffic_keys_are_set_and_read_back(void **state)
{
    struct fx *f = *state;
    struct store_policy p;
    const msgpack_object *v;

    assert_int_equal(policy_set(f, "traffic", "true"), 0);
    assert_int_equal(policy_set(f, "shift_steps", "10, 50 ,100"), 0);
    v = obj_get(ans_result(f), "value");
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_int_equal(v->via.str.size, 9);
    assert_memory_equal(v->via.str.ptr, "10,50,100", 9);
    assert_int_equal(policy_set(f, "shift_dwell_ms", "500"), 0);
    assert_int_equal(policy_set(f, "mirror_ms", "250"), 0);
    assert_int_equal(policy_set(f, "kpi_max_error_rate", "0.05"), 0);
    assert_int_equal(policy_set(f, "kpi_max_latency_ratio", "1.5"), 0);
    assert_int_equal(policy_set(f, "target_cooldown_s", "0"), 0);
    assert_int_equal(policy_set(f, "shift_steps", "100"), 0);
    assert_int_equal(store_policy_get(f->s, &p), 0);
    assert_true(p.traffic);
    assert_string_equal(p.shift_steps, "100");
    assert_int_equal(p.shift_dwell_ms, 500);
    assert_int_equal(p.mirror_ms, 250);
    assert_true(p.kpi_max_error_rate == 0.05);
    assert_true(p.kpi_max_latency_ratio == 1.5);
    assert_int_equal(p.target_cooldown_s, 0);
    v = obj_get(policy_item(f, "shift_steps"), "value");
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_int_equal(v->via.str.size, 3);
    assert_memory_equal(v->via.str.ptr, "100", 3);
    assert_false(item_default(f, "shift_steps"));
    /* A refused list says why, with node/kpi.c's reason. */
    assert_int_equal(policy_set(f, "shift_steps", "1,5,50"), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "the last step is 50, not 100"));
    assert_int_equal(policy_set(f, "shift_steps", "5,1,100"), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "1 does not increase"));
}

static void shift_steps_parse_follows_the_planner(void **state)
{
    struct store_shift_steps st;
    char why[80];

    (void)state;
    assert_int_equal(
        store_shift_steps_parse("1,5,25,50,100", &st, why, sizeof why), 0);
    assert_int_equal(st.n, 5);
    assert_int_equal(st.pct[0], 1);
    assert_int_equal(st.pct[4], 100);
    assert_int_equal(
        store_shift_steps_parse("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,100", &st,
                                why, sizeof why),
        0);
    assert_int_equal(st.n, STORE_SHIFT_STEPS_MAX);
    assert_int_equal(store_shift_steps_parse("", &st, why, sizeof why),
                     AUGUR_EINVAL);
    assert_string_equal(why, "steps: empty list");
    assert_int_equal(st.n, 0);
    assert_int_equal(store_shift_steps_parse("1,x", &st, why, sizeof why),
                     AUGUR_EINVAL);
    assert_string_equal(why, "steps: expected a number at step 2");
    assert_int_equal(store_shift_steps_parse("1 5,100", &st, why, sizeof why),
                     AUGUR_EINVAL);
    assert_string_equal(why, "steps: unexpected character after step 1");
    assert_int_equal(store_shift_steps_parse("200", &st, why, sizeof why),
                     AUGUR_EINVAL);
    assert_string_equal(why, "steps: 200 is outside 1..100");
}

/* A snapshot holding a traffic key's value that policy.set would refuse is
 * refused; a good one restores. */
static void snapshot_checks_the_traffic_keys(void **state)
{
    static const struct
    {
        const char *key;
        const char *val;
        size_t vlen;
    } bad[] = {
        {"shift_steps",
         "\xa6"
         "1,5,50",
         7}, /* not ending at 100 */
        {"shift_steps",
         "\xa3"
         "100",
         3},                                /* short string */
        {"shift_steps", "\xcd\x01\x00", 3}, /* not a string */
        {"kpi_max_latency_ratio", "\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00",
         9},                    /* 0.5 < 1 */
        {"traffic", "\x01", 1}, /* not a boolean */
    };
    struct fx *f = *state;
    struct store_policy p;
    struct fx g;
    void *buf;
    size_t len;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&g, 0, sizeof g);
        fx_open(&g);
        fx_raw_put(&g, "policy", bad[i].key, strlen(bad[i].key), bad[i].val,
                   bad[i].vlen);
        assert_int_equal(store_snapshot(g.s, malloc, &buf, &len), 0);
        fx_close(&g);
        if (store_restore(f->s, buf, len) != AUGUR_EMALFORMED) {
            fail_msg("%s: restored", bad[i].key);
        }
        free(buf);
    }
    memset(&g, 0, sizeof g);
    fx_open(&g);
    assert_int_equal(policy_set(&g, "shift_steps", "20,100"), 0);
    assert_int_equal(policy_set(&g, "traffic", "true"), 0);
    assert_int_equal(policy_set(&g, "kpi_max_latency_ratio", "3"), 0);
    assert_int_equal(store_snapshot(g.s, malloc, &buf, &len), 0);
    fx_close(&g);
    assert_int_equal(store_restore(f->s, buf, len), 0);
    free(buf);
    assert_int_equal(store_policy_get(f->s, &p), 0);
    assert_string_equal(p.shift_steps, "20,100");
    assert_true(p.traffic);
    assert_true(p.kpi_max_latency_ratio == 3.0);
}

static void an_unknown_key_is_refused_with_the_keys(void **state)
{
    struct fx *f = *state;
    const msgpack_object *keys;
    const msgpack_object *last;

    assert_int_equal(policy_set(f, "migrate_treshold", "0.5"), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "migrate_treshold"));
    assert_non_null(strstr(ans_error(f), "migrate_threshold"));
    /* Every key, in the refusal's result. */
    keys = obj_get(ans_result(f), "keys");
    assert_non_null(keys);
    assert_int_equal(keys->via.array.size, 23);
    last = &keys->via.array.ptr[22];
    assert_int_equal(last->via.str.size, strlen("target_cooldown_s"));
    assert_memory_equal(last->via.str.ptr, "target_cooldown_s",
                        last->via.str.size);
}

static void policy_ops_round_trip_the_codec(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    struct store_cmd back;
    msgpack_sbuffer sb;

    (void)state;
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_SET;
    snprintf(c.u.policy.key, sizeof c.u.policy.key, "hysteresis");
    snprintf(c.u.policy.value, sizeof c.u.policy.value, "0.05");
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_memory_equal(&back, &c, sizeof c);
    msgpack_sbuffer_destroy(&sb);
    /* A value with a control character never reaches the log. */
    c.u.policy.value[1] = '\n';
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(defaults_are_those_of_the_contract),
        T(policy_set_records_and_get_says_so),
        T(bad_values_are_refused_and_change_nothing),
        T(traffic_keys_are_set_and_read_back),
        T(shift_steps_parse_follows_the_planner),
        T(snapshot_checks_the_traffic_keys),
        T(an_unknown_key_is_refused_with_the_keys),
        T(policy_ops_round_trip_the_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
