"""The fidelity scorer (eval/fidelity.py): passes what the world draws exactly, flags what is wrong."""

import shutil

import pytest

from thinkdraw.eval.fidelity import ocr, score_image
from thinkdraw.think import plan_prompt
from thinkdraw.world.render import render_scene


@pytest.mark.parametrize("prompt", ["two red apples left of a blue cup", "three yellow balloons above a green tree",
                                    "a boat on the sea at sunset", "a purple heart below an orange star"])
def test_sketch_renders_pass(prompt):
    _, plan = plan_prompt(prompt)
    f = score_image(render_scene(plan).image, plan, text=False)
    assert f.all_passed, [x for x in f.facts if not x.passed]


def test_defects_are_flagged():
    _, plan = plan_prompt("two red apples left of a blue cup")
    missing = plan.model_copy(deep=True)
    missing.entities = [e for e in missing.entities if e.id != "apple_2"]
    missing.relations = []
    f = score_image(render_scene(missing).image, plan, text=False)
    failed = {(x.kind, x.target) for x in f.facts if not x.passed}
    assert ("present", "apple_2") in failed and ("count", "apple") in failed
    recolored = plan.model_copy(deep=True)
    recolored.entity("cup_1").attributes.color = "green"
    f = score_image(render_scene(recolored).image, plan, text=False)
    assert [(x.kind, x.target) for x in f.facts if not x.passed] == [("color", "cup_1")]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract-ocr (installed by .ci/run)")
def test_ocr_reads_a_sketch_sign():
    _, plan = plan_prompt("a sign that says OPEN 24")
    img = render_scene(plan).image
    f = score_image(img, plan, text=True)
    assert [x.passed for x in f.facts if x.kind == "text"] == [True]
    t = plan.texts[0]
    w, h = img.size
    assert ocr(img.crop((int(t.box[0] * w), int(t.box[1] * h), int(t.box[2] * w), int(t.box[3] * h)))) == "OPEN 24"
