/* The store object: the LMDB environment, apply and read dispatch, answers
 * and the revision. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
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
};

/* The map is sparse: only written pages take disk space. */
#define STORE_MAPSIZE ((size_t)64 << 30)

static const char meta_rev_key[] = "rev";

/* ---- LMDB at the edge ------------------------------------------------- */

int store__mdb_fail(struct store *s, int rc, const char *what)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, mdb_strerror(rc));
    LOG(LOG_ERROR, "store: %s", s->errmsg);
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

static int meta_rev_put(struct store *s, MDB_txn *txn, uint64_t rev)
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

/* ---- open and close --------------------------------------------------- */

static int remove_state(const char *dir, char *errmsg)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (n < 0 || (size_t)n >= sizeof path) {
            snprintf(errmsg, STORE_ERRMSG_SIZE,
                     "state directory path is too "
                     "long");
            return AUGUR_EIO;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(errmsg, STORE_ERRMSG_SIZE, "unlink %.180s: %s", path,
                     strerror(errno));
            return AUGUR_EIO;
        }
    }
    return 0;
}

static int mdb_open_fail(char *errmsg,
                         int rc,
                         const char *what,
                         const char *dir)
{
    snprintf(errmsg, STORE_ERRMSG_SIZE, "%s %s: %s", what, dir,
             mdb_strerror(rc));
    return rc == ENOMEM ? AUGUR_ENOMEM : AUGUR_EIO;
}

int store_open(const char *dir,
               unsigned flags,
               struct store **out,
               char *errmsg)
{
    unsigned env_flags = MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS;
    struct store *s;
    MDB_txn *txn;
    int rc;
    int rv;

    if ((flags & STORE_OPEN_RESET) != 0) {
        /* A state rebuilt from the Raft log at every start need not survive
         * a crash at all: write through the map, no write() per page. */
        env_flags |= MDB_WRITEMAP | MDB_MAPASYNC;
        rv = remove_state(dir, errmsg);
        if (rv != 0) {
            return rv;
        }
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    if (!msgpack_zone_init(&s->zone, 8192)) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
        goto err_after_alloc;
    }
    msgpack_sbuffer_init(&s->result);
    msgpack_sbuffer_init(&s->items);
    msgpack_sbuffer_init(&s->value);
    msgpack_sbuffer_init(&s->event);
    store__pack_init(&s->out, &s->result);

    rc = mdb_env_create(&s->env);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_env_create", dir);
        goto err_after_zone_init;
    }
    rc = mdb_env_set_maxdbs(s->env, STORE__DB_COUNT);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(s->env, STORE_MAPSIZE);
    }
    if (rc == 0) {
        rc = mdb_env_open(s->env, dir, env_flags, 0600);
    }
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_env_open", dir);
        goto err_after_env_create;
    }

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_txn_begin", dir);
        goto err_after_env_create;
    }
    for (int i = 0; i < STORE__DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, store__db_names[i], MDB_CREATE, &s->dbi[i]);
        if (rc != 0) {
            rv = mdb_open_fail(errmsg, rc, "mdb_dbi_open", store__db_names[i]);
            goto err_after_txn_begin;
        }
    }
    rv = store__meta_rev(s, txn, &s->rev);
    if (rv != 0) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "%s", s->errmsg);
        goto err_after_txn_begin;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_txn_commit", dir);
        goto err_after_env_create;
    }

    /* One read transaction, renewed for each read: no allocation and no
     * reader-slot lookup per read.  MDB_NOTLS lets it outlive a thread. */
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_txn_begin", dir);
        goto err_after_env_create;
    }
    mdb_txn_reset(s->rtxn);
    *out = s;
    return 0;

err_after_txn_begin:
    mdb_txn_abort(txn);
err_after_env_create:
    mdb_env_close(s->env);
err_after_zone_init:
    msgpack_zone_destroy(&s->zone);
err_after_alloc:
    free(s);
    return rv;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    msgpack_sbuffer_destroy(&s->result);
    msgpack_sbuffer_destroy(&s->items);
    msgpack_sbuffer_destroy(&s->value);
    msgpack_sbuffer_destroy(&s->event);
    msgpack_zone_destroy(&s->zone);
    store__walk_close(&s->walk);
    free(s);
}

uint64_t store_revision(struct store *s)
{
    return s->rev;
}

/* ---- apply ------------------------------------------------------------ */

static void op_begin(struct store *s)
{
    s->result.size = 0;
    s->status = 0;
    s->errmsg[0] = 0;
    store__pack_init(&s->out, &s->result);
}

/* One case per row of common/ops.h: ACCESS W rows in dispatch_write, R rows
 * in dispatch_read. */
#define DISPATCH__W(ID, HANDLER) \
    case STORE_OP_##ID:          \
        return HANDLER(s, txn, cmd);
#define DISPATCH__R(ID, HANDLER)
#define DISPATCH_CASE(ID, NUM, WIRE, ACCESS, ROLE, HANDLER) \
    DISPATCH__##ACCESS(ID, HANDLER)

static int dispatch_write(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    switch (cmd->op) {
        AUGUR_STORE_OPS(DISPATCH_CASE)
        default:
            break;
    }
    return store__refuse(s, AUGUR_EINVAL, "%s is not a write",
                         store_op_name(cmd->op));
}

#undef DISPATCH__W
#undef DISPATCH__R
#define DISPATCH__W(ID, HANDLER)
#define DISPATCH__R(ID, HANDLER) \
    case STORE_OP_##ID:          \
        return HANDLER(s, txn, cmd);

static int dispatch_read(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    switch (cmd->op) {
        AUGUR_STORE_OPS(DISPATCH_CASE)
        default:
            break;
    }
    return store__refuse(s, AUGUR_EINVAL,
                         "%s is a write: it goes through "
                         "the log",
                         store_op_name(cmd->op));
}

#undef DISPATCH__W
#undef DISPATCH__R
#undef DISPATCH_CASE

/* Append the answer of the current op: its result on success, its refusal
 * (and the result it may carry) otherwise. */
static int answer_pack(struct store *s, msgpack_sbuffer *answer, uint64_t rev)
{
    struct store__pack p;

    if (s->out.failed) {
        return AUGUR_ENOMEM;
    }
    store__pack_init(&p, answer);
    if (s->status == 0) {
        msgpack_pack_map(&p.pk, 3);
        store__pack_str(&p, "status");
        msgpack_pack_int(&p.pk, 0);
        store__pack_str(&p, "rev");
        msgpack_pack_uint64(&p.pk, rev);
        store__pack_str(&p, "result");
        store__pack_raw(&p, s->result.data, s->result.size);
    } else {
        msgpack_pack_map(&p.pk, s->result.size > 0 ? 3 : 2);
        store__pack_str(&p, "status");
        msgpack_pack_int(&p.pk, s->status);
        store__pack_str(&p, "error");
        store__pack_str(&p, s->errmsg);
        if (s->result.size > 0) {
            store__pack_str(&p, "result");
            store__pack_raw(&p, s->result.data, s->result.size);
        }
    }
    return p.failed ? AUGUR_ENOMEM : 0;
}

int store_apply(struct store *s,
                const struct store_cmd *cmd,
                msgpack_sbuffer *answer)
{
    struct store__session sess = {0};
    size_t start = answer->size;
    uint64_t rev = s->rev;
    bool done = false;
    MDB_txn *txn;
    int rc;
    int rv;

    rv = store__cmd_check(cmd, s->errmsg);
    if (rv == 0 && !store_op_is_write(cmd->op)) {
        rv = AUGUR_EINVAL;
        snprintf(s->errmsg, sizeof s->errmsg, "%s is a read, not a write",
                 store_op_name(cmd->op));
    }
    if (rv != 0) {
        return store_answer_error(answer, rv, "%s", s->errmsg);
    }
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_begin");
    }
    if (cmd->client != 0) {
        rv = store__session_check(s, txn, cmd, answer, &sess, &done);
        if (rv != 0 || done) {
            /* A retry or a stale sequence: answered, nothing written. */
            mdb_txn_abort(txn);
            if (rv != 0) {
                answer->size = start;
            }
            return rv;
        }
    }

    op_begin(s);
    rv = dispatch_write(s, txn, cmd);
    if (rv != 0) {
        goto err_after_txn_begin;
    }
    /* session.expire tidies bookkeeping: it is not a change of the fleet
     * model, so it has no revision and no event. */
    if (s->status == 0 && cmd->op != STORE_OP_SESSION_EXPIRE) {
        rev = s->rev + 1;
        rv = meta_rev_put(s, txn, rev);
        if (rv == 0) {
            rv = store__event_append(s, txn, rev, cmd);
        }
        if (rv != 0) {
            goto err_after_txn_begin;
        }
    }
    rv = answer_pack(s, answer, rev);
    if (rv != 0) {
        goto err_after_txn_begin;
    }
    if (cmd->client != 0) {
        rv = store__session_record(s, txn, cmd, &sess, answer->data + start,
                                   answer->size - start);
        if (rv != 0) {
            goto err_after_txn_begin;
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        answer->size = start;
        return store__mdb_fail(s, rc, "mdb_txn_commit");
    }
    s->rev = rev;
    return 0;

err_after_txn_begin:
    mdb_txn_abort(txn);
    answer->size = start;
    return rv;
}

int store_apply_raw(struct store *s,
                    const void *buf,
                    size_t len,
                    msgpack_sbuffer *answer)
{
    char errmsg[STORE_ERRMSG_SIZE];
    int rv;

    rv = store__cmd_decode(s, buf, len, &s->cmd, errmsg);
    if (rv == AUGUR_ENOMEM) {
        /* Decoding allocates in proportion to the entry (see
         * store__msgpack_check): this is a real shortage, not bad input. */
        return rv;
    }
    if (rv != 0) {
        return store_answer_error(answer, rv, "%s", errmsg);
    }
    return store_apply(s, &s->cmd, answer);
}

/* ---- read ------------------------------------------------------------- */

int store_read(struct store *s,
               const struct store_cmd *cmd,
               msgpack_sbuffer *answer)
{
    size_t start = answer->size;
    int rc;
    int rv;

    rv = store__cmd_check(cmd, s->errmsg);
    if (rv != 0) {
        return store_answer_error(answer, rv, "%s", s->errmsg);
    }
    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    op_begin(s);
    rv = dispatch_read(s, s->rtxn, cmd);
    if (rv == 0) {
        rv = answer_pack(s, answer, s->rev);
    }
    mdb_txn_reset(s->rtxn);
    if (rv != 0) {
        answer->size = start;
    }
    return rv;
}

/* ---- list pages ------------------------------------------------------- */

int store__scan_page(struct store *s, MDB_txn *txn, struct store__scan *sc)
{
    unsigned char key[2 * STORE__KEY_MAX];
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    size_t klen = sc->prefix_len + sc->after_len;
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
        rv = sc->item(s, txn, &suffix, &v, sc->ctx);
        if (rv != 0) {
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
