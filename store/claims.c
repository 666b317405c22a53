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
    msgpack_pack_map(&p->pk, 4);
    store__pack_str(p, "workload");
    store__pack_str(p, c->workload);
    store__pack_str(p, "host");
    store__pack_str(p, c->host);
    store__pack_str(p, "epoch");
    msgpack_pack_uint64(&p->pk, c->epoch);
    store__pack_str(p, "kind");
    store__pack_str(p, "active");
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

int store__host_charge(struct store *s,
                       MDB_txn *txn,
                       const char *id,
                       const struct store_capacity *demand,
                       bool do_refund)
{
    struct store__resource old;
    struct store__resource r;
    int rv = store__resource_load(s, txn, id, &old);

    if (rv == AUGUR_ENOTFOUND) {
        LOG(LOG_LEVEL_WARN, "store: a claim names missing host %s", id);
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    r = old;
    if (do_refund) {
        refund(&r, demand);
    } else {
        charge(&r, demand);
    }
    return store__resource_store(s, txn, &old, &r);
}

bool store__claim_grantable(struct store *s,
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
int store__claim_pick(struct store *s,
                      MDB_txn *txn,
                      const struct store_capacity *demand,
                      const char *exclude,
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
        if (exclude != NULL && strcmp(id, exclude) == 0) {
            rv = store__step(s, cur, MDB_NEXT, &k, &v);
            continue;
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
    struct store_standby b;
    char id[STORE_ID_SIZE];
    bool charged = false;
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
        /* A standby claim of the workload on that host already holds the
         * room: the claim takes it over. */
        rv = store__standby_load(s, txn, wid, old.id, &b);
        if (rv != 0 && rv != AUGUR_ENOTFOUND) {
            return rv;
        }
        charged = rv == 0;
        if (!store__claim_grantable(s, &old, &w, charged)) {
            return 0;
        }
    } else {
        rv = store__claim_pick(s, txn, &w.demand, NULL, id, &found);
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

    if (!charged) {
        rv = store__standby_load(s, txn, wid, old.id, &b);
        if (rv != 0 && rv != AUGUR_ENOTFOUND) {
            return rv;
        }
        charged = rv == 0;
    }
    /* As in transfer: the next epoch would wrap to 0 and be confused with
     * one long fenced off. */
    if (w.last_epoch == UINT64_MAX) {
        return refuse_epochs_exhausted(s, wid);
    }

    if (charged) {
        rv = store__standby_del(s, txn, &b);
        if (rv != 0) {
            return rv;
        }
    }
    host = old;
    if (!charged) {
        charge(&host, &w.demand);
    }
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

int store__claim_move(struct store *s,
                      MDB_txn *txn,
                      const struct store__workload *w,
                      struct store__claim *c,
                      const char *to)
{
    struct store__resource old;
    struct store__resource host;
    struct store_standby b;
    bool same;
    bool standby;
    int rv;

    rv = store__resource_load(s, txn, to, &old);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s", to);
    }
    if (rv != 0) {
        return rv;
    }
    /* A transfer to the current host re-fences the claim: a new epoch, and
     * the demand is already counted there; so is it where a standby claim
     * of the workload holds the room, which the claim takes over. */
    same = strcmp(c->host, to) == 0;
    rv = store__standby_load(s, txn, w->id, to, &b);
    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    standby = rv == 0 && !same;
    if (!store__claim_grantable(s, &old, w, same || standby)) {
        return 0;
    }
    if (c->epoch == UINT64_MAX) {
        return refuse_epochs_exhausted(s, w->id);
    }

    if (!same) {
        rv = refund_host(s, txn, c, w);
        if (rv == 0) {
            rv = host_claim_del(s, txn, c);
        }
        if (rv == 0 && standby) {
            rv = store__standby_del(s, txn, &b);
        }
        if (rv == 0 && !standby) {
            /* Reloaded: refund_host may have written this very host. */
            rv = store__resource_load(s, txn, to, &old);
            if (rv == 0) {
                host = old;
                charge(&host, &w->demand);
                rv = store__resource_store(s, txn, &old, &host);
            }
        }
        if (rv != 0) {
            return rv;
        }
        memcpy(c->host, to, sizeof c->host);
    }
    c->epoch++;
    return claim_store(s, txn, c);
}

int store__claim_transfer(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    const char *wid = cmd->u.transfer.workload;
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
    /* The compare-and-set: a holder fenced off by an earlier transfer or
     * release names an epoch that is no longer current. */
    if (c.epoch != cmd->u.transfer.epoch) {
        return refuse_held(s, &c);
    }
    rv = store__claim_move(s, txn, &w, &c, cmd->u.transfer.to);
    if (rv != 0 || s->status != 0) {
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

/* A host's claims, active and standby, in workload order: the two
 * indexes hold "host\0workload" -> epoch, merged here into one page (a
 * workload never holds both kinds on one host: a claim taking a host over
 * consumes the standby there). */
static int host_key_less(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = memcmp(a->mv_data, b->mv_data, n);

    return c < 0 || (c == 0 && a->mv_size < b->mv_size);
}

static int host_claims_page(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd)
{
    static const enum store__db dbs[2] = {STORE__DB_HOST_CLAIMS,
                                          STORE__DB_HOST_STANDBY};
    static const char *const kinds[2] = {"active", "standby"};
    const char *host = cmd->u.list.filter;
    unsigned limit = store__list_limit(cmd->u.list.limit);
    unsigned char key[STORE__KEY_MAX];
    size_t plen = strlen(host) + 1;
    size_t klen = store__pair_key(key, host, cmd->u.list.after);
    MDB_cursor *cur[2] = {NULL, NULL};
    MDB_val k[2];
    MDB_val v[2];
    bool live[2] = {false, false};
    char last[STORE_ID_SIZE] = "";
    bool more = false;
    size_t n = 0;
    int rv = 0;

    s->items.size = 0;
    store__pack_init(&s->list, &s->items);
    for (int i = 0; i < 2 && rv == 0; i++) {
        rv = store__cursor(s, txn, dbs[i], &cur[i]);
        if (rv != 0) {
            break;
        }
        rv = store__seek(s, cur[i], key, klen, &k[i], &v[i]);
        if (rv == 0 && cmd->u.list.after[0] != 0 && k[i].mv_size == klen &&
            memcmp(k[i].mv_data, key, klen) == 0) {
            rv = store__step(s, cur[i], MDB_NEXT, &k[i], &v[i]);
        }
        live[i] = rv == 0 && k[i].mv_size > plen &&
                  memcmp(k[i].mv_data, key, plen) == 0;
        rv = rv == AUGUR_ENOTFOUND ? 0 : rv;
    }
    while (rv == 0 && (live[0] || live[1])) {
        int i = !live[0] || (live[1] && host_key_less(&k[1], &k[0])) ? 1 : 0;
        size_t wlen = k[i].mv_size - plen;
        size_t before = s->items.size;
        struct store__pack *p = &s->list;
        msgpack_object o;
        uint64_t epoch;

        if (n == limit) {
            more = true;
            break;
        }
        if (!store__id_valid((const char *)k[i].mv_data + plen, wlen) ||
            store__unpack(s, v[i].mv_data, v[i].mv_size, &o) != 0 ||
            store__obj_u64(&o, &epoch) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the claim index of host %s is corrupt", host);
            rv = AUGUR_EIO;
            break;
        }
        msgpack_pack_map(&p->pk, 4);
        store__pack_str(p, "workload");
        store__pack_strn(p, (const char *)k[i].mv_data + plen, wlen);
        store__pack_str(p, "host");
        store__pack_str(p, host);
        store__pack_str(p, "epoch");
        msgpack_pack_uint64(&p->pk, epoch);
        store__pack_str(p, "kind");
        store__pack_str(p, kinds[i]);
        if (n > 0 && s->items.size > s->page_bytes) {
            s->items.size = before;
            more = true;
            break;
        }
        memcpy(last, (const char *)k[i].mv_data + plen, wlen);
        last[wlen] = 0;
        n++;
        rv = store__step(s, cur[i], MDB_NEXT, &k[i], &v[i]);
        live[i] = rv == 0 && k[i].mv_size > plen &&
                  memcmp(k[i].mv_data, key, plen) == 0;
        rv = rv == AUGUR_ENOTFOUND ? 0 : rv;
    }
    for (int i = 0; i < 2; i++) {
        if (cur[i] != NULL) {
            mdb_cursor_close(cur[i]);
        }
    }
    if (rv == 0 && s->list.failed) {
        rv = AUGUR_ENOMEM;
    }
    if (rv != 0) {
        return rv;
    }
    return store__list_finish(s, n, more ? last : NULL);
}

int store__claim_list(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    struct store__scan sc = {
        .db = STORE__DB_CLAIMS,
        .after = cmd->u.list.after,
        .after_len = strlen(cmd->u.list.after),
        .limit = store__list_limit(cmd->u.list.limit),
        .item = list_item,
    };
    int rv;

    if (cmd->u.list.filter[0] != 0) {
        return host_claims_page(s, txn, cmd);
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
