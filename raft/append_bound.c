/* A bound on the bytes one AppendEntries message carries, which libraft 0.15
 * lacks ("TODO: implement a limit to the total size of the entries being
 * sent", src/replication.c).
 *
 * libraft sends a follower every entry from its next index to the end of the
 * log in one message.  In probe mode (a follower that lags, was restarted or
 * has just installed a snapshot) it sends that again at every heartbeat
 * until one is answered: with a tail of hundreds of megabytes a follower
 * that needs longer than a heartbeat to take one in receives copy after copy
 * and falls further behind with each.  How many entries one message carries
 * is the leader's choice: the follower's answer says where the next one
 * starts (Raft dissertation §3.5).
 *
 * Two hooks, no change to libraft's state machine:
 *
 *  1. raft_io's send method is wrapped (replica__append_bound_install): an
 *     AppendEntries message whose entries exceed the bound goes out with the
 *     longest prefix that fits (at least one entry).  The follower answers
 *     for what it got, and the leader sends from there: a probe resend now
 *     costs one bounded message, not the whole tail.
 *  2. In pipeline mode libraft then moves the follower's next index past
 *     every entry it acquired (progressOptimisticNextIndex), which would skip
 *     what was cut off.  That function is wrapped at link time (ld --wrap,
 *     raft/CMakeLists.txt) to stop at the last entry actually sent, so the
 *     tail goes out in bounded pieces, each once. */
#include "raft/replica.h"
#include "raft/replica_int.h"

#include <stddef.h>

/* The longest prefix of @m's entries within @max bytes, at least one. */
static unsigned entries_within(const struct raft_append_entries *m, size_t max)
{
    size_t bytes = 0;
    unsigned n;

    for (n = 0; n < m->n_entries; n++) {
        bytes += m->entries[n].buf.len;
        if (bytes > max && n > 0) {
            break;
        }
    }
    return n;
}

static int bounded_send(struct raft_io *io,
                        struct raft_io_send *req,
                        const struct raft_message *message,
                        raft_io_send_cb cb)
{
    struct raft *raft = io->data; /* libraft's: raft_init sets it */
    struct replica *r = raft->data;
    struct raft_message cut;
    unsigned n;
    int rv;

    if (message->type != RAFT_IO_APPEND_ENTRIES) {
        return r->append_io_send(io, req, message, cb);
    }
    r->append_cut = false;
    n = entries_within(&message->append_entries, r->append_bytes_max);
    if (n == message->append_entries.n_entries) {
        return r->append_io_send(io, req, message, cb);
    }
    /* The entries stay acquired by libraft until @cb, all of them: only
     * the message names fewer.  The io encodes it before returning. */
    cut = *message;
    cut.append_entries.n_entries = n;
    rv = r->append_io_send(io, req, &cut, cb);
    if (rv == 0) {
        r->append_cut = true;
        r->append_cut_server = message->server_id;
        r->append_cut_next = message->append_entries.prev_log_index + 1 + n;
        r->append_cuts++;
    }
    return rv;
}

void replica__append_bound_install(struct replica *r,
                                   struct raft_io *io,
                                   size_t max_bytes)
{
    r->append_io_send = io->send;
    r->append_bytes_max = max_bytes;
    r->append_cut = false;
    io->send = bounded_send;
}

/* ---- the wrapped optimistic update ------------------------------------- */

/* The real libraft function, reached through the linker's --wrap. */
void __real_progressOptimisticNextIndex(struct raft *r,
                                        unsigned i,
                                        raft_index next_index);
void __wrap_progressOptimisticNextIndex(struct raft *r,
                                        unsigned i,
                                        raft_index next_index);

/* libraft calls this right after the send of a pipelined AppendEntries to
 * the i'th server returned, with the index past every entry it acquired.
 * Programs whose raft_io was not given the bound (raft's fixture in the
 * chaos tests) pass through untouched. */
void __wrap_progressOptimisticNextIndex(struct raft *r,
                                        unsigned i,
                                        raft_index next_index)
{
    if (r->io->send == bounded_send) {
        struct replica *rep = r->data;
        if (rep->append_cut && i < r->configuration.n &&
            r->configuration.servers[i].id == rep->append_cut_server &&
            next_index > rep->append_cut_next) {
            next_index = rep->append_cut_next;
        }
        rep->append_cut = false;
    }
    __real_progressOptimisticNextIndex(r, i, next_index);
}
