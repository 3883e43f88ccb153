#!/usr/bin/env bash
# bench/timer.sh — timer messages measured against plain sends in one run (issue 11, docs/performance.md).
#
#   bench/timer.sh                      # 1,000,000 timers due across 60 s, plain W1 window 256 first
#   COUNT=200000 SPREAD=20 bench/timer.sh
#   FLUSH=SYNC_FLUSH bench/timer.sh
#   MEMORY=1 COUNT=10000000 bench/timer.sh   # timers a day ahead: only stored, memory per pending timer
#
# What it does, all on 127.0.0.1, with the Release build in $BUILD (default build-bench, built first):
#   1. a fresh name server, broker ($FLUSH, default ASYNC_FLUSH) and store; waits until the broker is
#      settled (under 2 % of a core over 2 s) before each workload;
#   2. plain sends: `vela-bench produce --window 256 --count $PLAIN_COUNT` on a fresh topic;
#   3. timer sends: `vela-bench timer --count $COUNT --spread $SPREAD` on another fresh topic (window
#      256, the same SDK producer), lateness at the consumer; then `vela-admin timer status --json`
#      (lateness at the broker: store time of the delivered message minus its due time);
#   4. prints the two send rates, their ratio, the lateness figures and the broker's CPU per message.
# Raw JSON goes to $OUT (default /tmp/vela-timer-<stamp>). Every process started is stopped on exit
# and the store deleted (KEEP_STORE=1 keeps it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, cpu_ticks, settle, build_release, stop_all
bench_paths timer
COUNT=${COUNT:-1000000}
SPREAD=${SPREAD:-60}
PLAIN_COUNT=${PLAIN_COUNT:-200000}
FLUSH=${FLUSH:-ASYNC_FLUSH}
MEMORY=${MEMORY:-0}
SIZE=${SIZE:-1024}

build_release
PIDS=()
trap stop_all EXIT

STORE=$OUT/store
"$BIN/vela-namesrv" --listen 127.0.0.1:0 > "$OUT/namesrv.out" 2> "$OUT/namesrv.err" &
PIDS+=($!); NAMESRV=$(wait_listen "$OUT/namesrv.out" $!)
"$BIN/vela-broker" --namesrv "$NAMESRV" --listen 127.0.0.1:0 --store-dir "$STORE" \
  --set "flushDiskType=$FLUSH" --set logLevel=warn > "$OUT/broker.out" 2> "$OUT/broker.err" &
BROKER_PID=$!; PIDS+=($BROKER_PID)
BROKER=$(wait_listen "$OUT/broker.out" $BROKER_PID)
ADMIN=("$BIN/vela-admin" --namesrv "$NAMESRV")
for t in Plain Timers; do
  for _ in $(seq 1 40); do "${ADMIN[@]}" topic create "$t" --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
done
echo "$("$BIN/vela-broker" --version 2> /dev/null || echo "commit $(git -C "$ROOT" rev-parse --short HEAD)"), broker $BROKER pid $BROKER_PID, $FLUSH, out $OUT" >&2

settle "$BROKER_PID"
c0=$(cpu_ticks "$BROKER_PID")
"$BIN/vela-bench" --namesrv "$NAMESRV" --json produce --topic Plain --window 256 --count "$PLAIN_COUNT" --size "$SIZE" \
  > "$OUT/plain.json"
c1=$(cpu_ticks "$BROKER_PID")
settle "$BROKER_PID"
LEAD=()
[ "$MEMORY" = 1 ] && LEAD=(--lead 86400)
c2=$(cpu_ticks "$BROKER_PID")
# Indexing progress, once a second: pending timers and the broker's CPU (timer_progress.txt).
( while kill -0 "$BROKER_PID" 2> /dev/null; do
    echo "$(date +%s.%N | cut -c1-14) pending $("${ADMIN[@]}" timer status --json 2> /dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])' 2> /dev/null) cpu_ticks $(cpu_ticks "$BROKER_PID")"
    sleep 1
  done > "$OUT/timer_progress.txt" ) &
PIDS+=($!)
"$BIN/vela-bench" --namesrv "$NAMESRV" --json timer --topic Timers --group TimerBench --count "$COUNT" --spread "$SPREAD" \
  --size "$SIZE" --broker-pid "$BROKER_PID" "${LEAD[@]}" > "$OUT/timer.json"
c3=$(cpu_ticks "$BROKER_PID")
"${ADMIN[@]}" timer status --json > "$OUT/timer_status.json"

python3 - "$OUT" "$PLAIN_COUNT" "$COUNT" "$c0" "$c1" "$c2" "$c3" "$TICKS" << 'EOF'
import json, sys
out, plain_n, timer_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c0, c1, c2, c3, ticks = (int(x) for x in sys.argv[4:9])
plain = json.loads(open(f"{out}/plain.json").read().strip().splitlines()[-1])
timer = json.loads(open(f"{out}/timer.json").read().strip().splitlines()[-1])
status = json.load(open(f"{out}/timer_status.json"))
p, t = plain["msgs_per_s"], timer["send_msgs_per_s"]
print(f"plain sends (window 256): {p:,.0f} msgs/s, broker CPU {(c1-c0)/ticks/plain_n*1e6:.2f} us/msg")
print(f"timer sends (window 256): {t:,.0f} msgs/s, ratio {t/p:.2f}x; broker CPU over the whole timer run "
      f"(send, index, deliver) {(c3-c2)/ticks/timer_n*1e6:.2f} us/timer")
if timer.get("deliveries_awaited"):
    l = timer["latency_us"]
    print(f"lateness at the consumer ms: p50 {l['p50']/1000:.1f} p99 {l['p99']/1000:.1f} "
          f"p99.9 {l['p999']/1000:.1f} max {l['max']/1000:.1f}; missing {timer['missing']} dupes {timer['dupes']} early {timer['early']}")
print("broker timer status:", json.dumps({k: status[k] for k in status if k != "pending_by_topic"}))
if "broker_bytes_per_pending_timer" in timer:
    print(f"broker anon memory per pending timer: {timer['broker_bytes_per_pending_timer']} B")
EOF
