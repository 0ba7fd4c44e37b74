import json

import pytest
from pydantic import ValidationError

from thinkdraw.plan import (
    Entity,
    Relation,
    ScenePlan,
    TextBlock,
    from_got,
    from_pixels_xywh,
    to_got,
    to_pixels_xywh,
)


def test_box_converters_round_trip():
    box = (0.1, 0.25, 0.5, 0.75)
    assert to_got(box) == (100, 250, 500, 750)
    assert from_got(to_got(box)) == pytest.approx(box)
    xywh = to_pixels_xywh(box, 256, 256)
    assert xywh == (26, 64, 102, 128)
    assert from_pixels_xywh(xywh, 256, 256) == pytest.approx(box, abs=1 / 256)


@pytest.mark.parametrize("box", [(0.5, 0.1, 0.4, 0.2), (0.1, 0.1, 1.5, 0.2), (-0.2, 0, 0.1, 0.1), (0.1, 0.3, 0.2, 0.3)])
def test_bad_boxes_are_rejected(box):
    with pytest.raises(ValidationError):
        Entity(id="a", noun="apple", box=box)


def test_plan_json_round_trip_and_schema():
    plan = ScenePlan(
        prompt="x",
        entities=[Entity(id="sign_1", noun="sign", category="sign", box=(0.1, 0.1, 0.5, 0.5)),
                  Entity(id="apple_1", noun="apple", category="apple", group="apple"),
                  Entity(id="apple_2", noun="apple", category="apple", group="apple")],
        relations=[Relation(subject="apple", predicate="left_of", object="sign_1")],
        texts=[TextBlock(id="t1", content="OPEN", on="sign_1")],
    )
    again = ScenePlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert [e.id for e in again.members("apple")] == ["apple_1", "apple_2"]
    schema = ScenePlan.model_json_schema()
    assert "entities" in schema["properties"]
    json.dumps(schema)


def test_plan_rejects_dangling_references_and_duplicates():
    with pytest.raises(ValidationError, match="unknown entity or group"):
        ScenePlan(entities=[Entity(id="a", noun="apple")], relations=[Relation(subject="a", predicate="above", object="b")])
    with pytest.raises(ValidationError, match="duplicate"):
        ScenePlan(entities=[Entity(id="a", noun="apple"), Entity(id="a", noun="cup")])
    with pytest.raises(ValidationError, match="unknown entity"):
        ScenePlan(texts=[TextBlock(id="t", content="HI", on="nobody")])
    with pytest.raises(ValidationError, match="between"):
        Relation(subject="a", predicate="between", object="b")


def test_plan_version_is_checked():
    with pytest.raises(ValidationError, match="unsupported plan version"):
        ScenePlan(version="2.0")
    assert ScenePlan(version="1.3").version == "1.3"


def test_with_article_is_the_one_rule_every_stage_writes():
    from thinkdraw.plan.words import with_article

    assert [with_article(w) for w in ("ball", "apple", "orange star", "Umbrella")] == [
        "a ball", "an apple", "an orange star", "an Umbrella"]
