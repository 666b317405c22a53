/* Read-only views for the leader's orchestrator (docs/ORCHESTRATOR.md "C
 * interfaces"): cohort evaluation (resilience, spread), failure domains,
 * and resources and workloads as plain structs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* ---- the dependency graph --------------------------------------------- */

/* Call @fn for each direct dependency of @id (edges @id -> TO), in key
 * order, with TO and the edge kind.  0 or a failure (AUGUR_EIO for a
 * corrupt edge); a non-zero @fn stops the walk and is returned. */
static int deps_each(struct store *s,
                     MDB_txn *txn,
                     const char *id,
                     int (*fn)(void *arg, const char *to, int kind),
                     void *arg)
{
    char from[STORE_ID_SIZE];
    char to[STORE_ID_SIZE];
    size_t plen = strlen(id) + 1;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = store__cursor(s, txn, STORE__DB_EDGES, &cur);
    if (rv != 0) {
        return rv;
    }
    for (rv = store__seek(s, cur, id, plen, &k, &v);
         rv == 0 && k.mv_size > plen && memcmp(k.mv_data, id, plen) == 0;
         rv = store__step(s, cur, MDB_NEXT, &k, &v)) {
        msgpack_object o;
        uint64_t kind;

        if (store__pair_split(&k, from, to) != 0 ||
            store__unpack(s, v.mv_data, v.mv_size, &o) != 0 ||
            store__obj_u64(&o, &kind) != 0 || kind >= STORE_EDGE_COUNT) {
            snprintf(s->errmsg, sizeof s->errmsg, "an edge of %s is corrupt",
                     id);
            rv = AUGUR_EIO;
            break;
        }
        rv = fn(arg, to, (int)kind);
        if (rv != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* A bounded set of ids, in insertion order (a breadth-first queue). */
struct idset
{
    char (*ids)[STORE_ID_SIZE];
    unsigned n;
    unsigned max;
};

static int idset_init(struct idset *q, unsigned max)
{
    q->ids = malloc((size_t)max * STORE_ID_SIZE);
    q->n = 0;
    q->max = max;
    return q->ids == NULL ? AUGUR_ENOMEM : 0;
}

static void idset_close(struct idset *q)
{
    free(q->ids);
}

/* The index of @id, added when missing; q->max when full. */
static unsigned idset_add(struct idset *q, const char *id)
{
    for (unsigned i = 0; i < q->n; i++) {
        if (strcmp(q->ids[i], id) == 0) {
            return i;
        }
    }
    if (q->n == q->max) {
        return q->max;
    }
    snprintf(q->ids[q->n], STORE_ID_SIZE, "%s", id);
    return q->n++;
}

/* A resource's committed p (0 when none or when it does not exist) and
 * kind (@kind may be NULL). */
static int committed_p(struct store *s,
                       MDB_txn *txn,
                       const char *id,
                       double *p,
                       char *kind)
{
    struct store__resource r;
    int rv = store__resource_load(s, txn, id, &r);

    *p = 0.0;
    if (kind != NULL) {
        kind[0] = '\0';
    }
    if (rv == AUGUR_ENOTFOUND) {
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    *p = r.has_score ? r.p : 0.0;
    if (kind != NULL) {
        memcpy(kind, r.kind, STORE_KIND_SIZE);
    }
    return 0;
}

/* ---- failure domains -------------------------------------------------- */

struct domain_walk
{
    struct idset *q;
    int edge_kind;
};

static int domain_dep(void *arg, const char *to, int kind)
{
    struct domain_walk *d = arg;

    if (kind == d->edge_kind) {
        (void)idset_add(d->q, to);
    }
    return 0;
}

int store__host_domain(struct store *s,
                       MDB_txn *txn,
                       const char *host,
                       int spread,
                       char *out)
{
    struct domain_walk d;
    struct idset q;
    const char *want;
    int rv;

    out[0] = '\0';
    switch (spread) {
        case STORE_SPREAD_HOST:
            snprintf(out, STORE_ID_SIZE, "%s", host);
            return 0;
        case STORE_SPREAD_RACK:
        case STORE_SPREAD_ZONE: {
            const char *label = spread == STORE_SPREAD_RACK ? "rack" : "zone";
            struct store__resource r;

            rv = store__resource_load(s, txn, host, &r);
            if (rv != 0) {
                return rv == AUGUR_ENOTFOUND ? 0 : rv;
            }
            for (unsigned i = 0; i < r.n_labels; i++) {
                if (strcmp(r.labels[i].key, label) == 0) {
                    snprintf(out, STORE_ID_SIZE, "%s", r.labels[i].value);
                }
            }
            return 0;
        }
        case STORE_SPREAD_PSU:
            d.edge_kind = STORE_EDGE_POWER;
            want = "psu";
            break;
        case STORE_SPREAD_SWITCH:
            d.edge_kind = STORE_EDGE_NETWORK;
            want = "switch";
            break;
        default:
            return 0;
    }
    /* Breadth first along edges of the one kind: the nearest of the kind
     * wanted, ties by key order. */
    rv = idset_init(&q, STORE__RESIL_UNITS_MAX);
    if (rv != 0) {
        return rv;
    }
    d.q = &q;
    (void)idset_add(&q, host);
    for (unsigned i = 0; i < q.n && rv == 0; i++) {
        char kind[STORE_KIND_SIZE];
        double p;

        if (i > 0) {
            rv = committed_p(s, txn, q.ids[i], &p, kind);
            if (rv == 0 && strcmp(kind, want) == 0) {
                snprintf(out, STORE_ID_SIZE, "%s", q.ids[i]);
                break;
            }
        }
        if (rv == 0) {
            rv = deps_each(s, txn, q.ids[i], domain_dep, &d);
        }
    }
    idset_close(&q);
    return rv;
}

/* ---- cohort evaluation ------------------------------------------------ */

/* A probability in [0, 1] to 12 decimals: 0.1, not 0.09999999999999998
 * (what operators read; far finer than any score means). */
static double tidy(double x)
{
    if (!(x > 0.0)) {
        return 0.0;
    }
    return (double)(int64_t)(x * 1e12 + 0.5) / 1e12;
}

struct eval
{
    struct idset units;
    double *p;
    struct store__resil_member *members;
    /* scratch of one member's closure */
    struct idset closure;
};

static int closure_dep(void *arg, const char *to, int kind)
{
    (void)kind;
    (void)idset_add(arg, to);
    return 0;
}

struct own_ctx
{
    struct store *s;
    MDB_txn *txn;
    double dep_p[64];
    int dep_kind[64];
    unsigned n;
};

static int own_dep(void *arg, const char *to, int kind)
{
    struct own_ctx *o = arg;
    int rv;

    if (o->n == 64) {
        return 0;
    }
    rv = committed_p(o->s, o->txn, to, &o->dep_p[o->n], NULL);
    if (rv == 0) {
        o->dep_kind[o->n++] = kind;
    }
    return rv;
}

static bool host_runs(int state)
{
    return state == STORE_STATE_ACTIVE || state == STORE_STATE_DEGRADED ||
           state == STORE_STATE_DRAINING;
}

/* Fill member @i: where its workload runs and what that depends on. */
static int eval_member(struct store *s,
                       MDB_txn *txn,
                       struct eval *e,
                       unsigned i,
                       const char *workload,
                       const char *host_override,
                       char *host)
{
    struct store__resil_member *m = &e->members[i];
    struct store__resource r;
    struct store__claim c;
    int rv;

    memset(m, 0, sizeof *m);
    host[0] = '\0';
    if (host_override != NULL) {
        snprintf(host, STORE_ID_SIZE, "%s", host_override);
    } else {
        rv = store__claim_load(s, txn, workload, &c);
        if (rv == AUGUR_ENOTFOUND) {
            return 0;
        }
        if (rv != 0) {
            return rv;
        }
        memcpy(host, c.host, STORE_ID_SIZE);
    }
    rv = store__resource_load(s, txn, host, &r);
    if (rv == AUGUR_ENOTFOUND || (rv == 0 && !host_runs(r.state))) {
        host[0] = '\0';
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    m->up_possible = true;
    e->closure.n = 0;
    (void)idset_add(&e->closure, host);
    for (unsigned j = 0; j < e->closure.n && rv == 0; j++) {
        rv = deps_each(s, txn, e->closure.ids[j], closure_dep, &e->closure);
    }
    for (unsigned j = 0; j < e->closure.n && rv == 0; j++) {
        unsigned u = idset_add(&e->units, e->closure.ids[j]);
        if (u < e->units.max) {
            m->units[m->n_units++] = u;
        }
    }
    return rv;
}

int store__cohort_eval(struct store *s,
                       MDB_txn *txn,
                       const struct store_cohort *c,
                       const char *workload,
                       const char *host,
                       struct store_cohort_eval *out)
{
    char(*hosts)[STORE_ID_SIZE] = NULL;
    char(*domains)[STORE_ID_SIZE] = NULL;
    struct store__resil_out ro;
    struct store__resil r;
    struct eval e;
    int rv;

    memset(out, 0, sizeof *out);
    memset(&e, 0, sizeof e);
    rv = idset_init(&e.units, STORE__RESIL_UNITS_MAX);
    if (rv == 0) {
        rv = idset_init(&e.closure, STORE__RESIL_MEMBER_UNITS);
    }
    e.p = malloc(sizeof *e.p * STORE__RESIL_UNITS_MAX);
    e.members = malloc(sizeof *e.members * STORE_COHORT_MEMBERS_MAX);
    hosts = malloc((size_t)STORE_COHORT_MEMBERS_MAX * STORE_ID_SIZE);
    domains = malloc((size_t)STORE_COHORT_MEMBERS_MAX * STORE_ID_SIZE);
    if (rv == 0 && (e.p == NULL || e.members == NULL || hosts == NULL ||
                    domains == NULL)) {
        rv = AUGUR_ENOMEM;
    }
    for (unsigned i = 0; i < c->n_workloads && rv == 0; i++) {
        bool over = workload != NULL && host != NULL &&
                    strcmp(workload, c->workloads[i]) == 0;
        rv = eval_member(s, txn, &e, i, c->workloads[i], over ? host : NULL,
                         hosts[i]);
        out->n_running += e.members[i].up_possible;
    }
    /* Each unit's own part of its committed p (see store__p_own). */
    for (unsigned u = 0; u < e.units.n && rv == 0; u++) {
        struct own_ctx o = {.s = s, .txn = txn};
        double p;

        rv = committed_p(s, txn, e.units.ids[u], &p, NULL);
        if (rv == 0) {
            rv = deps_each(s, txn, e.units.ids[u], own_dep, &o);
        }
        if (rv == 0) {
            e.p[u] = store__p_own(p, o.dep_p, o.dep_kind, o.n);
        }
    }
    if (rv == 0) {
        r.n_units = e.units.n;
        r.p = e.p;
        r.n_members = c->n_workloads;
        r.members = e.members;
        r.k = (unsigned)c->min_available;
        rv = store__resilience(&r, &ro);
    }
    if (rv == 0) {
        out->resilience = tidy(ro.resilience);
        out->n_weakest = ro.n_weakest;
        for (unsigned i = 0; i < ro.n_weakest; i++) {
            snprintf(out->weakest[i].resource, STORE_ID_SIZE, "%s",
                     e.units.ids[ro.weakest[i].unit]);
            out->weakest[i].p = tidy(ro.weakest[i].p);
            out->weakest[i].gain = tidy(ro.weakest[i].gain);
        }
        out->spread_ok = true;
    }
    /* Spread: no two running members share a non-empty domain. */
    for (unsigned i = 0; i < c->n_workloads && rv == 0; i++) {
        domains[i][0] = '\0';
        if (!e.members[i].up_possible) {
            continue;
        }
        rv = store__host_domain(s, txn, hosts[i], c->spread, domains[i]);
        for (unsigned j = 0; j < i && rv == 0; j++) {
            if (domains[i][0] != '\0' && strcmp(domains[i], domains[j]) == 0) {
                out->spread_ok = false;
            }
        }
    }
    free(domains);
    free(hosts);
    free(e.members);
    free(e.p);
    idset_close(&e.closure);
    idset_close(&e.units);
    return rv;
}

/* ---- the public views ------------------------------------------------- */

static int rtxn_begin(struct store *s)
{
    int rc = mdb_txn_renew(s->rtxn);

    return rc == 0 ? 0 : store__mdb_fail(s, rc, "mdb_txn_renew");
}

int store_cohort_evaluate(struct store *s,
                          const char *name,
                          const char *workload,
                          const char *host,
                          struct store_cohort_eval *out)
{
    struct store_cohort *c = malloc(sizeof *c);
    int rv;

    memset(out, 0, sizeof *out);
    if (c == NULL) {
        return AUGUR_ENOMEM;
    }
    rv = rtxn_begin(s);
    if (rv == 0) {
        rv = store__cohort_load(s, s->rtxn, name, c);
        if (rv == 0) {
            rv = store__cohort_eval(s, s->rtxn, c, workload, host, out);
        }
        mdb_txn_reset(s->rtxn);
    }
    free(c);
    return rv;
}

int store_host_domain(struct store *s, const char *host, int spread, char *out)
{
    int rv = rtxn_begin(s);

    out[0] = '\0';
    if (rv != 0) {
        return rv;
    }
    rv = store__host_domain(s, s->rtxn, host, spread, out);
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store_resources_each(struct store *s,
                         int (*fn)(void *arg,
                                   const struct store_resource_view *r),
                         void *arg)
{
    struct store_resource_view view;
    struct store__resource r;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv = rtxn_begin(s);

    if (rv != 0) {
        return rv;
    }
    rv = store__cursor(s, s->rtxn, STORE__DB_RESOURCES, &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    for (rv = store__step(s, cur, MDB_FIRST, &k, &v); rv == 0;
         rv = store__step(s, cur, MDB_NEXT, &k, &v)) {
        if (store__resource_record.decode(s, &k, &v, &r) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "a resource record is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        memset(&view, 0, sizeof view);
        memcpy(view.id, r.id, sizeof view.id);
        memcpy(view.kind, r.kind, sizeof view.kind);
        view.state = r.state;
        view.prior_state = r.prior_state;
        view.leased = r.leased;
        view.capacity = r.capacity;
        view.used = r.used;
        view.has_score = r.has_score;
        view.p = r.has_score ? r.p : 0.0;
        view.window_s = r.window_s;
        view.updated_at = r.updated_at;
        view.manual_until_ms = r.manual_until;
        view.n_labels = r.n_labels;
        memcpy(view.labels, r.labels, sizeof view.labels);
        rv = fn(arg, &view);
        if (rv != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store_workloads_each(struct store *s,
                         int (*fn)(void *arg,
                                   const struct store_workload_view *w),
                         void *arg)
{
    struct store_workload_view view;
    struct store__workload w;
    struct store__claim c;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv = rtxn_begin(s);

    if (rv != 0) {
        return rv;
    }
    rv = store__cursor(s, s->rtxn, STORE__DB_WORKLOADS, &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    for (rv = store__step(s, cur, MDB_FIRST, &k, &v); rv == 0;
         rv = store__step(s, cur, MDB_NEXT, &k, &v)) {
        if (store__workload_record.decode(s, &k, &v, &w) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "a workload record is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        memset(&view, 0, sizeof view);
        memcpy(view.id, w.id, sizeof view.id);
        view.demand = w.demand;
        view.priority = w.priority;
        view.strategy = 0;
        rv = store__claim_load(s, s->rtxn, w.id, &c);
        if (rv == 0) {
            view.claimed = true;
            memcpy(view.host, c.host, sizeof view.host);
            view.epoch = c.epoch;
        } else if (rv != AUGUR_ENOTFOUND) {
            break;
        }
        rv = store__cohort_of(s, s->rtxn, w.id, view.cohort);
        if (rv == 0) {
            rv = fn(arg, &view);
        }
        if (rv != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}
