#!/usr/bin/env bash
# ingest_smoke: augur-ingest-bench reports 50 simulated hosts for 2 s, with
# heartbeats, as agent principals bound to their hosts, against a 3-node
# cluster, and every report is accepted.  It asserts that
# the benchmark works, never its figures.
set -euo pipefail
source "$(dirname "$0")/../../lib/cluster.sh"

BENCH=${AUGUR_INGEST_BENCH:?AUGUR_INGEST_BENCH is not set}
cluster_start 3
mkdir -p "$CLUSTER_DIR/agents"
"$BENCH" --endpoints "$(eps)" --pid-file "$CLUSTER_DIR/node%d/pid" \
    --hosts 50 --metrics 20 --duration 2 --conns 4 --heartbeat-ms 250 \
    --agents "$CLUSTER_DIR/agents" \
    --json "$CLUSTER_DIR/ingest.json" || fail "augur-ingest-bench failed"
out=$(cat "$CLUSTER_DIR/ingest.json")
json_eq "$out" '.refused' 0
jq -e '.ok > 0 and .samples_per_s > 0' <<<"$out" >/dev/null || fail "nothing accepted: $out"
log "PASS: $out"
