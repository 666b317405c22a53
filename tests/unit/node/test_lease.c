/* Unit tests of node/lease.c: when the leader declares a silent host
 * unreachable, and when it must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/lease.h"

#define LEASE_MS 1000

/* A host that never reported has no lease: never due, whatever the time. */
static void never_reported_host_is_never_due(void **state)
{
    struct node_lease l;

    (void)state;
    memset(&l, 0, sizeof l);
    assert_false(node_lease_due(&l, 0, 0));
    assert_false(node_lease_due(&l, UINT64_MAX / 2, 0));
    assert_int_equal(node_lease_remaining(&l, 5), 0);
}

/* Due once the lease has run out, and only once: declaring it stops
 * further verdicts until the host renews. */
static void lease_expires_once_until_renewed(void **state)
{
    struct node_lease l;

    (void)state;
    memset(&l, 0, sizeof l);
    assert_true(node_lease_renew(&l, 10000, LEASE_MS)); /* first: check */
    assert_false(node_lease_due(&l, 10999, 0));
    assert_int_equal(node_lease_remaining(&l, 10400), 600);
    assert_true(node_lease_due(&l, 11000, 0));
    node_lease_declare(&l);
    assert_false(node_lease_due(&l, 11050, 0));
    assert_false(node_lease_due(&l, 99999, 0));
    /* The host is back: the renewal says so, and it may expire again. */
    assert_true(node_lease_renew(&l, 12000, LEASE_MS));
    assert_false(node_lease_due(&l, 12500, 0));
    assert_false(node_lease_renew(&l, 12500, LEASE_MS));
    assert_true(node_lease_due(&l, 13500, 0));
}

/* Renewals keep pushing the expiry: heartbeats every 250 ms never let a
 * 1 s lease run out. */
static void heartbeats_keep_the_lease(void **state)
{
    struct node_lease l;

    (void)state;
    memset(&l, 0, sizeof l);
    for (uint64_t t = 0; t < 10000; t += 250) {
        (void)node_lease_renew(&l, t, LEASE_MS);
        assert_false(node_lease_due(&l, t + 249, 0));
    }
}

/* A new leader gives every host a full lease before declaring anything:
 * nothing is due before its grace time, even a lease already past. */
static void new_leader_grace_holds_verdicts(void **state)
{
    struct node_lease l;
    uint64_t became = 50000;
    uint64_t grace = became + LEASE_MS;

    (void)state;
    memset(&l, 0, sizeof l);
    (void)node_lease_renew(&l, 40000, LEASE_MS);
    assert_false(node_lease_due(&l, became, grace));
    assert_false(node_lease_due(&l, grace - 1, grace));
    assert_true(node_lease_due(&l, grace, grace));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(never_reported_host_is_never_due),
        cmocka_unit_test(lease_expires_once_until_renewed),
        cmocka_unit_test(heartbeats_keep_the_lease),
        cmocka_unit_test(new_leader_grace_holds_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
