"""Training data streamed from the built-in world: (prompt, plan, image, glyph raster), never from disk."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from thinkdraw.plan.schema import ScenePlan
from thinkdraw.world.layout import solve_layout
from thinkdraw.world.render import render_glyphs, render_scene
from thinkdraw.world.sampler import sample_spec


@dataclass
class Item:
    prompt: str
    plan: ScenePlan
    image: np.ndarray  # HxWx3 uint8
    glyph: np.ndarray  # HxWx4 float32


def world_item(rng: random.Random, split: str = "train", size: int = 256, text_frac: float = 0.0) -> Item:
    """One world scene; ``text_frac`` of them are drawn from the text task (signs with strings)."""
    task = "text" if text_frac and rng.random() < text_frac else None
    for _ in range(4):
        prompt, plan, _meta = sample_spec(rng, split, task=task, size=size)
        res = solve_layout(plan, seed=rng.getrandbits(31))
        if not res.unsatisfied:
            break
    scene = render_scene(res.plan, size=size, seed=rng.getrandbits(31))
    return Item(prompt, res.plan, np.asarray(scene.image), render_glyphs(res.plan, size))


def to_unit(img: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> float32 3xHxW in [-1, 1]."""
    return img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
