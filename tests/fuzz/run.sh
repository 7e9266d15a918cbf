#!/usr/bin/env bash
# Runs every fuzz target for longer than CI does, from its seed corpus.
#   tests/fuzz/run.sh [--runs N | --seconds S] [--jobs J] [--max-len BYTES] [TARGET...]
# Builds build-fuzz (clang, libFuzzer, ASan+UBSan) first.  Findings are left
# as crash-*/leak-*/timeout-* files in build-fuzz/fuzz-runs/TARGET/; each one
# becomes a regression seed in tests/fuzz/corpus/TARGET/ once fixed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
runs=10000000; seconds=0; jobs=2; max_len=0; targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --seconds) seconds=$2; runs=0; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --max-len) max_len=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(batch json csv http spool zap export)
CC=clang cmake -S "$src" -B "$src/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPUFA_FUZZ=ON -DPUFA_SANITIZE=address,undefined >/dev/null
cmake --build "$src/build-fuzz" -j"$(nproc)" >/dev/null
run_one() {
    local t=$1 out=$src/build-fuzz/fuzz-runs/$1
    mkdir -p "$out/corpus"
    local limit=(-runs="$runs")
    [ "$seconds" -gt 0 ] && limit=(-max_total_time="$seconds")
    [ "$max_len" -gt 0 ] && limit+=(-max_len="$max_len")
    local t0=$(date +%s)
    (cd "$out" && "$src/build-fuzz/tests/fuzz/fuzz_$t" "${limit[@]}" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 corpus "$src/tests/fuzz/corpus/$t" >"$out/log" 2>&1) &&
        status=clean || status=FINDING
    local execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/log" | grep -o '[0-9]*$')
    printf '%-8s %-8s %12s executions in %5d s\n' "$t" "$status" "${execs:-?}" $(( $(date +%s) - t0 ))
}
export -f run_one; export src runs seconds max_len
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
