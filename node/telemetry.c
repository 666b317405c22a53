/* The leader's in-memory telemetry table: an open-addressing hash of
 * resources, each with a ring of its last batches (see telemetry.h). */
#include <stdlib.h>
#include <string.h>

#include "node/telemetry.h"

#define LOG_EVERY_MS 1000

static size_t batch_bytes(const struct telemetry_batch *b)
{
    return b->cap * sizeof *b->s + b->names_cap;
}

int node_telemetry_init(struct node_telemetry *t,
                        unsigned ring,
                        size_t max,
                        size_t bytes_max)
{
    memset(t, 0, sizeof *t);
    t->ring = ring > 0 ? ring : 1;
    t->max = max > 0 ? max : 1;
    t->bytes_max = bytes_max;
    /* At most half full: probes stay short. */
    t->cap = 16;
    while (t->cap < 2 * t->max) {
        t->cap *= 2;
    }
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (t->slots == NULL) {
        return AUGUR_ENOMEM;
    }
    telemetry_batch_init(&t->scratch);
    return 0;
}

static void resource_free(struct node_telemetry *t,
                          struct node_telemetry_resource *r)
{
    for (unsigned i = 0; i < t->ring; i++) {
        telemetry_batch_close(&r->ring[i]);
    }
    free(r->ring);
    free(r);
}

void node_telemetry_clear(struct node_telemetry *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) {
            resource_free(t, t->slots[i]);
            t->slots[i] = NULL;
        }
    }
    t->n = 0;
    t->bytes = 0;
    memset(&t->c, 0, sizeof t->c);
}

void node_telemetry_close(struct node_telemetry *t)
{
    if (t->slots == NULL) {
        return;
    }
    node_telemetry_clear(t);
    free(t->slots);
    t->slots = NULL;
    telemetry_batch_close(&t->scratch);
}

/* FNV-1a: ids are short and chosen by operators, not by attackers alone
 * (an agent reports only for its own resources, checked before this). */
static size_t hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p != 0; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return (size_t)h;
}

static size_t probe(const struct node_telemetry *t, const char *id)
{
    size_t i = hash(id) & (t->cap - 1);

    while (t->slots[i] != NULL && strcmp(t->slots[i]->id, id) != 0) {
        i = (i + 1) & (t->cap - 1);
    }
    return i;
}

struct node_telemetry_resource *node_telemetry_find(
    const struct node_telemetry *t,
    const char *id)
{
    return t->slots[probe(t, id)];
}

int node_telemetry_track(struct node_telemetry *t,
                         const char *id,
                         struct node_telemetry_resource **out)
{
    size_t i = probe(t, id);
    struct node_telemetry_resource *r;
    size_t len = strlen(id);

    if (t->slots[i] != NULL) {
        *out = t->slots[i];
        return 0;
    }
    if (t->n >= t->max) {
        t->c.dropped++;
        return AUGUR_ETOOBIG;
    }
    if (len == 0 || len > TELEMETRY_RESOURCE_MAX) {
        return AUGUR_EINVAL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return AUGUR_ENOMEM;
    }
    r->ring = calloc(t->ring, sizeof *r->ring);
    if (r->ring == NULL) {
        free(r);
        return AUGUR_ENOMEM;
    }
    for (unsigned k = 0; k < t->ring; k++) {
        telemetry_batch_init(&r->ring[k]);
    }
    memcpy(r->id, id, len + 1);
    t->slots[i] = r;
    t->n++;
    *out = r;
    return 0;
}

int node_telemetry_keep(struct node_telemetry *t,
                        uint64_t now_ms,
                        struct node_telemetry_resource **out)
{
    struct node_telemetry_resource *r;
    struct telemetry_batch old;
    size_t old_bytes;
    size_t new_bytes;
    int rv;

    rv = node_telemetry_track(t, t->scratch.resource, &r);
    if (rv != 0) {
        return rv;
    }
    old_bytes = batch_bytes(&r->ring[r->head]);
    new_bytes = batch_bytes(&t->scratch);
    if (new_bytes > old_bytes && t->bytes_max > 0 &&
        t->bytes - old_bytes + new_bytes > t->bytes_max) {
        t->c.dropped++;
        return AUGUR_ETOOBIG;
    }
    /* Swap, not copy: the oldest slot's memory becomes the next scratch. */
    old = r->ring[r->head];
    r->ring[r->head] = t->scratch;
    t->scratch = old;
    telemetry_batch_reset(&t->scratch);
    t->bytes = t->bytes - old_bytes + new_bytes;
    r->head = (r->head + 1) % t->ring;
    if (r->count < t->ring) {
        r->count++;
    }
    r->last_report_ms = now_ms;
    r->last_seen_ms = now_ms;
    r->reports++;
    r->agent_dropped += r->ring[(r->head + t->ring - 1) % t->ring].dropped;
    t->c.accepted++;
    t->c.samples += r->ring[(r->head + t->ring - 1) % t->ring].n;
    t->c.agent_dropped += r->ring[(r->head + t->ring - 1) % t->ring].dropped;
    *out = r;
    return 0;
}

const struct telemetry_batch *node_telemetry_batch(
    const struct node_telemetry *t,
    const struct node_telemetry_resource *r,
    unsigned i)
{
    if (i >= r->count) {
        return NULL;
    }
    return &r->ring[(r->head + t->ring - 1 - i) % t->ring];
}

struct node_telemetry_resource *node_telemetry_next(
    const struct node_telemetry *t,
    size_t *cursor)
{
    while (*cursor < t->cap) {
        struct node_telemetry_resource *r = t->slots[(*cursor)++];
        if (r != NULL) {
            return r;
        }
    }
    return NULL;
}

bool node_telemetry_log_burst(struct node_telemetry_ratelimit *rl,
                              uint64_t now_ms,
                              unsigned burst,
                              uint64_t *suppressed)
{
    if (now_ms >= rl->next_ms) {
        rl->next_ms = now_ms + LOG_EVERY_MS;
        rl->written = 0;
    }
    if (rl->written >= burst) {
        rl->suppressed++;
        return false;
    }
    rl->written++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

bool node_telemetry_log_ok(struct node_telemetry_ratelimit *rl,
                           uint64_t now_ms,
                           uint64_t *suppressed)
{
    return node_telemetry_log_burst(rl, now_ms, 1, suppressed);
}
