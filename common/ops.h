/* The one table of operations: every op augur serves, one row each.  The
 * store's op enum and names, its dispatch, the server's role check, the
 * node's own ops and libaugur's read/write classification are all generated
 * from these rows (X-macros, as Redis's command table and dqlite's
 * SERIALIZE__DEFINE).  Adding an op means adding its row here and writing
 * its handler; tests/unit/common checks that no wire name is spelled
 * anywhere else in the sources.
 *
 * AUGUR_STORE_OPS(X): the replicated state machine's ops.
 *   X(ID, NUMBER, WIRE, ACCESS, ROLE, HANDLER)
 *   NUMBER  the op's number in the Raft log: append-only, never reused
 *           (writes 1..63, reads 64..)
 *   ACCESS  W: a Raft command; R: a read (linearizable unless stale)
 *   ROLE    the least role that may call it (AUGUR_ROLE_*): READER,
 *           OPERATOR, ADMIN, or INTERNAL for commands only the cluster
 *           itself proposes
 *   HANDLER store/'s function, (struct store *, MDB_txn *, const struct
 *           store_cmd *) -> int
 *
 * AUGUR_NODE_OPS(X): ops augurd answers itself (Raft's state, membership,
 * leadership), never in the log.
 *   X(ID, WIRE, ACCESS, ROLE, HANDLER)
 *   ACCESS  R: may be answered by any node; W: changes the cluster
 *   ROLE    as above, plus ANY (every principal, agents included)
 *   HANDLER node/'s function, (struct node *, struct api_call *) */
#ifndef AUGUR_COMMON_OPS_H
#define AUGUR_COMMON_OPS_H

#include <stdbool.h>
#include <stddef.h>

/* clang-format off */
#define AUGUR_STORE_OPS(X)                                                        \
    X(RESOURCE_ADD,        1,  "resource.add",        W, OPERATOR, store__resource_add)        \
    X(RESOURCE_SET_STATE,  2,  "resource.set_state",  W, OPERATOR, store__resource_set_state)  \
    X(WORKLOAD_ADD,        3,  "workload.add",        W, OPERATOR, store__workload_add)        \
    X(EDGE_ADD,            4,  "edge.add",            W, OPERATOR, store__edge_add)            \
    X(EDGE_REMOVE,         5,  "edge.remove",         W, OPERATOR, store__edge_remove)         \
    X(CLAIM_ACQUIRE,       6,  "claim.acquire",       W, OPERATOR, store__claim_acquire)       \
    X(CLAIM_TRANSFER,      7,  "claim.transfer",      W, OPERATOR, store__claim_transfer)      \
    X(CLAIM_RELEASE,       8,  "claim.release",       W, OPERATOR, store__claim_release)       \
    X(SCORE_SET,           9,  "score.set",           W, OPERATOR, store__score_set)           \
    X(NODE_SET,            10, "node.set",            W, INTERNAL, store__node_set)            \
    X(SESSION_EXPIRE,      11, "session.expire",      W, INTERNAL, store__session_expire)      \
    X(PRINCIPAL_ADD,       12, "principal.add",       W, ADMIN,    store__principal_add)       \
    X(PRINCIPAL_REMOVE,    13, "principal.remove",    W, ADMIN,    store__principal_remove)    \
    X(PRINCIPAL_BOOTSTRAP, 14, "principal.bootstrap", W, INTERNAL, store__principal_bootstrap) \
    X(RESOURCE_GET,        64, "resource.get",        R, READER,   store__resource_get)        \
    X(RESOURCE_LIST,       65, "resource.list",       R, READER,   store__resource_list)       \
    X(WORKLOAD_GET,        66, "workload.get",        R, READER,   store__workload_get)        \
    X(WORKLOAD_LIST,       67, "workload.list",       R, READER,   store__workload_list)       \
    X(EDGE_LIST,           68, "edge.list",           R, READER,   store__edge_list)           \
    X(CLAIM_GET,           69, "claim.get",           R, READER,   store__claim_get)           \
    X(CLAIM_LIST,          70, "claim.list",          R, READER,   store__claim_list)          \
    X(EVENTS,              71, "events",              R, READER,   store__events_read)         \
    X(NODE_LIST,           72, "node.list",           R, READER,   store__node_list)           \
    X(PRINCIPAL_LIST,      73, "principal.list",      R, ADMIN,    store__principal_list)

#define AUGUR_NODE_OPS(X)                                                         \
    X(STATUS,          "status",          R, ANY,    node__status)          \
    X(MEMBER_LIST,     "member.list",     R, READER, node__member_list)     \
    X(MEMBER_ADD,      "member.add",      W, ADMIN,  node__member_add)      \
    X(MEMBER_REMOVE,   "member.remove",   W, ADMIN,  node__member_remove)   \
    X(LEADER_TRANSFER, "leader.transfer", W, ADMIN,  node__leader_transfer)
/* clang-format on */

/* Every op, store and node alike, for code that names an op without caring
 * who serves it (libaugur, the CLI). */
enum augur_op
{
    AUGUR_OP_NONE = 0,
#define AUGUR_OP__ENUM(ID, NUM, WIRE, ACCESS, ROLE, HANDLER) AUGUR_OP_##ID,
    AUGUR_STORE_OPS(AUGUR_OP__ENUM)
#undef AUGUR_OP__ENUM
#define AUGUR_OP__ENUM(ID, WIRE, ACCESS, ROLE, HANDLER) AUGUR_OP_##ID,
        AUGUR_NODE_OPS(AUGUR_OP__ENUM)
#undef AUGUR_OP__ENUM
            AUGUR_OP_COUNT
};

/* Who may call an op, least first: a principal's role ranks as AGENT <
 * READER < OPERATOR < ADMIN; ANY admits every principal, INTERNAL none. */
enum augur_role_rank
{
    AUGUR_ROLE_ANY = 0,
    AUGUR_ROLE_AGENT = 1,
    AUGUR_ROLE_READER = 2,
    AUGUR_ROLE_OPERATOR = 3,
    AUGUR_ROLE_ADMIN = 4,
    AUGUR_ROLE_INTERNAL = 5,
};

/* The op's wire name ("claim.acquire"); NULL for AUGUR_OP_NONE or out of
 * range. */
const char *augur_op_wire(enum augur_op op);
/* The op named @name (@len bytes, not NUL-terminated); AUGUR_OP_NONE when
 * no row has that name. */
enum augur_op augur_op_find(const char *name, size_t len);
/* True for an op that changes state (a Raft command or a membership or
 * leadership change): a client gives it a session sequence, and an answer
 * lost on the way means its outcome is unknown. */
bool augur_op_is_write(enum augur_op op);
/* The least role rank that may call @op (AUGUR_ROLE_*). */
enum augur_role_rank augur_op_role(enum augur_op op);

#endif
