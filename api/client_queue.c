/* libaugur's call queue: submitting, the (client id, seq) session of
 * writes, requests queued on the connection, responses matched to calls by
 * id, retries after a redirect or a lost leader, deadlines, and the
 * synchronous call. */
#include "api/client_int.h"
#include "common/ops.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/proto.h"
#include "wire/secure.h"
#include "common/log.h"

#define REQUEST_OVERHEAD 128 /* request map bytes besides op and args */

/* Ops that change nothing carry no sequence number, and an answer lost on
 * the way means only that they must be asked again: the one op table says
 * which they are (common/ops.h).  Everything else, including ops this
 * library does not know, is given one: a sequence the server ignores costs
 * nothing. */
static int op_is_read(const char *op, size_t len)
{
    enum augur_op id = augur_op_find(op, len);
    return id != AUGUR_OP_NONE && !augur_op_is_write(id);
}

unsigned augur_inflight(const struct augur_client *c)
{
    /* The library's own session.open is not the caller's. */
    return c->n_calls - (c->session_opening ? 1u : 0u);
}

void augur_reply_free(struct augur_reply *r)
{
    msgpack_unpacked_destroy(&r->unpacked);
    r->result = NULL;
}

/* Calls. */

static void call_unlink(struct augur_client *c, struct call *call)
{
    if (call->prev != NULL) {
        call->prev->next = call->next;
    } else {
        c->head = call->next;
    }
    if (call->next != NULL) {
        call->next->prev = call->prev;
    } else {
        c->tail = call->prev;
    }
    c->n_calls--;
}

/* Hand @reply to @call's callback and free the call.  The reply is freed
 * after the callback; augur_call's callback takes what it holds. */
static void call_complete(struct augur_client *c,
                          struct call *call,
                          struct augur_reply *reply)
{
    call_unlink(c, call);
    if (reply->status != 0) {
        client__seterr(c, reply->status, reply->error);
    }
    c->in_callback++;
    call->cb(call->data, reply);
    c->in_callback--;
    augur_reply_free(reply);
    free(call);
}

/* Complete @call locally (deadline, refusal) with @status and a message. */
static void call_fail(struct augur_client *c,
                      struct call *call,
                      int status,
                      const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void call_fail(struct augur_client *c,
                      struct call *call,
                      int status,
                      const char *fmt,
                      ...)
{
    struct augur_reply reply;
    va_list ap;

    memset(&reply, 0, sizeof reply);
    reply.status = status;
    va_start(ap, fmt);
    vsnprintf(reply.error, sizeof reply.error, fmt, ap);
    va_end(ap);
    call_complete(c, call, &reply);
}

/* Fail every call whose deadline has passed.  A write that reached a
 * connection may have been applied, so it is indeterminate; anything else
 * simply timed out. */
void client__expire(struct augur_client *c, int64_t now)
{
    struct call *call = c->head;
    struct call *last = c->tail;

    if (now < c->next_deadline) {
        return;
    }
    /* Recomputed below; calls that callbacks submit meanwhile lower it
     * themselves, and expire later than now, so the walk stops at the
     * calls that were there when it began. */
    c->next_deadline = INT64_MAX;
    while (call != NULL) {
        struct call *following = call->next;
        int was_last = call == last;

        if (call->deadline <= now) {
            const char *peer =
                c->peer.addr[0] != '\0' ? c->peer.addr : c->endpoints[0].addr;
            int status = call->seq != 0 && call->sent ? AUGUR_EINDETERMINATE
                                                      : AUGUR_ETIMEOUT;

            if (c->state != CONN_READY && c->last_error[0] != '\0') {
                call_fail(c, call, status,
                          "no answer from %s within %d ms (last error: %s)",
                          peer, call->budget_ms, c->last_error);
            } else {
                call_fail(c, call, status, "no answer from %s within %d ms",
                          peer, call->budget_ms);
            }
        } else {
            c->next_deadline = client__min64(c->next_deadline, call->deadline);
        }
        if (was_last) {
            break;
        }
        call = following;
    }
}

/* Fail every call that cannot have applied (a read, a write never sent)
 * with AUGUR_ECONNECT: no endpoint is listening.  A write sent on an earlier
 * connection may have applied: it keeps being retried until its deadline,
 * when it is indeterminate, so that a cluster back by then answers it. */
void client__fail_unreachable(struct augur_client *c)
{
    char tried[AUGUR_ERRMSG_SIZE] = "";
    struct call *call = c->head;
    struct call *last = c->tail;
    size_t used = 0;

    for (unsigned i = 0; i < c->n_endpoints && used < sizeof tried; i++) {
        int n = snprintf(tried + used, sizeof tried - used, "%s%s",
                         i > 0 ? ", " : "", c->endpoints[i].addr);
        used += n > 0 ? (size_t)n : 0;
    }
    /* Callbacks may submit calls: only those there now are failed. */
    while (call != NULL) {
        struct call *following = call->next;
        int was_last = call == last;

        if (call->seq == 0 || !call->sent) {
            call_fail(c, call, AUGUR_ECONNECT,
                      "every endpoint refused the connection: %s", tried);
        }
        if (was_last) {
            break;
        }
        call = following;
    }
}

/* Queue a REQUEST for every call not yet on the connection, oldest first,
 * so that a resend goes out in seq order. */
void client__queue_send(struct augur_client *c)
{
    uint64_t ack = 0;
    struct call *call;

    for (call = c->head; call != NULL; call = call->next) {
        if (call->seq != 0) {
            ack = call->seq; /* the lowest seq still awaiting an answer */
            break;
        }
    }
    for (call = c->head; call != NULL; call = call->next) {
        struct proto_request req;
        int err;

        if (call->on_conn) {
            continue;
        }
        memset(&req, 0, sizeof req);
        req.id = call->id;
        req.op = call->op;
        req.op_len = call->op_len;
        req.seq = call->seq;
        req.ack = call->seq != 0 ? ack : 0;
        req.stale = (call->flags & AUGUR_STALE) != 0;
        req.wait_ms = call->wait_ms;
        /* augur_submit checked op and size: only memory can fail here. */
        if (c->ch.ready) {
            c->plain.size = 0;
            err = proto_request_append(&c->plain, &req, call->args,
                                       call->args_len);
            if (err == 0) {
                err = secure_seal(&c->ch, (const uint8_t *)c->plain.data,
                                  c->plain.size, &c->out);
            }
        } else {
            err =
                proto_request_append(&c->out, &req, call->args, call->args_len);
        }
        if (err != 0) {
            client__conn_fail(c, "request to %s: %s", c->peer.addr,
                              augur_strerror(err));
            return;
        }
        call->on_conn = 1;
        call->sent = 1;
        call->sends++;
    }
}

/* Decode an answer map into @r and the leader hint into @leader ("" when
 * none).  AUGUR_EMALFORMED when the answer breaks the format. */
static int answer_decode(const msgpack_object *answer,
                         struct augur_reply *r,
                         char *leader,
                         size_t leader_size)
{
    const msgpack_object *v;

    v = augur_map_get(answer, "status");
    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        v->via.u64 > INT_MAX) {
        return AUGUR_EMALFORMED;
    }
    r->status = (int)v->via.u64;
    v = augur_map_get(answer, "error");
    if (v != NULL && v->type == MSGPACK_OBJECT_STR) {
        size_t n = v->via.str.size < sizeof r->error - 1 ? v->via.str.size
                                                         : sizeof r->error - 1;
        memcpy(r->error, v->via.str.ptr, n);
        r->error[n] = '\0';
    } else if (v != NULL && v->type != MSGPACK_OBJECT_NIL) {
        return AUGUR_EMALFORMED;
    }
    v = augur_map_get(answer, "rev");
    if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        r->rev = v->via.u64;
    } else if (v != NULL && v->type != MSGPACK_OBJECT_NIL) {
        return AUGUR_EMALFORMED;
    }
    v = augur_map_get(answer, "result");
    r->result = v != NULL && v->type != MSGPACK_OBJECT_NIL ? v : NULL;
    leader[0] = '\0';
    if (augur_map_str(answer, "leader", leader, leader_size) == AUGUR_ETOOBIG) {
        leader[0] = '\0';
    }
    return 0;
}

static struct call *call_find(struct augur_client *c, uint64_t id)
{
    /* Answers mostly come in order, so the oldest call is the usual match. */
    for (struct call *call = c->head; call != NULL; call = call->next) {
        if (call->id == id && call->on_conn) {
            return call;
        }
    }
    return NULL;
}

/* Sessions.  A write applies only within a session the cluster knows
 * (principal, client id), opened by session.open: the library sends one
 * (without a sequence: it is idempotent) ahead of the first write, and again
 * when the cluster answers ESESSION. */

static void session_open_cb(void *data, struct augur_reply *reply)
{
    struct augur_client *c = data;
    uint64_t ttl = 0;

    c->session_opening = 0;
    if (reply->status != 0) {
        LOG(LOG_LEVEL_DEBUG, "augur: session.open: %s", reply->error);
        return;
    }
    c->session_open = 1;
    if (reply->result != NULL &&
        augur_map_u64(reply->result, "ttl_ms", &ttl) == 0 && ttl > 0) {
        client__session_ttl(c, ttl);
    }
}

/* Queue a session.open at the head of the calls, so that it goes out
 * before every write waiting to be sent.  Returns 0 or AUGUR_ENOMEM. */
static int session_reopen(struct augur_client *c)
{
    const char *op = augur_op_wire(AUGUR_OP_SESSION_OPEN);
    size_t op_len = strlen(op);
    struct call *call;
    int64_t budget;

    if (c->session_opening) {
        return 0;
    }
    call = calloc(1, sizeof *call);
    if (call == NULL) {
        return AUGUR_ENOMEM;
    }
    call->id = ++c->next_id;
    call->internal = 1;
    budget = (int64_t)c->opt.timeout_ms;
    call->budget_ms = budget > INT_MAX ? INT_MAX : (int)budget;
    call->submitted = client__now_ms();
    call->deadline = call->submitted + budget;
    call->cb = session_open_cb;
    call->data = c;
    call->op_len = op_len;
    memcpy(call->op, op, op_len);
    call->next = c->head;
    if (c->head != NULL) {
        c->head->prev = call;
    } else {
        c->tail = call;
    }
    c->head = call;
    c->n_calls++;
    c->next_deadline = client__min64(c->next_deadline, call->deadline);
    c->session_opening = 1;
    return 0;
}

void client__session_ttl(struct augur_client *c, uint64_t ttl_ms)
{
    int64_t half = ttl_ms / 2 > INT_MAX ? INT_MAX : (int64_t)(ttl_ms / 2);

    c->session_ttl_ms = ttl_ms;
    for (struct call *call = c->head; call != NULL; call = call->next) {
        if (call->seq != 0 && call->deadline - call->submitted > half) {
            call->deadline = call->submitted + half;
            call->budget_ms = (int)half;
            c->next_deadline = client__min64(c->next_deadline, call->deadline);
        }
    }
}

void client__on_response(struct augur_client *c,
                         const uint8_t *payload,
                         size_t len)
{
    struct augur_reply reply;
    struct endpoint leader;
    char hint[AUGUR_ADDR_SIZE];
    char scratch[AUGUR_ERRMSG_SIZE];
    const msgpack_object *answer;
    struct call *call;
    uint64_t id;
    uint8_t *copy;
    int err;

    /* The reply outlives the receive buffer (augur_call hands it to the
     * caller), so it decodes a copy that its zone frees. */
    memset(&reply, 0, sizeof reply);
    if (len == 0) {
        client__conn_fail(c, "response from %s: empty", c->peer.addr);
        return;
    }
    copy = malloc(len);
    if (copy == NULL) {
        client__conn_fail(c, "response from %s: out of memory", c->peer.addr);
        return;
    }
    memcpy(copy, payload, len);
    /* The server proved the cluster key; an answer may hold long lists. */
    err = proto_payload_unpack_max(copy, len, PROTO_ANSWER_OBJECTS_MAX,
                                   &reply.unpacked, NULL);
    if (err == 0 && reply.unpacked.zone != NULL &&
        !msgpack_zone_push_finalizer(reply.unpacked.zone, free, copy)) {
        err = AUGUR_ENOMEM;
    } else if (err == 0 && reply.unpacked.zone == NULL) {
        free(copy); /* nothing in the object points into it */
        copy = NULL;
    } else if (err == 0) {
        copy = NULL; /* the zone owns it now */
    }
    if (err != 0) {
        free(copy);
        augur_reply_free(&reply);
        client__conn_fail(c, "response from %s: %s", c->peer.addr,
                          augur_strerror(err));
        return;
    }
    answer = augur_map_get(&reply.unpacked.data, "answer");
    if (augur_map_u64(&reply.unpacked.data, "id", &id) != 0 || answer == NULL ||
        answer->type != MSGPACK_OBJECT_MAP ||
        answer_decode(answer, &reply, hint, sizeof hint) != 0) {
        augur_reply_free(&reply);
        client__conn_fail(c, "response from %s: malformed answer",
                          c->peer.addr);
        return;
    }
    call = call_find(c, id);
    if (call == NULL) {
        /* The answer to a call that has passed its deadline. */
        LOG(LOG_LEVEL_DEBUG, "augur: %s answered unknown request %llu",
            c->peer.addr, (unsigned long long)id);
        augur_reply_free(&reply);
        return;
    }
    switch (reply.status) {
        case AUGUR_ENOTLEADER:
        case AUGUR_ENOLEADER:
        case AUGUR_ESHUTDOWN:
        case AUGUR_EINDETERMINATE:
            augur_reply_free(&reply);
            /* A redirect to a node that has just failed this client names
             * a leader that is gone (the follower's election timer has not
             * fired yet): ask another node instead. */
            if (reply.status == AUGUR_ENOTLEADER && hint[0] != '\0' &&
                client__endpoint_parse(hint, strlen(hint), &leader, scratch) ==
                    0 &&
                strcmp(leader.addr, c->peer.addr) != 0 &&
                !client__conn_suspect(c, leader.addr)) {
                client__conn_redirect(c, &leader);
            } else {
                /* The same seq goes to another node: the session there
                 * answers it without applying it twice. */
                client__conn_fail(c, "%s answered %s: %s", c->peer.addr,
                                  augur_errname(reply.status), reply.error);
            }
            return;
        case AUGUR_ESESSION:
            c->backoff_ms = CLIENT_BACKOFF_MIN_MS;
            c->redirects = 0;
            c->session_open = 0;
            if (call->seq != 0 && call->sends == 1 && !call->reopened &&
                session_reopen(c) == 0) {
                /* Refused the only time it was sent, so it did not apply:
                 * open a new session and send it once more.  A write sent
                 * more than once may have applied before its session was
                 * forgotten: its caller hears ESESSION (outcome unknown). */
                augur_reply_free(&reply);
                call->reopened = 1;
                call->on_conn = 0;
                return;
            }
            call_complete(c, call, &reply);
            return;
        default:
            /* A final answer shows the cluster serving: later failures
             * start their backoff from the bottom again. */
            c->backoff_ms = CLIENT_BACKOFF_MIN_MS;
            c->redirects = 0;
            call_complete(c, call, &reply);
            return;
    }
}

/* Fail every call now: the cluster refused this client's credentials, or
 * the server could not prove the cluster key.  Retrying would not help. */
void client__fail_auth(struct augur_client *c, const char *msg)
{
    unsigned n = c->n_calls;

    client__conn_drop(c, "%s", msg);
    client__conn_retry_later(c);
    while (n-- > 0 && c->head != NULL) {
        call_fail(c, c->head, AUGUR_EAUTH, "%s", msg);
    }
}

/* Submitting. */

/* Queue a call.  On refusal, writes the reason to @why (AUGUR_ERRMSG_SIZE
 * bytes, NULL for none) and to c->errmsg. */
static int client_submit(struct augur_client *c,
                         const char *op,
                         const void *args,
                         size_t args_len,
                         unsigned flags,
                         uint32_t wait_ms,
                         augur_cb cb,
                         void *data,
                         char *why)
{
    char reason[AUGUR_ERRMSG_SIZE];
    struct call *call;
    size_t op_len = op != NULL ? strnlen(op, PROTO_OP_MAX + 1) : 0;
    int64_t budget;
    int err = AUGUR_EINVAL;

    if (cb == NULL) {
        snprintf(reason, sizeof reason, "no callback given");
        goto err;
    }
    if (op_len == 0 || op_len > PROTO_OP_MAX) {
        snprintf(reason, sizeof reason, "op must be 1 to %d bytes",
                 PROTO_OP_MAX);
        goto err;
    }
    if (args == NULL && args_len > 0) {
        snprintf(reason, sizeof reason, "%s: args_len without args", op);
        goto err;
    }
    if (args_len > PROTO_FRAME_MAX - REQUEST_OVERHEAD - PROTO_OP_MAX) {
        snprintf(reason, sizeof reason,
                 "%s: %zu bytes of args exceed the frame limit", op, args_len);
        err = AUGUR_ETOOBIG;
        goto err;
    }
    if (args_len > 0) {
        msgpack_unpacked u;

        msgpack_unpacked_init(&u);
        err = proto_payload_unpack(args, args_len, &u);
        msgpack_unpacked_destroy(&u);
        if (err == AUGUR_ENOMEM) {
            snprintf(reason, sizeof reason, "%s: out of memory", op);
            goto err;
        }
        if (err != 0) {
            snprintf(reason, sizeof reason,
                     "%s: args must be exactly one msgpack map", op);
            err = AUGUR_EINVAL;
            goto err;
        }
    }
    call = malloc(sizeof *call + args_len);
    if (call == NULL) {
        snprintf(reason, sizeof reason, "%s: out of memory", op);
        err = AUGUR_ENOMEM;
        goto err;
    }
    memset(call, 0, sizeof *call);
    /* A store write applies only within a session: open one first.  The
     * node's own writes (membership, leadership) need none, and one sent
     * with them could only get in their way. */
    if (augur_op_is_store_write(augur_op_find(op, op_len)) &&
        augur_op_find(op, op_len) != AUGUR_OP_SESSION_OPEN &&
        !c->session_open && session_reopen(c) != 0) {
        free(call);
        snprintf(reason, sizeof reason, "%s: out of memory", op);
        err = AUGUR_ENOMEM;
        goto err;
    }
    call->id = ++c->next_id;
    call->seq = op_is_read(op, op_len) ? 0 : ++c->next_seq;
    /* A long poll may legitimately take wait_ms on the server.  A write's
     * retries stay within half the session's lifetime: a retry after the
     * cluster forgot the session could not be told from a new write. */
    budget = (int64_t)c->opt.timeout_ms + wait_ms;
    if (call->seq != 0 && c->session_ttl_ms > 0 &&
        (uint64_t)budget > c->session_ttl_ms / 2) {
        budget = (int64_t)(c->session_ttl_ms / 2);
    }
    call->budget_ms = budget > INT_MAX ? INT_MAX : (int)budget;
    call->submitted = client__now_ms();
    call->deadline = call->submitted + budget;
    call->flags = flags;
    call->wait_ms = wait_ms;
    call->cb = cb;
    call->data = data;
    call->op_len = op_len;
    memcpy(call->op, op, op_len);
    call->args_len = args_len;
    if (args_len > 0) {
        memcpy(call->args, args, args_len);
    }
    call->prev = c->tail;
    if (c->tail != NULL) {
        c->tail->next = call;
    } else {
        c->head = call;
    }
    c->tail = call;
    c->n_calls++;
    c->next_deadline = client__min64(c->next_deadline, call->deadline);
    return 0;

err:
    client__seterr(c, err, reason);
    if (why != NULL) {
        snprintf(why, AUGUR_ERRMSG_SIZE, "%s", reason);
    }
    return err;
}

int augur_submit(struct augur_client *c,
                 const char *op,
                 const void *args,
                 size_t args_len,
                 unsigned flags,
                 augur_cb cb,
                 void *data)
{
    return client_submit(c, op, args, args_len, flags, 0, cb, data, NULL);
}

int augur_run(struct augur_client *c, int timeout_ms)
{
    if (c->in_callback) {
        client__seterr(c, AUGUR_EINVAL, "augur_run called from a callback");
        return AUGUR_EINVAL;
    }
    return client__loop(c, NULL,
                        timeout_ms < 0 ? -1 : client__now_ms() + timeout_ms);
}

struct sync_wait
{
    int done;
    struct augur_reply *reply;
};

/* augur_call's callback: take over the reply, zone included. */
static void sync_cb(void *data, struct augur_reply *reply)
{
    struct sync_wait *w = data;

    *w->reply = *reply;
    reply->unpacked.zone = NULL;
    reply->result = NULL;
    w->done = 1;
}

int client__call(struct augur_client *c,
                 const char *op,
                 const void *args,
                 size_t args_len,
                 unsigned flags,
                 uint32_t wait_ms,
                 struct augur_reply *reply)
{
    struct sync_wait w = {.done = 0, .reply = reply};
    int err;

    memset(reply, 0, sizeof *reply);
    if (c->in_callback) {
        reply->status = AUGUR_EINVAL;
        snprintf(reply->error, sizeof reply->error,
                 "synchronous call from a callback");
        client__seterr(c, reply->status, reply->error);
        return reply->status;
    }
    err = client_submit(c, op, args, args_len, flags, wait_ms, sync_cb, &w,
                        reply->error);
    if (err != 0) {
        reply->status = err;
        return err;
    }
    (void)client__loop(c, &w.done, -1);
    /* Every call has a deadline, so the loop only ends once it is done. */
    assert(w.done);
    return reply->status;
}

int augur_call(struct augur_client *c,
               const char *op,
               const void *args,
               size_t args_len,
               unsigned flags,
               struct augur_reply *reply)
{
    return client__call(c, op, args, args_len, flags, 0, reply);
}
