#!/usr/bin/env bash
# retry_applies_once: a write repeated with the same (client, seq) is applied
# once and answered identically; the next seq applies.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
cluster_start 3
ALL=$(eps)

aug "$ALL" resource add h1 --kind host --capacity cpu=64,mem_mb=65536
aug "$ALL" resource add h2 --kind host --capacity cpu=64,mem_mb=65536
aug "$ALL" workload add w1 --demand cpu=1,mem_mb=64
out=$(aug "$ALL" claim acquire w1 --host h1 -o json)
json_eq "$out" '.epoch' 1

# wire SEQ ARGS_JSON REPEAT: claim.transfer as client 4242 on the leader,
# one answer per line.  augur-wire follows no redirect, so a leader change
# in between (ENOTLEADER, status 12, nothing applied) is retried.
wire()
{
    local seq=$1 args=$2 repeat=$3 lep answers deadline=$((SECONDS + 60))
    while :; do
        lep=$(leader_client_address) || fail "cannot find the leader's client address"
        answers=$("$AUGUR_WIRE" --endpoint "$lep" --client 4242 --seq "$seq" \
            --op claim.transfer --args-json "$args" --repeat "$repeat") ||
            fail "augur-wire to $lep failed"
        if [ "$(head -n1 <<<"$answers" | jq -r '.status')" != 12 ]; then
            echo "$answers"
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "the leader keeps moving: $answers"
    done
}

answers=$(wire 1 '{"workload":"w1","to":"h2","epoch":1}' 2)
log "seq 1 sent twice:"
echo "$answers"
[ "$(wc -l <<<"$answers")" = 2 ] || fail "expected 2 answers, got: $answers"
first=$(sed -n 1p <<<"$answers")
second=$(sed -n 2p <<<"$answers")
json_eq "$first" '.status' 0
json_eq "$first" '.result.epoch' 2
json_eq "$first" '.result.host' h2
[ "$(jq -r '.rev' <<<"$first")" -gt 0 ] || fail "no rev in: $first"
[ "$first" = "$second" ] || fail "the retry got a different answer: $first vs $second"

out=$(aug "$ALL" claim get w1 -o json)
json_eq "$out" '.epoch' 2
json_eq "$out" '.host' h2

# Once more, on a new connection: still the stored answer, still epoch 2.
third=$(wire 1 '{"workload":"w1","to":"h2","epoch":1}' 1)
[ "$third" = "$first" ] || fail "a retry on a new connection got: $third (want $first)"
out=$(aug "$ALL" claim get w1 -o json)
json_eq "$out" '.epoch' 2

# The next seq is a new write and applies.
next=$(wire 2 '{"workload":"w1","to":"h1","epoch":2}' 1)
json_eq "$next" '.status' 0
json_eq "$next" '.result.epoch' 3
[ "$(jq -r '.rev' <<<"$next")" -gt "$(jq -r '.rev' <<<"$first")" ] ||
    fail "seq 2 did not advance the revision: $next"
out=$(aug "$ALL" claim get w1 -o json)
json_eq "$out" '.epoch' 3
json_eq "$out" '.host' h1
