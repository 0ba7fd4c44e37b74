"""The plan-conditioned generator: a small U-Net that predicts the rectified-flow velocity on the latent grid.

Input: the noisy latent x_t (B, C, 32, 32) concatenated with the embedded plan maps (category and color
embeddings, box edges, glyph coverage; see models/condition.py) through a zero-initialised conv, so the
plan enters as Semantic-Spatial Guidance. Global conditioning (time t, prompt bag-of-words, background,
time of day, light, plan-present flag) modulates every block by FiLM. Plan and prompt are dropped during
training, so one set of weights serves think mode (plan + prompt), direct mode (prompt only) and
classifier-free guidance (neither).

Rectified flow: x_t = (1 - t) x_0 + t * noise, the net predicts v = noise - x_0; sampling integrates
dx/dt = v from t = 1 to 0 with a few Euler steps (``sample_flow``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thinkdraw.models.condition import N_CATS, N_COLORS, VOCAB, Cond
from thinkdraw.models.layers import ResBlock, norm


@dataclass
class GenConfig:
    latent: int = 8
    ch: tuple[int, ...] = (64, 128, 192)  # channels at 32, 16, 8
    cond_dim: int = 256
    cat_emb: int = 16
    color_emb: int = 8
    tok_emb: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class Generator(nn.Module):
    def __init__(self, config: GenConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or GenConfig()
        c0, c1, c2 = c.ch
        self.cat_emb = nn.Embedding(N_CATS, c.cat_emb)
        self.color_emb = nn.Embedding(N_COLORS, c.color_emb)
        self.tok = nn.EmbeddingBag(VOCAB, c.tok_emb, mode="mean", padding_idx=0)
        self.null_tok = nn.Parameter(torch.zeros(c.tok_emb))
        self.scene_emb = nn.ModuleList([nn.Embedding(8, 32) for _ in range(3)])
        self.glob = nn.Sequential(nn.Linear(128 + c.tok_emb + 96 + 1, c.cond_dim), nn.SiLU(),
                                  nn.Linear(c.cond_dim, c.cond_dim))
        self.inp = nn.Conv2d(c.latent, c0, 3, padding=1)
        self.plan_in = nn.Conv2d(c.cat_emb + c.color_emb + 2, c0, 3, padding=1)
        nn.init.zeros_(self.plan_in.weight)
        nn.init.zeros_(self.plan_in.bias)
        D = c.cond_dim
        self.e0 = nn.ModuleList([ResBlock(c0, c0, D), ResBlock(c0, c0, D)])
        self.d0 = nn.Conv2d(c0, c1, 4, stride=2, padding=1)
        self.e1 = nn.ModuleList([ResBlock(c1, c1, D), ResBlock(c1, c1, D)])
        self.d1 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)
        self.mid = nn.ModuleList([ResBlock(c2, c2, D), ResBlock(c2, c2, D)])
        self.u1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec1 = nn.ModuleList([ResBlock(2 * c1, c1, D), ResBlock(c1, c1, D)])
        self.u0 = nn.Conv2d(c1, c0, 3, padding=1)
        self.dec0 = nn.ModuleList([ResBlock(2 * c0, c0, D), ResBlock(c0, c0, D)])
        self.out = nn.Sequential(norm(c0), nn.SiLU(), nn.Conv2d(c0, c.latent, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def embed(self, cond: Cond) -> tuple[torch.Tensor, torch.Tensor]:
        """(spatial plan features B,C,H,W; global prompt+scene features B,D-without-time)."""
        maps = torch.cat([self.cat_emb(cond.cat).permute(0, 3, 1, 2), self.color_emb(cond.color).permute(0, 3, 1, 2),
                          cond.edge, cond.glyph], dim=1)
        has_tok = (cond.tokens > 0).any(dim=1, keepdim=True).float()
        tok = self.tok(cond.tokens) * has_tok + self.null_tok[None] * (1 - has_tok)
        scene = torch.cat([e(cond.scene[:, i]) for i, e in enumerate(self.scene_emb)], dim=1)
        return maps, torch.cat([tok, scene, cond.has_plan[:, None]], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Cond,
                cached: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        maps, g = cached if cached is not None else self.embed(cond)
        emb = self.glob(torch.cat([timestep_embedding(t, 128), g], dim=1))
        h = self.inp(x) + self.plan_in(maps)
        for b in self.e0:
            h = b(h, emb)
        s0 = h
        h = self.d0(h)
        for b in self.e1:
            h = b(h, emb)
        s1 = h
        h = self.d1(h)
        for b in self.mid:
            h = b(h, emb)
        h = self.u1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = torch.cat([h, s1], dim=1)
        for b in self.dec1:
            h = b(h, emb)
        h = self.u0(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = torch.cat([h, s0], dim=1)
        for b in self.dec0:
            h = b(h, emb)
        return self.out(h)


def flow_loss(model: Generator, x0: torch.Tensor, cond: Cond, gen: torch.Generator | None = None) -> torch.Tensor:
    """Rectified-flow loss with logit-normal t (more weight on the middle of the path)."""
    B = x0.shape[0]
    t = torch.sigmoid(torch.randn(B, generator=gen))
    noise = torch.randn(x0.shape, generator=gen)
    xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
    return F.mse_loss(model(xt, t, cond), noise - x0)


VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def sample_flow(velocity: VelocityFn, noise: torch.Tensor, steps: int = 8,
                keep: torch.Tensor | None = None, init: torch.Tensor | None = None,
                callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Euler integration of dx/dt = v(x, t) from t=1 (noise) to t=0 (a pure function of its inputs).

    Masked regeneration: where ``keep`` is 1, the latent is re-imposed from ``init`` at every step
    (noised to the current t with the same noise), so only the rest is generated."""
    ts = torch.linspace(1.0, 0.0, steps + 1)
    x = noise
    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        if keep is not None and init is not None:
            x = keep * ((1 - t) * init + t * noise) + (1 - keep) * x
        v = velocity(x, t.expand(x.shape[0]))
        x = x + (t_next - t) * v
        if callback is not None:
            callback(i + 1, steps)
    if keep is not None and init is not None:
        x = keep * init + (1 - keep) * x
    return x
