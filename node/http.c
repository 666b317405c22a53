/* augurd's HTTP server: libmicrohttpd in its external epoll mode, driven by
 * a uv_poll_t on MHD's epoll descriptor and a uv_timer_t for its
 * timeouts, so that every request is handled on the node's loop thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/error.h"
#include "common/log.h"
#include "node/http.h"

struct node_http
{
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    unsigned open_handles; /* freed when both are closed */
    node_http_handler handler;
    void *data;
    size_t body_max;
    bool closing;
    struct node_http_exchange *suspended; /* connections MHD holds back */
};

/* One request's state between MHD's calls of the access handler, and,
 * when its answer is deferred or streamed, until the handler is done with
 * it: it is freed once MHD has completed the request (@completed), the
 * handler has answered a deferred request (@answered) and a stream's
 * response is gone (@stream_done). */
struct node_http_exchange
{
    struct node_http *h; /* NULL once the server closed */
    struct MHD_Connection *conn;
    char *body;
    size_t len, cap;
    bool too_big; /* a chunked body went over the limit */
    bool in_handler;
    bool deferred;  /* node_http_defer */
    bool answered;  /* node_http_answer came */
    bool completed; /* MHD is done with the request */
    bool suspended;
    struct node_http_reply reply; /* a deferred answer, until sent */
    /* A stream (node_http_stream). */
    bool streaming;
    bool stream_done; /* its response was destroyed */
    const char *stream_type;
    long (*pull)(void *data, char *buf, size_t max);
    void (*closed)(void *data);
    void *stream_data;
    struct node_http_exchange *prev, *next; /* in h->suspended */
};

static void http_run(struct node_http *h);

static void on_timer(uv_timer_t *t)
{
    http_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)events;
    if (status < 0) {
        LOG(LOG_LEVEL_WARN, "http: poll: %s", uv_strerror(status));
    }
    http_run(p->data);
}

/* Let MHD do what is ready, then wake up again when it wants to (its
 * connections' timeouts, or at once when it has more ready than it did in
 * one go: its epoll is edge-triggered inside). */
static void http_run(struct node_http *h)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;

    if (h->closing) {
        return;
    }
    unsigned before = node_http_connections(h);
    if (MHD_run(h->daemon) != MHD_YES) {
        LOG(LOG_LEVEL_WARN, "http: MHD_run failed");
    }
    /* At its connection limit MHD takes the listening socket out of its
     * epoll set, and puts it back only at the start of a run: when a run
     * closed connections, run again at once, or no event would ever come
     * to accept the next one (an idle server would stop accepting). */
    if (node_http_connections(h) < before && MHD_run(h->daemon) != MHD_YES) {
        LOG(LOG_LEVEL_WARN, "http: MHD_run failed");
    }
    if (MHD_get_timeout(h->daemon, &ms) == MHD_YES) {
        uv_timer_start(&h->timer, on_timer, ms, 0);
    } else {
        uv_timer_stop(&h->timer);
    }
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t len;

    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    LOG(LOG_LEVEL_WARN, "http: %s", line);
}

/* Free @r once nobody holds it any more. */
static void exchange_release(struct node_http_exchange *r)
{
    if (!r->completed || (r->deferred && !r->answered) ||
        (r->streaming && !r->stream_done)) {
        return;
    }
    free(r->reply.body);
    free(r->body);
    free(r);
}

static void suspend(struct node_http_exchange *r)
{
    struct node_http *h = r->h;

    MHD_suspend_connection(r->conn);
    r->suspended = true;
    r->prev = NULL;
    r->next = h->suspended;
    if (h->suspended != NULL) {
        h->suspended->prev = r;
    }
    h->suspended = r;
}

static void resume(struct node_http_exchange *r)
{
    struct node_http *h = r->h;

    if (!r->suspended || h == NULL) {
        return;
    }
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        h->suspended = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    r->suspended = false;
    MHD_resume_connection(r->conn);
    /* MHD takes resumed connections at the start of its next run. */
    if (!h->closing) {
        uv_timer_start(&h->timer, on_timer, 0, 0);
    }
}

static void on_completed(void *cls,
                         struct MHD_Connection *conn,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct node_http_exchange *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r != NULL) {
        *con_cls = NULL;
        r->completed = true;
        r->conn = NULL;
        exchange_release(r);
    }
}

static enum MHD_Result send_reply(struct MHD_Connection *conn,
                                  struct node_http_reply *reply)
{
    struct MHD_Response *res;
    enum MHD_Result rv;

    if (reply->body != NULL) {
        res = MHD_create_response_from_buffer(reply->len, reply->body,
                                              MHD_RESPMEM_MUST_FREE);
    } else {
        res = MHD_create_response_from_buffer(0, (void *)"",
                                              MHD_RESPMEM_PERSISTENT);
    }
    if (res == NULL) {
        free(reply->body);
        reply->body = NULL;
        return MHD_NO;
    }
    reply->body = NULL; /* the response owns it */
    if (reply->content_type != NULL) {
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
                                reply->content_type);
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (reply->allow != NULL) {
        MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, reply->allow);
    }
    if (reply->location != NULL) {
        MHD_add_response_header(res, MHD_HTTP_HEADER_LOCATION, reply->location);
    }
    if (reply->www_auth != NULL) {
        MHD_add_response_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                reply->www_auth);
    }
    if (reply->csp != NULL) {
        MHD_add_response_header(res, "Content-Security-Policy", reply->csp);
        MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(res, "Referrer-Policy", "no-referrer");
    }
    rv = MHD_queue_response(conn, reply->status, res);
    MHD_destroy_response(res);
    return rv;
}

/* MHD asks a stream for bytes: pull them, or hold the connection back
 * until node_http_stream_wake when there are none yet. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct node_http_exchange *r = cls;
    long n;

    (void)pos;
    if (r->h == NULL || r->h->closing) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    n = r->pull(r->stream_data, buf, max);
    if (n < 0) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (n == 0) {
        suspend(r);
    }
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct node_http_exchange *r = cls;

    r->stream_done = true;
    if (r->closed != NULL) {
        r->closed(r->stream_data);
    }
    exchange_release(r);
}

static enum MHD_Result send_stream(struct node_http_exchange *r)
{
    struct MHD_Response *res;
    enum MHD_Result rv;

    res = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                            stream_read, r, stream_free);
    if (res == NULL) {
        r->streaming = false;
        r->stream_done = true;
        if (r->closed != NULL) {
            r->closed(r->stream_data);
        }
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, r->stream_type);
    MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(res, "X-Accel-Buffering", "no");
    rv = MHD_queue_response(r->conn, MHD_HTTP_OK, res);
    MHD_destroy_response(res);
    return rv;
}

static enum MHD_Result on_access(void *cls,
                                 struct MHD_Connection *conn,
                                 const char *url,
                                 const char *method,
                                 const char *version,
                                 const char *upload_data,
                                 size_t *upload_data_size,
                                 void **con_cls)
{
    struct node_http *h = cls;
    struct node_http_exchange *r = *con_cls;
    struct node_http_reply reply;
    struct node_http_request req;

    (void)version;
    memset(&reply, 0, sizeof reply);
    if (r == NULL) {
        const char *cl;
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            return MHD_NO;
        }
        r->h = h;
        r->conn = conn;
        *con_cls = r;
        /* A declared body over the limit is refused before it is read;
         * MHD then closes the connection instead of reading it. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end = NULL;
            unsigned long long v;
            errno = 0;
            v = strtoull(cl, &end, 10);
            if (errno != 0 || end == cl || v > h->body_max) {
                node_http_error(&reply, MHD_HTTP_CONTENT_TOO_LARGE, "ETOOBIG",
                                "the request body is over %zu bytes",
                                h->body_max);
                return send_reply(conn, &reply);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_big || n > h->body_max - r->len) {
            /* A chunked body: MHD cannot answer in the middle of one, so
             * the connection is dropped rather than read on. */
            LOG(LOG_LEVEL_DEBUG,
                "http: %s %s: a chunked body over %zu bytes: connection "
                "closed",
                method, url, h->body_max);
            r->too_big = true;
            return MHD_NO;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap == 0 ? 1024 : r->cap;
            while (cap < r->len + n + 1) {
                cap *= 2;
            }
            char *p = realloc(r->body, cap);
            if (p == NULL) {
                return MHD_NO;
            }
            r->body = p;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->deferred) {
        /* Resumed: the deferred answer came. */
        if (!r->answered) {
            suspend(r);
            return MHD_YES;
        }
        return send_reply(conn, &r->reply);
    }
    req.method = method;
    req.path = url;
    req.body = r->body;
    req.body_len = r->len;
    req.exchange = r;
    req.conn = conn;
    r->in_handler = true;
    h->handler(h->data, &req, &reply);
    r->in_handler = false;
    if (r->streaming) {
        free(reply.body);
        return send_stream(r);
    }
    if (r->deferred) {
        free(reply.body);
        if (!r->answered) {
            suspend(r);
            return MHD_YES;
        }
        return send_reply(conn, &r->reply);
    }
    if (reply.status == 0) {
        free(reply.body);
        memset(&reply, 0, sizeof reply);
        node_http_error(&reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "EINTERNAL",
                        "the request was not answered");
    }
    return send_reply(conn, &reply);
}

/* "HOST:PORT" (IPv4) or "[HOST]:PORT" (IPv6) into @ss. */
static int parse_address(const char *address,
                         struct sockaddr_storage *ss,
                         bool *v6,
                         char *errmsg)
{
    char host[64];
    const char *colon;
    const char *port_s;
    char *end = NULL;
    unsigned long port;
    size_t hlen;

    memset(ss, 0, sizeof *ss);
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (close == NULL || close[1] != ':') {
            goto bad;
        }
        hlen = (size_t)(close - address - 1);
        if (hlen == 0 || hlen >= sizeof host) {
            goto bad;
        }
        memcpy(host, address + 1, hlen);
        port_s = close + 2;
        *v6 = true;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL) {
            goto bad;
        }
        hlen = (size_t)(colon - address);
        if (hlen == 0 || hlen >= sizeof host) {
            goto bad;
        }
        memcpy(host, address, hlen);
        port_s = colon + 1;
        *v6 = false;
    }
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(port_s, &end, 10);
    if (errno != 0 || end == port_s || *end != '\0' || port == 0 ||
        port > 65535) {
        goto bad;
    }
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            goto bad;
        }
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            goto bad;
        }
    }
    return 0;
bad:
    snprintf(errmsg, NODE_HTTP_ERRMSG_SIZE,
             "http address '%.100s': expected IPV4:PORT or [IPV6]:PORT with "
             "a port in 1..65535",
             address);
    return AUGUR_EINVAL;
}

int node_http_address_check(const char *address, char *errmsg)
{
    struct sockaddr_storage ss;
    bool v6;
    return parse_address(address, &ss, &v6, errmsg);
}

int node_http_start(uv_loop_t *loop,
                    const struct node_http_config *cfg,
                    node_http_handler handler,
                    void *data,
                    struct node_http **out,
                    char *errmsg)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct node_http *h;
    bool v6 = false;
    int rv;

    rv = parse_address(cfg->address, &ss, &v6, errmsg);
    if (rv != 0) {
        return rv;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(errmsg, NODE_HTTP_ERRMSG_SIZE, "http: out of memory");
        return AUGUR_ENOMEM;
    }
    h->handler = handler;
    h->data = data;
    h->body_max = cfg->body_max;
    /* HTTPS: the PEM texts as options (MHD loads them into GnuTLS). */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    bool https = cfg->tls_cert != NULL && cfg->tls_key != NULL;
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
            (v6 ? MHD_USE_IPv6 : 0) | (https ? MHD_USE_TLS : 0),
        0, NULL, NULL, on_access, h,
        /* The logger first: MHD logs the options after it through it. */
        MHD_OPTION_EXTERNAL_LOGGER, on_log, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->max_conns, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->header_bytes, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        h, MHD_OPTION_ARRAY, https ? tls : tls + 2, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(errmsg, NODE_HTTP_ERRMSG_SIZE,
                 "http: cannot listen on %.100s (address in use or not "
                 "local? see the log)",
                 cfg->address);
        free(h);
        return AUGUR_EIO;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL) {
        snprintf(errmsg, NODE_HTTP_ERRMSG_SIZE, "http: no epoll descriptor");
        MHD_stop_daemon(h->daemon);
        free(h);
        return AUGUR_EIO;
    }
    rv = uv_poll_init(loop, &h->poll, info->epoll_fd);
    if (rv != 0) {
        snprintf(errmsg, NODE_HTTP_ERRMSG_SIZE, "http: uv_poll_init: %s",
                 uv_strerror(rv));
        MHD_stop_daemon(h->daemon);
        free(h);
        return AUGUR_EIO;
    }
    uv_timer_init(loop, &h->timer);
    h->poll.data = h;
    h->timer.data = h;
    h->open_handles = 2;
    uv_poll_start(&h->poll, UV_READABLE, on_poll);
    http_run(h);
    *out = h;
    return 0;
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct node_http *h = handle->data;
    if (--h->open_handles == 0) {
        free(h);
    }
}

void node_http_close(struct node_http *h)
{
    if (h == NULL || h->closing) {
        return;
    }
    h->closing = true;
    /* MHD must not be stopped with connections suspended: resume them
     * (their deferred answers, if they ever come, are then dropped). */
    while (h->suspended != NULL) {
        struct node_http_exchange *r = h->suspended;
        h->suspended = r->next;
        r->suspended = false;
        MHD_resume_connection(r->conn);
    }
    /* libuv forgets the descriptor in uv_close (epoll_ctl DEL), so MHD
     * may close it afterwards. */
    uv_close((uv_handle_t *)&h->poll, on_handle_closed);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
}

unsigned node_http_connections(const struct node_http *h)
{
    const union MHD_DaemonInfo *info;

    if (h == NULL || h->daemon == NULL) {
        return 0;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info != NULL ? info->num_connections : 0;
}

void node_http_json(struct node_http_reply *reply,
                    unsigned status,
                    const void *json)
{
    char *text = json_dumps(json, JSON_COMPACT);
    size_t len;

    reply->status = status;
    reply->content_type = "application/json";
    reply->body = NULL;
    reply->len = 0;
    if (text == NULL) {
        reply->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return;
    }
    /* A line ending, for curl users; the buffer is ours (malloc) so that
     * MHD frees it with free(). */
    len = strlen(text);
    reply->body = malloc(len + 2);
    if (reply->body != NULL) {
        memcpy(reply->body, text, len);
        reply->body[len] = '\n';
        reply->body[len + 1] = '\0';
        reply->len = len + 1;
    } else {
        reply->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    free(text);
}

void node_http_error(struct node_http_reply *reply,
                     unsigned status,
                     const char *code,
                     const char *fmt,
                     ...)
{
    char msg[512];
    va_list ap;
    json_t *j;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (j == NULL) {
        reply->status = status;
        reply->content_type = "application/json";
        return;
    }
    node_http_json(reply, status, j);
    if (reply->status == MHD_HTTP_INTERNAL_SERVER_ERROR) {
        reply->status = status;
    }
    json_decref(j);
}

const char *node_http_header(const struct node_http_request *req,
                             const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *node_http_query(const struct node_http_request *req,
                            const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_each
{
    int (*cb)(void *data, const char *k, const char *v);
    void *data;
    int rv;
};

static enum MHD_Result query_each_one(void *cls,
                                      enum MHD_ValueKind kind,
                                      const char *key,
                                      const char *value)
{
    struct query_each *q = cls;

    (void)kind;
    q->rv = q->cb(q->data, key, value != NULL ? value : "");
    return q->rv == 0 ? MHD_YES : MHD_NO;
}

int node_http_query_each(const struct node_http_request *req,
                         int (*cb)(void *data, const char *k, const char *v),
                         void *data)
{
    struct query_each q = {cb, data, 0};

    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_each_one,
                              &q);
    return q.rv;
}

void node_http_defer(struct node_http_exchange *x)
{
    x->deferred = true;
}

void node_http_answer(struct node_http_exchange *x,
                      struct node_http_reply *reply)
{
    if (x->answered) {
        free(reply->body);
        reply->body = NULL;
        return;
    }
    x->answered = true;
    x->reply = *reply;
    reply->body = NULL;
    if (x->completed) {
        exchange_release(x); /* the client or the server is gone */
        return;
    }
    if (!x->in_handler) {
        resume(x);
    }
}

int node_http_stream(struct node_http_exchange *x,
                     const char *content_type,
                     long (*pull)(void *data, char *buf, size_t max),
                     void (*closed)(void *data),
                     void *data)
{
    x->streaming = true;
    x->stream_type = content_type;
    x->pull = pull;
    x->closed = closed;
    x->stream_data = data;
    return 0;
}

void node_http_stream_wake(struct node_http_exchange *x)
{
    if (x->suspended) {
        resume(x);
    }
}
