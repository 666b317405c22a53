/* A Weibull hazard prior on age, fitted by maximum likelihood to failures
 * and right-censored survivors: a baseline where labels are scarce. */
#include <math.h>
#include <stdio.h>

#include "predict/predict.h"

#define SHAPE_MIN 0.05
#define SHAPE_MAX 20.0
#define BISECT_STEPS 200

/* The derivative of the profile log-likelihood in the shape k, scaled:
 *   sum t^k ln t / sum t^k - 1/k - mean over failures of ln t.
 * It increases with k; its root is the MLE.  Ages are divided by @t0 to
 * keep t^k in range. */
static double profile_score(const double *t,
                            const uint8_t *failed,
                            size_t n,
                            double t0,
                            double k,
                            double mean_log_fail)
{
    double s = 0.0;
    double sl = 0.0;

    for (size_t i = 0; i < n; i++) {
        double u = t[i] / t0;
        double p = pow(u, k);
        s += p;
        sl += p * log(u);
    }
    (void)failed;
    return sl / s - 1.0 / k - mean_log_fail;
}

int predict_weibull_fit(const double *t,
                        const uint8_t *failed,
                        size_t n,
                        struct predict_weibull *out,
                        char *errmsg)
{
    size_t r = 0;
    double t0 = 0.0;
    double mean_log = 0.0;
    double lo = SHAPE_MIN;
    double hi = SHAPE_MAX;
    double k, s = 0.0;

    for (size_t i = 0; i < n; i++) {
        if (!(t[i] > 0.0) || !isfinite(t[i])) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "age %zu is %g: ages must be positive and finite", i,
                     t[i]);
            return AUGUR_EINVAL;
        }
        t0 = t[i] > t0 ? t[i] : t0;
        r += failed[i] != 0;
    }
    if (r == 0) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "no failure to fit to");
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (failed[i]) {
            mean_log += log(t[i] / t0);
        }
    }
    mean_log /= (double)r;
    if (profile_score(t, failed, n, t0, lo, mean_log) > 0.0) {
        hi = lo;
    } else if (profile_score(t, failed, n, t0, hi, mean_log) < 0.0) {
        lo = hi;
    }
    for (int i = 0; i < BISECT_STEPS && hi - lo > 1e-12; i++) {
        double mid = (lo + hi) / 2.0;
        if (profile_score(t, failed, n, t0, mid, mean_log) < 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    k = (lo + hi) / 2.0;
    for (size_t i = 0; i < n; i++) {
        s += pow(t[i] / t0, k);
    }
    out->shape = k;
    out->scale = t0 * pow(s / (double)r, 1.0 / k);
    return 0;
}

double predict_weibull_prob(const struct predict_weibull *w,
                            double age,
                            double horizon)
{
    double a = age > 0.0 ? age : 0.0;
    double h0 = pow(a / w->scale, w->shape);
    double h1 = pow((a + horizon) / w->scale, w->shape);

    return 1.0 - exp(-(h1 - h0));
}

double predict_weibull_residual(const struct predict_weibull *w, double age)
{
    double a = age > 0.0 ? age : 0.0;
    double h0 = pow(a / w->scale, w->shape);

    return w->scale * pow(h0 + log(2.0), 1.0 / w->shape) - a;
}
