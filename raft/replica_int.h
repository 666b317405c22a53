/* Private to raft/: what the replica's files share (replica.c: lifecycle;
 * fsm.c; write.c: batched writes; barrier.c: reads; membership.c). */
#ifndef AUGUR_RAFT_REPLICA_INT_H
#define AUGUR_RAFT_REPLICA_INT_H

#include <stddef.h>

#include <uv.h>

struct replica;
struct replica_batch;
struct replica_read;

/* Translate a libraft code once, at the module edge (replica.c). */
int replica__err(int rv);

/* Bound every AppendEntries message sent through @io to @max_bytes of
 * entries (at least one entry), keeping @io's send method in @r
 * (append_bound.c).  @io->data must be a struct raft whose data is @r. */
struct raft_io;
void replica__append_bound_install(struct replica *r,
                                   struct raft_io *io,
                                   size_t max_bytes);

/* Set up r->fsm (fsm.c). */
void replica__fsm_init(struct replica *r);

/* The prepare handle's callback: propose the turn's writes as one entry,
 * then one barrier for the reads waiting (write.c). */
void replica__prepare_cb(uv_prepare_t *h);
/* Fail every write of @b with @status and free it (write.c). */
void replica__batch_fail(struct replica_batch *b, int status);
/* Fail the batch still open, if any (write.c). */
void replica__batch_fail_open(struct replica *r, int status);

/* Propose a barrier for the reads waiting, or refuse them when this node
 * no longer leads (barrier.c). */
void replica__reads_flush(struct replica *r);
/* Run the callbacks of a list of reads with @status (barrier.c). */
void replica__reads_fail(struct replica_read *head, int status);

#endif
