#!/usr/bin/env bash
# Runs README command 1 (deploy/local-stack.sh) headless for a bounded time
# on system-chosen ports and a throwaway data folder, and lets it verify that
# each dashboard equals loadgen's ledger and SQL (with --federation: also the
# nation above the two cities, per county and figure, against the sum of
# the cities and the ledgers).   usage: local_stack_test.sh BUILD [--federation]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d /tmp/pufa-stack.XXXXXX)
trap 'rm -rf "$data"' EXIT
"$src/deploy/local-stack.sh" --no-install --no-build --build-dir "$1" --base-port 0 \
    --duration 15 --rate 30 --verify --data "$data" "${@:2}"
