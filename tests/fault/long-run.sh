#!/usr/bin/env bash
# The long fault run: >= 100 faults (default 120) against the real stack,
# three levels: collectors -> city 150800 -> nation 100000, each level on a
# PostgreSQL server of its own.
#   tests/fault/long-run.sh [--faults N] [--seed S] [--rate R] [--kinds K,K,...]
#                           [--one-level]
# Every kind by default, those of the city <-> nation link too (fed-partition,
# fed-kill-city, fed-upper-restart, fed-cursor-reset); --one-level runs
# without the nation (and without those kinds).
# Prints each fault, then: faults injected per kind (each verified), reports
# acknowledged against their floor, lost, duplicated (cells whose figures
# differ from the ledger's), excused by corruption against the records the
# collectors themselves named as lost, and the seed.  A failing run prints
# its seed: replay with --seed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
args=()
fed=1
for a in "$@"; do
    if [ "$a" = --one-level ]; then fed=0; else args+=("$a"); fi
done
printf '%s\n' "${args[@]:-}" | grep -q -- --faults || args+=(--faults 120)
if [ $fed -eq 0 ]; then
    exec "$src/tests/with-pg.sh" "$src/build/tests/fault/pufa-fault" "$src/build" "${args[@]}"
fi
exec "$src/tests/with-pg.sh" --prefix PUFA_UPPER_ "$src/tests/with-pg.sh" \
    "$src/build/tests/fault/pufa-fault" "$src/build" --federation "${args[@]}"
