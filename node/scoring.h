/* The leader's scoring: the live scorer of predict/live.h fed from agents'
 * telemetry, the models of the store loaded once per version, a round on a
 * fixed cadence whose crossings become score.set commands, and the
 * predict op.  Empty on a follower: a new leader starts from the agents'
 * next reports. */
#ifndef AUGUR_NODE_SCORING_H
#define AUGUR_NODE_SCORING_H

#include <stdbool.h>
#include <stdint.h>

#include "predict/live.h"
#include "predict/predict.h"

#define NODE_SCORING_KINDS_MAX PREDICT_LIVE_KINDS_MAX
/* Scores a round may commit; more wait for the next round, so that Raft
 * writes for scores stay bounded even when a whole rack moves at once. */
#define NODE_SCORING_COMMITS_MAX 1024

/* The model of one resource kind, as last loaded from the store. */
struct node_scoring_model
{
    char kind[PREDICT_LIVE_KIND_SIZE];
    char name[PREDICT_LIVE_ID_SIZE]; /* "" when none is active */
    uint64_t version;
    bool loaded; /* @model holds name@version */
    bool failed; /* name@version did not load: not tried again */
    struct predict_model model;
};

struct node_scoring
{
    struct predict_live live;
    bool leader; /* scoring as the leader since @since_ms */
    uint64_t since_ms;
    uint64_t next_round_ms;
    struct node_scoring_model models[NODE_SCORING_KINDS_MAX];
    unsigned n_models;
    struct predict_live_score *out; /* NODE_SCORING_COMMITS_MAX */
    struct scoring_edge *edges;     /* the graph as read, each round */
    size_t n_edges;
    size_t edges_cap;
    uint64_t commits;      /* score.set proposed since start */
    uint64_t manual_skips; /* scores not proposed: one set by hand holds */
    uint64_t unknown;      /* reports for resources the store does not hold */
    uint64_t round_us;     /* the last round's duration */
    /* What the last warning about lost samples and resources a model
     * could not score had counted, and when it was written. */
    uint64_t warned_dropped;
    uint64_t warned_uncovered;
    uint64_t warned_ms;
};

#endif
