#!/usr/bin/env bash
# deploy/local-stack.sh holds a lock on its data folder:
#   1. a second instance on the same folder exits 75 naming the first's pid,
#      and the first's PostgreSQL and services still answer, untouched;
#   2. Ctrl-C (SIGINT) stops everything the first started, PostgreSQL too;
#   3. a lock left by an instance killed with -9 is taken over: what it left
#      running is stopped, the new instance runs, and its --duration stops it.
#   usage: local_stack_lock_test.sh BUILD
set -euo pipefail
set -m # background jobs in their own process group, SIGINT not ignored (as from a terminal)
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
data=$(mktemp -d /tmp/pufa-lock.XXXXXX)
chmod 755 "$data"
pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
# A plain command (not a function), so that $! is the script's own pid.
stack=("$src/deploy/local-stack.sh" --no-install --no-build --build-dir "$build"
    --base-port 0 --rate 5 --data "$data")
wait_exit() { # PID: its exit status, or 124 when it is still running after 60 s
    for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$1" 2>/dev/null && return 124
    wait "$1"
}
# Every process whose command line names the data folder (services, PostgreSQL).
ours() { pgrep -f -- "$data/" || true; }
cleanup() {
    for p in $(ours); do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$data"
}
trap cleanup EXIT
wait_up() { # PID: until its stack.json lists a dashboard that answers
    for _ in $(seq 600); do
        kill -0 "$1" 2>/dev/null || return 1
        if [ -s "$data/stack.json" ]; then
            url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dashboard"])' "$data/stack.json")
            curl -sf "${url}v1/totals?window=all&by=none" >/dev/null && return 0
        fi
        sleep 0.1
    done
    return 1
}
answers() { # all of this instance's services and its PostgreSQL answer
    # Each city's (and an upper level's) dashboard and aggregator.
    local levels; levels=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
for l in s["cities"] + ([s["upper"]] if "upper" in s else []):
    print(l["dashboard"], l["aggregator_metrics"])' "$data/stack.json")
    [ -n "$levels" ] || return 1
    local url m
    while read -r url m; do
        curl -sf "${url}healthz" >/dev/null || return 1
        curl -sf "${m%/metrics}/readyz" >/dev/null || return 1 # ready = its database answers
    done <<<"$levels"
    for u in $(grep -o '"url": "[^"]*"' "$data/stack.json" | cut -d'"' -f4); do
        curl -sf "$u/healthz" >/dev/null || return 1
    done
}

# 1. A first instance, then a second on the same folder.
rm -f "$data/stack.json"
"${stack[@]}" --duration 300 >"$data/first.log" 2>&1 &
first=$!
wait_up "$first" || { cat "$data/first.log"; echo "the first instance did not come up"; exit 1; }
services_before=$(sort "$data/run/pids" | tr '\n' ' ')
set +e
"${stack[@]}" --duration 5 >"$data/second.log" 2>&1
rc=$?
set -e
[ $rc -eq 75 ] && ok "a second instance on the same folder exits 75" ||
    notok "a second instance exited $rc, not 75: $(tail -3 "$data/second.log")"
grep -q "pid $first" "$data/second.log" && ok "it names the first instance's pid ($first)" ||
    notok "it does not name pid $first: $(cat "$data/second.log")"
answers && ok "the first instance's PostgreSQL, aggregators, publishers and collectors still answer" ||
    notok "the first instance stopped answering after the second one exited"
[ "$(sort "$data/run/pids" | tr '\n' ' ')" = "$services_before" ] &&
    ok "the first instance's service list is untouched" || notok "run/pids changed"

# 2. Ctrl-C stops everything it started.
kill -INT "$first"
set +e; wait_exit "$first"; rc=$?; set -e
[ $rc -eq 130 ] && ok "Ctrl-C ends the first instance (exit 130)" || notok "Ctrl-C: exit $rc"
left=$(ours | tr '\n' ' ')
[ -z "$left" ] && ok "nothing it started is left running (PostgreSQL included)" ||
    notok "left running after Ctrl-C: $left"

# 3. A killed instance's lock is taken over.
rm -f "$data/stack.json"
"${stack[@]}" --duration 300 >"$data/third.log" 2>&1 &
third=$!
wait_up "$third" || { cat "$data/third.log"; echo "the third instance did not come up"; exit 1; }
orphans=$(cat "$data/run/pids")
kill -KILL "$third"; wait_exit "$third" || true
rm -f "$data/stack.json"
set +e
"${stack[@]}" --duration 8 --verify >"$data/fourth.log" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] && ok "an instance after a kill -9 takes the lock over and runs (exit 0)" ||
    notok "the instance after kill -9 exited $rc: $(tail -5 "$data/fourth.log")"
grep -q "taking over .* from pid $third" "$data/fourth.log" && ok "it says it took over from pid $third" ||
    notok "no take-over message naming $third"
alive=""
for p in $orphans; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
[ -z "$alive" ] && ok "the killed instance's services were stopped" || notok "still running:$alive"
left=$(ours | tr '\n' ' ')
[ -z "$left" ] && ok "--duration stopped everything (PostgreSQL included)" || notok "left running: $left"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
