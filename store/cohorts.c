/* Cohorts: groups of workloads that must stay available together, their
 * records and ops (cohort.create, delete, add, remove, get, list).  A
 * workload belongs to at most one cohort (the cohort_of index). */
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A cohort record is the msgpack array
 *   [spread, min_available, min_resilience, [workload, ...]]
 * keyed by the name; cohort_of maps each member to the name.  Invariants:
 * 1 <= min_available <= the number of members <= 64, none twice. */
#define RECORD_FIELDS 4

static int cohort_decode(struct store *s,
                         const MDB_val *k,
                         const MDB_val *v,
                         void *out)
{
    struct store_cohort *c = out;
    const msgpack_object *a;
    const msgpack_object *ws;
    msgpack_object o;
    uint64_t spread;

    memset(c, 0, sizeof *c);
    if (!store__id_valid(k->mv_data, k->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    memcpy(c->name, k->mv_data, k->mv_size);
    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != RECORD_FIELDS) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    ws = &a[3];
    if (store__obj_u64(&a[0], &spread) != 0 || spread >= STORE_SPREAD_COUNT ||
        store__obj_u64(&a[1], &c->min_available) != 0 ||
        a[2].type != MSGPACK_OBJECT_FLOAT64 ||
        !(a[2].via.f64 >= 0.0 && a[2].via.f64 <= 1.0) ||
        ws->type != MSGPACK_OBJECT_ARRAY || ws->via.array.size == 0 ||
        ws->via.array.size > STORE_COHORT_MEMBERS_MAX ||
        c->min_available == 0 || c->min_available > ws->via.array.size) {
        return AUGUR_EMALFORMED;
    }
    c->spread = (int)spread;
    c->min_resilience = a[2].via.f64 + 0.0;
    for (uint32_t i = 0; i < ws->via.array.size; i++) {
        if (store__obj_str(&ws->via.array.ptr[i], c->workloads[i],
                           STORE_ID_SIZE) != 0 ||
            !store__id_valid(c->workloads[i], strlen(c->workloads[i]))) {
            return AUGUR_EMALFORMED;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(c->workloads[i], c->workloads[j]) == 0) {
                return AUGUR_EMALFORMED;
            }
        }
    }
    c->n_workloads = ws->via.array.size;
    return 0;
}

const struct store__record store__cohort_record = {
    .db = STORE__DB_COHORTS,
    .what = "cohort",
    .decode = cohort_decode,
};

int store__cohort_load(struct store *s,
                       MDB_txn *txn,
                       const char *name,
                       struct store_cohort *c)
{
    return store__record_load(s, txn, &store__cohort_record, name, c);
}

static int cohort_store(struct store *s,
                        MDB_txn *txn,
                        const struct store_cohort *c)
{
    struct store__pack p;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, RECORD_FIELDS);
    msgpack_pack_uint64(&p.pk, (uint64_t)c->spread);
    msgpack_pack_uint64(&p.pk, c->min_available);
    msgpack_pack_double(&p.pk, c->min_resilience + 0.0);
    msgpack_pack_array(&p.pk, c->n_workloads);
    for (unsigned i = 0; i < c->n_workloads; i++) {
        store__pack_str(&p, c->workloads[i]);
    }
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    return store__put(s, txn, STORE__DB_COHORTS, c->name, strlen(c->name),
                      s->value.data, s->value.size);
}

int store__cohort_of(struct store *s,
                     MDB_txn *txn,
                     const char *workload,
                     char *name)
{
    MDB_val v;
    int rv =
        store__get(s, txn, STORE__DB_COHORT_OF, workload, strlen(workload), &v);

    name[0] = '\0';
    if (rv == AUGUR_ENOTFOUND) {
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    if (!store__id_valid(v.mv_data, v.mv_size)) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the cohort of workload %s is corrupt", workload);
        return AUGUR_EIO;
    }
    memcpy(name, v.mv_data, v.mv_size);
    name[v.mv_size] = '\0';
    return 0;
}

/* Pack the cohort object.  Reads (@eval) add its evaluation in @txn:
 * resilience, weakest, spread_ok, running.  Writes answer the record only:
 * an answer is kept for retries and is part of the state, and the
 * evaluation's floating point is best kept out of it (and its allocations
 * out of apply). */
static int cohort_pack(struct store *s,
                       MDB_txn *txn,
                       struct store__pack *p,
                       const struct store_cohort *c,
                       bool eval)
{
    struct store_cohort_eval e;
    int rv = eval ? store__cohort_eval(s, txn, c, NULL, NULL, &e) : 0;

    if (rv != 0) {
        return rv;
    }
    msgpack_pack_map(&p->pk, eval ? 9 : 5);
    store__pack_str(p, "name");
    store__pack_str(p, c->name);
    store__pack_str(p, "workloads");
    msgpack_pack_array(&p->pk, c->n_workloads);
    for (unsigned i = 0; i < c->n_workloads; i++) {
        store__pack_str(p, c->workloads[i]);
    }
    store__pack_str(p, "spread");
    store__pack_str(p, store_spread_name(c->spread));
    store__pack_str(p, "min_available");
    msgpack_pack_uint64(&p->pk, c->min_available);
    store__pack_str(p, "min_resilience");
    msgpack_pack_double(&p->pk, c->min_resilience);
    if (!eval) {
        return 0;
    }
    store__pack_str(p, "resilience");
    msgpack_pack_double(&p->pk, e.resilience);
    store__pack_str(p, "weakest");
    msgpack_pack_array(&p->pk, e.n_weakest);
    for (unsigned i = 0; i < e.n_weakest; i++) {
        msgpack_pack_map(&p->pk, 3);
        store__pack_str(p, "resource");
        store__pack_str(p, e.weakest[i].resource);
        store__pack_str(p, "p");
        msgpack_pack_double(&p->pk, e.weakest[i].p);
        store__pack_str(p, "gain");
        msgpack_pack_double(&p->pk, e.weakest[i].gain);
    }
    store__pack_str(p, "spread_ok");
    if (e.spread_ok) {
        msgpack_pack_true(&p->pk);
    } else {
        msgpack_pack_false(&p->pk);
    }
    store__pack_str(p, "running");
    msgpack_pack_uint64(&p->pk, e.n_running);
    return 0;
}

/* Refuse @workload unless it exists and belongs to no cohort (it may
 * belong to @mine when that is given: *@already is set then). */
static int member_check(struct store *s,
                        MDB_txn *txn,
                        const char *op,
                        const char *workload,
                        const char *mine,
                        bool *already,
                        bool *refused)
{
    struct store__workload w;
    char other[STORE_ID_SIZE];
    int rv;

    *refused = false;
    *already = false;
    rv = store__workload_load(s, txn, workload, &w);
    if (rv == AUGUR_ENOTFOUND) {
        *refused = true;
        return store__refuse(s, AUGUR_ENOTFOUND, "%s: no workload named %s", op,
                             workload);
    }
    if (rv == 0) {
        rv = store__cohort_of(s, txn, workload, other);
    }
    if (rv != 0) {
        return rv;
    }
    if (other[0] != '\0' && mine != NULL && strcmp(other, mine) == 0) {
        *already = true;
    } else if (other[0] != '\0') {
        *refused = true;
        return store__refuse(s, AUGUR_ECONFLICT,
                             "%s: workload %s belongs to cohort %s already", op,
                             workload, other);
    }
    return 0;
}

int store__cohort_create(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    const char *name = cmd->u.cohort.name;
    unsigned n = cmd->u.cohort.n_workloads;
    struct store_cohort c;
    MDB_val v;
    int rv;

    rv = store__get(s, txn, STORE__DB_COHORTS, name, strlen(name), &v);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST, "cohort %s already exists", name);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    if (cmd->u.cohort.min_available > n) {
        return store__refuse(s, AUGUR_EINVAL,
                             "cohort.create: min_available must be 1 to %u "
                             "(the number of workloads)",
                             n);
    }
    /* Check every member before changing anything. */
    for (unsigned i = 0; i < n; i++) {
        bool already;
        bool refused;

        rv = member_check(s, txn, store_op_name(cmd->op),
                          cmd->u.cohort.workloads[i], NULL, &already, &refused);
        if (rv != 0 || refused) {
            return rv;
        }
    }
    memset(&c, 0, sizeof c);
    memcpy(c.name, name, strlen(name));
    c.spread = cmd->u.cohort.spread;
    c.min_available =
        cmd->u.cohort.min_available == 0 ? n : cmd->u.cohort.min_available;
    c.min_resilience = cmd->u.cohort.min_resilience + 0.0;
    c.n_workloads = n;
    memcpy(c.workloads, cmd->u.cohort.workloads, sizeof c.workloads);
    rv = cohort_store(s, txn, &c);
    for (unsigned i = 0; i < n && rv == 0; i++) {
        rv = store__put(s, txn, STORE__DB_COHORT_OF, c.workloads[i],
                        strlen(c.workloads[i]), name, strlen(name));
    }
    if (rv != 0) {
        return rv;
    }
    return cohort_pack(s, txn, &s->out, &c, false);
}

static int load_or_refuse(struct store *s,
                          MDB_txn *txn,
                          const char *name,
                          struct store_cohort *c,
                          bool *refused)
{
    int rv = store__cohort_load(s, txn, name, c);

    *refused = rv == AUGUR_ENOTFOUND;
    if (*refused) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no cohort named %s", name);
    }
    return rv;
}

int store__cohort_delete(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    struct store_cohort c;
    bool refused;
    int rv;

    rv = load_or_refuse(s, txn, cmd->u.cohort.name, &c, &refused);
    if (rv != 0 || refused) {
        return rv;
    }
    for (unsigned i = 0; i < c.n_workloads && rv == 0; i++) {
        rv = store__del(s, txn, STORE__DB_COHORT_OF, c.workloads[i],
                        strlen(c.workloads[i]));
        if (rv == AUGUR_ENOTFOUND) {
            rv = 0;
        }
    }
    if (rv == 0) {
        rv = store__del(s, txn, STORE__DB_COHORTS, c.name, strlen(c.name));
    }
    if (rv != 0) {
        return rv;
    }
    msgpack_pack_map(&s->out.pk, 1);
    store__pack_str(&s->out, "name");
    store__pack_str(&s->out, c.name);
    return 0;
}

int store__cohort_add(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    const char *workload = cmd->u.cohort.workload;
    struct store_cohort c;
    bool refused;
    bool already;
    int rv;

    rv = load_or_refuse(s, txn, cmd->u.cohort.name, &c, &refused);
    if (rv != 0 || refused) {
        return rv;
    }
    rv = member_check(s, txn, store_op_name(cmd->op), workload, c.name,
                      &already, &refused);
    if (rv != 0 || refused) {
        return rv;
    }
    if (already) {
        return store__refuse(s, AUGUR_EEXIST,
                             "cohort.add: workload %s is in cohort %s already",
                             workload, c.name);
    }
    if (c.n_workloads == STORE_COHORT_MEMBERS_MAX) {
        return store__refuse(s, AUGUR_ETOOBIG,
                             "cohort.add: cohort %s has %d workloads, the most "
                             "a cohort may have",
                             c.name, STORE_COHORT_MEMBERS_MAX);
    }
    memcpy(c.workloads[c.n_workloads++], workload, strlen(workload) + 1);
    rv = cohort_store(s, txn, &c);
    if (rv == 0) {
        rv = store__put(s, txn, STORE__DB_COHORT_OF, workload, strlen(workload),
                        c.name, strlen(c.name));
    }
    if (rv != 0) {
        return rv;
    }
    return cohort_pack(s, txn, &s->out, &c, false);
}

/* A cohort keeps at least one member, and min_available follows it down:
 * removing a member of a cohort that needed them all still needs them all. */
int store__cohort_remove(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    const char *workload = cmd->u.cohort.workload;
    struct store_cohort c;
    unsigned at = STORE_COHORT_MEMBERS_MAX;
    bool refused;
    int rv;

    rv = load_or_refuse(s, txn, cmd->u.cohort.name, &c, &refused);
    if (rv != 0 || refused) {
        return rv;
    }
    for (unsigned i = 0; i < c.n_workloads; i++) {
        if (strcmp(c.workloads[i], workload) == 0) {
            at = i;
        }
    }
    if (at == STORE_COHORT_MEMBERS_MAX) {
        return store__refuse(s, AUGUR_ENOTFOUND,
                             "cohort.remove: workload %s is not in cohort %s",
                             workload, c.name);
    }
    if (c.n_workloads == 1) {
        return store__refuse(s, AUGUR_EINVAL,
                             "cohort.remove: %s is the last workload of cohort "
                             "%s: delete the cohort instead",
                             workload, c.name);
    }
    memmove(c.workloads[at], c.workloads[at + 1],
            (size_t)(c.n_workloads - at - 1) * STORE_ID_SIZE);
    c.n_workloads--;
    memset(c.workloads[c.n_workloads], 0, STORE_ID_SIZE);
    if (c.min_available > c.n_workloads) {
        c.min_available = c.n_workloads;
    }
    rv = cohort_store(s, txn, &c);
    if (rv == 0) {
        rv =
            store__del(s, txn, STORE__DB_COHORT_OF, workload, strlen(workload));
    }
    if (rv != 0) {
        return rv;
    }
    return cohort_pack(s, txn, &s->out, &c, false);
}

int store__cohort_get(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    struct store_cohort c;
    bool refused;
    int rv;

    rv = load_or_refuse(s, txn, cmd->u.get.id, &c, &refused);
    if (rv != 0 || refused) {
        return rv;
    }
    return cohort_pack(s, txn, &s->out, &c, true);
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store_cohort c;

    (void)ctx;
    if (cohort_decode(s, k, v, &c) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a cohort record is corrupt");
        return AUGUR_EIO;
    }
    return cohort_pack(s, txn, &s->list, &c, true);
}

int store__cohort_list(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd)
{
    return store__list_ids(s, txn, cmd, STORE__DB_COHORTS, list_item);
}

int store__cohort_of_entry_check(struct store *s,
                                 const MDB_val *k,
                                 const MDB_val *v)
{
    (void)s;
    if (!store__id_valid(k->mv_data, k->mv_size) ||
        !store__id_valid(v->mv_data, v->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store_cohorts_each(struct store *s,
                       int (*fn)(void *arg, const struct store_cohort *c),
                       void *arg)
{
    struct store_cohort c;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__cursor(s, s->rtxn, STORE__DB_COHORTS, &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    for (rv = store__step(s, cur, MDB_FIRST, &k, &v); rv == 0;
         rv = store__step(s, cur, MDB_NEXT, &k, &v)) {
        if (cohort_decode(s, &k, &v, &c) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a cohort record is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        rv = fn(arg, &c);
        if (rv != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}
