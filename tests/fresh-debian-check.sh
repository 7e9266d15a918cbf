#!/usr/bin/env bash
# Both README commands on a newcomer's machine: a bare Debian 12 (debootstrap
# --variant=minbase: no compiler, no cmake, no node, no PostgreSQL), the
# committed tree copied in as a fresh clone has it (git archive HEAD), each
# command run as root in a root of its own.  Nothing installed on this machine
# leaks in, which is the point: CI runs where packages were installed before.
#
# Run it before merging any change to dependencies, CMake files, install
# scripts (deploy/install-deps.sh, deploy/local-stack.sh, tests/run-all.sh) or
# package files (tests/browser/package*.json).  It is not part of the test
# command: it takes 20-40 minutes (the first run also builds the base image).
#
#   usage: tests/fresh-debian-check.sh [--test-only | --stack-only | --packages] [--keep]
#   --test-only    only README command 2 (bash .ci/run)
#   --stack-only   only README command 1 (./deploy/local-stack.sh --duration 30 --verify)
#   --packages     the Debian packages instead: built in one bare root
#                  (deploy/install-deps.sh, lintian, tests/packages_test.sh), then
#                  installed with apt in a second one (tests/packages_install_check.sh)
#   --keep         leave the roots behind for a look inside (paths printed)
# Needs root (chroot, bind mounts) and debootstrap (installed on first use).
# The base image is cached as ${TMPDIR:-/tmp}/fresh-debian-base.tar.
set -euo pipefail
cd "$(dirname "$0")/.."
cmds=('bash .ci/run' './deploy/local-stack.sh --duration 30 --verify')
keep=0
packages=0
# --packages: the root that builds the packages, then the one that installs them.
pkg_build='./deploy/install-deps.sh && apt-get install -y -q --no-install-recommends lintian >/dev/null && ./tests/packages_test.sh build-deb'
pkg_install='./tests/packages_install_check.sh /srv/debs'
for a in "$@"; do
    case "$a" in
        --test-only) cmds=("${cmds[0]}") ;;
        --stack-only) cmds=("${cmds[1]}") ;;
        --packages) packages=1; cmds=("$pkg_build" "$pkg_install") ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fresh-debian-check: unknown option $a" >&2; exit 64 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-debian-check: run as root (chroot)" >&2; exit 77; }
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "fresh-debian-check: note: uncommitted changes are not tested (git archive HEAD)" >&2
fi

base=${TMPDIR:-/tmp}/fresh-debian-base.tar
if [ ! -f "$base" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap >/dev/null; }
    mirror=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    tmp=$(mktemp -d)
    echo "fresh-debian-check: building the base image (debootstrap minbase bookworm)"
    debootstrap --variant=minbase bookworm "$tmp" ${mirror:-} >"$tmp.log" 2>&1 || { tail -5 "$tmp.log"; exit 1; }
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cp /etc/apt/sources.list.d/debian.sources "$tmp/etc/apt/sources.list.d/"
        rm -f "$tmp/etc/apt/sources.list"
    fi
    tar -C "$tmp" -cf "$base.new" . && mv "$base.new" "$base" && rm -rf "$tmp" "$tmp.log"
fi

root=""
cleanup() {
    [ -n "$root" ] || return 0
    for m in dev/pts dev sys proc; do umount -l "$root/$m" 2>/dev/null || true; done
    if [ $keep -eq 1 ]; then echo "fresh-debian-check: kept $root"; else rm -rf "$root"; fi
    root=""
}
trap cleanup EXIT

debs=""
run_fresh() { # COMMAND: in a new bare root; returns its exit status
    root=$(mktemp -d /tmp/pufa-fresh.XXXXXX)
    tar -C "$root" -xf "$base"
    chmod 755 "$root"
    mkdir -p "$root/srv/project"
    git archive HEAD | tar -C "$root/srv/project" -x
    # --packages: the packages the first root built go into the second one.
    if [ -n "$debs" ]; then mkdir -p "$root/srv/debs" && cp "$debs"/*.deb "$root/srv/debs/"; fi
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # A proxy's own CA, where this machine reaches the registries through one.
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
    for m in proc sys dev dev/pts; do mkdir -p "$root/$m"; mount --bind "/$m" "$root/$m"; done
    local rc=0
    chroot "$root" /usr/bin/env -i HOME=/root \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 \
        CI=true NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
        /bin/bash -c "cd /srv/project && $1" </dev/null || rc=$?
    if [ $packages -eq 1 ] && [ -z "$debs" ] && ls "$root"/srv/project/build-deb/pufa-*.deb >/dev/null 2>&1; then
        debs=$(mktemp -d /tmp/pufa-fresh-debs.XXXXXX)
        cp "$root"/srv/project/build-deb/pufa-*.deb "$debs/"
    fi
    cleanup
    return $rc
}

failed=0
for c in "${cmds[@]}"; do
    echo "== fresh Debian 12: $c =="
    start=$(date +%s)
    rc=0
    run_fresh "$c" || rc=$?
    echo "fresh-debian-check: '$c' exited $rc after $(( $(date +%s) - start )) s"
    [ $rc -eq 0 ] || { failed=1; [ $packages -eq 1 ] && break; }
done
[ -n "$debs" ] && rm -rf "$debs"
[ $failed -eq 0 ] && echo "fresh-debian-check: ${#cmds[@]} of ${#cmds[@]} commands passed on a bare Debian 12" ||
    echo "fresh-debian-check: FAILED" >&2
exit $failed
