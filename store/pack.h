/* store/, lowest layer: msgpack and keys (pack.c) and the command codec
 * (codec.c).  Calls nothing above it. */
#ifndef AUGUR_STORE_PACK_H
#define AUGUR_STORE_PACK_H

#include "store/store_int.h"

/* ---- pack.c: msgpack and keys ---------------------------------------- */

void store__pack_init(struct store__pack *p, msgpack_sbuffer *sb);
void store__pack_str(struct store__pack *p, const char *str);
void store__pack_strn(struct store__pack *p, const char *str, size_t len);
void store__pack_raw(struct store__pack *p, const void *buf, size_t len);
void store__pack_capacity(struct store__pack *p,
                          const struct store_capacity *c);

/* Check that @buf holds exactly one msgpack object, nested at most a few
 * levels, whose every declared length and count is backed by bytes (so
 * unpacking it allocates in proportion to @len).  Returns 0 or
 * AUGUR_EMALFORMED. */
int store__msgpack_check(const void *buf, size_t len);

/* Unpack one checked object from @buf into @zone; its strings point into
 * @buf.  Returns 0, AUGUR_EMALFORMED or AUGUR_ENOMEM. */
int store__unpack_in(msgpack_zone *zone,
                     const void *buf,
                     size_t len,
                     msgpack_object *obj);
/* The same into s->zone, cleared first: the object is valid until the next
 * unpack. */
int store__unpack(struct store *s,
                  const void *buf,
                  size_t len,
                  msgpack_object *obj);

/* Typed reads of msgpack objects: 0 or AUGUR_EMALFORMED. */
int store__obj_u64(const msgpack_object *o, uint64_t *out);
int store__obj_i64(const msgpack_object *o, int64_t *out);
int store__obj_str(const msgpack_object *o, char *out, size_t size);

/* Big-endian integers, for keys. */
void store__be64_put(unsigned char *p, uint64_t v);
uint64_t store__be64_get(const unsigned char *p);

/* A key made of two ids joined by a NUL ("host\0workload"); returns its
 * length.  @key has STORE__KEY_MAX bytes. */
size_t store__pair_key(unsigned char *key, const char *a, const char *b);
/* Split such a key; 0, or AUGUR_EMALFORMED when it is not two valid ids. */
int store__pair_split(const MDB_val *k, char *a, char *b);

/* ---- codec.c: commands ------------------------------------------------ */

/* Validate a command's fields (as decoded or built by a caller).  Returns
 * 0, AUGUR_EINVAL or AUGUR_ETOOBIG with the reason in @errmsg. */
int store__cmd_check(const struct store_cmd *cmd, char *errmsg);

/* store_cmd_decode with s->zone: no allocation per command. */
int store__cmd_decode(struct store *s,
                      const void *buf,
                      size_t len,
                      struct store_cmd *cmd,
                      char *errmsg);

/* The digest of what a command asks for: its op and its encoded arguments,
 * not its session, time or principal.  An answer is remembered with the
 * digest of its command, so that a (client, seq) reused for another command
 * is refused rather than answered with the first one's answer.  @scratch is
 * overwritten.  Returns 0 or AUGUR_ENOMEM. */
int store__cmd_digest(const struct store_cmd *cmd,
                      msgpack_sbuffer *scratch,
                      unsigned char out[STORE__CMD_DIGEST_SIZE]);

/* True when @id is a valid identifier of @len bytes. */
bool store__id_valid(const char *id, size_t len);
/* True when @name is a valid feature name of a reason (score.set). */
bool store__feature_valid(const char *name, size_t len);

/* ---- argument fields (common/ops.h's ARGS column) ----------------------- */

/* How an argument is read, checked and written. */
enum store__field_type
{
    STORE__T_ID,        /* an identifier (store__id_valid) */
    STORE__T_KIND,      /* a resource kind */
    STORE__T_ADDR,      /* HOST:PORT */
    STORE__T_NODE_ROLE, /* voter, standby, spare, removed */
    STORE__T_KEY,       /* a public key, 64 lowercase hex digits */
    STORE__T_STATE,     /* a resource state, by name */
    STORE__T_EDGE_KIND, /* an edge kind, by name */
    STORE__T_ROLE,      /* a principal's role, by name */
    STORE__T_U64,
    STORE__T_I64,
    STORE__T_PROB,            /* a probability in [0, 1] */
    STORE__T_WINDOW,          /* seconds, > 0, default STORE__WINDOW_DEFAULT */
    STORE__T_FROM,            /* a revision, default 1 */
    STORE__T_LIMIT,           /* a page size, cut to STORE_LIST_LIMIT_MAX */
    STORE__T_CAPACITY,        /* {"cpu", "mem_mb"} */
    STORE__T_LABELS,          /* {key: value}: resource_add's labels */
    STORE__T_LIST,            /* a page: after, limit */
    STORE__T_LIST_EDGES,      /* after ("FROM/TO"), resource, limit */
    STORE__T_LIST_CLAIMS,     /* after, host, limit */
    STORE__T_LIST_PRINCIPALS, /* after, limit */
    STORE__T_CONF,            /* score's optional confidence in [0, 1] */
    STORE__T_REASONS,         /* [{"feature", "contribution"}]: score's */
    STORE__T_BYTES,           /* binary, 1..STORE_MODEL_CHUNK_MAX bytes */
    STORE__T_DIGEST,          /* 64 lowercase hex digits (BLAKE2b-256) */
    STORE__T_RESOURCES,       /* [id, ...]: an agent principal's scope */
    STORE__T_WORKLOADS,       /* [id, ...]: a cohort's members, 1..64 */
    STORE__T_SPREAD,          /* a cohort's spread, by name, default host */
    STORE__T_MIN_RESILIENCE,  /* a probability, default 0.9 */
    STORE__T_STRATEGY,        /* live, standby, blue-green, by name */
    STORE__T_WF_STRATEGY,     /* workflow.create's: has_strategy, strategy */
    STORE__T_WF_REASON,       /* workflow.create's: has_reason, reason */
    STORE__T_BOOL,            /* true or false; false when absent */
    STORE__T_APPROVED,        /* a bool, true when absent: member holds !it */
    STORE__T_WF_EVENT,        /* start, ok, retry, fail, skip */
    STORE__T_TEXT,            /* printable text that fits its member */
    STORE__T_SHADOW_STATE,    /* provisioning, warm, active, released */
    STORE__T_LIST_WORKFLOWS,  /* after (an id), state, limit */
    STORE__T_LIST_PAIRS,      /* after ("A/B"), limit */
};

#define STORE__F_REQ 1u   /* must be given */
#define STORE__F_EMPTY 2u /* may be empty */
#define STORE__F_OMIT 4u  /* not written when empty or 0 */
#define STORE__F_POS 8u   /* must be positive */

struct store__field
{
    const char *key; /* NULL ends a list */
    enum store__field_type type;
    unsigned flags;
    size_t off;  /* in struct store_cmd */
    size_t size; /* of the member */
};

/* The argument fields of @op, ending with a NULL key; NULL for an unknown
 * op. */
const struct store__field *store__op_fields(enum store_op op);

#endif
