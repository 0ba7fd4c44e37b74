"""The image an edit starts from: its pixels, the plan it carries (if any), and whether that plan still
describes the pixels.

How a stale plan is detected, cheaply: every image thinkdraw writes carries ``pixels``, a SHA-256 of its RGB
pixels (``pixel_hash``). A PNG whose pixels still hash to it was not touched since thinkdraw wrote it: its
plan is used as it is, at no cost. When the hash differs (another program changed the pixels) or cannot
be compared (JPEG and WebP are lossy, so the decoded pixels never hash to what was written; files from
before the hash), the critic checks the carried plan against the pixels: the plan is kept when every
planned thing is still seen and the critic's score is at least ``MATCH_SCORE``; otherwise the image is
described from its pixels (``thinkdraw.edit.describe``). A hash alone would send every JPEG to describe;
the critic alone would cost a check per edit and could reject a builtin drawing it half-believes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from thinkdraw.plan.schema import ScenePlan

MATCH_SCORE = 0.75


def pixel_hash(image: Image.Image) -> str:
    """'sha256:<hex>' of the image's RGB pixels and size (the same pixels, the same hash, in any container)."""
    a = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    h = hashlib.sha256(f"{a.shape[1]}x{a.shape[0]}:".encode())
    h.update(a.tobytes())
    return "sha256:" + h.hexdigest()


@dataclass
class Source:
    image: Image.Image
    plan: ScenePlan | None = None
    meta: dict = field(default_factory=dict)
    path: str | None = None
    note: str = ""  # why there is no plan


def load_source(image: str | Path | Image.Image | Source, plan: ScenePlan | None = None) -> Source:
    """The pixels (RGB) and the carried payload of a file (or a PIL image with an optional ``plan``; or a
    ``Source`` already made, e.g. a session's turn with its pixel hash, returned as it is)."""
    from thinkdraw.plan.pngmeta import ImageFileError, read_image_meta

    if isinstance(image, Source):
        return image if plan is None else Source(image=image.image, plan=plan, meta=image.meta, path=image.path)
    if isinstance(image, Image.Image):
        return Source(image=image.convert("RGB"), plan=plan, meta={}, note="" if plan else "no plan was given")
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            pixels = im.convert("RGB")
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"{path} is not a readable image: {e}") from e
    try:
        meta = read_image_meta(path)
    except ImageFileError as e:
        return Source(image=pixels, plan=plan, meta={}, path=str(path), note=str(e))
    carried = meta.pop("plan")
    return Source(image=pixels, plan=plan or carried, meta=meta, path=str(path))


def plan_matches(src: Source, critic=None) -> tuple[bool, str]:
    """(whether the carried plan describes the pixels, why) - see the module's docstring."""
    if src.plan is None:
        return False, src.note or "the image carries no plan"
    W, H = src.image.size
    if (src.plan.canvas.width, src.plan.canvas.height) != (W, H):
        return False, (f"the plan is for a {src.plan.canvas.width}x{src.plan.canvas.height} canvas, the image is "
                       f"{W}x{H}")
    want = src.meta.get("pixels")
    if want and want == pixel_hash(src.image):
        return True, "the pixels are the ones thinkdraw wrote with this plan (their hash matches)"
    lossy = src.path is not None and Path(src.path).suffix.lower() in (".jpg", ".jpeg", ".webp")
    why = ("the pixels changed since thinkdraw wrote them (their hash differs)" if want and not lossy else
           "a lossy file cannot be compared by hash" if lossy else "the image carries no pixel hash")
    if critic is None:
        return True, why + "; no critic to check the plan with, so it is trusted"
    crit = critic.check(src.image, src.plan)
    seen = all(c.passed for c in crit.checks if c.kind == "presence")
    if seen and crit.score >= MATCH_SCORE:
        return True, f"{why}; the critic still sees the plan (score {crit.score:.2f})"
    return False, f"{why}, and the critic no longer sees the plan (score {crit.score:.2f}: {crit.reflection})"
