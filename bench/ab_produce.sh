#!/usr/bin/env bash
# bench/ab_produce.sh — W1 window 256 on two brokers, alternating, with the same client: does a
# change regress the plain send path?
#
#   bench/ab_produce.sh OLD_BIN_DIR NEW_BIN_DIR      # e.g. a worktree's build-bench/bin and ours
#   PASSES=5 COUNT=500000 bench/ab_produce.sh A B
#   FLUSH=ASYNC_FLUSH bench/ab_produce.sh A B       # default: the brokers' own default (SYNC_FLUSH)
#   WORKLOAD=consume bench/ab_produce.sh A B         # W2 instead: a backlog of COUNT, then its drain rate
#
# Each pass starts a fresh name server and broker (the default flush, or $FLUSH) from each directory in turn, waits
# until the broker is settled (under 2 % of a core over 2 s), runs `vela-bench produce --window 256
# --count $COUNT` with NEW_BIN_DIR's vela-bench, and prints msgs/s, p50/p99 ack latency and the
# broker's CPU per message. Stores are deleted after each run.
set -euo pipefail
OLD=$1 NEW=$2
PASSES=${PASSES:-3}
COUNT=${COUNT:-300000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # wait_listen, cpu_ticks, settle
TICKS=$(getconf CLK_TCK)
run() {  # label bindir
  local dir ns_pid broker_pid ns c0 c1 result
  dir=$(mktemp -d /tmp/vela-ab.XXXXXX)
  "$2/vela-namesrv" --listen 127.0.0.1:0 > "$dir/ns.out" 2>&1 & ns_pid=$!
  ns=$(wait_listen "$dir/ns.out" $ns_pid)
  "$2/vela-broker" --namesrv "$ns" --listen 127.0.0.1:0 --store-dir "$dir/store" --set logLevel=warn ${FLUSH:+--set flushDiskType=$FLUSH} \
    > "$dir/b.out" 2>&1 & broker_pid=$!
  wait_listen "$dir/b.out" $broker_pid > /dev/null
  for _ in $(seq 1 40); do "$NEW/vela-admin" --namesrv "$ns" topic create AB --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
  settle $broker_pid
  c0=$(cpu_ticks $broker_pid)
  local workload=(produce --window 256)
  [ "${WORKLOAD:-produce}" = consume ] && workload=(consume --group AB)
  result=$("$NEW/vela-bench" --namesrv "$ns" --json "${workload[@]}" --topic AB --count "$COUNT" |
    python3 -c "import json,sys; j=json.load(sys.stdin); l=j.get('latency_us') or {}; print(j['msgs_per_s'], l.get('p50'), l.get('p99'))")
  c1=$(cpu_ticks $broker_pid)
  echo "$1 msgs/s p50_us p99_us: $result broker_cpu_us_per_msg: $(python3 -c "print(round(($c1-$c0)/$TICKS/$COUNT*1e6, 2))")"
  kill $broker_pid $ns_pid; wait $broker_pid $ns_pid 2> /dev/null || true
  rm -rf "$dir"
}
for _ in $(seq 1 "$PASSES"); do run old "$OLD"; run new "$NEW"; done
