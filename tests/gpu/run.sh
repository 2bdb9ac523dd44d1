#!/bin/sh
# tests/gpu/run.sh - acceptance on a machine with an NVIDIA GPU, CUDA and
# PyTorch. Never part of CI. Skips cleanly, saying why, anywhere else.
# Builds the project, then prints a table of expected vs measured.
set -u
cd "$(dirname "$0")/../.."
here=tests/gpu
command -v nvidia-smi >/dev/null 2>&1 || { echo "SKIP: no nvidia-smi (no NVIDIA GPU here)"; exit 0; }
command -v nvcc >/dev/null 2>&1 || export PATH=/usr/local/cuda/bin:$PATH
command -v nvcc >/dev/null 2>&1 || { echo "SKIP: no nvcc"; exit 0; }
python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null || { echo "SKIP: no PyTorch with CUDA"; exit 0; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
out=${OUT:-/tmp/gpumem-gpu}; mkdir -p "$out"
cmake -S . -B build-gpu -DBUILD_TESTING=OFF -DGPUMEM_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build-gpu -j 8 >/dev/null || { echo "FAIL: build"; exit 1; }
shim=$PWD/build-gpu/libgpumem.so
nvcc -O2 -Iinclude -DRUNTIME='"static"' $here/exact_counts.cu -o build-gpu/exact_static || exit 1
nvcc -O2 -Iinclude -DRUNTIME='"shared"' -cudart shared $here/exact_counts.cu -o build-gpu/exact_shared || exit 1
nvcc -O2 $here/driver_pairs.c -o build-gpu/driver_pairs -lcuda -lpthread || exit 1
rows=$out/rows.txt; : > "$rows"
status=0
run() { # label, command...: rows to the table, everything to the log
  label=$1; shift
  echo "== $label" >> "$out/log.txt"
  "$@" > "$out/one.txt" 2>> "$out/log.txt" || status=1
  cat "$out/one.txt" >> "$out/log.txt"
  grep '^ROW ' "$out/one.txt" | sed 's/^ROW //' >> "$rows"
}
mkdir -p "$out/reports"
export PYTHONPATH=$PWD/$here GPUMEM_LOG=$out/gpumem.log GPUMEM_POSTMORTEM_DIR=$out/reports
run "static runtime" env LD_PRELOAD=$shim build-gpu/exact_static
run "shared runtime" env LD_PRELOAD=$shim build-gpu/exact_shared
run "torch default" env LD_PRELOAD=$shim python3 $here/check_torch.py default
run "torch expandable" env LD_PRELOAD=$shim PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True python3 $here/check_torch.py expandable
run "torch async" env LD_PRELOAD=$shim PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync python3 $here/check_torch.py async
run "alarm and oom" env LD_PRELOAD=$shim python3 $here/check_torch.py alarm_oom
# The reader is built apart (its ncurses and libmicrohttpd headers may be
# missing here), or given prebuilt as $GPUMEM_GPU_READER (a gpumem binary that
# finds its own libraries); without it the watch part of check_risk.py and
# the serve check say SKIP.
gpumem_bin=""
if [ -n "${GPUMEM_GPU_READER:-}" ] && [ -x "$GPUMEM_GPU_READER" ]; then
  gpumem_bin=$GPUMEM_GPU_READER
elif cmake -S . -B build-gpu-tools -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >> "$out/log.txt" 2>&1 &&
  cmake --build build-gpu-tools -j 8 --target gpumem_cli >> "$out/log.txt" 2>&1; then
  gpumem_bin=$PWD/build-gpu-tools/gpumem
fi
echo "reader: ${gpumem_bin:-none}" >> "$out/log.txt"
run "risk before oom" env LD_PRELOAD=$shim timeout 60 python3 $here/check_risk.py $gpumem_bin
run "cupy" env LD_PRELOAD=$shim python3 $here/check_frameworks.py cupy
run "jax" env LD_PRELOAD=$shim python3 $here/check_frameworks.py jax
grep -q "CRITICAL cuda:0" "$out/gpumem.log" && echo "log line on crossing 90% | CRITICAL cuda:0 line | $(grep -m1 CRITICAL "$out/gpumem.log") | ok" >> "$rows" \
  || { echo "log line on crossing 90% | CRITICAL cuda:0 line | none | FAIL" >> "$rows"; status=1; }
grep -q "OOM cuda:0 Tried to allocate" "$out/gpumem.log" && echo "OOM log line | OOM cuda:0 ... | $(grep -m1 'OOM cuda' "$out/gpumem.log" | cut -c1-90) | ok" >> "$rows" \
  || { echo "OOM log line | OOM cuda:0 ... | none | FAIL" >> "$rows"; status=1; }
run "driver pairs without" build-gpu/driver_pairs without
run "driver pairs with" env LD_PRELOAD=$shim build-gpu/driver_pairs with
report=$(ls "$out"/reports/gpumem-oom-*.json 2>/dev/null | head -1)
if [ -n "$report" ] && python3 -c "
import json, sys; d = json.load(open(sys.argv[1]))
assert d['kind'] == 'gpumem-oom-report' and d['failure']['requested_bytes'] > 0 and d['verdict']
print('ROW OOM post-mortem written | gpumem-oom-<pid>-<n>.json | ' + d['verdict'][:60] + ' | ok')" "$report" >> "$rows"; then :
else echo "OOM post-mortem written | a report | none | FAIL" >> "$rows"; status=1; fi
# gpumem serve against torch.cuda.memory_reserved(): the tools need ncurses
# and libmicrohttpd headers, which a GPU machine may lack; then it is skipped.
if [ -n "$gpumem_bin" ]; then
  "$gpumem_bin" serve --listen 127.0.0.1:0 2> "$out/serve.txt" &
  serve_pid=$!
  for _ in $(seq 50); do grep -q 'serving\|not available' "$out/serve.txt" && break; sleep 0.1; done
  url=$(sed -n 's/.*serving \(http:[^ ]*\).*/\1/p' "$out/serve.txt")
  if [ -n "$url" ]; then
    run "serve" env LD_PRELOAD=$shim python3 $here/check_torch.py serve "$url"
    kill $serve_pid
  else
    echo "gpumem serve vs memory_reserved | skipped | $(head -c 80 "$out/serve.txt") | SKIP" >> "$rows"
  fi
else
  echo "gpumem serve vs memory_reserved | skipped | no reader here (ncurses or libmicrohttpd headers?) | SKIP" >> "$rows"
fi
sed -i 's/^ROW //' "$rows"
for i in 1 2 3; do
  a=$(python3 $here/check_torch.py overhead 2>/dev/null | sed -n 's/^STEP_US //p')
  b=$(env LD_PRELOAD=$shim python3 $here/check_torch.py overhead 2>/dev/null | sed -n 's/^STEP_US //p')
  echo "training step (us), run $i | without $a | with $b | info" >> "$rows"
done
echo
printf '%-48s | %-22s | %-22s | %s\n' CHECK EXPECTED MEASURED RESULT
awk -F' [|] ' '{ printf "%-48s | %-22s | %-22s | %s\n", $1, $2, $3, $4 }' "$rows"
exit $status
