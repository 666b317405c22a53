#!/usr/bin/env bash
# kill_leader_during_transfers: claim transfers keep their compare-and-set
# semantics across a leader crash.  60 transfers are acknowledged, the leader
# is killed -9 after 20; an indeterminate outcome (exit 3) is resolved by
# reading the claim back.  At the end every node, the restarted one too,
# holds epoch == acknowledged transfers + 1 on the expected host.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps)

aug "$ALL" resource add h1 --kind host --capacity cpu=64,mem_mb=65536
aug "$ALL" resource add h2 --kind host --capacity cpu=64,mem_mb=65536
aug "$ALL" workload add w1 --demand cpu=1,mem_mb=64
out=$(aug "$ALL" claim acquire w1 --host h1 -o json)
json_eq "$out" '.epoch' 1
json_eq "$out" '.host' h1

epoch=1
host=h1
acks=0
indeterminate=0 # an outcome since the last resync was unknown
killed=""
attempts=0

# Read the claim back (linearizable) and adopt it.  A transfer whose
# outcome was unknown may have applied: then the epoch moved by exactly one.
resync()
{
    local out e h deadline=$((SECONDS + 60))
    until out=$(aug "$ALL" claim get w1 -o json); do
        [ "$SECONDS" -lt "$deadline" ] || fail "claim get keeps failing"
    done
    e=$(jq -r '.epoch' <<<"$out")
    h=$(jq -r '.host' <<<"$out")
    if [ "$e" = "$((epoch + 1))" ]; then
        log "resync: the uncertain transfer applied (epoch $epoch -> $e, on $h)"
        acks=$((acks + 1))
    elif [ "$e" = "$epoch" ]; then
        [ "$h" = "$host" ] || fail "resync: epoch $e unchanged but host $h != $host"
        log "resync: the uncertain transfer did not apply (epoch $e)"
    else
        fail "resync: epoch went from $epoch to $e: more than one transfer applied"
    fi
    epoch=$e
    host=$h
}

while [ "$acks" -lt 60 ]; do
    attempts=$((attempts + 1))
    [ "$attempts" -le 400 ] || fail "400 attempts for 60 transfers; giving up"
    if [ "$acks" -ge 20 ] && [ -z "$killed" ]; then
        killed=$(leader)
        log "after $acks acknowledged transfers: kill -9 the leader, node $killed"
        lc kill "$killed"
    fi
    if [ "$host" = h1 ]; then to=h2; else to=h1; fi
    rc=0
    out=$(aug "$ALL" claim transfer w1 --to "$to" --epoch "$epoch" -o json) || rc=$?
    case $rc in
    0)
        json_eq "$out" '.epoch' "$((epoch + 1))"
        json_eq "$out" '.host' "$to"
        epoch=$((epoch + 1))
        host=$to
        acks=$((acks + 1))
        indeterminate=0
        ;;
    3)
        log "transfer to $to at epoch $epoch: outcome unknown (exit 3)"
        indeterminate=1
        resync
        ;;
    1)
        [ "$indeterminate" = 1 ] ||
            fail "transfer to $to at epoch $epoch refused with no uncertain transfer before it: $out"
        log "transfer refused after an uncertain one: resync"
        resync
        indeterminate=0
        ;;
    *)
        fail "claim transfer exited $rc: $out"
        ;;
    esac
done
log "$acks transfers acknowledged in $attempts attempts; epoch $epoch on $host"
[ "$epoch" = "$((acks + 1))" ] || fail "epoch $epoch != acknowledged transfers + 1 ($((acks + 1)))"

lc restart "$killed"

claim_is()
{
    local out
    out=$(aug "$(ep "$1")" claim get w1 --stale -o json) || return 1
    [ "$(jq -r '.epoch' <<<"$out")" = "$epoch" ] &&
        [ "$(jq -r '.host' <<<"$out")" = "$host" ]
}
for i in 1 2 3; do
    wait_until 60 "node $i holds w1 at epoch $epoch on $host" claim_is "$i"
done
out=$(aug "$ALL" claim get w1 -o json)
json_eq "$out" '.epoch' "$epoch"
json_eq "$out" '.host' "$host"
