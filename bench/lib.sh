# Shared by the bench scripts (sourced, after HERE is set to the bench folder).
# bench_paths NAME: sets ROOT (the checkout), BUILD (default $ROOT/build-bench), BIN (default
# $BUILD/bin), OUT (default /tmp/vela-NAME-<time>, created) and TICKS (clock ticks per second).
bench_paths() {
  ROOT=$(cd "$HERE/.." && pwd)
  BUILD=${BUILD:-$ROOT/build-bench}
  BIN=${BIN:-$BUILD/bin}
  OUT=${OUT:-/tmp/vela-$1-$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$OUT"
  TICKS=$(getconf CLK_TCK)
}
# wait_listen LOGFILE PID: waits until the daemon prints "listening on HOST:PORT", prints HOST:PORT.
wait_listen() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$1" 2>/dev/null; then sed -n 's/^listening on //p' "$1" | head -1; return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "daemon did not start; log $1:" >&2; tail -20 "$1" >&2; return 1
}
# cpu_ticks PID: the process's user + system CPU so far, in clock ticks.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# settle PID: waits until the process uses under 2 % of a core over 2 s (at most 60 s).
settle() {
  local ticks a b
  ticks=$(getconf CLK_TCK)
  for _ in $(seq 1 30); do
    a=$(cpu_ticks "$1"); sleep 2; b=$(cpu_ticks "$1")
    [ $(((b - a) * 100 / (2 * ticks))) -lt 2 ] && return 0
  done
  echo "warning: process $1 did not settle" >&2
}
# recycle_pages DIR: writes and deletes $RECYCLE_GIB GiB (default 2; 0: nothing) in DIR, so that
# the page-cache pages a workload then allocates are pages this machine's kernel has just freed.
# On this VM a page not used for a while costs 8-9 us the first time it is used again (the
# hypervisor takes back freed memory; docs/performance.md, "Fresh pages"), a recycled one 0.5 us;
# without this, whichever workload of a comparison writes past the recycled pages pays 16x more
# per byte. A machine that keeps its memory recycles page cache as in the second case.
recycle_pages() {
  local gib=${RECYCLE_GIB:-2}
  [ "$gib" -gt 0 ] || return 0
  dd if=/dev/zero of="$1/recycle.tmp" bs=1M count=$((gib * 1024)) status=none
  rm -f "$1/recycle.tmp"
}
# build_release: configures $BUILD as a Release build and builds the daemons, vela-admin and
# vela-bench, unless SKIP_BUILD=1 (uses $ROOT and $BUILD).
build_release() {
  [ "${SKIP_BUILD:-0}" = 1 ] && return 0
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DVELA_WERROR=OFF > /dev/null
  cmake --build "$BUILD" -j2 --target vela-namesrv vela-broker vela-admin vela-bench > /dev/null
}
# stop_all: for `trap stop_all EXIT`: stops every process in PIDS and deletes $OUT/store (gigabytes)
# unless KEEP_STORE=1; the other files in $OUT stay.
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  [ "${KEEP_STORE:-0}" = 1 ] || rm -rf "$OUT/store"
}
