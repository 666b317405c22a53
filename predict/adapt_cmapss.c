/* The C-MAPSS adapter (NASA turbofan run-to-failure, e.g. train_FD001.txt):
 * one line per engine and cycle, "unit cycle op1 op2 op3 s1 .. s21",
 * blank-separated.  Each informative sensor feeds a stream; a row's
 * features are the cycle and every stream's features after that cycle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

#define CMAPSS_FIELDS 26
#define CMAPSS_SENSOR_COL(s) (4 + (s)) /* sensor s, 1-based */

/* The sensors that move over an engine's life in FD001; the others are
 * constant there (Saxena et al. 2008). */
static const unsigned sensors[] = {2,  3,  4,  7,  8,  9,  11,
                                   12, 13, 14, 15, 17, 20, 21};
#define N_SENSORS (sizeof sensors / sizeof sensors[0])
#define N_FEATURES (1 + N_SENSORS * PREDICT_SF_COUNT)

static const struct predict_stream_config stream_cfg = {
    .ewma_alpha = 0.1,
    .holt_alpha = 0.2,
    .holt_beta = 0.1,
    .window = 30,
    .baseline = 20,
};

static int features_name(struct predict_dataset *ds)
{
    char names[N_FEATURES][48];
    const char *ptrs[N_FEATURES];
    unsigned k = 0;

    snprintf(names[k], sizeof names[k], "cycle");
    ptrs[k] = names[k];
    k++;
    for (unsigned s = 0; s < N_SENSORS; s++) {
        for (unsigned f = 0; f < PREDICT_SF_COUNT; f++) {
            snprintf(names[k], sizeof names[k], "s%u_%s", sensors[s],
                     predict_stream_feature_name(f));
            ptrs[k] = names[k];
            k++;
        }
    }
    return predict__dataset_features(ds, ptrs, N_FEATURES);
}

/* Rows [@start, end of ds) are one engine's whole record: label them. */
static void unit_finish(struct predict_dataset *ds, size_t start)
{
    double last = ds->time[ds->n_rows - 1];

    for (size_t r = start; r < ds->n_rows; r++) {
        double rul = last - ds->time[r];
        ds->rul[r] = (float)rul;
        ds->label[r] = rul <= ds->window ? 1.0f : 0.0f;
    }
}

/* An integer field in [1, 1e9]. */
static int positive_int(const char *s, double *out)
{
    double v;

    if (predict__number(s, false, &v) != 0 || v != floor(v) || v < 1 ||
        v > 1e9) {
        return -1;
    }
    *out = v;
    return 0;
}

int predict__cmapss_read(struct predict_dataset *ds,
                         const char *path,
                         char *errmsg)
{
    struct predict_stream streams[N_SENSORS];
    struct predict__lines r;
    struct predict__names units;
    char *fields[CMAPSS_FIELDS];
    char unit_name[32];
    double unit = -1.0, cycle = 0.0;
    size_t start = 0;
    uint32_t family;
    bool added;
    int rv;

    if (strchr(path, ',') != NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "cmapss reads one file, not a list: %s", path);
        return AUGUR_EINVAL;
    }
    rv = features_name(ds);
    if (rv != 0) {
        return rv;
    }
    predict__names_init(&units, &ds->group_names, &ds->n_groups);
    {
        struct predict__names fam;
        predict__names_init(&fam, &ds->family_names, &ds->n_families);
        rv = predict__names_intern(&fam, "engine", &family, &added);
        predict__names_close(&fam);
        if (rv != 0) {
            return rv;
        }
    }
    rv = predict__lines_open(&r, path, errmsg);
    if (rv != 0) {
        predict__names_close(&units);
        return rv;
    }
    for (;;) {
        double v[CMAPSS_FIELDS];
        uint32_t group;
        unsigned n;
        float *x;
        int got = predict__lines_next(&r, errmsg);

        if (got < 0) {
            rv = AUGUR_EMALFORMED;
            break;
        }
        if (got == 0) {
            break;
        }
        n = predict__split(r.line, ' ', fields, CMAPSS_FIELDS);
        if (n == 0) {
            continue;
        }
        if (n != CMAPSS_FIELDS) {
            rv = predict__malformed(errmsg, &r, "expected %d fields, got %s%u",
                                    CMAPSS_FIELDS,
                                    n > CMAPSS_FIELDS ? "more than " : "",
                                    n > CMAPSS_FIELDS ? CMAPSS_FIELDS : n);
            break;
        }
        if (positive_int(fields[0], &v[0]) != 0 ||
            positive_int(fields[1], &v[1]) != 0) {
            rv = predict__malformed(errmsg, &r,
                                    "unit and cycle must be positive "
                                    "integers, got '%s' '%s'",
                                    fields[0], fields[1]);
            break;
        }
        for (unsigned i = 2; i < CMAPSS_FIELDS; i++) {
            if (predict__number(fields[i], false, &v[i]) != 0) {
                rv = predict__malformed(errmsg, &r,
                                        "field %u is not a number: '%s'", i + 1,
                                        fields[i]);
                break;
            }
        }
        if (rv != 0) {
            break;
        }
        if (v[0] != unit) {
            if (ds->n_rows > 0) {
                unit_finish(ds, start);
            }
            snprintf(unit_name, sizeof unit_name, "%.0f", v[0]);
            rv = predict__names_intern(&units, unit_name, &group, &added);
            if (rv != 0) {
                break;
            }
            if (!added) {
                rv = predict__malformed(errmsg, &r,
                                        "unit %s appears again after other "
                                        "units: rows of a unit must be "
                                        "contiguous",
                                        unit_name);
                break;
            }
            unit = v[0];
            start = ds->n_rows;
            for (unsigned s = 0; s < N_SENSORS; s++) {
                predict_stream_init(&streams[s], &stream_cfg);
            }
        } else {
            group = ds->group[ds->n_rows - 1];
            if (v[1] != cycle + 1) {
                rv = predict__malformed(errmsg, &r,
                                        "unit %.0f: cycle %.0f follows cycle "
                                        "%.0f",
                                        unit, v[1], cycle);
                break;
            }
        }
        cycle = v[1];
        rv = predict__dataset_row(ds, group, family, cycle, &x);
        if (rv != 0) {
            break;
        }
        x[0] = (float)cycle;
        for (unsigned s = 0; s < N_SENSORS; s++) {
            predict_stream_update(&streams[s],
                                  v[CMAPSS_SENSOR_COL(sensors[s])]);
            predict_stream_features(&streams[s], x + 1 + s * PREDICT_SF_COUNT);
        }
    }
    if (rv == 0 && ds->n_rows > 0) {
        unit_finish(ds, start);
    }
    predict__lines_close(&r);
    predict__names_close(&units);
    return rv;
}
