"""Locate: which things of a plan a phrase of an instruction means.

A reference is a noun phrase: "the car", "the left apple", "the biggest one", "the second balloon (from the
right)", "the red ball next to the cup", "all the apples", "both of them", "it", "them", "everything",
"one of the apples". ``locate(plan, phrase, focus)`` returns the entity ids with a sentence saying why
(for the reasoning), or raises ``EditRefused`` saying what is missing or ambiguous, so that nothing is
edited on a guess. ``focus`` is what "it" and "them" mean: the things the last clause (or the last turn)
was about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkdraw.edit.geometry import relation_holds
from thinkdraw.plan.schema import Entity, ScenePlan, box_center
from thinkdraw.plan.words import with_article
from thinkdraw.think.lexicon import NUMBER_WORDS
from thinkdraw.think.rules import category_of, color_of, is_plural, singularize
from thinkdraw.world.vocab import CATEGORIES, SIZE_SYNONYMS


class EditRefused(ValueError):
    """The instruction cannot be carried out as asked: nothing was edited. ``kind``: not_found, ambiguous,
    not_understood or impossible."""

    def __init__(self, message: str, kind: str = "not_found") -> None:
        super().__init__(message)
        self.kind = kind


ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6,
            "last": -1, "final": -1}
SUPERLATIVES = {"biggest": "area+", "largest": "area+", "smallest": "area-", "tiniest": "area-",
                "tallest": "h+", "shortest": "h-", "highest": "top", "topmost": "top", "uppermost": "top",
                "lowest": "bottom", "bottommost": "bottom", "leftmost": "left", "rightmost": "right",
                "left": "left", "right": "right", "top": "top", "upper": "top", "bottom": "bottom",
                "lower": "bottom", "middle": "middle", "center": "middle", "centre": "middle", "central": "middle"}
PRONOUNS_ONE = {"it", "that", "this", "that one", "this one", "the same one", "the same thing", "its"}
PRONOUNS_MANY = {"them", "they", "those", "these", "both", "both of them", "all of them", "the two of them",
                 "those ones", "these ones", "each of them", "the two", "the three"}
EVERYTHING = {"everything", "all things", "all objects", "all the things", "all the objects", "every thing",
              "every object", "all of it", "the whole thing", "the things", "the objects"}
TEXT_NOUNS = {"text", "words", "word", "writing", "label", "caption", "letters", "message", "lettering",
              "inscription", "title"}
ANY_NOUNS = {"one", "ones", "thing", "things", "object", "objects", "item", "items"}
SHAPE_NOUNS = {"shape", "shapes"}
DETERMINERS = {"the", "this", "that", "these", "those", "my", "your", "our", "its"}
ALL_WORDS = {"all", "both", "every", "each"}
_REL = re.compile(r"\s+(?P<pred>to the left of|left of|to the right of|right of|above|over|below|under|beneath|"
                  r"underneath|on top of|on|next to|near|beside|by|closest to|nearest to|nearest)\s+(?P<ref>.+)$")
_POS = re.compile(r"\s+(?:on|at|in|to)\s+the\s+(?:far\s+|very\s+)?(?P<pos>left|right|top|bottom|middle|center|centre)"
                  r"(?:\s+(?:side|edge|corner))?$")
_FROM = re.compile(r"\s+from\s+the\s+(?P<dir>left|right|top|bottom)$")
_SAYS = re.compile(r"\s+(?:that|which)\s+(?:says|reads|say|read)\s+(?P<text>.+)$|\s+with\s+the\s+(?:text|word|words)"
                   r"\s+(?P<text2>.+)$|\s+saying\s+(?P<text3>.+)$")


@dataclass
class Located:
    ids: list[str]
    why: str
    texts: list[str] = field(default_factory=list)  # text block ids, when the phrase names text
    quantity: int | None = None  # "one of the apples", "two apples": how many of the candidates are meant
    plural: bool = False


def where(box) -> str:
    """'top left', 'bottom', 'centre', ... of a box."""
    cx, cy = box_center(box)
    h = "left" if cx < 0.38 else "right" if cx > 0.62 else ""
    v = "top" if cy < 0.38 else "bottom" if cy > 0.62 else ""
    return " ".join(x for x in (v, h) if x) or "centre"


def color_name(e: Entity) -> str | None:
    c = e.attributes.color
    if c is None and e.category in CATEGORIES:
        c = CATEGORIES[e.category].default_color
    return c


def describe_entity(e: Entity) -> str:
    c = color_name(e)
    return f"{e.id} ({(c + ' ') if c else ''}{e.noun}, {where(e.box) if e.box else 'unplaced'})"


def inventory(plan: ScenePlan) -> str:
    """What the plan holds, in a few words: '2 apples, a cup, a sign saying "OPEN"'."""
    by: dict[str, int] = {}
    for e in plan.entities:
        by[e.noun] = by.get(e.noun, 0) + 1
    parts = [(f"{n} {_plural(k)}" if n > 1 else f"{_a(k)}") for k, n in by.items()]
    parts += [f'the text "{t.content}"' for t in plan.texts]
    return ", ".join(parts) if parts else "nothing but the background"


def _a(noun: str) -> str:
    return with_article(noun)


def _plural(noun: str) -> str:
    c = CATEGORIES.get(noun)
    if c and c.plural:
        return c.plural
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _order(ents: list[Entity], direction: str = "left") -> list[Entity]:
    key = {"left": lambda e: (box_center(e.box)[0], box_center(e.box)[1]),
           "right": lambda e: (-box_center(e.box)[0], box_center(e.box)[1]),
           "top": lambda e: (box_center(e.box)[1], box_center(e.box)[0]),
           "bottom": lambda e: (-box_center(e.box)[1], box_center(e.box)[0])}[direction]
    return sorted(ents, key=key)


def _area(e: Entity) -> float:
    b = e.box
    return (b[2] - b[0]) * (b[3] - b[1])


def _pick(ents: list[Entity], how: str) -> Entity:
    if how == "area+":
        return max(ents, key=_area)
    if how == "area-":
        return min(ents, key=_area)
    if how == "h+":
        return max(ents, key=lambda e: e.box[3] - e.box[1])
    if how == "h-":
        return min(ents, key=lambda e: e.box[3] - e.box[1])
    if how == "middle":
        xs = sorted(ents, key=lambda e: box_center(e.box)[0])
        return xs[len(xs) // 2] if len(xs) % 2 else min(ents, key=lambda e: abs(box_center(e.box)[0] - 0.5))
    return _order(ents, how)[0]


_WHY = {"area+": "the biggest", "area-": "the smallest", "h+": "the tallest", "h-": "the shortest",
        "top": "the highest", "bottom": "the lowest", "left": "the leftmost", "right": "the rightmost",
        "middle": "the one in the middle"}


def locate(plan: ScenePlan, phrase: str, focus: list[str] | None = None, allow_text: bool = False) -> Located:
    """The things ``phrase`` names in ``plan`` (see the module's docstring)."""
    focus = [i for i in (focus or []) if any(e.id == i for e in plan.entities)]
    s = " ".join(re.sub(r"[^\w\s'\-\x00]", " ", phrase.lower()).split())
    s = re.sub(r"'s\b", "", s)
    if not s:
        raise EditRefused("the instruction names no thing to change", "not_understood")
    if s in PRONOUNS_ONE or s in PRONOUNS_MANY:
        if not focus:
            raise EditRefused(f"'{phrase}' refers to nothing yet: name the thing (the image holds "
                              f"{inventory(plan)})", "ambiguous")
        ents = [plan.entity(i) for i in focus]
        return Located([e.id for e in ents], f"'{phrase}' is what the instruction was just about: "
                       + ", ".join(describe_entity(e) for e in ents), plural=len(ents) > 1)
    if s in EVERYTHING:
        if not plan.entities:
            raise EditRefused("the image holds nothing but its background", "not_found")
        return Located([e.id for e in plan.entities], "everything: " + inventory(plan), plural=True)

    # post-modifiers: "on the left", "next to the cup", "that says OPEN", "from the right"
    pos = rel = said = None
    direction = "left"
    m = _FROM.search(s)
    if m:
        direction, s = m.group("dir"), s[:m.start()]
    m = _SAYS.search(s)
    if m:
        said = (m.group("text") or m.group("text2") or m.group("text3")).strip(" '\"")
        s = s[:m.start()]
    m = _POS.search(s)
    if m:
        pos, s = m.group("pos"), s[:m.start()]
    m = _REL.search(s)
    if m and category_or_any(m.group("ref")):
        rel = (m.group("pred"), m.group("ref"))
        s = s[:m.start()]
    quantity = None
    m = re.match(r"^(?P<q>\w+)\s+of\s+(?:the|those|these|them)\s*(?P<rest>.*)$", s)
    if m and (m.group("q") in NUMBER_WORDS or m.group("q").isdigit() or m.group("q") in ORDINALS):
        q = m.group("q")
        rest = m.group("rest") or ""
        if q in ORDINALS:
            s = f"{q} {rest}".strip()
        else:
            quantity = int(q) if q.isdigit() else NUMBER_WORDS[q]
            s = rest
        if not rest:  # "one of them"
            if not focus:
                raise EditRefused(f"'{phrase}' refers to nothing yet: name the things", "ambiguous")
            s = "ones"
    toks = s.split()
    want_all = False
    definite = False
    while toks and (toks[0] in DETERMINERS or toks[0] in ALL_WORDS or toks[0] == "of"):
        want_all |= toks[0] in ALL_WORDS
        definite |= toks[0] in DETERMINERS
        toks = toks[1:]
    if toks and quantity is None and not definite and (toks[0] in NUMBER_WORDS or toks[0].isdigit()) and len(toks) > 1:
        quantity = int(toks[0]) if toks[0].isdigit() else NUMBER_WORDS[toks[0]]
        toks = toks[1:]
    elif toks and definite and (toks[0] in NUMBER_WORDS or toks[0].isdigit()) and len(toks) > 1:
        toks = toks[1:]  # "the two apples": all of them (checked below)
        want_all = True
    if not toks:
        raise EditRefused(f"'{phrase}' names no thing", "not_understood")
    noun = toks[-1]
    mods = toks[:-1]
    if noun in SUPERLATIVES and not mods and len(toks) == 1:  # "the left", "the biggest"
        mods, noun = [noun], "one"
    # text
    if noun in TEXT_NOUNS:
        if not allow_text:
            raise EditRefused(f"'{phrase}' is text: say what it should say (e.g. make the sign say \"CLOSED\")",
                              "not_understood")
        carriers = [plan.entity(t.on) for t in plan.texts if t.on]
        texts = plan.texts
        if not texts:
            raise EditRefused("the image holds no text", "not_found")
        if len(texts) > 1 and not mods:
            raise EditRefused("which text? the image holds " + ", ".join(f'"{t.content}"' for t in texts),
                              "ambiguous")
        del carriers
        return Located([], "the text " + ", ".join(f'"{t.content}"' for t in texts), texts=[t.id for t in texts])
    plural = is_plural(noun) or want_all or noun == "ones"
    sing = singularize(noun) if noun not in ANY_NOUNS else noun
    if noun in ANY_NOUNS or noun in SHAPE_NOUNS:
        pool = [plan.entity(i) for i in focus] if noun in ("one", "ones") and focus and mods and \
            len(focus) > 1 else list(plan.entities)
        if noun in SHAPE_NOUNS:
            pool = [e for e in pool if CATEGORIES.get(e.category or "") and CATEGORIES[e.category].kind == "shape"]
        if noun in ("one", "ones") and focus and len(focus) == 1 and mods:
            cat = plan.entity(focus[0]).category
            same = [e for e in plan.entities if e.category == cat]
            if len(same) > 1:
                pool = same
        what = "things" if noun not in SHAPE_NOUNS else "shapes"
    else:
        cat = category_of(sing)
        pool = [e for e in plan.entities if (cat is not None and e.category == cat) or e.noun == sing
                or singularize(e.noun) == sing]
        what = _plural(sing)
        if not pool:
            raise EditRefused(f"there is no {sing} in the image (it holds {inventory(plan)})", "not_found")
    cands = [e for e in pool if e.box is not None]
    why: list[str] = []
    # colour, size, other
    for t in list(mods):
        c = color_of(t)
        if c:
            got = [e for e in cands if color_name(e) == c]
            if not got:
                seen = sorted({color_name(e) or "uncoloured" for e in cands})
                raise EditRefused(f"there is no {c} {sing if noun not in ANY_NOUNS else 'thing'} in the image "
                                  f"(the {what} there are {', '.join(seen)})", "not_found")
            cands = got
            why.append(f"{c}")
            mods.remove(t)
        elif t in ("other", "another"):
            rest = [e for e in cands if e.id not in focus]
            if rest:
                cands = rest
                why.append("not the one just named")
            mods.remove(t)
        elif t in ("small", "big", "large", "medium") or t in SIZE_SYNONYMS:
            size = SIZE_SYNONYMS.get(t, "large" if t == "big" else t)
            got = [e for e in cands if e.attributes.size == size]
            if got:
                cands = got
                why.append(f"{size}")
            elif len(cands) > 1 and size != "medium":
                mods.append("biggest" if size == "large" else "smallest")
            mods.remove(t)
    if said is not None:
        hold = {t.on for t in plan.texts if t.content.lower() == said.lower()}
        cands = [e for e in cands if e.id in hold]
        if not cands:
            raise EditRefused(f"no {sing} says \"{said}\"", "not_found")
        why.append(f'saying "{said}"')
    if rel is not None:
        pred, ref2 = rel
        other = locate(plan, ref2, focus)
        anchors = [plan.entity(i) for i in other.ids]
        cands = [e for e in cands if e.id not in other.ids]
        p = {"to the left of": "left_of", "left of": "left_of", "to the right of": "right_of",
             "right of": "right_of", "over": "above", "under": "below", "beneath": "below",
             "underneath": "below", "on top of": "on"}.get(pred, pred)
        if p in ("next to", "near", "beside", "by", "closest to", "nearest to", "nearest"):
            def dist(e: Entity) -> float:
                return min(abs(box_center(e.box)[0] - box_center(a.box)[0]) + abs(box_center(e.box)[1] -
                           box_center(a.box)[1]) for a in anchors)
            if cands:
                cands = [min(cands, key=dist)] if not plural else cands
                why.append(f"nearest to {', '.join(a.id for a in anchors)}")
        elif p == "on":
            got = [e for e in cands if e.supported_by in other.ids]
            cands = got or [e for e in cands if any(relation_holds("above", e.box, a.box) for a in anchors)]
            why.append(f"on {', '.join(a.id for a in anchors)}")
        else:
            cands = [e for e in cands if any(relation_holds(p, e.box, a.box) for a in anchors)]
            why.append(f"{p.replace('_', ' ')} {', '.join(a.id for a in anchors)}")
        if not cands:
            raise EditRefused(f"no {sing if noun not in ANY_NOUNS else 'thing'} is {pred} {ref2}", "not_found")
    if pos is not None:
        mods.append(pos)
    ordinal = None
    for t in list(mods):
        if t in ORDINALS:
            ordinal = ORDINALS[t]
            mods.remove(t)
    for t in mods:
        if t in SUPERLATIVES and cands:
            how = SUPERLATIVES[t]
            if plural and how in ("left", "right", "top", "bottom"):
                ax = 0 if how in ("left", "right") else 1
                side = [e for e in cands if (box_center(e.box)[ax] < 0.5) == (how in ("left", "top"))]
                cands = side or cands
                why.append(f"on the {t}")
            else:
                if len(cands) > 1:
                    why.append(f"{_WHY[how]} of {len(cands)}")
                cands = [_pick(cands, how)]
    if ordinal is not None:
        order = _order(cands, direction)
        k = ordinal - 1 if ordinal > 0 else len(order) - 1
        if k >= len(order):
            raise EditRefused(f"there is no {list(ORDINALS)[ordinal - 1] if ordinal <= 6 else ordinal} {sing}: "
                              f"the image holds {len(order)} {what if len(order) != 1 else sing}", "not_found")
        why.append(f"number {k + 1} of {len(order)} counting from the {direction}")
        cands = [order[k]]
    if not cands:
        raise EditRefused(f"nothing in the image matches '{phrase}' (it holds {inventory(plan)})", "not_found")
    if quantity is not None:
        if quantity > len(cands):
            raise EditRefused(f"there are only {len(cands)} {what if len(cands) != 1 else sing}, not {quantity}",
                              "not_found")
        return Located([e.id for e in _order(cands)], _because(phrase, cands, why), quantity=quantity,
                       plural=quantity > 1)
    if not plural and len(cands) > 1:
        if not definite and not want_all and noun not in ANY_NOUNS:  # "an apple": any one of them
            return Located([e.id for e in _order(cands)], _because(phrase, cands, why), quantity=1)
        opts = ", ".join(describe_entity(e) for e in _order(cands))
        raise EditRefused(f"'{phrase}' is ambiguous: the image holds {len(cands)} {what} ({opts}); say which one "
                          f"(e.g. 'the left {sing}', 'the second {sing}') or 'all the {what}'", "ambiguous")
    return Located([e.id for e in cands], _because(phrase, cands, why), plural=len(cands) > 1)


def _because(phrase: str, cands: list[Entity], why: list[str]) -> str:
    ents = ", ".join(describe_entity(e) for e in cands)
    reason = f" ({'; '.join(why)})" if why else (" (the only one)" if len(cands) == 1 else "")
    return f"'{phrase}' -> {ents}{reason}"


def category_or_any(phrase: str) -> bool:
    """Whether ``phrase`` can name a thing (a noun, a pronoun, 'one'): a reference to locate."""
    toks = re.sub(r"[^\w\s]", " ", phrase.lower()).split()
    if not toks:
        return False
    if " ".join(toks) in PRONOUNS_ONE | PRONOUNS_MANY | EVERYTHING:
        return True
    n = toks[-1]
    return n in ANY_NOUNS or n in SHAPE_NOUNS or n in TEXT_NOUNS or category_of(singularize(n)) is not None or \
        n.isalpha()
