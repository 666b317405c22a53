/* augur-demo-app: one instance of a demo workload, a tiny HTTP/1.1 server
 * on 127.0.0.1 that says which workload, host and epoch it is. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 128
#define REQ_MAX 2048
#define FAIL_AFTER_MAX 1000000000ull
#define DELAY_MS_MAX 60000ull
#define PPM 1000000u

static const char usage[] =
    "usage: augur-demo-app --workload W --host H --epoch E [--port P] "
    "[--warm]\n"
    "                      [--fail-rate F] [--fail-after N] [--delay-ms MS]\n"
    "\n"
    "Serves HTTP on 127.0.0.1:P (0, the default: any free port) and prints\n"
    "'listening PORT' once bound:\n"
    "  GET /                  200 \"W H E\"\n"
    "  GET /healthz           200 when active, 503 while warm\n"
    "  POST /activate?epoch=E  promote a warm instance to active with epoch "
    "E\n"
    "SIGUSR1 promotes it as well (keeping its epoch).\n"
    "\n"
    "Fault injection, for a bad canary (only GET / is affected: /healthz\n"
    "and /activate answer as usual, so the instance looks healthy):\n"
    "  --fail-rate F   F in 0..1 (e.g. 0.25): that fraction of GET / answers\n"
    "                  500, spread evenly (an accumulator, not random: 0.25\n"
    "                  fails every 4th)\n"
    "  --fail-after N  after N GET / answered normally (0..1000000000), every\n"
    "                  later one answers 500\n"
    "  --delay-ms MS   answer GET / MS ms late (0..60000); other connections\n"
    "                  are served meanwhile\n";

struct conn
{
    int fd;
    size_t len;
    uint64_t due_ms; /* 0: reading its request; else GET / answered then */
    int code;        /* the answer decided for a delayed GET / */
    char buf[REQ_MAX];
};

/* The fault injection of GET / (all zero: none). */
struct faults
{
    uint32_t rate_ppm; /* --fail-rate, in millionths */
    uint32_t acc_ppm;  /* the accumulator spreading the failures evenly */
    bool after_set;
    uint64_t after; /* --fail-after */
    uint64_t good;  /* GET / answered normally so far */
    uint64_t delay_ms;
};

/* Set by the SIGUSR1 handler only; read by the loop. */
static volatile sig_atomic_t promote;

static void on_usr1(int sig)
{
    (void)sig;
    promote = 1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    *out = strtoull(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/* A fraction in 0..1 written as digits with an optional decimal part
 * ("1", "0.25", ".5"), in millionths (rounded). */
static int parse_rate(const char *s, uint32_t *ppm)
{
    size_t digits = 0, len = strlen(s);
    const char *dot = strchr(s, '.');
    double v;

    if (len == 0 || len > 20) {
        return -1;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (p != dot) {
            return -1;
        }
    }
    if (digits == 0 || (dot != NULL && dot[1] == '\0')) {
        return -1;
    }
    v = strtod(s, NULL);
    if (!(v >= 0.0 && v <= 1.0)) {
        return -1;
    }
    *ppm = (uint32_t)(v * PPM + 0.5);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Does this GET / fail?  Counted in arrival order. */
static bool fault_fails(struct faults *f)
{
    if (f->after_set && f->good >= f->after) {
        return true;
    }
    f->acc_ppm += f->rate_ppm;
    if (f->acc_ppm >= PPM) {
        f->acc_ppm -= PPM;
        return true;
    }
    f->good++;
    return false;
}

static void reply(int fd, int code, const char *reason, const char *body)
{
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, reason, strlen(body), body);
    if (n > 0) {
        (void)send(fd, out, (size_t)n < sizeof out ? (size_t)n : sizeof out,
                   MSG_NOSIGNAL);
    }
}

/* GET /'s answer: "W H E", or the injected 500. */
static void reply_root(int fd,
                       bool fails,
                       const char *workload,
                       const char *host,
                       uint64_t epoch)
{
    char body[512];

    if (fails) {
        reply(fd, 500, "Internal Server Error", "injected failure\n");
        return;
    }
    snprintf(body, sizeof body, "%s %s %" PRIu64 "\n", workload, host, epoch);
    reply(fd, 200, "OK", body);
}

static void conn_close(struct conn *k)
{
    close(k->fd);
    k->fd = -1;
    k->len = 0;
    k->due_ms = 0;
}

int main(int argc, char **argv)
{
    const char *workload = NULL, *host = NULL;
    uint64_t epoch = 0, port = 0;
    bool have_epoch = false, warm = false;
    struct faults faults;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct conn conns[CONNS_MAX];
    struct pollfd pfd[CONNS_MAX + 1];
    int lfd, one = 1;

    memset(&faults, 0, sizeof faults);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--warm") == 0) {
            warm = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "augur-demo-app: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--workload") == 0) {
            workload = v;
        } else if (strcmp(a, "--host") == 0) {
            host = v;
        } else if (strcmp(a, "--epoch") == 0 && parse_u64(v, &epoch) == 0) {
            have_epoch = true;
        } else if (strcmp(a, "--port") == 0 && parse_u64(v, &port) == 0 &&
                   port < 65536) {
        } else if (strcmp(a, "--fail-rate") == 0 &&
                   parse_rate(v, &faults.rate_ppm) == 0) {
        } else if (strcmp(a, "--fail-after") == 0 &&
                   parse_u64(v, &faults.after) == 0 &&
                   faults.after <= FAIL_AFTER_MAX) {
            faults.after_set = true;
        } else if (strcmp(a, "--delay-ms") == 0 &&
                   parse_u64(v, &faults.delay_ms) == 0 &&
                   faults.delay_ms <= DELAY_MS_MAX) {
        } else {
            fprintf(stderr, "augur-demo-app: bad option %s %s (see --help)\n",
                    a, v);
            return 2;
        }
    }
    if (workload == NULL || host == NULL || !have_epoch) {
        fprintf(stderr,
                "augur-demo-app: --workload, --host and --epoch are required "
                "(see --help)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_usr1);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("augur-demo-app: socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(lfd, 128) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("augur-demo-app: bind");
        return 1;
    }
    printf("listening %d\n", ntohs(sa.sin_port));
    if (faults.rate_ppm > 0 || faults.after_set || faults.delay_ms > 0) {
        char after[32] = "-";
        if (faults.after_set) {
            snprintf(after, sizeof after, "%" PRIu64, faults.after);
        }
        printf("faults: fail-rate %u.%06u fail-after %s delay-ms %" PRIu64 "\n",
               faults.rate_ppm / PPM, faults.rate_ppm % PPM, after,
               faults.delay_ms);
    }
    fflush(stdout);

    for (int i = 0; i < CONNS_MAX; i++) {
        conns[i].fd = -1;
        conns[i].len = 0;
        conns[i].due_ms = 0;
    }
    for (;;) {
        int n = 0, timeout = 1000, free_slots = 0;
        uint64_t now = now_ms();

        for (int i = 0; i < CONNS_MAX; i++) {
            const struct conn *k = &conns[i];
            if (k->fd < 0) {
                free_slots++;
            } else if (k->due_ms != 0) {
                uint64_t wait = k->due_ms > now ? k->due_ms - now : 0;
                if (wait < (uint64_t)timeout) {
                    timeout = (int)wait;
                }
            }
        }
        /* With every slot taken, new connections wait in the listen
         * backlog rather than being refused. */
        pfd[n++] =
            (struct pollfd){.fd = free_slots > 0 ? lfd : -1, .events = POLLIN};
        for (int i = 0; i < CONNS_MAX; i++) {
            /* A delayed answer reads nothing more: only its due time. */
            short ev = conns[i].due_ms != 0 ? 0 : POLLIN;
            pfd[n++] = (struct pollfd){.fd = conns[i].fd, .events = ev};
        }
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
            perror("augur-demo-app: poll");
            return 1;
        }
        if (promote) {
            promote = 0;
            warm = false;
        }
        if (pfd[0].revents & POLLIN) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            for (int i = 0; c >= 0 && i < CONNS_MAX; i++) {
                if (conns[i].fd < 0) {
                    conns[i].fd = c;
                    conns[i].len = 0;
                    conns[i].due_ms = 0;
                    c = -1;
                }
            }
            if (c >= 0) {
                close(c); /* cannot happen: polled only with a free slot */
            }
        }
        now = now_ms();
        for (int i = 0; i < CONNS_MAX; i++) {
            struct conn *k = &conns[i];
            ssize_t r;
            char body[512];

            if (k->fd < 0) {
                continue;
            }
            if (k->due_ms != 0) {
                if (pfd[i + 1].revents & (POLLERR | POLLHUP)) {
                    conn_close(k); /* the client is gone: poll would spin */
                } else if (now >= k->due_ms) {
                    reply_root(k->fd, k->code != 200, workload, host, epoch);
                    conn_close(k);
                }
                continue;
            }
            if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            r = recv(k->fd, k->buf + k->len, sizeof k->buf - 1 - k->len, 0);
            if (r <= 0) {
                conn_close(k);
                continue;
            }
            k->len += (size_t)r;
            k->buf[k->len] = '\0';
            if (strstr(k->buf, "\r\n\r\n") == NULL &&
                strstr(k->buf, "\n\n") == NULL) {
                if (k->len + 1 >= sizeof k->buf) {
                    reply(k->fd, 431, "Too Large", "request too large\n");
                    conn_close(k);
                }
                continue;
            }
            if (strncmp(k->buf, "GET / ", 6) == 0) {
                bool fails = fault_fails(&faults);
                if (faults.delay_ms > 0) {
                    k->code = fails ? 500 : 200;
                    k->due_ms = now + faults.delay_ms;
                    continue; /* answered when due */
                }
                reply_root(k->fd, fails, workload, host, epoch);
            } else if (strncmp(k->buf, "GET /healthz ", 13) == 0) {
                if (warm) {
                    reply(k->fd, 503, "Warm", "warm\n");
                } else {
                    reply(k->fd, 200, "OK", "ok\n");
                }
            } else if (strncmp(k->buf, "POST /activate?epoch=", 21) == 0) {
                char num[32];
                uint64_t e;
                size_t nl = strcspn(k->buf + 21, " \r\n");
                snprintf(num, sizeof num, "%.*s", (int)(nl < 31 ? nl : 31),
                         k->buf + 21);
                if (parse_u64(num, &e) != 0 || e < epoch) {
                    reply(k->fd, 409, "Conflict", "stale or bad epoch\n");
                } else {
                    epoch = e;
                    warm = false;
                    snprintf(body, sizeof body, "active %" PRIu64 "\n", epoch);
                    reply(k->fd, 200, "OK", body);
                }
            } else {
                reply(k->fd, 404, "Not Found", "not found\n");
            }
            conn_close(k);
        }
    }
}
