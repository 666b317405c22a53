#!/usr/bin/env bash
# http_api: the /v1 HTTP/JSON API and its event stream (docs/HTTP.md).  On a
# 3-node cluster with the demo fleet: a request without a token is 401, a
# reader's write 403, an unknown field or malformed JSON 400 and changes
# nothing, a stale epoch 409, an unknown resource 404; writes and
# linearizable reads sent to a follower are forwarded to the leader and
# answered there; POST /v1/predict_failure answers p_fail with reasons;
# POST /v1/orchestrate_migration answers 202 with a workflow that
# GET /v1/workflows/{id} shows ending done; GET /v1/events delivers a write
# made elsewhere as one SSE event per revision, and a reconnect with
# Last-Event-ID resumes with no gap and no duplicate; /metrics needs a
# reader's token without --metrics-public.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

for tool in curl jq python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$TEST_NAME: $tool not installed: skipped" >&2
        exit 77
    fi
done
[ -n "${AUGUR_DEMO_ACTUATOR:-}" ] || AUGUR_DEMO_ACTUATOR=$(dirname "$AUGURD")/../demo/augur-demo-actuator
[ -x "$AUGUR_DEMO_ACTUATOR" ] || {
    echo "$TEST_NAME: no demo actuator: skipped" >&2
    exit 77
}

cluster_start 3
ALL=$(eps)
lc fleet --hosts 3 --workloads 2 >"$CLUSTER_DIR/fleet.out" 2>&1 ||
    fail "local-cluster fleet: $(tail -5 "$CLUSTER_DIR/fleet.out")"

url() { echo "http://127.0.0.1:$((BASE_PORT + 200 + $1))$2"; }
TOKEN=$(aug "$ALL" token create)
AUTH="Authorization: Bearer $TOKEN"
# call N METHOD PATH [BODY]: the status; the body in $CLUSTER_DIR/body.
call() {
    local n=$1 method=$2 path=$3 body=${4:-}
    local args=(-s -o "$CLUSTER_DIR/body" -w '%{http_code}' --max-time 30 -X "$method" -H "$AUTH")
    [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
    curl "${args[@]}" "$(url "$n" "$path")" || true
}
body() { cat "$CLUSTER_DIR/body"; }
err_code() { jq -r .error.code "$CLUSTER_DIR/body"; }
expect() { # expect STATUS CODE|- DESCRIPTION: after a call
    local got=$1 want=$2 code=$3 what=$4
    [ "$got" = "$want" ] || fail "$what: status $got, not $want: $(body)"
    [ "$code" = - ] || [ "$(err_code)" = "$code" ] || fail "$what: code $(err_code), not $code: $(body)"
}

L=$(leader)
F=1
[ "$F" != "$L" ] || F=2
log "leader $L, follower $F"

# ---- authentication -------------------------------------------------------------
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' -D "$CLUSTER_DIR/headers" "$(url "$F" /v1/resources)")
expect "$s" 401 EAUTH "no token"
grep -qi '^www-authenticate: Bearer' "$CLUSTER_DIR/headers" || fail "401 without WWW-Authenticate: Bearer"
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' -H "Authorization: Bearer augur1.nope.nope" "$(url "$F" /v1/resources)")
expect "$s" 401 EAUTH "a forged token"
grep -q nope "$CLUSTER_DIR/body" && fail "the error quotes the token: $(body)"
KEYS=$CLUSTER_DIR/test-keys
mkdir -p "$KEYS"
"$AUGUR" keygen --out "$KEYS/rita.key" >/dev/null
aug "$ALL" principal add rita --key "$KEYS/rita.key.pub" --role reader >/dev/null
wait_until 30 "every node knows rita" bash -c "
    for n in 1 2 3; do
        AUGUR_KEY='$KEYS/rita.key' '$AUGUR' --endpoints 127.0.0.1:\$((${BASE_PORT} + n)) \
            --stale resource list >/dev/null 2>&1 || exit 1
    done"
READER=$(AUGUR_KEY=$KEYS/rita.key aug "$ALL" token create)
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $READER" \
    -X POST --data-binary '{"id":"r-host","kind":"host"}' "$(url "$F" /v1/resources)")
expect "$s" 403 EPERM "a reader's write"
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $READER" "$(url "$F" /v1/resources)")
expect "$s" 200 - "a reader's read"
[ "$(aug "$ALL" resource get r-host -o json 2>/dev/null | jq -r .id)" != r-host ] || fail "the refused write applied"
log "401 without a token or with a forged one, 403 for a reader's write, 200 for its read"

# ---- writes and reads on a follower, bad input ------------------------------------
expect "$(call "$F" POST /v1/resources '{"id":"host-x","kind":"host","labels":{"rack":"r9"}}')" 200 - "resource add on follower $F"
json_eq "$(body)" .id host-x
expect "$(call "$F" GET /v1/resources/host-x)" 200 - "resource get on follower $F"
json_eq "$(body)" .labels.rack r9
expect "$(call "$F" POST /v1/resources '{"id":"host-y","kind":"host","colour":"red"}')" 400 EINVAL "an unknown field"
expect "$(call "$F" POST /v1/resources '{"id":"host-y",')" 400 EINVAL "malformed JSON"
expect "$(call "$F" POST /v1/resources '{"id":7,"kind":"host"}')" 400 EINVAL "a wrong type"
expect "$(call "$F" POST /v1/resources '[1,2]')" 400 EINVAL "an array body"
expect "$(call "$F" GET /v1/resources/host-y)" 404 ENOTFOUND "host-y after refused writes"
expect "$(call "$F" GET '/v1/resources?limit=x')" 400 EINVAL "a bad limit"
expect "$(call "$F" GET '/v1/resources?colour=red')" 400 EINVAL "an unknown query argument"
expect "$(call "$F" PUT /v1/resources)" 405 EINVAL "PUT"
expect "$(call "$F" GET /v1/nope)" 404 ENOTFOUND "an unknown endpoint"
expect "$(call "$F" GET '/v1/resources?limit=1')" 200 - "a page of one"
[ "$(jq '.items | length' "$CLUSTER_DIR/body")" = 1 ] || fail "limit=1 gave $(body)"
[ "$(jq -r .next "$CLUSTER_DIR/body")" != null ] || fail "a page of one with no next: $(body)"
expect "$(call "$F" GET '/v1/resources?stale=true')" 200 - "a stale read"
log "follower $F forwards writes and reads; bad input is 400/404/405 and changes nothing"

# ---- claims: a stale epoch is a conflict ------------------------------------------
expect "$(call "$F" GET /v1/claims/web-1)" 200 - "claim get"
EPOCH=$(jq -r .epoch "$CLUSTER_DIR/body")
HOST=$(jq -r .host "$CLUSTER_DIR/body")
OTHER=$(aug "$ALL" resource list -o json | jq -r --arg h "$HOST" \
    '[.[] | select(.kind == "host" and .id != $h and (.id | startswith("host-r")))][0].id')
expect "$(call "$F" POST /v1/claims/web-1/transfer "{\"to\":\"$OTHER\",\"epoch\":$((EPOCH + 7))}")" 409 ECONFLICT "a transfer at a stale epoch"
expect "$(call "$F" POST /v1/claims/web-1/transfer "{\"to\":\"$OTHER\"}")" 400 EINVAL "a transfer without its epoch"
log "a transfer at the wrong epoch is 409 and one without an epoch 400"

# ---- predict_failure ---------------------------------------------------------------
aug "$ALL" score set "$HOST" 0.42 >/dev/null
expect "$(call "$F" POST /v1/predict_failure "{\"resource\":\"$HOST\"}")" 200 - "predict_failure"
jq -e '.p_fail? // .p | type == "number"' "$CLUSTER_DIR/body" >/dev/null || fail "no p_fail in $(body)"
jq -e 'has("reasons")' "$CLUSTER_DIR/body" >/dev/null || fail "no reasons in $(body)"
want=$(aug "$ALL" predict "$HOST" -o json | jq -S 'del(.at_ms, .age_ms, .t_ms)')
got=$(jq -S 'del(.at_ms, .age_ms, .t_ms)' "$CLUSTER_DIR/body")
[ "$(jq -S 'keys' <<<"$want")" = "$(jq -S keys <<<"$got")" ] ||
    fail "predict_failure's fields are not augur predict's: $got vs $want"
expect "$(call "$F" POST /v1/predict_failure '{"resource":"no-such"}')" 404 ENOTFOUND "predict an unknown resource"
expect "$(call "$F" POST /v1/predict_failure '{}')" 400 EINVAL "predict without a resource"
log "predict_failure answers p_fail and reasons, like augur predict"

# ---- events: live, then resumed --------------------------------------------------
REV0=$(status_json "$F" | jq -r .rev)
curl -sN --max-time 60 -H "$AUTH" "$(url "$F" /v1/events)" >"$CLUSTER_DIR/sse1" &
SSE=$!
wait_until 10 "the stream opened" grep -q '^: augur events' "$CLUSTER_DIR/sse1"
aug "$(ep "$L")" resource add sse-host --kind host >/dev/null
wait_until 10 "the write reached the stream of follower $F" grep -q '"id":"sse-host"' "$CLUSTER_DIR/sse1"
kill "$SSE" 2>/dev/null || true
wait "$SSE" 2>/dev/null || true
LAST=$(grep '^id: ' "$CLUSTER_DIR/sse1" | tail -1 | cut -d' ' -f2)
[ "$LAST" -gt "$REV0" ] || fail "the last id $LAST is not past $REV0"
ev=$(grep -A2 "^id: $LAST\$" "$CLUSTER_DIR/sse1")
grep -q '^event: resource.add$' <<<"$ev" || fail "the event's kind: $ev"
jq -e --argjson r "$LAST" '.rev == $r' <<<"$(grep '^data: ' <<<"$ev" | cut -c7-)" >/dev/null ||
    fail "data.rev is not the id: $ev"
for i in 1 2 3; do aug "$ALL" resource add "gap-$i" --kind host >/dev/null; done
curl -sN --max-time 4 -H "$AUTH" -H "Last-Event-ID: $LAST" "$(url "$L" /v1/events)" >"$CLUSTER_DIR/sse2" || true
ids=$(grep '^id: ' "$CLUSTER_DIR/sse2" | cut -d' ' -f2 | tr '\n' ' ')
first=$(cut -d' ' -f1 <<<"$ids")
[ "$first" = $((LAST + 1)) ] || fail "resumed at $first, not $((LAST + 1)): $ids"
python3 -c 'import sys; v=[int(x) for x in sys.argv[1].split()]; sys.exit(0 if v == list(range(v[0], v[0]+len(v))) else 1)' "$ids" ||
    fail "the resumed ids have a gap or a duplicate: $ids"
for i in 1 2 3; do grep -q "\"id\":\"gap-$i\"" "$CLUSTER_DIR/sse2" || fail "gap-$i missing after the resume"; done
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' --max-time 5 "$(url "$F" /v1/events)")
expect "$s" 401 EAUTH "events without a token"
log "events: a write on leader $L reached follower $F's stream; Last-Event-ID $LAST resumed at $((LAST + 1)) with no gap"

# ---- orchestrate_migration ------------------------------------------------------
expect "$(call "$F" POST /v1/orchestrate_migration '{"workload":"web-2","strategy":"bogus"}')" 400 EINVAL "a bad strategy"
expect "$(call "$F" POST /v1/orchestrate_migration '{"workload":"web-2"}')" 202 - "orchestrate_migration"
WF=$(jq -r .id "$CLUSTER_DIR/body")
[ "$WF" -gt 0 ] 2>/dev/null || fail "no workflow id in $(body)"
json_eq "$(body)" .workload web-2
wait_until 90 "workflow $WF ends" bash -c "
    s=\$(curl -s -H '$AUTH' '$(url "$F" "/v1/workflows/$WF")' | jq -r .state)
    case \$s in done|failed|rolled_back|cancelled) exit 0;; *) exit 1;; esac"
expect "$(call "$F" GET "/v1/workflows/$WF")" 200 - "workflow get"
json_eq "$(body)" .state done
expect "$(call "$F" GET '/v1/workflows?state=done')" 200 - "workflow list"
jq -e --argjson id "$WF" '[.items[].id] | index($id) != null' "$CLUSTER_DIR/body" >/dev/null ||
    fail "workflow $WF is not in the done list: $(body)"
expect "$(call "$F" POST /v1/workflows/999999/cancel)" 404 ENOTFOUND "cancel an unknown workflow"
log "orchestrate_migration: workflow $WF on web-2 ended done"

# ---- the other reads -------------------------------------------------------------
for p in /v1/status /v1/whoami /v1/workloads /v1/claims /v1/cohorts /v1/shadows /v1/edges /v1/policy /v1/nodes /v1/members; do
    expect "$(call "$F" GET "$p")" 200 - "GET $p"
done
json_eq "$(call "$F" GET /v1/whoami >/dev/null; body)" .principal admin
log "every list and status read answers 200"

# ---- the leader killed under writes ------------------------------------------------
# Writes keep going to follower F while the leader is killed: each waits for
# the next leader (or is sent again under the same sequence) and answers
# 200; none is lost, and none applies twice (a second resource.add would
# answer 409 EEXIST).
(
    for i in $(seq 1 30); do
        s=$(curl -s -o "$CLUSTER_DIR/kw-$i" -w '%{http_code}' --max-time 30 -X POST -H "$AUTH" \
            --data-binary "{\"id\":\"kill-$i\",\"kind\":\"host\"}" "$(url "$F" /v1/resources)" || true)
        echo "$i $s" >>"$CLUSTER_DIR/kw.status"
    done
) &
WRITER=$!
wait_until 30 "a few writes went through" bash -c "[ \$(wc -l <'$CLUSTER_DIR/kw.status' 2>/dev/null || echo 0) -ge 5 ]"
lc kill "$L" >/dev/null
wait "$WRITER"
bad=$(awk '$2 != 200' "$CLUSTER_DIR/kw.status")
[ -z "$bad" ] || fail "writes through a leader kill did not all answer 200: $bad ($(for i in $(awk '$2 != 200 {print $1}' "$CLUSTER_DIR/kw.status"); do cat "$CLUSTER_DIR/kw-$i"; done))"
for i in $(seq 1 30); do
    expect "$(call "$F" GET "/v1/resources/kill-$i")" 200 - "kill-$i after the leader kill"
done
lc start >/dev/null 2>&1 || true
log "30 writes through follower $F while leader $L was killed: all 200, all applied once"

# ---- /metrics with a token -------------------------------------------------------
L=$(leader)
F=1
[ "$F" != "$L" ] || F=2
lc stop "$F" >/dev/null
AUGUR_METRICS_PUBLIC=0 lc start >/dev/null 2>&1 || true
wait_until 60 "node $F serves HTTP again" bash -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$(url "$F" /readyz)')\" = 200 ]"
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' "$(url "$F" /metrics)")
expect "$s" 401 EAUTH "/metrics without a token (no --metrics-public)"
s=$(curl -s -o "$CLUSTER_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $READER" "$(url "$F" /metrics)")
expect "$s" 200 - "/metrics with a reader's token"
grep -q '^augur_raft_term ' "$CLUSTER_DIR/body" || fail "no augur_raft_term in /metrics"
log "/metrics without --metrics-public: 401 without a token, 200 with a reader's"
log "ok"
