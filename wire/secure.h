/* The authenticated, encrypted channel: Ed25519 identities and their key
 * files, the mutual handshake (ephemeral X25519 on both sides, each side
 * signing the transcript with its long-term Ed25519 key, session keys from
 * crypto_kx bound to the transcript) and sealed frames (XChaCha20-Poly1305
 * with per-direction counters).  No I/O besides key files: the client
 * library, the server, the peer transport and the fuzz targets drive it with
 * bytes.  docs/PROTOCOL.md describes the messages and why they hold. */
#ifndef AUGUR_API_SECURE_H
#define AUGUR_API_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <msgpack.h>

#include "wire/proto.h"

#define SECURE_WARN_UNUSED __attribute__((warn_unused_result))
#define SECURE_PK_SIZE 32
#define SECURE_SK_SIZE 64
#define SECURE_SIG_SIZE 64
#define SECURE_HASH_SIZE 32
#define SECURE_KEY_SIZE 32
#define SECURE_HEX_SIZE (2 * SECURE_PK_SIZE + 1) /* hex public key + NUL */
#define SECURE_TAG_SIZE 16 /* added to every sealed frame */
#define SECURE_ERRMSG_SIZE 256
/* The "auth" of a HELLO that opens this handshake. */
#define SECURE_SCHEME "sodium1"

/* An Ed25519 identity.  @sk is set only when @has_secret. */
struct secure_key
{
    uint8_t pk[SECURE_PK_SIZE];
    uint8_t sk[SECURE_SK_SIZE];
    bool has_secret;
};

/* sodium_init; 0 or AUGUR_EINTERNAL.  Safe to call more than once. */
int secure_init(void) SECURE_WARN_UNUSED;

/* A fresh key pair. */
int secure_key_generate(struct secure_key *k) SECURE_WARN_UNUSED;

/* Write @k's secret key to @path (mode 0600, refusing to overwrite) and its
 * public key to @path.pub.  Files hold one line of lowercase hex: 128
 * digits for a secret key, 64 for a public key.  0, AUGUR_EEXIST or
 * AUGUR_EIO with the reason in @errmsg (SECURE_ERRMSG_SIZE bytes). */
int secure_key_save(const struct secure_key *k,
                    const char *path,
                    char *errmsg) SECURE_WARN_UNUSED;

/* Read a secret key file.  A file readable or writable by group or others
 * is refused (AUGUR_EAUTH) before it is read; AUGUR_EIO when it cannot be
 * read, AUGUR_EMALFORMED when it is not a secret key (a public key file
 * says so). */
int secure_key_load_secret(const char *path,
                           struct secure_key *k,
                           char *errmsg) SECURE_WARN_UNUSED;

/* Read a public key file (a secret key file is refused: pass FILE.pub). */
int secure_key_load_public(const char *path,
                           uint8_t pk[SECURE_PK_SIZE],
                           char *errmsg) SECURE_WARN_UNUSED;

/* Hex <-> raw public keys.  secure_key_from_hex: 0 or AUGUR_EINVAL. */
void secure_key_hex(const uint8_t pk[SECURE_PK_SIZE],
                    char out[SECURE_HEX_SIZE]);
int secure_key_from_hex(const char *hex,
                        size_t len,
                        uint8_t pk[SECURE_PK_SIZE]) SECURE_WARN_UNUSED;

/* Wipe the secret half, and unlock it (the secret halves that
 * secure_key_generate and secure_key_load_secret fill are locked in memory
 * with sodium_mlock where the system allows; otherwise a warning is
 * logged). */
void secure_key_wipe(struct secure_key *k);

/* ---- node certificates ------------------------------------------------ */

/* A node certificate: the cluster key's statement that @pk is the key of
 * node @node until @not_after (seconds since the epoch; 0: no end).  The
 * cluster signs "augur node cert v1\0" || node (BE u64) || pk || not_after
 * (BE u64).  On the wire it is SECURE_CERT_SIZE bytes: node, pk, not_after,
 * sig; in a file, one line "augur-node-cert-v1 " followed by those bytes in
 * hex. */
#define SECURE_CERT_SIZE (8 + SECURE_PK_SIZE + 8 + SECURE_SIG_SIZE)
struct secure_cert
{
    uint64_t node;
    uint8_t pk[SECURE_PK_SIZE];
    uint64_t not_after;
    uint8_t sig[SECURE_SIG_SIZE];
};

/* A node's identity: its own key (with the secret half) and the cluster's
 * certificate for it.  What a node proves at every handshake. */
struct secure_identity
{
    struct secure_key key;
    struct secure_cert cert;
};

/* Certify @pk as node @node's key until @not_after with @cluster (which
 * holds the secret half).  0 or AUGUR_EINVAL (no secret, node 0). */
int secure_cert_sign(struct secure_cert *c,
                     const struct secure_key *cluster,
                     uint64_t node,
                     const uint8_t pk[SECURE_PK_SIZE],
                     uint64_t not_after) SECURE_WARN_UNUSED;

/* Check @c against the cluster public key at time @now (seconds since the
 * epoch).  0, or AUGUR_EAUTH (not signed by that cluster key, or expired)
 * with the reason in @errmsg. */
int secure_cert_verify(const struct secure_cert *c,
                       const uint8_t cluster_pk[SECURE_PK_SIZE],
                       uint64_t now,
                       char *errmsg) SECURE_WARN_UNUSED;

/* The wire form: encode into @out; decode 0 or AUGUR_EMALFORMED (wrong
 * length, node 0). */
void secure_cert_encode(const struct secure_cert *c,
                        uint8_t out[SECURE_CERT_SIZE]);
int secure_cert_decode(const uint8_t *in,
                       size_t len,
                       struct secure_cert *c) SECURE_WARN_UNUSED;

/* Write @c to @path (mode 0644, refusing to overwrite): 0, AUGUR_EEXIST,
 * AUGUR_EIO.  Read it back: 0, AUGUR_EIO, AUGUR_EMALFORMED; both with the
 * reason in @errmsg.  Loading checks the form, not the signature. */
int secure_cert_save(const struct secure_cert *c,
                     const char *path,
                     char *errmsg) SECURE_WARN_UNUSED;
int secure_cert_load(const char *path,
                     struct secure_cert *c,
                     char *errmsg) SECURE_WARN_UNUSED;

/* Whether @id can serve as node @node of the cluster @cluster_pk at @now:
 * its certificate verifies, names @node and certifies @id's own key.  0 or
 * AUGUR_EAUTH with the reason in @errmsg. */
int secure_identity_check(const struct secure_identity *id,
                          const uint8_t cluster_pk[SECURE_PK_SIZE],
                          uint64_t node,
                          uint64_t now,
                          char *errmsg) SECURE_WARN_UNUSED;

/* Wipe the secret half of @id's key. */
void secure_identity_wipe(struct secure_identity *id);

/* One direction-pair of session keys and counters.  A frame sealed with
 * counter n is opened only as the n-th frame: a replayed, reordered,
 * dropped, truncated or altered frame fails to open. */
struct secure_channel
{
    uint8_t tx[SECURE_KEY_SIZE];
    uint8_t rx[SECURE_KEY_SIZE];
    uint64_t tx_n;
    uint64_t rx_n;
    bool ready;
    uint8_t *scratch; /* opened frames land here; owned */
    size_t scratch_cap;
};

/* Wipe the keys and free the scratch buffer. */
void secure_channel_close(struct secure_channel *ch);

/* A handshake in progress, either side.  Zero it before use; wiped by
 * secure_handshake_wipe. */
struct secure_handshake
{
    uint8_t eph_pk[SECURE_PK_SIZE];
    uint8_t eph_sk[SECURE_PK_SIZE];
    uint8_t peer_eph[SECURE_PK_SIZE];
    uint8_t th[SECURE_HASH_SIZE]; /* transcript hash so far */
    uint64_t client;              /* the HELLO's client id */
    uint64_t node;                /* the CHALLENGE's node id */
    /* Client side, once the CHALLENGE checked: the server's certificate
     * (its certified key is what signed the CHALLENGE). */
    struct secure_cert peer_cert;
};

void secure_handshake_wipe(struct secure_handshake *hs);

/* The HELLO's "mac": 16 bytes of BLAKE2b keyed with
 * BLAKE2b-256("augur mac1\0" || cluster public key), over the HELLO
 * payload up to the mac's body.  Like WireGuard's mac1, it lets a server
 * drop a HELLO from anyone who does not know the cluster's public key
 * before it signs or keeps anything for it. */
#define SECURE_MAC_SIZE 16

/* Client, step 1: append a HELLO frame {"v","client","auth":"sodium1",
 * "eph","mac"} to @out, with "mac" keyed by the pinned @cluster_pk.  The
 * HELLO has one fixed size (the client id is packed as a full u64).  0,
 * AUGUR_EINTERNAL or AUGUR_ENOMEM. */
int secure_client_hello(struct secure_handshake *hs,
                        uint64_t client,
                        const uint8_t cluster_pk[SECURE_PK_SIZE],
                        msgpack_sbuffer *out) SECURE_WARN_UNUSED;

/* The mac of the first @len bytes of a HELLO payload (those before the
 * mac's body). */
void secure_hello_mac(const uint8_t cluster_pk[SECURE_PK_SIZE],
                      const uint8_t *msg,
                      size_t len,
                      uint8_t mac[SECURE_MAC_SIZE]);

/* Check a HELLO payload's "mac" against @cluster_pk: 0, or AUGUR_EAUTH when
 * it is missing, not last or wrong.  Cheap (two BLAKE2b over ~100 bytes)
 * and allocates nothing. */
int secure_hello_mac_check(const uint8_t *payload,
                           size_t len,
                           const uint8_t cluster_pk[SECURE_PK_SIZE])
    SECURE_WARN_UNUSED;

/* Client, step 2: check the server's CHALLENGE payload: its "cert" must be
 * signed by the pinned @cluster_pk, unexpired, and name the CHALLENGE's
 * "node"; its "sig" must be made by the key that certificate certifies.  On
 * success hs->peer_cert is that certificate; an AUTH frame signed with @me
 * is appended to @out and @ch is set up.  AUGUR_EAUTH (the server did not
 * prove a node key certified by the cluster key), AUGUR_EMALFORMED,
 * AUGUR_ENOMEM, with the reason in @errmsg. */
int secure_client_challenge(struct secure_handshake *hs,
                            const uint8_t *payload,
                            size_t len,
                            const uint8_t cluster_pk[SECURE_PK_SIZE],
                            const struct secure_key *me,
                            msgpack_sbuffer *out,
                            struct secure_channel *ch,
                            char *errmsg) SECURE_WARN_UNUSED;

/* Node to node (raft/transport.c), the connecting side's step 2: as
 * secure_client_challenge, proving @me's key and sending its certificate
 * in the AUTH ("cert"). */
int secure_node_challenge(struct secure_handshake *hs,
                          const uint8_t *payload,
                          size_t len,
                          const uint8_t cluster_pk[SECURE_PK_SIZE],
                          const struct secure_identity *me,
                          msgpack_sbuffer *out,
                          struct secure_channel *ch,
                          char *errmsg) SECURE_WARN_UNUSED;

/* Server, step 1: read a HELLO payload whose "auth" is "sodium1" and
 * append a CHALLENGE frame to @out that carries @me's certificate and is
 * signed with @me's key (which holds the secret half).  The HELLO's
 * "mac", keyed by @cluster_pk, is checked first, before anything is
 * decoded or signed: AUGUR_EAUTH when it does not hold.  AUGUR_EMALFORMED,
 * AUGUR_ENOMEM with @errmsg. */
int secure_server_hello(struct secure_handshake *hs,
                        const uint8_t *payload,
                        size_t len,
                        const struct secure_identity *me,
                        const uint8_t cluster_pk[SECURE_PK_SIZE],
                        uint64_t node,
                        msgpack_sbuffer *out,
                        char *errmsg) SECURE_WARN_UNUSED;

/* Server, step 2: check an AUTH payload.  On success @peer_pk is the
 * client's proven public key and @ch is set up; whether that key may do
 * anything is the caller's to decide.  AUGUR_EAUTH (bad signature),
 * AUGUR_EMALFORMED. */
int secure_server_auth(struct secure_handshake *hs,
                       const uint8_t *payload,
                       size_t len,
                       uint8_t peer_pk[SECURE_PK_SIZE],
                       struct secure_channel *ch,
                       char *errmsg) SECURE_WARN_UNUSED;

/* The client port's step 2: as secure_server_auth for a principal's AUTH;
 * an AUTH that carries a "cert" is a node's (a follower's uplink) and is
 * checked as secure_node_auth checks it, with *@has_cert set and @peer that
 * certificate.  AUGUR_EAUTH, AUGUR_EMALFORMED. */
int secure_server_auth_any(struct secure_handshake *hs,
                           const uint8_t *payload,
                           size_t len,
                           const uint8_t cluster_pk[SECURE_PK_SIZE],
                           uint8_t peer_pk[SECURE_PK_SIZE],
                           struct secure_cert *peer,
                           bool *has_cert,
                           struct secure_channel *ch,
                           char *errmsg) SECURE_WARN_UNUSED;

/* Node to node, the accepting side's step 2: as secure_server_auth, and
 * the AUTH must carry a "cert" signed by @cluster_pk, unexpired, that
 * certifies the proven key; @peer is that certificate (whose node id the
 * caller checks against the one the peer claims).  AUGUR_EAUTH,
 * AUGUR_EMALFORMED. */
int secure_node_auth(struct secure_handshake *hs,
                     const uint8_t *payload,
                     size_t len,
                     const uint8_t cluster_pk[SECURE_PK_SIZE],
                     struct secure_cert *peer,
                     struct secure_channel *ch,
                     char *errmsg) SECURE_WARN_UNUSED;

/* Seal every whole plaintext frame in @plain (@len bytes, as the proto_*
 * appenders write them) into one SEALED frame each, appended to @out.
 * 0, AUGUR_EMALFORMED (not whole frames), AUGUR_ENOMEM. */
int secure_seal(struct secure_channel *ch,
                const uint8_t *plain,
                size_t len,
                msgpack_sbuffer *out) SECURE_WARN_UNUSED;

/* Seal the @len bytes that start @skip bytes into the buffers @iov[0..@n)
 * as one SEALED frame whose inner frame has @type, appended to @out: the
 * bytes are gathered straight into @out and encrypted in place, so a
 * message scattered over several buffers costs one copy.  @len is at most
 * PROTO_FRAME_MAX - 1 - SECURE_TAG_SIZE.  0, AUGUR_EMALFORMED (the buffers
 * hold fewer bytes, or @len is too long), AUGUR_ENOMEM. */
int secure_seal_gather(struct secure_channel *ch,
                       enum proto_frame_type type,
                       const struct iovec *iov,
                       size_t n,
                       size_t skip,
                       size_t len,
                       msgpack_sbuffer *out) SECURE_WARN_UNUSED;

/* Open one SEALED frame (@f, as proto_frame_parse found it) into @inner,
 * whose payload points into ch->scratch until the next open.  AUGUR_EPROTO
 * when @f is not SEALED, AUGUR_EAUTH when it does not open (tampered,
 * replayed, reordered), AUGUR_EMALFORMED when the inner type is unknown,
 * AUGUR_ENOMEM. */
int secure_open(struct secure_channel *ch,
                const struct proto_frame *f,
                struct proto_frame *inner) SECURE_WARN_UNUSED;

#endif
