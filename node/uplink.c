/* A follower's uplink to the leader (node/uplink.h): a small uv client of
 * the leader's client port that authenticates with this node's key and
 * certificate (the AUTH carries "cert", as between peers: docs/PROTOCOL.md,
 * "Uplinks") and writes telemetry.forward requests without waiting for
 * their answers.  libaugur's client runs its own blocking loop, so it
 * cannot serve here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "node/uplink.h"
#include "wire/proto.h"

/* Frames the leader sends an uplink: answers to forwarded reports (a few
 * fields), a CLOSE with its reason, and answers to forwarded API calls
 * (node_uplink_call), which may be pages of a list: any frame a client
 * could get. */
#define UPLINK_FRAME_MAX ((size_t)PROTO_FRAME_MAX)
#define UPLINK_BACKOFF_MIN_MS 50
#define UPLINK_BACKOFF_MAX_MS 1000

enum uplink_state
{
    UPLINK_CONNECTING,
    UPLINK_HELLO, /* HELLO sent, waiting for the CHALLENGE */
    UPLINK_AUTH,  /* AUTH sent, waiting for the sealed WELCOME */
    UPLINK_READY,
};

struct node_uplink__conn
{
    struct node_uplink *u; /* NULL once detached (closing) */
    uv_tcp_t tcp;
    uv_connect_t connect;
    enum uplink_state state;
    bool closing;
    struct secure_handshake hs;
    struct secure_channel ch;
    uint8_t in[UPLINK_FRAME_MAX + PROTO_HEADER_SIZE + PROTO_SEAL_OVERHEAD];
    size_t in_len;
    size_t output;     /* bytes handed to uv_write, not yet written */
    uint64_t inflight; /* requests written, not yet answered */
};

struct uplink_write
{
    uv_write_t req;
    struct node_uplink__conn *c;
    size_t len;
    char data[];
};

static bool log_ok(struct node_uplink *u)
{
    uint64_t now = uv_now(u->loop);

    if (u->log_ms != 0 && now - u->log_ms < 1000) {
        return false;
    }
    u->log_ms = now;
    return true;
}

/* Take every call that matches (@written ones, or all) out of the list
 * and answer it @status. */
static void calls_fail(struct node_uplink *u, bool written_only, int status)
{
    struct node_uplink__call *failed = NULL;
    struct node_uplink__call **pp = &u->calls;

    while (*pp != NULL) {
        struct node_uplink__call *c = *pp;
        if (!written_only || c->written) {
            *pp = c->next;
            c->next = failed;
            failed = c;
        } else {
            pp = &c->next;
        }
    }
    while (failed != NULL) {
        struct node_uplink__call *c = failed;
        failed = c->next;
        c->cb(c->data, status, NULL, 0);
        free(c);
    }
}

static void conn_closed(uv_handle_t *h)
{
    struct node_uplink__conn *c = h->data;

    secure_handshake_wipe(&c->hs);
    secure_channel_close(&c->ch);
    free(c);
}

/* Detach @c from its uplink and close it: the requests it had written and
 * not seen answered are counted as dropped (the leader may or may not have
 * taken them). */
static void conn_close(struct node_uplink__conn *c)
{
    struct node_uplink *u = c->u;

    if (c->closing) {
        return;
    }
    c->closing = true;
    if (u != NULL) {
        u->dropped += c->inflight;
        u->conn = NULL;
        c->u = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    if (u != NULL) {
        calls_fail(u, true, AUGUR_EINDETERMINATE);
    }
}

/* Close @c after a failure, and wait before the next attempt. */
static void conn_fail(struct node_uplink__conn *c, const char *why)
{
    struct node_uplink *u = c->u;

    if (u != NULL) {
        if (log_ok(u)) {
            LOG(LOG_LEVEL_WARN,
                "uplink to the leader (node %" PRIu64 " at %s): %s", u->leader,
                u->address, why);
        }
        u->backoff_ms =
            u->backoff_ms == 0 ? UPLINK_BACKOFF_MIN_MS : u->backoff_ms * 2;
        if (u->backoff_ms > UPLINK_BACKOFF_MAX_MS) {
            u->backoff_ms = UPLINK_BACKOFF_MAX_MS;
        }
        u->retry_ms = uv_now(u->loop) + u->backoff_ms;
    }
    conn_close(c);
}

static void conn_written(uv_write_t *req, int status)
{
    struct uplink_write *w = (struct uplink_write *)req;
    struct node_uplink__conn *c = w->c;

    c->output -= w->len;
    free(w);
    if (status < 0 && !c->closing) {
        char why[128];
        snprintf(why, sizeof why, "write: %s", uv_strerror(status));
        conn_fail(c, why);
    }
}

/* Write @len bytes (copied). */
static int conn_write(struct node_uplink__conn *c, const void *data, size_t len)
{
    struct uplink_write *w = malloc(sizeof *w + len);
    uv_buf_t buf;
    int rv;

    if (w == NULL) {
        return AUGUR_ENOMEM;
    }
    memcpy(w->data, data, len);
    w->c = c;
    w->len = len;
    buf = uv_buf_init(w->data, (unsigned)len);
    rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_written);
    if (rv != 0) {
        free(w);
        return AUGUR_EIO;
    }
    c->output += len;
    return 0;
}

/* Requests in the queue (each one frame). */
static uint64_t queue_count(const struct node_uplink *u)
{
    uint64_t n = 0;
    size_t pos = 0;

    while (pos < u->queue.size) {
        struct proto_frame f;
        size_t used = 0;
        if (proto_frame_parse((const uint8_t *)u->queue.data + pos,
                              u->queue.size - pos, PROTO_FRAME_MAX, &f,
                              &used) != 0 ||
            used == 0) {
            break;
        }
        pos += used;
        n++;
    }
    return n;
}

/* Seal and write the queue, unless the socket is too far behind. */
static void uplink_flush(struct node_uplink *u)
{
    struct node_uplink__conn *c = u->conn;
    msgpack_sbuffer sealed;
    uint64_t n;
    int rv;

    if (c == NULL || c->state != UPLINK_READY || u->queue.size == 0 ||
        c->output > NODE_UPLINK_OUTPUT_MAX) {
        return;
    }
    n = queue_count(u);
    msgpack_sbuffer_init(&sealed);
    rv = secure_seal(&c->ch, (const uint8_t *)u->queue.data, u->queue.size,
                     &sealed);
    if (rv == 0) {
        rv = conn_write(c, sealed.data, sealed.size);
    }
    msgpack_sbuffer_destroy(&sealed);
    msgpack_sbuffer_clear(&u->queue);
    if (rv != 0) {
        u->dropped += n;
        conn_fail(c, augur_strerror(rv));
        return;
    }
    u->forwarded += n;
    c->inflight += n;
    for (struct node_uplink__call *call = u->calls; call != NULL;
         call = call->next) {
        call->written = true;
    }
}

/* The answer of a node_uplink_call, if @resp is one: true once its
 * callback ran. */
static bool answer_call(struct node_uplink *u, const msgpack_object *resp)
{
    const msgpack_object *answer = NULL;
    struct node_uplink__call **pp = &u->calls;
    uint64_t id = 0;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    for (uint32_t i = 0; i < resp->via.map.size; i++) {
        const msgpack_object *k = &resp->via.map.ptr[i].key;
        const msgpack_object *v = &resp->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            continue;
        }
        if (k->via.str.size == 2 && memcmp(k->via.str.ptr, "id", 2) == 0 &&
            v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            id = v->via.u64;
        } else if (k->via.str.size == 6 &&
                   memcmp(k->via.str.ptr, "answer", 6) == 0 &&
                   v->type == MSGPACK_OBJECT_MAP) {
            answer = v;
        }
    }
    while (*pp != NULL && (*pp)->id != id) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL || answer == NULL) {
        return false;
    }
    struct node_uplink__call *call = *pp;
    *pp = call->next;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_object(&pk, *answer) != 0) {
        call->cb(call->data, AUGUR_ENOMEM, NULL, 0);
    } else {
        call->cb(call->data, 0, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    free(call);
    return true;
}

static void on_response(struct node_uplink__conn *c,
                        const uint8_t *payload,
                        size_t len)
{
    struct node_uplink *u = c->u;
    msgpack_unpacked un;
    int64_t status = -1;

    if (c->inflight > 0) {
        c->inflight--;
    }
    msgpack_unpacked_init(&un);
    if (proto_payload_unpack_max(payload, len, PROTO_ANSWER_OBJECTS_MAX, &un,
                                 NULL) == 0 &&
        answer_call(u, &un.data)) {
        msgpack_unpacked_destroy(&un);
        return;
    }
    if (un.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *m = &un.data.via.map;
        for (uint32_t i = 0; i < m->size; i++) {
            const msgpack_object *k = &m->ptr[i].key;
            const msgpack_object *v = &m->ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != 6 ||
                memcmp(k->via.str.ptr, "answer", 6) != 0 ||
                v->type != MSGPACK_OBJECT_MAP) {
                continue;
            }
            for (uint32_t j = 0; j < v->via.map.size; j++) {
                const msgpack_object *ak = &v->via.map.ptr[j].key;
                const msgpack_object *av = &v->via.map.ptr[j].val;
                if (ak->type == MSGPACK_OBJECT_STR && ak->via.str.size == 6 &&
                    memcmp(ak->via.str.ptr, "status", 6) == 0 &&
                    av->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                    status = (int64_t)av->via.u64;
                }
            }
        }
    }
    msgpack_unpacked_destroy(&un);
    if (status != 0) {
        u->refused++;
        if (log_ok(u)) {
            LOG(LOG_LEVEL_WARN,
                "the leader (node %" PRIu64
                ") refused a forwarded report: status %" PRId64 " (%" PRIu64
                " refused in all)",
                u->leader, status, u->refused);
        }
    }
}

static void on_close_frame(struct node_uplink__conn *c,
                           const uint8_t *payload,
                           size_t len)
{
    char why[192];

    snprintf(why, sizeof why, "the leader closed it: %.*s",
             (int)(len > 160 ? 160 : len), (const char *)payload);
    /* The reason is msgpack; its strings are readable enough in a log. */
    for (size_t i = 0; why[i] != '\0'; i++) {
        if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] > 0x7e) {
            why[i] = ' ';
        }
    }
    conn_fail(c, why);
}

static void on_frame(struct node_uplink__conn *c, const struct proto_frame *f)
{
    struct node_uplink *u = c->u;
    struct proto_frame inner;
    msgpack_sbuffer sb;
    char errmsg[SECURE_ERRMSG_SIZE];
    int rv;

    if (c->state == UPLINK_HELLO) {
        if (f->type != PROTO_CHALLENGE) {
            if (f->type == PROTO_CLOSE) {
                on_close_frame(c, f->payload, f->len);
            } else {
                conn_fail(c, "expected a CHALLENGE");
            }
            return;
        }
        msgpack_sbuffer_init(&sb);
        rv = secure_node_challenge(&c->hs, f->payload, f->len, u->cluster_pk,
                                   u->identity, &sb, &c->ch, errmsg);
        if (rv == 0) {
            rv = conn_write(c, sb.data, sb.size);
            snprintf(errmsg, sizeof errmsg, "write: %s", augur_strerror(rv));
        }
        msgpack_sbuffer_destroy(&sb);
        if (rv != 0) {
            conn_fail(c, errmsg);
            return;
        }
        c->state = UPLINK_AUTH;
        return;
    }
    /* After AUTH everything is sealed: a clear CLOSE could come from anyone
     * and only ends the connection. */
    if (f->type != PROTO_SEALED) {
        conn_fail(c, "a frame in clear after the handshake");
        return;
    }
    rv = secure_open(&c->ch, f, &inner);
    if (rv != 0) {
        conn_fail(c, "a frame failed authentication");
        return;
    }
    if (inner.type == PROTO_CLOSE) {
        on_close_frame(c, inner.payload, inner.len);
    } else if (c->state == UPLINK_AUTH && inner.type == PROTO_WELCOME) {
        c->state = UPLINK_READY;
        u->connects++;
        u->backoff_ms = 0;
        LOG(LOG_LEVEL_INFO,
            "uplink to the leader (node %" PRIu64
            " at %s) is up: forwarding telemetry",
            u->leader, u->address);
        uplink_flush(u);
    } else if (c->state == UPLINK_READY && inner.type == PROTO_RESPONSE) {
        on_response(c, inner.payload, inner.len);
    } else {
        conn_fail(c, "an unexpected frame");
    }
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct node_uplink__conn *c = h->data;

    (void)hint;
    *buf = uv_buf_init((char *)c->in + c->in_len,
                       (unsigned)(sizeof c->in - c->in_len));
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct node_uplink__conn *c = s->data;
    size_t pos = 0;

    (void)buf;
    if (c->closing) {
        return;
    }
    if (nread < 0) {
        struct node_uplink *u = c->u;
        uint64_t leader = u != NULL ? u->leader : 0;
        conn_fail(c, nread == UV_EOF ? "the leader hung up"
                                     : uv_strerror((int)nread));
        if (u != NULL && u->leader_gone != NULL &&
            (nread == UV_EOF || nread == UV_ECONNRESET)) {
            u->leader_gone(u->leader_gone_data, leader);
        }
        return;
    }
    c->in_len += (size_t)nread;
    while (pos < c->in_len && !c->closing) {
        struct proto_frame f;
        size_t used = 0;
        int rv = proto_frame_parse(c->in + pos, c->in_len - pos,
                                   UPLINK_FRAME_MAX + PROTO_SEAL_OVERHEAD, &f,
                                   &used);
        if (rv != 0) {
            conn_fail(c, "a malformed or oversized frame");
            return;
        }
        if (used == 0) {
            break;
        }
        pos += used;
        on_frame(c, &f);
    }
    if (c->closing) {
        return;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
}

static void conn_connected(uv_connect_t *req, int status)
{
    struct node_uplink__conn *c = req->data;
    struct node_uplink *u = c->u;
    msgpack_sbuffer sb;
    uint64_t client;
    int rv;

    if (c->closing) {
        return;
    }
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "connect: %s", uv_strerror(status));
        conn_fail(c, why);
        return;
    }
    /* A fresh client id per connection: the leader keys nothing on it (the
     * uplink opens no session). */
    randombytes_buf(&client, sizeof client);
    msgpack_sbuffer_init(&sb);
    rv = secure_client_hello(&c->hs, client, u->cluster_pk, &sb);
    if (rv == 0) {
        rv = conn_write(c, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    if (rv == 0) {
        rv = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) == 0
                 ? 0
                 : AUGUR_EIO;
    }
    if (rv != 0) {
        conn_fail(c, augur_strerror(rv));
        return;
    }
    c->state = UPLINK_HELLO;
}

static int address_parse(const char *address, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    char *end;
    long port;

    if (colon == NULL || (size_t)(colon - address) >= sizeof host) {
        return AUGUR_EINVAL;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 ||
        uv_ip4_addr(host, (int)port, addr) != 0) {
        return AUGUR_EINVAL;
    }
    return 0;
}

static void uplink_connect(struct node_uplink *u)
{
    struct node_uplink__conn *c;
    struct sockaddr_in addr;

    if (address_parse(u->address, &addr) != 0) {
        if (log_ok(u)) {
            LOG(LOG_LEVEL_WARN,
                "uplink: the leader's client address '%s' is not "
                "IPv4:PORT",
                u->address);
        }
        u->retry_ms = uv_now(u->loop) + UPLINK_BACKOFF_MAX_MS;
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        u->retry_ms = uv_now(u->loop) + UPLINK_BACKOFF_MAX_MS;
        return;
    }
    c->u = u;
    c->state = UPLINK_CONNECTING;
    if (uv_tcp_init(u->loop, &c->tcp) != 0) {
        free(c);
        u->retry_ms = uv_now(u->loop) + UPLINK_BACKOFF_MAX_MS;
        return;
    }
    c->tcp.data = c;
    c->connect.data = c;
    u->conn = c;
    if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr,
                       conn_connected) != 0) {
        conn_fail(c, "connect failed at once");
    }
}

int node_uplink_init(struct node_uplink *u,
                     uv_loop_t *loop,
                     uint64_t node_id,
                     const struct secure_identity *identity,
                     const uint8_t *cluster_pk)
{
    memset(u, 0, sizeof *u);
    u->loop = loop;
    u->node_id = node_id;
    u->identity = identity;
    u->cluster_pk = cluster_pk;
    msgpack_sbuffer_init(&u->queue);
    uv_timer_init(loop, &u->flush);
    u->flush.data = u;
    return 0;
}

static void on_flush(uv_timer_t *t)
{
    uplink_flush(t->data);
}

/* Queue one request; *@id is its id. */
static int queue_request(struct node_uplink *u,
                         const char *op,
                         const void *args,
                         size_t len,
                         uint64_t *id)
{
    struct proto_request req;
    int rv;

    if (u->closing || u->queue.size + len + 128 > NODE_UPLINK_QUEUE_MAX) {
        u->dropped++;
        return AUGUR_EBUSY;
    }
    memset(&req, 0, sizeof req);
    req.id = ++u->next_id;
    req.op = op;
    req.op_len = strlen(op);
    rv = proto_request_append(&u->queue, &req, args, len);
    if (rv != 0) {
        u->dropped++;
        return rv;
    }
    *id = req.id;
    return 0;
}

int node_uplink_send(struct node_uplink *u,
                     const char *op,
                     const void *args,
                     size_t len)
{
    uint64_t id;
    int rv = queue_request(u, op, args, len, &id);

    if (rv == 0) {
        uplink_flush(u);
    }
    return rv;
}

int node_uplink_call(struct node_uplink *u,
                     const char *op,
                     const void *args,
                     size_t len,
                     node_uplink_cb cb,
                     void *data,
                     uint64_t *id)
{
    struct node_uplink__call *call;
    int rv;

    if (u->closing) {
        return AUGUR_ESHUTDOWN;
    }
    call = calloc(1, sizeof *call);
    if (call == NULL) {
        return AUGUR_ENOMEM;
    }
    rv = queue_request(u, op, args, len, &call->id);
    if (rv != 0) {
        free(call);
        return rv;
    }
    call->cb = cb;
    call->data = data;
    call->next = u->calls;
    u->calls = call;
    *id = call->id;
    /* Written on the next turn of the loop, never from here: @cb must not
     * run inside this call, and a flush that fails answers calls. */
    uv_timer_start(&u->flush, on_flush, 0, 0);
    return 0;
}

void node_uplink_cancel(struct node_uplink *u, uint64_t id)
{
    struct node_uplink__call **pp = &u->calls;

    while (*pp != NULL) {
        if ((*pp)->id == id) {
            struct node_uplink__call *c = *pp;
            *pp = c->next;
            free(c);
            return;
        }
        pp = &(*pp)->next;
    }
}

void node_uplink_tick(struct node_uplink *u,
                      uint64_t leader,
                      const char *address)
{
    if (u->closing) {
        return;
    }
    if (u->conn != NULL &&
        (u->leader != leader || strcmp(u->address, address) != 0)) {
        LOG(LOG_LEVEL_INFO,
            "uplink: the leader changed (node %" PRIu64 " -> %" PRIu64
            "): reconnecting",
            u->leader, leader);
        conn_close(u->conn);
        u->retry_ms = 0;
        u->backoff_ms = 0;
    }
    if (leader == u->node_id) {
        /* This node leads: nobody to forward to. */
        u->dropped += queue_count(u);
        msgpack_sbuffer_clear(&u->queue);
        calls_fail(u, false, AUGUR_ENOLEADER);
    }
    u->leader = leader;
    snprintf(u->address, sizeof u->address, "%s", address);
    if (leader == 0 || leader == u->node_id || address[0] == '\0') {
        return;
    }
    if (u->conn == NULL && uv_now(u->loop) >= u->retry_ms) {
        uplink_connect(u);
    }
    uplink_flush(u);
}

void node_uplink_close(struct node_uplink *u)
{
    u->closing = true;
    if (!uv_is_closing((uv_handle_t *)&u->flush)) {
        uv_close((uv_handle_t *)&u->flush, NULL);
    }
    if (u->conn != NULL) {
        conn_close(u->conn);
    }
    calls_fail(u, false, AUGUR_ESHUTDOWN);
    msgpack_sbuffer_destroy(&u->queue);
    msgpack_sbuffer_init(&u->queue);
}
