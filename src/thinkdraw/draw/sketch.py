"""The `sketch` renderer: draws a plan exactly with the world renderer (a preview and the oracle row)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from thinkdraw.draw.base import DrawResult, ProgressCallback
from thinkdraw.plan.schema import ScenePlan
from thinkdraw.world.render import render_scene


class SketchRenderer:
    """Renders with ``thinkdraw.world.render.render_scene``; with ``mask`` and ``init`` it repaints only
    the masked pixels and copies every other pixel bit-identically from ``init``."""

    name = "sketch"
    refine_steps = None  # it does not iterate: steps are ignored

    def draw(
        self,
        plan: ScenePlan,
        seed: int = 0,
        mask: np.ndarray | None = None,
        init: Image.Image | None = None,
        progress: ProgressCallback | None = None,
        mode: str = "think",
        steps: int | None = None,
    ) -> DrawResult:
        if mode != "think":
            raise ValueError("the sketch renderer draws plans (think mode); direct mode needs the builtin renderer")
        unplaced = [e.id for e in plan.entities if e.box is None]
        if unplaced:
            raise ValueError(f"plan has unplaced entities; run the layout solver first: {unplaced}")
        w, h = plan.canvas.width, plan.canvas.height
        keep = None
        if mask is not None:
            if init is None:
                raise ValueError("a mask needs an init image to take the unmasked pixels from")
            keep = ~(np.asarray(mask) > 0)
            if keep.ndim != 2 or keep.shape != (h, w):
                raise ValueError(f"mask shape {np.asarray(mask).shape} does not match the canvas {h}x{w} (HxW)")
        if init is not None and init.size != (w, h):
            raise ValueError(f"init image size {init.size} does not match the canvas {(w, h)} (WxH)")

        r = render_scene(plan, seed=seed, progress=progress)
        image = r.image
        if keep is not None and init is not None:
            pixels = np.array(image)
            pixels[keep] = np.asarray(init.convert("RGB"))[keep]
            image = Image.fromarray(pixels, "RGB")
        info = {"renderer": self.name, "seed": seed, "size": (w, h), "text_mask": r.text_mask,
                "inpainted": keep is not None}
        return DrawResult(image=image, instance_mask=r.instance, category_mask=r.category, info=info)
