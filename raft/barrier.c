/* Linearizable reads (Raft dissertation §6.4): reads wait for a barrier
 * proposed after they arrived; all reads waiting when one is proposed share
 * it. */
#include "raft/replica.h"
#include "raft/replica_int.h"

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

static void barrier_start(struct replica *r);

static void barrier_done(struct raft_barrier *barrier, int status)
{
    struct replica *r = barrier->data;
    struct replica_read *batch = r->inflight;
    struct replica_read *waiting = NULL;
    int rv = replica__err(status);

    r->inflight = NULL;
    r->barrier_busy = false;
    if (rv != 0) {
        /* Leadership was lost (or the node is closing): neither these reads
         * nor the ones waiting can be served here, and no new barrier may
         * be proposed from inside libraft's step-down, which fails pending
         * requests while its leader state is already gone (a barrier
         * proposed then read freed memory).  Clients retry at the new
         * leader. */
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

static void barrier_start(struct replica *r)
{
    int rv;

    r->inflight = r->waiting_head;
    r->waiting_head = r->waiting_tail = NULL;
    r->barrier.data = r;
    r->barrier_busy = true;
    rv = raft_barrier(&r->raft, &r->barrier, barrier_done);
    if (rv != 0) {
        struct replica_read *batch = r->inflight;
        r->inflight = NULL;
        r->barrier_busy = false;
        rv = replica__err(rv);
        replica__reads_fail(batch,
                            rv == AUGUR_EINDETERMINATE ? AUGUR_ENOTLEADER : rv);
    }
}

/* From the prepare handle: propose a barrier for the reads waiting, or
 * refuse them when this node is no longer the leader. */
void replica__reads_flush(struct replica *r)
{
    if (r->waiting_head == NULL || r->barrier_busy || replica_closing(r)) {
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
    /* Reads that arrive while a barrier is in flight wait for the next one:
     * the one in flight was proposed before they arrived, so its commit
     * does not prove that no newer leader existed when they did.  The
     * barrier is proposed by the prepare handle, after this loop turn's
     * writes and never from inside a libraft callback. */
    if (!r->barrier_busy) {
        uv_prepare_start(&r->batch_prepare, replica__prepare_cb);
    }
    return 0;
}
