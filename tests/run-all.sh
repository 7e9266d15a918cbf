#!/usr/bin/env bash
# README command 2: install what is needed, build, and pass every test.
#   1. deploy/install-deps.sh (toolchain, libraries, PostgreSQL 15, test tools)
#   2. a release build and the whole ctest suite (unit + integration)
#   3. an ASan+UBSan build and the unit tests under it
#   4. a clang/libFuzzer build: every fuzz target for 10 s from its corpus
# Options: --no-install (skip step 1), --no-sanitize (skip steps 3 and 4),
#          --allow-skip (a test that skips itself, e.g. for want of chromium or
#          valgrind, is not a failure; without it, it is),
#          --failover (also tests/failover_test.sh: PostgreSQL primary + standby,
#          kill -9 and promote under load, sync and async, and a publisher
#          reading a lagging hot standby; about 150 s).
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
sanitize=1
allow_skip=0
failover=0
for a in "$@"; do
    case "$a" in
        --no-install) install=0 ;;
        --no-sanitize) sanitize=0 ;;
        --allow-skip) allow_skip=1 ;;
        --failover) failover=1 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run-all.sh: unknown option $a" >&2; exit 64 ;;
    esac
done

jobs=$(nproc 2>/dev/null || echo 2)
logs=$(mktemp -d /tmp/pufa-run-all.XXXXXX)
trap 'rm -rf "$logs"' EXIT

# ctest in build folder DIR with ARGS; a skipped test fails the run unless
# --allow-skip (a check that did not run has checked nothing).
run_ctest() { # DIR ARGS...
    local dir=$1; shift
    local log=$logs/$(basename "$dir").log
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600 "$@") 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || return "$rc"
    local skipped
    skipped=$(grep -E '\*\*\*(Skipped|Not Run)' "$log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' |
        tr '\n' ' ' || true) # grep finds nothing: no skip
    if [ -n "$skipped" ]; then
        if [ $allow_skip -eq 1 ]; then
            echo "run-all.sh: skipped (allowed by --allow-skip): $skipped"
        else
            echo "run-all.sh: FAILED: these tests skipped themselves: $skipped" >&2
            echo "run-all.sh: install what they need (deploy/install-deps.sh) or pass --allow-skip" >&2
            return 1
        fi
    fi
}

if [ $install -eq 1 ]; then
    ./deploy/install-deps.sh
fi

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

echo "== tests =="
run_ctest build
if [ $failover -eq 1 ]; then
    echo "== failover (synchronous and asynchronous standby, publisher on a standby) =="
    tests/failover_test.sh build all
fi

if [ $sanitize -eq 1 ]; then
    echo "== build (ASan+UBSan) =="
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPUFA_SANITIZE=address,undefined >/dev/null
    cmake --build build-asan -j"$jobs"
    echo "== unit tests under ASan+UBSan =="
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan -L unit
    echo "== fuzz targets (clang, libFuzzer, ASan+UBSan; 10 s each) =="
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUFA_FUZZ=ON \
        -DPUFA_SANITIZE=address,undefined >/dev/null
    cmake --build build-fuzz -j"$jobs"
    run_ctest build-fuzz -L fuzz
fi
echo "== all tests passed =="
