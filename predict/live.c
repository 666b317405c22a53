/* Live scoring: per-resource state, the scoring round (model or anomaly
 * score, then the hysteresis) and the view of one resource; the dependency
 * graph is live_graph.c's.  No clock: times come from the caller. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/live_int.h"

/* ---- config ----------------------------------------------------------- */

void predict_live_config_default(struct predict_live_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_resources = 20000;
    c->max_metrics = 128;
    c->max_names = 8192;
    c->enter = 0.5;
    c->leave = 0.4;
    c->step = 0.05;
    c->warm_reports = 20;
    c->stale_ms = 30000;
    c->evict_ms = 600000;
    c->anomaly_z = 6.0;
    c->anomaly_window_s = 3600;
    c->weight[PREDICT_EDGE_POWER] = 0.9;
    c->weight[PREDICT_EDGE_NETWORK] = 0.5;
    c->weight[PREDICT_EDGE_STORAGE] = 0.5;
    c->weight[PREDICT_EDGE_WORKLOAD] = 0.3;
    c->weight[PREDICT_EDGE_COOLING] = 0.6;
    c->ewma_alpha = 0.1;
    c->baseline = 20;
    c->min_coverage = 0.25;
}

int predict_live_config_check(const struct predict_live_config *c, char *errmsg)
{
    const char *bad = NULL;

    if (c->max_resources == 0 || c->max_resources > (1u << 24)) {
        bad = "max_resources must be 1 to 2^24";
    } else if (c->max_metrics == 0 || c->max_metrics > 4096) {
        bad = "max_metrics must be 1 to 4096";
    } else if (c->max_names == 0 || c->max_names > (1u << 20)) {
        bad = "max_names must be 1 to 2^20";
    } else if (!(c->min_coverage >= 0.0 && c->min_coverage <= 1.0)) {
        bad = "min_coverage must be in [0, 1]";
    } else if (!(c->leave > 0.0 && c->leave <= c->enter && c->enter <= 1.0)) {
        bad = "the band must hold 0 < leave <= enter <= 1";
    } else if (!(c->step > 0.0 && c->step < 1.0)) {
        bad = "step must be in (0, 1)";
    } else if (c->stale_ms <= 0 || c->evict_ms < c->stale_ms) {
        bad = "stale_ms must be positive and evict_ms at least stale_ms";
    } else if (!(c->anomaly_z > PREDICT_LIVE_Z_QUIET) ||
               c->anomaly_window_s == 0) {
        bad = "anomaly_z must be above 4 and anomaly_window_s positive";
    }
    for (int k = 0; bad == NULL && k < PREDICT_EDGE_KINDS; k++) {
        if (!(c->weight[k] >= 0.0 && c->weight[k] <= 1.0)) {
            bad = "edge weights must be in [0, 1]";
        }
    }
    if (bad != NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "live scoring: %s", bad);
        return AUGUR_EINVAL;
    }
    if (!(c->ewma_alpha > 0.0 && c->ewma_alpha <= 1.0) || c->baseline < 3 ||
        c->baseline > PREDICT_LIVE_BASELINE_MAX) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "live scoring: ewma_alpha must be in (0, 1] and baseline 3 "
                 "to %d samples",
                 PREDICT_LIVE_BASELINE_MAX);
        return AUGUR_EINVAL;
    }
    return 0;
}

bool predict_live_decide(const struct predict_live_config *c,
                         bool *high,
                         double committed,
                         double p)
{
    if (!*high && p >= c->enter) {
        *high = true;
        return true;
    }
    if (*high && p < c->leave) {
        *high = false;
        return true;
    }
    if (p >= c->leave && p < c->enter) {
        return false; /* inside the band: hold */
    }
    return fabs(p - committed) > c->step;
}

double predict_live_anomaly_p(double z, double z0)
{
    double d = fabs(z) - PREDICT_LIVE_Z_QUIET;
    double d0 = z0 - PREDICT_LIVE_Z_QUIET;

    if (!(d > 0.0)) {
        return 0.0; /* NaN too */
    }
    return d * d / (d * d + d0 * d0);
}

/* ---- hashing ---------------------------------------------------------- */

uint64_t predict__live_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static uint64_t hash_u32(uint32_t v)
{
    uint64_t h = v * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

size_t predict__live_pow2(size_t n)
{
    size_t c = 16;
    while (c < n) {
        c <<= 1;
    }
    return c;
}

/* The slot of @id: its position in l->index (the entry is 0 when absent). */
static size_t index_find(const struct predict_live *l, const char *id)
{
    size_t mask = l->index_cap - 1;
    size_t i = predict__live_hash(id) & mask;

    while (l->index[i] != 0 && strcmp(l->slots[l->index[i] - 1].id, id) != 0) {
        i = (i + 1) & mask;
    }
    return i;
}

uint32_t predict__live_slot_of(const struct predict_live *l, const char *id)
{
    return l->index[index_find(l, id)];
}

/* Remove entry @i of the index, shifting later entries of its run back
 * (linear probing without tombstones). */
static void index_remove(struct predict_live *l, size_t i)
{
    size_t mask = l->index_cap - 1;
    size_t j = i;

    l->index[i] = 0;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (l->index[j] == 0) {
            return;
        }
        home = predict__live_hash(l->slots[l->index[j] - 1].id) & mask;
        /* Move j back to i when its home is not in (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            l->index[i] = l->index[j];
            l->index[j] = 0;
            i = j;
        }
    }
}

uint32_t predict__live_name_find(const struct predict_live *l, const char *name)
{
    size_t mask = l->name_index_cap - 1;
    size_t i = predict__live_hash(name) & mask;

    while (l->name_index[i] != 0) {
        if (strcmp(l->names[l->name_index[i] - 1], name) == 0) {
            return l->name_index[i];
        }
        i = (i + 1) & mask;
    }
    return 0;
}

/* The interned number + 1 of @name, interning it; 0 when the table is
 * full or the name too long. */
static uint32_t name_intern(struct predict_live *l, const char *name)
{
    size_t mask = l->name_index_cap - 1;
    size_t i;
    size_t len = strlen(name);

    if (len >= PREDICT_LIVE_NAME_SIZE) {
        return 0;
    }
    i = predict__live_hash(name) & mask;
    while (l->name_index[i] != 0) {
        if (strcmp(l->names[l->name_index[i] - 1], name) == 0) {
            return l->name_index[i];
        }
        i = (i + 1) & mask;
    }
    if (l->n_names >= l->cfg.max_names) {
        return 0;
    }
    memcpy(l->names[l->n_names], name, len + 1);
    l->name_index[i] = (uint32_t)++l->n_names;
    return l->name_index[i];
}

/* ---- init, close ------------------------------------------------------ */

int predict_live_init(struct predict_live *l,
                      const struct predict_live_config *cfg)
{
    memset(l, 0, sizeof *l);
    if (predict_live_config_check(cfg, l->errmsg) != 0) {
        return AUGUR_EINVAL;
    }
    l->cfg = *cfg;
    l->slots = calloc(cfg->max_resources, sizeof *l->slots);
    l->index_cap = predict__live_pow2(cfg->max_resources * 2);
    l->index = calloc(l->index_cap, sizeof *l->index);
    l->names = calloc(cfg->max_names, sizeof *l->names);
    l->name_feature = calloc(cfg->max_names, sizeof *l->name_feature);
    l->name_index_cap = predict__live_pow2(cfg->max_names * 2);
    l->name_index = calloc(l->name_index_cap, sizeof *l->name_index);
    l->graph = predict__live_graph_new();
    if (l->slots == NULL || l->index == NULL || l->names == NULL ||
        l->name_feature == NULL || l->name_index == NULL || l->graph == NULL) {
        predict_live_close(l);
        snprintf(l->errmsg, sizeof l->errmsg, "live scoring: out of memory");
        return AUGUR_ENOMEM;
    }
    return 0;
}

static void slot_free(struct predict_live_slot *s)
{
    free(s->metrics);
    free(s->mindex);
    memset(s, 0, sizeof *s);
}

void predict_live_close(struct predict_live *l)
{
    for (size_t i = 0; i < l->n_slots; i++) {
        slot_free(&l->slots[i]);
    }
    for (unsigned k = 0; k < l->n_kinds; k++) {
        free(l->kinds[k].feature_name);
    }
    predict__live_graph_free(l->graph);
    free(l->slots);
    free(l->index);
    free(l->names);
    free(l->name_feature);
    free(l->name_index);
    free(l->x);
    free(l->ps);
    free(l->rows);
    l->slots = NULL;
    l->index = NULL;
    l->names = NULL;
    l->name_index = NULL;
    l->graph = NULL;
    l->x = NULL;
    l->ps = NULL;
    l->rows = NULL;
    l->n_slots = 0;
    l->n_kinds = 0;
}

void predict_live_reset(struct predict_live *l)
{
    for (size_t i = 0; i < l->n_slots; i++) {
        slot_free(&l->slots[i]);
    }
    l->n_slots = 0;
    memset(l->index, 0, l->index_cap * sizeof *l->index);
    predict__live_graph_reset(l->graph);
}

/* ---- reports ---------------------------------------------------------- */

bool predict_live_known(const struct predict_live *l, const char *resource)
{
    return l->index[index_find(l, resource)] != 0;
}

void predict_live_committed_set(struct predict_live *l,
                                const char *resource,
                                double committed)
{
    uint32_t at = l->index[index_find(l, resource)];
    struct predict_live_slot *s;

    if (at == 0) {
        return;
    }
    s = &l->slots[at - 1];
    s->committed = committed >= 0.0 && committed <= 1.0 ? committed : 0.0;
    s->high = s->committed >= l->cfg.enter;
}

/* Forget slot @i: the last slot takes its place. */
static void slot_evict(struct predict_live *l, size_t i)
{
    size_t last = l->n_slots - 1;

    index_remove(l, index_find(l, l->slots[i].id));
    slot_free(&l->slots[i]);
    if (i != last) {
        l->slots[i] = l->slots[last];
        l->slots[i].gidx = UINT32_MAX;
        memset(&l->slots[last], 0, sizeof l->slots[last]);
        l->index[index_find(l, l->slots[i].id)] = (uint32_t)i + 1;
    }
    l->n_slots--;
    l->stats.evicted++;
}

/* The slot silent the longest, if it is silent for evict_ms at @now. */
static bool evict_oldest(struct predict_live *l, int64_t now)
{
    size_t oldest = 0;

    if (l->n_slots == 0) {
        return false;
    }
    for (size_t i = 1; i < l->n_slots; i++) {
        if (l->slots[i].reported_at < l->slots[oldest].reported_at) {
            oldest = i;
        }
    }
    if (now - l->slots[oldest].reported_at < l->cfg.evict_ms) {
        return false;
    }
    slot_evict(l, oldest);
    return true;
}

struct predict_live_slot *predict_live_report(struct predict_live *l,
                                              const char *resource,
                                              int64_t t_ms)
{
    size_t len = strlen(resource);
    struct predict_live_slot *s;
    size_t pos;

    if (len == 0 || len >= PREDICT_LIVE_ID_SIZE) {
        l->stats.dropped_resources++;
        return NULL;
    }
    pos = index_find(l, resource);
    if (l->index[pos] == 0) {
        if (l->n_slots == l->cfg.max_resources) {
            if (!evict_oldest(l, t_ms)) {
                l->stats.dropped_resources++;
                return NULL;
            }
            pos = index_find(l, resource);
        }
        s = &l->slots[l->n_slots];
        memset(s, 0, sizeof *s);
        memcpy(s->id, resource, len + 1);
        s->gidx = UINT32_MAX; /* in no round's graph yet */
        l->index[pos] = (uint32_t)++l->n_slots;
    }
    s = &l->slots[l->index[pos] - 1];
    if (t_ms > s->reported_at) {
        s->reported_at = t_ms;
    }
    s->reports++;
    l->stats.reports++;
    return s;
}

bool predict_live_slot_new(const struct predict_live_slot *s)
{
    return !s->inited;
}

void predict_live_slot_init(struct predict_live *l,
                            struct predict_live_slot *s,
                            const char *kind,
                            double committed)
{
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    s->committed = committed >= 0.0 && committed <= 1.0 ? committed : 0.0;
    s->high = s->committed >= l->cfg.enter;
    s->p_own = s->committed;
    s->p_eff = s->committed;
    s->inited = true;
}

/* The slot of metric @name in @s->mindex: its own, or the empty one where
 * it would go. */
static size_t mindex_pos(const struct predict_live_slot *s, uint32_t name)
{
    size_t mask = s->mindex_cap - 1;
    size_t i = hash_u32(name) & mask;

    while (s->mindex[i] != 0 && s->metrics[s->mindex[i] - 1].name != name) {
        i = (i + 1) & mask;
    }
    return i;
}

/* Rebuild @s's index with room for @n metrics at most half full. */
static int mindex_grow(struct predict_live_slot *s, size_t n)
{
    size_t cap = predict__live_pow2(2 * n);
    uint32_t *old = s->mindex;
    uint32_t *idx;

    if (cap <= s->mindex_cap) {
        return 0;
    }
    idx = calloc(cap, sizeof *idx);
    if (idx == NULL) {
        return AUGUR_ENOMEM;
    }
    s->mindex = idx;
    s->mindex_cap = (unsigned)cap;
    for (unsigned m = 0; m < s->n_metrics; m++) {
        s->mindex[mindex_pos(s, s->metrics[m].name)] = m + 1;
    }
    free(old);
    return 0;
}

struct live_metric *predict__live_metric(struct predict_live *l,
                                         struct predict_live_slot *s,
                                         uint32_t name,
                                         bool create)
{
    /* An active model's feature is kept past the cap, up to twice it: a
     * host's own metrics must not crowd out what its model reads. */
    unsigned limit =
        l->name_feature[name - 1] ? 2 * l->cfg.max_metrics : l->cfg.max_metrics;
    size_t i;

    if (s->mindex != NULL) {
        i = mindex_pos(s, name);
        if (s->mindex[i] != 0) {
            return &s->metrics[s->mindex[i] - 1];
        }
    }
    if (!create || s->n_metrics >= limit) {
        return NULL;
    }
    if (mindex_grow(s, (size_t)s->n_metrics + 1) != 0) {
        return NULL;
    }
    if (s->n_metrics == s->cap_metrics) {
        unsigned nc = s->cap_metrics == 0 ? 8 : s->cap_metrics * 2;
        struct live_metric *q;
        if (nc > 2 * l->cfg.max_metrics) {
            nc = 2 * l->cfg.max_metrics;
        }
        q = realloc(s->metrics, nc * sizeof *q);
        if (q == NULL) {
            return NULL;
        }
        s->metrics = q;
        s->cap_metrics = nc;
    }
    i = mindex_pos(s, name);
    memset(&s->metrics[s->n_metrics], 0, sizeof s->metrics[s->n_metrics]);
    s->metrics[s->n_metrics].name = name;
    s->mindex[i] = ++s->n_metrics;
    return &s->metrics[s->n_metrics - 1];
}

static void metric_update(const struct predict_live_config *c,
                          struct live_metric *m,
                          double v)
{
    m->last = v;
    if (m->n == 0) {
        m->ewma = v;
    } else {
        double diff = v - m->ewma;
        double incr = c->ewma_alpha * diff;
        m->ewma += incr;
        m->ewvar = (1.0 - c->ewma_alpha) * (m->ewvar + diff * incr);
    }
    m->n++;
    if (m->base_len < c->baseline) {
        m->base[m->base_len++] = (float)v;
        if (m->base_len == c->baseline) {
            double b[PREDICT_LIVE_BASELINE_MAX];
            double scratch[PREDICT_LIVE_BASELINE_MAX];
            double median;
            double mad;

            for (unsigned i = 0; i < m->base_len; i++) {
                b[i] = m->base[i];
            }
            predict_median_mad(b, m->base_len, scratch, &median, &mad);
            m->base_median = (float)median;
            m->base_mad = (float)mad;
        }
    }
}

void predict_live_sample(struct predict_live *l,
                         struct predict_live_slot *s,
                         const char *name,
                         double value)
{
    uint32_t n = name_intern(l, name);
    struct live_metric *m = n != 0 ? predict__live_metric(l, s, n, true) : NULL;

    if (m == NULL || !isfinite(value)) {
        l->stats.dropped_metrics++;
        return;
    }
    metric_update(&l->cfg, m, value);
    l->stats.samples++;
}

/* ---- the round -------------------------------------------------------- */

static bool scorable(const struct predict_live *l,
                     const struct predict_live_slot *s,
                     int64_t now)
{
    return s->inited && s->reports >= l->cfg.warm_reports &&
           now - s->reported_at <= l->cfg.stale_ms;
}

/* Score the slots of kind @k with its model, in one batch. */
static int round_model(struct predict_live *l, unsigned k, int64_t now)
{
    const struct predict_model *m = l->kinds[k].model;
    size_t n = 0;
    size_t need;
    int rv;

    predict__live_kind_map(l, k);
    for (size_t i = 0; i < l->n_slots; i++) {
        struct predict_live_slot *s = &l->slots[i];
        if (scorable(l, s, now) && strcmp(s->kind, l->kinds[k].kind) == 0) {
            l->rows[n++] = (uint32_t)i;
        }
    }
    if (n == 0) {
        return 0;
    }
    need = n * (m->n_features > 0 ? m->n_features : 1);
    if (predict__live_grow((void **)&l->x, &l->x_cap, need, sizeof *l->x) !=
        0) {
        return AUGUR_ENOMEM;
    }
    /* A row with too few of the model's features is left to the anomaly
     * score: a model asked about a resource that reports none of what it
     * was trained on answers with its base rate, not about the resource. */
    need = n;
    n = 0;
    for (size_t r = 0; r < need; r++) {
        float *x = l->x + n * m->n_features;
        unsigned have = 0;

        predict__live_row_fill(l, k, &l->slots[l->rows[r]], x);
        for (unsigned f = 0; f < m->n_features; f++) {
            have += !isnan(x[f]);
        }
        if (have == 0 || have < l->cfg.min_coverage * m->n_features) {
            l->stats.uncovered++;
            continue;
        }
        l->rows[n++] = l->rows[r];
    }
    if (n == 0) {
        return 0;
    }
    rv = predict_model_score(m, l->x, n, 0, l->ps, l->errmsg);
    if (rv != 0) {
        l->stats.model_errors++;
        return rv;
    }
    for (size_t r = 0; r < n; r++) {
        struct predict_live_slot *s = &l->slots[l->rows[r]];
        double p = l->ps[r].p_fail;
        s->p_own = p >= 0.0 && p <= 1.0 ? p : 0.0;
        s->confidence = l->ps[r].confidence;
        s->window_s = predict__live_model_window_s(m);
        snprintf(s->ref, sizeof s->ref, "%s", l->kinds[k].ref);
        s->scored = true;
        s->scored_at = now;
    }
    l->stats.scored += n;
    return 0;
}

static void score_fill(const struct predict_live *l,
                       const struct predict_live_slot *s,
                       struct predict_live_score *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->resource, sizeof out->resource, "%s", s->id);
    out->warm = s->scored;
    out->p_own = s->scored ? s->p_own : s->committed;
    out->p = s->scored ? s->p_eff : s->committed;
    out->confidence = s->scored ? s->confidence : 0.0;
    out->window_s = s->scored ? s->window_s : l->cfg.anomaly_window_s;
    snprintf(out->model, sizeof out->model, "%s",
             s->scored ? s->ref : "committed");
    out->scored_at = s->scored_at;
    out->reported_at = s->reported_at;
    out->reports = s->reports;
}

/* Reasons for @s into @out (model or anomaly), then the correlated risk
 * as the last reason when it adds more than a step. */
static int reasons_fill(struct predict_live *l,
                        struct predict_live_slot *s,
                        struct predict_live_score *out)
{
    int k = predict__live_kind_find(l, s->kind);
    int rv = 0;

    if (k >= 0 && l->kinds[k].model != NULL &&
        strcmp(s->ref, l->kinds[k].ref) == 0) {
        rv = predict__live_model_reasons(l, (unsigned)k, s, out);
    } else {
        (void)predict__live_anomaly(l, s, out);
    }
    predict__live_via(l, s->gidx, out);
    if (rv == 0 && out->n_via > 0 && out->p - out->p_own > l->cfg.step) {
        unsigned j = out->n_reasons < PREDICT_TOP_MAX ? out->n_reasons++
                                                      : PREDICT_TOP_MAX - 1;
        snprintf(out->reasons[j].feature, sizeof out->reasons[j].feature,
                 "via:%.59s", out->via[0]);
        out->reasons[j].contribution = out->p - out->p_own;
    }
    return rv;
}

int predict_live_round(struct predict_live *l,
                       int64_t now_ms,
                       struct predict_live_score *out,
                       size_t cap,
                       size_t *n)
{
    size_t rows_cap = l->rows_cap;
    int rv = 0;

    *n = 0;
    for (size_t i = 0; i < l->n_slots;) {
        if (now_ms - l->slots[i].reported_at > l->cfg.evict_ms) {
            slot_evict(l, i);
        } else {
            i++;
        }
    }
    if (predict__live_grow((void **)&l->rows, &rows_cap, l->n_slots + 1,
                           sizeof *l->rows) != 0) {
        return AUGUR_ENOMEM;
    }
    if (rows_cap != l->rows_cap) {
        struct predict_score *q = realloc(l->ps, rows_cap * sizeof *q);
        if (q == NULL) {
            return AUGUR_ENOMEM;
        }
        l->ps = q;
        l->rows_cap = rows_cap;
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        l->slots[i].scored = false;
    }
    /* Kinds with a model, in one batch each. */
    for (unsigned k = 0; k < l->n_kinds && rv == 0; k++) {
        if (l->kinds[k].model != NULL) {
            rv = round_model(l, k, now_ms);
        }
    }
    if (rv != 0) {
        return rv;
    }
    /* The others: the anomaly score. */
    for (size_t i = 0; i < l->n_slots; i++) {
        struct predict_live_slot *s = &l->slots[i];
        if (!s->scored && scorable(l, s, now_ms)) {
            s->p_own = predict__live_anomaly(l, s, NULL);
            s->confidence = predict__live_conf(s->p_own);
            s->window_s = l->cfg.anomaly_window_s;
            snprintf(s->ref, sizeof s->ref, "anomaly");
            s->scored = true;
            s->scored_at = now_ms;
            l->stats.scored++;
        }
    }
    rv = predict__live_graph_run(l);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        struct predict_live_slot *s = &l->slots[i];
        bool high = s->high;
        double p;

        if (!s->scored) {
            continue;
        }
        p = predict__live_graph_out(l, i);
        s->p_eff = p >= 0.0 && p <= 1.0 ? p : s->p_own;
        if (!predict_live_decide(&l->cfg, &high, s->committed, s->p_eff) ||
            *n == cap) {
            continue; /* a commit past @cap waits for the next round */
        }
        score_fill(l, s, &out[*n]);
        rv = reasons_fill(l, s, &out[*n]);
        if (rv != 0) {
            return rv;
        }
        s->high = high;
        s->committed = s->p_eff;
        (*n)++;
    }
    l->stats.commits += *n;
    l->stats.rounds++;
    return 0;
}

int predict_live_view(struct predict_live *l,
                      const char *resource,
                      struct predict_live_score *out)
{
    size_t pos = index_find(l, resource);
    struct predict_live_slot *s;

    if (l->index[pos] == 0) {
        return AUGUR_ENOTFOUND;
    }
    s = &l->slots[l->index[pos] - 1];
    score_fill(l, s, out);
    if (!s->scored) {
        predict__live_via(l, s->gidx, out);
        return 0;
    }
    return reasons_fill(l, s, out);
}

int predict_live_view_window(struct predict_live *l,
                             const char *resource,
                             uint64_t window_s,
                             struct predict_live_score *out)
{
    size_t pos = index_find(l, resource);
    struct predict_live_slot *s;
    double p, rest;
    int k, rv;

    if (l->index[pos] == 0) {
        snprintf(l->errmsg, sizeof l->errmsg,
                 "%s does not report to this leader", resource);
        return AUGUR_ENOTFOUND;
    }
    s = &l->slots[l->index[pos] - 1];
    k = predict__live_kind_find(l, s->kind);
    if (!s->scored || k < 0 || l->kinds[k].model == NULL ||
        strcmp(s->ref, l->kinds[k].ref) != 0) {
        snprintf(l->errmsg, sizeof l->errmsg,
                 "%s is not scored by a model (%s): a window needs one with "
                 "a time-to-failure part",
                 resource, s->scored ? s->ref : "not warm yet");
        return AUGUR_EINVAL;
    }
    if (window_s == 0) {
        snprintf(l->errmsg, sizeof l->errmsg, "a window must be positive");
        return AUGUR_EINVAL;
    }
    rv = predict__live_model_window_p(l, (unsigned)k, s, window_s, &p);
    if (rv != 0) {
        return rv;
    }
    score_fill(l, s, out);
    rv = reasons_fill(l, s, out);
    if (rv != 0) {
        return rv;
    }
    /* The dependencies' factor of the noisy-OR, as the round found it. */
    rest = s->p_own < 1.0 ? (1.0 - s->p_eff) / (1.0 - s->p_own) : 1.0;
    out->p_own = p;
    out->p = 1.0 - (1.0 - p) * fmin(fmax(rest, 0.0), 1.0);
    out->confidence = predict__live_conf(p);
    out->window_s = window_s;
    return 0;
}
