/* Actuators: how the leader acts outside the cluster (docs/ORCHESTRATOR.md,
 * "Actuator protocol").  One JSON object per action, to a program on its
 * stdin (exec) or as an HTTP POST (webhook), asynchronous on the loop and
 * bounded. */
#ifndef AUGUR_NODE_ACTUATOR_H
#define AUGUR_NODE_ACTUATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "store/store.h"

#define ACTUATOR_ERRMSG_SIZE 256
/* The most bytes of a program's stdout (or a webhook's body) kept; the
 * answer is its last JSON line, so more is drained and dropped. */
#define ACTUATOR_OUTPUT_MAX (64u << 10)

struct actuator; /* opaque */

/* One action.  (workflow, step, attempt) is its idempotency key: the same
 * key may be sent again after a leader change and must not act twice. */
struct actuator_request
{
    char action[16]; /* prepare, activate, stop, provision, deprovision,
                        probe, remediate */
    char workload[STORE_ID_SIZE];
    char host[STORE_ID_SIZE]; /* where it acts */
    char from[STORE_ID_SIZE];
    char to[STORE_ID_SIZE];
    uint64_t epoch; /* the claim's fencing epoch */
    uint64_t workflow;
    char step[16];
    uint64_t attempt;
    char strategy[16];
};

enum actuator_outcome
{
    ACTUATOR_OK = 0,
    /* Transient: a non-zero exit, a timeout, HTTP 5xx or other, connection
     * refused, cancelled.  Retrying may help. */
    ACTUATOR_RETRY = 1,
    /* Exit 3 or HTTP 409: the executor refused (a stale epoch); retrying
     * cannot help. */
    ACTUATOR_REFUSED = 2,
};

struct actuator_result
{
    int outcome;     /* enum actuator_outcome */
    int exit_status; /* exec: the exit status (-1: killed); webhook: the
                        HTTP status (0: none) */
    char state[16];  /* from the answer's JSON line, "" when none */
    int64_t lag_ms;  /* -1: none */
    char drift[64];
    int port;            /* 0: none */
    char message[128];   /* why it failed, or the answer's "error"/"message" */
    uint64_t elapsed_ms; /* from actuator_call to the answer */
};

struct actuator_stats
{
    const char *kind;  /* "none", "exec", "webhook"; static storage */
    uint64_t calls;    /* answered so far */
    uint64_t failures; /* of them, not ACTUATOR_OK */
    unsigned inflight; /* running and queued */
};

/* Called once per accepted call, on the loop.  @res is valid during the
 * call only. */
typedef void (*actuator_cb)(void *data, const struct actuator_result *res);

/* Create an actuator on @loop from @spec: "exec:PROGRAM [ARGS...]" (split
 * on spaces), "webhook:http(s)://HOST:PORT/PATH", or "" / NULL for none.
 * At most @max_inflight (>= 1) calls run at once; as many more may wait.
 * Returns 0 and *@out (free it with actuator_close), or AUGUR_EINVAL (a
 * bad spec) / AUGUR_ENOMEM / AUGUR_EIO with one line in @errmsg
 * (ACTUATOR_ERRMSG_SIZE bytes). */
int actuator_new(uv_loop_t *loop,
                 const char *spec,
                 unsigned max_inflight,
                 struct actuator **out,
                 char *errmsg) __attribute__((warn_unused_result));

/* Whether @a acts at all (a spec other than ""). */
bool actuator_configured(const struct actuator *a);

/* Send @req (copied); @cb is called exactly once with the answer, on the
 * loop, never from inside this function.  A call taking longer than
 * @timeout_ms (0: 10 s) is killed (SIGKILL to the program's process group)
 * or aborted and ends ACTUATOR_RETRY "timeout after N ms".  Returns 0;
 * AUGUR_EBUSY when max_inflight calls run and as many wait;
 * AUGUR_EUNAVAILABLE when none is configured; AUGUR_ESHUTDOWN once closing.
 * On error @cb is never called. */
int actuator_call(struct actuator *a,
                  const struct actuator_request *req,
                  uint64_t timeout_ms,
                  actuator_cb cb,
                  void *data) __attribute__((warn_unused_result));

/* End every waiting and running call with ACTUATOR_RETRY "cancelled": the
 * callbacks run from inside this function; running programs are killed
 * and reaped later in the background.  New calls may be made afterwards
 * (also from the callbacks). */
void actuator_cancel_all(struct actuator *a);

/* Cancel everything (as actuator_cancel_all), then free @a once its libuv
 * handles and its children's are closed; the loop runs until then.  NULL
 * is accepted. */
void actuator_close(struct actuator *a);

void actuator_stats_get(const struct actuator *a, struct actuator_stats *out);

/* The request as the protocol's JSON object (without newline); the caller
 * frees it with free().  NULL when out of memory. */
char *actuator_request_json(const struct actuator_request *req);

/* Parse an answer: the last line of @buf (@len bytes) that is a JSON
 * object fills @res's state, lag_ms, drift, port and message ("error" or
 * "message").  Nothing is changed when there is none. */
void actuator_answer_parse(const char *buf,
                           size_t len,
                           struct actuator_result *res);

#endif
