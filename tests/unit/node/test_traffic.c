/* Tests of node/traffic.c, the load-balancer driver, against a real haproxy
 * (started by the test, with deploy/haproxy/augur-mirror.lua loaded) in
 * front of real augur-demo-app instances and a python3 server answering
 * 500, under load driven by the test; skipped (77) without haproxy. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "haproxy_fixture.h"
#include "node/haproxy.h"
#include "node/kpi.h"
#include "node/traffic.h"

#define PREFIX "be_"
#define DWELL_MS 400
/* Each backend copies its requests for augur-mirror.lua. */
#define MIRROR_LINES                    \
    "  http-request lua.augur_mirror\n" \
    "  http-response lua.augur_mirror_res\n"

/* One backend (be_NAME) and its frontend per test, so no test sees
 * another's servers or counters. */
enum fe
{
    FE_S25,    /* shift 25 to a good instance */
    FE_S100,   /* shift_100, then the old server deleted */
    FE_MIR,    /* mirror runs */
    FE_BAD,    /* shift 50 to an instance answering 500 */
    FE_UN,     /* unshift */
    FE_EMPTY,  /* a backend without servers */
    FE_IDLE,   /* no traffic at all */
    FE_CANCEL, /* cancel and close during a step */
    FE_PUT,    /* membership calls */
    FE_WARM,   /* shifts to a warm instance, then its activation */
    FE_RESET,  /* a server re-added during a step */
    FE_N
};

static const char *const fe_names[FE_N] = {
    "s25",  "s100",   "mir", "bad",  "un",    "empty",
    "idle", "cancel", "put", "warm", "reset",
};

struct world
{
    char dir[64];
    char sock[128];
    int fe_port[FE_N];
    int old_port, new_port, bad_port, warm_port;
    pid_t old_pid, new_pid, bad_pid, warm_pid, haproxy_pid;
    uv_loop_t loop;
    struct node_traffic *t;
    struct haproxy *h; /* the test's own view of haproxy */
};

static struct world w;

/* ---- helpers ---- */

/* A bad instance: 500 on every path but /healthz (so HAProxy's health
 * check keeps it UP and only the KPIs can tell). */
static pid_t start_bad(int *port)
{
    static const char script[] =
        "import http.server\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if self.path == '/healthz' else 500)\n"
        "        self.send_header('Content-Length', '0')\n"
        "        self.end_headers()\n"
        "    do_HEAD = do_GET\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
        "print('listening', s.server_address[1], flush=True)\n"
        "s.serve_forever()\n";
    char *argv[] = {"python3", "-c", (char *)script, NULL};
    return hfx_spawn_listening(argv, port);
}

static const char *mirror_lua(void)
{
    const char *lua = getenv("AUGUR_MIRROR_LUA");
    return lua != NULL ? lua : "deploy/haproxy/augur-mirror.lua";
}

/* The config @name in the test's directory, with the admin socket @sock,
 * @lua loaded unless NULL, and one frontend and backend per @names (each
 * frontend on its @ports), with @backend_lines in each backend. */
static int write_config(const char *name,
                        const char *sock,
                        const char *lua,
                        const char *const names[],
                        const int ports[],
                        int n,
                        const char *backend_lines)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", w.dir, name);
    f = hfx_config_begin(path, sock, lua);
    if (f == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        hfx_config_proxy(f, names[i], ports[i], backend_lines);
    }
    return fclose(f);
}

static pid_t start_haproxy(const char *name)
{
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/%s", w.dir, name);
    return hfx_start_haproxy(cfg);
}

/* ---- the loop ---- */

static void on_nap(uv_timer_t *timer)
{
    *(bool *)timer->data = true;
}

/* Run the loop for @ms. */
static void loop_for(long ms)
{
    uv_timer_t timer;
    bool done = false;
    uv_timer_init(&w.loop, &timer);
    timer.data = &done;
    uv_timer_start(&timer, on_nap, (uint64_t)ms, 0);
    while (!done) {
        uv_run(&w.loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&w.loop, UV_RUN_NOWAIT);
}

/* Run the loop until the driver has nothing in flight. */
static void loop_until_idle(void)
{
    for (int i = 0; i < 500 && node_traffic_busy(w.t) > 0; i++) {
        loop_for(10);
    }
    assert_int_equal(node_traffic_busy(w.t), 0);
}

/* ---- the test's own haproxy calls ---- */

static void wait_answer(struct hfx_answer *a)
{
    hfx_run_until_answered(&w.loop, a);
    assert_int_equal(a->calls, 1);
}

static void stat_of(enum fe fe, struct hfx_answer *a)
{
    char be[64];
    snprintf(be, sizeof be, PREFIX "%s", fe_names[fe]);
    memset(a, 0, sizeof *a);
    assert_int_equal(haproxy_stat(w.h, be, hfx_on_answer, a), 0);
    wait_answer(a);
    assert_int_equal(a->status, 0);
}

/* @name's line, which must be there. */
static const struct haproxy_server_stat *srv(const struct hfx_answer *a,
                                             const char *name)
{
    const struct haproxy_server_stat *s = hfx_find(a, name);
    if (s == NULL) {
        fail_msg("no server %s in show stat", name);
    }
    return s;
}

/* One raw runtime-API command; its answer in @a->answer. */
static void command(const char *cmd, struct hfx_answer *a)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(haproxy_command(w.h, cmd, hfx_on_answer, a), 0);
    wait_answer(a);
    assert_int_equal(a->status, 0);
}

static bool mirror_has_no_target(enum fe fe)
{
    struct hfx_answer a;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "augur mirror show " PREFIX "%s", fe_names[fe]);
    command(cmd, &a);
    return strstr(a.answer, "\"target\":null") != NULL;
}

/* Wait until @server of @fe's backend is UP by HAProxy's health check. */
static void wait_up(enum fe fe, const char *server)
{
    struct hfx_answer a;
    const struct haproxy_server_stat *s = NULL;
    for (int i = 0; i < 100; i++) {
        stat_of(fe, &a);
        s = hfx_find(&a, server);
        if (s != NULL && strncmp(s->status, "UP", 2) == 0) {
            return;
        }
        loop_for(50);
    }
    fail_msg("%s/%s is not UP: %s", fe_names[fe], server,
             s != NULL ? s->status : "missing");
}

/* Wait until @server of @fe's backend has @weight. */
static void wait_weight(enum fe fe, const char *server, uint64_t weight)
{
    struct hfx_answer a;
    const struct haproxy_server_stat *s = NULL;
    for (int i = 0; i < 100; i++) {
        stat_of(fe, &a);
        s = hfx_find(&a, server);
        if (s != NULL && s->weight == weight) {
            return;
        }
        loop_for(20);
    }
    fail_msg("%s/%s has not weight %d", fe_names[fe], server, (int)weight);
}

/* The old instance serves @fe's backend at full weight, as the
 * orchestrator leaves it after an activation. */
static void old_serves(enum fe fe)
{
    node_traffic_server_put(w.t, fe_names[fe], "old", "127.0.0.1", w.old_port,
                            NODE_TRAFFIC_FULL_WEIGHT);
    loop_until_idle();
    wait_up(fe, "old");
}

/* ---- load ---- */

/* A thread sending blocking GETs to a frontend (about 200/s), counting
 * answers by status and by the instance that answered. */
struct load
{
    pthread_t thread;
    int port;
    atomic_bool stop;
    atomic_uint sent, ok, failed, by_old, by_new, by_warm;
    atomic_uint not_500; /* failed otherwise than by a 500 */
};

static void *load_thread(void *data)
{
    struct load *l = data;
    char body[128];

    while (!atomic_load(&l->stop)) {
        int code = hfx_http_get(l->port, body, sizeof body);
        atomic_fetch_add(&l->sent, 1);
        if (code == 200) {
            atomic_fetch_add(&l->ok, 1);
            if (strncmp(body, "w old ", 6) == 0) {
                atomic_fetch_add(&l->by_old, 1);
            } else if (strncmp(body, "w new ", 6) == 0) {
                atomic_fetch_add(&l->by_new, 1);
            } else if (strncmp(body, "w warm ", 7) == 0) {
                atomic_fetch_add(&l->by_warm, 1);
            }
        } else {
            atomic_fetch_add(&l->failed, 1);
            if (code != 500) {
                atomic_fetch_add(&l->not_500, 1);
            }
        }
        hfx_sleep_ms(5);
    }
    return NULL;
}

/* The one load of the running test: not on its stack, since a failed
 * assertion leaves the test function at once (teardown stops the load). */
static struct load the_load;
static bool load_running;

static struct load *load_start(enum fe fe)
{
    struct load *l = &the_load;
    memset(l, 0, sizeof *l);
    l->port = w.fe_port[fe];
    assert_int_equal(pthread_create(&l->thread, NULL, load_thread, l), 0);
    load_running = true;
    return l;
}

static void load_stop(void)
{
    if (load_running) {
        atomic_store(&the_load.stop, true);
        pthread_join(the_load.thread, NULL);
        load_running = false;
    }
}

/* ---- steps ---- */

struct done
{
    unsigned calls;
    int outcome;
    char detail[PLAN_DETAIL_SIZE];
};

static void on_done(void *data, int outcome, const char *detail)
{
    struct done *d = data;
    d->calls++;
    d->outcome = outcome;
    snprintf(d->detail, sizeof d->detail, "%s", detail);
}

static void req_init(struct node_traffic_req *r,
                     int action,
                     enum fe fe,
                     const char *to,
                     int port)
{
    memset(r, 0, sizeof *r);
    r->action = action;
    snprintf(r->workload, sizeof r->workload, "%s", fe_names[fe]);
    snprintf(r->from, sizeof r->from, "old");
    snprintf(r->to, sizeof r->to, "%s", to);
    r->port = port;
    r->dwell_ms = DWELL_MS;
    node_kpi_thresholds_default(&r->kpi);
    r->kpi.min_requests = 10;
}

/* For the steps that must pass: the default thresholds but a latency
 * slack of 100 ms.  These instances are equal, yet a handful of requests
 * on a shared, sanitized build can average a few ms more on one side;
 * the latency rule itself is node_kpi_test's. */
static void latency_lenient(struct node_traffic_req *r)
{
    r->kpi.latency_slack_ms = 100;
}

/* Run @r to its end; the callback must run exactly once.  Its answer
 * lands in a static first (a step still running when an assertion fails
 * is answered by the teardown's close), then in @d. */
static void step(const struct node_traffic_req *r, struct done *d)
{
    static struct done answer;

    memset(&answer, 0, sizeof answer);
    assert_int_equal(node_traffic_step(w.t, r, on_done, &answer), 0);
    for (int i = 0; i < 3000 && answer.calls == 0; i++) {
        uv_run(&w.loop, UV_RUN_ONCE);
    }
    *d = answer;
    assert_int_equal(d->calls, 1);
    fprintf(stderr, "  %s %s to %s: %s \"%s\"\n",
            r->action == PLAN_ACTION_MIRROR  ? "mirror"
            : r->action == PLAN_ACTION_SHIFT ? "shift"
                                             : "unshift",
            r->workload, r->to,
            d->outcome == PLAN_OUTCOME_OK      ? "OK"
            : d->outcome == PLAN_OUTCOME_RETRY ? "RETRY"
                                               : "REFUSED",
            d->detail);
    loop_until_idle();
}

/* The start of a step that must pass under load: the old instance serves
 * @fe, a load runs on it, and @r is a step of @action to the new instance
 * (latency_lenient).  Returns the load. */
static struct load *new_step_under_load(struct node_traffic_req *r,
                                        int action,
                                        enum fe fe)
{
    struct load *l;
    old_serves(fe);
    l = load_start(fe);
    req_init(r, action, fe, "new", w.new_port);
    latency_lenient(r);
    return l;
}

/* Starts @r, answered in @d, and returns once it is in its dwell: the
 * step has set the old server of @fe to @old_weight, and @settle_ms later
 * @d is still unanswered. */
static void step_into_dwell(const struct node_traffic_req *r,
                            struct done *d,
                            enum fe fe,
                            uint64_t old_weight,
                            long settle_ms)
{
    memset(d, 0, sizeof *d);
    assert_int_equal(node_traffic_step(w.t, r, on_done, d), 0);
    wait_weight(fe, "old", old_weight);
    loop_for(settle_ms);
    assert_int_equal(d->calls, 0);
}

/* A KPI verdict naming the error rate against the default ceiling, the
 * old side clean.  The rate itself may be a little under 1: show stat
 * counts a request when it starts and its 500 when it is answered, so one
 * in flight at the step's end is a request without an error yet. */
static bool verdict_is_error_rate(const char *detail)
{
    double rate;
    return sscanf(detail, "error_rate %lf > 0.010 (old 0.000, ", &rate) == 1 &&
           rate > 0.9 && strstr(detail, " > 0.010 (old 0.000, ") != NULL;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;

    hfx_require_haproxy();
    signal(SIGPIPE, SIG_IGN);
    if (hfx_tmpdir(w.dir, sizeof w.dir, "traffic") != 0) {
        return -1;
    }
    snprintf(w.sock, sizeof w.sock, "%s/admin.sock", w.dir);
    for (int i = 0; i < FE_N; i++) {
        w.fe_port[i] = hfx_free_port();
        if (w.fe_port[i] < 0) {
            return -1;
        }
    }
    w.old_pid = hfx_start_app("w", "old", "1", false, &w.old_port);
    w.new_pid = hfx_start_app("w", "new", "2", false, &w.new_port);
    w.warm_pid = hfx_start_app("w", "warm", "3", true, &w.warm_port);
    if (w.old_pid < 0 || w.new_pid < 0 || w.warm_pid < 0) {
        fprintf(stderr, "cannot start augur-demo-app (AUGUR_DEMO_APP)\n");
        return -1;
    }
    w.bad_pid = start_bad(&w.bad_port);
    if (w.bad_pid < 0) {
        fprintf(stderr, "cannot start python3's http.server\n");
        return -1;
    }
    if (write_config("haproxy.cfg", w.sock, mirror_lua(), fe_names, w.fe_port,
                     FE_N, MIRROR_LINES) != 0) {
        return -1;
    }
    w.haproxy_pid = start_haproxy("haproxy.cfg");
    /* Ready once the frontends answer (503: no server yet). */
    if (w.haproxy_pid < 0 || hfx_wait_ready(w.sock, w.fe_port[0]) != 0) {
        fprintf(stderr, "haproxy did not start (config %s/haproxy.cfg)\n",
                w.dir);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    hfx_stop(&w.haproxy_pid);
    hfx_stop(&w.old_pid);
    hfx_stop(&w.new_pid);
    hfx_stop(&w.bad_pid);
    hfx_stop(&w.warm_pid);
    return hfx_rmdir(w.dir);
}

static int setup(void **state)
{
    char errmsg[HAPROXY_ERRMSG_SIZE];
    (void)state;
    assert_int_equal(uv_loop_init(&w.loop), 0);
    assert_int_equal(node_traffic_new(&w.loop, w.sock, PREFIX, &w.t, errmsg),
                     0);
    node_traffic_set_delete_grace(w.t, 300);
    assert_int_equal(haproxy_new(&w.loop, w.sock, 8, 2000, &w.h, errmsg), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    load_stop();
    node_traffic_close(w.t);
    w.t = NULL;
    haproxy_close(w.h);
    w.h = NULL;
    uv_run(&w.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w.loop), 0);
    return 0;
}

/* ---- the tests ---- */

/* 25% to a good instance: the step passes with the counts in its detail,
 * the weights are 192/64 and both instances answered requests. */
static void shift_25_to_a_good_instance_passes(void **state)
{
    struct node_traffic_req r;
    struct done d;
    struct load *l;
    struct hfx_answer a;
    unsigned old_w, new_w;
    (void)state;

    l = new_step_under_load(&r, PLAN_ACTION_SHIFT, FE_S25);
    r.pct = 25;
    step(&r, &d);
    load_stop();

    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_non_null(strstr(d.detail, "25%: new 0/"));
    assert_non_null(strstr(d.detail, ", old 0/"));
    stat_of(FE_S25, &a);
    node_kpi_weights(25, &old_w, &new_w);
    assert_int_equal(old_w, 192);
    assert_int_equal(new_w, 64);
    assert_non_null(hfx_find(&a, "old"));
    assert_non_null(hfx_find(&a, "new"));
    assert_int_equal(srv(&a, "old")->weight, old_w);
    assert_int_equal(srv(&a, "new")->weight, new_w);
    assert_true(srv(&a, "new")->stot > 0);
    assert_true(atomic_load(&l->by_old) > 0);
    assert_true(atomic_load(&l->by_new) > 0);
    assert_int_equal(atomic_load(&l->failed), 0);
}

/* All the traffic to the new instance, then the old server removed: no
 * request fails on the way. */
static void shift_100_then_delete_loses_no_request(void **state)
{
    struct node_traffic_req r;
    struct done d;
    struct load *l;
    struct hfx_answer a;
    unsigned before;
    (void)state;

    l = new_step_under_load(&r, PLAN_ACTION_SHIFT, FE_S100);
    r.pct = 100;
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_non_null(strstr(d.detail, "100%: new 0/"));

    node_traffic_server_delete(w.t, fe_names[FE_S100], "old");
    loop_until_idle();
    before = atomic_load(&l->sent);
    while (atomic_load(&l->sent) < before + 20) {
        loop_for(20);
    }
    load_stop();

    stat_of(FE_S100, &a);
    assert_null(hfx_find(&a, "old"));
    assert_non_null(hfx_find(&a, "new"));
    assert_int_equal(srv(&a, "new")->weight, NODE_TRAFFIC_FULL_WEIGHT);
    assert_true(atomic_load(&l->sent) > 0);
    assert_int_equal(atomic_load(&l->failed), 0);
    assert_int_equal(atomic_load(&l->ok), atomic_load(&l->sent));
    assert_true(atomic_load(&l->by_new) > 0);
}

/* A mirror to a good instance passes; one to an instance answering 500 is
 * refused with the error rate, and the mirror is cleared either way; the
 * live requests never notice. */
static void mirror_passes_good_and_refuses_failing_instance(void **state)
{
    struct node_traffic_req r;
    struct done d;
    struct load *l;
    struct hfx_answer a;
    (void)state;

    l = new_step_under_load(&r, PLAN_ACTION_MIRROR, FE_MIR);
    r.dwell_ms = 500;
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_int_equal(strncmp(d.detail, "mirror: ", 8), 0);
    assert_true(mirror_has_no_target(FE_MIR));

    req_init(&r, PLAN_ACTION_MIRROR, FE_MIR, "bad", w.bad_port);
    r.dwell_ms = 500;
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_REFUSED);
    assert_true(verdict_is_error_rate(d.detail));
    assert_non_null(strstr(d.detail, "mirror"));
    assert_true(mirror_has_no_target(FE_MIR));
    load_stop();

    /* The mirror targets joined the backend without any live traffic. */
    stat_of(FE_MIR, &a);
    assert_int_equal(srv(&a, "new")->weight, 0);
    assert_int_equal(srv(&a, "bad")->weight, 0);
    assert_int_equal(srv(&a, "bad")->stot, 0);
    assert_int_equal(srv(&a, "old")->weight, NODE_TRAFFIC_FULL_WEIGHT);
    assert_true(atomic_load(&l->sent) > 0);
    assert_int_equal(atomic_load(&l->failed), 0);
    assert_int_equal(atomic_load(&l->by_old), atomic_load(&l->sent));
}

/* Half the traffic to an instance answering 500: refused with the KPI's
 * verdict, the weights are back on the old instance when the callback
 * runs, and no request fails after that.  Then all of it (shift_100): the
 * back-out never leaves the backend without a server (no 503 of
 * HAProxy's own, every failure is the bad instance's 500). */
static void shift_to_a_failing_instance_is_refused_and_backed_out(void **state)
{
    static const unsigned pcts[] = {50, 100};
    struct node_traffic_req r;
    struct done d;
    struct load *l;
    struct hfx_answer a;
    unsigned sent_end, failed_end;
    (void)state;

    old_serves(FE_BAD);
    l = load_start(FE_BAD);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        req_init(&r, PLAN_ACTION_SHIFT, FE_BAD, "bad", w.bad_port);
        r.pct = pcts[i];
        step(&r, &d);
        sent_end = atomic_load(&l->sent);
        failed_end = atomic_load(&l->failed);

        assert_int_equal(d.outcome, PLAN_OUTCOME_REFUSED);
        assert_true(verdict_is_error_rate(d.detail));
        stat_of(FE_BAD, &a);
        assert_int_equal(srv(&a, "bad")->weight, 0);
        assert_int_equal(srv(&a, "old")->weight, NODE_TRAFFIC_FULL_WEIGHT);

        /* The failures were the step's: none once it is backed out (one
         * request may have been in flight at the end). */
        while (atomic_load(&l->sent) < sent_end + 40) {
            loop_for(20);
        }
        stat_of(FE_BAD, &a);
        assert_int_equal(srv(&a, "bad")->hrsp_5xx, srv(&a, "bad")->stot);
        assert_true(failed_end > 0);
        assert_true(failed_end < sent_end);
        assert_true(atomic_load(&l->failed) <= failed_end + 1);
        assert_int_equal(atomic_load(&l->not_500), 0);
    }
    load_stop();
}

/* unshift puts the old instance back at full weight, the new one at 0,
 * and stops the mirror; on servers that do not exist it still ends OK. */
static void unshift_restores_the_old_weights(void **state)
{
    struct node_traffic_req r;
    struct done d;
    struct hfx_answer a;
    char cmd[128];
    (void)state;

    old_serves(FE_UN);
    node_traffic_server_put(w.t, fe_names[FE_UN], "new", "127.0.0.1",
                            w.new_port, 128);
    node_traffic_server_weight(w.t, fe_names[FE_UN], "old", 128);
    loop_until_idle();
    snprintf(cmd, sizeof cmd, "augur mirror set " PREFIX "%s 127.0.0.1:%d",
             fe_names[FE_UN], w.new_port);
    command(cmd, &a);
    assert_false(mirror_has_no_target(FE_UN));
    stat_of(FE_UN, &a);
    assert_int_equal(srv(&a, "old")->weight, 128);
    assert_int_equal(srv(&a, "new")->weight, 128);

    req_init(&r, PLAN_ACTION_UNSHIFT, FE_UN, "new", 0);
    r.dwell_ms = 0;
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    stat_of(FE_UN, &a);
    assert_int_equal(srv(&a, "old")->weight, NODE_TRAFFIC_FULL_WEIGHT);
    assert_int_equal(srv(&a, "new")->weight, 0);
    assert_true(mirror_has_no_target(FE_UN));
    for (int i = 0; i < 10; i++) {
        char body[64];
        assert_int_equal(hfx_http_get(w.fe_port[FE_UN], body, sizeof body),
                         200);
        assert_string_equal(body, "w old 1\n");
    }

    /* Nothing to restore: still OK. */
    req_init(&r, PLAN_ACTION_UNSHIFT, FE_EMPTY, "ghost", 0);
    snprintf(r.from, sizeof r.from, "phantom");
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    stat_of(FE_EMPTY, &a);
    assert_int_equal(a.n, 0);
}

/* A workload with no backend is not behind this HAProxy: its steps pass
 * without moving anything. */
static void workload_without_backend_is_not_moved(void **state)
{
    struct node_traffic_req r;
    struct done d;
    (void)state;

    req_init(&r, PLAN_ACTION_SHIFT, FE_S25, "new", w.new_port);
    snprintf(r.workload, sizeof r.workload, "nowhere");
    r.pct = 5;
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_string_equal(d.detail,
                        "no backend be_nowhere in haproxy: traffic not moved");

    req_init(&r, PLAN_ACTION_MIRROR, FE_S25, "new", w.new_port);
    snprintf(r.workload, sizeof r.workload, "nowhere");
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_non_null(strstr(d.detail, "traffic not moved"));
}

/* No traffic at all: the step is measured again NODE_TRAFFIC_EXTENSIONS
 * times, then passes, marked not validated. */
static void idle_workload_passes_not_validated(void **state)
{
    struct node_traffic_req r;
    struct done d;
    struct hfx_answer a;
    (void)state;

    old_serves(FE_IDLE);
    req_init(&r, PLAN_ACTION_SHIFT, FE_IDLE, "new", w.new_port);
    r.pct = 25;
    r.dwell_ms = 200;
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_int_equal(
        strncmp(d.detail, "not validated: not enough requests: 0", 37), 0);
    stat_of(FE_IDLE, &a);
    assert_int_equal(srv(&a, "old")->weight, 192);
    assert_int_equal(srv(&a, "new")->weight, 64);
}

/* No HAProxy behind the socket: RETRY with HAProxy's error. */
static void missing_socket_retries(void **state)
{
    struct node_traffic *t;
    struct node_traffic_req r;
    struct done d;
    char errmsg[HAPROXY_ERRMSG_SIZE];
    char path[128];
    (void)state;

    snprintf(path, sizeof path, "%s/nobody.sock", w.dir);
    assert_int_equal(node_traffic_new(&w.loop, path, PREFIX, &t, errmsg), 0);
    req_init(&r, PLAN_ACTION_SHIFT, FE_S25, "new", w.new_port);
    r.pct = 25;
    memset(&d, 0, sizeof d);
    assert_int_equal(node_traffic_step(t, &r, on_done, &d), 0);
    while (d.calls == 0) {
        uv_run(&w.loop, UV_RUN_ONCE);
    }
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.outcome, PLAN_OUTCOME_RETRY);
    assert_int_equal(strncmp(d.detail, "haproxy: ", 9), 0);
    node_traffic_close(t);
    loop_for(50);
    assert_int_equal(d.calls, 1);

    /* A prefix too long, and bad requests, are refused at once. */
    char prefix[NODE_TRAFFIC_PREFIX_SIZE + 1];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    assert_int_equal(node_traffic_new(&w.loop, w.sock, prefix, &t, errmsg),
                     AUGUR_EINVAL);
    r.pct = 0;
    assert_int_equal(node_traffic_step(w.t, &r, on_done, &d), AUGUR_EINVAL);
    r.pct = 101;
    assert_int_equal(node_traffic_step(w.t, &r, on_done, &d), AUGUR_EINVAL);
    r.pct = 25;
    r.port = 0;
    assert_int_equal(node_traffic_step(w.t, &r, on_done, &d), AUGUR_EINVAL);
    r.port = w.new_port;
    r.dwell_ms = 0;
    assert_int_equal(node_traffic_step(w.t, &r, on_done, &d), AUGUR_EINVAL);
    r.dwell_ms = DWELL_MS;
    r.action = PLAN_ACTION_PREPARE;
    assert_int_equal(node_traffic_step(w.t, &r, on_done, &d), AUGUR_EINVAL);
    assert_int_equal(d.calls, 1);
    assert_int_equal(node_traffic_busy(w.t), 0);
}

/* cancel_all during a dwell answers the step once, "cancelled"; close
 * afterwards (and close with a step and membership calls in flight) frees
 * everything (ASan checks). */
static void cancel_and_close_answer_each_step_once(void **state)
{
    /* Static: a failed assertion leaves steps for the teardown to answer. */
    static struct done d, d2;
    struct node_traffic *t;
    struct node_traffic_req r;
    char errmsg[HAPROXY_ERRMSG_SIZE];
    (void)state;

    old_serves(FE_CANCEL);
    req_init(&r, PLAN_ACTION_SHIFT, FE_CANCEL, "new", w.new_port);
    r.pct = 5;
    r.dwell_ms = 60000;
    /* The old server's weight set, the step's show stat follows: then it
     * is in its dwell. */
    step_into_dwell(&r, &d, FE_CANCEL, 243, 200);
    assert_int_equal(node_traffic_busy(w.t), 1);
    node_traffic_cancel_all(w.t);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.outcome, PLAN_OUTCOME_RETRY);
    assert_string_equal(d.detail, "cancelled");
    loop_until_idle();
    assert_int_equal(d.calls, 1);

    /* Cancelled with a HAProxy call out: still once. */
    memset(&d, 0, sizeof d);
    assert_int_equal(node_traffic_step(w.t, &r, on_done, &d), 0);
    node_traffic_cancel_all(w.t);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.detail, "cancelled");
    loop_until_idle();
    assert_int_equal(d.calls, 1);

    /* Closed with a step in its dwell, another one calling HAProxy and
     * membership calls queued: each step hears "cancelled" once. */
    assert_int_equal(node_traffic_new(&w.loop, w.sock, PREFIX, &t, errmsg), 0);
    memset(&d, 0, sizeof d);
    memset(&d2, 0, sizeof d2);
    assert_int_equal(node_traffic_step(t, &r, on_done, &d), 0);
    loop_for(500);
    assert_int_equal(d.calls, 0);
    r.action = PLAN_ACTION_MIRROR;
    assert_int_equal(node_traffic_step(t, &r, on_done, &d2), 0);
    node_traffic_server_weight(t, fe_names[FE_CANCEL], "old", 256);
    node_traffic_server_delete(t, fe_names[FE_CANCEL], "nobody");
    node_traffic_close(t);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d2.calls, 1);
    assert_string_equal(d.detail, "cancelled");
    assert_string_equal(d2.detail, "cancelled");
    loop_for(100);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d2.calls, 1);
}

/* The workflow shifts traffic before it activates the new instance, and
 * the actuator's prepare starts it warm: its /healthz answers 503.  It
 * takes its share all the same (HAProxy's check is off during the steps,
 * the KPIs judge it), validated, every request answered; its activation's
 * put turns the check back on. */
static void shift_to_a_warm_instance_moves_traffic(void **state)
{
    static const unsigned pcts[] = {25, 100};
    struct node_traffic_req r;
    struct done d;
    struct load *l;
    struct hfx_answer a;
    char want[32];
    (void)state;

    old_serves(FE_WARM);
    l = load_start(FE_WARM);
    req_init(&r, PLAN_ACTION_MIRROR, FE_WARM, "warm", w.warm_port);
    latency_lenient(&r);
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_int_equal(strncmp(d.detail, "mirror: ", 8), 0);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        req_init(&r, PLAN_ACTION_SHIFT, FE_WARM, "warm", w.warm_port);
        latency_lenient(&r);
        r.pct = pcts[i];
        step(&r, &d);
        assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
        snprintf(want, sizeof want, "%u%%: new 0/", pcts[i]);
        assert_int_equal(strncmp(d.detail, want, strlen(want)), 0);
    }
    stat_of(FE_WARM, &a);
    assert_string_equal(srv(&a, "warm")->status, "no check");
    assert_true(atomic_load(&l->by_warm) > 0);

    /* Activated (promoted, then put at full weight, the old one at 0, as
     * the orchestrator does): HAProxy checks it again. */
    assert_int_equal(kill(w.warm_pid, SIGUSR1), 0);
    node_traffic_server_put(w.t, fe_names[FE_WARM], "warm", "127.0.0.1",
                            w.warm_port, NODE_TRAFFIC_FULL_WEIGHT);
    node_traffic_server_weight(w.t, fe_names[FE_WARM], "old", 0);
    loop_until_idle();
    wait_up(FE_WARM, "warm");
    load_stop();
    assert_int_equal(atomic_load(&l->failed), 0);
    assert_int_equal(atomic_load(&l->ok), atomic_load(&l->sent));
}

/* The new server deleted and added again during the dwell (its counters
 * start over, as after a HAProxy restart): the step is measured again from
 * there and passes validated, not "counters went backwards". */
static void shift_measures_again_after_a_counter_reset(void **state)
{
    static struct done d;
    struct node_traffic_req r;
    struct load *l;
    struct hfx_answer a;
    (void)state;

    /* The new server has served more requests than the whole step will
     * after its re-add: its counters go backwards. */
    old_serves(FE_RESET);
    node_traffic_server_put(w.t, fe_names[FE_RESET], "new", "127.0.0.1",
                            w.new_port, NODE_TRAFFIC_FULL_WEIGHT);
    loop_until_idle();
    l = load_start(FE_RESET);
    do {
        loop_for(100);
        stat_of(FE_RESET, &a);
    } while (srv(&a, "new")->stot < 200);

    req_init(&r, PLAN_ACTION_SHIFT, FE_RESET, "new", w.new_port);
    latency_lenient(&r);
    r.pct = 25;
    r.dwell_ms = 600;
    /* The old server's weight is the stage before the first show stat. */
    step_into_dwell(&r, &d, FE_RESET, 192, 100);

    memset(&a, 0, sizeof a);
    assert_int_equal(
        haproxy_server_delete(w.h, PREFIX "reset", "new", hfx_on_answer, &a),
        0);
    wait_answer(&a);
    assert_int_equal(a.status, 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(haproxy_server_add(w.h, PREFIX "reset", "new", "127.0.0.1",
                                        w.new_port, 64, 0, hfx_on_answer, &a),
                     0);
    wait_answer(&a);
    assert_int_equal(a.status, 0);

    for (int i = 0; i < 3000 && d.calls == 0; i++) {
        uv_run(&w.loop, UV_RUN_ONCE);
    }
    load_stop();
    fprintf(stderr, "  shift reset to new: \"%s\"\n", d.detail);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_int_equal(strncmp(d.detail, "25%: new 0/", 11), 0);
    assert_true(atomic_load(&l->by_new) > 0);
}

/* The mirror refuses a target that is not IPV4:PORT: the step is retried
 * with the script's words, on one line. */
static void mirror_refused_by_the_script_retries(void **state)
{
    struct node_traffic_req r;
    struct done d;
    (void)state;

    req_init(&r, PLAN_ACTION_MIRROR, FE_MIR, "named", w.new_port);
    snprintf(r.addr, sizeof r.addr, "localhost");
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_RETRY);
    assert_int_equal(
        strncmp(d.detail, "haproxy: mirror set: error: target ", 35), 0);
    assert_null(strpbrk(d.detail, "\r\n"));
    assert_true(mirror_has_no_target(FE_MIR));
}

/* A haproxy without augur-mirror.lua: the mirror step passes, marked not
 * validated, and unshift's clear of the mirror is no error. */
static void mirror_without_the_script_is_not_validated(void **state)
{
    static const char *const plain[] = {"plain"};
    struct node_traffic_req r;
    struct done d;
    char sock[128];
    char errmsg[HAPROXY_ERRMSG_SIZE];
    pid_t pid;
    int port = hfx_free_port();
    (void)state;

    snprintf(sock, sizeof sock, "%s/plain.sock", w.dir);
    assert_true(port > 0);
    assert_int_equal(
        write_config("plain.cfg", sock, NULL, plain, &port, 1, NULL), 0);
    pid = start_haproxy("plain.cfg");
    assert_true(pid > 0);
    (void)hfx_wait_ready(sock, port);
    node_traffic_close(w.t);
    assert_int_equal(node_traffic_new(&w.loop, sock, PREFIX, &w.t, errmsg), 0);

    req_init(&r, PLAN_ACTION_MIRROR, FE_S25, "new", w.new_port);
    snprintf(r.workload, sizeof r.workload, "plain");
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    assert_string_equal(d.detail,
                        "not validated: mirroring is not loaded in "
                        "haproxy (augur-mirror.lua)");

    req_init(&r, PLAN_ACTION_UNSHIFT, FE_S25, "new", 0);
    snprintf(r.workload, sizeof r.workload, "plain");
    step(&r, &d);
    assert_int_equal(d.outcome, PLAN_OUTCOME_OK);
    hfx_stop(&pid);
}

/* Puts server x of FE_PUT on the old instance at weight 20: it is then
 * the backend's one server, at that weight (@a: its show stat). */
static void put_x_on_old(struct hfx_answer *a)
{
    node_traffic_server_put(w.t, fe_names[FE_PUT], "x", "127.0.0.1", w.old_port,
                            20);
    loop_until_idle();
    stat_of(FE_PUT, a);
    assert_int_equal(a->n, 1);
    assert_int_equal(srv(a, "x")->weight, 20);
}

/* server_put on an existing server moves it to the new address and
 * weight. */
static void server_put_updates_an_existing_server(void **state)
{
    struct hfx_answer a;
    char body[64];
    (void)state;

    node_traffic_server_put(w.t, fe_names[FE_PUT], "x", "127.0.0.1", w.new_port,
                            10);
    loop_until_idle();
    wait_up(FE_PUT, "x");
    assert_int_equal(hfx_http_get(w.fe_port[FE_PUT], body, sizeof body), 200);
    assert_string_equal(body, "w new 2\n");

    put_x_on_old(&a);
    wait_up(FE_PUT, "x");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(hfx_http_get(w.fe_port[FE_PUT], body, sizeof body),
                         200);
        assert_string_equal(body, "w old 1\n");
    }

    node_traffic_server_weight(w.t, fe_names[FE_PUT], "x", 7);
    node_traffic_server_weight(w.t, fe_names[FE_PUT], "nobody", 7);
    loop_until_idle();
    stat_of(FE_PUT, &a);
    assert_int_equal(srv(&a, "x")->weight, 7);

    /* A delete waits out its grace in maintenance; a put of the same
     * server meanwhile keeps it. */
    node_traffic_server_delete(w.t, fe_names[FE_PUT], "x");
    loop_for(50);
    stat_of(FE_PUT, &a);
    assert_int_equal(a.n, 1);
    assert_non_null(strstr(srv(&a, "x")->status, "MAINT"));
    put_x_on_old(&a);

    node_traffic_server_delete(w.t, fe_names[FE_PUT], "x");
    node_traffic_server_delete(w.t, fe_names[FE_PUT], "nobody");
    loop_until_idle();
    stat_of(FE_PUT, &a);
    assert_int_equal(a.n, 0);
}

static void shift_pct_parses_step_names(void **state)
{
    static const char *const bad[] = {
        "shift_0",  "shift_101", "shift_", "shift_05", "shift_5x",
        "shift_-1", "mirror",    "shift5", "",         "shift_1000",
    };
    unsigned pct = 0;
    (void)state;

    assert_int_equal(node_traffic_shift_pct("shift_1", &pct), 0);
    assert_int_equal(pct, 1);
    assert_int_equal(node_traffic_shift_pct("shift_25", &pct), 0);
    assert_int_equal(pct, 25);
    assert_int_equal(node_traffic_shift_pct("shift_100", &pct), 0);
    assert_int_equal(pct, 100);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pct = 77;
        assert_int_equal(node_traffic_shift_pct(bad[i], &pct), AUGUR_EINVAL);
        assert_int_equal(pct, 77);
    }
}

static void mirror_parse_reads_show_lines(void **state)
{
    static const char good[] =
        "{\"target\":\"127.0.0.1:8080\",\"requests\":120,\"compared\":118,"
        "\"status_mismatch\":3,\"new_errors\":2,\"skipped\":1,\"dropped\":0,"
        "\"old_p50_ms\":1.250,\"old_p99_ms\":4.600,\"new_p50_ms\":1.000,"
        "\"new_p99_ms\":12.400}\n";
    static const char none[] =
        "{\"target\":null,\"requests\":0,\"compared\":0,\"status_mismatch\":0,"
        "\"new_errors\":0,\"skipped\":0,\"dropped\":0,\"old_p50_ms\":0.000,"
        "\"old_p99_ms\":0.000,\"new_p50_ms\":0.000,\"new_p99_ms\":0.000}\n";
    static const char *const bad[] = {
        "error: no backend be_x\n",
        "usage: augur mirror set BACKEND IP:PORT\n",
        "{}",
        "[1,2]",
        "{\"compared\":",
        "",
    };
    struct node_kpi_mirror m;
    (void)state;

    assert_int_equal(node_traffic_mirror_parse(good, sizeof good - 1, &m), 0);
    assert_int_equal(m.compared, 118);
    assert_int_equal(m.status_mismatch, 3);
    assert_int_equal(m.new_errors, 2);
    assert_int_equal(m.old_p50_ms, 1);
    assert_int_equal(m.old_p99_ms, 5);
    assert_int_equal(m.new_p50_ms, 1);
    assert_int_equal(m.new_p99_ms, 12);

    assert_int_equal(node_traffic_mirror_parse(none, sizeof none - 1, &m), 0);
    assert_int_equal(m.compared, 0);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&m, 0xff, sizeof m);
        assert_int_equal(node_traffic_mirror_parse(bad[i], strlen(bad[i]), &m),
                         AUGUR_EMALFORMED);
        assert_int_equal(m.compared, 0);
    }
    assert_int_equal(node_traffic_mirror_parse(NULL, 0, &m), AUGUR_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shift_pct_parses_step_names),
        cmocka_unit_test(mirror_parse_reads_show_lines),
        cmocka_unit_test_setup_teardown(shift_25_to_a_good_instance_passes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(shift_100_then_delete_loses_no_request,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            mirror_passes_good_and_refuses_failing_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(
            shift_to_a_failing_instance_is_refused_and_backed_out, setup,
            teardown),
        cmocka_unit_test_setup_teardown(unshift_restores_the_old_weights, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(workload_without_backend_is_not_moved,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(idle_workload_passes_not_validated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(missing_socket_retries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cancel_and_close_answer_each_step_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(shift_to_a_warm_instance_moves_traffic,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            shift_measures_again_after_a_counter_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(mirror_refused_by_the_script_retries,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            mirror_without_the_script_is_not_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(server_put_updates_an_existing_server,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
