#!/usr/bin/env bash
# raft_backpressure: a follower that stops reading (SIGSTOP) while the
# leader is under write load does not make the leader buffer without bound:
# the leader's transport stops taking libraft's bytes for that link once
# 4 MiB wait toward the follower, and closes the link when the follower
# takes nothing for 5 s (libraft then keeps a few messages and reconnects;
# Raft resends).  The leader's memory, measured while the load runs, grows
# at most 64 MiB more than under the same load with every node running
# (before the bound: ~86 MiB more at this scale, and growing with the
# load); after SIGCONT the follower catches up to the leader's revision.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

AUGUR_BENCH=${AUGUR_BENCH:-$REPO/build-test/tests/bench/augur-bench}
[ -x "$AUGUR_BENCH" ] || fail "augur-bench not built ($AUGUR_BENCH)"
# ASan's quarantine keeps up to 256 MB of freed memory resident, which would
# hide what the node itself holds: keep it small for the memory figures.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
# 8: 160,000 writes of ~300 bytes each run.
SCALE=${RAFT_BACKPRESSURE_SCALE:-8}
# No snapshot during the test: taking one copies the whole store (hundreds
# of MB by the end), and a lagging follower is sent one, so their timing
# would swamp what is measured here.  The follower catches up from the log.
cluster_start 3 --snapshot-threshold 1000000

L=$(leader)
F=1
[ "$F" != "$L" ] || F=2
LEP=$(ep "$L")
LPID=$(node_pid "$L")
FPID=$(node_pid "$F")
# Anonymous memory: the store's LMDB map is file-backed and only adds noise.
rss_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
rev_of() { status_json "$1" | jq -er '.rev'; }
STOPPED=0
# A stopped follower must run again whatever happens, or it cannot be shut
# down.
fail()
{
    [ "$STOPPED" = 0 ] || kill -CONT "$FPID" 2>/dev/null || true
    printf '[%s %s] FAIL: %s\n' "$(date +%H:%M:%S)" "$TEST_NAME" "$*" >&2
    exit 1
}

# load_growth: run the write load on the leader and print how far the
# leader's anonymous resident memory rose above where it started (kB, the
# peak of samples taken while the load runs).
run=0
load_growth()
{
    local start peak r bench t
    run=$((run + 1))
    # augur-bench names its records after the current second: start each
    # run in another one.
    t=$(date +%s)
    while [ "$(date +%s)" = "$t" ]; do sleep 0.1; done
    start=$(rss_kb "$LPID")
    peak=$start
    "$AUGUR_BENCH" --endpoints "$LEP" --workloads write_64 --runs 1 --scale "$SCALE" \
        >"$CLUSTER_DIR/load-$run.out" 2>&1 &
    bench=$!
    while kill -0 "$bench" 2>/dev/null; do
        r=$(rss_kb "$LPID")
        [ "$r" -le "$peak" ] || peak=$r
        sleep 0.2
    done
    wait "$bench" || fail "write load $run failed: $(cat "$CLUSTER_DIR/load-$run.out")"
    r=$(rss_kb "$LPID")
    [ "$r" -le "$peak" ] || peak=$r
    echo $((peak - start))
}

# The same load twice: every node running, then one follower stopped.  The
# Raft log between snapshots, the sessions and the allocator grow alike in
# both; what the second grows more is what the stopped follower costs.
"$AUGUR_BENCH" --endpoints "$LEP" --workloads write_64 --runs 1 --scale 0.05 \
    >"$CLUSTER_DIR/warmup.out" 2>&1 || fail "warm-up load failed: $(cat "$CLUSTER_DIR/warmup.out")"
grow_up=$(load_growth)
log "write load, every node running: leader (node $L) anonymous memory +$((grow_up / 1024)) MiB"
log "stopping follower node $F (pid $FPID)"
[ -n "${RAFT_BACKPRESSURE_NOSTOP:-}" ] || kill -STOP "$FPID"
STOPPED=1
grow_stop=$(load_growth)
log "write load, node $F stopped: leader anonymous memory +$((grow_stop / 1024)) MiB"
grep -h 'write_64 ' "$CLUSTER_DIR/load-1.out" "$CLUSTER_DIR/load-2.out" || true
[ $((grow_stop - grow_up)) -le $((64 * 1024)) ] ||
    fail "a stopped follower made the leader grow $(((grow_stop - grow_up) / 1024)) MiB more under the same write load (bound: 64)"

kill -CONT "$FPID"
STOPPED=0
want=$(rev_of "$L")
log "follower node $F running again; waiting for it to reach revision $want"
follower_caught_up() { [ "$(rev_of "$F")" -ge "$want" ]; }
wait_until 120 "node $F catching up to revision $want" follower_caught_up
[ "$(leader_of "$F")" = "$L" ] || fail "node $F does not name node $L as leader"
