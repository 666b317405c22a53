/* Standby claims: capacity held on a host for a workload that runs
 * elsewhere (a shadow), fenced by an epoch of its own, within the shadow
 * budget; the ops shadow.provision, update, release and list. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A standby record is the msgpack array
 *   [epoch, state, lag_ms, drift, demand_cpu, demand_mem, created_at,
 *    updated_at]
 * keyed by "workload\0host"; host_standby holds "host\0workload" -> epoch
 * for the same claim, so that a host's standbys are one prefix scan.  A
 * released standby leaves both tables. */
#define RECORD_FIELDS 8

static int standby_decode(struct store *s,
                          const MDB_val *k,
                          const MDB_val *v,
                          void *out)
{
    struct store_standby *b = out;
    const msgpack_object *a;
    msgpack_object o;
    uint64_t state;

    memset(b, 0, sizeof *b);
    if (store__pair_split(k, b->workload, b->host) != 0 ||
        store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != RECORD_FIELDS) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    if (store__obj_u64(&a[0], &b->epoch) != 0 ||
        store__obj_u64(&a[1], &state) != 0 || state >= STORE_SHADOW_RELEASED ||
        store__obj_u64(&a[2], &b->lag_ms) != 0 ||
        store__obj_str(&a[3], b->drift, sizeof b->drift) != 0 ||
        store__obj_u64(&a[4], &b->demand.cpu) != 0 ||
        store__obj_u64(&a[5], &b->demand.mem_mb) != 0 ||
        store__obj_i64(&a[6], &b->created_at) != 0 ||
        store__obj_i64(&a[7], &b->updated_at) != 0) {
        return AUGUR_EMALFORMED;
    }
    b->state = (int)state;
    return 0;
}

const struct store__record store__standby_record = {
    .db = STORE__DB_STANDBY,
    .what = "standby claim",
    .decode = standby_decode,
};

int store__standby_load(struct store *s,
                        MDB_txn *txn,
                        const char *workload,
                        const char *host,
                        struct store_standby *b)
{
    unsigned char key[STORE__KEY_MAX];
    MDB_val k;
    MDB_val v;
    int rv;

    k.mv_size = store__pair_key(key, workload, host);
    k.mv_data = key;
    rv = store__get(s, txn, STORE__DB_STANDBY, key, k.mv_size, &v);
    if (rv != 0) {
        return rv;
    }
    if (standby_decode(s, &k, &v, b) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the standby claim of workload %s on %s is corrupt", workload,
                 host);
        LOG(LOG_LEVEL_ERROR, "store: %s", s->errmsg);
        return AUGUR_EIO;
    }
    return 0;
}

static int standby_store(struct store *s,
                         MDB_txn *txn,
                         const struct store_standby *b)
{
    unsigned char key[STORE__KEY_MAX];
    struct store__pack p;
    size_t klen;
    int rv;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, RECORD_FIELDS);
    msgpack_pack_uint64(&p.pk, b->epoch);
    msgpack_pack_uint64(&p.pk, (uint64_t)b->state);
    msgpack_pack_uint64(&p.pk, b->lag_ms);
    store__pack_str(&p, b->drift);
    msgpack_pack_uint64(&p.pk, b->demand.cpu);
    msgpack_pack_uint64(&p.pk, b->demand.mem_mb);
    msgpack_pack_int64(&p.pk, b->created_at);
    msgpack_pack_int64(&p.pk, b->updated_at);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    klen = store__pair_key(key, b->workload, b->host);
    rv = store__put(s, txn, STORE__DB_STANDBY, key, klen, s->value.data,
                    s->value.size);
    if (rv != 0) {
        return rv;
    }
    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_uint64(&p.pk, b->epoch);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    klen = store__pair_key(key, b->host, b->workload);
    return store__put(s, txn, STORE__DB_HOST_STANDBY, key, klen, s->value.data,
                      s->value.size);
}

int store__standby_del(struct store *s,
                       MDB_txn *txn,
                       const struct store_standby *b)
{
    unsigned char key[STORE__KEY_MAX];
    size_t klen = store__pair_key(key, b->workload, b->host);
    int rv = store__del(s, txn, STORE__DB_STANDBY, key, klen);

    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    klen = store__pair_key(key, b->host, b->workload);
    rv = store__del(s, txn, STORE__DB_HOST_STANDBY, key, klen);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store__standby_first(struct store *s,
                         MDB_txn *txn,
                         const char *workload,
                         struct store_standby *b)
{
    unsigned char key[STORE__KEY_MAX];
    size_t plen = store__pair_key(key, workload, "");
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = store__cursor(s, txn, STORE__DB_STANDBY, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__seek(s, cur, key, plen, &k, &v);
    if (rv == 0 && (k.mv_size <= plen || memcmp(k.mv_data, key, plen) != 0)) {
        rv = AUGUR_ENOTFOUND;
    }
    if (rv == 0 && standby_decode(s, &k, &v, b) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "a standby claim of workload %s is corrupt", workload);
        rv = AUGUR_EIO;
    }
    mdb_cursor_close(cur);
    return rv;
}

static void standby_pack(struct store__pack *p, const struct store_standby *b)
{
    msgpack_pack_map(&p->pk, 9);
    store__pack_str(p, "workload");
    store__pack_str(p, b->workload);
    store__pack_str(p, "host");
    store__pack_str(p, b->host);
    store__pack_str(p, "epoch");
    msgpack_pack_uint64(&p->pk, b->epoch);
    store__pack_str(p, "state");
    store__pack_str(p, store_shadow_state_name(b->state));
    store__pack_str(p, "lag_ms");
    msgpack_pack_uint64(&p->pk, b->lag_ms);
    store__pack_str(p, "drift");
    store__pack_str(p, b->drift);
    store__pack_str(p, "demand");
    store__pack_capacity(p, &b->demand);
    store__pack_str(p, "created_at");
    msgpack_pack_int64(&p->pk, b->created_at);
    store__pack_str(p, "updated_at");
    msgpack_pack_int64(&p->pk, b->updated_at);
}

/* The total demand of every standby claim (bounded by the budget, so by
 * the number of standbys it admits). */
static int standby_total(struct store *s,
                         MDB_txn *txn,
                         struct store_capacity *total)
{
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    total->cpu = 0;
    total->mem_mb = 0;
    rv = store__cursor(s, txn, STORE__DB_STANDBY, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        struct store_standby b;
        if (standby_decode(s, &k, &v, &b) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a standby claim is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        total->cpu += b.demand.cpu;
        total->mem_mb += b.demand.mem_mb;
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* ---- ops -------------------------------------------------------------- */

int store__shadow_provision(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd)
{
    const char *wid = cmd->u.shadow.workload;
    const char *hid = cmd->u.shadow.host;
    struct store_capacity total;
    struct store_policy pol;
    struct store__resource r;
    struct store__workload w;
    struct store__claim c;
    struct store_standby b;
    int rv;

    rv = store__workload_load(s, txn, wid, &w);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no workload named %s", wid);
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__claim_load(s, txn, wid, &c);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND,
                             "workload %s holds no active claim: a standby "
                             "shadows a running workload",
                             wid);
    }
    if (rv != 0) {
        return rv;
    }
    if (strcmp(c.host, hid) == 0) {
        return store__refuse(s, AUGUR_EINVAL,
                             "workload %s runs on %s: its standby goes "
                             "elsewhere",
                             wid, hid);
    }
    rv = store__standby_load(s, txn, wid, hid, &b);
    if (rv == 0) {
        store__refuse(s, AUGUR_EEXIST,
                      "workload %s already has a standby claim on %s", wid,
                      hid);
        standby_pack(&s->out, &b);
        return 0;
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    rv = store__resource_load(s, txn, hid, &r);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s", hid);
    }
    if (rv != 0) {
        return rv;
    }
    if (!store__claim_grantable(s, &r, &w, false)) {
        return 0;
    }
    rv = store__policy_load(s, txn, &pol);
    if (rv == 0) {
        rv = standby_total(s, txn, &total);
    }
    if (rv != 0) {
        return rv;
    }
    if (w.demand.cpu > pol.shadow_budget_cpu - total.cpu ||
        w.demand.mem_mb > pol.shadow_budget_mem_mb - total.mem_mb ||
        total.cpu > pol.shadow_budget_cpu ||
        total.mem_mb > pol.shadow_budget_mem_mb) {
        return store__refuse(
            s, AUGUR_ENOCAPACITY,
            "the shadow budget (cpu %" PRIu64 ", mem_mb %" PRIu64
            ") has no room for workload %s (standbys hold cpu %" PRIu64
            ", mem_mb %" PRIu64 "; demand cpu %" PRIu64 ", mem_mb %" PRIu64 ")",
            pol.shadow_budget_cpu, pol.shadow_budget_mem_mb, wid, total.cpu,
            total.mem_mb, w.demand.cpu, w.demand.mem_mb);
    }

    memset(&b, 0, sizeof b);
    memcpy(b.workload, w.id, sizeof b.workload);
    memcpy(b.host, r.id, sizeof b.host);
    b.epoch = c.epoch;
    b.state = STORE_SHADOW_PROVISIONING;
    b.demand = w.demand;
    b.created_at = cmd->time_ms;
    b.updated_at = cmd->time_ms;
    rv = store__host_charge(s, txn, hid, &w.demand, false);
    if (rv == 0) {
        rv = standby_store(s, txn, &b);
    }
    if (rv != 0) {
        return rv;
    }
    standby_pack(&s->out, &b);
    return 0;
}

/* Load the standby a command names and check its epoch: false with a
 * refusal (the current standby in the result) when it may not go on. */
static int standby_cas(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd,
                       struct store_standby *b,
                       bool *ok)
{
    int rv = store__standby_load(s, txn, cmd->u.shadow.workload,
                                 cmd->u.shadow.host, b);

    *ok = false;
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND,
                             "workload %s has no standby claim on %s",
                             cmd->u.shadow.workload, cmd->u.shadow.host);
    }
    if (rv != 0) {
        return rv;
    }
    if (b->epoch != cmd->u.shadow.epoch) {
        store__refuse(s, AUGUR_ECONFLICT,
                      "the standby claim of workload %s on %s is at epoch "
                      "%" PRIu64,
                      b->workload, b->host, b->epoch);
        standby_pack(&s->out, b);
        return 0;
    }
    *ok = true;
    return 0;
}

static int standby_release(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd,
                           struct store_standby *b)
{
    int rv = store__host_charge(s, txn, b->host, &b->demand, true);

    if (rv == 0) {
        rv = store__standby_del(s, txn, b);
    }
    if (rv != 0) {
        return rv;
    }
    b->state = STORE_SHADOW_RELEASED;
    b->updated_at = cmd->time_ms;
    standby_pack(&s->out, b);
    return 0;
}

int store__shadow_update(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    struct store_standby b;
    bool ok;
    int rv = standby_cas(s, txn, cmd, &b, &ok);

    if (rv != 0 || !ok) {
        return rv;
    }
    b.lag_ms = cmd->u.shadow.lag_ms;
    memcpy(b.drift, cmd->u.shadow.drift, sizeof b.drift);
    b.updated_at = cmd->time_ms;
    if (cmd->u.shadow.state == STORE_SHADOW_RELEASED) {
        return standby_release(s, txn, cmd, &b);
    }
    b.state = cmd->u.shadow.state;
    rv = standby_store(s, txn, &b);
    if (rv != 0) {
        return rv;
    }
    standby_pack(&s->out, &b);
    return 0;
}

int store__shadow_release(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    struct store_standby b;
    bool ok;
    int rv = standby_cas(s, txn, cmd, &b, &ok);

    if (rv != 0 || !ok) {
        return rv;
    }
    return standby_release(s, txn, cmd, &b);
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store_standby b;

    (void)txn;
    (void)ctx;
    if (standby_decode(s, k, v, &b) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a standby claim is corrupt");
        return AUGUR_EIO;
    }
    standby_pack(&s->list, &b);
    return 0;
}

int store__shadow_list(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd)
{
    char after[STORE_CURSOR_SIZE];
    char *slash;
    struct store__scan sc = {
        .db = STORE__DB_STANDBY,
        .after = after,
        .limit = store__list_limit(cmd->u.list.limit),
        .item = list_item,
    };
    char next[STORE__KEY_MAX + 1];
    int rv;

    /* The cursor "workload/host" names the key "workload\0host". */
    memcpy(after, cmd->u.list.after, sizeof after);
    slash = strchr(after, '/');
    if (slash != NULL) {
        *slash = 0;
    }
    sc.after_len = strlen(cmd->u.list.after);
    rv = store__scan_page(s, txn, &sc);
    if (rv != 0) {
        return rv;
    }
    if (!sc.more) {
        return store__list_finish(s, sc.n, NULL);
    }
    memcpy(next, sc.last, sc.last_len);
    next[sc.last_len] = 0;
    slash = memchr(next, 0, sc.last_len);
    if (slash != NULL) {
        *slash = '/';
    }
    return store__list_finish(s, sc.n, next);
}

int store__host_standby_entry_check(struct store *s,
                                    const MDB_val *k,
                                    const MDB_val *v)
{
    char host[STORE_ID_SIZE];
    char workload[STORE_ID_SIZE];
    msgpack_object o;
    uint64_t epoch;

    if (store__pair_split(k, host, workload) != 0 ||
        store__unpack(s, v->mv_data, v->mv_size, &o) != 0) {
        return AUGUR_EMALFORMED;
    }
    return store__obj_u64(&o, &epoch);
}

/* ---- the view --------------------------------------------------------- */

int store_standbys_each(struct store *s,
                        int (*fn)(void *arg, const struct store_standby *b),
                        void *arg)
{
    struct store_standby b;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__cursor(s, s->rtxn, STORE__DB_STANDBY, &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        if (standby_decode(s, &k, &v, &b) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a standby claim is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        rv = fn(arg, &b);
        if (rv != 0) {
            break;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}
