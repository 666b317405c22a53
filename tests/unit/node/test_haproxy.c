/* Tests of node/haproxy.c against a real haproxy (started by the test in a
 * temporary directory) in front of a real augur-demo-app; skipped (77)
 * when haproxy is not installed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "node/haproxy.h"

#define BACKEND "be_test"

struct world
{
    char dir[64];
    char sock[128];
    int fe_port;
    int app_port;
    pid_t app_pid;
    pid_t haproxy_pid;
    uv_loop_t loop;
    struct haproxy *h;
};

static struct world w;

struct answer
{
    unsigned calls;
    int status;
    char message[HAPROXY_ERRMSG_SIZE];
    char answer[256];
    size_t n;
    struct haproxy_server_stat servers[8];
};

static void on_answer(void *data, const struct haproxy_result *res)
{
    struct answer *a = data;
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

static void run_until_answered(uv_loop_t *loop, struct answer *a)
{
    while (a->calls == 0) {
        uv_run(loop, UV_RUN_ONCE);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
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
        return -1;
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* One blocking HTTP/1.0 GET /; returns the status code (-1: no answer)
 * and the body in @body. */
static int http_get(int port, char *body, size_t size)
{
    struct sockaddr_in sa;
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    int code = -1;
    const char req[] = "GET / HTTP/1.0\r\nHost: t\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
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

static pid_t start_app(int *port)
{
    const char *app = getenv("AUGUR_DEMO_APP");
    int fds[2];
    pid_t pid;
    char line[64];
    FILE *f;

    if (app == NULL || pipe(fds) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(app, app, "--workload", "w1", "--host", "h1", "--epoch", "3",
              "--port", "0", (char *)NULL);
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

static int write_config(void)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof path, "%s/haproxy.cfg", w.dir);
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f,
            "global\n"
            "  stats socket %s mode 600 level admin\n"
            "  nbthread 1\n"
            "defaults\n"
            "  mode http\n"
            "  timeout connect 500ms\n"
            "  timeout client 5s\n"
            "  timeout server 5s\n"
            "  option redispatch\n"
            "  retries 2\n"
            "frontend fe_test\n"
            "  bind 127.0.0.1:%d\n"
            "  default_backend " BACKEND
            "\n"
            "backend " BACKEND
            "\n"
            "  balance roundrobin\n"
            "  option httpchk GET /healthz\n",
            w.sock, w.fe_port);
    return fclose(f);
}

static int group_setup(void **state)
{
    char cmd[512];
    char pidfile[128];
    FILE *f;
    (void)state;

    if (system("command -v haproxy >/dev/null 2>&1") != 0) {
        fprintf(stderr, "haproxy is not installed: skipped\n");
        exit(77);
    }
    snprintf(w.dir, sizeof w.dir, "/tmp/augur-hapXXXXXX");
    if (mkdtemp(w.dir) == NULL) {
        return -1;
    }
    snprintf(w.sock, sizeof w.sock, "%s/admin.sock", w.dir);
    w.fe_port = free_port();
    w.app_pid = start_app(&w.app_port);
    if (w.fe_port < 0 || w.app_pid < 0 || write_config() != 0) {
        fprintf(stderr, "cannot start augur-demo-app (AUGUR_DEMO_APP)\n");
        return -1;
    }
    snprintf(pidfile, sizeof pidfile, "%s/haproxy.pid", w.dir);
    snprintf(cmd, sizeof cmd, "haproxy -D -p %s -f %s/haproxy.cfg", pidfile,
             w.dir);
    if (system(cmd) != 0) {
        return -1;
    }
    f = fopen(pidfile, "r");
    if (f == NULL || fscanf(f, "%d", &w.haproxy_pid) != 1) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    for (int i = 0; i < 100 && access(w.sock, F_OK) != 0; i++) {
        sleep_ms(50);
    }
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[128];
    (void)state;
    if (w.haproxy_pid > 0) {
        kill(w.haproxy_pid, SIGTERM);
    }
    if (w.app_pid > 0) {
        kill(w.app_pid, SIGTERM);
        waitpid(w.app_pid, NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", w.dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    char errmsg[HAPROXY_ERRMSG_SIZE];
    (void)state;
    assert_int_equal(uv_loop_init(&w.loop), 0);
    assert_int_equal(haproxy_new(&w.loop, w.sock, 8, 2000, &w.h, errmsg), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    haproxy_close(w.h);
    w.h = NULL;
    uv_run(&w.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w.loop), 0);
    return 0;
}

static void stat_get(struct answer *a)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(haproxy_stat(w.h, BACKEND, on_answer, a), 0);
    run_until_answered(&w.loop, a);
    assert_int_equal(a->status, 0);
}

static const struct haproxy_server_stat *find(const struct answer *a,
                                              const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->servers[i].name, name) == 0) {
            return &a->servers[i];
        }
    }
    return NULL;
}

static void expect_ok(int rc, struct answer *a)
{
    assert_int_equal(rc, 0);
    run_until_answered(&w.loop, a);
    if (a->status != 0) {
        fprintf(stderr, "haproxy said: %s\n", a->message);
    }
    assert_int_equal(a->status, 0);
    assert_int_equal(a->calls, 1);
}

/* The whole life of a server: added, checked up, serving real requests
 * (counters move), reweighted, drained, put in maintenance, ready again,
 * deleted. */
static void server_lifecycle_moves_real_traffic(void **state)
{
    struct answer a;
    const struct haproxy_server_stat *s;
    char body[256];
    (void)state;

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_add(w.h, BACKEND, "h1", "127.0.0.1", w.app_port,
                                 100, 1, on_answer, &a),
              &a);

    /* The health check (every 200 ms, rise 1) brings it up. */
    for (int i = 0; i < 100; i++) {
        stat_get(&a);
        s = find(&a, "h1");
        assert_non_null(s);
        if (strncmp(s->status, "UP", 2) == 0) {
            break;
        }
        sleep_ms(50);
    }
    assert_int_equal(strncmp(find(&a, "h1")->status, "UP", 2), 0);
    assert_int_equal(find(&a, "h1")->weight, 100);

    for (int i = 0; i < 5; i++) {
        assert_int_equal(http_get(w.fe_port, body, sizeof body), 200);
        assert_string_equal(body, "w1 h1 3\n");
    }
    stat_get(&a);
    s = find(&a, "h1");
    assert_true(s->stot >= 5);
    assert_true(s->hrsp_2xx >= 5);
    assert_int_equal(s->hrsp_5xx, 0);
    assert_int_equal(s->econ, 0);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_weight(w.h, BACKEND, "h1", 7, on_answer, &a), &a);
    stat_get(&a);
    assert_int_equal(find(&a, "h1")->weight, 7);
    assert_int_equal(
        haproxy_server_weight(w.h, BACKEND, "h1", 257, on_answer, &a),
        AUGUR_EINVAL);

    memset(&a, 0, sizeof a);
    expect_ok(
        haproxy_server_state(w.h, BACKEND, "h1", HAPROXY_DRAIN, on_answer, &a),
        &a);
    stat_get(&a);
    assert_int_equal(strncmp(find(&a, "h1")->status, "DRAIN", 5), 0);

    memset(&a, 0, sizeof a);
    expect_ok(
        haproxy_server_state(w.h, BACKEND, "h1", HAPROXY_MAINT, on_answer, &a),
        &a);
    stat_get(&a);
    assert_int_equal(strncmp(find(&a, "h1")->status, "MAINT", 5), 0);
    /* No server left to take it: HAProxy answers 503 itself. */
    assert_int_equal(http_get(w.fe_port, NULL, 0), 503);

    memset(&a, 0, sizeof a);
    expect_ok(
        haproxy_server_state(w.h, BACKEND, "h1", HAPROXY_READY, on_answer, &a),
        &a);
    for (int i = 0; i < 100; i++) {
        stat_get(&a);
        if (strncmp(find(&a, "h1")->status, "UP", 2) == 0) {
            break;
        }
        sleep_ms(50);
    }
    assert_int_equal(http_get(w.fe_port, NULL, 0), 200);

    /* Adding the same name again is refused, with HAProxy's words. */
    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_server_add(w.h, BACKEND, "h1", "127.0.0.1",
                                        w.app_port, 10, 0, on_answer, &a),
                     0);
    run_until_answered(&w.loop, &a);
    assert_int_not_equal(a.status, 0);
    assert_true(strlen(a.message) > 0);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_delete(w.h, BACKEND, "h1", on_answer, &a), &a);
    stat_get(&a);
    assert_null(find(&a, "h1"));
    assert_int_equal(a.n, 0);
}

static void unknown_backend_reaches_the_callback(void **state)
{
    struct answer a;
    (void)state;
    memset(&a, 0, sizeof a);
    assert_int_equal(
        haproxy_server_weight(w.h, "be_nope", "h1", 5, on_answer, &a), 0);
    run_until_answered(&w.loop, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, AUGUR_ENOTFOUND);
    assert_non_null(strstr(a.message, "No such backend"));

    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_stat(w.h, "be_nope", on_answer, &a), 0);
    run_until_answered(&w.loop, &a);
    assert_int_not_equal(a.status, 0);
}

static void raw_command_returns_the_answer(void **state)
{
    struct answer a;
    (void)state;
    memset(&a, 0, sizeof a);
    expect_ok(
        haproxy_command(w.h, "show servers state " BACKEND, on_answer, &a), &a);
    assert_true(strlen(a.answer) > 0);
    assert_int_equal(
        haproxy_command(w.h, "show info\nshow stat", on_answer, &a),
        AUGUR_EINVAL);
}

static void dead_socket_gives_an_error(void **state)
{
    uv_loop_t loop;
    struct haproxy *h;
    struct answer a;
    char errmsg[HAPROXY_ERRMSG_SIZE];
    char path[128];
    (void)state;

    snprintf(path, sizeof path, "%s/nobody.sock", w.dir);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(haproxy_new(&loop, path, 4, 500, &h, errmsg), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_stat(h, BACKEND, on_answer, &a), 0);
    assert_int_equal(a.calls, 0); /* never from inside the call */
    run_until_answered(&loop, &a);
    assert_int_equal(a.status, AUGUR_ECONNECT);
    assert_non_null(strstr(a.message, "connect"));
    haproxy_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A socket that accepts (in its backlog) but never answers. */
static void silent_socket_times_out(void **state)
{
    uv_loop_t loop;
    struct haproxy *h;
    struct answer a;
    char errmsg[HAPROXY_ERRMSG_SIZE];
    struct sockaddr_un sa;
    int fd;
    (void)state;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/silent.sock", w.dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(haproxy_new(&loop, sa.sun_path, 4, 150, &h, errmsg), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_stat(h, BACKEND, on_answer, &a), 0);
    run_until_answered(&loop, &a);
    assert_int_equal(a.status, AUGUR_ETIMEOUT);
    assert_non_null(strstr(a.message, "timeout"));
    haproxy_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fd);
}

/* The queue is bounded; closing answers every call exactly once. */
static void queue_is_bounded_and_close_cancels(void **state)
{
    uv_loop_t loop;
    struct haproxy *h;
    struct answer a[3];
    char errmsg[HAPROXY_ERRMSG_SIZE];
    (void)state;

    memset(a, 0, sizeof a);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(haproxy_new(&loop, w.sock, 2, 500, &h, errmsg), 0);
    assert_int_equal(haproxy_stat(h, BACKEND, on_answer, &a[0]), 0);
    assert_int_equal(haproxy_stat(h, BACKEND, on_answer, &a[1]), 0);
    assert_int_equal(haproxy_stat(h, BACKEND, on_answer, &a[2]), AUGUR_EBUSY);
    haproxy_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a[0].calls, 1);
    assert_int_equal(a[1].calls, 1);
    assert_int_equal(a[2].calls, 0);
    assert_int_equal(a[0].status, AUGUR_ESHUTDOWN);
    assert_int_equal(uv_loop_close(&loop), 0);

    char bad[200];
    memset(bad, 'x', sizeof bad - 1);
    bad[sizeof bad - 1] = '\0';
    assert_int_equal(haproxy_new(&loop, bad, 2, 0, &h, errmsg), AUGUR_EINVAL);
}

/* Columns are found by the header's names, wherever they are. */
static void stat_parse_reads_columns_by_name(void **state)
{
    const char csv[] =
        "# svname,pxname,weight,status,stot,scur,hrsp_5xx,hrsp_2xx,"
        "hrsp_3xx,hrsp_4xx,econ,eresp,qtime,rtime,ttime,extra,\n"
        "a,be,100,UP,12,1,2,10,0,0,3,4,5,6,7,\"x,y\",\n"
        "BACKEND,be,100,UP,12,1,2,10,0,0,3,4,5,6,7,,\n"
        "b,other,1,UP,1,1,1,1,1,1,1,1,1,1,1,,\n"
        "\n";
    struct haproxy_server_stat s[4];
    size_t n;
    char errmsg[HAPROXY_ERRMSG_SIZE];
    (void)state;

    int rc = haproxy_stat_parse(csv, sizeof csv - 1, "be", s, 4, &n, errmsg);
    if (rc != 0) {
        fprintf(stderr, "%s\n", errmsg);
    }
    assert_int_equal(rc, 0);

    assert_int_equal(n, 1);
    assert_string_equal(s[0].name, "a");
    assert_string_equal(s[0].status, "UP");
    assert_int_equal(s[0].weight, 100);
    assert_int_equal(s[0].stot, 12);
    assert_int_equal(s[0].scur, 1);
    assert_int_equal(s[0].hrsp_5xx, 2);
    assert_int_equal(s[0].hrsp_2xx, 10);
    assert_int_equal(s[0].econ, 3);
    assert_int_equal(s[0].eresp, 4);
    assert_int_equal(s[0].qtime, 5);
    assert_int_equal(s[0].rtime, 6);
    assert_int_equal(s[0].ttime, 7);

    const char nohdr[] = "a,be,1\n";
    assert_int_equal(
        haproxy_stat_parse(nohdr, sizeof nohdr - 1, "be", s, 4, &n, errmsg),
        AUGUR_EMALFORMED);
    const char nocol[] = "# pxname,svname,status\nbe,a,UP\n";
    assert_int_equal(
        haproxy_stat_parse(nocol, sizeof nocol - 1, "be", s, 4, &n, errmsg),
        AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "weight"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stat_parse_reads_columns_by_name),
        cmocka_unit_test_setup_teardown(server_lifecycle_moves_real_traffic,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_backend_reaches_the_callback,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(raw_command_returns_the_answer, setup,
                                        teardown),
        cmocka_unit_test(dead_socket_gives_an_error),
        cmocka_unit_test(silent_socket_times_out),
        cmocka_unit_test(queue_is_bounded_and_close_cancels),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
