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

/* The training parameters of @f with the flags --calibration and
 * --threads applied. */
static int params_get(struct cli *cli,
                      const struct cli_args *args,
                      enum predict_format f,
                      struct predict_train_params *p)
{
    const char *cal = cli_args_get(args, "calibration");
    const char *threads = cli_args_get(args, "threads");
    const char *sigma = cli_args_get(args, "aft-sigma");
    uint64_t v;
    int rv;

    predict_train_params_default(p, f);
    if (cal != NULL) {
        rv = cli_value_choice(cli, "--calibration", cal, "none|platt|isotonic");
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        p->calibration = (enum predict_calib_kind)predict_calib_kind_parse(cal);
    }
    if (threads != NULL) {
        rv = cli_value_u64(cli, "--threads", threads, 1, &v);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (v > 256) {
            return cli_usage(cli, "--threads: at most 256");
        }
        p->nthread = (unsigned)v;
    }
    if (sigma != NULL) {
        char *end;
        double s = strtod(sigma, &end);
        if (*sigma == '\0' || *end != '\0' || !(s >= 0.01 && s <= 10.0)) {
            return cli_usage(cli, "--aft-sigma: a number from 0.01 to 10");
        }
        p->aft_sigma = s;
    }
    return CLI_EXIT_OK;
}

/* --select grid|none: whether the parameters (and for eval the threshold)
 * are chosen by nested selection (predict_select_run); the default is grid
 * for pdm, none for the others (whose parameters are fixed). */
static int select_get(struct cli *cli,
                      const struct cli_args *args,
                      enum predict_format f,
                      bool *grid)
{
    const char *s = cli_args_get(args, "select");
    int rv;

    *grid = f == PREDICT_FORMAT_PDM;
    if (s == NULL) {
        return CLI_EXIT_OK;
    }
    rv = cli_value_choice(cli, "--select", s, "grid|none");
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    *grid = strcmp(s, "grid") == 0;
    if (*grid && f != PREDICT_FORMAT_PDM) {
        return cli_usage(cli, "--select grid is for --format pdm");
    }
    return CLI_EXIT_OK;
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
                      const struct predict_train_params *params,
                      struct progress *pg)
{
    struct predict_train_params p = *params;
    char errmsg[PREDICT_ERRMSG_SIZE];
    int rv;

    p.progress = progress_rounds;
    p.progress_arg = pg;
    rv = predict_model_train(m, ds, rows, n, &p, errmsg);
    return rv != 0 ? cli_fail(cli, rv, errmsg) : CLI_EXIT_OK;
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

/* The parameters of @params chosen by nested selection on every unit of
 * @ds (seed PREDICT_EVAL_SEED), as eval chooses them on each outer
 * fold's training units; said on stderr. */
static int train_select(struct cli *cli,
                        const struct predict_dataset *ds,
                        struct predict_train_params *params,
                        struct progress *pg)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_train_params p = *params;
    struct predict_select_result sel;
    size_t *rows = malloc((ds->n_rows + 1) * sizeof *rows);
    int rv;

    if (rows == NULL) {
        return cli_fail(cli, AUGUR_ENOMEM, "");
    }
    for (size_t r = 0; r < ds->n_rows; r++) {
        rows[r] = r;
    }
    snprintf(pg->stage, sizeof pg->stage, "selection");
    p.progress = progress_rounds;
    p.progress_arg = pg;
    rv = predict_select_run(ds, rows, ds->n_rows, &p, PREDICT_EVAL_SEED, &sel,
                            errmsg);
    free(rows);
    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    predict_select_apply(params, &sel.choice);
    fprintf(
        stderr,
        "augur: %s: chosen on %zu units (%d folds): depth %u, eta %g, "
        "%u rounds, class weight %s; threshold on the raw p %.2f "
        "(min(P, R) %.3f out of fold; not stored: the model file keeps "
        "p_fail calibrated)\n",
        cli->words, sel.units, PREDICT_SELECT_INNER_FOLDS, sel.choice.max_depth,
        sel.choice.eta, sel.choice.rounds,
        sel.choice.weight == PREDICT_WEIGHT_SQRT ? "sqrt(neg/pos)" : "neg/pos",
        sel.chosen_threshold, sel.chosen_score);
    return CLI_EXIT_OK;
}

static int run_model_train(struct cli *cli, const struct cli_args *args)
{
    const char *out = cli_args_get(args, "out");
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_train_params params;
    struct predict_dataset ds;
    struct predict_model m;
    struct progress pg;
    enum predict_format f;
    double window;
    char *buf = NULL;
    size_t len = 0;
    bool grid;
    int rv;

    progress_init(&pg, cli->words);
    if ((rv = format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = window_get(cli, args, &window)) != CLI_EXIT_OK ||
        (rv = params_get(cli, args, f, &params)) != CLI_EXIT_OK ||
        (rv = select_get(cli, args, f, &grid)) != CLI_EXIT_OK ||
        (rv = data_read(cli, args, f, window, &ds, &pg)) != CLI_EXIT_OK) {
        return rv;
    }
    predict_model_init(&m);
    if (grid) {
        rv = train_select(cli, &ds, &params, &pg);
        if (rv != CLI_EXIT_OK) {
            predict_dataset_close(&ds);
            return rv;
        }
    }
    snprintf(pg.stage, sizeof pg.stage, "training");
    rv = train_rows(cli, &m, &ds, NULL, 0, &params, &pg);
    if (rv == CLI_EXIT_OK) {
        int err = predict_model_save(&m, &buf, &len, errmsg);
        rv = err != 0 ? cli_fail(cli, err, errmsg)
                      : file_write(cli, out, buf, len);
    }
    if (rv == CLI_EXIT_OK) {
        fprintf(stderr,
                "augur: %s: trained on %zu rows of %zu units (%llu "
                "positive, window %g, calibration %s); wrote %s (%zu "
                "bytes) in %.1f s\n",
                cli->words, ds.n_rows, ds.n_groups,
                (unsigned long long)m.train_positives, ds.window,
                predict_calib_kind_name(m.calib.kind), out, len,
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

/* 1 - binary entropy of @p, as predict_model_score's confidence. */
static double confidence_of(double p)
{
    if (p <= 0.0 || p >= 1.0) {
        return 1.0;
    }
    return 1.0 + p * log2(p) + (1.0 - p) * log2(1.0 - p);
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

/* --adapt-prior em|RATE: move the scored rows' p_fail @sc[0..@n) (rows
 * @rows of @ds) from the training prior of @m to each drive or machine
 * model's own: estimated by EM on that model's scores (em), or the rate
 * given.  Units of a model with fewer than PREDICT_PRIOR_MIN_UNITS rows are
 * left as they are under em.  Says on stderr what it did. */
static int prior_adapt(struct cli *cli,
                       const char *how,
                       const struct predict_model *m,
                       const struct predict_dataset *ds,
                       const size_t *rows,
                       size_t n,
                       struct predict_score *sc)
{
    double pi = m->train_rows > 0
                    ? (double)m->train_positives / (double)m->train_rows
                    : NAN;
    char errmsg[PREDICT_ERRMSG_SIZE];
    bool em = strcmp(how, "em") == 0;
    double rate = NAN;
    float *p, *out, *scratch;
    uint32_t *fam;
    struct predict_prior_shift *res;
    int rv = CLI_EXIT_OK;

    if (!em) {
        char *end;
        rate = strtod(how, &end);
        if (*how == '\0' || *end != '\0' || !(rate > 0.0 && rate < 1.0)) {
            return cli_usage(cli,
                             "--adapt-prior: em, or the population's failed "
                             "fraction within the window, in (0, 1)");
        }
    }
    if (!(pi > 0.0 && pi < 1.0)) {
        return cli_usage(cli,
                         "--adapt-prior: the model does not say its "
                         "training prior");
    }
    if (!em) {
        for (size_t i = 0; i < n; i++) {
            sc[i].p_fail =
                (float)predict_prior_shift_apply(sc[i].p_fail, pi, rate);
            sc[i].confidence = (float)confidence_of(sc[i].p_fail);
        }
        fprintf(stderr,
                "augur: %s: prior shift: p_fail moved from the training "
                "prior %.4f to %.4f\n",
                cli->words, pi, rate);
        return CLI_EXIT_OK;
    }
    p = malloc((n + 1) * sizeof *p);
    out = malloc((n + 1) * sizeof *out);
    scratch = malloc((n + 1) * sizeof *scratch);
    fam = malloc((n + 1) * sizeof *fam);
    res = malloc((ds->n_families + 1) * sizeof *res);
    if (p == NULL || out == NULL || scratch == NULL || fam == NULL ||
        res == NULL) {
        rv = cli_fail(cli, AUGUR_ENOMEM, "");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = sc[i].p_fail;
        fam[i] = ds->family[rows[i]];
    }
    if (predict_prior_adapt_groups(p, fam, n, ds->n_families, pi,
                                   PREDICT_PRIOR_MIN_UNITS, out, scratch, res,
                                   errmsg) != 0) {
        rv = cli_fail(cli, AUGUR_EINVAL, errmsg);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sc[i].p_fail = out[i];
        sc[i].confidence = (float)confidence_of(out[i]);
    }
    for (size_t f = 0; f < ds->n_families; f++) {
        if (res[f].n == 0) {
            continue;
        }
        if (isnan(res[f].prior_new)) {
            fprintf(stderr,
                    "augur: %s: prior shift (EM): %s: %zu rows, fewer than "
                    "%d: left at the training prior %.4f\n",
                    cli->words, ds->family_names[f], res[f].n,
                    PREDICT_PRIOR_MIN_UNITS, pi);
        } else {
            fprintf(stderr,
                    "augur: %s: prior shift (EM): %s: %zu rows, prior "
                    "%.4f -> %.4f (%u steps%s)\n",
                    cli->words, ds->family_names[f], res[f].n, pi,
                    res[f].prior_new, res[f].iterations,
                    res[f].converged ? "" : ", not converged");
        }
    }
out:
    free(p);
    free(out);
    free(scratch);
    free(fam);
    free(res);
    return rv;
}

static int run_model_predict(struct cli *cli, const struct cli_args *args)
{
    const char *output = cli_args_get(args, "output");
    const char *adapt = cli_args_get(args, "adapt-prior");
    bool json = output != NULL && strcmp(output, "json") == 0;
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_dataset ds;
    struct predict_model m;
    struct predict_score *sc = NULL;
    struct progress pg;
    enum predict_format f;
    size_t *rows = NULL, n = 0;
    double window = 0.0;
    int rv;

    progress_init(&pg, cli->words);
    if ((rv = format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = window_get(cli, args, &window)) != CLI_EXIT_OK ||
        (rv = model_file_load(cli, cli_args_get(args, "model"), &m)) !=
            CLI_EXIT_OK) {
        return rv;
    }
    if (window > 0 && adapt != NULL) {
        predict_model_close(&m);
        return cli_usage(cli,
                         "--adapt-prior is for the model's own window, not "
                         "with --window");
    }
    if (window > 0 && !predict_model_has_survival(&m)) {
        predict_model_close(&m);
        return cli_usage(cli,
                         "--window: this model has no time-to-failure part; "
                         "it answers for its own window only");
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
    if (adapt != NULL) {
        rv = prior_adapt(cli, adapt, &m, &ds, rows, n, sc);
        if (rv != CLI_EXIT_OK) {
            goto out;
        }
    }
    if (window > 0) {
        /* p_fail within --window, from the time-to-failure part. */
        size_t nf = ds.n_features;
        float *x = malloc((n * nf + 1) * sizeof *x);
        float *pw = malloc((n + 1) * sizeof *pw);
        int err = x == NULL || pw == NULL ? AUGUR_ENOMEM : 0;
        for (size_t i = 0; err == 0 && i < n; i++) {
            memcpy(x + i * nf, ds.x + rows[i] * nf, nf * sizeof *x);
        }
        if (err == 0) {
            err = predict_model_score_window(&m, x, n, &window, 1, pw, errmsg);
        }
        for (size_t i = 0; err == 0 && i < n; i++) {
            sc[i].p_fail = pw[i];
            sc[i].confidence = (float)confidence_of(pw[i]);
        }
        free(x);
        free(pw);
        if (err != 0) {
            rv = cli_fail(cli, err, err == AUGUR_ENOMEM ? "" : errmsg);
            goto out;
        }
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

/* The computing is predict/'s (predict_eval_*); here the folds run one by
 * one, with the progress display between them, and the figures print. */

#define EVAL_FOLDS_MAX 64

/* ---- calibration figures and the reliability diagram ---------------------
 */

static void calib_bins_print(const char *label,
                             const struct predict_calib_figures *c)
{
    printf("  %-10s", label);
    for (int b = 0; b < PREDICT_CALIB_BINS; b++) {
        if (c->bins[b].n == 0) {
            printf(" %11s", "-");
        } else {
            printf(" %5.3f/%-5.3f", c->bins[b].mean_p, c->bins[b].observed);
        }
    }
    printf("\n");
}

/* The calibration figures of every prediction pooled in @e, raw and
 * calibrated, into @raw and @cal, printed. */
static void calib_report(const struct predict_eval *e,
                         struct predict_calib_figures *raw,
                         struct predict_calib_figures *cal)
{
    predict_calib_figures_of(e->pool_raw, e->pool_y, e->n_pool, raw);
    predict_calib_figures_of(e->pool_cal, e->pool_y, e->n_pool, cal);
    if (e->params.calibration == PREDICT_CALIB_NONE) {
        printf("calibration none: %zu held-out predictions, %zu positive\n",
               raw->n, raw->positives);
    } else {
        printf(
            "calibration (%s, fitted on %d inner folds by unit of each "
            "training set; never on the test units): %zu held-out "
            "predictions, %zu positive\n",
            predict_calib_kind_name(e->params.calibration), PREDICT_CALIB_FOLDS,
            raw->n, raw->positives);
    }
    printf("  %-10s %8s %8s\n", "", "Brier", "ECE");
    printf("  %-10s %8.4f %8.4f\n", "raw", raw->brier, raw->ece);
    printf("  %-10s %8.4f %8.4f   (ECE target <= 0.05)\n", "calibrated",
           cal->brier, cal->ece);
    printf("  reliability, mean p / observed per bin of width %.1f:\n",
           1.0 / PREDICT_CALIB_BINS);
    calib_bins_print("raw", raw);
    calib_bins_print("calibrated", cal);
    if (e->ds->format == PREDICT_FORMAT_BACKBLAZE) {
        struct predict_calib_figures ad;
        predict_calib_figures_of(e->pool_adapt, e->pool_y, e->n_pool, &ad);
        printf(
            "  prior shift (calibrated p adapted to each drive model's base "
            "rate, estimated by EM on the test drives' own scores, no "
            "label; Saerens et al. 2002):\n");
        printf("  %-10s %8.4f %8.4f\n", "adapted", ad.brier, ad.ece);
        calib_bins_print("adapted", &ad);
        predict_calib_figures_of(e->pool_known, e->pool_y, e->n_pool, &ad);
        printf(
            "  bound, not a method (each drive model's true failed fraction "
            "among the test drives as the prior, as a fleet would count "
            "it; reads the test labels):\n");
        printf("  %-10s %8.4f %8.4f\n", "known", ad.brier, ad.ece);
        calib_bins_print("known", &ad);
    }
    fflush(stdout);
}

static void svg_curve(FILE *f,
                      const struct predict_calib_figures *c,
                      const char *color,
                      double x0,
                      double y0,
                      double size)
{
    bool first = true;

    fprintf(f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
            "points=\"",
            color);
    for (int b = 0; b < PREDICT_CALIB_BINS; b++) {
        if (c->bins[b].n == 0) {
            continue;
        }
        fprintf(f, "%s%.1f,%.1f", first ? "" : " ",
                x0 + c->bins[b].mean_p * size,
                y0 + size - c->bins[b].observed * size);
        first = false;
    }
    fprintf(f, "\"/>\n");
    for (int b = 0; b < PREDICT_CALIB_BINS; b++) {
        double r;
        if (c->bins[b].n == 0) {
            continue;
        }
        /* The dot's area grows with the log of the bin's count. */
        r = 2.0 + log10((double)c->bins[b].n + 1.0);
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\">"
                "<title>p %.3f, observed %.3f, n %zu</title></circle>\n",
                x0 + c->bins[b].mean_p * size,
                y0 + size - c->bins[b].observed * size, r, color,
                c->bins[b].mean_p, c->bins[b].observed, c->bins[b].n);
    }
}

/* A reliability diagram of @raw and @cal as an SVG file at @path; the
 * legend sits in the top left corner, above the diagonal. */
static int plot_write(struct cli *cli,
                      const char *path,
                      const char *title,
                      const struct predict_calib_figures *raw,
                      const struct predict_calib_figures *cal)
{
    const double x0 = 60, y0 = 40, size = 400;
    char tmp[4096];
    char msg[CLI_ERR_SIZE];
    FILE *f;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);

    if (n < 0 || (size_t)n >= sizeof tmp) {
        return cli_usage(cli, "--plot path too long");
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(msg, sizeof msg, "%.200s: %s", tmp, strerror(errno));
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" "
            "height=\"520\" viewBox=\"0 0 640 520\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n"
            "<rect width=\"640\" height=\"520\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"14\">", x0);
    for (const char *c = title; *c != '\0'; c++) {
        if (*c == '<') {
            fputs("&lt;", f);
        } else if (*c == '&') {
            fputs("&amp;", f);
        } else {
            fputc(*c, f);
        }
    }
    fprintf(f, "</text>\n");
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
            "fill=\"none\" stroke=\"black\"/>\n",
            x0, y0, size, size);
    for (int t = 0; t <= 10; t += 2) {
        double v = t / 10.0;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f"
                "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
                "%.1f</text>\n",
                x0 + v * size, y0 + size + 16, v, x0 - 6,
                y0 + size - v * size + 4, v);
    }
    fprintf(f,
            "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
            "stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n",
            x0, y0 + size, x0 + size, y0);
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">predicted "
            "p_fail (bin mean)</text>\n"
            "<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 16 %.0f)\">observed failure "
            "fraction</text>\n",
            x0 + size / 2, y0 + size + 36, y0 + size / 2, y0 + size / 2);
    svg_curve(f, raw, "#d62728", x0, y0, size);
    svg_curve(f, cal, "#1f77b4", x0, y0, size);
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">raw: Brier %.4f, "
            "ECE %.4f</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">calibrated: Brier "
            "%.4f, ECE %.4f</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\">%zu predictions, %zu "
            "positive</text>\n</svg>\n",
            x0 + 10, y0 + 20, raw->brier, raw->ece, x0 + 10, y0 + 40,
            cal->brier, cal->ece, x0 + 10, y0 + 60, raw->n, raw->positives);
    if (fflush(f) != 0 || ferror(f) != 0) {
        fclose(f);
        remove(tmp);
        snprintf(msg, sizeof msg, "writing %.200s: %s", path, strerror(errno));
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        snprintf(msg, sizeof msg, "writing %.200s: %s", path, strerror(errno));
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    return CLI_EXIT_OK;
}

/* The figures of p within each window of @e, from the time-to-failure
 * model, in the data's time unit @unit. */
static void windows_report(struct predict_eval *e, const char *unit)
{
    if (e->n_windows == 0 || e->n_wpool == 0) {
        return;
    }
    printf(
        "any window (the calibrated classifier at its window joined to one "
        "time-to-failure model: AFT, normal, trained with sigma %g%s; p "
        "within the window), held-out rows whose outcome is known:\n",
        e->params.aft_sigma,
        e->params.aft_refit ? ", scale and shift refitted on inner folds" : "");
    printf("  %-14s %8s %9s %8s %8s %12s\n", "window", "rows", "positive",
           "Brier", "ECE", "base Brier");
    for (size_t k = 0; k < e->n_windows; k++) {
        struct predict_calib_figures f;
        char w[32];
        double rate;
        predict_eval_window_figures(e, k, &f);
        rate = f.n > 0 ? (double)f.positives / (double)f.n : 0.0;
        snprintf(w, sizeof w, "%g %s", e->windows[k], unit);
        printf("  %-14s %8zu %9zu %8.4f %8.4f %12.4f\n", w, f.n, f.positives,
               f.brier, f.ece, rate * (1.0 - rate));
    }
    printf(
        "  monotone in the window: %zu of %zu rows went down as the "
        "window grew\n",
        e->window_violations, e->n_wpool);
    fflush(stdout);
}

/* After a data set's rounds: the calibration figures, and the diagram when
 * --plot asks for one. */
static int calib_finish(struct cli *cli,
                        const struct predict_eval *e,
                        const char *plot,
                        const char *title)
{
    struct predict_calib_figures raw, cal;

    calib_report(e, &raw, &cal);
    if (plot == NULL) {
        return CLI_EXIT_OK;
    }
    return plot_write(cli, plot, title, &raw, &cal);
}

static int eval_cmapss(struct cli *cli,
                       struct predict_eval *e,
                       struct progress *pg,
                       const char *plot)
{
    const struct predict_dataset *ds = e->ds;
    struct predict_eval_cmapss res[EVAL_FOLDS_MAX];
    struct predict_eval_cmapss_summary sum;

    for (unsigned f = 0; f < e->folds; f++) {
        int rv;
        snprintf(pg->stage, sizeof pg->stage, "fold %u/%u", f + 1, e->folds);
        rv = predict_eval_cmapss_fold(e, f, &res[f]);
        if (rv != 0) {
            return cli_fail(cli, rv, e->errmsg);
        }
        progress_note(pg,
                      "fold %u/%u: RMSE all rows %.2f, truncated %.2f, "
                      "PHM08 per 100 records %.0f",
                      f + 1, e->folds, res[f].rmse_all, res[f].rmse_cut,
                      res[f].phm08_cut);
    }
    predict_eval_cmapss_summarize(res, e->folds, &sum);
    printf("C-MAPSS %zu engines, %u folds by engine, RUL capped at %.0f\n",
           ds->n_groups, e->folds, PREDICT_EVAL_RUL_CAP);
    printf("%-44s %10s %8s\n", "metric", "mean", "sd");
    printf("%-44s %10.2f %8.2f\n", "RMSE, every cycle of held-out engines",
           sum.rmse_all.mean, sum.rmse_all.sd);
    printf("%-44s %10.2f %8.2f\n", "RMSE, truncated records (test-like)",
           sum.rmse_cut.mean, sum.rmse_cut.sd);
    printf("%-44s %10.1f %8.1f\n", "PHM08 per 100 truncated records",
           sum.phm08_cut.mean, sum.phm08_cut.sd);
    printf("%-44s %10.1f %8.1f\n", "  the same, truth capped at 125",
           sum.phm08_cut_capped.mean, sum.phm08_cut_capped.sd);
    printf("%-44s %10.1f %8.1f\n", "  before: capped, per 100 engines of 5",
           sum.phm08_cut_per_engine.mean, sum.phm08_cut_per_engine.sd);
    for (int b = 0; b < PREDICT_EVAL_CMAPSS_BANDS; b++) {
        char label[64];
        int lo = b * PREDICT_EVAL_CMAPSS_BAND;
        if (b + 1 < PREDICT_EVAL_CMAPSS_BANDS) {
            snprintf(label, sizeof label,
                     "  of it, true RUL %d-%d (%.0f%% of cuts)", lo,
                     lo + PREDICT_EVAL_CMAPSS_BAND - 1,
                     sum.share_band[b].mean * 100.0);
        } else {
            snprintf(label, sizeof label,
                     "  of it, true RUL %d+ (%.0f%% of cuts)", lo,
                     sum.share_band[b].mean * 100.0);
        }
        printf("%-44s %10.1f %8.1f\n", label, sum.phm08_band[b].mean,
               sum.phm08_band[b].sd);
    }
    printf("%-44s %10.2f %8.2f\n", "baseline RMSE: mean training RUL",
           sum.base_cut.mean, sum.base_cut.sd);
    printf(
        "truncated records: %zu (%d per engine, >= %d cycles seen, true "
        "RUL <= %d)\n",
        sum.n_cuts, PREDICT_EVAL_CMAPSS_CUTS, PREDICT_EVAL_CMAPSS_MIN_SEEN,
        PREDICT_EVAL_CMAPSS_CUT_RUL);
    printf(
        "published, FD001 test split: CNN (Li 2018) 12.61, LSTM (Zheng "
        "2017) 16.14\n");
    printf(
        "p_fail: failure within %g cycles, every cycle of the held-out "
        "engines\n",
        ds->window);
    windows_report(e, "cycles");
    return calib_finish(cli, e, plot, "C-MAPSS FD001: reliability of p_fail");
}

/* ---- Backblaze ------------------------------------------------------------
 */

static void bb_header(void)
{
    printf(
        "%-24s %6s %5s %8s %8s %10s %8s %12s %10s %8s %8s %8s %8s %8s %8s "
        "%8s %9s %s\n",
        "test set", "drives", "fail", "recall", "FPR", "rule_rec", "rule_FPR",
        "rec@ruleFPR", "weibull", "Brier", "ECE", "prior", "rate", "EM_mean",
        "EM_Brier", "EM_ECE", "known_ECE", "EM_prior");
}

/* One test set's line; its calibration figures from the predictions
 * pooled since @pool_from. */
static void bb_line(const char *label,
                    const struct predict_eval_backblaze *r,
                    const struct predict_eval *e,
                    size_t pool_from)
{
    struct predict_calib_figures c, a, k;

    predict_calib_figures_of(e->pool_cal + pool_from, e->pool_y + pool_from,
                             e->n_pool - pool_from, &c);
    predict_calib_figures_of(e->pool_adapt + pool_from, e->pool_y + pool_from,
                             e->n_pool - pool_from, &a);
    predict_calib_figures_of(e->pool_known + pool_from, e->pool_y + pool_from,
                             e->n_pool - pool_from, &k);
    printf(
        "%-24s %6zu %5zu %8.3f %8.4f %10.3f %8.4f %12.3f %10.3f %8.4f "
        "%8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %9.4f ",
        label, r->drives, r->failed, r->recall, r->fpr, r->rule_recall,
        r->rule_fpr, r->recall_at_rule_fpr, r->weibull_recall, c.brier, c.ece,
        r->prior_train, r->rate, r->prior_adapted, a.brier, a.ece, k.ece);
    if (isnan(r->em_prior_min)) {
        printf("-\n");
    } else if (r->em_prior_min == r->em_prior_max) {
        printf("%.4f\n", r->em_prior_min);
    } else {
        printf("%.4f-%.4f\n", r->em_prior_min, r->em_prior_max);
    }
    fflush(stdout);
}

/* The calibration of every test set of one table, pooled: calibrated,
 * adapted by EM to each drive model's prior, and shifted to its known
 * failed fraction (a bound). */
static void bb_pooled(const struct predict_eval *e)
{
    struct predict_calib_figures c, a, k;

    predict_calib_figures_of(e->pool_cal, e->pool_y, e->n_pool, &c);
    predict_calib_figures_of(e->pool_adapt, e->pool_y, e->n_pool, &a);
    predict_calib_figures_of(e->pool_known, e->pool_y, e->n_pool, &k);
    printf(
        "pooled Brier / ECE: calibrated %.4f / %.4f, EM prior shift %.4f / "
        "%.4f, known prior (bound) %.4f / %.4f\n",
        c.brier, c.ece, a.brier, a.ece, k.brier, k.ece);
    fflush(stdout);
}

/* The rounds of one feature set: each held-out drive model (@holdout), or
 * the folds by drive. */
static int bb_rounds(struct cli *cli,
                     struct predict_eval *e,
                     struct progress *pg,
                     const char *holdout,
                     const char *variant)
{
    const struct predict_dataset *ds = e->ds;
    struct predict_eval_backblaze res[EVAL_FOLDS_MAX];
    struct predict_eval_backblaze_summary sum;

    predict_eval_pool_reset(e);
    if (holdout != NULL) {
        unsigned n_hold = 0;
        for (size_t fam = 0; fam < ds->n_families; fam++) {
            struct predict_eval_backblaze r;
            size_t from = e->n_pool;
            int rv;
            if (strcmp(holdout, "all") != 0 &&
                strcmp(holdout, ds->family_names[fam]) != 0) {
                continue;
            }
            snprintf(pg->stage, sizeof pg->stage, "%s holdout %.24s", variant,
                     ds->family_names[fam]);
            rv = predict_eval_backblaze_holdout(e, (uint32_t)fam, &r);
            if (rv != 0) {
                return cli_fail(cli, rv, e->errmsg);
            }
            bb_line(ds->family_names[fam], &r, e, from);
            n_hold++;
        }
        if (n_hold == 0) {
            return cli_usage(cli, "no drive model '%s' in the data", holdout);
        }
        bb_pooled(e);
        return CLI_EXIT_OK;
    }
    for (unsigned f = 0; f < e->folds; f++) {
        char label[32];
        size_t from = e->n_pool;
        int rv;
        snprintf(label, sizeof label, "fold %u/%u", f + 1, e->folds);
        snprintf(pg->stage, sizeof pg->stage, "%s %s", variant, label);
        rv = predict_eval_backblaze_fold(e, f, &res[f]);
        if (rv != 0) {
            return cli_fail(cli, rv, e->errmsg);
        }
        bb_line(label, &res[f], e, from);
    }
    predict_eval_backblaze_summarize(res, e->folds, &sum);
    printf(
        "mean over folds: recall %.3f (sd %.3f), rule recall %.3f (sd "
        "%.3f)\n",
        sum.recall.mean, sum.recall.sd, sum.rule_recall.mean,
        sum.rule_recall.sd);
    bb_pooled(e);
    return CLI_EXIT_OK;
}

/* Every feature, then the leak check: without the features that mark the
 * day of the last row (predict_backblaze_time_features), and with those
 * alone.  @ds is @e's data set; the masked features are a copy's. */
static int eval_backblaze(struct cli *cli,
                          struct predict_eval *e,
                          const struct predict_dataset *ds,
                          struct progress *pg,
                          const char *holdout,
                          const char *plot)
{
    const char *const *tf = predict_backblaze_time_features;
    size_t n_tf = 0, nx = ds->n_rows * ds->n_features;
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_dataset masked = *ds;
    int rv;

    while (tf[n_tf] != NULL) {
        n_tf++;
    }
    printf(
        "Backblaze: recall at %.0f%% FPR (model) vs Backblaze's rule "
        "(SMART 5/187/188/197/198 raw > 0) and a Weibull prior on age\n",
        PREDICT_EVAL_FPR * 100);
    bb_header();
    rv = bb_rounds(cli, e, pg, holdout, "all features");
    if (rv == CLI_EXIT_OK) {
        rv = calib_finish(cli, e, plot, "Backblaze: reliability of p_fail");
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    /* The masked copy shares everything with @ds but its features; the
     * rule and the age prior still read @ds's (e->ref). */
    masked.x = malloc((nx + 1) * sizeof *masked.x);
    if (masked.x == NULL) {
        return cli_fail(cli, AUGUR_ENOMEM, "");
    }
    memcpy(masked.x, ds->x, nx * sizeof *masked.x);
    e->ds = &masked;
    e->ref = ds;
    printf(
        "\nleak check: the features that mark the day of the last row "
        "(");
    for (size_t i = 0; i < n_tf; i++) {
        printf("%s%s", i > 0 ? ", " : "", tf[i]);
    }
    printf("), missing in training and test:\n");
    bb_header();
    rv = predict_dataset_mask(&masked, tf, n_tf, false, errmsg);
    rv = rv != 0 ? cli_fail(cli, rv, errmsg)
                 : bb_rounds(cli, e, pg, holdout, "without age");
    if (rv == CLI_EXIT_OK) {
        memcpy(masked.x, ds->x, nx * sizeof *masked.x);
        printf(
            "\nleak check: those features alone (what the day of the "
            "last row tells):\n");
        bb_header();
        rv = predict_dataset_mask(&masked, tf, n_tf, true, errmsg);
        rv = rv != 0 ? cli_fail(cli, rv, errmsg)
                     : bb_rounds(cli, e, pg, holdout, "age only");
    }
    e->ds = ds;
    e->ref = NULL;
    free(masked.x);
    return rv;
}

static double ratio_of(size_t num, size_t den)
{
    return den > 0 ? (double)num / (double)den : 0.0;
}

static int eval_pdm(struct cli *cli,
                    struct predict_eval *e,
                    struct progress *pg,
                    const char *plot,
                    bool nested)
{
    const struct predict_dataset *ds = e->ds;
    struct predict_eval_pdm res[EVAL_FOLDS_MAX];
    struct predict_eval_pdm_summary sum;

    printf(
        "Azure PdM: component failure within %g h, %zu machines, %u folds "
        "by machine, threshold %.2f\n",
        ds->window, ds->n_groups, e->folds, PREDICT_EVAL_PDM_THRESHOLD);
    printf("%-10s %7s %6s %10s %8s %12s %10s %6s %10s %8s\n", "fold", "hours",
           "pos", "precision", "recall", "base_prec", "base_rec", "thr",
           "prec@thr", "rec@thr");
    for (unsigned f = 0; f < e->folds; f++) {
        const struct predict_eval_pdm *r = &res[f];
        double thr = PREDICT_EVAL_PDM_THRESHOLD;
        int rv;

        struct predict_train_params kept = e->params;
        struct predict_select_result sel;

        if (nested) {
            snprintf(pg->stage, sizeof pg->stage, "fold %u/%u selection", f + 1,
                     e->folds);
            rv = predict_eval_pdm_select(e, f, &sel);
            thr = sel.chosen_threshold;
        } else {
            snprintf(pg->stage, sizeof pg->stage, "fold %u/%u threshold", f + 1,
                     e->folds);
            rv = predict_eval_pdm_threshold(e, f, &thr);
        }
        if (rv == 0) {
            snprintf(pg->stage, sizeof pg->stage, "fold %u/%u", f + 1,
                     e->folds);
            rv = predict_eval_pdm_fold(e, f, thr, &res[f]);
        }
        e->params = kept;
        if (rv != 0) {
            return cli_fail(cli, rv, e->errmsg);
        }
        if (nested) {
            printf(
                "  chosen on %zu training machines (%d inner folds): depth "
                "%u, eta %g, %u rounds, class weight %s, threshold %.2f "
                "(inner min(P, R) %.3f)\n",
                sel.units, PREDICT_SELECT_INNER_FOLDS, sel.choice.max_depth,
                sel.choice.eta, sel.choice.rounds,
                sel.choice.weight == PREDICT_WEIGHT_SQRT ? "sqrt(neg/pos)"
                                                         : "neg/pos",
                sel.chosen_threshold, sel.chosen_score);
        }
        printf(
            "%u/%-8u %7zu %6zu %10.3f %8.3f %12.3f %10.3f %6.2f %10.3f "
            "%8.3f\n",
            f + 1, e->folds, r->hours, r->positives, r->precision, r->recall,
            r->base_precision, r->base_recall, r->threshold,
            r->precision_at_threshold, r->recall_at_threshold);
        for (size_t k = 0; k < r->events.n_missed; k++) {
            const struct predict_eval_pdm_missed *m = &r->events.missed[k];
            char when[32];
            time_t s = (time_t)(m->t * 3600.0);
            struct tm tm;
            if (gmtime_r(&s, &tm) == NULL ||
                strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm) == 0) {
                snprintf(when, sizeof when, "hour %.0f", m->t);
            }
            printf(
                "  missed at p >= %.2f: machine %s, failure %s, p at most "
                "%.3f in the %g h before\n",
                predict_eval_pdm_levels[PREDICT_EVAL_PDM_LEVELS - 1],
                ds->group_names[m->group], when, m->p_max, ds->window);
        }
        fflush(stdout);
    }
    predict_eval_pdm_summarize(res, e->folds, &sum);
    printf(
        "mean (sd) over folds: precision %.3f (%.3f), recall %.3f (%.3f); "
        "baseline 'any error in the last %g h': precision %.3f, recall "
        "%.3f\n",
        sum.precision.mean, sum.precision.sd, sum.recall.mean, sum.recall.sd,
        ds->window, sum.base_precision.mean, sum.base_recall.mean);
    printf(
        "pooled over folds: precision %.3f, recall %.3f (tp %zu, fp %zu, "
        "fn %zu)\n",
        sum.pooled_precision, sum.pooled_recall, sum.at_fixed.tp,
        sum.at_fixed.fp, sum.at_fixed.fn);
    printf(
        "%s: precision %.3f (%.3f), recall %.3f (%.3f); pooled %.3f, "
        "%.3f\n",
        nested ? "nested, parameters and threshold chosen on inner folds of "
                 "the training machines"
               : "threshold chosen on held-out training machines (max of "
                 "min(P, R))",
        sum.precision_at_threshold.mean, sum.precision_at_threshold.sd,
        sum.recall_at_threshold.mean, sum.recall_at_threshold.sd,
        sum.pooled_precision_at_threshold, sum.pooled_recall_at_threshold);
    printf(
        "calibrated p >= %.2f, pooled over folds: precision %.3f, recall "
        "%.3f (tp %zu, fp %zu, fn %zu)\n",
        PREDICT_EVAL_PDM_THRESHOLD, sum.pooled_precision_calibrated,
        sum.pooled_recall_calibrated, sum.at_calibrated.tp,
        sum.at_calibrated.fp, sum.at_calibrated.fn);
    printf(
        "AUC, failure within %g h, mean (sd) over folds: the model %.3f "
        "(%.3f); the anomaly score without training (largest |robust z| "
        "of a sensor against its own baseline) %.3f (%.3f)\n",
        ds->window, sum.auc.mean, sum.auc.sd, sum.anomaly_auc.mean,
        sum.anomaly_auc.sd);
    {
        const struct predict_eval_pdm_events *ev = &sum.events;
        printf(
            "events, calibrated p_fail (as stored and scored live), pooled "
            "over folds:\n");
        for (unsigned k = 0; k < PREDICT_EVAL_PDM_LEVELS; k++) {
            printf(
                "  p >= %.2f: failures announced within %g h before: %zu of "
                "%zu (%.3f); false alarms: %zu of %zu quiet machine-days "
                "(%.4f)\n",
                predict_eval_pdm_levels[k], ds->window, ev->announced[k],
                ev->failures, ratio_of(ev->announced[k], ev->failures),
                ev->alarm_days[k], ev->quiet_days,
                ratio_of(ev->alarm_days[k], ev->quiet_days));
        }
    }
    windows_report(e, "h");
    return calib_finish(cli, e, plot,
                        "Azure PdM: reliability of p_fail (24 h)");
}

static int run_model_eval(struct cli *cli, const struct cli_args *args)
{
    const char *folds_s = cli_args_get(args, "folds");
    const char *holdout = cli_args_get(args, "holdout-model");
    const char *plot = cli_args_get(args, "plot");
    const char *seed_s = cli_args_get(args, "seed");
    uint64_t seed = PREDICT_EVAL_SEED;
    struct predict_train_params params;
    struct predict_dataset ds;
    struct predict_eval e;
    struct progress pg;
    enum predict_format f;
    uint64_t folds = FOLDS_DEFAULT;
    double window;
    bool nested;
    int rv;

    progress_init(&pg, cli->words);
    if ((rv = format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = window_get(cli, args, &window)) != CLI_EXIT_OK ||
        (rv = params_get(cli, args, f, &params)) != CLI_EXIT_OK ||
        (rv = select_get(cli, args, f, &nested)) != CLI_EXIT_OK) {
        return rv;
    }
    if (plot != NULL && *plot == '\0') {
        return cli_usage(cli, "--plot: a file name");
    }
    if (folds_s != NULL) {
        rv = cli_value_u64(cli, "--folds", folds_s, PREDICT_EVAL_FOLDS_MIN,
                           &folds);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (folds > EVAL_FOLDS_MAX) {
            return cli_usage(cli, "--folds: at most %d", EVAL_FOLDS_MAX);
        }
    }
    if (seed_s != NULL) {
        rv = cli_value_u64(cli, "--seed", seed_s, 0, &seed);
        if (rv != CLI_EXIT_OK) {
            return rv;
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
        /* The count first: closing the data set zeroes it. */
        size_t units = ds.n_groups;
        predict_dataset_close(&ds);
        return cli_usage(cli, "--folds %llu: the data has %zu units only",
                         (unsigned long long)folds, units);
    }
    params.progress = progress_rounds;
    params.progress_arg = &pg;
    rv = predict_eval_init(&e, &ds, (unsigned)folds, seed, &params);
    if (rv != 0) {
        rv = cli_fail(cli, rv, e.errmsg);
    } else {
        static const double cmapss_w[] = {10, 20, 30, 50, 100};
        static const double pdm_w[] = {6, 24, 72, 168};
        const double *w = f == PREDICT_FORMAT_CMAPSS ? cmapss_w : pdm_w;
        size_t nw = f == PREDICT_FORMAT_CMAPSS ? 5 : 4;
        if (f != PREDICT_FORMAT_BACKBLAZE && params.survival) {
            e.n_windows = nw;
            memcpy(e.windows, w, nw * sizeof *w);
        }
        switch (f) {
            case PREDICT_FORMAT_CMAPSS:
                rv = eval_cmapss(cli, &e, &pg, plot);
                break;
            case PREDICT_FORMAT_BACKBLAZE:
                rv = eval_backblaze(cli, &e, &ds, &pg, holdout, plot);
                break;
            default:
                rv = eval_pdm(cli, &e, &pg, plot, nested);
                break;
        }
    }
    if (rv == CLI_EXIT_OK) {
        fprintf(stderr, "augur: %s: done in %.1f s\n", cli->words,
                now_s() - pg.start);
    }
    predict_eval_close(&e);
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
    {"calibration", 0, "none|platt|isotonic",
     "calibrate p_fail on 3 inner folds by unit (default isotonic)", 0},
    {"threads", 0, "N", "XGBoost threads (default all cores)", 0},
    {"aft-sigma", 0, "S",
     "scale of the time-to-failure model's normal errors on log time "
     "(default 1)",
     0},
    {"select", 0, "grid|none",
     "pdm: choose depth, eta, rounds and class weight on 4 folds by "
     "machine (grid, the default), or keep the fixed ones (none)",
     0},
    {0},
};

static const struct cli_flag model_predict_flags[] = {
    {"model", 0, "MODEL", "a model file from 'augur model train'",
     CLI_FLAG_REQUIRED},
    {"format", 0, MODEL_FORMATS, "the data's format", CLI_FLAG_REQUIRED},
    {"data", 0, "PATH[,PATH...]", "the data to score", CLI_FLAG_REQUIRED},
    {"window", 0, "W",
     "p_fail within W (the data's time unit) from the model's "
     "time-to-failure part, instead of its own window",
     0},
    {"adapt-prior", 0, "em|RATE",
     "move p_fail from the training units' failed fraction to each drive "
     "(machine) model's own: estimated by EM on its scores (em; measured "
     "unreliable on Backblaze, see docs/PREDICTOR.md), or RATE known from "
     "the fleet's own failure counts",
     0},
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
    {"calibration", 0, "none|platt|isotonic", "as for train (default isotonic)",
     0},
    {"plot", 0, "FILE.svg",
     "write a reliability diagram of the held-out p_fail, raw and "
     "calibrated",
     0},
    {"threads", 0, "N", "XGBoost threads (default all cores)", 0},
    {"aft-sigma", 0, "S", "as for train (default 1)", 0},
    {"seed", 0, "N",
     "shuffle the units into folds with this seed (default the fixed one), "
     "to see how much a figure owes to one split",
     0},
    {"select", 0, "grid|none",
     "pdm: nested, choose the parameters and the threshold on inner folds "
     "of each fold's training machines (grid, the default), or keep the "
     "fixed parameters (none)",
     0},
    {0},
};

const struct cli_command cli_model_commands[] = {
    {"model train", "train a failure model on a dataset",
     "Trains a failure classifier (and for cmapss a remaining-life "
     "regressor) with XGBoost, calibrates its p_fail on out-of-fold "
     "predictions (3 inner folds by unit) and writes a self-describing "
     "model file.  For pdm the depth, eta, rounds and class weight are "
     "first chosen on 4 folds by machine (--select none: the fixed ones).",
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
     "PHM08 score; backblaze recall at 1% FPR beside Backblaze's rule, and "
     "the leak check (without the features that mark the day of the last "
     "row, and with them alone); pdm precision and recall, and the "
     "failures whose calibrated p reached 0.5 / 0.8 in the 24 h before them "
     "beside the quiet machine-days on which it did (false alarms), with "
     "the parameters and threshold chosen on inner folds of each fold's "
     "training machines (nested).  For "
     "every data "
     "set, the Brier score and expected calibration error of the held-out "
     "p_fail, raw and calibrated.",
     NULL, model_eval_flags,
     "augur model eval --format backblaze --data a.csv,b.csv "
     "--holdout-model all",
     run_model_eval},
    {"model publish", "replicate a trained model file into the store",
     "Checks that the file is a model augurd can load, then sends it in "
     "chunks of 192 KiB (one Raft entry each) under one upload id, and a "
     "commit that makes it "
     "visible only when every chunk is in and the BLAKE2b-256 checksum of "
     "the whole matches.  Every node keeps every published model, so a new "
     "leader scores with it at once.  Publishing a name again makes a new "
     "version, which replaces the old one (an active model keeps scoring, "
     "with the new version).",
     cli_model_publish_args, cli_model_publish_flags,
     "augur model publish pdm.model --name pdm --kind host",
     cli_model_publish_run},
    {"model list",
     "list published models: name, version, size, checksum, active kinds", NULL,
     NULL, NULL, "augur model list -o json", cli_model_list_run},
    {"model activate", "choose the model that scores a resource kind",
     "The leader scores each reporting resource with the model active for "
     "its kind; a kind with none gets an anomaly score from its telemetry.",
     cli_model_activate_args, cli_model_activate_flags,
     "augur model activate pdm --kind host", cli_model_activate_run},
    {0},
};
