"""The world renderer and the sketch renderer: masks agree with the plan, text is exact, drawing is seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from thinkdraw.draw.base import DrawResult, Renderer, get_renderer
from thinkdraw.draw.sketch import SketchRenderer
from thinkdraw.plan.schema import Attributes, Background, Entity, Lighting, ScenePlan, TextBlock
from thinkdraw.world.render import (
    CATEGORY_IDS,
    TEXT_PANELS,
    fit_text,
    render_scene,
    text_extent,
    text_padding,
    text_panel,
)
from thinkdraw.world.vocab import CATEGORIES, CATEGORY_NAMES, COLORS


def ent(eid: str, category: str | None, box, color: str | None = None, z: int = 0) -> Entity:
    return Entity(id=eid, noun=category or "dragon", category=category, box=box, z=z,
                  attributes=Attributes(color=color))


def cat_id(e: Entity) -> int:
    return CATEGORY_IDS[e.category] if e.category else CATEGORY_IDS["unknown"]


def assert_masks_agree(plan: ScenePlan, r, nonempty: bool = True) -> None:
    """Instance pixels inside each box (1px slack), non-empty, category consistent, background 0."""
    h, w = r.instance.shape
    assert r.category.shape == (h, w) and r.text_mask.shape == (h, w)
    assert r.instance.dtype == np.uint16 and r.category.dtype == np.uint8 and r.text_mask.dtype == bool
    assert r.image.size == (w, h) and r.image.mode == "RGB"
    assert r.instance.max() <= len(plan.entities)
    for i, e in enumerate(plan.entities):
        ys, xs = np.nonzero(r.instance == i + 1)
        if nonempty:
            assert len(xs) > 0, f"entity {e.id} ({e.category}) has an empty mask"
        if len(xs):
            x0, y0, x1, y1 = e.box
            assert xs.min() >= math.floor(x0 * w) - 1 and xs.max() <= math.ceil(x1 * w), e.id
            assert ys.min() >= math.floor(y0 * h) - 1 and ys.max() <= math.ceil(y1 * h), e.id
        own = (r.instance == i + 1) & ~r.text_mask
        assert (r.category[own] == cat_id(e)).all(), e.id
    assert (r.category[(r.instance == 0) & ~r.text_mask] == 0).all()
    assert (r.category[r.text_mask] == CATEGORY_IDS["text"]).all()


def street_plan() -> ScenePlan:
    return ScenePlan(
        background=Background(kind="grass", time="day"),
        lighting=Lighting(direction="left"),
        entities=[
            ent("sun", "sun", (0.75, 0.04, 0.95, 0.24)),
            ent("cloud", "cloud", (0.08, 0.06, 0.42, 0.24)),
            ent("house", "house", (0.04, 0.3, 0.36, 0.62)),
            ent("tree", "tree", (0.4, 0.26, 0.58, 0.6)),
            ent("car", "car", (0.6, 0.46, 0.96, 0.64), "blue"),
            ent("thing", None, (0.04, 0.7, 0.2, 0.86), "green"),
            ent("sign", "sign", (0.3, 0.66, 0.66, 0.96), "white"),
        ],
        texts=[TextBlock(id="t", content="OPEN", on="sign")],
    )


def test_category_ids():
    assert [CATEGORY_IDS[c] for c in CATEGORY_NAMES] == list(range(1, len(CATEGORY_NAMES) + 1))
    assert len(CATEGORY_NAMES) == 26
    assert CATEGORY_IDS["text"] == 27 and CATEGORY_IDS["unknown"] == 28
    assert len(set(CATEGORY_IDS.values())) == len(CATEGORY_IDS) and 0 not in CATEGORY_IDS.values()
    assert max(CATEGORY_IDS.values()) < 256


@pytest.mark.parametrize("category", CATEGORY_NAMES)
def test_every_category_draws(category):
    spec = CATEGORIES[category]
    w = 0.5
    h = min(0.8, w * spec.aspect)
    box = (0.2, 0.1, 0.2 + w, 0.1 + h)
    plan = ScenePlan(background=Background(kind="plain"), entities=[ent("a", category, box)])
    r = render_scene(plan, seed=3)
    assert_masks_agree(plan, r)
    area = (r.instance == 1).sum() / ((box[2] - box[0]) * 256 * (box[3] - box[1]) * 256)
    assert area > 0.2, f"{category} covers only {area:.0%} of its box"
    # the main colour shows: some entity pixels are close to the named default colour
    if spec.default_color:
        px = np.asarray(r.image)[r.instance == 1].astype(int)
        near = np.abs(px - np.array(COLORS[spec.default_color])).sum(1) < 90
        assert near.mean() > 0.05, category
    # seeded variation: some seed draws it differently
    imgs = [np.asarray(render_scene(plan, seed=s).image).astype(int) for s in range(6)]
    changed = [(np.abs(im - imgs[0]).max(axis=2) > 40).sum() for im in imgs[1:]]
    assert max(changed) > 30, f"{category} does not vary with the seed"


@pytest.mark.parametrize("category", [*CATEGORY_NAMES, None])
def test_tiny_boxes_are_not_empty(category):
    box = (100.3 / 256, 60.5 / 256, 104.3 / 256, 64.5 / 256)  # 4x4 px
    plan = ScenePlan(entities=[ent("a", category, box)])
    assert_masks_agree(plan, render_scene(plan, seed=1))


def test_scene_masks_agree_with_plan():
    plan = street_plan()
    r = render_scene(plan, seed=0)
    assert_masks_agree(plan, r)
    assert (r.category[r.instance == 6] == CATEGORY_IDS["unknown"]).all()
    assert (r.instance == 0).mean() > 0.3  # background stays background


def test_colors_follow_attributes():
    plan = ScenePlan(background=Background(kind="plain"), lighting=Lighting(direction="none"),
                     entities=[ent("a", "square", (0.1, 0.1, 0.45, 0.45), "blue"),
                               ent("b", "circle", (0.55, 0.55, 0.9, 0.9), "orange")])
    r = render_scene(plan, seed=0)
    img = np.asarray(r.image).astype(int)
    for i, name in ((1, "blue"), (2, "orange")):
        med = np.median(img[r.instance == i], axis=0)
        assert np.abs(med - COLORS[name]).max() < 30, (name, med)


def test_occlusion_follows_z_then_index():
    a, b = (0.1, 0.1, 0.6, 0.6), (0.3, 0.3, 0.8, 0.8)
    plan = ScenePlan(entities=[ent("a", "square", a), ent("b", "square", b)])
    r = render_scene(plan)
    assert r.instance[110, 110] == 2  # later index on top at equal z
    plan = ScenePlan(entities=[ent("a", "square", a, z=1), ent("b", "square", b)])
    r = render_scene(plan)
    assert r.instance[110, 110] == 1  # higher z on top
    assert_masks_agree(plan, r)


def test_deterministic():
    plan = street_plan()
    r1, r2 = render_scene(plan, seed=11), render_scene(plan, seed=11)
    assert r1.image.tobytes() == r2.image.tobytes()
    assert np.array_equal(r1.instance, r2.instance) and np.array_equal(r1.category, r2.category)
    assert np.array_equal(r1.text_mask, r2.text_mask)


def test_seeds_give_different_drawings():
    plan = street_plan()
    a = np.asarray(render_scene(plan, seed=0).image).astype(int)
    b = np.asarray(render_scene(plan, seed=1).image).astype(int)
    changed = (np.abs(a - b).max(axis=2) > 40).mean()
    assert changed > 0.01, f"only {changed:.2%} of pixels changed"


@pytest.mark.parametrize("size,expect", [(128, (128, 128)), (512, (512, 512)), ((320, 200), (320, 200))])
def test_size_override(size, expect):
    plan = street_plan()
    r = render_scene(plan, size=size, seed=2)
    assert r.image.size == expect and r.instance.shape == (expect[1], expect[0])
    assert_masks_agree(plan, r)


def test_native_size_is_the_canvas():
    plan = ScenePlan(canvas={"width": 200, "height": 120}, entities=[ent("a", "ball", (0.4, 0.4, 0.6, 0.7))])
    r = render_scene(plan)
    assert r.image.size == (200, 120)
    assert render_scene(plan, size=100).image.size == (100, 60)


def test_text_is_drawn_inside_its_box():
    sign_box = (0.2, 0.2, 0.8, 0.8)
    tbox = text_panel(sign_box, "sign")
    plan = ScenePlan(entities=[ent("s", "sign", sign_box, "white")],
                     texts=[TextBlock(id="t", content="Hello 42", box=tbox, on="s", color="black")])
    r = render_scene(plan, seed=0)
    assert_masks_agree(plan, r)
    ys, xs = np.nonzero(r.text_mask)
    assert len(xs) > 50
    assert xs.min() >= round(tbox[0] * 256) and xs.max() < round(tbox[2] * 256)
    assert ys.min() >= round(tbox[1] * 256) and ys.max() < round(tbox[3] * 256)
    glyphs = np.asarray(r.image)[r.text_mask].astype(int)
    assert np.median(glyphs, axis=0).max() < 80  # black glyphs on a white sign
    # glyph pixels keep the sign as their instance
    assert (r.instance[r.text_mask] == 1).all()


def test_text_without_box_goes_on_its_carrier_panel():
    plan = ScenePlan(entities=[ent("b", "banner", (0.1, 0.3, 0.9, 0.6), "yellow")],
                     texts=[TextBlock(id="t", content="SALE", on="b", color="red")])
    r = render_scene(plan)
    u0, v0, u1, v1 = TEXT_PANELS["banner"]
    ys, xs = np.nonzero(r.text_mask)
    assert len(xs) > 30
    x0, y0, x1, y1 = 0.1 + 0.8 * u0, 0.3 + 0.3 * v0, 0.1 + 0.8 * u1, 0.3 + 0.3 * v1
    assert xs.min() >= x0 * 256 - 1 and xs.max() <= x1 * 256 and ys.min() >= y0 * 256 - 1 and ys.max() <= y1 * 256


def test_low_contrast_text_stays_legible():
    plan = ScenePlan(entities=[ent("s", "sign", (0.1, 0.1, 0.9, 0.9), "black")],
                     texts=[TextBlock(id="t", content="STOP", on="s", color="black")])
    r = render_scene(plan)
    img = np.asarray(r.image).astype(int)
    ys, xs = np.nonzero(r.text_mask)
    ring = np.zeros_like(r.text_mask)
    ring[ys.min() - 2: ys.max() + 3, xs.min() - 2: xs.max() + 3] = True
    ring &= ~r.text_mask
    assert img[ring].max() > 200  # a light halo around the black glyphs


def test_fit_text_is_the_largest_that_fits():
    for content, w, h in [("OPEN", 120, 40), ("Happy Birthday", 200, 60), ("x", 10, 10), ("A long sentence", 40, 30)]:
        size, tw, th = fit_text(content, w, h)
        pad = text_padding(w, h)
        assert (tw, th) == text_extent(content, size)
        assert size == 1 or (tw <= w - 2 * pad and th <= h - 2 * pad)
        bw, bh = text_extent(content, size + 1)
        assert bw > w - 2 * pad or bh > h - 2 * pad
    assert text_extent("OPEN", 40)[0] > text_extent("OPEN", 20)[0] > 0


def test_background_kinds_and_times():
    def top_color(**kw) -> np.ndarray:
        img = render_scene(ScenePlan(background=Background(**kw)), seed=0).image
        return np.asarray(img)[:20].reshape(-1, 3).mean(0)

    day, night = top_color(kind="sky", time="day"), top_color(kind="sky", time="night")
    assert day[2] > day[0] + 50 and night.mean() < 70
    sunset = top_color(kind="sea", time="sunset")
    assert not np.allclose(sunset, day, atol=20)
    red = np.asarray(render_scene(ScenePlan(background=Background(kind="plain", colors=["red"]))).image)
    assert np.abs(red[128, 128].astype(int) - COLORS["red"]).max() < 30
    for kind in ("sky", "grass", "sea", "table", "wall", "plain"):
        r = render_scene(ScenePlan(background=Background(kind=kind, time="night")), seed=3)
        assert r.instance.max() == 0 and r.category.max() == 0 and not r.text_mask.any()  # stars are no masks


def test_shadows_are_not_masked():
    box = (0.3, 0.3, 0.6, 0.6)
    lit = ScenePlan(background=Background(kind="plain"), lighting=Lighting(direction="left"),
                    entities=[ent("a", "square", box)])
    flat = lit.model_copy(update={"lighting": Lighting(direction="none")})
    a, b = render_scene(lit), render_scene(flat)
    assert np.array_equal(a.instance > 0, b.instance > 0)
    diff = np.asarray(b.image).astype(int).sum(2) - np.asarray(a.image).astype(int).sum(2)
    assert a.instance[110, 156] == 0 and diff[110, 156] > 15  # cast to the right, away from the light
    assert a.instance[110, 72] == 0 and abs(diff[110, 72]) < 6


def test_unplaced_entities_raise():
    plan = ScenePlan(entities=[Entity(id="a", noun="cat", category=None)])
    with pytest.raises(ValueError, match="unplaced"):
        render_scene(plan)
    with pytest.raises(ValueError, match="layout solver"):
        SketchRenderer().draw(plan)


def test_sketch_renderer_matches_render_scene():
    r = get_renderer("sketch")
    assert isinstance(r, Renderer) and r.name == "sketch"
    plan = street_plan()
    calls = []
    out = r.draw(plan, seed=4, progress=lambda i, n: calls.append((i, n)))
    assert isinstance(out, DrawResult)
    ref = render_scene(plan, seed=4)
    assert out.image.tobytes() == ref.image.tobytes()
    assert np.array_equal(out.instance_mask, ref.instance) and np.array_equal(out.category_mask, ref.category)
    assert calls == [(i + 1, len(plan.entities)) for i in range(len(plan.entities))]


def test_sketch_mask_keeps_outside_pixels():
    plan = street_plan()
    init = Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8), "RGB")
    mask = np.zeros((256, 256), bool)
    mask[40:200, 60:180] = True
    out = SketchRenderer().draw(plan, seed=1, mask=mask, init=init)
    got, src = np.asarray(out.image), np.asarray(init)
    assert np.array_equal(got[~mask], src[~mask])
    ref = np.asarray(render_scene(plan, seed=1).image)
    assert np.array_equal(got[mask], ref[mask])
    out8 = SketchRenderer().draw(plan, seed=1, mask=mask.astype(np.uint8) * 255, init=init)
    assert out8.image.tobytes() == out.image.tobytes()


def test_sketch_errors():
    plan = street_plan()
    init = Image.new("RGB", (256, 256))
    with pytest.raises(ValueError, match="mask shape"):
        SketchRenderer().draw(plan, mask=np.zeros((128, 128), bool), init=init)
    with pytest.raises(ValueError, match="init image size"):
        SketchRenderer().draw(plan, mask=np.zeros((256, 256), bool), init=Image.new("RGB", (128, 128)))
    with pytest.raises(ValueError, match="init image"):
        SketchRenderer().draw(plan, mask=np.zeros((256, 256), bool))
