/* Health probes: the configuration format and its refusals, TCP connect
 * to a closed and an open port, exec by exit status and timeout, and HTTP
 * GET against a one-shot listener on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/log.h"
#include "tests/unit/agent/helpers.h"

/* A listening socket on 127.0.0.1 and an ephemeral port. */
static int listen_any(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A port on 127.0.0.1 that nothing listens on: bound, then closed. */
static int closed_port(void)
{
    int port;
    int fd = listen_any(&port);

    close(fd);
    return port;
}

static void probe_config(struct agent *a, const char *text)
{
    assert_int_equal(agent_init(a, NULL, NULL), 0);
    if (agent_probes_parse(a, text) != 0) {
        fail_msg("%s", a->errmsg);
    }
}

static void config_lines_parse_with_defaults_and_timeouts(void **state)
{
    struct agent a;

    (void)state;
    probe_config(&a,
                 "# health probes\n"
                 "\n"
                 "probe db tcp 10.0.0.5:5432\n"
                 "  probe web http timeout=500 http://127.0.0.1:8080/health "
                 "204\r\n"
                 "probe api http https://example.com/\n"
                 "probe disk-ok exec timeout=3000 test -w /var/tmp && echo ok\n"
                 "probe v6 tcp [::1]:22");
    assert_int_equal(a.n_probes, 5);
    assert_string_equal(a.probes[0].name, "db");
    assert_int_equal(a.probes[0].kind, AGENT_PROBE_TCP);
    assert_int_equal(a.probes[0].timeout_ms, AGENT_PROBE_TIMEOUT_MS);
    assert_string_equal(a.probes[0].target, "10.0.0.5:5432");
    assert_int_equal(a.probes[1].kind, AGENT_PROBE_HTTP);
    assert_int_equal(a.probes[1].timeout_ms, 500);
    assert_int_equal(a.probes[1].expect_status, 204);
    assert_string_equal(a.probes[1].target, "http://127.0.0.1:8080/health");
    assert_int_equal(a.probes[2].expect_status, 200);
    assert_int_equal(a.probes[3].kind, AGENT_PROBE_EXEC);
    assert_int_equal(a.probes[3].timeout_ms, 3000);
    assert_string_equal(a.probes[3].target, "test -w /var/tmp && echo ok");
    assert_string_equal(a.probes[4].target, "[::1]:22");
    agent_close(&a);
}

static void bad_config_lines_are_refused_with_their_number(void **state)
{
    static const char *const bad[] = {
        "probe\n",
        "check x tcp h:1\n",
        "probe bad.name tcp h:1\n",
        "probe x ping h\n",
        "probe x tcp hostonly\n",
        "probe x tcp\n",
        "probe x http http://h/ 99\n",
        "probe x http http://h/ 200 extra\n",
        "probe x exec timeout=0 true\n",
        "probe x exec timeout=abc true\n",
        "probe x tcp h:1\nprobe x tcp h:2\n",
        "probe aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa tcp h:1\n",
    };
    struct agent a;

    (void)state;
    assert_int_equal(agent_init(&a, NULL, NULL), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(agent_probes_parse(&a, bad[i]), AUGUR_EMALFORMED);
        assert_non_null(strstr(a.errmsg, "line "));
    }
    assert_int_equal(agent_probes_parse(&a, "\n\nprobe x ping h\n"),
                     AUGUR_EMALFORMED);
    assert_non_null(strstr(a.errmsg, "line 3"));
    assert_int_equal(a.n_probes, 0);
    agent_close(&a);
}

static void tcp_to_a_closed_port_fails_and_to_a_listener_succeeds(void **state)
{
    char text[128];
    struct agent a;
    bool ok;
    double ms;
    long status;
    int port;
    int fd;

    (void)state;
    snprintf(text, sizeof text, "probe closed tcp 127.0.0.1:%d\n",
             closed_port());
    probe_config(&a, text);
    agent_probe_run(&a.probes[0], &ok, &ms, &status);
    assert_false(ok);
    assert_true(ms >= 0);
    fd = listen_any(&port);
    snprintf(text, sizeof text, "probe open tcp 127.0.0.1:%d\n", port);
    assert_int_equal(agent_probes_parse(&a, text), 0);
    agent_probe_run(&a.probes[0], &ok, &ms, &status);
    assert_true(ok);
    close(fd);
    agent_close(&a);
}

static void exec_is_ok_on_exit_status_zero_only(void **state)
{
    struct agent a;
    bool ok;
    double ms;
    long status;

    (void)state;
    probe_config(&a,
                 "probe yes exec true\n"
                 "probe no exec false\n"
                 "probe three exec exit 3\n"
                 "probe slow exec timeout=200 sleep 5\n"
                 "probe nothing exec /nonexistent/program\n");
    agent_probe_run(&a.probes[0], &ok, &ms, &status);
    assert_true(ok);
    assert_int_equal(status, 0);
    agent_probe_run(&a.probes[1], &ok, &ms, &status);
    assert_false(ok);
    assert_int_equal(status, 1);
    agent_probe_run(&a.probes[2], &ok, &ms, &status);
    assert_false(ok);
    assert_int_equal(status, 3);
    agent_probe_run(&a.probes[3], &ok, &ms, &status);
    assert_false(ok);
    /* Timed out: the status says so, not the clock (the elapsed time on a
     * loaded machine proves nothing either way). */
    assert_int_equal(status, -1);
    agent_probe_run(&a.probes[4], &ok, &ms, &status);
    assert_false(ok);
    assert_int_equal(status, 127);
    agent_close(&a);
}

/* One HTTP exchange: accept, read the request, answer with a status. */
struct http_one
{
    int fd;
    int status;
};

static void *http_serve(void *arg)
{
    struct http_one *h = arg;
    char req[2048];
    char resp[128];
    int c = accept(h->fd, NULL, NULL);

    if (c >= 0) {
        ssize_t n = read(c, req, sizeof req);
        (void)n;
        snprintf(resp, sizeof resp,
                 "HTTP/1.0 %d X\r\nContent-Length: 2\r\n\r\nok", h->status);
        n = write(c, resp, strlen(resp));
        (void)n;
        close(c);
    }
    return NULL;
}

static void http_probe(int answer, const char *expect, bool want_ok)
{
    struct http_one h = {.status = answer};
    struct agent a;
    pthread_t t;
    char text[160];
    bool ok;
    double ms;
    long status;
    int port;

    h.fd = listen_any(&port);
    snprintf(text, sizeof text,
             "probe web http http://127.0.0.1:%d/health %s\n", port, expect);
    probe_config(&a, text);
    assert_int_equal(pthread_create(&t, NULL, http_serve, &h), 0);
    agent_probe_run(&a.probes[0], &ok, &ms, &status);
    pthread_join(t, NULL);
    close(h.fd);
    assert_int_equal(ok, want_ok);
    assert_int_equal(status, answer);
    agent_close(&a);
}

static void http_is_ok_on_the_expected_status(void **state)
{
    (void)state;
    http_probe(200, "", true);
    http_probe(503, "", false);
    http_probe(204, "204", true);
}

static void http_to_a_closed_port_fails(void **state)
{
    char text[128];
    struct agent a;
    bool ok;
    double ms;
    long status;

    (void)state;
    snprintf(text, sizeof text, "probe web http http://127.0.0.1:%d/\n",
             closed_port());
    probe_config(&a, text);
    agent_probe_run(&a.probes[0], &ok, &ms, &status);
    assert_false(ok);
    assert_int_equal(status, 0);
    agent_close(&a);
}

static void probe_results_are_samples(void **state)
{
    struct agent_readings r;
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    probe_config(&a, "probe up exec true\nprobe down exec false\n");
    agent_readings_init(&r);
    assert_int_equal(agent_probes_collect(&a, &r), 0);
    telemetry_batch_init(&b);
    assert_int_equal(agent_readings_to_batch(NULL, &r, 0, &b), 0);
    assert_true(sample(&b, "probe.up.ok") == 1);
    assert_true(sample(&b, "probe.down.ok") == 0);
    assert_true(sample(&b, "probe.down.status") == 1);
    assert_true(sample(&b, "probe.up.latency_ms") >= 0);
    telemetry_batch_close(&b);
    agent_readings_close(&r);
    agent_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_lines_parse_with_defaults_and_timeouts),
        cmocka_unit_test(bad_config_lines_are_refused_with_their_number),
        cmocka_unit_test(tcp_to_a_closed_port_fails_and_to_a_listener_succeeds),
        cmocka_unit_test(exec_is_ok_on_exit_status_zero_only),
        cmocka_unit_test(http_is_ok_on_the_expected_status),
        cmocka_unit_test(http_to_a_closed_port_fails),
        cmocka_unit_test(probe_results_are_samples),
    };
    int rv;

    log_setup(LOG_LEVEL_ERROR, "test");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rv = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rv;
}
