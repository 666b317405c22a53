#!/usr/bin/env bash
# demo_check_log: demo/check-log on small hand-written action logs: a clean
# hand-over, an overlap at an equal epoch, a stale epoch accepted, a kill
# that ends an interval, and garbage.
set -euo pipefail
CHECK=${1:?usage: demo_check_log.sh CHECK-LOG}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "demo_check_log: FAIL: $*" >&2; exit 1; }

# expect NAME RC VALID [KIND]: run the checker on $T/NAME.log.
expect()
{
    local rc=0 out
    out=$(python3 "$CHECK" "$T/$1.log") || rc=$?
    [ "$rc" = "$2" ] || fail "$1: exit $rc, expected $2: $out"
    [ "$3" = - ] && return 0
    [ "$(jq -r .valid <<<"$out")" = "$3" ] || fail "$1: valid is not $3: $out"
    if [ $# -ge 4 ]; then
        [ "$(jq -r '.violations[0].kind' <<<"$out")" = "$4" ] ||
            fail "$1: first violation is not $4: $out"
    fi
}

line()
{
    printf '{"t_ms":%s,"action":"%s","workload":"%s","host":"%s","epoch":%s,"pid":%s,"port":1,"active":true}\n' "$@"
}

# Fenced before the newer one went active; a refusal of the old epoch.
{
    line 1 start w h1 1 10
    line 2 activate w h1 1 10
    line 3 start w h2 1 11
    line 4 fence w h1 2 10
    line 5 activate w h2 2 11
    line 6 refuse w h1 1 0
    line 7 stop w h2 2 11
} >"$T/clean.log"
expect clean 0 true

# The newer epoch may overlap the older one (it fences it afterwards in
# the data plane): only a not-greater epoch is a violation.
{
    line 1 activate w h1 1 10
    line 2 activate w h2 2 11
} >"$T/greater.log"
expect greater 0 true

{
    line 1 activate w h1 3 10
    line 2 activate w h2 3 11
} >"$T/equal.log"
expect equal 1 false overlap

# An action accepted below the highest epoch seen.
{
    line 1 activate w h1 5 10
    line 2 stop w h1 5 10
    line 3 activate w h2 4 11
} >"$T/stale.log"
expect stale 1 false stale

# A kill logged by a harness ends the interval.
{
    line 1 activate w h1 2 10
    line 2 kill w h1 2 10
    line 3 activate w h2 2 11
} >"$T/killed.log"
expect killed 0 true

# Other workloads do not interfere.
{
    line 1 activate a h1 1 10
    line 2 activate b h1 1 11
} >"$T/two.log"
expect two 0 true

echo 'not json' >"$T/garbage.log"
expect garbage 2 -
echo "demo_check_log: PASS"
