#!/usr/bin/env bash
# Runs the real stack (with-pg.sh's PostgreSQL, aggregator, publisher, one
# collector) on free loopback ports, loads the sample reports, and runs the
# browser test against it.   usage: with-pg.sh tests/browser/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
src=$(cd "$here/../.." && pwd)
data=${PUFA_SHARED_DATA:-$src/deploy/data}
[ -f "$data/org_units.csv" ] || data=$src/deploy/data
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "browser test: needs chromium, node and npm (deploy/install-deps.sh installs them)" >&2
    exit 77
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
    echo "browser test: node $(node --version) is too old: playwright-core needs 18 or newer" >&2
    exit 1
fi
work=$(mktemp -d /tmp/pufa-browser.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_log() { # FILE PATTERN
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "browser test: '$2' never appeared in $1" >&2; cat "$1" >&2; return 1
}

# The demo cities under their provinces and the nation: home 100000 covers both.
"$build/cli/pufa" migrate --db "$PUFA_TEST_DB" --org-units "$src/deploy/data/demo_tree.csv" \
    --units "$data/units.csv" >/dev/null
# The offices of 巴彦淖尔市's counties and of the city (approvals.test.mjs).
mkdir -m 700 "$work/secrets"
for c in 150802 150821 150822 150823 150824 150825 150826; do
    "$build/cli/pufa" office add --db "$PUFA_TEST_DB" --name "county-$c" --org "$c" \
        --role submitter --secret-file "$work/secrets/county-$c.secret" >/dev/null
done
"$build/cli/pufa" office add --db "$PUFA_TEST_DB" --name city-150800 --org 150800 \
    --role approver --secret-file "$work/secrets/city-150800.secret" >/dev/null
"$build/aggregator/pufa-aggregator" --insecure --listen tcp://127.0.0.1:0 \
    --feed tcp://127.0.0.1:0 --http 127.0.0.1:0 --db "$PUFA_TEST_DB user=pufa_aggregator" \
    --home 100000 2>"$work/agg.log" & pids+=($!)
wait_log "$work/agg.log" AGG-READY
listen=$(grep -o 'id=AGG-LISTEN endpoint=[^ ]*' "$work/agg.log" | cut -d= -f3)
feed=$(grep -o 'id=AGG-FEED endpoint=[^ ]*' "$work/agg.log" | cut -d= -f3)
aport=$(grep -o 'id=AGG-HTTP port=[0-9]*' "$work/agg.log" | cut -d= -f3)
# The city's publisher (巴彦淖尔市; its page's approvals go to the aggregator
# through it), and the nation's above both cities.
"$build/publisher/pufa-publisher" --feed "$feed" --db "$PUFA_TEST_DB user=pufa_publisher" \
    --http 127.0.0.1:0 --pub tcp://127.0.0.1:0 --home 150800 \
    --approvals-url "http://127.0.0.1:$aport" 2>"$work/pub.log" & pids+=($!)
"$build/publisher/pufa-publisher" --feed "$feed" --db "$PUFA_TEST_DB user=pufa_publisher" \
    --http 127.0.0.1:0 --pub tcp://127.0.0.1:0 --home 100000 --link-timeout 600s \
    2>"$work/pub-nation.log" & pids+=($!)
"$build/collector/pufa-collector" --insecure --county 150821 --aggregator "$listen" \
    --spool "$work/spool" --http 127.0.0.1:0 --org-units "$data/org_units.csv" \
    2>"$work/col.log" & pids+=($!)
wait_log "$work/pub.log" PUB-SNAPSHOT
wait_log "$work/pub-nation.log" PUB-SNAPSHOT
wait_log "$work/col.log" COL-READY
pport=$(grep -o 'id=PUB-HTTP port=[0-9]*' "$work/pub.log" | cut -d= -f3)
nport=$(grep -o 'id=PUB-HTTP port=[0-9]*' "$work/pub-nation.log" | cut -d= -f3)
cport=$(grep -o 'id=COL-HTTP port=[0-9]*' "$work/col.log" | cut -d= -f3)
"$build/cli/pufa" submit --quiet --url "http://127.0.0.1:$cport" "$data/sample_reports.csv"

# Wait until every sample report is committed and on the dashboard, so the
# test's "before" total is the whole sample (the submit above returns once
# the collector has spooled them, not once the city committed them).
# (the city's publisher counts its own counties' reports only)
expected=$(awk -F, 'NR > 1 && $3 ~ /^1508/' "$data/sample_reports.csv" | wc -l)
got=
for _ in $(seq 200); do
    got=$(curl -sf "http://127.0.0.1:$pport/v1/totals?window=all&by=none" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["reports"])' || true)
    [ "$got" = "$expected" ] && break
    sleep 0.1
done
if [ "$got" != "$expected" ]; then
    echo "browser test: the dashboard shows ${got:-nothing} reports, not the sample's $expected" >&2
    exit 1
fi

cd "$here"
# The pinned playwright-core (package-lock.json); installed again when the
# pin changed.  npm's own output is shown when it fails.
want=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
have=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch (e) { "" }')
if [ "$want" != "$have" ]; then
    if ! npm ci --no-audit --no-fund >"$work/npm.log" 2>&1; then
        echo "browser test: 'npm ci' failed in $here (node $(node --version), npm $(npm --version)):" >&2
        cat "$work/npm.log" >&2
        exit 1
    fi
fi
mkdir -p "$build/artifacts"
# This year's duty list for the office test (the publisher reads it within targets_poll).
year=$(TZ=Asia/Shanghai date +%Y)
{ echo 'year,org_code,unit_code,figure,target'; printf '%s\n' \
    "$year,150800,,participants,1000" "$year,150821,,participants,500" \
    "$year,150821,SFJ,sessions,4" "$year,150821,FY,reports,2" "$year,150822,JCY,reports,1"; } >"$work/targets.csv"
"$build/cli/pufa" migrate --db "$PUFA_TEST_DB" --targets "$work/targets.csv" >/dev/null
EXPECTED_REPORTS=$expected node dashboard.test.mjs "http://127.0.0.1:$pport/" "http://127.0.0.1:$cport/" \
    "$build/artifacts/dashboard.png"
node office.test.mjs "http://127.0.0.1:$pport/" "$build/artifacts"
# Official figures: sign in, submit, approve, unlock, on the month of the
# newest sample report of 巴彦淖尔市.
month=$(awk -F, 'NR > 1 && $3 ~ /^1508/ { print substr($7, 1, 7) }' "$data/sample_reports.csv" |
    sort | tail -1)
node approvals.test.mjs "http://127.0.0.1:$pport/" "$build/artifacts" "$work/secrets" "$month"

# The nation's page: the provinces ranked with their links (rows written
# here as a federation's aggregator would: 内蒙古 heard from now, 辽宁 an
# hour ago), a click through to a province and a city, and back.
psql -q -v ON_ERROR_STOP=1 "$PUFA_TEST_DB" -c "INSERT INTO child_links (sender, org_code, kind,
    last_seen_at, last_report_at, as_of_seq, as_of_at, lag_ms, pending) VALUES
    ('aggregator-150000', '150000', 'forwarder', now(), now(), 9, now() - interval '2 s', 80, 0),
    ('aggregator-210000', '210000', 'forwarder', now() - interval '1 h', now() - interval '1 h',
     5, now() - interval '1 h', 300, 17)"
node hierarchy.test.mjs "http://127.0.0.1:$nport/" "$build/artifacts"
