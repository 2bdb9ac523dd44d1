#!/bin/sh
# Usage: run_test.sh NAME GPUMEM SHIM FAKE_DIR HOLD SOURCE_DIR
# gpumem run: CMD under this gpumem's libgpumem.so, exec'd in its place.
set -u
name=$1 gpumem=$2 shim=$3 fake=$4 hold=$5 source=$6
prefix="gmrun$$"
export GPUMEM_SHM_PREFIX=$prefix LD_LIBRARY_PATH=$fake
unset LD_PRELOAD GPUMEM_LIBRARY
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"; rm -f /dev/shm/$prefix.*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
lib=$(cd "$(dirname "$gpumem")" && pwd -P)/libgpumem.so.0

case $name in
status)
  "$gpumem" run sh -c 'exit 7'; rc=$?
  [ $rc = 7 ] || fail "exit 7 came back as $rc"
  "$gpumem" run -- true || fail "true after -- exited $?"
  # a signal death is the caller's to see: python's returncode is -15, not 143
  /usr/bin/python3 -c "
import subprocess, sys
r = subprocess.run(['$gpumem', 'run', 'sh', '-c', 'kill -TERM \$\$'])
sys.exit(0 if r.returncode == -15 else 'returncode %d, expected -15 (SIGTERM)' % r.returncode)" || fail "signal"
  # exec, not fork: the command has gpumem run's pid
  "$gpumem" run sh -c 'echo $$' > "$tmp/pid" & p=$!; wait $p
  [ "$(cat "$tmp/pid")" = "$p" ] || fail "command pid $(cat "$tmp/pid"), gpumem run's $p"
  echo ok
  ;;
preload)
  "$gpumem" run env > "$tmp/env" 2>/dev/null || fail "env exited $?"
  grep -qx "LD_PRELOAD=$lib" "$tmp/env" || fail "LD_PRELOAD: $(grep LD_PRELOAD "$tmp/env"), expected $lib"
  # prepended to what was there (blank or colon separated), another libgpumem dropped
  LD_PRELOAD="/nonexistent/libother.so /old/libgpumem.so.0:/nonexistent/libthird.so" "$gpumem" run env > "$tmp/env" 2>/dev/null
  grep -qx "LD_PRELOAD=$lib:/nonexistent/libother.so:/nonexistent/libthird.so" "$tmp/env" ||
    fail "LD_PRELOAD: $(grep LD_PRELOAD "$tmp/env")"
  LD_PRELOAD="$lib" "$gpumem" run env > "$tmp/env" 2>/dev/null
  grep -qx "LD_PRELOAD=$lib" "$tmp/env" || fail "duplicated: $(grep LD_PRELOAD "$tmp/env")"
  # every flag becomes its variable, and every variable is a row of shim/options.c
  "$gpumem" run --alarm 95 --warn 70 --log off --postmortem-dir /var/tmp --keep --backtrace --prefix abc_1 env \
    > "$tmp/env" 2>/dev/null || fail "flags: exit $?"
  for kv in GPUMEM_ALARM_PERCENT=95 GPUMEM_WARN_PERCENT=70 GPUMEM_LOG=off GPUMEM_POSTMORTEM_DIR=/var/tmp \
            GPUMEM_KEEP=1 GPUMEM_BACKTRACE=1 GPUMEM_SHM_PREFIX=abc_1; do
    grep -qx "$kv" "$tmp/env" || fail "$kv not set"
    grep -q "\"${kv%%=*}\"" "$source/shim/options.c" || fail "${kv%%=*} is not an option of shim/options.c"
  done
  for v in $("$gpumem" run --help | grep -o 'GPUMEM_[A-Z_]*' | sort -u); do
    grep -q "\"$v\"" "$source/shim/options.c" || fail "--help names $v, not an option of shim/options.c"
  done
  echo ok
  ;;
errors)
  "$gpumem" run gpumem-no-such-command-$$ 2> "$tmp/err"; rc=$?
  [ $rc = 127 ] && grep -q "command not found" "$tmp/err" || fail "missing command: $rc $(cat "$tmp/err")"
  printf 'x' > "$tmp/notexec"
  "$gpumem" run "$tmp/notexec" 2> "$tmp/err"; rc=$?
  [ $rc = 126 ] || fail "not executable: $rc $(cat "$tmp/err")"
  "$gpumem" run 2> /dev/null; [ $? = 2 ] || fail "no command: not 2"
  "$gpumem" run --alarm 101 true 2> /dev/null; [ $? = 2 ] || fail "--alarm 101 accepted"
  "$gpumem" run --prefix 'a/b' true 2> /dev/null; [ $? = 2 ] || fail "--prefix a/b accepted"
  "$gpumem" run --postmortem-dir rel true 2> /dev/null; [ $? = 2 ] || fail "relative --postmortem-dir accepted"
  "$gpumem" run --bogus true 2> /dev/null; [ $? = 2 ] || fail "--bogus accepted"
  # a gpumem without its library: 125, saying where it looked
  mkdir "$tmp/bin" && cp "$gpumem" "$tmp/bin/gpumem"
  "$tmp/bin/gpumem" run true 2> "$tmp/err"; rc=$?
  [ $rc = 125 ] && grep -q "libgpumem.so not found (looked in $tmp/bin/" "$tmp/err" || fail "no library: $rc $(cat "$tmp/err")"
  GPUMEM_LIBRARY=$tmp/none.so "$gpumem" run true 2> "$tmp/err"; rc=$?
  [ $rc = 125 ] && grep -q "GPUMEM_LIBRARY" "$tmp/err" || fail "GPUMEM_LIBRARY missing: $rc"
  cp "$lib" "$tmp/libgpumem.so"
  GPUMEM_LIBRARY=$tmp/libgpumem.so "$tmp/bin/gpumem" run env > "$tmp/env" || fail "GPUMEM_LIBRARY: exit $?"
  grep -qx "LD_PRELOAD=$tmp/libgpumem.so" "$tmp/env" || fail "GPUMEM_LIBRARY not used"
  echo ok
  ;;
counted)
  # a CUDA program on the stand-in, started by gpumem run, is counted and read
  mkfifo "$tmp/in"
  "$gpumem" run --prefix "$prefix" --alarm 95 "$hold" 0:300 1:5 < "$tmp/in" > "$tmp/out" & pid=$!
  exec 9> "$tmp/in"
  for _ in $(seq 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.05; done
  grep -q ready "$tmp/out" || fail "hold did not start"
  "$gpumem" ls > "$tmp/ls" || fail "ls exited $?"
  grep -q "^$pid  *running .*cuda:0 0.3GB / 16.0GB 1%, cuda:1 0.0GB / 16.0GB 0%" "$tmp/ls" || fail "ls: $(cat "$tmp/ls")"
  tr '\0' '\n' < /proc/$pid/environ | grep -qx "GPUMEM_ALARM_PERCENT=95" || fail "--alarm not in the environment"
  exec 9>&-; wait $pid; rc=$?; pid=
  [ $rc = 0 ] || fail "hold exited $rc"
  echo ok
  ;;
paths)
  # flags after CMD are CMD's
  "$gpumem" run sh -c 'echo "$*" "${GPUMEM_KEEP:-unset}"' x --keep --alarm 5 > "$tmp/out" 2>&1 || fail "exit $?"
  [ "$(cat "$tmp/out")" = "--keep --alarm 5 unset" ] || fail "flags after CMD: $(cat "$tmp/out")"
  # a relative GPUMEM_LIBRARY is made absolute: the command may change directory
  mkdir "$tmp/sub" && cp "$lib" "$tmp/libgpumem.so"
  (cd "$tmp/sub" && GPUMEM_LIBRARY=../libgpumem.so "$gpumem" run env) > "$tmp/env" 2>&1 || fail "relative: exit $?"
  grep -qx "LD_PRELOAD=$(cd "$tmp" && pwd -P)/libgpumem.so" "$tmp/env" || fail "relative: $(grep LD_PRELOAD "$tmp/env")"
  # a script whose interpreter is missing is there but cannot run: 126 (as bash), not "not found"
  printf '#!/nonexistent/interpreter\n' > "$tmp/script" && chmod +x "$tmp/script"
  "$gpumem" run "$tmp/script" 2> "$tmp/err"; rc=$?
  [ $rc = 126 ] && grep -q "interpreter" "$tmp/err" || fail "bad interpreter: $rc $(cat "$tmp/err")"
  # a directory is not a library: 125, not a command run without the shim
  GPUMEM_LIBRARY=$tmp "$gpumem" run true 2> "$tmp/err"; rc=$?
  [ $rc = 125 ] && grep -q "libgpumem.so not found" "$tmp/err" || fail "GPUMEM_LIBRARY=dir: $rc $(cat "$tmp/err")"
  # LD_PRELOAD cannot quote: a library path with a blank or ':' is refused (125), not split
  mkdir "$tmp/my dir" "$tmp/a:b" && cp "$lib" "$tmp/my dir/libgpumem.so" && cp "$lib" "$tmp/a:b/libgpumem.so"
  for d in "$tmp/my dir" "$tmp/a:b"; do
    GPUMEM_LIBRARY="$d/libgpumem.so" "$gpumem" run true 2> "$tmp/err"; rc=$?
    [ $rc = 125 ] && grep -q "LD_PRELOAD splits" "$tmp/err" || fail "'$d': $rc $(cat "$tmp/err")"
  done
  cp "$gpumem" "$tmp/my dir/gpumem"
  "$tmp/my dir/gpumem" run true 2> "$tmp/err"; rc=$?
  [ $rc = 125 ] && grep -q "LD_PRELOAD splits" "$tmp/err" || fail "gpumem in '$tmp/my dir': $rc $(cat "$tmp/err")"
  # only libgpumem.so[.N...] is another shim; a library whose name merely starts so is kept
  LD_PRELOAD="/x/libgpumem.solver.so /x/libgpumem.so.0.1" "$gpumem" run env > "$tmp/env" 2>/dev/null
  grep -qx "LD_PRELOAD=$lib:/x/libgpumem.solver.so" "$tmp/env" || fail "substring: $(grep LD_PRELOAD "$tmp/env")"
  echo ok
  ;;
*) fail "unknown test $name" ;;
esac
