#!/usr/bin/env bash
# membership_strict: member remove refuses to leave the cluster without a
# caught-up majority (etcd's strict reconfiguration check).  With node 2
# down and behind, removing node 3 would leave voters {1, 2} of which only
# node 1 holds the log: nothing could commit until node 2 caught up.  The
# removal is refused with EBUSY and changes nothing; once node 2 is back and
# caught up it goes through.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps 1 2 3)
if [ "$(leader)" != 1 ]; then
    aug "$ALL" leader transfer 1 >/dev/null
    wait_until 60 "node 1 leads" all_see_leader 1 1 2 3
fi
lc kill 2 >/dev/null
# An election in the cluster's first seconds (a loaded machine) may have
# moved the leadership to node 3 since: node 1 must lead, node 3 is the one
# removed.
if [ "$(leader 1 3)" != 1 ]; then
    aug "$(eps 1 3)" leader transfer 1 >/dev/null
    wait_until 60 "node 1 leads" all_see_leader 1 1 3
fi
# More entries than the slack a caught-up voter may lag by.
for i in $(seq 1 140); do
    aug "$(eps 1 3)" resource add "r$i" --kind host >/dev/null
done

if aug "$(ep 1)" member remove 3 2>"$CLUSTER_DIR/remove.err"; then
    fail "member remove 3 succeeded with node 2 down and behind"
fi
grep -q EBUSY "$CLUSTER_DIR/remove.err" || fail "expected EBUSY: $(cat "$CLUSTER_DIR/remove.err")"
grep -q "no majority" "$CLUSTER_DIR/remove.err" || fail "expected the reason: $(cat "$CLUSTER_DIR/remove.err")"
voters=$(status_json 1 | jq -c '[.members[] | select(.role == "voter") | .id] | sort')
[ "$voters" = '[1,2,3]' ] || fail "the refused removal changed the voters: $voters"
[ "$(status_json 1 | jq -r '[.members[] | select(.id == 3) | .recorded][0]')" != removed ] ||
    fail "the refused removal was recorded"

lc restart 2 >/dev/null
wait_until 60 "node 2 caught up" aug "$(ep 2)" resource get r140 --stale
aug "$(ep 1)" member remove 3 || fail "member remove 3 failed with every voter caught up"
voters_are() { [ "$(status_json 1 | jq -c '[.members[] | select(.role == "voter") | .id] | sort')" = "$1" ]; }
wait_until 30 "voters 1 and 2" voters_are '[1,2]'
