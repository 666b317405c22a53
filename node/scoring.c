/* The leader's scoring: feeds predict/live.h from agents' telemetry, loads
 * the active models from the store once per version, runs a round every
 * --score-interval-ms, proposes the scores that crossed the hysteresis as
 * score.set, and answers the predict op. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "node/node.h"

/* ---- init, close ------------------------------------------------------ */

int node__scoring_init(struct node *n)
{
    struct node_scoring *sc = &n->scoring;
    struct predict_live_config c;
    int rv;

    memset(sc, 0, sizeof *sc);
    predict_live_config_default(&c);
    c.step = n->config.score_step;
    c.enter = n->config.score_enter;
    c.leave = n->config.score_leave;
    c.warm_reports = n->config.score_warm;
    rv = predict_live_init(&sc->live, &c);
    if (rv != 0) {
        snprintf(n->errmsg, sizeof n->errmsg, "scoring: %s", sc->live.errmsg);
        return rv;
    }
    sc->out = calloc(NODE_SCORING_COMMITS_MAX, sizeof *sc->out);
    if (sc->out == NULL) {
        predict_live_close(&sc->live);
        snprintf(n->errmsg, sizeof n->errmsg, "scoring: out of memory");
        return AUGUR_ENOMEM;
    }
    return 0;
}

static void model_unload(struct node_scoring_model *m)
{
    if (m->loaded) {
        predict_model_close(&m->model);
    }
    m->loaded = false;
}

void node__scoring_close(struct node *n)
{
    struct node_scoring *sc = &n->scoring;

    predict_live_close(&sc->live);
    for (unsigned i = 0; i < sc->n_models; i++) {
        model_unload(&sc->models[i]);
    }
    sc->n_models = 0;
    free(sc->out);
    sc->out = NULL;
    free(sc->edges);
    sc->edges = NULL;
}

/* ---- telemetry -------------------------------------------------------- */

/* Remember @kind, so that rounds look for the model active for it. */
static void kind_track(struct node_scoring *sc, const char *kind)
{
    for (unsigned i = 0; i < sc->n_models; i++) {
        if (strcmp(sc->models[i].kind, kind) == 0) {
            return;
        }
    }
    if (sc->n_models == NODE_SCORING_KINDS_MAX) {
        return; /* scored by the anomaly score */
    }
    memset(&sc->models[sc->n_models], 0, sizeof sc->models[sc->n_models]);
    snprintf(sc->models[sc->n_models].kind, PREDICT_LIVE_KIND_SIZE, "%s", kind);
    sc->n_models++;
}

void node__scoring_observe(struct node *n, const struct telemetry_batch *b)
{
    struct node_scoring *sc = &n->scoring;
    struct predict_live_slot *slot;
    int64_t now = (int64_t)node__now_ms();

    if (!sc->leader) {
        return;
    }
    if (!predict_live_known(&sc->live, b->resource)) {
        char kind[STORE_KIND_SIZE];
        bool has = false;
        double p = 0.0;
        int64_t at = 0;
        int rv =
            store_resource_score(n->store, b->resource, kind, &has, &p, &at);
        if (rv != 0) {
            /* A resource the store does not hold is not scored: there is
             * nothing to commit its score to. */
            sc->unknown++;
            return;
        }
        slot = predict_live_report(&sc->live, b->resource, now);
        if (slot == NULL) {
            return;
        }
        /* The committed score stands until this leader has seen enough
         * reports: it is where the hysteresis starts from. */
        predict_live_slot_init(&sc->live, slot, kind, has ? p : 0.0);
        kind_track(sc, kind);
    } else {
        slot = predict_live_report(&sc->live, b->resource, now);
        if (slot == NULL) {
            return;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        predict_live_sample(&sc->live, slot, telemetry_sample_name(b, i),
                            b->s[i].value);
    }
}

/* ---- models ----------------------------------------------------------- */

/* Load the model active for each kind seen, once per version. */
static void models_refresh(struct node *n)
{
    struct node_scoring *sc = &n->scoring;

    for (unsigned i = 0; i < sc->n_models; i++) {
        struct node_scoring_model *m = &sc->models[i];
        char name[STORE_ID_SIZE];
        char ref[PREDICT_LIVE_REF_SIZE];
        char errmsg[PREDICT_ERRMSG_SIZE];
        struct predict_model next;
        uint64_t version = 0;
        uint64_t size = 0;
        void *buf = NULL;
        size_t len = 0;
        int rv;

        rv = store_model_active(n->store, m->kind, name, &version, &size);
        if (rv != 0) {
            if (m->name[0] != '\0') {
                LOG(LOG_LEVEL_INFO,
                    "scoring: no model is active for kind %s any more: "
                    "anomaly scores",
                    m->kind);
                predict_live_model_clear(&sc->live, m->kind);
                model_unload(m);
                m->name[0] = '\0';
                m->failed = false;
            }
            continue;
        }
        if (strcmp(m->name, name) == 0 && m->version == version &&
            (m->loaded || m->failed)) {
            continue;
        }
        snprintf(m->name, sizeof m->name, "%s", name);
        m->version = version;
        m->failed = true; /* until it loads */
        rv = store_model_read(n->store, name, &version, &buf, &len);
        predict_model_init(&next);
        if (rv == 0) {
            rv = predict_model_load(&next, buf, len, errmsg);
            if (rv != 0) {
                LOG(LOG_LEVEL_ERROR,
                    "scoring: model %s@%" PRIu64
                    " does not load (%s): kind %s keeps the anomaly score",
                    name, version, errmsg, m->kind);
            }
        } else {
            LOG(LOG_LEVEL_ERROR, "scoring: model %s@%" PRIu64 ": %s", name,
                version, augur_strerror(rv));
        }
        free(buf);
        predict_live_model_clear(&sc->live, m->kind);
        model_unload(m);
        if (rv != 0) {
            predict_model_close(&next);
            continue;
        }
        m->model = next;
        m->loaded = true;
        m->failed = false;
        snprintf(ref, sizeof ref, "%.100s@%" PRIu64, name, version);
        rv = predict_live_model_set(&sc->live, m->kind, &m->model, ref);
        if (rv != 0) {
            LOG(LOG_LEVEL_ERROR, "scoring: %s", sc->live.errmsg);
            continue;
        }
        LOG(LOG_LEVEL_INFO,
            "scoring: kind %s scored by model %s (%zu bytes, %u features)",
            m->kind, ref, len, m->model.n_features);
    }
}

/* ---- the round -------------------------------------------------------- */

/* An edge as read from the store, before the scores of its ends are: the
 * walk holds the store's read transaction, so no other read may run
 * inside it. */
struct scoring_edge
{
    char from[STORE_ID_SIZE];
    char to[STORE_ID_SIZE];
    int kind;
};

static int edge_collect(void *arg, const char *from, const char *to, int kind)
{
    struct node_scoring *sc = arg;
    struct scoring_edge *e;

    if (sc->n_edges == sc->edges_cap) {
        size_t nc = sc->edges_cap == 0 ? 64 : sc->edges_cap * 2;
        struct scoring_edge *q = realloc(sc->edges, nc * sizeof *q);
        if (q == NULL) {
            return AUGUR_ENOMEM;
        }
        sc->edges = q;
        sc->edges_cap = nc;
    }
    e = &sc->edges[sc->n_edges++];
    snprintf(e->from, sizeof e->from, "%s", from);
    snprintf(e->to, sizeof e->to, "%s", to);
    e->kind = kind;
    return 0;
}

/* The committed p of @id when the live scorer does not track it. */
static double committed_of(struct node *n, const char *id)
{
    char kind[STORE_KIND_SIZE];
    bool has = false;
    double p = 0.0;
    int64_t at;

    if (predict_live_known(&n->scoring.live, id) ||
        store_resource_score(n->store, id, kind, &has, &p, &at) != 0 || !has) {
        return 0.0;
    }
    return p;
}

/* At most once a minute, say what scoring lost since the last time:
 * samples over the per-resource cap, and resources a model could not score
 * because they report too few of its features.  Both are silent losses of
 * prediction otherwise (augur_scoring_*_total count them too). */
static void round_warn(struct node *n, uint64_t now_ms)
{
    struct node_scoring *sc = &n->scoring;
    const struct predict_live_stats *st = &sc->live.stats;

    if (now_ms - sc->warned_ms < 60000 ||
        (st->dropped_metrics == sc->warned_dropped &&
         st->uncovered == sc->warned_uncovered)) {
        return;
    }
    if (st->dropped_metrics != sc->warned_dropped) {
        LOG(LOG_LEVEL_WARN,
            "scoring: %" PRIu64
            " samples dropped: a resource reported more "
            "than %u metrics (an active model's features are kept up to "
            "%u); its agent reports too many",
            st->dropped_metrics - sc->warned_dropped, sc->live.cfg.max_metrics,
            2 * sc->live.cfg.max_metrics);
    }
    if (st->uncovered != sc->warned_uncovered) {
        LOG(LOG_LEVEL_WARN,
            "scoring: %" PRIu64
            " scorings by a model fell back to the "
            "anomaly score: the resource reported under %.0f%% of the "
            "model's features (augur predict RESOURCE says which model "
            "scored it)",
            st->uncovered - sc->warned_uncovered,
            100.0 * sc->live.cfg.min_coverage);
    }
    sc->warned_dropped = st->dropped_metrics;
    sc->warned_uncovered = st->uncovered;
    sc->warned_ms = now_ms;
}

/* Give the next round the dependency graph. */
static int edges_load(struct node *n)
{
    struct node_scoring *sc = &n->scoring;
    int rv;

    sc->n_edges = 0;
    predict_live_edges_begin(&sc->live);
    rv = store_edges_each(n->store, edge_collect, sc);
    for (size_t i = 0; rv == 0 && i < sc->n_edges; i++) {
        const struct scoring_edge *e = &sc->edges[i];
        rv =
            predict_live_edge(&sc->live, e->from, e->to, e->kind,
                              committed_of(n, e->from), committed_of(n, e->to));
    }
    if (rv != 0) {
        predict_live_edges_begin(&sc->live);
    }
    return rv;
}

static void score_propose(struct node *n, const struct predict_live_score *s)
{
    struct store_cmd *c = &n->cmd;
    int64_t manual_until = 0;

    /* A score set by hand holds until its window ends (issue 14): the
     * leader's scoring does not overwrite it before. */
    if (store_resource_manual_until(n->store, s->resource, &manual_until) ==
            0 &&
        manual_until > (int64_t)node__now_ms()) {
        char kind[STORE_KIND_SIZE];
        bool has = false;
        double p = 0.0;
        int64_t at;

        /* The round took its p as committed: it was not, the hand-set one
         * is, and the hysteresis goes on from that. */
        if (store_resource_score(n->store, s->resource, kind, &has, &p, &at) ==
            0) {
            predict_live_committed_set(&n->scoring.live, s->resource,
                                       has ? p : 0.0);
        }
        n->scoring.manual_skips++;
        return;
    }
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_SCORE_SET;
    snprintf(c->u.score.id, sizeof c->u.score.id, "%s", s->resource);
    c->u.score.p = s->p >= 0.0 && s->p <= 1.0 ? s->p + 0.0 : 0.0;
    c->u.score.window_s = s->window_s > 0 ? s->window_s : 86400;
    c->u.score.has_confidence = s->confidence >= 0.0 && s->confidence <= 1.0;
    c->u.score.confidence = c->u.score.has_confidence ? s->confidence : 0.0;
    if (strcmp(s->model, "committed") != 0) {
        snprintf(c->u.score.model, sizeof c->u.score.model, "%s", s->model);
    }
    for (unsigned i = 0; i < s->n_reasons && i < STORE_REASONS_MAX; i++) {
        struct store_reason *r = &c->u.score.reasons[c->u.score.n_reasons];
        /* A feature name the store would refuse is left out, not the
         * score. */
        if (strlen(s->reasons[i].feature) >= STORE_FEATURE_SIZE ||
            !isfinite(s->reasons[i].contribution)) {
            continue;
        }
        snprintf(r->feature, sizeof r->feature, "%s", s->reasons[i].feature);
        for (char *p = r->feature; *p != '\0'; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr("._:@/-", *p) != NULL)) {
                *p = '_';
            }
        }
        r->contribution = s->reasons[i].contribution;
        c->u.score.n_reasons++;
    }
    node__propose_own(n);
    n->scoring.commits++;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void node__scoring_tick(struct node *n, uint64_t now_ms, bool leader)
{
    struct node_scoring *sc = &n->scoring;
    uint64_t t0;
    size_t k = 0;
    int rv;

    if (leader != sc->leader) {
        /* Telemetry is not replicated: a new leader starts from the
         * agents' next reports, and a deposed one forgets what it had. */
        predict_live_reset(&sc->live);
        sc->leader = leader;
        sc->since_ms = now_ms;
        sc->next_round_ms = now_ms + n->config.score_interval_ms;
        if (leader) {
            LOG(LOG_LEVEL_INFO,
                "scoring: every %u ms, from the agents' next reports; no "
                "score is committed for a resource before %u of them",
                n->config.score_interval_ms, sc->live.cfg.warm_reports);
        }
    }
    if (!leader || now_ms < sc->next_round_ms) {
        return;
    }
    sc->next_round_ms = now_ms + n->config.score_interval_ms;
    if (sc->live.n_slots == 0) {
        return;
    }
    t0 = mono_us();
    models_refresh(n);
    rv = edges_load(n);
    if (rv != 0) {
        LOG(LOG_LEVEL_ERROR, "scoring: reading the dependency graph: %s",
            augur_strerror(rv));
        predict_live_edges_begin(&sc->live);
    }
    rv = predict_live_round(&sc->live, (int64_t)now_ms, sc->out,
                            NODE_SCORING_COMMITS_MAX, &k);
    if (rv != 0) {
        LOG(LOG_LEVEL_ERROR, "scoring: round failed: %s", sc->live.errmsg);
        return;
    }
    round_warn(n, now_ms);
    for (size_t i = 0; i < k; i++) {
        LOG(LOG_LEVEL_DEBUG, "scoring: %s p %.3f (own %.3f, %s)",
            sc->out[i].resource, sc->out[i].p, sc->out[i].p_own,
            sc->out[i].model);
        score_propose(n, &sc->out[i]);
    }
    sc->round_us = mono_us() - t0;
}

/* ---- predict ---------------------------------------------------------- */

static void pack_view(struct node *n,
                      struct api_call *call,
                      const struct predict_live_score *v,
                      bool has_committed,
                      double committed,
                      int64_t committed_at,
                      bool stale)
{
    msgpack_packer pk;

    node__result_begin(n, &pk, 12);
    node__pack_str(&pk, "resource");
    node__pack_str(&pk, v->resource);
    node__pack_str(&pk, "p_fail");
    msgpack_pack_double(&pk, v->p_own);
    node__pack_str(&pk, "window_s");
    msgpack_pack_uint64(&pk, v->window_s);
    node__pack_str(&pk, "confidence");
    msgpack_pack_double(&pk, v->confidence);
    node__pack_str(&pk, "model");
    node__pack_str(&pk, v->model);
    node__pack_str(&pk, "reasons");
    msgpack_pack_array(&pk, v->n_reasons);
    for (unsigned i = 0; i < v->n_reasons; i++) {
        msgpack_pack_map(&pk, 2);
        node__pack_str(&pk, "feature");
        node__pack_str(&pk, v->reasons[i].feature);
        node__pack_str(&pk, "contribution");
        msgpack_pack_double(&pk, v->reasons[i].contribution);
    }
    node__pack_str(&pk, "correlated");
    msgpack_pack_map(&pk, 2);
    node__pack_str(&pk, "p");
    msgpack_pack_double(&pk, v->p);
    node__pack_str(&pk, "via");
    msgpack_pack_array(&pk, v->n_via);
    for (unsigned i = 0; i < v->n_via; i++) {
        msgpack_pack_map(&pk, 2);
        node__pack_str(&pk, "resource");
        node__pack_str(&pk, v->via[i]);
        node__pack_str(&pk, "p");
        msgpack_pack_double(&pk, v->via_p[i]);
    }
    node__pack_str(&pk, "updated_at");
    msgpack_pack_int64(&pk, v->scored_at != 0 ? v->scored_at : committed_at);
    node__pack_str(&pk, "committed");
    if (has_committed) {
        msgpack_pack_map(&pk, 2);
        node__pack_str(&pk, "p");
        msgpack_pack_double(&pk, committed);
        node__pack_str(&pk, "updated_at");
        msgpack_pack_int64(&pk, committed_at);
    } else {
        msgpack_pack_nil(&pk);
    }
    node__pack_str(&pk, "warm");
    if (v->warm) {
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_false(&pk);
    }
    node__pack_str(&pk, "reports");
    msgpack_pack_uint64(&pk, v->reports);
    node__pack_str(&pk, "stale");
    if (stale) {
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_false(&pk);
    }
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

void node__predict(struct node *n, struct api_call *call)
{
    const msgpack_object *args = call->req.args;
    char id[STORE_ID_SIZE];
    char kind[STORE_KIND_SIZE];
    struct predict_live_score v;
    bool has = false;
    double p = 0.0;
    int64_t at = 0;
    bool leader = replica_is_leader(&n->replica);
    uint64_t window_s = 0;
    int rv;

    rv = node__arg_str(args, "resource", id, sizeof id);
    if (rv != 0) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "predict: 'resource' (a resource id) is required");
        return;
    }
    /* An optional window in seconds: p_fail within it, from the model's
     * time-to-failure part (the leader's live view only). */
    rv = node__arg_u64(args, "window", &window_s);
    if (rv == AUGUR_EINVAL || (rv == 0 && window_s == 0)) {
        api_call_reply_error(call, AUGUR_EINVAL, NULL,
                             "predict: 'window' must be a positive number of "
                             "seconds");
        return;
    }
    if (!leader && !call->req.stale) {
        /* The live view is the leader's: telemetry is not replicated. */
        node__reply_not_leader(n, call);
        return;
    }
    rv = store_resource_score(n->store, id, kind, &has, &p, &at);
    if (rv == AUGUR_ENOTFOUND) {
        api_call_reply_error(call, rv, NULL, "no resource named %s", id);
        return;
    }
    if (rv != 0) {
        api_call_reply_error(call, rv, NULL, "predict: %s", augur_strerror(rv));
        return;
    }
    if (window_s > 0) {
        if (!leader) {
            api_call_reply_error(call, AUGUR_EINVAL, NULL,
                                 "predict: a window needs the leader's live "
                                 "model (not --stale)");
            return;
        }
        rv = predict_live_view_window(&n->scoring.live, id, window_s, &v);
        if (rv != 0) {
            api_call_reply_error(call,
                                 rv == AUGUR_ENOTFOUND ? AUGUR_EINVAL : rv,
                                 NULL, "predict: %s", n->scoring.live.errmsg);
            return;
        }
    } else if (!leader || predict_live_view(&n->scoring.live, id, &v) != 0) {
        /* Not reporting to this leader (or a stale read on a follower):
         * the committed score stands. */
        memset(&v, 0, sizeof v);
        snprintf(v.resource, sizeof v.resource, "%s", id);
        v.p_own = p;
        v.p = p;
        v.window_s = 0;
        snprintf(v.model, sizeof v.model, "committed");
    }
    pack_view(n, call, &v, has, p, at, !leader);
}

void node__scoring_status_pack(struct node *n, msgpack_packer *pk)
{
    const struct node_scoring *sc = &n->scoring;
    char ref[PREDICT_LIVE_ID_SIZE + PREDICT_LIVE_KIND_SIZE + 24];
    unsigned n_models = 0;

    for (unsigned i = 0; i < sc->n_models; i++) {
        n_models += sc->models[i].loaded;
    }
    node__pack_str(pk, "scoring");
    msgpack_pack_map(pk, 9);
    node__pack_str(pk, "leader");
    if (sc->leader) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
    node__pack_str(pk, "resources");
    msgpack_pack_uint64(pk, sc->live.n_slots);
    node__pack_str(pk, "rounds");
    msgpack_pack_uint64(pk, sc->live.stats.rounds);
    node__pack_str(pk, "scored");
    msgpack_pack_uint64(pk, sc->live.stats.scored);
    node__pack_str(pk, "commits");
    msgpack_pack_uint64(pk, sc->commits);
    node__pack_str(pk, "manual_skips");
    msgpack_pack_uint64(pk, sc->manual_skips);
    node__pack_str(pk, "round_us");
    msgpack_pack_uint64(pk, sc->round_us);
    node__pack_str(pk, "dropped");
    msgpack_pack_uint64(pk, sc->live.stats.dropped_resources +
                                sc->live.stats.dropped_metrics + sc->unknown);
    node__pack_str(pk, "models");
    msgpack_pack_array(pk, n_models);
    for (unsigned i = 0; i < sc->n_models; i++) {
        const struct node_scoring_model *m = &sc->models[i];
        if (m->loaded) {
            snprintf(ref, sizeof ref, "%s=%s@%" PRIu64, m->kind, m->name,
                     m->version);
            node__pack_str(pk, ref);
        }
    }
}
