#!/usr/bin/env bash
# Installs what Vela builds and tests with, from Debian 12's packages. Skips apt when all are present.
set -euo pipefail
PACKAGES=(cmake g++ make ccache libasio-dev libspdlog-dev libfmt-dev libprotobuf-dev protobuf-compiler
  librocksdb-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  prometheus-cpp-dev libcpp-httplib-dev
  pkg-config dpkg-dev file
  chromium
  clang libclang-rt-14-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
