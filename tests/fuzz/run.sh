#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (AddressSanitizer + UndefinedBehaviorSanitizer)
# into their own folder and runs each for a bounded time on the seed corpus.
#   tests/fuzz/run.sh SECONDS [safetensors|config|jsonl|session ...]
# Prints executions and findings per target; exits non-zero when any target crashed
# (the reproducer is kept in BUILD/work/TARGET/artifacts/).
set -euo pipefail
seconds=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${NUGGET_FUZZ_BUILD:-$root/build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config jsonl session)

mkdir -p "$build"
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "${NUGGET_FUZZ_JOBS:-2}" $(printf -- '--target fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$root/tests/sanitize/ubsan.supp}

failed=0
summary=()
for target in "${targets[@]}"; do
  work=$build/work/$target
  mkdir -p "$work/corpus" "$work/artifacts"
  log=$work/fuzz.log
  touch "$work/.started"   # findings of earlier runs stay in artifacts/ but are not counted
  status=0
  maxlen=65536
  [ "$target" = session ] && maxlen=262144   # the seed sessions are 100-150 KB
  # New inputs go to the first corpus folder; the checked-in seeds are only read.
  "$build/fuzz_$target" -max_total_time="$seconds" -max_len="$maxlen" -timeout=25 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
      "$work/corpus" "$root/tests/fuzz/corpus/$target" > "$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "$work/artifacts" -type f -newer "$work/.started" | wc -l)
  line="$target: ${runs:-?} executions in ${seconds} s, $crashes findings (exit $status)"
  summary+=("$line")
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    tail -60 "$log"
  fi
done
printf '%s\n' "${summary[@]}"
exit $failed
