#!/usr/bin/env bash
# with-pg.sh [--prefix P] CMD [ARGS...]
# Starts a throwaway PostgreSQL 15 in a fresh temp folder (initdb + pg_ctl,
# as the `postgres` user when run as root: PostgreSQL refuses root), with a
# unix socket in that folder and no TCP listener, runs CMD with
#   PUFA_TEST_DB      conninfo of a superuser connection to database "pufa"
#   PUFA_TEST_PGHOST  the socket folder
#   PUFA_TEST_PGPORT  the port number naming the socket
#   PUFA_TEST_PGDATA  the data folder
#   (PUFA_TEST_PG_SHARED_BUFFERS, if set, replaces the 64MB of shared_buffers)
#   PUFA_TEST_PG_STOP, PUFA_TEST_PG_START  shell commands that stop (fast)
#                     and start the server again, for fault tests
# and always stops and removes the cluster, whatever CMD does.
# PUFA_TEST_PG_KEEP=DIR (benchmarks only): the cluster lives in DIR (a short
# path), is reused if DIR already holds one, and is stopped but kept.  --prefix P
# names the variables P_DB, P_PGHOST, … instead (PUFA_UPPER_: a second
# server for an upper level, with-pg.sh --prefix PUFA_UPPER_ with-pg.sh CMD).
set -euo pipefail
prefix=PUFA_TEST_
if [ "${1:-}" = --prefix ]; then prefix=$2; shift 2; fi

if [ $# -lt 1 ]; then
    echo "usage: with-pg.sh [--prefix P] CMD [ARGS...]" >&2
    exit 64
fi

PGBIN=${PGBIN:-}
if [ -z "$PGBIN" ]; then
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ]; then PGBIN=$d; break; fi
    done
fi
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "with-pg.sh: PostgreSQL server binaries not found (install postgresql-15)" >&2
    exit 69
fi

RUNAS=()
OWNER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "with-pg.sh: running as root needs a 'postgres' user" >&2
        exit 69
    fi
    RUNAS=(runuser -u postgres --)
    OWNER=postgres
fi

# Short path: unix socket paths are limited to ~107 bytes.
KEEP=${PUFA_TEST_PG_KEEP:-}
unset PUFA_TEST_PG_KEEP # a nested with-pg.sh (an upper level's server) gets a folder of its own
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    TMP=$(cd "$KEEP" && pwd)
else
    TMP=$(mktemp -d /tmp/pufa-pg.XXXXXX)
fi
chmod 755 "$TMP"
DATA=$TMP/data
SOCK=$TMP
LOG=$TMP/postgres.log
if [ "$OWNER" = postgres ] && [ "$(id -u)" -eq 0 ]; then chown postgres: "$TMP"; fi

cleanup() {
    local rc=$?
    if [ -n "$KEEP" ]; then # kept: stopped cleanly (no recovery at the next start)
        "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 300 stop >/dev/null 2>&1 || true
    else
        "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ $rc -ne 0 ] && [ -f "$LOG" ]; then
        echo "--- postgres log (last 30 lines) ---" >&2
        tail -n 30 "$LOG" >&2 || true
    fi
    if [ -z "$KEEP" ]; then rm -rf "$TMP"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port number only names the socket file; no TCP listener is opened.
PORT=$(( 20000 + (RANDOM % 20000) ))

REUSE=
if [ -n "$KEEP" ] && [ -f "$DATA/PG_VERSION" ]; then REUSE=1; fi
if [ -z "$REUSE" ]; then
    "${RUNAS[@]}" "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$TMP/initdb.log" 2>&1 || {
        cat "$TMP/initdb.log" >&2; exit 69; }
fi

PGOPTS="-c listen_addresses='' -c unix_socket_directories='$SOCK' -p $PORT -c fsync=${PUFA_TEST_PG_FSYNC:-on} -c max_connections=60 -c shared_buffers=${PUFA_TEST_PG_SHARED_BUFFERS:-64MB}"
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "$PGOPTS" start >/dev/null

if [ -z "$REUSE" ] || [ -z "$("$PGBIN/psql" -X -At -h "$SOCK" -p "$PORT" -U postgres -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = 'pufa'")" ]; then
    "$PGBIN/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres \
        -c "CREATE DATABASE pufa" >/dev/null
fi

export "${prefix}DB=host=$SOCK port=$PORT user=postgres dbname=pufa"
export "${prefix}PGHOST=$SOCK"
export "${prefix}PGPORT=$PORT"
export "${prefix}PGDATA=$DATA"
export "${prefix}PG_STOP=${RUNAS[*]} $PGBIN/pg_ctl -D $DATA -m fast -w stop"
export "${prefix}PG_START=${RUNAS[*]} $PGBIN/pg_ctl -D $DATA -l $LOG -w -t 60 -o \"$PGOPTS\" start"

set +e
"$@"
rc=$?
set -e
exit $rc
