/* Streaming features of one (resource, metric): EWMA, Holt, a rolling
 * window, robust scores against the window and against the resource's own
 * baseline.  Fixed-size state, no allocation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "predict/predict.h"

static const char *const feature_names[PREDICT_SF_COUNT] = {
    "value",    "ewma_mean",  "ewma_std", "holt_level", "holt_trend",
    "win_mean", "win_std",    "win_min",  "win_max",    "win_slope",
    "robust_z", "base_delta", "base_z",
};

const char *predict_stream_feature_name(enum predict_stream_feature f)
{
    return (unsigned)f < PREDICT_SF_COUNT ? feature_names[f] : "?";
}

static bool in_unit(double v)
{
    return v > 0.0 && v <= 1.0;
}

int predict_stream_config_check(const struct predict_stream_config *cfg,
                                char *errmsg)
{
    if (!in_unit(cfg->ewma_alpha) || !in_unit(cfg->holt_alpha) ||
        !in_unit(cfg->holt_beta)) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "smoothing factors must be in (0, 1]");
        return AUGUR_EINVAL;
    }
    if (cfg->window < 1 || cfg->window > PREDICT_WINDOW_MAX) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "window must be 1..%d",
                 PREDICT_WINDOW_MAX);
        return AUGUR_EINVAL;
    }
    if (cfg->baseline > PREDICT_BASELINE_MAX) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "baseline must be 0..%d",
                 PREDICT_BASELINE_MAX);
        return AUGUR_EINVAL;
    }
    return 0;
}

void predict_stream_init(struct predict_stream *s,
                         const struct predict_stream_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
}

void predict_stream_update(struct predict_stream *s, double x)
{
    unsigned w = s->cfg.window;

    if (isnan(x)) {
        return;
    }
    if (s->n == 0) {
        s->ewma_mean = x;
        s->ewma_var = 0.0;
        s->level = x;
        s->trend = 0.0;
    } else {
        /* West's incremental EWMA variance: stays non-negative. */
        double diff = x - s->ewma_mean;
        double incr = s->cfg.ewma_alpha * diff;
        double prev_level = s->level;

        s->ewma_mean += incr;
        s->ewma_var = (1.0 - s->cfg.ewma_alpha) * (s->ewma_var + diff * incr);
        s->level = s->cfg.holt_alpha * x +
                   (1.0 - s->cfg.holt_alpha) * (s->level + s->trend);
        s->trend = s->cfg.holt_beta * (s->level - prev_level) +
                   (1.0 - s->cfg.holt_beta) * s->trend;
    }
    if (s->win_len == w) {
        double old = s->win[s->win_pos];
        s->win_sum -= old;
        s->win_sumsq -= old * old;
    } else {
        s->win_len++;
    }
    s->win[s->win_pos] = x;
    s->win_sum += x;
    s->win_sumsq += x * x;
    s->win_pos = s->win_pos + 1 == w ? 0 : s->win_pos + 1;
    if (s->base_len < s->cfg.baseline) {
        s->base[s->base_len++] = x;
        if (s->base_len == s->cfg.baseline) {
            double scratch[PREDICT_BASELINE_MAX];
            predict_median_mad(s->base, s->base_len, scratch, &s->base_median,
                               &s->base_mad);
        }
    }
    s->last = x;
    s->n++;
}

/* The window's samples, oldest first, into @out; returns their count. */
static unsigned window_ordered(const struct predict_stream *s, double *out)
{
    unsigned start = s->win_len < s->cfg.window ? 0 : s->win_pos;

    for (unsigned i = 0; i < s->win_len; i++) {
        unsigned j = start + i;
        out[i] = s->win[j >= s->cfg.window ? j - s->cfg.window : j];
    }
    return s->win_len;
}

void predict_stream_features(const struct predict_stream *s, float *out)
{
    double v[PREDICT_WINDOW_MAX];
    double scratch[PREDICT_WINDOW_MAX];
    double mean, var, lo, hi, med, mad;
    unsigned n;

    for (int i = 0; i < PREDICT_SF_COUNT; i++) {
        out[i] = NAN;
    }
    if (s->n == 0) {
        return;
    }
    out[PREDICT_SF_VALUE] = (float)s->last;
    out[PREDICT_SF_EWMA_MEAN] = (float)s->ewma_mean;
    out[PREDICT_SF_EWMA_STD] = (float)sqrt(s->ewma_var);
    out[PREDICT_SF_HOLT_LEVEL] = (float)s->level;
    out[PREDICT_SF_HOLT_TREND] = (float)s->trend;

    n = window_ordered(s, v);
    mean = s->win_sum / n;
    var = s->win_sumsq / n - mean * mean;
    out[PREDICT_SF_WIN_MEAN] = (float)mean;
    out[PREDICT_SF_WIN_STD] = (float)(var > 0.0 ? sqrt(var) : 0.0);
    lo = hi = s->last;
    for (unsigned i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    out[PREDICT_SF_WIN_MIN] = (float)lo;
    out[PREDICT_SF_WIN_MAX] = (float)hi;
    if (n >= 2) {
        /* Slope against the sample index 0..n-1. */
        double im = (n - 1) / 2.0;
        double sxy = 0.0;
        double sxx = 0.0;
        for (unsigned i = 0; i < n; i++) {
            sxy += (i - im) * (v[i] - mean);
            sxx += (i - im) * (i - im);
        }
        out[PREDICT_SF_WIN_SLOPE] = (float)(sxy / sxx);
    }
    predict_median_mad(v, n, scratch, &med, &mad);
    out[PREDICT_SF_ROBUST_Z] = (float)predict_robust_z(s->last, med, mad);
    if (s->cfg.baseline > 0 && s->base_len == s->cfg.baseline) {
        out[PREDICT_SF_BASE_DELTA] = (float)(s->ewma_mean - s->base_median);
        out[PREDICT_SF_BASE_Z] =
            (float)predict_robust_z(s->last, s->base_median, s->base_mad);
    }
}

/* ---- events ------------------------------------------------------------ */

void predict_events_init(struct predict_events *e, unsigned n_kinds, double tau)
{
    memset(e, 0, sizeof *e);
    e->n_kinds =
        n_kinds > PREDICT_EVENT_KINDS_MAX ? PREDICT_EVENT_KINDS_MAX : n_kinds;
    e->tau = tau;
}

void predict_events_note(struct predict_events *e, unsigned kind, double t)
{
    if (kind >= e->n_kinds || isnan(t)) {
        return;
    }
    if (!e->seen[kind]) {
        e->seen[kind] = true;
        e->last[kind] = t;
        e->count[kind] = 1.0;
        return;
    }
    if (t > e->last[kind]) {
        e->count[kind] *= exp(-(t - e->last[kind]) / e->tau);
        e->last[kind] = t;
    }
    e->count[kind] += 1.0;
}

double predict_events_since(const struct predict_events *e,
                            unsigned kind,
                            double t)
{
    if (kind >= e->n_kinds || !e->seen[kind]) {
        return NAN;
    }
    return t - e->last[kind];
}

double predict_events_rate(const struct predict_events *e,
                           unsigned kind,
                           double t)
{
    if (kind >= e->n_kinds || !e->seen[kind]) {
        return 0.0;
    }
    if (t <= e->last[kind]) {
        return e->count[kind];
    }
    return e->count[kind] * exp(-(t - e->last[kind]) / e->tau);
}

/* ---- counters ---------------------------------------------------------- */

void predict_counter_init(struct predict_counter *c, double alpha)
{
    memset(c, 0, sizeof *c);
    c->alpha = alpha;
    c->rate = NAN;
    c->ewma_rate = NAN;
}

int predict_counter_update(struct predict_counter *c, double t, double v)
{
    double delta;

    if (isnan(t) || isnan(v)) {
        return AUGUR_EINVAL;
    }
    if (!c->has_prev) {
        c->has_prev = true;
        c->prev_t = t;
        c->prev_v = v;
        return 0;
    }
    if (!(t > c->prev_t)) {
        return AUGUR_EINVAL;
    }
    if (v >= c->prev_v) {
        delta = v - c->prev_v;
    } else {
        delta = v; /* reset: counted from zero again */
        c->resets++;
    }
    c->rate = delta / (t - c->prev_t);
    c->ewma_rate = c->has_rate
                       ? c->ewma_rate + c->alpha * (c->rate - c->ewma_rate)
                       : c->rate;
    c->has_rate = true;
    c->prev_t = t;
    c->prev_v = v;
    return 0;
}
