#!/usr/bin/env bash
# bench/transaction.sh — transactional sends against plain sends in one run, and the check-back
# rate with many pending half messages (issue 12, docs/performance.md).
#
#   bench/transaction.sh                       # 200,000 plain, 200,000 transactions, 100,000 pending
#   COUNT=50000 PENDING=20000 bench/transaction.sh
#   FLUSH=SYNC_FLUSH bench/transaction.sh
#
# What it does, all on 127.0.0.1, with the Release build in $BUILD (default build-bench, built first):
#   1. a fresh name server, broker ($FLUSH, default ASYNC_FLUSH) and store; waits until the broker is
#      settled (under 2 % of a core over 2 s) before each workload;
#   2. plain sends: `vela-bench produce --window 256 --count $COUNT` on a fresh topic;
#   3. transactional sends: `vela-bench produce --transaction --window 256 --count $COUNT` (each
#      message a one-message transaction: half message, then END_TRANSACTION commit, 256 in flight);
#   4. check-backs: $PENDING transactions left open (`vela-admin send --transaction unknown`) on a
#      broker whose transactionTimeOut is an hour, so none is checked; the broker is restarted with
#      transactionTimeOut=1000, so all of them are due at once, and `vela-admin transaction checker
#      --answer commit` answers; the time from the checker's start until nothing is pending gives
#      the check-back rate (check sent, answered, committed). Also: the restart's time to listen.
# Raw output goes to $OUT (default /tmp/vela-tx-<stamp>); processes are stopped and the store
# deleted on exit (KEEP_STORE=1 keeps it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, cpu_ticks, settle, build_release, stop_all
bench_paths tx
COUNT=${COUNT:-200000}
PENDING=${PENDING:-100000}
FLUSH=${FLUSH:-ASYNC_FLUSH}
SIZE=${SIZE:-1024}

build_release
PIDS=()
trap stop_all EXIT

STORE=$OUT/store
"$BIN/vela-namesrv" --listen 127.0.0.1:0 > "$OUT/namesrv.out" 2> "$OUT/namesrv.err" &
PIDS+=($!); NAMESRV=$(wait_listen "$OUT/namesrv.out" $!)
ADMIN=("$BIN/vela-admin" --namesrv "$NAMESRV")
BROKER_PORT=""
# start_broker TIMEOUT_MS: starts the broker on the store (same port after the first start).
start_broker() {
  "$BIN/vela-broker" --namesrv "$NAMESRV" --listen "127.0.0.1:${BROKER_PORT:-0}" --store-dir "$STORE" \
    --set "flushDiskType=$FLUSH" --set logLevel=warn --set "transactionTimeOut=$1" \
    > "$OUT/broker.out" 2>> "$OUT/broker.err" &
  BROKER_PID=$!; PIDS+=($BROKER_PID)
  BROKER=$(wait_listen "$OUT/broker.out" $BROKER_PID)
  BROKER_PORT=${BROKER##*:}
}
start_broker 3600000
for t in Plain Tx Pending; do
  for _ in $(seq 1 40); do "${ADMIN[@]}" topic create "$t" --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
done
echo "$("$BIN/vela-broker" --version 2> /dev/null), broker $BROKER pid $BROKER_PID, $FLUSH, out $OUT" >&2

settle "$BROKER_PID"
c0=$(cpu_ticks "$BROKER_PID")
"$BIN/vela-bench" --namesrv "$NAMESRV" --json produce --topic Plain --window 256 --count "$COUNT" --size "$SIZE" \
  > "$OUT/plain.json"
c1=$(cpu_ticks "$BROKER_PID")
settle "$BROKER_PID"
c2=$(cpu_ticks "$BROKER_PID")
"$BIN/vela-bench" --namesrv "$NAMESRV" --json produce --transaction --topic Tx --window 256 --count "$COUNT" \
  --size "$SIZE" > "$OUT/tx.json"
c3=$(cpu_ticks "$BROKER_PID")

# Open transactions, then a restart that makes them all due at once.
settle "$BROKER_PID"
t0=$(date +%s.%N)
"${ADMIN[@]}" send --topic Pending --count "$PENDING" --transaction unknown --producer-group bench-tx \
  --body "$(head -c "$SIZE" /dev/zero | tr '\0' x)" > /dev/null
t1=$(date +%s.%N)
"${ADMIN[@]}" transaction status --json > "$OUT/before_restart.json"
kill "$BROKER_PID"; wait "$BROKER_PID" 2> /dev/null || true
r0=$(date +%s.%N)
start_broker 1000
r1=$(date +%s.%N)
settle "$BROKER_PID"
c4=$(cpu_ticks "$BROKER_PID")
k0=$(date +%s.%N)
"${ADMIN[@]}" transaction checker --producer-group bench-tx --answer commit --timeout 5 > "$OUT/checks.jsonl" &
PIDS+=($!)
while :; do
  pending=$("${ADMIN[@]}" transaction status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
  [ "$pending" = 0 ] && break
  sleep 0.05
done
k1=$(date +%s.%N)
c5=$(cpu_ticks "$BROKER_PID")
"${ADMIN[@]}" transaction status --json > "$OUT/after_checks.json"

python3 - "$OUT" "$COUNT" "$PENDING" "$c0" "$c1" "$c2" "$c3" "$c4" "$c5" "$TICKS" "$t0" "$t1" "$r0" "$r1" "$k0" "$k1" << 'EOF'
import json, sys
out, n, pending = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c0, c1, c2, c3, c4, c5, ticks = (int(x) for x in sys.argv[4:11])
t0, t1, r0, r1, k0, k1 = (float(x) for x in sys.argv[11:17])
last = lambda f: json.loads(open(f"{out}/{f}").read().strip().splitlines()[-1])
plain, tx = last("plain.json"), last("tx.json")
p, t = plain["msgs_per_s"], tx["msgs_per_s"]
lp, lt = plain["latency_us"], tx["latency_us"]
print(f"plain sends (window 256): {p:,.0f} msgs/s, p50 {lp['p50']/1000:.2f} ms p99 {lp['p99']/1000:.2f} ms, "
      f"broker CPU {(c1-c0)/ticks/n*1e6:.2f} us/msg, errors {plain['errors']}")
print(f"transactions (half + commit, window 256): {t:,.0f} msgs/s, ratio {t/p:.2f}x, p50 {lt['p50']/1000:.2f} ms "
      f"p99 {lt['p99']/1000:.2f} ms, broker CPU {(c3-c2)/ticks/n*1e6:.2f} us/transaction, errors {tx['errors']}")
checks = sum(1 for line in open(f"{out}/checks.jsonl") if line.startswith("{"))
after = json.load(open(f"{out}/after_checks.json"))
before = json.load(open(f"{out}/before_restart.json"))
print(f"{pending:,} open transactions sent by vela-admin in {t1-t0:.1f} s; pending before the restart: {before['pending']:,}")
print(f"restart with them pending: listening after {r1-r0:.2f} s")
print(f"check-backs: {pending:,} resolved in {k1-k0:.2f} s = {pending/(k1-k0):,.0f} transactions/s "
      f"(checker saw {checks:,} checks; broker CPU {(c5-c4)/ticks/pending*1e6:.2f} us/transaction); "
      f"status after: {json.dumps(after)}")
EOF
