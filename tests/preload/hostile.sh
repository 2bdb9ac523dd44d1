#!/bin/sh
# Usage: hostile.sh CASE STEPS SHIM FAKE_DIR DRIVER_DIRECT
# The machine is hostile: a full or tiny /dev/shm, a segment mode that would
# let others write, a program that closes every descriptor and reuses the
# numbers, a FIFO as the log file. In each the program must run exactly as
# without the shim: same exit status, same stdout, within seconds.
# Cases that need a mount namespace of their own (unshare -m; we run as
# root in CI) skip with 77 where that is not permitted.
set -u
case_=$1 steps=$2 shim=$3 fake=$4 direct=$5
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

# These cases re-run this script in a mount namespace of their own, with
# private propagation, and make sure it is one before anything is mounted.
case $case_ in
shm_full|shm_small|log_syslog_reuse)
  if [ -z "${GPUMEM_TEST_NS:-}" ]; then
    unshare -m --propagation private true 2>/dev/null || skip "unshare -m is not permitted here"
    GPUMEM_TEST_NS=1 exec unshare -m --propagation private sh "$0" "$@"
  fi
  [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || fail "not in a mount namespace of our own"
  ;;
esac

tmp=$(mktemp -d)
prefix="gmh$$"
cleanup() { exec 3>&- 2>/dev/null; rm -rf --one-file-system "$tmp"; rm -f /dev/shm/$prefix.*; }
trap cleanup EXIT
export LD_LIBRARY_PATH=$fake GPUMEM_SHM_PREFIX=$prefix
unset GPUMEM_LOG GPUMEM_KEEP GPUMEM_SHM_MODE GPUMEM_DISABLE

# Run STEPS... without the shim (out.without, ...), then with it (out.with,
# err.with, rc.with): files the steps write are left as the shim's run
# left them.
both() {
  timeout 30 "$steps" "$@" > "$tmp/out.without" 2> "$tmp/err.without" < /dev/null
  echo $? > "$tmp/rc.without"
  timeout 30 env LD_PRELOAD="$shim" "$steps" "$@" > "$tmp/out.with" 2> "$tmp/err.with" < /dev/null
  echo $? > "$tmp/rc.with"
}
same_as_without() {
  [ "$(cat "$tmp/rc.with")" = 0 ] || fail "exit status $(cat "$tmp/rc.with") with the shim (0 without): $(cat "$tmp/err.with")"
  [ "$(cat "$tmp/rc.without")" = 0 ] || fail "exit status $(cat "$tmp/rc.without") without the shim"
  cmp -s "$tmp/out.with" "$tmp/out.without" || fail "stdout differs: $(diff "$tmp/out.without" "$tmp/out.with")"
}
levels() { # the alarm lines of FILE, as "LEVEL cuda:N"
  sed -n 's/^gpumem\[[0-9]*\]: \(WARNING\|CRITICAL\|OK\) \(cuda:[0-9]*\) .*/\1 \2/p' "$1" | tr '\n' ' '
}
# 80.6 %, 90.9 %, back to 80.6 %, 0 % of a 16 GiB stand-in device.
ALARMS="WARNING cuda:0 CRITICAL cuda:0 WARNING cuda:0 OK cuda:0 "

case $case_ in
shm_full|shm_small)
  # A tmpfs of 64 KiB over /dev/shm, in a mount namespace of our own. The
  # segment is bigger than that; "full" also fills it to the last page.
  mount -t tmpfs -o size=64k,mode=1777 gpumemtest /dev/shm || skip "cannot mount a tmpfs over /dev/shm"
  [ "$case_" = shm_full ] && dd if=/dev/zero of=/dev/shm/filler bs=4096 2>/dev/null
  ls /dev/shm > "$tmp/shm.before"
  both 0:+3 1:+5 0:-3 1:+7 1:-5
  same_as_without
  # The counters still work, in process memory: the in-process API checks
  # (this program stores into more of the segment than the one above).
  timeout 30 env LD_PRELOAD="$shim" "$direct" > /dev/null 2> "$tmp/err.direct" || fail "driver_direct: exit $? $(cat "$tmp/err.direct")"
  [ "$(grep -c 'publication is off' "$tmp/err.with")" = 1 ] || fail "no single 'publication is off' line: $(cat "$tmp/err.with")"
  grep -q "cannot reserve memory for shared memory /$prefix\.[0-9]* (.*: No space left on device); publication is off, counting in process memory only" \
    "$tmp/err.with" || fail "the log line does not say why: $(cat "$tmp/err.with")"
  ls /dev/shm | diff "$tmp/shm.before" - || fail "a half-made segment was left in /dev/shm"
  ;;
shm_mode)
  # A mode that lets others write is refused: the write bits are dropped,
  # so another user can neither forge counters nor truncate the segment
  # (which would make the program's next counter update a SIGBUS).
  command -v setpriv > /dev/null || skip "no setpriv"
  [ "$(id -u)" = 0 ] || skip "not root: cannot act as another user"
  mkfifo "$tmp/in"
  GPUMEM_SHM_MODE=0666 GPUMEM_KEEP=1 LD_PRELOAD=$shim "$steps" 0:+3 pause 0:+5 1:+2 \
    < "$tmp/in" > "$tmp/out.with" 2> "$tmp/err.with" &
  pid=$!
  exec 3> "$tmp/in"
  for _ in $(seq 100); do grep -q paused "$tmp/out.with" 2>/dev/null && break; sleep 0.05; done
  seg=/dev/shm/$prefix.$pid
  [ -e "$seg" ] || fail "no segment $seg"
  mode=$(stat -c %a "$seg") size=$(stat -c %s "$seg")
  if setpriv --reuid=65534 --regid=65534 --clear-groups truncate -c -s 0 "$seg" 2>/dev/null; then
    echo "another user truncated the segment"
  fi
  exec 3>&-
  wait $pid; echo $? > "$tmp/rc.with"
  timeout 30 "$steps" 0:+3 pause 0:+5 1:+2 < /dev/null > "$tmp/out.without" 2>/dev/null; echo $? > "$tmp/rc.without"
  same_as_without
  [ "$mode" = 644 ] || fail "GPUMEM_SHM_MODE=0666 gave mode $mode, expected 644"
  [ "$(stat -c %s "$seg")" = "$size" ] || fail "the segment was truncated by another user"
  [ "$(grep -c GPUMEM_SHM_MODE "$tmp/err.with")" = 1 ] || fail "no single warning: $(cat "$tmp/err.with")"
  grep -q "GPUMEM_SHM_MODE=0666 would let other users write the segment (.*); using 0644" "$tmp/err.with" \
    || fail "warning: $(cat "$tmp/err.with")"
  rm -f "$seg"
  # Group write alone is dropped too; a mode without write bits for others
  # is taken as it is, without a word.
  for m in 0660:640:warn 0622:600:warn 0640:640: 0644:644:; do
    mode=${m%%:*} rest=${m#*:}
    want=${rest%%:*} word=${rest#*:}
    GPUMEM_SHM_MODE=$mode GPUMEM_KEEP=1 LD_PRELOAD=$shim "$steps" 0:+1 > /dev/null 2> "$tmp/err" || fail "mode $mode: exit $?"
    [ "$(stat -c %a /dev/shm/$prefix.*)" = "$want" ] || fail "GPUMEM_SHM_MODE=$mode gave $(stat -c %a /dev/shm/$prefix.*)"
    if [ -n "$word" ]; then
      grep -q "GPUMEM_SHM_MODE=$mode would let other users write the segment" "$tmp/err" || fail "no warning for $mode"
    else
      [ -s "$tmp/err" ] && fail "mode $mode: $(cat "$tmp/err")"
    fi
    rm -f /dev/shm/$prefix.*
  done
  ;;
log_reuse)
  # The first alarm line is logged; the program closes every descriptor and
  # opens its own file, which gets the lowest free number; more alarms.
  # Its file must hold only its own data, the log every line.
  export GPUMEM_LOG=$tmp/log
  both 0:+13200 closefrom "open:$tmp/data" 0:+1700 0:-1700 0:-13200
  same_as_without
  [ "$(cat "$tmp/data")" = "program data" ] || fail "the program's file holds: $(cat "$tmp/data")"
  [ "$(levels "$tmp/log")" = "$ALARMS" ] || fail "log file: $(cat "$tmp/log")"
  grep -q gpumem "$tmp/err.with" && fail "stderr: $(cat "$tmp/err.with")"
  ;;
log_fifo)
  # A FIFO that nobody reads: opening it must not wait for a reader.
  mkfifo "$tmp/fifo"
  export GPUMEM_LOG=$tmp/fifo
  both 0:+13200 0:+1700 0:-1700 0:-13200
  same_as_without
  [ "$(levels "$tmp/err.with")" = "$ALARMS" ] || fail "the lines did not go to stderr: $(cat "$tmp/err.with")"
  [ "$(grep -c "GPUMEM_LOG=$tmp/fifo: cannot open it (No such device or address); the lines it refuses go to stderr" "$tmp/err.with")" = 1 ] \
    || fail "no single warning: $(cat "$tmp/err.with")"
  ;;
log_fifo_full)
  # A FIFO with a reader that has stopped reading: its pipe is full.
  command -v python3 > /dev/null || skip "no python3"
  mkfifo "$tmp/fifo"
  exec 3<> "$tmp/fifo"
  python3 - "$tmp/fifo" <<'PY' || fail "could not fill the pipe"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
for size in (4096, 1):
    try:
        while True: os.write(fd, b"x" * size)
    except BlockingIOError:
        pass
PY
  export GPUMEM_LOG=$tmp/fifo
  both 0:+13200 0:+1700 0:-1700 0:-13200
  same_as_without
  [ "$(levels "$tmp/err.with")" = "$ALARMS" ] || fail "the lines did not go to stderr: $(cat "$tmp/err.with")"
  [ "$(grep -c "GPUMEM_LOG=$tmp/fifo: cannot write to it (Resource temporarily unavailable)" "$tmp/err.with")" = 1 ] \
    || fail "no single warning: $(cat "$tmp/err.with")"
  ;;
log_syslog_reuse)
  # GPUMEM_LOG=syslog and a program that also logs through syslog(3), then
  # closes every descriptor and opens its own file. A /dev/log of our own,
  # in a mount namespace with a fresh /dev, stands in for the daemon.
  command -v python3 > /dev/null || skip "no python3"
  # Device nodes are made afresh in the new /dev: nothing of the real /dev
  # is bound anywhere (a bind of it under $tmp would be emptied by rm -rf).
  mount -t tmpfs -o mode=755 gpumemtest /dev || skip "cannot mount a tmpfs over /dev"
  mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/urandom c 1 9 \
    || fail "mknod in the private /dev"
  ln -s /proc/self/fd /dev/fd
  mkdir -m 1777 /dev/shm && mount -t tmpfs gpumemtest /dev/shm || fail "private /dev/shm"
  python3 - "$tmp/syslog" <<'PY' &
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('/dev/log'); s.settimeout(3)
with open(sys.argv[1], 'w') as f:
    try:
        while True:
            f.write(s.recv(4096).decode(errors='replace').rstrip('\n') + '\n'); f.flush()
    except socket.timeout:
        pass
PY
  for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
  export GPUMEM_LOG=syslog
  both syslog 0:+13200 closefrom "open:$tmp/data" 0:+1700 0:-1700 0:-13200
  wait
  same_as_without
  [ "$(cat "$tmp/data")" = "program data" ] || fail "the program's file holds: $(cat "$tmp/data")"
  grep -q gpumem "$tmp/err.with" && fail "stderr: $(cat "$tmp/err.with")"
  sed 's/^<[0-9]*>//' "$tmp/syslog" > "$tmp/lines"
  # Two runs (with and without the shim) sent the program's own line each;
  # the run with the shim sent its four alarms.
  [ "$(grep -c 'steps: the program.s own syslog line' "$tmp/syslog")" = 2 ] || fail "program's syslog lines: $(cat "$tmp/syslog")"
  [ "$(levels "$tmp/lines")" = "$ALARMS" ] || fail "syslog: $(cat "$tmp/syslog")"
  grep -q "^<12>gpumem\[[0-9]*\]: CRITICAL cuda:0 " "$tmp/syslog" || fail "syslog priority or tag: $(cat "$tmp/syslog")"
  ;;
log_sigpipe)
  # stderr (the default log) is a pipe whose reader is gone, as in
  # `prog 2>&1 | head`: the alarm lines must not kill the program with
  # SIGPIPE (the program itself writes nothing to stderr).
  for mode in without with; do
    pre=""; [ $mode = with ] && pre=$shim
    python3 -c 'import os, subprocess, sys
r, w = os.pipe(); os.close(r)
env = dict(os.environ); env["LD_PRELOAD"] = sys.argv[1]
p = subprocess.run(sys.argv[2:], stderr=w, stdout=subprocess.DEVNULL, env=env, timeout=30)
print(p.returncode)' "$pre" "$steps" 0:+13200 0:+1700 0:-1700 0:-13200 > "$tmp/rc.$mode" || fail "python3 could not run the program"
  done
  [ "$(cat "$tmp/rc.without")" = 0 ] || fail "exit status $(cat "$tmp/rc.without") without the shim"
  [ "$(cat "$tmp/rc.with")" = 0 ] || fail "exit status $(cat "$tmp/rc.with") with the shim (-13: killed by SIGPIPE)"
  ;;
fsize)
  # A file-size limit below the segment's size (ulimit -f): reserving it would
  # raise SIGXFSZ, whose default action ends the program. Publication is off,
  # said once; the program runs as without the shim. Same for a log file
  # already past the limit.
  export GPUMEM_LOG=$tmp/log
  head -c 20480 /dev/zero > "$tmp/log"
  (ulimit -f 8 && both 0:+13200 0:+1700 0:-1700 0:-13200)
  same_as_without
  grep -q "publication is off" "$tmp/err.with" || fail "no line saying publication is off: $(cat "$tmp/err.with")"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
