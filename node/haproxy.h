/* The HAProxy driver: an asynchronous client of HAProxy 2.6's runtime API
 * on its stats socket (docs/ORCHESTRATOR.md, "HAProxy"), on a libuv loop.
 * One command per connection (HAProxy's non-interactive mode), calls run
 * one after another in the order they were made, each with a timeout. */
#ifndef AUGUR_NODE_HAPROXY_H
#define AUGUR_NODE_HAPROXY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define HAPROXY_ERRMSG_SIZE 256
/* The longest answer kept; a longer one ends the call AUGUR_ETOOBIG. */
#define HAPROXY_ANSWER_MAX (1u << 20)
/* Names of backends and servers (HAProxy's own limit is larger; ours is
 * what the project writes). */
#define HAPROXY_NAME_SIZE 64
/* The most server records one show stat answer yields. */
#define HAPROXY_STAT_MAX 256

struct haproxy; /* opaque */

enum haproxy_state
{
    HAPROXY_READY = 0,
    HAPROXY_DRAIN = 1,
    HAPROXY_MAINT = 2,
};

/* One server's line of `show stat`.  Counters HAProxy leaves empty are 0. */
struct haproxy_server_stat
{
    char name[HAPROXY_NAME_SIZE]; /* svname */
    char status[32];              /* UP, DOWN, MAINT, DRAIN, no check... */
    uint64_t weight;
    uint64_t scur, stot;
    uint64_t hrsp_2xx, hrsp_3xx, hrsp_4xx, hrsp_5xx;
    uint64_t eresp, econ;
    uint64_t rtime, ttime, qtime; /* ms, averages over the last 1024 */
};

/* The outcome of one call. */
struct haproxy_result
{
    /* 0, or: AUGUR_ECONNECT (the socket refused or is missing),
     * AUGUR_ETIMEOUT, AUGUR_ENOTFOUND (HAProxy: no such backend or server),
     * AUGUR_EINVAL (HAProxy refused the command otherwise),
     * AUGUR_ETOOBIG, AUGUR_EMALFORMED (an unreadable show stat),
     * AUGUR_ESHUTDOWN (cancelled by haproxy_close). */
    int status;
    /* Why it failed: HAProxy's answer text, or the socket error. */
    char message[HAPROXY_ERRMSG_SIZE];
    /* The last command's raw answer (haproxy_command); NULL otherwise. */
    const char *answer;
    size_t answer_len;
    /* haproxy_stat only: the backend's servers. */
    const struct haproxy_server_stat *servers;
    size_t n_servers;
};

/* Called exactly once per accepted call, on the loop, never from inside
 * the function that made the call (except haproxy_close's cancellations).
 * @res and everything it points to are valid during the call only. */
typedef void (*haproxy_cb)(void *data, const struct haproxy_result *res);

/* Create a driver on @loop for the stats socket at @socket_path (copied).
 * At most @queue_max (>= 1) calls wait behind the running one; each
 * command of a call may take @timeout_ms (0: 2000 ms).  Nothing is
 * connected yet.  Returns 0 and *@out (free it with haproxy_close), or
 * AUGUR_EINVAL / AUGUR_ENOMEM with one line in @errmsg
 * (HAPROXY_ERRMSG_SIZE bytes). */
int haproxy_new(uv_loop_t *loop,
                const char *socket_path,
                unsigned queue_max,
                uint64_t timeout_ms,
                struct haproxy **out,
                char *errmsg) __attribute__((warn_unused_result));

/* Run the raw runtime-API command @cmd (one line, no newline); the
 * callback gets its answer in res->answer.  An answer other than empty or
 * one of HAProxy's success lines is an error.  Returns 0, AUGUR_EINVAL (a
 * newline in @cmd, or too long), AUGUR_EBUSY (the queue is full),
 * AUGUR_ESHUTDOWN (closing) or AUGUR_ENOMEM; on error @cb is never called. */
int haproxy_command(struct haproxy *h,
                    const char *cmd,
                    haproxy_cb cb,
                    void *data) __attribute__((warn_unused_result));

/* Add server @backend/@server at @addr:@port with @weight (0-256) and make
 * it ready: `add server`, (with @check: `enable health`), then `set server
 * state ready`.  The backend needs a dynamic balance algorithm.  @check
 * turns on HAProxy's own health check (the backend's option httpchk,
 * every 200 ms, fall 2 rise 1) as a data-plane backstop.  Stops at the
 * first refused command.  Errors as haproxy_command, plus AUGUR_EINVAL for
 * a bad name, address or weight. */
int haproxy_server_add(struct haproxy *h,
                       const char *backend,
                       const char *server,
                       const char *addr,
                       int port,
                       int weight,
                       int check,
                       haproxy_cb cb,
                       void *data) __attribute__((warn_unused_result));

/* `set server B/S weight W`, 0 <= @weight <= 256. */
int haproxy_server_weight(struct haproxy *h,
                          const char *backend,
                          const char *server,
                          int weight,
                          haproxy_cb cb,
                          void *data) __attribute__((warn_unused_result));

/* `set server B/S state ready|drain|maint`. */
int haproxy_server_state(struct haproxy *h,
                         const char *backend,
                         const char *server,
                         enum haproxy_state state,
                         haproxy_cb cb,
                         void *data) __attribute__((warn_unused_result));

/* Remove a server: maint, `shutdown sessions server`, `del server`. */
int haproxy_server_delete(struct haproxy *h,
                          const char *backend,
                          const char *server,
                          haproxy_cb cb,
                          void *data) __attribute__((warn_unused_result));

/* `show stat` of @backend's servers, parsed into res->servers. */
int haproxy_stat(struct haproxy *h,
                 const char *backend,
                 haproxy_cb cb,
                 void *data) __attribute__((warn_unused_result));

/* Cancel every call (callbacks with AUGUR_ESHUTDOWN, from inside this
 * function for waiting calls), then free @h once its handles are closed;
 * the loop runs until then.  NULL is accepted. */
void haproxy_close(struct haproxy *h);

/* Parse a `show stat` CSV answer (@csv, @len bytes): the header line
 * ("# pxname,svname,...") names the columns.  Fills @out with up to @max
 * servers of @backend (not its FRONTEND/BACKEND lines) and sets *@n.
 * Returns 0, or AUGUR_EMALFORMED (no header, a missing column) /
 * AUGUR_ETOOBIG (more than @max servers) with one line in @errmsg
 * (HAPROXY_ERRMSG_SIZE bytes). */
int haproxy_stat_parse(const char *csv,
                       size_t len,
                       const char *backend,
                       struct haproxy_server_stat *out,
                       size_t max,
                       size_t *n,
                       char *errmsg) __attribute__((warn_unused_result));

#endif
