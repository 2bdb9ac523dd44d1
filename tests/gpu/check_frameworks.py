"""JAX and CuPy under the shim: does it see what they reserve?

Usage: python3 check_frameworks.py jax|cupy   -> 'ROW check | expected | measured | ok/FAIL/info'
"""
import os
import sys

import gpumem_ctypes as gm

MODE = sys.argv[1]


def row(check, expected, measured, ok):
    print("ROW %s | %s | %s | %s" % (check, expected, measured, ok), flush=True)


if not gm.loaded():
    print("SKIP libgpumem.so is not preloaded")
    sys.exit(0)

if MODE == "cupy":
    import cupy

    pool = cupy.get_default_memory_pool()
    keep = []
    for mib in (1, 16, 256, 1024):
        keep.append(cupy.empty(mib << 20, dtype=cupy.uint8))
        cupy.cuda.Device(0).synchronize()
        r = gm.stats(0).reserved_bytes
        row("cupy pool after %d MiB array" % mib, pool.total_bytes(), r, "ok" if r == pool.total_bytes() else "FAIL")
    keep.clear()
    pool.free_all_blocks()
    r = gm.stats(0).reserved_bytes
    row("cupy after free_all_blocks", pool.total_bytes(), r, "ok" if r == pool.total_bytes() else "FAIL")

elif MODE == "jax":
    import jax
    import jax.numpy as jnp

    x = jnp.ones((1 << 28,), dtype=jnp.uint8)  # 256 MiB
    x.block_until_ready()
    d = jax.devices()[0]
    st = d.memory_stats() or {}
    s = gm.stats(0)
    pool = st.get("pool_bytes", st.get("bytes_reserved", st.get("bytes_limit", 0)))
    row("jax: XLA pool (preallocated) vs shim reserved", pool, s.reserved_bytes,
        "ok" if s.reserved_bytes >= pool > 0 else "FAIL")
    row("jax: shim reserved / device total", "~75% (XLA default)",
        "%.1f%%" % (100.0 * s.reserved_bytes / s.total_bytes if s.total_bytes else 0), "info")
