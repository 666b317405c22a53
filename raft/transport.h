/* raft/'s private interface to its peer transport (raft/transport.c). */
#ifndef AUGUR_RAFT_TRANSPORT_H
#define AUGUR_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>

#include "wire/secure.h"

/* Whether @pk, a node key a peer proved, was revoked. */
typedef bool (*replica__key_revoked_fn)(void *data,
                                        const uint8_t pk[SECURE_PK_SIZE]);

/* Set @t up as the authenticated peer transport on @loop: every connection
 * proves @me (this node's key, with its secret half, and its certificate;
 * it must outlive the transport) and checks the peer's certificate against
 * @cluster_pk, its node id against the one expected, and its key against
 * @revoked (may be NULL); everything after the handshake is sealed.  At
 * most @unauth_max accepted connections (@unauth_per_source from one
 * address) may be in their handshake, which must end within 10 s; each
 * link queues at most about @buffer_max bytes each way before it stops
 * reading (0 takes the defaults: 64, 8, 4 MiB).  0, RAFT_INVALID (no
 * secret key) or RAFT_NOMEM.
 * After libraft has closed the transport, replica__transport_free releases
 * it. */
int replica__transport_init(struct raft_uv_transport *t,
                            uv_loop_t *loop,
                            const struct secure_identity *me,
                            const uint8_t cluster_pk[SECURE_PK_SIZE],
                            replica__key_revoked_fn revoked,
                            void *revoked_data,
                            unsigned unauth_max,
                            unsigned unauth_per_source,
                            size_t buffer_max);
/* Close every open link whose peer key @revoked now reports as revoked;
 * returns how many. */
unsigned replica__transport_drop_revoked(struct raft_uv_transport *t);
void replica__transport_free(struct raft_uv_transport *t);

#endif
