/* Live scoring: per-resource streaming state fed from telemetry, scored
 * on a cadence with the model active for each kind (or an anomaly score),
 * correlated risk through the dependency graph (noisy-OR), and the
 * hysteresis that decides which scores are worth a Raft write.  A library
 * without a loop or a clock: the caller (node/scoring.c) feeds samples,
 * passes the time, and commits what a round returns. */
#ifndef AUGUR_PREDICT_LIVE_H
#define AUGUR_PREDICT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "predict/predict.h"

#define PREDICT_LIVE_ID_SIZE 128  /* a resource id, as the store's */
#define PREDICT_LIVE_KIND_SIZE 32 /* a resource kind */
#define PREDICT_LIVE_NAME_SIZE 97 /* a metric name (telemetry's 96) + NUL */
#define PREDICT_LIVE_REF_SIZE 128 /* "name@version", "anomaly" */
#define PREDICT_LIVE_FEATURE_SIZE 64
#define PREDICT_LIVE_KINDS_MAX 16 /* kinds with an active model */
#define PREDICT_LIVE_VIA_MAX 4
#define PREDICT_LIVE_BASELINE_MAX 32

struct predict_live_config
{
    size_t max_resources;  /* tracked at once (default 20000) */
    unsigned max_metrics;  /* per resource (default 128); more are dropped,
                              but an active model's features are kept up to
                              twice as many */
    size_t max_names;      /* distinct metric names overall (default 8192) */
    double enter;          /* hysteresis: enter high at p >= enter (0.5) */
    double leave;          /* leave high at p < leave (0.4) */
    double step;           /* else commit when |p - committed| > step (0.05) */
    unsigned warm_reports; /* reports before a resource is scored (20) */
    int64_t stale_ms;      /* not scored after this long silent (30 s) */
    int64_t evict_ms;      /* forgotten after this long silent (10 min) */
    double anomaly_z;      /* robust z at which the anomaly p is 0.5 (6) */
    uint64_t anomaly_window_s;         /* the anomaly score's window (3600) */
    double weight[PREDICT_EDGE_KINDS]; /* noisy-OR pass-on per edge kind */
    double ewma_alpha;                 /* each metric's EWMA (0.2) */
    unsigned baseline;   /* its first samples, its own baseline (20) */
    double min_coverage; /* share of its model's features a resource must
                            report to be scored by the model, else by the
                            anomaly score (0.25) */
};

/* The defaults above. */
void predict_live_config_default(struct predict_live_config *c);
/* 0 or AUGUR_EINVAL with a message in @errmsg. */
int predict_live_config_check(const struct predict_live_config *c,
                              char *errmsg) PREDICT_WARN_UNUSED;

/* The hysteresis decision for one resource, the rule a round applies: with
 * *@high the band state (true once p reached c->enter, until it fell below
 * c->leave) and @committed the last committed p (0 when none was ever
 * committed), a new @p commits when it crosses the band (up: p >= enter
 * while not high; down: p < leave while high), never while it stays inside
 * [leave, enter), and otherwise when it moved from @committed by more than
 * c->step.  Updates *@high; returns whether to commit. */
bool predict_live_decide(const struct predict_live_config *c,
                         bool *high,
                         double committed,
                         double p);

/* A reason: a feature and its contribution (log-odds for a model, the
 * signed robust z score for the anomaly score). */
struct predict_live_reason
{
    char feature[PREDICT_LIVE_FEATURE_SIZE];
    double contribution;
};

/* A score a round decided to commit, or the view of one resource. */
struct predict_live_score
{
    char resource[PREDICT_LIVE_ID_SIZE];
    double p;          /* the effective p: own and correlated, noisy-OR */
    double p_own;      /* the resource's own */
    double confidence; /* 1 - binary entropy of p_own */
    uint64_t window_s; /* the prediction window */
    char model[PREDICT_LIVE_REF_SIZE]; /* "name@version", "anomaly",
                                          "committed" */
    unsigned n_reasons;                /* by |contribution|, largest first */
    struct predict_live_reason reasons[PREDICT_TOP_MAX];
    unsigned n_via; /* dependencies that add risk, largest first */
    char via[PREDICT_LIVE_VIA_MAX][PREDICT_LIVE_ID_SIZE];
    double via_p[PREDICT_LIVE_VIA_MAX];
    bool warm;           /* enough reports to be scored */
    int64_t scored_at;   /* ms of the round that scored it (0: never) */
    int64_t reported_at; /* ms of its last report */
    uint64_t reports;
};

struct predict_live_slot;
struct predict_live_graph;

/* Counters, for logs and tests. */
struct predict_live_stats
{
    uint64_t reports;
    uint64_t samples;
    uint64_t dropped_resources; /* reports refused: table full */
    uint64_t dropped_metrics;   /* samples of metrics past the caps */
    uint64_t uncovered;         /* model scorings refused: too few features */
    uint64_t evicted;
    uint64_t rounds;
    uint64_t scored;  /* resource scores computed */
    uint64_t commits; /* scores a round asked to commit */
    uint64_t model_errors;
};

/* The live state.  Caller allocates; init/close. */
struct predict_live
{
    struct predict_live_config cfg;
    struct predict_live_slot *slots;       /* cfg.max_resources of them */
    size_t n_slots;                        /* in use: slots[0..n_slots) */
    uint32_t *index;                       /* id hash -> slot + 1, 0 empty */
    size_t index_cap;                      /* a power of two */
    char (*names)[PREDICT_LIVE_NAME_SIZE]; /* interned metric names */
    uint8_t *name_feature; /* per name: 1 when an active model's feature */
    uint32_t *name_index;  /* name hash -> name + 1 */
    size_t n_names;
    size_t name_index_cap;
    struct
    {
        char kind[PREDICT_LIVE_KIND_SIZE];
        const struct predict_model *model; /* not owned */
        char ref[PREDICT_LIVE_REF_SIZE];
        uint32_t *feature_name; /* per feature: interned name + 1, 0 none */
    } kinds[PREDICT_LIVE_KINDS_MAX];
    unsigned n_kinds;
    struct predict_live_graph *graph; /* the edges of the next round */
    float *x; /* scratch of a round: feature rows, scores, slot numbers */
    size_t x_cap;
    struct predict_score *ps;
    uint32_t *rows;
    size_t rows_cap;
    struct predict_live_stats stats;
    char errmsg[PREDICT_ERRMSG_SIZE];
};

/* 0, AUGUR_EINVAL (a bad config) or AUGUR_ENOMEM, with a message in
 * l->errmsg. */
int predict_live_init(struct predict_live *l,
                      const struct predict_live_config *cfg)
    PREDICT_WARN_UNUSED;
void predict_live_close(struct predict_live *l);
/* Forget every resource and edge (a leader that lost leadership). */
void predict_live_reset(struct predict_live *l);

/* A report of @resource at @t_ms begins: find or start tracking it.  A
 * slot just started (predict_live_slot_new) needs its kind and committed
 * score from the caller (predict_live_slot_init) before its samples.
 * Returns the slot, or NULL when the table is full of resources that
 * reported within evict_ms (the report is dropped and counted). */
struct predict_live_slot *predict_live_report(struct predict_live *l,
                                              const char *resource,
                                              int64_t t_ms);
/* Whether @resource is tracked. */
bool predict_live_known(const struct predict_live *l, const char *resource);
/* The committed p of @resource is @committed after all (a commit of the
 * round's was not made: a score set by hand holds): the hysteresis goes on
 * from it.  Nothing when @resource is not tracked. */
void predict_live_committed_set(struct predict_live *l,
                                const char *resource,
                                double committed);
/* Tell a slot just started its kind and committed score. */
void predict_live_slot_init(struct predict_live *l,
                            struct predict_live_slot *s,
                            const char *kind,
                            double committed);
/* Whether a slot still waits for predict_live_slot_init. */
bool predict_live_slot_new(const struct predict_live_slot *s);
/* One sample of metric @name in the current report of @s.  A metric past
 * the caps is dropped and counted. */
void predict_live_sample(struct predict_live *l,
                         struct predict_live_slot *s,
                         const char *name,
                         double value);

/* The model active for @kind (NULL: none; not owned, must outlive its use
 * here, so the caller sets it again before freeing a model) and its
 * reference "name@version".  0, AUGUR_ENOMEM or AUGUR_ETOOBIG (more than
 * PREDICT_LIVE_KINDS_MAX kinds). */
int predict_live_model_set(struct predict_live *l,
                           const char *kind,
                           const struct predict_model *model,
                           const char *ref) PREDICT_WARN_UNUSED;

/* No model for @kind any more (its resources get the anomaly score). */
void predict_live_model_clear(struct predict_live *l, const char *kind);

/* The dependency edges of the next round: begin, then each edge with the
 * committed p of both ends (used for an end that is not tracked or not
 * warm).  0 or AUGUR_ENOMEM. */
void predict_live_edges_begin(struct predict_live *l);
int predict_live_edge(struct predict_live *l,
                      const char *from,
                      const char *to,
                      int kind,
                      double from_committed,
                      double to_committed) PREDICT_WARN_UNUSED;

/* Score every warm resource that reported within stale_ms of @now_ms,
 * propagate the risk over the edges given since predict_live_edges_begin,
 * and apply the hysteresis: the scores to commit go to @out (at most @cap;
 * the rest wait for the next round), with reasons, and *@n says how many.
 * The caller commits them (score.set): the round has already taken them
 * as committed.  Resources silent for evict_ms are forgotten.  0,
 * AUGUR_ENOMEM, or another error of the model or the graph (the round
 * changes nothing then), with a message in l->errmsg. */
int predict_live_round(struct predict_live *l,
                       int64_t now_ms,
                       struct predict_live_score *out,
                       size_t cap,
                       size_t *n) PREDICT_WARN_UNUSED;

/* The current view of @resource, with fresh reasons: 0 or AUGUR_ENOTFOUND
 * (not tracked). */
int predict_live_view(struct predict_live *l,
                      const char *resource,
                      struct predict_live_score *out) PREDICT_WARN_UNUSED;

/* predict_live_view, with the resource's own p within @window_s seconds
 * instead of its model's window: from the time-to-failure part of the
 * model of its kind (predict_model_score_window), so that it grows with
 * the window.  The effective p keeps the dependencies' risk as the last
 * round found it (their own windows): (1 - p) = (1 - p_own) times their
 * factor.  Reasons stay the classifier's.  0, AUGUR_ENOTFOUND (not
 * tracked), AUGUR_EINVAL (not warm, not scored by a model, or a model
 * without a time-to-failure part) or the model's error, with a message in
 * l->errmsg. */
int predict_live_view_window(struct predict_live *l,
                             const char *resource,
                             uint64_t window_s,
                             struct predict_live_score *out)
    PREDICT_WARN_UNUSED;

/* The anomaly probability of a robust z score @z: 0 up to |z| =
 * PREDICT_LIVE_Z_QUIET (noise: below it, 10,000 hosts of Gaussian noise
 * commit about 0.2 scores a second, live_bench), then d^2 / (d^2 + d0^2)
 * with d = |z| - 4 and d0 = z0 - 4, so 0.5 at |z| = z0.  The z score is
 * the metric's EWMA against the median and MAD of its own baseline (its
 * first samples). */
#define PREDICT_LIVE_Z_QUIET 4.0
double predict_live_anomaly_p(double z, double z0);

#endif
