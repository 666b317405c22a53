/* Unit tests of predict/'s models: training on a synthetic set, scores and
 * their top contributing features, the model file's round trip and its
 * refusals. */
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

#define ROWS 400
#define NF 3

static char *dup(const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    return d;
}

/* Feature 0 decides: label = x0 > 0.5; feature 1 is noise; feature 2 is
 * often missing.  Remaining life 10 (1 - x0). */
static void synthetic(struct predict_dataset *ds)
{
    uint64_t s = 7;

    predict_dataset_init(ds);
    ds->format = PREDICT_FORMAT_CMAPSS;
    ds->window = 3;
    ds->n_features = NF;
    ds->feature_names = calloc(NF, sizeof(char *));
    ds->feature_names[0] = dup("signal");
    ds->feature_names[1] = dup("noise");
    ds->feature_names[2] = dup("sparse");
    ds->n_rows = ds->cap = ROWS;
    ds->x = malloc(ROWS * NF * sizeof(float));
    ds->label = malloc(ROWS * sizeof(float));
    ds->rul = malloc(ROWS * sizeof(float));
    ds->time = calloc(ROWS, sizeof(double));
    ds->group = malloc(ROWS * sizeof(uint32_t));
    ds->family = calloc(ROWS, sizeof(uint32_t));
    for (int r = 0; r < ROWS; r++) {
        float x0 = (float)(r % 100) / 100.0f;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ds->x[r * NF + 0] = x0;
        ds->x[r * NF + 1] = (float)(s >> 40) / (float)(1 << 24);
        ds->x[r * NF + 2] = r % 3 == 0 ? NAN : x0 * 0.0f;
        ds->label[r] = x0 > 0.5f ? 1.0f : 0.0f;
        ds->rul[r] = 10.0f * (1.0f - x0);
        ds->group[r] = (uint32_t)r;
    }
    ds->n_groups = ROWS;
    ds->group_names = calloc(ROWS, sizeof(char *));
    for (int r = 0; r < ROWS; r++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", r);
        ds->group_names[r] = dup(name);
    }
}

struct fx
{
    struct predict_dataset ds;
    struct predict_model m;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];

    synthetic(&f->ds);
    predict_model_init(&f->m);
    predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
    p.rounds = 30;
    p.nthread = 1;
    p.rul_cap = 8;
    p.eta = 0.3;
    if (predict_model_train(&f->m, &f->ds, NULL, 0, &p, errmsg) != 0) {
        fprintf(stderr, "train: %s\n", errmsg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    predict_model_close(&f->m);
    predict_dataset_close(&f->ds);
    free(f);
    return 0;
}

static void model_scores_with_reasons(void **state)
{
    struct fx *f = *state;
    float x[2 * NF] = {0.9f, 0.5f, NAN, 0.1f, 0.5f, NAN};
    struct predict_score sc[2];
    char errmsg[PREDICT_ERRMSG_SIZE];

    assert_int_equal(f->m.train_rows, ROWS);
    assert_int_equal(f->m.train_groups, ROWS);
    assert_int_equal(f->m.train_positives, 4 * 49);
    assert_int_equal(predict_model_score(&f->m, x, 2, 2, sc, errmsg), 0);
    assert_true(sc[0].p_fail > 0.9f);
    assert_true(sc[1].p_fail < 0.1f);
    assert_true(sc[0].confidence > 0.5f && sc[0].confidence <= 1.0f);
    /* Remaining life: capped at 8 in training; 1 and 9 -> about 1, 8. */
    assert_true(fabsf(sc[0].rul - 1.0f) < 1.0f);
    assert_true(fabsf(sc[1].rul - 8.0f) < 1.0f);
    /* The deciding feature is the first reason, pushing the right way. */
    assert_true(sc[0].n_top >= 1);
    assert_int_equal(sc[0].top_feature[0], 0);
    assert_true(sc[0].top_contribution[0] > 0);
    assert_int_equal(sc[1].top_feature[0], 0);
    assert_true(sc[1].top_contribution[0] < 0);
    assert_int_equal(
        predict_model_score(&f->m, x, 1, PREDICT_TOP_MAX + 1, sc, errmsg),
        AUGUR_EINVAL);
}

static void model_file_round_trip_keeps_everything(void **state)
{
    struct fx *f = *state;
    struct predict_model back;
    char errmsg[PREDICT_ERRMSG_SIZE];
    char *buf, *buf2;
    size_t len, len2;
    float x[NF] = {0.7f, 0.2f, 0.0f};
    struct predict_score a, b;

    assert_int_equal(predict_model_save(&f->m, &buf, &len, errmsg), 0);
    assert_memory_equal(buf, "AUGUR-MODEL 2\n", 14);
    assert_non_null(strstr(buf, "\ncalibration isotonic "));
    assert_non_null(strstr(buf, "\nfeature signal\n"));
    assert_non_null(strstr(buf, "\nwindow 3\n"));
    predict_model_init(&back);
    assert_int_equal(predict_model_load(&back, buf, len, errmsg), 0);
    assert_int_equal(back.format, PREDICT_FORMAT_CMAPSS);
    assert_true(back.window == 3.0);
    assert_true(back.rul_cap == 8.0);
    assert_int_equal(back.n_features, NF);
    assert_string_equal(back.feature_names[2], "sparse");
    assert_int_equal(back.train_rows, ROWS);
    assert_int_equal(back.train_positives, f->m.train_positives);
    assert_non_null(back.reg);
    assert_int_equal(predict_model_score(&f->m, x, 1, 3, &a, errmsg), 0);
    assert_int_equal(predict_model_score(&back, x, 1, 3, &b, errmsg), 0);
    assert_true(a.p_fail == b.p_fail);
    assert_true(a.p_raw == b.p_raw);
    assert_true(a.rul == b.rul);
    assert_int_equal(back.calib.kind, PREDICT_CALIB_ISOTONIC);
    assert_int_equal(back.calib.n, f->m.calib.n);
    assert_non_null(back.surv);
    assert_non_null(strstr(buf, "\nsurvival aft normal "));
    assert_true(back.aft_sigma == f->m.aft_sigma);
    assert_true(back.aft_shift == f->m.aft_shift);
    {
        double w[] = {1, 4};
        float pa[2], pb[2];
        assert_int_equal(
            predict_model_score_window(&f->m, x, 1, w, 2, pa, errmsg), 0);
        assert_int_equal(
            predict_model_score_window(&back, x, 1, w, 2, pb, errmsg), 0);
        assert_true(pa[0] == pb[0] && pa[1] == pb[1]);
    }
    assert_int_equal(a.top_feature[0], b.top_feature[0]);
    assert_int_equal(predict_model_check(&back, &f->ds, errmsg), 0);
    /* Saving the loaded model gives the same bytes. */
    assert_int_equal(predict_model_save(&back, &buf2, &len2, errmsg), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf2);
    predict_model_close(&back);
    free(buf);
}

static void model_is_calibrated_on_held_out_folds(void **state)
{
    struct fx *f = *state;
    float x[2 * NF] = {0.9f, 0.5f, NAN, 0.1f, 0.5f, NAN};
    struct predict_score sc[2];
    char errmsg[PREDICT_ERRMSG_SIZE];

    /* The default: isotonic, fitted on the inner folds' predictions. */
    assert_int_equal(f->m.calib.kind, PREDICT_CALIB_ISOTONIC);
    assert_true(f->m.calib.n >= 2);
    assert_int_equal(predict_model_score(&f->m, x, 2, 0, sc, errmsg), 0);
    for (int i = 0; i < 2; i++) {
        assert_true(sc[i].p_fail ==
                    (float)predict_calibration_apply(&f->m.calib, sc[i].p_raw));
    }
    /* Separable data: the calibrated map keeps the order and the sides. */
    assert_true(sc[0].p_fail > 0.9f && sc[1].p_fail < 0.1f);
}

/* @buf (a version 2 file) rewritten as version 1: no calibration lines. */
static size_t as_version_1(char *buf, size_t len)
{
    char *cal = strstr(buf, "\ncalibration ");
    char *end;
    unsigned long k = 0;

    assert_non_null(cal);
    cal++;
    end = strchr(cal, '\n') + 1;
    if (strncmp(cal, "calibration isotonic ", 21) == 0) {
        k = strtoul(cal + 21, NULL, 10);
    }
    for (unsigned long i = 0; i < k; i++) {
        end = strchr(end, '\n') + 1;
    }
    /* The survival line goes too, and the booster it announces. */
    if (strncmp(end, "survival ", 9) == 0) {
        end = strchr(end, '\n') + 1;
    }
    memmove(cal, end, len - (size_t)(end - buf));
    len -= (size_t)(end - cal);
    {
        char *surv = NULL;
        for (size_t i = 0; i + 14 <= len && surv == NULL; i++) {
            if (memcmp(buf + i, "\nbooster surv ", 14) == 0) {
                surv = buf + i;
            }
        }
        if (surv != NULL) {
            memcpy(surv + 1, "end\n", 4);
            len = (size_t)(surv + 5 - buf);
        }
    }
    buf[12] = '1';
    return len;
}

static void model_file_version_1_loads_uncalibrated(void **state)
{
    struct fx *f = *state;
    struct predict_model back;
    char errmsg[PREDICT_ERRMSG_SIZE];
    float x[NF] = {0.7f, 0.2f, 0.0f};
    struct predict_score a, b;
    char *buf;
    size_t len;

    assert_int_equal(predict_model_save(&f->m, &buf, &len, errmsg), 0);
    len = as_version_1(buf, len);
    assert_memory_equal(buf, "AUGUR-MODEL 1\n", 14);
    assert_null(strstr(buf, "calibration"));
    predict_model_init(&back);
    assert_int_equal(predict_model_load(&back, buf, len, errmsg), 0);
    assert_int_equal(back.calib.kind, PREDICT_CALIB_NONE);
    assert_int_equal(predict_model_score(&f->m, x, 1, 0, &a, errmsg), 0);
    assert_int_equal(predict_model_score(&back, x, 1, 0, &b, errmsg), 0);
    assert_true(b.p_fail == b.p_raw);
    assert_true(b.p_raw == a.p_raw);
    predict_model_close(&back);
    free(buf);
}

static void model_file_keeps_platt_calibration(void **state)
{
    struct fx *f = *state;
    struct predict_calibration saved = f->m.calib;
    struct predict_model back;
    char errmsg[PREDICT_ERRMSG_SIZE];
    float x[NF] = {0.7f, 0.2f, 0.0f};
    struct predict_score a, b;
    char *buf;
    size_t len;

    predict_calibration_init(&f->m.calib);
    f->m.calib.kind = PREDICT_CALIB_PLATT;
    f->m.calib.a = 0.75;
    f->m.calib.b = -0.125;
    assert_int_equal(predict_model_save(&f->m, &buf, &len, errmsg), 0);
    assert_non_null(strstr(buf, "\ncalibration platt 0.75 -0.125\n"));
    predict_model_init(&back);
    assert_int_equal(predict_model_load(&back, buf, len, errmsg), 0);
    assert_int_equal(back.calib.kind, PREDICT_CALIB_PLATT);
    assert_true(back.calib.a == 0.75 && back.calib.b == -0.125);
    assert_int_equal(predict_model_score(&f->m, x, 1, 0, &a, errmsg), 0);
    assert_int_equal(predict_model_score(&back, x, 1, 0, &b, errmsg), 0);
    assert_true(a.p_fail == b.p_fail);
    assert_true(a.p_fail != a.p_raw);
    predict_model_close(&back);
    free(buf);
    f->m.calib = saved;
}

static void model_load_refuses_damaged_calibration(void **state)
{
    struct fx *f = *state;
    struct predict_model back;
    char errmsg[PREDICT_ERRMSG_SIZE];
    char *buf, *knot;
    size_t len;

    assert_int_equal(predict_model_save(&f->m, &buf, &len, errmsg), 0);
    /* The first knot's y out of [0, 1]: "x y" becomes "x 9...". */
    knot = strchr(strstr(buf, "\ncalibration isotonic ") + 1, '\n') + 1;
    *(strchr(knot, ' ') + 1) = '9';
    predict_model_init(&back);
    assert_int_equal(predict_model_load(&back, buf, len, errmsg),
                     AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "calibration"));
    assert_null(back.clf);
    free(buf);
}

static void model_window_p_is_monotone_in_the_window(void **state)
{
    struct fx *f = *state;
    /* Remaining life about 1, 5 and 9 time units. */
    float x[3 * NF] = {0.9f, 0.5f, NAN, 0.5f, 0.2f, 0.0f, 0.1f, 0.8f, NAN};
    double w[] = {0.25, 0.5, 1, 2, 4, 8, 16, 64, 1000};
    size_t nw = sizeof w / sizeof w[0];
    float out[3 * 9];
    char errmsg[PREDICT_ERRMSG_SIZE];
    double bad = 0.0;

    assert_true(predict_model_has_survival(&f->m));
    assert_int_equal(
        predict_model_score_window(&f->m, x, 3, w, nw, out, errmsg), 0);
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < nw; k++) {
            assert_true(out[i * nw + k] >= 0.0f && out[i * nw + k] <= 1.0f);
            if (k > 0) {
                assert_true(out[i * nw + k] >= out[i * nw + k - 1]);
            }
        }
    }
    /* Shorter remaining life, likelier failure within 2 and within 8
     * units; a window far past every life is near certain. */
    assert_true(out[0 * nw + 3] > out[1 * nw + 3]);
    assert_true(out[1 * nw + 5] > out[2 * nw + 5]);
    assert_true(out[0 * nw + nw - 1] > 0.9f);
    /* At the model's own window (3) it is the classifier's p_fail. */
    {
        struct predict_score sc[3];
        double own = 3;
        float at[3];
        assert_int_equal(predict_model_score(&f->m, x, 3, 0, sc, errmsg), 0);
        assert_int_equal(
            predict_model_score_window(&f->m, x, 3, &own, 1, at, errmsg), 0);
        for (int i = 0; i < 3; i++) {
            assert_float_equal(at[i], sc[i].p_fail, 1e-6);
        }
    }
    /* A window must be positive. */
    assert_int_equal(
        predict_model_score_window(&f->m, x, 1, &bad, 1, out, errmsg),
        AUGUR_EINVAL);
}

static void model_without_survival_refuses_a_window(void **state)
{
    struct fx *f = *state;
    struct predict_model m;
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];
    float x[NF] = {0.7f, 0.2f, 0.0f}, out[1];
    double w = 3;
    char *buf;
    size_t len;

    predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
    p.rounds = 5;
    p.nthread = 1;
    p.survival = false;
    p.calibration = PREDICT_CALIB_NONE;
    predict_model_init(&m);
    assert_int_equal(predict_model_train(&m, &f->ds, NULL, 0, &p, errmsg), 0);
    assert_false(predict_model_has_survival(&m));
    assert_int_equal(predict_model_score_window(&m, x, 1, &w, 1, out, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "time-to-failure"));
    assert_int_equal(predict_model_save(&m, &buf, &len, errmsg), 0);
    assert_non_null(strstr(buf, "\nsurvival none\n"));
    assert_non_null(strstr(buf, "\ncalibration none\n"));
    free(buf);
    predict_model_close(&m);
}

static void model_load_refuses_damaged_files(void **state)
{
    struct fx *f = *state;
    struct predict_model back;
    char errmsg[PREDICT_ERRMSG_SIZE];
    char *buf;
    size_t len;

    assert_int_equal(predict_model_save(&f->m, &buf, &len, errmsg), 0);
    predict_model_init(&back);
    assert_int_equal(predict_model_load(&back, "hello\n", 6, errmsg),
                     AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "not an augur model file"));
    /* Every truncation is refused, none crashes. */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 8) {
        predict_model_init(&back);
        assert_int_not_equal(predict_model_load(&back, buf, cut, errmsg), 0);
        assert_null(back.clf);
    }
    buf[12] = '9'; /* "AUGUR-MODEL 9" */
    assert_int_equal(predict_model_load(&back, buf, len, errmsg),
                     AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "version"));
    free(buf);
}

static void model_check_refuses_other_features(void **state)
{
    struct fx *f = *state;
    char errmsg[PREDICT_ERRMSG_SIZE];
    char *saved = f->ds.feature_names[1];

    f->ds.feature_names[1] = "other";
    assert_int_equal(predict_model_check(&f->m, &f->ds, errmsg), AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "feature 1"));
    f->ds.feature_names[1] = saved;
    f->ds.format = PREDICT_FORMAT_PDM;
    assert_int_equal(predict_model_check(&f->m, &f->ds, errmsg), AUGUR_EINVAL);
    f->ds.format = PREDICT_FORMAT_CMAPSS;
}

static void model_train_refuses_one_class(void **state)
{
    struct fx *f = *state;
    struct predict_model m;
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];
    size_t rows[] = {0, 1, 2}; /* x0 < 0.5: all negative */

    predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
    p.rounds = 2;
    predict_model_init(&m);
    assert_int_equal(predict_model_train(&m, &f->ds, rows, 3, &p, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "one class"));
    predict_model_close(&m);
}

/* Train on every row of @ds with isotonic calibration folded by family
 * (@by_family) or by unit, into @m (initialised). */
static void train_calibrated(struct predict_model *m,
                             const struct predict_dataset *ds,
                             bool by_family)
{
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];

    predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
    p.rounds = 10;
    p.nthread = 1;
    p.regress_rul = false;
    p.survival = false;
    p.calib_by_family = by_family;
    if (predict_model_train(m, ds, NULL, 0, &p, errmsg) != 0) {
        fail_msg("train: %s", errmsg);
    }
}

static bool same_calibration(const struct predict_calibration *a,
                             const struct predict_calibration *b)
{
    if (a->kind != b->kind || a->n != b->n) {
        return false;
    }
    for (unsigned i = 0; i < a->n; i++) {
        if (a->x[i] != b->x[i] || a->y[i] != b->y[i]) {
            return false;
        }
    }
    return true;
}

static void model_calibration_folds_by_family_when_there_are_two(void **state)
{
    struct predict_dataset ds;
    struct predict_model by_unit, by_family;

    (void)state;
    synthetic(&ds);
    ds.n_families = 1;
    ds.family_names = calloc(2, sizeof(char *));
    ds.family_names[0] = dup("A");
    /* One family: nothing to fold by, the folds stay by unit. */
    predict_model_init(&by_unit);
    predict_model_init(&by_family);
    train_calibrated(&by_unit, &ds, false);
    train_calibrated(&by_family, &ds, true);
    assert_true(same_calibration(&by_unit.calib, &by_family.calib));
    predict_model_close(&by_family);
    /* Two families that fail at different levels of the signal: each
     * family's rows are scored by a classifier trained on the other one
     * only, so the map differs from the one fitted by unit. */
    ds.n_families = 2;
    ds.family_names[1] = dup("B");
    for (size_t r = 0; r < ROWS; r++) {
        if (r % 2 == 1) {
            ds.family[r] = 1;
            ds.label[r] = ds.x[r * NF] > 0.8f ? 1.0f : 0.0f;
        }
    }
    predict_model_close(&by_unit);
    predict_model_init(&by_unit);
    predict_model_init(&by_family);
    train_calibrated(&by_unit, &ds, false);
    train_calibrated(&by_family, &ds, true);
    assert_int_equal(by_family.calib.kind, PREDICT_CALIB_ISOTONIC);
    assert_false(same_calibration(&by_unit.calib, &by_family.calib));
    predict_model_close(&by_unit);
    predict_model_close(&by_family);
    predict_dataset_close(&ds);
}

static void model_train_skips_unknown_labels(void **state)
{
    struct fx *f = *state;
    struct predict_model m;
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];
    /* Rows 10, 20, 60 and 70: two of each class; 30 and 80 unknown. */
    size_t rows[] = {10, 20, 30, 60, 70, 80};
    float saved[2] = {f->ds.label[30], f->ds.label[80]};

    predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
    p.rounds = 2;
    p.nthread = 1;
    p.calibration = PREDICT_CALIB_NONE;
    p.survival = false;
    f->ds.label[30] = NAN;
    f->ds.label[80] = NAN;
    predict_model_init(&m);
    assert_int_equal(predict_model_train(&m, &f->ds, rows, 6, &p, errmsg), 0);
    assert_int_equal(m.train_rows, 4);
    assert_int_equal(m.train_positives, 2);
    predict_model_close(&m);
    /* Only unknown rows: nothing to train on. */
    predict_model_init(&m);
    assert_int_equal(predict_model_train(&m, &f->ds, rows + 2, 1, &p, errmsg),
                     AUGUR_EINVAL);
    predict_model_close(&m);
    f->ds.label[30] = saved[0];
    f->ds.label[80] = saved[1];
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_scores_with_reasons),
        cmocka_unit_test(model_file_round_trip_keeps_everything),
        cmocka_unit_test(model_is_calibrated_on_held_out_folds),
        cmocka_unit_test(model_window_p_is_monotone_in_the_window),
        cmocka_unit_test(model_without_survival_refuses_a_window),
        cmocka_unit_test(model_file_version_1_loads_uncalibrated),
        cmocka_unit_test(model_file_keeps_platt_calibration),
        cmocka_unit_test(model_load_refuses_damaged_calibration),
        cmocka_unit_test(model_load_refuses_damaged_files),
        cmocka_unit_test(model_check_refuses_other_features),
        cmocka_unit_test(model_train_refuses_one_class),
        cmocka_unit_test(model_train_skips_unknown_labels),
        cmocka_unit_test(model_calibration_folds_by_family_when_there_are_two),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
