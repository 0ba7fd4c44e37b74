"""Pixel analysis shared by the critic (reflect/) and the eval judge (eval/): one copy of each helper, below both.

  box_px / boxes_mask   a plan box (0..1 of the canvas) as pixel bounds / a boolean mask of padded boxes
  crop_box              the crop of a box, padded, inside the image
  components            4-connected components of a boolean map, with their bounds and sizes
  named_colors          the nearest of the world's named colours, per pixel
  background_of         the world renderer's own background for a plan (what "no object here" looks like)
  point_relation_holds  left_of / right_of / above / below between two points (the layout solver's test)
  tesseract_line        Tesseract's reading of one line crop (binarised the way Tesseract reads best)
  read_box_tesseract    ... of a planned box, at a few upscales, stopping at the expected string

The critic and the judge stay independent in their *decisions* (what counts as present, which reader reads
text: the critic its own network, the judge Tesseract), not by owning copies of these helpers. This module
imports only the data model (plan/) and the world's vocabulary, so neither stage imports the other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from thinkdraw.errors import MissingToolError, ToolTimeoutError
from thinkdraw.world.layout import relation_holds
from thinkdraw.world.vocab import COLORS

COLOR_LIST = list(COLORS)
PALETTE = np.array([COLORS[n] for n in COLOR_LIST], np.float32)
OCR_SCALES = (4, 3, 5)  # Tesseract's reading of small text depends on the upscale: these, in this order
OCR_TIMEOUT = 60.0  # seconds for one Tesseract call (a line crop takes ~30 ms)
TEXT_PAD = 3  # pixels around a text box when it is read


def box_px(box, width: int, height: int, pad: int = 0) -> tuple[int, int, int, int]:
    """Pixel bounds ``(x0, y0, x1, y1)`` of a 0..1 box on a ``width`` x ``height`` grid: padded by ``pad``,
    clipped to the grid, at least one cell wide and high."""
    x0, y0 = max(0, int(box[0] * width) - pad), max(0, int(box[1] * height) - pad)
    x1 = min(width, max(x0 + 1, int(np.ceil(box[2] * width)) + pad))
    y1 = min(height, max(y0 + 1, int(np.ceil(box[3] * height)) + pad))
    return x0, y0, x1, y1


def boxes_mask(boxes, width: int, height: int, pad: int = 0) -> np.ndarray:
    """Boolean ``height`` x ``width`` mask covering the boxes, each padded by ``pad`` pixels."""
    m = np.zeros((height, width), bool)
    for b in boxes:
        x0, y0, x1, y1 = box_px(b, width, height, pad)
        m[y0:y1, x0:x1] = True
    return m


def crop_box(image: Image.Image, box, pad: int = TEXT_PAD) -> Image.Image:
    """The crop of ``box`` (0..1) padded by ``pad`` pixels, inside the image."""
    return image.crop(box_px(box, image.width, image.height, pad))


def background_of(plan, width: int, height: int) -> np.ndarray:
    """The background the world renderer draws for ``plan`` (kind, time, colours), float32 H x W x 3."""
    from thinkdraw.world.render import _background

    bg = plan.background
    return np.asarray(_background(bg.kind, bg.time, tuple(bg.colors), width, height), np.float32)


def named_colors(pixels: np.ndarray) -> np.ndarray:
    """Index (into ``COLOR_LIST``) of the nearest named colour for each RGB pixel (N, 3)."""
    d = ((pixels[:, None, :].astype(np.float32) - PALETTE[None]) ** 2).sum(-1)
    return d.argmin(1)


def components(m: np.ndarray, min_size: int = 1) -> list[tuple[int, int, int, int, int]]:
    """4-connected components of ``m`` with at least ``min_size`` pixels: (x0, y0, x1, y1, size)
    (small images: a plain flood fill is fast enough)."""
    seen = np.zeros_like(m)
    out = []
    H, W = m.shape
    for y, x in zip(*np.nonzero(m), strict=True):
        if seen[y, x]:
            continue
        stack, n = [(y, x)], 0
        x0, y0, x1, y1 = x, y, x, y
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            n += 1
            x0, y0, x1, y1 = min(x0, cx), min(y0, cy), max(x1, cx), max(y1, cy)
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < H and 0 <= nx < W and m[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if n >= min_size:
            out.append((int(x0), int(y0), int(x1) + 1, int(y1) + 1, n))
    return out


def touching_border(m: np.ndarray) -> np.ndarray:
    """Pixels of ``m`` connected (4-neighbourhood) to the image border: morphological reconstruction."""
    seed = np.zeros_like(m)
    seed[0, :], seed[-1, :], seed[:, 0], seed[:, -1] = m[0, :], m[-1, :], m[:, 0], m[:, -1]
    while True:
        grown = seed.copy()
        grown[1:] |= seed[:-1]
        grown[:-1] |= seed[1:]
        grown[:, 1:] |= seed[:, :-1]
        grown[:, :-1] |= seed[:, 1:]
        grown &= m
        if np.array_equal(grown, seed):
            return seed
        seed = grown


def point_relation_holds(pred: str, a: tuple[float, float], b: tuple[float, float], margin: float) -> bool:
    """``pred`` (left_of, right_of, above, below) between two points: the layout solver's test on their boxes."""
    return relation_holds(pred, (a[0], a[1], a[0], a[1]), (b[0], b[1], b[0], b[1]), margin=margin)


def require_tesseract() -> str:
    """The path of the ``tesseract`` program; MissingToolError (one clear line) when it is not installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise MissingToolError("tesseract", "Debian/Ubuntu: apt-get install tesseract-ocr; macOS: brew install "
                               "tesseract; Windows: the UB Mannheim installer", "the eval's independent text judge")
    return exe


def _binarise(img: Image.Image, scale: int) -> Image.Image:
    """Upscaled, Otsu-binarised, dark text on white with a white margin: what Tesseract reads best."""
    im = img.convert("L")
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.LANCZOS)
    a = np.asarray(im, np.float32)
    hist = np.bincount(a.astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * levels)
    total, mt = w0[-1], m0[-1]
    between = (mt * w0 - m0 * total) ** 2 / np.maximum(w0 * (total - w0), 1e-9)
    thr = int(np.argmax(between))
    bright = a > thr
    text = ~bright if bright.mean() > 0.5 else bright  # the minority is the text
    text &= ~touching_border(text)  # board edges and neighbours cut by the crop are not letters
    return Image.fromarray(np.pad(np.where(text, 0, 255).astype(np.uint8), 20, constant_values=255))


def tesseract_line(img: Image.Image, scale: int = 4) -> str:
    """Tesseract's single-line reading of ``img`` (upscaled ``scale`` times), whitespace normalised."""
    exe = require_tesseract()
    im = _binarise(img, scale)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.png"
        im.save(p)
        # one OpenMP thread: the same reading, ~35% faster on small images (no thread start-up)
        try:
            r = subprocess.run([exe, str(p), "stdout", "--psm", "7"], capture_output=True, text=True,
                               timeout=OCR_TIMEOUT, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        except subprocess.TimeoutExpired as e:
            raise ToolTimeoutError("tesseract", OCR_TIMEOUT) from e
    return " ".join(r.stdout.split())


def read_box_tesseract(image: Image.Image, box, expected: str | None = None, pad: int = TEXT_PAD,
                       scales: tuple[int, ...] = OCR_SCALES) -> str:
    """Tesseract's reading of ``box`` (0..1) in ``image``: at each upscale in turn, stopping at ``expected``
    (a changed letter is not read back as the planned one, so stopping early only spares time)."""
    crop = crop_box(image, box, pad)
    read = ""
    for scale in scales:
        read = tesseract_line(crop, scale)
        if read == expected:
            break
    return read


def gauss_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a (H, W[, C]) float array, edges padded by replication."""
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r, r)
        p = np.pad(a, pad, mode="edge")
        a = sum(k[i] * np.take(p, np.arange(i, i + a.shape[axis]), axis=axis) for i in range(2 * r + 1))
    return a


def morph(m: np.ndarray, r: int, grow: bool) -> np.ndarray:
    """Dilation (grow) or erosion of a boolean map by about ``r`` pixels (alternating 4- and 8-neighbourhoods:
    an octagon, close to a disc)."""
    m = m.copy()
    for i in range(r):
        p = np.pad(m, 1, constant_values=not grow)
        nb = [p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]]
        if i % 2:
            nb += [p[:-2, :-2], p[:-2, 2:], p[2:, :-2], p[2:, 2:]]
        m = np.logical_or.reduce(nb) if grow else np.logical_and.reduce(nb)
    return m


def convex_hull(ys: np.ndarray, xs: np.ndarray) -> list[tuple[float, float]]:
    """Convex hull (monotone chain) of the pixel squares at (ys, xs), as polygon points (x, y)."""
    pts = sorted({(x + dx, y + dy) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)
                  for dx in (0, 1) for dy in (0, 1)})

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def raster_polygon(poly: list[tuple[float, float]], h: int, w: int, ss: int = 4) -> np.ndarray:
    """Anti-aliased coverage (H, W) of a polygon given in pixel units."""
    from PIL import ImageDraw

    im = Image.new("L", (w * ss, h * ss))
    ImageDraw.Draw(im).polygon([(x * ss, y * ss) for x, y in poly], fill=255)
    return np.asarray(im.reduce(ss), np.float32) / 255.0

FAITHFUL_IOU = 0.9  # a blob this close to the thing's own silhouette ...
FAITHFUL_SHARE = 0.85  # ... of a thing nearly all one named colour is the thing itself: not a defect


def blob_layer(img: np.ndarray, mask: np.ndarray, short: float, kind: str, sigma: float | None = None,
               radius: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """A blob of a thing's colour, area and place without its silhouette (what a weak generator draws), to
    composite over the scene without the thing: (alpha H x W, rgb H x W x 3, the thing's main-colour share).
    ``img``: the scene (H x W x 3 float), ``mask``: the thing's pixels, ``short``: its box's shorter side in px.
    Kinds: hull (convex hull), ellipse (same centroid, moments, area), blur (blurred by ``sigma`` x short,
    default 0.15, thresholded to its area), smear (closing of radius ``radius`` x short, default 0.2, colours
    smeared). The eval's defects use the defaults; the critic's training draws them at random."""
    import math

    H, W = mask.shape
    area = int(mask.sum())
    ys, xs = np.nonzero(mask)
    names = named_colors(img[ys, xs])
    counts = np.bincount(names, minlength=len(PALETTE))
    main_share = float(counts.max() / area)
    dom = img[ys, xs][names == counts.argmax()].mean(0)
    if kind == "hull":
        alpha = raster_polygon(convex_hull(ys, xs), H, W)
        rgb = np.broadcast_to(dom, img.shape)
    elif kind == "ellipse":
        cy, cx = ys.mean() + 0.5, xs.mean() + 0.5
        cov = np.cov(np.stack([xs, ys]).astype(np.float64)) + np.eye(2) / 12
        ev, vec = np.linalg.eigh(cov)
        ax = 2 * np.sqrt(np.maximum(ev, 1e-6))  # semi-axes of the uniform ellipse with these moments
        ax *= math.sqrt(area / (math.pi * ax[0] * ax[1]))  # ... scaled to the thing's area
        t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
        pts = (vec @ np.stack([ax[0] * np.cos(t), ax[1] * np.sin(t)])).T + (cx, cy)
        alpha = raster_polygon([tuple(p) for p in pts.tolist()], H, W)
        rgb = np.broadcast_to(dom, img.shape)
    else:
        sigma = (sigma if sigma is not None else 0.15 if kind == "blur" else 0.1) * short
        a = gauss_blur(mask.astype(np.float32), sigma)
        rgb = gauss_blur(img * mask[..., None], sigma) / np.maximum(a, 1e-4)[..., None]
        if kind == "blur":
            thr = np.sort(a.ravel())[::-1][min(area, a.size) - 1]  # keeps the thing's area
            alpha = np.clip((a - thr) / max(thr, 1e-4) * 2.0 + 0.5, 0.0, 1.0)
        else:
            r = max(2, int(round((0.2 if radius is None else radius) * short)))
            alpha = morph(morph(mask, r, grow=True), r, grow=False).astype(np.float32)
            alpha = np.maximum(alpha, mask)
            a2 = gauss_blur(alpha, 0.1 * short)  # colours smeared over the closed shape
            rgb = gauss_blur(img * alpha[..., None], 0.1 * short) / np.maximum(a2, 1e-4)[..., None]
    return alpha, rgb, main_share
