/* Host leases: the leader's rules for declaring a silent host
 * unreachable (see lease.h). */
#include "node/lease.h"

bool node_lease_renew(struct node_lease *l, uint64_t now_ms, unsigned lease_ms)
{
    bool back = !l->held || l->declared;

    l->held = true;
    l->declared = false;
    l->expires_ms = now_ms + lease_ms;
    return back;
}

bool node_lease_due(const struct node_lease *l,
                    uint64_t now_ms,
                    uint64_t grace_until_ms)
{
    return l->held && !l->declared && now_ms >= l->expires_ms &&
           now_ms >= grace_until_ms;
}

void node_lease_declare(struct node_lease *l)
{
    l->declared = true;
}

uint64_t node_lease_remaining(const struct node_lease *l, uint64_t now_ms)
{
    if (!l->held || now_ms >= l->expires_ms) {
        return 0;
    }
    return l->expires_ms - now_ms;
}
