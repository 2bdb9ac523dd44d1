#!/bin/sh
# Usage: alarm_log.sh CASE PROGRAM SHIM FAKE_DIR
# The alarm log in each sink, line by line; bad GPUMEM_* values.
set -u
case_=$1 program=$2 shim=$3 fake=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LD_LIBRARY_PATH=$fake GPUMEM_SHM_PREFIX=gpumemtest
fail() { echo "FAIL: $*"; exit 1; }
expected() {
  cat <<EOT | sed "s/PID/$1/"
gpumem[PID]: WARNING cuda:0 80% 12.9GB / 16.0GB (warning from 80%)
gpumem[PID]: CRITICAL cuda:0 90% 14.5GB / 16.0GB (alarm above 90%)
gpumem[PID]: WARNING cuda:0 80% 12.9GB / 16.0GB (warning from 80%)
gpumem[PID]: OK cuda:0 76% 12.2GB / 16.0GB (back below 78%)
gpumem[PID]: CRITICAL cuda:1 91% 14.6GB / 16.0GB (alarm above 90%)
gpumem[PID]: OK cuda:1 0% 0.0GB / 16.0GB (back below 78%)
EOT
}
pid_of() { sed -n '1s/^gpumem\[\([0-9]*\)\].*/\1/p' "$1"; }
case $case_ in
file)
  LD_PRELOAD=$shim GPUMEM_LOG=$tmp/log "$program" > "$tmp/out" 2> "$tmp/err" || fail "program failed: $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && fail "the shim wrote to stdout"
  grep -q gpumem "$tmp/err" && fail "file sink also wrote to stderr"
  expected "$(pid_of "$tmp/log")" | diff -u - "$tmp/log" || fail "log file lines"
  # Four processes appending at once: every line whole.
  for i in 1 2 3 4; do LD_PRELOAD=$shim GPUMEM_LOG=$tmp/shared "$program" 2>/dev/null & done
  wait
  [ "$(wc -l < "$tmp/shared")" = 24 ] || fail "expected 24 lines from 4 processes"
  grep -vcE '^gpumem\[[0-9]+\]: (WARNING|CRITICAL|OK) cuda:[01] [0-9]+% [0-9.]+GB / 16.0GB \((warning from 80|alarm above 90|back below 78)%\)$' "$tmp/shared" | grep -qx 0 || fail "interleaved lines"
  ;;
stderr)
  LD_PRELOAD=$shim "$program" > "$tmp/out" 2> "$tmp/err" || fail "program failed"
  [ -s "$tmp/out" ] && fail "the shim wrote to stdout"
  grep '^gpumem\[' "$tmp/err" > "$tmp/log"
  expected "$(pid_of "$tmp/log")" | diff -u - "$tmp/log" || fail "stderr lines"
  ;;
off)
  LD_PRELOAD=$shim GPUMEM_LOG=off "$program" > "$tmp/out" 2> "$tmp/err" || fail "program failed"
  grep -q '^gpumem\[' "$tmp/err" "$tmp/out" && fail "GPUMEM_LOG=off still logged"
  ;;
syslog)
  [ -e /dev/log ] && { echo "skipped: /dev/log exists; not replacing the system logger"; exit 77; }
  command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
  python3 - "$tmp/syslog" <<'PY' &
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('/dev/log'); s.settimeout(5)
with open(sys.argv[1], 'w') as f:
    try:
        for _ in range(6):
            f.write(s.recv(4096).decode(errors='replace') + '\n'); f.flush()
    except socket.timeout:
        pass
os.unlink('/dev/log')
PY
  for _ in $(seq 50); do [ -e /dev/log ] && break; sleep 0.1; done
  LD_PRELOAD=$shim GPUMEM_LOG=syslog "$program" > "$tmp/out" 2> "$tmp/err" || fail "program failed"
  grep -q '^gpumem\[' "$tmp/err" && fail "syslog sink also wrote to stderr"
  wait
  grep -q 'gpumem\[[0-9]*\]: CRITICAL cuda:0 90% 14.5GB / 16.0GB (alarm above 90%)' "$tmp/syslog" || fail "syslog: $(cat "$tmp/syslog")"
  [ "$(grep -c 'gpumem\[' "$tmp/syslog")" = 6 ] || fail "syslog line count"
  ;;
bad_env)
  LD_PRELOAD=$shim GPUMEM_WARN_PERCENT=abc GPUMEM_SHM_MODE=0777 GPUMEM_LOG=relative/path GPUMEM_KEEP=yes \
    "$program" > "$tmp/out" 2> "$tmp/err" || fail "a bad value broke the program"
  grep -q 'GPUMEM_WARN_PERCENT=abc is not valid (warning from this percent of device memory); using the default 80' "$tmp/err" || fail "warn: $(cat "$tmp/err")"
  grep -q 'GPUMEM_SHM_MODE=0777 is not valid' "$tmp/err" || fail "mode"
  grep -q 'GPUMEM_LOG=relative/path is not valid' "$tmp/err" || fail "log"
  grep -q 'GPUMEM_KEEP=yes is not valid' "$tmp/err" || fail "keep"
  [ "$(grep -c 'is not valid' "$tmp/err")" = 4 ] || fail "one warning per bad variable"
  # The defaults were used: the alarms still fire at 80 % and 90 %.
  grep -q 'CRITICAL cuda:0 90%' "$tmp/err" || fail "defaults not used"
  LD_PRELOAD=$shim GPUMEM_WARN_PERCENT=95 "$program" 2> "$tmp/err2" >/dev/null || fail "inverted bounds broke it"
  grep -q 'GPUMEM_WARN_PERCENT=95 is not below GPUMEM_ALARM_PERCENT (90); using the default 80' "$tmp/err2" || fail "order: $(cat "$tmp/err2")"
  ;;
python)
  command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
  # The ctypes structs of python/gpumem/_abi.py, as the README shows them.
  python=$(cd "$(dirname "$0")/../../python" && pwd) || fail "no python/ next to tests/"
  LD_PRELOAD=$shim GPUMEM_LOG=off PYTHONPATH=$python python3 -B - <<'PY' || fail "python ctypes"
import ctypes
from gpumem._abi import ALARM_FN
seen = []
cb = ALARM_FN(lambda a, u: seen.append((a.contents.device_id, a.contents.level)))
assert ctypes.CDLL(None).gpumem_on_alarm(cb, None) == 0
cuda = ctypes.CDLL("libcuda.so.1")
ctx, p = ctypes.c_void_p(), ctypes.c_uint64()
assert cuda.cuInit(0) == 0 and cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, 0) == 0
assert cuda.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(15 * 1024**3)) == 0
assert seen == [(0, 2)], seen
print("python callback saw", seen)
PY
  ;;
*) fail "unknown case" ;;
esac
echo "ok: $case_"
