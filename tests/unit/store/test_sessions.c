/* Unit tests of store/'s sessions (at-most-once writes, acks, expiry) and
 * of the event log (revisions, paging, trimming, compacted revisions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

/* Apply @c as (client, seq, ack) at @time_ms; keep the answer's bytes. */
static int apply_as(struct fx *f,
                    struct store_cmd *c,
                    uint64_t client,
                    uint64_t seq,
                    uint64_t ack,
                    int64_t time_ms,
                    msgpack_sbuffer *bytes)
{
    c->client = client;
    c->seq = seq;
    c->ack = ack;
    c->time_ms = time_ms;
    int status = fx_apply(f, c);
    if (bytes != NULL) {
        bytes->size = 0;
        msgpack_sbuffer_write(bytes, f->answer.data, f->answer.size);
    }
    return status;
}

static void assert_same_bytes(const struct fx *f, const msgpack_sbuffer *want)
{
    assert_int_equal(f->answer.size, want->size);
    assert_memory_equal(f->answer.data, want->data, want->size);
}

static void digest(struct fx *f, unsigned char *out)
{
    assert_int_equal(store_digest(f->s, out), 0);
}

static void assert_digest(struct fx *f, const unsigned char *want)
{
    unsigned char got[32];
    digest(f, got);
    assert_memory_equal(got, want, 32);
}

/* ---- sessions --------------------------------------------------------- */

static void session_retry_applies_once_with_identical_bytes(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];
    msgpack_sbuffer first;
    struct store_cmd c;

    msgpack_sbuffer_init(&first);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_as(f, &c, 7, 1, 1, 5000, &first), 0);
    assert_int_equal(store_revision(f->s), 2);
    digest(f, before);

    /* The retry: the same bytes, no new revision, no change at all. */
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_as(f, &c, 7, 1, 1, 9000, NULL), 0);
    assert_same_bytes(f, &first);
    assert_int_equal(store_revision(f->s), 2);
    assert_digest(f, before);

    /* A different body under the same (client, seq) is not that retry: it
     * is refused (not answered with the first answer), and changes
     * nothing. */
    cmd_score(&c, "h1", 0.9);
    assert_int_equal(apply_as(f, &c, 7, 1, 1, 9000, NULL), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "used for a different command"));
    assert_int_equal(store_revision(f->s), 2);
    assert_digest(f, before);
    /* Nor does another op with the same arguments pass for it. */
    cmd_get(&c, STORE_OP_RESOURCE_GET, "h1");
    c.op = STORE_OP_RESOURCE_SET_STATE;
    c.u.set_state.state = STORE_STATE_ACTIVE;
    assert_int_equal(apply_as(f, &c, 7, 1, 1, 9000, NULL), AUGUR_EINVAL);
    assert_digest(f, before);
    /* The first command still gets its answer. */
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_as(f, &c, 7, 1, 1, 9000, NULL), 0);
    assert_same_bytes(f, &first);

    /* The next seq applies. */
    assert_int_equal(apply_as(f, &c, 7, 2, 1, 9000, NULL), 0);
    assert_int_equal(store_revision(f->s), 3);
    msgpack_sbuffer_destroy(&first);
}

static void session_retry_of_a_refusal_gets_the_same_refusal(void **state)
{
    struct fx *f = *state;
    msgpack_sbuffer first;
    struct store_cmd c;

    msgpack_sbuffer_init(&first);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    assert_int_equal(add_host(f, "h2", 10, 10), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    cmd_transfer(&c, "w1", "h2", 2);
    assert_int_equal(apply_as(f, &c, 9, 1, 1, 100, &first), AUGUR_ECONFLICT);
    /* Epoch 2 becomes current; the retry still gets the first answer. */
    assert_int_equal(transfer(f, "w1", "h1", 1), 0);
    cmd_transfer(&c, "w1", "h2", 2);
    assert_int_equal(apply_as(f, &c, 9, 1, 1, 200, NULL), AUGUR_ECONFLICT);
    assert_same_bytes(f, &first);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_obj_str(ans_result(f), "host", "h1");
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 2);
    msgpack_sbuffer_destroy(&first);
}

static void session_ack_forgets_answers_and_floor_refuses_old_seqs(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];
    msgpack_sbuffer third;
    struct store_cmd c;

    msgpack_sbuffer_init(&third);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    cmd_score(&c, "h1", 0.1);
    assert_int_equal(apply_as(f, &c, 5, 1, 1, 10, NULL), 0);
    assert_int_equal(apply_as(f, &c, 5, 2, 1, 20, NULL), 0);
    /* ack 3: the client has the answers of 1 and 2. */
    assert_int_equal(apply_as(f, &c, 5, 3, 3, 30, &third), 0);
    assert_int_equal(store_revision(f->s), 4);
    digest(f, before);

    assert_int_equal(apply_as(f, &c, 5, 1, 3, 40, NULL), AUGUR_ESESSION);
    assert_non_null(strstr(ans_error(f), "below its session's floor 3"));
    assert_int_equal(apply_as(f, &c, 5, 2, 1, 40, NULL), AUGUR_ESESSION);
    /* 3 is still remembered. */
    assert_int_equal(apply_as(f, &c, 5, 3, 3, 40, NULL), 0);
    assert_same_bytes(f, &third);
    assert_int_equal(store_revision(f->s), 4);
    assert_digest(f, before);
    msgpack_sbuffer_destroy(&third);
}

static void session_is_per_client(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    cmd_score(&c, "h1", 0.1);
    assert_int_equal(apply_as(f, &c, 1, 1, 1, 10, NULL), 0);
    assert_int_equal(apply_as(f, &c, 2, 1, 1, 10, NULL), 0);
    assert_int_equal(store_revision(f->s), 3);
    assert_int_equal(apply_as(f, &c, 1, 1, 1, 10, NULL), 0);
    assert_int_equal(apply_as(f, &c, 2, 1, 1, 10, NULL), 0);
    assert_int_equal(store_revision(f->s), 3);
}

static void session_client_zero_is_never_deduplicated(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    cmd_score(&c, "h1", 0.1);
    assert_int_equal(apply_as(f, &c, 0, 1, 0, 10, NULL), 0);
    assert_int_equal(apply_as(f, &c, 0, 1, 0, 10, NULL), 0);
    assert_int_equal(store_revision(f->s), 3);
}

static int expire(struct fx *f, uint64_t ttl_ms, int64_t now)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_EXPIRE;
    c.u.expire.ttl_ms = ttl_ms;
    c.time_ms = now;
    return fx_apply(f, &c);
}

static void session_expire_drops_idle_sessions_by_command_time(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t rev;

    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    cmd_score(&c, "h1", 0.1);
    assert_int_equal(apply_as(f, &c, 0xa, 1, 1, 1000, NULL), 0);
    assert_int_equal(apply_as(f, &c, 0xb, 1, 1, 5000, NULL), 0);
    assert_int_equal(apply_as(f, &c, 0xc, 1, 1, 2000, NULL), 0);
    /* A write stamped earlier does not make a session younger or older
     * than its latest. */
    assert_int_equal(apply_as(f, &c, 0xc, 2, 1, 1500, NULL), 0);
    rev = store_revision(f->s);

    /* At 4000 with a TTL of 2000: a (1000) is idle 3000, c (2000) is idle
     * exactly 2000, which is not past the TTL, b is recent. */
    assert_int_equal(expire(f, 2000, 4000), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 1);
    /* No revision, no event. */
    assert_int_equal(ans_rev(f), rev);
    assert_int_equal(store_revision(f->s), rev);

    /* a's answer is gone: the same seq applies anew. */
    assert_int_equal(apply_as(f, &c, 0xa, 1, 1, 4000, NULL), 0);
    assert_int_equal(store_revision(f->s), rev + 1);
    /* b's and c's are kept. */
    assert_int_equal(apply_as(f, &c, 0xb, 1, 1, 4000, NULL), 0);
    assert_int_equal(apply_as(f, &c, 0xc, 1, 1, 4000, NULL), 0);
    assert_int_equal(store_revision(f->s), rev + 1);

    /* Time comes only from the command: much later, all go. */
    assert_int_equal(expire(f, 2000, 1000000), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 3);
    assert_int_equal(expire(f, 2000, 1000000), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 0);
    assert_int_equal(store_revision(f->s), rev + 1);
}

static void session_expire_handles_extreme_times(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;

    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    cmd_score(&c, "h1", 0.1);
    assert_int_equal(apply_as(f, &c, 1, 1, 1, INT64_MIN + 1, NULL), 0);
    assert_int_equal(apply_as(f, &c, 2, 1, 1, -5, NULL), 0);
    assert_int_equal(apply_as(f, &c, 3, 1, 1, INT64_MAX, NULL), 0);
    assert_int_equal(expire(f, UINT64_MAX, INT64_MAX), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 0);
    assert_int_equal(expire(f, 3, 1), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 2);
    assert_int_equal(expire(f, 0, INT64_MAX), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 0);
}

/* ---- sessions of principals ------------------------------------------- */

static int read_events(struct fx *f, uint64_t from, unsigned limit);

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define KEY_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Record principal @name with @key_hex (a run of one hex digit) and @role,
 * as the cluster's own command. */
static void add_principal(struct fx *f,
                          const char *name,
                          const char *key_hex,
                          int role)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_PRINCIPAL_ADD;
    snprintf(c.u.principal.name, sizeof c.u.principal.name, "%s", name);
    snprintf(c.u.principal.key, sizeof c.u.principal.key, "%s", key_hex);
    c.u.principal.role = role;
    assert_int_equal(fx_apply(f, &c), 0);
}

static void remove_principal(struct fx *f, const char *name)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_PRINCIPAL_REMOVE;
    snprintf(c.u.principal.name, sizeof c.u.principal.name, "%s", name);
    assert_int_equal(fx_apply(f, &c), 0);
}

/* Stamp @c as sent by the principal whose key is the hex digit @digit
 * repeated (KEY_A: 0xaa...). */
static void stamp(struct store_cmd *c, unsigned char digit)
{
    c->has_principal = true;
    memset(c->principal, digit, sizeof c->principal);
}

/* Apply @c from principal @digit as (client, seq, ack) at @time_ms. */
static int apply_from(struct fx *f,
                      struct store_cmd *c,
                      unsigned char digit,
                      uint64_t client,
                      uint64_t seq,
                      uint64_t ack,
                      int64_t time_ms,
                      msgpack_sbuffer *bytes)
{
    stamp(c, digit);
    return apply_as(f, c, client, seq, ack, time_ms, bytes);
}

static int open_session(struct fx *f,
                        unsigned char digit,
                        uint64_t client,
                        int64_t time_ms)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_OPEN;
    c.u.expire.ttl_ms = 60000;
    return apply_from(f, &c, digit, client, 0, 0, time_ms, NULL);
}

static void session_is_per_principal_not_per_client_id(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];
    msgpack_sbuffer first;
    struct store_cmd c;
    uint64_t rev;

    msgpack_sbuffer_init(&first);
    add_principal(f, "alice", KEY_A, STORE_ROLE_OPERATOR);
    add_principal(f, "mallory", KEY_B, STORE_ROLE_OPERATOR);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    assert_int_equal(open_session(f, 0xaa, 7, 100), 0);
    assert_int_equal(open_session(f, 0xbb, 7, 100), 0);
    cmd_score(&c, "h1", 0.5);
    rev = store_revision(f->s);
    assert_int_equal(apply_from(f, &c, 0xaa, 7, 1, 1, 100, &first), 0);
    assert_int_equal(store_revision(f->s), rev + 1);

    /* Mallory reuses alice's client id and seq: her own write applies
     * (her own session), and she does not read alice's answer. */
    cmd_score(&c, "h1", 0.7);
    assert_int_equal(apply_from(f, &c, 0xbb, 7, 1, 1, 100, NULL), 0);
    assert_int_equal(store_revision(f->s), rev + 2);
    assert_int_equal(ans_rev(f), rev + 2);
    /* Her ack of 2^64-1 is her session's floor, not alice's. */
    cmd_score(&c, "h1", 0.7);
    assert_int_equal(apply_from(f, &c, 0xbb, 7, 2, UINT64_MAX, 100, NULL), 0);
    digest(f, before);
    /* Alice's retry still gets her own answer, and her next write applies
     * (it is not answered from mallory's session). */
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_from(f, &c, 0xaa, 7, 1, 1, 200, NULL), 0);
    assert_same_bytes(f, &first);
    assert_digest(f, before);
    cmd_score(&c, "h1", 0.2);
    assert_int_equal(apply_from(f, &c, 0xaa, 7, 2, 1, 200, NULL), 0);
    assert_int_equal(store_revision(f->s), rev + 4);
    assert_int_equal(get_resource(f, "h1"), 0);
    msgpack_sbuffer_destroy(&first);
}

static void session_of_a_principal_needs_a_sequence_and_a_client(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t rev;

    add_principal(f, "alice", KEY_A, STORE_ROLE_OPERATOR);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    rev = store_revision(f->s);
    assert_int_equal(open_session(f, 0xaa, 7, 100), 0);
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_from(f, &c, 0xaa, 7, 0, 0, 100, NULL), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "sequence number from 1"));
    assert_int_equal(apply_from(f, &c, 0xaa, 0, 1, 1, 100, NULL), AUGUR_EINVAL);
    assert_int_equal(store_revision(f->s), rev);
}

static void session_unknown_or_expired_is_refused_until_opened(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    uint64_t rev;

    add_principal(f, "alice", KEY_A, STORE_ROLE_OPERATOR);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    rev = store_revision(f->s);
    cmd_score(&c, "h1", 0.5);
    /* Never opened: refused, nothing changes, nothing is remembered. */
    assert_int_equal(apply_from(f, &c, 0xaa, 9, 1, 1, 1000, NULL),
                     AUGUR_ESESSION);
    assert_non_null(strstr(ans_error(f), "session unknown or expired"));
    assert_int_equal(store_revision(f->s), rev);

    /* Opened (idempotent, no revision, answers its lifetime). */
    assert_int_equal(open_session(f, 0xaa, 9, 1000), 0);
    assert_int_equal(obj_u64(ans_result(f), "ttl_ms"), 60000);
    assert_int_equal(open_session(f, 0xaa, 9, 1000), 0);
    assert_int_equal(store_revision(f->s), rev);
    assert_int_equal(apply_from(f, &c, 0xaa, 9, 1, 1, 1000, NULL), 0);
    assert_int_equal(store_revision(f->s), rev + 1);

    /* Expired: the retry of seq 1 does not apply a second time. */
    assert_int_equal(expire(f, 2000, 10000), 0);
    assert_int_equal(obj_u64(ans_result(f), "expired"), 1);
    assert_int_equal(apply_from(f, &c, 0xaa, 9, 1, 1, 10000, NULL),
                     AUGUR_ESESSION);
    assert_int_equal(store_revision(f->s), rev + 1);
    /* A new session applies new writes. */
    assert_int_equal(open_session(f, 0xaa, 9, 10000), 0);
    assert_int_equal(apply_from(f, &c, 0xaa, 9, 2, 2, 10000, NULL), 0);
    assert_int_equal(store_revision(f->s), rev + 2);
}

static void apply_refuses_a_removed_principal_and_a_lower_role(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];
    struct store_cmd c;

    add_principal(f, "root", KEY_B, STORE_ROLE_ADMIN);
    add_principal(f, "alice", KEY_A, STORE_ROLE_READER);
    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    assert_int_equal(open_session(f, 0xaa, 3, 100), 0);
    digest(f, before);

    /* A reader may not set a score, whatever the server let through. */
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_from(f, &c, 0xaa, 3, 1, 1, 100, NULL), AUGUR_EPERM);
    assert_non_null(strstr(ans_error(f), "may not call 'score.set'"));
    assert_digest(f, before);
    /* Nor may anyone propose the cluster's own commands. */
    memset(&c, 0, sizeof c);
    c.op = STORE_OP_SESSION_EXPIRE;
    assert_int_equal(apply_from(f, &c, 0xbb, 4, 1, 1, 100, NULL), AUGUR_EPERM);

    /* Removed between the leader's acceptance and apply: refused. */
    add_principal(f, "ops", KEY_C, STORE_ROLE_OPERATOR);
    assert_int_equal(open_session(f, 0xcc, 5, 100), 0);
    remove_principal(f, "ops");
    digest(f, before);
    cmd_score(&c, "h1", 0.5);
    assert_int_equal(apply_from(f, &c, 0xcc, 5, 1, 1, 100, NULL), AUGUR_EAUTH);
    assert_non_null(strstr(ans_error(f), "not a principal"));
    assert_int_equal(open_session(f, 0xcc, 6, 100), AUGUR_EAUTH);
    assert_digest(f, before);
    /* An unknown key is refused alike. */
    assert_int_equal(apply_from(f, &c, 0xdd, 5, 1, 1, 100, NULL), AUGUR_EAUTH);
    assert_digest(f, before);
}

/* A principal lookup that fails (here an index entry that points nowhere)
 * fails closed: apply admits nothing and reports the failure, the server's
 * lookup does not find the key either. */
static void principal_lookup_failure_admits_nothing(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];
    struct store_cmd c;
    char name[STORE_ID_SIZE];
    int role = -1;
    uint64_t rev;

    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    fx_raw_put(f, "principal_keys", KEY_C, strlen(KEY_C), "ghost", 5);
    assert_int_equal(store_principal_find(f->s, KEY_C, name, &role), AUGUR_EIO);
    rev = store_revision(f->s);
    digest(f, before);
    cmd_score(&c, "h1", 0.5);
    stamp(&c, 0xcc);
    c.client = 5;
    c.seq = 1;
    c.ack = 1;
    f->answer.size = 0;
    assert_int_equal(store_apply(f->s, &c, &f->answer), AUGUR_EIO);
    assert_int_equal(f->answer.size, 0);
    assert_int_equal(store_revision(f->s), rev);
    assert_digest(f, before);
}

static void events_name_the_principal_of_each_write(void **state)
{
    struct fx *f = *state;
    const msgpack_object *events;
    struct store_cmd c;

    add_principal(f, "alice", KEY_A, STORE_ROLE_OPERATOR);
    assert_int_equal(open_session(f, 0xaa, 3, 100), 0);
    cmd_resource_add(&c, "h1", "host", 4, 4);
    assert_int_equal(apply_from(f, &c, 0xaa, 3, 1, 1, 100, NULL), 0);
    assert_int_equal(add_host(f, "h2", 4, 4), 0); /* the cluster's own */

    assert_int_equal(read_events(f, 0, 0), 0);
    events = obj_get(ans_result(f), "events");
    assert_int_equal(events->via.array.size, 3);
    assert_null(obj_get(&events->via.array.ptr[0], "principal"));
    assert_obj_str(&events->via.array.ptr[1], "principal", "alice");
    assert_obj_str(&events->via.array.ptr[1], "op", "resource.add");
    assert_null(obj_get(&events->via.array.ptr[2], "principal"));
}

/* ---- events ----------------------------------------------------------- */

static int read_events(struct fx *f, uint64_t from, unsigned limit)
{
    struct store_cmd c;

    memset(&c, 0, sizeof c);
    c.op = STORE_OP_EVENTS;
    c.u.events.from = from;
    c.u.events.limit = limit;
    return fx_read(f, &c);
}

static void events_record_each_change_under_its_revision(void **state)
{
    struct fx *f = *state;
    const msgpack_object *events;
    const msgpack_object *e;
    struct store_cmd c;

    cmd_resource_add(&c, "h1", "host", 4, 4);
    c.time_ms = 111;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), AUGUR_EEXIST); /* none */
    cmd_acquire(&c, "w1", "h1");
    c.time_ms = 333;
    assert_int_equal(fx_apply(f, &c), 0);
    assert_int_equal(store_revision(f->s), 3);

    assert_int_equal(read_events(f, 0, 0), 0);
    events = obj_get(ans_result(f), "events");
    assert_non_null(events);
    assert_int_equal(events->via.array.size, 3);
    assert_int_equal(obj_u64(ans_result(f), "rev"), 3);
    assert_int_equal(obj_u64(ans_result(f), "next"), 4);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(obj_u64(&events->via.array.ptr[i], "rev"), i + 1);
    }
    e = &events->via.array.ptr[0];
    assert_obj_str(e, "op", "resource.add");
    assert_int_equal(obj_u64(e, "time"), 111);
    assert_obj_str(obj_get(e, "data"), "id", "h1");
    e = &events->via.array.ptr[2];
    assert_obj_str(e, "op", "claim.acquire");
    assert_int_equal(obj_u64(e, "time"), 333);
    assert_obj_str(obj_get(e, "data"), "workload", "w1");
    assert_obj_str(obj_get(e, "data"), "host", "h1");
    assert_int_equal(obj_u64(obj_get(e, "data"), "epoch"), 1);
}

static void events_page_by_from_and_limit(void **state)
{
    struct fx *f = *state;
    const msgpack_object *events;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(set_score(f, "h1", i / 10.0), 0);
    }
    assert_int_equal(read_events(f, 3, 2), 0);
    events = obj_get(ans_result(f), "events");
    assert_int_equal(events->via.array.size, 2);
    assert_int_equal(obj_u64(&events->via.array.ptr[0], "rev"), 3);
    assert_int_equal(obj_u64(&events->via.array.ptr[1], "rev"), 4);
    assert_int_equal(obj_u64(ans_result(f), "next"), 5);
    assert_int_equal(obj_u64(ans_result(f), "rev"), 10);
    assert_int_equal(read_events(f, 10, 0), 0);
    assert_int_equal(obj_len(ans_result(f), "events"), 1);
    assert_int_equal(obj_u64(ans_result(f), "next"), 11);
    /* Asking for the next revision: nothing yet, and the same place to ask
     * next. */
    assert_int_equal(read_events(f, 11, 0), 0);
    assert_int_equal(obj_len(ans_result(f), "events"), 0);
    assert_int_equal(obj_u64(ans_result(f), "next"), 11);
}

/* A revision past the next one cannot be waited for (a long poll parks
 * only from rev + 1): refused, and the message says why. */
static void events_refuse_from_beyond_the_next_revision(void **state)
{
    struct fx *f = *state;

    assert_int_equal(read_events(f, 1, 0), 0); /* empty store: rev + 1 */
    assert_int_equal(read_events(f, 2, 0), AUGUR_EINVAL);
    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    assert_int_equal(read_events(f, 2, 0), 0);
    assert_int_equal(read_events(f, 3, 0), AUGUR_EINVAL);
    assert_string_equal(ans_error(f),
                        "events: 'from' 3 is beyond the next "
                        "revision 2 (from > rev + 1)");
    assert_int_equal(read_events(f, UINT64_MAX, 0), AUGUR_EINVAL);
}

/* Events pages end at the byte budget too, and "next" picks up exactly
 * where the page ended. */
static void events_page_by_size(void **state)
{
    struct fx *f = *state;
    uint64_t from = 1;
    uint64_t seen = 0;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    for (int i = 0; i < 99; i++) {
        assert_int_equal(set_score(f, "h1", i / 100.0), 0);
    }
    store_page_bytes_set(f->s, 1024);
    while (from <= store_revision(f->s)) {
        const msgpack_object *events;

        assert_int_equal(read_events(f, from, 0), 0);
        assert_true(f->answer.size < 1024 + 256);
        events = obj_get(ans_result(f), "events");
        assert_true(events->via.array.size >= 1);
        assert_true(events->via.array.size < 100);
        for (uint32_t i = 0; i < events->via.array.size; i++) {
            assert_int_equal(obj_u64(&events->via.array.ptr[i], "rev"), ++seen);
        }
        from = obj_u64(ans_result(f), "next");
        assert_int_equal(from, seen + 1);
    }
    assert_int_equal(seen, 100);
}

/* The log keeps the last 100000 events; a read from an older revision (1
 * included, once anything was trimmed) would silently start later, so it is
 * refused as compacted, naming the oldest revision kept. */
static void events_keep_the_last_hundred_thousand_and_refuse_older(void **state)
{
    struct fx *f = *state;
    const msgpack_object *events;
    const unsigned total = 100000 + 25;
    const uint64_t from[] = {0, 1, 2, 25};
    uint64_t want;

    assert_int_equal(add_host(f, "h1", 1, 1), 0);
    for (unsigned i = 1; i < total; i++) {
        struct store_cmd c;
        cmd_score(&c, "h1", (i % 100) / 100.0);
        c.time_ms = i;
        assert_int_equal(fx_apply(f, &c), 0);
    }
    assert_int_equal(store_revision(f->s), total);
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        char msg[96];

        assert_int_equal(read_events(f, from[i], 3), AUGUR_ECOMPACTED);
        assert_int_equal(obj_u64(ans_result(f), "oldest"), 26);
        assert_int_equal(obj_u64(ans_result(f), "rev"), total);
        assert_null(obj_get(ans_result(f), "events"));
        snprintf(msg, sizeof msg,
                 "revision %llu was compacted: the oldest revision kept is 26",
                 (unsigned long long)(from[i] == 0 ? 1 : from[i]));
        assert_string_equal(ans_error(f), msg);
    }
    /* From the oldest kept on, nothing is missing. */
    assert_int_equal(read_events(f, 26, 3), 0);
    events = obj_get(ans_result(f), "events");
    assert_int_equal(events->via.array.size, 3);
    assert_int_equal(obj_u64(&events->via.array.ptr[0], "rev"), 26);
    /* And exactly 100000 are kept: count them page by page. */
    want = 26;
    for (;;) {
        assert_int_equal(read_events(f, want, 10000), 0);
        events = obj_get(ans_result(f), "events");
        if (events->via.array.size == 0) {
            break;
        }
        for (uint32_t i = 0; i < events->via.array.size; i++) {
            assert_int_equal(obj_u64(&events->via.array.ptr[i], "rev"), want);
            want++;
        }
        assert_int_equal(obj_u64(ans_result(f), "next"), want);
    }
    assert_int_equal(want - 26, 100000);
}

/* ---- batches ---------------------------------------------------------- */

/* The @i-th command of a mixed sequence: hosts, workloads, claims (some
 * refused: no room, already held, unknown workload), releases with stale
 * epochs, and every fifth one sent again under the same (client, seq). */
static void mixed_cmd(struct store_cmd *c, unsigned i, uint64_t *seq)
{
    char a[32], b[32];

    switch (i % 6) {
        case 0:
            snprintf(a, sizeof a, "h%u", i / 6);
            cmd_resource_add(c, a, "host", 2, 2048);
            break;
        case 1:
            snprintf(a, sizeof a, "w%u", i / 6);
            cmd_workload_add(c, a, 1, 512);
            break;
        case 2:
        case 3:
            /* Three workloads per host of room two: the third is refused. */
            snprintf(a, sizeof a, "w%u", i / 3 % 2 == 0 ? i / 6 : i / 6 + 7);
            snprintf(b, sizeof b, "h%u", i / 18);
            cmd_acquire(c, a, b);
            break;
        case 4:
            snprintf(a, sizeof a, "w%u", i / 6);
            cmd_release(c, a, i % 12 == 4 ? 1 : 9);
            break;
        default:
            snprintf(a, sizeof a, "w%u", i / 6 + 1000);
            cmd_acquire(c, a, "h0");
            break;
    }
    c->client = 42;
    if (i % 5 != 4) {
        ++*seq;
    }
    c->seq = *seq; /* every fifth: a retry of the one before */
    c->time_ms = 1700000000000 + i;
}

static void batch_answers_and_state_are_those_of_one_by_one(void **state)
{
    struct fx *f = *state;
    struct fx g;
    unsigned char want[32];
    msgpack_sbuffer one, batch;
    uint64_t seq_f = 0, seq_g = 0;
    const unsigned n = 2 * STORE_BATCH_TXN_MAX + 50;
    struct store_cmd c;

    fx_open(&g);
    msgpack_sbuffer_init(&one);
    msgpack_sbuffer_init(&batch);
    for (unsigned i = 0; i < n; i++) {
        mixed_cmd(&c, i, &seq_f);
        assert_int_equal(store_apply(f->s, &c, &one), 0);
    }
    assert_int_equal(store_batch_begin(g.s), 0);
    for (unsigned i = 0; i < n; i++) {
        mixed_cmd(&c, i, &seq_g);
        assert_int_equal(store_apply(g.s, &c, &batch), 0);
    }
    assert_int_equal(store_batch_end(g.s), 0);
    /* The sequence is a mix: successes and several kinds of refusal. */
    {
        msgpack_unpacked u;
        size_t off = 0;
        unsigned ok = 0, refused = 0;

        msgpack_unpacked_init(&u);
        while (msgpack_unpack_next(&u, one.data, one.size, &off) ==
               MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *st = obj_get(&u.data, "status");
            assert_non_null(st);
            if (st->via.u64 == 0) {
                ok++;
            } else {
                refused++;
            }
        }
        msgpack_unpacked_destroy(&u);
        assert_int_equal(ok + refused, n);
        assert_true(ok > n / 3);
        assert_true(refused > n / 10);
    }
    /* Every answer, byte for byte, then the states. */
    assert_int_equal(batch.size, one.size);
    assert_memory_equal(batch.data, one.data, one.size);
    assert_int_equal(store_revision(g.s), store_revision(f->s));
    digest(f, want);
    assert_digest(&g, want);
    /* And a command after the batch, in its own transaction, sees it. */
    mixed_cmd(&c, n, &seq_f);
    f->answer.size = 0;
    assert_int_equal(store_apply(f->s, &c, &f->answer), 0);
    mixed_cmd(&c, n, &seq_g);
    g.answer.size = 0;
    assert_int_equal(store_apply(g.s, &c, &g.answer), 0);
    assert_same_bytes(&g, &f->answer);
    msgpack_sbuffer_destroy(&one);
    msgpack_sbuffer_destroy(&batch);
    fx_close(&g);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(session_retry_applies_once_with_identical_bytes),
        T(session_retry_of_a_refusal_gets_the_same_refusal),
        T(session_ack_forgets_answers_and_floor_refuses_old_seqs),
        T(session_is_per_client),
        T(session_client_zero_is_never_deduplicated),
        T(session_expire_drops_idle_sessions_by_command_time),
        T(session_expire_handles_extreme_times),
        T(session_is_per_principal_not_per_client_id),
        T(session_of_a_principal_needs_a_sequence_and_a_client),
        T(session_unknown_or_expired_is_refused_until_opened),
        T(apply_refuses_a_removed_principal_and_a_lower_role),
        T(principal_lookup_failure_admits_nothing),
        T(events_name_the_principal_of_each_write),
        T(events_record_each_change_under_its_revision),
        T(events_page_by_from_and_limit),
        T(events_refuse_from_beyond_the_next_revision),
        T(events_page_by_size),
        T(events_keep_the_last_hundred_thousand_and_refuse_older),
        T(batch_answers_and_state_are_those_of_one_by_one),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
