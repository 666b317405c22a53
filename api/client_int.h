/* libaugur's private header: the client object shared by the files of the
 * client (client.c: the object, its options and keys; client_conn.c: the
 * connection state machine; client_queue.c: the call queue; client_typed.c:
 * the typed helpers), and the client__ functions they call across files. */
#ifndef AUGUR_API_CLIENT_INT_H
#define AUGUR_API_CLIENT_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "api/augur.h"
#include "wire/proto.h"
#include "wire/secure.h"

#define CLIENT_BACKOFF_MIN_MS 20
#define CLIENT_PORT_SIZE 6

struct endpoint
{
    char addr[AUGUR_ADDR_SIZE]; /* "host:port" as given; "" = none */
    char host[AUGUR_ADDR_SIZE];
    char port[CLIENT_PORT_SIZE];
};

/* The connection's lifecycle.  Every move goes through conn_move, which
 * checks it against the transition table of client_conn.c. */
enum conn_state
{
    CONN_IDLE,       /* no socket; the next attempt waits for retry_at */
    CONN_CONNECTING, /* non-blocking connect() in progress */
    CONN_HELLO,      /* HELLO queued, waiting for (CHALLENGE and) WELCOME */
    CONN_READY,      /* requests flow */
    CONN_STATE_COUNT
};

/* One submitted call, from augur_submit until its callback has run. */
struct call
{
    struct call *prev;
    struct call *next;
    uint64_t id;       /* request id, the same on every send */
    uint64_t seq;      /* session sequence of a write; 0 for a read */
    int64_t deadline;  /* monotonic ms */
    int budget_ms;     /* deadline - submit time, for the message */
    int64_t submitted; /* monotonic ms */
    int on_conn;       /* its REQUEST is queued on the current connection */
    int sent;          /* a REQUEST for it was ever queued on a connection */
    unsigned sends;    /* how many times */
    int reopened;      /* resent once after ESESSION */
    int internal;      /* the library's own session.open */
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
    /* The endpoint that last failed to connect or hung up with calls on it
     * (a leader just killed, most likely), and until when (monotonic ms) a
     * redirect naming it is not followed and the round robin passes it by:
     * followers keep naming a dead leader until their election timers fire.
     * "" = none. */
    char suspect[AUGUR_ADDR_SIZE];
    int64_t suspect_until;
    uint64_t rng; /* xorshift64 state, for backoff jitter */

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
    /* Verified authentication refusals in a row; see conn_auth_refused. */
    unsigned auth_refused;
    int auth_refusing; /* the connection ends on such a refusal */

    /* The session (principal, client id): opened with session.open before
     * the first write, and again after the cluster forgot it (ESESSION). */
    int session_open;        /* a session.open succeeded, none failed since */
    int session_opening;     /* a session.open call is queued */
    uint64_t session_ttl_ms; /* announced in WELCOME; 0 = not known yet */

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

static inline int64_t client__min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* client.c: the client object. */

/* The monotonic clock, in ms. */
int64_t client__now_ms(void);

/* Record "ENAME: @msg" (or the code's description when @msg is "") as the
 * message of the last failed call. */
void client__seterr(struct augur_client *c, int status, const char *msg);

/* Parse "host:port" (@len bytes of @s) into @ep.  Returns 0 or AUGUR_EINVAL
 * with a message in @errmsg (AUGUR_ERRMSG_SIZE bytes). */
int client__endpoint_parse(const char *s,
                           size_t len,
                           struct endpoint *ep,
                           char *errmsg);

/* client_conn.c: the connection. */

/* End the connection for the reason given, and retry after a backoff on the
 * next endpoint (at once if the connection was ready and idle). */
void client__conn_fail(struct augur_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* End the connection for the reason given; the caller schedules the next
 * attempt. */
void client__conn_drop(struct augur_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Schedule the next attempt after the current backoff, and grow it. */
void client__conn_retry_later(struct augur_client *c);

/* Reconnect to @leader, named by a redirect. */
void client__conn_redirect(struct augur_client *c,
                           const struct endpoint *leader);

/* Whether @addr failed this client a moment ago (see suspect above): a
 * redirect there would fail again. */
int client__conn_suspect(const struct augur_client *c, const char *addr);

/* Drive I/O until *@done is set (NULL: never), no call is in flight, or
 * @until passes (-1: never).  Returns 0 or AUGUR_ETIMEOUT. */
int client__loop(struct augur_client *c, const int *done, int64_t until);

/* client_queue.c: the calls. */

/* Queue a REQUEST for every call not yet on the connection, oldest first. */
void client__queue_send(struct augur_client *c);

/* Fail every call whose deadline has passed. */
void client__expire(struct augur_client *c, int64_t now);

/* Handle a RESPONSE frame's payload: complete its call, or follow the
 * redirect or retry it asks for. */
void client__on_response(struct augur_client *c,
                         const uint8_t *payload,
                         size_t len);

/* Fail every call that cannot have applied with AUGUR_ECONNECT: every
 * listed endpoint refused the connection. */
void client__fail_unreachable(struct augur_client *c);

/* Drop the connection and fail every call with AUGUR_EAUTH and @msg. */
void client__fail_auth(struct augur_client *c, const char *msg);

/* The session's lifetime became known (@ttl_ms): keep every write's
 * retries within half of it. */
void client__session_ttl(struct augur_client *c, uint64_t ttl_ms);

/* Submit a call and wait for it; fills @reply (see augur_call).  @wait_ms
 * is a long poll's wait, added to the call's deadline. */
int client__call(struct augur_client *c,
                 const char *op,
                 const void *args,
                 size_t args_len,
                 unsigned flags,
                 uint32_t wait_ms,
                 struct augur_reply *reply);

#endif
