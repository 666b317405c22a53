/* raft/entry.c: the log entry format applied to a store.  Whether an entry
 * is well formed is decided from the entry and its version alone: version 2
 * holds 1 to 4096 commands whatever the build that applies it batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../store/helpers.h"
#include "raft/entry.h"

/* An entry under construction: header, (count,) commands, padding. */
struct entry
{
    msgpack_sbuffer sb;
    uint32_t count;
};

static void be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void entry_begin(struct entry *e, uint8_t version)
{
    unsigned char head[REPLICA__ENTRY_HEADER + 4] = {0};

    msgpack_sbuffer_init(&e->sb);
    e->count = 0;
    head[4] = version;
    msgpack_sbuffer_write(&e->sb, (const char *)head,
                          version == REPLICA__ENTRY_BATCH
                              ? sizeof head
                              : (size_t)REPLICA__ENTRY_HEADER);
}

/* Append a workload.add of @id: framed by its length in a batch, bare in a
 * version 1 entry. */
static void entry_add_workload(struct entry *e, const char *id)
{
    msgpack_sbuffer cmd;
    struct store_cmd c;
    unsigned char len[4];

    cmd_workload_add(&c, id, 1, 1);
    c.time_ms = 1700000000000;
    msgpack_sbuffer_init(&cmd);
    assert_int_equal(store_cmd_encode(&c, &cmd), 0);
    if (((unsigned char *)e->sb.data)[4] == REPLICA__ENTRY_BATCH) {
        be32_put(len, (uint32_t)cmd.size);
        msgpack_sbuffer_write(&e->sb, (const char *)len, sizeof len);
    }
    msgpack_sbuffer_write(&e->sb, cmd.data, cmd.size);
    msgpack_sbuffer_destroy(&cmd);
    e->count++;
}

/* Fill in the header (and the count, @count_override when not 0) and pad
 * to a multiple of 8 bytes, as the replica writes entries. */
static void entry_end(struct entry *e, uint32_t count_override)
{
    static const char zeros[8] = {0};
    unsigned char *p = (unsigned char *)e->sb.data;

    be32_put(p, (uint32_t)(e->sb.size - REPLICA__ENTRY_HEADER));
    if (p[4] == REPLICA__ENTRY_BATCH) {
        be32_put(p + REPLICA__ENTRY_HEADER,
                 count_override != 0 ? count_override : e->count);
    }
    msgpack_sbuffer_write(&e->sb, zeros, (8 - e->sb.size % 8) % 8);
}

/* What one apply produced. */
struct applied
{
    msgpack_sbuffer answer;
    size_t ends[4096];
    unsigned n_ends;
};

static int apply(struct fx *f, const struct entry *e, struct applied *a)
{
    msgpack_sbuffer_init(&a->answer);
    return replica__entry_apply(f->s, e->sb.data, e->sb.size, &a->answer,
                                a->ends, &a->n_ends);
}

/* The status of answer @i. */
static int answer_status(const struct applied *a, unsigned i)
{
    size_t start = i == 0 ? 0 : a->ends[i - 1];
    msgpack_unpacked u;
    size_t off = 0;
    int status = -1;

    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, a->answer.data + start,
                                         a->ends[i] - start, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, a->ends[i] - start);
    for (uint32_t k = 0; k < u.data.via.map.size; k++) {
        const msgpack_object_kv *kv = &u.data.via.map.ptr[k];
        if (kv->key.via.str.size == 6 &&
            memcmp(kv->key.via.str.ptr, "status", 6) == 0) {
            status = (int)kv->val.via.u64;
        }
    }
    msgpack_unpacked_destroy(&u);
    return status;
}

static void entry_version_1_applies_its_one_command(void **state)
{
    struct fx *f = *state;
    struct applied *a = malloc(sizeof *a);
    struct entry e;

    assert_non_null(a);
    entry_begin(&e, REPLICA__ENTRY_SINGLE);
    entry_add_workload(&e, "w1");
    entry_end(&e, 0);
    assert_int_equal(apply(f, &e, a), 0);
    assert_int_equal(a->n_ends, 1);
    assert_int_equal(answer_status(a, 0), 0);
    assert_int_equal(store_revision(f->s), 1);
    msgpack_sbuffer_destroy(&a->answer);
    msgpack_sbuffer_destroy(&e.sb);
    free(a);
}

static void entry_version_2_answers_each_command_in_order(void **state)
{
    struct fx *f = *state;
    struct applied *a = malloc(sizeof *a);
    struct entry e;

    assert_non_null(a);
    entry_begin(&e, REPLICA__ENTRY_BATCH);
    entry_add_workload(&e, "w1");
    entry_add_workload(&e, "w1"); /* refused: it exists */
    entry_add_workload(&e, "w2");
    entry_end(&e, 0);
    assert_int_equal(apply(f, &e, a), 0);
    assert_int_equal(a->n_ends, 3);
    assert_int_equal(answer_status(a, 0), 0);
    assert_int_equal(answer_status(a, 1), AUGUR_EEXIST);
    assert_int_equal(answer_status(a, 2), 0);
    assert_int_equal(store_revision(f->s), 2);
    msgpack_sbuffer_destroy(&a->answer);
    msgpack_sbuffer_destroy(&e.sb);
    free(a);
}

/* Version 2's count limit is the format's: an entry of 4096 commands
 * applies whole on every build (the writer of this one may batch fewer),
 * and 4097, or none, is refused as malformed with nothing applied. */
static void entry_version_2_holds_up_to_4096_commands_on_every_build(
    void **state)
{
    struct fx *f = *state;
    struct applied *a = malloc(sizeof *a);
    struct entry e;
    char id[16];

    assert_non_null(a);
    entry_begin(&e, REPLICA__ENTRY_BATCH);
    for (unsigned i = 0; i < 4096; i++) {
        snprintf(id, sizeof id, "w%u", i);
        entry_add_workload(&e, id);
    }
    entry_end(&e, 0);
    assert_int_equal(apply(f, &e, a), 0);
    assert_int_equal(a->n_ends, 4096);
    assert_int_equal(answer_status(a, 0), 0);
    assert_int_equal(answer_status(a, 4095), 0);
    assert_int_equal(store_revision(f->s), 4096);
    msgpack_sbuffer_destroy(&a->answer);
    msgpack_sbuffer_destroy(&e.sb);

    entry_begin(&e, REPLICA__ENTRY_BATCH);
    for (unsigned i = 0; i < 4097; i++) {
        snprintf(id, sizeof id, "x%u", i);
        entry_add_workload(&e, id);
    }
    entry_end(&e, 0);
    assert_int_equal(apply(f, &e, a), 0);
    assert_int_equal(a->n_ends, 1);
    assert_int_equal(answer_status(a, 0), AUGUR_EMALFORMED);
    assert_int_equal(store_revision(f->s), 4096);
    msgpack_sbuffer_destroy(&a->answer);
    msgpack_sbuffer_destroy(&e.sb);

    entry_begin(&e, REPLICA__ENTRY_BATCH);
    entry_end(&e, 0);
    assert_int_equal(apply(f, &e, a), 0);
    assert_int_equal(a->n_ends, 1);
    assert_int_equal(answer_status(a, 0), AUGUR_EMALFORMED);
    assert_int_equal(store_revision(f->s), 4096);
    msgpack_sbuffer_destroy(&a->answer);
    msgpack_sbuffer_destroy(&e.sb);
    free(a);
}

/* Bad framing changes nothing and is answered once: an unknown version, a
 * body longer than the entry, a count claiming more commands than there
 * are, a command length past the body. */
static void entry_with_bad_framing_is_malformed_and_changes_nothing(
    void **state)
{
    struct fx *f = *state;
    struct applied *a = malloc(sizeof *a);
    struct entry e;

    assert_non_null(a);
    for (int which = 0; which < 4; which++) {
        entry_begin(&e, which == 0 ? 3 : REPLICA__ENTRY_BATCH);
        entry_add_workload(&e, "w1");
        entry_add_workload(&e, "w2");
        entry_end(&e, which == 2 ? 3 : 0);
        if (which == 1) {
            be32_put((unsigned char *)e.sb.data, (uint32_t)e.sb.size);
        } else if (which == 3) {
            be32_put((unsigned char *)e.sb.data + REPLICA__ENTRY_HEADER + 4,
                     (uint32_t)e.sb.size);
        }
        assert_int_equal(apply(f, &e, a), 0);
        assert_int_equal(a->n_ends, 1);
        assert_int_equal(answer_status(a, 0), AUGUR_EMALFORMED);
        assert_int_equal(store_revision(f->s), 0);
        msgpack_sbuffer_destroy(&a->answer);
        msgpack_sbuffer_destroy(&e.sb);
    }
    free(a);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(entry_version_1_applies_its_one_command),
        T(entry_version_2_answers_each_command_in_order),
        T(entry_version_2_holds_up_to_4096_commands_on_every_build),
        T(entry_with_bad_framing_is_malformed_and_changes_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
