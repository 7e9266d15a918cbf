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
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
