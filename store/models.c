/* Models in the store: a trained model file published in chunks
 * (model.chunk), made visible by the commit that checks them all
 * (model.commit), chosen per resource kind (model.activate), listed
 * (model.list), and read back by the leader's scorer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A model record is the msgpack array
 *   [version, size, chunks, checksum hex, kind, published_at_ms]
 * keyed by the name.  A publish writes chunks to model_pending under
 * (name, upload, index); the commit moves them to model_data under (name,
 * index), replacing the previous version's, and bumps the version, so that
 * a reader never sees a model whose chunks are not all there and checked.
 * One upload per name is pending at a time: the first chunk of another
 * upload drops the chunks of the one before (an abandoned publish), which
 * bounds what pending chunks can hold to one model per name. */
#define MODEL_FIELDS 6
#define MODEL_DEFAULT_KIND "host"

struct model
{
    char name[STORE_ID_SIZE];
    uint64_t version;
    uint64_t size;
    uint64_t chunks;
    char checksum[STORE_DIGEST_HEX_SIZE];
    char kind[STORE_KIND_SIZE];
    int64_t published_at;
};

/* ---- keys and records ------------------------------------------------- */

/* name \0 [BE64 upload] BE32 index */
static size_t chunk_key(unsigned char *key,
                        const char *name,
                        bool pending,
                        uint64_t upload,
                        uint32_t index)
{
    size_t n = strlen(name) + 1;

    memcpy(key, name, n);
    if (pending) {
        store__be64_put(key + n, upload);
        n += 8;
    }
    key[n] = (unsigned char)(index >> 24);
    key[n + 1] = (unsigned char)(index >> 16);
    key[n + 2] = (unsigned char)(index >> 8);
    key[n + 3] = (unsigned char)index;
    return n + 4;
}

static int model_decode(struct store *s,
                        const MDB_val *k,
                        const MDB_val *v,
                        struct model *m)
{
    const msgpack_object *a;
    msgpack_object o;

    memset(m, 0, sizeof *m);
    if (!store__id_valid(k->mv_data, k->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    memcpy(m->name, k->mv_data, k->mv_size);
    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != MODEL_FIELDS) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    if (store__obj_u64(&a[0], &m->version) != 0 || m->version == 0 ||
        store__obj_u64(&a[1], &m->size) != 0 || m->size == 0 ||
        store__obj_u64(&a[2], &m->chunks) != 0 || m->chunks == 0 ||
        m->chunks > STORE_MODEL_CHUNKS_MAX ||
        store__obj_str(&a[3], m->checksum, sizeof m->checksum) != 0 ||
        strlen(m->checksum) != STORE_DIGEST_HEX_SIZE - 1 ||
        store__obj_str(&a[4], m->kind, sizeof m->kind) != 0 ||
        !store__id_valid(m->kind, strlen(m->kind)) ||
        store__obj_i64(&a[5], &m->published_at) != 0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

static int model_load(struct store *s,
                      MDB_txn *txn,
                      const char *name,
                      struct model *m)
{
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name};
    MDB_val v;
    int rv = store__get(s, txn, STORE__DB_MODELS, name, strlen(name), &v);

    if (rv != 0) {
        return rv;
    }
    if (model_decode(s, &k, &v, m) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the record of model %s is corrupt", name);
        return AUGUR_EIO;
    }
    return 0;
}

static int model_store(struct store *s, MDB_txn *txn, const struct model *m)
{
    struct store__pack p;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, MODEL_FIELDS);
    msgpack_pack_uint64(&p.pk, m->version);
    msgpack_pack_uint64(&p.pk, m->size);
    msgpack_pack_uint64(&p.pk, m->chunks);
    store__pack_str(&p, m->checksum);
    store__pack_str(&p, m->kind);
    msgpack_pack_int64(&p.pk, m->published_at);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    return store__put(s, txn, STORE__DB_MODELS, m->name, strlen(m->name),
                      s->value.data, s->value.size);
}

/* Pack the kinds model @name is active for: an array. */
static int active_pack(struct store *s,
                       MDB_txn *txn,
                       struct store__pack *p,
                       const char *name)
{
    char kinds[16][STORE_KIND_SIZE];
    size_t n = 0;
    size_t nlen = strlen(name);
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = store__cursor(s, txn, STORE__DB_MODEL_ACTIVE, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        if (v.mv_size == nlen && memcmp(v.mv_data, name, nlen) == 0 &&
            k.mv_size < STORE_KIND_SIZE && n < 16) {
            memcpy(kinds[n], k.mv_data, k.mv_size);
            kinds[n][k.mv_size] = '\0';
            n++;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    msgpack_pack_array(&p->pk, n);
    for (size_t i = 0; i < n; i++) {
        store__pack_str(p, kinds[i]);
    }
    return 0;
}

static int model_pack(struct store *s,
                      MDB_txn *txn,
                      struct store__pack *p,
                      const struct model *m)
{
    msgpack_pack_map(&p->pk, 8);
    store__pack_str(p, "name");
    store__pack_str(p, m->name);
    store__pack_str(p, "version");
    msgpack_pack_uint64(&p->pk, m->version);
    store__pack_str(p, "size");
    msgpack_pack_uint64(&p->pk, m->size);
    store__pack_str(p, "chunks");
    msgpack_pack_uint64(&p->pk, m->chunks);
    store__pack_str(p, "checksum");
    store__pack_str(p, m->checksum);
    store__pack_str(p, "kind");
    store__pack_str(p, m->kind);
    store__pack_str(p, "published_at");
    msgpack_pack_int64(&p->pk, m->published_at);
    store__pack_str(p, "active");
    return active_pack(s, txn, p, m->name);
}

/* Delete every key of @db that starts with @prefix. */
static int prefix_drop(struct store *s,
                       MDB_txn *txn,
                       enum store__db db,
                       const unsigned char *prefix,
                       size_t len)
{
    for (;;) {
        unsigned char key[STORE__KEY_MAX];
        MDB_cursor *cur;
        MDB_val k;
        MDB_val v;
        size_t klen;
        int rv;

        rv = store__cursor(s, txn, db, &cur);
        if (rv != 0) {
            return rv;
        }
        rv = store__seek(s, cur, prefix, len, &k, &v);
        if (rv == 0 &&
            (k.mv_size < len || memcmp(k.mv_data, prefix, len) != 0 ||
             k.mv_size > sizeof key)) {
            rv = AUGUR_ENOTFOUND;
        }
        if (rv == 0) {
            klen = k.mv_size;
            memcpy(key, k.mv_data, klen);
        }
        mdb_cursor_close(cur);
        if (rv == AUGUR_ENOTFOUND) {
            return 0;
        }
        if (rv != 0) {
            return rv;
        }
        rv = store__del(s, txn, db, key, klen);
        if (rv != 0) {
            return rv;
        }
    }
}

/* Whether a pending chunk of @name belongs to another upload than
 * @upload. */
static int pending_other(struct store *s,
                         MDB_txn *txn,
                         const char *name,
                         uint64_t upload,
                         bool *other)
{
    size_t plen = strlen(name) + 1;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    *other = false;
    rv = store__cursor(s, txn, STORE__DB_MODEL_PENDING, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__seek(s, cur, name, plen, &k, &v);
    while (rv == 0 && k.mv_size == plen + 12 &&
           memcmp(k.mv_data, name, plen) == 0) {
        if (store__be64_get((const unsigned char *)k.mv_data + plen) !=
            upload) {
            *other = true;
            break;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- ops -------------------------------------------------------------- */

int store__model_chunk(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd)
{
    const char *name = cmd->u.model.name;
    unsigned char key[STORE__KEY_MAX];
    size_t klen;
    bool other;
    int rv;

    if (cmd->u.model.index >= STORE_MODEL_CHUNKS_MAX) {
        return store__refuse(s, AUGUR_ETOOBIG,
                             "model.chunk: a model has at most %d chunks",
                             STORE_MODEL_CHUNKS_MAX);
    }
    rv = pending_other(s, txn, name, cmd->u.model.upload, &other);
    if (rv == 0 && other) {
        key[0] = '\0';
        memcpy(key, name, strlen(name) + 1);
        rv =
            prefix_drop(s, txn, STORE__DB_MODEL_PENDING, key, strlen(name) + 1);
    }
    if (rv != 0) {
        return rv;
    }
    klen = chunk_key(key, name, true, cmd->u.model.upload,
                     (uint32_t)cmd->u.model.index);
    rv = store__put(s, txn, STORE__DB_MODEL_PENDING, key, klen,
                    cmd->u.model.data.ptr, cmd->u.model.data.len);
    if (rv != 0) {
        return rv;
    }
    msgpack_pack_map(&s->out.pk, 4);
    store__pack_str(&s->out, "name");
    store__pack_str(&s->out, name);
    store__pack_str(&s->out, "upload");
    msgpack_pack_uint64(&s->out.pk, cmd->u.model.upload);
    store__pack_str(&s->out, "index");
    msgpack_pack_uint64(&s->out.pk, cmd->u.model.index);
    store__pack_str(&s->out, "size");
    msgpack_pack_uint64(&s->out.pk, cmd->u.model.data.len);
    return 0;
}

int store__model_commit(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    const char *name = cmd->u.model.name;
    uint64_t chunks = cmd->u.model.chunks;
    unsigned char key[STORE__KEY_MAX];
    unsigned char sum[32];
    char hex[STORE_DIGEST_HEX_SIZE];
    crypto_generichash_state h;
    struct model old;
    struct model m;
    uint64_t size = 0;
    int rv;

    if (chunks > STORE_MODEL_CHUNKS_MAX ||
        cmd->u.model.size > STORE_MODEL_SIZE_MAX) {
        return store__refuse(s, AUGUR_ETOOBIG,
                             "model.commit: a model has at most %d chunks "
                             "and %llu bytes",
                             STORE_MODEL_CHUNKS_MAX,
                             (unsigned long long)STORE_MODEL_SIZE_MAX);
    }
    /* Check everything before changing anything. */
    crypto_generichash_init(&h, NULL, 0, sizeof sum);
    for (uint64_t i = 0; i < chunks; i++) {
        size_t klen =
            chunk_key(key, name, true, cmd->u.model.upload, (uint32_t)i);
        MDB_val v;

        rv = store__get(s, txn, STORE__DB_MODEL_PENDING, key, klen, &v);
        if (rv == AUGUR_ENOTFOUND) {
            return store__refuse(s, AUGUR_EINVAL,
                                 "model.commit: %s: chunk %llu of %llu of "
                                 "upload %llu is missing",
                                 name, (unsigned long long)i,
                                 (unsigned long long)chunks,
                                 (unsigned long long)cmd->u.model.upload);
        }
        if (rv != 0) {
            return rv;
        }
        size += v.mv_size;
        crypto_generichash_update(&h, v.mv_data, v.mv_size);
    }
    crypto_generichash_final(&h, sum, sizeof sum);
    hex_of(sum, sizeof sum, hex);
    if (size != cmd->u.model.size) {
        return store__refuse(s, AUGUR_EINVAL,
                             "model.commit: %s: the chunks hold %llu bytes, "
                             "not %llu",
                             name, (unsigned long long)size,
                             (unsigned long long)cmd->u.model.size);
    }
    if (strcmp(hex, cmd->u.model.checksum) != 0) {
        return store__refuse(s, AUGUR_EINVAL,
                             "model.commit: %s: checksum mismatch (the chunks "
                             "hash to %.16s...)",
                             name, hex);
    }
    rv = model_load(s, txn, name, &old);
    if (rv == AUGUR_ENOTFOUND) {
        memset(&old, 0, sizeof old);
    } else if (rv != 0) {
        return rv;
    }
    /* The previous version's chunks go; the new ones move in. */
    memcpy(key, name, strlen(name) + 1);
    rv = prefix_drop(s, txn, STORE__DB_MODEL_DATA, key, strlen(name) + 1);
    for (uint64_t i = 0; i < chunks && rv == 0; i++) {
        unsigned char dkey[STORE__KEY_MAX];
        size_t klen =
            chunk_key(key, name, true, cmd->u.model.upload, (uint32_t)i);
        size_t dlen = chunk_key(dkey, name, false, 0, (uint32_t)i);
        MDB_val v;

        rv = store__get(s, txn, STORE__DB_MODEL_PENDING, key, klen, &v);
        if (rv == 0) {
            /* A put may move pages under @v: copy it first. */
            s->value.size = 0;
            if (msgpack_sbuffer_write(&s->value, v.mv_data, v.mv_size) != 0) {
                rv = AUGUR_ENOMEM;
            }
        }
        if (rv == 0) {
            rv = store__put(s, txn, STORE__DB_MODEL_DATA, dkey, dlen,
                            s->value.data, s->value.size);
        }
    }
    if (rv == 0) {
        memcpy(key, name, strlen(name) + 1);
        rv =
            prefix_drop(s, txn, STORE__DB_MODEL_PENDING, key, strlen(name) + 1);
    }
    if (rv != 0) {
        return rv;
    }
    memset(&m, 0, sizeof m);
    memcpy(m.name, name, strlen(name));
    m.version = old.version + 1;
    m.size = size;
    m.chunks = chunks;
    memcpy(m.checksum, hex, sizeof m.checksum);
    snprintf(m.kind, sizeof m.kind, "%s",
             cmd->u.model.kind[0] != '\0'
                 ? cmd->u.model.kind
                 : (old.kind[0] != '\0' ? old.kind : MODEL_DEFAULT_KIND));
    m.published_at = cmd->time_ms;
    rv = model_store(s, txn, &m);
    if (rv != 0) {
        return rv;
    }
    return model_pack(s, txn, &s->out, &m);
}

int store__model_activate(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    const char *name = cmd->u.model.name;
    const char *kind;
    struct model m;
    int rv;

    rv = model_load(s, txn, name, &m);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no model named %s", name);
    }
    if (rv != 0) {
        return rv;
    }
    kind = cmd->u.model.kind[0] != '\0' ? cmd->u.model.kind : m.kind;
    rv = store__put(s, txn, STORE__DB_MODEL_ACTIVE, kind, strlen(kind), name,
                    strlen(name));
    if (rv != 0) {
        return rv;
    }
    msgpack_pack_map(&s->out.pk, 3);
    store__pack_str(&s->out, "name");
    store__pack_str(&s->out, name);
    store__pack_str(&s->out, "kind");
    store__pack_str(&s->out, kind);
    store__pack_str(&s->out, "version");
    msgpack_pack_uint64(&s->out.pk, m.version);
    return 0;
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct model m;

    (void)ctx;
    if (model_decode(s, k, v, &m) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a model record is corrupt");
        return AUGUR_EIO;
    }
    return model_pack(s, txn, &s->list, &m);
}

int store__model_list(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    return store__list_ids(s, txn, cmd, STORE__DB_MODELS, list_item);
}

/* ---- snapshot checks -------------------------------------------------- */

int store__model_entry_check(struct store *s,
                             const MDB_val *k,
                             const MDB_val *v)
{
    struct model m;
    return model_decode(s, k, v, &m);
}

/* A chunk key: an id, NUL, [8 bytes of upload,] 4 bytes of index. */
static int chunk_entry_check(const MDB_val *k, const MDB_val *v, size_t tail)
{
    const char *key = k->mv_data;
    const char *nul = memchr(key, 0, k->mv_size);

    if (nul == NULL || !store__id_valid(key, (size_t)(nul - key)) ||
        k->mv_size != (size_t)(nul - key) + 1 + tail || v->mv_size == 0 ||
        v->mv_size > STORE_MODEL_CHUNK_MAX) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store__model_pending_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v)
{
    (void)s;
    return chunk_entry_check(k, v, 12);
}

int store__model_data_entry_check(struct store *s,
                                  const MDB_val *k,
                                  const MDB_val *v)
{
    (void)s;
    return chunk_entry_check(k, v, 4);
}

int store__model_active_entry_check(struct store *s,
                                    const MDB_val *k,
                                    const MDB_val *v)
{
    (void)s;
    if (k->mv_size >= STORE_KIND_SIZE ||
        !store__id_valid(k->mv_data, k->mv_size) ||
        !store__id_valid(v->mv_data, v->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

/* ---- the scorer's reads ----------------------------------------------- */

int store_model_active(struct store *s,
                       const char *kind,
                       char *name,
                       uint64_t *version,
                       uint64_t *size)
{
    struct model m;
    MDB_val v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__get(s, s->rtxn, STORE__DB_MODEL_ACTIVE, kind, strlen(kind), &v);
    if (rv == 0 && v.mv_size >= STORE_ID_SIZE) {
        rv = AUGUR_EIO;
    }
    if (rv == 0) {
        memcpy(name, v.mv_data, v.mv_size);
        name[v.mv_size] = '\0';
        rv = model_load(s, s->rtxn, name, &m);
    }
    if (rv == 0) {
        *version = m.version;
        *size = m.size;
    }
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store_model_read(struct store *s,
                     const char *name,
                     uint64_t *version,
                     void **buf,
                     size_t *len)
{
    unsigned char key[STORE__KEY_MAX];
    unsigned char sum[32];
    char hex[STORE_DIGEST_HEX_SIZE];
    crypto_generichash_state h;
    unsigned char *out = NULL;
    struct model m;
    size_t pos = 0;
    int rc;
    int rv;

    *buf = NULL;
    *len = 0;
    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = model_load(s, s->rtxn, name, &m);
    if (rv == 0) {
        out = malloc(m.size);
        if (out == NULL) {
            rv = AUGUR_ENOMEM;
        }
    }
    crypto_generichash_init(&h, NULL, 0, sizeof sum);
    for (uint64_t i = 0; rv == 0 && i < m.chunks; i++) {
        size_t klen = chunk_key(key, name, false, 0, (uint32_t)i);
        MDB_val v;

        rv = store__get(s, s->rtxn, STORE__DB_MODEL_DATA, key, klen, &v);
        if (rv == AUGUR_ENOTFOUND || (rv == 0 && v.mv_size > m.size - pos)) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "model %s: chunk %" PRIu64 " is missing or too long", name,
                     i);
            rv = AUGUR_EIO;
        }
        if (rv == 0) {
            memcpy(out + pos, v.mv_data, v.mv_size);
            pos += v.mv_size;
            crypto_generichash_update(&h, v.mv_data, v.mv_size);
        }
    }
    mdb_txn_reset(s->rtxn);
    if (rv == 0) {
        crypto_generichash_final(&h, sum, sizeof sum);
        hex_of(sum, sizeof sum, hex);
        if (pos != m.size || strcmp(hex, m.checksum) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "model %s: the stored bytes do not match its checksum",
                     name);
            rv = AUGUR_EIO;
        }
    }
    if (rv != 0) {
        free(out);
        return rv;
    }
    *version = m.version;
    *buf = out;
    *len = pos;
    return 0;
}
