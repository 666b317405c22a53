#!/usr/bin/env bash
# agent_collect: augur-agent without a cluster.  `collect --once -o json` on
# this machine shows CPU, memory, disk, network and pressure figures; on the
# fixture tree (--root) it gives exactly the recorded values and lists the
# collectors a bare host lacks; bad flags exit 2 with a message; replay
# --print streams a data set's units (when the data is there).
set -euo pipefail
AGENT=${AUGUR_AGENT:?AUGUR_AGENT is not set}
FIX=${AUGUR_AGENT_FIXTURES:?AUGUR_AGENT_FIXTURES is not set}
DATA=${AUGUR_DATA_DIR:-${AUGUR_SOURCE_DIR:?}/../shared/data}
export AUGUR_LOG_LEVEL=warn

fail() { echo "agent_collect: FAIL: $*" >&2; exit 1; }

# check JSON JQ_EXPR: the expression must be true of the collection.
check()
{
    jq -e "$2" >/dev/null <<<"$1" || fail "not true: $2"
}

# ---- this machine
out=$("$AGENT" collect --once -o json --no-smart) || fail "collect exited $?"
check "$out" '.time_ms > 1700000000000 and .interval_ms >= 900'
v() { echo "(.samples | map(select(.name == \"$1\")) | .[0].value)"; }
any() { echo "(.samples | map(select(.name | test(\"$1\"))) | length > 0)"; }
check "$out" "$(v cpu.user) >= 0 and $(v cpu.user) <= 1"
check "$out" "$(v cpu.idle) >= 0 and $(v cpu.idle) <= 1"
check "$out" "$(v cpu.count) >= 1"
check "$out" "$(v mem.total_bytes) > 0"
check "$out" "$(v mem.available_bytes) > 0 and $(v mem.available_bytes) <= $(v mem.total_bytes)"
check "$out" "$(v mem.used_fraction) >= 0 and $(v mem.used_fraction) <= 1"
check "$out" "$(any '^disk\\.[^.]+\\.read_bytes$')"
check "$out" "$(any '^net\\.[^.]+\\.rx_bytes$')"
check "$out" '.samples | map(select(.name | test("^net\\.lo\\."))) | length == 0'
if [ -r /proc/pressure/io ]; then
    check "$out" "$(any '^psi\\.io\\.some_avg10$')"
    check "$out" "$(any '^psi\\.cpu\\.some_total_us$')"
else
    check "$out" '.missing | index("psi") != null'
fi
check "$out" '.samples | all(.value | type == "number")'
echo "agent_collect: this machine: $(jq -c '{samples: (.samples | length), missing}' <<<"$out")"

# The table is grouped and lists what is missing.
"$AGENT" collect --once --wait 0 --no-smart --root "$FIX/bare" |
    grep -q '^missing on this host: psi hwmon thermal edac$' ||
    fail "the table does not list the missing collectors"

# ---- the fixture tree: exact values
out=$("$AGENT" collect --once -o json --wait 0 --root "$FIX/host" \
    --smartctl "$FIX/smartctl-fake" --resource host-7) ||
    fail "collect --root exited $?"
check "$out" '.resource == "host-7" and .missing == [] and .interval_ms == 0'
for pair in \
    cpu.count=2 cpu.procs_running=3 \
    mem.total_bytes=16777216000 mem.available_bytes=8388608000 \
    mem.used_fraction=0.5 mem.swap_used_fraction=0.25 \
    disk.sda.in_flight=2 psi.io.some_avg10=2 psi.memory.full_avg60=0.05 \
    hwmon.coretemp.package_id_0_c=52 hwmon.nct6775.fan1_rpm=1200 \
    hwmon.nct6775.vcore_v=1.104 hwmon.nct6775.power1_w=15.25 \
    hwmon.hwmon2.package_id_1_c=61 thermal.zone0.x86_pkg_temp_c=53 \
    thermal.zone1.acpitz_c=27.8 edac.mc0.ce=3 edac.mc1.ue=1 \
    smart.sda.flags.failing=1 smart.sda.flags.prefail_below=1 \
    smart.sda.flags.error_log=1 smart.sda.exit_status=88 \
    smart.sda.reallocated_sectors=65416 smart.nvme0n1.passed=1 \
    smart.nvme0n1.flags.failing=0; do
    check "$out" "$(v "${pair%%=*}") == ${pair#*=}"
done
# --wait 0: one read, so no counter or CPU share.
check "$out" '.samples | map(select(.name | test("^(cpu\\.user|disk\\.sda\\.reads|net\\.eth0\\.rx_bytes)$"))) | length == 0'
# With AUGUR_SMARTCTL instead of --smartctl.
AUGUR_SMARTCTL="$FIX/smartctl-fake" "$AGENT" collect --once -o json --wait 0 \
    --root "$FIX/host" | jq -e "$(v smart.sda.flags.failing) == 1" >/dev/null ||
    fail "AUGUR_SMARTCTL was not used"
# No smartctl at all: missing, not fatal.
out=$("$AGENT" collect --once -o json --wait 0 --root "$FIX/bare" \
    --smartctl /nonexistent/smartctl) || fail "a missing smartctl is fatal"
check "$out" '.missing == ["psi", "hwmon", "thermal", "edac", "smart"]'

# ---- probes
probes=$(mktemp)
trap 'rm -f "$probes"' EXIT
printf 'probe yes exec true\nprobe no exec false\n' >"$probes"
out=$("$AGENT" collect --once -o json --wait 0 --root "$FIX/bare" --no-smart \
    --probes "$probes") || fail "collect --probes exited $?"
check "$out" "$(v probe.yes.ok) == 1 and $(v probe.no.ok) == 0"

# ---- usage errors: exit 2 and a message
expect_usage_error()
{
    local msg rc=0
    msg=$("$AGENT" "$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq 2 ] || fail "augur-agent $* exited $rc, not 2"
    [ -n "$msg" ] || fail "augur-agent $* said nothing on stderr"
    echo "augur-agent $*: exit 2: $msg"
}
expect_usage_error
expect_usage_error frobnicate
expect_usage_error collect
expect_usage_error collect --once --bogus
expect_usage_error collect --once -o xml
expect_usage_error collect --once --wait -1
expect_usage_error collect --once --wait 999999
expect_usage_error collect --once --resource 'bad id'
expect_usage_error collect --once --root
printf 'probe x ping h\n' >"$probes"
expect_usage_error collect --once --probes "$probes"
expect_usage_error replay --format nope --data x --print
expect_usage_error replay --format pdm --print
expect_usage_error replay --format pdm --data x --speed 0 --print
expect_usage_error replay --format pdm --data x --speed fast --print
# Without --print a replay goes to the cluster; a bad --backlog is still a
# usage error before anything is read.
expect_usage_error replay --format pdm --data x --backlog 0
expect_usage_error run
expect_usage_error run --resource 'bad id'
expect_usage_error run --resource h1 --interval 0
expect_usage_error run --resource h1 --heartbeat 1
for cmd in "" collect replay run; do
    # shellcheck disable=SC2086
    "$AGENT" $cmd --help | grep -q '^Usage: augur-agent' ||
        fail "augur-agent $cmd --help"
done
"$AGENT" --version | grep -q '^augur-agent ' || fail "--version"

# ---- replay
if [ -r "$DATA/azure-pdm/PdM_telemetry.csv" ]; then
    out=$("$AGENT" replay --format pdm --data "$DATA/azure-pdm" \
        --speed 360000 --units machine-1,machine-2 --steps 3 --print) ||
        fail "replay exited $?"
    [ "$(wc -l <<<"$out")" -eq 6 ] || fail "replay printed $(wc -l <<<"$out") lines, not 6"
    jq -se 'map(.resource) == ["machine-1","machine-2","machine-1","machine-2","machine-1","machine-2"]' \
        <<<"$out" >/dev/null || fail "replay's resources"
    # 3600 s / 360000 = 10 ms between recorded hours.
    jq -se '(.[2].time_ms - .[0].time_ms) == 10 and (.[4].time_ms - .[2].time_ms) == 10' \
        <<<"$out" >/dev/null || fail "replay's times are not compressed by --speed"
    # SIGTERM stops a replay that cannot reach the cluster (the signal
    # taken while it slept between batches used to be lost).
    "$AGENT" replay --format pdm --data "$DATA/azure-pdm" --speed 3600 \
        --units machine-1 --steps 600 --endpoints 127.0.0.1:1 \
        >/dev/null 2>&1 &
    rp=$!
    sleep 1
    kill -TERM "$rp"
    for _ in $(seq 1 100); do kill -0 "$rp" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$rp" 2>/dev/null; then
        kill -KILL "$rp"
        fail "replay did not stop within 10 s of SIGTERM"
    fi
    wait "$rp" || true
    rc=0
    "$AGENT" replay --format pdm --data "$DATA/azure-pdm" --units machine-999 \
        --print 2>/dev/null || rc=$?
    [ "$rc" -eq 1 ] || fail "replay of no unit exited $rc, not 1"
else
    echo "agent_collect: no data sets in $DATA: replay not checked"
fi
echo "agent_collect: PASS"
