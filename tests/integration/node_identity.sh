#!/usr/bin/env bash
# node_identity: every node proves its own key, certified by the cluster key,
# and a node key can be revoked without rekeying the others.
#  - the nodes of deploy/local-cluster hold their own key, their certificate
#    and the cluster's PUBLIC key only, and serve clients and peers;
#  - a stolen node key shown under another node id is refused, by the
#    accepting side (it claims another id than its certificate's) and by the
#    connecting side (libraft dialled another id);
#  - after 'augur node revoke', every node drops the revoked key's links at
#    once and refuses new ones (also after a restart of the revoked node),
#    the others keep committing, and the node rejoins with a new key.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
cluster_start 3
ALL=$(eps)
KEYS=$CLUSTER_DIR/keys
STOLEN=$CLUSTER_DIR/stolen
mkdir -p "$STOLEN"
chmod 700 "$STOLEN"

# ---- nodes hold no cluster secret --------------------------------------------
for node in 1 2 3; do
    cmd=$(tr '\0' ' ' <"/proc/$(node_pid "$node")/cmdline")
    [[ $cmd == *"--node-key $KEYS/node$node.key "* ]] ||
        fail "node $node was not started with its own key: $cmd"
    [[ $cmd == *"--cluster-key $KEYS/cluster.key.pub "* ]] ||
        fail "node $node was not started with the cluster's public key only: $cmd"
done
if grep -q "no --node-key" "$CLUSTER_DIR"/node*/augurd.log; then
    fail "a node runs on the cluster's private key"
fi
aug "$ALL" resource add p1 --kind host
for node in 1 2 3; do
    wait_until 30 "node $node applies p1" aug "$(ep "$node")" resource get p1 --stale
done

# A node refuses to start on a certificate for another id (node 1's key and
# certificate, as node 4).
rc=0
"$AUGURD" --id 4 --data-dir "$CLUSTER_DIR/wrong-id" --raft-address 127.0.0.1:1 \
    --client-address 127.0.0.1:2 --node-key "$KEYS/node1.key" \
    --node-cert "$KEYS/node1.cert" --cluster-key "$KEYS/cluster.key.pub" \
    >"$STOLEN/wrong-id.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "certificate is for node 1, not node 4" "$STOLEN/wrong-id.log" ||
    fail "augurd started as node 4 on node 1's certificate: $(cat "$STOLEN/wrong-id.log")"

lead=$(leader)
victim=1
while [ "$victim" = "$lead" ]; do victim=$((victim + 1)); done
others=()
for node in 1 2 3; do [ "$node" = "$victim" ] || others+=("$node"); done
log "leader $lead; node $victim's key is the one stolen, then revoked"
cp "$KEYS/node$victim.key" "$KEYS/node$victim.key.pub" "$KEYS/node$victim.cert" "$STOLEN/"

# peer_as KEYFILE CERT NODE ID: the node handshake on NODE's Raft port as ID.
peer_as()
{
    AUGUR_KEY=$1 "$AUGUR_WIRE" --endpoint "$(raft_ep "$3")" --peer-as "$4" \
        --node-cert "$2"
}

# ---- a stolen key under another id ------------------------------------------
# Control: the stolen key as its own node passes (only revocation stops that).
peer_as "$STOLEN/node$victim.key" "$STOLEN/node$victim.cert" "$lead" "$victim" ||
    fail "node $victim's own identity was refused before any revocation"
# As another node (the leader itself, or 9): refused, and said so.
for as in "$lead" 9; do
    if peer_as "$STOLEN/node$victim.key" "$STOLEN/node$victim.cert" "$lead" "$as"; then
        fail "node $victim's key was accepted as node $as"
    fi
    wait_until 10 "node $lead logs the refusal of node $victim's key as $as" \
        grep -q "it claims node $as but its certificate is for node $victim" \
        "$CLUSTER_DIR/node$lead/augurd.log"
done
# The connecting side: a node started with the stolen key (as the node its
# certificate names) at another address, which the cluster is asked to add
# as node 4: the leader dials node 4 and meets node $victim's certificate.
rogue_raft=127.0.0.1:$((BASE_PORT + 104))
rogue_client=127.0.0.1:$((BASE_PORT + 4))
"$AUGURD" --id "$victim" --data-dir "$CLUSTER_DIR/rogue" --raft-address "$rogue_raft" \
    --client-address "$rogue_client" --node-key "$STOLEN/node$victim.key" \
    --node-cert "$STOLEN/node$victim.cert" --cluster-key "$KEYS/cluster.key.pub" \
    >"$STOLEN/rogue.log" 2>&1 &
rogue_pid=$!
# (on_exit reads the exit status: keep it.)
trap 'st=$?; set +e; kill -9 $rogue_pid 2>/dev/null; (exit $st); on_exit' EXIT
wait_until 30 "the rogue listens" grep -q "serving clients" "$STOLEN/rogue.log"
if aug "$ALL" --timeout 10 member add 4 --address "$rogue_raft" \
    --client-address "$rogue_client" >/dev/null 2>&1; then
    fail "member add of a node showing node $victim's certificate succeeded"
fi
grep -q "expected node 4, its certificate is for node $victim" "$CLUSTER_DIR"/node*/augurd.log ||
    fail "no member logged the rogue's certificate for the wrong node"
aug "$ALL" member remove 4 >/dev/null 2>&1 || true
kill -9 "$rogue_pid" 2>/dev/null || true

# ---- revocation ---------------------------------------------------------------
out=$(aug "$ALL" node revoke "$victim" --key "$KEYS/node$victim.cert" -o json)
log "revoked: $out"
[ "$(aug "$ALL" node revoked -o json | jq -r --argjson v "$victim" '[.[] | select(.id == $v)] | length')" = 1 ] ||
    fail "node revoked does not list node $victim"
# member list reads the node that answers it, which may apply the
# revocation a moment after the leader; never the revoked node, which may
# never apply it (cut off as the entry commits) and which the first of
# $ALL is when it is node 1.
revoked_keys_of()
{
    aug "$(eps "${others[@]}")" member list -o json |
        jq -r --argjson v "$victim" '[.. | objects | select(.id? == $v and has("revoked_keys")) | .revoked_keys] | first'
}
one_revoked_key() { [ "$(revoked_keys_of)" = 1 ]; }
wait_until 30 "member list counts 1 revoked key for node $victim" one_revoked_key
wait_until 10 "the leader drops node $victim's links" \
    grep -q "closing the link to node $victim: its key was revoked" "$CLUSTER_DIR/node$lead/augurd.log"
wait_until 30 "the leader refuses node $victim again" \
    grep -q "the key of node $victim was revoked" "$CLUSTER_DIR/node$lead/augurd.log"
aug "$(eps "${others[@]}")" resource add p2 --kind host ||
    fail "the cluster stopped committing after the revocation"
for node in "${others[@]}"; do
    wait_until 30 "node $node applies p2" aug "$(ep "$node")" resource get p2 --stale
done
if aug "$(ep "$victim")" resource get p2 --stale >/dev/null 2>&1; then
    fail "the revoked node received an entry after its revocation"
fi
if peer_as "$STOLEN/node$victim.key" "$STOLEN/node$victim.cert" "$lead" "$victim"; then
    fail "the revoked key passed a handshake"
fi

# A restart does not help it: its links stay refused, it gets nothing.
before=$(grep -c "the key of node $victim was revoked" "$CLUSTER_DIR/node$lead/augurd.log" || true)
lc restart "$victim" >/dev/null
wait_until 30 "the leader refuses the restarted node $victim" bash -c \
    "[ \$(grep -c 'the key of node $victim was revoked' '$CLUSTER_DIR/node$lead/augurd.log') -gt $before ]"
aug "$(eps "${others[@]}")" resource add p3 --kind host
wait_until 30 "node ${others[0]} applies p3" aug "$(ep "${others[0]}")" resource get p3 --stale
if aug "$(ep "$victim")" resource get p3 --stale >/dev/null 2>&1; then
    fail "the revoked node received an entry after its restart"
fi

# ---- rotation: a new key for the node, the others untouched --------------------
lc stop "$victim" >/dev/null
rm -f "$KEYS/node$victim.key" "$KEYS/node$victim.key.pub" "$KEYS/node$victim.cert"
"$AUGUR" keygen --out "$KEYS/node$victim.key" >/dev/null
"$AUGUR" node certify --cluster-key "$KEYS/cluster.key" --id "$victim" \
    --key "$KEYS/node$victim.key.pub" --out "$KEYS/node$victim.cert" --days 3 >/dev/null
lc restart "$victim" >/dev/null
wait_until 60 "node $victim rejoins with its new key" \
    aug "$(ep "$victim")" resource get p3 --stale
grep -q "the certificate of node $victim expires in" "$CLUSTER_DIR/node$victim/augurd.log" ||
    fail "node $victim did not warn that its certificate expires within a week"
aug "$ALL" resource add p4 --kind host
for node in 1 2 3; do
    wait_until 30 "node $node applies p4" aug "$(ep "$node")" resource get p4 --stale
done
log "PASS"
