/* Live scoring's scores: the model active for each kind (its features
 * matched to metric names, a batch's rows, SHAP reasons) and the anomaly
 * score of a resource without one. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/live_int.h"

int predict__live_kind_find(const struct predict_live *l, const char *kind)
{
    for (unsigned k = 0; k < l->n_kinds; k++) {
        if (strcmp(l->kinds[k].kind, kind) == 0) {
            return (int)k;
        }
    }
    return -1;
}

int predict_live_model_set(struct predict_live *l,
                           const char *kind,
                           const struct predict_model *model,
                           const char *ref)
{
    int k = predict__live_kind_find(l, kind);

    if (k < 0) {
        if (model == NULL) {
            return 0;
        }
        if (l->n_kinds == PREDICT_LIVE_KINDS_MAX) {
            snprintf(l->errmsg, sizeof l->errmsg,
                     "live scoring: more than %d kinds with a model",
                     PREDICT_LIVE_KINDS_MAX);
            return AUGUR_ETOOBIG;
        }
        k = (int)l->n_kinds++;
        memset(&l->kinds[k], 0, sizeof l->kinds[k]);
        snprintf(l->kinds[k].kind, sizeof l->kinds[k].kind, "%s", kind);
    }
    if (l->kinds[k].model == model &&
        strcmp(l->kinds[k].ref, ref != NULL ? ref : "") == 0) {
        return 0;
    }
    free(l->kinds[k].feature_name);
    l->kinds[k].feature_name = NULL;
    memset(l->name_feature, 0, l->cfg.max_names);
    l->kinds[k].model = model;
    snprintf(l->kinds[k].ref, sizeof l->kinds[k].ref, "%s",
             ref != NULL ? ref : "");
    if (model != NULL) {
        l->kinds[k].feature_name =
            calloc(model->n_features > 0 ? model->n_features : 1,
                   sizeof *l->kinds[k].feature_name);
        if (l->kinds[k].feature_name == NULL) {
            l->kinds[k].model = NULL;
            snprintf(l->errmsg, sizeof l->errmsg,
                     "live scoring: out of memory");
            return AUGUR_ENOMEM;
        }
    }
    return 0;
}

void predict_live_model_clear(struct predict_live *l, const char *kind)
{
    int k = predict__live_kind_find(l, kind);

    if (k >= 0) {
        free(l->kinds[k].feature_name);
        l->kinds[k].feature_name = NULL;
        l->kinds[k].model = NULL;
        l->kinds[k].ref[0] = '\0';
        memset(l->name_feature, 0, l->cfg.max_names);
    }
}

/* Map the model's features to metric names not mapped yet: a metric named
 * as the feature, or "<format>.<feature>" (as augur-agent replay names the
 * features of a data set); and mark every mapped name as a feature, which
 * the per-resource cap then keeps. */
void predict__live_kind_map(struct predict_live *l, unsigned k)
{
    const struct predict_model *m = l->kinds[k].model;
    const char *fmt = predict_format_name(m->format);

    for (unsigned f = 0; f < m->n_features; f++) {
        char name[PREDICT_LIVE_NAME_SIZE + 32];
        uint32_t n;

        n = l->kinds[k].feature_name[f];
        if (n == 0) {
            n = predict__live_name_find(l, m->feature_names[f]);
        }
        if (n == 0 && fmt != NULL) {
            snprintf(name, sizeof name, "%s.%s", fmt, m->feature_names[f]);
            n = predict__live_name_find(l, name);
        }
        l->kinds[k].feature_name[f] = n;
        if (n != 0) {
            l->name_feature[n - 1] = 1;
        }
    }
}

/* The seconds of a model's time unit: pdm hours, backblaze days; a
 * C-MAPSS cycle is taken as an hour. */
static double model_unit_s(const struct predict_model *m)
{
    return m->format == PREDICT_FORMAT_BACKBLAZE ? 86400.0 : 3600.0;
}

/* The window of a model in seconds, in its data's time unit. */
uint64_t predict__live_model_window_s(const struct predict_model *m)
{
    double w = m->window * model_unit_s(m);

    return w >= 1.0 && w < 1e12 ? (uint64_t)w : 86400;
}

void predict__live_row_fill(struct predict_live *l,
                            unsigned k,
                            struct predict_live_slot *s,
                            float *x)
{
    const struct predict_model *m = l->kinds[k].model;

    for (unsigned f = 0; f < m->n_features; f++) {
        uint32_t n = l->kinds[k].feature_name[f];
        struct live_metric *mt =
            n != 0 ? predict__live_metric(l, s, n, false) : NULL;
        x[f] = mt != NULL && mt->n > 0 ? (float)mt->last : NAN;
    }
}

double predict__live_conf(double p)
{
    double h = 0.0;

    if (p > 0.0 && p < 1.0) {
        h = -(p * log2(p) + (1.0 - p) * log2(1.0 - p));
    }
    return 1.0 - h;
}

/* How far a metric's EWMA is from its baseline, in units of the
 * baseline's spread (1.4826 MAD, a robust z score).  A metric that was
 * constant throughout its baseline (MAD 0: iowait, error counts) has no
 * spread to measure by: then its own recent spread (the EWMA's standard
 * deviation) is used, so that a burst of it is not an anomaly while a
 * sustained change is (once its variance has decayed, 10 to 20 samples).
 * Clamped to +-PREDICT_Z_CAP. */
static double metric_z(const struct live_metric *m)
{
    double d = m->ewma - m->base_median;
    double spread = 1.4826 * m->base_mad;
    double floor = 1e-9 * fmax(1.0, fabs(m->base_median));
    double z;

    if (!(spread > floor)) {
        spread = sqrt(m->ewvar > 0.0 ? m->ewvar : 0.0);
        if (spread < floor) {
            spread = floor;
        }
    }
    z = d / spread;
    return z > PREDICT_Z_CAP ? PREDICT_Z_CAP
                             : (z < -PREDICT_Z_CAP ? -PREDICT_Z_CAP : z);
}

/* The anomaly score of @s, and its reasons (by |z|) when @out is set. */
double predict__live_anomaly(struct predict_live *l,
                             struct predict_live_slot *s,
                             struct predict_live_score *out)
{
    double zmax = 0.0;

    if (out != NULL) {
        out->n_reasons = 0;
    }
    for (unsigned i = 0; i < s->n_metrics; i++) {
        const struct live_metric *mt = &s->metrics[i];
        double z = 0.0;

        /* The smoothed level against the resource's own baseline: a
         * sustained shift, not a single noisy sample.  Nothing until the
         * baseline is complete. */
        if (mt->base_len == l->cfg.baseline) {
            z = metric_z(mt);
        }
        if (fabs(z) > zmax) {
            zmax = fabs(z);
        }
        if (out != NULL && z != 0.0) {
            /* Insert by |z|, largest first. */
            unsigned j = out->n_reasons < PREDICT_TOP_MAX ? out->n_reasons++
                                                          : PREDICT_TOP_MAX;
            while (j > 0 && fabs(out->reasons[j - 1].contribution) < fabs(z)) {
                if (j < PREDICT_TOP_MAX) {
                    out->reasons[j] = out->reasons[j - 1];
                }
                j--;
            }
            if (j < PREDICT_TOP_MAX) {
                snprintf(out->reasons[j].feature,
                         sizeof out->reasons[j].feature, "%.63s",
                         l->names[s->metrics[i].name - 1]);
                out->reasons[j].contribution = z;
            }
        }
    }
    return predict_live_anomaly_p(zmax, l->cfg.anomaly_z);
}

int predict__live_model_window_p(struct predict_live *l,
                                 unsigned k,
                                 struct predict_live_slot *s,
                                 uint64_t window_s,
                                 double *p)
{
    const struct predict_model *m = l->kinds[k].model;
    double w = (double)window_s / model_unit_s(m);
    float *x, out;
    int rv;

    if (!predict_model_has_survival(m)) {
        snprintf(l->errmsg, sizeof l->errmsg,
                 "the model of kind %s has no time-to-failure part: it "
                 "answers for its own window (%" PRIu64 " s) only",
                 l->kinds[k].kind, predict__live_model_window_s(m));
        return AUGUR_EINVAL;
    }
    x = malloc((m->n_features > 0 ? m->n_features : 1) * sizeof *x);
    if (x == NULL) {
        snprintf(l->errmsg, sizeof l->errmsg, "out of memory");
        return AUGUR_ENOMEM;
    }
    predict__live_row_fill(l, k, s, x);
    rv = predict_model_score_window(m, x, 1, &w, 1, &out, l->errmsg);
    free(x);
    if (rv == 0) {
        *p = out >= 0.0f && out <= 1.0f ? out : 0.0;
    }
    return rv;
}

/* Reasons of the model for one resource (SHAP, top by |contribution|). */
int predict__live_model_reasons(struct predict_live *l,
                                unsigned k,
                                struct predict_live_slot *s,
                                struct predict_live_score *out)
{
    const struct predict_model *m = l->kinds[k].model;
    struct predict_score ps;
    float *x = malloc((m->n_features > 0 ? m->n_features : 1) * sizeof *x);
    int rv;

    out->n_reasons = 0;
    if (x == NULL) {
        return AUGUR_ENOMEM;
    }
    predict__live_row_fill(l, k, s, x);
    rv = predict_model_score(m, x, 1, PREDICT_TOP_MAX, &ps, l->errmsg);
    free(x);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < ps.n_top && i < PREDICT_TOP_MAX; i++) {
        snprintf(out->reasons[i].feature, sizeof out->reasons[i].feature,
                 "%.63s", m->feature_names[ps.top_feature[i]]);
        out->reasons[i].contribution = ps.top_contribution[i];
    }
    out->n_reasons = ps.n_top;
    return 0;
}
