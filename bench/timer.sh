#!/usr/bin/env bash
# bench/timer.sh — timer messages measured against plain sends in one run (issue 11, docs/performance.md).
#
#   bench/timer.sh                      # 1,000,000 timers due across 60 s, plain W1 window 256 first
#   COUNT=200000 SPREAD=20 bench/timer.sh
#   FLUSH=SYNC_FLUSH bench/timer.sh
#   MEMORY=1 COUNT=10000000 bench/timer.sh   # timers a day ahead: only stored, memory per pending timer
#   PASSES=3 COUNT=200000 SPREAD=20 bench/timer.sh   # plain then timers, three times: a ratio per pass
#
# What it does, all on 127.0.0.1, with the Release build in $BUILD (default build-bench, built first):
#   1. a fresh name server, broker ($FLUSH, default ASYNC_FLUSH) and store; waits until the broker is
#      settled (under 2 % of a core over 2 s) before each workload;
#   2. plain sends: `vela-bench produce --window 256 --count $PLAIN_COUNT` on a fresh topic;
#      before each workload, recycle_pages (bench/lib.sh; RECYCLE_GIB, default 2) writes and
#      deletes 2 GiB so that both workloads get recycled page-cache pages;
#   3. timer sends: `vela-bench timer --count $COUNT --spread $SPREAD` on another fresh topic (window
#      256, the same SDK producer), lateness at the consumer; then `vela-admin timer status --json`
#      (lateness at the broker: store time of the delivered message minus its due time);
#   4. prints the two send rates, their ratio, the lateness figures and the broker's CPU per message;
#   steps 2-4 are repeated $PASSES times on the same broker (timers on a new topic each pass), and
#   with more than one pass the median of the per-pass ratios is printed too.
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
PASSES=${PASSES:-1}

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
for t in Plain $(seq -f "Timers%g" 1 "$PASSES"); do
  for _ in $(seq 1 40); do "${ADMIN[@]}" topic create "$t" --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
done
echo "$("$BIN/vela-broker" --version 2> /dev/null || echo "commit $(git -C "$ROOT" rev-parse --short HEAD)"), broker $BROKER pid $BROKER_PID, $FLUSH, out $OUT" >&2

# Indexing progress, once a second: pending timers and the broker's CPU (timer_progress.txt).
( while kill -0 "$BROKER_PID" 2> /dev/null; do
    echo "$(date +%s.%N | cut -c1-14) pending $("${ADMIN[@]}" timer status --json 2> /dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])' 2> /dev/null) cpu_ticks $(cpu_ticks "$BROKER_PID")"
    sleep 1
  done > "$OUT/timer_progress.txt" ) &
PIDS+=($!)
LEAD=()
[ "$MEMORY" = 1 ] && LEAD=(--lead 86400)
# Each pass: plain sends, then timers on a topic of their own (so that one pass's deliveries are
# not counted by the next), each on a settled broker; broker CPU ticks around each workload.
TICKS_BY_PASS=()
for pass in $(seq 1 "$PASSES"); do
  recycle_pages "$OUT"
  settle "$BROKER_PID"
  c0=$(cpu_ticks "$BROKER_PID")
  "$BIN/vela-bench" --namesrv "$NAMESRV" --json produce --topic Plain --window 256 --count "$PLAIN_COUNT" --size "$SIZE" \
    > "$OUT/plain$pass.json"
  c1=$(cpu_ticks "$BROKER_PID")
  recycle_pages "$OUT"
  settle "$BROKER_PID"
  c2=$(cpu_ticks "$BROKER_PID")
  "$BIN/vela-bench" --namesrv "$NAMESRV" --json timer --topic "Timers$pass" --group "TimerBench$pass" --count "$COUNT" \
    --spread "$SPREAD" --size "$SIZE" --broker-pid "$BROKER_PID" "${LEAD[@]}" > "$OUT/timer$pass.json"
  c3=$(cpu_ticks "$BROKER_PID")
  TICKS_BY_PASS+=("$c0,$c1,$c2,$c3")
done
"${ADMIN[@]}" timer status --json > "$OUT/timer_status.json"

python3 - "$OUT" "$PLAIN_COUNT" "$COUNT" "$TICKS" "${TICKS_BY_PASS[@]}" << 'EOF'
import json, statistics, sys
out, plain_n, timer_n, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
status = json.load(open(f"{out}/timer_status.json"))
ratios = []
for pass_no, cpu in enumerate(sys.argv[5:], start=1):
    c0, c1, c2, c3 = (int(x) for x in cpu.split(","))
    plain = json.loads(open(f"{out}/plain{pass_no}.json").read().strip().splitlines()[-1])
    timer = json.loads(open(f"{out}/timer{pass_no}.json").read().strip().splitlines()[-1])
    p, t = plain["msgs_per_s"], timer["send_msgs_per_s"]
    ratios.append(t / p)
    print(f"pass {pass_no}: plain sends (window 256): {p:,.0f} msgs/s, broker CPU {(c1-c0)/ticks/plain_n*1e6:.2f} us/msg")
    print(f"pass {pass_no}: timer sends (window 256): {t:,.0f} msgs/s, ratio {t/p:.2f}x; broker CPU over the whole "
          f"timer run (send, index, deliver) {(c3-c2)/ticks/timer_n*1e6:.2f} us/timer")
    if timer.get("deliveries_awaited"):
        l = timer["latency_us"]
        print(f"pass {pass_no}: lateness at the consumer ms: p50 {l['p50']/1000:.1f} p99 {l['p99']/1000:.1f} "
              f"p99.9 {l['p999']/1000:.1f} max {l['max']/1000:.1f}; missing {timer['missing']} dupes {timer['dupes']} "
              f"early {timer['early']}")
    if "broker_bytes_per_pending_timer" in timer:
        print(f"pass {pass_no}: broker anon memory per pending timer: {timer['broker_bytes_per_pending_timer']} B")
if len(ratios) > 1:
    print(f"timer/plain send ratio per pass: {', '.join(f'{r:.2f}x' for r in ratios)}; median {statistics.median(ratios):.2f}x")
print("broker timer status:", json.dumps({k: status[k] for k in status if k != "pending_by_topic"}))
EOF
