#!/bin/sh
# Usage: tests/pictures/bench_plot.sh [BUILD_DIR]
# gpumem plot's time for an hour's worth of buckets on 8 devices: a job on 8
# stand-in devices of 80 GiB allocates and frees at random on each device
# every 10 ms for 37 s under the shim, with GPUMEM_HISTORY_FINE=10ms:3600 (so
# each device's fine ring holds 3600 buckets, as an hour at 1 s does), then
# the plot of the live process is timed 20 times (median, min, max), and the
# renderer alone on synthetic 8 x 3600 buckets (tests/pictures/plot_synth).
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
prefix="gmbench$$"
tmp=$(mktemp -d)
job=
trap '[ -n "$job" ] && kill $job 2>/dev/null; rm -rf "$tmp"; rm -f /dev/shm/$prefix.*' EXIT
GPUMEM_SHM_PREFIX=$prefix GPUMEM_FAKE_DEVICES=8 GPUMEM_FAKE_MEMORY_MIB=81920 GPUMEM_HISTORY_FINE=10ms:3600 \
  GPUMEM_LOG="$tmp/log" LD_PRELOAD="$build/libgpumem.so" LD_LIBRARY_PATH="$build/fake" \
  /usr/bin/python3 "$src/tests/pictures/eight_devices.py" > "$tmp/out" &
job=$!
for _ in $(seq 600); do [ -s "$tmp/out" ] && break; sleep 0.1; done
pid=$(cut -d' ' -f1 "$tmp/out")
echo "job pid $pid: $(cut -d' ' -f2 "$tmp/out") rounds; $(GPUMEM_SHM_PREFIX=$prefix "$build/gpumem" history $pid --device cuda:0 | tail -n +2 | wc -l) buckets on cuda:0"
GPUMEM_SHM_PREFIX=$prefix /usr/bin/python3 - "$build/gpumem" $pid "$tmp/plot.svg" <<'PY'
import os, subprocess, sys, time
t = []
for _ in range(20):
    a = time.perf_counter()
    subprocess.run([sys.argv[1], "plot", sys.argv[2], "-o", sys.argv[3]], check=True)
    t.append((time.perf_counter() - a) * 1e3)
t.sort()
print(f"gpumem plot, 8 devices: median {t[10]:.1f} ms, min {t[0]:.1f} ms, max {t[-1]:.1f} ms; "
      f"{os.path.getsize(sys.argv[3])} bytes of SVG")
PY
"$build/tests/pictures/plot_synth" svg eight "$tmp/synth.svg" 50
