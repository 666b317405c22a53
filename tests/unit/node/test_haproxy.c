/* Tests of node/haproxy.c against a real haproxy (started by the test in a
 * temporary directory) in front of a real augur-demo-app; skipped (77)
 * when haproxy is not installed. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "haproxy_fixture.h"
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

static int write_config(void)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof path, "%s/haproxy.cfg", w.dir);
    f = hfx_config_begin(path, w.sock, NULL);
    if (f == NULL) {
        return -1;
    }
    hfx_config_proxy(f, "test", w.fe_port, NULL);
    return fclose(f);
}

static int group_setup(void **state)
{
    char cfg[128];
    (void)state;

    hfx_require_haproxy();
    if (hfx_tmpdir(w.dir, sizeof w.dir, "hap") != 0) {
        return -1;
    }
    snprintf(w.sock, sizeof w.sock, "%s/admin.sock", w.dir);
    w.fe_port = hfx_free_port();
    w.app_pid = hfx_start_app("w1", "h1", "3", false, &w.app_port);
    if (w.fe_port < 0 || w.app_pid < 0 || write_config() != 0) {
        fprintf(stderr, "cannot start augur-demo-app (AUGUR_DEMO_APP)\n");
        return -1;
    }
    snprintf(cfg, sizeof cfg, "%s/haproxy.cfg", w.dir);
    w.haproxy_pid = hfx_start_haproxy(cfg);
    if (w.haproxy_pid < 0 || hfx_wait_ready(w.sock, w.fe_port) != 0) {
        fprintf(stderr, "haproxy did not start (config %s)\n", cfg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    hfx_stop(&w.haproxy_pid);
    hfx_stop(&w.app_pid);
    return hfx_rmdir(w.dir);
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

static void stat_get(struct hfx_answer *a)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(haproxy_stat(w.h, BACKEND, hfx_on_answer, a), 0);
    hfx_run_until_answered(&w.loop, a);
    assert_int_equal(a->status, 0);
}

static void expect_ok(int rc, struct hfx_answer *a)
{
    assert_int_equal(rc, 0);
    hfx_run_until_answered(&w.loop, a);
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
    struct hfx_answer a;
    const struct haproxy_server_stat *s;
    char body[256];
    (void)state;

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_add(w.h, BACKEND, "h1", "127.0.0.1", w.app_port,
                                 100, 1, hfx_on_answer, &a),
              &a);

    /* The health check (every 200 ms, rise 1) brings it up. */
    for (int i = 0; i < 100; i++) {
        stat_get(&a);
        s = hfx_find(&a, "h1");
        assert_non_null(s);
        if (strncmp(s->status, "UP", 2) == 0) {
            break;
        }
        hfx_sleep_ms(50);
    }
    assert_int_equal(strncmp(hfx_find(&a, "h1")->status, "UP", 2), 0);
    assert_int_equal(hfx_find(&a, "h1")->weight, 100);

    for (int i = 0; i < 5; i++) {
        assert_int_equal(hfx_http_get(w.fe_port, body, sizeof body), 200);
        assert_string_equal(body, "w1 h1 3\n");
    }
    stat_get(&a);
    s = hfx_find(&a, "h1");
    assert_true(s->stot >= 5);
    assert_true(s->hrsp_2xx >= 5);
    assert_int_equal(s->hrsp_5xx, 0);
    assert_int_equal(s->econ, 0);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_weight(w.h, BACKEND, "h1", 7, hfx_on_answer, &a),
              &a);
    stat_get(&a);
    assert_int_equal(hfx_find(&a, "h1")->weight, 7);
    assert_int_equal(
        haproxy_server_weight(w.h, BACKEND, "h1", 257, hfx_on_answer, &a),
        AUGUR_EINVAL);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_state(w.h, BACKEND, "h1", HAPROXY_DRAIN,
                                   hfx_on_answer, &a),
              &a);
    stat_get(&a);
    assert_int_equal(strncmp(hfx_find(&a, "h1")->status, "DRAIN", 5), 0);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_state(w.h, BACKEND, "h1", HAPROXY_MAINT,
                                   hfx_on_answer, &a),
              &a);
    stat_get(&a);
    assert_int_equal(strncmp(hfx_find(&a, "h1")->status, "MAINT", 5), 0);
    /* No server left to take it: HAProxy answers 503 itself. */
    assert_int_equal(hfx_http_get(w.fe_port, NULL, 0), 503);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_state(w.h, BACKEND, "h1", HAPROXY_READY,
                                   hfx_on_answer, &a),
              &a);
    for (int i = 0; i < 100; i++) {
        stat_get(&a);
        if (strncmp(hfx_find(&a, "h1")->status, "UP", 2) == 0) {
            break;
        }
        hfx_sleep_ms(50);
    }
    assert_int_equal(hfx_http_get(w.fe_port, NULL, 0), 200);

    /* Adding the same name again is refused, with HAProxy's words. */
    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_server_add(w.h, BACKEND, "h1", "127.0.0.1",
                                        w.app_port, 10, 0, hfx_on_answer, &a),
                     0);
    hfx_run_until_answered(&w.loop, &a);
    assert_int_not_equal(a.status, 0);
    assert_true(strlen(a.message) > 0);

    memset(&a, 0, sizeof a);
    expect_ok(haproxy_server_delete(w.h, BACKEND, "h1", hfx_on_answer, &a), &a);
    stat_get(&a);
    assert_null(hfx_find(&a, "h1"));
    assert_int_equal(a.n, 0);
}

static void unknown_backend_reaches_the_callback(void **state)
{
    struct hfx_answer a;
    (void)state;
    memset(&a, 0, sizeof a);
    assert_int_equal(
        haproxy_server_weight(w.h, "be_nope", "h1", 5, hfx_on_answer, &a), 0);
    hfx_run_until_answered(&w.loop, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, AUGUR_ENOTFOUND);
    assert_non_null(strstr(a.message, "No such backend"));

    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_stat(w.h, "be_nope", hfx_on_answer, &a), 0);
    hfx_run_until_answered(&w.loop, &a);
    assert_int_not_equal(a.status, 0);
}

static void raw_command_returns_the_answer(void **state)
{
    struct hfx_answer a;
    (void)state;
    memset(&a, 0, sizeof a);
    expect_ok(
        haproxy_command(w.h, "show servers state " BACKEND, hfx_on_answer, &a),
        &a);
    assert_true(strlen(a.answer) > 0);
    assert_int_equal(
        haproxy_command(w.h, "show info\nshow stat", hfx_on_answer, &a),
        AUGUR_EINVAL);
}

static void dead_socket_gives_an_error(void **state)
{
    uv_loop_t loop;
    struct haproxy *h;
    struct hfx_answer a;
    char errmsg[HAPROXY_ERRMSG_SIZE];
    char path[128];
    (void)state;

    snprintf(path, sizeof path, "%s/nobody.sock", w.dir);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(haproxy_new(&loop, path, 4, 500, &h, errmsg), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_stat(h, BACKEND, hfx_on_answer, &a), 0);
    assert_int_equal(a.calls, 0); /* never from inside the call */
    hfx_run_until_answered(&loop, &a);
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
    struct hfx_answer a;
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
    assert_int_equal(haproxy_stat(h, BACKEND, hfx_on_answer, &a), 0);
    hfx_run_until_answered(&loop, &a);
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
    struct hfx_answer a[3];
    char errmsg[HAPROXY_ERRMSG_SIZE];
    (void)state;

    memset(a, 0, sizeof a);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(haproxy_new(&loop, w.sock, 2, 500, &h, errmsg), 0);
    assert_int_equal(haproxy_stat(h, BACKEND, hfx_on_answer, &a[0]), 0);
    assert_int_equal(haproxy_stat(h, BACKEND, hfx_on_answer, &a[1]), 0);
    assert_int_equal(haproxy_stat(h, BACKEND, hfx_on_answer, &a[2]),
                     AUGUR_EBUSY);
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
