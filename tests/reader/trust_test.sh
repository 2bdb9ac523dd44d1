#!/bin/sh
# Usage: trust_test.sh NAME GPUMEM SHIM FAKE_DIR MAKE_SEGMENT HOLD SWAP_HOOK SOURCE_DIR
# What a segment (or the machine) may not fool the reader into: gc removing
# a live process's segment (pid reuse, GPUMEM_SHM_DIR), unfinished segments
# of killed processes, forged owners, other users' unreadable segments; and
# scripts/demo in a hostile environment. Tests that need root (unshare,
# another user) skip with 77 where that is not permitted.
set -u
name=$1 gpumem=$2 shim=$3 fake=$4 make_segment=$5 hold=$6 swap_hook=$7 source=$8
prefix="gmt$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
unset GPUMEM_SHM_DIR GPUMEM_DISABLE GPUMEM_KEEP GPUMEM_LOG
tmp=$(mktemp -d)
pids=
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.* /dev/shm/.gpumem-gc.*.$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
json() { python3 -c "import json,sys; d=json.load(open('$1')); $2" || fail "json check: $2"; }
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' /proc/$1/stat; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
# As nobody (uid 65534), without creating a user.
need_nobody() {
  need_root
  command -v setpriv >/dev/null || skip "no setpriv"
  setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null || skip "setpriv cannot become uid 65534"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$gpumem" --help >/dev/null 2>&1 ||
    skip "uid 65534 cannot run $gpumem (a private build directory)"
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# Start hold under the shim ([as_nobody] HOLD ARGS...); wait for "ready".
# Appends to $pids; sets hold_pid. Its stdin is a fifo held open here.
n_hold=0
start_hold() {
  if [ "$1" = as_nobody ]; then shift; set -- setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; fi
  n_hold=$((n_hold + 1))
  mkfifo "$tmp/in.$n_hold"
  env LD_PRELOAD="$shim" "$@" < "$tmp/in.$n_hold" > "$tmp/out.$n_hold" 2>&1 &
  hold_pid=$!
  pids="$pids $hold_pid"
  eval "exec $((n_hold + 2))> \"\$tmp/in.\$n_hold\""
  for _ in $(seq 100); do grep -q ready "$tmp/out.$n_hold" 2>/dev/null && return 0; sleep 0.05; done
  fail "hold did not start: $(cat "$tmp/out.$n_hold")"
}

case $name in
gc_swap)
  # Deterministic: the dead segment is replaced by a new one (a new process
  # with the same pid) after gc checked it and before it acts; gc must leave
  # the new file alone.
  "$make_segment" /dev/shm/$prefix.999990 valid 999990 1 0:1:100:0 || fail "make_segment"
  "$make_segment" "$tmp/new" valid 999990 2 0:5:100:0 || fail "make_segment"
  # (An ASan build of the reader wants its runtime first; the hook is first.)
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
  GMR_SWAP_NAME=$prefix.999990 GMR_SWAP_FROM=$tmp/new LD_PRELOAD=$swap_hook "$gpumem" gc > "$tmp/gc" 2> "$tmp/err"
  rc=$?
  grep -q "swap_hook: replaced" "$tmp/err" || fail "the hook did not run: $(cat "$tmp/err")"
  [ -e /dev/shm/$prefix.999990 ] || fail "gc removed the segment that replaced the one it checked (exit $rc): $(cat "$tmp/gc")"
  cmp -s /dev/shm/$prefix.999990 "$tmp/new" || fail "the file at the name is not the new one"
  [ $rc = 0 ] || fail "gc exit $rc: $(cat "$tmp/err")"
  grep -q "^0 segments removed" "$tmp/gc" || fail "gc output: $(cat "$tmp/gc")"
  ls -a /dev/shm | grep -q "^\.gpumem-gc\..*\.$prefix\." && fail "a private name was left behind"
  # Without the swap the same segment goes.
  "$gpumem" gc | grep -q "removed /dev/shm/$prefix.999990 (pid 999990 dead)" || fail "second gc"
  ;;
gc_pid_reuse)
  # Realistic: 2,500 dead segments; while gc works through them, new
  # processes take their pids (ns_last_pid in a pid namespace of our own) and
  # replace the stale segments with their own, as the shim does. The spawner
  # chases gc: each new process takes the lowest pid whose dead segment is
  # still there, which is where a gc that removes as it goes is working. No
  # live process may lose its segment. Two rounds.
  need_root
  command -v unshare >/dev/null || skip "no unshare"
  unshare --pid --fork --mount-proc sh -c 'echo 1 > /proc/sys/kernel/ns_last_pid' 2>/dev/null ||
    skip "cannot make a pid namespace and set ns_last_pid here"
  "$make_segment" "$tmp/template" valid 1 1 0:1:16384:0 || fail "make_segment"
  cat > "$tmp/reuse.py" <<'PY'
import os, struct, subprocess, sys
gpumem, hold, shim, template, prefix, tmp = sys.argv[1:7]
N, BASE, MAX_HOLDS = 2500, 1000, 150
seg = bytearray(open(template, 'rb').read())
def stamp(path):
    with open(path, 'rb') as f:
        h = f.read(40)
    return struct.unpack_from('<Q', h, 0)[0], struct.unpack_from('<i', h, 24)[0], struct.unpack_from('<Q', h, 32)[0]
def start_of(pid):
    s = open('/proc/%d/stat' % pid).read()
    return int(s[s.rindex(')') + 2:].split()[19])
def dead_pids():
    out = []
    for name in os.listdir('/dev/shm'):
        if name.startswith(prefix + '.'):
            try:
                if stamp('/dev/shm/' + name)[2] == 1:
                    out.append(int(name[len(prefix) + 1:]))
            except (FileNotFoundError, struct.error):
                pass
    return sorted(out)
env = dict(os.environ, LD_PRELOAD=shim)
lost = spawned = replaced = 0
for rnd in range(2):
    for pid in range(BASE, BASE + N):
        struct.pack_into('<i', seg, 24, pid)    # header.pid
        struct.pack_into('<Q', seg, 32, 1)      # a start time no process has
        with open('/dev/shm/%s.%d' % (prefix, pid), 'wb') as f:
            f.write(seg)
    out = open('%s/gc.%d' % (tmp, rnd), 'w')
    gc = subprocess.Popen([gpumem, 'gc'], stdout=out, stderr=subprocess.STDOUT)
    holds = {}
    while gc.poll() is None and len(holds) < MAX_HOLDS:
        free = [p for p in dead_pids() if p not in holds]
        if not free:
            break
        with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
            f.write(str(free[0] - 1))
        h = subprocess.Popen([hold, '0:1'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                             stderr=open('%s/hold.err' % tmp, 'a'))
        if h.stdout.readline().strip() != b'ready':
            sys.exit('hold did not start')
        holds[h.pid] = h
    gc.wait()
    out.close()
    spawned += len(holds)
    kept = open('%s/gc.%d' % (tmp, rnd)).read().count('replaced it while gc worked')
    replaced += kept
    for pid, h in holds.items():
        path = '/dev/shm/%s.%d' % (prefix, pid)
        if h.poll() is not None:
            sys.exit('round %d: pid %d ended (status %s) before the check' % (rnd, pid, h.returncode))
        try:
            magic, spid, start = stamp(path)
            ok = magic != 0 and spid == pid and start == start_of(pid)
            what = 'found magic %x pid %d start %d, the process started at %d' % (magic, spid, start, start_of(pid))
        except FileNotFoundError:
            ok, what = False, 'no such file'
        if not ok:
            lost += 1
            print('round %d: live pid %d lost its segment %s: %s' % (rnd, pid, path, what))
    for h in holds.values():
        h.stdin.close(); h.wait()
    for name in os.listdir('/dev/shm'):
        if name.startswith(prefix + '.'):
            os.unlink('/dev/shm/' + name)
    print('round %d: gc exit %d; %d processes took dead segments\' pids while gc ran; '
          'gc found %d replaced between its check and its removal' % (rnd, gc.returncode, len(holds), kept))
    if lost:
        break
print('%d live segments lost of %d processes started' % (lost, spawned))
if os.path.getsize(tmp + '/hold.err'):
    print('the processes said:\n' + open(tmp + '/hold.err').read()[:2000])
sys.exit(1 if lost else 0)
PY
  unshare --pid --fork --mount-proc python3 "$tmp/reuse.py" "$gpumem" "$hold" "$shim" "$tmp/template" "$prefix" "$tmp" ||
    fail "gc removed live segments of processes that reused dead segments' pids"
  ;;
gc_dir)
  # GPUMEM_SHM_DIR=X: gc reads X and must remove from X, never /dev/shm's
  # file of the same name (here a live process's segment).
  start_hold "$hold" 0:1
  mkdir "$tmp/x"
  "$make_segment" "$tmp/x/$prefix.$hold_pid" valid $hold_pid 1 0:1:100:0 || fail "make_segment"
  GPUMEM_SHM_DIR=$tmp/x "$gpumem" gc > "$tmp/gc" 2>&1; rc=$?
  [ -e /dev/shm/$prefix.$hold_pid ] || fail "gc removed /dev/shm/$prefix.$hold_pid, a live process's segment"
  [ ! -e "$tmp/x/$prefix.$hold_pid" ] || fail "gc left $tmp/x/$prefix.$hold_pid: $(cat "$tmp/gc")"
  grep -q "removed $tmp/x/$prefix.$hold_pid (pid $hold_pid dead)" "$tmp/gc" || fail "output: $(cat "$tmp/gc")"
  [ $rc = 0 ] || fail "gc exit $rc"
  GPUMEM_SHM_DIR=$tmp/x "$gpumem" show --json > "$tmp/j" || fail "show exit $?"
  json "$tmp/j" "assert d['processes']==[], d"
  ;;
unfinished)
  # Processes SIGKILLed between creating their segment and stamping it leave
  # it empty or with no magic. show/ls pass over those of dead pids with a
  # count (exit 0) and keep quiet about a live one being created; gc removes
  # the dead ones (another user's too when root) and never the live one.
  need_root
  start_hold "$hold" 0:1
  sleep 60 & live=$!; pids="$pids $live"
  "$make_segment" /dev/shm/$prefix.999981 empty 999981 0 || fail "make"
  "$make_segment" /dev/shm/$prefix.999982 unstamped 999982 0 || fail "make"
  "$make_segment" /dev/shm/$prefix.$live unstamped $live 0 || fail "make"
  chown 65534 /dev/shm/$prefix.999982
  "$gpumem" show --json > "$tmp/j" 2> "$tmp/err"; rc=$?
  [ $rc = 0 ] || fail "show exit $rc: $(cat "$tmp/err")"
  json "$tmp/j" "assert [p['pid'] for p in d['processes']]==[$hold_pid] and d['skipped']==[] and d['unfinished']==2, d"
  grep -q "2 unfinished segments of ended processes passed over" "$tmp/err" || fail "no count: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" = 1 ] || fail "one line expected: $(cat "$tmp/err")"
  "$gpumem" ls > /dev/null 2>&1 || fail "ls exit $?"
  "$gpumem" gc > "$tmp/gc" 2>&1 || fail "gc exit $?: $(cat "$tmp/gc")"
  grep -q "removed /dev/shm/$prefix.999981 (pid 999981 dead, never stamped)" "$tmp/gc" || fail "empty kept: $(cat "$tmp/gc")"
  grep -q "removed /dev/shm/$prefix.999982 " "$tmp/gc" || fail "unstamped kept: $(cat "$tmp/gc")"
  [ -e /dev/shm/$prefix.$live ] || fail "gc removed a live process's segment being created"
  [ -e /dev/shm/$prefix.$hold_pid ] || fail "gc removed a live segment"
  "$gpumem" show --json > /dev/null 2> "$tmp/err" || fail "show exit $? after gc"
  [ -s "$tmp/err" ] && fail "nothing to say expected: $(cat "$tmp/err")"
  # A user other than root removes its own unfinished segments only.
  need_nobody
  chmod 0711 "$tmp"; mkdir -m 0777 "$tmp/x" # not sticky: the owner check is gc's own
  "$make_segment" "$tmp/x/$prefix.999983" empty 999983 0   # root's, 0600: not even readable
  "$make_segment" "$tmp/x/$prefix.999984" empty 999984 0
  "$make_segment" "$tmp/x/$prefix.999986" empty 999986 0   # root's, readable
  chown 65534 "$tmp/x/$prefix.999984"; chmod 0644 "$tmp/x/$prefix.999986"
  GPUMEM_SHM_DIR=$tmp/x as_nobody "$gpumem" gc > "$tmp/gc" 2>&1 || fail "gc as nobody exit $?: $(cat "$tmp/gc")"
  [ -e "$tmp/x/$prefix.999983" ] && [ -e "$tmp/x/$prefix.999986" ] || fail "nobody's gc removed root's file"
  [ ! -e "$tmp/x/$prefix.999984" ] || fail "nobody's gc kept its own: $(cat "$tmp/gc")"
  grep -q "^gpumem: 1 segment of other users not readable" "$tmp/gc" || fail "no count: $(cat "$tmp/gc")"
  grep -q "^gpumem: 1 segment of other users' ended processes left" "$tmp/gc" || fail "no count: $(cat "$tmp/gc")"
  # The real thing: processes killed 0-3 ms after exec.
  i=0
  while [ $i -lt 200 ]; do
    LD_PRELOAD=$shim "$hold" 0:1 < /dev/null > /dev/null 2>&1 &
    k=$!
    sleep 0.00$((i % 4)); kill -9 $k 2>/dev/null; wait $k 2>/dev/null
    i=$((i + 1))
  done
  left=$(python3 -c "
import glob
n=0
for f in glob.glob('/dev/shm/$prefix.*'):
    b=open(f,'rb').read(8)
    n+=len(b)<8 or b==bytes(8)
print(n)")
  echo "the storm left $left unfinished segments"
  "$gpumem" ls > /dev/null 2> "$tmp/err" || fail "ls exit $? after the storm: $(cat "$tmp/err")"
  "$gpumem" gc > "$tmp/gc" 2>&1 || fail "gc exit $? after the storm"
  "$gpumem" show --json > "$tmp/j" 2> "$tmp/err" || fail "show exit $?"
  json "$tmp/j" "assert d['unfinished']==0 and d['skipped']==[], d"
  [ -e /dev/shm/$prefix.$live ] || fail "gc removed a live process's segment being created"
  ;;
forged_exited)
  # Another user's segment naming a live root process (its real start time)
  # and claiming it exited: not shown as that process; exit 1.
  need_root
  "$make_segment" /dev/shm/$prefix.$$ exited $$ "$(start_of $$)" 0:15000:16384:2 || fail "make"
  chown 65534 /dev/shm/$prefix.$$
  "$gpumem" show --json > "$tmp/j" 2> "$tmp/err"; rc=$?
  json "$tmp/j" "assert d['processes']==[], d['processes']
assert 'owned by uid 65534 but pid $$ runs as uid 0' in d['skipped'][0]['reason'], d"
  [ $rc = 1 ] || fail "exit $rc"
  rm -f /dev/shm/$prefix.$$
  # One that claims an earlier process with this pid (another start time)
  # is an ended process's record, labelled with its owner.
  "$make_segment" /dev/shm/$prefix.$$ exited $$ 12345 0:1:16384:0 || fail "make"
  chown 65534 /dev/shm/$prefix.$$
  "$gpumem" show --json > "$tmp/j" || fail "exit $?"
  json "$tmp/j" "p=d['processes'][0]; assert p['alive'] is False and p['state']=='exited' and p['owner_uid']==65534, p
assert d['gpus']==[], d"
  ;;
nodump)
  # A process that is not dumpable (or changed credentials) has a root-owned
  # /proc/<pid>/stat; its own segment is still its own.
  need_nobody
  start_hold as_nobody "$hold" nodump 0:3
  [ "$(stat -c %u /proc/$hold_pid/stat)" = 0 ] || skip "/proc/<pid>/stat of a non-dumpable process is not root's here"
  [ "$(stat -c %u /dev/shm/$prefix.$hold_pid)" = 65534 ] || fail "segment owner"
  "$gpumem" show --json > "$tmp/j" 2> "$tmp/err" || fail "exit $?: $(cat "$tmp/err")"
  json "$tmp/j" "p=d['processes']; assert len(p)==1 and p[0]['pid']==$hold_pid and p[0]['alive'] is True and p[0]['owner_uid']==65534, d
assert p[0]['devices'][0]['reserved_bytes']==3<<20"
  ;;
unprivileged)
  # A user on a shared machine: others' 0600 segments are not readable,
  # which is normal: what may be seen is shown, the rest counted, exit 0.
  need_nobody
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:1:16384:0 || fail "make" # root's, 0600
  start_hold as_nobody "$hold" 0:2
  as_nobody "$gpumem" show --json > "$tmp/j" 2> "$tmp/err"; rc=$?
  [ $rc = 0 ] || fail "show exit $rc: $(cat "$tmp/err")"
  json "$tmp/j" "assert [p['pid'] for p in d['processes']]==[$hold_pid] and d['skipped']==[] and d['not_readable']==1, d"
  grep -q "^gpumem: 1 segment of other users not readable$" "$tmp/err" || fail "no count: $(cat "$tmp/err")"
  as_nobody "$gpumem" ls > "$tmp/ls" 2>&1 || fail "ls exit $?"
  grep -q "^$hold_pid  *running" "$tmp/ls" || fail "ls: $(cat "$tmp/ls")"
  as_nobody "$gpumem" top --once > /dev/null 2>&1 || fail "top exit $?"
  as_nobody "$gpumem" gc > "$tmp/gc" 2>&1 || fail "gc exit $?: $(cat "$tmp/gc")"
  [ -e /dev/shm/$prefix.$$ ] || fail "gc removed root's"
  # Asked for by pid: said plainly, exit 3 (no segment this user may read).
  as_nobody "$gpumem" show $$ > /dev/null 2> "$tmp/err"; rc=$?
  [ $rc = 3 ] || fail "show PID exit $rc"
  grep -q "belongs to another user and is not readable" "$tmp/err" || fail "$(cat "$tmp/err")"
  # Real damage in a segment of one's own is still exit 1.
  "$make_segment" /dev/shm/$prefix.999985 badmagic 999985 1 || fail "make"
  chown 65534 /dev/shm/$prefix.999985
  as_nobody "$gpumem" show --json > /dev/null 2>&1; rc=$?
  [ $rc = 1 ] || fail "bad magic: exit $rc"
  ;;
demo)
  # scripts/demo with a hostile caller's environment, and failing half-way:
  # it must run as documented, and leave no segment behind either way. It
  # builds into build/ of a copy of the sources, so this build is not touched.
  command -v cmake >/dev/null || skip "no cmake"
  mkdir "$tmp/src"
  (cd "$source" && tar cf - --exclude='./build*' --exclude=./.git .) | (cd "$tmp/src" && tar xf -) || fail "copy"
  ls /dev/shm | grep '^gpumemdemo' > "$tmp/before"
  GPUMEM_DISABLE=1 GPUMEM_LOG=off GPUMEM_SHM_PREFIX=other GPUMEM_SHM_DIR=/nonexistent \
    sh "$tmp/src/scripts/demo" > "$tmp/demo" 2>&1; rc=$?
  [ $rc = 0 ] || fail "demo exit $rc under the caller's GPUMEM_*: $(tail -5 "$tmp/demo")"
  grep -q "OOM cuda:0 Tried to allocate 2.00 GiB" "$tmp/demo" || fail "no alarm line: $(cat "$tmp/demo")"
  grep -q "gpumem out-of-memory report #1" "$tmp/demo" || fail "no post-mortem"
  ls /dev/shm | grep '^gpumemdemo' > "$tmp/after"
  diff "$tmp/before" "$tmp/after" | grep "^>" && fail "the demo left segments behind"
  # A step fails after the job kept its segment: it must still go.
  mkdir "$tmp/bin"; printf '#!/bin/sh\nexit 1\n' > "$tmp/bin/ls"; chmod +x "$tmp/bin/ls"
  PATH=$tmp/bin:$PATH sh "$tmp/src/scripts/demo" > "$tmp/demo" 2>&1; rc=$?
  [ $rc != 0 ] || fail "the demo did not fail"
  ls /dev/shm | grep '^gpumemdemo' > "$tmp/after"
  diff "$tmp/before" "$tmp/after" | grep "^>" && fail "the failed demo left its segment behind"
  ;;
*) fail "unknown test $name" ;;
esac
echo "ok: $name"
