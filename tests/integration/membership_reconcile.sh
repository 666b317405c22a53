#!/usr/bin/env bash
# membership_reconcile: when libraft's configuration and the recorded
# membership differ, the leader says so and repairs it through an ordinary
# membership change (issue 10).
#
#   A. A removal whose libraft step never ran (its leader died between the
#      record and the change) is completed by the next leader.
#   B. An add that got only as far as a spare (its leader died while
#      catching the new node up) is promoted by the next leader once the
#      node runs.
#   C. The bootstrap voters are on record, and member add/remove are
#      idempotent: a retry after a lost answer succeeds.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

export AUGUR_FAILPOINT_MEMBER_PAUSE_MS=1500
cluster_start 3
ALL=$(eps 1 2 3)

voters_of() { status_json "$1" | jq -c '[.members[] | select(.role == "voter") | .id] | sort'; }
roles_of() { status_json "$1" | jq -c '[.members[] | [.id, .role]] | sort'; }
leader_has()
{
    local l st
    l=$(some_leader) || return 1
    st=$(status_json "$l") || return 1
    [ "$(jq -c '[.members[] | [.id, .role]] | sort' <<<"$st")" = "$1" ] &&
        [ "$(jq -r .membership.in_sync <<<"$st")" = true ]
}
failpoint_hit()
{
    grep -q "failpoint: membership change of node $2" "$CLUSTER_DIR/node$1/augurd.log"
}

# ---- C: the bootstrap voters are recorded -----------------------------------
recorded_all()
{
    [ "$(aug "$ALL" member list -o json | jq -c '[.[] | .recorded] | unique')" = '["voter"]' ]
}
wait_until 30 "the bootstrap voters are on record" recorded_all

# ---- A: a removal whose libraft step was lost --------------------------------
if [ "$(leader)" != 1 ]; then
    aug "$ALL" leader transfer 1 >/dev/null
    wait_until 60 "node 1 leads" all_see_leader 1 1 2 3
fi
log "A: member remove 3 on node 1; node 1 dies between the record and the change"
timeout 30 "$AUGUR" --endpoints "$(ep 1)" member remove 3 >/dev/null 2>&1 &
remove_pid=$!
wait_until 30 "the failpoint holds the removal" failpoint_hit 1 3
# The client goes first: a retry of it would complete the removal itself.
kill "$remove_pid" 2>/dev/null || true
wait "$remove_pid" 2>/dev/null || true
lc kill 1 >/dev/null
# (Ask nodes 2 and 3 only: a call to the dead node 1 waits for its timeout.)
leads_without_1() { local l; l=$(some_leader 2 3) && [ "$l" != 1 ]; }
wait_until 60 "node 2 or 3 leads" leads_without_1
# With node 1 down, the new configuration {1, 2} cannot commit; it does once
# node 1 is back.
lc restart 1 >/dev/null
wait_until 90 "the leader completed the removal of node 3" leader_has '[[1,"voter"],[2,"voter"]]'
grep -q "membership: repaired: node 3 is now removed" "$CLUSTER_DIR"/node*/augurd.log ||
    fail "no node logged the repair"
lc kill 3 >/dev/null

# A retry of the removal succeeds (idempotent) and changes nothing.
aug "$(eps 1 2)" member remove 3 -o json >"$CLUSTER_DIR/retry.json" 2>&1 &&
    fail "removing a node that is not a member should say so: $(cat "$CLUSTER_DIR/retry.json")"
grep -q ENOTFOUND "$CLUSTER_DIR/retry.json" || fail "expected ENOTFOUND: $(cat "$CLUSTER_DIR/retry.json")"

# ---- B: an add that stopped at spare -----------------------------------------
unset AUGUR_FAILPOINT_MEMBER_PAUSE_MS
lc wipe 3 >/dev/null 2>&1 || true
l=$(leader 1 2)
log "B: member add 3 on leader $l while node 3 is down: it stays a spare"
timeout 20 "$AUGUR" --endpoints "$(ep "$l")" member add 3 --address "$(raft_ep 3)" \
    --client-address "$(ep 3)" >/dev/null 2>&1 &
add_pid=$!
spare_3() { [ "$(status_json "$l" | jq -r '.members[] | select(.id == 3) | .role')" = spare ]; }
wait_until 30 "node 3 is a spare" spare_3
# The leader dies while it waits to catch node 3 up; the next one must
# finish the promotion from the record.
lc kill "$l" >/dev/null
wait "$add_pid" 2>/dev/null || true
other=$((3 - l))
lc restart "$l" >/dev/null
wait_until 60 "a leader again" leader 1 2
lc restart 3 >/dev/null
wait_until 90 "the leader promoted node 3 to voter" leader_has '[[1,"voter"],[2,"voter"],[3,"voter"]]'
log "B: node $other or $l promoted node 3"

# ---- C: add is idempotent -----------------------------------------------------
aug "$ALL" member add 3 --address "$(raft_ep 3)" --client-address "$(ep 3)" ||
    fail "adding a member again with the same address failed"
aug "$ALL" member add 3 --address 127.0.0.1:1 --client-address "$(ep 3)" 2>"$CLUSTER_DIR/conflict.err" &&
    fail "adding node 3 at another address succeeded"
grep -q EEXIST "$CLUSTER_DIR/conflict.err" || fail "expected EEXIST: $(cat "$CLUSTER_DIR/conflict.err")"
aug "$ALL" resource add after-repairs --kind host
wait_until 60 "node 3 serves after-repairs" aug "$(ep 3)" resource get after-repairs --stale
json_eq "$(status_json 3)" .membership.in_sync true
