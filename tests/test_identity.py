"""The eval judge's identity facts (eval/identity.py): sketch renders pass, swaps and blobs fail."""

import pytest

from thinkdraw.eval.defects import BLOB_KINDS, blob_image
from thinkdraw.eval.fidelity import score_image
from thinkdraw.think import plan_prompt
from thinkdraw.world.render import render_scene


def _identity(img, plan):
    return {x.target: x.passed for x in score_image(img, plan, text=False, identity=True).facts if x.kind == "identity"}


@pytest.mark.parametrize("prompt", ["a red house next to a green tree", "a boat on the sea at sunset"])
def test_sketch_renders_pass_identity(prompt):
    _, plan = plan_prompt(prompt)
    ids = _identity(render_scene(plan).image, plan)
    assert ids and all(ids.values()), score_image(render_scene(plan).image, plan, text=False, identity=True).facts


def test_class_agnostic_scorer_has_no_identity():
    _, plan = plan_prompt("a red house next to a green tree")
    f = score_image(render_scene(plan).image, plan, text=False, identity=False)
    assert f.facts and not [x for x in f.facts if x.kind == "identity"]


def test_swapped_category_fails_identity():
    _, plan = plan_prompt("a red house next to a green tree")
    bad = plan.model_copy(deep=True)
    bad.entity("house_1").category = "car"
    ids = _identity(render_scene(bad).image, plan)
    assert ids["house_1"] is False and ids["tree_1"] is True


@pytest.mark.parametrize("kind", BLOB_KINDS)
def test_blobs_fail_identity(kind):
    _, plan = plan_prompt("a red house next to a green tree")
    img, iou, _ = blob_image(plan, "house_1", kind)
    assert iou < 1.0
    ids = _identity(img, plan)
    assert ids["house_1"] is False and ids["tree_1"] is True


def test_crispness_sees_outlines_not_blurs():
    import numpy as np

    from thinkdraw.eval.identity import CRISP_MIN, crispness, exclusions
    from thinkdraw.pixels import background_of

    _, plan = plan_prompt("a red house next to a green tree")
    e = plan.entity("house_1")
    bg = background_of(plan, 256, 256)
    clean = crispness(np.asarray(render_scene(plan).image, np.float32), bg, e.box, exclusions(plan, e))[0]
    for kind in ("blur", "smear", "ellipse"):
        blob = crispness(np.asarray(blob_image(plan, "house_1", kind)[0], np.float32), bg, e.box, exclusions(plan, e))[0]
        assert blob < CRISP_MIN["house"] <= clean, (kind, blob, clean)


def test_edge_sharpness_sees_blurred_and_smeared_edges_that_crispness_lets_through():
    """A small book's smear keeps some crisp steps (over the book's crispness floor), a blur of a black star at
    night has no outline to be held to: both spread their edges over several pixels, which the clean renders
    do not."""
    import numpy as np
    from PIL import Image, ImageFilter

    from thinkdraw.eval.identity import CRISP_MIN, SHARP_MIN, crispness, edge_sharpness, exclusions
    from thinkdraw.pixels import background_of

    for prompt, cat, kinds in (("count them: 2 books", "book", ("blur", "smear")),
                               ("a large black star at night", "star", ("blur",))):
        _, plan = plan_prompt(prompt)
        e = next(x for x in plan.entities if x.category == cat)
        bg, ex = background_of(plan, 256, 256), exclusions(plan, e)
        assert edge_sharpness(np.asarray(render_scene(plan).image, np.float32), bg, e.box, ex) >= SHARP_MIN
        for kind in kinds:
            img = np.asarray(blob_image(plan, e.id, kind)[0], np.float32)
            assert 0 <= edge_sharpness(img, bg, e.box, ex) < SHARP_MIN, (prompt, kind)
            f = score_image(Image.fromarray(img.astype(np.uint8)), plan, text=False, identity=True).facts
            assert not next(x for x in f if x.kind == "identity" and x.target == e.id).passed, (prompt, kind)
    _, plan = plan_prompt("count them: 2 books")
    e = plan.entity("book_1")
    smear = np.asarray(blob_image(plan, e.id, "smear")[0], np.float32)
    assert crispness(smear, background_of(plan, 256, 256), e.box, exclusions(plan, e))[0] >= CRISP_MIN["book"]
    # a hard edge is 1; the same edge blurred over several pixels falls under the floor (a ramp tends to 1/3)
    step = np.zeros((40, 40, 3), np.float32)
    step[10:30, 10:30] = 200.0
    flat = np.zeros_like(step)
    assert edge_sharpness(step, flat, (0.0, 0.0, 1.0, 1.0)) == 1.0
    soft = np.asarray(Image.fromarray(step.astype(np.uint8)).filter(ImageFilter.GaussianBlur(3)), np.float32)
    assert edge_sharpness(soft, flat, (0.0, 0.0, 1.0, 1.0)) < SHARP_MIN


def test_soft_rim_for_things_whose_outline_does_not_stand_out():
    """A yellow moon at night: its dark outline lies between the sky and its fill, so it is held to an
    anti-aliased rim instead of crispness; the clean render has one, a smear (a hard-edged closing) does not."""
    import numpy as np

    from thinkdraw.eval.identity import RIM_MIN, exclusions, outline_visible, soft_rim
    from thinkdraw.pixels import background_of

    _, plan = plan_prompt("a yellow moon in the night sky")
    e = next(x for x in plan.entities if x.category == "moon")
    bg = background_of(plan, 256, 256)
    assert not outline_visible(e, bg)
    clean = soft_rim(np.asarray(render_scene(plan).image, np.float32), bg, e.box, exclusions(plan, e))
    assert clean >= RIM_MIN
    img = blob_image(plan, e.id, "smear")[0]
    assert soft_rim(np.asarray(img, np.float32), bg, e.box, exclusions(plan, e)) < RIM_MIN
    assert _identity(img, plan)[e.id] is False


def test_object_mask_takes_light_gray_for_a_thing_and_a_world_shadow_for_a_shadow():
    import numpy as np

    from thinkdraw.eval.identity import object_mask
    from thinkdraw.world.render import cast_shadow

    wall = np.full((40, 40, 3), 235.0, np.float32)
    # the world's own cast shadow (the darkest it gets) is not an object ...
    shadowed = wall.copy()
    cov = np.zeros((40, 40), np.float32)
    cov[10:30, 10:30] = 1.0
    cast_shadow(shadowed, cov, 0, 0, "left", 40.0)
    assert shadowed.min() < 235 * 0.75  # it does darken
    assert not object_mask(shadowed, wall).any()
    # ... but a light-gray thing on that wall (what the generator draws for "gray": fill 140-160) is
    gray = wall.copy()
    gray[10:30, 10:30] = 155.0
    assert object_mask(gray, wall)[10:30, 10:30].all()


@pytest.mark.parametrize("kind", ["ellipse", "blur"])
def test_moon_whose_outline_the_night_hides_is_held_to_its_layout_floor(kind):
    import numpy as np

    from thinkdraw.eval.identity import SOFT_LAYOUT, category_scores, exclusions
    from thinkdraw.pixels import background_of

    _, plan = plan_prompt("a moon at night")
    e = plan.entities[0]
    assert e.category == "moon" and "moon" in SOFT_LAYOUT
    assert _identity(render_scene(plan).image, plan)[e.id] is True
    img, _, _ = blob_image(plan, e.id, kind)
    arr = np.asarray(img, np.float32)
    lay, _ = category_scores(arr, background_of(plan, 256, 256), e.box, e.attributes.color, exclusions(plan, e))
    assert lay["moon"] < SOFT_LAYOUT["moon"]  # what the floor is for
    assert _identity(img, plan)[e.id] is False
