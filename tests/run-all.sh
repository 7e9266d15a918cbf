#!/usr/bin/env bash
# README command 2: install what is needed, build, and pass every test.
#   1. deploy/install-deps.sh (toolchain, libraries, PostgreSQL 15, test tools)
#   2. a release build and the whole ctest suite (unit + integration)
#   3. an ASan+UBSan build and the unit tests under it
#   4. a clang/libFuzzer build: every fuzz target for 10 s from its corpus
# Options: --no-install (skip step 1), --no-sanitize (skip steps 3 and 4).
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
sanitize=1
for a in "$@"; do
    case "$a" in
        --no-install) install=0 ;;
        --no-sanitize) sanitize=0 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run-all.sh: unknown option $a" >&2; exit 64 ;;
    esac
done

jobs=$(nproc 2>/dev/null || echo 2)

if [ $install -eq 1 ]; then
    ./deploy/install-deps.sh
fi

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

echo "== tests =="
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

if [ $sanitize -eq 1 ]; then
    echo "== build (ASan+UBSan) =="
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPUFA_SANITIZE=address,undefined >/dev/null
    cmake --build build-asan -j"$jobs"
    echo "== unit tests under ASan+UBSan =="
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure -j"$jobs" -L unit --timeout 600)
    echo "== fuzz targets (clang, libFuzzer, ASan+UBSan; 10 s each) =="
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUFA_FUZZ=ON \
        -DPUFA_SANITIZE=address,undefined >/dev/null
    cmake --build build-fuzz -j"$jobs"
    (cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzz --timeout 600)
fi
echo "== all tests passed =="
