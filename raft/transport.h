/* raft/'s private interface to its peer transport (raft/transport.c). */
#ifndef AUGUR_RAFT_TRANSPORT_H
#define AUGUR_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>

#include "wire/secure.h"

/* Set @t up as the authenticated peer transport on @loop: every connection
 * proves @key (the cluster key, with its secret half; it must outlive the
 * transport) in both directions and is sealed.  0, RAFT_INVALID (no
 * secret key) or RAFT_NOMEM.  After
 * libraft has closed the transport, replica__transport_free releases it. */
int replica__transport_init(struct raft_uv_transport *t,
                            uv_loop_t *loop,
                            const struct secure_key *key);
void replica__transport_free(struct raft_uv_transport *t);

#endif
