/* What the files of the offline predictor's commands share (cmd_model.c,
 * cmd_model_train.c, cmd_model_predict.c, cmd_model_eval.c,
 * cmd_model_calib.c); private to them. */
#ifndef AUGUR_CLI_CMD_MODEL_INT_H
#define AUGUR_CLI_CMD_MODEL_INT_H

#include "cli/cli.h"
#include "predict/predict.h"

#define MODEL_FORMATS "cmapss|backblaze|pdm"
#define MODEL_FILE_MAX (1u << 30)
#define FOLDS_DEFAULT 5

/* ---- progress on stderr (cmd_model.c) ------------------------------------ */

struct cli__model_progress
{
    double start;
    double last;
    const char *words;
    char stage[64];
};

/* Seconds on the monotonic clock. */
double cli__model_now(void);

/* Start the display of @p; @words (borrowed, outlives @p) prefix its
 * lines. */
void cli__model_progress_init(struct cli__model_progress *p, const char *words);

/* A training's progress callback (@arg a struct cli__model_progress): a
 * line at most every two seconds, after the first second. */
void cli__model_progress_rounds(void *arg, unsigned done, unsigned total);

/* A line of its own on stderr, with the time since the start. */
void cli__model_progress_note(struct cli__model_progress *p,
                              const char *fmt,
                              ...) CLI_PRINTF(2, 3);

/* ---- shared steps (cmd_model.c) ------------------------------------------
 * Each returns CLI_EXIT_OK or, having printed why, another CLI_EXIT_. */

/* --format into @f. */
int cli__model_format_get(struct cli *cli,
                          const struct cli_args *args,
                          enum predict_format *f);

/* --window into @window (0 when absent: the format's default). */
int cli__model_window_get(struct cli *cli,
                          const struct cli_args *args,
                          double *window);

/* The training parameters of @f with the flags --calibration, --threads
 * and --aft-sigma applied. */
int cli__model_params_get(struct cli *cli,
                          const struct cli_args *args,
                          enum predict_format f,
                          struct predict_train_params *p);

/* --select grid|none into @grid (default grid for pdm, none otherwise). */
int cli__model_select_get(struct cli *cli,
                          const struct cli_args *args,
                          enum predict_format f,
                          bool *grid);

/* Read --data into @ds (the caller's, initialised; it closes it). */
int cli__model_data_read(struct cli *cli,
                         const struct cli_args *args,
                         enum predict_format f,
                         double window,
                         struct predict_dataset *ds,
                         struct cli__model_progress *pg);

/* Train @m (the caller's, initialised) on @rows[0..@n) of @ds (NULL: all)
 * with @params, its progress shown on @pg. */
int cli__model_train_rows(struct cli *cli,
                          struct predict_model *m,
                          const struct predict_dataset *ds,
                          const size_t *rows,
                          size_t n,
                          const struct predict_train_params *params,
                          struct cli__model_progress *pg);

/* ---- eval's calibration figures (cmd_model_calib.c) ---------------------- */

/* Print p within each window of @e from the time-to-failure model, in
 * @unit (the data's time unit). */
void cli__model_windows_report(struct predict_eval *e, const char *unit);

/* After a data set's rounds: print the calibration figures of @e (its
 * calibration folded by drive model when @by_model, as
 * predict_eval_backblaze_holdout does, else by unit), and write the
 * reliability diagram titled @title to @plot unless it is NULL. */
int cli__model_calib_finish(struct cli *cli,
                            const struct predict_eval *e,
                            bool by_model,
                            const char *plot,
                            const char *title);

/* ---- the commands ---------------------------------------------------------
 */

int cli__model_train_run(struct cli *cli, const struct cli_args *args);
int cli__model_predict_run(struct cli *cli, const struct cli_args *args);
int cli__model_eval_run(struct cli *cli, const struct cli_args *args);

#endif
