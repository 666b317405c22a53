/* common/: one row per op in ops.h, and no wire name spelled anywhere else;
 * log levels that live beside <syslog.h>. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <syslog.h>

#include "common/log.h"
#include "common/ops.h"
#include "store/store.h"

static void every_row_has_a_unique_name_and_number(void **state)
{
    (void)state;
    for (unsigned i = 1; i < AUGUR_OP_COUNT; i++) {
        const char *wire = augur_op_wire((enum augur_op)i);
        assert_non_null(wire);
        assert_int_equal(augur_op_find(wire, strlen(wire)), i);
        for (unsigned j = i + 1; j < AUGUR_OP_COUNT; j++) {
            assert_string_not_equal(wire, augur_op_wire((enum augur_op)j));
        }
    }
    assert_null(augur_op_wire(AUGUR_OP_NONE));
    assert_null(augur_op_wire(AUGUR_OP_COUNT));
    assert_int_equal(augur_op_find("claim.acquir", 12), AUGUR_OP_NONE);
    assert_int_equal(augur_op_find("claim.acquire2", 14), AUGUR_OP_NONE);
}

/* The store's view of its rows agrees with the table: names, numbers
 * (append-only: the log stores them), reads and writes. */
static void store_ops_follow_the_table(void **state)
{
    (void)state;
#define CHECK(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS)          \
    assert_int_equal(STORE_OP_##ID, NUM);                          \
    assert_string_equal(store_op_name(STORE_OP_##ID), WIRE);       \
    assert_int_equal(store_op_from_name(WIRE, strlen(WIRE)), NUM); \
    assert_int_equal(store_op_is_write(STORE_OP_##ID) != 0,        \
                     augur_op_is_write(AUGUR_OP_##ID));            \
    assert_true((NUM < 64) == (store_op_is_write(STORE_OP_##ID) != 0));
    AUGUR_STORE_OPS(CHECK)
#undef CHECK
    /* The numbers in today's logs. */
    assert_int_equal(STORE_OP_CLAIM_ACQUIRE, 6);
    assert_int_equal(STORE_OP_PRINCIPAL_BOOTSTRAP, 14);
    assert_int_equal(STORE_OP_PRINCIPAL_LIST, 73);
    assert_true(augur_op_is_write(AUGUR_OP_MEMBER_ADD));
    assert_false(augur_op_is_write(AUGUR_OP_STATUS));
    assert_false(augur_op_is_write(AUGUR_OP_PRINCIPAL_LIST));
    assert_int_equal(augur_op_role(AUGUR_OP_PRINCIPAL_LIST), AUGUR_ROLE_ADMIN);
    assert_int_equal(augur_op_role(AUGUR_OP_STATUS), AUGUR_ROLE_ANY);
    assert_int_equal(augur_op_role(AUGUR_OP_NODE_SET), AUGUR_ROLE_INTERNAL);
    /* Only a node's uplink forwards telemetry. */
    assert_int_equal(augur_op_role(AUGUR_OP_TELEMETRY_FORWARD),
                     AUGUR_ROLE_NODE);
}

/* Count the files under @dir (recursively) whose text holds "@wire" with
 * its quotes, except common/ops.h; print each. */
static unsigned scan(const char *dir, const char *wire)
{
    char quoted[128], path[4096];
    unsigned hits = 0;
    struct dirent *d;
    DIR *dp = opendir(dir);

    if (dp == NULL) {
        return 0;
    }
    snprintf(quoted, sizeof quoted, "\"%s\"", wire);
    while ((d = readdir(dp)) != NULL) {
        size_t len = strlen(d->d_name);
        FILE *f;
        char *text;
        long size;

        if (d->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
        if (d->d_type == DT_DIR) {
            hits += scan(path, wire);
            continue;
        }
        if (len < 3 || (strcmp(d->d_name + len - 2, ".c") != 0 &&
                        strcmp(d->d_name + len - 2, ".h") != 0)) {
            continue;
        }
        if (strstr(path, "/common/ops.h") != NULL) {
            continue;
        }
        f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = malloc((size_t)size + 1);
        assert_non_null(text);
        assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
        text[size] = '\0';
        fclose(f);
        if (strstr(text, quoted) != NULL) {
            printf("  %s spells %s\n", path, quoted);
            hits++;
        }
        free(text);
    }
    closedir(dp);
    return hits;
}

/* Outside tests/, a wire name lives in common/ops.h only: everything else
 * names the op (AUGUR_OP_..., STORE_OP_...).  "status" and "events" are
 * also field names, so only the dotted names can be checked this way. */
static void wire_names_are_spelled_only_in_the_table(void **state)
{
    /* include/augur.h is left out: users of the installed library spell
     * wire names, and its examples show them. */
    static const char *const dirs[] = {"common", "wire", "store", "raft",
                                       "api",    "node", "cli",   "predict"};
    unsigned hits = 0;
    char dir[4096];
    (void)state;

    for (unsigned i = 1; i < AUGUR_OP_COUNT; i++) {
        const char *wire = augur_op_wire((enum augur_op)i);
        if (strchr(wire, '.') == NULL) {
            continue;
        }
        for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
            snprintf(dir, sizeof dir, "%s/%s", AUGUR_SOURCE_DIR, dirs[k]);
            hits += scan(dir, wire);
        }
    }
    assert_int_equal(hits, 0);
}

/* common/log.h and <syslog.h> in one file: the levels used to be LOG_INFO
 * and LOG_DEBUG, which <syslog.h> defines as other numbers (this file did
 * not compile then). */
static void log_levels_do_not_clash_with_syslog(void **state)
{
    (void)state;
    assert_int_equal(LOG_LEVEL_ERROR, 0);
    assert_int_equal(LOG_LEVEL_INFO, 2);
    assert_int_equal(LOG_LEVEL_TRACE, 4);
    assert_int_equal(LOG_INFO, 6); /* syslog's */
    assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_has_a_unique_name_and_number),
        cmocka_unit_test(store_ops_follow_the_table),
        cmocka_unit_test(wire_names_are_spelled_only_in_the_table),
        cmocka_unit_test(log_levels_do_not_clash_with_syslog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
