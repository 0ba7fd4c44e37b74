"""Editing benchmark (issue 12): describe (pixels -> plan) and edit by instruction.

    python benchmarks/bench_edit.py --n 20 --seed 0 [--builtin K] [--out DIR]

describe  on held-out world scenes (the sampler's heldout split, drawn by the world renderer), sketch renders
          (the rules planner's plan of each held-out prompt, drawn by the sketch renderer) and, with
          --builtin K, builtin renders of the first K plans. Described things are matched to planned ones
          greedily by box IoU (>= 0.3); reported: entity recall and precision, category and colour accuracy of
          matched things, mean box IoU of matched things, text exact match (planned strings read exactly),
          background kind and time accuracy.
edit      on the held-out scenes, one instruction per kind written from the scene's own plan (recolor, remove,
          add, move, resize, count, text, time); each is edited with the sketch renderer in think mode.
          ``followed``: the edit planned the expected operation and the eval scorer
          (thinkdraw.eval.fidelity.score_image) passes every fact of the edited plan on the edited image;
          ``outside_changed``: pixels changed outside the edit's regions (must be 0); latency per edit.
compose   (--compose) pairs of held-out scenes: a thing of A put into B, and on B's background alone
sessions  (--sessions) a session per scene with three edits, an undo and a branch: the store's cost per turn
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from thinkdraw.edit.refs import color_name, locate
from thinkdraw.plan.schema import box_iou
from thinkdraw.world.vocab import CATEGORIES, COLOR_NAMES


def match(truth, got):
    pairs, used = [], set()
    cand = sorted(((box_iou(t.box, g.box), i, j) for i, t in enumerate(truth) for j, g in enumerate(got)
                   if t.box and g.box), reverse=True)
    ti = set()
    for iou, i, j in cand:
        if iou < 0.3 or i in ti or j in used:
            continue
        ti.add(i)
        used.add(j)
        pairs.append((truth[i], got[j], iou))
    return pairs


def describe_scores(items, describer) -> dict:
    from thinkdraw.edit.describe import describe_image

    agg = defaultdict(list)
    for plan, image in items:
        t = time.perf_counter()
        d, _ = describe_image(image, describer)
        agg["seconds"].append(time.perf_counter() - t)
        truth = [e for e in plan.entities if e.box and e.category in CATEGORIES]
        pairs = match(truth, d.entities)
        agg["tp"].append(len(pairs))
        agg["n_truth"].append(len(truth))
        agg["n_got"].append(len(d.entities))
        for t_, g, iou in pairs:
            agg["category"].append(t_.category == g.category)
            # the colour the renderers draw: a thing with no colour (and no category default) is drawn gray
            # (world/render.entity_color), so gray is the right answer for it, not "no colour"
            agg["color"].append(drawn_color(t_) == g.attributes.color)
            if drawn_color(t_) != g.attributes.color:
                agg["color_misses"].append(f"{t_.category}: {drawn_color(t_)} read as {g.attributes.color}")
            agg["iou"].append(iou)
        got_texts = {x.content for x in d.texts}
        for x in plan.texts:
            agg["text"].append(x.content in got_texts)
            if x.content not in got_texts:
                agg["text_misses"].append(f"{x.content!r} read as {sorted(got_texts)}")
        agg["bg_kind"].append(d.background.kind == plan.background.kind)
        agg["bg_time"].append(d.background.time == plan.background.time)
    mean = lambda v: round(float(np.mean(v)), 3) if v else None  # noqa: E731
    return {"n": len(items), "recall": round(sum(agg["tp"]) / max(1, sum(agg["n_truth"])), 3),
            "precision": round(sum(agg["tp"]) / max(1, sum(agg["n_got"])), 3), "category": mean(agg["category"]),
            "color": mean(agg["color"]), "box_iou": mean(agg["iou"]), "text_exact": mean(agg["text"]),
            "n_texts": len(agg["text"]), "background_kind": mean(agg["bg_kind"]), "time": mean(agg["bg_time"]),
            "median_s": round(statistics.median(agg["seconds"]), 3), "n_matched": len(agg["color"]),
            "color_misses": agg["color_misses"], "text_misses": agg["text_misses"][:20]}


def drawn_color(e) -> str:
    """The colour a thing is drawn in: its own, else its category's default, else gray."""
    return color_name(e) or "gray"


def ref_for(plan, e) -> str | None:
    """A phrase naming ``e`` alone in ``plan`` ("the car", "the left apple", "the second balloon"), or None."""
    same = sorted([x for x in plan.entities if x.category == e.category], key=lambda x: (x.box[0] + x.box[2]))
    names = [f"the {e.noun}"] if len(same) == 1 else []
    if len(same) > 1:
        k = same.index(e)
        ords = ["first", "second", "third", "fourth", "fifth", "sixth"]
        names = [f"the leftmost {e.noun}" if k == 0 else f"the rightmost {e.noun}" if k == len(same) - 1 else
                 f"the {ords[k]} {e.noun}" if k < len(ords) else ""]
    for n in names:
        try:
            if n and locate(plan, n).ids == [e.id]:
                return n
        except ValueError:
            pass
    return None


def instructions(plan):
    ents = [e for e in plan.entities if e.category in CATEGORIES and e.box]
    out = []
    if ents:
        e = ents[0]
        r = ref_for(plan, e)
        if r:
            c = next(c for c in ("blue", "green", "yellow", "purple", "orange", "red") if c != color_name(e))
            out.append(("recolor", f"make {r} {c}", "recolor"))
            out.append(("remove", f"remove {r}", "remove"))
            side = "right" if (e.box[0] + e.box[2]) / 2 < 0.5 else "left"
            out.append(("move", f"move {r} to the {side}", "move"))
            out.append(("resize", f"make {r} {'bigger' if (e.box[2] - e.box[0]) < 0.3 else 'smaller'}", "resize"))
        grp = [x for x in ents if x.group]
        g = grp[0] if grp else e
        out.append(("count", f"add one more {g.noun}", "add"))
    have = {e.category for e in ents}
    new = next(c for c in ("star", "heart", "ball", "cup", "flower", "bird") if c not in have)
    out.append(("add", f"add a {'purple' if new != 'heart' else 'blue'} {new}", "add"))
    carriers = [t for t in plan.texts if t.on]
    if carriers:
        out.append(("text", f'make {ref_for(plan, plan.entity(carriers[0].on)) or "the sign"} say "SHUT"', "retext"))
    out.append(("time", "make it night" if plan.background.time != "night" else "make it day", "background"))
    return out


def edit_scores(items) -> dict:
    from thinkdraw.engine import Engine, regions_mask
    from thinkdraw.eval.fidelity import score_image

    eng = Engine(renderer="sketch", critic="builtin")
    by = defaultdict(lambda: defaultdict(list))
    for plan, image in items:
        source_ok = score_image(image, plan, text=False).all_passed
        for kind, ins, op in instructions(plan):
            t = time.perf_counter()
            r = eng.edit(image, ins, plan=plan, mode="think", seed=0)
            dt = time.perf_counter() - t
            ok = r.ok and r.edit is not None and any(o.op == op for o in r.edit.operations)
            if ok:
                ok = score_image(r.image, r.plan, text=kind == "text").all_passed
            a, b = np.asarray(image.convert("RGB")), np.asarray(r.image)
            allowed = regions_mask(r.edit.mask, a.shape[1], a.shape[0]) if r.edit else np.zeros(a.shape[:2], bool)
            outside = int((a != b).any(-1)[~allowed].sum())
            by[kind]["followed"].append(ok)
            if source_ok:
                by[kind]["followed_src"].append(ok)
            by[kind]["outside"].append(outside)
            by[kind]["s"].append(dt)
    rows = {k: {"n": len(v["followed"]), "followed": round(float(np.mean(v["followed"])), 3),
                "followed_where_source_passes": round(float(np.mean(v["followed_src"])), 3) if v["followed_src"] else None,
                "outside_changed_pixels": int(sum(v["outside"])), "median_latency_s": round(statistics.median(v["s"]), 4)}
            for k, v in by.items()}
    allv = [x for v in by.values() for x in v["followed"]]
    src = [x for v in by.values() for x in v["followed_src"]]
    return {"single_turn_success": round(float(np.mean(allv)), 3), "n": len(allv),
            "single_turn_success_where_source_passes": round(float(np.mean(src)), 3) if src else None,
            "n_where_source_passes": len(src),
            "outside_changed_pixels": int(sum(x for v in by.values() for x in v["outside"])),
            "median_latency_s": round(statistics.median([x for v in by.values() for x in v["s"]]), 4),
            "by_kind": rows}


def compose_scores(items) -> dict:
    """Pairs of held-out scenes (A, B): a thing of A put into B (B kept whole as the base), and the same thing
    on B's background alone (drawn anew). ``kept``: the taken thing keeps its category, colour and size word;
    ``outside_changed``: pixels changed outside the drawn regions of the base (must be 0); ``scorer``: the
    eval scorer passes every fact of the composed plan on the composed image."""
    from thinkdraw.edit.source import Source, pixel_hash
    from thinkdraw.engine import Engine
    from thinkdraw.eval.fidelity import score_image

    eng = Engine(renderer="sketch", critic="builtin")
    by = defaultdict(lambda: defaultdict(list))
    for (pa, ia), (pb, ib) in zip(items[0::2], items[1::2], strict=False):
        ents = [e for e in pa.entities if e.category in CATEGORIES and e.box and e.supported_by in
                (None, "ground", "air", "water", "table")]  # not a thing standing on another
        ref = next((r for r in (ref_for(pa, e) for e in ents) if r), None)
        if ref is None:
            continue
        srcs = [Source(image=ia, plan=pa, meta={"pixels": pixel_hash(ia)}),
                Source(image=ib, plan=pb, meta={"pixels": pixel_hash(ib)})]
        for kind, ins in (("into", f"put {ref} from image 1 into image 2"),
                          ("background", f"{ref} from image 1 with the background of image 2")):
            t = time.perf_counter()
            r = eng.edit(srcs, ins, mode="think", seed=0)
            dt = time.perf_counter() - t
            ok = r.ok
            kept = scorer = False
            outside = 0
            if ok:
                src = {e.id: e for e in pa.entities}
                kept = all((e.category, color_name(e), e.attributes.size) ==
                           (src[r.taken[e.id][1]].category, color_name(src[r.taken[e.id][1]]),
                            src[r.taken[e.id][1]].attributes.size) for e in r.plan.entities if e.id in r.taken)
                scorer = score_image(r.image, r.plan, text=False).all_passed
                if r.base is not None:
                    a, b = np.asarray(ib.convert("RGB")), np.asarray(r.image)
                    outside = int(((a != b).any(-1) & ~r.changed).sum())
            by[kind]["ok"].append(ok)
            by[kind]["kept"].append(kept)
            by[kind]["scorer"].append(scorer)
            by[kind]["outside"].append(outside)
            by[kind]["base"].append(r.base is not None)
            by[kind]["s"].append(dt)
    return {k: {"n": len(v["ok"]), "composed": round(float(np.mean(v["ok"])), 3),
                "kept_category_colour_size": round(float(np.mean(v["kept"])), 3),
                "scorer_passes": round(float(np.mean(v["scorer"])), 3),
                "base_kept_whole": round(float(np.mean(v["base"])), 3),
                "outside_changed_pixels": int(sum(v["outside"])),
                "median_latency_s": round(statistics.median(v["s"]), 4)} for k, v in by.items()}


def session_scores(items, turns: int = 3) -> dict:
    """A session per held-out scene: the first turn its image, then ``turns`` edits (recolour, add, move),
    an undo and a branch; the store's own cost per turn (SQLite transaction + content-addressed image write)
    against the whole turn, and the store checked at the end."""
    import tempfile

    from thinkdraw.edit.source import Source, pixel_hash
    from thinkdraw.engine import Engine
    from thinkdraw.session import Session, SessionStore

    eng = Engine(renderer="sketch")
    store_s, turn_s, ok = [], [], []
    with tempfile.TemporaryDirectory() as d:
        store = SessionStore(d)
        orig = store.add_turn

        def timed(*a, **k):
            t = time.perf_counter()
            out = orig(*a, **k)
            store_s.append(time.perf_counter() - t)
            return out

        store.add_turn = timed  # type: ignore[method-assign]
        for plan, image in items:
            s = Session.create(store, image=Source(image=image, plan=plan, meta={"pixels": pixel_hash(image)}),
                               engine=eng, mode="think")
            # recolour, move, resize...: not remove, which would leave the next ones nothing to name
            for _kind, ins, _op in [x for x in instructions(s.head.plan) if x[0] != "remove"][:turns]:
                t = time.perf_counter()
                out = s.edit(ins)
                turn_s.append(time.perf_counter() - t)
                ok.append(out.ok)
            if len(s.history()) > 1:
                s.undo()
                s.branch(1)
        problems = store.check()
    return {"sessions": len(items), "edits": len(turn_s), "edits_ok": round(float(np.mean(ok)), 3) if ok else None,
            "median_store_ms_per_turn": round(1000 * statistics.median(store_s), 2),
            "median_edit_turn_ms": round(1000 * statistics.median(turn_s), 2) if turn_s else None,
            "store_problems": problems}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--builtin", type=int, default=0, help="also describe K builtin renders")
    ap.add_argument("--skip-edit", action="store_true")
    ap.add_argument("--skip-describe", action="store_true")
    ap.add_argument("--compose", action="store_true", help="also pairs of scenes combined (several images)")
    ap.add_argument("--sessions", action="store_true", help="also sessions: the store's cost per turn")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    from thinkdraw.draw.base import get_renderer
    from thinkdraw.edit.describe import load_describer
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.sampler import sample

    scenes = list(sample(a.n, split="heldout", seed=a.seed))
    world = [(s.plan, s.image) for s in scenes]
    sketch = get_renderer("sketch")
    planned = []
    for s in scenes:
        _, p = plan_prompt(s.prompt, seed=a.seed)
        planned.append((p, sketch.draw(p, seed=a.seed).image))
    report: dict = {}
    describer = None if a.skip_describe else load_describer()
    if describer is not None:
        report = {"describe": {"world": describe_scores(world, describer),
                               "sketch": describe_scores(planned, describer)},
                  "reader": getattr(describer, "reader", None) is not None}
    if a.builtin and describer is not None:
        b = get_renderer("builtin")
        report["describe"]["builtin"] = describe_scores([(p, b.draw(p, seed=a.seed).image) for p, _ in planned[:a.builtin]],
                                                        describer)
    if not a.skip_edit:
        report["edit"] = edit_scores(world)
    if a.compose:
        report["compose"] = compose_scores(world)
    if a.sessions:
        report["sessions"] = session_scores(world[:max(1, a.n // 3)])
    text = json.dumps(report, indent=2)
    print(text)
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "report.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    del COLOR_NAMES
    sys.exit(main())
