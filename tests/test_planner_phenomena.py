"""How people write (issue 10): per-instance attributes, relations, arrangements, words that are not things,
typos, counts, symbols and text boundaries. Prompts here are not the benchmark's (benchmarks/phenomena/)."""

from __future__ import annotations

import pytest

from thinkdraw.plan.schema import box_center
from thinkdraw.think.rules import PlanningError, plan_prompt
from thinkdraw.think.spelling import correct, known


def _plan(prompt: str):
    rs, plan = plan_prompt(prompt)
    return rs.render(), plan


def _colors(plan, cat: str) -> list[str | None]:
    return [e.attributes.color for e in plan.entities if e.category == cat]


def _ent(plan, eid: str):
    return next(e for e in plan.entities if e.id == eid)


# --- attributes per instance and per group ---------------------------------------------------------------
@pytest.mark.parametrize("prompt, cat, want", [
    ("four hearts: pink, red, white and black", "heart", ["pink", "red", "white", "black"]),
    ("six apples, four green and two yellow", "apple", ["green"] * 4 + ["yellow"] * 2),
    ("three kites, one of them purple and the others black", "kite", ["purple", "black", "black"]),
    ("two cups, one blue and the other red", "cup", ["blue", "red"]),
])
def test_colours_per_instance(prompt, cat, want):
    trace, plan = _plan(prompt)
    assert _colors(plan, cat) == want
    assert "->" in trace  # the trace says which instances got which colour


def test_left_one_right_one_orders_the_instances():
    _, plan = _plan("two houses, the left one white and the right one yellow")
    white = next(e for e in plan.entities if e.attributes.color == "white")
    yellow = next(e for e in plan.entities if e.attributes.color == "yellow")
    assert box_center(white.box)[0] + 0.05 < box_center(yellow.box)[0]


def test_the_rest_is_said_in_the_trace():
    trace, plan = _plan("five stars, one of them green and the rest red")
    assert _colors(plan, "star") == ["green"] + ["red"] * 4
    assert "the other four stars -> red" in trace


def test_shared_attribute_applies_to_every_mention():
    _, plan = _plan("a cup beside a ball, both purple")
    assert _colors(plan, "cup") == ["purple"] and _colors(plan, "ball") == ["purple"]


def test_negated_colour_is_not_drawn():
    trace, plan = _plan("a heart that isn't red")
    assert _colors(plan, "heart") != ["red"] and "not red" in trace


# --- relations ---------------------------------------------------------------------------------------------
def test_chain_of_relations():
    _, plan = _plan("a moon above a balloon above a boat")
    ys = [box_center(_ent(plan, i).box)[1] for i in ("moon_1", "balloon_1", "boat_1")]
    assert ys[0] < ys[1] < ys[2]


def test_order_phrase():
    _, plan = _plan("from right to left: a car, a tree, a house")
    xs = [box_center(_ent(plan, i).box)[0] for i in ("car_1", "tree_1", "house_1")]
    assert xs[0] > xs[1] > xs[2]


def test_between_them_after_a_group():
    _, plan = _plan("two flowers and a sign between them")
    xs = sorted(box_center(e.box)[0] for e in plan.entities if e.category == "flower")
    assert xs[0] < box_center(_ent(plan, "sign_1").box)[0] < xs[1]


def test_in_front_of_is_lower_later_and_overlapping():
    _, plan = _plan("a flower in front of a tree")
    f, t = _ent(plan, "flower_1"), _ent(plan, "tree_1")
    assert f.z > t.z and f.box[3] > t.box[3]
    assert min(f.box[2], t.box[2]) > max(f.box[0], t.box[0])


def test_covering_half():
    _, plan = _plan("a cloud partly covering the moon")
    c, m = _ent(plan, "cloud_1").box, _ent(plan, "moon_1").box
    inter = max(0, min(c[2], m[2]) - max(c[0], m[0])) * max(0, min(c[3], m[3]) - max(c[1], m[1]))
    assert 0.3 < inter / ((m[2] - m[0]) * (m[3] - m[1])) < 0.7


def test_printed_on_a_carrier_and_shared_support():
    _, plan = _plan("a heart on a sign")
    h, s = _ent(plan, "heart_1").box, _ent(plan, "sign_1").box
    assert s[0] <= h[0] and h[2] <= s[2] and s[1] <= h[1] and h[3] <= s[3]
    _, plan = _plan("an apple on a table and a ball beside the apple")
    assert _ent(plan, "ball_1").supported_by == _ent(plan, "apple_1").supported_by == "table_1"


def test_one_high_one_low():
    _, plan = _plan("two birds, one high and one low")
    ys = sorted(box_center(e.box)[1] for e in plan.entities)
    assert ys[1] - ys[0] > 0.1 and {e.noun for e in plan.entities} == {"bird"}


# --- arrangements ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prompt, kind", [
    ("seven cups in a circle", "circle"), ("three balls stacked", "stack"), ("a line of four kites", "row"),
    ("eight hearts scattered about", "scatter"),
])
def test_arrangements_shape_the_layout_and_are_not_things(prompt, kind):
    trace, plan = _plan(prompt)
    assert len({e.category for e in plan.entities}) == 1  # no "circle", "line" or "stack" entity
    assert all(e.attributes.arrangement == kind for e in plan.entities)
    assert "arrangement" in trace
    ys = [box_center(e.box)[1] for e in plan.entities]
    if kind == "row":
        assert max(ys) - min(ys) < 0.05
    else:
        assert max(ys) - min(ys) > 0.1


# --- words that are not things -----------------------------------------------------------------------------
@pytest.mark.parametrize("prompt", ["a kite in the windy sky", "a house at dusk on the grass",
                                    "a boat bobbing lazily on a calm ocean", "a ball resting low on the ground"])
def test_settings_participles_and_adverbs_are_not_things(prompt):
    _, plan = _plan(prompt)
    assert len(plan.entities) == 1 and plan.entities[0].category is not None


def test_unknown_word_is_reported_not_planned():
    trace, plan = _plan("a cup next to a flurbnik")
    assert [e.noun for e in plan.entities] == ["cup"]
    assert any("flurbnik" in w for w in plan.warnings) and "flurbnik" in trace


@pytest.mark.parametrize("prompt", ["cinco estrellas amarillas", "drei kleine Häuser", "glorp snarf wibble"])
def test_unreadable_prompt_is_a_clear_error(prompt):
    with pytest.raises(PlanningError, match="cannot read"):
        plan_prompt(prompt)


def test_open_vocabulary_nouns_still_plan():
    _, plan = plan_prompt("a giraffe next to a toothbrush")
    assert {e.noun for e in plan.entities} == {"giraffe", "toothbrush"}


# --- typos and colours the world lacks ---------------------------------------------------------------------
def test_typos_corrected_with_a_note():
    trace, plan = _plan("two purpel baloons benaeth a clod")
    assert _colors(plan, "balloon") == ["purple", "purple"] and _colors(plan, "cloud")
    assert "read 'baloons' as 'balloons'" in trace


def test_corrector_leaves_real_words_alone():
    assert correct("bat") is None and correct("cart") is None and known("swaying")
    assert correct("tabel") == "table" and correct("yelow") == "yellow"


def test_colour_and_style_the_world_lacks():
    trace, plan = _plan("a maroon ball in anime style")
    assert _colors(plan, "ball") == ["red"] and plan.style == "cartoon"
    assert "'maroon' is not a world colour: nearest is red" in trace and "'anime' is not a world style" in trace


# --- counts, symbols, text ---------------------------------------------------------------------------------
@pytest.mark.parametrize("prompt, n, capped", [
    ("a pair of kites", 2, False), ("a couple of hearts", 2, False), ("a dozen cups", 12, False),
    ("sixteen balls", 12, True), ("forty-two stars", 12, True), ("a thousand clouds", 12, True),
    ("three dozen apples", 12, True),
])
def test_counts(prompt, n, capped):
    _, plan = _plan(prompt)
    assert len(plan.entities) == n and len({e.noun for e in plan.entities}) == 1
    assert any("capped" in w for w in plan.warnings) == capped


@pytest.mark.parametrize("prompt", ["moon + cloud", "moon & cloud", "moon/cloud", "moon , cloud"])
def test_terse_lists(prompt):
    _, plan = _plan(prompt)
    assert sorted(e.noun for e in plan.entities) == ["cloud", "moon"]


@pytest.mark.parametrize("prompt, text", [
    ("a banner that says GAME OVER flapping above a house", "GAME OVER"),
    ("a sign reading WET PAINT propped against a tree", "WET PAINT"),
    ("a sign that says C++ & C# next to a tree", "C++ & C#"),
    ("a poster saying OPEN 24/7 taped to a wall", "OPEN 24/7"),
])
def test_unquoted_text_ends_where_the_sentence_goes_on(prompt, text):
    _, plan = _plan(prompt)
    assert [t.content for t in plan.texts] == [text]
