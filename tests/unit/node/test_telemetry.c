/* Unit tests of node/telemetry.c: each resource keeps a ring of its last
 * batches, the table is bounded in resources and bytes, and the counters
 * say what was kept and dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/telemetry.h"

#define T0 1700000000000LL

/* Fill t->scratch as the decoder would: @n samples of "m.i" at @t_ms. */
static void scratch(struct node_telemetry *t,
                    const char *id,
                    int64_t t_ms,
                    unsigned n,
                    uint64_t dropped)
{
    char name[32];

    telemetry_batch_reset(&t->scratch);
    assert_int_equal(telemetry_batch_resource(&t->scratch, id), 0);
    t->scratch.t_ms = t_ms;
    t->scratch.dropped = dropped;
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, "m.s%u", i);
        assert_int_equal(
            telemetry_batch_add(&t->scratch, name, (double)t_ms + i, t_ms), 0);
    }
}

static void ring_keeps_the_last_batches_newest_first(void **state)
{
    struct node_telemetry t;
    struct node_telemetry_resource *r;

    (void)state;
    assert_int_equal(node_telemetry_init(&t, 3, 10, 0), 0);
    for (int i = 0; i < 5; i++) {
        scratch(&t, "h1", T0 + i * 1000, 2, 0);
        assert_int_equal(node_telemetry_keep(&t, 100 + i, &r), 0);
    }
    assert_string_equal(r->id, "h1");
    assert_int_equal(r->count, 3);
    assert_int_equal(r->reports, 5);
    assert_int_equal(r->last_report_ms, 104);
    assert_int_equal(node_telemetry_batch(&t, r, 0)->t_ms, T0 + 4000);
    assert_int_equal(node_telemetry_batch(&t, r, 1)->t_ms, T0 + 3000);
    assert_int_equal(node_telemetry_batch(&t, r, 2)->t_ms, T0 + 2000);
    assert_null(node_telemetry_batch(&t, r, 3));
    assert_string_equal(
        telemetry_sample_name(node_telemetry_batch(&t, r, 0), 1), "m.s1");
    assert_true(node_telemetry_find(&t, "h1") == r);
    assert_null(node_telemetry_find(&t, "h2"));
    assert_int_equal(t.c.accepted, 5);
    assert_int_equal(t.c.samples, 10);
    /* The scratch is empty again, ready for the next decode. */
    assert_int_equal(t.scratch.n, 0);
    node_telemetry_close(&t);
}

/* Past the cap of resources, new ones are dropped and counted; those
 * tracked go on. */
static void resources_are_capped(void **state)
{
    struct node_telemetry t;
    struct node_telemetry_resource *r;
    char id[16];

    (void)state;
    assert_int_equal(node_telemetry_init(&t, 2, 4, 0), 0);
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "h%d", i);
        scratch(&t, id, T0, 1, 0);
        assert_int_equal(node_telemetry_keep(&t, 1, &r), 0);
    }
    scratch(&t, "h9", T0, 1, 0);
    assert_int_equal(node_telemetry_keep(&t, 1, &r), AUGUR_ETOOBIG);
    assert_int_equal(node_telemetry_track(&t, "h9", &r), AUGUR_ETOOBIG);
    assert_int_equal(t.c.dropped, 2);
    assert_int_equal(t.n, 4);
    scratch(&t, "h2", T0, 1, 0);
    assert_int_equal(node_telemetry_keep(&t, 1, &r), 0);
    node_telemetry_close(&t);
}

/* The sample memory is bounded: a batch that would pass it is dropped. */
static void bytes_are_capped(void **state)
{
    struct node_telemetry t;
    struct node_telemetry_resource *r;

    (void)state;
    assert_int_equal(node_telemetry_init(&t, 2, 10, 64 * 1024), 0);
    scratch(&t, "h1", T0, 100, 0);
    assert_int_equal(node_telemetry_keep(&t, 1, &r), 0);
    scratch(&t, "h2", T0, 4000, 0);
    assert_int_equal(node_telemetry_keep(&t, 1, &r), AUGUR_ETOOBIG);
    assert_int_equal(t.c.dropped, 1);
    assert_true(t.bytes <= 64 * 1024);
    node_telemetry_close(&t);
}

/* The agent's "d" adds up per resource and in all; clearing (leadership
 * lost) forgets everything. */
static void agent_drops_are_counted_and_clear_forgets(void **state)
{
    struct node_telemetry t;
    struct node_telemetry_resource *r;
    size_t cursor = 0;

    (void)state;
    assert_int_equal(node_telemetry_init(&t, 2, 10, 0), 0);
    scratch(&t, "h1", T0, 1, 7);
    assert_int_equal(node_telemetry_keep(&t, 1, &r), 0);
    scratch(&t, "h1", T0 + 1000, 1, 3);
    assert_int_equal(node_telemetry_keep(&t, 2, &r), 0);
    assert_int_equal(r->agent_dropped, 10);
    assert_int_equal(t.c.agent_dropped, 10);
    assert_non_null(node_telemetry_next(&t, &cursor));
    assert_null(node_telemetry_next(&t, &cursor));
    node_telemetry_clear(&t);
    assert_null(node_telemetry_find(&t, "h1"));
    assert_int_equal(t.n, 0);
    assert_int_equal(t.c.accepted, 0);
    node_telemetry_close(&t);
}

/* A flood of refusals writes one log line a second, counting the rest. */
static void log_lines_are_rate_limited(void **state)
{
    struct node_telemetry_ratelimit rl = {0};
    uint64_t skipped = 99;

    (void)state;
    assert_true(node_telemetry_log_ok(&rl, 1000, &skipped));
    assert_int_equal(skipped, 0);
    for (int i = 0; i < 50; i++) {
        assert_false(node_telemetry_log_ok(&rl, 1000 + (uint64_t)i, &skipped));
    }
    assert_true(node_telemetry_log_ok(&rl, 2000, &skipped));
    assert_int_equal(skipped, 50);
}

/* Lease lines come in bursts (a leader cut off from every agent): a few a
 * second, then counted. */
static void log_bursts_are_bounded(void **state)
{
    struct node_telemetry_ratelimit rl = {0};
    uint64_t skipped = 99;
    int written = 0;

    (void)state;
    for (int i = 0; i < 100; i++) {
        written += node_telemetry_log_burst(&rl, 5000, 20, &skipped);
    }
    assert_int_equal(written, 20);
    assert_true(node_telemetry_log_burst(&rl, 6000, 20, &skipped));
    assert_int_equal(skipped, 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_keeps_the_last_batches_newest_first),
        cmocka_unit_test(resources_are_capped),
        cmocka_unit_test(bytes_are_capped),
        cmocka_unit_test(agent_drops_are_counted_and_clear_forgets),
        cmocka_unit_test(log_lines_are_rate_limited),
        cmocka_unit_test(log_bursts_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
