/* Calibration of failure probabilities: isotonic (pool adjacent violators)
 * and Platt maps fitted on held-out predictions, the refit of the
 * time-to-failure model's scale and shift, and the figures that say how
 * well probabilities match outcomes (Brier score, expected calibration
 * error, reliability diagram). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

/* Platt: raw probabilities are clipped this far from 0 and 1 before the
 * logit, so that a 0 or 1 from the trees stays finite. */
#define PLATT_EPS 1e-6
#define PLATT_ITERS 100

static const char *const kind_names[PREDICT_CALIB_KINDS] = {
    [PREDICT_CALIB_NONE] = "none",
    [PREDICT_CALIB_PLATT] = "platt",
    [PREDICT_CALIB_ISOTONIC] = "isotonic",
};

int predict_calib_kind_parse(const char *name)
{
    for (int k = 0; k < PREDICT_CALIB_KINDS; k++) {
        if (name != NULL && strcmp(name, kind_names[k]) == 0) {
            return k;
        }
    }
    return -1;
}

const char *predict_calib_kind_name(enum predict_calib_kind k)
{
    return (unsigned)k < PREDICT_CALIB_KINDS ? kind_names[k] : "?";
}

void predict_calibration_init(struct predict_calibration *c)
{
    memset(c, 0, sizeof *c);
}

void predict_calibration_close(struct predict_calibration *c)
{
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

static double logit(double p)
{
    p = fmin(fmax(p, PLATT_EPS), 1.0 - PLATT_EPS);
    return log(p / (1.0 - p));
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* Platt (1999): minimise the log loss of sigmoid(a z + b) against targets
 * smoothed to (N+ + 1) / (N+ + 2) and 1 / (N- + 2), which keeps a and b
 * finite on separable data.  Newton's method with step halving. */
static int platt_fit(struct predict_calibration *c,
                     const float *p,
                     const float *y,
                     size_t n,
                     char *errmsg)
{
    size_t npos = 0;
    double tpos, tneg, a = 1.0, b = 0.0, loss = INFINITY;

    for (size_t i = 0; i < n; i++) {
        npos += y[i] > 0.5f;
    }
    if (npos == 0 || npos == n) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "platt calibration needs both classes (%zu of %zu "
                 "positive)",
                 npos, n);
        return AUGUR_EINVAL;
    }
    tpos = ((double)npos + 1.0) / ((double)npos + 2.0);
    tneg = 1.0 / ((double)(n - npos) + 2.0);
    for (int it = 0; it < PLATT_ITERS; it++) {
        double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0, det, da, db;
        double step = 1.0, cur = 0.0;
        for (size_t i = 0; i < n; i++) {
            double z = logit(p[i]);
            double q = sigmoid(a * z + b);
            double t = y[i] > 0.5f ? tpos : tneg;
            double w = q * (1.0 - q);
            ga += (q - t) * z;
            gb += q - t;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
            cur -= t * log(fmax(q, 1e-300)) +
                   (1.0 - t) * log(fmax(1.0 - q, 1e-300));
        }
        loss = cur;
        haa += 1e-12;
        hbb += 1e-12;
        det = haa * hbb - hab * hab;
        if (!(fabs(det) > 0)) {
            break;
        }
        da = (hbb * ga - hab * gb) / det;
        db = (haa * gb - hab * ga) / det;
        if (fabs(da) < 1e-10 && fabs(db) < 1e-10) {
            break;
        }
        /* Halve the step until the loss does not grow. */
        for (; step > 1e-8; step /= 2) {
            double na = a - step * da, nb = b - step * db, nl = 0.0;
            for (size_t i = 0; i < n; i++) {
                double q = sigmoid(na * logit(p[i]) + nb);
                double t = y[i] > 0.5f ? tpos : tneg;
                nl -= t * log(fmax(q, 1e-300)) +
                      (1.0 - t) * log(fmax(1.0 - q, 1e-300));
            }
            if (nl <= loss + 1e-12) {
                a = na;
                b = nb;
                break;
            }
        }
        if (step <= 1e-8) {
            break;
        }
    }
    c->kind = PREDICT_CALIB_PLATT;
    c->a = a;
    c->b = b;
    return 0;
}

struct point
{
    float p;
    float y;
};

static int point_cmp(const void *a, const void *b)
{
    float x = ((const struct point *)a)->p;
    float z = ((const struct point *)b)->p;

    return x < z ? -1 : x > z ? 1 : 0;
}

/* A block of pooled points. */
struct block
{
    double w;  /* points */
    double sx; /* sum of p */
    double sy; /* sum of y */
};

static int isotonic_fit(struct predict_calibration *c,
                        const float *p,
                        const float *y,
                        size_t n,
                        char *errmsg)
{
    struct point *pt = malloc(n * sizeof *pt);
    struct block *bl = malloc(n * sizeof *bl);
    size_t nb = 0, keep;

    if (pt == NULL || bl == NULL) {
        free(pt);
        free(bl);
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        pt[i].p = p[i];
        pt[i].y = y[i] > 0.5f ? 1.0f : 0.0f;
    }
    qsort(pt, n, sizeof *pt, point_cmp);
    for (size_t i = 0; i < n;) {
        /* Equal raw probabilities start as one block: the map is a
         * function of p, so they must get one value. */
        struct block b = {0, 0, 0};
        size_t j = i;
        for (; j < n && pt[j].p == pt[i].p; j++) {
            b.w += 1;
            b.sx += pt[j].p;
            b.sy += pt[j].y;
        }
        i = j;
        /* Pool while the previous block's mean is not below this one's. */
        while (nb > 0 && bl[nb - 1].sy * b.w >= b.sy * bl[nb - 1].w) {
            b.w += bl[nb - 1].w;
            b.sx += bl[nb - 1].sx;
            b.sy += bl[nb - 1].sy;
            nb--;
        }
        bl[nb++] = b;
    }
    free(pt);
    keep = nb < PREDICT_CALIB_KNOTS_MAX ? nb : PREDICT_CALIB_KNOTS_MAX;
    c->x = malloc(keep * sizeof *c->x);
    c->y = malloc(keep * sizeof *c->y);
    if (c->x == NULL || c->y == NULL) {
        free(bl);
        predict_calibration_close(c);
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    /* More blocks than knots: keep evenly spaced ones, the first and the
     * last included; still increasing in x and non-decreasing in y. */
    for (size_t k = 0; k < keep; k++) {
        size_t i = keep > 1 ? k * (nb - 1) / (keep - 1) : 0;
        c->x[k] = bl[i].sx / bl[i].w;
        c->y[k] = bl[i].sy / bl[i].w;
    }
    c->n = (unsigned)keep;
    c->kind = PREDICT_CALIB_ISOTONIC;
    free(bl);
    return 0;
}

int predict_calibration_fit(struct predict_calibration *c,
                            enum predict_calib_kind kind,
                            const float *p,
                            const float *y,
                            size_t n,
                            char *errmsg)
{
    predict_calibration_close(c);
    if (kind == PREDICT_CALIB_NONE) {
        return 0;
    }
    if (n == 0 || (unsigned)kind >= PREDICT_CALIB_KINDS) {
        snprintf(
            errmsg, PREDICT_ERRMSG_SIZE,
            n == 0 ? "no prediction to calibrate on" : "unknown calibration");
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0.0f && p[i] <= 1.0f) || isnan(y[i])) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "calibration point %zu is not a probability", i);
            return AUGUR_EINVAL;
        }
    }
    return kind == PREDICT_CALIB_PLATT ? platt_fit(c, p, y, n, errmsg)
                                       : isotonic_fit(c, p, y, n, errmsg);
}

double predict_calibration_apply(const struct predict_calibration *c, double p)
{
    size_t lo, hi;

    switch (c->kind) {
        case PREDICT_CALIB_PLATT:
            return sigmoid(c->a * logit(p) + c->b);
        case PREDICT_CALIB_ISOTONIC:
            if (c->n == 0) {
                return p;
            }
            if (!(p > c->x[0])) { /* NaN too */
                return c->y[0];
            }
            if (p >= c->x[c->n - 1]) {
                return c->y[c->n - 1];
            }
            /* The last knot at or below p. */
            lo = 0;
            hi = c->n - 1;
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (c->x[mid] <= p) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return c->y[lo] + (c->y[hi] - c->y[lo]) * (p - c->x[lo]) /
                                  (c->x[hi] - c->x[lo]);
        default:
            return p;
    }
}

void predict_calib_figures_of(const float *p,
                              const float *y,
                              size_t n,
                              struct predict_calib_figures *out)
{
    double sp[PREDICT_CALIB_BINS] = {0}, sy[PREDICT_CALIB_BINS] = {0};
    double sq = 0.0;

    memset(out, 0, sizeof *out);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        double q = fmin(fmax((double)p[i], 0.0), 1.0);
        double t = y[i] > 0.5f ? 1.0 : 0.0;
        int b = (int)(q * PREDICT_CALIB_BINS);
        if (b >= PREDICT_CALIB_BINS) {
            b = PREDICT_CALIB_BINS - 1;
        }
        sq += (q - t) * (q - t);
        out->positives += t > 0;
        out->bins[b].n++;
        sp[b] += q;
        sy[b] += t;
    }
    out->brier = n > 0 ? sq / (double)n : NAN;
    out->ece = n > 0 ? 0.0 : NAN;
    for (int b = 0; b < PREDICT_CALIB_BINS; b++) {
        struct predict_reliability_bin *r = &out->bins[b];
        r->lo = (double)b / PREDICT_CALIB_BINS;
        r->hi = (double)(b + 1) / PREDICT_CALIB_BINS;
        if (r->n == 0) {
            r->mean_p = r->observed = NAN;
            continue;
        }
        r->mean_p = sp[b] / (double)r->n;
        r->observed = sy[b] / (double)r->n;
        out->ece += (double)r->n / (double)n * fabs(r->mean_p - r->observed);
    }
}

#define AFT_FIT_POINTS 20000

double predict__log_normal_sf(double z)
{
    double q = 0.5 * erfc(z / sqrt(2.0));

    if (q > 1e-300) {
        return log(q);
    }
    return -0.5 * z * z - log(z * sqrt(2.0 * M_PI));
}

/* The Brier score of (sigma, shift) summed over the windows, on points
 * with residual bounds @r_lo (ln lo - mu) and @event, and ln windows @lw.
 * NaN outcomes are skipped. */
static double aft_brier(const double *r,
                        const bool *event,
                        size_t n,
                        const double *lw,
                        size_t nw,
                        const double *lmu,
                        double sigma,
                        double shift)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nw; k++) {
            /* r[i] = ln(lo) - mu; the window's residual ln w - mu. */
            double rw = lw[k] - lmu[i];
            double p, y;
            if (event[i]) {
                y = r[i] <= rw ? 1.0 : 0.0;
            } else if (r[i] >= rw) {
                y = 0.0;
            } else {
                continue;
            }
            p = 0.5 * erfc(-((rw - shift) / sigma) / sqrt(2.0));
            sum += (p - y) * (p - y);
        }
    }
    return sum;
}

int predict_aft_refit(const float *mu,
                      const float *lo,
                      const float *hi,
                      size_t n,
                      const double *windows,
                      size_t n_windows,
                      double *sigma,
                      double *shift)
{
    size_t m = n < AFT_FIT_POINTS ? n : AFT_FIT_POINTS, events = 0;
    double *r = malloc((m + 1) * sizeof *r);
    double *lmu = malloc((m + 1) * sizeof *lmu);
    bool *event = malloc((m + 1) * sizeof *event);
    double lw[PREDICT_AFT_REFIT_WINDOWS];
    size_t nw = n_windows < PREDICT_AFT_REFIT_WINDOWS
                    ? n_windows
                    : PREDICT_AFT_REFIT_WINDOWS;
    double best = INFINITY, bs = 1.0, bb = 0.0;
    double s_lo = log(0.02), s_hi = log(5.0), b_lo = -5.0, b_hi = 5.0;

    if (r == NULL || lmu == NULL || event == NULL) {
        free(r);
        free(lmu);
        free(event);
        return AUGUR_ENOMEM;
    }
    for (size_t k = 0; k < nw; k++) {
        lw[k] = log(fmax(windows[k], 1e-30));
    }
    for (size_t k = 0; k < m; k++) {
        size_t i = m == n ? k : k * (n - 1) / (m - 1);
        lmu[k] = (double)mu[i];
        r[k] = log(fmax((double)lo[i], 1e-30)) - lmu[k];
        event[k] = !isinf(hi[i]);
        events += event[k];
    }
    if (events == 0 || nw == 0) {
        free(r);
        free(lmu);
        free(event);
        return AUGUR_EINVAL;
    }
    for (int pass = 0; pass < 3; pass++) {
        const int steps = 24;
        double ds = (s_hi - s_lo) / steps, db = (b_hi - b_lo) / steps;
        for (int a = 0; a <= steps; a++) {
            for (int b = 0; b <= steps; b++) {
                double sg = exp(s_lo + a * ds), sh = b_lo + b * db;
                double v = aft_brier(r, event, m, lw, nw, lmu, sg, sh);
                if (v < best) {
                    best = v;
                    bs = sg;
                    bb = sh;
                }
            }
        }
        s_lo = log(bs) - 2 * ds;
        s_hi = log(bs) + 2 * ds;
        b_lo = bb - 2 * db;
        b_hi = bb + 2 * db;
    }
    *sigma = bs;
    *shift = bb;
    free(r);
    free(lmu);
    free(event);
    return 0;
}
