#!/usr/bin/env bash
# Installs everything pufa needs to build, test and run on Debian 12:
# the toolchain, the libraries, PostgreSQL 15 and the test tools.
# Safe to run again; uses sudo when not root.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: must run as root or with sudo available" >&2
        exit 77
    fi
fi

PKGS=(
    # toolchain
    build-essential cmake pkg-config git ca-certificates
    clang llvm libclang-rt-14-dev clang-format
    # required libraries
    libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libpq-dev libuv1-dev
    libmicrohttpd-dev libjansson-dev libcsv-dev uuid-dev libinih-dev
    libxlsxwriter-dev libsystemd-dev libcmocka-dev libsodium-dev
    # XLSX intake: libzip (the zip) and expat (the XML)
    libzip-dev libexpat1-dev
    # what a pkg-config file above names but its package does not pull in:
    # xlsxwriter.pc links -lz
    zlib1g-dev
    # database server (tests and the local stack run their own instance)
    postgresql-15 postgresql-client-15
    # test tools; the browser test drives Debian's chromium with npm's
    # playwright-core (which never downloads a browser of its own)
    python3 python3-openpyxl valgrind procps curl util-linux systemd strace
    chromium fonts-wqy-microhei
)
# LibreOffice Calc and its Python bridge, for the template filled by Calc
# headless (libreoffice_test): the build without a GUI (about 82 MB to
# download, 266 MB installed), unless a desktop LibreOffice is installed:
# libreoffice-core-nogui conflicts with libreoffice-core, and apt would
# remove the desktop one, so Calc for that core then.
PKGS+=(python3-uno)
if dpkg-query -W -f='${Status}' libreoffice-core 2>/dev/null | grep -q "install ok installed"; then
    PKGS+=(libreoffice-calc)
else
    PKGS+=(libreoffice-calc-nogui)
fi
# Node.js and npm: Debian's, unless a node with npm is already installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#PKGS[@]} packages already installed"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
