/* Robust statistics: median, median absolute deviation, robust z scores. */
#include <math.h>
#include <string.h>

#include "predict/predict.h"

#define MAD_TO_SIGMA 1.4826

/* The k-th smallest of @v[0..@n) (Hoare's selection); reorders @v. */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0;
    size_t hi = n - 1;

    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo;
        size_t j = hi;
        while (i <= j) {
            while (v[i] < pivot) {
                i++;
            }
            while (v[j] > pivot) {
                j--;
            }
            if (i <= j) {
                double tmp = v[i];
                v[i] = v[j];
                v[j] = tmp;
                i++;
                if (j == 0) {
                    break;
                }
                j--;
            }
        }
        if (k <= j) {
            hi = j;
        } else if (k >= i) {
            lo = i;
        } else {
            return v[k];
        }
    }
    return v[k];
}

/* The median of @v[0..@n), n >= 1; reorders @v. */
static double median_inplace(double *v, size_t n)
{
    double hi = select_kth(v, n, n / 2);

    if (n % 2 == 1) {
        return hi;
    }
    /* The lower middle is the largest of the lower half. */
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++) {
        lo = v[i] > lo ? v[i] : lo;
    }
    return (lo + hi) / 2.0;
}

void predict_median_mad(const double *v,
                        size_t n,
                        double *scratch,
                        double *median,
                        double *mad)
{
    double med;

    memcpy(scratch, v, n * sizeof *v);
    med = median_inplace(scratch, n);
    for (size_t i = 0; i < n; i++) {
        scratch[i] = fabs(v[i] - med);
    }
    *median = med;
    *mad = median_inplace(scratch, n);
}

double predict_robust_z(double x, double median, double mad)
{
    double z;

    if (x == median) {
        return 0.0;
    }
    if (mad <= 0.0) {
        return x > median ? PREDICT_Z_CAP : -PREDICT_Z_CAP;
    }
    z = (x - median) / (MAD_TO_SIGMA * mad);
    if (z > PREDICT_Z_CAP) {
        return PREDICT_Z_CAP;
    }
    return z < -PREDICT_Z_CAP ? -PREDICT_Z_CAP : z;
}
