/* Migration workflows: the durable, fenced state machine that moves a
 * workload's claim from one host to another, one committed step at a time
 * (docs/ORCHESTRATOR.md "Workflows"); the ops workflow.create, advance,
 * cancel, approve, get and list, and the orchestrator's views. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A workflow record is the msgpack array
 *   [workload, from, to, strategy, reason, state, step, steps, epoch,
 *    cur_epoch, flags, created_at, updated_at, error]
 * keyed by the BE u64 id, with steps an array of
 *   [name, state, attempt, started_at, ended_at, detail]
 * and flags the bits of FLAG_*.  workflow_of maps a workload to the id of
 * its workflow in flight (pending or running), workload_moves a workload
 * to [the id of its last finished workflow, when it ended]. */
#define RECORD_FIELDS 14
#define STEP_FIELDS 6
#define FLAG_APPROVED 1u
#define FLAG_ROLLING_BACK 2u
#define FLAG_CANCELLING 4u
#define FLAG_NOTIFY 8u

/* ---- the record ------------------------------------------------------- */

static int step_decode(const msgpack_object *o, struct store_wf_step *st)
{
    const msgpack_object *a;
    uint64_t state;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != STEP_FIELDS) {
        return AUGUR_EMALFORMED;
    }
    a = o->via.array.ptr;
    if (store__obj_str(&a[0], st->name, sizeof st->name) != 0 ||
        st->name[0] == 0 || store__obj_u64(&a[1], &state) != 0 ||
        state >= STORE_STEP_STATE_COUNT ||
        store__obj_u64(&a[2], &st->attempt) != 0 || st->attempt == 0 ||
        store__obj_i64(&a[3], &st->started_at) != 0 ||
        store__obj_i64(&a[4], &st->ended_at) != 0 ||
        store__obj_str(&a[5], st->detail, sizeof st->detail) != 0) {
        return AUGUR_EMALFORMED;
    }
    st->state = (int)state;
    return 0;
}

static int workflow_decode(struct store *s,
                           const MDB_val *k,
                           const MDB_val *v,
                           void *out)
{
    struct store_workflow *w = out;
    const msgpack_object *a;
    msgpack_object o;
    uint64_t strategy, reason, state, step, flags;

    memset(w, 0, sizeof *w);
    if (k->mv_size != 8) {
        return AUGUR_EMALFORMED;
    }
    w->id = store__be64_get(k->mv_data);
    if (w->id == 0 || store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != RECORD_FIELDS) {
        return AUGUR_EMALFORMED;
    }
    a = o.via.array.ptr;
    if (store__obj_str(&a[0], w->workload, sizeof w->workload) != 0 ||
        !store__id_valid(w->workload, strlen(w->workload)) ||
        store__obj_str(&a[1], w->from, sizeof w->from) != 0 ||
        !store__id_valid(w->from, strlen(w->from)) ||
        store__obj_str(&a[2], w->to, sizeof w->to) != 0 ||
        !store__id_valid(w->to, strlen(w->to)) ||
        store__obj_u64(&a[3], &strategy) != 0 ||
        strategy >= STORE_STRATEGY_COUNT ||
        store__obj_u64(&a[4], &reason) != 0 || reason >= STORE_REASON_COUNT ||
        store__obj_u64(&a[5], &state) != 0 || state >= STORE_WF_STATE_COUNT ||
        store__obj_u64(&a[6], &step) != 0 ||
        a[7].type != MSGPACK_OBJECT_ARRAY || a[7].via.array.size == 0 ||
        a[7].via.array.size > STORE_WF_STEPS_MAX ||
        step > a[7].via.array.size || store__obj_u64(&a[8], &w->epoch) != 0 ||
        store__obj_u64(&a[9], &w->cur_epoch) != 0 ||
        store__obj_u64(&a[10], &flags) != 0 || flags > 15 ||
        store__obj_i64(&a[11], &w->created_at) != 0 ||
        store__obj_i64(&a[12], &w->updated_at) != 0 ||
        store__obj_str(&a[13], w->error, sizeof w->error) != 0) {
        return AUGUR_EMALFORMED;
    }
    w->strategy = (int)strategy;
    w->reason = (int)reason;
    w->state = (int)state;
    w->step = (unsigned)step;
    w->n_steps = a[7].via.array.size;
    for (unsigned i = 0; i < w->n_steps; i++) {
        if (step_decode(&a[7].via.array.ptr[i], &w->steps[i]) != 0) {
            return AUGUR_EMALFORMED;
        }
    }
    w->approved = (flags & FLAG_APPROVED) != 0;
    w->rolling_back = (flags & FLAG_ROLLING_BACK) != 0;
    w->cancelling = (flags & FLAG_CANCELLING) != 0;
    w->notify = (flags & FLAG_NOTIFY) != 0;
    return 0;
}

const struct store__record store__workflow_record = {
    .db = STORE__DB_WORKFLOWS,
    .what = "workflow",
    .decode = workflow_decode,
};

static int workflow_load(struct store *s,
                         MDB_txn *txn,
                         uint64_t id,
                         struct store_workflow *w)
{
    unsigned char key[8];
    MDB_val k = {.mv_size = sizeof key, .mv_data = key};
    MDB_val v;
    int rv;

    store__be64_put(key, id);
    rv = store__get(s, txn, STORE__DB_WORKFLOWS, key, sizeof key, &v);
    if (rv != 0) {
        return rv;
    }
    if (workflow_decode(s, &k, &v, w) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the record of workflow %" PRIu64 " is corrupt", id);
        LOG(LOG_LEVEL_ERROR, "store: %s", s->errmsg);
        return AUGUR_EIO;
    }
    return 0;
}

static int workflow_store(struct store *s,
                          MDB_txn *txn,
                          const struct store_workflow *w)
{
    unsigned char key[8];
    struct store__pack p;
    unsigned flags = (w->approved ? FLAG_APPROVED : 0) |
                     (w->rolling_back ? FLAG_ROLLING_BACK : 0) |
                     (w->cancelling ? FLAG_CANCELLING : 0) |
                     (w->notify ? FLAG_NOTIFY : 0);

    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, RECORD_FIELDS);
    store__pack_str(&p, w->workload);
    store__pack_str(&p, w->from);
    store__pack_str(&p, w->to);
    msgpack_pack_uint64(&p.pk, (uint64_t)w->strategy);
    msgpack_pack_uint64(&p.pk, (uint64_t)w->reason);
    msgpack_pack_uint64(&p.pk, (uint64_t)w->state);
    msgpack_pack_uint64(&p.pk, w->step);
    msgpack_pack_array(&p.pk, w->n_steps);
    for (unsigned i = 0; i < w->n_steps; i++) {
        const struct store_wf_step *st = &w->steps[i];
        msgpack_pack_array(&p.pk, STEP_FIELDS);
        store__pack_str(&p, st->name);
        msgpack_pack_uint64(&p.pk, (uint64_t)st->state);
        msgpack_pack_uint64(&p.pk, st->attempt);
        msgpack_pack_int64(&p.pk, st->started_at);
        msgpack_pack_int64(&p.pk, st->ended_at);
        store__pack_str(&p, st->detail);
    }
    msgpack_pack_uint64(&p.pk, w->epoch);
    msgpack_pack_uint64(&p.pk, w->cur_epoch);
    msgpack_pack_uint64(&p.pk, flags);
    msgpack_pack_int64(&p.pk, w->created_at);
    msgpack_pack_int64(&p.pk, w->updated_at);
    store__pack_str(&p, w->error);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    store__be64_put(key, w->id);
    return store__put(s, txn, STORE__DB_WORKFLOWS, key, sizeof key,
                      s->value.data, s->value.size);
}

static void workflow_pack(struct store__pack *p, const struct store_workflow *w)
{
    msgpack_packer *k = &p->pk;

    msgpack_pack_map(k, 16);
    store__pack_str(p, "id");
    msgpack_pack_uint64(k, w->id);
    store__pack_str(p, "workload");
    store__pack_str(p, w->workload);
    store__pack_str(p, "from");
    store__pack_str(p, w->from);
    store__pack_str(p, "to");
    store__pack_str(p, w->to);
    store__pack_str(p, "strategy");
    store__pack_str(p, store_strategy_name(w->strategy));
    store__pack_str(p, "reason");
    store__pack_str(p, store_wf_reason_name(w->reason));
    store__pack_str(p, "state");
    store__pack_str(p, store_wf_state_name(w->state));
    store__pack_str(p, "step");
    msgpack_pack_uint64(k, w->step);
    store__pack_str(p, "steps");
    msgpack_pack_array(k, w->n_steps);
    for (unsigned i = 0; i < w->n_steps; i++) {
        const struct store_wf_step *st = &w->steps[i];
        msgpack_pack_map(k, 6);
        store__pack_str(p, "name");
        store__pack_str(p, st->name);
        store__pack_str(p, "state");
        store__pack_str(p, store_step_state_name(st->state));
        store__pack_str(p, "attempt");
        msgpack_pack_uint64(k, st->attempt);
        store__pack_str(p, "started_at");
        msgpack_pack_int64(k, st->started_at);
        store__pack_str(p, "ended_at");
        msgpack_pack_int64(k, st->ended_at);
        store__pack_str(p, "detail");
        store__pack_str(p, st->detail);
    }
    store__pack_str(p, "created_at");
    msgpack_pack_int64(k, w->created_at);
    store__pack_str(p, "updated_at");
    msgpack_pack_int64(k, w->updated_at);
    store__pack_str(p, "epoch");
    msgpack_pack_uint64(k, w->epoch);
    store__pack_str(p, "cur_epoch");
    msgpack_pack_uint64(k, w->cur_epoch);
    store__pack_str(p, "error");
    store__pack_str(p, w->error);
    store__pack_str(p, "approved");
    if (w->approved) {
        msgpack_pack_true(k);
    } else {
        msgpack_pack_false(k);
    }
    store__pack_str(p, "notify");
    if (w->notify) {
        msgpack_pack_true(k);
    } else {
        msgpack_pack_false(k);
    }
}

/* ---- helpers ---------------------------------------------------------- */

static bool finished(const struct store_workflow *w)
{
    return w->state != STORE_WF_PENDING && w->state != STORE_WF_RUNNING;
}

static bool is_step(const struct store_wf_step *st, const char *name)
{
    return strcmp(st->name, name) == 0;
}

static const struct store_wf_step *find_step(const struct store_workflow *w,
                                             const char *name)
{
    for (unsigned i = 0; i < w->n_steps; i++) {
        if (is_step(&w->steps[i], name)) {
            return &w->steps[i];
        }
    }
    return NULL;
}

/* Whether the claim moved to @to: the transfer step is done. */
static bool transferred(const struct store_workflow *w)
{
    const struct store_wf_step *st = find_step(w, "transfer");
    return st != NULL && st->state == STORE_STEP_DONE;
}

/* Whether a prepare step ran (or may have, in part): its undo is due. */
static bool prepared(const struct store_workflow *w)
{
    const struct store_wf_step *st = find_step(w, "prepare");
    return st != NULL && st->state != STORE_STEP_PENDING &&
           st->state != STORE_STEP_SKIPPED;
}

/* Whether @st is a traffic step: mirror or shift_<pct>. */
static bool is_traffic_step(const struct store_wf_step *st)
{
    return is_step(st, "mirror") || strncmp(st->name, "shift_", 6) == 0;
}

/* Whether a traffic step ran (or may have, in part): the weights and the
 * mirror are to be restored. */
static bool shifted(const struct store_workflow *w)
{
    for (unsigned i = 0; i < w->n_steps; i++) {
        const struct store_wf_step *st = &w->steps[i];

        if (is_traffic_step(st) && st->state != STORE_STEP_PENDING &&
            st->state != STORE_STEP_SKIPPED) {
            return true;
        }
    }
    return false;
}

static void add_step(struct store_workflow *w, const char *name)
{
    struct store_wf_step *st;

    if (w->n_steps == STORE_WF_STEPS_MAX) {
        /* No strategy has that many: a bug, not input. */
        LOG(LOG_LEVEL_ERROR, "store: workflow %" PRIu64 " has no room for %s",
            w->id, name);
        return;
    }
    st = &w->steps[w->n_steps++];
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    st->attempt = 1;
}

/* Skip every step from @from on that has not started. */
static void skip_pending(struct store_workflow *w, unsigned from, int64_t now)
{
    for (unsigned i = from; i < w->n_steps; i++) {
        if (w->steps[i].state == STORE_STEP_PENDING) {
            w->steps[i].state = STORE_STEP_SKIPPED;
            w->steps[i].ended_at = now;
        }
    }
}

static void set_detail(struct store_wf_step *st, const char *detail)
{
    if (detail != NULL && detail[0] != 0) {
        snprintf(st->detail, sizeof st->detail, "%s", detail);
    }
}

/* Refuse with ECONFLICT, the workflow as it is in the result. */
static int refuse_conflict(struct store *s,
                           const struct store_workflow *w,
                           const char *why)
{
    store__refuse(s, AUGUR_ECONFLICT, "workflow %" PRIu64 " (%s): %s", w->id,
                  store_wf_state_name(w->state), why);
    workflow_pack(&s->out, w);
    return 0;
}

static int entries(struct store *s, MDB_txn *txn, enum store__db db, size_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(txn, s->dbi[db], &st);

    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_stat");
    }
    *n = st.ms_entries;
    return 0;
}

/* Keep at most STORE_WORKFLOWS_KEPT finished workflows: the oldest
 * finished go first (workflows in flight are never trimmed). */
static int trim(struct store *s, MDB_txn *txn)
{
    struct store_workflow w;
    MDB_cursor *cur;
    size_t all = 0;
    size_t in_flight = 0;
    size_t done;
    MDB_val k;
    MDB_val v;
    int rv;

    rv = entries(s, txn, STORE__DB_WORKFLOWS, &all);
    if (rv == 0) {
        rv = entries(s, txn, STORE__DB_WORKFLOW_OF, &in_flight);
    }
    if (rv != 0) {
        return rv;
    }
    done = all > in_flight ? all - in_flight : 0;
    if (done <= STORE_WORKFLOWS_KEPT) {
        return 0;
    }
    rv = store__cursor(s, txn, STORE__DB_WORKFLOWS, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0 && done > STORE_WORKFLOWS_KEPT) {
        if (workflow_decode(s, &k, &v, &w) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a workflow is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        if (finished(&w)) {
            int rc = mdb_cursor_del(cur, 0);
            if (rc != 0) {
                rv = store__mdb_fail(s, rc, "mdb_cursor_del");
                break;
            }
            done--;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* End @w in @state: it leaves workflow_of, and workload_moves records
 * when. */
static void finish(struct store_workflow *w, int state, int64_t now)
{
    w->state = state;
    w->updated_at = now;
}

/* Write @w back and keep the indexes in step with its state. */
static int commit(struct store *s, MDB_txn *txn, struct store_workflow *w)
{
    struct store__pack p;
    int rv = workflow_store(s, txn, w);

    if (rv != 0 || !finished(w)) {
        if (rv == 0) {
            workflow_pack(&s->out, w);
        }
        return rv;
    }
    rv = store__del(s, txn, STORE__DB_WORKFLOW_OF, w->workload,
                    strlen(w->workload));
    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, 2);
    msgpack_pack_uint64(&p.pk, w->id);
    msgpack_pack_int64(&p.pk, w->updated_at);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    rv = store__put(s, txn, STORE__DB_WORKLOAD_MOVES, w->workload,
                    strlen(w->workload), s->value.data, s->value.size);
    if (rv == 0) {
        rv = trim(s, txn);
    }
    if (rv == 0) {
        workflow_pack(&s->out, w);
    }
    return rv;
}

/* Move on past the current step; past the last one the workflow ends. */
static void next_step(struct store_workflow *w, int64_t now)
{
    w->step++;
    if (w->step < w->n_steps) {
        return;
    }
    w->step = w->n_steps;
    finish(w,
           w->cancelling     ? STORE_WF_CANCELLED
           : w->rolling_back ? STORE_WF_ROLLED_BACK
                             : STORE_WF_DONE,
           now);
}

/* Start rolling back from the current step: the steps appended undo what
 * ran; with nothing to undo the workflow ends at once. */
static void roll_back(struct store_workflow *w, int64_t now, bool cancel)
{
    unsigned first = w->n_steps;

    w->rolling_back = true;
    w->cancelling = cancel;
    skip_pending(w, w->step, now);
    if (!transferred(w)) {
        if (shifted(w)) {
            add_step(w, "unshift");
        }
        if (prepared(w)) {
            add_step(w, "undo_prepare");
        }
    } else {
        add_step(w, "transfer_back");
        add_step(w, "reactivate");
        add_step(w, "undo_activate");
    }
    if (w->n_steps == first) {
        w->step = w->n_steps;
        finish(w, cancel ? STORE_WF_CANCELLED : STORE_WF_ROLLED_BACK, now);
        return;
    }
    w->step = first;
}

/* The current step failed (@detail why): roll back as the contract says.
 * @from_active tells whether the old host is still active. */
static void fail_step(struct store_workflow *w,
                      const char *detail,
                      bool from_active,
                      int64_t now)
{
    struct store_wf_step *st = &w->steps[w->step];

    set_detail(st, detail);
    st->ended_at = now;
    if (w->rolling_back) {
        /* The rollback itself failed: nothing more the store can do. */
        st->state = STORE_STEP_FAILED;
        snprintf(w->error, sizeof w->error, "rollback step %s failed: %.80s",
                 st->name, st->detail);
        skip_pending(w, w->step + 1, now);
        w->step = w->n_steps;
        finish(w, STORE_WF_FAILED, now);
        return;
    }
    if (transferred(w) && is_step(st, "release")) {
        /* The old host is gone: nothing left there to stop. */
        st->state = STORE_STEP_SKIPPED;
        next_step(w, now);
        return;
    }
    st->state = STORE_STEP_FAILED;
    if (is_traffic_step(st) && st->detail[0] != 0) {
        /* A KPI verdict says it all ("error_rate 0.120 > 0.010 ..."). */
        snprintf(w->error, sizeof w->error, "%s", st->detail);
    } else {
        snprintf(w->error, sizeof w->error, "step %s failed: %.90s", st->name,
                 st->detail);
    }
    if (transferred(w) && !from_active) {
        skip_pending(w, w->step + 1, now);
        w->step = w->n_steps;
        finish(w, STORE_WF_FAILED, now);
        return;
    }
    w->step++;
    roll_back(w, now, false);
}

/* Forget a refusal a nested op (store__claim_move) left, keeping its
 * reason in @why. */
static void take_refusal(struct store *s, char *why, size_t size)
{
    size_t n = strnlen(s->errmsg, size - 1);

    memcpy(why, s->errmsg, n);
    why[n] = 0;
    s->status = 0;
    s->errmsg[0] = 0;
    s->result.size = 0;
    store__pack_init(&s->out, &s->result);
}

static int from_is_active(struct store *s,
                          MDB_txn *txn,
                          const char *host,
                          bool *active)
{
    struct store__resource r;
    int rv = store__resource_load(s, txn, host, &r);

    *active = rv == 0 && r.state == STORE_STATE_ACTIVE;
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* A store step (transfer, transfer_back): move the claim in this apply,
 * under fencing: the claim must still be where and at the epoch the
 * workflow last left it. */
static int run_store_step(struct store *s,
                          MDB_txn *txn,
                          struct store_workflow *w,
                          int64_t now)
{
    struct store_wf_step *st = &w->steps[w->step];
    bool back = is_step(st, "transfer_back");
    const char *holder = back ? w->to : w->from;
    const char *target = back ? w->from : w->to;
    char why[STORE_DETAIL_SIZE];
    struct store__workload wl;
    struct store__claim c;
    bool active = true;
    int rv;

    rv = store__workload_load(s, txn, w->workload, &wl);
    if (rv == AUGUR_ENOTFOUND) {
        snprintf(why, sizeof why, "workload %.100s is gone", w->workload);
        goto failed;
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__claim_load(s, txn, w->workload, &c);
    if (rv == AUGUR_ENOTFOUND) {
        snprintf(why, sizeof why, "workload %.80s holds no claim any more",
                 w->workload);
        goto failed;
    }
    if (rv != 0) {
        return rv;
    }
    if (strcmp(c.host, holder) != 0 || c.epoch != w->cur_epoch) {
        snprintf(why, sizeof why,
                 "the claim moved under the workflow: %.60s at epoch %" PRIu64,
                 c.host, c.epoch);
        goto failed;
    }
    rv = store__claim_move(s, txn, &wl, &c, target);
    if (rv != 0) {
        return rv;
    }
    if (s->status != 0) {
        take_refusal(s, why, sizeof why);
        goto failed;
    }
    w->cur_epoch = c.epoch;
    st->state = STORE_STEP_DONE;
    st->ended_at = now;
    next_step(w, now);
    return 0;

failed:
    rv = from_is_active(s, txn, w->from, &active);
    if (rv != 0) {
        return rv;
    }
    fail_step(w, why, active, now);
    return 0;
}

/* ---- ops -------------------------------------------------------------- */

/* Workflows in flight that count against the policy's max_concurrent, and
 * those of them whose workload is in cohort @cohort ("": none) against
 * max_concurrent_cohort (failovers are exempt: a dead host's workloads
 * move whatever the limits). */
static int count_in_flight(struct store *s,
                           MDB_txn *txn,
                           const char *cohort,
                           uint64_t *n,
                           uint64_t *n_cohort)
{
    char other[STORE_ID_SIZE];
    struct store_workflow w;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rv;

    *n = 0;
    *n_cohort = 0;
    rv = store__cursor(s, txn, STORE__DB_WORKFLOW_OF, &cur);
    if (rv != 0) {
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        if (v.mv_size != 8) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the workflow index is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        rv = workflow_load(s, txn, store__be64_get(v.mv_data), &w);
        if (rv != 0) {
            if (rv == AUGUR_ENOTFOUND) {
                snprintf(s->errmsg, sizeof s->errmsg,
                         "the workflow index names a missing workflow");
                rv = AUGUR_EIO;
            }
            break;
        }
        if (w.reason != STORE_REASON_FAILED) {
            (*n)++;
            if (cohort[0] != 0) {
                rv = store__cohort_of(s, txn, w.workload, other);
                if (rv != 0) {
                    break;
                }
                if (strcmp(other, cohort) == 0) {
                    (*n_cohort)++;
                }
            }
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

/* Choose and check the target of a new workflow into w->to: false with a
 * refusal when there is none. */
static int choose_target(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd,
                         const struct store__workload *wl,
                         struct store_workflow *w,
                         bool *ok)
{
    const char *to = cmd->u.workflow.to;
    struct store__resource r;
    struct store_standby b;
    bool found;
    bool standby;
    int rv;

    *ok = false;
    if (to[0] == 0 && w->strategy == STORE_STRATEGY_STANDBY) {
        rv = store__standby_first(s, txn, wl->id, &b);
        if (rv == AUGUR_ENOTFOUND) {
            return store__refuse(s, AUGUR_ENOTFOUND,
                                 "workload %s has no standby claim to "
                                 "activate",
                                 wl->id);
        }
        if (rv != 0) {
            return rv;
        }
        to = b.host;
    } else if (to[0] == 0) {
        rv = store__claim_pick(s, txn, &wl->demand, w->from, w->to, &found);
        if (rv != 0) {
            return rv;
        }
        if (!found) {
            return store__refuse(s, AUGUR_ENOCAPACITY,
                                 "no other active host has room for workload "
                                 "%s (demand cpu %" PRIu64 ", mem_mb %" PRIu64
                                 ")",
                                 wl->id, wl->demand.cpu, wl->demand.mem_mb);
        }
        to = w->to;
    }
    if (strcmp(to, w->from) == 0) {
        return store__refuse(s, AUGUR_EINVAL, "workload %s already runs on %s",
                             wl->id, to);
    }
    rv = store__resource_load(s, txn, to, &r);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s", to);
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__standby_load(s, txn, wl->id, to, &b);
    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    standby = rv == 0;
    if (w->strategy == STORE_STRATEGY_STANDBY && !standby) {
        return store__refuse(s, AUGUR_EINVAL,
                             "strategy standby: workload %s has no standby "
                             "claim on %s",
                             wl->id, to);
    }
    if (!store__claim_grantable(s, &r, wl, standby)) {
        return 0;
    }
    snprintf(w->to, sizeof w->to, "%s", r.id);
    *ok = true;
    return 0;
}

/* Every step a workflow can hold fits: notify, prepare, mirror, the
 * shifts, transfer, activate, keep_warm, release, then the longest
 * rollback (transfer_back, reactivate, undo_activate). */
_Static_assert(STORE_SHIFT_STEPS_MAX + 11 <= STORE_WF_STEPS_MAX,
               "a workflow's steps fit");

/* The traffic steps of policy traffic=true (docs/ORCHESTRATOR.md "Traffic
 * steps (store)"): a mirror run, then one shift_<pct> per entry of
 * shift_steps; blue-green moves all the traffic at once. */
static void add_traffic_steps(struct store_workflow *w,
                              const struct store_shift_steps *shifts)
{
    add_step(w, "mirror");
    if (w->strategy == STORE_STRATEGY_BLUE_GREEN) {
        add_step(w, "shift_100");
        return;
    }
    for (unsigned i = 0; i < shifts->n; i++) {
        char name[STORE_STEP_NAME_SIZE];

        snprintf(name, sizeof name, "shift_%u", shifts->pct[i]);
        add_step(w, name);
    }
}

int store__workflow_create(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd)
{
    const char *wid = cmd->u.workflow.workload;
    struct store_shift_steps shifts;
    struct store_workflow w;
    struct store__workload wl;
    struct store__claim c;
    unsigned char key[8];
    bool traffic = false;
    uint64_t n;
    MDB_val v;
    bool ok;
    int rv;

    rv = store__workload_load(s, txn, wid, &wl);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no workload named %s", wid);
    }
    if (rv != 0) {
        return rv;
    }
    rv = store__claim_load(s, txn, wid, &c);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND,
                             "workload %s holds no claim: nothing to move",
                             wid);
    }
    if (rv != 0) {
        return rv;
    }
    /* One workflow at a time per workload; the one in flight is in the
     * answer, so a proposer that lost its answer learns what it made. */
    rv = store__get(s, txn, STORE__DB_WORKFLOW_OF, wid, strlen(wid), &v);
    if (rv == 0) {
        if (v.mv_size != 8 ||
            workflow_load(s, txn, store__be64_get(v.mv_data), &w) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the workflow index of workload %s is corrupt", wid);
            return AUGUR_EIO;
        }
        store__refuse(s, AUGUR_EBUSY,
                      "workload %s has workflow %" PRIu64 " in flight", wid,
                      w.id);
        workflow_pack(&s->out, &w);
        return 0;
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }

    memset(&w, 0, sizeof w);
    w.id = s->rev + 1;
    memcpy(w.workload, wl.id, sizeof w.workload);
    memcpy(w.from, c.host, sizeof w.from);
    w.strategy =
        cmd->u.workflow.has_strategy ? cmd->u.workflow.strategy : wl.strategy;
    /* A client's migration is manual and needs no approval; the cluster's
     * own says why and whether it waits for an operator. */
    if (cmd->has_principal) {
        w.reason = STORE_REASON_MANUAL;
        w.approved = true;
    } else {
        w.reason = cmd->u.workflow.has_reason ? cmd->u.workflow.reason
                                              : STORE_REASON_MANUAL;
        w.approved = !cmd->u.workflow.hold;
    }
    memset(&shifts, 0, sizeof shifts);
    if (w.reason != STORE_REASON_FAILED) {
        struct store_policy pol;
        char cohort[STORE_ID_SIZE];
        uint64_t n_cohort;

        rv = store__policy_load(s, txn, &pol);
        if (rv == 0) {
            rv = store__cohort_of(s, txn, wl.id, cohort);
        }
        if (rv == 0) {
            rv = count_in_flight(s, txn, cohort, &n, &n_cohort);
        }
        if (rv != 0) {
            return rv;
        }
        /* A stored list was checked when set (and by the snapshot's entry
         * check): a failure here leaves the workflow without shifts. */
        if (pol.traffic &&
            store_shift_steps_parse(pol.shift_steps, &shifts, NULL, 0) != 0) {
            memset(&shifts, 0, sizeof shifts);
        }
        traffic = pol.traffic;
        if (n >= pol.max_concurrent) {
            return store__refuse(s, AUGUR_EBUSY,
                                 "%" PRIu64
                                 " workflows are in flight (at "
                                 "most %" PRIu64 ", policy max_concurrent)",
                                 n, pol.max_concurrent);
        }
        if (cohort[0] != 0 && n_cohort >= pol.max_concurrent_cohort) {
            return store__refuse(s, AUGUR_EBUSY,
                                 "%" PRIu64
                                 " workflows of cohort %s are in flight (at "
                                 "most %" PRIu64
                                 ", policy max_concurrent_cohort)",
                                 n_cohort, cohort, pol.max_concurrent_cohort);
        }
    }
    rv = choose_target(s, txn, cmd, &wl, &w, &ok);
    if (rv != 0 || !ok) {
        return rv;
    }
    w.notify = cmd->u.workflow.notify;
    w.epoch = c.epoch;
    w.cur_epoch = c.epoch;
    w.state = STORE_WF_PENDING;
    w.created_at = cmd->time_ms;
    w.updated_at = cmd->time_ms;
    if (w.notify) {
        add_step(&w, "notify");
    }
    if (w.reason != STORE_REASON_FAILED &&
        w.strategy != STORE_STRATEGY_STANDBY) {
        add_step(&w, "prepare");
    }
    if (traffic) {
        add_traffic_steps(&w, &shifts);
    }
    add_step(&w, "transfer");
    add_step(&w, "activate");
    if (w.reason != STORE_REASON_FAILED &&
        w.strategy == STORE_STRATEGY_BLUE_GREEN) {
        add_step(&w, "keep_warm");
    }
    add_step(&w, "release");

    store__be64_put(key, w.id);
    rv = store__put(s, txn, STORE__DB_WORKFLOW_OF, wid, strlen(wid), key,
                    sizeof key);
    if (rv != 0) {
        return rv;
    }
    return commit(s, txn, &w);
}

/* Load the workflow a command names: false with a refusal when there is
 * none. */
static int load_named(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd,
                      struct store_workflow *w,
                      bool *ok)
{
    int rv = workflow_load(s, txn, cmd->u.workflow.id, w);

    *ok = rv == 0;
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND,
                             "no workflow %" PRIu64 " (never, or trimmed)",
                             cmd->u.workflow.id);
    }
    return rv;
}

int store__workflow_advance(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd)
{
    const char *detail = cmd->u.workflow.detail;
    int64_t now = cmd->time_ms;
    struct store_policy pol;
    struct store_workflow w;
    struct store_wf_step *st;
    bool active;
    bool ok;
    int rv;

    rv = load_named(s, txn, cmd, &w, &ok);
    if (rv != 0 || !ok) {
        return rv;
    }
    /* The compare-and-set on (id, step, attempt): a duplicate, or a
     * deposed leader's late command, names a step or attempt that is no
     * longer current and changes nothing. */
    if (finished(&w)) {
        return refuse_conflict(s, &w, "it has ended");
    }
    if (!w.approved) {
        return refuse_conflict(s, &w, "it awaits workflow.approve");
    }
    if (cmd->u.workflow.step != w.step || w.step >= w.n_steps) {
        return refuse_conflict(s, &w, "that is not its current step");
    }
    st = &w.steps[w.step];
    if (cmd->u.workflow.attempt != st->attempt) {
        return refuse_conflict(s, &w, "that is not the step's attempt");
    }
    w.updated_at = now;
    switch (cmd->u.workflow.event) {
        case STORE_WF_EVENT_START:
            if (st->state != STORE_STEP_PENDING) {
                return refuse_conflict(s, &w, "the step has started");
            }
            st->state = STORE_STEP_RUNNING;
            st->started_at = now;
            set_detail(st, detail);
            w.state = STORE_WF_RUNNING;
            if (is_step(st, "transfer") || is_step(st, "transfer_back")) {
                rv = run_store_step(s, txn, &w, now);
                if (rv != 0) {
                    return rv;
                }
            }
            break;
        case STORE_WF_EVENT_OK:
            if (st->state != STORE_STEP_RUNNING) {
                return refuse_conflict(s, &w, "the step is not running");
            }
            st->state = STORE_STEP_DONE;
            st->ended_at = now;
            set_detail(st, detail);
            next_step(&w, now);
            break;
        case STORE_WF_EVENT_RETRY:
            if (st->state != STORE_STEP_RUNNING) {
                return refuse_conflict(s, &w, "the step is not running");
            }
            rv = store__policy_load(s, txn, &pol);
            if (rv != 0) {
                return rv;
            }
            if (st->attempt < pol.max_attempts) {
                /* The next actuator call carries the new attempt. */
                st->attempt++;
                st->started_at = now;
                set_detail(st, detail);
                break;
            }
            rv = from_is_active(s, txn, w.from, &active);
            if (rv != 0) {
                return rv;
            }
            fail_step(&w, detail[0] != 0 ? detail : "out of attempts", active,
                      now);
            break;
        case STORE_WF_EVENT_FAIL:
            if (st->state != STORE_STEP_RUNNING &&
                st->state != STORE_STEP_PENDING) {
                return refuse_conflict(s, &w, "the step has ended");
            }
            rv = from_is_active(s, txn, w.from, &active);
            if (rv != 0) {
                return rv;
            }
            fail_step(&w, detail[0] != 0 ? detail : "failed", active, now);
            break;
        case STORE_WF_EVENT_SKIP:
            if (st->state != STORE_STEP_RUNNING &&
                st->state != STORE_STEP_PENDING) {
                return refuse_conflict(s, &w, "the step has ended");
            }
            if (is_step(st, "transfer") || is_step(st, "transfer_back")) {
                return refuse_conflict(s, &w,
                                       "a claim transfer cannot be skipped");
            }
            st->state = STORE_STEP_SKIPPED;
            st->ended_at = now;
            set_detail(st, detail);
            w.state = STORE_WF_RUNNING;
            next_step(&w, now);
            break;
        default:
            return store__refuse(s, AUGUR_EINVAL, "unknown event");
    }
    return commit(s, txn, &w);
}

int store__workflow_cancel(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd)
{
    int64_t now = cmd->time_ms;
    struct store_workflow w;
    struct store_wf_step *st;
    bool ok;
    int rv;

    rv = load_named(s, txn, cmd, &w, &ok);
    if (rv != 0 || !ok) {
        return rv;
    }
    if (finished(&w)) {
        return refuse_conflict(s, &w, "it has ended");
    }
    if (transferred(&w)) {
        return refuse_conflict(s, &w,
                               "past the transfer; migrate it back instead");
    }
    if (w.rolling_back) {
        return refuse_conflict(s, &w, "it is rolling back already");
    }
    w.updated_at = now;
    if (w.step < w.n_steps) {
        st = &w.steps[w.step];
        if (st->state == STORE_STEP_RUNNING ||
            st->state == STORE_STEP_PENDING) {
            /* A step under way is cut short (its undo follows when it
             * was a prepare); one not started is skipped. */
            st->state = st->state == STORE_STEP_RUNNING ? STORE_STEP_FAILED
                                                        : STORE_STEP_SKIPPED;
            st->ended_at = now;
            set_detail(st, "cancelled");
        }
    }
    snprintf(w.error, sizeof w.error, "cancelled");
    w.step++;
    roll_back(&w, now, true);
    if (!finished(&w)) {
        w.state = STORE_WF_RUNNING;
        w.approved = true; /* its undo must run */
    }
    return commit(s, txn, &w);
}

int store__workflow_approve(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd)
{
    struct store_workflow w;
    bool ok;
    int rv;

    rv = load_named(s, txn, cmd, &w, &ok);
    if (rv != 0 || !ok) {
        return rv;
    }
    if (finished(&w)) {
        return refuse_conflict(s, &w, "it has ended");
    }
    if (!w.approved) {
        w.approved = true;
        w.updated_at = cmd->time_ms;
    }
    return commit(s, txn, &w);
}

int store__workflow_get(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd)
{
    struct store_workflow w;
    bool ok;
    int rv = load_named(s, txn, cmd, &w, &ok);

    if (rv != 0 || !ok) {
        return rv;
    }
    workflow_pack(&s->out, &w);
    return 0;
}

static bool list_match(const struct store_workflow *w, const char *filter)
{
    if (filter[0] == 0) {
        return true;
    }
    if (strcmp(filter, "active") == 0) {
        return !finished(w);
    }
    return strcmp(store_wf_state_name(w->state), filter) == 0;
}

int store__workflow_list(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    unsigned limit = store__list_limit(cmd->u.list.limit);
    const char *filter = cmd->u.list.filter;
    struct store_workflow w;
    unsigned char key[8];
    char next[24];
    uint64_t after = 0;
    uint64_t last = 0;
    MDB_cursor *cur;
    bool more = false;
    size_t n = 0;
    MDB_val k;
    MDB_val v;
    int rv;

    if (cmd->u.list.after[0] != 0) {
        after = strtoull(cmd->u.list.after, NULL, 10);
    }
    s->items.size = 0;
    store__pack_init(&s->list, &s->items);
    if (after == UINT64_MAX) {
        return store__list_finish(s, 0, NULL);
    }
    rv = store__cursor(s, txn, STORE__DB_WORKFLOWS, &cur);
    if (rv != 0) {
        return rv;
    }
    store__be64_put(key, after + 1);
    rv = store__seek(s, cur, key, sizeof key, &k, &v);
    while (rv == 0) {
        size_t before = s->items.size;

        if (workflow_decode(s, &k, &v, &w) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a workflow is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        if (list_match(&w, filter)) {
            if (n == limit) {
                more = true;
                break;
            }
            workflow_pack(&s->list, &w);
            if (n > 0 && s->items.size > s->page_bytes) {
                s->items.size = before;
                more = true;
                break;
            }
            last = w.id;
            n++;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    if (rv != 0 && rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    if (s->list.failed) {
        return AUGUR_ENOMEM;
    }
    snprintf(next, sizeof next, "%" PRIu64, last);
    return store__list_finish(s, n, more ? next : NULL);
}

/* ---- snapshot checks -------------------------------------------------- */

int store__workflow_of_entry_check(struct store *s,
                                   const MDB_val *k,
                                   const MDB_val *v)
{
    (void)s;
    if (!store__id_valid(k->mv_data, k->mv_size) || v->mv_size != 8 ||
        store__be64_get(v->mv_data) == 0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

static int move_decode(struct store *s,
                       const MDB_val *v,
                       uint64_t *id,
                       int64_t *ended_at)
{
    msgpack_object o;

    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
        store__obj_u64(&o.via.array.ptr[0], id) != 0 ||
        store__obj_i64(&o.via.array.ptr[1], ended_at) != 0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}

int store__workload_move_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v)
{
    uint64_t id;
    int64_t ended_at;

    if (!store__id_valid(k->mv_data, k->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    return move_decode(s, v, &id, &ended_at);
}

/* ---- the views -------------------------------------------------------- */

int store_workflows_each(struct store *s,
                         bool in_flight,
                         int (*fn)(void *arg, const struct store_workflow *w),
                         void *arg)
{
    struct store_workflow *w = &s->scratch_record.workflow;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__cursor(s, s->rtxn,
                       in_flight ? STORE__DB_WORKFLOW_OF : STORE__DB_WORKFLOWS,
                       &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        if (in_flight) {
            rv = v.mv_size == 8
                     ? workflow_load(s, s->rtxn, store__be64_get(v.mv_data), w)
                     : AUGUR_EIO;
        } else if (workflow_decode(s, &k, &v, w) != 0) {
            rv = AUGUR_EIO;
        }
        if (rv != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a workflow is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        rv = fn(arg, w);
        if (rv != 0) {
            break;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store_workflow_load(struct store *s,
                        uint64_t id,
                        struct store_workflow *out)
{
    int rc = mdb_txn_renew(s->rtxn);
    int rv;

    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = workflow_load(s, s->rtxn, id, out);
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store_workload_last_move(struct store *s,
                             const char *workload,
                             uint64_t *id_out,
                             int64_t *ended_at_ms)
{
    uint64_t id = 0;
    MDB_val v;
    int rc = mdb_txn_renew(s->rtxn);
    int rv;

    *ended_at_ms = 0;
    if (id_out != NULL) {
        *id_out = 0;
    }
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__get(s, s->rtxn, STORE__DB_WORKLOAD_MOVES, workload,
                    strlen(workload), &v);
    if (rv == 0 && move_decode(s, &v, &id, ended_at_ms) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the last move of workload %s is corrupt", workload);
        rv = AUGUR_EIO;
    }
    if (rv == 0 && id_out != NULL) {
        *id_out = id;
    }
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}
