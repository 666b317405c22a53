#!/usr/bin/env bash
# telemetry_forward: an agent pointed only at a follower.  The follower
# answers it at once and forwards its reports to the leader over its uplink
# (its own node key and certificate): `augur telemetry` answers from the
# leader and the host's lease stays live; a report for a resource outside
# the agent's scope is refused with EPERM at the follower; a leader change
# keeps forwarding working with the agent still on its follower; a plain
# principal (even the admin) may not call telemetry.forward, and a node key
# may call nothing else.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

AGENT=${AUGUR_AGENT:?AUGUR_AGENT is not set}
FIX=${AUGUR_AGENT_FIXTURES:?AUGUR_AGENT_FIXTURES is not set}
[ -x "$AGENT" ] || fail "augur-agent not built ($AGENT)"
EPERM=23

cluster_start 3
ALL=$(eps)
KEYS=$CLUSTER_DIR/test-keys
NODE_KEYS=$CLUSTER_DIR/keys
mkdir -p "$KEYS"
"$AUGUR" keygen --out "$KEYS/h1.key" >/dev/null
aug "$ALL" resource add h1 --kind host >/dev/null
aug "$ALL" resource add h2 --kind host >/dev/null
aug "$ALL" principal add agent-h1 --key "$KEYS/h1.key.pub" --role agent \
    --resource h1 >/dev/null
wait_until 30 "every node knows agent-h1" bash -c "
    for n in 1 2 3; do
        '$AUGUR' --endpoints 127.0.0.1:\$((${BASE_PORT} + n)) --stale \
            principal list -o json | jq -e 'any(.[]; .name == \"agent-h1\")' || exit 1
    done"

state_of() { aug "$ALL" resource get "$1" -o json | jq -r .state; }
uplink_of() { status_json "$1" | jq -c .telemetry.uplink; }

L=$(leader)
F=$(seq 1 3 | grep -vx "$L" | head -n1)
log "leader $L; the agent reports to follower $F only"

AGENT_PID=""
stop_agent()
{
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
}
trap 'st=$?; set +e; stop_agent; (exit $st); on_exit' EXIT

AUGUR_KEY=$KEYS/h1.key "$AGENT" run --resource h1 --interval 1 \
    --root "$FIX/host" --no-smart --endpoints "$(ep "$F")" \
    >"$CLUSTER_DIR/agent.log" 2>&1 &
AGENT_PID=$!

# ---- reports reach the leader through the follower --------------------------
wait_until 30 "augur telemetry h1 answers" aug "$ALL" telemetry h1
wait_until 10 "the leader holds two reports of h1" bash -c "
    '$AUGUR' --endpoints '$ALL' telemetry h1 -o json | jq -e '.reports >= 2'"
t=$(aug "$ALL" telemetry h1 -o json)
json_eq "$t" '.lease.state' live
json_eq "$t" '.leader' "$L"
[ "$(state_of h1)" = active ] || fail "h1 is $(state_of h1) while reporting"
up=$(uplink_of "$F")
jq -e '.forwarded >= 2 and .connects >= 1 and .refused == 0' <<<"$up" \
    >/dev/null || fail "follower $F's uplink does not count the forwards: $up"
log "h1 reports through node $F; its uplink: $up"
# Several leases long: the host must stay live on forwarded heartbeats.
end=$((SECONDS + 3))
while [ "$SECONDS" -lt "$end" ]; do
    s=$(aug "$ALL" telemetry h1 -o json | jq -r .lease.state)
    [ "$s" = live ] || fail "h1's lease is $s while its agent reports via $F"
    sleep 0.3
done
kill -0 "$AGENT_PID" || fail "the agent died: $(cat "$CLUSTER_DIR/agent.log")"

# ---- scope is checked at the follower ---------------------------------------
before=$(status_json "$F" | jq .telemetry.refused_scope)
rc=0
err=$(AUGUR_KEY=$KEYS/h1.key timeout 60 "$AGENT" run --resource h2 \
    --interval 1 --root "$FIX/host" --no-smart --endpoints "$(ep "$F")" \
    2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "an agent reporting for h2 via $F exited $rc: $err"
grep -q EPERM <<<"$err" || fail "the refusal does not name EPERM: $err"
after=$(status_json "$F" | jq .telemetry.refused_scope)
[ "$after" -gt "$before" ] ||
    fail "follower $F did not refuse the h2 report itself ($before -> $after)"
if aug "$ALL" telemetry h2 2>/dev/null; then
    fail "the leader holds telemetry for h2"
fi
log "a report for h2 through $F refused there: $(tail -n1 <<<"$err")"

# ---- the forwarding op is for nodes only -------------------------------------
fwd_args='{"principal":"agent-h1","key":"'$(tr -d '\n' <"$KEYS/h1.key.pub" |
    awk '{print $NF}')'","resource":"h1"}'
lep=$(ep "$L")
# A plain principal, the admin included, may not call it.
out=$("$AUGUR_WIRE" --endpoint "$lep" --client 7 --op telemetry.forward \
    --args-json "$fwd_args")
json_eq "$out" '.status' "$EPERM"
out=$(AUGUR_KEY=$KEYS/h1.key "$AUGUR_WIRE" --endpoint "$lep" --client 8 \
    --op telemetry.forward --args-json "$fwd_args")
json_eq "$out" '.status' "$EPERM"
# A node key with its certificate may call it (a forwarded heartbeat) ...
nk=$NODE_KEYS/node$F.key
nc=$NODE_KEYS/node$F.cert
out=$(AUGUR_KEY=$nk "$AUGUR_WIRE" --endpoint "$lep" --peer-as "$F" \
    --node-cert "$nc" --client 9 --op telemetry.forward --args-json "$fwd_args")
json_eq "$out" '.status' 0
# ... and nothing else: not a read, not an admin's write, not a report.
for op in resource.list principal.list status telemetry.get; do
    out=$(AUGUR_KEY=$nk "$AUGUR_WIRE" --endpoint "$lep" --peer-as "$F" \
        --node-cert "$nc" --client 10 --op "$op" --args-json '{"resource":"h1"}')
    json_eq "$out" '.status' "$EPERM"
done
out=$(AUGUR_KEY=$nk "$AUGUR_WIRE" --endpoint "$lep" --peer-as "$F" \
    --node-cert "$nc" --client 11 --seq 1 --op principal.add \
    --args-json '{"name":"evil","key":"'"$(printf '%064d' 0)"'","role":"admin"}')
json_eq "$out" '.status' "$EPERM"
# Without its certificate a node key is no principal at all.
rc=0
out=$(AUGUR_KEY=$nk "$AUGUR_WIRE" --endpoint "$lep" --client 12 \
    --op resource.list 2>&1) || rc=$?
[ "$rc" -ne 0 ] && grep -q "EAUTH\|22\|unknown key" <<<"$out" ||
    fail "a node key without its certificate got in: $out"
# A certificate for another node than the key's is refused at AUTH.
other=$(seq 1 3 | grep -vx "$F" | head -n1)
rc=0
out=$(AUGUR_KEY=$nk "$AUGUR_WIRE" --endpoint "$lep" --peer-as "$F" \
    --node-cert "$NODE_KEYS/node$other.cert" --client 13 --op telemetry.forward \
    --args-json "$fwd_args" 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "node $F's key with node $other's certificate got in: $out"
log "telemetry.forward: EPERM for principals; a node key may call it and nothing else"

# ---- a leader change keeps forwarding working --------------------------------
log "kill -9 the leader, node $L"
lc kill "$L"
SURV=$(eps $(seq 1 3 | grep -vx "$L"))
wait_until 30 "a new leader" leader_is_not "$L"
L2=$(leader $(seq 1 3 | grep -vx "$L"))
if [ "$L2" = "$F" ]; then
    # The agent's node leads now: move the leadership to the third node, so
    # that the follower forwards to a leader it has not known before.
    G=$(seq 1 3 | grep -vx "$L" | grep -vx "$F")
    aug "$SURV" leader transfer "$G" || fail "leader transfer $G failed"
    wait_until 30 "node $G leads" bash -c "[ \"\$('$AUGUR' --endpoints '$(ep "$G")' status -o json | jq -r .leader)\" = $G ]"
    L2=$G
fi
log "node $L2 leads; the agent stays on node $F"
wait_until 30 "the new leader holds h1's telemetry" bash -c "
    '$AUGUR' --endpoints '$SURV' telemetry h1 -o json | jq -e '.leader == $L2'"
end=$((SECONDS + 4))
while [ "$SECONDS" -lt "$end" ]; do
    s=$(aug "$SURV" resource get h1 -o json | jq -r .state)
    [ "$s" = active ] || fail "h1 became $s after the leader change"
    sleep 0.2
done
json_eq "$(aug "$SURV" telemetry h1 -o json)" '.lease.state' live
up=$(uplink_of "$F")
jq -e '.connects >= 2' <<<"$up" >/dev/null ||
    fail "follower $F's uplink did not reconnect to the new leader: $up"
kill -0 "$AGENT_PID" || fail "the agent died: $(cat "$CLUSTER_DIR/agent.log")"
log "forwarding survived the leader change; uplink $up"
