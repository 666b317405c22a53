/* The Azure predictive-maintenance adapter: a directory of PdM_machines,
 * PdM_telemetry, PdM_errors, PdM_maint and PdM_failures CSV files.  One
 * row per machine and telemetry hour; features: each sensor's stream, time
 * since and decayed rate of each error kind, time since each component's
 * last replacement (scheduled, or after its failure), the machine's age
 * and model.  Label: a component fails
 * within (t, t + window]; unknown (NaN) when the machine's record ends
 * before t + window with no failure after t. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

#define PDM_SENSORS 4
#define PDM_ERRORS 5
#define PDM_COMPS 4
#define PDM_PATH_MAX 4096

static const char *const sensor_names[PDM_SENSORS] = {"volt", "rotate",
                                                      "pressure", "vibration"};

enum
{
    F_SENSOR = 0,
    F_ERR_SINCE = F_SENSOR + PDM_SENSORS * PREDICT_SF_COUNT,
    F_ERR_RATE = F_ERR_SINCE + PDM_ERRORS,
    F_MAINT_SINCE = F_ERR_RATE + PDM_ERRORS,
    F_AGE = F_MAINT_SINCE + PDM_COMPS,
    F_MODEL,
    N_FEATURES
};

static const struct predict_stream_config stream_cfg = {
    .ewma_alpha = 0.5, /* about 3 hours */
    .holt_alpha = 0.3,
    .holt_beta = 0.1,
    .window = 24,
    .baseline = 24,
};

#define ERROR_TAU_HOURS 24.0

static int features_name(struct predict_dataset *ds)
{
    char names[N_FEATURES][40];
    const char *ptrs[N_FEATURES];

    for (unsigned s = 0; s < PDM_SENSORS; s++) {
        for (unsigned f = 0; f < PREDICT_SF_COUNT; f++) {
            snprintf(names[F_SENSOR + s * PREDICT_SF_COUNT + f], 40, "%s_%s",
                     sensor_names[s], predict_stream_feature_name(f));
        }
    }
    for (unsigned e = 0; e < PDM_ERRORS; e++) {
        snprintf(names[F_ERR_SINCE + e], 40, "error%u_since_h", e + 1);
        snprintf(names[F_ERR_RATE + e], 40, "error%u_rate_24h", e + 1);
    }
    for (unsigned c = 0; c < PDM_COMPS; c++) {
        snprintf(names[F_MAINT_SINCE + c], 40, "comp%u_since_replaced_h",
                 c + 1);
    }
    snprintf(names[F_AGE], 40, "age_years");
    snprintf(names[F_MODEL], 40, "model");
    for (unsigned i = 0; i < N_FEATURES; i++) {
        ptrs[i] = names[i];
    }
    return predict__dataset_features(ds, ptrs, N_FEATURES);
}

struct pdm_event
{
    uint32_t machine;
    unsigned kind;
    double t;
};

struct pdm_events
{
    struct pdm_event *v;
    size_t n;
    size_t cap;
};

static int event_cmp(const void *a, const void *b)
{
    const struct pdm_event *x = a;
    const struct pdm_event *y = b;

    if (x->machine != y->machine) {
        return x->machine < y->machine ? -1 : 1;
    }
    return x->t < y->t ? -1 : x->t > y->t ? 1 : 0;
}

/* What the reader knows of the machines. */
struct pdm
{
    struct predict_dataset *ds;
    struct predict__names machines;
    struct predict__names models;
    double *age;
    float *model_no;
    char dir[PDM_PATH_MAX];
};

static int open_file(struct pdm *p,
                     const char *name,
                     struct predict__lines *r,
                     char *path,
                     char *errmsg)
{
    int rv;

    snprintf(path, PDM_PATH_MAX + 64, "%s/%s", p->dir, name);
    rv = predict__lines_open(r, path, errmsg);
    if (rv != 0) {
        return rv;
    }
    rv = predict__lines_next(r, errmsg); /* the header */
    if (rv <= 0) {
        if (rv == 0) {
            predict__malformed(errmsg, r, "empty file: no header");
        }
        predict__lines_close(r);
        return AUGUR_EMALFORMED;
    }
    return 0;
}

/* An existing machine named by @s. */
static int machine_find(struct pdm *p,
                        struct predict__lines *r,
                        const char *s,
                        uint32_t *m,
                        char *errmsg)
{
    if (predict__names_find(&p->machines, s, m) != 0) {
        return predict__malformed(errmsg, r, "unknown machineID '%s'", s);
    }
    return 0;
}

static int machines_read(struct pdm *p, char *errmsg)
{
    struct predict__lines r;
    char path[PDM_PATH_MAX + 64];
    char *f[4];
    int rv = open_file(p, "PdM_machines.csv", &r, path, errmsg);
    int got;

    if (rv != 0) {
        return rv;
    }
    while ((got = predict__lines_next(&r, errmsg)) > 0) {
        uint32_t m, fam;
        bool added;
        double age;
        void *q;
        unsigned no;
        int end = 0;

        if (r.len == 0) {
            continue;
        }
        if (predict__split(r.line, ',', f, 3) != 3 || f[0][0] == '\0' ||
            predict__number(f[2], false, &age) != 0 || age < 0) {
            rv = predict__malformed(errmsg, &r, "expected machineID,model,age");
            break;
        }
        rv = predict__names_intern(&p->machines, f[0], &m, &added);
        if (rv == 0 && !added) {
            rv =
                predict__malformed(errmsg, &r, "machine %s listed twice", f[0]);
        }
        if (rv == 0) {
            rv = predict__names_intern(&p->models, f[1], &fam, &added);
        }
        if (rv != 0) {
            break;
        }
        q = realloc(p->age, (m + 1) * sizeof *p->age);
        if (q == NULL) {
            rv = AUGUR_ENOMEM;
            break;
        }
        p->age = q;
        q = realloc(p->model_no, (m + 1) * 2 * sizeof *p->model_no);
        if (q == NULL) {
            rv = AUGUR_ENOMEM;
            break;
        }
        p->model_no = q;
        p->age[m] = age;
        /* "model3" is 3; another naming is its index among models. */
        p->model_no[2 * m] =
            sscanf(f[1], "model%u%n", &no, &end) == 1 && f[1][end] == '\0'
                ? (float)no
                : (float)fam;
        p->model_no[2 * m + 1] = (float)fam;
    }
    if (got < 0) {
        rv = AUGUR_EMALFORMED;
    }
    predict__lines_close(&r);
    return rv;
}

/* Read an event file: datetime,machineID,<prefix>N with N in 1..@kinds. */
static int events_read(struct pdm *p,
                       const char *name,
                       const char *prefix,
                       unsigned kinds,
                       struct pdm_events *ev,
                       char *errmsg)
{
    struct predict__lines r;
    char path[PDM_PATH_MAX + 64];
    char *f[4];
    size_t plen = strlen(prefix);
    int rv = open_file(p, name, &r, path, errmsg);
    int got;

    if (rv != 0) {
        return rv;
    }
    while ((got = predict__lines_next(&r, errmsg)) > 0) {
        struct pdm_event e;
        unsigned k;
        int end = 0;

        if (r.len == 0) {
            continue;
        }
        if (predict__split(r.line, ',', f, 3) != 3) {
            rv = predict__malformed(errmsg, &r,
                                    "expected datetime,machineID,%s", prefix);
            break;
        }
        if (predict__datetime_hours(f[0], &e.t) != 0) {
            rv = predict__malformed(errmsg, &r, "bad datetime '%s'", f[0]);
            break;
        }
        if (strncmp(f[2], prefix, plen) != 0 ||
            sscanf(f[2] + plen, "%u%n", &k, &end) != 1 ||
            f[2][plen + (size_t)end] != '\0' || k < 1 || k > kinds) {
            rv = predict__malformed(errmsg, &r, "expected %s1..%s%u, got '%s'",
                                    prefix, prefix, kinds, f[2]);
            break;
        }
        e.kind = k - 1;
        rv = machine_find(p, &r, f[1], &e.machine, errmsg);
        if (rv != 0) {
            break;
        }
        if (ev->n == ev->cap) {
            size_t cap = ev->cap == 0 ? 256 : ev->cap * 2;
            void *q = realloc(ev->v, cap * sizeof *ev->v);
            if (q == NULL) {
                rv = AUGUR_ENOMEM;
                break;
            }
            ev->v = q;
            ev->cap = cap;
        }
        ev->v[ev->n++] = e;
    }
    if (got < 0) {
        rv = AUGUR_EMALFORMED;
    }
    predict__lines_close(&r);
    if (rv == 0 && ev->n > 0) {
        qsort(ev->v, ev->n, sizeof *ev->v, event_cmp);
    }
    return rv;
}

/* The first event of @ev for machine @m, from the sorted order. */
static size_t events_first(const struct pdm_events *ev, uint32_t m)
{
    size_t lo = 0, hi = ev->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ev->v[mid].machine < m) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* One machine's running state while its telemetry is read. */
struct pdm_machine
{
    uint32_t m;
    double t;
    size_t next_err, next_maint, next_fail;
    size_t next_replaced; /* the next failure noted as a replacement */
    struct predict_stream s[PDM_SENSORS];
    struct predict_events errors;
    struct predict_events maint;
};

static void machine_start(struct pdm_machine *st,
                          uint32_t m,
                          const struct pdm_events *err,
                          const struct pdm_events *maint,
                          const struct pdm_events *fail)
{
    st->m = m;
    st->t = -INFINITY;
    st->next_err = events_first(err, m);
    st->next_maint = events_first(maint, m);
    st->next_fail = events_first(fail, m);
    st->next_replaced = st->next_fail;
    for (unsigned s = 0; s < PDM_SENSORS; s++) {
        predict_stream_init(&st->s[s], &stream_cfg);
    }
    predict_events_init(&st->errors, PDM_ERRORS, ERROR_TAU_HOURS);
    predict_events_init(&st->maint, PDM_COMPS, ERROR_TAU_HOURS);
}

static void events_catch_up(struct predict_events *e,
                            const struct pdm_events *ev,
                            size_t *next,
                            uint32_t m,
                            double t)
{
    while (*next < ev->n && ev->v[*next].machine == m && ev->v[*next].t <= t) {
        predict_events_note(e, ev->v[*next].kind, ev->v[*next].t);
        (*next)++;
    }
}

static int telemetry_read(struct pdm *p,
                          const struct pdm_events *err,
                          const struct pdm_events *maint,
                          const struct pdm_events *fail,
                          char *errmsg)
{
    struct predict_dataset *ds = p->ds;
    struct predict__lines r;
    struct pdm_machine *st = calloc(1, sizeof *st);
    bool *done = calloc(ds->n_groups + 1, sizeof *done);
    char path[PDM_PATH_MAX + 64];
    char *f[8];
    bool open = false;
    int rv, got = 0;

    if (st == NULL || done == NULL) {
        free(st);
        free(done);
        return AUGUR_ENOMEM;
    }
    rv = open_file(p, "PdM_telemetry.csv", &r, path, errmsg);
    if (rv != 0) {
        free(st);
        free(done);
        return rv;
    }
    while ((got = predict__lines_next(&r, errmsg)) > 0) {
        double t, v[PDM_SENSORS];
        uint32_t m;
        float *x;

        if (r.len == 0) {
            continue;
        }
        if (predict__split(r.line, ',', f, 6) != 6) {
            rv = predict__malformed(errmsg, &r,
                                    "expected datetime,machineID,volt,"
                                    "rotate,pressure,vibration");
            break;
        }
        if (predict__datetime_hours(f[0], &t) != 0) {
            rv = predict__malformed(errmsg, &r, "bad datetime '%s'", f[0]);
            break;
        }
        for (unsigned s = 0; s < PDM_SENSORS && rv == 0; s++) {
            if (predict__number(f[2 + s], true, &v[s]) != 0) {
                rv = predict__malformed(errmsg, &r, "%s is not a number: '%s'",
                                        sensor_names[s], f[2 + s]);
            }
        }
        if (rv == 0) {
            rv = machine_find(p, &r, f[1], &m, errmsg);
        }
        if (rv != 0) {
            break;
        }
        if (!open || m != st->m) {
            if (done[m]) {
                rv = predict__malformed(errmsg, &r,
                                        "machine %s appears again: rows of a "
                                        "machine must be contiguous",
                                        f[1]);
                break;
            }
            if (open) {
                done[st->m] = true;
            }
            machine_start(st, m, err, maint, fail);
            open = true;
        } else if (!(t > st->t)) {
            rv = predict__malformed(
                errmsg, &r, "machine %s: rows must be in time order", f[1]);
            break;
        }
        st->t = t;
        rv = predict__dataset_row(ds, m, (uint32_t)p->model_no[2 * m + 1], t,
                                  &x);
        if (rv != 0) {
            break;
        }
        for (unsigned s = 0; s < PDM_SENSORS; s++) {
            predict_stream_update(&st->s[s], v[s]);
            predict_stream_features(&st->s[s],
                                    x + F_SENSOR + s * PREDICT_SF_COUNT);
        }
        events_catch_up(&st->errors, err, &st->next_err, m, t);
        /* A failed component is replaced too; PdM_maint.csv lists most
         * such replacements but not all (39 of the 42 failures here). */
        events_catch_up(&st->maint, maint, &st->next_maint, m, t);
        events_catch_up(&st->maint, fail, &st->next_replaced, m, t);
        for (unsigned e = 0; e < PDM_ERRORS; e++) {
            x[F_ERR_SINCE + e] = (float)predict_events_since(&st->errors, e, t);
            x[F_ERR_RATE + e] = (float)predict_events_rate(&st->errors, e, t);
        }
        for (unsigned c = 0; c < PDM_COMPS; c++) {
            x[F_MAINT_SINCE + c] =
                (float)predict_events_since(&st->maint, c, t);
        }
        x[F_AGE] = (float)p->age[m];
        x[F_MODEL] = p->model_no[2 * m];
        while (st->next_fail < fail->n && fail->v[st->next_fail].machine == m &&
               fail->v[st->next_fail].t <= t) {
            st->next_fail++;
        }
        if (st->next_fail < fail->n && fail->v[st->next_fail].machine == m) {
            double to_fail = fail->v[st->next_fail].t - t;
            ds->rul[ds->n_rows - 1] = (float)to_fail;
            ds->label[ds->n_rows - 1] = to_fail <= ds->window ? 1.0f : 0.0f;
        }
    }
    if (got < 0) {
        rv = AUGUR_EMALFORMED;
    }
    predict__lines_close(&r);
    free(st);
    free(done);
    return rv;
}

/* An hour with no failure after it whose window reaches past the end of
 * its machine's record may fail just after the record ends (machine 17's
 * last day here has three errors and a sensor off its level): its label
 * is unknown, not 0.  The rows of a machine are contiguous and in time
 * order. */
static void labels_censor(struct predict_dataset *ds)
{
    size_t end = ds->n_rows;

    while (end > 0) {
        size_t begin = end - 1;
        double last;
        while (begin > 0 && ds->group[begin - 1] == ds->group[end - 1]) {
            begin--;
        }
        last = ds->time[end - 1];
        for (size_t r = begin; r < end; r++) {
            if (!isfinite(ds->rul[r]) && ds->time[r] + ds->window > last) {
                ds->label[r] = NAN;
            }
        }
        end = begin;
    }
}

int predict__pdm_read(struct predict_dataset *ds, const char *dir, char *errmsg)
{
    struct pdm_events err = {0}, maint = {0}, fail = {0};
    struct pdm p;
    int rv;

    memset(&p, 0, sizeof p);
    if (strlen(dir) + 32 >= PDM_PATH_MAX) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "directory name too long");
        return AUGUR_EINVAL;
    }
    snprintf(p.dir, sizeof p.dir, "%s", dir);
    p.ds = ds;
    rv = features_name(ds);
    if (rv != 0) {
        return rv;
    }
    predict__names_init(&p.machines, &ds->group_names, &ds->n_groups);
    predict__names_init(&p.models, &ds->family_names, &ds->n_families);
    rv = machines_read(&p, errmsg);
    if (rv == 0 && ds->n_groups == 0) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "%s/PdM_machines.csv: no machine",
                 dir);
        rv = AUGUR_EMALFORMED;
    }
    if (rv == 0) {
        rv = events_read(&p, "PdM_errors.csv", "error", PDM_ERRORS, &err,
                         errmsg);
    }
    if (rv == 0) {
        rv =
            events_read(&p, "PdM_maint.csv", "comp", PDM_COMPS, &maint, errmsg);
    }
    if (rv == 0) {
        rv = events_read(&p, "PdM_failures.csv", "comp", PDM_COMPS, &fail,
                         errmsg);
    }
    if (rv == 0) {
        rv = telemetry_read(&p, &err, &maint, &fail, errmsg);
    }
    if (rv == 0) {
        labels_censor(ds);
    }
    predict__names_close(&p.machines);
    predict__names_close(&p.models);
    free(p.age);
    free(p.model_no);
    free(err.v);
    free(maint.v);
    free(fail.v);
    return rv;
}
