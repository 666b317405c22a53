#!/usr/bin/env bash
# orch_check_test: tests/chaos/orch-check on small synthetic inputs (no
# cluster): a valid run passes, and each kind of violation is found and
# named.  usage: orch_check_test.sh [SCRATCH_DIR]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK=$REPO/tests/chaos/orch-check
T=${1:-$(mktemp -d)}
rm -rf "$T"
mkdir -p "$T"
FAILS=0
CASES=0

command -v python3 >/dev/null || { echo "orch_check_test: python3 not found" >&2; exit 1; }
command -v jq >/dev/null || { echo "orch_check_test: jq not found" >&2; exit 1; }

# ---- building inputs: one case is the files under $T/$CASE

REV=0
new_case()
{
    CASE=$1
    REV=0
    mkdir -p "$T/$CASE"
    : >"$T/$CASE/events"
    : >"$T/$CASE/actions"
    echo '[]' >"$T/$CASE/claims"
}

# ev OP DATA_JSON: the next event of the log.
ev()
{
    REV=$((REV + 1))
    printf '{"rev":%d,"time":%d,"op":"%s","data":%s}\n' \
        "$REV" $((1700000000000 + REV)) "$1" "$2" >>"$T/$CASE/events"
}

# wf OP ID WORKLOAD STATE [REASON] [TO] [TRANSFER_STATE]: a workflow event.
wf()
{
    local op=$1 id=$2 w=$3 state=$4 reason=${5:-manual} to=${6:-h2} tr=${7:-pending}
    ev "$op" "$(jq -cn --argjson id "$id" --arg w "$w" --arg s "$state" \
        --arg r "$reason" --arg to "$to" --arg tr "$tr" \
        '{id: $id, workload: $w, from: "h1", to: $to, strategy: "live",
          reason: $r, state: $s, step: 0,
          steps: [{name: "transfer", state: $tr, attempt: 1,
                   started_at: 0, ended_at: 0}],
          created_at: 0, updated_at: 0}')"
}

# act ACTION WORKLOAD HOST EPOCH ACTIVE [PID]: one line of actions.log.
act()
{
    printf '{"t_ms":%d,"action":"%s","workload":"%s","host":"%s","epoch":%d,"pid":%d,"port":20000,"active":%s}\n' \
        $((1700000000000 + $(wc -l <"$T/$CASE/actions"))) "$1" "$2" "$3" "$4" \
        "${6:-1234}" "$5" >>"$T/$CASE/actions"
}

claims() { echo "$1" >"$T/$CASE/claims"; }

# run_check [ARGS...]: orch-check on the case's files; sets RC and OUT.
run_check()
{
    set +e
    OUT=$("$CHECK" --events "$T/$CASE/events" --actions "$T/$CASE/actions" \
        --claims "$T/$CASE/claims" "$@" 2>"$T/$CASE/stderr")
    RC=$?
    set -e
    printf '%s\n' "$OUT" >"$T/$CASE/out"
}

ok() { echo "ok   $CASE: $*"; }
bad()
{
    echo "FAIL $CASE: $*" >&2
    sed 's/^/    /' "$T/$CASE/out" "$T/$CASE/stderr" >&2
    FAILS=$((FAILS + 1))
}

# expect_valid: the verdict is valid and the exit status 0.
expect_valid()
{
    CASES=$((CASES + 1))
    if [ "$RC" = 0 ] && [ "$(tail -n 1 <<<"$OUT")" = "valid: true" ]; then
        ok "valid"
    else
        bad "expected valid (exit $RC)"
    fi
}

# expect_violation CHECK KIND: not valid, and a violation CHECK/KIND is named.
expect_violation()
{
    local summary n
    CASES=$((CASES + 1))
    if [ "$RC" != 1 ] || [ "$(tail -n 1 <<<"$OUT")" != "valid: false" ]; then
        bad "expected 'valid: false' and exit 1 (exit $RC)"
        return
    fi
    summary=$(sed '$d' <<<"$OUT")
    n=$(jq --arg c "$1" --arg k "$2" \
        '[.violations[] | select(.check == $c and .kind == $k)] | length' \
        <<<"$summary")
    if [ "$n" -gt 0 ] && [ "$(jq -r --arg c "$1" '.checks[$c]' <<<"$summary")" = false ]; then
        ok "found $1/$2"
    else
        bad "expected a violation $1/$2"
    fi
}

# ---- a valid run: a live move done, one rolled back, a failover (exempt
# from the limits), a shadow within budget, claims matching the instances.
valid_run()
{
    ev workload.add '{"id":"w1","demand":{"cpu":2,"mem_mb":512},"priority":0,"claim":null}'
    ev workload.add '{"id":"w2","demand":{"cpu":2,"mem_mb":512},"priority":0,"claim":null}'
    ev workload.add '{"id":"w3","demand":{"cpu":2,"mem_mb":512},"priority":0,"claim":null}'
    ev policy.set '{"key":"max_concurrent","value":"1"}'
    ev cohort.create '{"name":"c1","workloads":["w1","w2"],"spread":"host"}'
    act activate w1 h1 1 true 101
    act activate w2 h1 1 true 102
    act activate w3 h1 1 true 103
    # w1: a live move h1 -> h2, epoch 1 -> 2.
    wf workflow.create 1 w1 pending manual h2
    act prepare w1 h2 1 false 201
    wf workflow.advance 1 w1 running manual h2 done
    act activate w1 h2 2 true 201
    act stop w1 h1 2 false 101
    wf workflow.advance 1 w1 done manual h2 done
    # w2: prepare fails on h3, rolled back before the transfer.
    wf workflow.create 2 w2 pending predicted h3
    wf workflow.advance 2 w2 running predicted h3
    wf workflow.advance 2 w2 rolled_back predicted h3
    # A shadow of w3 on h3, within the budget, then a failover of w3 to it
    # while another move is in flight (failovers are exempt).
    ev shadow.provision '{"workload":"w3","host":"h3","epoch":1,"state":"provisioning"}'
    wf workflow.create 3 w2 pending manual h2
    wf workflow.create 4 w3 running failed h3
    wf workflow.advance 4 w3 running failed h3 done
    act activate w3 h3 2 true 301
    act stop w3 h1 2 false 103
    wf workflow.advance 4 w3 done failed h3 done
    wf workflow.cancel 3 w2 cancelled manual h2
    claims '[{"workload":"w1","host":"h2","epoch":2,"kind":"active"},
             {"workload":"w2","host":"h1","epoch":1},
             {"workload":"w3","host":"h3","epoch":2},
             {"workload":"w9","host":"h3","epoch":1,"kind":"standby"}]'
}

new_case valid
valid_run
run_check
expect_valid
summary=$(sed '$d' <<<"$OUT")
[ "$(jq -c '[.workflows.total, .workflows.in_flight_at_end, .limits.peak_in_flight, .limits.peak_standby_cpu, .final.matched]' <<<"$summary")" = '[4,0,1,2,3]' ] ||
    bad "the summary's figures are not those of the run"

# The same, with the final state read from the demo dir's instance files.
new_case valid_demo_dir
valid_run
mkdir -p "$T/$CASE/demo/instances"
cp "$T/$CASE/actions" "$T/$CASE/demo/actions.log"
# demo/actuator.c's format, "pid port epoch active", next to the
# instances' logs; JSON is read too.
echo '201 20001 2 1' >"$T/$CASE/demo/instances/w1@h2"
echo 'listening 20001' >"$T/$CASE/demo/instances/w1@h2.log"
echo '{"pid":101,"port":20002,"epoch":2,"active":false}' >"$T/$CASE/demo/instances/w1@h1"
echo '102 20003 1 1' >"$T/$CASE/demo/instances/w2@h1"
echo '301 20004 2 1' >"$T/$CASE/demo/instances/w3@h3"
set +e
OUT=$("$CHECK" --events "$T/$CASE/events" --demo-dir "$T/$CASE/demo" \
    --claims "$T/$CASE/claims" 2>"$T/$CASE/stderr")
RC=$?
set -e
printf '%s\n' "$OUT" >"$T/$CASE/out"
expect_valid
# An instance file that disagrees with the claim is found.
echo '301 20004 1 1' >"$T/$CASE/demo/instances/w3@h3"
set +e
OUT=$("$CHECK" --events "$T/$CASE/events" --demo-dir "$T/$CASE/demo" \
    --claims "$T/$CASE/claims" 2>"$T/$CASE/stderr")
RC=$?
set -e
printf '%s\n' "$OUT" >"$T/$CASE/out"
expect_violation final claim_mismatch

# --live-pids: an active instance whose process is gone does not run.
new_case live_pids
act activate w1 h1 1 true $$
act activate w1 h2 2 true 999999999
claims '[{"workload":"w1","host":"h1","epoch":1}]'
run_check --live-pids
expect_valid
run_check
expect_violation final claim_mismatch

# ---- (a) workflows end exactly once
new_case in_flight_at_end
wf workflow.create 1 w1 pending
wf workflow.advance 1 w1 running
run_check
expect_violation workflows in_flight_at_end

new_case ended_twice
wf workflow.create 1 w1 pending
wf workflow.advance 1 w1 done
wf workflow.advance 1 w1 done
run_check
expect_violation workflows ended_twice

new_case changed_after_end
wf workflow.create 1 w1 pending
wf workflow.cancel 1 w1 cancelled
wf workflow.advance 1 w1 running
wf workflow.advance 1 w1 rolled_back
run_check
expect_violation workflows changed_after_end

new_case two_in_flight
wf workflow.create 1 w1 pending
wf workflow.create 2 w1 pending
wf workflow.advance 1 w1 done
wf workflow.advance 2 w1 done
run_check
expect_violation workflows two_in_flight

new_case no_create
wf workflow.advance 7 w1 done
run_check
expect_violation workflows no_create

# ---- (b) instances fenced by epoch
new_case same_epoch
act activate w1 h1 3 true 11
act activate w1 h2 3 true 12
run_check
expect_violation instances same_epoch
# demo/check-log, run on the same lines, finds it too (its "overlap").
expect_violation instances check_log_overlap

new_case stale_epoch_active_elsewhere
act activate w1 h1 4 true
act activate w1 h2 3 true
run_check
expect_violation instances stale_epoch

new_case stale_epoch_after_stop
act activate w1 h1 4 true
act stop w1 h1 5 false
act activate w1 h2 4 true
run_check
expect_violation instances stale_epoch

# A refused action changes nothing; a line torn by a killed writer at the
# end of the log is dropped, and said so.
new_case refused_and_torn
act activate w1 h1 4 true
act refuse w1 h2 3 false 0
printf '{"t_ms":2,"action":"activ' >>"$T/$CASE/actions"
claims '[{"workload":"w1","host":"h1","epoch":4}]'
run_check
expect_valid
[ "$(sed '$d' <<<"$OUT" | jq -c '[.actions.refused, .actions.torn_last_line]')" = '[1,true]' ] ||
    bad "a refused action and a torn line are counted"

# The demo actuator's own sequence: a fresh instance logs "start" (active)
# then "activate"; activating a newer epoch elsewhere first logs "fence" of
# the older instance, which was active then (its line says so).
new_case actuator_sequence
act start w1 h1 1 true 101
act activate w1 h1 1 true 101
act start w1 h2 2 false 201
act fence w1 h1 3 true 101
act activate w1 h2 3 true 201
act remediate w1 h1 3 false 0
claims '[{"workload":"w1","host":"h2","epoch":3}]'
run_check
expect_valid
[ "$(sed '$d' <<<"$OUT" | jq -c '[.actions.activations, .actions.peak_active_instances_of_one_workload]')" = '[2,1]' ] ||
    bad "activations and overlap counted from the actuator's lines"

# Without the fence, the newer activation overlaps the older instance: that
# is allowed (a newer epoch), but the end has two running.
new_case actuator_no_fence
act start w1 h1 1 true 101
act activate w1 h1 1 true 101
act activate w1 h2 2 true 201
claims '[{"workload":"w1","host":"h2","epoch":2}]'
run_check
expect_violation final claim_mismatch

# A harness's "kill" (an instance died) ends it, and is no action: an old
# epoch there is not stale.
new_case harness_kill
act activate w1 h1 1 true 101
act start w1 h2 2 false 201
act activate w1 h2 2 true 201
act kill w1 h1 1 false 101
claims '[{"workload":"w1","host":"h2","epoch":2}]'
run_check
expect_valid
[ "$(sed '$d' <<<"$OUT" | jq -c '.actions.check_log.valid')" = true ] ||
    bad "demo/check-log takes the kill line as an observation too"

# ---- (c) limits
new_case max_concurrent
ev policy.set '{"key":"max_concurrent","value":"2"}'
wf workflow.create 1 w1 pending predicted
wf workflow.create 2 w2 pending rebalance
wf workflow.create 3 w3 running failed
wf workflow.create 4 w4 pending manual
for id in 1 2 3 4; do wf workflow.advance $id w$id done; done
run_check
expect_violation limits max_concurrent
[ "$(sed '$d' <<<"$OUT" | jq '.limits.peak_in_flight')" = 3 ] ||
    bad "peak_in_flight counts every workflow but the failover"

# The policy in effect at each revision counts: after the limit was raised,
# three at once are fine; a --policy file with the final value does not
# apply to the revisions before the policy.set.
new_case max_concurrent_raised
ev policy.set '{"key":"max_concurrent","value":"1"}'
wf workflow.create 1 w1 pending
wf workflow.advance 1 w1 done
ev policy.set '{"key":"max_concurrent","value":"3"}'
wf workflow.create 2 w2 pending
wf workflow.create 3 w3 pending
wf workflow.create 4 w4 pending
for id in 2 3 4; do wf workflow.advance $id w$id done; done
echo '{"max_concurrent":3}' >"$T/$CASE/policy"
run_check --policy "$T/$CASE/policy"
expect_valid

# --policy gives the value of keys no event set: a policy of 1 makes two
# at once a violation.
new_case max_concurrent_from_policy_file
wf workflow.create 1 w1 pending
wf workflow.create 2 w2 pending
wf workflow.advance 1 w1 done
wf workflow.advance 2 w2 done
# (augur policy get -o json's shape)
echo '{"keys":[{"key":"migrate_threshold","value":0.8,"default":true},{"key":"max_concurrent","value":1,"default":false},{"key":"automatic","value":true,"default":true}]}' >"$T/$CASE/policy"
run_check --policy "$T/$CASE/policy"
expect_violation limits max_concurrent

new_case max_concurrent_cohort
ev cohort.create '{"name":"c1","workloads":["w1"],"spread":"host"}'
ev cohort.add '{"name":"c1","workloads":["w1","w2"],"spread":"host"}'
wf workflow.create 1 w1 pending
wf workflow.create 2 w2 pending
wf workflow.advance 1 w1 done
wf workflow.advance 2 w2 done
run_check
expect_violation limits max_concurrent_cohort

# A workload removed from its cohort no longer counts against it.
new_case cohort_member_removed
ev cohort.create '{"name":"c1","workloads":["w1","w2"],"spread":"host"}'
ev cohort.remove '{"name":"c1","workload":"w2"}'
wf workflow.create 1 w1 pending
wf workflow.create 2 w2 pending
wf workflow.advance 1 w1 done
wf workflow.advance 2 w2 done
run_check
expect_valid

new_case shadow_budget
ev policy.set '{"key":"shadow_budget_cpu","value":"4"}'
ev workload.add '{"id":"w1","demand":{"cpu":3,"mem_mb":10}}'
ev workload.add '{"id":"w2","demand":{"cpu":3,"mem_mb":10}}'
ev shadow.provision '{"workload":"w1","host":"h2","epoch":1,"state":"provisioning"}'
ev shadow.provision '{"workload":"w2","host":"h3","epoch":1,"state":"provisioning"}'
run_check
expect_violation limits shadow_budget

# Released and consumed standbys free their demand.
new_case shadow_budget_released
ev policy.set '{"key":"shadow_budget_cpu","value":"4"}'
ev workload.add '{"id":"w1","demand":{"cpu":3,"mem_mb":10}}'
ev workload.add '{"id":"w2","demand":{"cpu":3,"mem_mb":10}}'
ev shadow.provision '{"workload":"w1","host":"h2","epoch":1,"state":"provisioning"}'
ev shadow.release '{"workload":"w1","host":"h2","epoch":1,"state":"released"}'
ev shadow.provision '{"workload":"w2","host":"h3","epoch":1,"state":"provisioning"}'
wf workflow.create 1 w2 pending failed h3
wf workflow.advance 1 w2 done failed h3 done
ev shadow.provision '{"workload":"w1","host":"h2","epoch":2,"state":"provisioning","demand":{"cpu":2,"mem_mb":1}}'
# A claim transfer onto a standby's host takes the standby over.
ev claim.transfer '{"workload":"w1","host":"h2","epoch":3,"kind":"active"}'
ev shadow.provision '{"workload":"w2","host":"h4","epoch":2,"state":"provisioning"}'
run_check
expect_valid
[ "$(sed '$d' <<<"$OUT" | jq '.limits.peak_standby_cpu')" = 3 ] ||
    bad "released and consumed standbys are not counted"

# ---- (d) the final state
new_case claim_on_other_host
act activate w1 h1 1 true
claims '[{"workload":"w1","host":"h2","epoch":2}]'
run_check
expect_violation final claim_mismatch

new_case two_running_at_end
act activate w1 h1 1 true
act activate w1 h2 2 true
claims '[{"workload":"w1","host":"h2","epoch":2}]'
run_check
expect_violation final claim_mismatch

new_case running_without_claim
act activate w1 h1 1 true
run_check
expect_violation final running_without_claim

# ---- (e) traffic (--haproxy): workflows with traffic steps, and the load
# balancer's backends against the claims and the live instances.

# wft ID WORKLOAD STATE ERROR STEP:STATE...: a workflow event with its steps.
wft()
{
    local id=$1 w=$2 state=$3 err=$4 steps
    shift 4
    steps=$(printf '%s\n' "$@" | jq -R 'split(":") | {name: .[0], state: .[1],
        attempt: 1, started_at: 0, ended_at: 0, detail: ""}' | jq -sc .)
    ev workflow.advance "$(jq -cn --argjson id "$id" --arg w "$w" --arg s "$state" \
        --arg e "$err" --argjson steps "$steps" \
        '{id: $id, workload: $w, from: "h1", to: "h2", strategy: "live",
          reason: "manual", state: $s, step: 0, steps: $steps, error: $e,
          created_at: 0, updated_at: 0}')"
}

# A live move of w1 h1 -> h2 with every traffic step done, and a move of w2
# whose first shift failed its KPIs (unshift, undo_prepare: rolled back).
traffic_run()
{
    act activate w1 h1 1 true 101
    act activate w2 h1 1 true 102
    wf workflow.create 1 w1 pending manual h2
    act prepare w1 h2 1 false 201
    wft 1 w1 running "" prepare:done mirror:done shift_25:done shift_50:done \
        shift_100:running transfer:pending activate:pending release:pending
    act activate w1 h2 2 true 201
    act stop w1 h1 2 false 101
    wft 1 w1 done "" prepare:done mirror:done shift_25:done shift_50:done \
        shift_100:done transfer:done activate:done release:done
    wf workflow.create 2 w2 pending manual h2
    act prepare w2 h2 1 false 202
    act stop w2 h2 1 false 202
    wft 2 w2 rolled_back "error_rate 0.120 > 0.010 (old 0.000, 200 requests)" \
        prepare:done mirror:done shift_25:failed shift_50:skipped shift_100:skipped \
        transfer:skipped activate:skipped release:skipped unshift:done undo_prepare:done
    claims '[{"workload":"w1","host":"h2","epoch":2},{"workload":"w2","host":"h1","epoch":1}]'
    mkdir -p "$T/$CASE/demo/instances"
    cp "$T/$CASE/actions" "$T/$CASE/demo/actions.log"
    echo '201 20001 2 1' >"$T/$CASE/demo/instances/w1@h2"
    echo '102 20003 1 1' >"$T/$CASE/demo/instances/w2@h1"
}

# hap W1_SERVERS W2_SERVERS [W1_ANSWER]: the dump (servers as JSON arrays).
hap()
{
    jq -n --argjson s1 "$1" --argjson s2 "$2" --arg a1 "${3:-w1 h2 2}" \
        '{prefix: "be_", workloads: {
            w1: {backend: "be_w1", servers: $s1, get_status: 200, get_answer: $a1},
            w2: {backend: "be_w2", servers: $s2, get_status: 200, get_answer: "w2 h1 1"}},
          load: {w1: {requests: 5000, failed: 3}}}' >"$T/$CASE/haproxy.json"
}
srv() { printf '{"name":"%s","port":%s,"uweight":%s,"admin_state":%s,"status":"%s"}' "$@"; }
W1_OK="[$(srv h2 20001 256 0 UP),$(srv h1 20002 0 0 UP)]"
W2_OK="[$(srv h1 20003 256 0 UP),$(srv h2 20009 256 1 MAINT)]"

run_traffic() { run_check --demo-dir "$T/$CASE/demo" --haproxy "$T/$CASE/haproxy.json" "$@"; }

new_case traffic_valid
traffic_run
hap "$W1_OK" "$W2_OK"
run_traffic
expect_valid
summary=$(sed '$d' <<<"$OUT")
[ "$(jq -c '[.traffic.workflows_with_traffic_steps, .traffic.done_with_shift_100, .traffic.traffic_steps_done.shift_100, .traffic.traffic_steps_done.unshift, .traffic.backends.matched, .traffic.load.w1.failed, .checks.traffic]' <<<"$summary")" = '[2,1,1,1,2,3,true]' ] ||
    bad "the traffic summary's figures are not those of the run"
[ "$(jq -r '.traffic.rolled_back[0].error' <<<"$summary")" = "error_rate 0.120 > 0.010 (old 0.000, 200 requests)" ] ||
    bad "the rolled back workflow's KPI reason is not in the summary"

new_case traffic_old_server_still_weighted
traffic_run
hap "[$(srv h2 20001 256 0 UP),$(srv h1 20002 64 0 UP)]" "$W2_OK"
run_traffic
expect_violation traffic serving_not_the_claim

new_case traffic_draining_is_not_serving
traffic_run
hap "[$(srv h2 20001 256 0 UP),$(srv h1 20002 64 8 DRAIN)]" "$W2_OK"
run_traffic
expect_valid

new_case traffic_nothing_serving
traffic_run
hap "[$(srv h2 20001 0 0 UP)]" "$W2_OK"
run_traffic
expect_violation traffic serving_not_the_claim

new_case traffic_port_not_the_instance
traffic_run
hap "[$(srv h2 20005 256 0 UP)]" "$W2_OK"
run_traffic
expect_violation traffic port_not_the_instance

new_case traffic_server_down
traffic_run
hap "[$(srv h2 20001 256 0 DOWN)]" "$W2_OK"
run_traffic
expect_violation traffic server_not_up

new_case traffic_frontend_answer
traffic_run
hap "$W1_OK" "$W2_OK" "w1 h1 1"
run_traffic
expect_violation traffic frontend_answer

new_case traffic_no_backend
traffic_run
hap "$W1_OK" "$W2_OK"
jq 'del(.workloads.w2)' "$T/$CASE/haproxy.json" >"$T/$CASE/h.tmp" && mv "$T/$CASE/h.tmp" "$T/$CASE/haproxy.json"
run_traffic
expect_violation traffic no_backend

new_case traffic_no_live_instance
traffic_run
rm "$T/$CASE/demo/instances/w1@h2"
hap "$W1_OK" "$W2_OK"
run_traffic
expect_violation traffic no_live_instance

# Nothing shifted all the way (both moves rolled back): vacuous.
new_case traffic_vacuous
traffic_run
wft 1 w1 rolled_back "cancelled" prepare:done mirror:done shift_25:done shift_50:failed \
    shift_100:skipped transfer:skipped activate:skipped release:skipped unshift:done undo_prepare:done
hap "$W1_OK" "$W2_OK"
run_traffic
expect_violation traffic vacuous

new_case traffic_needs_demo_dir
traffic_run
hap "$W1_OK" "$W2_OK"
run_check --haproxy "$T/$CASE/haproxy.json"
CASES=$((CASES + 1))
if [ "$RC" = 2 ] && grep -q 'needs --claims and --demo-dir' "$T/$CASE/stderr"; then
    ok "--haproxy without --demo-dir: exit 2"
else
    bad "--haproxy without --demo-dir: expected exit 2 (exit $RC)"
fi

# ---- input errors: exit 2, no verdict
new_case bad_input
echo 'not json' >"$T/$CASE/events"
run_check
CASES=$((CASES + 1))
if [ "$RC" = 2 ] && [ -z "$OUT" ] && grep -q 'not JSON' "$T/$CASE/stderr"; then
    ok "unreadable events: exit 2"
else
    bad "unreadable events: expected exit 2 and a message (exit $RC)"
fi
: >"$T/$CASE/events"
printf '{"t_ms":1,"action":"activate","host":"h1","epoch":1}\n{"t_ms":2}\n' >"$T/$CASE/actions"
run_check
CASES=$((CASES + 1))
if [ "$RC" = 2 ] && grep -q "no 'workload'" "$T/$CASE/stderr"; then
    ok "an action without a workload: exit 2"
else
    bad "an action without a workload: expected exit 2 (exit $RC)"
fi
printf '{"rev":1,"op":"x","data":{}}\n{"rev":1,"op":"y","data":{}}\n' >"$T/$CASE/events"
: >"$T/$CASE/actions"
run_check
CASES=$((CASES + 1))
if [ "$RC" = 2 ] && grep -q "two different events at revision 1" "$T/$CASE/stderr"; then
    ok "two events at one revision: exit 2"
else
    bad "two events at one revision: expected exit 2 (exit $RC)"
fi
set +e
"$CHECK" >/dev/null 2>&1
RC=$?
set -e
CASES=$((CASES + 1))
[ "$RC" = 2 ] && ok "no --events: exit 2" || bad "no --events: expected exit 2 (exit $RC)"

if [ "$FAILS" != 0 ]; then
    echo "orch_check_test: $FAILS of $CASES checks failed (inputs in $T)" >&2
    exit 1
fi
echo "orch_check_test: all $CASES checks passed"
