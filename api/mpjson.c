/* JSON text to msgpack and back (RFC 8259), for the installed interface:
 * a strict recursive parser that packs as it goes, and a printer. */
#include "api/mpjson.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define NUMBER_MAX 128 /* characters of one number */

struct parser
{
    const char *s; /* the text, NUL-terminated */
    size_t pos;
    char *why;
    size_t why_size;
};

static int parse_fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int parse_fail(struct parser *p, const char *fmt, ...)
{
    char what[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p->why != NULL && p->why_size > 0) {
        snprintf(p->why, p->why_size, "not a JSON object: %s at byte %zu", what,
                 p->pos);
    }
    return AUGUR_EINVAL;
}

static int parse_nomem(struct parser *p)
{
    if (p->why != NULL && p->why_size > 0) {
        snprintf(p->why, p->why_size, "out of memory");
    }
    return AUGUR_ENOMEM;
}

static void skip_ws(struct parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
           p->s[p->pos] == '\n' || p->s[p->pos] == '\r') {
        p->pos++;
    }
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char ch = s[i];

        v <<= 4;
        if (ch >= '0' && ch <= '9') {
            v |= (unsigned)(ch - '0');
        } else if (ch >= 'a' && ch <= 'f') {
            v |= (unsigned)(ch - 'a' + 10);
        } else if (ch >= 'A' && ch <= 'F') {
            v |= (unsigned)(ch - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the string at p->pos (its opening quote), leaving p->pos after the
 * closing one: its decoded length in *@len, and, when @pk is not NULL, its
 * bytes written as the body of a str already begun. */
static int parse_string_body(struct parser *p, msgpack_packer *pk, size_t *len)
{
    size_t n = 0;

    p->pos++; /* the opening quote */
    for (;;) {
        const char *run = p->s + p->pos;
        size_t k = 0;
        char buf[4];
        size_t blen;
        unsigned cp;

        while (run[k] != '"' && run[k] != '\\' && run[k] != '\0' &&
               (unsigned char)run[k] >= 0x20) {
            k++;
        }
        if (k > 0 && pk != NULL && msgpack_pack_str_body(pk, run, k) != 0) {
            return parse_nomem(p);
        }
        n += k;
        p->pos += k;
        switch (p->s[p->pos]) {
            case '"':
                p->pos++;
                *len = n;
                return 0;
            case '\0':
                return parse_fail(p, "unterminated string");
            case '\\':
                break;
            default:
                return parse_fail(p, "control character in a string");
        }
        p->pos++; /* the backslash */
        switch (p->s[p->pos]) {
            case '"':
            case '\\':
            case '/':
                cp = (unsigned char)p->s[p->pos];
                break;
            case 'b':
                cp = '\b';
                break;
            case 'f':
                cp = '\f';
                break;
            case 'n':
                cp = '\n';
                break;
            case 'r':
                cp = '\r';
                break;
            case 't':
                cp = '\t';
                break;
            case 'u':
                if (hex4(p->s + p->pos + 1, &cp) != 0) {
                    return parse_fail(p, "bad \\u escape");
                }
                p->pos += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return parse_fail(p, "lone low surrogate");
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;

                    if (p->s[p->pos + 1] != '\\' || p->s[p->pos + 2] != 'u' ||
                        hex4(p->s + p->pos + 3, &lo) != 0 || lo < 0xdc00 ||
                        lo > 0xdfff) {
                        return parse_fail(p, "lone high surrogate");
                    }
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                break;
            default:
                return parse_fail(p, "bad escape");
        }
        p->pos++;
        blen = utf8_encode(cp, buf);
        if (pk != NULL && msgpack_pack_str_body(pk, buf, blen) != 0) {
            return parse_nomem(p);
        }
        n += blen;
    }
}

static int parse_string(struct parser *p, msgpack_packer *pk)
{
    size_t start = p->pos;
    size_t len;
    int err = parse_string_body(p, NULL, &len);

    if (err != 0 || pk == NULL) {
        return err;
    }
    if (len > UINT32_MAX) {
        return parse_fail(p, "string too long");
    }
    if (msgpack_pack_str(pk, len) != 0) {
        return parse_nomem(p);
    }
    p->pos = start;
    return parse_string_body(p, pk, &len);
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int parse_number(struct parser *p, msgpack_packer *pk)
{
    size_t start = p->pos;
    char buf[NUMBER_MAX];
    int integer = 1;
    int negative = 0;
    int rv;

    if (p->s[p->pos] == '-') {
        negative = 1;
        p->pos++;
    }
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else if (is_digit(p->s[p->pos])) {
        while (is_digit(p->s[p->pos])) {
            p->pos++;
        }
    } else {
        return parse_fail(p, "bad number");
    }
    if (p->s[p->pos] == '.') {
        integer = 0;
        p->pos++;
        if (!is_digit(p->s[p->pos])) {
            return parse_fail(p, "bad number");
        }
        while (is_digit(p->s[p->pos])) {
            p->pos++;
        }
    }
    if (p->s[p->pos] == 'e' || p->s[p->pos] == 'E') {
        integer = 0;
        p->pos++;
        if (p->s[p->pos] == '+' || p->s[p->pos] == '-') {
            p->pos++;
        }
        if (!is_digit(p->s[p->pos])) {
            return parse_fail(p, "bad number");
        }
        while (is_digit(p->s[p->pos])) {
            p->pos++;
        }
    }
    if (p->pos - start >= sizeof buf) {
        return parse_fail(p, "number longer than %d characters",
                          NUMBER_MAX - 1);
    }
    memcpy(buf, p->s + start, p->pos - start);
    buf[p->pos - start] = '\0';

    errno = 0;
    if (integer && negative) {
        long long v = strtoll(buf, NULL, 10);

        if (errno == ERANGE) {
            return parse_fail(p, "integer below INT64_MIN");
        }
        rv = pk != NULL ? msgpack_pack_int64(pk, (int64_t)v) : 0;
    } else if (integer) {
        unsigned long long v = strtoull(buf, NULL, 10);

        if (errno == ERANGE) {
            return parse_fail(p, "integer above UINT64_MAX");
        }
        rv = pk != NULL ? msgpack_pack_uint64(pk, (uint64_t)v) : 0;
    } else {
        /* In the C locale whatever the program set: JSON's decimal point
         * is always '.'. */
        locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        double v;

        if (c_locale == (locale_t)0) {
            return parse_nomem(p);
        }
        v = strtod_l(buf, NULL, c_locale);
        freelocale(c_locale);
        if (!isfinite(v)) {
            return parse_fail(p, "number out of range");
        }
        rv = pk != NULL ? msgpack_pack_double(pk, v) : 0;
    }
    return rv != 0 ? parse_nomem(p) : 0;
}

static int parse_value(struct parser *p, int depth, msgpack_packer *pk);

/* Parse the elements of the array or object at p->pos, counting them in
 * *@n, and packing them when @pk is not NULL (after the header). */
static int parse_elements(struct parser *p,
                          int depth,
                          msgpack_packer *pk,
                          uint32_t *n)
{
    int object = p->s[p->pos] == '{';
    char close = object ? '}' : ']';
    int err;

    *n = 0;
    p->pos++;
    skip_ws(p);
    if (p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (*n == UINT32_MAX) {
            return parse_fail(p, "too many elements");
        }
        if (object) {
            if (p->s[p->pos] != '"') {
                return parse_fail(p, "expected a string key");
            }
            err = parse_string(p, pk);
            if (err != 0) {
                return err;
            }
            skip_ws(p);
            if (p->s[p->pos] != ':') {
                return parse_fail(p, "expected ':'");
            }
            p->pos++;
            skip_ws(p);
        }
        err = parse_value(p, depth, pk);
        if (err != 0) {
            return err;
        }
        (*n)++;
        skip_ws(p);
        if (p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
        } else if (p->s[p->pos] == close) {
            p->pos++;
            return 0;
        } else {
            return parse_fail(
                p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

/* An array or object: msgpack needs its size first, so a first pass counts
 * the elements and a second packs them. */
static int parse_container(struct parser *p, int depth, msgpack_packer *pk)
{
    size_t start = p->pos;
    int object = p->s[p->pos] == '{';
    uint32_t n;
    int err;

    if (depth >= MPJSON_DEPTH_MAX) {
        return parse_fail(p, "nested deeper than %d", MPJSON_DEPTH_MAX);
    }
    err = parse_elements(p, depth + 1, NULL, &n);
    if (err != 0 || pk == NULL) {
        return err;
    }
    if ((object ? msgpack_pack_map(pk, n) : msgpack_pack_array(pk, n)) != 0) {
        return parse_nomem(p);
    }
    p->pos = start;
    return parse_elements(p, depth + 1, pk, &n);
}

static int parse_literal(struct parser *p,
                         const char *word,
                         msgpack_packer *pk,
                         int value)
{
    size_t len = strlen(word);
    int rv = 0;

    if (strncmp(p->s + p->pos, word, len) != 0) {
        return parse_fail(p, "unexpected character");
    }
    p->pos += len;
    if (pk == NULL) {
        return 0;
    }
    if (value < 0) {
        rv = msgpack_pack_nil(pk);
    } else if (value) {
        rv = msgpack_pack_true(pk);
    } else {
        rv = msgpack_pack_false(pk);
    }
    return rv != 0 ? parse_nomem(p) : 0;
}

static int parse_value(struct parser *p, int depth, msgpack_packer *pk)
{
    switch (p->s[p->pos]) {
        case '{':
        case '[':
            return parse_container(p, depth, pk);
        case '"':
            return parse_string(p, pk);
        case 't':
            return parse_literal(p, "true", pk, 1);
        case 'f':
            return parse_literal(p, "false", pk, 0);
        case 'n':
            return parse_literal(p, "null", pk, -1);
        case '\0':
            return parse_fail(p, "unexpected end");
        default:
            return parse_number(p, pk);
    }
}

int mpjson_parse(const char *text,
                 msgpack_sbuffer *out,
                 char *why,
                 size_t why_size)
{
    struct parser p = {.s = text, .pos = 0, .why = why, .why_size = why_size};
    msgpack_packer pk;
    int err;

    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    skip_ws(&p);
    if (p.s[p.pos] != '{') {
        return parse_fail(&p, "expected '{'");
    }
    err = parse_value(&p, 0, &pk);
    if (err != 0) {
        return err;
    }
    skip_ws(&p);
    if (p.s[p.pos] != '\0') {
        return parse_fail(&p, "text after the object");
    }
    return 0;
}

/* Printing. */

static int put(msgpack_sbuffer *out, const char *s, size_t n)
{
    return msgpack_sbuffer_write(out, s, n) != 0 ? AUGUR_ENOMEM : 0;
}

/* The length of the well-formed UTF-8 sequence at @s (@n bytes left), or 0
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t len;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

static int put_string(msgpack_sbuffer *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    if (put(out, "\"", 1) != 0) {
        return AUGUR_ENOMEM;
    }
    while (i < n) {
        size_t run = 0;
        char esc[8];
        size_t len;

        /* Plain ASCII and well-formed UTF-8 go out as they are. */
        for (;;) {
            size_t k;

            if (i + run >= n) {
                break;
            }
            if (s[i + run] >= 0x20 && s[i + run] < 0x80 && s[i + run] != '"' &&
                s[i + run] != '\\') {
                run++;
                continue;
            }
            k = s[i + run] >= 0x80 ? utf8_valid(s + i + run, n - i - run) : 0;
            if (k == 0) {
                break;
            }
            run += k;
        }
        if (run > 0 && put(out, str + i, run) != 0) {
            return AUGUR_ENOMEM;
        }
        i += run;
        if (i >= n) {
            break;
        }
        switch (s[i]) {
            case '"':
                len = (size_t)snprintf(esc, sizeof esc, "\\\"");
                break;
            case '\\':
                len = (size_t)snprintf(esc, sizeof esc, "\\\\");
                break;
            case '\n':
                len = (size_t)snprintf(esc, sizeof esc, "\\n");
                break;
            case '\r':
                len = (size_t)snprintf(esc, sizeof esc, "\\r");
                break;
            case '\t':
                len = (size_t)snprintf(esc, sizeof esc, "\\t");
                break;
            default:
                if (s[i] < 0x20) {
                    len = (size_t)snprintf(esc, sizeof esc, "\\u%04x",
                                           (unsigned)s[i]);
                } else {
                    len = (size_t)snprintf(esc, sizeof esc, "\\ufffd");
                }
                break;
        }
        if (put(out, esc, len) != 0) {
            return AUGUR_ENOMEM;
        }
        i++;
    }
    return put(out, "\"", 1);
}

static int put_double(msgpack_sbuffer *out, double v, int digits)
{
    char buf[64];
    locale_t c_locale;
    locale_t old;
    int n;

    if (!isfinite(v)) {
        return put(out, "null", 4);
    }
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        return AUGUR_ENOMEM;
    }
    old = uselocale(c_locale);
    n = snprintf(buf, sizeof buf, "%.*g", digits, v);
    uselocale(old);
    freelocale(c_locale);
    if (n < 0 || (size_t)n >= sizeof buf - 2) {
        return AUGUR_EINTERNAL;
    }
    /* Keep it a number with a fraction, so that it reads back as one. */
    if (strpbrk(buf, ".eE") == NULL) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return put(out, buf, (size_t)n);
}

static int print_value(const msgpack_object *o, msgpack_sbuffer *out, int d);

static int print_key(const msgpack_object *k, msgpack_sbuffer *out, int d)
{
    msgpack_sbuffer text;
    int err;

    if (k->type == MSGPACK_OBJECT_STR) {
        return put_string(out, k->via.str.ptr, k->via.str.size);
    }
    msgpack_sbuffer_init(&text);
    err = print_value(k, &text, d);
    if (err == 0) {
        err = put_string(out, text.data, text.size);
    }
    msgpack_sbuffer_destroy(&text);
    return err;
}

static int print_value(const msgpack_object *o, msgpack_sbuffer *out, int d)
{
    char buf[32];
    int n;
    int err = 0;

    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return put(out, "null", 4);
        case MSGPACK_OBJECT_BOOLEAN:
            return o->via.boolean ? put(out, "true", 4) : put(out, "false", 5);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            n = snprintf(buf, sizeof buf, "%" PRIu64, o->via.u64);
            return put(out, buf, (size_t)n);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            n = snprintf(buf, sizeof buf, "%" PRId64, o->via.i64);
            return put(out, buf, (size_t)n);
        case MSGPACK_OBJECT_FLOAT32:
            return put_double(out, o->via.f64, 9);
        case MSGPACK_OBJECT_FLOAT64:
            return put_double(out, o->via.f64, 17);
        case MSGPACK_OBJECT_STR:
            return put_string(out, o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_BIN:
            return put_string(out, o->via.bin.ptr, o->via.bin.size);
        case MSGPACK_OBJECT_ARRAY:
            if (d >= MPJSON_DEPTH_MAX) {
                return AUGUR_EMALFORMED;
            }
            err = put(out, "[", 1);
            for (uint32_t i = 0; err == 0 && i < o->via.array.size; i++) {
                if (i > 0) {
                    err = put(out, ",", 1);
                }
                if (err == 0) {
                    err = print_value(&o->via.array.ptr[i], out, d + 1);
                }
            }
            return err != 0 ? err : put(out, "]", 1);
        case MSGPACK_OBJECT_MAP:
            if (d >= MPJSON_DEPTH_MAX) {
                return AUGUR_EMALFORMED;
            }
            err = put(out, "{", 1);
            for (uint32_t i = 0; err == 0 && i < o->via.map.size; i++) {
                if (i > 0) {
                    err = put(out, ",", 1);
                }
                if (err == 0) {
                    err = print_key(&o->via.map.ptr[i].key, out, d + 1);
                }
                if (err == 0) {
                    err = put(out, ":", 1);
                }
                if (err == 0) {
                    err = print_value(&o->via.map.ptr[i].val, out, d + 1);
                }
            }
            return err != 0 ? err : put(out, "}", 1);
        default:
            return put(out, "null", 4); /* ext */
    }
}

int mpjson_print(const msgpack_object *o, msgpack_sbuffer *out)
{
    return print_value(o, out, 0);
}
