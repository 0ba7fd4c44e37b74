"""Start-up versus per-image time of `thinkdraw generate`, measured apart.

    python benchmarks/bench_startup.py [--n 5] [--mode reflect]

Prints, each the median of --n runs:
  cli wall        one `thinkdraw generate ... --mode M` process, start to exit (what a user waits for)
  cli plan wall   one `thinkdraw plan ...` process (Python + the planner, no torch)
  import          `import thinkdraw.engine, thinkdraw.draw.builtin, thinkdraw.reflect.builtin` in a fresh process
  load            building Engine() and its critic in that process (reading the safetensors weights)
  per image       Engine.generate in a warm process (after two warm-up images)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "two red apples to the left of a blue cup and a sign that says OPEN"

CHILD = r"""
import sys, time
t0 = time.perf_counter()
import thinkdraw.engine, thinkdraw.draw.builtin, thinkdraw.reflect.builtin  # noqa: E401
t1 = time.perf_counter()
from thinkdraw import Engine
eng = Engine()
eng.critic
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def wall(cmd: list[str], cwd: str) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--mode", default="reflect")
    a = ap.parse_args()
    exe = str(Path(sys.executable).with_name("thinkdraw"))
    out: dict[str, list[float]] = {"cli wall": [], "cli plan wall": [], "import": [], "load": [], "per image": []}
    with tempfile.TemporaryDirectory() as d:
        for k in range(a.n):
            out["cli wall"].append(wall([exe, "generate", PROMPT, "-o", f"o{k}.png", "--mode", a.mode, "-q"], d))
            out["cli plan wall"].append(wall([exe, "plan", PROMPT], d))
            r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
            imp, load = map(float, r.stdout.split())
            out["import"].append(imp)
            out["load"].append(load)
    from thinkdraw import Engine

    eng = Engine()
    for s in range(2):
        eng.generate(PROMPT, seed=s, mode=a.mode)
    for s in range(a.n):
        out["per image"].append(eng.generate(PROMPT, seed=100 + s, mode=a.mode).timings["total"])
    for k, v in out.items():
        print(f"{k:>14}: median {statistics.median(v):.3f} s  (min {min(v):.3f}, max {max(v):.3f}, n={len(v)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
