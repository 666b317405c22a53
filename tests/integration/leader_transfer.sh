#!/usr/bin/env bash
# leader_transfer: 'augur leader transfer ID' makes that follower the leader,
# as every node then reports.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps)
L=$(leader)
wait_until 60 "every node names the same leader" one_leader_everywhere
L=$(leader)
for id in 1 2 3; do
    [ "$id" = "$L" ] || { F=$id; break; }
done
log "leader is node $L; transferring to node $F"
aug "$ALL" leader transfer "$F" || fail "leader transfer $F failed"
wait_until 60 "every node names node $F the leader" all_see_leader "$F" 1 2 3
json_eq "$(status_json "$F")" '.state' leader

# The new leader takes writes.
aug "$ALL" resource add after-transfer --kind host
out=$(aug "$(ep "$F")" resource get after-transfer --stale -o json)
json_eq "$out" '.id' after-transfer
