"""Figures for the bundled generator (issue: think-then-draw on a CPU).

    python benchmarks/bench_generate.py latency            # median of 10 after warm-up per mode, peak RSS
    python benchmarks/bench_generate.py fidelity --n 200   # held-out world prompts, think vs direct vs sketch
    python benchmarks/bench_generate.py text --n 100       # held-out sign prompts (3-10 chars), Tesseract exact match
                                          [--mode reflect]
    python benchmarks/bench_generate.py validate --n 500   # the eval scorer on sketch renders and injected defects
                                                           # (+ identity: category swaps and blobs)
    python benchmarks/bench_generate.py tokenizer --n 100  # reconstruction PSNR on held-out world images

Every figure runs the real code path (Engine / BuiltinRenderer with the bundled weights).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def heldout_prompts(n: int, seed: int = 0, task: str | None = None) -> list[str]:
    from thinkdraw.world.sampler import sample_spec

    rng = random.Random(f"bench-generate/{seed}/{task}")
    return [sample_spec(rng, "heldout", task=task)[0] for _ in range(n)]


def cmd_latency(a) -> dict:
    from thinkdraw import Engine

    eng = Engine()
    prompt = "two red apples to the left of a blue cup and a sign that says OPEN"
    out = {}
    for mode in (a.modes or "think,direct,reflect,interleaved").split(","):
        for _ in range(2):
            eng.generate(prompt, seed=0, mode=mode)  # warm-up
        ts, stages = [], Counter()
        for k in range(a.n):
            r = eng.generate(prompt, seed=k, mode=mode)
            ts.append(r.timings["total"])
            stages.update(r.timings)
        out[mode] = {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts),
                     "mean_stage_s": {k: v / a.n for k, v in stages.items()}}
        print(f"{mode:>6}: median {out[mode]['median_s'] * 1000:.0f} ms (min {min(ts) * 1000:.0f}, max "
              f"{max(ts) * 1000:.0f}) over {a.n} runs; stages " +
              ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in out[mode]["mean_stage_s"].items()))
    out["peak_rss_mb"] = peak_rss_mb()
    print(f"peak RSS {out['peak_rss_mb']:.0f} MB")
    return out


def _score(prompts: list[str], mode: str, text: bool, save: Path | None = None) -> dict:
    from thinkdraw import Engine
    from thinkdraw.eval.fidelity import score_image
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.render import render_scene

    eng = Engine(renderer="sketch" if mode == "sketch" else "builtin")
    ok, tot, prompt_ok, times = Counter(), Counter(), 0, []
    for i, p in enumerate(prompts):
        _, plan = plan_prompt(p, seed=i)  # the reference plan: what think mode draws from
        t = time.perf_counter()
        if mode == "sketch":
            img = render_scene(plan, seed=i).image
        else:
            img = eng.generate(p, seed=i, mode=mode).image
        times.append(time.perf_counter() - t)
        f = score_image(img, plan, text=text)
        for x in f.facts:
            ok[x.kind] += int(x.passed)
            tot[x.kind] += 1
        prompt_ok += int(f.all_passed)
        if save is not None and i < 16:
            save.mkdir(parents=True, exist_ok=True)
            img.save(save / f"{mode}-{i:02d}.png")
    facts = sum(ok.values()) / max(1, sum(tot.values()))
    return {"per_kind": {k: ok[k] / tot[k] for k in tot}, "counts": {k: [ok[k], tot[k]] for k in tot},
            "facts": facts, "prompts_all_correct": prompt_ok / len(prompts),
            "median_latency_s": statistics.median(times)}


def cmd_fidelity(a) -> dict:
    prompts = heldout_prompts(a.n, a.seed)
    out = {}
    for mode in (a.modes or "think,direct,sketch").split(","):
        r = _score(prompts, mode, text=not a.no_text, save=Path(a.save) if a.save else None)
        out[mode] = r
        kinds = "  ".join(f"{k} {v:.3f}" for k, v in sorted(r["per_kind"].items()))
        print(f"{mode:>7}: facts {r['facts']:.3f}  prompts-all-correct {r['prompts_all_correct']:.3f}  | {kinds}")
    return out


def cmd_text(a) -> dict:
    from thinkdraw import Engine
    from thinkdraw.eval.fidelity import read_text

    eng = Engine(renderer="sketch" if a.sketch else "builtin")
    prompts = heldout_prompts(a.n * 3, a.seed, task="text")
    hits = tot = 0
    misses = []
    for i, p in enumerate(prompts):
        r = eng.generate(p, seed=i, mode=a.mode)
        for t in r.plan.texts:
            if not (3 <= len(t.content) <= 10) or t.box is None:
                continue
            read = read_text(r.image, t.box, t.content)  # the eval scorer's reading
            hits += int(read == t.content)
            tot += 1
            if read != t.content:
                misses.append((t.content, read))
        if tot >= a.n:
            break
    print(f"text exact match (Tesseract), {a.mode} mode: {hits}/{tot} = {hits / max(1, tot):.3f}")
    for m in misses[:10]:
        print(f"   expected {m[0]!r}, read {m[1]!r}")
    return {"exact": hits / max(1, tot), "n": tot, "misses": misses[:20]}


def cmd_validate(a) -> dict:
    """The eval scorer must pass sketch renders and flag injected defects (the critic's protocol, same plans).

    Identity defects (eval/defects.py IDENTITY_KINDS: a category swap and four blob kinds) are drawn from
    their own random stream per plan, so the figures of the other defects stay those of the same plans and
    defects as before; their images are scored without OCR (no text is changed by them)."""
    from thinkdraw.eval.defects import IDENTITY_KINDS, inject, inject_blob, inject_swap
    from thinkdraw.eval.fidelity import score_image
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.render import render_scene
    from thinkdraw.world.sampler import sample_spec

    rng = random.Random(f"bench-critic/{a.seed}")  # the same plans and defects as benchmarks/bench_critic.py
    clean_ok = clean_tot = hit = n_def = flagged = right = shown = 0
    by_kind, per_def, per_def_hit = Counter(), Counter(), Counter()
    by_kind_ok = Counter()
    id_n, id_hit, id_by_identity, id_flagged, id_right = Counter(), Counter(), Counter(), Counter(), Counter()
    id_secs, id_boxes = 0.0, 0
    for i in range(a.n):
        prompt = sample_spec(rng, "heldout")[0]
        _, plan = plan_prompt(prompt, seed=i)
        clean_img = render_scene(plan, seed=i).image
        f = score_image(clean_img, plan, identity=True)
        t = time.perf_counter()
        score_image(clean_img, plan, text=False, identity=True)
        t_id = time.perf_counter() - t
        t = time.perf_counter()
        score_image(clean_img, plan, text=False, identity=False)
        id_secs += max(0.0, t_id - (time.perf_counter() - t))
        id_boxes += sum(x.kind == "identity" for x in f.facts)
        if not a.no_identity:
            irng = random.Random(f"identity-defects/{a.seed}/{i}")
            for kind in IDENTITY_KINDS:
                if kind == "swap":
                    d = inject_swap(plan, irng)
                    d = None if d is None else (render_scene(d[0], seed=i).image, d[1], d[2])
                else:
                    d = inject_blob(plan, irng, kind, seed=i)
                if d is None:
                    continue
                f3 = score_image(d[0], plan, text=False, identity=True)
                fails = [x for x in f3.facts if not x.passed]
                good = [x for x in fails if x.target in d[2]]
                id_n[kind] += 1
                id_hit[kind] += int(bool(good))
                id_by_identity[kind] += int(any(x.kind == "identity" for x in good))
                id_flagged[kind] += len(fails)
                id_right[kind] += len(good)
        for x in f.facts:
            by_kind[x.kind] += 1
            by_kind_ok[x.kind] += int(x.passed)
            if not x.passed and shown < a.show:
                shown += 1
                print(f"clean miss: {prompt!r}: {x.kind} {x.target}: {x.detail}")
        clean_ok += sum(x.passed for x in f.facts)
        clean_tot += len(f.facts)
        d = inject(plan, rng)
        if d is None:
            continue
        bad, kind, targets = d
        f2 = score_image(render_scene(bad, seed=i).image, plan)
        fails = [x for x in f2.facts if not x.passed]
        good = [x for x in fails if x.target in targets]
        n_def += 1
        hit += int(bool(good))
        per_def[kind] += 1
        per_def_hit[kind] += int(bool(good))
        flagged += len(fails)
        right += len(good)
    out = {"clean_pass_rate": clean_ok / clean_tot, "clean_by_kind": {k: by_kind_ok[k] / by_kind[k] for k in by_kind},
           "defect_recall": hit / max(1, n_def), "defect_precision": right / max(1, flagged), "defects": n_def,
           "recall_by_defect": {k: per_def_hit[k] / per_def[k] for k in per_def}}
    other = [k for k in by_kind if k != "identity"]
    out["clean_pass_rate_without_identity"] = sum(by_kind_ok[k] for k in other) / max(1, sum(by_kind[k] for k in other))
    out["identity_defects"] = {k: {"n": id_n[k], "caught": id_hit[k] / id_n[k], "caught_by_identity":
                                   id_by_identity[k] / id_n[k], "precision": id_right[k] / max(1, id_flagged[k])}
                               for k in IDENTITY_KINDS if id_n[k]}
    out["identity_ms_per_box"] = 1000 * id_secs / max(1, id_boxes)
    print(f"eval scorer on sketch renders of {a.n} held-out plans: {clean_ok}/{clean_tot} facts pass "
          f"({out['clean_pass_rate']:.3f}); by kind: "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(out["clean_by_kind"].items())))
    print(f"injected defects: recall {out['defect_recall']:.3f} ({hit}/{n_def}), precision "
          f"{out['defect_precision']:.3f} ({right}/{flagged}); recall by defect: "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(out["recall_by_defect"].items())))
    print(f"clean facts without identity: {out['clean_pass_rate_without_identity']:.3f}; identity on clean: "
          f"{out['clean_by_kind'].get('identity', float('nan')):.3f}; identity costs "
          f"{out['identity_ms_per_box']:.1f} ms per box (after the first images warm the template cache)")
    for k, v in out["identity_defects"].items():
        print(f"identity defect {k:>7}: caught {v['caught']:.3f} ({round(v['caught'] * v['n'])}/{v['n']}), "
              f"by an identity fact {v['caught_by_identity']:.3f}, precision {v['precision']:.3f}")
    return out


def cmd_tokenizer(a) -> dict:
    from thinkdraw.models.bundled import load_tokenizer
    from thinkdraw.train.tokenizer import evaluate

    r = evaluate(load_tokenizer(), a.n)
    print(f"tokenizer reconstruction on {a.n} held-out world images: PSNR {r['psnr']:.2f} dB "
          f"(without the glyph raster {r['psnr_no_glyph']:.2f} dB)")
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["latency", "fidelity", "text", "validate", "tokenizer"])
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=None,
                    help="comma-separated (latency: think,direct,reflect,interleaved; fidelity: think,direct,sketch)")
    ap.add_argument("--no-text", action="store_true", help="fidelity without OCR checks")
    ap.add_argument("--sketch", action="store_true", help="text: the sketch renderer (OCR's upper bound)")
    ap.add_argument("--mode", default="reflect", help="text: the engine mode (default reflect)")
    ap.add_argument("--save", help="save the first images of each mode here")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--show", type=int, default=0, help="validate: print this many failed facts on clean renders")
    ap.add_argument("--no-identity", action="store_true", help="validate: skip the identity defects (swap, blobs)")
    a = ap.parse_args()
    a.n = a.n or {"latency": 10, "fidelity": 200, "text": 100, "validate": 500, "tokenizer": 100}[a.what]
    from thinkdraw.models.bundled import set_threads

    set_threads()
    out = globals()[f"cmd_{a.what}"](a)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
