#!/usr/bin/env bash
# membership_rollback: a node that restarts with an uncommitted configuration
# change at the end of its log must not keep that configuration once the new
# leader truncates the entry.  Debian's libraft 0.15 loads the last
# configuration entry of the log as committed (src/start.c), so the truncation
# did not roll it back (canonical/raft #250, fixed upstream in #354); when that
# node became leader it stopped replicating to the member the lost change had
# removed, and the next membership change made the loss permanent.  This is the
# fixed schedule that reproduces it (issue 10), with the membership reconciler
# off so that nothing but the rollback can keep the member:
#
#   1. node 1 leads; nodes 2 and 3 are killed (kill -9: a stopped process
#      would still read what node 1 sent once it resumed);
#   2. 'member remove 3' on node 1 appends a configuration without node 3 that
#      cannot commit; node 1 steps down and is killed with it in its log;
#   3. nodes 2 and 3 restart, elect a leader and write, so their log differs
#      from node 1's at the configuration's index;
#   4. node 1 restarts, catches up (the entry is truncated) and is made leader;
#   5. node 3 must still be a member and receive what node 1 writes.
#
# The failpoint AUGUR_FAILPOINT_MEMBER_PAUSE_MS holds the libraft step of a
# membership change after its intent is committed to the store, so that the
# intent can commit while nodes 2 and 3 still run and the configuration change
# itself cannot.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

# A long election timeout keeps node 1 the leader for seconds after its
# peers die, so the held step runs while it still leads.
export AUGUR_FAILPOINT_MEMBER_PAUSE_MS=1500
cluster_start 3 --member-reconcile off --election-timeout 5000 \
    --heartbeat-timeout 250
ALL=$(eps 1 2 3)

members_of()
{
    status_json "$1" | jq -c '[.members[] | select(.role == "voter") | .id] | sort'
}
members_are()
{
    [ "$(members_of "$1")" = "$2" ]
}
not_leader()
{
    local st
    st=$(status_json "$1") || return 1
    [ "$(jq -r .state <<<"$st")" != leader ]
}
stale_has()
{
    aug "$(ep "$1")" resource get "$2" --stale -o json
}

aug "$ALL" resource add before --kind host
if [ "$(leader)" != 1 ]; then
    aug "$ALL" leader transfer 1 >/dev/null
    wait_until 60 "node 1 leads" all_see_leader 1 1 2 3
fi

# ---- 1-2: an uncommitted removal of node 3 in node 1's log ------------------
log "member remove 3 on node 1, with nodes 2 and 3 down before the change"
if "$AUGURD" --help 2>&1 | grep -q -- --member-reconcile; then
    # The fixed build commits the intent first (nodes 2 and 3 must run for
    # that), logs when the failpoint holds the libraft step, then takes it.
    timeout 30 "$AUGUR" --endpoints "$(ep 1)" member remove 3 >"$CLUSTER_DIR/remove.out" 2>&1 &
    remove_pid=$!
    failpoint_hit() { grep -q "failpoint: membership change" "$CLUSTER_DIR/node1/augurd.log"; }
    wait_until 30 "the failpoint holds the removal" failpoint_hit
    lc kill 2 >/dev/null; lc kill 3 >/dev/null
else
    # The build before the fix takes the libraft step at once.
    lc kill 2 >/dev/null; lc kill 3 >/dev/null
    timeout 30 "$AUGUR" --endpoints "$(ep 1)" member remove 3 >"$CLUSTER_DIR/remove.out" 2>&1 &
    remove_pid=$!
fi
wait_until 60 "node 1 holds a configuration without node 3" members_are 1 '[1,2]'
wait_until 60 "node 1 steps down" not_leader 1
lc kill 1
kill "$remove_pid" 2>/dev/null || true
wait "$remove_pid" 2>/dev/null || true
log "remove answered: $(tr '\n' ' ' <"$CLUSTER_DIR/remove.out")"
lc restart 2 >/dev/null; lc restart 3 >/dev/null

# ---- 3: nodes 2 and 3 go on without node 1 ----------------------------------
wait_until 60 "node 2 or 3 leads" leader 2 3
aug "$(eps 2 3)" resource add while-1-was-down --kind host
members_are 2 '[1,2,3]' || fail "nodes 2 and 3 lost node 3: $(members_of 2)"

# ---- 4: node 1 comes back and leads -----------------------------------------
lc restart 1
wait_until 60 "node 1 serves what it missed" stale_has 1 while-1-was-down
aug "$ALL" leader transfer 1 >/dev/null || true
# Before the fix node 3 never hears from leader 1: wait on nodes 1 and 2.
wait_until 60 "node 1 leads again" all_see_leader 1 1 2

# ---- 5: node 3 is still a member and receives entries -----------------------
members_are 1 '[1,2,3]' ||
    fail "node 1 leads with voters $(members_of 1): node 3 was lost (the truncated removal was never rolled back)"
aug "$ALL" resource add after --kind host
wait_until 60 "node 3 receives what leader 1 writes" stale_has 3 after
aug "$ALL" member list -o json >/dev/null
