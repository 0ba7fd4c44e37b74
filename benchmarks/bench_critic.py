"""Validate the builtin critic (reflect/builtin.py) on sketch renders of held-out plans.

    python benchmarks/bench_critic.py --n 500

The critic is the segmenter (category/colour maps: where things are) plus the box verifier (what each planned
box holds); --no-verifier measures the segmenter alone.

clean:   sketch renders of the plans must pass their checks (target >= 0.99 of checks)
defects: each plan is rendered once more with one injected defect — an object removed, recoloured,
         moved across its reference, or a letter of its text changed — and the critic must flag it:
         recall    = share of defect images with a failed check about the defect (target >= 0.95)
         precision = share of failed checks on defect images that are about the defect (target >= 0.95)
identity defects (eval/defects.py IDENTITY_KINDS, the same as the eval judge's validation): one thing redrawn
         as another category (swap), or replaced by a blob of its colour in its place (hull, ellipse, blur,
         smear); drawn from their own random stream per plan, so the figures above are unchanged; recall and
         precision as above, per kind (--no-identity skips them)
generated (--generated): each plan also drawn by the builtin renderer (think mode, the same seed); the share of
         planned things whose presence check passes there (how often reflection would redraw a drawing of
         the generator's that the critic calls not that thing; --renderer-weights DIR for other weights)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--weights", help="critic weights (default: the bundled models/weights/critic.safetensors)")
    ap.add_argument("--verifier", help="box verifier weights (default: the bundled models/weights/verifier.safetensors)")
    ap.add_argument("--no-verifier", action="store_true", help="judge categories and colours by the segmenter alone")
    ap.add_argument("--show", type=int, default=0, help="print this many failed checks on clean renders")
    ap.add_argument("--no-identity", action="store_true", help="skip the identity defects (swap, blobs)")
    ap.add_argument("--generated", action="store_true", help="also check the builtin renderer's own drawings")
    ap.add_argument("--renderer-weights", help="weights folder for --generated (default: the bundled ones)")
    a = ap.parse_args()
    renderer = None
    if a.generated:
        from thinkdraw.draw.builtin import BuiltinRenderer

        renderer = BuiltinRenderer(weights=a.renderer_weights)
    gen_ok = gen_n = 0
    from thinkdraw.eval.defects import IDENTITY_KINDS, inject, inject_blob, inject_swap
    from thinkdraw.reflect.builtin import BuiltinCritic
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.render import render_scene
    from thinkdraw.world.sampler import sample_spec

    critic = BuiltinCritic(path=a.weights, verifier=False if a.no_verifier else None, verifier_path=a.verifier)
    shown = 0
    rng = random.Random(f"bench-critic/{a.seed}")
    clean_ok = clean_n = 0
    by_kind_clean: Counter = Counter()
    by_kind_tot: Counter = Counter()
    recall_hit = recall_n = flagged = flagged_right = 0
    per_defect: Counter = Counter()
    per_defect_hit: Counter = Counter()
    id_n: Counter = Counter()
    id_hit: Counter = Counter()
    id_flagged: Counter = Counter()
    id_right: Counter = Counter()
    t0 = time.perf_counter()
    for i in range(a.n):
        prompt = sample_spec(rng, "heldout")[0]
        _, plan = plan_prompt(prompt, seed=i)
        cr = critic.check(render_scene(plan, seed=i).image, plan)
        for c in cr.checks:
            if not c.passed and shown < a.show:
                shown += 1
                print(f"clean miss: {prompt!r}: {c.kind} {c.target}: expected {c.expected}, observed {c.observed}")
            by_kind_tot[c.kind] += 1
            by_kind_clean[c.kind] += int(c.passed)
        clean_ok += sum(c.passed for c in cr.checks)
        clean_n += len(cr.checks)
        if renderer is not None:
            pres = [c for c in critic.check(renderer.draw(plan, seed=i).image, plan).checks if c.kind == "presence"]
            gen_ok += sum(c.passed for c in pres)
            gen_n += len(pres)
        if not a.no_identity:
            irng = random.Random(f"identity-defects/{a.seed}/{i}")
            for kind in IDENTITY_KINDS:
                if kind == "swap":
                    di = inject_swap(plan, irng)
                    di = None if di is None else (render_scene(di[0], seed=i).image, di[1], di[2])
                else:
                    di = inject_blob(plan, irng, kind, seed=i)
                if di is None:
                    continue
                fails_i = [c for c in critic.check(di[0], plan).checks if not c.passed]
                right_i = [c for c in fails_i if c.target in di[2]]
                id_n[kind] += 1
                id_hit[kind] += int(bool(right_i))
                id_flagged[kind] += len(fails_i)
                id_right[kind] += len(right_i)
        d = inject(plan, rng)
        if d is None:
            continue
        bad, kind, targets = d
        cr2 = critic.check(render_scene(bad, seed=i).image, plan)
        fails = [c for c in cr2.checks if not c.passed]
        right = [c for c in fails if c.target in targets]
        recall_n += 1
        recall_hit += int(bool(right))
        per_defect[kind] += 1
        per_defect_hit[kind] += int(bool(right))
        flagged += len(fails)
        flagged_right += len(right)
    out = {"clean_pass": clean_ok / clean_n, "clean_by_kind": {k: by_kind_clean[k] / by_kind_tot[k] for k in by_kind_tot},
           "recall": recall_hit / max(1, recall_n), "precision": flagged_right / max(1, flagged),
           "recall_by_defect": {k: per_defect_hit[k] / per_defect[k] for k in per_defect}, "defects": recall_n,
           "identity_defects": {k: {"n": id_n[k], "recall": id_hit[k] / id_n[k],
                                    "precision": id_right[k] / max(1, id_flagged[k])} for k in IDENTITY_KINDS if id_n[k]},
           "seconds": time.perf_counter() - t0}
    if gen_n:
        out["generated_presence_pass"] = gen_ok / gen_n
    print(f"clean sketch renders: {clean_ok}/{clean_n} checks pass ({out['clean_pass']:.3f}); by kind: "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(out["clean_by_kind"].items())))
    print(f"injected defects: recall {out['recall']:.3f} ({recall_hit}/{recall_n}), precision {out['precision']:.3f} "
          f"({flagged_right}/{flagged}); recall by defect: "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(out["recall_by_defect"].items())))
    for k, v in out["identity_defects"].items():
        print(f"identity defect {k:>7}: recall {v['recall']:.3f} ({round(v['recall'] * v['n'])}/{v['n']}), "
              f"precision {v['precision']:.3f}")
    if gen_n:
        print(f"builtin renderer's drawings: {gen_ok}/{gen_n} planned things pass presence "
              f"({out['generated_presence_pass']:.3f})")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
