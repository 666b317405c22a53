#!/usr/bin/env bash
# catch_up_snapshot: a node that missed more than the leader keeps in its
# log catches up by installing a snapshot, and then serves all the data.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

WRITES=200
cluster_start 3 --snapshot-threshold 32 --snapshot-trailing 8

lc kill 3
UP=$(eps 1 2)
for i in $(seq -w 1 "$WRITES"); do
    aug "$UP" resource add "snap-$i" --kind host >/dev/null ||
        fail "write $i of $WRITES failed"
done
log "$WRITES writes acknowledged with node 3 down"

log3=$CLUSTER_DIR/node3/augurd.log
before=$(wc -l <"$log3")
lc restart 3

node3_has_all()
{
    local out
    out=$(aug "$(ep 3)" resource list --stale -o json) || return 1
    [ "$(list_count "$out")" = "$WRITES" ]
}
wait_until 60 "node 3 serves all $WRITES resources" node3_has_all
out=$(aug "$(ep 3)" resource get "snap-$WRITES" --stale -o json)
json_eq "$out" '.id' "snap-$WRITES"

tail -n +"$((before + 1))" "$log3" | grep -q "restored snapshot" ||
    fail "node 3 caught up without logging 'restored snapshot' (no snapshot install?)"
log "node 3 installed a snapshot: $(tail -n +"$((before + 1))" "$log3" | grep -m1 "restored snapshot")"
