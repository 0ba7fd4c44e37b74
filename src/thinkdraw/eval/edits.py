"""Edit benchmark (issue 12, part 5): multi-turn editing of held-out world scenes, `thinkdraw eval-edit`.

Each scene is a held-out world prompt (``world.sampler.sample_spec(rng, "heldout")``) planned by the rules
planner (``think.plan_prompt``) and drawn by the chosen renderer. Then ``turns`` instructions are drawn over
all kinds (add, remove, replace, recolour, move, resize, count, text, background, time, style; the kinds are
rotated over the run so each gets its share, a kind that does not fit the scene gives way to one that does).

**The expected plan is the benchmark's own.** For every turn the benchmark picks the target thing and the
change itself, writes the instruction from a template, and applies the change to its own copy of the plan;
nothing of the edit parser is used. Where a change leaves a choice to the editor (where an added or moved
thing goes, how much bigger "bigger" is), the benchmark checks the editor's choice against the instruction
(moved the right way by >= 5% of the canvas, area x1.2 / x0.83, a replacement near the old place, the added
thing of the asked kind and colour) and then takes that box into its expected plan. The turn's image is scored
by ``eval.fidelity.score_image`` against the expected plan (text read only on text turns); a removed thing must
also be gone (<= 15% object pixels left in its box outside other things).

``outside_changed_pixels``: pixels that differ from the turn's input image outside the region the expected
change allows (the union of the old and new boxes of the changed things and their texts, padded by 4 px).
Global edits (background, time, style) may change the whole canvas: they are reported apart
(``global_edits``). Latency is the wall time of ``Engine.edit`` (one untimed warm-up edit first).

A sequence stops at its first failed turn (the later turns would be judged against a plan the picture no
longer has); ``single_turn_success`` is over the turns run, ``all_turns_success`` over sequences.
``results.jsonl`` gets one line per scene as it goes; a rerun with the same settings resumes.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thinkdraw.plan.schema import ScenePlan
from thinkdraw.plan.words import with_article

KINDS = ("add", "remove", "replace", "recolour", "move", "resize", "count", "text", "background", "time", "style")
GLOBAL_KINDS = ("background", "time", "style")
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange")
NEW_THINGS = ("star", "heart", "ball", "cup", "flower", "bird", "apple", "balloon", "kite", "tree", "car", "boat")
WORDS = ("SHUT", "SALE", "HELLO", "EXIT", "STOP", "OPEN", "CAFE")
BG_PHRASES = {"sky": "the sky", "grass": "a meadow", "sea": "the sea", "table": "a tabletop", "wall": "a wall",
              "plain": "a plain background"}
EDIT_STYLES = ("watercolor", "cartoon", "pixel art", "oil painting", "sketch", "vintage", "line art")
PAD = 4
MOVE_MIN = 0.05
GONE_MAX = 0.15


@dataclass
class Turn:
    kind: str
    instruction: str
    target: str | None = None
    params: dict = field(default_factory=dict)


# ---------------------------------------------------------------- scenes


def scene_at(i: int, seed: int):
    """The i-th held-out scene of a run: (prompt, plan with boxes)."""
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.sampler import sample_spec

    rng = random.Random(f"eval-edit:{seed}:{i}")
    for _ in range(20):
        prompt, _, _ = sample_spec(rng, "heldout")
        try:
            _, plan = plan_prompt(prompt, seed=seed)
        except Exception:  # noqa: BLE001 - a prompt the planner refuses: draw another
            continue
        if any(e.box for e in plan.entities):
            return prompt, plan
    raise RuntimeError(f"no plannable held-out scene for index {i}")


# ---------------------------------------------------------------- references and choices


def _cx(b) -> float:
    return (b[0] + b[2]) / 2


def _cy(b) -> float:
    return (b[1] + b[3]) / 2


def _area(b) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _world(plan):
    from thinkdraw.world.vocab import CATEGORIES

    return [e for e in plan.entities if e.box and e.category in CATEGORIES]


def ref(plan, e) -> str | None:
    """A phrase naming ``e`` alone in ``plan``, written from the plan only: "the car" when it is the only one
    of its noun and category, "the leftmost/rightmost apple" when its centre is clearly apart, else None."""
    same = [x for x in plan.entities if x.box and (x.category == e.category or x.noun == e.noun)]
    if len(same) == 1:
        return f"the {e.noun}"
    if any(x.noun != e.noun for x in same):
        return None
    same.sort(key=lambda x: _cx(x.box))
    k = same.index(e)
    if k == 0 and _cx(same[1].box) - _cx(e.box) > 0.05:
        return f"the leftmost {e.noun}"
    if k == len(same) - 1 and _cx(e.box) - _cx(same[-2].box) > 0.05:
        return f"the rightmost {e.noun}"
    return None


def _colour(e) -> str:
    from thinkdraw.edit.refs import color_name

    return color_name(e) or "gray"


def _supports(plan, e) -> bool:
    return any(x.supported_by == e.id for x in plan.entities)


def _fits(category: str, plan) -> bool:
    from thinkdraw.world.sampler import backgrounds_for

    return plan.background.kind in backgrounds_for(category)


def choose_turn(plan, kind: str, rng: random.Random) -> Turn | None:
    """A turn of ``kind`` for ``plan`` (target, change, instruction text), or None when the kind does not fit."""
    from thinkdraw.world.sampler import backgrounds_for

    ents = [e for e in _world(plan) if ref(plan, e)]
    free = [e for e in ents if not _supports(plan, e) and e.supported_by in (None, "ground", "air", "water", "table")]
    carriers = {t.on for t in plan.texts if t.on}
    have = {e.category for e in plan.entities}
    if kind == "recolour" and ents:
        e = rng.choice([x for x in ents if x.id not in carriers] or ents)
        c = rng.choice([c for c in COLOURS if c != _colour(e)])
        return Turn(kind, f"make {ref(plan, e)} {c}", e.id, {"color": c})
    if kind == "remove" and len(_world(plan)) > 1 and free:
        e = rng.choice(free)
        return Turn(kind, f"remove {ref(plan, e)}", e.id)
    if kind == "replace":
        cand = [e for e in free if e.id not in carriers and not e.group]
        new = [c for c in NEW_THINGS if c not in have and _fits(c, plan)]
        if cand and new:
            e, n = rng.choice(cand), rng.choice(new)
            c = rng.choice([c for c in COLOURS if c != _colour(e)])
            return Turn(kind, f"replace {ref(plan, e)} with a {c} {n}", e.id, {"category": n, "color": c})
    if kind == "move" and free:
        e = rng.choice(free)
        side = "right" if _cx(e.box) < 0.5 else "left"
        return Turn(kind, f"move {ref(plan, e)} to the {side}", e.id, {"side": side})
    if kind == "resize" and free:
        e = rng.choice(free)
        w = e.box[2] - e.box[0]
        how = "bigger" if w < 0.3 else "smaller"
        return Turn(kind, f"make {ref(plan, e)} {how}", e.id, {"how": how})
    if kind == "count":
        cand = [e for e in _world(plan) if e.group and not _supports(plan, e)] or \
               [e for e in free if not any(x.noun == e.noun for x in plan.entities if x is not e)]
        if cand:
            e = rng.choice(cand)
            return Turn(kind, f"add one more {e.noun}", e.id)
    if kind == "add":
        new = [c for c in NEW_THINGS if c not in have and _fits(c, plan)]
        if new:
            n = rng.choice(new)
            c = rng.choice(COLOURS)
            return Turn(kind, f"add {with_article(f'{c} {n}')}", None, {"category": n, "color": c})
    if kind == "text":
        ts = [t for t in plan.texts if t.on and plan.entity(t.on) is not None and ref(plan, plan.entity(t.on))]
        if ts:
            t = rng.choice(ts)
            w = rng.choice([w for w in WORDS if w != t.content])
            return Turn(kind, f'make {ref(plan, plan.entity(t.on))} say "{w}"', t.id, {"content": w})
    if kind == "time":
        t = rng.choice([t for t in ("day", "sunset", "night") if t != plan.background.time])
        return Turn(kind, f"make it {t}", None, {"time": t})
    if kind == "background":
        ok = set(BG_PHRASES)
        for e in plan.entities:
            if e.category:
                ok &= set(backgrounds_for(e.category))
        ok.discard(plan.background.kind)
        if ok:
            k = rng.choice(sorted(ok))
            return Turn(kind, f"change the background to {BG_PHRASES[k]}", None, {"kind": k})
    if kind == "style":
        s = rng.choice([s for s in EDIT_STYLES if s != plan.style])
        return Turn(kind, f"make it {s}", None, {"style": s})
    return None


def turns_for(plan, index: int, turns: int, seed: int):
    """Kinds rotate over the run (scene ``index``, turn t gets kind (index*turns + t) mod 11)."""
    rng = random.Random(f"eval-edit-turns:{seed}:{index}")
    order = []
    for t in range(turns):
        k = KINDS[(index * turns + t + seed) % len(KINDS)]
        order.append(k)
    return rng, order


def pick(plan, kind: str, rng: random.Random) -> Turn | None:
    t = choose_turn(plan, kind, rng)
    if t is not None:
        return t
    for k in rng.sample(KINDS, len(KINDS)):
        t = choose_turn(plan, k, rng)
        if t is not None:
            return t
    return None


# ---------------------------------------------------------------- the expected change


def _holds(pred: str, a, b) -> bool:
    if pred == "left_of":
        return _cx(a) < _cx(b)
    if pred == "right_of":
        return _cx(a) > _cx(b)
    if pred == "above":
        return _cy(a) < _cy(b)
    if pred == "below":
        return _cy(a) > _cy(b)
    return True


def _prune_relations(plan, moved: set[str]) -> None:
    """Drop relations about moved things that their boxes no longer satisfy, and relations naming nothing."""
    ids = {e.id for e in plan.entities} | {e.group for e in plan.entities if e.group}
    keep = []
    for r in plan.relations:
        if r.subject not in ids or r.object not in ids:
            continue
        subs, objs = plan.members(r.subject), plan.members(r.object)
        if moved & {x.id for x in subs + objs}:
            if not all(_holds(r.predicate, s.box, o.box) for s in subs for o in objs if s.box and o.box):
                continue
        keep.append(r)
    plan.relations = keep


def _without(plan: ScenePlan, eid: str) -> ScenePlan:
    """``plan`` without entity ``eid``, its texts, and the relations that named it (or its emptied group)."""
    d = plan.model_dump()
    d["texts"] = [t for t in d["texts"] if t["on"] != eid]
    d["entities"] = [x for x in d["entities"] if x["id"] != eid]
    ids = {x["id"] for x in d["entities"]} | {x["group"] for x in d["entities"] if x["group"]}
    d["relations"] = [r for r in d["relations"] if r["subject"] in ids and r["object"] in ids
                      and (r.get("object2") is None or r["object2"] in ids)]
    for x in d["entities"]:
        if x.get("supported_by") == eid:
            x["supported_by"] = None
    return ScenePlan.model_validate(d)


def expected_after(plan, turn: Turn, got) -> tuple[object, list, bool, str]:
    """Apply ``turn`` to a copy of ``plan`` (the benchmark's own expected plan). ``got``: the editor's plan
    after the turn, used only for the boxes the instruction leaves to the editor, each checked first.
    Returns (expected plan, changed boxes (old and new) or None for a global edit, choice ok, why not)."""
    exp = plan.model_copy(deep=True)
    k, p = turn.kind, turn.params
    gotents = {e.id: e for e in got.entities} if got is not None else {}
    if k in GLOBAL_KINDS:
        if k == "time":
            exp.background.time = p["time"]
        elif k == "style":
            exp.style = p["style"]
        else:
            exp.background.kind = p["kind"]
            exp.background.colors = []
            for e in exp.entities:  # things may go onto the new background's lines: the editor's boxes, same things
                g = gotents.get(e.id)
                if g is None or g.category != e.category:
                    return exp, None, False, f"{e.id} ({e.category}) is not in the edited plan"
                e.box = g.box
            for t in exp.texts:
                gt = next((x for x in got.texts if x.id == t.id), None)
                t.box = gt.box if gt is not None else t.box
        return exp, None, True, ""
    changed: list = []
    old_ids = {e.id for e in plan.entities}
    if k == "recolour":
        e = exp.entity(turn.target)
        e.attributes.color = p["color"]
        e.attributes.default_color = False
        changed.append(e.box)
        return exp, changed, True, ""
    if k == "remove":
        e = exp.entity(turn.target)
        changed.append(e.box)
        changed += [t.box for t in exp.texts if t.on == e.id and t.box]
        exp = _without(exp, e.id)
        if not any(x.category == e.category for x in exp.entities) and e.noun not in exp.negatives:
            exp.negatives.append(e.noun)
        _prune_relations(exp, set())
        return exp, changed, True, ""
    if k in ("add", "count", "replace"):
        if k == "count":
            src = exp.entity(turn.target)
            cat, color = src.category, src.attributes.color
        else:
            cat, color = p["category"], p["color"]
        new = [g for g in got.entities if g.id not in old_ids and g.category == cat] if got is not None else []
        if k == "replace":
            same = gotents.get(turn.target)
            if same is not None and same.category == cat:
                new = [same]
        if not new or new[0].box is None:
            return exp, changed, False, f"no new {cat} in the edited plan"
        g = new[0]
        if k == "replace":
            e = exp.entity(turn.target)
            if abs(_cx(g.box) - _cx(e.box)) > 0.2:
                return exp, changed, False, f"the {cat} is drawn {abs(_cx(g.box) - _cx(e.box)):.2f} away from the old place"
            changed += [e.box, g.box]
            exp = _without(exp, e.id)
        else:
            changed.append(g.box)
        if k == "count":
            src = exp.entity(turn.target)
            ent = src.model_copy(deep=True)
            if not src.group:
                src.group = f"{src.noun}-group"
            ent.group = src.group
        else:
            from thinkdraw.plan.schema import Attributes, Entity

            ent = Entity(id=g.id, noun=cat, category=cat, attributes=Attributes(color=color))
        ent.id, ent.box, ent.z, ent.supported_by = g.id, g.box, g.z, g.supported_by
        if color:
            ent.attributes.color = color
        exp.entities.append(ent)
        _prune_relations(exp, {ent.id})
        return exp, changed, True, ""
    if k in ("move", "resize"):
        e = exp.entity(turn.target)
        g = gotents.get(e.id)
        if g is None or g.box is None:
            return exp, changed, False, f"{e.id} is not in the edited plan"
        why = ""
        if k == "move":
            d = _cx(g.box) - _cx(e.box)
            if (d if p["side"] == "right" else -d) < MOVE_MIN:
                why = f"moved {d:+.2f} across for 'to the {p['side']}'"
        else:
            r = _area(g.box) / max(1e-9, _area(e.box))
            if (p["how"] == "bigger" and r < 1.2) or (p["how"] == "smaller" and r > 1 / 1.2):
                why = f"area x{r:.2f} for '{p['how']}'"
        changed += [e.box, g.box]
        e.box = g.box
        for t in exp.texts:
            if t.on == e.id:
                gt = next((x for x in got.texts if x.id == t.id), None)
                changed.append(t.box)
                t.box = gt.box if gt is not None else t.box
                changed.append(t.box)
        _prune_relations(exp, {e.id})
        return exp, [b for b in changed if b], not why, why
    if k == "text":
        t = next(x for x in exp.texts if x.id == turn.target)
        gt = next((x for x in got.texts if x.id == t.id), None) if got is not None else None
        changed.append(t.box)
        t.content = p["content"]
        if gt is not None and gt.box is not None:
            t.box = gt.box
            changed.append(gt.box)
        return exp, [b for b in changed if b], True, ""
    raise ValueError(f"unknown kind {k!r}")


def _gone(image, plan_after, box) -> float:
    """Share of object pixels left in ``box`` outside the (padded) boxes of the things still planned."""
    from thinkdraw.eval.fidelity import DIFF
    from thinkdraw.pixels import background_of, box_px

    img = np.asarray(image.convert("RGB"), np.float32)
    h, w = img.shape[:2]
    obj = np.abs(img - background_of(plan_after, w, h)).sum(-1) > DIFF
    x0, y0, x1, y1 = box_px(box, w, h)
    region = np.zeros((h, w), bool)
    region[y0:y1, x0:x1] = True
    for e in plan_after.entities:
        if e.box:
            a0, b0, a1, b1 = box_px(e.box, w, h)
            region[max(0, b0 - PAD):b1 + PAD, max(0, a0 - PAD):a1 + PAD] = False
    return float(obj[region].mean()) if region.any() else 0.0


# ---------------------------------------------------------------- a run


def run_scene(eng, index: int, seed: int, turns: int, mode: str) -> dict:
    from thinkdraw.edit.source import Source, pixel_hash
    from thinkdraw.engine import regions_mask
    from thinkdraw.eval.fidelity import score_image

    prompt, plan = scene_at(index, seed)
    image = eng.renderer.draw(plan, seed=seed).image.convert("RGB")
    source_passes = score_image(image, plan, text=False).all_passed
    rng, kinds = turns_for(plan, index, turns, seed)
    expected, cur_img, cur_plan = plan, image, plan
    rows = []
    for kind in kinds:
        turn = pick(expected, kind, rng)
        if turn is None:
            break
        src = Source(image=cur_img, plan=cur_plan, meta={"pixels": pixel_hash(cur_img), "seed": seed})
        t0 = time.perf_counter()
        r = eng.edit(src, turn.instruction, seed=seed, mode=mode)
        dt = time.perf_counter() - t0
        row = {"kind": turn.kind, "asked_kind": kind, "instruction": turn.instruction,
               "global": turn.kind in GLOBAL_KINDS, "latency_s": round(dt, 4), "editor_ok": bool(r.ok),
               "message": r.message if not r.ok else ""}
        exp, changed, choice_ok, why = expected_after(expected, turn, r.plan if r.ok else None) if r.ok else \
            (expected, [], False, f"refused: {r.message}")
        new_img = r.image.convert("RGB")
        a, b = np.asarray(cur_img), np.asarray(new_img)
        diff = (a != b).any(-1)
        if changed is None:
            row["outside_changed_pixels"] = None
            row["changed_pixels"] = int(diff.sum())
        else:
            allowed = regions_mask(changed, a.shape[1], a.shape[0], PAD) if changed else np.zeros(diff.shape, bool)
            row["outside_changed_pixels"] = int(diff[~allowed].sum())
            row["changed_pixels"] = int(diff.sum())
        failed: list[str] = [] if choice_ok else [why]
        if r.ok:
            fid = score_image(new_img, exp, text=turn.kind == "text")
            failed += [f"{f.kind} {f.target}: {f.detail}".strip() for f in fid.facts if not f.passed]
            if turn.kind == "remove":
                left = _gone(new_img, exp, expected.entity(turn.target).box)
                if left > GONE_MAX:
                    failed.append(f"removed {turn.target}: {left:.0%} of its box still drawn")
        row["success"] = bool(r.ok and not failed)
        row["failed"] = failed[:6]
        rows.append(row)
        if not row["success"]:
            break
        expected, cur_img, cur_plan = exp, new_img, r.plan
    return {"index": index, "prompt": prompt, "source_passes": bool(source_passes), "turns": rows,
            "all_right": len(rows) == turns and all(x["success"] for x in rows)}


def _key(n: int, turns: int, seed: int, mode: str, renderer: str) -> dict:
    return {"turns": turns, "seed": seed, "mode": mode, "renderer": renderer}


def _load(log: Path, key: dict) -> dict[int, dict]:
    done: dict[int, dict] = {}
    if not log.is_file():
        return done
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        if rec.get("key") == key:
            done[rec["index"]] = rec
    return done


def _agg(rows: list[dict]) -> dict:
    lat = [x["latency_s"] for x in rows]
    local = [x["outside_changed_pixels"] for x in rows if not x["global"]]
    glob = [x for x in rows if x["global"]]
    return {"n": len(rows),
            "single_turn_success": round(float(np.mean([x["success"] for x in rows])), 3) if rows else None,
            "outside_changed_pixels": int(sum(local)) if local else 0,
            "local_edits_with_outside_changes": sum(v > 0 for v in local),
            "n_local": len(local),
            "global_edits": {"n": len(glob), "mean_changed_pixels": round(float(np.mean([x["changed_pixels"] for x in glob])), 1)
                             if glob else None},
            "median_latency_s": round(statistics.median(lat), 4) if lat else None,
            "mean_latency_s": round(float(np.mean(lat)), 4) if lat else None}


def summarise(records: list[dict], meta: dict) -> dict:
    rows = [t for r in records for t in r["turns"]]
    rep = {**meta, "scenes": len(records), **_agg(rows),
           "all_turns_success": round(float(np.mean([r["all_right"] for r in records])), 3) if records else None}
    src = [r for r in records if r["source_passes"]]
    rep["source_passes"] = round(len(src) / max(1, len(records)), 3)
    rep["all_turns_success_where_source_passes"] = round(float(np.mean([r["all_right"] for r in src])), 3) if src else None
    by = defaultdict(list)
    for t in rows:
        by[t["kind"]].append(t)
    rep["by_kind"] = {}
    for k in KINDS:
        if k in by:
            a = _agg(by[k])
            seqs = [r for r in records if any(t["kind"] == k for t in r["turns"])]
            a["all_turns_success"] = round(float(np.mean([r["all_right"] for r in seqs])), 3)
            rep["by_kind"][k] = a
    rep["refused"] = sum(not t["editor_ok"] for t in rows)
    rep["turns_not_run"] = sum(meta["turns"] - len(r["turns"]) for r in records)
    rep["failures"] = [{"scene": r["index"], "instruction": t["instruction"], "why": t["failed"] or [t["message"]]}
                       for r in records for t in r["turns"] if not t["success"]][:40]
    return rep


def markdown(rep: dict) -> str:
    f = lambda v: "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"# Edit benchmark: {rep['scenes']} held-out scenes x {rep['turns']} turns, {rep['mode']} mode, "
             f"{rep['renderer']} renderer, seed {rep['seed']}", "",
             f"- single-turn success: **{f(rep['single_turn_success'])}** over {rep['n']} turns "
             f"({rep['turns_not_run']} turns not run after a failed one; {rep['refused']} refused)",
             f"- all turns right: **{f(rep['all_turns_success'])}** of {rep['scenes']} sequences "
             f"({f(rep['all_turns_success_where_source_passes'])} where the unedited image passes the scorer, "
             f"{f(rep['source_passes'])} of them do)",
             f"- pixels changed outside the allowed region, local edits: **{rep['outside_changed_pixels']}** "
             f"({rep['local_edits_with_outside_changes']} of {rep['n_local']} local edits); global edits: "
             f"{rep['global_edits']['n']}, mean {f(rep['global_edits']['mean_changed_pixels'])} px changed",
             f"- latency per edit: median {f(rep['median_latency_s'])} s, mean {f(rep['mean_latency_s'])} s", "",
             "| kind | n | single-turn | sequences all right | outside px | median s | mean s |",
             "|---|---|---|---|---|---|---|"]
    for k, a in rep["by_kind"].items():
        lines.append(f"| {k} | {a['n']} | {f(a['single_turn_success'])} | {f(a['all_turns_success'])} | "
                     f"{a['outside_changed_pixels'] if k not in GLOBAL_KINDS else 'global'} | "
                     f"{f(a['median_latency_s'])} | {f(a['mean_latency_s'])} |")
    if rep["failures"]:
        lines += ["", "## Failed turns", ""]
        lines += [f"- scene {x['scene']}: `{x['instruction']}`: {'; '.join(x['why'])}" for x in rep["failures"]]
    return "\n".join(lines) + "\n"


def bar_chart(rep: dict, path: Path) -> None:
    """Single-turn success per kind and overall, and the all-turns share (PIL only)."""
    from thinkdraw.eval.suite import chart_frame

    cols = [*rep["by_kind"], "overall", "all turns"]
    vals = [rep["by_kind"][k]["single_turn_success"] or 0.0 for k in rep["by_kind"]] + \
           [rep["single_turn_success"] or 0.0, rep["all_turns_success"] or 0.0]
    W, H, left, top, bottom = 80 + 76 * len(cols), 380, 50, 50, 70
    img, d, font, ph = chart_frame(W, H, left, top, bottom)
    y = top + ph * (1 - 0.9)
    d.line([(left, y), (W - 10, y)], fill=(219, 68, 55))
    gw = (W - left - 10) / len(cols)
    for i, (c, v) in enumerate(zip(cols, vals, strict=True)):
        x = left + i * gw + gw * 0.15
        colour = (15, 157, 88) if c in ("overall", "all turns") else (66, 133, 244)
        d.rectangle([x, top + ph * (1 - v), x + gw * 0.7, top + ph], fill=colour)
        d.text((x, top + ph * (1 - v) - 14), f"{v:.2f}", fill="black", font=font)
        d.text((left + i * gw + 4, top + ph + 6), c, fill="black", font=font)
    d.text((left, 18), f"eval-edit: {rep['scenes']} scenes x {rep['turns']} turns, {rep['mode']}, {rep['renderer']}; "
                       f"median {1000 * (rep['median_latency_s'] or 0):.0f} ms/edit; "
                       f"outside px (local) {rep['outside_changed_pixels']}", fill="black", font=font)
    d.text((left, H - 28), "single-turn success per kind (red line: the 0.90 goal)", fill=(80, 80, 80), font=font)
    img.save(path)


def run_eval_edit(out: str | Path, n: int = 30, turns: int = 3, seed: int = 0, mode: str = "reflect",
                  renderer: str = "builtin", progress: Callable[[int, int], None] | None = None,
                  engine=None) -> dict:
    """Run (or resume) the benchmark; writes results.jsonl, report.json, report.md, report.png into ``out``."""
    from thinkdraw.edit.source import Source, pixel_hash
    from thinkdraw.engine import Engine

    if mode not in ("think", "reflect"):
        raise ValueError(f"edit modes are think and reflect, not {mode!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    key = _key(n, turns, seed, mode, renderer)
    done = _load(log, key)
    eng = engine or Engine(renderer=renderer)
    todo = [i for i in range(n) if i not in done]
    if todo:  # warm-up: the first edit of a process pays for lazy loading; not timed, not scored
        _, p = scene_at(10_000, seed)
        im = eng.renderer.draw(p, seed=seed).image.convert("RGB")
        eng.edit(Source(image=im, plan=p, meta={"pixels": pixel_hash(im)}), "make it night", seed=seed, mode=mode)
    if progress:
        progress(n - len(todo), n)
    with log.open("a") as fh:
        for i in todo:
            rec = {"key": key, **run_scene(eng, i, seed, turns, mode)}
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            done[i] = rec
            if progress:
                progress(len(done), n)
    records = [done[i] for i in range(n)]
    rep = summarise(records, {"n_scenes": n, **key})
    (out / "report.json").write_text(json.dumps(rep, indent=2) + "\n")
    (out / "report.md").write_text(markdown(rep))
    bar_chart(rep, out / "report.png")
    return rep
