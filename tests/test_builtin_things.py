"""The builtin renderer: things drawn one per box by the thing generator, composed over a background."""

import numpy as np
import pytest
import torch

from thinkdraw.plan.schema import Attributes, Entity, ScenePlan, TextBlock


@pytest.fixture(scope="module")
def tiny_things(tiny_renderer):
    from thinkdraw.draw.builtin import BuiltinRenderer
    from thinkdraw.models.things import ThingConfig, ThingNet

    torch.manual_seed(0)
    net = ThingNet(ThingConfig(size=16, ch=(8, 8, 8), cond_dim=16, cat_emb=8)).eval()
    with torch.no_grad():
        net.out[-1].weight.normal_(0, 0.2)
        net.out[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 1.5]))  # opaque things: a visible matte
    return BuiltinRenderer(steps=2, things=net, scene=tiny_renderer)


def _plan(**kw) -> ScenePlan:
    ents = [Entity(id="a", noun="apple", category="apple", attributes=Attributes(color="red"), box=(0.1, 0.5, 0.4, 0.8)),
            Entity(id="b", noun="cup", category="cup", attributes=Attributes(color="blue"), box=(0.5, 0.5, 0.8, 0.8), z=1)]
    return ScenePlan(prompt="a red apple and a blue cup", entities=ents, **kw)


def test_things_are_drawn_inside_their_boxes_deterministically(tiny_things):
    plan = _plan()
    r1, r2 = tiny_things.draw(plan, seed=3), tiny_things.draw(plan, seed=3)
    assert r1.image.size == (256, 256) and r1.image.tobytes() == r2.image.tobytes()
    assert r1.info["things"] == 2
    inst = r1.instance_mask
    for i, e in enumerate(plan.entities):
        ys, xs = np.nonzero(inst == i + 1)
        assert len(ys) > 0
        x0, y0, x1, y1 = (np.array(e.box) * 256).round()
        assert xs.min() >= x0 - 1 and xs.max() <= x1 and ys.min() >= y0 - 1 and ys.max() <= y1
    assert tiny_things.draw(plan, seed=4).image.tobytes() != r1.image.tobytes()


def test_a_thing_looks_the_same_whatever_else_is_planned(tiny_things):
    """Each thing's noise comes from the seed and its own id: adding a thing does not redraw the others."""
    plan = _plan()
    one = plan.model_copy(update={"entities": plan.entities[:1]})
    a = np.asarray(tiny_things.draw(plan, seed=1).image)
    b = np.asarray(tiny_things.draw(one, seed=1).image)
    x0, y0, x1, y1 = (np.array(plan.entities[0].box) * 256).astype(int)
    # the apple's pixels (left of the cup and its shadow) are identical
    assert np.array_equal(a[y0 + 4:y1 - 4, x0 + 4:x1 - 8], b[y0 + 4:y1 - 4, x0 + 4:x1 - 8])


def test_masked_redraw_keeps_every_pixel_outside_the_mask(tiny_things):
    plan = _plan()
    base = tiny_things.draw(plan, seed=0).image
    m = np.zeros((256, 256), bool)
    m[120:210, 120:210] = True
    out = tiny_things.draw(plan, seed=9, mask=m, init=base)
    a, b = np.asarray(base), np.asarray(out.image)
    assert np.array_equal(a[~m], b[~m]) and not np.array_equal(a[m], b[m])
    assert out.info["things"] == 1  # only the cup touches the mask: only it is sampled


def test_text_is_stamped_letter_exact_and_unknown_things_are_labelled_placeholders(tiny_things):
    from thinkdraw.world.render import render_glyphs

    plan = _plan(texts=[TextBlock(id="t0", content="OPEN", box=(0.1, 0.05, 0.9, 0.3), color="black")])
    plan.entities.append(Entity(id="c", noun="giraffe", category=None, box=(0.55, 0.1, 0.95, 0.45), z=2))
    res = tiny_things.draw(plan, seed=0)
    arr = np.asarray(res.image).astype(int)
    glyph = render_glyphs(plan)[..., 0] > 0.9
    assert glyph.sum() > 100 and arr[glyph].max() < 60  # black letters where the font puts them
    assert res.info["things"] == 2  # the giraffe is not sampled: a placeholder is drawn instead
    inst = res.instance_mask
    assert (inst == 3).sum() > 0.5 * (0.4 * 256) ** 2


def test_direct_mode_reads_nouns_only():
    from thinkdraw.draw.builtin import direct_plan
    from thinkdraw.plan.schema import Canvas

    p = direct_plan("three red balloons above a green house at night", 0, Canvas())
    assert [(e.category, e.attributes.color) for e in p.entities] == [("balloon", "red"), ("house", "green")]
    assert p.background.time == "night" and not p.texts
    assert direct_plan("two blue stars", 0, Canvas()).background.kind == "plain"


def test_errors_are_clear(tiny_things):
    with pytest.raises(ValueError, match="mode"):
        tiny_things.draw(_plan(), mode="sideways")
    with pytest.raises(ValueError, match="both mask and init"):
        tiny_things.draw(_plan(), mask=np.zeros((256, 256), bool))
    with pytest.raises(ValueError, match="unplaced"):
        tiny_things.draw(ScenePlan(entities=[Entity(id="x", noun="cup", category="cup")]))


def test_things_training_script_runs_resumes_and_draws_its_grid(tmp_path):
    import json

    from thinkdraw.train.things import ThingTrainConfig, train

    out = tmp_path / "things"
    cfg = ThingTrainConfig(out=str(out), size=16, ch="8,8,8", crops=12, steps=2, batch=4, log_every=1, ckpt_every=1)
    train(cfg, log=lambda *a: None)
    cfg.steps = 3
    train(cfg, resume=True, log=lambda *a: None)
    log = json.loads((out / "train_log.json").read_text())
    assert [r["step"] for r in log["records"]] == [1, 2, 3]
    for name in ("things.safetensors", "loss_curve.png", "samples.png", "data.npz"):
        assert (out / name).is_file(), name


def test_thing_crops_are_the_worlds_drawing_stretched_to_a_square():
    from thinkdraw.train.things import thing_crop
    from thinkdraw.world.vocab import COLORS

    rng = np.random.default_rng(0)
    x = thing_crop("square", COLORS["blue"], 120.0, 60.0, 32, rng)
    assert x.shape == (4, 32, 32) and x.dtype == np.uint8
    assert x[3, 8:24, 8:24].min() == 255 and x[3].mean() > 200  # a square fills its stretched box
    inner = x[:3, 10:22, 10:22].reshape(3, -1).mean(1)
    assert inner[2] > 150 and inner[0] < 90  # blue


def test_a_variant_fixes_the_drawers_choices_and_only_them():
    """Same variant: the same drawing whatever the placement noise (a bird faces one way, the roof keeps
    its colour); other variants differ (both facings appear over 8 variants)."""
    from thinkdraw.train.things import thing_crop
    from thinkdraw.world.vocab import COLORS

    a = thing_crop("bird", COLORS["blue"], 90.0, 70.0, 32, np.random.default_rng(1), variant=3).astype(int)
    b = thing_crop("bird", COLORS["blue"], 90.0, 70.0, 32, np.random.default_rng(2), variant=3).astype(int)
    assert np.abs(a - b).mean() < 6  # sub-pixel placement only
    others = [thing_crop("bird", COLORS["blue"], 90.0, 70.0, 32, np.random.default_rng(1), variant=v).astype(int)
              for v in range(8)]
    assert max(np.abs(o - a).mean() for o in others) > 20
    heads = {int(np.argmax(o[3, :12].sum(0)) > 16) for o in others}  # where the head (top rows) sits
    assert heads == {0, 1}


def test_variant_conditioned_generator_trains_and_samples_each_variant(tmp_path):
    from thinkdraw.draw.things import sample_things
    from thinkdraw.models.things import ThingConfig, ThingNet
    from thinkdraw.train.things import ThingTrainConfig, train
    from thinkdraw.world.vocab import COLORS

    cfg = ThingTrainConfig(out=str(tmp_path / "t"), size=16, ch="8,8,8", crops=12, steps=1, batch=4, variants=4,
                           log_every=1, ckpt_every=1)
    path = train(cfg, log=lambda *a: None)
    from thinkdraw.models.bundled import load_things

    net = load_things(path)
    assert net.config.n_variants == 4
    torch.manual_seed(0)
    net = ThingNet(ThingConfig(size=16, ch=(8, 8, 8), cond_dim=16, cat_emb=8, n_variants=4)).eval()
    with torch.no_grad():
        for prm in net.parameters():  # zero-initialised FiLM layers ignore every condition at init
            prm.normal_(0, 0.1)
    item = [("bird", COLORS["red"], 40.0, 30.0)]
    v0 = sample_things(net, item, seed=[5], steps=2, variants=[0])[0]
    v1 = sample_things(net, item, seed=[5], steps=2, variants=[1])[0]
    assert not np.array_equal(v0, v1)  # same noise, another variant: another drawing
    default = sample_things(net, item, seed=[5], steps=2)[0]  # variant from the seed: 5 % 4 = 1
    assert np.array_equal(default, v1)
    with pytest.raises(ValueError, match="variant"):
        sample_things(net, item, seed=[5], steps=2, variants=[4])


def test_verifier_blob_scenes_replace_one_thing_by_a_blob_labelled_nothing():
    import random

    from thinkdraw.train.verifier import scene_crops

    rng = random.Random(3)
    items = [it for _ in range(12) for it in scene_crops(rng, "train", 32, 0.25, 0.0, 0.0, augmented=False,
                                                         blob_frac=1.0)]
    labels = [it[1] for it in items]
    # each scene gives one empty spot at most; blobs add "nothing" crops that carry a colour
    assert sum(1 for it in items if it[1] == 0 and it[2] > 0) >= 3 and any(lab > 0 for lab in labels)


def test_the_former_whole_scene_renderer_stays_available_by_name():
    from thinkdraw.draw.base import renderer_names

    assert {"builtin", "scene", "sketch"} <= set(renderer_names())


def test_background_phantoms_are_flattened_and_rows_kept_exactly():
    from thinkdraw.draw.builtin import flatten_background

    rows = np.linspace(40, 220, 64, dtype=np.float32)
    img = np.repeat(np.stack([rows, rows * 0.8, rows * 0.5], -1)[:, None, :], 64, axis=1)
    img[40:] += 30.0  # a horizon: a sharp step between two rows
    clean = img.copy()
    yy, xx = np.mgrid[:64, :64]
    blob = 60.0 * np.exp(-((yy - 20) ** 2 + (xx - 12) ** 2) / (2 * 5.0 ** 2))
    img[..., 0] += blob  # a faint reddish phantom, as the scene generator dreams into an empty plan
    assert np.allclose(flatten_background(clean), clean, atol=1e-3)  # a clean background is untouched
    clean[10, 50] = img[10, 50] = 250.0  # a star: a 1 px detail is kept (dimmed a little at most)
    out = flatten_background(img)
    assert out[10, 50].min() > 230
    assert np.abs(img - clean).max() > 50
    assert np.abs(np.delete(out - clean, 50, axis=1)).max() < 6  # the phantom is gone


def test_background_rows_take_the_world_colours_of_the_plan_and_keep_their_texture():
    from thinkdraw.draw.builtin import match_background
    from thinkdraw.pixels import background_of

    plan = ScenePlan(prompt="a wall at night", background={"kind": "wall", "time": "night"})
    world = background_of(plan, 64, 64)
    rng = np.random.default_rng(0)
    texture = rng.normal(0.0, 3.0, (64, 64, 3)).astype(np.float32)
    day_like = np.full((64, 64, 3), 230.0, np.float32) + texture  # the generator drew it as by day
    out = match_background(day_like, plan)
    assert np.abs(np.median(out, axis=1) - np.median(world, axis=1)).max() < 1e-3  # each row: the world's colour
    assert np.allclose(out - np.median(out, axis=1, keepdims=True),
                       day_like - np.median(day_like, axis=1, keepdims=True), atol=1e-3)  # texture kept


def test_unsharp_crisps_a_stretched_outline_inside_its_matte_only():
    from thinkdraw.draw.builtin import _stretch

    S = 32
    rgba = np.zeros((S, S, 4), np.uint8)
    rgba[4:28, 4:28] = (240, 240, 240, 255)  # a white square ...
    rgba[4:28, 4] = rgba[4:28, 27] = rgba[4, 4:28] = rgba[27, 4:28] = (60, 60, 60, 255)  # ... with a 1 px outline
    import thinkdraw.draw.builtin as B

    old = B.UNSHARP
    try:
        B.UNSHARP = 0.0
        soft, cov0 = _stretch(rgba, 0, 0, 128, 128, 128, 128)
        B.UNSHARP = 1.0
        sharp, cov1 = _stretch(rgba, 0, 0, 128, 128, 128, 128)
    finally:
        B.UNSHARP = old
    assert np.array_equal(cov0, cov1)  # the matte is the same
    assert np.all(sharp[cov1 == 0] == 0)  # nothing painted outside it
    row_soft, row_sharp = soft[64, :, 0], sharp[64, :, 0]
    step = lambda r: np.abs(np.diff(r[16:40])).max()  # noqa: E731 - the steepest step across the outline
    assert step(row_sharp) > 1.3 * step(row_soft)


def test_a_stretched_crop_paints_nothing_where_its_matte_is_empty():
    """Whatever the scale (a small thing is barely stretched), no coverage stays no coverage: no faint box."""
    from thinkdraw.draw.builtin import _stretch

    S = 32
    rgba = np.zeros((S, S, 4), np.uint8)
    rgba[10:22, 10:22] = (200, 40, 40, 255)
    for size in (8, 20, 32, 64, 160):
        rgb, cov = _stretch(rgba, 0, 0, size, size, size, size)
        corner = slice(0, max(1, size // 8))
        assert cov[corner, corner].max() == 0.0 and rgb[corner, corner].max() == 0.0, size
        assert cov[size // 2, size // 2] == 1.0, size
