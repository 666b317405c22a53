/* The one table of operations: every op augur serves, one row each.  The
 * store's op enum and names, its dispatch, the server's role check, the
 * node's own ops and libaugur's read/write classification are all generated
 * from these rows (X-macros, as Redis's command table and dqlite's
 * SERIALIZE__DEFINE).  Adding an op means adding its row here and writing
 * its handler; tests/unit/common checks that no wire name is spelled
 * anywhere else in the sources.
 *
 * AUGUR_STORE_OPS(X): the replicated state machine's ops.
 *   X(ID, NUMBER, WIRE, ACCESS, ROLE, HANDLER, ARGS)
 *   NUMBER  the op's number in the Raft log: append-only, never reused
 *           (writes 1..63, reads 64..)
 *   ACCESS  W: a Raft command; R: a read (linearizable unless stale)
 *   ROLE    the least role that may call it (AUGUR_ROLE_*): ANY, READER,
 *           OPERATOR, ADMIN, or INTERNAL for commands only the cluster
 *           itself proposes; checked by the server when the request comes
 *           in and again by apply, against the replicated principals
 *   HANDLER store/'s function, (struct store *, MDB_txn *, const struct
 *           store_cmd *) -> int
 *   ARGS    the argument fields, in the order they are decoded, checked
 *           and encoded: F(KEY, TYPE, FLAGS, MEMBER), KEY the name in the
 *           argument map, TYPE how it is read, checked and written, FLAGS
 *           REQ (must be given), OPT (may be left out), OMIT (may be left
 *           out or empty, and is not written then), REQ_EMPTY (must be
 *           given, may be empty), REQ_POS (must be given and positive),
 *           MEMBER where it lives in struct store_cmd's union.  store/
 *           codec.c and encode.c define TYPE and F (see docs/ARCHITECTURE.md
 *           "Operations"); everyone else ignores the column.
 *
 * AUGUR_NODE_OPS(X): ops augurd answers itself (Raft's state, membership,
 * leadership), never in the log.
 *   X(ID, WIRE, ACCESS, ROLE, HANDLER)
 *   ACCESS  R: changes nothing replicated (no session; answered by any
 *           node, or, for the leader's own state such as telemetry, by
 *           the leader after a redirect); W: changes the cluster
 *   ROLE    as above, plus ANY (every principal, agents included); AGENT
 *           admits agents (checked against their resources by the
 *           handler) and every higher role; NODE admits a node's uplink
 *           only (a follower forwarding reports), never a principal
 *   HANDLER node/'s function, (struct node *, struct api_call *) */
#ifndef AUGUR_COMMON_OPS_H
#define AUGUR_COMMON_OPS_H

#include <stdbool.h>
#include <stddef.h>

/* clang-format off */
#define AUGUR_STORE_OPS(X)                                                                     \
    X(RESOURCE_ADD, 1, "resource.add", W, OPERATOR, store__resource_add,                       \
      F(id, ID, REQ, resource_add.id)                                                          \
      F(kind, KIND, REQ, resource_add.kind)                                                    \
      F(capacity, CAPACITY, OPT, resource_add.capacity)                                        \
      F(labels, LABELS, OPT, resource_add))                                                    \
    X(RESOURCE_SET_STATE, 2, "resource.set_state", W, OPERATOR, store__resource_set_state,     \
      F(id, ID, REQ, set_state.id)                                                             \
      F(state, STATE, REQ, set_state.state))                                                   \
    X(WORKLOAD_ADD, 3, "workload.add", W, OPERATOR, store__workload_add,                       \
      F(id, ID, REQ, workload_add.id)                                                          \
      F(demand, CAPACITY, OPT, workload_add.demand)                                            \
      F(priority, I64, OPT, workload_add.priority)                                             \
      F(strategy, STRATEGY, OMIT, workload_add.strategy))                                      \
    X(EDGE_ADD, 4, "edge.add", W, OPERATOR, store__edge_add,                                   \
      F(from, ID, REQ, edge.from)                                                              \
      F(to, ID, REQ, edge.to)                                                                  \
      F(kind, EDGE_KIND, REQ, edge.kind))                                                      \
    X(EDGE_REMOVE, 5, "edge.remove", W, OPERATOR, store__edge_remove,                          \
      F(from, ID, REQ, edge.from)                                                              \
      F(to, ID, REQ, edge.to))                                                                 \
    X(CLAIM_ACQUIRE, 6, "claim.acquire", W, OPERATOR, store__claim_acquire,                    \
      F(workload, ID, REQ, acquire.workload)                                                   \
      F(host, ID, OMIT, acquire.host))                                                         \
    X(CLAIM_TRANSFER, 7, "claim.transfer", W, OPERATOR, store__claim_transfer,                 \
      F(workload, ID, REQ, transfer.workload)                                                  \
      F(to, ID, REQ, transfer.to)                                                              \
      F(epoch, U64, REQ, transfer.epoch))                                                      \
    X(CLAIM_RELEASE, 8, "claim.release", W, OPERATOR, store__claim_release,                    \
      F(workload, ID, REQ, release.workload)                                                   \
      F(epoch, U64, REQ, release.epoch))                                                       \
    X(SCORE_SET, 9, "score.set", W, OPERATOR, store__score_set,                                \
      F(id, ID, REQ, score.id)                                                                 \
      F(p, PROB, REQ, score.p)                                                                 \
      F(window, WINDOW, OPT, score.window_s)                                                   \
      F(confidence, CONF, OMIT, score)                                                         \
      F(model, ID, OMIT, score.model)                                                          \
      F(reasons, REASONS, OMIT, score))                                                        \
    X(NODE_SET, 10, "node.set", W, INTERNAL, store__node_set,                                  \
      F(id, U64, REQ_POS, node.id)                                                             \
      F(raft_address, ADDR, REQ, node.raft_address)                                            \
      F(client_address, ADDR, REQ_EMPTY, node.client_address)                                  \
      F(role, NODE_ROLE, OMIT, node.role))                                                     \
    X(SESSION_EXPIRE, 11, "session.expire", W, INTERNAL, store__session_expire,                \
      F(ttl_ms, U64, REQ, expire.ttl_ms))                                                      \
    X(PRINCIPAL_ADD, 12, "principal.add", W, ADMIN, store__principal_add,                      \
      F(name, ID, REQ, principal.name)                                                         \
      F(key, KEY, REQ, principal.key)                                                          \
      F(role, ROLE, REQ, principal.role)                                                       \
      F(resources, RESOURCES, OMIT, principal))                                                \
    X(PRINCIPAL_REMOVE, 13, "principal.remove", W, ADMIN, store__principal_remove,             \
      F(name, ID, REQ, principal.name))                                                        \
    X(PRINCIPAL_BOOTSTRAP, 14, "principal.bootstrap", W, INTERNAL, store__principal_bootstrap, \
      F(name, ID, REQ, principal.name)                                                         \
      F(key, KEY, REQ, principal.key))                                                         \
    X(NODE_REVOKE, 15, "node.revoke", W, ADMIN, store__node_revoke,                            \
      F(id, U64, REQ_POS, revoke.id)                                                           \
      F(key, KEY, REQ, revoke.key))                                                            \
    X(SESSION_OPEN, 16, "session.open", W, ANY, store__session_open,                           \
      F(ttl_ms, U64, OPT, expire.ttl_ms))                                                      \
    X(RESOURCE_LEASE, 17, "resource.lease", W, INTERNAL, store__resource_lease,                \
      F(id, ID, REQ, lease.id)                                                                 \
      F(expect, STATE, REQ, lease.expect)                                                      \
      F(state, STATE, REQ, lease.state))                                                       \
    X(MODEL_CHUNK, 20, "model.chunk", W, OPERATOR, store__model_chunk,                         \
      F(name, ID, REQ, model.name)                                                             \
      F(upload, U64, REQ_POS, model.upload)                                                    \
      F(index, U64, REQ, model.index)                                                          \
      F(data, BYTES, REQ, model.data))                                                         \
    X(MODEL_COMMIT, 21, "model.commit", W, OPERATOR, store__model_commit,                      \
      F(name, ID, REQ, model.name)                                                             \
      F(upload, U64, REQ_POS, model.upload)                                                    \
      F(chunks, U64, REQ_POS, model.chunks)                                                    \
      F(size, U64, REQ_POS, model.size)                                                        \
      F(checksum, DIGEST, REQ, model.checksum)                                                 \
      F(kind, KIND, OMIT, model.kind))                                                         \
    X(MODEL_ACTIVATE, 22, "model.activate", W, OPERATOR, store__model_activate,                \
      F(name, ID, REQ, model.name)                                                             \
      F(kind, KIND, OMIT, model.kind))                                                         \
    X(COHORT_CREATE, 23, "cohort.create", W, OPERATOR, store__cohort_create,                   \
      F(name, ID, REQ, cohort.name)                                                            \
      F(workloads, WORKLOADS, REQ, cohort)                                                     \
      F(spread, SPREAD, OPT, cohort.spread)                                                    \
      F(min_available, U64, OMIT, cohort.min_available)                                        \
      F(min_resilience, MIN_RESILIENCE, OPT, cohort.min_resilience))                           \
    X(COHORT_DELETE, 24, "cohort.delete", W, OPERATOR, store__cohort_delete,                   \
      F(name, ID, REQ, cohort.name))                                                           \
    X(COHORT_ADD, 25, "cohort.add", W, OPERATOR, store__cohort_add,                            \
      F(name, ID, REQ, cohort.name)                                                            \
      F(workload, ID, REQ, cohort.workload))                                                   \
    X(COHORT_REMOVE, 26, "cohort.remove", W, OPERATOR, store__cohort_remove,                   \
      F(name, ID, REQ, cohort.name)                                                            \
      F(workload, ID, REQ, cohort.workload))                                                   \
    X(POLICY_SET, 27, "policy.set", W, OPERATOR, store__policy_set,                            \
      F(key, ID, REQ, policy.key)                                                              \
      F(value, TEXT, REQ, policy.value))                                                       \
    X(WORKFLOW_CREATE, 28, "workflow.create", W, OPERATOR, store__workflow_create,             \
      F(workload, ID, REQ, workflow.workload)                                                  \
      F(to, ID, OMIT, workflow.to)                                                             \
      F(strategy, WF_STRATEGY, OMIT, workflow)                                                 \
      F(reason, WF_REASON, OMIT, workflow)                                                     \
      F(notify, BOOL, OMIT, workflow.notify)                                                   \
      F(approved, APPROVED, OMIT, workflow.hold))                                              \
    X(WORKFLOW_ADVANCE, 29, "workflow.advance", W, INTERNAL, store__workflow_advance,          \
      F(id, U64, REQ_POS, workflow.id)                                                         \
      F(step, U64, REQ, workflow.step)                                                         \
      F(attempt, U64, REQ_POS, workflow.attempt)                                               \
      F(event, WF_EVENT, REQ, workflow.event)                                                  \
      F(detail, TEXT, OMIT, workflow.detail))                                                  \
    X(WORKFLOW_CANCEL, 30, "workflow.cancel", W, OPERATOR, store__workflow_cancel,             \
      F(id, U64, REQ_POS, workflow.id))                                                        \
    X(WORKFLOW_APPROVE, 31, "workflow.approve", W, OPERATOR, store__workflow_approve,          \
      F(id, U64, REQ_POS, workflow.id))                                                        \
    X(SHADOW_PROVISION, 32, "shadow.provision", W, INTERNAL, store__shadow_provision,          \
      F(workload, ID, REQ, shadow.workload)                                                    \
      F(host, ID, REQ, shadow.host))                                                           \
    X(SHADOW_UPDATE, 33, "shadow.update", W, INTERNAL, store__shadow_update,                   \
      F(workload, ID, REQ, shadow.workload)                                                    \
      F(host, ID, REQ, shadow.host)                                                            \
      F(epoch, U64, REQ, shadow.epoch)                                                         \
      F(state, SHADOW_STATE, REQ, shadow.state)                                                \
      F(lag_ms, U64, OMIT, shadow.lag_ms)                                                      \
      F(drift, TEXT, OMIT, shadow.drift))                                                      \
    X(SHADOW_RELEASE, 34, "shadow.release", W, INTERNAL, store__shadow_release,                \
      F(workload, ID, REQ, shadow.workload)                                                    \
      F(host, ID, REQ, shadow.host)                                                            \
      F(epoch, U64, REQ, shadow.epoch))                                                        \
    X(RESOURCE_GET, 64, "resource.get", R, READER, store__resource_get,                        \
      F(id, ID, REQ, get.id))                                                                  \
    X(RESOURCE_LIST, 65, "resource.list", R, READER, store__resource_list,                     \
      F(after, LIST, OPT, list))                                                               \
    X(WORKLOAD_GET, 66, "workload.get", R, READER, store__workload_get,                        \
      F(id, ID, REQ, get.id))                                                                  \
    X(WORKLOAD_LIST, 67, "workload.list", R, READER, store__workload_list,                     \
      F(after, LIST, OPT, list))                                                               \
    X(EDGE_LIST, 68, "edge.list", R, READER, store__edge_list,                                 \
      F(resource, LIST_EDGES, OPT, list))                                                      \
    X(CLAIM_GET, 69, "claim.get", R, READER, store__claim_get,                                 \
      F(workload, ID, REQ, get.id))                                                            \
    X(CLAIM_LIST, 70, "claim.list", R, READER, store__claim_list,                              \
      F(host, LIST_CLAIMS, OPT, list))                                                         \
    X(EVENTS, 71, "events", R, READER, store__events_read,                                     \
      F(from, FROM, OPT, events.from)                                                          \
      F(limit, LIMIT, OMIT, events.limit))                                                     \
    X(NODE_LIST, 72, "node.list", R, READER, store__node_list, /* no arguments */)             \
    X(PRINCIPAL_LIST, 73, "principal.list", R, ADMIN, store__principal_list,                   \
      F(after, LIST_PRINCIPALS, OPT, list))                                                    \
    X(NODE_REVOKED, 74, "node.revoked", R, READER, store__node_revoked_list, /* no arguments */) \
    X(MODEL_LIST, 76, "model.list", R, READER, store__model_list,                              \
      F(after, LIST, OPT, list))                                                               \
    X(COHORT_GET, 77, "cohort.get", R, READER, store__cohort_get,                              \
      F(name, ID, REQ, get.id))                                                                \
    X(COHORT_LIST, 78, "cohort.list", R, READER, store__cohort_list,                           \
      F(after, LIST, OPT, list))                                                               \
    X(POLICY_GET, 79, "policy.get", R, READER, store__policy_get, /* no arguments */)          \
    X(WORKFLOW_GET, 80, "workflow.get", R, READER, store__workflow_get,                        \
      F(id, U64, REQ_POS, workflow.id))                                                        \
    X(WORKFLOW_LIST, 81, "workflow.list", R, READER, store__workflow_list,                     \
      F(state, LIST_WORKFLOWS, OPT, list))                                                     \
    X(SHADOW_LIST, 82, "shadow.list", R, READER, store__shadow_list,                           \
      F(after, LIST_PAIRS, OPT, list))

#define AUGUR_NODE_OPS(X)                                                         \
    X(STATUS,          "status",          R, ANY,    node__status)          \
    X(MEMBER_LIST,     "member.list",     R, READER, node__member_list)     \
    X(MEMBER_ADD,      "member.add",      W, ADMIN,  node__member_add)      \
    X(MEMBER_REMOVE,   "member.remove",   W, ADMIN,  node__member_remove)   \
    X(LEADER_TRANSFER, "leader.transfer", W, ADMIN,  node__leader_transfer) \
    X(PREDICT,         "predict",         R, READER, node__predict) \
    X(TELEMETRY_REPORT, "telemetry.report", R, AGENT, node__telemetry_report) \
    X(TELEMETRY_HEARTBEAT, "telemetry.heartbeat", R, AGENT, node__telemetry_heartbeat) \
    X(TELEMETRY_GET,   "telemetry.get",   R, READER, node__telemetry_get) \
    X(TELEMETRY_FORWARD, "telemetry.forward", R, NODE, node__telemetry_forward) \
    X(WHOAMI,          "whoami",          R, ANY,    node__whoami)          \
    X(TOKEN_VERIFY,    "token.verify",    R, ANY,    node__token_verify) \
    X(HTTP_FORWARD,    "http.forward",    R, NODE,   node__http_forward)
/* clang-format on */

/* Every op, store and node alike, for code that names an op without caring
 * who serves it (libaugur, the CLI). */
enum augur_op
{
    AUGUR_OP_NONE = 0,
#define AUGUR_OP__ENUM(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    AUGUR_OP_##ID,
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
    /* Only a node of the cluster, by its certified key (a follower's
     * uplink): no principal, not even an admin; and a node only these. */
    AUGUR_ROLE_NODE = 6,
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
/* True for a write of the replicated state machine (an AUGUR_STORE_OPS row
 * with ACCESS W): it applies within a client's session, so a client opens
 * one (session.open) before the first.  The node's own writes (membership,
 * leadership) use no session. */
bool augur_op_is_store_write(enum augur_op op);
/* The least role rank that may call @op (AUGUR_ROLE_*). */
enum augur_role_rank augur_op_role(enum augur_op op);

#endif
