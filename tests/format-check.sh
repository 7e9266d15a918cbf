#!/usr/bin/env bash
# The C sources follow .clang-format: clang-format --dry-run --Werror over
# every .c/.h of the tree (build folders, node_modules and vendored files
# excluded).  Part of the README's test command (ctest: format_check).
#   usage: tests/format-check.sh [--fix]     --fix rewrites the files in place
# The layout is clang-format 14's (Debian 12's); another version may differ.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
if [ -z "$cf" ]; then
    echo "format-check: clang-format is not installed (deploy/install-deps.sh installs it)" >&2
    exit 77
fi
mapfile -t files < <(find . \( -path './build*' -o -path './.local' -o -path '*/node_modules' \
    -o -path '*/vendor' -o -path './.git' \) -prune -o -type f \( -name '*.c' -o -name '*.h' \) \
    -print | sort)
[ ${#files[@]} -gt 0 ] || { echo "format-check: no C files found" >&2; exit 1; }
if [ "${1:-}" = --fix ]; then
    "$cf" -i "${files[@]}"
    echo "format-check: ${#files[@]} files formatted"
    exit 0
fi
if ! "$cf" --dry-run --Werror "${files[@]}" 2>"${TMPDIR:-/tmp}/format-check.$$"; then
    n=$(grep -c 'error:' "${TMPDIR:-/tmp}/format-check.$$" || true)
    grep 'error:' "${TMPDIR:-/tmp}/format-check.$$" | cut -d: -f1 | sort | uniq -c | sed 's/^/  /' >&2
    rm -f "${TMPDIR:-/tmp}/format-check.$$"
    echo "format-check: $n places differ from .clang-format ($($cf --version | head -1));" \
        "tests/format-check.sh --fix rewrites them" >&2
    exit 1
fi
rm -f "${TMPDIR:-/tmp}/format-check.$$"
echo "format-check: ${#files[@]} files follow .clang-format"
