/* The event log: one event per revision, for watch and audit, trimmed to
 * the last STORE__EVENTS_MAX; a read from a trimmed revision is refused. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* Events are keyed by the big-endian revision, so key order is revision
 * order; the value is the event object {"rev", "time", "op", "data",
 * "principal"?} itself, served to readers as stored; "principal" names who
 * made a client's write (the cluster's own commands carry none). */

int store__event_append(struct store *s,
                        MDB_txn *txn,
                        uint64_t rev,
                        const struct store_cmd *cmd)
{
    unsigned char key[8];
    struct store__pack p;
    int rv;

    s->event.size = 0;
    store__pack_init(&p, &s->event);
    msgpack_pack_map(&p.pk, s->principal[0] != '\0' ? 5 : 4);
    store__pack_str(&p, "rev");
    msgpack_pack_uint64(&p.pk, rev);
    store__pack_str(&p, "time");
    msgpack_pack_int64(&p.pk, cmd->time_ms);
    store__pack_str(&p, "op");
    store__pack_str(&p, store_op_name(cmd->op));
    store__pack_str(&p, "data");
    store__pack_raw(&p, s->result.data, s->result.size);
    if (s->principal[0] != '\0') {
        /* The audit trail: who asked for this change. */
        store__pack_str(&p, "principal");
        store__pack_str(&p, s->principal);
    }
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    store__be64_put(key, rev);
    rv = store__put(s, txn, STORE__DB_EVENTS, key, sizeof key, s->event.data,
                    s->event.size);
    if (rv != 0 || rev <= STORE__EVENTS_MAX) {
        return rv;
    }
    /* Revisions are dense, so the one event now past the window is the
     * only one to go: trimming costs one delete, not a scan. */
    store__be64_put(key, rev - STORE__EVENTS_MAX);
    rv = store__del(s, txn, STORE__DB_EVENTS, key, sizeof key);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* The revision of the oldest event kept: 1 while nothing was ever trimmed,
 * the revision after the current one when no event is kept at all. */
static int events_oldest(struct store *s, MDB_cursor *cur, uint64_t *oldest)
{
    MDB_val k;
    MDB_val v;
    int rv = store__step(s, cur, MDB_FIRST, &k, &v);

    if (rv == AUGUR_ENOTFOUND) {
        *oldest = s->rev + 1;
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    if (k.mv_size != 8) {
        snprintf(s->errmsg, sizeof s->errmsg, "an event key is corrupt");
        return AUGUR_EIO;
    }
    *oldest = store__be64_get(k.mv_data);
    return 0;
}

/* A read from a revision older than the oldest event kept would silently
 * start later and skip what was trimmed: it is refused instead, with the
 * oldest revision kept, so that a reader knows what it missed (as etcd's
 * ErrCompacted). */
static int events_refuse_compacted(struct store *s,
                                   uint64_t from,
                                   uint64_t oldest)
{
    struct store__pack *p = &s->out;

    msgpack_pack_map(&p->pk, 2);
    store__pack_str(p, "oldest");
    msgpack_pack_uint64(&p->pk, oldest);
    store__pack_str(p, "rev");
    msgpack_pack_uint64(&p->pk, s->rev);
    return store__refuse(s, AUGUR_ECOMPACTED,
                         "revision %" PRIu64
                         " was compacted: the oldest revision kept is %" PRIu64,
                         from, oldest);
}

int store__events_read(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd)
{
    uint64_t from = cmd->u.events.from == 0 ? 1 : cmd->u.events.from;
    unsigned limit = store__list_limit(cmd->u.events.limit);
    struct store__pack *p = &s->out;
    unsigned char key[8];
    uint64_t oldest;
    uint64_t last = 0;
    uint64_t next;
    MDB_cursor *cur;
    size_t n = 0;
    MDB_val k;
    MDB_val v;
    int rv;

    /* Nothing past the next revision can be waited for: a reader asking
     * further ahead has a revision from elsewhere, or none at all.  A long
     * poll parks only from the next revision (node/service.c). */
    if (from > s->rev + 1) {
        return store__refuse(s, AUGUR_EINVAL,
                             "events: 'from' %" PRIu64
                             " is beyond the next revision %" PRIu64
                             " (from > rev + 1)",
                             from, s->rev + 1);
    }
    s->items.size = 0;
    store__pack_init(&s->list, &s->items);
    rv = store__cursor(s, txn, STORE__DB_EVENTS, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = events_oldest(s, cur, &oldest);
    if (rv != 0) {
        mdb_cursor_close(cur);
        return rv;
    }
    if (from < oldest) {
        mdb_cursor_close(cur);
        return events_refuse_compacted(s, from, oldest);
    }
    store__be64_put(key, from);
    rv = store__seek(s, cur, key, sizeof key, &k, &v);
    while (rv == 0 && n < limit) {
        if (k.mv_size != sizeof key) {
            snprintf(s->errmsg, sizeof s->errmsg, "an event key is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        /* The page ends before the event that would take it past its byte
         * budget; the first event always fits. */
        if (n > 0 && s->items.size + v.mv_size > s->page_bytes) {
            break;
        }
        last = store__be64_get(k.mv_data);
        store__pack_raw(&s->list, v.mv_data, v.mv_size);
        n++;
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    if (s->list.failed) {
        return AUGUR_ENOMEM;
    }
    next = n > 0 ? last + 1 : s->rev + 1;
    msgpack_pack_map(&p->pk, 3);
    store__pack_str(p, "events");
    msgpack_pack_array(&p->pk, n);
    store__pack_raw(p, s->items.data, s->items.size);
    store__pack_str(p, "rev");
    msgpack_pack_uint64(&p->pk, s->rev);
    store__pack_str(p, "next");
    msgpack_pack_uint64(&p->pk, next);
    return p->failed ? AUGUR_ENOMEM : 0;
}

int store__event_entry_check(struct store *s,
                             const MDB_val *k,
                             const MDB_val *v)
{
    msgpack_object o;

    if (k->mv_size != 8 || store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_MAP) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}
