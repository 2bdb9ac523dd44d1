#!/usr/bin/python3
"""A job on 8 stand-in devices for tests/pictures/bench_plot.sh: allocations and
frees at random on each device every ~10 ms for 37 s, then it prints its pid
and the rounds done, and holds until killed."""
import ctypes, os, time, random
rt = ctypes.CDLL("libcudart.so.13")
ptrs = {}
random.seed(1)
start = time.monotonic()
held = [[] for _ in range(8)]
n = 0
while time.monotonic() - start < 37:
    for d in range(8):
        rt.cudaSetDevice(d)
        p = ctypes.c_void_p()
        if random.random() < 0.55 or not held[d]:
            if rt.cudaMalloc(ctypes.byref(p), ctypes.c_size_t(random.randint(1, 512) << 20)) == 0:
                held[d].append(p.value)
        else:
            rt.cudaFree(ctypes.c_void_p(held[d].pop(random.randrange(len(held[d])))))
    n += 1
    time.sleep(0.008)
print(os.getpid(), n, flush=True)
time.sleep(600)  # held until killed: plot reads it live
