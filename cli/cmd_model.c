/* The offline predictor's commands (model train, predict and eval on
 * dataset files, no cluster needed): the steps they share, the progress
 * shown on stderr, and the command table.  Train is in cmd_model_train.c,
 * predict in cmd_model_predict.c, eval in cmd_model_eval.c and its
 * calibration figures in cmd_model_calib.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cmd_model_int.h"
#include "predict/predict.h"

/* ---- progress on stderr -------------------------------------------------- */

double cli__model_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli__model_progress_init(struct cli__model_progress *p, const char *words)
{
    p->start = cli__model_now();
    p->last = p->start;
    p->words = words;
    p->stage[0] = '\0';
}

/* A line at most every two seconds, after the first second. */
void cli__model_progress_rounds(void *arg, unsigned done, unsigned total)
{
    struct cli__model_progress *p = arg;
    double t = cli__model_now();

    if (t - p->last >= 2.0 || (done == total && t - p->start >= 1.0)) {
        fprintf(stderr, "augur: %s: %s%sround %u/%u (%.1f s)\n", p->words,
                p->stage, p->stage[0] != '\0' ? ": " : "", done, total,
                t - p->start);
        p->last = t;
    }
}

void cli__model_progress_note(struct cli__model_progress *p,
                              const char *fmt,
                              ...)
{
    va_list ap;

    fprintf(stderr, "augur: %s: ", p->words);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%.1f s)\n", cli__model_now() - p->start);
    p->last = cli__model_now();
}

/* ---- shared steps -------------------------------------------------------- */

int cli__model_format_get(struct cli *cli,
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

int cli__model_window_get(struct cli *cli,
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
int cli__model_params_get(struct cli *cli,
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
int cli__model_select_get(struct cli *cli,
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

int cli__model_data_read(struct cli *cli,
                         const struct cli_args *args,
                         enum predict_format f,
                         double window,
                         struct predict_dataset *ds,
                         struct cli__model_progress *pg)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    int rv =
        predict_dataset_read(ds, f, cli_args_get(args, "data"), window, errmsg);

    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    if (cli__model_now() - pg->start >= 1.0) {
        cli__model_progress_note(pg, "read %zu rows of %zu units", ds->n_rows,
                                 ds->n_groups);
    }
    return CLI_EXIT_OK;
}

int cli__model_train_rows(struct cli *cli,
                          struct predict_model *m,
                          const struct predict_dataset *ds,
                          const size_t *rows,
                          size_t n,
                          const struct predict_train_params *params,
                          struct cli__model_progress *pg)
{
    struct predict_train_params p = *params;
    char errmsg[PREDICT_ERRMSG_SIZE];
    int rv;

    p.progress = cli__model_progress_rounds;
    p.progress_arg = pg;
    rv = predict_model_train(m, ds, rows, n, &p, errmsg);
    return rv != 0 ? cli_fail(cli, rv, errmsg) : CLI_EXIT_OK;
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
     cli__model_train_run},
    {"model predict", "score a dataset with a model",
     "-o csv (default): cmapss 'unit,rul,p_fail' per unit at its last "
     "cycle; backblaze 'serial_number,p_fail' per drive; pdm "
     "'machineID,datetime,p_fail' per machine and hour.  -o json adds the "
     "confidence and the top contributing features.",
     NULL, model_predict_flags,
     "augur model predict --model fd001.model --format cmapss --data "
     "test_FD001.txt -o csv",
     cli__model_predict_run},
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
     cli__model_eval_run},
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
