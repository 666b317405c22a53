/* Allocation-failure sweep of store/: every malloc/calloc/realloc made by
 * the store and its inline msgpack buffers (linked with -Wl,--wrap) fails in
 * turn.  Each call must end in success or a clean AUGUR_ENOMEM that changed
 * nothing, and the store must go on working: never a crash, never a leak
 * (ASan checks at exit).  LMDB and msgpack-c's own allocations are in shared
 * libraries, out of the sweep's reach, except the cursor LMDB allocates in
 * mdb_cursor_open, which is wrapped too: it fails with ENOMEM as LMDB does
 * when its malloc fails. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static int fault_armed;
static long fault_countdown; /* allocations left to succeed */
static int fault_hit;

static int fault_should_fail(void)
{
    if (!fault_armed) {
        return 0;
    }
    if (fault_countdown == 0) {
        fault_hit = 1;
        fault_armed = 0; /* one failure per run */
        return 1;
    }
    fault_countdown--;
    return 0;
}

void *__wrap_malloc(size_t size)
{
    return fault_should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fault_should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fault_should_fail() ? NULL : __real_realloc(p, size);
}

int __real_mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur);
int __wrap_mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur);

static int cursor_fault_armed;
static long cursor_fault_countdown; /* cursor opens left to succeed */
static int cursor_fault_hit;

int __wrap_mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
    if (cursor_fault_armed) {
        if (cursor_fault_countdown == 0) {
            cursor_fault_armed = 0;
            cursor_fault_hit = 1;
            return ENOMEM;
        }
        cursor_fault_countdown--;
    }
    return __real_mdb_cursor_open(txn, dbi, cur);
}

static void fault_arm(long countdown)
{
    fault_countdown = countdown;
    fault_hit = 0;
    fault_armed = 1;
}

/* Returns whether the armed failure happened. */
static int fault_disarm(void)
{
    fault_armed = 0;
    return fault_hit;
}

/* Generous bound on the allocations of one call, so a broken sweep ends. */
#define SWEEP_MAX 200

static void digest(struct fx *f, unsigned char *out)
{
    assert_int_equal(store_digest(f->s, out), 0);
}

static void store_open_fails_cleanly_without_memory(void **state)
{
    char dir[] = "/tmp/augur-store-XXXXXX";
    char errmsg[STORE_ERRMSG_SIZE];
    char path[64];
    long k;

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (k = 0; k < SWEEP_MAX; k++) {
        struct store *s = NULL;
        int rv;

        fault_arm(k);
        rv = store_open(dir, STORE_OPEN_RESET, &s, errmsg);
        if (!fault_disarm()) {
            assert_int_equal(rv, 0);
            store_close(s);
            break;
        }
        if (rv == 0) {
            store_close(s);
        } else {
            assert_int_equal(rv, AUGUR_ENOMEM);
        }
    }
    assert_true(k < SWEEP_MAX);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

/* Close and reopen @f's store on the same state: the new store object and
 * the answer buffer start empty, so their first growth is a fallible
 * allocation. */
static void reopen(struct fx *f)
{
    char errmsg[STORE_ERRMSG_SIZE];

    store_close(f->s);
    assert_int_equal(store_open(f->dir, 0, &f->s, errmsg), 0);
    msgpack_sbuffer_destroy(&f->answer);
    msgpack_sbuffer_init(&f->answer);
}

/* A state to work on, built with allocation working. */
static void populate(struct fx *f)
{
    char id[16];

    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "n%02d", i);
        assert_int_equal(add_resource(f, id, "host", 8, 800), 0);
    }
    for (int i = 0; i + 1 < 40; i++) {
        char to[16];
        snprintf(id, sizeof id, "n%02d", i);
        snprintf(to, sizeof to, "n%02d", i + 1);
        assert_int_equal(add_edge(f, id, to), 0);
    }
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    reopen(f);
}

/* The writes of the sweep. */
static void make_write(struct store_cmd *c, int which)
{
    switch (which) {
        case 0:
            cmd_resource_add(c, "big", "host", 1, 1);
            c->u.resource_add.n_labels = STORE_LABELS_MAX;
            for (unsigned i = 0; i < STORE_LABELS_MAX; i++) {
                snprintf(c->u.resource_add.labels[i].key, STORE_LABEL_KEY_SIZE,
                         "label-%02u", i);
                memset(c->u.resource_add.labels[i].value, 'v',
                       STORE_LABEL_VALUE_SIZE - 1);
            }
            break;
        case 1:
            /* A cycle check walking the whole chain. */
            cmd_edge(c, STORE_OP_EDGE_ADD, "n39", "n00", STORE_EDGE_POWER);
            break;
        case 2:
            cmd_edge(c, STORE_OP_EDGE_ADD, "n00", "n39", STORE_EDGE_POWER);
            break;
        default:
            cmd_acquire(c, "w1", NULL);
            c->client = 5;
            c->seq = 1;
            c->ack = 1;
            break;
    }
}

static void apply_fails_cleanly_without_memory(void **state)
{
    (void)state;
    for (int which = 0; which < 4; which++) {
        long k;
        for (k = 0; k < SWEEP_MAX; k++) {
            unsigned char before[32];
            unsigned char after[32];
            struct store_cmd c;
            struct fx f;
            int rv;

            fx_open(&f);
            populate(&f);
            digest(&f, before);
            make_write(&c, which);
            c.time_ms = 1;
            fault_arm(k);
            rv = store_apply(f.s, &c, &f.answer);
            if (!fault_disarm()) {
                assert_int_equal(rv, 0);
                fx_close(&f);
                break;
            }
            if (rv != 0) {
                /* Nothing happened, and the store still works. */
                assert_int_equal(rv, AUGUR_ENOMEM);
                assert_int_equal(f.answer.size, 0);
                digest(&f, after);
                assert_memory_equal(before, after, 32);
                assert_int_equal(store_apply(f.s, &c, &f.answer), 0);
            }
            fx_close(&f);
        }
        assert_true(k < SWEEP_MAX);
    }
}

static void read_and_snapshot_fail_cleanly_without_memory(void **state)
{
    long k;

    (void)state;
    for (k = 0; k < SWEEP_MAX; k++) {
        struct store_cmd c;
        struct fx f;
        void *buf = NULL;
        size_t len = 0;
        int rv;
        int rv2;
        int hit;

        fx_open(&f);
        populate(&f);
        cmd_list(&c, STORE_OP_RESOURCE_LIST, NULL, NULL, 0);
        fault_arm(k);
        rv = store_read(f.s, &c, &f.answer);
        rv2 = store_snapshot(f.s, malloc, &buf, &len);
        hit = fault_disarm();
        assert_true(rv == 0 || rv == AUGUR_ENOMEM);
        assert_true(rv2 == 0 || rv2 == AUGUR_ENOMEM);
        if (rv2 == 0) {
            free(buf);
        }
        f.answer.size = 0;
        assert_int_equal(store_read(f.s, &c, &f.answer), 0);
        fx_close(&f);
        if (!hit) {
            assert_int_equal(rv, 0);
            assert_int_equal(rv2, 0);
            break;
        }
    }
    assert_true(k < SWEEP_MAX);
}

/* Snapshot buffers handed out and not yet given back. */
static long snap_buffers;

static void *snap_alloc(size_t size)
{
    void *p = malloc(size);

    snap_buffers += p != NULL;
    return p;
}

static void snap_release(void *p)
{
    snap_buffers -= p != NULL;
    free(p);
}

/* An asynchronous snapshot runs on a thread of its own while the loop
 * thread uses the store: whatever pass of it fails (the second one after
 * its buffer was allocated included), it gives the buffer back and keeps
 * its reason to itself, never writing the store's message. */
static void snapshot_take_failure_frees_its_buffer_and_spares_the_store(
    void **state)
{
    long k;

    (void)state;
    for (k = 0; k < 4 * STORE__DB_COUNT; k++) {
        struct store_snap *snap;
        void *buf = NULL;
        size_t len = 0;
        struct fx f;
        int rv;

        fx_open(&f);
        populate(&f);
        snprintf(f.s->errmsg, sizeof f.s->errmsg, "the loop's message");
        assert_int_equal(store_snapshot_begin(f.s, &snap), 0);
        snap_buffers = 0;
        cursor_fault_countdown = k;
        cursor_fault_hit = 0;
        cursor_fault_armed = 1;
        rv = store_snapshot_take(snap, snap_alloc, snap_release, &buf, &len);
        cursor_fault_armed = 0;
        assert_string_equal(f.s->errmsg, "the loop's message");
        if (!cursor_fault_hit) {
            assert_int_equal(rv, 0);
            assert_int_equal(snap_buffers, 1);
            assert_string_equal(store_snapshot_errmsg(snap), "");
            snap_release(buf);
            store_snapshot_end(snap);
            fx_close(&f);
            break;
        }
        /* Every cursor of the first pass (k < STORE__DB_COUNT) fails before
         * the buffer exists, every one of the second pass after. */
        assert_int_equal(rv, AUGUR_ENOMEM);
        assert_int_equal(snap_buffers, 0);
        assert_null(buf);
        assert_non_null(strstr(store_snapshot_errmsg(snap), "mdb_cursor_open"));
        store_snapshot_end(snap);
        fx_close(&f);
    }
    /* Both passes were swept, and then the snapshot succeeded. */
    assert_int_equal(k, 2 * STORE__DB_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_open_fails_cleanly_without_memory),
        cmocka_unit_test(apply_fails_cleanly_without_memory),
        cmocka_unit_test(read_and_snapshot_fail_cleanly_without_memory),
        cmocka_unit_test(
            snapshot_take_failure_frees_its_buffer_and_spares_the_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
