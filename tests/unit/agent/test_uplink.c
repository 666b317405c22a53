/* The agent's link to the cluster while no node answers: batches wait in a
 * bounded backlog, the oldest go first when it is full, and the next batch
 * says how many samples were lost ("d").  No cluster: the endpoint is a
 * closed port on 127.0.0.1, refused at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"

#define CLOSED "127.0.0.1:1"

static void batch_make(struct telemetry_batch *b, unsigned n)
{
    char name[32];

    telemetry_batch_reset(b);
    assert_int_equal(telemetry_batch_resource(b, "h1"), 0);
    b->t_ms = agent_now_ms();
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, "m.s%u", i);
        assert_int_equal(telemetry_batch_add(b, name, i, b->t_ms), 0);
    }
}

static void backlog_is_bounded_and_counts_what_it_drops(void **state)
{
    struct agent_uplink u;
    struct telemetry_batch b;

    (void)state;
    unsetenv("AUGUR_KEY");
    unsetenv("AUGUR_CLUSTER_KEY");
    assert_int_equal(agent_uplink_open(&u, CLOSED, NULL, NULL, 3), 0);
    telemetry_batch_init(&b);
    /* No node answers: kept, not an error. */
    for (int i = 0; i < 3; i++) {
        batch_make(&b, 10);
        assert_int_equal(agent_uplink_report(&u, &b), 0);
        assert_int_equal(b.dropped, 0);
    }
    assert_int_equal(u.n, 3);
    assert_false(u.up);
    assert_int_equal(u.dropped_total, 0);
    /* Full: the oldest goes, and the new batch carries its 10 samples. */
    batch_make(&b, 10);
    assert_int_equal(agent_uplink_report(&u, &b), 0);
    assert_int_equal(b.dropped, 10);
    assert_int_equal(u.n, 3);
    assert_int_equal(u.dropped_total, 10);
    /* Then the next oldest, which carried nothing. */
    batch_make(&b, 10);
    assert_int_equal(agent_uplink_report(&u, &b), 0);
    assert_int_equal(b.dropped, 10);
    /* Dropping a batch that carried a loss loses that count too: it moves
     * on to the next batch, so the leader still hears of every sample. */
    batch_make(&b, 10);
    assert_int_equal(agent_uplink_report(&u, &b), 0);
    assert_int_equal(b.dropped, 10);
    batch_make(&b, 10);
    assert_int_equal(agent_uplink_report(&u, &b), 0);
    assert_int_equal(b.dropped, 20);
    assert_int_equal(u.dropped_total, 40);
    assert_int_equal(u.sent, 0);
    /* Heartbeats while no node answers are not errors either. */
    assert_int_equal(agent_uplink_heartbeat(&u, "h1"), 0);
    telemetry_batch_close(&b);
    agent_uplink_close(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backlog_is_bounded_and_counts_what_it_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
