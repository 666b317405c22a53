/* augur-load's arithmetic: percentiles, failed window, per-second rows. */
#include "tests/e2e/load_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int load_record_failed(const struct load_record *r)
{
    return r->status == 0 || r->status >= 500;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double load_percentile(double *v, size_t n, double q)
{
    size_t rank;

    if (n == 0) {
        return 0.0;
    }
    qsort(v, n, sizeof *v, cmp_double);
    rank = (size_t)ceil(q * (double)n);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return v[rank - 1];
}

void load_summary_close(struct load_summary *s)
{
    free(s->by_second);
    memset(s, 0, sizeof *s);
}

int load_summarize(const struct load_record *r,
                   size_t n,
                   struct load_summary *out)
{
    double *lat, first = -1.0, last = -1.0;
    size_t answered = 0;
    unsigned secs = 0;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        unsigned s = r[i].send_ms > 0 ? (unsigned)(r[i].send_ms / 1000.0) : 0;
        if (s + 1 > secs) {
            secs = s + 1;
        }
    }
    lat = malloc((n > 0 ? n : 1) * sizeof *lat);
    out->by_second = calloc(secs > 0 ? secs : 1, sizeof *out->by_second);
    if (lat == NULL || out->by_second == NULL) {
        free(lat);
        load_summary_close(out);
        return AUGUR_ENOMEM;
    }
    out->n_seconds = secs;
    out->requests = n;
    for (size_t i = 0; i < n; i++) {
        if (load_record_failed(&r[i])) {
            out->failed++;
            if (first < 0 || r[i].send_ms < first) {
                first = r[i].send_ms;
            }
            if (r[i].send_ms > last) {
                last = r[i].send_ms;
            }
        }
        if (r[i].status != 0) {
            lat[answered++] = r[i].latency_ms;
        }
    }
    out->failed_window_s = out->failed > 0 ? (last - first) / 1000.0 : 0.0;
    out->p50_ms = load_percentile(lat, answered, 0.50);
    out->p99_ms = load_percentile(lat, answered, 0.99);
    for (unsigned s = 0; s < secs; s++) {
        struct load_second *b = &out->by_second[s];
        size_t k = 0;

        b->t = s;
        for (size_t i = 0; i < n; i++) {
            unsigned t =
                r[i].send_ms > 0 ? (unsigned)(r[i].send_ms / 1000.0) : 0;
            if (t != s) {
                continue;
            }
            b->requests++;
            b->failed += load_record_failed(&r[i]) ? 1 : 0;
            if (r[i].status != 0) {
                lat[k++] = r[i].latency_ms;
            }
        }
        /* load_percentile sorts: the second call reads the sorted copy. */
        b->p50_ms = load_percentile(lat, k, 0.50);
        b->p99_ms = load_percentile(lat, k, 0.99);
    }
    free(lat);
    return 0;
}
