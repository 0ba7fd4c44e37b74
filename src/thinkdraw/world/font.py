"""The bundled open font (DejaVu Sans Bold, see fonts/LICENSE-DejaVu.txt) and text measurement."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(__file__).parent / "fonts"
DEFAULT_FONT = "DejaVuSans-Bold"


def font_path(name: str = DEFAULT_FONT) -> Path:
    p = FONT_DIR / f"{name}.ttf"
    if not p.is_file():
        raise FileNotFoundError(f"bundled font {name!r} not found at {p}")
    return p


@lru_cache(maxsize=256)
def load_font(size: int, name: str = DEFAULT_FONT) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), max(1, int(size)))


@lru_cache(maxsize=8192)
def text_bbox(content: str, size: int, name: str = DEFAULT_FONT) -> tuple[int, int, int, int]:
    """Ink box of ``content`` drawn at the origin at font ``size`` (PIL's getbbox)."""
    return load_font(int(size), name).getbbox(content)


def text_extent(content: str, size: int, name: str = DEFAULT_FONT) -> tuple[int, int]:
    """Pixel (width, height) of ``content`` at font ``size`` (ink box, single line)."""
    x0, y0, x1, y1 = text_bbox(content, int(size), name)
    return (max(0, x1 - x0), max(0, y1 - y0))


def fit_font_size(content: str, box_w: float, box_h: float, lo: int = 4, hi: int = 400,
                  name: str = DEFAULT_FONT) -> int:
    """Largest font size whose ink box fits ``box_w`` x ``box_h`` pixels (at least ``lo``)."""
    # TrueType scales close to linearly: estimate from one measurement, then correct by stepping.
    w100, h100 = text_extent(content, 100, name)
    guess = int(min(box_w / max(w100, 1), box_h / max(h100, 1)) * 100)
    size = max(lo, min(hi, guess))
    while size > lo and (text_extent(content, size, name)[0] > box_w or text_extent(content, size, name)[1] > box_h):
        size -= 1
    while size < hi and text_extent(content, size + 1, name)[0] <= box_w and text_extent(content, size + 1, name)[1] <= box_h:
        size += 1
    return size
