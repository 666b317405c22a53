/* Resources: their records, the pick index of grantable hosts, and the
 * resource ops (add, set_state, score.set, get, list). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A resource record is the msgpack array
 *   [kind, {label: value}, cap_cpu, cap_mem, used_cpu, used_mem, state,
 *    nil | [p, window_s, updated_at_ms]
 *        | [p, window_s, updated_at_ms, confidence, model,
 *           [[feature, contribution], ...]]
 *    (, [leased, nil | prior_state] (, manual_until_ms))]
 * keyed by the id.  The long form of the score, written only when a
 * score.set gave a confidence, a model or reasons, came with issue 13;
 * records of before keep the short one.  The ninth element is there only
 * for a host whose
 * agent has reported (leased: the leader holds a lease on it, and a new
 * leader gives it one) or that is unreachable (prior_state: the state a
 * report restores).  Every other record keeps the 8 fields it had before
 * leases existed, so their digests do not change.  The tenth element,
 * manual_until_ms (positive), is there only for a resource whose score was
 * set by hand (score.set from a client, issue 14); its ninth is then nil
 * when no lease is recorded.
 *
 * The pick index holds one key per active host (kind host, vm or
 * container):
 *   BE64(bits of p) | BE64(~free cpu) | BE64(~free mem) | id
 * p is in [0, 1] and never -0, so its IEEE bits sort as the number does;
 * the complements sort more free capacity first.  An index walk therefore
 * meets hosts in claim.acquire's order of preference. */
#define RECORD_FIELDS 8

bool store__kind_is_host(const char *kind)
{
    return strcmp(kind, "host") == 0 || strcmp(kind, "vm") == 0 ||
           strcmp(kind, "container") == 0;
}

static uint64_t free_of(uint64_t capacity, uint64_t used)
{
    return used < capacity ? capacity - used : 0;
}

/* ---- the record ------------------------------------------------------- */

static int labels_decode(const msgpack_object *o, struct store__resource *r)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > STORE_LABELS_MAX) {
        return AUGUR_EMALFORMED;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        struct store_label *l = &r->labels[i];
        if (store__obj_str(&o->via.map.ptr[i].key, l->key, sizeof l->key) !=
                0 ||
            l->key[0] == 0 ||
            store__obj_str(&o->via.map.ptr[i].val, l->value, sizeof l->value) !=
                0) {
            return AUGUR_EMALFORMED;
        }
    }
    r->n_labels = o->via.map.size;
    return 0;
}

static int score_decode(const msgpack_object *o, struct store__resource *r)
{
    const msgpack_object *a;

    if (o->type == MSGPACK_OBJECT_NIL) {
        r->has_score = false;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY ||
        (o->via.array.size != 3 && o->via.array.size != 6)) {
        return AUGUR_EMALFORMED;
    }
    a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_FLOAT64 ||
        !(a[0].via.f64 >= 0.0 && a[0].via.f64 <= 1.0) ||
        store__obj_u64(&a[1], &r->window_s) != 0 ||
        store__obj_i64(&a[2], &r->updated_at) != 0) {
        return AUGUR_EMALFORMED;
    }
    r->has_score = true;
    r->p = a[0].via.f64 == 0.0 ? 0.0 : a[0].via.f64;
    r->confidence = -1.0;
    if (o->via.array.size == 6) {
        const msgpack_object *rs = &a[5];

        if (a[3].type != MSGPACK_OBJECT_FLOAT64 ||
            !(a[3].via.f64 == -1.0 ||
              (a[3].via.f64 >= 0.0 && a[3].via.f64 <= 1.0)) ||
            store__obj_str(&a[4], r->model, sizeof r->model) != 0 ||
            (r->model[0] != '\0' &&
             !store__id_valid(r->model, strlen(r->model))) ||
            rs->type != MSGPACK_OBJECT_ARRAY ||
            rs->via.array.size > STORE_REASONS_MAX) {
            return AUGUR_EMALFORMED;
        }
        r->confidence = a[3].via.f64;
        for (uint32_t i = 0; i < rs->via.array.size; i++) {
            const msgpack_object *e = &rs->via.array.ptr[i];
            struct store_reason *x = &r->reasons[i];

            if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
                store__obj_str(&e->via.array.ptr[0], x->feature,
                               sizeof x->feature) != 0 ||
                !store__feature_valid(x->feature, strlen(x->feature)) ||
                e->via.array.ptr[1].type != MSGPACK_OBJECT_FLOAT64) {
                return AUGUR_EMALFORMED;
            }
            x->contribution = e->via.array.ptr[1].via.f64;
        }
        r->n_reasons = rs->via.array.size;
    }
    return 0;
}

static bool score_long(const struct store__resource *r)
{
    return r->confidence >= 0.0 || r->model[0] != '\0' || r->n_reasons > 0;
}

/* The ninth element, [leased, nil | prior_state]: the prior state comes
 * with unreachable and only with it, and the element is never empty. */
static int lease_decode(const msgpack_object *o, struct store__resource *r)
{
    const msgpack_object *a;
    uint64_t prior;
    bool unreachable = r->state == STORE_STATE_UNREACHABLE;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2) {
        return AUGUR_EMALFORMED;
    }
    a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_BOOLEAN ||
        (a[1].type == MSGPACK_OBJECT_NIL) == unreachable ||
        (!a[0].via.boolean && !unreachable)) {
        return AUGUR_EMALFORMED;
    }
    r->leased = a[0].via.boolean;
    if (unreachable) {
        if (store__obj_u64(&a[1], &prior) != 0 || prior >= STORE_STATE_COUNT ||
            prior == STORE_STATE_UNREACHABLE) {
            return AUGUR_EMALFORMED;
        }
        r->prior_state = (int)prior;
    }
    return 0;
}

static bool lease_recorded(const struct store__resource *r)
{
    return r->leased || r->state == STORE_STATE_UNREACHABLE;
}

/* Decode the record @v of resource @k.  Returns 0 or AUGUR_EMALFORMED. */
static int resource_decode(struct store *s,
                           const MDB_val *k,
                           const MDB_val *v,
                           void *out)
{
    struct store__resource *r = out;
    const msgpack_object *a;
    msgpack_object o;
    uint64_t state;

    memset(r, 0, sizeof *r);
    r->confidence = -1.0;
    if (!store__id_valid(k->mv_data, k->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    memcpy(r->id, k->mv_data, k->mv_size);
    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY ||
        (o.via.array.size != RECORD_FIELDS &&
         o.via.array.size != RECORD_FIELDS + 1 &&
         o.via.array.size != RECORD_FIELDS + 2)) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    if (store__obj_str(&a[0], r->kind, sizeof r->kind) != 0 ||
        !store__id_valid(r->kind, strlen(r->kind)) ||
        labels_decode(&a[1], r) != 0 ||
        store__obj_u64(&a[2], &r->capacity.cpu) != 0 ||
        store__obj_u64(&a[3], &r->capacity.mem_mb) != 0 ||
        store__obj_u64(&a[4], &r->used.cpu) != 0 ||
        store__obj_u64(&a[5], &r->used.mem_mb) != 0 ||
        store__obj_u64(&a[6], &state) != 0 || state >= STORE_STATE_COUNT ||
        score_decode(&a[7], r) != 0) {
        return AUGUR_EMALFORMED;
    }
    r->state = (int)state;
    r->prior_state = STORE_STATE_ACTIVE;
    r->leased = false;
    if (o.via.array.size == RECORD_FIELDS + 2) {
        if (store__obj_i64(&a[RECORD_FIELDS + 1], &r->manual_until) != 0 ||
            r->manual_until <= 0) {
            return AUGUR_EMALFORMED;
        }
        if (a[RECORD_FIELDS].type == MSGPACK_OBJECT_NIL) {
            return r->state == STORE_STATE_UNREACHABLE ? AUGUR_EMALFORMED : 0;
        }
    }
    if (o.via.array.size >= RECORD_FIELDS + 1) {
        return lease_decode(&a[RECORD_FIELDS], r);
    }
    return r->state == STORE_STATE_UNREACHABLE ? AUGUR_EMALFORMED : 0;
}

static int resource_encode(struct store *s, const struct store__resource *r)
{
    struct store__pack p;

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, r->manual_until > 0 ? RECORD_FIELDS + 2
                              : lease_recorded(r) ? RECORD_FIELDS + 1
                                                  : RECORD_FIELDS);
    store__pack_str(&p, r->kind);
    msgpack_pack_map(&p.pk, r->n_labels);
    for (unsigned i = 0; i < r->n_labels; i++) {
        store__pack_str(&p, r->labels[i].key);
        store__pack_str(&p, r->labels[i].value);
    }
    msgpack_pack_uint64(&p.pk, r->capacity.cpu);
    msgpack_pack_uint64(&p.pk, r->capacity.mem_mb);
    msgpack_pack_uint64(&p.pk, r->used.cpu);
    msgpack_pack_uint64(&p.pk, r->used.mem_mb);
    msgpack_pack_uint64(&p.pk, (uint64_t)r->state);
    if (r->has_score) {
        bool full = score_long(r);

        msgpack_pack_array(&p.pk, full ? 6 : 3);
        msgpack_pack_double(&p.pk, r->p);
        msgpack_pack_uint64(&p.pk, r->window_s);
        msgpack_pack_int64(&p.pk, r->updated_at);
        if (full) {
            msgpack_pack_double(&p.pk,
                                r->confidence >= 0.0 ? r->confidence : -1.0);
            store__pack_str(&p, r->model);
            msgpack_pack_array(&p.pk, r->n_reasons);
            for (unsigned i = 0; i < r->n_reasons; i++) {
                msgpack_pack_array(&p.pk, 2);
                store__pack_str(&p, r->reasons[i].feature);
                msgpack_pack_double(&p.pk, r->reasons[i].contribution);
            }
        }
    } else {
        msgpack_pack_nil(&p.pk);
    }
    if (lease_recorded(r)) {
        msgpack_pack_array(&p.pk, 2);
        if (r->leased) {
            msgpack_pack_true(&p.pk);
        } else {
            msgpack_pack_false(&p.pk);
        }
        if (r->state == STORE_STATE_UNREACHABLE) {
            msgpack_pack_uint64(&p.pk, (uint64_t)r->prior_state);
        } else {
            msgpack_pack_nil(&p.pk);
        }
    } else if (r->manual_until > 0) {
        msgpack_pack_nil(&p.pk);
    }
    if (r->manual_until > 0) {
        msgpack_pack_int64(&p.pk, r->manual_until);
    }
    return p.failed ? AUGUR_ENOMEM : 0;
}

const struct store__record store__resource_record = {
    .db = STORE__DB_RESOURCES,
    .what = "resource",
    .decode = resource_decode,
};

int store__resource_load(struct store *s,
                         MDB_txn *txn,
                         const char *id,
                         struct store__resource *r)
{
    return store__record_load(s, txn, &store__resource_record, id, r);
}

void store__resource_pack(struct store__pack *p,
                          const struct store__resource *r)
{
    bool unreachable = r->state == STORE_STATE_UNREACHABLE;

    msgpack_pack_map(&p->pk, 7 + (size_t)unreachable + (size_t)r->leased +
                                 (size_t)(r->manual_until > 0));
    store__pack_str(p, "id");
    store__pack_str(p, r->id);
    store__pack_str(p, "kind");
    store__pack_str(p, r->kind);
    store__pack_str(p, "labels");
    msgpack_pack_map(&p->pk, r->n_labels);
    for (unsigned i = 0; i < r->n_labels; i++) {
        store__pack_str(p, r->labels[i].key);
        store__pack_str(p, r->labels[i].value);
    }
    store__pack_str(p, "capacity");
    store__pack_capacity(p, &r->capacity);
    store__pack_str(p, "used");
    store__pack_capacity(p, &r->used);
    store__pack_str(p, "state");
    store__pack_str(p, store_state_name(r->state));
    if (unreachable) {
        store__pack_str(p, "prior_state");
        store__pack_str(p, store_state_name(r->prior_state));
    }
    if (r->leased) {
        store__pack_str(p, "leased");
        msgpack_pack_true(&p->pk);
    }
    if (r->manual_until > 0) {
        store__pack_str(p, "manual_until");
        msgpack_pack_int64(&p->pk, r->manual_until);
    }
    store__pack_str(p, "score");
    if (r->has_score) {
        msgpack_pack_map(&p->pk, 3 + (r->confidence >= 0.0) +
                                     (r->model[0] != '\0') +
                                     (r->n_reasons > 0));
        store__pack_str(p, "p");
        msgpack_pack_double(&p->pk, r->p);
        store__pack_str(p, "window");
        msgpack_pack_uint64(&p->pk, r->window_s);
        store__pack_str(p, "updated_at");
        msgpack_pack_int64(&p->pk, r->updated_at);
        if (r->confidence >= 0.0) {
            store__pack_str(p, "confidence");
            msgpack_pack_double(&p->pk, r->confidence);
        }
        if (r->model[0] != '\0') {
            store__pack_str(p, "model");
            store__pack_str(p, r->model);
        }
        if (r->n_reasons > 0) {
            store__pack_str(p, "reasons");
            msgpack_pack_array(&p->pk, r->n_reasons);
            for (unsigned i = 0; i < r->n_reasons; i++) {
                msgpack_pack_map(&p->pk, 2);
                store__pack_str(p, "feature");
                store__pack_str(p, r->reasons[i].feature);
                store__pack_str(p, "contribution");
                msgpack_pack_double(&p->pk, r->reasons[i].contribution);
            }
        }
    } else {
        msgpack_pack_nil(&p->pk);
    }
}

/* ---- the pick index --------------------------------------------------- */

static bool pick_indexed(const struct store__resource *r)
{
    return r->state == STORE_STATE_ACTIVE && store__kind_is_host(r->kind);
}

static size_t pick_key(const struct store__resource *r, unsigned char *key)
{
    double p = r->has_score ? r->p : 0.0;
    size_t idlen = strlen(r->id);
    uint64_t bits;

    memcpy(&bits, &p, sizeof bits);
    store__be64_put(key, bits);
    store__be64_put(key + 8, ~free_of(r->capacity.cpu, r->used.cpu));
    store__be64_put(key + 16, ~free_of(r->capacity.mem_mb, r->used.mem_mb));
    memcpy(key + STORE__PICK_PREFIX, r->id, idlen);
    return STORE__PICK_PREFIX + idlen;
}

int store__pick_key_decode(const MDB_val *k,
                           uint64_t *p_bits,
                           struct store_capacity *free_cap,
                           char *id)
{
    const unsigned char *key = k->mv_data;
    size_t idlen;

    if (k->mv_size <= STORE__PICK_PREFIX || k->mv_size > STORE__PICK_KEY_MAX) {
        return AUGUR_EMALFORMED;
    }
    idlen = k->mv_size - STORE__PICK_PREFIX;
    if (!store__id_valid((const char *)key + STORE__PICK_PREFIX, idlen)) {
        return AUGUR_EMALFORMED;
    }
    *p_bits = store__be64_get(key);
    free_cap->cpu = ~store__be64_get(key + 8);
    free_cap->mem_mb = ~store__be64_get(key + 16);
    memcpy(id, key + STORE__PICK_PREFIX, idlen);
    id[idlen] = 0;
    return 0;
}

int store__resource_store(struct store *s,
                          MDB_txn *txn,
                          const struct store__resource *old,
                          const struct store__resource *r)
{
    static const unsigned char nil = 0xc0;
    unsigned char old_key[STORE__PICK_KEY_MAX];
    unsigned char new_key[STORE__PICK_KEY_MAX];
    size_t old_len = 0;
    size_t new_len = 0;
    int rv;

    rv = resource_encode(s, r);
    if (rv == 0) {
        rv = store__put(s, txn, STORE__DB_RESOURCES, r->id, strlen(r->id),
                        s->value.data, s->value.size);
    }
    if (rv != 0) {
        return rv;
    }
    if (old != NULL && pick_indexed(old)) {
        old_len = pick_key(old, old_key);
    }
    if (pick_indexed(r)) {
        new_len = pick_key(r, new_key);
    }
    if (old_len == new_len && memcmp(old_key, new_key, old_len) == 0) {
        return 0;
    }
    if (old_len > 0) {
        rv = store__del(s, txn, STORE__DB_PICK, old_key, old_len);
        if (rv != 0 && rv != AUGUR_ENOTFOUND) {
            return rv;
        }
    }
    if (new_len > 0) {
        rv = store__put(s, txn, STORE__DB_PICK, new_key, new_len, &nil,
                        sizeof nil);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* ---- ops -------------------------------------------------------------- */

static int refuse_missing(struct store *s, const char *id)
{
    return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s", id);
}

int store__resource_add(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    const char *id = cmd->u.resource_add.id;
    struct store__resource r;
    MDB_val v;
    int rv;

    rv = store__get(s, txn, STORE__DB_RESOURCES, id, strlen(id), &v);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST, "resource %s already exists", id);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    memset(&r, 0, sizeof r);
    memcpy(r.id, id, strlen(id));
    memcpy(r.kind, cmd->u.resource_add.kind, strlen(cmd->u.resource_add.kind));
    r.capacity = cmd->u.resource_add.capacity;
    r.state = STORE_STATE_ACTIVE;
    r.confidence = -1.0;
    /* Labels are kept sorted by key: one state, one representation. */
    for (unsigned i = 0; i < cmd->u.resource_add.n_labels; i++) {
        const struct store_label *l = &cmd->u.resource_add.labels[i];
        unsigned j = r.n_labels++;
        while (j > 0 && strcmp(r.labels[j - 1].key, l->key) > 0) {
            r.labels[j] = r.labels[j - 1];
            j--;
        }
        r.labels[j] = *l;
    }
    rv = store__resource_store(s, txn, NULL, &r);
    if (rv != 0) {
        return rv;
    }
    store__resource_pack(&s->out, &r);
    return 0;
}

int store__resource_set_state(struct store *s,
                              MDB_txn *txn,
                              const struct store_cmd *cmd)
{
    struct store__resource old;
    struct store__resource r;
    int rv;

    rv = store__resource_load(s, txn, cmd->u.set_state.id, &old);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_missing(s, cmd->u.set_state.id);
    }
    if (rv != 0) {
        return rv;
    }
    r = old;
    r.state = cmd->u.set_state.state;
    if (r.state == STORE_STATE_UNREACHABLE &&
        old.state != STORE_STATE_UNREACHABLE) {
        r.prior_state = old.state;
    }
    rv = store__resource_store(s, txn, &old, &r);
    if (rv != 0) {
        return rv;
    }
    store__resource_pack(&s->out, &r);
    return 0;
}

/* The leader's lease decisions, each a compare-and-set on the state, so
 * that a decision made on an older view (a deposed leader's, a duplicate
 * from a retry) changes nothing:
 *   expect X, state X (X not unreachable): the host's agent reported for
 *     the first time: it is leased from now on (refused if it is already);
 *   expect X, state unreachable: its lease expired; X is kept as the prior
 *     state;
 *   expect unreachable, state failed: the orchestrator evacuated it after
 *     its lease expired: failed (a report afterwards changes nothing);
 *   expect unreachable, state anything else: it reports again: back to
 *     the prior state, whatever @state says, so that a state an operator
 *     set before is not lost. */
int store__resource_lease(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    int expect = cmd->u.lease.expect;
    int state = cmd->u.lease.state;
    struct store__resource old;
    struct store__resource r;
    int rv;

    rv = store__resource_load(s, txn, cmd->u.lease.id, &old);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_missing(s, cmd->u.lease.id);
    }
    if (rv != 0) {
        return rv;
    }
    if (old.state != expect ||
        (expect == STORE_STATE_UNREACHABLE && state == expect)) {
        return store__refuse(s, AUGUR_ECONFLICT,
                             "resource.lease: %s is %s, not %s: nothing "
                             "applied",
                             old.id, store_state_name(old.state),
                             store_state_name(expect));
    }
    r = old;
    r.leased = true;
    if (state == STORE_STATE_UNREACHABLE) {
        r.state = STORE_STATE_UNREACHABLE;
        r.prior_state = old.state;
    } else if (expect == STORE_STATE_UNREACHABLE &&
               state == STORE_STATE_FAILED) {
        /* The orchestrator evacuated the host after its lease expired:
         * failed, and a report afterwards no longer restores it (ingest
         * proposes a restore only from unreachable). */
        r.state = STORE_STATE_FAILED;
    } else if (expect == STORE_STATE_UNREACHABLE) {
        r.state = old.prior_state;
    } else if (state == expect) {
        if (old.leased) {
            return store__refuse(s, AUGUR_EEXIST,
                                 "resource.lease: %s is leased already",
                                 old.id);
        }
    } else {
        return store__refuse(s, AUGUR_EINVAL,
                             "resource.lease: from %s to %s is not a lease "
                             "decision",
                             store_state_name(expect), store_state_name(state));
    }
    rv = store__resource_store(s, txn, &old, &r);
    if (rv != 0) {
        return rv;
    }
    store__resource_pack(&s->out, &r);
    return 0;
}

int store_resource_state(struct store *s,
                         const char *id,
                         int *state,
                         bool *leased)
{
    struct store__resource r;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__resource_load(s, s->rtxn, id, &r);
    mdb_txn_reset(s->rtxn);
    if (rv == 0) {
        *state = r.state;
        *leased = r.leased;
    }
    return rv;
}

int store_resources_leased(struct store *s,
                           void (*cb)(void *arg, const char *id, int state),
                           void *arg)
{
    struct store__resource r;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__cursor(s, s->rtxn, STORE__DB_RESOURCES, &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    for (rv = store__step(s, cur, MDB_FIRST, &k, &v); rv == 0;
         rv = store__step(s, cur, MDB_NEXT, &k, &v)) {
        if (resource_decode(s, &k, &v, &r) != 0) {
            rv = AUGUR_EIO;
            break;
        }
        if (r.leased) {
            cb(arg, r.id, r.state);
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store__score_set(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    struct store__resource old;
    struct store__resource r;
    int rv;

    rv = store__resource_load(s, txn, cmd->u.score.id, &old);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_missing(s, cmd->u.score.id);
    }
    if (rv != 0) {
        return rv;
    }
    r = old;
    r.has_score = true;
    r.p = cmd->u.score.p == 0.0 ? 0.0 : cmd->u.score.p;
    r.window_s = cmd->u.score.window_s;
    r.updated_at = cmd->time_ms;
    /* A client's score (an operator's, by hand) holds for its window: the
     * leader's scoring (no principal) leaves it alone until then, and its
     * own score.set does not clear it. */
    if (cmd->has_principal) {
        const int64_t cap = INT64_MAX / 4; /* no overflow below */
        int64_t window_ms = r.window_s > (uint64_t)(cap / 1000)
                                ? cap
                                : (int64_t)r.window_s * 1000;
        int64_t now = cmd->time_ms > cap ? cap : cmd->time_ms;
        int64_t until = now + window_ms;
        r.manual_until = until > 0 ? until : 1;
    }
    r.confidence =
        cmd->u.score.has_confidence ? cmd->u.score.confidence + 0.0 : -1.0;
    memcpy(r.model, cmd->u.score.model, sizeof r.model);
    r.n_reasons = cmd->u.score.n_reasons;
    memcpy(r.reasons, cmd->u.score.reasons, sizeof r.reasons);
    for (unsigned i = 0; i < r.n_reasons; i++) {
        /* -0 and 0 are one contribution: one representation. */
        r.reasons[i].contribution += 0.0;
    }
    rv = store__resource_store(s, txn, &old, &r);
    if (rv != 0) {
        return rv;
    }
    store__resource_pack(&s->out, &r);
    return 0;
}

int store__resource_get(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    struct store__resource r;
    int rv;

    rv = store__resource_load(s, txn, cmd->u.get.id, &r);
    if (rv == AUGUR_ENOTFOUND) {
        return refuse_missing(s, cmd->u.get.id);
    }
    if (rv != 0) {
        return rv;
    }
    store__resource_pack(&s->out, &r);
    return 0;
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store__resource r;

    (void)txn;
    (void)ctx;
    if (resource_decode(s, k, v, &r) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the record of resource %.*s is corrupt",
                 (int)(k->mv_size > 127 ? 127 : k->mv_size),
                 (const char *)k->mv_data);
        return AUGUR_EIO;
    }
    store__resource_pack(&s->list, &r);
    return 0;
}

int store__resource_list(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    return store__list_ids(s, txn, cmd, STORE__DB_RESOURCES, list_item);
}

/* ---- snapshot checks -------------------------------------------------- */

int store__pick_entry_check(struct store *s, const MDB_val *k, const MDB_val *v)
{
    struct store_capacity free_cap;
    char id[STORE_ID_SIZE];
    uint64_t bits;

    (void)s;
    if (v->mv_size != 1 || *(const unsigned char *)v->mv_data != 0xc0) {
        return AUGUR_EMALFORMED;
    }
    return store__pick_key_decode(k, &bits, &free_cap, id);
}

int store_resource_score(struct store *s,
                         const char *id,
                         char *kind,
                         bool *has_score,
                         double *p,
                         int64_t *updated_at)
{
    struct store__resource r;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__resource_load(s, s->rtxn, id, &r);
    mdb_txn_reset(s->rtxn);
    if (rv != 0) {
        return rv;
    }
    memcpy(kind, r.kind, STORE_KIND_SIZE);
    *has_score = r.has_score;
    *p = r.has_score ? r.p : 0.0;
    *updated_at = r.has_score ? r.updated_at : 0;
    return 0;
}

int store_resource_manual_until(struct store *s,
                                const char *id,
                                int64_t *until_ms)
{
    struct store__resource r;
    int rc;
    int rv;

    *until_ms = 0;
    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__resource_load(s, s->rtxn, id, &r);
    mdb_txn_reset(s->rtxn);
    if (rv == 0) {
        *until_ms = r.manual_until;
    }
    return rv;
}
