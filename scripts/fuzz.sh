#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in build-fuzz and runs each for SECONDS
# (default 60), one after another. Prints the executions of each target and in all; exits
# non-zero when any target finds something (its crash input is kept in build-fuzz/findings/TARGET,
# its log in build-fuzz/logs/TARGET.log).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET…]     (default: every target)
# The corpus a run grows (build-fuzz/corpus/TARGET) is kept for the next run; the seeds made from
# shared/data (build-fuzz/seeds/TARGET) are made again each time. Replay a finding with
#   build-fuzz/tests/fuzz/TARGET FILE
# and add it to tests/fuzz/regressions/TARGET/ so the normal test build replays it too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
build="${FIELDSYNC_FUZZ_BUILD_DIR:-$here/build-fuzz}"
jobs="$(nproc 2>/dev/null || echo 2)"
all_targets=(fuzz_sync_request fuzz_activity_validation fuzz_import_line fuzz_decompress fuzz_http_request)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")

bash "$here/scripts/install-deps.sh"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
build_start=$SECONDS
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DFIELDSYNC_FUZZ=ON -DFIELDSYNC_BUILD_TESTS=OFF \
  -DFIELDSYNC_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$jobs" --target fuzz_all
echo "fuzz: build took $((SECONDS - build_start)) s"

rm -rf "$build/seeds"
"$build/tests/fuzz/fuzz_make_seeds" "$build/seeds" "$here/../shared/data/activities.jsonl"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
unset FIELDSYNC_PLUGIN_PATH  # the targets load the build's own plugin only

total=0
failed=()
mkdir -p "$build/logs"
for target in "${targets[@]}"; do
  binary="$build/tests/fuzz/$target"
  if [ ! -x "$binary" ]; then
    echo "fuzz: no target $target" >&2
    failed+=("$target")
    continue
  fi
  corpus="$build/corpus/$target"
  findings="$build/findings/$target"
  mkdir -p "$corpus" "$findings"
  dirs=("$corpus")
  for d in "$build/seeds/$target" "$here/tests/fuzz/seeds/$target"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  log="$build/logs/$target.log"
  # Past findings first, each replayed whole (the fuzzing below caps inputs at -max_len).
  mapfile -t regressions < <(find "$here/tests/fuzz/regressions/$target" -type f ! -name '.*' 2>/dev/null | sort)
  if [ "${#regressions[@]}" -gt 0 ]; then
    if ! "$binary" -rss_limit_mb=2048 -timeout=10 "${regressions[@]}" >"$build/logs/$target.regressions.log" 2>&1; then
      failed+=("$target(regression)")
      echo "fuzz: $target fails a regression in tests/fuzz/regressions/$target; log $build/logs/$target.regressions.log" >&2
      grep -E "Running:|SUMMARY|FUZZ_CHECK" "$build/logs/$target.regressions.log" | tail -n 4 >&2 || true
    fi
  fi
  echo "== $target for $seconds s =="
  rc=0
  "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$findings/" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  runs="${runs:-0}"
  total=$((total + runs))
  if [ "$rc" -ne 0 ]; then
    failed+=("$target")
    echo "fuzz: $target FOUND SOMETHING (exit $rc) after $runs executions; input in $findings, log $log" >&2
    grep -E "ERROR|FUZZ_CHECK|SUMMARY|runtime error|Test unit written" "$log" | head -n 20 >&2 || true
  else
    echo "fuzz: $target: $runs executions, nothing found ($(ls "$corpus" | wc -l) corpus files)"
  fi
done
echo "fuzz: $total executions in all over ${#targets[@]} targets"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
