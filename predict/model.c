/* Failure models: XGBoost gradient-boosted trees (a classifier of failure
 * within the window, a remaining-life regressor), their per-prediction
 * feature contributions, and the versioned, self-describing model file. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "predict/internal.h"

#define MODEL_MAGIC "AUGUR-MODEL"
#define MODEL_NAME_MAX 128
#define MODEL_FEATURES_MAX 4096

/* XGBoost's last error, at the module edge. */
static int xgb_fail(char *errmsg, const char *what)
{
    snprintf(errmsg, PREDICT_ERRMSG_SIZE, "%s: %s", what, XGBGetLastError());
    return AUGUR_EINTERNAL;
}

void predict_train_params_default(struct predict_train_params *p,
                                  enum predict_format format)
{
    memset(p, 0, sizeof *p);
    p->rounds = 300;
    p->max_depth = 4;
    p->eta = 0.05;
    p->subsample = 0.8;
    p->colsample = 0.8;
    p->min_child_weight = 1.0;
    p->scale_pos_weight = 0.0;
    p->nthread = 0;
    p->seed = 1;
    p->calibration = PREDICT_CALIB_ISOTONIC;
    p->aft_sigma = 1.0;
    p->aft_refit = true;
    switch (format) {
        case PREDICT_FORMAT_CMAPSS:
            p->regress_rul = true;
            p->rul_cap = 125.0;
            p->survival = true;
            p->max_depth = 4;
            p->min_child_weight = 5.0;
            break;
        case PREDICT_FORMAT_BACKBLAZE:
            p->rounds = 200;
            p->max_depth = 3;
            p->scale_pos_weight = 1.0;
            break;
        case PREDICT_FORMAT_PDM:
            /* Chosen by the 5-fold eval (no nested CV: see
             * docs/PREDICTOR.md); `augur model train|eval --format pdm`
             * replace rounds, depth, eta and the class weight by the
             * nested selection's (predict_select_run) unless told
             * --select none. */
            p->rounds = 200;
            p->max_depth = 3;
            p->eta = 0.1;
            p->regress_rul = false;
            p->survival = true;
            break;
        default:
            break;
    }
}

void predict_model_init(struct predict_model *m)
{
    memset(m, 0, sizeof *m);
}

void predict_model_close(struct predict_model *m)
{
    for (unsigned i = 0; m->feature_names != NULL && i < m->n_features; i++) {
        free(m->feature_names[i]);
    }
    free(m->feature_names);
    if (m->clf != NULL) {
        XGBoosterFree(m->clf);
    }
    if (m->reg != NULL) {
        XGBoosterFree(m->reg);
    }
    if (m->surv != NULL) {
        XGBoosterFree(m->surv);
    }
    predict_calibration_close(&m->calib);
    memset(m, 0, sizeof *m);
}

static int names_copy(struct predict_model *m, char *const *names, unsigned n)
{
    m->feature_names = calloc(n, sizeof *m->feature_names);
    if (m->feature_names == NULL) {
        return AUGUR_ENOMEM;
    }
    m->n_features = n;
    for (unsigned i = 0; i < n; i++) {
        m->feature_names[i] = strdup(names[i]);
        if (m->feature_names[i] == NULL) {
            return AUGUR_ENOMEM;
        }
    }
    return 0;
}

static int param(BoosterHandle b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int param(BoosterHandle b, const char *name, const char *fmt, ...)
{
    char value[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return XGBoosterSetParam(b, name, value);
}

/* Boost one model on @dm with @objective. */
static int boost(BoosterHandle *out,
                 DMatrixHandle dm,
                 const char *objective,
                 const struct predict_train_params *p,
                 double spw,
                 unsigned progress_base,
                 unsigned progress_total,
                 char *errmsg)
{
    BoosterHandle b;
    bool aft = strcmp(objective, "survival:aft") == 0;

    if (XGBoosterCreate(&dm, 1, &b) != 0) {
        return xgb_fail(errmsg, "XGBoosterCreate");
    }
    if (param(b, "objective", "%s", objective) != 0 ||
        param(b, "verbosity", "0") != 0 ||
        param(b, "tree_method", "hist") != 0 ||
        param(b, "eta", "%g", p->eta) != 0 ||
        param(b, "max_depth", "%u", p->max_depth) != 0 ||
        param(b, "subsample", "%g", p->subsample) != 0 ||
        param(b, "colsample_bytree", "%g", p->colsample) != 0 ||
        param(b, "min_child_weight", "%g", p->min_child_weight) != 0 ||
        param(b, "seed", "%d", p->seed) != 0 ||
        (p->nthread > 0 && param(b, "nthread", "%u", p->nthread) != 0) ||
        (spw > 0.0 && param(b, "scale_pos_weight", "%g", spw) != 0) ||
        (aft && param(b, "aft_loss_distribution", "normal") != 0) ||
        (aft &&
         param(b, "aft_loss_distribution_scale", "%g", p->aft_sigma) != 0)) {
        xgb_fail(errmsg, "XGBoosterSetParam");
        XGBoosterFree(b);
        return AUGUR_EINTERNAL;
    }
    for (unsigned i = 0; i < p->rounds; i++) {
        if (XGBoosterUpdateOneIter(b, (int)i, dm) != 0) {
            xgb_fail(errmsg, "XGBoosterUpdateOneIter");
            XGBoosterFree(b);
            return AUGUR_EINTERNAL;
        }
        if (p->progress != NULL) {
            p->progress(p->progress_arg, progress_base + i + 1, progress_total);
        }
    }
    *out = b;
    return 0;
}

static int predict_dense(BoosterHandle b,
                         const float *x,
                         size_t n,
                         unsigned nf,
                         const float **res,
                         char *errmsg);

/* The end time of each row's unit into @end (ds->n_rows): a unit's rows
 * are contiguous and in time order. */
static void unit_ends(const struct predict_dataset *ds, double *end)
{
    for (size_t r = ds->n_rows; r-- > 0;) {
        end[r] = r + 1 < ds->n_rows && ds->group[r + 1] == ds->group[r]
                     ? end[r + 1]
                     : ds->time[r];
    }
}

/* What row @r says of its time to failure: an event at *@lo == *@hi, or
 * survival past *@lo (*@hi infinite) when its unit's record ends first. */
static void surv_bounds(const struct predict_dataset *ds,
                        const double *end,
                        size_t r,
                        float *lo,
                        float *hi)
{
    double t = ds->rul[r];

    if (isfinite(t)) {
        *lo = *hi = (float)fmax(t, 0.5);
    } else {
        *lo = (float)fmax(end[r] - ds->time[r], 0.5);
        *hi = INFINITY;
    }
}

/* The time-to-failure model on the rows @rows[0..@n) (NULL: all): an
 * accelerated failure time model of log time with normal errors.  A row
 * with a known time to the next failure (ds->rul) is an event at that time
 * (at least half a time unit: the log needs it above 0); one without is
 * censored at the end of its unit's record.  @xs and @lo are scratch of
 * n * nf and n floats. */
static int survival_train(struct predict_model *m,
                          const struct predict_dataset *ds,
                          const size_t *rows,
                          size_t n,
                          const struct predict_train_params *p,
                          float *xs,
                          float *lo,
                          unsigned progress_base,
                          unsigned progress_total,
                          char *errmsg)
{
    size_t nf = ds->n_features;
    double *end = malloc((ds->n_rows + 1) * sizeof *end);
    float *hi = malloc((n + 1) * sizeof *hi);
    DMatrixHandle dm = NULL;
    int rv;

    if (end == NULL || hi == NULL) {
        free(end);
        free(hi);
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    unit_ends(ds, end);
    for (size_t i = 0; i < n; i++) {
        size_t r = rows != NULL ? rows[i] : i;
        memcpy(xs + i * nf, ds->x + r * nf, nf * sizeof *xs);
        surv_bounds(ds, end, r, &lo[i], &hi[i]);
    }
    free(end);
    if (XGDMatrixCreateFromMat(xs, n, nf, NAN, &dm) != 0 ||
        XGDMatrixSetFloatInfo(dm, "label_lower_bound", lo, n) != 0 ||
        XGDMatrixSetFloatInfo(dm, "label_upper_bound", hi, n) != 0) {
        rv = xgb_fail(errmsg, "XGDMatrixCreateFromMat(survival)");
    } else {
        rv = boost(&m->surv, dm, "survival:aft", p, 0.0, progress_base,
                   progress_total, errmsg);
        m->aft_sigma = p->aft_sigma;
        m->aft_shift = 0.0;
    }
    if (dm != NULL) {
        XGDMatrixFree(dm);
    }
    free(hi);
    return rv;
}

/* The progress of an inner training, shown as part of the whole. */
struct progress_offset
{
    const struct predict_train_params *outer;
    unsigned base;
    unsigned total;
};

static void progress_offset(void *arg, unsigned done, unsigned total)
{
    struct progress_offset *o = arg;

    (void)total;
    o->outer->progress(o->outer->progress_arg, o->base + done, o->total);
}

/* With at least two families among the rows @rows[0..@n) (NULL: every
 * row), refold @fold (by group) by family: the families in order of first
 * appearance go to folds 0, 1, .., PREDICT_CALIB_FOLDS - 1, 0, ..; with
 * one family, @fold is left as it was. */
static void family_folds(const struct predict_dataset *ds,
                         const size_t *rows,
                         size_t n,
                         unsigned *fold)
{
    unsigned *fam_fold = malloc((ds->n_families + 1) * sizeof *fam_fold);
    unsigned n_fam = 0;

    if (fam_fold == NULL) {
        return; /* folds by unit, as without the option */
    }
    for (size_t f = 0; f < ds->n_families; f++) {
        fam_fold[f] = UINT_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t f = ds->family[rows != NULL ? rows[i] : i];
        if (fam_fold[f] == UINT_MAX) {
            fam_fold[f] = n_fam++ % PREDICT_CALIB_FOLDS;
        }
    }
    if (n_fam >= 2) {
        for (size_t i = 0; i < n; i++) {
            size_t r = rows != NULL ? rows[i] : i;
            fold[ds->group[r]] = fam_fold[ds->family[r]];
        }
    }
    free(fam_fold);
}

/* Fit m->calib on out-of-fold predictions of the training rows
 * @rows[0..@n) (NULL: every row): PREDICT_CALIB_FOLDS folds by unit, each
 * scored by a classifier trained on the other folds with @p (no regressor,
 * no calibration of its own). */
static int calibrate(struct predict_model *m,
                     const struct predict_dataset *ds,
                     const size_t *rows,
                     size_t n,
                     const struct predict_train_params *p,
                     unsigned progress_base,
                     unsigned progress_total,
                     char *errmsg)
{
    size_t nf = ds->n_features, n_groups = 0;
    unsigned *fold;
    size_t *trn = malloc(n * sizeof *trn);
    size_t *tst = malloc(n * sizeof *tst);
    float *x = malloc(n * nf * sizeof *x);
    float *oof_p = malloc(n * sizeof *oof_p);
    float *oof_y = malloc(n * sizeof *oof_y);
    struct predict_score *sc = malloc(n * sizeof *sc);
    bool surv = m->surv != NULL && p->aft_refit;
    /* The windows the refit aims at: a quarter of the model's, its own,
     * three times and seven times it (PdM: 6 h, 24 h, 3 d, 7 d). */
    const double refit_w[PREDICT_AFT_REFIT_WINDOWS] = {
        m->window / 4, m->window, m->window * 3, m->window * 7};
    double *end = surv ? malloc((ds->n_rows + 1) * sizeof *end) : NULL;
    float *oof_mu = surv ? malloc(n * sizeof *oof_mu) : NULL;
    float *oof_lo = surv ? malloc(n * sizeof *oof_lo) : NULL;
    float *oof_hi = surv ? malloc(n * sizeof *oof_hi) : NULL;
    struct predict_train_params ip = *p;
    struct progress_offset po = {p, progress_base, progress_total};
    size_t n_oof = 0;
    int rv = 0;

    for (size_t i = 0; i < n; i++) {
        size_t g = ds->group[rows != NULL ? rows[i] : i];
        n_groups = g + 1 > n_groups ? g + 1 : n_groups;
    }
    fold = malloc((n_groups + 1) * sizeof *fold);
    if (fold == NULL || trn == NULL || tst == NULL || x == NULL ||
        oof_p == NULL || oof_y == NULL || sc == NULL ||
        (surv &&
         (end == NULL || oof_mu == NULL || oof_lo == NULL || oof_hi == NULL))) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
        goto out;
    }
    if (m->train_groups < PREDICT_CALIB_FOLDS) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "calibration needs at least %d units, the training rows "
                 "have %" PRIu64,
                 PREDICT_CALIB_FOLDS, m->train_groups);
        rv = AUGUR_EINVAL;
        goto out;
    }
    ip.calibration = PREDICT_CALIB_NONE;
    ip.regress_rul = false;
    ip.survival = surv;
    ip.aft_refit = false;
    if (surv) {
        unit_ends(ds, end);
    }
    ip.progress = p->progress != NULL ? progress_offset : NULL;
    ip.progress_arg = &po;
    predict_folds_assign(n_groups, PREDICT_CALIB_FOLDS,
                         (uint64_t)p->seed * 0x9e3779b97f4a7c15ull + 0xca1b,
                         fold);
    if (p->calib_by_family) {
        family_folds(ds, rows, n, fold);
    }
    for (unsigned k = 0; k < PREDICT_CALIB_FOLDS && rv == 0; k++) {
        struct predict_model sub;
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
            size_t r = rows != NULL ? rows[i] : i;
            if (fold[ds->group[r]] == k) {
                tst[nte++] = r;
            } else {
                trn[ntr++] = r;
            }
        }
        po.base = progress_base + k * p->rounds * (surv ? 2 : 1);
        if (nte == 0) {
            continue;
        }
        predict_model_init(&sub);
        rv = predict_model_train(&sub, ds, trn, ntr, &ip, errmsg);
        if (rv == 0) {
            for (size_t i = 0; i < nte; i++) {
                memcpy(x + i * nf, ds->x + tst[i] * nf, nf * sizeof *x);
            }
            rv = predict_model_score(&sub, x, nte, 0, sc, errmsg);
        }
        if (rv == 0 && surv && sub.surv != NULL) {
            const float *res;
            rv = predict_dense(sub.surv, x, nte, m->n_features, &res, errmsg);
            for (size_t i = 0; rv == 0 && i < nte; i++) {
                oof_mu[n_oof + i] = (float)log(fmax((double)res[i], 1e-30));
                surv_bounds(ds, end, tst[i], &oof_lo[n_oof + i],
                            &oof_hi[n_oof + i]);
            }
        }
        for (size_t i = 0; rv == 0 && i < nte; i++) {
            oof_p[n_oof] = sc[i].p_raw;
            oof_y[n_oof++] = ds->label[tst[i]];
        }
        predict_model_close(&sub);
    }
    if (rv == 0) {
        rv = predict_calibration_fit(&m->calib, p->calibration, oof_p, oof_y,
                                     n_oof, errmsg);
    }
    /* The time-to-failure model's scale and shift, refitted on the same
     * held-out predictions; with no event among them it keeps the
     * training scale. */
    if (rv == 0 && surv &&
        predict_aft_refit(oof_mu, oof_lo, oof_hi, n_oof, refit_w,
                          PREDICT_AFT_REFIT_WINDOWS, &m->aft_sigma,
                          &m->aft_shift) == AUGUR_ENOMEM) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
    }
    if (rv != 0 && rv != AUGUR_ENOMEM) {
        char inner[PREDICT_ERRMSG_SIZE];
        snprintf(inner, sizeof inner, "%s", errmsg);
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "calibration: %.200s", inner);
    }
out:
    free(end);
    free(oof_mu);
    free(oof_lo);
    free(oof_hi);
    free(fold);
    free(trn);
    free(tst);
    free(x);
    free(oof_p);
    free(oof_y);
    free(sc);
    return rv;
}

int predict_model_train(struct predict_model *m,
                        const struct predict_dataset *ds,
                        const size_t *rows,
                        size_t n,
                        const struct predict_train_params *p,
                        char *errmsg)
{
    size_t nf = ds->n_features;
    size_t pos = 0, n_reg = 0, groups = 0, unknown = 0;
    size_t *known = NULL;
    float *x = NULL, *y = NULL, *xr = NULL, *yr = NULL;
    DMatrixHandle dm = NULL, dr = NULL;
    unsigned total;
    bool surv, refit;
    double spw;
    int rv;

    if (rows == NULL) {
        n = ds->n_rows;
    }
    /* A row whose label is unknown (NaN) is not trained on, by any of the
     * parts: they all train on the same rows. */
    for (size_t i = 0; i < n; i++) {
        unknown += isnan(ds->label[rows != NULL ? rows[i] : i]);
    }
    if (unknown > 0) {
        size_t k = 0;
        known = malloc((n - unknown + 1) * sizeof *known);
        if (known == NULL) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
            return AUGUR_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            size_t r = rows != NULL ? rows[i] : i;
            if (!isnan(ds->label[r])) {
                known[k++] = r;
            }
        }
        rows = known;
        n = k;
    }
    if (n == 0 || nf == 0) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "no rows to train on");
        free(known);
        return AUGUR_EINVAL;
    }
    x = malloc(n * nf * sizeof *x);
    y = malloc(n * sizeof *y);
    xr = malloc(n * nf * sizeof *xr);
    yr = malloc(n * sizeof *yr);
    if (x == NULL || y == NULL || xr == NULL || yr == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = rows != NULL ? rows[i] : i;
        memcpy(x + i * nf, ds->x + r * nf, nf * sizeof *x);
        y[i] = ds->label[r];
        pos += y[i] > 0.5f;
        if (i == 0 ||
            ds->group[r] != ds->group[rows != NULL ? rows[i - 1] : i - 1]) {
            groups++;
        }
        if (p->regress_rul && isfinite(ds->rul[r])) {
            float t = ds->rul[r];
            if (p->rul_cap > 0 && t > p->rul_cap) {
                t = (float)p->rul_cap;
            }
            memcpy(xr + n_reg * nf, ds->x + r * nf, nf * sizeof *xr);
            yr[n_reg++] = t;
        }
    }
    if (pos == 0 || pos == n) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "the training rows hold one class only (%zu of %zu "
                 "positive)",
                 pos, n);
        rv = AUGUR_EINVAL;
        goto out;
    }
    rv = names_copy(m, ds->feature_names, ds->n_features);
    if (rv != 0) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        goto out;
    }
    m->format = ds->format;
    m->window = ds->window;
    m->rul_cap = p->regress_rul ? p->rul_cap : 0.0;
    m->train_rows = n;
    m->train_groups = groups;
    m->train_positives = pos;
    spw = p->scale_pos_weight > 0 ? p->scale_pos_weight
          : p->weight_sqrt        ? sqrt((double)(n - pos) / (double)pos)
                                  : (double)(n - pos) / (double)pos;
    surv = p->survival && ds->format != PREDICT_FORMAT_BACKBLAZE;
    refit = surv && p->aft_refit;
    total = p->rounds * ((n_reg > 0 ? 2u : 1u) + (surv ? 1u : 0u) +
                         (p->calibration != PREDICT_CALIB_NONE || refit
                              ? PREDICT_CALIB_FOLDS * (refit ? 2u : 1u)
                              : 0u));
    if (XGDMatrixCreateFromMat(x, n, nf, NAN, &dm) != 0 ||
        XGDMatrixSetFloatInfo(dm, "label", y, n) != 0) {
        rv = xgb_fail(errmsg, "XGDMatrixCreateFromMat");
        goto out;
    }
    rv = boost(&m->clf, dm, "binary:logistic", p, spw, 0, total, errmsg);
    if (rv != 0) {
        goto out;
    }
    if (n_reg > 0) {
        if (XGDMatrixCreateFromMat(xr, n_reg, nf, NAN, &dr) != 0 ||
            XGDMatrixSetFloatInfo(dr, "label", yr, n_reg) != 0) {
            rv = xgb_fail(errmsg, "XGDMatrixCreateFromMat");
            goto out;
        }
        rv = boost(&m->reg, dr, "reg:squarederror", p, 0.0, p->rounds, total,
                   errmsg);
        if (rv != 0) {
            goto out;
        }
    }
    if (surv) {
        rv = survival_train(m, ds, rows, n, p, x, y,
                            p->rounds * (n_reg > 0 ? 2 : 1), total, errmsg);
        if (rv != 0) {
            goto out;
        }
    }
    if (p->calibration != PREDICT_CALIB_NONE || refit) {
        rv =
            calibrate(m, ds, rows, n, p,
                      total - p->rounds * PREDICT_CALIB_FOLDS * (refit ? 2 : 1),
                      total, errmsg);
    }
out:
    if (dm != NULL) {
        XGDMatrixFree(dm);
    }
    if (dr != NULL) {
        XGDMatrixFree(dr);
    }
    free(x);
    free(y);
    free(xr);
    free(yr);
    free(known);
    return rv;
}

static double entropy_bits(double p)
{
    if (p <= 0.0 || p >= 1.0) {
        return 0.0;
    }
    return -(p * log2(p) + (1.0 - p) * log2(1.0 - p));
}

/* The @top largest |contributions| of one row (bias excluded). */
static void top_pick(const float *c,
                     unsigned nf,
                     unsigned top,
                     struct predict_score *s)
{
    s->n_top = 0;
    for (unsigned f = 0; f < nf; f++) {
        float a = fabsf(c[f]);
        unsigned k = s->n_top;
        if (a == 0.0f) {
            continue;
        }
        if (k == top && a <= fabsf(s->top_contribution[k - 1])) {
            continue;
        }
        if (k < top) {
            s->n_top++;
        } else {
            k = top - 1;
        }
        while (k > 0 && fabsf(s->top_contribution[k - 1]) < a) {
            s->top_feature[k] = s->top_feature[k - 1];
            s->top_contribution[k] = s->top_contribution[k - 1];
            k--;
        }
        s->top_feature[k] = f;
        s->top_contribution[k] = c[f];
    }
}

/* Inplace prediction on dense rows from the first @rounds trees (0: all):
 * no DMatrix to build, the fast path. */
static int predict_dense_rounds(BoosterHandle b,
                                const float *x,
                                size_t n,
                                unsigned nf,
                                unsigned rounds,
                                const float **res,
                                char *errmsg)
{
    char config[192];
    char values[160];
    const bst_ulong *shape;
    bst_ulong dim;

    snprintf(config, sizeof config,
             "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
             "\"iteration_end\": %u, \"strict_shape\": false, \"missing\": "
             "NaN, \"cache_id\": 0}",
             rounds);
    snprintf(values, sizeof values,
             "{\"data\": [%" PRIuPTR
             ", true], \"shape\": [%zu, %u], "
             "\"typestr\": \"<f4\", \"version\": 3}",
             (uintptr_t)x, n, nf);
    if (XGBoosterPredictFromDense(b, values, config, NULL, &shape, &dim, res) !=
        0) {
        return xgb_fail(errmsg, "XGBoosterPredictFromDense");
    }
    if (dim < 1 || shape[0] != n) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "XGBoosterPredictFromDense: unexpected shape");
        return AUGUR_EINTERNAL;
    }
    return 0;
}

static int predict_dense(BoosterHandle b,
                         const float *x,
                         size_t n,
                         unsigned nf,
                         const float **res,
                         char *errmsg)
{
    return predict_dense_rounds(b, x, n, nf, 0, res, errmsg);
}

int predict_model_score_raw(const struct predict_model *m,
                            const float *x,
                            size_t n,
                            unsigned rounds,
                            float *out,
                            char *errmsg)
{
    const float *res;
    int rv;

    if (m->clf == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "no model loaded");
        return AUGUR_EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    rv =
        predict_dense_rounds(m->clf, x, n, m->n_features, rounds, &res, errmsg);
    if (rv == 0) {
        memcpy(out, res, n * sizeof *out);
    }
    return rv;
}

int predict_model_score(const struct predict_model *m,
                        const float *x,
                        size_t n,
                        unsigned top,
                        struct predict_score *out,
                        char *errmsg)
{
    DMatrixHandle dm;
    bst_ulong len;
    const float *res;
    int rv = 0;

    if (m->clf == NULL || top > PREDICT_TOP_MAX) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 m->clf == NULL ? "no model loaded" : "at most %d top features",
                 PREDICT_TOP_MAX);
        return AUGUR_EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    rv = predict_dense(m->clf, x, n, m->n_features, &res, errmsg);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        double q = predict_calibration_apply(&m->calib, res[i]);
        out[i].p_raw = res[i];
        out[i].p_fail = (float)q;
        out[i].confidence = (float)(1.0 - entropy_bits(q));
        out[i].rul = NAN;
        out[i].n_top = 0;
    }
    if (m->reg != NULL) {
        rv = predict_dense(m->reg, x, n, m->n_features, &res, errmsg);
        if (rv != 0) {
            return rv;
        }
        for (size_t i = 0; i < n; i++) {
            out[i].rul = res[i] < 0.0f ? 0.0f : res[i];
        }
    }
    if (top == 0) {
        return 0;
    }
    /* Contributions (SHAP values) need a DMatrix. */
    if (XGDMatrixCreateFromMat(x, n, m->n_features, NAN, &dm) != 0) {
        return xgb_fail(errmsg, "XGDMatrixCreateFromMat");
    }
    {
        size_t stride = m->n_features + 1;
        if (XGBoosterPredict(m->clf, dm, 4, 0, 0, &len, &res) != 0 ||
            len != n * stride) {
            rv = xgb_fail(errmsg, "XGBoosterPredict(contributions)");
        } else {
            for (size_t i = 0; i < n; i++) {
                top_pick(res + i * stride, m->n_features, top, &out[i]);
            }
        }
    }
    XGDMatrixFree(dm);
    return rv;
}

bool predict_model_has_survival(const struct predict_model *m)
{
    return m->surv != NULL;
}

int predict_model_score_window(const struct predict_model *m,
                               const float *x,
                               size_t n,
                               const double *windows,
                               size_t n_windows,
                               float *out,
                               char *errmsg)
{
    struct predict_score *sc;
    const float *res;
    int rv;

    if (m->surv == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "the model has no time-to-failure part: it answers for its "
                 "window (%g) only",
                 m->window);
        return AUGUR_EINVAL;
    }
    for (size_t k = 0; k < n_windows; k++) {
        if (!(windows[k] > 0) || !isfinite(windows[k])) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "a window must be positive and finite");
            return AUGUR_EINVAL;
        }
    }
    if (n == 0) {
        return 0;
    }
    sc = malloc(n * sizeof *sc);
    if (sc == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    /* The classifier's calibrated p at its own window first: the
     * survival booster's output buffer lives until its next call. */
    rv = predict_model_score(m, x, n, 0, sc, errmsg);
    if (rv == 0) {
        rv = predict_dense(m->surv, x, n, m->n_features, &res, errmsg);
    }
    for (size_t i = 0; rv == 0 && i < n; i++) {
        /* The booster gives exp(mu), the median time to failure. */
        double mu = log(fmax((double)res[i], 1e-30)) + m->aft_shift;
        double z0 = (log(m->window) - mu) / m->aft_sigma;
        double pc = sc[i].p_fail;
        for (size_t k = 0; k < n_windows; k++) {
            double z = (log(windows[k]) - mu) / m->aft_sigma, q;
            if (windows[k] <= m->window) {
                /* Within the classifier's window: its p, spread over
                 * the window as the AFT model spreads its own. */
                q = pc * exp(predict__log_normal_sf(-z) -
                             predict__log_normal_sf(-z0));
            } else {
                /* Beyond it: the classifier's p, then the AFT model's
                 * chance of failing later given no failure by then. */
                q = pc + (1.0 - pc) * (1.0 - exp(predict__log_normal_sf(z) -
                                                 predict__log_normal_sf(z0)));
            }
            out[i * n_windows + k] = (float)fmin(fmax(q, 0.0), 1.0);
        }
    }
    free(sc);
    return rv;
}

int predict_model_check(const struct predict_model *m,
                        const struct predict_dataset *ds,
                        char *errmsg)
{
    if (m->format != ds->format) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "the model is for format %s, the data is %s",
                 predict_format_name(m->format),
                 predict_format_name(ds->format));
        return AUGUR_EINVAL;
    }
    if (m->n_features != ds->n_features) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "the model has %u features, the data %u", m->n_features,
                 ds->n_features);
        return AUGUR_EINVAL;
    }
    for (unsigned i = 0; i < m->n_features; i++) {
        if (strcmp(m->feature_names[i], ds->feature_names[i]) != 0) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "feature %u is %s in the model, %s in the data", i,
                     m->feature_names[i], ds->feature_names[i]);
            return AUGUR_EINVAL;
        }
    }
    return 0;
}

/* ---- the model file -----------------------------------------------------
 *
 *   AUGUR-MODEL 2
 *   augur 0.1.0
 *   format cmapss
 *   window 30
 *   rul_cap 125
 *   train_rows 20631
 *   train_groups 100
 *   train_positives 3100
 *   features 183
 *   feature cycle
 *   ... (one line per feature)
 *   calibration isotonic 3      (or "none", or "platt A B")
 *   0.0123 0                    (isotonic: one "x y" line per knot)
 *   0.31 0.2
 *   0.93 0.875
 *   survival aft normal 0.8 -0.1  (sigma, shift; or "survival none")
 *   booster clf 123456
 *   <123456 bytes of XGBoost UBJSON>
 *   booster reg 123456
 *   <bytes>
 *   booster surv 123456         (with "survival aft")
 *   <bytes>
 *   end
 *
 * Text lines where a person can read them, the boosters in XGBoost's own
 * versioned format.  Version 1 had no calibration line; it still loads,
 * uncalibrated. */

struct sbuf
{
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

static void sbuf_append(struct sbuf *b, const void *p, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *q = realloc(b->data, cap);
        if (q == NULL) {
            b->failed = true;
            return;
        }
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        b->failed = true;
        return;
    }
    sbuf_append(b, line, (size_t)n);
}

static int booster_put(struct sbuf *b,
                       const char *name,
                       BoosterHandle h,
                       char *errmsg)
{
    bst_ulong len;
    const char *raw;

    if (XGBoosterSaveModelToBuffer(h, "{\"format\": \"ubj\"}", &len, &raw) !=
        0) {
        return xgb_fail(errmsg, "XGBoosterSaveModelToBuffer");
    }
    sbuf_printf(b, "booster %s %" PRIu64 "\n", name, (uint64_t)len);
    sbuf_append(b, raw, len);
    sbuf_printf(b, "\n");
    return 0;
}

int predict_model_save(const struct predict_model *m,
                       char **buf,
                       size_t *len,
                       char *errmsg)
{
    struct sbuf b = {0};
    int rv;

    if (m->clf == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "no model to save");
        return AUGUR_EINVAL;
    }
    sbuf_printf(&b, "%s %d\n", MODEL_MAGIC, PREDICT_MODEL_VERSION);
    sbuf_printf(&b, "augur %s\n", AUGUR_VERSION);
    sbuf_printf(&b, "format %s\n", predict_format_name(m->format));
    sbuf_printf(&b, "window %.17g\n", m->window);
    sbuf_printf(&b, "rul_cap %.17g\n", m->rul_cap);
    sbuf_printf(&b, "train_rows %" PRIu64 "\n", m->train_rows);
    sbuf_printf(&b, "train_groups %" PRIu64 "\n", m->train_groups);
    sbuf_printf(&b, "train_positives %" PRIu64 "\n", m->train_positives);
    sbuf_printf(&b, "features %u\n", m->n_features);
    for (unsigned i = 0; i < m->n_features; i++) {
        sbuf_printf(&b, "feature %s\n", m->feature_names[i]);
    }
    switch (m->calib.kind) {
        case PREDICT_CALIB_PLATT:
            sbuf_printf(&b, "calibration platt %.17g %.17g\n", m->calib.a,
                        m->calib.b);
            break;
        case PREDICT_CALIB_ISOTONIC:
            sbuf_printf(&b, "calibration isotonic %u\n", m->calib.n);
            for (unsigned i = 0; i < m->calib.n; i++) {
                sbuf_printf(&b, "%.17g %.17g\n", m->calib.x[i], m->calib.y[i]);
            }
            break;
        default:
            sbuf_printf(&b, "calibration none\n");
            break;
    }
    if (m->surv != NULL) {
        sbuf_printf(&b, "survival aft normal %.17g %.17g\n", m->aft_sigma,
                    m->aft_shift);
    } else {
        sbuf_printf(&b, "survival none\n");
    }
    rv = booster_put(&b, "clf", m->clf, errmsg);
    if (rv == 0 && m->reg != NULL) {
        rv = booster_put(&b, "reg", m->reg, errmsg);
    }
    if (rv == 0 && m->surv != NULL) {
        rv = booster_put(&b, "surv", m->surv, errmsg);
    }
    sbuf_printf(&b, "end\n");
    if (rv == 0 && b.failed) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
    }
    if (rv != 0) {
        free(b.data);
        return rv;
    }
    *buf = b.data;
    *len = b.len;
    return 0;
}

/* A cursor over the file's bytes. */
struct cursor
{
    const char *p;
    const char *end;
    unsigned line;
};

/* The next line (without '\n') into @line; -1 at the end or when too
 * long. */
static int line_take(struct cursor *c, char *line, size_t size)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    size_t n;

    if (nl == NULL) {
        return -1;
    }
    n = (size_t)(nl - c->p);
    if (n >= size || memchr(c->p, '\0', n) != NULL) {
        return -1;
    }
    memcpy(line, c->p, n);
    line[n] = '\0';
    c->p = nl + 1;
    c->line++;
    return 0;
}

static int bad(char *errmsg, const struct cursor *c, const char *what)
{
    snprintf(errmsg, PREDICT_ERRMSG_SIZE, "model file line %u: %s", c->line + 1,
             what);
    return AUGUR_EMALFORMED;
}

/* "KEY VALUE" with an unsigned or a real VALUE. */
static int kv_u64(struct cursor *c, const char *key, uint64_t *v, char *errmsg)
{
    char line[MODEL_NAME_MAX + 32];
    char *end;
    size_t kl = strlen(key);

    if (line_take(c, line, sizeof line) != 0 || strncmp(line, key, kl) != 0 ||
        line[kl] != ' ' || line[kl + 1] < '0' || line[kl + 1] > '9') {
        return bad(errmsg, c, key);
    }
    *v = strtoull(line + kl + 1, &end, 10);
    return *end == '\0' ? 0 : bad(errmsg, c, key);
}

static int kv_real(struct cursor *c, const char *key, double *v, char *errmsg)
{
    char line[MODEL_NAME_MAX + 32];
    char *end;
    size_t kl = strlen(key);

    if (line_take(c, line, sizeof line) != 0 || strncmp(line, key, kl) != 0 ||
        line[kl] != ' ') {
        return bad(errmsg, c, key);
    }
    *v = strtod(line + kl + 1, &end);
    return *end == '\0' && isfinite(*v) && *v >= 0 ? 0 : bad(errmsg, c, key);
}

static int booster_get(struct cursor *c,
                       const char *line,
                       BoosterHandle *out,
                       char *errmsg)
{
    const char *sp = strrchr(line, ' ');
    char *end;
    uint64_t len;
    BoosterHandle h;

    len = strtoull(sp + 1, &end, 10);
    if (*end != '\0' || len > (uint64_t)(c->end - c->p) ||
        len + 1 > (uint64_t)(c->end - c->p) || c->p[len] != '\n') {
        return bad(errmsg, c, "booster: truncated");
    }
    if (XGBoosterCreate(NULL, 0, &h) != 0) {
        return xgb_fail(errmsg, "XGBoosterCreate");
    }
    if (XGBoosterLoadModelFromBuffer(h, c->p, len) != 0) {
        xgb_fail(errmsg, "XGBoosterLoadModelFromBuffer");
        XGBoosterFree(h);
        return AUGUR_EMALFORMED;
    }
    c->p += len + 1;
    c->line++;
    *out = h;
    return 0;
}

/* "calibration none|platt A B|isotonic K" and K knot lines "x y": x
 * strictly increasing in [0, 1], y non-decreasing in [0, 1]. */
static int calib_get(struct predict_calibration *cal,
                     struct cursor *c,
                     char *errmsg)
{
    char line[MODEL_NAME_MAX + 32];
    char *end;
    unsigned long k;

    if (line_take(c, line, sizeof line) != 0 ||
        strncmp(line, "calibration ", 12) != 0) {
        return bad(errmsg, c, "calibration");
    }
    if (strcmp(line + 12, "none") == 0) {
        return 0;
    }
    if (strncmp(line + 12, "platt ", 6) == 0) {
        cal->a = strtod(line + 18, &end);
        if (*end != ' ' || !isfinite(cal->a)) {
            return bad(errmsg, c, "calibration: platt A B");
        }
        cal->b = strtod(end + 1, &end);
        if (*end != '\0' || !isfinite(cal->b)) {
            return bad(errmsg, c, "calibration: platt A B");
        }
        cal->kind = PREDICT_CALIB_PLATT;
        return 0;
    }
    if (strncmp(line + 12, "isotonic ", 9) != 0 || line[21] < '0' ||
        line[21] > '9') {
        return bad(errmsg, c, "calibration: none, platt or isotonic");
    }
    k = strtoul(line + 21, &end, 10);
    if (*end != '\0' || k == 0 || k > PREDICT_CALIB_KNOTS_MAX) {
        return bad(errmsg, c, "calibration: knot count out of range");
    }
    cal->x = malloc(k * sizeof *cal->x);
    cal->y = malloc(k * sizeof *cal->y);
    if (cal->x == NULL || cal->y == NULL) {
        return AUGUR_ENOMEM;
    }
    cal->kind = PREDICT_CALIB_ISOTONIC;
    cal->n = (unsigned)k;
    for (unsigned i = 0; i < k; i++) {
        double x, y;
        if (line_take(c, line, sizeof line) != 0) {
            return bad(errmsg, c, "calibration: truncated");
        }
        x = strtod(line, &end);
        if (*end != ' ') {
            return bad(errmsg, c, "calibration: knot");
        }
        y = strtod(end + 1, &end);
        if (*end != '\0' || !(x >= 0 && x <= 1) || !(y >= 0 && y <= 1) ||
            (i > 0 && !(x > cal->x[i - 1] && y >= cal->y[i - 1]))) {
            return bad(errmsg, c,
                       "calibration: a knot out of [0, 1] or out of order");
        }
        cal->x[i] = x;
        cal->y[i] = y;
    }
    return 0;
}

static int load(struct predict_model *m, struct cursor *c, char *errmsg)
{
    char line[MODEL_NAME_MAX + 32];
    uint64_t v, nf;
    unsigned long version;
    bool has_surv = false;
    int fmt, rv;

    if (line_take(c, line, sizeof line) != 0 ||
        strncmp(line, MODEL_MAGIC " ", sizeof MODEL_MAGIC) != 0) {
        return bad(errmsg, c, "not an augur model file");
    }
    version = strtoul(line + sizeof MODEL_MAGIC, NULL, 10);
    if (version < 1 || version > PREDICT_MODEL_VERSION) {
        return bad(errmsg, c, "unsupported model file version");
    }
    if (line_take(c, line, sizeof line) != 0 ||
        strncmp(line, "augur ", 6) != 0) {
        return bad(errmsg, c, "augur version");
    }
    if (line_take(c, line, sizeof line) != 0 ||
        strncmp(line, "format ", 7) != 0 ||
        (fmt = predict_format_parse(line + 7)) < 0) {
        return bad(errmsg, c, "format");
    }
    m->format = (enum predict_format)fmt;
    if ((rv = kv_real(c, "window", &m->window, errmsg)) != 0 ||
        (rv = kv_real(c, "rul_cap", &m->rul_cap, errmsg)) != 0 ||
        (rv = kv_u64(c, "train_rows", &m->train_rows, errmsg)) != 0 ||
        (rv = kv_u64(c, "train_groups", &m->train_groups, errmsg)) != 0 ||
        (rv = kv_u64(c, "train_positives", &m->train_positives, errmsg)) != 0 ||
        (rv = kv_u64(c, "features", &nf, errmsg)) != 0) {
        return rv;
    }
    if (nf == 0 || nf > MODEL_FEATURES_MAX) {
        return bad(errmsg, c, "feature count out of range");
    }
    m->feature_names = calloc(nf, sizeof *m->feature_names);
    if (m->feature_names == NULL) {
        return AUGUR_ENOMEM;
    }
    m->n_features = (unsigned)nf;
    for (unsigned i = 0; i < nf; i++) {
        if (line_take(c, line, sizeof line) != 0 ||
            strncmp(line, "feature ", 8) != 0 || line[8] == '\0') {
            return bad(errmsg, c, "feature name");
        }
        m->feature_names[i] = strdup(line + 8);
        if (m->feature_names[i] == NULL) {
            return AUGUR_ENOMEM;
        }
    }
    if (version >= 2 && (rv = calib_get(&m->calib, c, errmsg)) != 0) {
        return rv;
    }
    if (version >= 2) {
        char *end;
        if (line_take(c, line, sizeof line) != 0) {
            return bad(errmsg, c, "survival");
        }
        if (strncmp(line, "survival aft normal ", 20) == 0) {
            m->aft_sigma = strtod(line + 20, &end);
            if (*end != ' ' || !(m->aft_sigma > 0) || !isfinite(m->aft_sigma)) {
                return bad(errmsg, c, "survival: aft normal SIGMA SHIFT");
            }
            m->aft_shift = strtod(end + 1, &end);
            if (*end != '\0' || !isfinite(m->aft_shift)) {
                return bad(errmsg, c, "survival: aft normal SIGMA SHIFT");
            }
            has_surv = true;
        } else if (strcmp(line, "survival none") != 0) {
            return bad(errmsg, c, "survival: none or aft normal SIGMA SHIFT");
        }
    }
    for (;;) {
        if (line_take(c, line, sizeof line) != 0) {
            return bad(errmsg, c, "truncated: no end line");
        }
        if (strcmp(line, "end") == 0) {
            break;
        }
        if (strncmp(line, "booster clf ", 12) == 0 && m->clf == NULL) {
            rv = booster_get(c, line, &m->clf, errmsg);
        } else if (strncmp(line, "booster reg ", 12) == 0 && m->reg == NULL) {
            rv = booster_get(c, line, &m->reg, errmsg);
        } else if (strncmp(line, "booster surv ", 13) == 0 && has_surv &&
                   m->surv == NULL) {
            rv = booster_get(c, line, &m->surv, errmsg);
        } else {
            rv = bad(errmsg, c, "unexpected line");
        }
        if (rv != 0) {
            return rv;
        }
    }
    if (m->clf == NULL) {
        return bad(errmsg, c, "no classifier");
    }
    if (has_surv && m->surv == NULL) {
        return bad(errmsg, c, "no time-to-failure booster");
    }
    (void)v;
    return 0;
}

int predict_model_load(struct predict_model *m,
                       const char *buf,
                       size_t len,
                       char *errmsg)
{
    struct cursor c = {buf, buf + len, 0};
    int rv = load(m, &c, errmsg);

    if (rv == AUGUR_ENOMEM) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
    }
    if (rv != 0) {
        predict_model_close(m);
    }
    return rv;
}
