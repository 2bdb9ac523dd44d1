#!/bin/sh
# Usage: outputs_test.sh CASE GPUMEM SHIM FAKE_DIR MAKE_SEGMENT HOLD OOM_PATHS LOCALE_GUEST
# What the shim and the reader print, whatever the data or the locale:
#   percent_clamp  absurd reserved/total figures show as a clamped percent
#   locale_guest   a host program in de_DE: its log lines and post-mortem JSON
#   locale_reader  the reader in de_DE, the full-screen view included
#   utf8_json      a command line of invalid UTF-8 in show --json and a post-mortem
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

# de_DE.UTF-8 for the commands run with "env $loc_env": the system's, or one
# built here with localedef (Debian's locales package has its source).
de_locale() {
  loc_env=
  locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\{0,1\}8' && return 0
  command -v localedef >/dev/null || return 1
  mkdir -p "$tmp/locale"
  localedef -i de_DE -f UTF-8 "$tmp/locale/de_DE.UTF-8" >/dev/null 2>&1
  [ -f "$tmp/locale/de_DE.UTF-8/LC_NUMERIC" ] || return 1
  loc_env="LOCPATH=$tmp/locale"
}

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
locale_guest)
  de_locale || skip "no de_DE.UTF-8 locale and none could be built"
  mkdir "$tmp/reports"
  env $loc_env LD_PRELOAD="$shim" GPUMEM_LOG="$tmp/log" GPUMEM_POSTMORTEM_DIR="$tmp/reports" \
    "$guest" de_DE.UTF-8 > "$tmp/out" 2> "$tmp/err"
  rc=$?
  [ $rc = 77 ] && skip "$(cat "$tmp/err")"
  [ $rc = 7 ] || fail "guest exit $rc: $(cat "$tmp/err")"
  grep -qx '18,75' "$tmp/out" || fail "the guest's locale did not take: $(cat "$tmp/out")"
  grep -q 'WARNING cuda:0 81% 13.0GB / 16.0GB (warning from 80%)$' "$tmp/log" || fail "warning line"
  grep -q 'CRITICAL cuda:0 90% 14.5GB / 16.0GB (alarm above 90%)$' "$tmp/log" || fail "critical line"
  grep -q 'OOM cuda:0 Tried to allocate 8.00 GiB; reserved 14.5GB / 16.0GB, driver free 1.5GB; report ' "$tmp/log" || fail "OOM line"
  grep -q '[0-9],[0-9]' "$tmp/log" && fail "a decimal comma in the log"
  f=$(ls "$tmp"/reports/gpumem-oom-*.json 2>/dev/null | head -1); [ -n "$f" ] || fail "no report"
  json "$f" "
import re
assert d['devices'][0]['percent']==90.62, d['devices']
assert all(isinstance(a['age_seconds'], float) for a in d['largest_allocations']), d['largest_allocations']
s=d['summary']; assert 'reserved 14.50 GiB of 16.00 GiB (90%)' in s and not re.search(r'\d,\d', s), s"
  grep -q '"percent": 90.62}' "$f" || fail "percent not as %.2f would print it in C"
  ;;
locale_reader)
  de_locale || skip "no de_DE.UTF-8 locale and none could be built"
  "$make_segment" /dev/shm/$prefix.$$ valid $$ "$(start_of $$)" 0:5325:16384:0 1:15565:16384:2 || fail "make"
  "$make_segment" /dev/shm/$prefix.999995 oom 999995 1 0:13927:16384:1 || fail "make oom"
  de() { env $loc_env LC_ALL=de_DE.UTF-8 "$gpumem" "$@"; }
  de show --json > "$tmp/j" || fail "show --json exit $?"
  json "$tmp/j" "dv=[x for x in d['processes'] if x['pid']==$$][0]['devices']; assert dv[0]['percent']==32.5, dv"
  for c in ls show "top --once" "report 999995"; do
    de $c > "$tmp/out" || fail "$c exit $?"
    grep -q '[0-9],[0-9]' "$tmp/out" && fail "$c: a decimal comma: $(cat "$tmp/out")"
  done
  de ls | grep -q "cuda:0 5.2GB / 16.0GB 32%, ⚠ cuda:1 15.2GB / 16.0GB 95%" || fail "ls in de_DE"
  de report 999995 | grep -q "reserved 13.60 GiB of 16.00 GiB (85%)" || fail "report in de_DE"
  de report 999995 --json > "$tmp/rj" || fail "report --json exit $?"
  json "$tmp/rj" "assert d['devices'][0]['percent']==85.0"
  # The full-screen view sets the locale from the environment (for UTF-8).
  command -v tmux >/dev/null || { echo "skipped the full-screen view: no tmux"; echo "ok: $case_"; exit 0; }
  sock="$tmp/tmux"
  tmux -S "$sock" new-session -d -x 120 -y 30 "$loc_env GPUMEM_SHM_PREFIX=$prefix TERM=xterm-256color LC_ALL=de_DE.UTF-8 '$gpumem' top --interval 0.2; sleep 5" < /dev/null > /dev/null 2>&1
  for _ in $(seq 50); do tmux -S "$sock" capture-pane -p > "$tmp/screen" 2>/dev/null; grep -q "cuda:1 " "$tmp/screen" && break; sleep 0.1; done
  grep -q "cuda:0 5.2GB / 16.0GB 32%" "$tmp/screen" || fail "top in de_DE: $(cat "$tmp/screen")"
  grep -q '[0-9],[0-9]' "$tmp/screen" && fail "top in de_DE: a decimal comma: $(cat "$tmp/screen")"
  tmux -S "$sock" send-keys q
  ;;
utf8_json)
  # Each kind of invalid UTF-8 in one command line, between valid text: a
  # surrogate, overlong forms, beyond U+10FFFF, stray continuation bytes, a
  # sequence cut short, and one cut short at the very end.
  mkfifo "$tmp/in.hold" "$tmp/in.oom"
  mkdir "$tmp/reports"
  LD_PRELOAD=$shim "$hold" 0:3 < "$tmp/in.hold" > "$tmp/out.hold" &
  hold_pid=$!
  exec 8> "$tmp/in.hold"
  LD_PRELOAD=$shim GPUMEM_LOG=$tmp/log GPUMEM_POSTMORTEM_DIR=$tmp/reports "$oom_paths" driver wait \
    "$(printf 'ok-\303\251-\360\237\230\200')" "$(printf 'surrogate-\355\240\200')" \
    "$(printf 'overlong-\300\257-\340\200\257-\360\200\200\257')" \
    "$(printf 'big-\364\220\200\200-\367\277\277\277-\370\210\200\200\200')" \
    "$(printf 'stray-\200\277-\376\377')" "$(printf 'cut-\342\202-x')" "$(printf 'end-\360\237\230')" \
    < "$tmp/in.oom" > "$tmp/out.oom" 2> "$tmp/err" &
  oom_pid=$!
  exec 9> "$tmp/in.oom"
  for _ in $(seq 100); do grep -q ready "$tmp/out.hold" && grep -q "oom done" "$tmp/out.oom" && break; sleep 0.05; done
  grep -q "oom done" "$tmp/out.oom" || fail "no out-of-memory failure: $(cat "$tmp/err")"
  # What the command must read as: the same bytes, each invalid sequence
  # replaced as Python's decoder does (one U+FFFD per maximal subpart).
  tr '\0' ' ' < /proc/$oom_pid/cmdline | sed 's/ $//' > "$tmp/cmdline"
  check="
c=open('$tmp/cmdline','rb').read().decode('utf-8','replace')
assert c.count('\ufffd')==31 and 'ok-\u00e9-\U0001f600' in c and c.endswith('end-\ufffd'), ascii(c)"
  "$gpumem" show --json > "$tmp/j" || fail "show exit $?"
  json "$tmp/j" "$check
p={x['pid']:x for x in d['processes']}
assert sorted(p)==sorted([$hold_pid, $oom_pid]), sorted(p)
assert p[$oom_pid]['command']==c, (ascii(p[$oom_pid]['command']), ascii(c))
assert p[$hold_pid]['devices'][0]['reserved_bytes']==3<<20"
  f=$(ls "$tmp"/reports/gpumem-oom-*.json 2>/dev/null | head -1); [ -n "$f" ] || fail "no report"
  json "$f" "$check
assert d['command']==c and ('command: '+c+'\n') in d['summary'], ascii(d['command'])"
  "$gpumem" report $oom_pid --json > "$tmp/rj" || fail "report --json exit $?"
  cmp "$f" "$tmp/rj" || fail "report from the segment differs from the file"
  "$gpumem" report "$f" > "$tmp/text" || fail "report FILE exit $?"
  python3 -c "open('$tmp/text','rb').read().decode('utf-8','strict')" || fail "report FILE text is not UTF-8"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
