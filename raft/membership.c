/* Membership changes, one server at a time (Raft dissertation §4.2.1),
 * the strict reconfiguration check, and leadership transfer (§3.10). */
#include "raft/replica.h"
#include "raft/replica_int.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- membership ------------------------------------------------------- */

static void change_done(struct raft_change *change, int status)
{
    struct replica_change *req = change->data;
    struct replica *r = req->replica;
    int rv;

    if (status == 0 && req->step == 0 && req->role != RAFT_SPARE) {
        req->step = 1;
        rv = raft_assign(&r->raft, &req->change, req->id, req->role,
                         change_done);
        if (rv == 0) {
            return;
        }
        LOG(LOG_LEVEL_WARN, "raft_assign(%" PRIu64 "): %s", req->id,
            raft_errmsg(&r->raft));
        status = rv;
    }
    req->cb(req, replica__err(status));
}

int replica_member_add(struct replica *r,
                       struct replica_change *req,
                       uint64_t id,
                       const char *address,
                       int role,
                       replica_change_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    if (id == 0 || replica_role_name(role) == NULL) {
        return AUGUR_EINVAL;
    }
    req->replica = r;
    req->id = id;
    req->role = role;
    req->step = 0;
    req->cb = cb;
    req->change.data = req;
    rv = raft_add(&r->raft, &req->change, id, address, change_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_add: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}

int replica_member_remove(struct replica *r,
                          struct replica_change *req,
                          uint64_t id,
                          replica_change_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    req->replica = r;
    req->id = id;
    req->role = RAFT_SPARE;
    req->step = 1;
    req->cb = cb;
    req->change.data = req;
    rv = raft_remove(&r->raft, &req->change, id, change_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_remove: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}

int replica_member_assign(struct replica *r,
                          struct replica_change *req,
                          uint64_t id,
                          int role,
                          replica_change_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    if (replica_role_name(role) == NULL) {
        return AUGUR_EINVAL;
    }
    req->replica = r;
    req->id = id;
    req->role = role;
    req->step = 1;
    req->cb = cb;
    req->change.data = req;
    rv = raft_assign(&r->raft, &req->change, id, role, change_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_assign: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}

/* How far behind the leader's last entry a voter may be and still count as
 * caught up: a few batches in flight, not a snapshot to install. */
#define CAUGHT_UP_SLACK 128

void replica_voters_caught_up(struct replica *r,
                              uint64_t without,
                              unsigned *voters,
                              unsigned *caught_up)
{
    const struct raft_configuration *c = &r->raft.configuration;
    raft_index last = raft_last_index(&r->raft);

    *voters = 0;
    *caught_up = 0;
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        if (srv->role != RAFT_VOTER || srv->id == without) {
            continue;
        }
        (*voters)++;
        if (srv->id == r->raft.id) {
            (*caught_up)++;
        } else if (replica_is_leader(r) &&
                   r->raft.leader_state.progress[i].match_index +
                           CAUGHT_UP_SLACK >=
                       last) {
            (*caught_up)++;
        }
    }
}

bool replica_member_changing(struct replica *r)
{
    return r->raft.configuration_uncommitted_index != 0 ||
           (raft_state(&r->raft) == RAFT_LEADER &&
            (r->raft.leader_state.change != NULL ||
             r->raft.leader_state.promotee_id != 0));
}

/* ---- leadership transfer (Raft dissertation §3.10) -------------------- */

static void transfer_done(struct raft_transfer *transfer)
{
    struct replica_transfer *req = transfer->data;
    req->cb(req, replica_leader_id(req->replica));
}

int replica_leader_transfer(struct replica *r,
                            struct replica_transfer *req,
                            uint64_t id,
                            replica_transfer_cb cb)
{
    int rv;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    req->replica = r;
    req->cb = cb;
    req->transfer.data = req;
    rv = raft_transfer(&r->raft, &req->transfer, id, transfer_done);
    if (rv != 0) {
        snprintf(r->errmsg, sizeof r->errmsg, "raft_transfer: %s",
                 raft_errmsg(&r->raft));
        return replica__err(rv);
    }
    return 0;
}
