"""Several images combined (issue 12, part 4): references to images, what comes from where, the base kept
whole (bit for bit outside the drawn regions) or the picture drawn anew, refusals, the CLI."""

import numpy as np
import pytest
from PIL import Image

from thinkdraw.edit.compose import plan_compose, resolve_images
from thinkdraw.edit.refs import EditRefused
from thinkdraw.engine import Engine


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("compose")
    e = Engine(renderer="sketch")
    out = {}
    for name, prompt in (("boat", "a red boat on the sea and a cloud"), ("fish", "a yellow fish in the sea at sunset"),
                         ("park", "a green tree and a house on the grass")):
        out[name] = str(d / f"{name}.png")
        e.generate(prompt, mode="think").save(out[name])
    return out


@pytest.fixture(scope="module")
def engine():
    return Engine(renderer="sketch")


@pytest.mark.parametrize("text,k", [("image 1", 0), ("the first image", 0), ("the second picture", 1),
                                    ("picture #2", 1), ("image two", 1), ("the last photo", 2), ("the 3rd image", 2),
                                    ("img 3", 2)])
def test_image_references(text, k):
    out, found = resolve_images(f"the boat from {text}", 3)
    assert found == [(text, k)] and out.endswith(f"@{k}")


def test_image_reference_out_of_range_and_other():
    with pytest.raises(EditRefused, match="no 'image 3'"):
        resolve_images("the boat from image 3", 2)
    out, found = resolve_images("the boat from image 2 into the other image", 2)
    assert [k for _, k in found] == [1, 0]


def _gen(engine, files, names, instruction, **kw):
    return engine.edit([files[n] for n in names], instruction, mode="think", **kw)


def _outside(r, path) -> int:
    src = np.asarray(Image.open(path).convert("RGB"))
    return int(((src != np.asarray(r.image)).any(-1) & ~r.changed).sum())


def test_boat_from_image_1_on_the_sea_of_image_2(engine, files):
    r = _gen(engine, files, ["boat", "fish"], "the boat from image 1 on the sea of image 2")
    assert r.ok and r.base == 1
    cats = sorted(e.category for e in r.plan.entities)
    assert cats == ["boat", "fish"]
    boat = next(e for e in r.plan.entities if e.category == "boat")
    assert boat.attributes.color == "red" and r.taken[boat.id] == (0, "boat_1")
    assert r.plan.background.time == "sunset"  # the setting is image 2's
    assert _outside(r, files["fish"]) == 0  # the base's pixels kept bit for bit outside the drawn region
    assert r.changed.mean() < 0.3
    text = r.reasoning.render()
    assert "from image 1" in text and "image 2 is kept as the base" in text


def test_next_to_a_thing_of_the_base_and_the_second_picture(engine, files):
    r = _gen(engine, files, ["boat", "park"], "put the boat from the first image next to the tree")
    assert r.ok and r.base == 1
    boat = next(e for e in r.plan.entities if e.category == "boat")
    tree = r.plan.entity("tree_1")
    gap = max(tree.box[0] - boat.box[2], boat.box[0] - tree.box[2])
    assert -0.01 <= gap < 0.1  # beside it
    assert _outside(r, files["park"]) == 0
    r2 = _gen(engine, files, ["boat", "park"], "take the cloud from image 1 and put it into the second picture")
    assert r2.ok and r2.base == 1 and any(e.category == "cloud" for e in r2.plan.entities)


def test_anchor_in_another_image(engine, files):
    r = _gen(engine, files, ["boat", "park"], "put the tree from image 2 to the right of the boat in image 1")
    assert r.ok and r.base == 0
    tree = next(e for e in r.plan.entities if e.category == "tree")
    assert (tree.box[0] + tree.box[2]) / 2 > (r.plan.entity("boat_1").box[0] + r.plan.entity("boat_1").box[2]) / 2
    assert _outside(r, files["boat"]) == 0


def test_background_only_is_drawn_anew(engine, files):
    r = _gen(engine, files, ["park", "fish"], "the tree from image 1 with the background of image 2, at night")
    assert r.ok and r.base is None and r.changed.all()
    assert [e.category for e in r.plan.entities] == ["tree"]  # the fish of image 2 is left out
    assert (r.plan.background.kind, r.plan.background.time) == ("sea", "night")
    assert "no pixel is kept from any source" in r.reasoning.render()


def test_things_from_every_image(engine, files):
    r = _gen(engine, files, ["boat", "park"], "the cloud from image 1 and the house from image 2")
    assert r.ok and r.base is None
    assert sorted(e.category for e in r.plan.entities) == ["cloud", "house"]
    assert r.plan.background.kind == "sea"  # the first image's background, said in the reasoning
    assert "every image gives things" in r.reasoning.render()


def test_more_edits_after_composing_apply_to_what_was_taken(engine, files):
    r = _gen(engine, files, ["boat", "park"], "the cloud from image 1 in image 2 and make it red")
    assert r.ok and r.base == 1
    assert next(e for e in r.plan.entities if e.category == "cloud").attributes.color == "red"


@pytest.mark.parametrize("instruction,kind", [("the dog from image 1 on image 2", "not_found"),
                                              ("the boat from image 3 on image 2", "not_found"),
                                              ("make it nice", "not_understood")])
def test_refusals(engine, files, instruction, kind):
    r = _gen(engine, files, ["boat", "park"], instruction)
    assert not r.ok and r.kind == kind and r.message


def test_plan_compose_keeps_category_colour_size_text():
    from thinkdraw.think import plan_prompt

    a = plan_prompt('a small blue sign that says "OPEN" on the grass')[1]
    b = plan_prompt("a yellow car on the grass")[1]
    out = plan_compose([a, b], "put the sign from image 1 next to the car in image 2")
    assert out.ok and out.base == 1
    sign = next(e for e in out.edit.result.entities if e.category == "sign")
    src = a.entities[0]
    assert (sign.attributes.color, sign.attributes.size) == (src.attributes.color, src.attributes.size)
    assert sign.box[2] - sign.box[0] == pytest.approx(src.box[2] - src.box[0], abs=1e-3)
    assert [t.content for t in out.edit.result.texts if t.on == sign.id] == ["OPEN"]


def test_cli_edit_with_several_images(tmp_path, files, capsys):
    from thinkdraw.cli import main

    out = tmp_path / "out.png"
    assert main(["edit", files["boat"], files["fish"], "the boat from image 1 on the sea of image 2", "-o", str(out),
                 "--renderer", "sketch", "--mode", "think"]) == 0
    assert "image 2 kept as the base" in capsys.readouterr().out
    from thinkdraw.plan.pngmeta import read_image_meta

    meta = read_image_meta(out)
    assert meta["base"] == 1 and len(meta["sources"]) == 2
    assert main(["compose", files["boat"], files["fish"], "the dog from image 1 on image 2", "-o",
                 str(tmp_path / "no.png"), "--renderer", "sketch", "--mode", "think"]) == 2
    assert "not edited" in capsys.readouterr().err and not (tmp_path / "no.png").exists()
    assert main(["compose", files["boat"], "the boat", "--renderer", "sketch"]) == 2
