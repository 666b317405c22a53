#!/usr/bin/env bash
# http_tls: augurd's HTTPS (--http-cert, --http-key; docs/HTTP.md, "HTTPS")
# and the metrics that count requests, writes and snapshots.  A bad pair is
# a configuration error (exit 2, a message naming the file, no data
# directory made): a key that is not the certificate's, one of the two
# alone, a missing file, a key given as the certificate.  On a 3-node
# cluster whose nodes all serve HTTPS with a self-signed certificate for
# 127.0.0.1 (deploy/local-cluster passes the flags after --, and its env
# then says https://): /healthz and /readyz answer with curl --cacert, a
# client that does not trust the certificate is refused, plain HTTP to the
# port gets no HTTP answer (the connection just ends, promptly) and the node
# serves on; /metrics over HTTPS passes promtool and counts client
# requests by op and result, the leader's apply latency, the snapshots
# taken (a low --snapshot-threshold) and, after a restart, installed.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

for tool in curl openssl promtool jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$TEST_NAME: $tool not installed: skipped" >&2
        exit 77
    fi
done
"$AUGURD" --help | grep -q -- --http-cert || fail "augurd --help does not mention --http-cert"
"$AUGURD" --help | grep -q -- --http-key || fail "augurd --help does not mention --http-key"

# Outside $CLUSTER_DIR, which cluster_start empties.
TLS=$CLUSTER_DIR-tls
rm -rf "$TLS"
mkdir -p "$TLS"
# selfsigned NAME: NAME.pem (a certificate for 127.0.0.1) and NAME.key.
selfsigned()
{
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$TLS/$1.key" -out "$TLS/$1.pem" >"$TLS/openssl.out" 2>&1 ||
        fail "openssl could not make a certificate: $(cat "$TLS/openssl.out")"
}
selfsigned server
selfsigned other
CERT=$TLS/server.pem
KEY=$TLS/server.key

# refused WANT_MESSAGE FLAGS...: augurd exits 2 with WANT_MESSAGE on
# stderr and touches no data.
refused()
{
    local want=$1 rc=0
    shift
    "$AUGURD" --id 1 --data-dir "$TLS/data" --raft-address 127.0.0.1:1 \
        --client-address 127.0.0.1:2 --cluster-key "$TLS/none" \
        --http-address 127.0.0.1:3 "$@" >"$TLS/refused.out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "augurd $*: exit $rc, not 2: $(cat "$TLS/refused.out")"
    grep -qF -- "$want" "$TLS/refused.out" ||
        fail "augurd $*: no '$want' in: $(cat "$TLS/refused.out")"
    [ ! -e "$TLS/data" ] || fail "augurd $*: made its data directory"
}
refused "is not the key of http-cert $CERT" --http-cert "$CERT" --http-key "$TLS/other.key"
refused "go together" --http-cert "$CERT"
refused "go together" --http-key "$KEY"
refused "http-key $TLS/missing.key: No such file" --http-cert "$CERT" --http-key "$TLS/missing.key"
refused "http-cert $KEY: not a PEM X.509 certificate" --http-cert "$KEY" --http-key "$KEY"
log "a wrong pair, one alone, a missing file, a key as certificate: exit 2 with the reason"

cluster_start 3 --http-cert "$CERT" --http-key "$KEY" \
    --snapshot-threshold 16 --snapshot-trailing 4
ALL=$(eps)
lc env | grep -qx "export AUGUR_HTTP=https://127.0.0.1:$((BASE_PORT + 201))" ||
    fail "local-cluster env does not say https: $(lc env | grep AUGUR_HTTP)"
url() { echo "https://127.0.0.1:$((BASE_PORT + 200 + $1))$2"; }
# code N PATH [CURL ARGS]: the status over HTTPS, trusting our certificate;
# the body in $CLUSTER_DIR/body.
code()
{
    local n=$1 path=$2
    shift 2
    curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' --max-time 20 \
        --cacert "$CERT" "$@" "$(url "$n" "$path")" || true
}

for n in 1 2 3; do
    [ "$(code "$n" /healthz)" = 200 ] || fail "node $n: https /healthz not 200"
    [ "$(jq -r .status "$CLUSTER_DIR/body")" = ok ] ||
        fail "node $n: /healthz body $(cat "$CLUSTER_DIR/body")"
    wait_until 30 "node $n is ready over HTTPS" bash -c \
        "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$CERT' '$(url "$n" /readyz)')\" = 200 ]"
done
log "/healthz and /readyz answer 200 over HTTPS on every node"

# A client that does not trust the certificate: curl's verification
# failure (60), no answer.
rc=0
curl -s -o /dev/null --max-time 20 "$(url 1 /healthz)" || rc=$?
[ "$rc" = 60 ] || fail "a client without --cacert: curl exit $rc, not 60"
# Plain HTTP to the HTTPS port: no HTTP status; the connection ends at
# once (not curl's timeout, 28), and the node serves on.
rc=0
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
    "http://127.0.0.1:$((BASE_PORT + 201))/healthz") || rc=$?
[ "$c" = 000 ] || fail "plain HTTP to the HTTPS port: status $c"
[ "$rc" != 0 ] && [ "$rc" != 28 ] || fail "plain HTTP to the HTTPS port: curl exit $rc"
kill -0 "$(node_pid 1)" || fail "node 1 died after a plain HTTP request"
[ "$(code 1 /healthz)" = 200 ] || fail "node 1: /healthz after a plain HTTP request"
log "an untrusting client is refused (60); plain HTTP gets no answer (curl exit $rc); node 1 serves on"

# Writes enough for a snapshot (threshold 16), one refused (EEXIST).
for i in $(seq 1 40); do
    aug "$ALL" resource add "host-$i" --kind host >/dev/null
done
if aug "$ALL" resource add host-1 --kind host >/dev/null 2>&1; then
    fail "adding host-1 twice succeeded"
fi
L=$(leader)
metric() { awk -v k="$1" '$1 == k { print $2 }' "$CLUSTER_DIR/body"; }
wait_until 30 "the leader took a snapshot" bash -c \
    "curl -s --cacert '$CERT' '$(url "$L" /metrics)' | grep -q '^augur_snapshot_duration_seconds_count{kind=\"take\"} [1-9]'"
[ "$(code "$L" /metrics)" = 200 ] || fail "node $L: /metrics not 200"
promtool check metrics <"$CLUSTER_DIR/body" >"$CLUSTER_DIR/promtool.out" 2>&1 ||
    fail "node $L: promtool check metrics: $(cat "$CLUSTER_DIR/promtool.out")"
[ "$(metric 'augur_client_requests_total{op="resource.add",result="ok"}')" = 40 ] ||
    fail "leader $L: resource.add ok: $(grep 'op="resource.add"' "$CLUSTER_DIR/body")"
[ "$(metric 'augur_client_requests_total{op="resource.add",result="EEXIST"}')" = 1 ] ||
    fail "leader $L: resource.add EEXIST: $(grep 'op="resource.add"' "$CLUSTER_DIR/body")"
n=$(metric augur_apply_latency_seconds_count)
[ "${n:-0}" -ge 41 ] || fail "leader $L: apply latency count ${n:-none} < 41"
inf=$(metric 'augur_apply_latency_seconds_bucket{le="+Inf"}')
[ "$inf" = "$n" ] || fail "leader $L: +Inf bucket $inf != count $n"
b=$(metric 'augur_snapshot_last_size_bytes{kind="take"}')
[ "${b:-0}" -gt 0 ] || fail "leader $L: last snapshot size ${b:-none}"
log "leader $L's /metrics over HTTPS: promtool ok, 40 resource.add ok and 1 EEXIST, $n applied writes timed, a snapshot of $b bytes"

# A follower restarted on its data installs its own snapshot at start.
F=1
[ "$F" != "$L" ] || F=2
lc restart "$F" >/dev/null
wait_until 30 "node $F installed a snapshot" bash -c \
    "curl -s --cacert '$CERT' '$(url "$F" /metrics)' | grep -q '^augur_snapshot_duration_seconds_count{kind=\"install\"} [1-9]'"
[ "$(code "$F" /metrics)" = 200 ] || fail "node $F: /metrics not 200"
promtool check metrics <"$CLUSTER_DIR/body" >"$CLUSTER_DIR/promtool.out" 2>&1 ||
    fail "node $F: promtool check metrics: $(cat "$CLUSTER_DIR/promtool.out")"
b=$(metric 'augur_snapshot_last_size_bytes{kind="install"}')
[ "${b:-0}" -gt 0 ] || fail "node $F: installed snapshot size ${b:-none}"
log "node $F restarted: installed a snapshot of $b bytes, served over HTTPS"
rm -rf "$TLS"
