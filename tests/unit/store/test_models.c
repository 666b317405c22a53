/* Unit tests of models in the store (model.chunk, model.commit,
 * model.activate, model.list, the scorer's reads) and of score.set's
 * optional window, confidence, model and reasons. */
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

#define BLOB 1000

static unsigned char blob[BLOB];

static void blob_fill(unsigned seed)
{
    for (size_t i = 0; i < BLOB; i++) {
        blob[i] = (unsigned char)(i * 31 + seed);
    }
}

static void checksum_of(const void *p, size_t n, char *hex)
{
    unsigned char sum[32];

    crypto_generichash(sum, sizeof sum, p, n, NULL, 0);
    sodium_bin2hex(hex, STORE_DIGEST_HEX_SIZE, sum, sizeof sum);
}

static int chunk(struct fx *f,
                 const char *name,
                 uint64_t upload,
                 uint64_t index,
                 const void *p,
                 size_t n)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_MODEL_CHUNK;
    snprintf(c.u.model.name, sizeof c.u.model.name, "%s", name);
    c.u.model.upload = upload;
    c.u.model.index = index;
    c.u.model.data.ptr = p;
    c.u.model.data.len = n;
    return fx_apply(f, &c);
}

static int commit(struct fx *f,
                  const char *name,
                  uint64_t upload,
                  uint64_t chunks,
                  uint64_t size,
                  const char *checksum,
                  const char *kind)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_MODEL_COMMIT;
    snprintf(c.u.model.name, sizeof c.u.model.name, "%s", name);
    c.u.model.upload = upload;
    c.u.model.chunks = chunks;
    c.u.model.size = size;
    snprintf(c.u.model.checksum, sizeof c.u.model.checksum, "%s", checksum);
    snprintf(c.u.model.kind, sizeof c.u.model.kind, "%s", kind);
    return fx_apply(f, &c);
}

static int activate(struct fx *f, const char *name, const char *kind)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_MODEL_ACTIVATE;
    snprintf(c.u.model.name, sizeof c.u.model.name, "%s", name);
    snprintf(c.u.model.kind, sizeof c.u.model.kind, "%s", kind);
    return fx_apply(f, &c);
}

/* model.list's items. */
static const msgpack_object *list_models(struct fx *f)
{
    struct store_cmd c;

    cmd_list(&c, STORE_OP_MODEL_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    return obj_get(ans_result(f), "items");
}

/* Publish blob as NAME in 3 chunks (400, 400, 200). */
static void publish(struct fx *f, const char *name, uint64_t upload)
{
    char hex[STORE_DIGEST_HEX_SIZE];

    checksum_of(blob, BLOB, hex);
    assert_int_equal(chunk(f, name, upload, 0, blob, 400), 0);
    assert_int_equal(chunk(f, name, upload, 1, blob + 400, 400), 0);
    assert_int_equal(chunk(f, name, upload, 2, blob + 800, 200), 0);
    assert_int_equal(commit(f, name, upload, 3, BLOB, hex, ""), 0);
}

static void model_half_published_is_invisible(void **state)
{
    struct fx *f = *state;
    char hex[STORE_DIGEST_HEX_SIZE];
    char name[STORE_ID_SIZE];
    uint64_t version = 0, size = 0;
    void *buf = NULL;
    size_t len = 0;

    blob_fill(1);
    checksum_of(blob, BLOB, hex);
    assert_int_equal(chunk(f, "pdm", 7, 0, blob, 400), 0);
    assert_int_equal(chunk(f, "pdm", 7, 1, blob + 400, 400), 0);
    assert_int_equal(list_models(f)->via.array.size, 0);
    assert_int_equal(store_model_read(f->s, "pdm", &version, &buf, &len),
                     AUGUR_ENOTFOUND);
    /* The commit checks that every chunk is in. */
    assert_int_equal(commit(f, "pdm", 7, 3, BLOB, hex, ""), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "chunk 2 of 3"));
    assert_int_equal(list_models(f)->via.array.size, 0);
    assert_int_equal(activate(f, "pdm", ""), AUGUR_ENOTFOUND);
    assert_int_equal(store_model_active(f->s, "host", name, &version, &size),
                     AUGUR_ENOTFOUND);
}

static void model_commit_refuses_a_checksum_or_size_mismatch(void **state)
{
    struct fx *f = *state;
    char hex[STORE_DIGEST_HEX_SIZE];
    unsigned char sum[STORE_DIGEST_HEX_SIZE];
    uint64_t rev;

    blob_fill(2);
    assert_int_equal(chunk(f, "m", 1, 0, blob, 600), 0);
    assert_int_equal(chunk(f, "m", 1, 1, blob + 600, 400), 0);
    checksum_of(blob, BLOB - 1, hex);
    rev = store_revision(f->s);
    assert_int_equal(commit(f, "m", 1, 2, BLOB, hex, ""), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "checksum mismatch"));
    checksum_of(blob, BLOB, hex);
    assert_int_equal(commit(f, "m", 1, 2, BLOB + 1, hex, ""), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), rev);
    assert_int_equal(list_models(f)->via.array.size, 0);
    /* Not hex at all: refused by the codec. */
    memset(sum, 'x', sizeof sum - 1);
    sum[sizeof sum - 1] = 0;
    assert_int_equal(commit(f, "m", 1, 2, BLOB, (const char *)sum, ""),
                     AUGUR_EINVAL);
    /* Now right. */
    assert_int_equal(commit(f, "m", 1, 2, BLOB, hex, ""), 0);
    assert_int_equal(obj_u64(ans_result(f), "version"), 1);
}

static void model_publish_list_activate_and_read_back(void **state)
{
    struct fx *f = *state;
    const msgpack_object *items;
    const msgpack_object *m;
    char hex[STORE_DIGEST_HEX_SIZE];
    char name[STORE_ID_SIZE];
    uint64_t version = 0, size = 0;
    void *buf = NULL;
    size_t len = 0;

    blob_fill(3);
    publish(f, "pdm", 11);
    checksum_of(blob, BLOB, hex);
    items = list_models(f);
    assert_int_equal(items->via.array.size, 1);
    m = &items->via.array.ptr[0];
    assert_obj_str(m, "name", "pdm");
    assert_obj_str(m, "checksum", hex);
    assert_obj_str(m, "kind", "host");
    assert_int_equal(obj_u64(m, "version"), 1);
    assert_int_equal(obj_u64(m, "size"), BLOB);
    assert_int_equal(obj_len(m, "active"), 0);
    assert_int_equal(obj_u64(m, "published_at"), (uint64_t)f->time_ms);

    assert_int_equal(activate(f, "pdm", ""), 0);
    assert_obj_str(ans_result(f), "kind", "host");
    assert_int_equal(activate(f, "pdm", "psu"), 0);
    assert_int_equal(activate(f, "nope", "psu"), AUGUR_ENOTFOUND);
    m = &list_models(f)->via.array.ptr[0];
    assert_int_equal(obj_len(m, "active"), 2);
    assert_int_equal(store_model_active(f->s, "psu", name, &version, &size), 0);
    assert_string_equal(name, "pdm");
    assert_int_equal(version, 1);
    assert_int_equal(size, BLOB);
    assert_int_equal(store_model_read(f->s, "pdm", &version, &buf, &len), 0);
    assert_int_equal(len, BLOB);
    assert_memory_equal(buf, blob, BLOB);
    free(buf);

    /* A new publish replaces the bytes and bumps the version; an abandoned
     * upload's chunks go when another upload begins. */
    assert_int_equal(chunk(f, "pdm", 12, 0, blob, 10), 0);
    blob_fill(4);
    publish(f, "pdm", 13);
    assert_int_equal(obj_u64(ans_result(f), "version"), 2);
    assert_int_equal(store_model_read(f->s, "pdm", &version, &buf, &len), 0);
    assert_int_equal(version, 2);
    assert_memory_equal(buf, blob, BLOB);
    free(buf);
    assert_int_equal(store_model_active(f->s, "host", name, &version, &size),
                     0);
    assert_int_equal(version, 2);
}

static void model_chunk_refuses_bad_input(void **state)
{
    struct fx *f = *state;

    blob_fill(5);
    assert_int_equal(chunk(f, "m", 1, 0, blob, 0), AUGUR_EINVAL);
    assert_int_equal(chunk(f, "m", 0, 0, blob, 10), AUGUR_EINVAL);
    assert_int_equal(chunk(f, "m", 1, STORE_MODEL_CHUNKS_MAX, blob, 10),
                     AUGUR_ETOOBIG);
    assert_int_equal(chunk(f, "bad name", 1, 0, blob, 10), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), 0);
}

static void model_snapshot_round_trip_keeps_models_and_digest(void **state)
{
    struct fx *f = *state;
    unsigned char da[32], db[32];
    struct fx g;
    void *snap = NULL;
    size_t snap_len = 0;
    uint64_t version = 0;
    void *buf = NULL;
    size_t len = 0;
    struct store_cmd c;
    msgpack_sbuffer first;

    blob_fill(6);
    publish(f, "pdm", 21);
    assert_int_equal(activate(f, "pdm", "host"), 0);
    /* A half-published upload travels too, and stays invisible. */
    assert_int_equal(chunk(f, "other", 22, 0, blob, 100), 0);
    assert_int_equal(store_snapshot(f->s, malloc, &snap, &snap_len), 0);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, snap, snap_len), 0);
    assert_int_equal(store_digest(f->s, da), 0);
    assert_int_equal(store_digest(g.s, db), 0);
    assert_memory_equal(da, db, 32);
    cmd_list(&c, STORE_OP_MODEL_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    msgpack_sbuffer_init(&first);
    msgpack_sbuffer_write(&first, f->answer.data, f->answer.size);
    assert_int_equal(fx_read(&g, &c), 0);
    assert_int_equal(g.answer.size, first.size);
    assert_memory_equal(g.answer.data, first.data, first.size);
    msgpack_sbuffer_destroy(&first);
    assert_int_equal(store_model_read(g.s, "pdm", &version, &buf, &len), 0);
    assert_memory_equal(buf, blob, BLOB);
    free(buf);
    assert_int_equal(store_model_read(g.s, "other", &version, &buf, &len),
                     AUGUR_ENOTFOUND);
    /* The models change the digest. */
    assert_int_equal(activate(&g, "pdm", "vm"), 0);
    assert_int_equal(store_digest(g.s, db), 0);
    assert_memory_not_equal(da, db, 32);
    fx_close(&g);
    free(snap);
}

static void model_commands_survive_the_codec(void **state)
{
    struct store_cmd c;
    struct store_cmd back;
    char errmsg[STORE_ERRMSG_SIZE];
    msgpack_sbuffer sb;

    (void)state;
    blob_fill(7);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_MODEL_CHUNK;
    snprintf(c.u.model.name, sizeof c.u.model.name, "pdm");
    c.u.model.upload = 9;
    c.u.model.index = 3;
    c.u.model.data.ptr = blob;
    c.u.model.data.len = 300;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    assert_int_equal(back.u.model.data.len, 300);
    assert_memory_equal(back.u.model.data.ptr, blob, 300);
    assert_int_equal(back.u.model.index, 3);
    msgpack_sbuffer_destroy(&sb);
}

/* A snapshot of before the model tables (the same bytes without their
 * four sections and the later ones, empty here) still restores. */
static void a_snapshot_without_the_model_tables_restores(void **state)
{
    /* The model tables and those after them (issue 14's), all empty. */
    static const char *const names[] = {
        "models",      "model_pending",  "model_data", "model_active",
        "cohorts",     "cohort_of",      "policy",     "workflows",
        "workflow_of", "workload_moves", "standby",    "host_standby"};
    struct fx *f = *state;
    size_t section = 0;
    unsigned char *p;
    struct fx g;
    void *buf;
    size_t len;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(store_snapshot(f->s, malloc, &buf, &len), 0);
    p = buf;
    len -= 32;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        section += 1 + strlen(names[i]) + 8;
    }
    assert_memory_equal(p + len - section + 1, "models", 6);
    len -= section;
    p[15] -= sizeof names / sizeof names[0];
    crypto_generichash(p + len, 32, p, len, NULL, 0);
    len += 32;
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_revision(g.s), 1);
    assert_int_equal(list_models(&g)->via.array.size, 0);
    fx_close(&g);
    free(buf);
}

/* ---- score.set's optional fields -------------------------------------- */

static void score_set_keeps_confidence_model_and_reasons(void **state)
{
    struct fx *f = *state;
    const msgpack_object *score;
    const msgpack_object *reasons;
    struct store_cmd c;
    struct store_cmd back;
    char errmsg[STORE_ERRMSG_SIZE];
    msgpack_sbuffer sb;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    cmd_score(&c, "h1", 0.7);
    c.u.score.window_s = 3600;
    c.u.score.has_confidence = true;
    c.u.score.confidence = 0.4;
    snprintf(c.u.score.model, sizeof c.u.score.model, "pdm@2");
    c.u.score.n_reasons = 2;
    snprintf(c.u.score.reasons[0].feature, STORE_FEATURE_SIZE, "volt_base_z");
    c.u.score.reasons[0].contribution = 1.5;
    snprintf(c.u.score.reasons[1].feature, STORE_FEATURE_SIZE, "via:psu-1");
    c.u.score.reasons[1].contribution = 0.25;
    /* Through the codec first, as a command in the log. */
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg), 0);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(fx_apply(f, &back), 0);
    assert_int_equal(get_resource(f, "h1"), 0);
    score = obj_get(ans_result(f), "score");
    assert_int_equal(obj_u64(score, "window"), 3600);
    assert_obj_str(score, "model", "pdm@2");
    assert_true(obj_get(score, "confidence")->via.f64 == 0.4);
    reasons = obj_get(score, "reasons");
    assert_int_equal(reasons->via.array.size, 2);
    assert_obj_str(&reasons->via.array.ptr[1], "feature", "via:psu-1");

    /* A plain score.set writes the short form again: no extra fields. */
    assert_int_equal(set_score(f, "h1", 0.1), 0);
    assert_int_equal(get_resource(f, "h1"), 0);
    score = obj_get(ans_result(f), "score");
    assert_null(obj_get(score, "model"));
    assert_null(obj_get(score, "reasons"));
    assert_null(obj_get(score, "confidence"));
}

static void score_set_refuses_bad_optional_fields(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    cmd_score(&c, "h1", 0.5);
    c.u.score.has_confidence = true;
    c.u.score.confidence = 1.5;
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    cmd_score(&c, "h1", 0.5);
    c.u.score.n_reasons = 1;
    snprintf(c.u.score.reasons[0].feature, STORE_FEATURE_SIZE, "bad name");
    assert_int_equal(fx_apply(f, &c), AUGUR_EINVAL);
    cmd_score(&c, "h1", 0.5);
    c.u.score.n_reasons = STORE_REASONS_MAX + 1;
    assert_int_equal(fx_apply(f, &c), AUGUR_ETOOBIG);
    assert_int_equal(store_revision(f->s), 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(model_half_published_is_invisible),
        T(model_commit_refuses_a_checksum_or_size_mismatch),
        T(model_publish_list_activate_and_read_back),
        T(model_chunk_refuses_bad_input),
        T(model_snapshot_round_trip_keeps_models_and_digest),
        T(model_commands_survive_the_codec),
        T(a_snapshot_without_the_model_tables_restores),
        T(score_set_keeps_confidence_model_and_reasons),
        T(score_set_refuses_bad_optional_fields),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
