"""Batch throughput: images/s for 1 and 2 workers (and 1 worker with 2 threads) on this machine.

    python benchmarks/bench_batch.py --n 40 --mode reflect
    python benchmarks/bench_batch.py --n 40 --configs 1x1,2x1,1x2 --ray     # the same through a local Ray

Each configuration (WORKERSxTHREADS) draws the same n held-out world prompts into a fresh folder with
``thinkdraw.batch.run_batch``. Printed per configuration: wall-clock images/s (process start-up and model
loading included, what a user waits for) and steady images/s (from the first finished image to the last:
the per-image rate a long batch approaches), and the load average before and after, since the machine may
be shared. Also checks that every configuration drew the same pixels.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path


def prompts(n: int, seed: int = 11) -> list[str]:
    from thinkdraw.world.sampler import sample_spec

    rng = random.Random(f"bench-batch/{seed}")
    return [sample_spec(rng, "heldout")[0] for _ in range(n)]


def run(items, out: Path, workers: int, threads: int, ray: bool) -> dict:
    from thinkdraw.batch import run_batch

    stamps: list[float] = []
    t0 = time.perf_counter()
    s = run_batch(items, out, workers=workers, threads=threads,
                  ray={"actors": workers, "num_cpus": threads} if ray else None,
                  progress=lambda d, t: stamps.append(time.perf_counter()) if d else None)
    wall = time.perf_counter() - t0
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0
    return {"wall_ips": s.drawn / wall, "steady_ips": steady, "wall": wall, "drawn": s.drawn}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--mode", default="reflect")
    ap.add_argument("--configs", default="1x1,2x1,1x2", help="WORKERSxTHREADS, comma-separated")
    ap.add_argument("--ray", action="store_true", help="through a local Ray (ray extra) instead of processes")
    a = ap.parse_args()
    from thinkdraw.batch import BatchItem
    from thinkdraw.plan.pngmeta import read_image_meta

    items = [BatchItem(index=k, prompt=p, seed=k, mode=a.mode, name=f"{k:05d}.png") for k, p in enumerate(prompts(a.n))]
    print(f"{os.cpu_count()} CPUs; {a.n} held-out prompts, mode {a.mode}; {'local Ray' if a.ray else 'processes'}")
    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    pixels = {}
    try:
        for cfg in a.configs.split(","):
            w, t = (int(x) for x in cfg.split("x"))
            before = os.getloadavg()[0]
            r = run(items, root / cfg, w, t, a.ray)
            after = os.getloadavg()[0]
            pixels[cfg] = [read_image_meta(p)["pixels"] for p in sorted((root / cfg).glob("*.png"))]
            print(f"{w} worker(s) x {t} thread(s): {r['wall_ips']:.2f} images/s wall ({r['wall']:.1f} s for "
                  f"{r['drawn']}, start-up included), {r['steady_ips']:.2f} images/s steady; load average "
                  f"{before:.2f} -> {after:.2f}", flush=True)
        by_threads: dict[int, set] = {}
        for cfg, px in pixels.items():
            by_threads.setdefault(int(cfg.split("x")[1]), set()).add(tuple(px))
        for t, v in sorted(by_threads.items()):
            print(f"threads {t}: {'the same pixels for every worker count' if len(v) == 1 else 'PIXELS DIFFER'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
