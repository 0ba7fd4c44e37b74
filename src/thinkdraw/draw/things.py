"""Sampling the thing generator (models/things.py): planned things in, RGBA crops with their mattes out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from thinkdraw.models.generator import sample_flow
from thinkdraw.models.things import N_THINGS, THING_NAMES, ThingNet, thing_scalars

Item = tuple[str, tuple[int, int, int], float, float]  # category, main colour RGB, box width px, height px


def sample_things(model: ThingNet, items: Sequence[Item], seed: int | Sequence[int] = 0, steps: int = 8,
                  guidance: float = 2.0, callback: Callable[[int, int], None] | None = None,
                  variants: Sequence[int] | None = None) -> list[np.ndarray]:
    """One (size, size, 4) uint8 RGBA crop per item (colour un-premultiplied, alpha = the matte).

    ``seed``: one seed for all (item k gets noise from seed and k) or one seed per item, so a thing's
    drawing depends only on its own seed, not on what else is drawn in the same batch. All items and the
    unconditioned half of classifier-free guidance run as one batch per Euler step. ``variants``: one
    drawing variant per item (0..n_variants-1) for a model that has them; None: each item's variant is
    its seed modulo n_variants (a model without variants ignores it)."""
    if not items:
        return []
    unknown = [c for c, *_ in items if c not in THING_NAMES]
    if unknown:
        raise ValueError(f"the thing generator does not draw {sorted(set(unknown))}")
    S = model.config.size
    seeds = [int(seed) * 1009 + k for k in range(len(items))] if isinstance(seed, int) else [int(s) for s in seed]
    noise = torch.cat([torch.randn((1, 4, S, S), generator=torch.Generator().manual_seed(s % 2**63))
                       for s in seeds])
    cat = torch.tensor([THING_NAMES.index(c) for c, *_ in items])
    rgb = torch.tensor([list(c) for _, c, _, _ in items], dtype=torch.float32)
    bw = torch.tensor([max(1.0, float(w)) for *_, w, _ in items])
    bh = torch.tensor([max(1.0, float(h)) for *_, h in items])
    scal = thing_scalars(rgb, bh / bw, torch.minimum(bw, bh))
    nv = model.config.n_variants
    var = None
    if nv:
        var = torch.tensor([s % nv for s in seeds] if variants is None else [int(v) for v in variants])
        if len(var) != len(items) or int(var.min()) < 0 or int(var.max()) >= nv:
            raise ValueError(f"need one variant in 0..{nv - 1} per item, got {var.tolist()}")
    with torch.inference_mode():
        cond = model.embed(cat, scal, var)
        if guidance != 1.0:
            u = scal.clone()
            u[:, :3] = 0.0
            u[:, 5] = 0.0
            cond = torch.cat([cond, model.embed(torch.full_like(cat, N_THINGS), u)])

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if guidance == 1.0:
                return model(x, t, cond)
            vc, vu = model(torch.cat([x, x]), torch.cat([t, t]), cond).chunk(2)
            return vu + guidance * (vc - vu)

        x = sample_flow(velocity, noise, steps, callback=callback)
    x = ((x.clamp(-1, 1) + 1) * 0.5).permute(0, 2, 3, 1).numpy()  # premultiplied rgb, alpha in 0..1
    a = x[..., 3:4]
    rgb_un = np.where(a > 1e-3, x[..., :3] / np.maximum(a, 1e-3), 0.0).clip(0, 1)
    out = np.concatenate([rgb_un, a], axis=-1)
    return [np.round(o * 255).astype(np.uint8) for o in out]
