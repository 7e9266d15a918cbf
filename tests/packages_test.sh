#!/usr/bin/env bash
# The Debian packages (cmake/PufaPackage.cmake): `cpack -G DEB` builds
# pufa-common, -collector, -aggregator, -publisher; their metadata and
# contents (dpkg-deb -I/-c) are what an operator installs with apt; lintian
# finds no errors (the warnings left are listed in README "Debian packages").
#   usage: packages_test.sh [BUILD]
# BUILD must be configured with -DCMAKE_INSTALL_PREFIX=/usr; without one (or
# with another prefix) a build-deb folder beside this checkout is configured
# and built (a full compile).  Run by tests/fresh-debian-check.sh --packages.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-deb}
if [ ! -f "$build/CMakeCache.txt" ] ||
    [ "$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")" != /usr ]; then
    build=$src/build-deb
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
fi
build=$(cd "$build" && pwd)
cmake --build "$build" -j"$(nproc)" >/dev/null
tmp=$(mktemp -d /tmp/pufa-packages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0; pass=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }

(cd "$build" && rm -f pufa-*.deb && cpack -G DEB >"$tmp/cpack.log" 2>&1) ||
    { cat "$tmp/cpack.log"; echo "not ok - cpack -G DEB failed"; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
for p in common collector aggregator publisher; do
    deb=$build/pufa-${p}_${version}_$arch.deb
    [ -f "$deb" ] && ok "cpack built $(basename "$deb")" || { notok "no $deb: $(ls "$build"/*.deb 2>&1)"; continue; }
    dpkg-deb -I "$deb" >"$tmp/$p.info"; dpkg-deb -c "$deb" >"$tmp/$p.list"
    dpkg-deb -e "$deb" "$tmp/$p.control"
done
field() { sed -n "s/^ $2: //p" "$tmp/$1.info"; }
has() { grep -qE " \\.$2\$" "$tmp/$1.list"; }

# Runtime dependencies found by dpkg-shlibdeps, not written by hand.
for p in collector aggregator publisher; do
    dep=$(field $p Depends)
    grep -q "pufa-common (= $version)" <<<"$dep" && grep -q 'libzmq5' <<<"$dep" &&
        grep -q 'libc6' <<<"$dep" &&
        ok "pufa-$p depends on pufa-common (= $version) and its libraries: $dep" ||
        notok "pufa-$p Depends: $dep"
done
grep -q 'libpq5' <<<"$(field aggregator Depends)" && grep -q 'libmicrohttpd12' <<<"$(field publisher Depends)" &&
    grep -q 'libuv1' <<<"$(field collector Depends)" && grep -q 'libxlsxwriter' <<<"$(field publisher Depends)" &&
    ok "each service's own libraries: aggregator libpq5, collector libuv1, publisher libmicrohttpd12 + libxlsxwriter" ||
    notok "service libraries: aggregator $(field aggregator Depends) / publisher $(field publisher Depends)"
grep -q procps <<<"$(field aggregator Depends)" && grep -q procps <<<"$(field publisher Depends)" &&
    ok "pufa-aggregator and pufa-publisher depend on procps (ExecReload=/bin/kill)" ||
    notok "no procps (ExecReload=/bin/kill): $(field aggregator Depends)"
grep -q adduser <<<"$(field common Depends)" && grep -q libpq5 <<<"$(field common Depends)" &&
    ok "pufa-common depends on adduser (postinst) and the tool's libraries" ||
    notok "pufa-common Depends: $(field common Depends)"

# Contents: the county host gets the collector, the city host the aggregator
# and publisher, everyone the tool; nothing under /usr/local.
has collector /usr/bin/pufa-collector && has collector /lib/systemd/system/pufa-collector.service &&
    has collector /etc/pufa/collector.ini && ! has collector /usr/bin/pufa &&
    ok "pufa-collector: /usr/bin/pufa-collector, its unit, /etc/pufa/collector.ini" ||
    notok "pufa-collector contents: $(awk '{print $6}' "$tmp/collector.list" | tr '\n' ' ')"
for p in aggregator publisher; do
    has $p /usr/bin/pufa-$p && has $p /lib/systemd/system/pufa-$p.service && has $p /etc/pufa/$p.ini &&
        ok "pufa-$p: /usr/bin/pufa-$p, its unit, /etc/pufa/$p.ini" ||
        notok "pufa-$p contents: $(awk '{print $6}' "$tmp/$p.list" | tr '\n' ' ')"
done
has common /usr/bin/pufa && has common /usr/share/pufa/org_units.csv && has common /usr/share/pufa/sql/roles.sql &&
    has common /usr/share/pufa/config/aggregator.ini && has common /usr/share/doc/pufa-common/RUNBOOK.md &&
    ok "pufa-common: /usr/bin/pufa, /usr/share/pufa data, SQL, reference configs, RUNBOOK" ||
    notok "pufa-common contents: $(awk '{print $6}' "$tmp/common.list" | head -30 | tr '\n' ' ')"
# The backup scripts (deploy/backup/), executable, for the db host.
bk_ok=1
for s in pufa-wal-archive pufa-wal-restore pufa-base-backup pufa-restore-backup pufa-refill-from-upper; do
    grep -qE "^-rwxr-xr-x .* \./usr/bin/$s\$" "$tmp/common.list" || bk_ok=0
done
[ $bk_ok -eq 1 ] && ok "pufa-common: the backup scripts in /usr/bin, executable" ||
    notok "pufa-common lacks a backup script: $(grep -o './usr/bin/.*' "$tmp/common.list" | tr '\n' ' ')"
if cat "$tmp"/*.list | grep -q '/usr/local'; then notok "a package holds /usr/local: $(cat "$tmp"/*.list | grep /usr/local | head -3)"
else ok "no package holds anything under /usr/local"; fi
for p in collector aggregator publisher; do
    [ "$(cat "$tmp/$p.control/conffiles")" = "/etc/pufa/$p.ini" ] &&
        ok "pufa-$p: /etc/pufa/$p.ini is a conffile" ||
        notok "pufa-$p conffiles: $(cat "$tmp/$p.control/conffiles" 2>&1)"
    # The installed unit runs the packaged binary, points at the packaged docs.
    dpkg-deb --fsys-tarfile "$build/pufa-${p}_${version}_$arch.deb" |
        tar -xO ./lib/systemd/system/pufa-$p.service >"$tmp/$p.service"
    grep -q "^ExecStart=/usr/bin/pufa-$p --config /etc/pufa/$p.ini" "$tmp/$p.service" &&
        grep -q "^Documentation=file:/usr/share/doc/pufa-common/RUNBOOK.md" "$tmp/$p.service" &&
        ok "pufa-$p.service starts /usr/bin/pufa-$p with /etc/pufa/$p.ini" ||
        notok "pufa-$p.service: $(grep -E '^(ExecStart|Documentation)' "$tmp/$p.service")"
    # Installed, not enabled nor started: no enable/start in the maintainer scripts.
    if grep -v '^ *echo ' "$tmp/$p.control/postinst" |
        grep -qE 'systemctl (enable|start)|deb-systemd-helper enable|deb-systemd-invoke start'; then
        notok "pufa-$p postinst enables or starts the unit"
    else ok "pufa-$p postinst neither enables nor starts the unit"; fi
done
grep -q 'adduser --system' "$tmp/common.control/postinst" &&
    grep -q 'install -d -o pufa -g pufa -m 0750 "$d"' "$tmp/common.control/postinst" &&
    ok "pufa-common postinst: the pufa system user, /var/lib/pufa owned by it" ||
    notok "pufa-common postinst lacks the user or /var/lib/pufa"

# lintian: no errors.  Its warnings are printed for the README's list.
if command -v lintian >/dev/null; then
    lintian --tag-display-limit 0 "$build"/pufa-*_"${version}"_"$arch".deb >"$tmp/lintian.log" 2>&1 || true
    sed 's/^/# /' "$tmp/lintian.log"
    errors=$(grep -c '^E: ' "$tmp/lintian.log" || true)
    [ "$errors" -eq 0 ] && ok "lintian: 0 errors, $(grep -c '^W: ' "$tmp/lintian.log" || true) warnings" ||
        notok "lintian: $errors errors"
else
    notok "lintian is not installed"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
