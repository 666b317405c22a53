/* augur model eval: cross-validation by unit on a dataset, the folds run
 * one by one with the progress display between them, and the figures
 * printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cmd_model_int.h"
#include "predict/predict.h"

/* The computing is predict/'s (predict_eval_*); here the folds run one by
 * one, with the progress display between them, and the figures print. */

#define EVAL_FOLDS_MAX 64

static int eval_cmapss(struct cli *cli,
                       struct predict_eval *e,
                       struct cli__model_progress *pg,
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
        cli__model_progress_note(
            pg,
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
    cli__model_windows_report(e, "cycles");
    return cli__model_calib_finish(cli, e, false, plot,
                                   "C-MAPSS FD001: reliability of p_fail");
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
                     struct cli__model_progress *pg,
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
                          struct cli__model_progress *pg,
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
        rv = cli__model_calib_finish(cli, e, holdout != NULL, plot,
                                     "Backblaze: reliability of p_fail");
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
                    struct cli__model_progress *pg,
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
    cli__model_windows_report(e, "h");
    return cli__model_calib_finish(cli, e, false, plot,
                                   "Azure PdM: reliability of p_fail (24 h)");
}

int cli__model_eval_run(struct cli *cli, const struct cli_args *args)
{
    const char *folds_s = cli_args_get(args, "folds");
    const char *holdout = cli_args_get(args, "holdout-model");
    const char *plot = cli_args_get(args, "plot");
    const char *seed_s = cli_args_get(args, "seed");
    uint64_t seed = PREDICT_EVAL_SEED;
    struct predict_train_params params;
    struct predict_dataset ds;
    struct predict_eval e;
    struct cli__model_progress pg;
    enum predict_format f;
    uint64_t folds = FOLDS_DEFAULT;
    double window;
    bool nested;
    int rv;

    cli__model_progress_init(&pg, cli->words);
    if ((rv = cli__model_format_get(cli, args, &f)) != CLI_EXIT_OK ||
        (rv = cli__model_window_get(cli, args, &window)) != CLI_EXIT_OK ||
        (rv = cli__model_params_get(cli, args, f, &params)) != CLI_EXIT_OK ||
        (rv = cli__model_select_get(cli, args, f, &nested)) != CLI_EXIT_OK) {
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
    rv = cli__model_data_read(cli, args, f, window, &ds, &pg);
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
    params.progress = cli__model_progress_rounds;
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
                cli__model_now() - pg.start);
    }
    predict_eval_close(&e);
    predict_dataset_close(&ds);
    return rv;
}
