# deploy/lib/packages.sh: install the Debian packages the project needs.
# shellcheck shell=bash
#
# Sourced by deploy/quickstart and tests/run.  Reads deploy/packages.txt (one
# package a line, '#' comments).  Quiet when nothing is missing.  As root it
# runs 'apt-get update' once and installs what is missing without asking;
# otherwise it prints the exact command to run and exits 1.  Works without a
# terminal or standard input (CI).

# Print the packages of list file $1 that are not installed, one a line.
augur_packages_missing()
{
    local list=$1 line pkg status
    while IFS= read -r line || [ -n "$line" ]; do
        pkg=${line%%#*}
        pkg=${pkg//[[:space:]]/}
        [ -n "$pkg" ] || continue
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != installed ]; then
            printf '%s\n' "$pkg"
        fi
    done <"$list"
}

# Install the missing packages of list file $1 (default: deploy/packages.txt
# next to this file).
augur_packages_ensure()
{
    local here list
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    list=${1:-$here/../packages.txt}
    local -a missing

    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "augur: dpkg-query not found: this is not a Debian-based system." >&2
        echo "augur: install the equivalents of: $(tr '\n' ' ' <"$list")" >&2
        exit 1
    fi
    mapfile -t missing < <(augur_packages_missing "$list")
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "augur: missing Debian packages: ${missing[*]}" >&2
        echo "augur: install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "==> installing missing packages: ${missing[*]}"
    if [ -z "${AUGUR_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
        AUGUR_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" </dev/null
    mapfile -t missing < <(augur_packages_missing "$list")
    if [ "${#missing[@]}" -ne 0 ]; then
        echo "augur: still missing after apt-get install: ${missing[*]}" >&2
        exit 1
    fi
}
