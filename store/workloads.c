/* Workloads: their records and the workload ops (add, get, list). */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A workload record is the msgpack array
 *   [demand_cpu, demand_mem, priority, last_epoch(, strategy)]
 * keyed by the id; last_epoch is the epoch of the last released claim.
 * The strategy (a number, enum store_strategy) is written only when it is
 * not live: records of before it decode as live, and their bytes (so the
 * digest) stay the same. */
#define RECORD_FIELDS 4
#define RECORD_FIELDS_MAX 5

static int workload_decode(struct store *s,
                           const MDB_val *k,
                           const MDB_val *v,
                           void *out)
{
    struct store__workload *w = out;
    const msgpack_object *a;
    msgpack_object o;

    memset(w, 0, sizeof *w);
    if (!store__id_valid(k->mv_data, k->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    memcpy(w->id, k->mv_data, k->mv_size);
    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size < RECORD_FIELDS ||
        o.via.array.size > RECORD_FIELDS_MAX) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    if (store__obj_u64(&a[0], &w->demand.cpu) != 0 ||
        store__obj_u64(&a[1], &w->demand.mem_mb) != 0 ||
        store__obj_i64(&a[2], &w->priority) != 0 ||
        store__obj_u64(&a[3], &w->last_epoch) != 0) {
        return AUGUR_EMALFORMED;
    }
    if (o.via.array.size == RECORD_FIELDS_MAX) {
        uint64_t strategy;
        /* Live is never written: one state, one representation. */
        if (store__obj_u64(&a[4], &strategy) != 0 || strategy == 0 ||
            strategy >= STORE_STRATEGY_COUNT) {
            return AUGUR_EMALFORMED;
        }
        w->strategy = (int)strategy;
    }
    return 0;
}

const struct store__record store__workload_record = {
    .db = STORE__DB_WORKLOADS,
    .what = "workload",
    .decode = workload_decode,
};

int store__workload_load(struct store *s,
                         MDB_txn *txn,
                         const char *id,
                         struct store__workload *w)
{
    return store__record_load(s, txn, &store__workload_record, id, w);
}

int store__workload_store(struct store *s,
                          MDB_txn *txn,
                          const struct store__workload *w)
{
    struct store__pack p;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, w->strategy != STORE_STRATEGY_LIVE
                                  ? RECORD_FIELDS_MAX
                                  : RECORD_FIELDS);
    msgpack_pack_uint64(&p.pk, w->demand.cpu);
    msgpack_pack_uint64(&p.pk, w->demand.mem_mb);
    msgpack_pack_int64(&p.pk, w->priority);
    msgpack_pack_uint64(&p.pk, w->last_epoch);
    if (w->strategy != STORE_STRATEGY_LIVE) {
        msgpack_pack_uint64(&p.pk, (uint64_t)w->strategy);
    }
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    return store__put(s, txn, STORE__DB_WORKLOADS, w->id, strlen(w->id),
                      s->value.data, s->value.size);
}

/* Pack the workload object; @c is its claim or NULL. */
static void workload_pack(struct store__pack *p,
                          const struct store__workload *w,
                          const struct store__claim *c)
{
    msgpack_pack_map(&p->pk, 5);
    store__pack_str(p, "id");
    store__pack_str(p, w->id);
    store__pack_str(p, "demand");
    store__pack_capacity(p, &w->demand);
    store__pack_str(p, "priority");
    msgpack_pack_int64(&p->pk, w->priority);
    store__pack_str(p, "strategy");
    store__pack_str(p, store_strategy_name(w->strategy));
    store__pack_str(p, "claim");
    if (c != NULL) {
        store__claim_pack(p, c);
    } else {
        msgpack_pack_nil(&p->pk);
    }
}

/* Pack @w with its claim, if it holds one. */
static int workload_pack_claimed(struct store *s,
                                 MDB_txn *txn,
                                 struct store__pack *p,
                                 const struct store__workload *w)
{
    struct store__claim c;
    int rv = store__claim_load(s, txn, w->id, &c);

    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    workload_pack(p, w, rv == 0 ? &c : NULL);
    return 0;
}

int store__workload_add(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    const char *id = cmd->u.workload_add.id;
    struct store__workload w;
    MDB_val v;
    int rv;

    rv = store__get(s, txn, STORE__DB_WORKLOADS, id, strlen(id), &v);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST, "workload %s already exists", id);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    memset(&w, 0, sizeof w);
    memcpy(w.id, id, strlen(id));
    w.demand = cmd->u.workload_add.demand;
    w.priority = cmd->u.workload_add.priority;
    w.strategy = cmd->u.workload_add.strategy;
    rv = store__workload_store(s, txn, &w);
    if (rv != 0) {
        return rv;
    }
    workload_pack(&s->out, &w, NULL);
    return 0;
}

int store__workload_get(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    struct store__workload w;
    int rv;

    rv = store__workload_load(s, txn, cmd->u.get.id, &w);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no workload named %s",
                             cmd->u.get.id);
    }
    if (rv != 0) {
        return rv;
    }
    return workload_pack_claimed(s, txn, &s->out, &w);
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store__workload w;

    (void)ctx;
    if (workload_decode(s, k, v, &w) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the record of workload %.*s is corrupt",
                 (int)(k->mv_size > 127 ? 127 : k->mv_size),
                 (const char *)k->mv_data);
        return AUGUR_EIO;
    }
    return workload_pack_claimed(s, txn, &s->list, &w);
}

int store__workload_list(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    return store__list_ids(s, txn, cmd, STORE__DB_WORKLOADS, list_item);
}
