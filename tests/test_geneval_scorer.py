"""The GenEval parse scorer (benchmarks/geneval_parse.py) on hand-made plans."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("geneval_parse", ROOT / "benchmarks" / "geneval_parse.py")
assert _spec and _spec.loader
gp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gp)


def ent(noun: str, color: str | None = None, box=(0.4, 0.4, 0.6, 0.6), i: int = 1) -> dict:
    return {"id": f"{noun}_{i}", "noun": noun, "attributes": {"color": color}, "box": list(box)}


def plan(*entities: dict) -> dict:
    return {"entities": list(entities)}


LEFT, RIGHT = (0.05, 0.4, 0.3, 0.6), (0.7, 0.4, 0.95, 0.6)
TOP, BOTTOM = (0.4, 0.05, 0.6, 0.3), (0.4, 0.7, 0.6, 0.95)

POSITION = {"tag": "position", "prompt": "a photo of a dog right of a teddy bear",
            "include": [{"class": "teddy bear", "count": 1},
                        {"class": "dog", "count": 1, "position": ["right of", 0]}]}
COUNTING = {"tag": "counting", "prompt": "a photo of three clocks",
            "include": [{"class": "clock", "count": 3}], "exclude": [{"class": "clock", "count": 4}]}
COLOR_ATTR = {"tag": "color_attr", "prompt": "a photo of a purple wine glass and a black apple",
              "include": [{"class": "wine glass", "count": 1, "color": "purple"},
                          {"class": "apple", "count": 1, "color": "black"}]}


def test_same_noun() -> None:
    assert gp.same_noun("Teddy-Bear", "teddy bear")
    assert gp.same_noun("boxes", "box")
    assert gp.same_noun("skis", "ski")
    assert gp.same_noun("horses", "horse")
    assert gp.same_noun("mice", "mouse")
    assert gp.same_noun("sandwiches", "sandwich")
    assert not gp.same_noun("dog", "hot dog")
    assert not gp.same_noun("cat", "car")


def test_position_correct_and_wrong() -> None:
    good = plan(ent("teddy bear", box=LEFT), ent("dog", box=RIGHT))
    s = gp.score_prompt(POSITION, good)
    assert s["correct"]
    assert s["criteria"] == {"classes": True, "counts": True, "colors": None, "positions": True, "texts": None}

    swapped = plan(ent("teddy bear", box=RIGHT), ent("dog", box=LEFT))
    s = gp.score_prompt(POSITION, swapped)
    assert not s["correct"] and s["criteria"]["positions"] is False and s["criteria"]["classes"]

    too_close = plan(ent("teddy bear", box=(0.40, 0.4, 0.6, 0.6)), ent("dog", box=(0.42, 0.4, 0.62, 0.6)))
    assert gp.score_prompt(POSITION, too_close)["criteria"]["positions"] is False

    no_boxes = plan({"id": "t", "noun": "teddy bear"}, {"id": "d", "noun": "dog"})
    assert gp.score_prompt(POSITION, no_boxes)["criteria"]["positions"] is False


@pytest.mark.parametrize("rel,subj,ref,ok", [
    ("above", TOP, BOTTOM, True), ("above", BOTTOM, TOP, False),
    ("below", BOTTOM, TOP, True), ("left of", LEFT, RIGHT, True), ("left of", RIGHT, LEFT, False),
])
def test_position_directions(rel: str, subj, ref, ok: bool) -> None:
    row = {"tag": "position", "prompt": "",
           "include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 1, "position": [rel, 0]}]}
    assert gp.score_prompt(row, plan(ent("cat", box=ref), ent("dog", box=subj)))["correct"] is ok


def test_counts_exact_and_exclude() -> None:
    three = plan(*(ent("clock", i=i) for i in range(3)))
    assert gp.score_prompt(COUNTING, three)["correct"]
    two = plan(*(ent("clock", i=i) for i in range(2)))
    s = gp.score_prompt(COUNTING, two)
    assert not s["correct"] and s["criteria"]["counts"] is False and s["criteria"]["classes"]
    four = plan(*(ent("clocks", i=i) for i in range(4)))  # plural nouns still match; 4 is excluded
    s = gp.score_prompt(COUNTING, four)
    assert not s["correct"] and any("fewer than 4" in r for r in s["reasons"])


def test_colors_every_entity() -> None:
    good = plan(ent("wine glass", "purple"), ent("apple", "black"))
    assert gp.score_prompt(COLOR_ATTR, good)["correct"]
    swapped = plan(ent("wine glass", "black"), ent("apple", "purple"))
    s = gp.score_prompt(COLOR_ATTR, swapped)
    assert not s["correct"] and s["criteria"]["colors"] is False and s["criteria"]["counts"]
    missing = plan(ent("apple", "black"))
    s = gp.score_prompt(COLOR_ATTR, missing)
    assert s["criteria"] == {"classes": False, "counts": False, "colors": False, "positions": None, "texts": None}


def test_no_plan_and_aggregate() -> None:
    rows = [POSITION, COUNTING, COLOR_ATTR]
    plans = [plan(ent("teddy bear", box=LEFT), ent("dog", box=RIGHT)), None,
             plan(ent("wine glass", "purple"), ent("apple", "red"))]
    r = gp.score_all(rows, plans)
    assert r["n"] == 3 and r["correct"] == 1 and abs(r["overall"] - 1 / 3) < 1e-9
    assert r["per_tag"]["position"]["acc"] == 1.0 and r["per_tag"]["counting"]["acc"] == 0.0
    assert r["per_criterion"]["colors"]["n"] == 1 and r["per_criterion"]["colors"]["passed"] == 0
    assert r["n_failures"] == 2
    text = gp.format_report(r)
    assert "overall" in text and "no plan" in text


def test_align_by_prompt_and_errors() -> None:
    rows = [dict(POSITION), dict(COUNTING)]
    outputs = [{"prompt": COUNTING["prompt"], "plan": {"entities": []}}]
    assert gp.align(rows, outputs) == [None, {"entities": []}]
    rows = [dict(POSITION)]
    assert gp.align(rows, [{"prompt": POSITION["prompt"], "error": "boom"}]) == [None]
    s = gp.score_prompt(rows[0], None)
    assert s["reasons"] == ["planner error: boom"] and s["criteria"]["positions"] is False


def test_texts_and_categories_for_world_rows() -> None:
    row = {"tag": "text", "prompt": "a mug and a sign that says OPEN",
           "include": [{"class": "mug", "count": 1}, {"class": "sign", "count": 1}], "texts": ["OPEN"]}
    p = {"entities": [ent("cup") | {"category": "cup"}, ent("sign")], "texts": [{"content": "OPEN"}]}
    assert not gp.score_prompt(row, p)["correct"]  # noun "cup" is not "mug" ...
    row["include"][0]["class"] = "cup"
    assert gp.score_prompt(row, p, by_category=True)["correct"]  # ... but its category is
    p["texts"] = [{"content": "Open"}]
    s = gp.score_prompt(row, p, by_category=True)
    assert not s["correct"] and s["criteria"]["texts"] is False


def test_world_rows_are_scoreable() -> None:
    rows = gp.world_rows(30, "heldout", 0)
    assert len(rows) == 30 and all(r["include"] for r in rows)
    r = gp.score_all(rows, [None] * 30, by_category=True)
    assert r["overall"] == 0.0 and r["per_criterion"]["classes"]["n"] == 30


def _oracle(row: dict) -> dict:
    """A plan that satisfies a metadata row exactly: each include class on its own spot."""
    spots = [(0.1, 0.1), (0.6, 0.6)]
    ents = []
    for k, inc in enumerate(row["include"]):
        x, y = spots[k % 2]
        for i in range(inc["count"]):
            ents.append(ent(inc["class"], inc.get("color"), box=(x, y, x + 0.3, y + 0.3), i=i))
    if any("position" in inc for inc in row["include"]):  # put the subject on the required side
        rel, j = row["include"][1]["position"]
        subj = {"right of": RIGHT, "left of": LEFT, "above": TOP, "below": BOTTOM}[rel]
        ref = {"right of": LEFT, "left of": RIGHT, "above": BOTTOM, "below": TOP}[rel]
        for e in ents:
            e["box"] = list(ref if gp.same_noun(e["noun"], row["include"][j]["class"]) else subj)
    return plan(*ents)


def test_oracle_plans_score_perfectly_on_geneval() -> None:
    path = next((p for p in gp.METADATA_CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip("GenEval metadata not available")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    r = gp.score_all(rows, [_oracle(row) for row in rows])
    assert r["overall"] == 1.0, r["failures"][:3]
    assert set(r["per_tag"]) == {"single_object", "two_object", "counting", "colors", "position", "color_attr"}
