/* Unit tests of node/metrics.c: the Prometheus text of a node's metrics. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "node/metrics.h"

static char *format(const struct node_metrics *m)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(node_metrics_format(m, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void metrics_text_carries_the_values(void **state)
{
    struct node_metrics_score scores[2] = {
        {.id = "host-a", .kind = "host", .p = 0.93},
        {.id = "rack-1", .kind = "rack", .p = 0.25},
    };
    struct node_metrics m = {0};
    char *text;

    (void)state;
    m.node_id = 3;
    m.term = 7;
    m.is_leader = true;
    m.leader_id = 3;
    m.commit_index = 120;
    m.applied_index = 118;
    m.serving = true;
    m.migrate_threshold = 0.8;
    m.scores = scores;
    m.n_scores = 2;
    m.workflows[STORE_WF_ROLLED_BACK] = 1;
    m.workflows[STORE_WF_DONE] = 4;
    m.lease_expiries = 2;
    m.telemetry_dropped = 5;
    text = format(&m);
    assert_non_null(strstr(text, "\naugur_node_info{node=\"3\"} 1\n"));
    assert_non_null(strstr(text, "\naugur_raft_term 7\n"));
    assert_non_null(strstr(text, "\naugur_raft_is_leader 1\n"));
    assert_non_null(strstr(text, "\naugur_raft_leader_id 3\n"));
    assert_non_null(strstr(text, "\naugur_raft_commit_index 120\n"));
    assert_non_null(strstr(text, "\naugur_raft_applied_index 118\n"));
    assert_non_null(strstr(text, "\naugur_policy_migrate_threshold 0.8\n"));
    assert_non_null(strstr(
        text,
        "\naugur_resource_failure_score{resource=\"host-a\",kind=\"host\"} "
        "0.93\n"));
    assert_non_null(strstr(
        text,
        "\naugur_resource_failure_score{resource=\"rack-1\",kind=\"rack\"} "
        "0.25\n"));
    assert_non_null(strstr(text, "\naugur_workflows{state=\"done\"} 4\n"));
    assert_non_null(
        strstr(text, "\naugur_workflows{state=\"rolled_back\"} 1\n"));
    assert_non_null(strstr(text, "\naugur_workflows{state=\"failed\"} 0\n"));
    assert_non_null(strstr(text, "\naugur_lease_expiries_total 2\n"));
    assert_non_null(strstr(text, "\naugur_telemetry_dropped_total 5\n"));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

/* Every sample's family has HELP then TYPE lines before it, once each. */
static void metrics_every_family_has_help_and_type_once(void **state)
{
    struct node_metrics_score score = {.id = "h", .kind = "host", .p = 0.5};
    struct node_metrics m = {0};
    char *text, *line, *save = NULL;
    char seen[16384] = " ";

    (void)state;
    m.scores = &score;
    m.n_scores = 1;
    text = format(&m);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        char key[160];
        size_t n = strcspn(line, "{ ");
        if (strncmp(line, "# HELP ", 7) == 0) {
            n = strcspn(line + 7, " ");
            snprintf(key, sizeof key, " H:%.*s ", (int)n, line + 7);
            assert_null(strstr(seen, key)); /* once */
            assert_true(strlen(seen) + strlen(key) < sizeof seen);
            memcpy(seen + strlen(seen), key + 1, strlen(key));
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            n = strcspn(line + 7, " ");
            snprintf(key, sizeof key, " H:%.*s ", (int)n, line + 7);
            assert_non_null(strstr(seen, key)); /* after its HELP */
            snprintf(key, sizeof key, " T:%.*s ", (int)n, line + 7);
            assert_null(strstr(seen, key));
            assert_true(strlen(seen) + strlen(key) < sizeof seen);
            memcpy(seen + strlen(seen), key + 1, strlen(key));
            assert_true(strstr(line, " gauge") != NULL ||
                        strstr(line, " counter") != NULL ||
                        strstr(line, " histogram") != NULL);
            continue;
        }
        assert_true(n < sizeof name);
        snprintf(key, sizeof key, " T:%.*s ", (int)n, line);
        if (strstr(seen, key) == NULL) {
            /* A histogram's samples: NAME_bucket, NAME_sum, NAME_count. */
            static const char *const suffix[] = {"_bucket", "_sum", "_count"};
            size_t base = n;
            for (size_t i = 0; i < 3 && base == n; i++) {
                size_t sl = strlen(suffix[i]);
                if (n > sl && strncmp(line + n - sl, suffix[i], sl) == 0) {
                    base = n - sl;
                }
            }
            snprintf(key, sizeof key, " T:%.*s ", (int)base, line);
        }
        assert_non_null(strstr(seen, key));
        /* Counters end in _total: a name that holds it ends with it. */
        snprintf(name, sizeof name, "%.*s", (int)n, line);
        if (strstr(name, "_total") != NULL) {
            assert_true(n > 6 && strcmp(name + n - 6, "_total") == 0);
        }
    }
    free(text);
}

static void metrics_label_values_are_escaped(void **state)
{
    struct node_metrics_score score = {.id = "a\"b\\c\nd", .kind = "k", .p = 1};
    struct node_metrics m = {0};
    char out[64];
    char *text;

    (void)state;
    assert_int_equal(node_metrics_escape(out, sizeof out, "plain"), 5);
    assert_string_equal(out, "plain");
    assert_int_equal(node_metrics_escape(out, sizeof out, "q\"s\\n\n"), 9);
    assert_string_equal(out, "q\\\"s\\\\n\\n");
    /* Truncated: the size it needs, and still a C string. */
    assert_int_equal(node_metrics_escape(out, 4, "\"\"\""), 6);
    assert_string_equal(out, "\\\"\\");
    assert_int_equal(node_metrics_escape(out, sizeof out, ""), 0);
    assert_string_equal(out, "");

    m.scores = &score;
    m.n_scores = 1;
    text = format(&m);
    assert_non_null(
        strstr(text, "{resource=\"a\\\"b\\\\c\\nd\",kind=\"k\"} 1\n"));
    free(text);
}

/* A large fleet: the buffer grows as needed. */
static void metrics_text_grows_for_many_resources(void **state)
{
    enum
    {
        N = 5000
    };
    struct node_metrics_score *scores = calloc(N, sizeof *scores);
    struct node_metrics m = {0};
    char want[128];
    char *text;

    (void)state;
    assert_non_null(scores);
    for (int i = 0; i < N; i++) {
        snprintf(scores[i].id, sizeof scores[i].id, "host-%d", i);
        snprintf(scores[i].kind, sizeof scores[i].kind, "host");
        scores[i].p = 0.5;
    }
    m.scores = scores;
    m.n_scores = N;
    text = format(&m);
    snprintf(want, sizeof want,
             "\naugur_resource_failure_score{resource=\"host-%d\",kind="
             "\"host\"} 0.5\n",
             N - 1);
    assert_non_null(strstr(text, want));
    free(text);
    free(scores);
}

/* Requests by op and result, the apply latency histogram and the
 * snapshots' families. */
static void metrics_text_carries_requests_latency_and_snapshots(void **state)
{
    struct node_metrics_request reqs[2] = {
        {.op = "claim.transfer", .result = "ok", .count = 5},
        {.op = "claim.transfer", .result = "ECONFLICT", .count = 2},
    };
    struct node_metrics m = {0};
    char *text;

    (void)state;
    m.requests = reqs;
    m.n_requests = 2;
    augur_histogram_observe(&m.apply_latency, 0.0003);
    augur_histogram_observe(&m.apply_latency, 0.002);
    augur_histogram_observe(&m.apply_latency, 0.002);
    augur_histogram_observe(&m.apply_latency, 30);
    augur_histogram_observe(&m.snapshots[NODE_METRICS_SNAPSHOT_TAKE].seconds,
                            0.7);
    m.snapshots[NODE_METRICS_SNAPSHOT_TAKE].last_bytes = 4096;
    m.snapshots[NODE_METRICS_SNAPSHOT_TAKE].bytes = 10000;
    m.snapshots[NODE_METRICS_SNAPSHOT_INSTALL].failures = 1;
    text = format(&m);
    assert_non_null(strstr(text,
                           "\n# TYPE augur_client_requests_total "
                           "counter\n"));
    assert_non_null(strstr(text,
                           "\naugur_client_requests_total{op=\"claim."
                           "transfer\",result=\"ok\"} 5\n"));
    assert_non_null(strstr(text,
                           "\naugur_client_requests_total{op=\"claim."
                           "transfer\",result=\"ECONFLICT\"} 2\n"));
    /* Cumulative buckets, 0.1 ms to 10 s, then +Inf, _sum and _count. */
    assert_non_null(
        strstr(text, "\n# TYPE augur_apply_latency_seconds histogram\n"));
    assert_non_null(strstr(
        text, "\naugur_apply_latency_seconds_bucket{le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(
        text, "\naugur_apply_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(
        text, "\naugur_apply_latency_seconds_bucket{le=\"0.0025\"} 3\n"));
    assert_non_null(
        strstr(text, "\naugur_apply_latency_seconds_bucket{le=\"10\"} 3\n"));
    assert_non_null(
        strstr(text, "\naugur_apply_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(
        strstr(text, "\naugur_apply_latency_seconds_sum 30.0043\n"));
    assert_non_null(strstr(text, "\naugur_apply_latency_seconds_count 4\n"));
    /* Snapshots: both kinds in every family. */
    assert_non_null(strstr(text,
                           "\naugur_snapshot_duration_seconds_bucket{"
                           "kind=\"take\",le=\"0.5\"} 0\n"));
    assert_non_null(strstr(text,
                           "\naugur_snapshot_duration_seconds_bucket{"
                           "kind=\"take\",le=\"1\"} 1\n"));
    assert_non_null(strstr(
        text, "\naugur_snapshot_duration_seconds_count{kind=\"take\"} 1\n"));
    assert_non_null(strstr(
        text, "\naugur_snapshot_duration_seconds_count{kind=\"install\"} 0\n"));
    assert_non_null(strstr(
        text, "\naugur_snapshot_duration_seconds_sum{kind=\"take\"} 0.7\n"));
    assert_non_null(
        strstr(text, "\naugur_snapshot_last_size_bytes{kind=\"take\"} 4096\n"));
    assert_non_null(
        strstr(text, "\naugur_snapshot_bytes_total{kind=\"take\"} 10000\n"));
    assert_non_null(
        strstr(text, "\naugur_snapshot_failures_total{kind=\"install\"} 1\n"));
    free(text);
}

/* A value on a bound falls in that bound's bucket (le: less or equal);
 * negative and NaN count as 0. */
static void histogram_buckets_are_upper_inclusive(void **state)
{
    struct augur_histogram h = {0};

    (void)state;
    augur_histogram_observe(&h, 0.001);
    assert_int_equal(h.buckets[3], 1);
    assert_true(augur_histogram_bounds[3] == 0.001);
    augur_histogram_observe(&h, 10);
    assert_int_equal(h.buckets[AUGUR_HISTOGRAM_BOUNDS - 1], 1);
    augur_histogram_observe(&h, 10.001);
    assert_int_equal(h.buckets[AUGUR_HISTOGRAM_BOUNDS], 1);
    augur_histogram_observe(&h, -1);
    augur_histogram_observe(&h, NAN);
    assert_int_equal(h.buckets[0], 2);
    assert_int_equal(h.count, 5);
    assert_true(h.sum > 20.000 && h.sum < 20.003);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_text_carries_the_values),
        cmocka_unit_test(metrics_every_family_has_help_and_type_once),
        cmocka_unit_test(metrics_label_values_are_escaped),
        cmocka_unit_test(metrics_text_grows_for_many_resources),
        cmocka_unit_test(metrics_text_carries_requests_latency_and_snapshots),
        cmocka_unit_test(histogram_buckets_are_upper_inclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
