#!/usr/bin/env bash
# demo_replay: deploy/demo-replay, the quickstart's demo (issue 17), on a
# 3-host demo fleet whose agents hold the hosts' leases but report no
# sample (--root of an empty tree, as tests/e2e/replay's: on a machine
# shared with other work, every agent sees the same disk, and a burst of
# it gives every host the same anomaly score, past the migrate threshold:
# no target left).  One round over Azure PdM machine 1 at a recorded hour
# a second (its last 30 hours before its failure of 2015-01-05): the model
# is trained on machines 2-20 (overlapping lists refused; --select none,
# the fixed parameters, to keep CI short), published and
# active for hosts; the
# replayed host's committed score rises past the policy's migrate
# threshold; a workflow of reason predicted moves its workloads off and
# ends done before the host is killed at the recorded failure; the host is
# killed (its agent gone, its lease lost in the event log) and later
# revived (its agent runs again, state active).  Then a second driver on
# the same cluster skips training (the model is published), and
# `deploy/local-cluster stop` in the middle of its replay leaves no driver,
# replay or agent process.  Every wait is a bounded poll.  Skipped (77)
# without the data.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

: "${AUGUR_DEMO_ACTUATOR:?AUGUR_DEMO_ACTUATOR is not set}"
: "${AUGUR_AGENT:?AUGUR_AGENT is not set}"
DATA=${AUGUR_DATA_DIR:-$REPO/../shared/data}
if [ ! -f "$DATA/azure-pdm/PdM_failures.csv" ]; then
    log "no Azure PdM data in $DATA (set AUGUR_DATA_DIR): skipped"
    exit 77
fi
DRIVER=$REPO/deploy/demo-replay
STATE=$CLUSTER_DIR/demo-replay/state.json
DLOG=$CLUSTER_DIR/demo-replay.log

cluster_start 3
mkdir -p "$CLUSTER_DIR.empty-root"
export AUGUR_AGENT_ARGS="--root $CLUSTER_DIR.empty-root"
lc fleet --hosts 3 --workloads 4 >/dev/null
a() { aug "$(eps)" "$@"; }
# No traffic steps, no cooldowns: a proactive move takes a second or two.
a policy set cooldown_s 0 >/dev/null
a policy set host_cooldown_s 0 >/dev/null
threshold=$(a policy get -o json | jq -r '.keys[] | select(.key == "migrate_threshold") | .value')

# Usage: overlapping machine lists are refused before anything starts.
rc=0
"$DRIVER" --dir "$CLUSTER_DIR" --units 1-3 --train-units 3-9 >"$DLOG" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q overlap "$DLOG"; then
    fail "overlapping lists not refused (exit $rc): $(cat "$DLOG")"
fi

# One round: machine 1, the model trained on every other machine.
log "driver: machine 1, speed 3600, 30 recorded hours"
t0=$SECONDS
"$DRIVER" --dir "$CLUSTER_DIR" --units 1 --speed 3600 --pre 30 --pause 2 --rest 0 --select none \
    --loops 1 --hold 60 >"$DLOG" 2>&1 &
driver=$!

# Training with the fixed parameters (--select none; the grid's choice
# took 140 s of a CI run under sanitizers) takes 10 to 30 s here, minutes
# on a machine busy with other work.
wait_until 600 "the driver to start its replay" \
    jq -e '.phase == "replaying" or .phase == "error"' "$STATE"
[ "$(jq -r .phase "$STATE")" = replaying ] || fail "the driver failed: $(tail -5 "$DLOG")"
host=$(jq -r .host "$STATE")
[ "$(jq -r .unit "$STATE")" = 1 ] || fail "state.json: unit $(jq -r .unit "$STATE"), not 1"
grep -q 'training demo-pdm on PdM machines 2-20 ' "$DLOG" ||
    fail "the model was not trained on the machines not replayed (2-20): $(head -5 "$DLOG")"
models=$(a model list -o json)
jq -e '.[] | select(.name == "demo-pdm") | .active | index("host")' <<<"$models" >/dev/null ||
    fail "demo-pdm is not published and active for kind host: $models"
log "model demo-pdm published and active; replaying on $host"
agent_before=$(cat "$CLUSTER_DIR/demo/agents/$host.pid")

# The driver runs its round to the end: the host killed at the recorded
# failure, revived 2 s later.
timeout 120 tail --pid="$driver" -f /dev/null || fail "the driver did not end its round in 120 s"
rc=0
wait "$driver" || rc=$?
[ "$rc" = 0 ] || fail "the driver exited $rc: $(tail -5 "$DLOG")"
log "the round took $((SECONDS - t0)) s"

# Risk rose past the migrate threshold (committed scores, from the log of
# events).
events=$(a events --from 1 -o json)
peak=$(jq -rs --arg h "$host" '[.[] | select(.op == "score.set" and .data.id == $h) |
    .data.score.p] | max // 0' <<<"$events")
jq -en --argjson p "$peak" --argjson t "$threshold" '$p >= $t' >/dev/null ||
    fail "$host's committed p_fail peaked at $peak, under the migrate threshold $threshold"

# Killed (its agent and whatever instance still ran there, kill -9), its
# lease lost.
kill_ms=$(jq -r '.killed_at // empty | . * 1000 | floor' "$STATE")
[ -n "$kill_ms" ] || fail "state.json has no kill time: $(cat "$STATE")"
! kill -0 "$agent_before" 2>/dev/null || fail "$host's agent (pid $agent_before) survived the kill"
jq -es --arg h "$host" 'any(.[]; (.op | startswith("resource.")) and .data.id == $h and
    (.data.state == "unreachable" or .data.state == "failed"))' <<<"$events" >/dev/null ||
    fail "the event log never shows $host unreachable or failed"

# Its workloads moved off ahead of the kill by a predicted workflow.
wfs=$(a workflow list -o json)
ahead=$(jq -r --arg h "$host" --argjson k "$kill_ms" '[.[] | select(.from == $h and
    .reason == "predicted" and .state == "done" and .updated_at <= $k) | .workload] |
    join(",")' <<<"$wfs")
[ -n "$ahead" ] || fail "no predicted workflow off $host ended before its kill: $(jq -c \
    --arg h "$host" '[.[] | select(.from == $h) | {workload, reason, state, updated_at}]' <<<"$wfs")"
log "$host: p_fail peaked at $peak (threshold $threshold); moved off ahead of the kill: $ahead"

# Revived: its agent runs again, the host is active.
agent_pid=$(cat "$CLUSTER_DIR/demo/agents/$host.pid")
if [ "$agent_pid" = "$agent_before" ] || ! kill -0 "$agent_pid"; then
    fail "$host's agent does not run again after the revival (pid $agent_pid)"
fi
[ "$(a resource get "$host" -o json | jq -r .state)" = active ] ||
    fail "$host is not active after the revival: $(a resource get "$host" -o json)"
grep -q "$host revived" "$DLOG" || fail "no revival in the driver's log"
[ "$(jq -r .phase "$STATE")" = stopped ] || fail "state.json after the round: $(cat "$STATE")"
[ ! -e "$CLUSTER_DIR/demo-replay.pid" ] || fail "the driver left its pid file"
log "$host killed and revived; the driver ended cleanly"

# Again, until stopped: no training this time; local-cluster stop in the
# middle of a replay ends the driver, its replay and every agent.
"$DRIVER" --dir "$CLUSTER_DIR" --units 1 --speed 3600 --pre 30 >>"$DLOG" 2>&1 &
driver=$!
wait_until 60 "the second driver's replay" bash -c \
    "[ -s '$CLUSTER_DIR/demo-replay/replay.pid' ] && jq -e '.phase == \"replaying\"' '$STATE'"
grep -q 'model demo-pdm@1 is published already: no training' "$DLOG" ||
    fail "the second driver trained again: $(tail -5 "$DLOG")"
replay=$(cat "$CLUSTER_DIR/demo-replay/replay.pid")
out=$(lc status)
grep -q "demo replay: pid $driver, replaying PdM machine 1 on" <<<"$out" ||
    fail "status does not show the demo: $out"
lc stop >/dev/null
for pid in "$driver" "$replay"; do
    ! kill -0 "$pid" 2>/dev/null || [[ $(ps -o stat= -p "$pid") == Z* ]] ||
        fail "process $pid runs after local-cluster stop: $(ps -o args= -p "$pid")"
done
left=$(pgrep -af "$CLUSTER_DIR" | grep -E 'demo-replay|augur-agent|augur-demo-app|augurd' || true)
[ -z "$left" ] || fail "processes left after local-cluster stop: $left"
wait "$driver" || fail "the stopped driver exited $?"
log "local-cluster stop ended the driver, its replay and the agents"
