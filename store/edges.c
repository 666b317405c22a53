/* The dependency graph: edges between resources, kept acyclic, and the
 * edge ops (add, remove, list). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* An edge FROM -> TO (FROM depends on TO) is the key "FROM\0TO" in edges
 * and "TO\0FROM" in redges, both with the kind as value.  A resource's
 * out-edges are one prefix scan of edges, its in-edges one of redges.
 *
 * edge.list orders edges by (FROM, TO), which is the key order of edges,
 * and its cursor is the string "FROM/TO" of the last edge returned ('/'
 * never occurs in an identifier). */

/* ---- the visited set -------------------------------------------------- */

struct store__slot
{
    uint32_t gen; /* the walk that filled the slot */
    uint32_t off; /* the id's offset in the arena */
};

static uint64_t id_hash(const char *id, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)id[i]) * 1099511628211u;
    }
    return h;
}

void store__walk_close(struct store__walk *w)
{
    free(w->arena);
    free(w->slots);
    free(w->stack);
    memset(w, 0, sizeof *w);
}

static void walk_reset(struct store__walk *w)
{
    w->arena_len = 0;
    w->n_used = 0;
    w->stack_len = 0;
    w->gen++;
    if (w->gen == 0) {
        if (w->slots != NULL) {
            memset(w->slots, 0, w->n_slots * sizeof *w->slots);
        }
        w->gen = 1;
    }
}

static void slot_insert(struct store__slot *slots,
                        size_t n_slots,
                        uint32_t gen,
                        const char *arena,
                        uint32_t off)
{
    const char *id = arena + off;
    size_t i = (size_t)id_hash(id, strlen(id)) & (n_slots - 1);

    while (slots[i].gen == gen) {
        i = (i + 1) & (n_slots - 1);
    }
    slots[i].gen = gen;
    slots[i].off = off;
}

static int walk_grow(struct store__walk *w)
{
    size_t n = w->n_slots == 0 ? 256 : 2 * w->n_slots;
    struct store__slot *slots = calloc(n, sizeof *slots);

    if (slots == NULL) {
        return AUGUR_ENOMEM;
    }
    for (size_t i = 0; i < w->n_slots; i++) {
        if (w->slots[i].gen == w->gen) {
            slot_insert(slots, n, w->gen, w->arena, w->slots[i].off);
        }
    }
    free(w->slots);
    w->slots = slots;
    w->n_slots = n;
    return 0;
}

/* Add @id to the visited set and push it on the stack, unless it was
 * visited before. */
static int walk_visit(struct store__walk *w, const char *id, size_t len)
{
    size_t i;

    if ((w->n_used + 1) * 2 > w->n_slots && walk_grow(w) != 0) {
        return AUGUR_ENOMEM;
    }
    i = (size_t)id_hash(id, len) & (w->n_slots - 1);
    while (w->slots[i].gen == w->gen) {
        const char *seen = w->arena + w->slots[i].off;
        if (strncmp(seen, id, len) == 0 && seen[len] == 0) {
            return 0;
        }
        i = (i + 1) & (w->n_slots - 1);
    }
    if (w->arena_len + len + 1 > w->arena_cap) {
        size_t cap = w->arena_cap == 0 ? 4096 : 2 * w->arena_cap;
        char *arena;
        while (cap < w->arena_len + len + 1) {
            cap *= 2;
        }
        if (cap > UINT32_MAX) {
            return AUGUR_ENOMEM;
        }
        arena = realloc(w->arena, cap);
        if (arena == NULL) {
            return AUGUR_ENOMEM;
        }
        w->arena = arena;
        w->arena_cap = cap;
    }
    if (w->stack_len == w->stack_cap) {
        size_t cap = w->stack_cap == 0 ? 256 : 2 * w->stack_cap;
        uint32_t *stack = realloc(w->stack, cap * sizeof *stack);
        if (stack == NULL) {
            return AUGUR_ENOMEM;
        }
        w->stack = stack;
        w->stack_cap = cap;
    }
    memcpy(w->arena + w->arena_len, id, len);
    w->arena[w->arena_len + len] = 0;
    w->slots[i].gen = w->gen;
    w->slots[i].off = (uint32_t)w->arena_len;
    w->stack[w->stack_len++] = (uint32_t)w->arena_len;
    w->arena_len += len + 1;
    w->n_used++;
    return 0;
}

/* Whether @target is reachable from @start over out-edges: an iterative
 * depth-first walk, each resource expanded once. */
static int reaches(struct store *s,
                   MDB_txn *txn,
                   const char *start,
                   const char *target,
                   bool *found)
{
    struct store__walk *w = &s->walk;
    MDB_cursor *cur;
    int rv;

    *found = false;
    walk_reset(w);
    rv = walk_visit(w, start, strlen(start));
    if (rv != 0) {
        return rv;
    }
    rv = store__cursor(s, txn, STORE__DB_EDGES, &cur);
    if (rv != 0) {
        return rv;
    }
    while (w->stack_len > 0 && !*found) {
        unsigned char prefix[STORE_ID_SIZE];
        size_t len;
        MDB_val k;
        MDB_val v;

        /* Copy: visiting may move the arena. */
        len = strlen(w->arena + w->stack[--w->stack_len]);
        memcpy(prefix, w->arena + w->stack[w->stack_len], len);
        prefix[len] = 0;
        if (len == strlen(target) && memcmp(prefix, target, len) == 0) {
            *found = true;
            break;
        }
        rv = store__seek(s, cur, prefix, len + 1, &k, &v);
        while (rv == 0 && k.mv_size > len + 1 &&
               memcmp(k.mv_data, prefix, len + 1) == 0) {
            if (k.mv_size - len - 1 >= STORE_ID_SIZE) {
                snprintf(s->errmsg, sizeof s->errmsg,
                         "an edge key of %s is corrupt", (const char *)prefix);
                rv = AUGUR_EIO;
                break;
            }
            rv = walk_visit(w, (const char *)k.mv_data + len + 1,
                            k.mv_size - len - 1);
            if (rv == 0) {
                rv = store__step(s, cur, MDB_NEXT, &k, &v);
            }
        }
        if (rv == AUGUR_ENOTFOUND) {
            rv = 0;
        }
        if (rv != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rv;
}

/* ---- edges ------------------------------------------------------------ */

static int kind_decode(struct store *s, const MDB_val *v, int *kind)
{
    msgpack_object o;
    uint64_t u;

    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        store__obj_u64(&o, &u) != 0 || u >= STORE_EDGE_COUNT) {
        return AUGUR_EMALFORMED;
    }
    *kind = (int)u;
    return 0;
}

static void edge_pack(struct store__pack *p,
                      const char *from,
                      const char *to,
                      int kind)
{
    msgpack_pack_map(&p->pk, 3);
    store__pack_str(p, "from");
    store__pack_str(p, from);
    store__pack_str(p, "to");
    store__pack_str(p, to);
    store__pack_str(p, "kind");
    store__pack_str(p, store_edge_kind_name(kind));
}

static int resource_exists(struct store *s, MDB_txn *txn, const char *id)
{
    MDB_val v;
    int rv = store__get(s, txn, STORE__DB_RESOURCES, id, strlen(id), &v);

    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no resource named %s", id);
    }
    return rv;
}

int store__edge_add(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    const char *from = cmd->u.edge.from;
    const char *to = cmd->u.edge.to;
    unsigned char key[STORE__KEY_MAX];
    unsigned char kind = (unsigned char)cmd->u.edge.kind; /* a fixint */
    size_t klen;
    bool cycle;
    MDB_val v;
    int rv;

    rv = resource_exists(s, txn, from);
    if (rv == 0 && s->status == 0) {
        rv = resource_exists(s, txn, to);
    }
    if (rv != 0 || s->status != 0) {
        return rv;
    }
    if (strcmp(from, to) == 0) {
        return store__refuse(s, AUGUR_EINVAL,
                             "edge %s -> %s: a resource cannot depend on "
                             "itself",
                             from, to);
    }
    klen = store__pair_key(key, from, to);
    rv = store__get(s, txn, STORE__DB_EDGES, key, klen, &v);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST, "edge %s -> %s already exists",
                             from, to);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    rv = reaches(s, txn, to, from, &cycle);
    if (rv != 0) {
        return rv;
    }
    if (cycle) {
        return store__refuse(s, AUGUR_ECYCLE,
                             "edge %s -> %s would close a dependency cycle: "
                             "%s already depends on %s",
                             from, to, to, from);
    }
    rv = store__put(s, txn, STORE__DB_EDGES, key, klen, &kind, 1);
    if (rv == 0) {
        klen = store__pair_key(key, to, from);
        rv = store__put(s, txn, STORE__DB_REDGES, key, klen, &kind, 1);
    }
    if (rv != 0) {
        return rv;
    }
    edge_pack(&s->out, from, to, cmd->u.edge.kind);
    return 0;
}

int store__edge_remove(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd)
{
    const char *from = cmd->u.edge.from;
    const char *to = cmd->u.edge.to;
    unsigned char key[STORE__KEY_MAX];
    size_t klen;
    MDB_val v;
    int kind;
    int rv;

    klen = store__pair_key(key, from, to);
    rv = store__get(s, txn, STORE__DB_EDGES, key, klen, &v);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND, "no edge %s -> %s", from, to);
    }
    if (rv != 0) {
        return rv;
    }
    if (kind_decode(s, &v, &kind) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "edge %.100s -> %.100s is corrupt", from, to);
        return AUGUR_EIO;
    }
    rv = store__del(s, txn, STORE__DB_EDGES, key, klen);
    if (rv == 0) {
        klen = store__pair_key(key, to, from);
        rv = store__del(s, txn, STORE__DB_REDGES, key, klen);
        if (rv == AUGUR_ENOTFOUND) {
            rv = 0;
        }
    }
    if (rv != 0) {
        return rv;
    }
    edge_pack(&s->out, from, to, kind);
    return 0;
}

/* ---- edge.list -------------------------------------------------------- */

/* A run of edges in (FROM, TO) order: all of edges, a resource's
 * out-edges (edges under "R\0") or its in-edges (redges under "R\0"). */
struct stream
{
    MDB_cursor *cur;
    unsigned char prefix[STORE_ID_SIZE];
    size_t prefix_len;
    bool reversed; /* keys are "TO\0FROM" */
    bool valid;    /* an edge is current */
    char from[STORE_ID_SIZE];
    char to[STORE_ID_SIZE];
    int kind;
};

static int pair_cmp(const char *f1,
                    const char *t1,
                    const char *f2,
                    const char *t2)
{
    int c = strcmp(f1, f2);
    return c != 0 ? c : strcmp(t1, t2);
}

/* Make the edge under the cursor (@rv from the last move) current. */
static int stream_load(struct store *s,
                       struct stream *st,
                       int rv,
                       const MDB_val *k,
                       const MDB_val *v)
{
    char a[STORE_ID_SIZE];
    char b[STORE_ID_SIZE];

    st->valid = false;
    if (rv == AUGUR_ENOTFOUND) {
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    if (k->mv_size < st->prefix_len ||
        memcmp(k->mv_data, st->prefix, st->prefix_len) != 0) {
        return 0;
    }
    if (store__pair_split(k, a, b) != 0 || kind_decode(s, v, &st->kind) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "an edge record is corrupt");
        return AUGUR_EIO;
    }
    memcpy(st->from, st->reversed ? b : a, STORE_ID_SIZE);
    memcpy(st->to, st->reversed ? a : b, STORE_ID_SIZE);
    st->valid = true;
    return 0;
}

static int stream_next(struct store *s, struct stream *st)
{
    MDB_val k;
    MDB_val v;
    int rv = store__step(s, st->cur, MDB_NEXT, &k, &v);
    return stream_load(s, st, rv, &k, &v);
}

/* Open @st and position it on its first edge after (@af, @at) (both ""
 * for the start). */
static int stream_open(struct store *s,
                       MDB_txn *txn,
                       struct stream *st,
                       enum store__db db,
                       const char *resource,
                       const char *af,
                       const char *at)
{
    unsigned char key[STORE__KEY_MAX];
    size_t klen;
    MDB_val k;
    MDB_val v;
    int rv;

    st->reversed = db == STORE__DB_REDGES;
    st->prefix_len = 0;
    if (resource[0] != 0) {
        st->prefix_len = strlen(resource) + 1;
        memcpy(st->prefix, resource, st->prefix_len);
    }
    rv = store__cursor(s, txn, db, &st->cur);
    if (rv != 0) {
        st->cur = NULL;
        return rv;
    }
    if (af[0] == 0) {
        klen = st->prefix_len;
        memcpy(key, st->prefix, klen);
    } else if (resource[0] == 0) {
        klen = store__pair_key(key, af, at);
    } else if (!st->reversed) {
        /* Out-edges (R, x): none are after the cursor when R < af, all are
         * when R > af, those with x > at when R == af. */
        int c = strcmp(resource, af);
        if (c < 0) {
            st->valid = false;
            return 0;
        }
        if (c > 0) {
            klen = st->prefix_len;
            memcpy(key, st->prefix, klen);
        } else {
            klen = store__pair_key(key, resource, at);
        }
    } else {
        /* In-edges (x, R) in x order: from x >= af on. */
        klen = store__pair_key(key, resource, af);
    }
    rv = store__seek(s, st->cur, key, klen, &k, &v);
    rv = stream_load(s, st, rv, &k, &v);
    /* The cursor is exclusive. */
    while (rv == 0 && st->valid && af[0] != 0 &&
           pair_cmp(st->from, st->to, af, at) <= 0) {
        rv = stream_next(s, st);
    }
    return rv;
}

int store__edge_list(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    const char *resource = cmd->u.list.filter;
    unsigned limit = store__list_limit(cmd->u.list.limit);
    char af[STORE_ID_SIZE] = "";
    char at[STORE_ID_SIZE] = "";
    char next[STORE_CURSOR_SIZE] = "";
    struct stream streams[2];
    unsigned n_streams = resource[0] != 0 ? 2 : 1;
    size_t n = 0;
    bool more = false;
    int rv = 0;

    memset(streams, 0, sizeof streams);
    if (cmd->u.list.after[0] != 0) {
        /* Checked by store__cmd_check: "FROM/TO". */
        const char *slash = strchr(cmd->u.list.after, '/');
        size_t flen = (size_t)(slash - cmd->u.list.after);
        memcpy(af, cmd->u.list.after, flen);
        memcpy(at, slash + 1, strlen(slash + 1));
    }
    s->items.size = 0;
    store__pack_init(&s->list, &s->items);
    for (unsigned i = 0; i < n_streams && rv == 0; i++) {
        rv = stream_open(s, txn, &streams[i],
                         i == 0 ? STORE__DB_EDGES : STORE__DB_REDGES, resource,
                         af, at);
    }
    while (rv == 0) {
        struct stream *st = NULL;
        for (unsigned i = 0; i < n_streams; i++) {
            if (streams[i].valid &&
                (st == NULL || pair_cmp(streams[i].from, streams[i].to,
                                        st->from, st->to) < 0)) {
                st = &streams[i];
            }
        }
        if (st == NULL) {
            break;
        }
        if (n == limit) {
            more = true;
            break;
        }
        edge_pack(&s->list, st->from, st->to, st->kind);
        snprintf(next, sizeof next, "%s/%s", st->from, st->to);
        n++;
        rv = stream_next(s, st);
    }
    for (unsigned i = 0; i < n_streams; i++) {
        if (streams[i].cur != NULL) {
            mdb_cursor_close(streams[i].cur);
        }
    }
    if (rv != 0) {
        return rv;
    }
    if (s->list.failed) {
        return AUGUR_ENOMEM;
    }
    return store__list_finish(s, n, more ? next : NULL);
}

int store__edge_entry_check(struct store *s, const MDB_val *k, const MDB_val *v)
{
    char a[STORE_ID_SIZE];
    char b[STORE_ID_SIZE];
    int kind;

    if (store__pair_split(k, a, b) != 0 || strcmp(a, b) == 0) {
        return AUGUR_EMALFORMED;
    }
    return kind_decode(s, v, &kind);
}

int store_edges_each(
    struct store *s,
    int (*fn)(void *arg, const char *from, const char *to, int kind),
    void *arg)
{
    char from[STORE_ID_SIZE];
    char to[STORE_ID_SIZE];
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int kind;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__cursor(s, s->rtxn, STORE__DB_EDGES, &cur);
    if (rv != 0) {
        mdb_txn_reset(s->rtxn);
        return rv;
    }
    rv = store__step(s, cur, MDB_FIRST, &k, &v);
    while (rv == 0) {
        if (store__pair_split(&k, from, to) != 0 ||
            kind_decode(s, &v, &kind) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "an edge is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        rv = fn(arg, from, to, kind);
        if (rv != 0) {
            break;
        }
        rv = store__step(s, cur, MDB_NEXT, &k, &v);
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(s->rtxn);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}
