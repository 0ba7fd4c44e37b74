"""Time the world sampler: N scenes (spec + layout + render), single process.

    python benchmarks/bench_world.py [--n 1000] [--size 256] [--split train] [--seed 0]

Prints mean / p50 / p95 per scene, the split of time between stages, and the total.
Target: 1000 scenes at 256 px in under 60 s on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from thinkdraw.world.layout import solve_layout
from thinkdraw.world.render import render_scene
from thinkdraw.world.sampler import rng_for, sample_one, sample_spec


def bench(n: int, size: int, split: str, seed: int) -> dict:
    """Time ``n`` full samples, then the stages separately on the same specs."""
    sample_one(0, split, seed, size)  # warm-up: imports, font cache
    per_scene = []
    t_all = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        sample_one(i, split, seed, size)
        per_scene.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all

    stages = {"spec": 0.0, "layout": 0.0, "render": 0.0}
    for i in range(min(n, 200)):
        t0 = time.perf_counter()
        rng = rng_for(split, seed, i)
        _, plan, _ = sample_spec(rng, split, size=size)
        t1 = time.perf_counter()
        placed = solve_layout(plan, seed=i).plan
        t2 = time.perf_counter()
        render_scene(placed, size=size, seed=i)
        t3 = time.perf_counter()
        stages["spec"] += t1 - t0
        stages["layout"] += t2 - t1
        stages["render"] += t3 - t2
    k = min(n, 200)
    ms = np.array(per_scene) * 1000
    return {
        "n": n, "size": size, "split": split, "total_s": round(total, 3),
        "mean_ms": round(float(ms.mean()), 3), "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3), "max_ms": round(float(ms.max()), 3),
        "stage_mean_ms": {s: round(v / k * 1000, 3) for s, v in stages.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--split", default="train", choices=["train", "heldout"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    r = bench(args.n, args.size, args.split, args.seed)
    print(f"world sampler: {r['n']} scenes at {r['size']}px ({r['split']}), single process")
    print(f"  total   {r['total_s']:.2f} s   ({r['n'] / r['total_s']:.0f} scenes/s)")
    print(f"  mean    {r['mean_ms']:.2f} ms   p50 {r['p50_ms']:.2f} ms   p95 {r['p95_ms']:.2f} ms   "
          f"max {r['max_ms']:.2f} ms")
    st = r["stage_mean_ms"]
    print(f"  stages  spec {st['spec']:.2f} ms   layout {st['layout']:.2f} ms   render {st['render']:.2f} ms")
    target = 60.0 * r["n"] / 1000
    print(f"  target  {target:.0f} s for {r['n']} scenes: {'PASS' if r['total_s'] < target else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
