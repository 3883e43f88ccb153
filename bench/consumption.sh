#!/usr/bin/env bash
# bench/consumption.sh — the consumption modes of issue 13 against concurrent clustering in one run
# (docs/performance.md): W2 drain with an orderly and a broadcasting consumer, and the retry rate.
#
#   bench/consumption.sh                 # 200,000 messages per drain, 50,000 send-backs
#   COUNT=20000 RETRY_COUNT=5000 bench/consumption.sh
#   SKIP_BUILD=1 BUILD=build bench/consumption.sh
#   KEYS=1000 bench/consumption.sh       # every message keyed (sharding key key-<i mod 1000>)
#
# What it does, all on 127.0.0.1, with the Release build in $BUILD (default build-bench, built first):
#   1. a fresh name server, broker ($FLUSH, default ASYNC_FLUSH; messageDelayLevel 100 ms steps so a
#      retry comes back at once) and store;
#   2. W2 three times, each on a fresh topic of 8 queues and a fresh group, the broker settled (under
#      2 % of a core over 2 s) before each: `vela-bench consume --count $COUNT` with a concurrent
#      clustering consumer, then with --orderly (broker queue locks, order kept per sharding key;
#      with KEYS=0, the default, the backlog has no sharding key, so each queue is one key: one
#      message at a time per queue; with KEYS=N message i has the key key-<i mod N>, for all three
#      drains), then with --broadcast (offsets in a temporary local directory);
#   3. `vela-bench retry --count $RETRY_COUNT`: every message's first delivery fails, so each is sent
#      back (CONSUMER_SEND_BACK), stored through the timer into %RETRY%<group> and consumed again;
#   4. prints the three drain rates, the ratios orderly/concurrent and broadcast/concurrent (issue
#      13's aim: at least 0.8x), the send-backs per second and whether all came back.
# Raw JSON goes to $OUT (default /tmp/vela-consumption-<stamp>). Every process started is stopped on
# exit and the store deleted (KEEP_STORE=1 keeps it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, cpu_ticks, settle, build_release, stop_all
bench_paths consumption
COUNT=${COUNT:-200000}
RETRY_COUNT=${RETRY_COUNT:-50000}
FLUSH=${FLUSH:-ASYNC_FLUSH}
SIZE=${SIZE:-1024}
KEYS=${KEYS:-0}

build_release
PIDS=()
trap stop_all EXIT

STORE=$OUT/store
LEVELS="100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms"
"$BIN/vela-namesrv" --listen 127.0.0.1:0 > "$OUT/namesrv.out" 2> "$OUT/namesrv.err" &
PIDS+=($!); NAMESRV=$(wait_listen "$OUT/namesrv.out" $!)
"$BIN/vela-broker" --namesrv "$NAMESRV" --listen 127.0.0.1:0 --store-dir "$STORE" \
  --set "flushDiskType=$FLUSH" --set "messageDelayLevel=$LEVELS" --set logLevel=warn \
  > "$OUT/broker.out" 2> "$OUT/broker.err" &
BROKER_PID=$!; PIDS+=($BROKER_PID)
BROKER=$(wait_listen "$OUT/broker.out" $BROKER_PID)
ADMIN=("$BIN/vela-admin" --namesrv "$NAMESRV")
for t in Concurrent Orderly Broadcast Retry; do
  for _ in $(seq 1 40); do "${ADMIN[@]}" topic create "$t" --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
done
"${ADMIN[@]}" group create BroadcastBench --broadcast > /dev/null
echo "$("$BIN/vela-broker" --version 2> /dev/null || echo "commit $(git -C "$ROOT" rev-parse --short HEAD)"), broker $BROKER pid $BROKER_PID, $FLUSH, out $OUT" >&2

BENCH=("$BIN/vela-bench" --namesrv "$NAMESRV" --json)
KEYED=(--sharding-keys "$KEYS")
settle "$BROKER_PID"
"${BENCH[@]}" consume --topic Concurrent --group ConcurrentBench --count "$COUNT" --size "$SIZE" "${KEYED[@]}" \
  > "$OUT/concurrent.json"
settle "$BROKER_PID"
"${BENCH[@]}" consume --topic Orderly --group OrderlyBench --count "$COUNT" --size "$SIZE" "${KEYED[@]}" \
  --orderly > "$OUT/orderly.json"
settle "$BROKER_PID"
"${BENCH[@]}" consume --topic Broadcast --group BroadcastBench --count "$COUNT" --size "$SIZE" "${KEYED[@]}" --broadcast \
  > "$OUT/broadcast.json"
settle "$BROKER_PID"
"${BENCH[@]}" retry --topic Retry --group RetryBench --count "$RETRY_COUNT" --size "$SIZE" > "$OUT/retry.json"

python3 - "$OUT" << 'EOF'
import json, sys
out = sys.argv[1]
def load(name):
    return json.loads(open(f"{out}/{name}.json").read().strip().splitlines()[-1])
c, o, b, r = load("concurrent"), load("orderly"), load("broadcast"), load("retry")
for name, j in (("concurrent", c), ("orderly", o), ("broadcast", b)):
    print(f"W2 drain {name:>10}: {j['msgs_per_s']:>10,.0f} msgs/s ({j['received']} received, missing {j['missing']}, "
          f"sharding keys {j.get('sharding_keys', 0)}, "
          f"dupes {j['dupes']}, errors {j['errors']})")
print(f"ratio orderly/concurrent {o['msgs_per_s']/c['msgs_per_s']:.2f}x, "
      f"broadcast/concurrent {b['msgs_per_s']/c['msgs_per_s']:.2f}x (aim: at least 0.8x)")
print(f"retry: {r['send_backs']} send-backs at {r['send_backs_per_s']:,.0f}/s; {r['came_back']} of {r['backlog']} "
      f"came back in {r['seconds']:.2f} s (missing {r['missing']}, dupes {r['dupes']})")
sys.exit(0 if all(j["errors"] == 0 for j in (c, o, b, r)) else 1)
EOF
