/* augur model predict: score a dataset with a model file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cmd_model_int.h"
#include "predict/predict.h"

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

int cli__model_predict_run(struct cli *cli, const struct cli_args *args)
{
    const char *output = cli_args_get(args, "output");
    const char *adapt = cli_args_get(args, "adapt-prior");
    bool json = output != NULL && strcmp(output, "json") == 0;
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_dataset ds;
    struct predict_model m;
    struct predict_score *sc = NULL;
    struct cli__model_progress pg;
    enum predict_format f;
    size_t *rows = NULL, n = 0;
    double window = 0.0;
    int rv;

    cli__model_progress_init(&pg, cli->words);
    if ((rv = cli__model_format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = cli__model_window_get(cli, args, &window)) != CLI_EXIT_OK ||
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
    rv = cli__model_data_read(cli, args, f, m.window, &ds, &pg);
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
