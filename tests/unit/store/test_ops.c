/* Unit tests of store/'s resource, workload, edge and node ops: results,
 * refusals, lists and their paging, and the store's lifecycle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

static void assert_digest_unchanged(struct fx *f, const unsigned char *before)
{
    unsigned char after[32];

    assert_int_equal(store_digest(f->s, after), 0);
    assert_memory_equal(before, after, 32);
}

/* ---- lifecycle -------------------------------------------------------- */

static void open_keeps_state_and_reset_empties_it(void **state)
{
    struct fx *f = *state;
    char errmsg[STORE_ERRMSG_SIZE];

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(add_host(f, "h2", 1, 1), 0);
    store_close(f->s);
    assert_int_equal(store_open(f->dir, 0, &f->s, errmsg), 0);
    assert_int_equal(store_revision(f->s), 2);
    assert_int_equal(get_resource(f, "h2"), 0);
    store_close(f->s);
    assert_int_equal(store_open(f->dir, STORE_OPEN_RESET, &f->s, errmsg), 0);
    assert_int_equal(store_revision(f->s), 0);
    assert_int_equal(get_resource(f, "h2"), AUGUR_ENOTFOUND);
}

static void open_fails_on_a_missing_directory(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE] = "";
    struct store *s = NULL;

    (void)state;
    assert_int_equal(store_open("/nonexistent/augur/state", 0, &s, errmsg),
                     AUGUR_EIO);
    assert_null(s);
    assert_non_null(strstr(errmsg, "/nonexistent/augur/state"));
}

static void apply_refuses_reads_and_read_refuses_writes(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    cmd_get(&c, STORE_OP_RESOURCE_GET, "h1");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    cmd_resource_add(&c, "h1", "host", 1, 1);
    assert_int_equal(fx_read(f, &c), AUGUR_EINVAL);
    memset(&c, 0, sizeof c);
    c.op = (enum store_op)42;
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(fx_read(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
}

/* ---- resources -------------------------------------------------------- */

static void resource_add_answers_the_resource_and_one_revision(void **state)
{
    struct fx *f = *state;
    const msgpack_object *r;
    const msgpack_object *labels;
    struct store_cmd c;

    cmd_resource_add(&c, "h1", "host", 64, 65536);
    c.u.resource_add.n_labels = 2;
    snprintf(c.u.resource_add.labels[0].key, STORE_LABEL_KEY_SIZE, "zone");
    snprintf(c.u.resource_add.labels[0].value, STORE_LABEL_VALUE_SIZE, "z1");
    snprintf(c.u.resource_add.labels[1].key, STORE_LABEL_KEY_SIZE, "rack");
    snprintf(c.u.resource_add.labels[1].value, STORE_LABEL_VALUE_SIZE, "r7");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(ans_rev(f), 1);
    assert_int_equal(store_revision(f->s), 1);
    r = ans_result(f);
    assert_obj_str(r, "id", "h1");
    assert_obj_str(r, "kind", "host");
    assert_obj_str(r, "state", "active");
    assert_true(obj_is_nil(r, "score"));
    assert_int_equal(obj_u64(obj_get(r, "capacity"), "cpu"), 64);
    assert_int_equal(obj_u64(obj_get(r, "capacity"), "mem_mb"), 65536);
    assert_int_equal(obj_u64(obj_get(r, "used"), "cpu"), 0);
    assert_int_equal(obj_u64(obj_get(r, "used"), "mem_mb"), 0);
    /* Labels come back sorted by key. */
    labels = obj_get(r, "labels");
    assert_non_null(labels);
    assert_int_equal(labels->via.map.size, 2);
    assert_memory_equal(labels->via.map.ptr[0].key.via.str.ptr, "rack", 4);
    assert_obj_str(labels, "rack", "r7");
    assert_obj_str(labels, "zone", "z1");

    /* resource.get answers the same object. */
    assert_int_equal(get_resource(f, "h1"), 0);
    assert_obj_str(ans_result(f), "id", "h1");
    assert_obj_str(obj_get(ans_result(f), "labels"), "zone", "z1");
}

static void resource_add_refuses_an_existing_id(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(store_digest(f->s, before), 0);
    assert_int_equal(add_resource(f, "h1", "psu", 0, 0), AUGUR_EEXIST);
    assert_string_equal(ans_error(f), "resource h1 already exists");
    assert_null(obj_get(&f->u.data, "rev"));
    assert_int_equal(store_revision(f->s), 1);
    assert_digest_unchanged(f, before);
}

static void apply_refuses_an_invalid_hand_built_command(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    cmd_resource_add(&c, "h1", "host", 1, 1);
    c.u.resource_add.id[0] = 0;
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    cmd_resource_add(&c, "h1", "host", 1, 1);
    memset(c.u.resource_add.id, 'x', sizeof c.u.resource_add.id);
    assert_int_equal(fx_apply(f, &c), AUGUR_ETOOBIG);
    cmd_resource_add(&c, "h1", "host", 1, 1);
    c.u.resource_add.n_labels = STORE_LABELS_MAX + 1;
    assert_int_equal(fx_apply(f, &c), AUGUR_ETOOBIG);
    cmd_resource_add(&c, "h1", "host", 1, 1);
    c.u.resource_add.n_labels = 1; /* a label with an empty key */
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
}

static void resource_set_state_changes_the_state(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(set_state(f, "h1", STORE_STATE_DRAINING), 0);
    assert_obj_str(ans_result(f), "state", "draining");
    assert_int_equal(ans_rev(f), 2);
    assert_int_equal(get_resource(f, "h1"), 0);
    assert_obj_str(ans_result(f), "state", "draining");
}

static void resource_set_state_refuses_unknown_resource_and_state(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(set_state(f, "h9", STORE_STATE_FAILED), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named h9");
    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    cmd_set_state(&c, "h1", 99);
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 1);
}

static void score_set_records_p_window_and_leader_time(void **state)
{
    struct fx *f = *state;
    const msgpack_object *score;
    struct store_cmd c;

    assert_int_equal(add_resource(f, "psu-1", "psu", 0, 0), 0);
    cmd_score(&c, "psu-1", 0.75);
    c.u.score.window_s = 7200;
    c.time_ms = 1234567;
    assert_int_equal(fx_apply(f, &c), 0);
    score = obj_get(ans_result(f), "score");
    assert_non_null(score);
    assert_int_equal(obj_get(score, "p")->type, MSGPACK_OBJECT_FLOAT64);
    assert_true(obj_get(score, "p")->via.f64 == 0.75);
    assert_int_equal(obj_u64(score, "window"), 7200);
    assert_int_equal(obj_u64(score, "updated_at"), 1234567);
}

static void score_set_refuses_unknown_resource_and_bad_p(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(set_score(f, "h9", 0.5), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named h9");
    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(set_score(f, "h1", 1.5), AUGUR_EINVAL);
    cmd_score(&c, "h1", 0.5);
    c.u.score.window_s = 0;
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 1);
}

static void get_refuses_unknown_ids(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(get_resource(f, "h9"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named h9");
    cmd_get(&c, STORE_OP_WORKLOAD_GET, "w9");
    assert_int_equal(fx_read(f, &c), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no workload named w9");
    assert_int_equal(get_claim(f, "w9"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no workload named w9");
}

/* Walk a whole list page by page; returns the number of items and checks
 * that ids come in strictly increasing order. */
static unsigned list_all(struct fx *f,
                         enum store_op op,
                         const char *filter,
                         unsigned limit,
                         const char *key)
{
    char after[STORE_CURSOR_SIZE] = "";
    char prev[STORE_CURSOR_SIZE] = "";
    unsigned total = 0;

    for (;;) {
        struct store_cmd c;
        const msgpack_object *items;
        const msgpack_object *next;

        cmd_list(&c, op, after, filter, limit);
        assert_int_equal(fx_read(f, &c), 0);
        items = obj_get(ans_result(f), "items");
        assert_non_null(items);
        assert_true(items->via.array.size <= (limit == 0 ? 1000 : limit));
        for (uint32_t i = 0; i < items->via.array.size; i++) {
            const msgpack_object *id = obj_get(&items->via.array.ptr[i], key);
            char cur[STORE_CURSOR_SIZE];
            assert_non_null(id);
            snprintf(cur, sizeof cur, "%.*s", (int)id->via.str.size,
                     id->via.str.ptr);
            assert_true(strcmp(prev, cur) < 0);
            snprintf(prev, sizeof prev, "%s", cur);
            total++;
        }
        next = obj_get(ans_result(f), "next");
        assert_non_null(next);
        if (next->type == MSGPACK_OBJECT_NIL) {
            break;
        }
        assert_int_equal(next->type, MSGPACK_OBJECT_STR);
        assert_int_equal(items->via.array.size, limit);
        snprintf(after, sizeof after, "%.*s", (int)next->via.str.size,
                 next->via.str.ptr);
    }
    return total;
}

static void resource_list_pages_in_key_order(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    char id[16];

    /* Added out of order: listed in key order. */
    for (int i = 24; i >= 0; i--) {
        snprintf(id, sizeof id, "r%02d", i);
        assert_int_equal(add_host(f, id, 1, 1), 0);
    }
    cmd_list(&c, STORE_OP_RESOURCE_LIST, NULL, NULL, 10);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 10);
    assert_obj_str(ans_result(f), "next", "r09");
    cmd_list(&c, STORE_OP_RESOURCE_LIST, "r09", NULL, 10);
    assert_int_equal(fx_read(f, &c), 0);
    assert_obj_str(&obj_get(ans_result(f), "items")->via.array.ptr[0], "id",
                   "r10");
    assert_obj_str(ans_result(f), "next", "r19");
    cmd_list(&c, STORE_OP_RESOURCE_LIST, "r19", NULL, 10);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 5);
    assert_true(obj_is_nil(ans_result(f), "next"));
    /* Exactly a page: no next. */
    cmd_list(&c, STORE_OP_RESOURCE_LIST, "r14", NULL, 10);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 10);
    assert_true(obj_is_nil(ans_result(f), "next"));
    /* A cursor need not exist: the page starts after it. */
    cmd_list(&c, STORE_OP_RESOURCE_LIST, "r105", NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 14);
    assert_int_equal(list_all(f, STORE_OP_RESOURCE_LIST, NULL, 3, "id"), 25);
    assert_int_equal(list_all(f, STORE_OP_RESOURCE_LIST, NULL, 0, "id"), 25);
}

/* A resource as large as a record gets: every label, every value full. */
static void add_large_resource(struct fx *f, const char *id)
{
    struct store_cmd c;

    cmd_resource_add(&c, id, "host", 1, 1);
    c.u.resource_add.n_labels = STORE_LABELS_MAX;
    for (unsigned i = 0; i < STORE_LABELS_MAX; i++) {
        struct store_label *l = &c.u.resource_add.labels[i];
        snprintf(l->key, sizeof l->key, "label-%02u", i);
        memset(l->value, 'v', sizeof l->value - 1);
        l->value[sizeof l->value - 1] = '\0';
    }
    assert_int_equal(fx_apply(f, &c), 0);
}

/* Pages end at the byte budget as well as at the limit: every record comes
 * exactly once, in order, no page's items pass the budget (unless a page
 * holds one item), and the last page has no next. */
static void resource_list_pages_by_size_return_every_record_once(void **state)
{
    struct fx *f = *state;
    const size_t budget = 16 * 1024;
    char after[STORE_CURSOR_SIZE] = "";
    unsigned pages = 0;
    unsigned total = 0;
    char id[16];

    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "r%03d", i);
        add_large_resource(f, id);
    }
    store_page_bytes_set(f->s, budget);
    for (;;) {
        struct store_cmd c;
        const msgpack_object *items;
        const msgpack_object *next;

        cmd_list(&c, STORE_OP_RESOURCE_LIST, after, NULL, 0);
        assert_int_equal(fx_read(f, &c), 0);
        /* The answer is the items plus a few bytes of framing. */
        assert_true(f->answer.size < budget + 256);
        items = obj_get(ans_result(f), "items");
        assert_non_null(items);
        assert_true(items->via.array.size >= 1);
        for (uint32_t i = 0; i < items->via.array.size; i++) {
            snprintf(id, sizeof id, "r%03u", total);
            assert_obj_str(&items->via.array.ptr[i], "id", id);
            total++;
        }
        pages++;
        next = obj_get(ans_result(f), "next");
        assert_non_null(next);
        if (next->type == MSGPACK_OBJECT_NIL) {
            break;
        }
        assert_int_equal(next->type, MSGPACK_OBJECT_STR);
        snprintf(after, sizeof after, "%.*s", (int)next->via.str.size,
                 next->via.str.ptr);
        snprintf(id, sizeof id, "r%03u", total - 1);
        assert_string_equal(after, id);
    }
    assert_int_equal(total, 60);
    /* Over 2 KB a record: at most seven to a page of 16 KiB. */
    assert_true(pages >= 60 / 7);

    /* A budget smaller than one record: one record a page, never none. */
    store_page_bytes_set(f->s, 1);
    assert_int_equal(list_all(f, STORE_OP_RESOURCE_LIST, NULL, 1, "id"), 60);
    /* The limit still ends a page first when it is smaller. */
    store_page_bytes_set(f->s, 0);
    assert_int_equal(list_all(f, STORE_OP_RESOURCE_LIST, NULL, 7, "id"), 60);
}

/* ---- workloads -------------------------------------------------------- */

static void workload_add_answers_the_workload_without_claim(void **state)
{
    struct fx *f = *state;
    const msgpack_object *w;
    struct store_cmd c;

    cmd_workload_add(&c, "w1", 4, 1024);
    c.u.workload_add.priority = -3;
    assert_int_equal(fx_apply(f, &c), 0);
    w = ans_result(f);
    assert_obj_str(w, "id", "w1");
    assert_int_equal(obj_u64(obj_get(w, "demand"), "cpu"), 4);
    assert_int_equal(obj_u64(obj_get(w, "demand"), "mem_mb"), 1024);
    assert_int_equal(obj_get(w, "priority")->via.i64, -3);
    assert_true(obj_is_nil(w, "claim"));
    cmd_get(&c, STORE_OP_WORKLOAD_GET, "w1");
    assert_int_equal(fx_read(f, &c), 0);
    assert_obj_str(ans_result(f), "id", "w1");
}

static void workload_add_refuses_an_existing_id(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(add_workload(f, "w1", 2, 2), AUGUR_EEXIST);
    assert_string_equal(ans_error(f), "workload w1 already exists");
    assert_int_equal(store_revision(f->s), 1);
}

static void workload_list_pages_and_shows_claims(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    const msgpack_object *items;
    char id[16];

    assert_int_equal(add_host(f, "h1", 100, 100), 0);
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof id, "w%d", i);
        assert_int_equal(add_workload(f, id, 1, 1), 0);
    }
    assert_int_equal(acquire(f, "w3", "h1"), 0);
    assert_int_equal(list_all(f, STORE_OP_WORKLOAD_LIST, NULL, 2, "id"), 7);
    cmd_list(&c, STORE_OP_WORKLOAD_LIST, "w2", NULL, 1);
    assert_int_equal(fx_read(f, &c), 0);
    items = obj_get(ans_result(f), "items");
    assert_obj_str(&items->via.array.ptr[0], "id", "w3");
    assert_obj_str(obj_get(&items->via.array.ptr[0], "claim"), "host", "h1");
}

/* ---- edges ------------------------------------------------------------ */

static void edge_add_answers_the_edge(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(add_resource(f, "psu-1", "psu", 0, 0), 0);
    cmd_edge(&c, STORE_OP_EDGE_ADD, "h1", "psu-1", STORE_EDGE_POWER);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(ans_rev(f), 3);
    assert_obj_str(ans_result(f), "from", "h1");
    assert_obj_str(ans_result(f), "to", "psu-1");
    assert_obj_str(ans_result(f), "kind", "power");
}

static void edge_add_refuses_missing_ends_self_loops_and_duplicates(
    void **state)
{
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "a", 1, 1), 0);
    assert_int_equal(add_host(f, "b", 1, 1), 0);
    assert_int_equal(add_edge(f, "a", "b"), 0);
    assert_int_equal(store_digest(f->s, before), 0);
    assert_int_equal(add_edge(f, "a", "z"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named z");
    assert_int_equal(add_edge(f, "z", "a"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named z");
    assert_int_equal(add_edge(f, "a", "a"), AUGUR_EINVAL);
    assert_int_equal(add_edge(f, "a", "b"), AUGUR_EEXIST);
    assert_string_equal(ans_error(f), "edge a -> b already exists");
    assert_int_equal(store_revision(f->s), 3);
    assert_digest_unchanged(f, before);
}

static void edge_add_refuses_a_direct_cycle(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "a", 1, 1), 0);
    assert_int_equal(add_host(f, "b", 1, 1), 0);
    assert_int_equal(add_edge(f, "a", "b"), 0);
    assert_int_equal(add_edge(f, "b", "a"), AUGUR_ECYCLE);
    assert_non_null(strstr(ans_error(f), "cycle"));
}

static void edge_add_refuses_a_longer_cycle_but_not_a_diamond(void **state)
{
    struct fx *f = *state;
    static const char *const ids[] = {"a", "b", "c", "d", "e", "x"};
    unsigned char before[32];

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        assert_int_equal(add_resource(f, ids[i], "switch", 0, 0), 0);
    }
    /* a -> b -> c -> d -> e, and a diamond a -> x -> d. */
    assert_int_equal(add_edge(f, "a", "b"), 0);
    assert_int_equal(add_edge(f, "b", "c"), 0);
    assert_int_equal(add_edge(f, "c", "d"), 0);
    assert_int_equal(add_edge(f, "d", "e"), 0);
    assert_int_equal(add_edge(f, "a", "x"), 0);
    assert_int_equal(add_edge(f, "x", "d"), 0);
    /* Shortcuts in the direction of the order are fine. */
    assert_int_equal(add_edge(f, "a", "e"), 0);
    assert_int_equal(add_edge(f, "b", "d"), 0);
    assert_int_equal(store_digest(f->s, before), 0);
    assert_int_equal(add_edge(f, "e", "a"), AUGUR_ECYCLE);
    assert_string_equal(ans_error(f),
                        "edge e -> a would close a dependency cycle: a "
                        "already depends on e");
    assert_int_equal(add_edge(f, "d", "b"), AUGUR_ECYCLE);
    assert_int_equal(add_edge(f, "d", "x"), AUGUR_ECYCLE);
    assert_int_equal(add_edge(f, "e", "c"), AUGUR_ECYCLE);
    assert_digest_unchanged(f, before);
    /* Through the diamond's other side: x -> d -> e. */
    assert_int_equal(add_edge(f, "e", "x"), AUGUR_ECYCLE);
}

static void edge_add_finds_cycles_in_a_large_graph(void **state)
{
    struct fx *f = *state;
    char from[16];
    char to[16];

    /* A chain of 600 with fan-out: the walk outgrows its first tables. */
    for (int i = 0; i < 600; i++) {
        snprintf(from, sizeof from, "n%03d", i);
        assert_int_equal(add_resource(f, from, "switch", 0, 0), 0);
    }
    for (int i = 0; i + 1 < 600; i++) {
        snprintf(from, sizeof from, "n%03d", i);
        snprintf(to, sizeof to, "n%03d", i + 1);
        assert_int_equal(add_edge(f, from, to), 0);
        if (i + 7 < 600) {
            snprintf(to, sizeof to, "n%03d", i + 7);
            assert_int_equal(add_edge(f, from, to), 0);
        }
    }
    assert_int_equal(add_edge(f, "n599", "n000"), AUGUR_ECYCLE);
    assert_int_equal(add_edge(f, "n300", "n299"), AUGUR_ECYCLE);
    assert_int_equal(add_edge(f, "n000", "n599"), 0);
}

static void edge_remove_answers_the_edge_and_frees_the_reverse(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "a", 1, 1), 0);
    assert_int_equal(add_host(f, "b", 1, 1), 0);
    cmd_edge(&c, STORE_OP_EDGE_ADD, "a", "b", STORE_EDGE_NETWORK);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(add_edge(f, "b", "a"), AUGUR_ECYCLE);
    cmd_edge(&c, STORE_OP_EDGE_REMOVE, "a", "b", 0);
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "kind", "network");
    assert_int_equal(add_edge(f, "b", "a"), 0);
}

static void edge_remove_refuses_a_missing_edge(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "a", 1, 1), 0);
    assert_int_equal(add_host(f, "b", 1, 1), 0);
    assert_int_equal(add_edge(f, "a", "b"), 0);
    cmd_edge(&c, STORE_OP_EDGE_REMOVE, "b", "a", 0);
    assert_int_equal(fx_apply(f, &c), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no edge b -> a");
    assert_int_equal(store_revision(f->s), 3);
}

/* The "FROM/TO" strings of an edge list answer. */
static void edge_list_names(struct fx *f, char names[][32], unsigned *n)
{
    const msgpack_object *items = obj_get(ans_result(f), "items");

    *n = items->via.array.size;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *e = &items->via.array.ptr[i];
        const msgpack_object *from = obj_get(e, "from");
        const msgpack_object *to = obj_get(e, "to");
        snprintf(names[i], 32, "%.*s/%.*s", (int)from->via.str.size,
                 from->via.str.ptr, (int)to->via.str.size, to->via.str.ptr);
    }
}

static void edge_list_filters_by_either_end_in_order(void **state)
{
    static const char *const want[] = {"a/m", "m/b", "m/z", "x/m"};
    struct fx *f = *state;
    static const char *const ids[] = {"a", "b", "m", "x", "z", "q"};
    char after[STORE_CURSOR_SIZE] = "";
    char names[16][32];
    struct store_cmd c;
    unsigned n;
    unsigned seen = 0;

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        assert_int_equal(add_resource(f, ids[i], "switch", 0, 0), 0);
    }
    assert_int_equal(add_edge(f, "a", "m"), 0);
    assert_int_equal(add_edge(f, "m", "z"), 0);
    assert_int_equal(add_edge(f, "m", "b"), 0);
    assert_int_equal(add_edge(f, "x", "m"), 0);
    assert_int_equal(add_edge(f, "a", "q"), 0);
    assert_int_equal(add_edge(f, "x", "q"), 0);

    cmd_list(&c, STORE_OP_EDGE_LIST, NULL, "m", 0);
    assert_int_equal(fx_read(f, &c), 0);
    edge_list_names(f, names, &n);
    assert_int_equal(n, 4);
    for (unsigned i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
    }
    assert_true(obj_is_nil(ans_result(f), "next"));

    /* One at a time, through the cursor. */
    for (;;) {
        const msgpack_object *next;
        cmd_list(&c, STORE_OP_EDGE_LIST, after, "m", 1);
        assert_int_equal(fx_read(f, &c), 0);
        edge_list_names(f, names, &n);
        if (n == 0) {
            break;
        }
        assert_int_equal(n, 1);
        assert_string_equal(names[0], want[seen]);
        seen++;
        next = obj_get(ans_result(f), "next");
        if (next->type == MSGPACK_OBJECT_NIL) {
            break;
        }
        snprintf(after, sizeof after, "%.*s", (int)next->via.str.size,
                 next->via.str.ptr);
        assert_string_equal(after, want[seen - 1]);
    }
    assert_int_equal(seen, 4);

    /* Unfiltered: every edge, paged. */
    cmd_list(&c, STORE_OP_EDGE_LIST, NULL, NULL, 4);
    assert_int_equal(fx_read(f, &c), 0);
    edge_list_names(f, names, &n);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "a/m");
    assert_string_equal(names[1], "a/q");
    assert_string_equal(names[2], "m/b");
    assert_string_equal(names[3], "m/z");
    assert_obj_str(ans_result(f), "next", "m/z");
    cmd_list(&c, STORE_OP_EDGE_LIST, "m/z", NULL, 4);
    assert_int_equal(fx_read(f, &c), 0);
    edge_list_names(f, names, &n);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "x/m");
    assert_string_equal(names[1], "x/q");
    assert_true(obj_is_nil(ans_result(f), "next"));

    /* A resource without edges, or unknown: an empty list. */
    cmd_list(&c, STORE_OP_EDGE_LIST, NULL, "nothing", 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 0);
}

/* ---- nodes ------------------------------------------------------------ */

static void node_set_records_addresses_for_node_list(void **state)
{
    struct fx *f = *state;
    char addr[STORE_ADDR_SIZE];
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_NODE_SET;
    c.u.node.id = 2;
    snprintf(c.u.node.raft_address, STORE_ADDR_SIZE, "10.0.0.2:7000");
    snprintf(c.u.node.client_address, STORE_ADDR_SIZE, "10.0.0.2:8000");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(obj_u64(ans_result(f), "id"), 2);
    assert_obj_str(ans_result(f), "client_address", "10.0.0.2:8000");
    c.u.node.id = 1;
    assert_int_equal(fx_apply(f, &c), 0);
    /* Recording again replaces. */
    snprintf(c.u.node.client_address, STORE_ADDR_SIZE, "10.0.0.1:8000");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_revision(f->s), 3);

    assert_int_equal(store_node_client_address(f->s, 1, addr), 0);
    assert_string_equal(addr, "10.0.0.1:8000");
    assert_int_equal(store_node_client_address(f->s, 3, addr), AUGUR_ENOTFOUND);

    cmd_list(&c, STORE_OP_NODE_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 2);
    assert_int_equal(
        obj_u64(&obj_get(ans_result(f), "items")->via.array.ptr[0], "id"), 1);
    assert_true(obj_is_nil(ans_result(f), "next"));
}

static void node_set_refuses_id_zero(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_NODE_SET;
    snprintf(c.u.node.raft_address, STORE_ADDR_SIZE, "10.0.0.2:7000");
    snprintf(c.u.node.client_address, STORE_ADDR_SIZE, "10.0.0.2:8000");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
}

/* The membership asked for: a role is recorded, kept by a node.set without
 * one (the leader announcing its address), replaced by another; an unknown
 * role is refused and changes nothing. */
static void node_set_records_the_role_and_keeps_it(void **state)
{
    struct fx *f = *state;
    struct store_node recs[4];
    char addr[STORE_ADDR_SIZE];
    struct store_cmd c;
    size_t n;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_NODE_SET;
    c.u.node.id = 3;
    snprintf(c.u.node.raft_address, STORE_ADDR_SIZE, "10.0.0.3:7000");
    snprintf(c.u.node.role, sizeof c.u.node.role, "voter");
    /* A member recorded from Raft's configuration: no client address. */
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "role", "voter");
    assert_int_equal(store_node_client_address(f->s, 3, addr), AUGUR_ENOTFOUND);

    c.u.node.role[0] = '\0';
    snprintf(c.u.node.client_address, STORE_ADDR_SIZE, "10.0.0.3:8000");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_obj_str(ans_result(f), "role", "voter");
    assert_int_equal(store_node_client_address(f->s, 3, addr), 0);
    assert_string_equal(addr, "10.0.0.3:8000");

    snprintf(c.u.node.role, sizeof c.u.node.role, "removed");
    c.u.node.client_address[0] = '\0';
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_node_records(f->s, recs, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].id, 3);
    assert_string_equal(recs[0].role, "removed");
    assert_string_equal(recs[0].client_address, "10.0.0.3:8000");

    snprintf(c.u.node.role, sizeof c.u.node.role, "leader");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 3);
    assert_int_equal(store_node_records(f->s, recs, 4, &n), 0);
    assert_string_equal(recs[0].role, "removed");
}

static int lease(struct fx *f, const char *id, int expect, int state)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_RESOURCE_LEASE;
    snprintf(c.u.lease.id, sizeof c.u.lease.id, "%s", id);
    c.u.lease.expect = expect;
    c.u.lease.state = state;
    return fx_apply(f, &c);
}

static const char *state_now(struct fx *f, const char *id)
{
    static char out[32];

    assert_int_equal(get_resource(f, id), 0);
    snprintf(out, sizeof out, "%.*s",
             (int)obj_get(ans_result(f), "state")->via.str.size,
             obj_get(ans_result(f), "state")->via.str.ptr);
    return out;
}

/* resource.lease is a compare-and-set on the state: an expired lease marks
 * the host unreachable, remembering the state it had; a report brings that
 * state back.  A verdict reached on an older view (a deposed leader's, a
 * retry) applies nothing. */
static void resource_lease_is_a_compare_and_set(void **state)
{
    struct fx *f = *state;
    uint64_t rev;

    assert_int_equal(add_host(f, "h1", 4, 4096), 0);
    assert_int_equal(set_state(f, "h1", STORE_STATE_STANDBY), 0);
    assert_int_equal(get_resource(f, "h1"), 0);
    assert_null(obj_get(ans_result(f), "leased"));
    /* The first report: leased from now on, once. */
    assert_int_equal(lease(f, "h1", STORE_STATE_STANDBY, STORE_STATE_STANDBY),
                     0);
    assert_true(obj_get(ans_result(f), "leased")->via.boolean);
    assert_int_equal(lease(f, "h1", STORE_STATE_STANDBY, STORE_STATE_STANDBY),
                     AUGUR_EEXIST);
    assert_int_equal(lease(f, "h1", STORE_STATE_ACTIVE, STORE_STATE_ACTIVE),
                     AUGUR_ECONFLICT);
    assert_int_equal(lease(f, "h1", STORE_STATE_STANDBY, STORE_STATE_ACTIVE),
                     AUGUR_EINVAL);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_STANDBY, STORE_STATE_UNREACHABLE), 0);
    assert_string_equal(state_now(f, "h1"), "unreachable");
    assert_obj_str(ans_result(f), "prior_state", "standby");

    /* Declared twice (two leaders, or a retry): the second changes
     * nothing. */
    rev = store_revision(f->s);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_STANDBY, STORE_STATE_UNREACHABLE),
        AUGUR_ECONFLICT);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_UNREACHABLE, STORE_STATE_UNREACHABLE),
        AUGUR_ECONFLICT);
    assert_int_equal(store_revision(f->s), rev);

    /* Back: to the prior state, whatever the command names. */
    assert_int_equal(
        lease(f, "h1", STORE_STATE_UNREACHABLE, STORE_STATE_ACTIVE), 0);
    assert_string_equal(state_now(f, "h1"), "standby");
    assert_null(obj_get(ans_result(f), "prior_state"));
    assert_true(obj_get(ans_result(f), "leased")->via.boolean);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_UNREACHABLE, STORE_STATE_ACTIVE),
        AUGUR_ECONFLICT);
    assert_int_equal(
        lease(f, "nope", STORE_STATE_ACTIVE, STORE_STATE_UNREACHABLE),
        AUGUR_ENOTFOUND);
}

static void count_leased(void *arg, const char *id, int state)
{
    (void)id;
    (void)state;
    (*(int *)arg)++;
}

/* An unreachable host is not granted claims, and its record (with the prior
 * state and the lease) survives a snapshot. */
static void unreachable_host_is_not_picked_and_survives_a_snapshot(void **state)
{
    struct fx *f = *state;
    struct fx g;
    void *buf;
    size_t len;

    assert_int_equal(add_host(f, "h1", 4, 4096), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(
        lease(f, "h1", STORE_STATE_ACTIVE, STORE_STATE_UNREACHABLE), 0);
    assert_int_equal(acquire(f, "w1", NULL), AUGUR_ENOCAPACITY);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    memset(&g, 0, sizeof g);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_string_equal(state_now(&g, "h1"), "unreachable");
    assert_obj_str(ans_result(&g), "prior_state", "active");
    {
        int n = 0;
        assert_int_equal(store_resources_leased(g.s, count_leased, &n), 0);
        assert_int_equal(n, 1);
    }
    assert_int_equal(
        lease(&g, "h1", STORE_STATE_UNREACHABLE, STORE_STATE_ACTIVE), 0);
    assert_int_equal(acquire(&g, "w1", NULL), 0);
    fx_close(&g);
    free(buf);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(open_keeps_state_and_reset_empties_it),
        cmocka_unit_test(open_fails_on_a_missing_directory),
        T(resource_lease_is_a_compare_and_set),
        T(unreachable_host_is_not_picked_and_survives_a_snapshot),
        T(apply_refuses_reads_and_read_refuses_writes),
        T(resource_add_answers_the_resource_and_one_revision),
        T(resource_add_refuses_an_existing_id),
        T(apply_refuses_an_invalid_hand_built_command),
        T(resource_set_state_changes_the_state),
        T(resource_set_state_refuses_unknown_resource_and_state),
        T(score_set_records_p_window_and_leader_time),
        T(score_set_refuses_unknown_resource_and_bad_p),
        T(get_refuses_unknown_ids),
        T(resource_list_pages_in_key_order),
        T(resource_list_pages_by_size_return_every_record_once),
        T(workload_add_answers_the_workload_without_claim),
        T(workload_add_refuses_an_existing_id),
        T(workload_list_pages_and_shows_claims),
        T(edge_add_answers_the_edge),
        T(edge_add_refuses_missing_ends_self_loops_and_duplicates),
        T(edge_add_refuses_a_direct_cycle),
        T(edge_add_refuses_a_longer_cycle_but_not_a_diamond),
        T(edge_add_finds_cycles_in_a_large_graph),
        T(edge_remove_answers_the_edge_and_frees_the_reverse),
        T(edge_remove_refuses_a_missing_edge),
        T(edge_list_filters_by_either_end_in_order),
        T(node_set_records_addresses_for_node_list),
        T(node_set_refuses_id_zero),
        T(node_set_records_the_role_and_keeps_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
