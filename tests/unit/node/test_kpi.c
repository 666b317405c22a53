/* Unit tests of node/kpi.c: shift weights and the KPI decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "node/kpi.h"

static void weights_follow_the_percent_on_haproxy_scale(void **state)
{
    unsigned o, n;

    (void)state;
    node_kpi_weights(1, &o, &n);
    assert_int_equal(n, 3); /* 2.56 rounds to 3 */
    assert_int_equal(o, 253);
    node_kpi_weights(5, &o, &n);
    assert_int_equal(n, 13); /* 12.8 */
    assert_int_equal(o, 243);
    node_kpi_weights(25, &o, &n);
    assert_int_equal(n, 64);
    assert_int_equal(o, 192);
    node_kpi_weights(50, &o, &n);
    assert_int_equal(n, 128);
    assert_int_equal(o, 128);
    node_kpi_weights(100, &o, &n);
    assert_int_equal(n, 256);
    assert_int_equal(o, 0);
    node_kpi_weights(0, &o, &n);
    assert_int_equal(n, 0);
    assert_int_equal(o, 256);
    node_kpi_weights(250, &o, &n); /* clamped */
    assert_int_equal(n, 256);
    assert_int_equal(o, 0);
}

static const struct node_kpi_counters zero = {0};

static void decide_fails_on_a_new_side_answering_5xx(void **state)
{
    struct node_kpi_thresholds t;
    struct node_kpi_decision d;
    struct node_kpi_counters old_end = {.stot = 800, .rtime_ms = 3};
    struct node_kpi_counters new_end = {
        .stot = 200, .hrsp_5xx = 20, .eresp = 2, .econ = 2, .rtime_ms = 3};

    (void)state;
    node_kpi_thresholds_default(&t);
    node_kpi_decide(&zero, &old_end, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    assert_int_equal(d.new_side.requests, 200);
    assert_int_equal(d.new_side.errors, 24);
    assert_string_equal(d.reason,
                        "error_rate 0.120 > 0.010 (old 0.000, 200 requests)");
    assert_true(strlen(d.reason) < 120);
}

static void decide_passes_when_the_old_side_fails_as_much(void **state)
{
    struct node_kpi_thresholds t;
    struct node_kpi_decision d;
    struct node_kpi_counters old_start = {.stot = 1000, .hrsp_5xx = 10};
    struct node_kpi_counters old_end = {
        .stot = 2000, .hrsp_5xx = 60, .rtime_ms = 4}; /* 5% */
    struct node_kpi_counters new_start = {.stot = 10};
    struct node_kpi_counters new_end = {
        .stot = 110, .hrsp_5xx = 5, .rtime_ms = 4}; /* 5% */

    (void)state;
    node_kpi_thresholds_default(&t);
    node_kpi_decide(&old_start, &old_end, &new_start, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_PASS);
    assert_int_equal(d.new_side.requests, 100);
    assert_int_equal(d.old_side.requests, 1000);
    assert_non_null(strstr(d.reason, "pass"));
    /* More than the old side by over the margin: a failure. */
    old_end.hrsp_5xx = 10 + 44; /* 4.4%: 0.050 > 0.044 + 0.005 */
    node_kpi_decide(&old_start, &old_end, &new_start, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    old_end.hrsp_5xx = 10 + 46; /* 4.6%: within the margin */
    node_kpi_decide(&old_start, &old_end, &new_start, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_PASS);
}

static void decide_fails_on_latency_over_ratio_and_slack(void **state)
{
    struct node_kpi_thresholds t;
    struct node_kpi_decision d;
    struct node_kpi_counters old_end = {.stot = 500, .rtime_ms = 10};
    struct node_kpi_counters new_end = {.stot = 100, .rtime_ms = 25};

    (void)state;
    node_kpi_thresholds_default(&t);
    node_kpi_decide(&zero, &old_end, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_PASS); /* 25 <= 2*10+5 */
    new_end.rtime_ms = 26;
    node_kpi_decide(&zero, &old_end, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    assert_string_equal(d.reason, "latency 26ms > 2.0*10+5ms (100 requests)");
    /* No old latency known (0): no ratio to check against. */
    old_end.rtime_ms = 0;
    node_kpi_decide(&zero, &old_end, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_PASS);
}

static void decide_waits_for_enough_requests(void **state)
{
    struct node_kpi_thresholds t;
    struct node_kpi_decision d;
    struct node_kpi_counters old_end = {.stot = 5000, .rtime_ms = 1};
    struct node_kpi_counters new_end = {.stot = 19, .hrsp_5xx = 19};

    (void)state;
    node_kpi_thresholds_default(&t);
    node_kpi_decide(&zero, &old_end, &zero, &new_end, &t, &d);
    /* Every request failed, but 19 is too few to judge: wait, not pass. */
    assert_int_equal(d.outcome, NODE_KPI_WAIT);
    assert_string_equal(d.reason,
                        "not enough requests: 19 < 20 on the new side");
    new_end.stot = 20;
    node_kpi_decide(&zero, &old_end, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    /* Counters that went backwards: measure again. */
    node_kpi_decide(&new_end, &zero, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_WAIT);
    assert_non_null(strstr(d.reason, "backwards"));
    assert_string_equal(node_kpi_outcome_name(NODE_KPI_WAIT), "wait");
}

static void decide_caps_the_error_rate_at_one(void **state)
{
    struct node_kpi_thresholds t;
    struct node_kpi_decision d;
    struct node_kpi_counters new_end = {.stot = 30, .econ = 90, .eresp = 5};

    (void)state;
    node_kpi_thresholds_default(&t);
    node_kpi_decide(&zero, &zero, &zero, &new_end, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    assert_true(d.new_side.error_rate <= 1.0);
    assert_string_equal(d.reason,
                        "error_rate 1.000 > 0.010 (old 0.000, 30 requests)");
}

static void mirror_decides_pass_fail_and_wait(void **state)
{
    struct node_kpi_thresholds t;
    struct node_kpi_decision d;
    struct node_kpi_mirror m = {.compared = 200,
                                .old_p50_ms = 1,
                                .old_p99_ms = 3,
                                .new_p50_ms = 1,
                                .new_p99_ms = 4};

    (void)state;
    node_kpi_thresholds_default(&t);
    node_kpi_mirror_decide(&m, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_PASS);
    assert_non_null(strstr(d.reason, "mirror"));
    m.new_errors = 200;
    m.status_mismatch = 200;
    node_kpi_mirror_decide(&m, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    assert_string_equal(
        d.reason, "error_rate 1.000 > 0.010 (old 0.000, 200 requests), mirror");
    /* Answers that differ (a 404 for a 200) without errors fail too. */
    m.new_errors = 0;
    m.status_mismatch = 10;
    node_kpi_mirror_decide(&m, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    assert_string_equal(d.reason,
                        "status_mismatch 0.050 > 0.010 (200 compared, mirror)");
    m.status_mismatch = 0;
    m.new_p99_ms = 12; /* > 2*3+5 */
    node_kpi_mirror_decide(&m, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_FAIL);
    assert_non_null(strstr(d.reason, "latency 12ms"));
    m.compared = 3;
    m.status_mismatch = 3;
    node_kpi_mirror_decide(&m, &t, &d);
    assert_int_equal(d.outcome, NODE_KPI_WAIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weights_follow_the_percent_on_haproxy_scale),
        cmocka_unit_test(decide_fails_on_a_new_side_answering_5xx),
        cmocka_unit_test(decide_passes_when_the_old_side_fails_as_much),
        cmocka_unit_test(decide_fails_on_latency_over_ratio_and_slack),
        cmocka_unit_test(decide_waits_for_enough_requests),
        cmocka_unit_test(decide_caps_the_error_rate_at_one),
        cmocka_unit_test(mirror_decides_pass_fail_and_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
