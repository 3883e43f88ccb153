#!/usr/bin/env bash
# bench/compare.sh — Vela against Redis Streams, back to back in one invocation (BENCH.md).
#
#   bench/compare.sh                  # full run: 2 passes of 200,000 messages / 20 s caps, W3 10 s (~7-8 min)
#   RUNS=3 bench/compare.sh           # BENCH.md's medians of 3 (~9.5 min quiet, 11 min on a busy machine)
#   RUNS=1 bench/compare.sh           # one pass (~3.5 min)
#   QUICK=1 bench/compare.sh          # smoke run: COUNT=20000, W3 3 s, 20,000 ping-pongs
#   COUNT=50000 E2E_S=5 bench/compare.sh
#
# What it does, all on 127.0.0.1:
#   1. builds Vela (Release, $BUILD, default build-bench) and the peers' peerbench + tcp_pingpong
#      ($PEERS_BUILD, default /tmp/vela-compare-peers); installs redis-server/libhiredis-dev from
#      Debian if missing (INSTALL=0 skips), without letting the package start a system service
#   2. RUNS passes (default 2), each: raw loopback TCP ping-pong, 1 KiB, NODELAY
#      (peers/tools/tcp_pingpong.cpp, 100,000 round trips), then
#   3. Vela ASYNC_FLUSH (fresh name server, broker and store) | Redis AOF everysec |
#      Vela SYNC_FLUSH (fresh again) | Redis AOF always; each: W1 window 1, W1 window 256, W2, W3
#      at 5,000 msgs/s; fresh topic per run (Vela: 8 queues; Redis: the stream is deleted)
#   4. broker CPU per run from /proc/<pid>/stat utime+stime before and after
#   5. prints one markdown table (medians and spread, Vela, peer, ratio) and the BENCH.md targets
#      with pass/fail
# Raw JSON lines go to $OUT/raw.jsonl (default /tmp/vela-compare-<stamp>). Every process it starts
# is stopped by PID on exit (trap), also on failure or Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
PEERS=${PEERS:-$(cd "$ROOT/../shared/peers" 2>/dev/null && pwd || echo /work/shared/peers)}
PEERS_BUILD=${PEERS_BUILD:-/tmp/vela-compare-peers}
OUT=${OUT:-/tmp/vela-compare-$(date +%Y%m%d-%H%M%S)}
if [ "${QUICK:-0}" = 1 ]; then
  COUNT=${COUNT:-20000}; E2E_S=${E2E_S:-3}; PINGS=${PINGS:-20000}; RUNS=${RUNS:-1}
fi
COUNT=${COUNT:-200000}
E2E_S=${E2E_S:-10}
PINGS=${PINGS:-100000}
CAP_S=${CAP_S:-20}
RATE=${RATE:-5000}
QUEUES=${QUEUES:-8}
MODES=${MODES:-"vela-async redis-everysec vela-sync redis-always"}
RUNS=${RUNS:-2}   # passes over MODES (3 for BENCH.md medians of 3: ~9-11 min); table: medians + spread
PINGPONG_PORT=${PINGPONG_PORT:-35311}
RUN_TIMEOUT=${RUN_TIMEOUT:-200}
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: > "$RAW"
TICKS=$(getconf CLK_TCK)
START_S=$(date +%s)

log() { echo "[compare $(($(date +%s) - START_S))s] $*" >&2; }

# ---- processes we start: stopped by PID on exit ------------------------------------------------
NAMESRV_PID=""; BROKER_PID=""; REDIS_CFG=""; VELA_DIR=""
stop_pid() {  # pid
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}
stop_vela() {
  stop_pid "$BROKER_PID"; BROKER_PID=""
  stop_pid "$NAMESRV_PID"; NAMESRV_PID=""
  [ -n "$VELA_DIR" ] && rm -rf "$VELA_DIR"; VELA_DIR=""
}
stop_redis() {
  [ -n "$REDIS_CFG" ] && "$PEERS/scripts/servers.sh" stop "$REDIS_CFG" || true
  REDIS_CFG=""
}
cleanup() { stop_vela; stop_redis; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. build ---------------------------------------------------------------------------------
if [ "${INSTALL:-1}" = 1 ] && { ! command -v redis-server > /dev/null || [ ! -e /usr/include/hiredis/hiredis.h ]; }; then
  log "installing redis-server and libhiredis-dev"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep the package from starting a system service
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt-get install -y -q redis-server libhiredis-dev > "$OUT/apt.log" 2>&1 || { apt-get update -q > /dev/null && apt-get install -y -q redis-server libhiredis-dev >> "$OUT/apt.log" 2>&1; }
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

log "building Vela (Release) in $BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  # VELA_WERROR=OFF: GCC 12 -O3 gives a false -Wrestrict in src/filter/sql92_lexer.cc (vela-bench keeps -Werror)
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DVELA_WERROR=OFF > "$OUT/cmake.log"
fi
cmake --build "$BUILD" -j2 --target vela-bench vela-broker vela-namesrv vela-admin vela-fsync-latency > "$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log" >&2; exit 1; }
BIN=$BUILD/bin

log "building peerbench and tcp_pingpong in $PEERS_BUILD"
cmake -S "$PEERS" -B "$PEERS_BUILD" -DCMAKE_BUILD_TYPE=Release > "$OUT/peers_cmake.log"
cmake --build "$PEERS_BUILD" -j2 --target peerbench tcp_pingpong > "$OUT/peers_build.log" 2>&1 \
  || { tail -30 "$OUT/peers_build.log" >&2; exit 1; }
PB=$PEERS_BUILD/peerbench

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- src include bench 2>/dev/null | grep -c . || true)
export VELA_BENCH_COMMIT=$COMMIT

# ---- helpers ----------------------------------------------------------------------------------
cpu_s() { awk -v t="$TICKS" '{printf "%.3f", ($14+$15)/t}' "/proc/$1/stat"; }
busy_s() { awk -v t="$TICKS" '/^cpu /{printf "%.3f", ($2+$3+$4+$7+$8)/t}' /proc/stat; }

source "$HERE/lib.sh"  # wait_listen

start_vela() {  # ASYNC_FLUSH|SYNC_FLUSH
  VELA_DIR=$(mktemp -d /tmp/vela-compare-store.XXXXXX)
  "$BIN/vela-namesrv" --listen 127.0.0.1:0 > "$VELA_DIR/namesrv.out" 2> "$VELA_DIR/namesrv.err" &
  NAMESRV_PID=$!
  NAMESRV=$(wait_listen "$VELA_DIR/namesrv.out" "$NAMESRV_PID")
  "$BIN/vela-broker" --namesrv "$NAMESRV" --listen 127.0.0.1:0 --store-dir "$VELA_DIR/store" \
    --set "flushDiskType=$1" --set logLevel=warn > "$VELA_DIR/broker.out" 2> "$VELA_DIR/broker.err" &
  BROKER_PID=$!
  BROKER=$(wait_listen "$VELA_DIR/broker.out" "$BROKER_PID")
  log "vela $1: namesrv $NAMESRV (pid $NAMESRV_PID), broker $BROKER (pid $BROKER_PID)"
}

TOPIC_N=0
new_topic() {  # sets TOPIC to a fresh topic, created with $QUEUES queues (not in a subshell: counter)
  TOPIC_N=$((TOPIC_N + 1))
  TOPIC="Bench_${TOPIC_N}_$$"
  for _ in $(seq 1 40); do
    "$BIN/vela-admin" --namesrv "$NAMESRV" topic create "$TOPIC" --queues "$QUEUES" > /dev/null 2>&1 && return 0
    sleep 0.25
  done
  echo "topic create $TOPIC failed" >&2; return 1
}

# run cfg wl broker_pid command... : one timed run, appended to $RAW as {"cfg","wl",...,"result":{...}}
# Before it, the server is let settle: under 2 % of a core over 2 s (lib.sh's settle, at most 60 s),
# so no start-up or background work of the last workload (segment read-ahead, compaction, flush)
# is measured; the seconds waited and the server's CPU meanwhile go into the record.
run() {
  local cfg=$1 wl=$2 bpid=$3; shift 3
  local load c0 c1 s0 s1 t0 t1 line w0 w1 sc0 sc1
  w0=$(date +%s.%N); sc0=$(cpu_s "$bpid")
  settle "$bpid"
  w1=$(date +%s.%N); sc1=$(cpu_s "$bpid")
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  c0=$(cpu_s "$bpid"); s0=$(busy_s); t0=$(date +%s.%N)
  if ! line=$(timeout "$RUN_TIMEOUT" "$@" 2> "$OUT/${cfg}_${wl}.err"); then
    log "  FAILED: $cfg $wl (see $OUT/${cfg}_${wl}.err)"; tail -3 "$OUT/${cfg}_${wl}.err" >&2 || true
    [ -n "$line" ] || return 0
  fi
  line=$(echo "$line" | tail -1)
  c1=$(cpu_s "$bpid"); s1=$(busy_s); t1=$(date +%s.%N)
  printf '{"cfg":"%s","wl":"%s","run":%s,"load_before":"%s",%s,"result":%s}\n' "$cfg" "$wl" "${PASS:-0}" "$load" \
    "$(awk -v a="$c0" -v b="$c1" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" \
       -v w0="$w0" -v w1="$w1" -v sc0="$sc0" -v sc1="$sc1" \
       'BEGIN{printf "\"broker_cpu_s\":%.3f,\"machine_busy_s\":%.3f,\"wall_s\":%.3f,\"settle_wait_s\":%.1f,\"settle_cpu_s\":%.3f", b-a, s1-s0, t1-t0, w1-w0, sc1-sc0}')" \
    "$line" >> "$RAW"
  log "  $cfg $wl: $(echo "$line" | cut -c1-170)"
}

vela_runs() {  # cfg ASYNC_FLUSH|SYNC_FLUSH
  local cfg=$1 mode=$2 vb
  start_vela "$mode"
  vb=("$BIN/vela-bench" --namesrv "$NAMESRV" --json)
  new_topic
  run "$cfg" w1_win1 "$BROKER_PID" "${vb[@]}" produce --topic "$TOPIC" --window 1 --count "$COUNT" --time-cap "$CAP_S"
  new_topic
  run "$cfg" w1_win256 "$BROKER_PID" "${vb[@]}" produce --topic "$TOPIC" --window 256 --count "$COUNT" --time-cap "$CAP_S"
  new_topic
  run "$cfg" w2 "$BROKER_PID" "${vb[@]}" consume --topic "$TOPIC" --group "G_w2_${TOPIC_N}_$$" --count "$COUNT" --fill-cap 60
  new_topic
  run "$cfg" w3 "$BROKER_PID" "${vb[@]}" e2e --topic "$TOPIC" --group "G_w3_${TOPIC_N}_$$" --rate "$RATE" --duration "$E2E_S"
  if [ "${DIAG:-0}" = 1 ]; then  # window 1 through the blocking Producer::Send (no callback-thread hop)
    new_topic
    run "$cfg" w1_win1_send "$BROKER_PID" "${vb[@]}" produce --topic "$TOPIC" --window 1 --sync-send --count "$COUNT" --time-cap "$CAP_S"
  fi
  du -sh "$VELA_DIR/store" 2>/dev/null | awk '{print "  store size " $1}' >&2 || true
  stop_vela
}

redis_runs() {  # redis-everysec|redis-always
  local cfg=$1 base bpid
  "$PEERS/scripts/servers.sh" start "$cfg"
  REDIS_CFG=$cfg
  bpid=$("$PEERS/scripts/servers.sh" pid "$cfg")
  log "$cfg: pid $bpid"
  base=("$PB" --system redis --port 36379)
  run "$cfg" w1_win1 "$bpid" "${base[@]}" --workload produce --window 1 --count "$COUNT" --time-cap "$CAP_S" --label "$cfg/w1_win1"
  run "$cfg" w1_win256 "$bpid" "${base[@]}" --workload produce --window 256 --count "$COUNT" --time-cap "$CAP_S" --label "$cfg/w1_win256"
  run "$cfg" w2 "$bpid" "${base[@]}" --workload consume --count "$COUNT" --fill-window 256 --batch 1000 --fill-cap 60 --label "$cfg/w2"
  run "$cfg" w3 "$bpid" "${base[@]}" --workload e2e --rate "$RATE" --duration "$E2E_S" --e2e-window 256 --label "$cfg/w3"
  stop_redis
}

# ---- 2./3. measure -------------------------------------------------------------------------------
log "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
pingpong() {  # raw loopback round trips, 1 KiB, NODELAY: the physical limit W1 window 1 is held against
  "$PEERS_BUILD/tcp_pingpong" 1024 "$PINGS" 20 "$PINGPONG_PORT" > "$OUT/pingpong_$PASS.json"
  printf '{"cfg":"tcp","wl":"pingpong","run":%s,"load_before":"%s","result":%s}\n' "$PASS" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(cat "$OUT/pingpong_$PASS.json")" >> "$RAW"
  log "  ping-pong: $(cat "$OUT/pingpong_$PASS.json")"
  # The disk's own pwrite + fdatasync (the floor under SYNC_FLUSH and Redis always), same disk as the stores.
  "$BIN/vela-fsync-latency" --dir /tmp --count 2000 --rounds 2 --json > "$OUT/fsync_$PASS.json"
  printf '{"cfg":"disk","wl":"fsync","run":%s,"load_before":"%s","result":%s}\n' "$PASS" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(cat "$OUT/fsync_$PASS.json")" >> "$RAW"
  log "  fsync: $(cat "$OUT/fsync_$PASS.json")"
}

for PASS in $(seq 1 "$RUNS"); do
  log "pass $PASS of $RUNS"
  pingpong
  for m in $MODES; do
    case $m in
      vela-async) vela_runs vela-async ASYNC_FLUSH ;;
      vela-sync) vela_runs vela-sync SYNC_FLUSH ;;
      redis-everysec|redis-always) redis_runs "$m" ;;
      *) echo "unknown mode $m" >&2; exit 2 ;;
    esac
  done
done
log "measurements done in $(($(date +%s) - START_S)) s"

# ---- 5. the table ---------------------------------------------------------------------------------
python3 - "$RAW" "$COMMIT" "$DIRTY" "$COUNT" "$E2E_S" "$RATE" "$RUNS" > "$OUT/table.md" <<'PY'
import json, sys, datetime, os, statistics
raw, commit, dirty, count, e2e_s, rate, runs = sys.argv[1:8]
R = {}  # (cfg, wl) -> [record per run]
for line in open(raw):
    d = json.loads(line)
    R.setdefault((d["cfg"], d["wl"]), []).append(d)

PB_KEYS = {"p50": "ack_p50_us", "p99": "ack_p99_us", "p999": "ack_p999_us", "max": "ack_max_us"}
PB_E2E = {"p50": "p50_us", "p99": "p99_us", "p999": "p999_us", "max": "max_us"}

def one(d, what):
    cfg, wl, r = d["cfg"], d["wl"], d["result"]
    vela = cfg.startswith("vela")
    inner = r if vela else r.get("result", {})
    if what == "tput":
        return float(inner["msgs_per_s"])
    if what in ("cpu", "ccpu"):
        n = float(inner["msgs"] if vela else inner.get("msgs", inner.get("received", 0)))
        if not n: return None
        return (d["broker_cpu_s"] if what == "cpu" else float(r["client_cpu_s"])) * 1e6 / n
    if vela:
        l = r.get("latency_us")
        return None if not l else float(l[what])
    k = (PB_E2E if wl == "w3" else PB_KEYS)[what]
    return float(inner[k]) if k in inner else None

def vals(cfg, wl, what):
    out = []
    for d in R.get((cfg, wl), []):
        try:
            v = one(d, what)
        except (KeyError, ValueError, TypeError):
            v = None
        if v is not None: out.append(v)
    return out

def med(cfg, wl, what):
    v = vals(cfg, wl, what)
    return statistics.median(v) if v else None

def fmt(x, unit=""):
    if x is None: return "—"
    return f"{x:,.0f}" if unit == "rate" else f"{x:,.1f}"

def cell(cfg, wl, what, unit):
    v = vals(cfg, wl, what)
    if not v: return "—"
    m = statistics.median(v)
    if len(v) == 1: return fmt(m, unit)
    return f"{fmt(m, unit)} ({fmt(min(v), unit)}–{fmt(max(v), unit)})"

def ratio(a, b, lower_better=False):
    if a is None or b is None or a == 0 or b == 0: return "—"
    return f"{(b / a if lower_better else a / b):.2f}×"

pp_all = [d["result"] for d in R.get(("tcp", "pingpong"), [])]
pp = {}
for k in ("p50_us", "p99_us", "rtt_per_s"):  # medians over the passes
    v = [float(x[k]) for x in pp_all if k in x]
    if v: pp[k] = statistics.median(v)
pp_spread = {k: (min(float(x[k]) for x in pp_all), max(float(x[k]) for x in pp_all)) for k in ("p50_us", "p99_us", "rtt_per_s")} if pp_all else {}
cpu = open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()
print(f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} · commit {commit}"
      + (f" (+{dirty} uncommitted files under src/include/bench in the tree)" if dirty not in ("", "0") else "")
      + f" · {os.cpu_count()} CPUs, {cpu} · {runs} pass(es) · {count} messages / 20 s caps, W3 {rate} msgs/s for {e2e_s} s, 1 KiB")
print()
if pp:
    sp = lambda k, f: f"{f(pp[k])} ({f(pp_spread[k][0])}–{f(pp_spread[k][1])})" if len(pp_all) > 1 else f(pp[k])
    print(f"Raw loopback TCP ping-pong (1 KiB, NODELAY, tcp_pingpong, once per pass): p50 {sp('p50_us', lambda x: f'{x:.1f}')} µs, "
          f"p99 {sp('p99_us', lambda x: f'{x:.1f}')} µs, {sp('rtt_per_s', lambda x: f'{x:,.0f}')} round trips/s")
fs_all = [d["result"] for d in R.get(("disk", "fsync"), [])]
if fs_all:
    def fsm(way, k):
        return statistics.median(float(x[way][k]) for x in fs_all)
    print("Raw disk, 1 KiB pwrite + fdatasync (vela-fsync-latency, /tmp, 2 x 2,000 per way, once per pass), p50 / p99.9 µs: "
          + ", ".join(f"{w} {fsm(w, 'p50_us'):.0f} / {fsm(w, 'p999_us'):.0f}" for w in ("append", "fallocated", "prewritten")))
settles = [d for k, v in R.items() for d in v if "settle_wait_s" in d]
if settles:
    print(f"Before every workload the server was let settle (under 2 % of a core over 2 s): waits "
          f"{min(d['settle_wait_s'] for d in settles):.1f}–{max(d['settle_wait_s'] for d in settles):.1f} s, "
          f"server CPU while waiting up to {max(d['settle_cpu_s'] for d in settles):.2f} s.")
print()
print("Cells: median (min–max) over the passes. Ratios of medians; > 1× means Vela is better "
      "(throughput Vela/Redis; latency and CPU Redis/Vela).")
print()
rows = [
    ("W1 window 1 msgs/s", "w1_win1", "tput", "rate", False),
    ("W1 window 1 ack p50 µs", "w1_win1", "p50", "", True),
    ("W1 window 1 ack p99 µs", "w1_win1", "p99", "", True),
    ("W1 window 1 ack p99.9 µs", "w1_win1", "p999", "", True),
    ("W1 window 256 msgs/s", "w1_win256", "tput", "rate", False),
    ("W1 window 256 ack p50 µs", "w1_win256", "p50", "", True),
    ("W1 window 256 ack p99 µs", "w1_win256", "p99", "", True),
    ("broker CPU µs/msg, W1 window 256", "w1_win256", "cpu", "", True),
    ("client CPU µs/msg, W1 window 256", "w1_win256", "ccpu", "", True),
    ("W2 drain msgs/s", "w2", "tput", "rate", False),
    ("W3 p50 µs", "w3", "p50", "", True),
    ("W3 p99 µs", "w3", "p99", "", True),
    ("W3 p99.9 µs", "w3", "p999", "", True),
    ("W3 max µs", "w3", "max", "", True),
]
if R.get(("vela-async", "w1_win1_send")) or R.get(("vela-sync", "w1_win1_send")):
    rows[4:4] = [("W1 window 1 via blocking Send msgs/s (diagnostic)", "w1_win1_send", "tput", "rate", False),
                 ("W1 window 1 via blocking Send ack p50 / p99 µs", "w1_win1_send", "p50", "", True)]
print("| measure | Vela async | Redis everysec | Vela/Redis | Vela sync | Redis always | Vela/Redis |")
print("|---|---|---|---|---|---|---|")
for name, wl, what, unit, lower in rows:
    peer_wl = "w1_win1" if wl == "w1_win1_send" else wl
    c = [cell("vela-async", wl, what, unit), cell("redis-everysec", peer_wl, what, unit),
         cell("vela-sync", wl, what, unit), cell("redis-always", peer_wl, what, unit)]
    if wl == "w1_win1_send" and what == "p50":
        c = [f"{fmt(med(k, w, 'p50'))} / {fmt(med(k, w, 'p99'))}" for k, w in
             (("vela-async", wl), ("redis-everysec", peer_wl), ("vela-sync", wl), ("redis-always", peer_wl))]
    ra = ratio(med("vela-async", wl, what), med("redis-everysec", peer_wl, what), lower)
    rs = ratio(med("vela-sync", wl, what), med("redis-always", peer_wl, what), lower)
    print(f"| {name} | {c[0]} | {c[1]} | {ra} | {c[2]} | {c[3]} | {rs} |")
print()

def check(name, target, got, ok):
    status = "—" if ok is None else ("**pass**" if ok else "**FAIL**")
    print(f"| {name} | {target} | {got} | {status} |")

def r_(a, b):
    return None if a is None or b is None or b == 0 else a / b
def xs(x): return "—" if x is None else f"{x:.2f}×"

print("| target (BENCH.md, issue 4) | wanted | measured (medians) | |")
print("|---|---|---|---|")
x = r_(med("vela-async", "w1_win256", "tput"), med("redis-everysec", "w1_win256", "tput"))
check("W1 window 256 async vs Redis everysec", "≥ 3×", xs(x), None if x is None else x >= 3)
c = med("vela-async", "w1_win256", "cpu")
check("broker CPU per message, W1 window 256 async", "≤ 2 µs", fmt(c) + " µs", None if c is None else c <= 2)
rtt_rate = pp.get("rtt_per_s"); rtt_p99 = pp.get("p99_us")
x = r_(med("vela-async", "w1_win1", "tput"), float(rtt_rate) if rtt_rate else None)
check("W1 window 1 async vs raw round-trip rate", "≥ 0.8×", xs(x), None if x is None else x >= 0.8)
x = r_(med("vela-async", "w1_win1", "p99"), float(rtt_p99) if rtt_p99 else None)
check("W1 window 1 async ack p99 vs raw round-trip p99", "≤ 1.5×", xs(x), None if x is None else x <= 1.5)
x = r_(med("vela-sync", "w1_win256", "tput"), med("redis-always", "w1_win256", "tput"))
check("W1 window 256 sync vs Redis always", "≥ 3×", xs(x), None if x is None else x >= 3)
x = r_(med("vela-sync", "w1_win1", "tput"), med("redis-always", "w1_win1", "tput"))
check("W1 window 1 sync vs Redis always", "≥ 1.5×", xs(x), None if x is None else x >= 1.5)
x = r_(med("vela-async", "w2", "tput"), med("redis-everysec", "w2", "tput"))
check("W2 drain (async) vs Redis everysec", "≥ 3×", xs(x), None if x is None else x >= 3)
p = med("vela-async", "w3", "p999")
check("W3 p99.9 at 5,000 msgs/s (async)", "≤ 500 µs", fmt(p) + " µs", None if p is None else p <= 500)
p = med("vela-sync", "w3", "p999")
check("W3 p99.9 at 5,000 msgs/s (sync, for reference)", "≤ 500 µs", fmt(p) + " µs", None if p is None else p <= 500)
print()
errs = []
for (cfg, wl), ds in sorted(R.items()):
    for d in ds:
        r = d.get("result", {})
        if cfg.startswith("vela"):
            if r.get("errors"):
                errs.append(f"{cfg} {wl} pass {d.get('run')}: errors {r['errors']} (missing {r.get('missing', 0)}, dupes {r.get('dupes', 0)})")
            if r.get("durability") not in ("ASYNC_FLUSH", "SYNC_FLUSH"):
                errs.append(f"{cfg} {wl}: durability {r.get('durability')}")
            if r.get("capped"): errs.append(f"{cfg} {wl} pass {d.get('run')}: hit the 20 s cap ({r.get('msgs')} msgs)")
        elif cfg.startswith("redis"):
            inner = r.get("result", {})
            if inner.get("dupes"): errs.append(f"{cfg} {wl}: dupes {inner['dupes']}")
            if inner.get("capped") in (True, "true"): errs.append(f"{cfg} {wl} pass {d.get('run')}: hit the 20 s cap ({inner.get('msgs')} msgs)")
l1 = [float(d["load_before"].split()[0]) for ds in R.values() for d in ds if d.get("load_before")]
if l1:
    print(f"1-minute load average before each run: min {min(l1):.2f}, median {statistics.median(l1):.2f}, max {max(l1):.2f}")
if errs:
    print()
    print("Notes: " + "; ".join(errs))
PY
cat "$OUT/table.md"
log "raw results: $RAW; table: $OUT/table.md"
