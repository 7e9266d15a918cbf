#!/usr/bin/env bash
# restore_drill.sh BUILD
# The restore drill of deploy/RUNBOOK.md ("Backups and the restore drill"),
# with the scripts of deploy/backup/ and checked against loadgen's ledgers.
#
# A city PostgreSQL with WAL archiving (pufa-wal-archive) and a nation
# PostgreSQL above it, each with its aggregator; the city aggregator forwards
# to the nation's; a publisher and three collectors at the city.
#   1. load A (pufa loadgen, ledger A) flows; a base backup is taken during it
#      (pufa-base-backup: pg_basebackup + pg_verifybackup);
#   2. load A2 (ledger A2) starts; the ids on the city primary are noted,
#      then pg_switch_wal(), and the drill waits until that segment is
#      archived: the "last archived WAL" (archive_timeout is off);
#   3. loads A and A2 go on, then end; every report acked (spools empty) and
#      forwarded (forward_pending 0); the ids on the primary noted again;
#   4. the primary is killed -9 and its data folder deleted; load B (ledger B)
#      starts at once: the collectors take it into their spools;
#   5. pufa-restore-backup restores the base backup and replays the archive
#      to its end; the aggregator reconnects by itself, the collectors
#      deliver load B;
#   6. checks: every report on the primary before the WAL switch is in the
#      restored city exactly once (reports, rollups and journal agree); the
#      reports lost are exactly those committed after the last replayed one
#      (a suffix of the commit order); ledgers A + A2 + B = restored + lost,
#      per county, reports and participants.  Prints how many acknowledged
#      reports were lost from the city;
#   7. recovery from above: pufa-refill-from-upper exports what the nation
#      holds for the city since the restore point, `pufa submit` gives it to
#      the collectors again; then the city equals ledgers A + A2 + B exactly, in
#      SQL and on the publisher's dashboard (left running: it reloads when the feed goes back).  The collectors'
#      spools could not help: they deleted those reports on the ack.
set -euo pipefail

build=$(cd "${1:?usage: restore_drill.sh BUILD}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
pufa=$build/cli/pufa
bk=$src/deploy/backup

pgbin=
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then pgbin=$d; break; fi
done
[ -n "$pgbin" ] || { echo "drill: PostgreSQL server binaries not found" >&2; exit 69; }
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(runuser -u postgres --); fi

t_start=$(date +%s.%N)
tmp=$(mktemp -d /tmp/pufa-dr.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for d in "$tmp"/c "$tmp"/n; do
        [ -f "$d/data/postmaster.pid" ] &&
            "${runas[@]}" "$pgbin/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1
    done
    if [ $rc -ne 0 ]; then
        for f in "$tmp"/c/pg.log "$tmp"/c/restore.log "$tmp"/logs/*; do
            [ -f "$f" ] && { echo "--- $f (last 15 lines) ---" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "drill: [$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%4.1f", b - a }') s] $*"; }
fail() { echo "drill: FAIL: $*" >&2; exit 1; }
poll() { # TENTHS CMD...: up to TENTHS tenths of a second for CMD to succeed
    local n=$1; shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
logval() { grep -o "$2[^ ]*" "$1" | tail -n 1 | sed "s|^$2||"; } # FILE "id=X key="
sql() { # DIR PORT SQL
    "$pgbin/psql" -X -qtA -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U postgres -d pufa -c "$3"
}
metric() { curl -sf "$1" | awk -v m="$2" '$1 == m { print $2 }'; } # URL NAME

mkdir -p "$tmp/c" "$tmp/n" "$tmp/archive" "$tmp/backups" "$tmp/logs" "$tmp/spool" "$tmp/refill"
[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp/c" "$tmp/n" "$tmp/archive" "$tmp/backups"
cport=$((20000 + RANDOM % 20000))
nport=$((cport + 1))
# The city's server: archiving on, segments switched by hand (archive_timeout
# off) so that the drill knows which segment is the last archived one.
copts="-c listen_addresses='' -c unix_socket_directories='$tmp/c' -p $cport -c max_connections=40
 -c shared_buffers=32MB -c wal_level=replica -c archive_mode=on -c archive_timeout=0
 -c archive_command='$bk/pufa-wal-archive $tmp/archive %p %f'"
copts=${copts//$'\n'/}
nopts="-c listen_addresses='' -c unix_socket_directories='$tmp/n' -p $nport -c max_connections=20 -c shared_buffers=16MB"
for lv in c n; do
    "${runas[@]}" "$pgbin/initdb" -D "$tmp/$lv/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$tmp/logs/initdb-$lv.log" 2>&1
done
"${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/c/data" -l "$tmp/c/pg.log" -w -t 60 -o "$copts" start >/dev/null
"${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/n/data" -l "$tmp/n/pg.log" -w -t 60 -o "$nopts" start >/dev/null
for lv in "c $cport" "n $nport"; do
    read -r d p <<<"$lv"
    "$pgbin/psql" -X -q -h "$tmp/$d" -p "$p" -U postgres -d postgres -c "CREATE DATABASE pufa"
    "$pufa" migrate --db "host=$tmp/$d port=$p user=postgres dbname=pufa" \
        --org-units "$src/deploy/data/demo_tree.csv" >/dev/null
done
cdb="host=$tmp/c port=$cport dbname=pufa target_session_attrs=read-write"
ndb="host=$tmp/n port=$nport dbname=pufa"

# The nation's aggregator, then the city's forwarding to it.
"$build/aggregator/pufa-aggregator" --insecure --listen tcp://127.0.0.1:0 --feed tcp://127.0.0.1:0 \
    --http 127.0.0.1:0 --db "$ndb user=pufa_aggregator" --home 100000 2>>"$tmp/logs/nation.log" &
pids+=($!)
poll 300 grep -q AGG-READY "$tmp/logs/nation.log" || fail "the nation's aggregator did not start"
nation_ep=$(logval "$tmp/logs/nation.log" "id=AGG-LISTEN endpoint=")
"$build/aggregator/pufa-aggregator" --insecure --listen tcp://127.0.0.1:0 --feed tcp://127.0.0.1:0 \
    --http 127.0.0.1:0 --db "$cdb user=pufa_aggregator" --home 150800 --upstream "$nation_ep" \
    2>>"$tmp/logs/aggregator.log" &
pids+=($!)
poll 300 grep -q AGG-READY "$tmp/logs/aggregator.log" || fail "the city's aggregator did not start"
agg_ep=$(logval "$tmp/logs/aggregator.log" "id=AGG-LISTEN endpoint=")
feed_ep=$(logval "$tmp/logs/aggregator.log" "id=AGG-FEED endpoint=")
agg_metrics="http://127.0.0.1:$(logval "$tmp/logs/aggregator.log" "id=AGG-HTTP port=")/metrics"

start_publisher() {
    : >"$tmp/logs/publisher.log"
    "$build/publisher/pufa-publisher" --feed "$feed_ep" --db "$cdb user=pufa_publisher" \
        --http 127.0.0.1:0 --pub "" --home 150800 2>>"$tmp/logs/publisher.log" &
    pub_pid=$!
    pids+=("$pub_pid")
    poll 300 grep -q "id=PUB-SNAPSHOT" "$tmp/logs/publisher.log" || fail "publisher not ready"
    dash="http://127.0.0.1:$(logval "$tmp/logs/publisher.log" "id=PUB-HTTP port=")/"
}
start_publisher

counties="150821 150822 150823"
urls=()
printf '{"collectors": [' >"$tmp/stack.json"
for c in $counties; do
    "$build/collector/pufa-collector" --insecure --county "$c" --aggregator "$agg_ep" \
        --spool "$tmp/spool/$c" --http 127.0.0.1:0 --ack-timeout 1s --backoff-max 1s \
        --heartbeat 500ms 2>>"$tmp/logs/collector-$c.log" &
    pids+=($!)
    poll 300 grep -q "id=COL-HTTP" "$tmp/logs/collector-$c.log" || fail "collector $c"
    u="http://127.0.0.1:$(logval "$tmp/logs/collector-$c.log" "id=COL-HTTP port=")"
    [ ${#urls[@]} -gt 0 ] && printf ',' >>"$tmp/stack.json"
    printf '{"county": "%s", "url": "%s"}' "$c" "$u" >>"$tmp/stack.json"
    urls+=("$u")
done
printf ']}\n' >>"$tmp/stack.json"

loadgen() { # LEDGER RATE DURATION: new reports only, so each ledger line is one row
    "$pufa" loadgen --stack "$tmp/stack.json" --rate "$2" --duration "$3" --corrections 0 \
        --retractions 0 --bad 0 --quiet --ledger "$1" 2>>"$tmp/logs/loadgen.log"
}
# Every spool empty (all acked) and nothing left to forward.
delivered() {
    local u n
    for u in "${urls[@]}"; do
        n=$(metric "$u/metrics" pufa_collector_spool_reports)
        [ "${n:-1}" = 0 ] || return 1
    done
    [ "$(metric "$agg_metrics" pufa_aggregator_forward_pending)" = 0 ]
}

# 1. Load A, and a base backup during it.
loadgen "$tmp/ledger-a.json" 150 6s &
lg=$!
pids+=("$lg")
poll 300 bash -c "[ \$(\"$pgbin/psql\" -X -qtA -h $tmp/c -p $cport -U postgres -d pufa \
    -c 'SELECT count(*) FROM reports') -ge 200 ]" || fail "no load stored within 30 s"
t0=$(date +%s.%N)
"$bk/pufa-base-backup" --dest "$tmp/backups" --archive "$tmp/archive" --keep 2 \
    --db "host=$tmp/c port=$cport user=postgres" --bindir "$pgbin" >"$tmp/logs/backup.log" 2>&1 ||
    fail "pufa-base-backup: $(cat "$tmp/logs/backup.log")"
at_backup=$(sql "$tmp/c" $cport "SELECT count(*) FROM reports")
say "base backup during load ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s," \
    "$at_backup reports stored by then): $(sed -n 's/^pufa-base-backup: //p' "$tmp/logs/backup.log" | head -n 1)"

# 2. The last archived WAL: ids committed before the switch must survive.
# Load A2 runs across the switch and after it.
loadgen "$tmp/ledger-a2.json" 150 3s &
lg2=$!
pids+=("$lg2")
sleep 1
sql "$tmp/c" $cport "SELECT report_id FROM reports ORDER BY 1" >"$tmp/before-switch.ids"
seg=$(sql "$tmp/c" $cport "SELECT pg_walfile_name(pg_switch_wal())")
poll 300 bash -c "[ \"\$(\"$pgbin/psql\" -X -qtA -h $tmp/c -p $cport -U postgres -d pufa \
    -c 'SELECT last_archived_wal >= '\\''$seg'\\'' FROM pg_stat_archiver')\" = t ]" ||
    fail "segment $seg not archived within 30 s"
say "$(wc -l <"$tmp/before-switch.ids") reports on the primary before pg_switch_wal(); segment $seg archived"

# 3. The loads end; all acked and forwarded; what the primary holds.
wait "$lg" || fail "loadgen A failed: $(tail -n 20 "$tmp/logs/loadgen.log")"
wait "$lg2" || fail "loadgen A2 failed: $(tail -n 20 "$tmp/logs/loadgen.log")"
poll 600 delivered || fail "loads A and A2 not delivered and forwarded within 60 s"
sql "$tmp/c" $cport "SELECT report_id, commit_seq, county_code, participants FROM reports ORDER BY 1" |
    tr '|' ' ' >"$tmp/primary.rows"
archived=$(sql "$tmp/c" $cport "SELECT archived_count || ' segments archived, ' || failed_count || ' failures'
    FROM pg_stat_archiver")
say "loads A and A2 acked and forwarded: $(wc -l <"$tmp/primary.rows") reports on the primary ($archived)"

# 4. Disaster: kill -9, the data folder gone.  Load B goes to the spools.
ppid=$(head -n 1 "$tmp/c/data/postmaster.pid")
kill -9 "$ppid"
rm -rf "$tmp/c/data"
# Gone before the restore starts (its socket lock names its pid).
poll 100 bash -c "! kill -0 $ppid" || fail "the killed postmaster $ppid is still there after 10 s"
say "primary killed -9 and its data folder deleted"
loadgen "$tmp/ledger-b.json" 100 3s &
lg=$!
pids+=("$lg")

# 5. Restore the newest base backup and the archive to its end.
t0=$(date +%s.%N)
"$bk/pufa-restore-backup" --backup "$tmp/backups" --archive "$tmp/archive" --pgdata "$tmp/c/data" \
    --pg-options "$copts" --log "$tmp/c/restore.log" --host "$tmp/c" --port $cport \
    --bindir "$pgbin" --timeout 120 >"$tmp/logs/restore.log" 2>&1 ||
    fail "pufa-restore-backup: $(cat "$tmp/logs/restore.log")"
say "restored in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s:" \
    "$(sed -n 's/^pufa-restore-backup: recovered in [0-9]* s: //p' "$tmp/logs/restore.log")"
since=$(sed -n 's/.*last transaction \(.*\); last archived.*/\1/p' "$tmp/logs/restore.log")
if [ -z "$since" ] || [ "$since" = none ]; then fail "the restore named no last transaction"; fi
wait "$lg" || fail "loadgen B failed: $(tail -n 20 "$tmp/logs/loadgen.log")"
poll 600 delivered || fail "load B not delivered to the restored city within 60 s"

# 6. The checks.
sql "$tmp/c" $cport "SELECT report_id FROM reports ORDER BY 1" >"$tmp/restored.ids"
stored=$(sql "$tmp/c" $cport "SELECT county_code, count(*), sum(participants) FROM reports
    WHERE NOT retracted GROUP BY 1 ORDER BY 1")
rollup=$(sql "$tmp/c" $cport "SELECT county_code, sum(reports), sum(participants)
    FROM (SELECT county_code, reports, participants FROM rollup_dim WHERE dim = 'total'
          UNION ALL SELECT county_code, reports, participants FROM rollup_journal) t
    GROUP BY 1 ORDER BY 1")
[ "$stored" = "$rollup" ] || fail "rollups disagree with reports (doubled?):
reports: $stored
rollups: $rollup"
missing=$(comm -23 "$tmp/before-switch.ids" "$tmp/restored.ids" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing reports committed before the last archived WAL are missing"
lost=$(python3 - "$tmp" <<'EOF'
import json, sys
t = sys.argv[1]
restored = set(open(t + "/restored.ids").read().split())
rows = [l.split() for l in open(t + "/primary.rows")]
kept = [int(r[1]) for r in rows if r[0] in restored]
gone = [r for r in rows if r[0] not in restored]
# The restore is a prefix of the commit order: all lost commits come after all kept ones.
if gone and kept and min(int(r[1]) for r in gone) <= max(kept):
    sys.exit("a lost report (commit %d) precedes a restored one (commit %d)"
             % (min(int(r[1]) for r in gone), max(kept)))
want = {}
for name in ("ledger-a.json", "ledger-a2.json", "ledger-b.json"):
    for c, v in json.load(open(t + "/" + name))["counties"].items():
        w = want.setdefault(c, [0, 0])
        w[0] += v["reports"]; w[1] += v["participants"]
lost = {}
for r in gone:
    l = lost.setdefault(r[2], [0, 0])
    l[0] += 1; l[1] += int(r[3])
open(t + "/lost.ids", "w").write("".join(r[0] + "\n" for r in gone))
json.dump({"counties": {c: {"reports": v[0], "participants": v[1]} for c, v in want.items()}},
          open(t + "/want.json", "w"))
print(json.dumps({"want": want, "lost": lost, "n": len(gone),
                  "commits": [min(int(r[1]) for r in gone), max(int(r[1]) for r in gone)] if gone else []}))
EOF
) || fail "commit order: $lost"
n_lost=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["n"])' "$lost")
# ledgers A + A2 + B = restored + lost, per county.
python3 - "$lost" "$stored" <<'EOF' || fail "ledgers A + A2 + B differ from restored + lost"
import json, sys
d = json.loads(sys.argv[1])
got = {l.split("|")[0]: [int(x) for x in l.split("|")[1:]] for l in sys.argv[2].splitlines()}
bad = 0
for c, (n, p) in sorted(d["want"].items()):
    g = got.get(c, [0, 0]); l = d["lost"].get(c, [0, 0])
    if [g[0] + l[0], g[1] + l[1]] != [n, p]:
        print("county %s: ledgers %d reports / %d participants, restored %d + lost %d / %d + %d"
              % (c, n, p, g[0], l[0], g[1], l[1]), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF
n_ledger=$(python3 -c 'import json; print(sum(v["reports"] for v in json.load(open("'"$tmp"'/want.json"))["counties"].values()))')
n_city=$(wc -l <"$tmp/restored.ids")
say "ledgers A + A2 + B: $n_ledger acknowledged; the restored city holds $n_city: every report committed" \
    "before the last archived WAL is there once (reports = rollups); $n_lost acknowledged reports" \
    "LOST from the city (committed after the last archived segment; commit seq" \
    "$(python3 -c 'import json,sys; print("-".join(map(str, json.loads(sys.argv[1])["commits"])))' "$lost"))"
[ "$n_lost" -gt 0 ] || fail "the drill lost nothing: it did not test the gap after the last archived WAL"
spooled=0
for u in "${urls[@]}"; do spooled=$((spooled + $(metric "$u/metrics" pufa_collector_spool_reports))); done
say "the collectors' spools hold $spooled reports: they deleted the lost ones on the ack"

# 7. Recovery from above: the nation holds what the city forwarded.
at_nation=$(comm -12 "$tmp/lost.ids" <(sql "$tmp/n" $nport "SELECT report_id FROM reports ORDER BY 1") | wc -l)
say "of the $n_lost lost reports the nation holds $at_nation (forwarded before the loss)"
"$bk/pufa-refill-from-upper" --upper-db "$ndb user=postgres" --city 150800 --since "$since" \
    --out "$tmp/refill" >"$tmp/logs/refill.log" || fail "pufa-refill-from-upper: $(cat "$tmp/logs/refill.log")"
i=0
for c in $counties; do
    if [ -s "$tmp/refill/$c.jsonl" ]; then
        "$pufa" submit --url "${urls[$i]}" --quiet --wait 30s "$tmp/refill/$c.jsonl" \
            >>"$tmp/logs/submit.log" 2>&1 || fail "pufa submit $c: $(tail -n 5 "$tmp/logs/submit.log")"
    fi
    i=$((i + 1))
done
poll 600 delivered || fail "the refill was not delivered within 60 s"
n_refill=$(find "$tmp/refill" -name "*.jsonl" -exec cat {} + | wc -l)
n_after=$(sql "$tmp/c" $cport "SELECT count(*) FROM reports")
say "refilled from the nation: $n_refill reports re-sent through the collectors, $((n_after - n_city))" \
    "new to the city, the rest duplicates; the city now holds $n_after"
# The nation got the refilled reports again from the city: duplicates there.
nat=$(sql "$tmp/n" $nport "SELECT count(*) FROM reports WHERE county_code IN ($(echo "$counties" | sed "s/\([0-9]*\)/'\1'/g; s/ /,/g"))")
nat_roll=$(sql "$tmp/n" $nport "SELECT sum(reports) FROM (SELECT reports FROM rollup_dim WHERE dim = 'total'
    UNION ALL SELECT reports FROM rollup_journal) t")
{ [ "$nat" = "$n_ledger" ] && [ "$nat_roll" = "$n_ledger" ]; } ||
    fail "the nation holds $nat reports (rollups $nat_roll) of the city, the ledgers $n_ledger"
# The publisher kept running across the restore, its feed seq ahead of the
# restored database's: the first heartbeat below its seq makes it ask
# PostgreSQL, find the database behind and reload (PUB-FEED-REWOUND), so it
# neither drops the new commits as old nor keeps the lost ones.
poll 300 grep -q "id=PUB-FEED-REWOUND" "$tmp/logs/publisher.log" ||
    fail "the publisher did not notice the restored feed went back: $(tail -n 5 "$tmp/logs/publisher.log")"
say "the publisher left running saw the feed go back:" \
    "$(grep -o 'id=PUB-FEED-REWOUND have=[0-9]* heartbeat=[0-9]* database=[0-9]*' "$tmp/logs/publisher.log" | head -n 1);" \
    "it reloaded from PostgreSQL, no restart"
seq_now() { [ "$(metric "${dash}metrics" pufa_publisher_seq)" = "$(sql "$tmp/c" $cport "SELECT seq FROM feed_state")" ]; }
poll 300 seq_now || fail "the publisher's seq $(metric "${dash}metrics" pufa_publisher_seq) is not the database's"
stored=$(sql "$tmp/c" $cport "SELECT county_code, count(*), sum(participants) FROM reports
    WHERE NOT retracted GROUP BY 1 ORDER BY 1")
want=$(python3 -c 'import json,sys
for c, v in sorted(json.load(open(sys.argv[1]))["counties"].items()): print("%s|%d|%d" % (c, v["reports"], v["participants"]))' \
    "$tmp/want.json")
[ "$stored" = "$want" ] || fail "after the refill the city differs from ledgers A + A2 + B:
ledgers: $want
stored:  $stored"
python3 - "$tmp" <<'EOF'
import json, sys
t = sys.argv[1]
ls = [json.load(open(t + "/ledger-%s.json" % x)) for x in ("a", "a2", "b")]
m = {"accepted": sum(l["accepted"] for l in ls), "live_reports": sum(l["live_reports"] for l in ls),
     "counties": {c: {k: sum(l["counties"][c][k] for l in ls) for k in f}
                  for c, f in ls[0]["counties"].items()}}
json.dump(m, open(t + "/ledger-all.json", "w"))
EOF
"$pufa" loadgen verify --ledger "$tmp/ledger-all.json" --dashboard "$dash" >"$tmp/logs/verify.log" ||
    fail "the dashboard disagrees with the ledgers: $(cat "$tmp/logs/verify.log")"
say "OK: after the refill every acknowledged report ($n_ledger) is in the city once; SQL and the" \
    "dashboard equal ledgers A + A2 + B ($(cat "$tmp/logs/verify.log"))"
say "drill took $(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"
