/* augur-wire: speaks the client protocol by hand, for tests that need exact
 * control over what goes on the wire (a chosen session, a repeated request,
 * garbage).
 *
 *   augur-wire --endpoint HOST:PORT --client ID --seq N [--ack N] --op OP
 *              [--args-json JSON] [--repeat K] [--stale]
 *     One connection: HELLO, WELCOME, then the request K times, one at a
 *     time, with ids 1..K and the same (client, seq).  Each answer map is
 *     printed as one JSON line with sorted keys.  Follows no redirects.
 *     Exit 0 when every request was answered, 1 on a transport failure.
 *     Before a write it opens the session (session.open, answer not
 *     printed), as libaugur does; --no-open sends the write alone.
 *
 *     With --vary, each request's args are --args-json with every "{i}"
 *     replaced by its id (1..K) and its seq is N + id - 1: K distinct writes.
 *
 *   augur-wire --endpoint HOST:PORT --client ID --op OP [--args-json JSON]
 *              --park N [--wait-ms MS] [--pad BYTES] [--hold-ms MS]
 *     One connection: sends N requests at once (ids 1..N, each with
 *     "wait_ms" MS, default 600000, and a "pad" argument of BYTES bytes
 *     when --pad is given), then reads for up to MS of --hold-ms (default
 *     0: not at all) and prints each answer that came (the refusals of
 *     polls over a cap; parked polls stay silent until they come due),
 *     then closes the connection and exits 0 without waiting for the rest
 *     (at once when all N were answered).  Parks many
 *     long polls ("events" from rev + 1) and walks away, as a careless or
 *     hostile reader does.
 *
 *   augur-wire --endpoint HOST:PORT --garbage BYTES [--seed S] [--hello]
 *     Sends BYTES pseudo-random bytes (after a proper HELLO/WELCOME when
 *     --hello is given) and reports whether the server closed the
 *     connection: exit 0 if it did within 5 s, 1 otherwise.
 *
 *   augur-wire --endpoint RAFT-HOST:PORT --peer-as ID --node-cert FILE
 *     The node-to-node handshake on a Raft port, as node ID, proving
 *     AUGUR_KEY (a node key) with the certificate FILE: exit 0 and
 *     "accepted" when the node answers WELCOME, 1 and "refused: ..." when it
 *     ends the connection (a stolen key shown under another id, a revoked
 *     key).  With --op (and --client), the same AUTH (carrying the node's
 *     certificate) on a client port instead, then the request as in the
 *     first form: a follower's uplink as the leader sees it.
 *
 * With AUGUR_KEY and AUGUR_CLUSTER_KEY set, the handshake is the
 * authenticated one (api/secure.h) and every frame after it is sealed;
 * --plain sends the unauthenticated HELLO instead.  --mutate breaks the
 * protocol on purpose, for the refusal tests:
 *     replay     send the first sealed request again, byte for byte
 *     tamper     flip one bit of the first sealed request
 *     oversize   after the handshake, announce a frame over the limit
 *     truncate   send half of AUTH, then end the connection
 *     nomac      key the HELLO's mac with another cluster's public key (what
 *                a client that does not know the cluster sends)
 * A CLOSE from the server is printed as a JSON line on stdout.
 *
 * Attack modes (docs/PROTOCOL.md, "Limits"), for the client port or the
 * Raft port alike (both open with the same frames):
 *
 *   augur-wire --endpoint HOST:PORT --big-hello BYTES [--within MS]
 *     A HELLO frame announcing BYTES bytes, whose payload is a map of tiny
 *     entries (what a stranger sends to make a node decode ~25 bytes of
 *     objects per byte).  Prints "closed after N ms" and exits 0 when the
 *     server closed the connection within MS (default 1000), else 1.
 *
 *   augur-wire --endpoint HOST:PORT --idle-conns N [--source ADDR]
 *              [--hold MS]
 *   augur-wire --endpoint HOST:PORT --partial-frames N [--source ADDR]
 *              [--hold MS]
 *     Opens N connections (from ADDR when given, e.g. 127.0.0.2) that send
 *     nothing (idle) or a HELLO header announcing 4 MiB and 64 KiB of it
 *     (partial), then watches them for up to MS (default 15000) and prints
 *     one line: "opened=N failed=F closed_at_once=K closed=C open=O
 *     last_close_ms=T": closed_at_once counts those the server closed within
 *     500 ms of the last connect, last_close_ms when the last one closed.
 *     Exits 0 (the caller judges the figures), 2 on bad usage.
 *
 *   augur-wire --endpoint HOST:PORT --flood N --op OP [--hold MS]
 *     Authenticated (AUGUR_KEY), sends N requests OP (ids 1..N) as fast as
 *     it can and never reads an answer: a server without backpressure
 *     queues every answer.  Sending stops when the server has not taken a
 *     byte for 3 s (it stopped reading).  Prints "sent=K of N stalled=0|1",
 *     then keeps the connection open for MS (default 0) so that the
 *     caller can measure the server meanwhile; exits 0. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>

#include "wire/proto.h"
#include "wire/secure.h"
#include "common/error.h"
#include "common/ops.h"
#include "tests/lib/wire_conn.h"

#define WIRE_CLOSE_WAIT_MS 5000

static const char usage[] =
    "usage: augur-wire --endpoint HOST:PORT --client ID --seq N [--ack N]\n"
    "                  --op OP [--args-json JSON] [--repeat K] [--stale]\n"
    "                  [--vary]\n"
    "       augur-wire --endpoint HOST:PORT --client ID --op OP "
    "[--args-json JSON]\n"
    "                  --park N [--wait-ms MS] [--pad BYTES] [--hold-ms MS]\n"
    "       augur-wire --endpoint HOST:PORT --garbage BYTES [--seed S] "
    "[--hello]\n"
    "       augur-wire --endpoint HOST:PORT --peer-as ID --node-cert FILE\n"
    "  [--plain] [--no-open] [--mutate replay|tamper|oversize|truncate|nomac]\n"
    "       augur-wire --endpoint HOST:PORT --big-hello BYTES [--within MS]\n"
    "       augur-wire --endpoint HOST:PORT --idle-conns N [--source ADDR] "
    "[--hold MS]\n"
    "       augur-wire --endpoint HOST:PORT --partial-frames N [--source "
    "ADDR] [--hold MS]\n"
    "       augur-wire --endpoint HOST:PORT --flood N --op OP [--hold MS]\n"
    "  keys: AUGUR_KEY and AUGUR_CLUSTER_KEY (the authenticated handshake)\n"
    "  (the header comment of tests/lib/augur_wire.c explains each mode)\n";

struct wire_options
{
    const char *endpoint;
    uint64_t client;
    uint64_t seq;
    uint64_t ack;
    const char *op;
    const char *args_json;
    uint64_t repeat;
    bool stale;
    bool vary;
    uint64_t park;
    uint64_t wait_ms;
    uint64_t pad;
    uint64_t hold_ms; /* --hold-ms or --hold; see main for the defaults */
    bool garbage_mode;
    uint64_t garbage_bytes;
    uint64_t seed;
    bool hello;
    bool plain;
    bool no_open;       /* send writes without opening a session first */
    const char *mutate; /* NULL, "replay", "tamper", "oversize", "truncate" */
    uint64_t big_hello; /* --big-hello BYTES, 0 when not */
    uint64_t within_ms;
    uint64_t conns;     /* --idle-conns / --partial-frames N */
    bool partial;       /* --partial-frames */
    const char *source; /* --source ADDR */
    uint64_t flood;     /* --flood N */
    bool flood_hold_set;
    bool keyed;
    struct secure_key key;
    uint8_t cluster_pk[SECURE_PK_SIZE];
    uint64_t peer_as;      /* --peer-as: the node-to-node handshake */
    const char *node_cert; /* its certificate for @key */
    struct secure_identity node;
};

/* Convert a msgpack object to JSON.  Returns a new reference or NULL. */
static json_t *json_from_msgpack(const msgpack_object *o)
{
    json_t *j;

    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean(o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (o->via.u64 > (uint64_t)INT64_MAX) {
                return json_real((double)o->via.u64);
            }
            return json_integer((json_int_t)o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer((json_int_t)o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return json_real(o->via.f64);
        case MSGPACK_OBJECT_STR:
            return json_stringn(o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_BIN: {
            /* Binary fields are shown as hex: JSON has no bytes. */
            char *hex = malloc(o->via.bin.size * 2 + 1);
            if (hex == NULL) {
                return NULL;
            }
            for (uint32_t i = 0; i < o->via.bin.size; i++) {
                snprintf(hex + 2 * i, 3, "%02x",
                         (unsigned char)o->via.bin.ptr[i]);
            }
            hex[o->via.bin.size * 2] = '\0';
            j = json_string(hex);
            free(hex);
            return j;
        }
        case MSGPACK_OBJECT_ARRAY:
            j = json_array();
            for (uint32_t i = 0; j != NULL && i < o->via.array.size; i++) {
                json_t *e = json_from_msgpack(&o->via.array.ptr[i]);
                if (e == NULL || json_array_append_new(j, e) != 0) {
                    json_decref(j);
                    return NULL;
                }
            }
            return j;
        case MSGPACK_OBJECT_MAP:
            j = json_object();
            for (uint32_t i = 0; j != NULL && i < o->via.map.size; i++) {
                const msgpack_object *k = &o->via.map.ptr[i].key;
                char key[256];
                json_t *v;

                if (k->type == MSGPACK_OBJECT_STR) {
                    snprintf(key, sizeof key, "%.*s", (int)k->via.str.size,
                             k->via.str.ptr);
                } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                    snprintf(key, sizeof key, "%" PRIu64, k->via.u64);
                } else {
                    snprintf(key, sizeof key, "<key of type %d>", (int)k->type);
                }
                v = json_from_msgpack(&o->via.map.ptr[i].val);
                if (v == NULL || json_object_set_new(j, key, v) != 0) {
                    json_decref(j);
                    return NULL;
                }
            }
            return j;
        default:
            return json_null();
    }
}

/* Print the payload of a frame (a msgpack map) as one JSON line; when
 * @member is not NULL, print only that member of the map. */
static int print_payload(const struct proto_frame *frame,
                         const char *member,
                         uint64_t *id_out,
                         bool quiet,
                         char *errmsg)
{
    msgpack_unpacked u;
    const msgpack_object *what;
    json_t *j;
    char *text;
    int rv;

    msgpack_unpacked_init(&u);
    rv = proto_payload_unpack(frame->payload, frame->len, &u);
    if (rv != 0) {
        snprintf(errmsg, WIRE_CONN_ERRMSG_SIZE, "undecodable payload: %s",
                 augur_errname(rv));
        msgpack_unpacked_destroy(&u);
        return AUGUR_EPROTO;
    }
    what = &u.data;
    if (id_out != NULL) {
        *id_out = 0;
    }
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        const msgpack_object *v = &u.data.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            continue;
        }
        if (id_out != NULL && k->via.str.size == 2 &&
            memcmp(k->via.str.ptr, "id", 2) == 0 &&
            v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            *id_out = v->via.u64;
        }
        if (member != NULL && k->via.str.size == strlen(member) &&
            memcmp(k->via.str.ptr, member, k->via.str.size) == 0) {
            what = v;
        }
    }
    j = json_from_msgpack(what);
    text = j != NULL
               ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
               : NULL;
    if (text == NULL) {
        snprintf(errmsg, WIRE_CONN_ERRMSG_SIZE,
                 "cannot render the answer as JSON");
        json_decref(j);
        msgpack_unpacked_destroy(&u);
        return AUGUR_ENOMEM;
    }
    if (!quiet) {
        printf("%s\n", text);
        fflush(stdout);
    }
    free(text);
    json_decref(j);
    msgpack_unpacked_destroy(&u);
    return 0;
}

/* Connect @c (not yet initialised) to @endpoint. */
static int wire_connect(struct wire_conn *c, const char *endpoint)
{
    wire_conn_init(c, NULL);
    return wire_conn_connect(c, endpoint, NULL, 0);
}

/* Print a CLOSE frame's map as a JSON line and say so in c->errmsg. */
static int wire_closed(struct wire_conn *c, const struct proto_frame *frame)
{
    char errmsg[WIRE_CONN_ERRMSG_SIZE] = "";
    (void)print_payload(frame, NULL, NULL, false, errmsg);
    snprintf(c->errmsg, sizeof c->errmsg,
             "server closed the connection (CLOSE frame)");
    return AUGUR_EPROTO;
}

/* The authenticated handshake: HELLO, CHALLENGE, AUTH, sealed WELCOME, as
 * a client or, with --peer-as, as a node; --mutate nomac and truncate
 * break it on purpose.  A CLOSE instead is printed and refused. */
static int wire_handshake_keyed(struct wire_conn *c,
                                const struct wire_options *o,
                                uint64_t client)
{
    uint8_t other[SECURE_PK_SIZE];
    struct wire_conn_auth a = {
        .cluster_pk = o->cluster_pk,
        .key = &o->key,
        .node = o->peer_as != 0 ? &o->node : NULL,
    };
    struct proto_frame closed;
    struct proto_frame frame;
    msgpack_sbuffer auth;
    int rv;

    if (o->mutate != NULL && strcmp(o->mutate, "nomac") == 0) {
        memcpy(other, o->cluster_pk, sizeof other);
        other[0] ^= 0x01;
        a.hello_pk = other;
    }
    msgpack_sbuffer_init(&auth);
    rv = wire_conn_handshake_begin(c, &a, client, &auth, &closed);
    if (rv == 0 && o->mutate != NULL && strcmp(o->mutate, "truncate") == 0) {
        /* Half an AUTH, then the end of the stream. */
        rv = wire_conn_send(c, auth.data, auth.size / 2);
        shutdown(c->fd, SHUT_WR);
        msgpack_sbuffer_destroy(&auth);
        if (rv == 0) {
            rv = wire_conn_read_frame(c, &frame);
        }
        if (rv == 0 && frame.type == PROTO_CLOSE) {
            return wire_closed(c, &frame);
        }
        if (rv == 0) {
            snprintf(c->errmsg, sizeof c->errmsg,
                     "server answered a truncated AUTH with frame type %d",
                     (int)frame.type);
            return AUGUR_EPROTO;
        }
        return rv;
    }
    if (rv == 0) {
        rv = wire_conn_handshake_end(c, &auth, &closed);
    }
    msgpack_sbuffer_destroy(&auth);
    if (closed.type == PROTO_CLOSE) {
        rv = wire_closed(c, &closed);
    }
    return rv;
}

/* HELLO, then wait for WELCOME.  A CLOSE instead is printed and refused. */
static int wire_handshake(struct wire_conn *c,
                          const struct wire_options *o,
                          uint64_t client)
{
    struct proto_hello hello;
    struct proto_frame frame;
    msgpack_sbuffer out;
    int rv;

    if (o->keyed && !o->plain) {
        return wire_handshake_keyed(c, o, client);
    }
    memset(&hello, 0, sizeof hello);
    hello.version = PROTO_VERSION;
    hello.client = client;
    snprintf(hello.auth, sizeof hello.auth, "none");
    msgpack_sbuffer_init(&out);
    rv = proto_hello_encode(&out, &hello);
    if (rv == 0) {
        rv = wire_conn_send(c, out.data, out.size);
    }
    msgpack_sbuffer_destroy(&out);
    if (rv != 0) {
        return rv;
    }
    rv = wire_conn_read_frame(c, &frame);
    if (rv != 0) {
        return rv;
    }
    if (frame.type == PROTO_CLOSE) {
        return wire_closed(c, &frame);
    }
    if (frame.type != PROTO_WELCOME) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "expected WELCOME, got a frame of type %d", (int)frame.type);
        return AUGUR_EPROTO;
    }
    return 0;
}

/* Read the answer to request @id and print it (unless @quiet).  Requests
 * go one at a time, so the next frame must be its RESPONSE; anything else
 * is an error. */
static int wire_await(struct wire_conn *c, uint64_t id, bool quiet)
{
    struct proto_frame frame;
    char errmsg[WIRE_CONN_ERRMSG_SIZE];
    uint64_t got = 0;
    int rv;

    rv = wire_conn_read_frame(c, &frame);
    if (rv != 0) {
        return rv;
    }
    if (frame.type == PROTO_CLOSE) {
        rv = wire_closed(c, &frame);
    } else if (frame.type != PROTO_RESPONSE) {
        snprintf(c->errmsg, sizeof c->errmsg, "unexpected frame of type %d",
                 (int)frame.type);
        rv = AUGUR_EPROTO;
    } else if ((rv = print_payload(&frame, "answer", &got, quiet, errmsg)) !=
               0) {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", errmsg);
    } else if (got != id) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "answer for id %" PRIu64 " while waiting for %" PRIu64, got,
                 id);
        rv = AUGUR_EPROTO;
    }
    return rv;
}

static int wire_await_answer(struct wire_conn *c, uint64_t id)
{
    return wire_await(c, id, false);
}

/* A write applies only in a session the cluster knows: open it first (as
 * libaugur does), without printing the answer.  The id is one the requests
 * do not use. */
static int wire_open_session(struct wire_conn *c, const struct wire_options *o)
{
    const char *op = augur_op_wire(AUGUR_OP_SESSION_OPEN);
    struct proto_request req;
    msgpack_sbuffer out;
    int rv;

    memset(&req, 0, sizeof req);
    req.id = o->repeat + 1;
    req.op = op;
    req.op_len = strlen(op);
    msgpack_sbuffer_init(&out);
    rv = proto_request_append(&out, &req, NULL, 0);
    if (rv == 0) {
        rv = wire_conn_send_frames(c, out.data, out.size);
    }
    if (rv == 0) {
        rv = wire_await(c, req.id, true);
    }
    msgpack_sbuffer_destroy(&out);
    return rv;
}

/* Pack @text (a JSON object) into @out, with every "{i}" replaced by @i
 * when @i is not 0, and a "pad" member of @pad bytes when @pad is not 0.
 * Returns 0, or 2 (bad JSON) or 1 (cannot encode) with a message. */
static int args_pack(const char *text,
                     uint64_t i,
                     uint64_t pad,
                     msgpack_sbuffer *out)
{
    char *subst = NULL;
    json_error_t jerr;
    msgpack_packer pk;
    json_t *json;
    int rv;

    if (i != 0) {
        size_t len = strlen(text);
        size_t cap = len * 8 + 1;
        const char *p = text;
        char *q;

        subst = q = malloc(cap);
        if (subst == NULL) {
            return 1;
        }
        while (*p != '\0') {
            if (strncmp(p, "{i}", 3) == 0) {
                q += snprintf(q, 21, "%" PRIu64, i);
                p += 3;
            } else {
                *q++ = *p++;
            }
        }
        *q = '\0';
        text = subst;
    }
    json = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(subst);
    if (json == NULL || !json_is_object(json)) {
        fprintf(stderr, "augur-wire: --args-json: %s\n",
                json == NULL ? jerr.text : "expected a JSON object");
        json_decref(json);
        return 2;
    }
    if (pad != 0) {
        char *bytes = malloc(pad + 1);
        if (bytes == NULL) {
            json_decref(json);
            return 1;
        }
        memset(bytes, 'p', pad);
        bytes[pad] = '\0';
        json_object_set_new(json, "pad", json_string(bytes));
        free(bytes);
    }
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    rv = wire_conn_pack_json(&pk, json);
    json_decref(json);
    if (rv != 0) {
        fprintf(stderr, "augur-wire: --args-json: cannot encode\n");
        return 1;
    }
    return 0;
}

/* --park: N requests at once, then read what comes for --hold-ms, then
 * hang up. */
static int run_park(const struct wire_options *o)
{
    struct wire_conn c;
    msgpack_sbuffer args;
    msgpack_sbuffer out;
    uint64_t deadline;
    uint64_t answered = 0;
    int rv;

    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&out);
    rv =
        args_pack(o->args_json != NULL ? o->args_json : "{}", 0, o->pad, &args);
    if (rv != 0) {
        msgpack_sbuffer_destroy(&args);
        return rv;
    }
    rv = wire_connect(&c, o->endpoint);
    if (rv == 0) {
        rv = wire_handshake(&c, o, o->client);
    }
    for (uint64_t id = 1; rv == 0 && id <= o->park; id++) {
        struct proto_request req;

        memset(&req, 0, sizeof req);
        req.id = id;
        req.op = o->op;
        req.op_len = strlen(o->op);
        req.stale = o->stale ? 1 : 0;
        req.wait_ms = (uint32_t)o->wait_ms;
        out.size = 0;
        rv = proto_request_append(&out, &req, args.data, args.size);
        if (rv != 0) {
            snprintf(c.errmsg, sizeof c.errmsg, "cannot encode the request: %s",
                     augur_errname(rv));
            break;
        }
        rv = wire_conn_send_frames(&c, out.data, out.size);
    }
    if (rv == 0) {
        printf("sent: %" PRIu64 "\n", o->park);
        fflush(stdout);
    }
    deadline = wire_conn_monotonic_ms() + o->hold_ms;
    while (rv == 0) {
        struct proto_frame frame;
        char errmsg[WIRE_CONN_ERRMSG_SIZE];
        uint64_t now = wire_conn_monotonic_ms();

        if (now >= deadline) {
            break;
        }
        wire_conn_set_timeout(c.fd, SO_RCVTIMEO, (int)(deadline - now));
        rv = wire_conn_read_frame(&c, &frame);
        if (rv == AUGUR_ETIMEOUT) {
            rv = 0;
            break;
        }
        if (rv != 0) {
            break;
        }
        if (frame.type == PROTO_CLOSE) {
            rv = wire_closed(&c, &frame);
        } else if (frame.type == PROTO_RESPONSE) {
            rv = print_payload(&frame, "answer", NULL, false, errmsg);
            if (rv == 0 && ++answered == o->park) {
                break;
            }
        }
    }
    if (rv != 0) {
        fprintf(stderr, "augur-wire: %s: %s\n", o->endpoint, c.errmsg);
    }
    wire_conn_close(&c);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&args);
    return rv == 0 ? 0 : 1;
}

static int run_requests(const struct wire_options *o)
{
    struct wire_conn c;
    msgpack_sbuffer args;
    msgpack_sbuffer out;
    int rv;

    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&out);
    if (o->args_json != NULL) {
        rv = args_pack(o->args_json, 0, 0, &args);
        if (rv != 0) {
            msgpack_sbuffer_destroy(&out);
            msgpack_sbuffer_destroy(&args);
            return rv;
        }
    }

    rv = wire_connect(&c, o->endpoint);
    if (rv == 0) {
        rv = wire_handshake(&c, o, o->client);
    }
    if (rv == 0 && c.ch.ready && !o->no_open && o->mutate == NULL &&
        augur_op_is_write(augur_op_find(o->op, strlen(o->op)))) {
        rv = wire_open_session(&c, o);
    }
    if (rv == 0 && o->mutate != NULL && strcmp(o->mutate, "oversize") == 0) {
        uint8_t hdr[PROTO_HEADER_SIZE];
        /* Only the header: the server must refuse on the length alone. */
        proto_header_write(hdr, PROTO_SEALED, 2 * (size_t)PROTO_FRAME_MAX);
        rv = wire_conn_send(&c, hdr, sizeof hdr);
        if (rv == 0) {
            rv = wire_await_answer(&c, 1);
        }
    }
    for (uint64_t id = 1; rv == 0 && id <= o->repeat; id++) {
        struct proto_request req;

        if (o->vary) {
            args.size = 0;
            if (args_pack(o->args_json, id, 0, &args) != 0) {
                snprintf(c.errmsg, sizeof c.errmsg, "cannot encode the args");
                rv = AUGUR_EINVAL;
                break;
            }
        }
        memset(&req, 0, sizeof req);
        req.id = id;
        req.op = o->op;
        req.op_len = strlen(o->op);
        req.seq = o->vary && o->seq != 0 ? o->seq + id - 1 : o->seq;
        req.ack = o->ack;
        req.stale = o->stale ? 1 : 0;
        out.size = 0;
        rv = proto_request_append(&out, &req, args.size > 0 ? args.data : NULL,
                                  args.size);
        if (rv != 0) {
            snprintf(c.errmsg, sizeof c.errmsg, "cannot encode the request: %s",
                     augur_errname(rv));
            break;
        }
        if (c.ch.ready && o->mutate != NULL && id == 1 &&
            (strcmp(o->mutate, "replay") == 0 ||
             strcmp(o->mutate, "tamper") == 0)) {
            msgpack_sbuffer sealed;
            msgpack_sbuffer_init(&sealed);
            rv = secure_seal(&c.ch, (const uint8_t *)out.data, out.size,
                             &sealed);
            if (rv == 0 && strcmp(o->mutate, "tamper") == 0) {
                sealed.data[sealed.size - 1] ^= 0x01;
            }
            if (rv == 0) {
                rv = wire_conn_send(&c, sealed.data, sealed.size);
            }
            if (rv == 0) {
                rv = wire_await_answer(&c, id);
            }
            if (rv == 0 && strcmp(o->mutate, "replay") == 0) {
                /* The same bytes again: the counter has moved on. */
                rv = wire_conn_send(&c, sealed.data, sealed.size);
                if (rv == 0) {
                    rv = wire_await_answer(&c, id);
                }
            }
            msgpack_sbuffer_destroy(&sealed);
            continue;
        }
        rv = wire_conn_send_frames(&c, out.data, out.size);
        if (rv == 0) {
            rv = wire_await_answer(&c, id);
        }
    }
    if (rv != 0) {
        fprintf(stderr, "augur-wire: %s: %s\n", o->endpoint, c.errmsg);
    }
    wire_conn_close(&c);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&args);
    return rv == 0 ? 0 : 1;
}

/* xorshift64*: reproducible bytes from a seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int run_garbage(const struct wire_options *o)
{
    struct wire_conn c;
    uint8_t *bytes;
    uint64_t state = o->seed != 0 ? o->seed : 0x9E3779B97F4A7C15ULL;
    uint64_t deadline;
    int rv;

    bytes = malloc(o->garbage_bytes > 0 ? o->garbage_bytes : 1);
    if (bytes == NULL) {
        fprintf(stderr, "augur-wire: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < o->garbage_bytes; i++) {
        bytes[i] = (uint8_t)(next_random(&state) >> 56);
    }
    rv = wire_connect(&c, o->endpoint);
    if (rv == 0 && o->hello) {
        rv = wire_handshake(&c, o, o->client != 0 ? o->client : 1);
    }
    if (rv != 0) {
        fprintf(stderr, "augur-wire: %s: %s\n", o->endpoint, c.errmsg);
        wire_conn_close(&c);
        free(bytes);
        return 1;
    }
    deadline = wire_conn_monotonic_ms() + WIRE_CLOSE_WAIT_MS;
    wire_conn_set_timeout(c.fd, SO_SNDTIMEO, WIRE_CLOSE_WAIT_MS);
    rv = wire_conn_send(&c, bytes, o->garbage_bytes);
    free(bytes);
    if (rv == AUGUR_ECONNECT) {
        printf("closed: the server closed the connection while we sent (%s)\n",
               c.errmsg);
        wire_conn_close(&c);
        return 0;
    }
    /* Drain whatever the server says (a CLOSE frame, say) until it closes
     * the connection or the time is up. */
    for (;;) {
        uint8_t sink[4096];
        uint64_t now = wire_conn_monotonic_ms();
        ssize_t n;

        if (now >= deadline) {
            break;
        }
        wire_conn_set_timeout(c.fd, SO_RCVTIMEO, (int)(deadline - now));
        n = recv(c.fd, sink, sizeof sink, 0);
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
            printf("closed: the server closed the connection\n");
            wire_conn_close(&c);
            return 0;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN &&
            errno != EWOULDBLOCK) {
            printf("error: recv: %s\n", strerror(errno));
            wire_conn_close(&c);
            return 1;
        }
    }
    printf("open: the server kept the connection open for %d ms\n",
           WIRE_CLOSE_WAIT_MS);
    wire_conn_close(&c);
    return 1;
}

/* --peer-as: the node handshake, and whether the node accepted it. */
static int run_peer(struct wire_options *o)
{
    struct wire_conn c;
    char why[SECURE_ERRMSG_SIZE];
    int rv;

    o->node.key = o->key;
    if (secure_cert_load(o->node_cert, &o->node.cert, why) != 0) {
        fprintf(stderr, "augur-wire: --node-cert: %s\n", why);
        return 2;
    }
    rv = wire_connect(&c, o->endpoint);
    if (rv == 0) {
        rv = wire_handshake_keyed(&c, o, o->peer_as);
    }
    if (rv != 0) {
        printf("refused: %s\n", c.errmsg);
        wire_conn_close(&c);
        return 1;
    }
    printf("accepted\n");
    wire_conn_close(&c);
    return 0;
}

/* --big-hello: a HELLO header announcing @o->big_hello bytes, then as
 * much of a map of tiny entries as the server takes. */
static int run_big_hello(const struct wire_options *o)
{
    struct wire_conn c;
    uint8_t chunk[65536];
    uint64_t start;
    uint64_t sent = 0;
    uint64_t total = o->big_hello;
    int rv;

    if (total < 6 || total > UINT32_MAX) {
        fprintf(stderr, "augur-wire: --big-hello: 6 to 2^32-1 bytes\n");
        return 2;
    }
    rv = wire_connect(&c, o->endpoint);
    if (rv != 0) {
        fprintf(stderr, "augur-wire: %s: %s\n", o->endpoint, c.errmsg);
        return 1;
    }
    /* [len][HELLO][map32 n] then n pairs of positive fixints. */
    chunk[0] = (uint8_t)(total >> 24);
    chunk[1] = (uint8_t)(total >> 16);
    chunk[2] = (uint8_t)(total >> 8);
    chunk[3] = (uint8_t)total;
    chunk[4] = PROTO_HELLO;
    start = wire_conn_monotonic_ms();
    wire_conn_set_timeout(c.fd, SO_SNDTIMEO, (int)o->within_ms + 1000);
    rv = wire_conn_send(&c, chunk, 5);
    total -= 1; /* the type byte */
    {
        uint32_t pairs = (uint32_t)((total - 5) / 2);
        uint8_t hdr[5] = {0xdf, (uint8_t)(pairs >> 24), (uint8_t)(pairs >> 16),
                          (uint8_t)(pairs >> 8), (uint8_t)pairs};
        if (rv == 0) {
            rv = wire_conn_send(&c, hdr, sizeof hdr);
        }
        sent = sizeof hdr;
    }
    memset(chunk, 0x01, sizeof chunk);
    while (rv == 0 && sent < total) {
        size_t n =
            total - sent < sizeof chunk ? (size_t)(total - sent) : sizeof chunk;
        rv = wire_conn_send(&c, chunk, n);
        sent += n;
    }
    /* Wait for the end of the stream (a CLOSE frame may come first). */
    for (;;) {
        uint8_t sink[4096];
        uint64_t now = wire_conn_monotonic_ms();
        ssize_t n;

        if (now - start > o->within_ms + 5000) {
            break;
        }
        wire_conn_set_timeout(c.fd, SO_RCVTIMEO, 200);
        n = recv(c.fd, sink, sizeof sink, 0);
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
            break;
        }
    }
    {
        uint64_t took = wire_conn_monotonic_ms() - start;
        wire_conn_close(&c);
        if (took <= o->within_ms) {
            printf("closed after %" PRIu64 " ms (sent %" PRIu64 " bytes)\n",
                   took, sent);
            return 0;
        }
        printf("open: not closed within %" PRIu64 " ms (took %" PRIu64
               " ms, sent %" PRIu64 " bytes)\n",
               o->within_ms, took, sent);
        return 1;
    }
}

/* --idle-conns, --partial-frames: many connections that never finish a
 * handshake; see the header comment for what is printed. */
static int run_conns(const struct wire_options *o)
{
    struct rlimit rl;
    int *fds;
    uint64_t opened = 0;
    uint64_t failed = 0;
    uint64_t closed = 0;
    uint64_t at_once = 0;
    uint64_t last_close_ms = 0;
    uint64_t start;
    uint8_t partial[65536 + 5];

    /* One descriptor per connection, and a few to spare. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    fds = calloc(o->conns, sizeof *fds);
    if (fds == NULL) {
        fprintf(stderr, "augur-wire: out of memory\n");
        return 1;
    }
    proto_header_write(partial, PROTO_HELLO, PROTO_FRAME_MAX - 2);
    memset(partial + 5, 0x01, sizeof partial - 5);
    for (uint64_t i = 0; i < o->conns; i++) {
        struct wire_conn c;
        fds[i] = -1;
        wire_conn_init(&c, NULL);
        if (wire_conn_connect(&c, o->endpoint, o->source, 0) != 0) {
            if (failed == 0) {
                fprintf(stderr, "augur-wire: %s\n", c.errmsg);
            }
            failed++;
            continue;
        }
        fds[i] = c.fd;
        opened++;
        if (o->partial) {
            /* As much as the socket takes at once; never blocks. */
            (void)send(c.fd, partial, sizeof partial,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    start = wire_conn_monotonic_ms();
    while (closed < opened && wire_conn_monotonic_ms() - start < o->hold_ms) {
        for (uint64_t i = 0; i < o->conns; i++) {
            struct pollfd p = {.fd = fds[i], .events = POLLIN};
            uint8_t sink[4096];
            ssize_t n;

            if (fds[i] < 0 || poll(&p, 1, 0) <= 0) {
                continue;
            }
            n = recv(fds[i], sink, sizeof sink, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                uint64_t t = wire_conn_monotonic_ms() - start;
                close(fds[i]);
                fds[i] = -1;
                closed++;
                last_close_ms = t;
                if (t <= 500) {
                    at_once++;
                }
            }
        }
        usleep(20000);
    }
    for (uint64_t i = 0; i < o->conns; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    free(fds);
    printf("opened=%" PRIu64 " failed=%" PRIu64 " closed_at_once=%" PRIu64
           " closed=%" PRIu64 " open=%" PRIu64 " last_close_ms=%" PRIu64 "\n",
           opened, failed, at_once, closed, opened - closed, last_close_ms);
    return 0;
}

/* --flood: requests without ever reading an answer. */
static int run_flood(const struct wire_options *o)
{
    struct wire_conn c;
    msgpack_sbuffer plain;
    msgpack_sbuffer sealed;
    uint64_t sent = 0;
    bool stalled = false;
    int rv;

    rv = wire_connect(&c, o->endpoint);
    if (rv == 0) {
        rv = wire_handshake(&c, o, o->client != 0 ? o->client : 1);
    }
    if (rv != 0) {
        fprintf(stderr, "augur-wire: %s: %s\n", o->endpoint, c.errmsg);
        wire_conn_close(&c);
        return 1;
    }
    wire_conn_set_timeout(c.fd, SO_SNDTIMEO, 3000);
    msgpack_sbuffer_init(&plain);
    msgpack_sbuffer_init(&sealed);
    while (rv == 0 && sent < o->flood) {
        uint64_t batch = o->flood - sent < 256 ? o->flood - sent : 256;
        plain.size = 0;
        sealed.size = 0;
        for (uint64_t i = 0; rv == 0 && i < batch; i++) {
            struct proto_request req;
            memset(&req, 0, sizeof req);
            req.id = sent + i + 1;
            req.op = o->op;
            req.op_len = strlen(o->op);
            req.stale = o->stale ? 1 : 0;
            rv = proto_request_append(&plain, &req, NULL, 0);
        }
        if (rv == 0) {
            rv = c.ch.ready ? secure_seal(&c.ch, (const uint8_t *)plain.data,
                                          plain.size, &sealed)
                            : 0;
        }
        if (rv == 0) {
            rv = c.ch.ready ? wire_conn_send(&c, sealed.data, sealed.size)
                            : wire_conn_send(&c, plain.data, plain.size);
        }
        if (rv == AUGUR_ETIMEOUT) {
            stalled = true;
            break;
        }
        if (rv == 0) {
            sent += batch;
        }
    }
    msgpack_sbuffer_destroy(&plain);
    msgpack_sbuffer_destroy(&sealed);
    printf("sent=%" PRIu64 " of %" PRIu64 " stalled=%d%s%s\n", sent, o->flood,
           stalled ? 1 : 0, rv != 0 && !stalled ? " error=" : "",
           rv != 0 && !stalled ? c.errmsg : "");
    fflush(stdout);
    if (o->hold_ms > 0) {
        usleep((useconds_t)(o->hold_ms * 1000));
    }
    wire_conn_close(&c);
    return 0;
}

/* The options that take a number (getopt's value), and where it goes. */
static const struct
{
    int opt;
    size_t offset;
} number_options[] = {
    {'c', offsetof(struct wire_options, client)},
    {'s', offsetof(struct wire_options, seq)},
    {'a', offsetof(struct wire_options, ack)},
    {'r', offsetof(struct wire_options, repeat)},
    {'g', offsetof(struct wire_options, garbage_bytes)},
    {'x', offsetof(struct wire_options, seed)},
    {'A', offsetof(struct wire_options, peer_as)},
    {'p', offsetof(struct wire_options, park)},
    {'w', offsetof(struct wire_options, wait_ms)},
    {'d', offsetof(struct wire_options, pad)},
    {'l', offsetof(struct wire_options, hold_ms)},
    {'B', offsetof(struct wire_options, big_hello)},
    {'W', offsetof(struct wire_options, within_ms)},
    {'I', offsetof(struct wire_options, conns)},
    {'F', offsetof(struct wire_options, conns)},
    {'T', offsetof(struct wire_options, hold_ms)},
    {'L', offsetof(struct wire_options, flood)},
};

/* Where the number of option @opt goes in @o, or NULL. */
static uint64_t *number_option(struct wire_options *o, int opt)
{
    for (size_t i = 0; i < sizeof number_options / sizeof number_options[0];
         i++) {
        if (number_options[i].opt == opt) {
            return (uint64_t *)((char *)o + number_options[i].offset);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"client", required_argument, NULL, 'c'},
        {"seq", required_argument, NULL, 's'},
        {"ack", required_argument, NULL, 'a'},
        {"op", required_argument, NULL, 'o'},
        {"args-json", required_argument, NULL, 'j'},
        {"repeat", required_argument, NULL, 'r'},
        {"stale", no_argument, NULL, 'S'},
        {"garbage", required_argument, NULL, 'g'},
        {"seed", required_argument, NULL, 'x'},
        {"hello", no_argument, NULL, 'H'},
        {"plain", no_argument, NULL, 'P'},
        {"mutate", required_argument, NULL, 'm'},
        {"vary", no_argument, NULL, 'V'},
        {"park", required_argument, NULL, 'p'},
        {"wait-ms", required_argument, NULL, 'w'},
        {"pad", required_argument, NULL, 'd'},
        {"hold-ms", required_argument, NULL, 'l'},
        {"peer-as", required_argument, NULL, 'A'},
        {"node-cert", required_argument, NULL, 'N'},
        {"no-open", no_argument, NULL, 'O'},
        {"big-hello", required_argument, NULL, 'B'},
        {"within", required_argument, NULL, 'W'},
        {"idle-conns", required_argument, NULL, 'I'},
        {"partial-frames", required_argument, NULL, 'F'},
        {"source", required_argument, NULL, 'U'},
        {"hold", required_argument, NULL, 'T'},
        {"flood", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct wire_options o;
    int longindex = 0;
    int opt;

    memset(&o, 0, sizeof o);
    o.repeat = 1;
    o.wait_ms = 600000;
    o.seed = 1;
    o.within_ms = 1000;
    o.hold_ms = 15000;
    while ((opt = getopt_long(argc, argv, "h", longopts, &longindex)) != -1) {
        uint64_t *number = number_option(&o, opt);
        if (number != NULL && wire_conn_parse_u64(optarg, number) != 0) {
            fprintf(stderr,
                    "augur-wire: --%s: expected a non-negative number, got "
                    "'%s'\n",
                    longopts[longindex].name, optarg);
            return 2;
        }
        switch (opt) {
            case 'e':
                o.endpoint = optarg;
                break;
            case 'o':
                o.op = optarg;
                break;
            case 'j':
                o.args_json = optarg;
                break;
            case 'S':
                o.stale = true;
                break;
            case 'g':
                o.garbage_mode = true;
                break;
            case 'H':
                o.hello = true;
                break;
            case 'P':
                o.plain = true;
                break;
            case 'N':
                o.node_cert = optarg;
                break;
            case 'O':
                o.no_open = true;
                break;
            case 'm':
                o.mutate = optarg;
                if (strcmp(optarg, "replay") != 0 &&
                    strcmp(optarg, "tamper") != 0 &&
                    strcmp(optarg, "oversize") != 0 &&
                    strcmp(optarg, "truncate") != 0 &&
                    strcmp(optarg, "nomac") != 0) {
                    fputs(usage, stderr);
                    return 2;
                }
                break;
            case 'V':
                o.vary = true;
                break;
            case 'l':
            case 'T':
                o.flood_hold_set = true;
                break;
            case 'F':
                o.partial = true;
                break;
            case 'U':
                o.source = optarg;
                break;
            case 'h':
                fputs(usage, stdout);
                return 0;
            default:
                if (number == NULL) {
                    fputs(usage, stderr);
                    return 2;
                }
                break;
        }
    }
    if (optind != argc || o.endpoint == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    {
        char why[SECURE_ERRMSG_SIZE];
        if (wire_conn_keys_from_env(&o.key, o.cluster_pk, &o.keyed, why) != 0) {
            fprintf(stderr, "augur-wire: keys: %s\n", why);
            return 2;
        }
    }
    if (o.peer_as != 0) {
        if (!o.keyed || o.node_cert == NULL) {
            fprintf(stderr,
                    "augur-wire: --peer-as needs --node-cert, "
                    "AUGUR_KEY and AUGUR_CLUSTER_KEY\n");
            return 2;
        }
        if (o.op == NULL) {
            return run_peer(&o);
        }
        char cert_why[SECURE_ERRMSG_SIZE];
        o.node.key = o.key;
        if (secure_cert_load(o.node_cert, &o.node.cert, cert_why) != 0) {
            fprintf(stderr, "augur-wire: --node-cert: %s\n", cert_why);
            return 2;
        }
    }
    if (o.big_hello > 0) {
        return run_big_hello(&o);
    }
    if (o.conns > 0) {
        if (o.conns > 1000000) {
            fprintf(stderr, "augur-wire: at most 10^6 connections\n");
            return 2;
        }
        return run_conns(&o);
    }
    if (o.flood > 0) {
        if (o.op == NULL || strlen(o.op) > PROTO_OP_MAX) {
            fprintf(stderr, "augur-wire: --flood needs --op\n");
            return 2;
        }
        if (!o.flood_hold_set) {
            o.hold_ms = 0;
        }
        return run_flood(&o);
    }
    if (o.garbage_mode) {
        if (o.garbage_bytes > (1u << 30)) {
            fprintf(stderr, "augur-wire: --garbage: at most 1 GiB\n");
            return 2;
        }
        return run_garbage(&o);
    }
    if (o.park > 0) {
        if (!o.flood_hold_set) {
            o.hold_ms = 0; /* hang up at once */
        }
        if (o.client == 0 || o.op == NULL || strlen(o.op) > PROTO_OP_MAX ||
            o.wait_ms > UINT32_MAX || o.pad > PROTO_FRAME_MAX ||
            o.hold_ms > 3600000) {
            fprintf(stderr,
                    "augur-wire: --park needs --client (>= 1) and --op; "
                    "--wait-ms fits 32 bits, --pad at most a frame, "
                    "--hold-ms at most an hour\n%s",
                    usage);
            return 2;
        }
        return run_park(&o);
    }
    if (o.vary && o.args_json == NULL) {
        fprintf(stderr, "augur-wire: --vary needs --args-json\n%s", usage);
        return 2;
    }
    if (o.client == 0 || o.op == NULL || o.repeat == 0 ||
        strlen(o.op) > PROTO_OP_MAX) {
        fprintf(stderr,
                "augur-wire: --client (>= 1), --op (at most %d bytes) "
                "and --repeat (>= 1) are required\n%s",
                PROTO_OP_MAX, usage);
        return 2;
    }
    return run_requests(&o);
}
