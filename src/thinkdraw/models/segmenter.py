"""The critic's eyes: a small U-Net that labels every pixel with a world category and a named colour.

Input a 256x256 RGB image (downsampled to 128 inside), output per-pixel logits at 128x128 for
category (``thinkdraw.world.render.CATEGORY_IDS``: 0 background, 1..26 categories, text, unknown) and
colour (0 none, 1..11 the named colours). Counts, colours, positions and relations are read from
these maps by ``thinkdraw.reflect.builtin``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thinkdraw.models.layers import ResBlock, norm


@dataclass
class SegConfig:
    n_cats: int = 29
    n_colors: int = 12
    ch: tuple[int, ...] = (16, 48, 96, 128)  # at 128, 64, 32, 16
    size: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class Segmenter(nn.Module):
    def __init__(self, config: SegConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or SegConfig()
        c0, c1, c2, c3 = c.ch
        self.inp = nn.Conv2d(3, c0, 3, padding=1)
        self.e0 = ResBlock(c0, c0)
        self.d0 = nn.Conv2d(c0, c1, 4, stride=2, padding=1)
        self.e1 = ResBlock(c1, c1)
        self.d1 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)
        self.e2 = ResBlock(c2, c2)
        self.d2 = nn.Conv2d(c2, c3, 4, stride=2, padding=1)
        self.mid = nn.Sequential(ResBlock(c3, c3), ResBlock(c3, c3))
        self.u2 = nn.Conv2d(c3, c2, 3, padding=1)
        self.x2 = ResBlock(2 * c2, c2)
        self.u1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.x1 = ResBlock(2 * c1, c1)
        self.u0 = nn.Conv2d(c1, c0, 3, padding=1)
        self.x0 = ResBlock(2 * c0, c0)
        self.head = nn.Sequential(norm(c0), nn.SiLU(), nn.Conv2d(c0, c.n_cats + c.n_colors, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: B,3,H,W in [-1, 1] -> (category logits, colour logits) at ``config.size``."""
        s = self.config.size
        if x.shape[-1] != s:
            x = F.interpolate(x, size=(s, s), mode="area")
        h0 = self.e0(self.inp(x))
        h1 = self.e1(self.d0(h0))
        h2 = self.e2(self.d1(h1))
        h = self.mid(self.d2(h2))
        h = self.x2(torch.cat([self.u2(F.interpolate(h, scale_factor=2.0)), h2], 1))
        h = self.x1(torch.cat([self.u1(F.interpolate(h, scale_factor=2.0)), h1], 1))
        h = self.x0(torch.cat([self.u0(F.interpolate(h, scale_factor=2.0)), h0], 1))
        out = self.head(h)
        return out[:, : self.config.n_cats], out[:, self.config.n_cats:]
