#!/usr/bin/env bash
# leader_gone: when the leader's process dies, each follower sees its uplink
# to the leader hang up, shortens its election timeout until another leader
# is known (replica_leader_gone), and puts the configured one back after.
# The survivors elect a leader and take writes; a node restarted on its data
# rejoins as a follower.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps)
wait_until 60 "every node names the same leader" one_leader_everywhere
L=$(leader)
F=()
for id in 1 2 3; do
    [ "$id" = "$L" ] || F+=("$id")
done
# Each follower's uplink to the leader is up before the kill.
for id in "${F[@]}"; do
    wait_until 30 "node $id's uplink to node $L" \
        grep -q "uplink to the leader (node $L at .*) is up" \
        "$CLUSTER_DIR/node$id/augurd.log"
done

log "killing the leader, node $L"
kill -9 "$(node_pid "$L")"
wait_until 60 "a leader other than node $L" leader_is_not "$L"
N=$(leader "${F[@]}")
wait_until 60 "both survivors name node $N" all_see_leader "$N" "${F[@]}"
aug "$ALL" resource add after-loss --kind host

for id in "${F[@]}"; do
    lf="$CLUSTER_DIR/node$id/augurd.log"
    grep -q "the leader (node $L) hung up: election timeout 100 ms" "$lf" ||
        fail "node $id did not shorten its election timeout"
    wait_until 30 "node $id's election timeout back to 300 ms" \
        grep -q "election timeout back to 300 ms" "$lf"
done

lc restart "$L" >/dev/null
wait_until 60 "node $L rejoins as a follower of node $N" all_see_leader "$N" "$L"
out=$(aug "$(ep "$L")" resource get after-loss --stale -o json)
json_eq "$out" '.id' after-loss
log "ok"
