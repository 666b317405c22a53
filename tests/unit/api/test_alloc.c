/* Allocation-failure sweep of api/: every malloc/calloc/realloc made by
 * proto.c and client.c (linked with -Wl,--wrap) fails in turn, and each
 * run must end in a clean AUGUR_ENOMEM or, where the library retries, in
 * success: never a crash, never a leak (ASan checks at exit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/augur.h"
#include "wire/proto.h"
#include "fake_server.h"
#include "fault_alloc.h"

/* Generous bound on the allocations of one run, so a broken sweep ends. */
#define SWEEP_MAX 200

static void request_append_leaves_buffer_on_enomem(void **state)
{
    static const uint8_t args[] = {0x81, 0xa1, 'k', 0x01};
    struct proto_request req = {
        .id = 1, .op = "claim.get", .op_len = 9, .seq = 2, .ack = 1};
    msgpack_sbuffer sb;
    long n;

    (void)state;
    for (n = 0; n < SWEEP_MAX; n++) {
        size_t before;
        int err;
        int hit;

        msgpack_sbuffer_init(&sb);
        /* Existing content whose size is exactly the initial capacity, so
         * appending must grow the buffer. */
        while (sb.size < 8192) {
            assert_int_equal(msgpack_sbuffer_write(&sb, "x", 1), 0);
        }
        before = sb.size;
        fault_arm(n);
        err = proto_request_append(&sb, &req, args, sizeof args);
        hit = fault_disarm();
        if (hit) {
            assert_int_equal(err, AUGUR_ENOMEM);
            assert_int_equal(sb.size, before);
        } else {
            assert_int_equal(err, 0);
        }
        msgpack_sbuffer_destroy(&sb);
        if (!hit) {
            break;
        }
    }
    assert_true(n > 0 && n < SWEEP_MAX);
}

static void client_open_fails_cleanly(void **state)
{
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];
    long n;

    (void)state;
    for (n = 0; n < SWEEP_MAX; n++) {
        int err;
        int hit;

        fault_arm(n);
        err = augur_client_open("127.0.0.1:7001,127.0.0.1:7002", NULL, &c,
                                errmsg);
        hit = fault_disarm();
        if (hit) {
            assert_int_equal(err, AUGUR_ENOMEM);
            assert_null(c);
        } else {
            assert_int_equal(err, 0);
            augur_client_close(c);
            break;
        }
    }
    assert_true(n > 0 && n < SWEEP_MAX);
}

static void script_serve(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        if (fake_answer_workload(fd, r->id, r->workload) != 0) {
            return;
        }
    }
}

/* One whole client session under a single allocation failure: open, a
 * pipelined call, a typed helper, close. */
static void client_session_survives_any_single_failure(void **state)
{
    struct fake_server s;
    long n;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_serve, NULL), 0);
    for (n = 0; n < SWEEP_MAX; n++) {
        struct augur_client *c = NULL;
        struct augur_reply reply;
        struct augur_options opt;
        char errmsg[AUGUR_ERRMSG_SIZE];
        char w[16];
        int err;
        int hit;

        augur_options_init(&opt);
        opt.timeout_ms = 5000; /* never reached: each run recovers */
        fault_arm(n);
        err = augur_client_open(s.addr, &opt, &c, errmsg);
        if (err != 0) {
            hit = fault_disarm();
            assert_true(hit);
            assert_int_equal(err, AUGUR_ENOMEM);
            continue;
        }
        err = augur_events(c, 1, 10, 0, 0, &reply);
        /* A failure before the request exists is ENOMEM; after it, the
         * library retries and the call succeeds. */
        if (err == AUGUR_ENOMEM) {
            assert_string_equal(augur_client_errmsg(c),
                                "ENOMEM: events: out of memory");
        } else {
            assert_int_equal(err, 0);
            assert_int_equal(reply.status, 0);
            assert_int_equal(
                augur_map_str(reply.result, "workload", w, sizeof w), 0);
        }
        augur_reply_free(&reply);
        err = augur_claim_release(c, "w1", 3);
        assert_true(err == 0 || err == AUGUR_ENOMEM);
        augur_client_close(c);
        hit = fault_disarm();
        if (!hit) {
            break;
        }
    }
    fake_server_stop(&s);
    assert_true(n > 0 && n < SWEEP_MAX);
}

int main(void)
{
    /* The scripted servers speak the unauthenticated protocol: keys from
     * the environment (a shell that ran 'local-cluster env') must not turn
     * the client's handshake on. */
    unsetenv("AUGUR_KEY");
    unsetenv("AUGUR_CLUSTER_KEY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_append_leaves_buffer_on_enomem),
        cmocka_unit_test(client_open_fails_cleanly),
        cmocka_unit_test(client_session_survives_any_single_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
