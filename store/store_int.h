/* store/'s private interface: the LMDB schema, the store object and the
 * helpers its concept files share. */
#ifndef AUGUR_STORE_INT_H
#define AUGUR_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>
#include <msgpack.h>

#include "store/store.h"

/* The named databases, in the order snapshots and digests walk them.  The
 * order and the names are part of the snapshot format: append only. */
enum store__db
{
    STORE__DB_META = 0,       /* "rev" -> uint */
    STORE__DB_RESOURCES,      /* id -> resource record */
    STORE__DB_PICK,           /* pick key (see resources.c) -> nil */
    STORE__DB_WORKLOADS,      /* id -> workload record */
    STORE__DB_CLAIMS,         /* workload -> [host, epoch]; live claims only */
    STORE__DB_HOST_CLAIMS,    /* "host\0workload" -> epoch */
    STORE__DB_EDGES,          /* "from\0to" -> kind */
    STORE__DB_REDGES,         /* "to\0from" -> kind: the same edges, reversed */
    STORE__DB_EVENTS,         /* BE u64 rev -> event object */
    STORE__DB_SESSIONS,       /* BE u64 client -> [floor, last_time_ms] */
    STORE__DB_SESSION_TIMES,  /* BE time, BE client -> nil: expiry order */
    STORE__DB_ANSWERS,        /* BE u64 client, BE u64 seq -> answer bytes */
    STORE__DB_NODES,          /* BE u64 node id -> [raft addr, client addr] */
    STORE__DB_PRINCIPALS,     /* name -> [key hex, role] */
    STORE__DB_PRINCIPAL_KEYS, /* key hex -> name */
    STORE__DB_COUNT
};

extern const char *const store__db_names[STORE__DB_COUNT];

/* Events kept: the oldest is trimmed when a new one passes this count. */
#define STORE__EVENTS_MAX 100000

/* Default prediction window of score.set, seconds. */
#define STORE__WINDOW_DEFAULT 86400

/* Longest key any database holds ("host\0workload"). */
#define STORE__KEY_MAX (2 * STORE_ID_SIZE)

/* Pick keys: BE p bits, BE ~free cpu, BE ~free mem, then the id. */
#define STORE__PICK_PREFIX 24
#define STORE__PICK_KEY_MAX (STORE__PICK_PREFIX + STORE_ID_SIZE - 1)

/* A msgpack packer whose failures stick: one check after a whole object
 * tells whether every byte made it into the buffer. */
struct store__pack
{
    msgpack_packer pk;
    msgpack_sbuffer *sb;
    int failed;
};

/* A resource record, decoded. */
struct store__resource
{
    char id[STORE_ID_SIZE];
    char kind[STORE_KIND_SIZE];
    unsigned n_labels;
    struct store_label labels[STORE_LABELS_MAX];
    struct store_capacity capacity;
    struct store_capacity used;
    int state;
    bool has_score;
    double p;
    uint64_t window_s;
    int64_t updated_at;
};

/* A workload record, decoded.  @last_epoch is the epoch of the workload's
 * last released claim (0: never released): it is the tombstone that lets
 * the next acquire continue the epoch sequence. */
struct store__workload
{
    char id[STORE_ID_SIZE];
    struct store_capacity demand;
    int64_t priority;
    uint64_t last_epoch;
};

/* A live claim, decoded. */
struct store__claim
{
    char workload[STORE_ID_SIZE];
    char host[STORE_ID_SIZE];
    uint64_t epoch;
};

/* A session, decoded.  @exists is false for a client seen for the first
 * time. */
struct store__session
{
    bool exists;
    uint64_t floor;
    int64_t last_time_ms;
};

/* Scratch for graph walks: a set of visited ids (open addressing over an
 * arena of NUL-terminated strings) and a stack of arena offsets.  It keeps
 * its memory from one walk to the next. */
struct store__walk
{
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    struct store__slot *slots;
    size_t n_slots; /* a power of two, or 0 */
    size_t n_used;
    uint32_t gen; /* slots of another generation are empty */
    uint32_t *stack;
    size_t stack_len;
    size_t stack_cap;
};

/* The store.  One thread uses it at a time (the loop's): nothing is
 * locked, and its scratch buffers are reused from one command to the next. */
struct store
{
    MDB_env *env;
    MDB_dbi dbi[STORE__DB_COUNT];
    MDB_txn *rtxn;           /* read transaction, reset between reads */
    uint64_t rev;            /* committed revision */
    msgpack_zone zone;       /* for unpacking records; cleared before each */
    msgpack_sbuffer result;  /* the current op's result object */
    msgpack_sbuffer items;   /* list items, before their array header */
    msgpack_sbuffer value;   /* a record being encoded */
    msgpack_sbuffer event;   /* the event being appended */
    struct store__pack out;  /* packs into @result */
    struct store__pack list; /* packs into @items */
    int status;              /* the current op's refusal, 0 if none */
    char errmsg[STORE_ERRMSG_SIZE]; /* its reason, or the last failure's */
    struct store__walk walk;
    struct store_cmd cmd;        /* scratch for store_apply_raw */
    uint64_t principals_version; /* bumped when principals may change */
};

/* ---- store.c: LMDB at the edge, refusals ------------------------------ */

/* Translate an LMDB error: log it, keep "@what: message" in s->errmsg and
 * return AUGUR_ENOMEM or AUGUR_EIO. */
int store__mdb_fail(struct store *s, int rc, const char *what);

/* Point lookups and updates.  store__get returns 0, AUGUR_ENOTFOUND or a
 * translated failure; @val is valid until the next write in @txn.
 * store__del returns AUGUR_ENOTFOUND for a missing key. */
int store__get(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen,
               MDB_val *val);
int store__put(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen,
               const void *val,
               size_t vlen);
int store__del(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen);

/* Open a cursor on @db; the caller closes it with mdb_cursor_close. */
int store__cursor(struct store *s,
                  MDB_txn *txn,
                  enum store__db db,
                  MDB_cursor **cur);
/* Position @cur on the first key >= @key (MDB_SET_RANGE) or move it
 * (@op).  Returns 0, AUGUR_ENOTFOUND at the end, or a failure. */
int store__seek(struct store *s,
                MDB_cursor *cur,
                const void *key,
                size_t klen,
                MDB_val *k,
                MDB_val *v);
int store__step(struct store *s,
                MDB_cursor *cur,
                MDB_cursor_op op,
                MDB_val *k,
                MDB_val *v);

/* Refuse the current op: the answer carries @status and the message, and
 * nothing changes.  Returns 0 so that handlers can `return` it. */
int store__refuse(struct store *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The effective page size of a list. */
unsigned store__list_limit(unsigned limit);

/* Pack the list result {"items": [@n_items packed in s->items], "next":
 * @next or nil} as the current op's result. */
int store__list_finish(struct store *s, size_t n_items, const char *next);

/* One page of a list over the keys of @db that start with @prefix, from
 * the first key after prefix + @after (exclusive).  @item packs one item
 * into s->list; it sees the key without the prefix.  On return @n is the
 * number of items, @more tells whether another key follows, and @last
 * holds the last item's key (without the prefix): the next page's
 * cursor. */
struct store__scan
{
    enum store__db db;
    const void *prefix;
    size_t prefix_len;
    const void *after;
    size_t after_len;
    unsigned limit;
    int (*item)(struct store *s,
                MDB_txn *txn,
                const MDB_val *k,
                const MDB_val *v,
                void *ctx);
    void *ctx;
    size_t n;
    bool more;
    unsigned char last[STORE__KEY_MAX];
    size_t last_len;
};
int store__scan_page(struct store *s, MDB_txn *txn, struct store__scan *sc);
/* Finish a list whose cursor is the last key itself (an id). */
int store__scan_finish(struct store *s, const struct store__scan *sc);
/* The whole list op over @db keyed by id (no prefix, no context): one page
 * from cmd->u.list.after, finished with the last id as the cursor. */
int store__list_ids(struct store *s,
                    MDB_txn *txn,
                    const struct store_cmd *cmd,
                    enum store__db db,
                    int (*item)(struct store *s,
                                MDB_txn *txn,
                                const MDB_val *k,
                                const MDB_val *v,
                                void *ctx));

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

/* True when @id is a valid identifier of @len bytes. */
bool store__id_valid(const char *id, size_t len);

/* ---- resources.c ------------------------------------------------------ */

/* 1 for the kinds that may be granted claims (host, vm, container). */
bool store__kind_is_host(const char *kind);
int store__resource_load(struct store *s,
                         MDB_txn *txn,
                         const char *id,
                         struct store__resource *r);
/* Write @r, keeping the pick index in step with @old (NULL: new). */
int store__resource_store(struct store *s,
                          MDB_txn *txn,
                          const struct store__resource *old,
                          const struct store__resource *r);
void store__resource_pack(struct store__pack *p,
                          const struct store__resource *r);
/* Decode a pick key into the host's free capacity, its p bits and id. */
int store__pick_key_decode(const MDB_val *k,
                           uint64_t *p_bits,
                           struct store_capacity *free_cap,
                           char *id);
int store__resource_add(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__resource_set_state(struct store *s,
                              MDB_txn *txn,
                              const struct store_cmd *cmd);
int store__score_set(struct store *s,
                     MDB_txn *txn,
                     const struct store_cmd *cmd);
int store__resource_get(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__resource_list(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__resource_entry_check(struct store *s,
                                const MDB_val *k,
                                const MDB_val *v);
int store__pick_entry_check(struct store *s,
                            const MDB_val *k,
                            const MDB_val *v);

/* ---- workloads.c ------------------------------------------------------ */

int store__workload_load(struct store *s,
                         MDB_txn *txn,
                         const char *id,
                         struct store__workload *w);
int store__workload_store(struct store *s,
                          MDB_txn *txn,
                          const struct store__workload *w);
int store__workload_add(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__workload_get(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__workload_list(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__workload_entry_check(struct store *s,
                                const MDB_val *k,
                                const MDB_val *v);

/* ---- claims.c --------------------------------------------------------- */

int store__claim_load(struct store *s,
                      MDB_txn *txn,
                      const char *workload,
                      struct store__claim *c);
void store__claim_pack(struct store__pack *p, const struct store__claim *c);
int store__claim_acquire(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__claim_transfer(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd);
int store__claim_release(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__claim_get(struct store *s,
                     MDB_txn *txn,
                     const struct store_cmd *cmd);
int store__claim_list(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd);
int store__claim_entry_check(struct store *s,
                             const MDB_val *k,
                             const MDB_val *v);
int store__host_claim_entry_check(struct store *s,
                                  const MDB_val *k,
                                  const MDB_val *v);

/* ---- edges.c ---------------------------------------------------------- */

int store__edge_add(struct store *s, MDB_txn *txn, const struct store_cmd *cmd);
int store__edge_remove(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd);
int store__edge_list(struct store *s,
                     MDB_txn *txn,
                     const struct store_cmd *cmd);
int store__edge_entry_check(struct store *s,
                            const MDB_val *k,
                            const MDB_val *v);
void store__walk_close(struct store__walk *w);

/* ---- events.c --------------------------------------------------------- */

/* Record the current op's result as the event of revision @rev and trim
 * the oldest event past STORE__EVENTS_MAX. */
int store__event_append(struct store *s,
                        MDB_txn *txn,
                        uint64_t rev,
                        const struct store_cmd *cmd);
/* The events op: the events from cmd->u.events.from (0 reads as 1) on.  A
 * revision older than the oldest event kept was compacted: refused with
 * AUGUR_ECOMPACTED and the result {"oldest", "rev"}, never answered from a
 * later revision. */
int store__events_read(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd);
int store__event_entry_check(struct store *s,
                             const MDB_val *k,
                             const MDB_val *v);

/* ---- sessions.c ------------------------------------------------------- */

/* Before a write of a client with a session: when (client, seq) was
 * answered before, append that answer to @answer and set *@done; when seq
 * is below the session's floor, append an ESESSION answer and set *@done.
 * Otherwise fill @sess for store__session_record. */
int store__session_check(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd,
                         msgpack_sbuffer *answer,
                         struct store__session *sess,
                         bool *done);
/* After the write: forget the answers below cmd->ack, raise the floor,
 * stamp the session with the command's time and remember @answer. */
int store__session_record(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd,
                          const struct store__session *sess,
                          const void *answer,
                          size_t len);
int store__session_expire(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd);
int store__session_entry_check(struct store *s,
                               const MDB_val *k,
                               const MDB_val *v);
int store__session_time_entry_check(struct store *s,
                                    const MDB_val *k,
                                    const MDB_val *v);
int store__answer_entry_check(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v);

/* ---- nodes.c ---------------------------------------------------------- */

int store__node_set(struct store *s, MDB_txn *txn, const struct store_cmd *cmd);
int store__node_list(struct store *s,
                     MDB_txn *txn,
                     const struct store_cmd *cmd);
int store__node_entry_check(struct store *s,
                            const MDB_val *k,
                            const MDB_val *v);

/* ---- principals.c ---------------------------------------------------- */

int store__principal_add(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__principal_remove(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd);
int store__principal_bootstrap(struct store *s,
                               MDB_txn *txn,
                               const struct store_cmd *cmd);
int store__principal_list(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd);
int store__principal_entry_check(struct store *s,
                                 const MDB_val *k,
                                 const MDB_val *v);
int store__principal_key_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v);
/* The meta key that marks the first admin as recorded. */
int store__meta_auth_get(struct store *s, MDB_txn *txn, bool *set);
int store__meta_auth_put(struct store *s, MDB_txn *txn);

/* ---- store.c: meta ---------------------------------------------------- */

int store__meta_entry_check(struct store *s,
                            const MDB_val *k,
                            const MDB_val *v);
/* Read the revision recorded in @txn (0 when none). */
int store__meta_rev(struct store *s, MDB_txn *txn, uint64_t *rev);

#endif
