"""Embed a ScenePlan (and prompt, seed, backend) in a PNG's iTXt chunk, and read it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from thinkdraw.plan.schema import ScenePlan

ITXT_KEY = "thinkdraw"


def save_png(image: Image.Image, path: str | Path, plan: ScenePlan, **meta: Any) -> Path:
    """Write ``image`` to ``path`` with ``{"plan", "prompt", ...meta}`` as JSON in an iTXt chunk."""
    path = Path(path)
    info = PngImagePlugin.PngInfo()
    payload = {"prompt": plan.prompt, **meta, "plan": plan.model_dump(mode="json")}
    info.add_itxt(ITXT_KEY, json.dumps(payload, ensure_ascii=False), zip=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format="PNG", pnginfo=info)
    tmp.replace(path)  # atomic: a crash never leaves a half-written image
    return path


def read_png_meta(path: str | Path) -> dict[str, Any]:
    """The thinkdraw metadata of a PNG; raises ValueError when the image carries none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            text = getattr(im, "text", {}) or {}
    except (OSError, SyntaxError) as e:
        raise ValueError(f"{path} is not a readable image: {e}") from e
    if ITXT_KEY not in text:
        raise ValueError(f"{path} carries no thinkdraw plan (it was not written by thinkdraw)")
    data = json.loads(text[ITXT_KEY])
    data["plan"] = ScenePlan.model_validate(data["plan"])
    return data
