#!/bin/sh
# Usage: real_cudart_on_stand_in.sh PROGRAM shared|static SHIM FAKE_DIR CUDA_LIB [shadowed]
#
# PROGRAM is built on the real CUDA runtime (shared: CUDA_LIB/libcudart.so.13;
# static: libcudart_static.a linked in) and runs on the stand-in driver
# FAKE_DIR/libcuda.so.1, without and with the shim. Checked:
#  - the libraries really mapped (PROGRAM prints them from /proc/self/maps):
#    the real runtime from CUDA_LIB (symlinks resolved), or none for static,
#    and the stand-in driver;
#  - the same stdout and exit status without and with the shim: whatever the
#    runtime returns passes through the shim unchanged;
#  - the runtime's driver lookups (GPUMEM_FAKE_LOOKUP_LOG, written by the
#    stand-in) are the same, in the same order, without and with the shim,
#    and include cuMemAlloc 3020 0;
#  - the counters agree with what the runtime did: the real runtime refuses
#    the stand-in driver (after its lookups it calls cuDriverGetVersion and
#    cuInit, then returns 36, cudaErrorCallRequiresNewerDriver, to every
#    call; the stand-in has no cuGetExportTable, the driver's private tables),
#    so the shim must count nothing; were an allocation to succeed, its 3 MiB
#    and the failed 64 GiB would have to be counted.
#
# Only the stand-in driver is made findable: LD_LIBRARY_PATH is a fresh
# directory holding one symlink, libcuda.so.1. FAKE_DIR itself also holds the
# stand-in libcudart.so.13, which in LD_LIBRARY_PATH beats the program's
# RUNPATH and would replace the real runtime. "shadowed" puts FAKE_DIR first
# anyway, for the test that the maps check catches exactly that.
set -eu
program=$1 kind=$2 shim=$3 fake=$4 cuda_lib=$5 mode=${6:-}
fake=$(readlink -f "$fake")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Nothing from the caller's environment: no preload, no GPUMEM_* settings.
unset LD_PRELOAD
for v in $(env | sed -n 's/^\(GPUMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

mkdir "$dir/driver"
ln -s "$fake/libcuda.so.1" "$dir/driver/libcuda.so.1"
LD_LIBRARY_PATH=$dir/driver
[ "$mode" = shadowed ] && LD_LIBRARY_PATH=$fake:$LD_LIBRARY_PATH
export LD_LIBRARY_PATH GPUMEM_SHM_PREFIX=gpumemtest
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

set +e
GPUMEM_FAKE_LOOKUP_LOG=$dir/lookups.without "$program" > "$dir/without" 2> "$dir/stderr.without"
rc_without=$?
LD_PRELOAD=$shim GPUMEM_LOG=off GPUMEM_FAKE_LOOKUP_LOG=$dir/lookups.with "$program" > "$dir/with" 2> "$dir/stderr.with"
rc_with=$?
set -e
echo "without the shim (exit $rc_without):"; cat "$dir/without" "$dir/stderr.without"
echo "with the shim (exit $rc_with):"; cat "$dir/with" "$dir/stderr.with"
fail() { echo "FAIL: $*"; exit 1; }

# The libraries really mapped, in both runs.
real_lib=$(readlink -f "$cuda_lib")
stand_in_dir=$(readlink -f "$fake")
stand_in_driver=$(readlink -f "$fake/libcuda.so.1")
for run in without with; do
  cudart=$(sed -n 's/^libcudart=//p' "$dir/$run")
  driver=$(sed -n 's/^libcuda=//p' "$dir/$run")
  if [ "$kind" = static ]; then
    [ "$cudart" = static ] || fail "$run the shim: libcudart mapped ($cudart), expected none: the runtime is linked in"
  else
    case $cudart in
      "$real_lib"/libcudart.so.13*) ;;
      "$stand_in_dir"/libcudart*) fail "$run the shim: mapped libcudart is the stand-in $cudart, not the real runtime from $real_lib" ;;
      *) fail "$run the shim: mapped libcudart is $cudart, not the real runtime from $real_lib" ;;
    esac
    case $cudart in *" "*) fail "$run the shim: more than one libcudart mapped: $cudart" ;; esac
  fi
  [ "$driver" = "$stand_in_driver" ] || fail "$run the shim: mapped libcuda is '$driver', not the stand-in $stand_in_driver"
done

cmp -s "$dir/without" "$dir/with" || fail "output differs under the shim"
[ "$rc_without" = "$rc_with" ] || fail "exit status differs under the shim ($rc_without, $rc_with)"

for lookup in 'cuMemAlloc 3020 0' 'cuMemFree 3020 0' 'cuMemAllocAsync 11020 0' 'cuGetExportTable 3000 0'; do
  grep -qx "$lookup" "$dir/lookups.with" || fail "under the shim the runtime never looked up $lookup"
done
cmp -s "$dir/lookups.without" "$dir/lookups.with" || fail "the runtime's driver lookups differ under the shim"
echo "driver lookups, without and with the shim: $(wc -l < "$dir/lookups.with") each, identical"

if grep -q '^cudaGetDeviceCount=.* cudaMalloc=0 ' "$dir/with"; then
  grep -qx 'gpumem: reserved=3145728 failed=1' "$dir/stderr.with" || fail "the runtime allocated, but the shim did not count it"
  echo "the real runtime ran on the stand-in driver; its allocation was counted"
else
  grep -qx 'gpumem: no device counted' "$dir/stderr.with" || fail "the runtime allocated nothing, yet the shim counted something"
  echo "the real runtime refused the stand-in driver; its error passed through the shim unchanged; nothing counted"
fi
echo "ok"
