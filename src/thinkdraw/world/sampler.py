"""The world sampler: random scene specifications, their prompts, and (via layout + render) their pixels.

A sample is made in three steps:

1. :func:`sample_spec` draws a task (single_object, two_object, counting, colors, position,
   color_attr, relation, text, negation, scene), a template of that task (see
   :mod:`thinkdraw.world.templates`), categories for the template's slots (consistent with the
   relation and with each other's habitat), counts (1..12, mostly small), colours, sizes, texts,
   negatives and a background that every entity can live in. It writes the prompt and a ScenePlan
   whose entities have ``box=None``, plus metadata: a GenEval-style ``include``/``exclude`` list
   (what the prompt states), texts, relations, template id and task tag.
2. :func:`thinkdraw.world.layout.solve_layout` places the entities.
3. :func:`thinkdraw.world.render.render_scene` draws the image and the instance/category/text masks.

Entity conventions: one Entity per instance, ``noun`` singular (the word the prompt used, possibly a
synonym), ``category`` set, the instances of one mention share ``group``; ids are ``<noun>_<k>``.
Relations refer to an entity id (one instance) or a group name (several). Colours that the prompt
does not state are still filled in the plan (a natural colour of the category), so that the plan
describes the image exactly; ``meta["include"]`` says what was stated.

Train / held-out split (fixed, deterministic):

- Templates: about 20% of each task's templates are held out (marked ``H`` in the template table).
- Combinations: a stable blake2b hash holds out ~15% of unordered category pairs and ~15% of
  (category, colour) combinations (a category's default colour is never held out).
- A *train* sample uses a train template and contains no held-out combination anywhere in its plan
  (stated or not, negatives included in the pairs).
- A *held-out* sample uses a held-out template, or states a held-out combination in its prompt (a
  pair of mentioned categories, or a stated colour of a category), or both.

Determinism: a sample is a function of ``(split, seed, index)`` only (``random.Random`` seeded by a
string, which is stable across processes and Python versions). When the layout solver cannot honour
a drawn scene, :func:`sample_one` draws again from a derived stream (at most 3 more times) so that
images match their prompts; ``meta["attempt"]`` and ``meta["unsatisfied"]`` record it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from thinkdraw.plan.schema import (
    Attributes,
    Background,
    Canvas,
    Entity,
    Lighting,
    Relation,
    ScenePlan,
    TextBlock,
)
from thinkdraw.world.templates import (
    NUMBER_WORDS,
    QUOTE_STYLES,
    SIZE_WORDS,
    TASK_WEIGHTS,
    TEMPLATES,
    TEXT_SECOND_WORDS,
    TEXT_WORDS,
    TIME_PHRASES,
    VERBS,
    Template,
    is_heldout_color,
    is_heldout_pair,
    templates_for,
)
from thinkdraw.world.vocab import BACKGROUND_KINDS, CATEGORIES, COLOR_NAMES, MAX_COUNT, Category

SPLITS = ("train", "heldout")
CARRIERS = tuple(c.name for c in CATEGORIES.values() if c.carries_text)
ON_SUBJECTS = tuple(c.name for c in CATEGORIES.values() if c.habitat == "table")
ON_OBJECTS = tuple(c.name for c in CATEGORIES.values() if c.can_support)
MAX_ATTEMPTS = 2000
LAYOUT_ATTEMPTS = 4

# Where each habitat can live; a few categories override their habitat's list.
HABITAT_BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "free": BACKGROUND_KINDS,
    "sky": ("sky", "grass", "sea"),
    "ground": ("grass", "sky"),
    "water": ("sea",),
    "surface": ("sea",),
    "table": ("table", "grass", "wall"),
}
CATEGORY_BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "table": ("grass", "wall"),
    "poster": ("wall", "grass"),
    "banner": ("sky", "grass", "sea", "wall"),
}
OUTDOOR = ("sky", "grass", "sea")
# Vertical band of a habitat (0 top .. 2 bottom); free shapes go anywhere.
BANDS: dict[str, int | None] = {"sky": 0, "ground": 1, "table": 1, "surface": 1, "water": 2, "free": None}

# Place phrases: "in" variants when something lives in the lower band, "over" variants otherwise.
PLACES_IN: dict[str, tuple[str, ...]] = {
    "grass": ("on the grass", "in a meadow", "in a park", "in a field", "on a lawn", "in the garden",
              "in the countryside"),
    "sea": ("in the sea", "in the ocean", "on the ocean", "on a lake"),
    "table": ("on a tabletop", "in the kitchen"),
    "wall": ("in a room", "indoors", "against a wall", "in a studio"),
    "plain": ("on a white background", "on a plain background", "on a blank background"),
}
PLACES_OVER: dict[str, tuple[str, ...]] = {
    "sky": ("in the sky", "up in the sky", "against a clear sky"),
    "grass": ("over a meadow", "above a field", "over the park", "in the countryside"),
    "sea": ("over the sea", "above the ocean", "by the sea", "over a lake"),
    **{k: v for k, v in PLACES_IN.items() if k in ("table", "wall", "plain")},
}
DARK_COLORS = ("black", "blue", "purple", "brown", "green", "red", "gray")
GEN_POSITION = {"left_of": "left of", "right_of": "right of", "above": "above", "below": "below"}
COUNT_WEIGHTS = {1: 4, 2: 22, 3: 20, 4: 16, 5: 12, 6: 8, 7: 5, 8: 4, 9: 3, 10: 2, 11: 2, 12: 2}


@dataclass
class WorldSample:
    prompt: str
    plan: ScenePlan
    image: Image.Image
    instance: np.ndarray  # HxW uint16: 0 background, i+1 = plan.entities[i]
    category: np.ndarray  # HxW uint8
    text_mask: np.ndarray  # HxW bool
    meta: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------
def plural(noun: str) -> str:
    """English plural of a world noun (category plural if it has one)."""
    cat = CATEGORIES.get(noun)
    if cat is not None and cat.plural:
        return cat.plural
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _number(rng: random.Random, n: int, allow_det: bool) -> str:
    """How a count is said: "a", "two", "2", "a pair of", "a dozen"."""
    if n == 1:
        if allow_det:
            return "a" if rng.random() < 0.9 else "one"
        return "one" if rng.random() < 0.75 else "1"
    r = rng.random()
    if allow_det and n == 2 and r < 0.12:
        return "a pair of"
    if allow_det and n == 12 and r < 0.3:
        return "a dozen"
    return NUMBER_WORDS[n] if rng.random() < 0.65 else str(n)


@dataclass
class Mention:
    """One mention of the prompt: a category with a count and attributes."""

    slot: str
    category: str
    noun: str
    count: int
    color: str  # the colour in the plan (stated or natural)
    color_stated: bool
    size: str | None  # stated size, or None
    color_word: str = ""
    size_word: str = ""
    det: str = "a"
    numeral: str = "one"
    verb: str = ""

    def words(self, with_color: bool = True, counted: bool = False) -> str:
        head = self.numeral if counted else self.det
        parts = [head, self.size_word, self.color_word if with_color and self.color_stated else ""]
        parts.append(self.noun if self.count == 1 else plural(self.noun))
        return " ".join(p for p in parts if p)


class Phrase:
    """What a template slot sees: ``{a}`` is the full phrase; ``{a.bare}``, ``{a.noun}`` etc. parts."""

    def __init__(self, m: Mention) -> None:
        self.full = m.words()
        self.bare = m.words(with_color=False)
        self.counted = m.words(counted=True)
        self.noun = m.noun
        self.plural = plural(m.noun)
        self.color = m.color_word
        self.verb = m.verb

    def __format__(self, spec: str) -> str:
        return self.full


class _Neg:
    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.plural = plural(noun)

    def __format__(self, spec: str) -> str:
        return self.plural


# ---------------------------------------------------------------------------------------------
# Scene specification
# ---------------------------------------------------------------------------------------------
def backgrounds_for(category: str) -> tuple[str, ...]:
    """Background kinds a category can appear on."""
    return CATEGORY_BACKGROUNDS.get(category) or HABITAT_BACKGROUNDS[CATEGORIES[category].habitat]


def _above_ok(upper: str, lower: str) -> bool:
    """Whether ``upper`` can be above ``lower`` given their habitats (gravity, bands)."""
    bu, bl = BANDS[CATEGORIES[upper].habitat], BANDS[CATEGORIES[lower].habitat]
    if CATEGORIES[upper].grounded:  # a grounded thing is above only what lives in a lower band (boat/fish)
        return bu is not None and bl is not None and bu < bl
    if bu is None or bl is None:
        return True
    if bu == bl == 0:
        return True
    return bu < bl


def _side_by_side_ok(categories: list[str]) -> bool:
    """Whether things can stand next to each other: the same vertical band (free shapes fit anywhere)."""
    bands = {BANDS[CATEGORIES[c].habitat] for c in categories} - {None}
    return len(bands) <= 1


def _capacity(cat: Category) -> int:
    """How many instances of a category fit on the canvas, roughly."""
    area = cat.width * cat.width * cat.aspect
    cap = int(0.5 / area)
    if cat.grounded:
        cap = min(cap, int(1.4 / cat.width))
    return max(1, min(MAX_COUNT, cap))


def _pick_categories(rng: random.Random, tpl: Template) -> dict[str, str] | None:
    """Categories for the template's slots, or None when the draw breaks a constraint."""
    names = list(CATEGORIES)
    cats: dict[str, str] = {}
    for slot in tpl.slots:
        if slot in ("q", "q2", "where", "place"):
            continue
        if slot in ("t", "t2"):
            cats[slot] = rng.choice(CARRIERS)
        elif tpl.rel and tpl.rel.predicate == "on" and slot == tpl.rel.subject:
            cats[slot] = rng.choice(ON_SUBJECTS)
        elif tpl.rel and tpl.rel.predicate == "on" and slot == tpl.rel.object:
            cats[slot] = rng.choice(ON_OBJECTS)
        else:
            cats[slot] = rng.choice(names)
    values = list(cats.values())
    if len(set(values)) != len(values):
        return None
    rel = tpl.rel
    if rel and rel.predicate == "above" and not _above_ok(cats[rel.subject], cats[rel.object]):
        return None
    if rel and rel.predicate == "below" and not _above_ok(cats[rel.object], cats[rel.subject]):
        return None
    if rel and rel.predicate in ("next_to", "between"):
        if not _side_by_side_ok([cats[x] for x in (rel.subject, rel.object, rel.object2) if x]):
            return None
    if not _common_backgrounds([c for s, c in cats.items() if s != "neg"]):
        return None
    return cats


def _common_backgrounds(categories: list[str]) -> list[str]:
    common = list(BACKGROUND_KINDS)
    for c in categories:
        allowed = backgrounds_for(c)
        common = [k for k in common if k in allowed]
    return common


def _count_for(rng: random.Random, task: str, tpl: Template, slot: str, cat: Category) -> int:
    if slot in ("t", "t2", "o", "o2") or tpl.single(slot):
        return 1
    if tpl.rel and tpl.rel.predicate == "between":
        return 1
    if task == "counting":
        cap = _capacity(cat)
        counts = [k for k in COUNT_WEIGHTS if k <= cap]
        return rng.choices(counts, weights=[COUNT_WEIGHTS[k] for k in counts])[0]
    if task == "scene" and slot == "a":
        return min(_capacity(cat), rng.choices([1, 2, 3, 4, 5], weights=[35, 25, 20, 10, 10])[0])
    if task in ("single_object",):
        return 1
    n = rng.choices([1, 2, 3], weights=[80, 12, 8])[0]
    return min(n, _capacity(cat))


_STATE_COLOR_P = {"colors": 1.0, "color_attr": 1.0, "counting": 0.35, "position": 0.4, "relation": 0.35,
                  "negation": 0.4, "single_object": 0.1, "two_object": 0.15, "text": 0.25, "scene": 0.2}


def _make_mention(rng: random.Random, task: str, tpl: Template, slot: str, category: str,
                  taken_colors: list[str]) -> Mention:
    cat = CATEGORIES[category]
    noun = rng.choice(cat.synonyms) if cat.synonyms and rng.random() < 0.15 else category
    count = _count_for(rng, task, tpl, slot, cat)
    stated = tpl.states_color(slot) or rng.random() < _STATE_COLOR_P[task]
    if task == "color_attr":
        stated = slot in ("a", "b") or stated
    if stated:
        choices = [c for c in COLOR_NAMES if c not in taken_colors] if task == "color_attr" else COLOR_NAMES
        color = rng.choice(choices)
    elif cat.default_color and rng.random() < 0.5:
        color = cat.default_color
    else:
        color = rng.choice(cat.natural_colors or COLOR_NAMES)
    size = None
    if slot not in ("t", "t2") and rng.random() < 0.1:
        size = rng.choices(["small", "large", "medium"], weights=[45, 45, 10])[0]
    m = Mention(slot, category, noun, count, color, stated, size)
    m.color_word = ("grey" if color == "gray" and rng.random() < 0.25 else color) if stated else ""
    m.size_word = rng.choice(SIZE_WORDS[size]) if size else ""
    m.det = _number(rng, count, allow_det=True)
    m.numeral = _number(rng, count, allow_det=False) if count == 1 else m.det
    if m.numeral in ("a pair of", "a dozen"):
        m.numeral = NUMBER_WORDS[count]
    m.verb = rng.choice(VERBS.get(category, ("",)))
    return m


def _text_content(rng: random.Random) -> str:
    """A 3-10 character string: a word, a number, both ("CAFE 24"), two words, or random letters."""
    while True:
        r = rng.random()
        if r < 0.35:
            s = rng.choice(TEXT_WORDS)
        elif r < 0.5:
            s = str(rng.choice([rng.randint(100, 999), rng.randint(1000, 99999), rng.randint(1990, 2030)]))
        elif r < 0.72:
            s = f"{rng.choice(TEXT_WORDS)} {rng.randint(1, 99)}"
        elif r < 0.85:
            s = f"{rng.choice(TEXT_WORDS)} {rng.choice(TEXT_SECOND_WORDS)}"
        else:
            letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + ("0123456789" if rng.random() < 0.3 else "")
            s = "".join(rng.choice(letters) for _ in range(rng.randint(3, 7)))
        if not 3 <= len(s) <= 10:
            continue
        c = rng.random()
        if c > 0.92:
            s = s.lower()
        elif c > 0.8:
            s = s.title()
        return s


_NOUNS = {w for c in CATEGORIES.values() for n in (c.name, *c.synonyms) for w in (n, plural(n))}


def _quote(rng: random.Random, content: str) -> str:
    """The text as the prompt writes it: quoted in one of several styles, or bare when unambiguous."""
    if " " not in content and content.lower() not in _NOUNS and rng.random() < 0.2:
        return content
    return rng.choice(QUOTE_STYLES).format(content)


def _background(rng: random.Random, tpl: Template, mentions: list[Mention]) -> tuple[str, str, str, dict]:
    """Background kind, time and the place/time phrase (possibly empty) the prompt uses."""
    cats = [m.category for m in mentions]
    kinds = _common_backgrounds(cats)
    all_free = all(CATEGORIES[c].habitat == "free" for c in cats)
    weights = [3 if (k == "plain" and all_free) else 1 for k in kinds]
    kind = rng.choices(kinds, weights=weights)[0]
    time = "day"
    if kind in OUTDOOR:
        tw = {"day": 0.6, "sunset": 0.2, "night": 0.2}
        if "moon" in cats:
            tw = {"day": 0.2, "sunset": 0.3, "night": 0.5}
        if "sun" in cats:
            tw["night"] = 0.0
        time = rng.choices(list(tw), weights=list(tw.values()))[0]
    slots = tpl.slots
    mention = "place" in slots or ("where" in slots and rng.random() < 0.6)
    if not mention:
        return kind, "day", "", {"kind": kind, "time": "day", "place_stated": False, "time_stated": False}
    lower = any(BANDS[CATEGORIES[c].habitat] not in (0, None) for c in cats)
    table = PLACES_IN if lower else PLACES_OVER
    place = ""
    if kind in table and (time == "day" or rng.random() < 0.75):
        place = rng.choice(table[kind])
    say_time = time != "day" or (kind in OUTDOOR and rng.random() < 0.15) or not place
    when = rng.choice(TIME_PHRASES[time]) if say_time else ""
    phrase = " ".join(p for p in (place, when) if p)
    return kind, time, phrase, {"kind": kind, "time": time, "place_stated": bool(place), "time_stated": say_time}


_ARTICLE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def _write_prompt(rng: random.Random, tpl: Template, mentions: dict[str, Mention], neg: str | None,
                  quoted: dict[str, str], place: str) -> str:
    values: dict[str, Any] = {slot: Phrase(m) for slot, m in mentions.items()}
    if neg is not None:
        values["neg"] = _Neg(neg)
    for slot in quoted:
        values[slot] = f"\x00{slot}\x00"  # quoted text is inserted after the article fix
    values["where"] = f" {place}" if place else ""
    values["place"] = place
    text = tpl.text.format(**values)
    text = _ARTICLE.sub(r"\1n ", text)
    for slot, q in quoted.items():
        text = text.replace(f"\x00{slot}\x00", q)
    text = re.sub(r"\s+", " ", text).replace(" ,", ",").strip()
    text = re.sub(r"\b([Tt]here) are (one|1) ", r"\1 is \2 ", text)
    if rng.random() < 0.3 and text[:1].isalpha() and not tpl.text.startswith("{q}"):  # never recase the text
        text = text[0].upper() + text[1:]
    if rng.random() < 0.15:
        text += "."
    return text


def _combos(mentions: list[Mention], neg_cat: str | None) -> tuple[set, set]:
    """(held-out combos anywhere in the plan, held-out combos the prompt states)."""
    cats = [m.category for m in mentions] + ([neg_cat] if neg_cat else [])
    pairs = {tuple(sorted((a, b))) for i, a in enumerate(cats) for b in cats[i + 1:] if is_heldout_pair(a, b)}
    colors_any = {(m.category, m.color) for m in mentions if is_heldout_color(m.category, m.color)}
    colors_stated = {(m.category, m.color) for m in mentions if m.color_stated and (m.category, m.color) in colors_any}
    anywhere = {("pair", *p) for p in pairs} | {("color", *c) for c in colors_any}
    stated = {("pair", *p) for p in pairs} | {("color", *c) for c in colors_stated}
    return anywhere, stated


def sample_spec(rng: random.Random | int, split: str = "train", task: str | None = None,
                size: int = 256) -> tuple[str, ScenePlan, dict[str, Any]]:
    """Draw a prompt and its plan (entities without boxes) and metadata for ``split``.

    ``rng`` is a ``random.Random`` (or an int seed); ``task`` fixes the task, else it is drawn.
    """
    if isinstance(rng, int):
        rng = random.Random(rng)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if task is None:
        task = rng.choices(list(TASK_WEIGHTS), weights=list(TASK_WEIGHTS.values()))[0]
    if task not in TEMPLATES:
        raise ValueError(f"unknown task {task!r}")
    for _ in range(MAX_ATTEMPTS):
        heldout_tpl = split == "heldout" and rng.random() < 0.5
        tpl = rng.choice(templates_for(task, heldout_tpl))
        cats = _pick_categories(rng, tpl)
        if cats is None:
            continue
        neg_cat = cats.pop("neg", None)
        mentions: list[Mention] = []
        for slot, c in cats.items():
            mentions.append(_make_mention(rng, task, tpl, slot, c, [m.color for m in mentions]))
        anywhere, stated = _combos(mentions, neg_cat)
        if split == "train" and (tpl.heldout or anywhere):
            continue
        if split == "heldout" and not (tpl.heldout or stated):
            continue
        return _assemble(rng, task, tpl, mentions, neg_cat, split, sorted(stated), size)
    raise RuntimeError(f"could not sample a {split} scene for task {task!r}")


def _assemble(rng: random.Random, task: str, tpl: Template, mentions: list[Mention], neg_cat: str | None,
              split: str, heldout_combos: list, size: int) -> tuple[str, ScenePlan, dict[str, Any]]:
    """Turn the drawn mentions into prompt, plan and metadata."""
    by_slot = {m.slot: m for m in mentions}
    neg_noun = None
    if neg_cat is not None:
        syn = CATEGORIES[neg_cat].synonyms
        neg_noun = rng.choice(syn) if syn and rng.random() < 0.15 else neg_cat
    texts = {q: _text_content(rng) for q in ("q", "q2") if q in tpl.slots}
    quoted = {q: _quote(rng, s) for q, s in texts.items()}
    kind, time, place, bg_meta = _background(rng, tpl, mentions)
    prompt = _write_prompt(rng, tpl, by_slot, neg_noun, quoted, place)

    entities: list[Entity] = []
    refs: dict[str, str] = {}
    counters: dict[str, int] = {}
    groups: set[str] = set()
    for m in mentions:
        key = m.noun.replace(" ", "_")
        group = key if key not in groups else f"{key}{len(groups) + 1}"
        groups.add(group)
        ids = []
        for _ in range(m.count):
            counters[key] = counters.get(key, 0) + 1
            ids.append(f"{key}_{counters[key]}")
            entities.append(Entity(id=ids[-1], noun=m.noun, category=m.category, group=group,
                                   attributes=Attributes(color=m.color, size=m.size)))
        refs[m.slot] = ids[0] if m.count == 1 else group

    relations: list[Relation] = []
    rel_meta: list[dict] = []
    order = [m.slot for m in mentions]
    include: list[dict[str, Any]] = []
    for m in mentions:
        item: dict[str, Any] = {"class": m.category, "noun": m.noun, "count": m.count}
        if m.color_stated:
            item["color"] = m.color
        include.append(item)
    if tpl.rel is not None:
        r = tpl.rel
        relations.append(Relation(subject=refs[r.subject], predicate=r.predicate, object=refs[r.object],
                                  object2=refs[r.object2] if r.object2 else None))
        rel_meta.append({"subject": order.index(r.subject), "predicate": r.predicate,
                         "object": order.index(r.object),
                         "object2": order.index(r.object2) if r.object2 else None})
        if r.predicate in GEN_POSITION:
            include[order.index(r.subject)]["position"] = [GEN_POSITION[r.predicate], order.index(r.object)]
        if r.predicate == "on":
            for e in entities:
                if e.group == refs[r.subject] or e.id == refs[r.subject]:
                    e.supported_by = refs[r.object]

    text_blocks: list[TextBlock] = []
    text_meta: list[dict] = []
    for q, content in texts.items():
        carrier = by_slot["t" if q == "q" else "t2"]
        dark = carrier.color in DARK_COLORS
        text_blocks.append(TextBlock(id=f"text_{len(text_blocks) + 1}", content=content, on=refs[carrier.slot],
                                     color="white" if dark else "black"))
        text_meta.append({"content": content, "on": order.index(carrier.slot)})

    exclude: list[dict[str, Any]] = []
    if task == "counting":
        exclude.append({"class": mentions[0].category, "count": mentions[0].count + 1})
    if neg_cat is not None:
        exclude.append({"class": neg_cat, "noun": neg_noun, "count": 1})

    plan = ScenePlan(
        prompt=prompt,
        canvas=Canvas(width=size, height=size),
        background=Background(kind=kind, time=time),
        lighting=Lighting(direction=rng.choice(["left", "right", "top"])),
        entities=entities,
        relations=relations,
        texts=text_blocks,
        negatives=[neg_noun] if neg_noun else [],
    )
    meta = {
        "task": task,
        "template": tpl.id,
        "template_heldout": tpl.heldout,
        "split": split,
        "include": include,
        "exclude": exclude,
        "relations": rel_meta,
        "texts": text_meta,
        "background": bg_meta,
        "heldout_combos": [list(c) for c in heldout_combos],
    }
    return prompt, plan, meta


# ---------------------------------------------------------------------------------------------
# Full samples
# ---------------------------------------------------------------------------------------------
def rng_for(split: str, seed: int, index: int | str) -> random.Random:
    """The random stream of sample ``index`` (stable across processes)."""
    return random.Random(f"thinkdraw-world/{split}/{seed}/{index}")


def spec_at(index: int, split: str = "train", seed: int = 0, size: int = 256
            ) -> tuple[str, ScenePlan, dict[str, Any]]:
    """The specification of sample ``index`` (what :func:`sample` would render), without rendering."""
    prompt, plan, meta = sample_spec(rng_for(split, seed, index), split, size=size)
    meta.update(seed=seed, index=index)
    return prompt, plan, meta


def sample_one(index: int, split: str = "train", seed: int = 0, size: int = 256) -> WorldSample:
    """Sample ``index`` of the stream ``(split, seed)``: spec, layout and render."""
    from thinkdraw.world.layout import solve_layout
    from thinkdraw.world.render import render_scene

    for attempt in range(LAYOUT_ATTEMPTS):
        # a scene whose layout cannot honour the prompt would be a mislabeled sample: draw another one
        rng = rng_for(split, seed, index) if attempt == 0 else rng_for(split, seed, f"{index}/{attempt}")
        prompt, plan, meta = sample_spec(rng, split, size=size)
        layout_seed = rng.getrandbits(31)
        result = solve_layout(plan, seed=layout_seed)
        if not result.unsatisfied:
            break
    meta.update(seed=seed, index=index, attempt=attempt, unsatisfied=list(result.unsatisfied))
    placed = result.plan
    scene = render_scene(placed, size=size, seed=layout_seed)
    return WorldSample(prompt=prompt, plan=placed, image=scene.image, instance=scene.instance,
                       category=scene.category, text_mask=scene.text_mask, meta=meta)


def sample(n: int, split: str = "train", seed: int = 0, size: int = 256, start: int = 0
           ) -> Iterator[WorldSample]:
    """Samples ``start .. start+n-1`` of the deterministic stream ``(split, seed)``."""
    for i in range(start, start + n):
        yield sample_one(i, split, seed, size)
