/* Telemetry batches: one host's samples of one interval, their msgpack
 * encoding (augur-agent) and its strict decoder (augurd's report op). */
#ifndef AUGUR_WIRE_TELEMETRY_H
#define AUGUR_WIRE_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/error.h"

#define TELEMETRY_WARN_UNUSED __attribute__((warn_unused_result))

/* The encoding, one msgpack map per batch (docs/AGENT.md):
 *
 *   {"v": 1, "r": RESOURCE, "t": T_MS, "d": DROPPED,
 *    "s": [NAME, VALUE, DT_MS, NAME, VALUE, DT_MS, ...]}
 *
 * T_MS is the batch's time (ms since the Unix epoch), DT_MS each sample's
 * time minus T_MS, VALUE an integer when the double is one (counters pack
 * small) and a float64 otherwise.  DROPPED counts the samples the agent
 * lost before this batch (backlog full).  Every key is required; an
 * unknown key, another version, or a bound below broken refuses the whole
 * batch. */
#define TELEMETRY_VERSION 1
#define TELEMETRY_SAMPLES_MAX 4096  /* samples in one batch */
#define TELEMETRY_NAME_MAX 96       /* bytes of a metric name */
#define TELEMETRY_RESOURCE_MAX 127  /* bytes of a resource id (store's) */
#define TELEMETRY_DT_MAX_MS 3600000 /* |sample time - batch time| */
/* The decoder's default window around its clock: a batch from an agent's
 * backlog may be an hour old; clocks may be a minute ahead. */
#define TELEMETRY_PAST_MS 3600000
#define TELEMETRY_FUTURE_MS 60000
#define TELEMETRY_ERRMSG_SIZE 256

struct telemetry_sample
{
    uint32_t name;     /* offset of the NUL-terminated name in names */
    uint16_t name_len; /* without the NUL */
    int32_t dt_ms;     /* sample time minus the batch's t_ms */
    double value;      /* finite */
};

/* One batch.  Names live in one arena, so a batch is two allocations
 * whatever its size.  Caller allocates; init/close; reset keeps memory. */
struct telemetry_batch
{
    char resource[TELEMETRY_RESOURCE_MAX + 1]; /* "" when not set */
    int64_t t_ms;
    uint64_t dropped;
    size_t n;
    size_t cap;
    struct telemetry_sample *s;
    char *names;
    size_t names_len;
    size_t names_cap;
};

void telemetry_batch_init(struct telemetry_batch *b);
void telemetry_batch_close(struct telemetry_batch *b);
/* Empty @b (resource, time and samples) keeping its memory. */
void telemetry_batch_reset(struct telemetry_batch *b);

/* Set the resource id: 1..TELEMETRY_RESOURCE_MAX bytes of
 * [A-Za-z0-9._:@-], as the store's ids.  Returns 0 or AUGUR_EINVAL. */
int telemetry_batch_resource(struct telemetry_batch *b,
                             const char *id) TELEMETRY_WARN_UNUSED;

/* Add a sample of metric @name at @t_ms (within TELEMETRY_DT_MAX_MS of
 * b->t_ms).  Returns 0, AUGUR_EINVAL (bad name, value not finite, time
 * out of range), AUGUR_ETOOBIG (TELEMETRY_SAMPLES_MAX reached) or
 * AUGUR_ENOMEM; @b is unchanged on error. */
int telemetry_batch_add(struct telemetry_batch *b,
                        const char *name,
                        double value,
                        int64_t t_ms) TELEMETRY_WARN_UNUSED;

/* The name of sample @i (< b->n); valid until @b changes. */
const char *telemetry_sample_name(const struct telemetry_batch *b, size_t i);

/* A metric name: 1..TELEMETRY_NAME_MAX bytes, dot-separated non-empty
 * components of [A-Za-z0-9_-], the first starting with a letter
 * ("disk.sda.read_bytes"). */
bool telemetry_name_valid(const char *name, size_t len);
bool telemetry_resource_valid(const char *id, size_t len);

/* Append @b's encoding to @out.  Returns 0, AUGUR_EINVAL (no resource) or
 * AUGUR_ENOMEM. */
int telemetry_encode(const struct telemetry_batch *b,
                     msgpack_sbuffer *out) TELEMETRY_WARN_UNUSED;

/* Decode the map @o into @b (initialised; reset first), checking every
 * bound above and that the batch's and every sample's time lie within
 * [@now_ms - @past_ms, @now_ms + @future_ms].  Returns 0, or
 * AUGUR_EMALFORMED (shape, type, name, NaN/Inf, version), AUGUR_ETOOBIG
 * (too many samples, name too long), AUGUR_EINVAL (time outside the
 * window) or AUGUR_ENOMEM, with a message in @errmsg
 * (TELEMETRY_ERRMSG_SIZE bytes); @b is then empty. */
int telemetry_decode(const msgpack_object *o,
                     int64_t now_ms,
                     int64_t past_ms,
                     int64_t future_ms,
                     struct telemetry_batch *b,
                     char *errmsg) TELEMETRY_WARN_UNUSED;

/* The same from bytes: one msgpack map, checked for shape before it is
 * unpacked (proto_payload_unpack). */
int telemetry_decode_bytes(const uint8_t *buf,
                           size_t len,
                           int64_t now_ms,
                           int64_t past_ms,
                           int64_t future_ms,
                           struct telemetry_batch *b,
                           char *errmsg) TELEMETRY_WARN_UNUSED;

#endif
