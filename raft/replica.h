/* The local replica of the Raft group: libraft over libuv (disk + TCP), the
 * raft_fsm that applies committed commands to the store, membership changes,
 * leadership transfer, and read barriers shared by every read waiting at the
 * same moment.  It knows nothing of the domain: commands are opaque bytes. */
#ifndef AUGUR_RAFT_REPLICA_H
#define AUGUR_RAFT_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "common/error.h"
#include "common/histogram.h"
#include "wire/secure.h"
#include "store/store.h"

#define REPLICA_WARN_UNUSED __attribute__((warn_unused_result))
#define REPLICA_ERRMSG_SIZE 256
#define REPLICA_BOOTSTRAP_MAX 9
/* Writes the replica puts in one log entry at most: the writer's choice,
 * within what the entry format allows (raft/entry.h).  Applying an entry
 * never depends on it. */
#define REPLICA_BATCH_MAX 4096
/* The most commands a log entry of any format version holds (raft/entry.h):
 * the answers of the entry being applied are kept for this many.  Part of
 * the log format, not a setting. */
#define REPLICA_ENTRY_COUNT_MAX 4096
/* A snapshot is taken once the log since the last one holds more bytes than
 * the state, and at least REPLICA_LOG_BYTES_MIN (see log_bytes_track in
 * fsm.c); libraft's trailing entries never fall below a quarter of
 * REPLICA_THRESHOLD_MIN (nor rise above --snapshot-trailing). */
#define REPLICA_LOG_BYTES_MIN (64u << 20)
#define REPLICA_THRESHOLD_MIN 64u
/* The most entry bytes one AppendEntries message carries (at least one
 * entry goes out whatever its size): see raft/append_bound.c. */
#define REPLICA_APPEND_BYTES_MAX (1u << 20)
/* Read barriers in flight at once (raft/barrier.c): reads that arrive while
 * one is in flight get the next at once instead of after its commit. */
#define REPLICA_BARRIERS_MAX 4u

struct replica_peer
{
    uint64_t id;
    char address[STORE_ADDR_SIZE];
};

struct replica_config
{
    uint64_t id;
    const char *raft_dir;     /* libraft's segments and snapshots; must exist */
    const char *raft_address; /* "host:port" this node listens on for peers */
    /* Initial voters; used only when raft_dir holds no Raft state yet. */
    unsigned n_bootstrap;
    struct replica_peer bootstrap[REPLICA_BOOTSTRAP_MAX];
    unsigned election_timeout_ms;  /* 0 = libraft's default (1000) */
    unsigned heartbeat_timeout_ms; /* 0 = libraft's default (100) */
    unsigned snapshot_threshold;   /* 0 = libraft's default (1024) */
    unsigned snapshot_trailing;    /* 0 = libraft's default (128) */
    bool pre_vote;
    /* This node's key (with its secret half) and its certificate: peers
     * prove theirs to each other at every connection and check the other's
     * against @cluster_pk (raft/transport.c).  Must outlive the replica. */
    const struct secure_identity *identity;
    uint8_t cluster_pk[SECURE_PK_SIZE];
    /* Limits of the Raft port (docs/PROTOCOL.md, "Limits"); 0 takes the
     * default. */
    unsigned peer_unauth_max;        /* connections in their handshake (64) */
    unsigned peer_unauth_per_source; /* the same per source address (8) */
    size_t peer_buffer_max; /* bytes queued on a link, each way (4 MiB) */
};

/* Close every open peer link whose node key is now revoked in the store
 * (call after applying a node.revoke or a snapshot); returns how many.  New
 * links with a revoked key are refused at their handshake anyway. */
struct replica;
unsigned replica_peers_drop_revoked(struct replica *r);

/* Parse "1=127.0.0.1:7101,2=127.0.0.1:7102" into @cfg->bootstrap.  Returns 0
 * or AUGUR_EINVAL with a reason in @errmsg (REPLICA_ERRMSG_SIZE bytes). */
int replica_bootstrap_parse(struct replica_config *cfg,
                            const char *text,
                            char *errmsg) REPLICA_WARN_UNUSED;

struct replica;
struct replica_batch;
typedef void (*replica_applied_cb)(struct replica *r);

/* What the replica counts of the snapshots it takes or installs, for
 * /metrics (docs/HTTP.md, "Metrics"). */
struct replica_snapshot_stats
{
    struct augur_histogram seconds; /* each one that succeeded */
    uint64_t failures;
    uint64_t last_bytes; /* the size of the last one that succeeded */
    uint64_t bytes;      /* the sizes of all that succeeded */
};
typedef void (*replica_close_cb)(struct replica *r);

struct replica
{
    void *data; /* user data */
    uv_loop_t *loop;
    struct store *store;
    struct raft raft;
    unsigned election_timeout_ms;  /* as configured */
    uint64_t fast_election_leader; /* see replica_leader_gone; 0 = off */
    uint64_t fast_election_since;  /* uv_now, ms */
    struct raft_io io;
    struct raft_uv_transport transport;
    struct raft_fsm fsm;
    struct raft_tracer tracer;
    /* The answers of the entry being applied, one after the other; answer
     * i ends at ends[i]. */
    msgpack_sbuffer answer;
    size_t ends[REPLICA_ENTRY_COUNT_MAX];
    unsigned n_ends;
    /* Writes of this loop turn, proposed as one entry before the loop
     * polls (see replica_write). */
    struct replica_batch *batch;
    uv_prepare_t batch_prepare;
    int closes_pending;
    /* The snapshot being taken (see fsm_snapshot). */
    struct store_snap *snap;
    uint64_t snap_index;
    uint64_t snap_started;    /* uv_now, ms */
    int snap_err;             /* set by the thread-pool half */
    uint64_t snap_started_ns; /* uv_hrtime */
    /* Taken: from pinning the state to libraft's having stored it.
     * Installed: restoring one into the store (at start from this node's
     * own, or one the leader sent). */
    struct replica_snapshot_stats snap_taken;
    struct replica_snapshot_stats snap_installed;
    unsigned async_pending; /* io_async_work requests in flight */

    void (*raft_closed_cb)(struct raft *raft);
    /* The bound on AppendEntries messages (append_bound.c): the io's own
     * send, the bound, and the last message it cut (to whom, and the index
     * after its last entry), until libraft's pipeline update has seen it. */
    int (*append_io_send)(struct raft_io *io,
                          struct raft_io_send *req,
                          const struct raft_message *message,
                          raft_io_send_cb cb);
    size_t append_bytes_max;
    bool append_cut;
    raft_id append_cut_server;
    raft_index append_cut_next;
    uint64_t append_cuts; /* messages cut, since start */
    /* When to snapshot (fsm.c): the configured counts, the ones set now,
     * the bytes applied since the last snapshot, the size of the last one
     * taken or installed, and the mean entry size. */
    unsigned max_threshold, max_trailing, threshold, trailing;
    uint64_t log_bytes, state_bytes;
    double mean_entry;
    replica_applied_cb applied_cb;
    replica_close_cb close_cb;
    /* Read barriers (barrier.c): reads queue in @waiting; a barrier serves
     * all reads that were waiting when it was proposed, and up to
     * REPLICA_BARRIERS_MAX are in flight at once. */
    struct replica_read *waiting_head, *waiting_tail;
    struct replica_barrier
    {
        struct raft_barrier req;
        struct replica *r;
        struct replica_read *batch;
        bool busy;
    } barriers[REPLICA_BARRIERS_MAX];
    unsigned barriers_busy;
    /* Where the replica is in its life (REPLICA_*, see replica.c's table);
     * replica_closing() is true from replica_close on. */
    int life;
    /* The last committed configuration and its index, kept by rollback.c
     * because libraft 0.15 may have compacted it away when it needs it. */
    struct raft_configuration committed;
    uint64_t committed_index;
    uint64_t committed_missing; /* index last warned about */
    int (*io_load)(struct raft_io *io,
                   raft_term *term,
                   raft_id *voted_for,
                   struct raft_snapshot **snapshot,
                   raft_index *start_index,
                   struct raft_entry *entries[],
                   size_t *n_entries);
    uv_check_t conf_check;
    char errmsg[REPLICA_ERRMSG_SIZE];
};

/* Set up libraft on @loop with the uv disk backend in cfg->raft_dir and the
 * TCP transport, over @store (which must be freshly opened with
 * STORE_OPEN_RESET: libraft restores the last snapshot and replays the log
 * into it on start).  Bootstraps when the config has initial voters and the
 * directory is pristine.  @applied_cb (may be NULL) runs after every
 * committed command is applied.  Returns 0 or AUGUR_EIO/AUGUR_EINVAL/
 * AUGUR_ENOMEM with a reason in r->errmsg; on error nothing needs closing. */
int replica_init(struct replica *r,
                 uv_loop_t *loop,
                 struct store *store,
                 const struct replica_config *cfg,
                 replica_applied_cb applied_cb) REPLICA_WARN_UNUSED;

/* Start Raft (load state, start timers, listen).  0 or AUGUR_EIO. */
int replica_start(struct replica *r) REPLICA_WARN_UNUSED;

/* Close everything; @cb runs once @r can be freed.  Pending writes, reads and
 * changes complete with AUGUR_ESHUTDOWN (a write then may or may not have
 * been applied). */
void replica_close(struct replica *r, replica_close_cb cb);

/* The replica's life: INIT after replica_init, STARTED after
 * replica_start, CLOSING after replica_close (DRAINING while it waits for
 * a snapshot on the thread pool before raft_close), CLOSED when its close
 * callback runs.  Every move is checked against replica.c's table. */
enum replica_life
{
    REPLICA_INIT,
    REPLICA_STARTED,
    REPLICA_DRAINING,
    REPLICA_CLOSING,
    REPLICA_CLOSED,
    REPLICA_LIFE_COUNT
};
bool replica_closing(const struct replica *r);

/* State queries. */
bool replica_is_leader(struct replica *r);
const char *replica_state_name(struct replica *r); /* "leader", ... */
/* The leader's id, 0 when none is known. */
uint64_t replica_leader_id(struct replica *r);

/* Failover timing.  A follower keeps the leader it knows until its own
 * election timer fires, and libraft (like the dissertation, section 4.2.3)
 * has it refuse every candidate until then: after a leader dies, nothing
 * can be elected before the last follower's timer fires, one to two
 * election timeouts after the leader's last heartbeat.  When the leader's
 * process is known to be gone (a connection this node kept to it was
 * closed from the other end: a crash, kill -9, or a shutdown), waiting out
 * the timeout is pointless: replica_leader_gone shortens this follower's
 * election timeout (REPLICA_FAST_ELECTION_MS, randomized by libraft from
 * the last heartbeat) until a leader other than @leader_id is known, or
 * two configured timeouts have passed (replica_timing_check puts it
 * back).  Every follower sees the hang-up at once, so they all stop
 * refusing candidates at about the same moment.  Pre-vote keeps this
 * harmless when the leader is in fact alive: its followers still refuse
 * the candidate, nobody raises the term, and the next heartbeat makes the
 * node a follower again.  Nothing happens unless this node is a follower
 * of @leader_id. */
void replica_leader_gone(struct replica *r, uint64_t leader_id);

/* Restore the configured election timeout once a leader is known again
 * (see replica_leader_gone).  Call it on every tick. */
void replica_timing_check(struct replica *r);

/* A write: append one encoded command and apply it once committed.
 * @cb runs exactly once (unless replica_write returned an error) with 0 and
 * the store's answer (valid only during the callback), or with:
 *   AUGUR_ENOTLEADER      never appended (this node is not the leader),
 *   AUGUR_EINDETERMINATE  appended but leadership was lost: it may commit,
 *   AUGUR_ESHUTDOWN       the node is closing (it may commit elsewhere),
 *   AUGUR_EIO             the entry could not be appended. */
struct replica_write;
typedef void (*replica_write_cb)(struct replica_write *req,
                                 int status,
                                 const void *answer,
                                 size_t len);
struct replica_write
{
    void *data;
    replica_write_cb cb;
};

/* Propose @cmd (@len bytes, copied).  Writes proposed during one loop turn
 * share one log entry, appended just before the loop polls for I/O; each
 * still gets its own answer.  Returns 0, AUGUR_ENOTLEADER, AUGUR_ETOOBIG
 * (over 1 MiB) or AUGUR_ENOMEM; on error @cb is never called. */
int replica_write(struct replica *r,
                  struct replica_write *req,
                  const void *cmd,
                  size_t len,
                  replica_write_cb cb) REPLICA_WARN_UNUSED;

/* A linearizable read (Raft dissertation §6.4): @cb runs once a barrier
 * proposed after this call has been applied, with 0 (read the store now),
 * AUGUR_ENOTLEADER (leadership was lost: retry elsewhere) or
 * AUGUR_ESHUTDOWN.  All reads waiting when a barrier is proposed share it. */
struct replica_read;
typedef void (*replica_read_cb)(struct replica_read *req, int status);
struct replica_read
{
    void *data;
    struct replica_read *next;
    replica_read_cb cb;
};

/* Returns 0 or AUGUR_ENOTLEADER; on error @cb is never called. */
int replica_read(struct replica *r,
                 struct replica_read *req,
                 replica_read_cb cb) REPLICA_WARN_UNUSED;

/* Membership (Raft dissertation §4.2.1: one server at a time).
 * replica_member_add adds @id as a spare, then, for @role standby or voter,
 * assigns that role (libraft first catches the new server up). */
struct replica_change;
typedef void (*replica_change_cb)(struct replica_change *req, int status);
struct replica_change
{
    void *data;
    struct raft_change change;
    struct replica *replica;
    uint64_t id;
    int role; /* RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE */
    int step; /* 0 adding, 1 assigning */
    replica_change_cb cb;
};

/* Returns 0, AUGUR_ENOTLEADER, AUGUR_EBUSY (another change is under way),
 * AUGUR_EEXIST (id or address already a member), AUGUR_ENOTFOUND (remove of
 * an unknown id) or AUGUR_EINVAL; on error @cb is never called. */
int replica_member_add(struct replica *r,
                       struct replica_change *req,
                       uint64_t id,
                       const char *address,
                       int role,
                       replica_change_cb cb) REPLICA_WARN_UNUSED;
int replica_member_remove(struct replica *r,
                          struct replica_change *req,
                          uint64_t id,
                          replica_change_cb cb) REPLICA_WARN_UNUSED;
/* Give member @id another role (a voter is caught up first). */
int replica_member_assign(struct replica *r,
                          struct replica_change *req,
                          uint64_t id,
                          int role,
                          replica_change_cb cb) REPLICA_WARN_UNUSED;
/* On the leader: the voters of the configuration without server @without
 * (0: none left out), and how many of them hold the log up to a few batches
 * from its end (the leader itself counts).  A configuration whose caught-up
 * voters are no majority cannot commit anything until the others catch up
 * (etcd's strict reconfiguration check). */
void replica_voters_caught_up(struct replica *r,
                              uint64_t without,
                              unsigned *voters,
                              unsigned *caught_up);
/* True while a configuration change is uncommitted or a promotion is
 * catching its server up: libraft refuses another change meanwhile. */
bool replica_member_changing(struct replica *r);

/* Hand leadership to voter @id (0: libraft picks).  @cb runs when the
 * transfer completed or timed out; it then reports the leader it sees. */
struct replica_transfer;
typedef void (*replica_transfer_cb)(struct replica_transfer *req,
                                    uint64_t leader);
struct replica_transfer
{
    void *data;
    struct raft_transfer transfer;
    struct replica *replica;
    replica_transfer_cb cb;
};
int replica_leader_transfer(struct replica *r,
                            struct replica_transfer *req,
                            uint64_t id,
                            replica_transfer_cb cb) REPLICA_WARN_UNUSED;

/* "voter", "standby" or "spare"; -1 / NULL when unknown. */
int replica_role_parse(const char *name);
const char *replica_role_name(int role);

#endif
