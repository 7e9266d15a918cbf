#!/usr/bin/env bash
# Runs the fuzz targets for longer than CI does (ctest: 10 s each), from
# their committed corpora, and can grow those corpora or replay a finding.
#   tests/fuzz/run.sh [--seconds S | --runs N] [--jobs J] [--max-len BYTES] [--merge] [TARGET...]
#   tests/fuzz/run.sh --replay TARGET FILE...
# Targets: batch json csv xlsx http spool spool_read ack feed zap export (default: all).
# Builds build-fuzz (clang, libFuzzer, ASan+UBSan) first.  Without --seconds
# each target runs 10 million executions: minutes for the pure decoders,
# hours for spool_read, ack and feed, which touch files, threads or a
# whole model per input (a few hundred executions a second).
#
# A longer run, as grew the committed corpora: 10 minutes of one core per
# target, one target at a time on a shared machine, then merge:
#   tests/fuzz/run.sh --seconds 600 --jobs 1 --merge spool_read ack feed
# --merge adds to tests/fuzz/corpus/TARGET only the inputs that reach
# coverage the corpus lacks (libFuzzer -merge=1), so the corpus grows by a
# handful of small files; commit them.  To minimise a corpus from scratch:
#   build-fuzz/tests/fuzz/fuzz_T -merge=1 NEW_DIR tests/fuzz/corpus/T
# then replace the folder's files with NEW_DIR's (make_seeds rewrites the
# named seeds of batch, spool, spool_read, ack and feed).
#
# Findings are left as crash-*/leak-*/timeout-* files in
# build-fuzz/fuzz-runs/TARGET/ (the run prints FINDING).  Replay one with
#   tests/fuzz/run.sh --replay TARGET build-fuzz/fuzz-runs/TARGET/crash-...
# which runs the input once and prints the sanitizer's report (or the
# FUZZ_CHECK line that failed, in the stack).  Once fixed, copy it into
# tests/fuzz/corpus/TARGET/ as a regression seed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
runs=10000000; seconds=0; jobs=2; max_len=0; merge=0; replay=0; targets=()
all=(batch json csv xlsx http spool spool_read ack feed zap export)
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --seconds) seconds=$2; runs=0; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --max-len) max_len=$2; shift 2 ;;
        --merge) merge=1; shift ;;
        --replay) replay=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
                   exit 0 ;;
        -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
        *) targets+=("$1"); shift ;;
    esac
done
CC=clang cmake -S "$src" -B "$src/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPUFA_FUZZ=ON -DPUFA_SANITIZE=address,undefined >/dev/null
cmake --build "$src/build-fuzz" -j"$jobs" >/dev/null
if [ "$replay" = 1 ]; then
    [ ${#targets[@]} -ge 2 ] || { echo "run.sh: --replay TARGET FILE..." >&2; exit 64; }
    exec "$src/build-fuzz/tests/fuzz/fuzz_${targets[0]}" "${targets[@]:1}"
fi
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
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
    printf '%-10s %-8s %12s executions in %5d s\n' "$t" "$status" "${execs:-?}" \
        $(( $(date +%s) - t0 ))
    if [ "$merge" = 1 ] && [ "$status" = clean ]; then
        local before=$(ls "$src/tests/fuzz/corpus/$t" | wc -l)
        "$src/build-fuzz/tests/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 \
            "$src/tests/fuzz/corpus/$t" "$out/corpus" >"$out/merge.log" 2>&1
        printf '%-10s merged: %d -> %d files, %s bytes\n' "$t" "$before" \
            "$(ls "$src/tests/fuzz/corpus/$t" | wc -l)" \
            "$(cat "$src/tests/fuzz/corpus/$t"/* | wc -c)"
    fi
}
export -f run_one; export src runs seconds max_len merge
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
