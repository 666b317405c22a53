/* Server side of client connections: accept, greet, decode frames, hand
 * requests to the handler, write answers. */
#include "api/server.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define READ_CHUNK 65536
/* Before authentication nothing longer than PROTO_PREAUTH_FRAME_MAX is
 * accepted, so a stranger's connection holds a small buffer. */
#define PREAUTH_READ_CHUNK 1024
/* A connection must finish the handshake within this long. */
#define HANDSHAKE_TIMEOUT_MS 10000
#define OUTPUT_MAX_DEFAULT (64u << 20)
#define UNAUTH_MAX_DEFAULT 256
#define UNAUTH_PER_SOURCE_DEFAULT 16
#define PENDING_HIGH_DEFAULT (256u << 10)
#define CALLS_MAX_DEFAULT 1024
/* What msgpack-c's zone allocates at least for one decoded request. */
#define ZONE_CHUNK_COST 8192
/* A limit hit is logged at most this often (with a count of the others). */
#define LIMIT_LOG_INTERVAL_MS 1000

/* A connection moves HELLO -> AUTH -> READY -> CLOSED, never back; any
 * state may move to CLOSED. */
enum conn_state
{
    CONN_HELLO, /* waiting for HELLO */
    CONN_AUTH,  /* CHALLENGE sent, waiting for AUTH */
    CONN_READY, /* authenticated: sealed frames only */
    CONN_CLOSED,
    CONN_STATE_COUNT
};

/* conn_moves[from][to]: the transitions allowed (dqlite's sm.h). */
static const unsigned char conn_moves[CONN_STATE_COUNT][CONN_STATE_COUNT] = {
    [CONN_HELLO] = {[CONN_AUTH] = 1, [CONN_CLOSED] = 1},
    [CONN_AUTH] = {[CONN_READY] = 1, [CONN_CLOSED] = 1},
    [CONN_READY] = {[CONN_CLOSED] = 1},
};

struct api_conn
{
    struct api_conn *prev, *next;
    struct api_server *server; /* NULL once the handle is closed */
    uv_tcp_t tcp;
    enum conn_state state;
    uint64_t client;
    uint8_t *buf; /* received bytes not yet consumed */
    size_t len;
    size_t cap;
    size_t output; /* bytes of answers queued and not yet written */
    unsigned refs; /* the handle + every call not yet replied + every write
                      not yet done + the flush list, while on it */
    struct conn_write *out;      /* answers of this turn, not yet written */
    struct api_conn *flush_next; /* on server->flush_list */
    bool flush_listed;
    char peer[64];
    uint8_t source[16]; /* the peer's address, for the per-source cap */
    int family;         /* AF_INET, AF_INET6, or 0 when unknown */
    size_t pending;     /* bytes held: queued writes and calls in flight,
                           as allocated */
    unsigned calls;     /* calls handed to the handler, not yet replied */
    bool paused;        /* reading stopped (backpressure) */
    bool resume;        /* buffered frames wait for the resume handle */
    struct secure_handshake hs;
    struct secure_channel ch; /* ready from READY on */
    uint8_t key[SECURE_PK_SIZE];
    struct secure_cert cert; /* a node's certificate, when has_cert */
    bool has_cert;
    char principal[API_NAME_SIZE];
    int role;
    uint64_t accepted_ms; /* uv_now at accept */
};

/* Every change of a connection's state goes through here and is checked
 * against conn_moves: a move it does not list is a bug, not bad input. */
static void conn_move(struct api_conn *c, enum conn_state to)
{
    static const char *const names[CONN_STATE_COUNT] = {
        [CONN_HELLO] = "hello",
        [CONN_AUTH] = "auth",
        [CONN_READY] = "ready",
        [CONN_CLOSED] = "closed",
    };
    if (!conn_moves[c->state][to]) {
        LOG(LOG_LEVEL_ERROR, "bug: client %s: connection moved %s -> %s",
            c->peer, names[c->state], names[to]);
        assert(0);
    }
    if ((c->state == CONN_HELLO || c->state == CONN_AUTH) &&
        (to == CONN_READY || to == CONN_CLOSED)) {
        c->server->n_unauth--;
    }
    c->state = to;
}

/* One write of a connection's answers: every frame queued in a loop turn,
 * written together. */
struct conn_write
{
    uv_write_t req;
    struct api_conn *conn;
    size_t len;
    size_t cost;    /* what this write holds, as allocated */
    uv_buf_t *bufs; /* each base malloc'd, freed when written */
    unsigned n;
    unsigned cap;
};

static void conn_process(struct api_conn *c);
static void conn_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void server_resume(uv_idle_t *idle);
static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void conn_close(struct api_conn *c);
static int conn_flush(struct api_conn *c);

/* Read again once what the connection holds has drained below the low
 * water mark and it has room for another call.  Frames already buffered
 * are run from the resume handle, not from here: this runs inside write
 * and reply callbacks, where calling the handler again would re-enter
 * it. */
static void conn_maybe_resume(struct api_conn *c)
{
    struct api_server *s = c->server;

    if (!c->paused || c->state == CONN_CLOSED || s == NULL ||
        c->pending > s->config.pending_low || c->calls >= s->config.max_calls) {
        return;
    }
    c->paused = false;
    LOG(LOG_LEVEL_DEBUG, "client %s: reading again (%zu bytes held)", c->peer,
        c->pending);
    if (c->len > 0) {
        /* server_resume runs them, then reads again. */
        c->resume = true;
        uv_idle_start(&s->resume, server_resume);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0) {
        conn_close(c);
    }
}

static void conn_unref(struct api_conn *c)
{
    if (--c->refs == 0) {
        secure_handshake_wipe(&c->hs);
        secure_channel_close(&c->ch);
        free(c->buf);
        free(c);
    }
}

static void conn_handle_closed(uv_handle_t *handle)
{
    struct api_conn *c = handle->data;
    struct api_server *s = c->server;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
    /* Calls still held (parked long polls) hold a reference each: let the
     * handler free them now that no answer can reach the peer. */
    if (c->refs > 1 && s->config.conn_closed_cb != NULL) {
        s->config.conn_closed_cb(s, c);
    }
    c->server = NULL;
    conn_unref(c);
    if (s->closing && s->n_conns == 0 && s->listener_closed &&
        s->close_cb != NULL) {
        s->close_cb(s);
    }
}

static void conn_close(struct api_conn *c)
{
    if (c->state == CONN_CLOSED) {
        return;
    }
    conn_move(c, CONN_CLOSED);
    /* What was queued goes first (a refusal's CLOSE frame among it), as
     * far as the socket takes it at once: libuv cancels the rest. */
    (void)conn_flush(c);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_write_free(struct conn_write *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        free(w->bufs[i].base);
    }
    free(w->bufs);
    free(w);
}

static void conn_write_done(uv_write_t *req, int status)
{
    struct conn_write *w = req->data;
    struct api_conn *c = w->conn;

    c->output -= w->len;
    c->pending -= w->cost;
    if (status != 0 && c->state != CONN_CLOSED) {
        LOG(LOG_LEVEL_DEBUG, "client %s: write: %s", c->peer,
            uv_strerror(status));
        conn_close(c);
    }
    conn_write_free(w);
    conn_maybe_resume(c);
    conn_unref(c);
}

/* Write the answers @c gathered: one uv_write, so one system call for
 * every answer of the turn (64 writes in flight applied in one batch are
 * 64 answers).  -1 when libuv refuses it; the answers are dropped. */
static int conn_flush(struct api_conn *c)
{
    struct conn_write *w = c->out;
    uv_buf_t rest[64];
    uv_buf_t *bufs;
    unsigned n;
    int rv;

    if (w == NULL) {
        return 0;
    }
    c->out = NULL;
    bufs = w->bufs;
    n = w->n;
    /* With nothing queued the socket usually takes it all at once: no
     * request then, and none of the epoll_ctl that libuv 1.44 issues after
     * every completed uv_write. */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        int done = uv_try_write((uv_stream_t *)&c->tcp, w->bufs, w->n);
        size_t skip;
        unsigned i = 0;
        if (done >= 0 && (size_t)done == w->len) {
            c->output -= w->len;
            c->pending -= w->cost;
            conn_write_free(w);
            conn_maybe_resume(c);
            return 0;
        }
        if (done < 0 && done != UV_EAGAIN) {
            rv = done;
            goto refused;
        }
        skip = done > 0 ? (size_t)done : 0;
        while (skip >= w->bufs[i].len) {
            skip -= w->bufs[i].len;
            i++;
        }
        n = w->n - i;
        bufs =
            n <= sizeof rest / sizeof rest[0] ? rest : malloc(n * sizeof *bufs);
        if (bufs == NULL) {
            rv = UV_ENOMEM;
            goto refused;
        }
        for (unsigned k = 0; k < n; k++) {
            bufs[k] = w->bufs[i + k];
        }
        bufs[0].base += skip;
        bufs[0].len -= skip;
    }
    w->req.data = w;
    /* uv_write copies the array of buffers, not the bytes. */
    rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, conn_write_done);
    if (bufs != w->bufs && bufs != rest) {
        free(bufs);
    }
    if (rv != 0) {
        goto refused;
    }
    c->refs++;
    return 0;

refused:
    c->output -= w->len;
    c->pending -= w->cost;
    conn_write_free(w);
    return -1;
}

/* The prepare handle: write every connection's answers of this turn. */
static void server_flush(uv_prepare_t *prepare)
{
    struct api_server *s = prepare->data;
    struct api_conn *c;

    while ((c = s->flush_list) != NULL) {
        s->flush_list = c->flush_next;
        c->flush_next = NULL;
        c->flush_listed = false;
        if (c->state != CONN_CLOSED && conn_flush(c) != 0) {
            conn_close(c);
        }
        conn_unref(c);
    }
    uv_prepare_stop(&s->flush);
}

/* Queue the bytes of @sb (whole frames) on @c; takes ownership of sb->data. */
static void conn_send(struct api_conn *c, msgpack_sbuffer *sb)
{
    struct conn_write *w;
    uv_buf_t buf;
    size_t limit = c->server->config.max_output;
    size_t cost;

    if (c->state == CONN_CLOSED) {
        msgpack_sbuffer_destroy(sb);
        return;
    }
    if (c->ch.ready) {
        msgpack_sbuffer sealed;
        msgpack_sbuffer_init(&sealed);
        if (secure_seal(&c->ch, (const uint8_t *)sb->data, sb->size, &sealed) !=
            0) {
            msgpack_sbuffer_destroy(&sealed);
            msgpack_sbuffer_destroy(sb);
            conn_close(c);
            return;
        }
        msgpack_sbuffer_destroy(sb);
        *sb = sealed;
    }
    /* Counted as allocated: a small answer in a large buffer holds the
     * whole buffer until it is written. */
    if (c->pending + sizeof *w + sb->alloc > limit) {
        LOG(LOG_LEVEL_WARN,
            "client %s: more than %zu bytes of answers unread; "
            "closing the connection",
            c->peer, limit);
        msgpack_sbuffer_destroy(sb);
        conn_close(c);
        return;
    }
    w = c->out;
    if (w == NULL) {
        w = calloc(1, sizeof *w);
        if (w == NULL) {
            msgpack_sbuffer_destroy(sb);
            conn_close(c);
            return;
        }
        w->conn = c;
        c->out = w;
    }
    if (w->n == w->cap) {
        unsigned cap = w->cap > 0 ? w->cap * 2 : 4;
        uv_buf_t *bufs = realloc(w->bufs, cap * sizeof *bufs);
        if (bufs == NULL) {
            msgpack_sbuffer_destroy(sb);
            conn_close(c);
            return;
        }
        w->bufs = bufs;
        w->cap = cap;
    }
    cost = sizeof(uv_buf_t) + sb->alloc + (w->n == 0 ? sizeof *w : 0);
    w->len += sb->size;
    w->cost += cost;
    c->output += sb->size;
    c->pending += cost;
    buf = uv_buf_init(NULL, (unsigned)sb->size);
    buf.base = msgpack_sbuffer_release(sb);
    w->bufs[w->n++] = buf;
    if (!c->flush_listed) {
        struct api_server *s = c->server;
        c->flush_listed = true;
        c->flush_next = s->flush_list;
        s->flush_list = c;
        c->refs++;
        uv_prepare_start(&s->flush, server_flush);
    }
}

/* Refuse the connection: one CLOSE frame with the reason, then close. */
static void conn_refuse(struct api_conn *c, int status, const char *reason)
{
    msgpack_sbuffer sb;

    c->server->frames_refused++;
    LOG(LOG_LEVEL_INFO, "client %s: closing connection: %s: %s", c->peer,
        augur_errname(status), reason);
    msgpack_sbuffer_init(&sb);
    if (proto_close_append(&sb, status, reason) == 0) {
        conn_send(c, &sb);
    } else {
        msgpack_sbuffer_destroy(&sb);
    }
    conn_close(c);
}

static void conn_hello(struct api_conn *c, const struct proto_frame *f)
{
    struct api_server *s = c->server;
    struct proto_hello hello;
    msgpack_unpacked unpacked;
    msgpack_sbuffer sb;
    char errmsg[SECURE_ERRMSG_SIZE];
    int rv;

    if (f->type != PROTO_HELLO) {
        conn_refuse(c, AUGUR_EPROTO, "expected HELLO first");
        return;
    }
    msgpack_unpacked_init(&unpacked);
    rv = proto_payload_unpack(f->payload, f->len, &unpacked);
    if (rv == 0) {
        rv = proto_hello_decode(&unpacked.data, &hello, errmsg);
    } else {
        snprintf(errmsg, sizeof errmsg, "undecodable HELLO");
    }
    msgpack_unpacked_destroy(&unpacked);
    if (rv != 0) {
        conn_refuse(c, rv, errmsg);
        return;
    }
    if (hello.version != PROTO_VERSION) {
        snprintf(errmsg, sizeof errmsg,
                 "protocol version %" PRIu32 " not supported (this node: %d)",
                 hello.version, PROTO_VERSION);
        conn_refuse(c, AUGUR_EPROTO, errmsg);
        return;
    }
    if (strcmp(hello.auth, "none") == 0) {
        conn_refuse(c, AUGUR_EAUTH,
                    "this cluster requires authentication: give the client "
                    "a key (--key FILE or AUGUR_KEY) and the cluster's "
                    "public key (--cluster-key FILE or AUGUR_CLUSTER_KEY)");
        return;
    }
    if (strcmp(hello.auth, SECURE_SCHEME) != 0) {
        snprintf(errmsg, sizeof errmsg,
                 "authentication '%s' not supported (this node: %s)",
                 hello.auth, SECURE_SCHEME);
        conn_refuse(c, AUGUR_EPROTO, errmsg);
        return;
    }
    msgpack_sbuffer_init(&sb);
    rv = secure_server_hello(&c->hs, f->payload, f->len, s->config.identity,
                             s->config.cluster_pk, s->config.node_id, &sb,
                             errmsg);
    if (rv != 0) {
        msgpack_sbuffer_destroy(&sb);
        conn_refuse(c, rv, errmsg);
        return;
    }
    c->client = hello.client;
    conn_move(c, CONN_AUTH);
    conn_send(c, &sb);
}

static void conn_auth(struct api_conn *c, const struct proto_frame *f)
{
    struct api_server *s = c->server;
    struct secure_channel ch;
    msgpack_sbuffer sb;
    msgpack_sbuffer body;
    msgpack_packer pk;
    char errmsg[SECURE_ERRMSG_SIZE];
    char hex[SECURE_HEX_SIZE];
    int rv;

    if (f->type != PROTO_AUTH) {
        conn_refuse(c, AUGUR_EPROTO, "expected AUTH after CHALLENGE");
        return;
    }
    memset(&ch, 0, sizeof ch);
    rv =
        secure_server_auth_any(&c->hs, f->payload, f->len, s->config.cluster_pk,
                               c->key, &c->cert, &c->has_cert, &ch, errmsg);
    secure_handshake_wipe(&c->hs);
    if (rv != 0) {
        secure_channel_close(&ch);
        conn_refuse(c, rv, errmsg);
        return;
    }
    /* The signature verified, so the channel is up even for a key that is
     * not a principal: the refusal goes out sealed, and a client trusts
     * only a sealed one (a clear CLOSE could come from anyone). */
    c->ch = ch;
    rv = s->config.auth_cb(s, c->key, c->has_cert ? &c->cert : NULL,
                           c->principal, &c->role, errmsg);
    if (rv != 0) {
        conn_refuse(c, rv, errmsg);
        return;
    }
    conn_move(c, CONN_READY);
    secure_key_hex(c->key, hex);
    LOG(LOG_LEVEL_DEBUG, "client %s: authenticated as %s (key %.16s...)",
        c->peer, c->principal, hex);

    /* WELCOME, the first sealed frame: {"v": 1, "node": id, "principal",
     * "session_ttl_ms"} */
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, s->config.session_ttl_ms > 0 ? 4 : 3);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, PROTO_VERSION);
    msgpack_pack_str_with_body(&pk, "node", 4);
    msgpack_pack_uint64(&pk, s->config.node_id);
    msgpack_pack_str_with_body(&pk, "principal", 9);
    msgpack_pack_str_with_body(&pk, c->principal, strlen(c->principal));
    if (s->config.session_ttl_ms > 0) {
        msgpack_pack_str_with_body(&pk, "session_ttl_ms", 14);
        msgpack_pack_uint64(&pk, s->config.session_ttl_ms);
    }
    rv = proto_frame_append(&sb, PROTO_WELCOME, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    if (rv != 0) {
        msgpack_sbuffer_destroy(&sb);
        conn_close(c);
        return;
    }
    conn_send(c, &sb);
}

static void conn_request(struct api_conn *c, const struct proto_frame *f)
{
    struct api_server *s = c->server;
    struct api_call *call;
    char errmsg[256];
    size_t objects = 0;
    int rv;

    if (f->type != PROTO_REQUEST) {
        conn_refuse(c, AUGUR_EPROTO, "expected a REQUEST frame");
        return;
    }
    call = calloc(1, sizeof *call);
    if (call == NULL || (call->payload = malloc(f->len)) == NULL) {
        free(call);
        conn_refuse(c, AUGUR_ENOMEM, "out of memory");
        return;
    }
    memcpy(call->payload, f->payload, f->len);
    msgpack_unpacked_init(&call->unpacked);
    rv = proto_payload_unpack_max(call->payload, f->len, PROTO_OBJECTS_MAX,
                                  &call->unpacked, &objects);
    if (rv == 0) {
        rv = proto_request_decode(&call->unpacked.data, &call->req, errmsg);
    } else if (rv == AUGUR_ETOOBIG) {
        snprintf(errmsg, sizeof errmsg,
                 "REQUEST holds more than %u msgpack objects",
                 PROTO_OBJECTS_MAX);
    } else {
        snprintf(errmsg, sizeof errmsg, "undecodable REQUEST payload");
    }
    if (rv != 0) {
        msgpack_unpacked_destroy(&call->unpacked);
        free(call->payload);
        free(call);
        conn_refuse(c, rv, errmsg);
        return;
    }
    call->server = s;
    call->conn = c;
    api_call_op_capture(call);
    call->client = c->client;
    memcpy(call->key, c->key, sizeof call->key);
    call->role = c->role;
    memcpy(call->principal, c->principal, sizeof call->principal);
    /* What the call holds until it is answered: itself, the copy of the
     * frame, and msgpack-c's zone (a chunk at least). */
    call->cost = sizeof *call + f->len +
                 (objects * sizeof(msgpack_object) > ZONE_CHUNK_COST
                      ? objects * sizeof(msgpack_object)
                      : ZONE_CHUNK_COST);
    c->pending += call->cost;
    c->calls++;
    c->refs++;
    s->request_cb(s, call);
}

static void conn_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct api_conn *c = handle->data;
    size_t chunk = c->state == CONN_READY ? READ_CHUNK : PREAUTH_READ_CHUNK;
    (void)suggested;

    if (c->cap - c->len < chunk) {
        size_t cap = c->len + chunk;
        uint8_t *p = realloc(c->buf, cap);
        if (p == NULL) {
            *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
            return;
        }
        c->buf = p;
        c->cap = cap;
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

/* True when @c holds so much, or has so many calls in flight, that it must
 * not be read from until some of it drains. */
static bool conn_over(const struct api_conn *c)
{
    const struct api_server_config *cfg = &c->server->config;
    return c->pending > cfg->pending_high || c->calls >= cfg->max_calls;
}

/* Run the whole frames in c->buf until none is left, the connection
 * closes, or it holds too much: then stop reading it (conn_maybe_resume
 * reads again).  The frames not run stay in c->buf. */
static void conn_process(struct api_conn *c)
{
    size_t max = c->server->config.max_frame;
    size_t off = 0;

    while (c->state != CONN_CLOSED) {
        struct proto_frame f;
        size_t consumed = 0;
        /* Sealing adds its tag to the limit of the frame inside; before
         * authentication only a handshake message's size is allowed. */
        size_t limit = c->state == CONN_READY ? max + PROTO_SEAL_OVERHEAD
                                              : PROTO_PREAUTH_FRAME_MAX;
        int rv;

        if (c->state == CONN_READY && conn_over(c)) {
            if (!c->paused) {
                LOG(LOG_LEVEL_DEBUG,
                    "client %s: not reading (%zu bytes held, %u calls in "
                    "flight)",
                    c->peer, c->pending, c->calls);
                c->paused = true;
                uv_read_stop((uv_stream_t *)&c->tcp);
            }
            break;
        }
        rv =
            proto_frame_parse(c->buf + off, c->len - off, limit, &f, &consumed);
        if (rv != 0) {
            conn_refuse(c, rv,
                        rv != AUGUR_ETOOBIG ? "malformed frame header"
                        : c->state == CONN_READY
                            ? "frame larger than the limit"
                            : "frame before authentication larger than a "
                              "handshake message");
            return;
        }
        if (consumed == 0) {
            break;
        }
        if (c->state == CONN_HELLO) {
            conn_hello(c, &f);
        } else if (c->state == CONN_AUTH) {
            conn_auth(c, &f);
        } else {
            struct proto_frame inner;
            rv = secure_open(&c->ch, &f, &inner);
            if (rv != 0) {
                conn_refuse(c, rv,
                            rv == AUGUR_EAUTH
                                ? "a frame failed authentication (tampered, "
                                  "replayed, reordered or truncated)"
                            : rv == AUGUR_EPROTO ? "expected a sealed frame"
                                                 : "malformed sealed frame");
                return;
            }
            conn_request(c, &inner);
        }
        off += consumed;
    }
    if (c->state == CONN_CLOSED) {
        return;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    /* Give back memory after a large frame. */
    if (c->cap > 4 * READ_CHUNK && c->len < READ_CHUNK) {
        uint8_t *p = realloc(c->buf, 2 * READ_CHUNK);
        if (p != NULL) {
            c->buf = p;
            c->cap = 2 * READ_CHUNK;
        }
    }
}

static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct api_conn *c = stream->data;
    (void)buf;

    if (nread < 0) {
        if (nread != UV_EOF) {
            LOG(LOG_LEVEL_DEBUG, "client %s: read: %s", c->peer,
                uv_strerror((int)nread));
        }
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    conn_process(c);
}

/* Run the frames that resumed connections had buffered, then read them
 * again (unless they filled up again). */
static void server_resume(uv_idle_t *idle)
{
    struct api_server *s = idle->data;

    uv_idle_stop(idle);
    for (struct api_conn *c = s->conns; c != NULL; c = c->next) {
        if (!c->resume) {
            continue;
        }
        c->resume = false;
        if (c->state == CONN_CLOSED) {
            continue;
        }
        conn_process(c);
        if (c->state != CONN_CLOSED && !c->paused &&
            uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0) {
            conn_close(c);
        }
    }
}

/* Say that a connection limit was hit, at most once a second, counting the
 * hits in between. */
static void server_limit_hit(struct api_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void server_limit_hit(struct api_server *s, const char *fmt, ...)
{
    uint64_t now = uv_now(s->loop);
    char what[256];
    va_list ap;

    s->conns_refused++;
    s->limit_unlogged++;
    if (s->limit_log_ms != 0 && now - s->limit_log_ms < LIMIT_LOG_INTERVAL_MS) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    LOG(LOG_LEVEL_WARN,
        "client port: connection limit: %s (%" PRIu64
        " connections closed by limits since the last report, %" PRIu64
        " in all)",
        what, s->limit_unlogged, s->conns_refused);
    s->limit_log_ms = now;
    s->limit_unlogged = 0;
}

/* Unauthenticated connections from @c's source address, @c excluded. */
static unsigned server_unauth_from(const struct api_server *s,
                                   const struct api_conn *c)
{
    size_t len = c->family == AF_INET6 ? 16 : 4;
    unsigned n = 0;

    for (const struct api_conn *o = s->conns; o != NULL; o = o->next) {
        if (o != c && (o->state == CONN_HELLO || o->state == CONN_AUTH) &&
            o->family == c->family && memcmp(o->source, c->source, len) == 0) {
            n++;
        }
    }
    return n;
}

/* Apply the connection limits to @c, just accepted.  Returns false when
 * @c was closed.  Over the per-source cap or the descriptor budget, the
 * newcomer is closed at once (not left in the listen queue, where it would
 * hold a descriptor of the kernel's and stall honest connects behind it);
 * over the overall cap of unauthenticated connections, the oldest of them
 * goes: it has had the longest to prove itself. */
static bool server_admit(struct api_server *s, struct api_conn *c)
{
    const struct api_server_config *cfg = &s->config;

    if (cfg->max_conns != 0 && s->n_conns > cfg->max_conns) {
        server_limit_hit(s,
                         "%u connections open (the descriptor budget); "
                         "closed %s",
                         s->n_conns - 1, c->peer);
        conn_close(c);
        return false;
    }
    if (c->family != 0 &&
        server_unauth_from(s, c) >= cfg->max_unauth_per_source) {
        server_limit_hit(s,
                         "%u unauthenticated connections from the address "
                         "of %s, the per-source cap; closed it",
                         cfg->max_unauth_per_source, c->peer);
        conn_close(c);
        return false;
    }
    if (s->n_unauth > cfg->max_unauth) {
        struct api_conn *oldest = NULL;
        for (struct api_conn *o = s->conns; o != NULL; o = o->next) {
            if (o->state == CONN_HELLO || o->state == CONN_AUTH) {
                oldest = o;
            }
        }
        if (oldest != NULL) {
            server_limit_hit(s,
                             "%u unauthenticated connections, the cap; closed "
                             "the oldest (%s)",
                             cfg->max_unauth, oldest->peer);
            conn_close(oldest);
            if (oldest == c) {
                return false;
            }
        }
    }
    return true;
}

static void server_accept(uv_stream_t *listener, int status)
{
    struct api_server *s = listener->data;
    struct api_conn *c;
    struct sockaddr_storage addr;
    int len = sizeof addr;
    int rv;

    if (status != 0) {
        LOG(LOG_LEVEL_WARN, "accept: %s", uv_strerror(status));
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        LOG(LOG_LEVEL_ERROR, "accept: out of memory");
        return;
    }
    c->server = s;
    c->refs = 1;
    c->state = CONN_HELLO;
    s->n_unauth++;
    c->accepted_ms = uv_now(s->loop);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    rv = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rv != 0) {
        LOG(LOG_LEVEL_WARN, "accept: %s", uv_strerror(rv));
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &len) == 0) {
        char ip[INET6_ADDRSTRLEN];
        if (addr.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&addr;
            uv_ip4_name(in, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(in->sin_port));
            memcpy(c->source, &in->sin_addr, 4);
            c->family = AF_INET;
        } else if (addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;
            uv_ip6_name(in6, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip,
                     ntohs(in6->sin6_port));
            memcpy(c->source, &in6->sin6_addr, 16);
            c->family = AF_INET6;
        }
    }
    if (!server_admit(s, c)) {
        return;
    }
    rv = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
    if (rv != 0) {
        conn_close(c);
    }
}

int api_server_start(struct api_server *s,
                     uv_loop_t *loop,
                     const struct api_server_config *config,
                     api_request_cb request_cb)
{
    struct sockaddr_in addr;
    char host[64];
    const char *colon = strrchr(config->address, ':');
    char *end;
    long port;
    int rv;

    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->config = *config;
    s->request_cb = request_cb;
    if (config->identity == NULL || !config->identity->key.has_secret ||
        config->identity->cert.node != config->node_id ||
        config->auth_cb == NULL) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "no node key and certificate to prove this node's identity "
                 "with");
        return AUGUR_EINVAL;
    }
    if (s->config.max_frame == 0 || s->config.max_frame > PROTO_FRAME_MAX) {
        s->config.max_frame = PROTO_FRAME_MAX;
    }
    if (s->config.max_output == 0) {
        s->config.max_output = OUTPUT_MAX_DEFAULT;
    }
    if (s->config.max_unauth == 0) {
        s->config.max_unauth = UNAUTH_MAX_DEFAULT;
    }
    if (s->config.max_unauth_per_source == 0) {
        s->config.max_unauth_per_source = UNAUTH_PER_SOURCE_DEFAULT;
    }
    if (s->config.pending_high == 0) {
        s->config.pending_high = PENDING_HIGH_DEFAULT;
    }
    if (s->config.pending_low == 0 ||
        s->config.pending_low > s->config.pending_high) {
        s->config.pending_low = s->config.pending_high / 4;
    }
    if (s->config.max_calls == 0) {
        s->config.max_calls = CALLS_MAX_DEFAULT;
    }
    if (colon == NULL || (size_t)(colon - config->address) >= sizeof host) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "client address '%s': expected HOST:PORT", config->address);
        return AUGUR_EINVAL;
    }
    memcpy(host, config->address, (size_t)(colon - config->address));
    host[colon - config->address] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 ||
        uv_ip4_addr(host, (int)port, &addr) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "client address '%s': expected IPv4:PORT", config->address);
        return AUGUR_EINVAL;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    rv = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&s->listener, 128, server_accept);
    }
    if (rv != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "listen on %s: %s",
                 config->address, uv_strerror(rv));
        uv_close((uv_handle_t *)&s->listener, NULL);
        return AUGUR_EIO;
    }
    uv_idle_init(loop, &s->resume);
    s->resume.data = s;
    uv_prepare_init(loop, &s->flush);
    s->flush.data = s;
    return 0;
}

static void listener_closed(uv_handle_t *handle)
{
    struct api_server *s = handle->data;
    s->listener_closed = true;
    if (s->n_conns == 0 && s->close_cb != NULL) {
        s->close_cb(s);
    }
}

/* The resume handle first, then the flush handle, then the listener,
 * whose callback ends it. */
static void flush_closed(uv_handle_t *handle)
{
    struct api_server *s = handle->data;
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}

static void resume_closed(uv_handle_t *handle)
{
    struct api_server *s = handle->data;
    struct api_conn *c;

    /* Every connection flushed what it had when it closed: only the
     * references of the list are left. */
    while ((c = s->flush_list) != NULL) {
        s->flush_list = c->flush_next;
        c->flush_listed = false;
        conn_unref(c);
    }
    uv_close((uv_handle_t *)&s->flush, flush_closed);
}

void api_server_revalidate(struct api_server *s)
{
    for (struct api_conn *c = s->conns; c != NULL; c = c->next) {
        char errmsg[API_ERRMSG_SIZE];
        char name[API_NAME_SIZE];
        int role;

        if (c->state != CONN_READY) {
            continue;
        }
        if (s->config.auth_cb(s, c->key, c->has_cert ? &c->cert : NULL, name,
                              &role, errmsg) != 0) {
            char why[API_NAME_SIZE + API_ERRMSG_SIZE + 32];
            snprintf(why, sizeof why,
                     c->has_cert ? "%s may no longer connect: %s"
                                 : "principal %s was removed: %s",
                     c->principal, errmsg);
            conn_refuse(c, AUGUR_EAUTH, why);
            continue;
        }
        memcpy(c->principal, name, sizeof c->principal);
        c->role = role;
    }
}

void api_server_sweep(struct api_server *s)
{
    uint64_t now = uv_now(s->loop);

    for (struct api_conn *c = s->conns; c != NULL; c = c->next) {
        if ((c->state == CONN_HELLO || c->state == CONN_AUTH) &&
            now - c->accepted_ms > HANDSHAKE_TIMEOUT_MS) {
            conn_refuse(c, AUGUR_ETIMEOUT, "no complete handshake within 10 s");
        }
    }
}

void api_server_close(struct api_server *s, api_server_close_cb cb)
{
    s->closing = true;
    s->close_cb = cb;
    for (struct api_conn *c = s->conns; c != NULL; c = c->next) {
        conn_close(c);
    }
    uv_close((uv_handle_t *)&s->resume, resume_closed);
}

bool api_call_alive(const struct api_call *call)
{
    return call->conn == NULL || call->conn->state == CONN_READY;
}

static void call_free(struct api_call *call)
{
    struct api_conn *c = call->conn;

    if (c == NULL) {
        msgpack_unpacked_destroy(&call->unpacked);
        free(call->payload);
        free(call);
        return;
    }
    c->pending -= call->cost;
    c->calls--;
    msgpack_unpacked_destroy(&call->unpacked);
    free(call->payload);
    free(call);
    conn_maybe_resume(c);
    conn_unref(c);
}

void api_call_shed(struct api_call *call)
{
    struct api_conn *c = call->conn;

    /* What is freed here no longer counts against the connection: a
     * parked poll holds only the call itself. */
    if (c != NULL) {
        c->pending -= call->cost - sizeof *call;
    }
    call->cost = sizeof *call;
    msgpack_unpacked_destroy(&call->unpacked);
    msgpack_unpacked_init(&call->unpacked);
    free(call->payload);
    call->payload = NULL;
    call->req.op = NULL;
    call->req.op_len = 0;
    call->req.args = NULL;
    if (c != NULL) {
        conn_maybe_resume(c);
    }
}

void api_call_drop(struct api_call *call)
{
    call_free(call);
}

int api_call_local(struct api_server *s,
                   const void *request,
                   size_t len,
                   void (*cb)(void *data, const void *answer, size_t len),
                   void *data,
                   struct api_call **out,
                   char *errmsg)
{
    struct api_call *call;
    int rv;

    call = calloc(1, sizeof *call);
    if (call == NULL || (call->payload = malloc(len > 0 ? len : 1)) == NULL) {
        free(call);
        snprintf(errmsg, API_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    memcpy(call->payload, request, len);
    msgpack_unpacked_init(&call->unpacked);
    rv = proto_payload_unpack(call->payload, len, &call->unpacked);
    if (rv == 0) {
        rv = proto_request_decode(&call->unpacked.data, &call->req, errmsg);
    } else {
        snprintf(errmsg, API_ERRMSG_SIZE, "%s",
                 rv == AUGUR_ETOOBIG ? "the request holds too many objects"
                                     : "undecodable request");
    }
    if (rv != 0) {
        msgpack_unpacked_destroy(&call->unpacked);
        free(call->payload);
        free(call);
        return rv;
    }
    call->server = s;
    api_call_op_capture(call);
    call->local_cb = cb;
    call->local_data = data;
    call->cost = sizeof *call + len;
    *out = call;
    return 0;
}

/* Append the RESPONSE frame to @call, or, when it would pass the frame
 * limit, one that says so: a client that asked for too much hears why,
 * rather than losing its connection. */
static int response_append(struct api_call *call,
                           msgpack_sbuffer *sb,
                           const void *answer,
                           size_t len)
{
    size_t max = call->conn->server->config.max_frame;
    msgpack_sbuffer refusal;
    char msg[128];
    int rv;

    rv = proto_response_append(sb, call->req.id, answer, len);
    /* The limit counts the frame after its 4-byte length. */
    if (rv == 0 && sb->size - (PROTO_HEADER_SIZE - 1) <= max) {
        return 0;
    }
    if (rv != 0 && rv != AUGUR_ETOOBIG) {
        return rv;
    }
    LOG(LOG_LEVEL_WARN,
        "client %s: answer of %zu bytes over the frame limit of %zu; "
        "answered ETOOBIG",
        call->conn->peer, len, max);
    sb->size = 0;
    snprintf(msg, sizeof msg,
             "answer of %zu bytes over the frame limit of %zu; page with "
             "--limit/--after",
             len, max);
    msgpack_sbuffer_init(&refusal);
    rv = proto_answer_error(&refusal, AUGUR_ETOOBIG, msg, NULL);
    if (rv == 0) {
        rv =
            proto_response_append(sb, call->req.id, refusal.data, refusal.size);
    }
    msgpack_sbuffer_destroy(&refusal);
    return rv;
}

void api_call_op_capture(struct api_call *call)
{
    size_t n =
        call->req.op_len < PROTO_OP_MAX ? call->req.op_len : PROTO_OP_MAX;

    if (call->req.op != NULL) {
        memcpy(call->op, call->req.op, n);
    } else {
        n = 0;
    }
    call->op[n] = '\0';
}

/* Tell the server's answered callback, if any, that @call is answered with
 * @status.  Reads nothing of call->conn: a call may have none. */
static void call_answered(struct api_call *call, int status)
{
    struct api_server *s = call->server;

    if (s != NULL && s->config.answered_cb != NULL) {
        s->config.answered_cb(s, call, status);
    }
}

void api_call_reply(struct api_call *call, const void *answer, size_t len)
{
    struct api_conn *c;
    int status;

    if (proto_answer_status(answer, len, &status) != 0) {
        status = AUGUR_EMALFORMED;
    }
    call_answered(call, status);
    c = call->conn;

    if (c == NULL) {
        call->local_cb(call->local_data, answer, len);
        call_free(call);
        return;
    }
    if (c->state == CONN_READY) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        if (response_append(call, &sb, answer, len) == 0) {
            conn_send(c, &sb);
        } else {
            msgpack_sbuffer_destroy(&sb);
            conn_close(c);
        }
    }
    call_free(call);
}

void api_call_reply_error(struct api_call *call,
                          int status,
                          const char *leader_hint,
                          const char *fmt,
                          ...)
{
    msgpack_sbuffer answer;
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msgpack_sbuffer_init(&answer);
    if (proto_answer_error(&answer, status, msg, leader_hint) != 0) {
        msgpack_sbuffer_destroy(&answer);
        call_answered(call, status);
        call_free(call);
        return;
    }
    api_call_reply(call, answer.data, answer.size);
    msgpack_sbuffer_destroy(&answer);
}
