/* Allocation-failure sweep of libaugur's installed interface: every
 * malloc/calloc/realloc made by public.c, mpjson.c and the client beneath
 * them (linked with -Wl,--wrap) fails in turn during one JSON call, and
 * each run must end in AUGUR_ENOMEM or in the right answer (whose JSON text
 * alone may be missing): never a crash, never a leak (ASan checks). */
#include "include/augur.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_server.h"
#include "fault_alloc.h"

#define SWEEP_MAX 400

/* Answer every request with {"workload": its workload}. */
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

static void json_call_survives_any_single_failure(void **state)
{
    static const char args[] =
        "{\"workload\": \"w\\u00e9\", \"demand\": {\"cpu\": 2, \"mem_mb\": "
        "512}, \"labels\": {\"rack\": \"r2\"}, \"p\": 0.25, \"tags\": [true, "
        "null, -1]}";
    struct fake_server s;
    long n;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_serve, NULL), 0);
    for (n = 0; n < SWEEP_MAX; n++) {
        struct augur_client *c = NULL;
        struct augur_answer *a = NULL;
        char w[16];
        int err;

        fault_arm(n);
        err = augur_client_new(s.addr, NULL, NULL, &c, NULL, 0);
        if (err != 0) {
            assert_int_equal(err, AUGUR_ENOMEM);
            assert_true(fault_disarm());
            continue;
        }
        err = augur_call_json(c, "workload.add", args, 0, &a);
        if (a == NULL) {
            assert_int_equal(err, AUGUR_ENOMEM);
        } else if (err == AUGUR_ENOMEM) {
            assert_int_equal(augur_answer_status(a), AUGUR_ENOMEM);
            assert_non_null(augur_answer_json(a)); /* "null", or nothing */
        } else {
            assert_int_equal(err, 0);
            assert_int_equal(augur_answer_str(a, "/workload", w, sizeof w), 0);
            assert_string_equal(w, "w\xc3\xa9");
            /* The JSON text alone may have been lost to the failure. */
            if (augur_answer_json(a) != NULL) {
                assert_string_equal(augur_answer_json(a),
                                    "{\"workload\":\"w\xc3\xa9\"}");
            }
        }
        augur_answer_free(a);
        augur_client_close(c);
        if (!fault_disarm()) {
            break;
        }
    }
    fake_server_stop(&s);
    assert_true(n > 0 && n < SWEEP_MAX);
}

int main(void)
{
    /* The scripted servers speak the unauthenticated protocol. */
    unsetenv("AUGUR_KEY");
    unsetenv("AUGUR_CLUSTER_KEY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_call_survives_any_single_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
