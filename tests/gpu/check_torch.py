"""PyTorch under the shim: reserved bytes equal torch's own figure after each step.

Usage: python3 check_torch.py MODE   (MODE: default, expandable, async, alarm_oom, overhead)
       python3 check_torch.py serve URL   (scrapes gpumem serve at URL while holding memory)
Prints one line per check: 'ROW <check> | <expected> | <measured> | ok/FAIL'.
"""
import os
import sys
import time

import torch

import gpumem_ctypes as gm

MODE = sys.argv[1]
ok_all = True


def row(check, expected, measured, ok=None):
    global ok_all
    if ok is None:
        ok = expected == measured
    ok_all &= bool(ok)
    print("ROW %s | %s | %s | %s" % (check, expected, measured, "ok" if ok else "FAIL"), flush=True)


def shim_reserved():
    s = gm.stats(0)
    return (s.reserved_bytes, s.peak_bytes) if s else (0, 0)


if not gm.loaded() and MODE != "overhead":
    print("SKIP libgpumem.so is not preloaded")
    sys.exit(0)

dev = torch.device("cuda:0")
torch.cuda.init()

if MODE in ("default", "expandable", "async"):
    keep = []
    for step, mib in enumerate([1, 3, 20, 100, 2, 700, 64]):
        keep.append(torch.empty(mib << 20, dtype=torch.uint8, device=dev))
        if step == 4:
            del keep[1]
        # Checked right after a synchronisation: a stream-ordered pool gives
        # memory back there, and the shim re-reads it there.
        torch.cuda.synchronize()
        r, p = shim_reserved()
        row("%s step %d reserved" % (MODE, step + 1), torch.cuda.memory_reserved(0), r)
    del keep[-2:]
    torch.cuda.synchronize()
    r, p = shim_reserved()
    row("%s after freeing 764 MiB + synchronize reserved" % MODE, torch.cuda.memory_reserved(0), r)
    keep.clear()
    torch.cuda.empty_cache()
    torch.cuda.synchronize()
    r, p = shim_reserved()
    row("%s after empty_cache reserved" % MODE, torch.cuda.memory_reserved(0), r)
    row("%s peak" % MODE, torch.cuda.max_memory_reserved(0), p)

elif MODE == "alarm_oom":
    seen = []
    keepalive = gm.on_alarm(lambda a: seen.append((a.device_id, a.level, a.previous_level)))
    total = torch.cuda.get_device_properties(0).total_memory
    big = torch.empty(int(total * 0.91), dtype=torch.uint8, device=dev)
    row("alarm callback on crossing 90%", "level 2 on cuda:0", seen, any(d == 0 and lv == 2 for d, lv, _ in seen))
    del big
    torch.cuda.empty_cache()
    before = gm.stats(0).failed_count
    raised = False
    try:
        torch.empty(total * 2, dtype=torch.uint8, device=dev)
    except torch.cuda.OutOfMemoryError as e:
        raised = "CUDA out of memory" in str(e)
    row("PyTorch still raises its OOM error", True, raised)
    row("shim counted the failed reservation", ">= 1", gm.stats(0).failed_count - before,
        gm.stats(0).failed_count - before >= 1)

elif MODE == "serve":
    # gpumem serve's figure for this pid on cuda:0 against torch's own, at
    # two moments (the exposition is read fresh at each scrape).
    import re
    import urllib.request

    def exported():
        body = urllib.request.urlopen(sys.argv[2], timeout=30).read().decode()
        m = re.search(r'^gpumem_process_reserved_bytes\{pid="%d",[^}]*device="cuda:0"[^}]*\} (\d+)$' % os.getpid(),
                      body, re.M)
        return int(m.group(1)) if m else None
    keep = [torch.empty(300 << 20, dtype=torch.uint8, device=dev)]
    torch.cuda.synchronize()
    row("serve: reserved_bytes after 300 MiB", torch.cuda.memory_reserved(0), exported())
    keep.append(torch.empty(1 << 30, dtype=torch.uint8, device=dev))
    torch.cuda.synchronize()
    row("serve: reserved_bytes after +1 GiB", torch.cuda.memory_reserved(0), exported())

elif MODE == "overhead":
    model = torch.nn.Sequential(torch.nn.Linear(1024, 4096), torch.nn.ReLU(), torch.nn.Linear(4096, 1024)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(256, 1024, device=dev)
    for _ in range(20):
        opt.zero_grad(); model(x).sum().backward(); opt.step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(300):
        opt.zero_grad(); model(x).sum().backward(); opt.step()
    torch.cuda.synchronize()
    print("STEP_US %.2f" % ((time.perf_counter() - t0) / 300 * 1e6), flush=True)

sys.exit(0 if ok_all else 1)
