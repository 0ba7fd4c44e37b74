"""Injected defects: a plan's render with one thing wrong, to validate judges (critic and eval scorer).

``inject(plan, rng)`` -> (defective plan, kind, targets) or None, where rendering the defective plan and
judging it against the original ``plan`` must fail a check whose target is in ``targets``. Kinds:
  remove   an object is left out
  recolor  an object whose colour the prompt states gets another named colour
  move     an object is mirrored across the reference of its left/right relation
  letter   one letter of a text is changed
  negative the object the prompt excludes ("no cat") is drawn in a free spot, in its category's aspect
"""

from __future__ import annotations

import random
import string

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
