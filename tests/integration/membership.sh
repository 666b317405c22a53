#!/usr/bin/env bash
# membership: a fourth node joins as a voter and serves the data, leaves
# again; then a member is removed, wiped, added back with the same addresses
# and catches up from nothing.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps 1 2 3)

members_are()
{
    local want_members=$1 want_voters=$2 st
    st=$(status_json "$(leader)") || return 1
    [ "$(jq -r '.members | length' <<<"$st")" = "$want_members" ] &&
        [ "$(jq -r '[.members[] | select(.role == "voter")] | length' <<<"$st")" = "$want_voters" ]
}

stale_has()
{
    aug "$(ep "$1")" resource get "$2" --stale -o json
}

aug "$ALL" resource add before-4 --kind host

# ---- node 4 joins -----------------------------------------------------------
lc add 4 || fail "local-cluster add 4 failed"
aug "$ALL" member add 4 --address "$(raft_ep 4)" --client-address "$(ep 4)" ||
    fail "member add 4 failed"
wait_until 60 "4 members, 4 voters" members_are 4 4
st=$(status_json "$(leader)")
json_eq "$st" '.members[] | select(.id == 4) | .client_address' "$(ep 4)"
json_eq "$st" '.members[] | select(.id == 4) | .address' "$(raft_ep 4)"

aug "$ALL" resource add with-4 --kind host || fail "a write with 4 voters failed"
wait_until 60 "node 4 serves before-4" stale_has 4 before-4
wait_until 60 "node 4 serves with-4" stale_has 4 with-4

# ---- node 4 leaves ----------------------------------------------------------
if [ "$(leader)" = 4 ]; then
    aug "$ALL" leader transfer 1
    wait_until 60 "node 4 is no longer the leader" leader_is_not 4
fi
aug "$ALL" member remove 4 || fail "member remove 4 failed"
wait_until 60 "3 members, 3 voters" members_are 3 3
lc kill 4

# ---- node 3 is removed, wiped, added back and catches up -------------------
if [ "$(leader)" = 3 ]; then
    aug "$ALL" leader transfer 1
    wait_until 60 "node 3 is no longer the leader" leader_is_not 3
fi
aug "$ALL" member remove 3 || fail "member remove 3 failed"
wait_until 60 "2 members" members_are 2 2
aug "$(eps 1 2)" resource add without-3 --kind host
lc wipe 3
[ ! -e "$CLUSTER_DIR/node3/data" ] || fail "wipe left node 3's data behind"

# member add may wait for node 3 to catch up before it answers, so it runs
# while node 3 starts.
aug "$(eps 1 2)" member add 3 --address "$(raft_ep 3)" --client-address "$(ep 3)" &
add_pid=$!
lc restart 3 || fail "local-cluster restart 3 failed"
wait "$add_pid" || fail "member add 3 failed"
wait_until 60 "3 members, 3 voters" members_are 3 3

for id in before-4 with-4 without-3; do
    wait_until 60 "the wiped node 3 serves $id" stale_has 3 "$id"
done
aug "$ALL" resource add after-rejoin --kind host
wait_until 60 "node 3 serves after-rejoin" stale_has 3 after-rejoin
