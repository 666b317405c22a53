/* The HTTP/JSON API, /v1 (docs/HTTP.md, "API"): each route is one op of
 * common/ops.h, called as a client of the binary protocol would call it.
 *
 * A request is authenticated by its bearer token (node__token_check), its
 * JSON body and query become the op's argument map, and the op goes to
 * node__on_request as a local api_call (api/server.h): the same role
 * checks, validation, Raft writes and reads as every other client.  Its
 * answer comes back as JSON.
 *
 * - Writes of the state machine apply at most once within a session: this
 *   node keeps one per principal (a random client id, sequences from 1),
 *   opened with session.open on first use and again when the cluster
 *   forgot it (ESESSION: nothing applied).
 * - A follower answers ENOTLEADER to writes and linearizable reads; the
 *   request then goes to the leader over this node's uplink as
 *   http.forward {"token", "client", "request"}: the leader verifies the
 *   token itself and runs the same request map under that principal, with
 *   this node's client id and sequence, so a forwarded write is still
 *   deduplicated.
 * - Every request has a deadline; past it the client hears 503 (a write:
 *   EINDETERMINATE, it may still apply). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <sodium.h>

#include "api/mpjson.h"
#include "common/error.h"
#include "common/log.h"
#include "node/http_v1.h"
#include "node/http_v1_int.h"
#include "node/node.h"

/* A request not answered by then gets 503. */
#define V1_DEADLINE_MS 15000
/* Sessions kept at most (one per principal that wrote through this node);
 * the least recently used is forgotten beyond it (the cluster expires it
 * on its own). */
#define V1_SESSIONS_MAX 256
/* A request the leader could not take (an election, a leader that just
 * stopped) is sent again this long after. */
#define V1_RETRY_MS 100

/* The route table: struct v1_route is in node/http_v1_int.h. */
static const char *const keys_status[] = {"digest", NULL};
static const char *const keys_predict[] = {"resource", "window", NULL};
static const char *const keys_telemetry[] = {"resource", "last", NULL};
static const char *const keys_leader[] = {"id", NULL};
static const char *const keys_member_add[] = {"id", "address", "client_address",
                                              "role", NULL};
static const char *const keys_member_remove[] = {"id", NULL};
static const char *const keys_token[] = {"token", NULL};
static const char *const keys_none[] = {NULL};

#define GET MHD_HTTP_METHOD_GET
#define POST MHD_HTTP_METHOD_POST
#define DEL MHD_HTTP_METHOD_DELETE

/* clang-format off */
static const struct v1_route v1_routes[] = {
    {GET,  "/v1/status",                   AUGUR_OP_STATUS,            NULL, NULL, 0, keys_status},
    {GET,  "/v1/whoami",                   AUGUR_OP_WHOAMI,            NULL, NULL, 0, keys_none},
    {GET,  "/v1/resources",                AUGUR_OP_RESOURCE_LIST,     NULL, NULL, 0, NULL},
    {POST, "/v1/resources",                AUGUR_OP_RESOURCE_ADD,      NULL, NULL, V1_BODY, NULL},
    {GET,  "/v1/resources/{}",             AUGUR_OP_RESOURCE_GET,      "id", NULL, 0, NULL},
    {POST, "/v1/resources/{}/state",       AUGUR_OP_RESOURCE_SET_STATE, "id", NULL, V1_BODY, NULL},
    {POST, "/v1/resources/{}/score",       AUGUR_OP_SCORE_SET,         "id", NULL, V1_BODY, NULL},
    {GET,  "/v1/workloads",                AUGUR_OP_WORKLOAD_LIST,     NULL, NULL, 0, NULL},
    {POST, "/v1/workloads",                AUGUR_OP_WORKLOAD_ADD,      NULL, NULL, V1_BODY, NULL},
    {GET,  "/v1/workloads/{}",             AUGUR_OP_WORKLOAD_GET,      "id", NULL, 0, NULL},
    {GET,  "/v1/claims",                   AUGUR_OP_CLAIM_LIST,        NULL, NULL, 0, NULL},
    {GET,  "/v1/claims/{}",                AUGUR_OP_CLAIM_GET,         "workload", NULL, 0, NULL},
    {POST, "/v1/claims/{}/acquire",        AUGUR_OP_CLAIM_ACQUIRE,     "workload", NULL, V1_BODY, NULL},
    {POST, "/v1/claims/{}/transfer",       AUGUR_OP_CLAIM_TRANSFER,    "workload", NULL, V1_BODY, NULL},
    {POST, "/v1/claims/{}/release",        AUGUR_OP_CLAIM_RELEASE,     "workload", NULL, V1_BODY, NULL},
    {GET,  "/v1/edges",                    AUGUR_OP_EDGE_LIST,         NULL, NULL, 0, NULL},
    {POST, "/v1/edges",                    AUGUR_OP_EDGE_ADD,          NULL, NULL, V1_BODY, NULL},
    {DEL,  "/v1/edges",                    AUGUR_OP_EDGE_REMOVE,       NULL, NULL, 0, NULL},
    {GET,  "/v1/cohorts",                  AUGUR_OP_COHORT_LIST,       NULL, NULL, 0, NULL},
    {POST, "/v1/cohorts",                  AUGUR_OP_COHORT_CREATE,     NULL, NULL, V1_BODY, NULL},
    {GET,  "/v1/cohorts/{}",               AUGUR_OP_COHORT_GET,        "name", NULL, 0, NULL},
    {DEL,  "/v1/cohorts/{}",               AUGUR_OP_COHORT_DELETE,     "name", NULL, 0, NULL},
    {POST, "/v1/cohorts/{}/workloads",     AUGUR_OP_COHORT_ADD,        "name", NULL, V1_BODY, NULL},
    {DEL,  "/v1/cohorts/{}/workloads/{}",  AUGUR_OP_COHORT_REMOVE,     "name", "workload", 0, NULL},
    {GET,  "/v1/shadows",                  AUGUR_OP_SHADOW_LIST,       NULL, NULL, 0, NULL},
    {GET,  "/v1/workflows",                AUGUR_OP_WORKFLOW_LIST,     NULL, NULL, 0, NULL},
    {POST, "/v1/workflows",                AUGUR_OP_WORKFLOW_CREATE,   NULL, NULL, V1_BODY | V1_ACCEPTED, NULL},
    {GET,  "/v1/workflows/{}",             AUGUR_OP_WORKFLOW_GET,      "id", NULL, 0, NULL},
    {POST, "/v1/workflows/{}/cancel",      AUGUR_OP_WORKFLOW_CANCEL,   "id", NULL, V1_BODY, NULL},
    {POST, "/v1/workflows/{}/approve",     AUGUR_OP_WORKFLOW_APPROVE,  "id", NULL, V1_BODY, NULL},
    {POST, "/v1/orchestrate_migration",    AUGUR_OP_WORKFLOW_CREATE,   NULL, NULL, V1_BODY | V1_ACCEPTED, NULL},
    {POST, "/v1/predict_failure",          AUGUR_OP_PREDICT,           NULL, NULL, V1_BODY, keys_predict},
    {GET,  "/v1/policy",                   AUGUR_OP_POLICY_GET,        NULL, NULL, 0, NULL},
    {POST, "/v1/policy",                   AUGUR_OP_POLICY_SET,        NULL, NULL, V1_BODY, NULL},
    {GET,  "/v1/nodes",                    AUGUR_OP_NODE_LIST,         NULL, NULL, 0, NULL},
    {GET,  "/v1/members",                  AUGUR_OP_MEMBER_LIST,       NULL, NULL, 0, keys_none},
    {POST, "/v1/members",                  AUGUR_OP_MEMBER_ADD,        NULL, NULL, V1_BODY, keys_member_add},
    {DEL,  "/v1/members/{}",               AUGUR_OP_MEMBER_REMOVE,     "id", NULL, 0, keys_member_remove},
    {POST, "/v1/leader/transfer",          AUGUR_OP_LEADER_TRANSFER,   NULL, NULL, V1_BODY, keys_leader},
    {GET,  "/v1/models",                   AUGUR_OP_MODEL_LIST,        NULL, NULL, 0, NULL},
    {GET,  "/v1/principals",               AUGUR_OP_PRINCIPAL_LIST,    NULL, NULL, 0, NULL},
    {POST, "/v1/principals",               AUGUR_OP_PRINCIPAL_ADD,     NULL, NULL, V1_BODY, NULL},
    {DEL,  "/v1/principals/{}",            AUGUR_OP_PRINCIPAL_REMOVE,  "name", NULL, 0, NULL},
    {GET,  "/v1/telemetry/{}",             AUGUR_OP_TELEMETRY_GET,     "resource", NULL, 0, keys_telemetry},
    {POST, "/v1/token/verify",             AUGUR_OP_TOKEN_VERIFY,      NULL, NULL, V1_BODY, keys_token},
    {POST, "/v1/ops/{}",                   AUGUR_OP_NONE,              NULL, NULL, V1_BODY, NULL},
};
/* clang-format on */

/* ---- argument keys ---------------------------------------------------- */

/* Every store op's argument keys and their codec types, from its row. */
struct v1_key
{
    const char *key;
    const char *type;
};

#undef F
#define F(KEY, TYPE, FLAGS, MEMBER) {#KEY, #TYPE},
#define V1__KEYS(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    static const struct v1_key v1_keys_##ID[] = {ARGS{NULL, NULL}};
AUGUR_STORE_OPS(V1__KEYS)
#undef V1__KEYS
#undef F

static const struct v1_key *store_keys(enum augur_op op)
{
    switch (op) {
#define V1__CASE(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    case AUGUR_OP_##ID:                                      \
        return v1_keys_##ID;
        AUGUR_STORE_OPS(V1__CASE)
#undef V1__CASE
        default:
            return NULL;
    }
}

/* Whether @key is an argument of @op (a list op's "after" and "limit"
 * included), and how a query string gives it. */
static bool key_known(enum augur_op op,
                      const struct v1_route *route,
                      const char *key,
                      size_t len,
                      enum v1_type *type)
{
    const struct v1_key *k = store_keys(op);

    *type = V1_STR;
    if (k == NULL) {
        const char *const *keys = route != NULL ? route->keys : NULL;
        if (keys == NULL) {
            return true; /* a node op through /v1/ops: its handler checks */
        }
        for (; *keys != NULL; keys++) {
            if (strlen(*keys) == len && memcmp(*keys, key, len) == 0) {
                if (strcmp(*keys, "last") == 0 || strcmp(*keys, "id") == 0 ||
                    strcmp(*keys, "window") == 0) {
                    *type = V1_UINT;
                } else if (strcmp(*keys, "digest") == 0) {
                    *type = V1_BOOL;
                }
                return true;
            }
        }
        return false;
    }
    for (; k->key != NULL; k++) {
        bool list = strncmp(k->type, "LIST", 4) == 0;
        if (list && ((len == 5 && memcmp(key, "limit", 5) == 0) ||
                     (len == 5 && memcmp(key, "after", 5) == 0))) {
            *type = len == 5 && key[0] == 'l' ? V1_UINT : V1_STR;
            return true;
        }
        if (strlen(k->key) != len || memcmp(k->key, key, len) != 0) {
            continue;
        }
        if (strcmp(k->type, "U64") == 0 || strcmp(k->type, "FROM") == 0 ||
            strcmp(k->type, "LIMIT") == 0 || strcmp(k->type, "WINDOW") == 0) {
            *type = V1_UINT;
        } else if (strcmp(k->type, "I64") == 0) {
            *type = V1_INT;
        } else if (strcmp(k->type, "PROB") == 0 ||
                   strcmp(k->type, "CONF") == 0) {
            *type = V1_DOUBLE;
        } else if (strcmp(k->type, "BOOL") == 0) {
            *type = V1_BOOL;
        }
        return true;
    }
    return false;
}

/* ---- state ------------------------------------------------------------ */

struct v1_session
{
    uint8_t key[SECURE_PK_SIZE];
    uint64_t client;
    uint64_t next_seq;
    bool open;
    bool opening;
    uint64_t used_ms;
    struct v1_req *waiting; /* writes waiting for session.open */
    struct v1_session *next;
};

struct v1_req
{
    struct node *n;
    struct node_http_exchange *x; /* NULL for a session.open */
    enum augur_op op;
    unsigned ok_status;
    bool stale;
    msgpack_sbuffer args; /* the packed argument map */
    char token[TOKEN_INPUT_MAX + 1];
    struct node_token tok;
    struct v1_session *sess; /* store writes */
    uint64_t seq;
    bool retried;   /* once after ESESSION */
    bool forwarded; /* sent to the leader */
    bool answered;  /* the client has its answer */
    bool local;     /* a local call is out */
    bool busy;      /* node__http_v1 still holds it */
    bool uplink;    /* an uplink call is out */
    uint64_t uplink_id;
    uint64_t deadline_ms;
    uint64_t retry_at_ms;       /* 0, or when to send it again */
    struct v1_req *wait_next;   /* in its session's waiting list */
    struct v1_req *prev, *next; /* in node_v1's list */
};

struct node_v1
{
    struct v1_req *reqs;
    struct v1_session *sessions;
    unsigned n_sessions;
    uint64_t requests; /* answered */
    uint64_t forwarded;
};

static void req_send(struct v1_req *r);

/* ---- answering -------------------------------------------------------- */

static unsigned status_of(int code)
{
    switch (code) {
        case AUGUR_EINVAL:
        case AUGUR_EMALFORMED:
        case AUGUR_ECYCLE:
            return MHD_HTTP_BAD_REQUEST;
        case AUGUR_EAUTH:
            return MHD_HTTP_UNAUTHORIZED;
        case AUGUR_EPERM:
            return MHD_HTTP_FORBIDDEN;
        case AUGUR_ENOTFOUND:
            return MHD_HTTP_NOT_FOUND;
        case AUGUR_EEXIST:
        case AUGUR_ECONFLICT:
        case AUGUR_ENOCAPACITY:
        case AUGUR_EUNAVAILABLE:
        case AUGUR_ECOMPACTED:
        case AUGUR_EBUSY: /* another workflow of the workload runs */
            return MHD_HTTP_CONFLICT;
        case AUGUR_ETOOBIG:
            return MHD_HTTP_CONTENT_TOO_LARGE;
        case AUGUR_ENOTLEADER:
        case AUGUR_ENOLEADER:
        case AUGUR_ETIMEOUT:
        case AUGUR_ECONNECT:
        case AUGUR_EINDETERMINATE:
        case AUGUR_ESHUTDOWN:
        case AUGUR_ESESSION:
            return MHD_HTTP_SERVICE_UNAVAILABLE;
        default:
            return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static void req_free(struct v1_req *r)
{
    struct node_v1 *v = r->n->v1;

    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else if (v != NULL && v->reqs == r) {
        v->reqs = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    msgpack_sbuffer_destroy(&r->args);
    sodium_memzero(r->token, sizeof r->token);
    free(r);
}

/* Free @r once nothing holds it. */
static void req_maybe_free(struct v1_req *r)
{
    if (r->answered && !r->local && !r->uplink && !r->busy) {
        req_free(r);
    }
}

static void req_reply(struct v1_req *r, struct node_http_reply *reply)
{
    if (r->answered) {
        free(reply->body);
        return;
    }
    r->answered = true;
    if (r->n->v1 != NULL) {
        r->n->v1->requests++;
    }
    if (r->x != NULL) {
        node_http_answer(r->x, reply);
    } else {
        free(reply->body);
    }
}

static void req_error(struct v1_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void req_error(struct v1_req *r, int code, const char *fmt, ...)
{
    struct node_http_reply reply;
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memset(&reply, 0, sizeof reply);
    node_http_error(&reply, status_of(code), augur_errname(code), "%s", msg);
    if (code == AUGUR_EAUTH) {
        reply.www_auth = "Bearer";
    }
    req_reply(r, &reply);
}

/* Fail every write waiting for @s's session.open. */
static void session_fail(struct v1_session *s, int code, const char *msg)
{
    while (s->waiting != NULL) {
        struct v1_req *w = s->waiting;
        s->waiting = w->wait_next;
        w->wait_next = NULL;
        req_error(w, code, "opening a session: %s", msg);
        req_maybe_free(w);
    }
}
/* Answers after which the same request is sent again (to whichever node
 * leads by then): nobody led, or the leader changed or stopped before it
 * answered. */
static bool retryable(int64_t code)
{
    return code == AUGUR_ENOLEADER || code == AUGUR_ENOTLEADER ||
           code == AUGUR_EINDETERMINATE || code == AUGUR_ESHUTDOWN;
}

/* Forward @r to the leader over the uplink. */
static void req_forward(struct v1_req *r);

/* The op's answer (a packed answer map): JSON for the client, or another
 * try (the leader; a new session). */
static void req_answer(struct v1_req *r, const void *answer, size_t len)
{
    struct node *n = r->n;
    const msgpack_object *status, *result, *error;
    msgpack_unpacked un;
    int64_t code = AUGUR_EMALFORMED;
    char msg[512] = "an answer that could not be read";

    msgpack_unpacked_init(&un);
    if (msgpack_unpack_next(&un, answer, len, NULL) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy(&un);
        req_error(r, AUGUR_EINTERNAL, "%s", msg);
        return;
    }
    status = node__arg_get(&un.data, "status");
    result = node__arg_get(&un.data, "result");
    error = node__arg_get(&un.data, "error");
    if (status != NULL && (status->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                           status->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
        code = status->via.i64;
    }
    if (error != NULL && error->type == MSGPACK_OBJECT_STR) {
        snprintf(msg, sizeof msg, "%.*s",
                 (int)(error->via.str.size > 500 ? 500 : error->via.str.size),
                 error->via.str.ptr);
    }
    if (code == 0) {
        struct node_http_reply reply;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        if (r->sess != NULL && r->op == AUGUR_OP_SESSION_OPEN) {
            /* This node's own session.open. */
            struct v1_session *s = r->sess;
            msgpack_sbuffer_destroy(&sb);
            msgpack_unpacked_destroy(&un);
            s->opening = false;
            s->open = true;
            r->answered = true;
            while (s->waiting != NULL) {
                struct v1_req *w = s->waiting;
                s->waiting = w->wait_next;
                w->wait_next = NULL;
                req_send(w);
            }
            return;
        }
        if (result == NULL) {
            static const char empty[] = "{}";
            msgpack_sbuffer_write(&sb, empty, sizeof empty - 1);
        } else if (mpjson_print(result, &sb) != 0) {
            msgpack_sbuffer_destroy(&sb);
            msgpack_unpacked_destroy(&un);
            req_error(r, AUGUR_ENOMEM, "the answer could not be printed");
            return;
        }
        msgpack_sbuffer_write(&sb, "\n", 1);
        memset(&reply, 0, sizeof reply);
        reply.status = r->ok_status;
        reply.content_type = "application/json";
        reply.body = sb.data; /* malloc'd by the sbuffer */
        reply.len = sb.size;
        msgpack_unpacked_destroy(&un);
        req_reply(r, &reply);
        return;
    }
    msgpack_unpacked_destroy(&un);
    if ((code == AUGUR_ENOTLEADER || code == AUGUR_ENOLEADER) &&
        !r->forwarded && !r->stale && !replica_is_leader(&n->replica) &&
        replica_leader_id(&n->replica) != 0 && !n->stopping) {
        req_forward(r);
        return;
    }
    if (retryable(code) && node__now_ms() + V1_RETRY_MS * 2 < r->deadline_ms &&
        !n->stopping) {
        /* No leader right now, or it changed under the request: try again
         * shortly, a write under the same sequence (applied at most once),
         * until the deadline. */
        r->forwarded = false;
        r->retry_at_ms = node__now_ms() + V1_RETRY_MS;
        return;
    }
    if (code == AUGUR_ESESSION && r->sess != NULL && !r->retried &&
        r->op != AUGUR_OP_SESSION_OPEN) {
        /* The cluster forgot the session (expired): nothing applied.  Open
         * it again and send the write once more, under a new sequence. */
        r->retried = true;
        r->sess->open = false;
        r->forwarded = false;
        r->seq = 0;
        req_send(r);
        return;
    }
    if (r->sess != NULL && r->op == AUGUR_OP_SESSION_OPEN) {
        r->sess->opening = false;
        session_fail(r->sess, (int)code, msg);
        r->answered = true;
        return;
    }
    req_error(r, (int)code, "%s", msg);
}

static void on_local_answer(void *data, const void *answer, size_t len)
{
    struct v1_req *r = data;

    r->local = false;
    if (!r->answered) {
        req_answer(r, answer, len);
    }
    req_maybe_free(r);
}

static void on_uplink_answer(void *data,
                             int status,
                             const void *answer,
                             size_t len)
{
    struct v1_req *r = data;

    r->uplink = false;
    if (r->answered) {
        req_maybe_free(r);
        return;
    }
    if (status == 0) {
        req_answer(r, answer, len);
    } else if (retryable(status) &&
               node__now_ms() + V1_RETRY_MS * 2 < r->deadline_ms &&
               !r->n->stopping) {
        r->forwarded = false;
        r->retry_at_ms = node__now_ms() + V1_RETRY_MS;
    } else if (status == AUGUR_EINDETERMINATE && augur_op_is_write(r->op)) {
        req_error(r, status,
                  "the connection to the leader was lost before the write's "
                  "answer: it may still apply");
    } else {
        req_error(r, status == AUGUR_EINDETERMINATE ? AUGUR_ENOLEADER : status,
                  "the leader could not be reached (%s): retry",
                  augur_strerror(status));
    }
    req_maybe_free(r);
}

/* ---- sending ---------------------------------------------------------- */

/* The request map of @r: {"id", "op", "args", "stale", "seq", "ack"}. */
static int req_pack(struct v1_req *r, msgpack_sbuffer *out)
{
    const char *op = augur_op_wire(r->op);
    uint64_t ack = r->seq;
    msgpack_packer pk;
    size_t n = 4;

    if (r->seq != 0) {
        /* The lowest sequence this session still waits for. */
        for (struct v1_req *o = r->n->v1->reqs; o != NULL; o = o->next) {
            /* Every write not answered yet, a retry waiting included:
             * the cluster must keep its answer for a resend. */
            if (o->sess == r->sess && o->seq != 0 && o->seq < ack &&
                !o->answered) {
                ack = o->seq;
            }
        }
        n += 2;
    }
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    node__pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, 1);
    node__pack_str(&pk, "op");
    node__pack_str(&pk, op);
    node__pack_str(&pk, "args");
    if (r->args.size > 0) {
        msgpack_sbuffer_write(out, r->args.data, r->args.size);
    } else {
        msgpack_pack_map(&pk, 0);
    }
    node__pack_str(&pk, "stale");
    if (r->stale) {
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_false(&pk);
    }
    if (r->seq != 0) {
        node__pack_str(&pk, "seq");
        msgpack_pack_uint64(&pk, r->seq);
        node__pack_str(&pk, "ack");
        msgpack_pack_uint64(&pk, ack);
    }
    return 0;
}

static void req_forward(struct v1_req *r)
{
    struct node *n = r->n;
    msgpack_sbuffer req, args;
    msgpack_packer pk;
    int rv;

    r->forwarded = true;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&args);
    req_pack(r, &req);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    node__pack_str(&pk, "token");
    node__pack_str(&pk, r->token);
    node__pack_str(&pk, "client");
    msgpack_pack_uint64(&pk, r->sess != NULL ? r->sess->client : 0);
    node__pack_str(&pk, "request");
    msgpack_pack_bin(&pk, req.size);
    msgpack_pack_bin_body(&pk, req.data, req.size);
    rv = node_uplink_call(&n->uplink, augur_op_wire(AUGUR_OP_HTTP_FORWARD),
                          args.data, args.size, on_uplink_answer, r,
                          &r->uplink_id);
    sodium_memzero(args.data, args.size);
    msgpack_sbuffer_destroy(&args);
    msgpack_sbuffer_destroy(&req);
    if (rv != 0) {
        req_error(r, AUGUR_ENOLEADER,
                  "node %" PRIu64 " cannot forward to the leader (%s): retry",
                  n->config.id, augur_strerror(rv));
        return;
    }
    r->uplink = true;
    n->v1->forwarded++;
}

/* Whether a request not answered yet belongs to @s. */
static bool session_busy(const struct node_v1 *v, const struct v1_session *s)
{
    for (const struct v1_req *r = v->reqs; r != NULL; r = r->next) {
        if (r->sess == s && (!r->answered || r->local || r->uplink)) {
            return true;
        }
    }
    return false;
}

static struct v1_session *session_get(struct node *n,
                                      const uint8_t key[SECURE_PK_SIZE])
{
    struct node_v1 *v = n->v1;
    struct v1_session **pp = &v->sessions;
    struct v1_session **oldest = NULL;
    struct v1_session *s;

    for (; *pp != NULL; pp = &(*pp)->next) {
        if (sodium_memcmp((*pp)->key, key, SECURE_PK_SIZE) == 0) {
            (*pp)->used_ms = node__now_ms();
            return *pp;
        }
        if ((*pp)->waiting == NULL && !(*pp)->opening &&
            !session_busy(v, *pp) &&
            (oldest == NULL || (*pp)->used_ms < (*oldest)->used_ms)) {
            oldest = pp;
        }
    }
    /* Beyond the bound the least recently used idle session goes (the
     * cluster expires it on its own); one with a write unanswered stays,
     * or a resend could not reuse its sequence. */
    if (v->n_sessions >= V1_SESSIONS_MAX && oldest != NULL) {
        s = *oldest;
        *oldest = s->next;
        free(s);
        v->n_sessions--;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s->key, key, SECURE_PK_SIZE);
    randombytes_buf(&s->client, sizeof s->client);
    s->client |= 1; /* never 0: 0 is "no session" */
    s->next_seq = 1;
    s->used_ms = node__now_ms();
    s->next = v->sessions;
    v->sessions = s;
    v->n_sessions++;
    return s;
}

static struct v1_req *req_new(struct node *n)
{
    struct v1_req *r = calloc(1, sizeof *r);

    if (r == NULL) {
        return NULL;
    }
    r->n = n;
    msgpack_sbuffer_init(&r->args);
    r->deadline_ms = node__now_ms() + V1_DEADLINE_MS;
    r->next = n->v1->reqs;
    if (r->next != NULL) {
        r->next->prev = r;
    }
    n->v1->reqs = r;
    return r;
}

/* Open @s: a session.open of its own, under the principal of @for_req. */
static void session_open(struct v1_session *s, const struct v1_req *for_req)
{
    struct v1_req *o = req_new(for_req->n);

    if (o == NULL) {
        session_fail(s, AUGUR_ENOMEM, "out of memory");
        return;
    }
    s->opening = true;
    o->op = AUGUR_OP_SESSION_OPEN;
    o->sess = s;
    o->tok = for_req->tok;
    memcpy(o->token, for_req->token, sizeof o->token);
    req_send(o);
}

/* Run @r: as a local call, which its answer may send on to the leader. */
static void req_send(struct v1_req *r)
{
    struct node *n = r->n;
    char errmsg[API_ERRMSG_SIZE];
    struct api_call *call;
    msgpack_sbuffer req;
    int rv;

    if (augur_op_is_store_write(r->op) && r->op != AUGUR_OP_SESSION_OPEN) {
        if (r->sess == NULL) {
            r->sess = session_get(n, r->tok.claims.key);
            if (r->sess == NULL) {
                req_error(r, AUGUR_ENOMEM, "out of memory");
                return;
            }
        }
        if (!r->sess->open && r->seq == 0) {
            r->wait_next = r->sess->waiting;
            r->sess->waiting = r;
            if (!r->sess->opening) {
                session_open(r->sess, r);
            }
            return;
        }
        if (r->seq == 0) {
            r->seq = r->sess->next_seq++;
        }
    }
    msgpack_sbuffer_init(&req);
    req_pack(r, &req);
    rv = api_call_local(&n->server, req.data, req.size, on_local_answer, r,
                        &call, errmsg);
    msgpack_sbuffer_destroy(&req);
    if (rv != 0) {
        req_error(r, rv, "%s", errmsg);
        return;
    }
    call->client = r->sess != NULL ? r->sess->client : 0;
    memcpy(call->key, r->tok.claims.key, sizeof call->key);
    call->role = r->tok.store_role;
    snprintf(call->principal, sizeof call->principal, "%s", r->tok.principal);
    r->local = true;
    node__on_request(&n->server, call);
}

/* ---- requests --------------------------------------------------------- */

/* Match @path against @pattern: true with the {} segments in @a1, @a2. */
static bool route_match(const char *pattern,
                        const char *path,
                        char *a1,
                        char *a2,
                        size_t size)
{
    int arg = 0;

    a1[0] = a2[0] = '\0';
    while (*pattern != '\0') {
        if (pattern[0] == '{' && pattern[1] == '}') {
            char *out = arg++ == 0 ? a1 : a2;
            size_t len = strcspn(path, "/");
            if (len == 0 || len >= size) {
                return false;
            }
            memcpy(out, path, len);
            out[len] = '\0';
            path += len;
            pattern += 2;
            continue;
        }
        if (*pattern != *path) {
            return false;
        }
        pattern++;
        path++;
    }
    return *path == '\0';
}

/* Pack one argument given as text (a path segment or query value). */
static int pack_text(msgpack_packer *pk,
                     const char *key,
                     const char *value,
                     enum v1_type type,
                     char *why,
                     size_t why_size)
{
    char *end = NULL;

    node__pack_str(pk, key);
    switch (type) {
        case V1_UINT: {
            unsigned long long v;
            if (value[0] < '0' || value[0] > '9') {
                goto bad;
            }
            errno = 0;
            v = strtoull(value, &end, 10);
            if (errno != 0 || *end != '\0') {
                goto bad;
            }
            msgpack_pack_uint64(pk, v);
            return 0;
        }
        case V1_INT: {
            long long v;
            errno = 0;
            v = strtoll(value, &end, 10);
            if (errno != 0 || end == value || *end != '\0') {
                goto bad;
            }
            msgpack_pack_int64(pk, v);
            return 0;
        }
        case V1_DOUBLE: {
            double v = strtod(value, &end);
            if (end == value || *end != '\0') {
                goto bad;
            }
            msgpack_pack_double(pk, v);
            return 0;
        }
        case V1_BOOL:
            if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
                msgpack_pack_true(pk);
            } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
                msgpack_pack_false(pk);
            } else {
                goto bad;
            }
            return 0;
        case V1_STR:
            node__pack_str(pk, value);
            return 0;
    }
bad:
    snprintf(why, why_size, "'%.64s' must be %s, not '%.64s'", key,
             type == V1_BOOL     ? "true or false"
             : type == V1_DOUBLE ? "a number"
                                 : "an integer",
             value);
    return AUGUR_EINVAL;
}

static int query_arg(void *data, const char *k, const char *v)
{
    struct v1_build *b = data;
    enum v1_type type;

    if (strcmp(k, "stale") == 0) {
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || v[0] == '\0') {
            b->stale = true;
            return 0;
        }
        if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
            return 0;
        }
        snprintf(b->why, sizeof b->why, "'stale' must be true or false");
        return AUGUR_EINVAL;
    }
    if (!key_known(b->op, b->route, k, strlen(k), &type) ||
        (b->path1 != NULL && strcmp(k, b->path1) == 0) ||
        (b->path2 != NULL && strcmp(k, b->path2) == 0)) {
        snprintf(b->why, sizeof b->why, "unknown query argument '%.64s'", k);
        return AUGUR_EINVAL;
    }
    b->n++;
    return pack_text(&b->pk, k, v, type, b->why, sizeof b->why);
}

int node__http_v1_build_args(const struct node_http_request *req,
                             const struct v1_route *route,
                             enum augur_op op,
                             const char *a1,
                             const char *a2,
                             node__http_v1_query_fn query_each,
                             struct v1_build *b,
                             msgpack_sbuffer *out)
{
    msgpack_sbuffer body, fields;
    msgpack_unpacked un;
    enum v1_type type;
    int rv = 0;

    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&fields);
    msgpack_unpacked_init(&un);
    b->op = op;
    b->route = route;
    b->path1 = route->arg1;
    b->path2 = route->arg2;
    msgpack_packer_init(&b->pk, &fields, msgpack_sbuffer_write);
    if (req->body_len > 0) {
        bool blank = true;
        for (size_t i = 0; i < req->body_len; i++) {
            blank = blank && (req->body[i] == ' ' || req->body[i] == '\n' ||
                              req->body[i] == '\r' || req->body[i] == '\t');
        }
        if (blank) {
            goto query;
        }
        if ((route->flags & V1_BODY) == 0) {
            snprintf(b->why, sizeof b->why, "%s %s takes no body", req->method,
                     route->pattern);
            rv = AUGUR_EINVAL;
            goto done;
        }
        if (strlen(req->body) != req->body_len) {
            snprintf(b->why, sizeof b->why, "the body holds a NUL byte");
            rv = AUGUR_EINVAL;
            goto done;
        }
        rv = mpjson_parse(req->body, &body, b->why, sizeof b->why);
        if (rv != 0) {
            if (rv != AUGUR_ENOMEM) {
                char tmp[sizeof b->why];
                memcpy(tmp, b->why, sizeof tmp);
                snprintf(b->why, sizeof b->why, "the body: %.200s", tmp);
                rv = AUGUR_EINVAL;
            }
            goto done;
        }
        if (msgpack_unpack_next(&un, body.data, body.size, NULL) !=
                MSGPACK_UNPACK_SUCCESS ||
            un.data.type != MSGPACK_OBJECT_MAP) {
            snprintf(b->why, sizeof b->why, "the body is not a JSON object");
            rv = AUGUR_EINVAL;
            goto done;
        }
        for (uint32_t i = 0; i < un.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &un.data.via.map.ptr[i];
            const char *k = kv->key.via.str.ptr;
            size_t klen = kv->key.via.str.size;
            if (kv->key.type != MSGPACK_OBJECT_STR ||
                !key_known(op, route, k, klen, &type)) {
                snprintf(b->why, sizeof b->why, "unknown field '%.*s'",
                         (int)(klen > 64 ? 64 : klen), k);
                rv = AUGUR_EINVAL;
                goto done;
            }
            if ((b->path1 != NULL && strlen(b->path1) == klen &&
                 memcmp(b->path1, k, klen) == 0) ||
                (b->path2 != NULL && strlen(b->path2) == klen &&
                 memcmp(b->path2, k, klen) == 0)) {
                snprintf(b->why, sizeof b->why,
                         "'%.*s' is given by the path, not the body", (int)klen,
                         k);
                rv = AUGUR_EINVAL;
                goto done;
            }
            msgpack_pack_object(&b->pk, kv->key);
            msgpack_pack_object(&b->pk, kv->val);
            b->n++;
        }
    }
query:
    rv = query_each(req, query_arg, b);
    if (rv != 0) {
        goto done;
    }
    if (route->arg1 != NULL) {
        key_known(op, route, route->arg1, strlen(route->arg1), &type);
        rv = pack_text(&b->pk, route->arg1, a1, type, b->why, sizeof b->why);
        b->n++;
    }
    if (rv == 0 && route->arg2 != NULL) {
        key_known(op, route, route->arg2, strlen(route->arg2), &type);
        rv = pack_text(&b->pk, route->arg2, a2, type, b->why, sizeof b->why);
        b->n++;
    }
    if (rv == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, b->n);
        msgpack_sbuffer_write(out, fields.data, fields.size);
    }
done:
    msgpack_unpacked_destroy(&un);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&fields);
    return rv;
}

const char *node__http_v1_bearer(const char *h, size_t *len)
{
    size_t n;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        return NULL;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    n = strlen(h);
    while (n > 0 && h[n - 1] == ' ') {
        n--;
    }
    *len = n;
    return h;
}

/* "Authorization: Bearer TOKEN" -> @t; false when refused (answered). */
static bool authenticate(struct node *n,
                         const struct node_http_request *req,
                         struct node_http_reply *reply,
                         struct node_token *t,
                         char *token)
{
    const char *h = node_http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    char errmsg[TOKEN_ERRMSG_SIZE];
    size_t len = 0;
    const char *tok = node__http_v1_bearer(h, &len);
    int rv;

    if (tok == NULL) {
        node_http_error(reply, MHD_HTTP_UNAUTHORIZED, "EAUTH",
                        "%s: send 'Authorization: Bearer TOKEN' (augur token "
                        "create)",
                        h == NULL ? "no credentials" : "not a bearer token");
        reply->www_auth = "Bearer";
        return false;
    }
    rv = node__token_check(n, tok, len, t, errmsg);
    if (rv != 0) {
        node_http_error(
            reply,
            status_of(rv == AUGUR_EMALFORMED || rv == AUGUR_ETOOBIG
                          ? AUGUR_EAUTH
                          : rv),
            augur_errname(rv == AUGUR_EMALFORMED || rv == AUGUR_ETOOBIG
                              ? AUGUR_EAUTH
                              : rv),
            "%s (%s)", errmsg, token_fault_name(t->fault));
        if (reply->status == MHD_HTTP_UNAUTHORIZED) {
            reply->www_auth = "Bearer";
        }
        return false;
    }
    memcpy(token, tok, len);
    token[len] = '\0';
    return true;
}

bool node__http_authorize(struct node *n,
                          const struct node_http_request *req,
                          struct node_http_reply *reply,
                          struct node_token *t)
{
    char token[TOKEN_INPUT_MAX + 1];
    bool ok = authenticate(n, req, reply, t, token);

    sodium_memzero(token, sizeof token);
    return ok;
}

const struct v1_route *node__http_v1_route(const char *method,
                                           const char *path,
                                           char *a1,
                                           char *a2,
                                           size_t size,
                                           unsigned *methods)
{
    *methods = 0;
    for (size_t i = 0; i < sizeof v1_routes / sizeof v1_routes[0]; i++) {
        if (!route_match(v1_routes[i].pattern, path, a1, a2, size)) {
            continue;
        }
        *methods |= strcmp(v1_routes[i].method, GET) == 0    ? 1u
                    : strcmp(v1_routes[i].method, POST) == 0 ? 2u
                                                             : 4u;
        if (strcmp(v1_routes[i].method, method) == 0 ||
            (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 &&
             strcmp(v1_routes[i].method, GET) == 0)) {
            return &v1_routes[i];
        }
    }
    return NULL;
}

void node__http_v1(struct node *n,
                   const struct node_http_request *req,
                   struct node_http_reply *reply)
{
    /* The Allow header of a 405, by the methods a path takes. */
    static const char *const allow[8] = {
        NULL,           "GET, HEAD",
        "POST",         "GET, HEAD, POST",
        "DELETE",       "GET, HEAD, DELETE",
        "POST, DELETE", "GET, HEAD, POST, DELETE"};
    const struct v1_route *route;
    char a1[256], a2[256];
    unsigned methods;
    struct v1_build b;
    struct v1_req *r;
    enum augur_op op;
    int rv;

    route = node__http_v1_route(req->method, req->path, a1, a2, sizeof a1,
                                &methods);
    if (route == NULL) {
        if (methods != 0) {
            node_http_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED, "EINVAL",
                            "%.200s does not take %.20s", req->path,
                            req->method);
            reply->allow = allow[methods & 7u];
        } else {
            node_http_error(reply, MHD_HTTP_NOT_FOUND, "ENOTFOUND",
                            "no such endpoint: %.200s", req->path);
        }
        return;
    }
    if (n->v1 == NULL) {
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "ESHUTDOWN",
                        "the node is shutting down");
        return;
    }
    op = route->op;
    if (op == AUGUR_OP_NONE) {
        op = augur_op_find(a1, strlen(a1));
        if (op == AUGUR_OP_NONE || op == AUGUR_OP_HTTP_FORWARD) {
            node_http_error(reply, MHD_HTTP_NOT_FOUND, "ENOTFOUND",
                            "no op named '%.64s'", a1);
            return;
        }
    }
    r = req_new(n);
    if (r == NULL) {
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    if (!authenticate(n, req, reply, &r->tok, r->token)) {
        r->answered = true;
        req_free(r);
        return;
    }
    memset(&b, 0, sizeof b);
    rv = node__http_v1_build_args(req, route, op, a1, a2, node_http_query_each,
                                  &b, &r->args);
    if (rv != 0) {
        node_http_error(reply, status_of(rv), augur_errname(rv), "%s", b.why);
        r->answered = true;
        req_free(r);
        return;
    }
    r->op = op;
    r->stale = b.stale;
    r->x = req->exchange;
    r->ok_status =
        (route->flags & V1_ACCEPTED) != 0 ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK;
    node_http_defer(req->exchange);
    r->busy = true; /* its answer may come before req_send returns */
    req_send(r);
    r->busy = false;
    req_maybe_free(r);
}

/* ---- the leader's side of a forward ----------------------------------- */

struct v1_fwd
{
    struct api_call *parent;
};

static void on_forward_answer(void *data, const void *answer, size_t len)
{
    struct api_call *parent = data;

    api_call_reply(parent, answer, len);
}

void node__http_forward(struct node *n, struct api_call *call)
{
    const msgpack_object *args = call->req.args;
    const msgpack_object *token = NULL, *request = NULL;
    char errmsg[API_ERRMSG_SIZE];
    char terr[TOKEN_ERRMSG_SIZE];
    struct node_token t;
    struct api_call *inner;
    uint64_t client = 0;
    int rv;

    if (args != NULL && args->type == MSGPACK_OBJECT_MAP) {
        token = node__arg_get(args, "token");
        request = node__arg_get(args, "request");
        (void)node__arg_u64(args, "client", &client);
    }
    if (token == NULL || token->type != MSGPACK_OBJECT_STR || request == NULL ||
        request->type != MSGPACK_OBJECT_BIN) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "http.forward: 'token' (a string) and 'request' "
                             "(bytes) are required");
        return;
    }
    rv =
        node__token_check(n, token->via.str.ptr, token->via.str.size, &t, terr);
    if (rv != 0) {
        api_call_reply_error(call, rv == AUGUR_EMALFORMED ? AUGUR_EAUTH : rv,
                             NULL, "%s (%s)", terr, token_fault_name(t.fault));
        return;
    }
    rv = api_call_local(&n->server, request->via.bin.ptr, request->via.bin.size,
                        on_forward_answer, call, &inner, errmsg);
    if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "http.forward: %s", errmsg);
        return;
    }
    inner->client = client;
    memcpy(inner->key, t.claims.key, sizeof inner->key);
    inner->role = t.store_role;
    snprintf(inner->principal, sizeof inner->principal, "%s", t.principal);
    /* The parent's frame holds the request's bytes no longer needed. */
    api_call_shed(call);
    node__on_request(&n->server, inner);
}

/* ---- life ------------------------------------------------------------- */

int node__http_v1_init(struct node *n)
{
    n->v1 = calloc(1, sizeof *n->v1);
    return n->v1 != NULL ? 0 : AUGUR_ENOMEM;
}

void node__http_v1_tick(struct node *n, uint64_t now)
{
    struct v1_req *r, *next;

    if (n->v1 == NULL) {
        return;
    }
    for (r = n->v1->reqs; r != NULL; r = next) {
        next = r->next;
        if (!r->answered && r->retry_at_ms != 0 && now >= r->retry_at_ms &&
            now < r->deadline_ms) {
            r->retry_at_ms = 0;
            r->busy = true;
            req_send(r);
            r->busy = false;
            req_maybe_free(r);
            continue;
        }
        if (r->answered || now < r->deadline_ms) {
            continue;
        }
        if (r->uplink) {
            node_uplink_cancel(&n->uplink, r->uplink_id);
            r->uplink = false;
        }
        if (r->sess != NULL && r->op == AUGUR_OP_SESSION_OPEN) {
            r->sess->opening = false;
            session_fail(r->sess, AUGUR_ETIMEOUT, "no answer in time");
            r->answered = true;
        } else if (augur_op_is_write(r->op) &&
                   (r->local || r->forwarded || r->seq != 0)) {
            req_error(r, AUGUR_EINDETERMINATE,
                      "no answer within %d s: the write may still apply",
                      V1_DEADLINE_MS / 1000);
        } else {
            req_error(r, AUGUR_ETIMEOUT, "no answer within %d s: retry",
                      V1_DEADLINE_MS / 1000);
        }
        /* Waiting for a session: out of its list. */
        if (r->sess != NULL) {
            struct v1_req **pp = &r->sess->waiting;
            while (*pp != NULL && *pp != r) {
                pp = &(*pp)->wait_next;
            }
            if (*pp == r) {
                *pp = r->wait_next;
            }
        }
        req_maybe_free(r);
    }
}

void node__http_v1_close(struct node *n)
{
    struct node_v1 *v = n->v1;

    if (v == NULL) {
        return;
    }
    /* Local calls still out answer into requests that stay until then;
     * the rest go now. */
    for (struct v1_req *r = v->reqs, *next; r != NULL; r = next) {
        next = r->next;
        if (!r->answered) {
            req_error(r, AUGUR_ESHUTDOWN, "the node is shutting down");
        }
        r->wait_next = NULL;
        if (r->uplink) {
            node_uplink_cancel(&n->uplink, r->uplink_id);
            r->uplink = false;
        }
        if (!r->local) {
            req_free(r);
        } else {
            r->prev = r->next = NULL; /* freed by its answer */
        }
    }
    while (v->sessions != NULL) {
        struct v1_session *s = v->sessions;
        v->sessions = s->next;
        free(s);
    }
    n->v1 = NULL;
    free(v);
}
