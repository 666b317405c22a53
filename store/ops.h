/* store/, above db.h: the records and the operations on them, one file
 * per concept (resources.c, workloads.c, claims.c, edges.c, events.c,
 * sessions.c, nodes.c, principals.c).  store.c dispatches to the handlers
 * through common/ops.h.  Each record kind has one descriptor (struct
 * store__record: its database, its name, its decoder) through which it is
 * loaded and snapshot.c checks it; the other databases (indexes, the event
 * log, sessions) have a *_entry_check function. */

#ifndef AUGUR_STORE_OPS_H
#define AUGUR_STORE_OPS_H

#include "store/db.h"
#include "store/pack.h"
#include "store/store_int.h"

/* The record kinds' descriptors. */
extern const struct store__record store__resource_record;
extern const struct store__record store__workload_record;
extern const struct store__record store__claim_record;
extern const struct store__record store__node_record;
extern const struct store__record store__principal_record;
extern const struct store__record store__workflow_record;
extern const struct store__record store__standby_record;

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
int store__resource_lease(struct store *s,
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
int store__host_claim_entry_check(struct store *s,
                                  const MDB_val *k,
                                  const MDB_val *v);
/* Whether host @r may be granted @w: a host kind, active, and (unless
 * @charged: it already carries @w's demand) room for it.  False with a
 * refusal (store__refuse) when not. */
bool store__claim_grantable(struct store *s,
                            const struct store__resource *r,
                            const struct store__workload *w,
                            bool charged);
/* The auto-pick: the preferred active host with room for @demand, never
 * @exclude (NULL: none).  *@found tells whether one fits; @id has
 * STORE_ID_SIZE bytes. */
int store__claim_pick(struct store *s,
                      MDB_txn *txn,
                      const struct store_capacity *demand,
                      const char *exclude,
                      char *id,
                      bool *found);
/* Move @c, the current claim of @w, to host @to under the next epoch, by
 * claim.transfer's rules: @to must exist and be grantable (a transfer to
 * the current host re-fences the claim); a standby claim of @w on @to is
 * consumed and its capacity charge kept.  Refuses (store__refuse, nothing
 * written, 0 returned) when it may not; on success @c is the new claim. */
int store__claim_move(struct store *s,
                      MDB_txn *txn,
                      const struct store__workload *w,
                      struct store__claim *c,
                      const char *to);
/* Charge or refund host @id for @demand (a missing host is skipped). */
int store__host_charge(struct store *s,
                       MDB_txn *txn,
                       const char *id,
                       const struct store_capacity *demand,
                       bool refund);

/* ---- workflows.c ------------------------------------------------------ */

int store__workflow_create(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd);
int store__workflow_advance(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd);
int store__workflow_cancel(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd);
int store__workflow_approve(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd);
int store__workflow_get(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__workflow_list(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__workflow_of_entry_check(struct store *s,
                                   const MDB_val *k,
                                   const MDB_val *v);
int store__workload_move_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v);

/* ---- standby.c -------------------------------------------------------- */

/* The standby claim of (@workload, @host): 0, AUGUR_ENOTFOUND or
 * AUGUR_EIO. */
int store__standby_load(struct store *s,
                        MDB_txn *txn,
                        const char *workload,
                        const char *host,
                        struct store_standby *b);
/* Delete the standby claim @b from both tables (its capacity charge is
 * the caller's: refunded on release, kept when a claim takes it over). */
int store__standby_del(struct store *s,
                       MDB_txn *txn,
                       const struct store_standby *b);
/* The first standby claim of @workload (in host order): 0 with @b,
 * AUGUR_ENOTFOUND or a failure. */
int store__standby_first(struct store *s,
                         MDB_txn *txn,
                         const char *workload,
                         struct store_standby *b);
int store__shadow_provision(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd);
int store__shadow_update(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__shadow_release(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd);
int store__shadow_list(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd);
int store__host_standby_entry_check(struct store *s,
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

/* Before a write of a client with a session (keyed by principal and
 * client): when (client, seq) was answered before, append that answer to
 * @answer and set *@done, or an EINVAL refusal when that answer was for a
 * different command (another digest); when a principal's session is not
 * registered (session.open) or expired, or seq is below the session's
 * floor, append an ESESSION answer and set *@done.  Otherwise fill @sess
 * for store__session_record. */
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
/* session.open: answers {"ttl_ms"}; store_apply registers the session. */
int store__session_open(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__session_entry_check(struct store *s,
                               const MDB_val *k,
                               const MDB_val *v);
int store__session_time_entry_check(struct store *s,
                                    const MDB_val *k,
                                    const MDB_val *v);
/* A version 1 snapshot's entry of @db (sessions, session times, answers),
 * keyed by the client id alone, as the entry of the same session of no
 * principal (the all-zero key) with an all-zero digest, which any command
 * matches: the new key goes into @kbuf (STORE__SESSION_KEY_MAX bytes) and
 * *@k points to it, a new value into s->value and *@v points to it.  0 or
 * AUGUR_EMALFORMED (a key of the wrong size). */
int store__session_entry_upgrade(struct store *s,
                                 int db,
                                 MDB_val *k,
                                 MDB_val *v,
                                 unsigned char *kbuf);
int store__answer_entry_check(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v);

/* ---- nodes.c ---------------------------------------------------------- */

int store__node_set(struct store *s, MDB_txn *txn, const struct store_cmd *cmd);
int store__node_list(struct store *s,
                     MDB_txn *txn,
                     const struct store_cmd *cmd);

/* ---- revoked.c -------------------------------------------------------- */

int store__node_revoke(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd);
int store__node_revoked_list(struct store *s,
                             MDB_txn *txn,
                             const struct store_cmd *cmd);
int store__revoked_entry_check(struct store *s,
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
/* Before a command is applied: the principal it carries (if any) must be
 * one in @txn, with a role that reaches the op's row.  Returns 0 (then
 * s->principal holds its name, "" for none), 0 with a refusal
 * (store__refuse: EAUTH, EPERM), or AUGUR_EIO when the lookup failed. */
int store__principal_check(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd);
int store__principal_key_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v);

/* ---- models.c --------------------------------------------------------- */

int store__model_chunk(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd);
int store__model_commit(struct store *s,
                        MDB_txn *txn,
                        const struct store_cmd *cmd);
int store__model_activate(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd);
int store__model_list(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd);
int store__model_entry_check(struct store *s,
                             const MDB_val *k,
                             const MDB_val *v);
int store__model_pending_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v);
int store__model_data_entry_check(struct store *s,
                                  const MDB_val *k,
                                  const MDB_val *v);
int store__model_active_entry_check(struct store *s,
                                    const MDB_val *k,
                                    const MDB_val *v);

/* ---- resilience.c: pure arithmetic ------------------------------------ */

/* Units (hosts and what they depend on) of one evaluation, at most this
 * many, each member depending on at most STORE__RESIL_MEMBER_UNITS. */
#define STORE__RESIL_UNITS_MAX 512
#define STORE__RESIL_MEMBER_UNITS 32
/* Shared units enumerated exactly (2^12 states at most). */
#define STORE__RESIL_SHARED_MAX 12
/* Units tried for "weakest" (each try is one more computation). */
#define STORE__RESIL_WEAK_TRIES 24

struct store__resil_member
{
    bool up_possible; /* it holds a claim on a host that runs */
    unsigned n_units; /* its host and everything upstream of it */
    unsigned units[STORE__RESIL_MEMBER_UNITS];
};

/* Unit u fails with probability p[u], independently of the others; a
 * member runs iff it is possibly up and none of its units fails. */
struct store__resil
{
    unsigned n_units;
    const double *p;
    unsigned n_members;
    const struct store__resil_member *members;
    unsigned k; /* members that must keep running */
};

struct store__resil_out
{
    double resilience;
    unsigned n_weakest;
    struct
    {
        unsigned unit;
        double p;
        double gain;
    } weakest[STORE_WEAKEST_MAX];
};

/* A resource's own failure probability from its committed one, which
 * predict/ made by noisy-OR over its direct dependencies (@n_deps of them,
 * committed p @dep_p, edge kind @dep_kind):
 * 1 - (1 - p) / prod(1 - w_kind p_dep), clamped to [0, 1]. */
double store__p_own(double p_committed,
                    const double *dep_p,
                    const int *dep_kind,
                    unsigned n_deps);
/* P(at least r->k members keep running) and the up to STORE_WEAKEST_MAX
 * units whose p set to 0 raises it most (largest gain first, gains > 0
 * only).  0 or AUGUR_ENOMEM. */
int store__resilience(const struct store__resil *r,
                      struct store__resil_out *out);

/* ---- cohorts.c -------------------------------------------------------- */

extern const struct store__record store__cohort_record;
int store__cohort_load(struct store *s,
                       MDB_txn *txn,
                       const char *name,
                       struct store_cohort *c);
/* The cohort @workload belongs to, into @name (STORE_ID_SIZE bytes; ""
 * when none).  0 or a failure. */
int store__cohort_of(struct store *s,
                     MDB_txn *txn,
                     const char *workload,
                     char *name);
int store__cohort_create(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__cohort_delete(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__cohort_add(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd);
int store__cohort_remove(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd);
int store__cohort_get(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd);
int store__cohort_list(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd);
int store__cohort_of_entry_check(struct store *s,
                                 const MDB_val *k,
                                 const MDB_val *v);

/* ---- views.c ---------------------------------------------------------- */

/* Evaluate @c in @txn (see store_cohort_evaluate). */
int store__cohort_eval(struct store *s,
                       MDB_txn *txn,
                       const struct store_cohort *c,
                       const char *workload,
                       const char *host,
                       struct store_cohort_eval *out);
int store__host_domain(struct store *s,
                       MDB_txn *txn,
                       const char *host,
                       int spread,
                       char *out);

/* ---- policy.c --------------------------------------------------------- */

/* The policy in @txn (defaults for the keys never set): 0 or AUGUR_EIO. */
int store__policy_load(struct store *s, MDB_txn *txn, struct store_policy *p);
int store__policy_set(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd);
int store__policy_get(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd);
int store__policy_entry_check(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v);

#endif
