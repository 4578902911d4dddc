#!/bin/sh
# Installs, only when missing, the Debian packages hookd builds, runs and is
# tested with. Idempotent; `apt-get update` runs first only if something is
# missing (fresh machines have stale package lists).
set -eu

PKGS="build-essential pkg-config nginx nginx-dev libpcre2-dev zlib1g-dev
      libpq-dev libcurl4-openssl-dev libjansson-dev libev-dev libssl-dev
      libcmocka-dev postgresql postgresql-contrib python3 python3-pytest
      python3-psycopg python3-requests python3-aiosmtpd wrk curl procps
      python3-yaml python3-cryptography python3-jsonschema
      postgresql-15-plpgsql-check clang
      libclang-rt-14-dev
      openssl chromium"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

# node and npm for the consumers' and providers' own libraries (tests/js):
# Debian's, unless a node with its npm is installed already
if ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi

[ -z "$missing" ] && exit 0

echo "hookd: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
