#!/usr/bin/env bash
# demo_faults: fault injection in the demo fleet, for a bad canary.  By
# hand: a fault file faults/W@H makes the instance augur-demo-actuator
# starts for W on H answer 500 to GET / (--fail-rate 1) while its /healthz
# answers 200; --fail-after N answers N good then 500s; --delay-ms holds
# GET / back without holding /healthz; a bad fault file is refused (exit 2)
# and starts, fences and records nothing.  Then deploy/local-cluster's
# `fault` command writes, shows, lists and clears them and refuses bad
# ones.  With haproxy (skipped without it): each backend copies requests
# for augur-mirror.lua, a bad canary stays UP (its errors reach the
# counters) and so does a warm instance (weight 0), and a node started by an
# augurd that knows --haproxy-socket gets it (one that does not, does not).
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

ACT=${AUGUR_DEMO_ACTUATOR:?AUGUR_DEMO_ACTUATOR is not set}
CHECK=$REPO/demo/check-log
DEMO=$CLUSTER_DIR.demo
rm -rf "$DEMO"
mkdir -p "$DEMO/faults"

# Ends every instance part 1 started (cluster_start's trap takes over
# after it).
stop_instances()
{
    local f
    for f in "$DEMO"/instances/*@*; do
        case $f in *.log | *.tmp) continue ;; esac
        [ -f "$f" ] && kill "$(cut -d' ' -f1 "$f")" 2>/dev/null || true
    done
}
trap 'rc=$?; stop_instances; exit $rc' EXIT

# act JSON: run the actuator; sets OUT and RC.
act()
{
    RC=0
    OUT=$(printf '%s\n' "$1" | AUGUR_DEMO_DIR=$DEMO "$ACT" 2>"$DEMO.err") || RC=$?
}
req()
{
    printf '{"action":"%s","workload":"%s","host":"%s","from":"","to":"","epoch":%s,"workflow":1,"step":"s","attempt":1,"strategy":"live"}' \
        "$1" "$2" "$3" "$4"
}
code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
codes() # URL N: N answers' status codes, space-separated
{
    local i out=""
    for ((i = 0; i < $2; i++)); do
        out+=${out:+ }$(code "$1")
    done
    echo "$out"
}

# --fail-rate 1: every GET / is a 500, /healthz is healthy.
echo "--fail-rate 1" >"$DEMO/faults/web@h1"
act "$(req activate web h1 1)"
[ "$RC" = 0 ] || fail "activate on h1 with a fault file: exit $RC: $OUT"
p1=$(jq -r .port <<<"$OUT")
got=$(codes "http://127.0.0.1:$p1/" 3)
[ "$got" = "500 500 500" ] || fail "--fail-rate 1: GET / answered $got"
[ "$(code "http://127.0.0.1:$p1/healthz")" = 200 ] ||
    fail "--fail-rate 1: /healthz is not 200"
grep -q '"action":"start","workload":"web","host":"h1".*"faults":"--fail-rate 1"' "$DEMO/actions.log" ||
    fail "the start's log line does not carry the faults: $(cat "$DEMO/actions.log")"
grep -q '^faults: fail-rate 1.000000' "$DEMO/instances/web@h1.log" ||
    fail "the instance does not report its faults: $(cat "$DEMO/instances/web@h1.log")"
log "fail-rate 1: GET / 500 x3, /healthz 200; the start is logged with its faults"

# --fail-after 3 (on several lines, extra blanks): 3 good answers, then 500s.
printf '  --fail-after\t3\n\n' >"$DEMO/faults/web@h2"
act "$(req prepare web h2 2)"
[ "$RC" = 0 ] || fail "prepare on h2 with a fault file: exit $RC: $OUT"
p2=$(jq -r .port <<<"$OUT")
[ "$(code "http://127.0.0.1:$p2/healthz")" = 503 ] || fail "a warm instance's /healthz is not 503"
got=$(codes "http://127.0.0.1:$p2/" 5)
[ "$got" = "200 200 200 500 500" ] || fail "--fail-after 3: GET / answered $got"
body=$(curl -s "http://127.0.0.1:$p1/healthz")
[ "$body" = ok ] || fail "h1 is not healthy any more: $body"
log "fail-after 3: GET / 200 x3 then 500 x2"

# --delay-ms: GET / waits, /healthz (another connection) does not.
echo "--delay-ms 4000 --fail-rate 0" >"$DEMO/faults/slow@h1"
act "$(req activate slow h1 1)"
[ "$RC" = 0 ] || fail "activate slow on h1: exit $RC: $OUT"
ps=$(jq -r .port <<<"$OUT")
curl -s -o "$DEMO/slow.body" "http://127.0.0.1:$ps/" &
slow=$!
wait_until 10 "slow's GET / to be accepted" bash -c \
    "ss -Htn state established '( sport = :$ps )' | grep -q ."
[ "$(curl -s --max-time 30 "http://127.0.0.1:$ps/healthz")" = ok ] ||
    fail "slow's /healthz did not answer while a GET / waited"
kill -0 "$slow" 2>/dev/null || fail "the delayed GET / was answered before /healthz"
wait "$slow" || fail "the delayed GET / failed"
[ "$(cat "$DEMO/slow.body")" = "slow h1 1" ] || fail "the delayed GET / answered '$(cat "$DEMO/slow.body")'"
log "delay-ms: /healthz answered while GET / waited, which then answered"

# A bad fault file: refused before anything happens.  An activate of web on
# h4 at epoch 5 would otherwise fence h1 and h2 and record epoch 5.
lines=$(wc -l <"$DEMO/actions.log")
for bad in "--fail-rate 2" "--fail-rate 1e-1" "--fail-after -1" \
    "--delay-ms 60001" "--fail-after 1 --fail-after 2" "--fail-rate" \
    "--crash 1" "rm -rf /"; do
    echo "$bad" >"$DEMO/faults/web@h4"
    act "$(req activate web h4 5)"
    [ "$RC" = 2 ] || fail "fault file '$bad' was not refused with exit 2 (exit $RC: $OUT)"
    jq -e '.error | test("fault file .*web@h4")' <<<"$OUT" >/dev/null ||
        fail "fault file '$bad': unclear error: $OUT"
done
[ ! -e "$DEMO/instances/web@h4" ] || fail "a refused fault file started an instance"
[ "$(cat "$DEMO/epochs/web")" = 2 ] || fail "a refused activate recorded epoch $(cat "$DEMO/epochs/web")"
[ "$(wc -l <"$DEMO/actions.log")" = "$lines" ] || fail "a refused activate was logged: $(tail -n 2 "$DEMO/actions.log")"
[ "$(code "http://127.0.0.1:$p1/healthz")" = 200 ] || fail "a refused activate fenced h1"
[ "$(code "http://127.0.0.1:$p2/healthz")" = 503 ] || fail "a refused activate touched h2"
log "8 bad fault files refused (exit 2): nothing started, fenced, recorded or logged"

out=$("$CHECK" "$DEMO/actions.log") || fail "check-log found the log invalid: $out"
json_eq "$out" '.valid' true
stop_instances
trap - EXIT

# ---- deploy/local-cluster fault ----------------------------------------------
cluster_start 3
lcfail() # ARGS...: local-cluster must refuse them
{
    if lc "$@" >/dev/null 2>"$CLUSTER_DIR.lcerr"; then
        fail "local-cluster $* was accepted"
    fi
    grep -q "local-cluster: " "$CLUSTER_DIR.lcerr" || fail "local-cluster $*: no clear error: $(cat "$CLUSTER_DIR.lcerr")"
}
FD=$CLUSTER_DIR/demo/faults
lc fault web-1@host-r1-1 --fail-rate 1 >/dev/null
lc fault web-1@host-r1-2 --fail-after 2 --delay-ms 0 >/dev/null
[ "$(cat "$FD/web-1@host-r1-1")" = "--fail-rate 1" ] || fail "fault wrote '$(cat "$FD/web-1@host-r1-1")'"
out=$(lc fault)
grep -q "^web-1@host-r1-1	--fail-rate 1\$" <<<"$out" || fail "fault does not list web-1@host-r1-1: $out"
grep -q "^web-1@host-r1-2	--fail-after 2 --delay-ms 0\$" <<<"$out" || fail "fault does not list web-1@host-r1-2: $out"
[ "$(lc fault web-1@host-r1-2)" = "web-1@host-r1-2	--fail-after 2 --delay-ms 0" ] ||
    fail "fault W@H shows '$(lc fault web-1@host-r1-2)'"
lcfail fault web-1@host-r1-3 --fail-rate 2
lcfail fault web-1@host-r1-3 --fail-rate 0.5 --fail-rate 0.5
lcfail fault web-1@host-r1-3 --delay-ms 1s
lcfail fault web-1@host-r1-3 --fail-after
lcfail fault web-1@host-r1-3 --explode 1
lcfail fault web-1@host-r1-3 clear --fail-rate 1
lcfail fault web-1 --fail-rate 1
lcfail fault ../x@h --fail-rate 1
[ ! -e "$FD/web-1@host-r1-3" ] || fail "a refused fault wrote a file"
lc fault web-1@host-r1-2 clear >/dev/null
[ ! -e "$FD/web-1@host-r1-2" ] || fail "fault clear left the file"
log "local-cluster fault: writes, shows, lists, clears; 8 bad ones refused"

if ! command -v haproxy >/dev/null 2>&1; then
    log "haproxy is not installed: its part is skipped"
    exit 0
fi

# ---- with haproxy --------------------------------------------------------------
lc start --haproxy >/dev/null
sock=$(lc env | sed -n 's/^export AUGUR_HAPROXY_SOCKET=//p')
cfg=$CLUSTER_DIR/haproxy/haproxy.cfg
hap() { haproxy_cmd "$sock" "$@"; }
# stat_col BACKEND SERVER COLUMN: one column of show stat, by its name.
stat_col() { hap "show stat $1 4 -1" | haproxy_stat_col "$2" "$3"; }

server_up() { [ "$(stat_col "$1" "$2" status)" = UP ]; }

# web-1's instance starts with web-1@host-r1-1's fault wherever the claim
# puts it (the fault on host-r1-2 was cleared: set it again).
lc fault web-1@host-r1-2 --fail-rate 1 >/dev/null
lc fleet --hosts 2 --workloads 1 >/dev/null
for l in "http-request lua.augur_mirror" "http-response lua.augur_mirror_res" \
    "option httpchk GET /healthz" 'http-check expect rstatus ^(200|503)$'; do
    grep -qF "    $l" "$cfg" || fail "haproxy.cfg lacks '$l'"
done
hap "augur mirror show be_web-1" | jq -e '.target == null' >/dev/null ||
    fail "augur mirror show be_web-1: $(hap "augur mirror show be_web-1")"
claim=$(aug "$(eps)" claim get web-1 -o json)
at=$(jq -r .host <<<"$claim")
epoch=$(jq -r .epoch <<<"$claim")
fe=http://127.0.0.1:$((BASE_PORT + 301))/
wait_until 10 "web-1's frontend to reach its instance" bash -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $fe)\" = 500 ]"
got=$(codes "$fe" 4)
[ "$got" = "500 500 500 500" ] || fail "the bad canary behind haproxy answered $got"
[ "$(stat_col be_web-1 "$at" status)" = UP ] ||
    fail "the bad canary is not UP: $(stat_col be_web-1 "$at" status)"
[ "$(stat_col be_web-1 "$at" hrsp_5xx)" -ge 4 ] ||
    fail "show stat counted $(stat_col be_web-1 "$at" hrsp_5xx) 5xx"
log "a bad canary behind haproxy: UP (its /healthz is fine), its 500s in hrsp_5xx"

# A warm instance (503 on /healthz) is UP too, kept out by weight 0.
other=host-r1-1
[ "$at" != host-r1-1 ] || other=host-r1-2
lc fault "web-1@$other" clear >/dev/null
act_cluster() { printf '%s\n' "$1" | AUGUR_DEMO_DIR=$CLUSTER_DIR/demo "$ACT" >/dev/null; }
act_cluster "$(req prepare web-1 "$other" "$epoch")" || fail "prepare web-1 on $other failed"
lc fleet --hosts 2 --workloads 1 >/dev/null # adds it (weight 0)
wait_until 10 "warm be_web-1/$other to be UP" server_up be_web-1 "$other"
[ "$(stat_col be_web-1 "$other" weight)" = 0 ] ||
    fail "the warm server has weight $(stat_col be_web-1 "$other" weight)"
out=$(lc demo)
grep -q "web-1@$at	--fail-rate 1" <<<"$out" || fail "demo does not list the faults: $out"
log "a warm instance: UP with weight 0"

# --haproxy-socket: only for an augurd whose --help mentions it.  Node 2
# restarted on this augurd; node 1 on one that knows the flag (a wrapper
# that mentions it in --help and drops it before running this augurd).
started_with() # N: the args of node N's last start
{
    grep '^=== local-cluster: starting node' "$CLUSTER_DIR/node$1/augurd.log" | tail -n 1
}
lc restart 2 >/dev/null
if "$AUGURD" --help 2>&1 | grep -q -- --haproxy-socket; then
    started_with 2 | grep -qF -- "--haproxy-socket $sock" ||
        fail "augurd knows --haproxy-socket but node 2 did not get it: $(started_with 2)"
else
    ! started_with 2 | grep -qF -- "--haproxy-socket" ||
        fail "node 2 got --haproxy-socket from an augurd without it: $(started_with 2)"
fi
fake=$CLUSTER_DIR.bin/augurd
mkdir -p "${fake%/*}"
cat >"$fake" <<FAKE
#!/usr/bin/env bash
if [ "\${1:-}" = --help ]; then
    "$AUGURD" --help
    echo "  --haproxy-socket PATH   (this test's stand-in)"
    exit 0
fi
args=()
while [ \$# -gt 0 ]; do
    if [ "\$1" = --haproxy-socket ]; then shift 2; continue; fi
    args+=("\$1")
    shift
done
exec "$AUGURD" "\${args[@]}"
FAKE
chmod +x "$fake"
AUGURD=$fake lc restart 1 >/dev/null
started_with 1 | grep -qF -- "--haproxy-socket $sock" ||
    fail "node 1's augurd knows --haproxy-socket but did not get it: $(started_with 1)"
wait_until 30 "a leader after the restarts" some_leader
log "--haproxy-socket given only to an augurd that takes it"
