#!/usr/bin/env bash
# model_store: a model trained with 'augur model train' is published in
# chunks, listed alike on every node with the file's BLAKE2b-256, activated
# for kind host, and scores a replayed machine; after the leader is killed
# the new leader lists the same model and scores with it (no published model
# is lost).  Needs the Azure PdM data set (AUGUR_DATA_DIR, else
# ../shared/data next to the checkout): skipped (77) without it.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

AGENT=${AUGUR_AGENT:?AUGUR_AGENT is not set}
SRC=${AUGUR_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${AUGUR_DATA_DIR:-$SRC/../shared/data}
if [ ! -f "$DATA/azure-pdm/PdM_telemetry.csv" ]; then
    echo "model_store: SKIP: no azure-pdm in $DATA (set AUGUR_DATA_DIR)"
    exit 77
fi

# --score-warm 3: score after 3 reports, so the test needs seconds, not 20.
cluster_start 3 --score-warm 3 --score-interval-ms 500
ALL=$(eps)
MODEL=$CLUSTER_DIR/pdm.model

# --select none: the fixed parameters, without the nested selection
# (minutes); this test is about the path, eval about the model.
"$AUGUR" model train --format pdm --data "$DATA/azure-pdm" --out "$MODEL" \
    --select none >/dev/null 2>"$CLUSTER_DIR/train.log" || fail "model train failed: $(cat "$CLUSTER_DIR/train.log")"
size=$(stat -c %s "$MODEL")
sum=$(b2sum -l 256 "$MODEL" | cut -d' ' -f1)
log "trained $MODEL: $size bytes, blake2b-256 $sum"

# A file that is not a model is refused before anything is sent.
echo "not a model" >"$CLUSTER_DIR/junk.model"
if aug "$ALL" model publish "$CLUSTER_DIR/junk.model" --name junk 2>/dev/null; then
    fail "a file that is not a model was published"
fi

# 64 KiB chunks: several commands, then the commit.
out=$(aug "$ALL" model publish "$MODEL" --name pdm --chunk-size 65536 -o json)
json_eq "$out" '.version' 1
json_eq "$out" '.checksum' "$sum"
json_eq "$out" '.size' "$size"
json_eq "$out" '.kind' host
chunks=$(jq -r .chunks <<<"$out")
[ "$chunks" -ge 2 ] || fail "published in $chunks chunk(s), expected several"
log "published in $chunks chunks"

# Every node holds it (stale reads: each node's own store).
for id in 1 2 3; do
    wait_until 30 "node $id lists model pdm" bash -c \
        "'$AUGUR' --endpoints $(ep "$id") --stale model list -o json | jq -e '.[] | select(.name == \"pdm\" and .checksum == \"$sum\" and .version == 1)'"
done
[ "$(aug "$ALL" model list -o json | jq length)" = 1 ] || fail "junk is listed"

aug "$ALL" model activate pdm >/dev/null
json_eq "$(aug "$ALL" model list -o json)" '.[0].active | join(",")' host
if aug "$ALL" model activate nope 2>/dev/null; then
    fail "activating a model never published succeeded"
fi

# A replayed machine reports; the leader scores it with pdm@1.
aug "$ALL" resource add machine-1 --kind host >/dev/null
AGENT_PID=""
"$AGENT" replay --format pdm --data "$DATA/azure-pdm" --speed 3600 \
    --units machine-1 --steps 600 --endpoints "$ALL" \
    >"$CLUSTER_DIR/replay.log" 2>&1 &
AGENT_PID=$!
trap 'rc=$?; [ -z "$AGENT_PID" ] || kill "$AGENT_PID" 2>/dev/null || true; (exit $rc); on_exit' EXIT

scored_with_pdm()
{
    aug "$ALL" predict machine-1 -o json | jq -e '.model == "pdm@1" and .warm'
}
wait_until 60 "the leader scores machine-1 with pdm@1" scored_with_pdm
L=$(leader)
log "node $L scores machine-1: $(aug "$ALL" predict machine-1 -o json | jq -c '{p_fail, model, reasons: [.reasons[].feature]}')"

# Kill the leader: the new one lists the same model and scores with it.
kill -KILL "$(node_pid "$L")"
wait_until 60 "another node leads" leader_is_not "$L"
N=$(leader)
survivors=$(for id in 1 2 3; do [ "$id" = "$L" ] || echo "$id"; done | paste -sd,)
# shellcheck disable=SC2086
SURV=$(eps ${survivors//,/ })
json_eq "$(aug "$SURV" model list -o json)" '.[0].checksum' "$sum"
json_eq "$(aug "$SURV" model list -o json)" '.[0].active | join(",")' host
ALL=$SURV
wait_until 60 "the new leader (node $N) scores machine-1 with pdm@1" scored_with_pdm
log "node $N scores machine-1: $(aug "$ALL" predict machine-1 -o json | jq -c '{p_fail, model, reports}')"

# A follower redirects predict to the leader, or answers stale.
F=$(for id in ${survivors//,/ }; do [ "$id" = "$N" ] || echo "$id"; done | head -n1)
json_eq "$(aug "$(ep "$F")" predict machine-1 --stale -o json)" '.stale' true
json_eq "$(aug "$(ep "$F")" predict machine-1 -o json)" '.stale' false
