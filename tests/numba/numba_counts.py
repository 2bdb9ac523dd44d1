"""numba.cuda on the stand-in driver: does gpumem count what numba reserves?

Run with the stand-in's directory first in LD_LIBRARY_PATH (numba dlopens
"libcuda.so", then "libcuda.so.1", unless NUMBA_CUDA_DRIVER names a file) and,
for the shim's checks, LD_PRELOAD=libgpumem.so. Every check prints one line,
"ok", "FAIL" or "skip" (a shim check when libgpumem.so is not loaded); the
exit status is 1 if any check failed, 77 if numba cannot be imported.

numba (0.56, Debian's python3-numba) calls the driver through ctypes, that is
dlsym on the driver's handle, which the shim intercepts; the NVIDIA cuda-python
binding is turned off (NUMBA_CUDA_USE_NVIDIA_BINDING=0). numba allocates
exactly an array's nbytes with cuMemAlloc_v2 and frees with cuMemFree_v2, but
defers frees: `del` puts them in the memory manager's queue, flushed by
cuda.current_context().memory_manager.deallocations.clear() (the context's
own `deallocations` queue holds streams, events and modules, not memory).
cuda.close() frees numba's own arrays with cuMemFree_v2, then releases the
primary context (cuDevicePrimaryCtxRelease_v2) and resets it
(cuDevicePrimaryCtxReset_v2): whatever else lives in that context, here a
direct driver allocation as another library in the process would make, is
freed by the driver without a free call, and must be uncharged all the same.
"""
import ctypes
import os
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
os.environ["NUMBA_CUDA_USE_NVIDIA_BINDING"] = "0"  # ctypes, not cuda-python

try:
    import numpy as np
    from numba.cuda.cudadrv import driver as nbdriver
    from numba import cuda
except ImportError as e:
    print("skipped: numba is not importable (%s)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
import gpumem_ctypes as gm  # noqa: E402

MiB = 1 << 20
failures = 0
SHIM = gm.loaded()


def line(status, name, detail):
    print("%-4s %s: %s" % (status, name, detail), flush=True)


def check(name, got, want):
    global failures
    if got == want:
        line("ok", name, got)
    else:
        failures += 1
        line("FAIL", name, "%r, expected %r" % (got, want))


def check_shim(name, field, want):
    """A figure of the shim's for device 0 (skipped without the shim)."""
    if not SHIM:
        line("skip", name, "libgpumem.so is not loaded")
        return
    s = gm.stats(0)
    check(name, getattr(s, field) if s else None, want)


# CUDA 13 added cuCtxGetDevice_v2(CUdevice *, CUcontext) and
# cuCtxSynchronize_v2(CUcontext): new functions with an extra argument, not new
# ABIs of the old ones. numba 0.56 takes a "<name>_v2" symbol wherever one
# exists (numba-cuda issue #173) and would call them without the context, so
# it fails on a real CUDA 13 driver as on the stand-in (CUDA_ERROR_INVALID_CONTEXT
# from a garbage context). Pin those two to their base names.
_find_api = nbdriver.Driver._find_api


def _find_api_pinned(self, fname):
    if fname in ("cuCtxGetDevice", "cuCtxSynchronize"):
        return getattr(self.lib, fname)
    return _find_api(self, fname)


nbdriver.Driver._find_api = _find_api_pinned

# Every driver function numba calls, in the order of the first call, from
# numba's own debug log ("call driver api: <symbol>").
calls = []


class _CallLog:
    level = 0

    def handle(self, record):
        msg = record.getMessage()
        if msg.startswith("call driver api: "):
            name = msg[len("call driver api: "):].split("(")[0]
            if name not in calls:
                calls.append(name)


import logging  # noqa: E402

_log = logging.getLogger(nbdriver.__name__)
_h = logging.Handler()
_h.handle = _CallLog().handle
_log.addHandler(_h)
_log.setLevel(logging.DEBUG)
_log.propagate = False

print("numba %s, shim %s" % (__import__("numba").__version__, "loaded" if SHIM else "not loaded"))
check("numba uses its ctypes binding", nbdriver.USE_NV_BINDING, False)
drv = nbdriver.driver
check("numba found the driver", drv.initialization_error, None)
if drv.initialization_error:
    sys.exit(1)
lib = drv.lib
check("the driver numba loaded is the stand-in", hasattr(lib, "fake_cuda_used_bytes"), True)
if not hasattr(lib, "fake_cuda_used_bytes"):
    sys.exit(1)
lib.fake_cuda_used_bytes.restype = ctypes.c_ulonglong
lib.fake_cuda_used_bytes.argtypes = [ctypes.c_int]


def used():
    return lib.fake_cuda_used_bytes(0)


def figures(step, expected):
    """The stand-in's and the shim's figures after a step."""
    check("%s: stand-in device 0 used bytes" % step, used(), expected)
    check_shim("%s: gpumem reserved_bytes" % step, "reserved_bytes", expected)
    check_shim("%s: gpumem unknown_free_count" % step, "unknown_free_count", 0)


# 1. An uninitialised array: exactly nbytes through cuMemAlloc_v2.
a = cuda.device_array(1000, dtype=np.float32)
figures("device_array(1000, float32)", 4000)

# 2. Host to device and back, whole and a slice (an interior pointer).
h = np.arange(100000, dtype=np.float64)
d = cuda.to_device(h)
figures("to_device(100000 float64)", 4000 + 800000)
check("copy_to_host round trip", bool((d.copy_to_host() == h).all()), True)
check("copy_to_host of a slice [10:20]", bool((d[10:20].copy_to_host() == h[10:20]).all()), True)
e = cuda.device_array_like(d)
e.copy_to_device(d)  # device to device
check("device to device copy", bool((e.copy_to_host() == h).all()), True)
figures("device_array_like + copy_to_device", 4000 + 2 * 800000)

# Streams, asynchronous copies, events, synchronisation.
stream = cuda.stream()
f = cuda.to_device(h, stream=stream)
check("asynchronous copies on a stream round trip", bool((f.copy_to_host(stream=stream) == h).all()), True)
stream.synchronize()
event = cuda.event()
event.record(stream)
event.synchronize()
cuda.synchronize()
figures("to_device on a stream", 4000 + 3 * 800000)
del f, stream, event

# 3. del: numba defers the free until its queue is flushed.
del a
cuda.current_context().deallocations.clear()
figures("del a, f, context.deallocations.clear() (device memory still queued)", 4000 + 3 * 800000)
cuda.current_context().memory_manager.deallocations.clear()
figures("memory_manager.deallocations.clear()", 2 * 800000)
del d, e
cuda.current_context().memory_manager.deallocations.clear()
figures("del d, e and flush", 0)
check_shim("gpumem alloc_count", "alloc_count", 4)
check_shim("gpumem free_count", "free_count", 4)

# 4. Alive at cuda.close(): a numba array, pinned host memory, and 3 MiB that
# another user of the primary context allocated straight from the driver.
keep = cuda.device_array(12345, dtype=np.uint8)
pinned = cuda.pinned_array(1000, dtype=np.float64)  # host memory: nobody's device bytes
pinned[:] = 1.5
raw = ctypes.c_uint64()
check("cuMemAlloc_v2(3 MiB) straight from the driver", lib.cuMemAlloc_v2(ctypes.byref(raw), ctypes.c_size_t(3 * MiB)), 0)
figures("alive before cuda.close()", 12345 + 3 * MiB)

# 5. cuda.close(): numba frees its arrays, then releases and resets the
# primary context, which frees the rest.
cuda.close()
figures("after cuda.close()", 0)
check_shim("gpumem alloc_count after close", "alloc_count", 6)
check("cuMemFree_v2 of the raw pointer after close (the driver freed it)", lib.cuMemFree_v2(raw.value), 1)

print("driver functions numba called, in order of first call: %s" % " ".join(calls))
print("%s: %d failed" % ("numba_counts", failures))
sys.exit(1 if failures else 0)
