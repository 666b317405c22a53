/* Correlated risk: noisy-OR of a resource's own failure probability with
 * its dependencies' effective ones, over the acyclic dependency graph. */
#include <stdio.h>
#include <stdlib.h>

#include "predict/predict.h"

static bool is_prob(double p)
{
    return p >= 0.0 && p <= 1.0;
}

int predict_graph_propagate(size_t n,
                            const double *own,
                            const struct predict_edge *edges,
                            size_t n_edges,
                            const double weight[PREDICT_EDGE_KINDS],
                            double *out,
                            char *errmsg)
{
    size_t *pending = NULL; /* dependencies not yet resolved, per node */
    size_t *first = NULL;   /* CSR of dependents: edges by "to" */
    size_t *by_to = NULL;
    size_t *queue = NULL;
    size_t head = 0, tail = 0;
    int rv = 0;

    for (int k = 0; k < PREDICT_EDGE_KINDS; k++) {
        if (!is_prob(weight[k])) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "edge weight %d is %g, not in [0, 1]", k, weight[k]);
            return AUGUR_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_prob(own[i])) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "probability of node %zu is %g, not in [0, 1]", i, own[i]);
            return AUGUR_EINVAL;
        }
    }
    for (size_t e = 0; e < n_edges; e++) {
        if (edges[e].from >= n || edges[e].to >= n ||
            (unsigned)edges[e].kind >= PREDICT_EDGE_KINDS) {
            snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                     "edge %zu (%u -> %u) is out of range", e, edges[e].from,
                     edges[e].to);
            return AUGUR_EINVAL;
        }
    }
    pending = calloc(n + 1, sizeof *pending);
    first = calloc(n + 1, sizeof *first);
    by_to = calloc(n_edges + 1, sizeof *by_to);
    queue = calloc(n + 1, sizeof *queue);
    if (pending == NULL || first == NULL || by_to == NULL || queue == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
        goto out;
    }
    for (size_t e = 0; e < n_edges; e++) {
        pending[edges[e].from]++;
        first[edges[e].to + 1]++;
    }
    for (size_t i = 0; i < n; i++) {
        first[i + 1] += first[i];
    }
    {
        size_t *fill = queue; /* borrowed before the queue is used */
        for (size_t i = 0; i < n; i++) {
            fill[i] = first[i];
        }
        for (size_t e = 0; e < n_edges; e++) {
            by_to[fill[edges[e].to]++] = e;
        }
    }
    /* Kahn's order: a node is final once all its dependencies are. */
    for (size_t i = 0; i < n; i++) {
        out[i] = 1.0 - own[i]; /* survival so far */
        if (pending[i] == 0) {
            queue[tail++] = i;
        }
    }
    while (head < tail) {
        size_t j = queue[head++];
        double pj;
        out[j] = 1.0 - out[j];
        pj = out[j];
        for (size_t q = first[j]; q < first[j + 1]; q++) {
            const struct predict_edge *ed = &edges[by_to[q]];
            out[ed->from] *= 1.0 - weight[ed->kind] * pj;
            if (--pending[ed->from] == 0) {
                queue[tail++] = ed->from;
            }
        }
    }
    if (tail != n) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "the dependency graph has a cycle (%zu of %zu nodes "
                 "resolved)",
                 tail, n);
        rv = AUGUR_ECYCLE;
    }
out:
    free(pending);
    free(first);
    free(by_to);
    free(queue);
    return rv;
}
