#!/usr/bin/env bash
# Issue 16: the Debian packages. Runs cpack on the already-built tree (no second build), checks
# both packages' control fields and contents with dpkg-deb, unpacks them into a scratch root
# (dpkg -x) and checks the systemd units, the settings, log rotation and the maintainer scripts,
# and that the packaged broker accepts its packaged settings.
#   deb_package_test.sh BUILD_DIR
set -euo pipefail
BUILD=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== cpack -G DEB"
(cd "$BUILD" && cpack -G DEB -B "$TMP/out" >"$TMP/cpack.log" 2>&1) || { cat "$TMP/cpack.log"; fail "cpack"; }
VERSION=$("$BUILD/bin/vela-broker" --version | awk '{print $2}')
BROKER_DEB=$(ls "$TMP"/out/vela-broker_"$VERSION"_*.deb)
SDK_DEB=$(ls "$TMP"/out/libvela-client-dev_"$VERSION"_*.deb)

echo "== control fields"
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$BROKER_DEB" Package)" = vela-broker ] || fail "package name"
[ "$(field "$BROKER_DEB" Version)" = "$VERSION" ] || fail "version"
[ "$(field "$BROKER_DEB" Architecture)" = "$(dpkg --print-architecture)" ] || fail "architecture"
depends=$(field "$BROKER_DEB" Depends)
for dep in libc6 libstdc++6 libprotobuf libspdlog libfmt passwd; do
  grep -q "$dep" <<<"$depends" || fail "vela-broker does not depend on $dep: $depends"
done
[ "$(field "$SDK_DEB" Package)" = libvela-client-dev ] || fail "sdk package name"
sdk_depends=$(field "$SDK_DEB" Depends)
for dep in libc6 libprotobuf libspdlog-dev libfmt-dev libprotobuf-dev; do
  grep -q "$dep" <<<"$sdk_depends" || fail "libvela-client-dev does not depend on $dep: $sdk_depends"
done
dpkg-deb --ctrl-tarfile "$BROKER_DEB" | tar -t | sort >"$TMP/control-files"
for f in conffiles postinst prerm postrm; do grep -q "^./$f$" "$TMP/control-files" || fail "no $f"; done

echo "== contents"
dpkg-deb -c "$BROKER_DEB" | awk '{print $6}' >"$TMP/broker-files"
for f in ./usr/bin/vela-namesrv ./usr/bin/vela-broker ./usr/bin/vela-admin ./usr/bin/vela-store \
         ./etc/vela/broker.conf ./etc/vela/namesrv.conf ./etc/logrotate.d/vela \
         ./usr/lib/systemd/system/vela-broker.service ./usr/lib/systemd/system/vela-namesrv.service; do
  grep -qx "$f" "$TMP/broker-files" || fail "vela-broker lacks $f"
done
if [ -x "$BUILD/bin/vela-bench" ]; then grep -qx ./usr/bin/vela-bench "$TMP/broker-files" || fail "no vela-bench"; fi
grep -q include "$TMP/broker-files" && fail "vela-broker ships headers"
dpkg-deb -c "$SDK_DEB" | awk '{print $6}' >"$TMP/sdk-files"
for f in ./usr/include/vela/producer.h ./usr/include/vela/consumer.h ./usr/lib/libvela-client.a \
         ./usr/lib/libvela-client.so ./usr/lib/libvela-client.so.0 ./usr/lib/cmake/Vela/VelaConfig.cmake \
         ./usr/lib/pkgconfig/vela-client.pc; do
  grep -qx "$f" "$TMP/sdk-files" || fail "libvela-client-dev lacks $f"
done
grep -v '^./usr/include/vela/' "$TMP/sdk-files" | grep -q '^./usr/include/.*\.h$' && fail "headers outside include/vela"
grep -q '/bin/' "$TMP/sdk-files" && fail "libvela-client-dev ships binaries"

echo "== unpacked into a scratch root"
ROOT=$TMP/root
dpkg -x "$BROKER_DEB" "$ROOT"
dpkg -x "$SDK_DEB" "$ROOT"
dpkg-deb -e "$BROKER_DEB" "$TMP/control"
unit=$ROOT/usr/lib/systemd/system/vela-broker.service
grep -qx "User=vela" "$unit" || fail "vela-broker.service does not run as vela"
grep -qx "ExecStart=/usr/bin/vela-broker --config /etc/vela/broker.conf" "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$unit" || fail "no reload by SIGHUP"
grep -qx "StateDirectory=vela" "$unit" || fail "no StateDirectory"
grep -qx "WorkingDirectory=/var/lib/vela" "$unit" || fail "no WorkingDirectory"
grep -qx "WantedBy=multi-user.target" "$unit" || fail "no install section"
nsunit=$ROOT/usr/lib/systemd/system/vela-namesrv.service
grep -qx "User=vela" "$nsunit" || fail "vela-namesrv.service does not run as vela"
grep -qx "ExecStart=/usr/bin/vela-namesrv --config /etc/vela/namesrv.conf" "$nsunit" || fail "namesrv ExecStart"
grep -qx "storePathRootDir = /var/lib/vela/store" "$ROOT/etc/vela/broker.conf" || fail "store not under /var/lib/vela"
grep -qx "logFile = /var/log/vela/broker.log" "$ROOT/etc/vela/broker.conf" || fail "broker log not in /var/log/vela"
grep -qx "logFile = /var/log/vela/namesrv.log" "$ROOT/etc/vela/namesrv.conf" || fail "namesrv log not in /var/log/vela"
grep -q "/var/log/vela/broker.log" "$ROOT/etc/logrotate.d/vela" || fail "logrotate misses broker.log"
grep -q -- "--signal=HUP" "$ROOT/etc/logrotate.d/vela" || fail "logrotate does not signal the daemons"
for f in /etc/vela/broker.conf /etc/vela/namesrv.conf /etc/logrotate.d/vela; do
  grep -qx "$f" "$TMP/control/conffiles" || fail "$f is not a conffile"
done
grep -q "useradd --system" "$TMP/control/postinst" || fail "postinst does not create the user"
grep -q "/var/lib/vela" "$TMP/control/postinst" || fail "postinst does not create /var/lib/vela"
sh -n "$TMP/control/postinst" && sh -n "$TMP/control/prerm" && sh -n "$TMP/control/postrm" || fail "script syntax"
[ -x "$TMP/control/postinst" ] || fail "postinst not executable"
# The packaged binaries run and accept the packaged settings as they are.
[ "$("$ROOT/usr/bin/vela-broker" --version)" = "$("$BUILD/bin/vela-broker" --version)" ] || fail "--version differs"
"$ROOT/usr/bin/vela-broker" --config "$ROOT/etc/vela/broker.conf" --print-config >"$TMP/print" || \
  fail "packaged broker refuses its packaged conf"
grep -qE "^storePathRootDir = /var/lib/vela/store +# file " "$TMP/print" || fail "print-config: $(cat "$TMP/print")"
"$ROOT/usr/bin/vela-namesrv" --config "$ROOT/etc/vela/namesrv.conf" --print-config >/dev/null || \
  fail "packaged namesrv refuses its packaged conf"
echo "deb packages: ok"
