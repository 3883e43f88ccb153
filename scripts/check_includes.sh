#!/usr/bin/env bash
# Checks the dependency direction of STYLE.md §2: each module may include only the modules it
# depends on. Prints every violation and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [common]="common"
  [metrics]="common metrics"
  [http]="common http"
  [filter]="common filter"
  [store]="common store"
  [net]="common net vela"
  [broker]="common net store filter metrics http broker vela"
  [namesrv]="common net metrics http namesrv vela"
  [client]="common net filter client vela"
  [tools]="common net filter client tools vela"
  [bin]="common bin broker namesrv net store filter metrics http"
)
status=0
for module in "${!allowed[@]}"; do
  [ -d "src/$module" ] || continue
  while IFS=: read -r file _ inc; do
    target=$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$inc")
    [[ " ${allowed[$module]} " == *" $target "* ]] && continue
    echo "$file: $module must not include $target ($inc)"
    status=1
  done < <(grep -rnE '^#include "[a-z_]+/' "src/$module" || true)
done
# cpp-httplib is seen by src/http only (tests may use its client).
if grep -rnE '^#include <httplib.h>' src | grep -v '^src/http/'; then
  echo "only src/http may include httplib.h"
  status=1
fi
# Public SDK headers include only std and other include/vela headers.
if grep -rnE '^#include "' include/vela | grep -vE '#include "vela/'; then
  echo "include/vela may include only other include/vela headers"
  status=1
fi
[ $status -eq 0 ] && echo "include check: every module includes only what it may"
exit $status
