/* Live scoring: per-resource streams, the scoring round (model or anomaly
 * score, noisy-OR over the dependency graph, hysteresis) and the view of
 * one resource.  No clock: times come from the caller. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/live.h"

/* ---- types ------------------------------------------------------------ */

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
    uint32_t *mindex; /* name + 1 -> metric + 1; 2 * max_metrics entries */
    uint32_t gidx;    /* its node in the last round's graph */
};

/* The edges given for the next round, by id, and the last round's graph
 * (for views): nodes 0..n_slots are the slots, then resources only edges
 * name. */
struct graph_edge
{
    uint32_t from; /* arena offsets, then graph nodes once resolved */
    uint32_t to;
    int kind;
    double from_c;
    double to_c;
};

struct predict_live_graph
{
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    struct graph_edge *edges;
    size_t n_edges;
    size_t edges_cap;
    /* The last round's resolved graph. */
    struct predict_edge *pe;
    size_t n_pe;
    double *own;
    double *out;
    uint32_t *node_name; /* arena offset of each node's id */
    size_t n_nodes;
    size_t nodes_cap;
    char *last_arena; /* the arena the last round's names point into */
    size_t last_arena_cap;
    uint32_t *xindex; /* scratch: id hash -> node + 1 */
    size_t xindex_cap;
};

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

static uint64_t hash_str(const char *s)
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

static size_t pow2_at_least(size_t n)
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
    size_t i = hash_str(id) & mask;

    while (l->index[i] != 0 && strcmp(l->slots[l->index[i] - 1].id, id) != 0) {
        i = (i + 1) & mask;
    }
    return i;
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
        home = hash_str(l->slots[l->index[j] - 1].id) & mask;
        /* Move j back to i when its home is not in (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            l->index[i] = l->index[j];
            l->index[j] = 0;
            i = j;
        }
    }
}

static uint32_t name_find(const struct predict_live *l, const char *name)
{
    size_t mask = l->name_index_cap - 1;
    size_t i = hash_str(name) & mask;

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
    i = hash_str(name) & mask;
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
    l->index_cap = pow2_at_least(cfg->max_resources * 2);
    l->index = calloc(l->index_cap, sizeof *l->index);
    l->names = calloc(cfg->max_names, sizeof *l->names);
    l->name_index_cap = pow2_at_least(cfg->max_names * 2);
    l->name_index = calloc(l->name_index_cap, sizeof *l->name_index);
    l->graph = calloc(1, sizeof *l->graph);
    if (l->slots == NULL || l->index == NULL || l->names == NULL ||
        l->name_index == NULL || l->graph == NULL) {
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

static void graph_free(struct predict_live_graph *g)
{
    if (g == NULL) {
        return;
    }
    free(g->arena);
    free(g->edges);
    free(g->pe);
    free(g->own);
    free(g->out);
    free(g->node_name);
    free(g->last_arena);
    free(g->xindex);
}

void predict_live_close(struct predict_live *l)
{
    for (size_t i = 0; i < l->n_slots; i++) {
        slot_free(&l->slots[i]);
    }
    for (unsigned k = 0; k < l->n_kinds; k++) {
        free(l->kinds[k].feature_name);
    }
    graph_free(l->graph);
    free(l->graph);
    free(l->slots);
    free(l->index);
    free(l->names);
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
    l->graph->arena_len = 0;
    l->graph->n_edges = 0;
    l->graph->n_pe = 0;
    l->graph->n_nodes = 0;
}

/* ---- reports ---------------------------------------------------------- */

bool predict_live_known(const struct predict_live *l, const char *resource)
{
    return l->index[index_find(l, resource)] != 0;
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

static struct live_metric *metric_get(struct predict_live *l,
                                      struct predict_live_slot *s,
                                      uint32_t name,
                                      bool create)
{
    size_t cap = pow2_at_least(2 * (size_t)l->cfg.max_metrics);
    size_t mask = cap - 1;
    size_t i;

    if (s->mindex == NULL) {
        if (!create) {
            return NULL;
        }
        s->mindex = calloc(cap, sizeof *s->mindex);
        if (s->mindex == NULL) {
            return NULL;
        }
    }
    i = hash_u32(name) & mask;
    while (s->mindex[i] != 0) {
        struct live_metric *m = &s->metrics[s->mindex[i] - 1];
        if (m->name == name) {
            return m;
        }
        i = (i + 1) & mask;
    }
    if (!create || s->n_metrics == l->cfg.max_metrics) {
        return NULL;
    }
    if (s->n_metrics == s->cap_metrics) {
        unsigned nc = s->cap_metrics == 0 ? 8 : s->cap_metrics * 2;
        struct live_metric *q;
        if (nc > l->cfg.max_metrics) {
            nc = l->cfg.max_metrics;
        }
        q = realloc(s->metrics, nc * sizeof *q);
        if (q == NULL) {
            return NULL;
        }
        s->metrics = q;
        s->cap_metrics = nc;
    }
    s->metrics[s->n_metrics].name = name;
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
    struct live_metric *m = n != 0 ? metric_get(l, s, n, true) : NULL;

    if (m == NULL || !isfinite(value)) {
        l->stats.dropped_metrics++;
        return;
    }
    metric_update(&l->cfg, m, value);
    l->stats.samples++;
}

/* ---- models ----------------------------------------------------------- */

static int kind_find(const struct predict_live *l, const char *kind)
{
    for (unsigned k = 0; k < l->n_kinds; k++) {
        if (strcmp(l->kinds[k].kind, kind) == 0) {
            return (int)k;
        }
    }
    return -1;
}

int predict_live_model_set(struct predict_live *l,
                           const char *kind,
                           const struct predict_model *model,
                           const char *ref)
{
    int k = kind_find(l, kind);

    if (k < 0) {
        if (model == NULL) {
            return 0;
        }
        if (l->n_kinds == PREDICT_LIVE_KINDS_MAX) {
            snprintf(l->errmsg, sizeof l->errmsg,
                     "live scoring: more than %d kinds with a model",
                     PREDICT_LIVE_KINDS_MAX);
            return AUGUR_ETOOBIG;
        }
        k = (int)l->n_kinds++;
        memset(&l->kinds[k], 0, sizeof l->kinds[k]);
        snprintf(l->kinds[k].kind, sizeof l->kinds[k].kind, "%s", kind);
    }
    if (l->kinds[k].model == model &&
        strcmp(l->kinds[k].ref, ref != NULL ? ref : "") == 0) {
        return 0;
    }
    free(l->kinds[k].feature_name);
    l->kinds[k].feature_name = NULL;
    l->kinds[k].model = model;
    snprintf(l->kinds[k].ref, sizeof l->kinds[k].ref, "%s",
             ref != NULL ? ref : "");
    if (model != NULL) {
        l->kinds[k].feature_name =
            calloc(model->n_features > 0 ? model->n_features : 1,
                   sizeof *l->kinds[k].feature_name);
        if (l->kinds[k].feature_name == NULL) {
            l->kinds[k].model = NULL;
            snprintf(l->errmsg, sizeof l->errmsg,
                     "live scoring: out of memory");
            return AUGUR_ENOMEM;
        }
    }
    return 0;
}

void predict_live_model_clear(struct predict_live *l, const char *kind)
{
    int k = kind_find(l, kind);

    if (k >= 0) {
        free(l->kinds[k].feature_name);
        l->kinds[k].feature_name = NULL;
        l->kinds[k].model = NULL;
        l->kinds[k].ref[0] = '\0';
    }
}

/* Map the model's features to metric names not mapped yet: a metric named
 * as the feature, or "<format>.<feature>" (as augur-agent replay names the
 * features of a data set). */
static void kind_map(struct predict_live *l, unsigned k)
{
    const struct predict_model *m = l->kinds[k].model;
    const char *fmt = predict_format_name(m->format);

    for (unsigned f = 0; f < m->n_features; f++) {
        char name[PREDICT_LIVE_NAME_SIZE + 32];
        uint32_t n;

        if (l->kinds[k].feature_name[f] != 0) {
            continue;
        }
        n = name_find(l, m->feature_names[f]);
        if (n == 0 && fmt != NULL) {
            snprintf(name, sizeof name, "%s.%s", fmt, m->feature_names[f]);
            n = name_find(l, name);
        }
        l->kinds[k].feature_name[f] = n;
    }
}

/* The window of a model in seconds: its data's time unit (pdm hours,
 * backblaze days; a C-MAPSS cycle is taken as an hour). */
static uint64_t model_window_s(const struct predict_model *m)
{
    double unit = m->format == PREDICT_FORMAT_BACKBLAZE ? 86400.0 : 3600.0;
    double w = m->window * unit;

    return w >= 1.0 && w < 1e12 ? (uint64_t)w : 86400;
}

static void row_fill(struct predict_live *l,
                     unsigned k,
                     struct predict_live_slot *s,
                     float *x)
{
    const struct predict_model *m = l->kinds[k].model;

    for (unsigned f = 0; f < m->n_features; f++) {
        uint32_t n = l->kinds[k].feature_name[f];
        struct live_metric *mt = n != 0 ? metric_get(l, s, n, false) : NULL;
        x[f] = mt != NULL && mt->n > 0 ? (float)mt->last : NAN;
    }
}

static double entropy_conf(double p)
{
    double h = 0.0;

    if (p > 0.0 && p < 1.0) {
        h = -(p * log2(p) + (1.0 - p) * log2(1.0 - p));
    }
    return 1.0 - h;
}

/* How far a metric's EWMA is from its baseline, in units of the
 * baseline's spread (1.4826 MAD, a robust z score).  A metric that was
 * constant throughout its baseline (MAD 0: iowait, error counts) has no
 * spread to measure by: then its own recent spread (the EWMA's standard
 * deviation) is used, so that a burst of it is not an anomaly while a
 * sustained change is (once its variance has decayed, 10 to 20 samples).
 * Clamped to +-PREDICT_Z_CAP. */
static double metric_z(const struct live_metric *m)
{
    double d = m->ewma - m->base_median;
    double spread = 1.4826 * m->base_mad;
    double floor = 1e-9 * fmax(1.0, fabs(m->base_median));
    double z;

    if (!(spread > floor)) {
        spread = sqrt(m->ewvar > 0.0 ? m->ewvar : 0.0);
        if (spread < floor) {
            spread = floor;
        }
    }
    z = d / spread;
    return z > PREDICT_Z_CAP ? PREDICT_Z_CAP
                             : (z < -PREDICT_Z_CAP ? -PREDICT_Z_CAP : z);
}

/* The anomaly score of @s, and its reasons (by |z|) when @out is set. */
static double anomaly_score(struct predict_live *l,
                            struct predict_live_slot *s,
                            struct predict_live_score *out)
{
    double zmax = 0.0;

    if (out != NULL) {
        out->n_reasons = 0;
    }
    for (unsigned i = 0; i < s->n_metrics; i++) {
        const struct live_metric *mt = &s->metrics[i];
        double z = 0.0;

        /* The smoothed level against the resource's own baseline: a
         * sustained shift, not a single noisy sample.  Nothing until the
         * baseline is complete. */
        if (mt->base_len == l->cfg.baseline) {
            z = metric_z(mt);
        }
        if (fabs(z) > zmax) {
            zmax = fabs(z);
        }
        if (out != NULL && z != 0.0) {
            /* Insert by |z|, largest first. */
            unsigned j = out->n_reasons < PREDICT_TOP_MAX ? out->n_reasons++
                                                          : PREDICT_TOP_MAX;
            while (j > 0 && fabs(out->reasons[j - 1].contribution) < fabs(z)) {
                if (j < PREDICT_TOP_MAX) {
                    out->reasons[j] = out->reasons[j - 1];
                }
                j--;
            }
            if (j < PREDICT_TOP_MAX) {
                snprintf(out->reasons[j].feature,
                         sizeof out->reasons[j].feature, "%.63s",
                         l->names[s->metrics[i].name - 1]);
                out->reasons[j].contribution = z;
            }
        }
    }
    return predict_live_anomaly_p(zmax, l->cfg.anomaly_z);
}

/* Reasons of the model for one resource (SHAP, top by |contribution|). */
static int model_reasons(struct predict_live *l,
                         unsigned k,
                         struct predict_live_slot *s,
                         struct predict_live_score *out)
{
    const struct predict_model *m = l->kinds[k].model;
    struct predict_score ps;
    float *x = malloc((m->n_features > 0 ? m->n_features : 1) * sizeof *x);
    int rv;

    out->n_reasons = 0;
    if (x == NULL) {
        return AUGUR_ENOMEM;
    }
    row_fill(l, k, s, x);
    rv = predict_model_score(m, x, 1, PREDICT_TOP_MAX, &ps, l->errmsg);
    free(x);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < ps.n_top && i < PREDICT_TOP_MAX; i++) {
        snprintf(out->reasons[i].feature, sizeof out->reasons[i].feature,
                 "%.63s", m->feature_names[ps.top_feature[i]]);
        out->reasons[i].contribution = ps.top_contribution[i];
    }
    out->n_reasons = ps.n_top;
    return 0;
}

/* ---- the graph -------------------------------------------------------- */

static int arena_add(struct predict_live_graph *g,
                     const char *id,
                     uint32_t *off)
{
    size_t len = strlen(id) + 1;

    if (g->arena_len + len > g->arena_cap) {
        size_t nc = g->arena_cap == 0 ? 4096 : g->arena_cap * 2;
        char *q;
        while (nc < g->arena_len + len) {
            nc *= 2;
        }
        if (nc > UINT32_MAX || (q = realloc(g->arena, nc)) == NULL) {
            return AUGUR_ENOMEM;
        }
        g->arena = q;
        g->arena_cap = nc;
    }
    memcpy(g->arena + g->arena_len, id, len);
    *off = (uint32_t)g->arena_len;
    g->arena_len += len;
    return 0;
}

void predict_live_edges_begin(struct predict_live *l)
{
    l->graph->arena_len = 0;
    l->graph->n_edges = 0;
}

int predict_live_edge(struct predict_live *l,
                      const char *from,
                      const char *to,
                      int kind,
                      double from_committed,
                      double to_committed)
{
    struct predict_live_graph *g = l->graph;
    struct graph_edge *e;

    if (kind < 0 || kind >= PREDICT_EDGE_KINDS) {
        return 0; /* a kind this build does not know passes nothing on */
    }
    if (g->n_edges == g->edges_cap) {
        size_t nc = g->edges_cap == 0 ? 256 : g->edges_cap * 2;
        struct graph_edge *q = realloc(g->edges, nc * sizeof *q);
        if (q == NULL) {
            return AUGUR_ENOMEM;
        }
        g->edges = q;
        g->edges_cap = nc;
    }
    e = &g->edges[g->n_edges];
    if (arena_add(g, from, &e->from) != 0 || arena_add(g, to, &e->to) != 0) {
        return AUGUR_ENOMEM;
    }
    e->kind = kind;
    e->from_c =
        from_committed >= 0.0 && from_committed <= 1.0 ? from_committed : 0.0;
    e->to_c = to_committed >= 0.0 && to_committed <= 1.0 ? to_committed : 0.0;
    g->n_edges++;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    void *q;
    size_t nc = *cap == 0 ? 64 : *cap;

    if (need <= *cap) {
        return 0;
    }
    while (nc < need) {
        nc *= 2;
    }
    q = realloc(*p, nc * size);
    if (q == NULL) {
        return AUGUR_ENOMEM;
    }
    *p = q;
    *cap = nc;
    return 0;
}

/* The graph node of the resource named at arena offset @off: its slot, or
 * an extra node (own p @committed). */
static int graph_node(struct predict_live *l,
                      uint32_t off,
                      double committed,
                      uint32_t *node)
{
    struct predict_live_graph *g = l->graph;
    const char *id = g->arena + off;
    size_t pos = index_find(l, id);
    size_t mask;
    size_t i;

    if (l->index[pos] != 0) {
        *node = l->index[pos] - 1;
        return 0;
    }
    mask = g->xindex_cap - 1;
    i = hash_str(id) & mask;
    while (g->xindex[i] != 0) {
        uint32_t n = g->xindex[i] - 1;
        if (strcmp(g->arena + g->node_name[n], id) == 0) {
            *node = n;
            return 0;
        }
        i = (i + 1) & mask;
    }
    g->node_name[g->n_nodes] = off;
    g->own[g->n_nodes] = committed;
    *node = (uint32_t)g->n_nodes;
    g->xindex[i] = (uint32_t)++g->n_nodes;
    return 0;
}

/* Resolve the edges against the slots and propagate: g->out[node]. */
static int graph_run(struct predict_live *l)
{
    struct predict_live_graph *g = l->graph;
    size_t max_nodes = l->n_slots + 2 * g->n_edges;
    size_t own_cap = g->nodes_cap;
    size_t out_cap = g->nodes_cap;
    size_t name_cap = g->nodes_cap;
    size_t xcap = pow2_at_least(4 * g->n_edges + 16);
    int rv;

    if (grow((void **)&g->own, &own_cap, max_nodes + 1, sizeof *g->own) != 0 ||
        grow((void **)&g->out, &out_cap, max_nodes + 1, sizeof *g->out) != 0 ||
        grow((void **)&g->node_name, &name_cap, max_nodes + 1,
             sizeof *g->node_name) != 0) {
        return AUGUR_ENOMEM;
    }
    g->nodes_cap = own_cap < out_cap ? own_cap : out_cap;
    g->nodes_cap = g->nodes_cap < name_cap ? g->nodes_cap : name_cap;
    free(g->pe);
    g->pe = malloc((g->n_edges > 0 ? g->n_edges : 1) * sizeof *g->pe);
    free(g->xindex);
    g->xindex = calloc(xcap, sizeof *g->xindex);
    g->xindex_cap = xcap;
    if (g->pe == NULL || g->xindex == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        struct predict_live_slot *s = &l->slots[i];
        g->own[i] = s->scored ? s->p_own : s->committed;
        g->node_name[i] = UINT32_MAX; /* a slot: its name is its id */
        s->gidx = (uint32_t)i;
    }
    g->n_nodes = l->n_slots;
    for (size_t e = 0; e < g->n_edges; e++) {
        uint32_t from;
        uint32_t to;
        graph_node(l, g->edges[e].from, g->edges[e].from_c, &from);
        graph_node(l, g->edges[e].to, g->edges[e].to_c, &to);
        g->pe[e].from = from;
        g->pe[e].to = to;
        g->pe[e].kind = (enum predict_edge_kind)g->edges[e].kind;
    }
    g->n_pe = g->n_edges;
    if (g->n_pe == 0) {
        memcpy(g->out, g->own, g->n_nodes * sizeof *g->out);
        rv = 0;
    } else {
        rv = predict_graph_propagate(g->n_nodes, g->own, g->pe, g->n_pe,
                                     l->cfg.weight, g->out, l->errmsg);
    }
    /* Keep the names for views until the next round. */
    if (rv == 0 && g->arena_len > 0) {
        if (g->last_arena_cap < g->arena_len) {
            char *q = realloc(g->last_arena, g->arena_len);
            if (q == NULL) {
                return AUGUR_ENOMEM;
            }
            g->last_arena = q;
            g->last_arena_cap = g->arena_len;
        }
        memcpy(g->last_arena, g->arena, g->arena_len);
    }
    return rv;
}

static const char *graph_name(const struct predict_live *l, uint32_t node)
{
    const struct predict_live_graph *g = l->graph;

    if (g->node_name[node] == UINT32_MAX) {
        return node < l->n_slots ? l->slots[node].id : "?";
    }
    return g->last_arena + g->node_name[node];
}

/* The dependencies of graph node @node that pass it the most risk. */
static void via_fill(const struct predict_live *l,
                     uint32_t node,
                     struct predict_live_score *out)
{
    const struct predict_live_graph *g = l->graph;
    double add[PREDICT_LIVE_VIA_MAX];

    out->n_via = 0;
    if (node >= g->n_nodes) {
        return;
    }
    for (size_t e = 0; e < g->n_pe; e++) {
        double a;
        unsigned j;

        if (g->pe[e].from != node) {
            continue;
        }
        a = l->cfg.weight[g->pe[e].kind] * g->out[g->pe[e].to];
        if (a <= 0.0) {
            continue;
        }
        j = out->n_via < PREDICT_LIVE_VIA_MAX ? out->n_via++
                                              : PREDICT_LIVE_VIA_MAX;
        while (j > 0 && add[j - 1] < a) {
            if (j < PREDICT_LIVE_VIA_MAX) {
                add[j] = add[j - 1];
                memcpy(out->via[j], out->via[j - 1], sizeof out->via[j]);
                out->via_p[j] = out->via_p[j - 1];
            }
            j--;
        }
        if (j < PREDICT_LIVE_VIA_MAX) {
            add[j] = a;
            snprintf(out->via[j], sizeof out->via[j], "%s",
                     graph_name(l, g->pe[e].to));
            out->via_p[j] = g->out[g->pe[e].to];
        }
    }
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

    kind_map(l, k);
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
    if (grow((void **)&l->x, &l->x_cap, need, sizeof *l->x) != 0) {
        return AUGUR_ENOMEM;
    }
    for (size_t r = 0; r < n; r++) {
        row_fill(l, k, &l->slots[l->rows[r]], l->x + r * m->n_features);
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
        s->window_s = model_window_s(m);
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
    int k = kind_find(l, s->kind);
    int rv = 0;

    if (k >= 0 && l->kinds[k].model != NULL) {
        rv = model_reasons(l, (unsigned)k, s, out);
    } else {
        (void)anomaly_score(l, s, out);
    }
    via_fill(l, s->gidx, out);
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
    if (grow((void **)&l->rows, &rows_cap, l->n_slots + 1, sizeof *l->rows) !=
        0) {
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
            s->p_own = anomaly_score(l, s, NULL);
            s->confidence = entropy_conf(s->p_own);
            s->window_s = l->cfg.anomaly_window_s;
            snprintf(s->ref, sizeof s->ref, "anomaly");
            s->scored = true;
            s->scored_at = now_ms;
            l->stats.scored++;
        }
    }
    rv = graph_run(l);
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
        p = l->graph->out[i];
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
        via_fill(l, s->gidx, out);
        return 0;
    }
    return reasons_fill(l, s, out);
}
