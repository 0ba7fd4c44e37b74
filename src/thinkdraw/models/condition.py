"""Plan and prompt -> the generator's conditioning (Semantic-Spatial Guidance, as in GoT).

Spatial maps at the latent grid (32x32 for a 256 canvas), painted in z order so the topmost planned
thing owns each cell:
  cat    int64 HxW   world category id + 1 (0 = nothing planned here; unknown nouns get their own id)
  color  int64 HxW   named color id + 1 (0 = none)
  edge   float HxW   1 on the border cells of every box (separates touching instances: counts)
  glyph  float HxW   the planned text's glyph coverage, pooled to the grid
Global: background kind, time of day, light direction ids, and the prompt as hashed unigrams+bigrams
(a bag of words: enough for direct mode to guess, not enough to bind attributes - by design the gap
that thinking closes).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from thinkdraw.plan.schema import ScenePlan
from thinkdraw.world.vocab import BACKGROUND_KINDS, CATEGORY_NAMES, COLOR_NAMES, LIGHT_DIRECTIONS, TIMES

N_CATS = len(CATEGORY_NAMES) + 2  # + nothing, + unknown
N_COLORS = len(COLOR_NAMES) + 1
VOCAB = 4096  # hashed prompt vocabulary
MAX_TOKENS = 48
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Cond:
    cat: torch.Tensor  # B,H,W int64
    color: torch.Tensor  # B,H,W int64
    edge: torch.Tensor  # B,1,H,W
    glyph: torch.Tensor  # B,1,H,W
    scene: torch.Tensor  # B,3 int64 (background, time, light)
    tokens: torch.Tensor  # B,T int64 (0 = padding)
    has_plan: torch.Tensor  # B float

    def index(self, idx: torch.Tensor | slice) -> Cond:
        return Cond(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @staticmethod
    def cat_(items: list[Cond]) -> Cond:
        return Cond(*(torch.cat([getattr(c, f) for c in items]) for f in Cond.__dataclass_fields__))


def prompt_tokens(prompt: str) -> list[int]:
    words = _WORD.findall(prompt.lower())
    grams = words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    ids = [1 + zlib.crc32(g.encode()) % (VOCAB - 1) for g in grams]
    return ids[:MAX_TOKENS]


def plan_maps(plan: ScenePlan, grid: int, glyph: np.ndarray | None = None) -> dict[str, np.ndarray]:
    cat = np.zeros((grid, grid), np.int64)
    color = np.zeros((grid, grid), np.int64)
    edge = np.zeros((grid, grid), np.float32)
    order = sorted(range(len(plan.entities)), key=lambda i: (plan.entities[i].z, i))
    for i in order:
        e = plan.entities[i]
        if e.box is None:
            continue
        x0, y0 = int(np.floor(e.box[0] * grid + 0.25)), int(np.floor(e.box[1] * grid + 0.25))
        x1, y1 = max(x0 + 1, int(np.ceil(e.box[2] * grid - 0.25))), max(y0 + 1, int(np.ceil(e.box[3] * grid - 0.25)))
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(grid, x1), min(grid, y1)
        cid = CATEGORY_NAMES.index(e.category) + 1 if e.category in CATEGORY_NAMES else N_CATS - 1
        col = COLOR_NAMES.index(e.attributes.color) + 1 if e.attributes.color in COLOR_NAMES else 0
        cat[y0:y1, x0:x1] = cid
        color[y0:y1, x0:x1] = col
        edge[y0:y1, x0:x1] = 0.0
        edge[y0, x0:x1] = edge[y1 - 1, x0:x1] = 1.0
        edge[y0:y1, x0] = edge[y0:y1, x1 - 1] = 1.0
    g = np.zeros((grid, grid), np.float32)
    if glyph is not None and glyph.shape[0] % grid == 0:
        f = glyph.shape[0] // grid
        g = glyph[..., 0].reshape(grid, f, grid, f).mean(axis=(1, 3)).astype(np.float32)
    return {"cat": cat, "color": color, "edge": edge, "glyph": g}


def scene_ids(plan: ScenePlan) -> list[int]:
    """Background kind, time, light as ids + 1 (0 = not given)."""
    return [BACKGROUND_KINDS.index(plan.background.kind) + 1, TIMES.index(plan.background.time) + 1,
            LIGHT_DIRECTIONS.index(plan.lighting.direction) + 1]


def build_cond(plans: list[ScenePlan | None], prompts: list[str | None], grid: int,
               glyphs: list[np.ndarray | None] | None = None, scenes: list[ScenePlan] | None = None) -> Cond:
    """Batch conditioning. A None plan (direct mode, or plan dropout) paints nothing; a None prompt is empty.

    ``scenes`` gives the background/time/light when the plan itself is dropped (they still come from
    the planner's scene reading in direct mode only if given; otherwise defaults)."""
    B = len(plans)
    cat = np.zeros((B, grid, grid), np.int64)
    color = np.zeros((B, grid, grid), np.int64)
    edge = np.zeros((B, 1, grid, grid), np.float32)
    glyph = np.zeros((B, 1, grid, grid), np.float32)
    scene = np.zeros((B, 3), np.int64)
    tokens = np.zeros((B, MAX_TOKENS), np.int64)
    has = np.zeros((B,), np.float32)
    for b, (p, pr) in enumerate(zip(plans, prompts, strict=True)):
        if p is not None:
            m = plan_maps(p, grid, glyphs[b] if glyphs else None)
            cat[b], color[b], edge[b, 0], glyph[b, 0] = m["cat"], m["color"], m["edge"], m["glyph"]
            has[b] = 1.0
        src = p if p is not None else (scenes[b] if scenes else None)
        if src is not None:
            scene[b] = scene_ids(src)
        if pr:
            ids = prompt_tokens(pr)
            tokens[b, : len(ids)] = ids
    return Cond(torch.from_numpy(cat), torch.from_numpy(color), torch.from_numpy(edge), torch.from_numpy(glyph),
                torch.from_numpy(scene), torch.from_numpy(tokens), torch.from_numpy(has))
