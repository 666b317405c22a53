/* Tests of node/actuator.c on a real loop: real child processes (small
 * shell scripts written into a temporary directory) and a tiny HTTP
 * server on 127.0.0.1 in a thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "node/actuator.h"

struct fixture
{
    char dir[64];
    uv_loop_t loop;
    struct actuator *a;
};

struct answer
{
    unsigned calls;
    struct actuator_result res;
};

static void on_answer(void *data, const struct actuator_result *res)
{
    struct answer *ans = data;
    ans->calls++;
    ans->res = *res;
}

static void request_init(struct actuator_request *req, const char *action)
{
    memset(req, 0, sizeof *req);
    snprintf(req->action, sizeof req->action, "%s", action);
    snprintf(req->workload, sizeof req->workload, "w1");
    snprintf(req->host, sizeof req->host, "h2");
    snprintf(req->from, sizeof req->from, "h1");
    snprintf(req->to, sizeof req->to, "h2");
    req->epoch = 7;
    req->workflow = 42;
    snprintf(req->step, sizeof req->step, "activate");
    req->attempt = 1;
    snprintf(req->strategy, sizeof req->strategy, "live");
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/augur-actuator-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    actuator_close(f->a);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Write an executable script DIR/NAME; returns "exec:DIR/NAME". */
static void script(struct fixture *f,
                   const char *name,
                   const char *body,
                   char *spec,
                   size_t size)
{
    char path[128];
    FILE *fp;
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    fclose(fp);
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(spec, size, "exec:%s", path);
}

static void exec_one(struct fixture *f,
                     const char *body,
                     uint64_t timeout_ms,
                     struct answer *ans)
{
    char spec[160];
    char err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;

    script(f, "act", body, spec, sizeof spec);
    assert_int_equal(actuator_new(&f->loop, spec, 4, &f->a, err), 0);
    assert_true(actuator_configured(f->a));
    request_init(&req, "activate");
    memset(ans, 0, sizeof *ans);
    assert_int_equal(actuator_call(f->a, &req, timeout_ms, on_answer, ans), 0);
    assert_int_equal(ans->calls, 0); /* never from inside actuator_call */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ans->calls, 1);
}

/* Exit 0 with a JSON line: OK, and the line's fields are the answer; the
 * program got the request on its stdin. */
static void exec_ok_parses_the_last_json_line(void **state)
{
    struct fixture *f = *state;
    struct answer ans;
    char body[512];
    char path[128], line[1024];
    FILE *fp;

    snprintf(body, sizeof body,
             "read req; echo \"$req\" > %s/stdin\n"
             "echo 'some chatter'\n"
             "echo '{\"state\":\"running\",\"port\":4242,\"lag_ms\":3,"
             "\"drift\":\"cfg\"}'",
             f->dir);
    exec_one(f, body, 5000, &ans);
    assert_int_equal(ans.res.outcome, ACTUATOR_OK);
    assert_int_equal(ans.res.exit_status, 0);
    assert_string_equal(ans.res.state, "running");
    assert_int_equal(ans.res.port, 4242);
    assert_int_equal(ans.res.lag_ms, 3);
    assert_string_equal(ans.res.drift, "cfg");
    snprintf(path, sizeof path, "%s/stdin", f->dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_non_null(strstr(line, "\"action\":\"activate\""));
    assert_non_null(strstr(line, "\"workflow\":42"));
    assert_non_null(strstr(line, "\"epoch\":7"));
    assert_non_null(strstr(line, "\"strategy\":\"live\""));
}

/* No JSON line: OK with nothing filled in. */
static void exec_ok_without_answer_line(void **state)
{
    struct fixture *f = *state;
    struct answer ans;
    exec_one(f, "cat >/dev/null; echo done", 5000, &ans);
    assert_int_equal(ans.res.outcome, ACTUATOR_OK);
    assert_string_equal(ans.res.state, "");
    assert_int_equal(ans.res.lag_ms, -1);
    assert_int_equal(ans.res.port, 0);
}

static void exec_exit_1_is_retry(void **state)
{
    struct fixture *f = *state;
    struct answer ans;
    exec_one(f, "echo 'disk on fire' >&2; exit 1", 5000, &ans);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
    assert_int_equal(ans.res.exit_status, 1);
    assert_non_null(strstr(ans.res.message, "disk on fire"));
}

static void exec_exit_3_is_refused(void **state)
{
    struct fixture *f = *state;
    struct answer ans;
    exec_one(f, "echo '{\"error\":\"stale epoch 7 < 9\"}'; exit 3", 5000, &ans);
    assert_int_equal(ans.res.outcome, ACTUATOR_REFUSED);
    assert_int_equal(ans.res.exit_status, 3);
    assert_string_equal(ans.res.message, "stale epoch 7 < 9");
}

/* A program past its timeout is killed, with what it started. */
static void exec_timeout_kills_the_child(void **state)
{
    struct fixture *f = *state;
    struct answer ans;
    char body[256], path[128];
    FILE *fp;
    int pid = 0;

    snprintf(body, sizeof body, "echo $$ > %s/pid; sleep 30; exit 0", f->dir);
    exec_one(f, body, 300, &ans);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
    assert_string_equal(ans.res.message, "timeout after 300 ms");
    assert_true(ans.res.elapsed_ms < 10000);
    snprintf(path, sizeof path, "%s/pid", f->dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%d", &pid), 1);
    fclose(fp);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1); /* gone, and reaped */
    assert_int_equal(errno, ESRCH);
}

static void exec_missing_program_is_retry(void **state)
{
    struct fixture *f = *state;
    struct answer ans = {0};
    char err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;

    assert_int_equal(
        actuator_new(&f->loop, "exec:/nonexistent/prog", 1, &f->a, err), 0);
    request_init(&req, "probe");
    assert_int_equal(actuator_call(f->a, &req, 1000, on_answer, &ans), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ans.calls, 1);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
    assert_non_null(strstr(ans.res.message, "spawn"));
}

/* max_inflight running and as many waiting; one more is EBUSY, and every
 * accepted call is answered once. */
static void queue_bound_gives_ebusy(void **state)
{
    struct fixture *f = *state;
    struct answer ans[5];
    char spec[160], err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;
    struct actuator_stats st;

    memset(ans, 0, sizeof ans);
    script(f, "act", "cat >/dev/null; exit 0", spec, sizeof spec);
    assert_int_equal(actuator_new(&f->loop, spec, 2, &f->a, err), 0);
    request_init(&req, "probe");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(actuator_call(f->a, &req, 5000, on_answer, &ans[i]),
                         0);
    }
    assert_int_equal(actuator_call(f->a, &req, 5000, on_answer, &ans[4]),
                     AUGUR_EBUSY);
    actuator_stats_get(f->a, &st);
    assert_int_equal(st.inflight, 4);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ans[i].calls, 1);
        assert_int_equal(ans[i].res.outcome, ACTUATOR_OK);
    }
    assert_int_equal(ans[4].calls, 0);
    actuator_stats_get(f->a, &st);
    assert_string_equal(st.kind, "exec");
    assert_int_equal(st.calls, 4);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.inflight, 0);
}

static void cancel_timer_cb(uv_timer_t *t)
{
    struct fixture *f = t->data;
    actuator_cancel_all(f->a);
    uv_close((uv_handle_t *)t, NULL);
}

/* cancel_all answers every running and waiting call once, "cancelled",
 * and kills the programs. */
static void cancel_all_answers_every_call_once(void **state)
{
    struct fixture *f = *state;
    struct answer ans[4];
    char spec[160], err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;
    uv_timer_t t;

    memset(ans, 0, sizeof ans);
    script(f, "act", "sleep 30", spec, sizeof spec);
    assert_int_equal(actuator_new(&f->loop, spec, 2, &f->a, err), 0);
    request_init(&req, "prepare");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(actuator_call(f->a, &req, 60000, on_answer, &ans[i]),
                         0);
    }
    uv_timer_init(&f->loop, &t);
    t.data = f;
    uv_timer_start(&t, cancel_timer_cb, 200, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ans[i].calls, 1);
        assert_int_equal(ans[i].res.outcome, ACTUATOR_RETRY);
        assert_string_equal(ans[i].res.message, "cancelled");
    }
}

static void spec_errors(void **state)
{
    struct fixture *f = *state;
    char err[ACTUATOR_ERRMSG_SIZE];
    struct actuator *a = NULL;
    struct actuator_request req;
    struct answer ans = {0};

    assert_int_equal(actuator_new(&f->loop, "exec:relative/prog", 1, &a, err),
                     AUGUR_EINVAL);
    assert_int_equal(actuator_new(&f->loop, "webhook:ftp://x/", 1, &a, err),
                     AUGUR_EINVAL);
    assert_int_equal(actuator_new(&f->loop, "telnet:x", 1, &a, err),
                     AUGUR_EINVAL);
    assert_non_null(strstr(err, "expected exec:"));
    assert_int_equal(actuator_new(&f->loop, "", 1, &f->a, err), 0);
    assert_false(actuator_configured(f->a));
    request_init(&req, "probe");
    assert_int_equal(actuator_call(f->a, &req, 1000, on_answer, &ans),
                     AUGUR_EUNAVAILABLE);
}

/* --- webhook: a tiny HTTP server ----------------------------------------- */

struct http_server
{
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    char last_key[128]; /* the last Idempotency-Key seen */
    char last_body[1024];
};

static void http_reply(int fd, int code, const char *body)
{
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: "
                     "close\r\n\r\n%s",
                     code, strlen(body), body);
    (void)send(fd, out, (size_t)n, MSG_NOSIGNAL);
}

static void *http_thread(void *arg)
{
    struct http_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        char buf[4096];
        size_t len = 0;
        char *hdr_end, *cl;
        size_t need;
        int c;

        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        /* Headers, then Content-Length bytes of body. */
        for (;;) {
            ssize_t n = recv(c, buf + len, sizeof buf - 1 - len, 0);
            if (n <= 0) {
                break;
            }
            len += (size_t)n;
            buf[len] = '\0';
            hdr_end = strstr(buf, "\r\n\r\n");
            if (hdr_end == NULL) {
                continue;
            }
            cl = strcasestr(buf, "Content-Length:");
            need = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
            if (len >= (size_t)(hdr_end + 4 - buf) + need) {
                break;
            }
        }
        buf[len] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
        if (hdr_end != NULL) {
            char *k = strcasestr(buf, "Idempotency-Key: ");
            if (k != NULL) {
                size_t kl = strcspn(k + 17, "\r\n");
                snprintf(s->last_key, sizeof s->last_key, "%.*s", (int)kl,
                         k + 17);
            }
            snprintf(s->last_body, sizeof s->last_body, "%s", hdr_end + 4);
        }
        if (strncmp(buf, "POST /ok ", 9) == 0) {
            http_reply(c, 200,
                       "{\"state\":\"warm\",\"port\":99,\"lag_ms\":0}\n");
        } else if (strncmp(buf, "POST /refuse ", 13) == 0) {
            http_reply(c, 409, "{\"error\":\"stale epoch 7 < 8\"}\n");
        } else if (strncmp(buf, "POST /fail ", 11) == 0) {
            http_reply(c, 500, "oops\n");
        } else { /* /slow: answer too late */
            for (int i = 0; i < 20 && !atomic_load(&s->stop); i++) {
                usleep(50000);
            }
            http_reply(c, 200, "{}\n");
        }
        close(c);
    }
    return NULL;
}

static void http_start(struct http_server *s)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
    s->port = ntohs(sa.sin_port);
    atomic_store(&s->stop, false);
    assert_int_equal(pthread_create(&s->thread, NULL, http_thread, s), 0);
}

static void http_stop(struct http_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static void webhook_one(struct fixture *f,
                        struct http_server *s,
                        const char *path,
                        uint64_t timeout_ms,
                        struct answer *ans)
{
    char spec[160], err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;

    snprintf(spec, sizeof spec, "webhook:http://127.0.0.1:%d%s", s->port, path);
    assert_int_equal(actuator_new(&f->loop, spec, 4, &f->a, err), 0);
    request_init(&req, "activate");
    memset(ans, 0, sizeof *ans);
    assert_int_equal(actuator_call(f->a, &req, timeout_ms, on_answer, ans), 0);
    assert_int_equal(ans->calls, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ans->calls, 1);
}

static void webhook_200_is_ok_with_key(void **state)
{
    struct fixture *f = *state;
    struct http_server s;
    struct answer ans;

    http_start(&s);
    webhook_one(f, &s, "/ok", 5000, &ans);
    http_stop(&s);
    assert_int_equal(ans.res.outcome, ACTUATOR_OK);
    assert_int_equal(ans.res.exit_status, 200);
    assert_string_equal(ans.res.state, "warm");
    assert_int_equal(ans.res.port, 99);
    assert_int_equal(ans.res.lag_ms, 0);
    assert_string_equal(s.last_key, "42-activate-1");
    assert_non_null(strstr(s.last_body, "\"workload\":\"w1\""));
}

static void webhook_409_is_refused(void **state)
{
    struct fixture *f = *state;
    struct http_server s;
    struct answer ans;

    http_start(&s);
    webhook_one(f, &s, "/refuse", 5000, &ans);
    http_stop(&s);
    assert_int_equal(ans.res.outcome, ACTUATOR_REFUSED);
    assert_int_equal(ans.res.exit_status, 409);
    assert_string_equal(ans.res.message, "stale epoch 7 < 8");
}

static void webhook_500_is_retry(void **state)
{
    struct fixture *f = *state;
    struct http_server s;
    struct answer ans;

    http_start(&s);
    webhook_one(f, &s, "/fail", 5000, &ans);
    http_stop(&s);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
    assert_int_equal(ans.res.exit_status, 500);
    assert_non_null(strstr(ans.res.message, "HTTP 500"));
}

static void webhook_timeout_is_retry(void **state)
{
    struct fixture *f = *state;
    struct http_server s;
    struct answer ans;

    http_start(&s);
    webhook_one(f, &s, "/slow", 200, &ans);
    http_stop(&s);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
    assert_string_equal(ans.res.message, "timeout after 200 ms");
}

static void webhook_refused_connection_is_retry(void **state)
{
    struct fixture *f = *state;
    struct http_server s;
    struct answer ans;

    http_start(&s);
    http_stop(&s); /* the port is closed now */
    webhook_one(f, &s, "/ok", 2000, &ans);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
}

/* Cancelling a webhook call in flight answers it "cancelled" at once and
 * leaves nothing open on the loop. */
static void webhook_cancel_answers_cancelled(void **state)
{
    struct fixture *f = *state;
    struct http_server s;
    struct answer ans = {0};
    char spec[160], err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;
    uv_timer_t t;

    http_start(&s);
    snprintf(spec, sizeof spec, "webhook:http://127.0.0.1:%d/slow", s.port);
    assert_int_equal(actuator_new(&f->loop, spec, 4, &f->a, err), 0);
    request_init(&req, "activate");
    assert_int_equal(actuator_call(f->a, &req, 60000, on_answer, &ans), 0);
    uv_timer_init(&f->loop, &t);
    t.data = f;
    uv_timer_start(&t, cancel_timer_cb, 100, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    http_stop(&s);
    assert_int_equal(ans.calls, 1);
    assert_int_equal(ans.res.outcome, ACTUATOR_RETRY);
    assert_string_equal(ans.res.message, "cancelled");
}

static void close_timer_cb(uv_timer_t *t)
{
    struct fixture *f = t->data;
    actuator_close(f->a);
    f->a = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

/* Closing with programs running (node shutdown): every call is answered
 * "cancelled", the children are killed and the loop ends. */
static void close_with_calls_running_cancels_them(void **state)
{
    struct fixture *f = *state;
    struct answer ans[3];
    char spec[160], err[ACTUATOR_ERRMSG_SIZE];
    struct actuator_request req;
    uv_timer_t t;

    memset(ans, 0, sizeof ans);
    script(f, "act", "sleep 30", spec, sizeof spec);
    assert_int_equal(actuator_new(&f->loop, spec, 2, &f->a, err), 0);
    request_init(&req, "stop");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(actuator_call(f->a, &req, 60000, on_answer, &ans[i]),
                         0);
    }
    uv_timer_init(&f->loop, &t);
    t.data = f;
    uv_timer_start(&t, close_timer_cb, 150, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ans[i].calls, 1);
        assert_string_equal(ans[i].res.message, "cancelled");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(exec_ok_parses_the_last_json_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(exec_ok_without_answer_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(exec_exit_1_is_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_exit_3_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(exec_timeout_kills_the_child, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(exec_missing_program_is_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_bound_gives_ebusy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cancel_all_answers_every_call_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(spec_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_200_is_ok_with_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(webhook_409_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(webhook_500_is_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_timeout_is_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(webhook_refused_connection_is_retry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_cancel_answers_cancelled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(close_with_calls_running_cancels_them,
                                        setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
