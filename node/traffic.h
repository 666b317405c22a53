/* The leader's load-balancer driver (docs/ORCHESTRATOR.md, "Traffic
 * driving"): runs a workflow's traffic steps (mirror, shift_<pct>,
 * unshift) against HAProxy through node/haproxy.h, judging each with
 * node/kpi.h, and keeps HAProxy's servers in step with the claims (a new
 * instance added when it is activated, the old one removed on release).
 *
 * HAProxy's names: backend PREFIX+workload, server = host id, address
 * 127.0.0.1 unless the step says otherwise.  Everything here is this
 * leader's: a new leader runs the current step again from its start.
 *
 * HAProxy's health check of a mirror's or a shift's target is off while
 * the steps run (the instance is not activated yet: a warm one answers
 * /healthz 503, and the check would take it out of the backend whatever
 * its weight); node_traffic_server_put, the activation's, turns it on. */
#ifndef AUGUR_NODE_TRAFFIC_H
#define AUGUR_NODE_TRAFFIC_H

#include <stdint.h>

#include <uv.h>

#include "node/haproxy.h"
#include "node/kpi.h"
#include "node/plan.h"

#define NODE_TRAFFIC_PREFIX_SIZE 32
#define NODE_TRAFFIC_ADDR_SIZE 64
/* A step whose KPIs are still "wait" (too few requests) after its dwell
 * is measured again this many more times; then it passes, marked "not
 * validated" in its detail (an idle workload must still be movable off a
 * failing host). */
#define NODE_TRAFFIC_EXTENSIONS 2
/* The mirror's latency slack at least: a copy goes through HAProxy's Lua
 * (a task woken every 5 ms, one Lua lock for all threads), so its p99 is
 * not the live path's; only a target much slower than that fails.  (A
 * busy 2-core machine failed a healthy target at 26 ms against 2 x 4 + 5
 * ms.) */
#define NODE_TRAFFIC_MIRROR_SLACK_MS 50
/* A shift step reads its counters this often during its dwell, and fails
 * as soon as they breach the policy; it passes only at the dwell's end. */
#define NODE_TRAFFIC_POLL_MS 250
/* A deleted server is put in maintenance at once and removed this much
 * later.  HAProxy 2.6.12 crashes (sess_change_server) when `del server`
 * frees a server that a stream still holds while it waits to retry a
 * refused connection, which is exactly what a killed host's instance and
 * the release after its failover make; the grace outlasts every retry
 * (timeout connect x retries, plus HAProxy's 1 s turn-around). */
#define NODE_TRAFFIC_DELETE_GRACE_MS 10000
/* HAProxy's full weight: the serving instance's. */
#define NODE_TRAFFIC_FULL_WEIGHT 256

struct node_traffic; /* opaque */

/* One traffic step. */
struct node_traffic_req
{
    int action; /* PLAN_ACTION_MIRROR, _SHIFT or _UNSHIFT */
    char workload[PLAN_ID_SIZE];
    char from[PLAN_ID_SIZE];           /* the old instance's host: its server */
    char to[PLAN_ID_SIZE];             /* the new instance's host: its server */
    char addr[NODE_TRAFFIC_ADDR_SIZE]; /* the new instance's address */
    int port;                          /* and port (mirror, shift) */
    unsigned pct;      /* shift: percent of the traffic on the new one */
    uint64_t dwell_ms; /* shift: the policy's dwell; mirror: mirror_ms */
    struct node_kpi_thresholds kpi;
};

/* A step's end: @outcome is PLAN_OUTCOME_OK (passed), _REFUSED (a KPI
 * failed: @detail is the verdict, the weights are back on the old
 * instance already) or _RETRY (HAProxy could not be driven, or the step
 * was cancelled).  @detail is one line. */
typedef void (*node_traffic_cb)(void *data, int outcome, const char *detail);

/* A driver for the HAProxy admin socket @socket_path, backends named
 * @prefix + workload.  Returns 0, or AUGUR_EINVAL / AUGUR_ENOMEM with one
 * line in @errmsg (256 bytes). */
int node_traffic_new(uv_loop_t *loop,
                     const char *socket_path,
                     const char *prefix,
                     struct node_traffic **out,
                     char *errmsg) __attribute__((warn_unused_result));

/* Cancel every step (their callbacks run from inside, _RETRY
 * "cancelled") and free the driver once its handles are closed.  NULL is
 * accepted. */
void node_traffic_close(struct node_traffic *t);

/* Run @req; @cb is called exactly once, on the loop: later, or from
 * inside this function when HAProxy's queue refuses the first call, or
 * from node_traffic_cancel_all.  0, AUGUR_EINVAL (a bad request) or
 * AUGUR_ENOMEM; on error @cb is never called. */
int node_traffic_step(struct node_traffic *t,
                      const struct node_traffic_req *req,
                      node_traffic_cb cb,
                      void *data) __attribute__((warn_unused_result));

/* Cancel every running step: each callback runs from inside this
 * function with _RETRY "cancelled".  Membership changes below go on. */
void node_traffic_cancel_all(struct node_traffic *t);

/* Cancel the running steps whose callback data is @data, the same way
 * (a workflow that moved past the step: its measuring is moot, and its
 * back-out must not land after what the workflow does next).  NULL @t is
 * accepted. */
void node_traffic_cancel_data(struct node_traffic *t, const void *data);

/* Membership, fire and forget (errors are logged): make @host's instance
 * of @workload a server at @addr:@port with @weight, added when missing,
 * else given that address and weight, and ready, its health check on. */
void node_traffic_server_put(struct node_traffic *t,
                             const char *workload,
                             const char *host,
                             const char *addr,
                             int port,
                             int weight);
/* Set the weight of an existing server (a missing one is fine). */
void node_traffic_server_weight(struct node_traffic *t,
                                const char *workload,
                                const char *host,
                                int weight);
/* Remove @host's server from @workload's backend (a missing one is
 * fine): maintenance now, `del server` NODE_TRAFFIC_DELETE_GRACE_MS later
 * unless a put or a step of the same server comes first. */
void node_traffic_server_delete(struct node_traffic *t,
                                const char *workload,
                                const char *host);

/* Set the delete grace (default NODE_TRAFFIC_DELETE_GRACE_MS; tests
 * shorten it). */
void node_traffic_set_delete_grace(struct node_traffic *t, uint64_t ms);

/* A backend's servers as HAProxy has them: @status 0 and @servers, or
 * AUGUR_ENOTFOUND (no such backend) or another error (HAProxy could not
 * be asked, or the driver closed: AUGUR_ESHUTDOWN). */
typedef void (*node_traffic_query_cb)(void *data,
                                      int status,
                                      const struct haproxy_server_stat *servers,
                                      size_t n);
/* Ask for @workload's backend's servers; @cb is called exactly once, on
 * the loop (also when the driver closes).  0, or AUGUR_ENOMEM /
 * AUGUR_EINVAL (then @cb is never called). */
int node_traffic_query(struct node_traffic *t,
                       const char *workload,
                       node_traffic_query_cb cb,
                       void *data) __attribute__((warn_unused_result));

/* Steps and membership changes running or queued (status). */
unsigned node_traffic_busy(const struct node_traffic *t);

/* Parse "shift_<pct>" into @pct (1..100): 0, or AUGUR_EINVAL. */
int node_traffic_shift_pct(const char *step, unsigned *pct);

/* Parse the mirror's `augur mirror show` JSON line into @m: 0, or
 * AUGUR_EMALFORMED. */
int node_traffic_mirror_parse(const char *json,
                              size_t len,
                              struct node_kpi_mirror *m);

#endif
