/* augur model eval's calibration figures: the Brier score, the expected
 * calibration error and the reliability bins of the held-out p_fail, the
 * reliability diagram (SVG), and p within each window. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_model_int.h"
#include "predict/predict.h"

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
 * calibrated, into @raw and @cal, printed; its inner folds were by drive
 * model (@by_model) or by unit. */
static void calib_report(const struct predict_eval *e,
                         bool by_model,
                         struct predict_calib_figures *raw,
                         struct predict_calib_figures *cal)
{
    predict_calib_figures_of(e->pool_raw, e->pool_y, e->n_pool, raw);
    predict_calib_figures_of(e->pool_cal, e->pool_y, e->n_pool, cal);
    if (e->params.calibration == PREDICT_CALIB_NONE) {
        printf("calibration none: %zu held-out predictions, %zu positive\n",
               raw->n, raw->positives);
    } else if (by_model) {
        printf(
            "calibration (%s, fitted on inner folds by drive model of each "
            "training set, each scored by a classifier trained on the "
            "other models; never on the test units): %zu held-out "
            "predictions, %zu positive\n",
            predict_calib_kind_name(e->params.calibration), raw->n,
            raw->positives);
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
void cli__model_windows_report(struct predict_eval *e, const char *unit)
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
int cli__model_calib_finish(struct cli *cli,
                            const struct predict_eval *e,
                            bool by_model,
                            const char *plot,
                            const char *title)
{
    struct predict_calib_figures raw, cal;

    calib_report(e, by_model, &raw, &cal);
    if (plot == NULL) {
        return CLI_EXIT_OK;
    }
    return plot_write(cli, plot, title, &raw, &cal);
}
