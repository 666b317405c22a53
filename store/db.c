/* store/'s LMDB layer: the named databases, LMDB calls with their errors
 * translated once (as dqlite does at its edges), the meta database, paged
 * scans, refusals and list answers.  It calls nothing above it: the
 * operations (store/ops.h) and store.c call down into it. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/pack.h"
#include "store/store_int.h"

const char *const store__db_names[STORE__DB_COUNT] = {
    [STORE__DB_META] = "meta",
    [STORE__DB_RESOURCES] = "resources",
    [STORE__DB_PICK] = "pick",
    [STORE__DB_WORKLOADS] = "workloads",
    [STORE__DB_CLAIMS] = "claims",
    [STORE__DB_HOST_CLAIMS] = "host_claims",
    [STORE__DB_EDGES] = "edges",
    [STORE__DB_REDGES] = "redges",
    [STORE__DB_EVENTS] = "events",
    [STORE__DB_SESSIONS] = "sessions",
    [STORE__DB_SESSION_TIMES] = "session_times",
    [STORE__DB_ANSWERS] = "answers",
    [STORE__DB_NODES] = "nodes",
    [STORE__DB_PRINCIPALS] = "principals",
    [STORE__DB_PRINCIPAL_KEYS] = "principal_keys",
    [STORE__DB_REVOKED] = "revoked_node_keys",
    [STORE__DB_MODELS] = "models",
    [STORE__DB_MODEL_PENDING] = "model_pending",
    [STORE__DB_MODEL_DATA] = "model_data",
    [STORE__DB_MODEL_ACTIVE] = "model_active",
    [STORE__DB_COHORTS] = "cohorts",
    [STORE__DB_COHORT_OF] = "cohort_of",
    [STORE__DB_POLICY] = "policy",
    [STORE__DB_WORKFLOWS] = "workflows",
    [STORE__DB_WORKFLOW_OF] = "workflow_of",
    [STORE__DB_WORKLOAD_MOVES] = "workload_moves",
    [STORE__DB_STANDBY] = "standby",
    [STORE__DB_HOST_STANDBY] = "host_standby",
};

static const char meta_rev_key[] = "rev";

/* ---- LMDB at the edge ------------------------------------------------- */

int store__mdb_fail(struct store *s, int rc, const char *what)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, mdb_strerror(rc));
    LOG(LOG_LEVEL_ERROR, "store: %s", s->errmsg);
    return rc == ENOMEM ? AUGUR_ENOMEM : AUGUR_EIO;
}

int store__get(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen,
               MDB_val *val)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_get(txn, s->dbi[db], &k, val);

    if (rc == MDB_NOTFOUND) {
        return AUGUR_ENOTFOUND;
    }
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_get");
    }
    return 0;
}

int store__put(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen,
               const void *val,
               size_t vlen)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    int rc = mdb_put(txn, s->dbi[db], &k, &v, 0);

    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_put");
    }
    return 0;
}

int store__del(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(txn, s->dbi[db], &k, NULL);

    if (rc == MDB_NOTFOUND) {
        return AUGUR_ENOTFOUND;
    }
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_del");
    }
    return 0;
}

int store__cursor(struct store *s,
                  MDB_txn *txn,
                  enum store__db db,
                  MDB_cursor **cur)
{
    int rc = mdb_cursor_open(txn, s->dbi[db], cur);

    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_cursor_open");
    }
    return 0;
}

int store__step(struct store *s,
                MDB_cursor *cur,
                MDB_cursor_op op,
                MDB_val *k,
                MDB_val *v)
{
    int rc = mdb_cursor_get(cur, k, v, op);

    if (rc == MDB_NOTFOUND) {
        return AUGUR_ENOTFOUND;
    }
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_cursor_get");
    }
    return 0;
}

int store__seek(struct store *s,
                MDB_cursor *cur,
                const void *key,
                size_t klen,
                MDB_val *k,
                MDB_val *v)
{
    /* LMDB refuses empty keys: the first key >= "" is the first key. */
    if (klen == 0) {
        return store__step(s, cur, MDB_FIRST, k, v);
    }
    k->mv_size = klen;
    k->mv_data = (void *)key;
    return store__step(s, cur, MDB_SET_RANGE, k, v);
}

/* ---- refusals and lists ----------------------------------------------- */

int store__refuse(struct store *s, int status, const char *fmt, ...)
{
    va_list ap;

    s->status = status;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return 0;
}

unsigned store__list_limit(unsigned limit)
{
    if (limit == 0) {
        return STORE_LIST_LIMIT_DEFAULT;
    }
    return limit > STORE_LIST_LIMIT_MAX ? STORE_LIST_LIMIT_MAX : limit;
}

int store__list_finish(struct store *s, size_t n_items, const char *next)
{
    struct store__pack *p = &s->out;

    msgpack_pack_map(&p->pk, 2);
    store__pack_str(p, "items");
    msgpack_pack_array(&p->pk, n_items);
    store__pack_raw(p, s->items.data, s->items.size);
    store__pack_str(p, "next");
    if (next != NULL) {
        store__pack_str(p, next);
    } else {
        msgpack_pack_nil(&p->pk);
    }
    return p->failed ? AUGUR_ENOMEM : 0;
}

/* ---- meta ------------------------------------------------------------- */

int store__meta_rev(struct store *s, MDB_txn *txn, uint64_t *rev)
{
    msgpack_object o;
    MDB_val v;
    int rv;

    *rev = 0;
    rv = store__get(s, txn, STORE__DB_META, meta_rev_key,
                    sizeof meta_rev_key - 1, &v);
    if (rv == AUGUR_ENOTFOUND) {
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__unpack(s, v.mv_data, v.mv_size, &o);
    if (rv == 0) {
        rv = store__obj_u64(&o, rev);
    }
    if (rv == AUGUR_EMALFORMED) {
        snprintf(s->errmsg, sizeof s->errmsg, "the stored revision is corrupt");
        return AUGUR_EIO;
    }
    return rv;
}

int store__meta_rev_put(struct store *s, MDB_txn *txn, uint64_t rev)
{
    struct store__pack p;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_uint64(&p.pk, rev);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    return store__put(s, txn, STORE__DB_META, meta_rev_key,
                      sizeof meta_rev_key - 1, s->value.data, s->value.size);
}

static const char meta_auth_key[] = "auth";

int store__meta_auth_get(struct store *s, MDB_txn *txn, bool *set)
{
    MDB_val v;
    int rv = store__get(s, txn, STORE__DB_META, meta_auth_key,
                        sizeof meta_auth_key - 1, &v);

    *set = rv == 0;
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store__meta_auth_put(struct store *s, MDB_txn *txn)
{
    static const unsigned char one = 0x01; /* msgpack 1 */
    return store__put(s, txn, STORE__DB_META, meta_auth_key,
                      sizeof meta_auth_key - 1, &one, 1);
}

int store__meta_entry_check(struct store *s, const MDB_val *k, const MDB_val *v)
{
    msgpack_object o;
    uint64_t rev;

    if (k->mv_size == sizeof meta_auth_key - 1 &&
        memcmp(k->mv_data, meta_auth_key, k->mv_size) == 0) {
        return v->mv_size == 1 && ((const unsigned char *)v->mv_data)[0] == 1
                   ? 0
                   : AUGUR_EMALFORMED;
    }
    if (k->mv_size != sizeof meta_rev_key - 1 ||
        memcmp(k->mv_data, meta_rev_key, k->mv_size) != 0) {
        return AUGUR_EMALFORMED;
    }
    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0) {
        return AUGUR_EMALFORMED;
    }
    return store__obj_u64(&o, &rev);
}

/* ---- list pages ------------------------------------------------------- */

int store__scan_page(struct store *s, MDB_txn *txn, struct store__scan *sc)
{
    unsigned char key[2 * STORE__KEY_MAX];
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    size_t klen = sc->prefix_len + sc->after_len;
    size_t before;
    int rv;

    assert(klen <= sizeof key);
    sc->n = 0;
    sc->more = false;
    sc->last_len = 0;
    s->items.size = 0;
    store__pack_init(&s->list, &s->items);
    if (sc->prefix_len > 0) {
        memcpy(key, sc->prefix, sc->prefix_len);
    }
    if (sc->after_len > 0) {
        memcpy(key + sc->prefix_len, sc->after, sc->after_len);
    }

    rv = store__cursor(s, txn, sc->db, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__seek(s, cur, key, klen, &k, &v);
    /* The cursor is exclusive: skip the key it names. */
    if (rv == 0 && sc->after_len > 0 && k.mv_size == klen &&
        memcmp(k.mv_data, key, klen) == 0) {
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    while (rv == 0) {
        MDB_val suffix;

        if (sc->prefix_len > 0 &&
            (k.mv_size < sc->prefix_len ||
             memcmp(k.mv_data, sc->prefix, sc->prefix_len) != 0)) {
            break;
        }
        if (sc->n == sc->limit) {
            sc->more = true;
            break;
        }
        suffix.mv_data = (unsigned char *)k.mv_data + sc->prefix_len;
        suffix.mv_size = k.mv_size - sc->prefix_len;
        if (suffix.mv_size > sizeof sc->last) {
            rv = AUGUR_EIO;
            snprintf(s->errmsg, sizeof s->errmsg, "%s: key of %zu bytes",
                     store__db_names[sc->db], k.mv_size);
            break;
        }
        before = s->items.size;
        rv = sc->item(s, txn, &suffix, &v, sc->ctx);
        if (rv != 0) {
            break;
        }
        /* An item that would take the page past its byte budget starts the
         * next page instead (a first item always fits: a page is never
         * empty while items remain). */
        if (sc->n > 0 && s->items.size > s->page_bytes) {
            s->items.size = before;
            sc->more = true;
            break;
        }
        memcpy(sc->last, suffix.mv_data, suffix.mv_size);
        sc->last_len = suffix.mv_size;
        sc->n++;
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    if (rv == AUGUR_ENOTFOUND) {
        rv = 0;
    }
    if (rv == 0 && s->list.failed) {
        rv = AUGUR_ENOMEM;
    }
    return rv;
}

int store__scan_finish(struct store *s, const struct store__scan *sc)
{
    char next[STORE__KEY_MAX + 1];

    if (!sc->more) {
        return store__list_finish(s, sc->n, NULL);
    }
    memcpy(next, sc->last, sc->last_len);
    next[sc->last_len] = 0;
    return store__list_finish(s, sc->n, next);
}

int store__list_ids(struct store *s,
                    MDB_txn *txn,
                    const struct store_cmd *cmd,
                    enum store__db db,
                    int (*item)(struct store *s,
                                MDB_txn *txn,
                                const MDB_val *k,
                                const MDB_val *v,
                                void *ctx))
{
    struct store__scan sc = {
        .db = db,
        .after = cmd->u.list.after,
        .after_len = strlen(cmd->u.list.after),
        .limit = store__list_limit(cmd->u.list.limit),
        .item = item,
    };
    int rv = store__scan_page(s, txn, &sc);

    if (rv != 0) {
        return rv;
    }
    return store__scan_finish(s, &sc);
}

/* ---- records ---------------------------------------------------------- */

int store__record_load(struct store *s,
                       MDB_txn *txn,
                       const struct store__record *r,
                       const char *key,
                       void *out)
{
    MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
    MDB_val v;
    int rv;

    rv = store__get(s, txn, r->db, key, k.mv_size, &v);
    if (rv != 0) {
        return rv;
    }
    if (r->decode(s, &k, &v, out) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "the record of %s %s is corrupt",
                 r->what, key);
        LOG(LOG_LEVEL_ERROR, "store: %s", s->errmsg);
        return AUGUR_EIO;
    }
    return 0;
}

int store__record_check(struct store *s,
                        const struct store__record *r,
                        const MDB_val *k,
                        const MDB_val *v)
{
    return r->decode(s, k, v, &s->scratch_record) == 0 ? 0 : AUGUR_EMALFORMED;
}
