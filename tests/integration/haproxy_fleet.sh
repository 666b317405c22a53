#!/usr/bin/env bash
# haproxy_fleet: deploy/local-cluster start --haproxy runs a real haproxy in
# front of the demo fleet: fleet adds each workload's instance as a server
# of its backend through the runtime API, each workload's frontend answers
# with its instance's "W H E", show stat on the admin socket lists the
# servers, env exports the socket, and stop ends haproxy.  Skipped (77)
# without haproxy.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

command -v haproxy >/dev/null 2>&1 || { log "haproxy is not installed: skipped"; exit 77; }
: "${AUGUR_DEMO_ACTUATOR:?AUGUR_DEMO_ACTUATOR is not set}"

cluster_start 3
# start again on the running cluster: only adds haproxy (kept in the conf).
lc start --haproxy >/dev/null
grep -q '^HAPROXY=1$' "$CLUSTER_DIR/cluster.conf" || fail "--haproxy was not kept in cluster.conf"
[ -S "$CLUSTER_DIR/haproxy/admin.sock" ] || fail "no admin socket at $CLUSTER_DIR/haproxy/admin.sock"
hpid=$(cat "$CLUSTER_DIR/haproxy/haproxy.pid")
kill -0 "$hpid" || fail "haproxy (pid $hpid) is not running"
# Whole output first: grep -q stops reading at its match, and a line env
# prints after it (AUGUR_HTTP) would die of SIGPIPE under pipefail.
env_out=$(lc env)
# The path to connect to: the socket itself, or for a long dir (haproxy
# binds under 97 bytes) the same socket through a short link.
sock=$(sed -n 's/^export AUGUR_HAPROXY_SOCKET=//p' <<<"$env_out")
[ -n "$sock" ] || fail "env does not export AUGUR_HAPROXY_SOCKET: $env_out"
[ "$sock" -ef "$CLUSTER_DIR/haproxy/admin.sock" ] ||
    fail "AUGUR_HAPROXY_SOCKET=$sock is not $CLUSTER_DIR/haproxy/admin.sock"
grep -qF "stats socket $sock mode 600 level admin" "$CLUSTER_DIR/haproxy/haproxy.cfg" ||
    fail "haproxy.cfg lacks the admin socket"

lc fleet --hosts 3 --workloads 3 >/dev/null
hpid=$(cat "$CLUSTER_DIR/haproxy/haproxy.pid")
hap() { haproxy_cmd "$sock" "$@"; }

for i in 1 2 3; do
    w=web-$i
    claim=$(aug "$(eps)" claim get "$w" -o json)
    at=$(jq -r .host <<<"$claim")
    epoch=$(jq -r .epoch <<<"$claim")
    port=$((BASE_PORT + 300 + i))
    # The server is added ready; its health check (rise 1) makes it UP.
    wait_until 10 "$w's server $at to be UP" bash -c \
        "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/)\" = 200 ]"
    body=$(curl -s "http://127.0.0.1:$port/")
    [ "$body" = "$w $at $epoch" ] || fail "$w's frontend :$port answered '$body', not '$w $at $epoch'"
    stat=$(hap "show stat be_$w 4 -1")
    line=$(awk -F, -v s="$at" '$2 == s' <<<"$stat")
    [ -n "$line" ] || fail "show stat of be_$w has no server $at: $stat"
    # Columns by the header's names.
    col() { haproxy_stat_col "$at" "$1" <<<"$stat"; }
    [ "$(col weight)" = 100 ] || fail "be_$w/$at has weight $(col weight), not 100"
    [ "$(col hrsp_2xx)" -ge 1 ] || fail "be_$w/$at counted no 2xx answer"
    log "$w: frontend :$port -> $at (epoch $epoch), show stat: weight 100, $(col hrsp_2xx) 2xx"
done

out=$(lc status)
grep -q "web-3	http://127.0.0.1:$((BASE_PORT + 303))/" <<<"$out" || fail "status does not show the frontends: $out"
out=$(lc demo)
grep -q "haproxy: pid $hpid" <<<"$out" || fail "demo does not show haproxy: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((BASE_PORT + 299))/stats")
[ "$code" = 200 ] || fail "the stats page answered $code"

# fleet again: the servers exist already; nothing breaks, nothing doubles.
lc fleet --hosts 3 --workloads 3 >/dev/null
[ "$(hap "show stat be_web-1 4 -1" | grep -c '^be_web-1,')" = 1 ] ||
    fail "a second fleet doubled be_web-1's servers"

lc stop >/dev/null
wait_until 10 "haproxy (pid $hpid) to end" bash -c "! kill -0 $hpid 2>/dev/null"
[ ! -e "$CLUSTER_DIR/haproxy/haproxy.pid" ] || fail "stop left haproxy's pid file"
log "start --haproxy, fleet adds the instances, frontends answer, stop ends haproxy"
