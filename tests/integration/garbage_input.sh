#!/usr/bin/env bash
# garbage_input: random bytes, before or after the handshake, and a frame
# announcing 2 GiB get the connection closed; the node goes on serving and
# nothing changed.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
cluster_start 3
ALL=$(eps)
aug "$ALL" resource add g1 --kind host

# The store revision: that of the last event, read linearizably (the CLI
# prints one event per line).
rev()
{
    aug "$ALL" events -o json | tail -n 1 | jq -er '.rev'
}
rev_before=$(rev)
log "revision before: $rev_before"

for node in 1 2; do
    for seed in 1 2 3; do
        "$AUGUR_WIRE" --endpoint "$(ep "$node")" --garbage 65536 --seed "$seed" ||
            fail "node $node kept a connection open after 64 KiB of garbage (seed $seed)"
        "$AUGUR_WIRE" --endpoint "$(ep "$node")" --garbage 65536 --seed "$seed" --hello ||
            fail "node $node kept a connection open after HELLO + 64 KiB of garbage (seed $seed)"
    done
done

# A frame header announcing 0x7fffffff bytes, then junk: refused from the
# header alone.  bash's /dev/tcp keeps this free of extra tools.
oversized()
{
    local port=$1
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf '\x7f\xff\xff\xff\x01junkjunkjunk' >&3 || true
    # cat ends at end of stream, that is when the server closes.
    if timeout 5 cat <&3 >/dev/null 2>&1; then
        exec 3<&-
        return 0
    fi
    exec 3<&-
    return 1
}
for node in 1 2 3; do
    oversized "$((BASE_PORT + node))" ||
        fail "node $node kept a connection open after an oversized length header"
done

for node in 1 2 3; do
    aug "$(ep "$node")" status -o json >/dev/null || fail "node $node no longer answers status"
done
rev_after=$(rev)
[ "$rev_after" = "$rev_before" ] || fail "garbage changed the revision: $rev_before -> $rev_after"

aug "$ALL" resource add g2 --kind host || fail "a write after the garbage failed"
[ "$(rev)" = "$((rev_before + 1))" ] || fail "one write should add one revision"
out=$(aug "$ALL" resource list -o json)
[ "$(list_count "$out")" = 2 ] || fail "expected exactly g1 and g2: $out"
