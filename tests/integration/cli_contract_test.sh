#!/usr/bin/env bash
# The command-line contract of every binary (CLI.md "Every binary", issue 16): --version prints one
# version on every binary and exits 0; bad usage exits 2 with the reason; an unknown setting is
# refused at start naming the nearest known key (only warned with strictConfig=false); flags win
# over the config file; --print-config lists each effective setting with its source; the log file
# rotates by size and is reopened on SIGHUP; the broker reports its version and its clients'.
#   cli_contract_test.sh BUILD_DIR
set -euo pipefail
BIN=$1/bin
TMP=$(mktemp -d)
source "$(dirname "$0")/script_support.sh"
# expect_exit CODE CMD...: runs CMD, stdout to $TMP/out, stderr to $TMP/err.
expect_exit() {
  local want=$1; shift
  set +e; "$@" >"$TMP/out" 2>"$TMP/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat "$TMP/out" "$TMP/err" >&2; fail "'$*' exited $got, want $want"; }
}
stop_daemon() {  # pid
  kill -TERM "$1"
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  fail "pid $1 did not stop on SIGTERM"
}

binaries=(vela-namesrv vela-broker vela-admin vela-store)
[ -x "$BIN/vela-bench" ] && binaries+=(vela-bench)

echo "== --version on every binary: one version, exit 0"
versions=()
for b in "${binaries[@]}"; do
  expect_exit 0 "$BIN/$b" --version
  line=$(cat "$TMP/out")
  [[ "$line" =~ ^$b\ ([0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]+(-dirty)?\))$ ]] || \
    [[ "$line" =~ ^$b\ ([0-9]+\.[0-9]+\.[0-9]+\ \(commit\ unknown\))$ ]] || fail "$b --version printed '$line'"
  versions+=("${BASH_REMATCH[1]}")
  echo "  $line"
done
for v in "${versions[@]}"; do [ "$v" = "${versions[0]}" ] || fail "versions differ: ${versions[*]}"; done

echo "== bad usage exits 2 with the reason"
for b in "${binaries[@]}"; do
  case $b in
    vela-store) args=(verify --store-dir "$TMP/none" --no-such-flag) ;;
    vela-bench) args=(produce --topic T --no-such-flag) ;;
    *) args=(--no-such-flag) ;;
  esac
  expect_exit 2 "$BIN/$b" "${args[@]}"
  grep -q -- "--no-such-flag" "$TMP/err" || fail "$b: the reason does not name the flag: $(cat "$TMP/err")"
done
expect_exit 2 "$BIN/vela-broker" --set notkeyvalue
grep -q "notkeyvalue" "$TMP/err" || fail "--set without '=' not explained"
expect_exit 2 "$BIN/vela-broker" --config "$TMP/does-not-exist.conf"
grep -q "does-not-exist.conf" "$TMP/err" || fail "missing config file not named"
expect_exit 2 "$BIN/vela-broker" --set flushIntervalCommitLog=soon --print-config
grep -q "flushIntervalCommitLog" "$TMP/err" || fail "bad value not named"
expect_exit 2 "$BIN/vela-broker" --log-level loud --print-config --store-dir "$TMP/s0"
expect_exit 2 "$BIN/vela-admin" topic create
expect_exit 2 "$BIN/vela-admin" no-such-command
expect_exit 2 "$BIN/vela-store" verify

echo "== the shipped conf/ is accepted as it is"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
expect_exit 0 "$BIN/vela-broker" --config "$SRC/conf/broker.conf" --print-config
grep -q "(unknown)" "$TMP/out" && fail "conf/broker.conf has unknown settings"
expect_exit 0 "$BIN/vela-namesrv" --config "$SRC/conf/namesrv.conf" --print-config

echo "== a misspelt setting is refused with the nearest known key"
printf 'brokerName = typo-broker\nflushDiskTyp = SYNC_FLUSH\n' >"$TMP/typo.conf"
expect_exit 2 "$BIN/vela-broker" --config "$TMP/typo.conf" --store-dir "$TMP/s1" --listen 127.0.0.1:0
grep -q "unknown setting flushDiskTyp" "$TMP/err" || fail "no refusal: $(cat "$TMP/err")"
grep -q "did you mean flushDiskType?" "$TMP/err" || fail "no suggestion: $(cat "$TMP/err")"
grep -q "typo.conf:2" "$TMP/err" || fail "file and line not named: $(cat "$TMP/err")"
[ ! -d "$TMP/s1" ] || fail "the broker created its store before refusing the settings"
expect_exit 2 "$BIN/vela-broker" --set autoCreateTopicEnabled=true --print-config
grep -q "did you mean autoCreateTopicEnable?" "$TMP/err" || fail "no suggestion for --set: $(cat "$TMP/err")"
expect_exit 2 "$BIN/vela-namesrv" --set brokerExpiryMS=1000 --print-config
grep -q "did you mean brokerExpiryMs?" "$TMP/err" || fail "namesrv: no suggestion: $(cat "$TMP/err")"
expect_exit 2 "$BIN/vela-broker" --set zzzzzz=1 --print-config
grep -q "unknown setting zzzzzz" "$TMP/err" || fail "far-off key not refused: $(cat "$TMP/err")"

echo "== strictConfig=false only warns, and the broker runs"
start_daemon vela-broker "$TMP/lenient.out" --config "$TMP/typo.conf" --set strictConfig=false \
  --store-dir "$TMP/s2" --listen 127.0.0.1:0 --set mappedFileSizeCommitLog=16m
grep -q "warning: .*unknown setting flushDiskTyp.*did you mean flushDiskType?" "$TMP/lenient.out.err" || \
  fail "no warning: $(cat "$TMP/lenient.out.err")"
stop_daemon "${PIDS[-1]}"

echo "== flags win over the config file; --print-config names each source"
cat >"$TMP/prec.conf" <<CONF
brokerName = from-file
logLevel = warn
storePathRootDir = /from/file
listenPort = 12345
maxPullMessages = 64
CONF
expect_exit 0 "$BIN/vela-broker" --config "$TMP/prec.conf" --log-level debug --store-dir "$TMP/flag-store" \
  --set maxPullMessages=32 --listen 127.0.0.1:0 --print-config
out=$(cat "$TMP/out")
check_line() {  # key value source-regex
  grep -qE "^$1 = $2 +# $3\$" <<<"$out" || fail "want '$1 = $2  # $3' in:
$out"
}
check_line brokerName from-file "file .*prec.conf:1"
check_line logLevel debug "flag --log-level"
check_line storePathRootDir "$TMP/flag-store" "flag --store-dir"
check_line maxPullMessages 32 "flag --set"
check_line listen 127.0.0.1:0 "flag --listen"
check_line listenPort 12345 "file .*prec.conf:4"
check_line flushDiskType SYNC_FLUSH default
check_line strictConfig true default
[ ! -d "$TMP/flag-store" ] || fail "--print-config created the store"
# The namesrv too.
expect_exit 0 "$BIN/vela-namesrv" --set logLevel=error --log-level info --print-config
grep -qE "^logLevel = info +# flag --log-level$" "$TMP/out" || fail "namesrv: --log-level lost to --set: $(cat "$TMP/out")"

echo "== the log file rotates by size and is reopened on SIGHUP"
start_daemon vela-namesrv "$TMP/ns.out" --listen 127.0.0.1:0 --log-level debug \
  --set logFile="$TMP/logs/namesrv.log" --set logMaxFileSize=1k --set logMaxFiles=2
NS_PID=${PIDS[-1]}
NAMESRV=$(sed -n 's/^listening on //p' "$TMP/ns.out")
start_daemon vela-broker "$TMP/broker.out" --namesrv "$NAMESRV" --listen 127.0.0.1:0 --store-dir "$TMP/s3" \
  --set mappedFileSizeCommitLog=16m --set logFile="$TMP/blogs/broker.log" --set logMaxFileSize=2k \
  --set logMaxFiles=3 --log-level debug
BROKER_PID=${PIDS[-1]}
BROKER=$(sed -n 's/^listening on //p' "$TMP/broker.out")
# Every connection closed is a debug line on the server's side: the files fill and rotate.
for _ in $(seq 1 200); do
  [ -f "$TMP/blogs/broker.1.log" ] && [ -f "$TMP/logs/namesrv.1.log" ] && break
  "$BIN/vela-admin" --namesrv "$NAMESRV" broker status "$BROKER" >/dev/null 2>&1 || true
  "$BIN/vela-admin" --namesrv "$NAMESRV" cluster list >/dev/null 2>&1 || true
done
[ -f "$TMP/blogs/broker.1.log" ] || fail "broker log did not rotate: $(ls -l "$TMP/blogs")"
[ -f "$TMP/logs/namesrv.1.log" ] || fail "namesrv log did not rotate: $(ls -l "$TMP/logs")"
for f in "$TMP"/blogs/*.log; do
  size=$(stat -c %s "$f")
  [ "$size" -le 4096 ] || fail "$f has $size bytes, over twice logMaxFileSize"
done
[ ! -e "$TMP/blogs/broker.4.log" ] || fail "more than logMaxFiles rotated files kept"
mv "$TMP/blogs/broker.log" "$TMP/blogs/moved-away"
kill -HUP "$BROKER_PID"
for _ in $(seq 1 100); do grep -qs "log file reopened" "$TMP/blogs/broker.log" && break; sleep 0.1; done
grep -qs "log file reopened" "$TMP/blogs/broker.log" || fail "no new broker.log after SIGHUP"
kill -0 "$BROKER_PID" || fail "the broker died of SIGHUP"

echo "== broker status: the broker's version and its clients' versions"
expect_exit 0 "$BIN/vela-admin" --namesrv "$NAMESRV" broker status "$BROKER" --json
grep -q "\"version\":\"${versions[0]%% *}\"" "$TMP/out" || fail "no version in broker status: $(cat "$TMP/out")"
commit=$(sed -E 's/.*commit ([^)]*)\).*/\1/' <<<"${versions[0]}")
grep -q "\"commit\":\"$commit\"" "$TMP/out" || fail "no commit in broker status: $(cat "$TMP/out")"
expect_exit 0 "$BIN/vela-admin" --namesrv "$NAMESRV" topic create Versions --queues 1 --broker "$BROKER"
"$BIN/vela-admin" --namesrv "$NAMESRV" consume --topic Versions --group VersionsGroup --timeout 30 --count 1 \
  >"$TMP/consume.out" 2>&1 &
CONSUMER=$!
PIDS+=($CONSUMER)
seen=""
for _ in $(seq 1 200); do
  "$BIN/vela-admin" --namesrv "$NAMESRV" broker status "$BROKER" --json >"$TMP/status" 2>/dev/null || true
  if grep -qF "\"clientVersions\":\"${versions[0]}: 1\"" "$TMP/status"; then seen=yes; break; fi
  sleep 0.1
done
[ -n "$seen" ] || fail "the consumer's version is not listed: $(cat "$TMP/status")"
kill "$CONSUMER" 2>/dev/null || true
stop_daemon "$BROKER_PID"
stop_daemon "$NS_PID"
echo "cli contract: ok"
