/* The predictor's speed: streaming feature updates per second on one core,
 * scoring 100,000 resources, and loading a model file.  Prints figures; it
 * asserts nothing about time.
 *
 *   predict_bench [--quick] [--model FILE]
 *
 * Without --model it trains a model shaped like the C-MAPSS one (183
 * features, the default rounds and depth, classifier and regressor) on
 * synthetic rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "predict/predict.h"

#define N_STREAMS 10000
#define N_FEATURES 183

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
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int bench_updates(unsigned rounds)
{
    static const struct predict_stream_config cfg = {
        .ewma_alpha = 0.1,
        .holt_alpha = 0.2,
        .holt_beta = 0.1,
        .window = 30,
        .baseline = 20,
    };
    struct predict_stream *s = malloc(N_STREAMS * sizeof *s);
    double *samples = malloc(4096 * sizeof *samples);
    float f[PREDICT_SF_COUNT];
    double t0, t1, sink = 0;
    uint64_t n = 0;

    if (s == NULL || samples == NULL) {
        return -1;
    }
    for (int i = 0; i < 4096; i++) {
        samples[i] = 100.0 + uniform();
    }
    for (int i = 0; i < N_STREAMS; i++) {
        predict_stream_init(&s[i], &cfg);
    }
    t0 = now_s();
    for (unsigned r = 0; r < rounds; r++) {
        for (int i = 0; i < N_STREAMS; i++) {
            predict_stream_update(&s[i],
                                  samples[(r * 31 + (unsigned)i) & 4095]);
        }
        n += N_STREAMS;
    }
    t1 = now_s();
    for (int i = 0; i < N_STREAMS; i++) {
        sink += s[i].ewma_mean;
    }
    printf(
        "feature updates: %llu samples in %.3f s = %.2f M samples/s (one "
        "core; window 30, baseline 20; checksum %.1f)\n",
        (unsigned long long)n, t1 - t0, (double)n / (t1 - t0) / 1e6, sink);
    t0 = now_s();
    for (int i = 0; i < N_STREAMS; i++) {
        predict_stream_features(&s[i], f);
        sink += f[PREDICT_SF_ROBUST_Z];
    }
    t1 = now_s();
    printf(
        "feature extraction (all %d features of a stream, O(window)): "
        "%.2f M streams/s\n",
        PREDICT_SF_COUNT, N_STREAMS / (t1 - t0) / 1e6);
    free(s);
    free(samples);
    return 0;
}

/* Synthetic rows: failure when a few features drift. */
static void synthetic(struct predict_dataset *ds, size_t rows)
{
    predict_dataset_init(ds);
    ds->format = PREDICT_FORMAT_CMAPSS;
    ds->window = 30;
    ds->n_features = N_FEATURES;
    ds->feature_names = calloc(N_FEATURES, sizeof(char *));
    for (int i = 0; i < N_FEATURES; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        ds->feature_names[i] = strdup(name);
    }
    ds->n_rows = ds->cap = rows;
    ds->x = malloc(rows * N_FEATURES * sizeof(float));
    ds->label = malloc(rows * sizeof(float));
    ds->rul = malloc(rows * sizeof(float));
    ds->time = calloc(rows, sizeof(double));
    ds->group = malloc(rows * sizeof(uint32_t));
    ds->family = calloc(rows, sizeof(uint32_t));
    for (size_t r = 0; r < rows; r++) {
        double life = uniform();
        for (int i = 0; i < N_FEATURES; i++) {
            ds->x[r * N_FEATURES + i] =
                (float)(uniform() + (i % 7 == 0 ? life * 2 : 0));
        }
        ds->rul[r] = (float)(200 * (1 - life));
        ds->label[r] = ds->rul[r] <= 30 ? 1.0f : 0.0f;
        ds->group[r] = (uint32_t)(r / 200);
    }
}

static int model_get(struct predict_model *m,
                     const char *path,
                     bool quick,
                     char **buf,
                     size_t *len)
{
    char errmsg[PREDICT_ERRMSG_SIZE];

    predict_model_init(m);
    if (path != NULL) {
        FILE *f = fopen(path, "rb");
        long n;
        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "cannot read %s\n", path);
            return -1;
        }
        *len = (size_t)n;
        *buf = malloc(*len + 1);
        if (*buf == NULL || fread(*buf, 1, *len, f) != *len) {
            fclose(f);
            return -1;
        }
        fclose(f);
        return predict_model_load(m, *buf, *len, errmsg) == 0 ? 0 : -1;
    }
    {
        struct predict_dataset ds;
        struct predict_train_params p;
        double t0 = now_s();
        synthetic(&ds, quick ? 2000 : 20000);
        predict_train_params_default(&p, PREDICT_FORMAT_CMAPSS);
        if (quick) {
            p.rounds = 20;
            p.nthread = 1;
        }
        if (predict_model_train(m, &ds, NULL, 0, &p, errmsg) != 0) {
            fprintf(stderr, "train: %s\n", errmsg);
            predict_dataset_close(&ds);
            return -1;
        }
        printf(
            "trained a synthetic model: %zu rows x %d features, %u rounds "
            "x 2 boosters, depth %u, in %.1f s\n",
            ds.n_rows, N_FEATURES, p.rounds, p.max_depth, now_s() - t0);
        predict_dataset_close(&ds);
        return predict_model_save(m, buf, len, errmsg) == 0 ? 0 : -1;
    }
}

static int bench_model(const char *path, bool quick)
{
    struct predict_model m, back;
    char errmsg[PREDICT_ERRMSG_SIZE];
    char *buf = NULL;
    size_t len = 0, n = quick ? 1000 : 100000;
    struct predict_score *sc = malloc(n * sizeof *sc);
    float *x;
    double t0, best = 1e9;

    if (sc == NULL || model_get(&m, path, quick, &buf, &len) != 0) {
        return -1;
    }
    x = malloc(n * m.n_features * sizeof *x);
    if (x == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n * m.n_features; i++) {
        x[i] = (float)uniform();
    }
    for (int rep = 0; rep < 3; rep++) {
        t0 = now_s();
        if (predict_model_score(&m, x, n, 0, sc, errmsg) != 0) {
            fprintf(stderr, "score: %s\n", errmsg);
            return -1;
        }
        best = fmin(best, now_s() - t0);
    }
    printf("scoring %zu resources (p_fail%s): %.3f s (best of 3)\n", n,
           m.reg != NULL ? " and remaining life" : "", best);
    t0 = now_s();
    if (predict_model_score(&m, x, n / 100, PREDICT_TOP_MAX, sc, errmsg) != 0) {
        fprintf(stderr, "score: %s\n", errmsg);
        return -1;
    }
    printf("scoring %zu resources with their top %d reasons: %.3f s\n", n / 100,
           PREDICT_TOP_MAX, now_s() - t0);
    best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        predict_model_init(&back);
        t0 = now_s();
        if (predict_model_load(&back, buf, len, errmsg) != 0) {
            fprintf(stderr, "load: %s\n", errmsg);
            return -1;
        }
        best = fmin(best, now_s() - t0);
        predict_model_close(&back);
    }
    printf(
        "model load (%zu bytes, parse and both boosters): %.1f ms (best "
        "of 5)\n",
        len, best * 1e3);
    predict_model_close(&m);
    free(buf);
    free(sc);
    free(x);
    return 0;
}

int main(int argc, char **argv)
{
    bool quick = false;
    const char *model = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else {
            fprintf(stderr, "usage: predict_bench [--quick] [--model FILE]\n");
            return 2;
        }
    }
    if (bench_updates(quick ? 2 : 100) != 0 || bench_model(model, quick) != 0) {
        return 1;
    }
    return 0;
}
