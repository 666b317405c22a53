/* A latency histogram on fixed bucket bounds, in seconds: what a node
 * counts (apply latency, snapshot durations) for /metrics to show as a
 * Prometheus histogram.  Plain data, no allocation, no clock. */
#ifndef AUGUR_COMMON_HISTOGRAM_H
#define AUGUR_COMMON_HISTOGRAM_H

#include <stdint.h>

/* The upper bounds of the buckets, 0.1 ms to 10 s in 1-2.5-5 steps; a value
 * above the last falls in the +Inf bucket only. */
#define AUGUR_HISTOGRAM_BOUNDS 16
extern const double augur_histogram_bounds[AUGUR_HISTOGRAM_BOUNDS];

struct augur_histogram
{
    /* Values in (bounds[i-1], bounds[i]]; [AUGUR_HISTOGRAM_BOUNDS] holds
     * those above the last bound.  Not cumulative: the formatter adds. */
    uint64_t buckets[AUGUR_HISTOGRAM_BOUNDS + 1];
    uint64_t count;
    double sum; /* seconds */
};

/* Count one value of @seconds (negative counts as 0). */
void augur_histogram_observe(struct augur_histogram *h, double seconds);

#endif
