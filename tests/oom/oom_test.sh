#!/bin/sh
# Usage: oom_test.sh CASE PROGRAM SHIM FAKE_DIR GPUMEM EXPECTED_DIR
# Out-of-memory post-mortems: each path, exit status, rate limit, unwritable
# directory, a pre-placed symlink, the report after SIGKILL, fixed rendering.
set -u
# A report lists the process's GPUMEM_* variables: only this test's own, none
# of the caller's (CI exports GPUMEM_TEST_DPKG for install.deb).
for v in $(env | sed -n 's/^\(GPUMEM_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
case_=$1 program=$2 shim=$3 fake=$4 gpumem=$5 expected=$6
tmp=$(mktemp -d)
prefix="gmo$$"
export LD_LIBRARY_PATH=$fake GPUMEM_SHM_PREFIX=$prefix GPUMEM_POSTMORTEM_DIR=$tmp/reports GPUMEM_LOG=$tmp/log
mkdir "$tmp/reports"
cleanup() { rm -rf "$tmp"; rm -f /dev/shm/$prefix.*; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/log" ] && cat "$tmp/log"; exit 1; }
run() { LD_PRELOAD=$shim "$program" "$@" > "$tmp/out" 2> "$tmp/err"; echo $?; }
one_report() { ls "$tmp"/reports/gpumem-oom-*.json 2>/dev/null | head -1; }
json() { python3 -c "import json,sys; d=json.load(open('$1')); $2" || fail "json check: $2"; }

case $case_ in
driver|runtime|async|vmm)
  [ "$(run $case_)" = 7 ] || fail "exit status changed: $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && [ "$(cat "$tmp/out")" != "oom done" ] && fail "stdout touched"
  f=$(one_report); [ -n "$f" ] || fail "no report"
  [ "$(stat -c %a "$f")" = 600 ] || fail "report mode $(stat -c %a "$f")"
  grep -q "OOM cuda:0 Tried to allocate 8.00 GiB; reserved .* / 16.0GB, driver free .*GB; report $f\$" "$tmp/log" || fail "log line"
  case $case_ in driver) api=cuMemAlloc;; runtime) api=cudaMalloc;; async) api=cuMemAllocAsync;; vmm) api=cuMemCreate;; esac
  json "$f" "
assert d['schema']==1 and d['kind']=='gpumem-oom-report'
x=d['failure']; assert x['api']=='$api' and x['error_code']==2 and x['requested_bytes']==8<<30 and x['device_id']==0, x
assert x['driver_total_bytes']==16<<30 and 0 < x['driver_free_bytes'] < 8<<30
assert d['devices'][0]['reserved_bytes']==9*(1<<30)+(1+2+3+4)*(1<<20), d['devices']
assert [a['bytes'] for a in d['largest_allocations']][:4]==[3<<30,3<<30,3<<30,4<<20], d['largest_allocations']
assert d['live_allocations']['count']==7 and sum(h['count'] for h in d['live_allocations']['histogram'])==7
assert d['events'][-1]['result']==2 and d['events'][-1]['api']=='$api' and len(d['events'])==10, d['events'][-3:]
assert d['oom_count']==1 and d['oom_number']==1 and 'cuda:0 was 56% reserved' in d['verdict'], d['verdict']
assert d['environment'].get('GPUMEM_SHM_PREFIX')=='$prefix'
assert 'Verdict: cuda:0 was 56% reserved by this process' in d['summary']"
  ;;
backtrace)
  [ "$(GPUMEM_BACKTRACE=1 run driver)" = 7 ] || fail "exit status"
  f=$(one_report); [ -n "$f" ] || fail "no report"
  json "$f" "
top=d['largest_allocations']; assert len(top)==7, top
for a in top:
    assert a['backtrace'] and any(fr.startswith('oom_paths+0x') and '(main+0x' in fr for fr in a['backtrace']), a
    assert not any('libgpumem' in fr for fr in a['backtrace']), a['backtrace']"
  "$gpumem" report "$f" | grep -q '^        at oom_paths+0x[0-9a-f]* (main+0x' || fail "text report has no frames"
  # Off by default: no frames.
  rm -f "$tmp"/reports/*
  [ "$(run driver)" = 7 ] || fail "exit status"
  json "$(one_report)" "assert all(a['backtrace']==[] for a in d['largest_allocations'])"
  ;;
rate_limit)
  [ "$(run twice)" = 7 ] || fail "exit status"
  [ "$(ls "$tmp"/reports | wc -l)" = 1 ] || fail "rate limit: $(ls "$tmp"/reports)"
  grep -c "OOM cuda:0" "$tmp/log" | grep -qx 2 || fail "every OOM is logged"
  grep -q "report skipped (one every 5s, GPUMEM_POSTMORTEM_INTERVAL)" "$tmp/log" || fail "skip reason"
  rm -f "$tmp"/reports/*
  [ "$(GPUMEM_POSTMORTEM_INTERVAL=0 run twice)" = 7 ] || fail "exit status"
  [ "$(ls "$tmp"/reports | wc -l)" = 2 ] || fail "interval 0: $(ls "$tmp"/reports)"
  json "$(ls "$tmp"/reports/*-2.json)" "assert d['oom_count']==2 and d['oom_number']==2"
  ;;
unwritable)
  [ "$(GPUMEM_POSTMORTEM_DIR=$tmp/missing/dir run driver)" = 7 ] || fail "exit status"
  grep -q "GPUMEM_POSTMORTEM_DIR=$tmp/missing/dir is not writable (No such file or directory); reports go to /tmp" "$tmp/log" || fail "warning"
  f=$(sed -n 's/.*; report \(\/tmp\/gpumem-oom-[0-9]*-[0-9]*\.json\)$/\1/p' "$tmp/log")
  [ -f "$f" ] || fail "no fallback report"
  rm -f "$f"
  ;;
symlink)
  # The report's name is taken by a symlink to a file that must not change.
  echo precious > "$tmp/target"
  mkfifo "$tmp/in"
  LD_PRELOAD=$shim "$program" driver pause < "$tmp/in" > "$tmp/out" 2> "$tmp/err" &
  pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 100); do grep -q "^pid " "$tmp/out" && break; sleep 0.05; done
  ln -s "$tmp/target" "$tmp/reports/gpumem-oom-$pid-1.json"
  printf x >&9
  exec 9>&-
  wait $pid; [ $? = 7 ] || fail "exit status"
  [ "$(cat "$tmp/target")" = precious ] || fail "the symlink's target was written"
  [ -L "$tmp/reports/gpumem-oom-$pid-1.json" ] || fail "the symlink was replaced"
  [ -f "$tmp/reports/gpumem-oom-$pid-2.json" ] || fail "no report under the next name: $(ls "$tmp/reports")"
  grep -q "report $tmp/reports/gpumem-oom-$pid-2.json" "$tmp/log" || fail "log names the real path"
  [ -z "$(ls -A "$tmp/reports" | grep '^\.')" ] || fail "temporary file left behind"
  ;;
sigkill)
  mkfifo "$tmp/in"
  LD_PRELOAD=$shim "$program" driver wait < "$tmp/in" > "$tmp/out" 2> "$tmp/err" &
  pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 100); do grep -q "oom done" "$tmp/out" && break; sleep 0.05; done
  sleep 0.1
  kill -9 $pid; wait $pid 2>/dev/null
  f=$(one_report); [ -n "$f" ] || fail "no report"
  "$gpumem" report $pid --json > "$tmp/after" || fail "report from the segment: exit $?"
  cmp "$f" "$tmp/after" || { diff "$f" "$tmp/after" | head; fail "report after SIGKILL differs from the one written on the spot"; }
  "$gpumem" report $pid > "$tmp/text_pid" || fail "text from pid"
  "$gpumem" report "$f" > "$tmp/text_file" || fail "text from file"
  cmp "$tmp/text_pid" "$tmp/text_file" || fail "text renderings differ"
  # Fixed expected rendering, with times, pids, addresses and host normalised.
  sed -E -e "s/pid $pid on [^,]*, [0-9-]+ [0-9:.]+ UTC/pid PID on HOST, TIME/" -e 's/0x[0-9a-f]+/ADDR/g' \
      -e 's/[0-9]+\.[0-9]{3}s (before|old)/N.NNNs \1/g' -e "s|command: .*|command: COMMAND|" \
      -e "s/GPUMEM_SHM_PREFIX=.*/GPUMEM_SHM_PREFIX=PREFIX/" -e "s|GPUMEM_POSTMORTEM_DIR=.*|GPUMEM_POSTMORTEM_DIR=DIR|" \
      -e "s|GPUMEM_LOG=.*|GPUMEM_LOG=LOG|" -e 's/^(Last minute on cuda:0 .*GB\)): .*/\1: SPARKLINE/' \
      "$tmp/text_pid" > "$tmp/normal"
  diff -u "$expected/report.txt" "$tmp/normal" || fail "rendering differs from tests/oom/report.txt"
  "$gpumem" report "$tmp/log" > /dev/null 2>&1; [ $? = 1 ] || fail "a non-report file is refused"
  ;;
*) fail "unknown case" ;;
esac
echo "ok: $case_"
