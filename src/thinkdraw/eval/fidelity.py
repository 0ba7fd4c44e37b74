"""Plan fidelity of an image, measured with the world's own machinery (no learned model).

For each planned fact it answers pass/fail:
  present   every planned entity: inside its box, enough pixels differ from the plan's background
            (the world renderer's own background for that kind/time) and their dominant named colour
            is not the background's
  color     every entity whose colour the prompt states (GenEval's rule; default colours are not judged):
            the dominant named colour of its object pixels, or at least COLOR_SHARE of them
  count     every counted group: all members present, and no extra blob of that colour elsewhere
  position  every left_of/right_of/above/below relation: centroids of the detected object pixels
            differ by the GenEval margin (0.05 of the canvas) in the right direction
  text      every text block: Tesseract OCR of its box reads the exact string (needs `tesseract`); read at
            a few upscales, the first exact reading counts
  identity  every entity of a world category: what stands in its box is that kind of thing, by silhouette and
            colour layout matched against the world's own drawers (eval/identity.py; no learned model, not the
            critic's networks); a box with nothing present fails it
  absence   every negative ("no cat"): no unplanned object anywhere, i.e. no blob of object pixels of at
            least ABSENT_AREA of the canvas outside the planned boxes (class-agnostic: the world machinery
            cannot name what it sees, so anything drawn where nothing was planned counts against it)
Validated on sketch renders (which must pass) and on renders with injected defects (which must fail):
see ``benchmarks/bench_generate.py --validate``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from thinkdraw.eval.identity import identity as judge_identity
from thinkdraw.pixels import (
    COLOR_LIST,
    OCR_SCALES,
    background_of,
    box_px,
    components,
    named_colors,
    point_relation_holds,
    read_box_tesseract,
    require_tesseract,
    tesseract_line,
)
from thinkdraw.plan.schema import ScenePlan

NAMES = COLOR_LIST
DIFF = 60.0  # per-pixel L1 (sum over RGB) distance from the background that counts as "object"
MIN_FILL = 0.08  # share of the box that must be object pixels
MARGIN = 0.05
COLOR_SHARE = 0.15
ABSENT_AREA = 0.006  # share of the canvas: a small world object is ~0.01
ABSENT_PAD = 0.03  # boxes are padded by this share of the canvas (shadows, anti-aliasing) before looking

# the judge's reader is Tesseract (the critic reads with its own network): pixels.py holds the code
ocr = tesseract_line
read_text = read_box_tesseract
__all__ = ["OCR_SCALES", "components", "named_colors", "ocr", "read_text", "require_tesseract", "score_image"]


@dataclass
class FactResult:
    kind: str
    target: str
    passed: bool
    detail: str = ""


@dataclass
class Fidelity:
    facts: list[FactResult] = field(default_factory=list)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for f in self.facts:
            out[f.kind][0] += int(f.passed)
            out[f.kind][1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    @property
    def all_passed(self) -> bool:
        return all(f.passed for f in self.facts)


def score_image(image: Image.Image, plan: ScenePlan, text: bool = True, identity: bool = False) -> Fidelity:
    """The plan's facts judged on ``image``; ``text=False`` skips Tesseract. ``identity=True`` adds an identity
    fact per planned world thing (eval/identity.py); `thinkdraw eval` turns it on and counts it in its headline
    (docs/eval.md). It is off by default here for the callers that judge world renders of edited plans and
    planner outputs, where the thing's kind is the world's own drawer (tens of milliseconds a box saved)."""
    img = np.asarray(image.convert("RGB"), np.float32)
    h, w = img.shape[:2]
    bg = background_of(plan, w, h)
    objmask = np.abs(img - bg).sum(-1) > DIFF
    texts_on = {t.on for t in plan.texts if t.on}
    fid = Fidelity()
    found: dict[str, tuple[float, float] | None] = {}
    claimed = np.zeros((h, w), bool)
    for e in sorted(plan.entities, key=lambda e: -e.z):
        if e.box is None:
            continue
        x0, y0, x1, y1 = box_px(e.box, w, h)
        claimed[y0:y1, x0:x1] = True
        m = objmask[y0:y1, x0:x1]
        fill = float(m.mean()) if m.size else 0.0
        ok = fill >= MIN_FILL
        dom, share = None, 0.0
        if m.any():
            hist = np.bincount(named_colors(img[y0:y1, x0:x1][m]), minlength=len(NAMES)) / m.sum()
            dom = NAMES[int(hist.argmax())]
            if e.attributes.color in NAMES:
                share = float(hist[NAMES.index(e.attributes.color)])
        fid.facts.append(FactResult("present", e.id, ok, f"fill {fill:.2f}"))
        if ok:
            ys, xs = np.nonzero(m)
            found[e.id] = ((xs.mean() + x0) / w, (ys.mean() + y0) / h)
        else:
            found[e.id] = None
        if identity and e.category in _world_categories():
            if ok:
                r = judge_identity(img, bg, plan, e.id)
                fid.facts.append(FactResult("identity", e.id, r.passed, r.detail))
            else:
                fid.facts.append(FactResult("identity", e.id, False, f"nothing there to be a {e.category}"))
        stated = e.attributes.color and not getattr(e.attributes, "default_color", False)
        if stated and e.category is not None and e.id not in texts_on:
            # many things are several colours (a house's roof, a book's pages): the planned colour must be
            # the dominant one or cover at least COLOR_SHARE of the thing
            fid.facts.append(FactResult("color", e.id, ok and (dom == e.attributes.color or share >= COLOR_SHARE),
                                        f"expected {e.attributes.color} ({share:.0%}), dominant {dom}"))
    groups: dict[str, list[str]] = defaultdict(list)
    for e in plan.entities:
        if e.group:
            groups[e.group].append(e.id)
    for g, ids in groups.items():
        members = [plan.entity(i) for i in ids]
        present = sum(found.get(i) is not None for i in ids)
        extra = _extra_blobs(img, objmask & ~claimed, members, w, h)
        fid.facts.append(FactResult("count", g, present == len(ids) and extra == 0,
                                    f"expected {len(ids)}, found {present} in place, {extra} extra"))
    for r in plan.relations:
        if r.predicate not in ("left_of", "right_of", "above", "below"):
            continue
        subs, objs = plan.members(r.subject), plan.members(r.object)
        ok = True
        for s in subs:
            for o in objs:
                a, b = found.get(s.id), found.get(o.id)
                if a is None or b is None:
                    ok = False
                    continue
                ok &= point_relation_holds(r.predicate, a, b, MARGIN)
        fid.facts.append(FactResult("position", f"{r.subject} {r.predicate} {r.object}", ok))
    if plan.negatives:
        free = objmask.copy()
        p = int(ABSENT_PAD * w)
        for e in plan.entities:
            if e.box is not None:
                x0, y0, x1, y1 = box_px(e.box, w, h)
                free[max(0, y0 - p):y1 + p, max(0, x0 - p):x1 + p] = False
        big = [a for a in _component_areas(free) if a >= ABSENT_AREA * w * h]
        for neg in plan.negatives:
            fid.facts.append(FactResult("absence", neg, not big,
                                        f"{len(big)} unplanned object(s) of {sorted(big)[-3:]} px" if big else "none"))
    if text:
        for t in plan.texts:
            if t.box is None:
                continue
            read = read_text(image, t.box, t.content)
            fid.facts.append(FactResult("text", t.id, read == t.content, f"expected {t.content!r}, read {read!r}"))
    return fid


def _world_categories() -> dict:
    from thinkdraw.world.render import DRAWERS

    return DRAWERS


def _extra_blobs(img: np.ndarray, free: np.ndarray, members, w: int, h: int) -> int:
    """Blobs of the group's colour outside every planned box, at least a third of a member's size."""
    color = members[0].attributes.color
    if not color or not free.any():
        return 0
    ys, xs = np.nonzero(free)
    cols = named_colors(img[ys, xs])
    sel = cols == NAMES.index(color)
    if not sel.any():
        return 0
    m = np.zeros(free.shape, bool)
    m[ys[sel], xs[sel]] = True
    area = np.mean([(e.box[2] - e.box[0]) * w * (e.box[3] - e.box[1]) * h for e in members])
    return sum(1 for a in _component_areas(m) if a >= area / 3)


def _component_areas(m: np.ndarray) -> list[int]:
    return [c[4] for c in components(m)]
