/* Unit tests of store/'s snapshots, restore and digest, and of apply's
 * determinism: the same commands give the same answers and state. */
#include <pthread.h>
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

/* ---- helpers ---------------------------------------------------------- */

static void digest(struct fx *f, unsigned char *out)
{
    assert_int_equal(store_digest(f->s, out), 0);
}

static void assert_same_digest(struct fx *a, struct fx *b)
{
    unsigned char da[32];
    unsigned char db[32];

    digest(a, da);
    digest(b, db);
    assert_memory_equal(da, db, 32);
}

static void snapshot(struct fx *f, unsigned char **buf, size_t *len)
{
    void *data = NULL;

    assert_int_equal(store_snapshot(f->s, malloc, &data, len), 0);
    assert_non_null(data);
    *buf = data;
}

/* Re-seal a doctored snapshot with a valid checksum. */
static void reseal(unsigned char *buf, size_t len)
{
    crypto_generichash(buf + len - 32, 32, buf, len - 32, NULL, 0);
}

/* A state touching every database. */
static void build_state(struct fx *f)
{
    struct store_cmd c;

    cmd_resource_add(&c, "h1", "host", 16, 4096);
    c.u.resource_add.n_labels = 1;
    snprintf(c.u.resource_add.labels[0].key, STORE_LABEL_KEY_SIZE, "zone");
    snprintf(c.u.resource_add.labels[0].value, STORE_LABEL_VALUE_SIZE, "z1");
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(add_host(f, "h2", 16, 4096), 0);
    assert_int_equal(add_resource(f, "psu-1", "psu", 0, 0), 0);
    assert_int_equal(add_edge(f, "h1", "psu-1"), 0);
    assert_int_equal(add_edge(f, "h2", "psu-1"), 0);
    assert_int_equal(set_score(f, "h1", 0.25), 0);
    assert_int_equal(add_workload(f, "w1", 2, 100), 0);
    assert_int_equal(add_workload(f, "w2", 2, 100), 0);
    assert_int_equal(add_workload(f, "w3", 2, 100), 0);
    assert_int_equal(acquire(f, "w1", NULL), 0);
    assert_int_equal(acquire(f, "w2", "h1"), 0);
    assert_int_equal(transfer(f, "w2", "h2", 1), 0);
    assert_int_equal(acquire(f, "w3", "h1"), 0);
    assert_int_equal(release(f, "w3", 1), 0);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_NODE_SET;
    c.u.node.id = 1;
    snprintf(c.u.node.raft_address, STORE_ADDR_SIZE, "127.0.0.1:7001");
    snprintf(c.u.node.client_address, STORE_ADDR_SIZE, "127.0.0.1:8001");
    assert_int_equal(fx_apply(f, &c), 0);
    cmd_score(&c, "h2", 0.5);
    c.client = 77;
    c.seq = 1;
    c.ack = 1;
    assert_int_equal(fx_apply(f, &c), 0);
    /* Issue 14's tables: a cohort (and cohort_of) and the policy. */
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_CREATE;
    snprintf(c.u.cohort.name, STORE_ID_SIZE, "c1");
    c.u.cohort.n_workloads = 2;
    snprintf(c.u.cohort.workloads[0], STORE_ID_SIZE, "w1");
    snprintf(c.u.cohort.workloads[1], STORE_ID_SIZE, "w2");
    c.u.cohort.spread = STORE_SPREAD_PSU;
    c.u.cohort.min_available = 1;
    c.u.cohort.min_resilience = 0.95;
    assert_int_equal(fx_apply(f, &c), 0);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_SET;
    snprintf(c.u.policy.key, STORE_ID_SIZE, "migrate_threshold");
    snprintf(c.u.policy.value, STORE_POLICY_VALUE_SIZE, "0.7");
    assert_int_equal(fx_apply(f, &c), 0);
}

/* Read @c from both stores: the answers must be the same bytes. */
static void assert_same_read(struct fx *a,
                             struct fx *b,
                             const struct store_cmd *c)
{
    msgpack_sbuffer first;

    msgpack_sbuffer_init(&first);
    fx_read(a, c);
    msgpack_sbuffer_write(&first, a->answer.data, a->answer.size);
    fx_read(b, c);
    assert_int_equal(b->answer.size, first.size);
    assert_memory_equal(b->answer.data, first.data, first.size);
    msgpack_sbuffer_destroy(&first);
}

static void assert_same_reads(struct fx *a, struct fx *b)
{
    struct store_cmd c;

    cmd_list(&c, STORE_OP_RESOURCE_LIST, NULL, NULL, 0);
    assert_same_read(a, b, &c);
    cmd_list(&c, STORE_OP_WORKLOAD_LIST, NULL, NULL, 0);
    assert_same_read(a, b, &c);
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, NULL, 0);
    assert_same_read(a, b, &c);
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, "h1", 0);
    assert_same_read(a, b, &c);
    cmd_list(&c, STORE_OP_EDGE_LIST, NULL, NULL, 0);
    assert_same_read(a, b, &c);
    cmd_list(&c, STORE_OP_NODE_LIST, NULL, NULL, 0);
    assert_same_read(a, b, &c);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_EVENTS;
    assert_same_read(a, b, &c);
    cmd_list(&c, STORE_OP_COHORT_LIST, NULL, NULL, 0);
    assert_same_read(a, b, &c);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_GET;
    assert_same_read(a, b, &c);
}

/* ---- snapshot and restore --------------------------------------------- */

static void snapshot_restores_into_a_fresh_store_identically(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char *buf;
    size_t len;
    struct store_cmd c;
    msgpack_sbuffer first;

    build_state(f);
    snapshot(f, &buf, &len);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_revision(g.s), store_revision(f->s));
    assert_same_digest(f, &g);
    assert_same_reads(f, &g);

    /* Both go on the same way: indexes and sessions came along. */
    msgpack_sbuffer_init(&first);
    assert_int_equal(add_workload(f, "w4", 1, 1), 0);
    assert_int_equal(add_workload(&g, "w4", 1, 1), 0);
    cmd_acquire(&c, "w4", NULL);
    fx_apply(f, &c);
    msgpack_sbuffer_write(&first, f->answer.data, f->answer.size);
    fx_apply(&g, &c);
    assert_int_equal(g.answer.size, first.size);
    assert_memory_equal(g.answer.data, first.data, first.size);
    cmd_score(&c, "h2", 0.5);
    c.client = 77;
    c.seq = 1;
    c.ack = 1;
    fx_apply(&g, &c); /* a retry, in the restored session */
    assert_int_equal(store_revision(g.s), store_revision(f->s));
    assert_same_digest(f, &g);

    msgpack_sbuffer_destroy(&first);
    free(buf);
    fx_close(&g);
}

/* An asynchronous snapshot pinned before more writes, and taken on another
 * thread while they are applied, is the state as it was at the pin. */
struct taker
{
    struct store_snap *snap;
    void *buf;
    size_t len;
    int rv;
};

static void *take_main(void *arg)
{
    struct taker *t = arg;
    t->rv = store_snapshot_take(t->snap, malloc, free, &t->buf, &t->len);
    return NULL;
}

static void snapshot_async_sees_the_state_at_begin(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char *sync_buf;
    size_t sync_len;
    struct taker t = {0};
    pthread_t th;
    char id[32];

    build_state(f);
    snapshot(f, &sync_buf, &sync_len);
    assert_int_equal(store_snapshot_begin(f->s, &t.snap), 0);
    assert_int_equal(pthread_create(&th, NULL, take_main, &t), 0);
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "later-%d", i);
        assert_int_equal(add_workload(f, id, 1, 1), 0);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    /* As the replica does once the pool thread is done; end frees. */
    store_snapshot_release(t.snap);
    store_snapshot_release(t.snap);
    store_snapshot_end(t.snap);
    assert_int_equal(t.rv, 0);
    /* Byte for byte what a synchronous snapshot at the pin gave. */
    assert_int_equal(t.len, sync_len);
    assert_memory_equal(t.buf, sync_buf, sync_len);
    fx_open(&g);
    assert_int_equal(store_restore(g.s, t.buf, t.len), 0);
    assert_true(store_revision(g.s) < store_revision(f->s));
    fx_close(&g);
    free(t.buf);
    free(sync_buf);
}

static void snapshot_restore_replaces_the_whole_state(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char *buf;
    size_t len;

    assert_int_equal(add_host(f, "only-here", 1, 1), 0);
    snapshot(f, &buf, &len);
    fx_open(&g);
    build_state(&g);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_revision(g.s), 1);
    assert_int_equal(get_resource(&g, "h1"), AUGUR_ENOTFOUND);
    assert_int_equal(get_resource(&g, "only-here"), 0);
    assert_same_digest(f, &g);
    free(buf);
    fx_close(&g);
}

static void snapshot_of_an_empty_store_restores(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char *buf;
    size_t len;

    snapshot(f, &buf, &len);
    fx_open(&g);
    assert_int_equal(add_host(&g, "h1", 1, 1), 0);
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_int_equal(store_revision(g.s), 0);
    assert_same_digest(f, &g);
    free(buf);
    fx_close(&g);
}

static void *alloc_fails(size_t size)
{
    (void)size;
    return NULL;
}

static void snapshot_reports_allocation_failure(void **state)
{
    struct fx *f = *state;
    void *buf = NULL;
    size_t len = 0;

    build_state(f);
    assert_int_equal(store_snapshot(f->s, alloc_fails, &buf, &len),
                     AUGUR_ENOMEM);
    assert_null(buf);
}

/* Try @buf on a store holding a state; it must be refused and change
 * nothing. */
static void assert_refused(struct fx *g,
                           const unsigned char *want_digest,
                           uint64_t want_rev,
                           const void *buf,
                           size_t len)
{
    unsigned char got[32];

    assert_int_equal(store_restore(g->s, buf, len), AUGUR_EMALFORMED);
    assert_int_equal(store_revision(g->s), want_rev);
    digest(g, got);
    assert_memory_equal(got, want_digest, 32);
}

static void restore_refuses_a_flipped_byte_and_keeps_the_state(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char before[32];
    unsigned char *buf;
    size_t len;
    uint64_t rev;

    build_state(f);
    snapshot(f, &buf, &len);
    fx_open(&g);
    assert_int_equal(add_host(&g, "mine", 1, 1), 0);
    digest(&g, before);
    rev = store_revision(g.s);
    for (size_t i = 0; i < len; i += (i < 64 || i + 64 > len) ? 1 : 13) {
        buf[i] ^= 0x20;
        assert_refused(&g, before, rev, buf, len);
        buf[i] ^= 0x20;
    }
    /* Intact, it still restores. */
    assert_int_equal(store_restore(g.s, buf, len), 0);
    assert_same_digest(f, &g);
    free(buf);
    fx_close(&g);
}

static void restore_refuses_a_truncated_snapshot(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char before[32];
    unsigned char *buf;
    size_t len;

    build_state(f);
    snapshot(f, &buf, &len);
    fx_open(&g);
    assert_int_equal(add_host(&g, "mine", 1, 1), 0);
    digest(&g, before);
    for (size_t n = 0; n < len; n += n < 64 ? 1 : 7) {
        assert_refused(&g, before, 1, buf, n);
    }
    assert_refused(&g, before, 1, NULL, 0);
    free(buf);
    fx_close(&g);
}

static void restore_refuses_bad_content_under_a_valid_checksum(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char before[32];
    unsigned char *buf;
    unsigned char *bigger;
    size_t len;

    build_state(f);
    snapshot(f, &buf, &len);
    fx_open(&g);
    digest(&g, before);

    /* Another format version. */
    buf[11] ^= 0x02;
    reseal(buf, len);
    assert_refused(&g, before, 0, buf, len);
    buf[11] ^= 0x02;

    /* The first database ("meta", after the 16-byte header and its name)
     * claims one entry more than it holds. */
    assert_memory_equal(buf + 17, "meta", 4);
    buf[28] += 1;
    reseal(buf, len);
    assert_refused(&g, before, 0, buf, len);
    buf[28] -= 1;

    /* A database name that is not the expected one. */
    buf[17] = 'M';
    reseal(buf, len);
    assert_refused(&g, before, 0, buf, len);
    buf[17] = 'm';

    /* A byte more before the checksum. */
    bigger = malloc(len + 1);
    assert_non_null(bigger);
    memcpy(bigger, buf, len - 32);
    bigger[len - 32] = 0;
    reseal(bigger, len + 1);
    assert_refused(&g, before, 0, bigger, len + 1);

    /* The meta entry's value ("rev" -> uint) made a string. */
    reseal(buf, len);
    assert_memory_equal(buf + 29, "\x00\x00\x00\x03rev\x00\x00\x00\x01", 11);
    buf[40] = 0xa0; /* an empty string */
    reseal(buf, len);
    assert_refused(&g, before, 0, buf, len);

    free(bigger);
    free(buf);
    fx_close(&g);
}

/* Rewrite a (version 2) snapshot as version 1 wrote it: sessions, their
 * times and answers keyed by the client id alone, answers without a
 * digest.  Only sessions of no principal can be written back so. */
static unsigned char *snapshot_as_v1(const unsigned char *buf,
                                     size_t len,
                                     size_t *out_len)
{
    unsigned char *out = malloc(len);
    size_t i = 16;
    size_t o = 16;

    assert_non_null(out);
    memcpy(out, buf, 16);
    out[11] = 1;
    while (i < len - 32) {
        size_t name_len = buf[i];
        char name[32] = "";
        uint64_t count = 0;

        memcpy(name, buf + i + 1, name_len);
        memcpy(out + o, buf + i, 1 + name_len + 8);
        for (int b = 0; b < 8; b++) {
            count = count << 8 | buf[i + 1 + name_len + b];
        }
        i += 1 + name_len + 8;
        o += 1 + name_len + 8;
        for (uint64_t e = 0; e < count; e++) {
            size_t klen = (size_t)buf[i] << 24 | (size_t)buf[i + 1] << 16 |
                          (size_t)buf[i + 2] << 8 | buf[i + 3];
            const unsigned char *k = buf + i + 4;
            const unsigned char *vp = k + klen;
            size_t vlen = (size_t)vp[0] << 24 | (size_t)vp[1] << 16 |
                          (size_t)vp[2] << 8 | vp[3];
            const unsigned char *v = vp + 4;
            unsigned char nk[64];
            size_t nklen = klen;
            size_t skip_v = 0;

            memcpy(nk, k, klen < sizeof nk ? klen : sizeof nk);
            if (strcmp(name, "sessions") == 0 || strcmp(name, "answers") == 0) {
                nklen = klen - 32;
                memcpy(nk, k + 32, nklen);
                skip_v = strcmp(name, "answers") == 0 ? 16 : 0;
            } else if (strcmp(name, "session_times") == 0) {
                nklen = 16;
                memcpy(nk, k, 8);
                memcpy(nk + 8, k + 40, 8);
            }
            out[o] = (unsigned char)(nklen >> 24);
            out[o + 1] = (unsigned char)(nklen >> 16);
            out[o + 2] = (unsigned char)(nklen >> 8);
            out[o + 3] = (unsigned char)nklen;
            if (nklen == klen) {
                memcpy(out + o + 4, k, klen);
            } else {
                memcpy(out + o + 4, nk, nklen);
            }
            o += 4 + nklen;
            out[o] = (unsigned char)((vlen - skip_v) >> 24);
            out[o + 1] = (unsigned char)((vlen - skip_v) >> 16);
            out[o + 2] = (unsigned char)((vlen - skip_v) >> 8);
            out[o + 3] = (unsigned char)(vlen - skip_v);
            memcpy(out + o + 4, v + skip_v, vlen - skip_v);
            o += 4 + vlen - skip_v;
            i = (size_t)(v + vlen - buf);
        }
    }
    o += 32;
    reseal(out, o);
    *out_len = o;
    return out;
}

/* A node can start from a snapshot of the version before sessions were
 * keyed by principal: its sessions become sessions of no principal, whose
 * answers are returned to any retry, as they were. */
static void restore_reads_a_version_1_snapshot(void **state)
{
    struct fx *f = *state;
    struct fx g;
    struct store_cmd c;
    msgpack_sbuffer first;
    unsigned char *buf;
    unsigned char *v1;
    size_t len;
    size_t v1_len;
    uint64_t rev;

    msgpack_sbuffer_init(&first);
    build_state(f);
    cmd_score(&c, "h1", 0.25);
    c.client = 7;
    c.seq = 1;
    c.ack = 1;
    c.time_ms = 1000;
    assert_int_equal(fx_apply(f, &c), 0);
    msgpack_sbuffer_write(&first, f->answer.data, f->answer.size);
    rev = store_revision(f->s);
    snapshot(f, &buf, &len);
    v1 = snapshot_as_v1(buf, len, &v1_len);
    assert_true(v1_len < len);

    fx_open(&g);
    assert_int_equal(store_restore(g.s, v1, v1_len), 0);
    assert_same_reads(f, &g);
    assert_int_equal(store_revision(g.s), rev);
    /* The remembered answer is still there for the retry. */
    cmd_score(&c, "h1", 0.25);
    c.client = 7;
    c.seq = 1;
    c.ack = 1;
    c.time_ms = 2000;
    assert_int_equal(fx_apply(&g, &c), 0);
    assert_int_equal(g.answer.size, first.size);
    assert_memory_equal(g.answer.data, first.data, first.size);
    assert_int_equal(store_revision(g.s), rev);
    /* The session and its time index work on: the next seq applies, and
     * expiry finds the session. */
    c.seq = 2;
    assert_int_equal(fx_apply(&g, &c), 0);
    assert_int_equal(store_revision(g.s), rev + 1);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_EXPIRE;
    c.u.expire.ttl_ms = 10;
    c.time_ms = 1000000;
    assert_int_equal(fx_apply(&g, &c), 0);
    assert_int_equal(obj_u64(ans_result(&g), "expired"), 1);

    free(v1);
    free(buf);
    msgpack_sbuffer_destroy(&first);
    fx_close(&g);
}

static void digest_tells_states_apart(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char a[32];
    unsigned char b[32];

    fx_open(&g);
    assert_same_digest(f, &g);
    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    digest(f, a);
    digest(&g, b);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(add_host(&g, "h1", 1, 2), 0);
    digest(&g, b);
    assert_memory_not_equal(a, b, 32);
    fx_close(&g);
}

/* ---- determinism ------------------------------------------------------ */

struct prng
{
    uint64_t x;
};

static uint64_t next_u64(struct prng *r)
{
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return r->x;
}

static unsigned pick(struct prng *r, unsigned n)
{
    return (unsigned)(next_u64(r) % n);
}

/* One random command over small pools of names, so that successes and
 * every kind of refusal both happen.  @wf: the last workflow created, which
 * advances mostly aim at. */
static void random_cmd(struct prng *r,
                       struct store_cmd *c,
                       uint64_t seqs[4],
                       int64_t *clock,
                       uint64_t wf)
{
    static const char *const res[] = {"h0",  "h1",  "h2",   "h3",
                                      "vm0", "ct0", "psu0", "sw0"};
    static const char *const kinds[] = {"host", "host",      "host", "host",
                                        "vm",   "container", "psu",  "switch"};
    char w[8];
    unsigned i = pick(r, 8);
    unsigned j = pick(r, 8);

    snprintf(w, sizeof w, "w%u", pick(r, 12));
    switch (pick(r, 19)) {
        case 0:
            cmd_resource_add(c, res[i], kinds[i], pick(r, 16), pick(r, 4096));
            break;
        case 1:
            cmd_set_state(c, res[i], (int)pick(r, STORE_STATE_COUNT));
            break;
        case 2:
            cmd_workload_add(c, w, pick(r, 5), pick(r, 600));
            c->u.workload_add.priority = (int64_t)pick(r, 7) - 3;
            break;
        case 3:
            cmd_edge(c, STORE_OP_EDGE_ADD, res[i], res[j],
                     (int)pick(r, STORE_EDGE_COUNT));
            break;
        case 4:
            cmd_edge(c, STORE_OP_EDGE_REMOVE, res[i], res[j], 0);
            break;
        case 5:
        case 6:
            cmd_acquire(c, w, pick(r, 2) == 0 ? NULL : res[i]);
            break;
        case 7:
            cmd_transfer(c, w, res[i], pick(r, 5));
            break;
        case 8:
            cmd_release(c, w, pick(r, 5));
            break;
        case 9:
            cmd_score(c, res[i], pick(r, 11) / 10.0);
            break;
        case 10:
            memset(c, 0, sizeof *c);
            c->op = STORE_OP_NODE_SET;
            c->u.node.id = 1 + pick(r, 3);
            snprintf(c->u.node.raft_address, STORE_ADDR_SIZE, "n:%u",
                     pick(r, 9));
            snprintf(c->u.node.client_address, STORE_ADDR_SIZE, "c:%u",
                     pick(r, 9));
            break;
        case 11: {
            /* Cohorts of two distinct workloads (some taken, some not). */
            unsigned a = pick(r, 12);
            unsigned b = (a + 1 + pick(r, 11)) % 12;
            static const char *const names[] = {"c0", "c1", "c2"};

            memset(c, 0, sizeof *c);
            c->op = STORE_OP_COHORT_CREATE;
            snprintf(c->u.cohort.name, STORE_ID_SIZE, "%s", names[pick(r, 3)]);
            c->u.cohort.n_workloads = 2;
            snprintf(c->u.cohort.workloads[0], STORE_ID_SIZE, "w%u", a);
            snprintf(c->u.cohort.workloads[1], STORE_ID_SIZE, "w%u", b);
            c->u.cohort.spread = (int)pick(r, STORE_SPREAD_COUNT);
            c->u.cohort.min_available = pick(r, 3);
            c->u.cohort.min_resilience = pick(r, 11) / 10.0;
            break;
        }
        case 12:
            memset(c, 0, sizeof *c);
            c->op = pick(r, 3) == 0   ? STORE_OP_COHORT_DELETE
                    : pick(r, 2) == 0 ? STORE_OP_COHORT_ADD
                                      : STORE_OP_COHORT_REMOVE;
            snprintf(c->u.cohort.name, STORE_ID_SIZE, "c%u", pick(r, 3));
            snprintf(c->u.cohort.workload, STORE_ID_SIZE, "%s", w);
            break;
        case 13: {
            static const char *const keys[] = {
                "migrate_threshold", "provision_threshold", "hysteresis",
                "max_attempts",      "automatic",           "bogus"};
            static const char *const values[] = {"0.3", "0.6", "0.9",
                                                 "0",   "7",   "true"};

            memset(c, 0, sizeof *c);
            c->op = STORE_OP_POLICY_SET;
            snprintf(c->u.policy.key, STORE_ID_SIZE, "%s", keys[pick(r, 6)]);
            snprintf(c->u.policy.value, STORE_POLICY_VALUE_SIZE, "%s",
                     values[pick(r, 6)]);
            break;
        }
        case 14:
            memset(c, 0, sizeof *c);
            c->op = STORE_OP_WORKFLOW_CREATE;
            snprintf(c->u.workflow.workload, STORE_ID_SIZE, "%s", w);
            if (pick(r, 2) == 0) {
                snprintf(c->u.workflow.to, STORE_ID_SIZE, "%s", res[i]);
            }
            c->u.workflow.has_strategy = pick(r, 2) == 0;
            c->u.workflow.strategy = (int)pick(r, STORE_STRATEGY_COUNT);
            c->u.workflow.has_reason = pick(r, 2) == 0;
            c->u.workflow.reason = (int)pick(r, STORE_REASON_COUNT);
            c->u.workflow.hold = pick(r, 4) == 0;
            break;
        case 15:
        case 16:
            memset(c, 0, sizeof *c);
            c->op = pick(r, 8) == 0 ? STORE_OP_WORKFLOW_CANCEL
                                    : STORE_OP_WORKFLOW_ADVANCE;
            c->u.workflow.id = wf > 2 ? wf - pick(r, 3) : 1 + pick(r, 9);
            c->u.workflow.step = pick(r, 4);
            c->u.workflow.attempt = 1 + pick(r, 4) / 3;
            c->u.workflow.event = pick(r, 3) == 0
                                      ? (int)pick(r, STORE_WF_EVENT_COUNT)
                                      : (int)pick(r, 2); /* start, ok */
            break;
        case 17:
            memset(c, 0, sizeof *c);
            c->op = pick(r, 3) == 0   ? STORE_OP_SHADOW_PROVISION
                    : pick(r, 2) == 0 ? STORE_OP_SHADOW_UPDATE
                                      : STORE_OP_SHADOW_RELEASE;
            snprintf(c->u.shadow.workload, STORE_ID_SIZE, "%s", w);
            snprintf(c->u.shadow.host, STORE_ID_SIZE, "%s", res[i]);
            c->u.shadow.epoch = pick(r, 5);
            c->u.shadow.state = (int)pick(r, STORE_SHADOW_STATE_COUNT);
            c->u.shadow.lag_ms = pick(r, 100);
            break;
        default:
            memset(c, 0, sizeof *c);
            c->op = STORE_OP_SESSION_EXPIRE;
            c->u.expire.ttl_ms = pick(r, 2000);
            break;
    }
    /* Clocks mostly go forward, sometimes back (a new leader). */
    *clock += (int64_t)pick(r, 300) - 40;
    c->time_ms = *clock;
    c->client = pick(r, 4);
    if (c->client != 0) {
        uint64_t *seq = &seqs[c->client];
        if (*seq > 0 && pick(r, 8) == 0) {
            c->seq = *seq - pick(r, 3); /* a retry, maybe of an old one */
        } else {
            c->seq = ++*seq;
        }
        c->ack = *seq > 2 ? *seq - pick(r, 3) : 1;
    }
}

static void same_commands_give_same_answers_and_state(void **state)
{
    struct fx *f = *state;
    struct fx g;
    struct fx h;
    struct prng r = {0x2545f4914f6cdd1du};
    uint64_t seqs[4] = {0, 0, 0, 0};
    int64_t clock = 1700000000000;
    msgpack_sbuffer raw;
    unsigned ok = 0;
    uint64_t wf = 0;

    fx_open(&g);
    fx_open(&h);
    msgpack_sbuffer_init(&raw);
    for (int i = 0; i < 3000; i++) {
        struct store_cmd c;

        random_cmd(&r, &c, seqs, &clock, wf);
        /* f applies the struct, g the wire form (as a Raft entry). */
        raw.size = 0;
        assert_int_equal(store_cmd_encode(&c, &raw), 0);
        if (fx_apply(f, &c) == 0) {
            ok++;
            if (c.op == STORE_OP_WORKFLOW_CREATE) {
                wf = ans_rev(f);
            }
        }
        fx_apply_raw(&g, raw.data, raw.size);
        assert_int_equal(g.answer.size, f->answer.size);
        assert_memory_equal(g.answer.data, f->answer.data, f->answer.size);
        /* h joins half-way from a snapshot of f, as a lagging node
         * would. */
        if (i == 1500) {
            unsigned char *buf;
            size_t len;
            snapshot(f, &buf, &len);
            assert_int_equal(store_restore(h.s, buf, len), 0);
            free(buf);
        } else if (i > 1500) {
            fx_apply(&h, &c);
            assert_int_equal(h.answer.size, f->answer.size);
            assert_memory_equal(h.answer.data, f->answer.data, f->answer.size);
        }
    }
    /* The sequence did real work, not only refusals. */
    assert_true(ok > 300);
    assert_true(store_revision(f->s) > 300);
    {
        struct store_cmd c;
        cmd_list(&c, STORE_OP_COHORT_LIST, NULL, NULL, 0);
        assert_int_equal(fx_read(f, &c), 0);
        assert_true(obj_len(ans_result(f), "items") > 0);
    }
    assert_int_equal(store_revision(g.s), store_revision(f->s));
    assert_int_equal(store_revision(h.s), store_revision(f->s));
    assert_same_digest(f, &g);
    assert_same_digest(f, &h);
    assert_same_reads(f, &g);
    msgpack_sbuffer_destroy(&raw);
    fx_close(&g);
    fx_close(&h);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(snapshot_restores_into_a_fresh_store_identically),
        T(snapshot_restore_replaces_the_whole_state),
        T(snapshot_async_sees_the_state_at_begin),
        T(snapshot_of_an_empty_store_restores),
        T(snapshot_reports_allocation_failure),
        T(restore_refuses_a_flipped_byte_and_keeps_the_state),
        T(restore_refuses_a_truncated_snapshot),
        T(restore_refuses_bad_content_under_a_valid_checksum),
        T(restore_reads_a_version_1_snapshot),
        T(digest_tells_states_apart),
        T(same_commands_give_same_answers_and_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
