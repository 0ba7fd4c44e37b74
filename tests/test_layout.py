import pytest

from thinkdraw.plan import Attributes, Background, Entity, Relation, ScenePlan, TextBlock, box_center
from thinkdraw.world.font import text_extent
from thinkdraw.world.layout import check_layout, relation_holds, solve_layout


def E(i, noun, cat=None, group=None, box=None, **attrs):
    return Entity(id=i, noun=noun, category=cat, group=group, box=box, attributes=Attributes(**attrs))


def _all_placed(plan):
    return all(e.box is not None for e in plan.entities) and all(t.box is not None for t in plan.texts)


@pytest.mark.parametrize("pred", ["left_of", "right_of", "above", "below"])
@pytest.mark.parametrize("pair", [("apple", "cup"), ("sun", "tree"), ("bird", "car"), ("dog", "cat"), ("fish", "boat")])
def test_relations_hold_with_clear_margin(pred, pair):
    a, b = pair
    plan = ScenePlan(entities=[E("a", a, a if a not in ("dog", "cat") else None), E("b", b, b if b not in ("dog", "cat") else None)],
                     relations=[Relation(subject="a", predicate=pred, object="b")])
    res = solve_layout(plan)
    assert res.unsatisfied == []
    p = res.plan
    assert relation_holds(pred, p.entity("a").box, p.entity("b").box, margin=0.05)


@pytest.mark.parametrize("n", [1, 3, 6, 12])
@pytest.mark.parametrize("cat", ["apple", "star", "bird", "tree"])
def test_counts_laid_out_without_overlap(n, cat):
    plan = ScenePlan(entities=[E(f"{cat}_{k}", cat, cat, cat) for k in range(n)])
    res = solve_layout(plan, seed=3)
    assert _all_placed(res.plan)
    assert not [u for u in res.unsatisfied if "overlaps" in u]
    for e in res.plan.entities:
        x0, y0, x1, y1 = e.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert (x1 - x0) * 256 >= 10  # big enough to see and count


def test_gravity_and_sky():
    plan = ScenePlan(background=Background(kind="grass"),
                     entities=[E("car", "car", "car"), E("house", "house", "house"), E("sun", "sun", "sun"),
                               E("balloon", "balloon", "balloon")])
    p = solve_layout(plan).plan
    for g in ("car", "house"):
        e = p.entity(g)
        assert e.supported_by == "ground"
        assert 0.6 <= e.box[3] <= 1.0  # bottom edge on a ground line below the horizon
    for s in ("sun", "balloon"):
        e = p.entity(s)
        assert e.supported_by == "air"
        assert box_center(e.box)[1] < 0.6


def test_on_stacks_subject_on_its_support():
    plan = ScenePlan(entities=[E("apple", "apple", "apple"), E("table", "table", "table")],
                     relations=[Relation(subject="apple", predicate="on", object="table")])
    res = solve_layout(plan)
    a, t = res.plan.entity("apple"), res.plan.entity("table")
    assert abs(a.box[3] - t.box[1]) < 0.02 and a.supported_by == "table"
    assert t.box[0] <= box_center(a.box)[0] <= t.box[2]
    assert res.unsatisfied == []


def test_between():
    plan = ScenePlan(entities=[E("c", "cat"), E("d", "dog"), E("b", "bird", "bird")],
                     relations=[Relation(subject="c", predicate="between", object="d", object2="b")])
    res = solve_layout(plan)
    assert res.unsatisfied == []
    xs = {e.id: box_center(e.box)[0] for e in res.plan.entities}
    assert min(xs["d"], xs["b"]) < xs["c"] < max(xs["d"], xs["b"])


def test_text_box_fits_string_inside_sign():
    plan = ScenePlan(entities=[E("s", "sign", "sign")], texts=[TextBlock(id="t", content="GRAND OPENING 2026", on="s")])
    res = solve_layout(plan)
    s, t = res.plan.entity("s"), res.plan.texts[0]
    assert s.box[0] <= t.box[0] and t.box[2] <= s.box[2] and s.box[1] <= t.box[1] and t.box[3] <= s.box[3]
    w_px = (t.box[2] - t.box[0]) * 256
    # at the smallest legible size (14 px) the string fits the text box
    assert text_extent("GRAND OPENING 2026", 14)[0] <= w_px


def test_given_boxes_are_validated_and_repaired_never_silently():
    # the LLM put a car in the sky and swapped a left/right relation
    plan = ScenePlan(background=Background(kind="grass"),
                     entities=[E("car", "car", "car", box=(0.1, 0.1, 0.4, 0.3)), E("tree", "tree", "tree", box=(0.6, 0.4, 0.8, 0.9))],
                     relations=[Relation(subject="car", predicate="right_of", object="tree")])
    res = solve_layout(plan)
    car = res.plan.entity("car")
    assert car.box[3] > 0.6  # pulled down to the ground
    assert relation_holds("right_of", car.box, res.plan.entity("tree").box)
    assert any("gravity" in n for n in res.notes) and any("swapped" in n for n in res.notes)
    assert check_layout(res.plan) == []


def test_unsatisfiable_is_reported():
    plan = ScenePlan(entities=[E("a", "cat"), E("b", "dog")],
                     relations=[Relation(subject="a", predicate="left_of", object="b"),
                                Relation(subject="b", predicate="left_of", object="a")])
    res = solve_layout(plan)
    assert res.unsatisfied  # a cycle cannot hold
    assert any("could not satisfy" in w for w in res.plan.warnings)


def test_deterministic_per_seed():
    plan = ScenePlan(entities=[E(f"s{k}", "star", "star", "star") for k in range(4)] + [E("h", "heart", "heart")])
    a, b = solve_layout(plan, seed=1).plan, solve_layout(plan, seed=1).plan
    assert a == b


def test_a_row_under_a_narrow_thing_reaches_past_its_sides_and_each_one_stays_under_it():
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.layout import check_layout, relation_holds

    _, plan = plan_prompt("a brown balloon with three grey cars underneath it", seed=1)
    balloon = next(e for e in plan.entities if e.category == "balloon")
    cars = [e for e in plan.entities if e.category == "car"]
    assert len(cars) == 3 and not check_layout(plan)
    for c in cars:
        assert (c.box[2] - c.box[0]) * 256 >= 18  # were squeezed into the balloon's width: 9 px each
        assert relation_holds("under", c.box, balloon.box)


def test_a_large_thing_is_big_in_the_picture_not_only_for_its_kind():
    from thinkdraw.think import plan_prompt
    from thinkdraw.world.layout import LARGE_MIN_WIDTH, check_layout

    _, plan = plan_prompt("draw a huge cup and two moons", seed=0)
    cup = next(e for e in plan.entities if e.category == "cup")
    moons = [e for e in plan.entities if e.category == "moon"]
    assert cup.attributes.size == "large" and not check_layout(plan)
    assert cup.box[2] - cup.box[0] >= LARGE_MIN_WIDTH - 1e-6
    assert all(cup.box[2] - cup.box[0] > m.box[2] - m.box[0] for m in moons)  # was 0.15 against the moons' 0.18
    _, small = plan_prompt("a small cup", seed=0)
    _, plain = plan_prompt("a cup", seed=0)
    w = [p.entities[0].box[2] - p.entities[0].box[0] for p in (small, plain)]
    assert w[0] < w[1] < LARGE_MIN_WIDTH  # the other sizes stay relative to the kind
