/* Raw figures of one read, and how two reads become samples (deltas). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "common/log.h"

void agent_readings_init(struct agent_readings *r)
{
    memset(r, 0, sizeof *r);
}

void agent_readings_close(struct agent_readings *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

void agent_readings_clear(struct agent_readings *r)
{
    r->n = 0;
}

int agent_readings_add(struct agent_readings *r,
                       enum agent_kind kind,
                       double value,
                       double total,
                       const char *fmt,
                       ...)
{
    struct agent_reading *e;
    va_list ap;
    int len;

    if (r->n == AGENT_READINGS_MAX) {
        return AUGUR_ETOOBIG;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap > 0 ? r->cap * 2 : 64;
        struct agent_reading *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL) {
            return AUGUR_ENOMEM;
        }
        r->v = v;
        r->cap = cap;
    }
    e = &r->v[r->n];
    va_start(ap, fmt);
    len = vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof e->name ||
        !telemetry_name_valid(e->name, (size_t)len) || !isfinite(value) ||
        !isfinite(total)) {
        LOG(LOG_LEVEL_DEBUG, "dropped the figure '%s': bad name or value",
            e->name);
        return 0;
    }
    e->kind = kind;
    e->value = value;
    e->total = total;
    r->n++;
    return 0;
}

/* The reading of @prev named @name; @hint is where it usually is (the
 * same index: the same files list the same things in the same order). */
static const struct agent_reading *find(const struct agent_readings *prev,
                                        const char *name,
                                        size_t hint)
{
    if (hint < prev->n && strcmp(prev->v[hint].name, name) == 0) {
        return &prev->v[hint];
    }
    for (size_t i = 0; i < prev->n; i++) {
        if (strcmp(prev->v[i].name, name) == 0) {
            return &prev->v[i];
        }
    }
    return NULL;
}

int agent_readings_to_batch(const struct agent_readings *prev,
                            const struct agent_readings *cur,
                            int64_t t_ms,
                            struct telemetry_batch *b)
{
    for (size_t i = 0; i < cur->n; i++) {
        const struct agent_reading *c = &cur->v[i];
        const struct agent_reading *p;
        double v = c->value;
        int rv;

        if (c->kind != AGENT_GAUGE) {
            p = prev != NULL ? find(prev, c->name, i) : NULL;
            if (p == NULL || p->kind != c->kind || c->value < p->value) {
                continue;
            }
            if (c->kind == AGENT_COUNTER) {
                v = c->value - p->value;
            } else if (c->total > p->total) {
                v = (c->value - p->value) / (c->total - p->total);
            } else {
                continue;
            }
        }
        rv = telemetry_batch_add(b, c->name, v, t_ms);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

void agent_name_clean(char *s)
{
    size_t j = 0;

    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)s[i]);
        if (!isalnum(c) && c != '-') {
            c = '_';
        }
        if (c == '_' && (j == 0 || s[j - 1] == '_')) {
            continue;
        }
        s[j++] = (char)c;
    }
    while (j > 0 && s[j - 1] == '_') {
        j--;
    }
    s[j] = '\0';
}
