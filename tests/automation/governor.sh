#!/bin/sh
# governor.sh PYTHON EXAMPLE: examples/governor.py on the stand-in (1000 MiB)
# under the shim: with GPUMEM_SIGNAL=SIGUSR1 it shrinks its batch at each
# entry into critical and runs all its steps; without, the same loop runs out
# of memory.
set -u
export GPUMEM_SHM_PREFIX=t16gov$$ GPUMEM_FAKE_MEMORY_MIB=1000 GPUMEM_LOG=off
fail=0
out=$(GPUMEM_SIGNAL=SIGUSR1 "$1" "$2")
rc=$?
echo "$out"
[ $rc = 0 ] && echo "$out" | grep -q "critical at step 17: batch 24 -> 12" &&
    echo "$out" | grep -q "30 steps, no out-of-memory error" && echo "ok   with GPUMEM_SIGNAL: the batch shrank, no OOM" ||
    { echo "FAIL with GPUMEM_SIGNAL (exit $rc)"; fail=1; }
out=$("$1" "$2")
rc=$?
echo "$out"
[ $rc = 1 ] && echo "$out" | grep -q "out of memory at step" && echo "ok   without: out of memory" ||
    { echo "FAIL without GPUMEM_SIGNAL (exit $rc)"; fail=1; }
exit $fail
