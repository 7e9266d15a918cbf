#!/usr/bin/env bash
# README command 1: the whole pipeline on this machine.
#
#   ./deploy/local-stack.sh            install, build, start everything, load
#                                      data, print the dashboard URL; Ctrl-C stops
#
# It installs what it needs (deploy/install-deps.sh), builds, starts an
# embedded PostgreSQL in DATA/pg (initdb there, run as an unprivileged user,
# unix socket only), applies the migrations, makes CURVE keys and intake
# tokens, and starts the aggregator (CURVE + ZAP), the publisher and one
# collector for each county of deploy/data/org_units.csv, then runs
# `pufa loadgen` against them.  DATA/stack.json lists every URL and token
# file.  Running it again reuses DATA (reports, keys, spools).
#
# One instance per DATA folder: DATA/stack.lock is held while it runs, and a
# second instance on the same folder names the first's pid and exits 75,
# touching nothing.  A lock left by an instance that was killed (kill -9) is
# taken over: what that instance left running on DATA is stopped first.
# Ctrl-C and --duration stop everything this instance started, nothing else.
#
# Options:
#   --data DIR         where everything lives            [.local in the checkout]
#   --base-port N      first of the ports used (0: let the system choose) [17600]
#   --rate N           loadgen reports per second          [20]
#   --duration SECS    stop after this long (0: until Ctrl-C) [0]
#   --verify           after the load: wait for delivery and check the dashboard
#                      against loadgen's ledger and SQL (non-zero exit on mismatch,
#                      on a load that accepted nothing, or when delivery stalls)
#   --no-install       skip deploy/install-deps.sh
#   --build-dir DIR    use this build                      [build]
#   --no-build         use the build as it is
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
data=$src/.local
base_port=17600
rate=20
duration=0
verify=0
install=1
do_build=1
build=$src/build
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data=$2; shift 2 ;;
        --base-port) base_port=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --verify) verify=1; shift ;;
        --no-install) install=0; shift ;;
        --build-dir) build=$2; shift 2 ;;
        --no-build) do_build=0; shift ;;
        -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "local-stack: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

if [ $install -eq 1 ]; then
    say "== installing packages =="
    "$src/deploy/install-deps.sh"
fi
if [ $do_build -eq 1 ]; then
    say "== building =="
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
bin=$build
pufa=$bin/cli/pufa

mkdir -p "$data"
data=$(cd "$data" && pwd)

# The folder's lock, held on fd 9 for as long as this script runs.  No child
# keeps fd 9 (each is started with 9>&-), so the lock dies with this script
# even when it is killed with -9.
lock=$data/stack.lock
exec 9>>"$lock"
if ! flock -n 9; then
    holder=$(cat "$lock" 2>/dev/null || true)
    echo "local-stack: $data is in use by another local-stack (pid ${holder:-unknown});" \
        "stop it (Ctrl-C there, or kill -INT ${holder:-PID}) or give --data another folder" >&2
    exit 75
fi
stale=$(cat "$lock" 2>/dev/null || true)
echo $$ >"$lock"
mkdir -p "$data/keys" "$data/logs" "$data/run"
chmod 700 "$data/keys"
# A fresh log per run (the previous one is kept as .prev).
for f in "$data"/logs/*.log; do [ -f "$f" ] && mv "$f" "$f.prev"; done
orgunits=$src/deploy/data/org_units.csv
# The same two cities under their provinces and the nation, so that one home
# (100000) covers both: what the database is loaded with.
orgtree=$src/deploy/data/demo_tree.csv
units=$src/deploy/data/units.csv

# PostgreSQL refuses to run as root: as root, it runs as `postgres`.
pg_user=$(id -un)
runas=()
if [ "$(id -u)" -eq 0 ]; then
    pg_user=postgres
    runas=(runuser -u postgres --)
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgdata=$data/pg/data
pgsock=$data/pg/run
pgport=$([ "$base_port" -eq 0 ] && echo 5432 || echo $((base_port + 50)))
pids=()
stopping=0
pg_started=0

# A lock nobody holds, but with a pid in it: that instance died without
# cleaning up.  Stop what it left running on this folder (its services are
# in run/pids; its PostgreSQL is the one in pg/data).
if [ -n "$stale" ]; then
    left=()
    if [ -f "$data/run/pids" ]; then
        while read -r p; do
            [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] &&
                tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$data/" && left+=("$p")
        done <"$data/run/pids"
    fi
    say "== taking over $data from pid $stale, which is gone (${#left[@]} of its services still running) =="
    for p in "${left[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${left[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -f "$pgdata/postmaster.pid" ] && "${runas[@]}" "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        "${runas[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 9>&-
    fi
fi
: >"$data/run/pids"
started() { pids+=("$1"); echo "$1" >>"$data/run/pids"; } # PID of a service we started

stop_all() {
    [ $stopping -eq 1 ] && return
    stopping=1
    say "== stopping =="
    [ -n "${loadgen:-}" ] && kill -TERM "$loadgen" 2>/dev/null || true
    for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ $pg_started -eq 1 ]; then
        "${runas[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 9>&- || true
    fi
    : >"$data/run/pids"
    : >"$lock"
    say "stopped; data kept in $data"
}
trap 'stop_all; exit 130' INT TERM
trap 'stop_all' EXIT

say "== PostgreSQL in $data/pg (as $pg_user, unix socket only) =="
mkdir -p "$data/pg" "$pgsock"
chmod 700 "$pgsock"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$data/pg"; chmod 755 "$data"; fi
if [ ! -f "$pgdata/PG_VERSION" ]; then
    "${runas[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres -A peer -E UTF8 --locale=C.UTF-8 \
        >"$data/logs/initdb.log" 2>&1 || { cat "$data/logs/initdb.log" >&2; exit 69; }
    # Only the socket, in a folder only its owner (and root) can enter: the
    # services connect through it with their own roles.
    echo "local all all trust" >"$pgdata/pg_hba.conf"
fi
if "${runas[@]}" "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    echo "local-stack: a PostgreSQL not started by local-stack runs on $pgdata; stop it first" >&2
    exit 75
fi
"${runas[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$data/pg/postgres.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$pgsock' -c unix_socket_permissions=0700 -p $pgport" start >/dev/null 9>&-
pg_started=1
psql=("${runas[@]}" "$pgbin/psql" -X -q -h "$pgsock" -p "$pgport" -U postgres)
"${psql[@]}" -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'pufa'" | grep -q 1 ||
    "${psql[@]}" -d postgres -c "CREATE DATABASE pufa" >/dev/null
db="host=$pgsock port=$pgport dbname=pufa"
"${runas[@]}" "$pufa" migrate --db "$db user=postgres" --org-units "$orgtree" \
    --units "$units" >&2

say "== keys and tokens =="
[ -f "$data/keys/aggregator.key" ] || "$pufa" keygen --out "$data/keys" --name aggregator >/dev/null
counties=$(awk -F, 'NR > 1 && $3 == "county" { print $1 }' "$orgunits")
: >"$data/keys/allow.list.new"
for c in $counties; do
    [ -f "$data/keys/collector-$c.key" ] || "$pufa" keygen --out "$data/keys" --name "collector-$c" >/dev/null
    [ -f "$data/keys/token-$c" ] || { head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$data/keys/token-$c"; chmod 600 "$data/keys/token-$c"; }
    echo "$(cat "$data/keys/collector-$c.pub") $c" >>"$data/keys/allow.list.new"
done
mv "$data/keys/allow.list.new" "$data/keys/allow.list"

port() { # N -> base+N, or 0 when the system chooses
    [ "$base_port" -eq 0 ] && echo 0 || echo $((base_port + $1))
}
wait_log() { # FILE PATTERN
    for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "local-stack: '$2' never appeared in $1:" >&2; tail -20 "$1" >&2; return 1
}
logval() { grep -o "$2[^ ]*" "$1" | tail -n 1 | sed "s|^$2||"; } # FILE "id=X key="

say "== aggregator =="
"$bin/aggregator/pufa-aggregator" --db "$db user=pufa_aggregator" \
    --curve-secret-file "$data/keys/aggregator.key" --allow-list "$data/keys/allow.list" \
    --listen "tcp://127.0.0.1:$(port 0)" --feed "tcp://127.0.0.1:$(port 1)" \
    --http "127.0.0.1:$(port 2)" --home 100000 2>>"$data/logs/aggregator.log" 9>&- & started $!
: >"$data/logs/aggregator.log.mark"
wait_log "$data/logs/aggregator.log" "AGG-READY"
agg_ep=$(logval "$data/logs/aggregator.log" "id=AGG-LISTEN endpoint=")
feed_ep=$(logval "$data/logs/aggregator.log" "id=AGG-FEED endpoint=")
agg_http=$(logval "$data/logs/aggregator.log" "id=AGG-HTTP port=")

say "== publisher =="
"$bin/publisher/pufa-publisher" --db "$db user=pufa_publisher" --feed "$feed_ep" \
    --http "127.0.0.1:$(port 200)" --pub "tcp://127.0.0.1:$(port 201)" --home 100000 \
    2>>"$data/logs/publisher.log" 9>&- & started $!
wait_log "$data/logs/publisher.log" "PUB-SNAPSHOT"
pub_http=$(logval "$data/logs/publisher.log" "id=PUB-HTTP port=")
dashboard="http://127.0.0.1:$pub_http/"

say "== collectors =="
i=0
{
    printf '{\n  "dashboard": "%s",\n  "aggregator": "%s",\n  "feed": "%s",\n' "$dashboard" "$agg_ep" "$feed_ep"
    printf '  "aggregator_metrics": "http://127.0.0.1:%s/metrics",\n' "$agg_http"
    printf '  "database": "%s",\n  "collectors": [\n' "$db"
} >"$data/stack.json.new"
for c in $counties; do
    i=$((i + 1))
    log=$data/logs/collector-$c.log
    mkdir -p "$data/drop/$c"
    "$bin/collector/pufa-collector" --county "$c" --aggregator "$agg_ep" \
        --spool "$data/spool/$c" --drop "$data/drop/$c" --http "127.0.0.1:$(port $((100 + i)))" \
        --org-units "$orgunits" --token-file "$data/keys/token-$c" \
        --curve-server-public-file "$data/keys/aggregator.pub" \
        --curve-public-file "$data/keys/collector-$c.pub" \
        --curve-secret-file "$data/keys/collector-$c.key" 2>>"$log" 9>&- & started $!
    wait_log "$log" COL-READY
    cport=$(logval "$log" "id=COL-HTTP port=")
    name=$(awk -F, -v c="$c" '$1 == c { print $2 }' "$orgunits")
    [ -n "$cport" ] || { echo "local-stack: collector $c did not start" >&2; tail "$log" >&2; exit 69; }
    sep=$([ $i -gt 1 ] && echo "," || true)
    printf '%s    {"county": "%s", "name": "%s", "url": "http://127.0.0.1:%s", "token_file": "%s", "drop": "%s"}\n' \
        "$sep" "$c" "$name" "$cport" "$data/keys/token-$c" "$data/drop/$c" >>"$data/stack.json.new"
    printf '  %-8s %-16s http://127.0.0.1:%s/v1/reports   token: %s\n' "$c" "$name" "$cport" "$data/keys/token-$c" >&2
done
printf '  ]\n}\n' >>"$data/stack.json.new"
mv "$data/stack.json.new" "$data/stack.json"

curl -sf "${dashboard}v1/totals?window=all&by=county" >"$data/run/baseline.json"
say ""
say "Dashboard:  $dashboard"
say "Stack file: $data/stack.json   (collectors' URLs and token files)"
say "Logs:       $data/logs/"
say "Loading reports at $rate/s with pufa loadgen$([ "$duration" -gt 0 ] && echo " for $duration s" || echo "; Ctrl-C stops everything")"

ledger=$data/run/ledger.json
"$pufa" loadgen --stack "$data/stack.json" --rate "$rate" --duration "${duration}s" \
    --ledger "$ledger" $([ -t 2 ] || echo --quiet) 9>&- & loadgen=$!
lg_rc=0
wait $loadgen || lg_rc=$?
if [ $lg_rc -ne 0 ]; then
    echo "local-stack: pufa loadgen failed (exit $lg_rc): see its message above" >&2
    exit 1
fi

if [ $verify -eq 1 ]; then
    say "== verifying =="
    # Every collector's spool empty, and the publisher at the feed's sequence.
    delivered=0
    for _ in $(seq 600); do
        busy=0
        while read -r u; do
            n=$(curl -sf "$u/metrics" | awk '/^pufa_collector_spool_reports /{print $2}')
            [ "${n:-1}" = "0" ] || busy=1
        done < <(grep -o '"url": "[^"]*"' "$data/stack.json" | cut -d'"' -f4)
        seq_db=$("${psql[@]}" -d pufa -tAc "SELECT seq FROM feed_state")
        seq_pub=$(curl -sf "${dashboard}metrics" | awk '/^pufa_publisher_seq /{print $2}')
        [ $busy -eq 0 ] && [ "$seq_db" = "$seq_pub" ] && { delivered=1; break; }
        sleep 0.1
    done
    if [ $delivered -eq 0 ]; then
        echo "local-stack: delivery did not finish within 60 s (a spool not empty, or the" \
            "publisher at seq ${seq_pub:-?} behind the database's ${seq_db:-?})" >&2
        exit 1
    fi
    "$pufa" loadgen verify --ledger "$ledger" --dashboard "$dashboard" \
        --baseline "$data/run/baseline.json"
    # And SQL over the reports table agrees with the dashboard.
    sql=$("${psql[@]}" -d pufa -tAc "SELECT count(*) || ',' || coalesce(sum(participants), 0) FROM reports WHERE NOT retracted")
    api=$(curl -sf "${dashboard}v1/totals?window=all&by=none" | python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print("%d,%d" % (t["reports"], t["participants"]))')
    if [ "$sql" != "$api" ]; then
        echo "local-stack: SQL says $sql (reports,participants), the dashboard $api" >&2
        exit 1
    fi
    say "verify: SQL and the dashboard agree ($api reports,participants)"
fi
