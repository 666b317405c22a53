/* The peer transport: a raft_uv_transport over TCP in which every
 * connection opens with the authenticated handshake of api/secure.h between
 * two nodes, each proving its own node key and showing the cluster key's
 * certificate for it, and then carries only sealed frames.
 *
 * libraft reads and writes plain bytes on the stream it is handed, so the
 * stream it gets is not a socket: it is a uv_pipe_t that is never opened (a
 * "vstream", allocated with raft_malloc, which libraft frees when it closes
 * it), and libraft's three calls on it (uv_write, uv_read_start, uv_close)
 * come here instead of to libuv: the build renames them in its copy of
 * libraft.a (raft/CMakeLists.txt).  A write is sealed straight from
 * libraft's buffers into one TCP write; a sealed frame from the peer is
 * opened and handed to libraft's read callback in the same loop turn.  So
 * a Raft message costs one system call each way and no extra turn of the
 * loop (the transport used to pump bytes through a socketpair: two more
 * system calls, a copy and a wake-up per message on each side).  A process
 * without
 * a node key certified by the cluster key fails the handshake: it can
 * neither join, nor inject a message, nor read one.  A node key certified
 * for one id does not pass for another, and a revoked one (node.revoke, in
 * the store) is refused at the handshake and its open links are cut as
 * soon as the revocation applies.
 *
 * On a connection: client HELLO (its node id as the client id), server
 * CHALLENGE (its certificate, signed with its node key), client AUTH
 * (signed with its node key, carrying its certificate), server sealed
 * WELCOME, client sealed PEER {"id", "address"} (what the stock transport's
 * preamble says), then sealed data frames (inner type REQUEST, raw bytes).
 * Each side checks that the other's certificate names the node id it
 * expects: the connector the id libraft asked for, the acceptor the id of
 * the HELLO and the PEER.
 *
 * Nothing is spent on a stranger: before the peer has authenticated a frame
 * may be at most PROTO_PREAUTH_FRAME_MAX bytes, a HELLO without the mac of
 * the cluster's public key gets no signature, a connection must finish its
 * handshake within HANDSHAKE_TIMEOUT_MS, and unauthenticated connections are
 * capped overall and per source address.
 *
 * And a slow peer pushes back.  While a link's TCP write queue is over the
 * buffer bound, libraft's writes wait unsealed on the vstream (libraft
 * holds references to the entries it sends, not copies) until the queue
 * drains.  libraft bounds nothing on a connected stream, though, so a link
 * on which the peer takes nothing for STALL_TIMEOUT_MS is closed: libraft
 * then fails what it queued, keeps at most a few messages between
 * connection attempts (which fail within CONNECT_TIMEOUT_MS against a peer
 * that does not answer) and resends from the peer's last known index, or a
 * snapshot once that is gone from the log.
 *
 * libuv never calls a stream's callbacks from inside the call that caused
 * them, and libraft relies on it (a write callback that ran inside
 * uv_write, or a close callback inside uv_close, would find libraft's
 * state half updated).  So a vstream's write completions, its end of
 * stream and its close are queued as events and run by an idle handle on
 * the next turn of the loop, in order. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "raft/transport.h"

#define PEER_READ_CHUNK 65536
/* The most plaintext one sealed frame carries: a larger libraft message
 * (a snapshot, a long AppendEntries) goes out as several frames, which the
 * peer joins back into one byte stream. */
#define PEER_FRAME_PLAIN_MAX (1u << 20)
#define PEER_ADDRESS_MAX 256
/* A connection that has not finished its handshake this long after it
 * started is closed (the client port's deadline too). */
#define HANDSHAKE_TIMEOUT_MS 10000
/* The same for a connection this node opened: a live peer answers in
 * milliseconds, and while libraft waits for a connection it queues every
 * message for that peer (and each one holds the entries it carries), only
 * trimming the queue when the attempt fails.  So an unresponsive peer
 * should fail the attempt soon. */
#define CONNECT_TIMEOUT_MS 2000
#define SWEEP_INTERVAL_MS 1000
/* A link that has stopped reading libraft's end because the peer took
 * nothing for this long is closed: libraft's queue on a connected stream
 * has no bound of its own (each message it writes keeps its entries
 * alive), while on a closed one it keeps at most a few messages and
 * reconnects.  Raft resends what was lost. */
#define STALL_TIMEOUT_MS 5000
#define UNAUTH_MAX_DEFAULT 64
#define UNAUTH_PER_SOURCE_DEFAULT 8
#define BUFFER_MAX_DEFAULT (4u << 20)
#define LIMIT_LOG_INTERVAL_MS 1000

enum link_state
{
    LINK_WAIT_HELLO,     /* server: HELLO next */
    LINK_WAIT_AUTH,      /* server: AUTH next */
    LINK_WAIT_PEER,      /* server: sealed PEER next */
    LINK_CONNECTING,     /* client: TCP connect in progress */
    LINK_WAIT_CHALLENGE, /* client: CHALLENGE next */
    LINK_WAIT_WELCOME,   /* client: sealed WELCOME next */
    LINK_ESTABLISHED,    /* pumping */
    LINK_CLOSING
};

struct peer_transport;
struct vstream;

struct link
{
    struct link *next, *prev;
    struct peer_transport *t;
    enum link_state state;
    bool server;
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct vstream *vs; /* the stream libraft holds; NULL before and after */
    unsigned handles;   /* open handles; freed at 0 */
    struct secure_handshake hs;
    struct secure_channel ch;
    uint8_t *in; /* TCP bytes not yet parsed */
    size_t in_len;
    size_t in_cap;
    struct raft_uv_connect *req; /* client: until its callback ran */
    raft_uv_connect_cb cb;
    raft_id id;
    char address[PEER_ADDRESS_MAX];
    uint8_t peer_pk[SECURE_PK_SIZE]; /* the peer's certified node key */
    bool peer_known;                 /* peer_pk is set */
    uint64_t started_ms;             /* uv_now when accepted or connecting */
    uint8_t source[16];  /* server: the peer's address (per-source cap) */
    int family;          /* AF_INET, AF_INET6, 0 when unknown */
    uint64_t drained_ms; /* when a write to the peer last completed */
};

/* The stream libraft holds for a link.  The pipe comes first: libraft
 * frees the handle it closed with raft_free, which frees the whole
 * vstream.  pipe.pipe_fname holds vstream_tag, which tells a vstream from
 * the other handles libraft closes (libuv reads that field only to unlink
 * a bound pipe's path at close, and the tag is cleared before that). */
struct vstream
{
    uv_pipe_t pipe;
    struct peer_transport *t;
    struct link *link; /* NULL once the link has closed */
    uv_alloc_cb alloc_cb;
    uv_read_cb read_cb; /* non-NULL while libraft reads */
    bool closing;       /* libraft closed it */
    uv_close_cb close_cb;
    /* libraft's writes waiting for room in the TCP queue, oldest first */
    struct vevent *held;
    struct vevent **held_tail;
};

/* What runs on the next loop turn (struct vstream's last comment). */
enum vevent_kind
{
    VEVENT_WRITTEN, /* call a write's callback with .status */
    VEVENT_EOF,     /* tell the reader the link has ended */
    VEVENT_CLOSE    /* close the pipe for real: libraft's close callback */
};

struct vevent
{
    struct vevent *next;
    enum vevent_kind kind;
    struct vstream *vs;
    uv_write_t *req; /* VEVENT_WRITTEN */
    uv_write_cb cb;
    int status;
    unsigned n_bufs; /* libraft's buffers, while the write is held */
    uv_buf_t bufs[];
};

/* A kind of event logged at most once per LIMIT_LOG_INTERVAL_MS, with the
 * count of those not logged since the last line. */
struct rate_log
{
    uint64_t last_ms;  /* when the last line was written, 0 for never */
    uint64_t unlogged; /* events since then */
};

/* Count one event at @now: true when it is time for a line, with the
 * events it covers in *@count (the counter then starts again). */
static bool rate_log_take(struct rate_log *r, uint64_t now, uint64_t *count)
{
    r->unlogged++;
    if (r->last_ms != 0 && now - r->last_ms < LIMIT_LOG_INTERVAL_MS) {
        return false;
    }
    *count = r->unlogged;
    r->last_ms = now;
    r->unlogged = 0;
    return true;
}

struct peer_transport
{
    uv_loop_t *loop;
    const struct secure_identity *me;
    uint8_t cluster_pk[SECURE_PK_SIZE];
    replica__key_revoked_fn revoked;
    void *revoked_data;
    raft_id id;
    char address[PEER_ADDRESS_MAX];
    uv_tcp_t listener;
    bool listening;
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    struct link *links;
    bool closing;
    bool listener_closed;
    uv_timer_t sweep; /* the handshake deadline */
    bool sweep_open;
    unsigned unauth_max;
    unsigned unauth_per_source;
    size_t buffer_max;
    struct rate_log limit_log;
    uint64_t limit_hits;
    /* Handshakes that failed, logged at most once a second each way:
     * [0] HELLOs this node refused, [1] peers that hung up on its own. */
    struct rate_log refuse_log[2];
    /* vstream events for the next loop turn, oldest first */
    struct vevent *events;
    struct vevent **events_tail;
    uv_idle_t idle; /* runs them; opened at the first event */
    bool idle_open;
};

struct link_write
{
    uv_write_t req;
    char *data;
};

static void transport_maybe_closed(struct peer_transport *pt,
                                   struct raft_uv_transport *t);

static struct raft_uv_transport *transport_of(struct peer_transport *pt)
{
    return (struct raft_uv_transport *)pt->listener.data;
}

static int address_parse(const char *address, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    char *end;
    long port;

    if (colon == NULL || (size_t)(colon - address) >= sizeof host) {
        return -1;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 ||
        uv_ip4_addr(host, (int)port, addr) != 0) {
        return -1;
    }
    return 0;
}

/* ---- vstream events ---------------------------------------------------- */

static const char vstream_tag[] = "augur raft peer stream";

static bool is_vstream(const uv_handle_t *h)
{
    return h->type == UV_NAMED_PIPE &&
           ((const uv_pipe_t *)h)->pipe_fname == vstream_tag;
}

static void events_run(uv_idle_t *idle);

static void idle_closed(uv_handle_t *h)
{
    struct peer_transport *pt = h->data;

    pt->idle_open = false;
    transport_maybe_closed(pt, transport_of(pt));
}

static void event_run(struct vevent *e)
{
    struct vstream *vs = e->vs;

    switch (e->kind) {
        case VEVENT_WRITTEN:
            e->cb(e->req, e->status);
            break;
        case VEVENT_EOF:
            if (vs->read_cb != NULL && !vs->closing) {
                uv_buf_t buf = uv_buf_init(NULL, 0);
                vs->alloc_cb((uv_handle_t *)&vs->pipe, PEER_READ_CHUNK, &buf);
                vs->read_cb((uv_stream_t *)&vs->pipe, UV_EOF, &buf);
            }
            break;
        case VEVENT_CLOSE:
            vs->pipe.pipe_fname = NULL;
            uv_close((uv_handle_t *)&vs->pipe, vs->close_cb);
            break;
    }
    free(e);
}

/* Queue @e for the next loop turn. */
static void event_push(struct peer_transport *pt, struct vevent *e)
{
    e->next = NULL;
    if (!pt->idle_open || uv_is_closing((uv_handle_t *)&pt->idle)) {
        if (pt->closing) {
            /* Nothing runs after the transport has closed: libraft closes
             * its streams before it closes the transport, so this is only
             * a late end of stream or write failure, which can run now. */
            event_run(e);
            return;
        }
        uv_idle_init(pt->loop, &pt->idle);
        pt->idle.data = pt;
        pt->idle_open = true;
        pt->events = NULL;
        pt->events_tail = &pt->events;
    }
    if (pt->events == NULL) {
        uv_idle_start(&pt->idle, events_run);
    }
    *pt->events_tail = e;
    pt->events_tail = &e->next;
}

static void events_run(uv_idle_t *idle)
{
    struct peer_transport *pt = idle->data;

    /* Events queued while these run (a read callback that closes its
     * stream) run in this turn too, after them. */
    while (pt->events != NULL) {
        struct vevent *e = pt->events;
        pt->events = e->next;
        if (pt->events == NULL) {
            pt->events_tail = &pt->events;
        }
        event_run(e);
    }
    uv_idle_stop(&pt->idle);
    if (pt->closing && pt->idle_open && !uv_is_closing((uv_handle_t *)idle)) {
        uv_close((uv_handle_t *)&pt->idle, idle_closed);
    }
}

static struct vevent *event_new(struct vstream *vs,
                                enum vevent_kind kind,
                                unsigned n_bufs)
{
    struct vevent *e = calloc(1, sizeof *e + n_bufs * sizeof(uv_buf_t));

    if (e != NULL) {
        e->vs = vs;
        e->kind = kind;
        e->n_bufs = n_bufs;
    }
    return e;
}

/* Complete libraft's write @e (a VEVENT_WRITTEN) with @status on the next
 * turn. */
static void write_complete(struct vevent *e, int status)
{
    e->status = status;
    e->n_bufs = 0;
    event_push(e->vs->t, e);
}

/* Fail every write held on @vs with @status. */
static void vstream_fail_held(struct vstream *vs, int status)
{
    while (vs->held != NULL) {
        struct vevent *e = vs->held;
        vs->held = e->next;
        write_complete(e, status);
    }
    vs->held_tail = &vs->held;
}

/* ---- closing ---------------------------------------------------------- */

static void link_handle_closed(uv_handle_t *h)
{
    struct link *l = h->data;
    struct peer_transport *pt = l->t;

    if (--l->handles > 0) {
        return;
    }
    if (l->prev != NULL) {
        l->prev->next = l->next;
    } else {
        pt->links = l->next;
    }
    if (l->next != NULL) {
        l->next->prev = l->prev;
    }
    secure_handshake_wipe(&l->hs);
    secure_channel_close(&l->ch);
    free(l->in);
    free(l);
    transport_maybe_closed(pt, transport_of(pt));
}

/* End the link: tell a client still waiting, close the socket.  libraft's
 * stream sees the end: its held writes fail, its reader gets UV_EOF. */
static void link_close(struct link *l, int raft_status)
{
    struct vstream *vs = l->vs;

    if (l->state == LINK_CLOSING) {
        return;
    }
    l->state = LINK_CLOSING;
    if (l->req != NULL) {
        struct raft_uv_connect *req = l->req;
        raft_uv_connect_cb cb = l->cb;
        l->req = NULL;
        cb(req, NULL, raft_status);
    }
    if (vs != NULL) {
        struct vevent *e;
        l->vs = NULL;
        vs->link = NULL;
        vstream_fail_held(vs, UV_EPIPE);
        if (vs->read_cb != NULL && !vs->closing &&
            (e = event_new(vs, VEVENT_EOF, 0)) != NULL) {
            event_push(l->t, e);
        }
    }
    uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void vstream_flush(struct vstream *vs);
static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static size_t queued(void *stream)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)stream);
}

static void write_done(uv_write_t *req, int status)
{
    struct link_write *w = req->data;
    struct link *l = w->req.handle->data;

    l->drained_ms = uv_now(l->t->loop);
    free(w->data);
    free(w);
    if (status != 0 && status != UV_ECANCELED) {
        link_close(l, RAFT_NOCONNECTION);
        return;
    }
    if (l->state == LINK_ESTABLISHED && l->vs != NULL && l->vs->held != NULL &&
        queued(&l->tcp) <= l->t->buffer_max / 4) {
        vstream_flush(l->vs);
    }
}

/* Write @len bytes of @data (taken over) to @stream.  With nothing queued
 * the socket takes them at once (uv_try_write): no request, and none of
 * the epoll_ctl that libuv 1.44 issues after every completed uv_write. */
static int stream_send(struct link *l,
                       uv_stream_t *stream,
                       char *data,
                       size_t len)
{
    struct link_write *w;
    uv_buf_t buf = uv_buf_init(data, (unsigned)len);

    if (queued(stream) == 0) {
        int n = uv_try_write(stream, &buf, 1);
        if (n >= 0 && (size_t)n == len) {
            free(data);
            l->drained_ms = uv_now(l->t->loop);
            return 0;
        }
        if (n < 0 && n != UV_EAGAIN) {
            free(data);
            return -1;
        }
        if (n > 0) {
            buf = uv_buf_init(data + n, (unsigned)(len - (size_t)n));
        }
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        free(data);
        return -1;
    }
    w->data = data;
    w->req.data = w;
    if (uv_write(&w->req, stream, &buf, 1, write_done) != 0) {
        free(data);
        free(w);
        return -1;
    }
    return 0;
}

/* Send the frames in @sb to the peer, sealed once the channel is up. */
static int link_send(struct link *l, msgpack_sbuffer *sb)
{
    msgpack_sbuffer sealed;

    if (l->ch.ready) {
        msgpack_sbuffer_init(&sealed);
        if (secure_seal(&l->ch, (const uint8_t *)sb->data, sb->size, &sealed) !=
            0) {
            msgpack_sbuffer_destroy(&sealed);
            msgpack_sbuffer_destroy(sb);
            return -1;
        }
        msgpack_sbuffer_destroy(sb);
        *sb = sealed;
    }
    if (sb->size == 0) {
        msgpack_sbuffer_destroy(sb);
        return 0;
    }
    return stream_send(l, (uv_stream_t *)&l->tcp, msgpack_sbuffer_release(sb),
                       sb->size);
}

/* ---- libraft's writes and reads ---------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(PEER_READ_CHUNK);
    buf->len = buf->base != NULL ? PEER_READ_CHUNK : 0;
}

/* Seal libraft's write @e (its bytes in e->bufs) into frames of at most
 * PEER_FRAME_PLAIN_MAX and queue them on the socket in one write. */
static int link_send_write(struct link *l, const struct vevent *e)
{
    struct iovec iov[16];
    struct iovec *v = iov;
    msgpack_sbuffer sb;
    size_t total = 0;
    int rv = 0;

    if (e->n_bufs > sizeof iov / sizeof iov[0]) {
        v = malloc(e->n_bufs * sizeof *v);
        if (v == NULL) {
            return -1;
        }
    }
    for (unsigned i = 0; i < e->n_bufs; i++) {
        v[i].iov_base = e->bufs[i].base;
        v[i].iov_len = e->bufs[i].len;
        total += e->bufs[i].len;
    }
    msgpack_sbuffer_init(&sb);
    for (size_t off = 0; off < total && rv == 0;) {
        size_t k = total - off;
        if (k > PEER_FRAME_PLAIN_MAX) {
            k = PEER_FRAME_PLAIN_MAX;
        }
        rv = secure_seal_gather(&l->ch, PROTO_REQUEST, v, e->n_bufs, off, k,
                                &sb);
        off += k;
    }
    if (v != iov) {
        free(v);
    }
    if (rv != 0) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    if (sb.size == 0) {
        msgpack_sbuffer_destroy(&sb);
        return 0;
    }
    return stream_send(l, (uv_stream_t *)&l->tcp, msgpack_sbuffer_release(&sb),
                       sb.size);
}

/* Send the writes held on @vs while the socket's queue has room. */
static void vstream_flush(struct vstream *vs)
{
    struct link *l = vs->link;

    while (vs->held != NULL && l != NULL && l->state == LINK_ESTABLISHED &&
           queued(&l->tcp) <= l->t->buffer_max) {
        struct vevent *e = vs->held;
        vs->held = e->next;
        if (vs->held == NULL) {
            vs->held_tail = &vs->held;
        }
        if (link_send_write(l, e) != 0) {
            write_complete(e, UV_EPIPE);
            link_close(l, RAFT_NOCONNECTION);
            return;
        }
        write_complete(e, 0);
    }
}

/* Hand @len opened bytes from the peer to libraft's reader on @vs, in the
 * buffers its alloc callback gives.  -1 when nobody reads them. */
static int vstream_deliver(struct vstream *vs, const uint8_t *data, size_t len)
{
    if (vs->closing) {
        return 0; /* libraft is done with the link; the socket closes */
    }
    if (vs->read_cb == NULL) {
        /* libraft reads the streams it accepted from the moment it takes
         * them and never reads the ones it connected: bytes here are the
         * peer's mistake. */
        return -1;
    }
    while (len > 0 && vs->read_cb != NULL && !vs->closing) {
        uv_buf_t buf = uv_buf_init(NULL, 0);
        size_t k;
        vs->alloc_cb((uv_handle_t *)&vs->pipe, len, &buf);
        if (buf.base == NULL || buf.len == 0) {
            vs->read_cb((uv_stream_t *)&vs->pipe, UV_ENOBUFS, &buf);
            return 0;
        }
        k = buf.len < len ? buf.len : len;
        memcpy(buf.base, data, k);
        data += k;
        len -= k;
        vs->read_cb((uv_stream_t *)&vs->pipe, (ssize_t)k, &buf);
    }
    return 0;
}

/* Make the stream libraft will hold for @l.  NULL without memory. */
static uv_stream_t *link_establish(struct link *l)
{
    struct vstream *vs = raft_malloc(sizeof *vs);

    if (vs == NULL) {
        return NULL;
    }
    memset(vs, 0, sizeof *vs);
    uv_pipe_init(l->t->loop, &vs->pipe, 0);
    vs->pipe.pipe_fname = vstream_tag;
    vs->t = l->t;
    vs->link = l;
    vs->held_tail = &vs->held;
    l->vs = vs;
    l->state = LINK_ESTABLISHED;
    return (uv_stream_t *)&vs->pipe;
}

/* ---- the three libuv calls libraft makes on its streams ---------------- */

/* libraft's uv_write (renamed in libraft-augur.a).  A write to a vstream is
 * sealed and queued on the socket now, or held while the socket's queue is
 * full; its callback runs on a later turn either way. */
int augur__raft_uv_write(uv_write_t *req,
                         uv_stream_t *handle,
                         const uv_buf_t bufs[],
                         unsigned int nbufs,
                         uv_write_cb cb)
{
    struct vstream *vs = (struct vstream *)handle;
    struct link *l;
    struct vevent *e;

    if (!is_vstream((uv_handle_t *)handle)) {
        return uv_write(req, handle, bufs, nbufs, cb);
    }
    if (vs->closing) {
        return UV_EBADF;
    }
    e = event_new(vs, VEVENT_WRITTEN, nbufs);
    if (e == NULL) {
        return UV_ENOMEM;
    }
    req->handle = handle;
    req->cb = cb;
    e->req = req;
    e->cb = cb;
    memcpy(e->bufs, bufs, nbufs * sizeof *bufs);
    l = vs->link;
    if (l == NULL) {
        /* The link has ended: libraft learns it from this write, as it
         * would from a socket's EPIPE, and reconnects. */
        write_complete(e, UV_EPIPE);
        return 0;
    }
    if (vs->held != NULL || queued(&l->tcp) > l->t->buffer_max) {
        /* The peer is slower than libraft: keep the write (references to
         * libraft's buffers, not copies) until the queue drains. */
        if (vs->held == NULL) {
            LOG(LOG_LEVEL_DEBUG,
                "peer %s: %zu bytes queued toward it; holding libraft's "
                "writes until they drain",
                l->address, queued(&l->tcp));
            l->drained_ms = uv_now(l->t->loop);
        }
        *vs->held_tail = e;
        vs->held_tail = &e->next;
        return 0;
    }
    if (link_send_write(l, e) != 0) {
        write_complete(e, UV_EPIPE);
        link_close(l, RAFT_NOCONNECTION);
        return 0;
    }
    write_complete(e, 0);
    return 0;
}

/* libraft's uv_read_start: from now on the peer's bytes go to @read_cb. */
int augur__raft_uv_read_start(uv_stream_t *stream,
                              uv_alloc_cb alloc,
                              uv_read_cb read_cb)
{
    struct vstream *vs = (struct vstream *)stream;
    struct vevent *e;

    if (!is_vstream((uv_handle_t *)stream)) {
        return uv_read_start(stream, alloc, read_cb);
    }
    if (vs->closing) {
        return UV_EINVAL;
    }
    vs->alloc_cb = alloc;
    vs->read_cb = read_cb;
    if (vs->link == NULL && (e = event_new(vs, VEVENT_EOF, 0)) != NULL) {
        event_push(vs->t, e);
    }
    return 0;
}

/* libraft's uv_close.  Closing a vstream ends its link; the writes still
 * held fail with UV_ECANCELED, then the pipe closes for real and libraft's
 * close callback frees it, as libuv would order them. */
void augur__raft_uv_close(uv_handle_t *handle, uv_close_cb close_cb)
{
    struct vstream *vs = (struct vstream *)handle;
    struct vevent *e;

    if (!is_vstream(handle)) {
        uv_close(handle, close_cb);
        return;
    }
    if (vs->closing) {
        return;
    }
    vs->closing = true;
    vs->read_cb = NULL;
    vs->close_cb = close_cb;
    vstream_fail_held(vs, UV_ECANCELED);
    if (vs->link != NULL) {
        struct link *l = vs->link;
        l->vs = NULL;
        vs->link = NULL;
        link_close(l, RAFT_NOCONNECTION);
    }
    e = event_new(vs, VEVENT_CLOSE, 0);
    if (e == NULL) {
        /* Out of memory: close now rather than never. */
        vs->pipe.pipe_fname = NULL;
        uv_close(handle, close_cb);
        return;
    }
    event_push(vs->t, e);
}

/* ---- the handshake, frame by frame ------------------------------------ */

/* Say why a handshake failed, at most once a second: a stranger's HELLO
 * (no mac of this cluster's key) and a peer that hangs up on ours are worth
 * an operator's attention, but not one line per attempt. */
static void transport_refused(struct peer_transport *pt,
                              bool outgoing,
                              const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

static void transport_refused(struct peer_transport *pt,
                              bool outgoing,
                              const char *fmt,
                              ...)
{
    uint64_t count;
    char what[256];
    va_list ap;

    if (!rate_log_take(&pt->refuse_log[outgoing ? 1 : 0], uv_now(pt->loop),
                       &count)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    LOG(LOG_LEVEL_WARN,
        "raft port: handshake failed: %s (%" PRIu64 " since the last report)",
        what, count);
}

static int on_hello(struct link *l, const struct proto_frame *f)
{
    struct peer_transport *pt = l->t;
    msgpack_sbuffer sb;
    char errmsg[SECURE_ERRMSG_SIZE];

    msgpack_sbuffer_init(&sb);
    if (f->type != PROTO_HELLO ||
        secure_server_hello(&l->hs, f->payload, f->len, pt->me, pt->cluster_pk,
                            pt->id, &sb, errmsg) != 0) {
        transport_refused(pt, false, "a connection's HELLO was refused: %s",
                          f->type != PROTO_HELLO ? "not a HELLO" : errmsg);
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    l->state = LINK_WAIT_AUTH;
    return link_send(l, &sb);
}

/* Whether the peer's certified key was revoked (node.revoke). */
static bool peer_revoked(struct peer_transport *pt, const uint8_t *pk)
{
    return pt->revoked != NULL && pt->revoked(pt->revoked_data, pk);
}

static int on_auth(struct link *l, const struct proto_frame *f)
{
    struct peer_transport *pt = l->t;
    struct secure_cert cert;
    uint64_t claimed = l->hs.client;
    msgpack_sbuffer sb;
    char errmsg[SECURE_ERRMSG_SIZE];

    if (f->type != PROTO_AUTH ||
        secure_node_auth(&l->hs, f->payload, f->len, pt->cluster_pk, &cert,
                         &l->ch, errmsg) != 0) {
        LOG(LOG_LEVEL_WARN, "peer connection refused: %s",
            f->type != PROTO_AUTH ? "no AUTH" : errmsg);
        return -1;
    }
    secure_handshake_wipe(&l->hs);
    /* A key certified for one node must not pass for another: a thief of
     * node 2's key file cannot speak as node 1. */
    if (cert.node != claimed) {
        LOG(LOG_LEVEL_WARN,
            "peer connection refused: it claims node %llu but its "
            "certificate is for node %llu",
            (unsigned long long)claimed, (unsigned long long)cert.node);
        return -1;
    }
    if (peer_revoked(pt, cert.pk)) {
        LOG(LOG_LEVEL_WARN,
            "peer connection refused: the key of node %llu was revoked",
            (unsigned long long)cert.node);
        return -1;
    }
    memcpy(l->peer_pk, cert.pk, SECURE_PK_SIZE);
    l->peer_known = true;
    l->id = cert.node;
    l->state = LINK_WAIT_PEER;
    msgpack_sbuffer_init(&sb);
    if (proto_frame_append(&sb, PROTO_WELCOME, "\x80", 1) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    return link_send(l, &sb);
}

static int on_peer(struct link *l, const struct proto_frame *f)
{
    struct peer_transport *pt = l->t;
    msgpack_unpacked u;
    const msgpack_object *id = NULL;
    const msgpack_object *addr = NULL;
    uint64_t said = 0;
    uv_stream_t *stream;
    int rv = -1;

    if (f->type != PROTO_HELLO) {
        return -1;
    }
    msgpack_unpacked_init(&u);
    if (proto_payload_unpack(f->payload, f->len, &u) == 0) {
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                continue;
            }
            if (kv->key.via.str.size == 2 &&
                memcmp(kv->key.via.str.ptr, "id", 2) == 0) {
                id = &kv->val;
            } else if (kv->key.via.str.size == 7 &&
                       memcmp(kv->key.via.str.ptr, "address", 7) == 0) {
                addr = &kv->val;
            }
        }
        if (id != NULL && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            id->via.u64 != 0 && addr != NULL &&
            addr->type == MSGPACK_OBJECT_STR &&
            addr->via.str.size < sizeof l->address) {
            said = id->via.u64;
            memcpy(l->address, addr->via.str.ptr, addr->via.str.size);
            l->address[addr->via.str.size] = '\0';
            rv = 0;
        }
    }
    msgpack_unpacked_destroy(&u);
    if (rv == 0 && said != l->id) {
        LOG(LOG_LEVEL_WARN,
            "peer connection refused: it says node %llu but proved node %llu",
            (unsigned long long)said, (unsigned long long)l->id);
        return -1;
    }
    if (rv != 0 || pt->closing) {
        return -1;
    }
    stream = link_establish(l);
    if (stream == NULL) {
        return -1;
    }
    pt->accept_cb(transport_of(pt), l->id, l->address, stream);
    return 0;
}

static int on_challenge(struct link *l, const struct proto_frame *f)
{
    struct peer_transport *pt = l->t;
    msgpack_sbuffer sb, body;
    msgpack_packer pk;
    char errmsg[SECURE_ERRMSG_SIZE];

    msgpack_sbuffer_init(&sb);
    if (f->type != PROTO_CHALLENGE ||
        secure_node_challenge(&l->hs, f->payload, f->len, pt->cluster_pk,
                              pt->me, &sb, &l->ch, errmsg) != 0) {
        LOG(LOG_LEVEL_WARN, "peer %s: %s", l->address,
            f->type != PROTO_CHALLENGE ? "no CHALLENGE" : errmsg);
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    /* libraft asked for node l->id at this address: whoever answers must
     * hold that node's certificate, and one that was not revoked. */
    if (l->hs.peer_cert.node != l->id) {
        LOG(LOG_LEVEL_WARN,
            "peer %s: refused: expected node %llu, its certificate is for "
            "node %llu",
            l->address, (unsigned long long)l->id,
            (unsigned long long)l->hs.peer_cert.node);
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    if (peer_revoked(pt, l->hs.peer_cert.pk)) {
        LOG(LOG_LEVEL_WARN,
            "peer %s: refused: the key of node %llu was revoked", l->address,
            (unsigned long long)l->id);
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    memcpy(l->peer_pk, l->hs.peer_cert.pk, SECURE_PK_SIZE);
    l->peer_known = true;
    secure_handshake_wipe(&l->hs);
    /* AUTH goes in clear: send it before the channel seals anything. */
    l->ch.ready = false;
    if (link_send(l, &sb) != 0) {
        l->ch.ready = true;
        return -1;
    }
    l->ch.ready = true;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint64(&pk, pt->id);
    msgpack_pack_str_with_body(&pk, "address", 7);
    msgpack_pack_str_with_body(&pk, pt->address, strlen(pt->address));
    if (proto_frame_append(&sb, PROTO_HELLO, body.data, body.size) != 0) {
        msgpack_sbuffer_destroy(&body);
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    msgpack_sbuffer_destroy(&body);
    l->state = LINK_WAIT_WELCOME;
    return link_send(l, &sb);
}

static int on_welcome(struct link *l, const struct proto_frame *f)
{
    struct raft_uv_connect *req = l->req;
    raft_uv_connect_cb cb = l->cb;
    uv_stream_t *stream;

    if (f->type != PROTO_WELCOME) {
        return -1;
    }
    stream = link_establish(l);
    if (stream == NULL) {
        return -1;
    }
    l->req = NULL;
    cb(req, stream, 0);
    return 0;
}

/* One frame from the peer. */
static int link_frame(struct link *l, const struct proto_frame *outer)
{
    struct proto_frame f = *outer;

    if (l->ch.ready) {
        if (secure_open(&l->ch, outer, &f) != 0) {
            LOG(LOG_LEVEL_WARN, "peer %s: a frame failed authentication",
                l->address[0] != '\0' ? l->address : "?");
            return -1;
        }
    }
    switch (l->state) {
        case LINK_WAIT_HELLO:
            return on_hello(l, &f);
        case LINK_WAIT_AUTH:
            return on_auth(l, &f);
        case LINK_WAIT_PEER:
            return on_peer(l, &f);
        case LINK_WAIT_CHALLENGE:
            return on_challenge(l, &f);
        case LINK_WAIT_WELCOME:
            return on_welcome(l, &f);
        case LINK_ESTABLISHED:
            if (f.type != PROTO_REQUEST) {
                return -1;
            }
            if (l->vs == NULL || f.len == 0) {
                return 0;
            }
            if (vstream_deliver(l->vs, f.payload, f.len) != 0) {
                LOG(LOG_LEVEL_WARN,
                    "peer %s: sent data on a link that only carries "
                    "this node's messages; closing it",
                    l->address);
                return -1;
            }
            return 0;
        default:
            return -1;
    }
}

static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct link *l = s->data;
    size_t off = 0;

    if (n < 0) {
        free(buf->base);
        if (l->state == LINK_WAIT_CHALLENGE || l->state == LINK_WAIT_WELCOME) {
            transport_refused(l->t, true,
                              "peer %s hung up during the handshake (a node "
                              "that does not pin this cluster's key, or that "
                              "refuses this node's)",
                              l->address);
        }
        link_close(l, RAFT_NOCONNECTION);
        return;
    }
    if (l->in_cap - l->in_len < (size_t)n) {
        size_t cap = l->in_len + (size_t)n;
        uint8_t *p = realloc(l->in, cap);
        if (p == NULL) {
            free(buf->base);
            link_close(l, RAFT_NOCONNECTION);
            return;
        }
        l->in = p;
        l->in_cap = cap;
    }
    memcpy(l->in + l->in_len, buf->base, (size_t)n);
    l->in_len += (size_t)n;
    free(buf->base);
    while (l->state != LINK_CLOSING) {
        struct proto_frame f;
        size_t used = 0;
        /* Before the channel is up only handshake messages may come: a
         * larger length is refused from its 4 bytes. */
        size_t limit = l->ch.ready ? PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD
                                   : PROTO_PREAUTH_FRAME_MAX;
        if (proto_frame_parse(l->in + off, l->in_len - off, limit, &f, &used) !=
            0) {
            LOG(LOG_LEVEL_INFO, "peer %s: %s; closing",
                l->address[0] != '\0' ? l->address : "?",
                l->ch.ready ? "invalid frame header"
                            : "invalid or oversized frame before "
                              "authentication");
            link_close(l, RAFT_NOCONNECTION);
            return;
        }
        if (used == 0) {
            break;
        }
        if (link_frame(l, &f) != 0) {
            link_close(l, RAFT_NOCONNECTION);
            return;
        }
        off += used;
    }
    if (l->state == LINK_CLOSING) {
        return;
    }
    memmove(l->in, l->in + off, l->in_len - off);
    l->in_len -= off;
}

static struct link *link_new(struct peer_transport *pt, bool server)
{
    struct link *l = calloc(1, sizeof *l);

    if (l == NULL) {
        return NULL;
    }
    l->t = pt;
    l->server = server;
    l->started_ms = uv_now(pt->loop);
    uv_tcp_init(pt->loop, &l->tcp);
    l->tcp.data = l;
    l->handles = 1;
    l->next = pt->links;
    if (pt->links != NULL) {
        pt->links->prev = l;
    }
    pt->links = l;
    return l;
}

/* ---- the raft_uv_transport interface ---------------------------------- */

static int transport_init(struct raft_uv_transport *t,
                          raft_id id,
                          const char *address)
{
    struct peer_transport *pt = t->impl;

    pt->id = id;
    snprintf(pt->address, sizeof pt->address, "%s", address);
    return 0;
}

/* Say that a connection limit was hit, at most once a second. */
static void transport_limit_hit(struct peer_transport *pt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void transport_limit_hit(struct peer_transport *pt, const char *fmt, ...)
{
    uint64_t count;
    char what[256];
    va_list ap;

    pt->limit_hits++;
    if (!rate_log_take(&pt->limit_log, uv_now(pt->loop), &count)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    LOG(LOG_LEVEL_WARN,
        "raft port: connection limit: %s (%" PRIu64
        " connections closed by limits since the last report, %" PRIu64
        " in all)",
        what, count, pt->limit_hits);
}

static bool link_unauth(const struct link *l)
{
    return l->server &&
           (l->state == LINK_WAIT_HELLO || l->state == LINK_WAIT_AUTH);
}

/* Apply the caps on unauthenticated connections to @l, just accepted:
 * over the per-source cap it is closed at once; over the overall cap the
 * oldest unauthenticated connection is.  False when @l was closed. */
static bool transport_admit(struct peer_transport *pt, struct link *l)
{
    size_t len = l->family == AF_INET6 ? 16 : 4;
    struct link *oldest = NULL;
    unsigned all = 0;
    unsigned from = 0;

    for (struct link *o = pt->links; o != NULL; o = o->next) {
        if (o == l || !link_unauth(o)) {
            continue;
        }
        all++;
        oldest = o; /* the list is newest first */
        if (o->family == l->family && memcmp(o->source, l->source, len) == 0) {
            from++;
        }
    }
    if (l->family != 0 && from >= pt->unauth_per_source) {
        transport_limit_hit(pt,
                            "%u unauthenticated connections from the address "
                            "of %s, the per-source cap; closed it",
                            pt->unauth_per_source, l->address);
        link_close(l, RAFT_NOCONNECTION);
        return false;
    }
    if (all >= pt->unauth_max && oldest != NULL) {
        transport_limit_hit(pt,
                            "%u unauthenticated connections, the cap; closed "
                            "the oldest (%s)",
                            pt->unauth_max, oldest->address);
        link_close(oldest, RAFT_NOCONNECTION);
    }
    return true;
}

/* Close every link that has not finished its handshake in time: a peer
 * that connects and stalls holds a descriptor for 10 s at most. */
static void sweep_cb(uv_timer_t *timer)
{
    struct peer_transport *pt = timer->data;
    uint64_t now = uv_now(pt->loop);
    unsigned closed = 0;

    for (struct link *l = pt->links; l != NULL; l = l->next) {
        if (l->state != LINK_ESTABLISHED && l->state != LINK_CLOSING &&
            l->server && now - l->started_ms > HANDSHAKE_TIMEOUT_MS) {
            closed++;
            link_close(l, RAFT_NOCONNECTION);
        } else if (l->state != LINK_ESTABLISHED && l->state != LINK_CLOSING &&
                   !l->server && now - l->started_ms > CONNECT_TIMEOUT_MS) {
            /* libraft retries, and says so when it keeps failing. */
            LOG(LOG_LEVEL_DEBUG,
                "peer %s: no complete handshake within %d s; giving up this "
                "attempt",
                l->address, CONNECT_TIMEOUT_MS / 1000);
            link_close(l, RAFT_NOCONNECTION);
        } else if (l->state == LINK_ESTABLISHED && l->vs != NULL &&
                   l->vs->held != NULL &&
                   now - l->drained_ms > STALL_TIMEOUT_MS) {
            LOG(LOG_LEVEL_WARN,
                "peer %s: took none of the %zu bytes queued toward it for "
                "%d s; closing the link (Raft resends what it needs)",
                l->address, queued(&l->tcp), STALL_TIMEOUT_MS / 1000);
            link_close(l, RAFT_NOCONNECTION);
        }
    }
    if (closed > 0) {
        LOG(LOG_LEVEL_INFO,
            "raft port: closed %u connections that had not finished the "
            "handshake within %d s",
            closed, HANDSHAKE_TIMEOUT_MS / 1000);
    }
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct peer_transport *pt =
        listener->data == NULL
            ? NULL
            : ((struct raft_uv_transport *)listener->data)->impl;
    struct link *l;

    if (status != 0 || pt == NULL || pt->closing) {
        return;
    }
    l = link_new(pt, true);
    if (l == NULL) {
        return;
    }
    l->state = LINK_WAIT_HELLO;
    if (uv_accept(listener, (uv_stream_t *)&l->tcp) != 0) {
        link_close(l, RAFT_NOCONNECTION);
        return;
    }
    {
        struct sockaddr_storage addr;
        int len = sizeof addr;
        char ip[INET6_ADDRSTRLEN];

        if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&addr, &len) == 0) {
            /* Named after where it comes from until PEER says more. */
            if (addr.ss_family == AF_INET) {
                const struct sockaddr_in *in = (struct sockaddr_in *)&addr;
                uv_ip4_name(in, ip, sizeof ip);
                snprintf(l->address, sizeof l->address, "%s:%d", ip,
                         ntohs(in->sin_port));
                memcpy(l->source, &in->sin_addr, 4);
                l->family = AF_INET;
            } else if (addr.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
                uv_ip6_name(in6, ip, sizeof ip);
                snprintf(l->address, sizeof l->address, "[%s]:%d", ip,
                         ntohs(in6->sin6_port));
                memcpy(l->source, &in6->sin6_addr, 16);
                l->family = AF_INET6;
            }
        }
    }
    if (!transport_admit(pt, l)) {
        return;
    }
    if (uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, tcp_read) != 0) {
        link_close(l, RAFT_NOCONNECTION);
        return;
    }
    uv_tcp_nodelay(&l->tcp, 1);
}

static int transport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct peer_transport *pt = t->impl;
    struct sockaddr_in addr;
    int rv;

    if (address_parse(pt->address, &addr) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "bad address %.100s",
                 pt->address);
        return RAFT_INVALID;
    }
    pt->accept_cb = cb;
    rv = uv_tcp_bind(&pt->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&pt->listener, 128, on_accept);
    }
    if (rv != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen on %.100s: %s",
                 pt->address, uv_strerror(rv));
        return RAFT_IOERR;
    }
    pt->listening = true;
    uv_timer_init(pt->loop, &pt->sweep);
    pt->sweep.data = pt;
    pt->sweep_open = true;
    uv_timer_start(&pt->sweep, sweep_cb, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct link *l = req->data;
    msgpack_sbuffer sb;

    if (l->state == LINK_CLOSING) {
        return;
    }
    if (status != 0) {
        link_close(l, RAFT_NOCONNECTION);
        return;
    }
    uv_tcp_nodelay(&l->tcp, 1);
    msgpack_sbuffer_init(&sb);
    l->state = LINK_WAIT_CHALLENGE;
    if (secure_client_hello(&l->hs, l->t->id, l->t->cluster_pk, &sb) != 0 ||
        link_send(l, &sb) != 0 ||
        uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, tcp_read) != 0) {
        link_close(l, RAFT_NOCONNECTION);
    }
}

static int transport_connect(struct raft_uv_transport *t,
                             struct raft_uv_connect *req,
                             raft_id id,
                             const char *address,
                             raft_uv_connect_cb cb)
{
    struct peer_transport *pt = t->impl;
    struct sockaddr_in addr;
    struct link *l;

    if (pt->closing || address_parse(address, &addr) != 0) {
        return RAFT_NOCONNECTION;
    }
    l = link_new(pt, false);
    if (l == NULL) {
        return RAFT_NOMEM;
    }
    l->state = LINK_CONNECTING;
    l->id = id;
    snprintf(l->address, sizeof l->address, "%s", address);
    l->connect.data = l;
    if (uv_tcp_connect(&l->connect, &l->tcp, (const struct sockaddr *)&addr,
                       on_connect) != 0) {
        /* No callback for a failure reported here: close quietly. */
        l->state = LINK_CLOSING;
        uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
        return RAFT_NOCONNECTION;
    }
    l->req = req;
    l->cb = cb;
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    struct raft_uv_transport *t = h->data;
    struct peer_transport *pt = t->impl;

    pt->listener_closed = true;
    transport_maybe_closed(pt, t);
}

static void sweep_closed(uv_handle_t *h)
{
    struct peer_transport *pt = h->data;

    pt->sweep_open = false;
    transport_maybe_closed(pt, transport_of(pt));
}

static void transport_maybe_closed(struct peer_transport *pt,
                                   struct raft_uv_transport *t)
{
    if (pt->closing && pt->listener_closed && pt->links == NULL &&
        !pt->sweep_open && !pt->idle_open && pt->close_cb != NULL) {
        raft_uv_transport_close_cb cb = pt->close_cb;
        pt->close_cb = NULL;
        cb(t);
    }
}

static void transport_close(struct raft_uv_transport *t,
                            raft_uv_transport_close_cb cb)
{
    struct peer_transport *pt = t->impl;

    pt->closing = true;
    pt->close_cb = cb;
    for (struct link *l = pt->links; l != NULL; l = l->next) {
        link_close(l, RAFT_CANCELED);
    }
    if (pt->sweep_open) {
        uv_close((uv_handle_t *)&pt->sweep, sweep_closed);
    }
    /* The events still queued (libraft closed its streams just before)
     * run first; the idle handle closes after them. */
    if (pt->idle_open && pt->events == NULL) {
        uv_close((uv_handle_t *)&pt->idle, idle_closed);
    }
    uv_close((uv_handle_t *)&pt->listener, listener_closed);
}

int replica__transport_init(struct raft_uv_transport *t,
                            uv_loop_t *loop,
                            const struct secure_identity *me,
                            const uint8_t cluster_pk[SECURE_PK_SIZE],
                            replica__key_revoked_fn revoked,
                            void *revoked_data,
                            unsigned unauth_max,
                            unsigned unauth_per_source,
                            size_t buffer_max)
{
    struct peer_transport *pt;

    if (me == NULL || !me->key.has_secret) {
        return RAFT_INVALID; /* no node key to prove */
    }
    pt = calloc(1, sizeof *pt);
    if (pt == NULL) {
        return RAFT_NOMEM;
    }
    memset(t, 0, sizeof *t);
    pt->loop = loop;
    pt->me = me;
    memcpy(pt->cluster_pk, cluster_pk, SECURE_PK_SIZE);
    pt->revoked = revoked;
    pt->revoked_data = revoked_data;
    pt->unauth_max = unauth_max != 0 ? unauth_max : UNAUTH_MAX_DEFAULT;
    pt->unauth_per_source =
        unauth_per_source != 0 ? unauth_per_source : UNAUTH_PER_SOURCE_DEFAULT;
    pt->buffer_max = buffer_max != 0 ? buffer_max : BUFFER_MAX_DEFAULT;
    uv_tcp_init(loop, &pt->listener);
    pt->listener.data = t;
    t->impl = pt;
    t->init = transport_init;
    t->listen = transport_listen;
    t->connect = transport_connect;
    t->close = transport_close;
    return 0;
}

unsigned replica__transport_drop_revoked(struct raft_uv_transport *t)
{
    struct peer_transport *pt = t->impl;
    unsigned n = 0;

    if (pt == NULL) {
        return 0;
    }
    for (struct link *l = pt->links; l != NULL; l = l->next) {
        if (l->state != LINK_CLOSING && l->peer_known &&
            peer_revoked(pt, l->peer_pk)) {
            LOG(LOG_LEVEL_WARN,
                "peer %s: closing the link to node %llu: its key was revoked",
                l->address[0] != '\0' ? l->address : "?",
                (unsigned long long)l->id);
            link_close(l, RAFT_NOCONNECTION);
            n++;
        }
    }
    return n;
}

void replica__transport_free(struct raft_uv_transport *t)
{
    free(t->impl);
    t->impl = NULL;
}
