#!/bin/sh
# Usage: lookups_forwarded.sh PROGRAM SHIM FAKE_DIR FACTS
# The stand-in driver logs every cuGetProcAddress request. With the shim the
# log must be identical to the one without it (the shim forwards the caller's
# exact arguments and makes no request of its own), and the runtime's first
# requests must be exactly those of cuda-facts.
set -eu
program=$1 shim=$2 fake=$3 facts=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
GPUMEM_SHM_PREFIX=gpumemtest LD_LIBRARY_PATH=$fake GPUMEM_FAKE_LOOKUP_LOG=$dir/without "$program" 2>/dev/null
GPUMEM_SHM_PREFIX=gpumemtest LD_LIBRARY_PATH=$fake GPUMEM_FAKE_LOOKUP_LOG=$dir/with LD_PRELOAD=$shim "$program" 2>/dev/null
grep -v '^#' "$facts" > "$dir/facts"
n=$(wc -l < "$dir/facts")
head -n "$n" "$dir/without" > "$dir/first"
if ! cmp -s "$dir/facts" "$dir/first"; then
  echo "FAIL: the runtime's first $n requests differ from cuda-facts"; diff "$dir/facts" "$dir/first" | head; exit 1
fi
if ! cmp -s "$dir/without" "$dir/with"; then
  echo "FAIL: the driver saw other requests under the shim"; diff "$dir/without" "$dir/with" | head; exit 1
fi
echo "ok: $(wc -l < "$dir/with") requests forwarded unchanged, the first $n as in cuda-facts"
