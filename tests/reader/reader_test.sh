#!/bin/sh
# Usage: reader_test.sh NAME GPUMEM SHIM FAKE_DIR MAKE_SEGMENT HOLD EXPECTED_DIR
# Reader tests against real processes under the shim and crafted segments.
# Each test uses a prefix of its own, so tests can run in parallel.
set -u
name=$1 gpumem=$2 shim=$3 fake=$4 make_segment=$5 hold=$6 expected=$7
prefix="gmr$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
tmp=$(mktemp -d)
hold_pid=
cleanup() {
  [ -S "$tmp/tmux" ] && tmux -S "$tmp/tmux" kill-server 2>/dev/null
  [ -n "$hold_pid" ] && kill "$hold_pid" 2>/dev/null
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
json() { python3 -c "import json,sys; d=json.load(open('$1')); $2" || fail "json check: $2"; }
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' /proc/$1/stat; }

# Start hold under the shim; wait for "ready". Sets hold_pid; stdin is a fifo.
start_hold() {
  mkfifo "$tmp/in.$1"
  LD_PRELOAD=$shim "$hold" "$@" < "$tmp/in.$1" > "$tmp/out.$1" &
  hold_pid=$!
  exec 9> "$tmp/in.$1"
  for _ in $(seq 100); do grep -q ready "$tmp/out.$1" 2>/dev/null && return 0; sleep 0.05; done
  fail "hold did not start"
}

case $name in
live)
  start_hold 0:3 1:5
  "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "
p=d['processes']; assert len(p)==1 and p[0]['pid']==$hold_pid and p[0]['alive'] is True, p
dv={x['device_id']:x for x in p[0]['devices']}
assert dv[0]['reserved_bytes']==3<<20 and dv[1]['reserved_bytes']==5<<20, dv
assert dv[0]['total_bytes']==16<<30 and dv[0]['level']=='healthy' and dv[0]['percent']==0.02
assert p[0]['has_memory_alarm'] is False and p[0]['memory_alarm_devices']==[]
assert dv[0]['peak_time_unix_ns'] > 1.7e18 and dv[0]['last_transition_unix_ns']==0 and dv[0]['alarm_count']==0
assert len(d['gpus'])==2 and d['gpus'][0]['pids']==[$hold_pid] and d['schema']==1"
  "$gpumem" ls | grep -q "^$hold_pid  *running .*cuda:0 0.0GB / 16.0GB 0%, cuda:1 0.0GB / 16.0GB 0%" || fail "ls"
  [ "$(stat -c %a /dev/shm/$prefix.$hold_pid)" = 600 ] || fail "segment mode $(stat -c %a /dev/shm/$prefix.$hold_pid)"
  exec 9>&-; wait $hold_pid
  [ ! -e /dev/shm/$prefix.$hold_pid ] || fail "segment left after a normal exit"
  # GPUMEM_KEEP=1: kept after a normal exit, marked exited; GPUMEM_SHM_MODE widens the mode.
  echo | GPUMEM_KEEP=1 GPUMEM_SHM_MODE=0640 LD_PRELOAD=$shim "$hold" 0:2 > /dev/null
  [ "$(stat -c %a /dev/shm/$prefix.*)" = 640 ] || fail "GPUMEM_SHM_MODE=0640 not applied"
  "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "p=d['processes']; assert len(p)==1 and p[0]['state']=='exited' and p[0]['alive'] is False, p
assert p[0]['devices'][0]['reserved_bytes']==2<<20"
  ;;
sigkill)
  start_hold 0:7
  kill -9 $hold_pid; wait $hold_pid 2>/dev/null
  "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "
p=d['processes'][0]; assert p['alive'] is False and p['state']=='dead', p
assert p['devices'][0]['reserved_bytes']==7<<20 and d['gpus']==[]"
  "$gpumem" gc | grep -q "removed /dev/shm/$prefix.$hold_pid" || fail "gc"
  [ ! -e /dev/shm/$prefix.$hold_pid ] || fail "gc left it"
  ;;
reused_pid)
  # Our own (live) pid, but another start time: an earlier process's segment.
  "$make_segment" /dev/shm/$prefix.$$ valid $$ 12345 0:1:16384:0 || fail "make_segment"
  "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "p=d['processes'][0]; assert p['pid']==$$ and p['alive'] is False and p['state']=='dead', p"
  ;;
malformed)
  start_hold 0:1
  for kind in truncated badmagic newversion absurd badoffset; do
    "$make_segment" /dev/shm/$prefix.$((900000 + ${#kind})) $kind 4 4 0:1:100:0 || fail "make $kind"
  done
  "$make_segment" /dev/shm/$prefix.999999 truncated 4 4
  "$gpumem" show --json > "$tmp/j" 2> "$tmp/err"; rc=$?
  [ $rc = 1 ] || fail "exit $rc, expected 1"
  json "$tmp/j" "
assert [p['pid'] for p in d['processes']]==[$hold_pid], d['processes']
r=sorted(s['reason'] for s in d['skipped']); print('\n'.join(r))
assert any('bad magic' in x for x in r) and any('layout version 2' in x for x in r)
assert any('absurd device count' in x for x in r) and any('truncated' in x for x in r)
assert any('device table outside' in x for x in r) and len(r)==5, r"
  [ "$(wc -l < "$tmp/err")" = 5 ] || fail "one stderr line per bad segment expected"
  exec 9>&-; wait $hold_pid
  ;;
other_user)
  [ "$(id -u)" = 0 ] || { echo "skipped: needs root to chown"; exit 77; }
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:1:16384:0 || fail "make_segment"
  chown 65534 /dev/shm/$prefix.$$
  "$gpumem" show --json > "$tmp/j" 2>/dev/null; rc=$?
  [ $rc = 1 ] || fail "exit $rc"
  json "$tmp/j" "assert d['processes']==[] and 'owned by uid 65534 but pid $$ runs as uid 0' in d['skipped'][0]['reason'], d"
  ;;
concurrent)
  # Polling spans the writers' start and exit as well as their churn.
  for i in 1 2 3; do LD_PRELOAD=$shim "$hold" churn 2 & done
  n=0
  while [ $n -lt 150 ]; do
    "$gpumem" show --json > "$tmp/j.$n" || fail "reader exit $? while writers run"
    n=$((n + 1))
  done
  wait
  python3 - "$tmp" <<'PY' || fail "torn or impossible values"
import json, sys, glob
seen = 0
for f in glob.glob(sys.argv[1] + '/j.*'):
    d = json.load(open(f))
    for p in d['processes']:
        for dv in p['devices']:
            r = dv['reserved_bytes']
            assert r % (1 << 20) == 0 and r <= 64 << 20, r
            assert dv['free_count'] <= dv['alloc_count'] + 64
            seen += 1
assert seen > 0
print('checked', seen, 'device snapshots')
PY
  ;;
many)
  # A listing maps its segments side by side and unmaps them 16 at a time
  # (tools/snapshot.c): 40 writers of 1..40 MiB, each read back as its own,
  # with damaged and empty files among them (read the other ways).
  mkfifo "$tmp/in.many"
  exec 8<> "$tmp/in.many"
  pids=
  for i in $(seq 40); do
    LD_PRELOAD=$shim "$hold" 0:$i 1:$((i + 100)) < "$tmp/in.many" > /dev/null &
    pids="$pids $!"
  done
  for _ in $(seq 200); do [ "$(ls /dev/shm | grep -c "^$prefix\.")" -ge 40 ] && break; sleep 0.05; done
  for k in 1 2 3; do
    "$make_segment" /dev/shm/$prefix.99999$k truncated 99999$k 1 0:1:100:0
    : > /dev/shm/$prefix.9999$k
  done
  "$gpumem" show --json > "$tmp/j" 2> /dev/null; [ $? -eq 1 ] || { kill $pids; fail "exit status with damaged segments"; }
  "$gpumem" show --json $(echo $pids | cut -d' ' -f7) > "$tmp/one" || { kill $pids; fail "show PID"; }
  kill $pids 2>/dev/null
  python3 - "$tmp/j" "$tmp/one" $pids <<'PY' || fail "a segment read as another's, or not at all"
import json, sys
d = json.load(open(sys.argv[1]))
pids = [int(p) for p in sys.argv[3:]]
got = {p['pid']: [(v['device_id'], v['reserved_bytes']) for v in p['devices']] for p in d['processes']}
want = {pid: [(0, (i + 1) << 20), (1, (i + 101) << 20)] for i, pid in enumerate(pids)}
assert got == want, (len(got), [(k, got.get(k), v) for k, v in want.items() if got.get(k) != v][:3])
assert len(d['skipped']) == 3, d['skipped']
one = json.load(open(sys.argv[2]))['processes']
assert [p['pid'] for p in one] == [pids[6]] and one[0]['devices'][1]['reserved_bytes'] == 107 << 20, one
PY
  ;;
gc)
  start_hold 0:1
  "$make_segment" /dev/shm/$prefix.999998 valid 999998 1 0:1:100:0
  "$gpumem" gc > "$tmp/gc" || fail "gc exit $?"
  grep -q "removed /dev/shm/$prefix.999998 (pid 999998 dead)" "$tmp/gc" || fail "dead one kept"
  [ -e /dev/shm/$prefix.$hold_pid ] || fail "gc removed a live segment"
  grep -q "1 segment removed" "$tmp/gc" || fail "count"
  exec 9>&-; wait $hold_pid
  ;;
top_once)
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:13926:16384:1 1:15565:16384:2 || fail "make"
  "$make_segment" /dev/shm/$prefix.999997 valid 999997 1 0:1024:16384:0 || fail "make"
  "$gpumem" top --once > "$tmp/top" || fail "top exit $?"
  sed "s/@PID8@/$(printf "%-8s" $$)/g" "$expected/top_once.txt" > "$tmp/expected"
  diff -u "$tmp/expected" "$tmp/top" || fail "top --once differs from tests/reader/top_once.txt"
  "$gpumem" ls > "$tmp/ls" || fail "ls exit $?"
  sed "s/@PID8@/$(printf "%-8s" $$)/g" "$expected/ls.txt" > "$tmp/expected"
  diff -u "$tmp/expected" "$tmp/ls" || fail "ls differs from tests/reader/ls.txt"
  "$gpumem" show --json > "$tmp/j"
  json "$tmp/j" "
p=[x for x in d['processes'] if x['pid']==$$][0]
assert p['has_memory_alarm'] is True and p['memory_alarm_devices']==['cuda:1'], p
g={x['uuid'][-2:]:x for x in d['gpus']}; assert g['00']['level']=='warning' and g['01']['level']=='critical', g"
  ;;
top_live)
  # The full-screen view, driven as a person would: in tmux, read the screen, press q.
  command -v tmux >/dev/null || { echo "skipped: no tmux"; exit 77; }
  start_hold 0:3 1:5
  sock="$tmp/tmux"
  tmux -S "$sock" new-session -d -x 120 -y 30 "GPUMEM_SHM_PREFIX=$prefix TERM=xterm-256color LC_ALL=C.UTF-8 '$gpumem' top --interval 0.2; echo exited \$? > '$tmp/top_rc'; sleep 5" < /dev/null > /dev/null 2>&1
  for _ in $(seq 50); do tmux -S "$sock" capture-pane -p > "$tmp/screen" 2>/dev/null; grep -q "cuda:1" "$tmp/screen" && break; sleep 0.1; done
  grep -q "gpumem top: 2 GPUs, 1 running process" "$tmp/screen" || fail "screen: $(cat "$tmp/screen")"
  grep -q "$hold_pid .*cuda:0 0.0GB / 16.0GB 0%" "$tmp/screen" || fail "process row"
  grep -q "q: quit" "$tmp/screen" || fail "no key help"
  # A new process appears on the next refresh.
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:15565:16384:2 || fail "make"
  for _ in $(seq 50); do tmux -S "$sock" capture-pane -p > "$tmp/screen"; grep -q "⚠ cuda:0 15.2GB" "$tmp/screen" && break; sleep 0.1; done
  grep -q "⚠ cuda:0 15.2GB / 16.0GB 95%" "$tmp/screen" || fail "live refresh: $(cat "$tmp/screen")"
  tmux -S "$sock" send-keys q
  for _ in $(seq 50); do [ -s "$tmp/top_rc" ] && break; sleep 0.1; done
  grep -q "exited 0" "$tmp/top_rc" || fail "q did not quit cleanly"
  tmux -S "$sock" kill-server 2>/dev/null
  exec 9>&-; wait $hold_pid
  ;;
writer_takeover)
  # exec keeps the pid: a crafted segment of "an earlier process" with the pid
  # that hold will run under, owned by us, is replaced at hold's first CUDA call.
  sh -c "'$make_segment' /dev/shm/$prefix.\$\$ valid \$\$ 1 0:999:16384:0 && LD_PRELOAD=$shim GPUMEM_KEEP=1 exec '$hold' 0:3 < /dev/null" > /dev/null
  "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "p=d['processes']; assert len(p)==1 and p[0]['devices'][0]['reserved_bytes']==3<<20, p"
  rm -f /dev/shm/$prefix.*
  # Owned by another user: never touched; publication off with one warning.
  [ "$(id -u)" = 0 ] || { echo "skipped the other-user half: needs root"; echo "ok: $name"; exit 0; }
  sh -c "'$make_segment' /dev/shm/$prefix.\$\$ valid \$\$ 1 0:999:16384:0 && chown 65534 /dev/shm/$prefix.\$\$ && LD_PRELOAD=$shim GPUMEM_KEEP=1 exec '$hold' 0:3 < /dev/null" > /dev/null 2> "$tmp/err" || fail "hold failed"
  grep -q "belongs to uid 65534; publication is off for this process" "$tmp/err" || fail "no warning: $(cat "$tmp/err")"
  [ "$(grep -c gpumem "$tmp/err")" = 1 ] || fail "one warning expected"
  f=$(ls /dev/shm/$prefix.*); [ "$(stat -c %u "$f")" = 65534 ] || fail "owner changed"
  "$gpumem" show --json > "$tmp/j" 2>/dev/null
  json "$tmp/j" "p=d['processes']; assert len(p)==1 and p[0]['devices'][0]['reserved_bytes']==999<<20, p"
  ;;
usage)
  "$gpumem" >/dev/null 2>&1; [ $? = 2 ] || fail "no command"
  "$gpumem" bogus >/dev/null 2>&1; [ $? = 2 ] || fail "bad command"
  "$gpumem" show --prefix '../x' >/dev/null 2>&1; [ $? = 2 ] || fail "bad prefix"
  "$gpumem" top --interval 0 >/dev/null 2>&1; [ $? = 2 ] || fail "bad interval"
  "$gpumem" show 4000000 >/dev/null 2>&1; [ $? = 3 ] || fail "pid without segment"
  ;;
*) fail "unknown test $name" ;;
esac
echo "ok: $name"
