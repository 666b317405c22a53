/* predict/live's private types and functions, shared by live.c (the
 * table of resources, the round, the view) and live_graph.c (correlated
 * risk).  Not part of the interface: predict/live.h is. */
#ifndef AUGUR_PREDICT_LIVE_INT_H
#define AUGUR_PREDICT_LIVE_INT_H

#include "predict/live.h"

/* One metric of one resource: its last value for a model, and for the
 * anomaly score its EWMA against its own baseline (its first samples,
 * summarised by median and MAD).  About 170 bytes: predict_stream's
 * rolling window (64 samples, 900 bytes) is more than the anomaly score
 * needs, and 10,000 hosts of 100 metrics each would hold 900 MB of it. */
struct live_metric
{
    uint32_t name; /* interned name */
    uint32_t base_len;
    uint64_t n;
    double last;
    double ewma;
    double ewvar; /* EWMA variance (West): the metric's own recent spread */
    float base_median;
    float base_mad;
    float base[PREDICT_LIVE_BASELINE_MAX];
};

struct predict_live_slot
{
    char id[PREDICT_LIVE_ID_SIZE];
    char kind[PREDICT_LIVE_KIND_SIZE];
    bool inited;
    bool high;
    bool scored;
    double committed;
    double p_own;
    double p_eff;
    double confidence;
    uint64_t window_s;
    char ref[PREDICT_LIVE_REF_SIZE];
    int64_t reported_at;
    int64_t scored_at;
    uint64_t reports;
    unsigned n_metrics;
    unsigned cap_metrics;
    struct live_metric *metrics;
    uint32_t *mindex;    /* name + 1 -> metric + 1, at most half full */
    unsigned mindex_cap; /* a power of two */
    uint32_t gidx;       /* its node in the last round's graph */
};

/* ---- live.c ---------------------------------------------------------- */

uint64_t predict__live_hash(const char *s);
/* The smallest power of two >= @n, at least 16. */
size_t predict__live_pow2(size_t n);
/* The slot of @id + 1, or 0 when it is not tracked. */
uint32_t predict__live_slot_of(const struct predict_live *l, const char *id);

/* The interned number + 1 of metric name @name, 0 when unknown. */
uint32_t predict__live_name_find(const struct predict_live *l,
                                 const char *name);
/* The metric @name (interned number + 1) of slot @s; with @create, added
 * when new (NULL past the caps or out of memory). */
struct live_metric *predict__live_metric(struct predict_live *l,
                                         struct predict_live_slot *s,
                                         uint32_t name,
                                         bool create);

/* ---- live_score.c ----------------------------------------------------- */

/* The index of @kind in l->kinds, -1 when it has no entry. */
int predict__live_kind_find(const struct predict_live *l, const char *kind);
/* Match kind @k's model features to metric names not matched yet. */
void predict__live_kind_map(struct predict_live *l, unsigned k);
/* A model's window in seconds. */
uint64_t predict__live_model_window_s(const struct predict_model *m);
/* Slot @s's row of kind @k's features into @x (NaN: missing). */
void predict__live_row_fill(struct predict_live *l,
                            unsigned k,
                            struct predict_live_slot *s,
                            float *x);
/* 1 - binary entropy of @p. */
double predict__live_conf(double p);
/* The anomaly p of @s; its reasons into @out when not NULL. */
double predict__live_anomaly(struct predict_live *l,
                             struct predict_live_slot *s,
                             struct predict_live_score *out);
/* P(failure within @window_s seconds) of @s from kind @k's model's
 * time-to-failure part into *@p.  0, AUGUR_EINVAL (no such part) or the
 * model's error, with a message in l->errmsg. */
int predict__live_model_window_p(struct predict_live *l,
                                 unsigned k,
                                 struct predict_live_slot *s,
                                 uint64_t window_s,
                                 double *p);
/* Kind @k's model's reasons for @s into @out.  0 or the model's error. */
int predict__live_model_reasons(struct predict_live *l,
                                unsigned k,
                                struct predict_live_slot *s,
                                struct predict_live_score *out);

/* ---- live_graph.c ---------------------------------------------------- */

/* Grow the array *@p of *@cap elements of @size bytes to hold @need (by
 * doubling).  0 or AUGUR_ENOMEM (the array is kept). */
int predict__live_grow(void **p, size_t *cap, size_t need, size_t size);
/* NULL when out of memory.  free also frees @g. */
struct predict_live_graph *predict__live_graph_new(void);
void predict__live_graph_free(struct predict_live_graph *g);
void predict__live_graph_reset(struct predict_live_graph *g);
/* Resolve the edges given since predict_live_edges_begin against the
 * slots (every slot's own p: its score when scored, else its committed
 * one) and propagate.  0, AUGUR_ENOMEM or predict_graph_propagate's
 * error, with a message in l->errmsg. */
int predict__live_graph_run(struct predict_live *l);
/* The effective p of graph node @node after the last run (a slot's node
 * is its index then). */
double predict__live_graph_out(const struct predict_live *l, size_t node);
/* The dependencies of node @node that add the most risk, into @out's via. */
void predict__live_via(const struct predict_live *l,
                       uint32_t node,
                       struct predict_live_score *out);

#endif
