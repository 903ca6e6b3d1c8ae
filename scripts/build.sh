#!/usr/bin/env bash
# Installs what is missing, then configures and builds FieldSync.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake arguments…]   (default BUILD_DIR: build)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$here/build}"
shift || true
bash "$here/scripts/install-deps.sh"
jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE="${FIELDSYNC_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
# FIELDSYNC_TARGETS="a b" builds only those targets (the demo needs two, not the test suite).
targets=()
for t in ${FIELDSYNC_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
