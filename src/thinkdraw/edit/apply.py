"""Plan an edit: an instruction on a ScenePlan becomes an EditPlan (operations, the plan after the edit, and
the regions to redraw), with a reasoning trace in three stages a reader can audit:

  locate   which thing each phrase means, where it is, and why that one ("'the left apple' -> apple_1 (red
           apple, bottom left) (the leftmost of 2)")
  edit     the operations, each with the region it changes: the old and the new box of every changed thing
           (a removed thing's box, a moved thing's old and new place, a recoloured thing's box, a text's old
           and new box); a background, time-of-day, light or style change changes every pixel, so its region
           is the whole canvas, and the reasoning says so
  final    the state after the edit, in words, and how much of the canvas will be redrawn

``plan_edit(plan, instruction, focus)`` never guesses: a phrase that names nothing in the plan, or several
things where one is meant, refuses the whole edit (``EditOutcome.ok`` False, the answer in ``message`` and
in the reasoning), and the plan is left as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkdraw.edit import geometry as G
from thinkdraw.edit.instruct import Intent, parse_instruction
from thinkdraw.edit.refs import EditRefused, Located, color_name, describe_entity, inventory, locate, where
from thinkdraw.plan.schema import (
    EditOperation,
    EditPlan,
    Entity,
    Reasoning,
    Relation,
    ScenePlan,
    TextBlock,
    to_got,
)
from thinkdraw.world.vocab import CATEGORIES, COLOR_NAMES, SIZES

WHOLE = (0.0, 0.0, 1.0, 1.0)


@dataclass
class EditOutcome:
    ok: bool
    edit: EditPlan | None
    reasoning: Reasoning
    message: str = ""  # why nothing was edited (ok False), or a note
    kind: str = ""  # not_found | ambiguous | not_understood | impossible (ok False)
    focus: list[str] = field(default_factory=list)  # what "it"/"them" mean in the next instruction
    global_edit: bool = False  # the region is the whole canvas (background, time of day, light, style)


def _box(b) -> str:
    return str(list(to_got(b))) if b else "none"


class _Editor:
    def __init__(self, plan: ScenePlan, instruction: str, focus: list[str] | None, seed: int) -> None:
        self.old = plan
        self.p = plan.model_copy(deep=True)
        self.instruction = instruction
        self.focus = list(focus or [])
        self.seed = seed
        self.ops: list[EditOperation] = []
        self.regions: list[tuple[float, float, float, float]] = []
        self.global_why: list[str] = []
        self.locates: list[str] = []
        self.lines: list[str] = []

    # --- helpers ------------------------------------------------------------------------------
    def loc(self, phrase: str, allow_text: bool = False) -> Located:
        got = locate(self.p, phrase, self.focus, allow_text=allow_text)
        self.locates.append(got.why)
        return got

    def changed(self, *boxes) -> None:
        for b in boxes:
            if b is not None and tuple(b) not in self.regions:
                self.regions.append(tuple(b))

    def new_id(self, base: str) -> str:
        used = {e.id for e in self.p.entities} | {e.group for e in self.p.entities if e.group}
        k = 1
        while f"{base}_{k}" in used:
            k += 1
        return f"{base}_{k}"

    def new_text_id(self) -> str:
        used = {t.id for t in self.p.texts}
        k = 1
        while f"text_{k}" in used:
            k += 1
        return f"text_{k}"

    def texts_on(self, eid: str) -> list[TextBlock]:
        return [t for t in self.p.texts if t.on == eid]

    def dependents(self, ids: set[str]) -> list[Entity]:
        out, frontier = [], set(ids)
        while frontier:
            nxt = {e.id for e in self.p.entities if e.supported_by in frontier and e.id not in ids
                   and e not in out}
            out += [e for e in self.p.entities if e.id in nxt]
            ids |= nxt
            frontier = nxt
        return out

    def from_np(self, np_: str) -> ScenePlan:
        from thinkdraw.think import get_planner
        from thinkdraw.think.rules import PlanningError

        try:
            _, sub = get_planner("rules").plan(np_, seed=self.seed)
        except PlanningError as e:
            raise EditRefused(f"I cannot draw '{np_}': {e}", "not_understood") from e
        if not sub.entities:
            raise EditRefused(f"'{np_}' names no thing to draw", "not_understood")
        for w in sub.warnings:
            self.lines.append(f"note: {w}")
        return sub

    def adopt(self, sub: ScenePlan, group: str | None = None) -> list[Entity]:
        """The entities (and their texts) of a planned phrase, with fresh ids, not yet placed."""
        ents = []
        mapping: dict[str, str] = {}
        groups: dict[str, str] = {}
        for e in sub.entities:
            nid = self.new_id(e.category or e.noun.replace(" ", "_"))
            mapping[e.id] = nid
            g = e.group
            if g is not None and group is None:
                if g not in groups:
                    groups[g] = g if not any(x.group == g or x.id == g for x in self.p.entities) else self.new_id(g)
                g = groups[g]
            elif group is not None:
                g = group
            ne = e.model_copy(update={"id": nid, "group": g, "box": None, "supported_by": None}, deep=True)
            self.p.entities.append(ne)
            ents.append(ne)
        for t in sub.texts:
            if t.on in mapping:
                self.p.texts.append(t.model_copy(update={"id": self.new_text_id(), "on": mapping[t.on], "box": None}))
        for n in list(self.p.negatives):
            if any(e.category == n or e.noun == n for e in ents):
                self.p.negatives.remove(n)
                self.lines.append(f"'{n}' was excluded; it no longer is")
        return ents

    def support_for(self, e: Entity) -> str:
        if not G.is_grounded(e):
            return "air"
        if G.habitat(e) == "surface" and self.p.background.kind == "sea":
            return "water"
        return "table" if self.p.background.kind == "table" else "ground"

    # --- where -----------------------------------------------------------------------------
    def spec(self, where_: str | None):
        if not where_:
            return None
        w = " ".join(where_.lower().split())
        m = re.fullmatch(r"(?:to|on|at|towards?|in)?\s*(?:the\s+)?(?:far\s+|very\s+)?(?P<s>left|right|top|bottom|"
                         r"middle|center|centre)(?:\s+(?:side|edge|corner|half))?(?:\s+of\s+the\s+(?:picture|image|"
                         r"canvas|scene))?", w)
        if m:
            return ("side", {"center": "middle", "centre": "middle"}.get(m.group("s"), m.group("s")))
        m = re.fullmatch(r"(?P<d>left|right|up|down|upwards|downwards)(?:\s+(?P<a>a\s+bit|a\s+little|slightly|a\s+lot))?"
                         r"(?:\s+a\s+bit|\s+a\s+little)?", w)
        if m:
            return ("shift", m.group("d").replace("wards", ""), m.group("a") or "")
        m = re.fullmatch(r"in\s+the\s+(?P<z>sky|air|water|sea)", w)
        if m:
            return ("zone", "air" if m.group("z") in ("sky", "air") else "water")
        m = re.fullmatch(r"between\s+(?P<a>.+?)\s+&\s+(?P<b>.+)", w)
        if m:
            return ("between", m.group("a"), m.group("b"))
        for pat, pred in ((r"(?:to\s+the\s+left\s+of|left\s+of)", "left_of"), (r"(?:to\s+the\s+right\s+of|right\s+of)",
                           "right_of"), (r"(?:next\s+to|beside|besides|by|near|closer\s+to|close\s+to|in\s+front\s+of|"
                                         r"behind)", "next_to"),
                          (r"(?:above|over)", "above"), (r"(?:below|under|beneath|underneath)", "below"),
                          (r"(?:on\s+top\s+of|on|onto)", "on"), (r"to", "next_to")):
            m = re.fullmatch(pat + r"\s+(?P<ref>.+)", w)
            if m:
                return ("rel", pred, m.group("ref"))
        raise EditRefused(f"I do not know where '{where_}' is; say e.g. 'to the left', 'next to the cup', "
                          f"'above the house'", "not_understood")

    def put(self, ents: list[Entity], spec, moving: bool, anchor_hint=None) -> list[str]:
        """Boxes for ``ents`` (placed as one block, kept in their order) from ``spec``. Returns relation notes."""
        ids = {e.id for e in ents}
        if moving:
            olds = [e.box for e in ents]
            ux0, uy0 = min(b[0] for b in olds), min(b[1] for b in olds)
            ux1, uy1 = max(b[2] for b in olds), max(b[3] for b in olds)
        else:
            sizes = [G.base_size(e, self.p) for e in ents]
            gap = G.GAP * 0.6
            w = sum(s[0] for s in sizes) + gap * (len(sizes) - 1)
            h = max(s[1] for s in sizes)
            y0, y1 = G.zone_y(ents[0], self.p, h, exclude=ids)
            ux0, uy0, ux1, uy1 = 0.5 - w / 2, y0, 0.5 + w / 2, y1
        w, h = ux1 - ux0, uy1 - uy0
        grounded = all(G.is_grounded(e) for e in ents)
        notes: list[str] = []
        if spec is None:
            nb = G.place(self.p, w, h, uy0, anchor_hint if anchor_hint is not None else 0.5, ids)
        elif spec[0] == "side":
            s = spec[1]
            if s in ("left", "right", "middle"):
                nb = G.place(self.p, w, h, uy0, G.SIDE_X[s], ids,
                             xs=(G.EDGE, 0.5 + w / 2 + 0.05) if s == "left" else (0.5 - w / 2 - 0.05, 1 - G.EDGE)
                             if s == "right" else None)
            else:
                y0 = 0.05 if s == "top" else 0.95 - h
                nb = G.place(self.p, w, h, y0, (ux0 + ux1) / 2, ids)
            if s in ("left", "right", "top", "bottom"):
                for e in ents:
                    e.attributes.__dict__.pop("position", None)
        elif spec[0] == "shift":
            step = 0.1 if spec[2] in ("a bit", "a little", "slightly") else 0.3 if spec[2] == "a lot" else 0.2
            dx = {"left": -step, "right": step}.get(spec[1], 0.0)
            dy = {"up": -step * 0.75, "down": step * 0.75}.get(spec[1], 0.0)
            nb = G.clip_box((ux0 + dx, uy0 + dy, ux1 + dx, uy1 + dy))
        elif spec[0] == "zone":
            hab = Entity(id="x", noun="bird", category="bird" if spec[1] == "air" else "fish")
            y0, _ = G.zone_y(hab, self.p, h, exclude=ids)
            nb = G.place(self.p, w, h, y0, (ux0 + ux1) / 2, ids)
            for e in ents:
                e.supported_by = "air" if spec[1] == "air" else "water"
        elif spec[0] == "between":
            a = self.loc(spec[1])
            b = self.loc(spec[2])
            ab = self.p.entity(a.ids[0]).box
            bb = self.p.entity(b.ids[0]).box
            cx = ((ab[0] + ab[2]) / 2 + (bb[0] + bb[2]) / 2) / 2
            y1 = (ab[3] + bb[3]) / 2 if grounded else ((ab[1] + ab[3]) / 2 + (bb[1] + bb[3]) / 2) / 2 + h / 2
            nb = G.clip_box((cx - w / 2, y1 - h, cx + w / 2, y1))
            subj = ents[0].group if len(ents) > 1 and ents[0].group else ents[0].id
            self.p.relations.append(Relation(subject=subj, predicate="between", object=a.ids[0], object2=b.ids[0]))
            notes.append(f"between {a.ids[0]} and {b.ids[0]}")
        else:
            _, pred, ref = spec
            got = self.loc(ref)
            anchors = [self.p.entity(i) for i in got.ids if i not in ids]
            if not anchors:
                raise EditRefused(f"'{ref}' is the thing being placed; name another thing to put it by", "impossible")
            ab = (min(a.box[0] for a in anchors), min(a.box[1] for a in anchors), max(a.box[2] for a in anchors),
                  max(a.box[3] for a in anchors))
            ref_id = anchors[0].group if len(anchors) > 1 and anchors[0].group else anchors[0].id
            cur = (ux0, uy0, ux1, uy1)
            if pred in ("left_of", "right_of", "next_to"):
                sides = ("left",) if pred == "left_of" else ("right",) if pred == "right_of" else \
                    (("right", "left") if (ux0 + ux1) / 2 >= (ab[0] + ab[2]) / 2 else ("left", "right"))
                same_line = grounded and all(G.is_grounded(a) for a in anchors)
                nb = G.beside(self.p, cur, ab, sides, ids | set(got.ids) - set(got.ids), same_line)
                if not same_line and not grounded:
                    pass
            else:
                sup = pred == "on" or (pred == "above" and grounded and len(anchors) == 1 and
                                       CATEGORIES.get(anchors[0].category or "") is not None and
                                       CATEGORIES[anchors[0].category].can_support)
                nb = G.stacked(self.p, cur, ab, "on" if sup else pred)
                if sup:
                    for e in ents:
                        e.supported_by = anchors[0].id
                    pred = "on"
                elif pred == "above":
                    for e in ents:
                        if e.supported_by not in ("air", None):
                            e.supported_by = "air"
            subj = ents[0].group if len(ents) > 1 and ents[0].group and all(e.group == ents[0].group for e in ents) \
                else ents[0].id
            if len(ents) > 1 and subj == ents[0].id:
                subj = None
            if subj is not None:
                self.p.relations.append(Relation(subject=subj, predicate=pred, object=ref_id))
                notes.append(f"{pred.replace('_', ' ')} {ref_id}")
        # the block's members keep their offsets inside it
        if moving:
            dx, dy = nb[0] - ux0, nb[1] - uy0
            for e in ents:
                e.box = G.clip_box((e.box[0] + dx, e.box[1] + dy, e.box[2] + dx, e.box[3] + dy))
        else:
            x = nb[0]
            for e, (ew, eh) in zip(ents, sizes, strict=True):
                by1 = nb[3] if grounded else (nb[1] + nb[3]) / 2 + eh / 2
                e.box = G.clip_box((x, by1 - eh, x + ew, by1))
                x += ew + G.GAP * 0.6
        return notes

    def drop_stale_relations(self, ids: set[str]) -> None:
        groups = {e.group for e in self.p.entities if e.group}
        ents = {e.id: e for e in self.p.entities}
        keep = []
        for r in self.p.relations:
            refs = [x for x in (r.subject, r.object, r.object2) if x]
            if any(x not in ents and x not in groups for x in refs):
                continue
            touched = any(x in ids or any(m.id in ids for m in self.p.members(x)) for x in refs)
            if touched and r.predicate in ("left_of", "right_of", "above", "below"):
                ok = all(G.relation_holds(r.predicate, s.box, o.box) for s in self.p.members(r.subject)
                         for o in self.p.members(r.object) if s.box and o.box and s.id != o.id)
                if not ok:
                    self.lines.append(f"the relation '{r.subject} {r.predicate} {r.object}' no longer holds; dropped")
                    continue
            keep.append(r)
        object.__setattr__(self.p, "relations", keep)

    # --- operations ---------------------------------------------------------------------------
    def do(self, it: Intent) -> None:
        getattr(self, "op_" + it.op)(it)

    def op_recolor(self, it: Intent) -> None:
        got = self.loc(it.ref)
        c = it.params["color"]
        if c not in COLOR_NAMES:
            raise EditRefused(f"the world has no colour '{c}'", "impossible")
        for i in got.ids:
            e = self.p.entity(i)
            was = color_name(e)
            if was == c:
                self.lines.append(f"{i} is already {c}: nothing to change")
                continue
            e.attributes.color = c
            e.attributes.default_color = False
            self.ops.append(EditOperation(op="recolor", target=i, params={"color": c, "was": was}))
            self.lines.append(f"recolor {i} from {was} to {c}; region: its box {_box(e.box)}")
            self.changed(e.box)
        self.focus = got.ids

    def _remove_ids(self, ids: list[str], why: str = "") -> None:
        gone = set(ids)
        for i in ids:
            e = self.p.entity(i)
            ts = self.texts_on(i)
            self.changed(e.box, *[t.box for t in ts])
            self.ops.append(EditOperation(op="remove", target=i, params={"box": e.box}))
            self.lines.append(f"remove {i}{why}; region: its box {_box(e.box)}, where the background is drawn "
                              f"again" + (f" (with its text {', '.join(repr(t.content) for t in ts)})" if ts else ""))
        for d in self.dependents(set(gone)):
            self.lines.append(f"note: {d.id} stood on a removed thing; it now rests on the "
                              f"{self.support_for(d)} where it is")
        cats = {self.p.entity(i).category for i in ids}
        # assigned without validation (relations may name what just went); the result is validated at the end
        object.__setattr__(self.p, "texts", [t for t in self.p.texts if t.on not in gone])
        object.__setattr__(self.p, "entities", [e for e in self.p.entities if e.id not in gone])
        for e in self.p.entities:
            if e.supported_by in gone:
                e.supported_by = self.support_for(e)
        self.drop_stale_relations(set())
        for c in cats:
            if c and not any(e.category == c for e in self.p.entities) and c not in self.p.negatives:
                self.p.negatives.append(c)

    def op_remove(self, it: Intent) -> None:
        got = self.loc(it.ref)
        ids = got.ids if got.quantity is None else got.ids[len(got.ids) - got.quantity:]
        if got.quantity is not None and len(got.ids) > got.quantity:
            self.locates.append(f"of those, {', '.join(ids)} (counting from the right)")
        self._remove_ids(ids)
        self.focus = []

    def op_keep_only(self, it: Intent) -> None:
        got = self.loc(it.ref)
        keep = set(got.ids)
        cats = {self.p.entity(i).category for i in keep}
        same = [e.id for e in self.p.entities if e.category in cats and e.id not in keep]
        drop = same or [e.id for e in self.p.entities if e.id not in keep]
        self.lines.append("keep only " + ", ".join(sorted(keep)) + (": the other things of that kind go" if same
                                                                    else ": everything else goes"))
        self._remove_ids(drop)
        self.focus = sorted(keep)

    def _members(self, ref: str) -> list[Entity]:
        r = re.sub(r"^of\s+", "", ref.strip())
        toks = r.split()
        phrase = r if toks[0] in ("them", "those", "these", "the", "all") else f"all the {r}"
        try:
            got = locate(self.p, phrase, self.focus)
        except EditRefused as e:
            if e.kind == "not_found" and "there is no" in str(e):
                return []
            raise
        self.locates.append(got.why)
        return [self.p.entity(i) for i in got.ids]

    def op_count(self, it: Intent) -> None:
        n = it.params["n"]
        members = sorted(self._members(it.ref), key=lambda e: (e.box[0], e.box[1]))
        k = len(members)
        noun = members[0].noun if members else it.ref
        if n == k:
            self.lines.append(f"there are already {n} {noun}(s): nothing to change")
            self.focus = [e.id for e in members]
            return
        if n < k:
            self.lines.append(f"count of {noun}: {k} -> {n}; keep {', '.join(e.id for e in members[:n])} "
                              f"(counting from the left)")
            self._remove_ids([e.id for e in members[n:]])
            self.focus = [e.id for e in members[:n]]
            return
        self._more(members, n - k, it.ref, None)
        self.lines.append(f"count of {noun}: {k} -> {n}")

    def op_more(self, it: Intent) -> None:
        self._more(self._members(it.ref), it.params["n"], it.ref, it.params.get("where"))

    def _more(self, members: list[Entity], n: int, ref: str, where_: str | None) -> None:
        if not members:
            self.lines.append(f"there is no {ref} yet: adding {n}")
            self.op_add(Intent("add", None, {"np": f"{n} {ref}", "where": where_}))
            return
        m0 = members[0]
        group = m0.group
        if group is None:
            group = m0.category or m0.noun
            if any(e.group == group or (e.id == group) for e in self.p.entities if e not in members):
                group = self.new_id(group)
            for e in members:
                e.group = group
        new = []
        for _ in range(n):
            ne = m0.model_copy(update={"id": self.new_id(m0.category or m0.noun), "box": None}, deep=True)
            self.p.entities.append(ne)
            new.append(ne)
        ub = (min(e.box[0] for e in members), max(e.box[2] for e in members))
        w, h = (m0.box[2] - m0.box[0]), (m0.box[3] - m0.box[1])
        if where_:
            for ne in new:
                ne.box = None
            self.put(new, self.spec(where_), moving=False)
        else:
            for ne in new:  # beside the others, on their line, where there is room
                want = ub[1] + G.GAP + w / 2
                ne.box = G.place(self.p, w, h, m0.box[1], want, {x.id for x in new if x.box is None})
                ub = (min(ub[0], ne.box[0]), max(ub[1], ne.box[2]))
        for ne in new:
            self.changed(ne.box)
            self.ops.append(EditOperation(op="add", target=ne.id, params={"like": m0.id, "box": ne.box}))
            self.lines.append(f"add {ne.id}, like {m0.id} ({color_name(m0)} {m0.noun}); region: its box {_box(ne.box)}")
        self.focus = [e.id for e in new]

    def op_add(self, it: Intent) -> None:
        sub = self.from_np(it.params["np"])
        ents = self.adopt(sub)
        spec = self.spec(it.params.get("where"))
        notes = self.put(ents, spec, moving=False)
        for e in ents:
            if e.supported_by is None:
                e.supported_by = self.support_for(e)
            ts = self.texts_on(e.id)
            G.fit_texts(self.p, e, ts)
            self.changed(e.box)
            c = color_name(e)
            self.ops.append(EditOperation(op="add", target=e.id, params={"category": e.category, "color": c,
                                                                          "box": e.box}))
            self.lines.append(f"add {e.id} ({(c + ' ') if c else ''}{e.noun}) at {where(e.box)} {_box(e.box)}"
                              + (f", {', '.join(notes)}" if notes else "")
                              + (f", carrying {', '.join(repr(t.content) for t in ts)}" if ts else "")
                              + "; region: its box")
        self.focus = [e.id for e in ents]

    def op_move(self, it: Intent) -> None:
        got = self.loc(it.ref)
        ents = [self.p.entity(i) for i in got.ids]
        deps = self.dependents(set(got.ids))
        before = {e.id: e.box for e in ents + deps}
        tboxes = {t.id: t.box for e in ents + deps for t in self.texts_on(e.id)}
        # the moved thing's old relations are re-judged after the move
        notes = self.put(ents, self.spec(it.params["where"]), moving=True)
        for e in ents:
            ob = before[e.id]
            dx, dy = e.box[0] - ob[0], e.box[1] - ob[1]
            for d in [d for d in deps if d.supported_by == e.id] + []:
                d.box = G.clip_box((d.box[0] + dx, d.box[1] + dy, d.box[2] + dx, d.box[3] + dy))
        for e in ents + deps:
            ob = before[e.id]
            dx, dy = e.box[0] - ob[0], e.box[1] - ob[1]
            for t in self.texts_on(e.id):
                if t.box is not None:
                    t.box = G.clip_box((t.box[0] + dx, t.box[1] + dy, t.box[2] + dx, t.box[3] + dy))
                self.changed(tboxes.get(t.id), t.box)
            if e.box != ob:
                self.changed(ob, e.box)
        moved = [e for e in ents + deps if e.box != before[e.id]]
        if not moved:
            self.lines.append(f"{', '.join(got.ids)} is already there: nothing to move")
        for e in moved:
            self.ops.append(EditOperation(op="move", target=e.id, params={"from": before[e.id], "to": e.box}))
            self.lines.append(f"move {e.id} from {where(before[e.id])} {_box(before[e.id])} to {where(e.box)} "
                              f"{_box(e.box)}" + (f" ({', '.join(notes)})" if notes and e in ents else "")
                              + (" (it stands on a moved thing)" if e in deps else "")
                              + "; region: its old and its new box")
        fresh = len(notes)
        if fresh:
            new_rel = self.p.relations[-fresh:]
            object.__setattr__(self.p, "relations", self.p.relations[:-fresh])
        self.drop_stale_relations({e.id for e in moved})
        if fresh:
            object.__setattr__(self.p, "relations", self.p.relations + new_rel)
        self.focus = got.ids

    def op_resize(self, it: Intent) -> None:
        got = self.loc(it.ref)
        size, adv = it.params["size"], it.params.get("adv", "")
        more = {"much": 1.7, "a lot": 1.7, "way": 1.7, "a bit": 1.15, "a little": 1.15, "slightly": 1.15}
        less = {"much": 0.5, "a lot": 0.5, "way": 0.5, "a bit": 0.85, "a little": 0.85, "slightly": 0.85}
        for i in got.ids:
            e = self.p.entity(i)
            cur = e.attributes.size or "medium"
            if size in ("bigger", "larger", "taller"):
                f, new = more.get(adv, 1.4), {"small": "medium"}.get(cur, "large")
            elif size in ("smaller", "tinier", "shorter"):
                f, new = less.get(adv, 0.7), {"large": "medium"}.get(cur, "small")
            elif size.startswith("twice"):
                f, new = 2.0, "large"
            elif size.startswith("half"):
                f, new = 0.5, "small"
            elif "same" in size:
                continue
            else:
                new = {"big": "large", "huge": "large", "giant": "large", "enormous": "large", "tiny": "small",
                       "little": "small", "medium-sized": "medium"}.get(size, size)
                if new == cur:
                    self.lines.append(f"{i} is already {new}: nothing to change")
                    continue
                f = SIZES[new] / SIZES[cur]
            ob = e.box
            e.box = G.scaled(ob, f, G.is_grounded(e) and e.supported_by not in ("air",))
            e.attributes.size = new
            ts = self.texts_on(i)
            olds = [t.box for t in ts]
            G.fit_texts(self.p, e, ts)
            dy = e.box[1] - ob[1]
            for d in self.dependents({i}):
                self.changed(d.box)
                d.box = G.clip_box((d.box[0], d.box[1] + dy, d.box[2], d.box[3] + dy))
                self.changed(d.box)
            self.changed(ob, e.box, *olds, *[t.box for t in ts])
            self.ops.append(EditOperation(op="resize", target=i, params={"factor": round(f, 3), "size": new,
                                                                          "from": ob, "to": e.box}))
            self.lines.append(f"resize {i} by {f:.2f} ({cur} -> {new}): {_box(ob)} -> {_box(e.box)}; region: its old "
                              f"and new box")
        self.drop_stale_relations(set(got.ids))
        self.focus = got.ids

    def op_replace(self, it: Intent) -> None:
        got = self.loc(it.ref)
        new_ids = []
        for i in got.ids:
            old = self.p.entity(i)
            sub = self.from_np(it.params["np"])
            if len(sub.entities) != 1:
                raise EditRefused(f"replace one thing by one thing: '{it.params['np']}' is {len(sub.entities)}",
                                  "impossible")
            [ne] = self.adopt(sub)
            self.p.entities.remove(ne)
            w, h = G.base_size(ne, self.p)
            ob = old.box
            cx = (ob[0] + ob[2]) / 2
            if G.is_grounded(ne) and G.is_grounded(old):
                ne.box = G.clip_box((cx - w / 2, ob[3] - h, cx + w / 2, ob[3]))
                ne.supported_by = old.supported_by
            else:
                cy = (ob[1] + ob[3]) / 2
                ne.box = G.clip_box((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
                ne.supported_by = old.supported_by if G.is_grounded(ne) == G.is_grounded(old) else self.support_for(ne)
            ne.z = old.z
            k = self.p.entities.index(old)
            self.p.entities[k] = ne
            for d in self.p.entities:
                if d.supported_by == old.id:
                    d.supported_by = ne.id
            for r in self.p.relations:
                if r.subject == old.id:
                    r.subject = ne.id
                if r.object == old.id:
                    r.object = ne.id
                if r.object2 == old.id:
                    r.object2 = ne.id
            ts = [t for t in self.p.texts if t.on == old.id]
            olds = [t.box for t in ts]
            mine = [t for t in self.p.texts if t.on == ne.id]
            if ts and G.carries_text(ne) and not mine:
                for t in ts:
                    t.on = ne.id
                G.fit_texts(self.p, ne, ts)
            elif ts:
                object.__setattr__(self.p, "texts", [t for t in self.p.texts if t.on != old.id])
                self.lines.append(f"note: {ne.noun} carries no text; {', '.join(repr(t.content) for t in ts)} goes")
            G.fit_texts(self.p, ne, mine)
            self.changed(ob, ne.box, *olds)
            self.ops.append(EditOperation(op="replace", target=old.id, params={"by": ne.id, "category": ne.category,
                                                                                "box": ne.box}))
            self.lines.append(f"replace {describe_entity(old)} by {describe_entity(ne)} at {_box(ne.box)}; region: "
                              f"the old box and the new one")
            new_ids.append(ne.id)
            if old.category and not any(e.category == old.category for e in self.p.entities) \
                    and old.category not in self.p.negatives:
                self.p.negatives.append(old.category)
        self.focus = new_ids

    def op_retext(self, it: Intent) -> None:
        content = it.params["content"]
        if not content.strip():
            raise EditRefused("the new text is empty; say what it should say", "not_understood")
        if it.params.get("old"):
            ts = [t for t in self.p.texts if t.content.lower() == it.params["old"].lower()]
            if not ts:
                raise EditRefused(f"no text in the image says \"{it.params['old']}\" (it holds "
                                  f"{inventory(self.p)})", "not_found")
            self.locates.append(f"\"{it.params['old']}\" -> {', '.join(t.id for t in ts)}")
        else:
            got = self.loc(it.ref, allow_text=True)
            if got.texts:
                ts = [t for t in self.p.texts if t.id in got.texts]
            else:
                ts = []
                for i in got.ids:
                    mine = self.texts_on(i)
                    if not mine:
                        t = TextBlock(id=self.new_text_id(), content=content, on=i)
                        self.p.texts.append(t)
                        mine = [t]
                        self.lines.append(f"{i} carried no text: it gets some")
                    ts += mine
                self.focus = got.ids
        for t in ts:
            was, ob = (None if t.box is None else t.content), t.box
            t.content = content
            if t.on is not None:
                G.fit_texts(self.p, self.p.entity(t.on), [t])
            elif t.box is None:
                t.box = (0.05, 0.03, 0.95, 0.2)
            self.changed(ob, t.box)
            self.ops.append(EditOperation(op="retext", target=t.id, params={"content": content, "was": was}))
            self.lines.append((f"rewrite {t.id}" + (f" on {t.on}" if t.on else "") + f" from {was!r} to {content!r}"
                               if was is not None else f"write {content!r} on {t.on} ({t.id})")
                              + f", letter for letter; region: the text's box {_box(t.box)}")

    def _global(self, op: str, what: str, old, new) -> None:
        if old == new:
            self.lines.append(f"the {what} is already {new}: nothing to change")
            return
        self.ops.append(EditOperation(op="restyle" if op == "style" else "background", target=None,
                                      params={what.replace(" ", "_"): new, "was": old}))
        self.lines.append(f"{what}: {old} -> {new}; this changes the light and colour of every pixel, so the "
                          f"region is the whole canvas")
        self.global_why.append(what)

    def op_time(self, it: Intent) -> None:
        self._global("time", "time of day", self.p.background.time, it.params["time"])
        self.p.background.time = it.params["time"]

    def op_background(self, it: Intent) -> None:
        kind = it.params["kind"]
        self._global("background", "background", self.p.background.kind, kind)
        if kind != self.p.background.kind:
            self.p.background.kind = kind
            self.p.background.colors = []
            for e in self.p.entities:
                if e.supported_by in ("ground", "table", "water"):
                    e.supported_by = self.support_for(e)

    def op_style(self, it: Intent) -> None:
        self._global("style", "style", self.p.style, it.params["style"])
        self.p.style = it.params["style"]

    def op_light(self, it: Intent) -> None:
        self._global("light", "light direction", self.p.lighting.direction, it.params["direction"])
        self.p.lighting.direction = it.params["direction"]

    def op_bgcolor(self, it: Intent) -> None:
        c = it.params["color"]
        self._global("bgcolor", f"{it.params['what']} colour", ",".join(self.p.background.colors) or "default", c)
        self.p.background.colors = [c]


def state_prompt(plan: ScenePlan) -> str:
    """The plan in words: 'a blue car, 2 red apples and a sign saying "OPEN" on the grass, at night'."""
    groups: dict[str, list[Entity]] = {}
    for e in plan.entities:
        groups.setdefault(f"{e.group}/{color_name(e)}/{e.attributes.size}" if e.group else e.id, []).append(e)
    things = []
    for ms in groups.values():
        e = ms[0]
        c = color_name(e)
        c = f"{c} " if c and not e.attributes.default_color else ""
        size = f"{e.attributes.size} " if e.attributes.size and e.attributes.size != "medium" else ""
        noun = e.noun if len(ms) == 1 else (CATEGORIES[e.category].plural if e.category in CATEGORIES and
                                             CATEGORIES[e.category].plural else e.noun + "s")
        t = [x for x in plan.texts if x.on in {m.id for m in ms}]
        say = f' saying "{t[0].content}"' if t else ""
        things.append((f"{len(ms)} " if len(ms) > 1 else ("an " if (size + c + noun)[:1] in "aeiou" else "a "))
                      + size + c + noun + say)
    things += [f'the text "{t.content}"' for t in plan.texts if t.on is None]
    s = ", ".join(things[:-1]) + (" and " if len(things) > 1 else "") + (things[-1] if things else "")
    bg = {"sky": "in the sky", "grass": "on the grass", "sea": "by the sea", "table": "on a table",
          "wall": "in a room", "plain": "on a plain background"}[plan.background.kind]
    s = f"{s} {bg}" if s else f"the {plan.background.kind}"
    if plan.background.time != "day":
        s += f", at {plan.background.time}"
    if plan.style != "flat":
        s += f", {plan.style} style"
    if plan.negatives:
        s += ", no " + ", no ".join(plan.negatives)
    return s


def plan_edit(plan: ScenePlan, instruction: str, focus: list[str] | None = None, seed: int = 0,
              parser=None) -> EditOutcome:
    """The instruction as an EditPlan on ``plan`` (see the module's docstring); ``focus``: what "it" and
    "them" mean before the instruction names anything (the last turn's things). ``parser``: reads the
    instruction into intents, ``parser(instruction, plan) -> list[Intent]`` (default: the rules,
    ``parse_instruction``; an LLM: ``thinkdraw.edit.llm_instruct.LLMInstructionParser``)."""
    reasoning = Reasoning()
    ed = _Editor(plan, instruction, focus, seed)
    try:
        intents = parser(instruction, plan) if parser is not None else parse_instruction(instruction)
        reasoning.add("edit", f"Instruction: {instruction!r}, read as {len(intents)} change(s): "
                              + "; ".join(f"{i.op} ({i.clause})" for i in intents) + ".")
        for it in intents:
            ed.do(it)
        result = ScenePlan.model_validate(ed.p.model_dump())
    except EditRefused as e:
        for line in ed.locates:
            reasoning.add("locate", line)
        reasoning.add("edit", f"Not edited: {e}. The image is left as it was.")
        return EditOutcome(ok=False, edit=None, reasoning=reasoning, message=str(e), kind=e.kind,
                           focus=list(focus or []))
    for line in ed.locates:
        reasoning.add("locate", line)
    for line in ed.lines:
        reasoning.add("edit", line[:1].upper() + line[1:] + ".")
    result.prompt = state_prompt(result)
    glob = bool(ed.global_why)
    mask = [WHOLE] if glob else list(ed.regions)
    if glob:
        area = 1.0
    else:

        from thinkdraw.pixels import boxes_mask

        W, H = result.canvas.width, result.canvas.height
        area = float(boxes_mask(mask, W, H, 4).mean()) if mask else 0.0
    if not ed.ops:
        reasoning.add("final", f"Nothing changes: {state_prompt(plan)}. No pixel is redrawn.")
    else:
        reasoning.add("final", f"Final state: {result.prompt}. Redrawn: "
                               + ("the whole canvas (" + ", ".join(ed.global_why) + " changed)" if glob else
                                  f"{len(mask)} region(s), {area:.0%} of the canvas; every other pixel is kept bit "
                                  f"for bit") + ".")
    edit = EditPlan(instruction=instruction, operations=ed.ops, result=result, mask=mask)
    return EditOutcome(ok=True, edit=edit, reasoning=reasoning, focus=ed.focus, global_edit=glob)
