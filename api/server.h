/* Client connections on the server side: accept, the authenticated
 * handshake (HELLO, CHALLENGE, AUTH, sealed WELCOME), sealed frames, request
 * dispatch to a handler, responses.  It decides nothing: whether a proven
 * key may connect is the auth callback's answer, and every decoded request
 * goes to the handler, which answers it once. */
#ifndef AUGUR_API_SERVER_H
#define AUGUR_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "wire/proto.h"
#include "wire/secure.h"

#define API_WARN_UNUSED __attribute__((warn_unused_result))
#define API_ERRMSG_SIZE 256
#define API_NAME_SIZE 128

struct api_conn;
struct api_server;

/* One request in flight.  The handler owns it from the moment it is handed
 * over until it calls api_call_reply (exactly once), which frees it.  If the
 * connection closed meanwhile the answer is dropped. */
struct api_call
{
    void *data;            /* handler's */
    struct api_call *next; /* handler's: for parking calls in lists */
    struct api_server *server;
    struct api_conn *conn;
    uint64_t client;               /* the connection's client id (HELLO) */
    uint8_t key[SECURE_PK_SIZE];   /* the principal's proven public key */
    int role;                      /* the principal's role (auth callback) */
    char principal[API_NAME_SIZE]; /* the principal's name */
    struct proto_request req;      /* points into @unpacked and @payload */
    /* req.op as a C string, copied when the call is made: it outlives
     * api_call_shed, for the answered callback. */
    char op[PROTO_OP_MAX + 1];
    msgpack_unpacked unpacked;
    uint8_t *payload; /* a copy of the frame: msgpack-c's strings
                         point into the buffer they came from */
    size_t cost;      /* server's: the bytes this call holds, counted
                         against its connection's pending bytes */
    /* A local call (api_call_local) has no connection: its answer goes to
     * @local_cb(@local_data, answer, len) instead of a socket. */
    void (*local_cb)(void *local_data, const void *answer, size_t len);
    void *local_data;
};

typedef void (*api_request_cb)(struct api_server *s, struct api_call *call);
/* A connection closed: calls the handler still holds for @conn can no
 * longer be answered, and should be freed (api_call_drop) now rather than
 * when they come due.  Runs from libuv's close callback, never inside
 * api_call_reply or the request callback. */
typedef void (*api_conn_closed_cb)(struct api_server *s,
                                   const struct api_conn *conn);
typedef void (*api_server_close_cb)(struct api_server *s);
/* @call is being answered with @status (0, or the error code of the
 * answer's "status"; AUGUR_EMALFORMED for an answer without one): for
 * counting requests by op and result.  Runs inside api_call_reply and
 * api_call_reply_error, before the call is freed, whether or not an answer
 * can still reach the client; it may read @call (call->op, the principal),
 * never answer or free it.  Calls without a connection (call->conn NULL:
 * answered through another path) pass here too. */
typedef void (*api_answered_cb)(struct api_server *s,
                                const struct api_call *call,
                                int status);
/* Decide whether the proven public key @key may use the cluster: 0 with the
 * principal's name (API_NAME_SIZE bytes) and role, or AUGUR_EAUTH (unknown
 * key) with a reason in @errmsg (API_ERRMSG_SIZE bytes).  The key's
 * signature is verified by then, so the refusal goes out sealed.  @cert is
 * NULL for a principal; for a node (its AUTH carried a certificate) it is
 * that certificate, already checked against the cluster key, unexpired and
 * certifying @key: whether that node is one of the cluster's, unrevoked, is
 * the callback's to decide. */
typedef int (*api_auth_cb)(struct api_server *s,
                           const uint8_t key[SECURE_PK_SIZE],
                           const struct secure_cert *cert,
                           char *name,
                           int *role,
                           char *errmsg);

struct api_server_config
{
    const char *address; /* "host:port" to listen on */
    uint64_t node_id;    /* sent in WELCOME */
    size_t max_frame;    /* 0 = PROTO_FRAME_MAX */
    size_t max_output;   /* a slower reader than this is cut off; 0 =
                            64 MiB */
    /* this node's key (with its secret half) and the cluster's
     * certificate for it, for node_id; must outlive the server */
    const struct secure_identity *identity;
    /* the cluster's public key: the HELLO's mac is keyed by it */
    const uint8_t *cluster_pk;
    api_auth_cb auth_cb;               /* required */
    api_conn_closed_cb conn_closed_cb; /* optional */
    api_answered_cb answered_cb;       /* optional */
    uint64_t session_ttl_ms; /* announced in WELCOME; 0 = not announced */
    /* Limits (docs/PROTOCOL.md, "Limits"); 0 takes the default. */
    unsigned max_conns;  /* every connection, authenticated or not: a
                            connection over it is accepted and closed at
                            once (the node's descriptor budget); 0 = none */
    unsigned max_unauth; /* connections still in their handshake; over it
                            the oldest of them is closed (256) */
    unsigned max_unauth_per_source; /* the same, per source address: a
                                       connection over it is accepted and
                                       closed at once (16) */
    size_t pending_high;            /* a connection holding more bytes than this
                                       (queued answers and calls in flight, counted
                                       as allocated) is not read from (256 KiB) ... */
    size_t pending_low; /* ... until it holds at most this (64 KiB) */
    unsigned max_calls; /* calls in flight per connection: at this many
                           the connection is not read from (1024) */
};

struct api_server
{
    void *data;
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct api_server_config config;
    api_request_cb request_cb;
    api_server_close_cb close_cb;
    struct api_conn *conns; /* open connections, a list, newest first */
    unsigned n_conns;
    unsigned n_unauth; /* connections in HELLO or AUTH */
    uv_idle_t resume;  /* runs the frames buffered by resumed connections */
    /* Answers are gathered per connection during a loop turn and written
     * with one system call just before the loop polls again. */
    uv_prepare_t flush;
    struct api_conn *flush_list; /* connections with answers to write */
    bool closing;
    bool listener_closed;
    uint64_t frames_refused; /* malformed/oversized/out-of-order frames */
    uint64_t conns_refused;  /* connections closed by a connection limit */
    uint64_t limit_log_ms;   /* when a limit was last logged */
    uint64_t limit_unlogged; /* limit hits since then */
    char errmsg[API_ERRMSG_SIZE];
};

/* Bind and listen on config->address.  Returns 0, AUGUR_EINVAL (address,
 * or no identity with a secret key, or no auth callback) or AUGUR_EIO
 * (bind/listen failed) with the reason in s->errmsg. */
int api_server_start(struct api_server *s,
                     uv_loop_t *loop,
                     const struct api_server_config *config,
                     api_request_cb request_cb) API_WARN_UNUSED;

/* Ask the auth callback again about every authenticated connection (the
 * principals changed): a connection whose key is refused now gets a sealed
 * CLOSE with the reason and is closed; one whose role changed keeps going
 * with the new role. */
void api_server_revalidate(struct api_server *s);

/* Close every connection that has not finished its handshake within 10 s
 * of being accepted (one CLOSE with ETIMEOUT): a peer that opens and stalls
 * holds nothing for long.  Call it periodically. */
void api_server_sweep(struct api_server *s);

/* Stop listening and close every connection; @cb runs once @s can be freed.
 * Calls still held by the handler remain valid until replied. */
void api_server_close(struct api_server *s, api_server_close_cb cb);

/* Copy call->req.op into call->op (truncated to PROTO_OP_MAX bytes): for a
 * call made elsewhere than the server's connections, before it is handed
 * to a handler. */
void api_call_op_capture(struct api_call *call);

/* Answer @call with an already packed answer map and free it.  An answer
 * whose frame would pass the frame limit is not sent: the caller gets an
 * ETOOBIG answer naming its size instead, and the connection stays open. */
void api_call_reply(struct api_call *call, const void *answer, size_t len);

/* Free what @call's request took (the frame's copy and its decoded form)
 * for a call the handler keeps for long (a parked long poll): afterwards
 * only req.id, req.seq, req.ack, req.stale and req.wait_ms remain, and
 * req.op and req.args are NULL.  The call is answered as before. */
void api_call_shed(struct api_call *call);

/* Free @call without answering it: for a call whose connection closed
 * (api_call_alive is false), that no answer could reach. */
void api_call_drop(struct api_call *call);

/* Answer @call with {"status", "error", "leader"?} and free it. */
void api_call_reply_error(struct api_call *call,
                          int status,
                          const char *leader_hint,
                          const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* True while the call's connection is open (an answer would be sent).
 * Always true for a local call. */
bool api_call_alive(const struct api_call *call);

/* A call made inside the process (the HTTP API, a forwarded request) that
 * goes to the same handler as the calls of connections: @request is a
 * packed request map ({"id","op","args",...}, struct proto_request),
 * copied and decoded; the caller then sets client, key, role and
 * principal, and hands the call to the handler.  Its answer, whatever
 * the handler calls (api_call_reply, _reply_error; api_call_drop answers
 * nothing), goes to @cb(@data, answer, len) once, and the call is freed.
 * It has no frame limit and no connection: call->conn is NULL.  Returns
 * 0, AUGUR_EMALFORMED with a reason in @errmsg (API_ERRMSG_SIZE bytes),
 * AUGUR_ETOOBIG or AUGUR_ENOMEM. */
int api_call_local(struct api_server *s,
                   const void *request,
                   size_t len,
                   void (*cb)(void *data, const void *answer, size_t len),
                   void *data,
                   struct api_call **out,
                   char *errmsg) API_WARN_UNUSED;

#endif
