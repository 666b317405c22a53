/* store/'s private types: the LMDB schema, the store object and the records
 * its files share.  The functions are declared by layer, lowest first, each
 * file including only its own layer's header and those below:
 *   store/pack.h  msgpack, keys and the command codec (pack.c, codec.c)
 *   store/db.h    LMDB at the edge, meta, paged scans, refusals (db.c)
 *   store/ops.h   the records and their operations (resources.c, ...)
 *   snapshot.c, then store.c (open, apply, dispatch from common/ops.h). */
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
    STORE__DB_SESSIONS,       /* pk, BE client -> [floor, last_time_ms] */
    STORE__DB_SESSION_TIMES,  /* BE time, pk, BE client -> nil: expiry */
    STORE__DB_ANSWERS,        /* pk, BE client, BE seq -> digest, answer */
    STORE__DB_NODES,          /* BE u64 node id -> [raft addr, client addr] */
    STORE__DB_PRINCIPALS,     /* name -> [key hex, role] */
    STORE__DB_PRINCIPAL_KEYS, /* key hex -> name */
    STORE__DB_REVOKED,        /* node key hex -> BE u64 node id */
    STORE__DB_MODELS,         /* name -> model record (models.c) */
    STORE__DB_MODEL_PENDING,  /* name, BE upload, BE u32 index -> chunk */
    STORE__DB_MODEL_DATA,     /* name, BE u32 index -> published chunk */
    STORE__DB_MODEL_ACTIVE,   /* kind -> model name */
    STORE__DB_COHORTS,        /* name -> cohort record (cohorts.c) */
    STORE__DB_COHORT_OF,      /* workload -> cohort name */
    STORE__DB_POLICY,         /* key -> value (policy.c) */
    STORE__DB_WORKFLOWS,      /* BE u64 id -> workflow record */
    STORE__DB_WORKFLOW_OF,    /* workload -> BE u64 id of its workflow in
                                 flight */
    STORE__DB_WORKLOAD_MOVES, /* workload -> [last workflow id, ended_at] */
    STORE__DB_STANDBY,        /* "workload\0host" -> standby record */
    STORE__DB_HOST_STANDBY,   /* "host\0workload" -> epoch */
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
    int prior_state; /* unreachable only: the state a report restores */
    bool leased;     /* its agent has reported: it has a host lease */
    bool has_score;
    double p;
    uint64_t window_s;
    int64_t updated_at;
    double confidence;         /* < 0: not given */
    char model[STORE_ID_SIZE]; /* "" when not given */
    unsigned n_reasons;
    struct store_reason reasons[STORE_REASONS_MAX];
    /* A score set by hand (score.set from a client) holds until then: the
     * leader's scoring leaves it alone; 0 when none. */
    int64_t manual_until;
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
    int strategy; /* enum store_strategy */
};

/* A live claim, decoded. */
struct store__claim
{
    char workload[STORE_ID_SIZE];
    char host[STORE_ID_SIZE];
    uint64_t epoch;
};

/* A principal, decoded. */
struct store__principal
{
    char name[STORE_ID_SIZE];
    char key[STORE_KEY_HEX_SIZE];
    int role;
    unsigned n_resources; /* role agent: its scope */
    char resources[STORE_PRINCIPAL_RESOURCES_MAX][STORE_ID_SIZE];
};

/* Any record, decoded: scratch for checking an entry of any kind. */
union store__any_record
{
    struct store__resource resource;
    struct store__workload workload;
    struct store__claim claim;
    struct store__principal principal;
    struct store_node node;
    struct store_cohort cohort;
    struct store_workflow workflow;
    struct store_standby standby;
};

/* A record kind, one descriptor each (in its concept file): the database
 * it lives in, what messages call one, and
 * how a stored key and value decode into its struct (0 or
 * AUGUR_EMALFORMED).  Loads and the snapshot's checks go through it
 * (store__record_load, store__record_check in db.h). */
struct store__record
{
    enum store__db db;
    const char *what; /* "resource": "the record of resource ID is corrupt" */
    int (*decode)(struct store *s,
                  const MDB_val *k,
                  const MDB_val *v,
                  void *out);
};

/* The longest key of the session databases: time, principal key, client,
 * or principal key, client, seq. */
#define STORE__SESSION_KEY_MAX (STORE_PK_SIZE + 16)

/* The size of a command's digest (store__cmd_digest in pack.h). */
#define STORE__CMD_DIGEST_SIZE 16

/* A session, decoded.  @exists is false for a client seen for the first
 * time.  @digest is the current command's (store__cmd_digest); @remember
 * says whether its answer is kept (not for a session.open without a
 * sequence). */
struct store__session
{
    bool exists;
    bool remember;
    uint64_t floor;
    int64_t last_time_ms;
    unsigned char digest[STORE__CMD_DIGEST_SIZE];
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
    union store__any_record scratch_record; /* see store__record_check */
    struct store_cmd cmd;                   /* scratch for store_apply_raw */
    uint64_t principals_version; /* bumped when principals may change */
    uint64_t orch_version;       /* store_orch_version */
    size_t page_bytes;           /* a page's byte budget (reads) */
    uint64_t revoked_version;    /* bumped when revoked keys may change */
    /* The name of the principal the command being applied came from ("" =
     * none), for its event. */
    char principal[STORE_ID_SIZE];
    /* The write transaction of an open batch (store_batch_begin), shared
     * by the commands applied until store_batch_end; NULL outside one. */
    MDB_txn *batch;
    unsigned batch_n; /* commands applied in it so far */
};

#endif
