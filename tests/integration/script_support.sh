# Shared by the shell integration tests (sourced): process cleanup, failure, daemon start.
# The sourcing script sets TMP (a scratch directory removed on exit) and BIN (where the binaries are).
PIDS=()
# Stops every started daemon (SIGTERM, then SIGKILL after 10 s) and removes $TMP.
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# start_daemon NAME OUT_FILE ARGS...: starts $BIN/NAME in the background, waits for "listening on".
# Its HTTP endpoint takes a free port (httpPort=0) unless ARGS set another: tests run in parallel.
start_daemon() {
  local name=$1 out=$2; shift 2
  "$BIN/$name" --set httpPort=0 "$@" >"$out" 2>"$out.err" &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    grep -q "^listening on " "$out" 2>/dev/null && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$out.err" >&2; fail "$name exited at start"; }
    sleep 0.1
  done
  fail "$name did not start"
}
