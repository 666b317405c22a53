/* Unit tests of predict/'s pure computations: every streaming feature,
 * events and counters, robust statistics, the Weibull prior, noisy-OR
 * propagation (and its edge kinds, numbered as the store's) and the
 * evaluation metrics, against hand-computed values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "predict/predict.h"
#include "store/store.h"

#define EPS 1e-5

static void assert_near(double got, double want, double eps)
{
    if (fabs(got - want) > eps) {
        fail_msg("got %.9g, want %.9g (+-%g)", got, want, eps);
    }
}

static struct predict_stream_config cfg(double alpha,
                                        unsigned window,
                                        unsigned baseline)
{
    struct predict_stream_config c = {
        .ewma_alpha = alpha,
        .holt_alpha = 0.5,
        .holt_beta = 0.5,
        .window = window,
        .baseline = baseline,
    };
    return c;
}

/* ---- streams ------------------------------------------------------------ */

static void stream_features_are_missing_before_any_sample(void **state)
{
    struct predict_stream_config c = cfg(0.5, 2, 2);
    struct predict_stream s;
    float f[PREDICT_SF_COUNT];

    (void)state;
    predict_stream_init(&s, &c);
    predict_stream_features(&s, f);
    for (int i = 0; i < PREDICT_SF_COUNT; i++) {
        assert_true(isnan(f[i]));
    }
}

static void stream_computes_every_feature_by_hand(void **state)
{
    struct predict_stream_config c = cfg(0.5, 2, 2);
    struct predict_stream s;
    float f[PREDICT_SF_COUNT];

    (void)state;
    predict_stream_init(&s, &c);
    predict_stream_update(&s, 1.0);
    predict_stream_features(&s, f);
    assert_near(f[PREDICT_SF_VALUE], 1.0, EPS);
    assert_true(isnan(f[PREDICT_SF_WIN_SLOPE]));  /* one sample */
    assert_true(isnan(f[PREDICT_SF_BASE_DELTA])); /* baseline not full */
    predict_stream_update(&s, 3.0);
    predict_stream_update(&s, 5.0);
    predict_stream_features(&s, f);
    /* EWMA: mean 1 -> 2 -> 3.5; variance 0 -> 1 -> 0.5 (1 + 3 * 1.5). */
    assert_near(f[PREDICT_SF_EWMA_MEAN], 3.5, EPS);
    assert_near(f[PREDICT_SF_EWMA_STD], sqrt(2.75), EPS);
    /* Holt: level 1 -> 2 -> 3.75, trend 0 -> 0.5 -> 1.125. */
    assert_near(f[PREDICT_SF_HOLT_LEVEL], 3.75, EPS);
    assert_near(f[PREDICT_SF_HOLT_TREND], 1.125, EPS);
    /* Window of 2: {3, 5}. */
    assert_near(f[PREDICT_SF_WIN_MEAN], 4.0, EPS);
    assert_near(f[PREDICT_SF_WIN_STD], 1.0, EPS);
    assert_near(f[PREDICT_SF_WIN_MIN], 3.0, EPS);
    assert_near(f[PREDICT_SF_WIN_MAX], 5.0, EPS);
    assert_near(f[PREDICT_SF_WIN_SLOPE], 2.0, EPS);
    /* Window median 4, MAD 1. */
    assert_near(f[PREDICT_SF_ROBUST_Z], 1.0 / 1.4826, EPS);
    /* Baseline {1, 3}: median 2, MAD 1. */
    assert_near(f[PREDICT_SF_BASE_DELTA], 1.5, EPS);
    assert_near(f[PREDICT_SF_BASE_Z], 3.0 / 1.4826, EPS);
}

static void stream_window_wraps_and_ignores_missing_samples(void **state)
{
    struct predict_stream_config c = cfg(0.5, 3, 0);
    struct predict_stream s;
    float f[PREDICT_SF_COUNT];

    (void)state;
    predict_stream_init(&s, &c);
    for (int i = 1; i <= 5; i++) {
        predict_stream_update(&s, i);
        predict_stream_update(&s, NAN);
    }
    assert_int_equal(s.n, 5);
    predict_stream_features(&s, f);
    assert_near(f[PREDICT_SF_VALUE], 5.0, EPS);
    assert_near(f[PREDICT_SF_WIN_MEAN], 4.0, EPS);
    assert_near(f[PREDICT_SF_WIN_MIN], 3.0, EPS);
    assert_near(f[PREDICT_SF_WIN_MAX], 5.0, EPS);
    assert_near(f[PREDICT_SF_WIN_SLOPE], 1.0, EPS);
    assert_near(f[PREDICT_SF_WIN_STD], sqrt(2.0 / 3.0), EPS);
    assert_true(isnan(f[PREDICT_SF_BASE_Z])); /* no baseline configured */
}

static void stream_config_check_refuses_bad_values(void **state)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_stream_config c = cfg(0.5, 2, 2);

    (void)state;
    assert_int_equal(predict_stream_config_check(&c, errmsg), 0);
    c.ewma_alpha = 0.0;
    assert_int_equal(predict_stream_config_check(&c, errmsg), AUGUR_EINVAL);
    c = cfg(0.5, PREDICT_WINDOW_MAX + 1, 0);
    assert_int_equal(predict_stream_config_check(&c, errmsg), AUGUR_EINVAL);
    c = cfg(0.5, 2, PREDICT_BASELINE_MAX + 1);
    assert_int_equal(predict_stream_config_check(&c, errmsg), AUGUR_EINVAL);
}

static void median_mad_odd_even_and_constant(void **state)
{
    double odd[] = {5, 1, 3};
    double even[] = {4, 1, 3, 2};
    double flat[] = {2, 2, 2, 9};
    double scratch[4], med, mad;

    (void)state;
    predict_median_mad(odd, 3, scratch, &med, &mad);
    assert_near(med, 3, EPS);
    assert_near(mad, 2, EPS);
    assert_near(odd[0], 5, 0); /* input untouched */
    predict_median_mad(even, 4, scratch, &med, &mad);
    assert_near(med, 2.5, EPS);
    assert_near(mad, 1.0, EPS);
    predict_median_mad(flat, 4, scratch, &med, &mad);
    assert_near(med, 2, EPS);
    assert_near(mad, 0, EPS);
    assert_near(predict_robust_z(9, med, mad), PREDICT_Z_CAP, 0);
    assert_near(predict_robust_z(2, med, mad), 0, 0);
    assert_near(predict_robust_z(-1e9, 0, 1), -PREDICT_Z_CAP, 0);
}

static void events_time_since_and_decayed_rate(void **state)
{
    struct predict_events e;

    (void)state;
    predict_events_init(&e, 2, 10.0);
    assert_true(isnan(predict_events_since(&e, 0, 5.0)));
    assert_near(predict_events_rate(&e, 0, 5.0), 0.0, 0);
    predict_events_note(&e, 0, 0.0);
    predict_events_note(&e, 0, 10.0);
    predict_events_note(&e, 7, 10.0); /* out of range: ignored */
    assert_near(predict_events_since(&e, 0, 20.0), 10.0, EPS);
    assert_near(predict_events_rate(&e, 0, 10.0), exp(-1.0) + 1.0, EPS);
    assert_near(predict_events_rate(&e, 0, 20.0), (exp(-1.0) + 1.0) * exp(-1.0),
                EPS);
    assert_true(isnan(predict_events_since(&e, 1, 20.0)));
}

static void counter_rate_survives_a_reset(void **state)
{
    struct predict_counter c;

    (void)state;
    predict_counter_init(&c, 0.5);
    assert_int_equal(predict_counter_update(&c, 0, 100), 0);
    assert_true(isnan(c.rate));
    assert_int_equal(predict_counter_update(&c, 10, 150), 0);
    assert_near(c.rate, 5.0, EPS);
    assert_near(c.ewma_rate, 5.0, EPS);
    assert_int_equal(predict_counter_update(&c, 20, 30), 0); /* reset */
    assert_near(c.rate, 3.0, EPS);
    assert_near(c.ewma_rate, 4.0, EPS);
    assert_int_equal(c.resets, 1);
    assert_int_equal(predict_counter_update(&c, 20, 40), AUGUR_EINVAL);
    assert_near(c.rate, 3.0, EPS);
}

/* ---- Weibull --------------------------------------------------------------
 */

static void weibull_closed_forms(void **state)
{
    struct predict_weibull w = {.shape = 2.0, .scale = 100.0};

    (void)state;
    assert_near(predict_weibull_prob(&w, 0, 100), 1 - exp(-1.0), EPS);
    assert_near(predict_weibull_prob(&w, 100, 100), 1 - exp(-3.0), EPS);
    assert_near(predict_weibull_residual(&w, 0), 100 * sqrt(log(2.0)), 1e-4);
}

static void weibull_fit_recovers_shape_and_scale(void **state)
{
    enum
    {
        N = 2000
    };
    double *t = malloc(N * sizeof *t);
    uint8_t *failed = malloc(N);
    struct predict_weibull w;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    /* Quantiles of Weibull(k = 2, lambda = 100). */
    for (int i = 0; i < N; i++) {
        t[i] = 100.0 * sqrt(-log(1.0 - (i + 0.5) / N));
        failed[i] = 1;
    }
    assert_int_equal(predict_weibull_fit(t, failed, N, &w, errmsg), 0);
    assert_near(w.shape, 2.0, 0.05);
    assert_near(w.scale, 100.0, 1.0);
    /* Censoring the oldest half at the median keeps the estimate close. */
    for (int i = N / 2; i < N; i++) {
        t[i] = t[N / 2];
        failed[i] = 0;
    }
    assert_int_equal(predict_weibull_fit(t, failed, N, &w, errmsg), 0);
    assert_near(w.shape, 2.0, 0.15);
    assert_near(w.scale, 100.0, 5.0);
    memset(failed, 0, N);
    assert_int_equal(predict_weibull_fit(t, failed, N, &w, errmsg),
                     AUGUR_EINVAL);
    failed[0] = 1;
    t[1] = 0.0;
    assert_int_equal(predict_weibull_fit(t, failed, N, &w, errmsg),
                     AUGUR_EINVAL);
    free(t);
    free(failed);
}

/* ---- noisy-OR -------------------------------------------------------------
 */

static const double weights[PREDICT_EDGE_KINDS] = {1.0, 0.5, 0.5, 0.5, 0.5};

static void graph_a_failing_psu_raises_every_server_it_feeds(void **state)
{
    /* 0 psu; 1, 2 servers on it; 3 a workload on 1; 4 on psu and 2. */
    double own[] = {0.5, 0.1, 0.0, 0.0, 0.2};
    struct predict_edge edges[] = {
        {3, 1, PREDICT_EDGE_WORKLOAD}, {1, 0, PREDICT_EDGE_POWER},
        {2, 0, PREDICT_EDGE_POWER},    {4, 0, PREDICT_EDGE_POWER},
        {4, 2, PREDICT_EDGE_NETWORK},
    };
    double out[5];
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        predict_graph_propagate(5, own, edges, 5, weights, out, errmsg), 0);
    assert_near(out[0], 0.5, EPS);
    assert_near(out[1], 1 - 0.9 * 0.5, EPS);
    assert_near(out[2], 0.5, EPS);
    assert_near(out[3], 0.5 * 0.55, EPS);
    assert_near(out[4], 1 - 0.8 * 0.5 * 0.75, EPS);
}

static void graph_without_edges_keeps_own_probabilities(void **state)
{
    double own[] = {0.25, 0.0, 1.0};
    double out[3];
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        predict_graph_propagate(3, own, NULL, 0, weights, out, errmsg), 0);
    for (int i = 0; i < 3; i++) {
        assert_near(out[i], own[i], EPS);
    }
}

/* The predictor reads edges out of the store: a kind keeps its number from
 * one to the other, for every kind (predict/ cannot include store/'s
 * header, so this test holds the two enums together). */
static void edge_kinds_are_numbered_as_the_store_numbers_them(void **state)
{
    static const struct
    {
        const char *name;
        enum predict_edge_kind kind;
    } kinds[] = {
        {"power", PREDICT_EDGE_POWER},     {"network", PREDICT_EDGE_NETWORK},
        {"storage", PREDICT_EDGE_STORAGE}, {"workload", PREDICT_EDGE_WORKLOAD},
        {"cooling", PREDICT_EDGE_COOLING},
    };

    (void)state;
    assert_int_equal(PREDICT_EDGE_KINDS, STORE_EDGE_COUNT);
    assert_int_equal(sizeof kinds / sizeof kinds[0], STORE_EDGE_COUNT);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        assert_int_equal(
            store_edge_kind_parse(kinds[i].name, strlen(kinds[i].name)),
            kinds[i].kind);
        assert_string_equal(store_edge_kind_name(kinds[i].kind), kinds[i].name);
    }
}

static void graph_refuses_cycles_and_bad_input(void **state)
{
    double own[] = {0.1, 0.2};
    double bad_p[] = {0.1, 1.5};
    double bad_w[PREDICT_EDGE_KINDS] = {1.0, -0.1, 0, 0, 0};
    struct predict_edge cycle[] = {{0, 1, PREDICT_EDGE_POWER},
                                   {1, 0, PREDICT_EDGE_POWER}};
    struct predict_edge far[] = {{0, 7, PREDICT_EDGE_POWER}};
    double out[2];
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        predict_graph_propagate(2, own, cycle, 2, weights, out, errmsg),
        AUGUR_ECYCLE);
    assert_non_null(strstr(errmsg, "cycle"));
    assert_int_equal(
        predict_graph_propagate(2, own, far, 1, weights, out, errmsg),
        AUGUR_EINVAL);
    assert_int_equal(
        predict_graph_propagate(2, bad_p, NULL, 0, weights, out, errmsg),
        AUGUR_EINVAL);
    assert_int_equal(
        predict_graph_propagate(2, own, NULL, 0, bad_w, out, errmsg),
        AUGUR_EINVAL);
}

/* ---- metrics --------------------------------------------------------------
 */

static void metrics_rmse_and_phm08(void **state)
{
    float pred[] = {1, 2, 3};
    float truth[] = {1, 2, 5};
    float p2[] = {0, 30};
    float t2[] = {13, 20};

    (void)state;
    assert_near(predict_rmse(pred, truth, 3), sqrt(4.0 / 3.0), EPS);
    /* 13 early and 10 late both cost e - 1. */
    assert_near(predict_phm08_score(p2, t2, 2), 2 * (exp(1.0) - 1), EPS);
}

static void metrics_recall_at_fpr_counts_strictly_above(void **state)
{
    float score[104], label[104];
    double recall, thr, fpr;

    (void)state;
    for (int i = 0; i < 100; i++) {
        score[i] = (float)i / 100.0f;
        label[i] = 0;
    }
    score[100] = 0.995f;
    score[101] = 0.985f;
    score[102] = 0.5f;
    score[103] = 0.975f;
    for (int i = 100; i < 104; i++) {
        label[i] = 1;
    }
    assert_int_equal(
        predict_recall_at_fpr(score, label, 104, 0.01, &recall, &thr, &fpr), 0);
    assert_near(recall, 0.5, EPS);
    assert_near(fpr, 0.01, EPS);
    assert_near(thr, 0.98f, EPS);
}

static void metrics_precision_recall_and_folds(void **state)
{
    float score[] = {0.9f, 0.8f, 0.2f, 0.6f};
    float label[] = {1, 0, 1, 1};
    double p, r;
    unsigned fold[10], again[10], count[3] = {0};

    (void)state;
    predict_precision_recall(score, label, 4, 0.5, &p, &r);
    assert_near(p, 2.0 / 3.0, EPS);
    assert_near(r, 2.0 / 3.0, EPS);
    predict_folds_assign(10, 3, 42, fold);
    predict_folds_assign(10, 3, 42, again);
    assert_memory_equal(fold, again, sizeof fold);
    for (int i = 0; i < 10; i++) {
        assert_true(fold[i] < 3);
        count[fold[i]]++;
    }
    assert_true(count[0] >= 3 && count[0] <= 4);
    assert_true(count[1] >= 3 && count[1] <= 4);
    assert_int_equal(count[0] + count[1] + count[2], 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_features_are_missing_before_any_sample),
        cmocka_unit_test(stream_computes_every_feature_by_hand),
        cmocka_unit_test(stream_window_wraps_and_ignores_missing_samples),
        cmocka_unit_test(stream_config_check_refuses_bad_values),
        cmocka_unit_test(median_mad_odd_even_and_constant),
        cmocka_unit_test(events_time_since_and_decayed_rate),
        cmocka_unit_test(counter_rate_survives_a_reset),
        cmocka_unit_test(weibull_closed_forms),
        cmocka_unit_test(weibull_fit_recovers_shape_and_scale),
        cmocka_unit_test(graph_a_failing_psu_raises_every_server_it_feeds),
        cmocka_unit_test(graph_without_edges_keeps_own_probabilities),
        cmocka_unit_test(graph_refuses_cycles_and_bad_input),
        cmocka_unit_test(edge_kinds_are_numbered_as_the_store_numbers_them),
        cmocka_unit_test(metrics_rmse_and_phm08),
        cmocka_unit_test(metrics_recall_at_fpr_counts_strictly_above),
        cmocka_unit_test(metrics_precision_recall_and_folds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
