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

/* Wipe the secret half. */
void secure_key_wipe(struct secure_key *k);

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

/* Client, step 2: check the server's CHALLENGE payload against the pinned
 * @cluster_pk; on success append an AUTH frame signed with @me to @out and
 * set up @ch.  AUGUR_EAUTH (the server did not prove the cluster key),
 * AUGUR_EMALFORMED, AUGUR_ENOMEM, with the reason in @errmsg. */
int secure_client_challenge(struct secure_handshake *hs,
                            const uint8_t *payload,
                            size_t len,
                            const uint8_t cluster_pk[SECURE_PK_SIZE],
                            const struct secure_key *me,
                            msgpack_sbuffer *out,
                            struct secure_channel *ch,
                            char *errmsg) SECURE_WARN_UNUSED;

/* Server, step 1: read a HELLO payload whose "auth" is "sodium1" and
 * append a CHALLENGE frame signed with @cluster (which holds the secret
 * half) to @out.  The HELLO's "mac" is checked first, before anything is
 * decoded or signed: AUGUR_EAUTH when it does not hold.  AUGUR_EMALFORMED,
 * AUGUR_ENOMEM with @errmsg. */
int secure_server_hello(struct secure_handshake *hs,
                        const uint8_t *payload,
                        size_t len,
                        const struct secure_key *cluster,
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

/* Seal every whole plaintext frame in @plain (@len bytes, as the proto_*
 * appenders write them) into one SEALED frame each, appended to @out.
 * 0, AUGUR_EMALFORMED (not whole frames), AUGUR_ENOMEM. */
int secure_seal(struct secure_channel *ch,
                const uint8_t *plain,
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
