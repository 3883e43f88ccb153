#!/usr/bin/env bash
# Follows the README's set-up-and-run command on a fresh clone: scripts/quickstart.sh starts a
# name server and a broker with conf/ defaults, then one message goes through vela-admin.
# To keep CI within its time, the clone reuses this build (VELA_BUILD_DIR) instead of building
# again, and the daemons listen on free ports instead of 9876/10911 (HTTP: 8081/8080).
#   quickstart_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$1
BUILD=$2
TMP=$(mktemp -d)
cleanup() {
  if [ -d "$TMP/clone" ]; then (cd "$TMP/clone" && scripts/quickstart.sh stop >/dev/null 2>&1 || true); fi
  rm -rf "$TMP"
}
trap cleanup EXIT
git clone -q "$SRC" "$TMP/clone"
cd "$TMP/clone"
BROKER_PORT=$(( 20000 + RANDOM % 20000 ))
VELA_BUILD_DIR="$BUILD" NAMESRV_ARGS="--listen 127.0.0.1:0 --set httpPort=0" \
  BROKER_ARGS="--listen 127.0.0.1:$BROKER_PORT --set httpPort=0 --set mappedFileSizeCommitLog=16m" scripts/quickstart.sh
export VELA_NAMESRV=$(sed -n 's/^listening on //p' logs/namesrv.out)
ADMIN="$BUILD/bin/vela-admin"
for _ in $(seq 1 100); do
  "$ADMIN" cluster list 2>/dev/null | grep -q broker-a && break
  sleep 0.1
done
"$ADMIN" topic create Hello --queues 4
"$ADMIN" send --topic Hello --body 'hello, vela'
out=$("$ADMIN" consume --topic Hello --group G1 --count 1 --timeout 10 --json)
echo "$out"
grep -q '"body":"hello, vela"' <<<"$out"
scripts/quickstart.sh stop
test -d store/commitlog
echo "quickstart: one message sent and consumed"
