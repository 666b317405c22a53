/* The real HAProxy world of node_haproxy_test and node_traffic_test: see
 * haproxy_fixture.h. */
#include "haproxy_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void hfx_require_haproxy(void)
{
    if (system("command -v haproxy >/dev/null 2>&1") != 0) {
        fprintf(stderr, "haproxy is not installed: skipped\n");
        exit(77);
    }
}

int hfx_tmpdir(char *dir, size_t size, const char *name)
{
    int n = snprintf(dir, size, "/tmp/augur-%sXXXXXX", name);
    if (n < 0 || (size_t)n >= size || mkdtemp(dir) == NULL) {
        return -1;
    }
    return 0;
}

int hfx_rmdir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

void hfx_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int hfx_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

int hfx_http_get(int port, char *body, size_t size)
{
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    int code = -1;
    const char req[] = "GET / HTTP/1.0\r\nHost: t\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (body != NULL && size > 0) {
        body[0] = '\0';
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    while (len + 1 < sizeof buf &&
           (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
        return -1;
    }
    if (body != NULL) {
        const char *b = strstr(buf, "\r\n\r\n");
        snprintf(body, size, "%s", b != NULL ? b + 4 : "");
    }
    return code;
}

pid_t hfx_spawn_listening(char *const argv[], int *port)
{
    int fds[2];
    pid_t pid;
    char line[64];
    FILE *f;

    if (pipe(fds) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (f == NULL || fgets(line, sizeof line, f) == NULL ||
        sscanf(line, "listening %d", port) != 1) {
        if (f != NULL) {
            fclose(f);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    fclose(f);
    return pid;
}

pid_t hfx_start_app(const char *workload,
                    const char *host,
                    const char *epoch,
                    bool warm,
                    int *port)
{
    const char *app = getenv("AUGUR_DEMO_APP");
    char *argv[] = {(char *)app,
                    "--workload",
                    (char *)workload,
                    "--host",
                    (char *)host,
                    "--epoch",
                    (char *)epoch,
                    "--port",
                    "0",
                    warm ? "--warm" : NULL,
                    NULL};
    return app != NULL ? hfx_spawn_listening(argv, port) : -1;
}

FILE *hfx_config_begin(const char *path, const char *sock, const char *lua)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return NULL;
    }
    fprintf(f,
            "global\n"
            "  stats socket %s mode 600 level admin\n"
            "  nbthread 1\n",
            sock);
    if (lua != NULL) {
        fprintf(f, "  lua-load %s\n", lua);
    }
    fprintf(f,
            "defaults\n"
            "  mode http\n"
            "  timeout connect 500ms\n"
            "  timeout client 5s\n"
            "  timeout server 5s\n"
            "  option redispatch\n"
            "  retries 2\n");
    return f;
}

void hfx_config_proxy(FILE *f,
                      const char *name,
                      int port,
                      const char *backend_lines)
{
    fprintf(f,
            "frontend fe_%s\n"
            "  bind 127.0.0.1:%d\n"
            "  default_backend be_%s\n"
            "backend be_%s\n"
            "%s"
            "  balance roundrobin\n"
            "  option httpchk GET /healthz\n",
            name, port, name, name, backend_lines != NULL ? backend_lines : "");
}

pid_t hfx_start_haproxy(const char *cfg)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (freopen("/dev/null", "w", stdout) == NULL) {
            _exit(127);
        }
        execlp("haproxy", "haproxy", "-db", "-f", cfg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int hfx_wait_ready(const char *sock, int fe_port)
{
    for (int i = 0; i < 200; i++) {
        if (access(sock, F_OK) == 0 && hfx_http_get(fe_port, NULL, 0) > 0) {
            return 0;
        }
        hfx_sleep_ms(50);
    }
    return -1;
}

void hfx_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

void hfx_on_answer(void *data, const struct haproxy_result *res)
{
    struct hfx_answer *a = data;
    a->calls++;
    a->status = res->status;
    snprintf(a->message, sizeof a->message, "%s", res->message);
    if (res->answer != NULL) {
        snprintf(a->answer, sizeof a->answer, "%.*s", (int)res->answer_len,
                 res->answer);
    }
    a->n = res->n_servers;
    for (size_t i = 0; i < res->n_servers && i < 8; i++) {
        a->servers[i] = res->servers[i];
    }
}

void hfx_run_until_answered(uv_loop_t *loop, struct hfx_answer *a)
{
    while (a->calls == 0) {
        uv_run(loop, UV_RUN_ONCE);
    }
}

const struct haproxy_server_stat *hfx_find(const struct hfx_answer *a,
                                           const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->servers[i].name, name) == 0) {
            return &a->servers[i];
        }
    }
    return NULL;
}
