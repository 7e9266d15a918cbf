#!/usr/bin/env bash
# failover_test.sh BUILD [sync|async|both]    (default: both)
# PostgreSQL failover under load, checked against loadgen's ledger.
#
# A primary and a streaming standby (pg_basebackup -R) in temp folders on
# unix sockets, started as the postgres user.  The aggregator and the
# publisher are given a multi-host conninfo
#     host=/P,/S port=p,s target_session_attrs=read-write
# and three collectors and `pufa loadgen` drive the stack.  Mid-load the
# standby is cut off from the primary (primary_conninfo = '' + reload: its
# WAL receiver stops, as on a broken link), load goes on for a few seconds,
# the primary is killed with -9 and the standby promoted.  Then:
#   sync   (synchronous_standby_names = standby1, synchronous_commit = on):
#          commits wait for the standby, so nothing is acknowledged while it
#          is cut off; the collectors resend what was not acked, and every
#          accepted report is on the new primary exactly once: the per-county
#          report counts and participants in `reports`, in the rollups and on
#          the publisher's dashboard all equal the ledger.  Fails otherwise.
#   async  (no synchronous standby): the old primary acknowledged reports the
#          standby never received; the collectors deleted them on the ack.
#          The test prints how many acknowledged reports the failover lost
#          (it fails only if that is negative or the stack did not recover).
#   standby-read  (no failover): the standby's replay paused 3 s under load, a
#          second publisher started meanwhile with its snapshots from the
#          standby (target_session_attrs=standby): it sees the feed ahead of
#          its snapshot (gaps, counted and printed), resyncs until the standby
#          catches up, and ends with the same totals as the publisher on the
#          primary, and the ledger's.
#   both = sync async;  all = sync async standby-read.
set -euo pipefail

build=$(cd "${1:?usage: failover_test.sh BUILD [sync|async|both|standby-read|all]}" && pwd)
modes=${2:-both}
[ "$modes" = both ] && modes="sync async"
[ "$modes" = all ] && modes="sync async standby-read"
src=$(cd "$(dirname "$0")/.." && pwd)
pufa=$build/cli/pufa

pgbin=
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then pgbin=$d; break; fi
done
[ -n "$pgbin" ] || { echo "failover: PostgreSQL server binaries not found" >&2; exit 69; }
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(runuser -u postgres --); fi

tmp=
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "$tmp" ]; then
        for d in "$tmp"/p "$tmp"/s; do
            [ -f "$d/data/postmaster.pid" ] &&
                "${runas[@]}" "$pgbin/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1
        done
        if [ $rc -ne 0 ]; then
            for f in "$tmp"/p/pg.log "$tmp"/s/pg.log "$tmp"/logs/*; do
                [ -f "$f" ] && { echo "--- $f (last 15 lines) ---" >&2; tail -n 15 "$f" >&2; }
            done
        fi
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "failover[$mode]: FAIL: $*" >&2; exit 1; }
# Poll: up to $1 tenths of a second for the command to succeed.
poll() {
    local n=$1; shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
logval() { grep -o "$2[^ ]*" "$1" | tail -n 1 | sed "s|^$2||"; } # FILE "id=X key="
psql_at() { # DIR PORT SQL
    "$pgbin/psql" -X -qtA -h "$1" -p "$2" -U postgres -d pufa -c "$3"
}
pg_start() { # NAME PORT [EXTRA -c OPTIONS]
    local d=$tmp/$1
    "${runas[@]}" "$pgbin/pg_ctl" -D "$d/data" -l "$d/pg.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$d' -p $2 -c max_connections=40 -c shared_buffers=32MB $3" \
        start >/dev/null
}

# Cut the standby off (its WAL receiver stops), let the primary go on alone,
# kill it -9, promote the standby, wait for writes on it.
failover() {
    "${runas[@]}" "$pgbin/psql" -X -q -h "$tmp/s" -p $sport -U postgres -d postgres \
        -c "ALTER SYSTEM SET primary_conninfo = ''" -c "SELECT pg_reload_conf()" >/dev/null
    poll 100 bash -c "[ -z \"\$(\"$pgbin/psql\" -X -qtA -h $tmp/p -p $pport -U postgres -d postgres \
        -c \"SELECT 1 FROM pg_stat_replication\")\" ]" || fail "the standby did not disconnect"
    local acked_before
    acked_before=$(psql_at "$tmp/s" $sport "SELECT count(*) FROM reports")
    sleep 3 # the primary goes on alone (async) or waits for its standby (sync)
    local on_primary
    on_primary=$(psql_at "$tmp/p" $pport "SELECT count(*) FROM reports")
    local ppid
    ppid=$(head -n 1 "$tmp/p/data/postmaster.pid")
    kill -9 "$ppid"
    echo "failover[$mode]: cut the standby off at $acked_before reports; primary had" \
        "$on_primary when killed -9"
    "${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/s/data" -w -t 60 promote >/dev/null
    local t_promote
    t_promote=$(date +%s.%N)
    # The aggregator finds the new primary through the second host.
    poll 300 bash -c "[ \$(\"$pgbin/psql\" -X -qtA -h $tmp/s -p $sport -U postgres -d pufa \
        -c \"SELECT count(*) FROM reports\") -gt $acked_before ]" ||
        fail "nothing stored on the promoted standby within 30 s"
    echo "failover[$mode]: writes resumed on the promoted standby $(awk -v a="$t_promote" \
        -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after promote"

}

# The standby's replay paused for 3 s under load: the publisher reading its
# snapshots there sees the feed run ahead of them (gaps, resyncs) and must
# converge on the same totals as the one reading the primary.
standby_lag() {
    "$pgbin/psql" -X -q -h "$tmp/s" -p $sport -U postgres -d postgres \
        -c "SELECT pg_wal_replay_pause()" >/dev/null
    sleep 1
    # A second publisher, started now: its first snapshot comes from the
    # standby, behind the feed it subscribes to.
    "$build/publisher/pufa-publisher" --feed "$feed_ep" --http 127.0.0.1:0 --pub "" \
        --db "host=$tmp/s port=$sport dbname=pufa user=pufa_publisher target_session_attrs=standby" \
        --home 100000 2>>"$tmp/logs/publisher-standby.log" &
    pids+=($!)
    poll 300 grep -q "id=PUB-HTTP" "$tmp/logs/publisher-standby.log" || fail "publisher 2"
    dash2="http://127.0.0.1:$(logval "$tmp/logs/publisher-standby.log" "id=PUB-HTTP port=")/"
    sleep 2
    local lag_p lag_s gaps
    lag_p=$(psql_at "$tmp/p" $pport "SELECT seq FROM feed_state")
    lag_s=$(psql_at "$tmp/s" $sport "SELECT seq FROM feed_state")
    gaps=$(curl -sf "${dash2}metrics" | awk '/^pufa_publisher_gaps_total /{print $2}')
    "$pgbin/psql" -X -q -h "$tmp/s" -p $sport -U postgres -d postgres \
        -c "SELECT pg_wal_replay_resume()" >/dev/null
    echo "failover[$mode]: replay paused 3 s: feed seq $lag_p on the primary, $lag_s on the" \
        "standby; the standby publisher had seen $gaps gaps"
    [ "$lag_s" -lt "$lag_p" ] || fail "the standby did not lag"
}

run_mode() {
    tmp=$(mktemp -d /tmp/pufa-fo.XXXXXX)
    chmod 755 "$tmp"
    mkdir -p "$tmp/p" "$tmp/s" "$tmp/logs" "$tmp/spool"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$tmp/p" "$tmp/s"
    local pport=$((20000 + RANDOM % 20000)) sport
    sport=$((pport + 1))
    local sync_names=""
    [ "$mode" = sync ] && sync_names=standby1

    # The primary.  synchronous_standby_names is set once the standby is up
    # (until then every commit, CREATE DATABASE too, would wait for it), and
    # after the base backup, so the promoted standby has none and does not
    # wait for a standby of its own.
    "${runas[@]}" "$pgbin/initdb" -D "$tmp/p/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$tmp/logs/initdb.log" 2>&1
    pg_start p $pport "-c synchronous_commit=on"
    "$pgbin/psql" -X -q -h "$tmp/p" -p $pport -U postgres -d postgres -c "CREATE DATABASE pufa"
    "$pufa" migrate --db "host=$tmp/p port=$pport user=postgres dbname=pufa" \
        --org-units "$src/deploy/data/demo_tree.csv" >/dev/null

    # The standby: a base backup with -R (standby.signal + primary_conninfo);
    # cluster_name is the application_name it connects with.
    "${runas[@]}" "$pgbin/pg_basebackup" -h "$tmp/p" -p $pport -U postgres -D "$tmp/s/data" \
        -R -X stream -c fast
    pg_start s $sport "-c cluster_name=standby1 -c hot_standby=on"
    "$pgbin/psql" -X -q -h "$tmp/p" -p $pport -U postgres -d postgres \
        -c "ALTER SYSTEM SET synchronous_standby_names = '$sync_names'" \
        -c "SELECT pg_reload_conf()" >/dev/null
    local want=async
    [ "$mode" = sync ] && want=sync
    poll 300 bash -c "[ \"\$(\"$pgbin/psql\" -X -qtA -h $tmp/p -p $pport -U postgres -d postgres \
        -c \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1' AND state = 'streaming'\")\" = $want ]" ||
        fail "the standby never streamed as $want"
    echo "failover[$mode]: primary $tmp/p:$pport, standby $tmp/s:$sport streaming ($want)"

    local db="host=$tmp/p,$tmp/s port=$pport,$sport dbname=pufa target_session_attrs=read-write"
    "$build/aggregator/pufa-aggregator" --insecure --listen tcp://127.0.0.1:0 \
        --feed tcp://127.0.0.1:0 --http 127.0.0.1:0 --db "$db user=pufa_aggregator" \
        --home 100000 2>>"$tmp/logs/aggregator.log" &
    pids+=($!)
    poll 300 grep -q AGG-READY "$tmp/logs/aggregator.log" || fail "aggregator not ready"
    local agg_ep dash2=
    agg_ep=$(logval "$tmp/logs/aggregator.log" "id=AGG-LISTEN endpoint=")
    feed_ep=$(logval "$tmp/logs/aggregator.log" "id=AGG-FEED endpoint=")

    "$build/publisher/pufa-publisher" --feed "$feed_ep" --db "$db user=pufa_publisher" \
        --http 127.0.0.1:0 --pub "" --home 100000 2>>"$tmp/logs/publisher.log" &
    pids+=($!)
    poll 300 grep -q "id=PUB-HTTP" "$tmp/logs/publisher.log" || fail "publisher not ready"
    local dash
    dash="http://127.0.0.1:$(logval "$tmp/logs/publisher.log" "id=PUB-HTTP port=")/"

    local counties="150821 150822 150823" i=0 c
    printf '{"collectors": [' >"$tmp/stack.json"
    for c in $counties; do
        "$build/collector/pufa-collector" --insecure --county "$c" --aggregator "$agg_ep" \
            --spool "$tmp/spool/$c" --http 127.0.0.1:0 --ack-timeout 1s --backoff-max 1s \
            --heartbeat 500ms 2>>"$tmp/logs/collector-$c.log" &
        pids+=($!)
        poll 300 grep -q "id=COL-HTTP" "$tmp/logs/collector-$c.log" || fail "collector $c"
        [ $i -gt 0 ] && printf ',' >>"$tmp/stack.json"
        printf '{"county": "%s", "url": "http://127.0.0.1:%s"}' "$c" \
            "$(logval "$tmp/logs/collector-$c.log" "id=COL-HTTP port=")" >>"$tmp/stack.json"
        i=$((i + 1))
    done
    printf ']}\n' >>"$tmp/stack.json"

    # New reports only (no corrections, retractions or bad ones), so that
    # the ledger's count is the number of reports that must be stored.
    ${LOADGEN_WRAP:-} "$pufa" loadgen --stack "$tmp/stack.json" --rate 150 --duration 14s --corrections 0 \
        --retractions 0 --bad 0 --quiet --ledger "$tmp/ledger.json" \
        2>"$tmp/logs/loadgen.log" &
    local lg=$!
    pids+=($lg)

    # Load flowing through both servers: wait for 300 reports stored.
    poll 300 bash -c "[ \$(\"$pgbin/psql\" -X -qtA -h $tmp/p -p $pport -U postgres -d pufa \
        -c \"SELECT count(*) FROM reports\") -ge 300 ]" || fail "no load stored within 30 s"
    local wdir=$tmp/s wport=$sport
    if [ "$mode" = standby-read ]; then
        standby_lag
        wdir=$tmp/p wport=$pport
    else
        failover
    fi
    wait "$lg" || fail "loadgen failed: $(tail -n 30 "$tmp/logs/loadgen.log")"
    # Delivery done: every spool empty and the publisher at the feed's seq.
    local done=0 busy seq_db seq_pub u
    for _ in $(seq 600); do
        busy=0
        for u in $(grep -o '"url": "[^"]*"' "$tmp/stack.json" | cut -d'"' -f4); do
            n=$(curl -sf "$u/metrics" | awk '/^pufa_collector_spool_reports /{print $2}')
            [ "${n:-1}" = 0 ] || busy=1
        done
        seq_db=$(psql_at "$wdir" $wport "SELECT seq FROM feed_state")
        seq_pub=$(curl -sf "${dash}metrics" | awk '/^pufa_publisher_seq /{print $2}')
        if [ -n "$dash2" ]; then
            [ "$(curl -sf "${dash2}metrics" | awk '/^pufa_publisher_seq /{print $2}')" = "$seq_db" ] || busy=1
        fi
        [ $busy -eq 0 ] && [ "$seq_db" = "$seq_pub" ] && { done=1; break; }
        sleep 0.1
    done
    [ $done -eq 1 ] || fail "delivery did not finish in 60 s (publisher seq ${seq_pub:-?}, db $seq_db)"

    local ledger stored rollup
    ledger=$(python3 -c 'import json,sys
l = json.load(open(sys.argv[1]))
for c, v in sorted(l["counties"].items()): print("%s|%d|%d" % (c, v["reports"], v["participants"]))' \
        "$tmp/ledger.json")
    stored=$(psql_at "$wdir" $wport "SELECT county_code, count(*), sum(participants)
        FROM reports WHERE NOT retracted GROUP BY 1 ORDER BY 1")
    # The rollups: rollup_dim's totals plus the journal not yet folded in.
    rollup=$(psql_at "$wdir" $wport "SELECT county_code, sum(reports), sum(participants)
        FROM (SELECT county_code, reports, participants FROM rollup_dim WHERE dim = 'total'
              UNION ALL SELECT county_code, reports, participants FROM rollup_journal) t
        GROUP BY 1 ORDER BY 1")
    local n_ledger n_stored
    n_ledger=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["live_reports"])' "$tmp/ledger.json")
    n_stored=$(psql_at "$wdir" $wport "SELECT count(*) FROM reports")
    local lost=$((n_ledger - n_stored))
    echo "failover[$mode]: ledger $n_ledger accepted reports, $n_stored stored on the" \
        "$([ "$mode" = standby-read ] || echo "new ")primary: $lost acknowledged reports lost"
    [ "$stored" = "$rollup" ] || fail "rollups disagree with reports (doubled?):
reports: $stored
rollups: $rollup"
    if [ "$mode" = standby-read ]; then
        [ "$stored" = "$ledger" ] || fail "the primary disagrees with the ledger"
        "$pufa" loadgen verify --ledger "$tmp/ledger.json" --dashboard "$dash" || fail "dashboard"
        "$pufa" loadgen verify --ledger "$tmp/ledger.json" --dashboard "$dash2" ||
            fail "the dashboard reading the standby disagrees with the ledger"
        local t1 t2
        local strip='import json,sys; d=json.load(sys.stdin); d.pop("generated_at_ms"); print(json.dumps(d, sort_keys=True))'
        t1=$(curl -sf "${dash}v1/totals?window=all&by=county" | python3 -c "$strip")
        t2=$(curl -sf "${dash2}v1/totals?window=all&by=county" | python3 -c "$strip")
        [ "$t1" = "$t2" ] || fail "the two publishers differ:
$t1
$t2"
        echo "failover[$mode]: OK: the publisher on the standby ($(curl -sf "${dash2}metrics" |
            awk '/^pufa_publisher_gaps_total /{print $2}') gaps in all) gives the same totals as the one on the primary"
    elif [ "$mode" = sync ]; then
        [ "$stored" = "$ledger" ] || fail "the new primary disagrees with the ledger:
ledger: $ledger
stored: $stored"
        "$pufa" loadgen verify --ledger "$tmp/ledger.json" --dashboard "$dash" ||
            fail "the dashboard disagrees with the ledger"
        echo "failover[$mode]: OK: every accepted report stored once; SQL, rollups and dashboard equal the ledger"
    else
        [ $lost -ge 0 ] || fail "more reports stored than the ledger accepted"
        echo "failover[$mode]: OK: asynchronous replication lost $lost acknowledged reports"
    fi

    # Tear down this mode's stack before the next.
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    "${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/s/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
    tmp=
}

for mode in $modes; do
    case $mode in
    sync | async | standby-read) run_mode ;;
    *) echo "failover: unknown mode '$mode' (sync, async or both)" >&2; exit 64 ;;
    esac
done
