/* Telemetry batches: building, encoding and strictly decoding them. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/proto.h"
#include "wire/telemetry.h"

#define NAMES_INITIAL 1024
#define SAMPLES_INITIAL 64
/* Doubles that are integers of at most this magnitude pack as integers:
 * every integer up to 2^53 is exact in both forms. */
#define INT_EXACT 9007199254740992.0

void telemetry_batch_init(struct telemetry_batch *b)
{
    memset(b, 0, sizeof *b);
}

void telemetry_batch_close(struct telemetry_batch *b)
{
    free(b->s);
    free(b->names);
    memset(b, 0, sizeof *b);
}

void telemetry_batch_reset(struct telemetry_batch *b)
{
    b->resource[0] = '\0';
    b->t_ms = 0;
    b->dropped = 0;
    b->n = 0;
    b->names_len = 0;
}

static bool id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
           c == '@' || c == '-';
}

bool telemetry_resource_valid(const char *id, size_t len)
{
    if (len == 0 || len > TELEMETRY_RESOURCE_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!id_char((unsigned char)id[i])) {
            return false;
        }
    }
    return true;
}

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool telemetry_name_valid(const char *name, size_t len)
{
    bool start = true; /* at the start of a component */

    if (len == 0 || len > TELEMETRY_NAME_MAX ||
        !((name[0] >= 'a' && name[0] <= 'z') ||
          (name[0] >= 'A' && name[0] <= 'Z'))) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (start) {
                return false;
            }
            start = true;
        } else if (name_char(c)) {
            start = false;
        } else {
            return false;
        }
    }
    return !start;
}

int telemetry_batch_resource(struct telemetry_batch *b, const char *id)
{
    size_t len = strlen(id);

    if (!telemetry_resource_valid(id, len)) {
        return AUGUR_EINVAL;
    }
    memcpy(b->resource, id, len + 1);
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    size_t n = *cap > 0 ? *cap : first;
    void *q;

    while (n < need) {
        n *= 2;
    }
    if (n == *cap) {
        return 0;
    }
    q = realloc(*p, n * elem);
    if (q == NULL) {
        return AUGUR_ENOMEM;
    }
    *p = q;
    *cap = n;
    return 0;
}

/* Append a sample whose name (@len bytes, not NUL-terminated) is checked. */
static int add_checked(struct telemetry_batch *b,
                       const char *name,
                       size_t len,
                       double value,
                       int32_t dt_ms)
{
    struct telemetry_sample *s;

    if (b->n == TELEMETRY_SAMPLES_MAX) {
        return AUGUR_ETOOBIG;
    }
    if (grow((void **)&b->s, &b->cap, b->n + 1, sizeof *b->s,
             SAMPLES_INITIAL) != 0 ||
        grow((void **)&b->names, &b->names_cap, b->names_len + len + 1, 1,
             NAMES_INITIAL) != 0) {
        return AUGUR_ENOMEM;
    }
    s = &b->s[b->n++];
    s->name = (uint32_t)b->names_len;
    s->name_len = (uint16_t)len;
    s->dt_ms = dt_ms;
    s->value = value;
    memcpy(b->names + b->names_len, name, len);
    b->names[b->names_len + len] = '\0';
    b->names_len += len + 1;
    return 0;
}

int telemetry_batch_add(struct telemetry_batch *b,
                        const char *name,
                        double value,
                        int64_t t_ms)
{
    size_t len = strlen(name);
    int64_t dt = t_ms - b->t_ms;

    if (!telemetry_name_valid(name, len) || !isfinite(value) ||
        dt < -TELEMETRY_DT_MAX_MS || dt > TELEMETRY_DT_MAX_MS) {
        return AUGUR_EINVAL;
    }
    return add_checked(b, name, len, value, (int32_t)dt);
}

const char *telemetry_sample_name(const struct telemetry_batch *b, size_t i)
{
    return b->names + b->s[i].name;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    if (msgpack_pack_str(pk, len) != 0 ||
        msgpack_pack_str_body(pk, s, len) != 0) {
        return AUGUR_ENOMEM;
    }
    return 0;
}

static int pack_value(msgpack_packer *pk, double v)
{
    if (v == floor(v) && fabs(v) <= INT_EXACT && !(v == 0 && signbit(v))) {
        return msgpack_pack_int64(pk, (int64_t)v) != 0 ? AUGUR_ENOMEM : 0;
    }
    return msgpack_pack_double(pk, v) != 0 ? AUGUR_ENOMEM : 0;
}

int telemetry_encode(const struct telemetry_batch *b, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    int rv = 0;

    if (b->resource[0] == '\0') {
        return AUGUR_EINVAL;
    }
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    rv |= msgpack_pack_map(&pk, 5);
    rv |= pack_str(&pk, "v", 1);
    rv |= msgpack_pack_int(&pk, TELEMETRY_VERSION);
    rv |= pack_str(&pk, "r", 1);
    rv |= pack_str(&pk, b->resource, strlen(b->resource));
    rv |= pack_str(&pk, "t", 1);
    rv |= msgpack_pack_int64(&pk, b->t_ms);
    rv |= pack_str(&pk, "d", 1);
    rv |= msgpack_pack_uint64(&pk, b->dropped);
    rv |= pack_str(&pk, "s", 1);
    rv |= msgpack_pack_array(&pk, b->n * 3);
    for (size_t i = 0; i < b->n && rv == 0; i++) {
        rv |= pack_str(&pk, b->names + b->s[i].name, b->s[i].name_len);
        rv |= pack_value(&pk, b->s[i].value);
        rv |= msgpack_pack_int(&pk, b->s[i].dt_ms);
    }
    return rv != 0 ? AUGUR_ENOMEM : 0;
}

static int fail(char *errmsg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errmsg, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errmsg, TELEMETRY_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == 1 &&
           k->via.str.ptr[0] == name[0];
}

/* An integer object as int64; false when it is none or out of range. */
static bool get_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX) {
            return false;
        }
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

static bool get_value(const msgpack_object *o, double *out)
{
    int64_t i;

    if (o->type == MSGPACK_OBJECT_FLOAT64 ||
        o->type == MSGPACK_OBJECT_FLOAT32) {
        *out = o->via.f64;
        return true;
    }
    if (get_i64(o, &i)) {
        *out = (double)i;
        return true;
    }
    return false;
}

static bool in_window(int64_t t, int64_t now, int64_t past, int64_t future)
{
    /* Compared as differences, with the operands bounded first, so that no
     * sum overflows whatever the peer sent. */
    if (t < INT64_MIN / 4 || t > INT64_MAX / 4) {
        return false;
    }
    return t >= now - past && t <= now + future;
}

static int decode_samples(const msgpack_object *a,
                          int64_t now,
                          int64_t past,
                          int64_t future,
                          struct telemetry_batch *b,
                          char *errmsg)
{
    uint32_t n = a->via.array.size;

    if (n % 3 != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "samples: %u items is not a multiple of 3", n);
    }
    if (n / 3 > TELEMETRY_SAMPLES_MAX) {
        return fail(errmsg, AUGUR_ETOOBIG, "%u samples: over the limit of %d",
                    n / 3, TELEMETRY_SAMPLES_MAX);
    }
    for (uint32_t i = 0; i < n; i += 3) {
        const msgpack_object *name = &a->via.array.ptr[i];
        double v;
        int64_t dt;
        int rv;

        if (name->type != MSGPACK_OBJECT_STR) {
            return fail(errmsg, AUGUR_EMALFORMED,
                        "sample %u: the name is not a string", i / 3);
        }
        if (name->via.str.size > TELEMETRY_NAME_MAX) {
            return fail(errmsg, AUGUR_ETOOBIG,
                        "sample %u: name of %u bytes, over %d", i / 3,
                        name->via.str.size, TELEMETRY_NAME_MAX);
        }
        if (!telemetry_name_valid(name->via.str.ptr, name->via.str.size)) {
            return fail(errmsg, AUGUR_EMALFORMED,
                        "sample %u: bad metric name '%.*s'", i / 3,
                        (int)name->via.str.size, name->via.str.ptr);
        }
        if (!get_value(&a->via.array.ptr[i + 1], &v) || !isfinite(v)) {
            return fail(errmsg, AUGUR_EMALFORMED,
                        "sample %u (%.*s): the value is not a finite number",
                        i / 3, (int)name->via.str.size, name->via.str.ptr);
        }
        if (!get_i64(&a->via.array.ptr[i + 2], &dt) ||
            dt < -TELEMETRY_DT_MAX_MS || dt > TELEMETRY_DT_MAX_MS) {
            return fail(errmsg, AUGUR_EMALFORMED,
                        "sample %u (%.*s): time offset missing or over %d ms",
                        i / 3, (int)name->via.str.size, name->via.str.ptr,
                        TELEMETRY_DT_MAX_MS);
        }
        if (!in_window(b->t_ms + dt, now, past, future)) {
            return fail(errmsg, AUGUR_EINVAL,
                        "sample %u (%.*s): time outside the accepted window",
                        i / 3, (int)name->via.str.size, name->via.str.ptr);
        }
        rv = add_checked(b, name->via.str.ptr, name->via.str.size, v,
                         (int32_t)dt);
        if (rv != 0) {
            return fail(errmsg, rv, "out of memory");
        }
    }
    return 0;
}

static int decode_map(const msgpack_object *o,
                      int64_t now,
                      int64_t past,
                      int64_t future,
                      struct telemetry_batch *b,
                      char *errmsg)
{
    const msgpack_object *samples = NULL;
    unsigned seen = 0; /* bits: v r t d s */
    int64_t i;

    if (o->type != MSGPACK_OBJECT_MAP) {
        return fail(errmsg, AUGUR_EMALFORMED, "a batch is a map");
    }
    if (past < 0 || future < 0 || past > INT64_MAX / 4 ||
        future > INT64_MAX / 4 || now < INT64_MIN / 4 || now > INT64_MAX / 4) {
        return fail(errmsg, AUGUR_EINVAL, "bad time window");
    }
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object *key = &o->via.map.ptr[k].key;
        const msgpack_object *val = &o->via.map.ptr[k].val;
        unsigned bit;

        if (key_is(key, "v")) {
            bit = 1;
            if (!get_i64(val, &i) || i != TELEMETRY_VERSION) {
                return fail(errmsg, AUGUR_EMALFORMED,
                            "unknown batch version (this side speaks %d)",
                            TELEMETRY_VERSION);
            }
        } else if (key_is(key, "r")) {
            bit = 2;
            if (val->type != MSGPACK_OBJECT_STR ||
                !telemetry_resource_valid(val->via.str.ptr,
                                          val->via.str.size)) {
                return fail(errmsg, AUGUR_EMALFORMED, "bad resource id");
            }
            memcpy(b->resource, val->via.str.ptr, val->via.str.size);
            b->resource[val->via.str.size] = '\0';
        } else if (key_is(key, "t")) {
            bit = 4;
            if (!get_i64(val, &b->t_ms)) {
                return fail(errmsg, AUGUR_EMALFORMED, "bad batch time");
            }
            if (!in_window(b->t_ms, now, past, future)) {
                return fail(errmsg, AUGUR_EINVAL,
                            "batch time %lld outside the accepted window",
                            (long long)b->t_ms);
            }
        } else if (key_is(key, "d")) {
            bit = 8;
            if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                return fail(errmsg, AUGUR_EMALFORMED, "bad dropped count");
            }
            b->dropped = val->via.u64;
        } else if (key_is(key, "s")) {
            bit = 16;
            if (val->type != MSGPACK_OBJECT_ARRAY) {
                return fail(errmsg, AUGUR_EMALFORMED, "samples are an array");
            }
            samples = val;
        } else {
            return fail(errmsg, AUGUR_EMALFORMED, "unknown key in a batch");
        }
        if (seen & bit) {
            return fail(errmsg, AUGUR_EMALFORMED, "a key given twice");
        }
        seen |= bit;
    }
    if (seen != 31) {
        return fail(errmsg, AUGUR_EMALFORMED, "a batch needs v, r, t, d and s");
    }
    /* The samples last: their times are relative to "t", wherever it was. */
    return decode_samples(samples, now, past, future, b, errmsg);
}

int telemetry_decode(const msgpack_object *o,
                     int64_t now_ms,
                     int64_t past_ms,
                     int64_t future_ms,
                     struct telemetry_batch *b,
                     char *errmsg)
{
    int rv;

    telemetry_batch_reset(b);
    rv = decode_map(o, now_ms, past_ms, future_ms, b, errmsg);
    if (rv != 0) {
        telemetry_batch_reset(b);
    }
    return rv;
}

int telemetry_decode_bytes(const uint8_t *buf,
                           size_t len,
                           int64_t now_ms,
                           int64_t past_ms,
                           int64_t future_ms,
                           struct telemetry_batch *b,
                           char *errmsg)
{
    msgpack_unpacked u;
    int rv;

    telemetry_batch_reset(b);
    msgpack_unpacked_init(&u);
    rv = proto_payload_unpack(buf, len, &u);
    if (rv != 0) {
        msgpack_unpacked_destroy(&u);
        return fail(errmsg, rv, "not one msgpack map");
    }
    rv = telemetry_decode(&u.data, now_ms, past_ms, future_ms, b, errmsg);
    msgpack_unpacked_destroy(&u);
    return rv;
}
