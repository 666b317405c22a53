/* Traffic-shift arithmetic: step weights and the KPI decisions.  The
 * step list itself is parsed and checked by the store
 * (store_shift_steps_parse), where the policy keeps it. */
#include "node/kpi.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

void node_kpi_weights(unsigned pct, unsigned *old_w, unsigned *new_w)
{
    unsigned nw;

    if (pct > 100) {
        pct = 100;
    }
    /* round(256 * pct / 100) in integers: half rounds up. */
    nw = (NODE_KPI_WEIGHT_MAX * pct + 50) / 100;
    *new_w = nw;
    *old_w = NODE_KPI_WEIGHT_MAX - nw;
}

void node_kpi_thresholds_default(struct node_kpi_thresholds *t)
{
    t->max_error_rate = 0.01;
    t->max_error_rate_over_old = 0.005;
    t->max_latency_ratio = 2.0;
    t->latency_slack_ms = 5;
    t->min_requests = 20;
}

const char *node_kpi_outcome_name(enum node_kpi_outcome o)
{
    switch (o) {
        case NODE_KPI_PASS:
            return "pass";
        case NODE_KPI_FAIL:
            return "fail";
        case NODE_KPI_WAIT:
            return "wait";
    }
    return "unknown";
}

static uint64_t errors_of(const struct node_kpi_counters *c)
{
    return c->hrsp_5xx + c->eresp + c->econ;
}

/* The side between two snapshots; false when a counter went backwards. */
static bool side_of(const struct node_kpi_counters *a,
                    const struct node_kpi_counters *b,
                    struct node_kpi_side *s)
{
    memset(s, 0, sizeof *s);
    if (b->stot < a->stot || b->hrsp_5xx < a->hrsp_5xx || b->eresp < a->eresp ||
        b->econ < a->econ) {
        return false;
    }
    s->requests = b->stot - a->stot;
    s->errors = errors_of(b) - errors_of(a);
    /* A connection error may not count as a session: never above 1. */
    if (s->errors > s->requests) {
        s->errors = s->requests;
    }
    s->error_rate =
        s->requests > 0 ? (double)s->errors / (double)s->requests : 0.0;
    s->latency_ms = b->rtime_ms;
    return true;
}

/* The common rules once the sides are known. */
static void judge(const struct node_kpi_thresholds *t,
                  struct node_kpi_decision *out,
                  uint64_t n,
                  const char *what)
{
    const struct node_kpi_side *o = &out->old_side;
    const struct node_kpi_side *w = &out->new_side;
    double limit;

    if (n < t->min_requests) {
        out->outcome = NODE_KPI_WAIT;
        snprintf(out->reason, sizeof out->reason,
                 "not enough requests: %llu < %llu on the new side%s",
                 (unsigned long long)n, (unsigned long long)t->min_requests,
                 what);
        return;
    }
    if (w->error_rate > t->max_error_rate &&
        w->error_rate > o->error_rate + t->max_error_rate_over_old) {
        out->outcome = NODE_KPI_FAIL;
        snprintf(out->reason, sizeof out->reason,
                 "error_rate %.3f > %.3f (old %.3f, %llu requests)%s",
                 w->error_rate, t->max_error_rate, o->error_rate,
                 (unsigned long long)n, what);
        return;
    }
    limit = t->max_latency_ratio * (double)o->latency_ms +
            (double)t->latency_slack_ms;
    if (o->latency_ms > 0 && (double)w->latency_ms > limit) {
        out->outcome = NODE_KPI_FAIL;
        snprintf(out->reason, sizeof out->reason,
                 "latency %llums > %.1f*%llu+%llums (%llu requests)%s",
                 (unsigned long long)w->latency_ms, t->max_latency_ratio,
                 (unsigned long long)o->latency_ms,
                 (unsigned long long)t->latency_slack_ms, (unsigned long long)n,
                 what);
        return;
    }
    out->outcome = NODE_KPI_PASS;
    snprintf(out->reason, sizeof out->reason,
             "pass: error_rate %.3f (old %.3f), latency %llums (old %llums), "
             "%llu requests%s",
             w->error_rate, o->error_rate, (unsigned long long)w->latency_ms,
             (unsigned long long)o->latency_ms, (unsigned long long)n, what);
}

void node_kpi_decide(const struct node_kpi_counters *old_start,
                     const struct node_kpi_counters *old_end,
                     const struct node_kpi_counters *new_start,
                     const struct node_kpi_counters *new_end,
                     const struct node_kpi_thresholds *t,
                     struct node_kpi_decision *out)
{
    memset(out, 0, sizeof *out);
    if (!side_of(old_start, old_end, &out->old_side) ||
        !side_of(new_start, new_end, &out->new_side)) {
        out->outcome = NODE_KPI_WAIT;
        snprintf(out->reason, sizeof out->reason,
                 "counters went backwards (server re-added or restarted)");
        return;
    }
    judge(t, out, out->new_side.requests, "");
}

void node_kpi_mirror_decide(const struct node_kpi_mirror *m,
                            const struct node_kpi_thresholds *t,
                            struct node_kpi_decision *out)
{
    double mismatch;

    memset(out, 0, sizeof *out);
    out->old_side.requests = m->compared;
    out->old_side.latency_ms = m->old_p99_ms;
    out->new_side.requests = m->compared;
    out->new_side.errors =
        m->new_errors < m->compared ? m->new_errors : m->compared;
    out->new_side.latency_ms = m->new_p99_ms;
    if (m->compared > 0) {
        out->new_side.error_rate =
            (double)out->new_side.errors / (double)m->compared;
    }
    mismatch = m->compared > 0 ? (double)(m->status_mismatch < m->compared
                                              ? m->status_mismatch
                                              : m->compared) /
                                     (double)m->compared
                               : 0.0;
    if (m->compared >= t->min_requests && mismatch > t->max_error_rate &&
        out->new_side.error_rate <= t->max_error_rate) {
        out->outcome = NODE_KPI_FAIL;
        snprintf(out->reason, sizeof out->reason,
                 "status_mismatch %.3f > %.3f (%llu compared, mirror)",
                 mismatch, t->max_error_rate, (unsigned long long)m->compared);
        return;
    }
    judge(t, out, m->compared, ", mirror");
}
