"""Headroom: does the "next allocation at risk" flag rise before the OOM, and
never on a steady job? headroom_test.py GPUMEM HEADROOM SHIM (tests/automation/headroom.c
on the stand-in, 1000 MiB devices, under the shim). One line per check."""
import json
import os
import re
import subprocess
import sys
import time

GPUMEM, PROG, SHIM = sys.argv[1:4]
PREFIX = "t16h%d" % os.getpid()
ENV = dict(os.environ, GPUMEM_SHM_PREFIX=PREFIX, GPUMEM_FAKE_MEMORY_MIB="1000", GPUMEM_LOG="off",
           GPUMEM_POSTMORTEM_DIR="/tmp", LD_PRELOAD=SHIM)
RUN = dict(ENV)
del RUN["LD_PRELOAD"]
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed |= not ok


def steps(mode, **env):
    r = subprocess.run([PROG, mode], env=dict(ENV, **env), stdout=subprocess.PIPE, timeout=60)
    out = r.stdout.decode()
    print(out, end="")
    rows = [dict(zip(("step", "mib", "result", "free", "largest", "risk", "samples"),
                     re.match(r"step (\d+) request (\d+) (\w+) free (\d+) largest (\d+) risk (\w+) samples (\d+)",
                              line).groups()))
            for line in out.splitlines() if line.startswith("step ")]
    return r, rows, out


def first(rows, pred):
    return next((int(r["step"]) for r in rows if pred(r)), None)


for mode, env, why in (("grow", {}, "steps back to back: sampled at the level changes"),
                       ("paced", {"GPUMEM_WARN_PERCENT": "99", "GPUMEM_ALARM_PERCENT": "100"},
                        "a step every 110 ms, no level change: sampled by time")):
    r, rows, _ = steps(mode, **env)
    risk, oom = first(rows, lambda x: x["risk"] == "at_risk"), first(rows, lambda x: x["result"] == "oom")
    check(r.returncode == 0 and oom is not None and risk is not None and risk < oom,
          "%s: at risk from step %s, out of memory at step %s (%s)" % (mode, risk, oom, why))
    check(all(x["risk"] == "ok" for x in rows if int(x["step"]) < risk) and
          all(x["risk"] == "at_risk" for x in rows if int(x["step"]) >= risk),
          "%s: not at risk before, at risk from then on" % mode)
    at = rows[risk - 1]
    check(int(at["free"]) == 20 and int(at["largest"]) == 120,
          "%s: the stand-in's free memory is total minus allocated (20 MiB), the largest recent request 120 MiB" % mode)

r, rows, out = steps("steady")
ms = int(re.search(r"elapsed_ms (\d+)", out).group(1))
samples = int(rows[-1]["samples"])
check(r.returncode == 0 and all(x["risk"] == "ok" for x in rows), "steady job: 3000 pairs, never at risk")
check(samples <= ms // 100 + 3, "steady job: %d samples of cuMemGetInfo in %d ms for 6000 calls (at most one "
      "per 100 ms)" % (samples, ms))

r, rows, out = steps("ramp")
ms = int(re.search(r"elapsed_ms (\d+)", out).group(1))
samples = int(rows[-1]["samples"])
check(r.returncode == 0 and samples <= ms // 10 + 3,
      "2000 requests each larger than any before: %d samples of cuMemGetInfo in %d ms (a larger request samples at "
      "most every 10 ms)" % (samples, ms))

r, rows, _ = steps("other")
check(r.returncode == 0 and rows[0]["risk"] == "unknown" and rows[0]["free"] == "0" and rows[1]["risk"] == "ok",
      "cuda:1 allocated while cuda:0 is current: never sampled (unknown), cuda:0 is")

# The reader: show --json, ls, and a watch's risk event before the OOM's.
w = subprocess.Popen([GPUMEM, "watch", "--json", "--interval", "0.05"], env=RUN, stdout=subprocess.PIPE)
time.sleep(0.3)
p = subprocess.run([PROG, "paced"], env=dict(ENV, GPUMEM_KEEP="1", GPUMEM_WARN_PERCENT="99",
                                             GPUMEM_ALARM_PERCENT="100"), stdout=subprocess.PIPE, timeout=60)
pid = None
time.sleep(0.5)
w.terminate()
evs = [json.loads(x) for x in w.communicate(timeout=10)[0].decode().splitlines()]
kinds = [e["event"] for e in evs if e["event"] in ("risk", "oom")]
risk_ev = [e for e in evs if e["event"] == "risk"]
check(kinds == ["risk", "oom"] and risk_ev[0]["at_risk"] is True and risk_ev[0]["device"] == "cuda:0" and
      risk_ev[0]["free_bytes"] == 20 << 20 and risk_ev[0]["largest_recent_request"] == 120 << 20,
      "watch: the risk event (free 20 MiB < largest recent request 120 MiB) came before the OOM: %s" % kinds)
pid = evs[0]["pid"] if evs else 0
show = json.loads(subprocess.run([GPUMEM, "show", "--json", str(pid)], env=RUN, stdout=subprocess.PIPE).stdout)
d = show["processes"][0]["devices"][0]
check(d["at_risk"] is True and d["risk"] == "at_risk" and d["free_bytes"] == 20 << 20 and
      d["largest_recent_request"] == 120 << 20 and d["headroom_bytes"] == 0 and d["free_sampled_unix_ns"] > 0,
      "show --json: free_bytes, largest_recent_request, headroom_bytes, risk, at_risk")
ls = subprocess.run([GPUMEM, "ls"], env=RUN, stdout=subprocess.PIPE).stdout.decode()
check(re.search(r"cuda:0 [0-9.]+GB / [0-9.]+GB \d+% RISK", ls) is not None, "ls: RISK after the device")
# The exporter (issue 14) shows the same figures for a live process at risk.
h = subprocess.Popen([PROG, "grow"], env=dict(ENV, HEADROOM_HOLD="1"), stdout=subprocess.PIPE)
for line in h.stdout:
    if line.startswith(b"holding"):
        break
exp = subprocess.run([GPUMEM, "export"], env=RUN, stdout=subprocess.PIPE).stdout.decode()
h.kill()
h.wait()
lab = r'\{pid="%d",command="headroom",device="cuda:0",uuid="[^"]+"\} ' % h.pid
check(re.search("gpumem_process_next_allocation_at_risk" + lab + "1\n", exp) is not None and
      re.search("gpumem_process_largest_recent_request_bytes" + lab + str(120 << 20) + "\n", exp) is not None and
      re.search("gpumem_process_headroom_bytes" + lab + "0\n", exp) is not None,
      "export: gpumem_process_next_allocation_at_risk 1, largest recent request 120 MiB, headroom 0")
for n in os.listdir("/dev/shm"):
    if n.startswith(PREFIX + "."):
        os.unlink(os.path.join("/dev/shm", n))
sys.exit(1 if failed else 0)
