#!/usr/bin/env bash
# answers_paged: an answer never silently drops the connection for being
# over the frame limit (issue 12, item 6).  With 1,600 resources of about
# 3 KB (5 MB in all, over the 4 MiB frame limit): a single resource.list or
# events request asking for 10,000 items gets a page that ends at the byte
# budget with "next", on a connection that stays open; the CLI follows
# "next" and shows every resource in one JSON array.  With the budget set
# over the frame limit (--page-bytes, here through the config file), the
# same request gets ETOOBIG naming the size, and the connection stays open.
# Also: a long poll's wait is cut to --wait-max (a 49-day wait_ms is
# answered within the cap).
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

[ -x "$AUGUR_WIRE" ] || fail "augur-wire not built ($AUGUR_WIRE)"
COUNT=1600
# Every node reads this file at each start; the test rewrites it below.
CONF=$CLUSTER_DIR.conf
echo "wait-max = 2000" >"$CONF"
cluster_start 3 --config "$CONF"
ALL=$(eps)
LEADER=$(leader_client_address)

# Sixteen labels with the longest keys and values an id allows.
key=$(printf 'k%.0s' $(seq 1 60))
value=$(printf 'v%.0s' $(seq 1 127))
labels=""
for i in $(seq 10 25); do
    labels+=${labels:+,}"\"$key$i\": \"$value\""
done
log "adding $COUNT resources of about 3 KB each"
out=$("$AUGUR_WIRE" --endpoint "$LEADER" --client 77 --seq 1 --vary \
    --repeat "$COUNT" --op resource.add \
    --args-json "{\"id\": \"big{i}\", \"kind\": \"host\", \"labels\": {$labels}}")
[ "$(grep -c '"status":0' <<<"$out")" = "$COUNT" ] ||
    fail "not every resource.add succeeded: $(grep -v '"status":0' <<<"$out" | head -3)"

# The CLI pages and shows everything, as one JSON array.
out=$(aug "$ALL" resource list -o json)
json_eq "$out" 'type' array
json_eq "$out" 'length' "$COUNT"
json_eq "$out" '[.[].id] | unique | length' "$COUNT"

# One request for 10,000 resources: a page under the frame limit, with
# "next", twice on the same connection (it stays open).
out=$("$AUGUR_WIRE" --endpoint "$LEADER" --client 78 --op resource.list \
    --args-json '{"limit": 10000}' --repeat 2) ||
    fail "resource.list of 10000 lost the connection: $out"
[ "$(wc -l <<<"$out")" = 2 ] || fail "expected two answers: $out"
page=$(head -n 1 <<<"$out")
json_eq "$page" '.status' 0
n=$(jq -r '.result.items | length' <<<"$page")
[ "$n" -gt 0 ] && [ "$n" -lt "$COUNT" ] || fail "expected a partial page, got $n items"
json_eq "$page" '.result.next' "$(jq -r '.result.items[-1].id' <<<"$page")"
log "resource.list of 10000: a page of $n items ($(wc -c <<<"$page") bytes of JSON) and next"

# The same for the event log (one resource.add event per resource).
out=$("$AUGUR_WIRE" --endpoint "$LEADER" --client 79 --op events \
    --args-json '{"from": 1, "limit": 10000}' --repeat 2) ||
    fail "events of 10000 lost the connection: $out"
page=$(head -n 1 <<<"$out")
json_eq "$page" '.status' 0
n=$(jq -r '.result.events | length' <<<"$page")
[ "$n" -gt 0 ] && [ "$n" -lt "$COUNT" ] || fail "expected a partial page of events, got $n"
json_eq "$page" '.result.next' "$(jq -r '.result.events[-1].rev + 1' <<<"$page")"

# A long poll asking for 49 days is answered (nothing new) within
# --wait-max (2 s); the reader gives up after 30 s.
rev=$(status_json 1 | jq -er '.rev')
out=$("$AUGUR_WIRE" --endpoint "$(ep 1)" --client 80 --stale --op events \
    --args-json "{\"from\": $((rev + 1))}" --park 1 --wait-ms 4294967295 \
    --hold-ms 30000)
[ "$(grep -c '"status":0' <<<"$out")" = 1 ] ||
    fail "a 49-day long poll was not cut to --wait-max: $out"
grep -q '"events":\[\]' <<<"$out" || fail "expected no events: $out"

# The budget over the frame limit: the backstop answers ETOOBIG, and the
# connection stays open for the next request.
echo "wait-max = 2000" >"$CONF"
echo "page-bytes = 33554432" >>"$CONF"
lc stop >/dev/null
lc start >/dev/null
LEADER=$(leader_client_address)
caught_up() { [ "$(status_json "$(leader)" | jq -er '.rev')" -ge "$COUNT" ]; }
wait_until 60 "the restarted leader applied its log" caught_up
out=$("$AUGUR_WIRE" --endpoint "$LEADER" --client 81 --op resource.list \
    --args-json '{"limit": 10000}' --repeat 2) ||
    fail "an answer over the frame limit lost the connection: $out"
[ "$(grep -c '"status":9' <<<"$out")" = 2 ] || fail "expected two ETOOBIG answers: $out"
grep -q 'over the frame limit of 4194304; page with --limit/--after' <<<"$out" ||
    fail "the refusal does not say what to do: $out"
log "over the limit: $(head -n 1 <<<"$out")"
# Pages of the CLI's size still fit.
json_eq "$(aug "$ALL" resource list -o json)" 'length' "$COUNT"
