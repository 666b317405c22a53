#!/usr/bin/env bash
# tests/lib/layers-check.sh: store/'s layers point one way (docs/ARCHITECTURE.md):
# pack.h (pack.c, codec.c) < db.h (db.c) < ops.h (one file per record
# concept) < snapshot.c, store.c.  A file that includes the header of a layer
# above its own fails the check.  Usage: layers-check.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root/store"
status=0
layer_of()
{
    case $1 in
    pack.c | codec.c | encode.c) echo 0 ;;
    db.c) echo 1 ;;
    snapshot.c | store.c) echo 3 ;;
    *.c) echo 2 ;;
    esac
}
header_layer()
{
    case $1 in
    store/pack.h) echo 0 ;;
    store/db.h) echo 1 ;;
    store/ops.h) echo 2 ;;
    *) echo -1 ;;
    esac
}
for f in *.c; do
    mine=$(layer_of "$f")
    while read -r h; do
        hl=$(header_layer "$h")
        if [ "$hl" -gt "$mine" ]; then
            echo "store/$f (layer $mine) includes $h (layer $hl): layers point down only" >&2
            status=1
        fi
    done < <(sed -n 's/^#include "\(store\/[a-z_]*\.h\)"$/\1/p' "$f")
done
# The operations never reach up into store.c's apply or dispatch.
if grep -n 'store_apply\|dispatch_' $(ls *.c | grep -v -x -e store.c) >/dev/null; then
    grep -n 'store_apply\|dispatch_' $(ls *.c | grep -v -x -e store.c) >&2
    echo "a file below store.c calls apply or dispatch" >&2
    status=1
fi
[ "$status" = 0 ] && echo "store/ layers: pack < db < ops < snapshot, store: ok"
exit "$status"
