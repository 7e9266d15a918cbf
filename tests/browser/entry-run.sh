#!/usr/bin/env bash
# Runs an aggregator and one collector (with an intake token) on free
# loopback ports against with-pg.sh's PostgreSQL, and the data-entry page's
# browser test against the collector; then checks in PostgreSQL what the
# page sent.   usage: with-pg.sh tests/browser/entry-run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
src=$(cd "$here/../.." && pwd)
data=$src/deploy/data
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "entry browser test: needs chromium, node and npm (deploy/install-deps.sh installs them)" >&2
    exit 77
fi
work=$(mktemp -d /tmp/pufa-entry.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_log() { # FILE PATTERN
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "entry browser test: '$2' never appeared in $1" >&2; cat "$1" >&2; return 1
}

"$build/cli/pufa" migrate --db "$PUFA_TEST_DB" --org-units "$data/demo_tree.csv" \
    --units "$data/units.csv" >/dev/null
"$build/aggregator/pufa-aggregator" --insecure --listen tcp://127.0.0.1:0 \
    --feed tcp://127.0.0.1:0 --http 127.0.0.1:0 --db "$PUFA_TEST_DB user=pufa_aggregator" \
    --home 100000 2>"$work/agg.log" & pids+=($!)
wait_log "$work/agg.log" AGG-READY
listen=$(grep -o 'id=AGG-LISTEN endpoint=[^ ]*' "$work/agg.log" | cut -d= -f3)
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token"
chmod 600 "$work/token"
"$build/collector/pufa-collector" --insecure --county 150821 --aggregator "$listen" \
    --spool "$work/spool" --http 127.0.0.1:0 --org-units "$data/org_units.csv" \
    --units "$data/units.csv" --token-file "$work/token" --ack-timeout 1s \
    2>"$work/col.log" & pids+=($!)
wait_log "$work/col.log" COL-READY
cport=$(grep -o 'id=COL-HTTP port=[0-9]*' "$work/col.log" | cut -d= -f3)

cd "$here"
want=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
have=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch (e) { "" }')
if [ "$want" != "$have" ]; then
    if ! npm ci --no-audit --no-fund >"$work/npm.log" 2>&1; then
        echo "entry browser test: 'npm ci' failed in $here:" >&2
        cat "$work/npm.log" >&2
        exit 1
    fi
fi
mkdir -p "$build/artifacts"
node entry.test.mjs "http://127.0.0.1:$cport/" "$work/token" "$build/artifacts" | tee "$work/out"
id=$(grep -o 'REPORT_ID=[0-9a-f-]*' "$work/out" | cut -d= -f2)
# What the page sent, as the city stored it: revision 3, retracted, the
# corrected figure, and the rollups without it.
row=$(psql "$PUFA_TEST_DB" -Atc "SELECT revision, retracted, participants, funds_fen, unit_name, \
    theme, title FROM reports WHERE report_id = '$id'")
echo "stored: $row"
[ "$row" = "3|t|150|1250|司法局|2|浏览器填报 宪法进社区" ] || {
    echo "not ok - the stored report is not the page's (want 3|t|150|1250|司法局|2 (宪法)|…)" >&2
    exit 1
}
live=$(psql "$PUFA_TEST_DB" -Atc "SELECT count(*) FROM reports WHERE NOT retracted")
[ "$live" = 0 ] || { echo "not ok - $live live reports after the retraction" >&2; exit 1; }
echo "ok - PostgreSQL holds revision 3, retracted, with the corrected figures"
