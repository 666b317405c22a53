/* The resilience of a cohort: the probability that at least k of its
 * members keep running through the scoring window, with the failures they
 * share (a host, a PSU, a switch) counted once.  Pure arithmetic on what
 * views.c gathers from the store: no LMDB, unit-tested on its own. */
#include <stdlib.h>
#include <string.h>

#include "store/ops.h"

/* The weights of correlated risk per edge kind, as predict/ propagates it
 * (predict/live.c, predict_live_config_default; docs/PREDICTOR.md
 * "Correlated risk").  store/ may not include predict/, so this is a copy:
 * change both together. */
static const double edge_weight[STORE_EDGE_COUNT] = {
    [STORE_EDGE_POWER] = 0.9,   [STORE_EDGE_NETWORK] = 0.5,
    [STORE_EDGE_STORAGE] = 0.5, [STORE_EDGE_WORKLOAD] = 0.3,
    [STORE_EDGE_COOLING] = 0.6,
};

static double clamp01(double p)
{
    if (!(p > 0.0)) {
        return 0.0;
    }
    return p > 1.0 ? 1.0 : p;
}

double store__p_own(double p_committed,
                    const double *dep_p,
                    const int *dep_kind,
                    unsigned n_deps)
{
    double keep = 1.0;

    for (unsigned i = 0; i < n_deps; i++) {
        double w = dep_kind[i] >= 0 && dep_kind[i] < STORE_EDGE_COUNT
                       ? edge_weight[dep_kind[i]]
                       : 0.0;
        keep *= 1.0 - w * clamp01(dep_p[i]);
    }
    if (keep == 1.0) {
        return clamp01(p_committed); /* nothing upstream adds risk */
    }
    if (keep <= 0.0) {
        /* A dependency certain to fail explains all of the host's risk. */
        return 0.0;
    }
    return clamp01(1.0 - (1.0 - clamp01(p_committed)) / keep);
}

/* P(at least @k of @n independent members are up), member i up with
 * probability @q[i]: the Poisson-binomial distribution by dynamic
 * programming; @dp has n + 1 slots. */
static double at_least(const double *q, unsigned n, unsigned k, double *dp)
{
    double sum = 0.0;

    if (k == 0) {
        return 1.0;
    }
    if (k > n) {
        return 0.0;
    }
    dp[0] = 1.0;
    for (unsigned j = 1; j <= n; j++) {
        dp[j] = 0.0;
    }
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = i + 1; j > 0; j--) {
            dp[j] = dp[j] * (1.0 - q[i]) + dp[j - 1] * q[i];
        }
        dp[0] *= 1.0 - q[i];
    }
    for (unsigned j = k; j <= n; j++) {
        sum += dp[j];
    }
    return sum > 1.0 ? 1.0 : sum;
}

static bool member_has(const struct store__resil_member *m, unsigned u)
{
    for (unsigned i = 0; i < m->n_units; i++) {
        if (m->units[i] == u) {
            return true;
        }
    }
    return false;
}

/* Scratch of one computation, from malloc. */
struct work
{
    unsigned *shared; /* the enumerated units */
    double *q;        /* per member: P(up | the shared units' states) */
    double *dp;
};

static int cmp_p_desc(const void *a, const void *b, const double *p)
{
    double pa = p[*(const unsigned *)a];
    double pb = p[*(const unsigned *)b];

    if (pa != pb) {
        return pa > pb ? -1 : 1;
    }
    return *(const unsigned *)a < *(const unsigned *)b ? -1 : 1;
}

/* Sort @idx (@n entries) by p, riskiest first (ties by index: one order). */
static void sort_by_p(unsigned *idx, unsigned n, const double *p)
{
    for (unsigned i = 1; i < n; i++) {
        unsigned x = idx[i];
        unsigned j = i;
        while (j > 0 && cmp_p_desc(&idx[j - 1], &x, p) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

static double compute(const struct store__resil *r,
                      const double *p,
                      struct work *w)
{
    unsigned n_shared = 0;
    double total = 0.0;

    /* The units that two or more possibly-up members depend on and that
     * may fail are shared; the STORE__RESIL_SHARED_MAX riskiest of them are
     * enumerated exactly.  The rest (rare: that many distinct shared
     * risks) are folded into each member as if independent, which
     * overstates the resilience a little. */
    for (unsigned u = 0; u < r->n_units; u++) {
        unsigned users = 0;

        if (!(p[u] > 0.0)) {
            continue;
        }
        for (unsigned i = 0; i < r->n_members && users < 2; i++) {
            users += r->members[i].up_possible && member_has(&r->members[i], u);
        }
        if (users >= 2) {
            w->shared[n_shared++] = u;
        }
    }
    sort_by_p(w->shared, n_shared, p);
    if (n_shared > STORE__RESIL_SHARED_MAX) {
        n_shared = STORE__RESIL_SHARED_MAX;
    }
    for (uint32_t state = 0; state < (1u << n_shared); state++) {
        double weight = 1.0;

        for (unsigned s = 0; s < n_shared; s++) {
            double pu = p[w->shared[s]];
            weight *= (state >> s) & 1u ? pu : 1.0 - pu;
        }
        if (weight == 0.0) {
            continue;
        }
        for (unsigned i = 0; i < r->n_members; i++) {
            const struct store__resil_member *m = &r->members[i];
            double q = m->up_possible ? 1.0 : 0.0;

            for (unsigned j = 0; j < m->n_units && q > 0.0; j++) {
                unsigned u = m->units[j];
                bool enumerated = false;

                for (unsigned s = 0; s < n_shared; s++) {
                    if (w->shared[s] == u) {
                        enumerated = true;
                        if ((state >> s) & 1u) {
                            q = 0.0; /* it failed in this state */
                        }
                        break;
                    }
                }
                if (!enumerated) {
                    q *= 1.0 - p[u];
                }
            }
            w->q[i] = q;
        }
        total += weight * at_least(w->q, r->n_members, r->k, w->dp);
    }
    return clamp01(total);
}

int store__resilience(const struct store__resil *r,
                      struct store__resil_out *out)
{
    struct work w;
    double *p = NULL;
    unsigned *cand = NULL;
    unsigned n_cand = 0;
    int rv = AUGUR_ENOMEM;

    memset(out, 0, sizeof *out);
    w.shared = malloc(sizeof *w.shared * (r->n_units + 1));
    w.q = malloc(sizeof *w.q * (r->n_members + 1));
    w.dp = malloc(sizeof *w.dp * (r->n_members + 2));
    p = malloc(sizeof *p * (r->n_units + 1));
    cand = malloc(sizeof *cand * (r->n_units + 1));
    if (w.shared == NULL || w.q == NULL || w.dp == NULL || p == NULL ||
        cand == NULL) {
        goto out;
    }
    for (unsigned u = 0; u < r->n_units; u++) {
        p[u] = clamp01(r->p[u]);
    }
    out->resilience = compute(r, p, &w);
    /* What lowers it most: the units whose p set to 0 would raise it most.
     * Only units some possibly-up member depends on can matter, and only
     * the STORE__RESIL_WEAK_TRIES riskiest of them are tried. */
    for (unsigned u = 0; u < r->n_units; u++) {
        bool used = false;
        for (unsigned i = 0; i < r->n_members && !used; i++) {
            used = r->members[i].up_possible && member_has(&r->members[i], u);
        }
        if (used && p[u] > 0.0) {
            cand[n_cand++] = u;
        }
    }
    sort_by_p(cand, n_cand, p);
    if (n_cand > STORE__RESIL_WEAK_TRIES) {
        n_cand = STORE__RESIL_WEAK_TRIES;
    }
    for (unsigned c = 0; c < n_cand; c++) {
        unsigned u = cand[c];
        double saved = p[u];
        double gain;
        unsigned j;

        p[u] = 0.0;
        gain = compute(r, p, &w) - out->resilience;
        p[u] = saved;
        if (!(gain > 1e-12)) {
            continue;
        }
        /* Insert into the top list, largest gain first. */
        j = out->n_weakest < STORE_WEAKEST_MAX ? out->n_weakest++
                                               : STORE_WEAKEST_MAX;
        while (j > 0 && out->weakest[j - 1].gain < gain) {
            if (j < STORE_WEAKEST_MAX) {
                out->weakest[j] = out->weakest[j - 1];
            }
            j--;
        }
        if (j < STORE_WEAKEST_MAX) {
            out->weakest[j].unit = u;
            out->weakest[j].p = saved;
            out->weakest[j].gain = gain;
        }
    }
    rv = 0;
out:
    free(cand);
    free(p);
    free(w.dp);
    free(w.q);
    free(w.shared);
    return rv;
}
