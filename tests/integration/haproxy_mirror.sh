#!/usr/bin/env bash
# haproxy_mirror: deploy/haproxy/augur-mirror.lua in a real HAProxy 2.6 in
# front of an augur-demo-app.  Mirrored to a second demo app, every live GET
# is copied and compared (no mismatch); mirrored to a server answering 500
# or to a closed port, the mirror's errors and mismatches are counted while
# every live request still succeeds.  Bad `augur mirror` input is refused
# and changes nothing.  Then augur-load (tests/e2e) sends 1,000 requests at
# 500/s through HAProxy, all answered.  Skipped (77) without haproxy.
set -euo pipefail
if ! command -v haproxy >/dev/null 2>&1; then
    echo "haproxy_mirror: haproxy not installed (deploy/packages.txt): skip"
    exit 77
fi
source "$(dirname "$0")/../lib/cluster.sh"

BUILD=$(cd "$(dirname "$AUGUR")/.." && pwd)
APP=$BUILD/demo/augur-demo-app
LOAD=$BUILD/tests/e2e/augur-load
LUA=$REPO/deploy/haproxy/augur-mirror.lua
for tool in "$APP" "$LOAD"; do
    [ -x "$tool" ] || fail "$tool not built"
done
FE=$((BASE_PORT + 1))   # HAProxy's frontend
OLD=$((BASE_PORT + 2))  # the live server
NEW=$((BASE_PORT + 3))  # a good mirror target
BAD=$((BASE_PORT + 4))  # a mirror target answering 500
SHUT=$((BASE_PORT + 5)) # a closed port
DIR=$CLUSTER_DIR
SOCK=$DIR/stats.sock
rm -rf "$DIR"
mkdir -p "$DIR"
# haproxy refuses a unix socket path of 97 bytes or more: under a long
# build directory, bind through a short link to $DIR instead.
LINK=""
if [ "${#SOCK}" -ge 90 ]; then
    LINK=$(mktemp -u "${TMPDIR:-/tmp}/augur-mirror.XXXXXX")
    ln -s "$DIR" "$LINK"
    SOCK=$LINK/stats.sock
fi

PIDS=()
cleanup()
{
    local rc=$?
    trap - EXIT
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    [ -z "$LINK" ] || rm -f "$LINK"
    if [ "$rc" -ne 0 ]; then
        log "failed with status $rc; haproxy's log follows"
        tail -n 30 "$DIR/haproxy.log" >&2 || true
    else
        log "PASS"
    fi
    exit "$rc"
}
trap cleanup EXIT

"$APP" --workload web --host old --epoch 1 --port "$OLD" >"$DIR/old.log" 2>&1 &
PIDS+=($!)
"$APP" --workload web --host new --epoch 2 --port "$NEW" >"$DIR/new.log" 2>&1 &
PIDS+=($!)
python3 - "$BAD" >"$DIR/bad.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("listening", sys.argv[1], flush=True)
s.serve_forever()
PY
PIDS+=($!)
for f in old new bad; do
    wait_until 10 "$f listens" grep -q listening "$DIR/$f.log"
done

cat >"$DIR/haproxy.cfg" <<CFG
global
    lua-load $LUA
    stats socket $SOCK mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:$FE
    default_backend web
backend web
    http-request lua.augur_mirror
    http-response lua.augur_mirror_res
    server old 127.0.0.1:$OLD
CFG
haproxy -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 &
PIDS+=($!)

# One command on the stats socket; its answer on stdout.
hap() { haproxy_cmd "$SOCK" "$@"; }
show() { hap augur mirror show web; }
field() { show | jq -r ".$1"; }
# at_least EXPR N: the mirror's EXPR (a jq expression) is at least N.
at_least() { [ "$(show | jq "$1")" -ge "$2" ]; }
# live N: N requests through HAProxy, each of which must answer 200.
live()
{
    local codes
    codes=$(for _ in $(seq "$1"); do
        curl -s -o /dev/null -m 5 -w '%{http_code}\n' "http://127.0.0.1:$FE/"
    done | sort | uniq -c | tr -s ' ')
    [ "$codes" = " $1 200" ] || fail "live requests: $codes (want $1 x 200)"
}

wait_until 10 "haproxy answers on its stats socket" hap show info
wait_until 10 "haproxy serves" curl -sf "http://127.0.0.1:$FE/"

# ---- no target: nothing is copied -------------------------------------------
[ "$(field target)" = null ] || fail "a mirror before any set: $(show)"
live 5
[ "$(field requests)" = 0 ] || fail "copies without a target: $(show)"

# ---- bad input is refused and changes nothing -------------------------------
hap augur mirror set nope "127.0.0.1:$NEW" | grep -q "error: no backend" ||
    fail "set on an unknown backend was not refused"
hap augur mirror show nope | grep -q "error: no backend" ||
    fail "show of an unknown backend was not refused"
for t in localhost:80 127.0.0.1 127.0.0.1:0 127.0.0.1:70000 300.0.0.1:80; do
    hap augur mirror set web "$t" | grep -q "error: target" ||
        fail "target $t was not refused"
done
hap augur mirror frob web | grep -q usage || fail "an unknown verb: no usage"
[ "$(field target)" = null ] || fail "refused input changed the mirror"

# ---- a good target: every GET copied and compared, no mismatch --------------
[ "$(hap augur mirror set web "127.0.0.1:$NEW")" = ok ] || fail "set refused"
[ "$(field target)" = "127.0.0.1:$NEW" ] || fail "target not set: $(show)"
live 200
curl -s -o /dev/null -X POST -d x "http://127.0.0.1:$FE/" || true
wait_until 30 "200 copies compared" \
    at_least .compared 200
s=$(show)
log "good target: $s"
json_eq() { [ "$(jq -r "$2" <<<"$1")" = "$3" ] || fail "$2 is $(jq -r "$2" <<<"$1"), want $3: $1"; }
json_eq "$s" .requests 200
json_eq "$s" .compared 200
json_eq "$s" .status_mismatch 0
json_eq "$s" .new_errors 0
json_eq "$s" .skipped 1
json_eq "$s" .dropped 0
jq -e '.new_p99_ms > 0 and .old_p99_ms > 0' <<<"$s" >/dev/null ||
    fail "no latencies: $s"

# ---- a target answering 500: errors and mismatches counted ------------------
[ "$(hap augur mirror set web "127.0.0.1:$BAD")" = ok ] || fail "set refused"
json_eq "$(show)" .compared 0 # a new target starts its counters over
live 50
wait_until 30 "50 copies to the 500 server compared" \
    at_least .compared 50
s=$(show)
log "500 target: $s"
json_eq "$s" .new_errors 50
json_eq "$s" .status_mismatch 50

# ---- a closed port: errors counted, live requests unharmed ------------------
[ "$(hap augur mirror set web "127.0.0.1:$SHUT")" = ok ] || fail "set refused"
live 20
# HAProxy's httpclient retries a refused connection for about 3 s: a few
# copies at a time are enough to see them fail.
wait_until 60 "copies to a closed port fail" \
    at_least .new_errors 4
s=$(show)
log "closed port: $s"
jq -e '.status_mismatch == .new_errors and .requests == 20' <<<"$s" \
    >/dev/null || fail "closed port counters: $s"

# ---- clear ------------------------------------------------------------------
[ "$(hap augur mirror clear web)" = ok ] || fail "clear refused"
[ "$(field target)" = null ] || fail "clear left a target: $(show)"
live 5
[ "$(field requests)" = 0 ] || fail "copies after clear: $(show)"

# ---- augur-load: 1,000 requests at 500/s through HAProxy, mirrored ----------
[ "$(hap augur mirror set web "127.0.0.1:$NEW")" = ok ] || fail "set refused"
"$LOAD" --url "http://127.0.0.1:$FE/" --rate 500 --duration 2 \
    --json "$DIR/load.json" >/dev/null || fail "augur-load failed"
r=$(cat "$DIR/load.json")
log "augur-load: $(jq -c 'del(.by_second)' <<<"$r")"
json_eq "$r" .requests 1000
json_eq "$r" .failed 0
json_eq "$r" .failed_window_s 0
json_eq "$r" '.by_second | length' 2
jq -e '.p99_ms > 0 and .p50_ms <= .p99_ms' <<<"$r" >/dev/null ||
    fail "latencies: $r"
wait_until 30 "the load's copies compared" \
    at_least '.compared + .dropped' 1000
json_eq "$(show)" .status_mismatch 0

# ---- augur-load on its own: bad usage, a dead port, SIGINT ------------------
set +e
"$LOAD" --rate 0 --url "http://127.0.0.1:$OLD/" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "augur-load --rate 0: status $rc, want 2"
"$LOAD" --url "http://127.0.0.1:$SHUT/" --rate 100 --duration 1 \
    --json "$DIR/dead.json" >/dev/null || fail "augur-load on a dead port"
r=$(cat "$DIR/dead.json")
json_eq "$r" .requests 100
json_eq "$r" .failed 100
jq -e '.failed_window_s > 0.9' <<<"$r" >/dev/null ||
    fail "a dead port's failed window: $r"
# requests to the live server: HAProxy opens one connection for each, as
# the demo app closes it after every answer.
old_requests() { hap show stat | awk -F, '$1 == "web" && $2 == "old" { print $8 }'; }
base=$(old_requests)
"$LOAD" --url "http://127.0.0.1:$FE/" --rate 100 --duration 600 \
    --json "$DIR/int.json" >"$DIR/int.out" &
lp=$!
PIDS+=("$lp")
old_requests_over() { [ "$(old_requests)" -ge $((base + $1)) ]; }
wait_until 30 "augur-load has sent 20 requests" old_requests_over 20
kill -INT "$lp"
wait "$lp" || fail "augur-load after SIGINT: status $?"
r=$(cat "$DIR/int.json")
log "SIGINT: $(jq -c 'del(.by_second)' <<<"$r")"
jq -e '.requests > 0 and .requests < 60000 and .failed == 0' <<<"$r" \
    >/dev/null || fail "SIGINT summary: $r"
cmp -s "$DIR/int.json" "$DIR/int.out" || fail "printed and written summaries differ"
