#!/usr/bin/env bash
# README command 1: the whole pipeline on this machine.
#
#   ./deploy/local-stack.sh            install, build, start everything, load
#                                      data, print the dashboard URLs; Ctrl-C stops
#   ./deploy/local-stack.sh --federation   the same, with the nation above the
#                                      two cities, fed by their aggregators
#
# It installs what it needs (deploy/install-deps.sh), builds, starts an
# embedded PostgreSQL in DATA/pg (initdb there, run as an unprivileged user,
# unix socket only), applies the migrations, makes CURVE keys and intake
# tokens.  Each city of deploy/data/org_units.csv (巴彦淖尔市 150800 and
# 抚顺市 210400) is a deployment of its own: its database (pufa_CITY on the
# one PostgreSQL server), its aggregator (CURVE + ZAP, home = the city), its
# publisher (the city's dashboard) and one collector per county.  With
# --federation the nation 100000 runs above them (the two cities lie in
# different provinces): its database pufa_100000, its aggregator (home
# 100000, whose allow-list binds each city aggregator's key to its city) and
# publisher, and each city aggregator forwards upward (--upstream).  Then
# `pufa loadgen` runs into each city.  DATA/stack.json lists every URL and
# token file (DATA/stack-CITY.json: one city's collectors).  Running it again
# reuses DATA (reports, keys, spools).
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
#   --rate N           loadgen reports per second into each city [20]
#   --duration SECS    stop after this long (0: until Ctrl-C) [0]
#   --federation       also run the nation above the two cities
#   --verify           after the load: wait for delivery and check each city's
#                      dashboard against its loadgen ledger and SQL; with
#                      --federation also the nation's, per county and figure,
#                      against the sum of the cities and the ledgers (non-zero
#                      exit on mismatch, on a load that accepted nothing, or
#                      when delivery stalls)
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
federation=0
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
        --federation) federation=1; shift ;;
        --no-install) install=0; shift ;;
        --build-dir) build=$2; shift 2 ;;
        --no-build) do_build=0; shift ;;
        -h|--help) sed -n '2,44p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# The same two cities under their provinces and the nation: what each
# database is loaded with (a city's home is its city, the upper's the nation).
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
loadgens=()
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
    for p in "${loadgens[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
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

# The deployments: each city of org_units.csv, and with --federation the
# nation above them.  One database each on the one server.
cities=$(awk -F, 'NR > 1 && $3 == "city" { print $1 }' "$orgunits")
upper=100000
homes=$cities
[ $federation -eq 1 ] && homes="$upper $cities"
unit_name() { awk -F, -v c="$1" '$1 == c { print $2 }' "$orgtree"; }
dbinfo() { echo "host=$pgsock port=$pgport dbname=pufa_$1"; }
for h in $homes; do
    "${psql[@]}" -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'pufa_$h'" | grep -q 1 ||
        "${psql[@]}" -d postgres -c "CREATE DATABASE pufa_$h" >/dev/null
    "${runas[@]}" "$pufa" migrate --db "$(dbinfo "$h") user=postgres" --org-units "$orgtree" \
        --units "$units" >&2
done

say "== keys and tokens =="
for h in $homes; do
    [ -f "$data/keys/aggregator-$h.key" ] || "$pufa" keygen --out "$data/keys" --name "aggregator-$h" >/dev/null
done
for city in $cities; do
    : >"$data/keys/allow-$city.list.new"
    for c in $(awk -F, -v p="$city" 'NR > 1 && $3 == "county" && $4 == p { print $1 }' "$orgunits"); do
        [ -f "$data/keys/collector-$c.key" ] || "$pufa" keygen --out "$data/keys" --name "collector-$c" >/dev/null
        [ -f "$data/keys/token-$c" ] || { head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$data/keys/token-$c"; chmod 600 "$data/keys/token-$c"; }
        echo "$(cat "$data/keys/collector-$c.pub") $c" >>"$data/keys/allow-$city.list.new"
    done
    mv "$data/keys/allow-$city.list.new" "$data/keys/allow-$city.list"
done
if [ $federation -eq 1 ]; then
    # The upper level admits each city aggregator's key, for its city's counties.
    : >"$data/keys/allow-$upper.list.new"
    for city in $cities; do
        echo "$(cat "$data/keys/aggregator-$city.pub") $city" >>"$data/keys/allow-$upper.list.new"
    done
    mv "$data/keys/allow-$upper.list.new" "$data/keys/allow-$upper.list"
fi

port() { # N -> base+N, or 0 when the system chooses
    [ "$base_port" -eq 0 ] && echo 0 || echo $((base_port + $1))
}
wait_log() { # FILE PATTERN
    for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "local-stack: '$2' never appeared in $1:" >&2; tail -20 "$1" >&2; return 1
}
logval() { grep -o "$2[^ ]*" "$1" | tail -n 1 | sed "s|^$2||"; } # FILE "id=X key="

# What each deployment's services answer on, by home code.
declare -A agg_ep feed_ep agg_http dashboard
start_level() { # HOME SLOT [AGGREGATOR OPTIONS...]: its aggregator and publisher
    local h=$1 slot=$2; shift 2
    local alog=$data/logs/aggregator-$h.log plog=$data/logs/publisher-$h.log
    say "== $h $(unit_name "$h"): aggregator and publisher =="
    "$bin/aggregator/pufa-aggregator" --db "$(dbinfo "$h") user=pufa_aggregator" \
        --curve-secret-file "$data/keys/aggregator-$h.key" --allow-list "$data/keys/allow-$h.list" \
        --listen "tcp://127.0.0.1:$(port $((slot * 10)))" --feed "tcp://127.0.0.1:$(port $((slot * 10 + 1)))" \
        --http "127.0.0.1:$(port $((slot * 10 + 2)))" --home "$h" "$@" 2>>"$alog" 9>&- & started $!
    wait_log "$alog" "AGG-READY"
    agg_ep[$h]=$(logval "$alog" "id=AGG-LISTEN endpoint=")
    feed_ep[$h]=$(logval "$alog" "id=AGG-FEED endpoint=")
    agg_http[$h]=$(logval "$alog" "id=AGG-HTTP port=")
    "$bin/publisher/pufa-publisher" --db "$(dbinfo "$h") user=pufa_publisher" --feed "${feed_ep[$h]}" \
        --http "127.0.0.1:$(port $((200 + slot * 10)))" --pub "tcp://127.0.0.1:$(port $((201 + slot * 10)))" \
        --home "$h" 2>>"$plog" 9>&- & started $!
    wait_log "$plog" "PUB-SNAPSHOT"
    dashboard[$h]="http://127.0.0.1:$(logval "$plog" "id=PUB-HTTP port=")/"
}
# stack.json's entry for one deployment (no trailing comma)
level_json() { # HOME
    printf '{"code": "%s", "name": "%s", "dashboard": "%s", "aggregator": "%s", "feed": "%s", "aggregator_metrics": "http://127.0.0.1:%s/metrics", "database": "%s"' \
        "$1" "$(unit_name "$1")" "${dashboard[$1]}" "${agg_ep[$1]}" "${feed_ep[$1]}" "${agg_http[$1]}" "$(dbinfo "$1")"
}

# The upper level first, so that the cities' forwarders find it at once.
slot=0
up_opts=()
if [ $federation -eq 1 ]; then
    start_level $upper 2
    up_opts=(--upstream "${agg_ep[$upper]}" --upstream-server-public-file "$data/keys/aggregator-$upper.pub")
fi
i=0
: >"$data/run/collectors.json"
for city in $cities; do
    start_level "$city" $slot "${up_opts[@]}"
    slot=$((slot + 1))
    say "== $city $(unit_name "$city"): collectors =="
    : >"$data/run/collectors-$city.json"
    for c in $(awk -F, -v p="$city" 'NR > 1 && $3 == "county" && $4 == p { print $1 }' "$orgunits"); do
        i=$((i + 1))
        log=$data/logs/collector-$c.log
        mkdir -p "$data/drop/$c"
        "$bin/collector/pufa-collector" --county "$c" --aggregator "${agg_ep[$city]}" \
            --spool "$data/spool/$c" --drop "$data/drop/$c" --http "127.0.0.1:$(port $((100 + i)))" \
            --org-units "$orgunits" --token-file "$data/keys/token-$c" \
            --curve-server-public-file "$data/keys/aggregator-$city.pub" \
            --curve-public-file "$data/keys/collector-$c.pub" \
            --curve-secret-file "$data/keys/collector-$c.key" 2>>"$log" 9>&- & started $!
        wait_log "$log" COL-READY
        cport=$(logval "$log" "id=COL-HTTP port=")
        name=$(unit_name "$c")
        [ -n "$cport" ] || { echo "local-stack: collector $c did not start" >&2; tail "$log" >&2; exit 69; }
        entry=$(printf '{"county": "%s", "name": "%s", "city": "%s", "url": "http://127.0.0.1:%s", "token_file": "%s", "drop": "%s"}' \
            "$c" "$name" "$city" "$cport" "$data/keys/token-$c" "$data/drop/$c")
        for f in "$data/run/collectors.json" "$data/run/collectors-$city.json"; do
            [ -s "$f" ] && printf ',\n' >>"$f"
            printf '    %s' "$entry" >>"$f"
        done
        printf '  %-8s %-16s http://127.0.0.1:%s/v1/reports   token: %s\n' "$c" "$name" "$cport" "$data/keys/token-$c" >&2
    done
done

# stack.json: "dashboard", "aggregator", … name the top of the stack (the
# nation with --federation, else the first city); "cities" and "upper" all
# of them; "collectors" every county's.  stack-CITY.json: one city's.
top=$upper
[ $federation -eq 1 ] || top=${cities%%[[:space:]]*}
{
    printf '{\n  "dashboard": "%s",\n  "aggregator": "%s",\n  "feed": "%s",\n' "${dashboard[$top]}" "${agg_ep[$top]}" "${feed_ep[$top]}"
    printf '  "aggregator_metrics": "http://127.0.0.1:%s/metrics",\n' "${agg_http[$top]}"
    printf '  "database": "%s",\n' "$(dbinfo "$top")"
    [ $federation -eq 1 ] && printf '  "upper": %s},\n' "$(level_json $upper)"
    printf '  "cities": [\n'
    sep=""
    for city in $cities; do
        printf '%s    %s, "stack": "%s"}' "$sep" "$(level_json "$city")" "$data/stack-$city.json"
        sep=$',\n'
    done
    printf '\n  ],\n  "collectors": [\n%s\n  ]\n}\n' "$(cat "$data/run/collectors.json")"
} >"$data/stack.json.new"
mv "$data/stack.json.new" "$data/stack.json"
for city in $cities; do
    printf '{\n  "dashboard": "%s",\n  "collectors": [\n%s\n  ]\n}\n' "${dashboard[$city]}" \
        "$(cat "$data/run/collectors-$city.json")" >"$data/stack-$city.json"
done

feed_caught_up() { # HOME: the publisher is at the database's feed sequence
    local sd sp
    sd=$("${psql[@]}" -d "pufa_$1" -tAc "SELECT seq FROM feed_state")
    sp=$(curl -sf "${dashboard[$1]}metrics" | awk '/^pufa_publisher_seq /{print $2}')
    [ -n "$sd" ] && [ "$sd" = "$sp" ]
}
# Every collector's spool empty, and each city's publisher at its feed's
# sequence (within 60 s; 1 if not).
wait_delivered() {
    local busy u n city
    for _ in $(seq 600); do
        busy=0
        while read -r u; do
            n=$(curl -sf "$u/metrics" | awk '/^pufa_collector_spool_reports /{print $2}')
            [ "${n:-1}" = "0" ] || busy=1
        done < <(grep -o '"url": "[^"]*"' "$data/stack.json" | cut -d'"' -f4)
        for city in $cities; do feed_caught_up "$city" || busy=1; done
        [ $busy -eq 0 ] && return 0
        sleep 0.1
    done
    return 1
}
# With --verify the baseline is what the dashboards show once what the
# spools held from an earlier run (one killed, say) is delivered: reports
# arriving after it would count twice against the ledger.
if [ $verify -eq 1 ] && ! wait_delivered; then
    echo "local-stack: the spools of an earlier run were not delivered within 60 s" >&2
    exit 1
fi
for h in $homes; do
    curl -sf "${dashboard[$h]}v1/totals?window=all&by=county" >"$data/run/baseline-$h.json"
done
say ""
for city in $cities; do say "Dashboard $city $(unit_name "$city"):  ${dashboard[$city]}"; done
[ $federation -eq 1 ] && say "Dashboard $upper $(unit_name $upper) (above both cities):  ${dashboard[$upper]}"
say "Stack file: $data/stack.json   (collectors' URLs and token files)"
say "Logs:       $data/logs/"
say "Loading reports at $rate/s into each city with pufa loadgen$([ "$duration" -gt 0 ] && echo " for $duration s" || echo "; Ctrl-C stops everything")"

# One loadgen per city, each with its own ledger; the first shows progress.
quiet=""
[ -t 2 ] || quiet=--quiet
for city in $cities; do
    "$pufa" loadgen --stack "$data/stack-$city.json" --rate "$rate" --duration "${duration}s" \
        --ledger "$data/run/ledger-$city.json" $quiet 9>&- & loadgens+=($!)
    # Listed with the services: an instance that takes over after this one
    # was killed stops it too, or it would go on posting into the next
    # instance's collectors, reports that instance's ledger never saw.
    echo "$!" >>"$data/run/pids"
    quiet=--quiet
done
lg_rc=0
for p in "${loadgens[@]}"; do
    rc=0
    wait "$p" || rc=$?
    [ $rc -ne 0 ] && lg_rc=$rc
done
loadgens=()
if [ $lg_rc -ne 0 ]; then
    echo "local-stack: pufa loadgen failed (exit $lg_rc): see its message above" >&2
    exit 1
fi

[ $verify -eq 1 ] || exit 0
say "== verifying =="
sql_vs_api() { # HOME: SQL over its reports table agrees with its dashboard
    local sql api
    sql=$("${psql[@]}" -d "pufa_$1" -tAc "SELECT count(*) || ',' || coalesce(sum(participants), 0) FROM reports WHERE NOT retracted")
    api=$(curl -sf "${dashboard[$1]}v1/totals?window=all&by=none" | python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print("%d,%d" % (t["reports"], t["participants"]))')
    if [ "$sql" != "$api" ]; then
        echo "local-stack: $1: SQL says $sql (reports,participants), the dashboard $api" >&2
        return 1
    fi
    say "verify $1: SQL and the dashboard agree ($api reports,participants)"
}
if ! wait_delivered; then
    echo "local-stack: delivery did not finish within 60 s (a spool not empty, or a city's" \
        "publisher behind its database's feed sequence)" >&2
    exit 1
fi
for city in $cities; do
    "$pufa" loadgen verify --ledger "$data/run/ledger-$city.json" --dashboard "${dashboard[$city]}" \
        --baseline "$data/run/baseline-$city.json"
    sql_vs_api "$city"
done
[ $federation -eq 1 ] || exit 0

# The nation: every county's figures equal the city's (compared in full,
# per county and figure, once forwarding settled), and each city's ledger on
# top of that city's baseline.
sum_of_cities() { # the cities' by=county rows, per county and figure, as one sorted text
    for city in $cities; do curl -sf "${dashboard[$city]}v1/totals?window=all&by=county"; echo; done |
        python3 -c 'import json,sys
rows = {}
for line in sys.stdin:
    if line.strip():
        for r in json.loads(line)["rows"]:
            rows[r["key"]] = r["figures"]
for k in sorted(rows):
    print(k, " ".join("%s=%s" % (f, rows[k][f]) for f in sorted(rows[k])))'
}
upper_rows() {
    curl -sf "${dashboard[$upper]}v1/totals?window=all&by=county" | python3 -c 'import json,sys
rows = {r["key"]: r["figures"] for r in json.load(sys.stdin)["rows"]}
for k in sorted(rows):
    print(k, " ".join("%s=%s" % (f, rows[k][f]) for f in sorted(rows[k])))'
}
want=$(sum_of_cities)
settled=0
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ]; do
    have=$(upper_rows || true)
    [ "$have" = "$want" ] && feed_caught_up $upper && { settled=1; break; }
    sleep 0.2
done
if [ $settled -eq 0 ]; then
    echo "local-stack: the nation's totals did not reach the sum of the cities' within 120 s;" \
        "per county (city sum, then the nation's):" >&2
    diff <(echo "$want") <(echo "$have") >&2 || true
    exit 1
fi
say "verify $upper: $(echo "$want" | wc -l) counties, every figure equal to the cities' own"
for city in $cities; do
    "$pufa" loadgen verify --ledger "$data/run/ledger-$city.json" --dashboard "${dashboard[$upper]}" \
        --baseline "$data/run/baseline-$city.json"
done
sql_vs_api $upper
