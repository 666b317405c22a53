/* Unit tests of the chaos checker on hand-made histories: it must accept the
 * linearizable ones and refuse a stale read, a lost write, a double
 * application and diverging final states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"

/* Shorthands for history lines: I(process, time, op-args), and completions. */
#define INV(p, t, rest) \
    "{\"type\":\"invoke\",\"process\":" #p ",\"time\":" #t "," rest "}"
#define DONE(kind, p, t, rest) \
    "{\"type\":\"" kind "\",\"process\":" #p ",\"time\":" #t rest "}"
#define ACQ(w, h) "\"op\":\"acquire\",\"workload\":\"" w "\",\"host\":\"" h "\""
#define XFER(w, h, e)                                          \
    "\"op\":\"transfer\",\"workload\":\"" w "\",\"host\":\"" h \
    "\",\"epoch\":" #e
#define REL(w, e) "\"op\":\"release\",\"workload\":\"" w "\",\"epoch\":" #e
#define GET(w) "\"op\":\"get\",\"workload\":\"" w "\""
#define CLAIM(h, e) ",\"host\":\"" h "\",\"epoch\":" #e
#define NOTHELD ",\"held\":false"
#define ERR(e) ",\"error\":\"" e "\""

/* Load @lines into a history, check it, and return the verdict; the summary
 * goes into @summary (freed by the caller) when not NULL. */
static bool check_lines(const char *const *lines, char **summary)
{
    struct chaos_history h;
    struct chaos_options opt;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    bool valid;

    assert_non_null(out);
    chaos_history_init(&h);
    chaos_options_init(&opt);
    for (size_t i = 0; lines[i] != NULL; i++) {
        int rv = chaos_history_add_line(&h, lines[i], i + 1);
        if (rv != 0) {
            fail_msg("line %zu: %s", i + 1, h.errmsg);
        }
    }
    chaos_history_finish(&h);
    valid = chaos_check(&h, &opt, out);
    fclose(out);
    chaos_history_close(&h);
    if (summary != NULL) {
        *summary = buf;
    } else {
        free(buf);
    }
    return valid;
}

static void sequential_history_is_valid(void **state)
{
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(2, 120, GET("w1")),
        DONE("ok", 2, 130, CLAIM("h1", 1)),
        INV(1, 140, XFER("w1", "h2", 1)),
        DONE("ok", 1, 150, CLAIM("h2", 2)),
        INV(2, 160, XFER("w1", "h3", 1)),
        DONE("fail", 2, 170, ERR("ECONFLICT") CLAIM("h2", 2)),
        INV(1, 180, REL("w1", 2)),
        DONE("ok", 1, 190, CLAIM("h2", 2)),
        INV(2, 200, GET("w1")),
        DONE("ok", 2, 210, NOTHELD),
        INV(2, 220, ACQ("w1", "h1")),
        DONE("ok", 2, 230, CLAIM("h1", 3)),
        NULL};
    char *summary;
    (void)state;
    assert_true(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "valid: true"));
    assert_non_null(strstr(summary, "operations: 7 (ok 6, fail 1, info 0)"));
    free(summary);
}

static void concurrent_read_may_see_either_value(void **state)
{
    /* Two reads overlap a transfer: one sees the old, one the new claim. */
    static const char *const lines[] = {INV(1, 100, ACQ("w1", "h1")),
                                        DONE("ok", 1, 110, CLAIM("h1", 1)),
                                        INV(1, 200, XFER("w1", "h2", 1)),
                                        INV(2, 205, GET("w1")),
                                        INV(3, 206, GET("w1")),
                                        DONE("ok", 3, 210, CLAIM("h2", 2)),
                                        DONE("ok", 2, 260, CLAIM("h1", 1)),
                                        DONE("ok", 1, 300, CLAIM("h2", 2)),
                                        NULL};
    (void)state;
    /* Reader 3 saw the new claim before reader 2 answered with the old one,
     * but their intervals overlap, so 2 may come first. */
    assert_true(check_lines(lines, NULL));
}

static void stale_read_is_refused(void **state)
{
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")), DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, XFER("w1", "h2", 1)), DONE("ok", 1, 210, CLAIM("h2", 2)),
        /* Begins after the transfer was acknowledged, sees the old claim. */
        INV(2, 300, GET("w1")), DONE("ok", 2, 310, CLAIM("h1", 1)), NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "NOT linearizable"));
    assert_non_null(strstr(summary, "smallest non-linearizable sub-history"));
    assert_non_null(strstr(summary, "valid: false"));
    free(summary);
}

static void two_winning_cas_are_refused(void **state)
{
    static const char *const lines[] = {INV(1, 100, ACQ("w1", "h1")),
                                        DONE("ok", 1, 110, CLAIM("h1", 1)),
                                        INV(1, 200, XFER("w1", "h2", 1)),
                                        INV(2, 201, XFER("w1", "h3", 1)),
                                        DONE("ok", 1, 210, CLAIM("h2", 2)),
                                        DONE("ok", 2, 211, CLAIM("h3", 2)),
                                        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "workload w1: NOT linearizable"));
    assert_non_null(strstr(summary, "epochs granted twice: 1"));
    free(summary);
}

static void lost_write_is_refused(void **state)
{
    /* The acknowledged acquire is gone: a later read finds nothing, and the
     * cluster's event log does not hold it either. */
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")), DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(2, 200, GET("w1")),       DONE("ok", 2, 210, NOTHELD),
        "{\"type\":\"events_end\"}",  NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "lost writes: 1"));
    free(summary);
}

static void lost_write_in_log_only_is_refused(void **state)
{
    /* Every answer is consistent, but the log lost the transfer. */
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, XFER("w1", "h2", 1)),
        DONE("ok", 1, 210, CLAIM("h2", 2)),
        "{\"type\":\"event\",\"rev\":5,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":1}",
        "{\"type\":\"events_end\"}",
        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "lost writes: 1"));
    free(summary);
}

static void double_application_is_refused(void **state)
{
    /* A transfer whose outcome the client never heard was applied twice
     * (a retry not deduplicated): a read sees epoch 3. */
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, XFER("w1", "h2", 1)),
        DONE("info", 1, 300, ERR("EINDETERMINATE")),
        INV(2, 400, GET("w1")),
        DONE("ok", 2, 410, CLAIM("h2", 3)),
        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "workload w1: NOT linearizable"));
    free(summary);
}

static void double_application_in_log_is_refused(void **state)
{
    /* The same acquire applied twice, with a release between: every answer
     * the client heard fits, but the log shows two grants for one request. */
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, REL("w1", 1)),
        DONE("ok", 1, 210, CLAIM("h1", 1)),
        "{\"type\":\"event\",\"rev\":1,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":1}",
        "{\"type\":\"event\",\"rev\":2,\"op\":\"claim.release\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":1}",
        "{\"type\":\"event\",\"rev\":3,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":2}",
        "{\"type\":\"events_end\"}",
        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "applied twice: 1"));
    free(summary);
}

static void unknown_outcome_may_or_may_not_apply(void **state)
{
    /* Applied: a later read sees it. */
    static const char *const applied[] = {INV(1, 100, ACQ("w1", "h1")),
                                          DONE("ok", 1, 110, CLAIM("h1", 1)),
                                          INV(1, 200, XFER("w1", "h2", 1)),
                                          DONE("info", 1, 300, ERR("ETIMEOUT")),
                                          INV(2, 400, GET("w1")),
                                          DONE("ok", 2, 410, CLAIM("h2", 2)),
                                          NULL};
    /* Not applied: a later read does not see it, and the log agrees. */
    static const char *const not_applied[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, XFER("w1", "h2", 1)),
        DONE("info", 1, 300, ERR("EINDETERMINATE")),
        INV(2, 400, GET("w1")),
        DONE("ok", 2, 410, CLAIM("h1", 1)),
        "{\"type\":\"event\",\"rev\":1,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":1}",
        "{\"type\":\"events_end\"}",
        NULL};
    /* Applied late (after its client gave up), still open-ended. */
    static const char *const late[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, XFER("w1", "h2", 1)),
        DONE("info", 1, 300, ERR("EINDETERMINATE")),
        INV(2, 400, GET("w1")),
        DONE("ok", 2, 410, CLAIM("h1", 1)),
        INV(2, 500, GET("w1")),
        DONE("ok", 2, 510, CLAIM("h2", 2)),
        NULL};
    /* But not before it was invoked. */
    static const char *const early[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(2, 150, GET("w1")),
        DONE("ok", 2, 160, CLAIM("h2", 2)),
        INV(1, 200, XFER("w1", "h2", 1)),
        DONE("info", 1, 300, ERR("EINDETERMINATE")),
        NULL};
    (void)state;
    assert_true(check_lines(applied, NULL));
    assert_true(check_lines(not_applied, NULL));
    assert_true(check_lines(late, NULL));
    assert_false(check_lines(early, NULL));
}

static void open_invocation_counts_as_unknown(void **state)
{
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")),       INV(2, 400, GET("w1")),
        DONE("ok", 2, 410, CLAIM("h1", 1)), INV(2, 500, XFER("w1", "h2", 1)),
        DONE("ok", 2, 510, CLAIM("h2", 2)), NULL};
    char *summary;
    (void)state;
    assert_true(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "info 1"));
    free(summary);
}

static void refusal_that_contradicts_state_is_refused(void **state)
{
    /* A conflict answered while the epoch did match: a stale leader. */
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")), DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 200, XFER("w1", "h2", 1)),
        DONE("fail", 1, 210, ERR("ENOTFOUND")), NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "workload w1: NOT linearizable"));
    free(summary);
}

static void workloads_are_checked_separately(void **state)
{
    static const char *const lines[] = {INV(1, 100, ACQ("w1", "h1")),
                                        INV(2, 101, ACQ("w2", "h1")),
                                        DONE("ok", 1, 110, CLAIM("h1", 1)),
                                        DONE("ok", 2, 111, CLAIM("h1", 1)),
                                        INV(1, 200, GET("w2")),
                                        DONE("ok", 1, 210, CLAIM("h1", 1)),
                                        INV(2, 300, GET("w1")),
                                        DONE("ok", 2, 310, NOTHELD),
                                        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "linearizable: 1 of 2 workloads"));
    free(summary);
}

static void diverging_final_state_is_refused(void **state)
{
#define ACQ_AND_GET                                                   \
    INV(1, 100, ACQ("w1", "h1")), DONE("ok", 1, 110, CLAIM("h1", 1)), \
        INV(2, 200, GET("w1")), DONE("ok", 2, 210, CLAIM("h1", 1))
    static const char *const same[] = {
        ACQ_AND_GET,
        "{\"type\":\"final\",\"node\":1,\"rev\":9,\"digest\":\"ab\","
        "\"store_digest\":\"01\",\"store_applied\":12}",
        "{\"type\":\"final\",\"node\":2,\"rev\":9,\"digest\":\"ab\","
        "\"store_digest\":\"01\",\"store_applied\":12}",
        NULL};
    static const char *const diverged[] = {
        ACQ_AND_GET,
        "{\"type\":\"final\",\"node\":1,\"rev\":9,\"digest\":\"ab\"}",
        "{\"type\":\"final\",\"node\":2,\"rev\":9,\"digest\":\"cd\"}", NULL};
    /* What a stale reader sees agrees; the stores themselves do not. */
    static const char *const stores_diverged[] = {
        ACQ_AND_GET,
        "{\"type\":\"final\",\"node\":1,\"rev\":9,\"digest\":\"ab\","
        "\"store_digest\":\"01\",\"store_applied\":12}",
        "{\"type\":\"final\",\"node\":2,\"rev\":9,\"digest\":\"ab\","
        "\"store_digest\":\"02\",\"store_applied\":12}",
        NULL};
    char *summary;
    (void)state;
    assert_true(check_lines(same, NULL));
    assert_false(check_lines(diverged, &summary));
    assert_non_null(strstr(summary, "final state: 2 nodes, DIFFERENT"));
    free(summary);
    assert_false(check_lines(stores_diverged, &summary));
    assert_non_null(strstr(summary, "final state: 2 nodes, DIFFERENT"));
    assert_non_null(strstr(summary, "store 02 at 12"));
    free(summary);
#undef ACQ_AND_GET
}

static void nemesis_and_window_are_summarised(void **state)
{
    static const char *const lines[] = {
        INV(1, 1000000000, ACQ("w1", "h1")),
        DONE("ok", 1, 1100000000, CLAIM("h1", 1)),
        "{\"type\":\"nemesis\",\"time\":1200000000,\"kind\":\"kill\","
        "\"phase\":\"start\",\"node\":2}",
        "{\"type\":\"nemesis\",\"time\":3200000000,\"kind\":\"kill\","
        "\"phase\":\"stop\",\"node\":2}",
        INV(1, 1200000000, XFER("w1", "h2", 1)),
        DONE("ok", 1, 4100000000, CLAIM("h2", 2)),
        INV(2, 4200000000, GET("w1")),
        DONE("ok", 2, 4210000000, CLAIM("h2", 2)),
        NULL};
    char *summary;
    (void)state;
    assert_true(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "nemesis events: 1 (kill 1)"));
    assert_non_null(
        strstr(summary, "longest window without a successful write: 3.000 s"));
    free(summary);
}

/* A run in which nothing succeeded proves nothing, whatever else holds. */
static void history_without_successes_is_refused(void **state)
{
    static const char *const no_write[] = {
        INV(1, 100, ACQ("w1", "h1")), DONE("info", 1, 200, ERR("ETIMEOUT")),
        INV(2, 300, GET("w1")), DONE("ok", 2, 310, NOTHELD), NULL};
    static const char *const no_read[] = {
        INV(1, 100, ACQ("w1", "h1")), DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(2, 300, GET("w1")), DONE("info", 2, 400, ERR("ETIMEOUT")), NULL};
    static const char *const nothing[] = {
        "{\"type\":\"meta\",\"seed\":1,\"nodes\":3,\"seconds\":1,"
        "\"clients\":1,\"workloads\":1}",
        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(no_write, &summary));
    assert_non_null(strstr(summary, "workload w1: no successful write"));
    free(summary);
    assert_false(check_lines(no_read, &summary));
    assert_non_null(strstr(summary, "workload w1: no successful read"));
    free(summary);
    assert_false(check_lines(nothing, &summary));
    assert_non_null(strstr(summary, "no operation on any workload"));
    free(summary);
}

/* An acknowledged acquire whose epoch the log does not hold: the request
 * (acquire w1 on h1) is in the log, with another epoch. */
static void lost_write_with_another_epoch_is_refused(void **state)
{
    static const char *const lines[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(2, 200, GET("w1")),
        DONE("ok", 2, 210, CLAIM("h1", 1)),
        "{\"type\":\"event\",\"rev\":5,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":7}",
        "{\"type\":\"events_end\"}",
        NULL};
    char *summary;
    (void)state;
    assert_false(check_lines(lines, &summary));
    assert_non_null(strstr(summary, "lost writes: 1"));
    assert_non_null(strstr(summary, "epoch 1 is not in the log"));
    free(summary);
}

/* An acquire that lets the cluster choose the host ("*"): the answer names
 * the host; without an answer any host may hold the claim, and the event
 * log's grant counts against it rather than as a double application. */
static void acquire_with_host_chosen_by_the_cluster(void **state)
{
#define ANYACQ(w) "\"op\":\"acquire\",\"workload\":\"" w "\",\"host\":\"*\""
    static const char *const answered[] = {
        INV(1, 100, ANYACQ("w1")), DONE("ok", 1, 110, CLAIM("h2", 1)),
        INV(2, 200, GET("w1")), DONE("ok", 2, 210, CLAIM("h2", 1)), NULL};
    static const char *const lost_answer[] = {
        INV(1, 100, ACQ("w1", "h1")),
        DONE("ok", 1, 110, CLAIM("h1", 1)),
        INV(1, 120, REL("w1", 1)),
        DONE("ok", 1, 130, CLAIM("h1", 1)),
        INV(1, 200, ANYACQ("w1")),
        DONE("info", 1, 300, ERR("EINDETERMINATE")),
        INV(2, 400, GET("w1")),
        DONE("ok", 2, 410, CLAIM("h3", 2)),
        "{\"type\":\"event\",\"rev\":1,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":1}",
        "{\"type\":\"event\",\"rev\":2,\"op\":\"claim.release\","
        "\"workload\":\"w1\",\"host\":\"h1\",\"epoch\":1}",
        "{\"type\":\"event\",\"rev\":3,\"op\":\"claim.acquire\","
        "\"workload\":\"w1\",\"host\":\"h3\",\"epoch\":2}",
        "{\"type\":\"events_end\"}",
        NULL};
    /* The answer said h2, a later read sees h3 at the same epoch. */
    static const char *const wrong[] = {
        INV(1, 100, ANYACQ("w1")), DONE("ok", 1, 110, CLAIM("h2", 1)),
        INV(2, 200, GET("w1")), DONE("ok", 2, 210, CLAIM("h3", 1)), NULL};
    char *summary;
    (void)state;
    assert_true(check_lines(answered, NULL));
    assert_true(check_lines(lost_answer, &summary));
    assert_non_null(strstr(summary, "applied twice: 0"));
    free(summary);
    assert_false(check_lines(wrong, &summary));
    assert_non_null(strstr(summary, "workload w1: NOT linearizable"));
    free(summary);
#undef ANYACQ
}

static void malformed_lines_are_refused(void **state)
{
    struct chaos_history h;
    (void)state;
    chaos_history_init(&h);
    assert_int_equal(chaos_history_add_line(&h, "{not json", 1), -1);
    assert_int_equal(
        chaos_history_add_line(&h, DONE("ok", 1, 10, CLAIM("h1", 1)), 2), -1);
    assert_non_null(strstr(h.errmsg, "no open op"));
    assert_int_equal(
        chaos_history_add_line(&h, INV(1, 10, "\"op\":\"frobnicate\""), 3), -1);
    assert_int_equal(chaos_history_add_line(&h, "", 4), 0);
    chaos_history_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sequential_history_is_valid),
        cmocka_unit_test(concurrent_read_may_see_either_value),
        cmocka_unit_test(stale_read_is_refused),
        cmocka_unit_test(two_winning_cas_are_refused),
        cmocka_unit_test(lost_write_is_refused),
        cmocka_unit_test(lost_write_in_log_only_is_refused),
        cmocka_unit_test(double_application_is_refused),
        cmocka_unit_test(double_application_in_log_is_refused),
        cmocka_unit_test(unknown_outcome_may_or_may_not_apply),
        cmocka_unit_test(open_invocation_counts_as_unknown),
        cmocka_unit_test(refusal_that_contradicts_state_is_refused),
        cmocka_unit_test(workloads_are_checked_separately),
        cmocka_unit_test(diverging_final_state_is_refused),
        cmocka_unit_test(nemesis_and_window_are_summarised),
        cmocka_unit_test(history_without_successes_is_refused),
        cmocka_unit_test(lost_write_with_another_epoch_is_refused),
        cmocka_unit_test(acquire_with_host_chosen_by_the_cluster),
        cmocka_unit_test(malformed_lines_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
