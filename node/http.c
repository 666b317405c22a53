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
};

/* One request's state between MHD's calls of the access handler. */
struct http_req
{
    char *body;
    size_t len, cap;
    bool too_big; /* a chunked body went over the limit */
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

static void on_completed(void *cls,
                         struct MHD_Connection *conn,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r != NULL) {
        free(r->body);
        free(r);
        *con_cls = NULL;
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
    rv = MHD_queue_response(conn, reply->status, res);
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
    struct http_req *r = *con_cls;
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
    req.method = method;
    req.path = url;
    req.body = r->body;
    req.body_len = r->len;
    h->handler(h->data, &req, &reply);
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
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) |
            (https ? MHD_USE_TLS : 0),
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
