#!/usr/bin/env bash
# bench/w3_tail.sh — W3 (5,000 msgs/s end to end) on one broker, round after round, with each
# round's worst latency placed in time (issue 14: the tails of a new topic and a new consumer).
#
#   bench/w3_tail.sh                                 # 3 rounds, ASYNC_FLUSH, 15 s idle before each
#   ROUNDS=1 IDLE=5 PRE=produce SKIP_BUILD=1 bench/w3_tail.sh
#   EXTRA="--set flushIntervalCommitLog=600000" SKIP_BUILD=1 bench/w3_tail.sh
#
# Starts a fresh name server and broker (FLUSH, default ASYNC_FLUSH; EXTRA: more broker flags).
# Each round: optionally a workload first (PRE=produce: W1 window 256, 200,000 messages on its own
# topic; PRE=consume: W2, fill and drain 200,000), then IDLE seconds with nothing running, then a
# fresh topic (8 queues) and a fresh group, and `vela-bench e2e --rate 5000 --duration 10`. Prints
# the round's p50/p99/p99.9/max, the broker's CPU during it, and per second of sending
# "worst latency ms / messages over 1 ms / the producer's worst lateness ms".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, cpu_ticks, build_release, stop_all
bench_paths w3tail
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-15}
FLUSH=${FLUSH:-ASYNC_FLUSH}
PRE=${PRE:-}
build_release
PIDS=()
trap stop_all EXIT

"$BIN/vela-namesrv" --listen 127.0.0.1:0 > "$OUT/namesrv.out" 2>&1 &
PIDS=($!)
ns=$(wait_listen "$OUT/namesrv.out" "${PIDS[0]}")
# shellcheck disable=SC2086  # EXTRA is a list of flags
"$BIN/vela-broker" --namesrv "$ns" --listen 127.0.0.1:0 --store-dir "$OUT/store" --set "flushDiskType=$FLUSH" \
  --set logLevel=info ${EXTRA:-} > "$OUT/broker.out" 2> "$OUT/broker.err" &
broker_pid=$!
PIDS+=($broker_pid)
wait_listen "$OUT/broker.out" "$broker_pid" > /dev/null
echo "$("$BIN/vela-broker" --version 2> /dev/null), $FLUSH, idle ${IDLE} s before each round, out $OUT" >&2

for round in $(seq 1 "$ROUNDS"); do
  case "$PRE" in
    "") ;;
    produce)
      "$BIN/vela-admin" --namesrv "$ns" topic create "Pre_$round" --queues 8 > /dev/null
      "$BIN/vela-bench" --namesrv "$ns" --json produce --topic "Pre_$round" --window 256 --count 200000 > /dev/null ;;
    consume)
      "$BIN/vela-admin" --namesrv "$ns" topic create "Pre_$round" --queues 8 > /dev/null
      "$BIN/vela-bench" --namesrv "$ns" --json consume --topic "Pre_$round" --group "GPre_$round" --count 200000 > /dev/null ;;
    *) echo "PRE must be produce or consume" >&2; exit 2 ;;
  esac
  sleep "$IDLE"
  topic="W3_$round"
  "$BIN/vela-admin" --namesrv "$ns" topic create "$topic" --queues 8 > /dev/null
  m0=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
  c0=$(cpu_ticks "$broker_pid"); f0=$(awk '{print $10}' "/proc/$broker_pid/stat")
  "$BIN/vela-bench" --namesrv "$ns" --json e2e --topic "$topic" --group "G_$topic" --rate 5000 --duration 10 \
    2> "$OUT/e2e_$round.err" > "$OUT/e2e_$round.json"
  c1=$(cpu_ticks "$broker_pid"); f1=$(awk '{print $10}' "/proc/$broker_pid/stat")
  m1=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
  python3 - "$round" "$(((c1 - c0) * 1000 / TICKS))" "$((f1 - f0))" "$(((m1 - m0) * 1000 / TICKS))" "$OUT/e2e_$round.json" <<'PY'
import json, sys
round_, cpu_ms, faults, machine_ms, path = sys.argv[1:]
j = json.loads(open(path).read().strip().splitlines()[-1])
l = j["latency_us"]
print(f"round {round_}: p50 {l['p50']} us, p99 {l['p99']} us, p99.9 {l['p999']} us, max {l['max']} us; "
      f"CPU: broker {int(cpu_ms) / 1000:.2f} s, client {j.get('client_cpu_s', 0):.2f} s, machine {int(machine_ms) / 1000:.2f} s; broker minor faults {faults}; sends late > 1 ms {j['send_late_gt_1ms']}; missing {j['missing']}")
print("  per second (worst ms / over 1 ms / producer late ms): " + " | ".join(
    f"{b['max_us'] / 1000:.1f}/{b['over_1ms']}/{b['send_lag_max_us'] / 1000:.1f}" for b in j["by_second"][:-1]))
PY
done
