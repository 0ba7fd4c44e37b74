"""Injected defects: a plan's render with one thing wrong, to validate judges (critic and eval scorer).

``inject(plan, rng)`` -> (defective plan, kind, targets) or None, where rendering the defective plan and
judging it against the original ``plan`` must fail a check whose target is in ``targets``. Kinds:
  remove   an object is left out
  recolor  an object whose colour the prompt states gets another named colour
  move     an object is mirrored across the reference of its left/right relation
  letter   one letter of a text is changed
  negative the object the prompt excludes ("no cat") is drawn in a free spot, in its category's aspect
Identity defects (the right colour in the right place, not the planned kind of thing), kept out of
``inject``'s draw so that its figures stay comparable; each has its own entry point:
  swap     ``inject_swap``: a thing redrawn as another world category, same box and colour
  hull, ellipse, blur, smear  ``inject_blob`` / ``blob_image``: a thing replaced by a blob of its colour,
           area and place without its silhouette (what a weak generator draws)
"""

from __future__ import annotations

import math
import random
import string

import numpy as np

from thinkdraw.plan.schema import Attributes, Entity, ScenePlan

KINDS = ("remove", "recolor", "move", "letter", "negative")


def _free_box(plan: ScenePlan, rng: random.Random, aspect: float = 1.0, size: float = 0.16, pad: float = 0.04):
    """A free spot of the given aspect (height / width) and about ``size`` on its longer side."""
    boxes = [e.box for e in plan.entities if e.box] + [t.box for t in plan.texts if t.box]
    w, h = (size, size * aspect) if aspect <= 1 else (size / aspect, size)
    w, h = max(w, 0.06), max(h, 0.06)
    for _ in range(200):
        x, y = rng.uniform(0.02, 0.98 - w), rng.uniform(0.05, 0.95 - h)
        b = (x, y, x + w, y + h)
        if all(b[2] + pad <= o[0] or o[2] + pad <= b[0] or b[3] + pad <= o[1] or o[3] + pad <= b[1] for o in boxes):
            return b
    return None


def inject(plan: ScenePlan, rng: random.Random, kinds=KINDS):
    """(defective plan, kind, set of check targets that describe the defect) or None."""
    from thinkdraw.world.vocab import CATEGORIES, CATEGORY_SYNONYMS, COLOR_NAMES

    allowed = set(kinds)
    bad = plan.model_copy(deep=True)
    kinds = []
    ents = [e for e in plan.entities if e.category and not any(t.on == e.id for t in plan.texts)]
    stated = [e for e in ents if e.attributes.color and not getattr(e.attributes, "default_color", False)]
    if ents:
        kinds.append("remove")
    if stated:
        kinds.append("recolor")  # a colour the prompt states (a default colour is the model's choice)
    rels = [r for r in plan.relations if r.predicate in ("left_of", "right_of") and len(plan.members(r.subject)) == 1
            and len(plan.members(r.object)) == 1]
    if rels:
        kinds.append("move")
    if plan.texts:
        kinds.append("letter")
    negs = [(n, n if n in CATEGORIES else CATEGORY_SYNONYMS.get(n)) for n in plan.negatives]
    negs = [(n, c) for n, c in negs if c is not None]
    if negs:
        # the intruder keeps its category's shape (a banner squeezed into a square box is a poster)
        neg_pick = rng.choice(negs)
        spot = _free_box(plan, rng, aspect=CATEGORIES[neg_pick[1]].aspect, size=0.2)
        if spot is not None:
            kinds.append("negative")
    kinds = [k for k in kinds if k in allowed]
    if not kinds:
        return None
    kind = rng.choice(kinds)
    if kind == "negative":
        noun, cat = neg_pick
        bad.entities.append(Entity(id="intruder_1", noun=noun, category=cat, box=spot, z=5,
                                   attributes=Attributes(color=CATEGORIES[cat].default_color)))
        return bad, kind, {noun}
    if kind == "remove":
        e = rng.choice(ents)
        bad.relations = []
        bad.entities = [x for x in bad.entities if x.id != e.id]
        rel = {f"{r.subject} {r.predicate} {r.object}" for r in plan.relations
               if e.id in (r.subject, r.object) or e.group in (r.subject, r.object)}
        return bad, kind, {e.id, e.group} | rel
    if kind == "recolor":
        e = rng.choice(stated)
        bad.entity(e.id).attributes.color = rng.choice([c for c in COLOR_NAMES if c != e.attributes.color])
        return bad, kind, {e.id}
    if kind == "move":
        r = rng.choice(rels)
        s, o = bad.members(r.subject)[0], plan.members(r.object)[0]
        w = s.box[2] - s.box[0]
        ocx = (o.box[0] + o.box[2]) / 2
        scx = (s.box[0] + s.box[2]) / 2
        ncx = min(max(2 * ocx - scx, w / 2), 1 - w / 2)  # mirrored across the reference
        s.box = (ncx - w / 2, s.box[1], ncx + w / 2, s.box[3])
        # the defect is "this object is not where the plan put it": the relation and the object's own
        # presence at its planned place are both checks about it
        return bad, kind, {f"{r.subject} {r.predicate} {r.object}", s.id}
    t = rng.choice(bad.texts)
    letters = [i for i, ch in enumerate(t.content) if ch.isalnum()]
    i = rng.choice(letters)
    pool = string.ascii_uppercase if t.content[i].isupper() else string.ascii_lowercase if t.content[i].isalpha() else string.digits
    t.content = t.content[:i] + rng.choice([c for c in pool if c != t.content[i]]) + t.content[i + 1:]
    return bad, kind, {t.id}


# ---------------------------------------------------------------------------------------------
# Identity defects: the right colour in the right place, the wrong kind of thing
# ---------------------------------------------------------------------------------------------
BLOB_KINDS = ("hull", "ellipse", "blur", "smear")
IDENTITY_KINDS = ("swap", *BLOB_KINDS)
FAITHFUL_IOU = 0.9  # a blob this close to the thing's own silhouette ...
FAITHFUL_SHARE = 0.85  # ... of a thing nearly all one named colour is the thing itself: not a defect


def _identity_candidates(plan: ScenePlan) -> list[Entity]:
    from thinkdraw.world.render import DRAWERS

    return [e for e in plan.entities if e.category in DRAWERS and e.box is not None
            and not any(t.on == e.id for t in plan.texts)]


def inject_swap(plan: ScenePlan, rng: random.Random):
    """(defective plan, "swap", targets) or None: one thing redrawn as another world category, same box and
    colour (a thing that carries text is left alone: its text would fail too)."""
    from thinkdraw.world.render import DRAWERS

    ents = _identity_candidates(plan)
    if not ents:
        return None
    e = rng.choice(ents)
    bad = plan.model_copy(deep=True)
    bad.entity(e.id).category = rng.choice([c for c in DRAWERS if c != e.category])
    return bad, "swap", {e.id, e.group} - {None}


def _gauss(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a (H, W[, C]) float array, edges padded by replication."""
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r, r)
        p = np.pad(a, pad, mode="edge")
        a = sum(k[i] * np.take(p, np.arange(i, i + a.shape[axis]), axis=axis) for i in range(2 * r + 1))
    return a


def _morph(m: np.ndarray, r: int, grow: bool) -> np.ndarray:
    """Dilation (grow) or erosion of a boolean map by about ``r`` pixels (alternating 4- and 8-neighbourhoods:
    an octagon, close to a disc)."""
    m = m.copy()
    for i in range(r):
        p = np.pad(m, 1, constant_values=not grow)
        nb = [p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]]
        if i % 2:
            nb += [p[:-2, :-2], p[:-2, 2:], p[2:, :-2], p[2:, 2:]]
        m = np.logical_or.reduce(nb) if grow else np.logical_and.reduce(nb)
    return m


def _hull(ys: np.ndarray, xs: np.ndarray) -> list[tuple[float, float]]:
    """Convex hull (monotone chain) of the pixel squares at (ys, xs), as polygon points (x, y)."""
    pts = sorted({(x + dx, y + dy) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)
                  for dx in (0, 1) for dy in (0, 1)})

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _raster(poly: list[tuple[float, float]], h: int, w: int, ss: int = 4) -> np.ndarray:
    """Anti-aliased coverage (H, W) of a polygon given in pixel units."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (w * ss, h * ss))
    ImageDraw.Draw(im).polygon([(x * ss, y * ss) for x, y in poly], fill=255)
    return np.asarray(im.reduce(ss), np.float32) / 255.0


def blob_image(plan: ScenePlan, entity_id: str, kind: str, seed: int = 0):
    """The plan's render with one thing replaced by a blob of ``kind`` (BLOB_KINDS) of its colour in its place,
    or None when the blob would be the thing itself (nearly its silhouette, and the thing nearly one colour)
    or the thing is too small to see. Returns (image, iou of blob and thing, the thing's main-colour share).

      hull     its convex hull, filled with its dominant colour
      ellipse  the ellipse of its centroid, second moments and area, filled with its dominant colour
      blur     the thing blurred heavily (sigma 0.15 of the box's shorter side), thresholded to its own area
      smear    its mask dilated then eroded (closing, radius 0.2 of the shorter side), colours smeared by a blur
    """
    from PIL import Image

    from thinkdraw.pixels import PALETTE, named_colors
    from thinkdraw.world.render import render_scene

    if kind not in BLOB_KINDS:
        raise ValueError(f"unknown blob kind {kind!r}; choose from {', '.join(BLOB_KINDS)}")
    full = render_scene(plan, seed=seed)
    idx = next(i for i, e in enumerate(plan.entities) if e.id == entity_id)
    e = plan.entities[idx]
    mask = full.instance == idx + 1
    area = int(mask.sum())
    if area < 30:
        return None
    rest = plan.model_copy(deep=True)
    rest.relations = []
    rest.texts = [t for t in rest.texts if t.on != entity_id]
    rest.entities = [x for x in rest.entities if x.id != entity_id]
    base = np.asarray(render_scene(rest, seed=seed).image, np.float32)
    img = np.asarray(full.image, np.float32)
    H, W = mask.shape
    bw, bh = (e.box[2] - e.box[0]) * W, (e.box[3] - e.box[1]) * H
    short = max(2.0, min(bw, bh))
    ys, xs = np.nonzero(mask)
    names = named_colors(img[ys, xs])
    counts = np.bincount(names, minlength=len(PALETTE))
    main_share = float(counts.max() / area)
    dom = img[ys, xs][names == counts.argmax()].mean(0)
    if kind == "hull":
        alpha = _raster(_hull(ys, xs), H, W)
        rgb = np.broadcast_to(dom, img.shape)
    elif kind == "ellipse":
        cy, cx = ys.mean() + 0.5, xs.mean() + 0.5
        cov = np.cov(np.stack([xs, ys]).astype(np.float64)) + np.eye(2) / 12
        ev, vec = np.linalg.eigh(cov)
        ax = 2 * np.sqrt(np.maximum(ev, 1e-6))  # semi-axes of the uniform ellipse with these moments
        ax *= math.sqrt(area / (math.pi * ax[0] * ax[1]))  # ... scaled to the thing's area
        t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
        pts = (vec @ np.stack([ax[0] * np.cos(t), ax[1] * np.sin(t)])).T + (cx, cy)
        alpha = _raster([tuple(p) for p in pts.tolist()], H, W)
        rgb = np.broadcast_to(dom, img.shape)
    else:
        sigma = 0.15 * short if kind == "blur" else 0.1 * short
        a = _gauss(mask.astype(np.float32), sigma)
        rgb = _gauss(img * mask[..., None], sigma) / np.maximum(a, 1e-4)[..., None]
        if kind == "blur":
            thr = np.sort(a.ravel())[::-1][min(area, a.size) - 1]  # keeps the thing's area
            alpha = np.clip((a - thr) / max(thr, 1e-4) * 2.0 + 0.5, 0.0, 1.0)
        else:
            r = max(2, int(round(0.2 * short)))
            alpha = _morph(_morph(mask, r, grow=True), r, grow=False).astype(np.float32)
            alpha = np.maximum(alpha, mask)
            a2 = _gauss(alpha, 0.1 * short)  # colours smeared over the closed shape
            rgb = _gauss(img * alpha[..., None], 0.1 * short) / np.maximum(a2, 1e-4)[..., None]
    new = alpha >= 0.5
    iou = float((new & mask).sum() / max(1, (new | mask).sum()))
    if iou >= FAITHFUL_IOU and main_share >= FAITHFUL_SHARE:
        return None
    out = base * (1.0 - alpha[..., None]) + rgb * alpha[..., None]
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB"), iou, main_share


def inject_blob(plan: ScenePlan, rng: random.Random, kind: str, seed: int = 0):
    """(image, kind, targets) or None: one thing (a random one whose blob is a defect) replaced by a ``kind``
    blob in its render (``seed``)."""
    ents = _identity_candidates(plan)
    rng.shuffle(ents)
    for e in ents:
        r = blob_image(plan, e.id, kind, seed)
        if r is not None:
            return r[0], kind, {e.id, e.group} - {None}
    return None
