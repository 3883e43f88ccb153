#!/usr/bin/env bash
# A quick W1 check against a fresh broker (no peers): starts vela-namesrv and vela-broker from
# build/bin on fixed loopback ports with a store in /tmp/vb, runs `vela-bench produce` at each
# window, and prints msgs/s, ack latency and the broker's CPU per message (/proc/<pid>/stat).
#   bench/quick_produce.sh [--set key=value ...]      e.g. --set flushDiskType=SYNC_FLUSH
# Environment: WINDOWS ("256 1"), COUNT (200000; window 1 uses 30000), SEG (segment size, 1g),
# SETTLE (seconds to let the broker prefault its first segments, 3). bench/compare.sh is the
# full comparison with the peers.
B=$(cd "$(dirname "$0")/.." && pwd)/build/bin
rm -rf /tmp/vb && mkdir -p /tmp/vb && cd /tmp/vb
$B/vela-namesrv --listen 127.0.0.1:29876 > ns.out 2>ns.log &
NSP=$!
sleep 0.3
$B/vela-broker --listen 127.0.0.1:30911 --namesrv 127.0.0.1:29876 --store-dir /tmp/vb/store --set mappedFileSizeCommitLog=${SEG:-1g} "$@" > b.out 2> b.log &
BP=$!
for i in $(seq 100); do grep -q listening b.out && break; sleep 0.2; done
export VELA_NAMESRV=127.0.0.1:29876
sleep ${SETTLE:-3}
$B/vela-admin topic create B1 --queues 8 >/dev/null
for w in ${WINDOWS:-256 1}; do
  T0=$(awk '{print $14+$15}' /proc/$BP/stat)
  n=${COUNT:-200000}; [ $w = 1 ] && n=30000
  timeout 120 $B/vela-bench produce --topic B1 --count $n --window $w --json 2>/dev/null | tail -1 > r.json
  T1=$(awk '{print $14+$15}' /proc/$BP/stat)
  python3 -c "import json; d=json.load(open('r.json')); print('window $w:', round(d['msgs_per_s']), 'msgs/s', d['latency_us'], 'broker us/msg', round(($T1-$T0)*10000/$n,2), 'client cpu s', d['client_cpu_s'], d['durability'])"
done
$B/vela-admin broker status 127.0.0.1:30911 | grep -E 'sendRequests|messagesIn'
kill $BP; wait $BP; kill $NSP; wait $NSP
