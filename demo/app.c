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
#include <unistd.h>

#define CONNS_MAX 16
#define REQ_MAX 2048

static const char usage[] =
    "usage: augur-demo-app --workload W --host H --epoch E [--port P] "
    "[--warm]\n"
    "\n"
    "Serves HTTP on 127.0.0.1:P (0, the default: any free port) and prints\n"
    "'listening PORT' once bound:\n"
    "  GET /                  200 \"W H E\"\n"
    "  GET /healthz           200 when active, 503 while warm\n"
    "  POST /activate?epoch=E  promote a warm instance to active with epoch "
    "E\n"
    "SIGUSR1 promotes it as well (keeping its epoch).\n";

struct conn
{
    int fd;
    size_t len;
    char buf[REQ_MAX];
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

int main(int argc, char **argv)
{
    const char *workload = NULL, *host = NULL;
    uint64_t epoch = 0, port = 0;
    bool have_epoch = false, warm = false;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct conn conns[CONNS_MAX];
    struct pollfd pfd[CONNS_MAX + 1];
    int lfd, one = 1;

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
        listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("augur-demo-app: bind");
        return 1;
    }
    printf("listening %d\n", ntohs(sa.sin_port));
    fflush(stdout);

    for (int i = 0; i < CONNS_MAX; i++) {
        conns[i].fd = -1;
    }
    for (;;) {
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < CONNS_MAX; i++) {
            pfd[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        }
        if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR) {
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
                    c = -1;
                }
            }
            if (c >= 0) {
                close(c); /* full: the client retries */
            }
        }
        for (int i = 0; i < CONNS_MAX; i++) {
            struct conn *k = &conns[i];
            ssize_t r;
            char body[512];

            if (k->fd < 0 || !(pfd[i + 1].revents & (POLLIN | POLLHUP))) {
                continue;
            }
            r = recv(k->fd, k->buf + k->len, sizeof k->buf - 1 - k->len, 0);
            if (r <= 0) {
                close(k->fd);
                k->fd = -1;
                continue;
            }
            k->len += (size_t)r;
            k->buf[k->len] = '\0';
            if (strstr(k->buf, "\r\n\r\n") == NULL &&
                strstr(k->buf, "\n\n") == NULL) {
                if (k->len + 1 >= sizeof k->buf) {
                    reply(k->fd, 431, "Too Large", "request too large\n");
                    close(k->fd);
                    k->fd = -1;
                }
                continue;
            }
            if (strncmp(k->buf, "GET / ", 6) == 0) {
                snprintf(body, sizeof body, "%s %s %" PRIu64 "\n", workload,
                         host, epoch);
                reply(k->fd, 200, "OK", body);
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
            close(k->fd);
            k->fd = -1;
        }
    }
}
