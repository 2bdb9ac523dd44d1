#!/bin/sh
# Usage: real_cudart_lookups_through_shim.sh PROGRAM shared|static SHIM FAKE_DIR
#
# The lookup log alone is the same with and without the shim, so it cannot
# show that the runtime's lookups went through the shim. This runs PROGRAM
# (on the real CUDA runtime, see real_cudart_on_stand_in.sh) under the shim
# in gdb, with a breakpoint on every cuGetProcAddress_v2 (the shim's and the
# stand-in driver's), and records for each call which object was entered and
# which one called it. Checked: every one of the runtime's lookups (one line
# each in GPUMEM_FAKE_LOOKUP_LOG) entered the shim's cuGetProcAddress_v2,
# called from the runtime (libcudart.so.13, or the program for the static
# runtime), and the shim passed each on to the stand-in driver.
# Skipped (77) without gdb with Python, or where gdb cannot run the program.
set -eu
program=$1 kind=$2 shim=$3 fake=$4
command -v gdb > /dev/null 2>&1 || { echo "skipped: no gdb"; exit 77; }
gdb -q -batch -nx -ex 'python print("py")' 2> /dev/null | grep -qx py || { echo "skipped: gdb without Python"; exit 77; }
fake=$(readlink -f "$fake")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/driver"
ln -s "$fake/libcuda.so.1" "$dir/driver/libcuda.so.1"

# The program's environment is set inside gdb, so that gdb itself runs
# without the shim.
cat > "$dir/gdb.cmd" <<EOF
set breakpoint pending on
set pagination off
set confirm off
set startup-with-shell off
unset environment
set environment LD_LIBRARY_PATH $dir/driver
set environment LD_PRELOAD $shim
set environment GPUMEM_LOG off
set environment GPUMEM_SHM_PREFIX gpumemtest
set environment GPUMEM_FAKE_LOOKUP_LOG $dir/lookups
break cuGetProcAddress_v2
commands
silent
python f = gdb.newest_frame(); print("call", gdb.solib_name(f.pc()) or "program", "from", gdb.solib_name(f.older().pc()) or "program")
continue
end
run
EOF
status=0
env -u LD_PRELOAD gdb -q -batch -nx -x "$dir/gdb.cmd" --args "$program" > "$dir/out" 2>&1 || status=$?
if ! grep -q '^call ' "$dir/out"; then
  cat "$dir/out"
  echo "skipped: gdb could not run the program (exit $status)"; exit 77
fi
grep '^call ' "$dir/out" | sort | uniq -c
fail() { echo "FAIL: $*"; exit 1; }

# gdb names objects as the loader does: the shim as LD_PRELOAD gave it, the
# driver as found in $dir/driver, the shared runtime by its path from RUNPATH.
# With debug info gdb may also stop at an inlined part of the stand-in's
# function; those stops read "from" the stand-in itself and are not counted.
lookups=$(cat "$dir/lookups" 2> /dev/null | wc -l)
[ "$lookups" -gt 0 ] && grep -qx 'cuMemAlloc 3020 0' "$dir/lookups" || fail "the runtime made no lookups ($lookups)"
if [ "$kind" = static ]; then
  caller=program
else
  caller=$(grep '^call ' "$dir/out" | sed -n "s|^call $shim from \(.*/libcudart\.so\.13\)\$|\1|p" | sort -u)
  [ -n "$caller" ] || fail "no call into the shim's cuGetProcAddress_v2 came from libcudart.so.13"
fi
into_shim=$(grep -c "^call $shim from " "$dir/out" || true)
from_runtime=$(grep -cx "call $shim from $caller" "$dir/out" || true)
to_driver=$(grep -cx "call $dir/driver/libcuda.so.1 from $shim" "$dir/out" || true)
echo "lookups the stand-in logged: $lookups; calls into the shim's cuGetProcAddress_v2: $into_shim, from the runtime ($caller): $from_runtime; the shim's calls to the stand-in's: $to_driver"
[ "$into_shim" = "$from_runtime" ] || fail "the shim's cuGetProcAddress_v2 was called from elsewhere than the runtime"
[ "$from_runtime" = "$lookups" ] || fail "not every lookup of the runtime entered the shim"
[ "$to_driver" = "$lookups" ] || fail "not every lookup entered the stand-in driver through the shim"
echo "ok"
