/* msgpack packing with sticky failure, checked unpacking, and the key
 * encodings the store's records share. */
#include <string.h>

#include "store/pack.h"
#include "store/store_int.h"

/* ---- packing ---------------------------------------------------------- */

static int pack_write(void *data, const char *buf, size_t len)
{
    struct store__pack *p = data;

    if (p->failed) {
        return -1;
    }
    if (msgpack_sbuffer_write(p->sb, buf, len) != 0) {
        p->failed = 1;
        return -1;
    }
    return 0;
}

void store__pack_init(struct store__pack *p, msgpack_sbuffer *sb)
{
    p->sb = sb;
    p->failed = 0;
    msgpack_packer_init(&p->pk, p, pack_write);
}

void store__pack_strn(struct store__pack *p, const char *str, size_t len)
{
    msgpack_pack_str_with_body(&p->pk, str, len);
}

void store__pack_str(struct store__pack *p, const char *str)
{
    store__pack_strn(p, str, strlen(str));
}

void store__pack_raw(struct store__pack *p, const void *buf, size_t len)
{
    if (len > 0) {
        pack_write(p, buf, len);
    }
}

void store__pack_capacity(struct store__pack *p, const struct store_capacity *c)
{
    msgpack_pack_map(&p->pk, 2);
    store__pack_str(p, "cpu");
    msgpack_pack_uint64(&p->pk, c->cpu);
    store__pack_str(p, "mem_mb");
    msgpack_pack_uint64(&p->pk, c->mem_mb);
}

/* ---- checking and unpacking ------------------------------------------- */

/* Nesting allowed in commands and records (msgpack-c itself stops at 32). */
#define MSGPACK_DEPTH_MAX 8

static uint64_t be_get(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* The shape of one msgpack header: its own size, the payload bytes after
 * it, and the objects it contains. */
struct mp_head
{
    size_t size;
    uint64_t payload;
    uint64_t children;
};

/* Read the header at @p (@left bytes available).  Returns 0 or -1. */
static int mp_head_read(const unsigned char *p, size_t left, struct mp_head *h)
{
    unsigned char b = p[0];
    unsigned n = 0; /* width of a length field */

    h->size = 1;
    h->payload = 0;
    h->children = 0;
    if (b <= 0x7f || b >= 0xe0) {
        return 0;
    }
    if (b <= 0x8f) {
        h->children = 2u * (b & 0x0fu);
        return 0;
    }
    if (b <= 0x9f) {
        h->children = b & 0x0fu;
        return 0;
    }
    if (b <= 0xbf) {
        h->payload = b & 0x1fu;
        return 0;
    }
    switch (b) {
        case 0xc0: /* nil */
        case 0xc2: /* false */
        case 0xc3: /* true */
            return 0;
        case 0xcc:
        case 0xd0:
            h->payload = 1;
            return 0;
        case 0xcd:
        case 0xd1:
            h->payload = 2;
            return 0;
        case 0xca:
        case 0xce:
        case 0xd2:
            h->payload = 4;
            return 0;
        case 0xcb:
        case 0xcf:
        case 0xd3:
            h->payload = 8;
            return 0;
        case 0xd4:
            h->payload = 2;
            return 0;
        case 0xd5:
            h->payload = 3;
            return 0;
        case 0xd6:
            h->payload = 5;
            return 0;
        case 0xd7:
            h->payload = 9;
            return 0;
        case 0xd8:
            h->payload = 17;
            return 0;
        case 0xc4:
        case 0xc7:
        case 0xd9:
            n = 1;
            break;
        case 0xc5:
        case 0xc8:
        case 0xda:
        case 0xdc:
        case 0xde:
            n = 2;
            break;
        case 0xc6:
        case 0xc9:
        case 0xdb:
        case 0xdd:
        case 0xdf:
            n = 4;
            break;
        default: /* 0xc1 is never used */
            return -1;
    }
    if (left < 1 + (size_t)n) {
        return -1;
    }
    h->size = 1 + n;
    uint64_t len = be_get(p + 1, n);
    if (b == 0xdc || b == 0xdd) {
        h->children = len;
    } else if (b == 0xde || b == 0xdf) {
        h->children = 2 * len;
    } else if (b == 0xc7 || b == 0xc8 || b == 0xc9) {
        h->payload = len + 1; /* the ext type byte */
    } else {
        h->payload = len;
    }
    return 0;
}

int store__msgpack_check(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t left[MSGPACK_DEPTH_MAX + 1];
    uint64_t pending = 1; /* objects announced but not read yet */
    size_t pos = 0;
    int depth = 0;

    if (buf == NULL && len > 0) {
        return AUGUR_EMALFORMED;
    }
    left[0] = 1;
    while (depth >= 0) {
        struct mp_head h;

        if (left[depth] == 0) {
            depth--;
            continue;
        }
        if (pos >= len || mp_head_read(p + pos, len - pos, &h) != 0) {
            return AUGUR_EMALFORMED;
        }
        pos += h.size;
        if (h.payload > len - pos) {
            return AUGUR_EMALFORMED;
        }
        pos += (size_t)h.payload;
        left[depth]--;
        pending--;
        if (h.children > 0) {
            if (depth == MSGPACK_DEPTH_MAX) {
                return AUGUR_EMALFORMED;
            }
            /* Every announced object takes at least one byte: a count the
             * rest of the buffer cannot back is a lie, refused before
             * msgpack-c allocates room for it. */
            pending += h.children;
            if (pending > len - pos) {
                return AUGUR_EMALFORMED;
            }
            left[++depth] = h.children;
        }
    }
    return pos == len ? 0 : AUGUR_EMALFORMED;
}

int store__unpack_in(msgpack_zone *zone,
                     const void *buf,
                     size_t len,
                     msgpack_object *obj)
{
    size_t off = 0;
    msgpack_unpack_return ret;

    if (store__msgpack_check(buf, len) != 0) {
        return AUGUR_EMALFORMED;
    }
    ret = msgpack_unpack(buf, len, &off, zone, obj);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
        return AUGUR_ENOMEM;
    }
    if (ret != MSGPACK_UNPACK_SUCCESS) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store__unpack(struct store *s,
                  const void *buf,
                  size_t len,
                  msgpack_object *obj)
{
    msgpack_zone_clear(&s->zone);
    return store__unpack_in(&s->zone, buf, len, obj);
}

int store__obj_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return AUGUR_EMALFORMED;
    }
    *out = o->via.u64;
    return 0;
}

int store__obj_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return AUGUR_EMALFORMED;
}

int store__obj_str(const msgpack_object *o, char *out, size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size) {
        return AUGUR_EMALFORMED;
    }
    /* An empty string may come without a pointer. */
    if (o->via.str.size == 0) {
        out[0] = 0;
        return 0;
    }
    if (memchr(o->via.str.ptr, 0, o->via.str.size) != NULL) {
        return AUGUR_EMALFORMED;
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return 0;
}

/* ---- keys ------------------------------------------------------------- */

void store__be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t store__be64_get(const unsigned char *p)
{
    return be_get(p, 8);
}

size_t store__pair_key(unsigned char *key, const char *a, const char *b)
{
    size_t la = strnlen(a, STORE_ID_SIZE - 1);
    size_t lb = strnlen(b, STORE_ID_SIZE - 1);

    memcpy(key, a, la);
    key[la] = 0;
    memcpy(key + la + 1, b, lb);
    return la + 1 + lb;
}

int store__pair_split(const MDB_val *k, char *a, char *b)
{
    const char *p = k->mv_data;
    const char *nul = memchr(p, 0, k->mv_size);
    size_t la;
    size_t lb;

    if (nul == NULL) {
        return AUGUR_EMALFORMED;
    }
    la = (size_t)(nul - p);
    lb = k->mv_size - la - 1;
    if (!store__id_valid(p, la) || !store__id_valid(nul + 1, lb)) {
        return AUGUR_EMALFORMED;
    }
    memcpy(a, p, la);
    a[la] = 0;
    memcpy(b, nul + 1, lb);
    b[lb] = 0;
    return 0;
}
