#!/usr/bin/env bash
# http_basic: augurd's HTTP server (docs/HTTP.md).  On a 3-node cluster
# (deploy/local-cluster gives node i --http-address P+200+i and
# --metrics-public): /healthz and /readyz answer 200 on every node;
# /metrics passes `promtool check metrics` and carries the term, the leader
# and a score set with `augur score set`; an unknown path is a 404, a POST a
# 405, a body over the limit a 413 and headers over the limit a 4xx, all
# with a JSON error; 200 connections at once and a client that never
# finishes its request do not stop it.  A node started alone in a 2-voter
# configuration (no quorum, no --metrics-public) is up (/healthz 200) but
# not ready (/readyz 503) and refuses /metrics without a token (401 EAUTH); a node whose
# peers are all killed becomes not ready.  The alert rules and the scrape
# config of deploy/prometheus pass promtool.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

for tool in curl promtool jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$TEST_NAME: $tool not installed: skipped" >&2
        exit 77
    fi
done
"$AUGURD" --help | grep -q -- --http-address || fail "augurd has no --http-address"

PROM=$REPO/deploy/prometheus
promtool check rules "$PROM/augur-alerts.yml" >/dev/null ||
    fail "promtool check rules failed on deploy/prometheus/augur-alerts.yml"
promtool test rules "$PROM/augur-alerts.test.yml" >/dev/null ||
    fail "promtool test rules failed on deploy/prometheus/augur-alerts.test.yml"
# check config reads only local files (the rule file): it works offline.
promtool check config "$PROM/prometheus.yml" >/dev/null ||
    fail "promtool check config failed on deploy/prometheus/prometheus.yml"
log "deploy/prometheus passes promtool"

# A slow client is cut after --http-timeout seconds (2 here).
cluster_start 3 --http-timeout 2
ALL=$(eps)
url() { echo "http://127.0.0.1:$((BASE_PORT + 200 + $1))$2"; }
# code N PATH [CURL ARGS]: the status; the body in $CLUSTER_DIR/body.
code() {
    local n=$1 path=$2
    shift 2
    curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' --max-time 20 "$@" "$(url "$n" "$path")" || true
}
err_code() { jq -r .error.code "$CLUSTER_DIR/body"; }

for n in 1 2 3; do
    [ "$(code "$n" /healthz)" = 200 ] || fail "node $n: /healthz not 200"
    [ "$(jq -r .status "$CLUSTER_DIR/body")" = ok ] || fail "node $n: /healthz body $(cat "$CLUSTER_DIR/body")"
    wait_until 30 "node $n is ready" bash -c \
        "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$(url "$n" /readyz)')\" = 200 ]"
done
log "/healthz and /readyz answer 200 on every node"

L=$(leader)
TERM_NOW=$(status_json "$L" | jq -r .term)
aug "$ALL" resource add host-a --kind host >/dev/null
aug "$ALL" score set host-a 0.93 >/dev/null
for n in 1 2 3; do
    wait_until 30 "node $n's /metrics shows host-a's score" bash -c \
        "curl -s '$(url "$n" /metrics)' | grep -qx 'augur_resource_failure_score{resource=\"host-a\",kind=\"host\"} 0.93'"
    [ "$(code "$n" /metrics)" = 200 ] || fail "node $n: /metrics not 200"
    promtool check metrics <"$CLUSTER_DIR/body" >"$CLUSTER_DIR/promtool.out" 2>&1 ||
        fail "node $n: promtool check metrics: $(cat "$CLUSTER_DIR/promtool.out")"
    grep -qx "augur_raft_leader_id $L" "$CLUSTER_DIR/body" ||
        fail "node $n: /metrics does not name leader $L: $(grep leader_id "$CLUSTER_DIR/body")"
    t=$(awk '$1 == "augur_raft_term" { print $2 }' "$CLUSTER_DIR/body")
    [ "${t:-0}" -ge "$TERM_NOW" ] || fail "node $n: term $t < $TERM_NOW"
    want=0
    [ "$n" != "$L" ] || want=1
    grep -qx "augur_raft_is_leader $want" "$CLUSTER_DIR/body" ||
        fail "node $n: augur_raft_is_leader is not $want"
    curl -s -D "$CLUSTER_DIR/headers" -o /dev/null "$(url "$n" /metrics)"
    grep -qi '^content-type: text/plain; version=0.0.4' "$CLUSTER_DIR/headers" ||
        fail "node $n: /metrics content type: $(grep -i content-type "$CLUSTER_DIR/headers")"
done
log "/metrics passes promtool on every node, with term, leader $L and host-a's score"

[ "$(code 1 /nope)" = 404 ] || fail "unknown path: not 404"
[ "$(err_code)" = ENOTFOUND ] || fail "404 body: $(cat "$CLUSTER_DIR/body")"
[ "$(code 1 /healthz -X POST -d x)" = 405 ] || fail "POST /healthz: not 405"
[ "$(err_code)" = EINVAL ] || fail "405 body: $(cat "$CLUSTER_DIR/body")"
head -c $((2 * 1024 * 1024)) /dev/zero >"$CLUSTER_DIR/big"
[ "$(code 1 /healthz -X POST --data-binary @"$CLUSTER_DIR/big")" = 413 ] ||
    fail "a 2 MiB body: not 413"
[ "$(err_code)" = ETOOBIG ] || fail "413 body: $(cat "$CLUSTER_DIR/body")"
big_header=$(head -c 65536 /dev/zero | tr '\0' a)
c=$(code 1 /healthz -H "X-Big: $big_header")
case "$c" in 4??) ;; *) fail "a 64 KiB header: $c, not 4xx" ;; esac
log "404, 405, 413 with JSON errors; a 64 KiB header: $c"

# 200 connections at once: every one answered or refused, none crashes it.
seq 1 200 | xargs -P 200 -I{} curl -s -o /dev/null --max-time 30 \
    -w '%{http_code}\n' "$(url 2 /healthz)" >"$CLUSTER_DIR/many" || true
ok=$(grep -c '^200$' "$CLUSTER_DIR/many" || true)
[ "$ok" -ge 1 ] || fail "200 connections at once: none answered"
kill -0 "$(node_pid 2)" || fail "node 2 died under 200 connections"
[ "$(code 2 /healthz)" = 200 ] || fail "node 2: /healthz after 200 connections"
log "200 connections at once: $ok answered 200; node 2 serves on"

# A client that sends half a request line is disconnected by the server
# (--http-timeout 2), well before the 30 s this waits.
exec 5<>"/dev/tcp/127.0.0.1/$((BASE_PORT + 201))"
printf 'GET /healthz HTTP/1.1\r\n' >&5
timeout 30 cat <&5 >/dev/null || fail "a slow client was not disconnected"
exec 5<&-
[ "$(code 1 /healthz)" = 200 ] || fail "node 1: /healthz after a slow client"
log "a slow client is disconnected"

# A node alone in a 2-voter configuration: up, never ready, and /metrics
# refused without --metrics-public.
SOLO=$CLUSTER_DIR/solo
mkdir -p "$SOLO"
"$AUGURD" --id 1 --data-dir "$SOLO/data" \
    --raft-address "127.0.0.1:$((BASE_PORT + 104))" \
    --client-address "127.0.0.1:$((BASE_PORT + 4))" \
    --cluster-key "$CLUSTER_DIR/keys/cluster.key" \
    --bootstrap "1=127.0.0.1:$((BASE_PORT + 104)),2=127.0.0.1:$((BASE_PORT + 105))" \
    --http-address "127.0.0.1:$((BASE_PORT + 204))" --http-max-conns 3 \
    >"$SOLO/augurd.log" 2>&1 &
SOLO_PID=$!
trap 'rc=$?; kill "$SOLO_PID" 2>/dev/null || true; (exit $rc); on_exit' EXIT
wait_until 30 "the solo node serves HTTP" bash -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$(url 4 /healthz)')\" = 200 ]"
[ "$(code 4 /readyz)" = 503 ] || fail "solo node: /readyz not 503"
[ "$(err_code)" = ENOLEADER ] || fail "solo 503 body: $(cat "$CLUSTER_DIR/body")"
[ "$(code 4 /metrics)" = 401 ] || fail "solo node: /metrics without --metrics-public not 401"
[ "$(err_code)" = EAUTH ] || fail "401 body: $(cat "$CLUSTER_DIR/body")"
jq -r .error.message "$CLUSTER_DIR/body" | grep -q "Authorization: Bearer" ||
    fail "401 does not say how to send a token: $(cat "$CLUSTER_DIR/body")"
# At its connection limit (3 idle connections) it accepts again once they
# close.
for fd in 5 6 7; do eval "exec $fd<>/dev/tcp/127.0.0.1/$((BASE_PORT + 204))"; done
wait_until 10 "the solo node holds 3 connections" bash -c \
    "[ \"\$(ss -Htn state established '( sport = :$((BASE_PORT + 204)) )' | wc -l)\" -ge 3 ]"
exec 5<&- 6<&- 7<&-
wait_until 30 "the solo node accepts again after its connection limit" bash -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 '$(url 4 /healthz)')\" = 200 ]"
kill -TERM "$SOLO_PID"
wait "$SOLO_PID" || fail "the solo node exited with status $? on SIGTERM"
grep -E "Sanitizer|runtime error" "$SOLO/augurd.log" && fail "the solo node's log has sanitizer reports"
log "a node without quorum: /healthz 200, /readyz 503 ENOLEADER, /metrics 401 EAUTH; accepts again after its connection limit; clean exit"

# Kill every peer of node 3: it loses its leader and becomes not ready.
for n in 1 2; do lc kill "$n" >/dev/null; done
wait_until 60 "node 3 is not ready without its peers" bash -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$(url 3 /readyz)')\" = 503 ]"
[ "$(code 3 /healthz)" = 200 ] || fail "node 3: /healthz not 200 without peers"
log "node 3 alone: /readyz 503, /healthz 200"
