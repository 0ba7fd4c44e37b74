"""Time the world renderer on synthetic plans.

    python benchmarks/bench_render.py --n 1000 [--size 256] [--seed 0]

Prints the render time per scene (mean, p50, p95) and the total.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from thinkdraw.plan.schema import Attributes, Background, Entity, Lighting, ScenePlan, TextBlock
from thinkdraw.world.render import render_scene, text_panel
from thinkdraw.world.vocab import (
    BACKGROUND_KINDS,
    CATEGORIES,
    CATEGORY_NAMES,
    COLOR_NAMES,
    LIGHT_DIRECTIONS,
    TIMES,
)

WORDS = ("OPEN", "SALE", "Hello", "Welcome Home", "Happy Birthday", "STOP", "Cafe 24/7", "No Parking")


def random_plan(rng: np.random.Generator) -> ScenePlan:
    """1-6 entities with random categories (some open-vocabulary), colors and boxes; a text on carriers."""
    entities, texts = [], []
    for i in range(int(rng.integers(1, 7))):
        cat = None if rng.random() < 0.08 else str(rng.choice(CATEGORY_NAMES))
        spec = CATEGORIES.get(cat or "", None)
        aspect = spec.aspect if spec else float(rng.uniform(0.5, 1.5))
        w = float(rng.uniform(0.08, 0.45))
        h = min(0.9, w * aspect * float(rng.uniform(0.85, 1.15)))
        x0, y0 = float(rng.uniform(0, 1 - w)), float(rng.uniform(0, 1 - h))
        color = str(rng.choice(COLOR_NAMES)) if rng.random() < 0.7 else None
        e = Entity(id=f"e{i}", noun=cat or "thing", category=cat, box=(x0, y0, x0 + w, y0 + h),
                   z=int(rng.integers(0, 2)), attributes=Attributes(color=color))
        entities.append(e)
        if spec and spec.carries_text:
            texts.append(TextBlock(id=f"t{i}", content=str(rng.choice(WORDS)), on=e.id,
                                   box=text_panel(e.box, cat)))
    bg = Background(kind=str(rng.choice(BACKGROUND_KINDS)), time=str(rng.choice(TIMES)))
    return ScenePlan(background=bg, lighting=Lighting(direction=str(rng.choice(LIGHT_DIRECTIONS))),
                     entities=entities, texts=texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=None, help="output width (default: the plan canvas, 256)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    plans = [random_plan(rng) for _ in range(args.n)]
    render_scene(plans[0], size=args.size)  # warm caches (fonts, backgrounds)
    times = []
    for i, plan in enumerate(plans):
        t0 = time.perf_counter()
        render_scene(plan, size=args.size, seed=i)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    n_ent = sum(len(p.entities) for p in plans)
    print(f"scenes: {args.n}  entities: {n_ent} ({n_ent / args.n:.1f}/scene)  size: {args.size or 256}")
    print(f"per scene: mean {ms.mean():.2f} ms  p50 {np.percentile(ms, 50):.2f} ms  "
          f"p95 {np.percentile(ms, 95):.2f} ms  max {ms.max():.2f} ms")
    print(f"total: {ms.sum() / 1000:.2f} s")


if __name__ == "__main__":
    main()
