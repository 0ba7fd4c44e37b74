"""A labelled grid of images for the same held-out prompts, one column per (renderer, mode): what a reader
looks at to see what the generator draws (docs/images/).

    python benchmarks/grid.py --n 8 --seed 11 --out docs/images/grid.png \
        --columns builtin:direct,builtin:think,builtin:reflect,scene:think,scene:reflect,sketch:think

Prompts: the eval's held-out prompts (``thinkdraw eval``'s sampler) for ``--seed``, first of each category in
turn. Every image runs the real code path (Engine.generate with the named renderer and mode).
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default="grid.png")
    ap.add_argument("--columns", default="builtin:direct,builtin:think,builtin:reflect,sketch:think")
    ap.add_argument("--weights", default=None, help="a weights folder (e.g. the old weights, from git history)")
    a = ap.parse_args()

    from thinkdraw import Engine
    from thinkdraw.eval.suite import EVAL_CATEGORIES, eval_items

    items = eval_items(a.n * len(EVAL_CATEGORIES), seed=a.seed)
    picked, seen = [], set()
    for k in range(len(items)):  # one per category in turn
        it = items[(k % len(EVAL_CATEGORIES)) * a.n + k // len(EVAL_CATEGORIES)]
        if it.prompt not in seen:
            picked.append(it)
            seen.add(it.prompt)
        if len(picked) == a.n:
            break
    cols = [c.split(":") for c in a.columns.split(",")]
    engines = {r: Engine(renderer=r, weights=a.weights) for r in {c[0] for c in cols}}
    S, top, left = 256, 28, 230
    sheet = Image.new("RGB", (left + len(cols) * (S + 6), top + len(picked) * (S + 6)), "white")
    d = ImageDraw.Draw(sheet)
    for j, (r, mode) in enumerate(cols):
        d.text((left + j * (S + 6) + 4, 8), f"{r} / {mode}", fill=(0, 0, 0))
    for i, it in enumerate(picked):
        y = top + i * (S + 6)
        d.multiline_text((6, y + 4), "\n".join(textwrap.wrap(f"{it.category}: {it.prompt}", 34)), fill=(0, 0, 0))
        for j, (r, mode) in enumerate(cols):
            res = engines[r].generate(it.prompt, seed=it.seed, mode=mode)
            sheet.paste(res.image.resize((S, S)), (left + j * (S + 6), y))
            print(f"{i} {r}/{mode}: {it.prompt}", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
