/* Fuzz target: the /v1 router's handling of a request (node/http_v1.c,
 * through node/http_v1_int.h), without a node or a network.  The input is
 * read as an HTTP request written out:
 *
 *   METHOD PATH[?QUERY]\n
 *   Name: value\n          (headers, until an empty line)
 *   \n
 *   BODY                   (the rest, NUL bytes included)
 *
 * QUERY is split at '&' and '=' and %XX-decoded, as libmicrohttpd does.
 * The request goes through route matching, the argument map (the JSON body
 * with its unknown-field checks, the query's conversions, the path's
 * arguments) and the Authorization header's bearer parse; each must keep
 * its promises: a route for the method asked, path arguments that are one
 * segment each, an argument map that is one msgpack map of string keys
 * holding exactly the entries counted, an error with a reason.
 *
 * http_v1.c also holds the rest of the /v1 server (sessions, forwarding,
 * answers), which calls into the node; those functions are stubbed below
 * and trap if called: the parts fuzzed here must never reach them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

#include "common/error.h"
#include "node/http_v1_int.h"
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_QUERY 64
#define ARG_SIZE 256

struct fuzz_query
{
    char *k[MAX_QUERY];
    char *v[MAX_QUERY];
    size_t n;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* %XX and '+' decoded in place. */
static void unescape(char *s)
{
    char *out = s;

    for (; *s != '\0'; s++) {
        if (*s == '+') {
            *out++ = ' ';
        } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0 &&
                   (hexval(s[1]) | hexval(s[2])) != 0) {
            *out++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* The query walk node_http_query_each does, over the fuzzer's arguments
 * (req->conn). */
static int query_each(const struct node_http_request *req,
                      int (*cb)(void *data, const char *k, const char *v),
                      void *data)
{
    const struct fuzz_query *q = req->conn;

    for (size_t i = 0; i < q->n; i++) {
        int rv = cb(data, q->k[i], q->v[i]);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* The argument map must be one map of string keys, @n entries. */
static void check_args(const msgpack_sbuffer *out, uint32_t n)
{
    msgpack_unpacked un;
    size_t off = 0;

    msgpack_unpacked_init(&un);
    if (msgpack_unpack_next(&un, out->data, out->size, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != out->size || un.data.type != MSGPACK_OBJECT_MAP ||
        un.data.via.map.size != n) {
        __builtin_trap();
    }
    for (uint32_t i = 0; i < n; i++) {
        if (un.data.via.map.ptr[i].key.type != MSGPACK_OBJECT_STR) {
            __builtin_trap();
        }
    }
    msgpack_unpacked_destroy(&un);
}

static void check_route(const char *method,
                        const char *path,
                        const struct fuzz_query *q,
                        const char *body,
                        size_t body_len)
{
    char a1[ARG_SIZE], a2[ARG_SIZE];
    struct node_http_request req;
    const struct v1_route *route;
    unsigned methods;
    struct v1_build b;
    msgpack_sbuffer out;
    enum augur_op op;
    int rv;

    route = node__http_v1_route(method, path, a1, a2, sizeof a1, &methods);
    if (route == NULL) {
        return;
    }
    if (methods == 0 ||
        (strcmp(route->method, method) != 0 &&
         !(strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0))) {
        __builtin_trap();
    }
    /* A {} is one non-empty segment; the path is the pattern filled. */
    if (strchr(a1, '/') != NULL || strchr(a2, '/') != NULL ||
        ((route->arg1 != NULL || route->op == AUGUR_OP_NONE) &&
         a1[0] == '\0') ||
        (route->arg2 != NULL && a2[0] == '\0')) {
        __builtin_trap();
    }
    op = route->op;
    if (op == AUGUR_OP_NONE) {
        op = augur_op_find(a1, strlen(a1));
        if (op == AUGUR_OP_NONE || op == AUGUR_OP_HTTP_FORWARD) {
            return; /* 404, as node__http_v1 answers */
        }
    }
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.body = body_len > 0 ? body : NULL;
    req.body_len = body_len;
    req.conn = (void *)q;
    memset(&b, 0, sizeof b);
    msgpack_sbuffer_init(&out);
    rv =
        node__http_v1_build_args(&req, route, op, a1, a2, query_each, &b, &out);
    if (rv == 0) {
        check_args(&out, b.n);
    } else if (rv == AUGUR_EINVAL) {
        if (b.why[0] == '\0' || out.size != 0) {
            __builtin_trap();
        }
    } else if (rv != AUGUR_ENOMEM) {
        __builtin_trap();
    }
    msgpack_sbuffer_destroy(&out);
}

static void check_bearer(const char *h)
{
    size_t len = 0;
    const char *tok = node__http_v1_bearer(h, &len);

    if (tok == NULL) {
        return;
    }
    if (tok < h || tok > h + strlen(h) || len > strlen(tok) ||
        (len > 0 && (tok[0] == ' ' || tok[len - 1] == ' '))) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *line, *end, *path, *query, *body, *auth = NULL;
    size_t body_len = 0;
    struct fuzz_query q;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&q, 0, sizeof q);

    /* The request line. */
    end = memchr(text, '\n', size);
    body = end != NULL ? end + 1 : text + size;
    if (end != NULL) {
        *end = '\0';
    }
    line = text;
    path = strchr(line, ' ');
    if (path == NULL) {
        free(text);
        return 0;
    }
    *path++ = '\0';
    query = strchr(path, '?');
    if (query != NULL) {
        *query++ = '\0';
        while (query != NULL && q.n < MAX_QUERY) {
            char *next = strchr(query, '&');
            char *eq;
            if (next != NULL) {
                *next++ = '\0';
            }
            eq = strchr(query, '=');
            if (eq != NULL) {
                *eq++ = '\0';
            }
            unescape(query);
            if (eq != NULL) {
                unescape(eq);
            }
            q.k[q.n] = query;
            q.v[q.n] = eq != NULL ? eq : (char *)"";
            q.n++;
            query = next;
        }
    }
    /* Headers, to an empty line; the rest is the body. */
    while (body < text + size) {
        char *nl = memchr(body, '\n', (size_t)(text + size - body));
        char *h = body;
        body = nl != NULL ? nl + 1 : text + size;
        if (nl != NULL) {
            *nl = '\0';
        }
        if (h[0] == '\0') {
            break;
        }
        if (strncasecmp(h, "Authorization:", 14) == 0) {
            auth = h + 14;
            while (*auth == ' ') {
                auth++;
            }
        }
    }
    body_len = (size_t)(text + size - body);

    check_route(line, path, &q, body, body_len);
    check_bearer(auth);
    free(text);
    return 0;
}

/* ---- what http_v1.c's server half calls: never reached here ----------- */

void node__pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* (node__arg_get: declared by node/node.h where the server half reads
 * answers with it.) */
const msgpack_object *node__arg_get(const msgpack_object *args,
                                    const char *key);
const msgpack_object *node__arg_get(const msgpack_object *args, const char *key)
{
    (void)args, (void)key;
    __builtin_trap();
}

int node__arg_u64(const msgpack_object *args, const char *key, uint64_t *out)
{
    (void)args, (void)key, (void)out;
    __builtin_trap();
}

uint64_t node__now_ms(void)
{
    __builtin_trap();
}

void node__on_request(struct api_server *s, struct api_call *call)
{
    (void)s, (void)call;
    __builtin_trap();
}

int node__token_check(struct node *n,
                      const char *token,
                      size_t len,
                      struct node_token *out,
                      char *errmsg)
{
    (void)n, (void)token, (void)len, (void)out, (void)errmsg;
    __builtin_trap();
}

int node_uplink_call(struct node_uplink *u,
                     const char *op,
                     const void *args,
                     size_t len,
                     node_uplink_cb cb,
                     void *data,
                     uint64_t *id)
{
    (void)u, (void)op, (void)args, (void)len, (void)cb, (void)data, (void)id;
    __builtin_trap();
}

void node_uplink_cancel(struct node_uplink *u, uint64_t id)
{
    (void)u, (void)id;
    __builtin_trap();
}

bool replica_is_leader(struct replica *r)
{
    (void)r;
    __builtin_trap();
}

uint64_t replica_leader_id(struct replica *r)
{
    (void)r;
    __builtin_trap();
}

int api_call_local(struct api_server *s,
                   const void *request,
                   size_t len,
                   void (*cb)(void *data, const void *answer, size_t len),
                   void *data,
                   struct api_call **out,
                   char *errmsg)
{
    (void)s, (void)request, (void)len, (void)cb, (void)data, (void)out;
    (void)errmsg;
    __builtin_trap();
}

void api_call_reply(struct api_call *call, const void *answer, size_t len)
{
    (void)call, (void)answer, (void)len;
    __builtin_trap();
}

void api_call_reply_error(struct api_call *call,
                          int status,
                          const char *leader_hint,
                          const char *fmt,
                          ...)
{
    (void)call, (void)status, (void)leader_hint, (void)fmt;
    __builtin_trap();
}

void api_call_shed(struct api_call *call)
{
    (void)call;
    __builtin_trap();
}
