"""Validation of the eval's identity judge (eval/identity.py) against its bars (issue 11 section 1).

    python benchmarks/bench_identity.py --split validate/0 --n 200   # the figures (plans never tuned on)
    python benchmarks/bench_identity.py --split tune/0 --n 200 --calibrate   # floors from clean tuning renders

Plans: ``sample_spec(random.Random(split), "heldout")`` planned by ``plan_prompt(prompt, seed=i)`` and drawn by
the sketch renderer (``render_scene(plan, seed=i)``). Per plan: every identity fact on the clean render (the
share that passes is *clean*), then one defect of each kind from ``eval/defects.py`` (``inject_swap``,
``inject_blob`` hull / ellipse / blur / smear), drawn from the stream ``identity-defects/{split}/{i}``; a defect
is *caught* when the identity fact of the changed thing fails. Only identity facts are counted (no OCR).

``--calibrate`` prints, per category, the lowest crispness seen on clean renders (eval/identity.py CRISP_MIN is
that, times ``CRISP_SHARE``, from ``tune/0``), the lowest soft rim of the things not held to crispness
(RIM_MIN is set under it from ``tune/0`` and ``tune/1``), and per category the lowest layout match of the things
not held to crispness (SOFT_LAYOUT: the categories with at least 10 of them over ``tune/0`` and ``tune/1``, 200
plans each); it never looks at defects.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path


def _plans(split: str, n: int):
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.sampler import sample_spec

    rng = random.Random(split)
    for i in range(n):
        prompt = sample_spec(rng, "heldout")[0]
        yield i, prompt, plan_prompt(prompt, seed=i)[1]


def _identity_facts(img, plan) -> dict[str, tuple[bool, str]]:
    from thinkdraw.eval.fidelity import score_image

    f = score_image(img, plan, text=False, identity=True)
    return {x.target: (x.passed, x.detail) for x in f.facts if x.kind == "identity"}


def calibrate(a) -> dict:
    import numpy as np

    from thinkdraw.eval.identity import (
        MIN_BORDER,
        category_scores,
        crispness,
        edge_sharpness,
        exclusions,
        outline_visible,
        soft_rim,
    )
    from thinkdraw.pixels import background_of
    from thinkdraw.world.render import DRAWERS, render_scene

    low: dict[str, float] = defaultdict(lambda: float("inf"))
    n = Counter()
    vals: dict[str, list[float]] = defaultdict(list)
    rims: list[float] = []
    soft_lay: dict[str, list[float]] = defaultdict(list)
    sharp: list[tuple[float, str]] = []
    for i, _, plan in _plans(a.split, a.n):
        img = np.asarray(render_scene(plan, seed=i).image, np.float32)
        bg = background_of(plan, img.shape[1], img.shape[0])
        for e in plan.entities:
            if e.category not in DRAWERS or e.box is None:
                continue
            c, border = crispness(img, bg, e.box, exclusions(plan, e))
            if (sh := edge_sharpness(img, bg, e.box, exclusions(plan, e))) >= 0:
                sharp.append((sh, e.category))
            if border >= MIN_BORDER and outline_visible(e, bg):
                low[e.category] = min(low[e.category], c)
                vals[e.category].append(c)
                n[e.category] += 1
            else:
                if not any(t.on == e.id for t in plan.texts):
                    lay, _ = category_scores(img, bg, e.box, e.attributes.color, exclusions(plan, e))
                    soft_lay[e.category].append(lay[e.category])
                if (r := soft_rim(img, bg, e.box, exclusions(plan, e))) >= 0:
                    rims.append(r)
    out = {k: {"min": round(low[k], 3), "n": n[k], "q05": round(float(np.quantile(vals[k], 0.05)), 3)}
           for k in sorted(low)}
    for k, v in out.items():
        print(f"{k:>10}: lowest clean crispness {v['min']:.3f} (5% quantile {v['q05']:.3f}) over {v['n']} things")
    if rims:
        out["_soft_rim"] = {"min": round(min(rims), 3), "n": len(rims), "q05": round(float(np.quantile(rims, 0.05)), 3)}
        print(f"things not held to crispness: lowest soft rim {min(rims):.3f} over {len(rims)} things")
    for k in sorted(soft_lay):
        print(f"{k:>10}: not held to crispness, lowest clean layout {min(soft_lay[k]):.3f} over {len(soft_lay[k])}")
    if sharp:
        lo = min(sharp)
        out["_sharpness"] = {"min": round(lo[0], 3), "n": len(sharp), "category": lo[1],
                             "q05": round(float(np.quantile([v for v, _ in sharp], 0.05)), 3)}
        print(f"every thing: lowest edge sharpness {lo[0]:.3f} ({lo[1]}) over {len(sharp)} things")
    out["_soft_layout"] = {k: {"min": round(min(v), 3), "n": len(v)} for k, v in sorted(soft_lay.items())}
    return out


def validate(a) -> dict:
    from thinkdraw.eval.defects import BLOB_KINDS, IDENTITY_KINDS, inject_blob, inject_swap
    from thinkdraw.world.render import render_scene

    ok = tot = 0
    n, hit = Counter(), Counter()
    misses: list[str] = []
    secs = boxes = 0.0
    for i, prompt, plan in _plans(a.split, a.n):
        if a.progress and i and i % a.progress == 0:
            print(f"  after {i} plans: clean {ok}/{tot}; " + ", ".join(f"{k} {hit[k]}/{n[k]}" for k in n), flush=True)
        img = render_scene(plan, seed=i).image
        t = time.perf_counter()
        facts = _identity_facts(img, plan)
        if i >= a.warm:
            secs += time.perf_counter() - t
            boxes += len(facts)
        ok += sum(p for p, _ in facts.values())
        tot += len(facts)
        misses += [f"clean {prompt!r}: {d}" for p, d in facts.values() if not p]
        irng = random.Random(f"identity-defects/{a.split}/{i}")
        for kind in IDENTITY_KINDS:
            if kind == "swap":
                d = inject_swap(plan, irng)
                d = None if d is None else (render_scene(d[0], seed=i).image, d[1], d[2])
            else:
                assert kind in BLOB_KINDS
                d = inject_blob(plan, irng, kind, seed=i)
            if d is None:
                continue
            f = _identity_facts(d[0], plan)
            caught = any(not f[tg][0] for tg in d[2] if tg in f)
            n[kind] += 1
            hit[kind] += int(caught)
            if not caught:
                misses += [f"{kind} {prompt!r}: " + "; ".join(f[tg][1] for tg in d[2] if tg in f)]
    out = {"split": a.split, "plans": a.n, "clean": ok / max(1, tot), "clean_n": tot,
           "caught": {k: hit[k] / n[k] for k in n}, "n": dict(n),
           "ms_per_box_warm": 1000 * secs / max(1, boxes)}
    print(f"identity judge on sketch renders of {a.n} plans ({a.split}): clean {ok}/{tot} = {out['clean']:.3f}")
    for k in IDENTITY_KINDS:
        if n[k]:
            print(f"  {k:>7} caught {hit[k]}/{n[k]} = {hit[k] / n[k]:.3f}")
    print(f"  {out['ms_per_box_warm']:.1f} ms per box (clean renders after the first {a.warm} plans)")
    for m in misses[: a.show]:
        print("  miss:", m)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="validate/0", help="plan stream (tune/* is for thresholds)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--warm", type=int, default=20, help="plans before the per-box timing starts")
    ap.add_argument("--show", type=int, default=0, help="print this many misses")
    ap.add_argument("--progress", type=int, default=0, help="print running figures every this many plans")
    ap.add_argument("--calibrate", action="store_true", help="lowest clean crispness per category (tuning)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    out = calibrate(a) if a.calibrate else validate(a)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
