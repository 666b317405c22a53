/* Unit tests of predict/'s calibration: the isotonic fit (pool adjacent
 * violators) on hand-made points, that both maps are monotone and recover
 * a known mapping from sampled outcomes, and the Brier score, expected
 * calibration error and reliability bins against hand-computed values,
 * and the prior-shift adaptation (EM) on synthetic populations whose
 * prior is known. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "predict/predict.h"

#define SAMPLES 40000

static uint64_t rng_state = 12345;

static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* @n raw probabilities, uniform in (0, 1), and outcomes drawn with
 * probability @truth(p). */
static void sample(float *p, float *y, size_t n, double (*truth)(double))
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(0.001 + 0.998 * uniform());
        y[i] = uniform() < truth(p[i]) ? 1.0f : 0.0f;
    }
}

static double square(double p)
{
    return p * p;
}

static double platt_truth(double p)
{
    double z = 2.0 * log(p / (1.0 - p)) - 1.0;
    return 1.0 / (1.0 + exp(-z));
}

static void isotonic_pools_adjacent_violators(void **state)
{
    /* (0.1, 0) (0.2, 1) (0.3, 0) (0.4, 1): the middle two violate and pool
     * to (0.25, 0.5). */
    float p[] = {0.4f, 0.1f, 0.3f, 0.2f};
    float y[] = {1, 0, 0, 1};
    struct predict_calibration c;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    predict_calibration_init(&c);
    assert_int_equal(
        predict_calibration_fit(&c, PREDICT_CALIB_ISOTONIC, p, y, 4, errmsg),
        0);
    assert_int_equal(c.kind, PREDICT_CALIB_ISOTONIC);
    assert_int_equal(c.n, 3);
    assert_float_equal(c.x[0], 0.1, 1e-6);
    assert_float_equal(c.y[0], 0.0, 1e-12);
    assert_float_equal(c.x[1], 0.25, 1e-6);
    assert_float_equal(c.y[1], 0.5, 1e-12);
    assert_float_equal(c.x[2], 0.4, 1e-6);
    assert_float_equal(c.y[2], 1.0, 1e-12);
    /* Flat beyond the ends, linear between knots. */
    assert_float_equal(predict_calibration_apply(&c, 0.0), 0.0, 1e-12);
    assert_float_equal(predict_calibration_apply(&c, 0.9), 1.0, 1e-12);
    assert_float_equal(predict_calibration_apply(&c, 0.175), 0.25, 1e-6);
    predict_calibration_close(&c);
}

static void isotonic_pools_equal_scores_first(void **state)
{
    /* Three points at one p must get one value: 2 of 3 positive. */
    float p[] = {0.5f, 0.5f, 0.5f, 0.9f};
    float y[] = {1, 0, 1, 1};
    struct predict_calibration c;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    predict_calibration_init(&c);
    assert_int_equal(
        predict_calibration_fit(&c, PREDICT_CALIB_ISOTONIC, p, y, 4, errmsg),
        0);
    assert_int_equal(c.n, 2);
    assert_float_equal(c.y[0], 2.0 / 3.0, 1e-12);
    assert_float_equal(predict_calibration_apply(&c, 0.5), 2.0 / 3.0, 1e-9);
    predict_calibration_close(&c);
}

/* Every map is non-decreasing over a fine grid and stays in [0, 1]. */
static void assert_monotone(const struct predict_calibration *c)
{
    double prev = -1.0;

    for (int i = 0; i <= 1000; i++) {
        double q = predict_calibration_apply(c, i / 1000.0);
        assert_true(q >= prev);
        assert_true(q >= 0.0 && q <= 1.0);
        prev = q;
    }
}

static void isotonic_is_monotone_and_recovers_a_known_mapping(void **state)
{
    float *p = malloc(SAMPLES * sizeof *p);
    float *y = malloc(SAMPLES * sizeof *y);
    struct predict_calibration c;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    sample(p, y, SAMPLES, square);
    predict_calibration_init(&c);
    assert_int_equal(predict_calibration_fit(&c, PREDICT_CALIB_ISOTONIC, p, y,
                                             SAMPLES, errmsg),
                     0);
    assert_true(c.n >= 2 && c.n <= PREDICT_CALIB_KNOTS_MAX);
    for (unsigned i = 1; i < c.n; i++) {
        assert_true(c.x[i] > c.x[i - 1]);
        assert_true(c.y[i] >= c.y[i - 1]);
    }
    assert_monotone(&c);
    for (double q = 0.1; q <= 0.9; q += 0.1) {
        assert_float_equal(predict_calibration_apply(&c, q), q * q, 0.05);
    }
    predict_calibration_close(&c);
    free(p);
    free(y);
}

static void platt_is_monotone_and_recovers_a_known_mapping(void **state)
{
    float *p = malloc(SAMPLES * sizeof *p);
    float *y = malloc(SAMPLES * sizeof *y);
    struct predict_calibration c;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    sample(p, y, SAMPLES, platt_truth);
    predict_calibration_init(&c);
    assert_int_equal(
        predict_calibration_fit(&c, PREDICT_CALIB_PLATT, p, y, SAMPLES, errmsg),
        0);
    assert_int_equal(c.kind, PREDICT_CALIB_PLATT);
    assert_float_equal(c.a, 2.0, 0.1);
    assert_float_equal(c.b, -1.0, 0.1);
    assert_monotone(&c);
    predict_calibration_close(&c);
    free(p);
    free(y);
}

static void calibration_refuses_bad_input(void **state)
{
    float p[] = {0.2f, NAN};
    float y[] = {0, 1};
    float none[] = {0, 0};
    struct predict_calibration c;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    predict_calibration_init(&c);
    assert_int_equal(
        predict_calibration_fit(&c, PREDICT_CALIB_ISOTONIC, p, y, 0, errmsg),
        AUGUR_EINVAL);
    assert_int_equal(
        predict_calibration_fit(&c, PREDICT_CALIB_ISOTONIC, p, y, 2, errmsg),
        AUGUR_EINVAL);
    assert_int_equal(
        predict_calibration_fit(&c, PREDICT_CALIB_PLATT, p, none, 1, errmsg),
        AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "both classes"));
    assert_int_equal(c.kind, PREDICT_CALIB_NONE);
    /* None maps p to itself. */
    assert_float_equal(predict_calibration_apply(&c, 0.37), 0.37, 1e-12);
    assert_int_equal(predict_calib_kind_parse("isotonic"),
                     PREDICT_CALIB_ISOTONIC);
    assert_int_equal(predict_calib_kind_parse("sigmoid"), -1);
}

static void figures_match_hand_computed_values(void **state)
{
    /* Bin 0: p 0.05, 0.05 with outcomes 0, 1; bin 9: p 0.95 with 1.
     * Brier = (0.0025 + 0.9025 + 0.0025) / 3; ECE = 2/3 |0.05 - 0.5| +
     * 1/3 |0.95 - 1|. */
    float p[] = {0.05f, 0.05f, 0.95f};
    float y[] = {0, 1, 1};
    struct predict_calib_figures f;

    (void)state;
    predict_calib_figures_of(p, y, 3, &f);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.positives, 2);
    assert_float_equal(f.brier, (0.0025 + 0.9025 + 0.0025) / 3.0, 1e-6);
    assert_float_equal(f.ece, 2.0 / 3.0 * 0.45 + 1.0 / 3.0 * 0.05, 1e-6);
    assert_int_equal(f.bins[0].n, 2);
    assert_float_equal(f.bins[0].observed, 0.5, 1e-12);
    assert_int_equal(f.bins[9].n, 1);
    assert_int_equal(f.bins[5].n, 0);
    assert_true(isnan(f.bins[5].mean_p));
    /* A perfectly calibrated sample has a small ECE. */
    {
        float *q = malloc(SAMPLES * sizeof *q);
        float *z = malloc(SAMPLES * sizeof *z);
        sample(q, z, SAMPLES, square);
        for (size_t i = 0; i < SAMPLES; i++) {
            q[i] = q[i] * q[i];
        }
        predict_calib_figures_of(q, z, SAMPLES, &f);
        assert_true(f.ece < 0.02);
        free(q);
        free(z);
    }
}

/* ln T = mu + 0.3 + 0.5 Z, half the units watched only until a random
 * time: the Brier refit over a few windows finds the shift and the scale
 * (the Brier score is proper: the truth minimises it). */
static void aft_refit_recovers_shift_and_scale(void **state)
{
    const size_t n = 20000;
    float *mu = malloc(n * sizeof *mu);
    float *lo = malloc(n * sizeof *lo);
    float *hi = malloc(n * sizeof *hi);
    /* Windows across the times: e^1 to e^6 or so. */
    double w[] = {5, 20, 80, 300};
    double sigma, shift;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        double u1 = uniform(), u2 = uniform();
        double z = sqrt(-2.0 * log(fmax(u1, 1e-12))) * cos(2.0 * M_PI * u2);
        double t, c;
        mu[i] = (float)(1.0 + 4.0 * uniform());
        t = exp(mu[i] + 0.3 + 0.5 * z);
        /* Censoring independent of the failure time. */
        c = uniform() < 0.5 ? exp(1.0 + 5.0 * uniform()) : INFINITY;
        if (c < t) {
            lo[i] = (float)c;
            hi[i] = INFINITY;
        } else {
            lo[i] = hi[i] = (float)t;
        }
    }
    assert_int_equal(predict_aft_refit(mu, lo, hi, n, w, 4, &sigma, &shift), 0);
    assert_float_equal(shift, 0.3, 0.1);
    assert_float_equal(sigma, 0.5, 0.1);
    /* Nothing but survivors: no event to fit on. */
    for (size_t i = 0; i < n; i++) {
        hi[i] = INFINITY;
    }
    assert_int_equal(predict_aft_refit(mu, lo, hi, n, w, 4, &sigma, &shift),
                     AUGUR_EINVAL);
    free(mu);
    free(lo);
    free(hi);
}

static void auc_matches_hand_computed_values(void **state)
{
    /* Pairs (positive, negative): 0.35 > 0.1, 0.35 < 0.4, 0.8 > both:
     * 3 of 4. */
    float score[] = {0.1f, 0.4f, 0.35f, 0.8f};
    float label[] = {0, 0, 1, 1};
    float tied[] = {0.5f, 0.5f, 0.5f};
    float tied_label[] = {0, 1, 0};
    float one_class[] = {1, 1, 1};
    double auc;

    (void)state;
    assert_int_equal(predict_auc(score, label, 4, &auc), 0);
    assert_float_equal(auc, 0.75, 1e-12);
    /* Ties count half. */
    assert_int_equal(predict_auc(tied, tied_label, 3, &auc), 0);
    assert_float_equal(auc, 0.5, 1e-12);
    /* Undefined without both classes. */
    assert_int_equal(predict_auc(score, one_class, 3, &auc), 0);
    assert_true(isnan(auc));
}

/* A standard normal draw (Box-Muller). */
static double normal(void)
{
    double u = uniform(), v = uniform();

    return sqrt(-2.0 * log(u > 0.0 ? u : 1e-300)) * cos(2.0 * M_PI * v);
}

/* A population of @n units, a fraction @prior_true of them failing, whose
 * score x is N(+1, 1) when failing and N(-1, 1) otherwise; @p is the exact
 * posterior of failure under the training prior @prior_train (f1/f0 =
 * exp(2x)), @truth the exact posterior under @prior_true.  Returns the
 * fraction that failed. */
static double shifted_population(float *p,
                                 float *truth,
                                 size_t n,
                                 double prior_train,
                                 double prior_true)
{
    size_t pos = 0;

    for (size_t i = 0; i < n; i++) {
        bool fail = uniform() < prior_true;
        double x = normal() + (fail ? 1.0 : -1.0);
        double lr = exp(2.0 * x);
        pos += fail;
        p[i] =
            (float)(prior_train * lr / (prior_train * lr + 1.0 - prior_train));
        truth[i] =
            (float)(prior_true * lr / (prior_true * lr + 1.0 - prior_true));
    }
    return (double)pos / (double)n;
}

static void prior_adapt_recovers_a_known_shifted_prior(void **state)
{
    static const double cases[][2] = {
        {0.05, 0.25}, /* trained at 5%, the new population fails at 25% */
        {0.20, 0.01}, /* and the other way */
        {0.015, 0.148},
    };
    float *p = malloc(SAMPLES * sizeof *p);
    float *truth = malloc(SAMPLES * sizeof *truth);
    float *out = malloc(SAMPLES * sizeof *out);
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_non_null(p);
    assert_non_null(truth);
    assert_non_null(out);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct predict_prior_shift res;
        double rate =
            shifted_population(p, truth, SAMPLES, cases[c][0], cases[c][1]);
        double err = 0.0, mean = 0.0;
        assert_int_equal(
            predict_prior_adapt(p, SAMPLES, cases[c][0], out, &res, errmsg), 0);
        assert_true(res.converged);
        assert_true(res.iterations < PREDICT_PRIOR_ITERS);
        assert_int_equal(res.n, SAMPLES);
        assert_float_equal(res.prior_train, cases[c][0], 1e-12);
        /* The prior is recovered to the sampling error of 40,000 units. */
        assert_float_equal(res.prior_new, rate, 0.15 * rate);
        for (size_t i = 0; i < SAMPLES; i++) {
            err += fabs((double)out[i] - (double)truth[i]);
            mean += out[i];
        }
        /* The adapted p are the posteriors under the new prior, and their
         * mean is the estimated prior (EM's fixed point). */
        assert_true(err / SAMPLES < 0.01);
        assert_float_equal(mean / SAMPLES, res.prior_new, 1e-4);
        /* The order of the scores is kept. */
        for (size_t i = 1; i < SAMPLES; i++) {
            if (p[i] > p[i - 1]) {
                assert_true(out[i] >= out[i - 1]);
            }
        }
    }
    free(p);
    free(truth);
    free(out);
}

static void prior_adapt_is_the_identity_when_the_prior_holds(void **state)
{
    /* Mean 0.2, the training prior: already at the fixed point. */
    float p[] = {0.0f, 0.1f, 0.3f, 0.4f, 0.2f, 0.2f};
    float out[6];
    struct predict_prior_shift res;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(predict_prior_adapt(p, 6, 0.2, out, &res, errmsg), 0);
    assert_true(res.converged);
    assert_float_equal(res.prior_new, 0.2, 1e-6);
    for (size_t i = 0; i < 6; i++) {
        assert_float_equal(out[i], p[i], 1e-6);
    }
    /* Adapting in place works, and adapting twice changes nothing more. */
    assert_int_equal(predict_prior_adapt(p, 6, 0.2, p, &res, errmsg), 0);
    assert_int_equal(predict_prior_adapt(p, 6, 0.2, out, &res, errmsg), 0);
    for (size_t i = 0; i < 6; i++) {
        assert_float_equal(out[i], p[i], 1e-6);
    }
}

static void prior_adapt_refuses_bad_input(void **state)
{
    float p[] = {0.1f, NAN};
    float q[] = {0.1f, 1.5f};
    float out[2];
    struct predict_prior_shift res;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(predict_prior_adapt(p, 0, 0.2, out, &res, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(predict_prior_adapt(p, 1, 0.0, out, &res, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(predict_prior_adapt(p, 1, 1.0, out, &res, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(predict_prior_adapt(p, 2, 0.2, out, &res, errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(predict_prior_adapt(q, 2, 0.2, out, &res, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "prior shift"));
}

static void prior_adapt_groups_adapts_each_population_on_its_own(void **state)
{
    enum
    {
        N = 20000,
        SMALL = 5
    };
    float *p = malloc((2 * N + SMALL) * sizeof *p);
    float *truth = malloc((2 * N + SMALL) * sizeof *truth);
    float *out = malloc((2 * N + SMALL) * sizeof *out);
    float *scratch = malloc((2 * N + SMALL) * sizeof *scratch);
    uint32_t *group = malloc((2 * N + SMALL) * sizeof *group);
    struct predict_prior_shift res[3];
    char errmsg[PREDICT_ERRMSG_SIZE];
    double rate0, rate1;

    (void)state;
    assert_non_null(p);
    assert_non_null(truth);
    assert_non_null(out);
    assert_non_null(scratch);
    assert_non_null(group);
    /* Two large populations trained at 5%, failing at 1% and at 20%, rows
     * interleaved; a third of five units. */
    rate0 = shifted_population(p, truth, N, 0.05, 0.01);
    rate1 = shifted_population(p + N, truth + N, N, 0.05, 0.20);
    shifted_population(p + 2 * N, truth + 2 * N, SMALL, 0.05, 0.5);
    for (size_t i = 0; i < 2 * N; i++) {
        group[i] = i < N ? 0 : 1;
    }
    for (size_t i = 2 * N; i < 2 * N + SMALL; i++) {
        group[i] = 2;
    }
    assert_int_equal(
        predict_prior_adapt_groups(p, group, 2 * N + SMALL, 3, 0.05, 100, out,
                                   scratch, res, errmsg),
        0);
    assert_float_equal(res[0].prior_new, rate0, 0.2 * rate0);
    assert_float_equal(res[1].prior_new, rate1, 0.1 * rate1);
    assert_int_equal(res[0].n, N);
    assert_int_equal(res[1].n, N);
    /* Too few units: left as they were. */
    assert_true(isnan(res[2].prior_new));
    assert_int_equal(res[2].n, SMALL);
    for (size_t i = 2 * N; i < 2 * N + SMALL; i++) {
        assert_float_equal(out[i], p[i], 0.0);
    }
    for (size_t i = 0; i < 2 * N; i += 997) {
        assert_float_equal(out[i], truth[i], 0.05);
    }
    free(p);
    free(truth);
    free(out);
    free(scratch);
    free(group);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(isotonic_pools_adjacent_violators),
        cmocka_unit_test(isotonic_pools_equal_scores_first),
        cmocka_unit_test(isotonic_is_monotone_and_recovers_a_known_mapping),
        cmocka_unit_test(platt_is_monotone_and_recovers_a_known_mapping),
        cmocka_unit_test(calibration_refuses_bad_input),
        cmocka_unit_test(figures_match_hand_computed_values),
        cmocka_unit_test(aft_refit_recovers_shift_and_scale),
        cmocka_unit_test(auc_matches_hand_computed_values),
        cmocka_unit_test(prior_adapt_recovers_a_known_shifted_prior),
        cmocka_unit_test(prior_adapt_is_the_identity_when_the_prior_holds),
        cmocka_unit_test(prior_adapt_refuses_bad_input),
        cmocka_unit_test(prior_adapt_groups_adapts_each_population_on_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
