#!/usr/bin/env bash
# deploy/: every systemd unit passes `systemd-analyze verify`, and every
# reference config is loaded by its service with --check-config.
#   usage: deploy_test.sh BUILD
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/pufa-deploy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0; pass=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }

# 1. The units, with ExecStart pointing at this build instead of /usr/local/bin.
if command -v systemd-analyze >/dev/null; then
    for unit in "$src"/deploy/systemd/*.service; do
        name=$(basename "$unit" .service)
        svc=${name#pufa-}
        sed "s|/usr/local/bin/$name|$build/$svc/$name|" "$unit" >"$tmp/$name.service"
        if out=$(systemd-analyze verify "$tmp/$name.service" 2>&1) && [ -z "$out" ]; then
            ok "systemd-analyze verify $name.service"
        else
            notok "systemd-analyze verify $name.service: $out"
        fi
        grep -q '^Type=notify' "$unit" && grep -q '^WatchdogSec=' "$unit" &&
            grep -q '^RestartPreventExitStatus=64 78' "$unit" && grep -q '^NoNewPrivileges=yes' "$unit" &&
            grep -q '^ProtectSystem=strict' "$unit" && grep -q '^PrivateTmp=yes' "$unit" &&
            ok "$name.service: notify, watchdog, no restart on config errors, hardened" ||
            notok "$name.service lacks notify/watchdog/restart policy/hardening"
    done
else
    notok "systemd-analyze is not installed (deploy/install-deps.sh installs systemd)"
fi

# 2. The reference configs, with /etc/pufa and /var/lib/pufa moved into $tmp.
etc=$tmp/etc; mkdir -p "$etc/keys" "$tmp/state"
"$build/cli/pufa" keygen --out "$etc/keys" --name aggregator >/dev/null
"$build/cli/pufa" keygen --out "$etc/keys" --name collector >/dev/null
"$build/cli/pufa" keygen --out "$etc/keys" --name publisher >/dev/null
echo "$(cat "$etc/keys/publisher.pub") 150800" >"$etc/subscribers.list"
: >"$etc/allow.list"
echo "$(cat "$etc/keys/collector.pub") 150821" >"$etc/allow.list"
head -c 24 /dev/urandom | base64 >"$etc/intake.token"
head -c 24 /dev/urandom | base64 >"$etc/dashboard.token"
chmod 600 "$etc/intake.token" "$etc/dashboard.token"
cp "$src/deploy/data/org_units.csv" "$etc/org_units.csv"
for svc in aggregator collector publisher; do
    sed -e "s|/etc/pufa/|$etc/|g" -e "s|/var/lib/pufa/|$tmp/state/|g" \
        "$src/deploy/config/$svc.ini" >"$tmp/$svc.ini"
    if out=$("$build/$svc/pufa-$svc" --config "$tmp/$svc.ini" --check-config 2>&1) &&
        grep -q "configuration ok" <<<"$out"; then
        ok "pufa-$svc loads deploy/config/$svc.ini"
    else
        notok "pufa-$svc --check-config deploy/config/$svc.ini: $out"
    fi
    # Every key of the reference file is a real setting, and all of them are there.
    keys=$(grep -E '^[a-z_]+ *=' "$src/deploy/config/$svc.ini" | cut -d= -f1 | tr -d ' ' | sort)
    dumped=$(grep -E '^[a-z_]+ = ' <<<"$out" | cut -d= -f1 | tr -d ' ' | sort)
    if [ "$keys" = "$dumped" ]; then
        ok "deploy/config/$svc.ini documents every setting"
    else
        notok "deploy/config/$svc.ini and the service's settings differ: $(diff <(echo "$keys") <(echo "$dumped") | tr '\n' ' ')"
    fi
done
# A broken config is refused with exit 78 (systemd does not restart on it).
printf '[aggregator]\nlisten = a\nlisten = b\n' >"$tmp/bad.ini"
set +e; "$build/aggregator/pufa-aggregator" --config "$tmp/bad.ini" --check-config >/dev/null 2>&1; rc=$?; set -e
[ $rc -eq 78 ] && ok "a repeated key exits 78" || notok "a repeated key exited $rc, not 78"
# 3. `cmake --install`: the binaries, the data files where the installed
# programs look for them (never in this checkout), the units pointing at the
# installed binaries.
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
# The packages' build (prefix /usr) puts the units in /lib and the docs in pufa-common's folder.
unitdir=$(sed -n 's/^PUFA_SYSTEMD_UNITDIR:PATH=//p' "$build/CMakeCache.txt")
docdir=$(sed -n 's/^CMAKE_INSTALL_DOCDIR:PATH=//p' "$build/CMakeCache.txt")
docdir=${docdir:-share/doc/pufa}
root=$tmp/root
if DESTDIR=$root cmake --install "$build" >"$tmp/install.log" 2>&1; then
    missing=""
    for f in bin/pufa bin/pufa-aggregator bin/pufa-collector bin/pufa-publisher \
        share/pufa/org_units.csv share/pufa/units.csv share/pufa/config/collector.ini \
        share/pufa/sql/roles.sql "$docdir/RUNBOOK.md"; do
        [ -e "$root$prefix/$f" ] || missing="$missing $f"
    done
    for f in pufa-aggregator.service pufa-collector.service pufa-publisher.service; do
        [ -e "$root$unitdir/$f" ] || missing="$missing $unitdir/$f"
    done
    [ -z "$missing" ] && ok "cmake --install lays out binaries, data, units, configs, docs under $prefix" ||
        notok "cmake --install did not install:$missing"
    help=$("$root$prefix/bin/pufa-collector" --help 2>&1 || true)
    if grep -q "default: $prefix/share/pufa/org_units.csv" <<<"$help" && ! grep -qF "$src" <<<"$help"; then
        ok "the installed collector's default org units are $prefix/share/pufa/org_units.csv"
    else
        notok "the installed collector's --help: $(grep -i org <<<"$help")"
    fi
    help=$("$build/collector/pufa-collector" --help 2>&1 || true)
    grep -q "default: $src/deploy/data/org_units.csv" <<<"$help" &&
        ok "run from the build tree, it uses the checkout's deploy/data" ||
        notok "the build tree's collector --help: $(grep -i org <<<"$help")"
    grep -q "^ExecStart=$prefix/bin/pufa-collector " "$root$unitdir/pufa-collector.service" &&
        ok "the installed unit starts $prefix/bin/pufa-collector" ||
        notok "the installed unit's ExecStart: $(grep ExecStart "$root$unitdir/pufa-collector.service")"
else
    notok "cmake --install failed: $(tail -5 "$tmp/install.log")"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
