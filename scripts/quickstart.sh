#!/usr/bin/env bash
# Set up and run: installs the dependencies, builds Vela, and starts one vela-namesrv and one
# vela-broker with the defaults of conf/ (store in ./store, logs in ./logs).
#   scripts/quickstart.sh          set up and start
#   scripts/quickstart.sh stop     stop both (SIGTERM: flush, checkpoint, exit)
# VELA_BUILD_DIR reuses an existing build directory instead of ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${VELA_BUILD_DIR:-$ROOT/build}
mkdir -p "$ROOT/logs"

stop() {
  for name in broker namesrv; do
    if [ -f "$ROOT/logs/$name.pid" ]; then
      kill "$(cat "$ROOT/logs/$name.pid")" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$(cat "$ROOT/logs/$name.pid")" 2>/dev/null || break; sleep 0.1; done
      rm -f "$ROOT/logs/$name.pid"
    fi
  done
}
if [ "${1:-}" = "stop" ]; then stop; echo "stopped"; exit 0; fi

if [ -z "${VELA_BUILD_DIR:-}" ]; then
  scripts/install_deps.sh
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null  # the configuration CI tests
  cmake --build "$BUILD" -j"${JOBS:-2}" --target vela-namesrv vela-broker vela-admin
fi
stop

wait_ready() {  # file
  for _ in $(seq 1 100); do grep -q "listening on" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "$2 did not start; see logs/$2.log" >&2; exit 1
}
# NAMESRV_ARGS / BROKER_ARGS add flags (tests use them for free ports and a temporary store).
"$BUILD/bin/vela-namesrv" --config conf/namesrv.conf ${NAMESRV_ARGS:-} >"$ROOT/logs/namesrv.out" 2>"$ROOT/logs/namesrv.log" &
echo $! >"$ROOT/logs/namesrv.pid"
wait_ready "$ROOT/logs/namesrv.out" namesrv
NAMESRV_ADDR=$(sed -n 's/^listening on //p' "$ROOT/logs/namesrv.out")
# A name server moved by NAMESRV_ARGS is handed to the broker too.
[ -n "${NAMESRV_ARGS:-}" ] && BROKER_ARGS="--namesrv $NAMESRV_ADDR ${BROKER_ARGS:-}"
"$BUILD/bin/vela-broker" --config conf/broker.conf ${BROKER_ARGS:-} >"$ROOT/logs/broker.out" 2>"$ROOT/logs/broker.log" &
echo $! >"$ROOT/logs/broker.pid"
wait_ready "$ROOT/logs/broker.out" broker
echo "vela-namesrv: $(cat logs/namesrv.out)"
echo "vela-broker:  $(cat logs/broker.out)   (store: ./store, logs: ./logs)"
cat <<MSG
First message:
  export VELA_NAMESRV=$NAMESRV_ADDR
  $BUILD/bin/vela-admin topic create Hello --queues 4
  $BUILD/bin/vela-admin send --topic Hello --body 'hello, vela'
  $BUILD/bin/vela-admin consume --topic Hello --group G1 --count 1
Stop: scripts/quickstart.sh stop
MSG
