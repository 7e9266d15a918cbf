#!/usr/bin/env bash
# The integration path under valgrind: aggregator, publisher and a collector
# run under memcheck while the sample reports, a correction and a retraction
# go through intake, spool, commit, feed, SSE and the exports; then SIGTERM.
# Fails on any memory error or definite/indirect leak.
#   usage: with-pg.sh tests/valgrind.sh BUILD
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
data=${PUFA_SHARED_DATA:-$src/deploy/data}
[ -f "$data/org_units.csv" ] || data=$src/deploy/data
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 77; }
work=$(mktemp -d /tmp/pufa-vg.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=no)
wait_log() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
             echo "valgrind test: '$2' not in $1" >&2; cat "$1" >&2; return 1; }

# The demo cities under their provinces and the nation: home 100000 covers both.
"$build/cli/pufa" migrate --db "$PUFA_TEST_DB" --org-units "$src/deploy/data/demo_tree.csv" \
    --units "$data/units.csv" >/dev/null
"${vg[@]}" --log-file="$work/vg-agg.txt" "$build/aggregator/pufa-aggregator" --insecure \
    --listen tcp://127.0.0.1:0 --feed tcp://127.0.0.1:0 --http 127.0.0.1:0 --home 100000 \
    --db "$PUFA_TEST_DB user=pufa_aggregator" 2>"$work/agg.log" & pids+=($!)
wait_log "$work/agg.log" AGG-READY
listen=$(grep -o 'id=AGG-LISTEN endpoint=[^ ]*' "$work/agg.log" | sed 's/.*endpoint=//')
feed=$(grep -o 'id=AGG-FEED endpoint=[^ ]*' "$work/agg.log" | sed 's/.*endpoint=//')
"${vg[@]}" --log-file="$work/vg-pub.txt" "$build/publisher/pufa-publisher" --feed "$feed" \
    --db "$PUFA_TEST_DB user=pufa_publisher" --http 127.0.0.1:0 --pub tcp://127.0.0.1:0 \
    --home 100000 2>"$work/pub.log" & pids+=($!)
"${vg[@]}" --log-file="$work/vg-col.txt" "$build/collector/pufa-collector" --insecure \
    --county 150821 --aggregator "$listen" --spool "$work/spool" --http 127.0.0.1:0 \
    --drop "$work/drop" --org-units "$data/org_units.csv" 2>"$work/col.log" & pids+=($!)
wait_log "$work/pub.log" PUB-SNAPSHOT
wait_log "$work/col.log" COL-READY
cport=$(grep -o 'id=COL-HTTP port=[0-9]*' "$work/col.log" | sed 's/.*port=//')
pport=$(grep -o 'id=PUB-HTTP port=[0-9]*' "$work/pub.log" | sed 's/.*port=//')
(curl -sN --max-time 20 "http://127.0.0.1:$pport/v1/stream" >"$work/sse.txt" || true) &
"$build/cli/pufa" submit --quiet --url "http://127.0.0.1:$cport" "$data/sample_reports.csv" >/dev/null
"$build/cli/pufa" submit --quiet --url "http://127.0.0.1:$cport" "$data/sample_corrections.jsonl" >/dev/null
cp "$data/sample_reports.csv" "$work/drop/.again.csv" && mv "$work/drop/.again.csv" "$work/drop/again.csv"
curl -s -o /dev/null "http://127.0.0.1:$cport/v1/reports/3ceaaf30-8142-48ea-91d9-3080f9b439fc"
for _ in $(seq 600); do
    n=$(psql -X -At "$PUFA_TEST_DB" -c "SELECT count(*) FROM report_history")
    [ "$n" = "2" ] && break; sleep 0.1
done
[ "$n" = "2" ] || { echo "valgrind test: the corrections did not arrive" >&2; exit 1; }
for q in "totals?window=all&by=county" "totals?window=7d&by=theme" "silent?days=7" "meta" \
         "export.csv?window=all&detail=reports" "export.xlsx?window=all"; do
    curl -sf -o /dev/null "http://127.0.0.1:$pport/v1/$q"
done
wait_log "$work/col.log" COL-DROP-DONE
sleep 2
status=0
for i in 2 1 0; do
    kill -TERM "${pids[$i]}"
    if wait "${pids[$i]}"; then :; else status=$?; echo "valgrind test: process $i exited $status" >&2; fi
done
pids=()
for f in "$work"/vg-*.txt; do
    if [ -s "$f" ]; then echo "== $f"; cat "$f"; status=1; fi
done
grep -q "event: update" "$work/sse.txt" || { echo "valgrind test: no SSE update" >&2; status=1; }
[ $status -eq 0 ] && echo "valgrind: no errors, no leaks in aggregator, publisher, collector"
exit $status
