#!/usr/bin/env bash
# The benchmark: builds (RelWithDebInfo), starts a throwaway PostgreSQL with
# default durability (fsync on, synchronous_commit on) and prints the table.
#   bench/run.sh [--reports N] [--backlog N] [--big] [--fed-reports N] [--fed-lag S]
#                [--no-federation | --only-federation]
#   bench/run.sh --swarm 3000   (N CURVE collectors on one aggregator, on its own)
#   bench/run.sh --trend-only   (the trend query at 1,000,000 reports, on its own)

#   bench/run.sh --stored 5000000 --ids v4 --reports 100000   (a large database, on its own)

#   bench/run.sh --national 10 [--detail-years 2]   (a nation's publisher, on its own)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
# A bigger shared_buffers than the tests use, as a production server would have.
export PUFA_TEST_PG_FSYNC=on
exec "$src/tests/with-pg.sh" "$src/build/bench/pufa-bench" "$src/build" "$@"
