#!/bin/sh
# Usage: outputs_test.sh CASE GPUMEM SHIM FAKE_DIR MAKE_SEGMENT HOLD OOM_PATHS LOCALE_GUEST
# What the shim and the reader print, whatever the data:
#   percent_clamp  absurd reserved/total figures show as a clamped percent
set -u
case_=$1 gpumem=$2 shim=$3 fake=$4 make_segment=$5 hold=$6 oom_paths=${7:-} guest=${8:-}
prefix="gmx$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
tmp=$(mktemp -d)
hold_pid= oom_pid=
cleanup() {
  [ -S "$tmp/tmux" ] && tmux -S "$tmp/tmux" kill-server 2>/dev/null
  [ -n "$hold_pid" ] && kill "$hold_pid" 2>/dev/null
  [ -n "$oom_pid" ] && kill "$oom_pid" 2>/dev/null
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/log" ] && cat "$tmp/log"; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
# json FILE CHECK: the file must be strict UTF-8 and JSON; d is the document.
json() {
  python3 -c "import json; d=json.loads(open('$1','rb').read().decode('utf-8','strict')); $2" || fail "json check: $2"
}
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' /proc/$1/stat; }

case $case_ in
percent_clamp)
  # cuda:0: 2^63 bytes reserved of 1 MiB; cuda:1: 5 MiB of a total of 0.
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:8796093022208:1:2 1:5:0:0 || fail "make"
  "$make_segment" /dev/shm/$prefix.999996 oom 999996 1 0:8796093022208:1:2 || fail "make oom"
  "$gpumem" show --json > "$tmp/j" || fail "show exit $?"
  json "$tmp/j" "
p={x['pid']:x for x in d['processes']}; dv=p[$$]['devices']
assert dv[0]['percent']==9999.99 and dv[1]['percent']==0, dv
assert p[999996]['devices'][0]['percent']==9999.99, p[999996]
g={x['uuid'][-2:]:x for x in d['gpus']}
assert g['00']['percent']==9999.99 and g['00']['level']=='critical' and g['01']['percent']==0, g"
  grep -q '"percent": 9999.99, "level": "critical", "alloc_count"' "$tmp/j" || fail "two decimals: $(cat "$tmp/j")"
  "$gpumem" ls > "$tmp/ls" || fail "ls exit $?"
  grep -q "^$$ .* cuda:0 8589934592.0GB / 0.0GB 9999%, cuda:1 0.0GB / 0.0GB 0%\$" "$tmp/ls" || fail "ls: $(cat "$tmp/ls")"
  "$gpumem" top --once > "$tmp/top" || fail "top exit $?"
  grep -q "crafted GPU 0  8589934592.0GB / 0.0GB  9999%  critical" "$tmp/top" || fail "top: $(cat "$tmp/top")"
  "$gpumem" report 999996 > "$tmp/r" || fail "report exit $?"
  grep -q "^Verdict: cuda:0 was 9999% reserved by this process" "$tmp/r" || fail "verdict: $(cat "$tmp/r")"
  grep -q "^  cuda:0  reserved 8589934592.00 GiB of 1.00 MiB (9999%)" "$tmp/r" || fail "device line: $(cat "$tmp/r")"
  "$gpumem" report 999996 --json > "$tmp/rj" || fail "report --json exit $?"
  json "$tmp/rj" "assert d['devices'][0]['percent']==9999.99 and 'was 9999% reserved' in d['verdict'], d['devices']"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
