#!/usr/bin/env bash
# http_ui: the web UI (docs/HTTP.md, "Web UI") in a real browser.  On a
# 3-node cluster with the demo fleet (2 racks, a PSU and a switch each, 6
# hosts, 4 workloads): /ui/ and its files are served without a token under
# a Content-Security-Policy, / and /ui redirect to /ui/, an unknown file is
# a 404 and a POST a 405; local-cluster ui prints a sign-in link with a
# valid token; then tests/ui/ui_test.py drives Debian's chromium
# (headless, through chromium-driver and python3-selenium): a bad token
# shows the login error; /ui/#token=T signs in and drops T from the URL;
# every host, PSU and switch id is in the fleet view; augur score set turns
# a host's tile to its risk colour live; a migration started from the UI
# reaches done through the event stream without a reload; the score chart
# plots the scores seen; node 1, which serves the page, restarts and the
# stream resumes with Last-Event-ID, every revision once; no request URL
# ever holds the token; sign out forgets it.  Screenshots go to $AUGUR_TEST_ARTIFACTS (default
# build-test/artifacts/ui).  Skipped (77) without chromium, chromedriver,
# a python3 with selenium, curl or jq.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

for tool in curl jq chromium chromedriver; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$TEST_NAME: $tool not installed: skipped" >&2
        exit 77
    fi
done
# Debian's python3-selenium is for Debian's python3, which another python3
# earlier on PATH (pyenv, a venv) may hide.
PY=""
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import selenium' >/dev/null 2>&1; then
        PY=$p
        break
    fi
done
[ -n "$PY" ] || { echo "$TEST_NAME: no python3 with selenium (python3-selenium): skipped" >&2; exit 77; }
[ -n "${AUGUR_DEMO_ACTUATOR:-}" ] || AUGUR_DEMO_ACTUATOR=$(dirname "$AUGURD")/../demo/augur-demo-actuator
[ -x "$AUGUR_DEMO_ACTUATOR" ] || { echo "$TEST_NAME: no demo actuator: skipped" >&2; exit 77; }
export AUGUR_DEMO_ACTUATOR
ARTIFACTS=${AUGUR_TEST_ARTIFACTS:-$REPO/build-test/artifacts/ui}
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

cluster_start 3
ALL=$(eps)
lc fleet --hosts 6 --workloads 4 >"$CLUSTER_DIR/fleet.out" 2>&1 ||
    fail "local-cluster fleet: $(tail -5 "$CLUSTER_DIR/fleet.out")"
HTTP=http://127.0.0.1:$((BASE_PORT + 201))

# ---- the static files, without a browser ----------------------------------
code() { curl -s -o "$CLUSTER_DIR/body" -D "$CLUSTER_DIR/headers" -w '%{http_code}' --max-time 20 "$@" || true; }
header() { tr -d '\r' <"$CLUSTER_DIR/headers" | awk -v h="$1" 'tolower($0) ~ "^" tolower(h) ": " { sub(/^[^:]*: /, ""); print }'; }
for p in / /ui; do
    [ "$(code "$HTTP$p")" = 302 ] || fail "$p: not a 302"
    [ "$(header location)" = /ui/ ] || fail "$p: Location $(header location), not /ui/"
done
for f in /ui/:text/html /ui/app.js:text/javascript /ui/app.css:text/css; do
    p=${f%%:*} type=${f#*:}
    [ "$(code "$HTTP$p")" = 200 ] || fail "$p: not 200 without a token"
    header content-type | grep -q "^$type" || fail "$p: content type $(header content-type), not $type"
    header content-security-policy | grep -q "default-src 'self'" || fail "$p: no CSP: $(cat "$CLUSTER_DIR/headers")"
    header content-security-policy | grep -q "unsafe-inline" && fail "$p: the CSP allows inline code"
    [ "$(header x-content-type-options)" = nosniff ] || fail "$p: no X-Content-Type-Options: nosniff"
done
# What is served is the file in the tree, byte for byte.
for f in index.html app.js app.css; do
    curl -s "$HTTP/ui/$f" | cmp -s - "$REPO/node/ui/$f" || fail "/ui/$f differs from node/ui/$f"
done
grep -q '<script[^>]*src=' "$REPO/node/ui/index.html" || fail "index.html loads no script file"
if grep -Eq '<script>|<script [^>]*>[^<]|on(click|load|submit)=|style=' "$REPO/node/ui/index.html"; then
    fail "index.html holds inline script, handlers or styles (the CSP forbids them)"
fi
[ "$(code "$HTTP/ui/nope.js")" = 404 ] || fail "/ui/nope.js: not 404"
[ "$(jq -r .error.code "$CLUSTER_DIR/body")" = ENOTFOUND ] || fail "404 body: $(cat "$CLUSTER_DIR/body")"
[ "$(code --path-as-is "$HTTP/ui/../v1/status")" = 404 ] || fail "/ui/../v1/status: not 404"
[ "$(code -X POST -d x "$HTTP/ui/")" = 405 ] || fail "POST /ui/: not 405"
[ "$(code -I "$HTTP/ui/app.js")" = 200 ] || fail "HEAD /ui/app.js: not 200"
log "/ui/ serves index.html, app.js and app.css without a token under the CSP; / and /ui redirect; 404, 405"

# ---- the browser ----------------------------------------------------------------
# The sign-in link local-cluster prints: node 1's /ui/ with a token in the
# fragment.
link=$(lc ui)
[[ $link == "$HTTP/ui/#token=augur1."* ]] || fail "local-cluster ui printed '$link'"
TOKEN=${link#*#token=}
[ "$(aug "$ALL" token verify - <<<"$TOKEN" -o json | jq -r .valid)" = true ] ||
    fail "the token of local-cluster ui does not verify"
hosts=$(aug "$ALL" resource list -o json | jq -r '[.[] | select(.kind == "host") | .id] | join(",")')
infra=$(aug "$ALL" resource list -o json | jq -r '[.[] | select(.kind != "host") | .id] | join(",")')
[ -n "$hosts" ] && [ -n "$infra" ] || fail "the demo fleet has no hosts or no PSU and switch"
claim=$(aug "$ALL" claim get web-1 -o json)
from=$(jq -r .host <<<"$claim")
# The target: a host of the other rack, so that the move is visible.
target=$(tr ',' '\n' <<<"$hosts" | grep -v "^${from%-*}-" | head -1)
[ -n "$target" ] || target=$(tr ',' '\n' <<<"$hosts" | grep -vx "$from" | head -1)
# The score to set: on a host that runs nothing, so that no workflow moves.
busy=$(aug "$ALL" claim list -o json | jq -r '[.[].host] | join(" ")')
score_host=""
for h in ${hosts//,/ }; do
    if [ "$h" != "$target" ] && [[ " $busy " != *" $h "* ]]; then
        score_host=$h
        break
    fi
done
[ -n "$score_host" ] || fail "no idle host for the score (claims on: $busy)"
log "browser: web-1 $from -> $target, score on $score_host, artifacts in $ARTIFACTS"

rc=0
AUGUR_ENDPOINTS=$ALL "$PY" "$REPO/tests/ui/ui_test.py" --url "$HTTP" --token "$TOKEN" \
    --hosts "$hosts" --infra "$infra" --score-host "$score_host" --score 0.6 \
    --workload web-1 --target "$target" --artifacts "$ARTIFACTS" --augur "$AUGUR" \
    --restart-cmd "$LOCAL_CLUSTER --dir $CLUSTER_DIR restart 1" \
    >"$CLUSTER_DIR/ui_test.out" 2>&1 || rc=$?
cat "$CLUSTER_DIR/ui_test.out"
[ "$rc" -eq 0 ] || fail "tests/ui/ui_test.py failed (exit $rc); screenshots in $ARTIFACTS"
grep -q "ui_test: 10 passed, 0 failed" "$CLUSTER_DIR/ui_test.out" || fail "ui_test did not run its 10 tests"
for s in login login-bad-token fleet workflows events scores cohorts; do
    [ -s "$ARTIFACTS/$s.png" ] || fail "no screenshot $s.png"
    [ "$(head -c 8 "$ARTIFACTS/$s.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "$s.png is not a PNG"
done
json_eq "$(aug "$ALL" claim get web-1 -o json)" .host "$target"
log "the browser tests passed; screenshots: $(cd "$ARTIFACTS" && ls ./*.png | tr '\n' ' ')"
