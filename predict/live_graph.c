/* Live scoring's correlated risk: the dependency edges given for a round,
 * resolved against the tracked resources, propagated by noisy-OR
 * (predict_graph_propagate), and kept until the next round for views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/live_int.h"

/* The edges given for the next round, by id, and the last round's graph
 * (for views): nodes 0..n_slots are the slots, then resources only edges
 * name. */
struct graph_edge
{
    uint32_t from; /* arena offsets, then graph nodes once resolved */
    uint32_t to;
    int kind;
    double from_c;
    double to_c;
};

struct predict_live_graph
{
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    struct graph_edge *edges;
    size_t n_edges;
    size_t edges_cap;
    /* The last round's resolved graph. */
    struct predict_edge *pe;
    size_t n_pe;
    double *own;
    double *out;
    uint32_t *node_name; /* arena offset of each node's id */
    size_t n_nodes;
    size_t nodes_cap;
    char *last_arena; /* the arena the last round's names point into */
    size_t last_arena_cap;
    uint32_t *xindex; /* scratch: id hash -> node + 1 */
    size_t xindex_cap;
};

struct predict_live_graph *predict__live_graph_new(void)
{
    return calloc(1, sizeof(struct predict_live_graph));
}

void predict__live_graph_free(struct predict_live_graph *g)
{
    if (g == NULL) {
        return;
    }
    free(g->arena);
    free(g->edges);
    free(g->pe);
    free(g->own);
    free(g->out);
    free(g->node_name);
    free(g->last_arena);
    free(g->xindex);
    free(g);
}

void predict__live_graph_reset(struct predict_live_graph *g)
{
    g->arena_len = 0;
    g->n_edges = 0;
    g->n_pe = 0;
    g->n_nodes = 0;
}

double predict__live_graph_out(const struct predict_live *l, size_t node)
{
    return node < l->graph->n_nodes ? l->graph->out[node] : 0.0;
}

static int arena_add(struct predict_live_graph *g,
                     const char *id,
                     uint32_t *off)
{
    size_t len = strlen(id) + 1;

    if (g->arena_len + len > g->arena_cap) {
        size_t nc = g->arena_cap == 0 ? 4096 : g->arena_cap * 2;
        char *q;
        while (nc < g->arena_len + len) {
            nc *= 2;
        }
        if (nc > UINT32_MAX || (q = realloc(g->arena, nc)) == NULL) {
            return AUGUR_ENOMEM;
        }
        g->arena = q;
        g->arena_cap = nc;
    }
    memcpy(g->arena + g->arena_len, id, len);
    *off = (uint32_t)g->arena_len;
    g->arena_len += len;
    return 0;
}

void predict_live_edges_begin(struct predict_live *l)
{
    l->graph->arena_len = 0;
    l->graph->n_edges = 0;
}

int predict_live_edge(struct predict_live *l,
                      const char *from,
                      const char *to,
                      int kind,
                      double from_committed,
                      double to_committed)
{
    struct predict_live_graph *g = l->graph;
    struct graph_edge *e;

    if (kind < 0 || kind >= PREDICT_EDGE_KINDS) {
        return 0; /* a kind this build does not know passes nothing on */
    }
    if (g->n_edges == g->edges_cap) {
        size_t nc = g->edges_cap == 0 ? 256 : g->edges_cap * 2;
        struct graph_edge *q = realloc(g->edges, nc * sizeof *q);
        if (q == NULL) {
            return AUGUR_ENOMEM;
        }
        g->edges = q;
        g->edges_cap = nc;
    }
    e = &g->edges[g->n_edges];
    if (arena_add(g, from, &e->from) != 0 || arena_add(g, to, &e->to) != 0) {
        return AUGUR_ENOMEM;
    }
    e->kind = kind;
    e->from_c =
        from_committed >= 0.0 && from_committed <= 1.0 ? from_committed : 0.0;
    e->to_c = to_committed >= 0.0 && to_committed <= 1.0 ? to_committed : 0.0;
    g->n_edges++;
    return 0;
}

int predict__live_grow(void **p, size_t *cap, size_t need, size_t size)
{
    void *q;
    size_t nc = *cap == 0 ? 64 : *cap;

    if (need <= *cap) {
        return 0;
    }
    while (nc < need) {
        nc *= 2;
    }
    q = realloc(*p, nc * size);
    if (q == NULL) {
        return AUGUR_ENOMEM;
    }
    *p = q;
    *cap = nc;
    return 0;
}

/* The graph node of the resource named at arena offset @off: its slot, or
 * an extra node (own p @committed). */
static int graph_node(struct predict_live *l,
                      uint32_t off,
                      double committed,
                      uint32_t *node)
{
    struct predict_live_graph *g = l->graph;
    const char *id = g->arena + off;
    uint32_t slot = predict__live_slot_of(l, id);
    size_t mask;
    size_t i;

    if (slot != 0) {
        *node = slot - 1;
        return 0;
    }
    mask = g->xindex_cap - 1;
    i = predict__live_hash(id) & mask;
    while (g->xindex[i] != 0) {
        uint32_t n = g->xindex[i] - 1;
        if (strcmp(g->arena + g->node_name[n], id) == 0) {
            *node = n;
            return 0;
        }
        i = (i + 1) & mask;
    }
    g->node_name[g->n_nodes] = off;
    g->own[g->n_nodes] = committed;
    *node = (uint32_t)g->n_nodes;
    g->xindex[i] = (uint32_t)++g->n_nodes;
    return 0;
}

/* Resolve the edges against the slots and propagate: g->out[node]. */
int predict__live_graph_run(struct predict_live *l)
{
    struct predict_live_graph *g = l->graph;
    size_t max_nodes = l->n_slots + 2 * g->n_edges;
    size_t own_cap = g->nodes_cap;
    size_t out_cap = g->nodes_cap;
    size_t name_cap = g->nodes_cap;
    size_t xcap = predict__live_pow2(4 * g->n_edges + 16);
    int rv;

    if (predict__live_grow((void **)&g->own, &own_cap, max_nodes + 1,
                           sizeof *g->own) != 0 ||
        predict__live_grow((void **)&g->out, &out_cap, max_nodes + 1,
                           sizeof *g->out) != 0 ||
        predict__live_grow((void **)&g->node_name, &name_cap, max_nodes + 1,
                           sizeof *g->node_name) != 0) {
        return AUGUR_ENOMEM;
    }
    g->nodes_cap = own_cap < out_cap ? own_cap : out_cap;
    g->nodes_cap = g->nodes_cap < name_cap ? g->nodes_cap : name_cap;
    free(g->pe);
    g->pe = malloc((g->n_edges > 0 ? g->n_edges : 1) * sizeof *g->pe);
    free(g->xindex);
    g->xindex = calloc(xcap, sizeof *g->xindex);
    g->xindex_cap = xcap;
    if (g->pe == NULL || g->xindex == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        struct predict_live_slot *s = &l->slots[i];
        g->own[i] = s->scored ? s->p_own : s->committed;
        g->node_name[i] = UINT32_MAX; /* a slot: its name is its id */
        s->gidx = (uint32_t)i;
    }
    g->n_nodes = l->n_slots;
    for (size_t e = 0; e < g->n_edges; e++) {
        uint32_t from;
        uint32_t to;
        graph_node(l, g->edges[e].from, g->edges[e].from_c, &from);
        graph_node(l, g->edges[e].to, g->edges[e].to_c, &to);
        g->pe[e].from = from;
        g->pe[e].to = to;
        g->pe[e].kind = (enum predict_edge_kind)g->edges[e].kind;
    }
    g->n_pe = g->n_edges;
    if (g->n_pe == 0) {
        memcpy(g->out, g->own, g->n_nodes * sizeof *g->out);
        rv = 0;
    } else {
        rv = predict_graph_propagate(g->n_nodes, g->own, g->pe, g->n_pe,
                                     l->cfg.weight, g->out, l->errmsg);
    }
    /* Keep the names for views until the next round. */
    if (rv == 0 && g->arena_len > 0) {
        if (g->last_arena_cap < g->arena_len) {
            char *q = realloc(g->last_arena, g->arena_len);
            if (q == NULL) {
                return AUGUR_ENOMEM;
            }
            g->last_arena = q;
            g->last_arena_cap = g->arena_len;
        }
        memcpy(g->last_arena, g->arena, g->arena_len);
    }
    return rv;
}

static const char *graph_name(const struct predict_live *l, uint32_t node)
{
    const struct predict_live_graph *g = l->graph;

    if (g->node_name[node] == UINT32_MAX) {
        return node < l->n_slots ? l->slots[node].id : "?";
    }
    return g->last_arena + g->node_name[node];
}

/* The dependencies of graph node @node that pass it the most risk. */
void predict__live_via(const struct predict_live *l,
                       uint32_t node,
                       struct predict_live_score *out)
{
    const struct predict_live_graph *g = l->graph;
    double add[PREDICT_LIVE_VIA_MAX];

    out->n_via = 0;
    if (node >= g->n_nodes) {
        return;
    }
    for (size_t e = 0; e < g->n_pe; e++) {
        double a;
        unsigned j;

        if (g->pe[e].from != node) {
            continue;
        }
        a = l->cfg.weight[g->pe[e].kind] * g->out[g->pe[e].to];
        if (a <= 0.0) {
            continue;
        }
        j = out->n_via < PREDICT_LIVE_VIA_MAX ? out->n_via++
                                              : PREDICT_LIVE_VIA_MAX;
        while (j > 0 && add[j - 1] < a) {
            if (j < PREDICT_LIVE_VIA_MAX) {
                add[j] = add[j - 1];
                memcpy(out->via[j], out->via[j - 1], sizeof out->via[j]);
                out->via_p[j] = out->via_p[j - 1];
            }
            j--;
        }
        if (j < PREDICT_LIVE_VIA_MAX) {
            add[j] = a;
            snprintf(out->via[j], sizeof out->via[j], "%s",
                     graph_name(l, g->pe[e].to));
            out->via_p[j] = g->out[g->pe[e].to];
        }
    }
}
