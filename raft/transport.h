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

/* libraft's own calls to these libuv functions (renamed in the build's copy
 * of libraft.a, see CMakeLists.txt): on the streams the transport handed
 * libraft they seal, open and close in the transport; on any other handle
 * they are libuv's. */
int augur__raft_uv_write(uv_write_t *req,
                         uv_stream_t *handle,
                         const uv_buf_t bufs[],
                         unsigned int nbufs,
                         uv_write_cb cb);
int augur__raft_uv_read_start(uv_stream_t *stream,
                              uv_alloc_cb alloc,
                              uv_read_cb read_cb);
void augur__raft_uv_close(uv_handle_t *handle, uv_close_cb close_cb);

#endif
