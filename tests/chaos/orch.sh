# tests/chaos/orch.sh: the orchestrator's part of a chaos run (sourced by
# tests/chaos/run --orchestrator).  A small demo fleet beside the clients'
# workloads: the nodes run the demo actuator (one AUGUR_DEMO_DIR on the
# filesystem, which namespaces do not isolate), every simulated host has an
# augur-agent in the root namespace reaching the nodes over the bridge as
# the clients do, and an operations loop starts migrations, moves scores up
# and down, kills hosts (agent and instances: failover) and brings them back
# (remediation, rebalance) while the nemesis runs.  At the end the fleet is
# made whole, the workflows are let finish, and tests/chaos/orch-check
# judges the event log and the actuator's log.
# shellcheck shell=bash

ORCH_DEMO=$DIR/demo
ORCH_FLEET=$DIR/fleet
ORCH_LOG=$DIR/orch-ops.log
ORCH_OPS_PID=""
ORCH_AGENT=${AUGUR_AGENT:-$BUILD/agent/augur-agent}
ORCH_ACTUATOR=${AUGUR_DEMO_ACTUATOR:-$BUILD/demo/augur-demo-actuator}
ORCH_APP=${AUGUR_DEMO_APP:-$BUILD/demo/augur-demo-app}
ORCH_CHECK=${AUGUR_ORCH_CHECK:-$REPO/tests/chaos/orch-check}
# The policy of the run: limits small enough that the operations loop
# reaches them, so that orch-check's limit checks are not vacuous.
ORCH_MAX_CONCURRENT=3
ORCH_SHADOW_BUDGET_CPU=3
# At most this many hosts down at once (the rest hold every workload).
ORCH_MAX_DOWN=2
# A killed host is brought back only once the cluster saw it go (its lease
# declared), and not before this many seconds.
ORCH_MIN_DOWN_S=4

orch_init()
{
    local b
    for b in "$ORCH_AGENT" "$ORCH_ACTUATOR" "$ORCH_APP"; do
        [ -x "$b" ] || die "--orchestrator: $b not built"
    done
    command -v python3 >/dev/null || die "--orchestrator: python3 not found (deploy/packages.txt)"
    mkdir -p "$ORCH_DEMO" "$ORCH_FLEET/agents" "$ORCH_FLEET/down"
    : >"$ORCH_LOG"
    # Every node's actuator runs in the node's namespace; the instances it
    # starts listen there, and their files are shared.
    export AUGUR_DEMO_DIR=$ORCH_DEMO
    export AUGUR_DEMO_APP=$ORCH_APP
    AUGURD_FLAGS+=(--actuator "exec:$ORCH_ACTUATOR")
}

olog() { printf '[%s] %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*" >>"$ORCH_LOG"; }

# ocli ARGS...: the CLI against every node, bounded in time.
ocli() { timeout 15 "$AUGUR" --endpoints "$(all_eps)" --timeout 5 "$@"; }

# The fleet's names: a prefix of its own, so that the clients' final event
# log (their prefix's claims) holds none of the fleet's claims.
orch_host() { echo "f${SEED}-h$1"; }
orch_workload() { echo "f${SEED}-w$1"; }
orch_cohort() { echo "f${SEED}-c$1"; }

# orch_retry WHAT CMD...: a setup step, retried for 30 s (a fault-free
# cluster answers at once; EEXIST after a lost answer counts as done).
orch_retry()
{
    local what=$1 deadline=$((SECONDS + 30)) out
    shift
    while :; do
        if out=$("$@" 2>&1); then
            return 0
        fi
        case $out in *EEXIST* | *"already"*) return 0 ;; esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$out" >&2
            die "--orchestrator setup: $what failed"
        fi
        sleep 0.5
    done
}

# Start host H's agent (root namespace, the admin's key: its role covers
# every resource).
orch_agent_start()
{
    local h=$1
    setsid "$ORCH_AGENT" run --resource "$h" --endpoints "$(all_eps)" \
        --no-smart --interval 1 >>"$ORCH_FLEET/agents/$h.log" 2>&1 </dev/null &
    echo $! >"$ORCH_FLEET/agents/$h.pid"
    echo "$SECONDS" >"$ORCH_FLEET/agents/$h.started"
    # Not a job of this shell: its kill -9 is no news to print.
    disown $!
    rm -f "$ORCH_FLEET/down/$h"
}

# The instance files of host H (DEMO/instances/W@H; not the .log next to
# them).
orch_instance_files()
{
    local f
    for f in "$ORCH_DEMO"/instances/*@"$1"; do
        [ -f "$f" ] && echo "$f"
    done
}

# Kill host H as a crash would: its agent and its instances, kill -9.
# Each instance killed is logged in actions.log as a "kill" (as
# deploy/local-cluster crash-host does): the checkers see it end.
orch_host_kill()
{
    local h=$1 f pid port epoch active w
    pid=$(cat "$ORCH_FLEET/agents/$h.pid" 2>/dev/null || true)
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    while read -r f; do
        [ -n "$f" ] || continue
        read -r pid port epoch active <"$f" 2>/dev/null || continue
        [[ $pid =~ ^[0-9]+$ ]] && [[ $epoch =~ ^[0-9]+$ ]] || continue
        kill -KILL "$pid" 2>/dev/null || continue
        w=${f##*/}
        w=${w%@*}
        printf '{"t_ms":%s,"action":"kill","workload":"%s","host":"%s","epoch":%s,"pid":%s,"port":0,"active":false}\n' \
            "$(($(date +%s%N) / 1000000))" "$w" "$h" "$epoch" "$pid" >>"$ORCH_DEMO/actions.log"
    done < <(orch_instance_files "$h")
    echo "$SECONDS" >"$ORCH_FLEET/down/$h"
}

# Start workload W's first instance where it is claimed, as the fleet
# setup does (the actuator's own protocol, epoch of the claim).
orch_instance_start()
{
    local w=$1 h=$2 e=$3
    printf '{"action":"activate","workload":"%s","host":"%s","from":"","to":"%s","epoch":%d,"workflow":0,"step":"setup","attempt":1,"strategy":"live"}\n' \
        "$w" "$h" "$h" "$e" | "$ORCH_ACTUATOR" >>"$ORCH_FLEET/setup.log" 2>&1
}

# The fleet: hosts in two racks, workloads claimed round-robin, two
# cohorts, a tight policy; then instances and agents.
orch_setup()
{
    local i h w out e
    log "orchestrator: fleet of $FLEET_HOSTS hosts and $FLEET_WORKLOADS workloads (ops log $ORCH_LOG)"
    orch_retry "policy max_concurrent" ocli policy set max_concurrent "$ORCH_MAX_CONCURRENT"
    orch_retry "policy max_concurrent_cohort" ocli policy set max_concurrent_cohort 1
    orch_retry "policy shadow_budget_cpu" ocli policy set shadow_budget_cpu "$ORCH_SHADOW_BUDGET_CPU"
    # Short cooldowns: the run is a minute long.
    orch_retry "policy cooldown_s" ocli policy set cooldown_s 5
    orch_retry "policy host_cooldown_s" ocli policy set host_cooldown_s 5
    for ((i = 1; i <= FLEET_HOSTS; i++)); do
        h=$(orch_host "$i")
        orch_retry "resource add $h" ocli resource add "$h" --kind host \
            --capacity cpu=8,mem_mb=8192 --label rack=r$((i % 2))
    done
    for ((i = 1; i <= FLEET_WORKLOADS; i++)); do
        w=$(orch_workload "$i")
        orch_retry "workload add $w" ocli workload add "$w" \
            --demand cpu=1,mem_mb=256 --priority $((i % 3))
        orch_retry "claim acquire $w" ocli claim acquire "$w" \
            --host "$(orch_host $(((i - 1) % FLEET_HOSTS + 1)))"
    done
    orch_retry "cohort a" ocli cohort create "$(orch_cohort a)" \
        --workloads "$(orch_workload 1),$(orch_workload 2),$(orch_workload 3)" --spread host
    orch_retry "cohort b" ocli cohort create "$(orch_cohort b)" \
        --workloads "$(orch_workload 4),$(orch_workload 5)" --spread rack
    for ((i = 1; i <= FLEET_WORKLOADS; i++)); do
        w=$(orch_workload "$i")
        out=$(ocli claim get "$w" -o json) || die "--orchestrator setup: claim get $w"
        h=$(jq -r .host <<<"$out")
        e=$(jq -r .epoch <<<"$out")
        orch_instance_start "$w" "$h" "$e" ||
            die "--orchestrator setup: the demo actuator did not start $w on $h (see $ORCH_FLEET/setup.log)"
    done
    for ((i = 1; i <= FLEET_HOSTS; i++)); do
        orch_agent_start "$(orch_host "$i")"
    done
}

# ---- the operations loop (a background subshell of its own) ----------------

# A host's state as the cluster has it ("" when it does not answer).
orch_host_state()
{
    ocli resource get "$1" -o json 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true
}

orch_op_migrate()
{
    local w=$1 to=${2:-} out
    out=$(ocli migrate "$w" ${to:+--to "$to"} -o json 2>&1)
    olog "migrate $w${to:+ --to $to}: $(jq -c '{id, from, to, state}' <<<"$out" 2>/dev/null || tail -n 1 <<<"$out")"
}

orch_ops_loop()
{
    local r i h w down n id f
    local -a held
    # An operation that fails is logged and the loop goes on.
    set +e
    # Its own sequence from the seed: the nemesis' schedule stays the same
    # with or without the orchestrator.
    RANDOM=$(((SEED + 7919) % 32768))
    while [ ! -f "$ORCH_FLEET/stop" ]; do
        r=$((RANDOM % 100))
        i=$((RANDOM % FLEET_HOSTS + 1))
        h=$(orch_host "$i")
        w=$(orch_workload $((RANDOM % FLEET_WORKLOADS + 1)))
        down=$(find "$ORCH_FLEET/down" -type f | wc -l)
        if [ "$r" -lt 30 ]; then
            if [ $((RANDOM % 4)) = 0 ]; then
                # A burst, past max_concurrent: the store must refuse
                # (EBUSY) what the limit does not allow.
                for ((n = 0; n < ORCH_MAX_CONCURRENT + 2; n++)); do
                    orch_op_migrate "$(orch_workload $((RANDOM % FLEET_WORKLOADS + 1)))" \
                        "$(orch_host $((RANDOM % FLEET_HOSTS + 1)))"
                done
            elif [ $((RANDOM % 4)) = 0 ]; then
                # The cluster picks: the clients' hosts (their capacity is
                # vast) as often as not.
                orch_op_migrate "$w"
            else
                orch_op_migrate "$w" "$h"
            fi
        elif [ "$r" -lt 42 ]; then
            olog "score $h 0.95: $(ocli score set "$h" 0.95 --window 600 2>&1 | tail -n 1)"
        elif [ "$r" -lt 56 ]; then
            olog "score $h 0.05: $(ocli score set "$h" 0.05 --window 600 2>&1 | tail -n 1)"
        elif [ "$r" -lt 64 ]; then
            id=$(ocli workflow list --active -o json 2>/dev/null |
                jq -r '.[0].id // empty' 2>/dev/null || true)
            [ -z "$id" ] || olog "cancel workflow $id: $(ocli workflow cancel "$id" 2>&1 | tail -n 1)"
        elif [ "$r" -lt 80 ]; then
            # A host that holds some of the fleet's workloads, so that
            # there is something to fail over.
            mapfile -t held < <(ocli claim list -o json 2>/dev/null |
                jq -r --arg w "f${SEED}-w" --arg h "f${SEED}-h" \
                    '[.[] | select((.workload | startswith($w)) and (.host | startswith($h))) | .host] | unique | .[]' \
                    2>/dev/null)
            [ "${#held[@]}" = 0 ] || h=${held[$((RANDOM % ${#held[@]}))]}
            # Not a host whose agent has just started: the cluster must have
            # heard from it, or its death would go unnoticed.
            n=$(cat "$ORCH_FLEET/agents/$h.started" 2>/dev/null || echo 0)
            if [ "$down" -lt "$ORCH_MAX_DOWN" ] && [ ! -f "$ORCH_FLEET/down/$h" ] &&
                [ $((SECONDS - n)) -ge 3 ]; then
                orch_host_kill "$h"
                olog "host $h killed (agent and instances of $(grep -c . < <(orch_instance_files "$h")) workloads)"
            fi
        else
            for f in "$ORCH_FLEET"/down/*; do
                [ -f "$f" ] || continue
                h=${f##*/}
                n=$(cat "$f")
                [ $((SECONDS - n)) -ge "$ORCH_MIN_DOWN_S" ] || continue
                # Bring it back once the cluster saw it go (else its
                # instances would be missed: they are gone).
                case $(orch_host_state "$h") in
                unreachable | failed | quarantined) ;;
                *) continue ;;
                esac
                orch_agent_start "$h"
                olog "host $h: agent started"
            done
            # The operator's step for hosts back from the dead.
            for ((i = 1; i <= FLEET_HOSTS; i++)); do
                h=$(orch_host "$i")
                [ ! -f "$ORCH_FLEET/down/$h" ] || continue
                case $(orch_host_state "$h") in
                failed | quarantined)
                    olog "host $h set active: $(ocli resource set-state "$h" active 2>&1 | tail -n 1)"
                    ;;
                esac
            done
        fi
        sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    done
}

orch_ops_start()
{
    orch_ops_loop &
    ORCH_OPS_PID=$!
}

orch_ops_stop()
{
    [ -n "$ORCH_OPS_PID" ] || return 0
    touch "$ORCH_FLEET/stop"
    local i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$ORCH_OPS_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$ORCH_OPS_PID" 2>/dev/null || true
    wait "$ORCH_OPS_PID" 2>/dev/null || true
    ORCH_OPS_PID=""
}

# ---- the end ----------------------------------------------------------------

# Workflows in flight ("" when the cluster does not answer).
orch_in_flight()
{
    ocli workflow list --active -o json 2>/dev/null | jq 'length' 2>/dev/null || true
}

# Every killed host back, every host active with a low score, so that the
# orchestrator has nothing left to do; then wait (bounded) until no
# workflow has been in flight for three polls in a row.
orch_settle()
{
    local i h calm=0 n deadline
    for ((i = 1; i <= FLEET_HOSTS; i++)); do
        h=$(orch_host "$i")
        if [ -f "$ORCH_FLEET/down/$h" ]; then
            # Bring it back only once the cluster saw it go (bounded).
            wait_until 30 "$h declared unreachable" orch_host_gone "$h" || true
            orch_agent_start "$h"
            olog "settle: host $h: agent started"
        fi
    done
    for ((i = 1; i <= FLEET_HOSTS; i++)); do
        h=$(orch_host "$i")
        ocli score set "$h" 0.0 --window 600 >/dev/null 2>&1 || true
    done
    deadline=$((SECONDS + 90))
    while [ "$SECONDS" -lt "$deadline" ]; do
        for ((i = 1; i <= FLEET_HOSTS; i++)); do
            h=$(orch_host "$i")
            case $(orch_host_state "$h") in
            failed | quarantined | unreachable)
                ocli resource set-state "$h" active >/dev/null 2>&1 || true
                calm=-1
                ;;
            esac
        done
        n=$(orch_in_flight)
        if [ "$n" = 0 ] && [ "$calm" -ge 0 ]; then
            calm=$((calm + 1))
            [ "$calm" -lt 3 ] || { log "orchestrator: quiet (no workflow in flight)"; return 0; }
        else
            calm=0
        fi
        sleep 1
    done
    log "orchestrator: workflows still in flight after 90 s ($(orch_in_flight))"
    return 1
}

orch_host_gone()
{
    case $(orch_host_state "$1") in
    unreachable | failed | quarantined) return 0 ;;
    esac
    return 1
}

# Dump what orch-check reads and run it; ORCH_VERDICT is 0 when valid.
ORCH_VERDICT=1
orch_check()
{
    local dump=$DIR/orch
    mkdir -p "$dump"
    ocli events --from 1 -o json >"$dump/events.jsonl" 2>"$dump/events.err" ||
        { log "orchestrator: cannot read the event log"; return 1; }
    ocli claim list -o json >"$dump/claims.json" 2>"$dump/claims.err" ||
        { log "orchestrator: cannot read the claims"; return 1; }
    ocli policy get -o json >"$dump/policy.json" 2>"$dump/policy.err" ||
        { log "orchestrator: cannot read the policy"; return 1; }
    # Only the fleet's workloads have instances; the clients' have claims.
    jq --arg p "f${SEED}-w" '[.[] | select(.workload | startswith($p))]' \
        "$dump/claims.json" >"$dump/fleet-claims.json"
    log "orchestrator: checking $dump/events.jsonl and $ORCH_DEMO/actions.log"
    ORCH_VERDICT=0
    python3 "$ORCH_CHECK" --events "$dump/events.jsonl" --demo-dir "$ORCH_DEMO" \
        --claims "$dump/fleet-claims.json" --policy "$dump/policy.json" \
        --live-pids | tee "$dump/summary.txt" || ORCH_VERDICT=$?
}

# On exit: the loop, the agents and every instance.
orch_cleanup()
{
    local f pid
    [ -z "$ORCH_OPS_PID" ] || { touch "$ORCH_FLEET/stop"; kill -KILL "$ORCH_OPS_PID" 2>/dev/null || true; }
    for f in "$ORCH_FLEET"/agents/*.pid "$ORCH_DEMO"/instances/*@*; do
        case $f in *.log | *.tmp) continue ;; esac
        [ -f "$f" ] || continue
        pid=$(cut -d' ' -f1 "$f" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] || continue
        case $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true) in
        *augur-demo-app* | *augur-agent*) kill -KILL "$pid" 2>/dev/null || true ;;
        esac
    done
}
