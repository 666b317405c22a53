/* predict/'s private interface between its files: dataset building, name
 * tables and the line reader of the adapters. */
#ifndef AUGUR_PREDICT_INTERNAL_H
#define AUGUR_PREDICT_INTERNAL_H

#include <stdio.h>

#include "predict/predict.h"

/* A table of names with their indexes, for groups and families. */
struct predict__names
{
    char ***names; /* the dataset's array, grown here */
    size_t *n;
    size_t cap;      /* of *names */
    uint32_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t n_slots;  /* power of two */
};

void predict__names_init(struct predict__names *t, char ***names, size_t *n);
void predict__names_close(struct predict__names *t);
/* The index of @name; *@added says whether it was new.  Returns 0 or
 * AUGUR_ENOMEM. */
int predict__names_intern(struct predict__names *t,
                          const char *name,
                          uint32_t *index,
                          bool *added);

/* The index of @name: 0, or AUGUR_ENOTFOUND. */
int predict__names_find(const struct predict__names *t,
                        const char *name,
                        uint32_t *index);

/* ln(1 - Phi(z)), Phi the standard normal CDF; finite far into the
 * tail. */
double predict__log_normal_sf(double z);

/* Give @ds @n feature names, copied from @names.  Returns 0 or ENOMEM. */
int predict__dataset_features(struct predict_dataset *ds,
                              const char *const *names,
                              unsigned n);
/* Append a row; its features (n_features floats, NaN-filled) in *@x.
 * Returns 0 or AUGUR_ENOMEM. */
int predict__dataset_row(struct predict_dataset *ds,
                         uint32_t group,
                         uint32_t family,
                         double time,
                         float **x);

/* A line reader that tracks the line number, for error messages. */
struct predict__lines
{
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    size_t len;
    unsigned long lineno;
};

/* Open @path.  Returns 0 or AUGUR_EIO with a message. */
int predict__lines_open(struct predict__lines *r,
                        const char *path,
                        char *errmsg);
/* The next line without its end-of-line in r->line: 1, 0 at the end, or
 * -1 with a message (read error, or a NUL byte in the line). */
int predict__lines_next(struct predict__lines *r, char *errmsg);
void predict__lines_close(struct predict__lines *r);

/* Split @line in place at @sep (',' or ' ' for runs of blanks) into at most
 * @max fields; returns their count (max + 1 when there are more). */
unsigned predict__split(char *line, char sep, char **fields, unsigned max);

/* Parse @s fully as a finite number; "" is NaN (missing) when
 * @empty_ok.  Returns 0 or -1. */
int predict__number(const char *s, bool empty_ok, double *out);

/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" as hours since 1970-01-01.
 * Returns 0 or -1. */
int predict__datetime_hours(const char *s, double *hours);

/* Set @errmsg to "PATH:LINE: " and the formatted message; returns
 * AUGUR_EMALFORMED. */
int predict__malformed(char *errmsg,
                       const struct predict__lines *r,
                       const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

/* The adapters. */
int predict__cmapss_read(struct predict_dataset *ds,
                         const char *path,
                         char *errmsg);
int predict__backblaze_read(struct predict_dataset *ds,
                            const char *paths,
                            char *errmsg);
int predict__pdm_read(struct predict_dataset *ds,
                      const char *dir,
                      char *errmsg);

#endif
