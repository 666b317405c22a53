/* Evaluation metrics and the cross-validation split by unit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

double predict_rmse(const float *pred, const float *truth, size_t n)
{
    double s = 0.0;

    if (n == 0) {
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)truth[i];
        s += d * d;
    }
    return sqrt(s / (double)n);
}

double predict_phm08_score(const float *pred, const float *truth, size_t n)
{
    double s = 0.0;

    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)truth[i];
        s += d < 0 ? exp(-d / 13.0) - 1.0 : exp(d / 10.0) - 1.0;
    }
    return s;
}

static int float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a;
    float y = *(const float *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

int predict_recall_at_fpr(const float *score,
                          const float *label,
                          size_t n,
                          double fpr,
                          double *recall,
                          double *threshold,
                          double *fpr_out)
{
    size_t n_neg = 0, n_pos = 0, allowed, fp = 0, tp = 0;
    float *neg;
    double thr;

    for (size_t i = 0; i < n; i++) {
        n_neg += label[i] <= 0.5f;
    }
    n_pos = n - n_neg;
    neg = malloc((n_neg + 1) * sizeof *neg);
    if (neg == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        if (label[i] <= 0.5f) {
            neg[k++] = score[i];
        }
    }
    qsort(neg, n_neg, sizeof *neg, float_cmp);
    /* Flag scores strictly above the threshold: at most @allowed
     * negatives may be above it.  Ties at the threshold are not flagged,
     * so the FPR never exceeds the budget. */
    allowed = (size_t)floor(fpr * (double)n_neg);
    if (n_neg == 0) {
        thr = -INFINITY;
    } else if (allowed >= n_neg) {
        thr = (double)neg[0] - 1.0;
    } else {
        thr = neg[n_neg - 1 - allowed];
    }
    free(neg);
    for (size_t i = 0; i < n; i++) {
        if (score[i] > thr) {
            if (label[i] > 0.5f) {
                tp++;
            } else {
                fp++;
            }
        }
    }
    *recall = n_pos > 0 ? (double)tp / (double)n_pos : 0.0;
    *threshold = thr;
    *fpr_out = n_neg > 0 ? (double)fp / (double)n_neg : 0.0;
    return 0;
}

void predict_precision_recall(const float *score,
                              const float *label,
                              size_t n,
                              double threshold,
                              double *precision,
                              double *recall)
{
    size_t tp = 0, fp = 0, fn = 0;

    for (size_t i = 0; i < n; i++) {
        bool flagged = score[i] >= threshold;
        bool pos = label[i] > 0.5f;
        tp += flagged && pos;
        fp += flagged && !pos;
        fn += !flagged && pos;
    }
    *precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0.0;
    *recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0.0;
}

/* splitmix64: a small deterministic generator for the shuffle. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void predict_folds_assign(size_t n_groups,
                          unsigned k,
                          uint64_t seed,
                          unsigned *fold_of_group)
{
    /* Deal the groups round-robin, then shuffle the assignment
     * (Fisher-Yates): folds differ in size by at most one. */
    for (size_t i = 0; i < n_groups; i++) {
        fold_of_group[i] = (unsigned)(i % (k > 0 ? k : 1));
    }
    for (size_t i = n_groups; i > 1; i--) {
        size_t j = (size_t)(splitmix(&seed) % i);
        unsigned t = fold_of_group[i - 1];
        fold_of_group[i - 1] = fold_of_group[j];
        fold_of_group[j] = t;
    }
}

struct ranked
{
    float score;
    bool positive;
};

static int ranked_cmp(const void *a, const void *b)
{
    float x = ((const struct ranked *)a)->score;
    float y = ((const struct ranked *)b)->score;

    return x < y ? -1 : x > y ? 1 : 0;
}

int predict_auc(const float *score, const float *label, size_t n, double *auc)
{
    struct ranked *v;
    size_t pos = 0;
    double rank_sum = 0.0;

    *auc = NAN;
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i])) {
            return 0;
        }
        pos += label[i] > 0.5f;
    }
    if (pos == 0 || pos == n) {
        return 0;
    }
    v = malloc(n * sizeof *v);
    if (v == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].score = score[i];
        v[i].positive = label[i] > 0.5f;
    }
    qsort(v, n, sizeof *v, ranked_cmp);
    /* Ranks from 1; a run of equal scores shares its average rank. */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double avg;
        while (j < n && v[j].score == v[i].score) {
            j++;
        }
        avg = ((double)(i + 1) + (double)j) / 2.0;
        for (size_t k = i; k < j; k++) {
            if (v[k].positive) {
                rank_sum += avg;
            }
        }
        i = j;
    }
    free(v);
    *auc = (rank_sum - (double)pos * ((double)pos + 1.0) / 2.0) /
           ((double)pos * (double)(n - pos));
    return 0;
}
