"""Planning time on adversarial prompts at the planner's limits: the worst case must plan in < 50 ms.

    python benchmarks/bench_plan_limits.py [--runs 7] [--json OUT] [--growth]

Builds prompts that push each part of the planner (parsing, relations, layering, the layout's pairwise
checks, text fitting) as hard as the limits allow (MAX_PROMPT_CHARS characters, MAX_ENTITIES entities,
MAX_TEXT_BLOCKS text blocks), plans each ``--runs`` times in this process after one warm-up call, and
prints the median and the worst run in milliseconds, with what the plan held. ``--growth`` also times
N repetitions of "a red apple and " (the prompt of issue 9), which stops being plannable above the
length limit. Exit status 1 when a median is over the 50 ms budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import string
import sys
import time

from thinkdraw.think import PlanningError, plan_prompt
from thinkdraw.think.rules import MAX_ENTITIES, MAX_PROMPT_CHARS, MAX_TEXT_BLOCKS

BUDGET_MS = 50.0
NOUNS = ["apple", "cup", "ball", "tree", "house", "car", "cat", "dog", "star", "heart", "book", "flower",
         "bird", "boat", "fish", "cloud", "sign", "balloon", "circle", "square"]
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "pink", "black", "white", "brown"]
RELS = ["to the left of", "to the right of", "above", "below", "next to", "on", "under", "near", "behind",
        "in front of", "between"]


def fill(unit: str | list[str], sep: str = "", limit: int = MAX_PROMPT_CHARS) -> str:
    """Repeat ``unit`` (or cycle through a list) until the prompt is as long as the limit allows."""
    units = [unit] if isinstance(unit, str) else unit
    out, k = "", 0
    while True:
        nxt = out + (sep if out else "") + units[k % len(units)]
        if len(nxt) > limit:
            return out
        out, k = nxt, k + 1


def prompts() -> dict[str, str]:
    nouns_c = [f"a {c} {n}" for n in NOUNS for c in COLORS]
    rel_chain = [f"{nouns_c[k % len(nouns_c)]} {RELS[k % 10]}" for k in range(400)]
    p = {
        "repetition (issue 9)": fill("a red apple and "),
        "many relations (chain)": fill(rel_chain, " ", MAX_PROMPT_CHARS - 7) + " a tree",
        "counted groups in relations": fill([f"twelve {n}s {r} twelve {m}s and" for n, m, r in
                                             zip(NOUNS, NOUNS[5:] + NOUNS[:5], (RELS * 2)[:len(NOUNS)], strict=True)], " ", MAX_PROMPT_CHARS - 6) + " a cup",
        "between groups": fill([f"twelve {n}s between twelve {m}s and twelve {o}s," for n, m, o in
                                zip(NOUNS, NOUNS[3:] + NOUNS[:3], NOUNS[7:] + NOUNS[:7], strict=True)], " "),
        "absolute positions": fill([f"a {n} on the {side}," for n in NOUNS for side in
                                    ("left", "right", "top", "bottom", "center")], " "),
        "above/below layering": fill([f"a {n} above" for n in NOUNS * 20], " ", MAX_PROMPT_CHARS - 6) + " a cup",
        "next to (soft)": fill([f"a {n} next to" for n in NOUNS * 20], " ", MAX_PROMPT_CHARS - 6) + " a cup",
        "stacking chain": fill([f"a {n} on" for n in ("cup", "book", "box", "table") * 100], " ", MAX_PROMPT_CHARS - 8) + " a table",
        "many quoted texts": "a sign that says " + fill([f'"{a}{b}"' for a in string.ascii_uppercase
                                                           for b in string.ascii_uppercase], " ", MAX_PROMPT_CHARS - 17),
        "signs with texts": fill([f'twelve signs that say "SALE {k}% OFF!"' for k in range(100)], " and "),
        "one long text": 'a sign that says "' + "W" * (MAX_PROMPT_CHARS - 19) + '"',
        "long unquoted text": "a sign that says " + fill("SALE 50% OFF & MORE! ", "", MAX_PROMPT_CHARS - 17),
        "one long word": "a " + "x" * (MAX_PROMPT_CHARS - 2),
        "long words": fill(["a " + "q" * 60 + " and"], " "),
        "many negations": "a cat " + fill([f"without {n}s, no {m}," for n, m in zip(NOUNS, NOUNS[1:] + NOUNS[:1], strict=True)], " ",
                                          MAX_PROMPT_CHARS - 6),
        "distinct unknown nouns": fill([f"a zq{a}{b}x and" for a in string.ascii_lowercase for b in string.ascii_lowercase], " "),
        "only punctuation": fill("!?.,;:&", ""),
        "mixed max-length": fill([
            "a photo of three red apples to the left of a blue cup,", 'a sign that says "SALE 50%!"',
            "twelve stars above a house on the grass at sunset,", "no cars, without clouds,",
            "two dogs between a tree and a car,", "a bird on the left, a boat on the right,",
            "a table with three cups on it,", "in watercolor style lit from the left,",
            'a banner reading "ROCK & ROLL #1" next to a sign saying OPEN 9-5,']),
    }
    for name, text in p.items():
        assert len(text) <= MAX_PROMPT_CHARS, (name, len(text))
    return p


def time_one(prompt: str, runs: int) -> dict:
    try:
        _, plan = plan_prompt(prompt)  # warm-up: fonts, caches
        held = f"{len(plan.entities)} entities, {len(plan.relations)} relations, {len(plan.texts)} texts, " \
               f"{len(plan.warnings)} warnings"
    except PlanningError as e:
        held = f"PlanningError: {e}"
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            plan_prompt(prompt)
        except PlanningError:
            pass
        ts.append(1000 * (time.perf_counter() - t0))
    return {"chars": len(prompt), "median_ms": statistics.median(ts), "max_ms": max(ts), "held": held}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--growth", action="store_true", help="also time N x 'a red apple and '")
    a = ap.parse_args(argv)
    print(f"limits: MAX_PROMPT_CHARS={MAX_PROMPT_CHARS}, MAX_ENTITIES={MAX_ENTITIES}, "
          f"MAX_TEXT_BLOCKS={MAX_TEXT_BLOCKS}; budget {BUDGET_MS:.0f} ms; median of {a.runs} runs after a warm-up")
    rows = {}
    for name, prompt in prompts().items():
        r = rows[name] = time_one(prompt, a.runs)
        print(f"{name:30s} {r['chars']:5d} chars  median {r['median_ms']:6.1f} ms  max {r['max_ms']:6.1f} ms  "
              f"{r['held']}")
    if a.growth:
        for n in (50, 100, 125, 200, 400, 800, 1200):
            r = rows[f"growth N={n}"] = time_one("a red apple and " * n, a.runs)
            print(f"{'N=' + str(n) + ' x a red apple and':30s} {r['chars']:5d} chars  median {r['median_ms']:6.1f} ms"
                  f"  {r['held']}")
    worst = max(rows, key=lambda k: rows[k]["median_ms"])
    print(f"worst: {worst} at {rows[worst]['median_ms']:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0 if rows[worst]["median_ms"] < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
