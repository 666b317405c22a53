/* Client sessions: at-most-once writes through remembered answers, and
 * their expiry (Raft dissertation §6.3). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A session is the record [floor, last_time_ms] keyed by the BE client
 * id: floor is the highest ack the client sent (it no longer awaits any
 * answer below it), last_time_ms the leader time of its latest write.
 * session_times indexes sessions by that time (BE time with the sign bit
 * flipped, so that negative times sort first, then the BE client), so that
 * session.expire visits only the sessions it drops.  answers holds, under
 * (BE client, BE seq), the answer bytes of every write not acknowledged
 * yet, refusals included. */

static void answer_key(unsigned char *key, uint64_t client, uint64_t seq)
{
    store__be64_put(key, client);
    store__be64_put(key + 8, seq);
}

static void time_key(unsigned char *key, int64_t time_ms, uint64_t client)
{
    store__be64_put(key, (uint64_t)time_ms ^ ((uint64_t)1 << 63));
    store__be64_put(key + 8, client);
}

static int session_load(struct store *s,
                        MDB_txn *txn,
                        uint64_t client,
                        struct store__session *sess)
{
    unsigned char key[8];
    msgpack_object o;
    MDB_val v;
    int rv;

    memset(sess, 0, sizeof *sess);
    store__be64_put(key, client);
    rv = store__get(s, txn, STORE__DB_SESSIONS, key, sizeof key, &v);
    if (rv == AUGUR_ENOTFOUND) {
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    if (store__unpack(s, v.mv_data, v.mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
        store__obj_u64(&o.via.array.ptr[0], &sess->floor) != 0 ||
        store__obj_i64(&o.via.array.ptr[1], &sess->last_time_ms) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the session of client %016" PRIx64 " is corrupt", client);
        return AUGUR_EIO;
    }
    sess->exists = true;
    return 0;
}

/* Forget the answers of @client with seq < @below (all of them with
 * @all).  Each delete re-seeks: cheap, and independent of how a cursor
 * moves after a delete. */
static int answers_forget(struct store *s,
                          MDB_txn *txn,
                          uint64_t client,
                          uint64_t below,
                          bool all)
{
    unsigned char start[16];
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = store__cursor(s, txn, STORE__DB_ANSWERS, &cur);
    if (rv != 0) {
        return rv;
    }
    answer_key(start, client, 0);
    for (;;) {
        const unsigned char *key;
        int rc;

        rv = store__seek(s, cur, start, sizeof start, &k, &v);
        if (rv != 0) {
            break;
        }
        key = k.mv_data;
        if (k.mv_size != sizeof start || store__be64_get(key) != client ||
            (!all && store__be64_get(key + 8) >= below)) {
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            rv = store__mdb_fail(s, rc, "mdb_cursor_del");
            break;
        }
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store__session_check(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd,
                         msgpack_sbuffer *answer,
                         struct store__session *sess,
                         bool *done)
{
    unsigned char key[16];
    MDB_val v;
    int rv;

    *done = false;
    answer_key(key, cmd->client, cmd->seq);
    rv = store__get(s, txn, STORE__DB_ANSWERS, key, sizeof key, &v);
    if (rv == 0) {
        /* A retry: the same bytes as the first time, and no change. */
        *done = true;
        if (msgpack_sbuffer_write(answer, v.mv_data, v.mv_size) != 0) {
            return AUGUR_ENOMEM;
        }
        return 0;
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    rv = session_load(s, txn, cmd->client, sess);
    if (rv != 0) {
        return rv;
    }
    if (cmd->seq < sess->floor) {
        /* The client acknowledged this answer, so it is forgotten: applying
         * the write again could apply it twice. */
        *done = true;
        return store_answer_error(answer, AUGUR_ESESSION,
                                  "sequence %" PRIu64 " of client %016" PRIx64
                                  " is below its session's floor %" PRIu64
                                  ": its answer was acknowledged and forgotten",
                                  cmd->seq, cmd->client, sess->floor);
    }
    return 0;
}

int store__session_record(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd,
                          const struct store__session *sess,
                          const void *answer,
                          size_t len)
{
    static const unsigned char nil = 0xc0;
    unsigned char key[16];
    struct store__pack p;
    uint64_t floor = sess->floor;
    int64_t last = cmd->time_ms;
    int rv;

    if (cmd->ack > floor) {
        rv = answers_forget(s, txn, cmd->client, cmd->ack, false);
        if (rv != 0) {
            return rv;
        }
        floor = cmd->ack;
    }
    /* Leader clocks may step back across a leader change: a session's
     * time never does. */
    if (sess->exists && sess->last_time_ms > last) {
        last = sess->last_time_ms;
    }
    if (!sess->exists || last != sess->last_time_ms) {
        if (sess->exists) {
            time_key(key, sess->last_time_ms, cmd->client);
            rv = store__del(s, txn, STORE__DB_SESSION_TIMES, key, sizeof key);
            if (rv != 0 && rv != AUGUR_ENOTFOUND) {
                return rv;
            }
        }
        time_key(key, last, cmd->client);
        rv = store__put(s, txn, STORE__DB_SESSION_TIMES, key, sizeof key, &nil,
                        sizeof nil);
        if (rv != 0) {
            return rv;
        }
    }
    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, 2);
    msgpack_pack_uint64(&p.pk, floor);
    msgpack_pack_int64(&p.pk, last);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    store__be64_put(key, cmd->client);
    rv = store__put(s, txn, STORE__DB_SESSIONS, key, 8, s->value.data,
                    s->value.size);
    if (rv != 0) {
        return rv;
    }
    answer_key(key, cmd->client, cmd->seq);
    return store__put(s, txn, STORE__DB_ANSWERS, key, sizeof key, answer, len);
}

/* Whether a session last seen at @last is idle past @ttl at @now:
 * last + ttl < now, without overflow. */
static bool expired(int64_t last, uint64_t ttl, int64_t now)
{
    if (now <= last) {
        return false;
    }
    return ttl < (uint64_t)now - (uint64_t)last;
}

int store__session_expire(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    MDB_cursor *cur;
    uint64_t n = 0;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = store__cursor(s, txn, STORE__DB_SESSION_TIMES, &cur);
    if (rv != 0) {
        return rv;
    }
    for (;;) {
        const unsigned char *key;
        unsigned char skey[8];
        uint64_t client;
        int64_t last;
        int rc;

        rv = store__step(s, cur, MDB_FIRST, &k, &v);
        if (rv != 0) {
            break;
        }
        key = k.mv_data;
        if (k.mv_size != 16) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the session time index is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        last = (int64_t)(store__be64_get(key) ^ ((uint64_t)1 << 63));
        client = store__be64_get(key + 8);
        if (!expired(last, cmd->u.expire.ttl_ms, cmd->time_ms)) {
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            rv = store__mdb_fail(s, rc, "mdb_cursor_del");
            break;
        }
        store__be64_put(skey, client);
        rv = store__del(s, txn, STORE__DB_SESSIONS, skey, sizeof skey);
        if (rv == 0 || rv == AUGUR_ENOTFOUND) {
            rv = answers_forget(s, txn, client, 0, true);
        }
        if (rv != 0) {
            break;
        }
        n++;
    }
    mdb_cursor_close(cur);
    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    msgpack_pack_map(&s->out.pk, 1);
    store__pack_str(&s->out, "expired");
    msgpack_pack_uint64(&s->out.pk, n);
    return 0;
}

/* ---- snapshot checks -------------------------------------------------- */

int store__session_entry_check(struct store *s,
                               const MDB_val *k,
                               const MDB_val *v)
{
    msgpack_object o;
    uint64_t floor;
    int64_t last;

    if (k->mv_size != 8 || store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
        store__obj_u64(&o.via.array.ptr[0], &floor) != 0 ||
        store__obj_i64(&o.via.array.ptr[1], &last) != 0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store__session_time_entry_check(struct store *s,
                                    const MDB_val *k,
                                    const MDB_val *v)
{
    (void)s;
    if (k->mv_size != 16 || v->mv_size != 1 ||
        *(const unsigned char *)v->mv_data != 0xc0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store__answer_entry_check(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v)
{
    msgpack_object o;

    if (k->mv_size != 16 || store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_MAP) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}
