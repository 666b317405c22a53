/* wire_conn: the client side of the wire protocol for the test tools
 * (augur-wire, augur-hostile): one connection with its receive buffer and
 * secure channel, the authenticated handshake, and the small helpers both
 * tools parse their options and arguments with. */
#ifndef AUGUR_TESTS_WIRE_CONN_H
#define AUGUR_TESTS_WIRE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "wire/proto.h"
#include "wire/secure.h"

#define WIRE_CONN_WARN_UNUSED __attribute__((warn_unused_result))

#define WIRE_CONN_ERRMSG_SIZE 256
/* Receive and send timeout of a connected socket. */
#define WIRE_CONN_IO_TIMEOUT_MS 30000

/* How a connection words a failed read in its errmsg.  The tools print
 * these texts and their callers match on them, so each tool keeps its
 * own; NULL words are the default ones. */
struct wire_conn_words
{
    const char *closed;    /* the server ended the stream */
    const char *bad_frame; /* "<bad_frame>: <error name>" */
    const char *unopened;  /* "<unopened>: <error name>", a sealed frame */
    const char *no_memory; /* NULL: errmsg is left as it was */
};

/* One connection and its receive buffer.  Caller allocates; init, then
 * connect, then close (also after a failed connect). */
struct wire_conn
{
    int fd;
    uint8_t *buf; /* received bytes; owned */
    size_t len;
    size_t cap;
    size_t consumed;          /* bytes of the last frame read, dropped next */
    struct secure_channel ch; /* ready after the authenticated handshake */
    const struct wire_conn_words *words;
    char errmsg[WIRE_CONN_ERRMSG_SIZE]; /* why the last call failed */
};

/* What the authenticated handshake proves.  Every pointer is borrowed. */
struct wire_conn_auth
{
    /* The pinned cluster public key: the CHALLENGE must be signed by a
     * node key it certifies. */
    const uint8_t *cluster_pk;
    /* Keys the HELLO's mac; NULL: @cluster_pk (another key makes the HELLO
     * of a client that does not know the cluster). */
    const uint8_t *hello_pk;
    const struct secure_key *key; /* the client's key, when @node is NULL */
    /* A node's key and certificate: the node-to-node handshake. */
    const struct secure_identity *node;
};

/* Make @c an unconnected connection (fd -1) whose failed reads say
 * @words (NULL: the default words). */
void wire_conn_init(struct wire_conn *c, const struct wire_conn_words *words);

/* Connect @c to "HOST:PORT" (the last colon separates the port), from the
 * IPv4 address @source when it is not NULL, the connect bounded by
 * @connect_ms when it is not 0; the socket then times out reads and writes
 * after WIRE_CONN_IO_TIMEOUT_MS.  0, AUGUR_EINVAL (a bad endpoint) or
 * AUGUR_ECONNECT, with errmsg set and errno that of the failed connect. */
int wire_conn_connect(struct wire_conn *c,
                      const char *endpoint,
                      const char *source,
                      int connect_ms) WIRE_CONN_WARN_UNUSED;

/* Close the socket, free the buffer and wipe the channel; @c is then as
 * after wire_conn_init (its words kept).  Safe to call twice. */
void wire_conn_close(struct wire_conn *c);

/* Set the SO_RCVTIMEO or SO_SNDTIMEO (@optname) of socket @fd to @ms. */
void wire_conn_set_timeout(int fd, int optname, int ms);

/* Send all @len bytes of @buf as they are.  0, AUGUR_ETIMEOUT (the send
 * timeout passed) or AUGUR_ECONNECT (the peer closed or reset), with
 * errmsg set. */
int wire_conn_send(struct wire_conn *c,
                   const void *buf,
                   size_t len) WIRE_CONN_WARN_UNUSED;

/* Send whole inner frames @buf, sealed when the channel is ready.  As
 * wire_conn_send, or the error of secure_seal. */
int wire_conn_send_frames(struct wire_conn *c,
                          const void *buf,
                          size_t len) WIRE_CONN_WARN_UNUSED;

/* Read one whole frame into @c's buffer and describe it in @frame, opened
 * when it is sealed and the channel is ready.  @frame points into @c (its
 * buffer or channel) and stays valid until the next read.  0,
 * AUGUR_EPROTO (an invalid frame, one that does not open),
 * AUGUR_ECONNECT (the server closed), AUGUR_ETIMEOUT (the receive timeout
 * passed) or AUGUR_ENOMEM, with errmsg set as @c's words say. */
int wire_conn_read_frame(struct wire_conn *c,
                         struct proto_frame *frame) WIRE_CONN_WARN_UNUSED;

/* The authenticated handshake up to AUTH: send HELLO as @client, read the
 * CHALLENGE, check it and append the AUTH frame to @auth_out (which the
 * caller owns); the channel is then set up.  A CLOSE instead is left in
 * *@closed (until the next read; otherwise closed->type is 0) and refused
 * with AUGUR_EPROTO and errmsg untouched.  Other errors: as the reads and
 * sends, AUGUR_EPROTO for another frame, or that of the CHALLENGE check,
 * with errmsg set. */
int wire_conn_handshake_begin(struct wire_conn *c,
                              const struct wire_conn_auth *a,
                              uint64_t client,
                              msgpack_sbuffer *auth_out,
                              struct proto_frame *closed) WIRE_CONN_WARN_UNUSED;

/* The rest of it: send @auth (from wire_conn_handshake_begin), then read
 * the sealed WELCOME.  Errors and *@closed as wire_conn_handshake_begin. */
int wire_conn_handshake_end(struct wire_conn *c,
                            const msgpack_sbuffer *auth,
                            struct proto_frame *closed) WIRE_CONN_WARN_UNUSED;

/* The whole authenticated handshake: wire_conn_handshake_begin, then
 * wire_conn_handshake_end.  On 0 every later frame is sealed. */
int wire_conn_handshake(struct wire_conn *c,
                        const struct wire_conn_auth *a,
                        uint64_t client,
                        struct proto_frame *closed) WIRE_CONN_WARN_UNUSED;

/* The keys of the authenticated handshake, from the environment: when
 * AUGUR_KEY (a secret key) and AUGUR_CLUSTER_KEY (the cluster's public
 * key) are both set, load them into @key and @cluster_pk and set *@keyed;
 * when either is unset, *@keyed is false.  0, or an error of secure_init
 * or of loading a key, with the reason in @why (SECURE_ERRMSG_SIZE). */
int wire_conn_keys_from_env(struct secure_key *key,
                            uint8_t cluster_pk[SECURE_PK_SIZE],
                            bool *keyed,
                            char *why) WIRE_CONN_WARN_UNUSED;

/* Pack the JSON value @j into @pk.  0, AUGUR_ENOMEM, or AUGUR_EINVAL (a
 * JSON type msgpack has no place for). */
int wire_conn_pack_json(msgpack_packer *pk,
                        const json_t *j) WIRE_CONN_WARN_UNUSED;

/* Parse @s as a non-negative number (decimal, 0x hex or 0 octal) into
 * *@out.  0, or AUGUR_EINVAL with *@out untouched. */
int wire_conn_parse_u64(const char *s, uint64_t *out) WIRE_CONN_WARN_UNUSED;

/* Milliseconds of the monotonic clock. */
uint64_t wire_conn_monotonic_ms(void);

#endif
