"""Read an edit instruction: clauses, each an intent (operation, the phrase naming its target, parameters).

    parse_instruction('make the car blue and remove the cloud')
    -> [Intent(op='recolor', ref='the car', params={'color': 'blue'}), Intent(op='remove', ref='the cloud')]

Rules only, no network. Quoted strings are lifted out first, so their letters are never read as words.
Clauses are split at ';', ',', 'and', 'then', 'also'; a clause without a verb takes the verb of the one
before it ("make the car blue and the ball red"). Kinds: add, remove, replace, recolor, move, resize, count
("add two more apples", "keep only one apple", "there should be three apples"), retext ("make the sign say
CLOSED"), and the global ones: time of day, background, style, light, background colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkdraw.edit.refs import EditRefused
from thinkdraw.think.lexicon import NUMBER_WORDS
from thinkdraw.world.vocab import BACKGROUND_WORDS, COLOR_NAMES, COLOR_SYNONYMS, STYLES, TIME_WORDS


@dataclass
class Intent:
    op: str  # add remove recolor move resize replace retext count keep_only time background style light bgcolor
    ref: str | None = None
    params: dict = field(default_factory=dict)
    clause: str = ""


_COLORS = sorted(set(COLOR_NAMES) | set(COLOR_SYNONYMS), key=len, reverse=True)
C = r"(?P<color>" + "|".join(_COLORS) + r")"
N = r"(?P<n>\d+|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
STYLE_WORDS = {**{s: s for s in STYLES}, "watercolour": "watercolor", "photograph": "photo", "photorealistic": "photo",
               "realistic": "photo", "pencil sketch": "sketch", "drawing": "sketch", "pixel": "pixel art",
               "pixelated": "pixel art", "8-bit": "pixel art", "oil": "oil painting", "painting": "oil painting",
               "comic": "cartoon", "retro": "vintage", "minimal": "minimalist", "3d": "3d render"}
VERBS = {"make", "paint", "colour", "color", "turn", "change", "recolor", "recolour", "remove", "delete", "erase",
         "take", "get", "eliminate", "drop", "clear", "add", "put", "place", "draw", "insert", "include", "move",
         "shift", "drag", "push", "slide", "bring", "relocate", "replace", "swap", "exchange", "substitute",
         "transform", "convert", "enlarge", "grow", "shrink", "scale", "resize", "double", "halve", "keep",
         "leave", "write", "rename", "relabel", "set", "let", "have", "there", "no", "only", "just", "i",
         "without", "give", "create", "switch", "dye", "hide", "lose", "show", "one", "another", "light"}
_SPLIT = re.compile(r"\s*(?:;|,\s*(?:and\s+|then\s+|also\s+)?|\s+and\s+then\s+|\s+then\s+|\s+and\s+also\s+|"
                    r"\s+and\s+|\s+also\s+|\s+plus\s+|\.\s+)\s*", re.I)
_QUOTE = re.compile(r"\"([^\"]*)\"|\u201c([^\u201d]*)\u201d|'([^']+)'(?=\W|$)|\u2018([^\u2019]*)\u2019")
Q = r"(?P<text>qt\d+|[^\s].*)"
_LOC_WORDS = (r"(?:to|on|onto|at|into|towards?|over|above|below|under|beneath|underneath|next|beside|by|near|left|"
              r"right|up|down|closer|between|in\s+front|behind|in\s+the\s+(?:sky|water|sea|middle|centre|center))")
I = re.I  # noqa: E741 - the regex flag, as re spells it
_NOT_NOUN = {"the", "a", "an", "left", "right", "top", "bottom", "upper", "lower", "middle", "first", "second", "third",
             "last", "biggest", "smallest", "leftmost", "rightmost", "other", "this", "that", "all", "both"}


def _lift(text: str) -> tuple[str, list[str]]:
    quotes: list[str] = []

    def sub(m: re.Match[str]) -> str:
        quotes.append(next(g for g in m.groups() if g is not None))
        return f" qt{len(quotes) - 1} "

    return " ".join(_QUOTE.sub(sub, text).split()), quotes


def _text(s: str, quotes: list[str]) -> str:
    s = s.strip().strip(".!?")
    m = re.fullmatch(r"qt(\d+)", s)
    if m:
        return quotes[int(m.group(1))]
    return re.sub(r"qt(\d+)", lambda mm: quotes[int(mm.group(1))], s).strip(" '\"")


def _number(s: str) -> int:
    return int(s) if s.isdigit() else NUMBER_WORDS[s.lower()]


def parse_instruction(text: str) -> list[Intent]:
    """The intents of an instruction, in order; EditRefused (not_understood) for a clause it cannot read."""
    if not text or not text.strip():
        raise EditRefused("empty instruction: say what to change (e.g. 'make the car blue')", "not_understood")
    s, quotes = _lift(text.strip())
    s = re.sub(r"\bbetween\s+(.+?)\s+and\s+", r"between \1 & ", s, flags=I)
    s = re.sub(r"^(?:please|now|ok|okay|and)\s+|\s+please$", "", s, flags=I).strip(" .!")
    clauses = [c.strip(" .!") for c in _SPLIT.split(s) if c and c.strip(" .!")]
    out: list[Intent] = []
    prev_verb = ""
    for c in clauses:
        c = re.sub(r"^(?:please|now|also|can you|could you|i want you to|i'd like you to)\s+", "", c, flags=I)
        first = c.split()[0].lower()
        if first not in VERBS and prev_verb and not _global(c, quotes):
            c = f"{prev_verb} {c}"
        intents = _clause(c, quotes)
        if intents is None:
            raise EditRefused(f"I could not read an edit in '{_text(c, quotes)}'; say it like 'make the car blue', "
                              f"'remove the cloud', 'add a red ball on the left', 'move the cup next to the "
                              f"tree', 'make the sign say \"CLOSED\"' or 'make it night'", "not_understood")
        for it in intents:
            it.clause = _text(c, quotes)
        out += intents
        prev_verb = c.split()[0].lower() if c.split()[0].lower() in VERBS else prev_verb
        if prev_verb in ("take", "get"):
            prev_verb = " ".join(c.split()[:2 if prev_verb == "take" else 3])
    return out


def _global(c: str, quotes: list[str]) -> list[Intent] | None:
    low = c.lower()
    m = re.match(r"^(?:make|paint|turn|change|colou?r|set)\s+the\s+(?P<what>sky|background|grass|ground|sea|water|"
                 r"wall|floor)\s+(?:to\s+|into\s+)?(?:be\s+)?" + C + "$", low)
    if m:
        return [Intent("bgcolor", None, {"color": COLOR_SYNONYMS.get(m.group("color"), m.group("color")),
                                         "what": m.group("what")})]
    m = re.search(r"\blight(?:ing)?\s+(?:should\s+)?(?:comes?\s+|coming\s+|falls?\s+)?(?:in\s+)?from\s+the\s+"
                  r"(?P<d>left|right|top|above)\b|^(?:move|put|shift)\s+the\s+light\s+to\s+the\s+(?P<d2>left|right|top)$",
                  low)
    if m:
        d = m.group("d") or m.group("d2")
        return [Intent("light", None, {"direction": "top" if d == "above" else d})]
    found: list[Intent] = []
    rest = " " + low + " "
    for table, op in ((TIME_WORDS, "time"), (STYLE_WORDS, "style"), (BACKGROUND_WORDS, "background")):
        for w in sorted(table, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", rest):
                if op == "background" and w in ("sky", "air", "water") and "background" not in rest:
                    continue  # "the bird in the sky" is a place, not a new background
                found.append(Intent(op, None, {op if op != "background" else "kind": table[w]}))
                rest = re.sub(rf"(?<![\w-]){re.escape(w)}(?![\w-])", " ", rest)
                break
    if not found:
        return None
    fill = {"make", "turn", "change", "set", "switch", "it", "the", "scene", "picture", "image", "everything",
            "whole", "to", "into", "be", "at", "a", "an", "please", "now", "time", "of", "day", "look", "like",
            "looks", "in", "style", "as", "put", "move", "background", "setting", "instead", "so", "that", "is",
            "all", "render", "redraw", "with", "on", "by", "over", "take", "place", "art", "version", "should",
            "let", "more", "mode", "rendering", "painted", "drawn", "go", "location", "scenery"}
    left = [t for t in re.findall(r"[\w'-]+", rest) if t not in fill]
    return found if not left else None


def _clause(c: str, quotes: list[str]) -> list[Intent] | None:
    g = _global(c, quotes)
    if g:
        return g
    low = c.lower()

    def m(p: str) -> re.Match[str] | None:
        return re.match(p + r"$", c, I)

    # text
    for p in (r"^(?:make|let|have|get)\s+(?P<ref>.+?)\s+(?:say|read|show|display)s?\s+" + Q,
              r"^(?P<ref>.+?)\s+should\s+(?:say|read)\s+" + Q,
              r"^(?:change|set|update|edit|make)\s+(?:the\s+)?(?:text|words?|writing|label|caption|message|lettering)"
              r"(?:\s+(?:on|of)\s+(?P<ref>.+?))?\s+(?:to|into|say|read)\s+" + Q,
              r"^(?:write|print)\s+(?P<text>qt\d+|\S+)\s+on\s+(?P<ref>.+)",
              r"^(?:put)\s+(?P<text>qt\d+)\s+on\s+(?P<ref>.+)",
              r"^(?:rename|relabel)\s+(?P<ref>.+?)\s+(?:to\s+)?(?P<text>qt\d+)"):
        mm = m(p)
        if mm:
            ref = mm.groupdict().get("ref") or "the text"
            return [Intent("retext", ref, {"content": _text(mm.group("text"), quotes)})]
    mm = m(r"^(?:replace|change|turn)\s+(?P<old>qt\d+)\s+(?:with|to|by|into)\s+" + Q)
    if mm:
        return [Intent("retext", None, {"old": _text(mm.group("old"), quotes),
                                        "content": _text(mm.group("text"), quotes)})]
    # counts
    mm = m(r"^(?:keep|leave)\s+(?:only|just)\s+" + N + r"\s+(?:of\s+the\s+)?(?P<ref>[^\s].*)") or \
        m(r"^(?:only|just)\s+" + N + r"\s+(?P<ref>[^\s].*)")
    if mm:
        return [Intent("count", mm.group("ref"), {"n": _number(mm.group("n"))})]
    mm = m(r"^(?:keep|leave)\s+(?:only|just)\s+(?P<ref>.+)") or m(r"^(?:remove|delete)\s+everything\s+(?:but|except)"
                                                                   r"\s+(?P<ref>.+)")
    if mm:
        return [Intent("keep_only", mm.group("ref"))]
    mm = m(r"^(?:there\s+should\s+be|i\s+want|make\s+(?:it|them|that)|i'd\s+like|change\s+(?:it|them)\s+to|"
           r"have|show)\s+(?:only\s+|just\s+|exactly\s+)?" + N + r"\s+(?P<ref>(?!more\b)[a-z]+)")
    if mm:
        return [Intent("count", mm.group("ref"), {"n": _number(mm.group("n")), "set": True})]
    mm = m(r"^(?:add|put|place|draw|insert|include|give\s+me)?\s*(?P<n>\d+|" + "|".join(
        sorted(NUMBER_WORDS, key=len, reverse=True)) + r"|another)\s+more\s+(?P<ref>\S+)(?P<rest>.*)") or \
        m(r"^(?:add|put|place|draw|insert)?\s*(?P<n>another|one\s+more)\s+(?P<ref>\S+)(?P<rest>.*)")
    if mm:
        n = 1 if mm.group("n").lower() in ("another", "one more") else _number(mm.group("n"))
        rest = mm.group("rest").strip()
        return [Intent("more", mm.group("ref"), {"n": n, "where": rest or None})]
    # replace
    for p in (r"^(?:replace|swap|exchange|substitute)\s+(?P<ref>.+?)\s+(?:with|for|by)\s+(?P<np>.+)",
              r"^(?:turn|change|transform|convert|make)\s+(?P<ref>.+?)\s+into\s+(?P<np>.+)",
              r"^(?:change|make)\s+(?P<ref>.+?)\s+(?:to\s+)?(?P<np>(?:a|an)\s+(?!bit\b|little\b|lot\b).+)",
              r"^(?P<ref>.+?)\s+should\s+be\s+(?P<np>(?:a|an)\s+.+)"):
        mm = m(p)
        if mm and not re.fullmatch(C, mm.group("np").split()[-1], I):
            return [Intent("replace", mm.group("ref"), {"np": _text(mm.group("np"), quotes)})]
    # recolour
    for p in (r"^(?:change|set|switch|make)\s+(?:the\s+)?colou?r\s+of\s+(?P<ref>.+?)\s+(?:to|into)\s+" + C,
              r"^(?:make|paint|colou?r|turn|change|recolou?r|dye|switch)\s+(?P<ref>.+?)\s+(?:to\s+|into\s+|in\s+)?"
              r"(?:be\s+)?(?:a\s+)?(?:bright\s+|dark\s+|light\s+)?" + C + r"(?:\s+instead)?(?:\s+colou?r(?:ed)?)?",
              r"^(?P<ref>.+?)\s+should\s+be\s+" + C):
        mm = m(p)
        if mm:
            return [Intent("recolor", mm.group("ref"), {"color": COLOR_SYNONYMS.get(mm.group("color").lower(),
                                                                                     mm.group("color").lower())})]
    # resize
    mm = m(r"^(?:make|scale|resize|turn|set)\s+(?P<ref>.+?)\s+(?P<adv>much\s+|a\s+lot\s+|a\s+bit\s+|a\s+little\s+|"
           r"slightly\s+|even\s+|way\s+)?(?P<size>bigger|larger|smaller|tinier|taller|shorter|bigger|big|large|small|"
           r"tiny|huge|giant|enormous|little|medium|medium-sized|twice\s+as\s+(?:big|large)|half\s+(?:the\s+|its\s+|"
           r"as\s+)?(?:size|big|large)|(?:the\s+)?same\s+size)")
    if mm:
        return [Intent("resize", mm.group("ref"), {"size": " ".join(mm.group("size").lower().split()),
                                                   "adv": (mm.group("adv") or "").strip().lower()})]
    mm = m(r"^(?P<verb>enlarge|grow|shrink|scale\s+up|scale\s+down|double|halve)\s+(?:the\s+size\s+of\s+)?(?P<ref>.+?)"
           r"(?P<adv>\s+a\s+bit|\s+slightly|\s+a\s+lot|\s+by\s+half)?")
    if mm:
        v = " ".join(mm.group("verb").lower().split())
        size = {"enlarge": "bigger", "grow": "bigger", "scale up": "bigger", "shrink": "smaller",
                "scale down": "smaller", "double": "twice as big", "halve": "half the size"}[v]
        return [Intent("resize", mm.group("ref"), {"size": size, "adv": (mm.group("adv") or "").strip().lower()})]
    # move (a definite thing to a place) before add (an indefinite new thing)
    mv = re.match(r"^(?:move|shift|drag|push|slide|put|place|bring|relocate|set)\s+", c, I)
    if mv:
        body = c[mv.end():]
        for w in re.finditer(r"\s+" + _LOC_WORDS + r"\b", body, I):
            ref, where_ = body[:w.start()], body[w.start():].strip()
            last = ref.split()[-1].lower() if ref.split() else ""
            if not ref or last in _NOT_NOUN:
                continue
            if low.split()[0] in ("move", "shift", "drag", "push", "slide", "relocate", "bring") or \
                    re.match(r"(?:the|this|that|these|those|it|them|all|both|my)\b", ref, I):
                return [Intent("move", ref, {"where": where_.lower()})]
            break
    # remove
    mm = m(r"^(?:remove|delete|erase|take\s+away|take\s+out|get\s+rid\s+of|eliminate|drop|clear|hide|lose)\s+(?P<ref>.+?)"
           r"(?:\s+from\s+(?:the\s+)?(?:picture|image|scene|canvas|sky|photo))?") or \
        m(r"^(?:there\s+should\s+be\s+)?no\s+(?:more\s+)?(?P<ref>.+)") or m(r"^without\s+(?P<ref>.+)")
    if mm:
        return [Intent("remove", mm.group("ref"))]
    # add
    mm = m(r"^(?:add|put|place|draw|insert|include|paint|give\s+(?:me|it)|create|there\s+should\s+be|i\s+want)\s+"
           r"(?P<np>.+)")
    if mm:
        np_, where = _split_where(mm.group("np"))
        return [Intent("add", None, {"np": _text(np_, quotes), "where": where})]
    return None


_WHERE = re.compile(r"\s+(?P<w>(?:(?:to|on|at)\s+the\s+(?:far\s+)?(?:left|right|top|bottom|middle|center|centre)\b(?!\s+of).*|"
                    r"(?:next\s+to|beside|by|near|above|over|below|under|beneath|underneath|on\s+top\s+of|on|onto|"
                    r"to\s+the\s+left\s+of|to\s+the\s+right\s+of|left\s+of|right\s+of|in\s+front\s+of|behind|between)\s+.*|"
                    r"in\s+the\s+(?:sky|water|sea|middle|centre|center)\b.*))$", I)


def _split_where(np_: str) -> tuple[str, str | None]:
    """'a red ball next to the cup' -> ('a red ball', 'next to the cup'); text after 'says' is kept whole."""
    says = re.search(r"\b(?:that\s+says|saying|which\s+says|that\s+reads|reading|with\s+the\s+text)\b", np_, I)
    head = np_[:says.start()] if says else np_
    m = _WHERE.search(head)
    if m:
        return (head[:m.start()] + (np_[says.start() - 1:] if says else "")).strip(), m.group("w").lower()
    if says:
        tail = np_[says.start():]
        m2 = _WHERE.search(tail)
        if m2:
            return (head + tail[:m2.start()]).strip(), m2.group("w").lower()
    return np_.strip(), None
