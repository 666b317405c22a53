#!/usr/bin/env bash
# sessions_principals: writes apply at most once for the principal that sent
# them.  Two principals with the same client id do not share a session (no
# cached answer read, no floor raised for the other); a sequence reused for
# another command, a sequence 0 and a session never opened are refused; a
# write that a leader accepted from a principal whose removal was committed
# before it does not apply; a keyless endpoint listed first that answers
# CLOSE(EAUTH) in clear does not stop the CLI; and the event log says which
# principal made each write.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
command -v python3 >/dev/null || fail "python3 is needed for the fake endpoint"
# A long election timeout: the leader keeps its term while its followers are
# stopped below.
cluster_start 3 --election-timeout 4000
ALL=$(eps)
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"
for who in alice mallory carol; do
    "$AUGUR" keygen --out "$KEYS/$who.key" >/dev/null
    aug "$ALL" principal add "$who" --key "$KEYS/$who.key.pub" --role operator
done
as() { local who=$1; shift; AUGUR_KEY=$KEYS/$who.key "$@"; }
wait_until 30 "every node knows carol" bash -c "
    for n in 1 2 3; do
        AUGUR_KEY='$KEYS/carol.key' '$AUGUR' --endpoints 127.0.0.1:\$((${BASE_PORT} + n)) \
            --stale resource list >/dev/null 2>&1 || exit 1
    done"

# wire WHO ARGS...: augur-wire as WHO on the leader, one answer per line;
# retried while the leader moves (status 12 or 13, nothing applied).
wire()
{
    local who=$1 lep out deadline=$((SECONDS + 60))
    shift
    while :; do
        lep=$(leader_client_address) || fail "cannot find the leader's client address"
        out=$(as "$who" "$AUGUR_WIRE" --endpoint "$lep" "$@") || fail "augur-wire to $lep failed: $out"
        case "$(head -n1 <<<"$out" | jq -r '.status')" in
            12 | 13) ;;
            *)
                echo "$out"
                return 0
                ;;
        esac
        [ "$SECONDS" -lt "$deadline" ] || fail "the leader keeps moving: $out"
    done
}
exists() { aug "$ALL" resource get "$1" >/dev/null 2>&1; }

# ---- the same client id, two principals --------------------------------------
a1=$(wire alice --client 77 --seq 1 --op resource.add --args-json '{"id":"a1","kind":"host"}')
json_eq "$a1" '.status' 0
m1=$(wire mallory --client 77 --seq 1 --op resource.add --args-json '{"id":"m1","kind":"host"}')
json_eq "$m1" '.status' 0
[ "$m1" != "$a1" ] || fail "mallory read alice's answer: $m1"
exists m1 || fail "mallory's write was answered from alice's session and not applied"
m2=$(wire mallory --client 77 --seq 2 --ack 18446744073709551615 --op resource.add \
    --args-json '{"id":"m2","kind":"host"}')
json_eq "$m2" '.status' 0
a2=$(wire alice --client 77 --seq 2 --ack 2 --op resource.add --args-json '{"id":"a2","kind":"host"}')
json_eq "$a2" '.status' 0
exists a2 || fail "alice's write did not apply after mallory's ack"
again=$(wire alice --client 77 --seq 2 --ack 2 --op resource.add --args-json '{"id":"a2","kind":"host"}')
[ "$again" = "$a2" ] || fail "alice's retry got $again, not $a2"
log "two principals with client id 77 kept their own sessions"

# ---- a reused sequence, sequence 0, no session -------------------------------
out=$(wire alice --client 77 --seq 2 --ack 2 --op resource.add --args-json '{"id":"a3","kind":"host"}')
json_eq "$out" '.status' 1
grep -q "different command" <<<"$out" || fail "no reason: $out"
exists a3 && fail "a reused sequence applied another command"
out=$(wire alice --client 78 --seq 0 --op resource.add --args-json '{"id":"a4","kind":"host"}')
json_eq "$out" '.status' 1
out=$(wire alice --client 79 --seq 1 --no-open --op resource.add --args-json '{"id":"a5","kind":"host"}')
json_eq "$out" '.status' 18
exists a4 || exists a5 && fail "a write without a sequence or a session applied"
log "reused sequence, sequence 0 and unknown session refused"

# ---- a write accepted before its principal's removal applied -----------------
# carol writes once (for the audit trail) and opens session 55.
as carol aug "$ALL" resource add c0 --kind host
wire carol --client 55 --seq 1 --op resource.add --args-json '{"id":"c1","kind":"host"}' >/dev/null
# With both followers stopped nothing commits: the removal goes into the
# leader's log, then carol's next write, which the leader accepts because it
# has not applied the removal.  Then both commit, in that order.
lid=$(leader) || fail "no leader"
lep=$(ep "$lid")
followers=()
for n in 1 2 3; do
    [ "$n" = "$lid" ] || followers+=("$n")
done
for n in "${followers[@]}"; do kill -STOP "$(node_pid "$n")"; done
# (on_exit reads the exit status from $?: keep it.)
trap 'rc=$?; for n in "${followers[@]}"; do kill -CONT "$(node_pid "$n")" 2>/dev/null || true; done; (exit $rc); on_exit' EXIT
aug "$lep" principal remove carol >"$KEYS/remove.out" 2>&1 &
remove_pid=$!
sleep 0.5
as carol "$AUGUR_WIRE" --endpoint "$lep" --client 55 --seq 2 --ack 2 --no-open \
    --op resource.add --args-json '{"id":"c2","kind":"host"}' >"$KEYS/carol.out" 2>&1 &
carol_pid=$!
sleep 0.5
for n in "${followers[@]}"; do kill -CONT "$(node_pid "$n")"; done
wait "$remove_pid" || fail "principal remove failed: $(cat "$KEYS/remove.out")"
wait "$carol_pid" || true
log "carol's write after her removal: $(tr '\n' ' ' <"$KEYS/carol.out")"
wait_until 30 "the removal is everywhere" bash -c "
    ! AUGUR_KEY='$KEYS/carol.key' '$AUGUR' --endpoints '$ALL' --stale resource list >/dev/null 2>&1"
exists c2 && fail "a write of a removed principal applied"
exists c1 || fail "carol's write before her removal is gone"
log "a removed principal's write accepted by the leader did not apply"

# ---- the audit trail ---------------------------------------------------------
events=$(aug "$ALL" events -o json)
who() { jq -r --arg id "$1" 'select(.data.id == $id) | .principal' <<<"$events" | head -n1; }
[ "$(who c0)" = carol ] || fail "the event of c0 names $(who c0), not carol"
[ "$(who m1)" = mallory ] || fail "the event of m1 names $(who m1), not mallory"
[ "$(jq -r 'select(.op == "principal.remove") | .principal' <<<"$events" | tail -n1)" = admin ] ||
    fail "the removal's event does not name the admin: $events"
table=$(aug "$ALL" events)
grep -Eq "resource\.add +carol " <<<"$table" || fail "augur events does not show the principal: $table"
log "events name who made each write"

# ---- a keyless endpoint that refuses in clear --------------------------------
fake_port=$((BASE_PORT + 9))
python3 - "$fake_port" >"$KEYS/fake.log" 2>&1 <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
text = b"pwned: give up now"
body = b"\x82\xa6status\x16\xa5error" + bytes([0xa0 + len(text)]) + text
frame = (len(body) + 1).to_bytes(4, "big") + b"\x05" + body
while True:
    conn, _ = srv.accept()
    try:
        conn.recv(4096)
        conn.sendall(frame)
    finally:
        conn.close()
PY
fake_pid=$!
trap 'rc=$?; kill "$fake_pid" 2>/dev/null || true; (exit $rc); on_exit' EXIT
wait_until 10 "the fake endpoint listens" bash -c "exec 3<>/dev/tcp/127.0.0.1/$fake_port"
for i in 1 2 3; do
    out=$(aug "127.0.0.1:$fake_port,$ALL" resource add "f$i" --kind host 2>&1) ||
        fail "the CLI gave up on a clear CLOSE from the fake endpoint: $out"
    grep -q pwned <<<"$out" && fail "the CLI printed the fake endpoint's text: $out"
done
exists f3 || fail "the writes through the list with a fake endpoint did not apply"
log "a clear CLOSE(EAUTH) from a keyless endpoint did not stop the CLI"
