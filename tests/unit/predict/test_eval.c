/* Unit tests of predict/'s evaluation methods (predict_eval_*) on small
 * hand-made datasets: folds by unit, C-MAPSS cut points, Backblaze's rule
 * and the recall at its FPR, the Azure PdM threshold chosen without the
 * held-out machines, and the figures across folds. */
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

#define FX AUGUR_FIXTURES "/"

static char *dup(const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    return d;
}

/* A dataset of @n_groups units, unit g with @len[g] rows (time 1, 2, ..;
 * remaining life len - time), @nf features named @names, all zero, labels
 * zero; one family. */
static void build(struct predict_dataset *ds,
                  enum predict_format format,
                  const char *const *names,
                  unsigned nf,
                  const size_t *len,
                  size_t n_groups)
{
    size_t n = 0, r = 0;

    for (size_t g = 0; g < n_groups; g++) {
        n += len[g];
    }
    predict_dataset_init(ds);
    ds->format = format;
    ds->window = predict_format_default_window(format);
    ds->n_features = nf;
    ds->feature_names = calloc(nf, sizeof(char *));
    assert_non_null(ds->feature_names);
    for (unsigned i = 0; i < nf; i++) {
        ds->feature_names[i] = dup(names[i]);
    }
    ds->n_rows = ds->cap = n;
    ds->x = calloc(n * nf + 1, sizeof(float));
    ds->label = calloc(n + 1, sizeof(float));
    ds->rul = calloc(n + 1, sizeof(float));
    ds->time = calloc(n + 1, sizeof(double));
    ds->group = calloc(n + 1, sizeof(uint32_t));
    ds->family = calloc(n + 1, sizeof(uint32_t));
    ds->group_names = calloc(n_groups, sizeof(char *));
    ds->family_names = calloc(1, sizeof(char *));
    assert_true(ds->x != NULL && ds->label != NULL && ds->rul != NULL &&
                ds->time != NULL && ds->group != NULL && ds->family != NULL &&
                ds->group_names != NULL && ds->family_names != NULL);
    ds->n_groups = n_groups;
    ds->n_families = 1;
    ds->family_names[0] = dup("F");
    for (size_t g = 0; g < n_groups; g++) {
        char name[32];
        snprintf(name, sizeof name, "u%zu", g + 1);
        ds->group_names[g] = dup(name);
        for (size_t c = 1; c <= len[g]; c++, r++) {
            ds->group[r] = (uint32_t)g;
            ds->time[r] = (double)c;
            ds->rul[r] = (float)(len[g] - c);
        }
    }
}

/* ---- folds --------------------------------------------------------------- */

static void folds_are_disjoint_cover_every_unit_and_repeat_for_a_seed(
    void **state)
{
    enum
    {
        GROUPS = 23,
        FOLDS = 5
    };
    static const char *const names[] = {"f"};
    size_t len[GROUPS];
    struct predict_dataset ds;
    struct predict_eval e, again, other;
    unsigned tested[GROUPS] = {0};
    unsigned units_in[FOLDS] = {0};
    size_t *in, *out;
    bool differs = false;

    (void)state;
    for (size_t g = 0; g < GROUPS; g++) {
        len[g] = 1 + g % 4;
    }
    build(&ds, PREDICT_FORMAT_CMAPSS, names, 1, len, GROUPS);
    in = malloc(ds.n_rows * sizeof *in);
    out = malloc(ds.n_rows * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    assert_int_equal(predict_eval_init(&e, &ds, FOLDS, 42, NULL), 0);
    for (unsigned f = 0; f < FOLDS; f++) {
        size_t nin = predict_eval_fold_rows(&ds, e.fold_of_group, f, true, in);
        size_t nout =
            predict_eval_fold_rows(&ds, e.fold_of_group, f, false, out);
        unsigned char *seen = calloc(ds.n_rows, 1);

        assert_non_null(seen);
        /* Test and training rows partition the rows, each in row order. */
        assert_int_equal(nin + nout, ds.n_rows);
        for (size_t i = 0; i < nin; i++) {
            assert_true(i == 0 || in[i - 1] < in[i]);
            seen[in[i]]++;
            assert_int_equal(e.fold_of_group[ds.group[in[i]]], f);
        }
        for (size_t i = 0; i < nout; i++) {
            assert_true(i == 0 || out[i - 1] < out[i]);
            seen[out[i]]++;
            assert_int_not_equal(e.fold_of_group[ds.group[out[i]]], f);
        }
        for (size_t r = 0; r < ds.n_rows; r++) {
            assert_int_equal(seen[r], 1);
        }
        free(seen);
        /* Whole units: every row of a tested unit is tested. */
        for (size_t g = 0; g < GROUPS; g++) {
            size_t rows_of_g = 0;
            for (size_t i = 0; i < nin; i++) {
                rows_of_g += ds.group[in[i]] == g;
            }
            assert_true(rows_of_g == 0 || rows_of_g == len[g]);
            if (rows_of_g > 0) {
                tested[g]++;
                units_in[f]++;
            }
        }
    }
    /* Every unit is tested in exactly one fold; folds are balanced. */
    for (size_t g = 0; g < GROUPS; g++) {
        assert_int_equal(tested[g], 1);
    }
    for (unsigned f = 0; f < FOLDS; f++) {
        assert_in_range(units_in[f], GROUPS / FOLDS, GROUPS / FOLDS + 1);
    }
    /* The same seed gives the same folds; another seed other folds. */
    assert_int_equal(predict_eval_init(&again, &ds, FOLDS, 42, NULL), 0);
    assert_int_equal(predict_eval_init(&other, &ds, FOLDS, 43, NULL), 0);
    assert_memory_equal(e.fold_of_group, again.fold_of_group,
                        GROUPS * sizeof *e.fold_of_group);
    for (size_t g = 0; g < GROUPS; g++) {
        differs |= e.fold_of_group[g] != other.fold_of_group[g];
    }
    assert_true(differs);
    predict_eval_close(&e);
    predict_eval_close(&again);
    predict_eval_close(&other);
    free(in);
    free(out);
    predict_dataset_close(&ds);
}

static void fold_rows_leave_out_unknown_labels(void **state)
{
    static const char *const names[] = {"f"};
    static const size_t len[] = {4, 4, 4};
    struct predict_dataset ds;
    struct predict_eval e;
    size_t rows[12], n_in = 0, n_out = 0;

    (void)state;
    build(&ds, PREDICT_FORMAT_PDM, names, 1, len, 3);
    ds.label[3] = NAN; /* the last hour of each unit: unknown */
    ds.label[7] = NAN;
    ds.label[11] = NAN;
    assert_int_equal(predict_eval_init(&e, &ds, 3, 42, NULL), 0);
    for (unsigned f = 0; f < 3; f++) {
        size_t n = predict_eval_fold_rows(&ds, e.fold_of_group, f, true, rows);
        for (size_t i = 0; i < n; i++) {
            assert_false(isnan(ds.label[rows[i]]));
        }
        n_in += n;
        n = predict_eval_fold_rows(&ds, e.fold_of_group, f, false, rows);
        for (size_t i = 0; i < n; i++) {
            assert_false(isnan(ds.label[rows[i]]));
        }
        n_out += n;
    }
    /* Each known row is tested once and trained on in the other folds. */
    assert_int_equal(n_in, 9);
    assert_int_equal(n_out, 18);
    predict_eval_close(&e);
    predict_dataset_close(&ds);
}

static void eval_init_refuses_too_few_or_too_many_folds(void **state)
{
    static const char *const names[] = {"f"};
    const size_t len[] = {2, 2, 2};
    struct predict_dataset ds;
    struct predict_eval e;

    (void)state;
    build(&ds, PREDICT_FORMAT_CMAPSS, names, 1, len, 3);
    assert_int_equal(predict_eval_init(&e, &ds, 1, 1, NULL), AUGUR_EINVAL);
    predict_eval_close(&e);
    assert_int_equal(predict_eval_init(&e, &ds, 4, 1, NULL), AUGUR_EINVAL);
    assert_non_null(strstr(e.errmsg, "4 folds"));
    predict_eval_close(&e);
    assert_int_equal(predict_eval_init(&e, &ds, 3, 1, NULL), 0);
    predict_eval_close(&e);
    predict_dataset_close(&ds);
}

/* ---- C-MAPSS cut points -------------------------------------------------- */

static void cmapss_phm08_is_per_record_and_splits_by_band(void **state)
{
    static const char *const names[] = {"wear"};
    const size_t len[] = {160, 180, 200, 220, 240, 170, 190, 210, 230};
    const size_t n_engines = sizeof len / sizeof len[0];
    struct predict_dataset ds;
    struct predict_train_params p;
    struct predict_eval e;
    struct predict_eval_cmapss out;
    size_t engines = 0;
    double bands = 0.0, shares = 0.0;

    (void)state;
    build(&ds, PREDICT_FORMAT_CMAPSS, names, 1, len, n_engines);
    for (size_t r = 0; r < ds.n_rows; r++) {
        ds.x[r] = (float)(ds.time[r] / (ds.time[r] + ds.rul[r]));
        ds.label[r] = ds.rul[r] <= 30.0f ? 1.0f : 0.0f;
    }
    predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
    p.rounds = 20;
    p.nthread = 1;
    p.calibration = PREDICT_CALIB_NONE;
    p.survival = false;
    assert_int_equal(predict_eval_init(&e, &ds, 3, 5, &p), 0);
    if (predict_eval_cmapss_fold(&e, 0, &out) != 0) {
        fail_msg("%s", e.errmsg);
    }
    for (size_t g = 0; g < n_engines; g++) {
        engines += e.fold_of_group[g] == 0;
    }
    assert_int_equal(out.n_cuts, engines * PREDICT_EVAL_CMAPSS_CUTS);
    /* Per 100 records: the figure printed before was per 100 engines of
     * PREDICT_EVAL_CMAPSS_CUTS records each. */
    assert_float_equal(out.phm08_cut_per_engine,
                       out.phm08_cut_capped * PREDICT_EVAL_CMAPSS_CUTS, 1e-9);
    assert_true(out.phm08_cut >= 0.0 && out.phm08_cut_capped >= 0.0);
    /* The bands split the uncapped score and the cuts. */
    for (size_t b = 0; b < PREDICT_EVAL_CMAPSS_BANDS; b++) {
        assert_true(out.phm08_band[b] >= 0.0);
        bands += out.phm08_band[b];
        shares += out.share_band[b];
    }
    assert_float_equal(bands, out.phm08_cut, 1e-6 * (1.0 + out.phm08_cut));
    assert_float_equal(shares, 1.0, 1e-12);
    predict_eval_close(&e);
    predict_dataset_close(&ds);
}

static void cmapss_cuts_lie_inside_each_engines_life(void **state)
{
    static const char *const names[] = {"f"};
    /* Too short; just long enough (one eligible cycle); short enough that
     * every cycle from the 31st has at most 150 to go; long enough that
     * the first 149 cycles are too far from the end. */
    const size_t len[] = {20, 31, 40, 151, 152, 300};
    const size_t n_engines = sizeof len / sizeof len[0];
    struct predict_dataset ds;
    size_t *rows, *cuts, *again, n, k;
    size_t per_engine[6] = {0};

    (void)state;
    build(&ds, PREDICT_FORMAT_CMAPSS, names, 1, len, n_engines);
    n = ds.n_rows;
    rows = malloc(n * sizeof *rows);
    cuts = malloc(n * PREDICT_EVAL_CMAPSS_CUTS * sizeof *cuts);
    again = malloc(n * PREDICT_EVAL_CMAPSS_CUTS * sizeof *again);
    assert_true(rows != NULL && cuts != NULL && again != NULL);
    for (size_t r = 0; r < n; r++) {
        rows[r] = r;
    }
    k = predict_eval_cmapss_cuts(&ds, rows, n, 7, cuts);
    assert_int_equal(k, (n_engines - 1) * PREDICT_EVAL_CMAPSS_CUTS);
    for (size_t c = 0; c < k; c++) {
        size_t r = cuts[c];
        assert_in_range(r, 0, n - 1);
        per_engine[ds.group[r]]++;
        assert_true(ds.time[r] >= PREDICT_EVAL_CMAPSS_MIN_SEEN);
        assert_true(ds.time[r] <= (double)len[ds.group[r]]);
        assert_true(ds.rul[r] >= 0.0f);
        assert_true(ds.rul[r] <= PREDICT_EVAL_CMAPSS_CUT_RUL);
        /* One engine's cuts come together, engines in row order. */
        assert_true(c == 0 || ds.group[cuts[c - 1]] <= ds.group[r]);
    }
    assert_int_equal(per_engine[0], 0);
    for (size_t g = 1; g < n_engines; g++) {
        assert_int_equal(per_engine[g], PREDICT_EVAL_CMAPSS_CUTS);
    }
    /* The 31-cycle engine can only be cut at its last cycle. */
    for (size_t c = 0; c < PREDICT_EVAL_CMAPSS_CUTS; c++) {
        assert_true(ds.time[cuts[c]] == 31.0);
    }
    /* Deterministic for a seed. */
    assert_int_equal(predict_eval_cmapss_cuts(&ds, rows, n, 7, again), k);
    assert_memory_equal(cuts, again, k * sizeof *cuts);
    /* Held-out rows only: the cuts fall among them (engines 3 and 6). */
    {
        size_t m = 0;
        for (size_t r = 0; r < n; r++) {
            if (ds.group[r] == 2 || ds.group[r] == 5) {
                rows[m++] = r;
            }
        }
        k = predict_eval_cmapss_cuts(&ds, rows, m, 9, cuts);
        assert_int_equal(k, 2 * PREDICT_EVAL_CMAPSS_CUTS);
        for (size_t c = 0; c < k; c++) {
            assert_true(ds.group[cuts[c]] == 2 || ds.group[cuts[c]] == 5);
            assert_true(ds.time[cuts[c]] >= PREDICT_EVAL_CMAPSS_MIN_SEEN);
            assert_true(ds.rul[cuts[c]] <= PREDICT_EVAL_CMAPSS_CUT_RUL);
        }
    }
    free(rows);
    free(cuts);
    free(again);
    predict_dataset_close(&ds);
}

/* ---- Backblaze ----------------------------------------------------------- */

static void backblaze_rule_flags_exactly_the_drives_with_a_critical_counter(
    void **state)
{
    /* bb_rule.csv: one drive per case; the rule is SMART 5, 187, 188,
     * 197 or 198 raw above zero (199 and 9 do not count, missing is not
     * above zero). */
    static const struct
    {
        const char *serial;
        float flag;
    } want[] = {
        {"ZERO", 0}, {"S5", 1},     {"S187", 1},    {"S188", 1},    {"S197", 1},
        {"S198", 1}, {"OTHERS", 0}, {"MISSING", 0}, {"PARTIAL", 1}, {"MANY", 1},
    };
    const size_t n_want = sizeof want / sizeof want[0];
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE];
    size_t rows[16];
    float flag[16];
    size_t n;

    (void)state;
    predict_dataset_init(&ds);
    if (predict_dataset_read(&ds, PREDICT_FORMAT_BACKBLAZE, FX "bb_rule.csv", 0,
                             errmsg) != 0) {
        fail_msg("%s", errmsg);
    }
    assert_int_equal(ds.n_rows, n_want);
    n = predict_dataset_last_rows(&ds, rows);
    assert_int_equal(n, n_want);
    assert_int_equal(predict_eval_backblaze_rule(&ds, rows, n, flag, errmsg),
                     0);
    for (size_t i = 0; i < n; i++) {
        const char *serial = ds.group_names[ds.group[rows[i]]];
        size_t w = 0;
        while (w < n_want && strcmp(want[w].serial, serial) != 0) {
            w++;
        }
        assert_true(w < n_want);
        if (flag[i] != want[w].flag) {
            fail_msg("%s: flagged %g, want %g", serial, (double)flag[i],
                     (double)want[w].flag);
        }
    }
    predict_dataset_close(&ds);
}

/* The leak check of `model eval --format backblaze`: the features that
 * mark the day of a drive's last row are all Backblaze features, masking
 * them leaves every other feature as it was, keeping only them masks the
 * rest (the rule included, which is why eval reads the rule from the
 * unmasked data), and an unknown name changes nothing. */
static void leak_check_masks_exactly_the_time_features(void **state)
{
    const char *const *tf = predict_backblaze_time_features;
    struct predict_dataset ds, masked;
    char errmsg[PREDICT_ERRMSG_SIZE];
    size_t n_tf = 0, nx;
    const char *unknown[] = {"age_years", "no_such_feature"};

    (void)state;
    predict_dataset_init(&ds);
    if (predict_dataset_read(&ds, PREDICT_FORMAT_BACKBLAZE, FX "bb_rule.csv", 0,
                             errmsg) != 0) {
        fail_msg("%s", errmsg);
    }
    while (tf[n_tf] != NULL) {
        n_tf++;
    }
    assert_true(n_tf >= 2);
    nx = ds.n_rows * ds.n_features;
    masked = ds;
    masked.x = malloc(nx * sizeof *masked.x);
    memcpy(masked.x, ds.x, nx * sizeof *masked.x);
    assert_int_equal(predict_dataset_mask(&masked, tf, n_tf, false, errmsg), 0);
    for (unsigned f = 0; f < ds.n_features; f++) {
        bool timeish = false;
        for (size_t k = 0; k < n_tf; k++) {
            timeish |= strcmp(ds.feature_names[f], tf[k]) == 0;
        }
        for (size_t r = 0; r < ds.n_rows; r++) {
            float a = ds.x[r * ds.n_features + f];
            float b = masked.x[r * ds.n_features + f];
            if (timeish) {
                assert_true(isnan(b));
            } else {
                assert_true((isnan(a) && isnan(b)) || a == b);
            }
        }
    }
    /* Only them: the rule's own column goes too. */
    memcpy(masked.x, ds.x, nx * sizeof *masked.x);
    assert_int_equal(predict_dataset_mask(&masked, tf, n_tf, true, errmsg), 0);
    {
        size_t rows[16];
        float flag[16];
        size_t n = predict_dataset_last_rows(&masked, rows);
        assert_int_equal(
            predict_eval_backblaze_rule(&masked, rows, n, flag, errmsg), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(flag[i] == 0.0f);
        }
        assert_true(isfinite(masked.x[rows[0] * ds.n_features + (unsigned)0]) ==
                    false);
    }
    /* An unknown name: refused, nothing changed. */
    memcpy(masked.x, ds.x, nx * sizeof *masked.x);
    assert_int_equal(predict_dataset_mask(&masked, unknown, 2, false, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "no_such_feature"));
    assert_memory_equal(masked.x, ds.x, nx * sizeof *masked.x);
    free(masked.x);
    predict_dataset_close(&ds);
}

static void backblaze_rule_refuses_data_without_the_rule(void **state)
{
    static const char *const names[] = {"age_years"};
    const size_t len[] = {1, 1};
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE];
    size_t rows[] = {0, 1};
    float flag[2];

    (void)state;
    build(&ds, PREDICT_FORMAT_BACKBLAZE, names, 1, len, 2);
    assert_int_equal(predict_eval_backblaze_rule(&ds, rows, 2, flag, errmsg),
                     AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "backblaze"));
    predict_dataset_close(&ds);
}

/* Worked by hand.  Four failed drives score 0.9, 0.55, 0.4, 0.2; eight
 * healthy ones 0.8, 0.6, 0.5, 0.3, 0.1, 0.1, 0.05, 0.  The rule flags
 * failed drives 1 and 3 and the first healthy one.
 *
 * At a 25% FPR budget two of the eight healthy drives may be flagged: the
 * threshold is the third-highest healthy score, 0.5, and scores strictly
 * above it are flagged: failed 0.9 and 0.55 (recall 2/4), healthy 0.8 and
 * 0.6 (FPR 2/8).  The rule: recall 2/4, FPR 1/8.  At the rule's FPR one
 * healthy drive may be flagged: threshold 0.6, only 0.9 of the failed is
 * above it (recall 1/4). */
static void backblaze_recall_at_the_rules_fpr_matches_a_hand_example(
    void **state)
{
    const float p_fail[] = {0.9f, 0.55f, 0.4f, 0.2f, 0.8f,  0.6f,
                            0.5f, 0.3f,  0.1f, 0.1f, 0.05f, 0.0f};
    const float rule[] = {1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    const float label[] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    struct predict_eval_backblaze r;

    (void)state;
    assert_int_equal(
        predict_eval_backblaze_compare(p_fail, rule, label, 12, 0.25, &r), 0);
    assert_int_equal(r.drives, 12);
    assert_int_equal(r.failed, 4);
    assert_true(r.recall == 0.5);
    assert_true(r.fpr == 0.25);
    assert_true(r.rule_recall == 0.5);
    assert_true(r.rule_fpr == 0.125);
    assert_true(r.recall_at_rule_fpr == 0.25);
    assert_true(isnan(r.weibull_recall));
    /* A budget below one healthy drive flags none of them. */
    assert_int_equal(
        predict_eval_backblaze_compare(p_fail, rule, label, 12, 0.1, &r), 0);
    assert_true(r.fpr == 0.0);
    assert_true(r.recall == 0.25); /* only 0.9 is above 0.8 */
}

/* ---- Azure PdM ----------------------------------------------------------- */

enum
{
    PDM_MACHINES = 12,
    PDM_HOURS = 60
};

/* Machines of PDM_HOURS hours: a signal that rises towards a failure in
 * the last 12 hours, with machine-dependent noise, and an error feature
 * (hours since the last error: one 30 hours before the end). */
static void pdm_build(struct predict_dataset *ds)
{
    static const char *const names[] = {"signal", "error1_since_h"};
    size_t len[PDM_MACHINES];
    uint64_t s = 11;

    for (size_t g = 0; g < PDM_MACHINES; g++) {
        len[g] = PDM_HOURS;
    }
    build(ds, PREDICT_FORMAT_PDM, names, 2, len, PDM_MACHINES);
    for (size_t r = 0; r < ds->n_rows; r++) {
        double h = ds->time[r];
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ds->x[r * 2] = (float)(h / PDM_HOURS) +
                       0.4f * ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
        ds->x[r * 2 + 1] = h >= 30 ? (float)(h - 30) : NAN;
        ds->label[r] = h > PDM_HOURS - 12 ? 1.0f : 0.0f;
    }
}

static void pdm_params(struct predict_train_params *p)
{
    predict_train_params_default(p, PREDICT_FORMAT_PDM);
    p->rounds = 20;
    p->nthread = 1;
}

static void pdm_threshold_ignores_the_held_out_machines(void **state)
{
    struct predict_dataset ds;
    struct predict_train_params p;
    struct predict_eval e;
    double thr = -1.0, thr_flipped = -1.0;
    size_t held_out = 0;

    (void)state;
    pdm_build(&ds);
    pdm_params(&p);
    assert_int_equal(predict_eval_init(&e, &ds, 3, 5, &p), 0);
    if (predict_eval_pdm_threshold(&e, 0, &thr) != 0) {
        fail_msg("%s", e.errmsg);
    }
    /* A threshold was chosen (the quarter has failures), on the grid. */
    assert_true(thr >= 0.05 - 1e-9 && thr <= 0.95 + 1e-9);
    assert_true(fabs(thr / 0.05 - round(thr / 0.05)) < 1e-9);
    /* Turn the held-out machines' labels (and features) upside down: the
     * threshold for their fold must not move. */
    for (size_t r = 0; r < ds.n_rows; r++) {
        if (e.fold_of_group[ds.group[r]] == 0) {
            ds.label[r] = 1.0f - ds.label[r];
            ds.x[r * 2] = -ds.x[r * 2];
            held_out++;
        }
    }
    assert_true(held_out > 0);
    if (predict_eval_pdm_threshold(&e, 0, &thr_flipped) != 0) {
        fail_msg("%s", e.errmsg);
    }
    assert_true(thr_flipped == thr);
    predict_eval_close(&e);
    predict_dataset_close(&ds);
}

static void pdm_folds_count_every_held_out_hour_once(void **state)
{
    struct predict_dataset ds;
    struct predict_train_params p;
    struct predict_eval e;
    struct predict_eval_pdm res[3];
    struct predict_eval_pdm_summary sum;
    size_t hours = 0, positives = 0;

    (void)state;
    pdm_build(&ds);
    pdm_params(&p);
    assert_int_equal(predict_eval_init(&e, &ds, 3, 5, &p), 0);
    for (unsigned f = 0; f < 3; f++) {
        const struct predict_eval_pdm *r = &res[f];
        if (predict_eval_pdm_fold(&e, f, 0.3, &res[f]) != 0) {
            fail_msg("%s", e.errmsg);
        }
        assert_int_equal(r->hours, PDM_HOURS * PDM_MACHINES / 3);
        assert_int_equal(r->positives, 12 * PDM_MACHINES / 3);
        assert_int_equal(r->at_fixed.tp + r->at_fixed.fn, r->positives);
        assert_int_equal(r->at_threshold.tp + r->at_threshold.fn, r->positives);
        assert_true(r->threshold == 0.3);
        /* A lower threshold flags at least as much. */
        assert_true(r->at_threshold.tp + r->at_threshold.fp >=
                    r->at_fixed.tp + r->at_fixed.fp);
        assert_true(r->recall == (double)r->at_fixed.tp / (double)r->positives);
        /* The baseline flags the 24 hours from the error (hours 30 to
         * 53); hours 49 to 60 fail: 5 of the 12 failing hours are
         * flagged, 5 of the 24 flagged hours fail. */
        assert_float_equal(r->base_recall, 5.0 / 12.0, 1e-12);
        assert_float_equal(r->base_precision, 5.0 / 24.0, 1e-12);
        hours += r->hours;
        positives += r->positives;
    }
    assert_int_equal(hours, ds.n_rows);
    predict_eval_pdm_summarize(res, 3, &sum);
    assert_int_equal(sum.at_fixed.tp + sum.at_fixed.fn, positives);
    assert_float_equal(sum.base_recall.mean, 5.0 / 12.0, 1e-12);
    assert_float_equal(sum.base_recall.sd, 0.0, 1e-12);
    assert_true(sum.pooled_recall ==
                (double)sum.at_fixed.tp / (double)positives);
    predict_eval_close(&e);
    predict_dataset_close(&ds);
}

/* Two machines of 72 hours (times 1 to 72: days 0 to 3).  Machine u1 fails
 * at hour 60 (hours 36 to 59 labelled), u2 at hour 30 (hours 6 to 29). */
static void pdm_events_count_failures_announced_and_quiet_days(void **state)
{
    static const char *const names[] = {"signal"};
    const size_t len[] = {72, 72};
    struct predict_dataset ds;
    struct predict_eval_pdm_events ev;
    size_t rows[144];
    float p[144];

    (void)state;
    build(&ds, PREDICT_FORMAT_PDM, names, 1, len, 2);
    for (size_t r = 0; r < ds.n_rows; r++) {
        double h = ds.time[r];
        double fail = ds.group[r] == 0 ? 60 : 30;
        bool in = h >= fail - 24 && h < fail;
        ds.label[r] = in ? 1.0f : 0.0f;
        ds.rul[r] = h < fail ? (float)(fail - h) : NAN;
        rows[r] = r;
        p[r] = 0.1f;
    }
    p[9] = 0.6f;        /* u1, hour 10: a quiet day, alarm at 0.5 only */
    p[49] = 0.9f;       /* u1, hour 50: its failure, announced at 0.8 */
    p[72 + 19] = 0.6f;  /* u2, hour 20: its failure, announced at 0.5 */
    p[72 + 59] = 0.85f; /* u2, hour 60: a quiet day, alarm at both */
    p[72 + 70] = NAN;   /* missing counts as no alarm */
    memset(&ev, 0, sizeof ev);
    predict_eval_pdm_events_count(&ds, rows, 144, p, &ev);
    assert_float_equal(predict_eval_pdm_levels[0], 0.5, 0);
    assert_float_equal(predict_eval_pdm_levels[1], 0.8, 0);
    assert_int_equal(ev.failures, 2);
    assert_int_equal(ev.announced[0], 2);
    assert_int_equal(ev.announced[1], 1);
    /* u1: days 0 and 3 are quiet (1 and 2 hold labelled hours); u2: days 2
     * and 3. */
    assert_int_equal(ev.quiet_days, 4);
    assert_int_equal(ev.alarm_days[0], 2);
    assert_int_equal(ev.alarm_days[1], 1);
    /* u2's failure is missed at 0.8: the one listed. */
    assert_int_equal(ev.n_missed, 1);
    assert_int_equal(ev.missed[0].group, 1);
    assert_float_equal(ev.missed[0].t, 30, 0);
    assert_float_equal(ev.missed[0].p_max, 0.6f, 0);
    /* Counts add up over calls; u2 alone adds its own. */
    predict_eval_pdm_events_count(&ds, rows + 72, 72, p + 72, &ev);
    assert_int_equal(ev.failures, 3);
    assert_int_equal(ev.announced[1], 1);
    assert_int_equal(ev.quiet_days, 6);
    assert_int_equal(ev.alarm_days[1], 2);
    /* Two failures of one machine a few hours apart are two failures. */
    memset(&ev, 0, sizeof ev);
    for (size_t r = 0; r < 72; r++) {
        double h = ds.time[r];
        double fail = h < 40 ? 40 : 44;
        ds.label[r] = h >= 16 && h < 44 ? 1.0f : 0.0f;
        ds.rul[r] = h < 44 ? (float)(fail - h) : NAN;
    }
    predict_eval_pdm_events_count(&ds, rows, 72, p, &ev);
    assert_int_equal(ev.failures, 2);
    predict_dataset_close(&ds);
}

/* ---- nested selection ---------------------------------------------------- */

static void select_grid_covers_each_point_once_cheapest_first(void **state)
{
    struct predict_select_choice c, d;

    (void)state;
    predict_select_grid(0, &c);
    assert_int_equal(c.rounds, 100);
    assert_int_equal(c.max_depth, 3);
    assert_float_equal(c.eta, 0.05, 1e-12);
    assert_int_equal(c.weight, PREDICT_WEIGHT_RATIO);
    for (size_t i = 0; i < PREDICT_SELECT_GRID; i++) {
        predict_select_grid(i, &c);
        assert_true(c.rounds == 100 || c.rounds == 200 || c.rounds == 400);
        assert_true(c.max_depth == 3 || c.max_depth == 4);
        assert_true(c.eta == 0.05 || c.eta == 0.1);
        for (size_t j = 0; j < i; j++) {
            predict_select_grid(j, &d);
            assert_false(c.rounds == d.rounds && c.max_depth == d.max_depth &&
                         c.eta == d.eta && c.weight == d.weight);
        }
        /* Rounds vary fastest: one boosting run's prefixes are adjacent. */
        if (i % 3 != 0) {
            predict_select_grid(i - 1, &d);
            assert_true(c.rounds > d.rounds);
            assert_true(c.max_depth == d.max_depth && c.eta == d.eta &&
                        c.weight == d.weight);
        }
    }
}

static void select_threshold_maximises_min_precision_recall(void **state)
{
    /* Flagging the top four (threshold in (0.22, 0.32]) gives precision
     * 3/4 and recall 1, the best min; 0.25 and 0.30 tie: the larger. */
    const float p[] = {0.12f, 0.22f, 0.32f, 0.62f, 0.72f, 0.92f};
    const float y[] = {0, 0, 1, 0, 1, 1};
    const float none[] = {0, 0, 0, 0, 0, 0};
    double score, thr;

    (void)state;
    thr = predict_select_threshold(p, y, 6, &score);
    assert_float_equal(thr, 0.30, 1e-9);
    assert_float_equal(score, 0.75, 1e-9);
    /* No positive: every min is 0, the largest threshold wins. */
    thr = predict_select_threshold(p, none, 6, &score);
    assert_float_equal(score, 0.0, 0);
    assert_float_equal(thr, 0.95, 1e-9);
}

static void select_apply_and_best_follow_their_rules(void **state)
{
    const double score[] = {0.5, 0.9, 0.7, 0.9};
    struct predict_train_params p;
    struct predict_select_choice c = {200, 4, 0.1, PREDICT_WEIGHT_SQRT};

    (void)state;
    /* The first of equal scores. */
    assert_int_equal(predict_select_best(score, 4), 1);
    predict_train_params_default(&p, PREDICT_FORMAT_PDM);
    predict_select_apply(&p, &c);
    assert_int_equal(p.rounds, 200);
    assert_int_equal(p.max_depth, 4);
    assert_float_equal(p.eta, 0.1, 1e-12);
    /* The weight is a rule each training applies to its own rows. */
    assert_float_equal(p.scale_pos_weight, 0.0, 0);
    assert_true(p.weight_sqrt);
    c.weight = PREDICT_WEIGHT_RATIO;
    predict_select_apply(&p, &c);
    assert_false(p.weight_sqrt);
}

static void select_reads_no_machine_of_the_outer_fold(void **state)
{
    struct predict_dataset ds;
    struct predict_train_params p;
    struct predict_eval e;
    struct predict_select_result a, b;
    struct predict_train_params kept;

    (void)state;
    pdm_build(&ds);
    pdm_params(&p);
    assert_int_equal(predict_eval_init(&e, &ds, 3, 5, &p), 0);
    kept = e.params;
    if (predict_eval_pdm_select(&e, 0, &a) != 0) {
        fail_msg("%s", e.errmsg);
    }
    /* The choice is a point of the grid, its threshold on the grid, and
     * the eval's parameters are set to it. */
    assert_true(a.best < PREDICT_SELECT_GRID);
    assert_int_equal(a.units, PDM_MACHINES - PDM_MACHINES / 3);
    assert_true(a.chosen_threshold >= 0.05 - 1e-9 &&
                a.chosen_threshold <= 0.95 + 1e-9);
    assert_true(a.chosen_score >= 0.0 && a.chosen_score <= 1.0);
    assert_int_equal(e.params.rounds, a.choice.rounds);
    assert_int_equal(e.params.max_depth, a.choice.max_depth);
    assert_float_equal(e.params.eta, a.choice.eta, 1e-12);
    assert_true(e.params.weight_sqrt ==
                (a.choice.weight == PREDICT_WEIGHT_SQRT));
    /* Turn the outer fold's machines upside down: nothing moves. */
    for (size_t r = 0; r < ds.n_rows; r++) {
        if (e.fold_of_group[ds.group[r]] == 0) {
            ds.label[r] = 1.0f - ds.label[r];
            ds.x[r * 2] = -ds.x[r * 2];
        }
    }
    e.params = kept;
    if (predict_eval_pdm_select(&e, 0, &b) != 0) {
        fail_msg("%s", e.errmsg);
    }
    assert_int_equal(b.best, a.best);
    assert_true(b.chosen_threshold == a.chosen_threshold);
    for (size_t i = 0; i < PREDICT_SELECT_GRID; i++) {
        assert_true(b.score[i] == a.score[i]);
    }
    predict_eval_close(&e);
    predict_dataset_close(&ds);
}

/* ---- figures ------------------------------------------------------------- */

static void spread_is_the_mean_and_sample_deviation(void **state)
{
    const double v[] = {1, 2, 3, 4};
    struct predict_spread s;
    struct predict_eval_backblaze folds[2];

    (void)state;
    s = predict_spread_of(v, 4);
    assert_float_equal(s.mean, 2.5, 1e-12);
    assert_float_equal(s.sd, sqrt(5.0 / 3.0), 1e-12);
    s = predict_spread_of(v, 1);
    assert_float_equal(s.mean, 1.0, 0);
    assert_float_equal(s.sd, 0.0, 0);
    s = predict_spread_of(v, 0);
    assert_true(isnan(s.mean));
    /* A summary takes the spread of each figure across the folds. */
    memset(folds, 0, sizeof folds);
    folds[0].recall = 0.2;
    folds[1].recall = 0.4;
    folds[0].rule_recall = 0.5;
    folds[1].rule_recall = 0.5;
    {
        struct predict_eval_backblaze_summary sum;
        predict_eval_backblaze_summarize(folds, 2, &sum);
        assert_float_equal(sum.recall.mean, 0.3, 1e-12);
        assert_float_equal(sum.recall.sd, sqrt(0.02), 1e-12);
        assert_float_equal(sum.rule_recall.mean, 0.5, 1e-12);
        assert_float_equal(sum.rule_recall.sd, 0.0, 1e-12);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            folds_are_disjoint_cover_every_unit_and_repeat_for_a_seed),
        cmocka_unit_test(eval_init_refuses_too_few_or_too_many_folds),
        cmocka_unit_test(fold_rows_leave_out_unknown_labels),
        cmocka_unit_test(cmapss_cuts_lie_inside_each_engines_life),
        cmocka_unit_test(cmapss_phm08_is_per_record_and_splits_by_band),
        cmocka_unit_test(
            backblaze_rule_flags_exactly_the_drives_with_a_critical_counter),
        cmocka_unit_test(backblaze_rule_refuses_data_without_the_rule),
        cmocka_unit_test(leak_check_masks_exactly_the_time_features),
        cmocka_unit_test(
            backblaze_recall_at_the_rules_fpr_matches_a_hand_example),
        cmocka_unit_test(pdm_threshold_ignores_the_held_out_machines),
        cmocka_unit_test(pdm_folds_count_every_held_out_hour_once),
        cmocka_unit_test(select_grid_covers_each_point_once_cheapest_first),
        cmocka_unit_test(select_threshold_maximises_min_precision_recall),
        cmocka_unit_test(select_apply_and_best_follow_their_rules),
        cmocka_unit_test(select_reads_no_machine_of_the_outer_fold),
        cmocka_unit_test(pdm_events_count_failures_announced_and_quiet_days),
        cmocka_unit_test(spread_is_the_mean_and_sample_deviation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
