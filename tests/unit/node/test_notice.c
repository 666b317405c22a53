/* Unit tests of node/notice.c: the leader's prepare-shutdown notices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "node/notice.h"

static void notice_is_acked_only_for_its_workflow(void **state)
{
    struct node_notices *t = malloc(sizeof *t);
    const struct node_notice *s;

    (void)state;
    node_notices_init(t);
    assert_null(node_notices_find(t, "h1"));
    assert_int_equal(node_notices_set(t, "h1", 7, 5000), 0);
    s = node_notices_find(t, "h1");
    assert_non_null(s);
    assert_int_equal(s->workflow, 7);
    assert_int_equal(s->deadline_ms, 5000);
    assert_false(node_notices_acked(t, "h1", 7));
    /* An ack of another workflow (an old one) changes nothing. */
    assert_false(node_notices_ack(t, "h1", 6));
    assert_false(node_notices_acked(t, "h1", 7));
    assert_false(node_notices_ack(t, "h2", 7));
    assert_true(node_notices_ack(t, "h1", 7));
    assert_true(node_notices_acked(t, "h1", 7));
    assert_false(node_notices_acked(t, "h1", 6));
    /* The same workflow again keeps the ack; a new one starts over. */
    assert_int_equal(node_notices_set(t, "h1", 7, 6000), 0);
    assert_true(node_notices_acked(t, "h1", 7));
    assert_int_equal(node_notices_set(t, "h1", 8, 6000), 0);
    assert_false(node_notices_acked(t, "h1", 8));
    assert_int_equal(t->n, 1);
    node_notices_clear(t, "h1");
    assert_null(node_notices_find(t, "h1"));
    assert_false(node_notices_acked(t, "h1", 8));
    assert_int_equal(t->n, 0);
    node_notices_clear(t, "h1"); /* twice: nothing */
    free(t);
}

static void table_is_bounded_and_refuses_bad_input(void **state)
{
    struct node_notices *t = malloc(sizeof *t);
    char host[32];
    char long_host[STORE_ID_SIZE + 1];

    (void)state;
    node_notices_init(t);
    assert_int_equal(node_notices_set(t, "", 1, 1), AUGUR_EINVAL);
    assert_int_equal(node_notices_set(t, "h", 0, 1), AUGUR_EINVAL);
    memset(long_host, 'x', sizeof long_host - 1);
    long_host[sizeof long_host - 1] = '\0';
    assert_int_equal(node_notices_set(t, long_host, 1, 1), AUGUR_EINVAL);
    for (unsigned i = 0; i < NODE_NOTICES_MAX; i++) {
        snprintf(host, sizeof host, "h%u", i);
        assert_int_equal(node_notices_set(t, host, i + 1, 1), 0);
    }
    assert_int_equal(node_notices_set(t, "one-more", 1, 1), AUGUR_EBUSY);
    /* A host that has one may still change it. */
    assert_int_equal(node_notices_set(t, "h3", 99, 1), 0);
    node_notices_clear(t, "h5");
    assert_int_equal(node_notices_set(t, "one-more", 1, 1), 0);
    node_notices_clear_all(t);
    assert_int_equal(t->n, 0);
    assert_null(node_notices_find(t, "h3"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(notice_is_acked_only_for_its_workflow),
        cmocka_unit_test(table_is_bounded_and_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
