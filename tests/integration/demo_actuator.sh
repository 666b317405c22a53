#!/usr/bin/env bash
# demo_actuator: augur-demo-actuator driven by hand with protocol JSON:
# prepare on h1, activate on h2 with a newer epoch fences h1's instance, a
# stale epoch is refused with exit 3, the active instance answers HTTP,
# stop ends it, and check-log finds the log valid (and a bad log invalid).
# Then a cluster started by deploy/local-cluster runs every node with the
# demo actuator wired in (status shows it), its fleet command starts agents
# and instances, and stop ends them.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

ACT=${AUGUR_DEMO_ACTUATOR:?AUGUR_DEMO_ACTUATOR is not set}
CHECK=$REPO/demo/check-log
export AUGUR_DEMO_DIR=$CLUSTER_DIR.demo
rm -rf "$AUGUR_DEMO_DIR"
trap 'rc=$?; for f in "$AUGUR_DEMO_DIR"/instances/*@*; do case $f in *.log|*.tmp) ;; *) [ -f "$f" ] && kill "$(cut -d" " -f1 "$f")" 2>/dev/null; esac; done; exit $rc' EXIT

# act JSON: run the actuator; sets OUT and RC.
act()
{
    RC=0
    OUT=$(printf '%s\n' "$1" | "$ACT" 2>"$AUGUR_DEMO_DIR.err") || RC=$?
}
req()
{
    printf '{"action":"%s","workload":"%s","host":"%s","from":"","to":"","epoch":%s,"workflow":1,"step":"s","attempt":1,"strategy":"live"}' \
        "$1" "$2" "$3" "$4"
}
instance_field() # W H FIELD(1 pid, 2 port, 3 epoch, 4 active)
{
    cut -d' ' -f"$3" "$AUGUR_DEMO_DIR/instances/$1@$2"
}

act "$(req prepare web h1 1)"
[ "$RC" = 0 ] || fail "prepare on h1: exit $RC: $OUT"
json_eq "$OUT" '.state' warm
p1=$(jq -r .port <<<"$OUT")
pid1=$(instance_field web h1 1)
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p1/healthz")
[ "$code" = 503 ] || fail "a warm instance's /healthz answered $code, not 503"
log "prepare on h1: warm instance pid $pid1 on port $p1"

# Idempotent: a second prepare keeps the same instance.
act "$(req prepare web h1 1)"
[ "$RC" = 0 ] && [ "$(jq -r .port <<<"$OUT")" = "$p1" ] ||
    fail "a repeated prepare did not answer the same instance: $OUT"

act "$(req activate web h2 2)"
[ "$RC" = 0 ] || fail "activate on h2: exit $RC: $OUT"
json_eq "$OUT" '.state' running
p2=$(jq -r .port <<<"$OUT")
body=$(curl -s "http://127.0.0.1:$p2/")
[ "$body" = "web h2 2" ] || fail "h2's instance answered '$body'"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p2/healthz")
[ "$code" = 200 ] || fail "the active instance's /healthz answered $code"
wait_until 5 "h1's fenced instance to end" bash -c "! kill -0 $pid1 2>/dev/null || grep -q '^State:.*Z' /proc/$pid1/status"
[ ! -e "$AUGUR_DEMO_DIR/instances/web@h1" ] || fail "h1's instance file is still there"
grep -q '"action":"fence","workload":"web","host":"h1"' "$AUGUR_DEMO_DIR/actions.log" ||
    fail "no fence of h1 in the log"
log "activate on h2 with epoch 2 fenced h1; h2 answers 'web h2 2' on port $p2"

act "$(req activate web h1 1)"
[ "$RC" = 3 ] || fail "a stale epoch was not refused with exit 3 (exit $RC: $OUT)"
json_eq "$OUT" '.error' "stale epoch 1 < 2"
[ ! -e "$AUGUR_DEMO_DIR/instances/web@h1" ] || fail "the refused activate started an instance"
body=$(curl -s "http://127.0.0.1:$p2/")
[ "$body" = "web h2 2" ] || fail "h2's instance changed after a refusal: '$body'"

act "$(req probe web h2 2)"
json_eq "$OUT" '.state' running
json_eq "$OUT" '.lag_ms' 0
json_eq "$OUT" '.drift' ""
act "$(req probe web h2 3)"
json_eq "$OUT" '.drift' "epoch 2 != 3"

# Bad requests change nothing.
act '{"action":"activate","workload":"../x","host":"h1","epoch":9}'
[ "$RC" = 2 ] || fail "a workload id with a slash was not refused (exit $RC)"
act 'not json'
[ "$RC" = 2 ] || fail "garbage was not refused (exit $RC)"
act "$(req explode web h2 3)"
[ "$RC" = 2 ] || fail "an unknown action was not refused (exit $RC)"

pid2=$(instance_field web h2 1)
act "$(req stop web h2 3)"
[ "$RC" = 0 ] || fail "stop: exit $RC: $OUT"
wait_until 5 "h2's instance to end" bash -c "! kill -0 $pid2 2>/dev/null || grep -q '^State:.*Z' /proc/$pid2/status"
act "$(req stop web h2 3)"
[ "$RC" = 0 ] || fail "a repeated stop failed: exit $RC"

out=$("$CHECK" "$AUGUR_DEMO_DIR/actions.log") || fail "check-log found the log invalid: $out"
json_eq "$out" '.valid' true
json_eq "$out" '.activations' 1
log "check-log: $out"

# A log with two active instances of one workload at the same epoch.
cat >"$AUGUR_DEMO_DIR/bad.log" <<'LOG'
{"t_ms":1,"action":"activate","workload":"db","host":"h1","epoch":4,"pid":10,"port":1,"active":true}
{"t_ms":2,"action":"activate","workload":"db","host":"h2","epoch":4,"pid":11,"port":2,"active":true}
LOG
rc=0
out=$("$CHECK" "$AUGUR_DEMO_DIR/bad.log") || rc=$?
[ "$rc" = 1 ] || fail "check-log passed a split-brain log (exit $rc): $out"
json_eq "$out" '.valid' false
json_eq "$out" '.violations[0].kind' overlap

# A cluster with the demo actuator wired in by deploy/local-cluster.
cluster_start 3
st=$(status_json 1)
json_eq "$st" '.actuator.kind' exec
json_eq "$st" '.actuator.inflight' 0
grep -q -- "--actuator exec:.*augur-demo-actuator" "$CLUSTER_DIR/node1/augurd.log" ||
    fail "node 1 was not started with the demo actuator"
# fleet: hosts, claimed workloads, an agent per host, an instance per
# claimed workload where its claim says, at its epoch.
lc fleet --hosts 2 --workloads 2 >/dev/null
for w in web-1 web-2; do
    claim=$(aug "$(eps)" claim get "$w" -o json)
    at=$(jq -r .host <<<"$claim")
    f=$CLUSTER_DIR/demo/instances/$w@$at
    [ -f "$f" ] || fail "no demo instance of $w on $at after fleet"
    port=$(cut -d' ' -f2 "$f")
    body=$(curl -s "http://127.0.0.1:$port/")
    [ "$body" = "$w $at $(jq -r .epoch <<<"$claim")" ] ||
        fail "$w's instance answered '$body' for claim $claim"
done
agent_pids=$(cat "$CLUSTER_DIR"/demo/agents/*.pid)
[ "$(wc -w <<<"$agent_pids")" = 2 ] || fail "fleet did not start 2 agents: $agent_pids"
wait_until 20 "the agents to report" bash -c \
    "'$AUGUR' --endpoints '$(eps)' telemetry host-r1-2 -o json | jq -e '.reports > 0'"
lc fleet --hosts 2 --workloads 2 >/dev/null # again: kept as it is
[ "$(cat "$CLUSTER_DIR"/demo/agents/*.pid)" = "$agent_pids" ] ||
    fail "a second fleet started other agents"
out=$(lc demo)
grep -q '"valid": true' <<<"$out" || fail "local-cluster demo: $out"
pids=$(for f in "$CLUSTER_DIR"/demo/instances/*@*; do case $f in *.log | *.tmp) ;; *) cut -d' ' -f1 "$f" ;; esac; done)
lc stop >/dev/null
for pid in $pids $agent_pids; do
    wait_until 5 "local-cluster stop to end pid $pid" bash -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"
done
log "local-cluster wires the demo actuator; fleet starts agents and instances; stop ends them"
