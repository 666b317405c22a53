/* Datasets: rows of features with labels, grouped by unit, as the adapters
 * build them; the table of formats. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

static const char *const format_names[PREDICT_FORMAT_COUNT] = {
    "cmapss",
    "backblaze",
    "pdm",
};

/* Cycles, days, hours. */
static const double format_windows[PREDICT_FORMAT_COUNT] = {30.0, 1.0, 24.0};

int predict_format_parse(const char *name)
{
    for (int i = 0; i < PREDICT_FORMAT_COUNT; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *predict_format_name(enum predict_format f)
{
    return (unsigned)f < PREDICT_FORMAT_COUNT ? format_names[f] : "?";
}

double predict_format_default_window(enum predict_format f)
{
    return (unsigned)f < PREDICT_FORMAT_COUNT ? format_windows[f] : 1.0;
}

void predict_dataset_init(struct predict_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
}

static void names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++) {
        free(names[i]);
    }
    free(names);
}

void predict_dataset_close(struct predict_dataset *ds)
{
    names_free(ds->feature_names, ds->n_features);
    names_free(ds->group_names, ds->n_groups);
    names_free(ds->family_names, ds->n_families);
    free(ds->x);
    free(ds->label);
    free(ds->rul);
    free(ds->time);
    free(ds->group);
    free(ds->family);
    memset(ds, 0, sizeof *ds);
}

int predict__dataset_features(struct predict_dataset *ds,
                              const char *const *names,
                              unsigned n)
{
    ds->feature_names = calloc(n, sizeof *ds->feature_names);
    if (ds->feature_names == NULL) {
        return AUGUR_ENOMEM;
    }
    ds->n_features = n;
    for (unsigned i = 0; i < n; i++) {
        ds->feature_names[i] = strdup(names[i]);
        if (ds->feature_names[i] == NULL) {
            return AUGUR_ENOMEM;
        }
    }
    return 0;
}

/* Grow *@p to @cap elements of @size bytes. */
static int grow(void **p, size_t cap, size_t size)
{
    void *q = realloc(*p, cap * size);

    if (q == NULL) {
        return AUGUR_ENOMEM;
    }
    *p = q;
    return 0;
}

int predict__dataset_row(struct predict_dataset *ds,
                         uint32_t group,
                         uint32_t family,
                         double time,
                         float **x)
{
    size_t r = ds->n_rows;
    float *row;

    if (r == ds->cap) {
        size_t cap = ds->cap == 0 ? 1024 : ds->cap * 2;
        if (grow((void **)&ds->x, cap, ds->n_features * sizeof(float)) != 0 ||
            grow((void **)&ds->label, cap, sizeof(float)) != 0 ||
            grow((void **)&ds->rul, cap, sizeof(float)) != 0 ||
            grow((void **)&ds->time, cap, sizeof(double)) != 0 ||
            grow((void **)&ds->group, cap, sizeof(uint32_t)) != 0 ||
            grow((void **)&ds->family, cap, sizeof(uint32_t)) != 0) {
            return AUGUR_ENOMEM;
        }
        ds->cap = cap;
    }
    row = ds->x + r * ds->n_features;
    for (unsigned i = 0; i < ds->n_features; i++) {
        row[i] = NAN;
    }
    ds->label[r] = 0.0f;
    ds->rul[r] = NAN;
    ds->time[r] = time;
    ds->group[r] = group;
    ds->family[r] = family;
    ds->n_rows++;
    *x = row;
    return 0;
}

size_t predict_dataset_last_rows(const struct predict_dataset *ds, size_t *out)
{
    size_t n = 0;

    for (size_t r = 0; r < ds->n_rows; r++) {
        if (r + 1 == ds->n_rows || ds->group[r + 1] != ds->group[r]) {
            out[n++] = r;
        }
    }
    return n;
}

int predict_dataset_read(struct predict_dataset *ds,
                         enum predict_format format,
                         const char *paths,
                         double window,
                         char *errmsg)
{
    int rv;

    predict_dataset_init(ds);
    ds->format = format;
    ds->window = window > 0.0 ? window : predict_format_default_window(format);
    switch (format) {
        case PREDICT_FORMAT_CMAPSS:
            rv = predict__cmapss_read(ds, paths, errmsg);
            break;
        case PREDICT_FORMAT_BACKBLAZE:
            rv = predict__backblaze_read(ds, paths, errmsg);
            break;
        case PREDICT_FORMAT_PDM:
            rv = predict__pdm_read(ds, paths, errmsg);
            break;
        default:
            snprintf(errmsg, PREDICT_ERRMSG_SIZE, "unknown format %d",
                     (int)format);
            rv = AUGUR_EINVAL;
            break;
    }
    if (rv == 0 && ds->n_rows == 0) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "%s: no data rows", paths);
        rv = AUGUR_EMALFORMED;
    }
    if (rv == AUGUR_ENOMEM) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory reading %s",
                 paths);
    }
    if (rv != 0) {
        predict_dataset_close(ds);
    }
    return rv;
}

/* ---- name tables ------------------------------------------------------- */

void predict__names_init(struct predict__names *t, char ***names, size_t *n)
{
    memset(t, 0, sizeof *t);
    t->names = names;
    t->n = n;
    t->cap = *n;
}

void predict__names_close(struct predict__names *t)
{
    free(t->slots);
    t->slots = NULL;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static int rehash(struct predict__names *t)
{
    size_t n_slots = t->n_slots == 0 ? 64 : t->n_slots * 2;
    uint32_t *slots = calloc(n_slots, sizeof *slots);

    if (slots == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < *t->n; i++) {
        size_t h = hash((*t->names)[i]) & (n_slots - 1);
        while (slots[h] != 0) {
            h = (h + 1) & (n_slots - 1);
        }
        slots[h] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 0;
}

int predict__names_intern(struct predict__names *t,
                          const char *name,
                          uint32_t *index,
                          bool *added)
{
    size_t h;
    char *copy;

    if ((*t->n + 1) * 2 > t->n_slots && rehash(t) != 0) {
        return AUGUR_ENOMEM;
    }
    h = hash(name) & (t->n_slots - 1);
    while (t->slots[h] != 0) {
        uint32_t i = t->slots[h] - 1;
        if (strcmp((*t->names)[i], name) == 0) {
            *index = i;
            *added = false;
            return 0;
        }
        h = (h + 1) & (t->n_slots - 1);
    }
    if (*t->n == t->cap) {
        size_t cap = t->cap == 0 ? 64 : t->cap * 2;
        char **names = realloc(*t->names, cap * sizeof *names);
        if (names == NULL) {
            return AUGUR_ENOMEM;
        }
        *t->names = names;
        t->cap = cap;
    }
    copy = strdup(name);
    if (copy == NULL) {
        return AUGUR_ENOMEM;
    }
    (*t->names)[*t->n] = copy;
    t->slots[h] = (uint32_t)*t->n + 1;
    *index = (uint32_t)*t->n;
    (*t->n)++;
    *added = true;
    return 0;
}

int predict__names_find(const struct predict__names *t,
                        const char *name,
                        uint32_t *index)
{
    size_t h;

    if (t->n_slots == 0) {
        return AUGUR_ENOTFOUND;
    }
    h = hash(name) & (t->n_slots - 1);
    while (t->slots[h] != 0) {
        uint32_t i = t->slots[h] - 1;
        if (strcmp((*t->names)[i], name) == 0) {
            *index = i;
            return 0;
        }
        h = (h + 1) & (t->n_slots - 1);
    }
    return AUGUR_ENOTFOUND;
}

const char *const predict_backblaze_time_features[] = {
    "age_years",     "temperature_c",    "log_smart_12", "rarity_smart_12",
    "log_smart_192", "rarity_smart_192", NULL,
};

int predict_dataset_mask(struct predict_dataset *ds,
                         const char *const *names,
                         size_t n,
                         bool keep,
                         char *errmsg)
{
    size_t nf = ds->n_features;
    bool *named = calloc(nf + 1, sizeof *named);

    if (named == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        size_t f = 0;
        while (f < nf && strcmp(ds->feature_names[f], names[k]) != 0) {
            f++;
        }
        if (f == nf) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE, "no feature %s in the data",
                     names[k]);
            free(named);
            return AUGUR_EINVAL;
        }
        named[f] = true;
    }
    for (size_t r = 0; r < ds->n_rows; r++) {
        for (size_t f = 0; f < nf; f++) {
            if (named[f] != keep) {
                ds->x[r * nf + f] = NAN;
            }
        }
    }
    free(named);
    return 0;
}
