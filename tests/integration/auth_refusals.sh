#!/usr/bin/env bash
# auth_refusals: every way in without the right credentials is refused with a
# clear error and changes nothing: no handshake (plain msgpack), an unknown
# key, a removed key (whose open connections close on every node), a role
# that does not allow the op, a replayed, a tampered and an oversized frame,
# a truncated handshake, and a server that lacks the cluster key.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
cluster_start 3
ALL=$(eps)
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"
aug "$ALL" resource add r1 --kind host

rev() { aug "$ALL" events -o json | tail -n 1 | jq -er '.rev'; }

# expect_refused WHAT PATTERN CMD...: CMD fails and its output matches.
expect_refused()
{
    local what=$1 pattern=$2 out rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || fail "$what: accepted; output: $out"
    grep -Eq "$pattern" <<<"$out" || fail "$what: refused without '$pattern': $out"
    log "$what: refused ($(head -c 160 <<<"$out" | tr '\n' ' '))"
}

# ---- principals for the role tests ------------------------------------------
for who in reader operator agent stranger; do
    "$AUGUR" keygen --out "$KEYS/$who.key" >/dev/null
done
aug "$ALL" principal add reader --key "$KEYS/reader.key.pub" --role reader
aug "$ALL" principal add operator --key "$KEYS/operator.key.pub" --role operator
aug "$ALL" principal add agent --key "$KEYS/agent.key.pub" --role agent
as() { local who=$1; shift; AUGUR_KEY=$KEYS/$who.key aug "$@"; }
# A follower applies the new principals a moment after the leader.
wait_until 30 "every node knows the reader" bash -c "
    for n in 1 2 3; do
        AUGUR_KEY='$KEYS/reader.key' '$AUGUR' --endpoints 127.0.0.1:\$((${BASE_PORT} + n)) \
            --stale resource list >/dev/null 2>&1 || exit 1
    done"
rev_before=$(rev)
log "revision before the refusals: $rev_before"

# ---- a stalled handshake: closed after 10 s (checked at the end) -------------
stalled()
{
    exec 3<>"/dev/tcp/127.0.0.1/$((BASE_PORT + 1))"
    printf '\x00\x00' >&3 # half a frame header, then nothing
    # cat ends at the end of the stream, that is when the server closes.
    timeout 30 cat <&3 >/dev/null 2>&1
}
stalled &
stalled_pid=$!

# ---- no handshake ------------------------------------------------------------
expect_refused "CLI without keys" "EAUTH.*requires authentication" \
    env -u AUGUR_KEY -u AUGUR_CLUSTER_KEY "$AUGUR" --endpoints "$ALL" resource add x1 --kind host
expect_refused "plain msgpack request" '"status": ?22' \
    "$AUGUR_WIRE" --endpoint "$(ep 1)" --plain --client 9 --seq 1 --op resource.add \
    --args-json '{"id":"x2","kind":"host"}'
expect_refused "key without the cluster key" "cluster's public key" \
    env -u AUGUR_CLUSTER_KEY "$AUGUR" --endpoints "$ALL" status

# ---- unknown key -------------------------------------------------------------
expect_refused "unknown key" "EAUTH.*unknown key" as stranger "$ALL" status

# ---- roles -------------------------------------------------------------------
as reader "$ALL" resource get r1 -o json >/dev/null || fail "a reader cannot read"
expect_refused "reader writes" "EPERM.*role reader" as reader "$ALL" resource add x3 --kind host
expect_refused "reader lists principals" "EPERM" as reader "$ALL" principal list
as operator "$ALL" claim list >/dev/null || fail "an operator cannot read claims"
expect_refused "operator adds a principal" "EPERM.*role operator" \
    as operator "$ALL" principal add x4 --key "$KEYS/stranger.key.pub" --role admin
expect_refused "operator removes a member" "EPERM" as operator "$ALL" member remove 3
expect_refused "operator transfers leadership" "EPERM" as operator "$ALL" leader transfer
as agent "$ALL" status >/dev/null || fail "an agent cannot read the status"
expect_refused "agent reads resources" "EPERM.*role agent" as agent "$ALL" resource list

# ---- frames ------------------------------------------------------------------
lep=$(leader_client_address)
expect_refused "replayed frame" 'failed authentication.*"status": ?22' \
    "$AUGUR_WIRE" --endpoint "$lep" --client 10 --seq 1 --op resource.get \
    --args-json '{"id":"r1"}' --mutate replay
expect_refused "tampered frame" 'failed authentication.*"status": ?22' \
    "$AUGUR_WIRE" --endpoint "$lep" --client 11 --seq 1 --op resource.add \
    --args-json '{"id":"x5","kind":"host"}' --mutate tamper
expect_refused "oversized frame" '"status": ?9' \
    "$AUGUR_WIRE" --endpoint "$lep" --client 12 --seq 1 --op status --mutate oversize
expect_refused "truncated handshake" "closed the connection" \
    "$AUGUR_WIRE" --endpoint "$lep" --client 13 --seq 1 --op resource.add \
    --args-json '{"id":"x6","kind":"host"}' --mutate truncate

# ---- a server without the cluster key ----------------------------------------
# A node of its own cluster, with another cluster key: a client pinning this
# cluster's key must refuse it before sending anything.
"$AUGUR" keygen --out "$KEYS/rogue.key" >/dev/null
rogue_port=$((BASE_PORT + 9))
mkdir -p "$CLUSTER_DIR/rogue"
"$AUGURD" --id 1 --data-dir "$CLUSTER_DIR/rogue/data" \
    --raft-address "127.0.0.1:$((BASE_PORT + 109))" --client-address "127.0.0.1:$rogue_port" \
    --cluster-key "$KEYS/rogue.key" --admin-key "$AUGUR_KEY.pub" \
    --bootstrap "1=127.0.0.1:$((BASE_PORT + 109))" >"$CLUSTER_DIR/rogue/augurd.log" 2>&1 &
rogue_pid=$!
trap 'st=$?; set +e; kill -9 $rogue_pid 2>/dev/null; (exit $st); on_exit' EXIT
rogue_up() { AUGUR_CLUSTER_KEY=$KEYS/rogue.key.pub aug "127.0.0.1:$rogue_port" status >/dev/null 2>&1; }
wait_until 30 "the rogue node serves" rogue_up
# Our HELLO carries the mac of the real cluster's public key, which the
# rogue cannot check against its own: it refuses us before it signs
# anything, in clear, so the CLI counts it as a failed endpoint, never as
# an answer, and gives up when its time is up.
expect_refused "server without the cluster key" \
    "(ETIMEOUT|EAUTH).*(no valid \"mac\"|did not prove the cluster key)" \
    aug "127.0.0.1:$rogue_port" --timeout 5 resource add x7 --kind host
kill -9 "$rogue_pid" 2>/dev/null || true

wait "$stalled_pid" || fail "a connection that never finished its handshake stayed open"
log "stalled handshake: closed by the server"

# Nothing above changed anything.
for node in 1 2 3; do
    aug "$(ep "$node")" status -o json >/dev/null || fail "node $node no longer answers"
done
rev_after=$(rev)
[ "$rev_after" = "$rev_before" ] || fail "refusals changed the revision: $rev_before -> $rev_after"
for id in x1 x2 x3 x5 x6 x7; do
    if aug "$ALL" resource get "$id" >/dev/null 2>&1; then
        fail "refused write created resource $id"
    fi
done

# ---- a removed key: refused, and its open connections closed on every node --
pids=()
for node in 1 2 3; do
    as reader "$(ep "$node")" --stale events --follow >"$KEYS/follow$node.out" 2>&1 &
    pids+=($!)
done
wait_until 30 "the followers print events" bash -c \
    "for n in 1 2 3; do grep -q principal.add '$KEYS'/follow\$n.out || exit 1; done"
aug "$ALL" principal remove reader
for i in 0 1 2; do
    node=$((i + 1))
    rc=0
    timeout 30 tail --pid="${pids[$i]}" -f /dev/null || fail "node $node kept the removed reader's connection open"
    wait "${pids[$i]}" || rc=$?
    [ "$rc" -ne 0 ] || fail "the removed reader's follow on node $node exited 0"
    grep -q "EAUTH.*was removed" "$KEYS/follow$node.out" ||
        fail "node $node closed the reader's connection without saying why: $(cat "$KEYS/follow$node.out")"
done
log "the removed reader's connections were closed on every node"
expect_refused "removed key" "EAUTH.*unknown key" as reader "$ALL" resource list
log "PASS"
