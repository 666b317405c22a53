/* The Backblaze drive-stats adapter: CSV files with a header naming date,
 * serial_number, model, failure and smart_N_raw columns (any subset, any
 * order).  One row per drive: its last day, labelled with whether it
 * failed.  Features are chosen to transfer between vendors: logs and
 * nonzero flags of the critical counters, their count, age in years and
 * temperature, never a vendor's raw encodings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

#define BB_ATTR_MAX 256
#define BB_FIELDS_MAX 512

/* Backblaze's own rule: any of these raw counters above zero. */
static const unsigned rule_attrs[] = {5, 187, 188, 197, 198};
#define N_RULE (sizeof rule_attrs / sizeof rule_attrs[0])

/* Counters taken as log(1 + raw). */
static const unsigned log_attrs[] = {5,   187, 188, 197, 198, 196,
                                     184, 189, 199, 12,  192};
#define N_LOG (sizeof log_attrs / sizeof log_attrs[0])

enum
{
    F_LOG = 0,
    F_FLAG = F_LOG + N_LOG,
    F_CRIT_COUNT = F_FLAG + N_RULE,
    F_CRIT_MAX_LOG,
    F_RULE,
    F_AGE_YEARS,
    F_TEMP,
    F_RARE,                      /* rarity of each log counter in its model */
    F_RARE_MAX = F_RARE + N_LOG, /* of the critical ones */
    F_RARE_SUM,
    N_FEATURES
};

static int features_name(struct predict_dataset *ds)
{
    char names[N_FEATURES][32];
    const char *ptrs[N_FEATURES];

    for (unsigned i = 0; i < N_LOG; i++) {
        snprintf(names[F_LOG + i], 32, "log_smart_%u", log_attrs[i]);
    }
    for (unsigned i = 0; i < N_RULE; i++) {
        snprintf(names[F_FLAG + i], 32, "nonzero_smart_%u", rule_attrs[i]);
    }
    snprintf(names[F_CRIT_COUNT], 32, "critical_nonzero");
    snprintf(names[F_CRIT_MAX_LOG], 32, "critical_max_log");
    snprintf(names[F_RULE], 32, "backblaze_rule");
    snprintf(names[F_AGE_YEARS], 32, "age_years");
    snprintf(names[F_TEMP], 32, "temperature_c");
    for (unsigned i = 0; i < N_LOG; i++) {
        snprintf(names[F_RARE + i], 32, "rarity_smart_%u", log_attrs[i]);
    }
    snprintf(names[F_RARE_MAX], 32, "critical_rarity_max");
    snprintf(names[F_RARE_SUM], 32, "critical_rarity_sum");
    for (unsigned i = 0; i < N_FEATURES; i++) {
        ptrs[i] = names[i];
    }
    return predict__dataset_features(ds, ptrs, N_FEATURES);
}

/* Where the columns are in one file. */
struct bb_columns
{
    int date, serial, model, failure;
    int smart[BB_ATTR_MAX]; /* column of smart_N_raw, or -1 */
    unsigned n;             /* fields per line */
};

static int header_parse(struct predict__lines *r,
                        struct bb_columns *c,
                        char *errmsg)
{
    char *fields[BB_FIELDS_MAX];
    unsigned n = predict__split(r->line, ',', fields, BB_FIELDS_MAX);

    c->date = c->serial = c->model = c->failure = -1;
    c->n = 0;
    for (int i = 0; i < BB_ATTR_MAX; i++) {
        c->smart[i] = -1;
    }
    if (n > BB_FIELDS_MAX) {
        return predict__malformed(errmsg, r, "more than %d columns",
                                  BB_FIELDS_MAX);
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned attr;
        int end = 0;
        if (strcmp(fields[i], "date") == 0) {
            c->date = (int)i;
        } else if (strcmp(fields[i], "serial_number") == 0) {
            c->serial = (int)i;
        } else if (strcmp(fields[i], "model") == 0) {
            c->model = (int)i;
        } else if (strcmp(fields[i], "failure") == 0) {
            c->failure = (int)i;
        } else if (sscanf(fields[i], "smart_%u_raw%n", &attr, &end) == 1 &&
                   fields[i][end] == '\0' && attr < BB_ATTR_MAX) {
            c->smart[attr] = (int)i;
        }
    }
    if (c->date < 0 || c->serial < 0 || c->model < 0 || c->failure < 0) {
        return predict__malformed(errmsg, r,
                                  "header must name date, serial_number, "
                                  "model and failure");
    }
    c->n = n;
    return 0;
}

/* A drive being read: its last row's values so far. */
struct bb_drive
{
    bool open;
    uint32_t group;
    uint32_t family;
    double day;
    double failed;
    double smart[BB_ATTR_MAX];
};

static int drive_flush(struct predict_dataset *ds, struct bb_drive *d)
{
    double crit_max = -1.0;
    unsigned crit_count = 0;
    bool any_crit = false;
    float *x;
    int rv;

    if (!d->open) {
        return 0;
    }
    d->open = false;
    rv = predict__dataset_row(ds, d->group, d->family, d->day, &x);
    if (rv != 0) {
        return rv;
    }
    ds->label[ds->n_rows - 1] = d->failed > 0 ? 1.0f : 0.0f;
    for (unsigned i = 0; i < N_LOG; i++) {
        double v = d->smart[log_attrs[i]];
        x[F_LOG + i] = isnan(v) ? NAN : (float)log1p(v > 0 ? v : 0);
    }
    for (unsigned i = 0; i < N_RULE; i++) {
        double v = d->smart[rule_attrs[i]];
        if (isnan(v)) {
            continue;
        }
        any_crit = true;
        x[F_FLAG + i] = v > 0 ? 1.0f : 0.0f;
        crit_count += v > 0;
        crit_max = v > crit_max ? v : crit_max;
    }
    if (any_crit) {
        x[F_CRIT_COUNT] = (float)crit_count;
        x[F_CRIT_MAX_LOG] = (float)log1p(crit_max > 0 ? crit_max : 0);
    }
    x[F_RULE] = crit_count > 0 ? 1.0f : 0.0f;
    if (!isnan(d->smart[9])) {
        x[F_AGE_YEARS] = (float)(d->smart[9] / 8766.0);
    }
    if (!isnan(d->smart[194])) {
        x[F_TEMP] = (float)d->smart[194];
    }
    return 0;
}

static int file_read(struct predict_dataset *ds,
                     const char *path,
                     struct predict__names *drives,
                     struct predict__names *models,
                     struct bb_drive *d,
                     char *errmsg)
{
    struct predict__lines r;
    struct bb_columns c;
    char *fields[BB_FIELDS_MAX];
    int rv, got;

    rv = predict__lines_open(&r, path, errmsg);
    if (rv != 0) {
        return rv;
    }
    got = predict__lines_next(&r, errmsg);
    if (got <= 0) {
        rv = got < 0 ? AUGUR_EMALFORMED
                     : predict__malformed(errmsg, &r, "empty file: no header");
        goto out;
    }
    rv = header_parse(&r, &c, errmsg);
    if (rv != 0) {
        goto out;
    }
    while ((got = predict__lines_next(&r, errmsg)) > 0) {
        unsigned n;
        double day, failed;
        uint32_t group, family;
        bool added;

        if (r.len == 0) {
            continue;
        }
        n = predict__split(r.line, ',', fields, BB_FIELDS_MAX);
        if (n != c.n) {
            rv = predict__malformed(errmsg, &r, "expected %u fields, got %u",
                                    c.n, n);
            goto out;
        }
        if (predict__datetime_hours(fields[c.date], &day) != 0) {
            rv =
                predict__malformed(errmsg, &r, "bad date '%s'", fields[c.date]);
            goto out;
        }
        day /= 24.0;
        if (predict__number(fields[c.failure], false, &failed) != 0 ||
            (failed != 0 && failed != 1)) {
            rv = predict__malformed(errmsg, &r, "failure must be 0 or 1: '%s'",
                                    fields[c.failure]);
            goto out;
        }
        if (fields[c.serial][0] == '\0') {
            rv = predict__malformed(errmsg, &r, "empty serial_number");
            goto out;
        }
        if (!d->open || strcmp(ds->group_names[d->group], fields[c.serial])) {
            rv = drive_flush(ds, d);
            if (rv != 0) {
                goto out;
            }
            rv =
                predict__names_intern(drives, fields[c.serial], &group, &added);
            if (rv == 0) {
                rv = predict__names_intern(models, fields[c.model], &family,
                                           &added);
            }
            if (rv != 0) {
                goto out;
            }
            if (group + 1 != (uint32_t)ds->n_groups) {
                rv = predict__malformed(errmsg, &r,
                                        "drive %s appears again: rows of a "
                                        "drive must be contiguous",
                                        fields[c.serial]);
                goto out;
            }
            d->open = true;
            d->group = group;
            d->family = family;
            d->failed = 0;
        } else if (day < d->day) {
            rv = predict__malformed(errmsg, &r,
                                    "drive %s: rows must be in date order",
                                    fields[c.serial]);
            goto out;
        }
        d->day = day;
        d->failed = failed > d->failed ? failed : d->failed;
        for (unsigned a = 0; a < BB_ATTR_MAX; a++) {
            d->smart[a] = NAN;
            if (c.smart[a] >= 0 &&
                predict__number(fields[c.smart[a]], true, &d->smart[a]) != 0) {
                rv = predict__malformed(errmsg, &r,
                                        "smart_%u_raw is not a number: '%s'", a,
                                        fields[c.smart[a]]);
                goto out;
            }
        }
    }
    if (got < 0) {
        rv = AUGUR_EMALFORMED;
    }
out:
    predict__lines_close(&r);
    return rv;
}

static int float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a;
    float y = *(const float *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* Rarity of a counter's value among the drives of the same model:
 * -log10(fraction of them at or above it), 0 for the commonest value.  Raw
 * scales differ between vendors; how unusual a value is in its own fleet
 * transfers. */
static int rarity_fill(struct predict_dataset *ds)
{
    size_t nf = ds->n_features;
    float *v = malloc((ds->n_rows + 1) * sizeof *v);

    if (v == NULL) {
        return AUGUR_ENOMEM;
    }
    for (uint32_t fam = 0; fam < ds->n_families; fam++) {
        for (unsigned a = 0; a < N_LOG; a++) {
            size_t n = 0;
            for (size_t r = 0; r < ds->n_rows; r++) {
                float x = ds->x[r * nf + F_LOG + a];
                if (ds->family[r] == fam && !isnan(x)) {
                    v[n++] = x;
                }
            }
            if (n == 0) {
                continue;
            }
            qsort(v, n, sizeof *v, float_cmp);
            for (size_t r = 0; r < ds->n_rows; r++) {
                float x = ds->x[r * nf + F_LOG + a];
                size_t lo = 0, hi = n;
                if (ds->family[r] != fam || isnan(x)) {
                    continue;
                }
                while (lo < hi) { /* first value >= x */
                    size_t mid = lo + (hi - lo) / 2;
                    if (v[mid] < x) {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                ds->x[r * nf + F_RARE + a] =
                    (float)-log10((double)(n - lo) / (double)n);
            }
        }
    }
    for (size_t r = 0; r < ds->n_rows; r++) {
        float *x = ds->x + r * nf;
        float mx = NAN, sum = 0;
        for (unsigned i = 0; i < N_RULE; i++) {
            float q = x[F_RARE + i]; /* the rule attributes lead log_attrs */
            if (!isnan(q)) {
                mx = isnan(mx) || q > mx ? q : mx;
                sum += q;
            }
        }
        x[F_RARE_MAX] = mx;
        x[F_RARE_SUM] = isnan(mx) ? NAN : sum;
    }
    free(v);
    return 0;
}

int predict__backblaze_read(struct predict_dataset *ds,
                            const char *paths,
                            char *errmsg)
{
    struct predict__names drives, models;
    struct bb_drive *d;
    char *list, *p;
    int rv;

    rv = features_name(ds);
    if (rv != 0) {
        return rv;
    }
    list = strdup(paths);
    d = calloc(1, sizeof *d);
    if (list == NULL || d == NULL) {
        free(list);
        free(d);
        return AUGUR_ENOMEM;
    }
    predict__names_init(&drives, &ds->group_names, &ds->n_groups);
    predict__names_init(&models, &ds->family_names, &ds->n_families);
    p = list;
    while (rv == 0 && p != NULL) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (*p != '\0') {
            rv = file_read(ds, p, &drives, &models, d, errmsg);
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    if (rv == 0) {
        rv = drive_flush(ds, d);
    }
    if (rv == 0) {
        rv = rarity_fill(ds);
    }
    predict__names_close(&drives);
    predict__names_close(&models);
    free(list);
    free(d);
    return rv;
}
