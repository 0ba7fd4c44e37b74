"""The critic's text reader (models/reader.py) next to Tesseract, on the crops the critic takes.

    python benchmarks/bench_reader.py --n 200 [--random 200] [--json out.json]

For ``--n`` held-out sign prompts (world sampler, split "heldout", task "text"; planned by the rules
planner) each text block is cropped as the critic crops it (its planned box plus 3 px) from
  sketch   the world's exact render of the plan (render_scene)
  builtin  the bundled generator's first drawing of the plan (BuiltinRenderer, think mode, no reflection)
and read by the bundled reader and by Tesseract (the eval judge's reader, eval/fidelity.ocr at its upscales,
stopping at the expected string, as the critic used it before), on the same crop. ``--random`` adds sketch
renders of signs whose strings are random (letters, digits, symbols, 1-20 characters: the training script's
string generator with another seed) - strings the templates never make. Latency: median per crop, batch of
one, after warm-up. Tesseract columns are skipped (null) where it is not installed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time


def tesseract(crop, expected: str) -> str:
    from thinkdraw.eval.fidelity import OCR_SCALES, ocr

    read = ""
    for scale in OCR_SCALES:
        read = ocr(crop, scale)
        if read == expected:
            break
    return read


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--random", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", help="reader weights (default: the bundled models/weights/reader.safetensors)")
    ap.add_argument("--show", type=int, default=5, help="print this many misreadings per set")
    ap.add_argument("--json")
    a = ap.parse_args()
    import numpy as np

    from thinkdraw.draw.builtin import BuiltinRenderer
    from thinkdraw.models.bundled import load_reader, set_threads
    from thinkdraw.models.reader import crop_text
    from thinkdraw.think import plan_prompt
    from thinkdraw.train.reader import random_text
    from thinkdraw.world.layout import solve_layout
    from thinkdraw.world.render import render_scene
    from thinkdraw.world.sampler import sample_spec

    set_threads()
    reader = load_reader(a.weights)
    has_tess = shutil.which("tesseract") is not None
    renderer = BuiltinRenderer()
    rng = random.Random(f"bench-reader/{a.seed}")
    sets: dict[str, list] = {"sketch": [], "builtin": [], "random_sketch": []}
    for i in range(a.n):
        _, plan = plan_prompt(sample_spec(rng, "heldout", task="text")[0], seed=i)
        sk = render_scene(plan, seed=i).image
        bi = renderer.draw(plan, seed=i).image
        for t in plan.texts:
            if t.box is not None:
                sets["sketch"].append((crop_text(sk, t.box), t.content))
                sets["builtin"].append((crop_text(bi, t.box), t.content))
    g = np.random.default_rng([a.seed, 99])
    for i in range(a.random):
        _, plan = plan_prompt("a sign that says 'OPEN'", seed=i)
        plan = plan.model_copy(deep=True)
        plan.texts[0].content = random_text(g)
        plan.texts[0].box = None
        plan = solve_layout(plan, seed=i).plan
        sets["random_sketch"].append((crop_text(render_scene(plan, seed=i).image, plan.texts[0].box),
                                      plan.texts[0].content))
    out: dict = {"n_prompts": a.n, "tesseract": has_tess}
    for name, items in sets.items():
        if not items:
            continue
        crops, want = [c for c, _ in items], [w for _, w in items]
        reads = reader.read(crops)
        row = {"crops": len(items), "reader_exact": float(np.mean([r == w for r, w in zip(reads, want, strict=True)]))}
        miss = [(w, r) for r, w in zip(reads, want, strict=True) if r != w]
        for w, r in miss[: a.show]:
            print(f"{name}: reader read {r!r} for {w!r}")
        if has_tess:
            treads = [tesseract(c, w) for c, w in items]
            row["tesseract_exact"] = float(np.mean([r == w for r, w in zip(treads, want, strict=True)]))
        else:
            row["tesseract_exact"] = None
        out[name] = row
        print(f"{name:>14}: {len(items)} crops, reader exact {row['reader_exact']:.3f}, tesseract exact "
              + (f"{row['tesseract_exact']:.3f}" if has_tess else "n/a (not installed)"))
    crops = [c for c, _ in sets["sketch"][:50]] or [c for c, _ in sets["random_sketch"][:50]]
    for c in crops[:5]:
        reader.read([c])  # warm-up
    ts = []
    for c in crops:
        t0 = time.perf_counter()
        reader.read([c])
        ts.append(time.perf_counter() - t0)
    out["reader_ms_per_crop"] = statistics.median(ts) * 1000
    line = f"latency per crop (median of {len(ts)}): reader {out['reader_ms_per_crop']:.1f} ms"
    if has_tess:
        ts = []
        for c, w in sets["sketch"][:50]:
            t0 = time.perf_counter()
            tesseract(c, w)
            ts.append(time.perf_counter() - t0)
        out["tesseract_ms_per_crop"] = statistics.median(ts) * 1000
        line += f", tesseract {out['tesseract_ms_per_crop']:.1f} ms (at its upscales until exact)"
    print(line)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
