#!/usr/bin/env bash
# workflows: 'augur migrate' records a migration workflow that every node
# holds alike; a second one for the same workload is refused with EBUSY
# naming the first; workflow list, get, cancel and approve work through the
# CLI; bad input changes nothing; after the leader is killed -9 its
# successor shows the same workflows.  (The steps themselves are advanced by
# the leader's orchestrator with the INTERNAL op workflow.advance, which no
# client may call: the store's unit tests cover them, tests/integration/
# orchestrator.sh the orchestrator.  Here it is off, so that the workflows
# stay where the CLI left them.)
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3 --orchestrator off
ALL=$(eps)

aug "$ALL" resource add h1 --kind host --capacity cpu=16,mem_mb=16384 >/dev/null
aug "$ALL" resource add h2 --kind host --capacity cpu=16,mem_mb=16384 >/dev/null
aug "$ALL" resource add h3 --kind host --capacity cpu=16,mem_mb=16384 >/dev/null
aug "$ALL" workload add w1 --demand cpu=2,mem_mb=512 >/dev/null
out=$(aug "$ALL" workload add w2 --demand cpu=1,mem_mb=256 --strategy blue-green -o json)
json_eq "$out" '.strategy' blue-green
aug "$ALL" claim acquire w1 --host h1 >/dev/null
aug "$ALL" claim acquire w2 --host h1 >/dev/null
json_eq "$(aug "$ALL" claim get w1 -o json)" '.kind' active

# Bad input is refused before anything changes.
if aug "$ALL" migrate w1 --strategy sideways 2>/dev/null; then
    fail "an unknown strategy was accepted"
fi
if aug "$ALL" migrate nope --to h2 2>/dev/null; then
    fail "a workflow for an unknown workload was created"
fi
if aug "$ALL" migrate w1 --to h1 2>/dev/null; then
    fail "a workflow to the workload's own host was created"
fi
if aug "$ALL" workflow get zero 2>/dev/null; then
    fail "workflow get took a non-numeric id"
fi
[ "$(aug "$ALL" workflow list -o json | jq length)" = 0 ] ||
    fail "refused commands left a workflow"

# migrate prints the id; -o json the workflow.
id=$(aug "$ALL" migrate w1 --to h2)
[[ "$id" =~ ^[0-9]+$ ]] || fail "migrate printed '$id', not an id"
out=$(aug "$ALL" workflow get "$id" -o json)
json_eq "$out" '.workload' w1
json_eq "$out" '.from' h1
json_eq "$out" '.to' h2
json_eq "$out" '.strategy' live
json_eq "$out" '.reason' manual
json_eq "$out" '.state' pending
json_eq "$out" '.approved' true
json_eq "$out" '[.steps[].name] | join(",")' prepare,transfer,activate,release
log "workflow $id: $(jq -c '{workload, from, to, state}' <<<"$out")"

# One workflow per workload at a time: EBUSY, naming the first.
rc=0
err=$(aug "$ALL" migrate w1 --to h3 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] || fail "a second workflow for w1: exit $rc, expected 1"
grep -q EBUSY <<<"$err" || fail "a second workflow for w1: '$err', expected EBUSY"
grep -q "workflow $id" <<<"$err" || fail "the refusal does not name workflow $id: $err"

# The store picks the target when --to is left out, never the current host.
out=$(aug "$ALL" migrate w2 -o json)
id2=$(jq -r .id <<<"$out")
json_eq "$out" '.strategy' blue-green
[ "$(jq -r .to <<<"$out")" != h1 ] || fail "the picked target is w2's own host"
json_eq "$out" '[.steps[].name] | join(",")' prepare,transfer,activate,keep_warm,release

# Every node holds both (stale reads: each node's own store).
for n in 1 2 3; do
    wait_until 30 "node $n lists workflows $id and $id2" bash -c \
        "'$AUGUR' --endpoints $(ep "$n") --stale workflow list --active -o json | jq -e '[.[].id] | index($id) != null and index($id2) != null'"
done

# approve (idempotent on an approved one), cancel (before the transfer).
json_eq "$(aug "$ALL" workflow approve "$id" -o json)" '.state' pending
out=$(aug "$ALL" workflow cancel "$id2" -o json)
json_eq "$out" '.state' cancelled
if aug "$ALL" workflow cancel "$id2" 2>/dev/null; then
    fail "a finished workflow was cancelled twice"
fi
if aug "$ALL" workflow get 999999 2>/dev/null; then
    fail "an unknown workflow was found"
fi
[ "$(aug "$ALL" workflow list --active -o json | jq length)" = 1 ] ||
    fail "the cancelled workflow is still listed as active"
[ "$(aug "$ALL" workflow list -o json | jq length)" = 2 ] ||
    fail "workflow list does not show both workflows"
aug "$ALL" workflow list >/dev/null
aug "$ALL" workflow get "$id" >/dev/null
[ "$(aug "$ALL" shadow list -o json | jq length)" = 0 ] || fail "shadows appeared"

# The leader dies: its successor shows the same workflows.
L=$(leader)
kill -KILL "$(node_pid "$L")"
wait_until 60 "another node leads" leader_is_not "$L"
survivors=$(for n in 1 2 3; do [ "$n" = "$L" ] || echo "$n"; done | paste -sd,)
SURV=$(eps ${survivors//,/ })
out=$(aug "$SURV" workflow get "$id" -o json)
json_eq "$out" '.state' pending
json_eq "$out" '.to' h2
json_eq "$(aug "$SURV" workflow get "$id2" -o json)" '.state' cancelled
# Still one at a time for w1 under the new leader; w2 may move again.
if aug "$SURV" migrate w1 --to h3 2>/dev/null; then
    fail "the new leader let a second workflow for w1 in"
fi
id3=$(aug "$SURV" migrate w2 --to h3)
[ "$id3" -gt "$id2" ] || fail "workflow ids went backwards: $id3 after $id2"
log "new leader: workflow $id pending, $id2 cancelled, $id3 created"
