#!/bin/sh
# Usage: real_runtime_smoke.sh PROGRAM SHIM FAKE_DIR EXPECT_COUNTED(0|1)
# Same stdout with and without the shim; where the runtime works on the
# stand-in driver, the shim counted its allocation (3 MiB) and its failure.
set -eu
program=$1 shim=$2 fake=$3 expect=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export LD_LIBRARY_PATH=$fake GPUMEM_SHM_PREFIX=gpumemtest
"$program" > "$dir/without"
LD_PRELOAD=$shim GPUMEM_LOG=off GPUMEM_FAKE_LOOKUP_LOG=$dir/lookups "$program" > "$dir/with" 2> "$dir/stderr"
cat "$dir/without"
if ! cmp -s "$dir/without" "$dir/with"; then
  echo "FAIL: output differs under the shim"; cat "$dir/with"; exit 1
fi
grep -q '^cuMemAlloc 3020 0$' "$dir/lookups" || { echo "FAIL: the runtime never looked up cuMemAlloc"; exit 1; }
cat "$dir/stderr"
if [ "$expect" = 1 ]; then
  grep -q "gpumem: reserved=3145728 failed=1" "$dir/stderr" || { echo "FAIL: not counted"; exit 1; }
fi
echo "ok"
