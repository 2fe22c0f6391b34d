#!/usr/bin/env bash
# Builds the core and the plugin-free unit tests with -fsanitize=address,undefined into
# their own folder and runs them. LeakSanitizer is on; the suppression files name only
# libraries we do not build (libtorch, OpenBLAS, Qt, HDF5), never our code.
#   tests/sanitize/run.sh [BUILD_DIR]     (default: build-asan beside build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$root/build-asan}")
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNUGGET_SANITIZE=ON > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "${NUGGET_SANITIZE_JOBS:-2}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=suppressions=$root/tests/sanitize/ubsan.supp:print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" --output-on-failure -L unit
