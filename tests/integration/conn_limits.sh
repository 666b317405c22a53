#!/usr/bin/env bash
# conn_limits: what a stranger or a greedy client can make a node spend is
# bounded (docs/PROTOCOL.md, "Limits"), on the leader's client port and on
# its Raft port alike, and honest clients are served meanwhile:
#   - a 4 MiB HELLO is refused from its header, the connection closed
#     within 1 s, and four at once on each port change no leader;
#   - a HELLO without the mac of the cluster's public key is refused;
#   - idle connections over the per-source cap are closed at once, and a
#     log line says so; the others are closed by the 10 s handshake
#     deadline, on the client port and on the Raft port;
#   - connections holding a partial 4 MiB frame are closed at once;
#   - over the overall cap of unauthenticated connections (from many
#     addresses), the oldest are closed and the CLI still gets in;
#   - the CLI works while all that goes on;
#   - a client that sends requests and reads no answer is no longer read
#     from: the node's resident memory stays within 64 MiB of where it was,
#     measured while the flood is under way.
# Floods come from 127.0.0.2 (all of 127/8 is loopback): the cluster's own
# peers and the CLI use 127.0.0.1, as a real attacker's address differs
# from theirs.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
# ASan's quarantine keeps up to 256 MB of freed memory resident, which would
# hide what the node itself holds: keep it small for the memory figures.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
cluster_start 3
ALL=$(eps)
aug "$ALL" resource add c1 --kind host

L=$(leader)
LEP=$(ep "$L")
LRAFT=$(raft_ep "$L")
LPID=$(node_pid "$L")
LLOG=$CLUSTER_DIR/node$L/augurd.log
term_of() { status_json "$1" | jq -er '.term'; }
TERM0=$(term_of "$L")
log "leader is node $L (client $LEP, raft $LRAFT, pid $LPID), term $TERM0"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# field NAME LINE: the value of NAME=... in augur-wire's summary line.
field() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$2"; }

# 1. A 4 MiB HELLO of tiny map entries: closed within 1 s, on both ports.
for port_ep in "$LEP" "$LRAFT"; do
    out=$("$AUGUR_WIRE" --endpoint "$port_ep" --big-hello 4194304 --within 1000) ||
        fail "a 4 MiB HELLO to $port_ep was not closed within 1 s: $out"
    log "4 MiB HELLO to $port_ep: $out"
done
pids=()
for port_ep in "$LEP" "$LEP" "$LEP" "$LEP" "$LRAFT" "$LRAFT" "$LRAFT" "$LRAFT"; do
    "$AUGUR_WIRE" --endpoint "$port_ep" --big-hello 4194304 --within 1000 \
        >"$CLUSTER_DIR/big-$BASHPID-${#pids[@]}.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "one of eight 4 MiB HELLOs at once was not closed within 1 s: $(cat "$CLUSTER_DIR"/big-*.out)"
done
[ "$(leader_of "$L")" = "$L" ] || fail "eight 4 MiB HELLOs moved the leadership away from node $L"
[ "$(term_of "$L")" = "$TERM0" ] || fail "eight 4 MiB HELLOs changed the term ($TERM0 -> $(term_of "$L"))"

# A HELLO whose mac is keyed by another cluster's public key: CLOSE(EAUTH)
# on the client port, the connection closed on the Raft port, nothing
# signed either way (the unit tests check the "nothing signed").
if out=$("$AUGUR_WIRE" --endpoint "$LEP" --client 7 --op status --mutate nomac 2>&1); then
    fail "a HELLO without a valid mac was answered: $out"
fi
jq -e 'select(.status == 22)' <<<"$(grep '^{' <<<"$out")" >/dev/null ||
    fail "a HELLO without a valid mac did not get CLOSE(EAUTH): $out"
grep -q 'mac' <<<"$out" || fail "the refusal does not say why: $out"
if out=$("$AUGUR_WIRE" --endpoint "$LRAFT" --client 7 --op status --mutate nomac 2>&1); then
    fail "the Raft port answered a HELLO without a valid mac: $out"
fi
grep -q "CHALLENGE" <<<"$out" && fail "the Raft port sent a CHALLENGE to a HELLO without a valid mac: $out"

# 2. Idle connections over the per-source cap: closed at once, logged; the
# rest closed by the handshake deadline.  The CLI works meanwhile.
"$AUGUR_WIRE" --endpoint "$LEP" --idle-conns 40 --source 127.0.0.2 --hold 20000 \
    >"$CLUSTER_DIR/idle-client.out" 2>&1 &
idle_client=$!
"$AUGUR_WIRE" --endpoint "$LRAFT" --idle-conns 40 --source 127.0.0.2 --hold 20000 \
    >"$CLUSTER_DIR/idle-raft.out" 2>&1 &
idle_raft=$!
wait_until 10 "a log line about the client port's per-source cap" \
    grep -q "client port: connection limit: .*per-source cap" "$LLOG"
wait_until 10 "a log line about the Raft port's per-source cap" \
    grep -q "raft port: connection limit: .*per-source cap" "$LLOG"
# The flood holds its connections now: honest clients still get in.
aug "$LEP" status -o json >/dev/null || fail "the CLI failed during a flood of idle connections"
aug "$ALL" resource add c2 --kind host || fail "a write failed during a flood of idle connections"
wait "$idle_client" || fail "augur-wire --idle-conns (client port) failed"
wait "$idle_raft" || fail "augur-wire --idle-conns (raft port) failed"
for which in client raft; do
    out=$(cat "$CLUSTER_DIR/idle-$which.out")
    log "idle connections on the $which port: $out"
    cap=16
    [ "$which" = client ] || cap=8
    [ "$(field opened "$out")" = 40 ] || fail "$which port: expected 40 connections opened: $out"
    [ "$(field closed_at_once "$out")" -ge $((40 - cap)) ] ||
        fail "$which port: connections over the per-source cap ($cap) were not closed at once: $out"
    [ "$(field open "$out")" = 0 ] ||
        fail "$which port: idle connections still open after 20 s: $out"
    [ "$(field last_close_ms "$out")" -le 12500 ] ||
        fail "$which port: the last idle connection closed after more than 10 s (+ 2.5 s of slack): $out"
done
grep -q "raft port: closed [0-9]* connections that had not finished the handshake within 10 s" "$LLOG" ||
    fail "no log line about the Raft port's handshake deadline"

# Idle connections from many addresses, more than the overall cap of the
# client port (256) and each under the per-source cap: the oldest are
# closed to make room, so an honest client still gets in.
pids=()
for i in $(seq 10 29); do
    "$AUGUR_WIRE" --endpoint "$LEP" --idle-conns 15 --source "127.0.0.$i" --hold 2000 \
        >"$CLUSTER_DIR/many-$i.out" 2>&1 &
    pids+=($!)
done
wait_until 20 "a log line about the client port's overall cap" \
    grep -q "client port: connection limit: .*unauthenticated connections, the cap" "$LLOG"
aug "$LEP" status -o json >/dev/null || fail "the CLI failed while 300 idle connections from 20 addresses were open"
for p in "${pids[@]}"; do
    wait "$p" || fail "augur-wire --idle-conns from many addresses failed"
done

# 3. Connections holding a partial 4 MiB frame: refused from the header.
for port_ep in "$LEP" "$LRAFT"; do
    out=$("$AUGUR_WIRE" --endpoint "$port_ep" --partial-frames 8 --source 127.0.0.2 --hold 3000)
    log "partial 4 MiB frames to $port_ep: $out"
    [ "$(field closed_at_once "$out")" = 8 ] ||
        fail "$port_ep kept connections holding a partial 4 MiB frame: $out"
done

# 4. Requests without reading answers: the node stops reading, memory stays
# bounded.  Measured while augur-wire holds the connection.
rss0=$(rss_kb "$LPID")
"$AUGUR_WIRE" --endpoint "$LEP" --flood 150000 --op status --stale --hold 6000 \
    >"$CLUSTER_DIR/flood.out" 2>&1 &
flood=$!
peak=$rss0
while kill -0 "$flood" 2>/dev/null; do
    r=$(rss_kb "$LPID")
    [ "$r" -le "$peak" ] || peak=$r
    sleep 0.2
done
wait "$flood" || fail "augur-wire --flood failed: $(cat "$CLUSTER_DIR/flood.out")"
out=$(cat "$CLUSTER_DIR/flood.out")
log "flood of 150000 unread requests: $out; leader RSS ${rss0} kB before, peak ${peak} kB during"
[ "$(field stalled "$out")" = 1 ] || fail "the node read every request of a client that reads nothing: $out"
[ $((peak - rss0)) -le $((64 * 1024)) ] ||
    fail "a client that reads nothing grew the node by $(((peak - rss0) / 1024)) MiB (bound: 64)"

# The node goes on serving, with the same leader and term.
aug "$LEP" status -o json >/dev/null || fail "node $L no longer answers status"
out=$(aug "$ALL" resource list -o json)
[ "$(list_count "$out")" = 2 ] || fail "expected exactly c1 and c2: $out"
[ "$(term_of "$L")" = "$TERM0" ] || fail "the attacks changed the term ($TERM0 -> $(term_of "$L"))"
