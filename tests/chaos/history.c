/* Reading a chaos history: JSON lines into operations, nemesis events, the
 * final state of each node and the cluster's event log. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error.h"

static const char *const kind_names[CHAOS_KIND_COUNT] = {"acquire", "transfer",
                                                         "release", "get"};

void chaos_history_init(struct chaos_history *h)
{
    memset(h, 0, sizeof *h);
    h->first_ns = CHAOS_TIME_INF;
    h->last_ns = 0;
}

void chaos_history_close(struct chaos_history *h)
{
    for (size_t i = 0; i < h->n_names; i++) {
        free(h->names[i]);
    }
    free(h->names);
    free(h->ops);
    free(h->nemesis);
    free(h->finals);
    free(h->events);
    free(h->open);
    memset(h, 0, sizeof *h);
}

/* Grow an array of @size-byte items to hold one more. */
static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *p;

    if (n < *cap) {
        return 0;
    }
    ncap = *cap == 0 ? 64 : *cap * 2;
    p = realloc(*items, ncap * size);
    if (p == NULL) {
        return -1;
    }
    *items = p;
    *cap = ncap;
    return 0;
}

static int intern(struct chaos_history *h, const char *name, unsigned *out)
{
    /* Few names (workloads, hosts): a linear scan is enough. */
    for (size_t i = 0; i < h->n_names; i++) {
        if (strcmp(h->names[i], name) == 0) {
            *out = (unsigned)i;
            return 0;
        }
    }
    if (grow((void **)&h->names, &h->cap_names, h->n_names, sizeof(char *)) !=
        0) {
        return -1;
    }
    h->names[h->n_names] = strdup(name);
    if (h->names[h->n_names] == NULL) {
        return -1;
    }
    *out = (unsigned)h->n_names++;
    return 0;
}

const char *chaos_history_name(const struct chaos_history *h, unsigned idx)
{
    if (idx == CHAOS_HOST_ANY) {
        return "*";
    }
    return idx < h->n_names ? h->names[idx] : "?";
}

static int parse_kind(const char *s)
{
    for (int i = 0; i < CHAOS_KIND_COUNT; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            return i;
        }
    }
    /* Event log names. */
    if (strcmp(s, "claim.acquire") == 0) {
        return CHAOS_ACQUIRE;
    }
    if (strcmp(s, "claim.transfer") == 0) {
        return CHAOS_TRANSFER;
    }
    if (strcmp(s, "claim.release") == 0) {
        return CHAOS_RELEASE;
    }
    return -1;
}

static int errcode_parse(const char *name)
{
    for (int i = 0; i < AUGUR_ERR_COUNT; i++) {
        if (strcmp(augur_errname(i), name) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jint(json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) {
        return -1;
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int set_open(struct chaos_history *h, int process, long idx)
{
    if ((size_t)process >= h->n_open) {
        size_t n = (size_t)process + 16;
        long *p = realloc(h->open, n * sizeof *p);
        if (p == NULL) {
            return -1;
        }
        for (size_t i = h->n_open; i < n; i++) {
            p[i] = -1;
        }
        h->open = p;
        h->n_open = n;
    }
    h->open[process] = idx;
    return 0;
}

static long get_open(const struct chaos_history *h, int process)
{
    return (size_t)process < h->n_open ? h->open[process] : -1;
}

#define FAIL_LINE(...)                                                        \
    do {                                                                      \
        int n_ = snprintf(h->errmsg, sizeof h->errmsg, "line %zu: ", lineno); \
        snprintf(h->errmsg + n_, sizeof h->errmsg - (size_t)n_, __VA_ARGS__); \
        goto err;                                                             \
    } while (0)

static int add_invoke(struct chaos_history *h, json_t *o, size_t lineno)
{
    struct chaos_op *op;
    const char *s;
    int64_t v;
    int kind;
    long prev;

    if (jint(o, "process", &v) != 0 || v < 0 || v > 1000000) {
        FAIL_LINE("invoke without a valid process");
    }
    prev = get_open(h, (int)v);
    if (prev >= 0) {
        FAIL_LINE("process %d invokes while its op of line %zu is open", (int)v,
                  h->ops[prev].line);
    }
    if (grow((void **)&h->ops, &h->cap_ops, h->n_ops, sizeof *h->ops) != 0) {
        FAIL_LINE("out of memory");
    }
    op = &h->ops[h->n_ops];
    memset(op, 0, sizeof *op);
    op->process = (int)v;
    op->line = lineno;
    s = jstr(o, "op");
    kind = s != NULL ? parse_kind(s) : -1;
    if (kind < 0) {
        FAIL_LINE("unknown op '%s'", s != NULL ? s : "(none)");
    }
    op->kind = (enum chaos_kind)kind;
    s = jstr(o, "workload");
    if (s == NULL || intern(h, s, &op->workload) != 0) {
        FAIL_LINE("invoke without a workload");
    }
    if (op->kind == CHAOS_ACQUIRE || op->kind == CHAOS_TRANSFER) {
        s = jstr(o, "host");
        if (s != NULL && op->kind == CHAOS_ACQUIRE && strcmp(s, "*") == 0) {
            op->arg_host = CHAOS_HOST_ANY; /* the cluster chooses */
        } else if (s == NULL || intern(h, s, &op->arg_host) != 0) {
            FAIL_LINE("%s without a host", kind_names[kind]);
        }
    }
    if (op->kind == CHAOS_TRANSFER || op->kind == CHAOS_RELEASE) {
        if (jint(o, "epoch", &v) != 0 || v < 0) {
            FAIL_LINE("%s without an epoch", kind_names[kind]);
        }
        op->arg_epoch = (uint64_t)v;
    }
    if (jint(o, "time", &op->invoke_ns) != 0) {
        FAIL_LINE("invoke without a time");
    }
    op->complete_ns = CHAOS_TIME_INF;
    op->outcome = CHAOS_INFO;
    if (set_open(h, op->process, (long)h->n_ops) != 0) {
        FAIL_LINE("out of memory");
    }
    h->n_ops++;
    return 0;
err:
    return -1;
}

static int add_completion(struct chaos_history *h,
                          json_t *o,
                          enum chaos_outcome outcome,
                          size_t lineno)
{
    struct chaos_op *op;
    const char *s;
    int64_t v;
    long idx;
    json_t *held;

    if (jint(o, "process", &v) != 0 || v < 0) {
        FAIL_LINE("completion without a valid process");
    }
    idx = get_open(h, (int)v);
    if (idx < 0) {
        FAIL_LINE("completion of process %d, which has no open op", (int)v);
    }
    op = &h->ops[idx];
    h->open[v] = -1;
    op->outcome = outcome;
    if (jint(o, "time", &v) != 0) {
        FAIL_LINE("completion without a time");
    }
    if (v < op->invoke_ns) {
        FAIL_LINE("completion before its invocation");
    }
    op->complete_ns = outcome == CHAOS_INFO ? CHAOS_TIME_INF : v;
    if (v > h->last_ns) {
        h->last_ns = v;
    }
    s = jstr(o, "error");
    if (s != NULL) {
        snprintf(op->error, sizeof op->error, "%s", s);
    }
    if (outcome == CHAOS_FAIL) {
        op->status = s != NULL ? errcode_parse(s) : -1;
        if (op->status <= 0) {
            FAIL_LINE("fail without a known error code");
        }
    }
    s = jstr(o, "host");
    held = json_object_get(o, "held");
    if (s != NULL && !json_is_false(held)) {
        if (intern(h, s, &op->res_host) != 0 || jint(o, "epoch", &v) != 0 ||
            v < 0) {
            FAIL_LINE("a claim result needs a host and an epoch");
        }
        op->has_claim = true;
        op->res_epoch = (uint64_t)v;
    }
    if (op->kind == CHAOS_GET && outcome == CHAOS_OK && !op->has_claim) {
        /* A read that found no claim is an answer: "not held". */
        op->status = AUGUR_ENOTFOUND;
    }
    return 0;
err:
    return -1;
}

static int add_other(struct chaos_history *h,
                     json_t *o,
                     const char *type,
                     size_t lineno)
{
    const char *s;
    int64_t v;

    if (strcmp(type, "nemesis") == 0) {
        struct chaos_nemesis *n;
        if (grow((void **)&h->nemesis, &h->cap_nemesis, h->n_nemesis,
                 sizeof *n) != 0) {
            FAIL_LINE("out of memory");
        }
        n = &h->nemesis[h->n_nemesis];
        memset(n, 0, sizeof *n);
        if (jint(o, "time", &n->time_ns) != 0) {
            FAIL_LINE("nemesis event without a time");
        }
        s = jstr(o, "kind");
        snprintf(n->kind, sizeof n->kind, "%s", s != NULL ? s : "?");
        s = jstr(o, "phase");
        snprintf(n->phase, sizeof n->phase, "%s", s != NULL ? s : "");
        s = jstr(o, "detail");
        snprintf(n->detail, sizeof n->detail, "%s", s != NULL ? s : "");
        n->node = jint(o, "node", &v) == 0 ? (int)v : 0;
        h->n_nemesis++;
    } else if (strcmp(type, "final") == 0) {
        struct chaos_final *f;
        if (grow((void **)&h->finals, &h->cap_finals, h->n_finals, sizeof *f) !=
            0) {
            FAIL_LINE("out of memory");
        }
        f = &h->finals[h->n_finals];
        memset(f, 0, sizeof *f);
        if (jint(o, "node", &v) != 0) {
            FAIL_LINE("final without a node");
        }
        f->node = (int)v;
        if (jint(o, "rev", &v) != 0 || v < 0) {
            FAIL_LINE("final without a rev");
        }
        f->rev = (uint64_t)v;
        s = jstr(o, "digest");
        snprintf(f->digest, sizeof f->digest, "%s", s != NULL ? s : "");
        s = jstr(o, "store_digest");
        snprintf(f->store_digest, sizeof f->store_digest, "%s",
                 s != NULL ? s : "");
        if (jint(o, "store_applied", &v) == 0 && v >= 0) {
            f->store_applied = (uint64_t)v;
        }
        h->n_finals++;
    } else if (strcmp(type, "event") == 0) {
        struct chaos_event *e;
        int kind;
        if (grow((void **)&h->events, &h->cap_events, h->n_events, sizeof *e) !=
            0) {
            FAIL_LINE("out of memory");
        }
        e = &h->events[h->n_events];
        memset(e, 0, sizeof *e);
        s = jstr(o, "op");
        kind = s != NULL ? parse_kind(s) : -1;
        if (kind < 0 || kind == CHAOS_GET) {
            return 0; /* not a claim event: not ours to check */
        }
        e->kind = (enum chaos_kind)kind;
        if (jint(o, "rev", &v) != 0 || v < 0) {
            FAIL_LINE("event without a rev");
        }
        e->rev = (uint64_t)v;
        s = jstr(o, "workload");
        if (s == NULL || intern(h, s, &e->workload) != 0) {
            FAIL_LINE("claim event without a workload");
        }
        s = jstr(o, "host");
        if (s == NULL || intern(h, s, &e->host) != 0) {
            FAIL_LINE("claim event without a host");
        }
        if (jint(o, "epoch", &v) != 0 || v < 0) {
            FAIL_LINE("claim event without an epoch");
        }
        e->epoch = (uint64_t)v;
        h->n_events++;
    } else if (strcmp(type, "events_end") == 0) {
        h->have_events = true;
    } else if (strcmp(type, "meta") == 0) {
        /* Run parameters, for the reader. */
    } else {
        FAIL_LINE("unknown type '%s'", type);
    }
    return 0;
err:
    return -1;
}

int chaos_history_add_line(struct chaos_history *h,
                           const char *line,
                           size_t lineno)
{
    json_error_t jerr;
    json_t *o;
    const char *type;
    int64_t t;
    int rv;

    while (*line == ' ' || *line == '\t') {
        line++;
    }
    if (*line == '\0' || *line == '\n') {
        return 0;
    }
    o = json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr);
    if (o == NULL || !json_is_object(o)) {
        snprintf(h->errmsg, sizeof h->errmsg, "line %zu: not a JSON object: %s",
                 lineno, o == NULL ? jerr.text : "");
        json_decref(o);
        return -1;
    }
    type = jstr(o, "type");
    if (type == NULL) {
        snprintf(h->errmsg, sizeof h->errmsg, "line %zu: no \"type\"", lineno);
        json_decref(o);
        return -1;
    }
    if (jint(o, "time", &t) == 0 && strcmp(type, "nemesis") != 0) {
        if (t < h->first_ns) {
            h->first_ns = t;
        }
        if (t > h->last_ns) {
            h->last_ns = t;
        }
    }
    if (strcmp(type, "invoke") == 0) {
        rv = add_invoke(h, o, lineno);
    } else if (strcmp(type, "ok") == 0) {
        rv = add_completion(h, o, CHAOS_OK, lineno);
    } else if (strcmp(type, "fail") == 0) {
        rv = add_completion(h, o, CHAOS_FAIL, lineno);
    } else if (strcmp(type, "info") == 0) {
        rv = add_completion(h, o, CHAOS_INFO, lineno);
    } else {
        rv = add_other(h, o, type, lineno);
    }
    json_decref(o);
    return rv;
}

int chaos_history_load(struct chaos_history *h, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rv = 0;

    if (f == NULL) {
        snprintf(h->errmsg, sizeof h->errmsg, "open %s: %s", path,
                 strerror(errno));
        return -1;
    }
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        rv = chaos_history_add_line(h, line, lineno);
        if (rv != 0) {
            break;
        }
    }
    free(line);
    fclose(f);
    if (rv == 0) {
        chaos_history_finish(h);
    }
    return rv;
}

void chaos_history_finish(struct chaos_history *h)
{
    for (size_t p = 0; p < h->n_open; p++) {
        if (h->open[p] >= 0) {
            struct chaos_op *op = &h->ops[h->open[p]];
            op->outcome = CHAOS_INFO;
            op->complete_ns = CHAOS_TIME_INF;
            snprintf(op->error, sizeof op->error, "%s", "no answer");
            h->open[p] = -1;
        }
    }
}
