/* The adapters' line reader and field parsers: every refusal names the file
 * and the line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

int predict__lines_open(struct predict__lines *r,
                        const char *path,
                        char *errmsg)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "r");
    if (r->f == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "%s: %s", path, strerror(errno));
        return AUGUR_EIO;
    }
    return 0;
}

int predict__lines_next(struct predict__lines *r, char *errmsg)
{
    ssize_t n = getline(&r->line, &r->cap, r->f);

    if (n < 0) {
        if (ferror(r->f)) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE, "%s:%lu: read error", r->path,
                     r->lineno + 1);
            return -1;
        }
        return 0;
    }
    r->lineno++;
    if (strlen(r->line) != (size_t)n) {
        predict__malformed(errmsg, r, "NUL byte in line");
        return -1;
    }
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r')) {
        r->line[--n] = '\0';
    }
    r->len = (size_t)n;
    return 1;
}

void predict__lines_close(struct predict__lines *r)
{
    if (r->f != NULL) {
        fclose(r->f);
    }
    free(r->line);
    memset(r, 0, sizeof *r);
}

unsigned predict__split(char *line, char sep, char **fields, unsigned max)
{
    unsigned n = 0;
    char *p = line;

    if (sep == ' ') {
        for (;;) {
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p == '\0') {
                return n;
            }
            if (n == max) {
                return max + 1;
            }
            fields[n++] = p;
            while (*p != '\0' && *p != ' ' && *p != '\t') {
                p++;
            }
            if (*p != '\0') {
                *p++ = '\0';
            }
        }
    }
    for (;;) {
        char *end = strchr(p, sep);
        if (n == max) {
            return max + 1;
        }
        fields[n++] = p;
        if (end == NULL) {
            return n;
        }
        *end = '\0';
        p = end + 1;
    }
}

int predict__number(const char *s, bool empty_ok, double *out)
{
    char *end;
    double v;

    if (*s == '\0') {
        if (!empty_ok) {
            return -1;
        }
        *out = NAN;
        return 0;
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static int digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int predict__datetime_hours(const char *s, double *hours)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    size_t len = strlen(s);

    if (len < 10 || digits(s, 4, &y) != 0 || s[4] != '-' ||
        digits(s + 5, 2, &mo) != 0 || s[7] != '-' ||
        digits(s + 8, 2, &d) != 0 || mo < 1 || mo > 12 || d < 1 || d > 31) {
        return -1;
    }
    if (len != 10) {
        if (len != 19 || (s[10] != ' ' && s[10] != 'T') ||
            digits(s + 11, 2, &h) != 0 || s[13] != ':' ||
            digits(s + 14, 2, &mi) != 0 || s[16] != ':' ||
            digits(s + 17, 2, &sec) != 0 || h > 23 || mi > 59 || sec > 60) {
            return -1;
        }
    }
    *hours = (double)days_from_civil((long)y, mo, d) * 24.0 + h + mi / 60.0 +
             sec / 3600.0;
    return 0;
}

int predict__malformed(char *errmsg,
                       const struct predict__lines *r,
                       const char *fmt,
                       ...)
{
    va_list ap;
    int n =
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "%s:%lu: ", r->path, r->lineno);

    if (n >= 0 && n < PREDICT_ERRMSG_SIZE) {
        va_start(ap, fmt);
        vsnprintf(errmsg + n, PREDICT_ERRMSG_SIZE - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return AUGUR_EMALFORMED;
}
