/* Linearizability of one workload's claim operations: the Wing & Gong search
 * with Lowe's just-in-time linearization and memoization of (linearized set,
 * model state), as Porcupine does it.
 *
 * The model is the claim register: unheld, or held by a host at an epoch,
 * plus the epoch the next acquire continues from.  Operations whose outcome
 * is unknown (info) have no return entry: the search may linearize them at
 * any point after their invocation, or never, which is the same as after
 * every other operation since nothing observes them then. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

struct model
{
    uint64_t epoch; /* epoch of the current claim, or the last released */
    unsigned host;  /* holder, when held */
    bool held;
};

static bool same_model(const struct model *a, const struct model *b)
{
    return a->held == b->held && a->epoch == b->epoch &&
           (!a->held || a->host == b->host);
}

/* Apply @op to @m.  For an operation with a known answer, returns false when
 * the model's answer differs from the recorded one; info operations always
 * fit (their answer is unknown). */
static bool model_step(const struct chaos_op *op,
                       const struct model *m,
                       struct model *next)
{
    int status = 0;
    bool known = op->outcome != CHAOS_INFO;

    *next = *m;
    switch (op->kind) {
        case CHAOS_ACQUIRE:
            if (m->held) {
                status = AUGUR_ECONFLICT;
            } else {
                next->held = true;
                next->host = op->arg_host;
                next->epoch = m->epoch + 1;
                /* The cluster chose the host: the answer says which, and
                 * without one (unknown outcome) any host may hold it. */
                if (op->arg_host == CHAOS_HOST_ANY && known && op->has_claim) {
                    next->host = op->res_host;
                }
            }
            break;
        case CHAOS_TRANSFER:
            if (!m->held) {
                status = AUGUR_ENOTFOUND;
            } else if (m->epoch != op->arg_epoch) {
                status = AUGUR_ECONFLICT;
            } else {
                next->host = op->arg_host;
                next->epoch = m->epoch + 1;
            }
            break;
        case CHAOS_RELEASE:
            if (!m->held) {
                status = AUGUR_ENOTFOUND;
            } else if (m->epoch != op->arg_epoch) {
                status = AUGUR_ECONFLICT;
            } else {
                next->held = false;
            }
            break;
        case CHAOS_GET:
        default:
            status = m->held ? 0 : AUGUR_ENOTFOUND;
            break;
    }
    if (!known) {
        /* Linearizing an unknown-outcome operation where it changes
         * nothing is never needed: leaving it out is as good, and keeps
         * it available for later.  Pruning it keeps the search small. */
        return !same_model(m, next);
    }
    if (status != op->status) {
        return false;
    }
    /* A success names the resulting claim (a release, the claim as it was);
     * a conflict names the current holder. */
    if (op->has_claim) {
        unsigned host = op->kind == CHAOS_RELEASE ? m->host : next->host;
        uint64_t epoch = op->kind == CHAOS_RELEASE ? m->epoch : next->epoch;
        if (status == AUGUR_ECONFLICT || status == 0) {
            if ((host != op->res_host && host != CHAOS_HOST_ANY) ||
                epoch != op->res_epoch) {
                return false;
            }
        }
    }
    return true;
}

/* ---- the entry list ---------------------------------------------------- */

struct entry
{
    int64_t time;
    size_t op; /* local index */
    bool is_call;
    struct entry *match; /* call: its return (NULL for info); return: call */
    struct entry *prev, *next;
};

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    /* At equal times a call comes first: the operations overlap. */
    if (x->is_call != y->is_call) {
        return x->is_call ? -1 : 1;
    }
    return x->op < y->op ? -1 : x->op > y->op;
}

static void lift(struct entry *e)
{
    e->prev->next = e->next;
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    if (e->match != NULL) {
        struct entry *m = e->match;
        m->prev->next = m->next;
        if (m->next != NULL) {
            m->next->prev = m->prev;
        }
    }
}

static void unlift(struct entry *e)
{
    if (e->match != NULL) {
        struct entry *m = e->match;
        m->prev->next = m;
        if (m->next != NULL) {
            m->next->prev = m;
        }
    }
    e->prev->next = e;
    if (e->next != NULL) {
        e->next->prev = e;
    }
}

/* ---- the memo: (linearized set, state) ------------------------------- */

/* The linearized set is kept as two independent 64-bit Zobrist hashes (an
 * XOR of one random key per linearized operation) rather than as a bitset:
 * a bitset per memo entry would take gigabytes on a long history.  Two sets
 * are taken as equal when both hashes are; with 128 bits the chance of a
 * false match is negligible, and one could only prune a path, never make
 * a bad history pass. */
struct memo_key
{
    uint64_t z1, z2;
    struct model st;
};

struct memo
{
    struct memo_key *keys;
    bool *used_slot;
    size_t slots, used;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t key_hash(const struct memo_key *k)
{
    return k->z1 ^ mix(k->z2 ^ mix(k->st.epoch * 2 + (k->st.held ? 1 : 0)) ^
                       ((uint64_t)k->st.host << 40));
}

static bool key_eq(const struct memo_key *a, const struct memo_key *b)
{
    return a->z1 == b->z1 && a->z2 == b->z2 && same_model(&a->st, &b->st);
}

static int memo_init(struct memo *c, size_t slots)
{
    c->slots = slots;
    c->used = 0;
    c->keys = calloc(slots, sizeof *c->keys);
    c->used_slot = calloc(slots, sizeof *c->used_slot);
    return c->keys != NULL && c->used_slot != NULL ? 0 : -1;
}

static void memo_close(struct memo *c)
{
    free(c->keys);
    free(c->used_slot);
}

/* Insert; returns 1 if inserted, 0 if present, -1 on out of memory. */
static int memo_add(struct memo *c, const struct memo_key *k)
{
    size_t i;

    if ((c->used + 1) * 2 > c->slots) {
        struct memo n;
        if (memo_init(&n, c->slots * 2) != 0) {
            memo_close(&n);
            return -1;
        }
        for (size_t j = 0; j < c->slots; j++) {
            if (c->used_slot[j]) {
                size_t x = key_hash(&c->keys[j]) & (n.slots - 1);
                while (n.used_slot[x]) {
                    x = (x + 1) & (n.slots - 1);
                }
                n.keys[x] = c->keys[j];
                n.used_slot[x] = true;
                n.used++;
            }
        }
        memo_close(c);
        *c = n;
    }
    for (i = key_hash(k) & (c->slots - 1); c->used_slot[i];
         i = (i + 1) & (c->slots - 1)) {
        if (key_eq(&c->keys[i], k)) {
            return 0;
        }
    }
    c->keys[i] = *k;
    c->used_slot[i] = true;
    c->used++;
    return 1;
}

/* ---- the search -------------------------------------------------------- */

struct frame
{
    struct entry *call;
    struct model state;
    uint64_t z1, z2;
};

enum chaos_lin chaos_linearizable(const struct chaos_history *h,
                                  const size_t *idx,
                                  size_t n,
                                  uint64_t max_steps,
                                  size_t *culprit)
{
    struct entry *entries = NULL, head;
    struct frame *stack = NULL;
    uint64_t *zkeys = NULL;
    size_t n_entries = 0, depth = 0, returns_left = 0, best = 0;
    struct model state = {0, 0, false};
    uint64_t z1 = 0, z2 = 0, steps = 0;
    struct memo memo;
    enum chaos_lin result = CHAOS_LIN_UNKNOWN;
    bool have_best = false;

    if (memo_init(&memo, 1024) != 0) {
        goto out;
    }
    entries = calloc(2 * n + 1, sizeof *entries);
    stack = calloc(n + 1, sizeof *stack);
    zkeys = calloc(2 * n + 2, sizeof *zkeys);
    if (entries == NULL || stack == NULL || zkeys == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct chaos_op *op = &h->ops[idx[i]];
        zkeys[2 * i] = mix(i + 0x9e3779b97f4a7c15ULL);
        zkeys[2 * i + 1] = mix(mix(i ^ 0x5851f42d4c957f2dULL) + 1);
        entries[n_entries++] =
            (struct entry){op->invoke_ns, i, true, NULL, NULL, NULL};
        if (op->outcome != CHAOS_INFO) {
            entries[n_entries++] =
                (struct entry){op->complete_ns, i, false, NULL, NULL, NULL};
            returns_left++;
        }
    }
    qsort(entries, n_entries, sizeof *entries, entry_cmp);
    {
        /* Pair calls and returns; link the list behind a sentinel. */
        struct entry **call_of = calloc(n + 1, sizeof *call_of);
        if (call_of == NULL) {
            goto out;
        }
        head.prev = NULL;
        head.next = n_entries > 0 ? &entries[0] : NULL;
        for (size_t i = 0; i < n_entries; i++) {
            entries[i].prev = i == 0 ? &head : &entries[i - 1];
            entries[i].next = i + 1 < n_entries ? &entries[i + 1] : NULL;
            if (entries[i].is_call) {
                call_of[entries[i].op] = &entries[i];
            } else {
                entries[i].match = call_of[entries[i].op];
                call_of[entries[i].op]->match = &entries[i];
            }
        }
        free(call_of);
    }

    struct entry *e = head.next;
    while (returns_left > 0) {
        if (max_steps != 0 && ++steps > max_steps) {
            result = CHAOS_LIN_UNKNOWN;
            goto out;
        }
        if (e == NULL) {
            /* Only reachable when no return is left to reach. */
            break;
        }
        if (e->is_call) {
            const struct chaos_op *op = &h->ops[idx[e->op]];
            struct model next;
            if (model_step(op, &state, &next)) {
                struct memo_key k = {z1 ^ zkeys[2 * e->op],
                                     z2 ^ zkeys[2 * e->op + 1], next};
                int added = memo_add(&memo, &k);
                if (added < 0) {
                    goto out;
                }
                if (added == 1) {
                    stack[depth++] = (struct frame){e, state, z1, z2};
                    state = next;
                    z1 = k.z1;
                    z2 = k.z2;
                    if (e->match != NULL) {
                        returns_left--;
                    }
                    lift(e);
                    e = head.next;
                    continue;
                }
            }
            e = e->next;
        } else {
            /* A return whose call is not linearized yet: this path fails. */
            if (!have_best || depth >= best) {
                best = depth;
                have_best = true;
                if (culprit != NULL) {
                    *culprit = idx[e->op];
                }
            }
            if (depth == 0) {
                result = CHAOS_LIN_FAIL;
                goto out;
            }
            struct frame f = stack[--depth];
            state = f.state;
            z1 = f.z1;
            z2 = f.z2;
            unlift(f.call);
            if (f.call->match != NULL) {
                returns_left++;
            }
            e = f.call->next;
        }
    }
    result = CHAOS_LIN_OK;
out:
    memo_close(&memo);
    free(entries);
    free(stack);
    free(zkeys);
    return result;
}
