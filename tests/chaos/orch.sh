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
    export AUGUR_DEMO_DIR=$ORCH_DEMO
    export AUGUR_DEMO_APP=$ORCH_APP
    if [ "$ORCH_TRAFFIC" = 1 ]; then
        # The actuator enters the runner's namespace (actuator-rootns):
        # every instance listens on the loopback HAProxy uses.
        orch_traffic_init
        AUGURD_FLAGS+=(--actuator "exec:$REPO/tests/chaos/actuator-rootns"
            --haproxy-socket "$ORCH_HAP_SOCK" --haproxy-backend-prefix be_)
    else
        # Every node's actuator runs in the node's namespace; the instances
        # it starts listen there, and their files are shared.
        AUGURD_FLAGS+=(--actuator "exec:$ORCH_ACTUATOR")
    fi
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
    [ "$ORCH_TRAFFIC" = 0 ] || orch_traffic_setup
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
    local -a traffic=()
    if [ "$ORCH_TRAFFIC" = 1 ]; then
        orch_hap_alive || {
            log "traffic: haproxy (pid $(cat "$ORCH_HAP_PIDFILE" 2>/dev/null)) is gone: it died during the run (see $ORCH_HAP_DIR/haproxy.log)"
            return 1
        }
        orch_traffic_dump >"$dump/haproxy.json" 2>"$dump/haproxy.err" ||
            { log "orchestrator: cannot read haproxy's backends"; return 1; }
        traffic=(--haproxy "$dump/haproxy.json")
    fi
    log "orchestrator: checking $dump/events.jsonl and $ORCH_DEMO/actions.log${traffic[*]:+ and $dump/haproxy.json}"
    ORCH_VERDICT=0
    python3 "$ORCH_CHECK" --events "$dump/events.jsonl" --demo-dir "$ORCH_DEMO" \
        --claims "$dump/fleet-claims.json" --policy "$dump/policy.json" \
        --live-pids "${traffic[@]}" | tee "$dump/summary.txt" || ORCH_VERDICT=$?
}

# On exit: the loop, the agents and every instance.
orch_cleanup()
{
    local f pid
    [ -z "$ORCH_OPS_PID" ] || { touch "$ORCH_FLEET/stop"; kill -KILL "$ORCH_OPS_PID" 2>/dev/null || true; }
    [ "$ORCH_TRAFFIC" = 0 ] || orch_traffic_cleanup
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

# ---- traffic (--traffic): a real HAProxy in front of the fleet --------------
#
# HAProxy runs in the runner's (root) network namespace, one frontend and
# one backend be_W per fleet workload; the nodes reach its admin socket
# (a unix socket on the filesystem: namespaces do not isolate it) with
# --haproxy-socket, and their actuator runs in the root namespace too
# (tests/chaos/actuator-rootns), so that every instance listens on the
# loopback HAProxy sends to.  The policy turns traffic steps on (mirror,
# shift_<pct>), with short dwells; augur-load sends a steady rate through
# a few workloads' frontends for the whole run.  At the end the backends
# are dumped (RUN/orch/haproxy.json) and orch-check --haproxy judges them.

ORCH_TRAFFIC=${ORCH_TRAFFIC:-0}
ORCH_HAP_DIR=$DIR/haproxy
ORCH_HAP_SOCK=$ORCH_HAP_DIR/admin.sock
ORCH_HAP_PIDFILE=$ORCH_HAP_DIR/haproxy.pid
ORCH_LOAD=${AUGUR_LOAD:-$BUILD/tests/e2e/augur-load}
# Requests a second on each loaded workload's frontend.
ORCH_LOAD_RATE=100
# The loaded workloads: the last ORCH_LOAD_N of the fleet (outside the
# cohorts, so the cohort limit does not keep them still).
ORCH_LOAD_N=3
# Traffic policy: a few short steps, so that a workflow under the nemesis
# still ends within seconds.
ORCH_SHIFT_STEPS=25,50,100
ORCH_DWELL_MS=500
declare -A ORCH_FE_PORT=() # workload -> its frontend's port
declare -A ORCH_LOAD_PID=() # workload -> augur-load pid

orch_traffic_init()
{
    local b i
    command -v haproxy >/dev/null || {
        echo "$PROG: --traffic: haproxy not found (apt-get install haproxy); skipped" >&2
        exit 77
    }
    command -v nsenter >/dev/null || die "--traffic: nsenter not found (util-linux)"
    for b in "$ORCH_LOAD" "$REPO/tests/chaos/actuator-rootns"; do
        [ -x "$b" ] || die "--traffic: $b not built"
    done
    mkdir -p "$ORCH_HAP_DIR"
    # sun_path holds 107 bytes: a long run dir gets its socket in /run.
    [ "${#ORCH_HAP_SOCK}" -lt 90 ] || ORCH_HAP_SOCK=$LOCKDIR/$P-haproxy.sock
    export AUGUR_CHAOS_NETNS_PID=$$
    export AUGUR_CHAOS_ACTUATOR=$ORCH_ACTUATOR
}

# Start HAProxy (orch_setup, under the run's exit trap, which ends it).
# The nodes run already: their driver connects per command, and nothing
# drives traffic before the first workflow.
orch_traffic_start()
{
    local i
    local -a ports
    mkdir -p "$ORCH_HAP_DIR"
    rm -f "$ORCH_HAP_SOCK"
    mapfile -t ports < <(orch_free_ports "$FLEET_WORKLOADS")
    [ "${#ports[@]}" = "$FLEET_WORKLOADS" ] || die "--traffic: no free loopback ports"
    for ((i = 1; i <= FLEET_WORKLOADS; i++)); do
        ORCH_FE_PORT[$(orch_workload "$i")]=${ports[$((i - 1))]}
    done
    orch_hap_config >"$ORCH_HAP_DIR/haproxy.cfg"
    haproxy -c -q -f "$ORCH_HAP_DIR/haproxy.cfg" >"$ORCH_HAP_DIR/check.log" 2>&1 ||
        die "--traffic: haproxy refused its config: $(cat "$ORCH_HAP_DIR/check.log")"
    # In the foreground (-db) of a background job rather than daemonized:
    # its notices, and the backtrace of a crash, stay in haproxy.log.
    haproxy -db -f "$ORCH_HAP_DIR/haproxy.cfg" >>"$ORCH_HAP_DIR/haproxy.log" 2>&1 </dev/null &
    echo $! >"$ORCH_HAP_PIDFILE"
    disown $!
    for ((i = 0; i < 50; i++)); do
        [ -S "$ORCH_HAP_SOCK" ] && break
        orch_hap_alive || die "--traffic: haproxy did not start (see $ORCH_HAP_DIR/haproxy.log)"
        sleep 0.1
    done
    [ -S "$ORCH_HAP_SOCK" ] || die "--traffic: haproxy's socket $ORCH_HAP_SOCK did not appear"
    log "traffic: haproxy (pid $(cat "$ORCH_HAP_PIDFILE" 2>/dev/null)) on $ORCH_HAP_SOCK, frontends 127.0.0.1:${ports[0]}..; actuator in the root namespace"
}

# Does the run's haproxy still run?
orch_hap_alive()
{
    local pid
    pid=$(cat "$ORCH_HAP_PIDFILE" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    case $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true) in
    *haproxy*) return 0 ;;
    esac
    return 1
}

# orch_free_ports N: N loopback ports free now (the kernel's picks).
orch_free_ports()
{
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

# The config (modelled on deploy/local-cluster's): no static servers, the
# runtime API adds them.  Health checks ask GET /, not /healthz: an
# instance taking part of the traffic in a gradual shift is still warm,
# and its /healthz answers 503 until it is activated.
orch_hap_config()
{
    local i w lua
    echo "# Written by tests/chaos/run --traffic; servers come from the runtime API."
    echo "global"
    echo "    stats socket $ORCH_HAP_SOCK mode 600 level admin"
    echo "    nbthread 1"
    for lua in "$REPO"/deploy/haproxy/*.lua; do
        [ -f "$lua" ] && echo "    lua-load $lua"
    done
    echo
    echo "defaults"
    echo "    mode http"
    echo "    timeout connect 500ms"
    echo "    timeout client 5s"
    echo "    timeout server 5s"
    # No retries (so no redispatch either): HAProxy 2.6.12 crashes (a
    # segfault, or its watchdog's abort in sess_change_server) when `del
    # server` frees a server that a stream still holds while it waits to
    # retry a refused connection, which is what a killed host's instance
    # and the release that follows its failover make (node/traffic.c
    # deletes right after `state maint`).  With retries 0 a refused
    # connection fails its request at once and no stream is left waiting.
    echo "    retries 0"
    for ((i = 1; i <= FLEET_WORKLOADS; i++)); do
        w=$(orch_workload "$i")
        echo
        echo "frontend fe_$w"
        echo "    bind 127.0.0.1:${ORCH_FE_PORT[$w]}"
        echo "    default_backend be_$w"
        echo
        echo "backend be_$w"
        echo "    balance roundrobin"
        echo "    option httpchk GET /"
        echo "    default-server inter 200 fall 2 rise 1"
        echo "    http-request lua.augur_mirror"
        echo "    http-response lua.augur_mirror_res"
    done
}

# orch_hap CMD: one runtime-API command (non-interactive: connect, send,
# read to EOF); prints the answer.
orch_hap()
{
    python3 - "$ORCH_HAP_SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace"))
PY
}

# The fleet's first instances join their backends at full weight (as the
# leader's driver adds the instances a workflow activates), and the policy
# turns traffic steps on.
orch_traffic_setup()
{
    local i w h f port out
    orch_traffic_start
    orch_retry "policy shift_steps" ocli policy set shift_steps "$ORCH_SHIFT_STEPS"
    orch_retry "policy shift_dwell_ms" ocli policy set shift_dwell_ms "$ORCH_DWELL_MS"
    orch_retry "policy mirror_ms" ocli policy set mirror_ms "$ORCH_DWELL_MS"
    orch_retry "policy target_cooldown_s" ocli policy set target_cooldown_s 5
    orch_retry "policy traffic" ocli policy set traffic true
    for ((i = 1; i <= FLEET_WORKLOADS; i++)); do
        w=$(orch_workload "$i")
        for f in "$ORCH_DEMO"/instances/"$w"@*; do
            case $f in *.log | *.tmp) continue ;; esac
            [ -f "$f" ] || continue
            h=${f##*@}
            read -r _ port _ <"$f" || continue
            out=$(orch_hap "add server be_$w/$h 127.0.0.1:$port weight 256 check inter 200 fall 2 rise 1")
            case $out in
            *"New server registered"*) orch_hap "enable health be_$w/$h" >/dev/null ;;
            # The leader's check of backends against claims was first.
            *"Already exists"* | *"already exists"*) ;;
            *) die "--traffic: haproxy refused server be_$w/$h: $out" ;;
            esac
            out=$(orch_hap "set server be_$w/$h state ready")
            [ -z "${out//[[:space:]]/}" ] || die "--traffic: set server be_$w/$h state ready: $out"
        done
    done
}

orch_loaded_workloads()
{
    local i
    for ((i = FLEET_WORKLOADS - ORCH_LOAD_N + 1; i <= FLEET_WORKLOADS; i++)); do
        orch_workload "$i"
    done
}

# augur-load on the loaded workloads' frontends, until orch_load_stop.
orch_load_start()
{
    local w
    mkdir -p "$DIR/load"
    for w in $(orch_loaded_workloads); do
        "$ORCH_LOAD" --url "http://127.0.0.1:${ORCH_FE_PORT[$w]}/" \
            --rate "$ORCH_LOAD_RATE" --duration $((SECS + 600)) --conns 8 \
            --json "$DIR/load/$w.json" >"$DIR/load/$w.out" 2>"$DIR/load/$w.err" </dev/null &
        ORCH_LOAD_PID[$w]=$!
    done
    log "traffic: augur-load at $ORCH_LOAD_RATE/s on $(orch_loaded_workloads | tr '\n' ' ')"
}

# SIGINT ends each load with its summary; one log line per workload.
# Failed requests are expected (hosts are killed): reported, not judged.
orch_load_stop()
{
    local w i
    for w in "${!ORCH_LOAD_PID[@]}"; do
        kill -INT "${ORCH_LOAD_PID[$w]}" 2>/dev/null || true
    done
    for w in "${!ORCH_LOAD_PID[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "${ORCH_LOAD_PID[$w]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${ORCH_LOAD_PID[$w]}" 2>/dev/null || true
        wait "${ORCH_LOAD_PID[$w]}" 2>/dev/null || true
    done
    ORCH_LOAD_PID=()
    for w in $(orch_loaded_workloads); do
        log "traffic: load on $w: $(jq -c '{requests, failed, failed_window_s, p50_ms, p99_ms}' \
            "$DIR/load/$w.json" 2>/dev/null || echo 'no summary')"
    done
}

# Dump every fleet backend (servers: name, address, port, weights, admin
# and operational state, show stat's status), one GET / through each
# frontend (the answer names the instance that served it: "W H EPOCH"),
# and the loads' summaries, as one JSON object for orch-check --haproxy.
orch_traffic_dump()
{
    local i w args=()
    for ((i = 1; i <= FLEET_WORKLOADS; i++)); do
        w=$(orch_workload "$i")
        args+=("$w=${ORCH_FE_PORT[$w]}")
    done
    python3 - "$ORCH_HAP_SOCK" "$DIR/load" "${args[@]}" <<'PY'
import csv, http.client, json, os, socket, sys, time

sock, load_dir = sys.argv[1], sys.argv[2]

def hap(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    s.sendall((cmd + "\n").encode())
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode(errors="replace")

out = {"prefix": "be_", "workloads": {}, "load": {}}
for arg in sys.argv[3:]:
    w, port = arg.rsplit("=", 1)
    be = "be_" + w
    servers = {}
    lines = [l for l in hap("show servers state " + be).splitlines() if l.strip()]
    header = None
    for l in lines:
        if l.startswith("#"):
            header = l[1:].split()
        elif header and len(l.split()) >= len(header) - 1:
            row = dict(zip(header, l.split()))
            if row.get("be_name") != be:
                continue
            servers[row["srv_name"]] = {
                "name": row["srv_name"], "addr": row.get("srv_addr"),
                "port": int(row.get("srv_port", 0) or 0),
                "uweight": int(row.get("srv_uweight", 0)),
                "iweight": int(row.get("srv_iweight", 0)),
                "op_state": int(row.get("srv_op_state", 0)),
                "admin_state": int(row.get("srv_admin_state", 0))}
    st = hap("show stat %s 4 -1" % be)
    text = st.lstrip("# ")
    for row in csv.DictReader(text.splitlines()):
        s = servers.get(row.get("svname"))
        if s is not None:
            s["status"] = row.get("status")
            s["weight"] = int(row.get("weight") or 0)
    # One request through the frontend: who answers it.
    answer, status, err = None, None, None
    for attempt in range(3):
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=3)
            c.request("GET", "/")
            r = c.getresponse()
            status, err = r.status, None
            answer = r.read().decode(errors="replace").strip()[:200]
            c.close()
            if status == 200:
                break
        except OSError as e:
            err = str(e)
        time.sleep(0.3)
    out["workloads"][w] = {"backend": be, "frontend_port": int(port),
                           "servers": sorted(servers.values(), key=lambda s: s["name"]),
                           "get_status": status, "get_answer": answer,
                           "get_error": err}
    p = os.path.join(load_dir, w + ".json")
    if os.path.isfile(p):
        try:
            with open(p) as f:
                l = json.load(f)
            out["load"][w] = {k: l.get(k) for k in
                              ("requests", "failed", "failed_window_s", "p50_ms", "p99_ms")}
        except ValueError:
            out["load"][w] = "unreadable"
print(json.dumps(out, indent=1))
PY
}

orch_traffic_cleanup()
{
    local w pid
    for w in "${!ORCH_LOAD_PID[@]}"; do
        kill -KILL "${ORCH_LOAD_PID[$w]}" 2>/dev/null || true
    done
    if orch_hap_alive; then
        pid=$(cat "$ORCH_HAP_PIDFILE")
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$ORCH_HAP_SOCK"
}
