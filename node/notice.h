/* Prepare-shutdown notices: the leader's in-memory table of hosts asked to
 * prepare for a shutdown (docs/AGENT.md, "Prepare-shutdown notices").  Not
 * replicated: a new leader starts empty and the orchestrator sets again
 * what it still waits for.  No loop, no I/O: unit-tested alone. */
#ifndef AUGUR_NODE_NOTICE_H
#define AUGUR_NODE_NOTICE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Hosts with a notice at once: a workflow sets one per host it drains, and
 * max_concurrent bounds the workflows. */
#define NODE_NOTICES_MAX 1024

struct node_notice
{
    char host[STORE_ID_SIZE];
    uint64_t workflow;    /* 0: a free slot */
    uint64_t deadline_ms; /* the leader's wall clock */
    bool acked;           /* the host's agent acknowledged this workflow */
};

struct node_notices
{
    struct node_notice slot[NODE_NOTICES_MAX];
    unsigned n; /* slots in use */
};

void node_notices_init(struct node_notices *t);
/* Set (or replace) @host's notice; a new workflow is not acked yet.
 * Returns 0, AUGUR_EINVAL (empty or too long host, workflow 0) or
 * AUGUR_EBUSY (the table is full). */
int node_notices_set(struct node_notices *t,
                     const char *host,
                     uint64_t workflow,
                     uint64_t deadline_ms);
void node_notices_clear(struct node_notices *t, const char *host);
void node_notices_clear_all(struct node_notices *t);
/* @host's notice, or NULL; valid until the next change. */
const struct node_notice *node_notices_find(const struct node_notices *t,
                                            const char *host);
/* An agent acknowledged @workflow for @host: true when it matched the
 * notice (which is then acked); an ack of another workflow is ignored. */
bool node_notices_ack(struct node_notices *t,
                      const char *host,
                      uint64_t workflow);
bool node_notices_acked(const struct node_notices *t,
                        const char *host,
                        uint64_t workflow);

#endif
