"""Identity: is what stands in a planned box that kind of thing? Silhouette-and-colour-layout matching
against the world's own drawers (no learned model; independent of the critic's networks).

For a planned entity of a world category, the box is cut out of the image and described on a G x G grid in
the box's own coordinates (every drawer fills its box, so a box-normalised picture is nearly independent of
the box's size): per cell, the share of its area that is object pixels of each named colour (object = differs
from the plan's background by more than the scorer's DIFF, less shadow-like pixels, i.e. the background
darkened evenly). The same description is made of *templates*: every world category drawn by its own drawer
(world/render.py DRAWERS) in the box's aspect and the thing's colour, with several seeds and their mirror
images, seen against the same background. The match of two descriptions is the mean of two soft IoUs: of the
silhouettes (object share per cell) and of the colour layouts (share per cell and named colour). A
category's score is its best template's.

Two matches are made with every template: *layout* (mean of the silhouette IoU and the colour-layout IoU) and
*detail* (geometric mean of the silhouette IoU and the IoU of the parts not in the thing's main colour:
outlines, windows, trunks, seams, pages). Identity passes when no other category's layout match beats the
planned one's by more than ``MARGIN`` (a thing redrawn as another category is won by that category) and the
thing is not a blob: a thing whose outline stands out from its background is held to a crispness floor
(``crispness``, ``CRISP_MIN``: a flat, blurred or smeared blob has no outline and no crisp parts); any other
thing is held to the detail floor ``MIN_DETAIL`` (a flat or smeared blob of the right colour lacks the thing's
parts) and to an anti-aliased rim (``soft_rim``, ``RIM_MIN``). A thing held to crispness is not also held to the
detail floor: on tuning renders crispness caught every blob the detail floor caught, while the detail match of
a clean thing drops whenever its outline's named colour flips with the world's brightness jitter (a purple
triangle's dark outline is named black or brown). Every thing is also held to an edge-sharpness floor
(``edge_sharpness``, ``SHARP_MIN``): a heavy blur or a smear spreads its edges over several pixels. Floors are
calibrated on tuning plans, not on the validation plans.

Cells that other planned things overlap, and a carrier's text box, are left out of the comparison.
Templates are cached per (category, colour, aspect bin); after warm-up a box costs a few milliseconds.
Validated with ``python benchmarks/bench_generate.py validate`` (docs/eval.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from thinkdraw.pixels import COLOR_LIST, PALETTE, named_colors
from thinkdraw.plan.schema import ScenePlan

G = 16  # grid cells per side of the box
SEEDS = 16  # template seeds per category (each also mirrored)
TEMPLATE_PX = 40  # the canonical box's longer side, pixels
SUPERSAMPLE = 4  # as the world renderer at 256 px
ASPECT_BINS = np.exp(np.linspace(math.log(0.2), math.log(5.0), 15))  # height / width
DIFF = 60.0  # the scorer's object threshold (eval.fidelity.DIFF)
# object_mask: a pixel is a cast shadow (not object) when it is the background darkened evenly, by no more than
# the world casts: ``_cast_shadow`` darkens by at most 0.3, so a pixel under 0.7 of its background is not one (0.02
# of margin for rounding). It was 0.6, which took a light-gray thing on a white wall for a shadow: the generator's
# grays (fill 140-170 on a 235 wall, the sketch's 128-136) came out hollow and failed crispness. Seed 47's think
# images, identity facts 0.971 -> 0.995 (squares 0.67 -> 0.96, hearts 0.70 -> 1.0); sketch renders of tune/1
# unchanged (clean 0.981, every defect's catch the same or one more); on validate/0 two fewer catches (docs/eval.md).
SHADOW_LO = 0.68
MARGIN = 0.1  # no other category's layout match may beat the planned one's by more than this ...
# ... and the planned category's shape-and-detail match must reach its floor: the lowest seen on sketch renders
# of 200 tuning plans (sample_spec(random.Random("tune/0"), "heldout"), not the validation plans) less 0.1
MIN_DETAIL = {"apple": 0.32, "ball": 0.14, "balloon": 0.21, "banner": 0.01, "bird": 0.32, "boat": 0.52,
              "book": 0.16, "car": 0.57, "circle": 0.41, "cloud": 0.0, "cup": 0.47, "fish": 0.59, "flower": 0.33,
              "heart": 0.29, "house": 0.59, "kite": 0.17, "moon": 0.0, "mountain": 0.31, "poster": 0.48,
              "sign": 0.46, "square": 0.23, "star": 0.35, "sun": 0.0, "table": 0.0, "tree": 0.39, "triangle": 0.45}
K = len(COLOR_LIST)
# ... and the thing must be crisp (crispness below): at least CRISP_MIN crisp steps per border pixel, per
# category: CRISP_SHARE of the lowest seen on clean sketch renders of 200 tuning plans (tune/0, as above;
# ``python benchmarks/bench_identity.py --split tune/0 --n 200 --calibrate``). Things with fewer than
# MIN_BORDER border pixels (tiny boxes, or mostly covered by others), and things whose outline does not
# stand out from the background of their box (outline_visible), are not held to it.
CRISP_SHARE = 0.5
MIN_BORDER = 40
VISIBLE_TOL = 0.15  # outline_visible: off the background-to-fill line by this share of its length
CRISP_MIN: dict[str, float] = {
    "apple": 0.36, "ball": 0.46, "balloon": 0.69, "banner": 0.76, "bird": 0.75, "boat": 0.97,
    "book": 0.09, "car": 1.1, "circle": 0.29, "cloud": 0.01, "cup": 0.25, "fish": 0.37, "flower":
    0.78, "heart": 0.86, "house": 1.12, "kite": 1.25, "moon": 0.25, "mountain": 0.43, "poster": 0.1,
    "sign": 0.71, "square": 0.42, "star": 0.79, "sun": 0.05, "table": 0.18, "tree": 0.73,
    "triangle": 0.38
}
# Things not held to the crispness floor (their outline does not stand out, or they are small) are instead held
# to an anti-aliased rim (soft_rim >= RIM_MIN): 0.7 of the lowest seen (0.57) on clean sketch renders of tuning
# plans (tune/0, 200 plans, and the first 76 of tune/1; ``bench_identity.py --calibrate``).
RIM_LO, RIM_HI = 0.1, 0.8
RIM_MIN = 0.4
# Things not held to crispness are also held to a layout floor where the tuning renders show enough of them to
# set one (at least 10 such things over tune/0 and tune/1; only the moon, 31: a yellow or gray moon at night, whose
# outline the sky hides): ``SOFT_LAYOUT[category]`` is the lowest layout match of those clean renders (0.786).
# The match must reach it less ``SOFT_MARGIN`` (0.1, as MIN_DETAIL's), or less ``SOFT_MARGIN_FLAT`` (0.02) when
# the thing shows no crisp steps at all (crispness under ``FLAT_CRISP``): an ellipse of a moon matches 0.61-0.64
# and a heavy blur of one 0.67-0.77 with crispness 0.00-0.03 on tuning renders, while a generated moon shows
# crisp steps (0.6-1.6) even where its match is lower (a thinner crescent: 0.76).
SOFT_LAYOUT = {"moon": 0.786}
SOFT_MARGIN, SOFT_MARGIN_FLAT, FLAT_CRISP = 0.1, 0.02, 0.1
# ... and every thing, held to crispness or not, must have sharp edges: ``edge_sharpness`` (the median, over the
# places in and around it where the colour changes by more than SHARP_DIFF across 3 pixels, of the largest
# one-pixel step's share of that change: 1 for a hard edge, about 0.5 for an anti-aliased one, 1/3 for a ramp)
# reaches SHARP_MIN: halfway between a ramp's 1/3 and the lowest seen on clean sketch renders of tuning plans
# (0.584, a heart, over 439 things of tune/0's 200 plans; ``bench_identity.py --calibrate``). A heavy blur spreads
# every edge over several pixels (0.35-0.40) and a smear its inner edges (0.35-0.46), where crispness and the soft
# rim let some of them through: a small book's pages, a black star or a poster at night. Fewer than SHARP_N such
# places: not held to it.
SHARP_DIFF = 60.0
SHARP_MIN = 0.459
SHARP_N = 10
STEP = 30.0  # a crisp step: neighbouring object pixels this far apart (RGB L1) and STEP_SHARE of the brighter's
STEP_SHARE = 0.15  # L1 (a brown's outline is only 0.45 of it darker, less after anti-aliasing) ...
MIX_TOL = 0.05  # ... the outer not within this share of the background-to-inner distance of that segment


@dataclass
class IdentityResult:
    passed: bool
    score: float  # the planned category's best match
    best: str  # the best-matching category
    best_score: float
    detail: str


def _categories() -> tuple[str, ...]:
    from thinkdraw.world.render import DRAWERS

    return tuple(DRAWERS)


def _pool(n_px: int, lo: float, hi: float, g: int = G) -> np.ndarray:
    """(g, n_px) weights: the share of each of g equal cells of [lo, hi] (pixel units) that pixel i covers."""
    edges = lo + (hi - lo) * np.arange(g + 1) / g
    px0 = np.arange(n_px, dtype=np.float64)
    a = np.maximum(edges[:-1, None], px0[None, :])
    b = np.minimum(edges[1:, None], px0[None, :] + 1.0)
    return (np.clip(b - a, 0.0, None) / max((hi - lo) / g, 1e-9)).astype(np.float32)


def _pool2(py: np.ndarray, a: np.ndarray, px: np.ndarray) -> np.ndarray:
    """(G, G, K) cell sums of a (Y, X, K) map under the row weights ``py`` (G, Y) and column weights ``px``
    (G, X): einsum "gy,yxk,hx->ghk" done as two matrix products (the plain einsum costs milliseconds)."""
    y, x, k = a.shape
    rows = (py @ a.reshape(y, x * k)).reshape(py.shape[0], x, k)  # (G, X, K)
    return np.einsum("hx,gxk->ghk", px, rows, optimize=True)


def aspect_bin(aspect: float) -> int:
    return int(np.argmin(np.abs(np.log(ASPECT_BINS) - math.log(max(aspect, 1e-3)))))


@lru_cache(maxsize=512)
def templates(category: str, color: str, abin: int) -> np.ndarray:
    """(2 * SEEDS, G, G, K) colour layouts of ``category`` drawn in ``color`` (named) at aspect bin ``abin``:
    the share of each cell covered (coverage >= 0.5) by each named colour; seeds and their mirror images."""
    from thinkdraw.world.render import DRAWERS, Pen

    a = float(ASPECT_BINS[abin])
    wc, hc = (round(TEMPLATE_PX / a), TEMPLATE_PX) if a >= 1 else (TEMPLATE_PX, round(TEMPLATE_PX * a))
    wc, hc = max(wc, 6), max(hc, 6)
    ss = SUPERSAMPLE
    py, px = _pool(hc, 0, hc), _pool(wc, 0, wc)
    rgb_c = tuple(int(v) for v in PALETTE[COLOR_LIST.index(color)])
    out = []
    for s in range(SEEDS):
        pen = Pen(wc * ss, hc * ss, lw=min(2.0, max(0.7, 0.022 * min(wc, hc))) * ss)
        DRAWERS[category](pen, (0.0, 0.0, wc * ss, hc * ss), rgb_c, np.random.default_rng([s, 0x1D]))
        rgb = np.asarray(pen.rgb.reduce(ss), np.float32)
        cov = np.asarray(pen.cov.reduce(ss), np.float32) / 255.0
        m = cov >= 0.5
        col = named_colors((rgb / np.maximum(cov, 1e-3)[..., None]).reshape(-1, 3)).reshape(hc, wc)
        onehot = np.zeros((hc, wc, K), np.float32)
        onehot[m, col[m]] = 1.0
        lay = _pool2(py, onehot, px)
        out += [lay, lay[:, ::-1]]
    arr = np.stack(out).astype(np.float32)
    arr.setflags(write=False)
    return arr


def _bank(color: str, abin: int) -> tuple[np.ndarray, np.ndarray]:
    cats = _categories()
    t = np.concatenate([templates(c, color, abin) for c in cats])
    idx = np.repeat(np.arange(len(cats)), 2 * SEEDS)
    return t, idx


_BANKS: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def bank(color: str, abin: int) -> tuple[np.ndarray, np.ndarray]:
    key = (color, abin)
    if key not in _BANKS:
        _BANKS[key] = _bank(color, abin)
    return _BANKS[key]


def object_mask(crop: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Object pixels of an RGB crop against its background: far from it, and not the background darkened
    evenly (a cast shadow)."""
    diff = np.abs(crop - bg).sum(-1) > DIFF
    ratio = crop / np.maximum(bg, 1.0)
    lo, hi = ratio.min(-1), ratio.max(-1)
    shadow = (lo >= SHADOW_LO) & (hi <= 0.97) & (hi - lo <= 0.08)
    return diff & ~shadow


def observe(img: np.ndarray, bg: np.ndarray, box, exclude=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(layout (G, G, K), weight (G, G), background colour per grid row (G, 3)) of ``box`` (0..1) in ``img``
    (H, W, 3 float); cells covered by the ``exclude`` boxes get less weight."""
    h, w = img.shape[:2]
    bx0, by0, bx1, by1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    x0, y0 = max(0, int(math.floor(bx0))), max(0, int(math.floor(by0)))
    x1, y1 = min(w, max(x0 + 1, int(math.ceil(bx1)))), min(h, max(y0 + 1, int(math.ceil(by1))))
    crop, bgc = img[y0:y1, x0:x1], bg[y0:y1, x0:x1]
    py, px = _pool(y1 - y0, by0 - y0, by1 - y0), _pool(x1 - x0, bx0 - x0, bx1 - x0)
    m = object_mask(crop, bgc)
    col = named_colors(crop.reshape(-1, 3)).reshape(m.shape)
    onehot = np.zeros((*m.shape, K), np.float32)
    onehot[m, col[m]] = 1.0
    lay = _pool2(py, onehot, px)
    keep = np.ones(m.shape, np.float32)
    for b in exclude:
        ex0, ey0 = max(x0, int(math.floor(b[0] * w))), max(y0, int(math.floor(b[1] * h)))
        ex1, ey1 = min(x1, int(math.ceil(b[2] * w))), min(y1, int(math.ceil(b[3] * h)))
        if ex1 > ex0 and ey1 > ey0:
            keep[ey0 - y0:ey1 - y0, ex0 - x0:ex1 - x0] = 0.0
    weight = py @ keep @ px.T
    rows = (py @ bgc.mean(1)) / np.maximum(py.sum(1, keepdims=True), 1e-6)
    return lay, weight, rows


def _depth(m: np.ndarray, cap: int = 6) -> np.ndarray:
    """Per pixel of a boolean map, how many 4-neighbour erosions it survives (1 = on the border), up to ``cap``."""
    d = m.astype(np.int8)
    cur = m
    for _ in range(cap - 1):
        p = np.pad(cur, 1, constant_values=False)
        cur = cur & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
        if not cur.any():
            break
        d += cur
    return d


def _is_mix(a: np.ndarray, c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether colour ``a`` lies on the segment from background ``b`` to colour ``c`` (per pixel): what a soft
    edge between the background and a flat colour looks like (anti-aliasing, a blurred rim)."""
    u, v = c - b, a - b
    uu = (u * u).sum(-1) + 1e-6
    t = (u * v).sum(-1) / uu
    res = ((v - t[..., None] * u) ** 2).sum(-1)
    return (t >= -0.05) & (t <= 1.05) & (res <= (MIX_TOL ** 2) * uu)


def crispness(img: np.ndarray, bg: np.ndarray, box, exclude=()) -> tuple[float, int]:
    """(crisp steps per border pixel, border pixels) of the thing in ``box``: a *crisp step* is a pair of
    4-neighbouring object pixels whose colours differ by more than ``STEP`` (and ``STEP_SHARE`` of the
    brighter one) and where the outer one is not a
    mix of the background and the inner one. The world draws every thing with a dark (or, for dark things,
    light) outline and crisp inner parts, so a thing's border is lined with such steps (outline to fill) and
    its inside has more (windows, trunks, seams); a flat blob (hull, ellipse) has only anti-aliased rims, and a
    heavy blur or smear of the thing has neither an outline nor crisp parts left."""
    h, w = img.shape[:2]
    x0, y0 = max(0, int(math.floor(box[0] * w))), max(0, int(math.floor(box[1] * h)))
    x1, y1 = min(w, max(x0 + 1, int(math.ceil(box[2] * w)))), min(h, max(y0 + 1, int(math.ceil(box[3] * h))))
    crop, bgc = img[y0:y1, x0:x1], bg[y0:y1, x0:x1]
    m = object_mask(crop, bgc)
    keep = np.ones(m.shape, bool)
    for b in exclude:
        ex0, ey0 = max(x0, int(math.floor(b[0] * w))), max(y0, int(math.floor(b[1] * h)))
        ex1, ey1 = min(x1, int(math.ceil(b[2] * w))), min(y1, int(math.ceil(b[3] * h)))
        if ex1 > ex0 and ey1 > ey0:
            keep[ey0 - y0:ey1 - y0, ex0 - x0:ex1 - x0] = False
    dep = _depth(m)
    border = int(((dep == 1) & keep).sum())
    mk = m & keep
    steps = 0
    for ax in (0, 1):
        s0 = (slice(None, -1),) if ax == 0 else (slice(None), slice(None, -1))
        s1 = (slice(1, None),) if ax == 0 else (slice(None), slice(1, None))
        p, q, b = crop[s0], crop[s1], 0.5 * (bgc[s0] + bgc[s1])
        ok = mk[s0] & mk[s1] & (np.abs(p - q).sum(-1) > np.maximum(STEP, STEP_SHARE * np.maximum(p.sum(-1), q.sum(-1))))
        if not ok.any():
            continue
        dp, dq = dep[s0], dep[s1]
        mix_p, mix_q = _is_mix(p, q, b), _is_mix(q, p, b)  # p a mix of the background and q, or q of p
        mix = np.where(dp < dq, mix_p, np.where(dq < dp, mix_q, mix_p | mix_q))
        steps += int((ok & ~mix).sum())
    return steps / max(1, border), border


def edge_sharpness(img: np.ndarray, bg: np.ndarray, box, exclude=()) -> float:
    """How sharp the thing's edges are (see SHARP_MIN): over every run of 4 pixels along a row or column of the
    box, outside the ``exclude`` boxes and touching an object pixel, whose ends differ by more than SHARP_DIFF
    (RGB L1), the largest of its three one-pixel steps over the whole change; the median of those. -1 when there
    are fewer than SHARP_N such runs."""
    crop, bgc, keep = _crop_keep(img, bg, box, exclude)
    m = object_mask(crop, bgc) & keep
    ratios = []
    for a, mm in ((crop, m), (crop.transpose(1, 0, 2), m.T)):
        if a.shape[1] < 4:
            continue
        d1 = np.abs(np.diff(a, axis=1)).sum(-1)
        d3 = np.abs(a[:, 3:] - a[:, :-3]).sum(-1)
        top = np.maximum(np.maximum(d1[:, :-2], d1[:, 1:-1]), d1[:, 2:])
        sel = (d3 > SHARP_DIFF) & (mm[:, :-3] | mm[:, 1:-2] | mm[:, 2:-1] | mm[:, 3:])
        ratios.append(top[sel] / d3[sel])
    r = np.concatenate(ratios) if ratios else np.zeros(0)
    return float(np.median(r)) if len(r) >= SHARP_N else -1.0


def _crop_keep(img: np.ndarray, bg: np.ndarray, box, exclude=()):
    """(crop, its background, keep mask) of ``box`` (0..1) in ``img``: keep is False under the ``exclude`` boxes."""
    h, w = img.shape[:2]
    x0, y0 = max(0, int(math.floor(box[0] * w))), max(0, int(math.floor(box[1] * h)))
    x1, y1 = min(w, max(x0 + 1, int(math.ceil(box[2] * w)))), min(h, max(y0 + 1, int(math.ceil(box[3] * h))))
    crop, bgc = img[y0:y1, x0:x1], bg[y0:y1, x0:x1]
    keep = np.ones(crop.shape[:2], bool)
    for b in exclude:
        ex0, ey0 = max(x0, int(math.floor(b[0] * w))), max(y0, int(math.floor(b[1] * h)))
        ex1, ey1 = min(x1, int(math.ceil(b[2] * w))), min(y1, int(math.ceil(b[3] * h)))
        if ex1 > ex0 and ey1 > ey0:
            keep[ey0 - y0:ey1 - y0, ex0 - x0:ex1 - x0] = False
    return crop, bgc, keep


def soft_rim(img: np.ndarray, bg: np.ndarray, box, exclude=()) -> float:
    """Share of the thing's rim pixels (erosion depth 1) that are partial mixes of the background and its inside:
    their distance from the background between ``RIM_LO`` and ``RIM_HI`` of the inside's (the median over pixels
    at depth >= 4). The world draws at 4x supersampling, so a clean thing's rim is anti-aliased (0.57-1.0 on
    tuning renders); a shape pasted with a hard edge - a hull, an ellipse, a smear's closing - has (nearly) no
    such pixels. -1 when the thing has too few rim or inside pixels to say."""
    crop, bgc, keep = _crop_keep(img, bg, box, exclude)
    m = object_mask(crop, bgc)
    dep = _depth(m)
    diff = np.abs(crop - bgc).sum(-1)
    inner, rim = dep >= 4, (dep == 1) & keep
    if inner.sum() < 10 or rim.sum() < 10:
        return -1.0
    t = diff[rim] / max(float(np.median(diff[inner])), 1e-3)
    return float(((t > RIM_LO) & (t < RIM_HI)).mean())


def outline_visible(e, bg: np.ndarray) -> bool:
    """Whether the world's outline of ``e``'s colour stands out as crisp steps over the background of its box:
    it differs from the background by more than DIFF and is not (nearly) a mix of the background and the
    fill (a dark outline of a light thing at night, a light outline of a black thing on a pale sky)."""
    from thinkdraw.world.render import entity_color, outline_of

    h, w = bg.shape[:2]
    x0, y0 = max(0, int(e.box[0] * w)), max(0, int(e.box[1] * h))
    x1, y1 = min(w, max(x0 + 1, int(math.ceil(e.box[2] * w)))), min(h, max(y0 + 1, int(math.ceil(e.box[3] * h))))
    b = bg[y0:y1, x0:x1].reshape(-1, 3).mean(0)
    c = np.array(entity_color(e), np.float32)
    o = np.array(outline_of(entity_color(e)), np.float32)
    u, v = c - b, o - b
    t = float(u @ v / max(float(u @ u), 1e-6))
    off_line = float(np.linalg.norm(v - t * u)) > VISIBLE_TOL * float(np.linalg.norm(u))
    return float(np.abs(o - b).sum()) > DIFF and (off_line or not 0.0 <= t <= 1.0)


def _iou(a: np.ndarray, b: np.ndarray, axes) -> np.ndarray:
    """Soft IoU over ``axes``; two (nearly) empty maps match fully."""
    u = np.maximum(a, b).sum(axes)
    return np.where(u > 0.5, np.minimum(a, b).sum(axes) / np.maximum(u, 1e-6), 1.0)


def match(lay: np.ndarray, weight: np.ndarray, rows: np.ndarray, bank_t: np.ndarray, main: int):
    """Two matches (0..1) of an observed layout with each template, over the weighted cells (template colours
    that the background hides are not seen):
      layout  mean of the silhouette IoU and the colour-layout IoU (which category is it most like?)
      detail  geometric mean of the silhouette IoU and the IoU of the parts not in the main colour (outlines,
              windows, trunks, seams, pages: what a flat or smeared blob of the main colour lacks)"""
    vis = (np.abs(PALETTE[None, :, :] - rows[:, None, :]).sum(-1) > DIFF).astype(np.float32)  # (G, K)
    t = bank_t * (vis[None, :, None, :] * weight[None, :, :, None])
    o = (lay * weight[:, :, None])[None]
    lo, hi = np.minimum(t, o), np.maximum(t, o)
    lo_k, hi_k = lo.sum((1, 2)), hi.sum((1, 2))  # (N, K)
    sil = _iou(t.sum(-1), o.sum(-1), (1, 2))
    layout = 0.5 * (sil + lo_k.sum(1) / np.maximum(hi_k.sum(1), 1e-6))
    lo_d, hi_d = lo_k.sum(1) - lo_k[:, main], hi_k.sum(1) - hi_k[:, main]
    det = np.where(hi_d > 0.5, lo_d / np.maximum(hi_d, 1e-6), 1.0)
    return layout, np.sqrt(sil * det)


def category_scores(img: np.ndarray, bg: np.ndarray, box, color: str | None, exclude=()):
    """Best template matches per world category for ``box``: ({category: layout}, {category: detail});
    templates drawn in ``color`` (named) when it covers a fair share of the object pixels, else in the box's
    dominant named colour."""
    lay, weight, rows = observe(img, bg, box, exclude)
    hist = (lay * weight[:, :, None]).sum((0, 1))
    main = color if color in COLOR_LIST else None
    if hist.sum() > 0 and (main is None or hist[COLOR_LIST.index(main)] < 0.15 * hist.sum()):
        main = COLOR_LIST[int(hist.argmax())]
    main = main or "gray"
    h, w = img.shape[:2]
    aspect = ((box[3] - box[1]) * h) / max((box[2] - box[0]) * w, 1e-6)
    t, idx = bank(main, aspect_bin(aspect))
    out = []
    for s in match(lay, weight, rows, t, COLOR_LIST.index(main)):
        best = np.full(idx.max() + 1, -1.0)
        np.maximum.at(best, idx, s)
        out.append(dict(zip(_categories(), best.tolist(), strict=True)))
    return out[0], out[1]


def identity(img: np.ndarray, bg: np.ndarray, plan: ScenePlan, entity_id: str) -> IdentityResult:
    """Identity of one planned entity in ``img`` (H, W, 3 float) over the plan's background ``bg``."""
    e = plan.entity(entity_id)
    exclude = exclusions(plan, e)
    crisp, border = crispness(img, bg, e.box, exclude)
    held = border >= MIN_BORDER and outline_visible(e, bg)
    cfloor = CRISP_MIN.get(e.category, 0.0) if held else 0.0
    layout, detail = category_scores(img, bg, e.box, e.attributes.color, exclude)
    mine = layout[e.category]
    best = max((c for c in layout if c != e.category), key=layout.get)
    # a thing held to the crispness floor is not held to the detail floor too (see the module docstring)
    floor = 0.0 if held else MIN_DETAIL.get(e.category, 0.3)
    rim = -1.0 if held else soft_rim(img, bg, e.box, exclude)
    lfloor = 0.0
    if not held and e.category in SOFT_LAYOUT:
        lfloor = SOFT_LAYOUT[e.category] - (SOFT_MARGIN_FLAT if crisp < FLAT_CRISP else SOFT_MARGIN)
    sharp = edge_sharpness(img, bg, e.box, exclude)
    ok = (layout[best] <= mine + MARGIN and detail[e.category] >= floor and crisp >= cfloor
          and (rim < 0 or rim >= RIM_MIN) and mine >= lfloor and (sharp < 0 or sharp >= SHARP_MIN))
    top = max(layout, key=layout.get)
    rim_s = "" if rim < 0 else f", soft rim {rim:.2f} (floor {RIM_MIN:.2f})"
    rim_s += "" if sharp < 0 else f", sharpness {sharp:.2f} (floor {SHARP_MIN:.2f})"
    if lfloor:
        rim_s += f", layout floor {lfloor:.2f}"
    return IdentityResult(ok, detail[e.category], top, layout[top],
                          f"{e.category}: layout {mine:.2f}, detail {detail[e.category]:.2f} (floor {floor:.2f}), "
                          f"crisp {crisp:.2f} (floor {cfloor:.2f}, border {border} px){rim_s}; best other {best} "
                          f"{layout[best]:.2f}")


def exclusions(plan: ScenePlan, e) -> list:
    """Boxes inside which ``e``'s box is not judged: its own text, and other planned things that overlap it."""
    out = [t.box for t in plan.texts if t.on == e.id and t.box is not None]
    return out + [o.box for o in plan.entities if o.id != e.id and o.box is not None and _overlap(o.box, e.box)]


def _overlap(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def score_entity_image(image: Image.Image, plan: ScenePlan, entity_id: str) -> IdentityResult:
    """Convenience: identity of one entity in a PIL image."""
    from thinkdraw.pixels import background_of

    img = np.asarray(image.convert("RGB"), np.float32)
    return identity(img, background_of(plan, img.shape[1], img.shape[0]), plan, entity_id)
