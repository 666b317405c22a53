#!/usr/bin/env bash
# cohorts: cohorts, their resilience and the policy on a 3-node cluster.
# Hosts h1 and h2 sit behind psu-a, h3 behind psu-b.  A cohort whose two
# members share psu-a loses resilience when psu-a's score is set to 0.9 by
# hand; one whose members sit behind different PSUs keeps it; every node
# computes the same.  A workload joins one cohort at most; bad input is
# refused and changes nothing.  The policy round-trips and refuses unknown
# keys and incoherent values; its lease_timeout_ms becomes every node's
# host lease.  A score set by hand records until when it holds
# (manual_until), which the leader's scoring respects.  The orchestrator is
# off: it would rebalance the cohorts under test (tests/integration/
# orchestrator.sh shows it doing so).
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

cluster_start 3 --orchestrator off
ALL=$(eps)

for h in h1 h2 h3; do
    aug "$ALL" resource add "$h" --kind host --capacity cpu=8,mem_mb=8192 \
        >/dev/null
done
aug "$ALL" resource add psu-a --kind psu >/dev/null
aug "$ALL" resource add psu-b --kind psu >/dev/null
aug "$ALL" edge add h1 psu-a --kind power >/dev/null
aug "$ALL" edge add h2 psu-a --kind power >/dev/null
aug "$ALL" edge add h3 psu-b --kind power >/dev/null
for w in w1 w2 w3 w4; do
    aug "$ALL" workload add "$w" --demand cpu=1,mem_mb=128 >/dev/null
done
aug "$ALL" claim acquire w1 --host h1 >/dev/null
aug "$ALL" claim acquire w2 --host h2 >/dev/null
aug "$ALL" claim acquire w3 --host h3 >/dev/null
aug "$ALL" claim acquire w4 --host h1 >/dev/null

# Bad input: refused, nothing created.
if aug "$ALL" cohort create bad --workloads w1,nope 2>"$CLUSTER_DIR/err"; then
    fail "a cohort of an unknown workload was created"
fi
grep -q nope "$CLUSTER_DIR/err" || fail "the refusal does not name 'nope': $(cat "$CLUSTER_DIR/err")"
if aug "$ALL" cohort create bad --workloads w1,w2 --min-available 3 2>/dev/null; then
    fail "min-available above the members was accepted"
fi
if aug "$ALL" cohort create bad --workloads w1 --spread galaxy 2>/dev/null; then
    fail "an unknown spread was accepted"
fi
[ "$(list_count "$(aug "$ALL" cohort list -o json)")" = 0 ] || fail "a refused cohort exists"

# shared: both members behind psu-a; apart: behind psu-a and psu-b.
out=$(aug "$ALL" cohort create shared --workloads w1,w2 --spread psu \
    --min-available 1 -o json)
json_eq "$out" '.workloads | join(",")' w1,w2
json_eq "$out" '.min_available' 1
out=$(aug "$ALL" cohort get shared -o json)
json_eq "$out" '.resilience == 1' true
json_eq "$out" '.spread_ok' false
json_eq "$out" '.running' 2
aug "$ALL" cohort create apart --workloads w3,w4 --spread psu \
    --min-available 1 --min-resilience 0.95 >/dev/null
out=$(aug "$ALL" cohort get apart -o json)
json_eq "$out" '.spread_ok' true
json_eq "$out" '.min_resilience' 0.95
if aug "$ALL" cohort create other --workloads w1 2>"$CLUSTER_DIR/err"; then
    fail "a workload joined two cohorts"
fi
grep -q shared "$CLUSTER_DIR/err" || fail "the refusal does not name cohort shared: $(cat "$CLUSTER_DIR/err")"

# psu-a becomes risky, set by hand.
aug "$ALL" score set psu-a 0.9 --window 3600 >/dev/null
shared=$(aug "$ALL" cohort get shared -o json)
apart=$(aug "$ALL" cohort get apart -o json)
log "shared: $(jq -c '{resilience, weakest}' <<<"$shared")"
log "apart: $(jq -c '{resilience, weakest}' <<<"$apart")"
jq -e '.resilience < 0.2' <<<"$shared" >/dev/null ||
    fail "two members behind a PSU at 0.9 keep resilience $(jq .resilience <<<"$shared")"
json_eq "$shared" '.weakest[0].resource' psu-a
jq -e '.resilience > 0.99' <<<"$apart" >/dev/null ||
    fail "members behind two PSUs lost resilience: $(jq .resilience <<<"$apart")"
# Every node computes the same from its own store.
want=$(jq -c '{resilience, weakest}' <<<"$shared")
for id in 1 2 3; do
    wait_until 30 "node $id agrees on cohort shared" bash -c \
        "[ \"\$('$AUGUR' --endpoints $(ep "$id") --stale cohort get shared -o json | jq -c '{resilience, weakest}')\" = '$want' ]"
done
aug "$ALL" cohort get shared | grep -q 'psu-a' || fail "cohort get does not show psu-a as weakest"

# The hand-set score records until when it holds.
now_ms=$(($(date +%s) * 1000))
until_ms=$(aug "$ALL" resource get psu-a -o json | jq -r '.manual_until // 0')
[ "$until_ms" -gt "$now_ms" ] || fail "psu-a's manual_until ($until_ms) is not in the future"
[ "$until_ms" -le $((now_ms + 3700 * 1000)) ] || fail "psu-a's manual_until ($until_ms) is past its window"
json_eq "$(aug "$ALL" resource get psu-a -o json)" '.score.p' 0.9
# h3 never had one set by hand.
json_eq "$(aug "$ALL" resource get h3 -o json)" '.manual_until' null

# Membership changes.
aug "$ALL" cohort remove shared w2 >/dev/null
aug "$ALL" cohort add apart w2 >/dev/null
json_eq "$(aug "$ALL" cohort get apart -o json)" '.workloads | join(",")' w3,w4,w2
aug "$ALL" cohort delete apart >/dev/null
aug "$ALL" cohort create again --workloads w2,w3 >/dev/null
[ "$(list_count "$(aug "$ALL" cohort list -o json)")" = 2 ] || fail "cohort list is not shared, again"

# The policy: defaults, a round trip, refusals.
pol=$(aug "$ALL" policy get -o json)
json_eq "$pol" '.keys[] | select(.key == "migrate_threshold") | .value' 0.8
json_eq "$pol" '.keys[] | select(.key == "migrate_threshold") | .default' true
aug "$ALL" policy set migrate_threshold 0.85 >/dev/null
aug "$ALL" policy set automatic false >/dev/null
pol=$(aug "$ALL" policy get -o json)
json_eq "$pol" '.keys[] | select(.key == "migrate_threshold") | .value' 0.85
json_eq "$pol" '.keys[] | select(.key == "migrate_threshold") | .default' false
json_eq "$pol" '.keys[] | select(.key == "automatic") | .value' false
if aug "$ALL" policy set migrate_treshold 0.5 2>"$CLUSTER_DIR/err"; then
    fail "an unknown policy key was accepted"
fi
grep -q migrate_threshold "$CLUSTER_DIR/err" || fail "the refusal does not list the keys: $(cat "$CLUSTER_DIR/err")"
if aug "$ALL" policy set provision_threshold 0.9 2>/dev/null; then
    fail "provision_threshold above migrate_threshold was accepted"
fi
if aug "$ALL" policy set max_attempts 0 2>/dev/null; then
    fail "max_attempts 0 was accepted"
fi
[ "$(aug "$ALL" policy get -o json)" = "$pol" ] || fail "a refused policy.set changed the policy"
aug "$ALL" policy get | grep -q 'migrate_threshold' || fail "policy get prints no table"

# The host lease follows the policy once it is set (else --lease-ms).
json_eq "$(status_json 1)" '.telemetry.lease_ms' 1000
aug "$ALL" policy set lease_timeout_ms 2500 >/dev/null
for id in 1 2 3; do
    wait_until 30 "node $id holds host leases for 2500 ms" bash -c \
        "'$AUGUR' --endpoints $(ep "$id") status -o json | jq -e '.telemetry.lease_ms == 2500'"
done

log "ok"
