#!/usr/bin/env bash
# bench/cold_start.sh — how a just-started broker compares with a settled one (issue 14).
#
#   bench/cold_start.sh                     # 3 passes, ASYNC_FLUSH, 200,000 messages of 1 KiB
#   PASSES=1 FLUSH=SYNC_FLUSH COUNT=200000 SKIP_BUILD=1 bench/cold_start.sh
#
# Each pass starts a fresh name server and broker on an empty store and records: the time from
# launching the broker to its "listening on" line; then, as soon as the topic is created,
# `vela-bench produce --window 256 --count $COUNT` (cold) and the broker's resident size after it;
# then waits until the broker is settled (under 2 % of a core over 2 s) and runs the same
# workload again on the same broker (warm). Prints one line per pass with cold/warm.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, cpu_ticks, settle, build_release, stop_all
bench_paths cold
PASSES=${PASSES:-3}
COUNT=${COUNT:-200000}
FLUSH=${FLUSH:-ASYNC_FLUSH}
build_release
PIDS=()
trap stop_all EXIT

produce() {  # namesrv -> "msgs_per_s p50_us p99_us"
  "$BIN/vela-bench" --namesrv "$1" --json produce --topic Cold --window 256 --count "$COUNT" |
    python3 -c "import json,sys; j=json.load(sys.stdin); print(round(j['msgs_per_s']), j['latency_us']['p50'], j['latency_us']['p99'])"
}

echo "$("$BIN/vela-broker" --version 2> /dev/null), $FLUSH, $COUNT msgs of 1 KiB, window 256, out $OUT" >&2
for pass in $(seq 1 "$PASSES"); do
  rm -rf "$OUT/store"
  "$BIN/vela-namesrv" --listen 127.0.0.1:0 > "$OUT/namesrv.out" 2>&1 &
  ns_pid=$!; PIDS=($ns_pid)
  ns=$(wait_listen "$OUT/namesrv.out" $ns_pid)
  t0=$(date +%s%N)
  "$BIN/vela-broker" --namesrv "$ns" --listen 127.0.0.1:0 --store-dir "$OUT/store" \
    --set "flushDiskType=$FLUSH" --set logLevel=warn > "$OUT/broker.out" 2>&1 &
  broker_pid=$!; PIDS+=($broker_pid)
  for _ in $(seq 1 4000); do grep -q '^listening on ' "$OUT/broker.out" 2> /dev/null && break; sleep 0.001; done
  t1=$(date +%s%N)
  for _ in $(seq 1 400); do "$BIN/vela-admin" --namesrv "$ns" topic create Cold --queues 8 > /dev/null 2>&1 && break; sleep 0.01; done
  cold=$(produce "$ns")
  rss=$(grep -E 'RssAnon|RssFile' "/proc/$broker_pid/status" | awk '{printf "%s %d MB ", $1, $2/1024}')
  settle "$broker_pid"
  warm=$(produce "$ns")
  python3 - "$pass" "$(( (t1 - t0) / 1000000 ))" "$cold" "$warm" "$rss" <<'PY'
import sys
p, ready, cold, warm, rss = sys.argv[1:]
c, w = cold.split(), warm.split()
print(f"pass {p}: ready {ready} ms; cold {c[0]} msgs/s (p50 {c[1]} us, p99 {c[2]} us); warm {w[0]} msgs/s "
      f"(p50 {w[1]} us, p99 {w[2]} us); cold/warm {int(c[0]) / int(w[0]):.2f}; after the cold run {rss}")
PY
  kill "$broker_pid" "$ns_pid"; wait "$broker_pid" "$ns_pid" 2> /dev/null || true
done
