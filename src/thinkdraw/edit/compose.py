"""Several images combined by instruction (issue 12, part 4): compose their plans, then draw one.

    Engine().edit(["boat.png", "sea.png"], "the boat from image 1 on the sea of image 2")
    thinkdraw edit a.png b.png "put the cat from the second picture next to the tree" -o out.png

How an instruction is read (``plan_compose``):
1. **References to images**: "image 1", "picture #2", "the first image", "the second photo", "the last one",
   "the other image" -> image 1, 2, ... (numbers past the last image refuse the instruction).
2. **What comes from where**, phrase by phrase:
   - "the boat from/of/in image 1", "the red apples in the first picture", "everything from image 2": things
     *taken* from that image (located there with the edit's references: colour, position, ordinal...); they
     keep their category, colour, size, text and their size on the canvas;
   - "into/onto image 2", "put it in image 2", "on the sea of image 2" (a place word: sea, beach, grass,
     park, table, room, ...): image 2 is the **base, kept whole**: its things stay, and its pixels are kept
     bit for bit except where taken things are drawn in;
   - "the background/setting/sky/scenery of image 2": only its background (kind, time of day, colours,
     light, style); its things are left out, and the picture is drawn anew;
   - "next to the tree", "left of the car in image 1", "on the left", "above the house": where the taken
     things go (the anchor may be a thing of the base or one taken from another image);
   - what is left ("at night", "make it red", "and remove the cloud") is edited on the composed plan, "it"
     being what was taken.
   With no base named, the image nothing is taken from is the base, kept whole (the first of them); when
   every image gives things, the first image's background is used and the picture is drawn anew.
3. **Layout**: taken things keep their box's size and, when nothing says where, their horizontal place;
   they are put on their habitat's line of the new background (the ground line, the water line, the sky
   band: ``edit/geometry.py``, which holds the layout solver's rules) and slid into free space beside what
   is there; "next to X" and the other relations place them by X, as an edit's move does.
4. **Pixels**: only when one source is kept whole as the base (and nothing global changes) are pixels kept:
   that image's, everywhere outside the taken things' boxes. Otherwise no pixel is kept from any source and
   the reasoning says so. The reasoning (stage ``compose``) says which image each thing, the background and
   the light came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkdraw.edit import geometry as G
from thinkdraw.edit.apply import WHOLE, _box, _Editor, plan_edit, state_prompt
from thinkdraw.edit.refs import EditRefused, color_name, inventory, locate, where
from thinkdraw.plan.schema import EditOperation, EditPlan, Reasoning, ScenePlan
from thinkdraw.world.vocab import BACKGROUND_WORDS

_NOUN = r"(?:image|picture|photo|photograph|pic|img|input|drawing|file)"
_ORD = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4,
        "5th": 4, "sixth": 5, "6th": 5, "last": -1, "other": -2}
_NUM = {"one": 0, "two": 1, "three": 2, "four": 3, "five": 4, "six": 5}
_REF_ORD = re.compile(r"\b(?:the\s+)?(?P<o>" + "|".join(_ORD) + r")\s+(?:one|" + _NOUN + r")\b", re.I)
_REF_NUM = re.compile(r"\b(?:the\s+)?" + _NOUN + r"\s*(?:#\s*|no\.?\s*|number\s+)?(?P<k>\d+|" + "|".join(_NUM)
                      + r")\b", re.I)
SETTING_WORDS = ("background", "backdrop", "setting", "scenery", "scene", "sky", "colours", "colors", "light",
                 "lighting", "style", "time of day", "time", "weather", "look", "atmosphere", "mood")
PLACE_WORDS = tuple(sorted(set(BACKGROUND_WORDS) - {"sky", "skies", "air"} | {"place", "landscape", "location"},
                           key=len, reverse=True))
ALL_WORDS = ("everything", "all", "all the things", "the things", "all things", "the whole thing", "it all",
             "all of it", "the whole image", "the whole picture", "the objects", "all the objects")
_RELS = (r"to\s+the\s+left\s+of|left\s+of|to\s+the\s+right\s+of|right\s+of|next\s+to|beside|near|by|"
        r"above|over|below|under|beneath|underneath|on\s+top\s+of|in\s+front\s+of|behind|onto|on")
_REL = "(?P<rel>" + _RELS + ")"
_NP = r"(?P<np>(?:the|a|an)\s+(?:(?!@)[\w'-]+\s+){0,5}?(?!@)[\w'-]+)"
_OF = r"\s+(?:from|of|in|on|out\s+of)\s+@(?P<k>\d+)"
_VERBS = {"put", "place", "take", "add", "combine", "merge", "bring", "move", "insert", "paste", "use", "with",
          "and", "together", "please", "draw", "make", "show", "keep", "keeping", "set", "it", "them", "then",
          "also", "plus", "but", "have", "get", "copy", "drop", "stick", "let", "there", "me", "a", "picture", "of"}


@dataclass
class Part:
    kind: str  # things | whole | setting | where
    k: int | None  # the image (0-based)
    np: str = ""
    start: int = 0
    rel: str | None = None  # where: the relation word; the anchor is (k, np) when k is not None
    spec: tuple | None = None


@dataclass
class ComposeOutcome:
    ok: bool
    edit: EditPlan | None
    reasoning: Reasoning
    message: str = ""
    kind: str = ""
    focus: list[str] = field(default_factory=list)
    base: int | None = None  # the image kept whole as the base (its pixels kept outside the regions), or None
    global_edit: bool = True  # the whole canvas is drawn (nothing kept)
    background_from: int | None = None
    taken: dict[str, tuple[int, str]] = field(default_factory=dict)  # new id -> (image, id there)


def resolve_images(text: str, n: int) -> tuple[str, list[tuple[str, int]]]:
    """``text`` with each reference to an input image replaced by ``@K`` (K 0-based), and what was read
    ([("the second picture", 1), ...]). Raises EditRefused for an image that is not there."""
    found: list[tuple[str, int]] = []

    def num(m: re.Match[str]) -> str:
        raw = m.group("k").lower()
        k = int(raw) - 1 if raw.isdigit() else _NUM[raw]
        if not 0 <= k < n:
            raise EditRefused(f"there is no '{m.group(0).strip()}': {n} image(s) were given", "not_found")
        found.append((m.group(0).strip(), k))
        return f" @{k} "

    def ordinal(m: re.Match[str]) -> str:
        o = _ORD[m.group("o").lower()]
        if o == -2:
            used = {k for _, k in found}
            rest = [k for k in range(n) if k not in used]
            if n != 2 or len(rest) != 1:
                raise EditRefused(f"'{m.group(0).strip()}' is unclear with {n} images: say 'image 1', 'image 2'",
                                  "ambiguous")
            k = rest[0]
        else:
            k = n - 1 if o == -1 else o
        if not 0 <= k < n:
            raise EditRefused(f"there is no '{m.group(0).strip()}': {n} image(s) were given", "not_found")
        found.append((m.group(0).strip(), k))
        return f" @{k} "

    out = _REF_NUM.sub(num, text)
    out = _REF_ORD.sub(ordinal, out)
    return " ".join(out.split()), found


def _head(np_: str) -> str:
    return np_.split()[-1] if np_.split() else ""


def _is_setting(np_: str) -> bool:
    s = re.sub(r"^(?:the|a|an|its)\s+", "", np_.lower())
    return s in SETTING_WORDS or _head(s) in ("background", "backdrop", "setting", "scenery", "sky", "lighting",
                                              "light", "style", "colours", "colors", "atmosphere")


def _is_place(np_: str) -> bool:
    s = re.sub(r"^(?:the|a|an|its)\s+", "", np_.lower())
    return any(s == w or s.endswith(" " + w) for w in PLACE_WORDS)


def _is_all(np_: str) -> bool:
    return np_.lower().strip() in ALL_WORDS or np_.lower().strip() in ("the whole scene", "all of them")


def parse_compose(text: str, plans: list[ScenePlan]) -> tuple[list[Part], str, list[tuple[str, int]]]:
    """The parts of a compose instruction (``Part``s in their order) and what is left over (edit clauses)."""
    t, refs = resolve_images(" ".join(text.split()), len(plans))
    parts: list[Part] = []
    spans: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in spans)

    def located(k: int, np_: str) -> bool:
        try:
            locate(plans[k], np_)
            return True
        except EditRefused:
            return False

    # 1. a relation to a thing of an image: "next to the car in image 1", "on the sea of image 2"
    for m in re.finditer(r"\b" + _REL + r"\s+" + _NP + _OF, t, re.I):
        k, np_ = int(m.group("k")), m.group("np")
        if _is_setting(np_):
            continue
        if not located(k, np_) and _is_place(np_):
            parts.append(Part("whole", k, np_, m.start()))
        else:
            parts.append(Part("where", k, np_, m.start(), rel=m.group("rel")))
        spans.append(m.span())
    # 2. a setting: "with the background of image 2", "the sky from the first picture"
    for m in re.finditer(r"(?:\b(?:with|on|in|into|onto|against|over|using|under|keep(?:ing)?)\s+)?" + _NP + _OF, t, re.I):
        if free(*m.span()) and _is_setting(m.group("np")):
            parts.append(Part("setting", int(m.group("k")), m.group("np"), m.start()))
            spans.append(m.span())
    # 3. things: "the boat from image 1", "everything in image 2", "the apples and the ball of image 1"
    thing = (r"(?P<np>(?:(?:the|a|an|all|both|every|each|everything)\b(?:(?!@)[\w' -])*?)|everything|all)" + _OF)
    for m in re.finditer(thing, t, re.I):
        if not free(*m.span()):
            continue
        np_, k = m.group("np").strip(), int(m.group("k"))
        if _is_place(np_) and not located(k, np_):
            parts.append(Part("whole", k, np_, m.start()))
        else:
            parts.append(Part("things", k, np_, m.start()))
        spans.append(m.span())
    # 4. a whole image as the place: "into image 2", "put it in the second picture"
    for m in re.finditer(r"\b(?:into|onto|inside|in|on|to|over)\s+@(?P<k>\d+)", t, re.I):
        if free(*m.span()):
            parts.append(Part("whole", int(m.group("k")), "", m.start()))
            spans.append(m.span())
    # 5. a bare image: "combine image 1 and image 2" -> everything in it
    for m in re.finditer(r"@(?P<k>\d+)", t):
        if free(*m.span()):
            parts.append(Part("things", int(m.group("k")), "everything", m.start()))
            spans.append(m.span())
    parts.sort(key=lambda p: p.start)
    left = t
    for a, b in sorted(spans, reverse=True):
        left = left[:a] + " , " + left[b:]
    # what is left: where-phrases without an image ("next to the tree", "on the left"), and edit clauses
    clauses = []
    for c in re.split(r"\s*(?:,|;|\band then\b|\bthen\b|\band\b|\.\s)\s*", left):
        whole = c.strip()
        words = whole.split()
        while words and words[0].lower() in _VERBS:
            words.pop(0)
        c = " ".join(words)
        if not c:
            continue
        if re.match(r"^(?:" + _RELS + r"|between|to\s+the|at\s+the|in\s+the\s+(?:middle|centre|center|sky|water|"
                    r"sea)|left|right)\b", c, re.I) and not re.match(r"^(?:at|in)\s+(?:the\s+)?(?:night|day|dawn|dusk|"
                                                                        r"sunset|evening|morning)", c, re.I):
            pos = t.find(c)
            parts.append(Part("where", None, c, pos if pos >= 0 else len(t)))
        else:
            clauses.append(re.sub(r"^(?:and|then|also|plus|but|please)\s+", "", whole, flags=re.I))
    parts.sort(key=lambda p: p.start)
    return parts, ", ".join(clauses), refs


def plan_compose(plans: list[ScenePlan], instruction: str, seed: int = 0,
                 names: list[str] | None = None) -> ComposeOutcome:
    """Compose several images' plans by instruction (see the module's docstring)."""
    n = len(plans)
    names = names or [f"image {k + 1}" for k in range(n)]
    reasoning = Reasoning()
    for k, p in enumerate(plans):
        reasoning.add("locate", "Compose: " + f"Image {k + 1} ({names[k]}): {state_prompt(p)}.")
    try:
        parts, rest, refs = parse_compose(instruction, plans)
        if refs:
            reasoning.add("locate", "Compose: " + "References: " + "; ".join(f"'{r}' -> image {k + 1}" for r, k in refs) + ".")
        return _compose(plans, instruction, parts, rest, seed, reasoning)
    except EditRefused as e:
        reasoning.add("locate", "Compose: " + f"Not composed: {e}. No image is written.")
        return ComposeOutcome(ok=False, edit=None, reasoning=reasoning, message=str(e), kind=e.kind)


def _compose(plans, instruction, parts, rest, seed, reasoning) -> ComposeOutcome:
    n = len(plans)
    things = [p for p in parts if p.kind == "things"]
    wholes = sorted({p.k for p in parts if p.kind == "whole"})
    settings = [p for p in parts if p.kind == "setting"]
    if len(wholes) > 1:
        raise EditRefused(f"images {' and '.join(str(k + 1) for k in wholes)} are both named as the place; keep one "
                          f"whole and take things from the other", "ambiguous")
    if not things and not wholes and not settings:
        raise EditRefused("the instruction takes nothing from any image: say e.g. 'the boat from image 1 on the "
                          "sea of image 2'", "not_understood")
    if wholes:
        base, why = wholes[0], f"image {wholes[0] + 1} is named as the place"
    elif settings:
        base = settings[0].k if not plans[settings[0].k].entities else None
        why = (f"image {settings[0].k + 1} gives the {re.sub(r'^(?:the|a|an) ', '', settings[0].np)}"
               + (" and holds no things" if base is not None else ""))
    else:
        unused = [k for k in range(n) if k not in {p.k for p in things}]
        base = unused[0] if unused else None
        why = (f"nothing is taken from image {base + 1}" if base is not None else
               "every image gives things, so none is kept whole")
    bg_from = base if base is not None else (settings[0].k if settings else 0)
    if base is not None:
        p0 = plans[base].model_copy(deep=True)
        reasoning.add("locate", "Compose: " + f"Base: image {base + 1}, kept whole ({why}): its things and background stay, "
                                 f"and its pixels are kept outside what is drawn in.")
    else:
        src = plans[bg_from]
        p0 = ScenePlan(canvas=src.canvas.model_copy(), background=src.background.model_copy(deep=True),
                       lighting=src.lighting.model_copy(), style=src.style)
        reasoning.add("locate", "Compose: " + f"Background: {src.background.kind} at {src.background.time} from image "
                                 f"{bg_from + 1} ({why}); its things are left out"
                                 + (f" ({inventory(src)})" if src.entities else "")
                                 + "; the picture is drawn anew, so no pixel is kept from any source.")
    ed = _Editor(p0, instruction, None, seed)
    glob = base is None
    for s in settings:
        if s.k == bg_from:
            continue
        b = plans[s.k].background
        what = re.sub(r"^(?:the|a|an) ", "", s.np.lower())
        old = (ed.p.background.kind, ed.p.background.time)
        if "light" in what or "time" in what or what in ("mood", "atmosphere", "weather"):
            ed.p.background.time = b.time
            ed.p.lighting = plans[s.k].lighting.model_copy()
        elif "style" in what:
            ed.p.style = plans[s.k].style
        else:
            ed.p.background = b.model_copy(deep=True)
            ed.p.lighting = plans[s.k].lighting.model_copy()
        new = (ed.p.background.kind, ed.p.background.time)
        reasoning.add("locate", "Compose: " + f"The {what} comes from image {s.k + 1}: {old[0]} at {old[1]} -> {new[0]} at "
                                 f"{new[1]}" + ("; every pixel changes, so the picture is drawn anew" if new != old
                                               else ""))
        if new != old or "style" in what:
            glob = True
            ed.ops.append(EditOperation(op="background", params={"from_image": s.k + 1, "kind": new[0],
                                                                 "time": new[1]}))
    # where-phrases belong to the things part before them (else to the first)
    taken: dict[str, tuple[int, str]] = {}
    mapping: dict[tuple[int, str], str] = {}
    if base is not None:
        for e in p0.entities:
            mapping[(base, e.id)] = e.id
    order = [p for p in parts if p.kind in ("things", "where")]
    for i, part in enumerate(order):
        if part.kind != "things":
            continue
        wheres = []
        for q in order[i + 1:]:
            if q.kind == "things":
                break
            wheres.append(q)
        if not wheres and i == 0:
            wheres = [q for q in order if q.kind == "where" and q.start < part.start][:1]
        _take(ed, plans, part, wheres[0] if wheres else None, base, mapping, taken, reasoning)
    if not things and not settings and base is not None and not rest:
        raise EditRefused(f"nothing is taken into image {base + 1}: name the things, e.g. 'the boat from image 1'",
                          "not_understood")
    result = ScenePlan.model_validate(ed.p.model_dump())
    regions = list(ed.regions)
    ops = list(ed.ops)
    focus = list(taken)
    for line in ed.locates:
        reasoning.add("locate", line)
    for line in ed.lines:
        reasoning.add("edit", line[:1].upper() + line[1:] + ".")
    if rest:
        out = plan_edit(result, rest, focus=focus or None, seed=seed)
        reasoning.steps += out.reasoning.steps[:-1]
        if not out.ok:
            raise EditRefused(f"'{rest}': {out.message}", out.kind)
        result = out.edit.result
        ops += out.edit.operations
        regions += [b for b in out.edit.mask if tuple(b) not in {tuple(x) for x in regions}] if not out.global_edit else []
        glob = glob or out.global_edit
        focus = out.focus or focus
    result.prompt = state_prompt(result)
    if base is not None and not glob:
        from thinkdraw.pixels import boxes_mask

        area = float(boxes_mask(regions, result.canvas.width, result.canvas.height, 4).mean()) if regions else 0.0
        reasoning.add("final", f"Final state: {result.prompt}. Pixels: image {base + 1} is kept as the base; "
                               f"{len(regions)} region(s) ({area:.0%} of the canvas) are drawn, every other pixel "
                               f"is image {base + 1}'s, bit for bit; nothing else keeps pixels from its source.")
        mask = regions
    else:
        reasoning.add("final", f"Final state: {result.prompt}. Pixels: the whole picture is drawn anew from this "
                               f"plan; no pixel is kept from any source image.")
        mask = [WHOLE]
    edit = EditPlan(instruction=instruction, operations=ops, result=result, mask=mask)
    return ComposeOutcome(ok=True, edit=edit, reasoning=reasoning, focus=focus,
                          base=base if not glob else None, global_edit=glob or base is None,
                          background_from=bg_from, taken=taken)


def _spec(ed: _Editor, plans, w: Part | None, mapping, base):
    if w is None:
        return None
    if w.k is None:
        return ed.spec(w.np)
    got = locate(plans[w.k], w.np)
    ids = [mapping.get((w.k, i)) for i in got.ids]
    if any(i is None for i in ids):
        raise EditRefused(f"{w.np} of image {w.k + 1} is not in the picture being made; take it too (e.g. "
                          f"'and {w.np} from image {w.k + 1}')", "impossible")
    ed.focus = [i for i in ids if i]
    spec = ed.spec(f"{w.rel} it")
    ed.locates.append(f"'{w.np}' of image {w.k + 1} -> {', '.join(ed.focus)} in the new picture")
    return spec


def _take(ed: _Editor, plans, part: Part, w: Part | None, base, mapping, taken, reasoning) -> None:
    src = plans[part.k]
    phrases = [part.np] if _is_all(part.np) else [x for x in re.split(r"\s+and\s+|\s*,\s*", part.np) if x]
    ids: list[str] = []
    for ph in phrases:
        try:
            got = ["*"] if _is_all(ph) else locate(src, ph).ids
        except EditRefused as e:
            raise EditRefused(f"in image {part.k + 1}: {e}", e.kind) from e
        if got == ["*"]:
            if not src.entities:
                raise EditRefused(f"image {part.k + 1} holds nothing but its background", "not_found")
            got = [e.id for e in src.entities]
            ed.locates.append(f"everything in image {part.k + 1}: {inventory(src)}")
        else:
            ed.locates.append(f"'{ph}' in image {part.k + 1} -> " + ", ".join(
                f"{i} ({color_name(src.entity(i)) or ''} {src.entity(i).noun}, {where(src.entity(i).box)})"
                for i in got))
        ids += [i for i in got if i not in ids]
    # what stands on a taken thing comes with it
    frontier = set(ids)
    while frontier:
        more = [e.id for e in src.entities if e.supported_by in frontier and e.id not in ids]
        ids += more
        frontier = set(more)
    spec = _spec(ed, plans, w, mapping, base)
    if part.k == base:  # from the base itself: it is there already; a where-phrase moves it
        if spec is None:
            ed.lines.append(f"{', '.join(ids)} of image {part.k + 1} is there already (image {part.k + 1} is the base)")
            return
        from thinkdraw.edit.instruct import Intent

        ed.focus = ids
        ed.op_move(Intent("move", "it", {"where": w.np if w.k is None else f"{w.rel} it"}))
        return
    ents_src = [src.entity(i) for i in ids]
    sub = ScenePlan(canvas=src.canvas, background=src.background, entities=ents_src,
                    texts=[t for t in src.texts if t.on in ids])
    ents = ed.adopt(sub)
    for e, o in zip(ents, ents_src, strict=True):
        mapping[(part.k, o.id)] = e.id
        taken[e.id] = (part.k, o.id)
        e.box = o.box
    for e, o in zip(ents, ents_src, strict=True):
        e.supported_by = mapping.get((part.k, o.supported_by)) if o.supported_by in ids else ed.support_for(e)
    ed.p.relations += [r.model_copy(update={"subject": mapping[(part.k, r.subject)],
                                            "object": mapping[(part.k, r.object)]})
                       for r in src.relations if (part.k, r.subject) in mapping and (part.k, r.object) in mapping
                       and r.object2 is None and r.subject in ids and r.object in ids]
    top = [e for e, o in zip(ents, ents_src, strict=True) if o.supported_by not in ids]
    newids = {e.id for e in ents}
    if spec is None:
        # their habitat's line on the new background, their own horizontal place, slid into free space
        ux0, uy0 = min(e.box[0] for e in ents), min(e.box[1] for e in ents)
        ux1, uy1 = max(e.box[2] for e in ents), max(e.box[3] for e in ents)
        h = uy1 - uy0
        if G.habitat(top[0]) != "free" or ed.p.entities[:-len(ents)]:
            y0, y1 = G.zone_y(top[0], ed.p, h, exclude=newids)
            if G.is_grounded(top[0]):
                dy = y1 - uy1
            else:
                dy = y0 - uy0
            for e in ents:
                e.box = G.clip_box((e.box[0], e.box[1] + dy, e.box[2], e.box[3] + dy))
        ed.put(ents, None, moving=True, anchor_hint=(ux0 + ux1) / 2)
        notes: list[str] = []
    else:
        notes = ed.put(ents, spec, moving=True)
        if w is not None and w.k is None and spec[0] == "side":
            notes = [f"on the {spec[1]}"]
    for e in ents:
        ts = ed.texts_on(e.id)
        if ts:
            G.fit_texts(ed.p, e, ts)
        ed.changed(e.box, *[t.box for t in ts])
        o = src.entity(taken[e.id][1])
        ed.ops.append(EditOperation(op="add", target=e.id, params={"from_image": part.k + 1, "source_id": o.id,
                                                                    "category": e.category, "color": color_name(e),
                                                                    "box": e.box}))
        ed.lines.append(f"take {o.id} ({(color_name(o) + ' ') if color_name(o) else ''}{o.noun}"
                        + (f", {o.attributes.size}" if o.attributes.size else "") + f") from image {part.k + 1} as "
                        f"{e.id}, at {where(e.box)} {_box(e.box)}" + (f" ({', '.join(notes)})" if notes else "")
                        + (f", carrying {', '.join(repr(t.content) for t in ts)}" if ts else "")
                        + "; its category, colour, size and text are kept; region: its box")
    ed.focus = list(newids)
