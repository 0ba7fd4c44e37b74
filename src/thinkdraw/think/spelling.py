"""What words the rules planner knows, and a small spelling corrector towards the world's words.

``known(word)``     the word (or an inflection of it: plural, -ing, -ed, -ly) is in one of the planner's word
                    lists or in a list of ordinary English words that name no drawable thing.
``correct(word)``   for an unknown lowercase word, the world word it is most likely a typo of ("aples" ->
                    "apples", "bleu" -> "blue", "abov" -> "above"), or None. One edit (insertion, deletion,
                    substitution or swap of neighbours) for words of 3-6 letters, two from 6 letters on;
                    the candidates are world words only (categories and their plurals, colours, sizes,
                    numbers, spatial words), so an ordinary word is never "corrected" into a thing.
``nearest_color``   a colour word the world lacks ("teal", "navy") -> the nearest world colour and why.
"""

from __future__ import annotations

from functools import lru_cache

from thinkdraw.think import lexicon as L
from thinkdraw.world.vocab import (
    BACKGROUND_WORDS,
    CATEGORIES,
    CATEGORY_SYNONYMS,
    COLOR_NAMES,
    COLOR_SYNONYMS,
    COLORS,
    SIZE_SYNONYMS,
    SIZES,
    TIME_WORDS,
)

# Ordinary English words that are not things in a picture: verbs, adverbs, settings, arrangement words.
# Known (so neither corrected nor reported as not understood), never planned as entities.
COMMON_WORDS = set("""
wind breeze rain snow fog mist weather ground floor horizon distance foreground middle edge corner part rest
others remaining remainder high low higher lower tall quiet peaceful gentle gently softly slowly quickly
happily lazily peacefully calmly brightly proudly quietly sway swaying bounce bouncing twinkle twinkling
bloom blooming rise rising tower towering lean leaning mount mounted tape taped glue glued stretch stretched
drape draped pin pinned wave waving stick stuck hang hung line lined arrange arranged scatter scattered
stack stacked pile piled everywhere around about across along throughout upward downward vertically
horizontally evenly neatly randomly loosely row ring column circle order sequence front back bottom top
drive driving sail sailing move moving play playing shine glow glowing float fly hover hovering
perch perching dangle dangling sunny cloudy starry bright dark day night morning evening view
us we you i he she him her my your our mine yours theirs one ones other another each every either neither
not isn't aren't doesn't don't no none nor yet still even ever never always often sometimes
first second third fourth fifth last next middle left right rest half quarter
big small large huge tiny some any many much more most less least few several
is are be been was were am has have had do does did can could would should will shall may might must
make makes made let lets put puts set sets get gets got keep keeps
""".split())

_SETTING_EXTRA = {"ground", "floor", "horizon", "air", "wind", "breeze", "weather", "edge", "distance",
                  "foreground", "street", "road", "yard", "backyard", "sky", "night", "day", "part", "rest",
                  "row", "line", "ring", "stack", "pile", "column", "middle", "side", "corner", "others",
                  "remainder", "everywhere", "around", "light", "shade", "shadow", "scene", "landscape",
                  "setting", "world", "surroundings", "sunlight", "moonlight", "dusk", "dawn", "sunset"}
SETTING_NOUNS: frozenset[str] = frozenset(_SETTING_EXTRA | {w for w in BACKGROUND_WORDS if " " not in w}
                                          | {w for w in TIME_WORDS if " " not in w})
"""Nouns that name a setting, a time or a place in the picture, never a thing to draw."""


def _phrase_words(table) -> set[str]:
    return {w for p in table for w in p}


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    words: set[str] = set()
    words |= L.NOUNS | set(L.IRREGULAR_PLURALS) | set(L.IRREGULAR_PLURALS.values()) | L.SINGULAR_S_WORDS
    words |= {w for n in L.MULTIWORD_NOUNS for w in n.split()}
    words |= set(CATEGORIES) | set(CATEGORY_SYNONYMS) | set(COLOR_NAMES) | set(COLOR_SYNONYMS)
    words |= set(L.EXTRA_COLOR_WORDS) | L.COLOR_MODIFIERS | set(SIZES) | set(SIZE_SYNONYMS)
    words |= L.MATERIALS | L.ADJECTIVES | L.FILLER_WORDS | set(L.NUMBER_WORDS) | L.EXACT_WORDS
    words |= set(L.CONJUNCTIONS) | L.ORDINAL_SKIP | L.VAGUE_COUNTS | set(L.BIG_NUMBERS)
    for table in (L.RELATION_PHRASES, L.TEXT_INTRODUCERS, L.NEGATORS, L.FRAME_PHRASES, L.STYLE_PHRASES,
                  L.LIGHT_PHRASES, L.QUANTITY_PHRASES, L.ARRANGEMENT_PHRASES):
        words |= _phrase_words(table)
    words |= {w for k in BACKGROUND_WORDS for w in k.split()} | {w for k in TIME_WORDS for w in k.split()}
    words |= COMMON_WORDS | SETTING_NOUNS | L.TEXT_CARRIER_NOUNS | set(L.MULTI_COLOR_WORDS)
    words |= {"the", "a", "an", "this", "that", "its", "their", "his", "her", "my", "our", "in", "on", "at",
              "over", "under", "against", "across", "into", "onto", "by", "near", "above", "below", "beneath",
              "inside", "underneath", "through", "along", "of", "with", "from", "to", "and", "or", "but",
              "background", "backdrop", "underwater", "style", "styled", "lit", "colored", "coloured", "color",
              "colour", "painted", "side", "hand", "them", "it", "they", "both", "all", "each", "isnt", "arent"}
    return frozenset(w.lower() for w in words)


def known(word: str) -> bool:
    """Whether ``word`` (lowercase) or an inflection of it is a word the planner knows."""
    w = word.lower().strip("'")
    if not w or not w[0].isalpha():
        return True
    kw = _known_words()
    if w in kw or "-" in w and all(p in kw or not p for p in w.split("-")):
        return True
    stems = []
    if w.endswith("s"):
        stems += [w[:-1], w[:-2], w[:-3] + "y" if w.endswith("ies") else w[:-1]]
    if w.endswith("ing"):
        stems += [w[:-3], w[:-3] + "e", w[:-4]]
    if w.endswith("ed"):
        stems += [w[:-2], w[:-1], w[:-3], w[:-3] + "y" if w.endswith("ied") else w[:-2]]
    if w.endswith("ly"):
        stems += [w[:-2], w[:-3] + "y" if w.endswith("ily") else w[:-2], w[:-2] + "le"]
    if w.endswith(("er", "est")):
        stems += [w[:-2], w[:-3], w[:-1]]
    return any(s in kw for s in stems if len(s) >= 2)


def _plural(w: str) -> str:
    c = CATEGORIES.get(w)
    if c is not None and c.plural:
        return c.plural
    if w.endswith(("s", "sh", "ch", "x")):
        return w + "es"
    return w + "s"


@lru_cache(maxsize=1)
def _targets() -> tuple[str, ...]:
    """World words a typo may be corrected to, in order of preference on a tie."""
    out: list[str] = []
    for c in list(CATEGORIES) + list(CATEGORY_SYNONYMS):
        out += [c, _plural(c)]
    out += list(COLOR_NAMES) + ["grey"] + list(SIZES) + ["little", "big", "tiny", "huge"]
    out += ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
            "twenty", "hundred", "thousand", "dozen"]
    out += ["above", "below", "beside", "behind", "between", "under", "over", "next", "left", "right", "front",
            "near", "inside", "underneath", "beneath", "top", "bottom", "middle", "center", "and", "with"]
    return tuple(dict.fromkeys(out))


def _distance(a: str, b: str, cap: int) -> int:
    """Optimal-string-alignment edit distance (a swap of neighbours is one edit), stopping above ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=4096)
def correct(word: str) -> str | None:
    """The world word ``word`` is most likely a typo of, or None (known words are never corrected)."""
    w = word.lower()
    if len(w) < 3 or not w.isalpha() or known(w):
        return None
    cap = 1 if len(w) < 6 else 2
    best: tuple[int, int, int, str] | None = None
    for k, t in enumerate(_targets()):
        if len(w) == 3 and len(t) != 4:  # three letters: only a dropped letter ("bal" -> "ball")
            continue
        d = _distance(w, t, cap)
        if d <= cap:
            key = (d, 0 if t[0] == w[0] else 1, k, t)  # fewest edits, same first letter, table order
            if best is None or key < best:
                best = key
    return best[3] if best else None


def nearest_color(word: str) -> tuple[str, str] | None:
    """A colour word outside the world's named set -> (world colour, a note for the trace), or None."""
    w = word.lower()
    if "-" in w and w.split("-", 1)[0] in L.MULTI_COLOR_WORDS:
        c = L.MULTI_COLOR_WORDS[w.split("-", 1)[0]]
        return c, f"'{w}' is not one world colour: drawn {c}"
    target = COLOR_SYNONYMS.get(w) or L.EXTRA_COLOR_WORDS.get(w)
    if target is None or w in COLORS:
        return None
    if w in COLOR_SYNONYMS and w in ("grey",):
        return target, f"read '{w}' as '{target}'"
    return target, f"'{w}' is not a world colour: nearest is {target}"
