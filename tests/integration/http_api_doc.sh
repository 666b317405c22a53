#!/usr/bin/env bash
# http_api_doc: docs/openapi.json against a running cluster (docs/HTTP.md,
# "OpenAPI").  The document passes tests/lib/openapi-check.py (it covers
# every route of node/http_v1.c and nothing else); every node serves it at
# GET /v1/openapi.json, without a token, byte for byte; every documented
# /v1 operation exists (without a token: 401, not 404), and a method the
# document does not give a path is refused with 405 and an Allow header
# listing exactly the documented ones; every documented body refuses an
# unknown field with 400 before anything runs; and the answers of a small
# fleet made through the API, its event stream's events and its errors
# match the documented schemas (tests/lib/openapi-answer.py).
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

for tool in curl jq python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$TEST_NAME: $tool not installed: skipped" >&2
        exit 77
    fi
done
DOC=$REPO/docs/openapi.json
python3 "$REPO/tests/lib/openapi-check.py" "$REPO" ||
    fail "docs/openapi.json does not match the code (tests/lib/openapi-check.py)"

cluster_start 3
ALL=$(eps)
url() { echo "http://127.0.0.1:$((BASE_PORT + 200 + $1))$2"; }
for n in 1 2 3; do
    wait_until 30 "node $n is ready" bash -c \
        "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$(url "$n" /readyz)')\" = 200 ]"
done
B=$CLUSTER_DIR/body
H=$CLUSTER_DIR/headers

# ---- the document, served --------------------------------------------
for n in 1 2 3; do
    code=$(curl -s -D "$H" -o "$B" -w '%{http_code}' --max-time 20 "$(url "$n" /v1/openapi.json)")
    [ "$code" = 200 ] || fail "node $n: GET /v1/openapi.json without a token: $code $(head -c 300 "$B")"
    cmp -s "$B" "$DOC" || fail "node $n: /v1/openapi.json is not docs/openapi.json byte for byte"
    grep -qi '^content-type: application/json' "$H" ||
        fail "node $n: /v1/openapi.json content type: $(grep -i content-type "$H")"
done
# A token, even a bad one, changes nothing: the document is public.
code=$(curl -s -o "$B" -w '%{http_code}' -H 'Authorization: Bearer nonsense' "$(url 2 /v1/openapi.json)")
[ "$code" = 200 ] && cmp -s "$B" "$DOC" || fail "/v1/openapi.json with a bad token: $code"
code=$(curl -s -I -o "$H" -w '%{http_code}' "$(url 1 /v1/openapi.json)")
[ "$code" = 200 ] || fail "HEAD /v1/openapi.json: $code"
code=$(curl -s -D "$H" -o "$B" -w '%{http_code}' -X POST -d '{}' "$(url 1 /v1/openapi.json)")
[ "$code" = 405 ] && [ "$(jq -r .error.code "$B")" = EINVAL ] ||
    fail "POST /v1/openapi.json: $code $(cat "$B")"
grep -qi '^allow: GET, HEAD' "$H" || fail "POST /v1/openapi.json: no 'Allow: GET, HEAD'"
log "every node serves docs/openapi.json at /v1/openapi.json without a token"

# ---- every documented operation exists, and nothing else ---------------
# "METHOD PATH ALLOW BODY" per /v1 operation: the path's parameters filled
# in (an integer 1, an op's name "status", else "x"), the methods its path
# takes as augurd's Allow header says them, and whether it takes a body.
python3 - "$DOC" >"$CLUSTER_DIR/ops.txt" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
for path, item in doc["paths"].items():
    if not path.startswith("/v1/") or path in ("/v1/events", "/v1/openapi.json"):
        continue
    methods = [m for m in ("get", "post", "delete") if m in item]
    allow = ", ".join(
        {"get": "GET, HEAD", "post": "POST", "delete": "DELETE"}[m] for m in methods)
    for m in methods:
        op = item[m]
        params = {p["name"]: p for p in op.get("parameters", []) if "name" in p}
        def fill(match):
            name = match.group(1)
            if name == "op":
                return "status"
            return "1" if params[name]["schema"].get("type") == "integer" else "x"
        concrete = re.sub(r"\{(\w+)\}", fill, path)
        print(m.upper(), concrete, allow.replace(" ", ""),
              "body" if "requestBody" in op else "-")
PY
[ "$(wc -l <"$CLUSTER_DIR/ops.txt")" -ge 40 ] || fail "read only $(wc -l <"$CLUSTER_DIR/ops.txt") operations"
while read -r method path allow _; do
    code=$(curl -s -o "$B" -w '%{http_code}' -X "$method" "$(url 1 "$path")")
    [ "$code" = 401 ] && [ "$(jq -r .error.code "$B")" = EAUTH ] ||
        fail "$method $path without a token: $code $(cat "$B") (401 EAUTH: the route exists)"
    code=$(curl -s -D "$H" -o "$B" -w '%{http_code}' -X PUT "$(url 1 "$path")")
    [ "$code" = 405 ] || fail "PUT $path: $code, not 405"
    got=$(tr -d '\r' <"$H" | sed -n 's/^[Aa]llow: //p' | tr -d ' ')
    [ "$got" = "$allow" ] ||
        fail "$path: augurd allows '$got', the document '$allow'"
done <"$CLUSTER_DIR/ops.txt"
log "$(wc -l <"$CLUSTER_DIR/ops.txt") documented /v1 operations exist (401 without a token), with exactly their documented methods"

TOKEN=$(aug "$ALL" token create)
AUTH="Authorization: Bearer $TOKEN"
# Every documented body (additionalProperties false) refuses a field it
# does not name, before anything runs.
grep ' body$' "$CLUSTER_DIR/ops.txt" | grep -v ' /v1/ops/' >"$CLUSTER_DIR/bodies.txt"
while read -r method path _; do
    code=$(curl -s -o "$B" -w '%{http_code}' -X "$method" -H "$AUTH" \
        -d '{"zz_not_a_field":1}' "$(url 1 "$path")")
    [ "$code" = 400 ] && [ "$(jq -r .error.code "$B")" = EINVAL ] &&
        jq -r .error.message "$B" | grep -q zz_not_a_field ||
        fail "$method $path with an unknown field: $code $(cat "$B")"
done <"$CLUSTER_DIR/bodies.txt"
log "$(wc -l <"$CLUSTER_DIR/bodies.txt") documented bodies refuse an unknown field with 400"

# ---- answers match their schemas ---------------------------------------
# call STATUS METHOD PATH [BODY]: the answer must have STATUS and match the
# document's schema for it; it is left in $B.
call()
{
    local want=$1 method=$2 path=$3 code rc=0
    local args=(-s -o "$B" -w '%{http_code}' --max-time 30 -X "$method" -H "$AUTH")
    [ $# -lt 4 ] || args+=(-d "$4")
    code=$(curl "${args[@]}" "$(url 1 "$path")")
    [ "$code" = "$want" ] || fail "$method $path: $code, not $want: $(head -c 400 "$B")"
    python3 "$REPO/tests/lib/openapi-answer.py" "$DOC" "$method" "${path%%\?*}" \
        "$code" "$B" >"$CLUSTER_DIR/answer.out" || rc=$?
    [ "$rc" = 0 ] || fail "$method $path: the answer does not match the document: $(cat "$CLUSTER_DIR/answer.out") -- $(head -c 400 "$B")"
}
# The orchestrator stays out of the way: what is made here stays as made.
call 200 POST /v1/policy '{"key":"automatic","value":"false"}'
for h in host-a host-b host-c; do
    call 200 POST /v1/resources "{\"id\":\"$h\",\"kind\":\"host\",\"capacity\":{\"cpu\":8,\"mem_mb\":8192},\"labels\":{\"rack\":\"r-$h\"}}"
done
call 200 POST /v1/resources '{"id":"psu-1","kind":"psu"}'
call 200 POST /v1/edges '{"from":"host-a","to":"psu-1","kind":"power"}'
call 200 POST /v1/edges '{"from":"host-b","to":"psu-1","kind":"power"}'
for w in web-1 web-2 web-3; do
    call 200 POST /v1/workloads "{\"id\":\"$w\",\"demand\":{\"cpu\":1,\"mem_mb\":512},\"priority\":5}"
done
call 200 POST /v1/claims/web-1/acquire '{"host":"host-a"}'
call 200 POST /v1/claims/web-2/acquire '{"host":"host-b"}'
call 200 POST /v1/claims/web-3/acquire '{"host":"host-c"}'
call 200 POST /v1/claims/web-2/transfer '{"to":"host-c","epoch":1}'
call 200 POST /v1/claims/web-3/release '{"epoch":1}'
call 200 POST /v1/resources/host-b/score '{"p":0.3,"confidence":0.8,"reasons":[{"feature":"psi.cpu","contribution":0.2}]}'
call 200 POST /v1/resources/host-c/state '{"state":"degraded"}'
call 200 POST /v1/cohorts '{"name":"front","workloads":["web-1","web-2"],"spread":"host"}'
call 200 POST /v1/cohorts/front/workloads '{"workload":"web-3"}'
call 200 DELETE /v1/cohorts/front/workloads/web-3
call 200 POST /v1/predict_failure '{"resource":"host-b"}'
call 202 POST /v1/orchestrate_migration '{"workload":"web-1","to":"host-b","strategy":"live"}'
WF=$(jq -r .id "$B")
call 200 GET "/v1/workflows/$WF"
call 200 POST /v1/principals "{\"name\":\"viewer\",\"key\":\"$(printf '11%.0s' $(seq 32))\",\"role\":\"reader\"}"
call 200 DELETE /v1/principals/viewer
call 200 POST /v1/token/verify "{\"token\":\"$TOKEN\"}"
call 200 POST /v1/ops/status '{}'
for path in /v1/status '/v1/status?digest=true' /v1/whoami /v1/resources \
    '/v1/resources?limit=2' /v1/resources/host-b /v1/workloads /v1/workloads/web-1 \
    /v1/claims '/v1/claims?host=host-c' /v1/claims/web-1 /v1/edges \
    '/v1/edges?resource=host-a' /v1/cohorts /v1/cohorts/front /v1/shadows \
    /v1/workflows '/v1/workflows?state=active' /v1/policy /v1/nodes /v1/members \
    /v1/models /v1/principals '/v1/resources?stale=true'; do
    call 200 GET "$path"
done
call 200 DELETE '/v1/edges?from=host-b&to=psu-1'
call 200 DELETE /v1/cohorts/front
# Errors are the documented Error.
call 404 GET /v1/resources/no-such-host
call 404 GET /v1/telemetry/psu-1
call 409 POST /v1/resources '{"id":"host-a","kind":"host"}'
call 409 POST /v1/claims/web-2/transfer '{"to":"host-a","epoch":1}'
call 400 POST /v1/resources '{"id":"host-z","kind":'
call 400 GET '/v1/resources?limit=many'
log "the answers of every read and of the writes match their documented schemas"

# The event stream's events are documented Events.
curl -sN --max-time 20 -H "$AUTH" "$(url 2 /v1/events?from=1)" 2>/dev/null |
    grep -m 3 '^data: ' | sed 's/^data: //' >"$CLUSTER_DIR/events.txt" || true
[ "$(wc -l <"$CLUSTER_DIR/events.txt")" = 3 ] || fail "/v1/events sent $(wc -l <"$CLUSTER_DIR/events.txt") events"
while read -r ev; do
    printf '%s\n' "$ev" >"$B"
    python3 "$REPO/tests/lib/openapi-answer.py" "$DOC" SCHEMA Event - "$B" ||
        fail "an event does not match the Event schema: $ev"
done <"$CLUSTER_DIR/events.txt"
log "/v1/events sends documented Events"
log "PASS"
