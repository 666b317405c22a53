#!/usr/bin/env bash
# orchestrator: the leader's orchestrator with the demo actuator and a demo
# fleet (6 hosts, 12 workloads, one agent per host).  A cohort whose two
# members share a PSU loses resilience when that PSU's score rises, and the
# orchestrator moves one member to another rack.  A score set by hand past
# the migrate threshold moves every workload off its host through
# workflows that end done, each instance running on its new host at its
# claim's epoch.  A score past the provision threshold gives a host's
# workloads warm shadows in another rack; kill -9 of that host's agent and
# instances fails its workloads over to their shadows (claims moved,
# instances running there), the host ends failed and is remediated.  A
# leader killed in the middle of a workflow leaves it ended exactly once,
# done by its successor.  A draining host's workloads move after a
# prepare-shutdown notice.  The demo actuator's log shows no two instances
# of a workload active at once.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

export AUGUR_DEMO_ACTUATOR=${AUGUR_DEMO_ACTUATOR:?AUGUR_DEMO_ACTUATOR is not set}
export AUGUR_AGENT=${AUGUR_AGENT:?AUGUR_AGENT is not set}
CHECK=$REPO/demo/check-log

cluster_start 3
ALL=$(eps)
DEMO=$CLUSTER_DIR/demo
# Leases of 2 s: a sanitizer build on a busy machine must not lose a host
# to a late heartbeat (the test asserts outcomes, not the failover time).
aug "$ALL" policy set lease_timeout_ms 2000 >/dev/null
lc fleet --hosts 6 --workloads 12 >/dev/null
HOSTS="host-r1-1 host-r1-2 host-r1-3 host-r2-1 host-r2-2 host-r2-3"

# The active claims as "workload host epoch" lines.
claims() { aug "$ALL" claim list -o json | jq -r '.[] | select(.kind == "active") | "\(.workload) \(.host) \(.epoch)"'; }
claims_on() { aug "$ALL" claim list --host "$1" -o json | jq '[.[] | select(.kind == "active")] | length'; }
state_of() { aug "$ALL" resource get "$1" -o json | jq -r .state; }
# instance_ok W H E: W's demo instance on H is active at epoch E and
# answers "W H E" over HTTP.
instance_ok()
{
    local f=$DEMO/instances/$1@$2 pid port epoch active
    [ -f "$f" ] || return 1
    read -r pid port epoch active <"$f"
    [ "$epoch" = "$3" ] && [ "$active" = 1 ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(curl -s --max-time 2 "http://127.0.0.1:$port/")" = "$1 $2 $3" ]
}
# every_claim_running: each workload's instance runs where its claim says.
every_claim_running()
{
    local w h e
    while read -r w h e; do
        instance_ok "$w" "$h" "$e" || return 1
    done < <(claims)
}
no_workflow_in_flight() { [ "$(aug "$ALL" workflow list --active -o json | jq length)" = 0 ]; }
# Every workflow of the given workloads ended done.
all_done()
{
    aug "$ALL" workflow list -o json |
        jq -e --arg ws "$1" '($ws | split(" ")) as $w | [.[] | select(.workload as $x | $w | index($x))] | length > 0 and all(.state == "done")'
}

for h in $HOSTS; do
    wait_until 30 "$h is leased and active" bash -c \
        "'$AUGUR' --endpoints '$ALL' telemetry $h -o json | jq -e '.lease.state == \"live\"'"
done
wait_until 20 "every workload runs where its claim says" every_claim_running
[ "$(claims | wc -l)" = 12 ] || fail "the fleet did not claim 12 workloads: $(claims)"
st=$(status_json "$(leader)")
json_eq "$st" '.orchestrator.leader' true
log "fleet: $(claims | awk '{print $2}' | sort | uniq -c | tr -s ' \n' ' ')"

# ---- a cohort behind one risky PSU is rebalanced ------------------------
# Two workloads on two hosts of rack r1 (one PSU, one switch): any one of
# them running is enough (min-available 1), so the shared PSU is what
# lowers the cohort's resilience, and moving one member to another rack is
# what restores it.
read -r CA CAH _ < <(claims | awk '$2 ~ /^host-r1-/' | head -n1)
read -r CB CBH _ < <(claims | awk -v h="$CAH" '$2 ~ /^host-r1-/ && $2 != h' | head -n1)
aug "$ALL" cohort create db --workloads "$CA,$CB" --spread host \
    --min-available 1 --min-resilience 0.9 >/dev/null
r0=$(aug "$ALL" cohort get db -o json | jq .resilience)
aug "$ALL" score set psu-r1 0.5 >/dev/null
r1=$(aug "$ALL" cohort get db -o json | jq .resilience)
jq -en "$r1 < 0.9 and $r1 < $r0" >/dev/null ||
    fail "cohort db's resilience did not drop below 0.9 with psu-r1 at 0.5: $r0 -> $r1"
wait_until 30 "cohort db's resilience recovers" bash -c "'$AUGUR' --endpoints '$ALL' cohort get db -o json | jq -e '.resilience >= 0.9'"
wait_until 30 "the rebalance ends" no_workflow_in_flight
out=$(aug "$ALL" workflow list -o json)
jq -e --arg a "$CA" --arg b "$CB" '[.[] | select(.reason == "rebalance")] | length == 1 and all(.state == "done" and (.workload == $a or .workload == $b) and (.to | startswith("host-r1-") | not))' <<<"$out" >/dev/null ||
    fail "not one rebalance of $CA or $CB off rack r1 that ended done: $out"
r2=$(aug "$ALL" cohort get db -o json | jq .resilience)
wait_until 30 "every workload runs where its claim says" every_claim_running
aug "$ALL" score set psu-r1 0 >/dev/null
log "cohort db ($CA on $CAH, $CB on $CBH): resilience $r0, $r1 with psu-r1 at 0.5, $r2 after $(jq -c '.[] | select(.reason == "rebalance") | {workload, from, to}' <<<"$out")"

# ---- proactive: a score past the migrate threshold evacuates the host ----
# Not the host the rebalanced member went to: it moved within its
# cooldown and stays put (anti-flap).
RBH=$(jq -r '.[] | select(.reason == "rebalance") | .to' <<<"$out")
H1=$(claims | awk -v x="$RBH" '$2 != x {print $2}' | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
moved=$(claims | awk -v h="$H1" '$2 == h {print $1}' | paste -sd' ')
[ -n "$moved" ] || fail "no workload on $H1"
log "score set $H1 0.95: $moved must move"
aug "$ALL" score set "$H1" 0.95 >/dev/null
wait_until 60 "every workload off $H1" bash -c "[ \"\$('$AUGUR' --endpoints '$ALL' claim list --host $H1 -o json | jq '[.[] | select(.kind == \"active\")] | length')\" = 0 ]"
wait_until 60 "the workflows of $H1's workloads end done" all_done "$moved"
wait_until 30 "the moved instances run on their new hosts" every_claim_running
for w in $moved; do
    [ ! -e "$DEMO/instances/$w@$H1" ] || fail "$w's old instance on $H1 is still there"
done
out=$(aug "$ALL" workflow list -o json)
jq -e --arg h "$H1" '[.[] | select(.from == $h)] | all(.reason == "predicted")' <<<"$out" >/dev/null ||
    fail "workflows off $H1 other than predicted moves: $out"
st=$(status_json "$(leader)")
jq -e '.orchestrator.proactive >= 1 and .orchestrator.workflows_started >= 1' <<<"$st" >/dev/null ||
    fail "status does not count the moves: $(jq -c .orchestrator <<<"$st")"
log "$H1 evacuated: $(jq -c '[.[] | {workload, to, state}]' <<<"$out")"

# ---- shadows: a score past the provision threshold, below migrate -------
H2=$(claims | awk -v h="$H1" '$2 != h {print $2}' | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
failed=$(claims | awk -v h="$H2" '$2 == h {print $1}' | paste -sd' ')
aug "$ALL" score set "$H2" 0.6 >/dev/null
# every_shadow_warm: each workload of $H2 has a warm shadow elsewhere.
every_shadow_warm()
{
    local sl w
    sl=$(aug "$ALL" shadow list -o json)
    for w in $failed; do
        jq -e --arg w "$w" --arg h "$H2" 'any(.[]; .workload == $w and .host != $h and .state == "warm")' <<<"$sl" >/dev/null || return 1
    done
}
wait_until 30 "every workload of $H2 ($failed) has a warm shadow" every_shadow_warm
shadows=$(aug "$ALL" shadow list -o json)
for w in $failed; do
    sh=$(jq -r --arg w "$w" '.[] | select(.workload == $w and .state == "warm") | .host' <<<"$shadows")
    # Another rack (PSU, switch) than its host's: host-rR-H.
    [ "${sh%-*}" != "${H2%-*}" ] || fail "$w's shadow on $sh shares $H2's rack"
    # The demo actuator runs the warm instance there.
    [ -f "$DEMO/instances/$w@$sh" ] || fail "no warm instance of $w on $sh"
done
[ "$(aug "$ALL" claim list --host "$H2" -o json | jq '[.[] | select(.kind == "active")] | length')" = "$(wc -w <<<"$failed")" ] ||
    fail "a score of 0.6 moved workloads off $H2"
log "$H2 at 0.6: warm shadows $(jq -c '[.[] | {workload, host, state}]' <<<"$shadows")"

# ---- reactive: kill -9 a host's agent and its instances ------------------
log "kill -9 $H2's agent and instances ($failed)"
before=$(aug "$ALL" workflow list -o json | jq length)
kill -KILL "$(cat "$DEMO/agents/$H2.pid")"
for f in "$DEMO"/instances/*@"$H2"; do
    [ -f "$f" ] && kill -KILL "$(cut -d' ' -f1 "$f")" 2>/dev/null || true
done
wait_until 30 "every workload off $H2" bash -c "[ \"\$('$AUGUR' --endpoints '$ALL' claim list --host $H2 -o json | jq '[.[] | select(.kind == \"active\")] | length')\" = 0 ]"
wait_until 30 "the failed-over instances run elsewhere" every_claim_running
wait_until 30 "$H2 is marked failed" bash -c "[ \"\$('$AUGUR' --endpoints '$ALL' resource get $H2 -o json | jq -r .state)\" = failed ]"
wait_until 60 "the failovers end" no_workflow_in_flight
out=$(aug "$ALL" workflow list -o json | jq --argjson n "$before" '.[$n:]')
for w in $failed; do
    sh=$(jq -r --arg w "$w" '.[] | select(.workload == $w and .state == "warm") | .host' <<<"$shadows")
    jq -e --arg w "$w" --arg h "$H2" --arg sh "$sh" 'any(.[]; .workload == $w and .from == $h and .to == $sh and .reason == "failed" and .strategy == "standby" and .state == "done")' <<<"$out" >/dev/null ||
        fail "no failover of $w from $H2 to its shadow on $sh that ended done: $out"
done
wait_until 30 "$H2 handed to remediation" grep -q '"action":"remediate","workload":"","host":"'"$H2"'"' "$DEMO/actions.log"
log "$H2 failed over: $(jq -c '[.[] | {workload, to, state}]' <<<"$out")"

# ---- a failover does not arm the cooldown ---------------------------------
# A workload that failed over onto a host predicted to fail next leaves it
# at once: the cooldown (300 s) is against scores that flap, and a failover
# was forced by a dead host, not chosen on a score.
FW=${failed%% *}
FH=$(claims | awk -v w="$FW" '$1 == w {print $2}')
aug "$ALL" score set "$FH" 0.95 >/dev/null
wait_until 60 "$FW, failed over to $FH, moves off it within its cooldown" bash -c "'$AUGUR' --endpoints '$ALL' claim get $FW -o json | jq -e --arg h $FH '.host != \$h'"
wait_until 60 "the moves off $FH end" no_workflow_in_flight
jq -e --arg w "$FW" --arg h "$FH" 'any(.[]; .workload == $w and .from == $h and .reason == "predicted" and .state == "done")' <<<"$(aug "$ALL" workflow list -o json)" >/dev/null ||
    fail "no predicted move of $FW off $FH that ended done"
aug "$ALL" score set "$FH" 0 >/dev/null
wait_until 30 "every instance runs where its claim says" every_claim_running
log "$FW left $FH (its failover target, now at 0.95) within its cooldown"

# ---- a leader killed in the middle of a workflow -------------------------
aug "$ALL" score set "$H2" 0 >/dev/null
read -r W WH _ < <(claims | head -n1)
TO=""
for h in $HOSTS; do
    if [ -z "$TO" ] && [ "$h" != "$H1" ] && [ "$h" != "$H2" ] && [ "$h" != "$WH" ]; then
        TO=$h
    fi
done
# Blue-green keeps the old instance warm for keep_warm_s: the leader dies
# while the workflow waits there, after the transfer and before the
# release, and its successor must finish it.
aug "$ALL" policy set keep_warm_s 3 >/dev/null
id=$(aug "$ALL" migrate "$W" --to "$TO" --strategy blue-green)
wait_until 30 "workflow $id waits in keep_warm" bash -c "'$AUGUR' --endpoints '$ALL' workflow get $id -o json | jq -e '.steps[.step].name == \"keep_warm\"'"
L=$(leader)
lc kill "$L" >/dev/null
log "migrate $W $WH -> $TO blue-green (workflow $id); leader $L killed -9 in keep_warm"
SURV=$(eps $(seq 1 3 | grep -vx "$L"))
wait_until 60 "a new leader" leader_is_not "$L"
wait_until 60 "workflow $id ends" bash -c "'$AUGUR' --endpoints '$SURV' workflow get $id -o json | jq -e '.state | IN(\"done\", \"rolled_back\", \"failed\", \"cancelled\")'"
wf=$(aug "$SURV" workflow get "$id" -o json)
json_eq "$wf" .state done
json_eq "$wf" '[.steps[].state] | join(",")' done,done,done,done,done
claim=$(aug "$SURV" claim get "$W" -o json)
json_eq "$claim" .host "$TO"
[ "$(aug "$SURV" workflow list -o json | jq --arg w "$W" --argjson id "$id" '[.[] | select(.workload == $w and .id >= $id)] | length')" = 1 ] ||
    fail "more than one workflow for $W since $id"
wait_until 10 "$W's warm instance on $WH is stopped" bash -c "[ ! -e '$DEMO/instances/$W@$WH' ]"
lc restart "$L" >/dev/null
wait_until 60 "node $L is back" bash -c "'$AUGUR' --endpoints '$(ep "$L")' --stale status >/dev/null"
# The restarted node's store has the same, single outcome.
wait_until 60 "node $L sees workflow $id done" bash -c "'$AUGUR' --endpoints '$(ep "$L")' --stale workflow get $id -o json | jq -e '.state == \"done\"'"
wait_until 30 "every instance runs where its claim says" every_claim_running
log "workflow $id ended once, done by the new leader: claim $(jq -c '{host, epoch}' <<<"$claim")"

# ---- drain: an operator's draining host is emptied after a notice -------
DH=$(claims | awk '{print $2}' | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
drained=$(claims | awk -v h="$DH" '$2 == h {print $1}' | paste -sd' ')
before=$(aug "$ALL" workflow list -o json | jq length)
aug "$ALL" resource set-state "$DH" draining >/dev/null
wait_until 60 "every workload off draining $DH" bash -c "[ \"\$('$AUGUR' --endpoints '$ALL' claim list --host $DH -o json | jq '[.[] | select(.kind == \"active\")] | length')\" = 0 ]"
wait_until 60 "the drain's workflows end" no_workflow_in_flight
out=$(aug "$ALL" workflow list -o json | jq --argjson n "$before" '.[$n:]')
for w in $drained; do
    jq -e --arg w "$w" --arg h "$DH" 'any(.[]; .workload == $w and .from == $h and .reason == "manual" and .state == "done" and .steps[0].name == "notify" and .steps[0].state == "done")' <<<"$out" >/dev/null ||
        fail "no drain of $w from $DH through a notify step that ended done: $out"
done
wait_until 30 "every instance runs where its claim says" every_claim_running
log "$DH drained ($drained): notify $(jq -c '[.[] | .steps[0].detail] | unique' <<<"$out")"

# ---- the demo actuator's log: never two active instances at once --------
out=$("$CHECK" "$DEMO/actions.log") || fail "check-log: $out"
json_eq "$out" .valid true
log "check-log: $(jq -c '{valid, lines, activations}' <<<"$out")"
