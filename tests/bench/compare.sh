#!/bin/sh
# tests/bench/compare.sh - two builds of the shim on the same stand-in, run by run
# interleaved with a run without any: the median of N runs per measurement.
# Needs build-bench (scripts/bench makes it). Usage:
#   OLD=/path/to/other/libgpumem.so [NEW=...] [N=7] [MEAS="driver async"] [EXTRA="VAR=value"] tests/bench/compare.sh
B=$(cd "$(dirname "$0")/../.." && pwd)/build-bench
export LD_LIBRARY_PATH=$B/fake GPUMEM_LOG=off GPUMEM_SHM_PREFIX=gpumemcmp
OLD=${OLD:?the other libgpumem.so to compare with} NEW=${NEW:-$B/libgpumem.so}
N=${N:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for m in ${MEAS:-driver cuGetProcAddress runtime async vmm driver_2_threads}; do
  : > $tmp/none; : > $tmp/old; : > $tmp/new
  for i in $(seq $N); do
    env $EXTRA $B/tests/bench/bench --only $m | awk '!/^#/{print $2}' >> $tmp/none
    env $EXTRA LD_PRELOAD=$OLD $B/tests/bench/bench --only $m | awk '!/^#/{print $2}' >> $tmp/old
    env $EXTRA LD_PRELOAD=$NEW $B/tests/bench/bench --only $m | awk '!/^#/{print $2}' >> $tmp/new
  done
  a=$(med < $tmp/none); b=$(med < $tmp/old); c=$(med < $tmp/new)
  awk -v m=$m -v a=$a -v b=$b -v c=$c 'BEGIN { printf "%-18s without %7.1f  old %7.1f (+%5.1f)  new %7.1f (+%5.1f)  without/old %.0f%%  without/new %.0f%%\n", m, a, b, b-a, c, c-a, 100*a/b, 100*a/c }'
done
rm -f /dev/shm/gpumemcmp.*
