#!/usr/bin/env bash
# tests/lib/format-check.sh: fail when a C source or header of the project is
# not formatted as .clang-format says.  Registered with ctest as format_check.
# Usage: tests/lib/format-check.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

if ! command -v clang-format >/dev/null 2>&1; then
    echo "format_check: clang-format not found (apt-get install clang-format)" >&2
    exit 1
fi

dirs=()
for d in common wire store raft api node cli predict agent include tests; do
    [ -d "$d" ] && dirs+=("$d")
done
files=()
if [ "${#dirs[@]}" -gt 0 ]; then
    mapfile -d '' -t files < <(find "${dirs[@]}" \
        \( -type d \( -name 'build*' -o -name '.cluster' \) -prune \) -o \
        \( -type f \( -name '*.c' -o -name '*.h' \) -print0 \) | sort -z)
fi
if [ "${#files[@]}" -eq 0 ]; then
    echo "format_check: no C files found under ${dirs[*]:-nothing}"
    exit 0
fi

status=0
clang-format --dry-run -Werror "${files[@]}" || status=$?
if [ "$status" -ne 0 ]; then
    echo "format_check: the files above are not formatted; fix with:" >&2
    echo "  clang-format -i \$(git ls-files '*.c' '*.h')" >&2
    exit 1
fi
echo "format_check: ${#files[@]} files formatted as .clang-format says"
