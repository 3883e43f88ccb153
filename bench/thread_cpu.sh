#!/usr/bin/env bash
# bench/thread_cpu.sh — the broker's CPU per message, thread by thread, for plain and timer sends
# (issue 11, docs/performance.md).
#
#   bench/thread_cpu.sh                 # plain, timer, plain, timer: 500,000 messages each
#   COUNT=1000000 SKIP_BUILD=1 bench/thread_cpu.sh
#
# One name server and broker (ASYNC_FLUSH) on 127.0.0.1 with the Release build in $BUILD, a
# 100,000-message warm-up, then the workloads one after the other, each after a 3 s pause:
# `vela-bench produce --window 256` and `vela-bench timer --lead 3600` (window 256, timers due an
# hour ahead: only the send path and the indexing run, nothing is delivered). For each it prints the
# send rate, the client's CPU per message (user + system, /usr/bin/time) and the broker's CPU per
# message of each thread name (utime + stime from /proc/PID/task/*/stat, summed per name).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, build_release, stop_all
bench_paths thread-cpu
COUNT=${COUNT:-500000}
build_release
PIDS=()
trap stop_all EXIT

"$BIN/vela-namesrv" --listen 127.0.0.1:0 --set httpPort=-1 > "$OUT/namesrv.out" 2>&1 &
PIDS+=($!); NAMESRV=$(wait_listen "$OUT/namesrv.out" $!)
"$BIN/vela-broker" --namesrv "$NAMESRV" --listen 127.0.0.1:0 --store-dir "$OUT/store" --set flushDiskType=ASYNC_FLUSH \
  --set httpPort=-1 --set logLevel=warn > "$OUT/broker.out" 2>&1 &
BROKER_PID=$!; PIDS+=($BROKER_PID)
wait_listen "$OUT/broker.out" $BROKER_PID > /dev/null
for t in T W; do
  for _ in $(seq 1 40); do "$BIN/vela-admin" --namesrv "$NAMESRV" topic create "$t" --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
done
"$BIN/vela-bench" --namesrv "$NAMESRV" produce --topic W --window 256 --count 100000 --size 1024 > /dev/null 2>&1

# Ticks per thread name, "name ticks" lines sorted by name.
snapshot() {
  for t in /proc/"$BROKER_PID"/task/*; do echo "$(tr ' ' '_' < "$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done |
    awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort
}
for workload in plain timer plain timer; do
  sleep 3
  snapshot > "$OUT/before"
  if [ "$workload" = plain ]; then
    args=(produce --topic T --window 256 --count "$COUNT" --size 1024)
  else
    args=(timer --topic T --group G --count "$COUNT" --spread 60 --lead 3600 --size 1024)
  fi
  /usr/bin/time -f "client_cpu %U %S" "$BIN/vela-bench" --namesrv "$NAMESRV" --json "${args[@]}" \
    > "$OUT/$workload.json" 2> "$OUT/$workload.err"
  snapshot > "$OUT/after"
  rate=$(python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); \
print(int(d.get('send_msgs_per_s', d['msgs_per_s'])))" "$OUT/$workload.json")
  client=$(awk -v n="$COUNT" '/client_cpu/ {printf "%.2f", ($2 + $3) * 1e6 / n}' "$OUT/$workload.err")
  per_thread=$(join "$OUT/before" "$OUT/after" | awk -v n="$COUNT" -v hz="$(getconf CLK_TCK)" '
    {d = ($3 - $2) / hz * 1e6 / n; total += d; if (d >= 0.05) printf "%s=%.2f ", $1, d}
    END {printf "total=%.2f", total}')
  echo "$workload: $rate msgs/s; client $client us/msg; broker us/msg by thread: $per_thread"
done
