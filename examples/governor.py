"""A memory governor in Python: shrink the batch before the out-of-memory error.

Run under the shim with a signal chosen for the critical level:

    GPUMEM_SIGNAL=SIGUSR1 LD_PRELOAD=/path/to/libgpumem.so python3 examples/governor.py

The training loop below grows its batch by one each step, and each sample's
activations take 40 MiB of device memory (allocated with cuMemAlloc through
ctypes, so it runs on any CUDA driver, the stand-in of tests/fake_cuda
included; with PyTorch the same handler would set the flag and the loop would
call torch.cuda.empty_cache() and shrink its DataLoader's batch). When a
device enters critical, the shim raises SIGUSR1 once, after the allocating
call returned; Python runs the handler between two statements, and the loop
halves the batch at the start of the next step. Without GPUMEM_SIGNAL the
batch grows until the driver refuses an allocation.
Exit status: 0 if all steps ran, 1 on an out-of-memory error."""
import ctypes
import signal
import sys

MiB = 1 << 20
PER_SAMPLE = 40 * MiB
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 30

shrink = False


def on_critical(signum, frame):
    global shrink
    shrink = True  # only a flag here: the loop acts at a safe point


signal.signal(signal.SIGUSR1, on_critical)

cu = ctypes.CDLL("libcuda.so.1")
cu.cuMemAlloc_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
cu.cuMemFree_v2.argtypes = [ctypes.c_uint64]
dev, ctx = ctypes.c_int(), ctypes.c_void_p()
assert cu.cuInit(0) == 0 and cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0 and cu.cuCtxSetCurrent(ctx) == 0

batch, held = 8, []
for step in range(1, STEPS + 1):
    if shrink:
        shrink = False
        for p in held:  # drop the cached activations, then the batch
            cu.cuMemFree_v2(p)
        held = []
        print("governor: critical at step %d: batch %d -> %d" % (step, batch, batch // 2))
        batch //= 2
    # One step: activations for every sample of the batch, kept as a cache.
    for p in held:
        cu.cuMemFree_v2(p)
    held = []
    for _ in range(batch):
        p = ctypes.c_uint64()
        if cu.cuMemAlloc_v2(ctypes.byref(p), PER_SAMPLE) != 0:
            print("governor: out of memory at step %d with batch %d" % (step, batch))
            sys.exit(1)
        held.append(p.value)
    batch += 1
print("governor: %d steps, no out-of-memory error, final batch %d" % (STEPS, batch))
