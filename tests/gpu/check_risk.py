"""The "next allocation at risk" flag rises before PyTorch's out-of-memory error,
and gpumem watch sees the critical crossing (issue 16).

Usage: python3 check_risk.py [GPUMEM_BINARY]   (under LD_PRELOAD=libgpumem.so)
A loop keeps 2 GiB tensors, one more every 120 ms (slower than the shim's
100 ms sampling), until the allocator raises OutOfMemoryError; after each
step it reads cuda:0's slot of the shim's own segment (include/gpumem_shm.h:
device slot at 1024 + 512 * N; free_bytes at +312, largest_recent_request at
+328, risk at +344: 1 ok, 2 at risk). With a gpumem binary, `gpumem watch
--json --level critical` runs alongside. Prints 'ROW check | expected |
measured | ok/FAIL' lines; about 10 s on an 80 GiB GPU.
"""
import json
import mmap
import os
import struct
import subprocess
import sys
import time

import torch

GiB = 1 << 30
prefix = os.environ.get("GPUMEM_SHM_PREFIX", "gpumem")
gpumem = sys.argv[1] if len(sys.argv) > 1 and os.access(sys.argv[1], os.X_OK) else None
ok_all = True


def row(check, expected, measured, ok):
    global ok_all
    ok_all &= bool(ok)
    print("ROW %s | %s | %s | %s" % (check, expected, measured, "ok" if ok else "FAIL"), flush=True)


watch = None
if gpumem:
    watch = subprocess.Popen([gpumem, "watch", "--json", "--level", "critical", "--interval", "0.1"],
                             stdout=subprocess.PIPE)
    time.sleep(0.3)
torch.empty(1, device="cuda")  # the context, and the shim's segment
path = "/dev/shm/%s.%d" % (prefix, os.getpid())
seg = None
if os.path.exists(path):
    with open(path, "rb") as f:
        seg = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)


def headroom():
    if seg is None:
        return (0, 0, 0)
    return struct.unpack_from("<QQ", seg, 1024 + 312) + struct.unpack_from("<I", seg, 1024 + 344)


held, steps, oom_step = [], [], None
for step in range(1, 400):
    time.sleep(0.12)
    try:
        held.append(torch.empty(2 * GiB, dtype=torch.uint8, device="cuda"))
    except torch.OutOfMemoryError:
        oom_step = step
        break
    free, largest, risk = headroom()
    steps.append((step, free, largest, risk))
first_risk = next((s for s, _, _, r in steps if r == 2), None)
row("risk flag before torch's OOM", "at risk before the OOM step", "at risk from step %s, OOM at step %s" %
    (first_risk, oom_step), seg is not None and oom_step and first_risk and first_risk < oom_step)
false = [s for s, free, largest, r in steps if r == 2 and free >= largest]
row("no false alarm", "never at risk while free >= 2 GiB", "%d false" % len(false), not false and steps)
if steps:
    s, free, largest, r = steps[-1]
    print("last step %d: driver free %.2f GiB, largest recent request %.2f GiB, risk %d" %
          (s, free / GiB, largest / GiB, r))
del held
if watch:
    time.sleep(0.5)
    watch.terminate()
    out = watch.communicate(timeout=10)[0].decode().splitlines()
    crit = [json.loads(x) for x in out if x.strip()]
    mine = [e for e in crit if e.get("pid") == os.getpid() and e.get("event") == "level" and e["level"] == "critical"]
    row("gpumem watch sees the critical crossing", "a critical level event", "%d" % len(mine), len(mine) >= 1)
else:
    print("ROW gpumem watch sees the critical crossing | a critical level event | skipped: no gpumem binary | info")
sys.exit(0 if ok_all else 1)
