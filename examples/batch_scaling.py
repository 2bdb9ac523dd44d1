#!/usr/bin/env python3
"""How does the peak of reserved GPU memory scale with the batch size?

Runs the simulated training job (examples/train_sim.c, on the stand-in GPU of
tests/fake_cuda) at three batch sizes under the gpumem shim, keeping each
run's segment (GPUMEM_KEEP=1), prints the peak of each, saves each history
next to the plot, and draws the three runs overlaid in one SVG:

    cmake -S . -B build && cmake --build build
    examples/batch_scaling.py            # writes batch-scaling/plot.svg

For a real job, replace the command in run() with yours (and drop the
stand-in's LD_LIBRARY_PATH); the rest stays the same.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="the build directory (default: build)")
    ap.add_argument("--out", default="batch-scaling", help="where the histories and plot.svg go")
    ap.add_argument("--batches", default="16,32,64", help="batch sizes, comma-separated (default: 16,32,64)")
    ap.add_argument("--steps", type=int, default=12, help="training steps per run (default: 12)")
    ap.add_argument("--step-ms", type=int, default=400, help="milliseconds per step (default: 400)")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    gpumem = os.path.join(build, "gpumem")
    prefix = f"gpumemex{os.getpid()}"
    shm = os.environ.get("GPUMEM_SHM_DIR", "/dev/shm")
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ, GPUMEM_SHM_PREFIX=prefix, GPUMEM_KEEP="1",
               # 50 ms buckets: the simulated steps last a few hundred ms.
               GPUMEM_HISTORY_FINE="50ms:6000",
               LD_PRELOAD=os.path.join(build, "libgpumem.so"),
               LD_LIBRARY_PATH=os.path.join(build, "fake"))

    runs = []
    try:
        for batch in [int(b) for b in args.batches.split(",")]:
            job = subprocess.run([os.path.join(build, "train_sim"), "--batch", str(batch), "--steps",
                                  str(args.steps), "--step-ms", str(args.step_ms)], env=env,
                                 stdout=subprocess.DEVNULL)
            # The job's pid names its kept segment; a child's pid is not in
            # CompletedProcess, so find the one segment that is new.
            seen = {r[1] for r in runs}
            names = [n for n in os.listdir(shm) if n.startswith(prefix + ".") and n not in seen]
            if job.returncode != 0 or len(names) != 1:
                sys.exit(f"batch {batch}: exit {job.returncode}, segments {names}")
            pid = int(names[0].split(".")[1])
            show = subprocess.run([gpumem, "show", str(pid), "--json", "--prefix", prefix], capture_output=True,
                                  text=True, check=True)
            devices = json.loads(show.stdout)["processes"][0]["devices"]
            peak = max(d["peak_bytes"] for d in devices)
            saved = os.path.join(args.out, f"batch-{batch}.seg")
            shutil.copyfile(os.path.join(shm, names[0]), saved)
            runs.append((batch, names[0], peak, saved))
    finally:
        for r in runs:
            os.unlink(os.path.join(shm, r[1]))

    print(f"{'batch':>6} {'peak reserved':>14} {'per sample':>11}")
    for batch, _, peak, _ in runs:
        print(f"{batch:>6} {peak / 2**30:>10.2f} GiB {peak / batch / 2**20:>7.1f} MiB")
    plot = [gpumem, "plot"]
    for batch, _, _, saved in runs:
        plot += [saved, "--label", f"batch {batch}"]
    svg = os.path.join(args.out, "plot.svg")
    subprocess.run(plot + ["-o", svg], check=True)
    print(f"plot: {svg}")


if __name__ == "__main__":
    main()
