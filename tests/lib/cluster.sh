# tests/lib/cluster.sh: helpers for the integration tests (sourced).
# shellcheck shell=bash
#
# A test runs one cluster of its own, made by deploy/local-cluster in
# $AUGUR_TEST_DIR on $AUGUR_TEST_BASE_PORT (set by tests/integration/
# CMakeLists.txt; defaults let a script run by hand too).  The cluster is
# stopped when the script exits, whatever the outcome; on failure the tail of
# every node's log is printed.  AUGUR_TEST_KEEP=1 leaves the cluster running
# for a post-mortem (stop it with deploy/local-cluster --dir DIR stop);
# AUGUR_TEST_AUGURD_FLAGS="--log-level debug" adds flags to every augurd.  Nothing here sleeps to make a test pass: every
# wait polls a condition and gives up after a bound.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL_CLUSTER=$REPO/deploy/local-cluster
TEST_NAME=${AUGUR_TEST_NAME:-$(basename "$0" .sh)}
CLUSTER_DIR=${AUGUR_TEST_DIR:-$REPO/build-test/tests/integration/$TEST_NAME}
BASE_PORT=${AUGUR_TEST_BASE_PORT:-9100}
AUGUR=${AUGUR:-$REPO/build-test/cli/augur}
AUGURD=${AUGURD:-$REPO/build-test/node/augurd}
AUGUR_WIRE=${AUGUR_WIRE:-$REPO/build-test/tests/integration/augur-wire}
export AUGUR AUGURD AUGUR_WIRE
# Every CLI call is bounded: libaugur gives up after 30 s by itself.
CLI_TIMEOUT=${CLI_TIMEOUT:-45}
NODE_COUNT=0

for tool in "$AUGUR" "$AUGURD"; do
    if [ ! -x "$tool" ]; then
        echo "$TEST_NAME: $tool not built" >&2
        exit 1
    fi
done

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$TEST_NAME" "$*"; }

fail()
{
    printf '[%s %s] FAIL: %s\n' "$(date +%H:%M:%S)" "$TEST_NAME" "$*" >&2
    exit 1
}

lc() { "$LOCAL_CLUSTER" --dir "$CLUSTER_DIR" "$@"; }

ep() { echo "127.0.0.1:$((BASE_PORT + $1))"; }
raft_ep() { echo "127.0.0.1:$((BASE_PORT + 100 + $1))"; }

# Comma-separated client endpoints of the given nodes (default: all).
eps()
{
    local out="" id
    if [ $# -eq 0 ]; then
        set -- $(seq 1 "$NODE_COUNT")
    fi
    for id in "$@"; do
        out+=${out:+,}$(ep "$id")
    done
    echo "$out"
}

# aug ENDPOINTS ARGS...: the CLI against ENDPOINTS, bounded in time.
aug()
{
    local endpoints=$1
    shift
    timeout "$CLI_TIMEOUT" "$AUGUR" --endpoints "$endpoints" "$@"
}

# Print the tail of every node's log (on failure).
dump_logs()
{
    local d
    for d in "$CLUSTER_DIR"/node*; do
        [ -f "$d/augurd.log" ] || continue
        echo "======== $d/augurd.log (last 60 lines) ========" >&2
        tail -n 60 "$d/augurd.log" >&2
    done
}

on_exit()
{
    local rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        log "failed with status $rc; node logs follow"
        dump_logs
        lc status >&2 2>&1 || true
    fi
    if [ -n "${AUGUR_TEST_KEEP:-}" ]; then
        log "AUGUR_TEST_KEEP is set: the cluster in $CLUSTER_DIR keeps running"
    else
        lc stop >/dev/null 2>&1 || lc stop || true
    fi
    if [ "$rc" -eq 0 ]; then
        log "PASS"
    fi
    exit "$rc"
}

# cluster_start NODES [EXTRA AUGURD FLAGS...]: a fresh cluster in
# $CLUSTER_DIR (whatever was there is stopped and removed).
cluster_start()
{
    local nodes=$1
    shift
    # AUGUR_TEST_AUGURD_FLAGS adds augurd flags, e.g. "--log-level debug".
    # shellcheck disable=SC2086
    [ -z "${AUGUR_TEST_AUGURD_FLAGS:-}" ] || set -- "$@" $AUGUR_TEST_AUGURD_FLAGS
    NODE_COUNT=$nodes
    if [ -f "$CLUSTER_DIR/cluster.conf" ]; then
        lc stop >/dev/null 2>&1 || true
    fi
    rm -rf "$CLUSTER_DIR"
    trap on_exit EXIT
    # Several test runs (other build dirs, other developers) may share this
    # machine: pick the ports and start under a lock, so that two runs never
    # choose the same block.
    local lock=${TMPDIR:-/tmp}/augur-test-ports.lock rc=0
    exec 9>>"$lock"
    flock -w 120 9 || fail "could not take $lock within 120 s"
    pick_base_port
    log "starting $nodes nodes in $CLUSTER_DIR on base port $BASE_PORT"
    if [ $# -gt 0 ]; then
        lc start --nodes "$nodes" --base-port "$BASE_PORT" -- "$@" 9>&- || rc=$?
    else
        lc start --nodes "$nodes" --base-port "$BASE_PORT" 9>&- || rc=$?
    fi
    flock -u 9
    exec 9>&-
    [ "$rc" -eq 0 ] || fail "deploy/local-cluster start failed"
    # Every CLI and augur-wire call of the test speaks as the cluster's
    # first admin, with the cluster's public key pinned.
    export AUGUR_KEY=$CLUSTER_DIR/keys/admin.key
    export AUGUR_CLUSTER_KEY=$CLUSTER_DIR/keys/cluster.key.pub
}

# Is any of the ports a cluster on base $1 may use (nodes 1..5, clients and
# Raft) in use?
ports_busy()
{
    local base=$1 i
    for i in 1 2 3 4 5; do
        if ss -Hltn "sport = :$((base + i))" | grep -q . ||
            ss -Hltn "sport = :$((base + 100 + i))" | grep -q . ||
            ss -Hltn "sport = :$((base + 200 + i))" | grep -q .; then
            return 0
        fi
    done
    return 1
}

# Keep the test's own base port if its block is free, else move by steps of
# 2000 (clear of every test's block, below the ephemeral port range).
pick_base_port()
{
    local base=$BASE_PORT k
    for k in 0 1 2 3 4 5 6 7 8 9 10 11; do
        if ! ports_busy "$((base + 2000 * k))"; then
            [ "$k" -eq 0 ] || log "ports of base $base are in use; using base $((base + 2000 * k))"
            BASE_PORT=$((base + 2000 * k))
            return 0
        fi
    done
    fail "no free block of ports near base $base"
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND (quietly) until it
# succeeds; fail the test after SECONDS.
wait_until()
{
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "gave up after ${secs}s waiting for: $what"
        fi
        sleep 0.2
    done
}

# status_json N: node N's own status, as JSON.
status_json() { aug "$(ep "$1")" status -o json; }

# leader_of N: the leader node N knows (0 if none).
leader_of() { status_json "$1" | jq -r '.leader // 0'; }

# Succeeds when some node of the given list (default all) reports a leader.
some_leader()
{
    local id l
    if [ $# -eq 0 ]; then
        set -- $(seq 1 "$NODE_COUNT")
    fi
    for id in "$@"; do
        l=$(leader_of "$id" 2>/dev/null) || continue
        if [ -n "$l" ] && [ "$l" != 0 ] && [ "$l" != null ]; then
            echo "$l"
            return 0
        fi
    done
    return 1
}

# leader [NODES...]: the current leader's id, waiting up to 60 s for one.
# shellcheck disable=SC2120
leader()
{
    local deadline=$((SECONDS + 60)) l
    while :; do
        if l=$(some_leader "$@"); then
            echo "$l"
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "no leader after 60 s"
        sleep 0.2
    done
}

# leader_client_address: the client address of the current leader, from the
# members list of its status.
leader_client_address()
{
    local l
    l=$(leader)
    status_json "$l" |
        jq -er --argjson l "$l" '.members[] | select(.id == $l) | .client_address'
}

# node_pid N: the pid of node N's augurd.
node_pid() { cat "$CLUSTER_DIR/node$1/pid"; }

# has_leader_everywhere LEADER NODES...: every listed node names LEADER.
all_see_leader()
{
    local want=$1 id
    shift
    for id in "$@"; do
        [ "$(leader_of "$id")" = "$want" ] || return 1
    done
}

# json_eq JSON FILTER EXPECTED: assert a jq filter's value.
json_eq()
{
    local got
    got=$(jq -r "$2" <<<"$1") || fail "cannot read $2 from: $1"
    [ "$got" = "$3" ] || fail "expected $2 == $3, got '$got' in: $1"
}

# list_count JSON: the number of items of a list result (CLI -o json).
list_count()
{
    jq -r 'if type == "array" then length else (.items | length) end' <<<"$1"
}

# one_leader_everywhere: every node of the cluster names the same leader,
# and it is not 0.
one_leader_everywhere()
{
    local first="" id l
    for id in $(seq 1 "$NODE_COUNT"); do
        l=$(leader_of "$id") || return 1
        [ "$l" != 0 ] || return 1
        [ -z "$first" ] || [ "$l" = "$first" ] || return 1
        first=$l
    done
}

# leader_is_not N: some node names a leader, and it is not node N.
leader_is_not()
{
    local l
    l=$(some_leader) || return 1
    [ "$l" != "$1" ]
}

# haproxy_cmd SOCKET COMMAND...: one command on the runtime API of the
# HAProxy whose admin socket is SOCKET (connect, send, read to EOF; 10 s at
# most); its answer on stdout, trimmed, with one final newline.
haproxy_cmd()
{
    python3 - "$1" "${*:2}" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode().strip() + "\n")
PY
}

# haproxy_stat_col SERVER COLUMN: from the show stat CSV on stdin, COLUMN
# (found by the header's names) of SERVER's line.
haproxy_stat_col()
{
    awk -F, -v s="$1" -v c="$2" \
        'NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) if ($i == c) k = i } NR > 1 && $2 == s { print $k }'
}
