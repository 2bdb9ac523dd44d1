"""gpumem watch against real processes under the shim on the stand-in driver.

watch_test.py GPUMEM BURST SHIM CASE
  burst    50 level changes within milliseconds, watch polling once a second:
           each reported exactly once, in order; then the exit
  lost     81 changes between two polls: the 64 the ring holds, and "lost 17"
  restart  a watch stopped (SIGTERM) and started again with its cursor: every
           event once across both, including what happened while none ran
  since    --once --since: what happened after a time, nothing before
  ends     appeared, exited (normal exit, and GPUMEM_KEEP=1), died (SIGKILL),
           an OOM with its report path; --level critical filters
  exec     --exec: the facts in GPUMEM_* variables; hostile text in a command
           name reaches the hook only as a value; a failing hook and one that
           hangs (killed at --exec-timeout) are logged and watching goes on (the
           850 MiB first request does not fit in what is left: a risk event too)
Prints one line per check; exits 1 if any failed."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

GPUMEM, BURST, SHIM, CASE = sys.argv[1:5]
PREFIX = "t16w%d" % os.getpid()
tmp = tempfile.mkdtemp(prefix="gpumem-watch-")
failed = 0
ENV = dict(os.environ, GPUMEM_SHM_PREFIX=PREFIX, GPUMEM_FAKE_MEMORY_MIB="1000", GPUMEM_LOG="off",
           GPUMEM_POSTMORTEM_DIR=tmp)
ENV.pop("LD_PRELOAD", None)


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    sys.stdout.flush()
    failed |= not ok


def watch(*args, out="watch.out", err="watch.err"):
    o = open(os.path.join(tmp, out), "w")
    e = open(os.path.join(tmp, err), "w")
    return subprocess.Popen([GPUMEM, "watch", "--json"] + list(args), env=ENV, stdout=o, stderr=e)


def events(out="watch.out"):
    with open(os.path.join(tmp, out)) as f:
        return [json.loads(line) for line in f if line.strip()]


def burst(crossings, end, argv0=None, **env):
    e = dict(ENV, LD_PRELOAD=SHIM, **env)
    p = subprocess.Popen([argv0 or BURST, str(crossings), end], executable=BURST, env=e, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    line = p.stdout.readline()
    assert line == b"done\n", line
    if end == "oom":
        assert p.stdout.readline() == b"oom\n"
    return p


def finish(p):
    p.stdin.close()
    p.wait(timeout=10)


def wait_for(pred, out="watch.out", timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred(events(out)):
                return True
        except ValueError:
            pass  # a line being written
        time.sleep(0.05)
    return False


def stop(w):
    w.send_signal(signal.SIGTERM)
    w.wait(timeout=10)


def levels(evs, pid):
    return [(e["previous_level"], e["level"]) for e in evs if e["event"] == "level" and e["pid"] == pid]


def expected(crossings):
    return [("healthy", "warning")] + [("warning", "critical"), ("critical", "warning")] * crossings


def run_burst():
    w = watch("--interval", "1")
    time.sleep(0.3)
    t0 = time.time()
    p = burst(25, "wait")
    burst_s = time.time() - t0
    ok = wait_for(lambda ev: len(levels(ev, p.pid)) >= 51)
    finish(p)
    wait_for(lambda ev: any(e["event"] == "exited" for e in ev))
    time.sleep(1.2)
    stop(w)
    ev = events()
    check(ok and levels(ev, p.pid) == expected(25),
          "51 level changes made in %.0f ms, watch polling once a second: each once, in order (%d seen)" %
          (burst_s * 1000, len(levels(ev, p.pid))))
    kinds = [e["event"] for e in ev if e["pid"] == p.pid]
    check(kinds[0] == "appeared" and kinds[-1] == "exited" and kinds.count("appeared") == 1 and
          kinds.count("exited") == 1, "appeared first, exited last, once each")
    lv = [e for e in ev if e["event"] == "level"][1]
    check(lv["device"] == "cuda:0" and lv["uuid"].startswith("GPU-") and lv["total_bytes"] == 1000 << 20 and
          lv["reserved_bytes"] == 910 << 20 and lv["percent"] == 91.0 and lv["command"].endswith("25 wait"),
          "a level change carries device, uuid, reserved, total, percent and command")


def run_lost():
    w = watch("--interval", "1")
    time.sleep(0.3)
    p = burst(40, "wait")
    wait_for(lambda ev: any(e["event"] == "level" for e in ev))
    finish(p)
    wait_for(lambda ev: any(e["event"] == "exited" for e in ev))
    stop(w)
    ev = [e for e in events() if e["pid"] == p.pid]
    lost = [e["lost"] for e in ev if e["event"] == "lost"]
    lv = levels(ev, p.pid)
    check(lost == [17] and lv == expected(40)[17:], "81 changes between polls: lost 17 said once, then the 64 kept")
    check([e["event"] for e in ev].index("lost") < [e["event"] for e in ev].index("level"),
          "the loss is reported where it happened, before the changes kept")


def run_restart():
    cursor = os.path.join(tmp, "cursor")
    w = watch("--interval", "0.2", "--cursor-file", cursor, out="w1.out")
    time.sleep(0.3)
    a = burst(10, "wait")
    check(wait_for(lambda ev: len(levels(ev, a.pid)) == 21, out="w1.out"), "first watch: 21 changes of A")
    stop(w)
    # While no watch runs: A changes level again and exits, B appears.
    b = burst(5, "wait")
    finish(a)
    time.sleep(0.3)
    w = watch("--interval", "0.2", "--cursor-file", cursor, out="w2.out")
    ok = wait_for(lambda ev: len(levels(ev, b.pid)) == 11 and any(e["event"] == "exited" for e in ev), out="w2.out")
    stop(w)
    # And once more, with nothing new: nothing at all.
    w = watch("--interval", "0.2", "--cursor-file", cursor, out="w3.out")
    time.sleep(0.8)
    finish(b)
    wait_for(lambda ev: any(e["event"] == "exited" for e in ev), out="w3.out")
    stop(w)
    e1, e2, e3 = events("w1.out"), events("w2.out"), events("w3.out")
    check(ok and levels(e2, a.pid) == [] and levels(e2, b.pid) == expected(5),
          "second watch: none of A's changes again, all of B's")
    k2 = [(e["event"], e["pid"]) for e in e2 if e["event"] != "level"]
    check(k2.count(("exited", a.pid)) == 1 and k2.count(("appeared", b.pid)) == 1 and
          ("appeared", a.pid) not in k2, "A's exit while no watch ran reported once; B appeared once")
    k3 = [(e["event"], e["pid"]) for e in e3]
    check(k3 == [("exited", b.pid)], "third watch: only B's exit (%s)" % k3)
    with open(cursor) as f:
        check(f.readline() == "gpumem-watch-cursor 1\n", "the cursor file is whole")
    check(not [n for n in os.listdir(tmp) if ".tmp." in n], "no temporary cursor left behind")
    all_levels = levels(e1 + e2 + e3, a.pid)
    check(all_levels == expected(10), "A's changes exactly once across three watches")


def run_since():
    p = burst(3, "wait")
    time.sleep(1.1)
    cut = time.time()
    q = burst(2, "wait")
    r = subprocess.run([GPUMEM, "watch", "--json", "--once", "--since", "%.3f" % cut], env=ENV,
                       stdout=subprocess.PIPE, timeout=20)
    ev = [json.loads(x) for x in r.stdout.decode().splitlines()]
    check(levels(ev, p.pid) == [] and levels(ev, q.pid) == expected(2) and
          ("appeared", q.pid) in [(e["event"], e["pid"]) for e in ev],
          "--since: the later process's appearance and changes, none of the earlier one's")
    r = subprocess.run([GPUMEM, "watch", "--json", "--once"], env=ENV, stdout=subprocess.PIPE, timeout=20)
    check(r.stdout == b"", "--once without --since: nothing happened since it started")
    finish(p)
    finish(q)


def run_ends():
    w = watch("--interval", "0.2")
    wc = watch("--interval", "0.2", "--level", "critical", out="crit.out", err="crit.err")
    time.sleep(0.3)
    a = burst(1, "wait")
    b = burst(1, "kill")
    c = burst(1, "wait", GPUMEM_KEEP="1")
    d = burst(1, "oom")
    time.sleep(0.6)
    for p in (a, b, c, d):
        finish(p)
    ok = wait_for(lambda ev: sum(e["event"] in ("exited", "died") for e in ev) == 4)
    stop(w)
    stop(wc)
    ev = events()
    ends = {e["pid"]: e["event"] for e in ev if e["event"] in ("exited", "died")}
    check(ok and ends == {a.pid: "exited", b.pid: "died", c.pid: "exited", d.pid: "exited"},
          "exited (segment removed), died (SIGKILL), exited (GPUMEM_KEEP=1): %s" % ends)
    ooms = [e for e in ev if e["event"] == "oom"]
    check(len(ooms) == 1 and ooms[0]["pid"] == d.pid and ooms[0]["requested_bytes"] == 4000 << 20 and
          ooms[0]["report"].startswith(tmp) and os.path.exists(ooms[0]["report"]),
          "the OOM, with its request and the report's path")
    crit = events("crit.out")
    check(sorted((e["event"], e["pid"]) for e in crit) ==
          sorted([("level", p.pid) for p in (a, b, c, d)] + [("oom", d.pid)]) and
          all(e["level"] == "critical" for e in crit if e["event"] == "level"),
          "--level critical: the entries into critical and the OOM, nothing else")


HOOK = r"""#!/bin/sh
n=$(ls "$OUT" | wc -l)
env | grep '^GPUMEM_' | LC_ALL=C sort > "$OUT/$n.$GPUMEM_EVENT"
printf '%s' "$GPUMEM_COMMAND" > "$OUT/$n.command"
case "$MODE" in
fail) exit 3 ;;
hang) [ "$GPUMEM_EVENT" = level ] && exec sleep 60 ;;
esac
exit 0
"""


def run_exec():
    hook = os.path.join(tmp, "hook.sh")
    with open(hook, "w") as f:
        f.write(HOOK)
    os.chmod(hook, 0o755)
    pwned = os.path.join(tmp, "pwned")
    hostile = "evil $(touch %s); touch %s `touch %s` \"'\\ \n%%s" % (pwned, pwned, pwned)
    for mode in ("ok", "fail", "hang"):
        out = os.path.join(tmp, "hook-" + mode)
        os.mkdir(out)
        ENV["OUT"], ENV["MODE"] = out, mode
        w = watch("--interval", "0.2", "--exec", hook + " extra-arg", "--exec-timeout", "0.5",
                  out="x-%s.out" % mode, err="x-%s.err" % mode)
        time.sleep(0.3)
        t0 = time.time()
        p = burst(1, "wait", argv0=hostile)
        time.sleep(0.5)
        finish(p)
        wait_for(lambda ev: any(e["event"] == "exited" for e in ev), out="x-%s.out" % mode)
        time.sleep(0.3 if mode != "hang" else 2.5)
        stop(w)
        took = time.time() - t0
        with open(os.path.join(tmp, "x-%s.err" % mode)) as f:
            err = f.read()
        names = sorted(os.listdir(out), key=lambda n: int(n.split(".")[0]))
        evfiles = [n for n in names if not n.endswith(".command")]
        kinds = [n.split(".")[1] for n in evfiles]
        if mode == "ok":
            check(kinds == ["appeared", "level", "level", "level", "risk", "exited"],
                  "one hook run per event, in order: %s" % kinds)
            env = dict(line.split("=", 1) for line in open(os.path.join(out, evfiles[2])).read().splitlines()
                       if "=" in line)
            check(env.get("GPUMEM_EVENT") == "level" and env.get("GPUMEM_PID") == str(p.pid) and
                  env.get("GPUMEM_DEVICE") == "cuda:0" and env.get("GPUMEM_LEVEL") == "critical" and
                  env.get("GPUMEM_PREVIOUS_LEVEL") == "warning" and env.get("GPUMEM_PERCENT") == "91.00" and
                  env.get("GPUMEM_RESERVED_BYTES") == str(910 << 20) and
                  env.get("GPUMEM_TOTAL_BYTES") == str(1000 << 20) and env.get("GPUMEM_UUID", "").startswith("GPU-"),
                  "the hook's environment: event, pid, device, levels, percent, bytes, uuid")
            with open(os.path.join(out, evfiles[1].split(".")[0] + ".command")) as f:
                got = f.read()
            check(got.startswith("evil $(touch") and "`touch" in got and not os.path.exists(pwned),
                  "hostile command text reached the hook as a value only, never run")
        elif mode == "fail":
            check(kinds == ["appeared", "level", "level", "level", "risk", "exited"] and err.count("exited 3") == 6,
                  "a failing hook: logged each time, watching went on")
        else:
            check(kinds[:2] == ["appeared", "level"] and len(kinds) == 6 and err.count("ran over 0.5s") == 3 and
                  took < 12, "a hanging hook: killed at the timeout (%d times), watching went on (%.1fs)" %
                  (err.count("ran over"), took))
    check(not os.path.exists(pwned), "nothing ran the hostile text")
    r = subprocess.run([GPUMEM, "watch", "--shell"], env=ENV, stderr=subprocess.PIPE)
    check(r.returncode == 2, "--shell without --exec: usage error")


try:
    {"burst": run_burst, "lost": run_lost, "restart": run_restart, "since": run_since, "ends": run_ends,
     "exec": run_exec}[CASE]()
finally:
    for n in os.listdir("/dev/shm"):
        if n.startswith(PREFIX + "."):
            os.unlink(os.path.join("/dev/shm", n))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept", tmp)
sys.exit(1 if failed else 0)
