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
shm_full|shm_small)
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

# Run STEPS... with the shim (out.with, err.with, rc.with) and without.
both() {
  timeout 30 env LD_PRELOAD="$shim" "$steps" "$@" > "$tmp/out.with" 2> "$tmp/err.with" < /dev/null
  echo $? > "$tmp/rc.with"
  timeout 30 "$steps" "$@" > "$tmp/out.without" 2> "$tmp/err.without" < /dev/null
  echo $? > "$tmp/rc.without"
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
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
