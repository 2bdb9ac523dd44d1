"""Drive the stand-in CUDA driver (tests/fake_cuda, found as libcuda.so.1 on
LD_LIBRARY_PATH) from Python through ctypes, as a Python program drives a real
one: every call goes through dlsym on the driver's handle, which the shim
(LD_PRELOAD) intercepts."""
import ctypes

MiB = 1 << 20


class Driver:
    def __init__(self, device=0):
        self.cu = ctypes.CDLL("libcuda.so.1", use_errno=True)
        self.check(self.cu.cuInit(0), "cuInit")
        dev = ctypes.c_int()
        self.check(self.cu.cuDeviceGet(ctypes.byref(dev), device), "cuDeviceGet")
        ctx = ctypes.c_void_p()
        self.check(self.cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
        self.check(self.cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
        self.cu.cuMemAlloc_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
        self.cu.cuMemFree_v2.argtypes = [ctypes.c_uint64]

    @staticmethod
    def check(rc, what):
        if rc != 0:
            raise RuntimeError("%s returned %d" % (what, rc))

    def alloc(self, nbytes):
        """The pointer, or None when the driver refuses (out of memory)."""
        p = ctypes.c_uint64()
        rc = self.cu.cuMemAlloc_v2(ctypes.byref(p), nbytes)
        return p.value if rc == 0 else None

    def free(self, ptr):
        self.check(self.cu.cuMemFree_v2(ptr), "cuMemFree_v2")
