#!/usr/bin/env bash
# bench/soak.sh: a memory soak of one broker under mixed traffic (docs/soak.md).
#   bench/soak.sh [DURATION_SECONDS]          default 3600; at least 60
# Starts vela-namesrv and vela-broker from build/bin on free loopback ports with a fresh store,
# then runs, all at once and all stopping by themselves at the end:
#   sends + pulls  vela-bench e2e at SOAK_RATE msgs/s (runs of at most 60 s), consumer group soak-e2e
#   pulls          vela-admin consume rounds of 1000 messages, consumer group soak-admin
#   reconnects     a new vela-admin process every SOAK_RECONNECT_MS: send to soak-ping, topic status
#   slow reader    vela-slow-reader: pipelined pulls read at a trickle, a new connection every minute
# Every SOAK_SAMPLE_S seconds it appends the broker's memory, open fds and counters to OUT/soak.csv,
# and at the end prints (and writes to OUT/summary.txt) the memory after warm-up, its least-squares
# slope and PASS/FAIL. Exit status: 0 PASS, 1 FAIL, 2 bad usage or the cluster did not start.
# Builds nothing: expects vela-namesrv, vela-broker, vela-admin, vela-bench and vela-slow-reader
# in SOAK_BIN.
#
# Environment (defaults in brackets):
#   SOAK_BIN [build/bin]  SOAK_OUT [/tmp/vela-soak-DATE]  SOAK_KEEP_STORE [0: delete OUT/store at exit]
#   SOAK_NAMESRV_LISTEN, SOAK_BROKER_LISTEN [127.0.0.1:0: a free port]
#   SOAK_SEGMENT [64m: mappedFileSizeCommitLog]  SOAK_BROKER_SET ["": more key=value broker settings]
#   SOAK_QUEUES [4]  SOAK_RATE [100 msgs/s]  SOAK_SIZE [1024 bytes]  SOAK_RECONNECT_MS [100]
#   SOAK_SLOW_PIPELINE [5000]  SOAK_SLOW_MAX_MESSAGES [8]  SOAK_SLOW_READ_BPS [2048; 0 never reads]
#   SOAK_SLOW_RECONNECT_S [60]  SOAK_SAMPLE_S [10]  SOAK_WARMUP_PCT [10]
#   SOAK_FLAT_PCT [5]  SOAK_FLAT_MB [16]  SOAK_FLAT_FDS [32]: the PASS bounds (see docs/soak.md)
set -u -o pipefail
set -m  # every background job in its own process group: cleanup stops a loop with its children

usage() { sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
DURATION=${1:-3600}
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 60)) || usage
(($# <= 1)) || usage

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SOAK_BIN:-$ROOT/build/bin}
OUT=${SOAK_OUT:-/tmp/vela-soak-$(date +%Y%m%d-%H%M%S)}
KEEP_STORE=${SOAK_KEEP_STORE:-0}
NS_LISTEN=${SOAK_NAMESRV_LISTEN:-127.0.0.1:0}
BROKER_LISTEN=${SOAK_BROKER_LISTEN:-127.0.0.1:0}
SEGMENT=${SOAK_SEGMENT:-64m}
BROKER_SET=${SOAK_BROKER_SET:-}
QUEUES=${SOAK_QUEUES:-4}
RATE=${SOAK_RATE:-100}
SIZE=${SOAK_SIZE:-1024}
RECONNECT_MS=${SOAK_RECONNECT_MS:-100}
SLOW_PIPELINE=${SOAK_SLOW_PIPELINE:-5000}
SLOW_MAX_MESSAGES=${SOAK_SLOW_MAX_MESSAGES:-8}
SLOW_READ_BPS=${SOAK_SLOW_READ_BPS:-2048}
SLOW_RECONNECT_S=${SOAK_SLOW_RECONNECT_S:-60}
SAMPLE_S=${SOAK_SAMPLE_S:-10}
WARMUP_PCT=${SOAK_WARMUP_PCT:-10}
FLAT_PCT=${SOAK_FLAT_PCT:-5}
FLAT_MB=${SOAK_FLAT_MB:-16}
FLAT_FDS=${SOAK_FLAT_FDS:-32}

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
TOPIC=soak
PING_TOPIC=soak-ping
E2E_GROUP=soak-e2e
ADMIN_GROUP=soak-admin
SLOW_GROUP=soak-slow

for b in vela-namesrv vela-broker vela-admin vela-bench vela-slow-reader; do
  [[ -x $BIN/$b ]] || { echo "soak: $BIN/$b missing; build it first (docs/soak.md)" >&2; exit 2; }
done
mkdir -p "$OUT" || exit 2
STORE=$OUT/store
rm -rf "$STORE"

NS_PID= BROKER_PID= SLOW_PID=
LOOP_PIDS=()

log() { echo "soak $(date +%T): $*"; }

# Sends SIGTERM to a daemon (a child of this shell: not from a subshell) and waits up to 30 s
# for it, then SIGKILL; sets STOP_STATUS to its exit status (CLI.md: 0 after SIGTERM).
STOP_STATUS=
stop_daemon() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  STOP_STATUS=$?
}

cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${LOOP_PIDS[@]}" $SLOW_PID; do kill -TERM -- "-$pid" 2>/dev/null; done
  for pid in "${LOOP_PIDS[@]}" $SLOW_PID; do wait "$pid" 2>/dev/null; done
  [[ -n $BROKER_PID ]] && stop_daemon "$BROKER_PID"
  [[ -n $NS_PID ]] && stop_daemon "$NS_PID"
  [[ $KEEP_STORE == 1 ]] || rm -rf "$STORE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to 30 s for a daemon's "listening on HOST:PORT" line and prints HOST:PORT.
listen_address() {
  local file=$1 pid=$2 i line
  for ((i = 0; i < 300; i++)); do
    line=$(grep -m1 '^listening on ' "$file" 2>/dev/null)
    [[ -n $line ]] && { echo "${line#listening on }"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Runs a command until it succeeds, up to 30 tries a second apart.
retry() {
  local i
  for ((i = 0; i < 30; i++)); do
    "$@" >/dev/null 2>>"$OUT/setup.err" && return 0
    sleep 1
  done
  return 1
}

admin() { "$BIN/vela-admin" --timeout 10 "$@"; }

# --- the cluster -------------------------------------------------------------------------------
"$BIN/vela-namesrv" --listen "$NS_LISTEN" >"$OUT/namesrv.out" 2>"$OUT/namesrv.log" &
NS_PID=$!
NS_ADDR=$(listen_address "$OUT/namesrv.out" "$NS_PID") || {
  echo "soak: vela-namesrv did not start:" >&2; tail -5 "$OUT/namesrv.log" >&2; exit 2; }
export VELA_NAMESRV=$NS_ADDR

broker_sets=(--set "mappedFileSizeCommitLog=$SEGMENT")
for setting in $BROKER_SET; do broker_sets+=(--set "$setting"); done
"$BIN/vela-broker" --listen "$BROKER_LISTEN" --namesrv "$NS_ADDR" --store-dir "$STORE" "${broker_sets[@]}" \
  >"$OUT/broker.out" 2>"$OUT/broker.log" &
BROKER_PID=$!
BROKER=$(listen_address "$OUT/broker.out" "$BROKER_PID") || {
  echo "soak: vela-broker did not start:" >&2; tail -5 "$OUT/broker.log" >&2; exit 2; }
log "name server $NS_ADDR (pid $NS_PID), broker $BROKER (pid $BROKER_PID), output in $OUT"

retry admin topic create "$TOPIC" --queues "$QUEUES" --broker "$BROKER" &&
  retry admin topic create "$PING_TOPIC" --queues 2 --broker "$BROKER" &&
  retry admin topic route "$TOPIC" && retry admin topic route "$PING_TOPIC" &&
  retry admin group create "$E2E_GROUP" && retry admin group create "$ADMIN_GROUP" &&
  retry admin group create "$SLOW_GROUP" || {
  echo "soak: could not create the topics and groups:" >&2; tail -5 "$OUT/setup.err" >&2; exit 2; }

START=$EPOCHSECONDS
END=$((START + DURATION))

# --- the traffic -------------------------------------------------------------------------------
# Each loop stops by itself before END and keeps its counts in OUT/<name>.count (key=value).

# Sends and pulls: vela-bench e2e runs of at most 60 s; each run is a new producer and consumer.
e2e_loop() {
  local runs=0 failed=0 left d
  while :; do
    left=$((END - EPOCHSECONDS - 15))  # e2e waits up to 10 s for its tail
    ((left >= 5)) || break
    d=$((left < 60 ? left : 60))
    timeout --foreground $((d + 60)) "$BIN/vela-bench" e2e --topic "$TOPIC" --group "$E2E_GROUP" --rate "$RATE" --duration "$d" \
      --size "$SIZE" --json >>"$OUT/e2e.jsonl" 2>>"$OUT/e2e.err" || failed=$((failed + 1))
    runs=$((runs + 1))
    echo "runs=$runs failed_runs=$failed" >"$OUT/e2e.count"
  done
}

# Pulls by a second group: vela-admin consume rounds of 1000 messages.
consume_loop() {
  local rounds=0 failed=0 msgs=0 left n rc
  while :; do
    left=$((END - EPOCHSECONDS - 5))
    ((left >= 5)) || break
    n=$(timeout --foreground "$((left < 60 ? left : 60))" "$BIN/vela-admin" consume --topic "$TOPIC" --group "$ADMIN_GROUP" \
      --count 1000 --timeout 5 --json 2>>"$OUT/consume.err" | wc -l)
    rc=${PIPESTATUS[0]}
    rounds=$((rounds + 1))
    msgs=$((msgs + n))
    ((rc == 0)) || failed=$((failed + 1))
    echo "rounds=$rounds failed_rounds=$failed messages=$msgs" >"$OUT/consume.count"
    sleep 1
  done
}

# Reconnects: a new client process (a new connection to the name server and the broker) every
# RECONNECT_MS, alternately a send and a topic status.
reconnect_loop() {
  local i=0 ok=0 failed=0 t0 wait_us
  while ((EPOCHSECONDS < END - 2)); do
    t0=${EPOCHREALTIME//[.,]/}
    if ((i % 2 == 0)); then
      timeout --foreground 10 "$BIN/vela-admin" send --topic "$PING_TOPIC" --body "ping $i" >/dev/null 2>>"$OUT/reconnect.err"
    else
      timeout --foreground 10 "$BIN/vela-admin" topic status "$TOPIC" >/dev/null 2>>"$OUT/reconnect.err"
    fi && ok=$((ok + 1)) || failed=$((failed + 1))
    i=$((i + 1))
    ((i % 20 == 0)) && echo "clients=$i ok=$ok failed=$failed" >"$OUT/reconnect.count"
    wait_us=$((RECONNECT_MS * 1000 - (${EPOCHREALTIME//[.,]/} - t0)))
    ((wait_us > 0)) && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
  done
  echo "clients=$i ok=$ok failed=$failed" >"$OUT/reconnect.count"
}

e2e_loop & LOOP_PIDS+=($!)
consume_loop & LOOP_PIDS+=($!)
reconnect_loop & LOOP_PIDS+=($!)
"$BIN/vela-slow-reader" --broker "$BROKER" --topic "$TOPIC" --group "$SLOW_GROUP" --queues "$QUEUES" \
  --duration $((DURATION - 3)) --pipeline "$SLOW_PIPELINE" --max-messages "$SLOW_MAX_MESSAGES" \
  --read-bytes-per-s "$SLOW_READ_BPS" --reconnect-s "$SLOW_RECONNECT_S" \
  >"$OUT/slow_reader.jsonl" 2>"$OUT/slow_reader.err" &
SLOW_PID=$!
log "traffic started for ${DURATION} s: e2e $RATE msgs/s of $SIZE B, consume rounds, a client every ${RECONNECT_MS} ms, slow reader"

# --- sampling ----------------------------------------------------------------------------------
# The value of a key in the JSON object of `broker status --json` ("" when absent).
json_value() { grep -o "\"$1\": *\"\{0,1\}[0-9]*" <<<"$2" | grep -o '[0-9]*$'; }

STATUS_KEYS=(messagesIn messagesOut sendRequests pullRequests sendErrors clients heldPulls commitLogSegments)
echo "elapsed_s,rss_kb,hwm_kb,rss_anon_kb,rss_file_kb,threads,fds,namesrv_rss_kb,${STATUS_KEYS[*]}" |
  tr ' ' ',' >"$OUT/soak.csv"
STATUS_FAILURES=0
BROKER_DIED=0
sample() {
  local mem fds ns_rss status line k
  mem=$(awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} /^Threads:/{t=$2}
             END{print r","h","a","f","t}' "/proc/$BROKER_PID/status" 2>/dev/null) || return 1
  fds=$(ls -U "/proc/$BROKER_PID/fd" 2>/dev/null | wc -l)
  ns_rss=$(awk '/^VmRSS:/{print $2}' "/proc/$NS_PID/status" 2>/dev/null)
  status=$(timeout --foreground 10 "$BIN/vela-admin" --json broker status "$BROKER" 2>>"$OUT/status.err") ||
    STATUS_FAILURES=$((STATUS_FAILURES + 1))
  line="$((EPOCHSECONDS - START)),$mem,$fds,$ns_rss"
  for k in "${STATUS_KEYS[@]}"; do line+=",$(json_value "$k" "$status")"; done
  echo "$line" >>"$OUT/soak.csv"
}

next=$START
while :; do
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    BROKER_DIED=1
    log "the broker exited during the run (see $OUT/broker.log)"
    break
  fi
  sample || true
  ((next >= END)) && break
  next=$((next + SAMPLE_S))
  ((next > END)) && next=$END
  while ((EPOCHSECONDS < next)); do sleep 0.5; done
done

# --- the end -----------------------------------------------------------------------------------
log "duration reached; waiting for the traffic to stop"
for pid in "${LOOP_PIDS[@]}" $SLOW_PID; do
  for ((i = 0; i < 900; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -TERM -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
LOOP_PIDS=() SLOW_PID=
stop_daemon "$BROKER_PID"
BROKER_EXIT=$STOP_STATUS
((BROKER_DIED)) && BROKER_EXIT="died during the run ($STOP_STATUS)"
BROKER_PID=
stop_daemon "$NS_PID"
NS_EXIT=$STOP_STATUS
NS_PID=
STORE_BYTES=$(du -sb "$STORE" 2>/dev/null | cut -f1)

# Traffic figures and errors from the loops' records.
kv() { awk -v key="$1" '{ for (i = 1; i <= NF; i++) if (split($i, p, "=") == 2 && p[1] == key) print p[2] }' \
  "$OUT/$2.count" 2>/dev/null; }
e2e_stats=$(awk '{for (k in f) delete f[k]; n = split($0, a, /[,{}]/); for (i = 1; i <= n; i++) {
                    split(a[i], p, ":"); gsub(/[" ]/, "", p[1]); f[p[1]] = p[2] }
                  sent += f["sent"]; recv += f["received"]; err += f["errors"]; miss += f["missing"] }
                 END { printf "%d %d %d %d", sent, recv, err, miss }' "$OUT/e2e.jsonl" 2>/dev/null)
read -r E2E_SENT E2E_RECV E2E_ERR E2E_MISS <<<"${e2e_stats:-0 0 0 0}"
slow=$(grep '"summary":true' "$OUT/slow_reader.jsonl" 2>/dev/null)
slow_value() { grep -o "\"$1\":[0-9]*" <<<"$slow" | cut -d: -f2; }

{
  echo "== Vela soak: ${DURATION} s, commit $COMMIT," \
    "broker $BROKER, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "traffic: e2e runs $(kv runs e2e) (failed $(kv failed_runs e2e)): sent $E2E_SENT, received $E2E_RECV," \
    "message errors $E2E_ERR, missing $E2E_MISS"
  echo "         consume rounds $(kv rounds consume) (failed $(kv failed_rounds consume)), messages $(kv messages consume)"
  echo "         reconnect clients $(kv clients reconnect): ok $(kv ok reconnect), failed $(kv failed reconnect)"
  echo "         slow reader: connections $(slow_value connections), closed by the broker $(slow_value closed_by_broker)," \
    "pulls queued $(slow_value requests_queued), responses read $(slow_value responses)" \
    "(errors $(slow_value error_responses)), bytes read $(slow_value bytes_read)"
  echo "         broker status failures $STATUS_FAILURES; store $((${STORE_BYTES:-0} / 1048576)) MiB;" \
    "broker exit $BROKER_EXIT, name server exit $NS_EXIT"
  awk -F, -v duration="$DURATION" -v warmup_pct="$WARMUP_PCT" -v sample_s="$SAMPLE_S" -v flat_pct="$FLAT_PCT" \
    -v flat_mb="$FLAT_MB" -v flat_fds="$FLAT_FDS" -v broker_died="$BROKER_DIED" -v broker_exit="$BROKER_EXIT" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { all++; if ($col["hwm_kb"] > hwm) hwm = $col["hwm_kb"] }
    $1 + 0 >= warm {
      n++; t[n] = $1; rss[n] = $col["rss_kb"]; anon[n] = $col["rss_anon_kb"]; file[n] = $col["rss_file_kb"]
      fd[n] = $col["fds"]; in_[n] = $col["messagesIn"]; out_[n] = $col["messagesOut"]
    }
    BEGIN { warm = duration * warmup_pct / 100; if (warm < sample_s) warm = sample_s }
    # Least-squares slope of y over t (per minute) across the post-warm-up samples.
    function slope(y,   i, st, sy, stt, sty, d) {
      for (i = 1; i <= n; i++) { st += t[i]; sy += y[i]; stt += t[i] * t[i]; sty += t[i] * y[i] }
      d = n * stt - st * st
      return d > 0 ? (n * sty - st * sy) / d * 60 : 0
    }
    function stats(name, y,   i, lo, hi, sum) {
      lo = hi = y[1]
      for (i = 1; i <= n; i++) { if (y[i] < lo) lo = y[i]; if (y[i] > hi) hi = y[i]; sum += y[i] }
      printf "%-12s first %9d  min %9d  max %9d  last %9d  mean %9d  slope %+9.1f KB/min\n",
             name, y[1], lo, hi, y[n], sum / n, slope(y)
      return sum / n
    }
    END {
      printf "samples: %d every %d s; warm-up: the first %d s (%d%%); after it: %d samples\n",
             all, sample_s, warm, warmup_pct, n
      if (n < 3) { print "RESULT: FAIL (fewer than 3 samples after warm-up)"; exit 1 }
      span_min = (t[n] - t[1]) / 60
      print "broker memory after warm-up (KB):"
      anon_mean = stats("RssAnon", anon); stats("VmRSS", rss); stats("RssFile", file)
      printf "VmHWM (peak of the whole run): %d KB\n", hwm
      growth = slope(anon) * span_min
      bound = anon_mean * flat_pct / 100; if (bound < flat_mb * 1024) bound = flat_mb * 1024
      fd_growth = slope(fd) * span_min
      printf "fds after warm-up: first %d, last %d, fitted growth %+.1f\n", fd[1], fd[n], fd_growth
      printf "throughput after warm-up: %.1f msgs/s in, %.1f msgs/s out\n",
             (in_[n] - in_[1]) / (t[n] - t[1]), (out_[n] - out_[1]) / (t[n] - t[1])
      flat = growth <= bound; fds_flat = fd_growth <= flat_fds
      traffic = in_[n] > in_[1] && out_[n] > out_[1]
      alive = !broker_died && broker_exit == "0"
      printf "memory flat: fitted RssAnon growth over %.1f min %+.0f KB <= %.0f KB (max of %s%% of the mean, %s MiB): %s\n",
             span_min, growth, bound, flat_pct, flat_mb, flat ? "yes" : "NO"
      printf "fds flat: fitted growth %+.1f <= %d: %s\n", fd_growth, flat_fds, fds_flat ? "yes" : "NO"
      printf "traffic flowed after warm-up: %s; broker alive to the end and clean exit: %s\n",
             traffic ? "yes" : "NO", alive ? "yes" : "NO"
      ok = flat && fds_flat && traffic && alive
      print "RESULT: " (ok ? "PASS" : "FAIL")
      exit ok ? 0 : 1
    }' "$OUT/soak.csv"
} | tee "$OUT/summary.txt"
RESULT=${PIPESTATUS[0]}
log "csv: $OUT/soak.csv; summary: $OUT/summary.txt"
exit "$RESULT"
