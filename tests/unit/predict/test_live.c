/* Unit tests of live scoring (predict/live.c): the hysteresis, a round's
 * commits, noisy-OR through a PSU edge, the anomaly fallback, reasons in
 * order, the bound on tracked resources, and 100,000 resources scored
 * once (its time printed, not asserted). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "predict/live.h"
#include "predict/predict.h"

#define OUT_MAX 64

static struct predict_live_config config(void)
{
    struct predict_live_config c;

    predict_live_config_default(&c);
    c.warm_reports = 3;
    return c;
}

static void live_open(struct predict_live *l,
                      const struct predict_live_config *c)
{
    assert_int_equal(predict_live_init(l, c), 0);
}

/* One report of @id (kind host, nothing committed) with one metric. */
static void report1(struct predict_live *l,
                    const char *id,
                    int64_t t,
                    const char *metric,
                    double v)
{
    struct predict_live_slot *s = predict_live_report(l, id, t);

    assert_non_null(s);
    if (predict_live_slot_new(s)) {
        predict_live_slot_init(l, s, "host", 0.0);
    }
    predict_live_sample(l, s, metric, v);
}

static size_t round_at(struct predict_live *l,
                       int64_t t,
                       struct predict_live_score *out)
{
    size_t n = 99;

    assert_int_equal(predict_live_round(l, t, out, OUT_MAX, &n), 0);
    return n;
}

static const struct predict_live_score *find(const struct predict_live_score *o,
                                             size_t n,
                                             const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(o[i].resource, id) == 0) {
            return &o[i];
        }
    }
    return NULL;
}

/* ---- a commit the caller did not make --------------------------------- */

/* A score set by hand holds (node/scoring.c skips the commit): the slot
 * takes the store's committed p instead of the one the round chose. */
static void committed_set_replaces_what_the_round_took(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score v;
    struct predict_live l;

    (void)state;
    live_open(&l, &c);
    report1(&l, "h1", 1000, "cpu", 1.0);
    assert_int_equal(predict_live_view(&l, "h1", &v), 0);
    assert_true(v.p == 0.0);
    predict_live_committed_set(&l, "h1", 0.95);
    assert_int_equal(predict_live_view(&l, "h1", &v), 0);
    assert_true(v.p == 0.95);
    /* Not tracked: nothing happens. */
    predict_live_committed_set(&l, "h2", 0.5);
    assert_false(predict_live_known(&l, "h2"));
    predict_live_close(&l);
}

/* ---- the hysteresis rule ---------------------------------------------- */

static void decide_holds_inside_the_band_commits_when_crossing(void **state)
{
    struct predict_live_config c = config();
    bool high = false;
    double committed = 0.0;
    /* p, whether it commits */
    static const struct
    {
        double p;
        bool commit;
    } steps[] = {
        {0.03, false},                               /* below the step */
        {0.08, true},                                /* a step */
        {0.10, false}, {0.42, false}, {0.49, false}, /* into the band: hold */
        {0.50, true},                                /* crosses up */
        {0.45, false}, {0.41, false},                /* high, in the band */
        {0.53, false},                               /* within a step */
        {0.70, true},                                /* a step while high */
        {0.39, true},                                /* crosses down */
        {0.41, false}, {0.45, false}, {0.49, false}, /* low, in the band */
        {0.36, false},                               /* within a step */
        {0.20, true},                                /* a step down */
    };

    (void)state;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        bool got = predict_live_decide(&c, &high, committed, steps[i].p);
        if (got != steps[i].commit) {
            fail_msg("step %zu (p %.2f): commit %d, wanted %d", i, steps[i].p,
                     got, steps[i].commit);
        }
        if (got) {
            committed = steps[i].p;
        }
    }
    assert_false(high);
}

static void decide_oscillation_in_the_band_never_commits(void **state)
{
    struct predict_live_config c = config();
    bool high = false;
    unsigned commits = 0;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        double p = 0.40 + 0.0999 * (double)(i % 7) / 6.0;
        commits += predict_live_decide(&c, &high, 0.4, p);
    }
    assert_int_equal(commits, 0);
}

/* ---- a model ---------------------------------------------------------- */

#define ROWS 400
#define NF 3

static char *dup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* label = signal > 0.5; noise; a feature never reported. */
static void model_train(struct predict_model *m)
{
    struct predict_dataset ds;
    struct predict_train_params p;
    char errmsg[PREDICT_ERRMSG_SIZE];
    uint64_t s = 7;

    predict_dataset_init(&ds);
    ds.format = PREDICT_FORMAT_PDM;
    ds.window = 24;
    ds.n_features = NF;
    ds.feature_names = calloc(NF, sizeof(char *));
    ds.feature_names[0] = dup("signal");
    ds.feature_names[1] = dup("noise");
    ds.feature_names[2] = dup("absent");
    ds.n_rows = ds.cap = ROWS;
    ds.x = malloc(ROWS * NF * sizeof(float));
    ds.label = malloc(ROWS * sizeof(float));
    ds.rul = malloc(ROWS * sizeof(float));
    ds.time = calloc(ROWS, sizeof(double));
    ds.group = malloc(ROWS * sizeof(uint32_t));
    ds.family = calloc(ROWS, sizeof(uint32_t));
    ds.n_groups = ROWS;
    ds.group_names = calloc(ROWS, sizeof(char *));
    for (int r = 0; r < ROWS; r++) {
        char name[16];
        float x0 = (float)(r % 100) / 100.0f;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ds.x[r * NF + 0] = x0;
        ds.x[r * NF + 1] = (float)(s >> 40) / (float)(1 << 24);
        ds.x[r * NF + 2] = NAN;
        ds.label[r] = x0 > 0.5f ? 1.0f : 0.0f;
        /* Hours to failure, for the time-to-failure part: about 41 at
         * signal 0.9, 361 at 0.1. */
        ds.rul[r] = 1.0f + 400.0f * (1.0f - x0);
        ds.group[r] = (uint32_t)r;
        snprintf(name, sizeof name, "u%d", r);
        ds.group_names[r] = dup(name);
    }
    predict_model_init(m);
    predict_train_params_default(&p, PREDICT_FORMAT_PDM);
    p.rounds = 20;
    p.nthread = 1;
    p.eta = 0.3;
    p.regress_rul = false;
    assert_int_equal(predict_model_train(m, &ds, NULL, 0, &p, errmsg), 0);
    predict_dataset_close(&ds);
}

static void model_report(struct predict_live *l,
                         const char *id,
                         int64_t t,
                         double signal)
{
    struct predict_live_slot *s = predict_live_report(l, id, t);

    assert_non_null(s);
    if (predict_live_slot_new(s)) {
        predict_live_slot_init(l, s, "host", 0.0);
    }
    /* As augur-agent replay names a data set's features. */
    predict_live_sample(l, s, "pdm.signal", signal);
    predict_live_sample(l, s, "pdm.noise", 0.5);
}

static void round_commits_once_when_crossing_with_the_model(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX];
    struct predict_live l;
    struct predict_model m;
    int64_t t = 1000;
    size_t n;

    (void)state;
    model_train(&m);
    live_open(&l, &c);
    assert_int_equal(predict_live_model_set(&l, "host", &m, "pdm@3"), 0);
    /* Warming up: no commit before warm_reports reports. */
    model_report(&l, "m1", t, 0.9);
    model_report(&l, "m2", t, 0.1);
    assert_int_equal(round_at(&l, t, out), 0);
    for (int i = 0; i < 3; i++) {
        t += 1000;
        model_report(&l, "m1", t, 0.9);
        model_report(&l, "m2", t, 0.1);
    }
    /* m1 crosses up once, with its reasons; m2 stays low and quiet. */
    n = round_at(&l, t, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].resource, "m1");
    assert_true(out[0].p >= 0.5);
    assert_string_equal(out[0].model, "pdm@3");
    assert_int_equal(out[0].window_s, 24 * 3600);
    assert_true(out[0].n_reasons >= 1);
    assert_string_equal(out[0].reasons[0].feature, "signal");
    for (unsigned i = 1; i < out[0].n_reasons; i++) {
        assert_true(fabs(out[0].reasons[i - 1].contribution) >=
                    fabs(out[0].reasons[i].contribution));
    }
    /* Steady: nothing more, however many rounds. */
    for (int i = 0; i < 5; i++) {
        t += 1000;
        model_report(&l, "m1", t, 0.9);
        model_report(&l, "m2", t, 0.1);
        assert_int_equal(round_at(&l, t, out), 0);
    }
    /* m1 recovers: one commit down. */
    t += 1000;
    model_report(&l, "m1", t, 0.1);
    model_report(&l, "m2", t, 0.1);
    n = round_at(&l, t, out);
    assert_int_equal(n, 1);
    assert_true(out[0].p < 0.4);
    assert_int_equal(l.stats.commits, 2);
    predict_live_close(&l);
    predict_model_close(&m);
}

static void view_window_grows_with_the_window(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX], v1, v24, v168, other;
    struct predict_live l;
    struct predict_model m;
    int64_t t = 1000;

    (void)state;
    model_train(&m);
    assert_true(predict_model_has_survival(&m));
    live_open(&l, &c);
    assert_int_equal(predict_live_model_set(&l, "host", &m, "pdm@3"), 0);
    for (int i = 0; i < 4; i++, t += 1000) {
        model_report(&l, "m1", t, 0.9);
        model_report(&l, "m2", t, 0.1);
    }
    /* A resource of a kind with no model: an anomaly score. */
    {
        struct predict_live_slot *s = predict_live_report(&l, "psu1", t);
        assert_non_null(s);
        if (predict_live_slot_new(s)) {
            predict_live_slot_init(&l, s, "psu", 0.0);
        }
        predict_live_sample(&l, s, "volts", 12.0);
    }
    (void)round_at(&l, t, out);
    assert_int_equal(predict_live_view_window(&l, "m1", 3600, &v1), 0);
    assert_int_equal(predict_live_view_window(&l, "m1", 86400, &v24), 0);
    assert_int_equal(predict_live_view_window(&l, "m1", 7 * 86400, &v168), 0);
    assert_int_equal(v1.window_s, 3600);
    assert_int_equal(v168.window_s, 7 * 86400);
    assert_string_equal(v24.model, "pdm@3");
    assert_true(v1.p_own <= v24.p_own && v24.p_own <= v168.p_own);
    assert_true(v1.p <= v24.p && v24.p <= v168.p);
    assert_true(v168.p_own > v1.p_own);
    /* Shorter remaining life, likelier within a week. */
    assert_int_equal(predict_live_view_window(&l, "m2", 7 * 86400, &other), 0);
    assert_true(v168.p_own > other.p_own);
    /* Refusals: a resource nobody tracks, one not scored by a model, a
     * window of 0. */
    assert_int_equal(predict_live_view_window(&l, "nobody", 3600, &other),
                     AUGUR_ENOTFOUND);
    assert_int_equal(predict_live_view_window(&l, "psu1", 3600, &other),
                     AUGUR_EINVAL);
    assert_int_equal(predict_live_view_window(&l, "m1", 0, &other),
                     AUGUR_EINVAL);
    predict_live_close(&l);
    predict_model_close(&m);
}

/* ---- correlated risk -------------------------------------------------- */

static void noisy_or_through_a_psu_edge_endangers_its_servers(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX];
    const struct predict_live_score *h;
    struct predict_live_score v;
    struct predict_live l;
    int64_t t = 1000;
    size_t n;

    (void)state;
    live_open(&l, &c);
    for (int i = 0; i < 5; i++, t += 1000) {
        report1(&l, "h1", t, "cpu.util", 10.0);
        report1(&l, "h2", t, "cpu.util", 10.0);
        report1(&l, "h3", t, "cpu.util", 10.0);
    }
    t -= 1000;
    /* h1 and h2 on psu-1, which does not report but has a committed 0.8;
     * h3 on psu-2 at 0. */
    predict_live_edges_begin(&l);
    assert_int_equal(
        predict_live_edge(&l, "h1", "psu-1", PREDICT_EDGE_POWER, 0.0, 0.8), 0);
    assert_int_equal(
        predict_live_edge(&l, "h2", "psu-1", PREDICT_EDGE_POWER, 0.0, 0.8), 0);
    assert_int_equal(
        predict_live_edge(&l, "h3", "psu-2", PREDICT_EDGE_POWER, 0.0, 0.0), 0);
    n = round_at(&l, t, out);
    assert_int_equal(n, 2);
    h = find(out, n, "h1");
    assert_non_null(h);
    assert_true(h->p_own < 0.01);
    /* 1 - (1 - 0) * (1 - 0.9 * 0.8) */
    assert_true(fabs(h->p - 0.72) < 1e-9);
    assert_int_equal(h->n_via, 1);
    assert_string_equal(h->via[0], "psu-1");
    assert_true(h->n_reasons >= 1);
    assert_string_equal(h->reasons[h->n_reasons - 1].feature, "via:psu-1");
    assert_non_null(find(out, n, "h2"));
    assert_null(find(out, n, "h3"));
    /* The view says the same. */
    assert_int_equal(predict_live_view(&l, "h2", &v), 0);
    assert_true(fabs(v.p - 0.72) < 1e-9);
    assert_string_equal(v.via[0], "psu-1");
    assert_int_equal(predict_live_view(&l, "psu-1", &v), AUGUR_ENOTFOUND);
    predict_live_close(&l);
}

/* ---- the anomaly fallback and its reasons ----------------------------- */

static void anomaly_fallback_without_a_model_ranks_its_reasons(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX];
    struct predict_live l;
    struct predict_live_slot *s;
    int64_t t = 1000;
    size_t n;

    (void)state;
    live_open(&l, &c);
    /* A baseline with a little noise, then three metrics jump by
     * different amounts. */
    for (int i = 0; i < 25; i++, t += 1000) {
        s = predict_live_report(&l, "h1", t);
        if (predict_live_slot_new(s)) {
            predict_live_slot_init(&l, s, "host", 0.0);
        }
        predict_live_sample(&l, s, "temp", 40.0 + (i % 3));
        predict_live_sample(&l, s, "fan", 3000.0 + 10.0 * (i % 3));
        predict_live_sample(&l, s, "volt", 12.0 + 0.1 * (i % 3));
    }
    assert_int_equal(round_at(&l, t, out), 0); /* flat: nothing */
    /* The EWMA (alpha 0.2) takes two thirds of a jump in 5 reports. */
    for (int i = 0; i < 5; i++, t += 1000) {
        s = predict_live_report(&l, "h1", t);
        predict_live_sample(&l, s, "temp", 60.0);  /* z ~ +9 */
        predict_live_sample(&l, s, "fan", 2000.0); /* z capped at -100 */
        predict_live_sample(&l, s, "volt", 12.25); /* z ~ +1 */
    }
    n = round_at(&l, t, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].model, "anomaly");
    assert_true(out[0].p > 0.5);
    assert_true(out[0].n_reasons >= 2);
    assert_string_equal(out[0].reasons[0].feature, "fan");
    assert_true(out[0].reasons[0].contribution < 0);
    assert_string_equal(out[0].reasons[1].feature, "temp");
    for (unsigned i = 1; i < out[0].n_reasons; i++) {
        assert_true(fabs(out[0].reasons[i - 1].contribution) >=
                    fabs(out[0].reasons[i].contribution));
    }
    predict_live_close(&l);
}

/* A metric constant through its baseline (MAD 0) that bursts once is not
 * an anomaly; the same metric changing for good is, once it has held. */
static void a_burst_of_a_constant_metric_is_no_anomaly_a_new_level_is(
    void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX];
    struct predict_live l;
    int64_t t = 1000;
    size_t commits = 0;

    (void)state;
    live_open(&l, &c);
    for (int i = 0; i < 25; i++, t += 1000) {
        report1(&l, "h1", t, "disk.errors", 0.0);
        (void)round_at(&l, t, out);
    }
    report1(&l, "h1", t, "disk.errors", 1000.0);
    for (int i = 0; i < 60; i++, t += 1000) {
        commits += round_at(&l, t, out);
        report1(&l, "h1", t, "disk.errors", 0.0);
    }
    assert_int_equal(commits, 0);
    /* The burst's variance decays first (0.9 a sample): a minute or two. */
    for (int i = 0; i < 180 && commits == 0; i++, t += 1000) {
        report1(&l, "h1", t, "disk.errors", 5.0);
        commits += round_at(&l, t, out);
    }
    assert_int_equal(commits, 1);
    assert_string_equal(out[0].reasons[0].feature, "disk.errors");
    assert_true(out[0].p > 0.05);
    predict_live_close(&l);
}

static void a_resource_not_warm_is_not_committed_and_shows_committed(
    void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX];
    struct predict_live_score v;
    struct predict_live_slot *s;
    struct predict_live l;

    (void)state;
    c.warm_reports = 10;
    live_open(&l, &c);
    s = predict_live_report(&l, "h1", 1000);
    predict_live_slot_init(&l, s, "host", 0.3);
    predict_live_sample(&l, s, "temp", 40.0);
    assert_int_equal(round_at(&l, 1000, out), 0);
    assert_int_equal(predict_live_view(&l, "h1", &v), 0);
    assert_string_equal(v.model, "committed");
    assert_true(v.p == 0.3);
    assert_false(v.warm);
    predict_live_close(&l);
}

/* ---- what a model reads ----------------------------------------------- */

/* A host that reports none of its model's features (its agent's own
 * metrics only) is scored by the anomaly score, not by the model on an
 * empty row; one that reports them is scored by the model. */
static void a_resource_without_the_models_features_gets_the_anomaly_score(
    void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX], v;
    struct predict_live l;
    struct predict_model m;
    int64_t t = 1000;

    (void)state;
    model_train(&m);
    live_open(&l, &c);
    assert_int_equal(predict_live_model_set(&l, "host", &m, "pdm@3"), 0);
    for (int i = 0; i < 4; i++, t += 1000) {
        model_report(&l, "m1", t, 0.9);
        report1(&l, "real", t, "cpu.util", 0.2);
    }
    (void)round_at(&l, t, out);
    assert_int_equal(predict_live_view(&l, "m1", &v), 0);
    assert_string_equal(v.model, "pdm@3");
    assert_int_equal(predict_live_view(&l, "real", &v), 0);
    assert_string_equal(v.model, "anomaly");
    assert_true(v.warm);
    for (unsigned i = 0; i < v.n_reasons; i++) {
        assert_string_equal(v.reasons[i].feature, "cpu.util");
    }
    assert_int_equal(l.stats.uncovered, 1);
    /* A window needs the model: refused with a reason, not made up. */
    assert_int_equal(predict_live_view_window(&l, "real", 3600, &v),
                     AUGUR_EINVAL);
    predict_live_close(&l);
    predict_model_close(&m);
}

/* An agent that reports more metrics than the cap does not crowd out the
 * model's features: once the model names them they are kept (up to twice
 * the cap), while other metrics past the cap are still dropped. */
static void a_models_features_are_kept_past_the_metrics_cap(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX], v;
    struct predict_live l;
    struct predict_model m;
    int64_t t = 1000;

    (void)state;
    model_train(&m);
    c.max_metrics = 2;
    live_open(&l, &c);
    assert_int_equal(predict_live_model_set(&l, "host", &m, "pdm@3"), 0);
    report1(&l, "m1", t, "cpu.util", 0.2);
    report1(&l, "m1", t, "mem.used", 0.5);
    model_report(&l, "m1", t, 0.9);
    assert_int_equal(l.stats.dropped_metrics, 2);
    /* The round maps the model's features to the names seen. */
    (void)round_at(&l, t, out);
    for (int i = 0; i < 4; i++) {
        t += 1000;
        model_report(&l, "m1", t, 0.9);
        report1(&l, "m1", t, "disk.util", 0.1);
    }
    assert_int_equal(l.stats.dropped_metrics, 2 + 4);
    (void)round_at(&l, t, out);
    assert_int_equal(predict_live_view(&l, "m1", &v), 0);
    assert_string_equal(v.model, "pdm@3");
    assert_true(v.p >= 0.5);
    predict_live_close(&l);
    predict_model_close(&m);
}

/* ---- bounds ----------------------------------------------------------- */

static void tracked_resources_are_bounded(void **state)
{
    struct predict_live_config c = config();
    struct predict_live_score out[OUT_MAX];
    struct predict_live l;
    char id[16];

    (void)state;
    c.max_resources = 4;
    c.max_metrics = 2;
    live_open(&l, &c);
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "h%d", i);
        report1(&l, id, 1000 + i, "a", 1.0);
    }
    /* Full of resources that reported recently: a fifth is dropped. */
    assert_null(predict_live_report(&l, "h9", 2000));
    assert_int_equal(l.stats.dropped_resources, 1);
    /* Metrics past the cap are dropped too. */
    report1(&l, "h0", 2000, "b", 1.0);
    report1(&l, "h0", 2000, "c", 1.0);
    assert_int_equal(l.stats.dropped_metrics, 1);
    /* Once the oldest was silent for evict_ms, it makes room. */
    assert_non_null(predict_live_report(&l, "h9", 1001 + c.evict_ms));
    assert_false(predict_live_known(&l, "h1"));
    assert_true(predict_live_known(&l, "h0"));
    assert_true(predict_live_known(&l, "h9"));
    assert_int_equal(l.n_slots, 4);
    /* A round forgets every resource silent for evict_ms. */
    (void)round_at(&l, 2001 + 2 * c.evict_ms, out);
    assert_int_equal(l.n_slots, 0);
    assert_false(predict_live_known(&l, "h9"));
    predict_live_close(&l);
}

/* ---- 100,000 resources ------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every resource reports 4 metrics with noise each second; 1 in 1000
 * shifts away from its baseline after it.  Not timed: prints the time of a
 * round. */
static void a_round_scores_100000_resources(void **state)
{
    enum
    {
        N = 100000
    };
    struct predict_live_config c = config();
    struct predict_live_score *out = malloc(N * sizeof *out);
    struct predict_live l;
    int64_t t = 1000;
    uint64_t r = 1;
    size_t n = 0;
    double t0;
    char id[32];

    (void)state;
    assert_non_null(out);
    c.max_resources = N;
    c.max_metrics = 4;
    c.warm_reports = 20; /* the default: the baseline's length */
    live_open(&l, &c);
    for (int round = 0; round < 26; round++, t += 1000) {
        for (int i = 0; i < N; i++) {
            struct predict_live_slot *s;
            snprintf(id, sizeof id, "host-%d", i);
            s = predict_live_report(&l, id, t);
            if (predict_live_slot_new(s)) {
                predict_live_slot_init(&l, s, "host", 0.0);
            }
            for (int m = 0; m < 4; m++) {
                static const char *const names[] = {"cpu", "mem", "disk",
                                                    "temp"};
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                double noise = (double)(r >> 40) / (double)(1 << 24);
                double drift = i % 1000 == 0 && round >= 20 ? 10.0 : 0.0;
                predict_live_sample(&l, s, names[m], 50.0 + noise + drift);
            }
        }
    }
    t0 = now_s();
    assert_int_equal(predict_live_round(&l, t, out, N, &n), 0);
    print_message(
        "live: scored %zu resources in %.3f s (anomaly score, 4 "
        "metrics each, sanitizer build); %zu commits\n",
        l.n_slots, now_s() - t0, n);
    assert_int_equal(l.stats.scored, N);
    /* Only the drifting ones commit. */
    assert_true(n <= N / 1000 + 10);
    predict_live_close(&l);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decide_holds_inside_the_band_commits_when_crossing),
        cmocka_unit_test(view_window_grows_with_the_window),
        cmocka_unit_test(committed_set_replaces_what_the_round_took),
        cmocka_unit_test(decide_oscillation_in_the_band_never_commits),
        cmocka_unit_test(round_commits_once_when_crossing_with_the_model),
        cmocka_unit_test(noisy_or_through_a_psu_edge_endangers_its_servers),
        cmocka_unit_test(anomaly_fallback_without_a_model_ranks_its_reasons),
        cmocka_unit_test(
            a_burst_of_a_constant_metric_is_no_anomaly_a_new_level_is),
        cmocka_unit_test(
            a_resource_not_warm_is_not_committed_and_shows_committed),
        cmocka_unit_test(
            a_resource_without_the_models_features_gets_the_anomaly_score),
        cmocka_unit_test(a_models_features_are_kept_past_the_metrics_cap),
        cmocka_unit_test(tracked_resources_are_bounded),
        cmocka_unit_test(a_round_scores_100000_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
