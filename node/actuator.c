/* Actuators: exec (a program, the request on its stdin) and webhook (an
 * HTTP POST through libcurl's multi interface driven by the loop). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/error.h"
#include "common/log.h"
#include "node/actuator.h"

#define ARGS_MAX 16
#define STDERR_KEEP 512
#define DEFAULT_TIMEOUT_MS 10000

enum kind
{
    KIND_NONE,
    KIND_EXEC,
    KIND_WEBHOOK
};

static const char *const kind_names[] = {"none", "exec", "webhook"};

struct call;

struct actuator
{
    uv_loop_t *loop;
    int kind;
    char *spec; /* owned copy; exec's argv points into it */
    char *argv[ARGS_MAX + 1];
    const char *url;
    unsigned max_inflight;
    unsigned queue_max;
    struct call *queue_head, *queue_tail; /* waiting, oldest first */
    unsigned n_queued;
    struct call *running; /* doubly linked */
    unsigned n_running;
    unsigned n_calls; /* allocated calls, reported or not */
    uint64_t calls, failures;
    uv_timer_t kick; /* starts waiting calls, outside actuator_call */
    CURLM *multi;
    uv_timer_t curl_timer;
    unsigned open_handles; /* own handles not yet closed */
    bool closing;
};

struct call
{
    struct actuator *a;
    struct call *next, *prev;
    actuator_cb cb;
    void *data;
    struct actuator_request req;
    char *body; /* the request JSON + "\n" */
    size_t body_len;
    uint64_t timeout_ms;
    uint64_t queued_at;
    struct actuator_result res;
    bool reported; /* cb called (or cancelled) */
    bool started;
    /* exec */
    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_write_t write_req;
    uv_timer_t timer;
    unsigned open_handles;
    bool exited, out_done, err_done, timed_out, killed, finished;
    int64_t exit_status;
    int term_signal;
    char *output;
    size_t output_len;
    char err_tail[STDERR_KEEP];
    size_t err_len;
    char rbuf[4096]; /* read into, then copied */
    /* webhook */
    CURL *easy;
    struct curl_slist *headers;
};

/* A socket libcurl asked the loop to watch. */
struct curl_sock
{
    struct actuator *a;
    uv_poll_t poll;
    curl_socket_t fd;
};

static void actuator_maybe_free(struct actuator *a);
static void call_start_exec(struct call *c);
static void call_start_webhook(struct call *c);

char *actuator_request_json(const struct actuator_request *req)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s}", "action",
        req->action, "workload", req->workload, "host", req->host, "from",
        req->from, "to", req->to, "epoch", (json_int_t)req->epoch, "workflow",
        (json_int_t)req->workflow, "step", req->step, "attempt",
        (json_int_t)req->attempt, "strategy", req->strategy);
    char *s;

    if (o == NULL) {
        return NULL;
    }
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void copy_json_str(json_t *o, const char *key, char *out, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) {
        snprintf(out, size, "%s", json_string_value(v));
    }
}

void actuator_answer_parse(const char *buf,
                           size_t len,
                           struct actuator_result *res)
{
    size_t end = len;

    /* Walk the lines from the last one back to the first JSON object. */
    while (end > 0) {
        size_t start = end;
        json_t *o;

        while (start > 0 && buf[start - 1] != '\n') {
            start--;
        }
        size_t s = start;
        while (s < end && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r')) {
            s++;
        }
        if (s < end && buf[s] == '{') {
            o = json_loadb(buf + s, end - s, 0, NULL);
            if (json_is_object(o)) {
                json_t *v;
                copy_json_str(o, "state", res->state, sizeof res->state);
                copy_json_str(o, "drift", res->drift, sizeof res->drift);
                copy_json_str(o, "message", res->message, sizeof res->message);
                copy_json_str(o, "error", res->message, sizeof res->message);
                v = json_object_get(o, "lag_ms");
                if (json_is_integer(v) && json_integer_value(v) >= 0) {
                    res->lag_ms = json_integer_value(v);
                }
                v = json_object_get(o, "port");
                if (json_is_integer(v) && json_integer_value(v) > 0 &&
                    json_integer_value(v) < 65536) {
                    res->port = (int)json_integer_value(v);
                }
                json_decref(o);
                return;
            }
            json_decref(o);
        }
        end = start > 0 ? start - 1 : 0;
    }
}

/* Parse @spec into @a.  "exec:" splits on spaces, at most ARGS_MAX. */
static int parse_spec(struct actuator *a, const char *spec, char *errmsg)
{
    if (spec == NULL || spec[0] == '\0') {
        a->kind = KIND_NONE;
        return 0;
    }
    a->spec = strdup(spec);
    if (a->spec == NULL) {
        snprintf(errmsg, ACTUATOR_ERRMSG_SIZE, "actuator: out of memory");
        return AUGUR_ENOMEM;
    }
    if (strncmp(spec, "exec:", 5) == 0) {
        unsigned n = 0;
        char *p = a->spec + 5;
        a->kind = KIND_EXEC;
        while (*p != '\0') {
            while (*p == ' ') {
                *p++ = '\0';
            }
            if (*p == '\0') {
                break;
            }
            if (n == ARGS_MAX) {
                snprintf(errmsg, ACTUATOR_ERRMSG_SIZE,
                         "actuator: more than %d words in the exec command",
                         ARGS_MAX);
                return AUGUR_EINVAL;
            }
            a->argv[n++] = p;
            while (*p != '\0' && *p != ' ') {
                p++;
            }
        }
        a->argv[n] = NULL;
        if (n == 0 || a->argv[0][0] != '/') {
            snprintf(errmsg, ACTUATOR_ERRMSG_SIZE,
                     "actuator: exec needs an absolute program path "
                     "(exec:/path/prog [args]), got '%.160s'",
                     spec);
            return AUGUR_EINVAL;
        }
        return 0;
    }
    if (strncmp(spec, "webhook:", 8) == 0) {
        a->kind = KIND_WEBHOOK;
        a->url = a->spec + 8;
        if ((strncmp(a->url, "http://", 7) != 0 &&
             strncmp(a->url, "https://", 8) != 0) ||
            strchr(a->url, ' ') != NULL) {
            snprintf(errmsg, ACTUATOR_ERRMSG_SIZE,
                     "actuator: webhook needs an http:// or https:// URL, "
                     "got '%.160s'",
                     a->url);
            return AUGUR_EINVAL;
        }
        return 0;
    }
    snprintf(errmsg, ACTUATOR_ERRMSG_SIZE,
             "actuator: expected exec:PROGRAM [ARGS] or webhook:URL, got "
             "'%.160s'",
             spec);
    return AUGUR_EINVAL;
}

/* --- the queue and the answers ------------------------------------------ */

static void running_add(struct actuator *a, struct call *c)
{
    c->prev = NULL;
    c->next = a->running;
    if (a->running != NULL) {
        a->running->prev = c;
    }
    a->running = c;
    a->n_running++;
}

static void running_remove(struct actuator *a, struct call *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        a->running = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->next = c->prev = NULL;
    a->n_running--;
}

/* Give @c's answer to its caller, once. */
static void call_report(struct call *c)
{
    struct actuator *a = c->a;
    actuator_cb cb = c->cb;

    if (c->reported) {
        return;
    }
    c->reported = true;
    c->res.elapsed_ms = uv_now(a->loop) - c->queued_at;
    a->calls++;
    if (c->res.outcome != ACTUATOR_OK) {
        a->failures++;
        LOG(LOG_LEVEL_WARN,
            "actuator %s %s on %s (workflow %" PRIu64
            " step %s attempt %" PRIu64 " epoch %" PRIu64 "): %s: %s",
            kind_names[a->kind], c->req.action, c->req.host, c->req.workflow,
            c->req.step, c->req.attempt, c->req.epoch,
            c->res.outcome == ACTUATOR_REFUSED ? "refused" : "failed",
            c->res.message);
    } else {
        LOG(LOG_LEVEL_DEBUG,
            "actuator %s %s %s on %s epoch %" PRIu64 ": ok in %" PRIu64
            " ms (state '%s')",
            kind_names[a->kind], c->req.action, c->req.workload, c->req.host,
            c->req.epoch, c->res.elapsed_ms, c->res.state);
    }
    c->cb = NULL;
    cb(c->data, &c->res);
}

static void call_free(struct call *c)
{
    struct actuator *a = c->a;
    free(c->body);
    free(c->output);
    if (c->headers != NULL) {
        curl_slist_free_all(c->headers);
    }
    free(c);
    a->n_calls--;
    actuator_maybe_free(a);
}

static void kick_cb(uv_timer_t *t)
{
    struct actuator *a = t->data;

    while (!a->closing && a->queue_head != NULL &&
           a->n_running < a->max_inflight) {
        struct call *c = a->queue_head;
        a->queue_head = c->next;
        if (a->queue_head == NULL) {
            a->queue_tail = NULL;
        }
        a->n_queued--;
        c->started = true;
        running_add(a, c);
        if (a->kind == KIND_EXEC) {
            call_start_exec(c);
        } else {
            call_start_webhook(c);
        }
    }
}

static void kick(struct actuator *a)
{
    if (!a->closing && !uv_is_active((uv_handle_t *)&a->kick)) {
        uv_timer_start(&a->kick, kick_cb, 0, 0);
    }
}

/* @c's work is over (its handles closed): report it if not yet, free it,
 * and let a waiting call run. */
static void call_done(struct call *c)
{
    struct actuator *a = c->a;
    running_remove(a, c);
    call_report(c);
    kick(a);
    call_free(c); /* may free @a when closing */
}

static void set_failure(struct call *c, int outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_failure(struct call *c, int outcome, const char *fmt, ...)
{
    va_list ap;
    c->res.outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(c->res.message, sizeof c->res.message, fmt, ap);
    va_end(ap);
}

/* --- exec ---------------------------------------------------------------- */

static void exec_handle_closed(uv_handle_t *h)
{
    struct call *c = h->data;
    if (--c->open_handles == 0) {
        call_done(c);
    }
}

static void exec_close(uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, exec_handle_closed);
    }
}

/* Decide the answer once the program exited and its output ended (or was
 * abandoned), then close every handle. */
static void exec_maybe_finish(struct call *c)
{
    if (c->finished || !c->exited || !c->out_done || !c->err_done) {
        return;
    }
    c->finished = true;
    if (!c->reported) {
        if (c->output != NULL) {
            actuator_answer_parse(c->output, c->output_len, &c->res);
        }
        if (c->timed_out && c->killed) {
            set_failure(c, ACTUATOR_RETRY, "timeout after %" PRIu64 " ms",
                        c->timeout_ms);
            c->res.exit_status = -1;
        } else if (c->term_signal != 0) {
            c->res.exit_status = -1;
            set_failure(c, ACTUATOR_RETRY, "killed by signal %d",
                        c->term_signal);
        } else {
            c->res.exit_status = (int)c->exit_status;
            if (c->exit_status == 0) {
                c->res.outcome = ACTUATOR_OK;
            } else {
                /* The program's own words, else the stderr's last line. */
                if (c->res.message[0] == '\0') {
                    snprintf(c->res.message, sizeof c->res.message,
                             "exit %" PRId64 "%s%.100s", c->exit_status,
                             c->err_len > 0 ? ": " : "", c->err_tail);
                }
                c->res.outcome =
                    c->exit_status == 3 ? ACTUATOR_REFUSED : ACTUATOR_RETRY;
            }
        }
    }
    if (c->err_len > 0 && c->res.outcome != ACTUATOR_OK) {
        LOG(LOG_LEVEL_DEBUG, "actuator %s: stderr: %s", c->a->argv[0],
            c->err_tail);
    }
    uv_timer_stop(&c->timer);
    exec_close((uv_handle_t *)&c->timer);
    exec_close((uv_handle_t *)&c->proc);
    exec_close((uv_handle_t *)&c->in);
    exec_close((uv_handle_t *)&c->out);
    exec_close((uv_handle_t *)&c->err);
}

static void exec_exit_cb(uv_process_t *p, int64_t status, int signo)
{
    struct call *c = p->data;
    c->exited = true;
    c->exit_status = status;
    c->term_signal = signo;
    exec_maybe_finish(c);
}

/* Kill the program's whole process group (it runs in its own session) and
 * stop listening to its pipes: a grandchild that holds them must not keep
 * the call alive. */
static void exec_kill(struct call *c)
{
    if (!c->killed && !c->exited) {
        c->killed = true;
        if (c->proc.pid > 0) {
            kill(-c->proc.pid, SIGKILL);
        }
        uv_process_kill(&c->proc, SIGKILL);
    }
    if (!c->out_done) {
        uv_read_stop((uv_stream_t *)&c->out);
        c->out_done = true;
    }
    if (!c->err_done) {
        uv_read_stop((uv_stream_t *)&c->err);
        c->err_done = true;
    }
    exec_maybe_finish(c);
}

static void exec_timeout_cb(uv_timer_t *t)
{
    struct call *c = t->data;
    c->timed_out = true;
    exec_kill(c);
}

static void exec_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct call *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void exec_out_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct call *c = s->data;
    if (nread < 0) {
        uv_read_stop(s);
        c->out_done = true;
        exec_maybe_finish(c);
        return;
    }
    if (nread > 0 && c->output_len < ACTUATOR_OUTPUT_MAX) {
        size_t n = (size_t)nread;
        if (n > ACTUATOR_OUTPUT_MAX - c->output_len) {
            n = ACTUATOR_OUTPUT_MAX - c->output_len;
        }
        if (c->output == NULL) {
            c->output = malloc(ACTUATOR_OUTPUT_MAX);
        }
        if (c->output != NULL) {
            memcpy(c->output + c->output_len, buf->base, n);
            c->output_len += n;
        }
    }
}

static void exec_err_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct call *c = s->data;
    if (nread < 0) {
        uv_read_stop(s);
        c->err_done = true;
        exec_maybe_finish(c);
        return;
    }
    /* Keep the last line: a new line (after a newline) starts over. */
    for (ssize_t i = 0; i < nread; i++) {
        char ch = buf->base[i];
        if (ch == '\n') {
            continue;
        }
        if (i > 0 && buf->base[i - 1] == '\n') {
            c->err_len = 0;
        }
        if (c->err_len + 1 < sizeof c->err_tail) {
            c->err_tail[c->err_len++] = ch;
            c->err_tail[c->err_len] = '\0';
        }
    }
}

static void exec_write_cb(uv_write_t *w, int status)
{
    struct call *c = w->data;
    (void)status; /* a program that does not read its stdin may say so */
    if (!uv_is_closing((uv_handle_t *)&c->in)) {
        uv_close((uv_handle_t *)&c->in, exec_handle_closed);
    }
}

static void call_start_exec(struct call *c)
{
    struct actuator *a = c->a;
    uv_process_options_t opts;
    uv_stdio_container_t stdio[3];
    uv_buf_t buf;
    int rv;

    memset(&opts, 0, sizeof opts);
    uv_pipe_init(a->loop, &c->in, 0);
    uv_pipe_init(a->loop, &c->out, 0);
    uv_pipe_init(a->loop, &c->err, 0);
    uv_timer_init(a->loop, &c->timer);
    c->in.data = c->out.data = c->err.data = c->timer.data = c;
    c->proc.data = c;
    c->open_handles = 5;
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&c->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&c->err;
    opts.file = a->argv[0];
    opts.args = a->argv;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.exit_cb = exec_exit_cb;
    /* Its own session and process group, so that a timeout kills what it
     * started too (a shell script's children). */
    opts.flags = UV_PROCESS_DETACHED;
    rv = uv_spawn(a->loop, &c->proc, &opts);
    if (rv != 0) {
        set_failure(c, ACTUATOR_RETRY, "spawn %.60s: %s", a->argv[0],
                    uv_strerror(rv));
        c->res.exit_status = -1;
        c->exited = c->out_done = c->err_done = true;
        c->finished = true;
        /* libuv initialises the process handle even on failure. */
        exec_close((uv_handle_t *)&c->proc);
        exec_close((uv_handle_t *)&c->timer);
        exec_close((uv_handle_t *)&c->in);
        exec_close((uv_handle_t *)&c->out);
        exec_close((uv_handle_t *)&c->err);
        return;
    }
    uv_timer_start(&c->timer, exec_timeout_cb, c->timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->out, exec_alloc_cb, exec_out_cb);
    uv_read_start((uv_stream_t *)&c->err, exec_alloc_cb, exec_err_cb);
    buf = uv_buf_init(c->body, (unsigned)c->body_len);
    c->write_req.data = c;
    rv = uv_write(&c->write_req, (uv_stream_t *)&c->in, &buf, 1, exec_write_cb);
    if (rv != 0) {
        uv_close((uv_handle_t *)&c->in, exec_handle_closed);
    }
}

/* --- webhook ------------------------------------------------------------- */

static void curl_sock_closed(uv_handle_t *h)
{
    struct curl_sock *cs = h->data;
    struct actuator *a = cs->a;
    free(cs);
    a->open_handles--;
    actuator_maybe_free(a);
}

static void curl_check_done(struct actuator *a)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(a->multi, &left)) != NULL) {
        struct call *c = NULL;
        long code = 0;
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (c->output != NULL) {
            actuator_answer_parse(c->output, c->output_len, &c->res);
        }
        c->res.exit_status = (int)code;
        if (msg->data.result == CURLE_OPERATION_TIMEDOUT) {
            set_failure(c, ACTUATOR_RETRY, "timeout after %" PRIu64 " ms",
                        c->timeout_ms);
        } else if (msg->data.result != CURLE_OK) {
            set_failure(c, ACTUATOR_RETRY, "%s",
                        curl_easy_strerror(msg->data.result));
        } else if (code >= 200 && code < 300) {
            c->res.outcome = ACTUATOR_OK;
        } else if (code == 409) {
            c->res.outcome = ACTUATOR_REFUSED;
            if (c->res.message[0] == '\0') {
                snprintf(c->res.message, sizeof c->res.message, "HTTP 409");
            }
        } else {
            char was[sizeof c->res.message];
            snprintf(was, sizeof was, "%s", c->res.message);
            set_failure(c, ACTUATOR_RETRY, "HTTP %ld%s%.100s", code,
                        was[0] != '\0' ? ": " : "", was);
        }
        curl_multi_remove_handle(a->multi, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
        call_done(c);
    }
}

static void curl_poll_cb(uv_poll_t *p, int status, int events)
{
    struct curl_sock *cs = p->data;
    struct actuator *a = cs->a;
    int flags = 0;
    int running;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) {
            flags |= CURL_CSELECT_IN;
        }
        if (events & UV_WRITABLE) {
            flags |= CURL_CSELECT_OUT;
        }
    }
    curl_multi_socket_action(a->multi, cs->fd, flags, &running);
    curl_check_done(a);
}

static int curl_socket_cb(CURL *easy,
                          curl_socket_t fd,
                          int what,
                          void *userp,
                          void *socketp)
{
    struct actuator *a = userp;
    struct curl_sock *cs = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (cs != NULL) {
            uv_poll_stop(&cs->poll);
            uv_close((uv_handle_t *)&cs->poll, curl_sock_closed);
            curl_multi_assign(a->multi, fd, NULL);
        }
        return 0;
    }
    if (cs == NULL) {
        cs = calloc(1, sizeof *cs);
        if (cs == NULL) {
            return -1;
        }
        cs->a = a;
        cs->fd = fd;
        if (uv_poll_init_socket(a->loop, &cs->poll, fd) != 0) {
            free(cs);
            return -1;
        }
        cs->poll.data = cs;
        a->open_handles++;
        curl_multi_assign(a->multi, fd, cs);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        events |= UV_READABLE;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        events |= UV_WRITABLE;
    }
    uv_poll_start(&cs->poll, events, curl_poll_cb);
    return 0;
}

static void curl_timeout_cb(uv_timer_t *t)
{
    struct actuator *a = t->data;
    int running;
    curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curl_check_done(a);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct actuator *a = userp;
    (void)multi;
    if (timeout_ms < 0) {
        uv_timer_stop(&a->curl_timer);
    } else {
        /* 0: act now, but from the loop, not inside libcurl's call. */
        uv_timer_start(&a->curl_timer, curl_timeout_cb, (uint64_t)timeout_ms,
                       0);
    }
    return 0;
}

static size_t curl_write_cb(char *ptr, size_t size, size_t n, void *userdata)
{
    struct call *c = userdata;
    size_t len = size * n;
    size_t keep = len;

    if (c->output_len + keep > ACTUATOR_OUTPUT_MAX) {
        keep = ACTUATOR_OUTPUT_MAX - c->output_len;
    }
    if (keep > 0) {
        if (c->output == NULL) {
            c->output = malloc(ACTUATOR_OUTPUT_MAX);
            if (c->output == NULL) {
                return len;
            }
        }
        memcpy(c->output + c->output_len, ptr, keep);
        c->output_len += keep;
    }
    return len;
}

/* A webhook call that cannot start: answered from the loop. */
static void webhook_fail_cb(uv_timer_t *t)
{
    struct call *c = t->data;
    uv_close((uv_handle_t *)&c->timer, exec_handle_closed);
}

static void call_start_webhook(struct call *c)
{
    struct actuator *a = c->a;
    char key[160];

    c->easy = curl_easy_init();
    snprintf(key, sizeof key, "Idempotency-Key: %" PRIu64 "-%s-%" PRIu64,
             c->req.workflow, c->req.step, c->req.attempt);
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->headers != NULL) {
        struct curl_slist *h = curl_slist_append(c->headers, key);
        if (h != NULL) {
            c->headers = h;
        }
    }
    if (c->easy == NULL || c->headers == NULL) {
        goto fail;
    }
    curl_easy_setopt(c->easy, CURLOPT_URL, a->url);
    curl_easy_setopt(c->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)c->body_len);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, curl_write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(a->multi, c->easy) != CURLM_OK) {
        goto fail;
    }
    return;
fail:
    if (c->easy != NULL) {
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    }
    set_failure(c, ACTUATOR_RETRY, "webhook: cannot start the request");
    uv_timer_init(a->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    uv_timer_start(&c->timer, webhook_fail_cb, 0, 0);
}

/* --- the interface ------------------------------------------------------- */

int actuator_new(uv_loop_t *loop,
                 const char *spec,
                 unsigned max_inflight,
                 struct actuator **out,
                 char *errmsg)
{
    struct actuator *a = calloc(1, sizeof *a);
    int rv;

    if (a == NULL) {
        snprintf(errmsg, ACTUATOR_ERRMSG_SIZE, "actuator: out of memory");
        return AUGUR_ENOMEM;
    }
    a->loop = loop;
    a->max_inflight = max_inflight > 0 ? max_inflight : 1;
    a->queue_max = a->max_inflight;
    rv = parse_spec(a, spec, errmsg);
    if (rv != 0) {
        goto err_after_alloc;
    }
    if (a->kind == KIND_WEBHOOK) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(errmsg, ACTUATOR_ERRMSG_SIZE,
                     "actuator: curl_global_init failed");
            rv = AUGUR_EIO;
            goto err_after_alloc;
        }
        a->multi = curl_multi_init();
        if (a->multi == NULL) {
            snprintf(errmsg, ACTUATOR_ERRMSG_SIZE,
                     "actuator: curl_multi_init failed");
            rv = AUGUR_ENOMEM;
            goto err_after_curl_global;
        }
        curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
        curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
        uv_timer_init(loop, &a->curl_timer);
        a->curl_timer.data = a;
        a->open_handles++;
    }
    uv_timer_init(loop, &a->kick);
    a->kick.data = a;
    a->open_handles++;
    *out = a;
    return 0;

err_after_curl_global:
    curl_global_cleanup();
err_after_alloc:
    free(a->spec);
    free(a);
    return rv;
}

bool actuator_configured(const struct actuator *a)
{
    return a != NULL && a->kind != KIND_NONE;
}

int actuator_call(struct actuator *a,
                  const struct actuator_request *req,
                  uint64_t timeout_ms,
                  actuator_cb cb,
                  void *data)
{
    struct call *c;
    char *json;
    size_t len;

    if (!actuator_configured(a)) {
        return AUGUR_EUNAVAILABLE;
    }
    if (a->closing) {
        return AUGUR_ESHUTDOWN;
    }
    if (a->n_running + a->n_queued >= a->max_inflight + a->queue_max) {
        return AUGUR_EBUSY;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return AUGUR_ENOMEM;
    }
    json = actuator_request_json(req);
    if (json == NULL) {
        free(c);
        return AUGUR_ENOMEM;
    }
    len = strlen(json);
    c->body = malloc(len + 2);
    if (c->body == NULL) {
        free(json);
        free(c);
        return AUGUR_ENOMEM;
    }
    memcpy(c->body, json, len);
    c->body[len] = '\n';
    c->body[len + 1] = '\0';
    free(json);
    /* A webhook's body is the object alone; exec's stdin gets the line. */
    c->body_len = a->kind == KIND_EXEC ? len + 1 : len;
    c->a = a;
    c->req = *req;
    c->cb = cb;
    c->data = data;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    c->queued_at = uv_now(a->loop);
    c->res.outcome = ACTUATOR_RETRY;
    c->res.lag_ms = -1;
    if (a->queue_tail != NULL) {
        a->queue_tail->next = c;
    } else {
        a->queue_head = c;
    }
    a->queue_tail = c;
    a->n_queued++;
    a->n_calls++;
    kick(a);
    return 0;
}

static void cancel_result(struct call *c)
{
    memset(&c->res, 0, sizeof c->res);
    c->res.outcome = ACTUATOR_RETRY;
    c->res.lag_ms = -1;
    c->res.exit_status = -1;
    snprintf(c->res.message, sizeof c->res.message, "cancelled");
}

/* The first running call not answered yet (or, with @easy, the first
 * whose webhook request is still attached), or NULL.  Searched from the
 * head each time: a callback may change the list. */
static struct call *first_running(struct actuator *a, bool easy)
{
    for (struct call *c = a->running; c != NULL; c = c->next) {
        if (easy ? c->easy != NULL : !c->reported) {
            return c;
        }
    }
    return NULL;
}

void actuator_cancel_all(struct actuator *a)
{
    struct call *queued, *c, *next;

    if (a == NULL) {
        return;
    }
    /* Take the waiting ones first: callbacks may make new calls. */
    queued = a->queue_head;
    a->queue_head = a->queue_tail = NULL;
    a->n_queued = 0;
    /* The running ones: killed (their handles close later), answered... */
    while ((c = first_running(a, false)) != NULL) {
        cancel_result(c);
        if (a->kind == KIND_EXEC && !c->finished) {
            exec_kill(c);
        }
        call_report(c);
    }
    /* ...and the webhooks aborted now (no handle of theirs stays open). */
    while ((c = first_running(a, true)) != NULL) {
        if (a->multi != NULL) {
            curl_multi_remove_handle(a->multi, c->easy);
        }
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
        running_remove(a, c);
        call_free(c);
    }
    /* The waiting ones never started. */
    for (c = queued; c != NULL; c = next) {
        next = c->next;
        cancel_result(c);
        call_report(c);
        a->n_calls--;
        free(c->body);
        free(c);
    }
    actuator_maybe_free(a);
}

static void own_handle_closed(uv_handle_t *h)
{
    struct actuator *a = h->data;
    a->open_handles--;
    actuator_maybe_free(a);
}

static void actuator_maybe_free(struct actuator *a)
{
    if (!a->closing || a->n_calls > 0 || a->open_handles > 0) {
        return;
    }
    if (a->kind == KIND_WEBHOOK) {
        curl_global_cleanup();
    }
    free(a->spec);
    free(a);
}

void actuator_close(struct actuator *a)
{
    if (a == NULL || a->closing) {
        return;
    }
    actuator_cancel_all(a);
    a->closing = true;
    /* One more reference while the handles are being closed, so that a
     * close callback cannot free @a under our feet. */
    a->open_handles++;
    if (a->multi != NULL) {
        /* No easy handle is left; the multi's sockets are closed already
         * (CURL_POLL_REMOVE).  Connection cache sockets may be reported
         * now. */
        curl_multi_cleanup(a->multi);
        a->multi = NULL;
        uv_timer_stop(&a->curl_timer);
        uv_close((uv_handle_t *)&a->curl_timer, own_handle_closed);
    }
    uv_timer_stop(&a->kick);
    uv_close((uv_handle_t *)&a->kick, own_handle_closed);
    a->open_handles--;
    actuator_maybe_free(a);
}

void actuator_stats_get(const struct actuator *a, struct actuator_stats *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind_names[a != NULL ? a->kind : KIND_NONE];
    if (a != NULL) {
        out->calls = a->calls;
        out->failures = a->failures;
        out->inflight = a->n_running + a->n_queued;
    }
}
