/* The client wire protocol: frame headers, frame parsing, and the msgpack
 * maps of HELLO, REQUEST, RESPONSE and CLOSE frames. */
#include "wire/proto.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRMSG_SIZE 256 /* size of the @errmsg buffers of the decoders */

/* A packer appending to @out.  The sbuffer's write callback returns -1 when
 * realloc fails, which every msgpack_pack_* call passes back as non-zero. */
static void packer_init(msgpack_packer *pk, msgpack_sbuffer *out)
{
    msgpack_packer_init(pk, out, msgpack_sbuffer_write);
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Append @len already packed bytes.  msgpack_sbuffer_write asserts on a NULL
 * buffer, so an empty append is skipped here. */
static int append_raw(msgpack_sbuffer *out, const void *buf, size_t len)
{
    if (len == 0) {
        return 0;
    }
    return msgpack_sbuffer_write(out, buf, len);
}

static void set_errmsg(char *errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_errmsg(char *errmsg, const char *fmt, ...)
{
    va_list ap;

    if (errmsg == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(errmsg, ERRMSG_SIZE, fmt, ap);
    va_end(ap);
}

static int type_is_known(unsigned type)
{
    return type >= PROTO_HELLO && type <= PROTO_SEALED;
}

void proto_header_write(uint8_t hdr[PROTO_HEADER_SIZE],
                        enum proto_frame_type type,
                        size_t payload_len)
{
    uint32_t n;

    assert(payload_len < UINT32_MAX);
    n = (uint32_t)payload_len + 1;
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
    hdr[4] = (uint8_t)type;
}

int proto_frame_parse(const uint8_t *buf,
                      size_t len,
                      size_t max,
                      struct proto_frame *frame,
                      size_t *consumed)
{
    uint32_t n;

    *consumed = 0;
    if (len < 4) {
        return 0;
    }
    n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
        (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
    if (n == 0) {
        return AUGUR_EMALFORMED;
    }
    /* Decide on the length before anything else arrives, so that a peer
     * announcing a huge frame is refused without buffering any of it. */
    if (n > max || n > PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD) {
        return AUGUR_ETOOBIG;
    }
    if (len < PROTO_HEADER_SIZE) {
        return 0;
    }
    if (!type_is_known(buf[4])) {
        return AUGUR_EMALFORMED;
    }
    if (len - 4 < n) {
        return 0;
    }
    frame->type = (enum proto_frame_type)buf[4];
    frame->payload = buf + PROTO_HEADER_SIZE;
    frame->len = (size_t)n - 1;
    *consumed = (size_t)n + 4;
    return 0;
}

/* Frames are built in place: the header is reserved at the end of @out, the
 * payload packed after it, and the header filled in once the payload's size
 * is known.  On failure @out is cut back to where it was. */
static int frame_begin(msgpack_sbuffer *out, size_t *start)
{
    static const char zero[PROTO_HEADER_SIZE];

    *start = out->size;
    if (msgpack_sbuffer_write(out, zero, sizeof zero) != 0) {
        return AUGUR_ENOMEM;
    }
    return 0;
}

static int frame_end(msgpack_sbuffer *out,
                     size_t start,
                     enum proto_frame_type type)
{
    size_t payload_len = out->size - start - PROTO_HEADER_SIZE;

    if (payload_len + 1 > PROTO_FRAME_MAX) {
        out->size = start;
        return AUGUR_ETOOBIG;
    }
    proto_header_write((uint8_t *)out->data + start, type, payload_len);
    return 0;
}

int proto_frame_append(msgpack_sbuffer *out,
                       enum proto_frame_type type,
                       const void *payload,
                       size_t len)
{
    uint8_t hdr[PROTO_HEADER_SIZE];
    size_t start = out->size;

    assert(type_is_known(type));
    if (len + 1 > PROTO_FRAME_MAX) {
        return AUGUR_ETOOBIG;
    }
    proto_header_write(hdr, type, len);
    if (msgpack_sbuffer_write(out, (const char *)hdr, sizeof hdr) != 0 ||
        append_raw(out, payload, len) != 0) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return 0;
}

/* Layout of the msgpack types 0xc0..0xdf: bytes of the big-endian length
 * or count field, fixed bytes after it (an ext's type, a number's body), and
 * whether elements (1) or key/value pairs (2) follow.  0xc1 is never used. */
static const struct
{
    uint8_t valid;
    uint8_t len_bytes;
    uint8_t skip;
    uint8_t children;
} shape_layout[32] = {
    [0x00] = {1, 0, 0, 0},  /* nil */
    [0x02] = {1, 0, 0, 0},  /* false */
    [0x03] = {1, 0, 0, 0},  /* true */
    [0x04] = {1, 1, 0, 0},  /* bin 8 */
    [0x05] = {1, 2, 0, 0},  /* bin 16 */
    [0x06] = {1, 4, 0, 0},  /* bin 32 */
    [0x07] = {1, 1, 1, 0},  /* ext 8 */
    [0x08] = {1, 2, 1, 0},  /* ext 16 */
    [0x09] = {1, 4, 1, 0},  /* ext 32 */
    [0x0a] = {1, 0, 4, 0},  /* float 32 */
    [0x0b] = {1, 0, 8, 0},  /* float 64 */
    [0x0c] = {1, 0, 1, 0},  /* uint 8 */
    [0x0d] = {1, 0, 2, 0},  /* uint 16 */
    [0x0e] = {1, 0, 4, 0},  /* uint 32 */
    [0x0f] = {1, 0, 8, 0},  /* uint 64 */
    [0x10] = {1, 0, 1, 0},  /* int 8 */
    [0x11] = {1, 0, 2, 0},  /* int 16 */
    [0x12] = {1, 0, 4, 0},  /* int 32 */
    [0x13] = {1, 0, 8, 0},  /* int 64 */
    [0x14] = {1, 0, 2, 0},  /* fixext 1 */
    [0x15] = {1, 0, 3, 0},  /* fixext 2 */
    [0x16] = {1, 0, 5, 0},  /* fixext 4 */
    [0x17] = {1, 0, 9, 0},  /* fixext 8 */
    [0x18] = {1, 0, 17, 0}, /* fixext 16 */
    [0x19] = {1, 1, 0, 0},  /* str 8 */
    [0x1a] = {1, 2, 0, 0},  /* str 16 */
    [0x1b] = {1, 4, 0, 0},  /* str 32 */
    [0x1c] = {1, 2, 0, 1},  /* array 16 */
    [0x1d] = {1, 4, 0, 1},  /* array 32 */
    [0x1e] = {1, 2, 0, 2},  /* map 16 */
    [0x1f] = {1, 4, 0, 2},  /* map 32 */
};

/* Check that @p holds exactly one well-formed msgpack object, walking the
 * encoding without building anything.  msgpack-c allocates a container's
 * element array from the count in its header before reading the elements,
 * so a 6-byte map32 claiming four billion entries would make it ask for
 * over 100 GiB.  This walk refuses any container announcing more elements
 * than there are bytes left (each element takes at least one), and also
 * catches truncation and trailing bytes.  It counts the objects too, and
 * refuses with AUGUR_ETOOBIG as soon as those read plus those announced
 * exceed @max_objects. */
static int payload_shape_check(const uint8_t *p,
                               size_t len,
                               size_t max_objects,
                               size_t *objects)
{
    uint64_t pending = 1; /* objects still to read */
    uint64_t seen = 0;    /* objects read */
    size_t pos = 0;

    while (pending > 0) {
        uint8_t b;
        size_t len_bytes = 0; /* size of a length or count field */
        size_t skip = 0;      /* fixed bytes after it */
        uint64_t n = 0;       /* str/bin/ext length, or element count */
        int children = 0;     /* 1: n elements follow, 2: n pairs follow */

        if (pos >= len) {
            return AUGUR_EMALFORMED;
        }
        b = p[pos++];
        pending--;
        seen++;
        if (b <= 0x7f || b >= 0xe0) {
            /* positive and negative fixint */
        } else if (b <= 0x8f) {
            n = b & 0x0f; /* fixmap */
            children = 2;
        } else if (b <= 0x9f) {
            n = b & 0x0f; /* fixarray */
            children = 1;
        } else if (b <= 0xbf) {
            skip = b & 0x1f; /* fixstr */
        } else if (shape_layout[b - 0xc0].valid) {
            len_bytes = shape_layout[b - 0xc0].len_bytes;
            skip = shape_layout[b - 0xc0].skip;
            children = shape_layout[b - 0xc0].children;
        } else {
            return AUGUR_EMALFORMED;
        }
        if (len - pos < len_bytes) {
            return AUGUR_EMALFORMED;
        }
        for (size_t i = 0; i < len_bytes; i++) {
            n = n << 8 | p[pos++];
        }
        if (children > 0) {
            pending += n * (uint64_t)children;
            if (pending > len - pos) {
                return AUGUR_EMALFORMED;
            }
            if (seen + pending > max_objects) {
                return AUGUR_ETOOBIG;
            }
            continue;
        }
        /* A scalar: @skip fixed bytes, then @n bytes of body when the type
         * carries a length. */
        if (len - pos < skip || len - pos - skip < n) {
            return AUGUR_EMALFORMED;
        }
        pos += skip + (size_t)n;
    }
    if (pos != len) {
        return AUGUR_EMALFORMED;
    }
    *objects = (size_t)seen;
    return 0;
}

int proto_payload_unpack(const uint8_t *payload,
                         size_t len,
                         msgpack_unpacked *out)
{
    return proto_payload_unpack_max(payload, len, PROTO_OBJECTS_MAX, out, NULL);
}

int proto_payload_unpack_max(const uint8_t *payload,
                             size_t len,
                             size_t max_objects,
                             msgpack_unpacked *out,
                             size_t *objects)
{
    size_t off = 0;
    size_t count = 0;
    msgpack_unpack_return rv;
    int err;

    msgpack_unpacked_destroy(out);
    err = payload_shape_check(payload, len, max_objects, &count);
    if (err != 0) {
        return err;
    }
    if (objects != NULL) {
        *objects = count;
    }
    rv = msgpack_unpack_next(out, (const char *)payload, len, &off);
    if (rv == MSGPACK_UNPACK_NOMEM_ERROR) {
        msgpack_unpacked_destroy(out);
        return AUGUR_ENOMEM;
    }
    /* The shape check passed, so anything but one whole object here is
     * msgpack-c's own limit (nesting deeper than its parse stack). */
    if (rv != MSGPACK_UNPACK_SUCCESS || off != len ||
        out->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(out);
        return AUGUR_EMALFORMED;
    }
    return 0;
}

/* Decoding helpers over a msgpack map. */

static int key_is(const msgpack_object *key, const char *name)
{
    size_t n = strlen(name);

    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == n &&
           memcmp(key->via.str.ptr, name, n) == 0;
}

int proto_hello_decode(const msgpack_object *map,
                       struct proto_hello *h,
                       char *errmsg)
{
    int have_v = 0;
    int have_client = 0;
    int have_auth = 0;

    memset(h, 0, sizeof *h);
    if (map->type != MSGPACK_OBJECT_MAP) {
        set_errmsg(errmsg, "hello is not a map");
        return AUGUR_EMALFORMED;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *v = &map->via.map.ptr[i].val;

        if (key_is(k, "v")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0 ||
                v->via.u64 > UINT32_MAX) {
                set_errmsg(errmsg, "hello: \"v\" must be an integer >= 1");
                return AUGUR_EMALFORMED;
            }
            h->version = (uint32_t)v->via.u64;
            have_v = 1;
        } else if (key_is(k, "client")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0) {
                set_errmsg(errmsg, "hello: \"client\" must be an integer >= 1");
                return AUGUR_EMALFORMED;
            }
            h->client = v->via.u64;
            have_client = 1;
        } else if (key_is(k, "auth")) {
            if (v->type != MSGPACK_OBJECT_STR) {
                set_errmsg(errmsg, "hello: \"auth\" must be a string");
                return AUGUR_EMALFORMED;
            }
            if (v->via.str.size >= sizeof h->auth) {
                set_errmsg(errmsg, "hello: \"auth\" longer than %zu bytes",
                           sizeof h->auth - 1);
                return AUGUR_EMALFORMED;
            }
            memcpy(h->auth, v->via.str.ptr, v->via.str.size);
            h->auth[v->via.str.size] = '\0';
            have_auth = 1;
        }
    }
    if (!have_v || !have_client || !have_auth) {
        set_errmsg(errmsg, "hello: missing \"%s\"",
                   !have_v        ? "v"
                   : !have_client ? "client"
                                  : "auth");
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int proto_hello_encode(msgpack_sbuffer *out, const struct proto_hello *h)
{
    msgpack_packer pk;
    size_t start;
    int err;

    err = frame_begin(out, &start);
    if (err != 0) {
        return err;
    }
    packer_init(&pk, out);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "v") != 0 ||
        msgpack_pack_uint32(&pk, h->version) != 0 ||
        pack_cstr(&pk, "client") != 0 ||
        msgpack_pack_uint64(&pk, h->client) != 0 ||
        pack_cstr(&pk, "auth") != 0 ||
        msgpack_pack_str_with_body(&pk, h->auth,
                                   strnlen(h->auth, sizeof h->auth)) != 0) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return frame_end(out, start, PROTO_HELLO);
}

/* Read an optional unsigned integer field of a request. */
static int request_u64(const msgpack_object *v,
                       const char *name,
                       uint64_t max,
                       uint64_t *out,
                       char *errmsg)
{
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > max) {
        set_errmsg(errmsg, "request: \"%s\" must be an integer in 0..%llu",
                   name, (unsigned long long)max);
        return AUGUR_EMALFORMED;
    }
    *out = v->via.u64;
    return 0;
}

int proto_request_decode(const msgpack_object *map,
                         struct proto_request *req,
                         char *errmsg)
{
    int have_id = 0;
    int have_op = 0;
    uint64_t wait_ms = 0;
    int err;

    memset(req, 0, sizeof *req);
    if (map->type != MSGPACK_OBJECT_MAP) {
        set_errmsg(errmsg, "request is not a map");
        return AUGUR_EMALFORMED;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *v = &map->via.map.ptr[i].val;

        if (key_is(k, "id")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0) {
                set_errmsg(errmsg, "request: \"id\" must be an integer >= 1");
                return AUGUR_EMALFORMED;
            }
            req->id = v->via.u64;
            have_id = 1;
        } else if (key_is(k, "op")) {
            if (v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 ||
                v->via.str.size > PROTO_OP_MAX) {
                set_errmsg(errmsg,
                           "request: \"op\" must be a string of 1 to %d "
                           "bytes",
                           PROTO_OP_MAX);
                return AUGUR_EMALFORMED;
            }
            req->op = v->via.str.ptr;
            req->op_len = v->via.str.size;
            have_op = 1;
        } else if (key_is(k, "args")) {
            if (v->type != MSGPACK_OBJECT_MAP) {
                set_errmsg(errmsg, "request: \"args\" must be a map");
                return AUGUR_EMALFORMED;
            }
            req->args = v;
        } else if (key_is(k, "seq")) {
            err = request_u64(v, "seq", UINT64_MAX, &req->seq, errmsg);
            if (err != 0) {
                return err;
            }
        } else if (key_is(k, "ack")) {
            err = request_u64(v, "ack", UINT64_MAX, &req->ack, errmsg);
            if (err != 0) {
                return err;
            }
        } else if (key_is(k, "wait_ms")) {
            err = request_u64(v, "wait_ms", UINT32_MAX, &wait_ms, errmsg);
            if (err != 0) {
                return err;
            }
            req->wait_ms = (uint32_t)wait_ms;
        } else if (key_is(k, "stale")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) {
                set_errmsg(errmsg, "request: \"stale\" must be a boolean");
                return AUGUR_EMALFORMED;
            }
            req->stale = v->via.boolean ? 1 : 0;
        }
        /* Unknown keys are ignored so that later versions can add some. */
    }
    if (!have_id || !have_op) {
        set_errmsg(errmsg, "request: missing \"%s\"", !have_id ? "id" : "op");
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int proto_request_append(msgpack_sbuffer *out,
                         const struct proto_request *req,
                         const void *args,
                         size_t args_len)
{
    msgpack_packer pk;
    size_t n_fields = 2;
    size_t start;
    int has_args = args != NULL && args_len > 0;
    int err;

    if (req->op == NULL || req->op_len == 0 || req->op_len > PROTO_OP_MAX) {
        return AUGUR_EINVAL;
    }
    n_fields += has_args ? 1 : 0;
    n_fields += req->seq != 0 ? 2 : 0;
    n_fields += req->stale ? 1 : 0;
    n_fields += req->wait_ms != 0 ? 1 : 0;

    err = frame_begin(out, &start);
    if (err != 0) {
        return err;
    }
    packer_init(&pk, out);
    if (msgpack_pack_map(&pk, n_fields) != 0 || pack_cstr(&pk, "id") != 0 ||
        msgpack_pack_uint64(&pk, req->id) != 0 || pack_cstr(&pk, "op") != 0 ||
        msgpack_pack_str_with_body(&pk, req->op, req->op_len) != 0) {
        goto err_nomem;
    }
    if (has_args &&
        (pack_cstr(&pk, "args") != 0 || append_raw(out, args, args_len) != 0)) {
        goto err_nomem;
    }
    if (req->seq != 0 && (pack_cstr(&pk, "seq") != 0 ||
                          msgpack_pack_uint64(&pk, req->seq) != 0 ||
                          pack_cstr(&pk, "ack") != 0 ||
                          msgpack_pack_uint64(&pk, req->ack) != 0)) {
        goto err_nomem;
    }
    if (req->stale &&
        (pack_cstr(&pk, "stale") != 0 || msgpack_pack_true(&pk) != 0)) {
        goto err_nomem;
    }
    if (req->wait_ms != 0 && (pack_cstr(&pk, "wait_ms") != 0 ||
                              msgpack_pack_uint32(&pk, req->wait_ms) != 0)) {
        goto err_nomem;
    }
    return frame_end(out, start, PROTO_REQUEST);

err_nomem:
    out->size = start;
    return AUGUR_ENOMEM;
}

int proto_response_append(msgpack_sbuffer *out,
                          uint64_t id,
                          const void *answer,
                          size_t answer_len)
{
    msgpack_packer pk;
    size_t start;
    int err;

    if (answer == NULL || answer_len == 0) {
        return AUGUR_EINVAL;
    }
    err = frame_begin(out, &start);
    if (err != 0) {
        return err;
    }
    packer_init(&pk, out);
    if (msgpack_pack_map(&pk, 2) != 0 || pack_cstr(&pk, "id") != 0 ||
        msgpack_pack_uint64(&pk, id) != 0 || pack_cstr(&pk, "answer") != 0 ||
        append_raw(out, answer, answer_len) != 0) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return frame_end(out, start, PROTO_RESPONSE);
}

int proto_close_append(msgpack_sbuffer *out, int status, const char *reason)
{
    msgpack_packer pk;
    size_t start;
    int err;

    err = frame_begin(out, &start);
    if (err != 0) {
        return err;
    }
    packer_init(&pk, out);
    if (msgpack_pack_map(&pk, 2) != 0 || pack_cstr(&pk, "status") != 0 ||
        msgpack_pack_int(&pk, status) != 0 || pack_cstr(&pk, "error") != 0 ||
        pack_cstr(&pk, reason != NULL ? reason : "") != 0) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return frame_end(out, start, PROTO_CLOSE);
}

int proto_answer_error(msgpack_sbuffer *out,
                       int status,
                       const char *msg,
                       const char *leader_hint)
{
    msgpack_packer pk;
    size_t start = out->size;
    int has_hint = leader_hint != NULL && leader_hint[0] != '\0';

    packer_init(&pk, out);
    if (msgpack_pack_map(&pk, has_hint ? 3 : 2) != 0 ||
        pack_cstr(&pk, "status") != 0 || msgpack_pack_int(&pk, status) != 0 ||
        pack_cstr(&pk, "error") != 0 ||
        pack_cstr(&pk, msg != NULL ? msg : augur_strerror(status)) != 0) {
        goto err_nomem;
    }
    if (has_hint &&
        (pack_cstr(&pk, "leader") != 0 || pack_cstr(&pk, leader_hint) != 0)) {
        goto err_nomem;
    }
    return 0;

err_nomem:
    out->size = start;
    return AUGUR_ENOMEM;
}

int proto_answer_status(const void *answer, size_t len, int *status)
{
    const uint8_t *p = answer;
    const uint8_t *end = p + len;
    size_t need;

    if (len == 0) {
        return AUGUR_EMALFORMED;
    }
    /* The map's header: fixmap, map 16 or map 32. */
    need = (*p & 0xf0) == 0x80 ? 1 : *p == 0xde ? 3 : *p == 0xdf ? 5 : 0;
    if (need == 0 || (size_t)(end - p) < need) {
        return AUGUR_EMALFORMED;
    }
    p += need;
    /* The key "status", as a fixstr or a str 8. */
    if (end - p >= 7 && p[0] == 0xa6 && memcmp(p + 1, "status", 6) == 0) {
        p += 7;
    } else if (end - p >= 8 && p[0] == 0xd9 && p[1] == 6 &&
               memcmp(p + 2, "status", 6) == 0) {
        p += 8;
    } else {
        return AUGUR_EMALFORMED;
    }
    /* Its value, an integer of at most 32 bits. */
    if (p == end) {
        return AUGUR_EMALFORMED;
    }
    switch (*p) {
        case 0xcc:
        case 0xd0:
            need = 2;
            break;
        case 0xcd:
        case 0xd1:
            need = 3;
            break;
        case 0xce:
        case 0xd2:
            need = 5;
            break;
        default:
            need = *p <= 0x7f || *p >= 0xe0 ? 1 : 0;
            break;
    }
    if (need == 0 || (size_t)(end - p) < need) {
        return AUGUR_EMALFORMED;
    }
    if (need == 1) {
        *status = *p <= 0x7f ? *p : (int)(int8_t)*p;
    } else {
        uint32_t u = 0;
        for (size_t i = 1; i < need; i++) {
            u = u << 8 | p[i];
        }
        int sign = *p >= 0xd0;
        if (!sign && u > INT32_MAX) {
            return AUGUR_EMALFORMED;
        }
        if (need == 2) {
            *status = sign ? (int)(int8_t)u : (int)u;
        } else if (need == 3) {
            *status = sign ? (int)(int16_t)u : (int)u;
        } else {
            *status = sign ? (int)(int32_t)u : (int)u;
        }
    }
    return 0;
}
