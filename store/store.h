/* The replicated state machine: fleet model in LMDB, command codec, apply,
 * reads, snapshot and restore.  No network, no clock, no randomness: time
 * enters only as the leader's stamp inside a command. */
#ifndef AUGUR_STORE_H
#define AUGUR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/error.h"
#include "common/ops.h"

#define STORE_WARN_UNUSED __attribute__((warn_unused_result))

/* Hard limits on identifiers and labels; longer input is refused with
 * AUGUR_ETOOBIG.  Sizes include the terminating NUL. */
#define STORE_ID_SIZE 128  /* resource and workload ids */
#define STORE_KIND_SIZE 32 /* resource kind */
#define STORE_LABEL_KEY_SIZE 64
#define STORE_LABEL_VALUE_SIZE 128
#define STORE_LABELS_MAX 16
/* Resources an agent principal may report for. */
#define STORE_PRINCIPAL_RESOURCES_MAX 16
#define STORE_ADDR_SIZE 64 /* "host:port" */
#define STORE_NODE_ROLE_SIZE 16
#define STORE_ERRMSG_SIZE 256
/* List cursors ("after"): an id, or "FROM/TO" for edge.list. */
#define STORE_CURSOR_SIZE (2 * STORE_ID_SIZE)
#define STORE_LIST_LIMIT_DEFAULT 1000
#define STORE_LIST_LIMIT_MAX 10000
/* A page of a list or of events also ends before its items pass this many
 * bytes (store_page_bytes_set), so that an answer stays well under the
 * frame limit whatever the records hold; a page holds at least one item. */
#define STORE_PAGE_BYTES_DEFAULT (1u << 20)

/* Models in the store (model.chunk, model.commit, model.activate): a model
 * file is published as chunks of at most STORE_MODEL_CHUNK_MAX bytes (the
 * CLI sends STORE_MODEL_CHUNK_SIZE), at most STORE_MODEL_CHUNKS_MAX of
 * them, and becomes visible only with the commit that checks them all. */
#define STORE_MODEL_CHUNK_SIZE (256u << 10)
#define STORE_MODEL_CHUNK_MAX (1u << 20)
#define STORE_MODEL_CHUNKS_MAX 1024
#define STORE_MODEL_SIZE_MAX (64ull << 20)
/* A checksum: BLAKE2b-256 of the file, 64 lowercase hex digits + NUL. */
#define STORE_DIGEST_HEX_SIZE 65

/* The top reasons a score.set may carry (feature names are identifiers of
 * at most STORE_FEATURE_SIZE - 1 bytes, "/" allowed too). */
#define STORE_REASONS_MAX 5
#define STORE_FEATURE_SIZE 64

struct store_reason
{
    char feature[STORE_FEATURE_SIZE];
    double contribution; /* finite */
};

/* Cohorts (cohort.create): a group of workloads that must stay available
 * together, spread over failure domains. */
#define STORE_COHORT_MEMBERS_MAX 64
enum store_spread
{
    STORE_SPREAD_NONE,
    STORE_SPREAD_HOST,
    STORE_SPREAD_RACK,
    STORE_SPREAD_ZONE,
    STORE_SPREAD_PSU,
    STORE_SPREAD_SWITCH,
    STORE_SPREAD_COUNT
};
/* "host" <-> STORE_SPREAD_HOST; -1 / NULL when unknown. */
int store_spread_parse(const char *name, size_t len);
const char *store_spread_name(int spread);
#define STORE_MIN_RESILIENCE_DEFAULT 0.9
/* A policy value as policy.set carries it (text, parsed per key). */
#define STORE_POLICY_VALUE_SIZE 128

/* Bytes a command carries (model.chunk's data).  Not a copy: @ptr points
 * into the buffer the command was decoded from, so it is valid only as long
 * as that buffer (a request being handled, an entry being applied). */
struct store_bytes
{
    const void *ptr;
    size_t len;
};

/* Operations, one per row of common/ops.h's AUGUR_STORE_OPS.  Numbers are
 * stored in the Raft log: append-only. */
enum store_op
{
    STORE_OP_NONE = 0,
#define STORE_OP__ENUM(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    STORE_OP_##ID = NUM,
    AUGUR_STORE_OPS(STORE_OP__ENUM)
#undef STORE_OP__ENUM
};

/* Wire names (claim.acquire) <-> op numbers.  store_op_from_name returns
 * STORE_OP_NONE for an unknown name; store_op_name returns NULL for an
 * unknown op. */
enum store_op store_op_from_name(const char *name, size_t len);
const char *store_op_name(enum store_op op);
/* True for ops that change state and so go through Raft. */
int store_op_is_write(enum store_op op);

enum store_state
{
    STORE_STATE_ACTIVE = 0,
    STORE_STATE_STANDBY = 1,
    STORE_STATE_DEGRADED = 2,
    STORE_STATE_DRAINING = 3,
    STORE_STATE_FAILED = 4,
    STORE_STATE_QUARANTINED = 5,
    /* Set by the leader when a host's telemetry lease expires
     * (resource.lease); the record keeps the state it had before, which a
     * report restores. */
    STORE_STATE_UNREACHABLE = 6,
    STORE_STATE_COUNT
};
/* "active" <-> STORE_STATE_ACTIVE; -1 / NULL when unknown. */
int store_state_parse(const char *name, size_t len);
const char *store_state_name(int state);

enum store_edge_kind
{
    STORE_EDGE_POWER = 0,
    STORE_EDGE_NETWORK = 1,
    STORE_EDGE_STORAGE = 2,
    STORE_EDGE_WORKLOAD = 3,
    STORE_EDGE_COOLING = 4,
    STORE_EDGE_COUNT
};
int store_edge_kind_parse(const char *name, size_t len);
const char *store_edge_kind_name(int kind);

/* Migration workflows and standby claims (docs/ORCHESTRATOR.md).  A
 * workload's strategy says how it moves; a workflow's reason why it moved.
 * (The reason enum is store_wf_reason: struct store_reason, a score's
 * reason, holds the tag store_reason.) */
enum store_strategy
{
    STORE_STRATEGY_LIVE = 0,
    STORE_STRATEGY_STANDBY = 1,
    STORE_STRATEGY_BLUE_GREEN = 2,
    STORE_STRATEGY_COUNT
};
enum store_wf_reason
{
    STORE_REASON_PREDICTED = 0,
    STORE_REASON_FAILED = 1,
    STORE_REASON_MANUAL = 2,
    STORE_REASON_REBALANCE = 3,
    STORE_REASON_COUNT
};
enum store_wf_state
{
    STORE_WF_PENDING = 0,
    STORE_WF_RUNNING = 1,
    STORE_WF_DONE = 2,
    STORE_WF_ROLLED_BACK = 3,
    STORE_WF_FAILED = 4,
    STORE_WF_CANCELLED = 5,
    STORE_WF_STATE_COUNT
};
enum store_step_state
{
    STORE_STEP_PENDING = 0,
    STORE_STEP_RUNNING = 1,
    STORE_STEP_DONE = 2,
    STORE_STEP_FAILED = 3,
    STORE_STEP_SKIPPED = 4,
    STORE_STEP_STATE_COUNT
};
/* What workflow.advance reports about a step. */
enum store_wf_event
{
    STORE_WF_EVENT_START = 0,
    STORE_WF_EVENT_OK = 1,
    STORE_WF_EVENT_RETRY = 2,
    STORE_WF_EVENT_FAIL = 3,
    STORE_WF_EVENT_SKIP = 4,
    STORE_WF_EVENT_COUNT
};
enum store_shadow_state
{
    STORE_SHADOW_PROVISIONING = 0,
    STORE_SHADOW_WARM = 1,
    STORE_SHADOW_ACTIVE = 2,
    STORE_SHADOW_RELEASED = 3,
    STORE_SHADOW_STATE_COUNT
};
/* "live" <-> STORE_STRATEGY_LIVE and so on: -1 / NULL when unknown. */
int store_strategy_parse(const char *name, size_t len);
const char *store_strategy_name(int strategy);
int store_wf_reason_parse(const char *name, size_t len);
const char *store_wf_reason_name(int reason);
int store_wf_state_parse(const char *name, size_t len);
const char *store_wf_state_name(int state);
const char *store_step_state_name(int state);
int store_wf_event_parse(const char *name, size_t len);
const char *store_wf_event_name(int event);
int store_shadow_state_parse(const char *name, size_t len);
const char *store_shadow_state_name(int state);

/* notify, prepare, mirror, up to STORE_SHIFT_STEPS_MAX shifts, transfer,
 * activate, keep_warm, release and three rollback steps fit. */
#define STORE_WF_STEPS_MAX 32
#define STORE_STEP_NAME_SIZE 16
/* policy shift_steps: at most this many entries, this many bytes. */
#define STORE_SHIFT_STEPS_MAX 16
#define STORE_SHIFT_STEPS_SIZE 96
#define STORE_DETAIL_SIZE 128
/* workflow.advance's detail: at most this many bytes. */
#define STORE_WF_DETAIL_MAX 120
#define STORE_DRIFT_SIZE 64
/* Finished workflows kept; the oldest finished is trimmed past it. */
#define STORE_WORKFLOWS_KEPT 10000

/* Roles of principals (docs/ARCHITECTURE.md says what each may do). */
enum store_role
{
    STORE_ROLE_ADMIN = 0,
    STORE_ROLE_OPERATOR = 1,
    STORE_ROLE_AGENT = 2,
    STORE_ROLE_READER = 3,
    STORE_ROLE_COUNT
};
int store_role_parse(const char *name, size_t len);
const char *store_role_name(int role);

/* A principal's public key: 64 lowercase hex digits (Ed25519) + NUL. */
#define STORE_KEY_HEX_SIZE 65

struct store_capacity
{
    uint64_t cpu;
    uint64_t mem_mb;
};

struct store_label
{
    char key[STORE_LABEL_KEY_SIZE];
    char value[STORE_LABEL_VALUE_SIZE];
};

/* A principal's raw public key (Ed25519), as commands carry it. */
#define STORE_PK_SIZE 32

/* A decoded command or query.  Strings are NUL-terminated copies, so a
 * command outlives the buffer it was decoded from.  Fields of the union
 * member for @op only are meaningful. */
struct store_cmd
{
    enum store_op op;
    /* Session (writes only; client 0 means "no session": no dedup).  A
     * session is keyed by (principal, client). */
    uint64_t client; /* client id, chosen at random by the client */
    uint64_t seq;    /* client's sequence number, from 1 */
    uint64_t ack;    /* lowest seq the client still awaits an answer for */
    int64_t time_ms; /* leader's wall clock when proposed, ms since epoch */
    /* The authenticated principal that sent the command, stamped by the
     * leader on every client write ("pk" in the log entry).  The cluster's
     * own commands, and entries written before principals were stamped,
     * carry none: for them apply checks no principal and keeps the rules
     * of before (no registration, the all-zero key in session keys). */
    bool has_principal;
    uint8_t principal[STORE_PK_SIZE];
    union
    {
        struct
        {
            char id[STORE_ID_SIZE];
            char kind[STORE_KIND_SIZE];
            struct store_capacity capacity;
            unsigned n_labels;
            struct store_label labels[STORE_LABELS_MAX];
        } resource_add;
        struct
        {
            char id[STORE_ID_SIZE];
            int state; /* enum store_state */
        } set_state;
        struct
        {
            char id[STORE_ID_SIZE];
            struct store_capacity demand;
            int64_t priority;
            int strategy; /* enum store_strategy; live when not given */
        } workload_add;
        struct
        {
            char from[STORE_ID_SIZE];
            char to[STORE_ID_SIZE];
            int kind; /* enum store_edge_kind; ignored by edge.remove */
        } edge;
        struct
        {
            char workload[STORE_ID_SIZE];
            char host[STORE_ID_SIZE]; /* "" = let the store pick */
        } acquire;
        struct
        {
            char workload[STORE_ID_SIZE];
            char to[STORE_ID_SIZE];
            uint64_t epoch;
        } transfer;
        struct
        {
            char workload[STORE_ID_SIZE];
            uint64_t epoch;
        } release;
        struct
        {
            char id[STORE_ID_SIZE];
            double p;          /* probability in [0, 1] */
            uint64_t window_s; /* prediction window, > 0 */
            bool has_confidence;
            double confidence;         /* [0, 1] when given */
            char model[STORE_ID_SIZE]; /* "name@version", "" when none */
            unsigned n_reasons;
            struct store_reason reasons[STORE_REASONS_MAX];
        } score;
        struct
        {
            char name[STORE_ID_SIZE];
            uint64_t upload; /* the publish session, chosen by the client */
            uint64_t index;  /* model.chunk: the chunk's number, from 0 */
            struct store_bytes data;              /* model.chunk */
            uint64_t chunks;                      /* model.commit */
            uint64_t size;                        /* model.commit */
            char checksum[STORE_DIGEST_HEX_SIZE]; /* model.commit */
            char kind[STORE_KIND_SIZE]; /* commit: the model's own kind;
                                           activate: the kind it scores;
                                           "" = the default */
        } model;
        struct
        {
            uint64_t id;
            char raft_address[STORE_ADDR_SIZE];
            char client_address[STORE_ADDR_SIZE];
            /* The membership asked for: "voter", "standby", "spare" or
             * "removed"; "" keeps what the record says. */
            char role[STORE_NODE_ROLE_SIZE];
        } node;
        struct
        {
            uint64_t ttl_ms; /* sessions idle longer than this are dropped */
        } expire;
        struct
        {
            char name[STORE_ID_SIZE];
            char key[STORE_KEY_HEX_SIZE]; /* add, bootstrap */
            int role;                     /* enum store_role; add */
            /* add, role agent: the resources it may report for */
            unsigned n_resources;
            char resources[STORE_PRINCIPAL_RESOURCES_MAX][STORE_ID_SIZE];
        } principal;
        struct
        {
            char id[STORE_ID_SIZE];
            int expect; /* enum store_state: refused unless current */
            int state;  /* the new state; unreachable keeps expect as prior */
        } lease;
        struct
        {
            uint64_t id; /* the node the key was certified for */
            char key[STORE_KEY_HEX_SIZE]; /* its node key */
        } revoke;
        struct
        {
            uint64_t id; /* advance, cancel, approve, workflow.get */
            char workload[STORE_ID_SIZE]; /* create */
            char to[STORE_ID_SIZE];       /* create: "" = the store picks */
            bool has_strategy;            /* create: false = the workload's */
            int strategy;                 /* enum store_strategy */
            bool has_reason;              /* create: false = manual */
            int reason;                   /* enum store_wf_reason */
            bool notify; /* create: a notify step (prepare-shutdown) first */
            /* create: "approved": false, the cluster's own proposal waits
             * for workflow.approve (a zeroed command is approved). */
            bool hold;
            uint64_t step;    /* advance: the step's index */
            uint64_t attempt; /* advance: the step's attempt */
            int event;        /* advance: enum store_wf_event */
            char detail[STORE_WF_DETAIL_MAX + 1]; /* advance, "" = none */
        } workflow;
        struct
        {
            char workload[STORE_ID_SIZE];
            char host[STORE_ID_SIZE];
            uint64_t epoch;               /* update, release: the CAS */
            int state;                    /* update: store_shadow_state */
            uint64_t lag_ms;              /* update; 0 when not given */
            char drift[STORE_DRIFT_SIZE]; /* update; "" when not given */
        } shadow;
        struct
        {
            char name[STORE_ID_SIZE];
            unsigned n_workloads; /* create: 1..STORE_COHORT_MEMBERS_MAX */
            char workloads[STORE_COHORT_MEMBERS_MAX][STORE_ID_SIZE];
            int spread;                   /* enum store_spread; create */
            uint64_t min_available;       /* create: 0 = every member */
            double min_resilience;        /* create: [0, 1] */
            char workload[STORE_ID_SIZE]; /* add, remove */
        } cohort;
        struct
        {
            char key[STORE_ID_SIZE];
            char value[STORE_POLICY_VALUE_SIZE];
        } policy;
        struct
        {
            char id[STORE_ID_SIZE]; /* resource.get, workload.get, claim.get,
                                       cohort.get */
        } get;
        struct
        {
            char after[STORE_CURSOR_SIZE]; /* page start (exclusive), "" =
                                              first */
            char filter[STORE_ID_SIZE];    /* claim.list: host; edge.list:
                                              resource on either end; "" = all */
            unsigned limit;                /* 0 = STORE_LIST_LIMIT_DEFAULT */
        } list;
        struct
        {
            uint64_t from; /* first revision wanted (inclusive) */
            unsigned limit;
        } events;
    } u;
};

/* Command codec.
 *
 * The wire form of a command is a msgpack map:
 *   {"op": NAME, "args": {"workload": "w1", "to": "h2", "epoch": 3},
 *    "client": u64, "seq": u64, "ack": u64, "time": i64, "pk": bin32}
 * with NAME the op's wire name from common/ops.h (claim.transfer here).
 * The session keys and "time" are optional (0 when absent); "pk" (the
 * principal, see struct store_cmd) is written only when there is one.  The
 * argument maps of each op are listed in docs/ARCHITECTURE.md.
 *
 * store_cmd_decode_args fills @cmd from an op and its "args" object (as a
 * client request carries them); store_cmd_decode reads a whole command (as a
 * Raft entry carries it).  Both validate fully: unknown op, missing or
 * mistyped field, unknown state or kind, over-long string, probability out of
 * range.  They return AUGUR_EMALFORMED, AUGUR_EINVAL or AUGUR_ETOOBIG and
 * write a one-line reason into @errmsg (STORE_ERRMSG_SIZE bytes).  Unknown
 * keys are ignored so that later versions can add fields. */
int store_cmd_decode_args(enum store_op op,
                          const msgpack_object *args,
                          struct store_cmd *cmd,
                          char *errmsg) STORE_WARN_UNUSED;
int store_cmd_decode(const void *buf,
                     size_t len,
                     struct store_cmd *cmd,
                     char *errmsg) STORE_WARN_UNUSED;

/* Append the wire form of @cmd to @out.  Returns 0 or AUGUR_ENOMEM.  A
 * command that fails the decoders' checks is refused with AUGUR_EINVAL or
 * AUGUR_ETOOBIG and nothing is appended: only valid commands reach the log. */
int store_cmd_encode(const struct store_cmd *cmd,
                     msgpack_sbuffer *out) STORE_WARN_UNUSED;

/* Answers.
 *
 * Every answer, from apply or from a read, is one msgpack map:
 *   {"status": 0, "rev": 12, "result": {...}}              on success
 *   {"status": 4, "error": "one line", "result": {...}}    on refusal
 * "status" is an enum augur_err code.  "rev" (writes) is the store
 * revision after the command.  "result" is the object the op documents; a
 * refusal may carry one too (a refused claim.transfer carries the current
 * holder: {"workload", "host", "epoch"}).  The server sends these bytes to
 * the client unchanged. */

/* Append an answer carrying only an error to @out. */
int store_answer_error(msgpack_sbuffer *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))) STORE_WARN_UNUSED;

struct store;

/* Open (creating if needed) the LMDB environment in directory @dir, which
 * must exist.  The state file is a cache of the Raft log, which libraft
 * replays on start, so store_open with STORE_OPEN_RESET empties it first and
 * the environment is written without fsync.  Returns 0, AUGUR_EIO or
 * AUGUR_ENOMEM, with a reason in @errmsg.  The caller owns *@out and closes
 * it with store_close. */
#define STORE_OPEN_RESET 1u
int store_open(const char *dir,
               unsigned flags,
               struct store **out,
               char *errmsg) STORE_WARN_UNUSED;
void store_close(struct store *s);

/* Apply one committed command in one LMDB write transaction.
 *
 * Deterministic: the same sequence of commands gives the same state and the
 * same answers on every node.  Refusals (unknown workload, stale epoch, cycle,
 * ...) and undecodable input are answers, not failures: they change nothing.
 * Principal: a command that carries one applies only if that key is a
 * principal in this state (else AUGUR_EAUTH) whose role reaches the op's
 * row in common/ops.h (else AUGUR_EPERM); it needs a client id and, but for
 * session.open, a sequence (else AUGUR_EINVAL); nothing changes on refusal.
 * Dedup: when cmd->client != 0 and (principal, client, seq) was applied
 * before, the stored answer is returned again and nothing changes (or
 * AUGUR_EINVAL when that seq was used for a different command); answers for
 * seqs below cmd->ack are forgotten; a seq below the session's floor, or a
 * principal's write from a session never opened or expired, is answered
 * AUGUR_ESESSION.
 *
 * The answer is appended to @answer.  Returns 0, or AUGUR_EIO/AUGUR_ENOMEM
 * when LMDB itself failed (the node cannot go on: its state may diverge).
 * store_apply_raw decodes @buf first (an undecodable entry is answered
 * AUGUR_EMALFORMED). */
int store_apply(struct store *s,
                const struct store_cmd *cmd,
                msgpack_sbuffer *answer) STORE_WARN_UNUSED;
int store_apply_raw(struct store *s,
                    const void *buf,
                    size_t len,
                    msgpack_sbuffer *answer) STORE_WARN_UNUSED;

/* A batch: the commands applied between store_batch_begin and
 * store_batch_end share LMDB write transactions, committed every
 * STORE_BATCH_TXN_MAX commands and at the end, instead of one each.  The
 * answers and the state are those of applying them one by one: a command
 * that is refused or answered from its session writes nothing, and each
 * sees the writes of those before it.  What differs is only what a
 * failure loses: when store_apply fails (AUGUR_EIO/AUGUR_ENOMEM) inside a
 * batch, the batch's uncommitted writes are gone with it, and the batch is
 * over.  The Raft state machine stops the node on any such failure and
 * rebuilds its state from the log at the next start, so for it that is no
 * loss; the per-command transactions were most of the cost of a write at
 * scale (each copied the B-trees' paths from root to leaf and saved the
 * free list).  store_batch_end commits what is open and returns 0 or
 * AUGUR_EIO. */
#define STORE_BATCH_TXN_MAX 256
int store_batch_begin(struct store *s) STORE_WARN_UNUSED;
int store_batch_end(struct store *s) STORE_WARN_UNUSED;

/* Serve a read op in a read transaction; the answer is appended to @answer.
 * Returns 0 (refusals such as ENOTFOUND are in the answer) or AUGUR_EIO. */
int store_read(struct store *s,
               const struct store_cmd *cmd,
               msgpack_sbuffer *answer) STORE_WARN_UNUSED;

/* The current revision: the number of state changes applied so far. */
uint64_t store_revision(struct store *s);

/* Set the byte budget of a page of a list or of events (the items' packed
 * size); 0 restores STORE_PAGE_BYTES_DEFAULT.  Reads only: it changes no
 * state, and nodes may differ in it. */
void store_page_bytes_set(struct store *s, size_t bytes);

/* Look up the client address recorded for node @id by STORE_OP_NODE_SET.
 * Returns 0 or AUGUR_ENOTFOUND.  @out has STORE_ADDR_SIZE bytes. */
int store_node_client_address(struct store *s, uint64_t id, char *out);

/* A control-plane node as the store records it: its addresses and the
 * membership operators asked for (role "voter", "standby", "spare",
 * "removed", or "" for a record made before roles were recorded).  Raft's
 * own configuration should follow it; the leader repairs a difference. */
struct store_node
{
    uint64_t id;
    char raft_address[STORE_ADDR_SIZE];
    char client_address[STORE_ADDR_SIZE];
    char role[STORE_NODE_ROLE_SIZE];
};

/* True for "", "voter", "standby", "spare" and "removed". */
bool store_node_role_valid(const char *role);

/* Every node record in id order, at most @max of them into @out (*@n set to
 * how many).  Returns 0 or AUGUR_EIO (a corrupt record, an LMDB error). */
int store_node_records(struct store *s,
                       struct store_node *out,
                       size_t max,
                       size_t *n) STORE_WARN_UNUSED;

/* Principals.  store_principal_find looks up the principal holding public
 * key @key_hex (64 hex digits) in the applied state: 0 with its name
 * (STORE_ID_SIZE bytes) and role, AUGUR_ENOTFOUND or AUGUR_EIO.
 * store_principals_bootstrapped sets *@done when the first admin was ever
 * recorded (principal.bootstrap applied): 0 or AUGUR_EIO (callers fail
 * closed).  store_principals_version changes whenever the set of
 * principals may have changed (an add, a remove, a restore): it is not part
 * of the state, only a hint to re-check open connections.  store_role_rank
 * is a role's rank against common/ops.h's ROLE column. */
int store_principal_find(struct store *s,
                         const char *key_hex,
                         char *name,
                         int *role) STORE_WARN_UNUSED;
int store_principals_bootstrapped(struct store *s,
                                  bool *done) STORE_WARN_UNUSED;
enum augur_role_rank store_role_rank(int role);
/* Whether the principal holding @key_hex may report telemetry for
 * @resource: an admin or an operator for any; an agent only for the
 * resources it was added with; a reader never.  Returns 0, AUGUR_EPERM,
 * AUGUR_ENOTFOUND (no such principal any more) or AUGUR_EIO. */
int store_principal_scope(struct store *s,
                          const char *key_hex,
                          const char *resource) STORE_WARN_UNUSED;
/* The applied state of resource @id: 0 with *@state (enum store_state)
 * and whether it is leased (its agent reported once: resource.lease),
 * AUGUR_ENOTFOUND or AUGUR_EIO. */
int store_resource_state(struct store *s,
                         const char *id,
                         int *state,
                         bool *leased) STORE_WARN_UNUSED;
/* Call @cb for every leased resource, in id order, with its state (one
 * read transaction; @cb must not call the store).  Returns 0 or AUGUR_EIO
 * (a corrupt record) or an LMDB error. */
int store_resources_leased(struct store *s,
                           void (*cb)(void *arg, const char *id, int state),
                           void *arg) STORE_WARN_UNUSED;
uint64_t store_principals_version(struct store *s);
/* Changes whenever a command was applied that the leader's orchestrator
 * must look at: a resource's state, score or dependencies, a cohort, the
 * policy, a workflow or a shadow (not a new resource or workload); a claim only
 * when its workload is in a cohort or its host is not active or at risk (p at
 * or above the policy's provision_threshold); a restore.  Not part of the
 * state: a hint, so that a leader under a load of ordinary claim traffic
 * does not re-read the fleet after every write. */
uint64_t store_orch_version(struct store *s);

/* Revoked node keys (node.revoke).  store_node_key_revoked: 1 when
 * @key_hex (64 hex digits) was revoked, 0 when not; a database error counts
 * as revoked (fail closed).  store_revoked_version changes whenever the set
 * may have changed (a revoke, a restore): a hint to re-check open peer
 * links, not part of the state. */
int store_node_key_revoked(struct store *s, const char *key_hex);
/* How many keys of node @id were revoked (0 when the table cannot be
 * read: this is for display). */
unsigned store_node_revoked_count(struct store *s, uint64_t id);
uint64_t store_revoked_version(struct store *s);

/* Models in the store, for the leader's scorer (every node holds them).
 *
 * store_model_active: the model activated for resource kind @kind: its name
 * (STORE_ID_SIZE bytes), version and size.  0, AUGUR_ENOTFOUND (no model
 * active for the kind, or the model is gone) or AUGUR_EIO.
 *
 * store_model_read: the bytes of model @name's published version into a
 * buffer from malloc (*@buf, *@len, the caller frees it) and its version;
 * the bytes are checked against the recorded checksum.  0,
 * AUGUR_ENOTFOUND, AUGUR_ENOMEM or AUGUR_EIO (a chunk missing or the
 * checksum differs: the store is corrupt). */
int store_model_active(struct store *s,
                       const char *kind,
                       char *name,
                       uint64_t *version,
                       uint64_t *size) STORE_WARN_UNUSED;
int store_model_read(struct store *s,
                     const char *name,
                     uint64_t *version,
                     void **buf,
                     size_t *len) STORE_WARN_UNUSED;

/* A resource's kind and committed failure score, as the scorer needs them:
 * @kind has STORE_KIND_SIZE bytes; *@has_score false when none was ever
 * committed (*@p then 0).  0, AUGUR_ENOTFOUND or AUGUR_EIO. */
int store_resource_score(struct store *s,
                         const char *id,
                         char *kind,
                         bool *has_score,
                         double *p,
                         int64_t *updated_at) STORE_WARN_UNUSED;

/* Every dependency edge, in (from, to) order, passed to @fn (ids valid only
 * during the call).  @fn returns 0 to go on; anything else stops the walk
 * and is returned.  @fn must not call the store: the walk holds its read
 * transaction.  0 or AUGUR_EIO. */
int store_edges_each(
    struct store *s,
    int (*fn)(void *arg, const char *from, const char *to, int kind),
    void *arg) STORE_WARN_UNUSED;

/* ---- the orchestrator's views (docs/ORCHESTRATOR.md) ------------------
 *
 * All iterators run in one read transaction; @fn must not call the store
 * and returns 0 to go on (anything else stops the walk and is returned).
 * They return 0 or AUGUR_EIO. */

/* The replicated policy (policy.set, policy.get). */
struct store_policy
{
    double migrate_threshold, provision_threshold, hysteresis;
    uint64_t cooldown_s, host_cooldown_s, max_concurrent, max_concurrent_cohort,
        rate_per_min, shadow_budget_cpu, shadow_budget_mem_mb, lease_timeout_ms;
    bool automatic;
    uint64_t step_timeout_ms, max_attempts, keep_warm_s, shutdown_deadline_ms;
    /* Traffic steps (issue 15): with @traffic, workflow.create adds mirror
     * and shift_<pct> steps, one per entry of @shift_steps. */
    bool traffic;
    char shift_steps[STORE_SHIFT_STEPS_SIZE];
    uint64_t shift_dwell_ms, mirror_ms;
    double kpi_max_error_rate, kpi_max_latency_ratio;
    uint64_t target_cooldown_s;
};
/* A shift_steps list parsed: strictly increasing percents in 1..100,
 * ending at 100 (node/kpi.c's rules). */
struct store_shift_steps
{
    unsigned n;
    unsigned pct[STORE_SHIFT_STEPS_MAX];
};
/* Parse @s into @out: 0, or AUGUR_EINVAL with a one-line reason in @why
 * and @out zeroed. */
int store_shift_steps_parse(const char *s,
                            struct store_shift_steps *out,
                            char *why,
                            size_t why_size) STORE_WARN_UNUSED;
/* The defaults of docs/ORCHESTRATOR.md "Policy". */
void store_policy_defaults(struct store_policy *p);
/* The effective policy: the defaults with every key set in the store over
 * them.  0 or AUGUR_EIO. */
int store_policy_get(struct store *s,
                     struct store_policy *out) STORE_WARN_UNUSED;
/* Whether lease_timeout_ms was set in the store (*@set), and its value.
 * 0 or AUGUR_EIO. */
int store_policy_lease_timeout(struct store *s,
                               bool *set,
                               uint64_t *ms) STORE_WARN_UNUSED;

struct store_cohort
{
    char name[STORE_ID_SIZE];
    int spread; /* enum store_spread */
    uint64_t min_available;
    double min_resilience;
    unsigned n_workloads;
    char workloads[STORE_COHORT_MEMBERS_MAX][STORE_ID_SIZE];
};
int store_cohorts_each(struct store *s,
                       int (*fn)(void *arg, const struct store_cohort *c),
                       void *arg) STORE_WARN_UNUSED;

#define STORE_WEAKEST_MAX 3
/* A unit whose failure lowers a cohort's resilience: @gain is how much the
 * resilience would rise were its @p 0. */
struct store_weak
{
    char resource[STORE_ID_SIZE];
    double p;
    double gain;
};
struct store_cohort_eval
{
    double resilience; /* P(at least min_available members keep running) */
    unsigned n_running;
    bool spread_ok; /* no two running members share a non-empty domain */
    unsigned n_weakest;
    struct store_weak weakest[STORE_WEAKEST_MAX];
};
/* Evaluate cohort @name from the committed scores; with @workload and
 * @host, as if @workload ran (with an active claim) on @host (NULL: as it
 * is).  0, AUGUR_ENOTFOUND (no such cohort), AUGUR_ENOMEM or AUGUR_EIO. */
int store_cohort_evaluate(struct store *s,
                          const char *name,
                          const char *workload,
                          const char *host,
                          struct store_cohort_eval *out) STORE_WARN_UNUSED;
/* A host's failure domain for @spread: itself (host), its label (rack,
 * zone), the first upstream resource of kind psu (power edges) or switch
 * (network edges), transitively; "" when it has none (and for none).
 * @out: STORE_ID_SIZE bytes.  0 or AUGUR_EIO. */
int store_host_domain(struct store *s, const char *host, int spread, char *out)
    STORE_WARN_UNUSED;

struct store_resource_view
{
    char id[STORE_ID_SIZE];
    char kind[STORE_KIND_SIZE];
    int state, prior_state;
    bool leased;
    struct store_capacity capacity, used;
    bool has_score;
    double p;
    uint64_t window_s;
    int64_t updated_at;
    int64_t manual_until_ms; /* a score set by hand holds until then; 0: none */
    unsigned n_labels;
    struct store_label labels[STORE_LABELS_MAX];
};
int store_resources_each(struct store *s,
                         int (*fn)(void *arg,
                                   const struct store_resource_view *r),
                         void *arg) STORE_WARN_UNUSED;

struct store_workload_view
{
    char id[STORE_ID_SIZE];
    struct store_capacity demand;
    int64_t priority;
    int strategy; /* 0 (live) until workloads carry one */
    bool claimed;
    char host[STORE_ID_SIZE];
    uint64_t epoch;
    char cohort[STORE_ID_SIZE]; /* "" when none */
};
int store_workloads_each(struct store *s,
                         int (*fn)(void *arg,
                                   const struct store_workload_view *w),
                         void *arg) STORE_WARN_UNUSED;

/* A resource's score set by hand (score.set from a client) holds until
 * *@until_ms (0: none); the leader's scoring leaves it alone until then.
 * 0, AUGUR_ENOTFOUND or AUGUR_EIO. */
int store_resource_manual_until(struct store *s,
                                const char *id,
                                int64_t *until_ms) STORE_WARN_UNUSED;
/* Read-only views of workflows and standby claims, for the leader's
 * orchestrator.  The iterators run in one read transaction; @fn must not
 * call the store and returns 0 to go on (anything else stops the walk and
 * is returned).  They return 0 or AUGUR_EIO (a corrupt record, an LMDB
 * error). */
struct store_wf_step
{
    char name[STORE_STEP_NAME_SIZE];
    int state;                    /* enum store_step_state */
    uint64_t attempt;             /* from 1 */
    int64_t started_at, ended_at; /* ms, 0 when not yet */
    char detail[STORE_DETAIL_SIZE];
};
struct store_workflow
{
    uint64_t id; /* the revision its workflow.create applied at */
    char workload[STORE_ID_SIZE], from[STORE_ID_SIZE], to[STORE_ID_SIZE];
    int strategy, reason, state; /* store_strategy, _wf_reason, _wf_state */
    unsigned step;               /* the current step's index */
    unsigned n_steps;
    struct store_wf_step steps[STORE_WF_STEPS_MAX];
    uint64_t epoch;     /* the claim's epoch when created */
    uint64_t cur_epoch; /* the epoch the next actuator call carries */
    bool approved, rolling_back, cancelling, notify;
    int64_t created_at, updated_at;
    char error[STORE_DETAIL_SIZE]; /* why it failed or rolled back */
};
/* @in_flight: pending and running only (in id order), else every kept
 * one (in id order). */
int store_workflows_each(struct store *s,
                         bool in_flight,
                         int (*fn)(void *arg, const struct store_workflow *w),
                         void *arg) STORE_WARN_UNUSED;
/* Workflow @id: 0, AUGUR_ENOTFOUND or AUGUR_EIO. */
int store_workflow_load(struct store *s,
                        uint64_t id,
                        struct store_workflow *out) STORE_WARN_UNUSED;
/* When @workload's last workflow ended (0: never) and, when @id is not
 * NULL, its id (0: never): 0 or AUGUR_EIO. */
int store_workload_last_move(struct store *s,
                             const char *workload,
                             uint64_t *id,
                             int64_t *ended_at_ms) STORE_WARN_UNUSED;
/* A standby claim: capacity held on @host for @workload, fenced by its own
 * epoch. */
struct store_standby
{
    char workload[STORE_ID_SIZE], host[STORE_ID_SIZE];
    uint64_t epoch;
    int state; /* enum store_shadow_state */
    uint64_t lag_ms;
    char drift[STORE_DRIFT_SIZE];
    struct store_capacity demand;
    int64_t created_at, updated_at;
};
/* Every standby claim in (workload, host) order. */
int store_standbys_each(struct store *s,
                        int (*fn)(void *arg, const struct store_standby *b),
                        void *arg) STORE_WARN_UNUSED;

/* Snapshot: serialize the whole state into one buffer allocated with
 * @alloc, owned by the caller, in a format store_restore reads.  Returns 0,
 * AUGUR_ENOMEM or AUGUR_EIO (the reason in the store's message).  @alloc
 * comes without a free: should LMDB fail on the second of the two passes
 * over the state, the buffer is lost (store_snapshot_take frees it). */
int store_snapshot(struct store *s,
                   void *(*alloc)(size_t),
                   void **buf,
                   size_t *len) STORE_WARN_UNUSED;

/* An asynchronous snapshot, for a state too large to copy on the loop
 * thread: store_snapshot_begin (loop thread) pins the state as of now;
 * store_snapshot_take may then run on any one other thread while commands
 * keep being applied, and builds what store_snapshot would have built at the
 * moment of begin, in a buffer from @alloc that the caller owns on success;
 * once it has returned, store_snapshot_release (loop thread) releases the
 * pin, so that the writes stop growing the file while libraft writes the
 * copy out; store_snapshot_end (loop thread) frees @snap, releasing the pin
 * if that was not done.  Errors as for
 * store_snapshot.  On failure store_snapshot_take hands any buffer it
 * allocated back to @release, and keeps the reason in the snapshot's own
 * message, store_snapshot_errmsg (owned by @snap, valid until
 * store_snapshot_end): it writes nothing the store's thread uses. */
struct store_snap;
int store_snapshot_begin(struct store *s,
                         struct store_snap **out) STORE_WARN_UNUSED;
int store_snapshot_take(struct store_snap *snap,
                        void *(*alloc)(size_t),
                        void (*release)(void *),
                        void **buf,
                        size_t *len) STORE_WARN_UNUSED;
const char *store_snapshot_errmsg(const struct store_snap *snap);
void store_snapshot_release(struct store_snap *snap);
void store_snapshot_end(struct store_snap *snap);

/* Replace the whole state with a snapshot's.  A corrupt snapshot is refused
 * with AUGUR_EMALFORMED and leaves the state as it was (one write txn). */
int store_restore(struct store *s,
                  const void *buf,
                  size_t len) STORE_WARN_UNUSED;

/* Digest of the whole state (for tests and the chaos checker: every node's
 * final state must be identical).  Writes 32 bytes (BLAKE2b-256). */
int store_digest(struct store *s, unsigned char out[32]) STORE_WARN_UNUSED;

#endif
