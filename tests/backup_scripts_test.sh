#!/usr/bin/env bash
# shellcheck disable=SC2015  # "A && ok || fail": ok never fails, so this is if/else
# backup_scripts_test.sh: deploy/backup/ beyond what the restore drill covers.
#   - pufa-wal-archive: copies; an identical file already there is success; a
#     different one is refused and left untouched; bad arguments are usage
#     errors; pufa-wal-restore: a missing segment is exit 1 (end of archive)
#   - each script's --help, and a missing required option named
#   - the tar format: pufa-base-backup --format tar (checksums, verified by
#     unpacking), a row written after it and archived, then
#     pufa-restore-backup from the tar: the row is there, the server promoted
#   - retention: --keep 1 leaves one backup and removes the WAL before it;
#     a damaged backup is refused by pufa-restore-backup
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bk=$src/deploy/backup
pgbin=
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then pgbin=$d; break; fi
done
[ -n "$pgbin" ] || { echo "backup_scripts_test: PostgreSQL server binaries not found" >&2; exit 69; }
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(runuser -u postgres --); fi

tmp=$(mktemp -d /tmp/pufa-bs.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    local rc=$?
    [ -f "$tmp/data/postmaster.pid" ] &&
        "${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1
    [ $rc -ne 0 ] && [ -f "$tmp/pg.log" ] && tail -n 20 "$tmp/pg.log" >&2
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }

# pufa-wal-archive / pufa-wal-restore, no server needed.
mkdir -p "$tmp/a" "$tmp/w"
head -c 65536 /dev/urandom >"$tmp/w/000000010000000000000001"
"$bk/pufa-wal-archive" "$tmp/a" "$tmp/w/000000010000000000000001" 000000010000000000000001 &&
    cmp -s "$tmp/w/000000010000000000000001" "$tmp/a/000000010000000000000001" &&
    [ -z "$(find "$tmp/a" -name '.*')" ] && ok "wal-archive copies, no temporary file left" ||
    fail "wal-archive copy"
"$bk/pufa-wal-archive" "$tmp/a" "$tmp/w/000000010000000000000001" 000000010000000000000001 &&
    ok "wal-archive: the same file again is success" || fail "wal-archive retry"
cp "$tmp/a/000000010000000000000001" "$tmp/keep"
head -c 65536 /dev/urandom >"$tmp/w/other"
if "$bk/pufa-wal-archive" "$tmp/a" "$tmp/w/other" 000000010000000000000001 2>"$tmp/err"; then
    fail "wal-archive overwrote a different file"
fi
grep -q "exists and differs.*refusing to overwrite" "$tmp/err" &&
    cmp -s "$tmp/keep" "$tmp/a/000000010000000000000001" &&
    ok "wal-archive refuses a different file and leaves the archived one: $(cat "$tmp/err")" ||
    fail "wal-archive refusal: $(cat "$tmp/err")"
rc=0; "$bk/pufa-wal-archive" "$tmp/a" "$tmp/w/x" ../evil 2>"$tmp/err" || rc=$?
[ $rc -eq 64 ] && ok "wal-archive: a name with a slash is a usage error" || fail "slash: rc $rc"
rc=0; "$bk/pufa-wal-archive" "$tmp/nope" "$tmp/w/other" 000000010000000000000002 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] && grep -q "does not exist" "$tmp/err" && ok "wal-archive: missing archive folder named" ||
    fail "missing folder: rc $rc $(cat "$tmp/err")"
"$bk/pufa-wal-restore" "$tmp/a" 000000010000000000000001 "$tmp/w/back" &&
    cmp -s "$tmp/keep" "$tmp/w/back" && ok "wal-restore copies back" || fail "wal-restore"
rc=0; "$bk/pufa-wal-restore" "$tmp/a" 000000010000000000000009 "$tmp/w/none" 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] && [ ! -s "$tmp/err" ] && ok "wal-restore: a segment not archived is exit 1, quietly" ||
    fail "wal-restore missing: rc $rc"
for s in pufa-wal-archive pufa-wal-restore pufa-base-backup pufa-restore-backup pufa-refill-from-upper; do
    "$bk/$s" --help | grep -q "^$s" || fail "$s --help"
done
ok "--help on every script"
rc=0; "$bk/pufa-base-backup" 2>"$tmp/err" || rc=$?
[ $rc -eq 64 ] && grep -q -- "--dest is required" "$tmp/err" || fail "base-backup without --dest: $rc"
rc=0; "$bk/pufa-restore-backup" --backup x 2>"$tmp/err" || rc=$?
[ $rc -eq 64 ] && grep -q -- "--archive is required" "$tmp/err" || fail "restore without --archive: $rc"
rc=0; "$bk/pufa-base-backup" --dest "$tmp" --keep 0 2>"$tmp/err" || rc=$?
[ $rc -eq 64 ] && grep -q -- "--keep must be" "$tmp/err" || fail "--keep 0: $rc"
ok "missing or bad options are named (exit 64)"

# A small cluster with archiving; tar backups; restore from tar.
mkdir -p "$tmp/arch" "$tmp/bk"
[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp/arch" "$tmp/bk" "$tmp"
port=$((20000 + RANDOM % 20000))
opts="-c listen_addresses='' -c unix_socket_directories='$tmp' -p $port -c archive_mode=on -c archive_command='$bk/pufa-wal-archive $tmp/arch %p %f'"
"${runas[@]}" "$pgbin/initdb" -D "$tmp/data" -U postgres -A trust --no-sync >/dev/null 2>&1
"${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/pg.log" -w -o "$opts" start >/dev/null
q() { "$pgbin/psql" -X -qtA -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U postgres -d postgres -c "$1"; }
q "CREATE TABLE t (i int)"
bb() { "$bk/pufa-base-backup" --dest "$tmp/bk" --archive "$tmp/arch" --format tar --keep "$1" \
    --db "host=$tmp port=$port user=postgres" --bindir "$pgbin"; }
bb 3 >"$tmp/bb.log"
sleep 1.1 # backup names are per second
q "INSERT INTO t VALUES (1)"
bb 1 >>"$tmp/bb.log"
[ "$(find "$tmp/bk" -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ] && grep -q "removed .* (more than 1 backups)" "$tmp/bb.log" &&
    grep -q "archive .*: removed [1-9][0-9]* files older than" "$tmp/bb.log" &&
    ok "--keep 1: one tar backup left, WAL before it removed: $(tail -n 1 "$tmp/bb.log")" ||
    fail "retention: $(cat "$tmp/bb.log")"
(cd "$tmp/bk"/base-* && sha256sum --quiet -c SHA256SUMS) && ok "tar backup: SHA256SUMS match" || fail "sums"
q "INSERT INTO t VALUES (2)"
q "SELECT pg_switch_wal()" >/dev/null
for _ in $(seq 100); do
    [ "$(q "SELECT last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver")" = t ] && break
    sleep 0.1
done
q "INSERT INTO t VALUES (3)" # after the last archived segment: lost
"${runas[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null
"$bk/pufa-restore-backup" --backup "$tmp/bk" --archive "$tmp/arch" --pgdata "$tmp/data" \
    --pg-options "$opts" --log "$tmp/pg.log" --host "$tmp" --port "$port" --bindir "$pgbin" \
    --timeout 60 >"$tmp/restore.log"
[ "$(q "SELECT string_agg(i::text, ',' ORDER BY i) FROM t")" = 1,2 ] &&
    [ "$(q "SELECT pg_is_in_recovery()")" = f ] && ls -d "$tmp"/data.before-restore-* >/dev/null &&
    ok "restored from tar: rows 1,2 (archived) present, 3 (after the archive) not; old folder kept aside" ||
    fail "tar restore: $(q "SELECT string_agg(i::text, ',') FROM t") $(cat "$tmp/restore.log")"
! grep -q "restore_command\|hot_standby" "$tmp/data/postgresql.auto.conf" &&
    ok "recovery settings reset after promotion" || fail "auto.conf: $(cat "$tmp/data/postgresql.auto.conf")"
# A damaged backup is refused before anything is touched.
b=$(echo "$tmp"/bk/base-*)
printf 'x' | dd of="$b/base.tar.gz" bs=1 seek=100 conv=notrunc 2>/dev/null
rc=0; "$bk/pufa-restore-backup" --backup "$tmp/bk" --archive "$tmp/arch" --pgdata "$tmp/data" \
    --host "$tmp" --port "$port" --bindir "$pgbin" 2>"$tmp/err" >/dev/null || rc=$?
[ $rc -eq 1 ] && grep -q "SHA256SUMS do not match" "$tmp/err" && [ "$(q "SELECT count(*) FROM t")" = 2 ] &&
    ok "a damaged tar backup is refused, the running cluster untouched" || fail "damaged: rc $rc $(cat "$tmp/err")"
echo "backup_scripts_test: $n checks passed"
