/* Linearizable reads (Raft dissertation §6.4): reads wait for a barrier
 * proposed after they arrived; all reads waiting when one is proposed share
 * it.  Up to REPLICA_BARRIERS_MAX barriers are in flight: a read arriving
 * while one is does not wait for its commit before its own is proposed,
 * and libraft carries barriers proposed together in one append. */
#include "raft/replica.h"
#include "raft/replica_int.h"

#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void replica__reads_fail(struct replica_read *head, int status)
{
    while (head != NULL) {
        struct replica_read *next = head->next;
        head->next = NULL;
        head->cb(head, status);
        head = next;
    }
}

/* ---- linearizable reads ---------------------------------------------- */

static void barrier_done(struct raft_barrier *req, int status)
{
    struct replica_barrier *b = req->data;
    struct replica *r = b->r;
    struct replica_read *batch = b->batch;
    struct replica_read *waiting = NULL;
    int rv = replica__err(status);

    b->batch = NULL;
    b->busy = false;
    r->barriers_busy--;
    if (rv != 0) {
        /* Leadership was lost (or the node is closing): neither these reads
         * nor the ones waiting can be served here, and no new barrier may
         * be proposed from inside libraft's step-down, which fails pending
         * requests while its leader state is already gone (a barrier
         * proposed then read freed memory).  Clients retry at the new
         * leader.  Other barriers in flight fail in their own callbacks. */
        if (rv == AUGUR_EINDETERMINATE) {
            rv = AUGUR_ENOTLEADER;
        }
        waiting = r->waiting_head;
        r->waiting_head = r->waiting_tail = NULL;
    }
    replica__reads_fail(batch, rv);
    replica__reads_fail(waiting, rv);
    /* Reads still waiting get the next barrier from the prepare handle, on
     * this loop turn, outside any libraft callback. */
    if (r->waiting_head != NULL && !replica_closing(r)) {
        uv_prepare_start(&r->batch_prepare, replica__prepare_cb);
    }
}

/* Proposes a barrier for every read waiting, in a free slot (there is one:
 * the caller checked barriers_busy). */
static void barrier_start(struct replica *r)
{
    struct replica_barrier *b = NULL;
    int rv;

    for (unsigned i = 0; i < REPLICA_BARRIERS_MAX; i++) {
        if (!r->barriers[i].busy) {
            b = &r->barriers[i];
            break;
        }
    }
    assert(b != NULL);
    b->r = r;
    b->batch = r->waiting_head;
    r->waiting_head = r->waiting_tail = NULL;
    b->req.data = b;
    b->busy = true;
    r->barriers_busy++;
    rv = raft_barrier(&r->raft, &b->req, barrier_done);
    if (rv != 0) {
        struct replica_read *batch = b->batch;
        b->batch = NULL;
        b->busy = false;
        r->barriers_busy--;
        rv = replica__err(rv);
        replica__reads_fail(batch,
                            rv == AUGUR_EINDETERMINATE ? AUGUR_ENOTLEADER : rv);
    }
}

/* From the prepare handle: propose a barrier for the reads waiting, or
 * refuse them when this node is no longer the leader.  With every slot
 * busy they wait for the first barrier to finish. */
void replica__reads_flush(struct replica *r)
{
    if (r->waiting_head == NULL || r->barriers_busy == REPLICA_BARRIERS_MAX ||
        replica_closing(r)) {
        return;
    }
    if (!replica_is_leader(r)) {
        struct replica_read *waiting = r->waiting_head;
        r->waiting_head = r->waiting_tail = NULL;
        replica__reads_fail(waiting, AUGUR_ENOTLEADER);
        return;
    }
    barrier_start(r);
}

int replica_read(struct replica *r,
                 struct replica_read *req,
                 replica_read_cb cb)
{
    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    req->cb = cb;
    req->next = NULL;
    if (r->waiting_tail != NULL) {
        r->waiting_tail->next = req;
    } else {
        r->waiting_head = req;
    }
    r->waiting_tail = req;
    /* Reads that arrive while a barrier is in flight wait for a newer one:
     * the one in flight was proposed before they arrived, so its commit
     * does not prove that no newer leader existed when they did.  The
     * barrier is proposed by the prepare handle, after this loop turn's
     * writes and never from inside a libraft callback. */
    if (r->barriers_busy < REPLICA_BARRIERS_MAX) {
        uv_prepare_start(&r->batch_prepare, replica__prepare_cb);
    }
    return 0;
}
