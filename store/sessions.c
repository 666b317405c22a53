/* Client sessions: registration, at-most-once writes through remembered
 * answers, and their expiry (Raft dissertation §6.3). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A session is the record [floor, last_time_ms] keyed by (principal key,
 * BE client id): floor is the highest ack the client sent (it no longer
 * awaits any answer below it), last_time_ms the leader time of its latest
 * write.  A command without a principal (the cluster's own, or an entry
 * from before principals were stamped) uses the all-zero key.  Keying by
 * the principal means that a client id, which the client picks and sends
 * in clear, names a session only together with the key that proved itself:
 * another principal that reuses it gets a session of its own.
 * session_times indexes sessions by that time (BE time with the sign bit
 * flipped, so that negative times sort first, then the session key), so
 * that session.expire visits only the sessions it drops.  answers holds,
 * under (session key, BE seq), the digest of the command
 * (STORE__CMD_DIGEST_SIZE bytes) then the answer bytes of every write not
 * acknowledged yet, refusals included. */

#define SESSION_KEY_SIZE (STORE_PK_SIZE + 8)
#define ANSWER_KEY_SIZE (SESSION_KEY_SIZE + 8)
#define TIME_KEY_SIZE (8 + SESSION_KEY_SIZE)

static const uint8_t no_principal[STORE_PK_SIZE];

static const uint8_t *cmd_pk(const struct store_cmd *cmd)
{
    return cmd->has_principal ? cmd->principal : no_principal;
}

static void session_key(unsigned char *key, const uint8_t *pk, uint64_t client)
{
    memcpy(key, pk, STORE_PK_SIZE);
    store__be64_put(key + STORE_PK_SIZE, client);
}

static void answer_key(unsigned char *key,
                       const uint8_t *pk,
                       uint64_t client,
                       uint64_t seq)
{
    session_key(key, pk, client);
    store__be64_put(key + SESSION_KEY_SIZE, seq);
}

static void time_key(unsigned char *key,
                     int64_t time_ms,
                     const unsigned char *skey)
{
    store__be64_put(key, (uint64_t)time_ms ^ ((uint64_t)1 << 63));
    memcpy(key + 8, skey, SESSION_KEY_SIZE);
}

static int session_load(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd,
                        struct store__session *sess)
{
    unsigned char key[SESSION_KEY_SIZE];
    msgpack_object o;
    MDB_val v;
    int rv;

    sess->exists = false;
    sess->floor = 0;
    sess->last_time_ms = 0;
    session_key(key, cmd_pk(cmd), cmd->client);
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
                 "the session of client %016" PRIx64 " is corrupt",
                 cmd->client);
        return AUGUR_EIO;
    }
    sess->exists = true;
    return 0;
}

/* Forget the answers of session @skey with seq < @below (all of them with
 * @all).  Each delete re-seeks: cheap, and independent of how a cursor
 * moves after a delete. */
static int answers_forget(struct store *s,
                          MDB_txn *txn,
                          const unsigned char *skey,
                          uint64_t below,
                          bool all)
{
    unsigned char start[ANSWER_KEY_SIZE];
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = store__cursor(s, txn, STORE__DB_ANSWERS, &cur);
    if (rv != 0) {
        return rv;
    }
    memcpy(start, skey, SESSION_KEY_SIZE);
    store__be64_put(start + SESSION_KEY_SIZE, 0);
    for (;;) {
        const unsigned char *key;
        int rc;

        rv = store__seek(s, cur, start, sizeof start, &k, &v);
        if (rv != 0) {
            break;
        }
        key = k.mv_data;
        if (k.mv_size != sizeof start ||
            memcmp(key, skey, SESSION_KEY_SIZE) != 0 ||
            (!all && store__be64_get(key + SESSION_KEY_SIZE) >= below)) {
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
    unsigned char key[ANSWER_KEY_SIZE];
    MDB_val v;
    int rv;

    *done = false;
    rv = store__cmd_digest(cmd, &s->value, sess->digest);
    if (rv != 0) {
        return rv;
    }
    /* session.open without a sequence (as libaugur sends it) is idempotent
     * by itself: no answer to look for or to remember. */
    sess->remember = cmd->seq != 0 || !cmd->has_principal;
    if (sess->remember) {
        answer_key(key, cmd_pk(cmd), cmd->client, cmd->seq);
        rv = store__get(s, txn, STORE__DB_ANSWERS, key, sizeof key, &v);
        if (rv == 0) {
            *done = true;
            if (v.mv_size < STORE__CMD_DIGEST_SIZE) {
                snprintf(s->errmsg, sizeof s->errmsg,
                         "a remembered answer is corrupt");
                return AUGUR_EIO;
            }
            if (sodium_memcmp(v.mv_data, sess->digest,
                              STORE__CMD_DIGEST_SIZE) != 0 &&
                !sodium_is_zero(v.mv_data, STORE__CMD_DIGEST_SIZE)) {
                /* Not a retry: another command under a used sequence.
                 * Answering it with the first one's answer would report a
                 * success that never happened. */
                return store_answer_error(
                    answer, AUGUR_EINVAL,
                    "sequence %" PRIu64 " of client %016" PRIx64
                    " was used for a different command: nothing applied",
                    cmd->seq, cmd->client);
            }
            /* A retry (or an answer from a version 1 snapshot, kept without
             * a digest: all zeros): the same bytes as the first time, and no
             * change. */
            if (msgpack_sbuffer_write(
                    answer, (const char *)v.mv_data + STORE__CMD_DIGEST_SIZE,
                    v.mv_size - STORE__CMD_DIGEST_SIZE) != 0) {
                return AUGUR_ENOMEM;
            }
            return 0;
        }
        if (rv != AUGUR_ENOTFOUND) {
            return rv;
        }
    }
    rv = session_load(s, txn, cmd, sess);
    if (rv != 0) {
        return rv;
    }
    if (cmd->has_principal && !sess->exists &&
        cmd->op != STORE_OP_SESSION_OPEN) {
        /* Registered sessions only (Raft dissertation §6.3): a session that
         * expired would otherwise look like a new client, and a retry of a
         * write that applied before the expiry would apply again. */
        *done = true;
        return store_answer_error(answer, AUGUR_ESESSION,
                                  "session unknown or expired: client "
                                  "%016" PRIx64
                                  " must open a new one (session.open); "
                                  "nothing applied",
                                  cmd->client);
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
    unsigned char skey[SESSION_KEY_SIZE];
    unsigned char key[ANSWER_KEY_SIZE];
    struct store__pack p;
    uint64_t floor = sess->floor;
    int64_t last = cmd->time_ms;
    int rv;

    session_key(skey, cmd_pk(cmd), cmd->client);
    if (cmd->ack > floor) {
        rv = answers_forget(s, txn, skey, cmd->ack, false);
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
            time_key(key, sess->last_time_ms, skey);
            rv = store__del(s, txn, STORE__DB_SESSION_TIMES, key, sizeof key);
            if (rv != 0 && rv != AUGUR_ENOTFOUND) {
                return rv;
            }
        }
        time_key(key, last, skey);
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
    rv = store__put(s, txn, STORE__DB_SESSIONS, skey, sizeof skey,
                    s->value.data, s->value.size);
    if (rv != 0 || !sess->remember) {
        return rv;
    }
    s->value.size = 0;
    if (msgpack_sbuffer_write(&s->value, (const char *)sess->digest,
                              STORE__CMD_DIGEST_SIZE) != 0 ||
        msgpack_sbuffer_write(&s->value, answer, len) != 0) {
        return AUGUR_ENOMEM;
    }
    answer_key(key, cmd_pk(cmd), cmd->client, cmd->seq);
    return store__put(s, txn, STORE__DB_ANSWERS, key, sizeof key, s->value.data,
                      s->value.size);
}

int store__session_open(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    (void)txn;
    if (cmd->client == 0) {
        return store__refuse(s, AUGUR_EINVAL,
                             "session.open: a session needs a client id");
    }
    /* The session is recorded (and its time refreshed) after the
     * handler, as for every write with a client id. */
    msgpack_pack_map(&s->out.pk, 1);
    store__pack_str(&s->out, "ttl_ms");
    msgpack_pack_uint64(&s->out.pk, cmd->u.expire.ttl_ms);
    return 0;
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
        unsigned char skey[SESSION_KEY_SIZE];
        const unsigned char *key;
        int64_t last;
        int rc;

        rv = store__step(s, cur, MDB_FIRST, &k, &v);
        if (rv != 0) {
            break;
        }
        key = k.mv_data;
        if (k.mv_size != TIME_KEY_SIZE) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the session time index is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        last = (int64_t)(store__be64_get(key) ^ ((uint64_t)1 << 63));
        memcpy(skey, key + 8, sizeof skey);
        if (!expired(last, cmd->u.expire.ttl_ms, cmd->time_ms)) {
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            rv = store__mdb_fail(s, rc, "mdb_cursor_del");
            break;
        }
        rv = store__del(s, txn, STORE__DB_SESSIONS, skey, sizeof skey);
        if (rv == 0 || rv == AUGUR_ENOTFOUND) {
            rv = answers_forget(s, txn, skey, 0, true);
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

    if (k->mv_size != SESSION_KEY_SIZE ||
        store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
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
    if (k->mv_size != TIME_KEY_SIZE || v->mv_size != 1 ||
        *(const unsigned char *)v->mv_data != 0xc0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store__session_entry_upgrade(struct store *s,
                                 int db,
                                 MDB_val *k,
                                 MDB_val *v,
                                 unsigned char *kbuf)
{
    static const unsigned char no_digest[STORE__CMD_DIGEST_SIZE];
    const unsigned char *old = k->mv_data;

    switch (db) {
        case STORE__DB_SESSIONS:
            if (k->mv_size != 8) {
                return AUGUR_EMALFORMED;
            }
            session_key(kbuf, no_principal, store__be64_get(old));
            k->mv_size = SESSION_KEY_SIZE;
            break;
        case STORE__DB_SESSION_TIMES:
            if (k->mv_size != 16) {
                return AUGUR_EMALFORMED;
            }
            memcpy(kbuf, old, 8);
            session_key(kbuf + 8, no_principal, store__be64_get(old + 8));
            k->mv_size = TIME_KEY_SIZE;
            break;
        case STORE__DB_ANSWERS:
            if (k->mv_size != 16) {
                return AUGUR_EMALFORMED;
            }
            answer_key(kbuf, no_principal, store__be64_get(old),
                       store__be64_get(old + 8));
            k->mv_size = ANSWER_KEY_SIZE;
            s->value.size = 0;
            if (msgpack_sbuffer_write(&s->value, (const char *)no_digest,
                                      sizeof no_digest) != 0 ||
                msgpack_sbuffer_write(&s->value, v->mv_data, v->mv_size) != 0) {
                return AUGUR_ENOMEM;
            }
            v->mv_data = s->value.data;
            v->mv_size = s->value.size;
            break;
        default:
            return AUGUR_EMALFORMED;
    }
    k->mv_data = kbuf;
    return 0;
}

int store__answer_entry_check(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v)
{
    msgpack_object o;

    if (k->mv_size != ANSWER_KEY_SIZE || v->mv_size <= STORE__CMD_DIGEST_SIZE ||
        store__unpack(s, (const char *)v->mv_data + STORE__CMD_DIGEST_SIZE,
                      v->mv_size - STORE__CMD_DIGEST_SIZE, &o) != 0 ||
        o.type != MSGPACK_OBJECT_MAP) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}
