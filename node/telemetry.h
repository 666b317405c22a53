/* The leader's in-memory telemetry: per resource, the last batches its
 * agent reported, when it last reported, counters and its host lease.
 * Not replicated (docs/ARCHITECTURE.md, "Telemetry"): a new leader starts
 * empty.  No loop, no store: node/ingest.c drives it, and the unit tests
 * drive it alone (tests/unit/node). */
#ifndef AUGUR_NODE_TELEMETRY_H
#define AUGUR_NODE_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/lease.h"
#include "wire/telemetry.h"

#define NODE_TELEMETRY_WARN_UNUSED __attribute__((warn_unused_result))

/* One resource as the leader sees it.  The batches are a ring of
 * node_telemetry.ring slots: node_telemetry_batch(r, 0) is the newest.
 * Every pointer into it is valid until the next accepted report for this
 * resource (the slot is reused) or node_telemetry_clear. */
struct node_telemetry_resource
{
    char id[TELEMETRY_RESOURCE_MAX + 1];
    struct telemetry_batch *ring; /* node_telemetry.ring slots */
    unsigned head;                /* the slot the next batch goes to */
    unsigned count;               /* batches held, at most the ring size */
    uint64_t last_report_ms;      /* leader's clock at the last accepted report;
                                     0 when only heartbeats came */
    uint64_t last_seen_ms;        /* the last report or heartbeat */
    uint64_t reports;             /* batches accepted */
    uint64_t heartbeats;
    uint64_t agent_dropped; /* sum of the batches' "d": samples the agent
                               lost while no node answered */
    struct node_lease lease;
    bool recheck; /* the store may still say unreachable: look again at
                     the next renewal (node/ingest.c) */
};

/* Counters since this node last became leader (status shows them). */
struct node_telemetry_counters
{
    uint64_t accepted;       /* batches */
    uint64_t samples;        /* in accepted batches */
    uint64_t heartbeats;     /* accepted */
    uint64_t refused;        /* malformed, out of the time window, scope */
    uint64_t refused_scope;  /* of which: another principal's resource */
    uint64_t dropped;        /* well-formed, but over a bound (resources,
                                bytes) */
    uint64_t agent_dropped;  /* samples agents said they lost */
    uint64_t leases_expired; /* unreachable declarations proposed */
};

/* A log line at most every @every_ms per kind: a flood of bad reports must
 * not become a flood of log lines. */
struct node_telemetry_ratelimit
{
    uint64_t next_ms;    /* the current one-second window ends */
    unsigned written;    /* lines written in it */
    uint64_t suppressed; /* lines not written since the last one */
};

struct node_telemetry
{
    unsigned ring;    /* batches kept per resource */
    size_t max;       /* resources tracked at most */
    size_t bytes_max; /* sample memory at most, over all batches */
    size_t bytes;     /* sample memory held */
    size_t n;         /* resources tracked */
    size_t cap;       /* slots of the hash table, a power of two */
    struct node_telemetry_resource **slots;
    struct telemetry_batch scratch; /* the decoder's target */
    struct node_telemetry_counters c;
    struct node_telemetry_ratelimit log_refused;
    struct node_telemetry_ratelimit log_dropped;
    struct node_telemetry_ratelimit log_leases;
};

/* Set up @t for @max resources of @ring batches each, holding at most
 * @bytes_max bytes of samples.  Returns 0 or AUGUR_ENOMEM (nothing to
 * close then). */
int node_telemetry_init(struct node_telemetry *t,
                        unsigned ring,
                        size_t max,
                        size_t bytes_max) NODE_TELEMETRY_WARN_UNUSED;
void node_telemetry_close(struct node_telemetry *t);

/* Forget every resource and zero the counters (leadership lost: the next
 * leader starts from the agents' next reports, and so would this node). */
void node_telemetry_clear(struct node_telemetry *t);

/* The resource @id, or NULL when not tracked. */
struct node_telemetry_resource *node_telemetry_find(
    const struct node_telemetry *t,
    const char *id);

/* The resource @id, tracking it when new.  Returns 0, or AUGUR_ETOOBIG
 * when t->max resources are tracked already (counted as dropped), or
 * AUGUR_ENOMEM. */
int node_telemetry_track(struct node_telemetry *t,
                         const char *id,
                         struct node_telemetry_resource **out)
    NODE_TELEMETRY_WARN_UNUSED;

/* Keep t->scratch (a decoded batch) as the newest batch of its resource at
 * @now_ms: the scratch and the ring's oldest slot swap memory, so nothing
 * is copied.  Returns 0 with *@out the resource, or AUGUR_ETOOBIG (too
 * many resources, or the sample memory would pass t->bytes_max: counted as
 * dropped, the batch not kept) or AUGUR_ENOMEM. */
int node_telemetry_keep(struct node_telemetry *t,
                        uint64_t now_ms,
                        struct node_telemetry_resource **out)
    NODE_TELEMETRY_WARN_UNUSED;

/* Batch @i of @r, 0 the newest; NULL when @i >= r->count. */
const struct telemetry_batch *node_telemetry_batch(
    const struct node_telemetry *t,
    const struct node_telemetry_resource *r,
    unsigned i);

/* Walk the tracked resources: start with *@cursor = 0; NULL at the end. */
struct node_telemetry_resource *node_telemetry_next(
    const struct node_telemetry *t,
    size_t *cursor);

/* Whether to write a log line of @rl's kind at @now_ms: at most @burst a
 * second (node_telemetry_log_ok: one); *@suppressed is how many were
 * skipped since the last one written. */
bool node_telemetry_log_burst(struct node_telemetry_ratelimit *rl,
                              uint64_t now_ms,
                              unsigned burst,
                              uint64_t *suppressed);
bool node_telemetry_log_ok(struct node_telemetry_ratelimit *rl,
                           uint64_t now_ms,
                           uint64_t *suppressed);

#endif
