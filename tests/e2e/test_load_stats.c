/* Unit tests of tests/e2e/load_stats.c: augur-load's percentiles, failed
 * window and per-second rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/e2e/load_stats.h"

static void percentile_is_the_nearest_rank(void **state)
{
    double v[100];
    double one[1] = {7.0};

    (void)state;
    for (int i = 0; i < 100; i++) {
        v[i] = (double)(100 - i); /* unsorted: 100..1 */
    }
    assert_true(load_percentile(v, 100, 0.50) == 50.0);
    assert_true(load_percentile(v, 100, 0.99) == 99.0);
    assert_true(load_percentile(v, 100, 1.0) == 100.0);
    assert_true(load_percentile(v, 100, 0.001) == 1.0);
    assert_true(load_percentile(one, 1, 0.99) == 7.0);
    assert_true(load_percentile(NULL, 0, 0.99) == 0.0);
    /* 10 values: p99 is the largest, p50 the fifth. */
    for (int i = 0; i < 10; i++) {
        v[i] = (double)i;
    }
    assert_true(load_percentile(v, 10, 0.99) == 9.0);
    assert_true(load_percentile(v, 10, 0.50) == 4.0);
}

static void summary_counts_failures_and_their_window(void **state)
{
    struct load_record r[] = {
        {.send_ms = 0, .latency_ms = 1, .status = 200},
        {.send_ms = 500, .latency_ms = 2, .status = 200},
        {.send_ms = 1200, .latency_ms = 2000, .status = 0}, /* timeout */
        {.send_ms = 1500, .latency_ms = 3, .status = 503},
        {.send_ms = 2700, .latency_ms = 4, .status = 502},
        {.send_ms = 2900, .latency_ms = 5, .status = 404}, /* an answer */
    };
    struct load_summary s;

    (void)state;
    assert_int_equal(load_summarize(r, 6, &s), 0);
    assert_int_equal(s.requests, 6);
    assert_int_equal(s.failed, 3);
    assert_true(s.failed_window_s > 1.4999 && s.failed_window_s < 1.5001);
    /* Latencies of the answered (status != 0): 1 2 3 4 5. */
    assert_true(s.p50_ms == 3.0);
    assert_true(s.p99_ms == 5.0);
    assert_int_equal(s.n_seconds, 3);
    assert_int_equal(s.by_second[0].t, 0);
    assert_int_equal(s.by_second[0].requests, 2);
    assert_int_equal(s.by_second[0].failed, 0);
    assert_true(s.by_second[0].p50_ms == 1.0);
    assert_true(s.by_second[0].p99_ms == 2.0);
    assert_int_equal(s.by_second[1].requests, 2);
    assert_int_equal(s.by_second[1].failed, 2);
    /* The timeout has no latency: 3 alone. */
    assert_true(s.by_second[1].p50_ms == 3.0);
    assert_true(s.by_second[1].p99_ms == 3.0);
    assert_int_equal(s.by_second[2].requests, 2);
    assert_int_equal(s.by_second[2].failed, 1);
    assert_true(s.by_second[2].p50_ms == 4.0);
    assert_true(s.by_second[2].p99_ms == 5.0);
    load_summary_close(&s);
}

static void summary_of_a_clean_or_empty_run(void **state)
{
    struct load_record r[] = {
        {.send_ms = 100, .latency_ms = 1, .status = 200},
        {.send_ms = 3100, .latency_ms = 1, .status = 200},
    };
    struct load_summary s;

    (void)state;
    assert_int_equal(load_summarize(r, 2, &s), 0);
    assert_int_equal(s.failed, 0);
    assert_true(s.failed_window_s == 0.0);
    /* A quiet second in the middle still has its row. */
    assert_int_equal(s.n_seconds, 4);
    assert_int_equal(s.by_second[1].requests, 0);
    assert_true(s.by_second[1].p50_ms == 0.0);
    assert_true(s.by_second[1].p99_ms == 0.0);
    load_summary_close(&s);
    assert_int_equal(load_summarize(NULL, 0, &s), 0);
    assert_int_equal(s.requests, 0);
    assert_int_equal(s.n_seconds, 0);
    load_summary_close(&s);
    /* One failure: a window of 0. */
    r[0].status = 0;
    assert_int_equal(load_summarize(r, 2, &s), 0);
    assert_int_equal(s.failed, 1);
    assert_true(s.failed_window_s == 0.0);
    load_summary_close(&s);
}

/* Each second's p50 and p99 are its own, by nearest rank over its answered
 * requests, whatever order the records come in. */
static void per_second_rows_carry_their_own_p50_and_p99(void **state)
{
    struct load_record r[300];
    struct load_summary s;

    (void)state;
    /* Second 0: latencies 100..1 (200 records, two per value, due out of
     * order); second 1: 100 records of 1000..10 ms, every tenth one a
     * timeout whose latency must not count. */
    for (int i = 0; i < 200; i++) {
        r[i] = (struct load_record){.send_ms = (double)(999 - i * 4),
                                    .latency_ms = (double)(100 - i / 2),
                                    .status = 200};
    }
    for (int i = 0; i < 100; i++) {
        r[200 + i] = (struct load_record){
            .send_ms = 1000.0 + (double)i,
            .latency_ms = (double)(1000 - i * 10),
            .status = i % 10 == 9 ? 0 : 200,
        };
    }
    assert_int_equal(load_summarize(r, 300, &s), 0);
    assert_int_equal(s.n_seconds, 2);
    assert_int_equal(s.by_second[0].requests, 200);
    /* 1,1,2,2,...,100,100: rank 100 is 50, rank 198 is 99. */
    assert_true(s.by_second[0].p50_ms == 50.0);
    assert_true(s.by_second[0].p99_ms == 99.0);
    assert_int_equal(s.by_second[1].requests, 100);
    assert_int_equal(s.by_second[1].failed, 10);
    /* 90 answered: 1000..10 without 910, 810, ..., 10, i.e. the values
     * 20..1000 step 10 that are not 10 mod 100.  Rank 45 is 500, rank
     * ceil(89.1) = 90 is the largest, 1000. */
    assert_true(s.by_second[1].p50_ms == 500.0);
    assert_true(s.by_second[1].p99_ms == 1000.0);
    load_summary_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percentile_is_the_nearest_rank),
        cmocka_unit_test(summary_counts_failures_and_their_window),
        cmocka_unit_test(summary_of_a_clean_or_empty_run),
        cmocka_unit_test(per_second_rows_carry_their_own_p50_and_p99),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
