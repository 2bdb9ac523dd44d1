"""GPUMEM_SIGNAL from Python: signal.signal(SIGUSR1, handler), then allocations
on the stand-in driver (1000 MiB devices) that cross the levels.

  signal_test.py handler   GPUMEM_SIGNAL=SIGUSR1: the handler runs once per
                           entry into critical, after the call returned
  signal_test.py warning   GPUMEM_SIGNAL_LEVEL=warning too: entries into warning
                           count as well (critical -> warning does not)
  signal_test.py none      no handler installed: the process survives, the
                           shim says so once on stderr (checked by the caller)
Prints one line per check, exits 1 if any failed."""
import ctypes
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import MiB, Driver  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from gpumem._abi import DeviceStats  # noqa: E402

mode = sys.argv[1]
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed |= not ok


seen = []  # reserved MiB when each signal was handled
lib = ctypes.CDLL(None)


def handler(signum, frame):
    s = DeviceStats()
    lib.gpumem_device_stats(0, ctypes.byref(s))
    seen.append(s.reserved_bytes // MiB)


if mode != "none":
    signal.signal(signal.SIGUSR1, handler)
drv = Driver()
# 1000 MiB: warning from 800, critical above 900, critical left below 880,
# warning left below 780.
steps = [("alloc", 500), ("alloc", 350), ("alloc", 60), ("alloc", 10), ("free", 60), ("alloc", 60),
         ("free", 60), ("free", 350), ("alloc", 350), ("alloc", 60)]
live = {}
for i, (op, mib) in enumerate(steps):
    if op == "alloc":
        ctypes.set_errno(1234)
        p = drv.alloc(mib * MiB)
        check(ctypes.get_errno() == 1234, "step %d: errno kept (%d)" % (i, ctypes.get_errno()))
        live.setdefault(mib, []).append(p)
    else:
        drv.free(live[mib].pop())
print("signals handled at reserved MiB:", seen)
if mode == "handler":
    check(seen == [910, 920, 920], "one signal per entry into critical, after the allocation was counted")
elif mode == "warning":
    check(seen == [850, 910, 920, 860, 920], "entries into warning and into critical, not critical -> warning")
else:
    check(seen == [], "no handler, no signal, and the process lives on")
sys.exit(1 if failed else 0)
