/* A follower's uplink to the leader: one authenticated client connection,
 * opened with this node's own key and certificate, over which reports an
 * agent gave this follower go on to the leader (telemetry.forward).
 * Fire-and-forget: requests wait in a bounded queue while the uplink
 * connects, and are dropped (counted) beyond it; answers are only
 * counted.  It follows the leader: node/service.c's tick tells it who
 * leads, and it reconnects when that changes. */
#ifndef AUGUR_NODE_UPLINK_H
#define AUGUR_NODE_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "wire/secure.h"

#define NODE_UPLINK_WARN_UNUSED __attribute__((warn_unused_result))
/* Requests queued (not yet written) at most, in bytes: about 4 s of one
 * agent's 100-sample batches for 1,000 agents on one follower. */
#define NODE_UPLINK_QUEUE_MAX ((size_t)8 << 20)
/* Bytes handed to the socket and not yet written, at most; past it the
 * queue holds (and then drops) instead. */
#define NODE_UPLINK_OUTPUT_MAX ((size_t)8 << 20)

struct node_uplink__conn;

/* The answer to a node_uplink_call: @status 0 with the leader's packed
 * answer map (@answer, @len bytes, valid during the call only; its own
 * "status" says whether the op succeeded), or AUGUR_EINDETERMINATE (the
 * request was written and the connection was lost before its answer: the
 * leader may have taken it), AUGUR_ENOLEADER (never sent: this node leads
 * now, or the queue was full) or AUGUR_ESHUTDOWN (closing). */
typedef void (*node_uplink_cb)(void *data,
                               int status,
                               const void *answer,
                               size_t len);

struct node_uplink__call
{
    uint64_t id;
    node_uplink_cb cb;
    void *data;
    bool written;
    struct node_uplink__call *next;
};

struct node_uplink
{
    uv_loop_t *loop;
    const struct secure_identity *identity; /* this node's; outlives us */
    const uint8_t *cluster_pk;              /* outlives us */
    uint64_t node_id;                       /* this node */
    struct node_uplink__conn *conn;         /* NULL when not connected */
    uint64_t leader;                        /* the node conn goes to */
    char address[64];                       /* its client address */
    msgpack_sbuffer queue; /* plaintext REQUEST frames not yet sealed */
    uint64_t next_id;
    uint64_t retry_ms; /* no new connection before this */
    unsigned backoff_ms;
    /* Counters (status "uplink"). */
    uint64_t forwarded; /* requests written to the leader */
    uint64_t dropped;   /* requests dropped: queue full, or lost with a
                           connection before the leader answered */
    uint64_t refused;   /* answers with an error status */
    uint64_t connects;  /* handshakes completed */
    uint64_t log_ms;    /* when a failure was last logged */
    bool closing;
    /* Called when the leader closed the connection from its end (its
     * process is gone or going), with its id; NULL: nobody is told. */
    void (*leader_gone)(void *data, uint64_t leader);
    void *leader_gone_data;
    struct node_uplink__call *calls; /* waiting for their answers */
    uv_timer_t flush; /* writes a call's request soon after it is queued */
};

/* Set up @u (no connection yet).  Returns 0. */
int node_uplink_init(struct node_uplink *u,
                     uv_loop_t *loop,
                     uint64_t node_id,
                     const struct secure_identity *identity,
                     const uint8_t *cluster_pk) NODE_UPLINK_WARN_UNUSED;

/* Queue one request @op with the packed args map @args (@len bytes,
 * copied).  0, or AUGUR_EBUSY when the queue is full (the request is
 * dropped and counted), AUGUR_ENOMEM, AUGUR_ETOOBIG. */
int node_uplink_send(struct node_uplink *u,
                     const char *op,
                     const void *args,
                     size_t len) NODE_UPLINK_WARN_UNUSED;

/* Send request @op (packed args @args, @len bytes, copied) and call
 * @cb(@data, ...) once with its answer or failure (see node_uplink_cb),
 * never from within this call.  Sets *@id for node_uplink_cancel.  0, or
 * AUGUR_EBUSY (queue full), AUGUR_ENOMEM, AUGUR_ETOOBIG, AUGUR_ESHUTDOWN:
 * then @cb is never called. */
int node_uplink_call(struct node_uplink *u,
                     const char *op,
                     const void *args,
                     size_t len,
                     node_uplink_cb cb,
                     void *data,
                     uint64_t *id) NODE_UPLINK_WARN_UNUSED;
/* Forget call @id: its callback will not run. */
void node_uplink_cancel(struct node_uplink *u, uint64_t id);

/* Follow the leadership: @leader is the leader's id (0 when none, or this
 * node's own id when it leads) and @address its client address ("" when
 * not known).  Connects, reconnects to a new leader (with a backoff after
 * a failure) or closes; writes the queue when connected.  When this node
 * leads, the queue is dropped (counted): it has nobody to forward to. */
void node_uplink_tick(struct node_uplink *u,
                      uint64_t leader,
                      const char *address);

/* Close the connection and free the queue.  The connection's handle is
 * closed on the loop; its memory is freed by its close callback. */
void node_uplink_close(struct node_uplink *u);

#endif
