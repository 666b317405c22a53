/* Train-predict smoke tests on slices of the real data sets: each model must
 * beat a trivial baseline on units it was not trained on.  The data is found
 * through AUGUR_DATA_DIR (default <repo>/../shared/data); without it the
 * test reports SKIP (exit 77), it does not pass. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "predict/predict.h"

#define SKIP_CODE 77

static char data_dir[4096];

static bool exists(const char *rel)
{
    char path[4200];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    return stat(path, &st) == 0;
}

/* Read @rel under the data directory. */
static void read_data(struct predict_dataset *ds,
                      enum predict_format f,
                      const char *rel)
{
    char path[4200];
    char errmsg[PREDICT_ERRMSG_SIZE];

    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    if (predict_dataset_read(ds, f, path, 0, errmsg) != 0) {
        fail_msg("%s", errmsg);
    }
}

/* Split rows by group: groups with (index % @mod) < @cut train. */
static void split(const struct predict_dataset *ds,
                  uint32_t mod,
                  uint32_t cut,
                  size_t *train,
                  size_t *ntr,
                  size_t *test,
                  size_t *nte)
{
    *ntr = *nte = 0;
    for (size_t r = 0; r < ds->n_rows; r++) {
        if (ds->group[r] % mod < cut) {
            train[(*ntr)++] = r;
        } else {
            test[(*nte)++] = r;
        }
    }
}

/* Train with @rounds and score the test rows. */
static void fit_score(const struct predict_dataset *ds,
                      const size_t *train,
                      size_t ntr,
                      const size_t *test,
                      size_t nte,
                      unsigned rounds,
                      struct predict_score *sc)
{
    struct predict_train_params p;
    struct predict_model m;
    char errmsg[PREDICT_ERRMSG_SIZE];
    float *x = malloc(nte * ds->n_features * sizeof *x);

    assert_non_null(x);
    predict_train_params_default(&p, ds->format);
    p.rounds = rounds;
    p.nthread = 1;
    p.eta = 0.2; /* few rounds: keep the test fast */
    predict_model_init(&m);
    if (predict_model_train(&m, ds, train, ntr, &p, errmsg) != 0) {
        fail_msg("train: %s", errmsg);
    }
    for (size_t i = 0; i < nte; i++) {
        memcpy(x + i * ds->n_features, ds->x + test[i] * ds->n_features,
               ds->n_features * sizeof *x);
    }
    if (predict_model_score(&m, x, nte, 0, sc, errmsg) != 0) {
        fail_msg("score: %s", errmsg);
    }
    predict_model_close(&m);
    free(x);
}

static void cmapss_model_beats_the_mean_on_held_out_engines(void **state)
{
    struct predict_dataset ds;
    size_t *train, *test, ntr, nte;
    struct predict_score *sc;
    float *pred, *truth, *mean;
    double rmse, base, avg = 0;

    (void)state;
    read_data(&ds, PREDICT_FORMAT_CMAPSS, "cmapss/train_FD001.txt");
    train = calloc(ds.n_rows, sizeof *train);
    test = calloc(ds.n_rows, sizeof *test);
    sc = malloc(ds.n_rows * sizeof *sc);
    pred = malloc(ds.n_rows * sizeof *pred);
    truth = malloc(ds.n_rows * sizeof *truth);
    mean = malloc(ds.n_rows * sizeof *mean);
    split(&ds, 10, 7, train, &ntr, test, &nte);
    fit_score(&ds, train, ntr, test, nte, 25, sc);
    for (size_t i = 0; i < ntr; i++) {
        avg += fmin(ds.rul[train[i]], 125.0);
    }
    avg /= (double)ntr;
    for (size_t i = 0; i < nte; i++) {
        pred[i] = sc[i].rul;
        truth[i] = (float)fmin(ds.rul[test[i]], 125.0);
        mean[i] = (float)avg;
    }
    rmse = predict_rmse(pred, truth, nte);
    base = predict_rmse(mean, truth, nte);
    print_message("cmapss: RMSE %.2f, mean baseline %.2f\n", rmse, base);
    assert_true(rmse < 0.5 * base);
    free(train);
    free(test);
    free(sc);
    free(pred);
    free(truth);
    free(mean);
    predict_dataset_close(&ds);
}

static void backblaze_model_ranks_failing_drives_first(void **state)
{
    struct predict_dataset ds;
    size_t *train, *test, ntr, nte;
    struct predict_score *sc;
    float *score, *label;
    double recall, thr, fpr;

    (void)state;
    read_data(&ds, PREDICT_FORMAT_BACKBLAZE,
              "backblaze/ST8000NM0055_last_day.csv");
    train = calloc(ds.n_rows, sizeof *train);
    test = calloc(ds.n_rows, sizeof *test);
    sc = malloc(ds.n_rows * sizeof *sc);
    score = malloc(ds.n_rows * sizeof *score);
    label = malloc(ds.n_rows * sizeof *label);
    split(&ds, 2, 1, train, &ntr, test, &nte);
    fit_score(&ds, train, ntr, test, nte, 25, sc);
    for (size_t i = 0; i < nte; i++) {
        score[i] = sc[i].p_fail;
        label[i] = ds.label[test[i]];
    }
    assert_int_equal(
        predict_recall_at_fpr(score, label, nte, 0.01, &recall, &thr, &fpr), 0);
    print_message("backblaze: recall %.3f at FPR %.4f (random: 0.01)\n", recall,
                  fpr);
    assert_true(fpr <= 0.01);
    assert_true(recall > 0.2);
    free(train);
    free(test);
    free(sc);
    free(score);
    free(label);
    predict_dataset_close(&ds);
}

static void pdm_model_beats_the_base_rate_on_held_out_machines(void **state)
{
    struct predict_dataset ds;
    size_t *train, *test, ntr, nte, pos = 0;
    struct predict_score *sc;
    float *score, *label;
    double precision, recall, rate;

    (void)state;
    read_data(&ds, PREDICT_FORMAT_PDM, "azure-pdm");
    train = calloc(ds.n_rows, sizeof *train);
    test = calloc(ds.n_rows, sizeof *test);
    sc = malloc(ds.n_rows * sizeof *sc);
    score = malloc(ds.n_rows * sizeof *score);
    label = malloc(ds.n_rows * sizeof *label);
    split(&ds, 10, 7, train, &ntr, test, &nte);
    fit_score(&ds, train, ntr, test, nte, 25, sc);
    for (size_t i = 0; i < nte; i++) {
        score[i] = sc[i].p_fail;
        label[i] = ds.label[test[i]];
        pos += label[i] > 0.5f;
    }
    rate = (double)pos / (double)nte;
    predict_precision_recall(score, label, nte, 0.5, &precision, &recall);
    print_message("pdm: precision %.3f recall %.3f (base rate %.3f)\n",
                  precision, recall, rate);
    assert_true(precision > 5 * rate);
    assert_true(recall > 0.5);
    free(train);
    free(test);
    free(sc);
    free(score);
    free(label);
    predict_dataset_close(&ds);
}

int main(void)
{
    const char *env = getenv("AUGUR_DATA_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cmapss_model_beats_the_mean_on_held_out_engines),
        cmocka_unit_test(backblaze_model_ranks_failing_drives_first),
        cmocka_unit_test(pdm_model_beats_the_base_rate_on_held_out_machines),
    };

    /* Where the data sets live: $AUGUR_DATA_DIR, else next to the checkout
     * (../shared/data).  Never an absolute path of some machine: a checkout
     * elsewhere sets AUGUR_DATA_DIR or skips. */
    const char *const places[] = {
        env != NULL && env[0] != '\0' ? env : NULL,
        AUGUR_SOURCE_DIR "/../shared/data",
    };
    bool found = false;
    for (size_t i = 0; i < sizeof places / sizeof places[0] && !found; i++) {
        if (places[i] == NULL) {
            continue;
        }
        snprintf(data_dir, sizeof data_dir, "%s", places[i]);
        found = exists("cmapss/train_FD001.txt") &&
                exists("backblaze/ST8000NM0055_last_day.csv") &&
                exists("azure-pdm/PdM_telemetry.csv");
        if (env != NULL && env[0] != '\0') {
            break; /* an explicit place is the only one */
        }
    }
    if (!found) {
        printf("SKIP: the data sets are not in %s (set AUGUR_DATA_DIR)\n",
               data_dir);
        return SKIP_CODE;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
