/* augur model train: train a failure model on a dataset and write the
 * model file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_model_int.h"
#include "predict/predict.h"

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
                        struct cli__model_progress *pg)
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
    p.progress = cli__model_progress_rounds;
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

int cli__model_train_run(struct cli *cli, const struct cli_args *args)
{
    const char *out = cli_args_get(args, "out");
    char errmsg[PREDICT_ERRMSG_SIZE];
    struct predict_train_params params;
    struct predict_dataset ds;
    struct predict_model m;
    struct cli__model_progress pg;
    enum predict_format f;
    double window;
    char *buf = NULL;
    size_t len = 0;
    bool grid;
    int rv;

    cli__model_progress_init(&pg, cli->words);
    if ((rv = cli__model_format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = cli__model_window_get(cli, args, &window)) != CLI_EXIT_OK ||
        (rv = cli__model_params_get(cli, args, f, &params)) != CLI_EXIT_OK ||
        (rv = cli__model_select_get(cli, args, f, &grid)) != CLI_EXIT_OK ||
        (rv = cli__model_data_read(cli, args, f, window, &ds, &pg)) !=
            CLI_EXIT_OK) {
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
    rv = cli__model_train_rows(cli, &m, &ds, NULL, 0, &params, &pg);
    if (rv == CLI_EXIT_OK) {
        int err = predict_model_save(&m, &buf, &len, errmsg);
        rv = err != 0 ? cli_fail(cli, err, errmsg)
                      : file_write(cli, out, buf, len);
    }
    if (rv == CLI_EXIT_OK) {
        fprintf(stderr,
                "augur: %s: trained on %llu rows of %zu units (%llu "
                "positive, window %g, calibration %s); wrote %s (%zu "
                "bytes) in %.1f s\n",
                cli->words, (unsigned long long)m.train_rows, ds.n_groups,
                (unsigned long long)m.train_positives, ds.window,
                predict_calib_kind_name(m.calib.kind), out, len,
                cli__model_now() - pg.start);
    }
    free(buf);
    predict_model_close(&m);
    predict_dataset_close(&ds);
    return rv;
}
