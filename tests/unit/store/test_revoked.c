/* Unit tests of store/revoked.c: node.revoke records a node key, refuses it
 * twice and refuses a bad key, lookups fail closed, and the set survives a
 * snapshot and is part of the digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "helpers.h"

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void cmd_revoke(struct store_cmd *c, uint64_t id, const char *key)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_NODE_REVOKE;
    c->u.revoke.id = id;
    snprintf(c->u.revoke.key, sizeof c->u.revoke.key, "%s", key);
}

static void node_revoke_records_the_key_once(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t version = store_revoked_version(f->s);

    assert_int_equal(store_node_key_revoked(f->s, KEY_A), 0);
    cmd_revoke(&c, 3, KEY_A);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "key", KEY_A);
    assert_true(store_revoked_version(f->s) != version);
    assert_int_equal(store_node_key_revoked(f->s, KEY_A), 1);
    assert_int_equal(store_node_key_revoked(f->s, KEY_B), 0);
    assert_int_equal(store_node_revoked_count(f->s, 3), 1);
    assert_int_equal(store_node_revoked_count(f->s, 2), 0);
    /* Twice: refused, nothing changes. */
    assert_int_equal(fx_apply(f, &c), AUGUR_EEXIST);
    assert_int_equal(store_revision(f->s), 1);
    /* A second key of the same node. */
    cmd_revoke(&c, 3, KEY_B);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_node_revoked_count(f->s, 3), 2);
}

static void node_revoke_refuses_a_bad_key_or_node(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    cmd_revoke(&c, 3, "ABCD");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    cmd_revoke(&c, 0, KEY_A);
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
    assert_int_equal(store_node_key_revoked(f->s, KEY_A), 0);
}

static void revoked_keys_survive_a_snapshot_and_change_the_digest(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    struct fx g;
    unsigned char before[32], after[32], restored[32];
    uint64_t version;
    void *buf;
    size_t len;

    assert_int_equal(store_digest(f->s, before), 0);
    cmd_revoke(&c, 2, KEY_B);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_digest(f->s, after), 0);
    assert_memory_not_equal(before, after, sizeof before);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);

    memset(&g, 0, sizeof g);
    fx_open(&g);
    version = store_revoked_version(g.s);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_true(store_revoked_version(g.s) != version);
    assert_int_equal(store_node_key_revoked(g.s, KEY_B), 1);
    assert_int_equal(store_digest(g.s, restored), 0);
    assert_memory_equal(after, restored, sizeof after);
    fx_close(&g);
    free(buf);
}

/* A snapshot taken before the revoked keys' database existed (the same
 * bytes without its section and those after it, all empty here) still
 * restores. */
static void a_snapshot_without_the_revoked_keys_restores(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    struct fx g;
    static const char name[] = "revoked_node_keys";
    /* The empty sections from it to the end (issue 13's models and issue
     * 14's workflows came after it). */
    static const char *const later[] = {
        "models",      "model_pending",  "model_data", "model_active",
        "cohorts",     "cohort_of",      "policy",     "workflows",
        "workflow_of", "workload_moves", "standby",    "host_standby"};
    size_t section = 1 + (sizeof name - 1) + 8;
    unsigned char *p;
    void *buf;
    size_t len;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_RESOURCE_ADD;
    snprintf(c.u.resource_add.id, sizeof c.u.resource_add.id, "h1");
    snprintf(c.u.resource_add.kind, sizeof c.u.resource_add.kind, "host");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    p = buf;
    len -= 32; /* the checksum */
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        section += 1 + strlen(later[i]) + 8;
    }
    assert_memory_equal(p + len - section + 1, name, sizeof name - 1);
    len -= section;
    p[15] -= 1 + sizeof later / sizeof later[0]; /* the number of databases,
                                                    BE u32 at offset 12 */
    crypto_generichash(p + len, 32, p, len, NULL, 0);
    len += 32;

    memset(&g, 0, sizeof g);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_revision(g.s), 1);
    assert_int_equal(store_node_key_revoked(g.s, KEY_A), 0);
    fx_close(&g);
    free(buf);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(node_revoke_records_the_key_once),
        T(node_revoke_refuses_a_bad_key_or_node),
        T(revoked_keys_survive_a_snapshot_and_change_the_digest),
        T(a_snapshot_without_the_revoked_keys_restores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
