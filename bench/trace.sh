#!/usr/bin/env bash
# bench/trace.sh — what message trace and /metrics scraping cost the send path (issue 15,
# docs/performance.md): W1 window 256 plain, with trace enabled, and plain with /metrics scraped
# every second, on one broker in one run.
#
#   bench/trace.sh                       # 3 passes of 200,000 messages per variant
#   PASSES=1 COUNT=50000 SKIP_BUILD=1 bench/trace.sh
#
# What it does, all on 127.0.0.1, with the Release build in $BUILD (default build-bench, built first):
#   1. a fresh name server and broker ($FLUSH, default ASYNC_FLUSH; httpPort=0) and store;
#   2. PASSES passes; each runs the three variants on fresh topics of 8 queues, the broker settled
#      (under 2 % of a core over 2 s) before each, in a rotating order so that drift over the run
#      does not favour one variant: `vela-bench produce --window 256 --count $COUNT` plain, the same
#      with --trace (one send event per message, carrying its store, goes to RMQ_SYS_TRACE_TOPIC), and plain while
#      a loop fetches /metrics once a second;
#      Before each, recycle_pages (bench/lib.sh; RECYCLE_GIB=0 turns it off) writes and deletes
#      2 GiB, so that no variant pays for fresh pages that another did not (docs/performance.md);
#   3. prints each variant's rate and broker CPU per message per pass, and the median ratios
#      trace/plain (issue 15's aim: at most 10 % slower, so at least 0.9x) and scraped/plain (aim:
#      no measurable change).
# Raw JSON goes to $OUT (default /tmp/vela-trace-<stamp>). Every process started is stopped on exit
# and the store deleted (KEEP_STORE=1 keeps it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"  # bench_paths, wait_listen, cpu_ticks, settle, build_release, stop_all
bench_paths trace
COUNT=${COUNT:-200000}
PASSES=${PASSES:-3}
FLUSH=${FLUSH:-ASYNC_FLUSH}
SIZE=${SIZE:-1024}

build_release
PIDS=()
trap stop_all EXIT

"$BIN/vela-namesrv" --listen 127.0.0.1:0 --set httpPort=-1 > "$OUT/namesrv.out" 2> "$OUT/namesrv.err" &
PIDS+=($!); NAMESRV=$(wait_listen "$OUT/namesrv.out" $!)
"$BIN/vela-broker" --namesrv "$NAMESRV" --listen 127.0.0.1:0 --store-dir "$OUT/store" \
  --set "flushDiskType=$FLUSH" --set httpPort=0 --set logLevel=warn > "$OUT/broker.out" 2> "$OUT/broker.err" &
BROKER_PID=$!; PIDS+=($BROKER_PID)
BROKER=$(wait_listen "$OUT/broker.out" $BROKER_PID)
HTTP=$(sed -n 's/^http on //p' "$OUT/broker.out" | head -1)
ADMIN=("$BIN/vela-admin" --namesrv "$NAMESRV")
echo "$("$BIN/vela-broker" --version 2> /dev/null || echo "commit $(git -C "$ROOT" rev-parse --short HEAD)"), broker $BROKER (http $HTTP) pid $BROKER_PID, $FLUSH, out $OUT" >&2

BENCH=("$BIN/vela-bench" --namesrv "$NAMESRV" --json)
# run VARIANT PASS: one W1 window-256 run on a fresh topic; its JSON line, with the broker's CPU
# seconds during the run added, goes to $OUT/VARIANT-PASS.json.
run() {
  local variant=$1 pass=$2 topic="Trace_${1}_${2}" extra=() scraper="" before after
  for _ in $(seq 1 40); do "${ADMIN[@]}" topic create "$topic" --queues 8 > /dev/null 2>&1 && break; sleep 0.25; done
  [ "$variant" = traced ] && extra=(--trace)
  if [ "$variant" = scraped ]; then
    python3 -c '
import sys, time, urllib.request
while True:
    urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read()
    time.sleep(1)' "$HTTP" &
    scraper=$!
  fi
  recycle_pages "$OUT"  # every variant writes into recycled page-cache pages (bench/lib.sh)
  settle "$BROKER_PID"  # after the scraper started: its interpreter start-up is not measured
  before=$(cpu_ticks "$BROKER_PID")
  "${BENCH[@]}" produce --topic "$topic" --window 256 --count "$COUNT" --size "$SIZE" "${extra[@]}" > "$OUT/$variant-$pass.raw"
  after=$(cpu_ticks "$BROKER_PID")
  [ -n "$scraper" ] && { kill "$scraper" 2> /dev/null || true; wait "$scraper" 2> /dev/null || true; }
  python3 -c '
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
j["broker_cpu_s"] = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
print(json.dumps(j))' "$OUT/$variant-$pass.raw" "$before" "$after" "$TICKS" > "$OUT/$variant-$pass.json"
}

ORDERS=("plain traced scraped" "traced scraped plain" "scraped plain traced")
for pass in $(seq 1 "$PASSES"); do
  for variant in ${ORDERS[$(((pass - 1) % 3))]}; do run "$variant" "$pass"; done
done

python3 - "$OUT" "$PASSES" << 'EOF'
import json, statistics, sys
out, passes = sys.argv[1], int(sys.argv[2])
def load(variant, p):
    return json.loads(open(f"{out}/{variant}-{p}.json").read())
ratios = {"traced": [], "scraped": []}
errors = 0
for p in range(1, passes + 1):
    plain = load("plain", p)
    line = [f"pass {p}:"]
    for variant in ("plain", "traced", "scraped"):
        j = load(variant, p)
        errors += j["errors"]
        us = j["broker_cpu_s"] / max(j["msgs"], 1) * 1e6
        extra = f", trace dropped {j['trace_dropped']}" if "trace_dropped" in j else ""
        client_us = j["client_cpu_s"] / max(j["msgs"], 1) * 1e6
        line.append(f"{variant} {j['msgs_per_s']:,.0f} msgs/s (p99 {j['latency_us']['p99']} us, broker {us:.2f} us/msg, "
                    f"client {client_us:.2f} us/msg{extra})")
        if variant != "plain":
            ratios[variant].append(j["msgs_per_s"] / plain["msgs_per_s"])
    print("; ".join(line))
print(f"median trace/plain {statistics.median(ratios['traced']):.2f}x (aim: at least 0.9x), "
      f"scraped/plain {statistics.median(ratios['scraped']):.2f}x; per pass: "
      + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(ratios["traced"], ratios["scraped"])))
sys.exit(0 if errors == 0 else 1)
EOF
