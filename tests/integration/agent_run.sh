#!/usr/bin/env bash
# agent_run: augur-agent run against a 3-node cluster.  An agent principal
# bound to h1 reports h1's telemetry (the fixture tree) and `augur
# telemetry h1` answers from the leader; a report for h2 is refused with
# EPERM and the agent exits 1; a malformed report is refused and counted;
# stopping the agent marks h1 unreachable (the time it took is logged; the
# lease is 1 s), restarting it brings h1 back to the state it had; h3, which
# never reported, keeps its state; killing the leader does not mark the
# reporting host unreachable: the agent reconnects and the new leader gives
# it a full lease (and, when the agent dies with the leader, declares it a
# lease after the election); a replay of two pdm machines (when the data set
# is there) shows as their telemetry.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

AGENT=${AUGUR_AGENT:?AUGUR_AGENT is not set}
FIX=${AUGUR_AGENT_FIXTURES:?AUGUR_AGENT_FIXTURES is not set}
[ -x "$AGENT" ] || fail "augur-agent not built ($AGENT)"

cluster_start 3
ALL=$(eps)
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"
"$AUGUR" keygen --out "$KEYS/h1.key" >/dev/null
aug "$ALL" resource add h1 --kind host >/dev/null
aug "$ALL" resource add h2 --kind host >/dev/null
aug "$ALL" resource add h3 --kind host >/dev/null
aug "$ALL" resource set-state h3 standby >/dev/null
out=$(aug "$ALL" principal add agent-h1 --key "$KEYS/h1.key.pub" --role agent \
    --resource h1 -o json)
json_eq "$out" '.resources[0]' h1
json_eq "$(aug "$ALL" principal list -o json)" \
    '.[] | select(.name == "agent-h1") | .resources | join(",")' h1
# --resource is for agents only.
if aug "$ALL" principal add op2 --key "$KEYS/h1.key.pub" --role operator \
    --resource h1 2>/dev/null; then
    fail "principal add accepted --resource for an operator"
fi
# The agent may connect to any node: every one must know its key.
wait_until 30 "every node knows agent-h1" bash -c "
    for n in 1 2 3; do
        '$AUGUR' --endpoints 127.0.0.1:\$((${BASE_PORT} + n)) --stale \
            principal list -o json | jq -e 'any(.[]; .name == \"agent-h1\")' || exit 1
    done"

state_of() { aug "$ALL" resource get "$1" -o json | jq -r .state; }

AGENT_PID=""
# start_agent LOG: augur-agent run for h1 in the background, as agent-h1,
# through every node (followers redirect it to the leader).
start_agent()
{
    AUGUR_KEY=$KEYS/h1.key "$AGENT" run --resource h1 --interval 1 \
        --root "$FIX/host" --no-smart --endpoints "$ALL" >"$1" 2>&1 &
    AGENT_PID=$!
}
stop_agent()
{
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    local rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=""
    return "$rc"
}
# Stop the agent, then on_exit with the script's own status.
agent_cleanup()
{
    local rc=$1
    stop_agent >/dev/null 2>&1 || true
    (exit "$rc")
    on_exit
}
trap 'agent_cleanup $?' EXIT

# ---- reports reach the leader ------------------------------------------------
start_agent "$CLUSTER_DIR/agent1.log"
wait_until 30 "augur telemetry h1 answers" aug "$ALL" telemetry h1
t=$(aug "$ALL" telemetry h1 --last 2 -o json)
json_eq "$t" '.resource' h1
json_eq "$t" '.lease.state' live
jq -e '.batches[0].samples["mem.total_bytes"] > 0' <<<"$t" >/dev/null ||
    fail "no mem.total_bytes in the leader's latest batch: $t"
aug "$ALL" telemetry h1 >/dev/null || fail "augur telemetry (table) failed"
[ "$(state_of h1)" = active ] || fail "h1 is $(state_of h1) while reporting"
l=$(leader)
st=$(status_json "$l")
jq -e '.telemetry.accepted >= 1 and .telemetry.resources >= 1 and
       .telemetry.leases_live >= 1' <<<"$st" >/dev/null ||
    fail "the leader's status does not count the reports: $(jq -c .telemetry <<<"$st")"
log "h1 reports; leader status: $(jq -c .telemetry <<<"$st")"
aug "$(ep "$l")" status | grep -q '^telemetry: 1 resources' ||
    fail "augur status (text) on the leader shows no telemetry line"

# ---- scope: a report for h2 is refused with EPERM ----------------------------
rc=0
err=$(AUGUR_KEY=$KEYS/h1.key timeout 60 "$AGENT" run --resource h2 --interval 1 \
    --root "$FIX/host" --no-smart --endpoints "$ALL" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "an agent reporting for h2 exited $rc, not 1: $err"
grep -q EPERM <<<"$err" || fail "the refusal does not name EPERM: $err"
log "report for h2 refused: $(tail -n1 <<<"$err")"
if aug "$ALL" telemetry h2 2>/dev/null; then
    fail "the leader kept telemetry for h2"
fi
# A reader may read telemetry, never report it.
"$AUGUR" keygen --out "$KEYS/reader.key" >/dev/null
aug "$ALL" principal add reader1 --key "$KEYS/reader.key.pub" --role reader >/dev/null
rc=0
err=$(AUGUR_KEY=$KEYS/reader.key timeout 60 "$AGENT" run --resource h2 \
    --root "$FIX/host" --no-smart --endpoints "$(leader_client_address)" 2>&1) || rc=$?
[ "$rc" -eq 1 ] && grep -q EPERM <<<"$err" ||
    fail "a reader's report was not refused with EPERM (exit $rc): $err"
AUGUR_KEY=$KEYS/reader.key aug "$(leader_client_address)" telemetry h1 >/dev/null ||
    fail "a reader cannot read telemetry"

# ---- a malformed report is refused and counted -------------------------------
lep=$(leader_client_address)
before=$(status_json "$(leader)" | jq .telemetry.refused)
out=$("$AUGUR_WIRE" --endpoint "$lep" --client 5 --op telemetry.report \
    --args-json '{"v":1,"r":"h1","t":1,"d":0,"s":[]}')
json_eq "$out" '.status' "$(jq -r '.status' <<<"$out")"
[ "$(jq -r .status <<<"$out")" != 0 ] || fail "a report from 1970 was accepted: $out"
out=$("$AUGUR_WIRE" --endpoint "$lep" --client 5 --op telemetry.report \
    --args-json '{"v":1,"r":"h1","t":1,"d":0,"s":["bad name!",1,0]}')
[ "$(jq -r .status <<<"$out")" != 0 ] || fail "a bad metric name was accepted: $out"
after=$(status_json "$(leader)" | jq .telemetry.refused)
[ "$after" -ge $((before + 2)) ] || fail "refused count went from $before to $after"

# ---- stopping the agent marks h1 unreachable ---------------------------------
stop_agent || fail "augur-agent did not stop cleanly on SIGTERM"
start_ms=$(date +%s%3N)
deadline=$((SECONDS + 10))
until [ "$(state_of h1)" = unreachable ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "h1 not unreachable 10 s after its agent stopped"
    sleep 0.1
done
took=$(($(date +%s%3N) - start_ms))
log "h1 unreachable ${took} ms after its agent stopped (lease 1000 ms)"
[ "$(state_of h3)" = standby ] || fail "h3 (never reported) is $(state_of h3)"
[ "$(state_of h2)" = active ] || fail "h2 (never reported) is $(state_of h2)"

# ---- restarting it brings h1 back --------------------------------------------
start_agent "$CLUSTER_DIR/agent2.log"
wait_until 20 "h1 back to active" bash -c "[ \"\$('$AUGUR' --endpoints '$ALL' resource get h1 -o json | jq -r .state)\" = active ]"
log "h1 back to active after the agent restarted"

# ---- a leader kill does not mark the reporting host unreachable ---------------
killed=$(leader)
log "kill -9 the leader, node $killed"
lc kill "$killed"
SURV=$(eps $(seq 1 3 | grep -vx "$killed"))
wait_until 30 "a new leader" leader_is_not "$killed"
wait_until 30 "the new leader holds h1's telemetry" aug "$SURV" telemetry h1
# Two leases' worth of watching: the new leader must not declare h1.
end=$((SECONDS + 4))
while [ "$SECONDS" -lt "$end" ]; do
    s=$(aug "$SURV" resource get h1 -o json | jq -r .state)
    [ "$s" = active ] || fail "h1 became $s after the leader change"
    sleep 0.2
done
kill -0 "$AGENT_PID" || fail "the agent died with the leader: $(cat "$CLUSTER_DIR/agent2.log")"
log "h1 stayed active across the leader change"
jq -e '.leased == true' <<<"$(aug "$SURV" resource get h1 -o json)" >/dev/null ||
    fail "h1 is not recorded as leased"

# ---- replay into the cluster (when the data set is there) ---------------------
DATA=${AUGUR_DATA_DIR:-$REPO/../shared/data}
if [ -r "$DATA/azure-pdm/PdM_telemetry.csv" ]; then
    # One process, two resources, as the cluster's admin (allowed both).
    timeout 120 "$AGENT" replay --format pdm --data "$DATA/azure-pdm" \
        --speed 360000 --units machine-1,machine-2 --steps 20 \
        --endpoints "$SURV" >"$CLUSTER_DIR/replay.log" 2>&1 ||
        fail "replay into the cluster failed: $(cat "$CLUSTER_DIR/replay.log")"
    for m in machine-1 machine-2; do
        t=$(aug "$SURV" telemetry "$m" -o json) || fail "no telemetry for $m"
        jq -e '.reports == 20 and (.batches[0].samples | has("pdm.volt_value"))' \
            <<<"$t" >/dev/null || fail "$m: not the replayed batches: $t"
    done
    log "replay: machine-1 and machine-2 reported 20 batches each"
else
    log "replay skipped: no $DATA/azure-pdm"
fi

# ---- the leader and the agent die together -----------------------------------
# The new leader has never heard from h1's agent, but h1 is recorded as
# leased: it gets a full lease, and is declared when that runs out.
lc restart "$killed"
wait_until 60 "node $killed serves again" aug "$(ep "$killed")" --stale resource get h1
wait_until 30 "one leader everywhere" one_leader_everywhere
killed2=$(leader)
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""
lc kill "$killed2"
start_ms=$(date +%s%3N)
SURV=$(eps $(seq 1 3 | grep -vx "$killed2"))
deadline=$((SECONDS + 15))
until [ "$(aug "$SURV" resource get h1 -o json 2>/dev/null | jq -r .state)" = unreachable ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "h1 not unreachable 15 s after its agent and the leader died"
    sleep 0.1
done
log "h1 unreachable $(($(date +%s%3N) - start_ms)) ms after its agent and the leader died together"
