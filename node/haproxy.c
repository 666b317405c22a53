/* The HAProxy driver: runtime-API commands over the stats socket, one
 * connection per command, one call at a time, and show stat's CSV. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/error.h"
#include "node/haproxy.h"

#define DEFAULT_TIMEOUT_MS 2000
#define STEPS_MAX 4
#define CMD_MAX 512
#define COLS_MAX 128

enum expect
{
    EXPECT_OK,  /* empty or one of HAProxy's success lines */
    EXPECT_CSV, /* show stat */
    EXPECT_ANY, /* a raw command: the caller reads the answer */
};

struct call
{
    struct haproxy *h;
    struct call *next;
    haproxy_cb cb;
    void *data;
    char cmds[STEPS_MAX][CMD_MAX];
    unsigned n_cmds, step;
    int expect;
    bool raw;
    char backend[HAPROXY_NAME_SIZE]; /* haproxy_stat */
    struct haproxy_result res;
};

/* One command on one connection. */
struct conn
{
    struct call *call;
    uv_pipe_t pipe;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_write_t write_req;
    char line[CMD_MAX + 1];
    char *answer;
    size_t len, cap;
    unsigned open_handles;
    bool finished;
    int status;
    char message[HAPROXY_ERRMSG_SIZE];
};

struct haproxy
{
    uv_loop_t *loop;
    char *path;
    unsigned queue_max;
    uint64_t timeout_ms;
    struct call *queue_head, *queue_tail;
    unsigned n_queued;
    struct call *running;
    struct conn *conn; /* of the running call, until its handles close */
    uv_timer_t kick;   /* starts the next call outside the caller */
    bool kick_open;
    bool closing;
};

static void start_step(struct call *c);
static void kick_arm(struct haproxy *h);

int haproxy_new(uv_loop_t *loop,
                const char *socket_path,
                unsigned queue_max,
                uint64_t timeout_ms,
                struct haproxy **out,
                char *errmsg)
{
    struct haproxy *h;
    struct sockaddr_un probe;

    if (socket_path == NULL || socket_path[0] == '\0' ||
        strlen(socket_path) >= sizeof probe.sun_path) {
        snprintf(errmsg, HAPROXY_ERRMSG_SIZE,
                 "haproxy: socket path empty or longer than %zu bytes",
                 sizeof probe.sun_path - 1);
        return AUGUR_EINVAL;
    }
    if (queue_max < 1) {
        snprintf(errmsg, HAPROXY_ERRMSG_SIZE, "haproxy: queue_max is 0");
        return AUGUR_EINVAL;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        goto err_nomem;
    }
    h->path = strdup(socket_path);
    if (h->path == NULL) {
        goto err_after_alloc;
    }
    h->loop = loop;
    h->queue_max = queue_max;
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    uv_timer_init(loop, &h->kick);
    h->kick.data = h;
    h->kick_open = true;
    *out = h;
    return 0;

err_after_alloc:
    free(h);
err_nomem:
    snprintf(errmsg, HAPROXY_ERRMSG_SIZE, "haproxy: out of memory");
    return AUGUR_ENOMEM;
}

/* HAProxy answers a successful command with nothing or with one of these
 * lines; anything else is its error text. */
static bool answer_is_success(const char *a, size_t len)
{
    static const char *const ok[] = {
        "New server registered.",
        "Server deleted.",
    };
    while (len > 0 &&
           (a[len - 1] == '\n' || a[len - 1] == ' ' || a[len - 1] == '\r')) {
        len--;
    }
    if (len == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (len == strlen(ok[i]) && memcmp(a, ok[i], len) == 0) {
            return true;
        }
    }
    return false;
}

static void message_from_answer(char *dst, const char *a, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < HAPROXY_ERRMSG_SIZE; i++) {
        char ch = a[i];
        if (ch == '\n' || ch == '\r') {
            ch = ' ';
        }
        if (ch == ' ' && (n == 0 || dst[n - 1] == ' ')) {
            continue;
        }
        dst[n++] = ch;
    }
    while (n > 0 && dst[n - 1] == ' ') {
        n--;
    }
    dst[n] = '\0';
}

static int status_from_answer(const char *msg)
{
    if (strstr(msg, "No such") != NULL || strstr(msg, "not found") != NULL) {
        return AUGUR_ENOTFOUND;
    }
    return AUGUR_EINVAL;
}

/* Report @c to its caller and free it. */
static void report(struct call *c)
{
    c->cb(c->data, &c->res);
    free(c);
}

static void call_fail(struct call *c, int status, const char *msg)
{
    c->res.status = status;
    snprintf(c->res.message, sizeof c->res.message, "%s", msg);
}

/* The connection's handles are closed: judge the answer, then run the
 * call's next command or report it. */
static void conn_done(struct conn *k)
{
    struct call *c = k->call;
    struct haproxy *h = c->h;
    bool last = c->step + 1 >= c->n_cmds;
    struct haproxy_server_stat *stats = NULL;

    h->conn = NULL;
    if (k->status != 0) {
        call_fail(c, k->status, k->message);
    } else if (c->expect == EXPECT_ANY || (c->expect == EXPECT_CSV && last)) {
        /* judged below */
    } else if (!answer_is_success(k->answer, k->len)) {
        char msg[HAPROXY_ERRMSG_SIZE];
        message_from_answer(msg, k->answer, k->len);
        call_fail(c, status_from_answer(msg), msg);
    }
    if (c->res.status == 0 && !last && !h->closing) {
        c->step++;
        free(k->answer);
        free(k);
        start_step(c);
        return;
    }
    if (c->res.status == 0 && c->expect == EXPECT_CSV) {
        if (k->len > 0 && k->answer[0] != '#') {
            char msg[HAPROXY_ERRMSG_SIZE];
            message_from_answer(msg, k->answer, k->len);
            call_fail(c, status_from_answer(msg), msg);
        } else {
            stats = calloc(HAPROXY_STAT_MAX, sizeof *stats);
            if (stats == NULL) {
                call_fail(c, AUGUR_ENOMEM, "haproxy: out of memory");
            } else {
                size_t n = 0;
                int rc =
                    haproxy_stat_parse(k->answer, k->len, c->backend, stats,
                                       HAPROXY_STAT_MAX, &n, c->res.message);
                if (rc != 0) {
                    c->res.status = rc;
                } else {
                    c->res.servers = stats;
                    c->res.n_servers = n;
                }
            }
        }
    }
    if (c->res.status == 0 && c->raw) {
        c->res.answer = k->answer != NULL ? k->answer : "";
        c->res.answer_len = k->len;
    }
    if (c->res.status == 0 && !last) {
        call_fail(c, AUGUR_ESHUTDOWN, "cancelled");
    }
    h->running = NULL;
    report(c);
    free(stats);
    free(k->answer);
    free(k);
    if (h->closing && !h->kick_open) {
        free(h->path);
        free(h);
        return;
    }
    kick_arm(h);
}

static void on_conn_close(uv_handle_t *handle)
{
    struct conn *k = handle->data;
    if (--k->open_handles == 0) {
        conn_done(k);
    }
}

/* End the command (once): record @status, close the handles. */
static void conn_finish(struct conn *k, int status, const char *msg)
{
    if (k->finished) {
        return;
    }
    k->finished = true;
    k->status = status;
    if (msg != NULL) {
        snprintf(k->message, sizeof k->message, "%s", msg);
    }
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->pipe, on_conn_close);
    uv_close((uv_handle_t *)&k->timer, on_conn_close);
}

static void on_timeout(uv_timer_t *t)
{
    struct conn *k = t->data;
    char msg[HAPROXY_ERRMSG_SIZE];
    snprintf(msg, sizeof msg, "haproxy: timeout after %" PRIu64 " ms: %.160s",
             k->call->h->timeout_ms, k->line);
    msg[strcspn(msg, "\n")] = '\0';
    conn_finish(k, AUGUR_ETIMEOUT, msg);
}

static void on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
    struct conn *k = handle->data;
    (void)hint;
    if (k->cap - k->len < 4096) {
        size_t cap = k->cap == 0 ? 8192 : k->cap * 2;
        char *p = realloc(k->answer, cap + 1);
        if (p == NULL) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        k->answer = p;
        k->cap = cap;
    }
    buf->base = k->answer + k->len;
    buf->len = k->cap - k->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *k = s->data;
    char msg[HAPROXY_ERRMSG_SIZE];
    (void)buf;
    if (k->finished) {
        return;
    }
    if (nread == UV_ENOBUFS) {
        conn_finish(k, AUGUR_ENOMEM, "haproxy: out of memory");
        return;
    }
    if (nread == UV_EOF) {
        if (k->answer != NULL) {
            k->answer[k->len] = '\0';
        }
        conn_finish(k, 0, NULL);
        return;
    }
    if (nread < 0) {
        snprintf(msg, sizeof msg, "haproxy: read %s: %s", k->call->h->path,
                 uv_strerror((int)nread));
        conn_finish(k, AUGUR_ECONNECT, msg);
        return;
    }
    k->len += (size_t)nread;
    if (k->len > HAPROXY_ANSWER_MAX) {
        snprintf(msg, sizeof msg, "haproxy: answer over %u bytes",
                 HAPROXY_ANSWER_MAX);
        conn_finish(k, AUGUR_ETOOBIG, msg);
    }
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *k = req->data;
    char msg[HAPROXY_ERRMSG_SIZE];
    if (status != 0 && !k->finished) {
        snprintf(msg, sizeof msg, "haproxy: write %s: %s", k->call->h->path,
                 uv_strerror(status));
        conn_finish(k, AUGUR_ECONNECT, msg);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *k = req->data;
    char msg[HAPROXY_ERRMSG_SIZE];
    uv_buf_t b;
    int rc;

    if (k->finished) {
        return;
    }
    if (status != 0) {
        snprintf(msg, sizeof msg, "haproxy: connect %s: %s", k->call->h->path,
                 uv_strerror(status));
        conn_finish(k, AUGUR_ECONNECT, msg);
        return;
    }
    b = uv_buf_init(k->line, (unsigned)strlen(k->line));
    k->write_req.data = k;
    rc = uv_write(&k->write_req, (uv_stream_t *)&k->pipe, &b, 1, on_write);
    if (rc == 0) {
        rc = uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "haproxy: %s: %s", k->call->h->path,
                 uv_strerror(rc));
        conn_finish(k, AUGUR_ECONNECT, msg);
    }
}

/* Open a connection for the call's current command.  Failures end the
 * call through the normal close path, so the callback still runs on the
 * loop. */
static void start_step(struct call *c)
{
    struct haproxy *h = c->h;
    struct conn *k = calloc(1, sizeof *k);

    if (k == NULL) {
        call_fail(c, AUGUR_ENOMEM, "haproxy: out of memory");
        h->running = NULL;
        report(c);
        kick_arm(h);
        return;
    }
    k->call = c;
    snprintf(k->line, sizeof k->line, "%s\n", c->cmds[c->step]);
    uv_pipe_init(h->loop, &k->pipe, 0);
    uv_timer_init(h->loop, &k->timer);
    k->pipe.data = k;
    k->timer.data = k;
    k->connect_req.data = k;
    k->open_handles = 2;
    h->conn = k;
    uv_timer_start(&k->timer, on_timeout, h->timeout_ms, 0);
    uv_pipe_connect(&k->connect_req, &k->pipe, h->path, on_connect);
}

static void on_kick(uv_timer_t *t)
{
    struct haproxy *h = t->data;
    struct call *c;

    if (h->running != NULL || h->queue_head == NULL) {
        return;
    }
    c = h->queue_head;
    h->queue_head = c->next;
    if (h->queue_head == NULL) {
        h->queue_tail = NULL;
    }
    h->n_queued--;
    c->next = NULL;
    h->running = c;
    start_step(c);
}

static void kick_arm(struct haproxy *h)
{
    if (!h->closing && h->running == NULL && h->queue_head != NULL) {
        uv_timer_start(&h->kick, on_kick, 0, 0);
    }
}

static bool name_ok(const char *s)
{
    size_t n;
    if (s == NULL) {
        return false;
    }
    n = strlen(s);
    if (n == 0 || n >= HAPROXY_NAME_SIZE) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
              ch == ':' || ch == '@')) {
            return false;
        }
    }
    return true;
}

static int call_new(struct haproxy *h,
                    haproxy_cb cb,
                    void *data,
                    int expect,
                    struct call **out)
{
    struct call *c;
    if (h->closing) {
        return AUGUR_ESHUTDOWN;
    }
    if (h->n_queued >= h->queue_max) {
        return AUGUR_EBUSY;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return AUGUR_ENOMEM;
    }
    c->h = h;
    c->cb = cb;
    c->data = data;
    c->expect = expect;
    *out = c;
    return 0;
}

static void call_submit(struct call *c)
{
    struct haproxy *h = c->h;
    if (h->queue_tail != NULL) {
        h->queue_tail->next = c;
    } else {
        h->queue_head = c;
    }
    h->queue_tail = c;
    h->n_queued++;
    kick_arm(h);
}

static void call_add_cmd(struct call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void call_add_cmd(struct call *c, const char *fmt, ...)
{
    va_list ap;
    assert(c->n_cmds < STEPS_MAX);
    va_start(ap, fmt);
    vsnprintf(c->cmds[c->n_cmds++], CMD_MAX, fmt, ap);
    va_end(ap);
}

int haproxy_command(struct haproxy *h,
                    const char *cmd,
                    haproxy_cb cb,
                    void *data)
{
    struct call *c;
    int rc;
    if (cmd == NULL || cmd[0] == '\0' || strlen(cmd) >= CMD_MAX ||
        strpbrk(cmd, "\r\n") != NULL) {
        return AUGUR_EINVAL;
    }
    rc = call_new(h, cb, data, EXPECT_ANY, &c);
    if (rc != 0) {
        return rc;
    }
    c->raw = true;
    call_add_cmd(c, "%s", cmd);
    call_submit(c);
    return 0;
}

int haproxy_server_add(struct haproxy *h,
                       const char *backend,
                       const char *server,
                       const char *addr,
                       int port,
                       int weight,
                       int check,
                       haproxy_cb cb,
                       void *data)
{
    struct call *c;
    int rc;
    if (!name_ok(backend) || !name_ok(server) || !name_ok(addr) || port < 1 ||
        port > 65535 || weight < 0 || weight > 256) {
        return AUGUR_EINVAL;
    }
    rc = call_new(h, cb, data, EXPECT_OK, &c);
    if (rc != 0) {
        return rc;
    }
    if (check) {
        call_add_cmd(c,
                     "add server %s/%s %s:%d weight %d check inter 200 "
                     "fall 2 rise 1",
                     backend, server, addr, port, weight);
        call_add_cmd(c, "enable health %s/%s", backend, server);
    } else {
        call_add_cmd(c, "add server %s/%s %s:%d weight %d", backend, server,
                     addr, port, weight);
    }
    call_add_cmd(c, "set server %s/%s state ready", backend, server);
    call_submit(c);
    return 0;
}

int haproxy_server_weight(struct haproxy *h,
                          const char *backend,
                          const char *server,
                          int weight,
                          haproxy_cb cb,
                          void *data)
{
    struct call *c;
    int rc;
    if (!name_ok(backend) || !name_ok(server) || weight < 0 || weight > 256) {
        return AUGUR_EINVAL;
    }
    rc = call_new(h, cb, data, EXPECT_OK, &c);
    if (rc != 0) {
        return rc;
    }
    call_add_cmd(c, "set server %s/%s weight %d", backend, server, weight);
    call_submit(c);
    return 0;
}

int haproxy_server_state(struct haproxy *h,
                         const char *backend,
                         const char *server,
                         enum haproxy_state state,
                         haproxy_cb cb,
                         void *data)
{
    static const char *const names[] = {"ready", "drain", "maint"};
    struct call *c;
    int rc;
    if (!name_ok(backend) || !name_ok(server) || (int)state < 0 ||
        (int)state > HAPROXY_MAINT) {
        return AUGUR_EINVAL;
    }
    rc = call_new(h, cb, data, EXPECT_OK, &c);
    if (rc != 0) {
        return rc;
    }
    call_add_cmd(c, "set server %s/%s state %s", backend, server, names[state]);
    call_submit(c);
    return 0;
}

int haproxy_server_delete(struct haproxy *h,
                          const char *backend,
                          const char *server,
                          haproxy_cb cb,
                          void *data)
{
    struct call *c;
    int rc;
    if (!name_ok(backend) || !name_ok(server)) {
        return AUGUR_EINVAL;
    }
    rc = call_new(h, cb, data, EXPECT_OK, &c);
    if (rc != 0) {
        return rc;
    }
    call_add_cmd(c, "set server %s/%s state maint", backend, server);
    call_add_cmd(c, "shutdown sessions server %s/%s", backend, server);
    call_add_cmd(c, "del server %s/%s", backend, server);
    call_submit(c);
    return 0;
}

int haproxy_stat(struct haproxy *h,
                 const char *backend,
                 haproxy_cb cb,
                 void *data)
{
    struct call *c;
    int rc;
    if (!name_ok(backend)) {
        return AUGUR_EINVAL;
    }
    rc = call_new(h, cb, data, EXPECT_CSV, &c);
    if (rc != 0) {
        return rc;
    }
    snprintf(c->backend, sizeof c->backend, "%s", backend);
    /* Type 4: servers only; -1: all of them. */
    call_add_cmd(c, "show stat %s 4 -1", backend);
    call_submit(c);
    return 0;
}

static void on_kick_close(uv_handle_t *handle)
{
    struct haproxy *h = handle->data;
    h->kick_open = false;
    if (h->conn == NULL) {
        free(h->path);
        free(h);
    }
}

void haproxy_close(struct haproxy *h)
{
    if (h == NULL || h->closing) {
        return;
    }
    h->closing = true;
    while (h->queue_head != NULL) {
        struct call *c = h->queue_head;
        h->queue_head = c->next;
        h->n_queued--;
        call_fail(c, AUGUR_ESHUTDOWN, "cancelled");
        report(c);
    }
    h->queue_tail = NULL;
    if (h->conn != NULL) {
        conn_finish(h->conn, AUGUR_ESHUTDOWN, "cancelled");
    }
    uv_close((uv_handle_t *)&h->kick, on_kick_close);
}

/* ---- show stat ---- */

/* Split one CSV line (HAProxy quotes a field holding a comma or a quote,
 * doubling the quotes) in place; returns the number of fields. */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        char *out = p;
        fields[n++] = p;
        if (*p == '"') {
            char *r = p + 1;
            while (*r != '\0') {
                if (*r == '"' && r[1] == '"') {
                    *out++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *out++ = *r++;
                }
            }
            while (*r != '\0' && *r != ',') {
                r++;
            }
            if (*r == ',') {
                *out = '\0';
                p = r + 1;
                continue;
            }
            *out = '\0';
            break;
        }
        char *comma = strchr(p, ',');
        if (comma == NULL) {
            break;
        }
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static uint64_t field_u64(const char *s)
{
    char *end;
    unsigned long long v;
    if (s[0] < '0' || s[0] > '9') {
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    return errno != 0 ? 0 : (uint64_t)v;
}

enum col
{
    COL_PXNAME,
    COL_SVNAME,
    COL_STATUS,
    COL_WEIGHT,
    COL_SCUR,
    COL_STOT,
    COL_H2XX,
    COL_H3XX,
    COL_H4XX,
    COL_H5XX,
    COL_ERESP,
    COL_ECON,
    COL_RTIME,
    COL_TTIME,
    COL_QTIME,
    COL_N
};

static const char *const col_names[COL_N] = {
    "pxname", "svname",   "status",   "weight",   "scur",
    "stot",   "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx",
    "eresp",  "econ",     "rtime",    "ttime",    "qtime",
};

int haproxy_stat_parse(const char *csv,
                       size_t len,
                       const char *backend,
                       struct haproxy_server_stat *out,
                       size_t max,
                       size_t *n,
                       char *errmsg)
{
    char *copy, *line, *next;
    char *fields[COLS_MAX];
    size_t idx[COL_N];
    size_t nf;
    int rc = 0;

    *n = 0;
    if (len < 2 || csv[0] != '#') {
        snprintf(errmsg, HAPROXY_ERRMSG_SIZE,
                 "haproxy: show stat: no '# pxname,...' header");
        return AUGUR_EMALFORMED;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        snprintf(errmsg, HAPROXY_ERRMSG_SIZE, "haproxy: out of memory");
        return AUGUR_ENOMEM;
    }
    memcpy(copy, csv, len);
    copy[len] = '\0';

    line = copy + 1;
    while (*line == ' ') {
        line++;
    }
    next = strchr(line, '\n');
    if (next != NULL) {
        *next++ = '\0';
    }
    nf = csv_split(line, fields, COLS_MAX);
    for (size_t c = 0; c < COL_N; c++) {
        idx[c] = SIZE_MAX;
        for (size_t i = 0; i < nf; i++) {
            if (strcmp(fields[i], col_names[c]) == 0) {
                idx[c] = i;
                break;
            }
        }
        if (idx[c] == SIZE_MAX) {
            snprintf(errmsg, HAPROXY_ERRMSG_SIZE,
                     "haproxy: show stat: no column %s", col_names[c]);
            rc = AUGUR_EMALFORMED;
            goto out;
        }
    }

    for (line = next; line != NULL && *line != '\0'; line = next) {
        struct haproxy_server_stat *s;
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        if (line[0] == '\0' || line[0] == '\r' || line[0] == '#') {
            continue;
        }
        nf = csv_split(line, fields, COLS_MAX);
        bool short_line = false;
        for (size_t c = 0; c < COL_N; c++) {
            if (idx[c] >= nf) {
                short_line = true;
            }
        }
        if (short_line) {
            snprintf(errmsg, HAPROXY_ERRMSG_SIZE,
                     "haproxy: show stat: a line with %zu fields", nf);
            rc = AUGUR_EMALFORMED;
            goto out;
        }
        if (strcmp(fields[idx[COL_PXNAME]], backend) != 0 ||
            strcmp(fields[idx[COL_SVNAME]], "FRONTEND") == 0 ||
            strcmp(fields[idx[COL_SVNAME]], "BACKEND") == 0) {
            continue;
        }
        if (*n >= max) {
            snprintf(errmsg, HAPROXY_ERRMSG_SIZE,
                     "haproxy: show stat: more than %zu servers", max);
            rc = AUGUR_ETOOBIG;
            goto out;
        }
        s = &out[(*n)++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", fields[idx[COL_SVNAME]]);
        snprintf(s->status, sizeof s->status, "%s", fields[idx[COL_STATUS]]);
        s->weight = field_u64(fields[idx[COL_WEIGHT]]);
        s->scur = field_u64(fields[idx[COL_SCUR]]);
        s->stot = field_u64(fields[idx[COL_STOT]]);
        s->hrsp_2xx = field_u64(fields[idx[COL_H2XX]]);
        s->hrsp_3xx = field_u64(fields[idx[COL_H3XX]]);
        s->hrsp_4xx = field_u64(fields[idx[COL_H4XX]]);
        s->hrsp_5xx = field_u64(fields[idx[COL_H5XX]]);
        s->eresp = field_u64(fields[idx[COL_ERESP]]);
        s->econ = field_u64(fields[idx[COL_ECON]]);
        s->rtime = field_u64(fields[idx[COL_RTIME]]);
        s->ttime = field_u64(fields[idx[COL_TTIME]]);
        s->qtime = field_u64(fields[idx[COL_QTIME]]);
    }
out:
    free(copy);
    return rc;
}
