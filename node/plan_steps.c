/* The planner's driving of workflows: which workflow.advance event or
 * actuator call each workflow in flight needs next (docs/ORCHESTRATOR.md,
 * "The planner", 2). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node/plan_int.h"

/* ---- driving workflows ------------------------------------------------ */

static struct plan_decision *advance(struct plan__ctx *c,
                                     const struct plan_workflow *wf,
                                     int event,
                                     const char *detail)
{
    const struct plan_step *s = &wf->steps[wf->step];
    struct plan_decision *d = plan__emit(c, PLAN_WORKFLOW_ADVANCE);

    d->workflow = wf->id;
    d->step = wf->step;
    d->attempt = s->attempt;
    d->event = event;
    if (event == PLAN_EVENT_RETRY) {
        d->next_attempt = s->attempt + 1;
    } else {
        d->next_attempt = s->attempt;
    }
    plan__copy(d->workload, wf->workload, sizeof d->workload);
    plan__copy(d->from, wf->from, sizeof d->from);
    plan__copy(d->to, wf->to, sizeof d->to);
    plan__copy(d->step_name, s->name, sizeof d->step_name);
    if (detail != NULL) {
        plan__copy(d->detail, detail, sizeof d->detail);
    }
    return d;
}

static void drive_wait(struct plan__ctx *c, const struct plan_workflow *wf)
{
    const struct plan_input *in = c->in;
    const struct plan_step *s = &wf->steps[wf->step];

    if (strcmp(s->name, "keep_warm") == 0) {
        int64_t end = s->started_at + (int64_t)(in->policy.keep_warm_s * 1000);
        if (in->now_ms >= end) {
            advance(c, wf, PLAN_EVENT_OK, NULL);
        } else {
            plan__due(c, end);
        }
        return;
    }
    if (strcmp(s->name, "notify") == 0) {
        int64_t end = s->started_at + (int64_t)in->policy.shutdown_deadline_ms;
        int h = plan__host_find(c, wf->from);

        if (h < 0 || plan__host_down(&in->hosts[h])) {
            advance(c, wf, PLAN_EVENT_OK, "host down");
        } else if (wf->notice_acked) {
            advance(c, wf, PLAN_EVENT_OK, "acknowledged");
        } else if (in->now_ms >= end) {
            advance(c, wf, PLAN_EVENT_OK, "deadline passed");
        } else {
            if (!wf->notice_set) {
                struct plan_decision *d = plan__emit(c, PLAN_NOTICE);
                d->workflow = wf->id;
                plan__copy(d->host, wf->from, sizeof d->host);
                plan__copy(d->workload, wf->workload, sizeof d->workload);
                d->deadline_ms = end;
            }
            plan__due(c, end);
        }
    }
}

static void drive(struct plan__ctx *c, const struct plan_workflow *wf)
{
    const struct plan_input *in = c->in;
    const struct plan_step *s;
    const struct plan_call *call = &wf->call;
    bool on_to;
    bool is_release;
    int action;

    if (!plan__wf_in_flight(wf) || wf->step >= wf->n_steps ||
        wf->step >= PLAN_STEPS_MAX) {
        return;
    }
    if (wf->state == PLAN_WF_PENDING && !wf->approved) {
        return;
    }
    s = &wf->steps[wf->step];
    if (s->state == PLAN_STEP_PENDING) {
        advance(c, wf, PLAN_EVENT_START, NULL);
        return;
    }
    if (s->state != PLAN_STEP_RUNNING) {
        return;
    }
    action = plan_step_action(s->name, &on_to);
    if (action == PLAN_ACTION_NONE) {
        drive_wait(c, wf);
        return;
    }
    is_release = strcmp(s->name, "release") == 0;
    switch (call->status) {
        case PLAN_CALL_NONE:
            /* Started by an earlier leader, or the call was lost: its outcome
             * is unknown, so the step is tried again under a new attempt (the
             * store fails it once the attempts are spent). */
            advance(c, wf, PLAN_EVENT_RETRY, NULL);
            return;
        case PLAN_CALL_OWNED: {
            struct plan_decision *d = plan__emit(c, PLAN_CALL);
            d->workflow = wf->id;
            d->step = wf->step;
            d->attempt = s->attempt;
            d->action = action;
            d->strategy = wf->strategy;
            d->epoch = wf->cur_epoch;
            plan__copy(d->workload, wf->workload, sizeof d->workload);
            plan__copy(d->host, on_to ? wf->to : wf->from, sizeof d->host);
            plan__copy(d->from, wf->from, sizeof d->from);
            plan__copy(d->to, wf->to, sizeof d->to);
            plan__copy(d->step_name, s->name, sizeof d->step_name);
            return;
        }
        case PLAN_CALL_INFLIGHT:
            return;
        default:
            break;
    }
    if (call->outcome == PLAN_OUTCOME_OK) {
        advance(c, wf, PLAN_EVENT_OK, call->detail);
    } else if (call->outcome == PLAN_OUTCOME_RETRY &&
               s->attempt < in->policy.max_attempts) {
        int64_t at = call->done_at + (int64_t)(PLAN_RETRY_BACKOFF_MS *
                                               (s->attempt ? s->attempt : 1));
        if (in->now_ms >= at) {
            advance(c, wf, PLAN_EVENT_RETRY, call->detail);
        } else {
            plan__due(c, at);
        }
    } else {
        /* Refused, or out of attempts.  A release that cannot reach the
         * old host is skipped: that host is gone. */
        advance(c, wf, is_release ? PLAN_EVENT_SKIP : PLAN_EVENT_FAIL,
                call->detail[0] != '\0'                 ? call->detail
                : call->outcome == PLAN_OUTCOME_REFUSED ? "refused"
                                                        : "out of attempts");
    }
}

static int wf_id_cmp(const void *a, const void *b)
{
    const struct plan_workflow *const *x = a;
    const struct plan_workflow *const *y = b;
    if ((*x)->id != (*y)->id) {
        return (*x)->id < (*y)->id ? -1 : 1;
    }
    return 0;
}

void plan__drive_all(struct plan__ctx *c)
{
    const struct plan_input *in = c->in;
    const struct plan_workflow **order;
    size_t n = 0;

    order = calloc(in->n_workflows + 1, sizeof *order);
    if (order == NULL) {
        c->err = AUGUR_ENOMEM;
        return;
    }
    for (size_t i = 0; i < in->n_workflows; i++) {
        if (plan__wf_in_flight(&in->workflows[i])) {
            order[n++] = &in->workflows[i];
        }
    }
    qsort(order, n, sizeof *order, wf_id_cmp);
    for (size_t i = 0; i < n; i++) {
        drive(c, order[i]);
    }
    free(order);
}
