/* Tests of libaugur against scripted servers on 127.0.0.1 (fake_server.c):
 * redirects, resends after a drop, matching of out-of-order answers, CLOSE
 * frames, deadlines, the session fields of every send, typed helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/augur.h"
#include "fake_server.h"

/* Short deadlines keep failing paths fast; tests assert outcomes only. */
#define SHORT_TIMEOUT_MS 300

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* {"workload": @w} */
static void args_workload(msgpack_sbuffer *sb, const char *w)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "workload");
    pack_cstr(&pk, w);
}

static struct augur_client *open_client(const char *endpoints, int timeout_ms)
{
    struct augur_options opt;
    struct augur_client *c = NULL;
    char errmsg[AUGUR_ERRMSG_SIZE];

    augur_options_init(&opt);
    if (timeout_ms > 0) {
        opt.timeout_ms = timeout_ms;
        opt.connect_timeout_ms = timeout_ms / 3;
    }
    assert_int_equal(augur_client_open(endpoints, &opt, &c, errmsg), 0);
    assert_non_null(c);
    return c;
}

/* Call @op with {"workload": @w} and return the status; the reply is freed. */
static int call_workload(struct augur_client *c,
                         const char *op,
                         const char *w,
                         unsigned flags)
{
    struct augur_reply reply;
    msgpack_sbuffer args;
    int status;

    args_workload(&args, w);
    status = augur_call(c, op, args.data, args.size, flags, &reply);
    assert_int_equal(reply.status, status);
    augur_reply_free(&reply);
    msgpack_sbuffer_destroy(&args);
    return status;
}

static void assert_no_surprises(const struct fake_server *s)
{
    if (s->surprises != 0) {
        fail_msg("server saw: %s", s->surprise);
    }
}

/* Scripts. */

/* Answer every request with status 0 and {"workload": its workload}. */
static void script_serve(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        if (fake_answer_workload(fd, r->id, r->workload) != 0) {
            return;
        }
    }
}

/* Redirect every request to the leader named in s->data. */
static void script_redirect(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        if (fake_answer(fd, r->id, AUGUR_ENOTLEADER, "not the leader", 0,
                        s->data, NULL, 0) != 0) {
            return;
        }
    }
}

/* Answer ENOLEADER (no hint) to everything. */
static void script_no_leader(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        if (fake_answer(fd, r->id, AUGUR_ENOLEADER, "election under way", 0,
                        NULL, NULL, 0) != 0) {
            return;
        }
    }
}

/* Read one request and hang up without answering: a leader killed with a
 * call on its connection. */
static void script_hang_up(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;

    if (fake_handshake(s, fd) == 0) {
        (void)fake_read_request(s, fd, conn, &r);
    }
}

/* First connection: read as many requests as *s->data says and hang up.
 * Later: serve. */
static void script_drop_then_serve(struct fake_server *s, int fd, unsigned conn)
{
    const int *reads = s->data;

    if (conn == 0) {
        if (fake_handshake(s, fd) != 0) {
            return;
        }
        for (int i = 0; i < *reads; i++) {
            if (fake_read_request(s, fd, conn, NULL) != 0) {
                return;
            }
        }
        return;
    }
    script_serve(s, fd, conn);
}

/* First connection: read a request, send CLOSE.  Later: serve. */
static void script_close_then_serve(struct fake_server *s,
                                    int fd,
                                    unsigned conn)
{
    if (conn == 0) {
        if (fake_handshake(s, fd) == 0 &&
            fake_read_request(s, fd, conn, NULL) == 0) {
            (void)fake_send_close(fd, AUGUR_ESHUTDOWN, "node stopping");
            fake_drain(fd);
        }
        return;
    }
    script_serve(s, fd, conn);
}

/* First connection: answer the HELLO with a frame of an unknown type.
 * Later: serve. */
static void script_garbage_then_serve(struct fake_server *s,
                                      int fd,
                                      unsigned conn)
{
    static const uint8_t garbage[] = {0, 0, 0, 2, 0x42, 0x80};

    if (conn == 0) {
        if (fake_read_hello(s, fd) == 0) {
            (void)fake_send(fd, garbage, sizeof garbage);
            fake_drain(fd);
        }
        return;
    }
    script_serve(s, fd, conn);
}

/* Read three requests, then answer them newest first. */
static void script_reverse(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r[3];

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (fake_read_request(s, fd, conn, &r[i]) != 0) {
            return;
        }
    }
    for (int i = 2; i >= 0; i--) {
        if (fake_answer_workload(fd, r[i]->id, r[i]->workload) != 0) {
            return;
        }
    }
    fake_drain(fd);
}

/* Read requests and never answer. */
static void script_silent(struct fake_server *s, int fd, unsigned conn)
{
    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, NULL) == 0) {
    }
}

/* Read the HELLO and never welcome. */
static void script_no_welcome(struct fake_server *s, int fd, unsigned conn)
{
    (void)conn;
    if (fake_read_hello(s, fd) == 0) {
        fake_drain(fd);
    }
}

/* Read two writes; answer the first; read the third (which the first's
 * callback submits); answer the rest. */
static void script_ack(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r[3];

    if (fake_handshake(s, fd) != 0 ||
        fake_read_request(s, fd, conn, &r[0]) != 0 ||
        fake_read_request(s, fd, conn, &r[1]) != 0 ||
        fake_answer_workload(fd, r[0]->id, r[0]->workload) != 0 ||
        fake_read_request(s, fd, conn, &r[2]) != 0 ||
        fake_answer_workload(fd, r[1]->id, r[1]->workload) != 0 ||
        fake_answer_workload(fd, r[2]->id, r[2]->workload) != 0) {
        return;
    }
    fake_drain(fd);
}

/* Answer a claim op with ECONFLICT and the holder h2 at epoch 3. */
static void script_conflict(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;
    msgpack_sbuffer holder;
    msgpack_packer pk;

    if (fake_handshake(s, fd) != 0 || fake_read_request(s, fd, conn, &r) != 0) {
        return;
    }
    msgpack_sbuffer_init(&holder);
    msgpack_packer_init(&pk, &holder, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_cstr(&pk, "workload");
    pack_cstr(&pk, r->workload);
    pack_cstr(&pk, "host");
    pack_cstr(&pk, "h2");
    pack_cstr(&pk, "epoch");
    msgpack_pack_uint64(&pk, 3);
    (void)fake_answer(fd, r->id, AUGUR_ECONFLICT,
                      "workload w1 is held by h2 at epoch 3", 0, NULL,
                      holder.data, holder.size);
    msgpack_sbuffer_destroy(&holder);
    fake_drain(fd);
}

/* Answer a claim op with a claim of {workload, "h9", epoch 4} and rev 12. */
static void script_claim(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;
    msgpack_sbuffer claim;
    msgpack_packer pk;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        msgpack_sbuffer_init(&claim);
        msgpack_packer_init(&pk, &claim, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        pack_cstr(&pk, "workload");
        pack_cstr(&pk, r->workload);
        pack_cstr(&pk, "host");
        pack_cstr(&pk, "h9");
        pack_cstr(&pk, "epoch");
        msgpack_pack_uint64(&pk, 4);
        if (fake_answer(fd, r->id, 0, NULL, 12, NULL, claim.data, claim.size) !=
            0) {
            msgpack_sbuffer_destroy(&claim);
            return;
        }
        msgpack_sbuffer_destroy(&claim);
    }
}

/* Answer with a result {"workload": <size bytes of 'x'>}; on the first
 * connection four times that when oversize_first is set. */
struct big_plan
{
    size_t size;
    int oversize_first;
};

static void script_big(struct fake_server *s, int fd, unsigned conn)
{
    const struct big_plan *plan = s->data;
    struct fake_request *r;
    msgpack_sbuffer result;
    msgpack_packer pk;
    char *big;
    size_t size = plan->size;

    if (conn == 0 && plan->oversize_first) {
        size *= 4;
    }
    if (fake_handshake(s, fd) != 0 || fake_read_request(s, fd, conn, &r) != 0) {
        return;
    }
    big = malloc(size);
    if (big == NULL) {
        return;
    }
    memset(big, 'x', size);
    msgpack_sbuffer_init(&result);
    msgpack_packer_init(&pk, &result, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "workload");
    msgpack_pack_str_with_body(&pk, big, size);
    (void)fake_answer(fd, r->id, 0, NULL, 1, NULL, result.data, result.size);
    msgpack_sbuffer_destroy(&result);
    free(big);
    fake_drain(fd);
}

/* Tests. */

static void call_follows_redirect_to_the_leader(void **state)
{
    struct fake_server leader;
    struct fake_server follower;
    struct augur_reply reply;
    struct augur_client *c;
    msgpack_sbuffer args;
    char w[16];

    (void)state;
    assert_int_equal(fake_server_start(&leader, script_serve, NULL), 0);
    assert_int_equal(fake_server_start(&follower, script_redirect, leader.addr),
                     0);
    c = open_client(follower.addr, 0);
    args_workload(&args, "w1");
    assert_int_equal(
        augur_call(c, "claim.acquire", args.data, args.size, 0, &reply), 0);
    /* The caller sees the leader's answer, not the redirect. */
    assert_int_equal(reply.status, 0);
    assert_int_equal(reply.rev, 1);
    assert_int_equal(augur_map_str(reply.result, "workload", w, sizeof w), 0);
    assert_string_equal(w, "w1");
    assert_string_equal(augur_client_endpoint(c), leader.addr);
    augur_reply_free(&reply);
    msgpack_sbuffer_destroy(&args);
    augur_client_close(c);
    fake_server_stop(&follower);
    fake_server_stop(&leader);

    assert_no_surprises(&follower);
    assert_no_surprises(&leader);
    assert_int_equal(follower.n_requests, 1);
    assert_int_equal(leader.n_requests, 1);
    /* The same write, under the same session sequence. */
    assert_string_equal(leader.requests[0].op, "claim.acquire");
    assert_int_equal(follower.requests[0].seq, 1);
    assert_int_equal(leader.requests[0].seq, follower.requests[0].seq);
    assert_int_equal(leader.requests[0].ack, follower.requests[0].ack);
    assert_int_equal(leader.hello_client, follower.hello_client);
}

static void dropped_connection_resends_same_seq(void **state)
{
    static const int reads = 1;
    struct fake_server s;
    struct augur_client *c;

    (void)state;
    assert_int_equal(
        fake_server_start(&s, script_drop_then_serve, (void *)&reads), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.conns, 2);
    assert_int_equal(s.n_requests, 2);
    assert_int_equal(s.requests[0].conn, 0);
    assert_int_equal(s.requests[1].conn, 1);
    assert_int_equal(s.requests[1].id, s.requests[0].id);
    assert_int_equal(s.requests[1].seq, s.requests[0].seq);
    assert_int_equal(s.requests[1].ack, s.requests[0].ack);
    assert_int_equal(s.requests[0].seq, 1);
    assert_int_equal(s.requests[0].ack, 1);
}

struct expect
{
    const char *workload; /* what the answer must carry */
    int calls;
    int status;
    char got[32];
};

static void expect_cb(void *data, struct augur_reply *reply)
{
    struct expect *e = data;

    e->calls++;
    e->status = reply->status;
    if (augur_map_str(reply->result, "workload", e->got, sizeof e->got) != 0) {
        e->got[0] = '\0';
    }
}

static void pipelined_writes_resend_in_seq_order_after_drop(void **state)
{
    static const int reads = 2;
    struct fake_server s;
    struct augur_client *c;
    struct expect e[2] = {{.workload = "w1"}, {.workload = "w2"}};
    msgpack_sbuffer args;

    (void)state;
    assert_int_equal(
        fake_server_start(&s, script_drop_then_serve, (void *)&reads), 0);
    c = open_client(s.addr, 0);
    for (int i = 0; i < 2; i++) {
        args_workload(&args, e[i].workload);
        assert_int_equal(augur_submit(c, "claim.acquire", args.data, args.size,
                                      0, expect_cb, &e[i]),
                         0);
        msgpack_sbuffer_destroy(&args);
    }
    assert_int_equal(augur_inflight(c), 2);
    assert_int_equal(augur_run(c, -1), 0);
    assert_int_equal(augur_inflight(c), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(e[i].calls, 1);
        assert_int_equal(e[i].status, 0);
        assert_string_equal(e[i].got, e[i].workload);
    }
    assert_no_surprises(&s);
    assert_int_equal(s.conns, 2);
    assert_int_equal(s.n_requests, 4);
    /* Both sends of each write carry its seq and the oldest open seq. */
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(s.requests[i].conn, i / 2);
        assert_int_equal(s.requests[i].seq, i % 2 + 1);
        assert_int_equal(s.requests[i].ack, 1);
        assert_string_equal(s.requests[i].workload, e[i % 2].workload);
    }
}

static void out_of_order_answers_reach_their_callers(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct expect e[3] = {
        {.workload = "w1"}, {.workload = "w2"}, {.workload = "w3"}};
    msgpack_sbuffer args;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_reverse, NULL), 0);
    c = open_client(s.addr, 0);
    for (int i = 0; i < 3; i++) {
        args_workload(&args, e[i].workload);
        assert_int_equal(augur_submit(c, "claim.get", args.data, args.size, 0,
                                      expect_cb, &e[i]),
                         0);
        msgpack_sbuffer_destroy(&args);
    }
    assert_int_equal(augur_run(c, -1), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e[i].calls, 1);
        assert_int_equal(e[i].status, 0);
        assert_string_equal(e[i].got, e[i].workload);
    }
    /* Reads carry no session fields. */
    for (unsigned i = 0; i < s.n_requests; i++) {
        assert_int_equal(s.requests[i].seq, 0);
        assert_int_equal(s.requests[i].ack, 0);
    }
}

static void close_frame_drops_connection_and_retries(void **state)
{
    struct fake_server s;
    struct augur_client *c;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_close_then_serve, NULL), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.conns, 2);
    assert_int_equal(s.n_requests, 2);
    assert_int_equal(s.requests[1].seq, s.requests[0].seq);
}

static void malformed_frame_drops_connection_and_retries(void **state)
{
    struct fake_server s;
    struct augur_client *c;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_garbage_then_serve, NULL), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(call_workload(c, "claim.get", "w1", 0), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.conns, 2);
    assert_int_equal(s.n_requests, 1);
}

static void no_leader_moves_to_next_endpoint_with_same_seq(void **state)
{
    struct fake_server busy;
    struct fake_server good;
    struct augur_client *c;
    char endpoints[80];

    (void)state;
    assert_int_equal(fake_server_start(&busy, script_no_leader, NULL), 0);
    assert_int_equal(fake_server_start(&good, script_serve, NULL), 0);
    snprintf(endpoints, sizeof endpoints, "%s, %s", busy.addr, good.addr);
    c = open_client(endpoints, 0);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0), 0);
    assert_string_equal(augur_client_endpoint(c), good.addr);
    augur_client_close(c);
    fake_server_stop(&busy);
    fake_server_stop(&good);

    assert_no_surprises(&busy);
    assert_no_surprises(&good);
    assert_int_equal(busy.n_requests, 1);
    assert_int_equal(good.n_requests, 1);
    assert_int_equal(good.requests[0].seq, busy.requests[0].seq);
}

/* Answer ESESSION (the cluster forgot the session) to the first request of
 * every connection while *s->data is positive (counting down), then serve. */
static void script_esession(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;
    int *refusals = s->data;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        int err;
        if (*refusals > 0) {
            (*refusals)--;
            err = fake_answer(fd, r->id, AUGUR_ESESSION,
                              "session unknown or expired", 0, NULL, NULL, 0);
        } else {
            err = fake_answer_workload(fd, r->id, r->workload);
        }
        if (err != 0) {
            return;
        }
    }
}

/* First connection: read one request (after the session.open fake_read_request
 * answers) and hang up; later: ESESSION to everything. */
static void script_drop_then_esession(struct fake_server *s,
                                      int fd,
                                      unsigned conn)
{
    static int always = 1000;

    if (conn == 0) {
        if (fake_handshake(s, fd) == 0) {
            (void)fake_read_request(s, fd, conn, NULL);
        }
        return;
    }
    s->data = &always;
    script_esession(s, fd, conn);
}

/* A write refused with ESESSION the only time it was sent did not apply:
 * libaugur opens a new session and sends it once more. */
static void esession_for_a_write_sent_once_reopens_and_resends(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    int refusals = 1;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_esession, &refusals), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.session_opens, 2);
    assert_int_equal(s.n_requests, 2);
    assert_int_equal(s.requests[1].seq, s.requests[0].seq);
}

/* A write sent twice may have applied the first time, before the session
 * was forgotten: ESESSION goes to the caller, not another send. */
static void esession_for_a_resent_write_is_reported(void **state)
{
    struct fake_server s;
    struct augur_client *c;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_drop_then_esession, NULL), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0),
                     AUGUR_ESESSION);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 2);
}

struct resubmit
{
    struct augur_client *c;
    struct expect *third;
    struct expect first;
};

static void resubmit_cb(void *data, struct augur_reply *reply)
{
    struct resubmit *r = data;
    msgpack_sbuffer args;

    expect_cb(&r->first, reply);
    args_workload(&args, r->third->workload);
    if (augur_submit(r->c, "claim.acquire", args.data, args.size, 0, expect_cb,
                     r->third) != 0) {
        r->third->status = -1;
    }
    msgpack_sbuffer_destroy(&args);
}

static void ack_is_lowest_seq_still_awaiting_an_answer(void **state)
{
    struct fake_server s;
    struct expect second = {.workload = "w2"};
    struct expect third = {.workload = "w3"};
    struct resubmit first = {.third = &third, .first = {.workload = "w1"}};
    msgpack_sbuffer args;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_ack, NULL), 0);
    first.c = open_client(s.addr, 0);
    args_workload(&args, "w1");
    assert_int_equal(augur_submit(first.c, "claim.acquire", args.data,
                                  args.size, 0, resubmit_cb, &first),
                     0);
    msgpack_sbuffer_destroy(&args);
    args_workload(&args, "w2");
    assert_int_equal(augur_submit(first.c, "claim.acquire", args.data,
                                  args.size, 0, expect_cb, &second),
                     0);
    msgpack_sbuffer_destroy(&args);
    assert_int_equal(augur_run(first.c, -1), 0);
    augur_client_close(first.c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(first.first.status, 0);
    assert_int_equal(second.status, 0);
    assert_int_equal(third.calls, 1);
    assert_int_equal(third.status, 0);
    assert_int_equal(s.n_requests, 3);
    assert_int_equal(s.requests[0].seq, 1);
    assert_int_equal(s.requests[1].seq, 2);
    assert_int_equal(s.requests[1].ack, 1);
    /* Seq 1 is answered, seq 2 is not: the new write acknowledges up to 2. */
    assert_int_equal(s.requests[2].seq, 3);
    assert_int_equal(s.requests[2].ack, 2);
}

static void deadline_makes_a_sent_write_indeterminate(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    char want[128];

    (void)state;
    assert_int_equal(fake_server_start(&s, script_silent, NULL), 0);
    c = open_client(s.addr, SHORT_TIMEOUT_MS);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0),
                     AUGUR_EINDETERMINATE);
    snprintf(want, sizeof want,
             "EINDETERMINATE: no answer from %s within %d ms", s.addr,
             SHORT_TIMEOUT_MS);
    assert_string_equal(augur_client_errmsg(c), want);
    /* A read that goes unanswered only timed out. */
    assert_int_equal(call_workload(c, "claim.get", "w1", 0), AUGUR_ETIMEOUT);
    /* Every read of the op table is one, principal.list included (the
     * library's own list of reads had left it out: a timed-out
     * principal.list was a write of unknown outcome). */
    assert_int_equal(call_workload(c, "principal.list", "w1", 0),
                     AUGUR_ETIMEOUT);
    assert_int_equal(call_workload(c, "member.list", "w1", 0), AUGUR_ETIMEOUT);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 4);
}

/* Long enough that a call which waited for its deadline instead of failing
 * at once would show (a wrong status), short enough that such a failure
 * does not hold the suite up. */
#define LONG_TIMEOUT_MS 8000

/* Every endpoint refuses the connection (nothing listens there): the call
 * fails at once with ECONNECT naming the endpoints tried, a write as well
 * as a read, since neither was ever sent. */
/* After the leader hangs up on a call, followers go on naming it until
 * their election timers fire: the client does not follow those redirects
 * back to the node that just failed it, and asks the followers again. */
static void redirect_to_a_node_that_just_hung_up_is_not_followed(void **state)
{
    struct fake_server dead;
    struct fake_server follower;
    struct augur_client *c;
    char endpoints[80];

    (void)state;
    assert_int_equal(fake_server_start(&dead, script_hang_up, NULL), 0);
    assert_int_equal(fake_server_start(&follower, script_redirect, dead.addr),
                     0);
    snprintf(endpoints, sizeof endpoints, "%s,%s", dead.addr, follower.addr);
    /* Shorter than the time a failed node is passed by (SUSPECT_MS). */
    c = open_client(endpoints, 600);
    assert_int_equal(call_workload(c, "claim.get", "w1", 0), AUGUR_ETIMEOUT);
    augur_client_close(c);
    fake_server_stop(&follower);
    fake_server_stop(&dead);

    assert_no_surprises(&follower);
    assert_int_equal(dead.conns, 1);
    assert_true(follower.n_requests >= 2);
}

static void call_fails_with_econnect_when_every_endpoint_refuses(void **state)
{
    struct augur_client *c;
    uint16_t port[2];
    char endpoints[64];
    char want[160];
    int fd[2];

    (void)state;
    for (int i = 0; i < 2; i++) {
        fd[i] = fake_refusing_port(&port[i]);
        assert_true(fd[i] >= 0);
    }
    snprintf(endpoints, sizeof endpoints, "127.0.0.1:%u,127.0.0.1:%u",
             (unsigned)port[0], (unsigned)port[1]);
    snprintf(want, sizeof want,
             "ECONNECT: every endpoint refused the connection: "
             "127.0.0.1:%u, 127.0.0.1:%u",
             (unsigned)port[0], (unsigned)port[1]);
    c = open_client(endpoints, LONG_TIMEOUT_MS);
    assert_int_equal(call_workload(c, "claim.get", "w1", 0), AUGUR_ECONNECT);
    assert_string_equal(augur_client_errmsg(c), want);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0),
                     AUGUR_ECONNECT);
    assert_string_equal(augur_client_errmsg(c), want);
    assert_string_equal(augur_client_endpoint(c), "");
    augur_client_close(c);
    close(fd[0]);
    close(fd[1]);
}

/* Refusals short of a full round (a node down, or restarting during a
 * leader change) are retried on the next endpoint. */
static void refusals_short_of_every_endpoint_are_retried(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    uint16_t port[2];
    char endpoints[96];
    int fd[2];

    (void)state;
    for (int i = 0; i < 2; i++) {
        fd[i] = fake_refusing_port(&port[i]);
        assert_true(fd[i] >= 0);
    }
    assert_int_equal(fake_server_start(&s, script_serve, NULL), 0);
    snprintf(endpoints, sizeof endpoints, "127.0.0.1:%u,127.0.0.1:%u,%s",
             (unsigned)port[0], (unsigned)port[1], s.addr);
    c = open_client(endpoints, LONG_TIMEOUT_MS);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0), 0);
    assert_int_equal(call_workload(c, "claim.get", "w1", 0), 0);
    assert_string_equal(augur_client_endpoint(c), s.addr);
    augur_client_close(c);
    fake_server_stop(&s);
    close(fd[0]);
    close(fd[1]);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 2);
}

/* First connection: read one request, then stop listening (the listening
 * socket's descriptor becomes a pipe that never gets readable, whose other
 * end is in s->data) and hang up: from then on the port refuses. */
static void script_read_then_vanish(struct fake_server *s,
                                    int fd,
                                    unsigned conn)
{
    int *keep = s->data;
    int p[2];

    if (conn != 0 || fake_handshake(s, fd) != 0 ||
        fake_read_request(s, fd, conn, NULL) != 0 || pipe(p) != 0) {
        return;
    }
    (void)dup2(p[0], s->lfd);
    close(p[0]);
    *keep = p[1];
}

/* A write sent before the whole cluster went away may have applied: unlike
 * a read, it is not failed for the refusals that follow, but retried until
 * its deadline, when it is indeterminate. */
static void write_sent_before_every_endpoint_refused_stays_indeterminate(
    void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct expect write = {.workload = "w1"};
    struct expect read = {.workload = "w1"};
    msgpack_sbuffer args;
    uint16_t port;
    char endpoints[80];
    int keep = -1;
    int fd;

    (void)state;
    fd = fake_refusing_port(&port);
    assert_true(fd >= 0);
    assert_int_equal(fake_server_start(&s, script_read_then_vanish, &keep), 0);
    snprintf(endpoints, sizeof endpoints, "%s,127.0.0.1:%u", s.addr,
             (unsigned)port);
    c = open_client(endpoints, SHORT_TIMEOUT_MS);
    args_workload(&args, "w1");
    assert_int_equal(augur_submit(c, "claim.acquire", args.data, args.size, 0,
                                  expect_cb, &write),
                     0);
    assert_int_equal(
        augur_submit(c, "claim.get", args.data, args.size, 0, expect_cb, &read),
        0);
    msgpack_sbuffer_destroy(&args);
    assert_int_equal(augur_run(c, -1), 0);
    augur_client_close(c);
    fake_server_stop(&s);
    close(fd);
    if (keep >= 0) {
        close(keep);
    }

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 1);
    assert_int_equal(read.calls, 1);
    assert_int_equal(read.status, AUGUR_ECONNECT);
    assert_int_equal(write.calls, 1);
    assert_int_equal(write.status, AUGUR_EINDETERMINATE);
}

static void write_unsent_for_lack_of_welcome_times_out(void **state)
{
    struct fake_server s;
    struct augur_client *c;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_no_welcome, NULL), 0);
    c = open_client(s.addr, SHORT_TIMEOUT_MS);
    assert_int_equal(call_workload(c, "claim.acquire", "w1", 0),
                     AUGUR_ETIMEOUT);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_true(s.hellos >= 1);
    assert_int_equal(s.n_requests, 0);
}

static void run_returns_timeout_while_calls_are_in_flight(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct expect e = {.workload = "w1"};
    msgpack_sbuffer args;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_silent, NULL), 0);
    c = open_client(s.addr, 0);
    args_workload(&args, "w1");
    assert_int_equal(
        augur_submit(c, "claim.get", args.data, args.size, 0, expect_cb, &e),
        0);
    msgpack_sbuffer_destroy(&args);
    assert_int_equal(augur_run(c, 50), AUGUR_ETIMEOUT);
    assert_int_equal(augur_inflight(c), 1);
    /* Close drops the call without its callback. */
    augur_client_close(c);
    fake_server_stop(&s);
    assert_int_equal(e.calls, 0);
}

static void large_answer_arrives_whole(void **state)
{
    static const struct big_plan plan = {.size = 300000};
    struct fake_server s;
    struct augur_client *c;
    struct augur_reply reply;
    msgpack_sbuffer args;
    const msgpack_object *w;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_big, (void *)&plan), 0);
    c = open_client(s.addr, 0);
    args_workload(&args, "w1");
    assert_int_equal(
        augur_call(c, "claim.get", args.data, args.size, 0, &reply), 0);
    w = augur_map_get(reply.result, "workload");
    assert_non_null(w);
    assert_int_equal(w->type, MSGPACK_OBJECT_STR);
    assert_int_equal(w->via.str.size, plan.size);
    assert_int_equal(w->via.str.ptr[0], 'x');
    assert_int_equal(w->via.str.ptr[plan.size - 1], 'x');
    /* The reply outlives the client that received it. */
    augur_client_close(c);
    assert_int_equal(w->via.str.ptr[plan.size / 2], 'x');
    augur_reply_free(&reply);
    msgpack_sbuffer_destroy(&args);
    fake_server_stop(&s);
    assert_no_surprises(&s);
}

static void frame_over_max_frame_drops_connection(void **state)
{
    static const struct big_plan plan = {.size = 1000, .oversize_first = 1};
    struct fake_server s;
    struct augur_options opt;
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(fake_server_start(&s, script_big, (void *)&plan), 0);
    augur_options_init(&opt);
    opt.max_frame = 2048;
    assert_int_equal(augur_client_open(s.addr, &opt, &c, errmsg), 0);
    /* The 4000-byte answer is refused; the retry gets a 1000-byte one. */
    assert_int_equal(call_workload(c, "claim.get", "w1", 0), 0);
    augur_client_close(c);
    fake_server_stop(&s);
    assert_no_surprises(&s);
    assert_int_equal(s.conns, 2);
    assert_int_equal(s.n_requests, 2);
}

static void hello_carries_client_id_and_version(void **state)
{
    struct fake_server s;
    struct augur_options opt;
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(fake_server_start(&s, script_serve, NULL), 0);
    augur_options_init(&opt);
    opt.client_id = 42;
    assert_int_equal(augur_client_open(s.addr, &opt, &c, errmsg), 0);
    assert_int_equal(call_workload(c, "claim.get", "w1", AUGUR_STALE), 0);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.hello_client, 42);
    assert_int_equal(s.hello_version, PROTO_VERSION);
    assert_string_equal(s.hello_auth, "none");
    assert_int_equal(s.requests[0].stale, 1);
}

static void random_client_ids_differ(void **state)
{
    struct fake_server s;
    struct augur_client *c;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_serve, NULL), 0);
    for (int i = 0; i < 2; i++) {
        c = open_client(s.addr, 0);
        assert_int_equal(call_workload(c, "claim.get", "w1", 0), 0);
        augur_client_close(c);
    }
    fake_server_stop(&s);
    assert_int_equal(s.hellos, 2);
    assert_true(s.hello_clients[0] != 0);
    assert_true(s.hello_clients[1] != 0);
    assert_true(s.hello_clients[0] != s.hello_clients[1]);
}

static void events_sends_args_and_wait_as_a_read(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct augur_reply reply;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_serve, NULL), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(augur_events(c, 17, 50, 250, 0, &reply), 0);
    augur_reply_free(&reply);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 1);
    assert_string_equal(s.requests[0].op, "events");
    assert_int_equal(s.requests[0].from, 17);
    assert_int_equal(s.requests[0].limit, 50);
    assert_int_equal(s.requests[0].wait_ms, 250);
    assert_int_equal(s.requests[0].seq, 0);
}

static void claim_transfer_conflict_reports_holder(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct augur_claim claim;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_conflict, NULL), 0);
    c = open_client(s.addr, 0);
    memset(&claim, 0, sizeof claim);
    assert_int_equal(augur_claim_transfer(c, "w1", "h7", 2, &claim),
                     AUGUR_ECONFLICT);
    assert_string_equal(augur_client_errmsg(c),
                        "ECONFLICT: workload w1 is held by h2 at epoch 3");
    assert_string_equal(claim.workload, "w1");
    assert_string_equal(claim.host, "h2");
    assert_int_equal(claim.epoch, 3);
    augur_client_close(c);
    fake_server_stop(&s);
    assert_no_surprises(&s);
    assert_int_equal(s.requests[0].seq, 1);
}

static void claim_helpers_parse_the_claim(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct augur_claim claim;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_claim, NULL), 0);
    c = open_client(s.addr, 0);
    assert_int_equal(augur_claim_acquire(c, "w5", NULL, &claim), 0);
    assert_string_equal(claim.workload, "w5");
    assert_string_equal(claim.host, "h9");
    assert_int_equal(claim.epoch, 4);
    memset(&claim, 0, sizeof claim);
    assert_int_equal(augur_claim_get(c, "w6", AUGUR_STALE, &claim), 0);
    assert_string_equal(claim.workload, "w6");
    assert_int_equal(augur_claim_release(c, "w5", 4), 0);
    assert_int_equal(augur_resource_add(c, "h1", "host", 8, 1024), 0);
    assert_int_equal(augur_workload_add(c, "w7", 2, 256, -1), 0);
    assert_int_equal(augur_claim_acquire(c, NULL, NULL, &claim), AUGUR_EINVAL);
    augur_client_close(c);
    fake_server_stop(&s);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 5);
    assert_string_equal(s.requests[0].op, "claim.acquire");
    assert_string_equal(s.requests[1].op, "claim.get");
    assert_int_equal(s.requests[1].seq, 0); /* a read */
    assert_int_equal(s.requests[1].stale, 1);
    assert_string_equal(s.requests[2].op, "claim.release");
    assert_int_equal(s.requests[2].seq, 2);
    assert_string_equal(s.requests[3].op, "resource.add");
    assert_string_equal(s.requests[4].op, "workload.add");
    assert_int_equal(s.requests[4].seq, 4);
}

static void open_refuses_bad_endpoint_lists(void **state)
{
    static const char *const bad[] = {
        "",           "host",  "host:",    "host:0", "host:65536",
        "host:7001x", ":7001", "a:1,,b:2", "a:1,",   "::1:7001",
    };
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errmsg[0] = '\0';
        c = (struct augur_client *)&c;
        assert_int_equal(augur_client_open(bad[i], NULL, &c, errmsg),
                         AUGUR_EINVAL);
        assert_null(c);
        assert_true(errmsg[0] != '\0');
    }
    assert_int_equal(augur_client_open(NULL, NULL, &c, errmsg), AUGUR_EINVAL);
    assert_int_equal(
        augur_client_open(" localhost:7001 ,127.0.0.1:7002", NULL, &c, errmsg),
        0);
    assert_string_equal(augur_client_errmsg(c), "");
    assert_string_equal(augur_client_endpoint(c), "");
    augur_client_close(c);
}

static void submit_refuses_bad_arguments(void **state)
{
    static const uint8_t not_a_map[] = {0x91, 0x01};
    static const uint8_t map_and_more[] = {0x80, 0x80};
    struct augur_client *c;
    struct augur_reply reply;
    struct expect e = {.workload = ""};
    char op[PROTO_OP_MAX + 2];

    (void)state;
    c = open_client("127.0.0.1:1", 0);
    assert_int_equal(augur_submit(c, "claim.get", not_a_map, sizeof not_a_map,
                                  0, expect_cb, &e),
                     AUGUR_EINVAL);
    assert_int_equal(augur_submit(c, "claim.get", map_and_more,
                                  sizeof map_and_more, 0, expect_cb, &e),
                     AUGUR_EINVAL);
    assert_int_equal(augur_submit(c, "claim.get", NULL, 3, 0, expect_cb, &e),
                     AUGUR_EINVAL);
    memset(op, 'x', sizeof op - 1);
    op[sizeof op - 1] = '\0';
    assert_int_equal(augur_submit(c, op, NULL, 0, 0, expect_cb, &e),
                     AUGUR_EINVAL);
    assert_int_equal(augur_submit(c, "", NULL, 0, 0, expect_cb, &e),
                     AUGUR_EINVAL);
    assert_int_equal(augur_inflight(c), 0);
    assert_int_equal(e.calls, 0);
    /* augur_call fills the reply even when it refuses. */
    assert_int_equal(
        augur_call(c, "claim.get", not_a_map, sizeof not_a_map, 0, &reply),
        AUGUR_EINVAL);
    assert_int_equal(reply.status, AUGUR_EINVAL);
    assert_non_null(strstr(reply.error, "map"));
    assert_non_null(strstr(augur_client_errmsg(c), "EINVAL: "));
    augur_reply_free(&reply);
    augur_reply_free(&reply); /* twice is harmless */
    augur_client_close(c);
}

int main(void)
{
    /* The scripted servers speak the unauthenticated protocol: keys from
     * the environment (a shell that ran 'local-cluster env') must not turn
     * the client's handshake on. */
    unsetenv("AUGUR_KEY");
    unsetenv("AUGUR_CLUSTER_KEY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_follows_redirect_to_the_leader),
        cmocka_unit_test(dropped_connection_resends_same_seq),
        cmocka_unit_test(pipelined_writes_resend_in_seq_order_after_drop),
        cmocka_unit_test(out_of_order_answers_reach_their_callers),
        cmocka_unit_test(close_frame_drops_connection_and_retries),
        cmocka_unit_test(malformed_frame_drops_connection_and_retries),
        cmocka_unit_test(no_leader_moves_to_next_endpoint_with_same_seq),
        cmocka_unit_test(ack_is_lowest_seq_still_awaiting_an_answer),
        cmocka_unit_test(deadline_makes_a_sent_write_indeterminate),
        cmocka_unit_test(redirect_to_a_node_that_just_hung_up_is_not_followed),
        cmocka_unit_test(call_fails_with_econnect_when_every_endpoint_refuses),
        cmocka_unit_test(refusals_short_of_every_endpoint_are_retried),
        cmocka_unit_test(
            write_sent_before_every_endpoint_refused_stays_indeterminate),
        cmocka_unit_test(write_unsent_for_lack_of_welcome_times_out),
        cmocka_unit_test(run_returns_timeout_while_calls_are_in_flight),
        cmocka_unit_test(large_answer_arrives_whole),
        cmocka_unit_test(frame_over_max_frame_drops_connection),
        cmocka_unit_test(hello_carries_client_id_and_version),
        cmocka_unit_test(random_client_ids_differ),
        cmocka_unit_test(events_sends_args_and_wait_as_a_read),
        cmocka_unit_test(claim_transfer_conflict_reports_holder),
        cmocka_unit_test(claim_helpers_parse_the_claim),
        cmocka_unit_test(open_refuses_bad_endpoint_lists),
        cmocka_unit_test(esession_for_a_write_sent_once_reopens_and_resends),
        cmocka_unit_test(esession_for_a_resent_write_is_reported),
        cmocka_unit_test(submit_refuses_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
