/* augurd's HTTP server: libmicrohttpd driven from the node's libuv loop.
 * Everything runs on the loop thread (MHD has no thread of its own), so a
 * handler reads node state without locks.  The server knows no route: it
 * hands each complete request to the handler and sends what it fills in. */
#ifndef AUGUR_NODE_HTTP_H
#define AUGUR_NODE_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include <uv.h>

#define NODE_HTTP_ERRMSG_SIZE 256

struct node_http; /* opaque */

/* The limits (docs/HTTP.md, "Limits"). */
struct node_http_config
{
    const char *address; /* "HOST:PORT", an IPv4 or IPv6 literal */
    unsigned max_conns;  /* connections at once; more are refused */
    size_t header_bytes; /* per-connection memory for the request line and
                            headers; a request over it is refused */
    size_t body_max;     /* request body bytes; over it: 413 */
    unsigned timeout_s;  /* an idle or slow connection is closed after */
    /* HTTPS: the certificate (chain) and its private key, PEM texts
     * (node/http_tls.h checks them), kept by the caller until
     * node_http_close; both NULL: plain HTTP. */
    const char *tls_cert;
    const char *tls_key;
};

/* One request being answered: see node_http_defer. */
struct node_http_exchange;

/* A complete request, valid during the handler call only.  @path has no
 * query string; @body holds @body_len bytes (NUL-terminated; NULL when
 * none).  Headers and query arguments: node_http_header, node_http_query. */
struct node_http_request
{
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    struct node_http_exchange *exchange;
    void *conn; /* the server's */
};

/* What the handler answers: @status, @content_type (static storage) and
 * @body, a malloc'd buffer of @len bytes that the server then owns (frees
 * after sending).  NULL body: an empty one.  A handler that answers later
 * (node_http_defer) leaves @status 0. */
struct node_http_reply
{
    unsigned status;
    const char *content_type;
    const char *allow;    /* a 405's Allow header (static storage), or NULL */
    const char *location; /* a redirect's Location (static storage), or NULL */
    const char *www_auth; /* a 401's WWW-Authenticate (static), or NULL */
    /* Content-Security-Policy (static storage), or NULL; when set, the
     * reply also says X-Content-Type-Options: nosniff and Referrer-Policy:
     * no-referrer (the web UI's pages, docs/HTTP.md "Web UI"). */
    const char *csp;
    char *body;
    size_t len;
};

typedef void (*node_http_handler)(void *data,
                                  const struct node_http_request *req,
                                  struct node_http_reply *reply);

/* A request header (case-insensitive name) or query argument, NULL when
 * absent; valid during the handler call only. */
const char *node_http_header(const struct node_http_request *req,
                             const char *name);
const char *node_http_query(const struct node_http_request *req,
                            const char *name);
/* Call @cb(@data, key, value) for every query argument, in order; stops
 * and returns the first non-zero @cb returns. */
int node_http_query_each(const struct node_http_request *req,
                         int (*cb)(void *data, const char *k, const char *v),
                         void *data);

/* Answer later: called in the handler (which then leaves the reply
 * empty), it keeps the request's connection waiting until
 * node_http_answer(@x, ...) is called, exactly once, from the loop.  The
 * exchange outlives the connection: an answer to a client that is gone,
 * or to a server that closed, is dropped. */
void node_http_defer(struct node_http_exchange *x);
void node_http_answer(struct node_http_exchange *x,
                      struct node_http_reply *reply);

/* A stream (Server-Sent Events): called in the handler instead of
 * answering, it answers 200 with @content_type and a body of unknown
 * length, whose bytes come from @pull(@data, buf, max): the number of
 * bytes written into @buf (at most @max), 0 when there is nothing to send
 * now (the connection then waits for node_http_stream_wake), or -1 to end
 * the stream.  @closed(@data) runs once when the stream ends for any
 * reason (client gone, -1, server closed); after it the stream's exchange
 * must not be used.  Returns 0, or AUGUR_ENOMEM (answer with an error
 * then). */
int node_http_stream(struct node_http_exchange *x,
                     const char *content_type,
                     long (*pull)(void *data, char *buf, size_t max),
                     void (*closed)(void *data),
                     void *data) __attribute__((warn_unused_result));
/* There is something to pull again: resume the stream's connection. */
void node_http_stream_wake(struct node_http_exchange *x);

/* Whether @address has the form node_http_start takes: 0, or AUGUR_EINVAL
 * with one line in @errmsg (NODE_HTTP_ERRMSG_SIZE bytes).  For refusing a
 * bad configuration before anything starts. */
int node_http_address_check(const char *address, char *errmsg)
    __attribute__((warn_unused_result));

/* Listen on cfg->address and serve on @loop; @handler(@data, ...) answers
 * each request on the loop.  Returns 0 with *@out set, or AUGUR_EINVAL (a
 * bad address), AUGUR_EIO (cannot listen: in use, not permitted) or
 * AUGUR_ENOMEM with one line in @errmsg (NODE_HTTP_ERRMSG_SIZE bytes);
 * nothing is left open on error. */
int node_http_start(uv_loop_t *loop,
                    const struct node_http_config *cfg,
                    node_http_handler handler,
                    void *data,
                    struct node_http **out,
                    char *errmsg) __attribute__((warn_unused_result));

/* Stop listening, close every connection and free @h once its loop
 * handles are closed (the loop must run on).  NULL is a no-op. */
void node_http_close(struct node_http *h);

/* Connections open now. */
unsigned node_http_connections(const struct node_http *h);

/* Fill @reply with the JSON error {"error":{"code":CODE,"message":...}}
 * and @status.  On out of memory the body is left empty (the status
 * stands). */
void node_http_error(struct node_http_reply *reply,
                     unsigned status,
                     const char *code,
                     const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* Fill @reply with @status and the JSON text of @json (a jansson json_t *,
 * not consumed).  A JSON body that cannot be made becomes a 500 error. */
void node_http_json(struct node_http_reply *reply,
                    unsigned status,
                    const void *json);

#endif
