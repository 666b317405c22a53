/* msgpack -> JSON conversion, and printing JSON on one line. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* msgpack-c refuses nesting deeper than its own stack (32); this bound
 * keeps the recursion below safe whatever that limit becomes. */
#define JSON_DEPTH_MAX 64

/* ---- strings ---------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at @s (at most @n bytes), or
 * 0: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return len;
}

/* A JSON string of @len bytes at @s, each invalid byte replaced by U+FFFD
 * (jansson refuses invalid UTF-8).  NULL when out of memory. */
static json_t *string_from_bytes(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    struct cli_buf b;
    json_t *j;
    size_t i = 0;

    j = json_stringn(s, len);
    if (j != NULL) {
        return j;
    }
    cli_buf_init(&b);
    while (i < len) {
        size_t n = utf8_seq_len(u + i, len - i);
        if (n == 0) {
            cli_buf_puts(&b, "\xef\xbf\xbd");
            n = 1;
        } else {
            cli_buf_append(&b, s + i, n);
        }
        i += n;
    }
    j = b.failed ? NULL : json_stringn(b.data != NULL ? b.data : "", b.len);
    cli_buf_close(&b);
    return j;
}

static void base64_encode(struct cli_buf *b, const unsigned char *p, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char quad[4];

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        v |= i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0;
        v |= i + 2 < n ? p[i + 2] : 0;
        quad[0] = alphabet[(v >> 18) & 0x3f];
        quad[1] = alphabet[(v >> 12) & 0x3f];
        quad[2] = i + 1 < n ? alphabet[(v >> 6) & 0x3f] : '=';
        quad[3] = i + 2 < n ? alphabet[v & 0x3f] : '=';
        cli_buf_append(b, quad, sizeof quad);
    }
}

static json_t *string_base64(const char *p, size_t n)
{
    struct cli_buf b;
    json_t *j;

    cli_buf_init(&b);
    base64_encode(&b, (const unsigned char *)p, n);
    j = b.failed ? NULL : json_stringn(b.data != NULL ? b.data : "", b.len);
    cli_buf_close(&b);
    return j;
}

/* ---- numbers ---------------------------------------------------------- */

/* The fewest significant digits, from 15 to 17, that read back as @d. */
static int real_digits(double d)
{
    char text[32];

    for (int prec = 15; prec < 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (strtod(text, NULL) == d) {
            return prec;
        }
    }
    return 17;
}

void cli_format_real(double d, char *out, size_t size)
{
    snprintf(out, size, "%.*g", real_digits(d), d);
}

/* A float32 as the double its shortest decimal form names, so that 0.7f
 * prints as 0.7 rather than 0.699999988. */
static double float32_widen(double f)
{
    char text[32];

    for (int prec = 6; prec <= 9; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, f);
        if (strtof(text, NULL) == (float)f) {
            break;
        }
    }
    return strtod(text, NULL);
}

static json_t *real_from(double d)
{
    return isfinite(d) ? json_real(d) : json_null();
}

/* jansson integers are signed 64-bit: a larger unsigned one becomes a
 * real, the nearest JSON can say through jansson. */
static json_t *unsigned_from(uint64_t v)
{
    return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

/* ---- objects ---------------------------------------------------------- */

static int convert(const msgpack_object *o, unsigned depth, json_t **out);

/* The text of a map key that is not a string. */
static int key_text(const msgpack_object *k, unsigned depth, struct cli_buf *b)
{
    json_t *j;
    char *s;
    int rv;

    if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        cli_buf_printf(b, "%" PRIu64, k->via.u64);
        return 0;
    }
    if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        cli_buf_printf(b, "%" PRId64, k->via.i64);
        return 0;
    }
    rv = convert(k, depth + 1, &j);
    if (rv != 0) {
        return rv;
    }
    if (json_is_string(j)) {
        cli_buf_append(b, json_string_value(j), json_string_length(j));
        json_decref(j);
        return 0;
    }
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (s == NULL) {
        return AUGUR_ENOMEM;
    }
    cli_buf_puts(b, s);
    free(s);
    return 0;
}

static int map_set(json_t *obj, const msgpack_object_kv *kv, unsigned depth)
{
    struct cli_buf key;
    json_t *v;
    int rv;

    rv = convert(&kv->val, depth + 1, &v);
    if (rv != 0) {
        return rv;
    }
    cli_buf_init(&key);
    if (kv->key.type == MSGPACK_OBJECT_STR) {
        cli_buf_append(&key, kv->key.via.str.ptr, kv->key.via.str.size);
    } else {
        rv = key_text(&kv->key, depth, &key);
    }
    if (rv == 0 && key.failed) {
        rv = AUGUR_ENOMEM;
    }
    if (rv == 0) {
        /* A key must be valid UTF-8 too: repair it as a string value. */
        json_t *k =
            string_from_bytes(key.data != NULL ? key.data : "", key.len);
        rv = k == NULL || json_object_setn(obj, json_string_value(k),
                                           json_string_length(k), v) != 0
                 ? AUGUR_ENOMEM
                 : 0;
        json_decref(k);
    }
    json_decref(v);
    cli_buf_close(&key);
    return rv;
}

static int convert_map(const msgpack_object *o, unsigned depth, json_t **out)
{
    json_t *obj = json_object();
    int rv;

    if (obj == NULL) {
        return AUGUR_ENOMEM;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        rv = map_set(obj, &o->via.map.ptr[i], depth);
        if (rv != 0) {
            json_decref(obj);
            return rv;
        }
    }
    *out = obj;
    return 0;
}

static int convert_array(const msgpack_object *o, unsigned depth, json_t **out)
{
    json_t *arr = json_array();
    json_t *v;
    int rv;

    if (arr == NULL) {
        return AUGUR_ENOMEM;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        rv = convert(&o->via.array.ptr[i], depth + 1, &v);
        if (rv == 0 && json_array_append_new(arr, v) != 0) {
            rv = AUGUR_ENOMEM;
        }
        if (rv != 0) {
            json_decref(arr);
            return rv;
        }
    }
    *out = arr;
    return 0;
}

/* A scalar; NULL when out of memory. */
static json_t *convert_scalar(const msgpack_object *o)
{
    switch (o->type) {
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean(o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return unsigned_from(o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer((json_int_t)o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
            return real_from(float32_widen(o->via.f64));
        case MSGPACK_OBJECT_FLOAT64:
            return real_from(o->via.f64);
        case MSGPACK_OBJECT_STR:
            return string_from_bytes(o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_BIN:
            return string_base64(o->via.bin.ptr, o->via.bin.size);
        case MSGPACK_OBJECT_EXT:
            return string_base64(o->via.ext.ptr, o->via.ext.size);
        default:
            return json_null();
    }
}

static int convert(const msgpack_object *o, unsigned depth, json_t **out)
{
    if (depth > JSON_DEPTH_MAX) {
        return AUGUR_EPROTO;
    }
    if (o->type == MSGPACK_OBJECT_MAP) {
        return convert_map(o, depth, out);
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        return convert_array(o, depth, out);
    }
    *out = convert_scalar(o);
    return *out != NULL ? 0 : AUGUR_ENOMEM;
}

int cli_json_from_msgpack(const msgpack_object *o, json_t **out)
{
    return convert(o, 0, out);
}

/* ---- printing --------------------------------------------------------- */

/* The precision (15 to 17 digits) every real in @j needs to read back
 * exactly: jansson prints all reals of a dump with one precision, and 17
 * everywhere would turn 0.7 into 0.69999999999999996. */
static int real_precision(const json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    int prec = 15;

    if (json_is_real(j)) {
        prec = real_digits(json_real_value(j));
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            int p = real_precision(v);
            prec = p > prec ? p : prec;
        }
    } else if (json_is_object(j)) {
        json_object_foreach((json_t *)j, key, v)
        {
            int p = real_precision(v);
            prec = p > prec ? p : prec;
        }
    }
    return prec;
}

int cli_json_print(const json_t *j)
{
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                   JSON_REAL_PRECISION(real_precision(j));
    char *s = json_dumps(j, flags);

    if (s == NULL) {
        return AUGUR_ENOMEM;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}
