/* The checks over a whole chaos history and the summary they print. */
#include "check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static const char *const kind_name[CHAOS_KIND_COUNT] = {"acquire", "transfer",
                                                        "release", "get"};
static const char *const outcome_name[CHAOS_OUTCOME_COUNT] = {"ok", "fail",
                                                              "info"};

void chaos_options_init(struct chaos_options *o)
{
    o->max_steps = 200000000;
    o->witness_max = 40;
}

static bool is_write(const struct chaos_op *op)
{
    return op->kind != CHAOS_GET;
}

/* A refusal the claim model explains; anything else cannot happen in a
 * chaos run (every host fits every workload and stays active). */
static bool refusal_modelled(int status)
{
    return status == AUGUR_ECONFLICT || status == AUGUR_ENOTFOUND;
}

/* Does operation @op take part in the linearizability search? */
static bool searched(const struct chaos_op *op)
{
    if (op->outcome == CHAOS_INFO) {
        return is_write(op); /* an unanswered read constrains nothing */
    }
    if (op->outcome == CHAOS_FAIL) {
        return refusal_modelled(op->status);
    }
    return true;
}

static double secs(const struct chaos_history *h, int64_t t)
{
    return (double)(t - h->first_ns) / 1e9;
}

static void print_op(const struct chaos_history *h,
                     const struct chaos_op *op,
                     FILE *out)
{
    char args[160] = "", res[160] = "", done[32];

    switch (op->kind) {
        case CHAOS_ACQUIRE:
            snprintf(args, sizeof args, "%s on %s",
                     chaos_history_name(h, op->workload),
                     chaos_history_name(h, op->arg_host));
            break;
        case CHAOS_TRANSFER:
            snprintf(args, sizeof args, "%s to %s if epoch %" PRIu64,
                     chaos_history_name(h, op->workload),
                     chaos_history_name(h, op->arg_host), op->arg_epoch);
            break;
        case CHAOS_RELEASE:
            snprintf(args, sizeof args, "%s if epoch %" PRIu64,
                     chaos_history_name(h, op->workload), op->arg_epoch);
            break;
        default:
            snprintf(args, sizeof args, "%s",
                     chaos_history_name(h, op->workload));
            break;
    }
    if (op->has_claim) {
        snprintf(res, sizeof res, " %s@%" PRIu64,
                 chaos_history_name(h, op->res_host), op->res_epoch);
    } else if (op->kind == CHAOS_GET && op->outcome == CHAOS_OK) {
        snprintf(res, sizeof res, " (not held)");
    }
    if (op->complete_ns == CHAOS_TIME_INF) {
        snprintf(done, sizeof done, "%s", "      ...   ");
    } else {
        snprintf(done, sizeof done, "%10.6fs", secs(h, op->complete_ns));
    }
    fprintf(out, "    %10.6fs..%s  p%-3d %-8s %s  => %s%s%s%s  (line %zu)\n",
            secs(h, op->invoke_ns), done, op->process, kind_name[op->kind],
            args, outcome_name[op->outcome], op->error[0] ? " " : "", op->error,
            res, op->line);
}

static int cmp_by_invoke(const void *a, const void *b, void *ctx)
{
    const struct chaos_history *h = ctx;
    const struct chaos_op *x = &h->ops[*(const size_t *)a];
    const struct chaos_op *y = &h->ops[*(const size_t *)b];
    return x->invoke_ns < y->invoke_ns ? -1 : x->invoke_ns > y->invoke_ns;
}

/* Shrink a failing history of one workload to a small sub-history that still
 * fails, and print it.  The prefix up to the culprit's answer fails too;
 * from it, operations that change nothing in the model when left out (reads,
 * refusals, unknown outcomes) are dropped one by one while it still fails:
 * leaving out an observation can only make a history easier to linearize,
 * so what remains is needed for the violation. */
static void witness(const struct chaos_history *h,
                    const size_t *idx,
                    size_t n,
                    size_t culprit,
                    const struct chaos_options *opt,
                    FILE *out)
{
    size_t *sub = malloc((n + 1) * sizeof *sub), m = 0, c;
    int64_t cut = h->ops[culprit].complete_ns;
    unsigned tries = 0;

    if (sub == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (h->ops[idx[i]].invoke_ns <= cut) {
            sub[m++] = idx[i];
        }
    }
    if (chaos_linearizable(h, sub, m, opt->max_steps, &c) != CHAOS_LIN_FAIL) {
        memcpy(sub, idx, n * sizeof *sub);
        m = n;
    }
    qsort_r(sub, m, sizeof *sub, cmp_by_invoke, (void *)h);
    /* Each try is a whole search: on a long prefix, keep it as it is. */
    for (size_t i = m; i-- > 0 && tries < 300 && m < 5000;) {
        const struct chaos_op *op = &h->ops[sub[i]];
        size_t keep = sub[i];
        if (op->outcome == CHAOS_OK && is_write(op)) {
            continue;
        }
        tries++;
        memmove(&sub[i], &sub[i + 1], (m - i - 1) * sizeof *sub);
        m--;
        if (chaos_linearizable(h, sub, m, opt->max_steps / 100 + 1000, &c) !=
            CHAOS_LIN_FAIL) {
            memmove(&sub[i + 1], &sub[i], (m - i) * sizeof *sub);
            sub[i] = keep;
            m++;
        }
    }
    fprintf(out,
            "  smallest non-linearizable sub-history found (%zu ops; "
            "times from the start of the history):\n",
            m);
    if (m > opt->witness_max) {
        fprintf(out, "    ... %zu earlier operations left out here (%s)\n",
                m - opt->witness_max,
                m < 5000 ? "all successful writes"
                         : "the prefix was too long to shrink");
    }
    for (size_t i = m > opt->witness_max ? m - opt->witness_max : 0; i < m;
         i++) {
        print_op(h, &h->ops[sub[i]], out);
    }
    free(sub);
}

/* ---- lost and doubled writes, against the cluster's event log ---------- */

struct sig
{
    unsigned kind, workload, host;
    uint64_t epoch;
    int source; /* 0 event, 1 acknowledged op, 2 unknown-outcome op */
    size_t ref; /* op or event index */
};

static int sig_cmp(const void *a, const void *b)
{
    const struct sig *x = a, *y = b;
    if (x->kind != y->kind) {
        return x->kind < y->kind ? -1 : 1;
    }
    if (x->workload != y->workload) {
        return x->workload < y->workload ? -1 : 1;
    }
    if (x->host != y->host) {
        return x->host < y->host ? -1 : 1;
    }
    if (x->epoch != y->epoch) {
        return x->epoch < y->epoch ? -1 : 1;
    }
    return x->source - y->source;
}

/* A write's signature: what its request names, which is what its event
 * shows (a release names no host, an acquire no epoch). */
static struct sig op_sig(const struct chaos_op *op)
{
    struct sig s = {op->kind, op->workload, 0, 0, 0, 0};
    if (op->kind != CHAOS_RELEASE) {
        s.host = op->arg_host;
    }
    /* An acquire that let the cluster choose names the host in its
     * answer; without an answer it matches no event by itself (see the
     * pool in check_events). */
    if (op->kind == CHAOS_ACQUIRE && op->arg_host == CHAOS_HOST_ANY &&
        op->has_claim) {
        s.host = op->res_host;
    }
    if (op->kind != CHAOS_ACQUIRE) {
        s.epoch = op->arg_epoch;
    }
    return s;
}

static struct sig event_sig(const struct chaos_event *e)
{
    struct sig s = {e->kind, e->workload, 0, 0, 0, 0};
    if (e->kind != CHAOS_RELEASE) {
        s.host = e->host;
    }
    if (e->kind == CHAOS_TRANSFER) {
        s.epoch = e->epoch - 1;
    } else if (e->kind == CHAOS_RELEASE) {
        s.epoch = e->epoch;
    }
    return s;
}

/* Whether sorted @s holds a grant of @key's kind, workload and host at any
 * epoch: one with none was counted lost by its request already. */
static bool grant_logged(const struct sig *s, size_t n, const struct sig *key)
{
    struct sig lo = *key;
    size_t a = 0, b = n;
    lo.epoch = 0;
    lo.source = 0;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (sig_cmp(&s[m], &lo) < 0) {
            a = m + 1;
        } else {
            b = m;
        }
    }
    return a < n && s[a].kind == key->kind && s[a].workload == key->workload &&
           s[a].host == key->host;
}

static void check_events(const struct chaos_history *h,
                         size_t *lost,
                         size_t *doubled,
                         size_t *epoch_bad,
                         FILE *out)
{
    size_t n = 0, cap = h->n_events + h->n_ops;
    struct sig *s = malloc((cap + 1) * sizeof *s);
    uint64_t *cur = calloc(h->n_names + 1, sizeof *cur);
    bool *held = calloc(h->n_names + 1, sizeof *held);
    /* Per workload: acquires that let the cluster choose and whose answer
     * was lost; each may account for one acquire event on any host. */
    size_t *any_pool = calloc(h->n_names + 1, sizeof *any_pool);
    unsigned printed = 0;

    if (s == NULL || cur == NULL || held == NULL || any_pool == NULL) {
        fprintf(out, "  out of memory\n");
        (*lost)++;
        goto out;
    }
    /* Epochs in the log: every grant strictly above the last, a release of
     * the current one only. */
    for (size_t i = 0; i < h->n_events; i++) {
        const struct chaos_event *e = &h->events[i];
        bool bad;
        if (e->kind == CHAOS_RELEASE) {
            bad = !held[e->workload] || e->epoch != cur[e->workload];
            held[e->workload] = false;
        } else {
            bad = e->epoch <= cur[e->workload] ||
                  (e->kind == CHAOS_ACQUIRE && held[e->workload]) ||
                  (e->kind == CHAOS_TRANSFER && !held[e->workload]);
            cur[e->workload] = e->epoch;
            held[e->workload] = true;
        }
        if (bad) {
            (*epoch_bad)++;
            if (printed++ < 10) {
                fprintf(out,
                        "  epoch order broken at rev %" PRIu64
                        ": %s %s %s@%" PRIu64 "\n",
                        e->rev, kind_name[e->kind],
                        chaos_history_name(h, e->workload),
                        chaos_history_name(h, e->host), e->epoch);
            }
        }
        s[n] = event_sig(e);
        s[n].source = 0;
        s[n++].ref = i;
    }
    for (size_t i = 0; i < h->n_ops; i++) {
        const struct chaos_op *op = &h->ops[i];
        if (!is_write(op) || op->outcome == CHAOS_FAIL) {
            continue;
        }
        if (op->kind == CHAOS_ACQUIRE && op->arg_host == CHAOS_HOST_ANY &&
            !op->has_claim) {
            any_pool[op->workload]++;
            continue;
        }
        s[n] = op_sig(op);
        s[n].source = op->outcome == CHAOS_OK ? 1 : 2;
        s[n++].ref = i;
    }
    qsort(s, n, sizeof *s, sig_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i, ev = 0, ok = 0, info = 0;
        while (j < n && s[j].kind == s[i].kind &&
               s[j].workload == s[i].workload && s[j].host == s[i].host &&
               s[j].epoch == s[i].epoch) {
            ev += s[j].source == 0;
            ok += s[j].source == 1;
            info += s[j].source == 2;
            j++;
        }
        if (ok > ev) {
            *lost += ok - ev;
            if (printed++ < 10) {
                fprintf(out,
                        "  lost: %zu acknowledged write(s) absent from "
                        "the log:\n",
                        ok - ev);
                print_op(h, &h->ops[s[j - 1].ref], out);
            }
        }
        if (ev > ok + info && s[i].kind == CHAOS_ACQUIRE) {
            size_t cover = ev - ok - info;
            if (cover > any_pool[s[i].workload]) {
                cover = any_pool[s[i].workload];
            }
            any_pool[s[i].workload] -= cover;
            info += cover;
        }
        if (ev > ok + info) {
            *doubled += ev - ok - info;
            if (printed++ < 10) {
                const struct chaos_event *e = &h->events[s[i].ref];
                fprintf(
                    out,
                    "  applied more often than requested: %zu x %s "
                    "%s %s@%" PRIu64 " (first at rev %" PRIu64
                    "; %zu acknowledged, %zu unknown)\n",
                    ev, kind_name[e->kind], chaos_history_name(h, e->workload),
                    chaos_history_name(h, e->host), e->epoch, e->rev, ok, info);
            }
        }
        i = j;
    }
    /* The request's signature leaves the granted epoch out (an acquire
     * names none): an acknowledged grant must also be in the log with the
     * epoch its answer carried. */
    n = 0;
    for (size_t i = 0; i < h->n_events; i++) {
        const struct chaos_event *e = &h->events[i];
        if (e->kind == CHAOS_ACQUIRE || e->kind == CHAOS_TRANSFER) {
            s[n] = (struct sig){e->kind, e->workload, e->host, e->epoch, 0, i};
            n++;
        }
    }
    qsort(s, n, sizeof *s, sig_cmp);
    for (size_t i = 0; i < h->n_ops; i++) {
        const struct chaos_op *op = &h->ops[i];
        struct sig key;
        if ((op->kind != CHAOS_ACQUIRE && op->kind != CHAOS_TRANSFER) ||
            op->outcome != CHAOS_OK || !op->has_claim) {
            continue;
        }
        key = (struct sig){
            op->kind, op->workload, op->res_host, op->res_epoch, 0, 0};
        if (bsearch(&key, s, n, sizeof *s, sig_cmp) == NULL &&
            grant_logged(s, n, &key)) {
            (*lost)++;
            if (printed++ < 10) {
                fprintf(out,
                        "  lost: an acknowledged grant's epoch %" PRIu64
                        " is not in the log:\n",
                        op->res_epoch);
                print_op(h, op, out);
            }
        }
    }
out:
    free(s);
    free(cur);
    free(held);
    free(any_pool);
}

/* No epoch of a workload granted twice among acknowledged grants. */
static size_t check_granted_epochs(const struct chaos_history *h, FILE *out)
{
    size_t n = 0, bad = 0;
    struct sig *s = malloc((h->n_ops + 1) * sizeof *s);

    if (s == NULL) {
        return 1;
    }
    for (size_t i = 0; i < h->n_ops; i++) {
        const struct chaos_op *op = &h->ops[i];
        if (op->outcome == CHAOS_OK && op->has_claim &&
            (op->kind == CHAOS_ACQUIRE || op->kind == CHAOS_TRANSFER)) {
            s[n] = (struct sig){0, op->workload, 0, op->res_epoch, 0, i};
            n++;
        }
    }
    qsort(s, n, sizeof *s, sig_cmp);
    for (size_t i = 1; i < n; i++) {
        if (s[i].workload == s[i - 1].workload &&
            s[i].epoch == s[i - 1].epoch) {
            if (bad++ < 5) {
                fprintf(out, "  epoch granted twice:\n");
                print_op(h, &h->ops[s[i - 1].ref], out);
                print_op(h, &h->ops[s[i].ref], out);
            }
        }
    }
    free(s);
    return bad;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_window(const struct chaos_history *h, FILE *out)
{
    int64_t *t = malloc((h->n_ops + 2) * sizeof *t);
    size_t n = 0;
    int64_t best = -1, from = 0, to = 0;

    if (t == NULL || h->n_ops == 0) {
        free(t);
        return;
    }
    t[n++] = h->first_ns;
    for (size_t i = 0; i < h->n_ops; i++) {
        if (h->ops[i].outcome == CHAOS_OK && is_write(&h->ops[i])) {
            t[n++] = h->ops[i].complete_ns;
        }
    }
    t[n++] = h->last_ns;
    qsort(t, n, sizeof *t, cmp_i64);
    for (size_t i = 1; i < n; i++) {
        if (t[i] - t[i - 1] > best) {
            best = t[i] - t[i - 1];
            from = t[i - 1];
            to = t[i];
        }
    }
    fprintf(out,
            "longest window without a successful write: %.3f s "
            "(from %.3f s to %.3f s)\n",
            (double)best / 1e9, secs(h, from), secs(h, to));
    for (size_t i = 0; i < h->n_nemesis; i++) {
        const struct chaos_nemesis *e = &h->nemesis[i];
        if (e->time_ns >= from - 10000000000LL && e->time_ns <= to) {
            fprintf(out, "  nemesis %10.3fs %s %s%s%s\n", secs(h, e->time_ns),
                    e->kind, e->phase, e->detail[0] ? " " : "", e->detail);
        }
    }
    free(t);
}

static void print_nemesis(const struct chaos_history *h, FILE *out)
{
    char kinds[32][32];
    size_t count[32], nk = 0, total = 0;

    for (size_t i = 0; i < h->n_nemesis; i++) {
        const struct chaos_nemesis *e = &h->nemesis[i];
        size_t k;
        if (strcmp(e->phase, "stop") == 0 || strcmp(e->phase, "end") == 0) {
            continue;
        }
        total++;
        for (k = 0; k < nk && strcmp(kinds[k], e->kind) != 0; k++) {
        }
        if (k == nk) {
            if (nk == 32) {
                continue;
            }
            snprintf(kinds[nk], sizeof kinds[nk], "%s", e->kind);
            count[nk++] = 0;
        }
        count[k]++;
    }
    fprintf(out, "nemesis events: %zu", total);
    for (size_t k = 0; k < nk; k++) {
        fprintf(out, "%s%s %zu", k == 0 ? " (" : ", ", kinds[k], count[k]);
    }
    fprintf(out, "%s\n", nk > 0 ? ")" : "");
}

bool chaos_check(const struct chaos_history *h,
                 const struct chaos_options *opt,
                 FILE *out)
{
    size_t by[CHAOS_KIND_COUNT][CHAOS_OUTCOME_COUNT];
    size_t total[CHAOS_OUTCOME_COUNT] = {0, 0, 0};
    size_t unexpected = 0, lin_bad = 0, lin_unknown = 0, lost = 0, doubled = 0;
    size_t epoch_bad = 0, idle = 0, *idx = NULL;
    bool valid = true, final_ok = true;

    memset(by, 0, sizeof by);
    for (size_t i = 0; i < h->n_ops; i++) {
        const struct chaos_op *op = &h->ops[i];
        by[op->kind][op->outcome]++;
        total[op->outcome]++;
        if (op->outcome == CHAOS_FAIL && !refusal_modelled(op->status)) {
            if (unexpected++ < 5) {
                fprintf(out, "unexpected refusal:\n");
                print_op(h, op, out);
            }
        }
    }
    fprintf(out, "operations: %zu (ok %zu, fail %zu, info %zu)\n", h->n_ops,
            total[CHAOS_OK], total[CHAOS_FAIL], total[CHAOS_INFO]);
    for (int k = 0; k < CHAOS_KIND_COUNT; k++) {
        fprintf(out, "  %-9s ok %6zu  fail %6zu  info %6zu\n", kind_name[k],
                by[k][CHAOS_OK], by[k][CHAOS_FAIL], by[k][CHAOS_INFO]);
    }
    print_nemesis(h, out);
    print_window(h, out);

    /* Linearizability, one workload at a time (P-compositionality). */
    idx = malloc((h->n_ops + 1) * sizeof *idx);
    if (idx == NULL) {
        fprintf(out, "out of memory\nvalid: unknown\n");
        return false;
    }
    size_t n_workloads = 0;
    for (unsigned w = 0; w < h->n_names; w++) {
        size_t n = 0, culprit = 0;
        enum chaos_lin r;
        for (size_t i = 0; i < h->n_ops; i++) {
            if (h->ops[i].workload == w && searched(&h->ops[i])) {
                idx[n++] = i;
            }
        }
        if (n == 0) {
            continue;
        }
        n_workloads++;
        /* A workload nobody managed to write or read proves nothing: a
         * cluster that refused everything would pass every other check. */
        size_t writes_ok = 0, reads_ok = 0;
        for (size_t i = 0; i < n; i++) {
            const struct chaos_op *op = &h->ops[idx[i]];
            if (op->outcome == CHAOS_OK) {
                *(op->kind == CHAOS_GET ? &reads_ok : &writes_ok) += 1;
            }
        }
        if (writes_ok == 0 || reads_ok == 0) {
            idle++;
            fprintf(out,
                    "workload %s: no successful %s (%zu ops): nothing was "
                    "checked\n",
                    chaos_history_name(h, w), writes_ok == 0 ? "write" : "read",
                    n);
        }
        r = chaos_linearizable(h, idx, n, opt->max_steps, &culprit);
        if (r == CHAOS_LIN_FAIL) {
            lin_bad++;
            fprintf(out,
                    "workload %s: NOT linearizable (%zu ops); the first "
                    "operation no order explains:\n",
                    chaos_history_name(h, w), n);
            print_op(h, &h->ops[culprit], out);
            witness(h, idx, n, culprit, opt, out);
        } else if (r == CHAOS_LIN_UNKNOWN) {
            lin_unknown++;
            fprintf(out,
                    "workload %s: linearizability unknown (search gave "
                    "up after %" PRIu64 " steps, or out of memory)\n",
                    chaos_history_name(h, w), opt->max_steps);
        }
    }
    free(idx);
    fprintf(out, "linearizable: %zu of %zu workloads%s\n",
            n_workloads - lin_bad - lin_unknown, n_workloads,
            lin_unknown > 0 ? " (some unknown)" : "");

    size_t twice = check_granted_epochs(h, out);
    if (h->have_events) {
        check_events(h, &lost, &doubled, &epoch_bad, out);
        fprintf(out,
                "event log: %zu claim events; lost writes: %zu; applied "
                "twice: %zu; epoch order violations: %zu\n",
                h->n_events, lost, doubled, epoch_bad);
    } else {
        fprintf(out,
                "event log: not recorded (lost / doubled writes checked "
                "by linearizability only)\n");
    }
    fprintf(out, "epochs granted twice: %zu\n", twice);

    if (h->n_finals > 0) {
        for (size_t i = 1; i < h->n_finals; i++) {
            if (h->finals[i].rev != h->finals[0].rev ||
                strcmp(h->finals[i].digest, h->finals[0].digest) != 0 ||
                strcmp(h->finals[i].store_digest, h->finals[0].store_digest) !=
                    0 ||
                h->finals[i].store_applied != h->finals[0].store_applied) {
                final_ok = false;
            }
        }
        fprintf(out, "final state: %zu nodes, %s\n", h->n_finals,
                final_ok ? "identical" : "DIFFERENT");
        for (size_t i = 0; i < h->n_finals; i++) {
            fprintf(out, "  node %d: rev %" PRIu64 " digest %.16s",
                    h->finals[i].node, h->finals[i].rev, h->finals[i].digest);
            if (h->finals[i].store_digest[0] != '\0') {
                fprintf(out, " store %.16s at %" PRIu64,
                        h->finals[i].store_digest, h->finals[i].store_applied);
            }
            fprintf(out, "\n");
        }
    } else {
        fprintf(out, "final state: not recorded\n");
    }

    if (n_workloads == 0) {
        fprintf(out, "no operation on any workload: nothing was checked\n");
    }
    valid = unexpected == 0 && lin_bad == 0 && lin_unknown == 0 && lost == 0 &&
            doubled == 0 && epoch_bad == 0 && twice == 0 && final_ok &&
            idle == 0 && n_workloads > 0;
    fprintf(out, "valid: %s\n", valid ? "true" : "false");
    return valid;
}
