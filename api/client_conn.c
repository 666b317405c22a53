/* libaugur's connection: one non-blocking TCP connection driven by poll(),
 * its lifecycle as a checked transition table (connect, HELLO, the keyed
 * handshake, WELCOME), frames in and out, redirects, and the backoff
 * between attempts. */
#include "api/client_int.h"

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
#include <sys/socket.h>
#include <unistd.h>

#include "wire/proto.h"
#include "wire/secure.h"
#include "common/log.h"

/* Short: while a cluster elects a leader, every node answers ENOLEADER (or
 * names the dead leader) at once, and the client finds the new one only at
 * its next attempt after the election: the backoff's cap is what a leader
 * loss costs on top of the election (etcd's client waits 25 ms between
 * attempts). */
#define BACKOFF_MAX_MS 50
#define REDIRECTS_BEFORE_BACKOFF 2 /* then a redirect loop slows down */
/* How long an endpoint that failed is passed by (see suspect in
 * client_int.h): longer than a follower takes to notice a dead leader (up
 * to two election timeouts, 600 ms by default), short enough that a node
 * that comes back is used again soon. */
#define SUSPECT_MS 1000
#define IN_CHUNK 65536 /* receive buffer growth step */

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

static uint64_t rng_next(struct augur_client *c)
{
    uint64_t x = c->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->rng = x;
    return x;
}

static void conn_read(struct augur_client *c);

static void conn_move(struct augur_client *c, enum conn_state to)
{
    if (!conn_moves[c->state][to]) {
        LOG(LOG_LEVEL_ERROR, "augur: bug: connection to %s moved %s -> %s",
            c->peer.addr, conn_state_names[c->state], conn_state_names[to]);
        assert(0);
    }
    LOG(LOG_LEVEL_TRACE, "augur: connection to %s: %s -> %s", c->peer.addr,
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

int client__conn_suspect(const struct augur_client *c, const char *addr)
{
    return c->suspect[0] != '\0' && strcmp(c->suspect, addr) == 0 &&
           client__now_ms() < c->suspect_until;
}

/* The current peer failed us: pass it by for a while. */
static void conn_suspect_peer(struct augur_client *c)
{
    snprintf(c->suspect, sizeof c->suspect, "%s", c->peer.addr);
    c->suspect_until = client__now_ms() + SUSPECT_MS;
}

/* Whether some call is on the current connection (sent, not answered). */
static int conn_busy(const struct augur_client *c)
{
    for (const struct call *call = c->head; call != NULL; call = call->next) {
        if (call->on_conn) {
            return 1;
        }
    }
    return 0;
}

void client__conn_retry_later(struct augur_client *c)
{
    unsigned delay = c->backoff_ms;

    delay += (unsigned)(rng_next(c) % (delay / 4 + 1));
    c->retry_at = client__now_ms() + delay;
    c->backoff_ms =
        c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* End the connection, keeping the reason for the deadline's message. */
static void conn_drop_v(struct augur_client *c, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void conn_drop_v(struct augur_client *c, const char *fmt, va_list ap)
{
    if (!c->auth_refusing) {
        c->auth_refused = 0; /* another outcome: see conn_auth_refused */
    }
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    LOG(LOG_LEVEL_DEBUG, "augur: %s", c->last_error);
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
void client__conn_fail(struct augur_client *c, const char *fmt, ...)
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
        client__conn_retry_later(c);
    }
}

void client__conn_drop(struct augur_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conn_drop_v(c, fmt, ap);
    va_end(ap);
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

    conn_suspect_peer(c);
    client__conn_fail(c, "connect to %s: %s", c->peer.addr, strerror(err));
    if (err != ECONNREFUSED) {
        c->refused = 0;
        return;
    }
    if (listed && ++c->refused >= c->n_endpoints) {
        c->refused = 0;
        client__fail_unreachable(c);
    }
}

/* Follow a redirect to @leader: reconnect there at once, unless redirects
 * keep coming without an answer (nodes disagreeing about the leader during
 * an election), when the usual backoff applies. */
void client__conn_redirect(struct augur_client *c,
                           const struct endpoint *leader)
{
    client__conn_drop(c, "%s redirects to the leader %s", c->peer.addr,
                      leader->addr);
    c->hint = *leader;
    c->redirects++;
    if (c->redirects <= REDIRECTS_BEFORE_BACKOFF) {
        c->retry_at = 0;
    } else {
        client__conn_retry_later(c);
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
    if (c->hint.addr[0] != '\0' && !client__conn_suspect(c, c->hint.addr)) {
        c->peer = c->hint;
        c->peer_is_hint = 1;
    } else {
        /* The next listed endpoint that has not just failed, if any. */
        unsigned tries = c->n_endpoints;
        c->hint.addr[0] = '\0';
        do {
            c->peer = c->endpoints[c->next_endpoint];
            c->next_endpoint = (c->next_endpoint + 1) % c->n_endpoints;
        } while (--tries > 0 && client__conn_suspect(c, c->peer.addr));
        c->peer_is_hint = 0;
    }
    c->conn_deadline = client__now_ms() + c->opt.connect_timeout_ms;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rv = getaddrinfo(c->peer.host, c->peer.port, &hints, &ai);
    if (rv != 0) {
        c->refused = 0;
        client__conn_fail(
            c, "resolve %s: %s", c->peer.addr,
            rv == EAI_SYSTEM ? strerror(errno) : gai_strerror(rv));
        return;
    }
    c->fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->refused = 0;
        client__conn_fail(c, "socket for %s: %s", c->peer.addr,
                          strerror(errno));
        goto out;
    }
    /* Requests are small and latency-bound: never wait to coalesce. */
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        LOG(LOG_LEVEL_DEBUG, "augur: TCP_NODELAY on %s: %s", c->peer.addr,
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
        err = secure_client_hello(&c->hs, c->opt.client_id, c->cluster_pk,
                                  &c->out);
    } else {
        err = proto_hello_encode(&c->out, &hello);
    }
    if (err != 0) {
        client__conn_fail(c, "hello to %s: %s", c->peer.addr,
                          augur_strerror(err));
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
            client__conn_fail(c, "send to %s: %s", c->peer.addr,
                              n < 0 ? strerror(errno) : "no progress");
            return;
        }
    }
    c->out.size = 0;
    c->out_off = 0;
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

/* A refusal the client can trust (a sealed CLOSE(EAUTH), or a server that
 * could not prove the cluster key) is final only when every listed endpoint
 * gave one in a row: a node that has not applied a new principal yet, or an
 * impostor listed among real nodes, does not stop the client while another
 * endpoint may let it in.  Any other outcome (a connection that gets in, or
 * one that fails otherwise) starts the count again: the calls then keep
 * being retried until their deadline. */
static void conn_auth_refused(struct augur_client *c, const char *msg)
{
    if (++c->auth_refused >= c->n_endpoints) {
        c->auth_refused = 0;
        client__fail_auth(c, msg);
        return;
    }
    c->auth_refusing = 1;
    client__conn_fail(c, "%s", msg);
    c->auth_refusing = 0;
}

/* A CLOSE: @sealed when it came inside the channel (so from a server that
 * proved the cluster key), or when the client has no keys to verify
 * anything with.  A clear CLOSE from a keyed client's server is no more
 * than a dropped connection: anyone on the path could have sent it. */
static void conn_on_close_frame(struct augur_client *c,
                                const uint8_t *payload,
                                size_t len,
                                int sealed)
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
    if (!sealed) {
        client__conn_fail(
            c, "%s closed the connection with an unauthenticated %s: %s",
            c->peer.addr,
            augur_errname((int)(status > INT_MAX ? INT_MAX : status)), reason);
        return;
    }
    if (status == AUGUR_EAUTH) {
        char msg[2 * AUGUR_ERRMSG_SIZE + AUGUR_ADDR_SIZE];
        snprintf(msg, sizeof msg, "%s refused: %s", c->peer.addr, reason);
        if (c->keyed) {
            conn_auth_refused(c, msg);
        } else {
            client__fail_auth(c, msg);
        }
        return;
    }
    client__conn_fail(c, "%s closed the connection: %s: %s", c->peer.addr,
                      augur_errname((int)(status > INT_MAX ? INT_MAX : status)),
                      reason);
}

static void conn_on_welcome(struct augur_client *c,
                            const uint8_t *payload,
                            size_t len)
{
    msgpack_unpacked u;
    uint64_t version = 0;
    uint64_t ttl = 0;
    int err;

    msgpack_unpacked_init(&u);
    err = proto_payload_unpack(payload, len, &u);
    if (err == 0 && augur_map_u64(&u.data, "v", &version) != 0) {
        err = AUGUR_EMALFORMED;
    }
    if (err == 0 && augur_map_u64(&u.data, "session_ttl_ms", &ttl) == 0 &&
        ttl > 0) {
        /* The cluster forgets a session idle this long: retrying a write
         * for longer could meet a forgotten session. */
        client__session_ttl(c, ttl);
    }
    msgpack_unpacked_destroy(&u);
    if (err != 0) {
        client__conn_fail(c, "welcome from %s: %s", c->peer.addr,
                          augur_strerror(err));
        return;
    }
    if (version != PROTO_VERSION) {
        client__conn_fail(c, "%s speaks protocol version %llu, not %d",
                          c->peer.addr, (unsigned long long)version,
                          PROTO_VERSION);
        return;
    }
    conn_move(c, CONN_READY);
    c->auth_refused = 0;
    if (strcmp(c->suspect, c->peer.addr) == 0) {
        c->suspect[0] = '\0'; /* it is back */
    }
    LOG(LOG_LEVEL_DEBUG, "augur: connected to %s", c->peer.addr);
}

static void conn_on_challenge(struct augur_client *c,
                              const uint8_t *payload,
                              size_t len)
{
    char why[SECURE_ERRMSG_SIZE];
    char msg[SECURE_ERRMSG_SIZE + AUGUR_ADDR_SIZE + 8];
    int err;

    if (c->ch.ready) {
        client__conn_fail(c, "%s sent a second CHALLENGE", c->peer.addr);
        return;
    }
    err = secure_client_challenge(&c->hs, payload, len, c->cluster_pk, &c->key,
                                  &c->out, &c->ch, why);
    secure_handshake_wipe(&c->hs);
    if (err == AUGUR_EAUTH) {
        snprintf(msg, sizeof msg, "%s: %s", c->peer.addr, why);
        conn_auth_refused(c, msg);
    } else if (err != 0) {
        client__conn_fail(c, "%s: %s", c->peer.addr, why);
    }
}

static void conn_on_frame(struct augur_client *c,
                          const struct proto_frame *frame,
                          int sealed);

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
            conn_on_frame(c, frame, 0);
        } else {
            client__conn_fail(
                c, "%s sent frame type %d before the handshake ended",
                c->peer.addr, (int)frame->type);
        }
        return;
    }
    if (frame->type == PROTO_CLOSE && c->state == CONN_HELLO) {
        /* In clear after AUTH: a server refuses AUTH sealed, so this one
         * comes from someone else. */
        conn_on_frame(c, frame, 0);
        return;
    }
    err = secure_open(&c->ch, frame, &inner);
    if (err != 0) {
        client__conn_fail(c, "%s: %s", c->peer.addr,
                          err == AUGUR_EAUTH ? "a frame failed authentication"
                                             : "expected a sealed frame");
        return;
    }
    conn_on_frame(c, &inner, 1);
}

static void conn_on_frame(struct augur_client *c,
                          const struct proto_frame *frame,
                          int sealed)
{
    if (frame->type == PROTO_CLOSE) {
        conn_on_close_frame(c, frame->payload, frame->len, sealed);
    } else if (c->state == CONN_HELLO && frame->type == PROTO_WELCOME) {
        conn_on_welcome(c, frame->payload, frame->len);
    } else if (c->state == CONN_READY && frame->type == PROTO_RESPONSE) {
        client__on_response(c, frame->payload, frame->len);
    } else {
        client__conn_fail(
            c, "%s sent an unexpected frame of type %d in state %s",
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
            client__conn_fail(c, "bad frame from %s: %s", c->peer.addr,
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
            conn_on_frame(c, &frame, 1);
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
            client__conn_fail(c, "read from %s: out of memory", c->peer.addr);
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
            if (conn_busy(c)) {
                conn_suspect_peer(c); /* not an idle connection timed out */
            }
            client__conn_fail(c, "%s closed the connection", c->peer.addr);
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            if (conn_busy(c)) {
                conn_suspect_peer(c);
            }
            client__conn_fail(c, "read from %s: %s", c->peer.addr,
                              strerror(errno));
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
        conn_suspect_peer(c);
        client__conn_fail(c, "connect to %s: no welcome within %d ms",
                          c->peer.addr, c->opt.connect_timeout_ms);
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
            client__queue_send(c);
        }
    }
    if ((c->state == CONN_HELLO || c->state == CONN_READY) &&
        c->out_off < c->out.size) {
        conn_flush(c);
    }
}

/* Drive I/O until *@done is set (NULL: never), no call is in flight, or
 * @until passes (-1: never).  Returns 0 or AUGUR_ETIMEOUT. */
int client__loop(struct augur_client *c, const int *done, int64_t until)
{
    for (;;) {
        struct pollfd pfd = {.fd = -1};
        int64_t now = client__now_ms();
        int64_t wake;
        int rv;

        client__expire(c, now);
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
            wake = client__min64(wake, until);
        }
        switch (c->state) {
            case CONN_IDLE:
                wake = client__min64(wake, c->retry_at);
                break;
            case CONN_CONNECTING:
                wake = client__min64(wake, c->conn_deadline);
                pfd.fd = c->fd;
                pfd.events = POLLOUT;
                break;
            case CONN_HELLO:
            case CONN_READY:
                if (c->state == CONN_HELLO) {
                    wake = client__min64(wake, c->conn_deadline);
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
        wake -= client__now_ms();
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
