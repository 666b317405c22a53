#!/usr/bin/env bash
# sigterm_clean: SIGTERM makes a follower shut down cleanly (exit status 0)
# and it rejoins on restart, catching up with what it missed.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps)
L=$(leader)
for id in 1 2 3; do
    [ "$id" = "$L" ] || { F=$id; break; }
done
aug "$ALL" resource add before-term --kind host

pid=$(node_pid "$F")
log "SIGTERM to follower node $F (pid $pid)"
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_until 30 "node $F exits" gone
# local-cluster's keeper records the exit status.
wait_until 10 "node $F's exit status is recorded" test -s "$CLUSTER_DIR/node$F/exit-status"
status=$(cat "$CLUSTER_DIR/node$F/exit-status")
[ "$status" = 0 ] || fail "node $F exited with status $status after SIGTERM"
grep -q "node $F stopped" "$CLUSTER_DIR/node$F/augurd.log" ||
    fail "node $F's log lacks 'node $F stopped'"

aug "$ALL" resource add while-down --kind host
lc restart "$F"
stale_has() { aug "$(ep "$F")" resource get "$1" --stale -o json; }
wait_until 60 "node $F serves while-down" stale_has while-down
wait_until 60 "every node names the same leader" one_leader_everywhere
st=$(status_json "$F")
json_eq "$st" '.members | length' 3
