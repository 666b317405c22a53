/* Snapshots of the whole state, their restore, and the state digest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* Snapshot format, all integers big-endian:
 *
 *   "AUGURSNP"  u32 version (2)  u32 number of databases
 *   per database, in enum store__db order:
 *     u8 name length, name, u64 number of entries,
 *     per entry in key order: u32 key length, key, u32 value length, value
 *   32 bytes: BLAKE2b-256 of everything before them
 *
 * The digest is the same hash of the same bytes, computed without building
 * them: two stores with equal contents have equal digests.
 *
 * New databases are added at the end of enum store__db, so a snapshot made
 * before one existed holds a prefix of today's list: it restores, and the
 * databases it lacks start empty (a node upgraded in place still reads the
 * snapshots it took before). */
static const unsigned char snapshot_magic[8] = {'A', 'U', 'G', 'U',
                                                'R', 'S', 'N', 'P'};
#define SNAPSHOT_VERSION 2
/* Version 1 keyed sessions by the client id alone and kept answers without
 * a digest: its entries are read as the sessions of no principal
 * (store__session_entry_upgrade), so a node can still start from one. */
#define SNAPSHOT_VERSION_MIN 1
#define SNAPSHOT_HEADER (sizeof snapshot_magic + 4 + 4)
#define SNAPSHOT_SUM 32

typedef int (*entry_check_fn)(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v);

/* Databases of a record kind are checked through its descriptor; the others
 * (indexes, meta, the event log, sessions) by their own function. */
static const struct store__record *const records[STORE__DB_COUNT] = {
    [STORE__DB_RESOURCES] = &store__resource_record,
    [STORE__DB_WORKLOADS] = &store__workload_record,
    [STORE__DB_CLAIMS] = &store__claim_record,
    [STORE__DB_NODES] = &store__node_record,
    [STORE__DB_PRINCIPALS] = &store__principal_record,
    [STORE__DB_COHORTS] = &store__cohort_record,
    [STORE__DB_WORKFLOWS] = &store__workflow_record,
    [STORE__DB_STANDBY] = &store__standby_record,
};

static const entry_check_fn entry_checks[STORE__DB_COUNT] = {
    [STORE__DB_META] = store__meta_entry_check,
    [STORE__DB_PICK] = store__pick_entry_check,
    [STORE__DB_HOST_CLAIMS] = store__host_claim_entry_check,
    [STORE__DB_EDGES] = store__edge_entry_check,
    [STORE__DB_REDGES] = store__edge_entry_check,
    [STORE__DB_EVENTS] = store__event_entry_check,
    [STORE__DB_SESSIONS] = store__session_entry_check,
    [STORE__DB_SESSION_TIMES] = store__session_time_entry_check,
    [STORE__DB_ANSWERS] = store__answer_entry_check,
    [STORE__DB_PRINCIPAL_KEYS] = store__principal_key_entry_check,
    [STORE__DB_REVOKED] = store__revoked_entry_check,
    [STORE__DB_MODELS] = store__model_entry_check,
    [STORE__DB_MODEL_PENDING] = store__model_pending_entry_check,
    [STORE__DB_MODEL_DATA] = store__model_data_entry_check,
    [STORE__DB_MODEL_ACTIVE] = store__model_active_entry_check,
    [STORE__DB_COHORT_OF] = store__cohort_of_entry_check,
    [STORE__DB_POLICY] = store__policy_entry_check,
    [STORE__DB_WORKFLOW_OF] = store__workflow_of_entry_check,
    [STORE__DB_WORKLOAD_MOVES] = store__workload_move_entry_check,
    [STORE__DB_HOST_STANDBY] = store__host_standby_entry_check,
};

/* Where serialized state goes: counted always, copied into @buf when set,
 * hashed into @hash when set. */
struct sink
{
    unsigned char *buf;
    size_t len;
    crypto_generichash_state *hash;
};

static void sink_write(struct sink *k, const void *p, size_t n)
{
    if (k->buf != NULL) {
        memcpy(k->buf + k->len, p, n);
    }
    if (k->hash != NULL) {
        crypto_generichash_update(k->hash, p, n);
    }
    k->len += n;
}

static void sink_u32(struct sink *k, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    sink_write(k, b, sizeof b);
}

static void sink_u64(struct sink *k, uint64_t v)
{
    unsigned char b[8];
    store__be64_put(b, v);
    sink_write(k, b, sizeof b);
}

/* Translate an LMDB failure of a snapshot into @errmsg: the snapshot may
 * be built on another thread than the store's, so it never writes the
 * store's own message, and it does not log (the caller does). */
static int emit_fail(char *errmsg, int rc, const char *what)
{
    snprintf(errmsg, STORE_ERRMSG_SIZE, "%s: %s", what, mdb_strerror(rc));
    return rc == ENOMEM ? AUGUR_ENOMEM : AUGUR_EIO;
}

/* Serialize the state of @txn (everything but the checksum) into @k.  Only
 * reads @s's handles; a failure's reason goes to @errmsg
 * (STORE_ERRMSG_SIZE bytes). */
static int state_emit(const struct store *s,
                      MDB_txn *txn,
                      struct sink *k,
                      char *errmsg)
{
    sink_write(k, snapshot_magic, sizeof snapshot_magic);
    sink_u32(k, SNAPSHOT_VERSION);
    sink_u32(k, STORE__DB_COUNT);
    for (int db = 0; db < STORE__DB_COUNT; db++) {
        const char *name = store__db_names[db];
        unsigned char name_len = (unsigned char)strlen(name);
        MDB_cursor *cur;
        uint64_t n = 0;
        MDB_stat st;
        MDB_val key;
        MDB_val val;
        int rc;
        int rv;

        rc = mdb_stat(txn, s->dbi[db], &st);
        if (rc != 0) {
            return emit_fail(errmsg, rc, "mdb_stat");
        }
        sink_write(k, &name_len, 1);
        sink_write(k, name, name_len);
        sink_u64(k, st.ms_entries);
        rc = mdb_cursor_open(txn, s->dbi[db], &cur);
        if (rc != 0) {
            return emit_fail(errmsg, rc, "mdb_cursor_open");
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        rv = 0;
        while (rc == 0) {
            if (val.mv_size > UINT32_MAX) {
                snprintf(errmsg, STORE_ERRMSG_SIZE, "%s: value too large",
                         name);
                rv = AUGUR_EIO;
                break;
            }
            sink_u32(k, (uint32_t)key.mv_size);
            sink_write(k, key.mv_data, key.mv_size);
            sink_u32(k, (uint32_t)val.mv_size);
            sink_write(k, val.mv_data, val.mv_size);
            n++;
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rv != 0) {
            return rv;
        }
        if (rc != MDB_NOTFOUND) {
            return emit_fail(errmsg, rc, "mdb_cursor_get");
        }
        if (n != st.ms_entries) {
            snprintf(errmsg, STORE_ERRMSG_SIZE,
                     "%s: %llu entries walked, %llu counted", name,
                     (unsigned long long)n, (unsigned long long)st.ms_entries);
            return AUGUR_EIO;
        }
    }
    return 0;
}

/* Build a snapshot of the state @txn sees, in a buffer from @alloc.  On
 * failure the buffer, if any, goes back to @release (NULL: it cannot, and is
 * lost) and the reason is in @errmsg. */
static int snapshot_build(const struct store *s,
                          MDB_txn *txn,
                          void *(*alloc)(size_t),
                          void (*release)(void *),
                          void **buf,
                          size_t *len,
                          char *errmsg)
{
    struct sink k = {0};
    unsigned char *out;
    size_t size;
    int rv;

    /* Two passes over one read transaction: the first sizes the buffer,
     * the second fills it, and both see the same state. */
    rv = state_emit(s, txn, &k, errmsg);
    if (rv != 0) {
        return rv;
    }
    size = k.len;
    out = alloc(size + SNAPSHOT_SUM);
    if (out == NULL) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "snapshot: no memory for %zu bytes",
                 size + SNAPSHOT_SUM);
        return AUGUR_ENOMEM;
    }
    k.buf = out;
    k.len = 0;
    rv = state_emit(s, txn, &k, errmsg);
    if (rv == 0 && k.len != size) {
        /* The same read transaction walked twice differently. */
        snprintf(errmsg, STORE_ERRMSG_SIZE,
                 "snapshot: %zu bytes on the second pass, %zu on the first",
                 k.len, size);
        rv = AUGUR_EIO;
    }
    if (rv != 0) {
        if (release != NULL) {
            release(out);
        }
        return rv;
    }
    crypto_generichash(out + size, SNAPSHOT_SUM, out, size, NULL, 0);
    *buf = out;
    *len = size + SNAPSHOT_SUM;
    return 0;
}

int store_snapshot(struct store *s,
                   void *(*alloc)(size_t),
                   void **buf,
                   size_t *len)
{
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    /* @alloc comes without a free: a failure of the second pass (an LMDB
     * error on pages the first pass read) loses the buffer. */
    rv = snapshot_build(s, s->rtxn, alloc, NULL, buf, len, s->errmsg);
    mdb_txn_reset(s->rtxn);
    if (rv != 0) {
        LOG(LOG_LEVEL_ERROR, "store: %s", s->errmsg);
    }
    return rv;
}

/* An asynchronous snapshot.  Its taking runs on another thread than the
 * store's, so it has an error message of its own: it never writes
 * s->errmsg, which the loop thread uses meanwhile. */
struct store_snap
{
    struct store *store;
    MDB_txn *txn;
    char errmsg[STORE_ERRMSG_SIZE];
};

int store_snapshot_begin(struct store *s, struct store_snap **out)
{
    struct store_snap *snap = malloc(sizeof *snap);
    int rc;

    if (snap == NULL) {
        return AUGUR_ENOMEM;
    }
    snap->store = s;
    snap->errmsg[0] = '\0';
    /* The environment is MDB_NOTLS: this read transaction may be used by
     * another thread, and pins the state as of now while writes go on. */
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &snap->txn);
    if (rc != 0) {
        free(snap);
        return store__mdb_fail(s, rc, "mdb_txn_begin");
    }
    *out = snap;
    return 0;
}

int store_snapshot_take(struct store_snap *snap,
                        void *(*alloc)(size_t),
                        void (*release)(void *),
                        void **buf,
                        size_t *len)
{
    int rv;

    snap->errmsg[0] = '\0';
    rv = snapshot_build(snap->store, snap->txn, alloc, release, buf, len,
                        snap->errmsg);
    return rv;
}

/* The copy is made: let go of the pin now, not once libraft has written
 * the copy to disk.  While a read transaction is open every write allocates
 * new pages instead of reusing freed ones, and the file grows by what the
 * writes touch meanwhile.  On the loop thread, once the thread that built
 * the copy is known to be done: ending the transaction on that thread
 * would let the loop's writes reuse the pages it read with nothing but
 * LMDB's reader table between them (ThreadSanitizer reports it). */
void store_snapshot_release(struct store_snap *snap)
{
    if (snap != NULL && snap->txn != NULL) {
        mdb_txn_abort(snap->txn);
        snap->txn = NULL;
    }
}

const char *store_snapshot_errmsg(const struct store_snap *snap)
{
    return snap->errmsg;
}

void store_snapshot_end(struct store_snap *snap)
{
    if (snap != NULL) {
        if (snap->txn != NULL) {
            mdb_txn_abort(snap->txn);
        }
        free(snap);
    }
}

int store_digest(struct store *s, unsigned char out[32])
{
    crypto_generichash_state hash;
    struct sink k = {.hash = &hash};
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    crypto_generichash_init(&hash, NULL, 0, 32);
    rv = state_emit(s, s->rtxn, &k, s->errmsg);
    if (rv == 0) {
        crypto_generichash_final(&hash, out, 32);
    } else {
        LOG(LOG_LEVEL_ERROR, "store: digest: %s", s->errmsg);
    }
    mdb_txn_reset(s->rtxn);
    return rv;
}

/* ---- restore ---------------------------------------------------------- */

/* A bounded reader over the snapshot's content. */
struct reader
{
    const unsigned char *p;
    size_t len;
    size_t pos;
};

static bool read_bytes(struct reader *r, size_t n, const unsigned char **out)
{
    if (n > r->len - r->pos) {
        return false;
    }
    *out = r->p + r->pos;
    r->pos += n;
    return true;
}

static bool read_uint(struct reader *r, unsigned width, uint64_t *v)
{
    const unsigned char *b;

    if (!read_bytes(r, width, &b)) {
        return false;
    }
    *v = 0;
    for (unsigned i = 0; i < width; i++) {
        *v = (*v << 8) | b[i];
    }
    return true;
}

/* LMDB's default key order: bytewise, a prefix first. */
static int key_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = memcmp(a->mv_data, b->mv_data, n);

    if (c != 0) {
        return c;
    }
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* Walk the content (header included, checksum excluded).  Without @txn,
 * check every length, name, key order and record; with it, load every
 * entry (the databases are empty, and keys come in order). */
static int content_walk(struct store *s,
                        const unsigned char *p,
                        size_t len,
                        uint64_t version,
                        MDB_txn *txn)
{
    /* Past the magic and the version, checked by the caller. */
    struct reader r = {.p = p, .len = len, .pos = sizeof snapshot_magic + 4};
    size_t max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    uint64_t n_dbs = 0;

    if (!read_uint(&r, 4, &n_dbs) || n_dbs == 0 || n_dbs > STORE__DB_COUNT) {
        return AUGUR_EMALFORMED;
    }
    for (int db = 0; db < (int)n_dbs; db++) {
        const char *name = store__db_names[db];
        const unsigned char *b;
        uint64_t name_len;
        uint64_t count;
        MDB_val prev = {0};
        bool upgrade = version < 2 && (db == STORE__DB_SESSIONS ||
                                       db == STORE__DB_SESSION_TIMES ||
                                       db == STORE__DB_ANSWERS);
        unsigned char kbuf[STORE__SESSION_KEY_MAX];
        unsigned char prevbuf[STORE__SESSION_KEY_MAX];

        if (!read_uint(&r, 1, &name_len) || name_len != strlen(name) ||
            !read_bytes(&r, name_len, &b) || memcmp(b, name, name_len) != 0 ||
            !read_uint(&r, 8, &count) || count > (r.len - r.pos) / 8) {
            return AUGUR_EMALFORMED;
        }
        for (uint64_t i = 0; i < count; i++) {
            uint64_t klen;
            uint64_t vlen;
            MDB_val k;
            MDB_val v;

            if (!read_uint(&r, 4, &klen) || klen == 0 || klen > max_key ||
                !read_bytes(&r, klen, &b)) {
                return AUGUR_EMALFORMED;
            }
            k.mv_size = klen;
            k.mv_data = (void *)b;
            if (!read_uint(&r, 4, &vlen) || !read_bytes(&r, vlen, &b)) {
                return AUGUR_EMALFORMED;
            }
            v.mv_size = vlen;
            v.mv_data = (void *)b;
            if (upgrade &&
                store__session_entry_upgrade(s, (int)db, &k, &v, kbuf) != 0) {
                return AUGUR_EMALFORMED;
            }
            if (txn == NULL) {
                if ((i > 0 && key_cmp(&prev, &k) >= 0) ||
                    (records[db] != NULL
                         ? store__record_check(s, records[db], &k, &v)
                         : entry_checks[db](s, &k, &v)) != 0) {
                    return AUGUR_EMALFORMED;
                }
            } else {
                int rc = mdb_put(txn, s->dbi[db], &k, &v, MDB_APPEND);
                if (rc != 0) {
                    return store__mdb_fail(s, rc, "mdb_put");
                }
            }
            prev = k;
            if (upgrade) {
                /* k points into kbuf, which the next entry overwrites. */
                memcpy(prevbuf, k.mv_data, k.mv_size);
                prev.mv_data = prevbuf;
            }
        }
    }
    return r.pos == r.len ? 0 : AUGUR_EMALFORMED;
}

int store_restore(struct store *s, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    unsigned char sum[SNAPSHOT_SUM];
    uint64_t version = 0;
    uint64_t rev;
    MDB_txn *txn;
    int rc;
    int rv;

    if (buf == NULL || len < SNAPSHOT_HEADER + SNAPSHOT_SUM ||
        memcmp(p, snapshot_magic, sizeof snapshot_magic) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "snapshot: not an augur "
                 "snapshot");
        return AUGUR_EMALFORMED;
    }
    for (int i = 0; i < 4; i++) {
        version = (version << 8) | p[sizeof snapshot_magic + i];
    }
    if (version < SNAPSHOT_VERSION_MIN || version > SNAPSHOT_VERSION) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "snapshot: version %llu, this node reads %d",
                 (unsigned long long)version, SNAPSHOT_VERSION);
        return AUGUR_EMALFORMED;
    }
    len -= SNAPSHOT_SUM;
    crypto_generichash(sum, sizeof sum, p, len, NULL, 0);
    if (memcmp(sum, p + len, sizeof sum) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "snapshot: checksum mismatch");
        return AUGUR_EMALFORMED;
    }
    /* Check everything before touching anything. */
    rv = content_walk(s, p, len, version, NULL);
    if (rv != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "snapshot: malformed content");
        return AUGUR_EMALFORMED;
    }

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_begin");
    }
    for (int db = 0; db < STORE__DB_COUNT; db++) {
        rc = mdb_drop(txn, s->dbi[db], 0);
        if (rc != 0) {
            rv = store__mdb_fail(s, rc, "mdb_drop");
            goto err_after_txn_begin;
        }
    }
    rv = content_walk(s, p, len, version, txn);
    if (rv == 0) {
        rv = store__meta_rev(s, txn, &rev);
    }
    if (rv != 0) {
        goto err_after_txn_begin;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_commit");
    }
    s->rev = rev;
    s->principals_version++;
    s->orch_version++;
    s->revoked_version++;
    return 0;

err_after_txn_begin:
    mdb_txn_abort(txn);
    return rv;
}
