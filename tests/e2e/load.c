/* augur-load: a constant-rate HTTP/1.1 load generator for loopback tests.
 * A fixed pool of keep-alive connections driven by poll(); every request is
 * due at start + k / rate and its latency counts from then, so a slow
 * server shows as latency instead of as a lower rate. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/load_stats.h"

#define CONNS_MAX 256
#define BUF_SIZE 8192

static const char usage[] =
    "usage: augur-load --url http://127.0.0.1:PORT/PATH [--rate R] "
    "[--duration S]\n"
    "                  [--timeout MS] [--conns N] [--json FILE]\n"
    "                  [--samples FILE]\n"
    "\n"
    "Sends R requests a second (default 100) for S seconds (default 10) to\n"
    "an IPv4 address over at most N keep-alive connections (default 32),\n"
    "each request given up after MS milliseconds (default 2000).  Prints one\n"
    "JSON summary (and writes it to FILE):\n"
    "  {\"requests\",\"failed\",\"failed_window_s\",\"p50_ms\",\"p99_ms\",\n"
    "   \"by_second\":[{\"t\",\"requests\",\"failed\",\"p50_ms\",\n"
    "                  \"p99_ms\"}]}\n"
    "A failed request got no answer (status 0) or a 5xx.  SIGINT ends the\n"
    "run early with the summary of the requests finished so far.\n"
    "--samples FILE writes every finished request, in due order, as a line\n"
    "\"T_MS LATENCY_MS STATUS\": when it was due (ms since the start), its\n"
    "latency (ms, counted from then) and its status (0: no answer).\n";

enum conn_state
{
    CONN_CLOSED = 0,
    CONN_CONNECTING,
    CONN_IDLE,
    CONN_BUSY,
};

struct conn
{
    int fd;
    enum conn_state state;
    bool reused;  /* a request was answered on it already */
    size_t req;   /* the request in flight (CONN_BUSY, CONNECTING) */
    bool has_req; /* req is meaningful */
    bool retried; /* req is a retry after a stale keep-alive */
    size_t sent;  /* bytes of the request written */
    size_t len;   /* bytes of the answer read */
    char buf[BUF_SIZE];
};

struct load
{
    struct sockaddr_in addr;
    char request[1024];
    size_t request_len;
    double rate, duration_s, timeout_ms;
    unsigned n_conns;
    struct conn conns[CONNS_MAX];
    struct load_record *rec;
    bool *done;
    size_t total, next, finished;
    double t0;
};

static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int parse_url(struct load *l, const char *url)
{
    char host[64];
    const char *p, *slash, *colon;
    unsigned long port = 80;
    char *end;
    size_t hl;
    int n;

    if (strncmp(url, "http://", 7) != 0) {
        return -1;
    }
    p = url + 7;
    slash = strchr(p, '/');
    if (slash == NULL) {
        slash = p + strlen(p);
    }
    colon = memchr(p, ':', (size_t)(slash - p));
    hl = (size_t)((colon != NULL ? colon : slash) - p);
    if (hl == 0 || hl >= sizeof host) {
        return -1;
    }
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (colon != NULL) {
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno != 0 || end != slash || port == 0 || port > 65535) {
            return -1;
        }
    }
    memset(&l->addr, 0, sizeof l->addr);
    l->addr.sin_family = AF_INET;
    l->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &l->addr.sin_addr) != 1) {
        return -1;
    }
    n = snprintf(l->request, sizeof l->request,
                 "GET %s HTTP/1.1\r\nHost: %s:%lu\r\nUser-Agent: augur-load\r\n"
                 "\r\n",
                 *slash != '\0' ? slash : "/", host, port);
    if (n < 0 || (size_t)n >= sizeof l->request) {
        return -1;
    }
    l->request_len = (size_t)n;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    *out = strtod(s, &end);
    return errno != 0 || *end != '\0' || !(*out > 0) ? -1 : 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->state = CONN_CLOSED;
    c->reused = false;
    c->has_req = false;
    c->len = 0;
    c->sent = 0;
}

static void finish(struct load *l, size_t req, int status)
{
    if (l->done[req]) {
        return;
    }
    l->done[req] = true;
    l->rec[req].status = status;
    l->rec[req].latency_ms = now_ms() - l->t0 - l->rec[req].send_ms;
    l->finished++;
}

static int conn_open(struct load *l, struct conn *c)
{
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->reused = false;
    c->len = 0;
    c->sent = 0;
    if (connect(c->fd, (struct sockaddr *)&l->addr, sizeof l->addr) == 0) {
        c->state = CONN_BUSY;
        return 0;
    }
    if (errno == EINPROGRESS) {
        c->state = CONN_CONNECTING;
        return 0;
    }
    close(c->fd);
    c->fd = -1;
    return -1;
}

/* Start @req on @c (idle or closed). */
static void conn_start(struct load *l, struct conn *c, size_t req, bool retry)
{
    c->req = req;
    c->has_req = true;
    c->retried = retry;
    c->sent = 0;
    c->len = 0;
    if (c->state == CONN_IDLE) {
        c->state = CONN_BUSY;
        return;
    }
    if (conn_open(l, c) != 0) {
        finish(l, req, 0);
        conn_close(c);
    }
}

/* An error on @c: a request on a reused connection that got no byte back
 * may have met the server's keep-alive close, so it gets one retry on a
 * fresh connection; otherwise it failed. */
static void conn_fail(struct load *l, struct conn *c)
{
    size_t req = c->req;
    bool again = c->has_req && c->reused && c->len == 0 && !c->retried;
    bool had = c->has_req;

    conn_close(c);
    if (!had) {
        return;
    }
    if (again) {
        conn_start(l, c, req, true);
    } else {
        finish(l, req, 0);
    }
}

/* The answer in c->buf, when complete: its status (> 0), 0 when more is
 * needed, -1 when malformed.  *close_after says the server will close. */
static int answer_complete(struct conn *c, bool eof, bool *close_after)
{
    char *hdr_end, *p;
    int status;
    long clen = -1;
    bool chunked = false;
    size_t body;

    c->buf[c->len] = '\0';
    hdr_end = strstr(c->buf, "\r\n\r\n");
    if (hdr_end == NULL) {
        return eof || c->len + 1 >= sizeof c->buf ? -1 : 0;
    }
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1 || status < 100 ||
        status > 599) {
        return -1;
    }
    *close_after = strncmp(c->buf, "HTTP/1.0", 8) == 0;
    for (p = strstr(c->buf, "\r\n"); p != NULL && p < hdr_end;
         p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0) {
            clen = strtol(h + 15, NULL, 10);
        } else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 &&
                   strstr(h, "chunked") != NULL) {
            chunked = true;
        } else if (strncasecmp(h, "Connection:", 11) == 0) {
            const char *v = h + 11;
            while (*v == ' ') {
                v++;
            }
            *close_after = strncasecmp(v, "close", 5) == 0;
        }
    }
    body = c->len - (size_t)(hdr_end + 4 - c->buf);
    if (chunked) {
        if (strstr(hdr_end + 4, "\r\n0\r\n\r\n") != NULL ||
            strncmp(hdr_end + 4, "0\r\n\r\n", 5) == 0) {
            return status;
        }
    } else if (clen >= 0) {
        if (body >= (size_t)clen) {
            return status;
        }
    } else if (eof) {
        *close_after = true;
        return status;
    }
    if (c->len + 1 >= sizeof c->buf) {
        return -1; /* an answer too large for this tool */
    }
    return eof ? -1 : 0;
}

static void conn_io(struct load *l, struct conn *c, short revents)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
            err != 0) {
            conn_fail(l, c);
            return;
        }
        c->state = CONN_BUSY;
    }
    if (c->state != CONN_BUSY) {
        if (c->state == CONN_IDLE && (revents & (POLLIN | POLLHUP))) {
            conn_close(c); /* the server closed an idle connection */
        }
        return;
    }
    if (c->sent < l->request_len && (revents & POLLOUT)) {
        ssize_t w = send(c->fd, l->request + c->sent, l->request_len - c->sent,
                         MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            conn_fail(l, c);
            return;
        }
        c->sent += w > 0 ? (size_t)w : 0;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
        bool close_after = false;
        int st;

        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (r < 0 || (r == 0 && c->len == 0)) {
            conn_fail(l, c);
            return;
        }
        c->len += (size_t)r;
        st = answer_complete(c, r == 0, &close_after);
        if (st == 0) {
            return;
        }
        if (st < 0) {
            finish(l, c->req, 0);
            conn_close(c);
            return;
        }
        finish(l, c->req, st);
        c->has_req = false;
        if (close_after || r == 0) {
            conn_close(c);
        } else {
            c->state = CONN_IDLE;
            c->reused = true;
            c->len = 0;
        }
    }
}

static struct conn *conn_free(struct load *l)
{
    struct conn *closed = NULL;
    for (unsigned i = 0; i < l->n_conns; i++) {
        if (l->conns[i].state == CONN_IDLE) {
            return &l->conns[i];
        }
        if (l->conns[i].state == CONN_CLOSED && closed == NULL) {
            closed = &l->conns[i];
        }
    }
    return closed;
}

static void run(struct load *l)
{
    struct pollfd pfd[CONNS_MAX];
    size_t queued = 0; /* due requests waiting for a connection */
    size_t qhead = 0;
    size_t *queue = l->total > 0 ? calloc(l->total, sizeof *queue) : NULL;

    if (queue == NULL && l->total > 0) {
        return;
    }
    l->t0 = now_ms();
    while (!interrupted) {
        double t = now_ms() - l->t0;
        int timeout;

        while (l->next < l->total && (double)l->next * 1000.0 / l->rate <= t) {
            l->rec[l->next].send_ms = (double)l->next * 1000.0 / l->rate;
            queue[queued++] = l->next++;
        }
        while (qhead < queued) {
            struct conn *c = conn_free(l);
            if (c == NULL) {
                break;
            }
            conn_start(l, c, queue[qhead++], false);
        }
        /* Time-outs, counted from the time each request was due. */
        for (unsigned i = 0; i < l->n_conns; i++) {
            struct conn *c = &l->conns[i];
            if (c->has_req && t - l->rec[c->req].send_ms > l->timeout_ms) {
                finish(l, c->req, 0);
                conn_close(c);
            }
        }
        while (qhead < queued &&
               t - l->rec[queue[qhead]].send_ms > l->timeout_ms) {
            finish(l, queue[qhead++], 0);
        }
        if (l->next == l->total && l->finished == l->total) {
            break;
        }
        for (unsigned i = 0; i < l->n_conns; i++) {
            struct conn *c = &l->conns[i];
            short ev = 0;
            if (c->state == CONN_CONNECTING) {
                ev = POLLOUT;
            } else if (c->state == CONN_BUSY) {
                ev = (short)(POLLIN | (c->sent < l->request_len ? POLLOUT : 0));
            } else if (c->state == CONN_IDLE) {
                ev = POLLIN;
            }
            pfd[i] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        timeout = 1;
        if (l->next < l->total) {
            double due = (double)l->next * 1000.0 / l->rate - t;
            timeout = due > 1 ? (int)due : 1;
        } else {
            timeout = 10;
        }
        if (poll(pfd, l->n_conns, timeout) < 0 && errno != EINTR) {
            break;
        }
        for (unsigned i = 0; i < l->n_conns; i++) {
            if (pfd[i].fd >= 0 && pfd[i].revents != 0) {
                conn_io(l, &l->conns[i], pfd[i].revents);
            }
        }
    }
    free(queue);
}

static void print_summary(FILE *f, const struct load_summary *s)
{
    fprintf(f,
            "{\"requests\":%" PRIu64 ",\"failed\":%" PRIu64
            ",\"failed_window_s\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
            "\"by_second\":[",
            s->requests, s->failed, s->failed_window_s, s->p50_ms, s->p99_ms);
    for (unsigned i = 0; i < s->n_seconds; i++) {
        const struct load_second *b = &s->by_second[i];
        fprintf(f,
                "%s{\"t\":%u,\"requests\":%" PRIu64 ",\"failed\":%" PRIu64
                ",\"p50_ms\":%.3f,\"p99_ms\":%.3f}",
                i > 0 ? "," : "", b->t, b->requests, b->failed, b->p50_ms,
                b->p99_ms);
    }
    fprintf(f, "]}\n");
}

/* One line per finished request (@r in due order): "T_MS LATENCY_MS STATUS",
 * so that a caller can cut the run at times of its own and compute exact
 * percentiles per part.  Returns 0 or -1 (errno set). */
static int write_samples(const char *path,
                         const struct load_record *r,
                         size_t n)
{
    FILE *f = fopen(path, "w");
    int rc = 0;

    if (f == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (fprintf(f, "%.3f %.3f %d\n", r[i].send_ms, r[i].latency_ms,
                    r[i].status) < 0) {
            rc = -1;
        }
    }
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct load *l = calloc(1, sizeof *l);
    const char *url = NULL, *json = NULL, *samples = NULL;
    struct load_record *fin;
    struct load_summary sum;
    size_t n = 0;
    double conns = 32;
    int rc = 0;

    if (l == NULL) {
        return 1;
    }
    l->rate = 100;
    l->duration_s = 10;
    l->timeout_ms = 2000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            free(l);
            return 0;
        }
        if (strcmp(a, "--url") == 0 && v != NULL) {
            url = v;
        } else if (strcmp(a, "--json") == 0 && v != NULL) {
            json = v;
        } else if (strcmp(a, "--samples") == 0 && v != NULL) {
            samples = v;
        } else if (strcmp(a, "--rate") == 0) {
            bad = parse_double(v, &l->rate);
        } else if (strcmp(a, "--duration") == 0) {
            bad = parse_double(v, &l->duration_s);
        } else if (strcmp(a, "--timeout") == 0) {
            bad = parse_double(v, &l->timeout_ms);
        } else if (strcmp(a, "--conns") == 0) {
            bad = parse_double(v, &conns) || conns < 1 || conns > CONNS_MAX;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "augur-load: bad option %s %s (see --help)\n", a,
                    v != NULL ? v : "");
            free(l);
            return 2;
        }
        i++;
    }
    if (url == NULL || parse_url(l, url) != 0) {
        fprintf(stderr,
                "augur-load: --url http://IPV4:PORT/PATH is required "
                "(see --help)\n");
        free(l);
        return 2;
    }
    if (l->rate * l->duration_s > 1e8) {
        fprintf(stderr, "augur-load: rate x duration over 1e8 requests\n");
        free(l);
        return 2;
    }
    l->n_conns = (unsigned)conns;
    l->total = (size_t)(l->rate * l->duration_s + 0.5);
    l->rec = calloc(l->total > 0 ? l->total : 1, sizeof *l->rec);
    l->done = calloc(l->total > 0 ? l->total : 1, sizeof *l->done);
    fin = calloc(l->total > 0 ? l->total : 1, sizeof *fin);
    if (l->rec == NULL || l->done == NULL || fin == NULL) {
        fprintf(stderr, "augur-load: out of memory\n");
        rc = 1;
        goto out;
    }
    for (unsigned i = 0; i < CONNS_MAX; i++) {
        l->conns[i].fd = -1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_int);
    run(l);
    for (unsigned i = 0; i < l->n_conns; i++) {
        conn_close(&l->conns[i]);
    }
    /* Only finished requests count: SIGINT drops those still in flight. */
    for (size_t i = 0; i < l->total; i++) {
        if (l->done[i]) {
            fin[n++] = l->rec[i];
        }
    }
    if (load_summarize(fin, n, &sum) != 0) {
        fprintf(stderr, "augur-load: out of memory\n");
        rc = 1;
        goto out;
    }
    print_summary(stdout, &sum);
    if (json != NULL) {
        FILE *f = fopen(json, "w");
        if (f == NULL) {
            perror("augur-load: --json");
            rc = 1;
        } else {
            print_summary(f, &sum);
            if (fclose(f) != 0) {
                perror("augur-load: --json");
                rc = 1;
            }
        }
    }
    if (samples != NULL && write_samples(samples, fin, n) != 0) {
        perror("augur-load: --samples");
        rc = 1;
    }
    load_summary_close(&sum);
out:
    free(fin);
    free(l->done);
    free(l->rec);
    free(l);
    return rc;
}
