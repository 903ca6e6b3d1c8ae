#!/usr/bin/env bash
# Installs every package FieldSync needs on Debian 12 (bookworm), as root.
# Idempotent: when everything is already there it returns in well under a second.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps_dir="${FIELDSYNC_DEPS_DIR:-$here/.deps}"

packages=(
  cmake g++ make pkg-config ca-certificates
  libboost1.81-dev libssl-dev openssl libcurl4-openssl-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libsodium-dev libzstd-dev zlib1g-dev libcli11-dev libicu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev testssl.sh  # fuzzing (scripts/fuzz.sh) and the TLS scan
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# valijson is header-only, but Debian's package depends on every adapter's library
# (Qt5, Poco, MariaDB …, ~400 MB). We unpack just its headers and CMake config instead.
if [ -z "$(find "$deps_dir/valijson" -name 'valijsonConfig.cmake' 2>/dev/null | head -n1)" ]; then
  echo "install-deps: unpacking valijson headers into $deps_dir/valijson"
  mkdir -p "$deps_dir/download"
  ( cd "$deps_dir/download" && rm -f libvalijson-dev_*.deb &&
    { apt-get download libvalijson-dev 2>/dev/null || { as_root apt-get update -q && apt-get download libvalijson-dev; }; } )
  rm -rf "$deps_dir/valijson"
  dpkg-deb -x "$deps_dir"/download/libvalijson-dev_*.deb "$deps_dir/valijson"
fi
