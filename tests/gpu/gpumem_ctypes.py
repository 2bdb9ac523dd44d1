"""Read libgpumem's counters from Python through ctypes (the shim must be preloaded)."""
import ctypes


class DeviceStats(ctypes.Structure):
    _fields_ = [
        ("device_id", ctypes.c_int),
        ("uuid", ctypes.c_char * 48),
        ("pci_bus_id", ctypes.c_char * 32),
        ("name", ctypes.c_char * 128),
        ("total_bytes", ctypes.c_uint64),
        ("reserved_bytes", ctypes.c_uint64),
        ("peak_bytes", ctypes.c_uint64),
        ("managed_bytes", ctypes.c_uint64),
        ("alloc_count", ctypes.c_uint64),
        ("free_count", ctypes.c_uint64),
        ("failed_count", ctypes.c_uint64),
        ("unknown_free_count", ctypes.c_uint64),
        ("percent", ctypes.c_double),
        ("level", ctypes.c_int),
        ("alarm_count", ctypes.c_uint64),
    ]


class Alarm(ctypes.Structure):
    _fields_ = [
        ("device_id", ctypes.c_int),
        ("uuid", ctypes.c_char_p),
        ("reserved_bytes", ctypes.c_uint64),
        ("total_bytes", ctypes.c_uint64),
        ("percent", ctypes.c_double),
        ("level", ctypes.c_int),
        ("previous_level", ctypes.c_int),
    ]


ALARM_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(Alarm), ctypes.c_void_p)
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
