/* Unit tests of store/'s command codec: names, round trips of every op, the
 * golden claim.transfer command, and refusal of malformed input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

/* ---- helpers ---------------------------------------------------------- */

#define set_str(field, value) snprintf((field), sizeof(field), "%s", (value))

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pk_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    pk_str(pk, k);
    pk_str(pk, v);
}

static void pk_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    pk_str(pk, k);
    msgpack_pack_uint64(pk, v);
}

/* Decode the args map packed in @sb for @op. */
static int decode_packed(enum store_op op,
                         const msgpack_sbuffer *sb,
                         struct store_cmd *cmd,
                         char *errmsg)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rv;

    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb->data, sb->size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    rv = store_cmd_decode_args(op, &u.data, cmd, errmsg);
    msgpack_unpacked_destroy(&u);
    return rv;
}

static void cmd_session(struct store_cmd *c, uint64_t seq)
{
    c->client = 0x0123456789abcdefu;
    c->seq = seq;
    c->ack = seq > 2 ? seq - 2 : 0;
    c->time_ms = 1700000000000 + (int64_t)seq;
}

static void assert_round_trips(const struct store_cmd *c)
{
    char errmsg[STORE_ERRMSG_SIZE] = "";
    struct store_cmd back;
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(c, &sb), 0);
    memset(&back, 0xa5, sizeof back);
    if (store_cmd_decode(sb.data, sb.size, &back, errmsg) != 0) {
        fail_msg("%s does not decode: %s", store_op_name(c->op), errmsg);
    }
    assert_memory_equal(&back, c, sizeof back);
    msgpack_sbuffer_destroy(&sb);
}

static void read_golden(const char *name, char **buf, size_t *len)
{
    char path[512];
    FILE *f;
    long n;

    snprintf(path, sizeof path, "%s/%s", AUGUR_GOLDEN_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    *buf = malloc((size_t)n);
    assert_non_null(*buf);
    assert_int_equal(fread(*buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
}

/* A valid whole command, for mutation. */
static void encode_transfer(msgpack_sbuffer *sb)
{
    struct store_cmd c;

    cmd_transfer(&c, "w1", "h2", 3);
    cmd_session(&c, 7);
    msgpack_sbuffer_init(sb);
    assert_int_equal(store_cmd_encode(&c, sb), 0);
}

/* ---- names ------------------------------------------------------------ */

static void op_names_round_trip(void **state)
{
    static const enum store_op ops[] = {
        STORE_OP_RESOURCE_ADD,   STORE_OP_RESOURCE_SET_STATE,
        STORE_OP_WORKLOAD_ADD,   STORE_OP_EDGE_ADD,
        STORE_OP_EDGE_REMOVE,    STORE_OP_CLAIM_ACQUIRE,
        STORE_OP_CLAIM_TRANSFER, STORE_OP_CLAIM_RELEASE,
        STORE_OP_SCORE_SET,      STORE_OP_NODE_SET,
        STORE_OP_SESSION_EXPIRE, STORE_OP_RESOURCE_GET,
        STORE_OP_RESOURCE_LIST,  STORE_OP_WORKLOAD_GET,
        STORE_OP_WORKLOAD_LIST,  STORE_OP_EDGE_LIST,
        STORE_OP_CLAIM_GET,      STORE_OP_CLAIM_LIST,
        STORE_OP_EVENTS,         STORE_OP_NODE_LIST,
    };

    (void)state;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const char *name = store_op_name(ops[i]);
        assert_non_null(name);
        assert_int_equal(store_op_from_name(name, strlen(name)), ops[i]);
        assert_int_equal(store_op_is_write(ops[i]) != 0, ops[i] < 64);
    }
    assert_string_equal(store_op_name(STORE_OP_CLAIM_TRANSFER),
                        "claim.transfer");
    assert_int_equal(store_op_from_name("claim.transfe", 13), STORE_OP_NONE);
    assert_int_equal(store_op_from_name("claim.transferx", 15), STORE_OP_NONE);
    assert_int_equal(store_op_from_name(NULL, 0), STORE_OP_NONE);
    assert_null(store_op_name(STORE_OP_NONE));
    assert_null(store_op_name((enum store_op)99));
    assert_false(store_op_is_write(STORE_OP_NONE));
}

static void state_and_kind_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < STORE_STATE_COUNT; i++) {
        const char *name = store_state_name(i);
        assert_non_null(name);
        assert_int_equal(store_state_parse(name, strlen(name)), i);
    }
    for (int i = 0; i < STORE_EDGE_COUNT; i++) {
        const char *name = store_edge_kind_name(i);
        assert_non_null(name);
        assert_int_equal(store_edge_kind_parse(name, strlen(name)), i);
    }
    assert_int_equal(store_state_parse("broken", 6), -1);
    assert_int_equal(store_state_parse("activ", 5), -1);
    assert_int_equal(store_edge_kind_parse("gravity", 7), -1);
    assert_null(store_state_name(STORE_STATE_COUNT));
    assert_null(store_state_name(-1));
    assert_null(store_edge_kind_name(STORE_EDGE_COUNT));
}

/* ---- round trips ------------------------------------------------------ */

/* Issue 14's ops: cohorts (a list of workloads, a spread, defaults) and the
 * policy, and the refusals of their codec. */
static void cohort_and_policy_ops_round_trip(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE] = "";
    struct store_cmd c;
    msgpack_sbuffer sb;
    uint64_t seq = 1;

    (void)state;
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_CREATE;
    set_str(c.u.cohort.name, "web");
    c.u.cohort.n_workloads = 3;
    set_str(c.u.cohort.workloads[0], "w1");
    set_str(c.u.cohort.workloads[1], "w2");
    set_str(c.u.cohort.workloads[2], "w3");
    c.u.cohort.spread = STORE_SPREAD_SWITCH;
    c.u.cohort.min_available = 2;
    c.u.cohort.min_resilience = 0.99;
    cmd_session(&c, seq++);
    assert_round_trips(&c);
    c.u.cohort.min_available = 0; /* OMIT: every member */
    c.u.cohort.spread = STORE_SPREAD_NONE;
    assert_round_trips(&c);

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_ADD;
    set_str(c.u.cohort.name, "web");
    set_str(c.u.cohort.workload, "w4");
    cmd_session(&c, seq++);
    assert_round_trips(&c);
    c.op = STORE_OP_COHORT_REMOVE;
    assert_round_trips(&c);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_DELETE;
    set_str(c.u.cohort.name, "web");
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_SET;
    set_str(c.u.policy.key, "migrate_threshold");
    set_str(c.u.policy.value, "0.85");
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_get(&c, STORE_OP_COHORT_GET, "web");
    assert_round_trips(&c);
    cmd_list(&c, STORE_OP_COHORT_LIST, "web", NULL, 5);
    assert_round_trips(&c);
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_POLICY_GET;
    assert_round_trips(&c);

    /* Nothing invalid is encoded: no members, one twice, an unknown
     * spread, a resilience out of [0, 1]. */
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_COHORT_CREATE;
    set_str(c.u.cohort.name, "web");
    c.u.cohort.spread = STORE_SPREAD_HOST;
    c.u.cohort.min_resilience = 0.9;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    c.u.cohort.n_workloads = 2;
    set_str(c.u.cohort.workloads[0], "w1");
    set_str(c.u.cohort.workloads[1], "w1");
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    set_str(c.u.cohort.workloads[1], "w2");
    c.u.cohort.spread = STORE_SPREAD_COUNT;
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    c.u.cohort.spread = STORE_SPREAD_RACK;
    c.u.cohort.min_resilience = 1.5;
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    c.u.cohort.min_resilience = 0.5;
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &c, errmsg), 0);
    assert_int_equal(c.u.cohort.spread, STORE_SPREAD_RACK);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(store_spread_parse("psu", 3), STORE_SPREAD_PSU);
    assert_int_equal(store_spread_parse("rack2", 5), -1);
    assert_string_equal(store_spread_name(STORE_SPREAD_ZONE), "zone");
}

static void every_op_round_trips_through_encode_and_decode(void **state)
{
    struct store_cmd c;
    uint64_t seq = 1;

    (void)state;
    cmd_resource_add(&c, "h1", "host", 64, 65536);
    c.u.resource_add.n_labels = 2;
    set_str(c.u.resource_add.labels[0].key, "zone");
    set_str(c.u.resource_add.labels[0].value, "eu-west-1a");
    set_str(c.u.resource_add.labels[1].key, "rack");
    set_str(c.u.resource_add.labels[1].value, "");
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_set_state(&c, "h1", STORE_STATE_QUARANTINED);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_workload_add(&c, "w1", 4, 1024);
    c.u.workload_add.priority = -42;
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_edge(&c, STORE_OP_EDGE_ADD, "h1", "psu-1", STORE_EDGE_COOLING);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_edge(&c, STORE_OP_EDGE_REMOVE, "h1", "psu-1", 0);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_acquire(&c, "w1", "h1");
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_acquire(&c, "w1", NULL);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_transfer(&c, "w1", "h2", UINT64_MAX);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_release(&c, "w1", 17);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    cmd_score(&c, "h1", 0.125);
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_NODE_SET;
    c.u.node.id = 3;
    set_str(c.u.node.raft_address, "127.0.0.1:7003");
    set_str(c.u.node.client_address, "[::1]:8003");
    cmd_session(&c, seq++);
    assert_round_trips(&c);

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_EXPIRE;
    c.u.expire.ttl_ms = 600000;
    c.time_ms = -5; /* before the epoch: still a time */
    assert_round_trips(&c);

    cmd_get(&c, STORE_OP_RESOURCE_GET, "h1");
    assert_round_trips(&c);
    cmd_get(&c, STORE_OP_WORKLOAD_GET, "w1");
    assert_round_trips(&c);
    cmd_get(&c, STORE_OP_CLAIM_GET, "w1");
    assert_round_trips(&c);
    cmd_list(&c, STORE_OP_RESOURCE_LIST, "h1", NULL, 10);
    assert_round_trips(&c);
    cmd_list(&c, STORE_OP_WORKLOAD_LIST, NULL, NULL, 0);
    assert_round_trips(&c);
    cmd_list(&c, STORE_OP_EDGE_LIST, "h1/psu-1", "h1", 5);
    assert_round_trips(&c);
    cmd_list(&c, STORE_OP_CLAIM_LIST, "w1", "h2", STORE_LIST_LIMIT_MAX);
    assert_round_trips(&c);
    cmd_list(&c, STORE_OP_NODE_LIST, NULL, NULL, 0);
    assert_round_trips(&c);

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_EVENTS;
    c.u.events.from = 12;
    c.u.events.limit = 7;
    assert_round_trips(&c);
}

static void decode_fills_defaults_for_absent_optional_args(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "id", "h1");
    pk_str(&pk, "p");
    msgpack_pack_uint64(&pk, 1); /* JSON's 1, an integer */
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg), 0);
    assert_true(c.u.score.p == 1.0);
    assert_int_equal(c.u.score.window_s, 86400);

    /* events: from defaults to 1; nil counts as absent. */
    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "from");
    msgpack_pack_nil(&pk);
    assert_int_equal(decode_packed(STORE_OP_EVENTS, &sb, &c, errmsg), 0);
    assert_int_equal(c.u.events.from, 1);
    assert_int_equal(c.u.events.limit, 0);

    /* An over-large page is cut to the maximum. */
    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    pk_kv_u64(&pk, "limit", 1000000);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_LIST, &sb, &c, errmsg), 0);
    assert_int_equal(c.u.list.limit, STORE_LIST_LIMIT_MAX);

    /* No args at all: fine for ops without required ones. */
    assert_int_equal(
        store_cmd_decode_args(STORE_OP_NODE_LIST, NULL, &c, errmsg), 0);
    assert_int_equal(c.op, STORE_OP_NODE_LIST);
    msgpack_sbuffer_destroy(&sb);
}

static void decode_ignores_unknown_keys(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pk_kv_str(&pk, "workload", "w1");
    pk_kv_str(&pk, "future", "field");
    msgpack_pack_uint64(&pk, 5); /* a non-string key */
    msgpack_pack_nil(&pk);
    pk_kv_u64(&pk, "epoch", 9);
    assert_int_equal(decode_packed(STORE_OP_CLAIM_RELEASE, &sb, &c, errmsg), 0);
    assert_string_equal(c.u.release.workload, "w1");
    assert_int_equal(c.u.release.epoch, 9);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- golden ----------------------------------------------------------- */

/* The wire form of a claim.transfer is stored in the Raft log: it must
 * never change by accident.  AUGUR_GOLDEN_WRITE=1 rewrites the file. */
/* The principal a leader stamps on a client's write travels as "pk", 32
 * bytes; a command without one (the cluster's own, or an older entry)
 * decodes with none. */
static void principal_key_round_trips_and_is_checked(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE] = "";
    struct store_cmd c;
    struct store_cmd back;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint8_t key[33];

    (void)state;
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_OPEN;
    c.u.expire.ttl_ms = 5000;
    cmd_session(&c, 3);
    assert_round_trips(&c);
    c.has_principal = true;
    for (unsigned i = 0; i < sizeof c.principal; i++) {
        c.principal[i] = (uint8_t)(i * 7 + 1);
    }
    assert_round_trips(&c);

    memset(key, 0x11, sizeof key);
    for (size_t size = 31; size <= 33; size += 2) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        pk_kv_str(&pk, "op", "session.open");
        pk_str(&pk, "pk");
        msgpack_pack_bin_with_body(&pk, key, size);
        assert_int_equal(store_cmd_decode(sb.data, sb.size, &back, errmsg),
                         AUGUR_EMALFORMED);
        assert_non_null(strstr(errmsg, "'pk'"));
        msgpack_sbuffer_destroy(&sb);
    }
}

static void golden_claim_transfer_matches_file(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    struct store_cmd back;
    msgpack_sbuffer sb;
    char *want;
    size_t want_len;

    (void)state;
    cmd_transfer(&c, "w1", "h2", 3);
    c.client = 0x1122334455667788u;
    c.seq = 7;
    c.ack = 5;
    c.time_ms = 1700000000123;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(store_cmd_encode(&c, &sb), 0);
    if (getenv("AUGUR_GOLDEN_WRITE") != NULL) {
        char path[512];
        FILE *f;
        snprintf(path, sizeof path, "%s/claim_transfer.msgpack",
                 AUGUR_GOLDEN_DIR);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(sb.data, 1, sb.size, f), sb.size);
        assert_int_equal(fclose(f), 0);
    }
    read_golden("claim_transfer.msgpack", &want, &want_len);
    assert_int_equal(sb.size, want_len);
    assert_memory_equal(sb.data, want, want_len);
    assert_int_equal(store_cmd_decode(want, want_len, &back, errmsg), 0);
    assert_memory_equal(&back, &c, sizeof c);
    free(want);
    msgpack_sbuffer_destroy(&sb);
}

/* workflow.advance and workflow.create are in the Raft log too (the
 * leader's orchestrator writes them): their wire form is pinned alike. */
static void golden_workflow_commands_match_files(void **state)
{
    static const char *const files[] = {"workflow_advance.msgpack",
                                        "workflow_create.msgpack"};
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    struct store_cmd back;
    msgpack_sbuffer sb;
    char *want;
    size_t want_len;

    (void)state;
    for (int i = 0; i < 2; i++) {
        memset(&c, 0, sizeof c);
        if (i == 0) {
            c.op = STORE_OP_WORKFLOW_ADVANCE;
            c.u.workflow.id = 42;
            c.u.workflow.step = 1;
            c.u.workflow.attempt = 2;
            c.u.workflow.event = STORE_WF_EVENT_FAIL;
            snprintf(c.u.workflow.detail, sizeof c.u.workflow.detail,
                     "exit status 3: stale epoch");
        } else {
            c.op = STORE_OP_WORKFLOW_CREATE;
            snprintf(c.u.workflow.workload, sizeof c.u.workflow.workload, "w1");
            c.u.workflow.has_strategy = true;
            c.u.workflow.strategy = STORE_STRATEGY_STANDBY;
            c.u.workflow.has_reason = true;
            c.u.workflow.reason = STORE_REASON_FAILED;
            c.u.workflow.notify = true;
            c.u.workflow.hold = true;
        }
        c.time_ms = 1700000000123;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(store_cmd_encode(&c, &sb), 0);
        if (getenv("AUGUR_GOLDEN_WRITE") != NULL) {
            char path[512];
            FILE *f;
            snprintf(path, sizeof path, "%s/%s", AUGUR_GOLDEN_DIR, files[i]);
            f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(sb.data, 1, sb.size, f), sb.size);
            assert_int_equal(fclose(f), 0);
        }
        read_golden(files[i], &want, &want_len);
        assert_int_equal(sb.size, want_len);
        assert_memory_equal(sb.data, want, want_len);
        assert_int_equal(store_cmd_decode(want, want_len, &back, errmsg), 0);
        assert_memory_equal(&back, &c, sizeof c);
        free(want);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ---- malformed commands ----------------------------------------------- */

static void decode_refuses_every_truncation(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;

    (void)state;
    encode_transfer(&sb);
    for (size_t n = 0; n < sb.size; n++) {
        assert_int_equal(store_cmd_decode(sb.data, n, &c, errmsg),
                         AUGUR_EMALFORMED);
    }
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &c, errmsg), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void decode_refuses_trailing_bytes(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;

    (void)state;
    encode_transfer(&sb);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    assert_int_equal(store_cmd_decode(sb.data, sb.size, &c, errmsg),
                     AUGUR_EMALFORMED);
    msgpack_sbuffer_destroy(&sb);
}

static void decode_refuses_a_broken_envelope(void **state)
{
    static const struct
    {
        const char *what;
        const char *bytes;
        size_t len;
    } cases[] = {
        {"not a map", "\x93\x01\x02\x03", 4},
        {"no op",
         "\x81\xa4"
         "args"
         "\x80",
         7},
        {"op not a string",
         "\x81\xa2"
         "op"
         "\x07",
         5},
        {"unknown op",
         "\x81\xa2"
         "op"
         "\xa9"
         "claim.eat",
         14},
        {"args not a map",
         "\x82\xa2"
         "op"
         "\xa6"
         "events"
         "\xa4"
         "args"
         "\x91\x01",
         19},
        {"negative client",
         "\x82\xa2"
         "op"
         "\xa6"
         "events"
         "\xa6"
         "client"
         "\xff",
         18},
        {"string time",
         "\x82\xa2"
         "op"
         "\xa6"
         "events"
         "\xa4"
         "time"
         "\xa1"
         "x",
         17},
        {"reserved byte", "\xc1", 1},
        {"empty", "", 0},
    };
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rv = store_cmd_decode(cases[i].bytes, cases[i].len, &c, errmsg);
        if (rv != AUGUR_EMALFORMED) {
            fail_msg("%s: got %d (%s)", cases[i].what, rv, errmsg);
        }
    }
    assert_int_equal(store_cmd_decode(NULL, 0, &c, errmsg), AUGUR_EMALFORMED);
}

static void decode_refuses_counts_the_bytes_cannot_back(void **state)
{
    /* A map announcing 2^32-1 entries in a few bytes must be refused
     * before msgpack-c reserves room for them. */
    static const char huge_map[] = "\xdf\xff\xff\xff\xff\xa2op";
    static const char huge_array[] = "\x81\xa2op\xdd\xff\xff\xff\xff\x01";
    static const char huge_str[] =
        "\x81\xa2op\xdb\x7f\xff\xff\xff"
        "ab";
    char errmsg[STORE_ERRMSG_SIZE];
    unsigned char deep[64];
    struct store_cmd c;

    (void)state;
    assert_int_equal(
        store_cmd_decode(huge_map, sizeof huge_map - 1, &c, errmsg),
        AUGUR_EMALFORMED);
    assert_int_equal(
        store_cmd_decode(huge_array, sizeof huge_array - 1, &c, errmsg),
        AUGUR_EMALFORMED);
    assert_int_equal(
        store_cmd_decode(huge_str, sizeof huge_str - 1, &c, errmsg),
        AUGUR_EMALFORMED);
    /* Nesting deeper than any command needs. */
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x01;
    assert_int_equal(store_cmd_decode(deep, sizeof deep, &c, errmsg),
                     AUGUR_EMALFORMED);
}

static void decode_args_refuses_missing_fields(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "workload", "w1");
    pk_kv_str(&pk, "to", "h2");
    assert_int_equal(decode_packed(STORE_OP_CLAIM_TRANSFER, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "'epoch' is required"));

    sb.size = 0;
    msgpack_pack_map(&pk, 0);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "'id'"));
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(decode_packed(STORE_OP_SESSION_EXPIRE, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(decode_packed(STORE_OP_NODE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(decode_packed(STORE_OP_CLAIM_GET, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* An args map that is no map. */
    sb.size = 0;
    msgpack_pack_array(&pk, 0);
    assert_int_equal(decode_packed(STORE_OP_EVENTS, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    /* An op the codec does not know. */
    assert_int_equal(store_cmd_decode_args(STORE_OP_NONE, NULL, &c, errmsg),
                     AUGUR_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

static void decode_args_refuses_wrong_types(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    /* epoch as a string */
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "workload", "w1");
    pk_kv_str(&pk, "to", "h2");
    pk_kv_str(&pk, "epoch", "3");
    assert_int_equal(decode_packed(STORE_OP_CLAIM_TRANSFER, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* a negative epoch */
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "workload", "w1");
    pk_str(&pk, "epoch");
    msgpack_pack_int64(&pk, -1);
    assert_int_equal(decode_packed(STORE_OP_CLAIM_RELEASE, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* an id as an integer */
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "id");
    msgpack_pack_uint64(&pk, 7);
    pk_kv_str(&pk, "kind", "host");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* capacity as an array, then with a string cpu */
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "capacity");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 2);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "capacity");
    msgpack_pack_map(&pk, 1);
    pk_kv_str(&pk, "cpu", "lots");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "capacity.cpu"));

    /* labels as an array, and a label value as an integer */
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "labels");
    msgpack_pack_array(&pk, 0);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "labels");
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "zone");
    msgpack_pack_uint64(&pk, 1);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* priority as a float, p as a string, state as an integer */
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "id", "w1");
    pk_str(&pk, "priority");
    msgpack_pack_double(&pk, 1.5);
    assert_int_equal(decode_packed(STORE_OP_WORKLOAD_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "p", "0.5");
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_u64(&pk, "state", 0);
    assert_int_equal(
        decode_packed(STORE_OP_RESOURCE_SET_STATE, &sb, &c, errmsg),
        AUGUR_EINVAL);

    /* a string with a NUL inside */
    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "id");
    msgpack_pack_str_with_body(&pk, "h\0x", 3);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_GET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

static void decode_args_refuses_unknown_state_and_kind(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "state", "on-fire");
    assert_int_equal(
        decode_packed(STORE_OP_RESOURCE_SET_STATE, &sb, &c, errmsg),
        AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "on-fire"));

    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "from", "a");
    pk_kv_str(&pk, "to", "b");
    pk_kv_str(&pk, "kind", "gravity");
    assert_int_equal(decode_packed(STORE_OP_EDGE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* edge.add needs a kind; edge.remove does not. */
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "from", "a");
    pk_kv_str(&pk, "to", "b");
    assert_int_equal(decode_packed(STORE_OP_EDGE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(decode_packed(STORE_OP_EDGE_REMOVE, &sb, &c, errmsg), 0);

    /* A resource kind is an identifier too. */
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "big host");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* The state field of a hand-built command is checked too. */
    cmd_set_state(&c, "h1", STORE_STATE_COUNT);
    sb.size = 0;
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    assert_int_equal(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

static void pack_score(msgpack_sbuffer *sb, double p, uint64_t window)
{
    msgpack_packer pk;

    sb->size = 0;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_str(&pk, "p");
    msgpack_pack_double(&pk, p);
    pk_kv_u64(&pk, "window", window);
}

static void decode_args_refuses_p_out_of_range_and_nan(void **state)
{
    static const double bad[] = {-0.000001, 1.000001, 2.0, -1.0};
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;

    (void)state;
    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pack_score(&sb, bad[i], 60);
        assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg),
                         AUGUR_EINVAL);
    }
    pack_score(&sb, NAN, 60);
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    pack_score(&sb, INFINITY, 60);
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    pack_score(&sb, 0.5, 0);
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "window"));

    /* The ends are in range, and -0 is 0. */
    pack_score(&sb, 0.0, 60);
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg), 0);
    pack_score(&sb, 1.0, 60);
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg), 0);
    pack_score(&sb, -0.0, 60);
    assert_int_equal(decode_packed(STORE_OP_SCORE_SET, &sb, &c, errmsg), 0);
    assert_false(signbit(c.u.score.p));

    /* A hand-built NaN is refused by the encoder too. */
    cmd_score(&c, "h1", NAN);
    sb.size = 0;
    assert_int_equal(store_cmd_encode(&c, &sb), AUGUR_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

static int decode_id(const char *id, size_t len)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rv;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "id");
    msgpack_pack_str_with_body(&pk, id, len);
    rv = decode_packed(STORE_OP_WORKLOAD_ADD, &sb, &c, errmsg);
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

static void decode_args_checks_identifiers(void **state)
{
    char id[200];

    (void)state;
    assert_int_equal(decode_id("w1", 2), 0);
    assert_int_equal(decode_id("a.b_c:d@e-F9", 12), 0);
    assert_int_equal(decode_id("", 0), AUGUR_EINVAL);
    assert_int_equal(decode_id("a b", 3), AUGUR_EINVAL);
    assert_int_equal(decode_id("a/b", 3), AUGUR_EINVAL);
    assert_int_equal(decode_id("caf\xc3\xa9", 5), AUGUR_EINVAL);
    memset(id, 'x', sizeof id);
    assert_int_equal(decode_id(id, STORE_ID_SIZE - 1), 0);
    assert_int_equal(decode_id(id, STORE_ID_SIZE), AUGUR_ETOOBIG);
    assert_int_equal(decode_id(id, sizeof id), AUGUR_ETOOBIG);
}

static void pack_labels(msgpack_sbuffer *sb,
                        unsigned n,
                        const char *key,
                        const char *value)
{
    msgpack_packer pk;

    sb->size = 0;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "labels");
    msgpack_pack_map(&pk, n);
    for (unsigned i = 0; i < n; i++) {
        char k[80];
        snprintf(k, sizeof k, "%s%u", key, i);
        pk_kv_str(&pk, k, value);
    }
}

static void decode_args_checks_label_limits(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    char long_key[STORE_LABEL_KEY_SIZE + 1];
    char long_value[STORE_LABEL_VALUE_SIZE + 1];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    pack_labels(&sb, STORE_LABELS_MAX, "k", "v");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg), 0);
    assert_int_equal(c.u.resource_add.n_labels, STORE_LABELS_MAX);
    pack_labels(&sb, STORE_LABELS_MAX + 1, "k", "v");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_ETOOBIG);

    /* A 63-byte key (with its digit) fits; 64 does not. */
    memset(long_key, 'k', sizeof long_key);
    long_key[STORE_LABEL_KEY_SIZE - 2] = 0;
    pack_labels(&sb, 1, long_key, "v");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg), 0);
    long_key[STORE_LABEL_KEY_SIZE - 2] = 'k';
    long_key[STORE_LABEL_KEY_SIZE - 1] = 0;
    pack_labels(&sb, 1, long_key, "v");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_ETOOBIG);

    memset(long_value, 'v', sizeof long_value);
    long_value[STORE_LABEL_VALUE_SIZE - 1] = 0;
    pack_labels(&sb, 1, "k", long_value);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg), 0);
    long_value[STORE_LABEL_VALUE_SIZE - 1] = 'v';
    long_value[STORE_LABEL_VALUE_SIZE] = 0;
    pack_labels(&sb, 1, "k", long_value);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_ETOOBIG);

    /* A key given twice, an empty key, a control character. */
    sb.size = 0;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "labels");
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "zone", "a");
    pk_kv_str(&pk, "zone", "b");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "twice"));
    pack_labels(&sb, 1, "", "v");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     0); /* the key is "0" */
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "id", "h1");
    pk_kv_str(&pk, "kind", "host");
    pk_str(&pk, "labels");
    msgpack_pack_map(&pk, 1);
    pk_kv_str(&pk, "", "v");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    pack_labels(&sb, 1, "k", "line\nbreak");
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_ADD, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

static void decode_args_checks_node_addresses_and_cursors(void **state)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store_cmd c;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_kv_u64(&pk, "id", 0);
    pk_kv_str(&pk, "raft_address", "127.0.0.1:1");
    pk_kv_str(&pk, "client_address", "127.0.0.1:2");
    assert_int_equal(decode_packed(STORE_OP_NODE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    pk_kv_u64(&pk, "id", 1);
    pk_kv_str(&pk, "raft_address", "127.0.0.1 1");
    pk_kv_str(&pk, "client_address", "127.0.0.1:2");
    assert_int_equal(decode_packed(STORE_OP_NODE_SET, &sb, &c, errmsg),
                     AUGUR_EINVAL);

    /* edge.list takes FROM/TO cursors; the other lists take ids. */
    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    pk_kv_str(&pk, "after", "h1");
    assert_int_equal(decode_packed(STORE_OP_EDGE_LIST, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_LIST, &sb, &c, errmsg), 0);
    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    pk_kv_str(&pk, "after", "h1/psu");
    assert_int_equal(decode_packed(STORE_OP_EDGE_LIST, &sb, &c, errmsg), 0);
    assert_int_equal(decode_packed(STORE_OP_RESOURCE_LIST, &sb, &c, errmsg),
                     AUGUR_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

static void answer_error_is_status_and_message(void **state)
{
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    size_t off = 0;

    (void)state;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(
        store_answer_error(&sb, AUGUR_ENOTFOUND, "no resource named %s", "h9"),
        0);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.via.map.size, 2);
    assert_int_equal(obj_u64(&u.data, "status"), AUGUR_ENOTFOUND);
    assert_obj_str(&u.data, "error", "no resource named h9");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* Random and mutated entries reach apply_raw as answers, never as a crash;
 * an undecodable one changes nothing. */
static void apply_raw_survives_garbage(void **state)
{
    struct fx *f = *state;
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned char buf[256];
    msgpack_sbuffer valid;

    encode_transfer(&valid);
    assert_int_equal(fx_apply_raw(f, "\x92\x01", 2), AUGUR_EMALFORMED);
    assert_int_equal(store_revision(f->s), 0);
    for (int i = 0; i < 3000; i++) {
        size_t len;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (i % 2 == 0) {
            len = (size_t)(x % sizeof buf);
            for (size_t j = 0; j < len; j++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[j] = (unsigned char)x;
            }
        } else {
            len = valid.size;
            memcpy(buf, valid.data, len);
            buf[x % len] ^= (unsigned char)(1u << ((x >> 32) % 8));
            len -= (size_t)((x >> 40) % 3);
        }
        f->answer.size = 0;
        assert_int_equal(store_apply_raw(f->s, buf, len, &f->answer), 0);
        assert_true(f->answer.size > 0);
    }
    /* Nothing in those bytes named a workload that exists. */
    assert_int_equal(store_revision(f->s), 0);
    msgpack_sbuffer_destroy(&valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(op_names_round_trip),
        cmocka_unit_test(cohort_and_policy_ops_round_trip),
        cmocka_unit_test(principal_key_round_trips_and_is_checked),
        cmocka_unit_test(state_and_kind_names_round_trip),
        cmocka_unit_test(every_op_round_trips_through_encode_and_decode),
        cmocka_unit_test(decode_fills_defaults_for_absent_optional_args),
        cmocka_unit_test(decode_ignores_unknown_keys),
        cmocka_unit_test(golden_claim_transfer_matches_file),
        cmocka_unit_test(golden_workflow_commands_match_files),
        cmocka_unit_test(decode_refuses_every_truncation),
        cmocka_unit_test(decode_refuses_trailing_bytes),
        cmocka_unit_test(decode_refuses_a_broken_envelope),
        cmocka_unit_test(decode_refuses_counts_the_bytes_cannot_back),
        cmocka_unit_test(decode_args_refuses_missing_fields),
        cmocka_unit_test(decode_args_refuses_wrong_types),
        cmocka_unit_test(decode_args_refuses_unknown_state_and_kind),
        cmocka_unit_test(decode_args_refuses_p_out_of_range_and_nan),
        cmocka_unit_test(decode_args_checks_identifiers),
        cmocka_unit_test(decode_args_checks_label_limits),
        cmocka_unit_test(decode_args_checks_node_addresses_and_cursors),
        cmocka_unit_test(answer_error_is_status_and_message),
        cmocka_unit_test_setup_teardown(apply_raw_survives_garbage, fx_setup,
                                        fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
