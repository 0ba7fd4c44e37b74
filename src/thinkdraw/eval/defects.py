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

import random
import string

import numpy as np

from thinkdraw.pixels import FAITHFUL_IOU, FAITHFUL_SHARE  # noqa: F401  (a blob that close is the thing itself)
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

    from thinkdraw.pixels import blob_layer
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
    alpha, rgb, main_share = blob_layer(img, mask, short, kind)
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
