#!/usr/bin/env bash
# cli_unreachable: when every endpoint refuses the connection (no augurd
# runs there), the CLI fails at once instead of retrying for its whole
# --timeout: exit status 3, and a message naming ECONNECT and every endpoint
# tried.  No cluster is started; the test's ports are its own and closed.
# (ctest bounds the test at 20 s, well under the --timeout given: a CLI that
# waited for its deadline would be killed and fail.)
set -euo pipefail
AUGUR=${AUGUR:?AUGUR is not set}
BASE_PORT=${AUGUR_TEST_BASE_PORT:-9700}
unset AUGUR_KEY AUGUR_CLUSTER_KEY AUGUR_ENDPOINTS

fail() { echo "cli_unreachable: FAIL: $*" >&2; exit 1; }

endpoints=""
for i in 1 2 3; do
    port=$((BASE_PORT + i))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        fail "something listens on 127.0.0.1:$port; the test needs it closed"
    fi
    endpoints+=${endpoints:+,}127.0.0.1:$port
done

# expect_unreachable ARGS...: the CLI exits 3 with ECONNECT and every
# endpoint in its message.
expect_unreachable()
{
    local out rc=0 i
    out=$("$AUGUR" --endpoints "$endpoints" --timeout 600 "$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 3 ] || fail "augur $* exited $rc, not 3: $out"
    [[ $out == *ECONNECT* ]] || fail "augur $*: no ECONNECT in: $out"
    for i in 1 2 3; do
        [[ $out == *"127.0.0.1:$((BASE_PORT + i))"* ]] ||
            fail "augur $*: endpoint 127.0.0.1:$((BASE_PORT + i)) not named in: $out"
    done
    echo "augur $*: exit 3: $out"
}

expect_unreachable status
expect_unreachable resource list
expect_unreachable resource add h1 --kind host
expect_unreachable events --follow
echo "cli_unreachable: PASS"
