#!/usr/bin/env bash
# Runs the whole test suite: installs the dependencies, builds Vela with its tests, runs the unit
# tests under AddressSanitizer + UndefinedBehaviorSanitizer and every fuzz target for a bounded
# time (one clang build), then every unit and integration test. Prints the ctest summaries; exits
# non-zero on failure. JOBS (default 2) sets build parallelism; FUZZ_SECONDS (default 15) the fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
scripts/install_deps.sh
scripts/check_includes.sh
export CCACHE_BASEDIR=$(pwd)
# Each phase's header says how long the run has taken so far (CI's budget is 25 minutes).
phase() { echo "== [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }

phase "build (RelWithDebInfo, line tables only)"
# -g1 (line tables: stack traces and gdb backtraces keep file and line) instead of -g: measured on
# broker files, -g costs a third more compile time at -O2.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
cmake --build build -j"$JOBS"

if command -v clang++ >/dev/null; then
  # One clang build serves both: the unit tests under the sanitizers, and the fuzz targets (which
  # need clang's libFuzzer). Saves a third full build of the tree.
  phase "unit tests under ASan + UBSan, then every fuzz target (${FUZZ_SECONDS:-15} s each), clang"
  CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVELA_SANITIZE=ON -DVELA_BUILD_FUZZERS=ON \
    -DVELA_FUZZ_SECONDS="${FUZZ_SECONDS:-15}" -DVELA_BUILD_BENCHMARKS=OFF -DVELA_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-asan -j"$JOBS" --target vela_unit_tests vela_fuzzers
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -L unit --output-on-failure -j"$JOBS")
  (cd build-asan && ctest -L fuzz --output-on-failure)
else
  phase "unit tests under ASan + UBSan (no clang: no fuzzing)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVELA_SANITIZE=ON -DVELA_BUILD_BENCHMARKS=OFF \
    -DVELA_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-asan -j"$JOBS" --target vela_unit_tests
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -L unit --output-on-failure -j"$JOBS")
fi

phase "unit tests, then integration tests (real processes, one at a time)"
(cd build && ctest -L unit --output-on-failure -j"$JOBS")
(cd build && ctest -L integration --output-on-failure -j1)
phase "done"
