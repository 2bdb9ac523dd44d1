"""ctypes mirrors of the structs of include/gpumem.h, the in-process API.

The one Python copy of this ABI: tests/gpu, tests/preload and the README
import it from here. tests/python/check_abi.py checks every field's offset
and size, and the field names, against the C header (ctest python.abi_layout).
"""
import ctypes

# enum gpumem_level (gpumem_level_t)
LEVEL_HEALTHY = 0
LEVEL_WARNING = 1
LEVEL_CRITICAL = 2

gpumem_level_t = ctypes.c_int


class DeviceStats(ctypes.Structure):
    """gpumem_device_stats_t: a copy of one device's counters."""

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
        ("level", gpumem_level_t),
        ("alarm_count", ctypes.c_uint64),
    ]


class Alarm(ctypes.Structure):
    """gpumem_alarm_t: one change of a device's level."""

    _fields_ = [
        ("device_id", ctypes.c_int),
        ("uuid", ctypes.c_char_p),
        ("reserved_bytes", ctypes.c_uint64),
        ("total_bytes", ctypes.c_uint64),
        ("percent", ctypes.c_double),
        ("level", gpumem_level_t),
        ("previous_level", gpumem_level_t),
    ]


# gpumem_alarm_fn: void (*)(const gpumem_alarm_t *alarm, void *user)
ALARM_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(Alarm), ctypes.c_void_p)
