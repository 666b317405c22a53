/* Private to raft/: configuration rollback on top of libraft 0.15 (see
 * rollback.c for the three defects it works around). */
#ifndef AUGUR_RAFT_ROLLBACK_H
#define AUGUR_RAFT_ROLLBACK_H

#include <stdbool.h>

#include <raft.h>

struct replica;

/* Wrap io->load and set up the check handle; after raft_uv_init. */
void replica__conf_init(struct replica *r);
/* After raft_start: mark a loaded configuration that may not be committed
 * as uncommitted, and start following the committed one. */
void replica__conf_start(struct replica *r);
/* Follow r->raft.configuration_index into the replica's copy. */
void replica__conf_track(struct replica *r);
/* Free the copy (the check handle is closed by replica_close). */
void replica__conf_close(struct replica *r);
/* True when no configuration change is uncommitted: a snapshot taken now
 * holds a committed configuration. */
bool replica__conf_settled(const struct replica *r);

/* The entry at @index of libraft's in-memory log, or NULL. */
const struct raft_entry *replica__log_entry(const struct raft_log *l,
                                            raft_index index);
/* Decode libraft's configuration encoding into @conf (initialised here;
 * close it).  0 or RAFT_MALFORMED / RAFT_NOMEM. */
int replica__conf_decode(const struct raft_buffer *buf,
                         struct raft_configuration *conf);

#endif
