#!/usr/bin/env bash
# The long fault run: >= 100 faults (default 120) against the real stack.
#   tests/fault/long-run.sh [--faults N] [--seed S] [--rate R] [--kinds K,K,...]
# Prints each fault, then: faults injected per kind (each verified), reports
# acknowledged against their floor, lost, duplicated (cells whose figures
# differ from the ledger's), excused by corruption against the records the
# collectors themselves named as lost, and the seed.  A failing run prints
# its seed: replay with --seed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
args=("$@")
printf '%s\n' "${args[@]:-}" | grep -q -- --faults || args+=(--faults 120)
exec "$src/tests/with-pg.sh" "$src/build/tests/fault/pufa-fault" "$src/build" "${args[@]}"
