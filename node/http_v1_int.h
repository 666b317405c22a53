/* The pure parts of the /v1 router (node/http_v1.c): route matching, a
 * request's argument map and the bearer header.  They touch no node, no
 * loop and no network, so that tests/fuzz/fuzz_http.c can drive them; the
 * rest of node/http_v1.c is private to it. */
#ifndef AUGUR_NODE_HTTP_V1_INT_H
#define AUGUR_NODE_HTTP_V1_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/ops.h"
#include "node/http.h"

enum v1_flags
{
    V1_BODY = 1u << 0,     /* takes a JSON object body */
    V1_ACCEPTED = 1u << 1, /* answers 202 (work started) */
};

/* One row of node/http_v1.c's route table. */
struct v1_route
{
    const char *method;
    const char *pattern; /* "/v1/claims/{}/transfer": {} is one segment */
    enum augur_op op;    /* AUGUR_OP_NONE: the op is the path's {} */
    const char *arg1;    /* the argument the first {} fills */
    const char *arg2;    /* the second's */
    unsigned flags;
    /* A node op's argument keys (store ops' come from common/ops.h). */
    const char *const *keys;
};

enum v1_type
{
    V1_STR,
    V1_UINT,
    V1_INT,
    V1_DOUBLE,
    V1_BOOL,
};

/* Building one request's argument map. */
struct v1_build
{
    enum augur_op op;
    const struct v1_route *route;
    msgpack_packer pk;
    uint32_t n; /* entries packed */
    bool stale;
    char why[256];
    const char *path1, *path2; /* the path's arguments: not again */
};

/* How the query arguments of a request are walked: node_http_query_each
 * for a real one (the fuzz target passes its own). */
typedef int (*node__http_v1_query_fn)(const struct node_http_request *req,
                                      int (*cb)(void *data,
                                                const char *k,
                                                const char *v),
                                      void *data);

/* The route for @method (HEAD as GET) and @path (no query string): the
 * row, with the path's {} segments in @a1 and @a2 (@size bytes each, ""
 * when none), or NULL.  *@methods gets the methods the path takes, as bits
 * (1 GET, 2 POST, 4 DELETE): 0 when no route has that path (404), else a
 * NULL return is a 405. */
const struct v1_route *node__http_v1_route(const char *method,
                                           const char *path,
                                           char *a1,
                                           char *a2,
                                           size_t size,
                                           unsigned *methods);

/* The argument map of a request for @route's @op: the body's fields (each
 * one the op knows), the path's (@a1, @a2) and the query's (walked by
 * @query_each).  @b must be zeroed.  Returns 0 with the packed map
 * appended to @out, AUGUR_EINVAL with the reason in @b->why, or
 * AUGUR_ENOMEM. */
int node__http_v1_build_args(const struct node_http_request *req,
                             const struct v1_route *route,
                             enum augur_op op,
                             const char *a1,
                             const char *a2,
                             node__http_v1_query_fn query_each,
                             struct v1_build *b,
                             msgpack_sbuffer *out);

/* The token of an Authorization header @h ("Bearer TOKEN", the scheme in
 * any case, spaces around the token dropped): a pointer into @h with its
 * length in *@len, or NULL when @h is NULL or not a bearer credential. */
const char *node__http_v1_bearer(const char *h, size_t *len);

#endif
