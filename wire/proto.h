/* The client wire protocol: frames, and the request and response maps they
 * carry.  Shared by the server (api/server.c) and libaugur (api/client.c). */
#ifndef AUGUR_API_PROTO_H
#define AUGUR_API_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/error.h"

/* A frame on the wire:
 *
 *   [4 bytes] length N of what follows, big endian, 1 <= N <= max
 *   [1 byte]  frame type (enum proto_frame_type)
 *   [N-1]     payload: one msgpack object (a map)
 *
 * The hard limit is PROTO_FRAME_MAX unless a side sets a lower one; a frame
 * announcing more is refused before any of it is buffered.
 *
 * Every connection opens with exactly one HELLO from the client and one
 * WELCOME from the server before any REQUEST.  HELLO names the protocol
 * version and the authentication scheme.  augurd accepts one scheme,
 * "sodium1" (SECURE_SCHEME, api/secure.h): HELLO also carries the client's
 * ephemeral key, the server answers CHALLENGE (its ephemeral key, signed
 * with the cluster key), the client AUTH (its Ed25519 public key and a
 * signature of the transcript), and every frame after that, WELCOME
 * included, is SEALED (docs/PROTOCOL.md).  A HELLO with "auth": "none" is
 * still well formed, and refused with EAUTH.  A server that gets anything
 * else first, or a frame it cannot decode, or credentials it refuses, sends
 * one CLOSE frame with the reason and closes the connection. */
#define PROTO_VERSION 1
#define PROTO_FRAME_MAX (4u << 20) /* 4 MiB */
#define PROTO_HEADER_SIZE 5
/* What sealing adds to a frame (api/secure.h): the AEAD tag. */
#define PROTO_SEAL_OVERHEAD 16
#define PROTO_OP_MAX 64 /* longest "op" of a request, in bytes */
/* The longest frame (its N) accepted before the peer has authenticated.
 * The handshake's messages are small and fixed in shape (HELLO ~95 bytes,
 * CHALLENGE ~120, AUTH ~110; room is left for a node certificate in
 * CHALLENGE or AUTH), so anything longer is not a handshake and is refused
 * from its 4 length bytes, before any of its payload is read: a stranger
 * cannot make a node buffer or decode megabytes. */
#define PROTO_PREAUTH_FRAME_MAX 512
/* The most msgpack objects (every scalar, key, value and container counts
 * one) a decoded frame may hold.  msgpack-c spends about 24 bytes per
 * object, so a 4 MiB frame of one-byte objects would cost ~100 MB to decode;
 * at this bound a frame costs at most ~1.5 MB.  Requests are far smaller;
 * answers (which a client decodes) may hold lists, so they get a larger
 * bound. */
#define PROTO_OBJECTS_MAX (1u << 16)
#define PROTO_ANSWER_OBJECTS_MAX (1u << 20)

enum proto_frame_type
{
    PROTO_HELLO = 1,    /* client -> server: {"v":1,"client":u64,"auth":str} */
    PROTO_WELCOME = 2,  /* server -> client: {"v":1,"node":u64} */
    PROTO_REQUEST = 3,  /* client -> server, see struct proto_request */
    PROTO_RESPONSE = 4, /* server -> client: {"id":u64,"answer":{...}} */
    PROTO_CLOSE = 5,    /* server -> client: {"status":int,"error":str} */
    /* The authenticated handshake (api/secure.h, docs/PROTOCOL.md). */
    PROTO_CHALLENGE = 6, /* server -> client: {"eph","node","sig"} */
    PROTO_AUTH = 7,      /* client -> server: {"key","sig"} */
    PROTO_SEALED = 8,    /* either way: an encrypted inner frame */
};

/* Fill @hdr with the header of a frame of @type carrying @payload_len bytes. */
void proto_header_write(uint8_t hdr[PROTO_HEADER_SIZE],
                        enum proto_frame_type type,
                        size_t payload_len);

/* One frame found in a receive buffer.  @payload points into that buffer. */
struct proto_frame
{
    enum proto_frame_type type;
    const uint8_t *payload;
    size_t len;
};

/* Look for one whole frame at the start of @buf (@len bytes).
 *
 * Returns 0 and sets *@consumed to the frame's full size when one is there;
 * returns 0 with *@consumed = 0 when more bytes are needed; returns
 * AUGUR_ETOOBIG when the announced length exceeds @max, AUGUR_EMALFORMED when
 * it is 0 or the type is unknown.  The length check happens as soon as the
 * 4 length bytes are in, so an oversized frame is refused without buffering
 * it.  The payload is not decoded. */
int proto_frame_parse(const uint8_t *buf,
                      size_t len,
                      size_t max,
                      struct proto_frame *frame,
                      size_t *consumed);

/* Append a whole frame (header + @payload) to @out.  AUGUR_ETOOBIG if it
 * exceeds PROTO_FRAME_MAX, AUGUR_ENOMEM. */
int proto_frame_append(msgpack_sbuffer *out,
                       enum proto_frame_type type,
                       const void *payload,
                       size_t len);

/* Decode a frame payload into @out (which the caller initialises with
 * msgpack_unpacked_init and destroys with msgpack_unpacked_destroy).  The
 * payload must be exactly one msgpack map: trailing bytes, a non-map or a
 * truncated object give AUGUR_EMALFORMED; more than PROTO_OBJECTS_MAX
 * objects give AUGUR_ETOOBIG, found by walking the encoding before
 * msgpack-c allocates anything. */
int proto_payload_unpack(const uint8_t *payload,
                         size_t len,
                         msgpack_unpacked *out);
/* The same with a chosen bound, @max_objects; when @objects is not NULL it
 * is set to the number of objects decoded (what the decoded form costs,
 * about sizeof(msgpack_object) each). */
int proto_payload_unpack_max(const uint8_t *payload,
                             size_t len,
                             size_t max_objects,
                             msgpack_unpacked *out,
                             size_t *objects);

struct proto_hello
{
    uint32_t version;
    uint64_t client; /* random client id, != 0 */
    char auth[16];   /* the scheme: SECURE_SCHEME, or "none" */
};
/* Decode a HELLO map: "v" (>= 1), "client" (>= 1) and "auth" (< 16 bytes)
 * are required, or AUGUR_EMALFORMED with a reason.  The version and the
 * scheme are the caller's to judge (PROTO_VERSION, SECURE_SCHEME). */
int proto_hello_decode(const msgpack_object *map,
                       struct proto_hello *h,
                       char *errmsg /* 256 bytes */);
/* Append a whole HELLO frame (header + map) to @out: AUGUR_ENOMEM. */
int proto_hello_encode(msgpack_sbuffer *out, const struct proto_hello *h);

/* A request:
 *   {"id": u64, "op": NAME, "args": {...}, "seq": u64, "ack": u64,
 *    "stale": bool, "wait_ms": u32}
 * with NAME an op's wire name from common/ops.h.  "args" is absent for ops
 * without arguments.  "seq"/"ack" are set on writes (the session of the
 * connection's client id).  "stale" asks a read to be served from the local
 * node without a barrier.  "wait_ms" makes an "events" read wait up to that
 * long for a revision >= its "from". */
struct proto_request
{
    uint64_t id;
    const char *op; /* points into the unpacked object, not NUL-terminated */
    size_t op_len;
    const msgpack_object *args; /* NULL when absent */
    uint64_t seq;
    uint64_t ack;
    int stale;
    uint32_t wait_ms;
};

/* Decode @map into @req; pointers refer into @map's zone.  AUGUR_EMALFORMED
 * with a reason in @errmsg (256 bytes) when a field is missing or mistyped. */
int proto_request_decode(const msgpack_object *map,
                         struct proto_request *req,
                         char *errmsg);

/* Append a whole REQUEST frame to @out; @args is the packed args map (or
 * NULL, 0).  "seq" and "ack" are sent when seq != 0.  AUGUR_EINVAL when op
 * is not 1 to PROTO_OP_MAX bytes, AUGUR_ETOOBIG, AUGUR_ENOMEM; on error @out
 * is left as it was (so are the other appenders'). */
int proto_request_append(msgpack_sbuffer *out,
                         const struct proto_request *req,
                         const void *args,
                         size_t args_len);

/* Append a whole RESPONSE frame to @out: {"id": @id, "answer": <answer>},
 * where @answer is an already packed answer map (see store.h); AUGUR_EINVAL
 * when it is empty. */
int proto_response_append(msgpack_sbuffer *out,
                          uint64_t id,
                          const void *answer,
                          size_t answer_len);

/* Append a whole CLOSE frame to @out. */
int proto_close_append(msgpack_sbuffer *out, int status, const char *reason);

/* Pack a server-made answer {"status": s, "error": msg} and optionally
 * "leader": hint (an ENOTLEADER redirect; NULL for none) into @out. */
int proto_answer_error(msgpack_sbuffer *out,
                       int status,
                       const char *msg,
                       const char *leader_hint);

/* The "status" of a packed answer map (@len bytes at @answer) without
 * decoding the rest: every answer this project makes (the store's, the
 * node's and proto_answer_error's) packs it as its first key.  0 with
 * *@status set, or AUGUR_EMALFORMED when the answer does not start so. */
int proto_answer_status(const void *answer, size_t len, int *status);

#endif
