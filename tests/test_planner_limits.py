"""The planner's limits (prompt length, entities, text blocks) and exact text, symbol by symbol.

Speed lives in benchmarks/bench_plan_limits.py; these tests pin behaviour only.
"""

import pytest

from thinkdraw.plan.schema import Attributes, ScenePlan
from thinkdraw.think import PlanningError, plan_prompt
from thinkdraw.think.rules import MAX_ENTITIES, MAX_PROMPT_CHARS, MAX_TEXT_BLOCKS, has_glyph, missing_glyphs


def texts(prompt: str) -> list[str]:
    return [t.content for t in plan_prompt(prompt)[1].texts]


# ---- prompt length
def test_prompt_at_the_limit_plans():
    p = ("a red apple and " * (MAX_PROMPT_CHARS // 16 + 1))[:MAX_PROMPT_CHARS]
    assert len(p) == MAX_PROMPT_CHARS
    _, plan = plan_prompt(p)
    assert plan.entities


def test_prompt_over_the_limit_is_one_clear_line():
    p = "a red apple and " * 200
    with pytest.raises(PlanningError) as e:
        plan_prompt(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(MAX_PROMPT_CHARS) in msg and str(len(p)) in msg


# ---- entities
def test_entity_cap_drops_the_rest_with_a_warning_and_a_trace_line():
    rs, plan = plan_prompt("a red apple and " * 60 + "twelve cats")
    assert len(plan.entities) == MAX_ENTITIES
    assert all(e.noun == "apple" for e in plan.entities)
    cap = [w for w in plan.warnings if w.startswith("entity cap")]
    assert len(cap) == 1 and str(MAX_ENTITIES) in cap[0] and "apple: 12" in cap[0] and "cat: 12" in cap[0]
    assert "Entity cap" in rs.steps[0].text
    ScenePlan.model_validate_json(plan.model_dump_json())


def test_entity_cap_cuts_a_counted_mention_and_drops_its_relations():
    prompt = "twelve apples and twelve cups and twelve balls and ten stars and five hearts to the left of a tree"
    _, plan = plan_prompt(prompt)
    assert len(plan.entities) == MAX_ENTITIES
    assert sum(e.noun == "heart" for e in plan.entities) == 2
    assert not any(e.noun == "tree" for e in plan.entities)
    ids = {e.id for e in plan.entities} | {e.group for e in plan.entities if e.group}
    assert all(r.subject in ids and r.object in ids for r in plan.relations)
    assert any("heart: 3" in w and "tree: 1" in w for w in plan.warnings)


def test_under_the_cap_no_cap_warning():
    _, plan = plan_prompt("twelve apples and twelve cups")
    assert not any("cap" in w and "entity" in w for w in plan.warnings)


def test_text_block_cap():
    quoted = " ".join(f'"T{k}"' for k in range(MAX_TEXT_BLOCKS + 4))
    rs, plan = plan_prompt(f"a sign that says {quoted}")
    assert len(plan.texts) == MAX_TEXT_BLOCKS
    assert [t.content for t in plan.texts] == [f"T{k}" for k in range(MAX_TEXT_BLOCKS)]
    assert any(w.startswith("text cap") and "dropped 4" in w for w in plan.warnings)
    assert "Text cap" in rs.steps[0].text


# ---- exact text, letter for letter
@pytest.mark.parametrize("text", [
    "SALE 50%", "100%", "ROCK & ROLL", "#1 FAN", "WHAT?", "STOP!", "WHAT?!", "DON'T STOP", "OPEN 9-5",
    "NOTE: WET", "C++ & C#", "$5 @ NOON", "50% OFF!", "A+B=C", "(OPEN)", "CAFÉ", "ÜBER 24/7",
])
@pytest.mark.parametrize("form", ['a sign that says "{}"', "a sign that says '{}'", "a sign that says {}",
                                  "a sign reading {} next to a tree", "a banner with the text {}",
                                  "a sign that says {} and a cat"])
def test_text_symbols_are_kept(form, text):
    if "'" in text and form.count("'") == 2:
        pytest.skip("an apostrophe inside single quotes is ambiguous")
    assert texts(form.format(text)) == [text]


@pytest.mark.parametrize("prompt,expected", [
    ("a sign that says 50%.", ["50%"]),  # a sentence's full stop is not part of the text
    ("a sign that says OPEN. a tree", ["OPEN"]),
    ("a sign that says: EXIT", ["EXIT"]),  # nor the colon after the introducer
    ("a sign that says OPEN & a tree", ["OPEN"]),  # '&' before a lowercase word joins things, not text
    ("a sign that says SALE 50 % next to a tree", ["SALE 50 %"]),
    ('a sign that says "SALE 50%" next to a tree', ["SALE 50%"]),
    ("a sign that says \u201cSALE 50%\u201d", ["SALE 50%"]),
    ("two signs that say OPEN!", ["OPEN!", "OPEN!"]),
])
def test_text_edges(prompt, expected):
    assert texts(prompt) == expected


def test_no_warning_for_symbols_the_font_has():
    _, plan = plan_prompt('a sign that says "SALE 50% & #1! WHAT? DON\'T - 9:30"')
    assert not any("glyph" in w for w in plan.warnings)


@pytest.mark.parametrize("text,missing", [("\u4e2d\u6587 SALE", "\u4e2d"), ("OPEN \ue000", "\ue000")])
def test_missing_glyph_is_kept_and_warned(text, missing):
    _, plan = plan_prompt(f'a sign that says "{text}"')
    assert [t.content for t in plan.texts] == [text]
    w = [w for w in plan.warnings if "glyph" in w]
    assert len(w) == 1 and f"U+{ord(missing):04X}" in w[0]


def test_glyph_probe():
    assert all(has_glyph(c) for c in "AZaz09%&#!?'-: $@+")
    assert not has_glyph("\u4e2d") and not has_glyph("\U0010ffff")
    assert missing_glyphs("A\u4e2dB\u4e2d\u6587") == ["\u4e2d", "\u6587"]


def test_typed_quote_mark_cannot_be_forged():
    assert texts("a sign that says __TEXT0__") == ["__TEXT0__"]
    assert texts('a sign that says "A\x00B" and a cup') == ["A B"]  # control characters are spaces


# ---- schema honesty
def test_default_color_is_a_declared_field():
    assert "default_color" in Attributes.model_fields
    assert "default_color" in ScenePlan.model_json_schema()["$defs"]["Attributes"]["properties"]
    _, plan = plan_prompt("a tree and a red apple")
    by = {e.noun: e.attributes for e in plan.entities}
    assert by["tree"].default_color is True and by["apple"].default_color is False
