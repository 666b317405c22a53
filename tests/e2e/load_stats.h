/* augur-load's arithmetic: percentiles, the failed-request window and the
 * per-second breakdown of a run's records.  No I/O: unit-tested alone. */
#ifndef AUGUR_TESTS_E2E_LOAD_STATS_H
#define AUGUR_TESTS_E2E_LOAD_STATS_H

#include <stddef.h>
#include <stdint.h>

/* One request: when it was due (ms since the run's start; its latency is
 * counted from then, so a stalled pool shows as latency, not as fewer
 * requests), its status (0: connection error or timeout) and latency. */
struct load_record
{
    double send_ms;
    double latency_ms;
    int status;
};

/* A request failed when it got no answer or a 5xx. */
int load_record_failed(const struct load_record *r);

/* The @q quantile (0 < q <= 1) of @v (@n values, sorted in place) by
 * nearest rank: the ceil(q * n)-th smallest; 0 when @n is 0. */
double load_percentile(double *v, size_t n, double q);

struct load_second
{
    unsigned t; /* seconds since the start */
    uint64_t requests, failed;
    double p50_ms, p99_ms; /* of that second's answered requests; 0: none */
};

struct load_summary
{
    uint64_t requests, failed;
    double failed_window_s;        /* first to last failed request; 0 if none */
    double p50_ms, p99_ms;         /* of the answered requests */
    struct load_second *by_second; /* n_seconds, owned by the summary */
    unsigned n_seconds;
};

/* Summarize @n records.  Returns 0 or AUGUR_ENOMEM; release with
 * load_summary_close. */
__attribute__((warn_unused_result)) int
load_summarize(const struct load_record *r, size_t n, struct load_summary *out);
void load_summary_close(struct load_summary *s);

#endif
