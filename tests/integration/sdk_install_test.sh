#!/usr/bin/env bash
# Issue 16: the installed SDK is usable by a project of its own. Installs the already-built tree
# into a temporary prefix (no second build of Vela), checks the layout (public headers only under
# include/vela, one library carrying the SDK's internal parts), builds examples/ as a separate CMake
# project with find_package(Vela) (shared and static), builds the producer example again with
# pkg-config alone, and runs both against a name server and a broker started from the prefix with
# the installed settings.
#   sdk_install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$1
BUILD=$2
TMP=$(mktemp -d)
PREFIX=$TMP/prefix
BIN=$PREFIX/bin
source "$(dirname "$0")/script_support.sh"

echo "== cmake --install into $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log"
for f in bin/vela-namesrv bin/vela-broker bin/vela-admin bin/vela-store etc/vela/broker.conf etc/vela/namesrv.conf \
         include/vela/producer.h include/vela/consumer.h include/vela/version.h lib/libvela-client.a \
         lib/pkgconfig/vela-client.pc lib/cmake/Vela/VelaConfig.cmake lib/cmake/Vela/VelaConfigVersion.cmake \
         lib/systemd/system/vela-broker.service lib/systemd/system/vela-namesrv.service etc/logrotate.d/vela; do
  [ -e "$PREFIX/$f" ] || fail "not installed: $f"
done
[ "$(ls "$PREFIX/include")" = "vela" ] || fail "headers outside include/vela: $(ls "$PREFIX/include")"
so=$(readlink -f "$PREFIX/lib/libvela-client.so")
[ -f "$so" ] || fail "no libvela-client.so"
readelf -d "$so" >"$TMP/dynamic"
grep -q "SONAME.*libvela-client.so.0" "$TMP/dynamic" || fail "no SONAME libvela-client.so.0"
grep NEEDED "$TMP/dynamic" | grep -q vela && fail "libvela-client.so needs another Vela library"
# The internal parts are inside: the record CRC (common), the frame codec (net), the wire messages (proto).
nm -DC "$so" >"$TMP/so.syms"
nm -C "$PREFIX/lib/libvela-client.a" >"$TMP/a.syms" 2>/dev/null
for sym in 'vela::crc32c::' 'vela::net::Connection' 'vela::v1::HeartbeatRequest' 'vela::client::ProducerBuilder::Build'; do
  grep -q " T $sym" "$TMP/so.syms" || fail "libvela-client.so lacks $sym"
  grep -q " T $sym" "$TMP/a.syms" || fail "libvela-client.a lacks $sym"
done
grep -q "storePathRootDir = $PREFIX/var/lib/vela/store" "$PREFIX/etc/vela/broker.conf" || fail "store path not set"

echo "== examples/ built against the prefix with find_package(Vela)"
cmake -S "$SRC/examples" -B "$TMP/examples" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER_LAUNCHER= >"$TMP/examples.log" 2>&1 || { cat "$TMP/examples.log"; fail "configure"; }
cmake --build "$TMP/examples" -j2 >>"$TMP/examples.log" 2>&1 || { cat "$TMP/examples.log"; fail "build"; }
ldd "$TMP/examples/example_producer" >"$TMP/ldd"
grep -q "$PREFIX/lib/libvela-client.so" "$TMP/ldd" || fail "not linked to the prefix's SDK"
cmake -S "$SRC/examples" -B "$TMP/examples-static" -DCMAKE_PREFIX_PATH="$PREFIX" -DVELA_EXAMPLES_STATIC=ON \
  -DCMAKE_BUILD_TYPE=Release >"$TMP/static.log" 2>&1 || { cat "$TMP/static.log"; fail "configure (static)"; }
cmake --build "$TMP/examples-static" --target example_producer >>"$TMP/static.log" 2>&1 || \
  { cat "$TMP/static.log"; fail "build (static)"; }
ldd "$TMP/examples-static/example_producer" >"$TMP/ldd"
grep -q libvela-client "$TMP/ldd" && fail "static example needs the shared SDK"

echo "== the producer example built with pkg-config only"
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
[ "$(pkg-config --modversion vela-client)" = "$("$PREFIX/bin/vela-broker" --version | awk '{print $2}')" ] || \
  fail "pkg-config version differs from --version"
# shellcheck disable=SC2046
g++ -std=c++20 -o "$TMP/pc_producer" "$SRC/examples/producer.cc" $(pkg-config --cflags --libs vela-client) \
  -Wl,-rpath,"$PREFIX/lib" || fail "pkg-config build"

echo "== run them against daemons started from the prefix"
start_daemon vela-namesrv "$TMP/ns.out" --config "$PREFIX/etc/vela/namesrv.conf" --listen 127.0.0.1:0
NAMESRV=$(sed -n 's/^listening on //p' "$TMP/ns.out")
start_daemon vela-broker "$TMP/broker.out" --config "$PREFIX/etc/vela/broker.conf" --namesrv "$NAMESRV" \
  --listen 127.0.0.1:0 --set mappedFileSizeCommitLog=16m
[ -d "$PREFIX/var/lib/vela/store/commitlog" ] || fail "the store is not where the installed conf says"
[ -e "$PREFIX/var/log/vela/broker.log" ] || fail "the broker does not log where the installed conf says"
ADMIN=$PREFIX/bin/vela-admin
for _ in $(seq 1 100); do "$ADMIN" --namesrv "$NAMESRV" cluster list 2>/dev/null | grep -q broker-a && break; sleep 0.1; done
"$ADMIN" --namesrv "$NAMESRV" topic create SdkTopic --queues 2 >/dev/null
for producer in "$TMP/examples/example_producer" "$TMP/examples-static/example_producer" "$TMP/pc_producer"; do
  "$producer" --namesrv "$NAMESRV" --topic SdkTopic --count 3 >"$TMP/producer.out" 2>&1 || \
    { cat "$TMP/producer.out"; fail "$producer failed"; }
  [ "$(grep -c '^sent ' "$TMP/producer.out")" -ge 3 ] || { cat "$TMP/producer.out"; fail "$producer sent too few"; }
done
out=$("$ADMIN" --namesrv "$NAMESRV" consume --topic SdkTopic --group SdkGroup --count 12 --from first --timeout 10 --json)
[ "$(grep -c '"body":"Hello Vela' <<<"$out")" -eq 9 ] || fail "not every example message arrived: $out"
echo "sdk install: ok"
