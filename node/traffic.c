/* The leader's load-balancer driver (node/traffic.h): each step or
 * membership change is an operation that walks a few stages, one HAProxy
 * call or one timer at a time. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error.h"
#include "common/log.h"
#include "node/haproxy.h"
#include "node/traffic.h"

/* HAProxy's queue: steps and membership changes of every workflow in
 * flight share the one socket. */
#define TRAFFIC_QUEUE_MAX 1024
#define TRAFFIC_TIMEOUT_MS 2000

enum op_kind
{
    OP_MIRROR,
    OP_SHIFT,
    OP_UNSHIFT,
    OP_PUT,
    OP_WEIGHT,
    OP_DELETE,
    OP_QUERY
};

enum stage
{
    ST_ADD,          /* add the new server (weight new_w) */
    ST_ADDR,         /* it existed: set its address */
    ST_WEIGHT_NEW,   /* ... and its weight */
    ST_READY,        /* ... and make it ready */
    ST_HEALTH,       /* its health checks: off for a step, on for a put */
    ST_WEIGHT_OLD,   /* the old server's weight (old_w) */
    ST_MIRROR_SET,   /* augur mirror set */
    ST_WAIT,         /* the dwell */
    ST_MIRROR_SHOW,  /* augur mirror show: judge */
    ST_MIRROR_CLEAR, /* augur mirror clear */
    ST_STAT0,        /* show stat at the step's start */
    ST_STAT1,        /* show stat at its end: judge */
    ST_RESTORE_OLD,  /* back out: the old server's full weight, first */
    ST_RESTORE_NEW,  /* ... then the new server's weight 0 */
    ST_MAINT,        /* delete: maintenance first (no new request) */
    ST_GRACE,        /* delete: wait before freeing the server */
    ST_DELCHECK,     /* delete: still in maintenance?  (else put back) */
    ST_DELETE,       /* del server */
    ST_QUERY,        /* query: show stat */
};

struct node_traffic
{
    uv_loop_t *loop;
    struct haproxy *hap;
    char prefix[NODE_TRAFFIC_PREFIX_SIZE];
    struct op *ops; /* every operation, running or waiting */
    unsigned n_ops;
    bool closing;
    bool in_close; /* inside node_traffic_close: it frees the driver */
    uint64_t delete_grace_ms;
};

struct op
{
    struct node_traffic *t;
    struct op *prev, *next;
    enum op_kind kind;
    enum stage stage;
    struct node_traffic_req req;
    char backend[HAPROXY_NAME_SIZE];
    int new_w, old_w;
    unsigned extensions;
    bool in_call;    /* a HAProxy call is out: its callback frees us */
    bool cancelled;  /* the caller was told; finish quietly */
    bool refused;    /* a KPI failed: report it after backing out */
    bool freeing;    /* its timer is closing: freed by the close callback */
    bool superseded; /* a delete a later put or step of its server undid */
    uv_timer_t timer;
    bool timer_init;
    struct node_kpi_counters old0, new0;
    uint64_t wait_end; /* the dwell's end (uv_now), 0 between dwells */
    char detail[PLAN_DETAIL_SIZE];
    node_traffic_cb cb;
    node_traffic_query_cb qcb; /* a query's, until it is called */
    void *data;
};

static void copy(char *dst, const char *src, size_t size)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int node_traffic_new(uv_loop_t *loop,
                     const char *socket_path,
                     const char *prefix,
                     struct node_traffic **out,
                     char *errmsg)
{
    struct node_traffic *t;
    int rv;

    if (strlen(prefix) >= NODE_TRAFFIC_PREFIX_SIZE) {
        snprintf(errmsg, 256, "haproxy backend prefix longer than %d bytes",
                 NODE_TRAFFIC_PREFIX_SIZE - 1);
        return AUGUR_EINVAL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(errmsg, 256, "out of memory");
        return AUGUR_ENOMEM;
    }
    rv = haproxy_new(loop, socket_path, TRAFFIC_QUEUE_MAX, TRAFFIC_TIMEOUT_MS,
                     &t->hap, errmsg);
    if (rv != 0) {
        free(t);
        return rv;
    }
    t->loop = loop;
    t->delete_grace_ms = NODE_TRAFFIC_DELETE_GRACE_MS;
    copy(t->prefix, prefix, sizeof t->prefix);
    *out = t;
    return 0;
}

/* ---- operations ------------------------------------------------------- */

static void op_free_now(struct op *op)
{
    struct node_traffic *t = op->t;

    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        t->ops = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
    t->n_ops--;
    free(op);
    if (t->closing && !t->in_close && t->n_ops == 0) {
        free(t);
    }
}

static void on_timer_close(uv_handle_t *h)
{
    op_free_now(h->data);
}

static void op_free(struct op *op)
{
    if (op->freeing) {
        return;
    }
    op->freeing = true;
    if (op->timer_init) {
        uv_timer_stop(&op->timer);
        uv_close((uv_handle_t *)&op->timer, on_timer_close);
        return;
    }
    op_free_now(op);
}

static const char *kind_name(enum op_kind k)
{
    static const char *const names[] = {"mirror", "shift",  "unshift", "put",
                                        "weight", "delete", "query"};
    return names[k];
}

/* The operation ends: a step's caller hears @outcome and @detail. */
/* A query's answer, once. */
static void query_answer(struct op *op,
                         int status,
                         const struct haproxy_server_stat *servers,
                         size_t n)
{
    node_traffic_query_cb qcb = op->qcb;
    if (qcb != NULL) {
        op->qcb = NULL;
        qcb(op->data, status, servers, n);
    }
}

static void op_finish(struct op *op, int outcome, const char *detail)
{
    if (op->kind == OP_QUERY) {
        query_answer(op, outcome == PLAN_OUTCOME_OK ? 0 : AUGUR_EIO, NULL, 0);
    } else if (op->cb == NULL) {
        if (outcome != PLAN_OUTCOME_OK) {
            LOG(LOG_LEVEL_WARN, "traffic: %s %s/%s: %s", kind_name(op->kind),
                op->backend, op->req.to, detail);
        }
    } else if (!op->cancelled) {
        op->cancelled = true;
        op->cb(op->data, outcome, detail);
    }
    op_free(op);
}

static void run(struct op *op);
static void on_result(void *data, const struct haproxy_result *res);

static void go(struct op *op, enum stage st)
{
    op->stage = st;
    run(op);
}

static void on_timer(uv_timer_t *timer)
{
    struct op *op = timer->data;
    if (op->kind == OP_DELETE) {
        go(op, ST_DELCHECK);
        return;
    }
    if (op->kind == OP_MIRROR) {
        op->wait_end = 0;
        go(op, ST_MIRROR_SHOW);
        return;
    }
    go(op, ST_STAT1);
}

/* After the new server is in place with the step's weight. */
static void after_add(struct op *op)
{
    switch (op->kind) {
        case OP_MIRROR:
            go(op, ST_MIRROR_SET);
            return;
        case OP_SHIFT:
            go(op, ST_WEIGHT_OLD);
            return;
        default:
            op_finish(op, PLAN_OUTCOME_OK, "");
            return;
    }
}

static void issue(struct op *op, int rv)
{
    char why[PLAN_DETAIL_SIZE];

    if (rv == 0) {
        op->in_call = true;
        return;
    }
    snprintf(why, sizeof why, "haproxy: %s", augur_strerror(rv));
    op_finish(op, PLAN_OUTCOME_RETRY, why);
}

static void run(struct op *op)
{
    struct node_traffic *t = op->t;
    struct haproxy *h = t->hap;
    const struct node_traffic_req *r = &op->req;
    char cmd[512];

    switch (op->stage) {
        case ST_ADD:
            issue(op, haproxy_server_add(h, op->backend, r->to, r->addr,
                                         r->port, op->new_w, 1, on_result, op));
            return;
        case ST_ADDR:
            snprintf(cmd, sizeof cmd, "set server %s/%s addr %s port %d",
                     op->backend, r->to, r->addr, r->port);
            issue(op, haproxy_command(h, cmd, on_result, op));
            return;
        case ST_WEIGHT_NEW:
            issue(op, haproxy_server_weight(h, op->backend, r->to, op->new_w,
                                            on_result, op));
            return;
        case ST_READY:
            issue(op, haproxy_server_state(h, op->backend, r->to, HAPROXY_READY,
                                           on_result, op));
            return;
        case ST_HEALTH:
            /* A mirror or shift runs before the new instance is activated:
             * a warm one answers /healthz 503, HAProxy's check would take
             * it DOWN and the traffic shifted to it would find no server
             * (the KPIs judge it meanwhile).  Its activation's put turns
             * the check back on. */
            snprintf(cmd, sizeof cmd, "%s health %s/%s",
                     op->kind == OP_PUT ? "enable" : "disable", op->backend,
                     r->to);
            issue(op, haproxy_command(h, cmd, on_result, op));
            return;
        case ST_WEIGHT_OLD:
            issue(op, haproxy_server_weight(h, op->backend, r->from, op->old_w,
                                            on_result, op));
            return;
        case ST_MIRROR_SET:
            snprintf(cmd, sizeof cmd, "augur mirror set %s %s:%d", op->backend,
                     r->addr, r->port);
            issue(op, haproxy_command(h, cmd, on_result, op));
            return;
        case ST_MIRROR_SHOW:
            snprintf(cmd, sizeof cmd, "augur mirror show %s", op->backend);
            issue(op, haproxy_command(h, cmd, on_result, op));
            return;
        case ST_MIRROR_CLEAR:
            snprintf(cmd, sizeof cmd, "augur mirror clear %s", op->backend);
            issue(op, haproxy_command(h, cmd, on_result, op));
            return;
        case ST_STAT0:
        case ST_STAT1:
        case ST_QUERY:
        case ST_DELCHECK:
            issue(op, haproxy_stat(h, op->backend, on_result, op));
            return;
        case ST_WAIT: {
            /* A shift looks at its counters every NODE_TRAFFIC_POLL_MS of
             * its dwell and fails at once when they already say so: a
             * canary that breaks mid-step keeps its share of the traffic
             * a quarter second, not a whole dwell.  It passes only at the
             * dwell's end. */
            uint64_t now = uv_now(t->loop);
            uint64_t left;
            if (op->wait_end == 0) {
                op->wait_end = now + r->dwell_ms;
            }
            left = op->wait_end > now ? op->wait_end - now : 0;
            if (op->kind == OP_SHIFT && left > NODE_TRAFFIC_POLL_MS) {
                left = NODE_TRAFFIC_POLL_MS;
            }
            uv_timer_start(&op->timer, on_timer, left, 0);
            return;
        }
        case ST_RESTORE_NEW:
            issue(op, haproxy_server_weight(h, op->backend, r->to, 0, on_result,
                                            op));
            return;
        case ST_RESTORE_OLD:
            issue(op, haproxy_server_weight(h, op->backend, r->from,
                                            NODE_TRAFFIC_FULL_WEIGHT, on_result,
                                            op));
            return;
        case ST_MAINT:
            issue(op, haproxy_server_state(h, op->backend, r->to, HAPROXY_MAINT,
                                           on_result, op));
            return;
        case ST_GRACE:
            uv_timer_start(&op->timer, on_timer, t->delete_grace_ms, 0);
            return;
        case ST_DELETE:
            issue(op,
                  haproxy_server_delete(h, op->backend, r->to, on_result, op));
            return;
    }
}

/* The length of @s's first line, at most @max: a step's detail is one
 * line, and the script's answers end with a newline. */
static int first_line(const char *s, size_t max)
{
    size_t n = strcspn(s, "\r\n");
    return (int)(n < max ? n : max);
}

/* A raw command's answer is HAProxy's or the Lua script's text. */
static bool answer_ok(const struct haproxy_result *res)
{
    return res->answer_len >= 2 && strncmp(res->answer, "ok", 2) == 0;
}

static bool answer_unknown(const struct haproxy_result *res)
{
    /* HAProxy's own answer to a command nobody registered. */
    return res->answer_len > 0 &&
           (strstr(res->answer, "Unknown command") != NULL ||
            strstr(res->answer, "unknown command") != NULL);
}

static void counters_of(const struct haproxy_result *res,
                        const char *server,
                        struct node_kpi_counters *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < res->n_servers; i++) {
        const struct haproxy_server_stat *s = &res->servers[i];
        if (strcmp(s->name, server) == 0) {
            c->stot = s->stot;
            c->hrsp_5xx = s->hrsp_5xx;
            c->eresp = s->eresp;
            c->econ = s->econ;
            c->rtime_ms = s->rtime;
            return;
        }
    }
}

/* Judge a step; WAIT measures again (NODE_TRAFFIC_EXTENSIONS times). */
static void judge(struct op *op, const struct node_kpi_decision *d)
{
    if (d->outcome == NODE_KPI_WAIT &&
        op->extensions < NODE_TRAFFIC_EXTENSIONS) {
        op->extensions++;
        go(op, ST_WAIT);
        return;
    }
    if (d->outcome == NODE_KPI_FAIL) {
        copy(op->detail, d->reason, sizeof op->detail);
        op->refused = true;
        LOG(LOG_LEVEL_WARN, "traffic: %s %s to %s failed validation: %s",
            op->kind == OP_MIRROR ? "mirror of" : "shift of", op->req.workload,
            op->req.to, d->reason);
        /* Back out at once; the workflow's unshift does it again.  The
         * old server first: after shift_100 it has weight 0, and both at 0
         * would answer 503 in between. */
        go(op, op->kind == OP_MIRROR ? ST_MIRROR_CLEAR : ST_RESTORE_OLD);
        return;
    }
    if (d->outcome == NODE_KPI_WAIT) {
        snprintf(op->detail, sizeof op->detail, "not validated: %.100s",
                 d->reason);
    } else if (op->kind == OP_MIRROR) {
        snprintf(op->detail, sizeof op->detail,
                 "mirror: %" PRIu64 " compared, error rate %.3f, p99 %" PRIu64
                 "ms (live %" PRIu64 "ms)",
                 d->new_side.requests, d->new_side.error_rate,
                 d->new_side.latency_ms, d->old_side.latency_ms);
    } else {
        snprintf(op->detail, sizeof op->detail,
                 "%u%%: new %" PRIu64 "/%" PRIu64 " errors %" PRIu64
                 "ms, old %" PRIu64 "/%" PRIu64 " %" PRIu64 "ms",
                 op->req.pct, d->new_side.errors, d->new_side.requests,
                 d->new_side.latency_ms, d->old_side.errors,
                 d->old_side.requests, d->old_side.latency_ms);
    }
    if (op->kind == OP_MIRROR) {
        go(op, ST_MIRROR_CLEAR);
    } else {
        op_finish(op, PLAN_OUTCOME_OK, op->detail);
    }
}

static bool went_backwards(const struct node_kpi_counters *a,
                           const struct node_kpi_counters *b)
{
    return b->stot < a->stot || b->hrsp_5xx < a->hrsp_5xx ||
           b->eresp < a->eresp || b->econ < a->econ;
}

static void on_stat(struct op *op, const struct haproxy_result *res)
{
    struct node_kpi_counters old1, new1;
    struct node_kpi_decision d;

    if (op->stage == ST_STAT0) {
        counters_of(res, op->req.from, &op->old0);
        counters_of(res, op->req.to, &op->new0);
        go(op, ST_WAIT);
        return;
    }
    counters_of(res, op->req.from, &old1);
    counters_of(res, op->req.to, &new1);
    node_kpi_decide(&op->old0, &old1, &op->new0, &new1, &op->req.kpi, &d);
    if (went_backwards(&op->old0, &old1) || went_backwards(&op->new0, &new1)) {
        /* A server re-added, HAProxy restarted: the extension measures
         * from here, not from counters that no longer exist. */
        op->old0 = old1;
        op->new0 = new1;
    } else if (d.outcome != NODE_KPI_FAIL &&
               uv_now(op->t->loop) < op->wait_end) {
        go(op, ST_WAIT); /* the dwell goes on */
        return;
    }
    op->wait_end = 0;
    judge(op, &d);
}

static void on_mirror_show(struct op *op, const struct haproxy_result *res)
{
    struct node_kpi_mirror m;
    struct node_kpi_decision d;

    if (node_traffic_mirror_parse(res->answer, res->answer_len, &m) != 0) {
        char why[PLAN_DETAIL_SIZE];
        snprintf(why, sizeof why, "mirror show: unexpected answer %.*s",
                 first_line(res->answer, 60), res->answer);
        op_finish(op, PLAN_OUTCOME_RETRY, why);
        return;
    }
    node_kpi_mirror_decide(&m, &op->req.kpi, &d);
    judge(op, &d);
}

static void on_result(void *data, const struct haproxy_result *res)
{
    struct op *op = data;
    char why[PLAN_DETAIL_SIZE];

    op->in_call = false;
    if (op->kind == OP_QUERY) {
        query_answer(op, op->t->closing ? AUGUR_ESHUTDOWN : res->status,
                     res->servers, res->n_servers);
        op_free(op);
        return;
    }
    if (op->cancelled || op->t->closing) {
        op_free(op);
        return;
    }
    switch (op->stage) {
        case ST_ADD:
            if (res->status == AUGUR_EINVAL &&
                strstr(res->message, "lready exists") != NULL) {
                go(op, ST_ADDR);
                return;
            }
            if (res->status == AUGUR_ENOTFOUND) {
                /* No backend for this workload: it is not behind this
                 * HAProxy, and there is no traffic to move. */
                snprintf(why, sizeof why,
                         "no backend %s in haproxy: traffic not moved",
                         op->backend);
                op_finish(op, PLAN_OUTCOME_OK, why);
                return;
            }
            break;
        case ST_WEIGHT_OLD:
        case ST_RESTORE_NEW:
        case ST_RESTORE_OLD:
        case ST_MAINT:
        case ST_DELCHECK:
        case ST_DELETE:
            if (op->superseded) {
                op_finish(op, PLAN_OUTCOME_OK, "");
                return;
            }
            if (res->status == AUGUR_ENOTFOUND) {
                res = NULL; /* no such server: nothing to set */
            }
            break;
        case ST_WEIGHT_NEW:
            if (op->kind == OP_WEIGHT && res->status == AUGUR_ENOTFOUND) {
                res = NULL;
            }
            break;
        case ST_MIRROR_SET:
        case ST_MIRROR_SHOW:
        case ST_MIRROR_CLEAR:
            if (res->status == 0 && answer_unknown(res)) {
                if (op->stage == ST_MIRROR_SET) {
                    op_finish(op, PLAN_OUTCOME_OK,
                              "not validated: mirroring is not loaded in "
                              "haproxy (augur-mirror.lua)");
                    return;
                }
                res = NULL;
                break;
            }
            if (res->status == 0 && op->stage != ST_MIRROR_SHOW &&
                !answer_ok(res)) {
                if (op->stage == ST_MIRROR_CLEAR) {
                    res = NULL; /* nothing to clear */
                    break;
                }
                snprintf(why, sizeof why, "haproxy: mirror set: %.*s",
                         first_line(res->answer, 80), res->answer);
                op_finish(op, PLAN_OUTCOME_RETRY, why);
                return;
            }
            break;
        default:
            break;
    }
    if (res != NULL && res->status != 0) {
        snprintf(why, sizeof why, "haproxy: %s: %.80s",
                 augur_strerror(res->status), res->message);
        op_finish(op, PLAN_OUTCOME_RETRY, why);
        return;
    }
    switch (op->stage) {
        case ST_ADD:
            /* haproxy_server_add turned the check on. */
            if (op->kind == OP_PUT) {
                after_add(op);
            } else {
                go(op, ST_HEALTH);
            }
            return;
        case ST_READY:
            go(op, ST_HEALTH);
            return;
        case ST_HEALTH:
            after_add(op);
            return;
        case ST_ADDR:
            go(op, ST_WEIGHT_NEW);
            return;
        case ST_WEIGHT_NEW:
            if (op->kind == OP_WEIGHT) {
                op_finish(op, PLAN_OUTCOME_OK, "");
            } else {
                go(op, ST_READY);
            }
            return;
        case ST_WEIGHT_OLD:
            go(op, ST_STAT0);
            return;
        case ST_MIRROR_SET:
            go(op, ST_WAIT);
            return;
        case ST_MIRROR_SHOW:
            on_mirror_show(op, res);
            return;
        case ST_MIRROR_CLEAR:
            if (op->refused) {
                op_finish(op, PLAN_OUTCOME_REFUSED, op->detail);
            } else {
                op_finish(op, PLAN_OUTCOME_OK,
                          op->kind == OP_UNSHIFT
                              ? "weights back on the old instance"
                              : op->detail);
            }
            return;
        case ST_STAT0:
        case ST_STAT1:
            on_stat(op, res);
            return;
        case ST_RESTORE_OLD:
            go(op, ST_RESTORE_NEW);
            return;
        case ST_RESTORE_NEW:
            if (op->kind == OP_UNSHIFT) {
                go(op, ST_MIRROR_CLEAR);
            } else {
                op_finish(op, PLAN_OUTCOME_REFUSED, op->detail);
            }
            return;
        case ST_DELCHECK: {
            /* Someone put it back meanwhile (a put of this driver cancels
             * the delete; a new leader's does not): leave it. */
            bool maint = false;
            for (size_t i = 0; res != NULL && i < res->n_servers; i++) {
                if (strcmp(res->servers[i].name, op->req.to) == 0) {
                    maint = strstr(res->servers[i].status, "MAINT") != NULL;
                }
            }
            if (maint) {
                go(op, ST_DELETE);
            } else {
                op_finish(op, PLAN_OUTCOME_OK, "");
            }
            return;
        }
        case ST_MAINT:
            if (res == NULL) {
                op_finish(op, PLAN_OUTCOME_OK, ""); /* no such server */
            } else {
                go(op, ST_GRACE);
            }
            return;
        case ST_DELETE:
            op_finish(op, PLAN_OUTCOME_OK, "");
            return;
        case ST_WAIT:
        case ST_GRACE:
        case ST_QUERY:
            break;
    }
}

/* @op puts its server (req.to) back: a delete of that server still in
 * its grace ends now without deleting; one with a call out ends once the
 * call is answered (HAProxy runs calls in order, so @op's come after). */
static void supersede_deletes(struct node_traffic *t, const struct op *op)
{
    struct op *d;
    struct op *next;

    for (d = t->ops; d != NULL; d = next) {
        next = d->next;
        if (d->kind != OP_DELETE || d->superseded || d->freeing ||
            strcmp(d->backend, op->backend) != 0 ||
            strcmp(d->req.to, op->req.to) != 0) {
            continue;
        }
        d->superseded = true;
        if (d->stage == ST_GRACE && !d->in_call) {
            op_free(d);
        }
    }
}

static struct op *op_new(struct node_traffic *t,
                         enum op_kind kind,
                         const struct node_traffic_req *req)
{
    struct op *op;
    int n;

    if (t == NULL || t->closing) {
        return NULL;
    }
    op = calloc(1, sizeof *op);
    if (op == NULL) {
        return NULL;
    }
    op->t = t;
    op->kind = kind;
    op->req = *req;
    n = snprintf(op->backend, sizeof op->backend, "%s%s", t->prefix,
                 req->workload);
    if (n < 0 || (size_t)n >= sizeof op->backend) {
        free(op);
        return NULL;
    }
    if (op->req.addr[0] == '\0') {
        copy(op->req.addr, "127.0.0.1", sizeof op->req.addr);
    }
    op->next = t->ops;
    if (t->ops != NULL) {
        t->ops->prev = op;
    }
    t->ops = op;
    t->n_ops++;
    if (kind == OP_PUT || kind == OP_MIRROR || kind == OP_SHIFT) {
        supersede_deletes(t, op);
    }
    if (kind == OP_MIRROR || kind == OP_SHIFT || kind == OP_DELETE) {
        uv_timer_init(t->loop, &op->timer);
        op->timer.data = op;
        op->timer_init = true;
    }
    return op;
}

int node_traffic_step(struct node_traffic *t,
                      const struct node_traffic_req *req,
                      node_traffic_cb cb,
                      void *data)
{
    struct op *op;
    enum op_kind kind;
    unsigned old_w, new_w;

    switch (req->action) {
        case PLAN_ACTION_MIRROR:
            kind = OP_MIRROR;
            break;
        case PLAN_ACTION_SHIFT:
            kind = OP_SHIFT;
            break;
        case PLAN_ACTION_UNSHIFT:
            kind = OP_UNSHIFT;
            break;
        default:
            return AUGUR_EINVAL;
    }
    if (kind != OP_UNSHIFT &&
        (req->port < 1 || req->port > 65535 || req->dwell_ms == 0)) {
        return AUGUR_EINVAL;
    }
    if (kind == OP_SHIFT && (req->pct < 1 || req->pct > 100)) {
        return AUGUR_EINVAL;
    }
    op = op_new(t, kind, req);
    if (op == NULL) {
        return AUGUR_ENOMEM;
    }
    op->cb = cb;
    op->data = data;
    if (kind == OP_MIRROR &&
        op->req.kpi.latency_slack_ms < NODE_TRAFFIC_MIRROR_SLACK_MS) {
        op->req.kpi.latency_slack_ms = NODE_TRAFFIC_MIRROR_SLACK_MS;
    }
    node_kpi_weights(kind == OP_SHIFT ? req->pct : 0, &old_w, &new_w);
    op->old_w = (int)old_w;
    op->new_w = (int)new_w;
    go(op, kind == OP_UNSHIFT ? ST_RESTORE_OLD : ST_ADD);
    return 0;
}

static void membership(struct node_traffic *t,
                       enum op_kind kind,
                       const char *workload,
                       const char *host,
                       const char *addr,
                       int port,
                       int weight)
{
    struct node_traffic_req req;
    struct op *op;

    memset(&req, 0, sizeof req);
    copy(req.workload, workload, sizeof req.workload);
    copy(req.to, host, sizeof req.to);
    copy(req.addr, addr != NULL ? addr : "", sizeof req.addr);
    req.port = port;
    op = op_new(t, kind, &req);
    if (op == NULL) {
        if (t != NULL && !t->closing) {
            LOG(LOG_LEVEL_WARN, "traffic: %s %s on %s: out of memory",
                kind_name(kind), workload, host);
        }
        return;
    }
    op->new_w = weight;
    go(op, kind == OP_PUT      ? ST_ADD
           : kind == OP_WEIGHT ? ST_WEIGHT_NEW
                               : ST_MAINT);
}

void node_traffic_server_put(struct node_traffic *t,
                             const char *workload,
                             const char *host,
                             const char *addr,
                             int port,
                             int weight)
{
    membership(t, OP_PUT, workload, host, addr, port, weight);
}

void node_traffic_server_weight(struct node_traffic *t,
                                const char *workload,
                                const char *host,
                                int weight)
{
    membership(t, OP_WEIGHT, workload, host, NULL, 0, weight);
}

void node_traffic_server_delete(struct node_traffic *t,
                                const char *workload,
                                const char *host)
{
    membership(t, OP_DELETE, workload, host, NULL, 0, 0);
}

static void cancel_where(struct node_traffic *t, bool all, const void *data)
{
    struct op *op;
    struct op *next;

    if (t == NULL) {
        return;
    }
    for (op = t->ops; op != NULL; op = next) {
        next = op->next;
        if (op->cb == NULL || op->cancelled || (!all && op->data != data)) {
            continue;
        }
        op->cancelled = true;
        op->cb(op->data, PLAN_OUTCOME_RETRY, "cancelled");
        if (!op->in_call && !op->t->in_close) {
            /* Waiting on its timer: nothing else will free it. */
            op_free(op);
        }
    }
}

void node_traffic_cancel_all(struct node_traffic *t)
{
    struct op *op;
    struct op *next;

    cancel_where(t, true, NULL);
    /* Deletes waiting out their grace are this leader's intent: a leader
     * that lost its office must not act on them later (the server stays
     * in maintenance; the next leader decides). */
    for (op = t != NULL ? t->ops : NULL; op != NULL; op = next) {
        next = op->next;
        if (op->kind == OP_DELETE && op->stage == ST_GRACE && !op->in_call) {
            op_free(op);
        }
    }
}

void node_traffic_cancel_data(struct node_traffic *t, const void *data)
{
    cancel_where(t, false, data);
}

int node_traffic_query(struct node_traffic *t,
                       const char *workload,
                       node_traffic_query_cb cb,
                       void *data)
{
    struct node_traffic_req req;
    struct op *op;

    memset(&req, 0, sizeof req);
    copy(req.workload, workload, sizeof req.workload);
    op = op_new(t, OP_QUERY, &req);
    if (op == NULL) {
        return AUGUR_ENOMEM;
    }
    op->qcb = cb;
    op->data = data;
    go(op, ST_QUERY);
    return 0;
}

void node_traffic_set_delete_grace(struct node_traffic *t, uint64_t ms)
{
    t->delete_grace_ms = ms;
}

unsigned node_traffic_busy(const struct node_traffic *t)
{
    return t != NULL ? t->n_ops : 0;
}

void node_traffic_close(struct node_traffic *t)
{
    struct op *op;
    struct op *next;

    if (t == NULL) {
        return;
    }
    t->in_close = true;
    node_traffic_cancel_all(t);
    t->closing = true;
    /* Operations with a call out are freed by its callback (haproxy_close
     * answers every call); the others here. */
    for (op = t->ops; op != NULL; op = next) {
        next = op->next;
        if (!op->in_call) {
            op_free(op);
        }
    }
    haproxy_close(t->hap);
    t->hap = NULL;
    t->in_close = false;
    if (t->n_ops == 0) {
        free(t);
    }
}

/* ---- parsing ------------------------------------------------------------ */

int node_traffic_shift_pct(const char *step, unsigned *pct)
{
    unsigned long v;
    char *end;

    if (strncmp(step, "shift_", 6) != 0 || step[6] < '1' || step[6] > '9') {
        return AUGUR_EINVAL;
    }
    v = strtoul(step + 6, &end, 10);
    if (*end != '\0' || v < 1 || v > 100) {
        return AUGUR_EINVAL;
    }
    *pct = (unsigned)v;
    return 0;
}

static uint64_t json_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        return (uint64_t)json_integer_value(v);
    }
    if (json_is_real(v) && json_real_value(v) >= 0) {
        return (uint64_t)(json_real_value(v) + 0.5);
    }
    return 0;
}

int node_traffic_mirror_parse(const char *json,
                              size_t len,
                              struct node_kpi_mirror *m)
{
    json_error_t err;
    json_t *o;

    memset(m, 0, sizeof *m);
    if (json == NULL) {
        return AUGUR_EMALFORMED;
    }
    o = json_loadb(json, len, JSON_DISABLE_EOF_CHECK, &err);
    if (!json_is_object(o) || json_object_get(o, "compared") == NULL) {
        json_decref(o);
        return AUGUR_EMALFORMED;
    }
    m->compared = json_u64(o, "compared");
    m->status_mismatch = json_u64(o, "status_mismatch");
    m->new_errors = json_u64(o, "new_errors");
    m->old_p50_ms = json_u64(o, "old_p50_ms");
    m->old_p99_ms = json_u64(o, "old_p99_ms");
    m->new_p50_ms = json_u64(o, "new_p50_ms");
    m->new_p99_ms = json_u64(o, "new_p99_ms");
    json_decref(o);
    return 0;
}
