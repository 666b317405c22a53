/* The offline predictor: model train, predict and eval on dataset files,
 * no cluster needed. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "predict/predict.h"

#define MODEL_FORMATS "cmapss|backblaze|pdm"
#define MODEL_FILE_MAX (1u << 30)
#define FOLDS_DEFAULT 5
#define FOLD_SEED 20260601u
#define CMAPSS_CUTS_PER_UNIT 5
#define CMAPSS_MIN_OBSERVED 31 /* the shortest engine of the test split */
#define CMAPSS_CUT_RUL_MAX 150
#define EVAL_FPR 0.01
#define PDM_THRESHOLD 0.5

/* ---- progress on stderr -------------------------------------------------- */

struct progress
{
    double start;
    double last;
    const char *words;
    char stage[64];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_init(struct progress *p, const char *words)
{
    p->start = now_s();
    p->last = p->start;
    p->words = words;
    p->stage[0] = '\0';
}

/* A line at most every two seconds, after the first second. */
static void progress_rounds(void *arg, unsigned done, unsigned total)
{
    struct progress *p = arg;
    double t = now_s();

    if (t - p->last >= 2.0 || (done == total && t - p->start >= 1.0)) {
        fprintf(stderr, "augur: %s: %s%sround %u/%u (%.1f s)\n", p->words,
                p->stage, p->stage[0] != '\0' ? ": " : "", done, total,
                t - p->start);
        p->last = t;
    }
}

static void progress_note(struct progress *p, const char *fmt, ...)
    CLI_PRINTF(2, 3);

static void progress_note(struct progress *p, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "augur: %s: ", p->words);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%.1f s)\n", now_s() - p->start);
    p->last = now_s();
}

/* ---- shared steps -------------------------------------------------------- */

static int format_get(struct cli *cli,
                      const struct cli_args *args,
                      enum predict_format *f)
{
    const char *name = cli_args_get(args, "format");
    int rv = cli_value_choice(cli, "--format", name, MODEL_FORMATS);

    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    *f = (enum predict_format)predict_format_parse(name);
    return CLI_EXIT_OK;
}

static int window_get(struct cli *cli,
                      const struct cli_args *args,
                      double *window)
{
    const char *s = cli_args_get(args, "window");
    uint64_t v;
    int rv;

    *window = 0.0;
    if (s == NULL) {
        return CLI_EXIT_OK;
    }
    rv = cli_value_u64(cli, "--window", s, 1, &v);
    if (rv == CLI_EXIT_OK) {
        *window = (double)v;
    }
    return rv;
}

static int data_read(struct cli *cli,
                     const struct cli_args *args,
                     enum predict_format f,
                     double window,
                     struct predict_dataset *ds,
                     struct progress *pg)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    int rv =
        predict_dataset_read(ds, f, cli_args_get(args, "data"), window, errmsg);

    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    if (now_s() - pg->start >= 1.0) {
        progress_note(pg, "read %zu rows of %zu units", ds->n_rows,
                      ds->n_groups);
    }
    return CLI_EXIT_OK;
}

/* Score the rows @rows[0..@n) of @ds into @out (gathering them). */
static int rows_score(struct cli *cli,
                      const struct predict_model *m,
                      const struct predict_dataset *ds,
                      const size_t *rows,
                      size_t n,
                      unsigned top,
                      struct predict_score *out)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    size_t nf = ds->n_features;
    float *x = malloc((n * nf + 1) * sizeof *x);
    int rv;

    if (x == NULL) {
        return cli_fail(cli, AUGUR_ENOMEM, "");
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * nf, ds->x + rows[i] * nf, nf * sizeof *x);
    }
    rv = predict_model_score(m, x, n, top, out, errmsg);
    free(x);
    return rv != 0 ? cli_fail(cli, rv, errmsg) : CLI_EXIT_OK;
}

static int train_rows(struct cli *cli,
                      struct predict_model *m,
                      const struct predict_dataset *ds,
                      const size_t *rows,
                      size_t n,
                      struct progress *pg)
{
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];
    int rv;

    predict_train_params_default(&p, ds->format);
    p.progress = progress_rounds;
    p.progress_arg = pg;
    rv = predict_model_train(m, ds, rows, n, &p, errmsg);
    return rv != 0 ? cli_fail(cli, rv, errmsg) : CLI_EXIT_OK;
}

/* Mean and sample standard deviation of @v[0..@n). */
static void spread(const double *v, unsigned n, double *mean, double *sd)
{
    double s = 0.0, ss = 0.0;

    for (unsigned i = 0; i < n; i++) {
        s += v[i];
    }
    *mean = n > 0 ? s / n : NAN;
    for (unsigned i = 0; i < n; i++) {
        ss += (v[i] - *mean) * (v[i] - *mean);
    }
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
}

/* ---- model train ----------------------------------------------------------
 */

static int file_write(struct cli *cli,
                      const char *path,
                      const char *buf,
                      size_t len)
{
    char tmp[4096];
    FILE *f;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);

    if (n < 0 || (size_t)n >= sizeof tmp) {
        return cli_usage(cli, "--out path too long");
    }
    f = fopen(tmp, "wb");
    if (f == NULL) {
        char msg[CLI_ERR_SIZE];
        snprintf(msg, sizeof msg, "%.200s: %s", tmp, strerror(errno));
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    if (fwrite(buf, 1, len, f) != len || fflush(f) != 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        char msg[CLI_ERR_SIZE];
        snprintf(msg, sizeof msg, "writing %.200s: %s", path, strerror(errno));
        remove(tmp);
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    return CLI_EXIT_OK;
}

static int run_model_train(struct cli *cli, const struct cli_args *args)
{
    const char *out = cli_args_get(args, "out");
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_dataset ds;
    struct predict_model m;
    struct progress pg;
    enum predict_format f;
    double window;
    char *buf = NULL;
    size_t len = 0;
    int rv;

    progress_init(&pg, cli->words);
    if ((rv = format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = window_get(cli, args, &window)) != CLI_EXIT_OK ||
        (rv = data_read(cli, args, f, window, &ds, &pg)) != CLI_EXIT_OK) {
        return rv;
    }
    predict_model_init(&m);
    snprintf(pg.stage, sizeof pg.stage, "training");
    rv = train_rows(cli, &m, &ds, NULL, 0, &pg);
    if (rv == CLI_EXIT_OK) {
        int err = predict_model_save(&m, &buf, &len, errmsg);
        rv = err != 0 ? cli_fail(cli, err, errmsg)
                      : file_write(cli, out, buf, len);
    }
    if (rv == CLI_EXIT_OK) {
        fprintf(stderr,
                "augur: %s: trained on %zu rows of %zu units (%llu "
                "positive, window %g); wrote %s (%zu bytes) in %.1f s\n",
                cli->words, ds.n_rows, ds.n_groups,
                (unsigned long long)m.train_positives, ds.window, out, len,
                now_s() - pg.start);
    }
    free(buf);
    predict_model_close(&m);
    predict_dataset_close(&ds);
    return rv;
}

/* ---- model predict --------------------------------------------------------
 */

static int model_file_load(struct cli *cli,
                           const char *path,
                           struct predict_model *m)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    char msg[CLI_ERR_SIZE + PREDICT_ERRMSG_SIZE];
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0;
    int rv;

    if (f == NULL) {
        snprintf(msg, sizeof msg, "%s: %s", path, strerror(errno));
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    for (;;) {
        if (len == cap) {
            char *q;
            cap = cap == 0 ? 1u << 20 : cap * 2;
            if (cap > MODEL_FILE_MAX || (q = realloc(buf, cap)) == NULL) {
                free(buf);
                fclose(f);
                snprintf(msg, sizeof msg, "%s: too large", path);
                return cli_fail(cli, AUGUR_ETOOBIG, msg);
            }
            buf = q;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        snprintf(msg, sizeof msg, "%s: read error", path);
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    fclose(f);
    predict_model_init(m);
    rv = predict_model_load(m, buf, len, errmsg);
    free(buf);
    if (rv != 0) {
        snprintf(msg, sizeof msg, "%s: %s", path, errmsg);
        return cli_fail(cli, rv, msg);
    }
    return CLI_EXIT_OK;
}

/* Print @s as a CSV field: quoted when it holds a comma or a quote. */
static void csv_field(const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"') {
            putchar('"');
        }
        putchar(*s);
    }
    putchar('"');
}

static void datetime_print(double hours)
{
    time_t t = (time_t)llround(hours * 3600.0);
    struct tm tm;
    char text[32];

    if (gmtime_r(&t, &tm) != NULL &&
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm) > 0) {
        fputs(text, stdout);
    }
}

static int json_row(const struct predict_model *m,
                    const struct predict_dataset *ds,
                    size_t r,
                    const struct predict_score *s)
{
    json_t *o = json_object();
    json_t *top = json_array();
    int rv;

    if (o == NULL || top == NULL) {
        json_decref(o);
        json_decref(top);
        return AUGUR_ENOMEM;
    }
    json_object_set_new(o, "id", json_string(ds->group_names[ds->group[r]]));
    if (ds->format == PREDICT_FORMAT_PDM) {
        json_object_set_new(o, "hour", json_real(ds->time[r]));
    }
    json_object_set_new(o, "p_fail", json_real(s->p_fail));
    if (isfinite(s->rul)) {
        json_object_set_new(o, "rul", json_real(s->rul));
    }
    json_object_set_new(o, "confidence", json_real(s->confidence));
    for (unsigned k = 0; k < s->n_top; k++) {
        json_t *c = json_object();
        if (c != NULL) {
            json_object_set_new(
                c, "feature", json_string(m->feature_names[s->top_feature[k]]));
            json_object_set_new(c, "contribution",
                                json_real(s->top_contribution[k]));
            json_array_append_new(top, c);
        }
    }
    json_object_set_new(o, "top", top);
    rv = cli_json_print(o);
    json_decref(o);
    return rv;
}

static int run_model_predict(struct cli *cli, const struct cli_args *args)
{
    const char *output = cli_args_get(args, "output");
    bool json = output != NULL && strcmp(output, "json") == 0;
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_dataset ds;
    struct predict_model m;
    struct predict_score *sc = NULL;
    struct progress pg;
    enum predict_format f;
    size_t *rows = NULL, n = 0;
    int rv;

    progress_init(&pg, cli->words);
    if ((rv = format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = model_file_load(cli, cli_args_get(args, "model"), &m)) !=
            CLI_EXIT_OK) {
        return rv;
    }
    rv = data_read(cli, args, f, m.window, &ds, &pg);
    if (rv != CLI_EXIT_OK) {
        predict_model_close(&m);
        return rv;
    }
    if ((rv = predict_model_check(&m, &ds, errmsg)) != 0) {
        rv = cli_fail(cli, rv, errmsg);
        goto out;
    }
    rows = malloc((ds.n_rows + 1) * sizeof *rows);
    sc = calloc(ds.n_rows + 1, sizeof *sc);
    if (rows == NULL || sc == NULL) {
        rv = cli_fail(cli, AUGUR_ENOMEM, "");
        goto out;
    }
    if (f == PREDICT_FORMAT_PDM) {
        for (size_t r = 0; r < ds.n_rows; r++) {
            rows[n++] = r;
        }
    } else {
        n = predict_dataset_last_rows(&ds, rows);
    }
    rv = rows_score(cli, &m, &ds, rows, n, json ? 3 : 0, sc);
    if (rv != CLI_EXIT_OK) {
        goto out;
    }
    if (!json) {
        puts(f == PREDICT_FORMAT_CMAPSS      ? "unit,rul,p_fail"
             : f == PREDICT_FORMAT_BACKBLAZE ? "serial_number,p_fail"
                                             : "machineID,datetime,p_fail");
    }
    for (size_t i = 0; i < n && rv == CLI_EXIT_OK; i++) {
        size_t r = rows[i];
        if (json) {
            if (json_row(&m, &ds, r, &sc[i]) != 0) {
                rv = cli_fail(cli, AUGUR_ENOMEM, "");
            }
            continue;
        }
        csv_field(ds.group_names[ds.group[r]]);
        if (f == PREDICT_FORMAT_CMAPSS) {
            printf(",%.1f", (double)sc[i].rul);
        } else if (f == PREDICT_FORMAT_PDM) {
            putchar(',');
            datetime_print(ds.time[r]);
        }
        printf(",%.6f\n", (double)sc[i].p_fail);
    }
out:
    free(rows);
    free(sc);
    predict_model_close(&m);
    predict_dataset_close(&ds);
    return rv;
}

/* ---- model eval -----------------------------------------------------------
 */

/* The rows of @ds whose group is (@in) or is not in fold @fold. */
static size_t fold_rows(const struct predict_dataset *ds,
                        const unsigned *fog,
                        unsigned fold,
                        bool in,
                        size_t *rows)
{
    size_t n = 0;

    for (size_t r = 0; r < ds->n_rows; r++) {
        if ((fog[ds->group[r]] == fold) == in) {
            rows[n++] = r;
        }
    }
    return n;
}

/* splitmix64, for the deterministic truncation points. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Rows of the test rows @rows[0..@n) that emulate the test split: per
 * engine, CMAPSS_CUTS_PER_UNIT cycles at which the record is cut, with at
 * least CMAPSS_MIN_OBSERVED cycles seen and a true remaining life of at
 * most CMAPSS_CUT_RUL_MAX.  Returns their count, written to @cuts. */
static size_t cmapss_cuts(const struct predict_dataset *ds,
                          const size_t *rows,
                          size_t n,
                          uint64_t seed,
                          size_t *cuts)
{
    size_t k = 0;

    for (size_t i = 0; i < n;) {
        size_t j = i, lo, hi;
        while (j < n && ds->group[rows[j]] == ds->group[rows[i]]) {
            j++;
        }
        /* rows[i..j) is one engine; its row at index i + c has cycle c + 1
         * and remaining life (j - i - 1 - c). */
        lo = i + CMAPSS_MIN_OBSERVED - 1;
        hi = j - 1;
        if (j - i > CMAPSS_CUT_RUL_MAX + 1 && j - 1 - CMAPSS_CUT_RUL_MAX > lo) {
            lo = j - 1 - CMAPSS_CUT_RUL_MAX;
        }
        if (lo <= hi) {
            uint64_t s = seed ^ (ds->group[rows[i]] * 0x51ed27ull);
            for (int c = 0; c < CMAPSS_CUTS_PER_UNIT; c++) {
                cuts[k++] = rows[lo + mix(&s) % (hi - lo + 1)];
            }
        }
        i = j;
    }
    return k;
}

struct eval_ctx
{
    struct cli *cli;
    const struct predict_dataset *ds;
    struct progress *pg;
    unsigned folds;
    unsigned *fog; /* fold of each group */
    size_t *train;
    size_t *test;
    size_t *sub;
    struct predict_score *sc;
    float *a;
    float *b;
};

static int eval_cmapss(struct eval_ctx *e)
{
    const struct predict_dataset *ds = e->ds;
    double rmse_all[64], rmse_cut[64], score_cut[64], base_cut[64];
    double m1, s1, m2, s2, m3, s3, m4, s4;
    size_t n_cuts_total = 0;
    const double cap = 125.0;
    int rv = CLI_EXIT_OK;

    for (unsigned f = 0; f < e->folds && rv == CLI_EXIT_OK; f++) {
        size_t ntr = fold_rows(ds, e->fog, f, false, e->train);
        size_t nte = fold_rows(ds, e->fog, f, true, e->test);
        size_t nc;
        double mean_train = 0.0;
        struct predict_model m;

        predict_model_init(&m);
        snprintf(e->pg->stage, sizeof e->pg->stage, "fold %u/%u", f + 1,
                 e->folds);
        rv = train_rows(e->cli, &m, ds, e->train, ntr, e->pg);
        if (rv == CLI_EXIT_OK) {
            rv = rows_score(e->cli, &m, ds, e->test, nte, 0, e->sc);
        }
        predict_model_close(&m);
        if (rv != CLI_EXIT_OK) {
            break;
        }
        for (size_t i = 0; i < ntr; i++) {
            mean_train += fmin(ds->rul[e->train[i]], cap);
        }
        mean_train /= (double)ntr;
        for (size_t i = 0; i < nte; i++) {
            e->a[i] = e->sc[i].rul;
            e->b[i] = (float)fmin(ds->rul[e->test[i]], cap);
        }
        rmse_all[f] = predict_rmse(e->a, e->b, nte);
        /* The emulated test split: truncated records. */
        nc = cmapss_cuts(ds, e->test, nte, FOLD_SEED + f, e->sub);
        {
            /* Each cut's score, found by its row (test rows are
             * sorted). */
            size_t k = 0;
            for (size_t c = 0; c < nc; c++) {
                size_t lo = 0, hi = nte;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (e->test[mid] < e->sub[c]) {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                e->a[k] = e->sc[lo].rul;
                e->b[k] = (float)fmin(ds->rul[e->sub[c]], cap);
                k++;
            }
            rmse_cut[f] = predict_rmse(e->a, e->b, k);
            score_cut[f] = predict_phm08_score(e->a, e->b, k) * 100.0 /
                           ((double)k / CMAPSS_CUTS_PER_UNIT);
            for (size_t i = 0; i < k; i++) {
                e->a[i] = (float)mean_train;
            }
            base_cut[f] = predict_rmse(e->a, e->b, k);
            n_cuts_total += k;
        }
        progress_note(e->pg,
                      "fold %u/%u: RMSE all rows %.2f, truncated %.2f, "
                      "PHM08 per 100 engines %.0f",
                      f + 1, e->folds, rmse_all[f], rmse_cut[f], score_cut[f]);
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    spread(rmse_all, e->folds, &m1, &s1);
    spread(rmse_cut, e->folds, &m2, &s2);
    spread(score_cut, e->folds, &m3, &s3);
    spread(base_cut, e->folds, &m4, &s4);
    printf("C-MAPSS %zu engines, %u folds by engine, RUL capped at %.0f\n",
           ds->n_groups, e->folds, cap);
    printf("%-44s %10s %8s\n", "metric", "mean", "sd");
    printf("%-44s %10.2f %8.2f\n", "RMSE, every cycle of held-out engines", m1,
           s1);
    printf("%-44s %10.2f %8.2f\n", "RMSE, truncated records (test-like)", m2,
           s2);
    printf("%-44s %10.1f %8.1f\n", "PHM08 score per 100 truncated records", m3,
           s3);
    printf("%-44s %10.2f %8.2f\n", "baseline RMSE: mean training RUL", m4, s4);
    printf(
        "truncated records: %zu (%d per engine, >= %d cycles seen, true "
        "RUL <= %d)\n",
        n_cuts_total, CMAPSS_CUTS_PER_UNIT, CMAPSS_MIN_OBSERVED,
        CMAPSS_CUT_RUL_MAX);
    printf(
        "published, FD001 test split: CNN (Li 2018) 12.61, LSTM (Zheng "
        "2017) 16.14\n");
    return CLI_EXIT_OK;
}

/* The Backblaze rule on the rows @rows: flagged when any critical counter
 * is above zero. */
static void bb_rule(const struct predict_dataset *ds,
                    const size_t *rows,
                    size_t n,
                    unsigned rule_col,
                    float *out)
{
    for (size_t i = 0; i < n; i++) {
        float v = ds->x[rows[i] * ds->n_features + rule_col];
        out[i] = v > 0.5f ? 1.0f : 0.0f;
    }
}

static int column_find(const struct predict_dataset *ds, const char *name)
{
    for (unsigned i = 0; i < ds->n_features; i++) {
        if (strcmp(ds->feature_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Train on @ntr rows, test on @nte; print one line of recall figures. */
static int bb_round(struct eval_ctx *e,
                    const char *label,
                    size_t ntr,
                    size_t nte,
                    double *recall_out,
                    double *rule_out)
{
    const struct predict_dataset *ds = e->ds;
    int rule_col = column_find(ds, "backblaze_rule");
    int age_col = column_find(ds, "age_years");
    double rec, thr, fpr, rule_p, rule_r, w_rec = NAN, w_thr, w_fpr;
    double rec_at_rule = NAN, thr2, fpr2;
    size_t pos = 0;
    struct predict_model m;
    int rv;

    if (rule_col < 0 || age_col < 0) {
        return cli_fail(e->cli, AUGUR_EINTERNAL, "backblaze features missing");
    }
    predict_model_init(&m);
    rv = train_rows(e->cli, &m, ds, e->train, ntr, e->pg);
    if (rv == CLI_EXIT_OK) {
        rv = rows_score(e->cli, &m, ds, e->test, nte, 0, e->sc);
    }
    predict_model_close(&m);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    for (size_t i = 0; i < nte; i++) {
        e->a[i] = e->sc[i].p_fail;
        e->b[i] = ds->label[e->test[i]];
        pos += e->b[i] > 0.5f;
    }
    if (predict_recall_at_fpr(e->a, e->b, nte, EVAL_FPR, &rec, &thr, &fpr) !=
        0) {
        return cli_fail(e->cli, AUGUR_ENOMEM, "");
    }
    bb_rule(ds, e->test, nte, (unsigned)rule_col, e->a);
    predict_precision_recall(e->a, e->b, nte, 0.5, &rule_p, &rule_r);
    {
        /* The rule's false-positive rate. */
        size_t fp = 0, neg = 0;
        for (size_t i = 0; i < nte; i++) {
            neg += e->b[i] <= 0.5f;
            fp += e->b[i] <= 0.5f && e->a[i] > 0.5f;
        }
        rule_p = neg > 0 ? (double)fp / (double)neg : 0.0;
    }
    /* The model at the rule's own false-positive rate, for a like-for-like
     * comparison. */
    for (size_t i = 0; i < nte; i++) {
        e->a[i] = e->sc[i].p_fail;
    }
    if (predict_recall_at_fpr(e->a, e->b, nte, rule_p, &rec_at_rule, &thr2,
                              &fpr2) != 0) {
        return cli_fail(e->cli, AUGUR_ENOMEM, "");
    }
    {
        /* The Weibull prior on age, fitted to the training drives. */
        struct predict_weibull w;
        char errmsg[PREDICT_ERRMSG_SIZE];
        double *t = malloc((ntr + 1) * sizeof *t);
        uint8_t *failed = malloc(ntr + 1);
        size_t k = 0;
        if (t == NULL || failed == NULL) {
            free(t);
            free(failed);
            return cli_fail(e->cli, AUGUR_ENOMEM, "");
        }
        for (size_t i = 0; i < ntr; i++) {
            float age = ds->x[e->train[i] * ds->n_features + age_col];
            if (isfinite(age) && age > 0) {
                t[k] = age;
                failed[k++] = ds->label[e->train[i]] > 0.5f;
            }
        }
        if (predict_weibull_fit(t, failed, k, &w, errmsg) == 0) {
            for (size_t i = 0; i < nte; i++) {
                float age = ds->x[e->test[i] * ds->n_features + age_col];
                e->a[i] = isfinite(age) ? (float)predict_weibull_prob(
                                              &w, age, 1.0 / 365.25)
                                        : 0.0f;
            }
            if (predict_recall_at_fpr(e->a, e->b, nte, EVAL_FPR, &w_rec, &w_thr,
                                      &w_fpr) != 0) {
                w_rec = NAN;
            }
        }
        free(t);
        free(failed);
    }
    printf("%-24s %6zu %5zu %8.3f %8.4f %10.3f %8.4f %12.3f %10.3f\n", label,
           nte, pos, rec, fpr, rule_r, rule_p, rec_at_rule, w_rec);
    fflush(stdout);
    *recall_out = rec;
    *rule_out = rule_r;
    return CLI_EXIT_OK;
}

static void bb_header(void)
{
    printf("%-24s %6s %5s %8s %8s %10s %8s %12s %10s\n", "test set", "drives",
           "fail", "recall", "FPR", "rule_rec", "rule_FPR", "rec@ruleFPR",
           "weibull");
}

static int eval_backblaze(struct eval_ctx *e, const char *holdout)
{
    const struct predict_dataset *ds = e->ds;
    double rec[64], rule[64], m1, s1, m2, s2;
    int rv = CLI_EXIT_OK;

    printf(
        "Backblaze: recall at %.0f%% FPR (model) vs Backblaze's rule "
        "(SMART 5/187/188/197/198 raw > 0) and a Weibull prior on age\n",
        EVAL_FPR * 100);
    if (holdout != NULL) {
        unsigned n_hold = 0;
        bb_header();
        for (size_t fam = 0; fam < ds->n_families && rv == CLI_EXIT_OK; fam++) {
            size_t ntr = 0, nte = 0;
            if (strcmp(holdout, "all") != 0 &&
                strcmp(holdout, ds->family_names[fam]) != 0) {
                continue;
            }
            for (size_t r = 0; r < ds->n_rows; r++) {
                if (ds->family[r] == fam) {
                    e->test[nte++] = r;
                } else {
                    e->train[ntr++] = r;
                }
            }
            snprintf(e->pg->stage, sizeof e->pg->stage, "holdout %s",
                     ds->family_names[fam]);
            rv = bb_round(e, ds->family_names[fam], ntr, nte, &rec[n_hold],
                          &rule[n_hold]);
            n_hold++;
        }
        if (n_hold == 0) {
            return cli_usage(e->cli, "no drive model '%s' in the data",
                             holdout);
        }
        return rv;
    }
    bb_header();
    for (unsigned f = 0; f < e->folds && rv == CLI_EXIT_OK; f++) {
        size_t ntr = fold_rows(ds, e->fog, f, false, e->train);
        size_t nte = fold_rows(ds, e->fog, f, true, e->test);
        char label[32];
        snprintf(label, sizeof label, "fold %u/%u", f + 1, e->folds);
        snprintf(e->pg->stage, sizeof e->pg->stage, "%s", label);
        rv = bb_round(e, label, ntr, nte, &rec[f], &rule[f]);
    }
    if (rv == CLI_EXIT_OK) {
        spread(rec, e->folds, &m1, &s1);
        spread(rule, e->folds, &m2, &s2);
        printf(
            "mean over folds: recall %.3f (sd %.3f), rule recall %.3f (sd "
            "%.3f)\n",
            m1, s1, m2, s2);
    }
    return rv;
}

/* A threshold chosen without the test machines: train on three quarters
 * of the training machines, score the last quarter, and take the threshold
 * that maximises min(precision, recall) there.  *@thr is left as is when
 * the quarter has no failure. */
static int pdm_threshold(struct eval_ctx *e, unsigned fold, double *thr)
{
    const struct predict_dataset *ds = e->ds;
    unsigned *inner = malloc((ds->n_groups + 1) * sizeof *inner);
    size_t *fit = e->sub, *val = e->sub + ds->n_rows;
    size_t nfit = 0, nval = 0, pos = 0;
    struct predict_score *sc = NULL;
    struct predict_model m;
    double best = -1.0;
    int rv;

    if (inner == NULL) {
        return cli_fail(e->cli, AUGUR_ENOMEM, "");
    }
    predict_folds_assign(ds->n_groups, 4, FOLD_SEED + 17 + fold, inner);
    for (size_t r = 0; r < ds->n_rows; r++) {
        if (e->fog[ds->group[r]] == fold) {
            continue;
        }
        if (inner[ds->group[r]] == 0) {
            val[nval++] = r;
            pos += ds->label[r] > 0.5f;
        } else {
            fit[nfit++] = r;
        }
    }
    free(inner);
    if (pos == 0 || nfit == 0) {
        return CLI_EXIT_OK;
    }
    sc = malloc(nval * sizeof *sc);
    if (sc == NULL) {
        return cli_fail(e->cli, AUGUR_ENOMEM, "");
    }
    predict_model_init(&m);
    snprintf(e->pg->stage, sizeof e->pg->stage, "fold %u/%u threshold",
             fold + 1, e->folds);
    rv = train_rows(e->cli, &m, ds, fit, nfit, e->pg);
    if (rv == CLI_EXIT_OK) {
        rv = rows_score(e->cli, &m, ds, val, nval, 0, sc);
    }
    predict_model_close(&m);
    if (rv == CLI_EXIT_OK) {
        for (size_t i = 0; i < nval; i++) {
            e->a[i] = sc[i].p_fail;
            e->b[i] = ds->label[val[i]];
        }
        for (int k = 1; k <= 19; k++) {
            double p, r, t = k * 0.05;
            predict_precision_recall(e->a, e->b, nval, t, &p, &r);
            if (fmin(p, r) >= best) {
                best = fmin(p, r);
                *thr = t;
            }
        }
    }
    free(sc);
    return rv;
}

static int eval_pdm(struct eval_ctx *e)
{
    const struct predict_dataset *ds = e->ds;
    double prec[64], rec[64], bprec[64], brec[64], tprec[64], trec[64];
    double m1, s1, m2, s2, m3, s3, m4, s4, m5, s5, m6, s6;
    size_t tp = 0, fp = 0, fn = 0, ttp = 0, tfp = 0, tfn = 0;
    int err_cols[8], n_err = 0;
    int rv = CLI_EXIT_OK;

    for (unsigned i = 0; i < ds->n_features && n_err < 8; i++) {
        if (strstr(ds->feature_names[i], "_since_h") != NULL &&
            strncmp(ds->feature_names[i], "error", 5) == 0) {
            err_cols[n_err++] = (int)i;
        }
    }
    printf(
        "Azure PdM: component failure within %g h, %zu machines, %u folds "
        "by machine, threshold %.2f\n",
        ds->window, ds->n_groups, e->folds, PDM_THRESHOLD);
    printf("%-10s %7s %6s %10s %8s %12s %10s %6s %10s %8s\n", "fold", "hours",
           "pos", "precision", "recall", "base_prec", "base_rec", "thr",
           "prec@thr", "rec@thr");
    for (unsigned f = 0; f < e->folds && rv == CLI_EXIT_OK; f++) {
        size_t ntr = fold_rows(ds, e->fog, f, false, e->train);
        size_t nte = fold_rows(ds, e->fog, f, true, e->test);
        size_t pos = 0;
        double thr = PDM_THRESHOLD;
        struct predict_model m;

        rv = pdm_threshold(e, f, &thr);
        if (rv != CLI_EXIT_OK) {
            break;
        }
        predict_model_init(&m);
        snprintf(e->pg->stage, sizeof e->pg->stage, "fold %u/%u", f + 1,
                 e->folds);
        rv = train_rows(e->cli, &m, ds, e->train, ntr, e->pg);
        if (rv == CLI_EXIT_OK) {
            rv = rows_score(e->cli, &m, ds, e->test, nte, 0, e->sc);
        }
        predict_model_close(&m);
        if (rv != CLI_EXIT_OK) {
            break;
        }
        for (size_t i = 0; i < nte; i++) {
            bool flagged = e->sc[i].p_fail >= PDM_THRESHOLD;
            bool p = ds->label[e->test[i]] > 0.5f;
            e->a[i] = e->sc[i].p_fail;
            e->b[i] = ds->label[e->test[i]];
            pos += p;
            tp += flagged && p;
            fp += flagged && !p;
            fn += !flagged && p;
            flagged = e->sc[i].p_fail >= thr;
            ttp += flagged && p;
            tfp += flagged && !p;
            tfn += !flagged && p;
        }
        predict_precision_recall(e->a, e->b, nte, PDM_THRESHOLD, &prec[f],
                                 &rec[f]);
        predict_precision_recall(e->a, e->b, nte, thr, &tprec[f], &trec[f]);
        /* Baseline: flag a machine for a day after any error. */
        for (size_t i = 0; i < nte; i++) {
            const float *x = ds->x + e->test[i] * ds->n_features;
            e->a[i] = 0.0f;
            for (int k = 0; k < n_err; k++) {
                if (isfinite(x[err_cols[k]]) && x[err_cols[k]] < ds->window) {
                    e->a[i] = 1.0f;
                }
            }
        }
        predict_precision_recall(e->a, e->b, nte, 0.5, &bprec[f], &brec[f]);
        printf(
            "%u/%-8u %7zu %6zu %10.3f %8.3f %12.3f %10.3f %6.2f %10.3f "
            "%8.3f\n",
            f + 1, e->folds, nte, pos, prec[f], rec[f], bprec[f], brec[f], thr,
            tprec[f], trec[f]);
        fflush(stdout);
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    spread(prec, e->folds, &m1, &s1);
    spread(rec, e->folds, &m2, &s2);
    spread(bprec, e->folds, &m3, &s3);
    spread(brec, e->folds, &m4, &s4);
    printf(
        "mean (sd) over folds: precision %.3f (%.3f), recall %.3f (%.3f); "
        "baseline 'any error in the last %g h': precision %.3f, recall "
        "%.3f\n",
        m1, s1, m2, s2, ds->window, m3, m4);
    printf(
        "pooled over folds: precision %.3f, recall %.3f (tp %zu, fp %zu, "
        "fn %zu)\n",
        tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0.0,
        tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0.0, tp, fp, fn);
    spread(tprec, e->folds, &m5, &s5);
    spread(trec, e->folds, &m6, &s6);
    printf(
        "threshold chosen on held-out training machines (max of min(P, "
        "R)): precision %.3f (%.3f), recall %.3f (%.3f); pooled %.3f, "
        "%.3f\n",
        m5, s5, m6, s6, ttp + tfp > 0 ? (double)ttp / (double)(ttp + tfp) : 0.0,
        ttp + tfn > 0 ? (double)ttp / (double)(ttp + tfn) : 0.0);
    return CLI_EXIT_OK;
}

static int run_model_eval(struct cli *cli, const struct cli_args *args)
{
    const char *folds_s = cli_args_get(args, "folds");
    const char *holdout = cli_args_get(args, "holdout-model");
    struct predict_dataset ds;
    struct eval_ctx e;
    struct progress pg;
    enum predict_format f;
    uint64_t folds = FOLDS_DEFAULT;
    double window;
    int rv;

    progress_init(&pg, cli->words);
    if ((rv = format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = window_get(cli, args, &window)) != CLI_EXIT_OK) {
        return rv;
    }
    if (folds_s != NULL) {
        rv = cli_value_u64(cli, "--folds", folds_s, 2, &folds);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (folds > 64) {
            return cli_usage(cli, "--folds: at most 64");
        }
    }
    if (holdout != NULL && f != PREDICT_FORMAT_BACKBLAZE) {
        return cli_usage(cli, "--holdout-model is for --format backblaze");
    }
    rv = data_read(cli, args, f, window, &ds, &pg);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (ds.n_groups < folds) {
        predict_dataset_close(&ds);
        return cli_usage(cli, "--folds %llu: the data has %zu units only",
                         (unsigned long long)folds, ds.n_groups);
    }
    memset(&e, 0, sizeof e);
    e.cli = cli;
    e.ds = &ds;
    e.pg = &pg;
    e.folds = (unsigned)folds;
    e.fog = malloc((ds.n_groups + 1) * sizeof *e.fog);
    e.train = malloc((ds.n_rows + 1) * sizeof *e.train);
    e.test = malloc((ds.n_rows + 1) * sizeof *e.test);
    e.sub = malloc((ds.n_rows * CMAPSS_CUTS_PER_UNIT + 1) * sizeof *e.sub);
    e.sc = malloc((ds.n_rows + 1) * sizeof *e.sc);
    e.a = malloc((ds.n_rows * CMAPSS_CUTS_PER_UNIT + 1) * sizeof *e.a);
    e.b = malloc((ds.n_rows * CMAPSS_CUTS_PER_UNIT + 1) * sizeof *e.b);
    if (e.fog == NULL || e.train == NULL || e.test == NULL || e.sub == NULL ||
        e.sc == NULL || e.a == NULL || e.b == NULL) {
        rv = cli_fail(cli, AUGUR_ENOMEM, "");
    } else {
        predict_folds_assign(ds.n_groups, e.folds, FOLD_SEED, e.fog);
        switch (f) {
            case PREDICT_FORMAT_CMAPSS:
                rv = eval_cmapss(&e);
                break;
            case PREDICT_FORMAT_BACKBLAZE:
                rv = eval_backblaze(&e, holdout);
                break;
            default:
                rv = eval_pdm(&e);
                break;
        }
    }
    if (rv == CLI_EXIT_OK) {
        fprintf(stderr, "augur: %s: done in %.1f s\n", cli->words,
                now_s() - pg.start);
    }
    free(e.fog);
    free(e.train);
    free(e.test);
    free(e.sub);
    free(e.sc);
    free(e.a);
    free(e.b);
    predict_dataset_close(&ds);
    return rv;
}

/* ---- the command table ----------------------------------------------------
 */

static const struct cli_flag model_train_flags[] = {
    {"format", 0, MODEL_FORMATS, "the data's format", CLI_FLAG_REQUIRED},
    {"data", 0, "PATH[,PATH...]",
     "files (cmapss: one; backblaze: a list), or pdm's directory",
     CLI_FLAG_REQUIRED},
    {"out", 0, "MODEL", "the model file to write", CLI_FLAG_REQUIRED},
    {"window", 0, "H",
     "failure window in the data's time unit (default cmapss 30 cycles, "
     "backblaze 1 day, pdm 24 hours)",
     0},
    {0},
};

static const struct cli_flag model_predict_flags[] = {
    {"model", 0, "MODEL", "a model file from 'augur model train'",
     CLI_FLAG_REQUIRED},
    {"format", 0, MODEL_FORMATS, "the data's format", CLI_FLAG_REQUIRED},
    {"data", 0, "PATH[,PATH...]", "the data to score", CLI_FLAG_REQUIRED},
    {0},
};

static const struct cli_flag model_eval_flags[] = {
    {"format", 0, MODEL_FORMATS, "the data's format", CLI_FLAG_REQUIRED},
    {"data", 0, "PATH[,PATH...]", "the data", CLI_FLAG_REQUIRED},
    {"folds", 0, "K", "cross-validation folds, split by unit (default 5)", 0},
    {"window", 0, "H", "failure window (as for train)", 0},
    {"holdout-model", 0, "NAME|all",
     "backblaze: train on the other drive models, test on this one (all: "
     "each in turn)",
     0},
    {0},
};

const struct cli_command cli_model_commands[] = {
    {"model train", "train a failure model on a dataset",
     "Trains a failure classifier (and for cmapss a remaining-life "
     "regressor) with XGBoost and writes a self-describing model file.",
     NULL, model_train_flags,
     "augur model train --format cmapss --data train_FD001.txt --out "
     "fd001.model",
     run_model_train},
    {"model predict", "score a dataset with a model",
     "-o csv (default): cmapss 'unit,rul,p_fail' per unit at its last "
     "cycle; backblaze 'serial_number,p_fail' per drive; pdm "
     "'machineID,datetime,p_fail' per machine and hour.  -o json adds the "
     "confidence and the top contributing features.",
     NULL, model_predict_flags,
     "augur model predict --model fd001.model --format cmapss --data "
     "test_FD001.txt -o csv",
     run_model_predict},
    {"model eval", "cross-validate on a dataset, split by unit",
     "Prints the metrics of each fold and their spread: cmapss RMSE and "
     "PHM08 score; backblaze recall at 1% FPR beside Backblaze's rule; pdm "
     "precision and recall.",
     NULL, model_eval_flags,
     "augur model eval --format backblaze --data a.csv,b.csv "
     "--holdout-model all",
     run_model_eval},
    {0},
};
