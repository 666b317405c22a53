/* Unit tests of store/principals.c: add, remove, bootstrap once, lookup by
 * key, refusals, and principals surviving a snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define KEY_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Whether principal.bootstrap applied, asserting that the lookup worked. */
static bool bootstrapped(struct store *s)
{
    bool done = false;
    assert_int_equal(store_principals_bootstrapped(s, &done), 0);
    return done;
}

static void cmd_principal(struct store_cmd *c,
                          enum store_op op,
                          const char *name,
                          const char *key,
                          int role)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    snprintf(c->u.principal.name, sizeof c->u.principal.name, "%s", name);
    if (key != NULL) {
        snprintf(c->u.principal.key, sizeof c->u.principal.key, "%s", key);
    }
    c->u.principal.role = role;
}

static void principal_add_find_and_remove(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    char name[STORE_ID_SIZE];
    int role = -1;

    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "alice", KEY_A,
                  STORE_ROLE_READER);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "name", "alice");
    assert_obj_str(ans_result(f), "role", "reader");
    assert_int_equal(store_principal_find(f->s, KEY_A, name, &role), 0);
    assert_string_equal(name, "alice");
    assert_int_equal(role, STORE_ROLE_READER);
    assert_int_equal(store_principal_find(f->s, KEY_B, name, &role),
                     AUGUR_ENOTFOUND);

    /* The same name, or the same key under another name: refused. */
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "alice", KEY_B, STORE_ROLE_ADMIN);
    assert_int_equal(fx_apply(f, &c), AUGUR_EEXIST);
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "bob", KEY_A, STORE_ROLE_ADMIN);
    assert_int_equal(fx_apply(f, &c), AUGUR_EEXIST);
    assert_int_equal(store_revision(f->s), 1);

    cmd_principal(&c, STORE_OP_PRINCIPAL_REMOVE, "alice", NULL, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_principal_find(f->s, KEY_A, name, &role),
                     AUGUR_ENOTFOUND);
    assert_int_equal(fx_apply(f, &c), AUGUR_ENOTFOUND);
}

static void principal_add_refuses_bad_keys_and_roles(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "x", "ABCD", STORE_ROLE_ADMIN);
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "x", KEY_A, 9);
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
}

static void bootstrap_applies_once(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    char name[STORE_ID_SIZE];
    int role = -1;

    assert_false(bootstrapped(f->s));
    cmd_principal(&c, STORE_OP_PRINCIPAL_BOOTSTRAP, "admin", KEY_A, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_true(bootstrapped(f->s));
    assert_int_equal(store_principal_find(f->s, KEY_A, name, &role), 0);
    assert_int_equal(role, STORE_ROLE_ADMIN);
    /* Once only, even after the admin is removed (another admin first:
     * the last one cannot be). */
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "root2", KEY_B, STORE_ROLE_ADMIN);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_REMOVE, "admin", NULL, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_BOOTSTRAP, "admin", KEY_B, 0);
    assert_int_equal(fx_apply(f, &c), AUGUR_EEXIST);
    assert_true(bootstrapped(f->s));
}

/* Removing the last admin would lock the cluster out for good (issue 12,
 * item 13): refused, and nothing changes; with a second admin it is
 * allowed, and other roles are never held back. */
static void the_last_admin_cannot_be_removed(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    char name[STORE_ID_SIZE];
    int role = -1;

    cmd_principal(&c, STORE_OP_PRINCIPAL_BOOTSTRAP, "admin", KEY_A, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "reader", KEY_B,
                  STORE_ROLE_READER);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_REMOVE, "admin", NULL, 0);
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "the last admin"));
    assert_int_equal(store_principal_find(f->s, KEY_A, name, &role), 0);
    assert_int_equal(store_revision(f->s), 2);

    cmd_principal(&c, STORE_OP_PRINCIPAL_REMOVE, "reader", NULL, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "root2", KEY_B, STORE_ROLE_ADMIN);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_REMOVE, "admin", NULL, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_REMOVE, "root2", NULL, 0);
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
}

static void principals_survive_a_snapshot(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    struct fx g;
    char name[STORE_ID_SIZE];
    int role = -1;
    void *buf;
    size_t len;
    uint64_t version;

    cmd_principal(&c, STORE_OP_PRINCIPAL_BOOTSTRAP, "admin", KEY_A, 0);
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "ops", KEY_B,
                  STORE_ROLE_OPERATOR);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);

    memset(&g, 0, sizeof g);
    fx_open(&g);
    version = store_principals_version(g.s);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_true(store_principals_version(g.s) != version);
    assert_true(bootstrapped(g.s));
    assert_int_equal(store_principal_find(g.s, KEY_B, name, &role), 0);
    assert_string_equal(name, "ops");
    assert_int_equal(role, STORE_ROLE_OPERATOR);
    fx_close(&g);
    free(buf);
}

/* An agent bound to resources: the list travels in the command (through
 * the codec, as a leader's log entry does), is kept in the record, shown by
 * the answers, and decides what it may report for. */
static void agent_principal_is_scoped_to_its_resources(void **state)
{
    struct fx *f = *state;
    msgpack_sbuffer buf;
    struct store_cmd c;

    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "agent-h1", KEY_A,
                  STORE_ROLE_AGENT);
    c.u.principal.n_resources = 2;
    snprintf(c.u.principal.resources[0], STORE_ID_SIZE, "h1");
    snprintf(c.u.principal.resources[1], STORE_ID_SIZE, "h2");
    c.time_ms = f->time_ms;
    msgpack_sbuffer_init(&buf);
    assert_int_equal(store_cmd_encode(&c, &buf), 0);
    assert_int_equal(fx_apply_raw(f, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy(&buf);
    assert_int_equal(obj_len(ans_result(f), "resources"), 2);

    assert_int_equal(store_principal_scope(f->s, KEY_A, "h1"), 0);
    assert_int_equal(store_principal_scope(f->s, KEY_A, "h2"), 0);
    assert_int_equal(store_principal_scope(f->s, KEY_A, "h3"), AUGUR_EPERM);
    assert_int_equal(store_principal_scope(f->s, KEY_B, "h1"), AUGUR_ENOTFOUND);
    /* Another role reports for any resource. */
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "ops", KEY_B,
                  STORE_ROLE_OPERATOR);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_principal_scope(f->s, KEY_B, "h3"), 0);
    /* A reader only reads. */
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "eve", KEY_C, STORE_ROLE_READER);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_principal_scope(f->s, KEY_C, "h3"), AUGUR_EPERM);

    /* principal.list shows the scope. */
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_PRINCIPAL_LIST;
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(&obj_get(ans_result(f), "items")->via.array.ptr[0],
                             "resources"),
                     2);
}

static void principal_resources_are_checked(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    /* Only agents have a scope. */
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "ops", KEY_A,
                  STORE_ROLE_OPERATOR);
    c.u.principal.n_resources = 1;
    snprintf(c.u.principal.resources[0], STORE_ID_SIZE, "h1");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    /* No id twice, no bad id. */
    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "a", KEY_A, STORE_ROLE_AGENT);
    c.u.principal.n_resources = 2;
    snprintf(c.u.principal.resources[0], STORE_ID_SIZE, "h1");
    snprintf(c.u.principal.resources[1], STORE_ID_SIZE, "h1");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    snprintf(c.u.principal.resources[1], STORE_ID_SIZE, "h 2");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
}

/* A record written before scopes existed ([key, role]) still decodes: an
 * agent without resources may report for none. */
static void principal_record_without_resources_still_decodes(void **state)
{
    struct fx *f = *state;
    char name[STORE_ID_SIZE];
    int role = -1;
    msgpack_sbuffer buf;
    msgpack_packer pk;

    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, KEY_A, strlen(KEY_A));
    msgpack_pack_uint64(&pk, STORE_ROLE_AGENT);
    fx_raw_put(f, "principals", "old", 3, buf.data, buf.size);
    fx_raw_put(f, "principal_keys", KEY_A, strlen(KEY_A), "old", 3);
    msgpack_sbuffer_destroy(&buf);
    assert_int_equal(store_principal_find(f->s, KEY_A, name, &role), 0);
    assert_string_equal(name, "old");
    assert_int_equal(role, STORE_ROLE_AGENT);
    assert_int_equal(store_principal_scope(f->s, KEY_A, "h1"), AUGUR_EPERM);
}

static void agent_scope_survives_a_snapshot(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    struct fx g;
    void *buf;
    size_t len;

    cmd_principal(&c, STORE_OP_PRINCIPAL_ADD, "agent-h1", KEY_A,
                  STORE_ROLE_AGENT);
    c.u.principal.n_resources = 1;
    snprintf(c.u.principal.resources[0], STORE_ID_SIZE, "h1");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    memset(&g, 0, sizeof g);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_principal_scope(g.s, KEY_A, "h1"), 0);
    assert_int_equal(store_principal_scope(g.s, KEY_A, "h2"), AUGUR_EPERM);
    fx_close(&g);
    free(buf);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(agent_principal_is_scoped_to_its_resources),
        T(principal_resources_are_checked),
        T(principal_record_without_resources_still_decodes),
        T(agent_scope_survives_a_snapshot),
        T(principal_add_find_and_remove),
        T(principal_add_refuses_bad_keys_and_roles),
        T(bootstrap_applies_once),
        T(the_last_admin_cannot_be_removed),
        T(principals_survive_a_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
