/* Claims: which host holds permission to run which workload, under a
 * fencing epoch that only grows; capacity accounting and the auto-pick. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A claim record is the msgpack array [host, epoch], keyed by the
 * workload; host_claims holds "host\0workload" -> epoch for the same claim,
 * so that a host's claims are one prefix scan.  A released claim leaves no
 * record here: its epoch stays in the workload record (last_epoch), and the
 * next acquire continues from it. */

static int claim_decode(struct store *s,
                        const MDB_val *k,
                        const MDB_val *v,
                        void *out)
{
    struct store__claim *c = out;
    const msgpack_object *a;
    msgpack_object o;

    memset(c, 0, sizeof *c);
    if (!store__id_valid(k->mv_data, k->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    memcpy(c->workload, k->mv_data, k->mv_size);
    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    if (store__obj_str(&a[0], c->host, sizeof c->host) != 0 ||
        !store__id_valid(c->host, strlen(c->host)) ||
        store__obj_u64(&a[1], &c->epoch) != 0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

const struct store__record store__claim_record = {
    .db = STORE__DB_CLAIMS,
    .what = "claim of workload",
    .decode = claim_decode,
};

int store__claim_load(struct store *s,
                      MDB_txn *txn,
                      const char *workload,
                      struct store__claim *c)
{
    return store__record_load(s, txn, &store__claim_record, workload, c);
}

void store__claim_pack(struct store__pack *p, const struct store__claim *c)
{
    msgpack_pack_map(&p->pk, 3);
    store__pack_str(p, "workload");
    store__pack_str(p, c->workload);
    store__pack_str(p, "host");
    store__pack_str(p, c->host);
    store__pack_str(p, "epoch");
    msgpack_pack_uint64(&p->pk, c->epoch);
}

/* Write @c to claims and host_claims. */
static int claim_store(struct store *s,
                       MDB_txn *txn,
                       const struct store__claim *c)
{
    unsigned char key[STORE__KEY_MAX];
    struct store__pack p;
    size_t klen;
    int rv;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, 2);
    store__pack_str(&p, c->host);
    msgpack_pack_uint64(&p.pk, c->epoch);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    rv = store__put(s, txn, STORE__DB_CLAIMS, c->workload, strlen(c->workload),
                    s->value.data, s->value.size);
    if (rv != 0) {
        return rv;
    }
    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_uint64(&p.pk, c->epoch);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    klen = store__pair_key(key, c->host, c->workload);
    return store__put(s, txn, STORE__DB_HOST_CLAIMS, key, klen, s->value.data,
                      s->value.size);
}

static int host_claim_del(struct store *s,
                          MDB_txn *txn,
                          const struct store__claim *c)
{
    unsigned char key[STORE__KEY_MAX];
    size_t klen = store__pair_key(key, c->host, c->workload);
    int rv = store__del(s, txn, STORE__DB_HOST_CLAIMS, key, klen);

    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* ---- capacity --------------------------------------------------------- */

static bool fits(const struct store__resource *r,
                 const struct store_capacity *demand)
{
    return r->used.cpu <= r->capacity.cpu &&
           demand->cpu <= r->capacity.cpu - r->used.cpu &&
           r->used.mem_mb <= r->capacity.mem_mb &&
           demand->mem_mb <= r->capacity.mem_mb - r->used.mem_mb;
}

static void charge(struct store__resource *r,
                   const struct store_capacity *demand)
{
    r->used.cpu += demand->cpu;
    r->used.mem_mb += demand->mem_mb;
}

static void refund(struct store__resource *r,
                   const struct store_capacity *demand)
{
    r->used.cpu = r->used.cpu > demand->cpu ? r->used.cpu - demand->cpu : 0;
    r->used.mem_mb =
        r->used.mem_mb > demand->mem_mb ? r->used.mem_mb - demand->mem_mb : 0;
}

/* Give @w's demand back to the host of @c.  A host missing from the
 * state cannot be charged: it is skipped, the same way on every node. */
static int refund_host(struct store *s,
                       MDB_txn *txn,
                       const struct store__claim *c,
                       const struct store__workload *w)
{
    struct store__resource old;
    struct store__resource r;
    int rv = store__resource_load(s, txn, c->host, &old);

    if (rv == AUGUR_ENOTFOUND) {
        LOG(LOG_LEVEL_WARN, "store: claim of %s names missing host %s",
            c->workload, c->host);
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    r = old;
    refund(&r, &w->demand);
    return store__resource_store(s, txn, &old, &r);
}

/* ---- refusals --------------------------------------------------------- */

static int refuse_no_workload(struct store *s, const char *id)
{
    return store__refuse(s, AUGUR_ENOTFOUND, "no workload named %s", id);
}

/* Epochs only grow (the fencing token of a holder): the last one cannot be
 * followed by another, so neither acquire nor transfer may grant it. */
static int refuse_epochs_exhausted(struct store *s, const char *id)
{
    return store__refuse(s, AUGUR_EINVAL,
                         "the epochs of workload %s are exhausted", id);
}

static int refuse_held(struct store *s, const struct store__claim *c)
{
    store__refuse(s, AUGUR_ECONFLICT,
                  "workload %s is held by %s at epoch %" PRIu64, c->workload,
                  c->host, c->epoch);
    store__claim_pack(&s->out, c);
    return 0;
}

/* Refuse unless @r may be granted @w: a host kind, active, and (unless it
 * already carries @w's demand) room for it.  Returns true when granted. */
static bool grantable(struct store *s,
                      const struct store__resource *r,
                      const struct store__workload *w,
                      bool charged)
{
    if (!store__kind_is_host(r->kind)) {
        store__refuse(s, AUGUR_EINVAL,
                      "resource %s is a %s, not a host, vm or container", r->id,
                      r->kind);
        return false;
    }
    if (r->state != STORE_STATE_ACTIVE) {
        store__refuse(s, AUGUR_EUNAVAILABLE, "host %s is %s, not active", r->id,
                      store_state_name(r->state));
        return false;
    }
    if (!charged && !fits(r, &w->demand)) {
        store__refuse(s, AUGUR_ENOCAPACITY,
                      "host %s has no room for workload %s (used cpu %" PRIu64
                      "/%" PRIu64 ", mem_mb %" PRIu64 "/%" PRIu64
                      "; demand cpu %" PRIu64 ", mem_mb %" PRIu64 ")",
                      r->id, w->id, r->used.cpu, r->capacity.cpu,
                      r->used.mem_mb, r->capacity.mem_mb, w->demand.cpu,
                      w->demand.mem_mb);
        return false;
    }
    return true;
}

/* ---- the auto-pick ---------------------------------------------------- */

/* Find the preferred active host with room for @demand: the pick index is
 * in order of preference, so the first that fits wins.  Within one p the
 * index runs from the most free cpu down, so once a host lacks cpu the rest
 * of that p is skipped in one seek.  *@found tells whether one fits. */
static int pick(struct store *s,
                MDB_txn *txn,
                const struct store_capacity *demand,
                char *id,
                bool *found)
{
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    *found = false;
    rv = store__cursor(s, txn, STORE__DB_PICK, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        struct store_capacity free_cap;
        unsigned char next[8];
        uint64_t bits;

        if (store__pick_key_decode(&k, &bits, &free_cap, id) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "the pick index is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        if (demand->cpu <= free_cap.cpu && demand->mem_mb <= free_cap.mem_mb) {
            *found = true;
            break;
        }
        if (demand->cpu <= free_cap.cpu) {
            rv = store__step(s, cur, MDB_NEXT, &k, &v);
            continue;
        }
        if (bits == UINT64_MAX) {
            rv = AUGUR_ENOTFOUND;
            break;
        }
        store__be64_put(next, bits + 1);
        rv = store__seek(s, cur, next, sizeof next, &k, &v);
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* ---- ops -------------------------------------------------------------- */

int store__claim_acquire(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    const char *wid = cmd->u.acquire.workload;
    struct store__resource old;
    struct store__resource host;
    struct store__workload w;
    struct store__claim c;
    char id[STORE_ID_SIZE];
    bool found;
    int rv;

    rv = store__workload_load(s, txn, wid, &w);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_no_workload(s, wid);
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__claim_load(s, txn, wid, &c);
    if (rv == 0) {
        return refuse_held(s, &c);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }

    if (cmd->u.acquire.host[0] != 0) {
        rv = store__resource_load(s, txn, cmd->u.acquire.host, &old);
        if (rv == AUGUR_ENOTFOUND) {
            return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s",
                                 cmd->u.acquire.host);
        }
        if (rv != 0) {
            return rv;
        }
        if (!grantable(s, &old, &w, false)) {
            return 0;
        }
    } else {
        rv = pick(s, txn, &w.demand, id, &found);
        if (rv != 0) {
            return rv;
        }
        if (!found) {
            return store__refuse(s, AUGUR_ENOCAPACITY,
                                 "no active host has room for workload %s "
                                 "(demand cpu %" PRIu64 ", mem_mb %" PRIu64 ")",
                                 wid, w.demand.cpu, w.demand.mem_mb);
        }
        rv = store__resource_load(s, txn, id, &old);
        if (rv == AUGUR_ENOTFOUND) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the pick index names missing host %s", id);
            return AUGUR_EIO;
        }
        if (rv != 0) {
            return rv;
        }
    }

    /* As in transfer: the next epoch would wrap to 0 and be confused with
     * one long fenced off. */
    if (w.last_epoch == UINT64_MAX) {
        return refuse_epochs_exhausted(s, wid);
    }

    host = old;
    charge(&host, &w.demand);
    memset(&c, 0, sizeof c);
    memcpy(c.workload, w.id, sizeof c.workload);
    memcpy(c.host, host.id, sizeof c.host);
    c.epoch = w.last_epoch + 1;
    rv = claim_store(s, txn, &c);
    if (rv == 0) {
        rv = store__resource_store(s, txn, &old, &host);
    }
    if (rv != 0) {
        return rv;
    }
    store__claim_pack(&s->out, &c);
    return 0;
}

int store__claim_transfer(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    const char *wid = cmd->u.transfer.workload;
    const char *to = cmd->u.transfer.to;
    struct store__resource old;
    struct store__resource host;
    struct store__workload w;
    struct store__claim c;
    bool same;
    int rv;

    rv = store__workload_load(s, txn, wid, &w);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_no_workload(s, wid);
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__claim_load(s, txn, wid, &c);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "workload %s holds no claim",
                             wid);
    }
    if (rv != 0) {
        return rv;
    }
    /* The compare-and-set: a holder fenced off by an earlier transfer or
     * release names an epoch that is no longer current. */
    if (c.epoch != cmd->u.transfer.epoch) {
        return refuse_held(s, &c);
    }
    rv = store__resource_load(s, txn, to, &old);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s", to);
    }
    if (rv != 0) {
        return rv;
    }
    /* A transfer to the current host re-fences the claim: a new epoch, and
     * the demand is already counted there. */
    same = strcmp(c.host, to) == 0;
    if (!grantable(s, &old, &w, same)) {
        return 0;
    }
    if (c.epoch == UINT64_MAX) {
        return refuse_epochs_exhausted(s, wid);
    }

    if (!same) {
        rv = refund_host(s, txn, &c, &w);
        if (rv == 0) {
            rv = host_claim_del(s, txn, &c);
        }
        if (rv == 0) {
            host = old;
            charge(&host, &w.demand);
            rv = store__resource_store(s, txn, &old, &host);
        }
        if (rv != 0) {
            return rv;
        }
        memcpy(c.host, to, sizeof c.host);
    }
    c.epoch++;
    rv = claim_store(s, txn, &c);
    if (rv != 0) {
        return rv;
    }
    store__claim_pack(&s->out, &c);
    return 0;
}

int store__claim_release(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    const char *wid = cmd->u.release.workload;
    struct store__workload w;
    struct store__claim c;
    int rv;

    rv = store__workload_load(s, txn, wid, &w);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_no_workload(s, wid);
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__claim_load(s, txn, wid, &c);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "workload %s holds no claim",
                             wid);
    }
    if (rv != 0) {
        return rv;
    }
    if (c.epoch != cmd->u.release.epoch) {
        return refuse_held(s, &c);
    }
    rv = refund_host(s, txn, &c, &w);
    if (rv == 0) {
        rv = host_claim_del(s, txn, &c);
    }
    if (rv == 0) {
        rv = store__del(s, txn, STORE__DB_CLAIMS, wid, strlen(wid));
    }
    if (rv == 0) {
        w.last_epoch = c.epoch;
        rv = store__workload_store(s, txn, &w);
    }
    if (rv != 0) {
        return rv;
    }
    store__claim_pack(&s->out, &c);
    return 0;
}

int store__claim_get(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    const char *wid = cmd->u.get.id;
    struct store__claim c;
    MDB_val v;
    int rv;

    rv = store__claim_load(s, txn, wid, &c);
    if (rv == AUGUR_ENOTFOUND) {
        rv = store__get(s, txn, STORE__DB_WORKLOADS, wid, strlen(wid), &v);
        if (rv == AUGUR_ENOTFOUND) {
            return refuse_no_workload(s, wid);
        }
        if (rv != 0) {
            return rv;
        }
        return store__refuse(s, AUGUR_ENOTFOUND, "workload %s holds no claim",
                             wid);
    }
    if (rv != 0) {
        return rv;
    }
    store__claim_pack(&s->out, &c);
    return 0;
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store__claim c;

    (void)txn;
    (void)ctx;
    if (claim_decode(s, k, v, &c) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a claim record is corrupt");
        return AUGUR_EIO;
    }
    store__claim_pack(&s->list, &c);
    return 0;
}

/* An item of a host's claims: the key is the workload (the host is the
 * scan's prefix), the value the epoch. */
static int host_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    const char *host = ctx;
    struct store__claim c;
    msgpack_object o;

    (void)txn;
    memset(&c, 0, sizeof c);
    if (!store__id_valid(k->mv_data, k->mv_size) ||
        store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        store__obj_u64(&o, &c.epoch) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the claim index of host %s is corrupt", host);
        return AUGUR_EIO;
    }
    memcpy(c.workload, k->mv_data, k->mv_size);
    memcpy(c.host, host, strlen(host));
    store__claim_pack(&s->list, &c);
    return 0;
}

int store__claim_list(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    const char *host = cmd->u.list.filter;
    unsigned char prefix[STORE_ID_SIZE];
    struct store__scan sc = {
        .db = STORE__DB_CLAIMS,
        .after = cmd->u.list.after,
        .after_len = strlen(cmd->u.list.after),
        .limit = store__list_limit(cmd->u.list.limit),
        .item = list_item,
    };
    int rv;

    if (host[0] != 0) {
        size_t len = strlen(host);
        memcpy(prefix, host, len);
        prefix[len] = 0;
        sc.db = STORE__DB_HOST_CLAIMS;
        sc.prefix = prefix;
        sc.prefix_len = len + 1;
        sc.item = host_item;
        sc.ctx = (void *)host;
    }
    rv = store__scan_page(s, txn, &sc);
    if (rv != 0) {
        return rv;
    }
    return store__scan_finish(s, &sc);
}

/* ---- snapshot checks -------------------------------------------------- */

int store__host_claim_entry_check(struct store *s,
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
