#!/usr/bin/env bash
# bootstrap_3 / bootstrap_5: a fresh cluster of N nodes elects one leader
# with N voters; a write sent to any single node succeeds (followers
# redirect), and every node then serves it, linearizably and stale.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

N=${1:-3}
cluster_start "$N"

L=$(leader)
log "leader is node $L"
wait_until 60 "every node names the same leader" one_leader_everywhere
st=$(status_json "$L")
json_eq "$st" '.members | length' "$N"
json_eq "$st" '[.members[] | select(.role == "voter")] | length' "$N"
json_eq "$st" '.state' leader

# One write through each node alone, followers included.
for i in $(seq 1 "$N"); do
    aug "$(ep "$i")" resource add "boot-$i" --kind host ||
        fail "resource add through node $i alone failed"
done

# A linearizable read through each node sees every write at once.
for i in $(seq 1 "$N"); do
    out=$(aug "$(ep "$i")" resource list -o json) ||
        fail "resource list through node $i failed"
    [ "$(list_count "$out")" = "$N" ] ||
        fail "linearizable list through node $i: want $N items, got: $out"
done

# A stale read on each node sees them once that node has applied them.
stale_has_all()
{
    local out
    out=$(aug "$(ep "$1")" resource list --stale -o json) || return 1
    [ "$(list_count "$out")" = "$N" ]
}
for i in $(seq 1 "$N"); do
    wait_until 60 "node $i serves all $N resources stale" stale_has_all "$i"
    for j in $(seq 1 "$N"); do
        out=$(aug "$(ep "$i")" resource get "boot-$j" --stale -o json) ||
            fail "stale get boot-$j on node $i failed"
        json_eq "$out" '.kind' host
    done
done
