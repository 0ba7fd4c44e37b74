"""The thing generator: one planned thing at a time, drawn in its own box with its matte (LMD+-style).

A small pixel-space U-Net predicts the rectified-flow velocity of a ``size`` x ``size`` RGBA crop: the thing's
colour premultiplied by its coverage, and the coverage itself (the matte), both in -1..1. The crop is the
thing's box stretched to a square (the world's drawers fit a thing to its box, so a stretched crop looks
the same whatever the box's aspect); the box's aspect and size in pixels are conditions, so the net knows
how thin its lines should be. Conditions: category (an embedding; index ``N_THINGS`` = none, for
classifier-free guidance), the main colour as RGB, log aspect, log size; all modulate every block by FiLM.
One self-attention block at the 8x8 level lets the whole silhouette agree with itself.

Variants (``n_variants`` > 0): the world's drawers make discrete choices per drawing (a bird faces left or
right, raises its wing or folds it; a fish has 0-3 stripes; a house's roof colour; a cup's band). A
generator conditioned only on category and colour has to cover all of them from the noise, and a small net
sampled in 8 Euler steps blends them instead: two-headed birds and fish, muddy roofs, rainbow bands on
cups (seen at full size in the seed-23 eval; those were most of the identity judge's failures). So each
training crop is drawn with its drawer's choices seeded by a variant index, the index is a condition (an
embedding, dropped with the category for guidance), and at drawing time each entity gets its variant from
its own seed: a deterministic, diverse choice that the net never has to blend.

Why per thing: the scene-level generator (models/generator.py, 5.2M parameters, 31 min) learns every
scene at once and draws blobs; a probe of this design (1.6M parameters, 32x32 crops, 12 min on 2 cores)
drew all 23 non-text categories recognisably (../shared/evidence/perbox-probe-grid.png). The learning
problem per thing is small enough for a laptop.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thinkdraw.models.layers import ResBlock, norm
from thinkdraw.world.vocab import CATEGORY_NAMES

THING_NAMES: tuple[str, ...] = CATEGORY_NAMES  # the categories the thing generator draws (index = embedding id)
N_THINGS = len(THING_NAMES)
N_SCALARS = 6  # r, g, b in 0..1, log aspect, log size in px / 64, colour-present flag


@dataclass
class ThingConfig:
    size: int = 32  # crop side in pixels
    ch: tuple[int, ...] = (32, 64, 128)  # channels at size, size/2, size/4
    cond_dim: int = 128
    cat_emb: int = 64
    attention: bool = True  # one self-attention block at the lowest level
    n_variants: int = 0  # drawing variants per category (0: none; see module docstring)
    var_emb: int = 16

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([a.sin(), a.cos()], dim=1)


class Attention(nn.Module):
    def __init__(self, ch: int, heads: int = 4) -> None:
        super().__init__()
        self.n, self.qkv, self.proj, self.heads = norm(ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1), heads
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.n(x)).reshape(B, 3, self.heads, C // self.heads, H * W).unbind(1)
        h = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(h.transpose(-1, -2).reshape(B, C, H, W))


class ThingNet(nn.Module):
    def __init__(self, config: ThingConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ThingConfig()
        c0, c1, c2 = c.ch
        d = c.cond_dim
        self.cat = nn.Embedding(N_THINGS + 1, c.cat_emb)
        self.var = nn.Embedding(c.n_variants + 1, c.var_emb) if c.n_variants else None  # index n_variants: none
        n_in = 64 + c.cat_emb + (c.var_emb if c.n_variants else 0) + N_SCALARS
        self.cond = nn.Sequential(nn.Linear(n_in, d), nn.SiLU(), nn.Linear(d, d))
        self.inp = nn.Conv2d(4, c0, 3, padding=1)
        self.e0 = ResBlock(c0, c0, d)
        self.d0 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.e1 = ResBlock(c1, c1, d)
        self.d1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.m0, self.m1 = ResBlock(c2, c2, d), ResBlock(c2, c2, d)
        self.attn = Attention(c2) if c.attention else None
        self.u1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.x1 = ResBlock(2 * c1, c1, d)
        self.u0 = nn.Conv2d(c1, c0, 3, padding=1)
        self.x0 = ResBlock(2 * c0, c0, d)
        self.out = nn.Sequential(norm(c0), nn.SiLU(), nn.Conv2d(c0, 4, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def embed(self, cat: torch.Tensor, scalars: torch.Tensor, variant: torch.Tensor | None = None) -> torch.Tensor:
        """The conditions without time: (B, cat_emb [+ var_emb] + N_SCALARS). ``variant`` (B,) in
        0..n_variants (n_variants = none, the unconditioned half of guidance); None: none for all."""
        if self.var is None:
            return torch.cat([self.cat(cat), scalars], dim=1)
        if variant is None:
            variant = torch.full_like(cat, self.config.n_variants)
        if int(variant.min()) < 0 or int(variant.max()) > self.config.n_variants:
            raise ValueError(f"variant must lie in 0..{self.config.n_variants - 1}, got {variant.tolist()}")
        return torch.cat([self.cat(cat), self.var(variant), scalars], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.cond(torch.cat([timestep_embedding(t, 64), cond], dim=1))
        h0 = self.e0(self.inp(x), emb)
        h1 = self.e1(self.d0(F.silu(h0)), emb)
        h = self.m0(self.d1(F.silu(h1)), emb)
        if self.attn is not None:
            h = self.attn(h)
        h = self.m1(h, emb)
        h = self.u1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.x1(torch.cat([h, h1], dim=1), emb)
        h = self.u0(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.x0(torch.cat([h, h0], dim=1), emb)
        return self.out(h)


def thing_scalars(rgb: torch.Tensor | None, aspect: torch.Tensor, size_px: torch.Tensor) -> torch.Tensor:
    """(B, N_SCALARS) from colours (B, 3) in 0..255 (None: no colour), aspect h/w and min side in px."""
    B = aspect.shape[0]
    col = torch.zeros(B, 3) if rgb is None else rgb.float() / 255.0
    flag = torch.zeros(B, 1) if rgb is None else torch.ones(B, 1)
    return torch.cat([col, aspect.float().clamp(0.1, 10).log()[:, None],
                      (size_px.float().clamp(2, 1024) / 64.0).log()[:, None], flag], dim=1)


def thing_loss(model: ThingNet, x0: torch.Tensor, cond: torch.Tensor, gen: torch.Generator | None = None
               ) -> torch.Tensor:
    """Rectified-flow loss with logit-normal t; the matte channel counts double (the silhouette is what
    makes a thing recognisable)."""
    B = x0.shape[0]
    t = torch.sigmoid(torch.randn(B, generator=gen))
    noise = torch.randn(x0.shape, generator=gen)
    xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
    err = (model(xt, t, cond) - (noise - x0)) ** 2
    w = torch.tensor([1.0, 1.0, 1.0, 2.0])[None, :, None, None]
    return (err * w).mean() * 4 / 5
