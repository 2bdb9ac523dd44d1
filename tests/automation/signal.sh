#!/bin/sh
# signal.sh PYTHON: GPUMEM_SIGNAL driven from Python (signal_test.py) on the
# stand-in driver under the shim (LD_PRELOAD and LD_LIBRARY_PATH from ctest).
set -u
py=$1
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
export GPUMEM_SHM_PREFIX=t16sig$$ GPUMEM_FAKE_MEMORY_MIB=1000
run() { # mode, env...
    mode=$1
    shift
    env "$@" "$py" "$here/signal_test.py" "$mode" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    cat "$tmp/out"
    [ $rc = 0 ] || { echo "FAIL $mode: exit $rc"; cat "$tmp/err"; fail=1; }
}
run handler GPUMEM_SIGNAL=SIGUSR1
run handler GPUMEM_SIGNAL=USR1
run handler GPUMEM_SIGNAL=10
run warning GPUMEM_SIGNAL=SIGUSR1 GPUMEM_SIGNAL_LEVEL=warning
run none GPUMEM_SIGNAL=SIGUSR1
n=$(grep -c "not raised for cuda:0: the program has no handler installed" "$tmp/err")
[ "$n" = 1 ] && echo "ok   no handler: one log line" || { echo "FAIL no handler: $n log lines"; fail=1; }
# Not set: no signal even with a handler (the default mode's expectations fail
# only if a signal arrives: run "none", whose handler is not installed, and
# the handler mode with GPUMEM_SIGNAL unset must see nothing).
run none
grep -q "not raised" "$tmp/err" && { echo "FAIL unset: a signal line"; fail=1; }
# Invalid values: one warning each, the signal stays off.
for v in SIGKILL 9 SIGSTOP SIGNOPE SIGSEGV SEGV 11 SIGBUS SIGFPE SIGILL SIGABRT SIGTRAP SIGSYS 0x10 -1 999; do
    run none GPUMEM_SIGNAL=$v
    grep -q "GPUMEM_SIGNAL=$v is not valid" "$tmp/err" && echo "ok   GPUMEM_SIGNAL=$v refused" ||
        { echo "FAIL GPUMEM_SIGNAL=$v: no warning"; cat "$tmp/err"; fail=1; }
done
run none GPUMEM_SIGNAL=SIGUSR1 GPUMEM_SIGNAL_LEVEL=loud
grep -q "GPUMEM_SIGNAL_LEVEL=loud is not valid" "$tmp/err" && echo "ok   GPUMEM_SIGNAL_LEVEL=loud refused" ||
    { echo "FAIL GPUMEM_SIGNAL_LEVEL=loud: no warning"; fail=1; }
rm -f /dev/shm/t16sig$$.* 2>/dev/null
exit $fail
