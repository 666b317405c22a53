/* The predictor: streaming telemetry features, failure models (XGBoost),
 * a Weibull prior on age, correlated risk over the dependency graph, model
 * files, evaluation metrics and methods, and the dataset adapters of the
 * offline tools.
 *
 * Everything but the adapters (predict_dataset_read and friends) is pure
 * computation: no I/O, no clock, no global state.  The streaming features
 * never allocate. */
#ifndef AUGUR_PREDICT_H
#define AUGUR_PREDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define PREDICT_WARN_UNUSED __attribute__((warn_unused_result))

#define PREDICT_ERRMSG_SIZE 256

/* ---- streaming features (predict/stream.c) ---------------------------- */

#define PREDICT_WINDOW_MAX 64   /* rolling window, samples */
#define PREDICT_BASELINE_MAX 32 /* own-baseline samples */
#define PREDICT_Z_CAP 100.0     /* robust scores are clamped to +-this */

/* How one stream summarises its samples. */
struct predict_stream_config
{
    double ewma_alpha; /* (0, 1]: weight of the newest sample */
    double holt_alpha; /* (0, 1]: Holt level smoothing */
    double holt_beta;  /* (0, 1]: Holt trend smoothing */
    unsigned window;   /* 1..PREDICT_WINDOW_MAX samples */
    unsigned baseline; /* 0..PREDICT_BASELINE_MAX: the first samples, kept
                        * as this resource's own baseline (0: none) */
};

/* The state of one (resource, metric).  Caller allocates; init, then update
 * once per sample.  Fixed size: updating never allocates. */
struct predict_stream
{
    struct predict_stream_config cfg;
    uint64_t n; /* samples seen */
    double last;
    double ewma_mean;
    double ewma_var;
    double level; /* Holt */
    double trend;
    double win_sum;
    double win_sumsq;
    unsigned win_len;
    unsigned win_pos; /* next slot to write */
    double win[PREDICT_WINDOW_MAX];
    unsigned base_len;
    double base[PREDICT_BASELINE_MAX];
    double base_median; /* valid once base_len == cfg.baseline */
    double base_mad;
};

/* The features one stream yields, in this order. */
enum predict_stream_feature
{
    PREDICT_SF_VALUE = 0, /* the last sample */
    PREDICT_SF_EWMA_MEAN,
    PREDICT_SF_EWMA_STD,
    PREDICT_SF_HOLT_LEVEL,
    PREDICT_SF_HOLT_TREND,
    PREDICT_SF_WIN_MEAN,
    PREDICT_SF_WIN_STD, /* population standard deviation */
    PREDICT_SF_WIN_MIN,
    PREDICT_SF_WIN_MAX,
    PREDICT_SF_WIN_SLOPE,  /* least-squares slope per sample */
    PREDICT_SF_ROBUST_Z,   /* (last - median) / (1.4826 MAD) over window */
    PREDICT_SF_BASE_DELTA, /* EWMA mean minus the baseline's median */
    PREDICT_SF_BASE_Z,     /* (last - base median) / (1.4826 base MAD) */
    PREDICT_SF_COUNT
};

/* The short names of the features ("ewma_mean"), static storage. */
const char *predict_stream_feature_name(enum predict_stream_feature f);

/* Check @cfg.  Returns 0 or AUGUR_EINVAL with a message in @errmsg. */
int predict_stream_config_check(const struct predict_stream_config *cfg,
                                char *errmsg) PREDICT_WARN_UNUSED;

/* Reset @s to no samples.  @cfg must pass predict_stream_config_check. */
void predict_stream_init(struct predict_stream *s,
                         const struct predict_stream_config *cfg);

/* Take sample @x (finite; a NaN is ignored, as a missing sample).  O(1). */
void predict_stream_update(struct predict_stream *s, double x);

/* Write the PREDICT_SF_COUNT features into @out.  Features that need
 * samples not yet seen are NaN (XGBoost's "missing"); O(window). */
void predict_stream_features(const struct predict_stream *s, float *out);

/* Median and median absolute deviation of @v[0..@n), n >= 1; @scratch holds
 * n doubles.  Does not modify @v. */
void predict_median_mad(const double *v,
                        size_t n,
                        double *scratch,
                        double *median,
                        double *mad);

/* A robust z score: (x - median) / (1.4826 mad), 0 when x == median, and
 * clamped to +-PREDICT_Z_CAP (also when mad is 0). */
double predict_robust_z(double x, double median, double mad);

/* Events of a few kinds (errors, maintenance): the time since the last one
 * and an exponentially decayed count (time constant @tau), all O(1). */
#define PREDICT_EVENT_KINDS_MAX 8

struct predict_events
{
    unsigned n_kinds;
    double tau;
    bool seen[PREDICT_EVENT_KINDS_MAX];
    double last[PREDICT_EVENT_KINDS_MAX];
    double count[PREDICT_EVENT_KINDS_MAX]; /* decayed to last[] */
};

void predict_events_init(struct predict_events *e,
                         unsigned n_kinds,
                         double tau);
/* Note an event of @kind (< n_kinds) at time @t (not before the previous
 * event of that kind; an earlier one is counted at the previous time). */
void predict_events_note(struct predict_events *e, unsigned kind, double t);
/* Time from the last event of @kind to @t; NaN when none yet. */
double predict_events_since(const struct predict_events *e,
                            unsigned kind,
                            double t);
/* The decayed count of events of @kind at @t: sum of exp(-(t - ti)/tau). */
double predict_events_rate(const struct predict_events *e,
                           unsigned kind,
                           double t);

/* A monotonic counter sampled now and then: its rate per time unit, and an
 * EWMA of the rate.  A counter that goes down was reset: the new value is
 * taken as the increase since the reset. */
struct predict_counter
{
    double alpha;
    bool has_prev;
    bool has_rate;
    double prev_t;
    double prev_v;
    double rate;
    double ewma_rate;
    uint64_t resets;
};

void predict_counter_init(struct predict_counter *c, double alpha);
/* Take value @v at time @t.  Returns 0, or AUGUR_EINVAL when @t is not
 * after the previous sample's time (the sample is ignored). */
int predict_counter_update(struct predict_counter *c, double t, double v);

/* ---- Weibull prior on age (predict/weibull.c) ------------------------- */

struct predict_weibull
{
    double shape; /* k */
    double scale; /* lambda, in the unit of the ages */
};

/* Maximum-likelihood fit to ages @t[0..@n) (> 0), where @failed[i] says
 * whether unit i failed at t[i] (else it was still alive: censored).
 * Returns 0, or AUGUR_EINVAL with a message when there is no failure or an
 * age is not positive and finite. */
int predict_weibull_fit(const double *t,
                        const uint8_t *failed,
                        size_t n,
                        struct predict_weibull *out,
                        char *errmsg) PREDICT_WARN_UNUSED;

/* Probability of failing within @horizon for a unit alive at @age. */
double predict_weibull_prob(const struct predict_weibull *w,
                            double age,
                            double horizon);

/* Median remaining life of a unit alive at @age. */
double predict_weibull_residual(const struct predict_weibull *w, double age);

/* ---- correlated risk (predict/graph.c) -------------------------------- */

/* The kinds of dependency edges, numbered as the store numbers them
 * (enum store_edge_kind, whose numbers are in the Raft log): an edge read
 * from the store keeps its number here.  predict/ sees no store/ header, so
 * predict_features_test asserts that the two agree for every kind. */
enum predict_edge_kind
{
    PREDICT_EDGE_POWER = 0,
    PREDICT_EDGE_NETWORK = 1,
    PREDICT_EDGE_STORAGE = 2,
    PREDICT_EDGE_WORKLOAD = 3,
    PREDICT_EDGE_COOLING = 4,
    PREDICT_EDGE_KINDS
};

/* @from depends on @to (a server on its PSU); indexes into the nodes. */
struct predict_edge
{
    uint32_t from;
    uint32_t to;
    enum predict_edge_kind kind;
};

/* Effective failure probabilities by noisy-OR: each resource fails on its
 * own (@own[i]) or through any dependency j, which fails (effectively) and
 * passes its failure on with probability @weight[kind]:
 *   out[i] = 1 - (1 - own[i]) * prod_j (1 - weight[kind_ij] * out[j]).
 * Dependencies are resolved first (the graph must be acyclic).  @out may not
 * alias @own.  Allocates O(n + edges) scratch.  Returns 0, AUGUR_EINVAL (an
 * index out of range, a probability or weight outside [0, 1]),
 * AUGUR_ECYCLE, or AUGUR_ENOMEM, with a message in @errmsg. */
int predict_graph_propagate(size_t n,
                            const double *own,
                            const struct predict_edge *edges,
                            size_t n_edges,
                            const double weight[PREDICT_EDGE_KINDS],
                            double *out,
                            char *errmsg) PREDICT_WARN_UNUSED;

/* ---- datasets and their adapters (predict/dataset.c, predict/adapt_*.c) */

enum predict_format
{
    PREDICT_FORMAT_CMAPSS = 0,
    PREDICT_FORMAT_BACKBLAZE,
    PREDICT_FORMAT_PDM,
    PREDICT_FORMAT_COUNT
};

/* "cmapss", "backblaze", "pdm"; -1 when unknown. */
int predict_format_parse(const char *name);
const char *predict_format_name(enum predict_format f);
/* The default failure window of a format, in its time unit (cycles, days,
 * hours). */
double predict_format_default_window(enum predict_format f);

/* Rows of features with their labels, as an adapter made them.  Rows of one
 * group (engine, drive, machine) are contiguous and in time order. */
struct predict_dataset
{
    enum predict_format format;
    double window;       /* label: failure within (t, t + window] */
    unsigned n_features; /* columns of x */
    char **feature_names;
    size_t n_rows;
    size_t cap;
    float *x;         /* n_rows * n_features, row-major, NaN = missing */
    float *label;     /* 1: fails within the window; NaN when unknown (the
                         record ends within the window, no failure seen):
                         such a row is neither trained on nor evaluated */
    float *rul;       /* remaining life in time units; NaN when unknown */
    double *time;     /* cycle, day or hour of the row */
    uint32_t *group;  /* index into group_names */
    uint32_t *family; /* drive or machine model: index into family_names */
    size_t n_groups;
    char **group_names;
    size_t n_families;
    char **family_names;
};

void predict_dataset_init(struct predict_dataset *ds);
void predict_dataset_close(struct predict_dataset *ds);

/* Read @paths (a comma-separated list of files, or for pdm one directory)
 * in @format into @ds (initialised, empty), labelling failures within
 * @window (<= 0: the format's default).  Returns 0, or AUGUR_EIO (cannot
 * read), AUGUR_EMALFORMED ("FILE:LINE: what is wrong") or AUGUR_ENOMEM with
 * a message in @errmsg; @ds is then empty again. */
int predict_dataset_read(struct predict_dataset *ds,
                         enum predict_format format,
                         const char *paths,
                         double window,
                         char *errmsg) PREDICT_WARN_UNUSED;

/* Make features of @ds missing (NaN) in every row: those named in
 * @names[0..@n) (!@keep), or all the others (@keep).  Returns 0, or
 * AUGUR_EINVAL (a name @ds does not have; nothing changed) with a message
 * in @errmsg. */
int predict_dataset_mask(struct predict_dataset *ds,
                         const char *const *names,
                         size_t n,
                         bool keep,
                         char *errmsg) PREDICT_WARN_UNUSED;

/* Backblaze's features that grow with time rather than with wear, so that
 * they mark the day a drive's last row was taken: a failed drive's last
 * row is its failure day, a healthy one's the last day of the file, so
 * these differ between the classes for no reason of health (age, power
 * cycles, power-off retracts, and temperature, which follows the season).
 * NULL-terminated. */
extern const char *const predict_backblaze_time_features[];

/* The row indexes of @ds that are the last of their group, in @out
 * (n_groups entries, ordered by group index); returns their count. */
size_t predict_dataset_last_rows(const struct predict_dataset *ds, size_t *out);

/* ---- calibration (predict/calib.c) ------------------------------------ */

/* A monotone map from a classifier's raw probability to a calibrated one,
 * fitted on predictions of units the classifier was not trained on. */
enum predict_calib_kind
{
    PREDICT_CALIB_NONE = 0, /* p as the classifier gives it */
    PREDICT_CALIB_PLATT,    /* 1 / (1 + exp(-(a logit(p) + b))) */
    PREDICT_CALIB_ISOTONIC, /* pool-adjacent-violators, interpolated */
    PREDICT_CALIB_KINDS
};

#define PREDICT_CALIB_KNOTS_MAX 1024 /* isotonic: knots kept at most */
#define PREDICT_CALIB_FOLDS 3        /* inner folds the fit comes from */
#define PREDICT_CALIB_BINS 10        /* reliability diagram, ECE */

struct predict_calibration
{
    enum predict_calib_kind kind;
    double a; /* Platt */
    double b;
    unsigned n; /* isotonic knots: x strictly increasing, y non-decreasing */
    double *x;  /* owned */
    double *y;
};

/* "none", "platt", "isotonic"; -1 when unknown. */
int predict_calib_kind_parse(const char *name);
const char *predict_calib_kind_name(enum predict_calib_kind k);

void predict_calibration_init(struct predict_calibration *c);
void predict_calibration_close(struct predict_calibration *c);

/* Fit @c (initialised; replaced) of @kind to raw probabilities @p[0..@n)
 * and outcomes @y (1: positive).  Isotonic: the least-squares
 * non-decreasing step function (pool adjacent violators, ties pooled
 * first), kept as its blocks' (mean p, mean y), at most
 * PREDICT_CALIB_KNOTS_MAX of them.  Platt: a and b by Newton's method on
 * the log loss with Platt's smoothed targets.  Returns 0, AUGUR_EINVAL (no
 * point, a NaN, or Platt without both classes) or AUGUR_ENOMEM, with a
 * message in @errmsg. */
int predict_calibration_fit(struct predict_calibration *c,
                            enum predict_calib_kind kind,
                            const float *p,
                            const float *y,
                            size_t n,
                            char *errmsg) PREDICT_WARN_UNUSED;

/* The calibrated probability of raw @p: Platt's curve; isotonic, linear
 * between knots and flat beyond the first and last; @p itself for none.
 * Non-decreasing in @p, in [0, 1]. */
double predict_calibration_apply(const struct predict_calibration *c, double p);

/* The time-to-failure model's calibration: given out-of-fold predictions
 * @mu[i] of log time and what was seen, an event at @lo[i] == @hi[i] or
 * survival past @lo[i] (@hi[i] infinite), the scale *@sigma and shift
 * *@shift of normal errors on log time, P(T <= w) = Phi((ln w - mu -
 * shift) / sigma), that minimise the Brier score summed over @windows
 * [0..@n_windows) (a point counts for a window when its outcome there is
 * known: an event, or survival past the window).  A grid on (ln sigma,
 * shift), then twice a finer one around the best; at most 20,000 points,
 * evenly spaced, enter the fit.  Returns 0, AUGUR_EINVAL (no event among
 * the points) or AUGUR_ENOMEM. */
#define PREDICT_AFT_REFIT_WINDOWS 4
int predict_aft_refit(const float *mu,
                      const float *lo,
                      const float *hi,
                      size_t n,
                      const double *windows,
                      size_t n_windows,
                      double *sigma,
                      double *shift) PREDICT_WARN_UNUSED;

/* One bin of a reliability diagram: predictions in [lo, hi). */
struct predict_reliability_bin
{
    double lo;
    double hi;
    size_t n;
    double mean_p;   /* mean prediction in the bin; NaN when empty */
    double observed; /* fraction of positives; NaN when empty */
};

/* How probabilities @p[0..@n) match outcomes @y: the Brier score (mean
 * squared error), the expected calibration error over
 * PREDICT_CALIB_BINS equal-width bins (sum over bins of n_bin / n times
 * |mean p - observed|) and the bins themselves. */
struct predict_calib_figures
{
    size_t n;
    size_t positives;
    double brier;
    double ece;
    struct predict_reliability_bin bins[PREDICT_CALIB_BINS];
};

void predict_calib_figures_of(const float *p,
                              const float *y,
                              size_t n,
                              struct predict_calib_figures *out);

/* ---- prior shift (predict/prior.c) ------------------------------------ */

/* A calibrated p_fail says how often units like this one failed among the
 * training units, whose base rate (the prior) it carries.  A population
 * with another base rate (a drive model never trained on: Backblaze's
 * three models fail at 0.4%, 1.5% and 14.8%) needs its own.  With no label
 * of the new population, its prior is estimated by EM on its own scores
 * (Saerens, Latinne and Decaestecker 2002, "Adjusting the outputs of a
 * classifier to new a priori probabilities"): iterate
 *   p'_i = (pi'/pi) p_i / ((pi'/pi) p_i + ((1-pi')/(1-pi)) (1-p_i)),
 *   pi' = mean p'_i
 * from pi' = pi to a fixed point.  It assumes that only the prior moved
 * (the scores of failing and of healthy units are distributed as in
 * training), and it never changes the order of the scores: recall at a
 * fixed false-positive rate is the same with or without it. */
#define PREDICT_PRIOR_ITERS 10000 /* EM steps at most */
#define PREDICT_PRIOR_TOL 1e-9    /* converged: pi' moved less than this */
/* A population of fewer units is not adapted (fixed beforehand, not tuned:
 * with a base rate near 1%, 100 units hold one failure on average). */
#define PREDICT_PRIOR_MIN_UNITS 100

struct predict_prior_shift
{
    double prior_train; /* pi: the base rate the scores carry */
    double prior_new;   /* pi': estimated; NaN for a group not adapted */
    unsigned iterations;
    bool converged; /* within PREDICT_PRIOR_ITERS steps */
    size_t n;       /* the scores it was estimated on */
};

/* Adapt the calibrated probabilities @p[0..@n) (in [0, 1]) of one
 * population, trained at prior @prior_train (in (0, 1)), into @out (may
 * alias @p): the EM above, its result in @res.  With @p's mean equal to
 * @prior_train, @out equals @p.  Returns 0, or AUGUR_EINVAL (no score, a
 * score outside [0, 1] or NaN, a prior outside (0, 1)) with a message in
 * @errmsg. */
int predict_prior_adapt(const float *p,
                        size_t n,
                        double prior_train,
                        float *out,
                        struct predict_prior_shift *res,
                        char *errmsg) PREDICT_WARN_UNUSED;

/* The posterior @p, calibrated at prior @prior_train, under prior
 * @prior_new instead (both in (0, 1)): the formula above with pi' known,
 * e.g. counted from a fleet's own failures.  Non-decreasing in @p. */
double predict_prior_shift_apply(double p,
                                 double prior_train,
                                 double prior_new);

/* The same for each population of @n scores, @group[i] (< @n_groups) the
 * population of @p[i]: each group of at least @min_n scores is adapted on
 * its own, the others are copied as they are (EM on a handful of units
 * says little about their base rate).  @out does not alias @p; @scratch
 * holds @n floats; @res holds @n_groups results (prior_new NaN for a group
 * left as it was).  Returns 0 or an error of predict_prior_adapt. */
int predict_prior_adapt_groups(const float *p,
                               const uint32_t *group,
                               size_t n,
                               size_t n_groups,
                               double prior_train,
                               size_t min_n,
                               float *out,
                               float *scratch,
                               struct predict_prior_shift *res,
                               char *errmsg) PREDICT_WARN_UNUSED;

/* ---- models (predict/model.c) ----------------------------------------- */

/* The model file's version: 2 adds the calibration and survival lines
 * (and the survival booster); version 1 files (neither) still load. */
#define PREDICT_MODEL_VERSION 2
#define PREDICT_TOP_MAX 5

struct predict_train_params
{
    unsigned rounds;
    unsigned max_depth;
    double eta;
    double subsample;
    double colsample;
    double min_child_weight;
    double scale_pos_weight; /* <= 0: negatives / positives of the rows
                              * trained on (each inner fold its own) */
    bool weight_sqrt;        /* with scale_pos_weight <= 0: its square
                              * root instead */
    unsigned nthread;        /* 0: all cores */
    int seed;
    bool regress_rul; /* also train a remaining-life regressor */
    double rul_cap;   /* regression target capped at this (<= 0: none) */
    /* Calibrate p_fail: fitted on the predictions of PREDICT_CALIB_FOLDS
     * inner folds by unit of the training rows, each scored by a
     * classifier trained on the others (never on the rows it scores). */
    enum predict_calib_kind calibration;
    /* Fold the calibration by family (drive or machine model) instead of
     * by unit when the training rows hold at least two: each inner fold
     * is the units of some families, scored by a classifier that never
     * saw one of their kind, as a model meant for families it was not
     * trained on will be (eval's --holdout-model). */
    bool calib_by_family;
    /* Also train a model of the time to failure (XGBoost's survival:aft,
     * normal errors of scale aft_sigma on log time), which gives p_fail
     * within any window (predict_model_score_window).  Rows with a known
     * time to the next failure (ds->rul) are events; the others are
     * censored at the end of their unit's record.  Not for Backblaze,
     * whose rows are one day per drive. */
    bool survival;
    double aft_sigma;
    /* Refit the time-to-failure model's scale and a shift of its log time
     * on the same inner folds' held-out predictions (predict_aft_refit),
     * which trains PREDICT_CALIB_FOLDS more of them. */
    bool aft_refit;
    /* Called after each boosting round when not NULL. */
    void (*progress)(void *arg, unsigned done, unsigned total);
    void *progress_arg;
};

/* Parameters that suit @format. */
void predict_train_params_default(struct predict_train_params *p,
                                  enum predict_format format);

/* A trained model: a failure classifier, maybe a remaining-life regressor,
 * and what it was trained on.  Opaque boosters; init/close. */
struct predict_model
{
    enum predict_format format;
    double window;
    double rul_cap;
    unsigned n_features;
    char **feature_names;
    uint64_t train_rows;
    uint64_t train_groups;
    uint64_t train_positives;
    void *clf;                        /* BoosterHandle */
    void *reg;                        /* BoosterHandle or NULL */
    struct predict_calibration calib; /* applied to the classifier's p */
    void *surv;       /* BoosterHandle or NULL: time to failure (AFT) */
    double aft_sigma; /* its scale on log time */
    double aft_shift; /* added to its log time: P = F((ln w - mu - shift) /
                       * sigma) */
};

/* One resource's prediction. */
struct predict_score
{
    float p_fail;     /* failure within the window, calibrated */
    float p_raw;      /* the classifier's own probability */
    float rul;        /* remaining life estimate; NaN without a regressor */
    float confidence; /* 1 - binary entropy of p_fail, in [0, 1] */
    unsigned n_top;
    uint32_t top_feature[PREDICT_TOP_MAX];   /* by |contribution|, largest */
    float top_contribution[PREDICT_TOP_MAX]; /* log-odds */
};

void predict_model_init(struct predict_model *m);
void predict_model_close(struct predict_model *m);

/* Train on the rows @rows[0..@n) of @ds (all rows when @rows is NULL)
 * whose label is known (rows labelled NaN are skipped).
 * @m must be initialised and empty.  Returns 0, AUGUR_EINVAL (no row, or
 * one class only), AUGUR_ENOMEM or AUGUR_EINTERNAL (XGBoost's message). */
int predict_model_train(struct predict_model *m,
                        const struct predict_dataset *ds,
                        const size_t *rows,
                        size_t n,
                        const struct predict_train_params *p,
                        char *errmsg) PREDICT_WARN_UNUSED;

/* Score @n rows of @x (row-major, m->n_features columns) into @out; with
 * @top > 0 (at most PREDICT_TOP_MAX) also the top contributing features.
 * Returns 0, AUGUR_EINVAL, AUGUR_ENOMEM or AUGUR_EINTERNAL. */
int predict_model_score(const struct predict_model *m,
                        const float *x,
                        size_t n,
                        unsigned top,
                        struct predict_score *out,
                        char *errmsg) PREDICT_WARN_UNUSED;

/* The classifier's raw probability for @n rows of @x from its first
 * @rounds boosting rounds only (0: all; more than it has: all), into @out,
 * uncalibrated: what a model of that many rounds, otherwise trained alike,
 * would say.  Returns 0, AUGUR_EINVAL (no classifier) or
 * AUGUR_EINTERNAL. */
int predict_model_score_raw(const struct predict_model *m,
                            const float *x,
                            size_t n,
                            unsigned rounds,
                            float *out,
                            char *errmsg) PREDICT_WARN_UNUSED;

/* Whether @m can answer for any window: it has a time-to-failure model. */
bool predict_model_has_survival(const struct predict_model *m);

/* P(failure within @windows[k]) for @n rows of @x: the classifier's
 * calibrated p_fail at its own window W, joined to the time-to-failure
 * model F(w) = Phi((ln w - mu(x) - shift) / sigma): within W, p_fail
 * F(w) / F(W); beyond it, p_fail + (1 - p_fail) (F(w) - F(W)) / (1 -
 * F(W)), the AFT model's chance of failing later given no failure by W.
 * So it equals p_fail at W, and is continuous and non-decreasing in the
 * window for every row.  Windows in the model's time unit (cycles, days,
 * hours), > 0.  @out holds @n * @n_windows values, row by row.  Returns
 * 0, AUGUR_EINVAL (no time-to-failure model, a window not positive),
 * AUGUR_ENOMEM or AUGUR_EINTERNAL, with a message. */
int predict_model_score_window(const struct predict_model *m,
                               const float *x,
                               size_t n,
                               const double *windows,
                               size_t n_windows,
                               float *out,
                               char *errmsg) PREDICT_WARN_UNUSED;

/* Check that @ds has the features @m was trained on, in the same order.
 * Returns 0 or AUGUR_EINVAL with the first difference in @errmsg. */
int predict_model_check(const struct predict_model *m,
                        const struct predict_dataset *ds,
                        char *errmsg) PREDICT_WARN_UNUSED;

/* Serialise @m: the model file's bytes in *@buf (*@len bytes), owned by the
 * caller, who frees it.  Returns 0, AUGUR_ENOMEM or AUGUR_EINTERNAL. */
int predict_model_save(const struct predict_model *m,
                       char **buf,
                       size_t *len,
                       char *errmsg) PREDICT_WARN_UNUSED;

/* Load a model file's bytes into @m (initialised, empty); @buf is not
 * kept.  Returns 0, AUGUR_EMALFORMED (not a model file, another version,
 * truncated: the message says which), AUGUR_ENOMEM or AUGUR_EINTERNAL. */
int predict_model_load(struct predict_model *m,
                       const char *buf,
                       size_t len,
                       char *errmsg) PREDICT_WARN_UNUSED;

/* ---- metrics (predict/metrics.c) -------------------------------------- */

/* Root mean square error of @pred against @truth. */
double predict_rmse(const float *pred, const float *truth, size_t n);

/* The PHM08 challenge score: sum of exp(-d/13) - 1 for early predictions
 * (d = pred - truth < 0) and exp(d/10) - 1 for late ones. */
double predict_phm08_score(const float *pred, const float *truth, size_t n);

/* The threshold that keeps the false-positive rate among the negatives of
 * @score at most @fpr, and the recall it reaches: positives scoring strictly
 * above the threshold.  *@fpr_out is the FPR reached.  Allocates a copy. */
int predict_recall_at_fpr(const float *score,
                          const float *label,
                          size_t n,
                          double fpr,
                          double *recall,
                          double *threshold,
                          double *fpr_out) PREDICT_WARN_UNUSED;

/* Precision and recall of "score >= threshold" (0 when undefined). */
void predict_precision_recall(const float *score,
                              const float *label,
                              size_t n,
                              double threshold,
                              double *precision,
                              double *recall);

/* The area under the ROC curve of @score against @label (1: positive):
 * the chance that a positive scores above a negative, ties counted half
 * (Mann-Whitney, average ranks), in *@auc; NaN without both classes or
 * with a NaN score.  Allocates a copy.  Returns 0 or AUGUR_ENOMEM. */
int predict_auc(const float *score, const float *label, size_t n, double *auc)
    PREDICT_WARN_UNUSED;

/* Assign each of @n_groups groups to one of @k folds, balanced and
 * shuffled with @seed (deterministic). */
void predict_folds_assign(size_t n_groups,
                          unsigned k,
                          uint64_t seed,
                          unsigned *fold_of_group);

/* ---- nested selection (predict/select.c) ------------------------------ */

/* The classifier's hyperparameters and its operating threshold, chosen on
 * inner folds by unit of the training units only: a small fixed grid,
 * each point scored by its out-of-fold predictions pooled over the inner
 * folds at the threshold (0.05, 0.10, .. 0.95) that maximises min(precision,
 * recall) there.  No choice reads a unit outside the rows given, so the
 * figures of an outer fold trained with the choice are nested. */
#define PREDICT_SELECT_GRID 24       /* 3 rounds x 2 depths x 2 etas x 2 */
#define PREDICT_SELECT_INNER_FOLDS 4 /* by unit */
#define PREDICT_SELECT_THRESHOLDS 19 /* 0.05 .. 0.95 */

/* The weight of the positive class relative to the negatives. */
enum predict_class_weight
{
    PREDICT_WEIGHT_RATIO = 0, /* negatives / positives (balanced) */
    PREDICT_WEIGHT_SQRT,      /* its square root */
};

struct predict_select_choice
{
    unsigned rounds;    /* 100, 200, 400 */
    unsigned max_depth; /* 3, 4 */
    double eta;         /* 0.05, 0.1 */
    enum predict_class_weight weight;
};

/* Point @i (< PREDICT_SELECT_GRID) of the grid, in the order of preference
 * on ties: fewer rounds, lower eta, shallower, the balanced weight
 * first. */
void predict_select_grid(size_t i, struct predict_select_choice *out);

/* Set @p's rounds, depth, eta and class weight to @c's; the weight is a
 * rule (scale_pos_weight 0, weight_sqrt), computed by predict_model_train
 * from whatever rows it trains on, its inner calibration folds' too. */
void predict_select_apply(struct predict_train_params *p,
                          const struct predict_select_choice *c);

/* The threshold of 0.05, 0.10, .. 0.95 at which "p >= threshold" has the
 * largest min(precision, recall) over @p[0..@n) with labels @y (the
 * largest threshold on ties), and that min in *@score (-1 never: 0 at
 * worst). */
double predict_select_threshold(const float *p,
                                const float *y,
                                size_t n,
                                double *score);

/* The index of the largest of @score[0..@n) (n >= 1), the first on ties. */
size_t predict_select_best(const double *score, size_t n);

struct predict_select_result
{
    double score[PREDICT_SELECT_GRID];     /* min(P, R) at its threshold */
    double threshold[PREDICT_SELECT_GRID]; /* on the raw p */
    size_t best;                           /* index into the grid */
    struct predict_select_choice choice;   /* the grid's point @best */
    double chosen_threshold;
    double chosen_score;
    size_t units; /* among the rows */
};

/* Choose on the rows @rows[0..@n) of @ds (whole units): split their units
 * into PREDICT_SELECT_INNER_FOLDS folds with @seed, train for each fold
 * and each (weight, depth, eta) one classifier of the most rounds on the
 * other folds (@base's other parameters; no calibration, no time-to-failure
 * part), score the fold at each number of rounds (the boosting run's
 * prefixes), and pick the point and threshold whose pooled out-of-fold
 * min(precision, recall) is largest.  @base's progress callback, if any,
 * is told the trainings done.  Returns 0, AUGUR_EINVAL (fewer units than
 * inner folds), AUGUR_ENOMEM or an error of training or scoring, with a
 * message in @errmsg. */
int predict_select_run(const struct predict_dataset *ds,
                       const size_t *rows,
                       size_t n,
                       const struct predict_train_params *base,
                       uint64_t seed,
                       struct predict_select_result *out,
                       char *errmsg) PREDICT_WARN_UNUSED;

/* ---- evaluation (predict/eval.c) -------------------------------------- */

/* The methods of `augur model eval`: cross-validation by unit (engine,
 * drive, machine), never by row, and each data set's figures.  The caller
 * prints them; nothing here writes anywhere. */

#define PREDICT_EVAL_SEED 20260601u /* the folds' default seed */
#define PREDICT_EVAL_FOLDS_MIN 2
#define PREDICT_EVAL_RUL_CAP 125.0      /* C-MAPSS: life capped at */
#define PREDICT_EVAL_CMAPSS_CUTS 5      /* cut points per engine */
#define PREDICT_EVAL_CMAPSS_MIN_SEEN 31 /* cycles; the test split's least */
#define PREDICT_EVAL_CMAPSS_CUT_RUL 150 /* true remaining life at most */
#define PREDICT_EVAL_CMAPSS_BANDS 4     /* PHM08 by true remaining life: */
#define PREDICT_EVAL_CMAPSS_BAND 40     /* bands of this many cycles */
#define PREDICT_EVAL_FPR 0.01           /* Backblaze: the FPR budget */
#define PREDICT_EVAL_PDM_THRESHOLD 0.5  /* Azure PdM: the operating point */
#define PREDICT_EVAL_WINDOWS_MAX 8      /* any window: windows evaluated */

/* Mean and sample standard deviation of a figure across folds. */
struct predict_spread
{
    double mean; /* NaN over no fold */
    double sd;   /* 0 over fewer than two folds */
};

/* The spread of @v[0..@n). */
struct predict_spread predict_spread_of(const double *v, size_t n);

/* A cross-validation of one dataset: its folds by unit and the scratch the
 * rounds share.  Caller allocates; init, run rounds, close.  Not for use
 * by two threads at once. */
struct predict_eval
{
    const struct predict_dataset *ds; /* not owned: outlives the eval */
    /* Not owned; NULL: ds.  The same rows with every feature, when ds has
     * some masked (predict_dataset_mask): Backblaze's rule and the age
     * prior read theirs here, the models only ds. */
    const struct predict_dataset *ref;
    unsigned folds;
    uint64_t seed;
    struct predict_train_params params; /* every model trained here */
    unsigned *fold_of_group;            /* ds->n_groups entries */
    size_t *train;                      /* scratch, owned */
    size_t *test;
    size_t *sub;
    struct predict_score *sc;
    float *a;
    float *b;
    /* Every held-out prediction of the rounds since the last
     * predict_eval_pool_reset: the classifier's raw p, the calibrated p
     * and the label (at most ds->n_rows; further ones are not kept). */
    float *pool_raw;
    float *pool_cal;
    float *pool_y;
    /* Backblaze: the calibrated p adapted to each drive model's prior
     * among the test drives (predict_prior_adapt_groups, EM on the test
     * drives' scores, never their labels); the other formats: pool_cal. */
    float *pool_adapt;
    /* Backblaze, a bound and not a method: the calibrated p shifted to
     * each drive model's true failed fraction among the test drives (what
     * a fleet would know once it has counted its own failures; reads the
     * test labels, so never a nested figure); the other formats:
     * pool_cal. */
    float *pool_known;
    size_t n_pool;
    /* Any window: set n_windows and windows (the data's time unit) before
     * the rounds; each round whose model has a time-to-failure part pools
     * p within each window (pool_wp, row by row) and the outcome (pool_wy:
     * 1 failed within it, 0 did not, NaN unknown: the record ends first),
     * and counts the rows whose p went down as the window grew. */
    size_t n_windows;
    double windows[PREDICT_EVAL_WINDOWS_MAX];
    float *pool_wp;
    float *pool_wy;
    size_t n_wpool;
    size_t window_violations;
    double *group_end;                /* the last time of each unit */
    char errmsg[PREDICT_ERRMSG_SIZE]; /* why the last call failed */
};

/* The calibration figures of p within e->windows[@k] over the pooled rows
 * whose outcome is known.  Uses e->a and e->b. */
void predict_eval_window_figures(struct predict_eval *e,
                                 size_t k,
                                 struct predict_calib_figures *out);

/* Forget the pooled predictions of @e. */
void predict_eval_pool_reset(struct predict_eval *e);

/* Split @ds's units into @folds folds with @seed (predict_folds_assign:
 * balanced, deterministic) and allocate the scratch of the rounds.  Models
 * are trained with @params (NULL: predict_train_params_default of the
 * format; the progress callback, if any, is called during each training).
 * @ds is not copied and must outlive @e.  Returns 0, AUGUR_EINVAL (fewer
 * than PREDICT_EVAL_FOLDS_MIN folds, or more folds than units) or
 * AUGUR_ENOMEM, with a message in @e->errmsg; close @e in every case. */
int predict_eval_init(struct predict_eval *e,
                      const struct predict_dataset *ds,
                      unsigned folds,
                      uint64_t seed,
                      const struct predict_train_params *params)
    PREDICT_WARN_UNUSED;

/* Free what predict_eval_init allocated; @ds is left alone. */
void predict_eval_close(struct predict_eval *e);

/* The rows of @ds whose group is in fold @fold of @fold_of_group (@in), or
 * is not (!@in), and whose label is known (not NaN), in row order, in
 * @rows (room for ds->n_rows); returns their count. */
size_t predict_eval_fold_rows(const struct predict_dataset *ds,
                              const unsigned *fold_of_group,
                              unsigned fold,
                              bool in,
                              size_t *rows);

/* C-MAPSS: the points at which the held-out engines are cut to emulate the
 * test split.  @rows[0..@n) are rows of @ds in row order, whole engines.
 * Per engine, PREDICT_EVAL_CMAPSS_CUTS rows drawn with @seed (with
 * replacement; deterministic) among those with at least
 * PREDICT_EVAL_CMAPSS_MIN_SEEN cycles seen and a true remaining life of at
 * most PREDICT_EVAL_CMAPSS_CUT_RUL (engines shorter than that: none).
 * Writes the row indexes to @cuts (room for PREDICT_EVAL_CMAPSS_CUTS * n)
 * and returns their count. */
size_t predict_eval_cmapss_cuts(const struct predict_dataset *ds,
                                const size_t *rows,
                                size_t n,
                                uint64_t seed,
                                size_t *cuts);

/* One C-MAPSS fold: trained on the other folds, remaining life capped at
 * PREDICT_EVAL_RUL_CAP. */
struct predict_eval_cmapss
{
    double rmse_all; /* every cycle of the held-out engines */
    double rmse_cut; /* the cut points (test-like) */
    /* The PHM08 score at the cuts per 100 records, as the test split's
     * (one record per engine) is read: against the true remaining life
     * uncapped, as the test split's published score, and capped. */
    double phm08_cut;
    double phm08_cut_capped;
    /* Before issue 19's second part: capped, and scaled per 100 engines
     * of PREDICT_EVAL_CMAPSS_CUTS records each, i.e. that many times the
     * score per 100 records. */
    double phm08_cut_per_engine;
    /* Per 100 records, uncapped, of the cuts whose true remaining life is
     * in each band of PREDICT_EVAL_CMAPSS_BAND cycles (the last band
     * holds the rest), and the share of the cuts in each band. */
    double phm08_band[PREDICT_EVAL_CMAPSS_BANDS];
    double share_band[PREDICT_EVAL_CMAPSS_BANDS];
    double base_cut; /* RMSE at the cuts of the mean training life */
    size_t n_cuts;
};

/* Train on every fold but @fold of @e (a C-MAPSS dataset with remaining
 * life and a regressor in the params), score @fold, cut its engines with
 * seed e->seed + @fold.  Returns 0, or an error of predict_model_train or
 * predict_model_score (AUGUR_EINVAL, AUGUR_ENOMEM, AUGUR_EINTERNAL) with a
 * message in @e->errmsg. */
int predict_eval_cmapss_fold(struct predict_eval *e,
                             unsigned fold,
                             struct predict_eval_cmapss *out)
    PREDICT_WARN_UNUSED;

struct predict_eval_cmapss_summary
{
    struct predict_spread rmse_all;
    struct predict_spread rmse_cut;
    struct predict_spread phm08_cut;
    struct predict_spread phm08_cut_capped;
    struct predict_spread phm08_cut_per_engine;
    struct predict_spread phm08_band[PREDICT_EVAL_CMAPSS_BANDS];
    struct predict_spread share_band[PREDICT_EVAL_CMAPSS_BANDS];
    struct predict_spread base_cut;
    size_t n_cuts; /* over every fold */
};

void predict_eval_cmapss_summarize(const struct predict_eval_cmapss *folds,
                                   size_t n,
                                   struct predict_eval_cmapss_summary *out);

/* Backblaze's rule on the rows @rows[0..@n) of @ds (a Backblaze dataset):
 * @flag[i] is 1 when any of SMART 5, 187, 188, 197, 198 raw of row
 * rows[i] is above zero (the "backblaze_rule" feature), else 0.  Returns 0
 * or AUGUR_EINVAL when @ds has no such feature, with a message. */
int predict_eval_backblaze_rule(const struct predict_dataset *ds,
                                const size_t *rows,
                                size_t n,
                                float *flag,
                                char *errmsg) PREDICT_WARN_UNUSED;

/* One Backblaze test set: the model beside the rule and the age prior. */
struct predict_eval_backblaze
{
    size_t drives;
    size_t failed;
    double recall;      /* the model at @fpr: strictly above the threshold */
    double fpr;         /* reached, <= the budget */
    double rule_recall; /* Backblaze's rule */
    double rule_fpr;
    double recall_at_rule_fpr; /* the model at the rule's own FPR */
    double weibull_recall;     /* the age prior at @fpr; NaN without one */
    /* The prior shift, each drive model of the test set adapted on its
     * own (predict_prior_adapt_groups) */
    double prior_train;   /* the training drives' failed fraction */
    double prior_adapted; /* mean adapted p over the test drives */
    double rate;          /* the test drives' failed fraction */
    double em_prior_min;  /* the least and largest prior EM found among */
    double em_prior_max;  /* the test set's drive models (NaN: none) */
};

/* The figures of the model's scores @p_fail beside the rule's flags @rule
 * (1 or 0) on @n drives with labels @label (1: failed): the model's recall
 * at the FPR budget @fpr and the FPR reached, the rule's recall and FPR,
 * and the model's recall at the rule's FPR (predict_recall_at_fpr).
 * Fills every field but weibull_recall (NaN) and the prior shift's (left
 * as they are).  Returns 0 or AUGUR_ENOMEM. */
int predict_eval_backblaze_compare(const float *p_fail,
                                   const float *rule,
                                   const float *label,
                                   size_t n,
                                   double fpr,
                                   struct predict_eval_backblaze *out)
    PREDICT_WARN_UNUSED;

/* Train on every fold but @fold of @e (a Backblaze dataset), test on
 * @fold: predict_eval_backblaze_compare at PREDICT_EVAL_FPR, and a Weibull
 * prior on age fitted to the training drives (probability of failing
 * within a day; NaN when it cannot be fitted).  Returns 0, AUGUR_EINVAL
 * (not Backblaze's features), or an error of training or scoring, with a
 * message in @e->errmsg. */
int predict_eval_backblaze_fold(struct predict_eval *e,
                                unsigned fold,
                                struct predict_eval_backblaze *out)
    PREDICT_WARN_UNUSED;

/* The same, trained on every drive model but @family and tested on it. */
int predict_eval_backblaze_holdout(struct predict_eval *e,
                                   uint32_t family,
                                   struct predict_eval_backblaze *out)
    PREDICT_WARN_UNUSED;

struct predict_eval_backblaze_summary
{
    struct predict_spread recall;
    struct predict_spread rule_recall;
};

void predict_eval_backblaze_summarize(
    const struct predict_eval_backblaze *folds,
    size_t n,
    struct predict_eval_backblaze_summary *out);

/* The threshold for fold @fold of @e (an Azure PdM dataset) chosen without
 * its machines: train on three quarters of the other folds' machines
 * (split with seed e->seed + 17 + @fold), score the last quarter, and take
 * the threshold of 0.05, 0.10, .. 0.95 that maximises min(precision,
 * recall) there (the largest on ties).  Neither the features nor the
 * labels of fold @fold are read.  *@thr is left as is when the quarter
 * has no failure or nothing is left to train on.  Returns 0 or an error of
 * training or scoring, with a message in @e->errmsg. */
int predict_eval_pdm_threshold(struct predict_eval *e,
                               unsigned fold,
                               double *thr) PREDICT_WARN_UNUSED;

/* Nested selection for fold @fold of @e (an Azure PdM dataset):
 * predict_select_run on the other folds' machines (seed e->seed + @fold),
 * then e->params set to the choice (predict_select_apply), so that
 * predict_eval_pdm_fold trains with it; the caller keeps and restores
 * e->params.  @fold's rows are not read.  Returns 0 or an
 * error of predict_select_run, with a message in @e->errmsg. */
int predict_eval_pdm_select(struct predict_eval *e,
                            unsigned fold,
                            struct predict_select_result *out)
    PREDICT_WARN_UNUSED;

/* Flags and misses, to pool across folds. */
struct predict_eval_counts
{
    size_t tp;
    size_t fp;
    size_t fn;
};

/* The levels of p_fail at which a failure counts as announced and a day
 * as a false alarm: the operating point and the orchestrator's migrate
 * threshold. */
#define PREDICT_EVAL_PDM_LEVELS 2
#define PREDICT_EVAL_PDM_MISSED_MAX 16
extern const double predict_eval_pdm_levels[PREDICT_EVAL_PDM_LEVELS];

/* What a fleet sees of a model: failures announced in time, and days of
 * alarms for nothing. */
struct predict_eval_pdm_events
{
    size_t failures; /* failures with at least one row in the window */
    /* ... whose p reached predict_eval_pdm_levels[k] at some row of the
     * window before them (t in [failure - window, failure)) */
    size_t announced[PREDICT_EVAL_PDM_LEVELS];
    size_t quiet_days; /* machine-days none of whose rows is labelled */
    /* ... whose p reached predict_eval_pdm_levels[k] at some row */
    size_t alarm_days[PREDICT_EVAL_PDM_LEVELS];
    /* The first PREDICT_EVAL_PDM_MISSED_MAX failures whose p never
     * reached the highest level, to say which ones are missed. */
    struct predict_eval_pdm_missed
    {
        uint32_t group; /* the machine: index into ds->group_names */
        double t;       /* the failure's time (ds->time's unit) */
        float p_max;    /* the largest p in its window */
    } missed[PREDICT_EVAL_PDM_MISSED_MAX];
    size_t n_missed; /* at most PREDICT_EVAL_PDM_MISSED_MAX */
};

/* One Azure PdM fold. */
struct predict_eval_pdm
{
    size_t hours; /* rows held out */
    size_t positives;
    double precision; /* p >= PREDICT_EVAL_PDM_THRESHOLD */
    double recall;
    double base_precision; /* any error in the last window */
    double base_recall;
    double threshold; /* as given */
    double precision_at_threshold;
    double recall_at_threshold;
    struct predict_eval_counts at_fixed; /* at PREDICT_EVAL_PDM_THRESHOLD */
    struct predict_eval_counts at_threshold;
    struct predict_eval_counts at_calibrated; /* calibrated p >= 0.5 */
    double auc;         /* the model's p, every held-out hour */
    double anomaly_auc; /* no training: the largest |robust z| of the
                         * sensors' last value against their own baseline
                         * (the *_base_z features), as live scoring's
                         * anomaly score ranks a resource */
    struct predict_eval_pdm_events events; /* of the calibrated p_fail */
};

/* Count the failures and quiet machine-days of the rows @rows[0..@n) of
 * @ds (in dataset order: a machine's rows contiguous and in time order)
 * scored @p[0..@n).  A failure is identified by its machine and time (the
 * row's time + ds->rul); a day is the machine and floor(time / 24) (a PdM
 * hour: calendar days).  Adds to @out (caller zeroes it once). */
void predict_eval_pdm_events_count(const struct predict_dataset *ds,
                                   const size_t *rows,
                                   size_t n,
                                   const float *p,
                                   struct predict_eval_pdm_events *out);

/* Train on every fold but @fold of @e (an Azure PdM dataset) and test on
 * @fold at PREDICT_EVAL_PDM_THRESHOLD and at @threshold (from
 * predict_eval_pdm_threshold), beside the baseline "any error within the
 * window before the hour" (the error*_since_h features).  Returns 0 or an
 * error of training or scoring, with a message in @e->errmsg. */
int predict_eval_pdm_fold(struct predict_eval *e,
                          unsigned fold,
                          double threshold,
                          struct predict_eval_pdm *out) PREDICT_WARN_UNUSED;

struct predict_eval_pdm_summary
{
    struct predict_spread precision;
    struct predict_spread recall;
    struct predict_spread base_precision;
    struct predict_spread base_recall;
    struct predict_spread precision_at_threshold;
    struct predict_spread recall_at_threshold;
    struct predict_spread auc;
    struct predict_spread anomaly_auc;
    struct predict_eval_counts at_fixed; /* pooled over the folds */
    struct predict_eval_counts at_threshold;
    struct predict_eval_counts at_calibrated;
    double pooled_precision; /* of at_fixed; 0 when undefined */
    double pooled_recall;
    double pooled_precision_at_threshold; /* of at_threshold */
    double pooled_recall_at_threshold;
    double pooled_precision_calibrated; /* of at_calibrated */
    double pooled_recall_calibrated;
    struct predict_eval_pdm_events events; /* pooled over the folds */
};

void predict_eval_pdm_summarize(const struct predict_eval_pdm *folds,
                                size_t n,
                                struct predict_eval_pdm_summary *out);

#endif
