/* raft/'s private interface to its peer transport (raft/transport.c). */
#ifndef AUGUR_RAFT_TRANSPORT_H
#define AUGUR_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>

#include "wire/secure.h"

/* Set @t up as the authenticated peer transport on @loop: every connection
 * proves @key (the cluster key, with its secret half; it must outlive the
 * transport) in both directions and is sealed.  At most @unauth_max
 * accepted connections (@unauth_per_source from one address) may be in
 * their handshake, which must end within 10 s; each link queues at most
 * about @buffer_max bytes each way before it stops reading (0 takes the
 * defaults: 64, 8, 4 MiB).  0, RAFT_INVALID (no secret key) or RAFT_NOMEM.
 * After libraft has closed the transport, replica__transport_free releases
 * it. */
int replica__transport_init(struct raft_uv_transport *t,
                            uv_loop_t *loop,
                            const struct secure_key *key,
                            unsigned unauth_max,
                            unsigned unauth_per_source,
                            size_t buffer_max);
void replica__transport_free(struct raft_uv_transport *t);

#endif
