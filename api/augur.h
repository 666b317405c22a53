/* libaugur's in-tree interface: everything of the installed header
 * (include/augur.h) and, for the CLI, the tests and the benchmarks, the
 * msgpack calls beneath it: options, pipelining, typed claim helpers and
 * readers of msgpack maps.  Not installed; its functions are not exported by
 * the shared library (docs/ARCHITECTURE.md, "libaugur").
 *
 * A client holds one TCP connection at a time to one node of the cluster and
 * pipelines requests over it.  It hides the cluster's topology from the
 * caller: a follower's redirect (ENOTLEADER with the leader's address) is
 * followed, a dropped connection or a node without a leader is retried on the
 * next endpoint with backoff, and every write carries this client's (client
 * id, sequence) so that a retry is applied at most once.
 *
 * Not thread-safe: one client per thread.  No callbacks run except inside
 * augur_run() and the synchronous calls. */
#ifndef AUGUR_API_AUGUR_H
#define AUGUR_API_AUGUR_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/error.h"
#include "include/augur.h"

#define AUGUR_ID_SIZE 128
#define AUGUR_ADDR_SIZE 64
#define AUGUR_ERRMSG_SIZE 256

struct augur_client;

struct augur_options
{
    /* How long one call may take, retries included (default 30000 ms).  A
     * write still unanswered then fails with AUGUR_EINDETERMINATE if it was
     * ever sent (it may have applied), AUGUR_ETIMEOUT otherwise.  When every
     * endpoint refuses the connection in turn (nothing listens there), the
     * calls that cannot have applied (reads, writes never sent) fail at
     * once with AUGUR_ECONNECT naming the endpoints; a single refusal only
     * moves on to the next endpoint. */
    int timeout_ms;
    /* How long to wait for one TCP connect + HELLO (default 1000 ms). */
    int connect_timeout_ms;
    /* The session id; 0 picks a random one (the usual choice). */
    uint64_t client_id;
    /* Largest frame accepted from a server (default PROTO_FRAME_MAX). */
    size_t max_frame;
    /* Authentication.  @key_file is this client's private key (augur
     * keygen; mode 0600) and @cluster_key_file the cluster's public key,
     * which the server must prove it holds.  NULL takes them from the
     * environment: AUGUR_KEY and AUGUR_CLUSTER_KEY.  With neither, the
     * client offers no authentication, which augurd refuses (AUGUR_EAUTH);
     * with one and not the other, augur_client_open refuses.  The files
     * are read once, by augur_client_open. */
    const char *key_file;
    const char *cluster_key_file;
};

/* Fill @o with the defaults above. */
void augur_options_init(struct augur_options *o);

/* Create a client for the comma-separated "host:port,host:port" list
 * @endpoints; NULL @opt means defaults.  Does not connect yet (the first call
 * does).  Returns 0, AUGUR_EINVAL (empty or unparsable endpoint list, a key
 * without the cluster key, with a message in @errmsg of AUGUR_ERRMSG_SIZE
 * bytes), AUGUR_EAUTH / AUGUR_EIO / AUGUR_EMALFORMED (a key file that is
 * readable by others, missing, or not a key) or AUGUR_ENOMEM.
 *
 * A call on a client with keys fails with AUGUR_EAUTH, without retrying,
 * when the server does not prove the cluster key or refuses this client's
 * key (unknown or removed); a role that does not allow an op answers
 * AUGUR_EPERM.  The caller
 * owns *@out and frees it with augur_client_close. */
int augur_client_open(const char *endpoints,
                      const struct augur_options *opt,
                      struct augur_client **out,
                      char *errmsg) AUGUR_WARN_UNUSED;

/* augur_client_close, augur_client_errmsg and augur_client_endpoint are
 * include/augur.h's.  augur_client_close drops the requests still in flight
 * without their callbacks; it is not to be called from a callback. */

/* An answer (see store/store.h for the answer map). */
struct augur_reply
{
    int status;                    /* 0 or an enum augur_err code */
    char error[AUGUR_ERRMSG_SIZE]; /* one line when status != 0 */
    uint64_t rev;                  /* store revision after a write; 0 */
    const msgpack_object *result;  /* NULL when the answer has none */
    msgpack_unpacked unpacked;     /* private: owns what result points to */
};

/* Release what @r holds; safe on a zeroed or already freed reply. */
void augur_reply_free(struct augur_reply *r);

/* Request flags: AUGUR_STALE (include/augur.h). */

/* Call @op (a wire name of docs/ARCHITECTURE.md: claim.get, status...) with
 * @args, a packed msgpack map (NULL, 0 for none), and wait for its answer.
 *
 * Always fills @reply, which the caller frees with augur_reply_free, and
 * returns reply->status: 0, the store's refusal (ENOTFOUND, ECONFLICT, ...),
 * or a transport outcome (ECONNECT, ETIMEOUT, EINDETERMINATE, EPROTO).
 * Refusals of augur_submit come back the same way; called from inside a
 * callback, it answers AUGUR_EINVAL. */
int augur_call(struct augur_client *c,
               const char *op,
               const void *args,
               size_t args_len,
               unsigned flags,
               struct augur_reply *reply);

/* Like augur_call for "events": wait up to @wait_ms on the server for a
 * revision >= @from before answering (a long poll; 0 answers at once).
 * Served by the connected node (stale) when @flags has AUGUR_STALE.  The
 * call's deadline is timeout_ms + @wait_ms.  @limit 0 leaves the server's
 * default.  A @from older than the oldest event the cluster keeps is
 * refused with AUGUR_ECOMPACTED (result {"oldest", "rev"}): events were
 * trimmed, and reading on from "oldest" skips them knowingly. */
int augur_events(struct augur_client *c,
                 uint64_t from,
                 unsigned limit,
                 unsigned wait_ms,
                 unsigned flags,
                 struct augur_reply *reply);

/* Pipelining.  augur_submit queues a call and returns at once; @cb runs from
 * inside augur_run() when its answer arrives (or its deadline passes), with
 * a reply that is valid only during the callback.  Returns 0, AUGUR_EINVAL
 * (no @cb, @op empty or over 64 bytes, @args not exactly one map),
 * AUGUR_ETOOBIG (the request would exceed the frame limit) or AUGUR_ENOMEM;
 * on error @cb is never called.  A callback may submit further calls. */
typedef void (*augur_cb)(void *data, struct augur_reply *reply);
int augur_submit(struct augur_client *c,
                 const char *op,
                 const void *args,
                 size_t args_len,
                 unsigned flags,
                 augur_cb cb,
                 void *data) AUGUR_WARN_UNUSED;

/* Drive I/O until no call is in flight, or @timeout_ms passes (-1: no
 * limit).  Returns 0, or AUGUR_ETIMEOUT when calls are still in flight
 * (AUGUR_EINVAL when called from a callback). */
int augur_run(struct augur_client *c, int timeout_ms);

/* Number of calls submitted and not yet answered. */
unsigned augur_inflight(const struct augur_client *c);

/* Typed helpers for the permission store.  Each returns the answer's status
 * (see augur_call); the message of a failure is in augur_client_errmsg(). */
struct augur_claim
{
    char workload[AUGUR_ID_SIZE];
    char host[AUGUR_ID_SIZE];
    uint64_t epoch;
};

/* Grant @workload to @host (NULL: the cluster picks).  On success *@out is
 * the new claim. */
int augur_claim_acquire(struct augur_client *c,
                        const char *workload,
                        const char *host,
                        struct augur_claim *out);

/* Compare-and-set: move @workload to @to if its epoch is still @epoch.  On
 * success *@out is the new claim (epoch + 1); on AUGUR_ECONFLICT *@out is the
 * current holder and epoch. */
int augur_claim_transfer(struct augur_client *c,
                         const char *workload,
                         const char *to,
                         uint64_t epoch,
                         struct augur_claim *out);

/* Release @workload if its epoch is still @epoch. */
int augur_claim_release(struct augur_client *c,
                        const char *workload,
                        uint64_t epoch);

/* Read the claim on @workload (linearizable unless @flags has AUGUR_STALE).
 * AUGUR_ENOTFOUND when it is not held. */
int augur_claim_get(struct augur_client *c,
                    const char *workload,
                    unsigned flags,
                    struct augur_claim *out);

/* Add a resource of @kind with a capacity, or a workload with a demand. */
int augur_resource_add(struct augur_client *c,
                       const char *id,
                       const char *kind,
                       uint64_t cpu,
                       uint64_t mem_mb);
int augur_workload_add(struct augur_client *c,
                       const char *id,
                       uint64_t cpu,
                       uint64_t mem_mb,
                       int64_t priority);

/* Helpers to read a msgpack map: find @key in @map; NULL if @map is not a
 * map or has no such key. */
const msgpack_object *augur_map_get(const msgpack_object *map, const char *key);
/* Copy a string field into @out (@size bytes); 0 or AUGUR_ENOTFOUND, or
 * AUGUR_ETOOBIG (and "" in @out) when it does not fit. */
int augur_map_str(const msgpack_object *map,
                  const char *key,
                  char *out,
                  size_t size);
/* Read an unsigned integer field; 0 or AUGUR_ENOTFOUND. */
int augur_map_u64(const msgpack_object *map, const char *key, uint64_t *out);

#endif
