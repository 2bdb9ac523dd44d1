#!/bin/sh
# Usage: pictures_test.sh CASE GPUMEM SHIM FAKE_DIR MAKE_SEGMENT SOURCE_DIR BUILD_DIR
# The pictures through the reader's commands, on crafted segments and real
# runs under the shim:
#   top_ascii   top's full-screen view in a terminal that is not UTF-8 (tmux,
#               LC_ALL=C): the bar and the warning sign in ASCII, UTF-8 with C.UTF-8
#   plot_e2e    gpumem plot of a real run (train_sim under the shim), by PID and
#               by a saved copy of its segment, overlaid with --label; usage errors
#   trace_e2e   gpumem trace of the same: strict JSON, the run's allocations
#               and frees as events, a counter point per change
#   top_sparkline  top --once: a live process's last minute as a sparkline
#   report_svg  gpumem report PID: the text ends with the last minute's sparkline,
#               --svg FILE writes the plot of the minutes before the failure, from
#               the segment (PID) or from the history in the report file (FILE)
#   example     examples/batch_scaling.py: three runs, their peaks, one plot
set -u
case_=$1 gpumem=$2 shim=$3 fake=$4 make_segment=$5 src=$6 build=$7
prefix="gmp$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
tmp=$(mktemp -d)
cleanup() {
  for s in "$tmp"/tmux.*; do [ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null; done
  [ -n "${KEEP_TMP:-}" ] && echo "$tmp" || rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' /proc/$1/stat; }
check=$src/tests/pictures/check_pictures.py

# screen LOCALE: top in tmux under that locale, until the GPU rows show.
screen() {
  command -v tmux >/dev/null || { echo "skipped: no tmux"; exit 77; }
  sock="$tmp/tmux.$1"
  tmux -S "$sock" new-session -d -x 120 -y 30 "GPUMEM_SHM_PREFIX=$prefix TERM=xterm-256color LC_ALL=$1 '$gpumem' top --interval 0.2; sleep 5" < /dev/null > /dev/null 2>&1
  for _ in $(seq 50); do tmux -S "$sock" capture-pane -p > "$tmp/screen" 2>/dev/null; grep -q "crafted GPU 1" "$tmp/screen" && break; sleep 0.1; done
  tmux -S "$sock" send-keys q
}

case $case_ in
top_ascii)
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:13926:16384:1 1:15565:16384:2 || fail "make"
  screen C
  grep -q "crafted GPU 0  13.6GB / 16.0GB  84%  warning   \[################|#.|..\]" "$tmp/screen" || fail "ASCII bar: $(cat "$tmp/screen")"
  grep -q "^! GPU-.*critical  \[################|##|#.\]" "$tmp/screen" || fail "ASCII critical row: $(cat "$tmp/screen")"
  LC_ALL=C grep -q "$(printf '\342')" "$tmp/screen" && fail "a UTF-8 byte on a terminal that is not UTF-8: $(cat "$tmp/screen")"
  screen C.UTF-8
  grep -q "84%  warning   \[████████████████|▉·|··\]" "$tmp/screen" || fail "UTF-8 bar: $(cat "$tmp/screen")"
  ;;
plot_e2e|trace_e2e)
  # A kept run of the steady job, with 50 ms buckets: 6 steps of 200 ms.
  GPUMEM_KEEP=1 GPUMEM_HISTORY_FINE=50ms:2000 LD_PRELOAD=$shim "$build/train_sim" --batch 32 --steps 6 --step-ms 200 > "$tmp/job" &
  pid=$!
  wait $pid || fail "train_sim exit $?: $(cat "$tmp/job")"
  [ -f /dev/shm/$prefix.$pid ] || fail "no kept segment"
  cp /dev/shm/$prefix.$pid "$tmp/saved.seg"
  if [ $case_ = plot_e2e ]; then
    "$gpumem" plot $pid -o "$tmp/a.svg" || fail "plot exit $?"
    /usr/bin/python3 "$check" svg "$tmp/a.svg" pixels || fail "plot of pid $pid"
    grep -q ">pid $pid train_sim, peak 4.2GB<" "$tmp/a.svg" || fail "legend: $(grep -o '>pid[^<]*<' "$tmp/a.svg")"
    # The same run from its saved file, beside the live segment, with labels: two series, two colours.
    "$gpumem" plot $pid --label "live <run>" "$tmp/saved.seg" --label "saved & kept" --since 10m -o "$tmp/b.svg" || fail "plot two exit $?"
    /usr/bin/python3 "$check" svg "$tmp/b.svg" pixels || fail "overlaid plot"
    grep -q ">live &lt;run&gt;, peak 4.2GB<" "$tmp/b.svg" || fail "label 1"
    grep -q ">saved &amp; kept, peak 4.2GB<" "$tmp/b.svg" || fail "label 2"
    [ "$(grep -c '<path fill="none"' "$tmp/b.svg")" = 2 ] || fail "two series expected"
    "$gpumem" plot -o "$tmp/c.svg" || fail "plot of every segment exit $?"
    grep -q ">pid $pid train_sim, peak" "$tmp/c.svg" || fail "plot of every segment"
    "$gpumem" plot $pid > /dev/null 2>&1; [ $? = 2 ] || fail "no -o: usage"
    "$gpumem" plot $pid --since 0 -o "$tmp/d.svg" 2> /dev/null; [ $? = 2 ] || fail "bad --since: usage"
    "$gpumem" plot 999999 -o "$tmp/d.svg" 2> "$tmp/err"; [ $? = 3 ] || fail "no such pid: $(cat "$tmp/err")"
    "$gpumem" plot $pid -o /nonexistent/dir/x.svg 2> /dev/null; [ $? = 1 ] || fail "unwritable output"
  else
    "$gpumem" trace $pid -o "$tmp/t.json" || fail "trace exit $?"
    /usr/bin/python3 "$check" trace "$tmp/t.json" || fail "trace of pid $pid"
    /usr/bin/python3 - "$tmp/t.json" $pid <<'PY' || fail "trace contents"
import json, sys
d = json.load(open(sys.argv[1])); pid = int(sys.argv[2]); ev = d["traceEvents"]
allocs = [e for e in ev if e["ph"] == "i" and e["cat"] == "alloc"]
frees = [e for e in ev if e["ph"] == "i" and e["cat"] == "free"]
# 2 GiB of weights, then per step 4 activation blocks and a workspace.
assert len(allocs) == 1 + 6 * 5, len(allocs)
assert len(frees) == 6 * 5 + 1, len(frees)
assert allocs[0]["args"]["bytes"] == 2 << 30 and allocs[0]["pid"] == pid and allocs[0]["tid"] == 1, allocs[0]
c = [e["args"]["bytes"] for e in ev if e["ph"] == "C"]
assert max(c) == (2 << 30) + 32 * 72 * (1 << 20), c
assert [e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"] == [f"pid {pid} train_sim"]
PY
    "$gpumem" trace "$tmp/saved.seg" -o "$tmp/s.json" || fail "trace of a saved file exit $?"
    /usr/bin/python3 "$check" trace "$tmp/s.json" || fail "trace of the saved file"
    cmp -s "$tmp/t.json" "$tmp/s.json" || fail "the saved file's trace differs from the segment's"
    "$gpumem" trace -o "$tmp/x.json" 2> /dev/null; [ $? = 2 ] || fail "no PID: usage"
  fi
  ;;
top_sparkline)
  LD_PRELOAD=$shim "$build/train_sim" --batch 16 --steps 40 --step-ms 100 > "$tmp/job" &
  job=$!
  sleep 2.5
  "$gpumem" top --once > "$tmp/top" || fail "top exit $?"
  kill $job; wait $job 2>/dev/null
  cat "$tmp/top"
  # 3.1 of 16 GB: the last cells at the second height, the minute before the job at the lowest.
  # 2.8 to 3.1 of 16 GB now: the last cell at the second height; the minute
  # before the job at the lowest; the sparkline in its column (88 characters in).
  /usr/bin/python3 - "$tmp/top" $job <<'PY' || fail "no sparkline where expected"
import re, sys
line = [l for l in open(sys.argv[1], encoding="utf-8") if l.startswith("    " + sys.argv[2] + " ")][0].rstrip("\n")
assert re.search(r"cuda:0 [23]\.[0-9]GB / 16\.0GB 1[0-9]% +  ▁{19}▂$", line), line
assert line.index("▁") == 88, line.index("▁")
PY
  ;;
report_svg)
  mkdir "$tmp/reports"
  # 10 ms buckets and a pause at each look of the demo job: buckets before the failure.
  GPUMEM_KEEP=1 GPUMEM_HISTORY_FINE=10ms:3000 DEMO_READER="sleep 0.05" GPUMEM_POSTMORTEM_DIR="$tmp/reports" \
    GPUMEM_LOG="$tmp/log" LD_PRELOAD=$shim "$build/train_sim" > "$tmp/job" &
  pid=$!
  wait $pid; [ $? = 1 ] || fail "the demo job should fail with out of memory"
  "$gpumem" report $pid --svg "$tmp/r.svg" > "$tmp/r.txt" || fail "report exit $?"
  # All in the last second: 14.8 of 16 GB, the 7th height; the minute before, nothing.
  # (The job may straddle a second: the cell before may have risen too.)
  /usr/bin/python3 -c "
import re, sys
last = open(sys.argv[1], encoding='utf-8').read().splitlines()[-1]
assert re.fullmatch(r'Last minute on cuda:0 \(a second a cell, against 16\.0GB\): ▁{58}[▁▂▃▄▅▆▇█]▇', last), last" "$tmp/r.txt" || fail "sparkline"
  # The shim's own report ends the same way (its summary, as gpumem report FILE prints it).
  "$gpumem" report "$(ls "$tmp"/reports/gpumem-oom-*.json | head -1)" > "$tmp/f.txt" || fail "report FILE exit $?"
  [ "$(tail -1 "$tmp/f.txt")" = "$(tail -1 "$tmp/r.txt")" ] || fail "the shim's report: $(tail -1 "$tmp/f.txt")"
  /usr/bin/python3 "$check" svg "$tmp/r.svg" pixels || fail "the report's plot"
  grep -q ">OOM<" "$tmp/r.svg" || fail "no OOM mark in the report's plot"
  f=$(ls "$tmp"/reports/gpumem-oom-*.json | head -1)
  # From the report file alone, by the history it carries.
  "$gpumem" report "$f" --svg "$tmp/f.svg" > /dev/null || fail "report FILE --svg exit $?"
  /usr/bin/python3 "$check" svg "$tmp/f.svg" pixels || fail "the report file's plot"
  grep -q ">OOM<" "$tmp/f.svg" || fail "no OOM mark in the report file's plot"
  grep -q ">pid $pid (report), peak 14.8GB<" "$tmp/f.svg" || fail "legend of the report file's plot"
  ;;
example)
  cd "$tmp" || fail "cd"
  /usr/bin/python3 "$src/examples/batch_scaling.py" --build "$build" --out out --steps 3 --step-ms 200 > "$tmp/out.txt" || fail "example exit $?: $(cat "$tmp/out.txt")"
  cat "$tmp/out.txt"
  grep -q "^    16       3.12 GiB   200.0 MiB$" "$tmp/out.txt" || fail "batch 16 peak"
  grep -q "^    32       4.25 GiB   136.0 MiB$" "$tmp/out.txt" || fail "batch 32 peak"
  grep -q "^    64       6.50 GiB   104.0 MiB$" "$tmp/out.txt" || fail "batch 64 peak"
  /usr/bin/python3 "$check" svg out/plot.svg pixels || fail "the example's plot"
  for b in 16 32 64; do grep -q ">batch $b, peak" out/plot.svg || fail "legend batch $b"; done
  ls /dev/shm | grep -q "^gpumemex" && fail "the example left segments in /dev/shm"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
