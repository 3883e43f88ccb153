#!/usr/bin/env bash
# Runs the whole test suite: installs the dependencies, builds Vela with its tests, runs the unit
# tests under AddressSanitizer + UndefinedBehaviorSanitizer, the fuzz targets for a bounded
# time, then every unit and integration test. Prints the ctest summaries; exits non-zero on failure.
# JOBS (default 2) sets build parallelism; FUZZ_SECONDS (default 30) the fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
scripts/install_deps.sh
scripts/check_includes.sh
export CCACHE_BASEDIR=$(pwd)

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

echo "== unit tests under ASan + UBSan =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVELA_SANITIZE=ON -DVELA_BUILD_BENCHMARKS=OFF \
  -DVELA_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-asan -j"$JOBS" --target vela_unit_tests
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -L unit --output-on-failure -j"$JOBS")

if command -v clang++ >/dev/null; then
  echo "== fuzzing: SQL92 parser, frame decoder (${FUZZ_SECONDS:-30} s) =="
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DVELA_BUILD_FUZZERS=ON -DVELA_BUILD_BENCHMARKS=OFF \
    -DVELA_BUILD_EXAMPLES=OFF -DVELA_FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >/dev/null
  cmake --build build-fuzz -j"$JOBS" --target vela_sql92_parser_fuzz vela_frame_decoder_fuzz
  (cd build-fuzz && ctest -L fuzz --output-on-failure)
fi

echo "== unit and integration tests =="
(cd build && ctest -L 'unit|integration' --output-on-failure -j1)
