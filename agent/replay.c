/* Replay of a recorded data set as live telemetry: per unit (machine,
 * drive, engine) and time step, one batch of the adapter's features,
 * with the recorded times compressed by a speed factor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "common/log.h"
#include "predict/predict.h"

#define UNITS_LIST_MAX 4096

double agent_replay_unit_s(int format)
{
    switch (format) {
        case PREDICT_FORMAT_PDM:
            return 3600.0; /* hourly telemetry */
        case PREDICT_FORMAT_BACKBLAZE:
            return 86400.0; /* daily drive stats */
        default:
            return 3600.0; /* a C-MAPSS cycle is a flight: taken as an hour */
    }
}

/* The resource id of group @g: machine-N, the drive's serial, engine-N. */
static void resource_id(const struct predict_dataset *ds,
                        size_t g,
                        char *out,
                        size_t size)
{
    const char *name = ds->group_names[g];

    if (ds->format == PREDICT_FORMAT_PDM) {
        snprintf(out, size, "machine-%s", name);
    } else if (ds->format == PREDICT_FORMAT_CMAPSS) {
        snprintf(out, size, "engine-%s", name);
    } else {
        snprintf(out, size, "%s", name);
    }
}

/* True when the comma-separated @list names @id or @group. */
static bool list_has(const char *list, const char *id, const char *group)
{
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if ((strlen(id) == len && memcmp(p, id, len) == 0) ||
            (strlen(group) == len && memcmp(p, group, len) == 0)) {
            return true;
        }
        p += len + (p[len] == ',');
    }
    return false;
}

/* Per unit: its resource id and its next and last rows. */
struct cursor
{
    char id[TELEMETRY_RESOURCE_MAX + 1];
    size_t next;
    size_t end;
};

struct replay
{
    const struct agent_replay_options *opt;
    const struct agent_sink *sink;
    const struct agent_clock *clock;
    struct predict_dataset ds;
    struct cursor *units;
    size_t n_units;
    char (*names)[TELEMETRY_NAME_MAX + 1]; /* per feature */
    struct telemetry_batch b;
    char *errmsg;
};

static int fail(struct replay *r, int code, const char *what)
{
    snprintf(r->errmsg, AGENT_ERRMSG_SIZE, "%s", what);
    return code;
}

/* Units in group order, each with its contiguous rows, filtered by
 * --units; metric names per feature. */
static int units_build(struct replay *r)
{
    const struct predict_dataset *ds = &r->ds;
    const char *fmt = predict_format_name(ds->format);
    size_t i = 0;

    r->units = calloc(ds->n_groups > 0 ? ds->n_groups : 1, sizeof *r->units);
    r->names =
        calloc(ds->n_features > 0 ? ds->n_features : 1, sizeof *r->names);
    if (r->units == NULL || r->names == NULL) {
        return fail(r, AUGUR_ENOMEM, "out of memory");
    }
    for (unsigned f = 0; f < ds->n_features; f++) {
        char feature[TELEMETRY_NAME_MAX + 1];
        snprintf(feature, sizeof feature, "%s", ds->feature_names[f]);
        agent_name_clean(feature);
        snprintf(r->names[f], sizeof r->names[f], "%.20s.%.60s", fmt, feature);
    }
    while (i < ds->n_rows) {
        size_t g = ds->group[i];
        size_t j = i;
        struct cursor *c = &r->units[r->n_units];

        while (j < ds->n_rows && ds->group[j] == g) {
            j++;
        }
        resource_id(ds, g, c->id, sizeof c->id);
        if (telemetry_resource_valid(c->id, strlen(c->id)) &&
            (r->opt->units == NULL ||
             list_has(r->opt->units, c->id, ds->group_names[g]))) {
            c->next = i;
            c->end = j;
            r->n_units++;
        }
        i = j;
    }
    if (r->n_units == 0) {
        return fail(r, AUGUR_ENOTFOUND,
                    r->opt->units != NULL ? "no unit of the data set matches "
                                            "--units"
                                          : "the data set has no unit");
    }
    if (r->opt->resource != NULL) {
        const char *id = r->opt->resource;
        if (r->n_units != 1) {
            return fail(r, AUGUR_EINVAL,
                        "--resource renames one unit: --units must select "
                        "exactly one");
        }
        if (!telemetry_resource_valid(id, strlen(id)) ||
            strlen(id) >= sizeof r->units[0].id) {
            return fail(r, AUGUR_EINVAL, "--resource is not a valid id");
        }
        snprintf(r->units[0].id, sizeof r->units[0].id, "%s", id);
    }
    return 0;
}

/* The earliest time of a row not sent yet, INFINITY when none is left. */
static double next_time(const struct replay *r)
{
    double t = INFINITY;

    for (size_t u = 0; u < r->n_units; u++) {
        if (r->units[u].next < r->units[u].end) {
            t = fmin(t, r->ds.time[r->units[u].next]);
        }
    }
    return t;
}

/* Pass over the first --skip time steps: their rows are not sent. */
static int skip_steps(struct replay *r)
{
    for (uint64_t k = 0; k < r->opt->skip; k++) {
        double t = next_time(r);
        if (isinf(t)) {
            break;
        }
        for (size_t u = 0; u < r->n_units; u++) {
            struct cursor *c = &r->units[u];
            while (c->next < c->end && r->ds.time[c->next] <= t) {
                c->next++;
            }
        }
    }
    if (r->opt->skip > 0 && isinf(next_time(r))) {
        return fail(r, AUGUR_ENOTFOUND,
                    "--skip passes every recorded time step");
    }
    return 0;
}

/* Send the batch of unit @c's row at its cursor, at @t_ms. */
static int send_row(struct replay *r, struct cursor *c, int64_t t_ms)
{
    const struct predict_dataset *ds = &r->ds;
    const float *x = ds->x + c->next * ds->n_features;
    int rv;

    telemetry_batch_reset(&r->b);
    r->b.t_ms = t_ms;
    rv = telemetry_batch_resource(&r->b, c->id);
    for (unsigned f = 0; f < ds->n_features && rv == 0; f++) {
        if (isfinite(x[f])) {
            rv = telemetry_batch_add(&r->b, r->names[f], (double)x[f], t_ms);
        }
    }
    if (rv != 0) {
        return fail(r, rv, "a batch could not be built");
    }
    rv = r->sink->send(r->sink->arg, &r->b);
    if (rv != 0) {
        snprintf(r->errmsg, AGENT_ERRMSG_SIZE, "sending %s: %s", c->id,
                 augur_strerror(rv));
    }
    return rv;
}

static int replay_steps(struct replay *r)
{
    const struct predict_dataset *ds = &r->ds;
    double scale = agent_replay_unit_s(ds->format) * 1000.0 / r->opt->speed;
    int64_t start_wall = r->clock->now_ms(r->clock->arg);
    double t0 = next_time(r);
    uint64_t steps = 0;

    /* The line a harness times the replay's clock by. */
    LOG(LOG_LEVEL_INFO, "replay: started: %zu units, recorded time %.17g",
        r->n_units, t0);

    for (;;) {
        double t = next_time(r);
        int64_t offset;
        int64_t wait;

        if (isinf(t) || (r->opt->max_steps > 0 && steps == r->opt->max_steps)) {
            return 0;
        }
        offset = (int64_t)llround((t - t0) * scale);
        wait = start_wall + offset - r->clock->now_ms(r->clock->arg);
        if (wait > 0) {
            r->clock->sleep_ms(r->clock->arg, wait);
        }
        for (size_t u = 0; u < r->n_units; u++) {
            struct cursor *c = &r->units[u];
            /* A unit may have two rows at one time (a repeated day): each
             * goes, in order. */
            while (c->next < c->end && ds->time[c->next] <= t) {
                int rv = send_row(r, c, start_wall + offset);
                if (rv != 0) {
                    return rv;
                }
                c->next++;
            }
        }
        steps++;
    }
}

int agent_replay_run(const struct agent_replay_options *opt,
                     const struct agent_sink *sink,
                     const struct agent_clock *clock,
                     char *errmsg)
{
    struct replay r = {
        .opt = opt, .sink = sink, .clock = clock, .errmsg = errmsg};
    int rv;

    if (!(opt->speed > 0) || !isfinite(opt->speed) || opt->format < 0 ||
        opt->format >= PREDICT_FORMAT_COUNT) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "bad replay options");
        return AUGUR_EINVAL;
    }
    predict_dataset_init(&r.ds);
    telemetry_batch_init(&r.b);
    rv = predict_dataset_read(&r.ds, (enum predict_format)opt->format,
                              opt->data, 0, errmsg);
    if (rv == 0) {
        rv = units_build(&r);
    }
    if (rv == 0) {
        rv = skip_steps(&r);
    }
    if (rv == 0) {
        rv = replay_steps(&r);
    }
    telemetry_batch_close(&r.b);
    free(r.units);
    free(r.names);
    predict_dataset_close(&r.ds);
    return rv;
}
