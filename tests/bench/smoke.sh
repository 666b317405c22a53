#!/usr/bin/env bash
# bench_smoke: augur-bench runs every workload and one leader-loss trial
# against a real cluster, with zero errors.  A short version of the
# benchmark for CI: it asserts that the benchmark works, never its figures.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

BENCH=${AUGUR_BENCH:-$REPO/build-test/tests/bench/augur-bench}
[ -x "$BENCH" ] || fail "augur-bench not built ($BENCH)"
cluster_start 3
pids=$(cat "$CLUSTER_DIR"/node*/pid | paste -sd,)

"$BENCH" --endpoints "$(eps)" --server-pids "$pids" --runs 1 --scale 0.02 \
    --inflight 16 --json "$CLUSTER_DIR/bench.json" ||
    fail "augur-bench failed"
for w in seq_write write_64 read_64 cas_64; do
    json_eq "$(cat "$CLUSTER_DIR/bench.json")" ".$w.errors" 0
    ops=$(jq ".$w.ops" "$CLUSTER_DIR/bench.json")
    [ "$ops" -gt 0 ] || fail "$w: no operations"
done
log "every workload ran without an error"

"$BENCH" leader-loss --endpoints "$(eps)" --trials 1 \
    --pid-file "$CLUSTER_DIR/node%d/pid" \
    --restart-cmd "$LOCAL_CLUSTER --dir $CLUSTER_DIR restart" \
    --json "$CLUSTER_DIR/ll.json" || fail "leader-loss trial failed"
json_eq "$(cat "$CLUSTER_DIR/ll.json")" '.leader_loss.trials' 1
log "PASS"
