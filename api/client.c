/* libaugur: one non-blocking TCP connection driven by poll(), pipelined
 * requests matched to responses by id, redirects, retries with backoff, and
 * the (client id, seq) session that makes a retried write apply once. */
#include "api/augur.h"
#include "common/ops.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/proto.h"
#include "api/secure.h"
#include "common/log.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_CONNECT_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS 20
/* Short: while a cluster elects a leader, every node answers ENOLEADER at
 * once, and a long backoff would outlast the election itself. */
#define BACKOFF_MAX_MS 100
#define REDIRECTS_BEFORE_BACKOFF 2 /* then a redirect loop slows down */
#define IN_CHUNK 65536             /* receive buffer growth step */
#define REQUEST_OVERHEAD 128       /* request map bytes besides op and args */
#define PORT_SIZE 6

struct endpoint
{
    char addr[AUGUR_ADDR_SIZE]; /* "host:port" as given; "" = none */
    char host[AUGUR_ADDR_SIZE];
    char port[PORT_SIZE];
};

/* The connection's lifecycle.  Every move goes through conn_move, which
 * checks it against the table below. */
enum conn_state
{
    CONN_IDLE,       /* no socket; the next attempt waits for retry_at */
    CONN_CONNECTING, /* non-blocking connect() in progress */
    CONN_HELLO,      /* HELLO queued, waiting for (CHALLENGE and) WELCOME */
    CONN_READY,      /* requests flow */
    CONN_STATE_COUNT
};

static const char *const conn_state_names[CONN_STATE_COUNT] = {
    [CONN_IDLE] = "idle",
    [CONN_CONNECTING] = "connecting",
    [CONN_HELLO] = "hello",
    [CONN_READY] = "ready",
};

/* conn_moves[from][to]: allowed transitions.  Any state may fall back to
 * IDLE (a failure, a redirect; IDLE -> IDLE is an attempt that failed before
 * it had a socket); forward moves go one step at a time. */
static const unsigned char conn_moves[CONN_STATE_COUNT][CONN_STATE_COUNT] = {
    [CONN_IDLE] = {[CONN_IDLE] = 1, [CONN_CONNECTING] = 1},
    [CONN_CONNECTING] = {[CONN_IDLE] = 1, [CONN_HELLO] = 1},
    [CONN_HELLO] = {[CONN_IDLE] = 1, [CONN_READY] = 1},
    [CONN_READY] = {[CONN_IDLE] = 1},
};

/* One submitted call, from augur_submit until its callback has run. */
struct call
{
    struct call *prev;
    struct call *next;
    uint64_t id;      /* request id, the same on every send */
    uint64_t seq;     /* session sequence of a write; 0 for a read */
    int64_t deadline; /* monotonic ms */
    int budget_ms;    /* deadline - submit time, for the message */
    int on_conn;      /* its REQUEST is queued on the current connection */
    int sent;         /* a REQUEST for it was ever queued on a connection */
    unsigned flags;
    uint32_t wait_ms;
    augur_cb cb;
    void *data;
    size_t op_len;
    char op[PROTO_OP_MAX + 1];
    size_t args_len;
    uint8_t args[]; /* the packed args map */
};

struct augur_client
{
    struct augur_options opt;
    struct endpoint *endpoints;
    unsigned n_endpoints;
    unsigned next_endpoint; /* round robin */
    struct endpoint hint;   /* leader named by the last redirect */
    unsigned redirects;     /* followed since the last final answer */
    uint64_t rng;           /* xorshift64 state, for backoff jitter */

    /* The connection. */
    enum conn_state state;
    int fd;
    struct endpoint peer; /* of the current or the last attempt */
    int peer_is_hint;
    int64_t conn_deadline; /* connect + WELCOME must be done by then */
    int64_t retry_at;      /* no new attempt before this */
    unsigned backoff_ms;   /* the next backoff */
    msgpack_sbuffer out;   /* frames not yet written */
    size_t out_off;        /* bytes of out already written */
    uint8_t *in;           /* bytes received, not yet parsed */
    size_t in_len;
    size_t in_cap;
    uint64_t conn_gen;                  /* bumped when a connection ends */
    char last_error[AUGUR_ERRMSG_SIZE]; /* why the last connection ended */
    /* Attempts on listed endpoints refused (ECONNREFUSED) in a row, with no
     * other outcome in between; see conn_connect_failed. */
    unsigned refused;

    /* Calls, in submit order: for writes that is also seq order. */
    struct call *head;
    struct call *tail;
    unsigned n_calls;
    uint64_t next_id;
    uint64_t next_seq;
    int64_t next_deadline; /* no call expires before this */
    int in_callback;

    /* Authentication (none when !keyed). */
    int keyed;
    struct secure_key key;
    uint8_t cluster_pk[SECURE_PK_SIZE];
    struct secure_handshake hs;
    struct secure_channel ch; /* ready once AUTH is queued */
    msgpack_sbuffer plain;    /* frames to seal */

    char errmsg[AUGUR_ERRMSG_SIZE];
};

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

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng_next(struct augur_client *c)
{
    uint64_t x = c->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->rng = x;
    return x;
}

/* A session id must not collide with another client's, so it comes from
 * the kernel's generator.  Should that be unavailable, mix what differs
 * between two clients started at the same moment. */
static uint64_t random_u64(const void *salt)
{
    uint64_t x = 0;
    struct timespec ts;

    if (getrandom(&x, sizeof x, 0) == (ssize_t)sizeof x && x != 0) {
        return x;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    x ^= ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)salt;
    /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x != 0 ? x : 1;
}

/* Format into a message buffer, cutting what does not fit: messages are
 * one line for a human, and a cut one is better than none. */
static void msg_set(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msg_set(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

static void client_seterr(struct augur_client *c, int status, const char *msg)
{
    msg_set(c->errmsg, sizeof c->errmsg, "%s: %s", augur_errname(status),
            msg[0] != '\0' ? msg : augur_strerror(status));
}

/* Parse "host:port" (@len bytes of @s) into @ep. */
static int endpoint_parse(const char *s,
                          size_t len,
                          struct endpoint *ep,
                          char *errmsg)
{
    const char *colon = NULL;
    size_t host_len;
    size_t port_len;
    unsigned long port = 0;

    memset(ep, 0, sizeof *ep);
    if (len == 0) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "empty endpoint");
        return AUGUR_EINVAL;
    }
    if (len >= sizeof ep->addr) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s...\" is longer "
                 "than %zu bytes",
                 16, s, sizeof ep->addr - 1);
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':') {
            colon = s + i;
        }
    }
    if (colon == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s\" has no port (want host:port)", (int)len, s);
        return AUGUR_EINVAL;
    }
    host_len = (size_t)(colon - s);
    port_len = len - host_len - 1;
    if (host_len == 0 || memchr(s, ':', host_len) != NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s\": want host:port with an IPv4 address or "
                 "a host name",
                 (int)len, s);
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < port_len; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9' || i >= 5) {
            port = 0;
            break;
        }
        port = port * 10 + (unsigned long)(colon[1 + i] - '0');
    }
    if (port == 0 || port > 65535) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s\": port must be 1 to 65535", (int)len, s);
        return AUGUR_EINVAL;
    }
    memcpy(ep->addr, s, len);
    memcpy(ep->host, s, host_len);
    snprintf(ep->port, sizeof ep->port, "%lu", port);
    return 0;
}

void augur_options_init(struct augur_options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    o->client_id = 0;
    o->max_frame = PROTO_FRAME_MAX;
}

/* Load the keys named by the options or the environment. */
static int client_keys_load(struct augur_client *c, char *errmsg)
{
    const char *key = c->opt.key_file;
    const char *cluster = c->opt.cluster_key_file;
    char why[SECURE_ERRMSG_SIZE];
    int err;

    if (key == NULL || key[0] == '\0') {
        key = getenv("AUGUR_KEY");
    }
    if (cluster == NULL || cluster[0] == '\0') {
        cluster = getenv("AUGUR_CLUSTER_KEY");
    }
    if (key != NULL && key[0] == '\0') {
        key = NULL;
    }
    if (cluster != NULL && cluster[0] == '\0') {
        cluster = NULL;
    }
    if (key == NULL && cluster == NULL) {
        return 0;
    }
    if (key == NULL || cluster == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "%s: a client needs both its key (--key FILE or AUGUR_KEY) "
                 "and the cluster's public key (--cluster-key FILE or "
                 "AUGUR_CLUSTER_KEY)",
                 key == NULL ? "no key given" : "no cluster key given");
        return AUGUR_EINVAL;
    }
    if (secure_init() != 0) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "libsodium failed to start");
        return AUGUR_EINTERNAL;
    }
    err = secure_key_load_secret(key, &c->key, why);
    if (err == 0) {
        err = secure_key_load_public(cluster, c->cluster_pk, why);
    }
    if (err != 0) {
        secure_key_wipe(&c->key);
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "%s", why);
        return err;
    }
    c->keyed = 1;
    return 0;
}

/* augur_client_open with an @errmsg that is never NULL. */
static int client_open(const char *endpoints,
                       const struct augur_options *opt,
                       struct augur_client **out,
                       char *errmsg)
{
    struct augur_client *c;
    const char *p;
    unsigned n = 1;
    int err;

    *out = NULL;
    if (endpoints == NULL || endpoints[0] == '\0') {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "no endpoints given");
        return AUGUR_EINVAL;
    }
    for (p = endpoints; *p != '\0'; p++) {
        n += *p == ',';
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    c->endpoints = calloc(n, sizeof *c->endpoints);
    if (c->endpoints == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "out of memory");
        err = AUGUR_ENOMEM;
        goto err_after_client_alloc;
    }
    for (p = endpoints; c->n_endpoints < n; c->n_endpoints++) {
        const char *end = strchr(p, ',');
        const char *stop = end != NULL ? end : p + strlen(p);

        while (p < stop && (*p == ' ' || *p == '\t')) {
            p++;
        }
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t')) {
            stop--;
        }
        err = endpoint_parse(p, (size_t)(stop - p),
                             &c->endpoints[c->n_endpoints], errmsg);
        if (err != 0) {
            goto err_after_endpoints_alloc;
        }
        p = end != NULL ? end + 1 : stop;
    }

    if (opt != NULL) {
        c->opt = *opt;
    } else {
        augur_options_init(&c->opt);
    }
    if (c->opt.timeout_ms <= 0) {
        c->opt.timeout_ms = DEFAULT_TIMEOUT_MS;
    }
    if (c->opt.connect_timeout_ms <= 0) {
        c->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    }
    if (c->opt.max_frame == 0 || c->opt.max_frame > PROTO_FRAME_MAX) {
        c->opt.max_frame = PROTO_FRAME_MAX;
    }
    if (c->opt.client_id == 0) {
        c->opt.client_id = random_u64(c);
    }
    err = client_keys_load(c, errmsg);
    if (err != 0) {
        goto err_after_endpoints_alloc;
    }
    c->opt.key_file = NULL; /* the caller's strings need not outlive open */
    c->opt.cluster_key_file = NULL;
    c->rng = c->opt.client_id ^ (uint64_t)now_ms() << 20;
    if (c->rng == 0) {
        c->rng = 1;
    }
    c->state = CONN_IDLE;
    c->fd = -1;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->next_deadline = INT64_MAX;
    msgpack_sbuffer_init(&c->out);
    msgpack_sbuffer_init(&c->plain);
    *out = c;
    return 0;

err_after_endpoints_alloc:
    free(c->endpoints);
err_after_client_alloc:
    free(c);
    return err;
}

int augur_client_open(const char *endpoints,
                      const struct augur_options *opt,
                      struct augur_client **out,
                      char *errmsg_out)
{
    char errmsg[AUGUR_ERRMSG_SIZE] = "";
    struct augur_client *c;
    int err = client_open(endpoints, opt, &c, errmsg);

    *out = err == 0 ? c : NULL;
    if (errmsg_out != NULL) {
        memcpy(errmsg_out, errmsg, sizeof errmsg);
    }
    return err;
}

const char *augur_client_errmsg(const struct augur_client *c)
{
    return c->errmsg;
}

const char *augur_client_endpoint(const struct augur_client *c)
{
    if (c->state == CONN_HELLO || c->state == CONN_READY) {
        return c->peer.addr;
    }
    return "";
}

unsigned augur_inflight(const struct augur_client *c)
{
    return c->n_calls;
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
        client_seterr(c, reply->status, reply->error);
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
static void client_expire(struct augur_client *c, int64_t now)
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
            c->next_deadline = min64(c->next_deadline, call->deadline);
        }
        if (was_last) {
            break;
        }
        call = following;
    }
}

/* The connection. */

static void conn_read(struct augur_client *c);

static void conn_move(struct augur_client *c, enum conn_state to)
{
    if (!conn_moves[c->state][to]) {
        LOG(LOG_ERROR, "augur: bug: connection to %s moved %s -> %s",
            c->peer.addr, conn_state_names[c->state], conn_state_names[to]);
        assert(0);
    }
    LOG(LOG_TRACE, "augur: connection to %s: %s -> %s", c->peer.addr,
        conn_state_names[c->state], conn_state_names[to]);
    c->state = to;
}

/* Close the socket and forget what was queued on it; every call goes back
 * to waiting for a connection. */
static void conn_close(struct augur_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    msgpack_sbuffer_destroy(&c->out);
    msgpack_sbuffer_init(&c->out);
    c->out_off = 0;
    c->in_len = 0;
    c->conn_gen++;
    secure_handshake_wipe(&c->hs);
    secure_channel_close(&c->ch);
    for (struct call *call = c->head; call != NULL; call = call->next) {
        call->on_conn = 0;
    }
    conn_move(c, CONN_IDLE);
}

static void conn_retry_later(struct augur_client *c)
{
    unsigned delay = c->backoff_ms;

    delay += (unsigned)(rng_next(c) % (delay / 4 + 1));
    c->retry_at = now_ms() + delay;
    c->backoff_ms =
        c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* End the connection, keeping the reason for the deadline's message. */
static void conn_drop_v(struct augur_client *c, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void conn_drop_v(struct augur_client *c, const char *fmt, va_list ap)
{
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    LOG(LOG_DEBUG, "augur: %s", c->last_error);
    conn_close(c);
    if (c->peer_is_hint) {
        /* The hinted leader failed us: back to the list. */
        c->hint.addr[0] = '\0';
        c->peer_is_hint = 0;
    }
}

/* End the connection for the reason given, and retry after a backoff on the
 * next endpoint.  A ready connection with nothing on it, closed by the
 * server while idle, is replaced at once: nothing suggests trouble. */
static void conn_fail(struct augur_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void conn_fail(struct augur_client *c, const char *fmt, ...)
{
    int idle = c->state == CONN_READY;
    va_list ap;

    for (struct call *call = c->head; call != NULL && idle; call = call->next) {
        idle = !call->on_conn;
    }
    va_start(ap, fmt);
    conn_drop_v(c, fmt, ap);
    va_end(ap);
    if (idle) {
        c->retry_at = 0;
    } else {
        conn_retry_later(c);
    }
}

static void conn_drop(struct augur_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void conn_drop(struct augur_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conn_drop_v(c, fmt, ap);
    va_end(ap);
}

/* Fail every call that cannot have applied (a read, a write never sent)
 * with AUGUR_ECONNECT: no endpoint is listening.  A write sent on an earlier
 * connection may have applied: it keeps being retried until its deadline,
 * when it is indeterminate, so that a cluster back by then answers it. */
static void client_fail_unreachable(struct augur_client *c)
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

/* A connection attempt failed with @err before any byte was exchanged.
 * When every listed endpoint refused in turn (one full round robin pass,
 * nothing else in between), no node is running there, and waiting for the
 * deadline would only make the caller wait: the calls that cannot have
 * applied fail at once.  A single refusal (a node restarting, the leader
 * killed during a leader change) only moves on to the next endpoint, and any
 * other outcome starts the count again. */
static void conn_connect_failed(struct augur_client *c, int err)
{
    int listed = !c->peer_is_hint;

    conn_fail(c, "connect to %s: %s", c->peer.addr, strerror(err));
    if (err != ECONNREFUSED) {
        c->refused = 0;
        return;
    }
    if (listed && ++c->refused >= c->n_endpoints) {
        c->refused = 0;
        client_fail_unreachable(c);
    }
}

/* Follow a redirect to @leader: reconnect there at once, unless redirects
 * keep coming without an answer (nodes disagreeing about the leader during
 * an election), when the usual backoff applies. */
static void conn_redirect(struct augur_client *c, const struct endpoint *leader)
{
    conn_drop(c, "%s redirects to the leader %s", c->peer.addr, leader->addr);
    c->hint = *leader;
    c->redirects++;
    if (c->redirects <= REDIRECTS_BEFORE_BACKOFF) {
        c->retry_at = 0;
    } else {
        conn_retry_later(c);
    }
}

static void conn_start(struct augur_client *c)
{
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    int one = 1;
    int rv;

    assert(c->state == CONN_IDLE);
    if (c->in_cap > IN_CHUNK) {
        /* Do not keep a huge buffer a past frame needed. */
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    if (c->hint.addr[0] != '\0') {
        c->peer = c->hint;
        c->peer_is_hint = 1;
    } else {
        c->peer = c->endpoints[c->next_endpoint];
        c->next_endpoint = (c->next_endpoint + 1) % c->n_endpoints;
        c->peer_is_hint = 0;
    }
    c->conn_deadline = now_ms() + c->opt.connect_timeout_ms;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rv = getaddrinfo(c->peer.host, c->peer.port, &hints, &ai);
    if (rv != 0) {
        c->refused = 0;
        conn_fail(c, "resolve %s: %s", c->peer.addr,
                  rv == EAI_SYSTEM ? strerror(errno) : gai_strerror(rv));
        return;
    }
    c->fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->refused = 0;
        conn_fail(c, "socket for %s: %s", c->peer.addr, strerror(errno));
        goto out;
    }
    /* Requests are small and latency-bound: never wait to coalesce. */
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        LOG(LOG_DEBUG, "augur: TCP_NODELAY on %s: %s", c->peer.addr,
            strerror(errno));
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        conn_move(c, CONN_CONNECTING);
    } else if (errno == EINPROGRESS) {
        conn_move(c, CONN_CONNECTING);
    } else {
        conn_connect_failed(c, errno);
    }
out:
    freeaddrinfo(ai);
}

/* The TCP connection is up (or failed): say HELLO. */
static void conn_on_connected(struct augur_client *c)
{
    struct proto_hello hello;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    int err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
        soerr = errno;
    }
    if (soerr != 0) {
        conn_connect_failed(c, soerr);
        return;
    }
    c->refused = 0;
    memset(&hello, 0, sizeof hello);
    hello.version = PROTO_VERSION;
    hello.client = c->opt.client_id;
    snprintf(hello.auth, sizeof hello.auth, "none");
    if (c->keyed) {
        err = secure_client_hello(&c->hs, c->opt.client_id, &c->out);
    } else {
        err = proto_hello_encode(&c->out, &hello);
    }
    if (err != 0) {
        conn_fail(c, "hello to %s: %s", c->peer.addr, augur_strerror(err));
        return;
    }
    conn_move(c, CONN_HELLO);
}

static void conn_flush(struct augur_client *c)
{
    while (c->out_off < c->out.size) {
        ssize_t n = send(c->fd, c->out.data + c->out_off,
                         c->out.size - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            conn_fail(c, "send to %s: %s", c->peer.addr,
                      n < 0 ? strerror(errno) : "no progress");
            return;
        }
    }
    c->out.size = 0;
    c->out_off = 0;
}

/* Queue a REQUEST for every call not yet on the connection, oldest first,
 * so that a resend goes out in seq order. */
static void client_queue_calls(struct augur_client *c)
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
            conn_fail(c, "request to %s: %s", c->peer.addr,
                      augur_strerror(err));
            return;
        }
        call->on_conn = 1;
        call->sent = 1;
    }
}

/* A ready connection that has been idle may have been closed by the server
 * meanwhile; find out before queueing requests on it, so that they are not
 * sent into a dead socket and marked as possibly applied. */
static void conn_check_idle(struct augur_client *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

    if (c->out.size == 0 && poll(&pfd, 1, 0) > 0) {
        conn_read(c);
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

static void conn_on_response(struct augur_client *c,
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
        conn_fail(c, "response from %s: empty", c->peer.addr);
        return;
    }
    copy = malloc(len);
    if (copy == NULL) {
        conn_fail(c, "response from %s: out of memory", c->peer.addr);
        return;
    }
    memcpy(copy, payload, len);
    err = proto_payload_unpack(copy, len, &reply.unpacked);
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
        conn_fail(c, "response from %s: %s", c->peer.addr, augur_strerror(err));
        return;
    }
    answer = augur_map_get(&reply.unpacked.data, "answer");
    if (augur_map_u64(&reply.unpacked.data, "id", &id) != 0 || answer == NULL ||
        answer->type != MSGPACK_OBJECT_MAP ||
        answer_decode(answer, &reply, hint, sizeof hint) != 0) {
        augur_reply_free(&reply);
        conn_fail(c, "response from %s: malformed answer", c->peer.addr);
        return;
    }
    call = call_find(c, id);
    if (call == NULL) {
        /* The answer to a call that has passed its deadline. */
        LOG(LOG_DEBUG, "augur: %s answered unknown request %llu", c->peer.addr,
            (unsigned long long)id);
        augur_reply_free(&reply);
        return;
    }
    switch (reply.status) {
        case AUGUR_ENOTLEADER:
        case AUGUR_ENOLEADER:
        case AUGUR_ESHUTDOWN:
        case AUGUR_EINDETERMINATE:
            augur_reply_free(&reply);
            if (reply.status == AUGUR_ENOTLEADER && hint[0] != '\0' &&
                endpoint_parse(hint, strlen(hint), &leader, scratch) == 0 &&
                strcmp(leader.addr, c->peer.addr) != 0) {
                conn_redirect(c, &leader);
            } else {
                /* The same seq goes to another node: the session there
                 * answers it without applying it twice. */
                conn_fail(c, "%s answered %s: %s", c->peer.addr,
                          augur_errname(reply.status), reply.error);
            }
            return;
        default:
            /* A final answer shows the cluster serving: later failures
             * start their backoff from the bottom again. */
            c->backoff_ms = BACKOFF_MIN_MS;
            c->redirects = 0;
            call_complete(c, call, &reply);
            return;
    }
}

static void client_fail_auth(struct augur_client *c, const char *msg);

static void conn_on_close_frame(struct augur_client *c,
                                const uint8_t *payload,
                                size_t len)
{
    msgpack_unpacked u;
    char reason[AUGUR_ERRMSG_SIZE] = "";
    uint64_t status = 0;

    msgpack_unpacked_init(&u);
    if (proto_payload_unpack(payload, len, &u) == 0) {
        (void)augur_map_u64(&u.data, "status", &status);
        (void)augur_map_str(&u.data, "error", reason, sizeof reason);
    }
    msgpack_unpacked_destroy(&u);
    if (status == AUGUR_EAUTH) {
        char msg[2 * AUGUR_ERRMSG_SIZE + AUGUR_ADDR_SIZE];
        snprintf(msg, sizeof msg, "%s refused: %s", c->peer.addr, reason);
        client_fail_auth(c, msg);
        return;
    }
    conn_fail(c, "%s closed the connection: %s: %s", c->peer.addr,
              augur_errname((int)(status > INT_MAX ? INT_MAX : status)),
              reason);
}

static void conn_on_welcome(struct augur_client *c,
                            const uint8_t *payload,
                            size_t len)
{
    msgpack_unpacked u;
    uint64_t version = 0;
    int err;

    msgpack_unpacked_init(&u);
    err = proto_payload_unpack(payload, len, &u);
    if (err == 0 && augur_map_u64(&u.data, "v", &version) != 0) {
        err = AUGUR_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    if (err != 0) {
        conn_fail(c, "welcome from %s: %s", c->peer.addr, augur_strerror(err));
        return;
    }
    if (version != PROTO_VERSION) {
        conn_fail(c, "%s speaks protocol version %llu, not %d", c->peer.addr,
                  (unsigned long long)version, PROTO_VERSION);
        return;
    }
    conn_move(c, CONN_READY);
    LOG(LOG_DEBUG, "augur: connected to %s", c->peer.addr);
}

/* Fail every call now: the cluster refused this client's credentials, or
 * the server could not prove the cluster key.  Retrying would not help. */
static void client_fail_auth(struct augur_client *c, const char *msg)
{
    unsigned n = c->n_calls;

    conn_drop(c, "%s", msg);
    conn_retry_later(c);
    while (n-- > 0 && c->head != NULL) {
        call_fail(c, c->head, AUGUR_EAUTH, "%s", msg);
    }
}

static void conn_on_challenge(struct augur_client *c,
                              const uint8_t *payload,
                              size_t len)
{
    char why[SECURE_ERRMSG_SIZE];
    char msg[SECURE_ERRMSG_SIZE + AUGUR_ADDR_SIZE + 8];
    int err;

    if (c->ch.ready) {
        conn_fail(c, "%s sent a second CHALLENGE", c->peer.addr);
        return;
    }
    err = secure_client_challenge(&c->hs, payload, len, c->cluster_pk, &c->key,
                                  &c->out, &c->ch, why);
    secure_handshake_wipe(&c->hs);
    if (err == AUGUR_EAUTH) {
        snprintf(msg, sizeof msg, "%s: %s", c->peer.addr, why);
        client_fail_auth(c, msg);
    } else if (err != 0) {
        conn_fail(c, "%s: %s", c->peer.addr, why);
    }
}

static void conn_on_frame(struct augur_client *c,
                          const struct proto_frame *frame);

/* A frame while keyed: CHALLENGE and a refusal (CLOSE) come in clear
 * before the channel is up; everything after is sealed. */
static void conn_on_keyed_frame(struct augur_client *c,
                                const struct proto_frame *frame)
{
    struct proto_frame inner;
    int err;

    if (!c->ch.ready) {
        if (c->state == CONN_HELLO && frame->type == PROTO_CHALLENGE) {
            conn_on_challenge(c, frame->payload, frame->len);
        } else if (frame->type == PROTO_CLOSE) {
            conn_on_frame(c, frame);
        } else {
            conn_fail(c, "%s sent frame type %d before the handshake ended",
                      c->peer.addr, (int)frame->type);
        }
        return;
    }
    if (frame->type == PROTO_CLOSE && c->state == CONN_HELLO) {
        conn_on_frame(c, frame); /* AUTH refused, before any sealed frame */
        return;
    }
    err = secure_open(&c->ch, frame, &inner);
    if (err != 0) {
        conn_fail(c, "%s: %s", c->peer.addr,
                  err == AUGUR_EAUTH ? "a frame failed authentication"
                                     : "expected a sealed frame");
        return;
    }
    conn_on_frame(c, &inner);
}

static void conn_on_frame(struct augur_client *c,
                          const struct proto_frame *frame)
{
    if (frame->type == PROTO_CLOSE) {
        conn_on_close_frame(c, frame->payload, frame->len);
    } else if (c->state == CONN_HELLO && frame->type == PROTO_WELCOME) {
        conn_on_welcome(c, frame->payload, frame->len);
    } else if (c->state == CONN_READY && frame->type == PROTO_RESPONSE) {
        conn_on_response(c, frame->payload, frame->len);
    } else {
        conn_fail(c, "%s sent an unexpected frame of type %d in state %s",
                  c->peer.addr, (int)frame->type, conn_state_names[c->state]);
    }
}

/* Handle every whole frame in the receive buffer. */
static void conn_parse(struct augur_client *c)
{
    uint64_t gen = c->conn_gen;
    size_t pos = 0;

    while (pos < c->in_len) {
        struct proto_frame frame;
        size_t used;
        int err = proto_frame_parse(
            c->in + pos, c->in_len - pos,
            c->opt.max_frame + (c->keyed ? PROTO_SEAL_OVERHEAD : 0), &frame,
            &used);

        if (err != 0) {
            conn_fail(c, "bad frame from %s: %s", c->peer.addr,
                      augur_strerror(err));
            return;
        }
        if (used == 0) {
            break;
        }
        pos += used;
        if (c->keyed) {
            conn_on_keyed_frame(c, &frame);
        } else {
            conn_on_frame(c, &frame);
        }
        if (c->conn_gen != gen) {
            return; /* the connection ended; its bytes are gone */
        }
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

/* Make room to receive: at least a quarter chunk, and the whole of the
 * partial frame at the start of the buffer, whose length conn_parse has
 * already checked against max_frame. */
static int conn_in_reserve(struct augur_client *c)
{
    size_t frame = 0;
    size_t want;
    uint8_t *p;

    if (c->in_len >= 4) {
        frame = ((size_t)c->in[0] << 24 | (size_t)c->in[1] << 16 |
                 (size_t)c->in[2] << 8 | (size_t)c->in[3]) +
                4;
    }
    if (c->in_cap >= c->in_len + IN_CHUNK / 4 && c->in_cap >= frame) {
        return 0;
    }
    want = c->in_len + IN_CHUNK > frame ? c->in_len + IN_CHUNK : frame;
    p = realloc(c->in, want);
    if (p == NULL) {
        return AUGUR_ENOMEM;
    }
    c->in = p;
    c->in_cap = want;
    return 0;
}

static void conn_read(struct augur_client *c)
{
    uint64_t gen = c->conn_gen;

    for (;;) {
        ssize_t n;

        if (conn_in_reserve(c) != 0) {
            conn_fail(c, "read from %s: out of memory", c->peer.addr);
            return;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            conn_parse(c);
            if (c->conn_gen != gen) {
                return;
            }
        } else if (n == 0) {
            conn_fail(c, "%s closed the connection", c->peer.addr);
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            conn_fail(c, "read from %s: %s", c->peer.addr, strerror(errno));
            return;
        }
    }
}

/* Move the connection forward as far as it goes without waiting. */
static void client_advance(struct augur_client *c, int64_t now)
{
    if (c->state == CONN_IDLE && now >= c->retry_at) {
        conn_start(c);
    }
    if ((c->state == CONN_CONNECTING || c->state == CONN_HELLO) &&
        now >= c->conn_deadline) {
        c->refused = 0;
        conn_fail(c, "connect to %s: no welcome within %d ms", c->peer.addr,
                  c->opt.connect_timeout_ms);
    }
    if (c->state == CONN_READY) {
        int unqueued = 0;

        for (struct call *call = c->head; call != NULL && !unqueued;
             call = call->next) {
            unqueued = !call->on_conn;
        }
        if (unqueued) {
            conn_check_idle(c);
        }
        if (unqueued && c->state == CONN_READY) {
            client_queue_calls(c);
        }
    }
    if ((c->state == CONN_HELLO || c->state == CONN_READY) &&
        c->out_off < c->out.size) {
        conn_flush(c);
    }
}

/* Drive I/O until *@done is set (NULL: never), no call is in flight, or
 * @until passes (-1: never).  Returns 0 or AUGUR_ETIMEOUT. */
static int client_loop(struct augur_client *c, const int *done, int64_t until)
{
    for (;;) {
        struct pollfd pfd = {.fd = -1};
        int64_t now = now_ms();
        int64_t wake;
        int rv;

        client_expire(c, now);
        if (c->n_calls == 0 || (done != NULL && *done)) {
            return 0;
        }
        if (until >= 0 && now >= until) {
            return AUGUR_ETIMEOUT;
        }
        client_advance(c, now);
        if (c->n_calls == 0 || (done != NULL && *done)) {
            return 0;
        }

        wake = c->next_deadline;
        if (until >= 0) {
            wake = min64(wake, until);
        }
        switch (c->state) {
            case CONN_IDLE:
                wake = min64(wake, c->retry_at);
                break;
            case CONN_CONNECTING:
                wake = min64(wake, c->conn_deadline);
                pfd.fd = c->fd;
                pfd.events = POLLOUT;
                break;
            case CONN_HELLO:
            case CONN_READY:
                if (c->state == CONN_HELLO) {
                    wake = min64(wake, c->conn_deadline);
                }
                pfd.fd = c->fd;
                pfd.events = POLLIN;
                if (c->out_off < c->out.size) {
                    pfd.events |= POLLOUT;
                }
                break;
            default:
                assert(0);
        }
        wake -= now_ms();
        rv = poll(&pfd, pfd.fd >= 0 ? 1 : 0,
                  wake <= 0        ? 0
                  : wake > INT_MAX ? INT_MAX
                                   : (int)wake);
        if (rv <= 0 || pfd.revents == 0) {
            continue; /* a timer is due, or EINTR */
        }
        if (c->state == CONN_CONNECTING) {
            conn_on_connected(c);
            continue;
        }
        if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
            conn_read(c);
        }
        if ((pfd.revents & POLLOUT) &&
            (c->state == CONN_HELLO || c->state == CONN_READY)) {
            conn_flush(c);
        }
    }
}

void augur_client_close(struct augur_client *c)
{
    struct call *call;

    if (c == NULL) {
        return;
    }
    assert(c->in_callback == 0);
    if (c->fd >= 0) {
        close(c->fd);
    }
    call = c->head;
    while (call != NULL) {
        struct call *following = call->next;

        free(call);
        call = following;
    }
    msgpack_sbuffer_destroy(&c->out);
    msgpack_sbuffer_destroy(&c->plain);
    secure_handshake_wipe(&c->hs);
    secure_channel_close(&c->ch);
    secure_key_wipe(&c->key);
    free(c->in);
    free(c->endpoints);
    free(c);
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
    call->id = ++c->next_id;
    call->seq = op_is_read(op, op_len) ? 0 : ++c->next_seq;
    /* A long poll may legitimately take wait_ms on the server. */
    budget = (int64_t)c->opt.timeout_ms + wait_ms;
    call->budget_ms = budget > INT_MAX ? INT_MAX : (int)budget;
    call->deadline = now_ms() + budget;
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
    c->next_deadline = min64(c->next_deadline, call->deadline);
    return 0;

err:
    client_seterr(c, err, reason);
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
        client_seterr(c, AUGUR_EINVAL, "augur_run called from a callback");
        return AUGUR_EINVAL;
    }
    return client_loop(c, NULL, timeout_ms < 0 ? -1 : now_ms() + timeout_ms);
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

static int client_call(struct augur_client *c,
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
        client_seterr(c, reply->status, reply->error);
        return reply->status;
    }
    err = client_submit(c, op, args, args_len, flags, wait_ms, sync_cb, &w,
                        reply->error);
    if (err != 0) {
        reply->status = err;
        return err;
    }
    (void)client_loop(c, &w.done, -1);
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
    return client_call(c, op, args, args_len, flags, 0, reply);
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Typed helpers refuse before packing when memory runs out. */
static int helper_nomem(struct augur_client *c,
                        msgpack_sbuffer *args,
                        const char *op)
{
    char reason[AUGUR_ERRMSG_SIZE];

    msgpack_sbuffer_destroy(args);
    snprintf(reason, sizeof reason, "%s: out of memory", op);
    client_seterr(c, AUGUR_ENOMEM, reason);
    return AUGUR_ENOMEM;
}

int augur_events(struct augur_client *c,
                 uint64_t from,
                 unsigned limit,
                 unsigned wait_ms,
                 unsigned flags,
                 struct augur_reply *reply)
{
    msgpack_sbuffer args;
    msgpack_packer pk;
    int status;

    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, limit != 0 ? 2 : 1) != 0 ||
        pack_cstr(&pk, "from") != 0 || msgpack_pack_uint64(&pk, from) != 0 ||
        (limit != 0 && (pack_cstr(&pk, "limit") != 0 ||
                        msgpack_pack_unsigned_int(&pk, limit) != 0))) {
        memset(reply, 0, sizeof *reply);
        reply->status = helper_nomem(c, &args, "events");
        snprintf(reply->error, sizeof reply->error, "events: out of memory");
        return reply->status;
    }
    status = client_call(c, "events", args.data, args.size, flags,
                         (uint32_t)wait_ms, reply);
    msgpack_sbuffer_destroy(&args);
    return status;
}

/* Fill @out from a claim object.  AUGUR_EPROTO when it is not one. */
static int claim_parse(const msgpack_object *o, struct augur_claim *out)
{
    struct augur_claim claim;

    memset(&claim, 0, sizeof claim);
    if (o == NULL ||
        augur_map_str(o, "workload", claim.workload, sizeof claim.workload) !=
            0 ||
        augur_map_str(o, "host", claim.host, sizeof claim.host) != 0 ||
        augur_map_u64(o, "epoch", &claim.epoch) != 0) {
        return AUGUR_EPROTO;
    }
    if (out != NULL) {
        *out = claim;
    }
    return 0;
}

/* Call a claim op with the packed @args (consumed) and read the claim of its
 * answer into @out, on success and on a conflict (the holder). */
static int claim_call(struct augur_client *c,
                      const char *op,
                      msgpack_sbuffer *args,
                      unsigned flags,
                      struct augur_claim *out)
{
    struct augur_reply reply;
    int status;

    status = augur_call(c, op, args->data, args->size, flags, &reply);
    msgpack_sbuffer_destroy(args);
    if ((status == 0 || status == AUGUR_ECONFLICT) &&
        claim_parse(reply.result, out) != 0 && status == 0) {
        char reason[AUGUR_ERRMSG_SIZE];

        snprintf(reason, sizeof reason, "%s: the answer carries no claim", op);
        client_seterr(c, AUGUR_EPROTO, reason);
        status = AUGUR_EPROTO;
    }
    augur_reply_free(&reply);
    return status;
}

static int refuse_null(struct augur_client *c, const char *op, const char *what)
{
    char reason[AUGUR_ERRMSG_SIZE];

    snprintf(reason, sizeof reason, "%s: no %s given", op, what);
    client_seterr(c, AUGUR_EINVAL, reason);
    return AUGUR_EINVAL;
}

int augur_claim_acquire(struct augur_client *c,
                        const char *workload,
                        const char *host,
                        struct augur_claim *out)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_ACQUIRE);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (workload == NULL) {
        return refuse_null(c, op, "workload");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, host != NULL ? 2 : 1) != 0 ||
        pack_cstr(&pk, "workload") != 0 || pack_cstr(&pk, workload) != 0 ||
        (host != NULL &&
         (pack_cstr(&pk, "host") != 0 || pack_cstr(&pk, host) != 0))) {
        return helper_nomem(c, &args, op);
    }
    return claim_call(c, op, &args, 0, out);
}

int augur_claim_transfer(struct augur_client *c,
                         const char *workload,
                         const char *to,
                         uint64_t epoch,
                         struct augur_claim *out)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_TRANSFER);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (workload == NULL || to == NULL) {
        return refuse_null(c, op, workload == NULL ? "workload" : "target");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "workload") != 0 ||
        pack_cstr(&pk, workload) != 0 || pack_cstr(&pk, "to") != 0 ||
        pack_cstr(&pk, to) != 0 || pack_cstr(&pk, "epoch") != 0 ||
        msgpack_pack_uint64(&pk, epoch) != 0) {
        return helper_nomem(c, &args, op);
    }
    return claim_call(c, op, &args, 0, out);
}

int augur_claim_release(struct augur_client *c,
                        const char *workload,
                        uint64_t epoch)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_RELEASE);
    msgpack_sbuffer args;
    msgpack_packer pk;
    struct augur_reply reply;
    int status;

    if (workload == NULL) {
        return refuse_null(c, op, "workload");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 2) != 0 || pack_cstr(&pk, "workload") != 0 ||
        pack_cstr(&pk, workload) != 0 || pack_cstr(&pk, "epoch") != 0 ||
        msgpack_pack_uint64(&pk, epoch) != 0) {
        return helper_nomem(c, &args, op);
    }
    status = augur_call(c, op, args.data, args.size, 0, &reply);
    msgpack_sbuffer_destroy(&args);
    augur_reply_free(&reply);
    return status;
}

int augur_claim_get(struct augur_client *c,
                    const char *workload,
                    unsigned flags,
                    struct augur_claim *out)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_GET);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (workload == NULL) {
        return refuse_null(c, op, "workload");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 1) != 0 || pack_cstr(&pk, "workload") != 0 ||
        pack_cstr(&pk, workload) != 0) {
        return helper_nomem(c, &args, op);
    }
    return claim_call(c, op, &args, flags, out);
}

static int pack_capacity(msgpack_packer *pk,
                         const char *key,
                         uint64_t cpu,
                         uint64_t mem_mb)
{
    return pack_cstr(pk, key) != 0 || msgpack_pack_map(pk, 2) != 0 ||
           pack_cstr(pk, "cpu") != 0 || msgpack_pack_uint64(pk, cpu) != 0 ||
           pack_cstr(pk, "mem_mb") != 0 || msgpack_pack_uint64(pk, mem_mb) != 0;
}

/* Call a write whose result the helper does not return. */
static int plain_call(struct augur_client *c,
                      const char *op,
                      msgpack_sbuffer *args)
{
    struct augur_reply reply;
    int status;

    status = augur_call(c, op, args->data, args->size, 0, &reply);
    msgpack_sbuffer_destroy(args);
    augur_reply_free(&reply);
    return status;
}

int augur_resource_add(struct augur_client *c,
                       const char *id,
                       const char *kind,
                       uint64_t cpu,
                       uint64_t mem_mb)
{
    const char *op = augur_op_wire(AUGUR_OP_RESOURCE_ADD);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (id == NULL || kind == NULL) {
        return refuse_null(c, op, id == NULL ? "id" : "kind");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "id") != 0 ||
        pack_cstr(&pk, id) != 0 || pack_cstr(&pk, "kind") != 0 ||
        pack_cstr(&pk, kind) != 0 ||
        pack_capacity(&pk, "capacity", cpu, mem_mb) != 0) {
        return helper_nomem(c, &args, op);
    }
    return plain_call(c, op, &args);
}

int augur_workload_add(struct augur_client *c,
                       const char *id,
                       uint64_t cpu,
                       uint64_t mem_mb,
                       int64_t priority)
{
    const char *op = augur_op_wire(AUGUR_OP_WORKLOAD_ADD);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (id == NULL) {
        return refuse_null(c, op, "id");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "id") != 0 ||
        pack_cstr(&pk, id) != 0 ||
        pack_capacity(&pk, "demand", cpu, mem_mb) != 0 ||
        pack_cstr(&pk, "priority") != 0 ||
        msgpack_pack_int64(&pk, priority) != 0) {
        return helper_nomem(c, &args, op);
    }
    return plain_call(c, op, &args);
}

/* Map helpers. */

const msgpack_object *augur_map_get(const msgpack_object *map, const char *key)
{
    size_t n;

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

int augur_map_str(const msgpack_object *map,
                  const char *key,
                  char *out,
                  size_t size)
{
    const msgpack_object *v = augur_map_get(map, key);

    if (v == NULL || v->type != MSGPACK_OBJECT_STR) {
        return AUGUR_ENOTFOUND;
    }
    if (v->via.str.size >= size) {
        if (size > 0) {
            out[0] = '\0';
        }
        return AUGUR_ETOOBIG;
    }
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return 0;
}

int augur_map_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    const msgpack_object *v = augur_map_get(map, key);

    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return AUGUR_ENOTFOUND;
    }
    *out = v->via.u64;
    return 0;
}
