#!/usr/bin/env bash
# Inside a bare Debian 12 root (tests/fresh-debian-check.sh --packages): the
# packages built by tests/packages_test.sh in another root, installed with apt
# (their dependencies pulled from the archive), configured as RUNBOOK.md
# says, checked, removed and purged.
#   usage: packages_install_check.sh DEBDIR
set -euo pipefail
debs=$(cd "${1:?usage: packages_install_check.sh DEBDIR}" && pwd)
fail=0; pass=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# systemd for systemd-analyze only: the packages do not need it.
apt-get install -y -q --no-install-recommends systemd >/dev/null
before=$(dpkg-query -W -f='${Package}\n' | sort)
apt-get install -y -q --no-install-recommends "$debs"/pufa-*.deb 2>&1 | tee /tmp/install.log | grep -E '^pufa-|^Setting up pufa' || true
after=$(dpkg-query -W -f='${Package}\n' | sort)
pulled=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^pufa-' | tr '\n' ' ')
for p in common collector aggregator publisher; do
    dpkg-query -W -f='${Status}' pufa-$p 2>/dev/null | grep -q 'install ok installed' ||
        notok "pufa-$p not installed: $(tail -5 /tmp/install.log)"
done
grep -q libzmq5 <<<"$pulled" && grep -q libpq5 <<<"$pulled" &&
    dpkg-query -W -f='${Status}\n' adduser procps | grep -c 'install ok installed' | grep -q 2 &&
    ok "apt-get install ./pufa-*.deb pulled in $(wc -w <<<"$pulled") packages: $pulled" ||
    notok "apt pulled: $pulled"

getent passwd pufa | grep -q ':/var/lib/pufa:/usr/sbin/nologin$' && ok "system user: $(getent passwd pufa)" ||
    notok "pufa user: $(getent passwd pufa)"
[ "$(stat -c '%U:%G %a' /var/lib/pufa)" = "pufa:pufa 750" ] && ok "/var/lib/pufa pufa:pufa 750" ||
    notok "/var/lib/pufa: $(stat -c '%U:%G %a' /var/lib/pufa 2>&1)"
[ "$(stat -c '%U:%G %a' /etc/pufa)" = "root:pufa 750" ] && ok "/etc/pufa root:pufa 750" ||
    notok "/etc/pufa: $(stat -c '%U:%G %a' /etc/pufa 2>&1)"
for svc in aggregator collector publisher; do
    unit=/lib/systemd/system/pufa-$svc.service
    st=$(systemctl is-enabled pufa-$svc.service 2>&1 || true)
    [ "$st" = disabled ] && ok "pufa-$svc.service installed, not enabled ($st)" || notok "pufa-$svc.service: $st"
    if out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then ok "systemd-analyze verify $unit"
    else notok "systemd-analyze verify $unit: $out"; fi
done

# Configure as RUNBOOK.md "Install from the packages" says, then --check-config
# as the service's user against the installed /etc/pufa/*.ini.
pufa keygen --out /etc/pufa/keys --name aggregator >/dev/null
pufa keygen --out /etc/pufa/keys --name collector >/dev/null
pufa keygen --out /etc/pufa/keys --name publisher >/dev/null
chown pufa: /etc/pufa/keys/aggregator.key /etc/pufa/keys/collector.key /etc/pufa/keys/publisher.key
echo "$(cat /etc/pufa/keys/publisher.pub) 150800" >/etc/pufa/subscribers.list
echo "$(cat /etc/pufa/keys/collector.pub) 150821" >/etc/pufa/allow.list
cp /usr/share/pufa/org_units.csv /etc/pufa/org_units.csv
for t in intake dashboard; do
    head -c 32 /dev/urandom | base64 >/etc/pufa/$t.token
    chmod 600 /etc/pufa/$t.token && chown pufa: /etc/pufa/$t.token
done
for svc in aggregator collector publisher; do
    if out=$(runuser -u pufa -- pufa-$svc --config /etc/pufa/$svc.ini --check-config 2>&1) &&
        grep -q "configuration ok" <<<"$out"; then
        ok "runuser -u pufa -- pufa-$svc --config /etc/pufa/$svc.ini --check-config"
    else notok "pufa-$svc --check-config: $out"; fi
done
out=$(pufa --version 2>&1) && ok "pufa --version: $out" || notok "pufa --version: $out"

# remove: binaries and units go, config and data stay.
echo "a spooled report" >/var/lib/pufa/keep-me
apt-get remove -y -q pufa-collector pufa-aggregator pufa-publisher pufa-common >/tmp/remove.log 2>&1 ||
    notok "apt-get remove: $(tail -5 /tmp/remove.log)"
[ ! -e /usr/bin/pufa-collector ] && [ ! -e /lib/systemd/system/pufa-collector.service ] &&
    [ -f /etc/pufa/collector.ini ] && [ -f /etc/pufa/keys/aggregator.key ] && [ -f /var/lib/pufa/keep-me ] &&
    ok "apt-get remove: programs and units gone; /etc/pufa/*.ini, keys and /var/lib/pufa kept" ||
    notok "after remove: $(ls /usr/bin/pufa* /etc/pufa /var/lib/pufa 2>&1 | tr '\n' ' ')"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' pufa-collector)" = "rc " ] && ok "dpkg: pufa-collector rc (config kept)" ||
    notok "pufa-collector status: $(dpkg-query -W -f='${db:Status-Abbrev}' pufa-collector)"

# purge: the config goes, the data stays and apt's output says where.
apt-get purge -y -q pufa-collector pufa-aggregator pufa-publisher pufa-common >/tmp/purge.log 2>&1 ||
    notok "apt-get purge: $(tail -5 /tmp/purge.log)"
grep -E '^pufa-' /tmp/purge.log || true
[ ! -e /etc/pufa ] && [ -f /var/lib/pufa/keep-me ] && grep -q 'data stays in /var/lib/pufa' /tmp/purge.log &&
    ok "apt-get purge: /etc/pufa gone, /var/lib/pufa kept and named" ||
    notok "after purge: $(ls -R /etc/pufa 2>&1 | tr '\n' ' ') / $(ls /var/lib/pufa 2>&1)"
left=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' 'pufa-*' 2>/dev/null | grep -v ' un ' || true)
[ -z "$left" ] && ok "dpkg knows no pufa package any more" || notok "dpkg still lists: $left"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
