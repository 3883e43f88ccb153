#!/usr/bin/env bash
# vela-bench against a real name server and broker: produce at windows 64 and 1 (and with
# --trace; and with --transaction: one-message transactions committed), a W2 backlog
# and drain (concurrent, --orderly, --broadcast), a retry run (every first delivery fails and
# comes back; 100 ms delay levels) and a short W3 run each finish with every message acknowledged (or received) and no
# error in their JSON. Figures are not checked: speed is measured by bench/compare.sh.
#   bench_smoke_test.sh BUILD_DIR
set -euo pipefail
BIN=$(cd "$1" && pwd)/bin
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP"
"$BIN/vela-namesrv" --listen 127.0.0.1:0 --set httpPort=0 >ns.out 2>ns.log &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^listening on' ns.out 2>/dev/null && break; sleep 0.1; done
export VELA_NAMESRV=$(sed -n 's/^listening on //p' ns.out)
BROKER_PORT=$(( 20000 + RANDOM % 20000 ))
"$BIN/vela-broker" --listen "127.0.0.1:$BROKER_PORT" --namesrv "$VELA_NAMESRV" --store-dir "$TMP/store" \
  --set httpPort=0 --set mappedFileSizeCommitLog=16m --set maxHashSlotNum=4096 --set maxIndexNum=4096 \
  --set "messageDelayLevel=$(printf '100ms %.0s' $(seq 1 18))" >b.out 2>b.log &
PIDS+=($!)
for _ in $(seq 1 100); do
  "$BIN/vela-admin" cluster list 2>/dev/null | grep -q "$BROKER_PORT" && break
  sleep 0.1
done
"$BIN/vela-admin" topic create P --queues 4 >/dev/null
"$BIN/vela-admin" topic create C --queues 4 >/dev/null
"$BIN/vela-admin" topic create E --queues 4 >/dev/null
for t in CO CB R; do "$BIN/vela-admin" topic create "$t" --queues 4 >/dev/null; done

# check JSON FIELD EXPECTED: the field of the one JSON object on stdin equals EXPECTED.
check() {
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
field, want = sys.argv[1], sys.argv[2]
got = d
for part in field.split("."):
    got = got[part]
if str(got) != want:
    sys.exit(f"{field} = {got}, want {want}: {d}")
' "$1" "$2"
}

out=$("$BIN/vela-bench" --json produce --topic P --count 5000 --window 64)
check msgs 5000 <<<"$out"
check errors 0 <<<"$out"
out=$("$BIN/vela-bench" --json produce --topic P --count 2000 --window 64 --trace)
check msgs 2000 <<<"$out"
check errors 0 <<<"$out"
check trace True <<<"$out"
check trace_dropped 0 <<<"$out"
out=$("$BIN/vela-bench" --json produce --topic P --count 300 --window 1)
check msgs 300 <<<"$out"
check errors 0 <<<"$out"
out=$("$BIN/vela-bench" --json produce --topic P --count 1000 --window 16 --transaction)
check msgs 1000 <<<"$out"
check errors 0 <<<"$out"
check send_api SendInTransactionAsync <<<"$out"
out=$("$BIN/vela-bench" --json consume --topic C --group G --count 5000)
check msgs 5000 <<<"$out"
check errors 0 <<<"$out"
out=$("$BIN/vela-bench" --json consume --topic CO --group GO --count 2000 --orderly)
check msgs 2000 <<<"$out"
check errors 0 <<<"$out"
check mode orderly <<<"$out"
out=$("$BIN/vela-bench" --json consume --topic CB --group GB --count 2000 --broadcast)
check msgs 2000 <<<"$out"
check errors 0 <<<"$out"
check mode broadcast <<<"$out"
out=$("$BIN/vela-bench" --json retry --topic R --group GR --count 500)
check send_backs 500 <<<"$out"
check came_back 500 <<<"$out"
check errors 0 <<<"$out"
out=$("$BIN/vela-bench" --json e2e --topic E --group GE --rate 1000 --duration 1)
check errors 0 <<<"$out"
echo "vela-bench: produce, consume (concurrent, orderly, broadcast), retry and e2e completed without errors"
