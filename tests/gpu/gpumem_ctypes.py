"""Read libgpumem's counters from Python through ctypes (the shim must be preloaded).

The structs come from python/gpumem/_abi.py, the one ctypes copy of include/gpumem.h.
"""
import ctypes
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from gpumem._abi import ALARM_FN, Alarm, DeviceStats  # noqa: E402,F401

_lib = ctypes.CDLL(None)


def loaded():
    return hasattr(_lib, "gpumem_device_stats")


def stats(device=0):
    s = DeviceStats()
    if _lib.gpumem_device_stats(device, ctypes.byref(s)) != 0:
        return None
    return s


def on_alarm(callback):
    """Register callback(alarm) ; keep the returned object alive."""
    fn = ALARM_FN(lambda a, user: callback(a.contents))
    rc = _lib.gpumem_on_alarm(fn, None)
    if rc != 0:
        raise RuntimeError("gpumem_on_alarm returned %d" % rc)
    return fn
