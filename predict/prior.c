/* Prior-shift adaptation: a calibrated p_fail moved to the base rate of a
 * new population, estimated by EM on that population's own unlabelled
 * scores (Saerens, Latinne and Decaestecker 2002). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "predict/internal.h"

/* The adjusted posterior of @p when the prior moves from @pi to @pi_new:
 * Bayes' rule with the class-conditional densities unchanged (Saerens et
 * al. 2002, eq. 2.4). */
static double shifted(double p, double pi, double pi_new)
{
    double a = (pi_new / pi) * p;
    double b = ((1.0 - pi_new) / (1.0 - pi)) * (1.0 - p);

    return a + b > 0.0 ? a / (a + b) : p;
}

double predict_prior_shift_apply(double p, double prior_train, double prior_new)
{
    return shifted(p, prior_train, prior_new);
}

int predict_prior_adapt(const float *p,
                        size_t n,
                        double prior_train,
                        float *out,
                        struct predict_prior_shift *res,
                        char *errmsg)
{
    double pi_new = prior_train;

    res->prior_train = prior_train;
    res->prior_new = prior_train;
    res->n = n;
    res->iterations = 0;
    res->converged = false;
    if (n == 0 || !(prior_train > 0.0 && prior_train < 1.0)) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 n == 0 ? "prior shift: no score"
                        : "prior shift: the training prior must be in (0, 1)");
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0.0f && p[i] <= 1.0f)) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "prior shift: score %zu is not a probability", i);
            return AUGUR_EINVAL;
        }
    }
    /* EM: the E step is the adjusted posteriors under the current prior,
     * the M step their mean.  Each step does not lower the likelihood of
     * the unlabelled scores, and the prior stays in [0, 1]. */
    while (res->iterations < PREDICT_PRIOR_ITERS) {
        double s = 0.0, next;
        for (size_t i = 0; i < n; i++) {
            s += shifted(p[i], prior_train, pi_new);
        }
        next = s / (double)n;
        res->iterations++;
        if (fabs(next - pi_new) < PREDICT_PRIOR_TOL) {
            pi_new = next;
            res->converged = true;
            break;
        }
        pi_new = next;
    }
    res->prior_new = pi_new;
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)shifted(p[i], prior_train, pi_new);
    }
    return 0;
}

int predict_prior_adapt_groups(const float *p,
                               const uint32_t *group,
                               size_t n,
                               size_t n_groups,
                               double prior_train,
                               size_t min_n,
                               float *out,
                               float *scratch,
                               struct predict_prior_shift *res,
                               char *errmsg)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = p[i];
    }
    for (size_t g = 0; g < n_groups; g++) {
        size_t k = 0;
        int rv;
        res[g].prior_train = prior_train;
        res[g].prior_new = NAN;
        res[g].iterations = 0;
        res[g].converged = false;
        res[g].n = 0;
        for (size_t i = 0; i < n; i++) {
            if (group[i] == g) {
                scratch[k++] = p[i];
            }
        }
        res[g].n = k;
        if (k == 0 || k < min_n) {
            continue;
        }
        rv = predict_prior_adapt(scratch, k, prior_train, scratch, &res[g],
                                 errmsg);
        if (rv != 0) {
            return rv;
        }
        res[g].n = k;
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (group[i] == g) {
                out[i] = scratch[k++];
            }
        }
    }
    return 0;
}
