/* Host leases: when the leader last heard from a host's agent, and whether
 * the host is due to be declared unreachable.  Pure functions of the time
 * they are given, so the rules test without a loop (tests/unit/node). */
#ifndef AUGUR_NODE_LEASE_H
#define AUGUR_NODE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

/* One host's lease.  Zeroed means "never reported": no lease at all, and
 * such a host is never declared unreachable (a fleet may be registered
 * before its agents start). */
struct node_lease
{
    uint64_t expires_ms; /* the leader's clock; 0 when never renewed */
    bool held;           /* renewed at least once by this leader */
    bool declared;       /* expiry proposed; cleared by the next renewal */
};

/* Renew @l at @now_ms for @lease_ms.  Returns true when the lease had been
 * declared expired (or was never held by this leader): the caller then
 * checks whether the store must be told the host is back. */
bool node_lease_renew(struct node_lease *l, uint64_t now_ms, unsigned lease_ms);

/* Whether the leader should declare @l's host unreachable now: a lease it
 * holds has run out, it has not declared it already, and the leader's
 * grace period is over (@grace_until_ms: the time it became leader plus
 * one full lease, so that every host gets a full lease from a new leader
 * before anything is declared). */
bool node_lease_due(const struct node_lease *l,
                    uint64_t now_ms,
                    uint64_t grace_until_ms);

/* Record that the expiry was proposed, so it is proposed once. */
void node_lease_declare(struct node_lease *l);

/* Milliseconds left on @l at @now_ms (0 when expired or never held). */
uint64_t node_lease_remaining(const struct node_lease *l, uint64_t now_ms);

#endif
