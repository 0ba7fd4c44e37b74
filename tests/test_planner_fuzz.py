"""Fuzz the rules planner: every input ends in a valid plan or a one-line PlanningError, never anything else.

A seeded generator (no extra dependency) mixes random and adversarial strings: control characters, NUL
bytes, right-to-left text, emoji, mixed scripts, 10k-character words, only punctuation, huge numbers,
repeated and unbalanced quotes, forged quote marks, and shuffled fragments of the planner's own phrases
(the inputs most likely to reach odd corners of the parser).
"""

import random

import pytest

from thinkdraw.plan.schema import ScenePlan
from thinkdraw.think import PlanningError, plan_prompt
from thinkdraw.think import lexicon as L
from thinkdraw.think.rules import MAX_PROMPT_CHARS

SEEDS = range(6)
PER_SEED = 700  # 4200 inputs in all

RTL = "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202e\u202b\u200f\u200e"
EMOJI = "\U0001f600\U0001f34e\U0001f3e0\u2764\ufe0f\U0001f468\u200d\U0001f469\u200d\U0001f467\U0001f1fa\U0001f1f8"
SCRIPTS = "\u4e2d\u6587\u65e5\u672c\u8a9e\ud55c\uad6d\uc5b4\u0420\u0443\u0441\u0441\u043a\u0438\u0439\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac\u0939\u093f\u0928\u094d\u0926\u0940"
PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u300c\u300d\u2026\u2014"
CONTROL = "".join(map(chr, range(32))) + "\x7f\x85\xa0\u2028\u2029\ufeff"
QUOTES = ['"', "'", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb", "\u201e", "\u300c", "\u300d"]

WORDS = sorted({w for table in (L.FRAME_PHRASES, L.TEXT_INTRODUCERS, L.RELATION_PHRASES, L.NEGATORS,
                                L.QUANTITY_PHRASES, L.STYLE_PHRASES, L.LIGHT_PHRASES) for p in table for w in p}
               | set(L.NOUNS) | set(L.NUMBER_WORDS) | set(L.CONJUNCTIONS) | set(L.MATERIALS) | set(L.ADJECTIVES)
               | {"red", "blue", "green", "sky", "grass", "sea", "table", "night", "sunset", "it", "them", "its",
                  "left", "right", "top", "bottom", "center", "side", "background", "sign", "says", "between",
                  "twelve", "13", "0", "zero", "OPEN", "SALE", "50%", ":", ",", ".", "!", "?", "&"})
PHRASES = [" ".join(p) for p in L.RELATION_PHRASES] + [" ".join(p) for p in L.TEXT_INTRODUCERS]


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def generate(rng: random.Random) -> str:
    kind = rng.randrange(16)
    if kind == 0:
        return _chars(rng, "".join(map(chr, range(32, 127))), rng.randrange(0, 200))
    if kind == 1:
        return _words(rng, 3) + _chars(rng, CONTROL, rng.randrange(1, 20)) + _words(rng, 3)
    if kind == 2:
        return f"a sign that says {_chars(rng, RTL, rng.randrange(1, 30))} next to a {rng.choice(WORDS)}"
    if kind == 3:
        return _words(rng, 2) + " " + _chars(rng, EMOJI, rng.randrange(1, 12)) + " " + _words(rng, 3)
    if kind == 4:
        return "a " + rng.choice("xq" + SCRIPTS[:4]) * rng.choice((500, 1999, 10_000)) + " " + _words(rng, 2)
    if kind == 5:
        return _chars(rng, PUNCT, rng.randrange(1, 300))
    if kind == 6:
        return _words(rng, 2) + "\x00" * rng.randrange(1, 5) + _words(rng, 2) + "\x00"
    if kind == 7:
        return " ".join(rng.choice([_words(rng, 1), _chars(rng, SCRIPTS, 3), _chars(rng, RTL, 3)]) for _ in range(8))
    if kind == 8:
        num = rng.choice(["9" * rng.randrange(5, 400), "-3", "1e308", "0", "00012", "1,000,000", "3.5", "2/3"])
        return f"{num} {rng.choice(WORDS)}s {rng.choice(PHRASES)} {num} {rng.choice(WORDS)}"
    if kind == 9:
        q = rng.choice(QUOTES)
        return f"a sign that says {q * rng.randrange(1, 30)}{_words(rng, 2)}{q * rng.randrange(0, 30)} {_words(rng, 3)}"
    if kind == 10:
        return " ".join(rng.choice(QUOTES) + _words(rng, rng.randrange(0, 3)) for _ in range(rng.randrange(1, 40)))
    if kind == 11:
        return f"a sign that says __TEXT{rng.randrange(0, 9)}__ and \"{_words(rng, 1)}\" __TEXT0__ {_words(rng, 3)}"
    if kind == 12:
        return _words(rng, rng.randrange(1, 60))
    if kind == 13:
        return " ".join(rng.choice(PHRASES + WORDS) for _ in range(rng.randrange(1, 120)))
    if kind == 14:
        return (_words(rng, 4) + " and ") * rng.randrange(1, 200)  # up to and past the length limit
    return "".join(rng.choice([_words(rng, 1), " ", _chars(rng, PUNCT, 1), _chars(rng, EMOJI, 1),
                               _chars(rng, CONTROL, 1), rng.choice(QUOTES), _chars(rng, SCRIPTS, 1)])
                   for _ in range(rng.randrange(1, 80)))


def _check(prompt: str) -> str:
    try:
        reasoning, plan = plan_prompt(prompt, seed=len(prompt) % 5)
    except PlanningError as e:
        msg = str(e)
        assert msg and "\n" not in msg, f"PlanningError must be one line, got {msg!r}"
        return "error"
    again = ScenePlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert reasoning.steps and all(s.text for s in reasoning.steps)
    for t in plan.texts:
        assert t.content and t.box is not None
    return "plan"


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_every_input_ends_in_a_plan_or_a_planning_error(seed):
    rng = random.Random(seed)
    outcomes = {"plan": 0, "error": 0}
    for _ in range(PER_SEED):
        prompt = generate(rng)
        try:
            outcomes[_check(prompt)] += 1
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - the point of the test: name the input that broke it
            raise AssertionError(f"{type(e).__name__}: {e} for prompt {prompt[:300]!r}") from e
    assert outcomes["plan"] > PER_SEED // 4  # the generator mostly reaches the planner, not only its errors


@pytest.mark.parametrize("prompt", [
    "", " ", "\x00", "\x00" * 50, "\t\n\r", "\u200f\u202e", "\ufeff", '"', '""', "'''", "\u201c" * 100,
    "a" * (MAX_PROMPT_CHARS + 1), "a " * 10_000, "__TEXT0__", "__TEXT99__ apples", "!" * 1500,
    "a sign that says", "a sign that says \"", "12345678901234567890123456789 apples",
    "\U0001f34e\U0001f34e\U0001f34e", "\u0627\u0644\u062a\u0641\u0627\u062d\u0629 \u0627\u0644\u062d\u0645\u0631\u0627\u0621",
])
def test_fuzz_known_hard_inputs(prompt):
    _check(prompt)
