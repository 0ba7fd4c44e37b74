"""The built-in planner: prompt in, Reasoning + ScenePlan out, rules only, no network.

Stages, each written into the reasoning trace so a person can audit it:
  parse       quoted / introduced text is lifted out letter-exact; the rest is chunked into mentions
              (quantity, colour, size, material, noun), relation phrases, negations, background, time, style
  constraints counts, colour bindings, relations and negatives stated as constraints
  plan        world categories, default colours from world knowledge, background and lighting
  layout      the layout solver's boxes (in GoT's 0..1000 grid for readability)
  text        each string, its carrier and its fitted box
  physics     what rests on what (gravity), what floats or flies, light and shadows
Deterministic for a given prompt and seed; the seed only varies the layout's free choices.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

from thinkdraw.plan.schema import (
    Attributes,
    Background,
    Canvas,
    Entity,
    Lighting,
    Reasoning,
    Relation,
    ScenePlan,
    TextBlock,
    to_got,
)
from thinkdraw.think import lexicon as L
from thinkdraw.think import spelling as S
from thinkdraw.world.font import load_font
from thinkdraw.world.layout import habitat, solve_layout
from thinkdraw.world.vocab import (
    BACKGROUND_WORDS,
    CATEGORIES,
    CATEGORY_SYNONYMS,
    COLOR_NAMES,
    COLOR_SYNONYMS,
    MAX_COUNT,
    SIZE_SYNONYMS,
    SIZES,
    STYLES,
)

_QUOTES = [("\u201c", "\u201d"), ("\u201e", "\u201c"), ("\u00ab", "\u00bb"), ("\u2018", "\u2019"), ('"', '"'),
           ("\u300c", "\u300d")]
# A lifted quote is replaced by a mark, NUL + its index + NUL: control characters are spaces in a prompt
# (see _CONTROL), so a typed string can never be taken for a mark.
_MARK = "\x00"
_MARK_RE = r"\x00\d+\x00"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TOKEN = re.compile(_MARK_RE + r"|\d+(?:[.,]\d+)?[A-Za-z]*|[A-Za-z][A-Za-z'\-]*|[,;:.!?&+/]")
_SYMBOL_CONJ = ("+", "/")  # "car + tree", "cats/dogs": terse lists (not stop words inside a text: "C++", "24/7")
_STOP_TEXT = set(L.CONJUNCTIONS) | {w for p in L.RELATION_PHRASES for w in p[:1]} | {
    "at", "during", "against", "under", "with", "and", "in", "on", "above", "below", "next", "near", "to",
    "that", "which", "while", "beside", "behind", "by", "over", "no", "without"}
_PREPOSITIONS = {"in", "on", "at", "over", "under", "against", "across", "into", "onto", "by", "near",
                 "above", "below", "beneath", "inside", "underneath", "through", "along"}
_DETERMINERS = {"the", "a", "an", "some", "this", "that", "its", "their", "his", "her", "my", "our"}
_BG_HEADS = {w for w in BACKGROUND_WORDS if " " not in w} | {"background", "backdrop", "underwater"}


MAX_PROMPT_CHARS = 2000
"""Longest prompt the planner reads, in characters as given; a longer one is a PlanningError."""
MAX_ENTITIES = 48
"""Most entities in one plan; things named beyond it are dropped with a warning (see MAX_COUNT per mention)."""
MAX_TEXT_BLOCKS = 16
"""Most text blocks in one plan; strings beyond it are dropped with a warning."""


class PlanningError(ValueError):
    """The prompt cannot be planned (empty, too long, or nothing drawable in it)."""


@dataclass
class Mention:
    noun: str
    count: int = 1
    vague: str | None = None
    exact: bool = False
    color: str | None = None
    size: str | None = None
    material: str | None = None
    negated: bool = False
    definite: bool = False
    explicit_count: bool = False
    texts: list[str] = field(default_factory=list)
    position: str | None = None
    ref: Mention | None = None  # coreference: "the cup" after "a cup"
    pronoun: bool = False  # "it", "them": resolved to an earlier mention
    ids: list[str] = field(default_factory=list)
    group: str | None = None
    dropped: bool = False  # beyond MAX_ENTITIES: not planned
    not_color: str | None = None  # "an apple that is not red"
    arrangement: str | None = None  # "in a row", "in a circle", "stacked", "scattered"
    inst_colors: list[str | None] | None = None  # per instance: "three cups: red, green and blue"
    inst_places: list[str | None] | None = None  # per instance: "the left one", "one high and one low"
    inst_sizes: list[str | None] | None = None  # per instance: "one big and one small"
    notes: list[str] = field(default_factory=list)  # what was read and decided, for the trace

    @property
    def name(self) -> str:
        return self.group or self.ids[0]


@dataclass
class RelItem:
    pred: str
    phrase: str
    inverted: bool = False
    relative: bool = False  # "a book that is on a table": the subject is the mention just before


@dataclass
class OrderItem:
    """'from left to right:' / 'from top to bottom:': each mention after it is ``pred`` the one before."""
    pred: str
    phrase: str


@dataclass
class Parse:
    items: list = field(default_factory=list)  # Mention | RelItem | "CONJ"
    background: str | None = None
    bg_colors: list[str] = field(default_factory=list)
    time: str | None = None
    style: str | None = None
    light: str | None = None
    free_texts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # words the planner does not know: nothing planned
    corrections: list[tuple[int, str, str]] = field(default_factory=list)  # (token, typed, read as)
    text_idx: set[int] = field(default_factory=set)  # tokens that are part of a text
    n_words: int = 0
    arrangements: list[tuple[str, list[Mention], str]] = field(default_factory=list)  # (kind, mentions, phrase)


# ------------------------------------------------------------------------------------------------
# word helpers
# ------------------------------------------------------------------------------------------------
def singularize(word: str) -> str:
    """Singular form of an English noun, including irregular and naive plurals ("sheeps", "benchs")."""
    w = word.lower()
    if w in L.IRREGULAR_PLURALS:
        return L.IRREGULAR_PLURALS[w]
    if " " in w:
        head = w.rsplit(" ", 1)
        return f"{head[0]} {singularize(head[1])}"
    if w in L.NOUNS or w in CATEGORIES or w in CATEGORY_SYNONYMS or w in L.SINGULAR_S_WORDS:
        return w
    if len(w) <= 3:
        return w[:-1] if w.endswith("s") and w[:-1] in L.NOUNS else w
    cands: list[str] = []
    if w.endswith("ies"):
        cands += [w[:-3] + "y", w[:-1]]
    if w.endswith("ves"):
        cands += [w[:-3] + "f", w[:-3] + "fe"]
    if w.endswith("es"):
        cands += [w[:-2]]
    if w.endswith("s") and not w.endswith("ss"):
        cands += [w[:-1]]
    for c in cands:
        if c in L.IRREGULAR_PLURALS and L.IRREGULAR_PLURALS[c] != c:  # naive plural of an irregular: "mices"
            return L.IRREGULAR_PLURALS[c]
    for c in cands:  # a known noun wins ("benches" -> bench, "horses" -> horse, "sheeps" -> sheep)
        if c in L.NOUNS or c in CATEGORIES or c in CATEGORY_SYNONYMS or c in L.IRREGULAR_PLURALS.values():
            return c
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if re.search(r"(ss|sh|ch|x|z)es$", w):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def is_plural(word: str) -> bool:
    w = word.lower()
    if w in ("sheep", "fish", "deer", "moose", "skis", "scissors"):
        return w in ("skis",)
    return singularize(w) != w


def color_of(tok: str) -> str | None:
    t = tok.lower()
    if t in COLOR_NAMES:
        return t
    if "-" in t:  # "yellow-colored", "light-blue", "dark-red", "blue-ish"
        parts = [p for p in t.split("-") if p not in ("colored", "coloured", "ish", "toned", "hued", "tinted")
                 and p not in L.COLOR_MODIFIERS]
        if len(parts) == 1 and parts[0] != t:
            return color_of(parts[0]) or (L.MULTI_COLOR_WORDS.get(parts[0]) if t != parts[0] else None)
    return COLOR_SYNONYMS.get(t) or L.EXTRA_COLOR_WORDS.get(t)


def category_of(noun: str) -> str | None:
    if noun in CATEGORIES:
        return noun
    if noun in CATEGORY_SYNONYMS:
        return CATEGORY_SYNONYMS[noun]
    head = noun.rsplit(" ", 1)[-1]
    if head != noun and head in CATEGORIES and noun not in ("hot dog", "teddy bear", "dining table"):
        return head if noun != "stop sign" else "sign"
    if head != noun and head in CATEGORY_SYNONYMS:
        return CATEGORY_SYNONYMS[head]
    if noun == "dining table" or noun == "coffee table":
        return "table"
    return None


def _is_function(t: str) -> bool:
    return (t in L.FILLER_WORDS or t in _DETERMINERS or t in L.NUMBER_WORDS or t in _PREPOSITIONS
            or t in L.CONJUNCTIONS or t in L.EXACT_WORDS or t.isdigit() or not t[:1].isalpha()
            or t in ("not", "no", "without", "of", "left", "right", "top", "bottom", "side", "middle",
                     "center", "centre", "front", "back", "between", "next", "beside", "behind", "near",
                     "style", "lit", "says", "reads", "reading", "saying", "labeled", "labelled", "written"))


def _is_noun_token(t: str) -> bool:
    return bool(t) and not _is_function(t) and color_of(t) is None and t not in SIZES and t not in SIZE_SYNONYMS \
        and t not in L.MATERIALS and t not in L.ADJECTIVES


def _known_noun(t: str) -> bool:
    s = singularize(t)
    return s in L.NOUNS or s in CATEGORIES or s in CATEGORY_SYNONYMS


def _adjective_like(t: str) -> bool:
    return t in L.ADJECTIVES or (not _known_noun(t) and t.endswith(("y", "ful", "ous", "ive", "ic", "less",
                                                                  "ish", "ed", "ing", "al", "ly")))


# ------------------------------------------------------------------------------------------------
# parsing
# ------------------------------------------------------------------------------------------------
def _lift_quotes(prompt: str) -> tuple[str, list[str]]:
    texts: list[str] = []

    def sub(m: re.Match[str]) -> str:
        texts.append(m.group(2))
        return f" {_MARK}{len(texts) - 1}{_MARK} "

    s = _CONTROL.sub(" ", prompt)
    for a, b in _QUOTES:
        s = re.sub(f"({re.escape(a)})([^{re.escape(a + b)}]+?)({re.escape(b)})", sub, s)
    # single straight quotes, not apostrophes: 'Cafe 24h'
    s = re.sub(r"(?<![A-Za-z0-9])(')([^']+?)'(?![A-Za-z0-9])", sub, s)
    return s, texts


_PHRASE_INDEX: dict[int, tuple[object, dict[str, list[tuple[str, ...]]]]] = {}


def _by_first_word(phrases) -> dict[str, list[tuple[str, ...]]]:
    """The phrases of a lexicon table grouped by their first word, in table order (built once per table)."""
    hit = _PHRASE_INDEX.get(id(phrases))
    if hit is None or hit[0] is not phrases:
        index: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for p in phrases:
            index[p[0]].append(p)
        hit = _PHRASE_INDEX[id(phrases)] = (phrases, dict(index))
    return hit[1]


def _is_mark(tok: str) -> bool:
    return tok.startswith(_MARK)


def _match(low: list[str], i: int, phrases) -> tuple[int, object] | None:
    """The longest phrase of ``phrases`` starting at token ``i`` (the first in table order on a tie)."""
    if i >= len(low):
        return None
    best = None
    for p in _by_first_word(phrases).get(low[i], ()):
        n = len(p)
        if tuple(low[i:i + n]) == p and (best is None or n > best[0]):
            best = (n, p)
    return best


def parse(prompt: str) -> Parse:
    s, quoted = _lift_quotes(prompt)
    s = _rewrite_written_on(s)
    found = list(_TOKEN.finditer(s))
    toks = [m.group(0) for m in found]
    low = [t.lower() for t in toks]
    out = Parse()
    _correct_typos(toks, low, out)
    i, n = 0, len(toks)
    negate_next = False
    pending_text_intro = False
    pending_position: str | None = None
    pending_arrangement: tuple[str, str] | None = None

    last_thing: list[Mention | RelItem | None] = [None]  # the last item that is not a conjunction

    def add(it: Mention | RelItem | str) -> None:
        out.items.append(it)
        if not isinstance(it, str):
            last_thing[0] = it

    def last_mention() -> Mention | None:
        """The mention just before, across conjunctions; None after a relation word (kept as we go: a scan
        back over a run of conjunctions made long runs of ',' or ':' quadratic)."""
        it = last_thing[0]
        return it if isinstance(it, Mention) else None

    def take_text(j: int) -> tuple[str | None, int]:
        """Text starting at token j: a lifted quote, or an unquoted run up to a stop word."""
        if j < n and _is_mark(toks[j]):
            return quoted[int(toks[j][1:-1])], j + 1
        return _unquoted_text(s, found, toks, low, j)

    while i < n:
        t = low[i]
        # frames ("a photo of", "there are") carry no entity
        m = _match(low, i, L.FRAME_PHRASES)
        if m and (i == 0 or low[i - 1] in (",", ";", ".", "and") or m[0] >= 2):
            i += m[0]
            continue
        # text introducers
        m = _match(low, i, L.TEXT_INTRODUCERS)
        if m and m[1] in L.WEAK_TEXT_INTRODUCERS and not _carries_text(last_mention()) and not (
                i + m[0] < n and _is_mark(toks[i + m[0]])):
            m = None
        if m or (t == ":" and _carries_text(last_mention()) and i + 1 < n and _texty(toks[i + 1])):
            j = i + (m[0] if m else 1)
            txt, j2 = take_text(j)
            if txt:
                lm = last_mention()
                (lm.texts if lm else out.free_texts).append(txt)
                out.text_idx.update(range(j, j2))
                i = j2
                continue
            i = j
            pending_text_intro = True
            continue
        if _is_mark(toks[i]):
            txt = quoted[int(toks[i][1:-1])]
            lm = last_mention()
            (lm.texts if lm else out.free_texts).append(txt)
            i += 1
            continue
        # "from left to right: a, b, c"
        word = t[:1].isalpha()
        m = _match(low, i, L.ORDER_PHRASES) if word else None
        if m:
            add(OrderItem(L.ORDER_PHRASES[m[1]], " ".join(m[1])))  # type: ignore[index]
            i += m[0] + (i + m[0] < n and low[i + m[0]] == ":")
            continue
        # arrangements: "in a row", "stacked", "scattered" (after a mention) or "a row of" (before one)
        m = _match(low, i, L.ARRANGEMENT_PREFIXES) if word else None
        if m:
            pending_arrangement = (L.ARRANGEMENT_PREFIXES[m[1]], " ".join(m[1]))  # type: ignore[index]
            i += m[0]
            continue
        m = _match(low, i, L.ARRANGEMENT_PHRASES) if word else None
        if m and ((rm := _match(low, i, L.RELATION_PHRASES)) is None or m[0] >= rm[0]):
            who = _arranged(out.items)
            weak = m[0] == 1 or m[1][0] in ("around", "everywhere", "all", "here")
            if who and (not weak or sum(w.count for w in who) >= 2 or m[1] == ("stacked",)):
                out.arrangements.append((L.ARRANGEMENT_PHRASES[m[1]], who, " ".join(m[1])))  # type: ignore[index]
                i += m[0]
                continue
        # a per-instance or shared attribute: "three cups: red, green and blue", "..., both pink"
        dm = _distribution_at(low, i, out.items) if out.items and isinstance(out.items[-1], Mention) else None
        if dm:
            i = dm
            continue
        # a negated colour: "an apple that is not red"
        nc = _not_color_at(low, i) if t in ("that", "which", ",", "is", "are", "that's", "not", "isn't",
                                            "aren't", "never") else None
        if nc and last_mention() is not None:
            color, i = nc
            last_mention().not_color = color  # type: ignore[union-attr]
            continue
        j = _scene_at(out, low, i)  # light, style, time of day, background
        if j is not None:
            i = j
            continue
        # a side of something named before: "a house with a bird on its left"
        if t in ("on", "to", "at") and i + 2 < n and low[i + 1] in ("its", "their", "his", "her") \
                and low[i + 2] in ("left", "right"):
            add(RelItem("left_of" if low[i + 2] == "left" else "right_of", " ".join(low[i:i + 3])))
            add(Mention(noun=low[i + 1], pronoun=True))
            i += 3 + (i + 3 < n and low[i + 3] in ("side", "hand"))
            continue
        # absolute positions: "on the left", "at the top", "in the center"
        am = _absolute_at(low, i)
        if am:
            pos, i = am
            lm = out.items[-1] if out.items else None
            if isinstance(lm, Mention):
                lm.position = pos
            else:
                pending_position = pos  # "on the left, a tree": for the mention that follows
            continue
        # negation
        m = _match(low, i, L.NEGATORS)
        if m and not (t == "zero" and i + 1 < n and low[i + 1] in ("and",)):
            negate_next = True
            i += m[0]
            continue
        # post-nominal colour: "that is red", "colored blue", "in red", "painted green", ", blue in color"
        if color_of(t) and low[i + 1:i + 3] in (["in", "color"], ["in", "colour"]) and last_mention() is not None:
            last_mention().color = color_of(t)  # type: ignore[union-attr]
            i += 3
            continue
        pc = _post_color_at(low, i)
        if pc and last_mention() is not None:
            color, i = pc
            last_mention().color = color  # type: ignore[union-attr]
            continue
        # relation phrases
        m = _match(low, i, L.RELATION_PHRASES)  # the longest phrase wins
        if m:
            pred = L.RELATION_PHRASES[m[1]]
            j = i + m[0]
            # "on the left" without "of" was handled above; "in front of" etc. are phrases
            inverted = last_mention() is None and not any(isinstance(x, Mention) for x in out.items[-1:])
            rel = i > 0 and (low[i - 1] in ("that", "which", "that's") or (
                i > 1 and low[i - 1] in ("is", "are", "sits", "stands", "lies") and low[i - 2] in ("that", "which")))
            add(RelItem(pred, " ".join(m[1]), inverted=inverted and _clause_start(out.items), relative=rel))
            i = j
            continue
        if t in ("it", "them", "this", "that") and out.items and isinstance(out.items[-1], RelItem):
            add(Mention(noun=t, pronoun=True))
            i += 1
            continue
        if t in L.CONJUNCTIONS or t in _SYMBOL_CONJ or t == ":" or (t == "as" and low[i:i + 3] == ["as", "well", "as"]):
            add("CONJ_WITH" if t == "with" else "CONJ")
            i += 3 if t == "as" else 1
            continue
        # a mention
        mm = _mention_at(toks, low, i)
        if mm:
            men, j = mm
            if not _plannable(men, out, i, j):
                # a setting is skipped whole ("the night sky"); an unknown word only itself ("that covers half")
                i = j if men.noun.rsplit(" ", 1)[-1] in S.SETTING_NOUNS or men.noun in BACKGROUND_WORDS else i + 1
                continue
            i = j
            if pending_arrangement:
                if not men.explicit_count and men.count == 3 and men.vague == "plural":
                    men.count, men.vague = 4, pending_arrangement[1]
                out.arrangements.append((pending_arrangement[0], [men], pending_arrangement[1]))
                pending_arrangement = None
            if negate_next:
                men.negated = True
                negate_next = False
            if pending_text_intro:
                pending_text_intro = False
            if pending_position:
                men.position, pending_position = pending_position, None
            add(men)
            continue
        i += 1
    _collect_unknown(toks, low, out)
    return out


def _correct_typos(toks: list[str], low: list[str], out: Parse) -> None:
    """Unknown lowercase words that are one slip from a world word are read as that word ("aples" -> "apples")."""
    for k, w in enumerate(low):
        tok = toks[k]
        if not tok[:1].isalpha() or not (tok.islower() or (k == 0 and tok[1:].islower())):
            continue
        fix = S.correct(w)
        if fix:
            out.corrections.append((k, w, fix))
            low[k] = fix
            toks[k] = fix


def _collect_unknown(toks: list[str], low: list[str], out: Parse) -> None:
    """Words the planner does not know (outside texts), and how many words there are: for the trace, the
    warnings, and the refusal of a prompt it cannot read at all."""
    fixed = {k for k, _, _ in out.corrections}
    words = [k for k, t in enumerate(toks) if t[:1].isalpha() and k not in out.text_idx]
    out.n_words = len(words)
    for k in words:
        if k not in fixed and not S.known(low[k]) and low[k] not in out.unknown:
            out.unknown.append(low[k])
    out.corrections = [c for c in out.corrections if c[0] not in out.text_idx]


def _plannable(men: Mention, out: Parse, i: int, j: int) -> bool:
    """Whether a mention names a thing to draw: not a setting ("the night sky"), not an unknown word."""
    head = men.noun.rsplit(" ", 1)[-1]
    if category_of(men.noun) or men.noun in L.MULTIWORD_NOUNS:
        return True
    if head in S.SETTING_NOUNS or men.noun in BACKGROUND_WORDS:
        from thinkdraw.world.vocab import TIME_WORDS

        kind = BACKGROUND_WORDS.get(men.noun) or BACKGROUND_WORDS.get(head)
        if kind and out.background is None:
            out.background = kind
        when = next((TIME_WORDS[w] for w in men.noun.split() if w in TIME_WORDS and w not in ("dark", "sunny")), None)
        if when and out.time is None:
            out.time = when
        out.notes.append(f"'{men.noun}' read as the setting, not a thing" + (f" (background: {kind})" if kind else "")
                         + (f" (time: {when})" if when else ""))
        return False
    return _known_noun(head)


def _arranged(items: list) -> list[Mention]:
    """The mentions an arrangement phrase after them applies to: the last one when it is a group, else the run
    of mentions since the last relation ("a cup and a ball side by side")."""
    run: list[Mention] = []
    for it in reversed(items):
        if isinstance(it, Mention):
            if it.pronoun or it.negated:
                break
            run.insert(0, it)
            if it.count > 1 and len(run) == 1:
                break
        elif isinstance(it, RelItem | OrderItem):
            break
    return run


def _small_number(w: str) -> int | None:
    if w.isdigit():
        return int(w)
    v = L.NUMBER_WORDS.get(w)
    return v if v is not None and 1 <= v <= MAX_COUNT and w not in ("a", "an", "some", "both", "few", "many") else None


def _attr_at(low: list[str], k: int) -> tuple[tuple[str, str], int] | None:
    """A per-instance attribute at token k: a colour, a size or a place word ("high", "low")."""
    n = len(low)
    while k < n and low[k] in ("is", "are", "colored", "coloured", "painted", "in"):
        k += 1
    if k < n and low[k] in L.COLOR_MODIFIERS and k + 1 < n and color_of(low[k + 1]):
        k += 1
    if k >= n:
        return None
    w = low[k]
    c = color_of(w)
    if c:
        return ("color", c), k + 1 + (k + 1 < n and low[k + 1] in ("color", "colour", "colored", "coloured"))
    if w in SIZES or w in SIZE_SYNONYMS:
        return ("size", SIZE_SYNONYMS.get(w, w)), k + 1
    if w in L.INSTANCE_PLACES and (k + 1 >= n or low[k + 1] in (",", "and", ".", ";")):
        return ("place", L.INSTANCE_PLACES[w]), k + 1
    return None


def _distribution_at(low: list[str], i: int, items: list) -> int | None:
    """Attributes given per instance or shared, after a mention; recorded on the mention(s); returns the index
    after the clause, or None. Forms: ": red, green and blue", ", three red and two green", ", one of them yellow
    and the rest blue", ", the left one orange and the right one white", ", one high and one low", ", both pink",
    ", each of them green"."""
    n = len(low)
    last = items[-1] if items else None
    if not isinstance(last, Mention) or last.pronoun or last.negated:
        return None
    j = i
    if j < n and low[j] in (":", ",", ";", "-"):
        j += 1
    elif not (j < n and (low[j] in ("one", "all", "both", "each", "every") or _small_number(low[j]))):
        return None
    parts: list[tuple[tuple[str, object], tuple[str, str], str]] = []
    end = None
    while j < n:
        k, sel = j, None
        k0 = k
        if low[k] == "the":
            k += 1
        if k + 1 < n and low[k] in L.INSTANCE_POSITIONS and low[k + 1] in ("one", "ones"):
            sel, k = ("pos", L.INSTANCE_POSITIONS[low[k]]), k + 2
        elif k < n and low[k] in L.INSTANCE_REST:
            sel, k = ("rest", None), k + 1 + (k + 1 < n and low[k + 1] in ("one", "ones"))
        elif k < n and low[k] in ("all", "each", "both", "every"):
            k += 1
            k += k < n and low[k] in ("one", "single")
            sel = ("all", None)
        elif k < n and _small_number(low[k]) is not None and not (k + 1 < n and _known_noun(low[k + 1])
                                                                  and color_of(low[k + 1]) is None):
            sel, k = ("n", _small_number(low[k])), k + 1
        if k + 1 < n and low[k:k + 2] == ["of", "them"]:
            k += 2
        am = _attr_at(low, k)
        if am is None:
            break
        attr, k = am
        if k < n and low[k] not in L.INSTANCE_REST and _is_noun_token(low[k]) and _known_noun(low[k]):
            return None  # "three houses, two black balloons": a new mention, not a distribution
        parts.append((sel or ("bare", None), attr, " ".join(low[k0:k])))
        end = k
        j = k
        if j < n and low[j] == ",":
            j += 1
        if j < n and low[j] == "and":
            j += 1
        if j == end:
            break
    if not parts or end is None:
        return None
    sels = [p[0][0] for p in parts]
    if last.count < 2 and not all(s == "all" for s in sels):
        return None
    if last.count >= 2 and all(s == "bare" for s in sels) and len(parts) == 1 and low[i] not in (":", ","):
        return None
    if all(s == "all" for s in sels):
        if last.count >= 2 and not any(w in ("both",) for w in low[i:end]):
            targets = [last]
        else:
            k_want = 2 if "both" in low[i:end] else 99
            targets = []
            for it in reversed(items):
                if isinstance(it, Mention) and not it.pronoun and not it.negated:
                    targets.insert(0, it)
                    if sum(t.count for t in targets) >= k_want:
                        break
        for p in parts:
            kind, val = p[1]
            for t in targets:
                if kind == "color":
                    t.color = val
                elif kind == "size":
                    t.size = val
        who = " and ".join(t.noun for t in targets)
        last.notes.append(f"'{' '.join(low[i:end]).strip(', ')}' applies to {who} -> {parts[0][1][1]}")
        return end
    _distribute(last, parts)
    return end


def _distribute(men: Mention, parts: list) -> None:
    """Assign per-instance attributes of a group from its distribution clause, and say how in the trace."""
    cnt = men.count
    colors: list[str | None] = [men.color] * cnt
    places: list[str | None] = [None] * cnt
    sizes: list[str | None] = [men.size] * cnt
    taken: set[int] = set()
    bare = [p for p in parts if p[0][0] == "bare"]
    order = {"left": 0, "first": 0, "top": 0, "second": 1, "third": 2, "fourth": 3, "middle": cnt // 2,
             "right": cnt - 1, "last": cnt - 1, "bottom": cnt - 1, "front": 0, "back": cnt - 1}
    said = []
    for sel, (kind, val), phrase in parts:
        free = [k for k in range(cnt) if k not in taken]
        if sel[0] == "pos":
            k = order.get(sel[1], 0)
            if k in taken and free:
                k = free[0]
            targets = [min(k, cnt - 1)]
            if sel[1] in ("left", "right", "top", "bottom", "middle"):
                places[targets[0]] = sel[1]
        elif sel[0] == "n":
            targets = free[:sel[1]]
        elif sel[0] == "rest":
            targets = free
        elif sel[0] == "all":
            targets = list(range(cnt))
        else:  # bare: one each when they match the count, else all
            targets = free[:1] if len(bare) == cnt or len(bare) > 1 else list(range(cnt))
        for k in targets:
            if kind == "color":
                colors[k] = val  # type: ignore[assignment]
            elif kind == "size":
                sizes[k] = val  # type: ignore[assignment]
            elif kind == "place":
                places[k] = val  # type: ignore[assignment]
        taken.update(targets)
        if targets:
            which = f"the other {_num_word(len(targets))} {men.noun}s" if sel[0] == "rest" else (
                f"{men.noun} {targets[0] + 1}" if len(targets) == 1 else f"{_num_word(len(targets))} {men.noun}s")
            said.append(f"'{phrase}' = {which} -> {val}")
    men.inst_colors, men.inst_places, men.inst_sizes = colors, places, sizes
    if len({c for c in colors}) == 1:
        men.color = colors[0]
    men.notes.append("; ".join(said))


def _num_word(k: int) -> str:
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(k, str(k))


def _not_color_at(low: list[str], i: int) -> tuple[str, int] | None:
    """'that is not red', 'which isn't blue', ', not green' -> (the colour it must not be, index after)."""
    n = len(low)
    k = i
    if k < n and low[k] in ("that", "which", ","):
        k += 1
    if k < n and low[k] in ("is", "are", "that's"):
        k += 1
    if k < n and low[k] in ("not", "isn't", "aren't", "never"):
        k += 1
    else:
        return None
    if k < n and low[k] == "a" or k >= n:
        return None
    if low[k] in L.COLOR_MODIFIERS and k + 1 < n and color_of(low[k + 1]):
        k += 1
    c = color_of(low[k]) if k < n else None
    if c is None or k == i + 1 and low[i] == ",":
        return (c, k + 1) if c else None
    return c, k + 1


def _scene_at(out: Parse, low: list[str], i: int) -> int | None:
    """A scene phrase at token ``i`` (light, style, time of day, background) recorded in ``out``; returns
    the index after it, or None when there is none."""
    m = _match(low, i, L.LIGHT_PHRASES)  # "lit from the left"
    if m:
        out.light = L.LIGHT_PHRASES[m[1]]  # type: ignore[index]
        return i + m[0]
    sm = _style_at(low, i)  # "in watercolor style"
    if sm:
        out.style, j = sm
        said = " ".join(w for w in low[i:j] if w not in ("in", "a", "an", "the", "style", "styled", "-style"))
        if said and said not in STYLES and said != out.style:
            out.notes.append(f"'{said}' is not a world style: nearest is {out.style}")
        return j
    tm = _time_at(low, i)  # "at sunset"
    if tm:
        out.time, j = tm
        return j
    bm = _background_at(low, i)  # "on the grass", "in the sea", "against a white wall", "on a black background"
    if bm:
        kind, colors, j = bm
        if kind:
            out.background = kind
        out.bg_colors += colors
        return j
    return None


_SENTENCE_END = (",", ";", ".", "!", "?")
# participles that go on about the carrier ("... hanging on a wall"): they end an unquoted text
_TEXT_VERB_STOPS = {w for w in L.FILLER_WORDS | S.COMMON_WORDS if w.endswith(("ing", "ed"))} | {
    "hung", "stuck", "set", "placed", "mounted", "taped", "glued", "pinned", "displayed", "draped", "stretched",
    "leaning", "towering", "waving", "nailed", "propped", "posted", "fixed", "attached", "put", "stands", "hangs",
    "sits", "lies", "floats", "flies", "is", "are"} - {"featuring", "showing", "saying", "reading", "spelling"}
_QUOTE_CHARS = "".join(a + b for a, b in _QUOTES if a != "\u2018")  # not the apostrophe-like single quotes


def _unquoted_text(s: str, found: list[re.Match[str]], toks: list[str], low: list[str],
                   j: int) -> tuple[str | None, int]:
    """An unquoted text after its introducer ("a sign that says SALE 50% OFF!"), letter for letter.

    The text runs from just after token ``j - 1`` (the introducer; a leading ':' is skipped) up to the next
    sentence mark (, ; . and a detached ! ?) or stop word ("next", "and", ...; kept when written in capitals,
    and '&' between capitalised words is kept: "ROCK & ROLL"). It is cut from the raw prompt, so what the
    tokenizer does not see stays: symbols (% # $ + @ ...), letters outside ASCII, marks attached to a word
    ("STOP!", "WHAT?"). Returns (text or None, index of the first token after it).
    """
    n = len(toks)
    while j < n and toks[j] == ":":  # "a sign that says: EXIT"
        j += 1
    lo = found[j - 1].end() if j > 0 else 0
    first = found[j].start() if j < n else len(s)
    started = bool(s[lo:first].strip())  # the text opens with a word the tokenizer does not see ("#1", "ÜBER")
    k = j
    while k < n and toks[k] not in _SENTENCE_END and not _is_mark(toks[k]):
        if k > j and toks[k][:1].islower() and toks[k].isalpha() and (
                low[k] in _TEXT_VERB_STOPS or not any(c.islower() for t in toks[j:k] for c in t)):
            break  # "OPEN 24H hanging on a wall": a lowercase word after capitals, or a participle, ends the text
        if (k > j or started) and low[k] in _STOP_TEXT and not toks[k].isupper() and not (
                toks[k] == "&" and k > j and k + 1 < n and _texty(toks[k + 1])
                and (_texty(toks[k - 1]) or toks[k - 1] in _SYMBOL_CONJ)):
            break
        k += 1
    while j < k < n and toks[k] in ("!", "?") and found[k].start() == found[k - 1].end():
        k += 1  # "STOP!", "WHAT?!": marks attached to the last word are part of it
    if k == j and not started:
        return None, k
    hi = found[k].start() if k < n else len(s)
    end = found[k - 1].end() if k > j else first
    while end < hi and not s[end].isspace():
        end += 1  # the rest of the last word: "50%", "C#"
    if k == n or (k < n and toks[k] not in _SENTENCE_END and not _is_mark(toks[k])):
        end = hi  # words the tokenizer does not see, up to the stop word or the end
    text = s[lo:end].strip().strip(_QUOTE_CHARS).strip()
    return (text or None), k


_WRITTEN = r"(?:written|printed|painted|inscribed|spelled out|displayed)"
_TEXTLIKE = r"(" + _MARK_RE + r"|[A-Z0-9][A-Za-z0-9!?&'.-]*(?: [A-Z0-9][A-Za-z0-9!?&'.-]*)*)"


def _rewrite_written_on(s: str) -> str:
    """'BAKERY written on a sign' -> 'a sign that says BAKERY'; 'with JUICE written on it' -> 'that says JUICE'."""
    s = re.sub(rf"\b(?:with|and)\s+(?:the\s+(?:word|words|text)\s+)?({_MARK_RE}|\S+(?: [A-Z0-9]\S*)*)\s+{_WRITTEN}\s+(?:on|across|upon)\s+(?:it|them)\b",
               r" that says \1 ", s)
    m = re.match(rf"^\s*(\S.*?)\s+{_WRITTEN}\s+(?:on|across|upon)\s+(?!it\b|them\b)(.*)$", s)  # all before is text
    if m and not re.search(r"\b(?:says?|reads?|reading|saying|labell?ed|that|which|with)\b", m.group(1)):
        s = f"{m.group(2)} that says {m.group(1)}"
    return s


def _carries_text(m: Mention | None) -> bool:
    if m is None or m.pronoun:
        return False
    cat = category_of(m.noun)
    return bool(cat and CATEGORIES[cat].carries_text) or m.noun.rsplit(" ", 1)[-1] in L.TEXT_CARRIER_NOUNS


def _texty(tok: str) -> bool:
    return _is_mark(tok) or tok[:1].isupper() or tok[:1].isdigit()


def _clause_start(items: list) -> bool:
    for it in reversed(items):
        if it in ("CONJ", "CONJ_WITH"):
            return True
        if isinstance(it, Mention | RelItem):
            return False
    return True


def _style_at(low: list[str], i: int) -> tuple[str, int] | None:
    j = i + 1 if low[i] == "in" else i
    j = j + 1 if j < len(low) and low[j] in ("a", "an", "the") else j
    m = _match(low, j, L.STYLE_PHRASES)
    if not m:
        return None
    end = j + m[0]
    style = L.STYLE_PHRASES[m[1]]  # type: ignore[index]
    styled = end < len(low) and low[end] in ("style", "styled", "-style")
    strong = style in ("watercolor", "pixel art", "oil painting", "3d render", "line art", "minimalist")
    if m[1] == ("photograph",):
        return None
    if styled or (strong and (low[i] in ("in", "a", "an", "the") or j == i)) or (low[i] == "in" and style != "flat"):
        if not styled and j == i and m[1] in (("sketch",), ("cartoon",), ("flat",), ("vintage",)):
            return None
        return style, end + (1 if styled else 0)
    return None


_TIME_STRONG = {"night", "nighttime", "midnight", "sunset", "dusk", "sunrise", "dawn", "twilight", "daytime",
                "evening"}


def _time_at(low: list[str], i: int) -> tuple[str, int] | None:
    from thinkdraw.world.vocab import TIME_WORDS

    t = low[i]
    if t in ("at", "during", "by", "in", "on") and i + 1 < len(low):
        j = i + 1 + (low[i + 1] in ("the", "a"))
        if j < len(low) and low[j] in TIME_WORDS and low[j] not in ("dark", "sunny", "starry"):
            return TIME_WORDS[low[j]], j + 1
        if low[j:j + 2] in (["sunny", "day"], ["starry", "night"], ["sunny", "afternoon"], ["sunny", "morning"]):
            return TIME_WORDS[low[j + 1]] if low[j] == "sunny" else "night", j + 2
        if low[i:i + 3] == ["at", "golden", "hour"]:
            return "sunset", i + 3
    if t in _TIME_STRONG:
        return TIME_WORDS[t], i + 1
    if t in ("starry", "sunny") and i + 1 < len(low) and low[i + 1] in ("night", "sky", "day"):
        return ("night" if t == "starry" else "day"), i + 2
    return None


def _background_at(low: list[str], i: int) -> tuple[str | None, list[str], int] | None:
    t = low[i]
    if t == "underwater":
        return "sea", [], i + 1
    if t in ("indoors", "inside") and (i + 1 >= len(low) or low[i + 1] in (",", ".", "and", ";", ":")):
        return "wall", [], i + 1
    j = i
    if t in _PREPOSITIONS:
        j += 1
    elif t not in ("a", "an", "the") and t not in _BG_HEADS and color_of(t) is None:
        return None
    start = j
    while j < len(low) and low[j] in ("a", "an", "the", "some", "plain", "blank", "clear", "blue-ish", "open",
                                       "calm", "green", "blue", "bright", "cloudy", "wide", "solid"):
        j += 1
    colors: list[str] = []
    while j < len(low) and color_of(low[j]) and j + 1 < len(low) and (low[j + 1] in _BG_HEADS or color_of(low[j + 1])):
        colors.append(color_of(low[j]))  # type: ignore[arg-type]
        j += 1
    if j >= len(low):
        return None
    w = low[j]
    if w in ("background", "backdrop"):
        if t not in _PREPOSITIONS and j == start and not colors:
            return None
        return "plain" if colors else None, colors, j + 1
    if w in _BG_HEADS and (t in _PREPOSITIONS or j > i):
        if t not in _PREPOSITIONS and j + 1 < len(low) and low[j + 1] not in (",", ".", "and", ";"):
            return None
        if j + 1 < len(low) and low[j + 1] not in _BG_HEADS and category_of(singularize(low[j + 1])):
            return None  # "on the kitchen table": a thing named with a place word, not the setting
        kind = BACKGROUND_WORDS[w]
        plain_colors = [c for c in low[start:j] if color_of(c)]
        if w == "sky" and plain_colors:
            return kind, [], j + 1
        return kind, colors, j + 1 + (low[j + 1:j + 2] == ["background"])
    if w == "table" and t in ("on", "at") and (j + 1 >= len(low) or low[j + 1] in (",", ".", "and", ";")):
        return None  # a table is a thing in this world: keep it as an entity
    return None


def _absolute_at(low: list[str], i: int) -> tuple[str, int] | None:
    if low[i] not in ("on", "at", "in", "to"):
        return None
    j = i + 1 + (i + 1 < len(low) and low[i + 1] == "the")
    if j >= len(low):
        return None
    w = low[j]
    words = {"left": "left", "right": "right", "top": "top", "bottom": "bottom", "center": "center",
             "centre": "center", "middle": "center"}
    if w not in words:
        return None
    k = j + 1
    if w in ("top", "bottom") and k < len(low) and low[k] in ("left", "right"):
        w = low[k]  # "the top left corner": the horizontal side is what the layout can honour
        k += 1
    if k < len(low) and low[k] in ("side", "corner", "edge", "half", "part"):
        k += 1
    if k < len(low) and low[k] == "of":
        k2 = k + 1 + (k + 1 < len(low) and low[k + 1] in ("the", "this", "an", "a"))
        if k2 < len(low) and low[k2] in ("picture", "image", "scene", "canvas", "frame", "photo", "drawing",
                                         "composition", "page", "screen", "view"):
            return words[w], k2 + 1
        return None  # a relation ("on the left of the cat")
    if k < len(low) and low[k] in ("-hand", "hand"):
        return None
    return words[w], k


def _post_color_at(low: list[str], i: int) -> tuple[str, int] | None:
    seqs = [("that", "is"), ("which", "is"), ("that", "are"), ("which", "are"), ("colored",), ("coloured",),
            ("painted",), ("in",), ("is",), ("are",), ("all",), ("colored", "in"), ("painted", "in")]
    for sq in sorted(seqs, key=len, reverse=True):
        k = i + len(sq)
        if tuple(low[i:k]) == sq and k < len(low):
            if low[k] in L.COLOR_MODIFIERS and k + 1 < len(low) and color_of(low[k + 1]):
                k += 1
            c = color_of(low[k])
            nxt = low[k + 1] if k + 1 < len(low) else ""
            if c and not _is_noun_token(nxt) and nxt not in ("background", "backdrop") and nxt not in _BG_HEADS:
                return c, k + 1 + (nxt in ("color", "colour", "colored"))
    return None


def _multiword_at(low: list[str], j: int) -> bool:
    for k in (3, 2):
        if j + k <= len(low):
            words = low[j:j + k]
            if " ".join(words) in L.MULTIWORD_NOUNS or " ".join(words[:-1] + [singularize(words[-1])]) in L.MULTIWORD_NOUNS:
                return True
    return False


def _mention_at(toks: list[str], low: list[str], i: int) -> tuple[Mention, int] | None:
    n = len(low)
    j = i
    count, vague, exact, explicit, definite = 1, None, False, False, False
    while j < n and low[j] in L.EXACT_WORDS:
        exact = True
        j += 1
    m = _match(low, j, L.QUANTITY_PHRASES)
    if m:
        count, explicit = L.QUANTITY_PHRASES[m[1]], True  # type: ignore[index]
        vague = L.VAGUE_QUANTITIES.get(m[1])  # type: ignore[arg-type]
        j += m[0]
        explicit = vague is None
        count, j = _number_tail(low, j, count)
    elif j < n and _compound_number(low[j]) is not None:
        count, explicit = _compound_number(low[j]), True  # type: ignore[assignment]
        count, j = _number_tail(low, j + 1, count)  # type: ignore[arg-type]
    elif j < n and (low[j].isdigit() or (low[j] in L.NUMBER_WORDS and low[j] not in ("a", "an", "some"))):
        if low[j].isdigit():
            count = int(low[j]) if len(low[j]) < 12 else 10 ** 12
        else:
            count = L.NUMBER_WORDS[low[j]]
            vague = low[j] if low[j] in L.VAGUE_COUNTS else None
        explicit = vague is None
        j += 1
        if explicit:
            count, j = _number_tail(low, j, count)
        if j < n and low[j] == "of":  # "two of the apples"
            j += 1
    elif j < n and low[j] in ("a", "an", "one"):
        j += 1
    elif j < n and low[j] in ("the", "this", "that", "these", "those", "its", "their"):
        definite = True
        j += 1
    elif j < n and low[j] == "some":
        vague = "some"
        count = 3
        j += 1
    while j < n and low[j] in L.EXACT_WORDS | {"single", "lone", "more"} and low[j] not in ("only",):
        exact = exact or low[j] in L.EXACT_WORDS
        j += 1
    color = size = material = None
    color_notes: list[str] = []
    while j < n:
        w = low[j]
        if _multiword_at(low, j):
            break
        if w in L.COLOR_MODIFIERS and j + 1 < n and color_of(low[j + 1]):
            j += 1
            continue
        c = color_of(w)
        # "orange" at the head of the phrase is the fruit
        if c and not (w == "orange" and (j + 1 >= n or _is_function(low[j + 1]))):
            if color is None:
                near = S.nearest_color(w if w not in L.COLOR_MODIFIERS or c is None else w)
                if near is None and "-" in w:
                    near = next((S.nearest_color(p) for p in w.split("-") if S.nearest_color(p)), None)
                if near:
                    color_notes.append(near[1])
            color = color or c
            j += 1
            if j < n and low[j] in ("-", "colored", "coloured", "and") and j + 1 < n and color_of(low[j + 1]):
                j += 1
            continue
        if w in SIZES or w in SIZE_SYNONYMS:
            size = SIZE_SYNONYMS.get(w, w)
            j += 1
            continue
        if w in L.MATERIALS and j + 1 < n and _is_noun_token(low[j + 1]):
            material = w
            j += 1
            continue
        if w in L.ADJECTIVES and j + 1 < n and (_is_noun_token(low[j + 1]) or color_of(low[j + 1])) \
                and not _known_noun(w):
            j += 1
            continue
        if w in L.ADJECTIVES and j + 1 < n and color_of(low[j + 1]):
            j += 1
            continue
        break
    if j >= n:
        return None
    # the noun: multi-word first, then a compound of known nouns, then any content word
    noun = None
    for k in (3, 2):
        if j + k <= n:
            phrase = " ".join(low[j:j + k])
            sing = " ".join(low[j:j + k - 1] + [singularize(low[j + k - 1])])
            if phrase in L.MULTIWORD_NOUNS or sing in L.MULTIWORD_NOUNS:
                noun, plural, j = sing, phrase != sing, j + k
                break
    if noun is None:
        w = low[j]
        if not (_is_noun_token(w) or ((w in L.MATERIALS or color_of(w)) and _known_noun(w))):
            return None
        if j == i and w.endswith(("ing", "ed", "ly")) and not _known_noun(w):
            return None  # a bare verb or adverb ("sailing", "parked"), not a thing
        # skip adjective-like unknown words before a real noun ("a fluffy cat")
        while j + 1 < n and _adjective_like(w) and _is_noun_token(low[j + 1]) and not _known_noun(w):
            j += 1
            w = low[j]
        parts = [w]
        j += 1
        while j < n and _is_noun_token(low[j]) and _known_noun(low[j]) and (
                _known_noun(parts[-1]) or not _adjective_like(parts[-1])) and len(parts) < 3:
            parts.append(low[j])
            j += 1
        plural = is_plural(parts[-1])
        noun = " ".join(parts[:-1] + [singularize(parts[-1])])
        # "a glass of water": the container is the thing
        if j + 1 < n and low[j] == "of" and _is_noun_token(low[j + 1]):
            j += 2
    men = Mention(noun=noun, count=count, vague=vague, exact=exact, color=color, size=size, material=material,
                  definite=definite, explicit_count=explicit, notes=color_notes)
    if not explicit and plural and not definite and count == 1 and low[i] not in ("a", "an", "one"):
        men.count, men.vague = 3, men.vague or "plural"
    if definite and plural:
        men.count = 3 if not explicit else men.count
    return men, j


def _compound_number(w: str) -> int | None:
    """'twenty-five' -> 25, 'sixty-six' -> 66 (hyphenated tens and units)."""
    if "-" not in w:
        return None
    a, _, b = w.partition("-")
    if a in L.TENS and b in L.NUMBER_WORDS and 1 <= L.NUMBER_WORDS[b] <= 9:
        return L.NUMBER_WORDS[a] + L.NUMBER_WORDS[b]
    return None


def _number_tail(low: list[str], j: int, count: int) -> tuple[int, int]:
    """The rest of a spelled number after its first word: 'twenty five', 'two dozen', 'three hundred'."""
    n = len(low)
    if j < n and count in (20, 30, 40, 50, 60, 70, 80, 90) and low[j] in L.NUMBER_WORDS \
            and 1 <= L.NUMBER_WORDS[low[j]] <= 9 and low[j] not in ("a", "an", "both", "some", "few"):
        count, j = count + L.NUMBER_WORDS[low[j]], j + 1
    while j < n and low[j] in L.BIG_NUMBERS:
        count, j = count * L.BIG_NUMBERS[low[j]], j + 1
    return min(count, 10 ** 12), j


# ------------------------------------------------------------------------------------------------
# building the plan
# ------------------------------------------------------------------------------------------------
_DARK = {"black", "blue", "purple", "brown", "green", "red", "gray"}


def _slug(noun: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", noun.lower()).strip("_") or "thing"


class RulesPlanner:
    """Planner protocol: ``plan(prompt, seed) -> (Reasoning, ScenePlan)``."""

    name = "rules"

    def __init__(self, canvas: Canvas | None = None) -> None:
        self.canvas = canvas or Canvas()

    def plan(self, prompt: str, seed: int = 0) -> tuple[Reasoning, ScenePlan]:
        return plan_prompt(prompt, seed=seed, canvas=self.canvas)


def plan_prompt(prompt: str, seed: int = 0, canvas: Canvas | None = None) -> tuple[Reasoning, ScenePlan]:
    if prompt is None or not prompt.strip():
        raise PlanningError("empty prompt: say what to draw, e.g. 'a red apple left of a blue cup'")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PlanningError(f"prompt too long: {len(prompt)} characters, the limit is {MAX_PROMPT_CHARS}")
    prompt = " ".join(prompt.split())
    ps = parse(prompt)
    rs = Reasoning()
    plan = ScenePlan(prompt=prompt, canvas=canvas or Canvas())

    _refuse_unreadable(prompt, ps)
    positive, negatives, cap_notes = _count_mentions(ps, plan)
    if not positive and not ps.free_texts:
        if negatives:
            raise PlanningError(f"nothing to draw: the prompt only says what must not appear ({', '.join(negatives)})")
        raise PlanningError(f"nothing to draw in {_short(prompt, 80)!r}: no object was recognised")
    relations = _mention_relations(ps.items) + _absolute_relations(positive)
    _add_entities(plan, positive)
    relations += _arrangement_relations(plan, ps) + _instance_relations(positive)
    plan.relations = _shared_supports(plan, _dedupe(relations))
    if ps.unknown:
        shown = ", ".join(f"'{w}'" for w in ps.unknown[:8]) + (" ..." if len(ps.unknown) > 8 else "")
        plan.warnings.append(f"did not understand {shown}: not a word the planner knows; nothing was planned for it")
    plan.negatives = negatives
    for neg in negatives:
        if any(e.noun == neg for e in plan.entities):
            plan.warnings.append(f"'{neg}' is both asked for and excluded; the excluded mention was dropped")
            plan.negatives.remove(neg)
    cap_notes += _add_texts(plan, positive, ps.free_texts)

    bg, bg_reason, time, time_reason = _choose_scene(plan, ps)
    rs.add("parse", _parse_text(positive, negatives, ps) + "".join(f" {n}" for n in cap_notes)
           + _reading_text(positive, ps, plan))
    rs.add("constraints", _constraints_text(positive, plan))
    rs.add("plan", f"Background: {bg} ({bg_reason}); time of day: {time} ({time_reason}); style: {plan.style}. "
                   + _category_text(plan))

    res = solve_layout(plan, seed=seed)
    plan = res.plan
    light_reason = _choose_lighting(plan, ps, time)
    rs.add("layout", _layout_text(plan, res.unsatisfied, res.notes))
    if plan.texts:
        rs.add("text", _text_text(plan))
    rs.add("physics", _physics_text(plan, light_reason))
    return rs, plan


def _refuse_unreadable(prompt: str, ps: Parse) -> None:
    """A prompt whose words are mostly unknown (another language, gibberish) is refused with a clear error
    rather than planned as placeholders."""
    if len(ps.unknown) >= 2 and len(ps.unknown) * 2 > ps.n_words:
        shown = ", ".join(f"'{w}'" for w in ps.unknown[:6])
        raise PlanningError(f"cannot read {_short(prompt, 60)!r}: most of its words are not words the planner knows "
                            f"({shown}); write in English with things the world has, e.g. 'three red apples "
                            "next to a blue cup'")


def _count_mentions(ps: Parse, plan: ScenePlan) -> tuple[list[Mention], list[str], list[str]]:
    """Mentions -> (things to draw, nouns that must not appear, cap notes for the trace).

    A definite mention of something already named is the same thing (coreference); each drawn mention gets
    its entity ids (and a group name when counted). Counts above MAX_COUNT are capped, and the plan holds
    at most MAX_ENTITIES entities: what is named beyond that is dropped, said in a warning and in the trace.
    """
    positive: list[Mention] = []
    negatives: list[str] = []
    excluded: set[str] = set()
    first: dict[str, Mention] = {}  # noun -> its first drawn mention
    counters: dict[str, int] = {}
    groups: set[str] = set()
    total = 0
    cut: dict[str, int] = {}  # noun -> how many were dropped
    for men in ps.items:
        if not isinstance(men, Mention) or men.pronoun:
            continue
        if men.negated or men.count == 0:
            if men.noun not in excluded:
                excluded.add(men.noun)
                negatives.append(men.noun)
            continue
        prior = first.get(men.noun)
        if men.definite and prior is not None and not men.explicit_count:
            men.ref = prior
            continue
        if men.count > MAX_COUNT:
            plan.warnings.append(f"count {men.count} for '{men.noun}' capped at {MAX_COUNT}")
            men.notes.append(f"{men.count} {men.noun}s is more than the world draws in one group: capped at {MAX_COUNT}")
            men.count = MAX_COUNT
            for lst in (men.inst_colors, men.inst_places, men.inst_sizes):
                if lst is not None:
                    del lst[MAX_COUNT:]
        room = MAX_ENTITIES - total
        if men.count > room:
            cut[men.noun] = cut.get(men.noun, 0) + men.count - max(room, 0)
            if room <= 0:
                men.dropped = True
                continue
            men.count = room
        total += men.count
        slug = _slug(men.noun)
        for _ in range(men.count):
            counters[slug] = counters.get(slug, 0) + 1
            men.ids.append(f"{slug}_{counters[slug]}")
        if men.count > 1:
            g = slug if slug not in groups else f"{slug}_g{len(groups) + 1}"
            groups.add(g)
            men.group = g
        positive.append(men)
        first.setdefault(men.noun, men)
    notes: list[str] = []
    if cut:
        named = [f"{noun}: {k}" for noun, k in cut.items()]
        shown = f"{sum(cut.values())} more (" + ", ".join(named[:5]) + (", ..." if len(named) > 5 else "") + ")"
        plan.warnings.append(f"entity cap: a plan holds at most {MAX_ENTITIES} things; dropped {shown}")
        notes.append(f"Entity cap: only the first {MAX_ENTITIES} things are planned; dropped {shown}.")
    return positive, negatives, notes


def _mention_relations(items: list) -> list[Relation]:
    """Relation phrases between the mentions around them, in prompt order.

    The subject is the run of mentions since the last relation (or the last subject again: "a book on a
    table, next to a mug"); the object is the next mention ("between" takes two, or one counted group);
    "to the left of B is A" is inverted; "with" starts a new subject; "it" / "them" resolve to the last
    earlier mention outside the current run.
    """
    relations: list[Relation] = []
    run: list[Mention] = []
    last_subject: list[Mention] = []
    history: list[Mention] = []
    k = 0

    def resolve_pronoun(m: Mention) -> Mention | None:
        if not m.pronoun:
            r = m.ref or m
            return r if r.ids else None  # no ids: not planned (counted zero, or dropped at the entity cap)
        return next((h for h in reversed(history) if all(h is not r for r in run)), None)

    while k < len(items):
        it = items[k]
        if isinstance(it, Mention):
            if it.dropped:
                last_subject = []  # a dropped thing is no subject for the relation after it
            elif not it.negated and it.count > 0 and not it.pronoun:
                run.append(it.ref or it)
                history.append(it.ref or it)
            k += 1
            continue
        if it == "CONJ_WITH":  # "a table with three cups on it": a new subject starts
            run = []
            k += 1
            continue
        if it == "CONJ":
            k += 1
            continue
        if isinstance(it, OrderItem):  # "from left to right: a, b, c": each next one is <pred> the one before
            seq: list[Mention] = []
            q = k + 1
            while q < len(items) and (items[q] in ("CONJ", "CONJ_WITH") or isinstance(items[q], Mention)):
                x = items[q]
                if isinstance(x, Mention) and not x.negated and not x.pronoun and (x.ref or x).ids:
                    seq.append(x.ref or x)
                q += 1
            relations += [Relation(subject=b.name, predicate=it.pred, object=a.name)  # type: ignore[arg-type]
                          for a, b in zip(seq, seq[1:], strict=False)]
            history += seq
            run, last_subject = [], seq[-1:]
            k = q
            continue
        # a relation: the object(s) follow
        if it.relative and not run:  # "a mug next to a book that is on a table": the book
            prev = next((x for x in reversed(items[:k]) if isinstance(x, Mention)), None)
            prev = resolve_pronoun(prev) if prev is not None and not prev.negated else None
            run = [prev] if prev is not None else run
        cands = list(islice((x for x in items[k + 1:] if isinstance(x, Mention) and not x.negated), 2))
        objs = [o for o in map(resolve_pronoun, cands) if o is not None]
        if it.pred == "between" and cands and cands[0].pronoun:  # "two houses and a tree between them"
            grp = next((h for h in reversed(history) if len(h.ids) >= 2), None)
            if grp is not None:
                objs = [grp]
                run = [m for m in run if m is not grp] or [h for h in history if h is not grp][-1:]
        nxt = [x for x in items[k + 1:k + 6] if isinstance(x, Mention)]
        if not objs or not nxt or (not cands[0].pronoun and resolve_pronoun(cands[0]) is None):
            k += 1
            continue
        pred = it.pred
        if it.inverted and len(objs) >= 2 and pred != "between":
            subj, obj = [objs[1]], objs[0]  # "to the left of B is A"
            skip_to = items.index(nxt[1], k + 1) + 1 if len(nxt) > 1 else k + 1
        elif pred == "between":
            run = run or last_subject
            if objs and len(objs[0].ids) >= 2:  # "between two cups"
                pair, used = (objs[0].ids[0], objs[0].ids[1]), 1
            elif len(objs) >= 2:
                pair, used = (objs[0].name, objs[1].name), 2
            else:
                k += 1
                continue
            if not run:
                k += 1
                continue
            relations += [Relation(subject=s.name, predicate="between", object=pair[0], object2=pair[1])
                          for s in run if s not in objs[:used]]
            last_subject, run = run, []
            k = items.index(nxt[used - 1], k + 1) + 1 if len(nxt) >= used else k + 1
            continue
        else:
            if not run:
                run = last_subject  # "a book on a table, next to a mug": the same subject again
            if not run:
                k += 1
                continue
            subj, obj = run, objs[0]
            skip_to = items.index(nxt[0], k + 1) + 1
        for s in subj:
            if s is not obj:
                relations.append(Relation(subject=s.name, predicate=pred, object=obj.name))
        last_subject, run = subj, []
        k = skip_to
        # a chain: "a star above a heart above a circle" -- the object is the subject of the same relation next
        if k < len(items) and isinstance(items[k], RelItem) and not items[k].inverted and (
                items[k].pred == pred or {items[k].pred, pred} <= {"above", "below"}
                or {items[k].pred, pred} <= {"left_of", "right_of"}):
            run = [obj]
    return relations


def _absolute_relations(positive: list[Mention]) -> list[Relation]:
    """Absolute positions ("on the left", "at the top") as relations between mentions on opposite sides."""
    relations: list[Relation] = []
    lefts = [m for m in positive if m.position == "left"]
    rights = [m for m in positive if m.position == "right"]
    tops = [m for m in positive if m.position == "top"]
    bottoms = [m for m in positive if m.position == "bottom"]
    for a in lefts:
        for b in positive:
            if b is not a and b.position in ("right", "center"):
                relations.append(Relation(subject=a.name, predicate="left_of", object=b.name))
    for a in rights:
        for b in positive:
            if b is not a and b.position == "center":
                relations.append(Relation(subject=a.name, predicate="right_of", object=b.name))
    for a in tops:
        for b in bottoms:
            relations.append(Relation(subject=a.name, predicate="above", object=b.name))
    return relations


def _add_entities(plan: ScenePlan, positive: list[Mention]) -> None:
    """One Entity per id, with world knowledge: the category, and its usual colour when none is named."""
    for men in positive:
        cat = category_of(men.noun)
        color = men.color
        defaulted = False
        if color is None and cat and CATEGORIES[cat].default_color and CATEGORIES[cat].kind == "thing":
            color, defaulted = CATEGORIES[cat].default_color, True
        if men.not_color and color in (men.not_color, None):
            color, defaulted = _other_color(cat, men.not_color), False
            men.notes.append(f"'not {men.not_color}': {men.noun} drawn {color} instead")
        for k, eid in enumerate(men.ids):
            c = men.inst_colors[k] if men.inst_colors and k < len(men.inst_colors) and men.inst_colors[k] else color
            sz = men.inst_sizes[k] if men.inst_sizes and k < len(men.inst_sizes) and men.inst_sizes[k] else men.size
            attrs = Attributes(color=c, size=sz, material=men.material, default_color=defaulted and c == color,
                               position=men.position)
            plan.entities.append(Entity(id=eid, noun=men.noun, category=cat, group=men.group, attributes=attrs))
        if cat is None:
            plan.warnings.append(f"'{men.noun}' is not in the built-in world: it is planned, but the built-in "
                                 "renderer cannot draw it (it is drawn as a labelled placeholder: a dashed outline with its noun)")


def _other_color(cat: str | None, not_color: str) -> str:
    """A colour for a thing that must not be ``not_color``: its next natural colour, else the first other one."""
    natural = CATEGORIES[cat].natural_colors if cat else ()
    default = CATEGORIES[cat].default_color if cat else None
    for c in ((default,) if default else ()) + tuple(natural) + COLOR_NAMES:
        if c and c != not_color:
            return c
    return "gray"


def _arrangement_relations(plan: ScenePlan, ps: Parse) -> list[Relation]:
    """Arrangements shape the layout: a group's entities get ``attributes.arrangement``; a stack is a chain of
    'on', a column of 'above', a row of several mentions a chain of 'left of'."""
    rels: list[Relation] = []
    ents = {e.id: e for e in plan.entities}
    for kind, mentions, _phrase in ps.arrangements:
        ids = [i for m in mentions for i in (m.ref or m).ids if i in ents]
        if len(ids) < 2:
            continue
        if kind == "stack":
            rels += [Relation(subject=b, predicate="on", object=a) for a, b in zip(ids, ids[1:], strict=False)]
        elif kind == "column":
            rels += [Relation(subject=a, predicate="above", object=b) for a, b in zip(ids, ids[1:], strict=False)]
        elif kind == "row" and len(mentions) > 1:
            rels += [Relation(subject=a, predicate="left_of", object=b) for a, b in zip(ids, ids[1:], strict=False)]
        for i in ids:
            ents[i].attributes.arrangement = kind  # type: ignore[assignment]
    return rels


def _instance_relations(positive: list[Mention]) -> list[Relation]:
    """Per-instance places ("the left one", "one high and one low") as relations between a group's entities."""
    rels: list[Relation] = []
    pred = {"left": "left_of", "right": "right_of", "top": "above", "bottom": "below"}
    for men in positive:
        if not men.inst_places:
            continue
        placed = [(k, p) for k, p in enumerate(men.inst_places[:len(men.ids)]) if p in pred]
        for k, p in placed:
            for o in range(len(men.ids)):
                if o != k and men.inst_places[o] != p:
                    rels.append(Relation(subject=men.ids[k], predicate=pred[p], object=men.ids[o]))  # type: ignore[arg-type]
        if any(p == "middle" for p in men.inst_places) and len(men.ids) >= 3:
            k = men.inst_places.index("middle")
            others = [men.ids[o] for o in range(len(men.ids)) if o != k]
            rels.append(Relation(subject=men.ids[k], predicate="between", object=others[0], object2=others[-1]))
    return rels


_SIDE = ("next_to", "near", "left_of", "right_of")


def _shared_supports(plan: ScenePlan, rels: list[Relation]) -> list[Relation]:
    """A small thing beside something that stands on another thing shares its support: 'a book beside the cup'
    when the cup is on a table puts the book on the table too."""
    ents = {e.id: e for e in plan.entities}
    groups: dict[str, list[str]] = defaultdict(list)
    for e in plan.entities:
        if e.group:
            groups[e.group].append(e.id)
    on = {r.subject: r.object for r in rels if r.predicate == "on"}
    out = list(rels)
    for r in rels:
        if r.predicate not in _SIDE or r.subject in on:
            continue
        sup = on.get(r.object)
        if sup is None or sup == r.subject or r.subject not in ents and r.subject not in groups:
            continue
        subj = ents.get(r.subject) or ents[groups[r.subject][0]]
        if subj.category and CATEGORIES[subj.category].habitat == "table" and (
                ents.get(sup) is None or ents[sup].category in ("table", "book", "car")):
            out.append(Relation(subject=r.subject, predicate="on", object=sup))
            on[r.subject] = sup
    return out


def _add_texts(plan: ScenePlan, positive: list[Mention], free_texts: list[str]) -> list[str]:
    """Text blocks, letter for letter: one per string and carrier, then free captions (at most MAX_TEXT_BLOCKS).

    Returns notes for the trace. A character the bundled font cannot draw is kept and named in a warning.
    """
    wanted: list[tuple[str, str | None]] = [(txt, eid) for men in positive for txt in men.texts for eid in men.ids]
    wanted += [(txt, None) for txt in free_texts]
    color = {e.id: e.attributes.color for e in plan.entities}
    for tid, (txt, eid) in enumerate(wanted[:MAX_TEXT_BLOCKS], start=1):
        if eid is None:
            plan.texts.append(TextBlock(id=f"text_{tid}", content=txt, on=None))
        else:
            dark = (color[eid] or "white") in _DARK
            plan.texts.append(TextBlock(id=f"text_{tid}", content=txt, on=eid, color="white" if dark else "black"))
    for txt in dict.fromkeys(t.content for t in plan.texts):
        missing = missing_glyphs(txt)
        if missing:
            shown = " ".join(f"U+{ord(c):04X}" + (f" {c!r}" if c.isprintable() else "") for c in missing[:8])
            more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            plan.warnings.append(f"text {_short(txt)!r}: the bundled font has no glyph for {shown}{more}; "
                                 "the text is kept as written, but those characters will render as boxes")
    if len(wanted) > MAX_TEXT_BLOCKS:
        extra = len(wanted) - MAX_TEXT_BLOCKS
        plan.warnings.append(f"text cap: a plan holds at most {MAX_TEXT_BLOCKS} text blocks; dropped {extra}")
        return [f"Text cap: only the first {MAX_TEXT_BLOCKS} text blocks are planned; {extra} dropped."]
    return []


def _short(txt: str, n: int = 40) -> str:
    return txt if len(txt) <= n else txt[:n - 3] + "..."


def _choose_scene(plan: ScenePlan, ps: Parse) -> tuple[str, str, str, str]:
    """Background, time of day, style and palette from the prompt or world knowledge; returns the reasons too."""
    cats = [e.category for e in plan.entities]
    habs = [habitat(e) for e in plan.entities]
    bg_reason = "named in the prompt"
    if ps.background:
        bg = ps.background
    elif "water" in habs or "surface" in habs:
        bg, bg_reason = "sea", "fish and boats need water"
    elif "table" in cats and not any(h in ("sky", "water", "surface") for h in habs):
        bg, bg_reason = "wall", "a table stands indoors"
    elif any(h == "ground" for h in habs) and any(c is not None for c in cats):
        bg, bg_reason = "grass", "grounded things need ground to stand on"
    elif habs and all(h in ("sky", "free") for h in habs) and "sky" in habs:
        bg, bg_reason = "sky", "everything here lives in the sky"
    elif "sky" in habs and any(h == "table" for h in habs):
        # a cloud, the sun or the moon needs a sky, and a cup under it stands outdoors on the ground: on a plain
        # background a white cloud vanishes (seed-41 eval: 3 of the 4 failed position prompts of the sketch)
        bg, bg_reason = "grass", "a sky thing needs a sky; the rest stands on the ground below it"
    elif habs and all(h == "table" for h in habs) and all(c is not None for c in cats):
        bg, bg_reason = "table", "small objects rest on a table top"
    elif any(c == "table" for c in cats):
        bg, bg_reason = "wall", "a table stands indoors"
    else:
        bg, bg_reason = "plain", "abstract shapes or objects outside the world: a plain background"
    named_plain = any(k in (plan.prompt or "").lower() for k, v in BACKGROUND_WORDS.items() if v == "plain")
    white = [h for e, h in zip(plan.entities, habs, strict=True)
             if (e.attributes.color or (CATEGORIES[e.category].default_color if e.category in CATEGORIES else None))
             == "white"]
    if bg == "plain" and not ps.background and not ps.bg_colors and not named_plain and white:
        # a white thing vanishes on the near-white plain background (seed-43 eval: white stars, a white dot and
        # white cups that the sketch itself drew invisibly)
        if all(h == "table" for h in white):
            bg, bg_reason = "table", "white things would vanish on a plain background; small objects rest on a table top"
        elif any(h in ("table", "ground") for h in habs):
            bg, bg_reason = "grass", "white things would vanish on a plain background: outdoors, against the sky"
        else:
            bg, bg_reason = "sky", "white things would vanish on a plain background, so they are drawn against the sky"
    time = ps.time or ("night" if "moon" in cats and "sun" not in cats else "day")
    time_reason = "named in the prompt" if ps.time else ("the moon is out, so it is night" if time == "night" else "default")
    plan.background = Background(kind=bg, time=time, colors=ps.bg_colors)  # type: ignore[arg-type]
    plan.style = ps.style or "flat"
    plan.palette = sorted({e.attributes.color for e in plan.entities if e.attributes.color})
    return bg, bg_reason, time, time_reason


def _choose_lighting(plan: ScenePlan, ps: Parse, time: str) -> str:
    """Light direction: named in the prompt, else from the sun's side, else from above at night; returns why."""
    sun = next((e for e in plan.entities if e.category == "sun"), None)
    if ps.light:
        plan.lighting = Lighting(direction=ps.light)  # type: ignore[arg-type]
        return "named in the prompt"
    if sun is not None and sun.box is not None:
        cx = (sun.box[0] + sun.box[2]) / 2
        d = "left" if cx < 0.4 else "right" if cx > 0.6 else "top"
        plan.lighting = Lighting(direction=d)  # type: ignore[arg-type]
        return f"the sun is at the {d}, so light comes from there"
    if time == "night":
        plan.lighting = Lighting(direction="top")
        return "night: soft light from above"
    return "default"


def _dedupe(rels: list[Relation]) -> list[Relation]:
    seen, out = set(), []
    for r in rels:
        key = (r.subject, r.predicate, r.object, r.object2)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


# ------------------------------------------------------------------------------------------------
# glyph coverage of the bundled font
# ------------------------------------------------------------------------------------------------
_PROBE_PX = 24
_NOT_A_CHAR = "\U0010ffff"  # a noncharacter: no font has a glyph for it, so it draws the .notdef box


def _ink(ch: str) -> tuple[tuple[int, int, int, int], bytes]:
    font = load_font(_PROBE_PX)
    return font.getbbox(ch), bytes(font.getmask(ch))


@lru_cache(maxsize=4096)
def has_glyph(ch: str) -> bool:
    """Whether the bundled font (DejaVu Sans Bold) draws ``ch`` as itself rather than as the .notdef box."""
    if ch == " ":
        return True
    return _ink(ch) != _ink(_NOT_A_CHAR)


def missing_glyphs(text: str) -> list[str]:
    """The distinct characters of ``text`` that the bundled font cannot draw, in order of first use."""
    return [c for c in dict.fromkeys(text) if not has_glyph(c)]


# ------------------------------------------------------------------------------------------------
# reasoning text
# ------------------------------------------------------------------------------------------------
def _describe(m: Mention) -> str:
    words = [str(m.count)]
    if m.size:
        words.append(m.size)
    if m.color:
        words.append(m.color)
    if m.material:
        words.append(m.material)
    words.append(m.noun)
    s = " ".join(words)
    if m.inst_colors and len(set(m.inst_colors[:m.count])) > 1:
        tally: dict[str | None, int] = {}
        for c in m.inst_colors[:m.count]:
            tally[c] = tally.get(c, 0) + 1
        s += " (" + ", ".join(f"{k} {c or 'default colour'}" for c, k in tally.items()) + ")"
    if m.vague:
        s += f" ('{m.vague}' read as {m.count})"
    return s


def _parse_text(pos: list[Mention], neg: list[str], ps: Parse) -> str:
    parts = [f"I read {len(pos)} thing(s) to draw: " + "; ".join(_describe(m) for m in pos) + "."]
    if neg:
        parts.append("Must not appear: " + ", ".join(neg) + ".")
    texts = [t for m in pos for t in m.texts] + ps.free_texts
    if texts:
        parts.append("Exact text: " + ", ".join(repr(t) for t in texts) + ".")
    rels = [it for it in ps.items if isinstance(it, RelItem)]
    if rels:
        parts.append("Spatial words: " + ", ".join(f"'{r.phrase}' -> {r.pred}" for r in rels) + ".")
    return " ".join(parts)


def _reading_text(pos: list[Mention], ps: Parse, plan: ScenePlan) -> str:
    """What was read and decided per phenomenon: corrections, colour mappings, per-instance attributes,
    arrangements, settings, caps, and the words not understood."""
    parts: list[str] = []
    for _, typed, fixed in ps.corrections:
        parts.append(f"read '{typed}' as '{fixed}'")
    for m in pos:
        parts += [n for n in m.notes if n]
    for kind, mentions, phrase in ps.arrangements:
        names = " and ".join(m.noun for m in mentions)
        parts.append(f"'{phrase}' is an arrangement of the {names}, not a thing: laid out as a {kind}")
    parts += ps.notes
    if ps.unknown:
        parts.append("not understood (nothing planned for them): " + ", ".join(f"'{w}'" for w in ps.unknown[:12]))
    return (" Reading: " + "; ".join(parts) + ".") if parts else ""


def _constraints_text(pos: list[Mention], plan: ScenePlan) -> str:
    lines = []
    for m in pos:
        q = "exactly " if (m.exact or m.explicit_count) else ""
        if m.inst_colors and len(set(m.inst_colors[:m.count])) > 1:
            per = ", ".join(f"{i} {c}" for i, c in zip(m.ids, m.inst_colors, strict=False) if c)
            lines.append(f"{m.noun}: {q}{m.count}, colors per instance: {per}")
        else:
            lines.append(f"{m.noun}: {q}{m.count}" + (f", color {m.color}" if m.color else ""))
    for r in plan.relations:
        extra = f" and {r.object2}" if r.object2 else ""
        lines.append(f"{r.subject} {r.predicate.replace('_', ' ')} {r.object}{extra}")
    if plan.negatives:
        lines.append("absent: " + ", ".join(plan.negatives))
    return "Constraints: " + "; ".join(lines) + "."


def _category_text(plan: ScenePlan) -> str:
    seen: dict[str, str] = {}
    for e in plan.entities:
        if e.noun in seen:
            col = e.attributes.color
            if col and col not in seen[e.noun] and "," in seen[e.noun]:
                seen[e.noun] += f"/{col}"
            continue
        if e.category:
            d = " (its usual color)" if getattr(e.attributes, "default_color", False) else ""
            seen[e.noun] = f"{e.noun} -> world category '{e.category}'" + (f", {e.attributes.color}{d}" if e.attributes.color else "")
        else:
            seen[e.noun] = (f"{e.noun} -> outside the world (open vocabulary): the built-in renderers draw it as a "
                            "labelled placeholder (a dashed outline with its noun), not as a guess")
    return "Categories: " + "; ".join(seen.values()) + "."


def _layout_text(plan: ScenePlan, unsat: list[str], notes: list[str]) -> str:
    parts = [f"{e.id} at {list(to_got(e.box))}" for e in plan.entities if e.box]
    s = "Boxes on the 0..1000 grid: " + ", ".join(parts) + "."
    if notes:
        s += " Adjustments: " + "; ".join(notes) + "."
    s += " Unsatisfied: " + ("; ".join(unsat) if unsat else "none") + "."
    return s


def _text_text(plan: ScenePlan) -> str:
    out = []
    for t in plan.texts:
        where = f"on {t.on}" if t.on else "as a free caption"
        out.append(f"'{t.content}' ({len(t.content)} characters) {where}, {t.color} letters, box {list(to_got(t.box))}"
                   if t.box else f"'{t.content}' {where}")
    return "Text, letter for letter: " + "; ".join(out) + "."


def _physics_text(plan: ScenePlan, light_reason: str) -> str:
    out = []
    for e in plan.entities:
        s = e.supported_by
        if s in ("ground", "table"):
            out.append(f"{e.id} rests on the {s}")
        elif s == "water":
            out.append(f"{e.id} is in the water" if habitat(e) == "water" else f"{e.id} floats on the water")
        elif s == "air":
            out.append(f"{e.id} is in the air (not grounded)")
        elif s:
            out.append(f"{e.id} rests on {s}")
    d = plan.lighting.direction
    shadow = {"left": "to the right", "right": "to the left", "top": "straight down", "none": "nowhere"}[d]
    return "; ".join(out) + f". Light from the {d} ({light_reason}); shadows fall {shadow}."
