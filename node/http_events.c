/* GET /v1/events: the event log as Server-Sent Events (docs/HTTP.md,
 * "Events").  One SSE event per revision, "id:" the revision, "event:" the
 * op that made it, "data:" the event object as JSON; a reconnect with
 * Last-Event-ID resumes at the next revision, so a client sees every
 * revision once, with no gap.
 *
 * Any node serves it from its applied store (the events are committed
 * entries); each stream is woken when the node applies, and pulls pages of
 * events as MHD has room to send them.  A stream's token is checked again
 * every few seconds: a removed principal's or an expired token's stream
 * ends with an "error" event. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "api/mpjson.h"
#include "common/error.h"
#include "common/log.h"
#include "node/http_v1_int.h"
#include "node/node.h"

/* Streams a node serves at once; more get 503. */
#define SSE_STREAMS_MAX 64
/* Events read per page. */
#define SSE_PAGE 256
/* A comment line goes out after this long without an event, so proxies and
 * the server's own idle timeout keep the connection. */
#define SSE_KEEPALIVE_MS 5000
/* The token is verified again this often. */
#define SSE_RECHECK_MS 5000

struct node_sse_stream
{
    struct node *n;
    struct node_http_exchange *x;
    uint64_t next;       /* the next revision to send */
    msgpack_sbuffer out; /* text not sent yet, from @pos */
    size_t pos;
    bool ended;  /* nothing more after @out */
    bool closed; /* the connection is gone: to free */
    uint64_t sent_ms, checked_ms;
    char token[TOKEN_INPUT_MAX + 1];
    struct node_sse_stream *prev, *next_stream;
};

struct node_sse
{
    struct node_sse_stream *streams;
    unsigned n;
};

static void out_puts(struct node_sse_stream *s, const char *text)
{
    msgpack_sbuffer_write(&s->out, text, strlen(text));
}

/* An "error" event, and the end of the stream. */
static void stream_end(struct node_sse_stream *s, int code, const char *msg)
{
    json_t *j =
        json_pack("{s:s,s:s}", "code", augur_errname(code), "message", msg);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    out_puts(s, "event: error\ndata: ");
    out_puts(s, text != NULL ? text : "{}");
    out_puts(s, "\n\n");
    free(text);
    json_decref(j);
    s->ended = true;
}

/* Append the events from s->next on, one page, to s->out. */
static void stream_fill(struct node_sse_stream *s)
{
    struct node *n = s->n;
    const msgpack_object *result, *events, *next, *status, *error;
    struct store_cmd cmd;
    msgpack_sbuffer answer;
    msgpack_unpacked un;
    int rv;

    if (store_revision(n->store) < s->next) {
        return;
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.op = STORE_OP_EVENTS;
    cmd.u.events.from = s->next;
    cmd.u.events.limit = SSE_PAGE;
    msgpack_sbuffer_init(&answer);
    msgpack_unpacked_init(&un);
    rv = store_read(n->store, &cmd, &answer);
    if (rv != 0 || msgpack_unpack_next(&un, answer.data, answer.size, NULL) !=
                       MSGPACK_UNPACK_SUCCESS) {
        stream_end(s, rv != 0 ? rv : AUGUR_EINTERNAL,
                   "the event log could not be read");
        goto done;
    }
    status = node__arg_get(&un.data, "status");
    if (status != NULL && status->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        status->via.u64 != 0) {
        char msg[256] = "the event log refused the read";
        error = node__arg_get(&un.data, "error");
        if (error != NULL && error->type == MSGPACK_OBJECT_STR) {
            snprintf(
                msg, sizeof msg, "%.*s",
                (int)(error->via.str.size > 200 ? 200 : error->via.str.size),
                error->via.str.ptr);
        }
        stream_end(s, (int)status->via.u64, msg);
        goto done;
    }
    result = node__arg_get(&un.data, "result");
    events = node__arg_get(result, "events");
    next = node__arg_get(result, "next");
    if (events == NULL || events->type != MSGPACK_OBJECT_ARRAY ||
        next == NULL || next->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        stream_end(s, AUGUR_EINTERNAL, "an event page without events");
        goto done;
    }
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        const msgpack_object *e = &events->via.array.ptr[i];
        const msgpack_object *rev = node__arg_get(e, "rev");
        const msgpack_object *op = node__arg_get(e, "op");
        char line[96];

        if (rev == NULL || rev->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            continue;
        }
        snprintf(line, sizeof line,
                 "id: %" PRIu64 "\nevent: %.*s\ndata: ", rev->via.u64,
                 op != NULL && op->type == MSGPACK_OBJECT_STR
                     ? (int)(op->via.str.size > 48 ? 48 : op->via.str.size)
                     : 7,
                 op != NULL && op->type == MSGPACK_OBJECT_STR ? op->via.str.ptr
                                                              : "unknown");
        out_puts(s, line);
        /* JSON text has no raw line break: one data line per event. */
        if (mpjson_print(e, &s->out) != 0) {
            out_puts(s, "{}");
        }
        out_puts(s, "\n\n");
    }
    s->next = next->via.u64;
done:
    msgpack_unpacked_destroy(&un);
    msgpack_sbuffer_destroy(&answer);
}

static long stream_pull(void *data, char *buf, size_t max)
{
    struct node_sse_stream *s = data;
    size_t len;

    if (s->pos == s->out.size) {
        s->out.size = 0;
        s->pos = 0;
        if (s->ended) {
            return -1;
        }
        stream_fill(s);
    }
    len = s->out.size - s->pos;
    if (len == 0) {
        return 0;
    }
    if (len > max) {
        len = max;
    }
    memcpy(buf, s->out.data + s->pos, len);
    s->pos += len;
    s->sent_ms = node__now_ms();
    return (long)len;
}

static void stream_free(struct node_sse_stream *s)
{
    struct node_sse *sse = s->n->sse;

    if (sse != NULL) {
        if (s->prev != NULL) {
            s->prev->next_stream = s->next_stream;
        } else if (sse->streams == s) {
            sse->streams = s->next_stream;
        }
        if (s->next_stream != NULL) {
            s->next_stream->prev = s->prev;
        }
        sse->n--;
    }
    msgpack_sbuffer_destroy(&s->out);
    sodium_memzero(s->token, sizeof s->token);
    free(s);
}

static void stream_closed(void *data)
{
    stream_free(data);
}

void node__http_events(struct node *n,
                       const struct node_http_request *req,
                       struct node_http_reply *reply)
{
    const char *last = node_http_header(req, "Last-Event-ID");
    const char *from = node_http_query(req, "from");
    const char *auth = node_http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    struct node_sse_stream *s;
    struct node_token t;
    uint64_t next = store_revision(n->store) + 1;
    char *end = NULL;

    if (strcmp(req->method, MHD_HTTP_METHOD_GET) != 0) {
        node_http_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED, "EINVAL",
                        "/v1/events takes GET only, not %.20s", req->method);
        reply->allow = "GET";
        return;
    }
    if (!node__http_authorize(n, req, reply, &t)) {
        return;
    }
    if (store_role_rank(t.store_role) < AUGUR_ROLE_READER) {
        node_http_error(reply, MHD_HTTP_FORBIDDEN, "EPERM",
                        "principal %s (role %s) may not read events",
                        t.principal, store_role_name(t.store_role));
        return;
    }
    /* Last-Event-ID (a reconnect) wins over the URL's from. */
    if (last != NULL && last[0] != '\0') {
        unsigned long long v = strtoull(last, &end, 10);
        if (last[0] < '0' || last[0] > '9' || *end != '\0') {
            node_http_error(reply, MHD_HTTP_BAD_REQUEST, "EINVAL",
                            "Last-Event-ID must be a revision");
            return;
        }
        next = v + 1;
    } else if (from != NULL) {
        unsigned long long v = strtoull(from, &end, 10);
        if (from[0] < '0' || from[0] > '9' || *end != '\0') {
            node_http_error(reply, MHD_HTTP_BAD_REQUEST, "EINVAL",
                            "'from' must be a revision");
            return;
        }
        next = v == 0 ? 1 : v;
    }
    if (next > store_revision(n->store) + 1) {
        node_http_error(reply, MHD_HTTP_BAD_REQUEST, "EINVAL",
                        "revision %" PRIu64
                        " is beyond the next one on node %" PRIu64 " (%" PRIu64
                        ")",
                        next, n->config.id, store_revision(n->store) + 1);
        return;
    }
    if (n->sse == NULL || n->sse->n >= SSE_STREAMS_MAX) {
        node_http_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "EBUSY",
                        "node %" PRIu64
                        " already serves %d event streams: try another "
                        "node or later",
                        n->config.id, SSE_STREAMS_MAX);
        return;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    s->n = n;
    s->x = req->exchange;
    s->next = next;
    s->sent_ms = s->checked_ms = node__now_ms();
    msgpack_sbuffer_init(&s->out);
    /* authorize succeeded, so the header holds "Bearer TOKEN" and the
     * token fits (TOKEN_INPUT_MAX). */
    {
        size_t len = 0;
        const char *tok = node__http_v1_bearer(auth, &len);
        snprintf(s->token, sizeof s->token, "%.*s", (int)len,
                 tok != NULL ? tok : "");
    }
    /* A first comment, so that the client sees the stream open at once. */
    out_puts(s, ": augur events\nretry: 1000\n\n");
    if (node_http_stream(req->exchange, "text/event-stream", stream_pull,
                         stream_closed, s) != 0) {
        msgpack_sbuffer_destroy(&s->out);
        free(s);
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return;
    }
    s->next_stream = n->sse->streams;
    if (s->next_stream != NULL) {
        s->next_stream->prev = s;
    }
    n->sse->streams = s;
    n->sse->n++;
}

void node__http_events_applied(struct node *n)
{
    uint64_t rev;

    if (n->sse == NULL || n->sse->streams == NULL) {
        return;
    }
    rev = store_revision(n->store);
    for (struct node_sse_stream *s = n->sse->streams; s != NULL;
         s = s->next_stream) {
        if (rev >= s->next) {
            node_http_stream_wake(s->x);
        }
    }
}

void node__http_events_tick(struct node *n, uint64_t now)
{
    if (n->sse == NULL) {
        return;
    }
    for (struct node_sse_stream *s = n->sse->streams; s != NULL;
         s = s->next_stream) {
        if (s->ended) {
            continue;
        }
        if (now - s->checked_ms >= SSE_RECHECK_MS) {
            char errmsg[TOKEN_ERRMSG_SIZE];
            struct node_token t;
            int rv =
                node__token_check(n, s->token, strlen(s->token), &t, errmsg);
            s->checked_ms = now;
            if (rv != 0 && rv != AUGUR_ENOLEADER) {
                stream_end(s, rv, errmsg);
                node_http_stream_wake(s->x);
                continue;
            }
        }
        if (now - s->sent_ms >= SSE_KEEPALIVE_MS && s->pos == s->out.size) {
            out_puts(s, ": keepalive\n\n");
            s->sent_ms = now;
            node_http_stream_wake(s->x);
        }
    }
}

int node__http_events_init(struct node *n)
{
    n->sse = calloc(1, sizeof *n->sse);
    return n->sse != NULL ? 0 : AUGUR_ENOMEM;
}

void node__http_events_close(struct node *n)
{
    struct node_sse *sse = n->sse;

    if (sse == NULL) {
        return;
    }
    /* The streams stay until MHD closes their connections (stream_closed
     * frees each); they only leave the list here. */
    for (struct node_sse_stream *s = sse->streams; s != NULL;
         s = s->next_stream) {
        s->ended = true;
    }
    for (struct node_sse_stream *s = sse->streams, *next; s != NULL; s = next) {
        next = s->next_stream;
        s->prev = s->next_stream = NULL;
    }
    n->sse = NULL;
    free(sse);
}
