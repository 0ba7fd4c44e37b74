"""The procedural world renderer: a ScenePlan in, a flat illustration with exact masks out.

Every category has a parametric drawer that fills the entity's box. Entities are drawn in painter's
order (z, then index) into a supersampled crop of their own box, downsampled, and composited with numpy.
An entity's mask is its own coverage >= 0.5 at output resolution, minus what later entities cover, so the
masks agree with the pixels. Text blocks are drawn last with the bundled DejaVu Sans Bold font.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from thinkdraw.plan.schema import Entity, ScenePlan, TextBlock
from thinkdraw.world.font import load_font, text_bbox, text_extent
from thinkdraw.world.vocab import BACKGROUNDS, CATEGORIES, CATEGORY_NAMES, COLOR_SYNONYMS, COLORS, TEXT_AREAS

RGB = tuple[int, int, int]
BoxF = tuple[float, float, float, float]
Pt = tuple[float, float]

FONT_DIR = Path(__file__).parent / "fonts"
FONT_PATH = FONT_DIR / "DejaVuSans-Bold.ttf"

BACKGROUND_ID = 0
CATEGORY_IDS: dict[str, int] = {name: i + 1 for i, name in enumerate(CATEGORY_NAMES)}
CATEGORY_IDS["text"] = len(CATEGORY_NAMES) + 1
CATEGORY_IDS["unknown"] = len(CATEGORY_NAMES) + 2
CATEGORY_ID_NAMES: dict[int, str] = {v: k for k, v in CATEGORY_IDS.items()} | {BACKGROUND_ID: "background"}

# Where a text carrier's text goes, as fractions (u0, v0, u1, v1) of the carrier's box. Fixed per category
# (independent of the seed) so that the layout solver can place text without rendering.
TEXT_PANELS: dict[str, BoxF] = TEXT_AREAS
DEFAULT_TEXT_BOX: BoxF = (0.1, 0.04, 0.9, 0.18)  # a free text block with no box and no carrier
NO_SHADOW = {"sun", "moon"}


@dataclass
class SceneRender:
    image: Image.Image  # RGB
    instance: np.ndarray  # HxW uint16: 0 background, i + 1 = plan.entities[i]
    category: np.ndarray  # HxW uint8: CATEGORY_IDS (text glyphs override the category under them)
    text_mask: np.ndarray  # HxW bool: glyph pixels of text blocks


# ---------------------------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------------------------
def resolve_color(name: str | None) -> RGB | None:
    """A named color (or synonym) -> RGB, None when unknown."""
    if not name:
        return None
    n = name.strip().lower()
    return COLORS.get(COLOR_SYNONYMS.get(n, n))


def entity_color(e: Entity) -> RGB:
    """The entity's main colour: its attribute, else the category default, else gray."""
    c = resolve_color(e.attributes.color)
    if c is None and e.category in CATEGORIES:
        c = resolve_color(CATEGORIES[e.category].default_color)
    return c or COLORS["gray"]


def mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def dark(c: RGB, t: float = 0.4) -> RGB:
    return mix(c, (0, 0, 0), t)


def light(c: RGB, t: float = 0.45) -> RGB:
    return mix(c, (255, 255, 255), t)


def luma(c: Sequence[float]) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def jitter(c: RGB, r: np.random.Generator, amount: float = 0.06) -> RGB:
    """A small seeded brightness change that keeps the hue."""
    f = 1.0 + r.uniform(-amount, amount)
    return tuple(int(min(255, max(0, round(v * f)))) for v in c)  # type: ignore[return-value]


def outline_of(c: RGB) -> RGB:
    return dark(c, 0.45) if luma(c) > 60 else light(c, 0.35)


# ---------------------------------------------------------------------------------------------
# Drawing primitives: a Pen paints colour (premultiplied on black) and coverage together
# ---------------------------------------------------------------------------------------------
def _ordered(b: BoxF) -> BoxF:
    x0, y0, x1, y1 = b
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


class Pen:
    """Paints into a supersampled RGB layer and its coverage layer at once; ``lw`` is the outline width."""

    def __init__(self, w: int, h: int, lw: float):
        self.rgb = Image.new("RGB", (w, h))
        self.cov = Image.new("L", (w, h))
        self._c = ImageDraw.Draw(self.rgb)
        self._a = ImageDraw.Draw(self.cov)
        self.lw = lw

    def _width(self, outline: RGB | None, width: float | None) -> int:
        return 0 if outline is None else max(1, int(round(self.lw if width is None else width)))

    def ellipse(self, b: BoxF, fill: RGB | None, outline: RGB | None = None, width: float | None = None) -> None:
        b, w = _ordered(b), self._width(outline, width)
        self._c.ellipse(b, fill=fill, outline=outline, width=w)
        self._a.ellipse(b, fill=None if fill is None else 255, outline=None if outline is None else 255, width=w)

    def polygon(self, pts: list[Pt], fill: RGB | None, outline: RGB | None = None, width: float | None = None) -> None:
        w = self._width(outline, width)
        self._c.polygon(pts, fill=fill, outline=outline, width=w)
        self._a.polygon(pts, fill=None if fill is None else 255, outline=None if outline is None else 255, width=w)

    def rect(self, b: BoxF, fill: RGB | None, outline: RGB | None = None, radius: float = 0.0,
             width: float | None = None) -> None:
        b, w = _ordered(b), self._width(outline, width)
        rad = max(0, int(min(radius, (b[2] - b[0]) / 2, (b[3] - b[1]) / 2)))
        self._c.rounded_rectangle(b, rad, fill=fill, outline=outline, width=w)
        self._a.rounded_rectangle(b, rad, fill=None if fill is None else 255,
                                  outline=None if outline is None else 255, width=w)

    def line(self, pts: list[Pt], color: RGB, width: float) -> None:
        w = max(1, int(round(width)))
        self._c.line(pts, fill=color, width=w, joint="curve")
        self._a.line(pts, fill=255, width=w, joint="curve")

    def arc(self, b: BoxF, start: float, end: float, color: RGB, width: float) -> None:
        b, w = _ordered(b), max(1, int(round(width)))
        self._c.arc(b, start, end, fill=color, width=w)
        self._a.arc(b, start, end, fill=255, width=w)

    def pieslice(self, b: BoxF, start: float, end: float, fill: RGB) -> None:
        b = _ordered(b)
        self._c.pieslice(b, start, end, fill=fill)
        self._a.pieslice(b, start, end, fill=255)

    def text(self, b: BoxF, content: str, color: RGB) -> None:
        """``content`` centred in ``b`` at the largest size that fits its inner 80%."""
        w, h = (b[2] - b[0]) * 0.8, (b[3] - b[1]) * 0.8
        size = max(4, int(min(h * 0.5, w / max(1, len(content)) * 1.6)))
        while size > 4 and (text_extent(content, size)[0] > w or text_extent(content, size)[1] > h):
            size -= 1
        bx0, by0, bx1, by1 = text_bbox(content, size)
        pos = ((b[0] + b[2]) / 2 - (bx0 + bx1) / 2, (b[1] + b[3]) / 2 - (by0 + by1) / 2)
        font = load_font(size)
        self._c.text(pos, content, font=font, fill=color)
        self._a.text(pos, content, font=font, fill=255)

    def blob(self, ellipses: list[BoxF], fill: RGB, outline: RGB) -> None:
        """A union of ellipses with one outline around the whole."""
        for e in ellipses:
            self.ellipse(e, outline)
        d = self.lw
        for x0, y0, x1, y1 in ellipses:
            self.ellipse((x0 + d, y0 + d, x1 - d, y1 - d), fill)


class Frame:
    """Maps unit coordinates (u, v) in 0..1 of a box to pixels; ``flip`` mirrors u (facing left)."""

    def __init__(self, b: BoxF, flip: bool = False):
        self.x0, self.y0, self.x1, self.y1 = b
        self.w, self.h = self.x1 - self.x0, self.y1 - self.y0
        self.flip = flip

    def x(self, u: float) -> float:
        return self.x0 + ((1.0 - u) if self.flip else u) * self.w

    def y(self, v: float) -> float:
        return self.y0 + v * self.h

    def pt(self, u: float, v: float) -> Pt:
        return (self.x(u), self.y(v))

    def pts(self, uv: Sequence[Pt]) -> list[Pt]:
        return [self.pt(u, v) for u, v in uv]

    def box(self, u0: float, v0: float, u1: float, v1: float) -> BoxF:
        xa, xb = sorted((self.x(u0), self.x(u1)))
        return (xa, self.y(v0), xb, self.y(v1))

    def disc(self, u: float, v: float, rad: float) -> BoxF:
        """A circle of radius ``rad`` pixels around (u, v)."""
        x, y = self.pt(u, v)
        return (x - rad, y - rad, x + rad, y + rad)

    @property
    def m(self) -> float:
        return min(self.w, self.h)


def fitter(raw: Sequence[Pt], b: BoxF) -> Callable[[float, float], Pt]:
    """A map from raw coordinates to pixels that stretches the bounding box of ``raw`` onto ``b``."""
    xs, ys = [p[0] for p in raw], [p[1] for p in raw]
    rx0, ry0 = min(xs), min(ys)
    sx = (b[2] - b[0]) / max(max(xs) - rx0, 1e-9)
    sy = (b[3] - b[1]) / max(max(ys) - ry0, 1e-9)
    return lambda x, y: (b[0] + (x - rx0) * sx, b[1] + (y - ry0) * sy)


def fit(raw: Sequence[Pt], b: BoxF) -> list[Pt]:
    t = fitter(raw, b)
    return [t(x, y) for x, y in raw]


def lens(p0: Pt, p1: Pt, width: float, n: int = 12) -> list[Pt]:
    """A leaf-shaped polygon from p0 to p1, ``width`` pixels at its widest."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    ln = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / ln, dx / ln
    side1 = [(p0[0] + dx * t + nx * width / 2 * math.sin(math.pi * t), p0[1] + dy * t + ny * width / 2 *
              math.sin(math.pi * t)) for t in np.linspace(0, 1, n)]
    side2 = [(p0[0] + dx * t - nx * width / 2 * math.sin(math.pi * t), p0[1] + dy * t - ny * width / 2 *
              math.sin(math.pi * t)) for t in np.linspace(1, 0, n)]
    return side1 + side2[1:-1]


def _pick(r: np.random.Generator, options: Sequence):
    return options[int(r.integers(len(options)))]


# ---------------------------------------------------------------------------------------------
# Drawers: one per category. Signature: (pen, box in supersampled px, main colour, rng).
# ---------------------------------------------------------------------------------------------
def draw_circle(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    p.ellipse(b, c, outline_of(c), width=p.lw * r.uniform(0.8, 1.8))
    if r.random() < 0.5:
        p.ellipse(f.box(0.2, 0.16, 0.4, 0.32), light(c, 0.4))


def draw_square(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    rad = r.uniform(0.0, 0.14) * f.m
    p.rect(b, c, outline_of(c), radius=rad, width=p.lw * r.uniform(0.8, 1.8))
    if r.random() < 0.4:
        p.rect(f.box(0.16, 0.16, 0.84, 0.84), light(c, 0.12), radius=rad * 0.6)


def draw_triangle(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    ax = r.uniform(0.35, 0.65)
    p.polygon(f.pts([(ax, 0.0), (1.0, 1.0), (0.0, 1.0)]), c, outline_of(c), width=p.lw * r.uniform(0.8, 1.8))


def draw_star(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    n = 5 if r.random() < 0.8 else 6
    k, rot = r.uniform(0.38, 0.5), r.uniform(-0.12, 0.12)
    raw = []
    for i in range(2 * n):
        a = -math.pi / 2 + rot + i * math.pi / n
        rad = 1.0 if i % 2 == 0 else k
        raw.append((rad * math.cos(a), rad * math.sin(a)))
    p.polygon(fit(raw, b), c, outline_of(c))


def draw_heart(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    tilt = r.uniform(-0.12, 0.12)
    raw = []
    for t in np.linspace(0, 2 * math.pi, 64, endpoint=False):
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        raw.append((x * math.cos(tilt) - y * math.sin(tilt), x * math.sin(tilt) + y * math.cos(tilt)))
    tr = fitter(raw, b)
    p.polygon([tr(x, y) for x, y in raw], c, outline_of(c))
    if r.random() < 0.5:
        x, y = tr(-8.0, -6.0)
        rad = 0.07 * min(b[2] - b[0], b[3] - b[1])
        p.ellipse((x - rad, y - rad, x + rad, y + rad), light(c, 0.45))


def draw_sun(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    cx, cy, hx, hy = f.x(0.5), f.y(0.5), f.w / 2, f.h / 2
    n, rd = int(r.integers(8, 15)), r.uniform(0.55, 0.66)
    rot = r.uniform(0, 2 * math.pi / n)
    ray = mix(c, COLORS["orange"], 0.3)
    triangles = r.random() < 0.5
    for i in range(n):
        a = rot + 2 * math.pi * i / n
        if triangles:
            h = math.pi / n * 0.5
            p.polygon([(cx + hx * math.cos(a), cy + hy * math.sin(a)),
                       (cx + hx * rd * math.cos(a - h), cy + hy * rd * math.sin(a - h)),
                       (cx + hx * rd * math.cos(a + h), cy + hy * rd * math.sin(a + h))], ray)
        else:
            p.line([(cx + hx * rd * 1.12 * math.cos(a), cy + hy * rd * 1.12 * math.sin(a)),
                    (cx + hx * 0.96 * math.cos(a), cy + hy * 0.96 * math.sin(a))], ray, 0.08 * f.m)
    p.ellipse((cx - rd * hx, cy - rd * hy, cx + rd * hx, cy + rd * hy), c, dark(c, 0.2), width=p.lw * 1.2)


def draw_moon(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    d = r.uniform(0.55, 0.85)  # how far the shadow disc is shifted: thinner crescent when small
    a0, a1 = math.acos(d / 2), math.acos(-d / 2)
    outer = [(math.cos(t), math.sin(t)) for t in np.linspace(a0, 2 * math.pi - a0, 40)]
    inner = [(d + math.cos(t), math.sin(t)) for t in np.linspace(2 * math.pi - a1, a1, 30)]
    tilt, sgn = r.uniform(-0.3, 0.3), (1 if r.random() < 0.5 else -1)
    raw = [(sgn * (x * math.cos(tilt) - y * math.sin(tilt)), x * math.sin(tilt) + y * math.cos(tilt))
           for x, y in outer + inner]
    tr = fitter(raw, b)
    p.polygon([tr(x, y) for x, y in raw], c, outline_of(c))
    sx = (b[2] - b[0]) / 2
    for _ in range(int(r.integers(0, 3))):
        ang = r.uniform(2.5, 3.8)
        rr, rad = r.uniform(0.45, 0.7), r.uniform(0.06, 0.1) * sx
        x0, y0 = rr * math.cos(ang), rr * math.sin(ang)
        x, y = tr(sgn * (x0 * math.cos(tilt) - y0 * math.sin(tilt)), x0 * math.sin(tilt) + y0 * math.cos(tilt))
        p.ellipse((x - rad, y - rad, x + rad, y + rad), dark(c, 0.12))


def draw_cloud(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    k = int(r.integers(3, 6))
    circ = [(0.5, 0.66, 0.46, 0.17)]  # (cx, cy, rx, ry) in raw units; a flat base
    for x in np.linspace(0.2, 0.8, k):
        rad = 0.13 + 0.12 * (1 - abs(x - 0.5) * 2) + r.uniform(-0.03, 0.04)
        circ.append((float(x + r.uniform(-0.04, 0.04)), 0.6 - rad * 0.7, rad, rad))
    raw = [pt for cx, cy, rx, ry in circ for pt in ((cx - rx, cy - ry), (cx + rx, cy + ry))]
    tr = fitter(raw, b)
    ell = []
    for cx, cy, rx, ry in circ:
        x0, y0 = tr(cx - rx, cy - ry)
        x1, y1 = tr(cx + rx, cy + ry)
        ell.append((x0, y0, x1, y1))
    p.blob(ell, c, mix(c, (110, 130, 160), 0.4))


def draw_bird(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b, flip=r.random() < 0.5)
    o, wing = outline_of(c), dark(c, 0.22)
    beak = COLORS["orange"] if c != COLORS["orange"] else COLORS["yellow"]
    tail = [(0.0, 0.32), (0.24, 0.55), (0.0, 0.8)] if r.random() < 0.5 else \
        [(0.0, 0.36), (0.24, 0.55), (0.0, 0.74), (0.08, 0.55)]
    p.polygon(f.pts(tail), wing, o)
    p.ellipse(f.box(0.12, 0.34, 0.8, 0.94), c, o)
    p.ellipse(f.box(0.56, 0.14, 0.86, 0.52), c, o)
    p.polygon(f.pts([(0.83, 0.26), (1.0, 0.34), (0.83, 0.42)]), beak, dark(beak, 0.3))
    p.ellipse(f.disc(0.74, 0.28, 0.06 * f.m), (250, 250, 250))
    p.ellipse(f.disc(0.75, 0.28, 0.035 * f.m), (20, 20, 20))
    if r.random() < 0.55:  # wing raised
        p.polygon(f.pts([(0.3, 0.62), (0.62, 0.6), (0.5, 0.34), (0.22, 0.0), (0.28, 0.3)]), wing, o)
    else:
        p.polygon(lens(f.pt(0.26, 0.56), f.pt(0.64, 0.66), 0.24 * f.h), wing, o)


def draw_balloon(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    wob = r.uniform(0.05, 0.14)
    pts = [f.pt(0.5, 0.76)]
    for i in range(1, 6):
        v = 0.76 + 0.24 * i / 5
        pts.append(f.pt(0.5 + wob * math.sin(i * 1.9 + r.uniform(-0.3, 0.3)), v))
    p.line(pts, (110, 110, 110), max(1.0, 0.5 * p.lw))
    p.polygon(f.pts([(0.43, 0.79), (0.57, 0.79), (0.5, 0.7)]), dark(c, 0.15))
    p.ellipse(f.box(0.0, 0.0, 1.0, 0.74), c, outline_of(c))
    hl = r.uniform(0.16, 0.24)
    p.ellipse(f.box(hl, 0.1, hl + 0.14, 0.3), light(c, 0.5))


def draw_kite(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    top, rt, bot, lt, mid = (0.5, 0.0), (1.0, 0.28), (0.5, 0.72), (0.0, 0.28), (0.5, 0.28)
    c2 = light(c, 0.5) if r.random() < 0.5 else COLORS[_pick(r, ("yellow", "blue", "red", "white", "green"))]
    for i, tri in enumerate([(top, rt, mid), (rt, bot, mid), (bot, lt, mid), (lt, top, mid)]):
        p.polygon(f.pts(tri), c if i % 2 == 0 else c2)
    p.polygon(f.pts([top, rt, bot, lt]), None, outline_of(c))
    spar = (110, 80, 50)
    p.line(f.pts([top, bot]), spar, 0.6 * p.lw)
    p.line(f.pts([lt, rt]), spar, 0.6 * p.lw)
    amp, k = r.uniform(0.08, 0.2), int(r.integers(2, 5))
    tail = [(0.5 + amp * math.sin(t * 2.2), 0.72 + 0.28 * t) for t in np.linspace(0, 1, 10)]
    p.line(f.pts(tail), (90, 90, 90), max(1.0, 0.5 * p.lw))
    for j in range(k):
        u, v = tail[int((j + 1) * 9 / (k + 0.5))]
        s = 0.09
        p.polygon(f.pts([(u, v), (u - s, v - s * 0.6), (u - s, v + s * 0.6)]), c2)
        p.polygon(f.pts([(u, v), (u + s, v - s * 0.6), (u + s, v + s * 0.6)]), c)


def draw_tree(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    trunk, tw = jitter((125, 80, 45), r, 0.12), r.uniform(0.09, 0.2) / 2
    o = outline_of(c)
    if r.random() < 0.35:  # pine
        p.rect(f.box(0.5 - tw, 0.75, 0.5 + tw, 1.0), trunk, dark(trunk, 0.35))
        k = int(r.integers(3, 5))
        for i in range(k):
            t = i / (k - 1)
            half, top = 0.24 + 0.26 * t, 0.62 * t * 0.85
            bottom = min(0.82, top + 0.3 + 0.05 * t)
            p.polygon(f.pts([(0.5, top if i else 0.0), (0.5 + half, bottom), (0.5 - half, bottom)]), c, o)
    else:  # round crown of blobs
        p.rect(f.box(0.5 - tw, 0.48, 0.5 + tw, 1.0), trunk, dark(trunk, 0.35))
        if r.random() < 0.5:
            p.line(f.pts([(0.5, 0.7), (0.5 + 3 * tw, 0.52)]), trunk, tw * f.w)
        blobs = [f.box(0.1, 0.0, 0.9, 0.56)]
        for _ in range(int(r.integers(2, 5))):
            u, v, s = r.uniform(0.22, 0.78), r.uniform(0.2, 0.46), r.uniform(0.16, 0.22)
            blobs.append(f.box(max(0.0, u - s), max(0.0, v - s * 0.8), min(1.0, u + s), min(0.7, v + s * 0.8)))
        blobs += [f.box(0.0, 0.2, 0.42, 0.62), f.box(0.58, 0.2, 1.0, 0.62)]
        p.blob(blobs, c, o)
        dots = (COLORS["red"] if c == COLORS["green"] and r.random() < 0.3 else light(c, 0.2))
        for _ in range(int(r.integers(2, 6))):
            p.ellipse(f.disc(r.uniform(0.2, 0.8), r.uniform(0.12, 0.5), 0.04 * f.m), dots)


def draw_house(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    roofs = [(170, 55, 45), (115, 70, 45), (85, 85, 100), (60, 80, 135), (45, 45, 50)]
    roof = _pick(r, [x for x in roofs if sum(abs(a - b_) for a, b_ in zip(x, c, strict=True)) > 90] or roofs)
    o, eave, gable = outline_of(c), 0.46, r.random() < 0.65
    if r.random() < 0.5:
        cu = r.uniform(0.62, 0.72) if r.random() < 0.5 else r.uniform(0.2, 0.28)
        p.rect(f.box(cu, 0.06, cu + 0.09, 0.34), (150, 75, 55), dark((150, 75, 55)))
    p.rect(f.box(0.1, eave, 0.9, 1.0), c, o)
    shape = [(0.0, eave + 0.03), (0.5, 0.0), (1.0, eave + 0.03)] if gable else \
        [(0.0, eave + 0.03), (0.2, 0.04), (0.8, 0.04), (1.0, eave + 0.03)]
    p.polygon(f.pts(shape), roof, dark(roof))
    if gable and r.random() < 0.4:
        p.ellipse(f.disc(0.5, 0.3, 0.07 * f.m), (175, 215, 240), (240, 240, 240), width=p.lw)
    du = _pick(r, (0.18, 0.42, 0.64))
    door = (100, 60, 35) if luma(c) > 90 or c[0] > c[2] + 60 else (200, 150, 90)
    p.rect(f.box(du, 0.66, du + 0.17, 1.0), door, dark(door), radius=0.02 * f.m)
    p.ellipse(f.disc(du + 0.13, 0.84, 0.018 * f.m), (235, 200, 80))
    slots = [u for u in (0.16, 0.41, 0.66) if u + 0.18 < du or u > du + 0.17]
    for u in slots[: int(r.integers(1, len(slots) + 1))]:
        wb = f.box(u, 0.56, u + 0.18, 0.76)
        p.rect(wb, (175, 215, 240), (245, 245, 245), width=p.lw * 1.3)
        mx, my = (wb[0] + wb[2]) / 2, (wb[1] + wb[3]) / 2
        p.line([(mx, wb[1]), (mx, wb[3])], (245, 245, 245), p.lw)
        p.line([(wb[0], my), (wb[2], my)], (245, 245, 245), p.lw)


def draw_car(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b, flip=r.random() < 0.5)
    o, glass = outline_of(c), (175, 215, 240)
    wr = min(0.22 * f.h, 0.12 * f.w) * r.uniform(0.85, 1.12)
    wv = 1.0 - wr / f.h
    cabins = {
        "sedan": [(0.2, 0.44), (0.33, 0.02), (0.68, 0.02), (0.82, 0.44)],
        "hatch": [(0.14, 0.44), (0.2, 0.02), (0.7, 0.02), (0.86, 0.44)],
        "sport": [(0.22, 0.44), (0.42, 0.06), (0.62, 0.06), (0.86, 0.44)],
    }
    kind = _pick(r, tuple(cabins))
    cab = cabins[kind]
    p.polygon(f.pts(cab), c, o)
    (u0, _), (u1, v1), (u2, _), (u3, _) = cab
    inset = 0.05
    mid = (u1 + u2) / 2
    p.polygon(f.pts([(u0 + inset * 1.8, 0.42), (u1 + inset * 0.5, v1 + 0.08), (mid - 0.02, v1 + 0.08),
                     (mid - 0.02, 0.42)]), glass)
    p.polygon(f.pts([(mid + 0.02, 0.42), (mid + 0.02, v1 + 0.08), (u2 - inset * 0.5, v1 + 0.08),
                     (u3 - inset * 1.8, 0.42)]), glass)
    p.rect(f.box(0.0, 0.4, 1.0, min(0.95, wv + 0.05)), c, o, radius=0.16 * f.h)
    p.rect(f.box(0.93, 0.5, 1.0, 0.6), (250, 230, 120), radius=0.02 * f.m)
    p.rect(f.box(0.0, 0.5, 0.04, 0.6), (210, 40, 40))
    p.line(f.pts([(0.45, 0.55), (0.5, 0.55)]), dark(c, 0.5), p.lw)
    for u in (0.22, 0.78):
        p.ellipse(f.disc(u, wv, wr), (35, 35, 35), (15, 15, 15))
        p.ellipse(f.disc(u, wv, wr * r.uniform(0.4, 0.55)), (190, 190, 195))


def draw_flower(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    rad = min(0.5 * f.w, 0.3 * f.h)
    cx, cy = f.x(0.5), f.y(0) + rad
    stem = jitter((60, 150, 60), r, 0.1)
    sway = r.uniform(-0.12, 0.12) * f.w
    p.line([(cx, cy), (cx + sway * 0.5, (cy + f.y1) / 2), (cx + sway * 0.2, f.y1)], stem, max(p.lw * 1.5, 0.07 * f.w))
    for side in (-1, 1) if r.random() < 0.5 else (_pick(r, (-1, 1)),):
        v = r.uniform(0.55, 0.75)
        x0 = cx + sway * 0.4
        p.polygon(lens((x0, f.y(v)), (x0 + side * 0.4 * f.w, f.y(v - 0.1)), 0.09 * f.h), stem, dark(stem))
    n, pr = int(r.integers(5, 9)), rad * r.uniform(0.36, 0.44)
    rot = r.uniform(0, 2 * math.pi)
    petals = []
    for i in range(n):
        a = rot + 2 * math.pi * i / n
        px, py = cx + (rad - pr) * math.cos(a), cy + (rad - pr) * math.sin(a)
        petals.append((px - pr, py - pr, px + pr, py + pr))
    p.blob(petals, c, outline_of(c))
    mid = (250, 205, 50) if c not in (COLORS["yellow"], COLORS["orange"]) else (140, 85, 40)
    cr = rad * r.uniform(0.3, 0.4)
    p.ellipse((cx - cr, cy - cr, cx + cr, cy + cr), mid, dark(mid, 0.3))


def draw_mountain(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    o, pu = outline_of(c), r.uniform(0.4, 0.6)
    if r.random() < 0.6:
        back = light(c, 0.2) if luma(c) < 200 else dark(c, 0.1)
        if pu < 0.5:
            p.polygon(f.pts([(0.45, 1.0), (0.78, 0.3), (1.0, 0.65), (1.0, 1.0)]), back, o)
        else:
            p.polygon(f.pts([(0.55, 1.0), (0.22, 0.3), (0.0, 0.65), (0.0, 1.0)]), back, o)
    p.polygon(f.pts([(0.0, 1.0), (pu, 0.0), (1.0, 1.0)]), c, o)
    if r.random() < 0.7:
        s = r.uniform(0.22, 0.34)
        snow = (252, 252, 255) if luma(c) < 215 else (200, 212, 230)
        zig = [(pu * (1 - s), s)]
        for j in range(1, 4):
            uu = pu * (1 - s) + (pu + (1 - pu) * s - pu * (1 - s)) * j / 4
            zig.append((uu, s - 0.07 if j % 2 else s + 0.02))
        zig.append((pu + (1 - pu) * s, s))
        p.polygon(f.pts([(pu, 0.0)] + zig[::-1]), snow)


def draw_sign(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    post = jitter((125, 85, 50), r, 0.1) if r.random() < 0.6 else (150, 150, 158)
    if r.random() < 0.5:
        p.rect(f.box(0.45, 0.55, 0.55, 1.0), post, dark(post))
    else:
        for u in (0.14, 0.78):
            p.rect(f.box(u, 0.55, u + 0.08, 1.0), post, dark(post))
    p.rect(f.box(0.0, 0.0, 1.0, 0.62), c, outline_of(c), radius=r.uniform(0.0, 0.08) * f.m, width=p.lw * 1.6)


def draw_banner(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    o = outline_of(c)
    if r.random() < 0.5:  # ribbon with swallow-tail ends
        end = dark(c, 0.2)
        p.polygon(f.pts([(0.0, 0.2), (0.2, 0.2), (0.2, 1.0), (0.0, 1.0), (0.08, 0.6)]), end, o)
        p.polygon(f.pts([(1.0, 0.2), (0.8, 0.2), (0.8, 1.0), (1.0, 1.0), (0.92, 0.6)]), end, o)
        p.rect(f.box(0.1, 0.0, 0.9, 0.82), c, o)
    else:  # hanging cloth on a rod with a pointed hem
        rod = (120, 80, 45)
        k = int(r.integers(3, 7))
        hem = [(0.04, 0.08), (0.96, 0.08), (0.96, 0.82)]
        for j in range(k, 0, -1):
            hem += [(0.04 + 0.92 * (j - 0.5) / k, 1.0), (0.04 + 0.92 * (j - 1) / k, 0.82)]
        p.polygon(f.pts(hem), c, o)
        p.rect(f.box(0.0, 0.0, 1.0, 0.1), rod, dark(rod), radius=0.05 * f.h)


def draw_poster(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    p.rect(b, c, outline_of(c), width=p.lw * r.uniform(1.0, 2.2))
    if r.random() < 0.5:
        p.rect(f.box(0.1, 0.84, 0.9, 0.9), mix(c, outline_of(c), 0.5))
    tack = COLORS[_pick(r, ("red", "blue", "green", "gray"))]
    corners = [(0.06, 0.04), (0.94, 0.04)] + ([(0.06, 0.96), (0.94, 0.96)] if r.random() < 0.5 else [])
    for u, v in corners:
        p.ellipse(f.disc(u, v, 0.035 * f.m), tack, dark(tack))


def draw_table(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    o, lt = outline_of(c), r.uniform(0.04, 0.08)
    if r.random() < 0.5:  # back legs
        for u in (0.16, 0.84 - lt):
            p.rect(f.box(u, 0.15, u + lt * 0.8, 0.9), dark(c, 0.25), o)
    for u in (0.05, 0.95 - lt):
        p.rect(f.box(u, 0.15, u + lt, 1.0), c, o)
    if r.random() < 0.5:
        p.rect(f.box(0.05, 0.14, 0.95, 0.28), dark(c, 0.12), o)
    p.rect(f.box(0.0, 0.0, 1.0, 0.17), c, o, radius=0.03 * f.m)
    p.line(f.pts([(0.02, 0.11), (0.98, 0.11)]), dark(c, 0.15), p.lw)


def draw_boat(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b, flip=r.random() < 0.5)
    o, mu = outline_of(c), r.uniform(0.42, 0.55)
    sail = (250, 250, 244) if luma(c) < 225 else (240, 220, 170)
    flag = r.random() < 0.5
    p.line(f.pts([(mu, 0.62), (mu, 0.0)]), (110, 75, 45), max(p.lw, 0.03 * f.w))
    p.polygon(f.pts([(mu + 0.03, 0.1 if flag else 0.02), (mu + 0.03, 0.56), (min(0.97, mu + 0.42), 0.56)]),
              sail, dark(sail, 0.3))
    if r.random() < 0.6:
        p.polygon(f.pts([(mu - 0.03, 0.14), (mu - 0.03, 0.56), (max(0.04, mu - 0.34), 0.56)]), sail, dark(sail, 0.3))
    if flag:
        p.polygon(f.pts([(mu, 0.0), (mu + 0.14, 0.04), (mu, 0.08)]), COLORS["red"])
    p.polygon(f.pts([(0.0, 0.58), (1.0, 0.58), (0.84, 1.0), (0.14, 1.0)]), c, o)
    if r.random() < 0.5:
        band = light(c, 0.6) if luma(c) < 160 else dark(c, 0.35)
        v0, v1 = 0.67, 0.74
        p.polygon(f.pts([(0.16 * (v0 - 0.58) / 0.42, v0), (1 - 0.16 * (v0 - 0.58) / 0.42, v0),
                         (1 - 0.16 * (v1 - 0.58) / 0.42, v1), (0.14 * (v1 - 0.58) / 0.42, v1)]), band)


def draw_fish(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b, flip=r.random() < 0.5)
    o, fin = outline_of(c), dark(c, 0.2)
    p.polygon(f.pts([(0.42, 0.2), (0.55, 0.0), (0.74, 0.16)]), fin, o)
    tail = [(0.0, 0.06), (0.32, 0.5), (0.0, 0.94)] if r.random() < 0.5 else \
        [(0.0, 0.04), (0.32, 0.5), (0.0, 0.96), (0.1, 0.5)]
    p.polygon(f.pts(tail), fin, o)
    p.ellipse(f.box(0.22, 0.1, 1.0, 0.92), c, o)
    cu, cv, ru, rv = 0.61, 0.51, 0.39, 0.41
    band = light(c, 0.45) if luma(c) < 170 else dark(c, 0.25)
    k = int(r.integers(0, 4))
    for u in np.linspace(0.42, 0.66, k) if k else []:
        hv = rv * math.sqrt(max(0.0, 1 - ((u - cu) / ru) ** 2)) * 0.92
        p.ellipse(f.box(u - 0.035, cv - hv, u + 0.035, cv + hv), band)
    start, end = (120, 240) if f.flip else (300, 60)
    p.arc(f.box(0.62, 0.3, 0.78, 0.72), start, end, o, p.lw)
    p.ellipse(f.disc(0.86, 0.4, 0.08 * f.m), (250, 250, 250), (30, 30, 30), width=p.lw * 0.7)
    p.ellipse(f.disc(0.87, 0.4, 0.04 * f.m), (20, 20, 20))


def draw_apple(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    o, stem, leaf = outline_of(c), (105, 70, 40), (70, 160, 60) if c != COLORS["green"] else (40, 110, 40)
    tilt = r.uniform(-0.08, 0.08)
    p.line(f.pts([(0.5, 0.3), (0.52 + tilt, 0.02)]), stem, max(p.lw, 0.06 * f.w))
    p.blob([f.box(0.0, 0.2, 0.6, 0.96), f.box(0.4, 0.2, 1.0, 0.96), f.box(0.1, 0.34, 0.9, 1.0)], c, o)
    if r.random() < 0.75:
        side = _pick(r, (-1, 1))
        p.polygon(lens(f.pt(0.52 + tilt * 0.5, 0.12), f.pt(0.52 + side * 0.3, 0.02), 0.12 * f.h), leaf, dark(leaf))
    p.ellipse(f.box(0.2, 0.32, 0.32, 0.5), light(c, 0.45))


def draw_ball(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b)
    o = outline_of(c)
    if r.random() < 0.5:  # beach ball
        other = (250, 250, 250) if luma(c) < 220 else COLORS["blue"]
        third = COLORS[_pick(r, ("yellow", "blue", "green", "red"))]
        rot = r.uniform(0, 60)
        for i in range(6):
            col = c if i % 2 == 0 else (other if i != 3 else third)
            p.pieslice(b, rot + 60 * i, rot + 60 * (i + 1), col)
        p.ellipse(b, None, o, width=p.lw * 1.2)
        p.ellipse(f.box(0.43, 0.43, 0.57, 0.57), (250, 250, 250), o)
    else:  # seams
        p.ellipse(b, c, o, width=p.lw * 1.2)
        seam = dark(c, 0.55)
        p.line(f.pts([(0.5, 0.02), (0.5, 0.98)]), seam, p.lw)
        p.line(f.pts([(0.02, 0.5), (0.98, 0.5)]), seam, p.lw)
        p.arc(f.box(-0.45, 0.1, 0.35, 0.9), -70, 70, seam, p.lw)
        p.arc(f.box(0.65, 0.1, 1.45, 0.9), 110, 250, seam, p.lw)
    p.ellipse(f.box(0.2, 0.16, 0.36, 0.3), light(c, 0.6))


def draw_cup(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b, flip=r.random() < 0.5)
    o = outline_of(c)
    taper = r.uniform(0.0, 0.07)
    p.ellipse(f.box(0.55, 0.26, 1.0, 0.74), None, c, width=0.09 * f.w)
    p.ellipse(f.box(0.55, 0.26, 1.0, 0.74), None, o, width=p.lw * 0.8)
    p.polygon(f.pts([(0.0, 0.12), (0.74, 0.12), (0.72 - taper, 0.94), (0.02 + taper, 0.94)]), c, o)
    p.rect(f.box(0.02 + taper, 0.84, 0.72 - taper, 1.0), c, o, radius=0.08 * f.m)
    p.polygon(f.pts([(0.01, 0.13), (0.73, 0.13), (0.72 - taper, 0.9), (0.02 + taper, 0.9)]), c)
    p.ellipse(f.box(0.0, 0.02, 0.74, 0.22), light(c, 0.15) if luma(c) < 200 else dark(c, 0.08), o)
    p.ellipse(f.box(0.06, 0.06, 0.68, 0.18), (105, 65, 40) if r.random() < 0.6 else dark(c, 0.3))
    if r.random() < 0.5:
        band = light(c, 0.55) if luma(c) < 170 else COLORS[_pick(r, ("red", "blue", "green"))]
        p.rect(f.box(0.04 + taper * 0.5, 0.44, 0.7 - taper * 0.5, 0.54), band)


def draw_book(p: Pen, b: BoxF, c: RGB, r: np.random.Generator) -> None:
    f = Frame(b, flip=r.random() < 0.5)
    o, pages = outline_of(c), (246, 242, 228)
    p.rect(f.box(0.0, 0.0, 1.0, 1.0), c, o, radius=0.12 * f.h)
    p.rect(f.box(0.12, 0.26, 0.98, 0.76), pages, dark(pages, 0.25), width=p.lw * 0.7)
    for j in range(int(r.integers(2, 4))):
        v = 0.36 + 0.3 * j / 3
        p.line(f.pts([(0.16, v), (0.95, v)]), (200, 195, 180), max(1.0, 0.5 * p.lw))
    p.rect(f.box(0.0, 0.0, 0.12, 1.0), dark(c, 0.18), o, radius=0.1 * f.h)
    if r.random() < 0.6:
        band = COLORS["yellow"] if c != COLORS["yellow"] else COLORS["red"]
        p.rect(f.box(0.02, 0.4, 0.1, 0.6), band)
    if r.random() < 0.4:
        bu = r.uniform(0.5, 0.8)
        p.polygon(f.pts([(bu, 0.74), (bu + 0.05, 0.74), (bu + 0.05, 1.0), (bu + 0.025, 0.92), (bu, 1.0)]),
                  COLORS["red"])


def draw_unknown(p: Pen, b: BoxF, c: RGB | None, r: np.random.Generator) -> None:
    """An open-vocabulary entity: a neutral rounded placeholder with a dashed outline."""
    f = Frame(b)
    fill = (226, 226, 226) if c is None else mix((226, 226, 226), c, 0.45)
    rad = 0.18 * f.m
    p.rect(b, fill, radius=rad)
    d, dash = 0.5 * p.lw + 0.5, max(3.0, 0.08 * f.m)
    x0, y0, x1, y1 = b[0] + d, b[1] + d, b[2] - d, b[3] - d
    gray = (120, 120, 120)
    for a0, a1, fixed, horiz in ((x0 + rad, x1 - rad, y0, True), (x0 + rad, x1 - rad, y1, True),
                                 (y0 + rad, y1 - rad, x0, False), (y0 + rad, y1 - rad, x1, False)):
        t = a0
        while t < a1:
            t2 = min(a1, t + dash)
            p.line([(t, fixed), (t2, fixed)] if horiz else [(fixed, t), (fixed, t2)], gray, p.lw)
            t += 2 * dash
    for box, s in (((x0, y0, x0 + 2 * rad, y0 + 2 * rad), 180), ((x1 - 2 * rad, y0, x1, y0 + 2 * rad), 270),
                   ((x1 - 2 * rad, y1 - 2 * rad, x1, y1), 0), ((x0, y1 - 2 * rad, x0 + 2 * rad, y1), 90)):
        p.arc(box, s + 20, s + 70, gray, p.lw)


def draw_placeholder(p: Pen, b: BoxF, c: RGB | None, r: np.random.Generator, noun: str) -> None:
    """What a renderer that cannot draw ``noun`` draws in its box: the dashed placeholder, labelled with the
    noun, so that it reads as "not drawn" rather than as a mistake."""
    draw_unknown(p, b, c, r)
    p.text(b, noun[:24], (90, 90, 90))


Drawer = Callable[[Pen, BoxF, RGB, np.random.Generator], None]
DRAWERS: dict[str, Drawer] = {
    "circle": draw_circle, "square": draw_square, "triangle": draw_triangle, "star": draw_star,
    "heart": draw_heart, "sun": draw_sun, "moon": draw_moon, "cloud": draw_cloud, "bird": draw_bird,
    "balloon": draw_balloon, "kite": draw_kite, "tree": draw_tree, "house": draw_house, "car": draw_car,
    "flower": draw_flower, "mountain": draw_mountain, "sign": draw_sign, "banner": draw_banner,
    "poster": draw_poster, "table": draw_table, "boat": draw_boat, "fish": draw_fish, "apple": draw_apple,
    "ball": draw_ball, "cup": draw_cup, "book": draw_book,
}


# ---------------------------------------------------------------------------------------------
# Backgrounds
# ---------------------------------------------------------------------------------------------
_SKY = {
    "day": [(0.0, (105, 165, 232)), (1.0, (190, 222, 246))],
    "sunset": [(0.0, (72, 70, 140)), (0.55, (226, 118, 96)), (1.0, (250, 192, 112))],
    "night": [(0.0, (8, 12, 36)), (1.0, (36, 46, 88))],
}
_LOWER = {  # lower band: (top colour, bottom colour) per time
    "ground": {"day": ((120, 190, 85), (80, 150, 60)), "sunset": ((120, 140, 70), (85, 105, 55)),
               "night": ((35, 70, 45), (20, 45, 30))},
    "water": {"day": ((70, 145, 210), (30, 80, 165)), "sunset": ((110, 105, 160), (50, 60, 130)),
              "night": ((20, 38, 80), (10, 20, 50))},
    "table": {"day": ((185, 130, 80), (150, 100, 60))},
    "floor": {"day": ((170, 130, 90), (135, 100, 68))},
}
_WALL = {"table": (236, 226, 206), "wall": (226, 216, 200), "plain": (244, 244, 244)}
_INDOOR_DIM = {"day": 1.0, "sunset": 0.92, "night": 0.7}


def _gradient(stops: list[tuple[float, RGB]], n: int) -> np.ndarray:
    """n x 3 float32 colours interpolated between (t, colour) stops."""
    t = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
    pos = np.array([s[0] for s in stops], dtype=np.float32)
    cols = np.array([s[1] for s in stops], dtype=np.float32)
    return np.stack([np.interp(t, pos, cols[:, k]) for k in range(3)], axis=1).astype(np.float32)


@lru_cache(maxsize=64)
def _background(kind: str, time: str, colors: tuple[str, ...], w: int, h: int) -> np.ndarray:
    bg = BACKGROUNDS.get(kind, BACKGROUNDS["grass"])
    hy = int(round(bg.horizon * h))
    outdoor = kind in ("sky", "grass", "sea")
    main_lower = kind in ("grass", "sea", "table")  # the band that colors[0] names
    over = [c for c in (resolve_color(n) for n in colors) if c is not None]
    upper_c = over[0] if over and not main_lower else (over[1] if len(over) > 1 and main_lower else None)
    lower_c = over[0] if over and main_lower else (over[1] if len(over) > 1 and not main_lower else None)

    if upper_c is not None:
        upper = _gradient([(0.0, dark(upper_c, 0.06)), (1.0, light(upper_c, 0.06))], max(hy, 1))
    elif outdoor:
        upper = _gradient(_SKY.get(time, _SKY["day"]), max(hy, 1))
    else:
        base = np.array(_WALL.get(kind, _WALL["wall"]), np.float32) * _INDOOR_DIM.get(time, 1.0)
        upper = _gradient([(0.0, base * 0.96), (1.0, base)], max(hy, 1))
    col = [upper[:hy]]
    if hy < h:
        if lower_c is not None:
            lower = _gradient([(0.0, light(lower_c, 0.05)), (1.0, dark(lower_c, 0.1))], h - hy)
        else:
            band = _LOWER.get(bg.lower, _LOWER["ground"])
            top, bot = band.get(time, band["day"])
            lower = _gradient([(0.0, top), (1.0, bot)], h - hy)
            if not outdoor:
                lower = lower * _INDOOR_DIM.get(time, 1.0)
        col.append(lower)
    column = np.concatenate(col, axis=0)
    img = np.repeat(column[:, None, :], w, axis=1)
    if bg.lower == "table" and hy < h:  # a darker front edge of the table top
        img[hy: hy + max(1, h // 128)] *= 0.8
    img.setflags(write=False)
    return img


def _background_details(img: np.ndarray, kind: str, time: str, rng: np.random.Generator) -> None:
    """Seeded, mask-free details: stars at night, waves on water."""
    h, w, _ = img.shape
    hy = int(round(BACKGROUNDS.get(kind, BACKGROUNDS["grass"]).horizon * h))
    if time == "night" and kind in ("sky", "grass", "sea") and hy > 4:
        n = int(rng.integers(20, 45) * w * h / 65536) + 5
        xs, ys = rng.integers(0, w, n), rng.integers(0, int(hy * 0.85), n)
        b = rng.uniform(150, 255, n).astype(np.float32)
        img[ys, xs] = np.maximum(img[ys, xs], b[:, None])
    if kind == "sea" and hy < h - 4:
        s = max(1, w // 256)
        for _ in range(int(rng.integers(6, 12))):
            y = int(rng.integers(hy + 3 * s, h - s))
            x = int(rng.integers(0, max(1, w - w // 8)))
            ln = int(rng.integers(w // 20, w // 8 + 2))
            img[y: y + s, x: x + ln] = img[y: y + s, x: x + ln] * 0.75 + 255 * 0.25


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------
def _font(size: int) -> ImageFont.FreeTypeFont:
    return load_font(size)


def text_padding(box_w_px: float, box_h_px: float) -> int:
    return max(1, int(round(0.08 * min(box_w_px, box_h_px))))


@lru_cache(maxsize=8192)
def fit_text(content: str, box_w_px: int, box_h_px: int) -> tuple[int, int, int]:
    """The largest font size at which ``content`` fits the box (with padding): (font_size, text_w, text_h)."""
    pad = text_padding(box_w_px, box_h_px)
    aw, ah = box_w_px - 2 * pad, box_h_px - 2 * pad
    lo, hi = 1, max(1, int(2 * max(box_w_px, box_h_px)) + 2)
    while lo < hi:  # largest size that fits; size 1 when nothing does
        mid = (lo + hi + 1) // 2
        tw, th = text_extent(content, mid)
        if tw <= aw and th <= ah:
            lo = mid
        else:
            hi = mid - 1
    tw, th = text_extent(content, lo)
    return lo, tw, th


def text_panel(box: BoxF, category: str | None) -> BoxF:
    """Where text goes on a carrier entity (0..1 canvas coordinates); the whole box for other categories."""
    u0, v0, u1, v1 = TEXT_PANELS.get(category or "", (0.0, 0.0, 1.0, 1.0))
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 + u0 * w, y0 + v0 * h, x0 + u1 * w, y0 + v1 * h)


def _text_box(t: TextBlock, plan: ScenePlan) -> BoxF:
    if t.box is not None:
        return t.box
    if t.on is not None:
        carrier = plan.entity(t.on)
        if carrier.box is not None:
            return text_panel(carrier.box, carrier.category)
    return DEFAULT_TEXT_BOX


def _text_geometry(t: TextBlock, box: BoxF, w: int, h: int):
    """Pixel rectangle, font and origin of a text block fitted to ``box`` (None when it has no area)."""
    x0, y0 = int(round(box[0] * w)), int(round(box[1] * h))
    x1, y1 = max(x0 + 1, int(round(box[2] * w))), max(y0 + 1, int(round(box[3] * h)))
    x1, y1 = min(x1, w), min(y1, h)
    cw, ch = x1 - x0, y1 - y0
    if cw <= 0 or ch <= 0:
        return None
    size, tw, th = fit_text(t.content, cw, ch)
    bx0, by0, _, _ = text_bbox(t.content, size)
    return x0, y0, x1, y1, _font(size), ((cw - tw) / 2 - bx0, (ch - th) / 2 - by0), size


def render_glyphs(plan: ScenePlan, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """The plan's text as a full-resolution glyph raster: HxWx4 float32 (alpha, then RGB*alpha in 0..1).

    Exactly the glyphs :func:`render_scene` draws (same fit, same position), without the scene."""
    w, h = _resolve_size(plan, size)
    out = np.zeros((h, w, 4), np.float32)
    for t in plan.texts:
        g = _text_geometry(t, _text_box(t, plan), w, h)
        if g is None:
            continue
        x0, y0, x1, y1, font, pos, _ = g
        im = Image.new("L", (x1 - x0, y1 - y0))
        ImageDraw.Draw(im).text(pos, t.content, font=font, fill=255)
        a = np.asarray(im, np.float32) / 255.0
        col = np.array(resolve_color(t.color) or COLORS["black"], np.float32) / 255.0
        crop = out[y0:y1, x0:x1]
        crop[..., 0] = np.maximum(crop[..., 0], a)
        crop[..., 1:] = crop[..., 1:] * (1 - a[..., None]) + col * a[..., None]
    return out


def _draw_text(canvas: np.ndarray, category: np.ndarray, text_mask: np.ndarray, t: TextBlock, box: BoxF) -> None:
    h, w, _ = canvas.shape
    g = _text_geometry(t, box, w, h)
    if g is None:
        return
    x0, y0, x1, y1, font, pos, size = g
    cw, ch = x1 - x0, y1 - y0
    col = np.array(resolve_color(t.color) or COLORS["black"], np.float32)
    crop = canvas[y0:y1, x0:x1]
    if abs(luma(col) - luma(crop.reshape(-1, 3).mean(0))) < 100:  # low contrast: add a halo
        halo = np.array((255, 255, 255) if luma(col) < 128 else (0, 0, 0), np.float32)
        him = Image.new("L", (cw, ch))
        ImageDraw.Draw(him).text(pos, t.content, font=font, fill=255, stroke_width=max(1, size // 9))
        ha = np.asarray(him, np.float32)[..., None] / 255.0
        crop[:] = crop * (1 - ha) + halo * ha
    im = Image.new("L", (cw, ch))
    ImageDraw.Draw(im).text(pos, t.content, font=font, fill=255)
    a = np.asarray(im, np.float32) / 255.0
    crop[:] = crop * (1 - a[..., None]) + col * a[..., None]
    glyph = a >= 0.5
    text_mask[y0:y1, x0:x1] |= glyph
    category[y0:y1, x0:x1][glyph] = CATEGORY_IDS["text"]


# ---------------------------------------------------------------------------------------------
# The scene
# ---------------------------------------------------------------------------------------------
def _supersample(w: int, h: int) -> int:
    return max(2, min(4, 1024 // max(w, h)))


def _entity_rng(seed: int, e: Entity) -> np.random.Generator:
    return np.random.default_rng([seed % 2**32, zlib.crc32(e.id.encode()), zlib.crc32((e.category or "").encode())])


def _light_ramp(h: int, w: int, direction: str) -> np.ndarray | None:
    """A gentle brightness ramp, brighter on the lit side."""
    if direction == "left":
        return np.linspace(1.06, 0.94, w, dtype=np.float32)[None, :, None]
    if direction == "right":
        return np.linspace(0.94, 1.06, w, dtype=np.float32)[None, :, None]
    if direction == "top":
        return np.linspace(1.06, 0.94, h, dtype=np.float32)[:, None, None]
    return None


def _cast_shadow(canvas: np.ndarray, cov: np.ndarray, x0: int, y0: int, direction: str, size: float) -> None:
    """Darken the canvas with a soft copy of ``cov`` shifted away from the light."""
    d = max(1.0, 0.05 * size)
    dx, dy = {"left": (d, 0.6 * d), "right": (-d, 0.6 * d), "top": (0.0, d)}[direction]
    blur = max(1, int(round(0.5 * d)))
    pad = blur * 2
    img = Image.fromarray(np.pad((cov * 255).astype(np.uint8), pad))
    soft = np.asarray(img.filter(ImageFilter.BoxBlur(blur)), np.float32) * (0.3 / 255.0)
    h, w, _ = canvas.shape
    sx, sy = x0 - pad + int(round(dx)), y0 - pad + int(round(dy))
    cx0, cy0 = max(0, sx), max(0, sy)
    cx1, cy1 = min(w, sx + soft.shape[1]), min(h, sy + soft.shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    s = soft[cy0 - sy: cy1 - sy, cx0 - sx: cx1 - sx]
    canvas[cy0:cy1, cx0:cx1] *= (1.0 - s)[..., None]


cast_shadow = _cast_shadow  # public names for renderers that compose their own things (draw/builtin.py)
light_ramp = _light_ramp


def draw_texts(canvas: np.ndarray, plan: ScenePlan) -> np.ndarray:
    """Stamp the plan's text blocks into ``canvas`` (HxWx3 float32, in place) exactly as render_scene does
    (same fit, position and halo); returns the glyph mask."""
    h, w, _ = canvas.shape
    category, text_mask = np.zeros((h, w), np.uint8), np.zeros((h, w), bool)
    for t in plan.texts:
        _draw_text(canvas, category, text_mask, t, _text_box(t, plan))
    return text_mask


def _resolve_size(plan: ScenePlan, size: int | tuple[int, int] | None) -> tuple[int, int]:
    if size is None:
        return plan.canvas.width, plan.canvas.height
    if isinstance(size, int):
        return size, max(1, int(round(size * plan.canvas.height / plan.canvas.width)))
    return int(size[0]), int(size[1])


def render_scene(plan: ScenePlan, size: int | tuple[int, int] | None = None, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None) -> SceneRender:
    """Render ``plan`` with its exact masks.

    ``size``: None = plan.canvas; an int = that width (height keeps the canvas aspect); (w, h) = exact.
    Text blocks without a box go on their carrier's text panel (or a default band at the top).
    """
    unplaced = [e.id for e in plan.entities if e.box is None]
    if unplaced:
        raise ValueError(f"plan has unplaced entities; run the layout solver first: {unplaced}")
    w, h = _resolve_size(plan, size)
    ss = _supersample(w, h)
    bgk, time = plan.background.kind, plan.background.time
    canvas = np.array(_background(bgk, time, tuple(plan.background.colors), w, h), dtype=np.float32)
    _background_details(canvas, bgk, time, np.random.default_rng([seed % 2**32, 7]))
    instance = np.zeros((h, w), np.uint16)
    category = np.zeros((h, w), np.uint8)
    text_mask = np.zeros((h, w), bool)
    direction = plan.lighting.direction

    order = sorted(range(len(plan.entities)), key=lambda i: (plan.entities[i].z, i))
    for step, i in enumerate(order):
        e = plan.entities[i]
        assert e.box is not None
        px0, py0, px1, py1 = e.box[0] * w, e.box[1] * h, e.box[2] * w, e.box[3] * h
        x0, y0 = min(int(math.floor(px0)), w - 1), min(int(math.floor(py0)), h - 1)
        x1, y1 = max(x0 + 1, min(w, int(math.ceil(px1)))), max(y0 + 1, min(h, int(math.ceil(py1))))
        bw, bh = px1 - px0, py1 - py0
        pen = Pen((x1 - x0) * ss, (y1 - y0) * ss, lw=min(2.0, max(0.7, 0.022 * min(bw, bh))) * ss)
        local = ((px0 - x0) * ss, (py0 - y0) * ss, (px1 - x0) * ss, (py1 - y0) * ss)
        rng = _entity_rng(seed, e)
        if e.category in DRAWERS:
            DRAWERS[e.category](pen, local, jitter(entity_color(e), rng), rng)
            cid = CATEGORY_IDS[e.category]
        else:
            draw_placeholder(pen, local, resolve_color(e.attributes.color), rng, e.noun)
            cid = CATEGORY_IDS["unknown"]
        rgb = np.asarray(pen.rgb.reduce(ss), np.float32)
        cov = np.asarray(pen.cov.reduce(ss), np.float32) / 255.0
        if direction != "none" and e.category not in NO_SHADOW:
            _cast_shadow(canvas, cov, x0, y0, direction, min(bw, bh))
        ramp = _light_ramp(y1 - y0, x1 - x0, direction)
        if ramp is not None:
            rgb = rgb * ramp
        crop = canvas[y0:y1, x0:x1]
        crop[:] = crop * (1.0 - cov[..., None]) + rgb
        mask = cov >= 0.5
        if not mask.any() and cov.max() > 0:  # tiny boxes: keep the best-covered pixels
            mask = cov >= cov.max() * 0.999
        instance[y0:y1, x0:x1][mask] = i + 1
        category[y0:y1, x0:x1][mask] = cid
        if progress is not None:
            progress(step + 1, len(order))

    for t in plan.texts:
        _draw_text(canvas, category, text_mask, t, _text_box(t, plan))
    image = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), "RGB")
    return SceneRender(image=image, instance=instance, category=category, text_mask=text_mask)
