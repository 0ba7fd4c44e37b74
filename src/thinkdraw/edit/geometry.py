"""Where edited things go: the one place the edit stage imports the layout solver (it moved from
``thinkdraw.plan.layout`` to ``thinkdraw.world.layout``), and the placement of added, moved and resized
things in free space without disturbing what is already placed.
"""

from __future__ import annotations

try:  # the layout solver's home (it moved from plan/ to world/): the only import of it in edit/
    from thinkdraw.world.layout import base_size, habitat, is_grounded, relation_holds, solve_layout
except ImportError:  # pragma: no cover - an older tree
    from thinkdraw.plan.layout import base_size, habitat, is_grounded, relation_holds, solve_layout

from thinkdraw.plan.schema import Entity, ScenePlan, TextBlock, box_center, box_overlap
from thinkdraw.world.vocab import BACKGROUNDS, CATEGORIES

__all__ = ["base_size", "habitat", "is_grounded", "relation_holds", "solve_layout", "place", "clip_box",
           "fit_texts", "zone_y", "GAP"]

EDGE = 0.03
GAP = 0.03
SIDE_X = {"left": 0.18, "right": 0.82, "middle": 0.5, "center": 0.5, "centre": 0.5}


def clip_box(b) -> tuple[float, float, float, float]:
    """The box moved (not squeezed) inside the canvas, at most 0.96 wide/high, rounded to 4 places."""
    x0, y0, x1, y1 = b
    w, h = min(x1 - x0, 0.96), min(y1 - y0, 0.96)
    x0 = min(max(x0, 0.0), 1.0 - w)
    y0 = min(max(y0, 0.0), 1.0 - h)
    return (round(x0, 4), round(y0, 4), round(x0 + w, 4), round(y0 + h, 4))


def grounded_line(plan: ScenePlan, exclude: set[str] = frozenset()) -> float:
    """Where grounded things stand: the median bottom edge of the grounded things already there, else a
    line in the lower band of the background."""
    ys = sorted(e.box[3] for e in plan.entities if e.box and e.id not in exclude and is_grounded(e)
                and e.supported_by in (None, "ground", "table") and habitat(e) != "surface")
    if ys:
        return ys[len(ys) // 2]
    hz = BACKGROUNDS[plan.background.kind].horizon
    return min(0.93, hz + 0.3 * (1 - hz)) if hz < 0.95 else 0.9


def zone_y(e: Entity, plan: ScenePlan, h: float, exclude: set[str] = frozenset()) -> tuple[float, float]:
    """(y0, y1) for a new thing of height ``h`` in its habitat on this background."""
    hab = habitat(e)
    hz = BACKGROUNDS[plan.background.kind].horizon
    if hab == "sky":
        cy = 0.2 if hz > 0.4 else 0.15
        return cy - h / 2, cy + h / 2
    if hab == "water" and BACKGROUNDS[plan.background.kind].lower == "water":
        cy = (hz + 1) / 2 + 0.05
        return cy - h / 2, cy + h / 2
    if hab == "surface" and BACKGROUNDS[plan.background.kind].lower == "water":
        return hz + 0.05 - h, hz + 0.05
    if hab == "free" and not plan.entities:
        return 0.5 - h / 2, 0.5 + h / 2
    if hab == "free":
        cy = 0.45
        return cy - h / 2, cy + h / 2
    y1 = grounded_line(plan, exclude)
    return y1 - h, y1


def _cost(box, others: list, want_x: float | None) -> float:
    area = (box[2] - box[0]) * (box[3] - box[1])
    ov = sum(box_overlap(box, o) for o in others) / max(area, 1e-6)
    cx = (box[0] + box[2]) / 2
    return ov * 10 + (abs(cx - want_x) if want_x is not None else 0.0)


def place(plan: ScenePlan, w: float, h: float, y0: float, want_x: float | None, exclude: set[str],
          xs: tuple[float, float] | None = None) -> tuple[float, float, float, float]:
    """A box of size w x h with its top at ``y0``, its centre as near ``want_x`` as free space allows: the
    x (scanned in steps of 0.005) with the least overlap with the other things' boxes, then the nearest."""
    others = [e.box for e in plan.entities if e.box and e.id not in exclude]
    lo, hi = xs if xs else (EDGE, 1 - EDGE)
    best, best_c = None, None
    n = max(1, int((hi - lo - w) / 0.005))
    for k in range(n + 1):
        x0 = lo + k * (hi - lo - w) / n if hi - lo > w else lo
        b = clip_box((x0, y0, x0 + w, y0 + h))
        c = _cost(b, others, want_x)
        if best_c is None or c < best_c - 1e-9:
            best, best_c = b, c
    return best  # type: ignore[return-value]


def beside(plan: ScenePlan, box, anchor, sides: tuple[str, ...], exclude: set[str],
           grounded: bool) -> tuple[float, float, float, float]:
    """``box`` (its size) put right beside ``anchor`` on one of ``sides`` ("left", "right"), on the same line
    (bottoms aligned for grounded things, centres otherwise); the side with the least overlap wins."""
    w, h = box[2] - box[0], box[3] - box[1]
    y1 = anchor[3] if grounded else (anchor[1] + anchor[3]) / 2 + h / 2
    cands = []
    for s in sides:
        x0 = anchor[0] - GAP - w if s == "left" else anchor[2] + GAP
        if x0 < -1e-6 or x0 + w > 1 + 1e-6:
            continue
        cands.append((s, clip_box((x0, y1 - h, x0 + w, y1))))
    if not cands:  # no room on the asked side: as close as the canvas allows
        s = sides[0]
        x0 = 0.0 if s == "left" else 1 - w
        cands.append((s, clip_box((x0, y1 - h, x0 + w, y1))))
    others = [e.box for e in plan.entities if e.box and e.id not in exclude]
    return min(cands, key=lambda c: _cost(c[1], others, None))[1]


def stacked(plan: ScenePlan, box, anchor, pred: str) -> tuple[float, float, float, float]:
    """``box`` (its size) centred over (``above``/``on``) or under (``below``) ``anchor``."""
    w, h = box[2] - box[0], box[3] - box[1]
    cx = (anchor[0] + anchor[2]) / 2
    if pred == "on":
        y1 = anchor[1] + 0.1 * (anchor[3] - anchor[1])
    elif pred == "above":
        y1 = anchor[1] - GAP
    else:
        y1 = anchor[3] + GAP + h
    return clip_box((cx - w / 2, y1 - h, cx + w / 2, y1))


def scaled(box, factor: float, grounded: bool) -> tuple[float, float, float, float]:
    """``box`` scaled by ``factor`` about its bottom centre (grounded things keep their footing) or centre."""
    x0, y0, x1, y1 = box
    w, h = (x1 - x0) * factor, (y1 - y0) * factor
    if max(w, h) > 0.9:
        k = 0.9 / max(w, h)
        w, h = w * k, h * k
    w, h = max(w, 0.03), max(h, 0.03)
    cx = (x0 + x1) / 2
    if grounded:
        return clip_box((cx - w / 2, y1 - h, cx + w / 2, y1))
    cy = (y0 + y1) / 2
    return clip_box((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))


def fit_texts(plan: ScenePlan, carrier: Entity, texts: list[TextBlock]) -> None:
    """Text boxes of ``texts`` (on ``carrier``) fitted by the layout solver's own text placement: a plan of
    only the carrier (its box fixed) and its texts, so nothing else can move."""
    if carrier.box is None or not texts:
        return
    mini = ScenePlan(canvas=plan.canvas, background=plan.background,
                     entities=[carrier.model_copy(update={"supported_by": None})],
                     texts=[t.model_copy(update={"on": carrier.id, "box": None}) for t in texts])
    out = solve_layout(mini).plan
    for t, placed in zip(texts, out.texts, strict=True):
        b = placed.box
        if b is not None:
            # the solver may have repaired the carrier's footing: keep the text where the carrier is
            dx = carrier.box[0] - out.entities[0].box[0]
            dy = carrier.box[1] - out.entities[0].box[1]
            t.box = clip_box((b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy))


def carries_text(e: Entity) -> bool:
    c = CATEGORIES.get(e.category or "")
    return bool(c and c.carries_text)


def center(box) -> tuple[float, float]:
    return box_center(box)
