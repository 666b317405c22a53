#!/usr/bin/env bash
# peer_refusals: the Raft port talks only to nodes whose key the cluster key
# certified.  Garbage and a client's handshake (even with an admin's key: it
# has no node certificate) are cut off; a node of another cluster key can
# neither inject Raft messages (its votes never reach the members: the term
# does not move) nor join (member add fails, it never receives an entry);
# the cluster goes on serving.  (node_identity.sh: a stolen node key used
# under another id, and revoked node keys.)
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
cluster_start 3
ALL=$(eps)
aug "$ALL" resource add p1 --kind host
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"

for node in 1 2 3; do
    "$AUGUR_WIRE" --endpoint "$(raft_ep "$node")" --garbage 65536 --seed "$node" ||
        fail "node $node's Raft port kept a connection open after garbage"
done

# The client handshake on a Raft port: the server proves its certified node
# key, but an admin's key comes with no node certificate.
if aug "$(raft_ep 1)" --timeout 3 status >/dev/null 2>&1; then
    fail "a client key was admitted on the Raft port"
fi
wait_until 10 "node 1 logs the refusal" \
    grep -q "peer connection refused: auth: .*node certificate" "$CLUSTER_DIR/node1/augurd.log"

term_of() { status_json "$1" | jq -r '.term'; }
lead=$(leader)
term_before=$(term_of "$lead")

# A rogue node with its own cluster key, which believes node 1 is its peer:
# it campaigns (without pre-vote, so that its term moves), and its
# RequestVotes must never reach node 1.
"$AUGUR" keygen --out "$KEYS/rogue.key" >/dev/null
rogue_raft=127.0.0.1:$((BASE_PORT + 104))
rogue_client=127.0.0.1:$((BASE_PORT + 4))
"$AUGURD" --id 4 --data-dir "$CLUSTER_DIR/rogue" --raft-address "$rogue_raft" \
    --client-address "$rogue_client" --cluster-key "$KEYS/rogue.key" \
    --admin-key "$AUGUR_KEY.pub" --election-timeout 300 --pre-vote off \
    --bootstrap "4=$rogue_raft,1=$(raft_ep 1)" >"$KEYS/rogue.log" 2>&1 &
rogue_pid=$!
# (on_exit reads the exit status: keep it, or a failure would pass.)
trap 'st=$?; set +e; kill -9 $rogue_pid 2>/dev/null; (exit $st); on_exit' EXIT
rogue() { AUGUR_CLUSTER_KEY=$KEYS/rogue.key.pub aug "$rogue_client" "$@"; }
wait_until 30 "the rogue node serves" rogue status
# Node 1 proves the real cluster key, which the rogue cannot check against
# its own: no Raft message goes either way.
# The rogue's HELLO lacks the mac of the real cluster key: node 1 refuses
# it before it signs anything, and the rogue sees node 1 hang up.
wait_until 30 "the rogue fails to reach node 1" \
    grep -Eq "did not prove the cluster key|hung up during the handshake" "$KEYS/rogue.log"
wait_until 30 "node 1 logs the refused HELLO" \
    grep -q "HELLO was refused: hello: no valid" "$CLUSTER_DIR/node1/augurd.log"
rogue_term=$(rogue status -o json | jq -r '.term')
log "rogue campaigns in term $rogue_term"
wait_until 30 "the rogue campaigns past term 3" \
    bash -c "[ \$(AUGUR_CLUSTER_KEY='$KEYS/rogue.key.pub' '$AUGUR' --endpoints '$rogue_client' status -o json | jq -r .term) -gt 3 ]"
term_after=$(term_of "$(leader)")
[ "$term_after" = "$term_before" ] ||
    fail "the rogue's votes moved the cluster's term: $term_before -> $term_after"

# Joining: the leader cannot reach it (it cannot prove the cluster key), so
# the new member never catches up and never receives an entry.
if aug "$ALL" --timeout 15 member add 4 --address "$rogue_raft" \
    --client-address "$rogue_client" >/dev/null 2>&1; then
    fail "member add of a node without the cluster key succeeded"
fi
grep -Eq "did not prove the cluster key|hung up during the handshake" "$CLUSTER_DIR"/node*/augurd.log ||
    fail "no member logged the rogue's failed proof"
if rogue resource get p1 --stale >/dev/null 2>&1; then
    fail "the rogue node received the cluster's data"
fi
aug "$ALL" member remove 4 >/dev/null 2>&1 || true
kill -9 "$rogue_pid" 2>/dev/null || true

aug "$ALL" resource add p2 --kind host || fail "the cluster stopped serving writes"
for node in 1 2 3; do
    wait_until 30 "node $node applies p2" aug "$(ep "$node")" resource get p2 --stale
done
log "PASS"
