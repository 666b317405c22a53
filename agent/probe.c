/* Health probes: their configuration file, and TCP connect, HTTP GET
 * (libcurl) and exec checks whose results are samples. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent/agent.h"

#define PROBES_FILE_MAX (256 * 1024)
#define LINE_TOKENS 4

static int parse_fail(struct agent *a, unsigned line, const char *what)
{
    snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "line %u: %s", line, what);
    return AUGUR_EMALFORMED;
}

static bool probe_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > AGENT_PROBE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* The next whitespace-separated token of *@p: its start and length. */
static bool next_token(const char **p, const char **tok, size_t *len)
{
    const char *s = *p;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0') {
        *p = s;
        return false;
    }
    *tok = s;
    while (*s != '\0' && *s != ' ' && *s != '\t') {
        s++;
    }
    *len = (size_t)(s - *tok);
    *p = s;
    return true;
}

static int parse_line(struct agent *a,
                      unsigned ln,
                      const char *line,
                      struct agent_probe *p)
{
    const char *tok;
    size_t len;
    char *end;

    memset(p, 0, sizeof *p);
    p->timeout_ms = AGENT_PROBE_TIMEOUT_MS;
    p->expect_status = 200;
    if (!next_token(&line, &tok, &len) || len != 5 ||
        memcmp(tok, "probe", 5) != 0) {
        return parse_fail(a, ln, "expected 'probe NAME KIND ...'");
    }
    if (!next_token(&line, &tok, &len) || !probe_name_valid(tok, len)) {
        return parse_fail(a, ln, "a probe name is 1 to 32 of [A-Za-z0-9_-]");
    }
    memcpy(p->name, tok, len);
    if (!next_token(&line, &tok, &len)) {
        return parse_fail(a, ln, "missing the kind (tcp, http, exec)");
    }
    if (len == 3 && memcmp(tok, "tcp", 3) == 0) {
        p->kind = AGENT_PROBE_TCP;
    } else if (len == 4 && memcmp(tok, "http", 4) == 0) {
        p->kind = AGENT_PROBE_HTTP;
    } else if (len == 4 && memcmp(tok, "exec", 4) == 0) {
        p->kind = AGENT_PROBE_EXEC;
    } else {
        return parse_fail(a, ln, "unknown kind (tcp, http, exec)");
    }
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    if (strncmp(line, "timeout=", 8) == 0) {
        unsigned long ms = strtoul(line + 8, &end, 10);
        if (end == line + 8 || (*end != ' ' && *end != '\t' && *end) ||
            ms == 0 || ms > 600000) {
            return parse_fail(a, ln, "timeout=MS takes 1 to 600000");
        }
        p->timeout_ms = (unsigned)ms;
        line = end;
        while (*line == ' ' || *line == '\t') {
            line++;
        }
    }
    if (*line == '\0') {
        return parse_fail(a, ln, "missing the target");
    }
    if (p->kind == AGENT_PROBE_EXEC) {
        /* The rest of the line is the command, for /bin/sh -c. */
        if (strlen(line) >= sizeof p->target) {
            return parse_fail(a, ln, "command too long");
        }
        snprintf(p->target, sizeof p->target, "%s", line);
        return 0;
    }
    (void)next_token(&line, &tok, &len);
    if (len >= sizeof p->target) {
        return parse_fail(a, ln, "target too long");
    }
    memcpy(p->target, tok, len);
    if (p->kind == AGENT_PROBE_TCP && strrchr(p->target, ':') == NULL) {
        return parse_fail(a, ln, "a tcp target is HOST:PORT");
    }
    if (p->kind == AGENT_PROBE_HTTP && next_token(&line, &tok, &len)) {
        p->expect_status = strtol(tok, &end, 10);
        if (end != tok + len || p->expect_status < 100 ||
            p->expect_status > 599) {
            return parse_fail(a, ln, "an expected status is 100 to 599");
        }
    }
    if (next_token(&line, &tok, &len)) {
        return parse_fail(a, ln, "unexpected words after the target");
    }
    return 0;
}

int agent_probes_parse(struct agent *a, const char *text)
{
    struct agent_probe *v = NULL;
    size_t n = 0;
    unsigned ln = 0;
    int rv = 0;

    for (const char *p = text; *p != '\0' && rv == 0;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char line[AGENT_PROBE_ARG_MAX + 128];
        const char *s;

        ln++;
        if (len >= sizeof line) {
            rv = parse_fail(a, ln, "line too long");
            break;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        line[strcspn(line, "\r")] = '\0';
        p = nl != NULL ? nl + 1 : p + len;
        for (s = line; *s == ' ' || *s == '\t'; s++) {
        }
        if (*s == '\0' || *s == '#') {
            continue;
        }
        if (n == AGENT_PROBES_MAX) {
            rv = parse_fail(a, ln, "more than 64 probes");
            break;
        }
        if (n % 8 == 0) {
            struct agent_probe *w = realloc(v, (n + 8) * sizeof *v);
            if (w == NULL) {
                rv = AUGUR_ENOMEM;
                snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "out of memory");
                break;
            }
            v = w;
        }
        rv = parse_line(a, ln, s, &v[n]);
        for (size_t k = 0; rv == 0 && k < n; k++) {
            if (strcmp(v[k].name, v[n].name) == 0) {
                rv = parse_fail(a, ln, "a probe of that name already");
            }
        }
        n += rv == 0;
    }
    if (rv != 0) {
        free(v);
        return rv;
    }
    free(a->probes);
    a->probes = v;
    a->n_probes = n;
    return 0;
}

int agent_probes_load(struct agent *a, const char *path)
{
    char *buf = malloc(PROBES_FILE_MAX);
    int rv;

    if (buf == NULL) {
        return AUGUR_ENOMEM;
    }
    rv = agent__read_file(path, buf, PROBES_FILE_MAX);
    if (rv != 0) {
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "%s: %s", path,
                 rv == AUGUR_ETOOBIG ? "over 256 KiB" : "cannot read it");
        free(buf);
        return rv == AUGUR_ETOOBIG ? AUGUR_ETOOBIG : AUGUR_EIO;
    }
    rv = agent_probes_parse(a, buf);
    free(buf);
    if (rv == AUGUR_EMALFORMED) {
        char msg[AGENT_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", a->errmsg);
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "%.100s: %.150s", path, msg);
    }
    return rv;
}

/* Connect to HOST:PORT within the timeout. */
static bool tcp_check(const char *target, unsigned timeout_ms)
{
    char host[AGENT_PROBE_ARG_MAX];
    const char *colon = strrchr(target, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    bool ok = false;
    size_t hlen;

    if (colon == NULL) {
        return false;
    }
    hlen = (size_t)(colon - target);
    if (hlen >= 2 && target[0] == '[' && target[hlen - 1] == ']') {
        snprintf(host, sizeof host, "%.*s", (int)(hlen - 2), target + 1);
    } else {
        snprintf(host, sizeof host, "%.*s", (int)hlen, target);
    }
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
        return false;
    }
    for (struct addrinfo *ai = res; ai != NULL && !ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        struct pollfd p;
        int err = 0;
        socklen_t elen = sizeof err;

        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            p.fd = fd;
            p.events = POLLOUT;
            ok = poll(&p, 1, (int)timeout_ms) == 1 &&
                 getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 &&
                 err == 0;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

static bool http_check(const struct agent_probe *p, long *status)
{
    CURL *c = curl_easy_init();
    CURLcode rc;

    *status = 0;
    if (c == NULL) {
        return false;
    }
    curl_easy_setopt(c, CURLOPT_URL, p->target);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "augur-agent/" AUGUR_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    curl_easy_cleanup(c);
    return rc == CURLE_OK && *status == p->expect_status;
}

void agent_probe_run(const struct agent_probe *p,
                     bool *ok,
                     double *latency_ms,
                     long *status)
{
    struct timespec t0;
    struct timespec t1;
    char out[256];
    char errmsg[AGENT_ERRMSG_SIZE];
    size_t len;
    int st;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    *status = 0;
    switch (p->kind) {
        case AGENT_PROBE_TCP:
            *ok = tcp_check(p->target, p->timeout_ms);
            break;
        case AGENT_PROBE_HTTP:
            *ok = http_check(p, status);
            break;
        case AGENT_PROBE_EXEC: {
            char *argv[] = {"/bin/sh", "-c", (char *)p->target, NULL};
            int rv = agent__run(argv, p->timeout_ms, out, sizeof out, &len, &st,
                                errmsg);
            *ok = (rv == 0 || rv == AUGUR_ETOOBIG) && st == 0;
            *status = st;
            break;
        }
        default:
            *ok = false;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *latency_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

int agent_probes_collect(struct agent *a, struct agent_readings *out)
{
    int rv = 0;

    for (size_t i = 0; i < a->n_probes && rv == 0; i++) {
        const struct agent_probe *p = &a->probes[i];
        bool ok;
        double ms;
        long status;

        agent_probe_run(p, &ok, &ms, &status);
        rv = agent_readings_add(out, AGENT_GAUGE, ok ? 1 : 0, 0, "probe.%s.ok",
                                p->name);
        rv = rv ? rv
                : agent_readings_add(out, AGENT_GAUGE, ms, 0,
                                     "probe.%s.latency_ms", p->name);
        rv = rv ? rv
                : agent_readings_add(out, AGENT_GAUGE, (double)status, 0,
                                     "probe.%s.status", p->name);
    }
    return rv;
}
