/* The methods of `augur model eval`: folds by unit, C-MAPSS cut points,
 * Backblaze's rule and the recall at its FPR, the Azure PdM threshold
 * chosen without the held-out machines, and the figures of each. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

/* The seed of the inner split that chooses a PdM threshold is this far from
 * the folds' own seed (plus the fold). */
#define PDM_INNER_SEED_OFFSET 17
#define PDM_INNER_FOLDS 4

static int nomem(struct predict_eval *e)
{
    snprintf(e->errmsg, sizeof e->errmsg, "out of memory");
    return AUGUR_ENOMEM;
}

/* The spread of a double field at @offset of @n structs @stride bytes
 * apart: the mean, then the sample standard deviation around it. */
static struct predict_spread spread_at(const void *first,
                                       size_t stride,
                                       size_t offset,
                                       size_t n)
{
    struct predict_spread out;
    const unsigned char *p = first;
    double s = 0.0, ss = 0.0, v;

    for (size_t i = 0; i < n; i++) {
        memcpy(&v, p + i * stride + offset, sizeof v);
        s += v;
    }
    out.mean = n > 0 ? s / (double)n : NAN;
    for (size_t i = 0; i < n; i++) {
        memcpy(&v, p + i * stride + offset, sizeof v);
        ss += (v - out.mean) * (v - out.mean);
    }
    out.sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    return out;
}

#define SPREAD(folds, n, type, field) \
    spread_at((folds), sizeof(type), offsetof(type, field), (n))

struct predict_spread predict_spread_of(const double *v, size_t n)
{
    return spread_at(v, sizeof *v, 0, n);
}

int predict_eval_init(struct predict_eval *e,
                      const struct predict_dataset *ds,
                      unsigned folds,
                      uint64_t seed,
                      const struct predict_train_params *params)
{
    /* Room for the cut points of every row: a few per engine, and two
     * disjoint lists of rows when a PdM threshold is chosen. */
    size_t wide = ds->n_rows * PREDICT_EVAL_CMAPSS_CUTS + 1;

    memset(e, 0, sizeof *e);
    e->ds = ds;
    e->folds = folds;
    e->seed = seed;
    if (params != NULL) {
        e->params = *params;
    } else {
        predict_train_params_default(&e->params, ds->format);
    }
    if (folds < PREDICT_EVAL_FOLDS_MIN || folds > ds->n_groups) {
        snprintf(e->errmsg, sizeof e->errmsg,
                 "%u folds: need %d to %zu (the units)", folds,
                 PREDICT_EVAL_FOLDS_MIN, ds->n_groups);
        return AUGUR_EINVAL;
    }
    e->fold_of_group = malloc((ds->n_groups + 1) * sizeof *e->fold_of_group);
    e->train = malloc((ds->n_rows + 1) * sizeof *e->train);
    e->test = malloc((ds->n_rows + 1) * sizeof *e->test);
    e->sub = malloc(wide * sizeof *e->sub);
    e->sc = malloc((ds->n_rows + 1) * sizeof *e->sc);
    e->a = malloc(wide * sizeof *e->a);
    e->b = malloc(wide * sizeof *e->b);
    e->pool_raw = malloc((ds->n_rows + 1) * sizeof *e->pool_raw);
    e->pool_cal = malloc((ds->n_rows + 1) * sizeof *e->pool_cal);
    e->pool_y = malloc((ds->n_rows + 1) * sizeof *e->pool_y);
    e->pool_adapt = malloc((ds->n_rows + 1) * sizeof *e->pool_adapt);
    e->pool_known = malloc((ds->n_rows + 1) * sizeof *e->pool_known);
    e->pool_wp = malloc((ds->n_rows * PREDICT_EVAL_WINDOWS_MAX + 1) *
                        sizeof *e->pool_wp);
    e->pool_wy = malloc((ds->n_rows * PREDICT_EVAL_WINDOWS_MAX + 1) *
                        sizeof *e->pool_wy);
    e->group_end = malloc((ds->n_groups + 1) * sizeof *e->group_end);
    if (e->fold_of_group == NULL || e->train == NULL || e->test == NULL ||
        e->sub == NULL || e->sc == NULL || e->a == NULL || e->b == NULL ||
        e->pool_raw == NULL || e->pool_cal == NULL || e->pool_y == NULL ||
        e->pool_adapt == NULL || e->pool_known == NULL || e->pool_wp == NULL ||
        e->pool_wy == NULL || e->group_end == NULL) {
        return nomem(e);
    }
    for (size_t g = 0; g < ds->n_groups; g++) {
        e->group_end[g] = -INFINITY;
    }
    for (size_t r = 0; r < ds->n_rows; r++) {
        e->group_end[ds->group[r]] =
            fmax(e->group_end[ds->group[r]], ds->time[r]);
    }
    predict_folds_assign(ds->n_groups, folds, seed, e->fold_of_group);
    return 0;
}

void predict_eval_close(struct predict_eval *e)
{
    free(e->fold_of_group);
    free(e->train);
    free(e->test);
    free(e->sub);
    free(e->sc);
    free(e->a);
    free(e->b);
    free(e->pool_raw);
    free(e->pool_cal);
    free(e->pool_y);
    free(e->pool_adapt);
    free(e->pool_known);
    free(e->pool_wp);
    free(e->pool_wy);
    free(e->group_end);
    e->pool_raw = e->pool_cal = e->pool_y = e->pool_adapt = NULL;
    e->pool_known = NULL;
    e->pool_wp = e->pool_wy = NULL;
    e->group_end = NULL;
    e->n_pool = e->n_wpool = 0;
    e->fold_of_group = NULL;
    e->train = e->test = e->sub = NULL;
    e->sc = NULL;
    e->a = e->b = NULL;
}

size_t predict_eval_fold_rows(const struct predict_dataset *ds,
                              const unsigned *fold_of_group,
                              unsigned fold,
                              bool in,
                              size_t *rows)
{
    size_t n = 0;

    for (size_t r = 0; r < ds->n_rows; r++) {
        if ((fold_of_group[ds->group[r]] == fold) == in &&
            !isnan(ds->label[r])) {
            rows[n++] = r;
        }
    }
    return n;
}

/* Train a model on the rows @rows[0..@n) of e->ds into @m (initialised). */
static int train(struct predict_eval *e,
                 struct predict_model *m,
                 const size_t *rows,
                 size_t n)
{
    return predict_model_train(m, e->ds, rows, n, &e->params, e->errmsg);
}

/* Score the rows @rows[0..@n) of e->ds into @out, gathering them. */
static int score(struct predict_eval *e,
                 const struct predict_model *m,
                 const size_t *rows,
                 size_t n,
                 struct predict_score *out)
{
    const struct predict_dataset *ds = e->ds;
    size_t nf = ds->n_features;
    float *x = malloc((n * nf + 1) * sizeof *x);
    int rv;

    if (x == NULL) {
        return nomem(e);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * nf, ds->x + rows[i] * nf, nf * sizeof *x);
    }
    rv = predict_model_score(m, x, n, 0, out, e->errmsg);
    free(x);
    return rv;
}

void predict_eval_pool_reset(struct predict_eval *e)
{
    e->n_pool = 0;
    e->n_wpool = 0;
    e->window_violations = 0;
}

/* Pool p within each of e->windows for the test rows e->test[0..@nte)
 * from @m's time-to-failure model, with their outcomes. */
static int windows_pool(struct predict_eval *e,
                        const struct predict_model *m,
                        size_t nte)
{
    const struct predict_dataset *ds = e->ds;
    size_t nf = ds->n_features, nw = e->n_windows;
    float *x;
    int rv;

    if (nw == 0 || !predict_model_has_survival(m) ||
        e->n_wpool + nte > ds->n_rows) {
        return 0;
    }
    x = malloc((nte * nf + 1) * sizeof *x);
    if (x == NULL) {
        return nomem(e);
    }
    for (size_t i = 0; i < nte; i++) {
        memcpy(x + i * nf, ds->x + e->test[i] * nf, nf * sizeof *x);
    }
    rv = predict_model_score_window(m, x, nte, e->windows, nw,
                                    e->pool_wp + e->n_wpool * nw, e->errmsg);
    free(x);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < nte; i++) {
        size_t r = e->test[i];
        const float *wp = e->pool_wp + (e->n_wpool + i) * nw;
        float *wy = e->pool_wy + (e->n_wpool + i) * nw;
        double left = e->group_end[ds->group[r]] - ds->time[r];
        for (size_t k = 0; k < nw; k++) {
            if (isfinite(ds->rul[r])) {
                wy[k] = ds->rul[r] <= e->windows[k] ? 1.0f : 0.0f;
            } else {
                wy[k] = left >= e->windows[k] ? 0.0f : NAN;
            }
            if (k > 0 && e->windows[k] >= e->windows[k - 1] &&
                wp[k] < wp[k - 1]) {
                e->window_violations++;
            }
        }
    }
    e->n_wpool += nte;
    return 0;
}

void predict_eval_window_figures(struct predict_eval *e,
                                 size_t k,
                                 struct predict_calib_figures *out)
{
    size_t n = 0, nw = e->n_windows;

    for (size_t i = 0; i < e->n_wpool; i++) {
        float y = e->pool_wy[i * nw + k];
        if (!isnan(y)) {
            e->a[n] = e->pool_wp[i * nw + k];
            e->b[n++] = y;
        }
    }
    predict_calib_figures_of(e->a, e->b, n, out);
}

/* Train on e->train[0..@ntr), score e->test[0..@nte) into e->sc, and pool
 * the test rows' predictions for the calibration figures. */
static int train_and_score(struct predict_eval *e, size_t ntr, size_t nte)
{
    struct predict_model m;
    int rv;

    predict_model_init(&m);
    rv = train(e, &m, e->train, ntr);
    if (rv == 0) {
        rv = score(e, &m, e->test, nte, e->sc);
    }
    if (rv == 0) {
        rv = windows_pool(e, &m, nte);
    }
    predict_model_close(&m);
    if (rv == 0 && e->n_pool + nte <= e->ds->n_rows) {
        for (size_t i = 0; i < nte; i++) {
            e->pool_raw[e->n_pool] = e->sc[i].p_raw;
            e->pool_cal[e->n_pool] = e->sc[i].p_fail;
            e->pool_adapt[e->n_pool] = e->sc[i].p_fail;
            e->pool_known[e->n_pool] = e->sc[i].p_fail;
            e->pool_y[e->n_pool++] = e->ds->label[e->test[i]];
        }
    }
    return rv;
}

/* ---- C-MAPSS ------------------------------------------------------------ */

/* splitmix64, for the deterministic cut points. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t predict_eval_cmapss_cuts(const struct predict_dataset *ds,
                                const size_t *rows,
                                size_t n,
                                uint64_t seed,
                                size_t *cuts)
{
    size_t k = 0;

    for (size_t i = 0; i < n;) {
        size_t j = i, lo, hi;
        while (j < n && ds->group[rows[j]] == ds->group[rows[i]]) {
            j++;
        }
        /* rows[i..j) is one engine; its row at index i + c has cycle c + 1
         * and remaining life (j - i - 1 - c). */
        lo = i + PREDICT_EVAL_CMAPSS_MIN_SEEN - 1;
        hi = j - 1;
        if (j - i > PREDICT_EVAL_CMAPSS_CUT_RUL + 1 &&
            j - 1 - PREDICT_EVAL_CMAPSS_CUT_RUL > lo) {
            lo = j - 1 - PREDICT_EVAL_CMAPSS_CUT_RUL;
        }
        if (lo <= hi) {
            uint64_t s = seed ^ (ds->group[rows[i]] * 0x51ed27ull);
            for (int c = 0; c < PREDICT_EVAL_CMAPSS_CUTS; c++) {
                cuts[k++] = rows[lo + mix(&s) % (hi - lo + 1)];
            }
        }
        i = j;
    }
    return k;
}

int predict_eval_cmapss_fold(struct predict_eval *e,
                             unsigned fold,
                             struct predict_eval_cmapss *out)
{
    const struct predict_dataset *ds = e->ds;
    const double cap = PREDICT_EVAL_RUL_CAP;
    size_t ntr =
        predict_eval_fold_rows(ds, e->fold_of_group, fold, false, e->train);
    size_t nte =
        predict_eval_fold_rows(ds, e->fold_of_group, fold, true, e->test);
    size_t nc, k = 0;
    double mean_train = 0.0;
    int rv;

    rv = train_and_score(e, ntr, nte);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < ntr; i++) {
        mean_train += fmin(ds->rul[e->train[i]], cap);
    }
    mean_train /= (double)ntr;
    for (size_t i = 0; i < nte; i++) {
        e->a[i] = e->sc[i].rul;
        e->b[i] = (float)fmin(ds->rul[e->test[i]], cap);
    }
    out->rmse_all = predict_rmse(e->a, e->b, nte);
    /* The emulated test split: truncated records, each cut's score found
     * by its row (the test rows are sorted). */
    nc = predict_eval_cmapss_cuts(ds, e->test, nte, e->seed + fold, e->sub);
    for (size_t c = 0; c < nc; c++) {
        size_t lo = 0, hi = nte;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (e->test[mid] < e->sub[c]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        e->a[k] = e->sc[lo].rul;
        e->b[k] = (float)fmin(ds->rul[e->sub[c]], cap);
        k++;
    }
    out->rmse_cut = predict_rmse(e->a, e->b, k);
    out->phm08_cut_capped =
        k > 0 ? predict_phm08_score(e->a, e->b, k) * 100.0 / (double)k : NAN;
    out->phm08_cut_per_engine =
        out->phm08_cut_capped * PREDICT_EVAL_CMAPSS_CUTS;
    /* The test split's published PHM08 is against the true remaining life,
     * not capped: a record with 140 cycles left scored 125 is early. */
    {
        double band_sum[PREDICT_EVAL_CMAPSS_BANDS] = {0};
        size_t band_n[PREDICT_EVAL_CMAPSS_BANDS] = {0};
        double total = 0.0;
        for (size_t c = 0; c < k; c++) {
            float truth = ds->rul[e->sub[c]];
            double s = predict_phm08_score(&e->a[c], &truth, 1);
            size_t band = (size_t)(truth / PREDICT_EVAL_CMAPSS_BAND);
            if (band >= PREDICT_EVAL_CMAPSS_BANDS) {
                band = PREDICT_EVAL_CMAPSS_BANDS - 1;
            }
            band_sum[band] += s;
            band_n[band]++;
            total += s;
        }
        out->phm08_cut = k > 0 ? total * 100.0 / (double)k : NAN;
        for (size_t b = 0; b < PREDICT_EVAL_CMAPSS_BANDS; b++) {
            out->phm08_band[b] = k > 0 ? band_sum[b] * 100.0 / (double)k : NAN;
            out->share_band[b] = k > 0 ? (double)band_n[b] / (double)k : NAN;
        }
    }
    for (size_t i = 0; i < k; i++) {
        e->a[i] = (float)mean_train;
    }
    out->base_cut = predict_rmse(e->a, e->b, k);
    out->n_cuts = k;
    return 0;
}

void predict_eval_cmapss_summarize(const struct predict_eval_cmapss *folds,
                                   size_t n,
                                   struct predict_eval_cmapss_summary *out)
{
    out->n_cuts = 0;
    for (size_t i = 0; i < n; i++) {
        out->n_cuts += folds[i].n_cuts;
    }
    out->rmse_all = SPREAD(folds, n, struct predict_eval_cmapss, rmse_all);
    out->rmse_cut = SPREAD(folds, n, struct predict_eval_cmapss, rmse_cut);
    out->phm08_cut = SPREAD(folds, n, struct predict_eval_cmapss, phm08_cut);
    out->phm08_cut_capped =
        SPREAD(folds, n, struct predict_eval_cmapss, phm08_cut_capped);
    out->phm08_cut_per_engine =
        SPREAD(folds, n, struct predict_eval_cmapss, phm08_cut_per_engine);
    for (size_t b = 0; b < PREDICT_EVAL_CMAPSS_BANDS; b++) {
        out->phm08_band[b] =
            spread_at(folds, sizeof *folds,
                      offsetof(struct predict_eval_cmapss, phm08_band) +
                          b * sizeof(double),
                      n);
        out->share_band[b] =
            spread_at(folds, sizeof *folds,
                      offsetof(struct predict_eval_cmapss, share_band) +
                          b * sizeof(double),
                      n);
    }
    out->base_cut = SPREAD(folds, n, struct predict_eval_cmapss, base_cut);
}

/* ---- Backblaze ---------------------------------------------------------- */

static int column_find(const struct predict_dataset *ds, const char *name)
{
    for (unsigned i = 0; i < ds->n_features; i++) {
        if (strcmp(ds->feature_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int predict_eval_backblaze_rule(const struct predict_dataset *ds,
                                const size_t *rows,
                                size_t n,
                                float *flag,
                                char *errmsg)
{
    int col = column_find(ds, "backblaze_rule");

    if (col < 0) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "backblaze features missing");
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        float v = ds->x[rows[i] * ds->n_features + (unsigned)col];
        flag[i] = v > 0.5f ? 1.0f : 0.0f;
    }
    return 0;
}

int predict_eval_backblaze_compare(const float *p_fail,
                                   const float *rule,
                                   const float *label,
                                   size_t n,
                                   double fpr,
                                   struct predict_eval_backblaze *out)
{
    size_t fp = 0, neg = 0;
    double thr, precision, fpr_reached;
    int rv;

    out->drives = n;
    out->failed = 0;
    for (size_t i = 0; i < n; i++) {
        out->failed += label[i] > 0.5f;
    }
    out->weibull_recall = NAN;
    rv = predict_recall_at_fpr(p_fail, label, n, fpr, &out->recall, &thr,
                               &out->fpr);
    if (rv != 0) {
        return rv;
    }
    predict_precision_recall(rule, label, n, 0.5, &precision,
                             &out->rule_recall);
    for (size_t i = 0; i < n; i++) {
        neg += label[i] <= 0.5f;
        fp += label[i] <= 0.5f && rule[i] > 0.5f;
    }
    out->rule_fpr = neg > 0 ? (double)fp / (double)neg : 0.0;
    /* The model at the rule's own false-positive rate, for a like-for-like
     * comparison. */
    return predict_recall_at_fpr(p_fail, label, n, out->rule_fpr,
                                 &out->recall_at_rule_fpr, &thr, &fpr_reached);
}

/* The Weibull prior on age, fitted to the training drives e->train[0..ntr)
 * and scored on the test drives at @fpr: its recall, NaN when it cannot be
 * fitted.  Uses e->a for the test drives' probabilities. */
static int weibull_recall(struct predict_eval *e,
                          int age_col,
                          size_t ntr,
                          size_t nte,
                          const float *label,
                          double *recall)
{
    const struct predict_dataset *ds = e->ref != NULL ? e->ref : e->ds;
    struct predict_weibull w;
    char errmsg[PREDICT_ERRMSG_SIZE];
    double *t = malloc((ntr + 1) * sizeof *t);
    uint8_t *failed = malloc(ntr + 1);
    double thr, fpr;
    size_t k = 0;

    *recall = NAN;
    if (t == NULL || failed == NULL) {
        free(t);
        free(failed);
        return nomem(e);
    }
    for (size_t i = 0; i < ntr; i++) {
        float age = ds->x[e->train[i] * ds->n_features + (unsigned)age_col];
        if (isfinite(age) && age > 0) {
            t[k] = age;
            failed[k++] = ds->label[e->train[i]] > 0.5f;
        }
    }
    /* No failure or no age among the training drives: no prior, which is
     * a figure (NaN), not an error. */
    if (predict_weibull_fit(t, failed, k, &w, errmsg) == 0) {
        for (size_t i = 0; i < nte; i++) {
            float age = ds->x[e->test[i] * ds->n_features + (unsigned)age_col];
            e->a[i] = isfinite(age)
                          ? (float)predict_weibull_prob(&w, age, 1.0 / 365.25)
                          : 0.0f;
        }
        if (predict_recall_at_fpr(e->a, label, nte, PREDICT_EVAL_FPR, recall,
                                  &thr, &fpr) != 0) {
            *recall = NAN;
        }
    }
    free(t);
    free(failed);
    return 0;
}

/* The prior shift of one Backblaze round: each drive model among the test
 * drives e->test[0..@nte), scored in e->sc, adapted on its own to the base
 * rate EM finds in its scores (its labels are not read), into the pool
 * (pool_adapt, the last @nte entries, when the round was @pooled). */
static int backblaze_adapt(struct predict_eval *e,
                           size_t ntr,
                           size_t nte,
                           bool pooled,
                           struct predict_eval_backblaze *out)
{
    const struct predict_dataset *ds = e->ds;
    uint32_t *fam = malloc((nte + 1) * sizeof *fam);
    struct predict_prior_shift *res =
        malloc((ds->n_families + 1) * sizeof *res);
    float *p = e->a, *adapted = e->a + nte, *scratch = e->a + 2 * nte;
    size_t pos = 0, fail = 0;
    double sum = 0.0;
    int rv;

    if (fam == NULL || res == NULL) {
        free(fam);
        free(res);
        return nomem(e);
    }
    for (size_t i = 0; i < ntr; i++) {
        pos += ds->label[e->train[i]] > 0.5f;
    }
    for (size_t i = 0; i < nte; i++) {
        p[i] = e->sc[i].p_fail;
        fam[i] = ds->family[e->test[i]];
        fail += ds->label[e->test[i]] > 0.5f;
    }
    out->prior_train = ntr > 0 ? (double)pos / (double)ntr : NAN;
    out->rate = nte > 0 ? (double)fail / (double)nte : NAN;
    rv = predict_prior_adapt_groups(p, fam, nte, ds->n_families,
                                    out->prior_train, PREDICT_PRIOR_MIN_UNITS,
                                    adapted, scratch, res, e->errmsg);
    if (rv == 0) {
        out->em_prior_min = out->em_prior_max = NAN;
        for (size_t f = 0; f < ds->n_families; f++) {
            if (!isnan(res[f].prior_new)) {
                out->em_prior_min =
                    isnan(out->em_prior_min)
                        ? res[f].prior_new
                        : fmin(out->em_prior_min, res[f].prior_new);
                out->em_prior_max =
                    isnan(out->em_prior_max)
                        ? res[f].prior_new
                        : fmax(out->em_prior_max, res[f].prior_new);
            }
        }
        for (size_t i = 0; i < nte; i++) {
            sum += adapted[i];
        }
        out->prior_adapted = nte > 0 ? sum / (double)nte : NAN;
    }
    if (rv == 0 && pooled) {
        size_t from = e->n_pool - nte;
        memcpy(e->pool_adapt + from, adapted, nte * sizeof *adapted);
        /* The bound: each drive model's own failed fraction, known. */
        for (size_t f = 0; f < ds->n_families; f++) {
            size_t n_f = 0, fail_f = 0;
            double rate_f;
            for (size_t i = 0; i < nte; i++) {
                if (fam[i] == f) {
                    n_f++;
                    fail_f += ds->label[e->test[i]] > 0.5f;
                }
            }
            if (n_f == 0) {
                continue;
            }
            rate_f = (double)fail_f / (double)n_f;
            for (size_t i = 0; i < nte; i++) {
                if (fam[i] == f) {
                    e->pool_known[from + i] =
                        rate_f > 0.0 && rate_f < 1.0 &&
                                out->prior_train > 0.0 && out->prior_train < 1.0
                            ? (float)predict_prior_shift_apply(
                                  p[i], out->prior_train, rate_f)
                            : (float)rate_f;
                }
            }
        }
    }
    free(fam);
    free(res);
    return rv;
}

/* Train on e->train[0..ntr), test on e->test[0..nte). */
static int backblaze_round(struct predict_eval *e,
                           size_t ntr,
                           size_t nte,
                           struct predict_eval_backblaze *out)
{
    const struct predict_dataset *ds = e->ds;
    int age_col = column_find(ds, "age_years");
    size_t from = e->n_pool;
    int rv;

    if (column_find(ds, "backblaze_rule") < 0 || age_col < 0) {
        snprintf(e->errmsg, sizeof e->errmsg, "backblaze features missing");
        return AUGUR_EINVAL;
    }
    rv = train_and_score(e, ntr, nte);
    if (rv == 0) {
        rv = backblaze_adapt(e, ntr, nte, e->n_pool == from + nte, out);
    }
    if (rv != 0) {
        return rv;
    }
    /* The ranking figures from the classifier's raw p: calibration is
     * monotone, but its flat stretches would tie drives. */
    for (size_t i = 0; i < nte; i++) {
        e->a[i] = e->sc[i].p_raw;
        e->b[i] = ds->label[e->test[i]];
    }
    /* The rule's flags go after the scores in e->a (room for several
     * entries per row). */
    rv = predict_eval_backblaze_rule(e->ref != NULL ? e->ref : ds, e->test, nte,
                                     e->a + nte, e->errmsg);
    if (rv != 0) {
        return rv;
    }
    rv = predict_eval_backblaze_compare(e->a, e->a + nte, e->b, nte,
                                        PREDICT_EVAL_FPR, out);
    if (rv != 0) {
        return nomem(e);
    }
    return weibull_recall(e, age_col, ntr, nte, e->b, &out->weibull_recall);
}

int predict_eval_backblaze_fold(struct predict_eval *e,
                                unsigned fold,
                                struct predict_eval_backblaze *out)
{
    size_t ntr =
        predict_eval_fold_rows(e->ds, e->fold_of_group, fold, false, e->train);
    size_t nte =
        predict_eval_fold_rows(e->ds, e->fold_of_group, fold, true, e->test);

    return backblaze_round(e, ntr, nte, out);
}

int predict_eval_backblaze_holdout(struct predict_eval *e,
                                   uint32_t family,
                                   struct predict_eval_backblaze *out)
{
    const struct predict_dataset *ds = e->ds;
    size_t ntr = 0, nte = 0;

    bool by_family = e->params.calib_by_family;
    int rv;

    for (size_t r = 0; r < ds->n_rows; r++) {
        if (ds->family[r] == family) {
            e->test[nte++] = r;
        } else {
            e->train[ntr++] = r;
        }
    }
    /* The calibration's inner folds split the training drives as this
     * round splits them from the test drives: by model. */
    e->params.calib_by_family = true;
    rv = backblaze_round(e, ntr, nte, out);
    e->params.calib_by_family = by_family;
    return rv;
}

void predict_eval_backblaze_summarize(
    const struct predict_eval_backblaze *folds,
    size_t n,
    struct predict_eval_backblaze_summary *out)
{
    out->recall = SPREAD(folds, n, struct predict_eval_backblaze, recall);
    out->rule_recall =
        SPREAD(folds, n, struct predict_eval_backblaze, rule_recall);
}

/* ---- Azure PdM ---------------------------------------------------------- */

int predict_eval_pdm_threshold(struct predict_eval *e,
                               unsigned fold,
                               double *thr)
{
    const struct predict_dataset *ds = e->ds;
    unsigned *inner = malloc((ds->n_groups + 1) * sizeof *inner);
    size_t *fit = e->sub, *val = e->sub + ds->n_rows;
    size_t nfit = 0, nval = 0, pos = 0;
    struct predict_score *sc = NULL;
    struct predict_model m;
    double best = -1.0;
    int rv;

    if (inner == NULL) {
        return nomem(e);
    }
    predict_folds_assign(ds->n_groups, PDM_INNER_FOLDS,
                         e->seed + PDM_INNER_SEED_OFFSET + fold, inner);
    for (size_t r = 0; r < ds->n_rows; r++) {
        if (e->fold_of_group[ds->group[r]] == fold || isnan(ds->label[r])) {
            continue;
        }
        if (inner[ds->group[r]] == 0) {
            val[nval++] = r;
            pos += ds->label[r] > 0.5f;
        } else {
            fit[nfit++] = r;
        }
    }
    free(inner);
    if (pos == 0 || nfit == 0) {
        return 0;
    }
    sc = malloc(nval * sizeof *sc);
    if (sc == NULL) {
        return nomem(e);
    }
    predict_model_init(&m);
    {
        /* The threshold applies to the raw p: no calibration needed. */
        struct predict_train_params p = e->params;
        p.calibration = PREDICT_CALIB_NONE;
        p.survival = false;
        rv = predict_model_train(&m, ds, fit, nfit, &p, e->errmsg);
    }
    if (rv == 0) {
        rv = score(e, &m, val, nval, sc);
    }
    predict_model_close(&m);
    if (rv == 0) {
        for (size_t i = 0; i < nval; i++) {
            e->a[i] = sc[i].p_raw;
            e->b[i] = ds->label[val[i]];
        }
        for (int k = 1; k <= 19; k++) {
            double p, r, t = k * 0.05;
            predict_precision_recall(e->a, e->b, nval, t, &p, &r);
            if (fmin(p, r) >= best) {
                best = fmin(p, r);
                *thr = t;
            }
        }
    }
    free(sc);
    return rv;
}

int predict_eval_pdm_select(struct predict_eval *e,
                            unsigned fold,
                            struct predict_select_result *out)
{
    const struct predict_dataset *ds = e->ds;
    size_t *rows = calloc(ds->n_rows + 1, sizeof *rows);
    size_t n;
    int rv;

    if (rows == NULL) {
        return nomem(e);
    }
    n = predict_eval_fold_rows(ds, e->fold_of_group, fold, false, rows);
    rv = predict_select_run(ds, rows, n, &e->params, e->seed + fold, out,
                            e->errmsg);
    if (rv == 0) {
        predict_select_apply(&e->params, &out->choice);
    }
    free(rows);
    return rv;
}

const double predict_eval_pdm_levels[PREDICT_EVAL_PDM_LEVELS] = {0.5, 0.8};

static void events_miss(struct predict_eval_pdm_events *out,
                        uint32_t group,
                        double t,
                        float pmax)
{
    if (pmax < predict_eval_pdm_levels[PREDICT_EVAL_PDM_LEVELS - 1] &&
        out->n_missed < PREDICT_EVAL_PDM_MISSED_MAX) {
        struct predict_eval_pdm_missed *m = &out->missed[out->n_missed++];
        m->group = group;
        m->t = t;
        m->p_max = pmax;
    }
}

static void events_close(struct predict_eval_pdm_events *out,
                         bool is_failure,
                         float pmax)
{
    for (unsigned k = 0; k < PREDICT_EVAL_PDM_LEVELS; k++) {
        bool hit = pmax >= predict_eval_pdm_levels[k];
        if (is_failure) {
            out->announced[k] += hit;
        } else {
            out->alarm_days[k] += hit;
        }
    }
    if (is_failure) {
        out->failures++;
    } else {
        out->quiet_days++;
    }
}

void predict_eval_pdm_events_count(const struct predict_dataset *ds,
                                   const size_t *rows,
                                   size_t n,
                                   const float *p,
                                   struct predict_eval_pdm_events *out)
{
    /* The failure being watched: its machine, its time, the largest p. */
    bool in_fail = false;
    uint32_t fail_group = 0;
    double fail_t = 0.0;
    float fail_p = 0.0f;
    /* The day being watched. */
    bool in_day = false;
    uint32_t day_group = 0;
    double day = 0.0;
    bool day_labelled = false;
    float day_p = 0.0f;

    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        uint32_t g = ds->group[r];
        double d = floor(ds->time[r] / 24.0);
        float pi = isfinite(p[i]) ? p[i] : 0.0f;
        bool pos = ds->label[r] > 0.5f;

        if (in_day && (g != day_group || d != day)) {
            if (!day_labelled) {
                events_close(out, false, day_p);
            }
            in_day = false;
        }
        if (!in_day) {
            in_day = true;
            day_group = g;
            day = d;
            day_labelled = false;
            day_p = 0.0f;
        }
        day_labelled = day_labelled || pos;
        day_p = fmaxf(day_p, pi);
        if (pos && isfinite(ds->rul[r])) {
            double t = ds->time[r] + ds->rul[r];
            if (in_fail && (g != fail_group || fabs(t - fail_t) > 0.5)) {
                events_miss(out, fail_group, fail_t, fail_p);
                events_close(out, true, fail_p);
                in_fail = false;
            }
            if (!in_fail) {
                in_fail = true;
                fail_group = g;
                fail_t = t;
                fail_p = 0.0f;
            }
            fail_p = fmaxf(fail_p, pi);
        }
    }
    if (in_fail) {
        events_miss(out, fail_group, fail_t, fail_p);
        events_close(out, true, fail_p);
    }
    if (in_day && !day_labelled) {
        events_close(out, false, day_p);
    }
}

static void count(struct predict_eval_counts *c, bool flagged, bool positive)
{
    c->tp += flagged && positive;
    c->fp += flagged && !positive;
    c->fn += !flagged && positive;
}

int predict_eval_pdm_fold(struct predict_eval *e,
                          unsigned fold,
                          double threshold,
                          struct predict_eval_pdm *out)
{
    const struct predict_dataset *ds = e->ds;
    size_t ntr =
        predict_eval_fold_rows(ds, e->fold_of_group, fold, false, e->train);
    size_t nte =
        predict_eval_fold_rows(ds, e->fold_of_group, fold, true, e->test);
    unsigned err_cols[8], n_err = 0;
    int rv;

    /* The hours since the last error of each kind. */
    for (unsigned i = 0; i < ds->n_features && n_err < 8; i++) {
        if (strstr(ds->feature_names[i], "_since_h") != NULL &&
            strncmp(ds->feature_names[i], "error", 5) == 0) {
            err_cols[n_err++] = i;
        }
    }
    memset(out, 0, sizeof *out);
    out->hours = nte;
    out->threshold = threshold;
    rv = train_and_score(e, ntr, nte);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < nte; i++) {
        bool p = ds->label[e->test[i]] > 0.5f;
        e->a[i] = e->sc[i].p_raw;
        e->b[i] = ds->label[e->test[i]];
        out->positives += p;
        count(&out->at_fixed, e->sc[i].p_raw >= PREDICT_EVAL_PDM_THRESHOLD, p);
        count(&out->at_threshold, e->sc[i].p_raw >= threshold, p);
        count(&out->at_calibrated,
              e->sc[i].p_fail >= PREDICT_EVAL_PDM_THRESHOLD, p);
    }
    /* What the fleet sees: the calibrated p, as the model file stores it
     * and live scoring commits it. */
    for (size_t i = 0; i < nte; i++) {
        e->b[i] = e->sc[i].p_fail;
    }
    predict_eval_pdm_events_count(ds, e->test, nte, e->b, &out->events);
    for (size_t i = 0; i < nte; i++) {
        e->b[i] = ds->label[e->test[i]];
    }
    predict_precision_recall(e->a, e->b, nte, PREDICT_EVAL_PDM_THRESHOLD,
                             &out->precision, &out->recall);
    if (predict_auc(e->a, e->b, nte, &out->auc) != 0) {
        return nomem(e);
    }
    predict_precision_recall(e->a, e->b, nte, threshold,
                             &out->precision_at_threshold,
                             &out->recall_at_threshold);
    /* The baseline: flag a machine for a window after any error. */
    for (size_t i = 0; i < nte; i++) {
        const float *x = ds->x + e->test[i] * ds->n_features;
        e->a[i] = 0.0f;
        for (unsigned k = 0; k < n_err; k++) {
            if (isfinite(x[err_cols[k]]) && x[err_cols[k]] < ds->window) {
                e->a[i] = 1.0f;
            }
        }
    }
    predict_precision_recall(e->a, e->b, nte, 0.5, &out->base_precision,
                             &out->base_recall);
    /* The anomaly score, no training: the largest |robust z| of a
     * sensor's last value against its own baseline. */
    out->anomaly_auc = NAN;
    for (size_t i = 0; i < nte; i++) {
        const float *x = ds->x + e->test[i] * ds->n_features;
        float zmax = 0.0f;
        for (unsigned f = 0; f < ds->n_features; f++) {
            const char *name = ds->feature_names[f];
            size_t len = strlen(name);
            if (len > 7 && strcmp(name + len - 7, "_base_z") == 0 &&
                isfinite(x[f]) && fabsf(x[f]) > zmax) {
                zmax = fabsf(x[f]);
            }
        }
        e->a[i] = zmax;
    }
    if (predict_auc(e->a, e->b, nte, &out->anomaly_auc) != 0) {
        return nomem(e);
    }
    return 0;
}

static double ratio(size_t num, size_t den)
{
    return den > 0 ? (double)num / (double)den : 0.0;
}

void predict_eval_pdm_summarize(const struct predict_eval_pdm *folds,
                                size_t n,
                                struct predict_eval_pdm_summary *out)
{
    memset(out, 0, sizeof *out);
#define PDM_SPREAD(field) \
    out->field = SPREAD(folds, n, struct predict_eval_pdm, field)
    PDM_SPREAD(precision);
    PDM_SPREAD(recall);
    PDM_SPREAD(base_precision);
    PDM_SPREAD(base_recall);
    PDM_SPREAD(precision_at_threshold);
    PDM_SPREAD(recall_at_threshold);
    PDM_SPREAD(auc);
    PDM_SPREAD(anomaly_auc);
#undef PDM_SPREAD
    for (size_t i = 0; i < n; i++) {
        out->at_fixed.tp += folds[i].at_fixed.tp;
        out->at_fixed.fp += folds[i].at_fixed.fp;
        out->at_fixed.fn += folds[i].at_fixed.fn;
        out->at_threshold.tp += folds[i].at_threshold.tp;
        out->at_threshold.fp += folds[i].at_threshold.fp;
        out->at_threshold.fn += folds[i].at_threshold.fn;
        out->at_calibrated.tp += folds[i].at_calibrated.tp;
        out->at_calibrated.fp += folds[i].at_calibrated.fp;
        out->at_calibrated.fn += folds[i].at_calibrated.fn;
        out->events.failures += folds[i].events.failures;
        out->events.quiet_days += folds[i].events.quiet_days;
        for (unsigned k = 0; k < PREDICT_EVAL_PDM_LEVELS; k++) {
            out->events.announced[k] += folds[i].events.announced[k];
            out->events.alarm_days[k] += folds[i].events.alarm_days[k];
        }
    }
    out->pooled_precision =
        ratio(out->at_fixed.tp, out->at_fixed.tp + out->at_fixed.fp);
    out->pooled_recall =
        ratio(out->at_fixed.tp, out->at_fixed.tp + out->at_fixed.fn);
    out->pooled_precision_at_threshold = ratio(
        out->at_threshold.tp, out->at_threshold.tp + out->at_threshold.fp);
    out->pooled_recall_at_threshold = ratio(
        out->at_threshold.tp, out->at_threshold.tp + out->at_threshold.fn);
    out->pooled_precision_calibrated = ratio(
        out->at_calibrated.tp, out->at_calibrated.tp + out->at_calibrated.fp);
    out->pooled_recall_calibrated = ratio(
        out->at_calibrated.tp, out->at_calibrated.tp + out->at_calibrated.fn);
}
