"""The Python module gpumem against the stand-in GPU (tests/fake_cuda).

Run by ctest (python.module) as /usr/bin/python3 -m pytest with PYTHONPATH
set to the source tree's python/ and GPUMEM_TEST_* naming the build's
gpumem, libgpumem.so, the stand-in's directory and tests/reader/hold.
"""
import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest

import gpumem

BIN = os.environ["GPUMEM_TEST_BIN"]
SHIM = os.environ["GPUMEM_TEST_SHIM"]
FAKE = os.environ["GPUMEM_TEST_FAKE"]
HOLD = os.environ["GPUMEM_TEST_HOLD"]
MiB = 1 << 20


@pytest.fixture
def env(monkeypatch):
    """A prefix of its own, the build's binary, no shim in this process."""
    prefix = "gmpy%d_%d" % (os.getpid(), time.monotonic_ns() % 100000)
    monkeypatch.setenv("GPUMEM_SHM_PREFIX", prefix)
    monkeypatch.setenv("GPUMEM_BIN", BIN)
    monkeypatch.setenv("LD_LIBRARY_PATH", FAKE)
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    yield prefix
    for name in os.listdir("/dev/shm"):
        if name.startswith(prefix + "."):
            os.unlink(os.path.join("/dev/shm", name))


class Hold:
    """tests/reader/hold under the shim: allocates DEV:MIB..., then waits."""

    def __init__(self, *blocks):
        e = dict(os.environ, LD_PRELOAD=SHIM)
        self.p = subprocess.Popen([HOLD] + list(blocks), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=e)
        line = self.p.stdout.readline()
        assert line == b"ready\n", line
        self.pid = self.p.pid

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=30) == 0


@pytest.fixture
def hold(env):
    held = []

    def start(*blocks):
        h = Hold(*blocks)
        held.append(h)
        return h

    yield start
    for h in held:
        if h.p.poll() is None:
            h.close()


def test_snapshot_is_the_json_contract_of_a_live_process(hold):
    h = hold("0:3", "1:5")
    snap = gpumem.snapshot()
    raw = json.loads(subprocess.run([BIN, "show", "--json"], stdout=subprocess.PIPE, check=True).stdout)
    assert snap.exit_status == 0 and snap.schema == 1
    [p] = snap.processes
    assert (p.pid, p.alive, p.state, p.has_memory_alarm, p.memory_alarm_devices) == (h.pid, True, "running", False, [])
    dev = {d.device_id: d for d in p.devices}
    assert dev[0].reserved_bytes == 3 * MiB and dev[1].reserved_bytes == 5 * MiB
    assert dev[0].total_bytes == 16 << 30 and dev[0].level == "healthy" and dev[0].percent == 0.02
    assert dev[0].uuid == "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539000" and dev[0].name == "gpumem stand-in GPU 0"
    assert [g.pids for g in snap.gpus] == [[h.pid], [h.pid]]
    assert [g.reserved_bytes for g in snap.gpus] == [3 * MiB, 5 * MiB]
    # every field of the contract as the reader wrote it (it ran twice; nothing moved between)
    def plain(x):
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items() if k != "extra"}
        if isinstance(x, list):
            return [plain(v) for v in x]
        return x

    assert all(d.extra == {} for d in p.devices) and p.extra == {}
    optional = ("owner_uid", "host_pid", "pid_namespace", "pod_uid", "pod", "namespace", "container", "container_id")
    assert plain(dataclasses.asdict(p)) == dict(dict.fromkeys(optional), **raw["processes"][0])
    assert [plain(dataclasses.asdict(g)) for g in snap.gpus] == raw["gpus"]
    assert snap.skipped == [] and snap.not_readable == 0
    assert gpumem.snapshot(pids=[h.pid]).processes[0].pid == h.pid


def test_gpu_stats_and_vitals_of_a_process_over_the_alarm(hold):
    h = hold("0:14800", "1:2048")  # 90.33 % and 12.5 % of 16 GiB
    stats = gpumem.gpu_stats(pid=h.pid)
    assert stats == {
        0: gpumem.GPUStats(0, 14800 / 1024, 16.0, 90.33, "critical"),
        1: gpumem.GPUStats(1, 2.0, 16.0, 12.5, "healthy"),
    }
    v = gpumem.vitals(pid=h.pid)
    assert v.has_memory_alarm is True and v.memory_alarm_devices == ["cuda:0"]
    assert (v.gpu_memory_used_gb, v.gpu_memory_total_gb) == (14800 / 1024, 16.0)
    assert v.gpus == stats


def test_gpu_stats_without_pid_sums_live_processes_per_gpu(hold):
    a = hold("0:1024", "1:512")
    b = hold("0:2048")
    stats = gpumem.gpu_stats()
    assert sorted(stats) == [0, 1]
    assert stats[0].memory_used_gb == 3.0 and stats[0].percent == 18.75 and stats[0].level == "healthy"
    assert stats[1].memory_used_gb == 0.5
    assert gpumem.vitals().has_memory_alarm is False
    a.close()
    b.close()
    assert gpumem.gpu_stats() == {}


def test_absent_binary_shim_or_cuda_is_empty_not_an_exception(env, monkeypatch):
    assert gpumem.loaded() is False  # this process has no shim
    assert gpumem.device_stats(0) is None
    assert gpumem.on_alarm(lambda a: None) is False
    # nothing counted anywhere under this prefix
    assert gpumem.gpu_stats() == {}
    assert gpumem.vitals() == gpumem.Vitals(False, [], 0.0, 0.0, {})
    assert gpumem.gpu_stats(pid=1) == {}
    # no binary at all
    monkeypatch.setenv("GPUMEM_BIN", "/nonexistent/gpumem")
    assert gpumem.gpu_stats() == {} and gpumem.gpu_stats(pid=1) == {}
    assert gpumem.vitals() == gpumem.Vitals(False, [], 0.0, 0.0, {})
    with pytest.raises(gpumem.BinaryNotFound):
        gpumem.snapshot()
    r = subprocess.run([sys.executable, "-m", "gpumem", "ls"], stderr=subprocess.PIPE)
    assert r.returncode == 127 and b"no gpumem binary" in r.stderr


INSIDE = r"""
import ctypes, json, sys
import gpumem
events = []
assert gpumem.loaded()
assert gpumem.on_alarm(events.append) is True
cuda = ctypes.CDLL("libcuda.so.1")  # the stand-in, through the shim's dlsym
ctx, ptr = ctypes.c_void_p(), ctypes.c_uint64()
assert cuda.cuInit(0) == 0 and cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, 0) == 0
assert cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(15000 << 20)) == 0
d = gpumem.device_stats(0)
out = {"events": [e.__dict__ for e in events], "reserved": d.reserved_bytes, "level": d.level,
       "stats": {k: v.__dict__ for k, v in gpumem.gpu_stats().items()}, "vitals": gpumem.vitals().memory_alarm_devices,
       "none": gpumem.device_stats(7) is None}
assert cuda.cuMemFree_v2(ptr) == 0
out["after"] = [e.level for e in events]
print(json.dumps(out))
"""


def test_on_alarm_fires_in_a_preloaded_python_process(env):
    e = dict(os.environ, LD_PRELOAD=SHIM, GPUMEM_LOG="off")
    r = subprocess.run([sys.executable, "-c", INSIDE], stdout=subprocess.PIPE, env=e, timeout=60)
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["events"] == [{"device_id": 0, "uuid": "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539000",
                              "reserved_bytes": 15000 << 20, "total_bytes": 16 << 30, "percent": 91.55,
                              "level": "critical", "previous_level": "healthy"}]
    assert out["reserved"] == 15000 << 20 and out["level"] == "critical" and out["none"] is True
    assert out["stats"] == {"0": {"device_id": 0, "memory_used_gb": 15000 / 1024, "memory_total_gb": 16.0,
                                  "percent": 91.55, "level": "critical"}}
    assert out["vitals"] == ["cuda:0"]
    assert out["after"] == ["critical", "healthy"]  # the free raised the second alarm


def test_python_m_gpumem_delegates_to_the_binary(hold):
    h = hold("0:1024")
    r = subprocess.run([sys.executable, "-m", "gpumem", "ls"], stdout=subprocess.PIPE, timeout=30)
    assert r.returncode == 0
    assert r.stdout.decode() == subprocess.run([BIN, "ls"], stdout=subprocess.PIPE).stdout.decode()
    assert ("\n%d " % h.pid) in r.stdout.decode() and "cuda:0 1.0GB / 16.0GB 6%" in r.stdout.decode()
    r = subprocess.run([sys.executable, "-m", "gpumem", "run", "sh", "-c", "exit 7"], timeout=30)
    assert r.returncode == 7
    assert subprocess.run([sys.executable, "-m", "gpumem", "show", "999999999"], stderr=subprocess.PIPE).returncode == 3


@pytest.mark.parametrize("out", ["[]", "null", "1", '{"processes": [1]}', '{"processes": null}', '{"gpus": [[]]}',
                                 '{"processes": [{"devices": 7}]}', '{"schema": 1, "proc', "not json"])
def test_a_binary_that_prints_what_is_not_the_contract_is_empty_not_an_exception(env, monkeypatch, tmp_path, out):
    fake = tmp_path / "gpumem"
    fake.write_text("#!/bin/sh\nprintf '%%s' '%s'\nexit 1\n" % out)
    fake.chmod(0o755)
    monkeypatch.setenv("GPUMEM_BIN", str(fake))
    assert gpumem.gpu_stats() == {} and gpumem.gpu_stats(pid=1) == {}
    assert gpumem.vitals() == gpumem.Vitals(False, [], 0.0, 0.0, {})
    with pytest.raises(RuntimeError):
        gpumem.snapshot()


def test_a_binary_that_is_not_executable_is_not_found(env, monkeypatch, tmp_path):
    fake = tmp_path / "gpumem"
    fake.write_text("#!/bin/sh\necho '{}'\n")
    fake.chmod(0o644)
    monkeypatch.setenv("GPUMEM_BIN", str(fake))
    assert gpumem.gpu_stats() == {}
    with pytest.raises(gpumem.BinaryNotFound):
        gpumem.snapshot()
