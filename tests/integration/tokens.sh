#!/usr/bin/env bash
# tokens: bearer tokens (docs/TOKENS.md).  'augur token create' as the admin
# and as a reader prints one token that every node verifies; a narrower role
# is allowed and a wider one refused; tampered, garbage and expired tokens
# are refused without being quoted; removing the principal revokes its
# tokens on every node, and only its.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3
ALL=$(eps)
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"
"$AUGUR" keygen --out "$KEYS/bob.key" >/dev/null
aug "$ALL" principal add bob --key "$KEYS/bob.key.pub" --role reader >/dev/null
as_bob() { AUGUR_KEY=$KEYS/bob.key "$@"; }
wait_until 30 "every node knows bob" bash -c "
    for n in 1 2 3; do
        AUGUR_KEY='$KEYS/bob.key' '$AUGUR' --endpoints 127.0.0.1:\$((${BASE_PORT} + n)) \
            --stale resource list >/dev/null 2>&1 || exit 1
    done"

# verify_on N TOKEN [ARGS...]: token verify on node N only, as JSON.
verify_on() { local n=$1 t=$2; shift 2; aug "$(ep "$n")" token verify "$t" -o json "$@"; }

# ---- create as the admin: one line, only the token ----------------------------
out=$(aug "$ALL" token create)
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "token create printed more than one line: $out"
ADMIN_TOKEN=$out
[[ "$ADMIN_TOKEN" =~ ^augur1\.[A-Za-z0-9_-]{88}\.[A-Za-z0-9_-]{86}$ ]] ||
    fail "not a token: $ADMIN_TOKEN"
j=$(aug "$ALL" token create --ttl 600 -o json)
json_eq "$j" '.principal' admin
json_eq "$j" '.role' admin
[[ "$(jq -r .token <<<"$j")" == augur1.* ]] || fail "no token in $j"
exp=$(jq -r .expires_at <<<"$j")
now=$(date +%s)
[ "$exp" -gt "$now" ] && [ "$exp" -le $((now + 600)) ] || fail "expires_at $exp is not now + 600"
for n in 1 2 3; do
    v=$(verify_on "$n" "$ADMIN_TOKEN")
    json_eq "$v" '.principal' admin
    json_eq "$v" '.role' admin
    json_eq "$v" '.node' "$n"
done
aug "$(ep 1)" token verify "$ADMIN_TOKEN" | grep -q '^principal: *admin$' ||
    fail "token verify's table does not name the admin: $(aug "$(ep 1)" token verify "$ADMIN_TOKEN")"
log "an admin token verifies on every node"

# ---- a narrower role; as a reader; a wider role refused ----------------------
NARROW=$(aug "$ALL" token create --role reader)
json_eq "$(verify_on 2 "$NARROW")" '.role' reader
BOB_TOKEN=$(as_bob aug "$ALL" token create)
j=$(as_bob aug "$ALL" token create -o json)
json_eq "$j" '.principal' bob
json_eq "$j" '.role' reader
for n in 1 2 3; do
    v=$(verify_on "$n" "$BOB_TOKEN")
    json_eq "$v" '.principal' bob
    json_eq "$v" '.role' reader
done
# bob may verify tokens too (the op is open to every principal).
json_eq "$(as_bob verify_on 3 "$ADMIN_TOKEN")" '.principal' admin
rc=0
err=$(as_bob aug "$ALL" token create --role operator 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 1 ] || fail "a reader's token create --role operator exited $rc: $err"
grep -q "wider than principal bob's role reader" <<<"$err" || fail "no reason: $err"
log "narrower roles pass, a wider one is refused at create"

# ---- bad input: usage errors, tampered, garbage, stdin, expiry ---------------
for bad in "--ttl 0" "--ttl 2592001" "--ttl -5" "--role root"; do
    rc=0
    # shellcheck disable=SC2086
    aug "$ALL" token create $bad >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "token create $bad exited $rc, not 2"
done
# One character changed in the payload (the key) and in the signature.
for pos in 20 150; do
    c=${ADMIN_TOKEN:pos:1}
    [ "$c" = A ] && r=B || r=A
    bad=${ADMIN_TOKEN:0:pos}$r${ADMIN_TOKEN:pos+1}
    rc=0
    err=$(verify_on 1 "$bad" 2>&1) || rc=$?
    [ "$rc" -eq 1 ] || fail "a tampered token (at $pos) exited $rc: $err"
    grep -Eq "EAUTH|EMALFORMED" <<<"$err" || fail "no reason: $err"
    grep -qF "${ADMIN_TOKEN:7:40}" <<<"$err" && fail "the refusal quotes the token: $err"
done
rc=0
err=$(verify_on 1 hello 2>&1) || rc=$?
[ "$rc" -eq 1 ] && grep -q EMALFORMED <<<"$err" || fail "garbage: $rc $err"
rc=0
err=$(verify_on 1 "$(head -c 600 /dev/zero | tr '\0' A)" 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "a 600-byte token exited $rc: $err"
json_eq "$(aug "$(ep 2)" token verify - -o json <<<"$BOB_TOKEN")" '.principal' bob
SHORT=$(aug "$ALL" token create --ttl 1)
wait_until 30 "a 1-second token expires" bash -c "
    '$AUGUR' --endpoints '$(ep 1)' token verify '$SHORT' 2>&1 | grep -q expired"
log "tampered, garbage, oversized and expired tokens are refused"

# ---- remove bob: his tokens are refused everywhere, the admin's are not ------
aug "$ALL" principal remove bob >/dev/null
for n in 1 2 3; do
    wait_until 30 "node $n refuses bob's token" bash -c "
        '$AUGUR' --endpoints '$(ep "$n")' token verify '$BOB_TOKEN' 2>&1 |
            grep -q 'unknown principal'"
    rc=0
    err=$(verify_on "$n" "$BOB_TOKEN" 2>&1) || rc=$?
    [ "$rc" -eq 1 ] && grep -q EAUTH <<<"$err" || fail "node $n: $rc $err"
    json_eq "$(verify_on "$n" "$ADMIN_TOKEN")" '.principal' admin
done
log "removing bob revoked his tokens on every node"
