/* Fixed-bucket latency histograms (common/histogram.h). */
#include "common/histogram.h"

const double augur_histogram_bounds[AUGUR_HISTOGRAM_BOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
};

void augur_histogram_observe(struct augur_histogram *h, double seconds)
{
    unsigned i = 0;

    if (!(seconds > 0)) {
        seconds = 0; /* and NaN: a clock that went back counts as 0 */
    }
    while (i < AUGUR_HISTOGRAM_BOUNDS && seconds > augur_histogram_bounds[i]) {
        i++;
    }
    h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}
