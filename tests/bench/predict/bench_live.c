/* Live scoring at fleet scale (predict/live.h): the time of a round over
 * many resources, and how many scores a round commits under a realistic
 * drift, i.e. the Raft writes for scores.  Prints figures; asserts nothing
 * about time.
 *
 *   live_bench [--resources N] [--metrics M] [--rounds R] [--quick]
 *   live_bench --model FILE --data AZURE_PDM_DIR [--resources N] [--rounds R]
 *
 * Anomaly mode (no model): every resource reports M metrics each round (a
 * second) with Gaussian noise; after the warm-up come R rounds of noise
 * alone (false commits), then R rounds in which 1 resource in 1000 starts
 * a degradation: one metric ramps to +12 sigma over 60 rounds (commits per
 * episode).  Model mode: every resource replays an Azure PdM machine from
 * a random hour, one recorded hour per round (3600 times real time: risk
 * moves far faster than in a real fleet), scored by the model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "predict/live.h"
#include "predict/predict.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

struct bench
{
    struct predict_live l;
    struct predict_live_score *out;
    size_t n;
    unsigned metrics;
    char (*ids)[32];
    char (*names)[32]; /* metric names: m.0, m.1, ... */
    double *ramp;      /* per resource: rounds into its degradation, < 0 none */
    double round_s;    /* summed */
    double feed_s;
    unsigned rounds;
};

static int bench_open(struct bench *b, size_t n, unsigned metrics)
{
    struct predict_live_config c;

    memset(b, 0, sizeof *b);
    predict_live_config_default(&c);
    c.max_resources = n;
    c.max_metrics = metrics;
    if (predict_live_init(&b->l, &c) != 0) {
        fprintf(stderr, "live_bench: %s\n", b->l.errmsg);
        return -1;
    }
    b->n = n;
    b->metrics = metrics;
    b->out = malloc(n * sizeof *b->out);
    b->ids = malloc(n * sizeof *b->ids);
    b->ramp = malloc(n * sizeof *b->ramp);
    b->names = malloc(metrics * sizeof *b->names);
    if (b->out == NULL || b->ids == NULL || b->ramp == NULL ||
        b->names == NULL) {
        return -1;
    }
    for (unsigned m = 0; m < metrics; m++) {
        snprintf(b->names[m], sizeof b->names[m], "m.%u", m);
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(b->ids[i], sizeof b->ids[i], "host-%zu", i);
        b->ramp[i] = -1.0;
    }
    return 0;
}

static void bench_close(struct bench *b)
{
    predict_live_close(&b->l);
    free(b->out);
    free(b->ids);
    free(b->ramp);
    free(b->names);
}

/* One round: every resource reports, then the round.  Returns commits. */
static size_t anomaly_round(struct bench *b, int64_t t)
{
    double t0 = now_s();
    size_t k = 0;

    for (size_t i = 0; i < b->n; i++) {
        struct predict_live_slot *s = predict_live_report(&b->l, b->ids[i], t);
        if (s == NULL) {
            continue;
        }
        if (predict_live_slot_new(s)) {
            predict_live_slot_init(&b->l, s, "host", 0.0);
        }
        for (unsigned m = 0; m < b->metrics; m++) {
            double v = 50.0 + 5.0 * gauss();
            if (m == 0 && b->ramp[i] >= 0.0) {
                v += 5.0 * 12.0 * fmin(b->ramp[i] / 60.0, 1.0);
                b->ramp[i] += 1.0;
            }
            predict_live_sample(&b->l, s, b->names[m], v);
        }
    }
    b->feed_s += now_s() - t0;
    t0 = now_s();
    if (predict_live_round(&b->l, t, b->out, b->n, &k) != 0) {
        fprintf(stderr, "live_bench: round: %s\n", b->l.errmsg);
        exit(1);
    }
    b->round_s += now_s() - t0;
    b->rounds++;
    return k;
}

static int bench_anomaly(size_t n, unsigned metrics, unsigned rounds)
{
    struct bench b;
    int64_t t = 1000;
    size_t noise = 0, drift = 0, episodes = 0;
    unsigned warm;

    if (bench_open(&b, n, metrics) != 0) {
        return 1;
    }
    warm = b.l.cfg.warm_reports;
    for (unsigned r = 0; r < warm; r++, t += 1000) {
        (void)anomaly_round(&b, t);
    }
    b.round_s = b.feed_s = 0;
    b.rounds = 0;
    for (unsigned r = 0; r < rounds; r++, t += 1000) {
        noise += anomaly_round(&b, t);
    }
    for (size_t i = 0; i < n; i += 1000) {
        b.ramp[i] = 0.0;
        episodes++;
    }
    for (unsigned r = 0; r < rounds + 60; r++, t += 1000) {
        drift += anomaly_round(&b, t);
    }
    printf(
        "anomaly score, %zu resources x %u metrics (%zu bytes of "
        "state per metric at most):\n",
        n, metrics, (size_t)170);
    printf(
        "  a round: %.3f s to score, %.3f s to feed %zu samples "
        "(mean of %u rounds)\n",
        b.round_s / b.rounds, b.feed_s / b.rounds, n * metrics, b.rounds);
    printf(
        "  noise alone: %zu commits in %u rounds = %.3f per round "
        "(%.4f per round per 10,000 hosts)\n",
        noise, rounds, (double)noise / rounds,
        (double)noise / rounds * 10000.0 / (double)n);
    printf(
        "  %zu degradations (0 to +12 sigma in 60 s): %zu commits in %u "
        "rounds = %.1f per degradation net of the noise's\n",
        episodes, drift, rounds + 60,
        ((double)drift - (double)noise / rounds * (rounds + 60)) /
            (double)episodes);
    printf("  stats: %llu scored, %llu commits, %llu dropped metrics\n",
           (unsigned long long)b.l.stats.scored,
           (unsigned long long)b.l.stats.commits,
           (unsigned long long)b.l.stats.dropped_metrics);
    bench_close(&b);
    return 0;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    *buf = malloc((size_t)n + 1);
    if (*buf == NULL || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return -1;
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}

static int bench_model(const char *model_path,
                       const char *data,
                       size_t n,
                       unsigned rounds)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_dataset ds;
    struct predict_model m;
    struct bench b;
    size_t *start;
    size_t total = 0;
    char **names;
    char *buf;
    size_t len;
    int64_t t = 1000;
    double t0;

    predict_model_init(&m);
    predict_dataset_init(&ds);
    if (read_file(model_path, &buf, &len) != 0 ||
        predict_model_load(&m, buf, len, errmsg) != 0) {
        fprintf(stderr, "live_bench: %s: cannot load the model\n", model_path);
        return 1;
    }
    free(buf);
    t0 = now_s();
    if (predict_dataset_read(&ds, PREDICT_FORMAT_PDM, data, 0, errmsg) != 0 ||
        predict_model_check(&m, &ds, errmsg) != 0) {
        fprintf(stderr, "live_bench: %s\n", errmsg);
        return 1;
    }
    printf("read %zu rows of %zu machines in %.1f s\n", ds.n_rows, ds.n_groups,
           now_s() - t0);
    if (bench_open(&b, n, ds.n_features) != 0) {
        return 1;
    }
    if (predict_live_model_set(&b.l, "host", &m, "pdm@1") != 0) {
        return 1;
    }
    names = calloc(ds.n_features, sizeof *names);
    start = malloc(n * sizeof *start);
    for (unsigned f = 0; f < ds.n_features; f++) {
        names[f] = malloc(128);
        snprintf(names[f], 128, "pdm.%s", ds.feature_names[f]);
    }
    for (size_t i = 0; i < n; i++) {
        start[i] = (size_t)(uniform() * (double)(ds.n_rows - rounds - 50));
    }
    for (unsigned r = 0; r < rounds + b.l.cfg.warm_reports; r++, t += 1000) {
        size_t k = 0;
        double f0 = now_s();
        for (size_t i = 0; i < n; i++) {
            const float *x = ds.x + (start[i] + r) * ds.n_features;
            struct predict_live_slot *s =
                predict_live_report(&b.l, b.ids[i], t);
            if (predict_live_slot_new(s)) {
                predict_live_slot_init(&b.l, s, "host", 0.0);
            }
            for (unsigned f = 0; f < ds.n_features; f++) {
                if (isfinite(x[f])) {
                    predict_live_sample(&b.l, s, names[f], x[f]);
                }
            }
        }
        b.feed_s += now_s() - f0;
        f0 = now_s();
        if (predict_live_round(&b.l, t, b.out, n, &k) != 0) {
            fprintf(stderr, "live_bench: round: %s\n", b.l.errmsg);
            return 1;
        }
        b.round_s += now_s() - f0;
        if (r >= b.l.cfg.warm_reports) {
            total += k;
            b.rounds++;
        } else {
            b.round_s = 0;
            b.feed_s = 0;
        }
    }
    printf(
        "model pdm (%u features), %zu resources, each a PdM machine "
        "from a random hour, one recorded hour per round:\n",
        m.n_features, n);
    printf(
        "  a round: %.3f s to score (one XGBoost batch; reasons only for "
        "commits), %.3f s to feed (mean of %u rounds)\n",
        b.round_s / b.rounds, b.feed_s / b.rounds, b.rounds);
    printf(
        "  %zu commits in %u rounds = %.1f per round (%.2f per round per "
        "10,000 hosts) at an hour of risk per second\n",
        total, b.rounds, (double)total / b.rounds,
        (double)total / b.rounds * 10000.0 / (double)n);
    for (unsigned f = 0; f < ds.n_features; f++) {
        free(names[f]);
    }
    free(names);
    free(start);
    bench_close(&b);
    predict_model_close(&m);
    predict_dataset_close(&ds);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    unsigned metrics = 8;
    unsigned rounds = 60;
    const char *model = NULL;
    const char *data = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            n = 2000;
            rounds = 10;
        } else if (strcmp(argv[i], "--resources") == 0 && i + 1 < argc) {
            n = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) {
            metrics = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: live_bench [--quick] [--resources N] [--metrics "
                    "M] [--rounds R] [--model FILE --data AZURE_PDM_DIR]\n");
            return 2;
        }
    }
    if (n == 0 || metrics == 0 || metrics > 4096 || rounds == 0) {
        fprintf(stderr, "live_bench: bad sizes\n");
        return 2;
    }
    if (model != NULL) {
        if (data == NULL) {
            fprintf(stderr, "live_bench: --model needs --data\n");
            return 2;
        }
        return bench_model(model, data, n, rounds);
    }
    return bench_anomaly(n, metrics, rounds);
}
