#!/usr/bin/env bash
# augurd_usage: a wrong flag or a missing required one is refused with exit
# status 2 and one line saying what is wrong; --help and --version exit 0.
set -euo pipefail
AUGURD=${AUGURD:?AUGURD is not set}

fail() { echo "augurd_usage: FAIL: $*" >&2; exit 1; }

expect_usage_error()
{
    local out rc=0
    out=$("$AUGURD" "$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 2 ] || fail "augurd $* exited $rc, not 2"
    [ -n "$out" ] || fail "augurd $* said nothing on stderr"
    echo "augurd $*: exit 2: $out"
}

expect_usage_error --frobnicate 1
expect_usage_error --id 0
# The bounds of parked long polls and pages: none may be 0 or unbounded.
expect_usage_error --waiters-per-conn 0
expect_usage_error --waiters-per-principal 0
expect_usage_error --waiters-max 2000000
expect_usage_error --wait-max 99
expect_usage_error --page-bytes 100
# An actuator of no known kind, and too many of them at once.
expect_usage_error --actuator telnet:x
expect_usage_error --actuator exec:relative/prog
expect_usage_error --actuator-max 0
# An HTTP address that is not IPV4:PORT or [IPV6]:PORT, bad HTTP limits,
# and --metrics-public with a value that is not a switch.
expect_usage_error --http-address localhost:8080
expect_usage_error --http-address 127.0.0.1
expect_usage_error --http-address 127.0.0.1:0
expect_usage_error --http-address '[::1]8080'
expect_usage_error --http-max-conns 0
expect_usage_error --http-body-max 10
expect_usage_error --metrics-public maybe
# (Read all of it: grep -q would stop reading, and augurd die of SIGPIPE.)
help_text=$("$AUGURD" --help) || fail "--help did not exit 0"
for flag in --waiters-per-conn --client-unauth-max --peer-buffer-max \
    --actuator --actuator-max --http-address --metrics-public \
    --http-max-conns --http-body-max --http-timeout; do
    grep -q -- "$flag" <<<"$help_text" || fail "--help does not list $flag"
done
expect_usage_error --id 1 --data-dir /nonexistent-augur-test --raft-address 127.0.0.1:1 --client-address 127.0.0.1:2
expect_usage_error --id 1 --data-dir /nonexistent-augur-test --raft-address 127.0.0.1:1 --client-address 127.0.0.1:2 --cluster-key /nonexistent.pub --node-key /nonexistent.key
"$AUGURD" --help >/dev/null || fail "--help did not exit 0"
"$AUGURD" --version >/dev/null || fail "--version did not exit 0"
echo "augurd_usage: PASS"
