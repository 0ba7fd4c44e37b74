"""Prompt templates, paraphrase lexicons and the fixed train/held-out split of the world sampler.

A template is a format string over *slots*; the sampler fills each slot with a phrase:

- ``{a}`` ``{b}`` ``{c}``  object mentions ("a red apple", "three fish", "2 blue cups")
- ``{s}`` ``{o}`` ``{o2}``  subject / object(s) of the template's relation
- ``{t}`` ``{t2}``          text carriers (sign, banner, poster); ``{q}`` ``{q2}`` their quoted text
- ``{neg}``                 a category that must not appear (use ``{neg.plural}`` / ``{neg.noun}``)
- ``{where}``               optional place/time phrase with a leading space, or empty
- ``{place}``               place/time phrase that is always present ("in the sea at sunset")

A mention slot also offers attributes: ``.bare`` (no colour), ``.noun`` (singular), ``.plural``,
``.color``, ``.counted`` (always with a numeral: "one apple", "4 apples") and ``.verb``
("swimming"). A template that uses ``.bare``, ``.noun`` or ``.color`` of a slot forces that
mention to a single instance; one that uses ``.color`` forces the colour to be stated.

The split of templates is written in the table below (``H(...)`` marks a held-out template,
about 20% of each task, at least one per relation predicate kept for training). Template ids are
``<task>/<nn>`` by position in the task's list: append new templates at the end, never reorder.
Combinations are split by a stable hash (blake2b), see :func:`is_heldout_pair` and
:func:`is_heldout_color`.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from functools import lru_cache

from thinkdraw.world.vocab import CATEGORIES

TASKS = (
    "single_object", "two_object", "counting", "colors", "position", "color_attr", "relation", "text",
    "negation", "scene",
)
TASK_WEIGHTS: dict[str, float] = {
    "single_object": 0.08, "two_object": 0.12, "counting": 0.15, "colors": 0.1, "position": 0.15,
    "color_attr": 0.1, "relation": 0.07, "text": 0.12, "negation": 0.05, "scene": 0.06,
}

HELDOUT_PAIR_FRACTION = 0.15
HELDOUT_COLOR_FRACTION = 0.15


@dataclass(frozen=True)
class Rel:
    """The relation a template states, by slot names."""

    predicate: str
    subject: str = "s"
    object: str = "o"
    object2: str | None = None


@dataclass(frozen=True)
class Template:
    id: str
    task: str
    text: str
    rel: Rel | None = None
    heldout: bool = False

    @property
    def slots(self) -> list[str]:
        return slots_of(self.text)

    def single(self, slot: str) -> bool:
        """Whether the template needs ``slot`` to be one instance (it speaks of it in the singular)."""
        return any(f"{{{slot}.{a}}}" in self.text for a in ("bare", "noun", "color"))

    def states_color(self, slot: str) -> bool:
        return f"{{{slot}.color}}" in self.text


@dataclass(frozen=True)
class _Row:
    text: str
    rel: Rel | None = None
    heldout: bool = False


def T(text: str, rel: Rel | None = None) -> _Row:  # noqa: N802 - table constructor
    return _Row(text, rel, False)


def H(text: str, rel: Rel | None = None) -> _Row:  # noqa: N802 - table constructor
    """A held-out template: used only by the held-out split."""
    return _Row(text, rel, True)


LEFT, RIGHT, ABOVE, BELOW = Rel("left_of"), Rel("right_of"), Rel("above"), Rel("below")
ON, NEXT, BETWEEN = Rel("on"), Rel("next_to"), Rel("between", object2="o2")

_TABLE: dict[str, list[_Row]] = {
    "single_object": [
        T("a photo of {a}"),
        T("{a}"),
        T("an image of {a}{where}"),
        T("a picture of {a}{where}"),
        T("a drawing of {a}"),
        T("{a}{where}"),
        T("there is {a}{where}"),
        H("a simple illustration of {a}"),
        T("show me {a}{where}"),
        H("I want to see {a}"),
        T("a scene with {a}{where}"),
        T("draw {a}"),
    ],
    "two_object": [
        T("a photo of {a} and {b}"),
        T("{a} and {b}"),
        T("{a} with {b}"),
        T("an image of {a} and {b}{where}"),
        T("{a} together with {b}"),
        T("{a}, {b}{where}"),
        T("both {a} and {b}{where}"),
        H("a picture containing {a} and {b}"),
        H("{a} as well as {b}"),
        T("a picture with {a} and {b}{where}"),
        T("draw {a} and {b}"),
        H("a scene with {a} and also {b}"),
    ],
    "counting": [
        T("a photo of {a}"),
        T("{a}"),
        T("{a.counted}{where}"),
        T("an image with exactly {a.counted}"),
        T("exactly {a.counted}{where}"),
        T("a picture of {a.counted}"),
        T("a scene with {a.counted}{where}"),
        T("draw {a.counted}"),
        H("{a.counted}, no more and no less"),
        H("count them: {a.counted}"),
        H("precisely {a.counted}{where}"),
        T("there are {a.counted}{where}"),
    ],
    "colors": [
        T("a photo of {a}"),
        T("{a}"),
        T("{a}{where}"),
        T("{a.bare} that is {a.color}"),
        T("a {a.color}-colored {a.noun}"),
        T("{a.bare} in {a.color}"),
        H("{a.bare} painted {a.color}"),
        T("an image of {a}{where}"),
        T("a {a.color} {a.noun}, nothing else"),
        H("a picture of {a.bare} colored {a.color}"),
        T("{a.bare}, {a.color} in color"),
    ],
    "color_attr": [
        T("a photo of {a} and {b}"),
        T("{a} and {b}"),
        T("{a} with {b}{where}"),
        T("{a.bare} that is {a.color} and {b.bare} that is {b.color}"),
        T("an image of {a} and {b}"),
        T("{a} together with {b}"),
        H("{a.bare} in {a.color} and {b.bare} in {b.color}"),
        T("a {a.color} {a.noun} and a {b.color} {b.noun}{where}"),
        H("both {a} and {b}"),
        T("draw {a} and {b}"),
    ],
    "position": [
        T("{s} to the left of {o}", LEFT),
        T("{s} on the left side of {o}", LEFT),
        T("{s} left of {o}", LEFT),
        H("{o} with {s} on its left", LEFT),
        T("a photo of {s} left of {o}", LEFT),
        T("{s} placed to the left of {o}{where}", LEFT),
        T("{s} to the right of {o}", RIGHT),
        H("{s} on the right side of {o}", RIGHT),
        T("{s} right of {o}", RIGHT),
        T("a photo of {s} right of {o}", RIGHT),
        T("{o} with {s} on its right", RIGHT),
        T("{s} positioned to the right of {o}{where}", RIGHT),
        T("{s} above {o}", ABOVE),
        T("{s} over {o}", ABOVE),
        T("a photo of {s} above {o}", ABOVE),
        H("{s} high above {o}", ABOVE),
        T("{o} with {s} above it", ABOVE),
        T("{s} is above {o}{where}", ABOVE),
        T("{s} below {o}", BELOW),
        T("{s} beneath {o}", BELOW),
        H("{s} under {o}", BELOW),
        T("a photo of {s} below {o}", BELOW),
        H("{o} with {s} underneath it", BELOW),
        T("{s} underneath {o}{where}", BELOW),
    ],
    "relation": [
        T("{s} on {o}", ON),
        T("{s} on top of {o}", ON),
        T("{s} sitting on {o}", ON),
        H("{s} resting on top of {o}", ON),
        T("{o} with {s} on it", ON),
        T("a photo of {s} on {o}{where}", ON),
        T("{s} next to {o}", NEXT),
        T("{s} beside {o}{where}", NEXT),
        T("{s} by {o}", NEXT),
        H("{s} alongside {o}", NEXT),
        T("a photo of {s} next to {o}", NEXT),
        T("{s} and {o} side by side{where}", NEXT),
        T("{s} between {o} and {o2}", BETWEEN),
        T("{s} in between {o} and {o2}", BETWEEN),
        H("{o} and {o2} with {s} between them", BETWEEN),
        T("a photo of {s} between {o} and {o2}", BETWEEN),
        T("{s} placed between {o} and {o2}{where}", BETWEEN),
    ],
    "text": [
        T("{t} that says {q}{where}"),
        T("{t} reading {q}"),
        T("{t} with the text {q}"),
        T("{q} written on {t}"),
        H("{t} with {q} written on it"),
        T("{t} saying {q}"),
        T("a photo of {t} that reads {q}"),
        T("{t} with the words {q}{where}"),
        H("{t} labeled {q}"),
        T("{t} that says {q} next to {o}", Rel("next_to", "t", "o")),
        T("{t} reading {q} to the left of {o}", Rel("left_of", "t", "o")),
        T("{t} with the text {q} to the right of {o}", Rel("right_of", "t", "o")),
        H("{t} showing {q}, with {b}"),
        T("{t} that says {q} and {t2} that says {q2}"),
        T("an image of {t} with the words {q}{where}"),
    ],
    "negation": [
        T("{a}, no {neg.plural}"),
        T("{a} without {neg.plural}"),
        T("{a} but no {neg.plural}{where}"),
        T("{a} and no {neg.plural}"),
        H("only {a}, not a single {neg.noun}"),
        T("{a}; there should be no {neg.plural}"),
        H("a photo of {a} with no {neg.plural} anywhere"),
        T("{a} and {b}, but no {neg.plural}"),
        T("{a}{where}, without any {neg.plural}"),
    ],
    "scene": [
        T("{a} {a.verb} {place}"),
        T("{place}, {a} {a.verb}"),
        T("{a} and {b} {place}"),
        H("{a} {a.verb} {place}, with {b} nearby"),
        T("a view of {a} {a.verb} {place}"),
        T("{a} {a.verb} and {b} {b.verb} {place}"),
        H("a peaceful scene {place}: {a} {a.verb}"),
        T("a photo of {a} {a.verb} {place}"),
    ],
}


def slots_of(text: str) -> list[str]:
    """Slot names of a template in order of first appearance (``{a.color}`` counts as ``a``)."""
    out: list[str] = []
    for _, field, _, _ in string.Formatter().parse(text):
        if field:
            root = field.split(".")[0]
            if root not in out:
                out.append(root)
    return out


def _build() -> dict[str, list[Template]]:
    return {
        task: [Template(f"{task}/{i:02d}", task, r.text, r.rel, r.heldout) for i, r in enumerate(rows)]
        for task, rows in _TABLE.items()
    }


TEMPLATES: dict[str, list[Template]] = _build()
TEMPLATES_BY_ID: dict[str, Template] = {t.id: t for ts in TEMPLATES.values() for t in ts}


def templates_for(task: str, heldout: bool) -> list[Template]:
    return [t for t in TEMPLATES[task] if t.heldout == heldout]


# ---------------------------------------------------------------------------------------------
# Combination split: a stable hash decides, once and for all, which combinations are held out.
# ---------------------------------------------------------------------------------------------
def _unit_hash(key: str) -> float:
    h = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


@lru_cache(maxsize=4096)
def is_heldout_pair(cat_a: str, cat_b: str) -> bool:
    """Whether the unordered category pair is held out (~15% of pairs; never a category with itself)."""
    if cat_a == cat_b:
        return False
    a, b = sorted((cat_a, cat_b))
    return _unit_hash(f"thinkdraw-pair:{a}|{b}") < HELDOUT_PAIR_FRACTION


@lru_cache(maxsize=4096)
def is_heldout_color(category: str, color: str) -> bool:
    """Whether (category, colour) is held out (~15%; a category's default colour is never held out)."""
    cat = CATEGORIES.get(category)
    if cat is not None and cat.default_color == color:
        return False
    return _unit_hash(f"thinkdraw-color:{category}|{color}") < HELDOUT_COLOR_FRACTION


# ---------------------------------------------------------------------------------------------
# Paraphrase lexicons (shared by both splits).
# ---------------------------------------------------------------------------------------------
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve")

SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "medium": ("medium-sized",),
    "large": ("big", "large", "huge"),
}

PLACE_PHRASES: dict[str, tuple[str, ...]] = {
    "sky": ("in the sky", "up in the sky", "against a clear sky"),
    "grass": ("on the grass", "in a meadow", "in a park", "in a field", "on a lawn", "in the garden",
              "in the countryside"),
    "sea": ("in the sea", "on the ocean", "in the ocean", "on a lake", "by the river"),
    "table": ("on a tabletop", "in the kitchen"),
    "wall": ("in a room", "indoors", "against a wall", "in a studio"),
    "plain": ("on a white background", "on a plain background", "on a blank background"),
}
TIME_PHRASES: dict[str, tuple[str, ...]] = {
    "day": ("during the day", "on a sunny day", "in the morning", "in the afternoon"),
    "sunset": ("at sunset", "at dusk", "in the evening", "at sunrise", "at dawn", "at twilight"),
    "night": ("at night", "at midnight", "at nighttime"),
}

QUOTE_STYLES = ('"{}"', "“{}”", "'{}'", "‘{}’")

VERBS: dict[str, tuple[str, ...]] = {
    "circle": ("floating",), "square": ("floating",), "triangle": ("floating",), "star": ("shining",),
    "heart": ("floating",), "sun": ("shining",), "moon": ("glowing", "shining"), "cloud": ("drifting",),
    "bird": ("flying", "soaring"), "balloon": ("floating", "drifting"), "kite": ("flying",),
    "tree": ("growing", "standing"), "house": ("standing",), "car": ("parked", "driving"),
    "flower": ("growing", "blooming"), "mountain": ("rising", "towering"), "sign": ("standing",),
    "banner": ("hanging", "waving"), "poster": ("standing",), "table": ("standing",),
    "boat": ("sailing", "floating"), "fish": ("swimming",), "apple": ("lying",),
    "ball": ("lying", "resting"), "cup": ("sitting", "standing"), "book": ("lying",),
}

TEXT_WORDS = (
    "OPEN", "CLOSED", "CAFE", "SALE", "STOP", "EXIT", "HELLO", "WELCOME", "PIZZA", "HOTEL", "BAKERY",
    "BOOKS", "MUSIC", "PARK", "BEACH", "FRESH", "COFFEE", "TAXI", "BANK", "SHOP", "MARKET", "GARDEN",
    "DANGER", "PUSH", "PULL", "FOOD", "BAR", "LOVE", "PEACE", "HAPPY", "SUMMER", "WINTER", "SPRING",
    "DREAM", "SMILE", "THINK", "DRAW", "FARM", "ZOO", "GYM", "POST", "MILK", "BREAD", "FISH", "SUSHI",
    "TEA", "JAZZ", "ROCK", "SOUP", "DINER", "MOTEL", "CINEMA", "MUSEUM", "LIBRARY", "SCHOOL", "PHARMACY",
    "GOAL", "WIN", "YES", "NOPE", "HOME", "NORTH", "SOUTH", "EAST", "WEST", "FLOWERS", "ICE", "JUICE",
)
TEXT_SECOND_WORDS = ("SALE", "SHOP", "BAR", "TIME", "ZONE", "CLUB", "DAY", "HOUSE", "ROOM", "ROAD", "NOW")
