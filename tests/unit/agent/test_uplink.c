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
#include <sys/wait.h>
#include <unistd.h>

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

/* An answer as the leader packs it: {"lease_ms": 1000} plus, when
 * @workflow, {"prepare_shutdown": {"workflow", "deadline_ms"}}; with
 * @forwarded, a follower's {"lease_ms", "forwarded": true}. */
static void answer_make(msgpack_sbuffer *sb,
                        msgpack_unpacked *up,
                        uint64_t workflow,
                        bool forwarded)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1 + (workflow != 0) + forwarded);
    msgpack_pack_str_with_body(&pk, "lease_ms", 8);
    msgpack_pack_uint64(&pk, 1000);
    if (workflow != 0) {
        msgpack_pack_str_with_body(&pk, "prepare_shutdown", 16);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "workflow", 8);
        msgpack_pack_uint64(&pk, workflow);
        msgpack_pack_str_with_body(&pk, "deadline_ms", 11);
        msgpack_pack_uint64(&pk, 5000);
    }
    if (forwarded) {
        msgpack_pack_str_with_body(&pk, "forwarded", 9);
        msgpack_pack_true(&pk);
    }
    msgpack_unpacked_init(up);
    assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
}

static void read_answer(struct agent_uplink *u, uint64_t workflow, bool fwd)
{
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    answer_make(&sb, &up, workflow, fwd);
    agent_uplink_notice_read(u, &up.data);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* A notice is handled once (logged, hook run with the deadline in its
 * environment, acknowledged); a follower's answer changes nothing; an
 * answer without the notice withdraws it and the acknowledgement. */
static void shutdown_notice_runs_hook_once_and_acks(void **state)
{
    struct agent_uplink u;
    struct agent_run_options o;
    char dir[] = "/tmp/augur-notice-XXXXXX";
    char cmd[256], path[128], line[256];
    pid_t hook = 0;
    FILE *f;
    int status;

    (void)state;
    memset(&u, 0, sizeof u);
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "echo \"$AUGUR_SHUTDOWN_WORKFLOW $AUGUR_SHUTDOWN_DEADLINE_MS "
             "$AUGUR_RESOURCE\" >> %s/hook",
             dir);
    memset(&o, 0, sizeof o);
    o.resource = "h1";
    o.on_shutdown = cmd;

    read_answer(&u, 0, false);
    assert_false(agent_notice_handle(&u, &o, &hook));
    assert_int_equal(u.ack, 0);

    read_answer(&u, 17, false);
    assert_int_equal(u.notice_workflow, 17);
    assert_int_equal(u.notice_deadline_ms, 5000);
    assert_true(agent_notice_handle(&u, &o, &hook));
    assert_int_equal(u.ack, 17);
    assert_true(hook > 0);
    assert_int_equal(waitpid(hook, &status, 0), hook);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hook = 0;
    /* The same notice again: acknowledged already, no second hook. */
    read_answer(&u, 17, false);
    assert_false(agent_notice_handle(&u, &o, &hook));
    assert_int_equal(hook, 0);
    /* A follower's answer says nothing about notices. */
    read_answer(&u, 0, true);
    assert_int_equal(u.notice_workflow, 17);
    assert_int_equal(u.ack, 17);
    /* Withdrawn: no more acknowledgement. */
    read_answer(&u, 0, false);
    assert_int_equal(u.notice_workflow, 0);
    assert_int_equal(u.ack, 0);

    snprintf(path, sizeof path, "%s/hook", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "17 5000 h1\n");
    assert_null(fgets(line, sizeof line, f)); /* once */
    fclose(f);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backlog_is_bounded_and_counts_what_it_drops),
        cmocka_unit_test(shutdown_notice_runs_hook_once_and_acks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
