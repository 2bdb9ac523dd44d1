"""gpumem from Python: the GPU memory each process has reserved, per device.

Standard library only. Two sources, never a parser of the shared-memory
segments of its own:

- every process (``snapshot``, ``gpu_stats(pid)``, ``vitals(pid)``): the
  ``gpumem`` binary's ``show --json`` (the JSON contract of the README), so the
  C reader stays the one validator of the binary layout;
- this process, when libgpumem.so is preloaded in it (``loaded``,
  ``device_stats``, ``on_alarm``, and ``gpu_stats()``/``vitals()`` with no pid):
  the C API of include/gpumem.h through ctypes, with the structs of ``_abi``.

The binary is found at $GPUMEM_BIN, else the one installed with this package
(cmake --install, the .deb), else ``gpumem`` on PATH, else the build tree
beside the source tree (``build/gpumem``).

Sizes in GB are bytes / 1024**3, as the reader prints them (``5.2GB``).
``gpu_stats`` and ``vitals`` never raise for a missing CUDA, shim or binary:
they return an empty dict and zeros.
"""
import ctypes
import dataclasses
import json
import os
import shutil
import subprocess
from typing import Callable, Dict, List, Optional

from . import _abi

__all__ = [
    "Alarm", "BinaryNotFound", "Device", "GPU", "GPUStats", "Process", "Skipped", "Snapshot", "Vitals",
    "binary", "device_stats", "gpu_stats", "loaded", "on_alarm", "snapshot", "vitals",
]

GB = 1 << 30
LEVELS = {_abi.LEVEL_HEALTHY: "healthy", _abi.LEVEL_WARNING: "warning", _abi.LEVEL_CRITICAL: "critical"}


class BinaryNotFound(FileNotFoundError):
    """No gpumem binary: set GPUMEM_BIN, install gpumem, or build it."""


# ---- the JSON contract as dataclasses ---------------------------------------

def _build(cls, d):
    """cls from the dict d: known fields by name; fields the contract added
    later go to .extra."""
    names = {f.name for f in dataclasses.fields(cls)}
    known = {k: v for k, v in d.items() if k in names and k != "extra"}
    obj = cls(**known)
    obj.extra = {k: v for k, v in d.items() if k not in names}
    return obj


@dataclasses.dataclass
class Device:
    """One device of one process (``processes[].devices[]``)."""
    device_id: int = 0
    uuid: str = ""
    name: str = ""
    pci_bus_id: str = ""
    reserved_bytes: int = 0
    peak_bytes: int = 0
    total_bytes: int = 0
    managed_bytes: int = 0
    percent: float = 0.0
    level: str = "healthy"
    alloc_count: int = 0
    free_count: int = 0
    failed_count: int = 0
    unknown_free_count: int = 0
    alarm_count: int = 0
    peak_time_unix_ns: int = 0
    last_transition_unix_ns: int = 0
    # Will the next allocation fit? (see the README's "Automation")
    free_bytes: int = 0  # the driver's free memory at the last sample, 0 unknown
    free_sampled_unix_ns: int = 0
    largest_recent_request: int = 0
    headroom_bytes: int = 0
    risk: str = "unknown"  # unknown, ok or at_risk
    at_risk: bool = False
    risk_changes: int = 0
    extra: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class Process:
    """One process's segment (``processes[]``)."""
    pid: int = 0
    alive: bool = False
    state: str = ""
    start_time_ticks: int = 0
    command: str = ""
    host: str = ""
    owner_uid: Optional[int] = None
    oom_count: int = 0
    has_memory_alarm: bool = False
    memory_alarm_devices: List[str] = dataclasses.field(default_factory=list)
    devices: List[Device] = dataclasses.field(default_factory=list)
    # Where the writer runs in another pid namespace (None where not reported):
    host_pid: Optional[int] = None  # its pid on this host
    pid_namespace: Optional[int] = None  # the inode of its pid namespace
    # Kubernetes, where the cgroup names a pod (None where unknown):
    pod_uid: Optional[str] = None
    pod: Optional[str] = None
    namespace: Optional[str] = None
    container: Optional[str] = None
    container_id: Optional[str] = None
    extra: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class GPU:
    """One physical GPU, live processes summed by UUID (``gpus[]``)."""
    uuid: str = ""
    name: str = ""
    total_bytes: int = 0
    reserved_bytes: int = 0
    percent: float = 0.0
    level: str = "healthy"
    pids: List[int] = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class Skipped:
    """A segment the reader would not trust (``skipped[]``)."""
    path: str = ""
    reason: str = ""
    extra: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class Snapshot:
    """``gpumem show --json``; ``exit_status`` is the reader's (1: a segment
    was skipped, 3: a pid asked for has none)."""
    schema: int = 1
    processes: List[Process] = dataclasses.field(default_factory=list)
    gpus: List[GPU] = dataclasses.field(default_factory=list)
    skipped: List[Skipped] = dataclasses.field(default_factory=list)
    not_readable: int = 0
    unfinished: int = 0
    exit_status: int = 0
    extra: dict = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d, exit_status=0):
        s = _build(cls, d)
        s.exit_status = exit_status
        s.processes = []
        for p in d.get("processes", []):
            proc = _build(Process, p)
            proc.devices = [_build(Device, x) for x in p.get("devices", [])]
            s.processes.append(proc)
        s.gpus = [_build(GPU, g) for g in d.get("gpus", [])]
        s.skipped = [_build(Skipped, k) for k in d.get("skipped", [])]
        return s


# ---- the gpumem binary --------------------------------------------------------

def _candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ.get("GPUMEM_BIN")
    if env:
        yield env
        return  # asked for this one: no other
    try:
        from . import _where  # written by cmake --install
        yield os.path.normpath(os.path.join(here, _where.BIN))
    except ImportError:
        pass
    on_path = shutil.which("gpumem")
    if on_path:
        yield on_path
    yield os.path.normpath(os.path.join(here, "..", "..", "build", "gpumem"))


def binary():
    """The path of the gpumem binary this module runs; BinaryNotFound if none."""
    for path in _candidates():
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise BinaryNotFound("no gpumem binary (set GPUMEM_BIN, install gpumem, or build it into build/)")


def snapshot(pids=None, prefix=None, timeout=30):
    """Every process's segment and every GPU, as ``gpumem show --json`` reads
    them. pids: only these; prefix: as GPUMEM_SHM_PREFIX. Raises
    BinaryNotFound without a binary, RuntimeError if it fails (usage error,
    output that is not the contract)."""
    cmd = [binary(), "show", "--json"]
    if prefix:
        cmd += ["--prefix", prefix]
    cmd += [str(int(p)) for p in (pids or [])]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    try:
        # valid JSON that is not the contract (a list, null, a number where a
        # list is) fails here as well: the same RuntimeError, never a TypeError
        return Snapshot.from_json(json.loads(r.stdout.decode("utf-8")), r.returncode)
    except (ValueError, TypeError, AttributeError):
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.decode("utf-8", "replace")))


# ---- this process, through the C API --------------------------------------------

_self = None
_callbacks = []  # the ctypes callbacks registered: alive as long as the process


def _lib():
    """libgpumem.so's API in this process, or None when it is not loaded."""
    global _self
    if _self is None:
        try:
            lib = ctypes.CDLL(None)
            lib.gpumem_device_stats
        except (OSError, AttributeError):
            _self = False
            return None
        lib.gpumem_device_stats.argtypes = [ctypes.c_int, ctypes.POINTER(_abi.DeviceStats)]
        lib.gpumem_device_stats.restype = ctypes.c_int
        lib.gpumem_device_count.argtypes = []
        lib.gpumem_device_count.restype = ctypes.c_int
        lib.gpumem_on_alarm.argtypes = [_abi.ALARM_FN, ctypes.c_void_p]
        lib.gpumem_on_alarm.restype = ctypes.c_int
        lib.gpumem_strerror.argtypes = [ctypes.c_int]
        lib.gpumem_strerror.restype = ctypes.c_char_p
        _self = lib
    return _self or None


def loaded():
    """Is libgpumem.so loaded in this process?"""
    return _lib() is not None


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def device_stats(device_id):
    """This process's counters of cuda:device_id as a Device, or None when the
    shim is not loaded or the device saw no activity here."""
    lib = _lib()
    if lib is None:
        return None
    s = _abi.DeviceStats()
    if lib.gpumem_device_stats(int(device_id), ctypes.byref(s)) != 0:
        return None
    return Device(device_id=s.device_id, uuid=_text(s.uuid), name=_text(s.name), pci_bus_id=_text(s.pci_bus_id),
                  reserved_bytes=s.reserved_bytes, peak_bytes=s.peak_bytes, total_bytes=s.total_bytes,
                  managed_bytes=s.managed_bytes, percent=round(s.percent, 2), level=LEVELS.get(s.level, "unknown"),
                  alloc_count=s.alloc_count, free_count=s.free_count, failed_count=s.failed_count,
                  unknown_free_count=s.unknown_free_count, alarm_count=s.alarm_count)


@dataclasses.dataclass
class Alarm:
    """One change of a device's level, as on_alarm's callback gets it."""
    device_id: int
    uuid: str
    reserved_bytes: int
    total_bytes: int
    percent: float
    level: str
    previous_level: str


def on_alarm(fn: Callable[[Alarm], None]) -> bool:
    """Call fn(Alarm) at every change of a device's level in this process (on
    the allocating thread, after the CUDA call returned). True when
    registered, False when the shim is not loaded; RuntimeError when the shim
    refuses (at most 16 callbacks). The callback is kept alive by this module."""
    lib = _lib()
    if lib is None:
        return False

    def trampoline(alarm, user):
        a = alarm.contents
        fn(Alarm(a.device_id, _text(a.uuid), a.reserved_bytes, a.total_bytes, round(a.percent, 2),
                 LEVELS.get(a.level, "unknown"), LEVELS.get(a.previous_level, "unknown")))

    c_fn = _abi.ALARM_FN(trampoline)
    rc = lib.gpumem_on_alarm(c_fn, None)
    if rc != 0:
        raise RuntimeError("gpumem_on_alarm: %s" % _text(lib.gpumem_strerror(rc)))
    _callbacks.append(c_fn)
    return True


# ---- shaped like the dashboards that use it -----------------------------------------

@dataclasses.dataclass
class GPUStats:
    device_id: int
    memory_used_gb: float
    memory_total_gb: float
    percent: float
    level: str


@dataclasses.dataclass
class Vitals:
    has_memory_alarm: bool = False
    memory_alarm_devices: List[str] = dataclasses.field(default_factory=list)
    gpu_memory_used_gb: float = 0.0
    gpu_memory_total_gb: float = 0.0
    gpus: Dict[int, GPUStats] = dataclasses.field(default_factory=dict)


def _stats(device_id, reserved, total, percent, level):
    return GPUStats(device_id, reserved / GB, total / GB, percent, level)


def gpu_stats(pid=None, prefix=None) -> Dict[int, GPUStats]:
    """{device_id: GPUStats}. pid given: that process's devices (its segment,
    through the reader). No pid: this process's own counters when the shim is
    loaded in it; otherwise every live process summed per GPU (by UUID, as
    ``gpumem top``), keyed by the lowest cuda:N a live process has for that
    GPU. Empty when nothing is counted, or without shim or binary."""
    if pid is None and loaded():
        out = {}
        for i in range(_lib().gpumem_device_count()):
            d = device_stats(i)
            if d is not None:
                out[i] = _stats(i, d.reserved_bytes, d.total_bytes, d.percent, d.level)
        return out
    try:
        snap = snapshot(pids=[pid] if pid is not None else None, prefix=prefix)
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return {}
    if pid is not None:
        return {d.device_id: _stats(d.device_id, d.reserved_bytes, d.total_bytes, d.percent, d.level)
                for p in snap.processes if p.pid == int(pid) for d in p.devices}
    ordinal = {}
    for p in snap.processes:
        if p.alive:
            for d in p.devices:
                ordinal[d.uuid] = min(ordinal.get(d.uuid, d.device_id), d.device_id)
    out = {}
    for g in sorted((g for g in snap.gpus if g.uuid in ordinal), key=lambda g: ordinal[g.uuid]):
        key = ordinal[g.uuid]
        while key in out:  # two GPUs that processes number alike: the next free number
            key += 1
        out[key] = _stats(key, g.reserved_bytes, g.total_bytes, g.percent, g.level)
    return out


def vitals(pid=None, prefix=None) -> Vitals:
    """gpu_stats as one record: has_memory_alarm and memory_alarm_devices
    ("cuda:N" at critical), and gpu_memory_used_gb / gpu_memory_total_gb of
    cuda:0 (or of the only device); zeros when there is none."""
    stats = gpu_stats(pid, prefix)
    alarms = ["cuda:%d" % i for i in sorted(stats) if stats[i].level == "critical"]
    one = stats.get(0) or (next(iter(stats.values())) if len(stats) == 1 else None)
    return Vitals(bool(alarms), alarms, one.memory_used_gb if one else 0.0, one.memory_total_gb if one else 0.0,
                  stats)
