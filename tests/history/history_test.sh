#!/bin/sh
# Usage: history_test.sh NAME GPUMEM SHIM FAKE_DIR CLOCK_RUN SPIKE MAKE_SEGMENT SRC_DIR
# The history rings of the shim read back through `gpumem history`.
set -u
name=$1 gpumem=$2 shim=$3 fake=$4 clock_run=$5 spike=$6 make_segment=$7 src=$8
prefix="gmh$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake GPUMEM_LOG=off
tmp=$(mktemp -d)
spike_pid=
cleanup() {
  [ -n "$spike_pid" ] && kill "$spike_pid" 2>/dev/null
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
MIB=1048576

# clock_run SCENARIO under the shim, kept: the path of its segment.
run_clock() {
  out=$(GPUMEM_KEEP=1 LD_PRELOAD=$shim "$clock_run" "$@") || fail "clock_run $* failed"
  [ "$out" = ok ] || fail "clock_run $*: $out"
  set -- /dev/shm/$prefix.*
  [ -f "$1" ] || fail "no segment kept"
  cp "$1" "$tmp/run.seg" && rm -f "$1"
  echo "$tmp/run.seg"
}

# clock_run SCENARIO under the shim, failing once: the path of its post-mortem.
postmortem_of() {
  mkdir "$tmp/pm.$1" || fail "mkdir"
  GPUMEM_POSTMORTEM_DIR=$tmp/pm.$1 LD_PRELOAD=$shim "$clock_run" "$1" > /dev/null || fail "clock_run $1 failed"
  set -- "$tmp/pm.$1"/gpumem-oom-*.json
  [ -f "$1" ] || fail "no post-mortem"
  echo "$1"
}

case $name in
spike)
  # A 10 ms spike between two polls is in its bucket.
  mkfifo "$tmp/in"
  LD_PRELOAD=$shim "$spike" < "$tmp/in" > "$tmp/out" &
  spike_pid=$!
  exec 3> "$tmp/in"
  for i in $(seq 100); do grep -q ready "$tmp/out" && break; sleep 0.05; done
  "$gpumem" history $spike_pid --csv > "$tmp/before" || fail "history before"
  echo go >&3
  for i in $(seq 100); do grep -q spiked "$tmp/out" && break; sleep 0.05; done
  grep -q spiked "$tmp/out" || fail "no spike"
  "$gpumem" history $spike_pid --csv > "$tmp/after" || fail "history after"
  exec 3>&-
  wait $spike_pid; spike_pid=
  high() { awk -F, 'NR > 1 && $5 > m { m = $5 } END { print m + 0 }' "$1"; }
  [ "$(high "$tmp/before")" -eq $MIB ] || fail "before the spike: highest $(high "$tmp/before")"
  [ "$(high "$tmp/after")" -eq $((513 * MIB)) ] || { cat "$tmp/after"; fail "the spike is not in a bucket"; }
  # ... in exactly one bucket (or two, if it crossed a second), and it ended at 1 MiB.
  n=$(awk -F, -v v=$((513 * MIB)) 'NR > 1 && $5 == v' "$tmp/after" | wc -l)
  [ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "the spike is in $n buckets"
  [ "$(tail -n 1 "$tmp/after" | cut -d, -f7)" -eq $MIB ] || fail "the last value is not 1 MiB"
  ;;
steps_csv)
  f=$(run_clock steps) || exit 1
  "$gpumem" history "$f" --csv | tr -d '\r' > "$tmp/csv" || fail "history --csv"
  diff -u "$src/steps.csv" "$tmp/csv" || fail "CSV differs"
  ;;
steps_json)
  f=$(run_clock steps) || exit 1
  "$gpumem" history "$f" --json > "$tmp/json" || fail "history --json"
  python3 -c "import json,sys; json.load(open('$tmp/json'))" || fail "not JSON"
  sed "s/\"pid\": [0-9]*/\"pid\": PID/; s/pid [0-9]* clock_run/pid PID clock_run/" "$tmp/json" > "$tmp/json.cmp"
  diff -u "$src/steps.json" "$tmp/json.cmp" || fail "JSON differs"
  ;;
idle_hour)
  # An hour without a call: the fine ring shows the hour carried at 64 MiB
  # (the first buckets from the coarse ring), and its one new bucket.
  f=$(run_clock idle) || exit 1
  "$gpumem" history "$f" --csv | tr -d '\r' > "$tmp/csv" || fail "history --csv"
  python3 - "$tmp/csv" <<'PY' || fail "idle hour"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
M = 1 << 20
assert rows[0]["unix"] == "1800000000.000" and rows[0]["width_ms"] == "60000", rows[0]
assert int(rows[0]["high_bytes"]) == 64 * M, rows[0]
for a, b in zip(rows, rows[1:]):  # gap-free, oldest first
    assert float(a["unix"]) * 1000 + int(a["width_ms"]) == float(b["unix"]) * 1000, (a, b)
carried = rows[1:-1]
assert len(carried) > 3500 and all(int(r["high_bytes"]) == int(r["last_bytes"]) == 64 * M for r in carried)
last = rows[-1]
assert last["unix"] == "1800003600.000" and int(last["high_bytes"]) == 80 * M and int(last["last_bytes"]) == 64 * M, last
assert int(last["allocs"]) == 1, last
PY
  # --since keeps the newest buckets only.
  n=$("$gpumem" history "$f" --csv --since 10s | wc -l)
  [ "$n" -eq 11 ] || fail "--since 10s gave $n lines"
  ;;
wall_clock_jump)
  # The wall clock set back a day during the idle hour moves no bucket: the
  # last one is an hour after the first, on the monotonic clock.
  f=$(run_clock idle) || exit 1
  "$gpumem" history "$f" --json > "$tmp/json" || fail "history --json"
  python3 - "$tmp/json" <<'PY' || fail "wall clock jump"
import json, sys
pts = json.load(open(sys.argv[1]))["series"][0]["points"]
times = [p["unix"] for p in pts]
assert times == sorted(times) and len(set(times)) == len(times)
assert pts[-1]["time"] == "2027-01-15T09:00:00.000Z", pts[-1]
PY
  ;;
options)
  # GPUMEM_HISTORY_*: the widths and depths in force, 0 turns history off.
  # 2.5 s of 250 ms buckets lap a fine ring of 8: the first 2 s come from
  # the coarse ring (its spike kept), the rest from the fine one.
  f=$(GPUMEM_HISTORY_FINE=250ms:8 GPUMEM_HISTORY_COARSE=2s:3 run_clock steps) || exit 1
  "$gpumem" history "$f" --csv | tr -d '\r' | cut -d, -f1,4,5,7 > "$tmp/csv"
  printf '%s\n' unix,width_ms,high_bytes,last_bytes 1800000000.000,2000,$((576 * MIB)),$((64 * MIB)) \
    1800000002.000,250,$((64 * MIB)),$((64 * MIB)) 1800000002.250,250,$((80 * MIB)),$((80 * MIB)) \
    1800000002.500,250,$((64 * MIB)),$((64 * MIB)) > "$tmp/want"
  diff -u "$tmp/want" "$tmp/csv" || fail "GPUMEM_HISTORY_FINE/COARSE not in force"
  f=$(GPUMEM_HISTORY_DEVICES=0 run_clock steps) || exit 1
  [ "$(stat -c %s "$f")" -lt 200000 ] || fail "GPUMEM_HISTORY_DEVICES=0 left a history section"
  "$gpumem" history "$f" > /dev/null 2> "$tmp/err" && fail "history of a segment without one"
  grep -q "keeps no history" "$tmp/err" || fail "no reason: $(cat "$tmp/err")"
  f=$(run_clock steps) || exit 1
  size=$(stat -c %s "$f")
  [ "$size" -le 1048576 ] || fail "the default segment is $size bytes"
  err=$(GPUMEM_LOG=stderr GPUMEM_HISTORY_FINE=1s:1 LD_PRELOAD=$shim "$clock_run" steps 2>&1 >/dev/null)
  echo "$err" | grep -q "GPUMEM_HISTORY_FINE=1s:1 is not valid" || fail "depth 1 accepted: $err"
  ;;
oom_report)
  # The post-mortem carries the failing device's last buckets, gap-free, up
  # to the one before the failure's.
  f=$(postmortem_of oom) || exit 1
  python3 - "$f" <<'PY' || fail "history in the post-mortem"
import json, sys
h = json.load(open(sys.argv[1]))["history"]
M = 1 << 20
assert h["device_id"] == 0 and h["width_ms"] == 1000, h
pts = [(p["time_unix_ns"], p["high_bytes"], p["last_bytes"]) for p in h["points"]]
S = 10**9
# Up to the bucket before the failure's (at 2.5 s), which may still change.
assert pts == [(1800000000 * S, 64 * M, 64 * M), (1800000001 * S, 64 * M, 64 * M)], pts
PY
  ;;
oom_events_order)
  # The failure is the post-mortem's last event, also when the wall clock
  # stepped back just before it (its time once came from another clock).
  f=$(postmortem_of oom_step) || exit 1
  python3 - "$f" <<'PY' || fail "events out of order"
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
M = 1 << 20
got = [(e["op"], e["bytes"], e["result"]) for e in ev]
assert got == [("alloc", 64 * M, 0), ("alloc", 16 * M, 0), ("alloc", 64 << 30, 2)], got
PY
  "$gpumem" report "$f" > "$tmp/report" || fail "report"
  grep -A3 '^Last 3 events' "$tmp/report" | tail -1 | grep -q '64.00 GiB' || fail "text report order"
  # Times before the failure on the events' clock: none negative.
  grep -q -- '-[0-9.]*s before' "$tmp/report" && { cat "$tmp/report"; fail "an event after the failure"; }
  # Threads claim event slots 8 at a time: still in the order they happened.
  f=$(postmortem_of oom_threads) || exit 1
  python3 - "$f" <<'PY' || fail "events of two threads out of order"
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
M = 1 << 20
got = [e["bytes"] for e in ev]
assert got == [64 * M, 1 * M, 2 * M, 3 * M, 4 * M, 64 << 30], got
t = [e["time_unix_ns"] for e in ev]
assert t == sorted(t), t
PY
  ;;
hostile)
  "$make_segment" "$tmp/ok" history 4242 1 0:80:16384:0 || fail make_segment
  "$gpumem" history "$tmp/ok" --csv | tr -d '\r' > "$tmp/csv" || fail "a crafted history"
  [ "$(sed -n 4p "$tmp/csv" | cut -d, -f5,7)" = "$((576 * MIB)),$((80 * MIB))" ] || { cat "$tmp/csv"; fail "crafted bucket"; }
  "$gpumem" history "$tmp/ok" --csv --device cuda:0 | tr -d '\r' | cmp -s - "$tmp/csv" || fail "--device cuda:0"
  "$gpumem" history "$tmp/ok" --device cuda:1 > /dev/null 2> "$tmp/err"; [ $? -eq 3 ] || fail "--device cuda:1 status"
  grep -q "no history of cuda:1" "$tmp/err" || fail "--device cuda:1: $(cat "$tmp/err")"
  for k in histoutside:"history outside the segment" histdepth:"absurd history depth 1" \
           histhead:"history head" histstride:"history buckets of 24 bytes"; do
    "$make_segment" "$tmp/bad" "${k%%:*}" 4242 1 0:80:16384:0 || fail make_segment
    "$gpumem" history "$tmp/bad" > "$tmp/out" 2> "$tmp/err" && fail "${k%%:*} accepted"
    grep -q "${k#*:}" "$tmp/err" || fail "${k%%:*}: $(cat "$tmp/err")"
  done
  ;;
*) fail "unknown test $name" ;;
esac
echo "ok $name"
