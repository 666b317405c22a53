#!/usr/bin/env bash
# serving_gate: a node restarted from an older snapshot serves no client
# (stale reads included) before it has caught up with a leader, so a
# principal removed meanwhile reads nothing there; once caught up, the
# removed key is refused and the node serves what the cluster committed.
# A principal added meanwhile, refused by that node (listed first), is not
# stopped by the refusal: the CLI tries the other nodes.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

# Snapshots every few entries: the restarted node's state comes from its
# last snapshot, taken while dave was a principal.
cluster_start 3 --snapshot-threshold 4 --snapshot-trailing 64
ALL=$(eps)
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"
for who in dave erin; do
    "$AUGUR" keygen --out "$KEYS/$who.key" >/dev/null
done
aug "$ALL" principal add dave --key "$KEYS/dave.key.pub" --role reader
for i in 1 2 3 4 5 6 7 8; do
    aug "$ALL" resource add "r$i" --kind host
done
# Every node has it all (none will need a snapshot sent to it).
for n in 1 2 3; do
    wait_until 30 "node $n has r8" bash -c \
        "'$AUGUR' --endpoints '$(ep "$n")' --timeout 3 --stale resource get r8 >/dev/null 2>&1"
done
lid=$(leader) || fail "no leader"
f=1
[ "$lid" != 1 ] || f=2
others=()
for n in 1 2 3; do
    [ "$n" = "$f" ] || others+=("$n")
done
dave_reads() { AUGUR_KEY=$KEYS/dave.key "$AUGUR" --endpoints "$(ep "$f")" --timeout 3 --stale resource list -o json; }
wait_until 30 "node $f serves dave" dave_reads

# Node f goes down; dave is removed and more is written without it.
lc kill "$f" >/dev/null
aug "$(eps "${others[@]}")" principal remove dave
aug "$(eps "${others[@]}")" principal add erin --key "$KEYS/erin.key.pub" --role operator
aug "$(eps "${others[@]}")" resource add late --kind host
# With the rest of the cluster stopped, node f comes back on its old
# snapshot and cannot hear from a leader.
for n in "${others[@]}"; do kill -STOP "$(node_pid "$n")"; done
# (on_exit reads the exit status from $?: keep it.)
trap 'rc=$?; for n in "${others[@]}"; do kill -CONT "$(node_pid "$n")" 2>/dev/null || true; done; (exit $rc); on_exit' EXIT
lc restart "$f" >/dev/null || fail "node $f did not restart"
out=$(aug "$(ep "$f")" status -o json) || fail "node $f does not answer status"
rc=0
out=$(dave_reads 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "node $f served a removed principal before catching up: $out"
grep -q "catching up" <<<"$out" || fail "node $f refused without saying why: $out"
rc=0
out=$("$AUGUR" --endpoints "$(ep "$f")" --timeout 3 --stale resource list -o json 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "node $f served a stale read before catching up: $out"
log "node $f serves nothing before it catches up: $(head -c 200 <<<"$out")"

# erin is not a principal in node f's state: its sealed refusal must not
# make the CLI give up while the other nodes (stopped for now) may let her
# in.
AUGUR_KEY=$KEYS/erin.key "$AUGUR" --endpoints "$(eps "$f" "${others[@]}")" --timeout 30 \
    resource add erin1 --kind host >"$KEYS/erin.out" 2>&1 &
erin_pid=$!
sleep 2
for n in "${others[@]}"; do kill -CONT "$(node_pid "$n")"; done
wait "$erin_pid" || fail "erin's CLI gave up: $(cat "$KEYS/erin.out")"
log "erin, refused by node $f, got in through another node"
wait_until 30 "node $f serves the late write" bash -c \
    "'$AUGUR' --endpoints '$(ep "$f")' --timeout 3 --stale resource get late >/dev/null 2>&1"
rc=0
out=$(dave_reads 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "node $f still serves the removed principal: $out"
grep -q "EAUTH" <<<"$out" || fail "dave was refused without EAUTH: $out"
log "caught up: the removed key is refused, the late write is there"
