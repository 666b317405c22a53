#!/usr/bin/env bash
# waiters_bounded: parked "events" long polls are bounded and do not outlive
# their connection (issue 12, item 4).  On a follower (stale reads park
# there too): a "from" beyond the next revision is refused; polls over the
# per-connection and per-principal caps are refused with EBUSY naming the
# cap; when a connection that parked polls hangs up, its polls are freed at
# once ("waiters" in status drops), not when their 49-day wait ends; and a
# parked poll does not keep its request (1 MB padded polls add little to the
# node's resident memory).
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
# Freed memory goes back to the system at once, so that resident memory
# shows what a parked poll keeps (ASan's quarantine would hold it).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
PER_CONN=16
PER_PRINCIPAL=24
cluster_start 3 --waiters-per-conn "$PER_CONN" \
    --waiters-per-principal "$PER_PRINCIPAL"
ALL=$(eps)
aug "$ALL" resource add w1 --kind host >/dev/null
L=$(leader)
# A follower: the polls below are stale reads served there.
F=1
[ "$F" != "$L" ] || F=2

node_rev() { status_json "$1" | jq -er '.rev'; }
waiters() { status_json "$1" | jq -er '.waiters'; }
waiters_are() { [ "$(waiters "$1")" = "$2" ]; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(node_pid "$1")/status"; }
same_rev() { [ "$(node_rev "$F")" = "$(node_rev "$L")" ]; }
wait_until 30 "node $F caught up with the leader" same_rev

REV=$(node_rev "$F")
NEXT=$((REV + 1))
log "node $F (follower) at revision $REV; leader is node $L"
waiters_are "$F" 0 || fail "waiters before any poll: $(waiters "$F")"

# 1. A revision beyond the next cannot be waited for.
out=$("$AUGUR_WIRE" --endpoint "$(ep "$F")" --client 7 --stale --op events \
    --args-json "{\"from\": $((REV + 5))}")
json_eq "$out" '.status' 1
grep -q "beyond the next revision $NEXT" <<<"$out" ||
    fail "the refusal does not say why: $out"

# 2. One connection parks 20 polls with a 49-day wait: 16 park, 4 are
# refused with the per-connection cap.
park()
{
    local n=$1 out=$2
    shift 2
    "$AUGUR_WIRE" --endpoint "$(ep "$F")" --client 8 --stale --op events \
        --args-json "{\"from\": $NEXT}" --park "$n" --wait-ms 4294967295 \
        --hold-ms 120000 "$@" >"$out" 2>&1 &
}
lines_are() { [ "$(grep -c "$2" "$1" || true)" = "$3" ]; }
D=$CLUSTER_DIR/wire
mkdir -p "$D"
park 20 "$D/a.out"
A=$!
wait_until 30 "16 polls parked on node $F" waiters_are "$F" "$PER_CONN"
wait_until 30 "4 refusals on the first connection" \
    lines_are "$D/a.out" '"status":20' 4
grep -q "$PER_CONN long polls already parked on this connection" "$D/a.out" ||
    fail "the refusal does not name the per-connection cap: $(cat "$D/a.out")"

# 3. A second connection of the same principal: 8 more park, up to the
# per-principal cap, and 12 are refused with it.
park 20 "$D/b.out"
B=$!
wait_until 30 "24 polls parked on node $F" waiters_are "$F" "$PER_PRINCIPAL"
wait_until 30 "12 refusals on the second connection" \
    lines_are "$D/b.out" '"status":20' 12
grep -q "already has $PER_PRINCIPAL long polls parked" "$D/b.out" ||
    fail "the refusal does not name the per-principal cap: $(cat "$D/b.out")"
# Nothing was answered but refusals: the parked polls are still waiting.
lines_are "$D/a.out" '"status":0' 0 || fail "a parked poll was answered: $(cat "$D/a.out")"

# 4. Hanging up frees a connection's polls at once (their wait is 49 days).
kill "$A"
wait "$A" 2>/dev/null || true
wait_until 20 "node $F freed the first connection's polls" \
    waiters_are "$F" $((PER_PRINCIPAL - PER_CONN))
kill "$B"
wait "$B" 2>/dev/null || true
wait_until 20 "node $F freed every parked poll" waiters_are "$F" 0

# 5. 1 MB padded polls: a parked poll keeps its page and deadline, not its
# request.  24 of them parked would hold 24 MB if requests were kept.
rss_before=$(rss_kb "$F")
park 16 "$D/c.out" --pad 1000000
C=$!
park 16 "$D/d.out" --pad 1000000
E=$!
wait_until 60 "24 padded polls parked on node $F" waiters_are "$F" "$PER_PRINCIPAL"
rss_parked=$(rss_kb "$F")
log "node $F resident: ${rss_before} kB before, ${rss_parked} kB with" \
    "$PER_PRINCIPAL polls of 1 MB parked"
[ $((rss_parked - rss_before)) -lt 12288 ] ||
    fail "24 parked 1 MB polls grew node $F by $((rss_parked - rss_before)) kB"
kill "$C" "$E"
wait "$C" 2>/dev/null || true
wait "$E" 2>/dev/null || true
wait_until 20 "node $F freed the padded polls" waiters_are "$F" 0
rss_after=$(rss_kb "$F")
log "node $F resident after the hang-up: ${rss_after} kB"

# 6. The node still serves, and a poll for the next revision is answered
# by the next write.
park 1 "$D/e.out" --hold-ms 30000
P=$!
wait_until 30 "one poll parked" waiters_are "$F" 1
aug "$ALL" resource add w2 --kind host >/dev/null
t0=$SECONDS
wait "$P" || fail "the poll's reader failed: $(cat "$D/e.out")"
log "the poll's reader ended after $((SECONDS - t0)) s: $(tr '\n' ' ' <"$D/e.out")"
lines_are "$D/e.out" '"status":0' 1 || fail "the poll was not answered: $(cat "$D/e.out")"
grep -q '"w2"' "$D/e.out" || fail "the answer lacks the new event: $(cat "$D/e.out")"
waiters_are "$F" 0 || fail "the answered poll is still counted"
