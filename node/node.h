/* augurd: one node of the cluster.  Configuration, wiring of store/, raft/
 * and api/, request dispatch and the leader's own duties. */
#ifndef AUGUR_NODE_H
#define AUGUR_NODE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "api/server.h"
#include "common/histogram.h"
#include "node/actuator.h"
#include "node/http.h"
#include "node/http_tls.h"
#include "node/http_v1.h"
#include "node/traffic.h"
#include "node/notice.h"
#include "node/orchestrator.h"
#include "node/scoring.h"
#include "node/telemetry.h"
#include "node/uplink.h"
#include "raft/replica.h"
#include "store/store.h"
#include "wire/telemetry.h"
#include "wire/token.h"

#define NODE_ERRMSG_SIZE 512
/* The role of a follower's uplink on the client port (authenticated by
 * its certified node key, never a principal): it may call only the rows of
 * common/ops.h whose ROLE is NODE.  Outside enum store_role's values. */
#define NODE_ROLE_PEER (-1)

struct node_config
{
    uint64_t id;
    char data_dir[PATH_MAX];
    char raft_address[STORE_ADDR_SIZE];
    char client_address[STORE_ADDR_SIZE];
    char bootstrap[1024];       /* "1=HOST:PORT,..." or "" */
    char cluster_key[PATH_MAX]; /* the cluster's public key file (or, with
                                   no node key, its private key file) */
    char node_key[PATH_MAX];    /* this node's private key file, or "" */
    char node_cert[PATH_MAX];   /* the cluster's certificate for it */
    char admin_key[PATH_MAX];   /* the first admin's public key file, or "" */
    int log_level;
    unsigned election_timeout_ms;
    unsigned heartbeat_timeout_ms;
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    unsigned session_ttl_s;
    /* Connection limits (docs/PROTOCOL.md, "Limits"). */
    unsigned client_unauth_max;        /* client port, in their handshake */
    unsigned client_unauth_per_source; /* the same, per source address */
    unsigned peer_unauth_max;          /* Raft port, in their handshake */
    unsigned peer_unauth_per_source;   /* the same, per source address */
    unsigned fd_reserve; /* descriptors kept for peers, files and the log */
    unsigned conn_pending_high; /* bytes a client connection may hold before
                                   it is not read from */
    unsigned conn_calls_max;    /* calls in flight per client connection */
    unsigned peer_buffer_max;   /* bytes queued on a Raft link, each way */
    bool pre_vote;
    bool member_reconcile; /* repair libraft's configuration (default on) */
    /* Parked long polls ("events" with wait_ms): the longest wait (longer
     * ones are cut to it), and how many may be parked per connection, per
     * principal and in all; a poll over a cap is refused with EBUSY. */
    unsigned wait_max_ms;
    unsigned waiters_per_conn;
    unsigned waiters_per_principal;
    unsigned waiters_max;
    unsigned page_bytes; /* a list or events page's byte budget */
    /* Leader-side scoring (node/scoring.c): the cadence of rounds and the
     * hysteresis of commits. */
    unsigned score_interval_ms;
    unsigned score_warm; /* reports before a resource is scored */
    double score_step;
    double score_enter;
    double score_leave;
    /* Telemetry (node/ingest.c): the host lease, and the leader's bounds. */
    unsigned lease_ms;
    unsigned telemetry_ring;      /* batches kept per resource */
    unsigned telemetry_resources; /* resources tracked at most */
    /* The leader's actuator (node/actuator.h): "exec:PROG [ARGS]",
     * "webhook:URL" or "" (none), and its calls running at once. */
    char actuator[1024];
    unsigned actuator_max;
    bool orchestrator; /* the leader runs node/orchestrator.c (default) */
    /* The load balancer the leader drives (node/traffic.h): HAProxy's
     * admin socket ("" none) and its backends' names' prefix. */
    char haproxy_socket[256];
    char haproxy_prefix[NODE_TRAFFIC_PREFIX_SIZE];
    /* HTTP (node/http.c, docs/HTTP.md): "" serves none.  /metrics is
     * served without a token only when metrics_public. */
    char http_address[STORE_ADDR_SIZE];
    bool metrics_public;
    unsigned http_max_conns;
    unsigned http_header_bytes;
    unsigned http_body_max;
    unsigned http_timeout_s;
    /* HTTPS: the certificate chain and its private key (PEM files), both
     * or neither; "" serves plain HTTP. */
    char http_cert[PATH_MAX];
    char http_key[PATH_MAX];
};

/* Fill @cfg with defaults, then the file named by --config (if any), then
 * the flags.  Returns 0; NODE_CONFIG_DONE when --help or --version was
 * printed (exit 0); AUGUR_EINVAL with one line in @errmsg (NODE_ERRMSG_SIZE
 * bytes).  (Not 1: that is AUGUR_EINVAL's own value.) */
#define NODE_CONFIG_DONE (-1)
int node_config_parse(struct node_config *cfg,
                      int argc,
                      char **argv,
                      char *errmsg);

/* The leader's view of membership: what the store records against what
 * libraft's configuration holds (node/membership.c). */
#define NODE_MEMBERS_MAX 16
struct node_membership
{
    uint64_t leader_since_ms; /* 0 when not the leader */
    uint64_t next_check_ms;
    unsigned busy;     /* member.* requests and repairs in flight */
    unsigned diverged; /* consecutive checks that found a difference */
    uint64_t repairs;  /* changes the reconciler made since start */
    unsigned pause_ms; /* failpoint: hold the libraft step (tests) */
    bool in_sync;
    char diff[256]; /* the first difference, "" when none */
};

/* A long poll on "events" parked until its revision arrives or it times
 * out.  It keeps only what its answer needs: the call (its request shed,
 * api_call_shed) for the id and the connection, and the page it asked
 * for. */
struct node_waiter
{
    struct node_waiter *next;
    struct api_call *call;
    uint64_t from;
    unsigned limit;
    uint64_t deadline_ms;
};

struct node
{
    struct node_config config;
    uv_loop_t loop;
    struct store *store;
    struct replica replica;
    struct api_server server;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t tick;
    struct store_cmd cmd;    /* scratch for decoding one request */
    msgpack_sbuffer scratch; /* scratch for encoding one command/answer */
    struct node_waiter *waiters;
    unsigned n_waiters;
    struct secure_identity identity; /* node key (secret) and certificate */
    uint8_t cluster_pk[SECURE_PK_SIZE];
    char admin_key_hex[STORE_KEY_HEX_SIZE]; /* "" when none */
    uint64_t principals_version;            /* seen by the server */
    uint64_t revoked_version;               /* seen by the peer links */
    uint64_t next_cert_check_ms;
    bool was_leader;
    struct node_membership membership;
    struct node_scoring scoring; /* the leader's live scoring */
    struct node_orch orch;       /* the leader's orchestrator */
    /* The leader's telemetry and host leases (node/ingest.c); empty on a
     * follower.  No lease is declared expired before the grace time: a
     * new leader gives every host one full lease first. */
    struct node_telemetry telemetry;
    struct node_uplink uplink; /* a follower's, to forward reports */
    /* Prepare-shutdown notices the leader hands to agents (node/ingest.c);
     * emptied when leadership is lost. */
    struct node_notices notices;
    struct actuator *actuator;     /* the leader acts through it; never NULL
                                      while running (kind "none" at least) */
    struct node_traffic *traffic;  /* HAProxy, when configured; else NULL */
    struct node_http *http;        /* --http-address given; else NULL */
    struct node_http_tls http_tls; /* --http-cert and --http-key, read */
    struct node_v1 *v1;            /* the /v1 API's requests and sessions */
    struct node_sse *sse;          /* /v1/events streams */
    /* For /metrics (node/service.c): the client requests this node
     * answered, by op (enum augur_op; AUGUR_OP_NONE: one no row names)
     * and result (enum augur_err; AUGUR_ERR_COUNT: a status outside it),
     * and its writes' latency from proposal (as the leader) to apply. */
    uint64_t requests[AUGUR_OP_COUNT][AUGUR_ERR_COUNT + 1];
    struct augur_histogram apply_latency;
    uint64_t lease_grace_until_ms;
    /* The host lease in force: the policy's lease_timeout_ms when it was
     * set in the store, else --lease-ms (0: not read yet).  Read once per
     * ingest tick, not per report. */
    unsigned lease_ms;
    uint64_t lease_seed_index; /* the leased hosts are read once applied */
    bool lease_seed_pending;
    uint64_t next_expire_ms;
    uint64_t next_bootstrap_ms;
    /* The serving gate (node__serving): the last log index at start, and
     * whether the node has caught up since. */
    uint64_t gate_index;
    bool gate_index_set;
    bool serving;
    int lock_fd;
    bool stopping;
    int exit_code;
    char errmsg[NODE_ERRMSG_SIZE];
};

/* Open the store, set up Raft and start serving clients on @n's loop.
 * Returns 0 or an error with the reason in n->errmsg; on error everything
 * opened so far is closed again. */
int node_start(struct node *n, const struct node_config *cfg);

/* Begin a clean shutdown (SIGTERM): stop taking clients, close Raft, close
 * the store; the loop then ends. */
void node_stop(struct node *n);

/* Request dispatch (node/service.c). */
void node__on_request(struct api_server *s, struct api_call *call);
void node__on_applied(struct replica *r);
void node__tick(struct node *n);
int node__auth(struct api_server *s,
               const uint8_t key[SECURE_PK_SIZE],
               const struct secure_cert *cert,
               char *name,
               int *role,
               char *errmsg);
void node__fail_waiters(struct node *n);
/* A call is answered with @status: count it (api_answered_cb). */
void node__on_answered(struct api_server *s,
                       const struct api_call *call,
                       int status);
/* A client connection closed: free the long polls parked on it. */
void node__on_conn_closed(struct api_server *s, const struct api_conn *conn);
/* Whether the node serves clients yet (see the gate in service.c). */
bool node__serving(struct node *n);
void node__reply_not_leader(struct node *n, struct api_call *call);
/* Propose n->cmd as the node's own command (no session, no answer). */
void node__propose_own(struct node *n);
void node__pack_str(msgpack_packer *pk, const char *s);
/* Start a successful answer in n->scratch: {"status": 0, "result": a map of
 * @n_fields}, the caller packing the fields into @pk and replying with
 * n->scratch. */
void node__result_begin(struct node *n, msgpack_packer *pk, size_t n_fields);
/* Optional request fields: 0, AUGUR_ENOTFOUND when absent, AUGUR_EINVAL
 * when of the wrong type (or an empty or too long string). */
/* The value of @key in the map @args; NULL when absent or not a map. */
const msgpack_object *node__arg_get(const msgpack_object *args,
                                    const char *key);
int node__arg_u64(const msgpack_object *args, const char *key, uint64_t *out);
int node__arg_str(const msgpack_object *args,
                  const char *key,
                  char *out,
                  size_t size);

/* Bearer tokens (node/token.c).  node__token_check verifies @token (@len
 * bytes) against this node's applied principals at the current time (see
 * token_verify in wire/token.h): 0 with @out filled, or AUGUR_ETOOBIG,
 * AUGUR_EMALFORMED, AUGUR_EAUTH, AUGUR_EPERM or (a node that does not
 * serve yet: node__serving) AUGUR_ENOLEADER with @out->fault and
 * @errmsg (TOKEN_ERRMSG_SIZE bytes) saying why; never logs or quotes the
 * token.  The HTTP server is to call it for "Authorization: Bearer".
 * node__whoami and node__token_verify serve the ops of those names. */
struct node_token
{
    struct token_claims claims;
    char principal[STORE_ID_SIZE];
    /* The token's role as an enum store_role, what struct api_call's role
     * holds, so that the HTTP server checks ops as op_allowed does;
     * STORE_ROLE_COUNT (no role) unless the token verified. */
    int store_role;
    enum token_fault fault;
};
int node__token_check(struct node *n,
                      const char *token,
                      size_t len,
                      struct node_token *out,
                      char *errmsg) __attribute__((warn_unused_result));
void node__whoami(struct node *n, struct api_call *call);
void node__token_verify(struct node *n, struct api_call *call);

/* Membership (node/membership.c): the member.* operations, the members as
 * status shows them, and the leader's reconciler that keeps libraft's
 * configuration what the store records. */
void node__status(struct node *n, struct api_call *call);
void node__leader_transfer(struct node *n, struct api_call *call);
void node__member_list(struct node *n, struct api_call *call);
void node__member_add(struct node *n, struct api_call *call);
void node__member_remove(struct node *n, struct api_call *call);
/* Pack two map entries: @members_key -> the members (libraft's
 * configuration, then recorded members it lacks, with role "absent"), and
 * "membership" -> {"in_sync", "difference", "reconcile", "repairs"}, from
 * one read of the node records. */
void node__members_fields_pack(struct node *n,
                               msgpack_packer *pk,
                               const char *members_key);
void node__membership_tick(struct node *n, uint64_t now_ms);
void node__membership_init(struct node *n);

/* Warn (at most once an hour) while this node's certificate expires within
 * a week or has expired: its peers refuse it from then on (node/node.c). */
void node__cert_check(struct node *n, uint64_t now_ms);

/* Telemetry ingest (node/ingest.c): the telemetry.* ops, host leases
 * swept on every tick (@became: this node just became the leader), and
 * status's "telemetry" entry (one key and its map). */
int node__ingest_init(struct node *n);
void node__ingest_close(struct node *n);
void node__telemetry_report(struct node *n, struct api_call *call);
void node__telemetry_heartbeat(struct node *n, struct api_call *call);
void node__telemetry_get(struct node *n, struct api_call *call);
void node__telemetry_forward(struct node *n, struct api_call *call);
void node__ingest_tick(struct node *n, uint64_t now, bool leader, bool became);
void node__ingest_status_pack(struct node *n, msgpack_packer *pk);
/* Prepare-shutdown notices (docs/AGENT.md): the leader's answer to
 * @host's heartbeats and reports carries {"prepare_shutdown": {"workflow",
 * "deadline_ms"}} while one is set; the agent acknowledges with
 * "shutdown_ack" in its heartbeats.  Only agents whose heartbeats reach
 * the leader itself see notices (a follower answers the ones it forwards).
 * set: replaces @host's notice (a new workflow is unacknowledged again);
 * logs and drops it when the table is full.  On the leader only. */
void node__shutdown_notice_set(struct node *n,
                               const char *host,
                               uint64_t workflow,
                               uint64_t deadline_ms);
void node__shutdown_notice_clear(struct node *n, const char *host);
bool node__shutdown_acked(struct node *n, const char *host, uint64_t workflow);
/* What the leader holds for @resource (latest batches, last_report_ms,
 * lease), or NULL; valid until the next report for it or a leadership
 * change (node/telemetry.h). */
const struct node_telemetry_resource *node__telemetry_find(
    struct node *n,
    const char *resource);
/* Leader-side scoring (node/scoring.c).  init/close; the tick runs a
 * round every score_interval_ms on the leader and forgets everything when
 * leadership is lost.  node__scoring_observe is called on the leader for
 * every accepted telemetry batch (by node/ingest.c); @b is valid during the
 * call only.  node__predict serves the predict op. */
int node__scoring_init(struct node *n);
void node__scoring_close(struct node *n);
void node__scoring_tick(struct node *n, uint64_t now_ms, bool leader);
void node__scoring_observe(struct node *n, const struct telemetry_batch *b);
void node__predict(struct node *n, struct api_call *call);
/* status's "scoring" entry (one key and its map): what the leader tracks
 * and has committed, the last round's time, the model of each kind. */
void node__scoring_status_pack(struct node *n, msgpack_packer *pk);

/* The leader's orchestrator (node/orchestrator.c, docs/ORCHESTRATOR.md).
 * init allocates its memory (AUGUR_ENOMEM); start sets up its loop handle
 * once everything else is; stop closes that handle and must come before
 * the actuator is closed; close frees the rest, after the actuator.  The
 * tick runs a round when the store moved or a timer is due, on the leader
 * only, and forgets everything (cancelling its actuator calls) when
 * leadership is lost; applied asks for a round soon after an apply.
 * status_pack packs status's "orchestrator" entry (one key and its map). */
int node__orch_init(struct node *n);
void node__orch_start(struct node *n);
void node__orch_stop(struct node *n);
void node__orch_close(struct node *n);
void node__orch_tick(struct node *n, uint64_t now_ms, bool leader);
void node__orch_applied(struct node *n);
void node__orch_status_pack(struct node *n, msgpack_packer *pk);

/* HTTP (node/http_api.c, docs/HTTP.md): start serves on --http-address
 * (nothing without one): 0, or an error with the reason in n->errmsg.
 * close stops it (its handles close on the loop); NULL-safe, repeatable. */
int node__http_start(struct node *n);
void node__http_close(struct node *n);

/* Milliseconds since the epoch (wall clock): the leader's stamp. */
uint64_t node__now_ms(void);

#endif
